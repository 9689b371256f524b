//! Remote MCP servers ("gateways"): each downstream session gets its own upstream session
//! (an [`mcp::client::Client`]), with the credential the config names injected into every
//! request.
//!
//! - The IDE's own credentials are never forwarded: upstream requests are built from
//!   scratch, with only the configured headers.
//! - Secret values are read from the keychain when the connection is made.
//! - Query-parameter keys pass [`query_auth`]'s policy on *every* request and are added to
//!   the URL only then; redirects to another origin are never followed.
//! - Errors that reach a client say what happened (status, cause) but never carry the
//!   upstream's own error body or a URL with a key in it.
//!
//! **Layering:** this module knows the config, the secrets and the protocol client, never
//! the relay: what the upstream sends reaches the session through [`Inbound`].

use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use crate::config::{OAuthGrant, RemoteTransport, ServerConfig, UpstreamAuth, ValueSource};
use crate::error::{Error, Result};
use crate::mcp::client::{self, Client, Inbound};
use crate::oauth::{self, Authorizer, OAuthError};
use crate::redact;
use crate::secrets::{Resolver, Sensitive};
use crate::url_policy;
use crate::url_policy::query_key::{self as query_auth, QueryAuthPolicy};

pub use crate::mcp::client::SendFailure;

/// A remote server as configured.
pub struct RemoteServer {
    endpoint: Arc<client::Endpoint>,
    sends_credentials: bool,
    headers: Vec<(String, ValueSource)>,
    auth: UpstreamAuth,
    policy: Arc<RwLock<QueryAuthPolicy>>,
    /// For `auth.type: oauth`: the server's token source, shared by its sessions.
    oauth: Option<Arc<Authorizer>>,
}

impl RemoteServer {
    /// `None` for a stdio server. The URL was validated when the config was loaded.
    /// `on_change` hears every change of an OAuth server's sign-in state.
    pub fn from_config(
        name: &Arc<str>,
        config: &ServerConfig,
        policy: Arc<RwLock<QueryAuthPolicy>>,
        max_message_bytes: usize,
        secrets: &Resolver,
        on_change: Arc<dyn Fn() + Send + Sync>,
    ) -> Option<RemoteServer> {
        let url = Url::parse(config.url.as_deref()?).ok()?;
        let oauth = match &config.auth {
            UpstreamAuth::Oauth {
                client_id,
                client_secret,
                client_key,
                client_metadata_url,
                scope,
                grant,
            } => {
                let ctx = oauth::Context {
                    server: name.to_string(),
                    server_url: url.clone(),
                    http: oauth::OAuthHttp::new(
                        oauth::OAuthHttp::client_with(proxy_policy(
                            true,
                            &ProxyEnv::from_process(),
                        )),
                        &url,
                    ),
                    store: oauth::TokenStore::new(secrets.store().cloned()),
                };
                let settings = oauth::Settings {
                    client_id: client_id.clone(),
                    client_secret: None,
                    client_key: None,
                    client_metadata_url: client_metadata_url
                        .as_deref()
                        .and_then(|u| Url::parse(u).ok()),
                    scope: scope.clone(),
                    grant: match grant {
                        OAuthGrant::AuthorizationCode => oauth::Grant::AuthorizationCode,
                        OAuthGrant::ClientCredentials => oauth::Grant::ClientCredentials,
                    },
                };
                Some(Authorizer::new(
                    ctx,
                    settings,
                    client_secret.clone(),
                    client_key.clone(),
                    secrets.clone(),
                    on_change,
                ))
            }
            _ => None,
        };
        Some(RemoteServer {
            endpoint: Arc::new(client::Endpoint {
                name: name.clone(),
                url,
                transport: match config.transport {
                    RemoteTransport::Auto => client::Transport::Auto,
                    RemoteTransport::StreamableHttp => client::Transport::StreamableHttp,
                    RemoteTransport::Sse => client::Transport::Sse,
                },
                http: http_client(config.sends_credentials()),
                max_message_bytes,
                // A remote server's error body may echo a credential: never passed on.
                keeps_error_bodies: false,
                // The spec's order: `server/discover` first; the legacy transport has no
                // stateless era to ask about.
                eras: match config.transport {
                    RemoteTransport::Sse => client::EraProbe::session_only(),
                    _ => client::EraProbe::probe(),
                },
            }),
            sends_credentials: config.sends_credentials(),
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            auth: config.auth.clone(),
            policy,
            oauth,
        })
    }

