//! The stateless protocol (2026-07-28) at an endpoint that has no stateless child of its
//! own: a remote server, the aggregate `/mcp`, a profile. Their requests are carried over
//! a session-era session that Switchboard opens and keeps for the purpose, so everything
//! the session path does (the aggregate's merged lists and routing, a gateway's
//! credentials, sign-in and era translation) serves stateless clients too.
//!
//! - One kept session per endpoint, initialized once declaring no client capabilities (a
//!   stateless client cannot be asked anything in the middle of a call, as for the stdio
//!   bridge in `modern.rs`); it is opened again if it ends (idle, the server changed).
//! - Each request gets a proxy id and progress token (stateless clients all start at 1),
//!   loses the stateless `_meta` keys, and its answer gets the client's id back with the
//!   stateless fields added (`resultType`, cache hints). `server/discover` is answered
//!   from the kept session's `initialize` result.
//! - A call that may ask its client something (`tools/call`, `prompts/get`,
//!   `resources/read` from a client that declared sampling, elicitation or roots) runs on
//!   a session of its own, initialized with those capabilities, so the server's questions
//!   belong to it alone: they park the call and answer the client with `input_required`;
//!   the retry (answers in `inputResponses`, our `requestState` echoed) resumes it. The
//!   bridge for a session-era stdio server sends such calls here too.
//! - A request the server sends the client on the kept session is refused with an error
//!   that says why.
//! - `subscriptions/listen` gets a session of its own whose list changes (and updates of
//!   the resources it names) are relayed on the listen stream, tagged with its
//!   `subscriptionId`. Closing the stream ends that session.
//! - Closing a request's stream before its answer sends `notifications/cancelled`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use serde_json::{Value, json};

use super::modern::{
    CancelOnDrop, Exchange, ListenPlan, Unavailable, bridge_initialize, discover_from_initialize,
    stamp_bridged, strip_envelope,
};
use super::session::{SendError, Session, Transport};
use super::{Relay, ServerRelay};
use crate::mcp::jsonrpc::{self, Envelope, Kind};
use crate::mcp::queue::{self, FrameTx};

/// How long the kept session's `initialize` may take.
const INITIALIZE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

