//! The IPC commands the UI calls: short adapters over the Hub. Each one is also listed in
//! `src-tauri/build.rs` (ACL) and in a capability file.
//!
//! Secret values only ever go *in* (`set_secret`); the only values that come back out are
//! the proxy's own keys: the API key, from `api_key`, and a profile's own key, from
//! `profile_key`, both for an explicit copy, and either from `client_setup` with
//! `reveal: true`. The state never carries a key. Other clients' configs come out with
//! their secret values left out (`import_preview`) or masked (`client_connect_preview`).
//! OAuth tokens never come out either: the state carries each server's sign-in status
//! (who, until when), and `sign_in` gives the authorization URL the browser opens.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, MutexGuard};

use serde::{Deserialize, Serialize};
use switchboard_core::clients::connect::Plan;
use switchboard_core::clients::{Client, Places, Scope};
use switchboard_core::config::{Profile, ServerConfig, UpstreamAuth};
use switchboard_core::oauth::AuthStatus;
use switchboard_core::relay::aggregate::ToolRow;
use switchboard_core::secrets::{SecretError, Sensitive};
use switchboard_core::sign_in::AuthDiscovery;
use switchboard_core::{
    ClientStatus, ConnectTarget, Endpoint, Error, Hub, ImportPreview, ImportReport,
};
use tauri::{AppHandle, Runtime, State};

use crate::client_setup::{
    AGGREGATE_ENTRY, Bridge, ClientSetup, KEY_PLACEHOLDER, connect_args, profile_entry,
    profile_key_placeholder,
};
use crate::hub::{HubSlot, NotRunning};
use crate::{Shell, ShellExt};

/// The one error shape the UI sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// Stable, for the UI to match on: `starting`, `not_running`, `stopping` (the core is
    /// not available); `invalid`, `unknown_server`, `unknown_profile`, `query_auth_off`,
    /// `needs_acknowledgement`, `test_failed`, `keychain`, `unsupported`, `port_in_use`,
    /// `failed`.
    pub code: &'static str,
    pub message: String,
}

