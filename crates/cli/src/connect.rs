//! `switchboard connect <name>`: a stdio ↔ Streamable HTTP bridge for clients that can only
//! start stdio servers (Claude Desktop). It reads newline-delimited JSON-RPC on stdin, POSTs
//! each message to `http://127.0.0.1:<port>/servers/<name>/mcp` with the API key, and writes
//! everything the proxy sends back (answers, notifications, server→client requests, the GET
//! stream) to stdout, one message per line.
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
//! - When the proxy forgets the session (404, e.g. after a restart), the bridge re-sends the
//!   client's `initialize` and carries on with a new session, invisibly to the client.
//! - stdin EOF: answers still on their way get a few seconds, then the session ends (DELETE)
//!   and the bridge exits 0. SIGTERM and Ctrl-C end it at once.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures::StreamExt;
use reqwest::header::{self, HeaderValue};
use reqwest::{RequestBuilder, Response, StatusCode};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use switchboard_core::api_key;
use switchboard_core::config::{Config, DEFAULT_PORT};
use switchboard_core::startup::{self, ConfigSource, LaunchEnv};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{AbortHandle, JoinSet};

use switchboard_core::mcp::protocol::code::{INVALID_REQUEST, PARSE_ERROR};
use switchboard_core::mcp::protocol::{MAX_MESSAGE_BYTES, PROTOCOL_VERSION_HEADER, SESSION_HEADER};
use switchboard_core::mcp::sse;

const POST_ACCEPT: &str = "application/json, text/event-stream";
/// JSON-RPC "internal error": the code of answers the bridge makes up itself.
const BRIDGE_ERROR: i32 = switchboard_core::mcp::protocol::code::INTERNAL_ERROR;
/// After stdin closes, answers already on their way may still reach a reader that only
/// closed its end of stdin (`printf … | switchboard connect x`).
const EOF_GRACE: Duration = Duration::from_secs(5);
/// Bounds the goodbye (DELETE, final flush) so a wedged proxy or reader cannot keep us alive.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);
const STREAM_RETRY_MIN: Duration = Duration::from_millis(500);
const STREAM_RETRY_MAX: Duration = Duration::from_secs(5);

