//! One client session and the routing of everything the server sends back to it.
//!
//! A message from the server goes to exactly one place:
//! - a response goes to the stream of the POST that carried its request;
//! - a progress notification goes to the stream of the request that owns its token;
//! - anything else (server→client requests, logging, list_changed) goes to the one request
//!   stream in flight if there is exactly one, else to the session's GET stream, else to any
//!   request stream in flight, else it waits in a bounded backlog for the next GET stream.
//!
//! Nothing is ever copied to a second stream or to another session.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ServerRelay;
use super::backend::{Backend, Sent};
use crate::config::Limits;
use crate::mcp::client::Inbound;
use crate::mcp::jsonrpc::{self, Envelope, Kind};
use crate::mcp::queue::{self, FrameRx, FrameTx, Refused};
use crate::supervisor::{ChildSink, ExitInfo, FrameRejected};

/// Where a stream's frames go: the HTTP response body that is streaming them out. The
/// queue is bounded (`switchboard.limits.maxStreamQueueBytes`): a client that falls that
/// far behind has its stream cut, so a server that floods never makes the proxy hold
/// unbounded memory for a reader that does not read.
pub type StreamTx = FrameTx;
pub type StreamRx = FrameRx;

/// The transport a session was opened on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Streamable HTTP: POST per message, optional GET stream.
    StreamableHttp,
    /// The 2024-11-05 HTTP+SSE transport: one SSE stream carries everything.
    LegacySse,
}

pub struct Session {
    pub id: Arc<str>,
    pub server: Arc<ServerRelay>,
    pub transport: Transport,
    backend: OnceLock<Backend>,
    routes: Mutex<Routes>,
    created: Instant,
    /// Milliseconds since `created` of the last client activity.
    last_active_ms: AtomicU64,
    closed: AtomicBool,
}

#[derive(Default)]
struct Routes {
    /// Request id (exact JSON text) → where its answer goes.
    pending: HashMap<Box<str>, Pending>,
    /// Progress token (exact JSON text) → the request id that carries it.
    progress: HashMap<Box<str>, Box<str>>,
    /// Open GET streams (or the one legacy SSE stream).
    streams: Vec<StreamTx>,
    backlog: VecDeque<Bytes>,
    /// Total size of `backlog`.
    backlog_bytes: usize,
    /// Messages dropped from the backlog since a stream last took it.
    backlog_dropped: u64,
    /// Answers whose request stream had closed before they came, by stream id, kept for a
    /// client that resumes with `Last-Event-ID` (bounded by count and bytes).
    orphans: VecDeque<(u64, Bytes)>,
    /// Total size of `orphans`.
    orphan_bytes: usize,
    /// Source of `Pending::seq`, which is also the request stream's id.
    seq: u64,
}

impl Routes {
    /// Keeps an orphaned answer for resumption; past either bound of `limits`
    /// (`maxKeptAnswers`, `maxKeptAnswerBytes`) the oldest go. The newest is always kept: it
    /// was in memory anyway. Answers can be large (images, files), so a count alone would
    /// not bound memory.
    fn keep_orphan(&mut self, stream: u64, frame: Bytes, limits: &Limits) {
        self.orphan_bytes += frame.len();
        self.orphans.push_back((stream, frame));
        while self.orphans.len() > limits.max_kept_answers
            || (self.orphan_bytes > limits.max_kept_answer_bytes && self.orphans.len() > 1)
        {
            if let Some((_, old)) = self.orphans.pop_front() {
                self.orphan_bytes -= old.len();
                log::debug!("dropping an unclaimed answer kept for resumption");
            }
        }
    }

