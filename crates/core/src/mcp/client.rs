//! The client side of MCP over HTTP: one client session on one server, over Streamable HTTP
//! or the legacy HTTP+SSE transport (with the automatic fallback the spec describes).
//!
//! It relays raw frames like the rest of Switchboard: [`Client::send`] posts one message as
//! it came, and everything the server sends (answers, its own requests, notifications)
//! reaches the [`Inbound`] sink as single-line frames, from whichever stream carried it.
//!
//! What to add to each request (headers, a query key) and where a legacy endpoint may point
//! are the caller's policy, given as [`Credentials`]: this module names nothing else in the
//! crate. Errors say what happened (status, cause) but never carry a URL (which may hold a
//! key), nor the server's own error body unless the caller trusts that server with its words
//! ([`Endpoint::keeps_error_bodies`]: `switchboard connect`, talking to its own proxy).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::task::JoinHandle;
use url::Url;

use super::jsonrpc::{self, Envelope, Kind};
use super::modern::ParamHeader;
use super::protocol::{MODERN_PROTOCOL_VERSION, PROTOCOL_VERSION_HEADER, SESSION_HEADER};
use super::sse;
use super::stateless::{self, ClientIdentity};

/// How long a legacy SSE server may take to announce its POST endpoint.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where what the server sends goes.
pub trait Inbound: Send + Sync + 'static {
    /// One message from the server, as a single-line frame.
    fn on_message(&self, frame: Bytes);
    /// The server closed the stream of request `id_key` without answering it. Not called
    /// for a request whose answer reached [`Inbound::on_message`].
    fn on_unanswered(&self, id_key: &str, message: &str);
    /// The server ended the session (or its legacy stream): nothing more will come.
    fn on_ended(&self, message: &str);
}

/// The caller's policy for every request this client makes.
pub trait Credentials: Send + Sync + 'static {
    /// Headers added to every request (their values marked sensitive).
    fn headers(&self) -> &HeaderMap;
    /// The URL to send to now: `url`, plus whatever the policy adds (a query key), checked
    /// on every request. The error is safe to show.
    fn url(&self, url: &Url) -> Result<Url, String>;
    /// The legacy transport's POST endpoint, `announced` resolved against `sse_url`, or why
    /// it may not be used.
    fn endpoint(&self, sse_url: &Url, announced: &str) -> Result<Url, String>;
    /// An `Authorization` value to send now, when the policy's credential changes over time
    /// (an OAuth access token, renewed before it expires). The error, safe to show, says
    /// why nothing can be sent (a person must sign in). By default: none.
    fn authorization(&self) -> BoxFuture<'_, Result<Option<HeaderValue>, String>> {
        Box::pin(async { Ok(None) })
    }
    /// The server refused `sent` with `status` (401 or 403) and these `WWW-Authenticate`
    /// challenges: a new value worth one retry, or `None`. By default: none.
    fn refused(
        &self,
        sent: HeaderValue,
        status: u16,
        challenges: Vec<String>,
    ) -> BoxFuture<'_, Option<HeaderValue>> {
        let _ = (sent, status, challenges);
        Box::pin(async { None })
    }
}

/// Which transport to speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Streamable HTTP, falling back to legacy SSE when the first `initialize` is refused
    /// with 400, 404 or 405.
    Auto,
    StreamableHttp,
    Sse,
}

/// What a client needs to know about its server.
pub struct Endpoint {
    /// For messages: "remote server '<name>' …".
    pub name: Arc<str>,
    pub url: Url,
    pub transport: Transport,
    /// Built by the caller, with its redirect and proxy policy.
    pub http: reqwest::Client,
    /// The largest message accepted from the server (a JSON body or one SSE event).
    pub max_message_bytes: usize,
    /// Whether the JSON-RPC error in the body of an HTTP error answer reaches the caller
    /// ([`SendFailure::Status`]'s `error`). Only for a server trusted with its own words: a
    /// remote server's body may echo a credential, so the remote backend says `false`.
    pub keeps_error_bodies: bool,
    /// Whether a session-era client's `initialize` first asks the server for
    /// `server/discover` (the spec's order), and what the server was found to speak.
    pub eras: EraProbe,
}

/// Whether to try 2026-07-28 first, and the answer, kept per endpoint: the era is the
/// server's, not a session's, so one probe serves every later session.
#[derive(Debug, Default)]
pub struct EraProbe {
    enabled: bool,
    /// `Some(Some(discover))`: it speaks 2026-07-28; `Some(None)`: it does not.
    found: Mutex<Option<Option<Arc<serde_json::Value>>>>,
}

impl EraProbe {
    /// Ask `server/discover` first (a remote server of any era).
    pub fn probe() -> EraProbe {
        EraProbe {
            enabled: true,
            found: Mutex::new(None),
        }
    }

    /// Always the session era (Switchboard's own proxy, which bridges eras itself).
    pub fn session_only() -> EraProbe {
        EraProbe::default()
    }

    /// What the server was found to speak, if it has been asked.
    pub fn found(&self) -> Option<Option<Arc<serde_json::Value>>> {
        lock(&self.found).clone()
    }
}

/// Why a message could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The server no longer knows our session: the client must initialize again.
    SessionExpired,
    /// No HTTP answer: the connection could not be made (`connect`), or the request failed
    /// on the way. `cause` is what went wrong, down to the root cause ("cannot connect:
    /// Connection refused (os error 111)"); `message` says it with the server's name. Both
    /// are safe to show.
    Unreachable {
        connect: bool,
        cause: String,
        message: String,
    },
    /// The server answered with an error status (or a redirect, which is not followed).
    /// `message` is safe to show; `error` is the JSON-RPC error the body carried, only when
    /// the endpoint [keeps error bodies](Endpoint::keeps_error_bodies).
    Status {
        status: StatusCode,
        message: String,
        error: Option<ServerError>,
    },
    /// Anything else; the text is safe to show to a client.
    Failed(String),
}

impl SendFailure {
    /// What went wrong, safe to show to a client.
    pub fn message(&self) -> &str {
        match self {
            SendFailure::SessionExpired => "the server no longer knows this session",
            SendFailure::Unreachable { message, .. }
            | SendFailure::Status { message, .. }
            | SendFailure::Failed(message) => message,
        }
    }
}

/// The JSON-RPC error a server put in the body of an HTTP error answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ServerError {
    pub code: i64,
    #[serde(default)]
    pub message: String,
}