/// Runs the bridge until stdin closes or a stop signal arrives.
pub fn run(config: Option<PathBuf>, port: Option<u16>, name: &str) -> anyhow::Result<()> {
    let env = LaunchEnv::from_process();
    let port = match startup::port_override(port, &env)? {
        Some(given) => given.port,
        None => configured_port(config, &env)?,
    };
    let mut url = reqwest::Url::parse(&format!("http://127.0.0.1:{port}/"))
        .context("cannot build the proxy URL")?;
    url.path_segments_mut()
        .map_err(|()| anyhow::anyhow!("cannot build the proxy URL"))?
        .extend(["servers", name, "mcp"]);
    let auth = match api_key_value() {
        Some(value) => Some(value),
        None => {
            log::warn!(
                "no API key: set SWITCHBOARD_API_KEY to the key the proxy uses (`switchboard key show`)"
            );
            None
        }
    };
    let http = reqwest::Client::builder()
        // Loopback only: an HTTP(S)_PROXY from the environment must never see the key.
        .no_proxy()
        // The key goes to this port and nowhere else.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .tcp_nodelay(true)
        .build()
        .context("cannot create the HTTP client")?;

    let (out, out_rx) = mpsc::channel(64);
    let (in_tx, input) = mpsc::channel(16);
    spawn_stdout_writer(out_rx);
    spawn_stdin_reader(in_tx);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bridge = Arc::new(Bridge {
        http,
        url,
        name: name.to_owned(),
        port,
        auth,
        out,
        state: Mutex::new(SessionState::default()),
        reconnecting: tokio::sync::Mutex::new(()),
    });
    log::debug!("bridging stdio to {}", bridge.url);
    let result = runtime.block_on(bridge.run(input));
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

/// What goes to the stdout thread.
enum Out {
    Line(Vec<u8>),
    /// Flush, answer, and stop.
    Finish(oneshot::Sender<()>),
}

/// The only writer of stdout, so lines never interleave.
fn spawn_stdout_writer(mut rx: mpsc::Receiver<Out>) {
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

/// The fields of a JSON-RPC message the bridge looks at; the rest is skipped unparsed.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
}

/// An initialize answer, for the negotiated version (or why it failed).
#[derive(Deserialize)]
struct InitializeAnswer {
    #[serde(default)]
    result: Option<InitializeResult>,
    #[serde(default)]
    error: Option<RpcError>,
}

#[derive(Deserialize)]
struct InitializeResult {
    #[serde(rename = "protocolVersion")]
    protocol_version: Option<String>,
}

#[derive(Deserialize)]
struct RpcError {
    #[serde(default)]
    code: Option<i32>,
    #[serde(default)]
    message: Option<String>,
}

/// The body of the proxy's own error answers.
#[derive(Deserialize)]
struct ErrorBody {
    error: RpcError,
}

/// A JSON-RPC error for the client.
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

#[derive(Default)]
struct SessionState {
    id: Option<String>,
    version: Option<String>,
    /// Bumped with every new session, so concurrent 404s reconnect only once.
    generation: u64,
    /// The client's `initialize` (body and id), re-sent when the proxy forgets the session.
    initialize: Option<(Bytes, Value)>,
    /// Whether the client sent `notifications/initialized` (a new session needs it too).
    initialized: bool,
    stream: Option<AbortHandle>,
}

/// The session headers of one moment; requests carry the one they were sent with.
#[derive(Clone)]
struct Snapshot {
    id: Option<String>,
    version: Option<String>,
    generation: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Forward everything.
    Forward,
    /// Forward everything; read the version from the answer.
    Initialize,
    /// Read the version from the answer and keep the answer from the client: it has one.
    Reinitialize,
}

#[derive(Default)]
struct Answer {
    /// The response to the request arrived.
    seen: bool,
    version: Option<String>,
    /// The initialize answer was an error.
    error: Option<Failure>,
    /// Why the body ended early.
    broken: Option<String>,
}

struct Bridge {
    http: reqwest::Client,
    url: reqwest::Url,
    name: String,
    port: u16,
    auth: Option<HeaderValue>,
    out: mpsc::Sender<Out>,
    state: Mutex<SessionState>,
    reconnecting: tokio::sync::Mutex<()>,
}

impl Bridge {
    async fn run(self: &Arc<Self>, input: mpsc::Receiver<Vec<u8>>) -> anyhow::Result<()> {
        let result = self.pump(input).await;
        self.close().await;
        // Whatever was answered reaches the client before we exit, fatal error or not.
        let (done, flushed) = oneshot::channel();
        if self.out.send(Out::Finish(done)).await.is_ok() {
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
            let envelope = match parse_client_message(&line) {
                Ok(envelope) => envelope,
                Err(failure) => {
                    self.emit_error(&Value::Null, failure).await;
                    continue;
                }
            };
            let body = Bytes::from(line);
            let handled = async {
                match (envelope.method, envelope.id) {
                    (Some(method), Some(id)) if method == "initialize" => {
                        return self.initialize(body, id).await;
                    }
                    (Some(_), Some(id)) => {
                        let bridge = Arc::clone(self);
                        requests.spawn(async move { bridge.request(body, id).await });
                    }
                    (Some(method), None) => {
                        self.notify(body, method == "notifications/initialized")
                            .await;
                    }
                    (None, _) => self.respond(body).await,
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

    fn snapshot(&self) -> Snapshot {
        let state = self.state();
        Snapshot {
            id: state.id.clone(),
            version: state.version.clone(),
            generation: state.generation,
        }
    }

    fn with_headers(&self, mut request: RequestBuilder, session: &Snapshot) -> RequestBuilder {
        if let Some(auth) = &self.auth {
            request = request.header(header::AUTHORIZATION, auth.clone());
        }
        if let Some(id) = &session.id {
            request = request.header(SESSION_HEADER, id);
        }
        if let Some(version) = &session.version {
            request = request.header(PROTOCOL_VERSION_HEADER, version);
        }
        request
    }

    async fn post(&self, body: Bytes, session: &Snapshot) -> reqwest::Result<Response> {
        let request = self
            .http
            .post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, POST_ACCEPT)
            .body(body);
        self.with_headers(request, session).send().await
    }

    /// The client's `initialize` opens a session. No proxy, an unknown server or a refused
    /// key end the bridge: the client cannot do anything useful through it.
    async fn initialize(self: &Arc<Self>, body: Bytes, id: Value) -> anyhow::Result<()> {
        let fresh = Snapshot {
            id: None,
            version: None,
            generation: 0,
        };
        let response = match self.post(body.clone(), &fresh).await {
            Ok(response) => response,
            Err(e) => {
                let failure = self.unreachable(&e);
                self.emit_error(&id, Failure::new(failure.message.clone()))
                    .await;
                anyhow::bail!(failure.message);
            }
        };
        let status = response.status();
        if !status.is_success() {
            let failure = http_failure(response).await;
            let fatal = match status {
                StatusCode::NOT_FOUND => Some(format!(
                    "Switchboard on 127.0.0.1:{} has no enabled server named '{}' (check the name, or add it with `switchboard add`)",
                    self.port, self.name
                )),
                StatusCode::UNAUTHORIZED => Some(format!(
                    "Switchboard on 127.0.0.1:{} refused the API key: set SWITCHBOARD_API_KEY to the key it uses (`switchboard key show`)",
                    self.port
                )),
                StatusCode::FORBIDDEN => Some(format!(
                    "Switchboard on 127.0.0.1:{} refused the connection: {}",
                    self.port, failure.message
                )),
                _ => None,
            };
            if let Some(message) = fatal {
                self.emit_error(&id, Failure::new(message.clone())).await;
                anyhow::bail!(message);
            }
            log::warn!("initialize failed: {}", failure.message);
            self.emit_error(&id, failure).await;
            return Ok(());
        }
        let session_id = session_header(&response);
        let answer = self.relay(response, Some(&id), Mode::Initialize).await;
        {
            let mut state = self.state();
            state.id = session_id;
            state.version = answer.version;
            state.generation += 1;
            state.initialize = Some((body, id.clone()));
            state.initialized = false;
            if let Some(stream) = state.stream.take() {
                stream.abort();
            }
        }
        if !answer.seen {
            let why = answer.broken.unwrap_or_else(|| "no answer".to_owned());
            self.emit_error(
                &id,
                Failure::new(format!("Switchboard did not answer initialize: {why}")),
            )
            .await;
        }
        Ok(())
    }

    /// One client request, answered on its own task. Whatever goes wrong, the client gets
    /// an answer with the request's id.
    async fn request(self: Arc<Self>, body: Bytes, id: Value) {
        if let Err(failure) = self.try_request(body, &id).await {
            log::warn!("{}", failure.message);
            self.emit_error(&id, failure).await;
        }
    }

    async fn try_request(self: &Arc<Self>, body: Bytes, id: &Value) -> Result<(), Failure> {
        let mut retried = false;
        loop {
            let session = self.snapshot();
            let response = self
                .post(body.clone(), &session)
                .await
                .map_err(|e| self.unreachable(&e))?;
            let status = response.status();
            if status == StatusCode::NOT_FOUND && session.id.is_some() && !retried {
                retried = true;
                self.reconnect(session.generation).await?;
                continue;
            }
            if !status.is_success() {
                return Err(http_failure(response).await);
            }
            let answer = self.relay(response, Some(id), Mode::Forward).await;
            if answer.seen {
                return Ok(());
            }
            let why = answer
                .broken
                .unwrap_or_else(|| format!("HTTP {status} without an answer"));
            return Err(Failure::new(format!(
                "Switchboard did not answer the request: {why}"
            )));
        }
    }

    /// Notifications go out in stdin order, before anything read after them.
    async fn notify(self: &Arc<Self>, body: Bytes, initialized: bool) {
        if initialized {
            self.state().initialized = true;
        }
        let session = self.snapshot();
        match self.post(body.clone(), &session).await {
            Ok(response) if response.status() == StatusCode::NOT_FOUND && session.id.is_some() => {
                // A new session gets `initialized` from reconnect itself.
                match self.reconnect(session.generation).await {
                    Ok(()) if !initialized => {
                        let session = self.snapshot();
                        match self.post(body, &session).await {
                            Ok(response) => discard(response).await,
                            Err(e) => log::warn!("{}", self.unreachable(&e).message),
                        }
                    }
                    Ok(()) => {}
                    Err(failure) => log::warn!("{}", failure.message),
                }
                return;
            }
            Ok(response) if !response.status().is_success() => {
                log::warn!(
                    "Switchboard refused a notification: {}",
                    http_failure(response).await.message
                );
            }
            Ok(response) => discard(response).await,
            Err(e) => log::warn!("{}", self.unreachable(&e).message),
        }
        if initialized {
            self.open_stream();
        }
    }

    /// The client's answer to a server→client request (sampling, elicitation, roots).
    async fn respond(&self, body: Bytes) {
        let session = self.snapshot();
        match self.post(body, &session).await {
            // The question came from a session the proxy has forgotten; nobody waits for it.
            Ok(response) if response.status() == StatusCode::NOT_FOUND => {
                log::warn!("dropped an answer for an expired session");
            }
            Ok(response) if !response.status().is_success() => {
                log::warn!(
                    "Switchboard refused an answer: {}",
                    http_failure(response).await.message
                );
            }
            Ok(response) => discard(response).await,
            Err(e) => log::warn!("{}", self.unreachable(&e).message),
        }
    }

    /// Replaces a session the proxy no longer knows: the client's own `initialize` again,
    /// then `initialized` and the GET stream. Concurrent callers share one reconnect.
    async fn reconnect(self: &Arc<Self>, stale: u64) -> Result<(), Failure> {
        let _one_at_a_time = self.reconnecting.lock().await;
        let (initialize, initialized) = {
            let state = self.state();
            if state.generation != stale {
                return Ok(()); // another request already reconnected
            }
            (state.initialize.clone(), state.initialized)
        };
        let Some((body, id)) = initialize else {
            return Err(Failure::new(
                "Switchboard ended the session and there is no initialize to start a new one",
            ));
        };
        log::info!(
            "Switchboard no longer knows this session (was it restarted?); starting a new one"
        );
        let fresh = Snapshot {
            id: None,
            version: None,
            generation: stale,
        };
        let response = self
            .post(body, &fresh)
            .await
            .map_err(|e| self.unreachable(&e))?;
        if !response.status().is_success() {
            let failure = http_failure(response).await;
            return Err(Failure::new(format!(
                "the session expired and a new one could not be started: {}",
                failure.message
            )));
        }
        let session_id = session_header(&response);
        let answer = self.relay(response, Some(&id), Mode::Reinitialize).await;
        if let Some(failure) = answer.error {
            return Err(Failure::new(format!(
                "the session expired and a new one could not be started: {}",
                failure.message
            )));
        }
        if !answer.seen {
            return Err(Failure::new(
                "the session expired and Switchboard did not answer a new initialize",
            ));
        }
        let session = Snapshot {
            id: session_id,
            version: answer.version,
            generation: stale + 1,
        };
        // `initialized` reaches the new session before any request that waits for it.
        if initialized {
            let note =
                Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
            match self.post(note, &session).await {
                Ok(response) => discard(response).await,
                Err(e) => log::warn!("{}", self.unreachable(&e).message),
            }
        }
        {
            let mut state = self.state();
            state.id = session.id;
            state.version = session.version;
            state.generation = session.generation;
        }
        if initialized {
            self.open_stream();
        }
        Ok(())
    }

    /// (Re)starts the GET stream for the current session.
    fn open_stream(self: &Arc<Self>) {
        let session = self.snapshot();
        let bridge = Arc::clone(self);
        let task = tokio::spawn(async move { bridge.listen(session).await });
        if let Some(old) = self.state().stream.replace(task.abort_handle()) {
            old.abort();
        }
    }

    /// Messages the server sends on its own. Reopened after drops while the session lasts;
    /// 404 means the session is gone (the next request reconnects), 405 means no stream.
    async fn listen(&self, session: Snapshot) {
        let mut delay = STREAM_RETRY_MIN;
        loop {
            let request = self
                .http
                .get(self.url.clone())
                .header(header::ACCEPT, "text/event-stream");
            match self.with_headers(request, &session).send().await {
                Ok(response) if response.status() == StatusCode::METHOD_NOT_ALLOWED => return,
                Ok(response) if response.status() == StatusCode::NOT_FOUND => {
                    log::debug!("the GET stream's session is gone");
                    return;
                }
                Ok(response) if response.status().is_success() => {
                    delay = STREAM_RETRY_MIN;
                    self.relay(response, None, Mode::Forward).await;
                }
                Ok(response) => {
                    log::warn!(
                        "Switchboard refused the GET stream: {}",
                        http_failure(response).await.message
                    );
                    return;
                }
                Err(e) => log::debug!("GET stream: {e}"),
            }
            if self.snapshot().generation != session.generation {
                return;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(STREAM_RETRY_MAX);
        }
    }

    /// Forwards a response body (one JSON message, or an SSE stream of them) to stdout, until
    /// the answer to `id` has passed.
    async fn relay(&self, response: Response, id: Option<&Value>, mode: Mode) -> Answer {
        let mut answer = Answer::default();
        let is_sse = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("text/event-stream"));
        if !is_sse {
            match response.bytes().await {
                Ok(body) if body.iter().all(u8::is_ascii_whitespace) => {}
                Ok(body) => self.message(body.to_vec(), id, mode, &mut answer).await,
                Err(e) => answer.broken = Some(root_cause(&e)),
            }
            return answer;
        }
        let mut decoder = sse::Decoder::new(MAX_MESSAGE_BYTES);
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    for event in decoder.push(&chunk) {
                        match event {
                            // MCP sends only `message` events; others are not JSON-RPC.
                            Ok(event) if event.event == "message" => {
                                self.message(event.data, id, mode, &mut answer).await;
                            }
                            Ok(_) => {}
                            Err(e) => log::warn!("{e}"),
                        }
                        if answer.seen {
                            return answer;
                        }
                    }
                }
                Err(e) => {
                    answer.broken = Some(root_cause(&e));
                    break;
                }
            }
        }
        answer
    }

    async fn message(&self, data: Vec<u8>, id: Option<&Value>, mode: Mode, answer: &mut Answer) {
        let Some((line, envelope)) = one_line(data) else {
            log::warn!("dropped a message from Switchboard that is not JSON");
            return;
        };
        let is_answer =
            id.is_some_and(|id| envelope.method.is_none() && envelope.id.as_ref() == Some(id));
        if is_answer {
            answer.seen = true;
            if mode != Mode::Forward
                && let Ok(init) = serde_json::from_slice::<InitializeAnswer>(&line)
            {
                answer.version = init.result.and_then(|r| r.protocol_version);
                answer.error = init.error.map(|e| Failure {
                    code: e.code.unwrap_or(BRIDGE_ERROR),
                    message: e.message.unwrap_or_default(),
                });
            }
            if mode == Mode::Reinitialize {
                return;
            }
        }
        self.emit(line).await;
    }

    async fn emit(&self, line: Vec<u8>) {
        // Fails only when stdout is gone, and then there is no one to tell.
        let _ = self.out.send(Out::Line(line)).await;
    }

    async fn emit_error(&self, id: &Value, failure: Failure) {
        let message = json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": failure.code, "message": failure.message},
        });
        self.emit(message.to_string().into_bytes()).await;
    }

    fn unreachable(&self, e: &reqwest::Error) -> Failure {
        let cause = root_cause(e);
        if e.is_connect() {
            Failure::new(format!(
                "cannot reach Switchboard on 127.0.0.1:{} ({cause}). Start Switchboard (the desktop app, or `switchboard serve`) and try again",
                self.port
            ))
        } else {
            Failure::new(format!("the request to Switchboard failed: {cause}"))
        }
    }

    /// Ends the session, so its server stops now instead of after the idle timeout.
    async fn close(&self) {
        let session = {
            let mut state = self.state();
            if let Some(stream) = state.stream.take() {
                stream.abort();
            }
            Snapshot {
                id: state.id.take(),
                version: state.version.clone(),
                generation: state.generation,
            }
        };
        if session.id.is_none() {
            return;
        }
        let request = self.with_headers(self.http.delete(self.url.clone()), &session);
        match tokio::time::timeout(CLOSE_TIMEOUT, request.send()).await {
            Ok(Ok(response)) => log::debug!("ended the session: {}", response.status()),
            Ok(Err(e)) => log::debug!("cannot end the session: {}", root_cause(&e)),
            Err(_) => log::debug!("cannot end the session: no answer"),
        }
    }
}