    /// Which protocol eras the remote server speaks, once a session asked it
    /// (`server/discover` first): for status and `switchboard test`.
    pub fn eras(&self) -> Option<&'static str> {
        match self.endpoint.eras.found()? {
            Some(_) => Some("2026-07-28 (session-era clients carried statelessly)"),
            None => Some("session era only (2026-07-28 clients over a kept session)"),
        }
    }

    /// The sign-in of an OAuth server.
    pub fn authorizer(&self) -> Option<&Arc<Authorizer>> {
        self.oauth.as_ref()
    }

    /// Opens a client session for one downstream session: credentials are read from the
    /// keychain now; nothing is sent until the first message.
    pub async fn connect(
        &self,
        secrets: &Resolver,
        inbound: Weak<dyn Inbound>,
    ) -> Result<Arc<Client>> {
        let credentials = self.credentials(secrets).await?;
        Ok(Client::new(
            self.endpoint.clone(),
            Arc::new(credentials),
            inbound,
        ))
    }

    /// Reads the credential from the keychain (now, at connection time).
    async fn credentials(&self, secrets: &Resolver) -> Result<UpstreamCredentials> {
        let server = self.endpoint.name.as_ref();
        // Checked again here, not only when the server was saved: a config edited by hand,
        // or saved by an older version, does not get to send a credential in clear.
        if self.sends_credentials {
            crate::url_policy::check_credential_transport(&self.endpoint.url)
                .map_err(|message| self.error(message))?;
        }
        let mut headers = HeaderMap::new();
        let mut query = None;
        let header = |name: &str, value: &Sensitive<String>| -> Result<(HeaderName, HeaderValue)> {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| self.error(format!("'{name}' is not a valid header name")))?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                self.error(format!(
                    "the value of header '{name}' is not valid in a header"
                ))
            })?;
            value.set_sensitive(true);
            Ok((name, value))
        };
        for (name, source) in &self.headers {
            let (name, value) = header(name, &secrets.value(server, source).await?)?;
            headers.insert(name, value);
        }
        match &self.auth {
            UpstreamAuth::None => {}
            UpstreamAuth::Bearer { secret } => {
                let token = secrets.secret(server, secret).await?;
                let (name, value) = header(
                    "authorization",
                    &Sensitive::new(format!("Bearer {}", token.expose())),
                )?;
                headers.insert(name, value);
            }
            UpstreamAuth::Headers { headers: extra } => {
                for (name, source) in extra {
                    let (name, value) = header(name, &secrets.value(server, source).await?)?;
                    headers.insert(name, value);
                }
            }
            UpstreamAuth::Basic { username, secret } => {
                let password = secrets.secret(server, secret).await?;
                let encoded = Sensitive::new(
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{}", password.expose())),
                );
                redact::global().register_secret(&encoded);
                let (name, value) = header(
                    "authorization",
                    &Sensitive::new(format!("Basic {}", encoded.expose())),
                )?;
                headers.insert(name, value);
            }
            UpstreamAuth::Query { param, secret } => {
                redact::global().register_param_name(param);
                query = Some((param.clone(), secrets.secret(server, secret).await?));
            }
            // The token is asked for at every request (it changes): see `authorization`.
            UpstreamAuth::Oauth { .. } => {}
        }
        Ok(UpstreamCredentials {
            headers,
            query,
            policy: self.policy.clone(),
            oauth: self.oauth.clone(),
        })
    }

    fn error(&self, message: String) -> Error {
        Error::Upstream {
            server: self.endpoint.name.to_string(),
            message,
        }
    }
}

