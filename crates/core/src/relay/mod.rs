//! The transparent relay: client sessions on one side, stdio children on the other, raw
//! JSON-RPC frames in between (see [`crate::mcp::jsonrpc`]).
//!
//! - [`Relay`] owns the servers and the table of live sessions.
//! - [`Session`] routes what a server says to the right stream of the right client.
//! - `shared` multiplexes one child across sessions for servers configured as `shared`.

pub mod aggregate;
mod backend;
pub mod modern;
mod session;
mod session_bridge;
pub use session_bridge::needs_a_session;
mod shared;
mod shared_pool;
mod spare;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

pub use session::{RequestStream, SendError, Session, StreamRx, Transport};
use shared_pool::SharedPool;

use crate::config::{Config, Limits, Profile, ServerConfig, Sharing};
use crate::error::{Error, Result};
use crate::mcp::jsonrpc;
use crate::secrets::{Resolver, SecretStore};
use crate::supervisor::{ChildSpec, Diagnostics, DiagnosticsSnapshot, ExitInfo, StopGrace};
use crate::upstream::RemoteServer;
use crate::url_policy::query_key::QueryAuthPolicy;

/// What every server of a relay shares: where secrets come from, the query-auth policy.
#[derive(Clone)]
pub struct ServerContext {
    pub secrets: Resolver,
    /// Read on every outbound request, so turning the flag off stops keys at once.
    pub query_policy: Arc<RwLock<QueryAuthPolicy>>,
    /// Bumped on every change a status view shows (sessions, children, servers), so the
    /// tray and the window follow state live without polling.
    pub changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl ServerContext {
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl ServerContext {
    /// The context for `config`'s settings; an invalid allowlist (refused when the config
    /// is loaded) allows nothing.
    pub fn new(config: &Config, secrets: Option<Arc<dyn SecretStore>>) -> ServerContext {
        let policy = QueryAuthPolicy::from_settings(
            config.proxy.allow_query_param_auth,
            &config.proxy.query_param_auth_origins,
        )
        .unwrap_or_default();
        ServerContext {
            secrets: Resolver::new(secrets),
            query_policy: Arc::new(RwLock::new(policy)),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        }
    }
}

/// Tunables of the relay, from the config (and tests).
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// A session with no request, no open stream and no activity for this long is closed.
    pub idle_timeout: Duration,
    /// The largest message accepted in either direction.
    pub max_frame_bytes: usize,
    pub stop_grace: StopGrace,
    /// The PATH children get instead of this process's own; the caller finds it (the
    /// desktop app asks its user's login shell), core never looks.
    pub child_path: Option<std::ffi::OsString>,
    /// Sessions and children (and, for the front door, connections).
    pub limits: Limits,
    /// How long a warm spare child waits for a session before it is stopped; zero: no
    /// spares (the default here; the config's default is
    /// [`crate::config::DEFAULT_SPARE_IDLE`]). See `spare.rs`.
    pub spare_idle: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            idle_timeout: crate::config::DEFAULT_IDLE_TIMEOUT,
            max_frame_bytes: crate::mcp::protocol::MAX_MESSAGE_BYTES,
            stop_grace: StopGrace::default(),
            child_path: None,
            limits: Limits::default(),
            spare_idle: Duration::ZERO,
        }
    }
}

