//! `switchboard connect [<name>]`: a stdio ↔ Streamable HTTP bridge for clients that can only
//! start stdio servers (Claude Desktop). It reads newline-delimited JSON-RPC on stdin, POSTs
//! each message to `http://127.0.0.1:<port>/servers/<name>/mcp` (with no name, the aggregate
//! of every enabled server, `/mcp`) with the API key, and writes
//! everything the proxy sends back (answers, notifications, server→client requests, the GET
//! stream) to stdout, one message per line.
//!
//! The HTTP side is core's one MCP client session, [`mcp::client::Client`] (the bridge is its
//! [`Inbound`] sink, the API key its [`Credentials`]); this module keeps the stdio side and
//! what only a bridge needs: answering every request, and replacing a forgotten session.
//!
//! - The port comes from `--port`, else `SWITCHBOARD_PORT`, else the config file
//!   (`--config`, else `SWITCHBOARD_CONFIG`, else the default one), else the default port:
//!   the rule `serve` follows, so the bridge finds a proxy started in the same environment.
//!   The key comes from `SWITCHBOARD_API_KEY`, else the OS keychain (as `switchboard key
//!   show` finds it).
//! - Requests run concurrently: a slow `tools/call` does not hold up a `ping`. Notifications
//!   and responses are sent in stdin order, so `notifications/initialized` precedes what
//!   follows it.
//! - stdout carries nothing but JSON-RPC: one writer thread, whole lines only; logs go to
//!   stderr.
//! - Every request gets an answer: the server's, or a JSON-RPC error with its id when it
//!   cannot be sent or its stream ends without one.
//! - When the proxy forgets the session (404, e.g. after a restart), the bridge re-sends the
//!   client's `initialize` (under an id of its own, its answer kept from the client) and
//!   `notifications/initialized`, and carries on with a new session, invisibly to the client.
//! - stdin EOF: answers still on their way get a few seconds, then the session ends (DELETE)
//!   and the bridge exits 0. SIGTERM and Ctrl-C end it at once.
//!
//! [`mcp::client::Client`]: Client

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use switchboard_core::api_key;
use switchboard_core::config::{Config, DEFAULT_PORT};
use switchboard_core::mcp::client::{self, Client, Credentials, Inbound, SendFailure, ServerError};
use switchboard_core::mcp::jsonrpc::{self, Envelope, FrameError, Kind};
use switchboard_core::mcp::protocol::MAX_MESSAGE_BYTES;
use switchboard_core::mcp::protocol::code::{INVALID_REQUEST, PARSE_ERROR};
use switchboard_core::startup::{self, ConfigSource, LaunchEnv};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use url::Url;

/// JSON-RPC "internal error": the code of answers the bridge makes up itself.
const BRIDGE_ERROR: i32 = switchboard_core::mcp::protocol::code::INTERNAL_ERROR;
/// After stdin closes, answers already on their way may still reach a reader that only
/// closed its end of stdin (`printf … | switchboard connect x`).
const EOF_GRACE: Duration = Duration::from_secs(5);
/// Bounds the final flush so a wedged reader cannot keep us alive (the DELETE that ends the
/// session is bounded by the client).
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// Runs the bridge until stdin closes or a stop signal arrives.
/// `name`: a server, or `None` for the aggregate endpoint (`/mcp`).
pub fn run(config: Option<PathBuf>, port: Option<u16>, name: Option<&str>) -> anyhow::Result<()> {
    let env = LaunchEnv::from_process();
    let port = match startup::port_override(port, &env)? {
        Some(given) => given.port,
        None => configured_port(config, &env)?,
    };
    let mut url =
        Url::parse(&format!("http://127.0.0.1:{port}/")).context("cannot build the proxy URL")?;
    {
        let mut path = url
            .path_segments_mut()
            .map_err(|()| anyhow::anyhow!("cannot build the proxy URL"))?;
        match name {
            Some(name) => path.extend(["servers", name, "mcp"]),
            None => path.extend(["mcp"]),
        };
    }
    let name = name.unwrap_or("all servers");
    let mut headers = HeaderMap::new();
    match api_key_value() {
        Some(value) => {
            headers.insert(header::AUTHORIZATION, value);
        }
        None => log::warn!(
            "no API key: set SWITCHBOARD_API_KEY to the key the proxy uses (`switchboard key show`)"
        ),
    }
    let http = reqwest::Client::builder()
        // Loopback only: an HTTP(S)_PROXY from the environment must never see the key.
        .no_proxy()
        // The key goes to this port and nowhere else.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .context("cannot create the HTTP client")?;
    log::debug!("bridging stdio to {url}");
    let endpoint = Arc::new(client::Endpoint {
        name: name.into(),
        url,
        transport: client::Transport::StreamableHttp,
        http,
        max_message_bytes: MAX_MESSAGE_BYTES,
        // The proxy is Switchboard itself: its error answers say what to fix.
        keeps_error_bodies: true,
        eras: client::EraProbe::session_only(),
    });

    let (out, out_rx) = mpsc::unbounded_channel();
    let (in_tx, input) = mpsc::channel(16);
    spawn_stdout_writer(out_rx);
    spawn_stdin_reader(in_tx);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let bridge = Bridge::new(endpoint, Arc::new(ProxyKey { headers }), port, out);
        bridge.run(input).await
    });
    // Nothing may wait for tasks still parked on the network once we are done.
    runtime.shutdown_background();
    result
}

