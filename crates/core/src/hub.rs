//! [`Hub`]: the running core, one cheap handle for the CLI and the desktop shell alike.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

mod clients;
pub mod sign_in;

pub use clients::{ClientStatus, ConnectTarget, ImportPreview, ImportReport, Unreadable};
pub use sign_in::AuthDiscovery;

use crate::api_key::{self, LiveKey};
use crate::config::{Config, Profile, ServerConfig};
use crate::error::{Error, Result};
use crate::http::Access;
use crate::relay::{Relay, RelayOptions, ServerContext, ServerStatus};
use crate::secrets::{SecretError, SecretName, SecretStore, Sensitive};
use crate::url_policy::query_key::QueryAuthPolicy;

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
    /// Which key clients must send. Whether it is checked is the config's
    /// `switchboard.requireApiKey`: with `false` the key is kept (so checks can be switched
    /// on again with [`Hub::set_auth_required`]) but not checked.
    pub auth: Auth,
    /// Origins allowed besides loopback ones.
    pub extra_origins: Vec<String>,
    /// Where secret references (`{"secret": "NAME"}`) are read from; `None` when no
    /// keychain is available, and then servers that need one fail with a clear error.
    pub secrets: Option<Arc<dyn SecretStore>>,
    /// Where changes made through the Hub (servers added, toggled, settings) are saved.
    pub config_path: Option<std::path::PathBuf>,
}

/// How often the keychain is read to pick up a key rotated by another process.
const KEY_REFRESH: Duration = Duration::from_secs(2);
/// How often OAuth servers read their sign-in from the keychain again, to follow a
/// `switchboard login` or `logout` in another process.
const SIGN_IN_REFRESH: Duration = Duration::from_secs(5);

/// Where a server can be reached.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub server: String,
    /// Streamable HTTP.
    pub mcp_url: String,
    /// Legacy HTTP+SSE.
    pub sse_url: String,
}

impl Endpoint {
    /// The URLs of server `name` behind a proxy listening on `addr`: the one place they
    /// are spelled out.
    pub fn new(addr: SocketAddr, name: &str) -> Endpoint {
        Endpoint {
            server: name.to_owned(),
            mcp_url: format!("http://{addr}/servers/{name}/mcp"),
            sse_url: format!("http://{addr}/servers/{name}/sse"),
        }
    }
}

/// The proxy, running: the relay plus its loopback listener and the idle sweeper.
pub struct Hub {
    relay: Arc<Relay>,
    /// The port (`local_addr`) and the key check, both switchable while running.
    access: Arc<Access>,
    query_policy: Arc<std::sync::RwLock<QueryAuthPolicy>>,
    key: Option<Arc<LiveKey>>,
    keychain: Option<Arc<dyn SecretStore>>,
    /// A key given explicitly (not kept in the keychain), for "copy the key".
    explicit_key: Option<Sensitive<String>>,
    /// `None` while the proxy is turned off.
    serving: std::sync::Mutex<Option<Serving>>,
    /// Held while the port is bound, moved or released, so those happen one at a time.
    switching: tokio::sync::Mutex<()>,
    config: std::sync::Mutex<Config>,
    /// Serialises server changes from start to end (config saved, then the relay updated),
    /// so two at once (a tray toggle during a save in the window) cannot leave the relay
    /// running one version and the file holding the other.
    server_changes: tokio::sync::Mutex<()>,
    /// Where changes made through the Hub are saved; `None` keeps them in memory (tests).
    config_path: Option<std::path::PathBuf>,
    background: Vec<JoinHandle<()>>,
}

struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    /// Fires when the listener is closed.
    closed: oneshot::Receiver<()>,
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
        let mut background = vec![
            tokio::spawn(sweep_idle(relay.clone())),
            tokio::spawn(follow_sign_ins(relay.clone())),
        ];
        let explicit_key = match &options.auth {
            Auth::Key {
                key,
                keychain: None,
            } => Some(key.clone()),
            _ => None,
        };
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
            Auth::Disabled => (None, None),
        };
        let required = key.is_some() && config.proxy.require_api_key;
        if !required {
            warn_auth_off(if key.is_none() {
                "started without a key"
            } else {
                "\"requireApiKey\" is false in the config"
            });
        }
        let access = Arc::new(Access::new(
            addr.port(),
            options.extra_origins,
            key.clone(),
            required,
        ));
        if let Some(store) = &options.secrets {
            for (name, profile) in &config.proxy.profiles {
                if profile.own_key {
                    load_profile_key(store, &access, name).await;
                }
            }
            background.push(tokio::spawn(follow_profile_rotations(
                store.clone(),
                access.clone(),
            )));
        } else if config.proxy.profiles.values().any(|p| p.own_key) {
            log::warn!(
                "no keychain: the profiles' own keys cannot be read, so their endpoints take only the main key"
            );
        }
        let serving = serve(listener, &relay, &access);
        log::info!("listening on http://{addr}");
        Ok(Hub {
            relay,
            access,
            query_policy,
            key,
            keychain,
            explicit_key,
            serving: std::sync::Mutex::new(Some(serving)),
            switching: tokio::sync::Mutex::new(()),
            config: std::sync::Mutex::new(config.clone()),
            server_changes: tokio::sync::Mutex::new(()),
            config_path: options.config_path,
            background,
        })
    }

    // === the proxy switch ===

    pub fn proxy_enabled(&self) -> bool {
        lock(&self.serving).is_some()
    }

    /// Off: every session ends, every child stops, and the port is released (connections
    /// are refused). On: the same port is bound again.
    pub async fn set_proxy_enabled(&self, on: bool) -> Result<()> {
        let _switching = self.switching.lock().await;
        if on {
            if self.proxy_enabled() {
                return Ok(());
            }
            let port = self.access.port();
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                .await
                .map_err(|source| Error::Bind { port, source })?;
            *lock(&self.serving) = Some(serve(listener, &self.relay, &self.access));
            log::info!("proxy on: listening on http://{}", self.local_addr());
        } else {
            let serving = lock(&self.serving).take();
            if let Some(serving) = serving {
                self.relay.shutdown().await;
                stop_serving(serving).await;
                log::info!(
                    "proxy off: every server stopped, port {} released",
                    self.access.port()
                );
            }
        }
        self.announce();
        Ok(())
    }

    /// Moves the proxy to `port` and saves it as `switchboard.port`. Port 0 is refused: the
    /// point is a port clients can be pointed at.
    ///
    /// The new port is bound first; if that fails (in use: [`Error::Bind`]) nothing changes
    /// and the old port keeps serving. Then the config is saved, the Host check,
    /// [`Hub::local_addr`] and [`Hub::endpoints`] switch to the new port, and the old port is
    /// closed before this returns: new connections to it are refused.
    ///
    /// Sessions belong to the relay and survive the move: their children keep running, and a
    /// client that sends its `Mcp-Session-Id` to the new port carries on. Connections already
    /// open on the old port are not cut: a request in flight there gets its answer, and an
    /// open stream (a GET stream, a legacy SSE stream) keeps delivering until the client or
    /// the session ends it; idle keep-alive connections are closed.
    ///
    /// With the proxy off, the port is only saved, and the next "on" binds it.
    pub async fn set_port(&self, port: u16) -> Result<()> {
        if port == 0 {
            return Err(Error::ConfigInvalid {
                path: self.config_path.clone().unwrap_or_default(),
                message: "switchboard.port must be between 1 and 65535".into(),
            });
        }
        let _switching = self.switching.lock().await;
        let old = self.access.port();
        let listener = if self.proxy_enabled() && port != old {
            Some(
                TcpListener::bind((Ipv4Addr::LOCALHOST, port))
                    .await
                    .map_err(|source| Error::Bind { port, source })?,
            )
        } else {
            None
        };
        self.update_config(|config| {
            config.proxy.port = Some(port);
            Ok(())
        })?;
        self.access.set_port(port);
        if let Some(listener) = listener {
            let new = serve(listener, &self.relay, &self.access);
            let old_serving = lock(&self.serving).replace(new);
            if let Some(Serving { stop, task, closed }) = old_serving {
                let _ = stop.send(());
                // Accepting stops at once; the connections still open drain on their own
                // (the task is detached and ends with the last of them).
                let _ = tokio::time::timeout(Duration::from_secs(5), closed).await;
                drop(task);
            }
            log::info!("moved from port {old} to http://{}", self.local_addr());
        } else {
            log::info!("port {port} saved");
        }
        self.announce();
        Ok(())
    }

    /// Turns the API key check on or off, saves it as `switchboard.requireApiKey`, and
    /// applies it from the next request on (`/status` and [`Hub::auth_required`] say so).
    ///
    /// Off means any program on this machine, and any web page that gets past the Host and
    /// Origin checks, can use every server; it is logged loudly. The key itself is kept, so
    /// turning the check on again needs nothing new. A hub started without a key
    /// (`Auth::Disabled`) refuses to turn it on ([`Error::NoApiKey`]) and changes nothing:
    /// that launch said "no key" on purpose, and a key conjured here would be one no client
    /// has.
    pub fn set_auth_required(&self, on: bool) -> Result<()> {
        if on && self.key.is_none() {
            return Err(Error::NoApiKey);
        }
        self.update_config(|config| {
            config.proxy.require_api_key = on;
            Ok(())
        })?;
        self.access.set_key_required(on);
        if on {
            log::info!("API key checks are on: every request must carry the key");
        } else {
            warn_auth_off("turned off in the settings");
        }
        self.announce();
        Ok(())
    }

    /// Tells subscribers that what `status()` and the settings report may have changed.
    fn announce(&self) {
        self.relay
            .context()
            .changes
            .send_modify(|n| *n = n.wrapping_add(1));
    }

    // === servers ===

    /// The config as it is now (secret values are never in it, only their names).
    pub fn config(&self) -> Config {
        lock(&self.config).clone()
    }

    /// Adds or replaces a server, saves the config, and applies it at once: the old
    /// definition's sessions end and their clients initialize again against the new one.
    ///
    /// A server with query-parameter auth is saved only while "allow query-parameter auth
    /// (insecure)" is on and its URL's origin is on the allowlist ([`Error::QueryAuth`]),
    /// whoever asks (the window, the CLI, a test): the gate is here, not in each caller.
    pub async fn save_server(&self, name: &str, server: ServerConfig) -> Result<()> {
        let _serialised = self.server_changes.lock().await;
        self.update_config(|config| {
            config.check_before_save(name, &server)?;
            config.servers.insert(name.to_owned(), server.clone());
            Ok(())
        })?;
        self.relay.put_server(name, &server).await;
        Ok(())
    }

    /// Whether [`Hub::save_server`] would accept this server now, without saving it.
    pub fn check_server(&self, name: &str, server: &ServerConfig) -> Result<()> {
        let mut config = self.config();
        config.check_before_save(name, server)?;
        config.servers.insert(name.to_owned(), server.clone());
        config.check(
            &self
                .config_path
                .clone()
                .unwrap_or_else(|| "config.json".into()),
        )
    }

    /// Removes a server, from the profiles that carry it too.
    pub async fn remove_server(&self, name: &str) -> Result<()> {
        let _serialised = self.server_changes.lock().await;
        let profiles = self.update_config(|config| {
            config
                .servers
                .shift_remove(name)
                .ok_or_else(|| Error::UnknownServer(name.to_owned()))?;
            let mut changed = Vec::new();
            for (profile_name, profile) in &mut config.proxy.profiles {
                if profile.servers.shift_remove(name).is_some() {
                    changed.push((profile_name.clone(), profile.clone()));
                }
            }
            Ok(changed)
        })?;
        self.relay.remove_server(name).await;
        for (profile_name, profile) in profiles {
            self.relay.put_profile(&profile_name, &profile).await;
        }
        Ok(())
    }

    // === tools and profiles ===

    /// Every tool of `/mcp`'s servers (`profile: None`) or of a profile's, let through or
    /// held back; of `server` alone when given.
    pub async fn tools(
        &self,
        profile: Option<&str>,
        server: Option<&str>,
    ) -> Result<crate::relay::aggregate::ToolInventory> {
        self.relay.tools(profile, server).await
    }

    /// Lets a tool through the aggregate endpoints (`on`) or holds it back: in the
    /// server's own filter (`profile: None`, every endpoint) or in a profile's. Saved, and
    /// applied to open sessions at once (their clients get `list_changed`).
    pub async fn set_tool_enabled(
        &self,
        profile: Option<&str>,
        server: &str,
        tool: &str,
        on: bool,
    ) -> Result<()> {
        let _serialised = self.server_changes.lock().await;
        let invalid = |message: String| Error::ConfigInvalid {
            path: self.config_path.clone().unwrap_or_default(),
            message,
        };
        match profile {
            None => {
                let changed = self.update_config(|config| {
                    let entry = config
                        .servers
                        .get_mut(server)
                        .ok_or_else(|| Error::UnknownServer(server.to_owned()))?;
                    entry.tools.set(tool, on).map_err(invalid)?;
                    Ok(entry.clone())
                })?;
                self.relay.put_server(server, &changed).await;
            }
            Some(profile) => {
                let changed = self.update_config(|config| {
                    if !config.servers.contains_key(server) {
                        return Err(Error::UnknownServer(server.to_owned()));
                    }
                    let entry = config
                        .proxy
                        .profiles
                        .get_mut(profile)
                        .ok_or_else(|| Error::UnknownProfile(profile.to_owned()))?;
                    let carried = entry.servers.get_mut(server).ok_or_else(|| {
                        invalid(format!(
                            "profile '{profile}' does not carry server '{server}'"
                        ))
                    })?;
                    carried.tools.set(tool, on).map_err(invalid)?;
                    Ok(entry.clone())
                })?;
                self.relay.put_profile(profile, &changed).await;
            }
        }
        Ok(())
    }

    /// Adds or changes a profile, saves it, and applies it at once (open sessions see the
    /// change, with `list_changed`). With `ownKey`, its key is created in the keychain if
    /// there is none yet; without, a key it had is deleted.
    pub async fn save_profile(&self, name: &str, profile: Profile) -> Result<()> {
        let _serialised = self.server_changes.lock().await;
        if !crate::config::is_valid_profile_name(name) {
            return Err(Error::ConfigInvalid {
                path: self.config_path.clone().unwrap_or_default(),
                message: format!(
                    "profile name '{name}' must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-' (it becomes part of a URL)"
                ),
            });
        }
        if profile.own_key {
            // Before saving: a profile that should have its own key but cannot get one
            // would otherwise be open to the main key only, silently.
            let store = self.secrets()?;
            let item = api_key::profile_item(name);
            let what = format!("profile '{name}''s key");
            let key = tokio::task::spawn_blocking(move || {
                api_key::load_or_create_at(store.as_ref(), &item, &what)
            })
            .await
            .map_err(|e| SecretError::Failed {
                action: "store",
                name: api_key::profile_item(name),
                cause: e.to_string(),
            })??;
            self.update_config(|config| {
                config
                    .proxy
                    .profiles
                    .insert(name.to_owned(), profile.clone());
                Ok(())
            })?;
            self.access.set_profile_key(name, Some(&key));
        } else {
            let had_key = self.update_config(|config| {
                let old = config
                    .proxy
                    .profiles
                    .insert(name.to_owned(), profile.clone());
                Ok(old.is_some_and(|p| p.own_key))
            })?;
            self.access.set_profile_key(name, None);
            if had_key {
                self.delete_profile_key(name).await;
            }
        }
        self.relay.put_profile(name, &profile).await;
        Ok(())
    }

    /// Removes a profile: its endpoints answer 404, its key is deleted.
    pub async fn remove_profile(&self, name: &str) -> Result<()> {
        let _serialised = self.server_changes.lock().await;
        let old = self.update_config(|config| {
            config
                .proxy
                .profiles
                .shift_remove(name)
                .ok_or_else(|| Error::UnknownProfile(name.to_owned()))
        })?;
        self.access.set_profile_key(name, None);
        if old.own_key {
            self.delete_profile_key(name).await;
        }
        self.relay.remove_profile(name).await;
        Ok(())
    }

    async fn delete_profile_key(&self, name: &str) {
        let Ok(store) = self.secrets() else {
            return;
        };
        let item = api_key::profile_item(name);
        match tokio::task::spawn_blocking(move || store.delete(&item)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("profile '{name}': its old key stays in the keychain: {e}"),
            Err(e) => log::warn!("profile '{name}': its old key stays in the keychain: {e}"),
        }
    }

    /// A profile's own key, for "copy" in the UI and `switchboard profile key show`.
    pub async fn profile_key(&self, name: &str) -> Result<Sensitive<String>> {
        self.own_key_profile(name)?;
        let store = self.secrets()?;
        let item = api_key::profile_item(name);
        let read = tokio::task::spawn_blocking(move || store.get(&item))
            .await
            .map_err(|e| SecretError::Failed {
                action: "read",
                name: api_key::profile_item(name),
                cause: e.to_string(),
            })??;
        read.ok_or_else(|| {
            SecretError::Failed {
                action: "read",
                name: api_key::profile_item(name),
                cause:
                    "the keychain has no key for this profile; save the profile again to create one"
                        .into(),
            }
            .into()
        })
    }

    /// A new key for a profile, in the keychain and in effect at once; the old one stops
    /// working.
    pub async fn rotate_profile_key(&self, name: &str) -> Result<Sensitive<String>> {
        self.own_key_profile(name)?;
        let store = self.secrets()?;
        let item = api_key::profile_item(name);
        let what = format!("profile '{name}''s key");
        let key =
            tokio::task::spawn_blocking(move || api_key::rotate_at(store.as_ref(), &item, &what))
                .await
                .map_err(|e| SecretError::Failed {
                    action: "rotate",
                    name: api_key::profile_item(name),
                    cause: e.to_string(),
                })??;
        self.access.set_profile_key(name, Some(&key));
        Ok(key)
    }

    fn own_key_profile(&self, name: &str) -> Result<()> {
        match lock(&self.config).proxy.profiles.get(name) {
            None => Err(Error::UnknownProfile(name.to_owned())),
            Some(profile) if !profile.own_key => Err(Error::ConfigInvalid {
                path: self.config_path.clone().unwrap_or_default(),
                message: format!(
                    "profile '{name}' has no key of its own (\"ownKey\" is off): it takes the main key"
                ),
            }),
            Some(_) => Ok(()),
        }
    }

    /// Turning a server off ends its sessions and stops its children; its endpoint answers
    /// 404 until it is turned on again.
    pub async fn set_server_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        let _serialised = self.server_changes.lock().await;
        let server = self.update_config(|config| {
            let server = config
                .servers
                .get_mut(name)
                .ok_or_else(|| Error::UnknownServer(name.to_owned()))?;
            server.enabled = enabled;
            Ok(server.clone())
        })?;
        self.relay.put_server(name, &server).await;
        Ok(())
    }

    /// Applies `change` to a copy of the config, validates it and saves it; only then does
    /// the running config change. The config stays locked throughout, so concurrent changes
    /// each start from the other's result instead of overwriting it.
    fn update_config<T>(&self, change: impl FnOnce(&mut Config) -> Result<T>) -> Result<T> {
        let mut current = lock(&self.config);
        let mut config = current.clone();
        let changed = change(&mut config)?;
        let path = self
            .config_path
            .clone()
            .unwrap_or_else(|| "config.json".into());
        config.check(&path)?;
        if let Some(path) = &self.config_path {
            config.save(path)?;
        }
        *current = config;
        Ok(changed)
    }

    /// Saves "allow query-parameter auth (insecure)" and its origins, and applies them to
    /// the running proxy at once.
    ///
    /// Saved first, applied second: a save that fails (a bad origin, a disk error) changes
    /// neither, so the running proxy and the file never disagree.
    pub fn save_query_auth(&self, enabled: bool, origins: Vec<String>) -> Result<()> {
        let policy = self.update_config(|config| {
            let policy = QueryAuthPolicy::from_settings(enabled, &origins).map_err(|e| {
                Error::ConfigInvalid {
                    path: self.config_path.clone().unwrap_or_default(),
                    message: format!("switchboard.queryParamAuthOrigins: {e}"),
                }
            })?;
            config.proxy.allow_query_param_auth = enabled;
            config.proxy.query_param_auth_origins = origins;
            Ok(policy)
        })?;
        *self.query_policy.write().unwrap_or_else(|p| p.into_inner()) = policy;
        Ok(())
    }

    // === secrets ===

    fn secrets(&self) -> Result<Arc<dyn SecretStore>> {
        self.relay
            .context()
            .secrets
            .store()
            .cloned()
            .ok_or_else(|| {
                Error::Keychain(SecretError::Unavailable {
                    cause: "no keychain was available when Switchboard started".into(),
                    fix: "Unlock or install the OS keychain and restart Switchboard.".into(),
                })
            })
    }

    /// Runs a keychain operation on a thread that may block (the Secret Service can take a
    /// while, or prompt).
    async fn with_store<T: Send + 'static>(
        &self,
        action: &'static str,
        name: &SecretName,
        op: impl FnOnce(&dyn SecretStore, &str) -> std::result::Result<T, SecretError> + Send + 'static,
    ) -> Result<T> {
        let store = self.secrets()?;
        let owned = name.clone();
        tokio::task::spawn_blocking(move || op(store.as_ref(), owned.as_str()))
            .await
            .map_err(|e| SecretError::Failed {
                action,
                name: name.to_string(),
                cause: e.to_string(),
            })?
            .map_err(Error::from)
    }

    /// Whether the secret is set. The value itself never leaves the keychain this way.
    /// Names follow [`SecretName`]'s rule: the proxy's own key is not a server secret.
    pub async fn secret_is_set(&self, name: &str) -> Result<bool> {
        let name = SecretName::new(name)?;
        self.with_store("read", &name, |store, name| {
            store.get(name).map(|v| v.is_some())
        })
        .await
    }

    pub async fn set_secret(&self, name: &str, value: Sensitive<String>) -> Result<()> {
        let name = SecretName::new(name)?;
        self.with_store("store", &name, move |store, name| store.set(name, &value))
            .await
    }

    pub async fn delete_secret(&self, name: &str) -> Result<()> {
        let name = SecretName::new(name)?;
        self.with_store("delete", &name, |store, name| store.delete(name))
            .await
    }

    /// The API key clients send, for "copy" in the UI; `None` when the hub has none. While
    /// checks are switched off the key is still there, for when they are switched on again.
    pub async fn api_key(&self) -> Result<Option<Sensitive<String>>> {
        if self.key.is_none() {
            return Ok(None);
        }
        if let Some(key) = &self.explicit_key {
            return Ok(Some(key.clone()));
        }
        let Some(store) = self.keychain.clone() else {
            return Ok(None);
        };
        let read = tokio::task::spawn_blocking(move || store.get(api_key::KEYCHAIN_ITEM))
            .await
            .map_err(|e| SecretError::Failed {
                action: "read",
                name: api_key::KEYCHAIN_ITEM.into(),
                cause: e.to_string(),
            })?;
        Ok(read?)
    }

    /// Whether clients must send a key, now.
    pub fn auth_required(&self) -> bool {
        self.access.key_required()
    }

    /// Changes whenever what `status()` reports may have changed.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.relay.subscribe()
    }

    /// "Test connection" for a server definition, through the runtime path.
    pub async fn test_server(
        &self,
        name: &str,
        server: &ServerConfig,
    ) -> Result<crate::relay::Probe> {
        self.relay.probe(name, server).await
    }

    /// Changes "allow query-parameter auth (insecure)" and its allowlist for the running
    /// proxy. The policy is read on every outbound request, so turning it off stops every
    /// gateway from sending its key from the next request on.
    /// Not saved: for the running proxy only ([`Hub::save_query_auth`] saves and applies).
    pub fn set_query_auth(&self, enabled: bool, origins: &[String]) -> Result<()> {
        let policy =
            QueryAuthPolicy::from_settings(enabled, origins).map_err(|e| Error::ConfigInvalid {
                path: self.config_path.clone().unwrap_or_default(),
                message: format!("switchboard.queryParamAuthOrigins: {e}"),
            })?;
        *self.query_policy.write().unwrap_or_else(|p| p.into_inner()) = policy;
        Ok(())
    }

    /// Replaces the API key with a new one, in the keychain and in the running proxy at once.
    /// Only for a key kept in the keychain.
    pub async fn rotate_key(&self) -> Result<Sensitive<String>> {
        let failed = |cause: String| SecretError::Failed {
            action: "rotate",
            name: api_key::KEYCHAIN_ITEM.into(),
            cause,
        };
        let (Some(live), Some(store)) = (self.key.clone(), self.keychain.clone()) else {
            return Err(failed(
                "the key was given on the command line or in the environment, not kept in the keychain".into(),
            )
            .into());
        };
        let key = tokio::task::spawn_blocking(move || api_key::rotate(store.as_ref()))
            .await
            .map_err(|e| failed(e.to_string()))??;
        live.replace(&key);
        Ok(key)
    }

    /// Where the proxy listens (or, while it is off, will listen when turned on).
    pub fn local_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.access.port()))
    }

    pub fn relay(&self) -> &Arc<Relay> {
        &self.relay
    }

    /// The URLs of every enabled server.
    pub fn endpoints(&self) -> Vec<Endpoint> {
        let addr = self.local_addr();
        self.relay
            .server_names()
            .iter()
            .map(|name| Endpoint::new(addr, name))
            .collect()
    }

    /// Where server `name` is (or would be, if it is off) reachable now.
    pub fn endpoint(&self, name: &str) -> Endpoint {
        Endpoint::new(self.local_addr(), name)
    }

    pub fn status(&self) -> Vec<ServerStatus> {
        self.relay.status()
    }

    /// Stops accepting connections and stops every child (close stdin → SIGTERM → SIGKILL).
    pub async fn shutdown(&self) {
        for task in &self.background {
            task.abort();
        }
        let _switching = self.switching.lock().await;
        // Children first: that ends every open stream, so the server can drain.
        self.relay.shutdown().await;
        let serving = lock(&self.serving).take();
        if let Some(serving) = serving {
            stop_serving(serving).await;
        }
        log::info!("stopped");
    }
}

