//! What a session is connected to: the closed set of backends, and the one place that
//! matches on them.
//!
//! - `Child`: the session's own stdio child (the default).
//! - `Shared`: a place on the server's one shared child, through its id map.
//! - `Remote`: the session's own client session on a remote server.
//!
//! Each reports back to its session through a sink (`ChildSink` for children, `Inbound` for
//! remote servers), so neither the supervisor nor `upstream` names the relay.

use std::sync::Arc;

use bytes::Bytes;

use super::Session;
use super::aggregate::Link;
use super::shared_pool::SharedPool;
use super::spare::Handoff;
use crate::mcp::client::{Client, Inbound, SendFailure};
use crate::mcp::jsonrpc::Envelope;
use crate::supervisor::{ChildSink, ManagedChild, NotQueued};

pub(super) enum Backend {
    /// The child, and the sink it was started with when it was a warm spare (kept alive
    /// here: the child holds it weakly).
    Child(
        ManagedChild,
        #[allow(dead_code, reason = "held, not read: it keeps the spare's sink alive")]
        Option<Arc<Handoff>>,
    ),
    Shared(Arc<SharedPool>),
    Remote(Arc<Client>),
    /// A session on the aggregate endpoint: its own sessions on the servers it calls.
    Aggregate(Arc<Link>),
}

/// What became of a client message.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sent {
    Ok,
    /// No child to take it (exited, or never started).
    NotRunning,
    /// The remote server no longer knows the session: the client must initialize again.
    SessionEnded,
    /// The remote server could not take it; the text is safe to show.
    Failed(String),
}

impl Backend {
    /// The backend `session`'s server calls for, started or connected now. Secrets are read
    /// from the keychain at this moment.
    pub(super) async fn open(session: &Arc<Session>) -> crate::Result<Backend> {
        let server = &session.server;
        if let Some(aggregate) = server
            .aggregate
            .as_ref()
            .and_then(|scope| scope.aggregate())
        {
            return Ok(Backend::Aggregate(Link::open(&aggregate, session)));
        }
        if let Some(remote) = &server.remote {
            let inbound: Arc<dyn Inbound> = session.clone();
            let client = remote
                .connect(&server.secrets, Arc::downgrade(&inbound))
                .await?;
            return Ok(Backend::Remote(client));
        }
        if let Some(shared) = &server.shared {
            // Which of its children the session is on is settled by its `initialize`.
            return Ok(Backend::Shared(shared.clone()));
        }
        let spec = server.child_spec().await?;
        if let Some((child, handoff)) = server.take_spare(&spec, session) {
            return Ok(Backend::Child(child, Some(handoff)));
        }
        let sink: Arc<dyn ChildSink> = session.clone();
        let child = ManagedChild::spawn(&spec, Arc::downgrade(&sink), server.diagnostics.clone())?;
        server.note_spawn();
        Ok(Backend::Child(child, None))
    }

    pub(super) fn pid(&self) -> Option<u32> {
        match self {
            Backend::Child(child, _) => Some(child.pid()),
            Backend::Shared(_) => None,
            Backend::Remote(_) | Backend::Aggregate(_) => None,
        }
    }

    /// Forwards one client message of `session`.
    pub(super) async fn send(
        &self,
        session: &Arc<Session>,
        envelope: &Envelope<'_>,
        frame: Bytes,
    ) -> Sent {
        let running = match self {
            Backend::Child(child, _) => match child.queue(frame) {
                Ok(()) => true,
                Err(NotQueued::Gone) => false,
                Err(NotQueued::NotReading { waiting }) => {
                    return Sent::Failed(not_reading(&session.server.name, waiting));
                }
            },
            Backend::Shared(shared) => shared.forward(session, envelope, frame).await,
            Backend::Aggregate(link) => {
                link.send(envelope, frame);
                true
            }
            Backend::Remote(client) => {
                return match client.send(envelope, frame).await {
                    Ok(()) => Sent::Ok,
                    Err(SendFailure::SessionExpired) => Sent::SessionEnded,
                    Err(failure) => Sent::Failed(crate::redact::redact_error(&failure.message())),
                };
            }
        };
        if running { Sent::Ok } else { Sent::NotRunning }
    }

    /// Lets go of the backend: stops the session's own child, leaves the shared one, ends
    /// the remote session.
    pub(super) async fn close(&self, session: &Arc<Session>) {
        match self {
            Backend::Child(child, _) => {
                child.stop(session.server.stop_grace).await;
            }
            Backend::Shared(shared) => shared.detach(session),
            Backend::Remote(client) => client.close().await,
            Backend::Aggregate(link) => link.close().await,
        }
    }
}

/// What a client is told when its server has stopped reading its input.
pub(super) fn not_reading(server: &str, waiting: usize) -> String {
    format!(
        "server '{server}' is not reading its input ({} KiB wait for it, \
         switchboard.limits.maxStreamQueueBytes); try again later",
        waiting / 1024
    )
}