    /// Keeps a message for the next stream the session opens; past either bound of
    /// `limits` (`maxBacklogMessages`, `maxBacklogBytes`) the oldest go.
    fn keep_in_backlog(&mut self, frame: Bytes, limits: &Limits) {
        self.backlog_bytes += frame.len();
        self.backlog.push_back(frame);
        let mut dropped = 0;
        while self.backlog.len() > limits.max_backlog_messages
            || (self.backlog_bytes > limits.max_backlog_bytes && self.backlog.len() > 1)
        {
            if let Some(old) = self.backlog.pop_front() {
                self.backlog_bytes -= old.len();
                dropped += 1;
            }
        }
        // Once per overflow, not per message: a server that floods would flood the log too.
        if dropped > 0 && self.backlog_dropped == 0 {
            log::warn!(
                "a session's backlog is full (switchboard.limits.maxBacklogMessages / \
                 maxBacklogBytes); dropping its oldest messages until a stream takes them"
            );
        }
        self.backlog_dropped += dropped;
    }

    fn take_backlog(&mut self) -> VecDeque<Bytes> {
        if self.backlog_dropped > 0 {
            log::info!(
                "a session's stream opened after {} message(s) were dropped from its backlog",
                self.backlog_dropped
            );
            self.backlog_dropped = 0;
        }
        self.backlog_bytes = 0;
        std::mem::take(&mut self.backlog)
    }

    /// Removes and returns the answers kept for request stream `stream`, oldest first.
    fn take_orphans(&mut self, stream: u64) -> Vec<Bytes> {
        let mut taken = Vec::new();
        self.orphans.retain(|(s, frame)| {
            let matches = *s == stream;
            if matches {
                taken.push(frame.clone());
            }
            !matches
        });
        self.orphan_bytes -= taken.iter().map(Bytes::len).sum::<usize>();
        taken
    }

    /// Forgets every stream and everything waiting for one: the session is over.
    fn clear_streams(&mut self) {
        self.streams.clear();
        self.backlog.clear();
        self.backlog_bytes = 0;
        self.orphans.clear();
        self.orphan_bytes = 0;
    }
}

/// A request's answer stream and its id (for SSE event ids and resumption).
pub struct RequestStream {
    pub rx: StreamRx,
    pub stream_id: u64,
}

struct Pending {
    tx: StreamTx,
    /// Whether other messages may travel on this request's stream (SSE, not plain JSON).
    streaming: bool,
    progress_token: Option<Box<str>>,
    seq: u64,
}

/// Why a client message could not be forwarded.
#[derive(Debug)]
pub enum SendError {
    /// The session is over; the client must initialize again (HTTP 404).
    Closed,
    /// A request with this id is already in flight in this session.
    DuplicateId,
}

impl Session {
    pub(super) fn new(
        id: Arc<str>,
        server: Arc<ServerRelay>,
        transport: Transport,
    ) -> Arc<Session> {
        Arc::new(Session {
            id,
            server,
            transport,
            backend: OnceLock::new(),
            routes: Mutex::new(Routes::default()),
            created: Instant::now(),
            last_active_ms: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        })
    }

