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

use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_opener::Opener;
use url::Url;

/// The rule lives in core (every sign-in URL passes it there too); the shell applies it
/// again right before the URL leaves the app.
pub use switchboard_core::oauth::fetch::check_browser_url as check_sign_in_url;

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