impl Relay {
    /// Carries one stateless request for `server` (which has no stateless child).
    pub async fn stateless_request(
        &self,
        server: &Arc<ServerRelay>,
        envelope: &Envelope<'_>,
        frame: Bytes,
    ) -> Result<Exchange, Unavailable> {
        let method = envelope.method.as_deref().unwrap_or_default().to_owned();
        let client_id = envelope
            .id
            .map(|id| id.to_owned())
            .unwrap_or_else(|| jsonrpc::raw("null".into()));
        let queue_limit = server.limits.max_stream_queue_bytes;
        if method == "subscriptions/listen" {
            return self.listen(server, envelope, &client_id).await;
        }
        let params: Value = envelope
            .params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_default();
        if let Some(state) = params["requestState"].as_str()
            && state.starts_with(PARKED_PREFIX)
        {
            let (tx, rx) = queue::channel(queue_limit);
            self.resume(server, state, &params, client_id, envelope, tx);
            return Ok(Exchange {
                rx,
                cancel: CancelOnDrop::none(),
            });
        }
        if asks_for_input(&method, &params) {
            return self
                .interactive(server, envelope, frame, &params, client_id)
                .await;
        }
        let (session, initialize) = self.kept_session(server).await?;
        let (tx, rx) = queue::channel(queue_limit);
        if method == "server/discover" {
            let result = discover_from_initialize(Some(&initialize));
            let _ = tx.send(jsonrpc::result_response(
                &client_id,
                &jsonrpc::raw(result.to_string()),
            ));
            return Ok(Exchange {
                rx,
                cancel: CancelOnDrop::none(),
            });
        }
        let n = server.stateless_next.fetch_add(1, Ordering::Relaxed);
        let (from, answering) = send_as(
            &session,
            server,
            envelope,
            &frame,
            client_id,
            &format!("sb-stateless-{n}"),
        )
        .await?;
        let proxy_id = answering.proxy_id.clone();
        let relay_task = tokio::spawn(relay_answer(session.clone(), from, tx, answering));
        let cancel_session = Arc::downgrade(&session);
        let cancelled_id = proxy_id;
        Ok(Exchange {
            rx,
            cancel: CancelOnDrop::new(move || {
                if relay_task.is_finished() {
                    return;
                }
                relay_task.abort();
                let Some(session) = cancel_session.upgrade() else {
                    return;
                };
                let cancel = Bytes::from(format!(
                    r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{cancelled_id},"reason":"the client closed its stream"}}}}"#
                ));
                tokio::spawn(async move {
                    if let Ok(envelope) = Envelope::parse(&cancel) {
                        let _ = session
                            .send_from_client(&envelope, cancel.clone(), false)
                            .await;
                    }
                });
            }),
        })
    }

    /// The session kept for `server`'s stateless clients, and its `initialize` result;
    /// opened (and initialized) now if there is none or it ended.
    async fn kept_session(
        &self,
        server: &Arc<ServerRelay>,
    ) -> Result<(Arc<Session>, Value), Unavailable> {
        let mut kept = server.stateless_session.lock().await;
        if let Some((session, initialize)) = kept.as_ref()
            && !session.is_closed()
        {
            return Ok((session.clone(), initialize.clone()));
        }
        let (session, initialize) = self
            .initialized_session(server, bridge_initialize(), false)
            .await?;
        *kept = Some((session.clone(), initialize.clone()));
        Ok((session, initialize))
    }

    /// A new session on `server`, past its `initialize` (with `params`) and `initialized`.
    /// One for a client's own call (`for_a_call`) keeps a warm spare child coming, as a
    /// client's session does.
    async fn initialized_session(
        &self,
        server: &Arc<ServerRelay>,
        params: Value,
        for_a_call: bool,
    ) -> Result<(Arc<Session>, Value), Unavailable> {
        let unavailable = |why: String| Unavailable(format!("server '{}' {why}", server.name));
        let opened = if for_a_call {
            self.open_session(server, Transport::StreamableHttp).await
        } else {
            self.open_session_for(server, Transport::StreamableHttp)
                .await
        };
        let session = opened.map_err(|e| Unavailable(crate::redact::redact_error(&e)))?;
        let request = Bytes::from(
            json!({
                "jsonrpc": "2.0",
                "id": "switchboard-stateless-initialize",
                "method": "initialize",
                "params": params,
            })
            .to_string(),
        );
        let envelope =
            Envelope::parse(&request).map_err(|e| unavailable(format!("refused: {e}")))?;
        let answer = match session
            .send_from_client(&envelope, request.clone(), false)
            .await
        {
            Ok(Some(mut stream)) => tokio::time::timeout(INITIALIZE_TIMEOUT, stream.rx.recv())
                .await
                .ok()
                .flatten(),
            _ => None,
        };
        let answer: Value = answer
            .and_then(|a| serde_json::from_slice(&a).ok())
            .unwrap_or_default();
        let Some(result) = answer.get("result").cloned() else {
            session.close("its initialize failed").await;
            let why = answer["error"]["message"]
                .as_str()
                .unwrap_or("did not answer initialize")
                .to_owned();
            return Err(unavailable(why));
        };
        let initialized =
            Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        if let Ok(envelope) = Envelope::parse(&initialized) {
            let _ = session
                .send_from_client(&envelope, initialized.clone(), false)
                .await;
        }
        Ok((session, result))
    }

    /// `subscriptions/listen`: a session of its own, whose list changes and resource
    /// updates go out on the listen stream after the acknowledgement.
    async fn listen(
        &self,
        server: &Arc<ServerRelay>,
        envelope: &Envelope<'_>,
        client_id: &serde_json::value::RawValue,
    ) -> Result<Exchange, Unavailable> {
        let (session, initialize) = self
            .initialized_session(server, bridge_initialize(), false)
            .await?;
        let asked: Value = envelope
            .params
            .and_then(|p| serde_json::from_str::<Value>(p.get()).ok())
            .map(|p| p["notifications"].clone())
            .unwrap_or_default();
        let mut plan = ListenPlan::new(&asked, &initialize["capabilities"]);
        let mut subscribed = Vec::new();
        for (n, uri) in plan.uris.iter().enumerate() {
            let subscribe = Bytes::from(
                json!({"jsonrpc":"2.0","id":format!("switchboard-subscribe-{n}"),"method":"resources/subscribe","params":{"uri":uri}})
                    .to_string(),
            );
            if let Ok(envelope) = Envelope::parse(&subscribe)
                && let Ok(Some(mut stream)) = session
                    .send_from_client(&envelope, subscribe.clone(), false)
                    .await
                && stream.rx.recv().await.is_some_and(|a| {
                    serde_json::from_slice::<Value>(&a).is_ok_and(|a| a.get("result").is_some())
                })
            {
                subscribed.push(uri.clone());
            }
        }
        // Only what the server took is acknowledged and relayed.
        plan.uris = subscribed;
        if plan.uris.is_empty() {
            plan.honoured.remove("resourceSubscriptions");
        } else {
            plan.honoured
                .insert("resourceSubscriptions".into(), json!(plan.uris));
        }
        let subscription: Value = serde_json::from_str(client_id.get()).unwrap_or_default();
        let (tx, rx) = queue::channel(server.limits.max_stream_queue_bytes);
        let _ = tx.send(plan.acknowledgement(&subscription));
        let mut stream = session.open_stream();
        let listening = session.clone();
        let task = tokio::spawn(async move {
            while let Some(frame) = stream.recv().await {
                if let Some(out) = plan.relayed(&frame, &subscription)
                    && tx.send(out).is_err()
                {
                    break;
                }
            }
            listening.close("its listen stream ended").await;
        });
        let session = Arc::downgrade(&session);
        Ok(Exchange {
            rx,
            cancel: CancelOnDrop::new(move || {
                task.abort();
                if let Some(session) = session.upgrade() {
                    tokio::spawn(async move {
                        session.close("the client closed its listen stream").await
                    });
                }
            }),
        })
    }
}

