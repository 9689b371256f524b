//! The crate's one error type.

use std::path::PathBuf;

use crate::secrets::{InvalidSecretName, SecretError};
use crate::url_policy::query_key::QueryAuthError;

/// Everything that can go wrong in core, each variant with enough context to act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The config file is not valid JSON or does not have the expected shape.
    #[error("{path}:{line}:{column}: {message}")]
    ConfigSyntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The config file parsed but says something impossible.
    #[error("{path}: {message}")]
    ConfigInvalid { path: PathBuf, message: String },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The proxy's port could not be bound.
    #[error(
        "cannot listen on 127.0.0.1:{port}: {source} (is another Switchboard running? choose another port with --port)"
    )]
    Bind {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// A child process could not be started.
    #[error("cannot start server '{server}' ({program}): {source}")]
    Spawn {
        server: String,
        program: String,
        #[source]
        source: std::io::Error,
    },
    /// A secret a server needs could not be read.
    #[error("server '{server}' needs the secret '{secret}': {message}")]
    Secret {
        server: String,
        secret: String,
        message: String,
    },
    /// A remote server could not be reached or refused the connection. The text is
    /// redacted and never carries the upstream's own error body.
    #[error("remote server '{server}': {message}")]
    Upstream { server: String, message: String },
    /// The key check cannot be turned on: the proxy was started without a key.
    #[error(
        "cannot require the API key: this Switchboard was started without one (--insecure-no-auth, or no keychain to keep it in); set \"requireApiKey\" back to true in the config and start it again with a key (from the keychain, --api-key or SWITCHBOARD_API_KEY)"
    )]
    NoApiKey,
    /// No config file was named and the system has no config directory to find one in.
    #[error("this system has no config directory; pass --config PATH or set SWITCHBOARD_CONFIG")]
    NoConfigPath,
    /// A port given at launch is not a port number.
    #[error("{source_name}: '{value}' is not a port number (0 to 65535)")]
    BadPort {
        /// `SWITCHBOARD_PORT` (clap checks `--port` itself).
        source_name: &'static str,
        value: String,
    },
    /// An explicit API key cannot be used. The key itself is never in the message.
    #[error("{source_name}: {problem}")]
    BadApiKey {
        /// `--api-key` or `SWITCHBOARD_API_KEY`.
        source_name: &'static str,
        problem: crate::startup::ApiKeyProblem,
    },
    /// A bound of `switchboard.limits` was reached; nothing was started.
    #[error(
        "Switchboard is at its limit of {limit} {what} (switchboard.limits.{setting}); close some and try again, or raise the limit"
    )]
    LimitReached {
        what: &'static str,
        setting: &'static str,
        limit: usize,
    },
    /// No server of that name is configured.
    #[error("no server named '{0}'")]
    UnknownServer(String),
    /// No profile of that name is configured.
    #[error("no profile named '{0}'")]
    UnknownProfile(String),
    /// The keychain could not be reached or refused an operation (for a server's secret,
    /// or for the API key at launch).
    #[error(transparent)]
    Keychain(#[from] SecretError),
    /// A name that cannot be a secret's (malformed, or one Switchboard keeps for itself).
    #[error(transparent)]
    SecretName(#[from] InvalidSecretName),
    /// A query-parameter key may not be sent where the server asks: the setting is off, or
    /// the origin is not on the allowlist. Says how to fix it.
    #[error("server '{server}': {source}")]
    QueryAuth {
        server: String,
        #[source]
        source: QueryAuthError,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
