//! Remote MCP servers ("gateways"): each downstream session gets its own upstream session,
//! over Streamable HTTP or the legacy HTTP+SSE transport, with the credential the config
//! names injected into every request.
//!
//! - The IDE's own credentials are never forwarded: upstream requests are built from
//!   scratch, with only the configured headers.
//! - Secret values are read from the keychain when the connection is made.
//! - Query-parameter keys pass [`query_auth`]'s policy on *every* request and are added to
//!   the URL only then; redirects to another origin are never followed.
//! - Errors that reach a client say what happened (status, cause) but never carry the
//!   upstream's own error body or a URL with a key in it.

pub mod query_auth;
mod sse;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use tokio::task::JoinHandle;
use url::Url;

use crate::config::{RemoteTransport, ServerConfig, UpstreamAuth, ValueSource};
use crate::error::{Error, Result};
use crate::redact;
use crate::relay::frame::{Envelope, Kind};
use crate::relay::{ServerRelay, Session};
use crate::secrets::Sensitive;
use crate::supervisor::ChildSink;
use query_auth::QueryAuthPolicy;

const SESSION_HEADER: &str = "mcp-session-id";
const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
/// How long a legacy SSE upstream may take to announce its POST endpoint.
const ENDPOINT_TIMEOUT: Duration = Duration::from_secs(30);

/// Checks a remote server's URL as entered: http(s), no userinfo, no secret-looking
/// parameters (those belong in the keychain).
pub fn validate_url(text: &str) -> std::result::Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("\"url\" is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "\"url\" must be http or https, not {}",
            url.scheme()
        ));
    }
    let inline = query_auth::inline_secrets(text);
    if !inline.is_empty() {
        let names: Vec<String> = inline
            .iter()
            .map(|s| s.suggested_secret_name.clone())
            .collect();
        return Err(format!(
            "\"url\" carries a credential ({}); move it into the keychain with `switchboard secret set NAME` and reference it from \"auth\" instead",
            names.join(", ")
        ));
    }
    Ok(url)
}

/// Why a message could not be sent upstream.
#[derive(Debug)]
pub enum SendFailure {
    /// The upstream no longer knows our session: the client must initialize again.
    SessionExpired,
    /// Anything else; the text is safe to show to a client.
    Failed(String),
}

/// A remote server as configured.
pub struct RemoteServer {
    name: Arc<str>,
    url: Url,
    transport: RemoteTransport,
    headers: Vec<(String, ValueSource)>,
    auth: UpstreamAuth,
    policy: Arc<RwLock<QueryAuthPolicy>>,
    http: reqwest::Client,
}

impl RemoteServer {
    /// `None` for a stdio server. The URL was validated when the config was loaded.
    pub fn from_config(
        name: &Arc<str>,
        config: &ServerConfig,
        policy: Arc<RwLock<QueryAuthPolicy>>,
    ) -> Option<RemoteServer> {
        let url = Url::parse(config.url.as_deref()?).ok()?;
        Some(RemoteServer {
            name: name.clone(),
            url,
            transport: config.transport,
            headers: config
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            auth: config.auth.clone(),
            policy,
            http: http_client(),
        })
    }

    /// Reads the credential from the keychain (now, at connection time).
    async fn credentials(&self, server: &ServerRelay) -> Result<Credentials> {
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
            let (name, value) = header(name, &server.value(source).await?)?;
            headers.insert(name, value);
        }
        match &self.auth {
            UpstreamAuth::None => {}
            UpstreamAuth::Bearer { secret } => {
                let token = server.secret(secret).await?;
                let (name, value) = header(
                    "authorization",
                    &Sensitive::new(format!("Bearer {}", token.expose())),
                )?;
                headers.insert(name, value);
            }
            UpstreamAuth::Headers { headers: extra } => {
                for (name, source) in extra {
                    let (name, value) = header(name, &server.value(source).await?)?;
                    headers.insert(name, value);
                }
            }
            UpstreamAuth::Basic { username, secret } => {
                let password = server.secret(secret).await?;
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
                query = Some((param.clone(), server.secret(secret).await?));
            }
        }
        Ok(Credentials { headers, query })
    }

    fn error(&self, message: String) -> Error {
        Error::Upstream {
            server: self.name.to_string(),
            message,
        }
    }
}

