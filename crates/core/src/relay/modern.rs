//! The stateless protocol (2026-07-28) for a stdio server: one child serves every stateless
//! request of that server, through an id map, as the shared mode does for sessions.
//!
//! What the server speaks is learned once per server (its config), on a child of its own:
//! `server/discover` first, with a time limit. A dual-era server locks the era of a pipe at
//! its first request, so that child is never one a session uses.
//! - **Modern** (it answered `server/discover`): requests are relayed as they came, with a
//!   proxy id (and progress token); answers, progress and a `subscriptions/listen`
//!   stream's notifications come back with the client's own id, token and
//!   `subscriptionId`. Nothing else the child says (log lines, list changes outside a
//!   listen) belongs to any request, and is not relayed.
//! - **Session era only** (any error or no answer): the bridge. A child is initialized once
//!   (declaring no client capabilities: a stateless client cannot be asked anything in the
//!   middle of a call, see below), `server/discover` is answered from its `initialize`
//!   result, and results get what the stateless protocol requires of them (`resultType`,
//!   and `ttlMs`/`cacheScope` on the cacheable methods). A call that may ask its client
//!   something does not come here: it runs on a session of its own (`session_bridge.rs`),
//!   where the server's questions become `input_required` rounds. A request this child
//!   sends the client (it declared no capabilities) is answered with an error that says
//!   why. `subscriptions/listen` is emulated: acknowledged at
//!   once with what the child's capabilities honour, then its list changes (and updates
//!   of the resources named, subscribed to at the child) go to each listen that asked.
//!
//! Dropping a request's [`Exchange`] before its answer (the client closed the stream) is
//! its cancellation: the child gets `notifications/cancelled` for the proxy id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::sync::oneshot;

use super::ServerRelay;
use crate::mcp::jsonrpc::{self, Envelope, Kind};
use crate::mcp::modern::ParamHeader;
use crate::mcp::modern::{
    META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO, META_SUBSCRIPTION_ID,
};
use crate::mcp::protocol::{LATEST_SESSION_VERSION, MODERN_PROTOCOL_VERSION, code};
use crate::mcp::queue::{self, FrameRx, FrameTx};
use crate::supervisor::{ChildSink, ExitInfo, FrameRejected, ManagedChild};

/// How long a server may take to answer `server/discover` (or the bridge's `initialize`)
/// before it is taken for a session-era server (or reported as not answering).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
const INITIALIZE_TIMEOUT: Duration = Duration::from_secs(60);

/// The methods whose complete results carry cache hints (`ttlMs`, `cacheScope`).
const CACHEABLE: &[&str] = &[
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// What a server speaks, as learned by the probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Era {
    /// It answered `server/discover`: this is its result.
    Modern { discover: Arc<Value> },
    /// The session era only: stateless requests go through the bridge. `initialize` is
    /// the bridge child's result (kept when the child restarts).
    SessionOnly { initialize: Option<Arc<Value>> },
}

impl Era {
    /// `"2026-07-28"`, or `"2025-11-25 (bridged)"`, for status and `switchboard test`.
    pub fn describe(&self) -> &'static str {
        match self {
            Era::Modern { .. } => "2026-07-28 and the session era",
            Era::SessionOnly { .. } => "session era only (2026-07-28 clients through the bridge)",
        }
    }
}

pub struct ModernChild {
    server: Weak<ServerRelay>,
    state: Mutex<State>,
    /// Serialises the probe and starting the child.
    starting: tokio::sync::Mutex<()>,
    me: Weak<ModernChild>,
    /// Each exchange's queue, in bytes.
    queue_limit: usize,
}

#[derive(Default)]
struct State {
    /// Each tool's `Mcp-Param-*` headers, from the server's `tools/list` (read when a
    /// call names a tool not in it).
    param_headers: HashMap<String, Vec<ParamHeader>>,
    child: Option<Arc<ManagedChild>>,
    /// The current child's sink. A child let go (the probe's, when the server turned out
    /// to be session-era only) loses its sink first, so its exit cannot touch the next
    /// child's state.
    sink: Option<Arc<Sink>>,
    era: Option<Era>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
    /// Proxy progress token (JSON text) → proxy id of its request.
    tokens: HashMap<Box<str>, u64>,
    /// Our own requests (the probe, the bridge's initialize).
    internal: HashMap<u64, oneshot::Sender<Bytes>>,
    /// The bridge's emulated `subscriptions/listen` streams, by our key.
    listens: HashMap<u64, BridgedListen>,
}