/// `switchboard.port` from the config file; the default port when the default config file
/// does not exist (a config named explicitly must).
fn configured_port(given: Option<PathBuf>, env: &LaunchEnv) -> anyhow::Result<u16> {
    let Ok((path, source)) = startup::config_path(given, env, super::default_config_path()) else {
        // No file named and no config directory to look in.
        return Ok(DEFAULT_PORT);
    };
    if source == ConfigSource::Default && !path.exists() {
        return Ok(DEFAULT_PORT);
    }
    let config = Config::load(&path)?;
    Ok(config.proxy.port.unwrap_or(DEFAULT_PORT))
}

/// `Bearer <key>` from SWITCHBOARD_API_KEY, else from the OS keychain.
fn api_key_value() -> Option<HeaderValue> {
    let key = match std::env::var("SWITCHBOARD_API_KEY") {
        Ok(key) if !key.is_empty() => key,
        _ => {
            let found = super::open_keychain()
                .and_then(|store| Ok(api_key::load_or_create(store.as_ref())?));
            match found {
                Ok(key) => key.expose().clone(),
                Err(e) => {
                    log::warn!("cannot read the API key from the keychain: {e:#}");
                    return None;
                }
            }
        }
    };
    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
        .inspect_err(|_| log::warn!("the API key is not valid in an HTTP header"))
        .ok()?;
    value.set_sensitive(true);
    Some(value)
}

/// The bridge's policy for every request: the API key, the URL as it is.
struct ProxyKey {
    headers: HeaderMap,
}

impl Credentials for ProxyKey {
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    fn url(&self, url: &Url) -> Result<Url, String> {
        Ok(url.clone())
    }

    fn endpoint(&self, _sse_url: &Url, _announced: &str) -> Result<Url, String> {
        Err(
            "`switchboard connect` speaks Streamable HTTP only, not the legacy SSE transport"
                .into(),
        )
    }
}

/// What goes to the stdout thread.
enum Out {
    Line(Bytes),
    /// Flush, answer, and stop.
    Finish(oneshot::Sender<()>),
}

/// The only writer of stdout, so lines never interleave.
fn spawn_stdout_writer(mut rx: mpsc::UnboundedReceiver<Out>) {
    std::thread::spawn(move || {
        let stdout = std::io::stdout();
        let mut writer = std::io::BufWriter::new(stdout.lock());
        while let Some(item) = rx.blocking_recv() {
            match item {
                Out::Line(line) => {
                    // Flush only when nothing else is queued: bursts go out together, a lone
                    // message is never held back.
                    let written = writer
                        .write_all(&line)
                        .and_then(|()| writer.write_all(b"\n"))
                        .and_then(|()| {
                            if rx.is_empty() {
                                writer.flush()
                            } else {
                                Ok(())
                            }
                        });
                    if let Err(e) = written {
                        log::warn!("cannot write to stdout ({e}); the client has gone");
                        return;
                    }
                }
                Out::Finish(done) => {
                    let _ = writer.flush();
                    let _ = done.send(());
                    return;
                }
            }
        }
    });
}

/// Blocking reads on their own thread: a pending read never delays the exit.
fn spawn_stdin_reader(tx: mpsc::Sender<Vec<u8>>) {
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let mut line = Vec::new();
            match input.read_until(b'\n', &mut line) {
                Ok(0) => return,
                Ok(_) => {
                    if tx.blocking_send(line).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    log::warn!("cannot read stdin: {e}");
                    return;
                }
            }
        }
    });
}

