//! The protocol's names and numbers, defined once: header names, the versions served, and
//! the JSON-RPC error codes Switchboard itself answers with.

/// The session header of the session-based era (header names are case-insensitive; these
/// are the spec's spellings, lowercased as HTTP/2 wants them).
pub const SESSION_HEADER: &str = "mcp-session-id";
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
/// Sent by a client that resumes an SSE stream.
pub const LAST_EVENT_ID_HEADER: &str = "last-event-id";

/// The session-based protocol versions (2024-11-05 … 2025-11-25), oldest first.
pub const SESSION_PROTOCOL_VERSIONS: &[&str] =
    &["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// The newest session-based version: what Switchboard offers when it is the client.
pub const LATEST_SESSION_VERSION: &str = "2025-11-25";
/// The stateless protocol's versions (no `initialize`, no session), oldest first.
pub const MODERN_PROTOCOL_VERSIONS: &[&str] = &["2026-07-28"];
/// The newest stateless version.
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";
/// The first version whose SSE streams are primed and resumable with `Last-Event-ID`.
pub const RESUMABLE_STREAMS_SINCE: &str = "2025-11-25";

/// The largest message Switchboard takes in either direction, unless configured otherwise:
/// a JSON-RPC frame on stdio, an HTTP body, one SSE event.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Whether `version` (a `YYYY-MM-DD` date) is `since` or later. Dates compare as text.
pub fn is_at_least(version: &str, since: &str) -> bool {
    version.len() == since.len() && version >= since
}

/// JSON-RPC error codes Switchboard answers with: the standard ones, and the server-error
/// range's codes it defines (-32000 to -32099 are implementation-defined).
pub mod code {
    pub const PARSE_ERROR: i32 = -32700;
    pub const INVALID_REQUEST: i32 = -32600;
    pub const METHOD_NOT_FOUND: i32 = -32601;
    pub const INVALID_PARAMS: i32 = -32602;
    pub const INTERNAL_ERROR: i32 = -32603;
    /// The upstream server (child or remote) is unavailable.
    pub const SERVER_UNAVAILABLE: i32 = -32000;
    /// The request lacks the proxy's API key.
    pub const UNAUTHORIZED: i32 = -32001;
    /// 2026-07-28: a header does not match the body (or is missing).
    pub const HEADER_MISMATCH: i32 = -32020;
    /// 2026-07-28: the request needs a client capability it did not declare.
    pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i32 = -32021;
    /// 2026-07-28: the protocol version is not served; `data.supported` lists those that are.
    pub const UNSUPPORTED_PROTOCOL_VERSION: i32 = -32022;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_dates() {
        assert!(is_at_least("2025-11-25", RESUMABLE_STREAMS_SINCE));
        assert!(is_at_least("2026-07-28", RESUMABLE_STREAMS_SINCE));
        assert!(!is_at_least("2025-06-18", RESUMABLE_STREAMS_SINCE));
        assert!(!is_at_least("garbage", RESUMABLE_STREAMS_SINCE));
        assert!(SESSION_PROTOCOL_VERSIONS.ends_with(&[LATEST_SESSION_VERSION]));
    }
}