/// A listen stream the bridge keeps for a session-era child: what it relays, and where.
struct BridgedListen {
    tx: FrameTx,
    subscription: Value,
    plan: ListenPlan,
}

/// What a `subscriptions/listen` asked for that the server can honour (by the capabilities
/// of its `initialize`): the acknowledgement's filter, and the notifications to relay.
pub(super) struct ListenPlan {
    pub honoured: serde_json::Map<String, Value>,
    methods: Vec<&'static str>,
    /// Resources whose `notifications/resources/updated` are relayed (to be subscribed to).
    pub uris: Vec<String>,
}

impl ListenPlan {
    pub(super) fn new(asked: &Value, capabilities: &Value) -> ListenPlan {
        let mut honoured = serde_json::Map::new();
        let mut methods = Vec::new();
        for (key, capability, method) in [
            (
                "toolsListChanged",
                "tools",
                "notifications/tools/list_changed",
            ),
            (
                "promptsListChanged",
                "prompts",
                "notifications/prompts/list_changed",
            ),
            (
                "resourcesListChanged",
                "resources",
                "notifications/resources/list_changed",
            ),
        ] {
            if asked[key] == true && capabilities[capability]["listChanged"] == true {
                honoured.insert(key.into(), Value::Bool(true));
                methods.push(method);
            }
        }
        let mut uris = Vec::new();
        if capabilities["resources"]["subscribe"] == true
            && let Some(asked) = asked["resourceSubscriptions"].as_array()
        {
            uris = asked
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
        }
        if !uris.is_empty() {
            honoured.insert("resourceSubscriptions".into(), serde_json::json!(uris));
        }
        ListenPlan {
            honoured,
            methods,
            uris,
        }
    }

    /// The acknowledgement that opens the stream.
    pub(super) fn acknowledgement(&self, subscription: &Value) -> Bytes {
        Bytes::from(
            serde_json::json!({
                "jsonrpc": "2.0",
                "method": "notifications/subscriptions/acknowledged",
                "params": {"notifications": self.honoured, "_meta": {META_SUBSCRIPTION_ID: subscription}},
            })
            .to_string(),
        )
    }

    /// `frame` tagged for the stream, when it is a notification the listen asked for.
    pub(super) fn relayed(&self, frame: &[u8], subscription: &Value) -> Option<Bytes> {
        let mut message: Value = serde_json::from_slice(frame).ok()?;
        if message.get("id").is_some() {
            return None;
        }
        let method = message["method"].as_str()?;
        let wanted = self.methods.contains(&method)
            || (method == "notifications/resources/updated"
                && message["params"]["uri"]
                    .as_str()
                    .is_some_and(|u| self.uris.iter().any(|w| w == u)));
        if !wanted {
            return None;
        }
        if !message["params"].is_object() {
            message["params"] = serde_json::json!({});
        }
        if !message["params"]["_meta"].is_object() {
            message["params"]["_meta"] = serde_json::json!({});
        }
        message["params"]["_meta"][META_SUBSCRIPTION_ID] = subscription.clone();
        Some(Bytes::from(message.to_string()))
    }
}

struct Pending {
    tx: FrameTx,
    client_id: Box<RawValue>,
    /// The client's progress token, and ours in its place.
    token: Option<(Box<RawValue>, Box<str>)>,
    method: String,
    /// A `subscriptions/listen`: its notifications carry its id as `subscriptionId`.
    listen: bool,
}

/// One stateless request in flight: its notifications, then its answer, arrive on `rx`.
/// Dropped before the answer, it cancels the request at the child.
pub struct Exchange {
    pub rx: FrameRx,
    /// Keep it as long as the client's stream is open; dropping it first cancels.
    pub cancel: CancelOnDrop,
}

/// Cancels its request upstream when dropped before the answer came (what that takes is
/// the carrier's business: a stateless child's id map, a kept session's).
pub struct CancelOnDrop(Option<Box<dyn FnOnce() + Send>>);

impl CancelOnDrop {
    pub fn new(cancel: impl FnOnce() + Send + 'static) -> CancelOnDrop {
        CancelOnDrop(Some(Box::new(cancel)))
    }