impl CommandError {
    fn new(code: &'static str, message: impl Into<String>) -> CommandError {
        CommandError {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for CommandError {
    fn from(e: Error) -> CommandError {
        let code = match &e {
            Error::ConfigSyntax { .. } | Error::ConfigInvalid { .. } => "invalid",
            Error::UnknownServer(_) => "unknown_server",
            Error::UnknownProfile(_) => "unknown_profile",
            Error::SecretName(_) => "invalid",
            Error::QueryAuth { .. } => "query_auth_off",
            Error::Keychain(_) => "keychain",
            Error::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
                "port_in_use"
            }
            _ => "failed",
        };
        CommandError::new(code, e.to_string())
    }
}

impl From<SecretError> for CommandError {
    fn from(e: SecretError) -> CommandError {
        CommandError::new("keychain", e.to_string())
    }
}

type Result<T, E = CommandError> = std::result::Result<T, E>;

/// The running Hub, or why there is none.
fn running(slot: &HubSlot) -> Result<Arc<Hub>> {
    slot.hub().map_err(|why| match why {
        NotRunning::Starting => CommandError::new("starting", "the proxy is starting"),
        NotRunning::Failed(message) => CommandError::new("not_running", message),
        NotRunning::Stopping => CommandError::new("stopping", "Switchboard is shutting down"),
    })
}

// === state ===

/// Everything the window shows; also the payload of the `state-changed` event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppState {
    pub proxy_enabled: bool,
    pub auth_required: bool,
    /// `http://127.0.0.1:PORT`
    pub listening: String,
    pub port: u16,
    pub settings: Settings,
    /// `/mcp`: every enabled server behind one endpoint.
    pub aggregate: EndpointView,
    pub servers: Vec<ServerView>,
    pub profiles: Vec<ProfileView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub allow_query_param_auth: bool,
    pub query_param_auth_origins: Vec<String>,
    pub start_at_login: bool,
    /// Whether "Start at login" can be changed on this platform.
    pub start_at_login_supported: bool,
    /// The app was started with `--port` or SWITCHBOARD_PORT: a launch like that uses its
    /// port, not the one saved here.
    pub port_override: Option<PortOverride>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PortOverride {
    pub port: u16,
    /// `--port` or `SWITCHBOARD_PORT`.
    pub source: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerView {
    pub name: String,
    /// `local` (a command) or `remote` (a URL).
    pub kind: &'static str,
    pub enabled: bool,
    /// `running`, `idle`, `disabled`, or `needs-sign-in` (an enabled OAuth server without a
    /// working sign-in).
    pub state: &'static str,
    pub sessions: usize,
    pub pids: Vec<u32>,
    pub starts: u64,
    pub unexpected_exits: u64,
    pub last_error: Option<String>,
    /// The endpoints (they answer 404 while the server is off).
    pub mcp_url: String,
    pub sse_url: String,
    /// As in the file: secrets appear only as `{"secret": NAME}` references.
    pub config: ServerConfig,
    /// An OAuth server's sign-in, on or off (who, until when; never a token); else `null`.
    pub auth: Option<AuthStatus>,
}

impl ServerView {
    /// Enabled, its last attempt failed, and nothing of it runs now.
    pub fn is_failing(&self) -> bool {
        self.enabled && self.last_error.is_some() && self.state != "running"
    }
}

/// The URLs of an aggregate endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    /// Streamable HTTP.
    pub mcp_url: String,
    /// Legacy HTTP+SSE.
    pub sse_url: String,
}

/// `/mcp` (`profile: None`), or a profile's `/profiles/<name>/mcp`; and their SSE twins.
pub fn aggregate_endpoint(addr: SocketAddr, profile: Option<&str>) -> EndpointView {
    let base = match profile {
        None => format!("http://{addr}"),
        Some(name) => format!("http://{addr}/profiles/{name}"),
    };
    EndpointView {
        mcp_url: format!("{base}/mcp"),
        sse_url: format!("{base}/sse"),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileView {
    pub name: String,
    /// The servers it carries, in its order.
    pub servers: Vec<String>,
    /// Whether it has a key of its own (which only `profile_key` gives out).
    pub own_key: bool,
    #[serde(flatten)]
    pub endpoint: EndpointView,
    /// As in the file, with each server's prefix and filters, so that an edit keeps them.
    pub config: Profile,
}

/// The state as the UI and the tray show it.
pub fn app_state(hub: &Hub, shell: &Shell) -> AppState {
    let config = hub.config();
    let mut status = hub.status();
    let addr = hub.local_addr();
    let servers = config
        .servers
        .iter()
        .map(|(name, server)| {
            let endpoint = Endpoint::new(addr, name);
            let found = status
                .iter()
                .position(|s| &s.name == name)
                .map(|i| status.swap_remove(i));
            let (state, sessions, pids, starts, unexpected_exits, last_error, auth) = match found {
                Some(s) => (
                    s.state,
                    s.sessions,
                    s.pids,
                    s.starts,
                    s.unexpected_exits,
                    s.diagnostics.last_error,
                    s.auth,
                ),
                None if server.enabled => ("idle", 0, Vec::new(), 0, 0, None, None),
                None => ("disabled", 0, Vec::new(), 0, 0, None, None),
            };
            ServerView {
                name: name.clone(),
                kind: if server.url.is_some() {
                    "remote"
                } else {
                    "local"
                },
                enabled: server.enabled,
                state,
                sessions,
                pids,
                starts,
                unexpected_exits,
                last_error,
                mcp_url: endpoint.mcp_url,
                sse_url: endpoint.sse_url,
                config: server.clone(),
                auth,
            }
        })
        .collect();
    let profiles = config
        .proxy
        .profiles
        .iter()
        .map(|(name, profile)| ProfileView {
            name: name.clone(),
            servers: profile.servers.keys().cloned().collect(),
            own_key: profile.own_key,
            endpoint: aggregate_endpoint(addr, Some(name)),
            config: profile.clone(),
        })
        .collect();
    AppState {
        proxy_enabled: hub.proxy_enabled(),
        auth_required: hub.auth_required(),
        listening: format!("http://{addr}"),
        port: addr.port(),
        settings: Settings {
            allow_query_param_auth: config.proxy.allow_query_param_auth,
            query_param_auth_origins: config.proxy.query_param_auth_origins.clone(),
            start_at_login: shell.autostart.is_enabled(),
            start_at_login_supported: shell.autostart.is_supported(),
            port_override: shell
                .port_override
                .map(|(port, source)| PortOverride { port, source }),
        },
        aggregate: aggregate_endpoint(addr, None),
        servers,
        profiles,
    }
}

#[tauri::command]
pub fn get_state(slot: State<'_, HubSlot>, shell: State<'_, Shell>) -> Result<AppState> {
    Ok(app_state(running(&slot)?.as_ref(), &shell))
}

// === switches ===

#[tauri::command]
pub async fn set_proxy_enabled(slot: State<'_, HubSlot>, enabled: bool) -> Result<()> {
    Ok(running(&slot)?.set_proxy_enabled(enabled).await?)
}

/// Moves the proxy to `port` now and saves it; clients must be pointed at the new URLs.
#[tauri::command]
pub async fn set_port<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    port: u16,
) -> Result<()> {
    running(&slot)?.set_port(port).await?;
    app.state_changed();
    Ok(())
}

/// "Require the API key": off lets every local program use every server.
#[tauri::command]
pub fn set_auth_required<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    required: bool,
) -> Result<()> {
    running(&slot)?.set_auth_required(required)?;
    app.state_changed();
    Ok(())
}

#[tauri::command]
pub async fn set_server_enabled(
    slot: State<'_, HubSlot>,
    name: String,
    enabled: bool,
) -> Result<()> {
    Ok(running(&slot)?.set_server_enabled(&name, enabled).await?)
}

// === servers ===

#[tauri::command]
pub async fn save_server<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
    server: ServerConfig,
    acknowledge_insecure: Option<bool>,
) -> Result<()> {
    let hub = running(&slot)?;
    // The flag and the allowlist are core's rule (Hub::save_server); the window adds only
    // the person's acknowledgement. Asked for last, so the person first learns whether the
    // server can be saved at all.
    if matches!(server.auth, UpstreamAuth::Query { .. }) && acknowledge_insecure != Some(true) {
        hub.check_server(&name, &server)?;
        return Err(CommandError::new(
            "needs_acknowledgement",
            "query-parameter auth sends the secret in the URL, where logs and proxies can see it; confirm to save",
        ));
    }
    hub.save_server(&name, server).await?;
    app.state_changed();
    Ok(())
}

#[tauri::command]
pub async fn remove_server<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
) -> Result<()> {
    running(&slot)?.remove_server(&name).await?;
    app.state_changed();
    Ok(())
}

