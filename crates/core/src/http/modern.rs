//! The stateless protocol (2026-07-28) at a server's endpoint: the same URL as the session
//! era's Streamable HTTP, told apart by the request (`mcp::modern::is_modern_request`).
//!
//! The checks a stdio child cannot make (it never sees a header) are made here, in the
//! spec's order; then the request goes to the server's stateless child. The answer is
//! plain JSON, with the HTTP status its error code calls for, when it comes before
//! anything else within [`JSON_WINDOW`]; a request whose server says something first
//! (progress), or takes longer, is answered as an SSE stream that ends with the answer.
//! Closing that stream cancels the request.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;

use super::KEEP_ALIVE;
use super::reply;
use super::sse::{self, OnDrop};
use super::streamable::accepts;
use crate::mcp::jsonrpc::{Envelope, Kind, code};
use crate::mcp::modern::{self, Refusal};
use crate::mcp::protocol::MODERN_PROTOCOL_VERSIONS;
use crate::relay::ServerRelay;

/// How long an answer may take and still go out as plain JSON (with its own status).
const JSON_WINDOW: std::time::Duration = std::time::Duration::from_secs(15);

/// A stateless POST to `server`.
pub async fn post(
    relay: &crate::relay::Relay,
    server: &std::sync::Arc<ServerRelay>,
    headers: &HeaderMap,
    envelope: &Envelope<'_>,
    body: Bytes,
) -> Response {
    if !accepts(headers, "application/json") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    match envelope.kind {
        Kind::Response => {
            return refusal(
                envelope,
                Refusal {
                    status: StatusCode::BAD_REQUEST,
                    code: code::INVALID_REQUEST,
                    message:
                        "Invalid Request: clients do not post responses in protocol 2026-07-28"
                            .into(),
                    data: None,
                },
            );
        }
        Kind::Notification => {
            // None is defined from client to server over HTTP; accepted and dropped.
            return reply::accepted();
        }
        Kind::Request => {}
    }
    if let Err(refused) = modern::check(headers, envelope, MODERN_PROTOCOL_VERSIONS) {
        return refusal(envelope, refused);
    }
    let listen = envelope.method.as_deref() == Some("subscriptions/listen");
    if listen && !accepts(headers, "text/event-stream") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let child = server.modern();
    if let Some(child) = child
        && envelope.method.as_deref() == Some("tools/call")
    {
        let params: Value = envelope
            .params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_default();
        let tool = params["name"].as_str().unwrap_or_default();
        let declared = child.param_headers(tool).await;
        let arguments = params.get("arguments").cloned().unwrap_or_default();
        if let Err(refused) = modern::check_param_headers(headers, &arguments, &declared) {
            return refusal(envelope, refused);
        }
    }
    // A session-era stdio server (the bridge): a call that may ask its client something
    // goes over a session of its own, so the server's questions become input_required
    // rounds (each such session keeps a warm spare coming for the next one).
    let bridged = match child {
        Some(child) => matches!(
            child.probe_era().await,
            Ok(crate::relay::modern::Era::SessionOnly { .. })
        ),
        None => false,
    };
    let exchange = match child.filter(|_| !(bridged && crate::relay::needs_a_session(envelope))) {
        Some(child) => child.request(envelope, body).await,
        // A remote server, the aggregate, a profile: over a session kept for the purpose (or
        // of its own, for a call that may ask the client something).
        None => relay.stateless_request(server, envelope, body).await,
    };
    let exchange = match exchange {
        Ok(exchange) => exchange,
        Err(unavailable) => {
            return reply::json(
                StatusCode::OK,
                crate::mcp::jsonrpc::error_response(
                    envelope.id,
                    code::SERVER_UNAVAILABLE,
                    &unavailable.0,
                ),
            );
        }
    };
    let crate::relay::modern::Exchange { mut rx, cancel } = exchange;
    // The exchange's cancel guard lives as long as the response body does.
    let keep = OnDrop::new(move || drop(cancel));
    let stream = |first: Option<Bytes>, rx| {
        let options = sse::StreamOptions {
            first_frame: first,
            on_drop: Some(keep),
            ..Default::default()
        };
        let mut response = sse::response(rx, options, KEEP_ALIVE);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache, no-transform"),
        );
        response
    };
    if listen {
        return stream(None, rx);
    }
    match tokio::time::timeout(JSON_WINDOW, rx.recv()).await {
        Ok(Some(first)) if is_response(&first) => {
            let status = error_code(&first)
                .map(modern::status_of_error)
                .unwrap_or(StatusCode::OK);
            reply::json(status, first)
        }
        Ok(Some(first)) if accepts(headers, "text/event-stream") => stream(Some(first), rx),
        // A JSON-only client: what came before the answer is dropped, the answer kept.
        Ok(Some(_)) => loop {
            match rx.recv().await {
                Some(frame) if is_response(&frame) => break reply::json(StatusCode::OK, frame),
                Some(_) => continue,
                None => break no_answer(envelope),
            }
        },
        Ok(None) => no_answer(envelope),
        Err(_slow) if accepts(headers, "text/event-stream") => stream(None, rx),
        Err(_slow) => match rx.recv().await {
            Some(frame) => reply::json(StatusCode::OK, frame),
            None => no_answer(envelope),
        },
    }
}

/// GET and DELETE have no place in the stateless protocol.
pub fn method_not_allowed() -> Response {
    let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

fn no_answer(envelope: &Envelope<'_>) -> Response {
    reply::json(
        StatusCode::OK,
        crate::mcp::jsonrpc::error_response(
            envelope.id,
            code::SERVER_UNAVAILABLE,
            "the server ended without answering",
        ),
    )
}

/// A refusal as the spec wants it: its status, and a JSON-RPC error with the request's id.
fn refusal(envelope: &Envelope<'_>, refused: Refusal) -> Response {
    let mut error = serde_json::json!({"code": refused.code, "message": refused.message});
    if let Some(data) = refused.data {
        error["data"] = data;
    }
    let id: Value = envelope
        .id
        .and_then(|id| serde_json::from_str(id.get()).ok())
        .unwrap_or(Value::Null);
    let body = serde_json::json!({"jsonrpc": "2.0", "id": id, "error": error});
    reply::json(refused.status, Bytes::from(body.to_string()))
}

fn is_response(frame: &[u8]) -> bool {
    Envelope::parse(frame).is_ok_and(|e| e.kind == Kind::Response)
}

fn error_code(frame: &[u8]) -> Option<i64> {
    let value: Value = serde_json::from_slice(frame).ok()?;
    value.get("error")?.get("code")?.as_i64()
}
