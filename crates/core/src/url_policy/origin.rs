//! Web origins (scheme, host, port), normalised once, for every allowlist: the origins the
//! guard lets call the proxy (`allowedOrigins`) and the origins that may receive a query
//! key (`queryParamAuthOrigins`).

use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn of(name: &str) -> Option<Scheme> {
        match name {
            "http" => Some(Scheme::Http),
            "https" => Some(Scheme::Https),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An origin borrowed from a URL, so the per-request check allocates nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OriginView<'a> {
    pub(super) scheme: Scheme,
    pub(super) host: Host<&'a str>,
    pub(super) port: u16,
}

impl<'a> OriginView<'a> {
    /// The normalized origin of an http(s) URL; `None` for other schemes or a host that
    /// still ends in a dot after the one FQDN dot is dropped (`a.com..`).
    ///
    /// The `url` crate has already lowercased and IDNA-encoded the host and dropped a
    /// default port; what is left to do is the trailing dot.
    pub(super) fn of(url: &'a Url) -> Option<OriginView<'a>> {
        let scheme = Scheme::of(url.scheme())?;
        let host = match url.host()? {
            Host::Domain(domain) => {
                let domain = domain.strip_suffix('.').unwrap_or(domain);
                if domain.is_empty() || domain.ends_with('.') {
                    return None;
                }
                Host::Domain(domain)
            }
            ip => ip,
        };
        let port = url.port().unwrap_or(scheme.default_port());
        Some(OriginView { scheme, host, port })
    }

    /// 127.0.0.0/8, `::1` and `localhost`: the only places plain http may take a key.
    pub(super) fn is_loopback(&self) -> bool {
        match self.host {
            Host::Domain(domain) => domain == "localhost",
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        }
    }

    fn into_origin(self) -> Origin {
        Origin {
            scheme: self.scheme,
            host: match self.host {
                Host::Domain(domain) => Host::Domain(domain.to_owned()),
                Host::Ipv4(ip) => Host::Ipv4(ip),
                Host::Ipv6(ip) => Host::Ipv6(ip),
            },
            port: self.port,
        }
    }
}

impl fmt::Display for OriginView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// A web origin, normalized: http or https, a lowercase ASCII (IDNA) host without a
/// trailing dot, and an explicit port. Two origins are equal exactly when a browser would
/// call them the same origin. Displays as `scheme://host[:port]`, the port omitted when it
/// is the scheme's default.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub(super) scheme: Scheme,
    host: Host<String>,
    port: u16,
}

impl Origin {
    /// Parses an allowlist entry typed by a user, e.g. `https://MCP.Tavily.com.:443/` →
    /// `https://mcp.tavily.com`. Refuses anything that is more than an origin (userinfo, a
    /// path other than `/`, a query, a fragment), since an entry that looks narrower than it
    /// is would mislead. Errors never echo the entry, which may hold a pasted key.
    pub fn parse(input: &str) -> Result<Origin, OriginError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(OriginError::Empty);
        }
        let url = match Url::parse(text) {
            Ok(url) if Scheme::of(url.scheme()).is_some() => url,
            // `mcp.example.com:443` parses with "mcp.example.com" as its scheme.
            Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) if !text.contains("://") => {
                return Err(OriginError::MissingScheme);
            }
            Ok(_) => return Err(OriginError::UnsupportedScheme),
            Err(reason) => return Err(OriginError::NotAUrl { reason }),
        };
        let view = OriginView::of(&url).ok_or(OriginError::InvalidHost)?;
        if has_userinfo(&url) {
            return Err(OriginError::Userinfo {
                suggestion: view.to_string(),
            });
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(OriginError::NotJustAnOrigin {
                suggestion: view.to_string(),
            });
        }
        Ok(view.into_origin())
    }

    /// The origin of any http(s) URL (userinfo, path and query ignored); `None` for other
    /// schemes.
    pub fn of(url: &Url) -> Option<Origin> {
        OriginView::of(url).map(OriginView::into_origin)
    }

    /// `"http"` or `"https"`.
    pub fn scheme(&self) -> &'static str {
        self.scheme.as_str()
    }

    /// The host: a lowercase ASCII domain without a trailing dot, or an IP address.
    pub fn host(&self) -> &Host<String> {
        &self.host
    }

    /// The port, the scheme's default filled in.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this is a loopback origin (127.0.0.0/8, `[::1]`, `localhost`).
    pub fn is_loopback(&self) -> bool {
        self.view().is_loopback()
    }

    pub(super) fn view(&self) -> OriginView<'_> {
        OriginView {
            scheme: self.scheme,
            host: match &self.host {
                Host::Domain(domain) => Host::Domain(domain.as_str()),
                Host::Ipv4(ip) => Host::Ipv4(*ip),
                Host::Ipv6(ip) => Host::Ipv6(*ip),
            },
            port: self.port,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.view().fmt(f)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Origin({self})")
    }
}

impl FromStr for Origin {
    type Err = OriginError;

    fn from_str(input: &str) -> Result<Origin, OriginError> {
        Origin::parse(input)
    }
}

/// Why an allowlist entry is not an origin. Messages never echo the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error("the entry is empty; remove it")]
    Empty,
    #[error("an origin needs its scheme: write it like `https://mcp.example.com`")]
    MissingScheme,
    #[error("it is not a URL ({reason}); write an origin like `https://mcp.example.com`")]
    NotAUrl { reason: url::ParseError },
    #[error("only http and https origins are supported; write it like `https://mcp.example.com`")]
    UnsupportedScheme,
    #[error("the host name is not valid (it may end in at most one dot)")]
    InvalidHost,
    #[error(
        "an origin carries no user name or password; write `{suggestion}` and keep the credential in the keychain"
    )]
    Userinfo { suggestion: String },
    #[error(
        "an origin is only scheme, host and port, without a path, query or fragment; write `{suggestion}`"
    )]
    NotJustAnOrigin { suggestion: String },
    #[error(
        "`{origin}` is plain http, so a key sent there would cross the network in clear text; use https (plain http is allowed only for loopback: 127.0.0.0/8, [::1], localhost)"
    )]
    InsecureScheme { origin: String },
}

pub(super) fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// An origin for a message: `scheme://host[:port]` when there is one, else just the scheme.
pub(super) fn origin_text(url: &Url) -> String {
    match OriginView::of(url) {
        Some(origin) => origin.to_string(),
        None => format!("a `{}:` URL", url.scheme()),
    }
}