/// One configured server as the relay runs it.
pub struct ServerRelay {
    pub name: Arc<str>,
    pub config: ServerConfig,
    max_frame_bytes: usize,
    /// The bounds that apply to this server's sessions and children.
    limits: Limits,
    secrets: Resolver,
    /// Set for a remote server (`url` in the config).
    remote: Option<Arc<RemoteServer>>,
    changes: Arc<tokio::sync::watch::Sender<u64>>,
    diagnostics: Arc<Diagnostics>,
    stop_grace: StopGrace,
    child_path: Option<std::ffi::OsString>,
    shared: Option<Arc<SharedPool>>,
    /// A stdio server's child for stateless (2026-07-28) requests, and what it speaks.
    modern: Option<Arc<modern::ModernChild>>,
    /// For an endpoint without a stateless child (remote, aggregate, profile): the session
    /// kept to carry stateless requests, and its `initialize` result (`session_bridge.rs`).
    stateless_session: tokio::sync::Mutex<Option<(Arc<Session>, serde_json::Value)>>,
    stateless_next: AtomicU64,
    /// Stateless calls waiting for their client's answers, by `requestState`.
    parked: Mutex<HashMap<String, session_bridge::Parked>>,
    /// Set for an aggregate entry (`/mcp`, a profile's): its sessions link to other servers.
    aggregate: Option<aggregate::Scope>,
    /// Its prefix and filters on the aggregate endpoints; what the aggregate reads instead
    /// of `config`'s copies, since it changes in place.
    exposure: RwLock<aggregate::Exposure>,
    spawns: AtomicU64,
    exits: AtomicU64,
    last_exit: Mutex<Option<ExitInfo>>,
    /// A child started ahead of need (per-session stdio servers in use; `spare.rs`).
    spare: Mutex<Option<spare::Spare>>,
    spare_starting: std::sync::atomic::AtomicBool,
    spare_generation: AtomicU64,
    /// Bumped by every stop of the spares: a spare asked for before it is not started.
    spare_epoch: AtomicU64,
    spare_idle: Duration,
}

impl ServerRelay {
    /// Starts one child of this server whose output goes to `sink` (the shared child's,
    /// the stateless one's): spec from the config and keychain, errors recorded for the
    /// status, the start counted. The error text is safe to show.
    pub(super) async fn spawn_child(
        &self,
        sink: std::sync::Weak<dyn crate::supervisor::ChildSink>,
    ) -> std::result::Result<Arc<crate::supervisor::ManagedChild>, String> {
        let failed = |e: String| {
            self.diagnostics.record_error(e.clone());
            e
        };
        let spec = self.child_spec().await.map_err(|e| failed(e.to_string()))?;
        let child = crate::supervisor::ManagedChild::spawn(&spec, sink, self.diagnostics.clone())
            .map_err(|e| failed(e.to_string()))?;
        self.note_spawn();
        Ok(Arc::new(child))
    }

    /// The child that serves this stdio server's stateless (2026-07-28) requests; `None`
    /// for remote servers and the aggregate endpoints.
    pub fn modern(&self) -> Option<&Arc<modern::ModernChild>> {
        self.modern.as_ref()
    }

    /// The sign-in of a remote OAuth server.
    pub fn remote_authorizer(&self) -> Option<&Arc<crate::oauth::Authorizer>> {
        self.remote.as_ref().and_then(|r| r.authorizer())
    }

    fn new(
        name: &str,
        config: &ServerConfig,
        options: &RelayOptions,
        context: &ServerContext,
    ) -> Arc<ServerRelay> {
        let name: Arc<str> = name.into();
        let changes = context.changes.clone();
        let remote = RemoteServer::from_config(
            &name,
            config,
            context.query_policy.clone(),
            options.max_frame_bytes,
            &context.secrets,
            Arc::new(move || changes.send_modify(|n| *n = n.wrapping_add(1))),
        );
        let is_remote = remote.is_some();
        Arc::new_cyclic(|me| ServerRelay {
            name,
            config: config.clone(),
            max_frame_bytes: options.max_frame_bytes,
            limits: options.limits,
            secrets: context.secrets.clone(),
            remote: remote.map(Arc::new),
            changes: context.changes.clone(),
            diagnostics: Arc::new(Diagnostics::new(
                options.limits.max_log_lines,
                options.limits.max_log_line_bytes,
            )),
            stop_grace: options.stop_grace,
            child_path: options.child_path.clone(),
            // Remote sessions map 1:1 to upstream sessions; sharing is for stdio children.
            shared: (config.sharing == Sharing::Shared && !is_remote)
                .then(|| SharedPool::new(me.clone())),
            modern: (!is_remote).then(|| {
                modern::ModernChild::new(me.clone(), options.limits.max_stream_queue_bytes)
            }),
            stateless_session: tokio::sync::Mutex::new(None),
            stateless_next: AtomicU64::new(0),
            parked: Mutex::new(HashMap::new()),
            aggregate: None,
            exposure: RwLock::new(aggregate::Exposure::of(config)),
            spawns: AtomicU64::new(0),
            exits: AtomicU64::new(0),
            last_exit: Mutex::new(None),
            spare: Mutex::new(None),
            spare_starting: std::sync::atomic::AtomicBool::new(false),
            spare_generation: AtomicU64::new(0),
            spare_epoch: AtomicU64::new(0),
            spare_idle: options.spare_idle,
        })
    }