/// A JSON-RPC error for the client.
#[derive(Debug)]
struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
        Failure {
            code: BRIDGE_ERROR,
            message: message.into(),
        }
    }
}

/// How a request the bridge waits on came out.
#[derive(Debug)]
enum Outcome {
    /// Its answer arrived (and, unless it is the bridge's own, went to stdout). For the
    /// bridge's own requests, the error it carried.
    Answered { error: Option<ServerError> },
    /// Its stream ended without one, or its session was replaced.
    Unanswered(String),
}

/// A request sent and not answered yet.
struct Pending {
    /// The bridge's own (a replayed `initialize`): its answer is kept from the client.
    own: bool,
    /// The session it was sent on.
    generation: u64,
    done: oneshot::Sender<Outcome>,
}

struct SessionState {
    client: Arc<Client>,
    /// Bumped with every new session, so concurrent 404s reconnect only once.
    generation: u64,
    /// The client's `initialize`, re-sent when the proxy forgets the session.
    initialize: Option<Bytes>,
    /// Whether the client sent `notifications/initialized` (a new session needs it too).
    initialized: bool,
}

struct Bridge {
    endpoint: Arc<client::Endpoint>,
    credentials: Arc<ProxyKey>,
    port: u16,
    out: mpsc::UnboundedSender<Out>,
    state: Mutex<SessionState>,
    /// By id key (the id's JSON text).
    pending: Mutex<HashMap<Box<str>, Pending>>,
    reconnecting: tokio::sync::Mutex<()>,
    /// Numbers the bridge's own request ids.
    own_ids: AtomicU64,
    me: Weak<Bridge>,
}

impl Bridge {
    fn new(
        endpoint: Arc<client::Endpoint>,
        credentials: Arc<ProxyKey>,
        port: u16,
        out: mpsc::UnboundedSender<Out>,
    ) -> Arc<Bridge> {
        Arc::new_cyclic(|me: &Weak<Bridge>| {
            let inbound: Weak<dyn Inbound> = me.clone();
            Bridge {
                state: Mutex::new(SessionState {
                    // Sends nothing until the client does.
                    client: Client::new(endpoint.clone(), credentials.clone(), inbound),
                    generation: 0,
                    initialize: None,
                    initialized: false,
                }),
                endpoint,
                credentials,
                port,
                out,
                pending: Mutex::new(HashMap::new()),
                reconnecting: tokio::sync::Mutex::new(()),
                own_ids: AtomicU64::new(1),
                me: me.clone(),
            }
        })
    }

