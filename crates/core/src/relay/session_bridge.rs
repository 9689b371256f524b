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
//! - A request the server sends the client on that session is refused with an error
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
        let proxy_id = jsonrpc::raw(format!("\"sb-stateless-{n}\""));
        let client_token = envelope.param("progressToken", true);
        let proxy_token = client_token
            .as_ref()
            .map(|_| jsonrpc::raw(format!("\"sb-stateless-token-{n}\"")));
        let mut out = jsonrpc::rewrite(&strip_envelope(&frame), &["id"], &proxy_id);
        if let (Some(rewritten), Some(token)) = (&out, &proxy_token) {
            out = jsonrpc::rewrite(rewritten, jsonrpc::PROGRESS_TOKEN_IN_META, token);
        }
        let unavailable =
            || Unavailable(format!("server '{}' is not taking requests", server.name));
        let out = out.ok_or_else(unavailable)?;
        let sent = Envelope::parse(&out).map_err(|_| unavailable())?;
        let stream = match session.send_from_client(&sent, out.clone(), true).await {
            Ok(Some(stream)) => stream,
            Ok(None) | Err(SendError::Closed) | Err(SendError::DuplicateId) => {
                return Err(unavailable());
            }
        };
        let relay_task = tokio::spawn(relay_answer(
            session.clone(),
            stream.rx,
            tx,
            Answering {
                proxy_id: proxy_id.get().to_owned(),
                client_id,
                token: client_token.zip(proxy_token.map(|t| t.get().to_owned())),
                method,
            },
        ));
        let cancel_session = Arc::downgrade(&session);
        let cancelled_id = proxy_id.get().to_owned();
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
        let (session, initialize) = self.initialized_session(server).await?;
        *kept = Some((session.clone(), initialize.clone()));
        Ok((session, initialize))
    }

    /// A new session on `server`, past its `initialize` and `initialized`.
    async fn initialized_session(
        &self,
        server: &Arc<ServerRelay>,
    ) -> Result<(Arc<Session>, Value), Unavailable> {
        let unavailable = |why: String| Unavailable(format!("server '{}' {why}", server.name));
        let session = self
            .open_session_for(server, Transport::StreamableHttp)
            .await
            .map_err(|e| Unavailable(crate::redact::redact_error(&e)))?;
        let request = Bytes::from(
            json!({
                "jsonrpc": "2.0",
                "id": "switchboard-stateless-initialize",
                "method": "initialize",
                "params": bridge_initialize(),
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
        let (session, initialize) = self.initialized_session(server).await?;
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

/// Whose answer a relay task is waiting for.
struct Answering {
    proxy_id: String,
    client_id: Box<serde_json::value::RawValue>,
    /// The client's progress token and ours in its place.
    token: Option<(Box<serde_json::value::RawValue>, String)>,
    method: String,
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
                let frame = match (&answering.token, envelope.method.as_deref()) {
                    (Some((client, ours)), Some("notifications/progress"))
                        if envelope
                            .param("progressToken", false)
                            .is_some_and(|t| t.get() == ours) =>
                    {
                        jsonrpc::rewrite(&frame, jsonrpc::PROGRESS_TOKEN, client).unwrap_or(frame)
                    }
                    _ => frame,
                };
                if tx.send(frame).is_err() {
                    return;
                }
            }
            Kind::Response => {}
        }
    }
}