/// Same-origin redirects only: a credential never follows a redirect to another origin.
/// Proxies by [`proxy_policy`].
fn http_client(sends_credentials: bool) -> reqwest::Client {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().cloned();
        let same_origin = first
            .is_some_and(|first| query_auth::may_send_key_after_redirect(&first, attempt.url()));
        if same_origin && attempt.previous().len() < 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .proxy(proxy_policy(sends_credentials, &ProxyEnv::from_process()))
        .redirect(policy)
        .connect_timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_default()
}

/// The proxies the environment names (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, their
/// lowercase forms, and `NO_PROXY`), read once per server.
#[derive(Debug, Clone, Default)]
struct ProxyEnv {
    https: Option<Url>,
    http: Option<Url>,
    /// `NO_PROXY` entries, lowercased, without a leading dot: `*`, a domain (which covers
    /// its subdomains too), or an IP address.
    no_proxy: Vec<String>,
}

impl ProxyEnv {
    fn from_process() -> ProxyEnv {
        let first = |names: &[&str]| {
            names
                .iter()
                .filter_map(|n| std::env::var(n).ok())
                .find(|v| !v.trim().is_empty())
                .and_then(|v| Url::parse(v.trim()).ok())
        };
        ProxyEnv {
            https: first(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]),
            http: first(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]),
            no_proxy: ["NO_PROXY", "no_proxy"]
                .iter()
                .find_map(|n| std::env::var(n).ok())
                .map(|list| parse_no_proxy(&list))
                .unwrap_or_default(),
        }
    }

    /// Whether `NO_PROXY` sends requests to `host` direct.
    fn bypasses(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        self.no_proxy
            .iter()
            .any(|entry| entry == "*" || entry == host || host.ends_with(&format!(".{entry}")))
    }
}

fn parse_no_proxy(list: &str) -> Vec<String> {
    list.split(',')
        // `.example.com` and `example.com` both cover example.com and its subdomains.
        .map(|e| {
            e.trim()
                .trim_end_matches('.')
                .trim_start_matches('.')
                .to_ascii_lowercase()
        })
        // A port in an entry is ignored, as most tools do.
        .map(|e| match e.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => {
                host.to_owned()
            }
            _ => e,
        })
        .filter(|e| !e.is_empty())
        .collect()
}

/// Which requests may go through an HTTP proxy. People behind a corporate proxy need it for
/// `https` servers, and there a `CONNECT` tunnel keeps the credential inside TLS. But:
/// - loopback traffic never goes through a proxy (it would leave the machine);
/// - a plain-`http` request that carries a credential never does (the proxy would read it);
/// - `NO_PROXY` is honoured.
///
/// reqwest's own environment detection would proxy all of these, so it is replaced.
fn proxy_policy(sends_credentials: bool, env: &ProxyEnv) -> reqwest::Proxy {
    let env_for_requests = env.clone();
    reqwest::Proxy::custom(move |url| {
        if url_policy::Origin::of(url).is_none_or(|origin| origin.is_loopback()) {
            return None;
        }
        if url
            .host_str()
            .is_some_and(|host| env_for_requests.bypasses(host))
        {
            return None;
        }
        match url.scheme() {
            "https" => env_for_requests.https.clone(),
            "http" if !sends_credentials => env_for_requests.http.clone(),
            _ => None,
        }
    })
}

/// The credential of one upstream session, and the policy that guards the query key.
struct UpstreamCredentials {
    headers: HeaderMap,
    /// Query-parameter auth: (parameter name, key).
    query: Option<(String, Sensitive<String>)>,
    /// Read on every request, so turning the flag off stops keys at once.
    policy: Arc<RwLock<QueryAuthPolicy>>,
    oauth: Option<Arc<Authorizer>>,
}

/// `Bearer <token>`, marked sensitive (never logged by the HTTP stack).
fn bearer(token: &Sensitive<String>) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose())).ok()?;
    value.set_sensitive(true);
    Some(value)
}

impl client::Credentials for UpstreamCredentials {
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The query key is added when (and only when) the policy allows it now.
    fn url(&self, url: &Url) -> std::result::Result<Url, String> {
        match &self.query {
            None => Ok(url.clone()),
            Some((param, key)) => {
                let policy = self.policy.read().unwrap_or_else(|p| p.into_inner());
                policy.check(url).map_err(|e| e.to_string())?;
                Ok(query_auth::with_key(url, param, key))
            }
        }
    }

