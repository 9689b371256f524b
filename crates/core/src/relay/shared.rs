//! One child serving many sessions (the per-server `"sharing": "shared"` policy).
//!
//! Client ids collide (every client starts at 1), so each request going in gets a fresh
//! proxy id, and the response coming out gets the client's id back. Progress tokens and the
//! `requestId` of `notifications/cancelled` are mapped the same way. The child sees one
//! `initialize`, the first client's; later sessions get that cached result under their own
//! id (the pool, `shared_pool.rs`, gives sessions whose handshake would be answered
//! differently a child of their own). If the child dies, in-flight requests fail at once,
//! and the next request starts a new child and replays the cached handshake, so sessions
//! survive a crash.
//!
//! Server→client requests carry no hint of which session caused them. They go to the one
//! session with requests in flight; when that is ambiguous the child gets an error back
//! rather than a guess. Notifications that belong to no request (list_changed, log messages)
//! describe the shared server itself and go to each session attached to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::ServerRelay;
use super::session::Session;
use crate::mcp::jsonrpc::{self, Envelope, Kind};
use crate::supervisor::{ChildSink, ExitInfo, FrameRejected, ManagedChild, NotQueued};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_RESTART_DELAY: Duration = Duration::from_secs(30);

pub struct SharedChild {
    server: Weak<ServerRelay>,
    state: Mutex<State>,
    /// Serialises starting the child and replaying the handshake.
    starting: tokio::sync::Mutex<()>,
    me: Weak<SharedChild>,
}

#[derive(Default)]
struct State {
    child: Option<Arc<ManagedChild>>,
    /// The handshake has completed on the current child.
    ready: bool,
    /// The first client's `initialize` params and the child's result, replayed and reused.
    handshake: Option<(Box<RawValue>, Box<RawValue>)>,
    next_id: u64,
    /// Proxy id → who asked.
    inflight: HashMap<u64, Inflight>,
    /// (session, client id) → proxy id, for `notifications/cancelled`.
    by_client: HashMap<(Arc<str>, Box<str>), u64>,
    /// Proxy progress token → (session, client token).
    tokens: HashMap<Box<str>, (Weak<Session>, Box<str>)>,
    /// The child's own request ids → the session asked to answer.
    server_requests: HashMap<Box<str>, Weak<Session>>,
    /// Our own requests (the handshake), answered through a oneshot.
    internal: HashMap<u64, oneshot::Sender<Bytes>>,
    sessions: Vec<Weak<Session>>,
    crashes: u32,
    last_start: Option<Instant>,
}

struct Inflight {
    session: Weak<Session>,
    client_id: Box<str>,
    token: Option<Box<str>>,
}

