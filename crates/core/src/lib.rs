//! Switchboard's core: everything the app does, with no GUI.
//!
//! - [`api_key`]: the local API key: generation, keychain item, constant-time check.
//! - [`config`]: the JSON config file (IDE `mcpServers` shape), atomic writes.
//! - [`supervisor`]: stdio children, their framing, stderr and stop sequence.
//! - [`relay`]: client sessions ⇄ children, raw JSON-RPC frames, the shared-child id map.
//! - [`http`]: the loopback front door (Streamable HTTP, legacy SSE, `/status`).
//! - [`demo`]: the built-in demo MCP server of the first-run config.
//! - [`secrets`]: the OS keychain, an in-memory store for tests, `Sensitive<T>`.
//! - [`startup`]: config path, port and API key from the command line and environment, for
//!   both binaries.
//! - [`Hub`]: all of it running, for the CLI and the desktop shell.
//!
//! Core never looks up OS directories: callers pass paths in, which keeps tests hermetic.

pub mod api_key;
pub mod clients;
pub mod config;
pub mod demo;
mod error;
pub mod http;
mod hub;
pub mod mcp;
pub mod oauth;
pub mod redact;
pub mod relay;
pub mod secrets;
mod sensitive;
pub mod startup;
pub mod supervisor;
pub mod upstream;
pub mod url_policy;

pub use error::{Error, Result};
/// Signing in to OAuth servers, for the shells and `switchboard login`.
pub use hub::sign_in;
pub use hub::{
    Auth, AuthDiscovery, ClientStatus, ConnectTarget, Endpoint, Hub, HubOptions, ImportPreview,
    ImportReport, Unreadable,
};
