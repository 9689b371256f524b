//! The client side of MCP authorization (OAuth 2.1, as the 2025-11-25 and 2026-07-28 specs
//! define it), for remote servers whose `auth.type` is `oauth`:
//!
//! - `challenge`: the 401's `WWW-Authenticate` (`resource_metadata`, `scope`, `error`);
//! - `discovery`: protected resource metadata (RFC 9728), authorization server metadata
//!   (RFC 8414, OpenID Connect discovery), the 2025-03-26 fallbacks, the issuer check;
//! - `flow`: the client identity (configured, metadata document, dynamic registration),
//!   authorization code with PKCE S256, `resource` (RFC 8707), `state`, RFC 9207 `iss`,
//!   refresh and client credentials;
//! - `callback`: the loopback redirect listener (RFC 8252);
//! - `store`: the tokens in the keychain (`oauth:<server>`), keyed by issuer;
//! - `authorizer`: a server's token while it runs: refreshed before expiry (by the wall
//!   clock, so also after the computer slept), after a 401, and "needs sign-in" when the
//!   authorization server refuses.
//!
//! **Layering:** names `secrets`, `sensitive`, `redact` and `url_policy`; never the config
//! (the caller maps its entry to [`Settings`]) nor the protocol client.

mod authorizer;
pub mod callback;
pub mod challenge;
pub mod discovery;
pub mod fetch;
pub mod flow;
mod jwt;
pub mod store;

pub use authorizer::{AuthState, AuthStatus, Authorizer};
pub use challenge::Challenge;
pub use fetch::OAuthHttp;
pub use flow::{Context, SignIn};
pub use store::TokenStore;

use url::Url;

use crate::sensitive::Sensitive;

/// The grant a server is used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grant {
    /// A person signs in in the browser.
    #[default]
    AuthorizationCode,
    /// Machine to machine: the configured client's own credentials.
    ClientCredentials,
}

/// A server's OAuth settings, from its config entry, its client secret read.
#[derive(Clone, Default)]
pub struct Settings {
    /// A client registered with the authorization server beforehand.
    pub client_id: Option<String>,
    pub client_secret: Option<Sensitive<String>>,
    /// That client's private key (PKCS#8 PEM, P-256): `private_key_jwt` (RFC 7523).
    pub client_key: Option<Sensitive<String>>,
    /// The https URL of a client ID metadata document describing Switchboard, used as the
    /// `client_id` where the authorization server accepts those.
    pub client_metadata_url: Option<Url>,
    /// Scopes to ask for instead of the server's.
    pub scope: Option<String>,
    pub grant: Grant,
}

/// Why OAuth could not go on. Every message is safe to show: no token, secret, code or
/// URL query is ever in one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// A person must sign in (again): no tokens, or the authorization server refused them.
    #[error("sign-in needed: {0}")]
    NeedsSignIn(String),
    /// A rule of the spec or of Switchboard's was broken; not retried.
    #[error("{0}")]
    Refused(String),
    /// The authorization server or the server could not be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The keychain failed or holds something unreadable.
    #[error("keychain: {0}")]
    Keychain(String),
    #[error("{0}")]
    Failed(String),
}

/// The requests sign-in sends to learn the server's challenge: an `initialize`, which every
/// MCP server answers (with 401 when it wants a token), then, for a server that lets the
/// handshake through without one, an ordinary request.
pub(crate) const PROBE_REQUESTS: [&str; 2] = [
    r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"switchboard","version":"0"}}}"#,
    r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#,
];
pub(crate) const PROBE_VERSION: &str = "2025-11-25";
/// The header every MCP request after the handshake carries (the `mcp` layer's constant is
/// not named from here: this module stays below the protocol client).
pub(crate) const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
