//! The HTTP side of OAuth: bounded JSON fetches and form posts, with the rule on which URLs
//! a server may send Switchboard to (discovery follows URLs the server names, so this is
//! where server-side request forgery is stopped).

use std::time::Duration;

use base64::Engine;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::OAuthError;
use crate::sensitive::Sensitive;
use crate::url_policy::Origin;

/// The largest metadata document or token answer read.
const BODY_LIMIT: usize = 256 * 1024;
/// One discovery or token request, whole.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Which URLs OAuth may fetch, and the HTTP client it fetches them with.
#[derive(Clone)]
pub struct OAuthHttp {
    client: reqwest::Client,
    /// Loopback URLs are fetched only for a server that is itself on loopback: a remote
    /// server must not turn discovery into requests to this machine's own services.
    allow_loopback: bool,
}

impl OAuthHttp {
    /// `client` carries the caller's proxy policy; redirects must be off (each URL is
    /// checked here, and a redirect would skip the check).
    pub fn new(client: reqwest::Client, server_url: &Url) -> OAuthHttp {
        OAuthHttp {
            client,
            allow_loopback: Origin::of(server_url).is_some_and(|o| o.is_loopback()),
        }
    }

    /// An HTTP client for OAuth requests: no redirects, bounded connect time, the proxy
    /// `proxy` (the caller's policy: loopback never through one).
    pub fn client_with(proxy: reqwest::Proxy) -> reqwest::Client {
        reqwest::Client::builder()
            .proxy(proxy)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(15))
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap_or_default()
    }

    /// Whether `url` may be fetched (or shown to a person as a place to sign in): `https`,
    /// or plain `http` on loopback, and loopback only for a loopback server.
    pub fn check(&self, url: &Url, what: &str) -> Result<(), OAuthError> {
        let loopback = Origin::of(url).is_some_and(|o| o.is_loopback());
        match url.scheme() {
            "https" if !loopback || self.allow_loopback => Ok(()),
            "http" if loopback && self.allow_loopback => Ok(()),
            "https" | "http" if loopback => Err(OAuthError::Refused(format!(
                "the {what} ({}) is on this machine, but the server is not; refused",
                host_of(url)
            ))),
            "http" => Err(OAuthError::Refused(format!(
                "the {what} ({}) is plain http; only https is accepted (or http on loopback)",
                host_of(url)
            ))),
            other => Err(OAuthError::Refused(format!(
                "the {what} is a `{other}:` URL; only https is accepted"
            ))),
        }
    }

    /// GETs a JSON document: `Ok(None)` when the server has none there (any 4xx), an error
    /// when it cannot be reached or answers something that is not a JSON object.
    pub async fn get_json(&self, url: &Url, what: &str) -> Result<Option<Value>, OAuthError> {
        self.check(url, what)?;
        let response = self
            .client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| unreachable(url, &e))?;
        let status = response.status();
        if status.is_client_error() || status.is_redirection() {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(OAuthError::Failed(format!(
                "{} answered HTTP {} for the {what}",
                host_of(url),
                status.as_u16()
            )));
        }
        let body = read_limited(response).await?;
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ Value::Object(_)) => Ok(Some(value)),
            _ => Err(OAuthError::Failed(format!(
                "the {what} at {} is not a JSON object",
                host_of(url)
            ))),
        }
    }

    /// POSTs a form (a token request), with HTTP Basic client authentication if given.
    /// Returns the status and the JSON object answered (an empty one if the body is not).
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
        basic: Option<(&str, &Sensitive<String>)>,
    ) -> Result<(StatusCode, Value), OAuthError> {
        self.check(url, "token endpoint")?;
        let mut request = self
            .client
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .form(form);
        if let Some((id, secret)) = basic {
            // RFC 6749 §2.3.1: both parts form-urlencoded before base64.
            let pair = format!("{}:{}", form_encode(id), form_encode(secret.expose()));
            let encoded = Sensitive::new(base64::engine::general_purpose::STANDARD.encode(pair));
            crate::redact::global().register_secret(&encoded);
            let mut value =
                reqwest::header::HeaderValue::from_str(&format!("Basic {}", encoded.expose()))
                    .map_err(|_| {
                        OAuthError::Failed("the client secret is not valid in a header".into())
                    })?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        self.send_for_json(request, url).await
    }

    /// POSTs a JSON body (dynamic client registration).
    pub async fn post_json(
        &self,
        url: &Url,
        body: &Value,
        what: &str,
    ) -> Result<(StatusCode, Value), OAuthError> {
        self.check(url, what)?;
        let request = self
            .client
            .post(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .json(body);
        self.send_for_json(request, url).await
    }

    /// The server's answer to an unauthenticated MCP request: its status and the Bearer
    /// challenge, if it sent one. This is how sign-in learns where to go.
    pub async fn probe(
        &self,
        url: &Url,
        body: &'static str,
    ) -> Result<(StatusCode, Vec<String>), OAuthError> {
        self.check(url, "server URL")?;
        let response = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(
                reqwest::header::ACCEPT,
                "application/json, text/event-stream",
            )
            .header(
                crate::oauth::PROTOCOL_VERSION_HEADER,
                crate::oauth::PROBE_VERSION,
            )
            .body(body)
            .send()
            .await
            .map_err(|e| unreachable(url, &e))?;
        let challenges = response
            .headers()
            .get_all(reqwest::header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        Ok((response.status(), challenges))
    }

    async fn send_for_json(
        &self,
        request: reqwest::RequestBuilder,
        url: &Url,
    ) -> Result<(StatusCode, Value), OAuthError> {
        let response = request.send().await.map_err(|e| unreachable(url, &e))?;
        let status = response.status();
        let body = read_limited(response).await?;
        let value = serde_json::from_slice::<Value>(&body)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        Ok((status, value))
    }
}

/// Whether `url` may be opened in a browser for a sign-in: `https` anywhere, or `http` to
/// this computer (127.0.0.0/8, `[::1]`, `localhost`). Anything else (`javascript:`,
/// `file:`, a custom scheme, plain `http` over the network) is refused with the reason.
pub fn check_browser_url(url: &Url) -> Result<(), String> {
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

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn read_limited(response: reqwest::Response) -> Result<Vec<u8>, OAuthError> {
    let host = response.url().host_str().unwrap_or("the server").to_owned();
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            OAuthError::Failed(format!("{host} broke off its answer: {}", error_chain(&e)))
        })?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(OAuthError::Failed(format!(
                "{host} answered more than {} KiB; refused",
                BODY_LIMIT / 1024
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The host (and port) of a URL, which is what a person needs to see: never the path or
/// query, which may carry a code or a state.
pub fn host_of(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "the server".to_owned(),
    }
}

fn unreachable(url: &Url, e: &reqwest::Error) -> OAuthError {
    OAuthError::Unreachable(format!("cannot reach {}: {}", host_of(url), error_chain(e)))
}

/// An error and its causes, without the URL reqwest puts in its own text.
fn error_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        parts.push(cause.to_string());
        source = cause.source();
    }
    if parts.is_empty() {
        if e.is_timeout() {
            return "timed out".to_owned();
        }
        return "the request failed".to_owned();
    }
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_for(server: &str) -> OAuthHttp {
        OAuthHttp::new(reqwest::Client::new(), &Url::parse(server).expect("a URL"))
    }

    fn allowed(http: &OAuthHttp, url: &str) -> bool {
        http.check(&Url::parse(url).expect("a URL"), "test URL")
            .is_ok()
    }

    /// A remote server cannot send discovery (or the browser) to this machine, to plain
    /// http, or to another scheme; a loopback server (a local test or tool) may use
    /// loopback http.
    #[test]
    fn discovery_goes_only_to_https_and_to_loopback_only_for_a_loopback_server() {
        let remote = http_for("https://mcp.example.com/mcp");
        assert!(allowed(&remote, "https://auth.example.com/.well-known/x"));
        for refused in [
            "http://auth.example.com/token",
            "https://127.0.0.1:8443/admin",
            "http://localhost:9000/",
            "https://[::1]/x",
            "javascript:alert(1)",
            "file:///etc/passwd",
        ] {
            assert!(!allowed(&remote, refused), "{refused}");
        }
        let local = http_for("http://127.0.0.1:7000/mcp");
        assert!(allowed(&local, "http://127.0.0.1:7001/as/token"));
        assert!(allowed(&local, "https://auth.example.com/authorize"));
        assert!(!allowed(&local, "http://auth.example.com/authorize"));
        assert!(!allowed(&local, "javascript:alert(1)"));
    }
}