/// Our `requestState` for a parked call starts with this (a server's own never reaches here).
const PARKED_PREFIX: &str = "sb-parked-";

/// How long a parked call waits for the client's retry before it is cancelled.
const PARKED_FOR: std::time::Duration = std::time::Duration::from_secs(600);

/// How long to wait, after a server's first request to the client, for more of them to
/// come with it (they are asked for together, in one `input_required` result).
const GATHER: std::time::Duration = std::time::Duration::from_millis(100);

/// Whether a stateless request for a bridged (session-era) stdio server goes over a session
/// instead of the bridge's child: it may need the client's input, or it is the retry of a
/// call parked on that.
pub fn needs_a_session(envelope: &Envelope<'_>) -> bool {
    let method = envelope.method.as_deref().unwrap_or_default();
    let params: Value = envelope
        .params
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default();
    asks_for_input(method, &params)
        || params["requestState"]
            .as_str()
            .is_some_and(|s| s.starts_with(PARKED_PREFIX))
}

/// Whether a stateless request may need its client's input in the middle of the call: one
/// of the methods that can answer `input_required`, from a client that declared one of the
/// capabilities a session-era server asks with.
pub(super) fn asks_for_input(method: &str, params: &Value) -> bool {
    let capabilities = &params["_meta"][crate::mcp::modern::META_CLIENT_CAPABILITIES];
    matches!(method, "tools/call" | "prompts/get" | "resources/read")
        && ["elicitation", "sampling", "roots"]
            .iter()
            .any(|c| capabilities.get(*c).is_some_and(|v| !v.is_null()))
}

/// A call waiting for its client's answers to the server's questions: its own session,
/// the stream its answer will come on, and the questions by key.
pub(super) struct Parked {
    session: Arc<Session>,
    rx: queue::FrameRx,
    answering: Answering,
    /// Key → the server's request id and the request.
    asks: Vec<(String, Box<serde_json::value::RawValue>, Value)>,
}