fn serve(listener: TcpListener, relay: &Arc<Relay>, access: &Arc<Access>) -> Serving {
    let (stop, stopped) = oneshot::channel::<()>();
    let (announce_closed, closed) = oneshot::channel::<()>();
    let router = crate::http::router(relay.clone(), access.clone());
    let shutdown = async {
        let _ = stopped.await;
    };
    let task = tokio::spawn(crate::http::serve(
        listener,
        router,
        shutdown,
        announce_closed,
        relay.options().limits,
    ));
    Serving { stop, task, closed }
}

/// The one loud line for "no key is checked", whatever the reason.
fn warn_auth_off(why: &str) {
    log::warn!(
        "API KEY CHECKS ARE OFF ({why}): any program on this machine, and any web page that gets past the Host and Origin checks, can use every configured server"
    );
}

async fn stop_serving(mut serving: Serving) {
    let _ = serving.stop.send(());
    if tokio::time::timeout(Duration::from_secs(5), &mut serving.task)
        .await
        .is_err()
    {
        serving.task.abort();
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Picks up a key rotated in the keychain by another process (`switchboard key rotate`).
/// Follows sign-ins and sign-outs made by another process (`switchboard login` while the
/// app runs): each OAuth server reads its keychain item again, so the window and the tray
/// show the new state within seconds, and a sign-out there stops this one's token too.
async fn follow_sign_ins(relay: Arc<Relay>) {
    let mut ticker = tokio::time::interval(SIGN_IN_REFRESH);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        for server in relay.enabled_servers() {
            if let Some(authorizer) = server.remote_authorizer() {
                let _ = authorizer.reload().await;
            }
        }
    }
}

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

/// Reads profile `name`'s key from the keychain (creating it there on first use) and puts
/// it in effect. On failure the profile's endpoints take only the main key, and the log
/// says so.
async fn load_profile_key(store: &Arc<dyn SecretStore>, access: &Arc<Access>, name: &str) {
    let store = store.clone();
    let item = api_key::profile_item(name);
    let what = format!("profile '{name}''s key");
    match tokio::task::spawn_blocking(move || {
        api_key::load_or_create_at(store.as_ref(), &item, &what)
    })
    .await
    {
        Ok(Ok(key)) => access.set_profile_key(name, Some(&key)),
        Ok(Err(e)) => log::warn!(
            "profile '{name}': its own key could not be read ({e}); its endpoints take only the main key"
        ),
        Err(e) => log::warn!("profile '{name}': its own key could not be read ({e})"),
    }
}

/// Picks up a profile key rotated by another process (`switchboard profile key rotate`
/// while the app runs), as [`follow_rotations`] does for the main key.
async fn follow_profile_rotations(store: Arc<dyn SecretStore>, access: Arc<Access>) {
    let mut ticker = tokio::time::interval(KEY_REFRESH);
    // What the keychain said last time, per profile: a read that raced an in-process
    // rotation must not bring the old key back (as in `follow_rotations`).
    let mut last_seen: std::collections::HashMap<String, Sensitive<String>> = Default::default();
    loop {
        ticker.tick().await;
        let profiles = access.profiles_with_keys();
        last_seen.retain(|p, _| profiles.contains(p));
        for profile in profiles {
            let reader = store.clone();
            let item = api_key::profile_item(&profile);
            let Ok(Ok(Some(key))) = tokio::task::spawn_blocking(move || reader.get(&item)).await
            else {
                continue;
            };
            let changed = last_seen.get(&profile).is_some_and(|seen| *seen != key);
            if changed && !access.profile_key_is(&profile, &key) {
                access.set_profile_key(&profile, Some(&key));
                log::info!("profile '{profile}': its key was rotated; the new key is in effect");
            }
            last_seen.insert(profile, key);
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