/// What "Test connection" learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProbeView {
    pub server_name: String,
    pub server_version: String,
    pub protocol_version: String,
}

#[tauri::command]
pub async fn test_server(
    slot: State<'_, HubSlot>,
    name: String,
    server: ServerConfig,
) -> Result<ProbeView> {
    let probe = running(&slot)?
        .test_server(&name, &server)
        .await
        // Core's message is already redacted (no secrets, no upstream bodies).
        .map_err(|e| CommandError::new("test_failed", e.to_string()))?;
    Ok(ProbeView {
        server_name: probe.server_name,
        server_version: probe.server_version,
        protocol_version: probe.protocol_version,
    })
}

#[tauri::command]
pub fn server_logs(slot: State<'_, HubSlot>, name: String) -> Result<Vec<String>> {
    running(&slot)?
        .relay()
        .logs(&name)
        .ok_or_else(|| CommandError::new("unknown_server", format!("no server named '{name}'")))
}

// === OAuth sign-in ===

/// A sign-in the browser was sent to (or, when it did not open, the address to copy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInView {
    /// The authorization server's host (and port), to show before the page appears.
    pub host: String,
    /// The authorization URL, in full: the window shows it to copy.
    pub url: String,
    /// What discovery looked at, in plain words.
    pub steps: Vec<String>,
    /// Whether the system's browser opener accepted the URL.
    pub opened: bool,
}