impl Relay {
    /// A request that may need the client's input: on a session of its own, initialized
    /// with the client's declared capabilities (a server's questions then belong to this
    /// call alone). A question from the server parks the call and answers the client
    /// with `input_required`; its retry resumes it (`resume`).
    async fn interactive(
        &self,
        server: &Arc<ServerRelay>,
        envelope: &Envelope<'_>,
        frame: Bytes,
        params: &Value,
        client_id: Box<serde_json::value::RawValue>,
    ) -> Result<Exchange, Unavailable> {
        let meta = &params["_meta"];
        let initialize = json!({
            "protocolVersion": crate::mcp::protocol::LATEST_SESSION_VERSION,
            "capabilities": meta[crate::mcp::modern::META_CLIENT_CAPABILITIES],
            "clientInfo": match &meta[crate::mcp::modern::META_CLIENT_INFO] {
                Value::Object(info) => Value::Object(info.clone()),
                _ => json!({"name": "stateless client", "version": "0"}),
            },
        });
        let (session, _) = self.initialized_session(server, initialize, true).await?;
        let sent = send_as(
            &session,
            server,
            envelope,
            &frame,
            client_id,
            "sb-interactive",
        )
        .await;
        let (from, answering) = match sent {
            Ok(sent) => sent,
            Err(unavailable) => {
                session.close("its request could not be sent").await;
                return Err(unavailable);
            }
        };
        let (tx, rx) = queue::channel(server.limits.max_stream_queue_bytes);
        Ok(self.drive(server, session, from, tx, answering, rx))
    }

    /// Relays a call's stream to `tx` until its answer (the call's session then ends) or
    /// the server's questions (the call is parked). Dropping the exchange before either
    /// cancels the call.
    fn drive(
        &self,
        server: &Arc<ServerRelay>,
        session: Arc<Session>,
        mut from: queue::FrameRx,
        tx: FrameTx,
        answering: Answering,
        rx: queue::FrameRx,
    ) -> Exchange {
        let weak_server = Arc::downgrade(server);
        let closing = session.clone();
        // Set once the call is answered or parked: from then on, the client closing its
        // stream (as it does after an input_required answer) cancels nothing.
        let handed_off = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let done = handed_off.clone();
        let task = tokio::spawn(async move {
            let mut asks: Vec<(String, Box<serde_json::value::RawValue>, Value)> = Vec::new();
            loop {
                let next = if asks.is_empty() {
                    from.recv().await
                } else {
                    match tokio::time::timeout(GATHER, from.recv()).await {
                        Ok(next) => next,
                        Err(_) => break,
                    }
                };
                let Some(frame) = next else {
                    let _ = tx.send(jsonrpc::error_response(
                        Some(&answering.client_id),
                        crate::mcp::protocol::code::SERVER_UNAVAILABLE,
                        "the server ended without answering",
                    ));
                    session.close("its call ended").await;
                    return;
                };
                let Ok(envelope) = Envelope::parse(&frame) else {
                    continue;
                };
                match envelope.kind {
                    Kind::Response
                        if envelope.id.is_some_and(|id| id.get() == answering.proxy_id) =>
                    {
                        let frame = jsonrpc::rewrite(&frame, &["id"], &answering.client_id)
                            .unwrap_or(frame);
                        done.store(true, Ordering::Release);
                        let _ = tx.send(stamp_bridged(&frame, &answering.method));
                        session.close("its call is answered").await;
                        return;
                    }
                    Kind::Request => {
                        let Some(id) = envelope.id else { continue };
                        let ask: Value = serde_json::from_slice(&frame).unwrap_or_default();
                        let key = format!("input-{}", asks.len() + 1);
                        asks.push((
                            key,
                            id.to_owned(),
                            json!({"method": ask["method"], "params": ask.get("params").cloned().unwrap_or_else(|| json!({}))}),
                        ));
                    }
                    Kind::Notification => {
                        let frame = answering.client_progress(&envelope, &frame);
                        if tx.send(frame).is_err() {
                            return;
                        }
                    }
                    Kind::Response => {}
                }
            }
            // The server asked: the client gets the questions, the call waits for its retry.
            let Some(server) = weak_server.upgrade() else {
                return;
            };
            let token = parked_token();
            let asking = input_required(&answering.client_id, &asks, &token);
            park(
                &server,
                token,
                Parked {
                    session,
                    rx: from,
                    answering,
                    asks,
                },
            );
            done.store(true, Ordering::Release);
            let _ = tx.send(asking);
        });
        let cancelled_id = "\"sb-interactive\"";
        Exchange {
            rx,
            cancel: CancelOnDrop::new(move || {
                if handed_off.load(Ordering::Acquire) {
                    return;
                }
                task.abort();
                let cancel = Bytes::from(format!(
                    r#"{{"jsonrpc":"2.0","method":"notifications/cancelled","params":{{"requestId":{cancelled_id},"reason":"the client closed its stream"}}}}"#
                ));
                tokio::spawn(async move {
                    if let Ok(envelope) = Envelope::parse(&cancel) {
                        let _ = closing
                            .send_from_client(&envelope, cancel.clone(), false)
                            .await;
                    }
                    closing.close("the client closed its stream").await;
                });
            }),
        }
    }