    /// What to spawn, with secret references resolved now, at spawn time.
    pub(crate) async fn child_spec(&self) -> Result<ChildSpec> {
        let program = self
            .config
            .command
            .clone()
            .ok_or_else(|| Error::UnknownServer(self.name.to_string()))?;
        let mut env = Vec::with_capacity(self.config.env.len());
        for (key, source) in &self.config.env {
            env.push((
                key.clone(),
                self.secrets
                    .value(&self.name, source)
                    .await?
                    .expose()
                    .clone(),
            ));
        }
        Ok(ChildSpec {
            server: self.name.clone(),
            program,
            args: self.config.args.clone(),
            env,
            cwd: self.config.cwd.clone(),
            path: self.child_path.clone(),
            max_frame_bytes: self.max_frame_bytes,
            max_stdin_queue_bytes: self.limits.max_stream_queue_bytes,
        })
    }

    pub(crate) fn exposure(&self) -> aggregate::Exposure {
        self.exposure
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether each session of this server starts a child of its own.
    fn starts_own_child(&self) -> bool {
        self.remote.is_none() && self.shared.is_none() && self.aggregate.is_none()
    }

    fn note_spawn(&self) {
        self.spawns.fetch_add(1, Ordering::Relaxed);
        self.diagnostics.push_event("started a server process");
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn note_exit(&self, exit: &ExitInfo) {
        self.exits.fetch_add(1, Ordering::Relaxed);
        if exit.code != Some(0) {
            self.diagnostics
                .record_error(format!("exited unexpectedly ({exit})"));
        }
        *self.last_exit.lock().unwrap_or_else(|p| p.into_inner()) = Some(exit.clone());
        self.diagnostics
            .push_event(&format!("a server process ended ({exit})"));
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }
}

/// What `/status` and the tray show about one server.
#[derive(Debug, Clone, Serialize)]
pub struct ServerStatus {
    pub name: String,
    pub enabled: bool,
    pub sharing: Sharing,
    /// `running` with live children, `idle` when none is needed yet, `disabled`;
    /// `needs-sign-in` for an OAuth server that has no working sign-in.
    pub state: &'static str,
    pub sessions: usize,
    pub pids: Vec<u32>,
    /// The warm spare child waiting for the next session, if one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spare_pid: Option<u32>,
    /// Children started so far.
    pub starts: u64,
    /// Children that ended unexpectedly (not stopped by Switchboard).
    pub unexpected_exits: u64,
    #[serde(flatten)]
    pub diagnostics: DiagnosticsSnapshot,
    /// An OAuth server's sign-in (never a token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<crate::oauth::AuthStatus>,
    /// Which protocol eras the server speaks, once Switchboard found out (a stdio server:
    /// when a stateless client first came; a remote one: when a session first connected).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
}

/// The servers and their live sessions.
pub struct Relay {
    servers: RwLock<IndexMap<Arc<str>, Arc<ServerRelay>>>,
    sessions: Mutex<HashMap<Arc<str>, Arc<Session>>>,
    /// Sessions being opened (their child starting, their remote connecting), per server:
    /// they count against the limits before they are in `sessions`.
    opening: Mutex<HashMap<Arc<str>, usize>>,
    options: RelayOptions,
    context: ServerContext,
    /// What the aggregate endpoints share (the catalogue), and their entries where a server
    /// is expected: `*` for `/mcp`, then `*<profile>` for each profile.
    aggregate: Arc<aggregate::Aggregate>,
    aggregate_entries: RwLock<IndexMap<Arc<str>, Arc<ServerRelay>>>,
}

/// The relay's entry for an aggregate endpoint: `/mcp` (`profile: None`) or a profile's.
fn aggregate_entry(
    aggregate: &Arc<aggregate::Aggregate>,
    profile: Option<(&str, &Profile)>,
    options: &RelayOptions,
    context: &ServerContext,
) -> Arc<ServerRelay> {
    let name = profile.map_or_else(
        || aggregate::NAME.to_owned(),
        |(p, _)| aggregate::profile_entry(p),
    );
    let mut config = ServerConfig::stdio("", Vec::<String>::new());
    config.sharing = Sharing::PerSession;
    Arc::new(ServerRelay {
        aggregate: Some(aggregate::Scope::new(aggregate, profile)),
        // Not a process of its own: stateless requests are not served here yet.
        modern: None,
        ..Arc::into_inner(ServerRelay::new(&name, &config, options, context))
            .expect("a new server relay has one owner")
    })
}

/// A session being opened, counted against the limits until it drops.
struct OpeningGuard<'a> {
    relay: &'a Relay,
    server: Arc<str>,
}

impl Drop for OpeningGuard<'_> {
    fn drop(&mut self) {
        let mut opening = self.relay.opening.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = opening.get_mut(&self.server) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                opening.remove(&self.server);
            }
        }
    }
}

