//! Server-sent event bodies: one `message` event per JSON-RPC frame, keep-alive comments
//! while idle, and a hook that runs when the client goes away.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream;

use crate::relay::StreamRx;

/// Runs its closure when the stream is dropped: the client disconnected or the stream ended.
pub struct OnDrop(Option<Box<dyn FnOnce() + Send>>);

impl OnDrop {
    pub fn new(f: impl FnOnce() + Send + 'static) -> Self {
        OnDrop(Some(Box::new(f)))
    }
}

impl Drop for OnDrop {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

struct StreamState {
    rx: StreamRx,
    first: Option<Bytes>,
    keep_alive: tokio::time::Interval,
    _on_drop: Option<OnDrop>,
}

/// One SSE event carrying a JSON-RPC frame (which never contains a newline).
pub fn message_event(frame: &[u8]) -> Bytes {
    let mut event = BytesMut::with_capacity(frame.len() + 24);
    event.put_slice(b"event: message\ndata: ");
    event.put_slice(frame);
    event.put_slice(b"\n\n");
    event.freeze()
}

/// An SSE response streaming `rx` until it closes. `first` is sent before anything else.
pub fn response(
    rx: StreamRx,
    first: Option<Bytes>,
    keep_alive: Duration,
    on_drop: Option<OnDrop>,
) -> Response {
    let start = tokio::time::Instant::now() + keep_alive;
    let state = StreamState {
        rx,
        first,
        keep_alive: tokio::time::interval_at(start, keep_alive),
        _on_drop: on_drop,
    };
    let events = stream::unfold(state, |mut state| async move {
        if let Some(first) = state.first.take() {
            return Some((Ok::<_, std::convert::Infallible>(first), state));
        }
        tokio::select! {
            biased;
            frame = state.rx.recv() => frame.map(|f| (Ok(message_event(&f)), state)),
            _ = state.keep_alive.tick() => Some((Ok(Bytes::from_static(b": keep-alive\n\n")), state)),
        }
    });
    let mut response = Response::new(Body::from_stream(events));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}