    /// Connects the session to its server: its own child, a place on the shared one, or
    /// its own session on a remote server.
    pub(super) async fn attach(self: &Arc<Self>) -> crate::Result<()> {
        let backend = Backend::open(self).await?;
        let _ = self.backend.set(backend);
        Ok(())
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn pid(&self) -> Option<u32> {
        self.backend.get()?.pid()
    }

    pub fn touch(&self) {
        let ms = self.created.elapsed().as_millis() as u64;
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    /// True when nothing is in flight, no stream is open and the client has been quiet for
    /// `timeout`: such a session is expired.
    pub fn is_idle(&self, timeout: Duration) -> bool {
        let quiet = self.created.elapsed().saturating_sub(Duration::from_millis(
            self.last_active_ms.load(Ordering::Relaxed),
        ));
        if quiet < timeout {
            return false;
        }
        let mut routes = self.lock();
        routes.streams.retain(|tx| !tx.is_closed());
        routes.pending.is_empty() && routes.streams.is_empty()
    }

    /// Forwards one client message. For a request, returns the stream its answer (and, when
    /// `streaming`, related messages) will arrive on.
    pub async fn send_from_client(
        self: &Arc<Self>,
        envelope: &Envelope<'_>,
        frame: Bytes,
        streaming: bool,
    ) -> Result<Option<RequestStream>, SendError> {
        if self.is_closed() {
            return Err(SendError::Closed);
        }
        self.touch();
        let frame = jsonrpc::to_single_line(frame);
        let rx = if envelope.kind == Kind::Request {
            Some(self.register_request(envelope, streaming)?)
        } else {
            None
        };
        let sent = match self.backend.get() {
            Some(backend) => backend.send(self, envelope, frame).await,
            None => Sent::NotRunning,
        };
        let failure = match sent {
            Sent::Ok => None,
            Sent::NotRunning => Some(format!("server '{}' is not running", self.server.name)),
            Sent::Failed(message) => Some(message),
            Sent::SessionEnded => {
                // The upstream ended our session, so the client's ends too: it gets 404 and
                // initializes again, as the spec prescribes.
                self.end("the remote server ended the session");
                return Err(SendError::Closed);
            }
        };
        let failed = failure.is_some();
        if let Some(message) = failure
            && let Some(id) = envelope.id.filter(|_| envelope.kind == Kind::Request)
        {
            self.deliver_response(
                id.get(),
                jsonrpc::error_response(Some(id), jsonrpc::code::SERVER_UNAVAILABLE, &message),
            );
        }
        // A session whose `initialize` could not even be delivered is of no use: it ends
        // here, so the client gets the error without a session id to hold on to.
        if failed
            && envelope.kind == Kind::Request
            && envelope.method.as_deref() == Some("initialize")
        {
            self.end("initialize could not be delivered");
        }
        Ok(rx)
    }

    pub(super) fn register_request(
        &self,
        envelope: &Envelope<'_>,
        streaming: bool,
    ) -> Result<RequestStream, SendError> {
        let key: Box<str> = envelope.id_key().unwrap_or("null").into();
        let progress_token = envelope
            .param("progressToken", true)
            .map(|t| Box::<str>::from(t.get()));
        let mut routes = self.lock();
        if routes.pending.contains_key(&key) {
            return Err(SendError::DuplicateId);
        }
        let (tx, rx) = match (self.transport, routes.streams.first()) {
            // Legacy SSE: every answer travels on the session's one stream.
            (Transport::LegacySse, Some(stream)) => (stream.clone(), queue::channel(0).1),
            _ => queue::channel(self.limits().max_stream_queue_bytes),
        };
        if let Some(token) = &progress_token {
            routes.progress.insert(token.clone(), key.clone());
        }
        routes.seq += 1;
        let seq = routes.seq;
        routes.pending.insert(
            key,
            Pending {
                tx,
                streaming,
                progress_token,
                seq,
            },
        );
        Ok(RequestStream { rx, stream_id: seq })
    }

    /// Opens a GET (or legacy SSE) stream; anything waiting in the backlog goes out first.
    pub fn open_stream(&self) -> StreamRx {
        self.open_stream_resuming(None)
    }

    /// Opens a GET stream that first replays what request stream `resumed` could not carry
    /// (the client reconnected with a `Last-Event-ID` from it), then the backlog.
    pub fn open_stream_resuming(&self, resumed: Option<u64>) -> StreamRx {
        self.touch();
        let (tx, rx) = queue::channel(self.limits().max_stream_queue_bytes);
        let mut routes = self.lock();
        if let Some(stream) = resumed {
            for frame in routes.take_orphans(stream) {
                tx.refill(frame);
            }
            // Still in flight: its answer comes here now, not to the stream the client lost.
            if let Some(pending) = routes
                .pending
                .values_mut()
                .find(|p| p.seq == stream && p.streaming)
            {
                pending.tx = tx.clone();
            }
        }
        for frame in routes.take_backlog() {
            tx.refill(frame);
        }
        routes.streams.retain(|tx| !tx.is_closed());
        routes.streams.push(tx);
        rx
    }

    // === delivery of server messages ===

    /// A response to the client's request `id_key`.
    pub fn deliver_response(&self, id_key: &str, frame: Bytes) {
        let mut routes = self.lock();
        match routes.pending.remove(id_key) {
            Some(pending) => {
                if let Some(token) = &pending.progress_token {
                    routes.progress.remove(token);
                }
                // The client may have lost the stream; a disconnect is not a cancel. An SSE
                // answer then waits for the client to resume the stream with Last-Event-ID
                // (the legacy transport has no resumption: its session ends with its stream;
                // a closed session has nobody left to resume).
                if let Err(frame) = self.offer(&pending.tx, frame)
                    && pending.streaming
                    && self.transport == Transport::StreamableHttp
                    && !self.is_closed()
                {
                    let limits = self.limits();
                    routes.keep_orphan(pending.seq, frame, limits);
                }
            }
            None => log::debug!(
                "session {}: dropping a response to unknown request id {id_key}",
                short(&self.id)
            ),
        }
    }

    /// A progress notification for `token_key`.
    pub fn deliver_progress(&self, token_key: &str, frame: Bytes) {
        let mut routes = self.lock();
        let target = routes
            .progress
            .get(token_key)
            .and_then(|id| routes.pending.get(id))
            .filter(|p| p.streaming)
            .map(|p| p.tx.clone());
        let frame = match target {
            Some(tx) => match self.offer(&tx, frame) {
                Ok(()) => return,
                Err(frame) => frame,
            },
            None => frame,
        };
        self.route_unsolicited(&mut routes, frame);
    }

    /// A message that answers no request of the client's.
    pub fn deliver_unsolicited(&self, frame: Bytes) {
        let mut routes = self.lock();
        self.route_unsolicited(&mut routes, frame);
    }

    fn route_unsolicited(&self, routes: &mut Routes, frame: Bytes) {
        // A change of the server's lists or of a subscribed resource concerns no request: a
        // request stream carries only what relates to its request (the spec's SHOULD), so
        // it goes to the GET stream, or waits in the backlog for one.
        // Parsed only when a request stream could take it (the case to tell apart).
        let about_the_server = self.transport == Transport::StreamableHttp
            && routes.pending.values().any(|p| p.streaming)
            && Envelope::parse(&frame).is_ok_and(|e| {
                e.kind == Kind::Notification
                    && e.method.as_deref().is_some_and(|m| {
                        m.ends_with("/list_changed") || m == "notifications/resources/updated"
                    })
            });
        let mut frame = Some(frame);
        let try_send = |tx: &StreamTx, frame: &mut Option<Bytes>| {
            if let Some(f) = frame.take()
                && let Err(f) = self.offer(tx, f)
            {
                *frame = Some(f);
            }
        };
        if self.transport == Transport::StreamableHttp && !about_the_server {
            let mut streaming = routes.pending.values().filter(|p| p.streaming);
            if let (Some(only), None) = (streaming.next(), streaming.next()) {
                try_send(&only.tx, &mut frame);
            }
        }
        for tx in &routes.streams {
            try_send(tx, &mut frame);
        }
        if let Some(newest) = routes
            .pending
            .values()
            .filter(|p| p.streaming)
            .max_by_key(|p| p.seq)
            .filter(|_| !about_the_server)
        {
            try_send(&newest.tx, &mut frame);
        }
        if let Some(frame) = frame {
            routes.keep_in_backlog(frame, self.limits());
        }
    }

    /// Answers every request in flight with a JSON-RPC error.
    pub fn fail_pending(&self, message: &str) {
        let pending: Vec<(Box<str>, Pending)> = {
            let mut routes = self.lock();
            routes.progress.clear();
            routes.pending.drain().collect()
        };
        for (id, p) in pending {
            let id = jsonrpc::raw(id.into_string());
            let _ = p.tx.send(jsonrpc::error_response(
                Some(&id),
                jsonrpc::code::SERVER_UNAVAILABLE,
                message,
            ));
        }
    }

    /// The upstream is gone (child exited, remote session ended): requests in flight fail
    /// with `message`, streams end, and the next request gets 404.
    pub(crate) fn end(&self, message: &str) {
        self.closed.store(true, Ordering::Release);
        self.fail_pending(message);
        self.lock().clear_streams();
    }

    /// Answers request `id_key` with an error, if it is still waiting (the upstream closed
    /// its stream without answering).
    pub(crate) fn fail_request(&self, id_key: &str, message: &str) {
        if self.lock().pending.contains_key(id_key) {
            let id = jsonrpc::raw(id_key.to_owned());
            self.deliver_response(
                id_key,
                jsonrpc::error_response(Some(&id), jsonrpc::code::SERVER_UNAVAILABLE, message),
            );
        }
    }

    /// Ends the session: in-flight requests fail, streams end, its own child is stopped.
    pub async fn close(self: &Arc<Self>, reason: &str) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        log::debug!(
            "session {} of '{}' closed: {reason}",
            short(&self.id),
            self.server.name
        );
        self.server.diagnostics.push_event(&format!(
            "client session {} closed: {reason}",
            short(&self.id)
        ));
        self.fail_pending(&format!("session closed: {reason}"));
        self.lock().clear_streams();
        if let Some(backend) = self.backend.get() {
            backend.close(self).await;
        }
    }

    fn lock(&self) -> MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn limits(&self) -> &Limits {
        &self.server.limits
    }

    /// Sends `frame` to a client stream, or gives it back.
    ///
    /// A stream `maxStreamQueueBytes` behind: when the session has its own child, the
    /// frame is queued and the child's reader then waits for room ([`ChildSink::room`]),
    /// so a fast child is slowed to its one client's pace. Otherwise (a shared child, whose
    /// other sessions must not wait for this one; a remote server) the stream is cut: the
    /// client sees it end and may resume, what was queued is freed, and the log says so.
    fn offer(&self, tx: &StreamTx, frame: Bytes) -> Result<(), Bytes> {
        if self.server.starts_own_child() {
            return tx.force(frame).map_err(Refused::into_frame);
        }
        offer_or_cut(tx, frame)
    }
}

fn offer_or_cut(tx: &StreamTx, frame: Bytes) -> Result<(), Bytes> {
    tx.send_or_cut(frame).map_err(|refused| {
        if let Refused::Full { waiting, .. } = &refused {
            log::warn!(
                "closed a client stream that fell {} KiB behind \
                 (switchboard.limits.maxStreamQueueBytes); the client may resume it",
                waiting / 1024
            );
        }
        refused.into_frame()
    })
}

impl Session {
    /// One message from the server, routed by the rules at the top of this file.
    pub(super) fn route(&self, frame: Bytes) -> Result<(), FrameRejected> {
        let envelope = Envelope::parse(&frame).map_err(|e| FrameRejected(e.to_string()))?;
        match envelope.kind {
            Kind::Response => match envelope.id_key() {
                // `id` borrows from `frame`: hand over a clone of the `Bytes` (a refcount),
                // not a copy of the id.
                Some(id) => self.deliver_response(id, frame.clone()),
                None => {
                    log::warn!(
                        "server '{}' answered with an error that names no request",
                        self.server.name
                    );
                    self.deliver_unsolicited(frame);
                }
            },
            Kind::Notification if envelope.method.as_deref() == Some("notifications/progress") => {
                match envelope.param("progressToken", false) {
                    Some(token) => self.deliver_progress(token.get(), frame),
                    None => self.deliver_unsolicited(frame),
                }
            }
            Kind::Notification | Kind::Request => self.deliver_unsolicited(frame),
        }
        Ok(())
    }
}

/// A session's own child writes straight into the session.
impl ChildSink for Session {
    fn on_frame(&self, frame: Bytes) -> Result<(), FrameRejected> {
        self.route(frame)
    }

