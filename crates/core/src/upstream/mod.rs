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

use crate::config::{RemoteTransport, ServerConfig, UpstreamAuth, ValueSource};
use crate::error::{Error, Result};
use crate::mcp::client::{self, Client, Inbound};
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
}

impl RemoteServer {
    /// `None` for a stdio server. The URL was validated when the config was loaded.
    pub fn from_config(
        name: &Arc<str>,
        config: &ServerConfig,
        policy: Arc<RwLock<QueryAuthPolicy>>,
        max_message_bytes: usize,
    ) -> Option<RemoteServer> {
        let url = Url::parse(config.url.as_deref()?).ok()?;
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
            }),
            sends_credentials: config.sends_credentials(),
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            auth: config.auth.clone(),
            policy,
        })
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
        }
        Ok(UpstreamCredentials {
            headers,
            query,
            policy: self.policy.clone(),
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
    no_proxy: Option<reqwest::NoProxy>,
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
            no_proxy: reqwest::NoProxy::from_env(),
        }
    }
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
        match url.scheme() {
            "https" => env_for_requests.https.clone(),
            "http" if !sends_credentials => env_for_requests.http.clone(),
            _ => None,
        }
    })
    .no_proxy(env.no_proxy.clone())
}

/// The credential of one upstream session, and the policy that guards the query key.
struct UpstreamCredentials {
    headers: HeaderMap,
    /// Query-parameter auth: (parameter name, key).
    query: Option<(String, Sensitive<String>)>,
    /// Read on every request, so turning the flag off stops keys at once.
    policy: Arc<RwLock<QueryAuthPolicy>>,
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
}
