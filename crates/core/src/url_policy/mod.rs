//! What may be sent where: pure rules about URLs and origins, no I/O.
//!
//! - [`origin`]: one normalised [`Origin`] type for both allowlists.
//! - [`query_key`]: the query-parameter key policy (flag, allowlist, injection, redirects,
//!   legacy endpoints) and inline-secret detection.
//! - [`validate_url`]: a remote server's URL as the user typed it.
//!
//! A leaf below `config` and `upstream`: checking a config needs no HTTP client.

pub mod origin;
pub mod query_key;

pub use origin::{Origin, OriginError};

use url::Url;

/// Checks a remote server's URL as entered: http(s), no userinfo, no secret-looking
/// parameters (those belong in the keychain).
pub fn validate_url(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("\"url\" is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "\"url\" must be http or https, not {}",
            url.scheme()
        ));
    }
    let inline = query_key::inline_secrets(text);
    if !inline.is_empty() {
        let names: Vec<String> = inline
            .iter()
            .map(|s| s.suggested_secret_name.clone())
            .collect();
        return Err(format!(
            "\"url\" carries a credential ({}); move it into the keychain with `switchboard secret set NAME` and reference it from \"auth\" instead",
            names.join(", ")
        ));
    }
    Ok(url)
}

/// A credential (a bearer token, a header secret, a password, a key) may cross the network
/// only inside TLS: plain `http` is allowed for loopback hosts only. The error says why and
/// what to do.
pub fn check_credential_transport(url: &Url) -> Result<(), String> {
    if url.scheme() == "https" {
        return Ok(());
    }
    match Origin::of(url) {
        Some(origin) if origin.is_loopback() => Ok(()),
        Some(origin) => Err(format!(
            "will not send a credential to {origin} over plain http, where anyone on the network path can read it; use https (plain http is allowed only for loopback: 127.0.0.0/8, [::1], localhost)"
        )),
        None => Err(format!(
            "a `{}:` URL cannot carry a credential",
            url.scheme()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_travel_over_tls_or_stay_on_this_machine() {
        let url = |u: &str| Url::parse(u).expect("a URL");
        for ok in [
            "https://mcp.example.com/mcp",
            "http://127.0.0.1:8080/mcp",
            "http://127.1.2.3/mcp",
            "http://[::1]:9/mcp",
            "http://localhost/mcp",
            "http://LOCALHOST./mcp",
        ] {
            assert!(check_credential_transport(&url(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "http://mcp.example.com/mcp",
            "http://10.0.0.1/mcp",
            "http://localhost.example.com/mcp",
        ] {
            let err = check_credential_transport(&url(bad)).expect_err(bad);
            assert!(err.contains("use https"), "{err}");
        }
    }
}