    fn room(&self) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        let full = {
            let routes = self.lock();
            routes
                .pending
                .values()
                .map(|p| &p.tx)
                .chain(&routes.streams)
                .find(|tx| tx.is_full())?
                .clone()
        };
        Some(Box::pin(async move { full.room().await }))
    }

    fn on_exit(&self, exit: &ExitInfo) {
        let message = format!(
            "server '{}' exited ({exit}) before answering",
            self.server.name
        );
        if !self.is_closed() {
            self.server.note_exit(exit);
        }
        self.closed.store(true, Ordering::Release);
        self.fail_pending(&message);
        self.lock().clear_streams();
    }
}

/// A remote server's client session writes into the session too.
impl Inbound for Session {
    fn on_message(&self, frame: Bytes) {
        if let Err(rejected) = self.route(frame) {
            log::warn!(
                "remote server '{}' sent something that is not JSON-RPC ({}); not relayed",
                self.server.name,
                rejected.0
            );
        }
    }

    fn on_unanswered(&self, id_key: &str, message: &str) {
        self.fail_request(id_key, message);
    }

    fn on_ended(&self, message: &str) {
        self.end(message);
    }
}

/// Session ids are credentials of a sort; logs get a prefix only.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ServerConfig};
    use crate::relay::{RelayOptions, ServerContext};

    /// A session with no backend: the routing rules alone, no process, no socket.
    fn session(transport: Transport) -> Arc<Session> {
        let config = Config::default();
        let server = ServerRelay::new(
            "srv",
            &ServerConfig::stdio("unused", Vec::<String>::new()),
            &RelayOptions::default(),
            &ServerContext::new(&config, None),
        );
        Session::new("0123456789abcdef".into(), server, transport)
    }

    fn request(session: &Session, json: &str, streaming: bool) -> RequestStream {
        let frame = Bytes::copy_from_slice(json.as_bytes());
        let envelope = Envelope::parse(&frame).expect("a request");
        session
            .register_request(&envelope, streaming)
            .expect("registered")
    }

    fn got(rx: &mut StreamRx) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            out.push(String::from_utf8(frame.to_vec()).expect("utf-8"));
        }
        out
    }

    /// A session whose streams hold at most 1,000 bytes.
    fn small_queue_session(sharing: crate::config::Sharing) -> Arc<Session> {
        let options = RelayOptions {
            limits: Limits {
                max_stream_queue_bytes: 1000,
                ..Limits::default()
            },
            ..RelayOptions::default()
        };
        let mut config = ServerConfig::stdio("unused", Vec::<String>::new());
        config.sharing = sharing;
        let context = ServerContext::new(&Config::default(), None);
        let server = ServerRelay::new("srv", &config, &options, &context);
        Session::new("0123456789abcdef".into(), server, Transport::StreamableHttp)
    }

    /// A call with progress token "t", its answer streamed.
    fn slow_call(session: &Session) -> RequestStream {
        request(
            session,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"t"}}}"#,
            true,
        )
    }

    fn progress_of_200_bytes() -> String {
        format!(
            r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"progressToken":"t","progress":1,"message":"{}"}}}}"#,
            "p".repeat(200)
        )
    }

    fn server_says(session: &Session, json: &str) {
        session
            .route(Bytes::copy_from_slice(json.as_bytes()))
            .expect("JSON-RPC");
    }

    #[test]
    fn an_answer_and_its_progress_reach_only_the_stream_of_their_request() {
        let s = session(Transport::StreamableHttp);
        let mut a = request(
            &s,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"_meta":{"progressToken":"t1"}}}"#,
            true,
        );
        let mut b = request(
            &s,
            r#"{"jsonrpc":"2.0","id":"1","method":"tools/call","params":{"_meta":{"progressToken":7}}}"#,
            true,
        );
        server_says(
            &s,
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":7,"progress":1}}"#,
        );
        server_says(&s, r#"{"jsonrpc":"2.0","id":"1","result":{"b":true}}"#);
        server_says(&s, r#"{"jsonrpc":"2.0","id":1,"result":{"a":true}}"#);
        // Ids keep their JSON type: 1 and "1" are two requests.
        assert_eq!(
            got(&mut a.rx),
            vec![r#"{"jsonrpc":"2.0","id":1,"result":{"a":true}}"#]
        );
        let b = got(&mut b.rx);
        assert_eq!(b.len(), 2);
        assert!(b[0].contains("progress") && b[1].contains(r#""b":true"#));
        // A duplicate id in flight is refused, a finished one may be reused.
        let frame = Bytes::from_static(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
        let envelope = Envelope::parse(&frame).expect("a request");
        assert!(s.register_request(&envelope, true).is_ok());
        assert!(matches!(
            s.register_request(&envelope, true),
            Err(SendError::DuplicateId)
        ));
    }

    #[test]
    fn a_server_request_goes_to_the_one_request_stream_else_the_get_stream_else_waits() {
        let s = session(Transport::StreamableHttp);
        let sampling =
            r#"{"jsonrpc":"2.0","id":"s1","method":"sampling/createMessage","params":{}}"#;
        // Nothing open: it waits in the backlog for the next GET stream.
        server_says(&s, sampling);
        let mut get = s.open_stream();
        assert_eq!(got(&mut get), vec![sampling]);

        // Exactly one streaming request in flight: its stream carries it.
        let mut one = request(
            &s,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            true,
        );
        server_says(&s, sampling);
        assert_eq!(got(&mut one.rx), vec![sampling]);
        assert!(got(&mut get).is_empty());

        // Two: the session's GET stream, not a guess between them.
        let mut two = request(
            &s,
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call"}"#,
            true,
        );
        server_says(&s, sampling);
        assert_eq!(got(&mut get), vec![sampling]);
        assert!(got(&mut one.rx).is_empty() && got(&mut two.rx).is_empty());

        // A request answered as plain JSON never carries anything but its answer.
        let json_only = session(Transport::StreamableHttp);
        let mut plain = request(
            &json_only,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call"}"#,
            false,
        );
        server_says(&json_only, sampling);
        assert!(got(&mut plain.rx).is_empty());
        let mut later = json_only.open_stream();
        assert_eq!(got(&mut later), vec![sampling]);
    }

    #[test]
    fn an_ended_session_fails_what_is_in_flight_and_keeps_nothing() {
        let s = session(Transport::StreamableHttp);
        let mut a = request(
            &s,
            r#"{"jsonrpc":"2.0","id":5,"method":"tools/call"}"#,
            true,
        );
        s.end("the remote server ended the session");
        let answer = got(&mut a.rx);
        assert_eq!(answer.len(), 1);
        assert!(
            answer[0].contains(r#""id":5"#) && answer[0].contains("-32000"),
            "{answer:?}"
        );
        assert!(s.is_closed());
    }

    #[test]
    fn orphans_are_bounded_by_count_and_bytes_and_claimed_once() {
        let limits = Limits {
            max_kept_answers: 8,
            max_kept_answer_bytes: 1000,
            ..Limits::default()
        };
        let mut routes = Routes::default();
        for stream in 0..18 {
            routes.keep_orphan(stream, Bytes::from_static(b"{}"), &limits);
        }
        assert_eq!(routes.orphans.len(), 8);
        // The oldest went first.
        assert!(routes.take_orphans(0).is_empty());
        assert_eq!(routes.take_orphans(10), vec![Bytes::from_static(b"{}")]);
        assert!(routes.take_orphans(10).is_empty());
        assert_eq!(routes.orphan_bytes, 2 * 7);

        let big = Bytes::from(vec![b'x'; 501]);
        routes.keep_orphan(1000, big.clone(), &limits);
        routes.keep_orphan(1001, big.clone(), &limits);
        assert!(routes.orphan_bytes <= 1000);
        assert!(routes.take_orphans(1000).is_empty());
        assert_eq!(routes.take_orphans(1001), vec![big.clone()]);

        // One answer larger than the budget is still kept: it was in memory anyway.
        let huge = Bytes::from(vec![b'x'; 1001]);
        routes.keep_orphan(2000, huge.clone(), &limits);
        assert_eq!(routes.orphans.len(), 1);
        routes.clear_streams();
        assert!(routes.orphans.is_empty() && routes.orphan_bytes == 0);
    }

    #[test]
    fn the_backlog_is_bounded_by_count_and_bytes_and_keeps_the_newest() {
        let limits = Limits {
            max_backlog_messages: 4,
            max_backlog_bytes: 100,
            ..Limits::default()
        };
        let mut routes = Routes::default();
        for i in 0..10u8 {
            routes.keep_in_backlog(Bytes::from(vec![i; 1]), &limits);
        }
        assert_eq!(routes.backlog.len(), 4);
        assert_eq!(routes.backlog.front().map(|f| f[0]), Some(6));
        routes.keep_in_backlog(Bytes::from(vec![b'x'; 99]), &limits);
        assert!(routes.backlog_bytes <= 100);
        assert_eq!(routes.backlog.back().map(|f| f.len()), Some(99));
        let taken = routes.take_backlog();
        assert_eq!(taken.len(), 2);
        assert_eq!(routes.backlog_bytes, 0);
    }

    #[test]
    fn a_shared_childs_stream_that_falls_behind_is_cut_and_its_answer_kept_for_resumption() {
        // A shared child's session: the others on that child must not wait for this one.
        let s = small_queue_session(crate::config::Sharing::Shared);
        let mut slow = slow_call(&s);
        // A flood of progress the client does not read: the stream takes about the bound,
        // then it is cut and nothing more is held for it.
        let progress = progress_of_200_bytes();
        for _ in 0..50 {
            server_says(&s, &progress);
        }
        assert_eq!(
            slow.rx.try_recv(),
            Err(queue::TryRecvError::Ended),
            "the stream of a client that does not read is cut"
        );
        // Its answer is kept for a client that comes back with Last-Event-ID.
        server_says(&s, r#"{"jsonrpc":"2.0","id":1,"result":{}}"#);
        let mut resumed = s.open_stream_resuming(Some(slow.stream_id));
        let replayed = got(&mut resumed);
        assert!(
            replayed.iter().any(|f| f.contains(r#""id":1"#)),
            "{replayed:?}"
        );
        // What went to the backlog instead is bounded too.
        assert!(s.lock().backlog_bytes <= Limits::default().max_backlog_bytes);
    }

    #[tokio::test]
    async fn an_own_childs_stream_that_falls_behind_holds_the_child_back_instead() {
        let s = small_queue_session(crate::config::Sharing::PerSession);
        let mut slow = slow_call(&s);
        let progress = progress_of_200_bytes();
        let mut sent = 0;
        while ChildSink::room(&*s).is_none() {
            server_says(&s, &progress);
            sent += 1;
            assert!(sent < 100, "the stream never filled");
        }
        // The reader waits; once the client reads, it may go on, and nothing was lost.
        let room = ChildSink::room(&*s).expect("still behind");
        let waiting = tokio::spawn(room);
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "room before the client read anything"
        );
        assert_eq!(got(&mut slow.rx).len(), sent);
        waiting.await.expect("room once the client read");
        assert!(ChildSink::room(&*s).is_none());
    }
}