    /// Nothing to cancel (an answer made on the spot).
    pub fn none() -> CancelOnDrop {
        CancelOnDrop(None)
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(cancel) = self.0.take() {
            cancel();
        }
    }
}

/// Why a stateless request could not be relayed; the text is safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

impl ModernChild {
    pub fn new(server: Weak<ServerRelay>, queue_limit: usize) -> Arc<ModernChild> {
        Arc::new_cyclic(|me| ModernChild {
            server,
            state: Mutex::new(State::default()),
            starting: tokio::sync::Mutex::new(()),
            me: me.clone(),
            queue_limit,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.lock()
            .child
            .as_ref()
            .filter(|c| !c.has_exited())
            .map(|c| c.pid())
    }

    /// The era, if it was learned already.
    pub fn known_era(&self) -> Option<Era> {
        self.lock().era.clone()
    }

    pub async fn stop(&self, grace: crate::supervisor::StopGrace) {
        // The sink stays: the child's exit still fails what is in flight.
        let child = self.lock().child.take();
        if let Some(child) = child {
            child.stop(grace).await;
        }
    }

    /// The `Mcp-Param-*` headers of tool `name` (empty when it has none or is unknown).
    /// The child's `tools/list` is read again when the tool is not known yet.
    pub async fn param_headers(&self, name: &str) -> Vec<ParamHeader> {
        if let Some(known) = self.lock().param_headers.get(name) {
            return known.clone();
        }
        let Ok((child, era)) = self.ready().await else {
            return Vec::new();
        };
        let mut all = HashMap::new();
        let mut cursor: Option<Value> = None;
        // At most 20 pages: a list that long is read no further.
        for _ in 0..20 {
            let mut params = match era {
                Era::Modern { .. } => discover_params(),
                Era::SessionOnly { .. } => serde_json::json!({}),
            };
            if let Some(cursor) = &cursor {
                params["cursor"] = cursor.clone();
            }
            let Some(answer) = self.ask(&child, "tools/list", &params, PROBE_TIMEOUT).await else {
                break;
            };
            for tool in answer["result"]["tools"].as_array().into_iter().flatten() {
                if let Some(tool_name) = tool["name"].as_str() {
                    all.insert(
                        tool_name.to_owned(),
                        crate::mcp::modern::param_headers(&tool["inputSchema"]),
                    );
                }
            }
            cursor = answer["result"]
                .get("nextCursor")
                .cloned()
                .filter(|c| !c.is_null());
            if cursor.is_none() {
                break;
            }
        }
        let found = all.get(name).cloned().unwrap_or_default();
        self.lock().param_headers = all;
        found
    }

    /// Finds out what the server speaks (starting its stateless child, as a first stateless
    /// request would).
    pub async fn probe_era(&self) -> Result<Era, Unavailable> {
        self.ready().await.map(|(_, era)| era)
    }

    /// Relays one stateless request. `server/discover` on a bridged server is answered here.
    pub async fn request(
        &self,
        envelope: &Envelope<'_>,
        frame: Bytes,
    ) -> Result<Exchange, Unavailable> {
        let (child, era) = self.ready().await?;
        let method = envelope.method.as_deref().unwrap_or_default().to_owned();
        let client_id = envelope
            .id
            .map(|id| id.to_owned())
            .unwrap_or_else(|| jsonrpc::raw("null".into()));
        let (tx, rx) = queue::channel(self.queue_limit);
        if let (Era::SessionOnly { initialize }, "server/discover") = (&era, method.as_str()) {
            let result = discover_from_initialize(initialize.as_deref());
            let _ = tx.send(jsonrpc::result_response(
                &client_id,
                &jsonrpc::raw(result.to_string()),
            ));
            return Ok(Exchange {
                rx,
                cancel: CancelOnDrop::none(),
            });
        }
        if let (Era::SessionOnly { initialize }, "subscriptions/listen") = (&era, method.as_str()) {
            return Ok(self.bridged_listen(
                &child,
                initialize.as_deref(),
                envelope,
                &client_id,
                tx,
                rx,
            ));
        }
        let client_token = envelope.param("progressToken", true);
        let (proxy_id, proxy_token) = {
            let mut state = self.lock();
            state.next_id += 1;
            let proxy_id = state.next_id;
            let proxy_token: Option<Box<str>> = client_token
                .as_ref()
                .map(|_| format!("\"sb-{proxy_id}\"").into());
            if let Some(token) = &proxy_token {
                state.tokens.insert(token.clone(), proxy_id);
            }
            state.pending.insert(
                proxy_id,
                Pending {
                    tx,
                    client_id,
                    token: client_token.zip(proxy_token.clone()),
                    listen: method == "subscriptions/listen",
                    method,
                },
            );
            (proxy_id, proxy_token)
        };
        // A session-era server takes no stateless envelope (a dual-era one whose pipe is in
        // the session era refuses requests that carry it).
        let frame = match era {
            Era::SessionOnly { .. } => strip_envelope(&frame),
            Era::Modern { .. } => frame,
        };
        let mut out = jsonrpc::rewrite(&frame, &["id"], &jsonrpc::raw(proxy_id.to_string()));
        if let (Some(rewritten), Some(token)) = (&out, &proxy_token) {
            out = jsonrpc::rewrite(
                rewritten,
                jsonrpc::PROGRESS_TOKEN_IN_META,
                &jsonrpc::raw(token.to_string()),
            );
        }
        let queued = out.is_some_and(|out| child.queue(out).is_ok());
        if !queued {
            self.forget(proxy_id);
            return Err(Unavailable(format!(
                "server '{}' is not taking requests",
                self.name()
            )));
        }
        let owner = self.me.clone();
        Ok(Exchange {
            rx,
            cancel: CancelOnDrop::new(move || {
                if let Some(owner) = owner.upgrade() {
                    owner.cancel(proxy_id);
                }
            }),
        })
    }

    /// `subscriptions/listen` for a session-era child, emulated: acknowledged at once with
    /// what its capabilities honour, then its list changes (and updates of the resources
    /// named, subscribed to at the child) tagged with the client's id.
    fn bridged_listen(
        &self,
        child: &Arc<ManagedChild>,
        initialize: Option<&Value>,
        envelope: &Envelope<'_>,
        client_id: &RawValue,
        tx: FrameTx,
        rx: queue::FrameRx,
    ) -> Exchange {
        let asked: Value = envelope
            .params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .map(|p| p["notifications"].clone())
            .unwrap_or_default();
        let capabilities = initialize.map_or(Value::Null, |i| i["capabilities"].clone());
        let plan = ListenPlan::new(&asked, &capabilities);
        let subscription: Value = serde_json::from_str(client_id.get()).unwrap_or_default();
        let _ = tx.send(plan.acknowledgement(&subscription));
        let key = {
            let mut state = self.lock();
            for uri in &plan.uris {
                // Answers to these go nowhere: a refusal leaves the stream without updates.
                state.next_id += 1;
                let id = state.next_id;
                let (answered, _) = oneshot::channel();
                state.internal.insert(id, answered);
                child.send(Bytes::from(
                    serde_json::json!({"jsonrpc":"2.0","id":id,"method":"resources/subscribe","params":{"uri":uri}})
                        .to_string(),
                ));
            }
            state.next_id += 1;
            let key = state.next_id;
            state.listens.insert(
                key,
                BridgedListen {
                    tx,
                    subscription,
                    plan,
                },
            );
            key
        };
        let owner = self.me.clone();
        Exchange {
            rx,
            cancel: CancelOnDrop::new(move || {
                if let Some(owner) = owner.upgrade() {
                    owner.lock().listens.remove(&key);
                }
            }),
        }
    }

    /// The client went away before the answer: the child is told, and nothing more goes
    /// out for that request.
    fn cancel(&self, proxy_id: u64) {
        let (was_pending, child) = {
            let mut state = self.lock();
            let pending = state.pending.remove(&proxy_id);
            if let Some((_, token)) = pending.as_ref().and_then(|p| p.token.as_ref()) {
                state.tokens.remove(token);
            }
            (pending.is_some(), state.child.clone())
        };
        if was_pending && let Some(child) = child {
            child.send(Bytes::from(format!(
                r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{proxy_id},"reason":"the client closed its stream"}}}}"#
            )));
        }
    }

    fn forget(&self, proxy_id: u64) {
        let mut state = self.lock();
        if let Some(pending) = state.pending.remove(&proxy_id)
            && let Some((_, token)) = pending.token
        {
            state.tokens.remove(&token);
        }
    }

    /// A running child whose era is known: probed (once per server) and, for the bridge,
    /// initialized (once per child).
    async fn ready(&self) -> Result<(Arc<ManagedChild>, Era), Unavailable> {
        let _starting = self.starting.lock().await;
        let server = self
            .server
            .upgrade()
            .ok_or_else(|| Unavailable("the server was removed".into()))?;
        {
            let state = self.lock();
            if let (Some(child), Some(era)) = (&state.child, &state.era)
                && !child.has_exited()
            {
                return Ok((child.clone(), era.clone()));
            }
        }
        let known = self.lock().era.clone();
        let era = match known {
            Some(era) => era,
            None => {
                let probe = self.start_child(&server).await?;
                match self
                    .ask(&probe, "server/discover", &discover_params(), PROBE_TIMEOUT)
                    .await
                {
                    Some(answer) if speaks_modern(&answer) => {
                        log::info!(
                            "'{}' speaks protocol {MODERN_PROTOCOL_VERSION}: stateless clients use it directly",
                            server.name
                        );
                        let era = Era::Modern {
                            discover: Arc::new(answer["result"].clone()),
                        };
                        self.lock().era = Some(era.clone());
                        return Ok((probe, era));
                    }
                    _ => {
                        log::info!(
                            "'{}' did not answer server/discover: a session-era server; stateless clients go through the bridge",
                            server.name
                        );
                        // Its pipe may be locked to whatever it made of the probe.
                        {
                            let mut state = self.lock();
                            state.child = None;
                            state.sink = None;
                        }
                        probe.stop(server.stop_grace).await;
                        let era = Era::SessionOnly { initialize: None };
                        self.lock().era = Some(era.clone());
                        era
                    }
                }
            }
        };
        let child = self.start_child(&server).await?;
        match era {
            Era::Modern { .. } => Ok((child, era)),
            Era::SessionOnly { .. } => {
                let answer = self
                    .ask(
                        &child,
                        "initialize",
                        &bridge_initialize(),
                        INITIALIZE_TIMEOUT,
                    )
                    .await
                    .ok_or_else(|| {
                        Unavailable(format!(
                            "server '{}' did not answer initialize",
                            server.name
                        ))
                    })?;
                let Some(result) = answer.get("result").cloned() else {
                    return Err(Unavailable(format!(
                        "server '{}' refused initialize",
                        server.name
                    )));
                };
                child.send(Bytes::from_static(
                    br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
                ));
                let era = Era::SessionOnly {
                    initialize: Some(Arc::new(result)),
                };
                self.lock().era = Some(era.clone());
                Ok((child, era))
            }
        }
    }

    /// One request of our own to `child`, answered within `timeout` (or not).
    async fn ask(
        &self,
        child: &ManagedChild,
        method: &str,
        params: &Value,
        timeout: Duration,
    ) -> Option<Value> {
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut state = self.lock();
            state.next_id += 1;
            let id = state.next_id;
            state.internal.insert(id, tx);
            id
        };
        let request =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        if !child.send(Bytes::from(request.to_string())) {
            self.lock().internal.remove(&id);
            return None;
        }
        let answer = tokio::time::timeout(timeout, rx).await;
        self.lock().internal.remove(&id);
        serde_json::from_slice(&answer.ok()?.ok()?).ok()
    }

    async fn start_child(
        &self,
        server: &Arc<ServerRelay>,
    ) -> Result<Arc<ManagedChild>, Unavailable> {
        let sink = Arc::new(Sink(self.me.clone()));
        let weak: Weak<Sink> = Arc::downgrade(&sink);
        let child = server.spawn_child(weak).await.map_err(Unavailable)?;
        let mut state = self.lock();
        state.child = Some(child.clone());
        state.sink = Some(sink);
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

    fn bridged(&self) -> bool {
        matches!(self.lock().era, Some(Era::SessionOnly { .. }))
    }
}