    async fn run(self: &Arc<Self>, input: mpsc::Receiver<Vec<u8>>) -> anyhow::Result<()> {
        let result = self.pump(input).await;
        let client = self.state().client.clone();
        client.close().await;
        // Whatever was answered reaches the client before we exit, fatal error or not.
        let (done, flushed) = oneshot::channel();
        if self.out.send(Out::Finish(done)).is_ok() {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, flushed).await;
        }
        result
    }

    /// Reads stdin until EOF or a stop signal. Fails only when the first `initialize` shows
    /// that there is nothing to talk to.
    async fn pump(self: &Arc<Self>, mut input: mpsc::Receiver<Vec<u8>>) -> anyhow::Result<()> {
        let stop = stop_signal();
        tokio::pin!(stop);
        let mut requests = JoinSet::new();
        loop {
            let line = tokio::select! {
                line = input.recv() => line,
                () = &mut stop => return Ok(()),
            };
            let Some(line) = line else { break };
            while requests.try_join_next().is_some() {}
            let Some(line) = trim(line) else { continue };
            let body = Bytes::from(line);
            let (kind, is_initialize, is_initialized) = match parse_client_message(&body) {
                Ok(envelope) => {
                    let method = envelope.method.as_deref();
                    (
                        envelope.kind,
                        method == Some("initialize"),
                        method == Some("notifications/initialized"),
                    )
                }
                Err((id, failure)) => {
                    self.emit_error(id.as_deref(), failure);
                    continue;
                }
            };
            let handled = async {
                match kind {
                    Kind::Request if is_initialize => return self.initialize(body).await,
                    Kind::Request => {
                        let bridge = Arc::clone(self);
                        requests.spawn(async move { bridge.request(body).await });
                    }
                    Kind::Notification => self.notify(body, is_initialized).await,
                    Kind::Response => self.respond(body).await,
                }
                Ok(())
            };
            // What is handled in line (initialize, notifications) may wait on the proxy;
            // a stop signal must not.
            tokio::select! {
                handled = handled => handled?,
                () = &mut stop => return Ok(()),
            }
        }
        // stdin closed; a signal still ends the wait at once.
        let drain = async { while requests.join_next().await.is_some() {} };
        tokio::select! {
            _ = tokio::time::timeout(EOF_GRACE, drain) => {}
            () = &mut stop => {}
        }
        Ok(())
    }

    fn state(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<Box<str>, Pending>> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session messages go to now, and its generation.
    fn current(&self) -> (Arc<Client>, u64) {
        let state = self.state();
        (state.client.clone(), state.generation)
    }

    fn new_client(&self) -> Arc<Client> {
        let inbound: Weak<dyn Inbound> = self.me.clone();
        Client::new(self.endpoint.clone(), self.credentials.clone(), inbound)
    }

    /// Waits for the answer to request `key`, sent on session `generation`. Refuses an id
    /// already waiting: its answer could not be told apart.
    fn expect_answer(
        &self,
        key: &str,
        own: bool,
        generation: u64,
    ) -> Result<oneshot::Receiver<Outcome>, Failure> {
        let mut pending = self.pending();
        if pending.contains_key(key) {
            return Err(Failure {
                code: INVALID_REQUEST,
                message: "A request with this id is already in flight in this session".into(),
            });
        }
        let (done, outcome) = oneshot::channel();
        pending.insert(
            key.into(),
            Pending {
                own,
                generation,
                done,
            },
        );
        Ok(outcome)
    }

    fn forget(&self, key: &str) {
        self.pending().remove(key);
    }

    /// The client's `initialize` opens a new session. No proxy, an unknown server or a
    /// refused key end the bridge: the client cannot do anything useful through it.
    async fn initialize(self: &Arc<Self>, frame: Bytes) -> anyhow::Result<()> {
        let Ok(envelope) = Envelope::parse(&frame) else {
            return Ok(());
        };
        let id = envelope.id;
        let key = envelope.id_key().unwrap_or("null");
        let client = self.new_client();
        let (old, generation) = {
            let mut state = self.state();
            state.generation += 1;
            state.initialized = false;
            let old = std::mem::replace(&mut state.client, client.clone());
            (old, state.generation)
        };
        self.replaced(old, generation - 1);
        let answered = match self.expect_answer(key, false, generation) {
            Ok(answered) => answered,
            Err(failure) => {
                self.emit_error(id, failure);
                return Ok(());
            }
        };
        if let Err(failure) = client.send(&envelope, frame.clone()).await {
            self.forget(key);
            if let Some(message) = self.fatal(&failure) {
                self.emit_error(id, Failure::new(message.clone()));
                anyhow::bail!(message);
            }
            let failure = self.failure(failure);
            log::warn!("initialize failed: {}", failure.message);
            self.emit_error(id, failure);
            return Ok(());
        }
        self.state().initialize = Some(frame.clone());
        let why = match answered.await {
            Ok(Outcome::Answered { .. }) => return Ok(()),
            Ok(Outcome::Unanswered(why)) => why,
            Err(_) => "no answer".to_owned(),
        };
        self.emit_error(
            id,
            Failure::new(format!("Switchboard did not answer initialize: {why}")),
        );
        Ok(())
    }

    /// A new `initialize` replaced session `generation`: it ends, and its requests get an
    /// error now (ending it stops their streams).
    fn replaced(&self, old: Arc<Client>, generation: u64) {
        let orphans: Vec<Pending> = {
            let mut pending = self.pending();
            let keys: Vec<Box<str>> = pending
                .iter()
                .filter(|(_, p)| p.generation == generation)
                .map(|(k, _)| k.clone())
                .collect();
            keys.iter().filter_map(|k| pending.remove(k)).collect()
        };
        for orphan in orphans {
            let _ = orphan.done.send(Outcome::Unanswered(
                "the client started a new session".into(),
            ));
        }
        tokio::spawn(async move { old.close().await });
    }

    /// What ends the bridge when its first `initialize` meets it.
    fn fatal(&self, failure: &SendFailure) -> Option<String> {
        let port = self.port;
        match failure {
            SendFailure::Unreachable { .. } => Some(self.unreachable(failure)),
            SendFailure::Status {
                status: StatusCode::NOT_FOUND,
                ..
            } => Some(format!(
                "Switchboard on 127.0.0.1:{port} has no enabled server named '{}' (check the name, or add it with `switchboard add`)",
                self.endpoint.name
            )),
            SendFailure::Status {
                status: StatusCode::UNAUTHORIZED,
                ..
            } => Some(format!(
                "Switchboard on 127.0.0.1:{port} refused the API key: set SWITCHBOARD_API_KEY to the key it uses (`switchboard key show`)"
            )),
            SendFailure::Status {
                status: StatusCode::FORBIDDEN,
                ..
            } => Some(format!(
                "Switchboard on 127.0.0.1:{port} refused the connection: {}",
                self.failure(failure.clone()).message
            )),
            _ => None,
        }
    }

    /// One client request, answered on its own task. Whatever goes wrong, the client gets
    /// an answer with the request's id.
    async fn request(self: Arc<Self>, frame: Bytes) {
        let Ok(envelope) = Envelope::parse(&frame) else {
            return;
        };
        let outcome = match self.send_request(&envelope, &frame).await {
            Ok(answered) => answered.await,
            Err(failure) => {
                log::warn!("{}", failure.message);
                self.emit_error(envelope.id, failure);
                return;
            }
        };
        let why = match outcome {
            Ok(Outcome::Answered { .. }) => return,
            Ok(Outcome::Unanswered(why)) => why,
            Err(_) => "no answer".to_owned(),
        };
        let failure = Failure::new(format!("Switchboard did not answer the request: {why}"));
        log::warn!("{}", failure.message);
        self.emit_error(envelope.id, failure);
    }

    /// Sends a request, on a new session if the proxy forgot the current one.
    async fn send_request(
        self: &Arc<Self>,
        envelope: &Envelope<'_>,
        frame: &Bytes,
    ) -> Result<oneshot::Receiver<Outcome>, Failure> {
        let key = envelope.id_key().unwrap_or("null");
        let (mut client, generation) = self.current();
        let answered = self.expect_answer(key, false, generation)?;
        let mut retried = false;
        loop {
            match client.send(envelope, frame.clone()).await {
                Ok(()) => return Ok(answered),
                Err(SendFailure::SessionExpired) if !retried => {
                    retried = true;
                    let stale = self.pending().get(key).map(|p| p.generation);
                    if let Err(failure) = self.reconnect(stale.unwrap_or(generation)).await {
                        self.forget(key);
                        return Err(failure);
                    }
                    let (fresh, generation) = self.current();
                    client = fresh;
                    if let Some(pending) = self.pending().get_mut(key) {
                        pending.generation = generation;
                    }
                }
                Err(failure) => {
                    self.forget(key);
                    return Err(self.failure(failure));
                }
            }
        }
    }

    /// Notifications go out in stdin order, before anything read after them.
    async fn notify(self: &Arc<Self>, frame: Bytes, initialized: bool) {
        if initialized {
            self.state().initialized = true;
        }
        let Ok(envelope) = Envelope::parse(&frame) else {
            return;
        };
        let (client, generation) = self.current();
        match client.send(&envelope, frame.clone()).await {
            Ok(()) => {}
            Err(SendFailure::SessionExpired) => match self.reconnect(generation).await {
                // A new session gets `initialized` from reconnect itself.
                Ok(()) if initialized => {}
                Ok(()) => {
                    let (client, _) = self.current();
                    if let Err(failure) = client.send(&envelope, frame.clone()).await {
                        log::warn!(
                            "Switchboard refused a notification: {}",
                            self.failure(failure).message
                        );
                    }
                }
                Err(failure) => log::warn!("{}", failure.message),
            },
            Err(failure) => log::warn!(
                "Switchboard refused a notification: {}",
                self.failure(failure).message
            ),
        }
    }

    /// The client's answer to a server→client request (sampling, elicitation, roots).
    async fn respond(&self, frame: Bytes) {
        let Ok(envelope) = Envelope::parse(&frame) else {
            return;
        };
        let (client, _) = self.current();
        match client.send(&envelope, frame.clone()).await {
            Ok(()) => {}
            // The question came from a session the proxy has forgotten; nobody waits for it.
            Err(SendFailure::SessionExpired) => {
                log::warn!("dropped an answer for an expired session");
            }
            Err(failure) => log::warn!(
                "Switchboard refused an answer: {}",
                self.failure(failure).message
            ),
        }
    }

    /// Replaces a session the proxy no longer knows: the client's own `initialize` again
    /// (under an id of the bridge's), then `initialized`, which opens the GET stream.
    /// Concurrent callers share one reconnect.
    async fn reconnect(self: &Arc<Self>, stale: u64) -> Result<(), Failure> {
        let _one_at_a_time = self.reconnecting.lock().await;
        let (initialize, initialized) = {
            let state = self.state();
            if state.generation != stale {
                return Ok(()); // another request already reconnected
            }
            (state.initialize.clone(), state.initialized)
        };
        let Some(initialize) = initialize else {
            return Err(Failure::new(
                "Switchboard ended the session and there is no initialize to start a new one",
            ));
        };
        log::info!(
            "Switchboard no longer knows this session (was it restarted?); starting a new one"
        );
        let not_started = |why: &str| {
            Failure::new(format!(
                "the session expired and a new one could not be started: {why}"
            ))
        };
        let n = self.own_ids.fetch_add(1, Ordering::Relaxed);
        let id = jsonrpc::raw(format!("\"switchboard-connect-initialize-{n}\""));
        let frame = jsonrpc::rewrite(&initialize, &["id"], &id)
            .ok_or_else(|| not_started("the client's initialize has no id"))?;
        let envelope =
            Envelope::parse(&frame).map_err(|e| not_started(&format!("its initialize is {e}")))?;
        let client = self.new_client();
        let answered = self.expect_answer(id.get(), true, stale + 1)?;
        if let Err(failure) = client.send(&envelope, frame.clone()).await {
            self.forget(id.get());
            return Err(not_started(&self.failure(failure).message));
        }
        match answered.await {
            Ok(Outcome::Answered { error: None }) => {}
            Ok(Outcome::Answered { error: Some(error) }) => {
                return Err(not_started(&error.message));
            }
            Ok(Outcome::Unanswered(_)) | Err(_) => {
                return Err(Failure::new(
                    "the session expired and Switchboard did not answer a new initialize",
                ));
            }
        }
        // `initialized` reaches the new session before any request that waits for it.
        if initialized {
            let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
            if let Ok(envelope) = Envelope::parse(note)
                && let Err(failure) = client.send(&envelope, Bytes::from_static(note)).await
            {
                log::warn!("{}", self.failure(failure).message);
            }
        }
        let mut state = self.state();
        state.client = client;
        state.generation = stale + 1;
        Ok(())
    }

    /// A failure to send, as an error for the client.
    fn failure(&self, failure: SendFailure) -> Failure {
        match failure {
            SendFailure::Unreachable { .. } => Failure::new(self.unreachable(&failure)),
            SendFailure::Status {
                status,
                error: Some(error),
                ..
            } => Failure {
                code: i32::try_from(error.code).unwrap_or(BRIDGE_ERROR),
                message: format!("Switchboard answered HTTP {status}: {}", error.message),
            },
            SendFailure::Status { status, .. } => {
                Failure::new(format!("Switchboard answered HTTP {status}"))
            }
            SendFailure::SessionExpired => Failure::new("Switchboard no longer knows this session"),
            SendFailure::Failed(message) => Failure::new(message),
        }
    }

    fn unreachable(&self, failure: &SendFailure) -> String {
        match failure {
            SendFailure::Unreachable {
                connect: true,
                cause,
                ..
            } => format!(
                "cannot reach Switchboard on 127.0.0.1:{} ({cause}). Start Switchboard (the desktop app, or `switchboard serve`) and try again",
                self.port
            ),
            SendFailure::Unreachable { cause, .. } => {
                format!("the request to Switchboard failed: {cause}")
            }
            other => other.message().to_owned(),
        }
    }

    fn emit(&self, line: Bytes) {
        // Fails only when stdout is gone, and then there is no one to tell.
        let _ = self.out.send(Out::Line(line));
    }

    fn emit_error(&self, id: Option<&RawValue>, failure: Failure) {
        self.emit(jsonrpc::error_response(id, failure.code, &failure.message));
    }
}

