//! The shared children of one `"sharing": "shared"` server: one per distinct handshake.
//!
//! A shared child sees one `initialize` and every session on it gets that answer. A server
//! may answer differently depending on what the client declared (`server-everything` lists
//! its sampling, elicitation and roots tools only to a client that can take those
//! requests) or on the version asked for. So sessions are grouped by what decides the
//! answer, the protocol version and the declared capabilities, and each group has its own
//! [`SharedChild`]: a later session gets the same answer it would get alone.
//!
//! The first group's child is the server's main one and lives as long as the server does
//! (as before). Other groups' children stop when their last session leaves. At most
//! [`MAX_GROUPS`] children run per server; past it a session joins the main child, and the
//! log says it may see that handshake's answer instead of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::Bytes;
use serde_json::Value;

use super::ServerRelay;
use super::session::Session;
use super::shared::SharedChild;
use crate::mcp::jsonrpc::{Envelope, Kind};

/// The most shared children one server runs at once.
pub const MAX_GROUPS: usize = 4;

pub struct SharedPool {
    server: Weak<ServerRelay>,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    /// (handshake key, its child); the first is the main one.
    groups: Vec<(Box<str>, Arc<SharedChild>)>,
    /// Session id → the child it is on.
    by_session: HashMap<Arc<str>, Arc<SharedChild>>,
}

impl SharedPool {
    pub fn new(server: Weak<ServerRelay>) -> Arc<SharedPool> {
        Arc::new(SharedPool {
            server,
            state: Mutex::new(PoolState::default()),
        })
    }

    /// Every running child's pid.
    pub fn pids(&self) -> Vec<u32> {
        let groups: Vec<Arc<SharedChild>> =
            self.lock().groups.iter().map(|(_, c)| c.clone()).collect();
        groups.iter().filter_map(|c| c.pid()).collect()
    }

    /// How many children run.
    pub fn running(&self) -> usize {
        self.pids().len()
    }

    /// Stops every child (at shutdown, or when the server is removed or changed). The
    /// main one stays the main one: its handshake is replayed when it starts again.
    pub async fn stop(&self, grace: crate::supervisor::StopGrace) {
        let children: Vec<Arc<SharedChild>> = {
            let mut state = self.lock();
            state.by_session.clear();
            let all = state.groups.iter().map(|(_, c)| c.clone()).collect();
            state.groups.truncate(1);
            all
        };
        for child in children {
            child.stop(grace).await;
        }
    }

    /// A session leaves its child; a child other than the main one that has no session
    /// left stops.
    pub(super) fn detach(&self, session: &Arc<Session>) {
        let (child, idle) = {
            let mut state = self.lock();
            let Some(child) = state.by_session.remove(&session.id) else {
                return;
            };
            let is_main = state
                .groups
                .first()
                .is_some_and(|(_, main)| Arc::ptr_eq(main, &child));
            let idle = !is_main
                && !state
                    .by_session
                    .values()
                    .any(|other| Arc::ptr_eq(other, &child));
            if idle {
                state.groups.retain(|(_, c)| !Arc::ptr_eq(c, &child));
            }
            (child, idle)
        };
        child.detach(session);
        if idle && let Some(server) = self.server.upgrade() {
            let grace = server.stop_grace;
            tokio::spawn(async move { child.stop(grace).await });
        }
    }

    /// Sends one client message to the child of the session's group (chosen by its
    /// `initialize`; the main child for a session that never sent one).
    pub(super) async fn forward(
        &self,
        session: &Arc<Session>,
        envelope: &Envelope<'_>,
        frame: Bytes,
    ) -> bool {
        let child =
            if envelope.kind == Kind::Request && envelope.method.as_deref() == Some("initialize") {
                self.join(session, &handshake_key(envelope))
            } else {
                let known = self.lock().by_session.get(&session.id).cloned();
                match known {
                    Some(child) => child,
                    None => self.join(session, ""),
                }
            };
        child.forward(session, envelope, frame).await
    }

    /// Puts `session` on the child for handshake `key` (started on first use).
    fn join(&self, session: &Arc<Session>, key: &str) -> Arc<SharedChild> {
        let mut state = self.lock();
        if let Some(previous) = state.by_session.remove(&session.id) {
            previous.detach(session);
        }
        let found = state
            .groups
            .iter()
            .find(|(k, _)| k.as_ref() == key || key.is_empty())
            .map(|(_, c)| c.clone());
        let child = match found {
            Some(child) => child,
            None if state.groups.len() < MAX_GROUPS => {
                let child = SharedChild::new(self.server.clone());
                state.groups.push((key.into(), child.clone()));
                child
            }
            None => {
                let name = self
                    .server
                    .upgrade()
                    .map(|s| s.name.to_string())
                    .unwrap_or_default();
                log::warn!(
                    "'{name}': {MAX_GROUPS} shared children already run for different client \
                     handshakes; this session joins the first, and may see its answer"
                );
                state.groups[0].1.clone()
            }
        };
        child.attach(session);
        state.by_session.insert(session.id.clone(), child.clone());
        child
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What decides a server's `initialize` answer: the version asked for and the declared
/// capabilities (in a canonical form: key order does not make a new group). The client's
/// name does not.
fn handshake_key(initialize: &Envelope<'_>) -> String {
    let params: Value = initialize
        .params
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .unwrap_or_default();
    let version = params["protocolVersion"].as_str().unwrap_or_default();
    format!("{version} {}", canonical(&params["capabilities"]))
}

fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Null => "{}".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(json: &str) -> String {
        handshake_key(&Envelope::parse(json.as_bytes()).unwrap())
    }

    #[test]
    fn the_handshake_key_is_the_version_and_the_capabilities_in_any_order() {
        let a = key(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{"sampling":{},"roots":{"listChanged":true}},"clientInfo":{"name":"a"}}}"#,
        );
        let b = key(
            r#"{"jsonrpc":"2.0","id":9,"method":"initialize","params":{"capabilities":{"roots":{"listChanged":true},"sampling":{}},"protocolVersion":"2025-11-25","clientInfo":{"name":"b"}}}"#,
        );
        assert_eq!(a, b);
        let plain = key(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{}}}"#,
        );
        assert_ne!(a, plain);
        let older = key(
            r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{}}}"#,
        );
        assert_ne!(plain, older);
    }
}
