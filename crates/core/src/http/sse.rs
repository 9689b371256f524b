//! Server-sent event bodies: one `message` event per JSON-RPC frame, keep-alive comments
//! while idle, optional event ids for resumption, and a hook that runs when the client
//! goes away.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::{BufMut, Bytes, BytesMut};
use futures::stream;

use crate::relay::StreamRx;

/// How long a client waits before reconnecting a dropped stream (the `retry:` field).
const RETRY_MS: u32 = 3000;

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

/// What goes on a stream besides its messages.
#[derive(Default)]
pub struct StreamOptions {
    /// Sent first, as is (the legacy transport's `endpoint` event).
    pub preamble: Option<Bytes>,
    /// A message that already arrived, sent before anything from the channel.
    pub first_frame: Option<Bytes>,
    /// Event ids `<stream>-<n>` on every message; with `prime`, first an event with an id and
    /// empty data plus a `retry:` field, so the client can resume with `Last-Event-ID`
    /// (2025-11-25 clients).
    pub ids: Option<EventIds>,
    /// Runs when the response body is dropped.
    pub on_drop: Option<OnDrop>,
}

/// Event ids for one stream.
pub struct EventIds {
    /// The stream's id, the part of every event id before the `-`.
    pub stream: u64,
    /// Whether to send the priming event first.
    pub prime: bool,
}

struct StreamState {
    rx: StreamRx,
    /// Events ready to go before anything from `rx`, in order.
    ready: VecDeque<Bytes>,
    /// The stream id, when events carry ids.
    ids: Option<u64>,
    /// The last event number issued (0 is the priming event).
    next: u64,
    keep_alive: tokio::time::Interval,
    _on_drop: Option<OnDrop>,
}

impl StreamState {
    fn event(&mut self, frame: &[u8]) -> Bytes {
        let mut event = BytesMut::with_capacity(frame.len() + 48);
        event.put_slice(b"event: message\n");
        if let Some(stream) = self.ids {
            self.next += 1;
            // Straight into the buffer: no String per event. (Writing to a BytesMut
            // cannot fail; it grows.)
            let _ = writeln!(event, "id: {stream}-{}", self.next);
        }
        event.put_slice(b"data: ");
        event.put_slice(frame);
        event.put_slice(b"\n\n");
        event.freeze()
    }
}

/// The stream id in a `Last-Event-ID` this proxy issued (`<stream>-<n>`).
pub fn resumed_stream(last_event_id: &str) -> Option<u64> {
    last_event_id.split_once('-')?.0.parse().ok()
}

/// An SSE response streaming `rx` until it closes.
pub fn response(rx: StreamRx, options: StreamOptions, keep_alive: Duration) -> Response {
    let start = tokio::time::Instant::now() + keep_alive;
    let mut state = StreamState {
        rx,
        ready: VecDeque::new(),
        ids: options.ids.as_ref().map(|ids| ids.stream),
        next: 0,
        keep_alive: tokio::time::interval_at(start, keep_alive),
        _on_drop: options.on_drop,
    };
    state.ready.extend(options.preamble);
    if let Some(ids) = options.ids.filter(|ids| ids.prime) {
        state.ready.push_back(Bytes::from(format!(
            "id: {}-0\nretry: {RETRY_MS}\ndata: \n\n",
            ids.stream
        )));
    }
    if let Some(frame) = options.first_frame {
        let event = state.event(&frame);
        state.ready.push_back(event);
    }
    let events = stream::unfold(state, |mut state| async move {
        if let Some(ready) = state.ready.pop_front() {
            return Some((Ok::<_, std::convert::Infallible>(ready), state));
        }
        tokio::select! {
            biased;
            frame = state.rx.recv() => frame.map(|f| (Ok(state.event(&f)), state)),
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

#[cfg(test)]
mod tests {
    use super::resumed_stream;

    #[test]
    fn last_event_ids_name_their_stream() {
        assert_eq!(resumed_stream("7-3"), Some(7));
        assert_eq!(resumed_stream("12-0"), Some(12));
        assert_eq!(resumed_stream("7"), None);
        assert_eq!(resumed_stream("-3"), None);
        assert_eq!(resumed_stream("abc-3"), None);
    }
}