/// The most of an error answer's body read for its JSON-RPC error.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
enum Mode {
    /// Nothing sent yet; `auto` decides on the first `initialize`.
    Undecided,
    StreamableHttp,
    /// Legacy HTTP+SSE: messages are POSTed to the endpoint the server announced.
    Sse {
        post_url: Url,
    },
    /// The server speaks 2026-07-28: every message is carried statelessly, translated for
    /// the session-era client (`mcp::stateless`).
    Stateless(Arc<Stateless>),
}

/// The state of a session-era client carried over the stateless protocol.
struct Stateless {
    discover: Arc<serde_json::Value>,
    identity: ClientIdentity,
    /// Each tool's `Mcp-Param-*` headers, from the `tools/list` answers that went by.
    param_headers: Mutex<std::collections::HashMap<String, Vec<ParamHeader>>>,
    /// Whether the tools were listed for that (a call can come before any list).
    tools_listed: AtomicBool,
    /// Requests in flight (client id → the task carrying it): ending the task drops its
    /// response stream, which is the stateless protocol's cancellation.
    in_flight: Mutex<std::collections::HashMap<Box<str>, tokio::task::AbortHandle>>,
    /// Resources the client subscribed to, carried on the listen stream.
    subscriptions: Mutex<Vec<String>>,
    listen: Mutex<Option<tokio::task::AbortHandle>>,
    /// Our requests to the client for an `input_required` round, by id.
    inputs: Mutex<std::collections::HashMap<Box<str>, tokio::sync::oneshot::Sender<Bytes>>>,
    next: std::sync::atomic::AtomicU64,
}

/// One client session on one server.
pub struct Client {
    endpoint: Arc<Endpoint>,
    credentials: Arc<dyn Credentials>,
    inbound: Weak<dyn Inbound>,
    mode: tokio::sync::Mutex<Mode>,
    session_id: Mutex<Option<HeaderValue>>,
    protocol_version: Mutex<Option<HeaderValue>>,
    /// The id of the client's `initialize`, to learn the negotiated version from its answer.
    initialize_id: Mutex<Option<Box<str>>>,
    get_stream_started: AtomicBool,
    closed: AtomicBool,
    /// Turns true when the session is closed; a send in flight gives up then, so a server
    /// that never answers cannot hold the caller (and its connection) past the session.
    closing: tokio::sync::watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    me: Weak<Client>,
}

impl Client {
    /// A client that has sent nothing yet.
    pub fn new(
        endpoint: Arc<Endpoint>,
        credentials: Arc<dyn Credentials>,
        inbound: Weak<dyn Inbound>,
    ) -> Arc<Client> {
        Arc::new_cyclic(|me| Client {
            endpoint,
            credentials,
            inbound,
            mode: tokio::sync::Mutex::new(Mode::Undecided),
            session_id: Mutex::new(None),
            protocol_version: Mutex::new(None),
            initialize_id: Mutex::new(None),
            get_stream_started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            closing: tokio::sync::watch::Sender::new(false),
            tasks: Mutex::new(Vec::new()),
            me: me.clone(),
        })
    }

    /// Sends one message. Answers arrive through the [`Inbound`] sink. Fails at once if
    /// the session is closed, or is closed while the server has not taken the message yet
    /// (the request is dropped, which frees its connection).
    pub async fn send(&self, envelope: &Envelope<'_>, frame: Bytes) -> Result<(), SendFailure> {
        let mut closing = self.closing.subscribe();
        tokio::select! {
            sent = self.send_now(envelope, frame) => sent,
            _ = closing.wait_for(|closed| *closed) => {
                Err(self.failed("was not reached: the session was closed".into()))
            }
        }
    }

    async fn send_now(&self, envelope: &Envelope<'_>, frame: Bytes) -> Result<(), SendFailure> {
        let is_initialize =
            envelope.kind == Kind::Request && envelope.method.as_deref() == Some("initialize");
        if is_initialize {
            *lock(&self.initialize_id) = envelope.id_key().map(Into::into);
        }
        let request_id: Option<Box<str>> =
            (envelope.kind == Kind::Request).then(|| envelope.id_key().unwrap_or("null").into());
        let mut mode = self.mode.lock().await;
        if matches!(*mode, Mode::Undecided) && self.endpoint.transport == Transport::Sse {
            *mode = self.connect_sse().await?;
        }
        if matches!(*mode, Mode::Undecided)
            && is_initialize
            && self.endpoint.eras.enabled
            && let Some(discover) = self.discover_era(envelope).await?
        {
            log::info!(
                "'{}' speaks 2026-07-28: its session-era client is carried statelessly",
                self.endpoint.name
            );
            let identity = ClientIdentity::from_initialize(&params_value(envelope));
            *lock(&self.protocol_version) = Some(HeaderValue::from_static(MODERN_PROTOCOL_VERSION));
            // Its answer is made here: it negotiates nothing on the wire.
            *lock(&self.initialize_id) = None;
            let upstream = Arc::new(Stateless {
                discover,
                identity,
                param_headers: Mutex::default(),
                tools_listed: AtomicBool::new(false),
                in_flight: Mutex::default(),
                subscriptions: Mutex::default(),
                listen: Mutex::default(),
                inputs: Mutex::default(),
                next: std::sync::atomic::AtomicU64::new(0),
            });
            *mode = Mode::Stateless(upstream);
        }
        let current = mode.clone();
        // The lock serialises only the choice of transport (the first initialize and its
        // fallback). Once it is made, messages go out concurrently: a slow call answered as
        // JSON must not hold up its own cancellation or the reply to the server's request.
        let mut deciding = matches!(current, Mode::Undecided).then_some(mode);
        match current {
            Mode::Sse { post_url } => self.post_sse(&post_url, frame).await,
            Mode::Stateless(upstream) => {
                drop(deciding);
                self.send_stateless(&upstream, envelope, frame);
                Ok(())
            }
            _ => {
                let may_fall_back = deciding.is_some()
                    && is_initialize
                    && self.endpoint.transport == Transport::Auto;
                match self
                    .post_streamable(frame.clone(), request_id, may_fall_back)
                    .await
                {
                    Err(Fallback) => {
                        log::info!(
                            "'{}': no Streamable HTTP endpoint; trying the legacy SSE transport",
                            self.endpoint.name
                        );
                        let sse = self.connect_sse().await?;
                        let post_url = match &sse {
                            Mode::Sse { post_url } => post_url.clone(),
                            _ => return Err(self.failed("chose no transport".into())),
                        };
                        if let Some(mode) = deciding.as_mut() {
                            **mode = sse;
                        }
                        drop(deciding);
                        self.post_sse(&post_url, frame).await
                    }
                    Ok(result) => {
                        if let Some(mode) = deciding.as_mut()
                            && result.is_ok()
                        {
                            **mode = Mode::StreamableHttp;
                        }
                        drop(deciding);
                        if result.is_ok()
                            && envelope.method.as_deref() == Some("notifications/initialized")
                        {
                            self.start_get_stream();
                        }
                        result
                    }
                }
            }
        }
    }

