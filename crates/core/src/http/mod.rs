//! The loopback HTTP front door: every server's Streamable HTTP and legacy SSE endpoints.
//!
//! All routes are built in [`router`], so a single layer added there wraps every one of them
//! (the place for Host, Origin and key checks).

// Handlers return `Result<_, Response>`: the early-exit answer is the error, and it is
// built once per request, so its size on the stack does not matter.
#![allow(clippy::result_large_err)]

pub mod guard;
mod legacy_sse;
mod reply;
mod serve;
mod sse;
mod status;
mod streamable;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::relay::Relay;

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
            post(streamable::post)
                .get(streamable::get)
                .delete(streamable::delete),
        )
        .route("/servers/{name}/sse", get(legacy_sse::open))
        .route("/servers/{name}/messages", post(legacy_sse::message))
        .route("/servers/{name}/messages/", post(legacy_sse::message))
        .fallback(reply::not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        // Outermost: nothing is routed, parsed or spawned before the guard has passed it.
        .layer(middleware::from_fn_with_state(access, guard::guard))
        .with_state(state)
}