/// What one child says goes to its [`ModernChild`] while the child is the current one.
struct Sink(Weak<ModernChild>);

impl ChildSink for Sink {
    fn on_frame(&self, frame: Bytes) -> Result<(), FrameRejected> {
        match self.0.upgrade() {
            Some(owner) => owner.child_frame(frame),
            None => Ok(()),
        }
    }

    fn on_exit(&self, exit: &ExitInfo) {
        if let Some(owner) = self.0.upgrade() {
            owner.child_exit(exit);
        }
    }
}

impl ModernChild {
    fn child_frame(&self, frame: Bytes) -> Result<(), FrameRejected> {
        let envelope = Envelope::parse(&frame).map_err(|e| FrameRejected(e.to_string()))?;
        match envelope.kind {
            Kind::Response => {
                let Some(proxy_id) = envelope.id_key().and_then(|k| k.parse::<u64>().ok()) else {
                    return Ok(());
                };
                let mut state = self.lock();
                if let Some(tx) = state.internal.remove(&proxy_id) {
                    drop(state);
                    let _ = tx.send(frame);
                    return Ok(());
                }
                let Some(pending) = state.pending.remove(&proxy_id) else {
                    return Ok(()); // cancelled: nothing more goes out for it
                };
                if let Some((_, token)) = &pending.token {
                    state.tokens.remove(token);
                }
                let bridged = matches!(state.era, Some(Era::SessionOnly { .. }));
                drop(state);
                let mut out = jsonrpc::rewrite(&frame, &["id"], &pending.client_id);
                // The end of a listen names the subscription: the client's id, not ours.
                if pending.listen
                    && let Some(rewritten) = &out
                {
                    out = jsonrpc::rewrite(
                        rewritten,
                        &["result", "_meta", META_SUBSCRIPTION_ID],
                        &pending.client_id,
                    )
                    .or(out);
                }
                if bridged && let Some(rewritten) = &out {
                    out = Some(stamp_bridged(rewritten, &pending.method));
                }
                if let Some(out) = out {
                    let _ = pending.tx.send_or_cut(out);
                }
            }
            Kind::Notification => self.route_notification(&envelope, &frame),
            Kind::Request => {
                // Stateless clients are never asked anything in the middle of a call.
                let why = if self.bridged() {
                    "Switchboard serves this server to a stateless (2026-07-28) client, which can be asked for sampling, elicitation or roots only through input_required results; a session-era server cannot produce those, so its request is refused"
                } else {
                    "a 2026-07-28 server must not send requests to the client; use input_required results"
                };
                if let Some(child) = self.lock().child.clone() {
                    child.send(jsonrpc::error_response(
                        envelope.id,
                        code::INTERNAL_ERROR,
                        why,
                    ));
                }
            }
        }
        Ok(())
    }

