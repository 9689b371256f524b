//! Query-parameter auth (`?apiKey=…`), the insecure kind, as a pure policy.
//!
//! Some remote MCP servers take their API key only in the URL. URLs leak (proxy, server and
//! APM logs, error texts; CWE-598), so this is off until the user turns on
//! `allowQueryParamAuth` (the UI toggle "allow query-parameter auth (insecure)"), and then
//! only for the exact origins listed in `queryParamAuthOrigins`.
//!
//! Nothing here does I/O; the HTTP client calls it:
//! - [`QueryAuthPolicy::check`] (or [`QueryAuthPolicy::authorize`]) before **every** request
//!   that would carry the key: initialize, requests, the legacy-SSE POSTs, reconnects and
//!   "test connection". It is stateless and cheap, so turning the setting off or editing the
//!   allowlist takes effect on the next request, not the next save.
//! - [`with_key`] puts the key into the URL at request time only; never store its result.
//! - [`may_send_key_after_redirect`] and [`without_key`] keep the key off other origins.
//! - [`resolve_endpoint`] resolves the legacy SSE transport's announced POST endpoint.
//! - [`inline_secrets`] and [`strip_inline_secrets`] catch a key typed into the URL itself.
//!
//! No message here contains a key: the checks never receive one, and they print origins
//! (scheme, host, port), never a whole URL.

use url::{Url, form_urlencoded};

use super::origin::{Origin, OriginError, OriginView, Scheme, has_userinfo, origin_text};
use crate::sensitive::Sensitive;

/// The config key, in the `switchboard` section, that turns query-parameter auth on.
pub const ENABLE_SETTING: &str = "allowQueryParamAuth";
/// The config key, in the `switchboard` section, listing the origins that may get a key.
pub const ORIGINS_SETTING: &str = "queryParamAuthOrigins";
/// The label of the UI toggle for [`ENABLE_SETTING`].
pub const ENABLE_TOGGLE_LABEL: &str = "allow query-parameter auth (insecure)";

/// Parameter names containing any of these (case-insensitively) look like secrets.
/// Containment, not equality: `x_api_key`, `client_secret` and `X-Amz-Signature` must match.
/// A false positive (`author`, `design`) costs the user one extra step; a false negative
/// would leave a key in the config in plain text.
///
/// The redactor's [`crate::redact::SENSITIVE_PARAM_PARTS`] is this list plus `code` and
/// `cookie`: hiding a harmless `?country_code=` in a log line costs nothing, but refusing
/// it here would push the user towards query-parameter auth (insecure) for no reason.
pub const SECRET_NAME_PARTS: &[&str] = &[
    "key",
    "token",
    "secret",
    "sig",
    "signature",
    "pass",
    "pwd",
    "auth",
    "credential",
    "session",
    "bearer",
    "jwt",
    "access",
    "private",
];

const MAX_PARAM_NAME_LEN: usize = 128;

// === the policy ===

/// Why a key may not go into a URL, and how to fix it. Messages never contain the key (no
/// function here that returns this error is given one) nor a whole URL, only origins.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryAuthError {
    #[error(
        "query-parameter auth is off, so Switchboard will not put an API key into this server's URL (URLs end up in proxy, server and error logs). Prefer a header if the server accepts one (a bearer token or a custom header). To use it anyway, turn on \"allow query-parameter auth (insecure)\" in Settings, or set \"allowQueryParamAuth\": true in the \"switchboard\" section of the config, and list the server's origin in \"queryParamAuthOrigins\"."
    )]
    Disabled,
    #[error(
        "the URL of {origin} carries a user name or password (user:pass@host), which would travel along with the key; remove it from the URL and keep the credential in the keychain (e.g. as Basic auth)."
    )]
    Userinfo { origin: String },
    #[error(
        "query-parameter auth works only with http(s) URLs with a valid host name, not this `{scheme}:` URL; check the server's URL."
    )]
    UnsupportedUrl { scheme: String },
    #[error(
        "{origin} is plain http, so the key would cross the network in clear text; use https (plain http is allowed only for loopback: 127.0.0.0/8, [::1], localhost)."
    )]
    NotHttps { origin: String },
    #[error(
        "no server may receive a key in its URL: \"queryParamAuthOrigins\" is empty, and an empty list allows nothing. To allow this server, add its origin in the \"switchboard\" section of the config: \"queryParamAuthOrigins\": [\"{origin}\"]."
    )]
    EmptyAllowlist { origin: String },
    #[error(
        "{origin} is not in \"queryParamAuthOrigins\" (allowed: {allowed}); origins must match exactly in scheme, host and port. To allow it, add \"{origin}\" to \"queryParamAuthOrigins\" in the \"switchboard\" section of the config."
    )]
    OriginNotAllowed { origin: String, allowed: String },
    #[error(
        "the server at {sse_origin} announced its message endpoint on another origin ({endpoint_origin}); Switchboard will not send the key there. Check the server's URL, or ask its operator."
    )]
    CrossOriginEndpoint {
        sse_origin: String,
        endpoint_origin: String,
    },
    #[error("the server announced a message endpoint that is not a valid URL ({reason})")]
    InvalidEndpoint { reason: url::ParseError },
    #[error(
        "entry {position} of \"queryParamAuthOrigins\" (in the \"switchboard\" section of the config) is not usable: {source}"
    )]
    InvalidAllowlistEntry {
        position: usize,
        #[source]
        source: OriginError,
    },
    #[error(
        "the query parameter's name must start with a letter or '_' and contain only letters, digits, '_' and '-' (at most 128 characters)"
    )]
    InvalidParamName,
}

/// The user's settings for query-parameter auth. Build it from the config with
/// [`QueryAuthPolicy::from_settings`]; the default allows nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryAuthPolicy {
    /// `allowQueryParamAuth`: the UI toggle "allow query-parameter auth (insecure)".
    pub enabled: bool,
    /// `queryParamAuthOrigins`: exact origins that may receive a key. Empty allows nothing.
    pub allowed_origins: Vec<Origin>,
}

impl QueryAuthPolicy {
    /// The policy for the config's `allowQueryParamAuth` and `queryParamAuthOrigins`. Fails
    /// on the first entry that is not an origin, or is a plain-http origin that is not
    /// loopback (it could never receive a key, so it is surely a mistake).
    pub fn from_settings<S: AsRef<str>>(
        enabled: bool,
        origins: &[S],
    ) -> Result<QueryAuthPolicy, QueryAuthError> {
        let mut allowed_origins = Vec::with_capacity(origins.len());
        for (index, entry) in origins.iter().enumerate() {
            let invalid = |source| QueryAuthError::InvalidAllowlistEntry {
                position: index + 1,
                source,
            };
            let origin = Origin::parse(entry.as_ref()).map_err(invalid)?;
            if origin.scheme != Scheme::Https && !origin.is_loopback() {
                return Err(invalid(OriginError::InsecureScheme {
                    origin: origin.to_string(),
                }));
            }
            allowed_origins.push(origin);
        }
        Ok(QueryAuthPolicy {
            enabled,
            allowed_origins,
        })
    }

