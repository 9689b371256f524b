//! The Model Context Protocol as bytes on the wire, below everything else in core: the
//! JSON-RPC envelope, the protocol's constants, the SSE codec, and the HTTP client side.
//!
//! **Layering:** `mcp` names nothing else in this crate (a tidy test checks it), so both the
//! relay and the remote backend (and the CLI's `connect` bridge) build on it without a cycle.

pub mod client;
pub mod jsonrpc;
pub mod modern;
pub mod protocol;
pub mod queue;
pub mod sse;
pub mod stateless;