impl SharedChild {
    pub fn new(server: Weak<ServerRelay>) -> Arc<SharedChild> {
        Arc::new_cyclic(|me| SharedChild {
            server,
            state: Mutex::new(State::default()),
            starting: tokio::sync::Mutex::new(()),
            me: me.clone(),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.lock()
            .child
            .as_ref()
            .filter(|c| !c.has_exited())
            .map(|c| c.pid())
    }

    pub(super) fn attach(&self, session: &Arc<Session>) {
        let mut state = self.lock();
        state.sessions.retain(|s| s.strong_count() > 0);
        state.sessions.push(Arc::downgrade(session));
    }

    pub(super) fn detach(&self, session: &Arc<Session>) {
        let mut state = self.lock();
        state
            .sessions
            .retain(|s| s.strong_count() > 0 && !std::ptr::eq(s.as_ptr(), Arc::as_ptr(session)));
        state.by_client.retain(|(sid, _), _| sid != &session.id);
    }

    /// Stops the child (at shutdown, or when the server is removed).
    pub async fn stop(&self, grace: crate::supervisor::StopGrace) {
        let child = {
            let mut state = self.lock();
            state.ready = false;
            state.child.take()
        };
        if let Some(child) = child {
            child.stop(grace).await;
        }
    }

    /// Sends one client message to the child, with ids mapped. False if it could not be sent.
    pub(super) async fn forward(
        &self,
        session: &Arc<Session>,
        envelope: &Envelope<'_>,
        frame: Bytes,
    ) -> bool {
        match (envelope.kind, envelope.method.as_deref()) {
            (Kind::Request, Some("initialize")) => {
                let id = envelope
                    .id
                    .map(|id| id.to_owned())
                    .unwrap_or_else(|| jsonrpc::raw("null".into()));
                let params = envelope
                    .params
                    .map(|p| p.to_owned())
                    .unwrap_or_else(|| jsonrpc::raw("{}".into()));
                let answer = match self.ensure_ready(Some(params)).await {
                    Ok((_, result)) => jsonrpc::result_response(&id, &result),
                    Err(Failure::Rpc(error_frame)) => {
                        jsonrpc::rewrite(&error_frame, &["id"], &id).unwrap_or(error_frame)
                    }
                    Err(Failure::Unavailable(message)) => jsonrpc::error_response(
                        Some(&id),
                        jsonrpc::code::SERVER_UNAVAILABLE,
                        &message,
                    ),
                };
                session.deliver_response(id.get(), answer);
                true
            }
            // The child had its `initialized` from us, once.
            (Kind::Notification, Some("notifications/initialized")) => true,
            (Kind::Request, _) => {
                let Ok((child, _)) = self
                    .ensure_ready(None)
                    .await
                    .map_err(|e| log_failure(&self.name(), e))
                else {
                    return false;
                };
                let client_id: Box<str> = envelope.id_key().unwrap_or("null").into();
                let token = envelope.param("progressToken", true);
                let (proxy_id, proxy_token) = {
                    let mut state = self.lock();
                    state.next_id += 1;
                    let proxy_id = state.next_id;
                    let proxy_token = token.as_ref().map(|t| {
                        let proxy_token: Box<str> = format!("\"sb-{proxy_id}\"").into();
                        state.tokens.insert(
                            proxy_token.clone(),
                            (Arc::downgrade(session), t.get().into()),
                        );
                        proxy_token
                    });
                    state
                        .by_client
                        .insert((session.id.clone(), client_id.clone()), proxy_id);
                    state.inflight.insert(
                        proxy_id,
                        Inflight {
                            session: Arc::downgrade(session),
                            client_id: client_id.clone(),
                            token: proxy_token.clone(),
                        },
                    );
                    (proxy_id, proxy_token)
                };
                let mut out =
                    jsonrpc::rewrite(&frame, &["id"], &jsonrpc::raw(proxy_id.to_string()));
                if let (Some(rewritten), Some(token)) = (&out, &proxy_token) {
                    out = jsonrpc::rewrite(
                        rewritten,
                        jsonrpc::PROGRESS_TOKEN_IN_META,
                        &jsonrpc::raw(token.to_string()),
                    );
                }
                let refused = match out {
                    Some(out) => child.queue(out).err(),
                    None => Some(NotQueued::Gone),
                };
                let Some(refused) = refused else {
                    return true;
                };
                // Not forwarded: forget it, so no answer is awaited and no id stays taken.
                {
                    let mut state = self.lock();
                    state.inflight.remove(&proxy_id);
                    state
                        .by_client
                        .remove(&(session.id.clone(), client_id.clone()));
                    if let Some(token) = &proxy_token {
                        state.tokens.remove(token);
                    }
                }
                match refused {
                    NotQueued::Gone => false,
                    NotQueued::NotReading { waiting } => {
                        let id = jsonrpc::raw(client_id.into_string());
                        session.deliver_response(
                            id.get(),
                            jsonrpc::error_response(
                                Some(&id),
                                jsonrpc::code::SERVER_UNAVAILABLE,
                                &super::backend::not_reading(&self.name(), waiting),
                            ),
                        );
                        true
                    }
                }
            }
            (Kind::Notification, Some("notifications/cancelled")) => {
                let Some(request_id) = envelope.param("requestId", false) else {
                    return true;
                };
                let proxy_id = self
                    .lock()
                    .by_client
                    .get(&(session.id.clone(), request_id.get().into()))
                    .copied();
                let child = self.current_child();
                match (proxy_id, child) {
                    (Some(proxy_id), Some(child)) => {
                        match jsonrpc::rewrite(
                            &frame,
                            jsonrpc::CANCELLED_REQUEST_ID,
                            &jsonrpc::raw(proxy_id.to_string()),
                        ) {
                            Some(out) => child.send(out),
                            None => true,
                        }
                    }
                    // Nothing of that id is in flight: the cancel has nothing to do.
                    _ => true,
                }
            }
            (Kind::Notification, _) => self.current_child().is_some_and(|c| c.send(frame)),
            (Kind::Response, _) => {
                let id = envelope.id_key().unwrap_or("null");
                let owner = self.lock().server_requests.remove(id);
                match (owner.and_then(|w| w.upgrade()), self.current_child()) {
                    (Some(owner), Some(child)) if Arc::ptr_eq(&owner, session) => child.send(frame),
                    _ => {
                        log::debug!(
                            "'{}': dropping a reply to a request this session was not asked",
                            self.name()
                        );
                        true
                    }
                }
            }
        }
    }

    fn current_child(&self) -> Option<Arc<ManagedChild>> {
        self.lock().child.clone().filter(|c| !c.has_exited())
    }

    /// A running child that has seen the handshake (when one is known).
    async fn ensure_ready(
        &self,
        initialize: Option<Box<RawValue>>,
    ) -> Result<(Arc<ManagedChild>, Box<RawValue>), Failure> {
        let _starting = self.starting.lock().await;
        let server = self
            .server
            .upgrade()
            .ok_or_else(|| Failure::Unavailable("server removed".into()))?;
        let (child, params) = {
            let state = self.lock();
            if let (true, Some(child), Some((_, result))) =
                (state.ready, &state.child, &state.handshake)
                && !child.has_exited()
            {
                return Ok((child.clone(), result.clone()));
            }
            let params = state
                .handshake
                .as_ref()
                .map(|(p, _)| p.clone())
                .or(initialize);
            (state.child.clone().filter(|c| !c.has_exited()), params)
        };
        let child = match child {
            Some(child) => child,
            None => self.start_child(&server).await?,
        };
        let Some(params) = params else {
            // A client that never initialized: relay as-is, as a per-session child would.
            return Ok((child, jsonrpc::raw("{}".into())));
        };
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut state = self.lock();
            state.next_id += 1;
            let id = state.next_id;
            state.internal.insert(id, tx);
            id
        };
        let request = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"initialize","params":{}}}"#,
            params.get()
        );
        if !child.send(Bytes::from(request)) {
            return Err(Failure::Unavailable(format!(
                "server '{}' is not running",
                server.name
            )));
        }
        let answer = match tokio::time::timeout(HANDSHAKE_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => {
                return Err(Failure::Unavailable(format!(
                    "server '{}' exited during initialize",
                    server.name
                )));
            }
            Err(_) => {
                self.lock().internal.remove(&id);
                return Err(Failure::Unavailable(format!(
                    "server '{}' did not answer initialize",
                    server.name
                )));
            }
        };
        let result = serde_json::from_slice::<InitAnswer>(&answer)
            .ok()
            .and_then(|a| a.result);
        let Some(result) = result else {
            return Err(Failure::Rpc(answer));
        };
        child.send(Bytes::from_static(
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ));
        let mut state = self.lock();
        state.handshake = Some((params, result.clone()));
        state.ready = true;
        Ok((child, result))
    }

    async fn start_child(&self, server: &Arc<ServerRelay>) -> Result<Arc<ManagedChild>, Failure> {
        let delay = {
            let state = self.lock();
            let recent = state
                .last_start
                .is_some_and(|t| t.elapsed() < Duration::from_secs(10));
            if recent && state.crashes > 0 {
                (Duration::from_millis(250) * 2u32.saturating_pow(state.crashes.min(8)))
                    .min(MAX_RESTART_DELAY)
            } else {
                Duration::ZERO
            }
        };
        if !delay.is_zero() {
            log::info!(
                "'{}' crashed recently; restarting in {delay:?}",
                server.name
            );
            tokio::time::sleep(delay).await;
        }
        let me: Weak<dyn ChildSink> = self.me.clone();
        let child = server.spawn_child(me).await.map_err(Failure::Unavailable)?;
        let mut state = self.lock();
        state.child = Some(child.clone());
        state.ready = false;
        state.last_start = Some(Instant::now());
        Ok(child)
    }

    fn name(&self) -> String {
        self.server
            .upgrade()
            .map(|s| s.name.to_string())
            .unwrap_or_default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn live_sessions(state: &mut State) -> Vec<Arc<Session>> {
        state.sessions.retain(|s| s.strong_count() > 0);
        state
            .sessions
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|s| !s.is_closed())
            .collect()
    }

    /// The session a message from the child belongs to, when exactly one can be meant.
    fn sole_busy_session(state: &mut State) -> Option<Arc<Session>> {
        let mut busy = state.inflight.values().filter_map(|f| f.session.upgrade());
        let first = busy.next();
        match first {
            Some(first) if busy.all(|s| Arc::ptr_eq(&s, &first)) => Some(first),
            Some(_) => None,
            None => {
                let live = Self::live_sessions(state);
                if live.len() == 1 {
                    live.into_iter().next()
                } else {
                    None
                }
            }
        }
    }
}