/// What a successful [`Relay::probe`] learned about a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Probe {
    pub server_name: String,
    pub server_version: String,
    pub protocol_version: String,
    /// Which protocol eras the server speaks: a stdio server's stateless child's probe, or
    /// what a remote server answered to `server/discover`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eras: Option<&'static str>,
}

impl Relay {
    pub fn new(config: &Config, options: RelayOptions, context: ServerContext) -> Arc<Relay> {
        let servers = config
            .servers
            .iter()
            .map(|(name, server)| {
                (
                    Arc::from(name.as_str()),
                    ServerRelay::new(name, server, &options, &context),
                )
            })
            .collect();
        Arc::new_cyclic(|me| {
            let aggregate = aggregate::Aggregate::new(me.clone());
            let mut entries = IndexMap::new();
            entries.insert(
                Arc::from(aggregate::NAME),
                aggregate_entry(&aggregate, None, &options, &context),
            );
            for (name, profile) in &config.proxy.profiles {
                entries.insert(
                    Arc::from(aggregate::profile_entry(name)),
                    aggregate_entry(&aggregate, Some((name, profile)), &options, &context),
                );
            }
            Relay {
                servers: RwLock::new(servers),
                sessions: Mutex::new(HashMap::new()),
                opening: Mutex::new(HashMap::new()),
                options,
                context,
                aggregate,
                aggregate_entries: RwLock::new(entries),
            }
        })
    }

    /// Adds or changes a profile. A change applies to its open sessions at once, with a
    /// `list_changed`.
    pub async fn put_profile(&self, name: &str, profile: &Profile) {
        let current = self
            .aggregate_entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(aggregate::profile_entry(name).as_str())
            .cloned();
        if let Some(scope) = current.as_ref().and_then(|entry| entry.aggregate.as_ref()) {
            scope.redefine(profile).await;
            self.context.changed();
            return;
        }
        let entry = aggregate_entry(
            &self.aggregate,
            Some((name, profile)),
            &self.options,
            &self.context,
        );
        let old = self
            .aggregate_entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(Arc::from(aggregate::profile_entry(name)), entry);
        if let Some(old) = old {
            self.retire(&old).await;
        }
        self.context.changed();
    }

    /// Removes a profile; its sessions end.
    pub async fn remove_profile(&self, name: &str) {
        let old = self
            .aggregate_entries
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .shift_remove(aggregate::profile_entry(name).as_str());
        if let Some(old) = old {
            self.retire(&old).await;
        }
        self.context.changed();
    }

    /// Every tool the servers of `/mcp` (`profile: None`) or of a profile have, let through
    /// or held back by the filters; of server `only` alone when given. Lists are read from
    /// the catalogue sessions (started now if they are not yet).
    pub async fn tools(
        &self,
        profile: Option<&str>,
        only: Option<&str>,
    ) -> Result<aggregate::ToolInventory> {
        let entry = match profile {
            None => self.server(aggregate::NAME)?,
            Some(profile) => self
                .server(&aggregate::profile_entry(profile))
                .map_err(|_| Error::UnknownProfile(profile.to_owned()))?,
        };
        if let Some(server) = only {
            self.server(server)?;
        }
        Ok(self.aggregate.inventory(&entry, only).await)
    }