    fn url_for(&self, url: &Url) -> Result<Url, SendFailure> {
        self.credentials.url(url).map_err(|e| self.refused(e))
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        let mut request = self
            .endpoint
            .http
            .request(method, url)
            .headers(self.credentials.headers().clone());
        if let Some(id) = lock(&self.session_id).clone() {
            request = request.header(SESSION_HEADER, id);
        }
        if let Some(version) = lock(&self.protocol_version).clone() {
            request = request.header(PROTOCOL_VERSION_HEADER, version);
        }
        request
    }

    /// Sends what `build` makes, with the policy's current `Authorization` (if it has one);
    /// when the server refuses that with 401 or 403, asks the policy once for a new one
    /// and sends again.
    async fn send_authorized(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<Result<reqwest::Response, reqwest::Error>, SendFailure> {
        let authorization = self
            .credentials
            .authorization()
            .await
            .map_err(|why| self.refused(why))?;
        let with = |value: &Option<HeaderValue>| match value {
            Some(value) => build().header(header::AUTHORIZATION, value.clone()),
            None => build(),
        };
        let response = with(&authorization).send().await;
        let Some(sent) = authorization else {
            return Ok(response);
        };
        let refused = match &response {
            Ok(r) if matches!(r.status(), StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) => r,
            _ => return Ok(response),
        };
        let challenges: Vec<String> = refused
            .headers()
            .get_all(header::WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        let status = refused.status().as_u16();
        match self.credentials.refused(sent, status, challenges).await {
            Some(renewed) => Ok(with(&Some(renewed)).send().await),
            None => Ok(response),
        }
    }

    async fn post_streamable(
        &self,
        frame: Bytes,
        request_id: Option<Box<str>>,
        may_fall_back: bool,
    ) -> Result<Result<(), SendFailure>, Fallback> {
        let url = match self.url_for(&self.endpoint.url) {
            Ok(url) => url,
            Err(failure) => return Ok(Err(failure)),
        };
        let had_session = lock(&self.session_id).is_some();
        let response = self
            .send_authorized(|| {
                self.request(reqwest::Method::POST, url.clone())
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ACCEPT, "application/json, text/event-stream")
                    .body(frame.clone())
            })
            .await;
        let response = match response {
            Ok(Ok(response)) => response,
            Ok(Err(e)) => return Ok(Err(self.transport_failure(&e))),
            Err(failure) => return Ok(Err(failure)),
        };
        let status = response.status();
        if may_fall_back
            && matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            )
        {
            return Err(Fallback);
        }
        if status == StatusCode::NOT_FOUND && had_session {
            return Ok(Err(SendFailure::SessionExpired));
        }
        if !status.is_success() {
            return Ok(Err(self.answer_failure(response).await));
        }
        if let Some(id) = response.headers().get(SESSION_HEADER) {
            *lock(&self.session_id) = Some(id.clone());
        }
        if status == StatusCode::ACCEPTED || request_id.is_none() {
            return Ok(Ok(()));
        }
        let is_sse = is_event_stream(&response);
        let me = self.me.clone();
        self.spawn(async move {
            let Some(client) = me.upgrade() else { return };
            let read = client
                .read_body(response, is_sse, request_id.as_deref())
                .await;
            if let (Some(id), Some(inbound)) = (request_id, client.inbound.upgrade())
                && !read.answered
            {
                let why = read
                    .problem
                    .unwrap_or_else(|| "closed the stream without answering".into());
                inbound.on_unanswered(
                    &id,
                    &format!("remote server '{}' {why}", client.endpoint.name),
                );
            }
        });
        Ok(Ok(()))
    }

    /// Messages from a response body (SSE events or one JSON object) to the sink, until the
    /// body ends. `answering` is the id of the request the body answers, if any.
    async fn read_body(
        &self,
        response: reqwest::Response,
        is_sse: bool,
        answering: Option<&str>,
    ) -> BodyRead {
        let mut read = BodyRead::default();
        let mut answered = false;
        read.problem = self
            .read_frames(response, is_sse, &mut |frame| {
                answered |= self.deliver(frame, answering);
            })
            .await;
        read.answered = answered;
        read
    }

    /// One message from the server to the sink. Returns whether it is the response to
    /// request `answering`.
    fn deliver(&self, frame: Bytes, answering: Option<&str>) -> bool {
        let Some(inbound) = self.inbound.upgrade() else {
            return false;
        };
        let mut is_answer = false;
        if let Ok(envelope) = Envelope::parse(&frame)
            && envelope.kind == Kind::Response
            && let Some(id) = envelope.id_key()
        {
            is_answer = answering == Some(id);
            if lock(&self.initialize_id).as_deref() == Some(id) {
                *lock(&self.protocol_version) = negotiated_version(&frame);
            }
        }
        inbound.on_message(jsonrpc::to_single_line(frame));
        is_answer
    }

