//! The 2024-11-05 HTTP+SSE transport: GET `/servers/<name>/sse` opens a session whose first
//! event names the POST endpoint, `/servers/<name>/messages?session_id=…`. Everything the
//! server says arrives on that one stream; closing it ends the session.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::reply::{self, rpc_error};
use super::sse::{self, OnDrop};
use super::streamable::parse;
use super::{AppState, KEEP_ALIVE};
use crate::mcp::jsonrpc::{self, code};
use crate::relay::{SendError, Transport};

pub async fn open(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    let Ok(server) = state.relay.server(&name) else {
        return reply::unknown_server(&name);
    };
    let session = match state
        .relay
        .open_session(&server, Transport::LegacySse)
        .await
    {
        Ok(session) => session,
        Err(e @ crate::Error::LimitReached { .. }) => {
            return rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                code::SERVER_UNAVAILABLE,
                &e.to_string(),
            );
        }
        Err(e) => {
            log::warn!("{e}");
            let message = format!("Switchboard could not start server '{name}': {e}");
            return rpc_error(StatusCode::BAD_GATEWAY, code::SERVER_UNAVAILABLE, &message);
        }
    };
    let rx = session.open_stream();
    let path = if name == crate::relay::aggregate::NAME {
        "/messages".to_owned()
    } else if let Some(profile) = crate::relay::aggregate::profile_of(&name) {
        format!("/profiles/{profile}/messages")
    } else {
        format!("/servers/{name}/messages")
    };
    let endpoint = Bytes::from(format!(
        "event: endpoint\ndata: {path}?session_id={}\n\n",
        session.id
    ));
    let relay = state.relay.clone();
    let id = session.id.clone();
    let on_drop = OnDrop::new(move || {
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { relay.close_session(&id, "the SSE stream closed").await });
        }
    });
    let options = sse::StreamOptions {
        preamble: Some(endpoint),
        on_drop: Some(on_drop),
        ..Default::default()
    };
    sse::response(rx, options, KEEP_ALIVE)
}

pub async fn message(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    if state.relay.server(&name).is_err() {
        return reply::unknown_server(&name);
    }
    if let Err(refused) = reply::require_json_body(&headers) {
        return refused;
    }
    // The TypeScript SDK says `sessionId`, the Python SDK `session_id`; both are accepted.
    let Some(id) = query.get("session_id").or_else(|| query.get("sessionId")) else {
        return rpc_error(
            StatusCode::BAD_REQUEST,
            code::INVALID_REQUEST,
            "Bad Request: missing session_id",
        );
    };
    let Some(session) = state
        .relay
        .session(&name, id)
        .filter(|s| s.transport == Transport::LegacySse)
    else {
        return reply::unknown_session();
    };
    let envelope = match parse(&body) {
        Ok(envelope) => envelope,
        Err(response) => return response,
    };
    match session
        .send_from_client(&envelope, body.clone(), true)
        .await
    {
        Ok(_) => (StatusCode::ACCEPTED, "Accepted").into_response(),
        Err(SendError::Closed) => reply::unknown_session(),
        Err(SendError::DuplicateId) => reply::json(
            StatusCode::BAD_REQUEST,
            jsonrpc::error_response(
                envelope.id,
                code::INVALID_REQUEST,
                "A request with this id is already in flight in this session",
            ),
        ),
    }
}