    /// A retry of a parked call: the client's answers go to the server's questions and the
    /// call goes on, answering the retry. A state that is not one of ours, or has expired,
    /// is refused (-32602); questions left unanswered are asked again.
    fn resume(
        &self,
        server: &Arc<ServerRelay>,
        state: &str,
        params: &Value,
        client_id: Box<serde_json::value::RawValue>,
        envelope: &Envelope<'_>,
        tx: FrameTx,
    ) {
        let parked = lock(&server.parked).remove(state);
        let Some(mut parked) = parked else {
            let _ = tx.send(jsonrpc::error_response(
                Some(&client_id),
                crate::mcp::protocol::code::INVALID_PARAMS,
                "Invalid params: requestState is not one this server issued, or it expired",
            ));
            return;
        };
        parked.answering.client_id = client_id;
        if let Some((client, _)) = parked.answering.token.as_mut()
            && let Some(token) = envelope.param("progressToken", true)
        {
            *client = token;
        }
        let responses = &params["inputResponses"];
        let mut missing = Vec::new();
        for (key, id, ask) in parked.asks.drain(..) {
            match responses.get(&key) {
                Some(result) => {
                    let answer = Bytes::from(format!(
                        r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#,
                        id.get(),
                        result
                    ));
                    let session = parked.session.clone();
                    tokio::spawn(async move {
                        if let Ok(envelope) = Envelope::parse(&answer) {
                            let _ = session
                                .send_from_client(&envelope, answer.clone(), false)
                                .await;
                        }
                    });
                }
                None => missing.push((key, id, ask)),
            }
        }
        if !missing.is_empty() {
            let token = parked_token();
            let _ = tx.send(input_required(
                &parked.answering.client_id,
                &missing,
                &token,
            ));
            parked.asks = missing;
            park(server, token, parked);
            return;
        }
        let Parked {
            session,
            rx: from,
            answering,
            ..
        } = parked;
        // The retry's stream carries the rest; it is not cancelled from here.
        let (inner_tx, mut inner_rx) = queue::channel(server.limits.max_stream_queue_bytes);
        let exchange = self.drive(
            server,
            session,
            from,
            inner_tx,
            answering,
            queue::channel(0).1,
        );
        tokio::spawn(async move {
            let _keep = exchange;
            while let Some(frame) = inner_rx.recv().await {
                if tx.send(frame).is_err() {
                    break;
                }
            }
        });
    }
}

/// An opaque, unguessable `requestState` for a parked call.
fn parked_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{PARKED_PREFIX}{hex}")
}

/// The `input_required` answer that asks the client the server's questions.
fn input_required(
    client_id: &serde_json::value::RawValue,
    asks: &[(String, Box<serde_json::value::RawValue>, Value)],
    token: &str,
) -> Bytes {
    let requests: serde_json::Map<String, Value> = asks
        .iter()
        .map(|(key, _, ask)| (key.clone(), ask.clone()))
        .collect();
    let result =
        json!({"resultType": "input_required", "inputRequests": requests, "requestState": token});
    jsonrpc::result_response(client_id, &jsonrpc::raw(result.to_string()))
}