#[derive(serde::Deserialize)]
struct InitAnswer {
    result: Option<Box<RawValue>>,
}

enum Failure {
    /// The child answered with this JSON-RPC error (our id in it).
    Rpc(Bytes),
    Unavailable(String),
}

fn log_failure(server: &str, failure: Failure) {
    match failure {
        Failure::Rpc(_) => log::warn!("'{server}' refused the replayed initialize"),
        Failure::Unavailable(message) => log::warn!("{message}"),
    }
}

impl ChildSink for SharedChild {
    fn on_frame(&self, frame: Bytes) -> Result<(), FrameRejected> {
        let envelope = Envelope::parse(&frame).map_err(|e| FrameRejected(e.to_string()))?;
        match envelope.kind {
            Kind::Response => {
                let Some(proxy_id) = envelope.id_key().and_then(|k| k.parse::<u64>().ok()) else {
                    log::warn!("'{}' answered a request id it was never sent", self.name());
                    return Ok(());
                };
                let mut state = self.lock();
                if let Some(tx) = state.internal.remove(&proxy_id) {
                    drop(state);
                    let _ = tx.send(frame);
                    return Ok(());
                }
                let Some(inflight) = state.inflight.remove(&proxy_id) else {
                    return Ok(());
                };
                if let Some(token) = &inflight.token {
                    state.tokens.remove(token);
                }
                let session = inflight.session.upgrade();
                if let Some(session) = &session {
                    state
                        .by_client
                        .remove(&(session.id.clone(), inflight.client_id.clone()));
                }
                drop(state);
                if let Some(session) = session {
                    let client_id = jsonrpc::raw(inflight.client_id.to_string());
                    if let Some(out) = jsonrpc::rewrite(&frame, &["id"], &client_id) {
                        session.deliver_response(&inflight.client_id, out);
                    }
                }
            }
            Kind::Notification if envelope.method.as_deref() == Some("notifications/progress") => {
                let Some(token) = envelope.param("progressToken", false) else {
                    return Ok(());
                };
                let target = self.lock().tokens.get(token.get()).cloned();
                if let Some((session, client_token)) = target
                    && let (Some(session), Some(out)) = (
                        session.upgrade(),
                        jsonrpc::rewrite(
                            &frame,
                            jsonrpc::PROGRESS_TOKEN,
                            &jsonrpc::raw(client_token.to_string()),
                        ),
                    )
                {
                    session.deliver_progress(&client_token, out);
                }
            }
            Kind::Notification if envelope.method.as_deref() == Some("notifications/cancelled") => {
                // The child withdrawing one of its own requests: it goes where the request went.
                let owner = envelope
                    .param("requestId", false)
                    .and_then(|id| self.lock().server_requests.remove(id.get()))
                    .and_then(|w| w.upgrade());
                if let Some(owner) = owner {
                    owner.deliver_unsolicited(frame);
                }
            }
            Kind::Notification => {
                let targets = {
                    let mut state = self.lock();
                    match Self::sole_busy_session(&mut state) {
                        Some(one) => vec![one],
                        None => Self::live_sessions(&mut state),
                    }
                };
                for session in targets {
                    session.deliver_unsolicited(frame.clone());
                }
            }
            Kind::Request => {
                let id = envelope.id_key().unwrap_or("null");
                let target = {
                    let mut state = self.lock();
                    let target = Self::sole_busy_session(&mut state);
                    if let Some(session) = &target {
                        state
                            .server_requests
                            .insert(id.into(), Arc::downgrade(session));
                    }
                    target
                };
                match target {
                    Some(session) => session.deliver_unsolicited(frame),
                    None => {
                        let message = "Switchboard cannot tell which client this request is for: the server is shared by several busy sessions (set \"sharing\": \"per-session\" for servers that ask clients for sampling, elicitation or roots)";
                        if let Some(child) = self.current_child() {
                            child.send(jsonrpc::error_response(
                                envelope.id,
                                jsonrpc::code::INTERNAL_ERROR,
                                message,
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn on_exit(&self, exit: &ExitInfo) {
        let (inflight, internal, deliberate) = {
            let mut state = self.lock();
            let deliberate = state.child.is_none();
            state.child = None;
            state.ready = false;
            state.crashes = if deliberate {
                state.crashes
            } else if state
                .last_start
                .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
            {
                state.crashes + 1
            } else {
                1
            };
            state.by_client.clear();
            state.tokens.clear();
            state.server_requests.clear();
            (
                std::mem::take(&mut state.inflight),
                std::mem::take(&mut state.internal),
                deliberate,
            )
        };
        drop(internal); // wakes anyone waiting on the handshake with an error
        let name = self.name();
        if let Some(server) = self.server.upgrade().filter(|_| !deliberate) {
            server.note_exit(exit);
        }
        let message = format!("server '{name}' exited ({exit}) before answering");
        for (_, f) in inflight {
            if let Some(session) = f.session.upgrade() {
                let id = jsonrpc::raw(f.client_id.to_string());
                session.deliver_response(
                    &f.client_id,
                    jsonrpc::error_response(Some(&id), jsonrpc::code::SERVER_UNAVAILABLE, &message),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ServerConfig, Sharing};
    use crate::relay::session::{RequestStream, StreamRx, Transport};
    use crate::relay::{RelayOptions, ServerContext};

    /// A shared server and two sessions on it; no child is started: these tests drive the
    /// id map from the child's side (`on_frame`) with the state a forward would leave.
    fn setup() -> (
        Arc<ServerRelay>,
        Arc<SharedChild>,
        Arc<Session>,
        Arc<Session>,
    ) {
        let mut config = ServerConfig::stdio("unused", Vec::<String>::new());
        config.sharing = Sharing::Shared;
        let server = ServerRelay::new(
            "srv",
            &config,
            &RelayOptions::default(),
            &ServerContext::new(&Config::default(), None),
        );
        // One of the server's shared children, as its pool would give a handshake group.
        let shared = SharedChild::new(Arc::downgrade(&server));
        let a = Session::new("aaaaaaaa".into(), server.clone(), Transport::StreamableHttp);
        let b = Session::new("bbbbbbbb".into(), server.clone(), Transport::StreamableHttp);
        shared.attach(&a);
        shared.attach(&b);
        (server, shared, a, b)
    }

    /// What `forward` records for a request: client id → proxy id (and token).
    fn in_flight(
        shared: &SharedChild,
        session: &Arc<Session>,
        client_id: &str,
        proxy_id: u64,
        token: Option<(&str, &str)>,
    ) -> RequestStream {
        let frame = Bytes::from(format!(
            r#"{{"jsonrpc":"2.0","id":{client_id},"method":"tools/call"}}"#
        ));
        let envelope = Envelope::parse(&frame).expect("a request");
        let stream = session
            .register_request(&envelope, true)
            .expect("registered");
        let mut state = shared.lock();
        let proxy_token = token.map(|(proxy, client)| {
            state
                .tokens
                .insert(proxy.into(), (Arc::downgrade(session), client.into()));
            Box::<str>::from(proxy)
        });
        state
            .by_client
            .insert((session.id.clone(), client_id.into()), proxy_id);
        state.inflight.insert(
            proxy_id,
            Inflight {
                session: Arc::downgrade(session),
                client_id: client_id.into(),
                token: proxy_token,
            },
        );
        stream
    }

    fn got(rx: &mut StreamRx) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(frame) = rx.try_recv() {
            out.push(String::from_utf8(frame.to_vec()).expect("utf-8"));
        }
        out
    }

    fn child_says(shared: &SharedChild, json: &str) {
        shared
            .on_frame(Bytes::copy_from_slice(json.as_bytes()))
            .expect("JSON-RPC");
    }

    #[test]
    fn answers_and_progress_get_each_clients_own_id_and_token_back() {
        let (_server, shared, a, b) = setup();
        // Both clients used id 1: the child saw proxy ids 11 and 12.
        let mut from_a = in_flight(&shared, &a, "1", 11, Some(("\"sb-11\"", "\"tok\"")));
        let mut from_b = in_flight(&shared, &b, "1", 12, None);
        child_says(
            &shared,
            r#"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"sb-11","progress":0.5}}"#,
        );
        child_says(&shared, r#"{"jsonrpc":"2.0","id":12,"result":{"for":"b"}}"#);
        child_says(&shared, r#"{"jsonrpc":"2.0","id":11,"result":{"for":"a"}}"#);
        let a_got = got(&mut from_a.rx);
        assert_eq!(a_got.len(), 2, "{a_got:?}");
        assert!(a_got[0].contains(r#""progressToken":"tok""#), "{a_got:?}");
        assert_eq!(a_got[1], r#"{"jsonrpc":"2.0","id":1,"result":{"for":"a"}}"#);
        assert_eq!(
            got(&mut from_b.rx),
            vec![r#"{"jsonrpc":"2.0","id":1,"result":{"for":"b"}}"#]
        );
        // Everything about those requests is forgotten.
        let state = shared.lock();
        assert!(state.inflight.is_empty() && state.by_client.is_empty() && state.tokens.is_empty());
    }

    #[test]
    fn an_answer_to_an_unknown_id_reaches_nobody() {
        let (_server, shared, a, _b) = setup();
        let mut from_a = in_flight(&shared, &a, "7", 21, None);
        child_says(&shared, r#"{"jsonrpc":"2.0","id":99,"result":{}}"#);
        child_says(&shared, r#"{"jsonrpc":"2.0","id":"not-ours","result":{}}"#);
        assert!(got(&mut from_a.rx).is_empty());
        assert_eq!(shared.lock().inflight.len(), 1);
    }

    #[test]
    fn a_server_request_goes_to_the_only_busy_session_and_its_reply_is_expected_from_it() {
        let (_server, shared, a, b) = setup();
        let mut from_a = in_flight(&shared, &a, "1", 31, None);
        child_says(
            &shared,
            r#"{"jsonrpc":"2.0","id":"srv-1","method":"roots/list"}"#,
        );
        assert!(got(&mut from_a.rx)[0].contains("roots/list"));
        let owner = shared
            .lock()
            .server_requests
            .get("\"srv-1\"")
            .and_then(|w| w.upgrade());
        assert!(owner.is_some_and(|o| Arc::ptr_eq(&o, &a)));
        assert!(!Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn a_child_exit_fails_every_request_in_flight_with_the_clients_id() {
        let (_server, shared, a, b) = setup();
        let mut from_a = in_flight(&shared, &a, "\"x\"", 41, None);
        let mut from_b = in_flight(&shared, &b, "3", 42, None);
        shared.on_exit(&ExitInfo {
            code: Some(1),
            signal: None,
        });
        let a_got = got(&mut from_a.rx);
        let b_got = got(&mut from_b.rx);
        assert!(
            a_got[0].contains(r#""id":"x""#) && a_got[0].contains("exited"),
            "{a_got:?}"
        );
        assert!(b_got[0].contains(r#""id":3"#), "{b_got:?}");
        assert!(shared.lock().inflight.is_empty());
    }
}