    /// The aggregate endpoints' entries: `/mcp`'s, then each profile's.
    pub(crate) fn aggregate_entries(&self) -> Vec<Arc<ServerRelay>> {
        self.aggregate_entries
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    pub fn options(&self) -> &RelayOptions {
        &self.options
    }

    pub fn context(&self) -> &ServerContext {
        &self.context
    }

    /// A receiver that changes whenever what [`Relay::status`] reports may have changed.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.context.changes.subscribe()
    }

    /// Adds or replaces a server. The old one's sessions end (their clients get 404 and
    /// initialize again, against the new definition) and its children stop.
    ///
    /// A change to the prefix or filters alone applies in place: sessions stay open, and
    /// the aggregate's clients get a `list_changed`.
    pub async fn put_server(&self, name: &str, config: &ServerConfig) {
        let current = self
            .servers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned();
        if let Some(current) = current
            && aggregate::Exposure::only_difference(&current.config, config)
        {
            *current.exposure.write().unwrap_or_else(|p| p.into_inner()) =
                aggregate::Exposure::of(config);
            self.aggregate.exposure_changed(name);
            self.context.changed();
            return;
        }
        let server = ServerRelay::new(name, config, &self.options, &self.context);
        let old = {
            let mut servers = self.servers.write().unwrap_or_else(|p| p.into_inner());
            servers.insert(Arc::from(name), server)
        };
        if let Some(old) = old {
            self.retire(&old).await;
        }
        self.context.changed();
    }

    /// Removes a server; its sessions end and its children stop.
    pub async fn remove_server(&self, name: &str) -> bool {
        let old = {
            let mut servers = self.servers.write().unwrap_or_else(|p| p.into_inner());
            servers.shift_remove(name)
        };
        let found = old.is_some();
        if let Some(old) = old {
            self.retire(&old).await;
        }
        self.context.changed();
        found
    }

