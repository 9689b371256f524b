//! The warm spare: one child started ahead of need for a server that clients are using, so
//! the next session's `initialize` is answered by a process that has already loaded
//! (a Node or Python server spends most of its cold start there, before it reads stdin).
//!
//! - A spare is started when a client session takes a child of its own (the spare, or a
//!   cold one), so a server in use always has one waiting; never for a server no client
//!   has used, for shared or remote servers, or for the aggregate's catalogue sessions.
//! - It is a plain spawn of the server's command, not initialized: the client's own
//!   `initialize` is the first request it gets besides one `ping`, which the spec allows
//!   before `initialize` and which runs the server's read-parse-answer path once, so the
//!   client's `initialize` does not pay for its first use (lazily loaded code, a JIT).
//!   The ping's answer is Switchboard's and never reaches the client.
//! - It is started a moment after the session that called for it ([`SPARE_DELAY`]), so
//!   its own cold start does not compete for the CPU with that session's first answers.
//! - A spare that waits `spareIdleSecs` (default 600 s; 0 turns spares off) with no new
//!   session is stopped. It counts against `maxChildren`, and none is started at the
//!   limit.
//! - Its environment was resolved when it started: a spare whose spec no longer matches
//!   (a secret changed in the keychain since) is stopped and a fresh child is started.
//!
//! The cost is one idle process per server in use: for `server-everything` about the
//! memory of one session's child (BENCHMARKS.md).

use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::{ServerRelay, Session};
use crate::supervisor::{ChildSink, ChildSpec, ExitInfo, FrameRejected, ManagedChild};

/// The `ping` a spare gets at once; its answer is dropped.
const WARM_UP_ID: &str = "sb-spare-warm-up";

/// How long after a session takes a child the next spare is started.
pub(super) const SPARE_DELAY: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether `frame` is the answer to the warm-up ping.
fn is_warm_up_answer(frame: &[u8]) -> bool {
    crate::mcp::jsonrpc::Envelope::parse(frame).is_ok_and(|e| {
        e.kind == crate::mcp::jsonrpc::Kind::Response
            && e.id_key() == Some(&format!("\"{WARM_UP_ID}\""))
    })
}

/// What a spare says before a session takes it is kept, up to this many lines (a server
/// that talks before it is asked is rare; one that floods is cut).
const EARLY_FRAMES: usize = 64;

/// A spare child, ready for a session.
pub(super) struct Spare {
    pub(super) child: ManagedChild,
    pub(super) handoff: Arc<Handoff>,
    /// The spec it was started with, as a digest (its environment may hold secrets).
    spec: [u8; 32],
    /// Which spare this is, so the quiet-period timer stops only its own.
    generation: u64,
}

/// The spare's sink: it holds what the child says until a session takes the child, then
/// hands everything on to that session.
#[derive(Default)]
pub(super) struct Handoff {
    session: OnceLock<Weak<Session>>,
    early: Mutex<Vec<Bytes>>,
    exited: Mutex<Option<ExitInfo>>,
    warmed_up: std::sync::atomic::AtomicBool,
}

impl Handoff {
    /// From now on the child speaks to `session`; what it said before goes first.
    fn hand_to(&self, session: &Arc<Session>) {
        let mut early = lock(&self.early);
        let _ = self.session.set(Arc::downgrade(session));
        for frame in early.drain(..) {
            let _ = ChildSink::on_frame(&**session, frame);
        }
    }

    fn session(&self) -> Option<Arc<Session>> {
        self.session.get().and_then(Weak::upgrade)
    }
}

impl ChildSink for Handoff {
    fn on_frame(&self, frame: Bytes) -> Result<(), FrameRejected> {
        // Only until the warm-up answer came, and only a frame that names it is parsed.
        if !self.warmed_up.load(std::sync::atomic::Ordering::Relaxed)
            && memchr::memmem::find(&frame, WARM_UP_ID.as_bytes()).is_some()
            && is_warm_up_answer(&frame)
        {
            self.warmed_up
                .store(true, std::sync::atomic::Ordering::Relaxed);
            return Ok(());
        }
        {
            let mut early = lock(&self.early);
            if self.session.get().is_none() {
                if early.len() < EARLY_FRAMES {
                    early.push(frame);
                }
                return Ok(());
            }
        }
        match self.session() {
            Some(session) => ChildSink::on_frame(&*session, frame),
            None => Ok(()),
        }
    }

    fn room(&self) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>> {
        self.session()?.room()
    }

    fn on_exit(&self, exit: &ExitInfo) {
        match self.session() {
            Some(session) => session.on_exit(exit),
            None => *lock(&self.exited) = Some(exit.clone()),
        }
    }
}

