//! The accept loop: every connection is served by hyper under the front door's bounds.
//!
//! A local program needs no key to open a connection, so connections are what an attacker
//! without the key can spend. Two bounds keep that from stalling the proxy:
//! - a request's headers must arrive within `headerReadTimeoutSecs`, or the connection is
//!   closed (a half-sent header is not held forever);
//! - at most `maxConnections` are open. At the bound, the oldest connection that is not in
//!   the middle of a request (still sending its headers, or idle between keep-alive
//!   requests) is closed to make room, so a flood of half-open connections churns among
//!   itself while a client that sends a whole request is served. Only when every open
//!   connection is busy with a request is a new one turned away.
//!
//! The process's open-file limit is raised to its hard limit once (Linux's soft default of
//! 1,024 is what a flood would otherwise exhaust), and running out of descriptors at
//! `accept` is logged and waited out, never fatal.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

use crate::config::Limits;

/// How long to wait before accepting again when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` resolves, then waits for the connections
/// already open to finish. `closed` fires when the listener is closed (new connections are
/// refused), which is as soon as `shutdown` has resolved.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    closed: oneshot::Sender<()>,
    limits: Limits,
) -> std::io::Result<()> {
    raise_open_file_limit();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout())
        .keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Connections::new(limits.max_connections));
    let budget = Arc::new(BodyBudget {
        limit: limits.max_buffered_body_bytes,
        held: AtomicUsize::new(0),
    });
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let tcp = match accepted {
            Ok((tcp, _peer)) => tcp,
            Err(e) => {
                // EMFILE/ENFILE and the like: the connections that hold descriptors will end
                // (by their own close, the header timeout, or eviction); try again shortly.
                log::warn!("cannot accept a connection: {e}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(admitted) = connections.admit() else {
            log::warn!(
                "refused a connection: all {} allowed connections are busy with requests (switchboard.limits.maxConnections)",
                limits.max_connections
            );
            drop(tcp);
            continue;
        };
        // Nagle plus the client's delayed ACK would hold an SSE event written just after the
        // headers for ~40 ms; a relay must not batch.
        let _ = tcp.set_nodelay(true);
        let busy = admitted.slot.busy.clone();
        let router = router.clone();
        let budget = budget.clone();
        let drain_within = limits.header_read_timeout();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let busy = Busy::start(&busy);
            let router = router.clone();
            let declared = declared_length(&request);
            let reserved = budget.reserve(declared);
            async move {
                let Some(_reserved) = reserved else {
                    // The client is likely still sending: read and drop its body (a frame at
                    // a time, never held) so it gets to read this answer, not a broken pipe.
                    if declared <= crate::mcp::protocol::MAX_MESSAGE_BYTES {
                        discard_body(request.into_body(), declared, drain_within).await;
                    }
                    return Ok(super::reply::rpc_error(
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        crate::mcp::protocol::code::SERVER_UNAVAILABLE,
                        "Switchboard is holding as many request bodies as it may \
                         (switchboard.limits.maxBufferedBodyBytes); try again shortly",
                    ));
                };
                // The handlers read the whole body before they answer: the reservation
                // holds until then.
                let response = router.oneshot(request.map(Body::new)).await?;
                // The connection stays busy until the response body is done (an SSE stream
                // can last hours), so it is never evicted mid-answer.
                Ok::<_, std::convert::Infallible>(
                    response.map(|inner| Body::new(BusyBody { inner, _busy: busy })),
                )
            }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(tcp), service));
        tokio::spawn(async move {
            // Dropping the connection's future closes it (evicted: a half-sent header, or an
            // idle keep-alive, made room for a newer connection).
            tokio::select! {
                _ = connection => {}
                () = admitted.slot.evicted.notified() => {}
            }
            drop(admitted);
        });
    }
    // Closing the listener first: new connections are refused from here on.
    drop(listener);
    let _ = closed.send(());
    graceful.shutdown().await;
    Ok(())
}