/// Keeps a parked call for its retry; one not resumed in time is cancelled.
fn park(server: &Arc<ServerRelay>, token: String, parked: Parked) {
    lock(&server.parked).insert(token.clone(), parked);
    let server = Arc::downgrade(server);
    tokio::spawn(async move {
        tokio::time::sleep(PARKED_FOR).await;
        let Some(server) = server.upgrade() else {
            return;
        };
        let expired = lock(&server.parked).remove(&token);
        if let Some(parked) = expired {
            parked
                .session
                .close("the client did not retry its call in time")
                .await;
        }
    });
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends a stateless client's request on `session` as `proxy` (its id, and `proxy-token`
/// for its progress token), without the stateless `_meta` keys. Returns the stream its
/// answer comes on, and who that answer is for.
async fn send_as(
    session: &Arc<Session>,
    server: &ServerRelay,
    envelope: &Envelope<'_>,
    frame: &Bytes,
    client_id: Box<serde_json::value::RawValue>,
    proxy: &str,
) -> Result<(queue::FrameRx, Answering), Unavailable> {
    let proxy_id = jsonrpc::raw(format!("\"{proxy}\""));
    let client_token = envelope.param("progressToken", true);
    let proxy_token = client_token
        .as_ref()
        .map(|_| jsonrpc::raw(format!("\"{proxy}-token\"")));
    let mut out = jsonrpc::rewrite(&strip_envelope(frame), &["id"], &proxy_id);
    if let (Some(rewritten), Some(token)) = (&out, &proxy_token) {
        out = jsonrpc::rewrite(rewritten, jsonrpc::PROGRESS_TOKEN_IN_META, token);
    }
    let unavailable = || Unavailable(format!("server '{}' is not taking requests", server.name));
    let out = out.ok_or_else(unavailable)?;
    let sent = Envelope::parse(&out).map_err(|_| unavailable())?;
    let stream = match session.send_from_client(&sent, out.clone(), true).await {
        Ok(Some(stream)) => stream,
        Ok(None) | Err(SendError::Closed) | Err(SendError::DuplicateId) => {
            return Err(unavailable());
        }
    };
    let answering = Answering {
        proxy_id: proxy_id.get().to_owned(),
        client_id,
        token: client_token.zip(proxy_token.map(|t| t.get().to_owned())),
        method: envelope.method.as_deref().unwrap_or_default().to_owned(),
    };
    Ok((stream.rx, answering))
}

/// Whose answer a relay task is waiting for.
struct Answering {
    proxy_id: String,
    client_id: Box<serde_json::value::RawValue>,
    /// The client's progress token and ours in its place.
    token: Option<(Box<serde_json::value::RawValue>, String)>,
    method: String,
}

impl Answering {
    /// A progress notification with the client's token in place of ours; any other
    /// notification as it is.
    fn client_progress(&self, envelope: &Envelope<'_>, frame: &Bytes) -> Bytes {
        match (&self.token, envelope.method.as_deref()) {
            (Some((client, ours)), Some("notifications/progress"))
                if envelope
                    .param("progressToken", false)
                    .is_some_and(|t| t.get() == ours) =>
            {
                jsonrpc::rewrite(frame, jsonrpc::PROGRESS_TOKEN, client)
                    .unwrap_or_else(|| frame.clone())
            }
            _ => frame.clone(),
        }
    }
}

/// Frames of one request's stream on the kept session to the stateless client: its
/// progress and log messages, then its answer, each with the client's id and token.
async fn relay_answer(
    session: Arc<Session>,
    mut rx: queue::FrameRx,
    tx: FrameTx,
    answering: Answering,
) {
    while let Some(frame) = rx.recv().await {
        let Ok(envelope) = Envelope::parse(&frame) else {
            continue;
        };
        match envelope.kind {
            Kind::Response if envelope.id.is_some_and(|id| id.get() == answering.proxy_id) => {
                let frame =
                    jsonrpc::rewrite(&frame, &["id"], &answering.client_id).unwrap_or(frame);
                let _ = tx.send(stamp_bridged(&frame, &answering.method));
                return;
            }
            Kind::Request => {
                // The server asks the client something; a stateless client cannot be asked
                // in the middle of a call on a session it does not have.
                let refusal = jsonrpc::error_response(
                    envelope.id,
                    crate::mcp::protocol::code::METHOD_NOT_FOUND,
                    "Switchboard serves this endpoint to a stateless (2026-07-28) client, which can be asked for sampling, elicitation or roots only through input_required results; this server's request is refused",
                );
                if let Ok(refused) = Envelope::parse(&refusal) {
                    let _ = session
                        .send_from_client(&refused, refusal.clone(), false)
                        .await;
                }
            }
            Kind::Notification => {
                let frame = answering.client_progress(&envelope, &frame);
                if tx.send(frame).is_err() {
                    return;
                }
            }
            Kind::Response => {}
        }
    }
}
