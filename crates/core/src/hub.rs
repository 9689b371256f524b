//! [`Hub`]: the running core, one cheap handle for the CLI and the desktop shell alike.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api_key::{self, LiveKey};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::Access;
use crate::relay::{Relay, RelayOptions, ServerContext, ServerStatus};
use crate::secrets::{SecretError, SecretStore, Sensitive};
use crate::upstream::query_auth::QueryAuthPolicy;

/// How the proxy checks its callers.
#[derive(Clone)]
pub enum Auth {
    /// Require this key. With `keychain`, a rotation made there (by `switchboard key rotate`
    /// in another process) takes effect within seconds, without a restart.
    Key {
        key: Sensitive<String>,
        keychain: Option<Arc<dyn SecretStore>>,
    },
    /// No key at all. Only ever because the user asked for it; logged loudly.
    Disabled,
}

impl Auth {
    /// The key from the keychain, generated and stored there on first run.
    pub fn from_keychain(store: Arc<dyn SecretStore>) -> std::result::Result<Auth, SecretError> {
        let key = api_key::load_or_create(store.as_ref())?;
        Ok(Auth::Key {
            key,
            keychain: Some(store),
        })
    }

    /// A key given explicitly (`--api-key`, `SWITCHBOARD_API_KEY`).
    pub fn fixed(key: Sensitive<String>) -> Auth {
        Auth::Key {
            key,
            keychain: None,
        }
    }
}

/// Everything `Hub::launch` needs besides the config.
#[derive(Clone)]
pub struct HubOptions {
    /// 0 picks a free port (tests).
    pub port: u16,
    pub relay: RelayOptions,
    pub auth: Auth,
    /// Origins allowed besides loopback ones.
    pub extra_origins: Vec<String>,
    /// Where secret references (`{"secret": "NAME"}`) are read from; `None` when no
    /// keychain is available, and then servers that need one fail with a clear error.
    pub secrets: Option<Arc<dyn SecretStore>>,
}

/// How often the keychain is read to pick up a key rotated by another process.
const KEY_REFRESH: Duration = Duration::from_secs(2);

/// Where a server can be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub server: String,
    /// Streamable HTTP.
    pub mcp_url: String,
    /// Legacy HTTP+SSE.
    pub sse_url: String,
}

/// The proxy, running: the relay plus its loopback listener and the idle sweeper.
pub struct Hub {
    relay: Arc<Relay>,
    addr: SocketAddr,
    query_policy: Arc<std::sync::RwLock<QueryAuthPolicy>>,
    key: Option<Arc<LiveKey>>,
    keychain: Option<Arc<dyn SecretStore>>,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl Hub {
    /// Binds `127.0.0.1:port` and starts serving `config`.
    pub async fn launch(config: &Config, options: HubOptions) -> Result<Hub> {
        let port = options.port;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .await
            .map_err(|source| Error::Bind { port, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { port, source })?;
        let context = ServerContext::new(config, options.secrets.clone());
        let query_policy = context.query_policy.clone();
        let relay = Relay::new(config, options.relay, context);
        let mut background = vec![tokio::spawn(sweep_idle(relay.clone()))];
        let (key, keychain) = match options.auth {
            Auth::Key { key, keychain } => {
                let live = LiveKey::new(&key);
                if let Some(store) = &keychain {
                    background.push(tokio::spawn(follow_rotations(
                        store.clone(),
                        live.clone(),
                        key.clone(),
                    )));
                }
                (Some(live), keychain)
            }
            Auth::Disabled => {
                log::warn!(
                    "API KEY CHECKS ARE OFF: any program on this machine can use every configured server"
                );
                (None, None)
            }
        };
        let access = Arc::new(Access {
            port: addr.port(),
            extra_origins: options.extra_origins,
            key: key.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let router = crate::http::router(relay.clone(), access);
        let server = tokio::spawn(crate::http::serve(listener, router, async {
            let _ = stopped.await;
        }));
        log::info!("listening on http://{addr}");
        Ok(Hub {
            relay,
            addr,
            query_policy,
            key,
            keychain,
            stop: Some(stop),
            server,
            background,
        })
    }

    /// Changes "allow query-parameter auth (insecure)" and its allowlist for the running
    /// proxy. The policy is read on every outbound request, so turning it off stops every
    /// gateway from sending its key from the next request on.
    pub fn set_query_auth(
        &self,
        enabled: bool,
        origins: &[String],
    ) -> std::result::Result<(), crate::upstream::query_auth::QueryAuthError> {
        let policy = QueryAuthPolicy::from_settings(enabled, origins)?;
        *self.query_policy.write().unwrap_or_else(|p| p.into_inner()) = policy;
        Ok(())
    }

    /// Replaces the API key with a new one, in the keychain and in the running proxy at once.
    /// Only for a key kept in the keychain.
    pub async fn rotate_key(&self) -> std::result::Result<Sensitive<String>, SecretError> {
        let failed = |cause: String| SecretError::Failed {
            action: "rotate",
            name: api_key::KEYCHAIN_ITEM.into(),
            cause,
        };
        let (Some(live), Some(store)) = (self.key.clone(), self.keychain.clone()) else {
            return Err(failed(
                "the key was given on the command line or in the environment, not kept in the keychain".into(),
            ));
        };
        let key = tokio::task::spawn_blocking(move || api_key::rotate(store.as_ref()))
            .await
            .map_err(|e| failed(e.to_string()))??;
        live.replace(&key);
        Ok(key)
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// The URLs of every enabled server.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        self.relay
            .server_names()
            .iter()
            .map(|name| Endpoint {
                server: name.to_string(),
                mcp_url: format!("http://{}/servers/{name}/mcp", self.addr),
                sse_url: format!("http://{}/servers/{name}/sse", self.addr),
            })
            .collect()
    }

    pub fn status(&self) -> Vec<ServerStatus> {
        self.relay.status()
    }

    /// Stops accepting connections and stops every child (close stdin → SIGTERM → SIGKILL).
    pub async fn shutdown(mut self) {
        for task in &self.background {
            task.abort();
        }
        // Children first: that ends every open stream, so the server can drain.
        self.relay.shutdown().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if tokio::time::timeout(Duration::from_secs(5), &mut self.server)
            .await
            .is_err()
        {
            self.server.abort();
        }
        log::info!("stopped");
    }
}

/// Picks up a key rotated in the keychain by another process (`switchboard key rotate`).
async fn follow_rotations(
    store: Arc<dyn SecretStore>,
    live: Arc<LiveKey>,
    initial: Sensitive<String>,
) {
    let mut ticker = tokio::time::interval(KEY_REFRESH);
    // Compare with what the keychain said last time, not with the live key: a read that
    // raced an in-process rotation must not bring the old key back.
    let mut last_seen = initial;
    let mut reported = false;
    loop {
        ticker.tick().await;
        let reader = store.clone();
        match tokio::task::spawn_blocking(move || reader.get(api_key::KEYCHAIN_ITEM)).await {
            Ok(Ok(Some(key))) => {
                reported = false;
                if last_seen != key && !live.is(&key) {
                    live.replace(&key);
                    log::info!("the API key was rotated; the new key is in effect");
                }
                last_seen = key;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) if !reported => {
                reported = true;
                log::warn!(
                    "cannot read the API key from the keychain (the current key stays in effect): {e}"
                );
            }
            _ => {}
        }
    }
}

async fn sweep_idle(relay: Arc<Relay>) {
    let every = (relay.options().idle_timeout / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut ticker = tokio::time::interval(every);
    loop {
        ticker.tick().await;
        relay.expire_idle().await;
    }
}
