//! A queue of frames bounded by the bytes waiting in it, for the places where a producer
//! must never wait and a consumer may be slow or stalled: a child's output on its way to a
//! client's HTTP stream (one child may serve many sessions, so it cannot be held up by the
//! slowest), and client messages on their way to a child's stdin.
//!
//! The bound is on what is *already waiting*: a frame is refused only when the bytes queued
//! before it reach the limit. So one message of any size (up to the 64 MiB message limit)
//! always gets through to a consumer that keeps up, and a queue never holds more than the
//! limit plus one message.
//!
//! What happens at the bound is the caller's choice: [`FrameTx::send_or_cut`] ends the
//! stream (the consumer sees its end, everything queued is freed at once); [`FrameTx::send`]
//! only refuses the one frame; [`FrameTx::force`] queues it and the producer waits with
//! [`FrameTx::room`] before making more (backpressure, for a producer that serves only
//! this consumer).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use tokio::sync::Notify;

/// A queue that holds at most `limit` bytes before refusing more (see the module docs).
pub fn channel(limit: usize) -> (FrameTx, FrameRx) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            bytes: 0,
            senders: 1,
            receiver: true,
            cut: false,
        }),
        wake: Notify::new(),
        room: Notify::new(),
        limit,
    });
    (
        FrameTx {
            shared: shared.clone(),
        },
        FrameRx { shared },
    )
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the one receiver; a wake with nobody waiting is kept as a permit, so none is
    /// lost between its check and its wait.
    wake: Notify,
    /// Wakes producers waiting in [`FrameTx::room`].
    room: Notify,
    limit: usize,
}

struct State {
    /// Each frame with whether it counts against the limit (refills do not).
    frames: VecDeque<(Bytes, bool)>,
    /// Total length of the counted `frames`.
    bytes: usize,
    senders: usize,
    receiver: bool,
    /// The stream was ended for falling too far behind.
    cut: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why a frame was not queued; it comes back to the caller.
#[derive(Debug)]
pub enum Refused {
    /// The receiver is gone, or the stream was cut before.
    Closed(Bytes),
    /// `waiting` bytes were queued already, at or past the limit.
    Full { frame: Bytes, waiting: usize },
}

impl Refused {
    pub fn into_frame(self) -> Bytes {
        match self {
            Refused::Closed(frame) | Refused::Full { frame, .. } => frame,
        }
    }
}

/// The sending side; clones send into the same queue.
pub struct FrameTx {
    shared: Arc<Shared>,
}

impl FrameTx {
    /// Queues `frame`, or refuses it when the receiver is gone or the queue is full. A full
    /// queue stays open: later frames are taken once the receiver catches up.
    pub fn send(&self, frame: Bytes) -> Result<(), Refused> {
        self.push(frame, false)
    }

    /// Queues `frame`; when the queue is full, the stream is cut instead: what is queued is
    /// dropped, the receiver sees the end, and every later send is refused as closed.
    /// [`Refused::Full`] is returned once, at the cut, so the caller can say why.
    pub fn send_or_cut(&self, frame: Bytes) -> Result<(), Refused> {
        self.push(frame, true)
    }

    fn push(&self, frame: Bytes, cut_when_full: bool) -> Result<(), Refused> {
        let mut state = self.shared.lock();
        if !state.receiver || state.cut {
            return Err(Refused::Closed(frame));
        }
        if state.bytes > 0 && state.bytes >= self.shared.limit {
            let waiting = state.bytes;
            if cut_when_full {
                state.cut = true;
                state.frames = VecDeque::new();
                state.bytes = 0;
                drop(state);
                self.shared.wake.notify_one();
                self.shared.room.notify_waiters();
            }
            return Err(Refused::Full { frame, waiting });
        }
        state.bytes += frame.len();
        state.frames.push_back((frame, true));
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Queues `frame` whatever is waiting, and without counting it against the limit: for
    /// frames that were held elsewhere already, under that place's own bound (answers kept
    /// for resumption, a session's backlog), moving to the stream that is to carry them.
    /// Dropped when the stream is closed.
    pub fn refill(&self, frame: Bytes) {
        let mut state = self.shared.lock();
        if state.receiver && !state.cut {
            state.frames.push_back((frame, false));
            drop(state);
            self.shared.wake.notify_one();
        }
    }

    /// Queues `frame` whatever is waiting (refused only when closed); the producer should
    /// then wait for [`FrameTx::room`] before it makes more.
    pub fn force(&self, frame: Bytes) -> Result<(), Refused> {
        let mut state = self.shared.lock();
        if !state.receiver || state.cut {
            return Err(Refused::Closed(frame));
        }
        state.bytes += frame.len();
        state.frames.push_back((frame, true));
        drop(state);
        self.shared.wake.notify_one();
        Ok(())
    }

    /// True when the bytes waiting have reached the limit (and the queue is open).
    pub fn is_full(&self) -> bool {
        let state = self.shared.lock();
        state.receiver && !state.cut && state.bytes >= self.shared.limit
    }

    /// Waits until the queue is under its limit again, or closed.
    pub async fn room(&self) {
        loop {
            let notified = self.shared.room.notified();
            tokio::pin!(notified);
            // Registered before the check, so a wake between the two is not lost.
            notified.as_mut().enable();
            if !self.is_full() {
                return;
            }
            notified.await;
        }
    }

    /// True once nothing more can be sent: the receiver is gone or the stream was cut.
    pub fn is_closed(&self) -> bool {
        let state = self.shared.lock();
        !state.receiver || state.cut
    }
}

impl Clone for FrameTx {
    fn clone(&self) -> Self {
        self.shared.lock().senders += 1;
        FrameTx {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for FrameTx {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.senders -= 1;
        let last = state.senders == 0;
        drop(state);
        if last {
            self.shared.wake.notify_one();
        }
    }
}

/// The receiving side. Dropping it frees whatever is still queued.
pub struct FrameRx {
    shared: Arc<Shared>,
}

/// Why [`FrameRx::try_recv`] has nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum TryRecvError {
    Empty,
    /// Every sender is gone (or the stream was cut) and nothing is left.
    Ended,
}

impl FrameRx {
    /// The next frame, waiting for one; `None` once every sender is gone and the queue is
    /// drained, or at once when the stream was cut. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Bytes> {
        loop {
            match self.try_recv() {
                Ok(frame) => return Some(frame),
                Err(TryRecvError::Ended) => return None,
                Err(TryRecvError::Empty) => self.shared.wake.notified().await,
            }
        }
    }