    /// After the handshake: a GET stream for what the server sends on its own, kept open
    /// (with backoff) while the session lives. A server without one answers 405.
    fn start_get_stream(&self) {
        if self.get_stream_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.me.clone();
        self.spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                let Some(client) = me.upgrade() else { return };
                if client.closed.load(Ordering::Acquire) {
                    return;
                }
                let Ok(url) = client.url_for(&client.endpoint.url) else {
                    return;
                };
                let response = client
                    .send_authorized(|| {
                        client
                            .request(reqwest::Method::GET, url.clone())
                            .header(header::ACCEPT, "text/event-stream")
                    })
                    .await;
                let response = match response {
                    Ok(response) => response,
                    // A person must sign in: nothing to listen for until then.
                    Err(_) => return,
                };
                match response {
                    Ok(r) if r.status() == StatusCode::METHOD_NOT_ALLOWED => return,
                    Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                        if let Some(inbound) = client.inbound.upgrade() {
                            inbound.on_ended("the remote server ended the session");
                        }
                        return;
                    }
                    Ok(r) if r.status().is_success() => {
                        delay = Duration::from_millis(500);
                        client.read_body(r, true, None).await;
                    }
                    Ok(r) => log::debug!(
                        "'{}': GET stream refused ({})",
                        client.endpoint.name,
                        r.status()
                    ),
                    Err(e) => log::debug!(
                        "'{}': GET stream failed: {}",
                        client.endpoint.name,
                        error_chain(&e)
                    ),
                }
                drop(client);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// Legacy HTTP+SSE: open the stream and wait for the announced POST endpoint.
    async fn connect_sse(&self) -> Result<Mode, SendFailure> {
        let url = self.url_for(&self.endpoint.url)?;
        let response = self
            .send_authorized(|| {
                self.request(reqwest::Method::GET, url.clone())
                    .header(header::ACCEPT, "text/event-stream")
            })
            .await?
            .map_err(|e| self.transport_failure(&e))?;
        if let Some(failure) = self.status_failure(response.status()) {
            return Err(failure);
        }
        let (endpoint_tx, endpoint_rx) = tokio::sync::oneshot::channel::<Vec<u8>>();
        let me = self.me.clone();
        let limit = self.endpoint.max_message_bytes;
        self.spawn(async move {
            let mut endpoint_tx = Some(endpoint_tx);
            let mut decoder = sse::Decoder::new(limit);
            let mut body = response.bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                let Some(client) = me.upgrade() else { return };
                for event in decoder.push(&chunk) {
                    match event {
                        Ok(event) if event.event == "endpoint" => {
                            if let Some(tx) = endpoint_tx.take() {
                                let _ = tx.send(event.data);
                            }
                        }
                        Ok(event) if event.event == "message" => {
                            client.deliver(Bytes::from(event.data), None);
                        }
                        Ok(_) => {}
                        Err(e) => log::warn!("remote server '{}': {e}", client.endpoint.name),
                    }
                }
            }
            if let Some(client) = me.upgrade()
                && !client.closed.load(Ordering::Acquire)
                && let Some(inbound) = client.inbound.upgrade()
            {
                inbound.on_ended(&format!(
                    "remote server '{}' closed its SSE stream",
                    client.endpoint.name
                ));
            }
        });
        let announced = tokio::time::timeout(ENDPOINT_TIMEOUT, endpoint_rx)
            .await
            .map_err(|_| self.failed("did not announce its message endpoint".into()))?
            .map_err(|_| self.failed("closed its SSE stream".into()))?;
        let announced = String::from_utf8_lossy(&announced);
        let post_url = self
            .credentials
            .endpoint(&self.endpoint.url, &announced)
            .map_err(|e| self.refused(e))?;
        Ok(Mode::Sse { post_url })
    }

    async fn post_sse(&self, post_url: &Url, frame: Bytes) -> Result<(), SendFailure> {
        // The policy runs again for every POST: a relative endpoint drops the SSE URL's query.
        let url = self.url_for(post_url)?;
        let response = self
            .send_authorized(|| {
                self.request(reqwest::Method::POST, url.clone())
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(frame.clone())
            })
            .await?
            .map_err(|e| self.transport_failure(&e))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(SendFailure::SessionExpired);
        }
        if !response.status().is_success() {
            return Err(self.answer_failure(response).await);
        }
        Ok(())
    }

    // === 2026-07-28 upstream, for a session-era client ===

    /// Asks the server for `server/discover`, once per endpoint (the answer is kept): its
    /// result when it offers 2026-07-28, `None` for a session-era server (which answers
    /// with an error, a non-modern 400, 404 or 405) or an answer that settles nothing.
    /// Fails only when the server cannot be reached at all, as `initialize` would.
    async fn discover_era(
        &self,
        initialize: &Envelope<'_>,
    ) -> Result<Option<Arc<serde_json::Value>>, SendFailure> {
        if let Some(found) = self.endpoint.eras.found() {
            return Ok(found);
        }
        let identity = ClientIdentity::from_initialize(&params_value(initialize));
        let body = Bytes::from(stateless::discover_request(
            "switchboard-discover",
            &identity,
        ));
        let url = self.url_for(&self.endpoint.url)?;
        let response = self
            .send_authorized(|| {
                self.request(reqwest::Method::POST, url.clone())
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::ACCEPT, "application/json, text/event-stream")
                    .header(PROTOCOL_VERSION_HEADER, MODERN_PROTOCOL_VERSION)
                    .header("mcp-method", "server/discover")
                    .body(body.clone())
            })
            .await?
            .map_err(|e| self.transport_failure(&e))?;
        let status = response.status();
        let settled = status.is_success()
            || matches!(
                status,
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
            );
        let mut discover = None;
        if status.is_success() {
            let is_sse = is_event_stream(&response);
            self.read_frames(response, is_sse, &mut |frame| {
                if let Ok(answer) = serde_json::from_slice::<serde_json::Value>(&frame)
                    && answer["id"] == "switchboard-discover"
                    && stateless::offers_modern(&answer["result"])
                {
                    discover = Some(Arc::new(answer["result"].clone()));
                }
            })
            .await;
        }
        // A refused credential, a server error: ask again next time.
        if settled {
            *lock(&self.endpoint.eras.found) = Some(discover.clone());
        }
        Ok(discover)
    }

    /// One message of the session-era client, over the stateless protocol. Answers (and
    /// errors) reach the sink like any server message.
    fn send_stateless(&self, upstream: &Arc<Stateless>, envelope: &Envelope<'_>, frame: Bytes) {
        let method = envelope.method.as_deref().unwrap_or_default();
        match envelope.kind {
            Kind::Response => {
                // The client's answer to one of our input_required requests.
                if let Some(id) = envelope.id_key()
                    && let Some(waiter) = lock(&upstream.inputs).remove(id)
                {
                    let _ = waiter.send(frame);
                }
            }
            Kind::Notification => match method {
                "notifications/initialized" => self.start_listen(upstream),
                "notifications/cancelled" => {
                    let cancelled = envelope
                        .param("requestId", false)
                        .map(|id| id.get().to_owned());
                    if let Some(id) = cancelled
                        && let Some(task) = lock(&upstream.in_flight).remove(id.as_str())
                    {
                        // Dropping its response stream is the stateless cancellation.
                        task.abort();
                    }
                }
                // Roots are asked for by input_required rounds; nothing else has a
                // stateless counterpart.
                _ => log::debug!(
                    "'{}': {method} has no 2026-07-28 counterpart; not sent",
                    self.endpoint.name
                ),
            },
            Kind::Request => {
                let Some(id) = envelope.id else { return };
                let local = match method {
                    "initialize" => Some(stateless::initialize_result(
                        &upstream.discover,
                        upstream.identity.protocol_version.as_deref(),
                    )),
                    // Gone from 2026-07-28: answered here, as the session era expects.
                    "ping" | "logging/setLevel" => Some(serde_json::json!({})),
                    "resources/subscribe" | "resources/unsubscribe" => {
                        let uri = params_value(envelope)["uri"].as_str().map(str::to_owned);
                        if let Some(uri) = uri {
                            let mut subscriptions = lock(&upstream.subscriptions);
                            subscriptions.retain(|u| *u != uri);
                            if method == "resources/subscribe" {
                                subscriptions.push(uri);
                            }
                        }
                        self.restart_listen(upstream);
                        Some(serde_json::json!({}))
                    }
                    _ => None,
                };
                if let Some(result) = local {
                    let raw = jsonrpc::raw(result.to_string());
                    self.deliver(jsonrpc::result_response(id, &raw), None);
                    return;
                }
                let Some(request) = stateless::with_envelope(&frame, &upstream.identity) else {
                    return;
                };
                let id_key: Box<str> = id.get().into();
                let me = self.me.clone();
                let carried = upstream.clone();
                let key = id_key.clone();
                let task = tokio::spawn(async move {
                    let Some(client) = me.upgrade() else { return };
                    client.stateless_call(&carried, request, &key).await;
                    lock(&carried.in_flight).remove(&key);
                });
                lock(&upstream.in_flight).insert(id_key, task.abort_handle());
                let mut tasks = lock(&self.tasks);
                tasks.retain(|t| !t.is_finished());
                tasks.push(task);
            }
        }
    }

    /// Carries one request to its final answer: each `input_required` round becomes
    /// requests to the client, whose answers go back in a retry.
    async fn stateless_call(&self, upstream: &Stateless, mut request: serde_json::Value, id: &str) {
        let Some(inbound) = self.inbound.upgrade() else {
            return;
        };
        let fail = |message: String| {
            inbound.on_unanswered(
                id,
                &format!("remote server '{}' {message}", self.endpoint.name),
            );
        };
        if request["method"] == "tools/call"
            && let Some(tool) = request["params"]["name"].as_str()
            && !lock(&upstream.param_headers).contains_key(tool)
        {
            self.list_tools_for_headers(upstream).await;
        }
        for _round in 0..stateless::MAX_INPUT_ROUNDS {
            let answer = match self.post_stateless(upstream, &request).await {
                Ok(answer) => answer,
                Err(why) => return fail(why),
            };
            let Some(result) = answer.get("result") else {
                // An error answer (or one without a result) is the server's word: as it is.
                self.deliver(Bytes::from(answer.to_string()), None);
                return;
            };
            let Some((asks, state)) = stateless::input_required(result) else {
                let mut answer = answer.clone();
                answer["result"] = stateless::for_session_client(result.clone());
                self.learn_param_headers(upstream, &request, &answer);
                self.deliver(Bytes::from(answer.to_string()), None);
                return;
            };
            let mut responses = serde_json::Map::new();
            for (key, ask) in asks {
                match self.ask_client(upstream, &ask).await {
                    Ok(result) => {
                        responses.insert(key, result);
                    }
                    Err(error) => {
                        // The client refused or could not answer: that is the answer.
                        let mut answer = serde_json::json!({"jsonrpc": "2.0", "error": error});
                        answer["id"] = request["id"].clone();
                        self.deliver(Bytes::from(answer.to_string()), None);
                        return;
                    }
                }
            }
            request = stateless::retry_with(&request, responses, state);
        }
        fail(format!(
            "asked for input more than {} times for one request",
            stateless::MAX_INPUT_ROUNDS
        ));
    }

    /// One stateless POST: notifications on its stream (progress, log messages) go to the
    /// client as they come; the answer to `request` is returned.
    async fn post_stateless(
        &self,
        upstream: &Stateless,
        request: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let tool = request["params"]["name"].as_str().unwrap_or_default();
        let declared = lock(&upstream.param_headers)
            .get(tool)
            .cloned()
            .unwrap_or_default();
        let response = self.post_request(request, &declared).await?;
        let status = response.status();
        let is_sse = is_event_stream(&response);
        let mut answer = None;
        let problem = self
            .read_frames(response, is_sse, &mut |frame| {
                match serde_json::from_slice::<serde_json::Value>(&frame) {
                    Ok(message)
                        if message["id"] == request["id"] && message.get("method").is_none() =>
                    {
                        answer = Some(message);
                    }
                    // Progress and log messages of this request.
                    Ok(message) if message.get("id").is_none() => {
                        self.deliver(frame, None);
                    }
                    _ => {}
                }
            })
            .await;
        match answer {
            // An error status with the request's JSON-RPC error is the server's answer.
            Some(answer) => Ok(answer),
            None if !status.is_success() => Err(describe_status(status).unwrap_or_default()),
            None => Err(problem.unwrap_or_else(|| "closed the stream without answering".into())),
        }
    }

    /// Sends one of an `input_required` round's requests to the client and waits for its
    /// result (or its JSON-RPC error, as `Err`).
    async fn ask_client(
        &self,
        upstream: &Stateless,
        ask: &serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let n = upstream.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("\"switchboard-input-{n}\"");
        let (tx, rx) = tokio::sync::oneshot::channel();
        lock(&upstream.inputs).insert(id.clone().into(), tx);
        let mut request = serde_json::json!({
            "jsonrpc": "2.0",
            "method": ask["method"],
            "params": ask.get("params").cloned().unwrap_or_else(|| serde_json::json!({})),
        });
        request["id"] = serde_json::from_str(&id).unwrap_or_default();
        self.deliver(Bytes::from(request.to_string()), None);
        let answer = rx.await.map_err(|_| {
            serde_json::json!({"code": super::protocol::code::INTERNAL_ERROR, "message": "the client went away"})
        })?;
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
        match answer.get("result") {
            Some(result) => Ok(result.clone()),
            None => Err(answer.get("error").cloned().unwrap_or_else(|| {
                serde_json::json!({"code": super::protocol::code::INTERNAL_ERROR, "message": "the client answered without a result"})
            })),
        }
    }

    /// Lists the server's tools once, for their `Mcp-Param-*` annotations, when a call
    /// names a tool before the client has listed them.
    async fn list_tools_for_headers(&self, upstream: &Stateless) {
        if upstream.tools_listed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut cursor: Option<serde_json::Value> = None;
        // Bounded: a server that pages forever does not hold the call up forever.
        for page in 0..32 {
            let mut request = serde_json::json!({
                "jsonrpc": "2.0",
                "id": format!("switchboard-tools-{page}"),
                "method": "tools/list",
                "params": {},
            });
            if let Some(cursor) = cursor.take() {
                request["params"]["cursor"] = cursor;
            }
            let Some(request) =
                stateless::with_envelope(request.to_string().as_bytes(), &upstream.identity)
            else {
                return;
            };
            let Ok(answer) = self.post_stateless(upstream, &request).await else {
                return;
            };
            self.learn_param_headers(upstream, &request, &answer);
            match answer["result"]["nextCursor"].clone() {
                serde_json::Value::Null => return,
                next => cursor = Some(next),
            }
        }
    }

    /// Keeps each tool's `Mcp-Param-*` annotations from a `tools/list` answer.
    fn learn_param_headers(
        &self,
        upstream: &Stateless,
        request: &serde_json::Value,
        answer: &serde_json::Value,
    ) {
        if request["method"] != "tools/list" {
            return;
        }
        let Some(tools) = answer["result"]["tools"].as_array() else {
            return;
        };
        let mut known = lock(&upstream.param_headers);
        for tool in tools {
            if let Some(name) = tool["name"].as_str() {
                let params = super::modern::param_headers(&tool["inputSchema"]);
                known.insert(name.to_owned(), params);
            }
        }
    }

    fn restart_listen(&self, upstream: &Arc<Stateless>) {
        if let Some(task) = lock(&upstream.listen).take() {
            task.abort();
        }
        self.start_listen(upstream);
    }

    /// The session era's GET stream, as a `subscriptions/listen` for what the server
    /// offers (list changes) and the resources the client subscribed to; reopened with
    /// backoff while the session lives.
    fn start_listen(&self, upstream: &Arc<Stateless>) {
        let mut listen = lock(&upstream.listen);
        if listen.is_some() {
            return;
        }
        let filter = stateless::listen_filter(&upstream.discover, &lock(&upstream.subscriptions));
        if filter.as_object().is_none_or(|f| f.is_empty()) {
            return;
        }
        let me = self.me.clone();
        let carried = upstream.clone();
        let task = tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                let Some(client) = me.upgrade() else { return };
                if client.closed.load(Ordering::Acquire) {
                    return;
                }
                let n = carried.next.fetch_add(1, Ordering::Relaxed);
                let request = serde_json::json!({
                    "jsonrpc": "2.0",
                    "id": format!("switchboard-listen-{n}"),
                    "method": "subscriptions/listen",
                    "params": {"notifications": filter},
                });
                let request =
                    stateless::with_envelope(request.to_string().as_bytes(), &carried.identity)
                        .unwrap_or(request);
                let started = std::time::Instant::now();
                let ended = client.listen_once(&request).await;
                if let Err(why) = ended {
                    log::debug!("'{}': listen stream: {why}", client.endpoint.name);
                }
                drop(client);
                // A stream that lasted is reopened at once; one that keeps failing, slower.
                if started.elapsed() > Duration::from_secs(30) {
                    delay = Duration::from_millis(500);
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        });
        *listen = Some(task.abort_handle());
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// One stateless request, POSTed with its headers (`Mcp-Method`, `Mcp-Name` and the
    /// `Mcp-Param-*` that `declared` annotates) and the policy's credentials.
    async fn post_request(
        &self,
        request: &serde_json::Value,
        declared: &[ParamHeader],
    ) -> Result<reqwest::Response, String> {
        let url = self
            .url_for(&self.endpoint.url)
            .map_err(|f| f.message().to_owned())?;
        let headers = stateless::request_headers(request, declared);
        let body = Bytes::from(request.to_string());
        self.send_authorized(|| {
            let mut post = self
                .request(reqwest::Method::POST, url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json, text/event-stream");
            for (name, value) in &headers {
                post = post.header(name.as_str(), value.as_str());
            }
            post.body(body.clone())
        })
        .await
        .map_err(|f| f.message().to_owned())?
        .map_err(|e| format!("cannot be reached: {}", error_chain(&e)))
    }

    async fn listen_once(&self, request: &serde_json::Value) -> Result<(), String> {
        let response = self.post_request(request, &[]).await?;
        if !response.status().is_success() {
            return Err(describe_status(response.status()).unwrap_or_default());
        }
        let is_sse = is_event_stream(&response);
        self.read_frames(response, is_sse, &mut |frame| {
            if let Ok(message) = serde_json::from_slice::<serde_json::Value>(&frame)
                && message.get("method").is_some()
                && message.get("id").is_none()
                && let Some(notification) = stateless::from_listen_stream(&message)
            {
                self.deliver(Bytes::from(notification.to_string()), None);
            }
        })
        .await;
        Ok(())
    }

    /// Each message of a response body (one JSON object, or SSE `message` events) to
    /// `on_frame`, until the body ends. Returns what went wrong, in words that follow
    /// "remote server 'x' ", if anything did.
    async fn read_frames(
        &self,
        response: reqwest::Response,
        is_sse: bool,
        on_frame: &mut (dyn FnMut(Bytes) + Send),
    ) -> Option<String> {
        let limit = self.endpoint.max_message_bytes;
        let mut body = response.bytes_stream();
        if !is_sse {
            let mut all = Vec::new();
            while let Some(chunk) = body.next().await {
                let Ok(chunk) = chunk else {
                    return Some("broke off its answer".into());
                };
                if all.len() + chunk.len() > limit {
                    log::warn!(
                        "remote server '{}' sent an answer larger than {limit} bytes; dropped",
                        self.endpoint.name
                    );
                    return Some(format!("sent an answer larger than {limit} bytes"));
                }
                all.extend_from_slice(&chunk);
            }
            on_frame(Bytes::from(all));
            return None;
        }
        let mut decoder = sse::Decoder::new(limit);
        while let Some(Ok(chunk)) = body.next().await {
            for event in decoder.push(&chunk) {
                match event {
                    Ok(event) if event.event == "message" => on_frame(Bytes::from(event.data)),
                    Ok(_) => {}
                    Err(e) => log::warn!("remote server '{}': {e}", self.endpoint.name),
                }
            }
        }
        None
    }

    /// Ends the session: DELETE for Streamable HTTP, and every stream closed.
    pub async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.closing.send_replace(true);
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let had_session = lock(&self.session_id).is_some();
        if had_session && let Ok(url) = self.url_for(&self.endpoint.url) {
            let delete =
                self.send_authorized(|| self.request(reqwest::Method::DELETE, url.clone()));
            let _ = tokio::time::timeout(Duration::from_secs(2), delete).await;
        }
    }

    fn status_failure(&self, status: StatusCode) -> Option<SendFailure> {
        describe_status(status).map(|message| SendFailure::Status {
            status,
            message: format!("remote server '{}' {message}", self.endpoint.name),
            error: None,
        })
    }

    /// An error answer as a failure: its status, and the JSON-RPC error its body carries
    /// when the endpoint keeps error bodies (otherwise the body is not read).
    async fn answer_failure(&self, response: reqwest::Response) -> SendFailure {
        let status = response.status();
        let mut failure = self
            .status_failure(status)
            .unwrap_or_else(|| self.failed(format!("answered HTTP {}", status.as_u16())));
        if self.endpoint.keeps_error_bodies
            && let SendFailure::Status { error, .. } = &mut failure
        {
            *error = read_error_body(response).await;
        }
        failure
    }

    fn transport_failure(&self, e: &reqwest::Error) -> SendFailure {
        let cause = error_chain(e);
        SendFailure::Unreachable {
            connect: e.is_connect(),
            message: format!(
                "cannot reach remote server '{}': {cause}",
                self.endpoint.name
            ),
            cause,
        }
    }

    fn failed(&self, message: String) -> SendFailure {
        SendFailure::Failed(format!("remote server '{}' {message}", self.endpoint.name))
    }

    /// The caller's policy refused: "remote server 'x': <why>".
    fn refused(&self, why: String) -> SendFailure {
        SendFailure::Failed(format!("remote server '{}': {why}", self.endpoint.name))
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// What a non-success status means, in words that follow "remote server 'x' ".
fn describe_status(status: StatusCode) -> Option<String> {
    if status.is_redirection() {
        Some("redirected to another origin; not followed, so the credential stays with the configured origin".to_owned())
    } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        Some(format!("refused the credential (HTTP {})", status.as_u16()))
    } else if !status.is_success() {
        Some(format!("answered HTTP {}", status.as_u16()))
    } else {
        None
    }
}