    fn endpoint(&self, sse_url: &Url, announced: &str) -> std::result::Result<Url, String> {
        query_auth::resolve_endpoint(sse_url, announced).map_err(|e| e.to_string())
    }

    fn authorization(
        &self,
    ) -> futures::future::BoxFuture<'_, std::result::Result<Option<HeaderValue>, String>> {
        Box::pin(async move {
            let Some(oauth) = &self.oauth else {
                return Ok(None);
            };
            match oauth.access_token().await {
                Ok(token) => bearer(&token)
                    .map(Some)
                    .ok_or_else(|| "the access token is not valid in a header".to_owned()),
                Err(OAuthError::NeedsSignIn(why)) => Err(format!("sign-in needed: {why}")),
                Err(e) => Err(e.to_string()),
            }
        })
    }

    fn refused(
        &self,
        sent: HeaderValue,
        status: u16,
        challenges: Vec<String>,
    ) -> futures::future::BoxFuture<'_, Option<HeaderValue>> {
        Box::pin(async move {
            let oauth = self.oauth.as_ref()?;
            let sent = sent.to_str().ok()?.strip_prefix("Bearer ")?.to_owned();
            let renewed = oauth
                .rejected(&Sensitive::new(sent), status, &challenges)
                .await?;
            bearer(&renewed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stand-in HTTP proxy on loopback that answers 502 to everything and reports the
    /// first line of each request it gets ("GET http://…" or "CONNECT host:443").
    async fn fake_proxy() -> (Url, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url =
            Url::parse(&format!("http://{}", listener.local_addr().expect("addr"))).expect("a URL");
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = vec![0u8; 4096];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                let _ = tx.send(head.lines().next().unwrap_or_default().to_owned());
                let _ = stream
                    .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        (url, rx)
    }

    async fn through(
        sends_credentials: bool,
        target: &str,
        env: &ProxyEnv,
        seen: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> Option<String> {
        let client = reqwest::Client::builder()
            .proxy(proxy_policy(sends_credentials, env))
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a client");
        let _ = client.get(target).send().await;
        seen.try_recv().ok()
    }

    /// With HTTP_PROXY/HTTPS_PROXY set: https goes through the proxy as a CONNECT tunnel
    /// (the credential stays inside TLS); plain http goes through it only without a
    /// credential; loopback never does; NO_PROXY is honoured.
    #[tokio::test]
    async fn a_credential_never_crosses_a_proxy_in_clear_and_loopback_never_leaves() {
        let (proxy, mut seen) = fake_proxy().await;
        let env = ProxyEnv {
            https: Some(proxy.clone()),
            http: Some(proxy.clone()),
            no_proxy: parse_no_proxy("other.test, .skip.invalid:443"),
        };
        let https = through(true, "https://mcp.example.invalid/mcp", &env, &mut seen).await;
        assert!(
            https
                .as_deref()
                .is_some_and(|l| l.starts_with("CONNECT mcp.example.invalid:443")),
            "{https:?}"
        );
        // Plain http with a credential: straight to the host (which does not resolve here),
        // never to the proxy, which would read the credential.
        let with_key = through(true, "http://mcp.example.invalid/mcp", &env, &mut seen).await;
        assert_eq!(with_key, None);
        let without = through(false, "http://mcp.example.invalid/mcp", &env, &mut seen).await;
        assert!(
            without
                .as_deref()
                .is_some_and(|l| l.starts_with("GET http://mcp.example.invalid/mcp")),
            "{without:?}"
        );
        let loopback = through(false, "http://127.0.0.1:9/mcp", &env, &mut seen).await;
        assert_eq!(loopback, None);
        let localhost = through(false, "https://localhost:9/mcp", &env, &mut seen).await;
        assert_eq!(localhost, None);
        let skipped = through(false, "https://a.skip.invalid/mcp", &env, &mut seen).await;
        assert_eq!(skipped, None);
        assert!(env.bypasses("skip.invalid") && env.bypasses("OTHER.test."));
        assert!(!env.bypasses("notskip.invalid") && !env.bypasses("test"));
    }
}