    fn child_exit(&self, exit: &ExitInfo) {
        let (pending, internal, deliberate) = {
            let mut state = self.lock();
            let deliberate = state.child.is_none();
            state.child = None;
            state.sink = None;
            state.tokens.clear();
            // Their streams end with the child: the client listens again.
            state.listens.clear();
            (
                std::mem::take(&mut state.pending),
                std::mem::take(&mut state.internal),
                deliberate,
            )
        };
        drop(internal);
        if let Some(server) = self.server.upgrade().filter(|_| !deliberate) {
            server.note_exit(exit);
        }
        let message = format!("server '{}' exited ({exit}) before answering", self.name());
        for (_, pending) in pending {
            let _ = pending.tx.send(jsonrpc::error_response(
                Some(&pending.client_id),
                code::SERVER_UNAVAILABLE,
                &message,
            ));
        }
    }
}

impl ModernChild {
    /// Progress goes to its request with the client's token; a listen's notifications to
    /// its stream with the client's id as `subscriptionId`; a server ending a listen
    /// (`notifications/cancelled` for its id) ends that stream. Nothing else belongs to a
    /// request.
    fn route_notification(&self, envelope: &Envelope<'_>, frame: &Bytes) {
        let method = envelope.method.as_deref().unwrap_or_default();
        if method == "notifications/progress" {
            let Some(token) = envelope.param("progressToken", false) else {
                return;
            };
            let state = self.lock();
            let Some(pending) = state
                .tokens
                .get(token.get())
                .and_then(|id| state.pending.get(id))
            else {
                return;
            };
            if let Some((client_token, _)) = &pending.token
                && let Some(out) = jsonrpc::rewrite(frame, jsonrpc::PROGRESS_TOKEN, client_token)
            {
                let _ = pending.tx.send_or_cut(out);
            }
            return;
        }
        if method == "notifications/cancelled" {
            let ended = envelope
                .param("requestId", false)
                .and_then(|id| id.get().parse::<u64>().ok());
            if let Some(id) = ended {
                let removed = self.lock().pending.remove(&id);
                drop(removed); // its stream ends
            }
            return;
        }
        if self.bridged() {
            // A session-era child's list changes and resource updates: to each emulated
            // listen stream that asked for them.
            let state = self.lock();
            for listen in state.listens.values() {
                if let Some(out) = listen.plan.relayed(frame, &listen.subscription) {
                    let _ = listen.tx.send_or_cut(out);
                }
            }
            return;
        }
        let Some(subscription) = envelope
            .param(META_SUBSCRIPTION_ID, true)
            .and_then(|id| id.get().parse::<u64>().ok())
        else {
            return;
        };
        let state = self.lock();
        if let Some(pending) = state.pending.get(&subscription).filter(|p| p.listen)
            && let Some(out) = jsonrpc::rewrite(
                frame,
                &["params", "_meta", META_SUBSCRIPTION_ID],
                &pending.client_id,
            )
        {
            let _ = pending.tx.send_or_cut(out);
        }
    }
}