/// What the proxy sends: to stdout, one line each, except the answers to the bridge's own
/// requests; an answer settles the request that waits for it.
impl Inbound for Bridge {
    fn on_message(&self, frame: Bytes) {
        if frame.iter().all(u8::is_ascii_whitespace) {
            return; // an SSE priming event
        }
        let envelope = match Envelope::parse(&frame) {
            Ok(envelope) => envelope,
            // Not ours to judge: JSON the client may know goes through.
            Err(FrameError::Invalid(_) | FrameError::Batch) => {
                self.emit(frame);
                return;
            }
            Err(FrameError::Parse(_)) => {
                log::warn!("dropped a message from Switchboard that is not JSON");
                return;
            }
        };
        let waiting = match (envelope.kind, envelope.id_key()) {
            (Kind::Response, Some(key)) => self.pending().remove(key),
            _ => None,
        };
        match waiting {
            Some(own) if own.own => {
                let error = serde_json::from_slice::<ErrorAnswer>(&frame)
                    .ok()
                    .and_then(|a| a.error);
                let _ = own.done.send(Outcome::Answered { error });
            }
            Some(request) => {
                self.emit(frame);
                let _ = request.done.send(Outcome::Answered { error: None });
            }
            None => self.emit(frame),
        }
    }

    fn on_unanswered(&self, id_key: &str, message: &str) {
        if let Some(request) = self.pending().remove(id_key) {
            let _ = request.done.send(Outcome::Unanswered(message.to_owned()));
        }
    }

