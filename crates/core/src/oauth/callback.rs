//! The redirect's landing place (RFC 8252 §7.3): a listener on `127.0.0.1` with a port of
//! its own, for one sign-in. It takes the first `GET /callback`, answers a small page that
//! says to go back to the app, and closes. Anything else (a favicon request) gets 404.

use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::OAuthError;

/// The path the redirect comes back to.
const CALLBACK_PATH: &str = "/callback";
/// The most of one request read.
const REQUEST_LIMIT: usize = 16 * 1024;

/// A listening redirect endpoint.
pub struct Callback {
    listener: TcpListener,
    redirect_uri: String,
}

impl Callback {
    /// Listens on `127.0.0.1:<port>`; port 0 picks a free one.
    pub async fn bind(port: u16) -> Result<Callback, OAuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            OAuthError::Failed(format!("cannot listen for the sign-in's redirect: {e}"))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| OAuthError::Failed(e.to_string()))?
            .port();
        Ok(Callback {
            listener,
            redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}"),
        })
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits (at most `timeout`) for the redirect and returns its query parameters.
    pub async fn wait(self, timeout: Duration) -> Result<HashMap<String, String>, OAuthError> {
        tokio::time::timeout(timeout, self.accept_callback())
            .await
            .map_err(|_| {
                OAuthError::Failed(format!(
                    "no answer from the browser within {} minutes; sign in again",
                    timeout.as_secs() / 60
                ))
            })?
    }

    async fn accept_callback(self) -> Result<HashMap<String, String>, OAuthError> {
        loop {
            let (mut stream, _) =
                self.listener.accept().await.map_err(|e| {
                    OAuthError::Failed(format!("the redirect listener failed: {e}"))
                })?;
            // One slow or silent connection must not hold the sign-in.
            let read = tokio::time::timeout(Duration::from_secs(10), read_head(&mut stream)).await;
            let Ok(Some(target)) = read else { continue };
            let Some(query) = target
                .strip_prefix(CALLBACK_PATH)
                .filter(|rest| rest.is_empty() || rest.starts_with('?'))
                .map(|rest| rest.trim_start_matches('?'))
            else {
                let _ = respond(&mut stream, "404 Not Found", "Not found.").await;
                continue;
            };
            let params: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let page = if params.contains_key("code") {
                "You are signed in. You can close this tab and return to Switchboard."
            } else {
                "Sign-in did not complete. Return to Switchboard to see why."
            };
            let _ = respond(&mut stream, "200 OK", page).await;
            return Ok(params);
        }
    }
}

/// The request target of a `GET`, or `None` for anything else.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() + n > REQUEST_LIMIT {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = std::str::from_utf8(&buf).ok()?;
    let mut parts = head.lines().next()?.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(target)) => Some(target.to_owned()),
        _ => None,
    }
}

async fn respond(stream: &mut TcpStream, status: &str, message: &str) -> std::io::Result<()> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Switchboard</title></head>\
         <body style=\"font-family: sans-serif; margin: 3em\"><h1>Switchboard</h1><p>{message}</p></body></html>"
    );
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nreferrer-policy: no-referrer\r\n\
         content-security-policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn takes_the_first_callback_and_ignores_other_paths() {
        let callback = Callback::bind(0).await.expect("bind");
        let uri = callback.redirect_uri().to_owned();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with("/callback"));
        let port: u16 = uri
            .trim_start_matches("http://127.0.0.1:")
            .trim_end_matches("/callback")
            .parse()
            .expect("a port");
        let waiting = tokio::spawn(callback.wait(Duration::from_secs(10)));
        let get = |path: &'static str| async move {
            let mut s = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
                .await
                .expect("write");
            let mut out = String::new();
            s.read_to_string(&mut out).await.expect("read");
            out
        };
        assert!(get("/favicon.ico").await.starts_with("HTTP/1.1 404"));
        let page = get("/callback?code=abc&state=s%20t&iss=https%3A%2F%2Fas").await;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("return to Switchboard"));
        let params = waiting.await.expect("join").expect("params");
        assert_eq!(params["code"], "abc");
        assert_eq!(params["state"], "s t");
        assert_eq!(params["iss"], "https://as");
    }
}