/// Same-origin redirects only: a credential never follows a redirect to another origin.
fn http_client() -> reqwest::Client {
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
        .redirect(policy)
        .connect_timeout(Duration::from_secs(15))
        .build()
        .unwrap_or_default()
}

struct Credentials {
    headers: HeaderMap,
    /// Query-parameter auth: (parameter name, key).
    query: Option<(String, Sensitive<String>)>,
}

#[derive(Clone)]
enum Mode {
    /// Nothing sent yet; `auto` decides on the first `initialize`.
    Undecided,
    StreamableHttp,
    /// Legacy HTTP+SSE: messages are POSTed to the endpoint the upstream announced.
    Sse {
        post_url: Url,
    },
}

/// One downstream session's own session on a remote server.
pub struct RemoteLink {
    server: Arc<RemoteServer>,
    credentials: Credentials,
    session: Weak<Session>,
    mode: tokio::sync::Mutex<Mode>,
    upstream_session: Mutex<Option<HeaderValue>>,
    protocol_version: Mutex<Option<HeaderValue>>,
    /// The id of the client's `initialize`, to learn the negotiated version from its answer.
    initialize_id: Mutex<Option<Box<str>>>,
    get_stream_started: AtomicBool,
    closed: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    me: Weak<RemoteLink>,
}

impl RemoteLink {
    pub async fn open(
        server: Arc<RemoteServer>,
        relay: &ServerRelay,
        session: Weak<Session>,
    ) -> Result<Arc<RemoteLink>> {
        let credentials = server.credentials(relay).await?;
        Ok(Arc::new_cyclic(|me| RemoteLink {
            server,
            credentials,
            session,
            mode: tokio::sync::Mutex::new(Mode::Undecided),
            upstream_session: Mutex::new(None),
            protocol_version: Mutex::new(None),
            initialize_id: Mutex::new(None),
            get_stream_started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            me: me.clone(),
        }))
    }

