//! The loopback HTTP front door: every server's Streamable HTTP and legacy SSE endpoints, the
//! aggregate's (`/mcp`, `/sse`) and each profile's (`/profiles/<name>/mcp`, `…/sse`), which
//! are the same handlers with the aggregate's entry ([`crate::relay::aggregate::NAME`], or
//! [`crate::relay::aggregate::profile_entry`]) where a server name would be.
//!
//! All routes are built in [`router`], so a single layer added there wraps every one of them
//! (the place for Host, Origin and key checks).

// Handlers return `Result<_, Response>`: the early-exit answer is the error, and it is
// built once per request, so its size on the stack does not matter.
#![allow(clippy::result_large_err)]

pub mod guard;
mod legacy_sse;
mod modern;
mod reply;
mod serve;
mod sse;
mod status;
mod streamable;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::HeaderMap;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;

use crate::relay::Relay;
use crate::relay::aggregate::NAME as AGGREGATE;

pub use crate::mcp::protocol::{PROTOCOL_VERSION_HEADER, SESSION_HEADER};
/// SSE comment lines keep idle streams open through proxies and client timeouts.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    pub relay: Arc<Relay>,
    pub access: Arc<Access>,
}

pub use guard::Access;
pub use serve::serve;

/// Every route Switchboard serves, all behind [`guard::guard`].
pub fn router(relay: Arc<Relay>, access: Arc<Access>) -> Router {
    let body_limit = relay.options().max_frame_bytes;
    let state = AppState {
        relay,
        access: access.clone(),
    };
    Router::new()
        .route("/status", get(status::status))
        .route(
            "/servers/{name}/mcp",
            post(server_post).get(server_get).delete(server_delete),
        )
        .route("/servers/{name}/sse", get(server_sse))
        .route("/servers/{name}/messages", post(server_message))
        .route("/servers/{name}/messages/", post(server_message))
        .route(
            "/mcp",
            post(aggregate_post)
                .get(aggregate_get)
                .delete(aggregate_delete),
        )
        .route("/sse", get(aggregate_sse))
        .route("/messages", post(aggregate_message))
        .route("/messages/", post(aggregate_message))
        .route(
            "/profiles/{profile}/mcp",
            post(profile_post).get(profile_get).delete(profile_delete),
        )
        .route("/profiles/{profile}/sse", get(profile_sse))
        .route("/profiles/{profile}/messages", post(profile_message))
        .route("/profiles/{profile}/messages/", post(profile_message))
        .fallback(reply::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        // Outermost: nothing is routed, parsed or spawned before the guard has passed it.
        .layer(middleware::from_fn_with_state(access, guard::guard))
        .with_state(state)
}

// The per-server routes refuse the aggregate's own name, so `/servers/*/mcp` is no alias of
// `/mcp` (a profile's key, scoped to its endpoint, must not open the aggregate by another
// path).

fn named(name: String) -> Result<Path<String>, Response> {
    if name.starts_with(AGGREGATE) {
        Err(reply::no_such_server(&name))
    } else {
        Ok(Path(name))
    }
}

async fn server_post(
    state: State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match named(name) {
        Ok(name) => streamable::post(state, name, headers, body).await,
        Err(refused) => refused,
    }
}

async fn server_get(
    state: State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    match named(name) {
        Ok(name) => streamable::get(state, name, headers).await,
        Err(refused) => refused,
    }
}

async fn server_delete(
    state: State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    match named(name) {
        Ok(name) => streamable::delete(state, name, headers).await,
        Err(refused) => refused,
    }
}

async fn server_sse(state: State<AppState>, Path(name): Path<String>) -> Response {
    match named(name) {
        Ok(name) => legacy_sse::open(state, name).await,
        Err(refused) => refused,
    }
}

async fn server_message(
    state: State<AppState>,
    Path(name): Path<String>,
    query: Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match named(name) {
        Ok(name) => legacy_sse::message(state, name, query, headers, body).await,
        Err(refused) => refused,
    }
}

fn aggregate() -> Path<String> {
    Path(AGGREGATE.to_owned())
}

async fn aggregate_post(state: State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    streamable::post(state, aggregate(), headers, body).await
}

async fn aggregate_get(state: State<AppState>, headers: HeaderMap) -> Response {
    streamable::get(state, aggregate(), headers).await
}

async fn aggregate_delete(state: State<AppState>, headers: HeaderMap) -> Response {
    streamable::delete(state, aggregate(), headers).await
}

async fn aggregate_sse(state: State<AppState>) -> Response {
    legacy_sse::open(state, aggregate()).await
}

async fn aggregate_message(
    state: State<AppState>,
    query: Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    legacy_sse::message(state, aggregate(), query, headers, body).await
}

fn profile(profile: String) -> Path<String> {
    Path(crate::relay::aggregate::profile_entry(&profile))
}

async fn profile_post(
    state: State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    streamable::post(state, profile(name), headers, body).await
}

async fn profile_get(
    state: State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    streamable::get(state, profile(name), headers).await
}

async fn profile_delete(
    state: State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    streamable::delete(state, profile(name), headers).await
}

async fn profile_sse(state: State<AppState>, Path(name): Path<String>) -> Response {
    legacy_sse::open(state, profile(name)).await
}

async fn profile_message(
    state: State<AppState>,
    Path(name): Path<String>,
    query: Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    legacy_sse::message(state, profile(name), query, headers, body).await
}