/// What reading a response body came to.
#[derive(Default)]
struct BodyRead {
    /// The response to the request it answers was delivered.
    answered: bool,
    /// What went wrong, in words that follow "remote server 'x' ".
    problem: Option<String>,
}

/// The JSON-RPC error in an error answer's body (`{"error": {"code", "message"}}`), read up
/// to [`ERROR_BODY_LIMIT`] bytes.
async fn read_error_body(response: reqwest::Response) -> Option<ServerError> {
    let mut body = response.bytes_stream();
    let mut all = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        if all.len() + chunk.len() > ERROR_BODY_LIMIT {
            return None;
        }
        all.extend_from_slice(&chunk);
    }
    parse_error_body(&all)
}

fn parse_error_body(body: &[u8]) -> Option<ServerError> {
    #[derive(serde::Deserialize)]
    struct Body {
        error: ServerError,
    }
    serde_json::from_slice::<Body>(body).ok().map(|b| b.error)
}

/// The `protocolVersion` of an `initialize` answer, as a header value.
fn negotiated_version(frame: &[u8]) -> Option<HeaderValue> {
    #[derive(serde::Deserialize)]
    struct Answer<'a> {
        #[serde(borrow)]
        result: Option<InitResult<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct InitResult<'a> {
        #[serde(rename = "protocolVersion", borrow)]
        protocol_version: Option<&'a str>,
    }
    serde_json::from_slice::<Answer<'_>>(frame)
        .ok()
        .and_then(|a| a.result)
        .and_then(|r| r.protocol_version)
        .and_then(|v| HeaderValue::from_str(v).ok())
}

