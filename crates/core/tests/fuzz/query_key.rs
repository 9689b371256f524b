//! `url_policy::query_key`: putting the key into a URL and taking it out again, the policy
//! check, the legacy endpoint and secrets typed into a URL. (The module's own proptests
//! cover `with_key` on a fixed parameter over a restricted alphabet; these take any query.)

use proptest::prelude::*;
use switchboard_core::secrets::Sensitive;
use switchboard_core::url_policy::query_key::{
    self, InlineSecretKind, QueryAuthError, QueryAuthPolicy, SECRET_NAME_PARTS,
};
use url::Url;

/// Whether a raw query segment's name, form-decoded, is `param` ignoring case.
fn names(segment: &str, param: &str) -> bool {
    let raw = segment.split('=').next().unwrap_or(segment);
    let decoded: String = url::form_urlencoded::parse(raw.as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
        .unwrap_or_default();
    !raw.is_empty() && decoded.to_lowercase() == param.to_lowercase()
}

fn segments(url: &Url) -> Vec<String> {
    url.query()
        .map(|q| q.split('&').map(str::to_owned).collect())
        .unwrap_or_default()
}

fn param() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_-]{0,10}"
}

/// A query that may name `param` in odd ways (any case, `%`-encoded letters, `+`), with
/// any other text around it.
fn query_with(param: String) -> impl Strategy<Value = String> {
    let spelled = (
        prop::collection::vec((any::<bool>(), any::<bool>()), 11),
        "[^&#]{0,6}",
    )
        .prop_map(move |(how, value)| {
            let name: String = param
                .chars()
                .zip(how.iter().cycle())
                .map(|(c, &(upper, encode))| {
                    let c = if upper {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    };
                    if encode {
                        format!("%{:02X}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect();
            format!("{name}={value}")
        });
    prop::collection::vec(prop_oneof![3 => "[^#]{0,12}", 1 => spelled], 0..6)
        .prop_map(|parts| parts.join("&"))
}

fn base_url() -> impl Strategy<Value = (Url, String)> {
    param().prop_flat_map(|param| {
        (
            prop::sample::select(vec!["https", "http", "wss", "foo"]),
            "[a-z]{1,6}\\.com(:[0-9]{1,4})?",
            "(/[^?#]{0,6}){0,2}",
            proptest::option::of(query_with(param.clone())),
            proptest::option::of("[^#]{0,8}"),
            Just(param),
        )
            .prop_filter_map("a URL", |(scheme, host, path, query, fragment, param)| {
                let query = query.map(|q| format!("?{q}")).unwrap_or_default();
                let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
                let url = Url::parse(&format!("{scheme}://{host}{path}{query}{fragment}")).ok()?;
                Some((url, param))
            })
    })
}

proptest! {
    #![proptest_config(crate::cases(512))]

    /// `with_key` keeps every other segment byte for byte and in order and adds the key
    /// once; `without_key` then leaves exactly the segments that are not the key, and
    /// taking the key out of a URL that has it or not gives the same URL.
    #[test]
    fn with_then_without_removes_only_the_key(
        (url, param) in base_url(),
        key in any::<String>(),
    ) {
        let others: Vec<String> = segments(&url)
            .into_iter()
            .filter(|s| !names(s, &param))
            .collect();
        let with = query_key::with_key(&url, &param, &Sensitive::new(key.clone()));
        let with_segments = segments(&with);
        let keys: Vec<&String> = with_segments.iter().filter(|s| names(s, &param)).collect();
        prop_assert_eq!(keys.len(), 1, "{}", with);
        let values: Vec<String> = with
            .query_pairs()
            .filter(|(n, _)| n.to_lowercase() == param.to_lowercase())
            .map(|(_, v)| v.into_owned())
            .collect();
        prop_assert_eq!(values, vec![key]);
        let mut kept: Vec<String> = with_segments.iter().filter(|s| !names(s, &param)).cloned().collect();
        // Appending to `?a&` fills the empty last segment instead of adding another.
        if others.last().is_some_and(String::is_empty) && kept.len() + 1 == others.len() {
            kept.push(String::new());
        }
        prop_assert_eq!(&kept, &others);

        let without = query_key::without_key(&with, &param);
        prop_assert!(!segments(&without).iter().any(|s| names(s, &param)), "{}", without);
        // The same as taking the key out of the original URL, but for an empty last
        // segment (`?`, `?a&`), which `with_key` fills with the key: empty segments,
        // which carry nothing, are not compared.
        let trimmed = |u: &Url| {
            let mut s = segments(u);
            s.retain(|s| !s.is_empty());
            s
        };
        prop_assert_eq!(trimmed(&without), trimmed(&query_key::without_key(&url, &param)));
        prop_assert_eq!(&query_key::without_key(&without, &param), &without);
        for u in [&with, &without] {
            prop_assert_eq!(
                (u.scheme(), u.host_str(), u.port(), u.path(), u.fragment()),
                (url.scheme(), url.host_str(), url.port(), url.path(), url.fragment())
            );
        }
    }
}

// --- the policy ---

/// Hosts, each with its normalised form and whether it is loopback.
const HOSTS: &[(&str, &str, bool)] = &[
    ("a.com", "a.com", false),
    ("A.Com.", "a.com", false),
    ("b.org", "b.org", false),
    ("a.com.evil.org", "a.com.evil.org", false),
    ("bücher.example", "xn--bcher-kva.example", false),
    ("xn--bcher-kva.example", "xn--bcher-kva.example", false),
    ("localhost", "localhost", true),
    ("LocalHost", "localhost", true),
    ("127.0.0.1", "127.0.0.1", true),
    ("127.9.8.7", "127.9.8.7", true),
    ("[::1]", "[::1]", true),
    ("10.0.0.1", "10.0.0.1", false),
];

#[derive(Debug, Clone)]
struct Target {
    scheme: &'static str,
    host: usize,
    port: Option<u16>,
}

impl Target {
    fn text(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("{}://{}{port}", self.scheme, HOSTS[self.host].0)
    }

    /// `//host[:port]`, a protocol-relative reference.
    fn without_scheme(&self) -> String {
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        format!("//{}{port}", HOSTS[self.host].0)
    }

    /// Scheme, normalised host and effective port.
    fn origin(&self) -> (&'static str, &'static str, u16) {
        let default = if self.scheme == "https" { 443 } else { 80 };
        (
            self.scheme,
            HOSTS[self.host].1,
            self.port.unwrap_or(default),
        )
    }
}

fn target(schemes: Vec<&'static str>) -> impl Strategy<Value = Target> {
    (
        prop::sample::select(schemes),
        0..HOSTS.len(),
        proptest::option::of(prop::sample::select(vec![80u16, 443, 8443, 3000])),
    )
        .prop_map(|(scheme, host, port)| Target { scheme, host, port })
}

proptest! {
    #![proptest_config(crate::cases(512))]

    /// `check` passes exactly when the flag is on, there is no userinfo, the URL is https
    /// (or http to loopback) and its normalised origin is on the allowlist; the first rule
    /// broken is the one reported, and no message carries the password, path or query.
    #[test]
    fn check_is_the_documented_rule(
        enabled in any::<bool>(),
        allowed in prop::collection::vec(target(vec!["https", "http"]), 0..4),
        url in target(vec!["https", "http", "ftp"]),
        userinfo in proptest::option::of("[a-z]{1,4}(:PASSw0rd[0-9]{2})?"),
        tail in "/PATHx[0-9]{0,3}(\\?q=QUERYx[0-9]{2})?",
    ) {
        let usable: Vec<&Target> = allowed
            .iter()
            .filter(|t| t.scheme == "https" || HOSTS[t.host].2)
            .collect();
        let entries: Vec<String> = usable.iter().map(|t| t.text()).collect();
        let policy = QueryAuthPolicy::from_settings(enabled, &entries).expect("usable entries");
        if usable.len() < allowed.len() {
            let all: Vec<String> = allowed.iter().map(Target::text).collect();
            let refused = matches!(
                QueryAuthPolicy::from_settings(enabled, &all),
                Err(QueryAuthError::InvalidAllowlistEntry { .. })
            );
            prop_assert!(refused, "{:?} accepted", all);
        }
        let base = url.text();
        let with_userinfo = match &userinfo {
            Some(u) => base.replacen("://", &format!("://{u}@"), 1),
            None => base.clone(),
        };
        let parsed = Url::parse(&format!("{with_userinfo}{tail}")).expect("a URL");
        let result = policy.check(&parsed);

        let loopback = HOSTS[url.host].2;
        let expected = if !enabled {
            "Disabled"
        } else if userinfo.is_some() {
            "Userinfo"
        } else if url.scheme == "ftp" {
            "UnsupportedUrl"
        } else if url.scheme != "https" && !loopback {
            "NotHttps"
        } else if usable.is_empty() {
            "EmptyAllowlist"
        } else if !usable.iter().any(|a| a.origin() == url.origin()) {
            "OriginNotAllowed"
        } else {
            "Ok"
        };
        let got = match &result {
            Ok(()) => "Ok",
            Err(QueryAuthError::Disabled) => "Disabled",
            Err(QueryAuthError::Userinfo { .. }) => "Userinfo",
            Err(QueryAuthError::UnsupportedUrl { .. }) => "UnsupportedUrl",
            Err(QueryAuthError::NotHttps { .. }) => "NotHttps",
            Err(QueryAuthError::EmptyAllowlist { .. }) => "EmptyAllowlist",
            Err(QueryAuthError::OriginNotAllowed { .. }) => "OriginNotAllowed",
            Err(other) => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
        };
        prop_assert_eq!(got, expected, "{} allowed {:?}", parsed, entries);
        if let Err(e) = &result {
            let shown = e.to_string();
            for marker in ["PASSw0rd", "PATHx", "QUERYx"] {
                prop_assert!(!shown.contains(marker), "{shown}");
            }
        }
        let key = Sensitive::new("k3y-VALUE".to_owned());
        match policy.authorize(&parsed, "api_key", &key) {
            Ok(out) => {
                prop_assert!(result.is_ok());
                prop_assert_eq!(out, query_key::with_key(&parsed, "api_key", &key));
            }
            Err(e) => prop_assert_eq!(Err(e), result),
        }
    }
}

// --- the legacy endpoint ---

proptest! {
    #![proptest_config(crate::cases(512))]

    /// `resolve_endpoint` gives what `Url::join` gives when that lands on the SSE URL's own
    /// origin without userinfo, and refuses everything else without echoing a path or query.
    #[test]
    fn endpoint_stays_on_the_origin(
        sse in target(vec!["https", "http"]),
        announced in prop_oneof![
            "(/|\\./|\\.\\./)?[a-zA-Z0-9/._%?=&#-]{0,16}",
            target(vec!["https", "http", "ftp"]).prop_map(|t| format!("{}/messagesPATHx?s=QUERYx", t.text())),
            target(vec!["https", "http"]).prop_map(|t| format!("{}/x", t.without_scheme())),
            target(vec!["https"]).prop_map(|t| t.text().replacen("://", "://u:PASSw0rd@", 1)),
            any::<String>(),
        ],
    ) {
        let sse_url = Url::parse(&format!("{}/sse?api_key=SECRETx", sse.text())).expect("URL");
        let result = query_key::resolve_endpoint(&sse_url, &announced);
        let joined = sse_url.join(&announced);
        let origin = |u: &Url| {
            let host = u.host_str().map(|h| h.trim_end_matches('.').to_owned());
            (u.scheme().to_owned(), host, u.port_or_known_default())
        };
        let fine = joined.as_ref().is_ok_and(|e| {
            origin(e) == origin(&sse_url) && e.username().is_empty() && e.password().is_none()
        });
        match &result {
            Ok(endpoint) => {
                prop_assert!(fine, "{announced:?} → {endpoint}");
                prop_assert_eq!(Some(endpoint), joined.as_ref().ok());
            }
            Err(e) => {
                prop_assert!(!fine, "{announced:?} refused: {e}");
                let shown = e.to_string();
                for marker in ["PASSw0rd", "PATHx", "QUERYx", "SECRETx"] {
                    prop_assert!(!shown.contains(marker), "{shown}");
                }
            }
        }
    }
}

// --- secrets typed into a URL ---

fn secret_param_name() -> impl Strategy<Value = String> {
    (
        "[a-z]{0,3}",
        prop::sample::select(SECRET_NAME_PARTS),
        "[A-Za-z_]{0,3}",
        any::<bool>(),
    )
        .prop_map(|(pre, part, post, upper)| {
            let name = format!("{pre}{part}{post}");
            if upper { name.to_uppercase() } else { name }
        })
}

#[derive(Debug, Clone)]
enum Pair {
    Secret(String, String),
    Other(String),
}

fn pairs() -> impl Strategy<Value = Vec<Pair>> {
    prop::collection::vec(
        prop_oneof![
            (secret_param_name(), "S3cr3t[0-9]{4,8}").prop_map(|(n, v)| Pair::Secret(n, v)),
            // Names built from letters that spell none of the secret parts.
            "[bcfgmnqvxz]{1,4}(=[a-z0-9 ._~-]{0,6})?".prop_map(Pair::Other),
        ],
        0..5,
    )
}

fn render(pairs: &[Pair]) -> String {
    pairs
        .iter()
        .map(|p| match p {
            Pair::Secret(n, v) => format!("{n}={v}"),
            Pair::Other(raw) => raw.replace(' ', "+"),
        })
        .collect::<Vec<_>>()
        .join("&")
}

proptest! {
    #![proptest_config(crate::cases(512))]

    /// Every secret-looking parameter (query or fragment) and the userinfo are found, with
    /// their values, and removed; the other parameters stay byte for byte; the stripped URL
    /// has nothing left to find; no `Debug` shows a value. Any text never panics.
    #[test]
    fn inline_secrets_are_found_and_stripped(
        scheme in prop::sample::select(vec!["https", "http", "wss"]),
        userinfo in proptest::option::of("[a-z]{1,4}(:S3cr3tPW[0-9]{2})?"),
        query in pairs(),
        fragment in pairs(),
        noise in any::<String>(),
    ) {
        let _ = query_key::inline_secrets(&noise);
        let at = userinfo.as_ref().map(|u| format!("{u}@")).unwrap_or_default();
        let text = format!("{scheme}://{at}mcp.example.com/p?{}#{}", render(&query), render(&fragment));
        let (stripped, found) = query_key::strip_inline_secrets(&text).expect("a URL");

        let mut want: Vec<String> = userinfo.iter().cloned().collect();
        for pairs in [&query, &fragment] {
            want.extend(pairs.iter().filter_map(|p| match p {
                Pair::Secret(_, v) => Some(v.clone()),
                Pair::Other(_) => None,
            }));
        }
        let got: Vec<String> = found.iter().map(|s| s.value.expose().clone()).collect();
        prop_assert_eq!(&got, &want);
        prop_assert!(query_key::inline_secrets(stripped.as_str()).is_empty(), "{}", stripped);
        prop_assert!(!stripped.as_str().contains("S3cr3t"), "{}", stripped);
        let debug = format!("{found:?}");
        prop_assert!(!debug.contains("S3cr3t"), "{debug}");
        let mut names: Vec<&str> = found.iter().map(|s| s.suggested_secret_name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        prop_assert_eq!(names.len(), found.len(), "suggested names are unique");
        for s in &found {
            if let InlineSecretKind::Param { name } | InlineSecretKind::FragmentParam { name } = &s.kind {
                prop_assert!(query_key::looks_secret(name));
            }
        }

        let others = |pairs: &[Pair]| -> Vec<String> {
            pairs
                .iter()
                .filter_map(|p| match p {
                    Pair::Other(raw) => Some(raw.replace(' ', "+")),
                    Pair::Secret(..) => None,
                })
                .collect()
        };
        let original = Url::parse(&text).expect("a URL");
        let split = |s: Option<&str>| -> Vec<String> {
            s.map(|s| s.split('&').map(str::to_owned).collect()).unwrap_or_default()
        };
        let secretless = |pairs: &[Pair]| pairs.iter().all(|p| matches!(p, Pair::Other(_)));
        // Untouched when there was nothing to take; otherwise exactly the other pairs.
        for (pairs, before, after) in [
            (&query, original.query(), stripped.query()),
            (&fragment, original.fragment(), stripped.fragment()),
        ] {
            if secretless(pairs) {
                prop_assert_eq!(after, before);
            } else {
                prop_assert_eq!(split(after), others(pairs));
            }
        }
    }
}
