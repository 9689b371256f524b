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
mod sse;
mod status;
mod streamable;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

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

/// Serves `router` on `listener` until `shutdown` resolves. `closed` fires when the
/// listener is closed (new connections are refused), which is as soon as `shutdown` has
/// resolved, before the connections already open have finished.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    closed: oneshot::Sender<()>,
) -> std::io::Result<()> {
    let listener = Announced {
        inner: listener,
        _closed: SendOnDrop(Some(closed)),
    };
    // Nagle plus the client's delayed ACK would hold an SSE event written just after the
    // headers for ~40 ms; a relay must not batch.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A listener that says when it is closed: axum drops it as soon as it stops accepting.
/// Fields drop in declaration order, so the socket is closed before the signal goes out.
struct Announced {
    inner: TcpListener,
    /// Kept only for its `Drop`.
    _closed: SendOnDrop,
}

struct SendOnDrop(Option<oneshot::Sender<()>>);

impl Drop for SendOnDrop {
    fn drop(&mut self) {
        if let Some(closed) = self.0.take() {
            let _ = closed.send(());
        }
    }
}

impl axum::serve::Listener for Announced {
    type Io = TcpStream;
    type Addr = SocketAddr;

    fn accept(&mut self) -> impl Future<Output = (TcpStream, SocketAddr)> + Send {
        axum::serve::Listener::accept(&mut self.inner)
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