    fn on_ended(&self, message: &str) {
        // The next message meets 404 and starts a new session.
        log::debug!("{message}");
    }
}

/// An answer, for its error.
#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error: Option<ServerError>,
}

/// The line without its line ending; `None` for a blank line.
fn trim(mut line: Vec<u8>) -> Option<Vec<u8>> {
    while line.last().is_some_and(u8::is_ascii_whitespace) {
        line.pop();
    }
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    line.drain(..start);
    Some(line)
}

/// One line from the client as a JSON-RPC message, or the error to answer it with (and the
/// id to answer, when there is one).
fn parse_client_message(line: &[u8]) -> Result<Envelope<'_>, (Option<Box<RawValue>>, Failure)> {
    // A JSON array would be a batch; batches are not part of the protocol versions the proxy
    // serves.
    if line.first() != Some(&b'{') {
        let code = if serde_json::from_slice::<IgnoredAny>(line).is_ok() {
            INVALID_REQUEST
        } else {
            PARSE_ERROR
        };
        let failure = Failure {
            code,
            message: "each line must be one JSON-RPC message (a JSON object)".to_owned(),
        };
        return Err((None, failure));
    }
    Envelope::parse(line).map_err(|e| match e {
        FrameError::Parse(detail) => (
            None,
            Failure {
                code: PARSE_ERROR,
                message: format!("Parse error: {detail}"),
            },
        ),
        other => {
            #[derive(Deserialize)]
            struct Id {
                #[serde(default)]
                id: Option<Box<RawValue>>,
            }
            let id = serde_json::from_slice::<Id>(line).ok().and_then(|i| i.id);
            let failure = Failure {
                code: INVALID_REQUEST,
                message: format!("Invalid Request: {other}"),
            };
            (id, failure)
        }
    })
}

