//! Streamable HTTP (protocol versions 2025-03-26 to 2025-11-25) at `/servers/<name>/mcp`;
//! a request of the stateless protocol (2026-07-28) at the same URL goes to `modern.rs`.
//!
//! POST carries one client message: a request is answered on an SSE stream (or as JSON when
//! the client accepts only JSON); a notification or response gets 202. GET opens a stream for
//! messages the server sends on its own. DELETE ends the session.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::reply::{self, rpc_error};
use super::sse::{self, OnDrop};
use super::{AppState, KEEP_ALIVE, PROTOCOL_VERSION_HEADER, SESSION_HEADER};
use crate::mcp::jsonrpc::{self, Envelope, FrameError, Kind, code};
use crate::mcp::protocol::{self, LAST_EVENT_ID_HEADER, SESSION_PROTOCOL_VERSIONS};
use crate::relay::{RequestStream, SendError, Session, Transport};

pub async fn post(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(server) = state.relay.server(&name) else {
        return reply::unknown_server(&name);
    };
    let accepts_sse = accepts(&headers, "text/event-stream");
    if !accepts_sse && !accepts(&headers, "application/json") {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Not Acceptable: the client must accept application/json and text/event-stream",
        );
    }
    if let Err(refused) = reply::require_json_body(&headers) {
        return refused;
    }
    let envelope = match parse(&body) {
        Ok(envelope) => envelope,
        Err(response) => return response,
    };
    if crate::mcp::modern::is_modern_request(&headers, &envelope) {
        return super::modern::post(&state.relay, &server, &headers, &envelope, body.clone()).await;
    }
    if let Some(response) = check_protocol_version(&headers) {
        return response;
    }

    let is_initialize =
        envelope.kind == Kind::Request && envelope.method.as_deref() == Some("initialize");
    let session = if is_initialize {
        match state
            .relay
            .open_session(&server, Transport::StreamableHttp)
            .await
        {
            Ok(session) => session,
            Err(e @ crate::Error::LimitReached { .. }) => {
                return reply::json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    jsonrpc::error_response(envelope.id, code::SERVER_UNAVAILABLE, &e.to_string()),
                );
            }
            Err(e) => {
                log::warn!("{e}");
                let message = format!("Switchboard could not start server '{name}': {e}");
                return reply::json(
                    StatusCode::OK,
                    jsonrpc::error_response(envelope.id, code::SERVER_UNAVAILABLE, &message),
                );
            }
        }
    } else {
        match session_from(&state, &name, &headers) {
            Ok(session) => session,
            Err(response) => return response,
        }
    };

    let rx = match session
        .send_from_client(&envelope, body.clone(), accepts_sse)
        .await
    {
        Ok(rx) => rx,
        Err(SendError::Closed) => return reply::unknown_session(),
        Err(SendError::DuplicateId) => {
            let error = jsonrpc::error_response(
                envelope.id,
                code::INVALID_REQUEST,
                "A request with this id is already in flight in this session",
            );
            return reply::json(StatusCode::BAD_REQUEST, error);
        }
    };
    let Some(RequestStream { mut rx, stream_id }) = rx else {
        return reply::accepted();
    };
    let accepts_json = accepts(&headers, "application/json");
    // Event ids on every request stream; a priming event for clients that know it (2025-11-25).
    let sse_options = |first_frame: Option<Bytes>| sse::StreamOptions {
        first_frame,
        ids: Some(sse::EventIds {
            stream: stream_id,
            prime: knows_priming(&headers),
        }),
        ..Default::default()
    };
    let mut response = if !accepts_sse {
        match rx.recv().await {
            Some(answer) => reply::json(StatusCode::OK, answer),
            None => return reply::unknown_session(),
        }
    } else if !accepts_json {
        sse::response(rx, sse_options(None), KEEP_ALIVE)
    } else {
        // Plain JSON when the answer is the first thing the server says about this request:
        // cheaper, and clients cap SSE events (the Python SDK at 1 MiB) but not JSON bodies.
        // Anything else first (progress, a question for the client), or a slow call, and
        // the answer becomes an SSE stream that carries it all.
        match tokio::time::timeout(JSON_WINDOW, rx.recv()).await {
            Ok(Some(first)) if is_response(&first) => reply::json(StatusCode::OK, first),
            Ok(Some(first)) => sse::response(rx, sse_options(Some(first)), KEEP_ALIVE),
            Ok(None) => return reply::unknown_session(),
            Err(_slow) => sse::response(rx, sse_options(None), KEEP_ALIVE),
        }
    };
    if is_initialize {
        if session.is_closed() {
            // Its initialize failed before reaching the server (unreachable, refused): the
            // error goes back without a session id, and the session is gone.
            state
                .relay
                .close_session(&session.id, "initialize failed")
                .await;
        } else if let Ok(value) = HeaderValue::from_str(&session.id) {
            response.headers_mut().insert(SESSION_HEADER, value);
        }
    }
    response
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.relay.server(&name).is_err() {
        return reply::unknown_server(&name);
    }
    if crate::mcp::modern::is_modern_stream_request(&headers) {
        return super::modern::method_not_allowed();
    }
    if !accepts(&headers, "text/event-stream") {
        return rpc_error(
            StatusCode::NOT_ACCEPTABLE,
            code::INVALID_REQUEST,
            "Not Acceptable: the client must accept text/event-stream",
        );
    }
    let session = match session_from(&state, &name, &headers) {
        Ok(session) => session,
        Err(response) => return response,
    };
    if let Some(response) = check_protocol_version(&headers) {
        return response;
    }
    // A client resuming a request stream gets what that stream could not deliver first.
    let resumed = headers
        .get(LAST_EVENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(sse::resumed_stream);
    let rx = session.open_stream_resuming(resumed);
    // The idle clock starts again when the stream closes, not when it opened.
    let on_drop = OnDrop::new(move || session.touch());
    let options = sse::StreamOptions {
        on_drop: Some(on_drop),
        ..Default::default()
    };
    sse::response(rx, options, KEEP_ALIVE)
}

pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    if state.relay.server(&name).is_err() {
        return reply::unknown_server(&name);
    }
    if crate::mcp::modern::is_modern_stream_request(&headers) {
        return super::modern::method_not_allowed();
    }
    let session = match session_from(&state, &name, &headers) {
        Ok(session) => session,
        Err(response) => return response,
    };
    state
        .relay
        .close_session(&session.id, "the client ended it")
        .await;
    StatusCode::OK.into_response()
}

/// Priming events came with 2025-11-25; older clients could take one for a message.
fn knows_priming(headers: &HeaderMap) -> bool {
    headers
        .get(PROTOCOL_VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| protocol::is_at_least(v, protocol::RESUMABLE_STREAMS_SINCE))
}

/// How long a request may take and still be answered as plain JSON.
const JSON_WINDOW: std::time::Duration = std::time::Duration::from_secs(3);

fn is_response(frame: &[u8]) -> bool {
    Envelope::parse(frame).is_ok_and(|e| e.kind == Kind::Response)
}

/// Parses a client body, answering malformed input the way the spec asks.
pub(super) fn parse(body: &[u8]) -> Result<Envelope<'_>, Response> {
    Envelope::parse(body).map_err(|e| match e {
        FrameError::Parse(detail) => rpc_error(
            StatusCode::BAD_REQUEST,
            code::PARSE_ERROR,
            &format!("Parse error: {detail}"),
        ),
        other => rpc_error(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            &format!("Invalid Request: {other}"),
        ),
    })
}

fn session_from(
    state: &AppState,
    server: &str,
    headers: &HeaderMap,
) -> Result<std::sync::Arc<Session>, Response> {
    let Some(id) = headers.get(SESSION_HEADER) else {
        return Err(rpc_error(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Bad Request: missing Mcp-Session-Id header",
        ));
    };
    let id = id.to_str().unwrap_or_default();
    state
        .relay
        .session(server, id)
        .ok_or_else(reply::unknown_session)
}

/// An absent header means 2025-03-26 (the spec's default); an unknown one is refused.
fn check_protocol_version(headers: &HeaderMap) -> Option<Response> {
    let version = headers.get(PROTOCOL_VERSION_HEADER)?;
    let version = version.to_str().unwrap_or_default();
    if SESSION_PROTOCOL_VERSIONS.contains(&version) {
        return None;
    }
    Some(rpc_error(
        StatusCode::BAD_REQUEST,
        code::INVALID_REQUEST,
        &format!(
            "Bad Request: unsupported MCP-Protocol-Version '{version}' (supported: {})",
            SESSION_PROTOCOL_VERSIONS.join(", ")
        ),
    ))
}

/// Whether an `Accept` header admits `mime`, wildcards included. No header admits anything.
pub(super) fn accepts(headers: &HeaderMap, mime: &str) -> bool {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return false;
    }
    let (kind, _) = mime.split_once('/').unwrap_or((mime, ""));
    values
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter(|range| {
            !range
                .split(';')
                .skip(1)
                .any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"))
        })
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .any(|range| range == mime || range == "*/*" || range.strip_suffix("/*") == Some(kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn accept_matching_follows_media_ranges() {
        let both = with_accept("application/json, text/event-stream");
        assert!(accepts(&both, "application/json") && accepts(&both, "text/event-stream"));
        assert!(accepts(&with_accept("*/*"), "text/event-stream"));
        assert!(accepts(&with_accept("text/*;q=0.5"), "text/event-stream"));
        assert!(!accepts(
            &with_accept("application/json"),
            "text/event-stream"
        ));
        assert!(!accepts(
            &with_accept("text/event-stream;q=0"),
            "text/event-stream"
        ));
        assert!(!accepts(&HeaderMap::new(), "application/json"));
    }
}
