//! The IPC commands the UI calls: short adapters over the Hub. Each one is also listed in
//! `src-tauri/build.rs` (ACL) and in a capability file.

use serde::Serialize;
use tauri::State;

use crate::hub::{HubSlot, Snapshot};

/// The one error shape the UI sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandError {
    /// Stable, for the UI to match on: `starting`, `not_running`, `stopping`.
    pub code: &'static str,
    pub message: String,
}

/// Where the proxy listens and the URLs of every enabled server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyInfo {
    /// `http://127.0.0.1:PORT`
    pub listening: String,
    pub endpoints: Vec<EndpointInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointInfo {
    pub server: String,
    /// Streamable HTTP.
    pub mcp_url: String,
    /// Legacy HTTP+SSE.
    pub sse_url: String,
}

#[tauri::command]
pub fn proxy_info(hub: State<'_, HubSlot>) -> Result<ProxyInfo, CommandError> {
    match hub.snapshot() {
        Snapshot::Running {
            listening,
            endpoints,
        } => Ok(ProxyInfo {
            listening,
            endpoints: endpoints
                .into_iter()
                .map(|e| EndpointInfo {
                    server: e.server,
                    mcp_url: e.mcp_url,
                    sse_url: e.sse_url,
                })
                .collect(),
        }),
        Snapshot::Starting => Err(CommandError {
            code: "starting",
            message: "the proxy is starting".into(),
        }),
        Snapshot::Failed(message) => Err(CommandError {
            code: "not_running",
            message,
        }),
        Snapshot::Stopping => Err(CommandError {
            code: "stopping",
            message: "Switchboard is shutting down".into(),
        }),
    }
}