fn discover_params() -> Value {
    serde_json::json!({"_meta": {
        META_PROTOCOL_VERSION: MODERN_PROTOCOL_VERSION,
        crate::mcp::modern::META_CLIENT_CAPABILITIES: {},
        META_CLIENT_INFO: {"name": "switchboard", "version": env!("CARGO_PKG_VERSION")},
    }})
}

/// The bridge child's handshake: no client capabilities (nothing can reach a stateless
/// client in the middle of a call).
pub(super) fn bridge_initialize() -> Value {
    serde_json::json!({
        "protocolVersion": LATEST_SESSION_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "switchboard (stateless bridge)", "version": env!("CARGO_PKG_VERSION")},
    })
}

/// Whether a `server/discover` answer offers the stateless protocol.
fn speaks_modern(answer: &Value) -> bool {
    answer["result"]["supportedVersions"]
        .as_array()
        .is_some_and(|v| v.iter().any(|v| v == MODERN_PROTOCOL_VERSION))
}

/// `server/discover` for a bridged server, from its child's `initialize` result.
pub(super) fn discover_from_initialize(initialize: Option<&Value>) -> Value {
    let empty = Value::Object(Default::default());
    let initialize = initialize.unwrap_or(&empty);
    let mut result = serde_json::json!({
        "resultType": "complete",
        "supportedVersions": [MODERN_PROTOCOL_VERSION],
        "capabilities": initialize.get("capabilities").cloned().unwrap_or_else(|| empty.clone()),
        "ttlMs": 0,
        "cacheScope": "private",
    });
    if let Some(info) = initialize.get("serverInfo") {
        result["_meta"] = serde_json::json!({ META_SERVER_INFO: info });
    }
    if let Some(instructions) = initialize.get("instructions") {
        result["instructions"] = instructions.clone();
    }
    result
}