fn session_header(response: &Response) -> Option<String> {
    response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Lets the connection be reused.
async fn discard(response: Response) {
    let _ = response.bytes().await;
}

/// The proxy's own error answer (a JSON-RPC error body), as an error for the client.
async fn http_failure(response: Response) -> Failure {
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => Failure {
            code: error.code.unwrap_or(BRIDGE_ERROR),
            message: format!(
                "Switchboard answered HTTP {status}: {}",
                error.message.unwrap_or_default()
            ),
        },
        Err(_) => Failure::new(format!("Switchboard answered HTTP {status}")),
    }
}

/// The innermost cause ("Connection refused"), not reqwest's "error sending request".
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
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

fn parse_client_message(line: &[u8]) -> Result<Envelope, Failure> {
    // A JSON array would deserialize into the struct field by field; batches are not
    // part of the protocol versions the proxy serves.
    if line.first() != Some(&b'{') {
        let code = if serde_json::from_slice::<IgnoredAny>(line).is_ok() {
            INVALID_REQUEST
        } else {
            PARSE_ERROR
        };
        return Err(Failure {
            code,
            message: "each line must be one JSON-RPC message (a JSON object)".to_owned(),
        });
    }
    serde_json::from_slice(line).map_err(|e| Failure {
        code: PARSE_ERROR,
        message: format!("Parse error: {e}"),
    })
}