/// Starts signing in to OAuth server `name`: discovery, registration and the authorization
/// URL (core's), checked again here, then opened in the browser. Returns at once; the
/// redirect is waited for in the background and `sign-in-finished` follows (then
/// `state-changed`). A sign-in still waiting for the same server is cancelled.
#[tauri::command]
pub async fn sign_in<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    name: String,
) -> Result<SignInView> {
    let hub = running(&slot)?;
    shell.sign_ins.cancel(&name);
    let pending = hub.start_sign_in(&name).await?;
    let url = pending.authorization_url.clone();
    crate::browser::check_sign_in_url(&url).map_err(|why| CommandError::new("failed", why))?;
    let view = SignInView {
        host: pending.host.clone(),
        url: url.to_string(),
        steps: pending.steps.clone(),
        opened: false,
    };
    log::info!(
        "'{name}': signing in at {}; waiting for the browser at {}",
        view.host,
        pending.redirect_uri()
    );
    shell.sign_ins.wait(&app, hub, &name, pending);
    // The opener waits a moment to see whether a launcher failed: off the async threads.
    let opener = app.clone();
    let opened = tauri::async_runtime::spawn_blocking(move || crate::browser::open(&opener, &url))
        .await
        .map_err(|e| e.to_string())
        .and_then(|opened| opened);
    if let Err(why) = &opened {
        // Not fatal: the window shows the address to open by hand.
        log::warn!("'{name}': the browser did not open ({why}); the window shows the address");
    }
    Ok(SignInView {
        opened: opened.is_ok(),
        ..view
    })
}

/// Signs out of OAuth server `name`: its tokens are revoked where possible and removed
/// from the keychain.
#[tauri::command]
pub async fn sign_out<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
) -> Result<()> {
    running(&slot)?.sign_out(&name).await?;
    app.state_changed();
    Ok(())
}

/// What discovery finds for OAuth server `name`, for "Test connection": as saved, or as
/// `server` defines it (the form, before it is saved).
#[tauri::command]
pub async fn auth_discovery(
    slot: State<'_, HubSlot>,
    name: String,
    server: Option<ServerConfig>,
) -> Result<AuthDiscovery> {
    let hub = running(&slot)?;
    let found = match server {
        None => hub.discover_auth(&name).await,
        Some(server) => {
            let relay = hub.relay();
            match switchboard_core::sign_in::authorizer(
                relay.context(),
                relay.options().max_frame_bytes,
                &name,
                &server,
            ) {
                Ok(authorizer) => switchboard_core::sign_in::discover(&authorizer).await,
                Err(e) => Err(e),
            }
        }
    };
    found.map_err(|e| match e {
        Error::UnknownServer(_) => e.into(),
        // Core's message is already redacted (no token, no secret, no URL query).
        e => CommandError::new("test_failed", e.to_string()),
    })
}

// === tools and profiles ===

/// What the Tools view lists.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolsView {
    /// Every tool, let through or held back, in the endpoint's order of servers.
    pub tools: Vec<ToolRow>,
    /// How many of them a client of the endpoint sees.
    pub visible: usize,
    /// Servers whose tools could not be listed.
    pub unavailable: Vec<Unavailable>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unavailable {
    pub server: String,
    pub reason: String,
}

/// The tools of `/mcp` (`profile: null`) or of a profile; of one of its servers when
/// `server` is given. Starts the servers that have not been asked yet.
#[tauri::command]
pub async fn tools(
    slot: State<'_, HubSlot>,
    profile: Option<String>,
    server: Option<String>,
) -> Result<ToolsView> {
    let inventory = running(&slot)?
        .tools(profile.as_deref(), server.as_deref())
        .await?;
    Ok(ToolsView {
        tools: inventory.tools,
        visible: inventory.visible,
        unavailable: inventory
            .unavailable
            .into_iter()
            .map(|(server, reason)| Unavailable { server, reason })
            .collect(),
    })
}