    /// Sends one client message upstream. Answers arrive through the session's sink.
    pub async fn send(
        &self,
        envelope: &Envelope<'_>,
        frame: Bytes,
    ) -> std::result::Result<(), SendFailure> {
        let is_initialize =
            envelope.kind == Kind::Request && envelope.method.as_deref() == Some("initialize");
        if is_initialize {
            *lock(&self.initialize_id) = envelope.id_key().map(Into::into);
        }
        let request_id: Option<Box<str>> =
            (envelope.kind == Kind::Request).then(|| envelope.id_key().unwrap_or("null").into());
        let mut mode = self.mode.lock().await;
        if matches!(*mode, Mode::Undecided) && self.server.transport == RemoteTransport::Sse {
            *mode = self.connect_sse().await?;
        }
        let current = mode.clone();
        // The lock serialises only the choice of transport (the first initialize and its
        // fallback). Once it is made, messages go out concurrently: a slow call answered as
        // JSON must not hold up its own cancellation or the reply to the server's request.
        let mut deciding = matches!(current, Mode::Undecided).then_some(mode);
        match current {
            Mode::Sse { post_url } => self.post_sse(&post_url, frame).await,
            _ => {
                let may_fall_back = deciding.is_some()
                    && is_initialize
                    && self.server.transport == RemoteTransport::Auto;
                match self
                    .post_streamable(frame.clone(), request_id, may_fall_back)
                    .await
                {
                    Err(Fallback) => {
                        log::info!(
                            "'{}': no Streamable HTTP endpoint; trying the legacy SSE transport",
                            self.server.name
                        );
                        let sse = self.connect_sse().await?;
                        let Mode::Sse { post_url } = &sse else {
                            unreachable!("connect_sse returns Sse")
                        };
                        let post_url = post_url.clone();
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

    /// The URL to send to, with the query key added when (and only when) policy allows it now.
    fn url_for(&self, url: &Url) -> std::result::Result<Url, SendFailure> {
        match &self.credentials.query {
            None => Ok(url.clone()),
            Some((param, key)) => {
                let policy = self.server.policy.read().unwrap_or_else(|p| p.into_inner());
                policy.check(url).map_err(|e| {
                    SendFailure::Failed(format!("remote server '{}': {e}", self.server.name))
                })?;
                Ok(query_auth::with_key(url, param, key))
            }
        }
    }

    fn request(&self, method: reqwest::Method, url: Url) -> reqwest::RequestBuilder {
        let mut request = self
            .server
            .http
            .request(method, url)
            .headers(self.credentials.headers.clone());
        if let Some(id) = lock(&self.upstream_session).clone() {
            request = request.header(SESSION_HEADER, id);
        }
        if let Some(version) = lock(&self.protocol_version).clone() {
            request = request.header(PROTOCOL_VERSION_HEADER, version);
        }
        request
    }

    async fn post_streamable(
        &self,
        frame: Bytes,
        request_id: Option<Box<str>>,
        may_fall_back: bool,
    ) -> std::result::Result<std::result::Result<(), SendFailure>, Fallback> {
        let url = match self.url_for(&self.server.url) {
            Ok(url) => url,
            Err(failure) => return Ok(Err(failure)),
        };
        let had_session = lock(&self.upstream_session).is_some();
        let response = self
            .request(reqwest::Method::POST, url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .body(frame)
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(e) => return Ok(Err(self.transport_failure(e))),
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
        if let Some(failure) = self.status_failure(status) {
            return Ok(Err(failure));
        }
        if let Some(id) = response.headers().get(SESSION_HEADER) {
            *lock(&self.upstream_session) = Some(id.clone());
        }
        if status == StatusCode::ACCEPTED || request_id.is_none() {
            return Ok(Ok(()));
        }
        let is_sse = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let me = self.me.clone();
        self.spawn(async move {
            let Some(link) = me.upgrade() else { return };
            link.read_body(response, is_sse).await;
            if let (Some(id), Some(session)) = (request_id, link.session.upgrade()) {
                session.fail_request(
                    &id,
                    &format!(
                        "remote server '{}' closed the stream without answering",
                        link.server.name
                    ),
                );
            }
        });
        Ok(Ok(()))
    }

    /// Messages from a response body (SSE events or one JSON object) into the session.
    async fn read_body(&self, response: reqwest::Response, is_sse: bool) {
        let mut body = response.bytes_stream();
        if !is_sse {
            let mut all = Vec::new();
            while let Some(Ok(chunk)) = body.next().await {
                all.extend_from_slice(&chunk);
            }
            self.deliver(Bytes::from(all));
            return;
        }
        let mut parser = sse::Parser::default();
        while let Some(Ok(chunk)) = body.next().await {
            for event in parser.push(&chunk) {
                if event.event == "message" {
                    self.deliver(Bytes::from(event.data.into_bytes()));
                }
            }
        }
    }

    /// One message from upstream to the client's session.
    fn deliver(&self, frame: Bytes) {
        let Some(session) = self.session.upgrade() else {
            return;
        };
        if let Ok(envelope) = Envelope::parse(&frame)
            && envelope.kind == Kind::Response
            && envelope.id_key().is_some()
            && lock(&self.initialize_id).as_deref() == envelope.id_key()
        {
            self.learn_protocol_version(&frame);
        }
        let frame = crate::relay::frame::to_single_line(frame);
        if let Err(rejected) = session.on_frame(frame) {
            log::warn!(
                "remote server '{}' sent something that is not JSON-RPC ({}); not relayed",
                self.server.name,
                rejected.0
            );
        }
    }

    fn learn_protocol_version(&self, frame: &[u8]) {
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
        let version = serde_json::from_slice::<Answer<'_>>(frame)
            .ok()
            .and_then(|a| a.result)
            .and_then(|r| r.protocol_version)
            .and_then(|v| HeaderValue::from_str(v).ok());
        *lock(&self.protocol_version) = version;
    }

    /// After the handshake: a GET stream for what the upstream sends on its own, kept open
    /// (with backoff) while the session lives. An upstream without one answers 405.
    fn start_get_stream(&self) {
        if self.get_stream_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.me.clone();
        self.spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                let Some(link) = me.upgrade() else { return };
                if link.closed.load(Ordering::Acquire) {
                    return;
                }
                let Ok(url) = link.url_for(&link.server.url) else {
                    return;
                };
                let response = link
                    .request(reqwest::Method::GET, url)
                    .header(header::ACCEPT, "text/event-stream")
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == StatusCode::METHOD_NOT_ALLOWED => return,
                    Ok(r) if r.status() == StatusCode::NOT_FOUND => {
                        if let Some(session) = link.session.upgrade() {
                            session.end("the remote server ended the session");
                        }
                        return;
                    }
                    Ok(r) if r.status().is_success() => {
                        delay = Duration::from_millis(500);
                        link.read_body(r, true).await;
                    }
                    Ok(r) => log::debug!(
                        "'{}': GET stream refused ({})",
                        link.server.name,
                        r.status()
                    ),
                    Err(e) => log::debug!(
                        "'{}': GET stream failed: {}",
                        link.server.name,
                        redact::redact_error(&e.without_url())
                    ),
                }
                drop(link);
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// Legacy HTTP+SSE: open the stream and wait for the announced POST endpoint.
    async fn connect_sse(&self) -> std::result::Result<Mode, SendFailure> {
        let url = self.url_for(&self.server.url)?;
        let response = self
            .request(reqwest::Method::GET, url)
            .header(header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| self.transport_failure(e))?;
        if let Some(failure) = self.status_failure(response.status()) {
            return Err(failure);
        }
        let (endpoint_tx, endpoint_rx) = tokio::sync::oneshot::channel::<String>();
        let me = self.me.clone();
        self.spawn(async move {
            let mut endpoint_tx = Some(endpoint_tx);
            let mut parser = sse::Parser::default();
            let mut body = response.bytes_stream();
            while let Some(Ok(chunk)) = body.next().await {
                let Some(link) = me.upgrade() else { return };
                for event in parser.push(&chunk) {
                    match event.event.as_str() {
                        "endpoint" => {
                            if let Some(tx) = endpoint_tx.take() {
                                let _ = tx.send(event.data);
                            }
                        }
                        "message" => link.deliver(Bytes::from(event.data.into_bytes())),
                        _ => {}
                    }
                }
            }
            if let Some(link) = me.upgrade()
                && !link.closed.load(Ordering::Acquire)
                && let Some(session) = link.session.upgrade()
            {
                session.end(&format!(
                    "remote server '{}' closed its SSE stream",
                    link.server.name
                ));
            }
        });
        let announced = tokio::time::timeout(ENDPOINT_TIMEOUT, endpoint_rx)
            .await
            .map_err(|_| {
                SendFailure::Failed(format!(
                    "remote server '{}' did not announce its message endpoint",
                    self.server.name
                ))
            })?
            .map_err(|_| {
                SendFailure::Failed(format!(
                    "remote server '{}' closed its SSE stream",
                    self.server.name
                ))
            })?;
        let post_url = query_auth::resolve_endpoint(&self.server.url, &announced).map_err(|e| {
            SendFailure::Failed(format!("remote server '{}': {e}", self.server.name))
        })?;
        Ok(Mode::Sse { post_url })
    }

    async fn post_sse(&self, post_url: &Url, frame: Bytes) -> std::result::Result<(), SendFailure> {
        // The key is added again for every POST: a relative endpoint drops the SSE URL's query.
        let url = self.url_for(post_url)?;
        let response = self
            .request(reqwest::Method::POST, url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(frame)
            .send()
            .await
            .map_err(|e| self.transport_failure(e))?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(SendFailure::SessionExpired);
        }
        match self.status_failure(response.status()) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Ends the upstream session: DELETE for Streamable HTTP, and every stream closed.
    pub async fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
        let had_session = lock(&self.upstream_session).is_some();
        if had_session && let Ok(url) = self.url_for(&self.server.url) {
            let delete = self.request(reqwest::Method::DELETE, url).send();
            let _ = tokio::time::timeout(Duration::from_secs(2), delete).await;
        }
    }

    fn status_failure(&self, status: StatusCode) -> Option<SendFailure> {
        let message = if status.is_redirection() {
            "redirected to another origin; not followed, so the credential stays with the configured origin".to_owned()
        } else if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            format!("refused the credential (HTTP {})", status.as_u16())
        } else if !status.is_success() {
            format!("answered HTTP {}", status.as_u16())
        } else {
            return None;
        };
        Some(SendFailure::Failed(format!(
            "remote server '{}' {message}",
            self.server.name
        )))
    }

    fn transport_failure(&self, e: reqwest::Error) -> SendFailure {
        // `without_url`: reqwest's text would otherwise include the URL, key and all.
        let cause = redact::redact_error(&e.without_url());
        SendFailure::Failed(format!(
            "cannot reach remote server '{}': {cause}",
            self.server.name
        ))
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(task);
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }
}

impl Drop for RemoteLink {
    fn drop(&mut self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// Streamable HTTP is not there; try the legacy transport.
struct Fallback;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