/// A message from the proxy as one stdout line: forwarded byte for byte, unless it spans
/// lines (re-serialized compactly then). `None` if it is not JSON.
fn one_line(data: Vec<u8>) -> Option<(Vec<u8>, Envelope)> {
    let data = if data.iter().any(|&b| b == b'\n' || b == b'\r') {
        let value: Value = serde_json::from_slice(&data).ok()?;
        serde_json::to_vec(&value).ok()?
    } else {
        data
    };
    let envelope = serde_json::from_slice::<Envelope>(&data).ok()?;
    Some((data, envelope))
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
    fn messages_become_single_lines() {
        let (line, envelope) =
            one_line(b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}".to_vec()).expect("json");
        assert_eq!(line, b"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}");
        assert_eq!(envelope.id, Some(json!(7)));
        let (line, _) =
            one_line(b"{\n \"jsonrpc\": \"2.0\",\r\n \"method\": \"x\"\n}".to_vec()).expect("json");
        assert_eq!(line, b"{\"jsonrpc\":\"2.0\",\"method\":\"x\"}");
        assert!(one_line(b"not json".to_vec()).is_none());
    }

    #[test]
    fn client_lines_are_classified() {
        let request = parse_client_message(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#)
            .ok()
            .expect("request");
        assert_eq!(request.id, Some(json!("a")));
        assert_eq!(request.method.as_deref(), Some("ping"));
        let response = parse_client_message(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
            .ok()
            .expect("response");
        assert!(response.method.is_none());
        let batch = parse_client_message(b"[1]").err().expect("batch");
        assert_eq!(batch.code, INVALID_REQUEST);
        let garbage = parse_client_message(b"{nope").err().expect("garbage");
        assert_eq!(garbage.code, PARSE_ERROR);
        assert_eq!(trim(b"  {}\r\n".to_vec()), Some(b"{}".to_vec()));
        assert_eq!(trim(b" \r\n".to_vec()), None);
    }
}