/// SIGTERM or Ctrl-C.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_lines_are_classified() {
        let request = parse_client_message(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#)
            .expect("request");
        assert_eq!(request.id_key(), Some(r#""a""#));
        assert_eq!(request.kind, Kind::Request);
        assert_eq!(request.method.as_deref(), Some("ping"));
        let response =
            parse_client_message(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).expect("response");
        assert_eq!(response.kind, Kind::Response);
        let (_, batch) = parse_client_message(b"[1]").expect_err("batch");
        assert_eq!(batch.code, INVALID_REQUEST);
        let (_, garbage) = parse_client_message(b"{nope").expect_err("garbage");
        assert_eq!(garbage.code, PARSE_ERROR);
        // Not JSON-RPC: answered with the id it carries.
        let (id, invalid) =
            parse_client_message(br#"{"id":4,"method":"x","result":1}"#).expect_err("invalid");
        assert_eq!(invalid.code, INVALID_REQUEST);
        assert_eq!(id.as_deref().map(RawValue::get), Some("4"));
        assert_eq!(trim(b"  {}\r\n".to_vec()), Some(b"{}".to_vec()));
        assert_eq!(trim(b" \r\n".to_vec()), None);
    }

    /// A bridge to a port nothing listens on (nothing here sends), and what it writes.
    fn bridge() -> (Arc<Bridge>, mpsc::UnboundedReceiver<Out>) {
        let endpoint = Arc::new(client::Endpoint {
            name: "demo".into(),
            url: Url::parse("http://127.0.0.1:9/servers/demo/mcp").expect("url"),
            transport: client::Transport::StreamableHttp,
            http: reqwest::Client::new(),
            max_message_bytes: MAX_MESSAGE_BYTES,
            keeps_error_bodies: true,
            eras: client::EraProbe::session_only(),
        });
        let key = Arc::new(ProxyKey {
            headers: HeaderMap::new(),
        });
        let (out, written) = mpsc::unbounded_channel();
        (Bridge::new(endpoint, key, 9, out), written)
    }

    fn lines(written: &mut mpsc::UnboundedReceiver<Out>) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(Out::Line(line)) = written.try_recv() {
            lines.push(String::from_utf8_lossy(&line).into_owned());
        }
        lines
    }

    #[test]
    fn answers_reach_stdout_and_settle_their_request() {
        let (bridge, mut written) = bridge();
        let mut answered = bridge
            .expect_answer("7", false, 0)
            .expect("not waiting yet");
        assert!(
            bridge.expect_answer("7", false, 0).is_err(),
            "one request per id"
        );
        bridge.on_message(Bytes::from_static(b""));
        bridge.on_message(Bytes::from_static(b"not json"));
        bridge.on_message(Bytes::from_static(br#"{"jsonrpc":"2.0","method":"note"}"#));
        assert!(
            answered.try_recv().is_err(),
            "a notification answers nothing"
        );
        bridge.on_message(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
        ));
        assert!(matches!(
            answered.try_recv(),
            Ok(Outcome::Answered { error: None })
        ));
        // The stream that carried it ends later: nothing more happens.
        bridge.on_unanswered("7", "closed");
        assert_eq!(
            lines(&mut written),
            [
                r#"{"jsonrpc":"2.0","method":"note"}"#,
                r#"{"jsonrpc":"2.0","id":7,"result":{}}"#
            ]
        );
    }

    #[test]
    fn the_bridges_own_answers_are_kept_from_the_client() {
        let (bridge, mut written) = bridge();
        let mut answered = bridge
            .expect_answer(r#""switchboard-connect-initialize-1""#, true, 1)
            .expect("not waiting yet");
        bridge.on_message(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":"switchboard-connect-initialize-1","error":{"code":-32000,"message":"down"}}"#,
        ));
        let Ok(Outcome::Answered { error: Some(error) }) = answered.try_recv() else {
            panic!("the error reaches the bridge");
        };
        assert_eq!((error.code, error.message.as_str()), (-32000, "down"));
        assert!(lines(&mut written).is_empty());
    }

    #[test]
    fn a_stream_without_the_answer_settles_its_request_once() {
        let (bridge, mut written) = bridge();
        let mut unanswered = bridge
            .expect_answer("3", false, 0)
            .expect("not waiting yet");
        bridge.on_unanswered(
            "3",
            "remote server 'demo' closed the stream without answering",
        );
        let Ok(Outcome::Unanswered(why)) = unanswered.try_recv() else {
            panic!("settled");
        };
        assert!(why.contains("without answering"), "{why}");
        // A late answer has no one waiting: it still reaches the client, as is.
        bridge.on_message(Bytes::from_static(
            br#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
        ));
        assert_eq!(lines(&mut written).len(), 1);
    }

    #[test]
    fn failures_say_what_to_do() {
        let (bridge, _written) = bridge();
        let refused = SendFailure::Unreachable {
            connect: true,
            cause: "cannot connect: Connection refused".into(),
            message: String::new(),
        };
        let message = bridge.fatal(&refused).expect("fatal");
        assert!(
            message.starts_with("cannot reach Switchboard on 127.0.0.1:9 ("),
            "{message}"
        );
        assert!(message.contains("Start Switchboard (the desktop app, or `switchboard serve`)"));
        let status = |status| SendFailure::Status {
            status,
            message: String::new(),
            error: Some(ServerError {
                code: -32600,
                message: "Bad Request: no".into(),
            }),
        };
        let unknown = bridge.fatal(&status(StatusCode::NOT_FOUND)).expect("fatal");
        assert!(
            unknown.contains("has no enabled server named 'demo'"),
            "{unknown}"
        );
        let key = bridge
            .fatal(&status(StatusCode::UNAUTHORIZED))
            .expect("fatal");
        assert!(key.contains("refused the API key") && key.contains("SWITCHBOARD_API_KEY"));
        assert!(bridge.fatal(&status(StatusCode::BAD_REQUEST)).is_none());
        let failure = bridge.failure(status(StatusCode::BAD_REQUEST));
        assert_eq!(failure.code, -32600);
        assert_eq!(
            failure.message,
            "Switchboard answered HTTP 400 Bad Request: Bad Request: no"
        );
    }
}