/// A stateless request without the stateless envelope's `_meta` keys, for a session-era
/// server (its other `_meta`, a progress token, stays).
pub(super) fn strip_envelope(frame: &Bytes) -> Bytes {
    let Ok(mut request) = serde_json::from_slice::<Value>(frame) else {
        return frame.clone();
    };
    let Some(params) = request.get_mut("params").and_then(Value::as_object_mut) else {
        return frame.clone();
    };
    if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
        meta.retain(|key, _| !key.starts_with("io.modelcontextprotocol/"));
        if meta.is_empty() {
            params.remove("_meta");
        }
    }
    Bytes::from(request.to_string())
}

/// A bridged answer in the stateless protocol's shape: `resultType` on every result, cache
/// hints (no caching, private) on the cacheable methods, and the stateless code for a
/// resource that does not exist (-32602, where the session era used -32002).
pub(super) fn stamp_bridged(frame: &Bytes, method: &str) -> Bytes {
    let Ok(mut answer) = serde_json::from_slice::<Value>(frame) else {
        return frame.clone();
    };
    if let Some(result) = answer.get_mut("result").and_then(Value::as_object_mut) {
        result
            .entry("resultType")
            .or_insert_with(|| Value::from("complete"));
        if CACHEABLE.contains(&method) {
            result.entry("ttlMs").or_insert_with(|| Value::from(0));
            result
                .entry("cacheScope")
                .or_insert_with(|| Value::from("private"));
        }
    } else if let Some(error) = answer.get_mut("error").and_then(Value::as_object_mut)
        && error.get("code") == Some(&Value::from(-32002))
    {
        error.insert("code".into(), Value::from(code::INVALID_PARAMS));
    }
    Bytes::from(answer.to_string())
}