/// The open connections, oldest first, with whether each is busy with a request.
struct Connections {
    max: usize,
    open: Mutex<VecDeque<Arc<Slot>>>,
}

struct Slot {
    /// Requests in progress on this connection (0 while headers are arriving, or idle).
    busy: Arc<AtomicUsize>,
    evicted: tokio::sync::Notify,
}

/// A connection's place; dropping it frees the place.
struct Admitted {
    connections: Arc<Connections>,
    slot: Arc<Slot>,
}

impl Connections {
    fn new(max: usize) -> Connections {
        Connections {
            max: max.max(1),
            open: Mutex::new(VecDeque::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Slot>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a new connection: free, or taken from the oldest idle one. `None` when
    /// all are busy with requests.
    fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let mut open = self.lock();
        if open.len() >= self.max {
            let idle = open
                .iter()
                .position(|slot| slot.busy.load(Ordering::Acquire) == 0)?;
            if let Some(slot) = open.remove(idle) {
                slot.evicted.notify_one();
                log::debug!("closed an idle connection to make room for a new one");
            }
        }
        let slot = Arc::new(Slot {
            busy: Arc::new(AtomicUsize::new(0)),
            evicted: tokio::sync::Notify::new(),
        });
        open.push_back(slot.clone());
        Some(Admitted {
            connections: self.clone(),
            slot,
        })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.connections.lock();
        open.retain(|slot| !Arc::ptr_eq(slot, &self.slot));
    }
}

/// The bytes of request bodies held at once. A body is counted by its declared
/// `Content-Length` (a chunked body without one is bounded by the per-message limit alone).
struct BodyBudget {
    limit: usize,
    held: AtomicUsize,
}

impl BodyBudget {
    /// `None` when `bytes` more would pass the limit (one body alone always fits: the
    /// per-message limit refuses what is too big on its own, with a 413).
    fn reserve(self: &Arc<Self>, bytes: usize) -> Option<ReservedOwned> {
        let mut held = self.held.load(Ordering::Acquire);
        loop {
            if held > 0 && held.saturating_add(bytes) > self.limit {
                log::warn!(
                    "refused a request: {held} bytes of request bodies are held already (switchboard.limits.maxBufferedBodyBytes)"
                );
                return None;
            }
            match self.held.compare_exchange_weak(
                held,
                held + bytes,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(ReservedOwned(self.clone(), bytes)),
                Err(now) => held = now,
            }
        }
    }
}

/// A body's share of the budget, given back on drop.
struct ReservedOwned(Arc<BodyBudget>, usize);

impl Drop for ReservedOwned {
    fn drop(&mut self) {
        self.0.held.fetch_sub(self.1, Ordering::AcqRel);
    }
}

/// Reads `body` to its end and drops it, for at most `limit` bytes and `within`.
async fn discard_body(mut body: Incoming, limit: usize, within: std::time::Duration) {
    use http_body::Body as _;
    let mut seen = 0usize;
    let drain = async {
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
        {
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > limit {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(within, drain).await;
}

fn declared_length(request: &hyper::Request<Incoming>) -> usize {
    request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A response body that keeps its connection marked busy until it is done or dropped. It
/// forwards the size hint, so a JSON answer keeps its `Content-Length` (no chunking).
struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl http_body::Body for BusyBody {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// One request in progress on a connection.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn start(busy: &Arc<AtomicUsize>) -> Busy {
        busy.fetch_add(1, Ordering::AcqRel);
        Busy(busy.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Raises the soft limit on open files to the hard limit, once per process.
fn raise_open_file_limit() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            use nix::sys::resource::{Resource, getrlimit, setrlimit};
            if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
                && soft < hard
            {
                match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
                    Ok(()) => log::debug!("raised the open-file limit from {soft} to {hard}"),
                    Err(e) => log::debug!("cannot raise the open-file limit: {e}"),
                }
            }
        });
    }
}