    /// Whether a key may be put into `url` now. Call it before every request that carries
    /// the key, not only when saving: it reads nothing but `self` and `url`, allocates
    /// nothing on success, and so reflects the settings as they are right now.
    ///
    /// Checked in this order: the setting is on; no userinfo; https, or http to loopback;
    /// the allowlist is not empty; the URL's origin is in it, exactly.
    pub fn check(&self, url: &Url) -> Result<(), QueryAuthError> {
        if !self.enabled {
            return Err(QueryAuthError::Disabled);
        }
        if has_userinfo(url) {
            return Err(QueryAuthError::Userinfo {
                origin: origin_text(url),
            });
        }
        let Some(origin) = OriginView::of(url) else {
            return Err(QueryAuthError::UnsupportedUrl {
                scheme: url.scheme().to_owned(),
            });
        };
        if origin.scheme != Scheme::Https && !origin.is_loopback() {
            return Err(QueryAuthError::NotHttps {
                origin: origin.to_string(),
            });
        }
        if self.allowed_origins.is_empty() {
            return Err(QueryAuthError::EmptyAllowlist {
                origin: origin.to_string(),
            });
        }
        if !self.allowed_origins.iter().any(|a| a.view() == origin) {
            let allowed: Vec<String> = self.allowed_origins.iter().map(Origin::to_string).collect();
            return Err(QueryAuthError::OriginNotAllowed {
                origin: origin.to_string(),
                allowed: allowed.join(", "),
            });
        }
        Ok(())
    }

    /// [`check`](Self::check), then [`with_key`]: the one call a request path needs.
    pub fn authorize(
        &self,
        url: &Url,
        param: &str,
        key: &Sensitive<String>,
    ) -> Result<Url, QueryAuthError> {
        self.check(url)?;
        Ok(with_key(url, param, key))
    }
}

/// Refuses a parameter name that is not `[A-Za-z_][A-Za-z0-9_-]*` (at most 128 long), for
/// config validation. The error does not echo the name, in case a key was typed there.
pub fn validate_param_name(name: &str) -> Result<(), QueryAuthError> {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if starts_well && rest_ok && name.len() <= MAX_PARAM_NAME_LEN {
        Ok(())
    } else {
        Err(QueryAuthError::InvalidParamName)
    }
}

// === putting the key in, taking it out ===

/// `url` with `key` under `param` in its query. Every parameter whose percent-decoded name
/// equals `param` case-insensitively is removed, and the key takes the place of the first
/// one (or goes last). Everything else in the query is kept byte-for-byte, in order,
/// duplicates and odd encodings included, since signed URLs and picky servers depend on it.
/// The key is form-urlencoded; path and fragment are untouched.
///
/// Call [`QueryAuthPolicy::check`] first (or use [`QueryAuthPolicy::authorize`]), and use
/// the result for this one request only: never store, log or display it.
pub fn with_key(url: &Url, param: &str, key: &Sensitive<String>) -> Url {
    let mut pair = form_encode(param);
    pair.push('=');
    pair.push_str(&form_encode(key.expose()));
    let query = replace_param(url.query(), param, Some(&pair));
    let mut out = url.clone();
    out.set_query(query.as_deref());
    out
}

/// `url` without any parameter named `param` (case-insensitively, after percent-decoding),
/// everything else byte-for-byte. For stripping the key from a redirect target (servers may
/// echo the query into `Location`) or from a URL about to be shown.
pub fn without_key(url: &Url, param: &str) -> Url {
    let mut out = url.clone();
    out.set_query(replace_param(url.query(), param, None).as_deref());
    out
}

/// The raw query with every `param` segment dropped and `replacement` (a ready `name=value`)
/// at the first one's place, or appended. Other segments are copied as they are.
fn replace_param(raw: Option<&str>, param: &str, replacement: Option<&str>) -> Option<String> {
    let mut kept: Vec<&str> = Vec::new();
    let mut matched = false;
    for segment in raw.into_iter().flat_map(|query| query.split('&')) {
        if segment_name_is(segment, param) {
            if !matched {
                kept.extend(replacement);
            }
            matched = true;
        } else {
            kept.push(segment);
        }
    }
    if !matched {
        let Some(replacement) = replacement else {
            return raw.map(str::to_owned);
        };
        // A trailing `&` (or an empty query) leaves an empty segment: fill it, don't add `&&`.
        if kept.last() == Some(&"") {
            kept.pop();
        }
        kept.push(replacement);
    }
    if kept.is_empty() {
        None
    } else {
        Some(kept.join("&"))
    }
}

/// Whether a raw `name=value` segment's decoded name equals `param`, ignoring case.
fn segment_name_is(segment: &str, param: &str) -> bool {
    let raw_name = segment.split('=').next().unwrap_or(segment);
    if raw_name.is_empty() {
        return false;
    }
    let name = form_decode(raw_name);
    name.chars()
        .flat_map(char::to_lowercase)
        .eq(param.chars().flat_map(char::to_lowercase))
}

// === redirects and the legacy SSE endpoint ===

/// Whether a request that carried the key may follow a redirect to `redirect_target` with
/// the key: only to the same normalized origin (scheme, host, port), and never to a URL with
/// userinfo. When this is `false` the caller must strip the key before following (the
/// `Location` may echo it: use [`without_key`]) or not follow at all. When it is `true`, the
/// caller still runs [`QueryAuthPolicy::check`] on the target and re-applies [`with_key`],
/// since `Location` may have dropped the query.
pub fn may_send_key_after_redirect(original: &Url, redirect_target: &Url) -> bool {
    match (OriginView::of(original), OriginView::of(redirect_target)) {
        (Some(from), Some(to)) => from == to && !has_userinfo(redirect_target),
        _ => false,
    }
}

/// The legacy HTTP+SSE transport's POST endpoint: `announced` (the `endpoint` event's data,
/// relative or absolute) resolved against `sse_url`, refused when it lands on another origin
/// or carries userinfo, since the key must never go anywhere else. The caller then applies
/// [`with_key`] to the result: a relative endpoint drops the SSE URL's query, key included.
pub fn resolve_endpoint(sse_url: &Url, announced: &str) -> Result<Url, QueryAuthError> {
    let endpoint = sse_url
        .join(announced)
        .map_err(|reason| QueryAuthError::InvalidEndpoint { reason })?;
    let same_origin = match (OriginView::of(sse_url), OriginView::of(&endpoint)) {
        (Some(sse), Some(post)) => sse == post,
        _ => false,
    };
    if !same_origin {
        return Err(QueryAuthError::CrossOriginEndpoint {
            sse_origin: origin_text(sse_url),
            endpoint_origin: origin_text(&endpoint),
        });
    }
    if has_userinfo(&endpoint) {
        return Err(QueryAuthError::Userinfo {
            origin: origin_text(&endpoint),
        });
    }
    Ok(endpoint)
}

// === secrets typed into a URL ===

/// Where a secret-looking value sits in an entered URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InlineSecretKind {
    /// A query parameter; `name` is percent-decoded.
    Param { name: String },
    /// A `name=value` pair in the fragment (`#access_token=…`): never sent, but stored.
    FragmentParam { name: String },
    /// `user:password@` (or `token@`) before the host.
    Userinfo,
}

/// A secret found in an entered URL. Its `Debug` shows where, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineSecret {
    pub kind: InlineSecretKind,
    /// A keychain name to offer, e.g. `mcp.tavily.com-tavilyApiKey`.
    pub suggested_secret_name: String,
    /// The decoded value, to move into the keychain. For userinfo: `user:password` as Basic
    /// auth would send it (just `user` without a password).
    pub value: Sensitive<String>,
}

/// The secrets typed into a URL: parameters (query or fragment) whose name looks secret
/// ([`SECRET_NAME_PARTS`]) and has a non-empty value, and userinfo. Text that does not parse
/// as a URL yields nothing; the caller refuses it as invalid anyway (without echoing it).
pub fn inline_secrets(url_text: &str) -> Vec<InlineSecret> {
    strip_inline_secrets(url_text)
        .map(|(_, found)| found)
        .unwrap_or_default()
}