/// A tool's switch: in the server's own filter (`profile: null`, every aggregate endpoint)
/// or in a profile's. Open sessions are told at once.
#[tauri::command]
pub async fn set_tool_enabled<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    profile: Option<String>,
    server: String,
    tool: String,
    enabled: bool,
) -> Result<()> {
    running(&slot)?
        .set_tool_enabled(profile.as_deref(), &server, &tool, enabled)
        .await?;
    app.state_changed();
    Ok(())
}

/// Adds or replaces a profile; with `ownKey` its key is made in the keychain.
#[tauri::command]
pub async fn save_profile<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
    profile: Profile,
) -> Result<()> {
    running(&slot)?.save_profile(&name, profile).await?;
    app.state_changed();
    Ok(())
}

#[tauri::command]
pub async fn remove_profile<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
) -> Result<()> {
    running(&slot)?.remove_profile(&name).await?;
    app.state_changed();
    Ok(())
}

/// A profile's own key, for its copy button only.
#[tauri::command]
pub async fn profile_key(slot: State<'_, HubSlot>, name: String) -> Result<String> {
    let key = running(&slot)?.profile_key(&name).await?;
    Ok(key.expose().clone())
}

/// A new key for a profile, at once; its clients need the new one from then on.
#[tauri::command]
pub async fn rotate_profile_key<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
) -> Result<()> {
    running(&slot)?.rotate_profile_key(&name).await?;
    app.state_changed();
    Ok(())
}

// === secrets ===

/// Which secrets are set; never their values.
#[tauri::command]
pub async fn secret_status(
    slot: State<'_, HubSlot>,
    names: Vec<String>,
) -> Result<BTreeMap<String, bool>> {
    let hub = running(&slot)?;
    let mut set = BTreeMap::new();
    for name in names {
        let is_set = hub.secret_is_set(&name).await?;
        set.insert(name, is_set);
    }
    Ok(set)
}

#[tauri::command]
pub async fn set_secret<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
    value: String,
) -> Result<()> {
    let value = Sensitive::new(value);
    if value.expose().is_empty() {
        return Err(CommandError::new("invalid", "the secret is empty"));
    }
    running(&slot)?.set_secret(&name, value).await?;
    app.state_changed();
    Ok(())
}

#[tauri::command]
pub async fn delete_secret<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    name: String,
) -> Result<()> {
    running(&slot)?.delete_secret(&name).await?;
    app.state_changed();
    Ok(())
}

// === the proxy's key ===

/// The key clients send, for the reveal and copy buttons; `null` when no key is checked.
#[tauri::command]
pub async fn api_key(slot: State<'_, HubSlot>) -> Result<Option<String>> {
    let key = running(&slot)?.api_key().await?;
    Ok(key.map(|key| key.expose().clone()))
}

/// A new key, at once; clients need the new one from then on.
#[tauri::command]
pub async fn rotate_key<R: Runtime>(app: AppHandle<R>, slot: State<'_, HubSlot>) -> Result<()> {
    running(&slot)?.rotate_key().await?;
    app.state_changed();
    Ok(())
}

// === settings ===

#[tauri::command]
pub fn save_query_auth<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    enabled: bool,
    origins: Vec<String>,
) -> Result<()> {
    running(&slot)?.save_query_auth(enabled, origins)?;
    app.state_changed();
    Ok(())
}

#[tauri::command]
pub fn set_start_at_login<R: Runtime>(
    app: AppHandle<R>,
    shell: State<'_, Shell>,
    enabled: bool,
) -> Result<()> {
    if !shell.autostart.is_supported() {
        return Err(CommandError::new(
            "unsupported",
            "start at login is not available on this system",
        ));
    }
    shell
        .autostart
        .set(enabled)
        .map_err(|message| CommandError::new("failed", message))?;
    app.state_changed();
    Ok(())
}