fn digest(spec: &ChildSpec) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(spec.program.as_bytes());
    for arg in &spec.args {
        field(arg.as_bytes());
    }
    field(b"--env--");
    for (key, value) in &spec.env {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    field(
        spec.cwd
            .as_deref()
            .map(|p| p.as_os_str().as_encoded_bytes())
            .unwrap_or(b""),
    );
    field(
        spec.path
            .as_deref()
            .map(|p| p.as_encoded_bytes())
            .unwrap_or(b""),
    );
    hash.finalize().into()
}

impl ServerRelay {
    /// The spare, for `session`, if there is one that is alive and was started with
    /// `spec`. One that is not is stopped.
    pub(super) fn take_spare(
        &self,
        spec: &ChildSpec,
        session: &Arc<Session>,
    ) -> Option<(ManagedChild, Arc<Handoff>)> {
        let spare = lock(&self.spare).take()?;
        let dead = spare.child.has_exited() || lock(&spare.handoff.exited).is_some();
        if dead || spare.spec != digest(spec) {
            log::debug!(
                "server '{}': the spare (pid {}) is {}; starting a fresh child",
                self.name,
                spare.child.pid(),
                if dead { "gone" } else { "out of date" }
            );
            let grace = self.stop_grace;
            tokio::spawn(async move { spare.child.stop(grace).await });
            return None;
        }
        spare.handoff.hand_to(session);
        log::debug!(
            "server '{}': session {} takes the warm spare (pid {})",
            self.name,
            super::session::short(&session.id),
            spare.child.pid()
        );
        Some((spare.child, spare.handoff))
    }

    pub(super) fn spare_pid(&self) -> Option<u32> {
        lock(&self.spare).as_ref().map(|s| s.child.pid())
    }

    /// Starts a spare in the background if there is none (and none starting), and stops
    /// it after the quiet period unless a session takes it first.
    pub(super) fn replenish_spare(self: &Arc<Self>) {
        if self.spare_idle.is_zero()
            || lock(&self.spare).is_some()
            || self
                .spare_starting
                .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let server = self.clone();
        // A spare asked for before a stop (the proxy turned off, the server changed) is
        // not started after it.
        let epoch = self.spare_epoch.load(std::sync::atomic::Ordering::Acquire);
        tokio::spawn(async move {
            tokio::time::sleep(SPARE_DELAY).await;
            let started = server.start_spare(epoch).await;
            server
                .spare_starting
                .store(false, std::sync::atomic::Ordering::Release);
            let Some(generation) = started else {
                return;
            };
            tokio::time::sleep(server.spare_idle).await;
            let idle = {
                let mut slot = lock(&server.spare);
                match &*slot {
                    Some(spare) if spare.generation == generation => slot.take(),
                    _ => None,
                }
            };
            if let Some(spare) = idle {
                log::debug!(
                    "server '{}': no new session in {} s; stopping the spare (pid {})",
                    server.name,
                    server.spare_idle.as_secs(),
                    spare.child.pid()
                );
                spare.child.stop(server.stop_grace).await;
                server.changes.send_modify(|n| *n = n.wrapping_add(1));
            }
        });
    }

    async fn start_spare(self: &Arc<Self>, epoch: u64) -> Option<u64> {
        if self.spare_epoch.load(std::sync::atomic::Ordering::Acquire) != epoch {
            return None;
        }
        let spec = match self.child_spec().await {
            Ok(spec) => spec,
            Err(e) => {
                log::debug!("server '{}': no spare: {e}", self.name);
                return None;
            }
        };
        let handoff = Arc::new(Handoff::default());
        let sink: Arc<dyn ChildSink> = handoff.clone();
        let child =
            match ManagedChild::spawn(&spec, Arc::downgrade(&sink), self.diagnostics.clone()) {
                Ok(child) => child,
                Err(e) => {
                    log::debug!("server '{}': no spare: {e}", self.name);
                    return None;
                }
            };
        self.note_spawn();
        let ping = format!(r#"{{"jsonrpc":"2.0","id":"{WARM_UP_ID}","method":"ping"}}"#);
        let _ = child.queue(Bytes::from(ping));
        let generation = self
            .spare_generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let spare = Spare {
            child,
            handoff,
            spec: digest(&spec),
            generation,
        };
        let (kept, displaced) = {
            let mut slot = lock(&self.spare);
            // Checked under the slot's lock, which `stop_spare` takes after bumping the
            // epoch: a stop that came while this one started is not missed.
            if self.spare_epoch.load(std::sync::atomic::Ordering::Acquire) == epoch {
                (true, slot.replace(spare))
            } else {
                (false, Some(spare))
            }
        };
        if let Some(old) = displaced {
            old.child.stop(self.stop_grace).await;
        }
        kept.then_some(generation)
    }

    /// Stops the spare, if any (the server is changed, removed, or Switchboard stops).
    pub(super) async fn stop_spare(&self) {
        self.spare_epoch
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        let spare = lock(&self.spare).take();
        if let Some(spare) = spare {
            spare.child.stop(self.stop_grace).await;
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