    pub fn try_recv(&mut self) -> Result<Bytes, TryRecvError> {
        let mut state = self.shared.lock();
        if state.cut {
            return Err(TryRecvError::Ended);
        }
        match state.frames.pop_front() {
            Some((frame, counted)) => {
                if counted {
                    let was_full = state.bytes >= self.shared.limit;
                    state.bytes -= frame.len();
                    if was_full && state.bytes < self.shared.limit {
                        self.shared.room.notify_waiters();
                    }
                }
                Ok(frame)
            }
            None if state.senders == 0 => Err(TryRecvError::Ended),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl Drop for FrameRx {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.receiver = false;
        state.frames = VecDeque::new();
        state.bytes = 0;
        drop(state);
        self.shared.room.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![b'x'; n])
    }

    #[test]
    fn one_frame_of_any_size_gets_into_an_empty_queue() {
        let (tx, mut rx) = channel(10);
        tx.send(frame(1000)).expect("an empty queue takes anything");
        assert_eq!(rx.try_recv().map(|f| f.len()), Ok(1000));
    }

    #[test]
    fn a_full_queue_refuses_until_the_receiver_catches_up() {
        let (tx, mut rx) = channel(10);
        tx.send(frame(6)).expect("room");
        tx.send(frame(6)).expect("6 waiting is under the limit");
        match tx.send(frame(1)) {
            Err(Refused::Full { waiting: 12, .. }) => {}
            other => panic!("expected Full with 12 waiting, got {other:?}"),
        }
        assert!(!tx.is_closed(), "a plain send does not cut");
        rx.try_recv().expect("first");
        tx.send(frame(1)).expect("room again");
        assert_eq!(rx.try_recv().map(|f| f.len()), Ok(6));
        assert_eq!(rx.try_recv().map(|f| f.len()), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }

    #[test]
    fn a_cut_stream_frees_its_frames_and_ends() {
        let (tx, mut rx) = channel(10);
        let other = tx.clone();
        tx.send_or_cut(frame(20)).expect("room");
        assert!(matches!(
            tx.send_or_cut(frame(1)),
            Err(Refused::Full { waiting: 20, .. })
        ));
        assert!(tx.is_closed() && other.is_closed());
        assert!(matches!(other.send(frame(1)), Err(Refused::Closed(_))));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Ended));
        assert_eq!(
            tx.shared.lock().bytes,
            0,
            "the queued frames are freed at the cut"
        );
    }

    #[test]
    fn the_stream_ends_when_the_last_sender_goes() {
        let (tx, mut rx) = channel(10);
        let second = tx.clone();
        tx.send(frame(1)).expect("room");
        drop(tx);
        assert!(rx.try_recv().is_ok());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(second);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Ended));
    }

    #[test]
    fn refilled_frames_do_not_count_against_the_limit() {
        let (tx, mut rx) = channel(10);
        tx.refill(frame(100));
        tx.send_or_cut(frame(5))
            .expect("the refill does not fill the queue");
        assert_eq!(rx.try_recv().map(|f| f.len()), Ok(100));
        assert_eq!(rx.try_recv().map(|f| f.len()), Ok(5));
        assert_eq!(tx.shared.lock().bytes, 0);
    }

    #[test]
    fn sends_fail_once_the_receiver_is_gone() {
        let (tx, rx) = channel(10);
        drop(rx);
        assert!(tx.is_closed());
        assert!(matches!(tx.send(frame(1)), Err(Refused::Closed(_))));
    }

    #[tokio::test]
    async fn a_producer_waits_for_room_until_the_receiver_reads_or_goes() {
        let (tx, mut rx) = channel(10);
        tx.force(frame(30)).expect("open");
        assert!(tx.is_full());
        let tx2 = tx.clone();
        let waiter = tokio::spawn(async move { tx2.room().await });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        rx.try_recv().expect("the frame");
        waiter.await.expect("woken by the read");

        tx.force(frame(30)).expect("open");
        let tx3 = tx.clone();
        let waiter = tokio::spawn(async move { tx3.room().await });
        drop(rx);
        waiter.await.expect("woken by the receiver going");
        assert!(matches!(tx.force(frame(1)), Err(Refused::Closed(_))));
    }

    #[tokio::test]
    async fn a_waiting_receiver_wakes_for_a_frame_and_for_the_end() {
        let (tx, mut rx) = channel(10);
        let waiter = tokio::spawn(async move {
            let first = rx.recv().await;
            let end = rx.recv().await;
            (first, end)
        });
        tokio::task::yield_now().await;
        tx.send(frame(3)).expect("room");
        drop(tx);
        let (first, end) = waiter.await.expect("the receiver task");
        assert_eq!(first.map(|f| f.len()), Some(3));
        assert_eq!(end, None);
    }
}
