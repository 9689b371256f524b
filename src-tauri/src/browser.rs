//! Opening an OAuth sign-in page in the person's browser.
//!
//! Core already checked the authorization URL (`https`, or `http` on loopback for a loopback
//! server); the shell checks again right before handing it to the system, since this is the
//! one place where a URL leaves the app for another program. The browser is opened by
//! `tauri-plugin-opener`'s Rust API, never from the webview (no capability grants an
//! `opener:` permission) and never through a shell: on Linux it runs `xdg-open` (then `gio
//! open`, `gnome-open`, `kde-open…` if that one is missing or fails) with the URL as one argv
//! element. Failing to open is not an error of the sign-in: the window shows the address to
//! copy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_opener::Opener;
use url::{Host, Url};

/// Whether `url` may be opened in a browser for a sign-in: `https` anywhere, or `http` to
/// this computer (127.0.0.0/8, `[::1]`, `localhost`). Anything else (`javascript:`,
/// `file:`, a custom scheme, plain `http` over the network) is refused with the reason.
pub fn check_sign_in_url(url: &Url) -> Result<(), String> {
    match url.scheme() {
        // A special scheme: the URL parser already refused one without a host.
        "https" => Ok(()),
        "http" if url.host().is_some_and(|host| is_loopback(&host)) => Ok(()),
        "http" => Err(format!(
            "refusing to open the sign-in page {}: plain http is allowed only on this computer (127.0.0.1, [::1], localhost); it must be https",
            origin_of(url)
        )),
        scheme => Err(format!(
            "refusing to open a sign-in page with the scheme '{scheme}:'; only https (or http on this computer) is opened"
        )),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback() || is_mapped_loopback(ip),
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
    }
}

/// `[::ffff:127.0.0.1]`: an IPv4 loopback address written as IPv6.
fn is_mapped_loopback(ip: &Ipv6Addr) -> bool {
    ip.to_ipv4_mapped()
        .is_some_and(|v4: Ipv4Addr| IpAddr::V4(v4).is_loopback())
}

/// `scheme://host:port`, for messages: the path and query may carry the sign-in's state.
fn origin_of(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// Checks `url` and hands it to the system's browser opener. Blocks for a moment (the
/// opener waits briefly to see whether a launcher failed), so call it off the async
/// threads. Without the opener plugin (the tests' mock runtime) nothing is opened.
pub fn open<R: Runtime>(app: &AppHandle<R>, url: &Url) -> Result<(), String> {
    check_sign_in_url(url)?;
    let opener = app
        .try_state::<Opener<R>>()
        .ok_or_else(|| "no browser opener in this app".to_owned())?;
    opener
        .open_url(url.as_str(), None::<&str>)
        .map_err(|e| format!("cannot open the browser: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str) -> Result<(), String> {
        check_sign_in_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn https_and_loopback_http_are_opened() {
        for url in [
            "https://auth.example.com/authorize?client_id=x&state=y",
            "https://127.0.0.1:8443/as/authorize",
            "http://127.0.0.1:41234/as/authorize?x=1",
            "http://127.8.9.10/authorize",
            "http://[::1]:9000/authorize",
            "http://[::ffff:127.0.0.1]:9000/authorize",
            "http://localhost:3000/authorize",
            "http://LOCALHOST/authorize",
        ] {
            assert_eq!(check(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn everything_else_is_refused_with_the_reason() {
        for (url, why) in [
            ("javascript:alert(1)", "scheme 'javascript:'"),
            ("file:///etc/passwd", "scheme 'file:'"),
            ("data:text/html,hi", "scheme 'data:'"),
            ("vscode://open?x", "scheme 'vscode:'"),
            ("ftp://example.com/x", "scheme 'ftp:'"),
            ("http://example.com/authorize", "http://example.com"),
            ("http://10.0.0.1/authorize", "plain http is allowed only"),
            (
                "http://localhost.example.com/",
                "plain http is allowed only",
            ),
            ("http://[::2]/authorize", "plain http is allowed only"),
        ] {
            let error = check(url).expect_err(url);
            assert!(error.contains(why), "{url}: {error}");
            assert!(error.starts_with("refusing to open"), "{url}: {error}");
        }
    }

    #[test]
    fn a_refusal_names_the_origin_only() {
        let error = check("http://example.com/authorize?state=secret-state").unwrap_err();
        assert!(!error.contains("secret-state"), "{error}");
        assert!(!error.contains("/authorize"), "{error}");
    }
}
