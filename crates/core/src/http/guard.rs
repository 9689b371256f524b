//! The one guard in front of every route: Host, then Origin, then the API key.
//!
//! - `Host` must name a loopback address with our port: a page on another site that
//!   rebinds its DNS name to 127.0.0.1 still sends its own name here (DNS rebinding).
//! - `Origin`, when present, must be a loopback origin or one the user allowed: a web page
//!   cannot drive the proxy from the user's browser (CSRF).
//! - The key is required everywhere but `OPTIONS` preflights and the minimal `/status`.
//!   It is accepted as `Authorization: Bearer <key>` or `X-API-Key: <key>` and compared in
//!   constant time. The user can switch the check off (and on again) while the proxy runs.
//! - A profile's own key opens that profile's endpoints (`/profiles/<name>/…`, the name as
//!   sent, not decoded) and nothing else; the main key opens everything.
//!
//! The port and the switch are read on every request, so a change applies to the next one.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::reply::rpc_error;
use crate::api_key::LiveKey;
use crate::url_policy::Origin;

/// JSON-RPC error code for a missing or wrong API key (implementation-defined range).
pub use crate::mcp::protocol::code::UNAUTHORIZED;
/// And for a foreign Host or Origin.
pub const FORBIDDEN: i32 = -32002;

/// Who may use the proxy.
pub struct Access {
    /// The port we listen on; `Host` must carry it.
    port: AtomicU16,
    /// Origins allowed besides loopback ones, e.g. `https://app.example.com`, normalised
    /// like every other allowlist (default ports, case, a trailing dot).
    extra_origins: Vec<Origin>,
    /// The key; `None` when the proxy was started without one (`--insecure-no-auth`).
    key: Option<Arc<LiveKey>>,
    /// Whether the key is checked. Never true without a key.
    required: AtomicBool,
    /// The keys of the profiles that have their own, by profile name.
    profile_keys: std::sync::RwLock<std::collections::HashMap<String, Arc<LiveKey>>>,
}

/// Marks a request that presented the right key (or came in while auth is off).
#[derive(Clone, Copy, Debug)]
pub struct Authenticated;

pub async fn guard(
    State(access): State<Arc<Access>>,
    mut request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    if !host_is_ours(headers, access.port()) {
        return forbidden(
            "Forbidden: the Host header must name this machine's loopback address and port",
            None,
        );
    }
    let origin = match headers.get(header::ORIGIN) {
        None => None,
        Some(origin) => match origin.to_str().ok().filter(|o| access.origin_allowed(o)) {
            Some(origin) => {
                Some(HeaderValue::from_str(origin).unwrap_or(HeaderValue::from_static("null")))
            }
            None => return forbidden("Forbidden: this Origin may not use Switchboard", None),
        },
    };
    if request.method() == Method::OPTIONS {
        return preflight(origin);
    }
    let authenticated = match &access.key {
        _ if !access.key_required() => true,
        Some(key) => presented_key(headers)
            .is_some_and(|k| key.verify(k) || access.profile_key_opens(request.uri().path(), k)),
        None => false,
    };
    let mut response = if authenticated {
        request.extensions_mut().insert(Authenticated);
        next.run(request).await
    } else if request.uri().path() == "/status" && request.method() == Method::GET {
        // The minimal status answers without a key; the handler leaves the details out.
        next.run(request).await
    } else {
        unauthorized()
    };
    if let Some(origin) = origin {
        add_cors(response.headers_mut(), origin);
    }
    response
}

impl Access {
    /// Checks `key` when `required` (and there is a key); with `key: None` nothing is checked.
    pub fn new(
        port: u16,
        extra_origins: Vec<String>,
        key: Option<Arc<LiveKey>>,
        required: bool,
    ) -> Access {
        // The config's entries were checked when it was loaded; one that still does not
        // parse allows nothing.
        let extra_origins = extra_origins
            .iter()
            .filter_map(|entry| match Origin::parse(entry) {
                Ok(origin) => Some(origin),
                Err(e) => {
                    log::warn!("allowedOrigins: ignoring an entry: {e}");
                    None
                }
            })
            .collect();
        Access {
            port: AtomicU16::new(port),
            extra_origins,
            required: AtomicBool::new(required && key.is_some()),
            key,
            profile_keys: Default::default(),
        }
    }

    /// From the next request on, `profile`'s endpoints accept `key` besides the main key
    /// (`None`: only the main key).
    pub fn set_profile_key(&self, profile: &str, key: Option<&crate::secrets::Sensitive<String>>) {
        let mut keys = self.profile_keys.write().unwrap_or_else(|p| p.into_inner());
        match key {
            Some(key) => match keys.get(profile) {
                Some(live) => live.replace(key),
                None => {
                    keys.insert(profile.to_owned(), LiveKey::new(key));
                }
            },
            None => {
                keys.remove(profile);
            }
        }
    }

    /// The profiles that have a key of their own in effect.
    pub fn profiles_with_keys(&self) -> Vec<String> {
        let keys = self.profile_keys.read().unwrap_or_else(|p| p.into_inner());
        keys.keys().cloned().collect()
    }

    /// Whether `key` is `profile`'s key in effect now.
    pub fn profile_key_is(&self, profile: &str, key: &crate::secrets::Sensitive<String>) -> bool {
        let keys = self.profile_keys.read().unwrap_or_else(|p| p.into_inner());
        keys.get(profile).is_some_and(|live| live.is(key))
    }