    async fn retire(&self, server: &Arc<ServerRelay>) {
        let sessions: Vec<Arc<Session>> = {
            let mut sessions = self.lock_sessions();
            let ids: Vec<Arc<str>> = sessions
                .values()
                .filter(|s| Arc::ptr_eq(&s.server, server))
                .map(|s| s.id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        let closing = sessions
            .iter()
            .map(|s| s.close("the server was changed or turned off"));
        futures::future::join_all(closing).await;
        if let Some(shared) = &server.shared {
            shared.stop(server.stop_grace).await;
        }
        if let Some(modern) = &server.modern {
            modern.stop(server.stop_grace).await;
        }
        server.stop_spare().await;
    }

    /// The server's recent stderr lines and Switchboard's own events about it, oldest
    /// first. Redacted: secrets registered with the redactor never appear.
    pub fn logs(&self, name: &str) -> Option<Vec<String>> {
        let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
        let server = servers.get(name)?;
        Some(redacted(server.diagnostics.snapshot(usize::MAX)).stderr_tail)
    }

    /// The enabled server of that name.
    /// The enabled server called `name`; [`aggregate::NAME`] is the aggregate endpoint's
    /// own entry (`/mcp`).
    pub fn server(&self, name: &str) -> Result<Arc<ServerRelay>> {
        if name.starts_with(aggregate::NAME) {
            return self
                .aggregate_entries
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .get(name)
                .cloned()
                .ok_or_else(|| Error::UnknownServer(name.to_owned()));
        }
        let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
        servers
            .get(name)
            .filter(|s| s.config.enabled)
            .cloned()
            .ok_or_else(|| Error::UnknownServer(name.to_owned()))
    }

    /// The enabled servers, in config order.
    pub fn enabled_servers(&self) -> Vec<Arc<ServerRelay>> {
        let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
        servers
            .values()
            .filter(|s| s.config.enabled)
            .cloned()
            .collect()
    }

    pub fn server_names(&self) -> Vec<Arc<str>> {
        let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
        servers
            .values()
            .filter(|s| s.config.enabled)
            .map(|s| s.name.clone())
            .collect()
    }

    /// Opens a session on `server`: its own child, a place on the shared one, or its own
    /// upstream session on a remote server.
    pub async fn open_session(
        &self,
        server: &Arc<ServerRelay>,
        transport: Transport,
    ) -> Result<Arc<Session>> {
        let session = self.open_session_for(server, transport).await?;
        // A client uses this server: keep a warm child ready for its next session.
        if server.starts_own_child() && self.room_for_spare() {
            server.replenish_spare();
        }
        Ok(session)
    }

    /// Opens a session for Switchboard's own use (the aggregate's catalogue): it may take
    /// a spare, but does not make the server count as in use.
    pub(crate) async fn open_session_for(
        &self,
        server: &Arc<ServerRelay>,
        transport: Transport,
    ) -> Result<Arc<Session>> {
        let _reserved = self.reserve_session(server)?;
        let session = Session::new(new_session_id().into(), server.clone(), transport);
        attach(&session, server).await?;
        server.diagnostics.push_event(&format!(
            "client session {} opened ({})",
            session::short(&session.id),
            match transport {
                Transport::StreamableHttp => "Streamable HTTP",
                Transport::LegacySse => "legacy HTTP+SSE",
            }
        ));
        session.touch();
        self.lock_sessions()
            .insert(session.id.clone(), session.clone());
        self.context.changed();
        Ok(session)
    }

    /// Whether one more child fits under `maxChildren` (for a spare: never at the limit).
    fn room_for_spare(&self) -> bool {
        let sessions = self.lock_sessions();
        let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
        let own = sessions
            .values()
            .filter(|s| !s.is_closed() && s.server.starts_own_child())
            .count();
        let others = servers
            .values()
            .filter(|s| {
                s.spare_pid().is_some() || s.shared.as_ref().is_some_and(|c| c.running() > 0)
            })
            .count();
        own + others < self.options.limits.max_children
    }

    /// Counts a session about to open against `switchboard.limits`, or says which bound it
    /// would pass. The count holds until the returned guard drops (by then the session is
    /// in the table, or failed).
    fn reserve_session(&self, server: &Arc<ServerRelay>) -> Result<OpeningGuard<'_>> {
        let limits = &self.options.limits;
        let sessions = self.lock_sessions();
        let mut opening = self.opening.lock().unwrap_or_else(|p| p.into_inner());
        let live: Vec<&Arc<Session>> = sessions.values().filter(|s| !s.is_closed()).collect();
        let opening_all: usize = opening.values().sum();
        let opening_here = opening.get(&server.name).copied().unwrap_or(0);
        let refuse = |what, setting, limit| {
            let error = Error::LimitReached {
                what,
                setting,
                limit,
            };
            log::warn!("'{}': a client session was refused: {error}", server.name);
            server
                .diagnostics
                .push_event(&format!("a client session was refused: {error}"));
            Err(error)
        };
        if live.len() + opening_all >= limits.max_sessions {
            return refuse("client sessions", "maxSessions", limits.max_sessions);
        }
        let here = live
            .iter()
            .filter(|s| Arc::ptr_eq(&s.server, server))
            .count();
        if here + opening_here >= limits.max_sessions_per_server {
            return refuse(
                "client sessions on one server",
                "maxSessionsPerServer",
                limits.max_sessions_per_server,
            );
        }
        if server.starts_own_child() {
            let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
            let own: usize = live.iter().filter(|s| s.server.starts_own_child()).count()
                + opening
                    .iter()
                    .filter(|(name, _)| servers.get(*name).is_some_and(|s| s.starts_own_child()))
                    .map(|(_, n)| n)
                    .sum::<usize>();
            let shared = servers
                .values()
                .filter_map(|s| s.shared.as_ref().map(|c| c.running()))
                .sum::<usize>();
            // Spares count, but this server's own is no extra child: the session takes it.
            let spares = servers
                .values()
                .filter(|s| s.spare_pid().is_some() && !Arc::ptr_eq(s, server))
                .count();
            if own + shared + spares >= limits.max_children {
                return refuse("server processes", "maxChildren", limits.max_children);
            }
        }
        *opening.entry(server.name.clone()).or_default() += 1;
        Ok(OpeningGuard {
            relay: self,
            server: server.name.clone(),
        })
    }

    /// The live session with this id on `server`. Closed sessions are forgotten here.
    pub fn session(&self, server: &str, id: &str) -> Option<Arc<Session>> {
        let mut sessions = self.lock_sessions();
        let session = sessions.get(id)?.clone();
        if session.is_closed() {
            sessions.remove(id);
            return None;
        }
        (*session.server.name == *server).then_some(session)
    }

    pub async fn close_session(&self, id: &str, reason: &str) {
        let session = self.lock_sessions().remove(id);
        if let Some(session) = session {
            session.close(reason).await;
            self.context.changed();
        }
    }

    /// Closes every session idle for longer than the configured timeout.
    pub async fn expire_idle(&self) {
        let expired: Vec<Arc<Session>> = {
            let mut sessions = self.lock_sessions();
            let ids: Vec<Arc<str>> = sessions
                .values()
                .filter(|s| s.is_closed() || s.is_idle(self.options.idle_timeout))
                .map(|s| s.id.clone())
                .collect();
            ids.iter().filter_map(|id| sessions.remove(id)).collect()
        };
        if expired.is_empty() {
            return;
        }
        for session in expired {
            session.close("idle timeout").await;
        }
        // The window and the tray show sessions and children: tell them.
        self.context.changed();
    }

    /// Stops everything: every session closes and every child is stopped, in parallel.
    pub async fn shutdown(&self) {
        let sessions: Vec<Arc<Session>> = self.lock_sessions().drain().map(|(_, s)| s).collect();
        let servers: Vec<Arc<ServerRelay>> = self
            .servers
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        let closing = sessions
            .iter()
            .map(|s| s.close("Switchboard is shutting down"));
        let stopping = servers
            .iter()
            .filter_map(|s| s.shared.as_ref().map(|shared| shared.stop(s.stop_grace)));
        let modern = servers
            .iter()
            .filter_map(|s| s.modern.as_ref().map(|modern| modern.stop(s.stop_grace)));
        let spares = servers.iter().map(|s| s.stop_spare());
        futures::future::join4(
            futures::future::join_all(closing),
            futures::future::join_all(stopping),
            futures::future::join_all(spares),
            futures::future::join_all(modern),
        )
        .await;
    }

    pub fn status(&self) -> Vec<ServerStatus> {
        let sessions: Vec<Arc<Session>> = self
            .lock_sessions()
            .values()
            .filter(|s| !s.is_closed())
            .cloned()
            .collect();
        let servers = self.servers.read().unwrap_or_else(|p| p.into_inner());
        servers
            .values()
            .map(|server| {
                let mine: Vec<&Arc<Session>> = sessions
                    .iter()
                    .filter(|s| Arc::ptr_eq(&s.server, server))
                    .collect();
                let mut pids: Vec<u32> = match &server.shared {
                    Some(shared) => shared.pids(),
                    None => mine.iter().filter_map(|s| s.pid()).collect(),
                };
                pids.extend(server.modern.as_ref().and_then(|m| m.pid()));
                pids.sort_unstable();
                let auth = server
                    .remote
                    .as_ref()
                    .and_then(|r| r.authorizer())
                    .map(|a| a.status());
                // A machine (client-credentials) server without a token yet fetches one at
                // its first use: only a refused one needs a person.
                let needs_sign_in = auth.as_ref().is_some_and(|a| match a.state {
                    crate::oauth::AuthState::NeedsSignIn => true,
                    crate::oauth::AuthState::SignedOut => !a.machine,
                    _ => false,
                });
                let state = match (server.config.enabled, pids.is_empty()) {
                    (false, _) => "disabled",
                    (true, _) if needs_sign_in => "needs-sign-in",
                    (true, false) => "running",
                    (true, true) => "idle",
                };
                ServerStatus {
                    name: server.name.to_string(),
                    enabled: server.config.enabled,
                    sharing: server.config.sharing,
                    state,
                    sessions: mine.len(),
                    pids,
                    spare_pid: server.spare_pid(),
                    starts: server.spawns.load(Ordering::Relaxed),
                    unexpected_exits: server.exits.load(Ordering::Relaxed),
                    diagnostics: redacted(server.diagnostics.snapshot(20)),
                    auth,
                    protocol: match &server.remote {
                        Some(remote) => remote.eras(),
                        None => server
                            .modern
                            .as_ref()
                            .and_then(|m| m.known_era())
                            .map(|era| era.describe()),
                    },
                }
            })
            .collect()
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Arc<Session>>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A snapshot fit to leave the process (an HTTP answer, the window, the tray): what a child
/// printed can hold the secrets it was given (a server that prints its environment), so
/// every line passes the redactor, as log lines do.
fn redacted(mut snapshot: DiagnosticsSnapshot) -> DiagnosticsSnapshot {
    let redactor = crate::redact::global();
    for line in &mut snapshot.stderr_tail {
        if let std::borrow::Cow::Owned(clean) = redactor.redact(line) {
            *line = clean;
        }
    }
    if let Some(error) = &mut snapshot.last_error
        && let std::borrow::Cow::Owned(clean) = redactor.redact(error)
    {
        *error = clean;
    }
    snapshot
}

/// Gives `session` its upstream: its own child, a place on the shared one, or its own
/// session on a remote server.
async fn attach(session: &Arc<Session>, server: &Arc<ServerRelay>) -> Result<()> {
    session.attach().await.inspect_err(|e| {
        let error = crate::redact::redact_error(e);
        server
            .diagnostics
            .push_event(&format!("a client session could not start: {error}"));
        server.diagnostics.record_error(error)
    })
}

/// How long "Test connection" waits for an `initialize` answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(30);

impl Relay {
    /// "Test connection": starts `config` exactly as a client session would (spawn or
    /// connect, credentials from the keychain, the query-parameter policy applied to every
    /// request), sends `initialize`, and stops again. The runtime path itself, not a copy.
    pub async fn probe(&self, name: &str, config: &ServerConfig) -> Result<Probe> {
        let failed = |message: String| Error::Upstream {
            server: name.to_owned(),
            message,
        };
        let mut config = config.clone();
        config.sharing = Sharing::PerSession;
        let server = ServerRelay::new(name, &config, &self.options, &self.context);
        let session = Session::new(
            new_session_id().into(),
            server.clone(),
            Transport::StreamableHttp,
        );
        attach(&session, &server).await?;
        let initialize = bytes::Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","id":"switchboard-test","method":"initialize","params":{{"protocolVersion":"2025-11-25","capabilities":{{}},"clientInfo":{{"name":"switchboard-test","version":"{}"}}}}}}"#,
            env!("CARGO_PKG_VERSION")
        ));
        let envelope = jsonrpc::Envelope::parse(&initialize).map_err(|e| failed(e.to_string()))?;
        let answer = match session
            .send_from_client(&envelope, initialize.clone(), false)
            .await
        {
            Ok(Some(mut stream)) => tokio::time::timeout(PROBE_TIMEOUT, stream.rx.recv())
                .await
                .ok()
                .flatten(),
            _ => None,
        };
        session.close("the connection test is over").await;
        let answer = answer.ok_or_else(|| failed("no answer to initialize".into()))?;
        #[derive(serde::Deserialize)]
        struct Answer {
            result: Option<serde_json::Value>,
            error: Option<serde_json::Value>,
        }
        let answer: Answer = serde_json::from_slice(&answer).map_err(|e| failed(e.to_string()))?;
        if let Some(error) = answer.error {
            let message = error["message"].as_str().unwrap_or("initialize failed");
            // Errors from the remote link already name the server.
            let prefix = format!("remote server '{name}': ");
            let message = message.strip_prefix(&prefix).unwrap_or(message);
            return Err(failed(crate::redact::redact_error(&message)));
        }
        let result = answer.result.unwrap_or_default();
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        // What a stateless client would get: its own child, probed with server/discover.
        let eras = match &server.modern {
            Some(modern) => {
                let era = tokio::time::timeout(PROBE_TIMEOUT, modern.probe_era()).await;
                modern.stop(server.stop_grace).await;
                era.ok().and_then(|e| e.ok()).map(|era| era.describe())
            }
            // A remote server was asked server/discover by the probe's own initialize.
            None => server.remote.as_ref().and_then(|r| r.eras()),
        };
        Ok(Probe {
            server_name: text(&result["serverInfo"]["name"]),
            server_version: text(&result["serverInfo"]["version"]),
            protocol_version: text(&result["protocolVersion"]),
            eras,
        })
    }
}

/// 256 random bits from the OS, hex-encoded: visible ASCII as the spec requires, and
/// unguessable, since a session id is all that stands between two local clients.
fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