/// What went wrong with a request and why, down to the root cause ("cannot connect:
/// Connection refused (os error 111)"): what a person needs to act on. reqwest's own text
/// names the URL, which may carry a key, so only its kind and the causes are used.
pub fn error_chain(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_body() || e.is_decode() {
        "the response body broke off"
    } else {
        "the request failed"
    }
    .to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !cause_text.is_empty() && !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Whether a response streams SSE (else it is one JSON message).
fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"))
}

/// A message's params as a JSON value (`null` when it has none or they do not parse).
fn params_value(envelope: &Envelope<'_>) -> serde_json::Value {
    envelope
        .params
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default()
}

/// Legacy transport fallback: Streamable HTTP is not there.
struct Fallback;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nowhere;

    impl Inbound for Nowhere {
        fn on_message(&self, _frame: Bytes) {}
        fn on_unanswered(&self, _id_key: &str, _message: &str) {}
        fn on_ended(&self, _message: &str) {}
    }

    /// A server that accepts and never answers (not even headers) must not hold a send past
    /// the session's end: closing fails the send and drops its connection.
    #[tokio::test]
    async fn closing_the_session_ends_a_send_the_server_never_answers() {
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = Url::parse(&format!(
            "http://{}/mcp",
            listener.local_addr().expect("addr")
        ))
        .expect("url");
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            let _ = dropped_tx.send(());
        });
        let endpoint = Arc::new(Endpoint {
            name: "hangs".into(),
            url,
            transport: Transport::StreamableHttp,
            http: reqwest::Client::new(),
            max_message_bytes: 1024,
            keeps_error_bodies: false,
            eras: EraProbe::session_only(),
        });
        let inbound: Arc<dyn Inbound> = Arc::new(Nowhere);
        let client = Client::new(
            endpoint,
            Arc::new(NoCredentials(HeaderMap::new())),
            Arc::downgrade(&inbound),
        );
        let frame =
            Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
        let sending = {
            let client = client.clone();
            tokio::spawn(async move {
                let envelope = Envelope::parse(&frame).expect("an envelope");
                client.send(&envelope, frame.clone()).await
            })
        };
        // Not answered: the send waits as long as the session lives.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!sending.is_finished());
        client.close().await;
        let sent = tokio::time::timeout(Duration::from_secs(10), sending)
            .await
            .expect("the send ended with the session")
            .expect("no panic");
        match sent {
            Err(SendFailure::Failed(message)) => {
                assert!(message.contains("the session was closed"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        tokio::time::timeout(Duration::from_secs(10), dropped_rx)
            .await
            .expect("the connection was let go")
            .expect("the server task ran");
    }

    #[test]
    fn statuses_say_what_happened_without_the_servers_body() {
        assert_eq!(describe_status(StatusCode::OK), None);
        assert_eq!(describe_status(StatusCode::ACCEPTED), None);
        let refused = describe_status(StatusCode::UNAUTHORIZED).expect("a failure");
        assert!(
            refused.contains("refused the credential (HTTP 401)"),
            "{refused}"
        );
        let moved = describe_status(StatusCode::FOUND).expect("a failure");
        assert!(moved.contains("not followed"), "{moved}");
        assert_eq!(
            describe_status(StatusCode::BAD_GATEWAY).as_deref(),
            Some("answered HTTP 502")
        );
    }

    #[test]
    fn error_bodies_are_read_for_their_json_rpc_error_only() {
        let body =
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Bad Request: no"}}"#;
        assert_eq!(
            parse_error_body(body),
            Some(ServerError {
                code: -32600,
                message: "Bad Request: no".into()
            })
        );
        assert_eq!(parse_error_body(b"<html>oops</html>"), None);
        assert_eq!(parse_error_body(br#"{"result":{}}"#), None);
    }

    /// What a client hands its sink.
    #[derive(Default)]
    struct Recorder {
        messages: Mutex<Vec<Bytes>>,
        unanswered: Mutex<Vec<String>>,
    }

    impl Inbound for Recorder {
        fn on_message(&self, frame: Bytes) {
            lock(&self.messages).push(frame);
        }
        fn on_unanswered(&self, id_key: &str, _message: &str) {
            lock(&self.unanswered).push(id_key.to_owned());
        }
        fn on_ended(&self, _message: &str) {}
    }

    struct NoCredentials(HeaderMap);

    impl Credentials for NoCredentials {
        fn headers(&self) -> &HeaderMap {
            &self.0
        }
        fn url(&self, url: &Url) -> Result<Url, String> {
            Ok(url.clone())
        }
        fn endpoint(&self, _: &Url, _: &str) -> Result<Url, String> {
            Err("no legacy transport here".into())
        }
    }

    /// A Streamable HTTP server on loopback: a request whose method is "answer" gets an SSE
    /// stream with its answer, "silence" a stream that ends without one, and "refuse" a
    /// 400 with a JSON-RPC error body.
    async fn server() -> Url {
        use axum::http::StatusCode as Status;
        async fn post(body: Bytes) -> axum::response::Response {
            use axum::response::IntoResponse;
            let envelope = Envelope::parse(&body).expect("a message");
            let id = envelope.id_key().unwrap_or("null").to_owned();
            let sse = |events: String| {
                (
                    [(header::CONTENT_TYPE, "text/event-stream")],
                    [(SESSION_HEADER, "s1")],
                    events,
                )
                    .into_response()
            };
            match envelope.method.as_deref() {
                Some("answer") => sse(format!(
                    "data: {{\"jsonrpc\":\"2.0\",\"method\":\"note\"}}\n\ndata: {{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{{}}}}\n\n"
                )),
                Some("silence") => sse(": nothing\n\n".into()),
                _ => (
                    Status::BAD_REQUEST,
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"no such thing"}}"#,
                )
                    .into_response(),
            }
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("port").port();
        let app = axum::Router::new().route("/mcp", axum::routing::post(post));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Url::parse(&format!("http://127.0.0.1:{port}/mcp")).expect("url")
    }

    fn client(url: Url, keeps_error_bodies: bool, sink: &Arc<Recorder>) -> Arc<Client> {
        let endpoint = Endpoint {
            name: "t".into(),
            url,
            transport: Transport::StreamableHttp,
            http: reqwest::Client::builder().no_proxy().build().expect("http"),
            max_message_bytes: 1 << 20,
            keeps_error_bodies,
            eras: EraProbe::session_only(),
        };
        let sink: Arc<dyn Inbound> = sink.clone();
        Client::new(
            Arc::new(endpoint),
            Arc::new(NoCredentials(HeaderMap::new())),
            Arc::downgrade(&sink),
        )
    }

    async fn send(client: &Client, frame: &'static str) -> Result<(), SendFailure> {
        let envelope = Envelope::parse(frame.as_bytes()).expect("a message");
        client
            .send(&envelope, Bytes::from_static(frame.as_bytes()))
            .await
    }

    /// Waits (bounded) until `done` holds.
    async fn until(done: impl Fn() -> bool) {
        for _ in 0..200 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out");
    }

    #[tokio::test]
    async fn only_a_stream_that_ends_without_the_answer_is_unanswered() {
        let url = server().await;
        let sink = Arc::new(Recorder::default());
        let client = client(url, false, &sink);
        send(&client, r#"{"jsonrpc":"2.0","id":1,"method":"answer"}"#)
            .await
            .expect("sent");
        send(
            &client,
            r#"{"jsonrpc":"2.0","id":"two","method":"silence"}"#,
        )
        .await
        .expect("sent");
        until(|| lock(&sink.unanswered).len() == 1 && lock(&sink.messages).len() == 2).await;
        // Give a wrong report for request 1 (its stream also ended) time to show.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(*lock(&sink.unanswered), vec![r#""two""#.to_owned()]);
    }

    #[tokio::test]
    async fn error_bodies_reach_the_caller_only_when_the_endpoint_keeps_them() {
        let url = server().await;
        let sink = Arc::new(Recorder::default());
        let refuse = r#"{"jsonrpc":"2.0","id":3,"method":"refuse"}"#;
        let kept = send(&client(url.clone(), true, &sink), refuse).await;
        let Err(SendFailure::Status {
            status,
            message,
            error,
        }) = kept
        else {
            panic!("{kept:?}");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(message, "remote server 't' answered HTTP 400");
        assert_eq!(
            error.map(|e| (e.code, e.message)),
            Some((-32600, "no such thing".into()))
        );
        let dropped = send(&client(url, false, &sink), refuse).await;
        assert!(
            matches!(&dropped, Err(SendFailure::Status { error: None, .. })),
            "{dropped:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("port").port();
        drop(listener);
        let url = Url::parse(&format!("http://127.0.0.1:{port}/mcp")).expect("url");
        let sink = Arc::new(Recorder::default());
        let failed = send(
            &client(url, false, &sink),
            r#"{"jsonrpc":"2.0","id":1,"method":"answer"}"#,
        )
        .await;
        let Err(SendFailure::Unreachable {
            connect: true,
            cause,
            message,
        }) = failed
        else {
            panic!("{failed:?}");
        };
        assert!(cause.starts_with("cannot connect"), "{cause}");
        assert!(
            message.starts_with("cannot reach remote server 't': cannot connect"),
            "{message}"
        );
        assert!(
            !message.contains("127.0.0.1"),
            "no URL in the message: {message}"
        );
    }

    #[test]
    fn the_negotiated_version_comes_from_the_initialize_result_only() {
        let answer = br#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{}}}"#;
        assert_eq!(
            negotiated_version(answer),
            Some(HeaderValue::from_static("2025-06-18"))
        );
        assert_eq!(
            negotiated_version(br#"{"jsonrpc":"2.0","id":1,"error":{"code":1,"message":"no"}}"#),
            None
        );
        // A version that cannot be a header value is not echoed into one.
        assert_eq!(
            negotiated_version(b"{\"result\":{\"protocolVersion\":\"a\\nb\"}}"),
            None
        );
        assert_eq!(negotiated_version(b"not json"), None);
    }
}