    /// Whether `presented` is the own key of the profile whose endpoint `path` is. The
    /// name is compared as it came, percent-escapes and all: a profile name has none, so an
    /// escaped path never borrows a profile's key.
    fn profile_key_opens(&self, path: &str, presented: &str) -> bool {
        let Some((profile, rest)) = path
            .strip_prefix("/profiles/")
            .and_then(|p| p.split_once('/'))
        else {
            return false;
        };
        if rest.is_empty() {
            return false;
        }
        let keys = self.profile_keys.read().unwrap_or_else(|p| p.into_inner());
        keys.get(profile).is_some_and(|live| live.verify(presented))
    }

    pub fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    /// From the next request on, `Host` must carry `port`.
    pub fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::SeqCst);
    }

    /// Whether requests must carry the key.
    pub fn key_required(&self) -> bool {
        self.required.load(Ordering::SeqCst)
    }

    /// Switches the key check from the next request on. Refuses (returns `false`) to require
    /// a key when there is none.
    pub fn set_key_required(&self, on: bool) -> bool {
        if on && self.key.is_none() {
            return false;
        }
        self.required.store(on, Ordering::SeqCst);
        true
    }

    /// A loopback origin (any port), or one of the allowed ones. The header is parsed as
    /// an [`Origin`], the same type the allowlist holds: `null`, other schemes and anything
    /// that is more than an origin are refused.
    fn origin_allowed(&self, origin: &str) -> bool {
        match Origin::parse(origin) {
            Ok(origin) => origin.is_loopback() || self.extra_origins.contains(&origin),
            Err(_) => false,
        }
    }
}

fn host_is_ours(headers: &HeaderMap, port: u16) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let (name, host_port) = split_host_port(host);
    is_loopback_host(name) && host_port == Some(port)
}

/// `host[:port]` with bracketed IPv6; the port is `None` when absent or not a number.
fn split_host_port(authority: &str) -> (&str, Option<u16>) {
    if let Some(rest) = authority.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, tail)) => (host, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse().ok()),
        None => (authority, None),
    }
}

fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        });
    bearer.or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })
}

fn unauthorized() -> Response {
    let mut response = rpc_error(
        StatusCode::UNAUTHORIZED,
        UNAUTHORIZED,
        "Unauthorized: send the Switchboard API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>' (see `switchboard key show`)",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"switchboard\""),
    );
    response
}

fn forbidden(message: &str, origin: Option<HeaderValue>) -> Response {
    let mut response = rpc_error(StatusCode::FORBIDDEN, FORBIDDEN, message);
    if let Some(origin) = origin {
        add_cors(response.headers_mut(), origin);
    }
    response
}

fn preflight(origin: Option<HeaderValue>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(
            "authorization, x-api-key, content-type, accept, mcp-session-id, mcp-protocol-version, last-event-id",
        ),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    if let Some(origin) = origin {
        add_cors(headers, origin);
    }
    response
}

fn add_cors(headers: &mut HeaderMap, origin: HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("mcp-session-id, www-authenticate"),
    );
    headers.append(header::VARY, HeaderValue::from_static("origin"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access() -> Access {
        Access::new(4000, vec!["https://app.example.com".into()], None, false)
    }

    fn host(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_loopback_hosts_with_our_port() {
        for ok in [
            "127.0.0.1:4000",
            "localhost:4000",
            "LOCALHOST:4000",
            "[::1]:4000",
            "127.0.0.2:4000",
        ] {
            assert!(host_is_ours(&host(ok), 4000), "{ok}");
        }
        for bad in [
            "evil.example.com",
            "evil.example.com:4000",
            "127.0.0.1",
            "127.0.0.1:4001",
            "localhost.evil.com:4000",
            "[::1]",
            "0.0.0.0:4000",
            "192.168.1.2:4000",
        ] {
            assert!(!host_is_ours(&host(bad), 4000), "{bad}");
        }
        assert!(!host_is_ours(&HeaderMap::new(), 4000));
    }

    #[test]
    fn loopback_and_listed_origins_only() {
        let a = access();
        for ok in [
            "http://localhost:6274",
            "http://127.0.0.1",
            "https://[::1]:8443",
            "https://APP.example.com",
            "https://app.example.com/",
            "https://app.example.com:443",
            "https://app.example.com.",
        ] {
            assert!(a.origin_allowed(ok), "{ok}");
        }
        for bad in [
            "null",
            "http://evil.example.com",
            "http://localhost.evil.com",
            "file://",
            "http://app.example.com",
            "chrome-extension://abc",
            "https://app.example.com:8443",
            "https://app.example.com/path",
        ] {
            assert!(!a.origin_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn the_check_switches_but_never_on_without_a_key() {
        let keyless = access();
        assert!(!keyless.key_required());
        assert!(!keyless.set_key_required(true));
        assert!(!keyless.key_required());
        let key = LiveKey::new(&crate::secrets::Sensitive::new("k".repeat(20)));
        let keyed = Access::new(4000, vec![], Some(key), true);
        assert!(keyed.key_required());
        assert!(keyed.set_key_required(false));
        assert!(!keyed.key_required());
        assert!(keyed.set_key_required(true));
        assert!(keyed.key_required());
        keyed.set_port(4001);
        assert_eq!(keyed.port(), 4001);
    }

    #[test]
    fn keys_from_either_header() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  k1 "),
        );
        assert_eq!(presented_key(&h), Some("k1"));
        let mut h = HeaderMap::new();
        h.insert("X-Api-KEY", HeaderValue::from_static("k2"));
        assert_eq!(presented_key(&h), Some("k2"));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic Zm9v"),
        );
        assert_eq!(presented_key(&h), None);
        h.insert("x-api-key", HeaderValue::from_static("k3"));
        assert_eq!(presented_key(&h), Some("k3"));
    }
}