/// The URL with every [`inline_secrets`] removed (other parameters byte-for-byte), and what
/// was removed, so the UI or CLI can offer "move the value into the keychain".
pub fn strip_inline_secrets(url_text: &str) -> Result<(Url, Vec<InlineSecret>), url::ParseError> {
    let mut url = Url::parse(url_text.trim())?;
    let host = url
        .host_str()
        .unwrap_or("url")
        .trim_end_matches('.')
        .to_owned();
    let mut found = Vec::new();

    if has_userinfo(&url) {
        let mut value = percent_decode(url.username());
        if let Some(password) = url.password() {
            value.push(':');
            value.push_str(&percent_decode(password));
        }
        found.push(InlineSecret {
            kind: InlineSecretKind::Userinfo,
            suggested_secret_name: secret_name(&host, "userinfo"),
            value: Sensitive::new(value),
        });
        // A URL with userinfo has a host, and then clearing it cannot fail.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }

    if let Some((kept, secrets)) = url.query().and_then(split_secret_params) {
        for (name, value) in secrets {
            found.push(InlineSecret {
                suggested_secret_name: secret_name(&host, &name),
                kind: InlineSecretKind::Param { name },
                value,
            });
        }
        url.set_query(kept.as_deref());
    }
    if let Some((kept, secrets)) = url.fragment().and_then(split_secret_params) {
        for (name, value) in secrets {
            found.push(InlineSecret {
                suggested_secret_name: secret_name(&host, &name),
                kind: InlineSecretKind::FragmentParam { name },
                value,
            });
        }
        url.set_fragment(kept.as_deref());
    }

    dedupe_names(&mut found);
    Ok((url, found))
}

/// Whether a parameter name looks like it holds a secret (see [`SECRET_NAME_PARTS`]).
pub fn looks_secret(name: &str) -> bool {
    let lower = name.to_lowercase();
    SECRET_NAME_PARTS.iter().any(|part| lower.contains(part))
}

type FoundParams = Vec<(String, Sensitive<String>)>;

/// Splits `&`-separated pairs into the raw segments to keep and the decoded secret ones;
/// `None` when nothing looks secret.
fn split_secret_params(raw: &str) -> Option<(Option<String>, FoundParams)> {
    let mut kept: Vec<&str> = Vec::new();
    let mut secrets = Vec::new();
    for segment in raw.split('&') {
        match form_urlencoded::parse(segment.as_bytes()).next() {
            Some((name, value)) if !value.is_empty() && looks_secret(&name) => {
                secrets.push((name.into_owned(), Sensitive::new(value.into_owned())));
            }
            _ => kept.push(segment),
        }
    }
    if secrets.is_empty() {
        return None;
    }
    let kept = (!kept.is_empty()).then(|| kept.join("&"));
    Some((kept, secrets))
}

/// `host-name`, reduced to characters every keychain accepts.
fn secret_name(host: &str, name: &str) -> String {
    format!("{host}-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Two secrets must not be offered the same keychain name: add `-2`, `-3`, ….
fn dedupe_names(found: &mut [InlineSecret]) {
    let mut taken: Vec<String> = Vec::with_capacity(found.len());
    for secret in found.iter_mut() {
        let base = secret.suggested_secret_name.clone();
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        taken.push(candidate.clone());
        secret.suggested_secret_name = candidate;
    }
}

// === small helpers ===

fn form_encode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// application/x-www-form-urlencoded decoding: `+` is a space, `%XX` a byte.
fn form_decode(raw: &str) -> String {
    percent_decode(&raw.replace('+', " "))
}

/// `%XX` decoding (no `+` rule, as in userinfo); invalid escapes and UTF-8 kept lossily.
fn percent_decode(raw: &str) -> String {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECRET: &str = "tvly-S3CRET-value";

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test URL parses")
    }

    fn key(value: &str) -> Sensitive<String> {
        Sensitive::new(value.to_owned())
    }

    fn allowing(origins: &[&str]) -> QueryAuthPolicy {
        QueryAuthPolicy::from_settings(true, origins).expect("test allowlist is valid")
    }

    fn origin(text: &str) -> Origin {
        Origin::parse(text).expect("test origin parses")
    }

    fn query(u: &Url) -> &str {
        u.query().expect("URL has a query")
    }

    // --- origins ---

    #[test]
    fn origin_parse_normalizes_case_trailing_dot_and_default_port() {
        assert_eq!(
            origin("https://MCP.Tavily.com.:443/").to_string(),
            "https://mcp.tavily.com"
        );
        assert_eq!(origin("  HTTPS://A.com  "), origin("https://a.com:443"));
        assert_eq!(origin("http://a.com:80").to_string(), "http://a.com");
        assert_eq!(origin("https://a.com:8443").port(), 8443);
        assert_eq!(origin("https://a.com").port(), 443);
        assert_eq!(origin("https://a.com").scheme(), "https");
    }

    #[test]
    fn origin_keeps_non_default_ports_and_brackets_ipv6() {
        let v6 = origin("https://[0:0:0:0:0:0:0:1]:8443");
        assert_eq!(v6.to_string(), "https://[::1]:8443");
        assert_eq!(v6, origin("https://[::1]:8443/"));
        assert!(v6.is_loopback());
        assert_eq!(
            origin("http://127.0.0.1:80").to_string(),
            "http://127.0.0.1"
        );
        assert_eq!(format!("{v6:?}"), "Origin(https://[::1]:8443)");
    }

    #[test]
    fn origin_parse_applies_idna() {
        let unicode = origin("https://bücher.example");
        assert_eq!(unicode, origin("https://xn--bcher-kva.example"));
        assert_eq!(unicode.to_string(), "https://xn--bcher-kva.example");
        assert_eq!(origin("https://BÜCHER.example."), unicode);
    }

    #[test]
    fn origin_parse_refuses_more_than_an_origin() {
        let suggestion = "https://a.com".to_owned();
        assert_eq!(
            Origin::parse("https://user:pw@a.com"),
            Err(OriginError::Userinfo {
                suggestion: suggestion.clone()
            })
        );
        for entry in [
            "https://a.com/mcp",
            "https://a.com/?x=1",
            "https://a.com/?",
            "https://a.com/#top",
        ] {
            assert_eq!(
                Origin::parse(entry),
                Err(OriginError::NotJustAnOrigin {
                    suggestion: suggestion.clone()
                }),
                "{entry}"
            );
        }
    }

    #[test]
    fn origin_parse_refuses_entries_without_a_usable_scheme_or_host() {
        assert_eq!(Origin::parse("   "), Err(OriginError::Empty));
        assert_eq!(
            Origin::parse("mcp.tavily.com"),
            Err(OriginError::MissingScheme)
        );
        assert_eq!(
            Origin::parse("mcp.tavily.com:443"),
            Err(OriginError::MissingScheme)
        );
        assert_eq!(
            Origin::parse("ws://a.com"),
            Err(OriginError::UnsupportedScheme)
        );
        assert!(matches!(
            Origin::parse("https://"),
            Err(OriginError::NotAUrl { .. })
        ));
        assert_eq!(
            Origin::parse("https://a.com../"),
            Err(OriginError::InvalidHost)
        );
    }

    #[test]
    fn origin_from_str_is_parse() {
        let parsed: Origin = "https://A.com:443".parse().expect("parses");
        assert_eq!(parsed, origin("https://a.com"));
        assert!("a.com".parse::<Origin>().is_err());
    }

    #[test]
    fn origin_of_url_ignores_userinfo_path_and_query() {
        let of = Origin::of(&url("https://u:p@A.com.:443/x?y=1#z")).expect("http(s)");
        assert_eq!(of, origin("https://a.com"));
        assert_eq!(Origin::of(&url("ws://a.com")), None);
    }

    #[test]
    fn origin_errors_never_echo_the_entry() {
        for entry in [
            "https://user:tvly-S3CRET-value@a.com",
            "https://a.com/?key=tvly-S3CRET-value",
            "https://a.com/tvly-S3CRET-value",
            "https://a.com/#tvly-S3CRET-value",
            "tvly-S3CRET-value",
            "tvly-S3CRET-value:443",
            "wss://tvly-S3CRET-value",
        ] {
            let message = Origin::parse(entry).expect_err(entry).to_string();
            assert!(!message.to_lowercase().contains("s3cret"), "{message}");
        }
    }

    // --- the policy, one test per rule ---

    #[test]
    fn flag_off_refuses() {
        let policy = QueryAuthPolicy {
            enabled: false,
            ..allowing(&["https://a.com"])
        };
        assert_eq!(
            policy.check(&url("https://a.com/mcp")),
            Err(QueryAuthError::Disabled)
        );
    }

    #[test]
    fn flag_off_after_being_on_refuses_the_next_request() {
        let mut policy = allowing(&["https://a.com"]);
        let endpoint = url("https://a.com/mcp");
        assert_eq!(policy.check(&endpoint), Ok(()));
        // The same gateway, the same policy value, the setting turned off in between: the
        // next request is refused, since the check runs per request and keeps no state.
        policy.enabled = false;
        assert_eq!(policy.check(&endpoint), Err(QueryAuthError::Disabled));
        policy.enabled = true;
        assert_eq!(policy.check(&endpoint), Ok(()));
    }

    #[test]
    fn disabled_message_says_why_and_names_the_setting_and_toggle() {
        let message = QueryAuthError::Disabled.to_string();
        assert!(message.contains(ENABLE_SETTING), "{message}");
        assert!(message.contains("\"switchboard\" section"), "{message}");
        assert!(message.contains(ENABLE_TOGGLE_LABEL), "{message}");
        assert!(message.contains(ORIGINS_SETTING), "{message}");
        assert!(message.contains("logs"), "{message}");
    }

    #[test]
    fn userinfo_is_refused_even_when_the_host_is_allowed() {
        let policy = allowing(&["https://a.com", "https://evil.com"]);
        for tricky in [
            "https://a.com@evil.com/",
            "https://user:pw@a.com/",
            "https://user@a.com/",
            "https://:pw@a.com/",
        ] {
            assert!(
                matches!(
                    policy.check(&url(tricky)),
                    Err(QueryAuthError::Userinfo { .. })
                ),
                "{tricky}"
            );
        }
        assert_eq!(
            policy.check(&url("https://a.com@evil.com/")),
            Err(QueryAuthError::Userinfo {
                origin: "https://evil.com".into()
            })
        );
    }

    #[test]
    fn plain_http_is_refused_outside_loopback() {
        let policy = allowing(&["https://a.com"]);
        assert_eq!(
            policy.check(&url("http://a.com/mcp")),
            Err(QueryAuthError::NotHttps {
                origin: "http://a.com".into()
            })
        );
        let message = policy
            .check(&url("http://a.com/mcp"))
            .expect_err("http")
            .to_string();
        assert!(message.contains("use https"), "{message}");
    }

    #[test]
    fn plain_http_to_loopback_is_allowed() {
        let loopbacks = [
            "http://127.0.0.1:8080",
            "http://127.5.5.5",
            "http://[::1]:3000",
            "http://localhost:9000",
        ];
        let policy = allowing(&loopbacks);
        for allowed in loopbacks {
            assert_eq!(
                policy.check(&url(&format!("{allowed}/mcp"))),
                Ok(()),
                "{allowed}"
            );
        }
        assert_eq!(policy.check(&url("http://LOCALHOST.:9000/mcp")), Ok(()));
    }

    #[test]
    fn loopback_exception_is_exact() {
        let policy = allowing(&["https://a.com"]);
        for not_loopback in [
            "http://localhost.evil.com/",
            "http://127.0.0.1.nip.io/",
            "http://mylocalhost/",
            "http://[::ffff:7f00:1]/",
            "http://128.0.0.1/",
        ] {
            assert!(
                matches!(
                    policy.check(&url(not_loopback)),
                    Err(QueryAuthError::NotHttps { .. })
                ),
                "{not_loopback}"
            );
        }
    }

    #[test]
    fn non_http_urls_are_refused() {
        let policy = allowing(&["https://a.com"]);
        assert_eq!(
            policy.check(&url("wss://a.com/mcp")),
            Err(QueryAuthError::UnsupportedUrl {
                scheme: "wss".into()
            })
        );
        assert!(matches!(
            policy.check(&url("https://a.com../")),
            Err(QueryAuthError::UnsupportedUrl { .. })
        ));
    }

    #[test]
    fn origin_not_in_the_allowlist_is_refused_with_how_to_add_it() {
        let policy = allowing(&["https://a.com", "https://b.com:8443"]);
        let refused = policy.check(&url("https://c.com/mcp?x=1"));
        assert_eq!(
            refused,
            Err(QueryAuthError::OriginNotAllowed {
                origin: "https://c.com".into(),
                allowed: "https://a.com, https://b.com:8443".into(),
            })
        );
        let message = refused.expect_err("refused").to_string();
        assert!(message.contains(ORIGINS_SETTING), "{message}");
        assert!(message.contains("\"switchboard\" section"), "{message}");
        assert!(message.contains("add \"https://c.com\""), "{message}");
    }

    #[test]
    fn empty_allowlist_allows_nothing() {
        let policy = allowing(&[]);
        assert_eq!(
            policy.check(&url("https://a.com/mcp")),
            Err(QueryAuthError::EmptyAllowlist {
                origin: "https://a.com".into()
            })
        );
        assert_eq!(
            QueryAuthPolicy::default().check(&url("https://a.com/")),
            Err(QueryAuthError::Disabled)
        );
        let message = policy
            .check(&url("https://a.com/mcp"))
            .expect_err("empty")
            .to_string();
        assert!(
            message.contains("\"queryParamAuthOrigins\": [\"https://a.com\"]"),
            "{message}"
        );
    }

    #[test]
    fn port_tricks_do_not_match() {
        let policy = allowing(&["https://a.com"]);
        assert!(matches!(
            policy.check(&url("https://a.com:8443/mcp")),
            Err(QueryAuthError::OriginNotAllowed { .. })
        ));
        assert_eq!(policy.check(&url("https://a.com:443/mcp")), Ok(()));
        let explicit = allowing(&["https://a.com:443"]);
        assert_eq!(explicit.check(&url("https://a.com/mcp")), Ok(()));
        let other_port = allowing(&["https://a.com:8443"]);
        assert!(other_port.check(&url("https://a.com/mcp")).is_err());
        assert_eq!(other_port.check(&url("https://a.com:8443/mcp")), Ok(()));
    }

    #[test]
    fn case_tricks_match_after_normalizing() {
        let policy = allowing(&["https://A.Com"]);
        assert_eq!(policy.check(&url("HTTPS://A.COM/MCP")), Ok(()));
        assert_eq!(policy.check(&url("https://a.com/mcp")), Ok(()));
    }

    #[test]
    fn trailing_dot_tricks_match_after_normalizing() {
        let policy = allowing(&["https://a.com"]);
        assert_eq!(policy.check(&url("https://a.com./mcp")), Ok(()));
        let dotted_entry = allowing(&["https://a.com."]);
        assert_eq!(dotted_entry.check(&url("https://a.com/mcp")), Ok(()));
        assert!(policy.check(&url("https://a.com../mcp")).is_err());
    }

    #[test]
    fn idna_unicode_and_punycode_match_both_ways() {
        let unicode_entry = allowing(&["https://bücher.example"]);
        assert_eq!(
            unicode_entry.check(&url("https://xn--bcher-kva.example/mcp")),
            Ok(())
        );
        let punycode_entry = allowing(&["https://xn--bcher-kva.example"]);
        assert_eq!(
            punycode_entry.check(&url("https://bücher.example/mcp")),
            Ok(())
        );
        assert_eq!(
            punycode_entry.check(&url("https://BÜCHER.example/mcp")),
            Ok(())
        );
        // A different Unicode name (ü vs u) is a different origin.
        assert!(
            punycode_entry
                .check(&url("https://bucher.example/mcp"))
                .is_err()
        );
    }

    #[test]
    fn lookalike_hosts_do_not_match() {
        let policy = allowing(&["https://a.com"]);
        for lookalike in [
            "https://a.com.evil.com/",
            "https://evila.com/",
            "https://sub.a.com/",
            "https://a.co/",
            "https://a.com%2eevil.com/",
        ] {
            assert!(
                matches!(
                    policy.check(&url(lookalike)),
                    Err(QueryAuthError::OriginNotAllowed { .. })
                ),
                "{lookalike}"
            );
        }
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        let off = QueryAuthPolicy {
            enabled: false,
            allowed_origins: Vec::new(),
        };
        // Disabled beats everything else wrong with the URL.
        assert_eq!(
            off.check(&url("http://u:p@evil.com/")),
            Err(QueryAuthError::Disabled)
        );
        let empty = allowing(&[]);
        // Userinfo beats plain http.
        assert!(matches!(
            empty.check(&url("http://u@evil.com/")),
            Err(QueryAuthError::Userinfo { .. })
        ));
        // Plain http beats the allowlist.
        assert!(matches!(
            empty.check(&url("http://evil.com/")),
            Err(QueryAuthError::NotHttps { .. })
        ));
        // An empty allowlist has its own message.
        assert!(matches!(
            empty.check(&url("https://evil.com/")),
            Err(QueryAuthError::EmptyAllowlist { .. })
        ));
    }

    #[test]
    fn from_settings_names_the_bad_entry_by_position() {
        assert_eq!(
            QueryAuthPolicy::from_settings(true, &["https://a.com", "https://b.com/mcp"]),
            Err(QueryAuthError::InvalidAllowlistEntry {
                position: 2,
                source: OriginError::NotJustAnOrigin {
                    suggestion: "https://b.com".into()
                },
            })
        );
        let policy = QueryAuthPolicy::from_settings(false, &["https://A.com:443/"]).expect("valid");
        assert!(!policy.enabled);
        assert_eq!(policy.allowed_origins, vec![origin("https://a.com")]);
    }

    #[test]
    fn from_settings_refuses_a_plain_http_entry_outside_loopback() {
        let refused = QueryAuthPolicy::from_settings(true, &["http://a.com"]);
        assert_eq!(
            refused,
            Err(QueryAuthError::InvalidAllowlistEntry {
                position: 1,
                source: OriginError::InsecureScheme {
                    origin: "http://a.com".into()
                },
            })
        );
        assert!(QueryAuthPolicy::from_settings(true, &["http://localhost:8080"]).is_ok());
    }

    #[test]
    fn authorize_adds_the_key_only_after_the_check_passes() {
        let policy = allowing(&["https://a.com"]);
        let sent = policy
            .authorize(&url("https://a.com/mcp"), "apiKey", &key(SECRET))
            .expect("allowed");
        assert_eq!(sent.as_str(), format!("https://a.com/mcp?apiKey={SECRET}"));
        assert!(matches!(
            policy.authorize(&url("https://b.com/mcp"), "apiKey", &key(SECRET)),
            Err(QueryAuthError::OriginNotAllowed { .. })
        ));
    }

    #[test]
    fn param_names_are_validated() {
        for good in ["apiKey", "tavilyApiKey", "_k", "api-key", "X_1"] {
            assert_eq!(validate_param_name(good), Ok(()), "{good}");
        }
        for bad in ["", "1key", "api key", "key=", "k&x", "kéy", "-k"] {
            assert_eq!(
                validate_param_name(bad),
                Err(QueryAuthError::InvalidParamName),
                "{bad}"
            );
        }
        assert!(validate_param_name(&"k".repeat(129)).is_err());
    }

    // --- with_key ---

    #[test]
    fn with_key_replaces_every_case_variant_once_at_the_first_place() {
        let before = url("https://a.com/mcp?x=1&API_KEY=old1&y=2&api_key=old2&Api_Key=old3&z=3");
        let after = with_key(&before, "api_key", &key("new"));
        assert_eq!(query(&after), "x=1&api_key=new&y=2&z=3");
    }

    #[test]
    fn with_key_matches_percent_encoded_param_names() {
        let before = url("https://a.com/?api%5Fkey=old&%61pi_KEY=old&b=1");
        let after = with_key(&before, "api_key", &key("new"));
        assert_eq!(query(&after), "api_key=new&b=1");
    }

    #[test]
    fn with_key_keeps_other_params_byte_for_byte() {
        let raw = "a=%2f&b=x+y&c&d=&e=%20&f=%zz&g=a=b&&h=%E2%82%AC&i=%2F%2f&j=;,:@/?&k=1&k=2&API=1";
        let before = url(&format!("https://a.com/mcp?{raw}"));
        assert_eq!(query(&before), raw, "the parser kept the raw query");
        let after = with_key(&before, "api_key", &key("s"));
        assert_eq!(query(&after), format!("{raw}&api_key=s"));
    }

    #[test]
    fn with_key_appends_when_absent() {
        let after = with_key(&url("https://a.com/mcp?page=2"), "apiKey", &key("s"));
        assert_eq!(after.as_str(), "https://a.com/mcp?page=2&apiKey=s");
    }

    #[test]
    fn with_key_works_without_a_query() {
        let after = with_key(&url("https://a.com/mcp"), "apiKey", &key("s"));
        assert_eq!(after.as_str(), "https://a.com/mcp?apiKey=s");
        let empty = with_key(&url("https://a.com/mcp?"), "apiKey", &key("s"));
        assert_eq!(empty.as_str(), "https://a.com/mcp?apiKey=s");
        let trailing = with_key(&url("https://a.com/mcp?a=1&"), "apiKey", &key("s"));
        assert_eq!(trailing.as_str(), "https://a.com/mcp?a=1&apiKey=s");
    }

    #[test]
    fn with_key_keeps_path_and_fragment() {
        let before = url("https://a.com/a%2Fb/c;d?x=1#frag?apiKey=no&y");
        let after = with_key(&before, "apiKey", &key("s"));
        assert_eq!(
            after.as_str(),
            "https://a.com/a%2Fb/c;d?x=1&apiKey=s#frag?apiKey=no&y"
        );
        assert_eq!(after.fragment(), before.fragment());
        assert_eq!(after.path(), before.path());
    }

    #[test]
    fn with_key_encodes_the_value_so_it_cannot_inject() {
        let hostile = "a b&admin=1#frag/é+%=";
        let after = with_key(&url("https://a.com/mcp?x=1"), "apiKey", &key(hostile));
        assert_eq!(
            query(&after),
            "x=1&apiKey=a+b%26admin%3D1%23frag%2F%C3%A9%2B%25%3D"
        );
        assert_eq!(after.fragment(), None);
        let pairs: Vec<(String, String)> = after.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![
                ("x".to_owned(), "1".to_owned()),
                ("apiKey".to_owned(), hostile.to_owned())
            ]
        );
    }

    #[test]
    fn without_key_strips_only_the_param() {
        let stripped = without_key(&url("https://a.com/?a=%2f&ApiKey=s&b=x+y#f"), "apiKey");
        assert_eq!(stripped.as_str(), "https://a.com/?a=%2f&b=x+y#f");
        let only = without_key(&url("https://a.com/?apiKey=s"), "apiKey");
        assert_eq!(only.as_str(), "https://a.com/");
        let untouched = url("https://a.com/?a=1&");
        assert_eq!(without_key(&untouched, "apiKey"), untouched);
    }

    // --- redirects ---

    #[test]
    fn redirect_to_the_same_origin_may_keep_the_key() {
        let from = url("https://a.com/mcp?apiKey=s");
        assert!(may_send_key_after_redirect(
            &from,
            &url("https://a.com/other")
        ));
        assert!(may_send_key_after_redirect(
            &from,
            &url("HTTPS://A.COM.:443/x")
        ));
    }

    #[test]
    fn redirect_to_another_origin_scheme_or_port_drops_the_key() {
        let from = url("https://a.com/mcp?apiKey=s");
        for target in [
            "https://evil.com/mcp?apiKey=s",
            "https://sub.a.com/mcp",
            "http://a.com/mcp",
            "https://a.com:8443/mcp",
            "https://a.com@evil.com/",
            "https://user@a.com/",
            "wss://a.com/",
        ] {
            assert!(
                !may_send_key_after_redirect(&from, &url(target)),
                "{target}"
            );
        }
    }

    // --- the legacy SSE endpoint ---

    #[test]
    fn resolve_endpoint_relative_path() {
        let sse = url("https://a.com/mcp/sse?apiKey=s");
        let post = resolve_endpoint(&sse, "/messages?sessionId=42").expect("same origin");
        assert_eq!(post.as_str(), "https://a.com/messages?sessionId=42");
        let sibling = resolve_endpoint(&sse, "messages?sessionId=42").expect("same origin");
        assert_eq!(sibling.as_str(), "https://a.com/mcp/messages?sessionId=42");
    }

    #[test]
    fn resolve_endpoint_relative_drops_the_query_so_the_key_is_reapplied() {
        let sse = url("https://a.com/sse?apiKey=s&region=eu");
        let post = resolve_endpoint(&sse, "?sessionId=42").expect("same origin");
        assert_eq!(post.as_str(), "https://a.com/sse?sessionId=42");
        let sent = with_key(&post, "apiKey", &key("s"));
        assert_eq!(query(&sent), "sessionId=42&apiKey=s");
    }

    #[test]
    fn resolve_endpoint_absolute_same_origin() {
        let sse = url("https://a.com/sse");
        let post = resolve_endpoint(&sse, "https://A.com:443/messages?s=1").expect("same origin");
        assert_eq!(post.as_str(), "https://a.com/messages?s=1");
    }

    #[test]
    fn resolve_endpoint_absolute_other_origin_is_refused() {
        let sse = url("https://a.com/sse?apiKey=s");
        for announced in [
            "https://evil.com/messages",
            "http://a.com/messages",
            "https://a.com:8443/messages",
        ] {
            assert!(
                matches!(
                    resolve_endpoint(&sse, announced),
                    Err(QueryAuthError::CrossOriginEndpoint { .. })
                ),
                "{announced}"
            );
        }
        assert_eq!(
            resolve_endpoint(&sse, "https://evil.com/m"),
            Err(QueryAuthError::CrossOriginEndpoint {
                sse_origin: "https://a.com".into(),
                endpoint_origin: "https://evil.com".into(),
            })
        );
    }

    #[test]
    fn resolve_endpoint_protocol_relative_is_refused() {
        let sse = url("https://a.com/sse");
        assert!(matches!(
            resolve_endpoint(&sse, "//evil.com/x"),
            Err(QueryAuthError::CrossOriginEndpoint { .. })
        ));
        assert!(matches!(
            resolve_endpoint(&sse, "\\\\evil.com/x"),
            Err(QueryAuthError::CrossOriginEndpoint { .. })
        ));
    }

    #[test]
    fn resolve_endpoint_with_userinfo_is_refused() {
        let sse = url("https://a.com/sse");
        assert!(matches!(
            resolve_endpoint(&sse, "https://u:p@a.com/messages"),
            Err(QueryAuthError::Userinfo { .. })
        ));
        assert!(matches!(
            resolve_endpoint(&sse, "//a.com@evil.com/x"),
            Err(QueryAuthError::CrossOriginEndpoint { .. })
        ));
    }

    #[test]
    fn resolve_endpoint_invalid_is_refused() {
        let sse = url("https://a.com/sse");
        assert!(matches!(
            resolve_endpoint(&sse, "https://[oops/"),
            Err(QueryAuthError::InvalidEndpoint { .. })
        ));
    }

    // --- secrets typed into a URL ---

    #[test]
    fn whatever_looks_secret_here_is_also_redacted_in_logs() {
        for part in SECRET_NAME_PARTS {
            assert!(
                crate::redact::SENSITIVE_PARAM_PARTS.contains(part),
                "{part} is refused in a URL but would not be redacted in a log line"
            );
        }
    }

    #[test]
    fn inline_secret_is_detected_for_each_name_part() {
        for part in SECRET_NAME_PARTS {
            for name in [part.to_string(), part.to_uppercase(), format!("x_{part}_y")] {
                let found = inline_secrets(&format!("https://a.com/mcp?page=2&{name}=v"));
                assert_eq!(found.len(), 1, "{name}");
                assert_eq!(
                    found[0].kind,
                    InlineSecretKind::Param { name: name.clone() }
                );
                assert_eq!(found[0].value.expose(), "v");
            }
        }
    }

    #[test]
    fn inline_userinfo_is_detected() {
        let found = inline_secrets("https://alice:p%40ss@a.com/mcp");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].kind, InlineSecretKind::Userinfo);
        assert_eq!(found[0].value.expose(), "alice:p@ss");
        assert_eq!(found[0].suggested_secret_name, "a.com-userinfo");
        let token_only = inline_secrets("https://ghp_token123@a.com/");
        assert_eq!(token_only[0].value.expose(), "ghp_token123");
    }

    #[test]
    fn ordinary_params_are_not_secret() {
        assert!(inline_secrets("https://a.com/mcp?page=2&q=hello").is_empty());
        assert!(inline_secrets("https://a.com/mcp?lang=en&limit=10#section-2").is_empty());
        assert!(inline_secrets("https://a.com/mcp").is_empty());
    }

    #[test]
    fn inline_secret_with_an_empty_value_is_not_reported() {
        assert!(inline_secrets("https://a.com/mcp?token=&apiKey").is_empty());
    }

    #[test]
    fn unparseable_text_reports_nothing() {
        assert!(inline_secrets("not a url ?apiKey=x").is_empty());
        assert!(strip_inline_secrets("not a url ?apiKey=x").is_err());
    }

    #[test]
    fn strip_inline_secrets_keeps_the_rest_and_returns_the_values() {
        let (clean, found) = strip_inline_secrets(
            "https://u:pw@mcp.tavily.com/mcp?a=%2f&tavilyApiKey=tvly%2Dx+y&b=x+y#f",
        )
        .expect("parses");
        assert_eq!(clean.as_str(), "https://mcp.tavily.com/mcp?a=%2f&b=x+y#f");
        let names: Vec<&str> = found
            .iter()
            .map(|s| s.suggested_secret_name.as_str())
            .collect();
        assert_eq!(
            names,
            ["mcp.tavily.com-userinfo", "mcp.tavily.com-tavilyApiKey"]
        );
        assert_eq!(found[1].value.expose(), "tvly-x y");
        let (only, _) = strip_inline_secrets("https://a.com/mcp?apiKey=s").expect("parses");
        assert_eq!(only.as_str(), "https://a.com/mcp");
    }

    #[test]
    fn inline_secret_debug_never_shows_the_value() {
        let found = inline_secrets(&format!(
            "https://u:{SECRET}@a.com/?apiKey={SECRET}#token={SECRET}"
        ));
        assert_eq!(found.len(), 3);
        let debug = format!("{found:?}");
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn suggested_secret_names_are_unique_and_keychain_safe() {
        let found = inline_secrets("https://a.com/?api key=1&API KEY=2&api%20key=3");
        let names: Vec<&str> = found
            .iter()
            .map(|s| s.suggested_secret_name.as_str())
            .collect();
        assert_eq!(names, ["a.com-api-key", "a.com-API-KEY", "a.com-api-key-2"]);
    }

    // --- regressions for context-forge's shortcomings (shared/research/context-forge.md) ---

    // §"Spec as it works in their code", rule 5: the port was ignored; any port passed.
    #[test]
    fn regression_cf5_allowlist_ignored_the_port() {
        let policy = allowing(&["https://mcp.tavily.com"]);
        assert!(policy.check(&url("https://mcp.tavily.com:8443/")).is_err());
        assert!(policy.check(&url("https://mcp.tavily.com:1/")).is_err());
    }

    // Rule 5: the scheme was ignored, so `http://` to an allowlisted host was accepted.
    #[test]
    fn regression_cf5_allowlist_ignored_the_scheme() {
        let policy = allowing(&["https://mcp.tavily.com"]);
        assert!(matches!(
            policy.check(&url("http://mcp.tavily.com/")),
            Err(QueryAuthError::NotHttps { .. })
        ));
    }

    // Rule 5: userinfo was stripped, so `https://evil@mcp.tavily.com` checked as the host.
    #[test]
    fn regression_cf5_userinfo_was_stripped_before_the_host_check() {
        let policy = allowing(&["https://mcp.tavily.com"]);
        assert!(matches!(
            policy.check(&url("https://evil@mcp.tavily.com/")),
            Err(QueryAuthError::Userinfo { .. })
        ));
    }

    // Rule 5: allowlist entries were not lowercased, so `MCP.Tavily.com` never matched.
    #[test]
    fn regression_cf5_uppercase_allowlist_entry_never_matched() {
        let policy = allowing(&["https://MCP.Tavily.com"]);
        assert_eq!(policy.check(&url("https://mcp.tavily.com/mcp")), Ok(()));
    }

    // Rule 5: a trailing dot failed to match. The issue asks to normalize it (the research's
    // "do better" §3 suggested refusing it); either way both sides must agree.
    #[test]
    fn regression_cf5_trailing_dot_was_a_mismatch() {
        let policy = allowing(&["https://mcp.tavily.com"]);
        assert_eq!(policy.check(&url("https://mcp.tavily.com./mcp")), Ok(()));
        assert_eq!(
            origin("https://mcp.tavily.com."),
            origin("https://mcp.tavily.com")
        );
    }

    // Rule 6: an empty allowlist meant any host.
    #[test]
    fn regression_cf6_empty_allowlist_meant_any_host() {
        let policy = QueryAuthPolicy::from_settings::<&str>(true, &[]).expect("valid");
        assert!(matches!(
            policy.check(&url("https://mcp.tavily.com/")),
            Err(QueryAuthError::EmptyAllowlist { .. })
        ));
    }

    // Rule 9: with the flag off, editing only the URL of an existing gateway was still
    // accepted (the "grandfather clause"). Here any URL is refused while the flag is off.
    #[test]
    fn regression_cf9_url_edit_was_grandfathered_while_the_flag_was_off() {
        let mut policy = allowing(&["https://mcp.tavily.com"]);
        policy.enabled = false;
        assert_eq!(
            policy.check(&url("https://mcp.tavily.com/v2")),
            Err(QueryAuthError::Disabled)
        );
        policy.enabled = true;
        assert!(policy.check(&url("https://elsewhere.example/v2")).is_err());
    }

    // Rule 11: `?tavilyApiKey=…` typed into the URL (auth "None") was stored and shown in
    // plaintext, bypassing every layer.
    #[test]
    fn regression_cf11_inline_key_in_the_url_bypassed_every_layer() {
        let typed = format!("https://mcp.tavily.com/mcp/?tavilyApiKey={SECRET}");
        let found = inline_secrets(&typed);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].value.expose(), SECRET);
        let (clean, _) = strip_inline_secrets(&typed).expect("parses");
        assert!(!clean.as_str().contains(SECRET));
    }

    // Rule 13: `parse_qs` + dict kept only the first of repeated params (`a=1&a=2` → `a=1`).
    #[test]
    fn regression_cf13_repeated_params_were_collapsed() {
        let after = with_key(&url("https://a.com/?a=1&a=2&tag=x&tag=y"), "k", &key("s"));
        assert_eq!(query(&after), "a=1&a=2&tag=x&tag=y&k=s");
    }

    // Rule 13: the override was case-sensitive, so `TavilyApiKey=old` and
    // `tavilyApiKey=new` were both sent.
    #[test]
    fn regression_cf13_case_variant_of_the_key_was_sent_twice() {
        let after = with_key(
            &url("https://mcp.tavily.com/?TavilyApiKey=old"),
            "tavilyApiKey",
            &key("new"),
        );
        assert_eq!(query(&after), "tavilyApiKey=new");
    }

    // Rule 13: `urlencode` re-encoded the whole query (`%20` → `+`, `/` → `%2F`, `flag` →
    // `flag=`).
    #[test]
    fn regression_cf13_query_was_reencoded() {
        let after = with_key(
            &url("https://a.com/?q=a%20b&path=/x/y&flag"),
            "k",
            &key("s"),
        );
        assert_eq!(query(&after), "q=a%20b&path=/x/y&flag&k=s");
    }

    // Rule 15: the flag and allowlist gated only create/update, so turning the flag off did
    // not stop existing gateways sending their keys. The check here is per request.
    #[test]
    fn regression_cf15_flag_was_only_checked_at_save_time() {
        let mut policy = allowing(&["https://mcp.tavily.com"]);
        let saved = url("https://mcp.tavily.com/mcp");
        assert!(policy.authorize(&saved, "k", &key(SECRET)).is_ok());
        policy.enabled = false;
        assert_eq!(
            policy.authorize(&saved, "k", &key(SECRET)),
            Err(QueryAuthError::Disabled)
        );
        policy.enabled = true;
        policy.allowed_origins.clear();
        assert!(policy.authorize(&saved, "k", &key(SECRET)).is_err());
    }

    // Rule 17: sensitive names matched exactly, so `x_api_key`, `client_secret`,
    // `refresh_token` and `sig` slipped through.
    #[test]
    fn regression_cf17_secret_names_matched_only_exactly() {
        for name in [
            "x_api_key",
            "client_secret",
            "refresh_token",
            "sig",
            "X-Amz-Signature",
        ] {
            assert_eq!(
                inline_secrets(&format!("https://a.com/?{name}=v")).len(),
                1,
                "{name}"
            );
        }
    }

    // Rule 19: at PR time a URL without a query was returned untouched, userinfo included.
    #[test]
    fn regression_cf19_userinfo_without_a_query_was_untouched() {
        let (clean, found) = strip_inline_secrets("https://user:pw@a.com/mcp").expect("parses");
        assert_eq!(clean.as_str(), "https://a.com/mcp");
        assert_eq!(found.len(), 1);
    }

    // Rule 20: the fragment was not looked at (`#access_token=xyz` passed through).
    #[test]
    fn regression_cf20_fragment_secret_was_not_caught() {
        let (clean, found) =
            strip_inline_secrets("https://a.com/cb#access_token=xyz&state=1").expect("parses");
        assert_eq!(
            found[0].kind,
            InlineSecretKind::FragmentParam {
                name: "access_token".into()
            }
        );
        assert_eq!(clean.as_str(), "https://a.com/cb#state=1");
    }

    // Rule 21: only `https?://` URLs were scanned; `ws://` ones were not.
    #[test]
    fn regression_cf21_ws_urls_were_not_scanned() {
        assert_eq!(inline_secrets("wss://a.com/mcp?token=xyz").len(), 1);
    }

    // "User asks": PR #5631's blocking finding (raw error text with `?apiKey=<secret>`
    // reaching clients and logs) and PR #3377 (full URLs in logs). Every refusal here names
    // origins only, never the URL that carried the key.
    #[test]
    fn regression_pr5631_error_text_carried_the_secret_url() {
        let policy = allowing(&["https://a.com"]);
        let off = QueryAuthPolicy {
            enabled: false,
            ..policy.clone()
        };
        let sse = url(&format!("https://a.com/{SECRET}/sse?apiKey={SECRET}"));
        let errors = [
            off.check(&sse),
            policy.check(&url(&format!("https://u:{SECRET}@a.com/?apiKey={SECRET}"))),
            policy.check(&url(&format!("http://b.com/{SECRET}?apiKey={SECRET}"))),
            allowing(&[]).check(&sse),
            policy.check(&url(&format!(
                "https://b.com/{SECRET}?apiKey={SECRET}#{SECRET}"
            ))),
            policy.check(&url(&format!("wss://b.com/?apiKey={SECRET}"))),
            resolve_endpoint(&sse, &format!("https://evil.com/{SECRET}?apiKey={SECRET}")).map(drop),
            resolve_endpoint(&sse, &format!("https://u:{SECRET}@a.com/")).map(drop),
        ];
        for error in errors {
            let message = error.expect_err("refused").to_string();
            assert!(!message.contains(SECRET), "{message}");
        }
    }

    // "User asks", #3857: query params were stripped, breaking signed URLs. Adding the key
    // must leave a signature's inputs exactly as signed.
    #[test]
    fn regression_issue3857_other_query_params_were_stripped() {
        let signed =
            "X-Amz-Date=20260101T000000Z&X-Amz-SignedHeaders=host&X-Amz-Signature=ab%2Fcd%3D";
        let after = with_key(
            &url(&format!("https://a.com/mcp?{signed}")),
            "apiKey",
            &key("s"),
        );
        assert_eq!(query(&after), format!("{signed}&apiKey=s"));
    }

    // "Where we can do better" §3: the key must not follow a redirect to another origin,
    // even when the server echoes the query into `Location`.
    #[test]
    fn regression_key_followed_a_cross_origin_redirect() {
        let from = url(&format!("https://a.com/mcp?apiKey={SECRET}"));
        let location = url(&format!("https://evil.com/mcp?apiKey={SECRET}&x=1"));
        assert!(!may_send_key_after_redirect(&from, &location));
        assert_eq!(
            without_key(&location, "apikey").as_str(),
            "https://evil.com/mcp?x=1"
        );
    }

    // --- properties ---

    const PARAM: &str = "api_key";

    /// A raw `name[=value]` segment whose name can never spell `api_key` in any case or
    /// encoding: no `%`, and none of the letters p, k, y.
    fn other_segment() -> impl Strategy<Value = String> {
        (
            "[a-jA-J0-9._~!$'()*,;:@/? +é-]{0,8}",
            proptest::option::of("[^&#]{0,10}"),
        )
            .prop_map(|(name, value)| match value {
                Some(value) => format!("{name}={value}"),
                None => name,
            })
    }

    /// `api_key` in random case, its `_` sometimes percent-encoded.
    fn key_name_variant() -> impl Strategy<Value = String> {
        (prop::collection::vec(any::<bool>(), 7), any::<bool>()).prop_map(
            |(upper, encode_underscore)| {
                PARAM
                    .chars()
                    .zip(upper)
                    .map(|(c, up)| match c {
                        '_' if encode_underscore => "%5F".to_owned(),
                        c if up => c.to_ascii_uppercase().to_string(),
                        c => c.to_string(),
                    })
                    .collect()
            },
        )
    }

    #[derive(Debug, Clone)]
    enum Segment {
        Other(String),
        Key(String),
    }

    proptest! {
        #[test]
        fn prop_with_key_keeps_other_params_and_adds_the_key_once(
            segments in prop::collection::vec(other_segment(), 0..8),
            secret in any::<String>(),
        ) {
            let before = url(&format!("https://a.com/p?{}#frag", segments.join("&")));
            let raw = before.query().unwrap_or("");
            let mut expected: Vec<&str> = raw.split('&').collect();
            if expected.last() == Some(&"") {
                expected.pop();
            }
            let after = with_key(&before, PARAM, &Sensitive::new(secret.clone()));
            let result: Vec<&str> = query(&after).split('&').collect();
            let (keys, others): (Vec<&str>, Vec<&str>) =
                result.iter().partition(|s| s.starts_with("api_key="));
            prop_assert_eq!(keys.len(), 1);
            prop_assert_eq!(others, expected);
            let values: Vec<String> = after
                .query_pairs()
                .filter(|(name, _)| name == PARAM)
                .map(|(_, value)| value.into_owned())
                .collect();
            prop_assert_eq!(values, vec![secret]);
            prop_assert_eq!(after.fragment(), Some("frag"));
            prop_assert_eq!(after.path(), "/p");
        }

        #[test]
        fn prop_with_key_replaces_every_variant_at_the_first_place(
            segments in prop::collection::vec(
                prop_oneof![
                    other_segment().prop_map(Segment::Other),
                    (key_name_variant(), "[^&#]{0,6}")
                        .prop_map(|(name, value)| Segment::Key(format!("{name}={value}"))),
                ],
                0..10,
            ),
        ) {
            let texts: Vec<&str> = segments
                .iter()
                .map(|s| match s {
                    Segment::Other(text) | Segment::Key(text) => text.as_str(),
                })
                .collect();
            let before = url(&format!("https://a.com/?{}", texts.join("&")));
            let raw: Vec<&str> = before.query().unwrap_or("").split('&').collect();
            prop_assert_eq!(raw.len(), segments.len().max(1));
            let mut expected: Vec<&str> = Vec::new();
            let mut placed = false;
            for (segment, raw) in segments.iter().zip(&raw) {
                match segment {
                    Segment::Key(_) if !placed => {
                        expected.push("api_key=s");
                        placed = true;
                    }
                    Segment::Key(_) => {}
                    Segment::Other(_) => expected.push(raw),
                }
            }
            if !placed {
                if expected.last() == Some(&"") {
                    expected.pop();
                }
                expected.push("api_key=s");
            }
            let after = with_key(&before, PARAM, &Sensitive::new("s".to_owned()));
            prop_assert_eq!(query(&after), expected.join("&"));
        }
    }
}