/// Snippets for each MCP client, for server `name`, for `profile`, or (neither given) for
/// the aggregate endpoint `/mcp`; the real key only with `reveal: true`. A profile with a
/// key of its own gets that key, every other endpoint the API key.
/// `switchboard connect` reads the default config for the port: what differs here.
fn connect_options(shell: &Shell, port: u16) -> Vec<String> {
    let mut options = Vec::new();
    if let Some(path) = &shell.config_override {
        options.extend(["--config".to_owned(), path.to_string_lossy().into_owned()]);
    }
    if shell.port_override.is_some() {
        options.extend(["--port".to_owned(), port.to_string()]);
    }
    options
}

#[tauri::command]
pub async fn client_setup(
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    name: Option<String>,
    profile: Option<String>,
    reveal: bool,
) -> Result<ClientSetup> {
    let hub = running(&slot)?;
    let config = hub.config();
    let addr = hub.local_addr();
    let connect_options = connect_options(&shell, addr.port());
    let bridge = |server: Option<&str>| Bridge {
        cli: shell.cli.to_string_lossy().into_owned(),
        args: connect_args(&connect_options, server),
    };
    // The entry's name in the client's config, its URL, the profile whose own key it
    // sends (else the API key), and the stdio bridge (it reaches no profile).
    let (entry, url, own_key, bridge) = match (name.as_deref(), profile.as_deref()) {
        (Some(_), Some(_)) => {
            return Err(CommandError::new(
                "invalid",
                "ask for a server or a profile, not both",
            ));
        }
        (Some(name), None) => {
            if !config.servers.contains_key(name) {
                return Err(CommandError::new(
                    "unknown_server",
                    format!("no server named '{name}'"),
                ));
            }
            let url = hub.endpoint(name).mcp_url;
            (name.to_owned(), url, None, Some(bridge(Some(name))))
        }
        (None, Some(profile)) => {
            let own_key = match config.proxy.profiles.get(profile) {
                Some(carried) => carried.own_key.then_some(profile),
                None => return Err(Error::UnknownProfile(profile.to_owned()).into()),
            };
            let url = aggregate_endpoint(addr, Some(profile)).mcp_url;
            (profile_entry(profile), url, own_key, None)
        }
        (None, None) => {
            let url = aggregate_endpoint(addr, None).mcp_url;
            (AGGREGATE_ENTRY.to_owned(), url, None, Some(bridge(None)))
        }
    };
    let auth_required = hub.auth_required();
    let revealed = match own_key {
        _ if !reveal || !auth_required => None,
        Some(profile) => Some(hub.profile_key(profile).await?),
        None => hub.api_key().await?,
    };
    let placeholder = match own_key {
        Some(profile) => profile_key_placeholder(profile),
        None => KEY_PLACEHOLDER.to_owned(),
    };
    let key = match &revealed {
        Some(key) => Some(key.expose().as_str()),
        None if auth_required => Some(placeholder.as_str()),
        None => None,
    };
    Ok(crate::client_setup::client_setup(
        &entry,
        &url,
        key,
        bridge.as_ref(),
    ))
}

// === other clients' configs ===

/// Where other clients keep their configs, or why that is unknown.
fn places(shell: &Shell) -> Result<Places> {
    shell.places.clone().ok_or_else(|| {
        CommandError::new(
            "unsupported",
            "cannot find the home and config directories, where other apps keep their MCP configs",
        )
    })
}

fn client_arg(id: &str) -> Result<Client> {
    Client::from_id(id)
        .ok_or_else(|| CommandError::new("invalid", format!("no client called '{id}'")))
}

fn scope_arg(scope: &str) -> Result<Scope> {
    match scope {
        "user" => Ok(Scope::User),
        "project" => Ok(Scope::Project),
        other => Err(CommandError::new(
            "invalid",
            format!("the scope is 'user' or 'project', not '{other}'"),
        )),
    }
}

/// What the Import view lists: core's preview, and the clients' names as people know them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    #[serde(flatten)]
    pub preview: ImportPreview,
    /// Each client's title, by its id.
    pub titles: BTreeMap<&'static str, &'static str>,
}

/// The servers other clients' configs define (of client `from` only, when given), as they
/// would be imported. Secret values stay out: each is named, and said to move.
#[tauri::command]
pub async fn import_preview(
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    from: Option<String>,
) -> Result<ImportView> {
    let hub = running(&slot)?;
    let from = from.as_deref().map(client_arg).transpose()?;
    Ok(ImportView {
        preview: hub.import_preview(&places(&shell)?, from),
        titles: Client::ALL.iter().map(|c| (c.id(), c.title())).collect(),
    })
}

/// One server to import: its client file and its name there.
#[derive(Debug, Clone, Deserialize)]
pub struct Chosen {
    pub path: PathBuf,
    pub name: String,
}

/// Imports the chosen servers, their secret values moved into the keychain.
#[tauri::command]
pub async fn import_servers<R: Runtime>(
    app: AppHandle<R>,
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    chosen: Vec<Chosen>,
) -> Result<ImportReport> {
    let hub = running(&slot)?;
    let places = places(&shell)?;
    let chosen: Vec<(PathBuf, String)> = chosen.into_iter().map(|c| (c.path, c.name)).collect();
    let report = hub.import(&places, &chosen).await?;
    if !report.imported.is_empty() {
        app.state_changed();
    }
    Ok(report)
}

/// Every detected client file and whether Switchboard is connected to it.
#[tauri::command]
pub async fn client_list(
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
) -> Result<Vec<ClientStatus>> {
    Ok(running(&slot)?.clients(&places(&shell)?))
}

/// The change that connects a client to `/mcp` (or to `profile`), for the person to look at
/// first. The plan is kept, and `client_connect_apply` writes exactly it.
#[tauri::command]
pub async fn client_connect_preview(
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    client: String,
    scope: String,
    profile: Option<String>,
    turn_off_imported: bool,
) -> Result<Plan> {
    let hub = running(&slot)?;
    let target = ConnectTarget {
        profile,
        server: None,
        turn_off_imported,
        // Clients that start only stdio servers run the bridge, as the snippets say.
        bridge: Some((
            shell.cli.clone(),
            connect_args(&connect_options(&shell, hub.local_addr().port()), None),
        )),
    };
    let plan = hub
        .connect_plan(
            &places(&shell)?,
            client_arg(&client)?,
            scope_arg(&scope)?,
            &target,
        )
        .await?;
    plan_store(&shell).insert(plan.file.path.clone(), plan.clone());
    Ok(plan)
}

fn plan_store(shell: &Shell) -> MutexGuard<'_, HashMap<PathBuf, Plan>> {
    // A panic elsewhere while holding the lock leaves the map itself consistent.
    shell
        .connect_plans
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes the change last previewed for the client file at `path`; refused when there is
/// none, or when the file changed since the preview.
#[tauri::command]
pub async fn client_connect_apply(
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    path: PathBuf,
) -> Result<()> {
    let hub = running(&slot)?;
    // Taken: a plan is written at most once, and a refused one must be looked at again.
    let plan = plan_store(&shell).remove(&path).ok_or_else(|| {
        CommandError::new(
            "invalid",
            format!(
                "no change to {} was previewed; press Connect first",
                path.display()
            ),
        )
    })?;
    Ok(hub.connect_apply(&plan)?)
}

/// Puts a client's file back as it was before Switchboard wrote it; `force` even when it
/// changed by hand since.
#[tauri::command]
pub async fn client_undo(
    slot: State<'_, HubSlot>,
    shell: State<'_, Shell>,
    client: String,
    scope: String,
    force: bool,
) -> Result<()> {
    Ok(running(&slot)?.connect_undo(
        &places(&shell)?,
        client_arg(&client)?,
        scope_arg(&scope)?,
        force,
    )?)
}
