//! The config file: an `mcpServers` block shaped like the IDEs' own, plus Switchboard's fields.
//!
//! ```json
//! {
//!   "mcpServers": {
//!     "time": { "command": "uvx", "args": ["mcp-server-time"], "env": {}, "sharing": "shared" }
//!   },
//!   "switchboard": { "port": 17345, "idleTimeoutSecs": 1800 }
//! }
//! ```
//!
//! Keys we do not know are kept and written back untouched, so a file shared with another tool
//! loses nothing. Deserialization is streaming (no `#[serde(flatten)]`), which keeps serde_json's
//! line and column exact for type errors as well as syntax errors.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The port `serve` binds when neither the config nor the command line names one.
pub const DEFAULT_PORT: u16 = 17345;
/// A warm spare child waits this long for a new session before it is stopped.
pub const DEFAULT_SPARE_IDLE: Duration = Duration::from_secs(10 * 60);

/// Sessions idle this long (no request, no open GET stream) are closed and their child stopped.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The whole config file.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Config {
    #[serde(rename = "mcpServers")]
    pub servers: IndexMap<String, ServerConfig>,
    #[serde(
        rename = "switchboard",
        skip_serializing_if = "ProxySettings::is_empty"
    )]
    pub proxy: ProxySettings,
    /// Top-level keys that belong to someone else.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One server entry under `mcpServers`: a local stdio server (`command`) or a remote one
/// (`url`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Values are literals or `{"secret": "NAME"}` references into the keychain.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub env: IndexMap<String, ValueSource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// A remote server's MCP endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "RemoteTransport::is_default")]
    pub transport: RemoteTransport,
    /// Extra headers for a remote server; values may be secret references.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, ValueSource>,
    #[serde(skip_serializing_if = "UpstreamAuth::is_none")]
    pub auth: UpstreamAuth,
    #[serde(skip_serializing_if = "is_true")]
    pub enabled: bool,
    #[serde(skip_serializing_if = "Sharing::is_default")]
    pub sharing: Sharing,
    /// What the aggregate endpoint (`/mcp`) puts before this server's tool and prompt names,
    /// as `<prefix>__<name>`: the server's name when absent, nothing when empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Which of the server's tools the aggregate shows and lets be called.
    #[serde(skip_serializing_if = "NameFilter::is_empty")]
    pub tools: NameFilter,
    /// Which of the server's prompts the aggregate shows and lets be got.
    #[serde(skip_serializing_if = "NameFilter::is_empty")]
    pub prompts: NameFilter,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Allow and deny lists of names, with `*` (any run of characters) and `?` (any one).
/// A name passes when the allow list is empty or one of its patterns matches, and no deny
/// pattern does: deny wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NameFilter {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl NameFilter {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    pub fn allows(&self, name: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|p| glob_matches(p, name)))
            && !self.deny.iter().any(|p| glob_matches(p, name))
    }
}

impl NameFilter {
    /// Lets `name` through (`on`) or holds it back, with the smallest change: an exact
    /// entry is added to or taken from a list. A name held back by a pattern of the deny
    /// list cannot be let through this way; the error names the pattern.
    pub fn set(&mut self, name: &str, on: bool) -> std::result::Result<(), String> {
        if on {
            self.deny.retain(|p| p != name);
            if let Some(pattern) = self.deny.iter().find(|p| glob_matches(p, name)) {
                return Err(format!(
                    "'{name}' is held back by the deny pattern '{pattern}'; change that pattern to let it through"
                ));
            }
            if !self.allows(name) {
                self.allow.push(name.to_owned());
            }
        } else if self.allows(name) {
            if self.allow.iter().any(|p| p == name) && self.allow.len() > 1 {
                self.allow.retain(|p| p != name);
            }
            if self.allows(name) {
                self.deny.push(name.to_owned());
            }
        }
        Ok(())
    }
}

/// `*` matches any run of characters (none included), `?` any one; the rest literally.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Greedy with one backtrack point: linear in practice, never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

pub use crate::secrets::{SecretName, ValueSource};

/// How Switchboard talks to a remote server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RemoteTransport {
    /// Streamable HTTP first, then the legacy HTTP+SSE transport, as the spec describes.
    #[default]
    Auto,
    StreamableHttp,
    Sse,
}

impl RemoteTransport {
    fn is_default(&self) -> bool {
        *self == RemoteTransport::Auto
    }
}

/// The credential Switchboard adds to every request to a remote server. Values are names
/// of secrets in the keychain; the file never holds the values themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
pub enum UpstreamAuth {
    #[default]
    None,
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: SecretName },
    /// Custom headers, e.g. `X-API-Key`; values literal or secret references.
    Headers {
        headers: IndexMap<String, ValueSource>,
    },
    /// `Authorization: Basic base64(username:secret)`.
    Basic {
        username: String,
        secret: SecretName,
    },
    /// The secret as a URL query parameter. Insecure (it leaks through logs and proxies):
    /// only with `allowQueryParamAuth` and an allowlisted origin.
    Query { param: String, secret: SecretName },
    /// OAuth 2.1, the MCP authorization flow: a person signs in (the window, `switchboard
    /// login`), or with `grant: client-credentials` the client's own credentials are used.
    /// Tokens live in the keychain (`oauth:<server>`), never here.
    #[serde(rename_all = "camelCase")]
    Oauth {
        /// A client registered with the authorization server beforehand; without one,
        /// Switchboard uses `clientMetadataUrl` or registers itself (RFC 7591).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// The keychain name of that client's secret, if it has one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<SecretName>,
        /// The keychain name of the client's private key (PKCS#8 PEM, P-256), for
        /// `private_key_jwt` client authentication (RFC 7523) instead of a secret.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_key: Option<SecretName>,
        /// The https URL of a client ID metadata document for Switchboard.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_metadata_url: Option<String>,
        /// Scopes to ask for instead of what the server names.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        #[serde(default, skip_serializing_if = "OAuthGrant::is_default")]
        grant: OAuthGrant,
    },
}

/// Which OAuth grant a server is used with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OAuthGrant {
    /// A person signs in in the browser.
    #[default]
    AuthorizationCode,
    /// Machine to machine: `clientId` and `clientSecret` are the credential.
    ClientCredentials,
}

impl OAuthGrant {
    fn is_default(&self) -> bool {
        *self == OAuthGrant::AuthorizationCode
    }
}

impl UpstreamAuth {
    fn is_none(&self) -> bool {
        *self == UpstreamAuth::None
    }
}

/// How HTTP sessions map onto stdio children.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sharing {
    /// Each client session gets its own child: handshake state, subscriptions and
    /// server→client requests belong to exactly one client.
    #[default]
    PerSession,
    /// One child serves every session, through an id map. For stateless tool servers.
    Shared,
}

/// Switchboard's own settings, under the `switchboard` key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxySettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Whether clients must send the API key. On unless the user turned it off; written to
    /// the file only when off.
    #[serde(rename = "requireApiKey", skip_serializing_if = "is_true")]
    pub require_api_key: bool,
    #[serde(rename = "idleTimeoutSecs", skip_serializing_if = "Option::is_none")]
    pub idle_timeout_secs: Option<u64>,
    /// How long a warm spare child waits for a new session before it is stopped; 0 turns
    /// spares off. Default [`DEFAULT_SPARE_IDLE`].
    #[serde(rename = "spareIdleSecs", skip_serializing_if = "Option::is_none")]
    pub spare_idle_secs: Option<u64>,
    /// Browser origins allowed besides loopback ones (exact `scheme://host[:port]`).
    #[serde(rename = "allowedOrigins", skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// "Allow query-parameter auth (insecure)". Checked on every outbound request.
    #[serde(rename = "allowQueryParamAuth", skip_serializing_if = "is_false")]
    pub allow_query_param_auth: bool,
    /// The exact origins query-parameter keys may be sent to.
    #[serde(
        rename = "queryParamAuthOrigins",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub query_param_auth_origins: Vec<String>,
    /// Bounds on what clients can make the proxy hold (see [`Limits`]).
    #[serde(skip_serializing_if = "Limits::is_default")]
    pub limits: Limits,
    /// Subsets of the servers, each with its own aggregate endpoint
    /// (`/profiles/<name>/mcp`) and, optionally, its own key.
    #[serde(skip_serializing_if = "IndexMap::is_empty")]
    pub profiles: IndexMap<String, Profile>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A profile: the servers one client (or project) should see, under `switchboard.profiles`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    /// The servers it carries, in this order, each with filters of its own that apply on
    /// top of the server's (a tool the server's filter hides is hidden here too).
    pub servers: IndexMap<String, ProfileServer>,
    /// Whether the profile has a key of its own (kept in the keychain), accepted on this
    /// profile's endpoints and nowhere else. The main key opens every profile.
    #[serde(rename = "ownKey", skip_serializing_if = "is_false")]
    pub own_key: bool,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One server in a profile.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProfileServer {
    /// Replaces the server's prefix in this profile (empty: no prefix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "NameFilter::is_empty")]
    pub tools: NameFilter,
    #[serde(skip_serializing_if = "NameFilter::is_empty")]
    pub prompts: NameFilter,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Bounds on every resource a client can make the proxy hold, under `switchboard.limits`.
/// Past one, the client gets a clear HTTP or JSON-RPC error and the log says which bound
/// was hit; nothing stalls. SECURITY.md says which threat each one meets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Open client connections. Past it, the oldest connection that is not in the middle
    /// of a request (a half-sent header, an idle keep-alive) is closed to make room; when
    /// every one is busy, the new one is refused.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers.
    pub header_read_timeout_secs: u64,
    /// Live client sessions on one server.
    pub max_sessions_per_server: usize,
    /// Live client sessions in all.
    pub max_sessions: usize,
    /// Running children in all (one per session by default, one per shared server).
    pub max_children: usize,
    /// Request bodies held in memory at once, in bytes (each may be up to the 64 MiB
    /// message limit). Past it, a request that declares a large body gets 503 at once,
    /// before its body is read.
    pub max_buffered_body_bytes: usize,
    /// Bytes waiting for one client stream (a POST's answer stream, a GET or legacy SSE
    /// stream) or for one child's stdin. A client stream that falls this far behind is
    /// closed (what it missed waits for resumption, within the kept-answer bounds); a child
    /// that stops reading its stdin gets no more messages, and the client an error. One
    /// message always gets through to a queue under the bound.
    pub max_stream_queue_bytes: usize,
    /// Answers kept for a client to resume a lost stream with `Last-Event-ID`, per session,
    /// by count and by bytes; past either, the oldest go.
    pub max_kept_answers: usize,
    pub max_kept_answer_bytes: usize,
    /// Messages for a session that has no stream open to take them, by count and bytes;
    /// past either, the oldest go.
    pub max_backlog_messages: usize,
    pub max_backlog_bytes: usize,
    /// Lines kept of each server's stderr and events (the log ring), and the longest line.
    pub max_log_lines: usize,
    pub max_log_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_read_timeout_secs: 10,
            max_sessions_per_server: 64,
            max_sessions: 256,
            max_children: 128,
            max_buffered_body_bytes: 256 * 1024 * 1024,
            max_stream_queue_bytes: 16 * 1024 * 1024,
            max_kept_answers: 256,
            max_kept_answer_bytes: 16 * 1024 * 1024,
            max_backlog_messages: 1024,
            max_backlog_bytes: 16 * 1024 * 1024,
            max_log_lines: 200,
            max_log_line_bytes: 4096,
        }
    }
}

impl Limits {
    fn is_default(&self) -> bool {
        *self == Limits::default()
    }

    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_secs(self.header_read_timeout_secs)
    }
}

fn is_true(b: &bool) -> bool {
    *b
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Sharing {
    fn is_default(&self) -> bool {
        *self == Sharing::PerSession
    }
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            port: None,
            require_api_key: true,
            idle_timeout_secs: None,
            spare_idle_secs: None,
            allowed_origins: Vec::new(),
            allow_query_param_auth: false,
            query_param_auth_origins: Vec::new(),
            limits: Limits::default(),
            profiles: IndexMap::new(),
            extra: Map::new(),
        }
    }
}

impl ProxySettings {
    fn is_empty(&self) -> bool {
        self.port.is_none()
            && self.require_api_key
            && self.idle_timeout_secs.is_none()
            && self.spare_idle_secs.is_none()
            && self.allowed_origins.is_empty()
            && !self.allow_query_param_auth
            && self.query_param_auth_origins.is_empty()
            && self.limits.is_default()
            && self.profiles.is_empty()
            && self.extra.is_empty()
    }

    /// How long a warm spare child waits; zero when spares are off.
    pub fn spare_idle(&self) -> Duration {
        self.spare_idle_secs
            .map_or(DEFAULT_SPARE_IDLE, Duration::from_secs)
    }

    pub fn idle_timeout(&self) -> Duration {
        self.idle_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_IDLE_TIMEOUT)
    }
}

impl ServerConfig {
    /// A remote server at `url`, transport chosen automatically, no credential.
    pub fn remote(url: impl Into<String>) -> Self {
        let mut server = ServerConfig::stdio(String::new(), Vec::<String>::new());
        server.command = None;
        server.url = Some(url.into());
        server
    }

    /// A stdio server running `command args…`, enabled, one child per session.
    /// Whether requests to this (remote) server carry a credential: an `auth`, or a header
    /// whose value comes from the keychain.
    pub fn sends_credentials(&self) -> bool {
        let secret_header = |headers: &IndexMap<String, ValueSource>| {
            headers
                .values()
                .any(|v| matches!(v, ValueSource::Secret { .. }))
        };
        !self.auth.is_none() || secret_header(&self.headers)
    }

    pub fn stdio(
        command: impl Into<String>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        ServerConfig {
            command: Some(command.into()),
            args: args.into_iter().map(Into::into).collect(),
            env: IndexMap::new(),
            cwd: None,
            url: None,
            transport: RemoteTransport::Auto,
            headers: IndexMap::new(),
            auth: UpstreamAuth::None,
            enabled: true,
            sharing: Sharing::PerSession,
            prefix: None,
            tools: NameFilter::default(),
            prompts: NameFilter::default(),
            extra: Map::new(),
        }
    }
}

impl Config {
    /// Reads and validates the file. A syntax or type error names the file, line and column.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses `text` as if read from `path` (used in error messages).
    pub fn parse(text: &str, path: &Path) -> Result<Config> {
        let config: Config = serde_json::from_str(text).map_err(|e| Error::ConfigSyntax {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        config.validate(path)?;
        Ok(config)
    }

    /// Checks what the loader checks (names, command or url, settings), for a config built
    /// or changed in memory. `path` only names the file in messages.
    pub fn check(&self, path: &Path) -> Result<()> {
        self.validate(path)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let invalid = |message: String| Error::ConfigInvalid {
            path: path.to_owned(),
            message,
        };
        for (name, server) in &self.servers {
            if !is_valid_server_name(name) {
                return Err(invalid(format!(
                    "server name '{name}' must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '-' or '.' (it becomes part of a URL)"
                )));
            }
            match (&server.command, &server.url) {
                (Some(command), None) if command.trim().is_empty() => {
                    return Err(invalid(format!("server '{name}' has an empty \"command\"")));
                }
                (Some(_), None) => {}
                (None, Some(url)) => {
                    crate::url_policy::validate_url(url)
                        .map_err(|e| invalid(format!("server '{name}': {e}")))?;
                }
                (Some(_), Some(_)) => {
                    return Err(invalid(format!(
                        "server '{name}' has both \"command\" and \"url\": a server is local or remote"
                    )));
                }
                (None, None) => {
                    return Err(invalid(format!(
                        "server '{name}' needs a \"command\" (local) or a \"url\" (remote)"
                    )));
                }
            }
        }
        for entry in &self.proxy.allowed_origins {
            crate::url_policy::Origin::parse(entry)
                .map_err(|e| invalid(format!("switchboard.allowedOrigins: {e}")))?;
        }
        if let Err(e) = crate::url_policy::query_key::QueryAuthPolicy::from_settings(
            self.proxy.allow_query_param_auth,
            &self.proxy.query_param_auth_origins,
        ) {
            return Err(invalid(format!("switchboard.queryParamAuthOrigins: {e}")));
        }
        for (name, server) in &self.servers {
            if let Some(prefix) = &server.prefix
                && !(prefix.is_empty() || is_valid_prefix(prefix))
            {
                return Err(invalid(format!(
                    "server '{name}': prefix '{prefix}' must be up to 32 characters of A-Z, a-z, 0-9, '_' or '-'"
                )));
            }
            if let UpstreamAuth::Query { param, .. } = &server.auth {
                crate::url_policy::query_key::validate_param_name(param)
                    .map_err(|e| invalid(format!("server '{name}': auth.param: {e}")))?;
            }
            if let UpstreamAuth::Oauth {
                client_id,
                client_secret,
                client_key,
                client_metadata_url,
                grant,
                ..
            } = &server.auth
            {
                if server.url.is_none() {
                    return Err(invalid(format!(
                        "server '{name}': OAuth is for remote servers (\"url\")"
                    )));
                }
                if let Some(document) = client_metadata_url {
                    let ok = url::Url::parse(document).is_ok_and(|u| u.scheme() == "https");
                    if !ok {
                        return Err(invalid(format!(
                            "server '{name}': auth.clientMetadataUrl must be an https URL"
                        )));
                    }
                }
                if (client_secret.is_some() || client_key.is_some()) && client_id.is_none() {
                    return Err(invalid(format!(
                        "server '{name}': auth.clientSecret and auth.clientKey need auth.clientId"
                    )));
                }
                if client_secret.is_some() && client_key.is_some() {
                    return Err(invalid(format!(
                        "server '{name}': auth.clientSecret and auth.clientKey are two ways to authenticate the client; choose one"
                    )));
                }
                if *grant == OAuthGrant::ClientCredentials && client_id.is_none() {
                    return Err(invalid(format!(
                        "server '{name}': the client-credentials grant needs auth.clientId (and auth.clientSecret)"
                    )));
                }
            }
        }
        for (name, profile) in &self.proxy.profiles {
            if !is_valid_profile_name(name) {
                return Err(invalid(format!(
                    "profile name '{name}' must be 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-' (it becomes part of a URL)"
                )));
            }
            for (server, entry) in &profile.servers {
                if let Some(prefix) = &entry.prefix
                    && !(prefix.is_empty() || is_valid_prefix(prefix))
                {
                    return Err(invalid(format!(
                        "profile '{name}', server '{server}': prefix '{prefix}' must be up to 32 characters of A-Z, a-z, 0-9, '_' or '-'"
                    )));
                }
            }
        }
        let limits = &self.proxy.limits;
        for (name, value) in [
            ("maxConnections", limits.max_connections),
            ("maxSessionsPerServer", limits.max_sessions_per_server),
            ("maxSessions", limits.max_sessions),
            ("maxChildren", limits.max_children),
            ("maxBufferedBodyBytes", limits.max_buffered_body_bytes),
            ("maxStreamQueueBytes", limits.max_stream_queue_bytes),
            ("maxKeptAnswers", limits.max_kept_answers),
            ("maxKeptAnswerBytes", limits.max_kept_answer_bytes),
            ("maxBacklogMessages", limits.max_backlog_messages),
            ("maxBacklogBytes", limits.max_backlog_bytes),
            ("maxLogLines", limits.max_log_lines),
            ("maxLogLineBytes", limits.max_log_line_bytes),
            (
                "headerReadTimeoutSecs",
                limits.header_read_timeout_secs as usize,
            ),
        ] {
            if value == 0 {
                return Err(invalid(format!(
                    "switchboard.limits.{name} must be at least 1"
                )));
            }
        }
        if self.proxy.port == Some(0) {
            return Err(invalid(
                "switchboard.port must be between 1 and 65535".into(),
            ));
        }
        Ok(())
    }

    /// What a server must pass to be saved into this config, whoever saves it
    /// (`Hub::save_server`, `switchboard add`): the query-parameter gate, and no credential
    /// over plain http to another host. Loading a config does not run these: a file saved
    /// under other settings stays loadable, and the same rules run again on every request.
    pub fn check_before_save(&self, name: &str, server: &ServerConfig) -> Result<()> {
        self.check_query_auth_gate(name, server)?;
        if let Some(url) = server.url.as_deref().and_then(|u| url::Url::parse(u).ok())
            && server.sends_credentials()
        {
            crate::url_policy::check_credential_transport(&url).map_err(|message| {
                Error::Upstream {
                    server: name.to_owned(),
                    message,
                }
            })?;
        }
        Ok(())
    }

    /// The query-parameter gate for saving `server` into this config: "allow
    /// query-parameter auth (insecure)" on, and the URL's origin on the allowlist. Every way
    /// of adding a server goes through it (`Hub::save_server`, `switchboard add`). Loading a
    /// config does not: a server saved while the flag was on stays loadable, and the same
    /// policy, run on every request, keeps its key from leaving.
    pub fn check_query_auth_gate(&self, name: &str, server: &ServerConfig) -> Result<()> {
        use crate::url_policy::query_key::QueryAuthPolicy;
        if !matches!(server.auth, UpstreamAuth::Query { .. }) {
            return Ok(());
        }
        let refused = |source| Error::QueryAuth {
            server: name.to_owned(),
            source,
        };
        let policy = QueryAuthPolicy::from_settings(
            self.proxy.allow_query_param_auth,
            &self.proxy.query_param_auth_origins,
        )
        .map_err(refused)?;
        let Some(url) = server.url.as_deref().and_then(|u| url::Url::parse(u).ok()) else {
            // No URL, or a bad one: the config check says so.
            return Ok(());
        };
        policy.check(&url).map_err(refused)
    }

    /// Loads the file, or on first run writes `first_run()` there and returns it.
    /// A file that exists but is broken is an error, never silently replaced.
    pub fn load_or_create(
        path: &Path,
        first_run: impl FnOnce() -> Config,
    ) -> Result<(Config, bool)> {
        match std::fs::metadata(path) {
            Ok(_) => Config::load(path).map(|c| (c, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let config = first_run();
                config.save(path)?;
                Ok((config, true))
            }
            Err(source) => Err(Error::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The first-run config: the built-in demo server, run by `program demo-server`.
    pub fn first_run(program: &Path) -> Config {
        let mut config = Config::default();
        config.servers.insert(
            "demo".into(),
            ServerConfig::stdio(program.to_string_lossy(), ["demo-server"]),
        );
        config
    }

    /// Writes the file atomically: a temporary file beside it, flushed, then renamed over it.
    /// A crash mid-write leaves the old file whole.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io_err = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io_err)?;
        let mut json = serde_json::to_vec_pretty(self).map_err(|e| io_err(e.into()))?;
        json.push(b'\n');
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The temporary file gets a random name and is created exclusively (O_EXCL), with
        // mode 0600 on Unix: a symlink or a pre-made file planted beside the config is
        // never followed nor reused, and the config is private from its first byte. The
        // rename then replaces whatever was at `path` (its old mode included).
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(".tmp")
            .tempfile_in(dir)
            .map_err(io_err)?;
        tmp.write_all(&json).map_err(io_err)?;
        tmp.as_file().sync_all().map_err(io_err)?;
        tmp.persist(path).map_err(|e| io_err(e.error))?;
        // Make the rename itself durable where the platform allows it.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// serde_json appends " at line L column C"; we report those as fields instead.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A prefix for the aggregate's names: short, and only characters every client accepts.
fn is_valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 32
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// A profile's name is a URL path segment too (`/profiles/<name>/mcp`).
pub fn is_valid_profile_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// Names become a URL path segment, so they are kept to an unambiguous character set.
pub fn is_valid_server_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && name != "."
        && name != ".."
}

// === streaming Deserialize impls (exact error positions, unknown keys kept) ===

/// Generates a map visitor: known keys are read straight from the deserializer, so a wrong
/// type is reported at its own position; unknown keys are kept as JSON values.
macro_rules! keep_unknown_visitor {
    ($ty:ident, $expecting:literal, { $($key:literal => $field:ident : $fty:ty),* $(,)? }, |$fields:ident, $extra:ident| $build:expr) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<$ty, A::Error> {
                        #[allow(non_snake_case)]
                        struct Fields { $($field: Option<$fty>),* }
                        let mut $fields = Fields { $($field: None),* };
                        let mut $extra = Map::new();
                        while let Some(key) = map.next_key::<String>()? {
                            match key.as_str() {
                                $($key => {
                                    if $fields.$field.is_some() {
                                        return Err(de::Error::duplicate_field($key));
                                    }
                                    $fields.$field = Some(map.next_value()?);
                                })*
                                _ => {
                                    let value: Value = map.next_value()?;
                                    $extra.insert(key, value);
                                }
                            }
                        }
                        $build
                    }
                }
                deserializer.deserialize_map(V)
            }
        }
    };
}

keep_unknown_visitor!(Config, "an object with an \"mcpServers\" map", {
    "mcpServers" => servers: IndexMap<String, ServerConfig>,
    "switchboard" => proxy: ProxySettings,
}, |f, extra| Ok(Config {
    servers: f.servers.unwrap_or_default(),
    proxy: f.proxy.unwrap_or_default(),
    extra,
}));

keep_unknown_visitor!(ServerConfig, "a server object with a \"command\" or a \"url\"", {
    "command" => command: String,
    "args" => args: Vec<String>,
    "env" => env: IndexMap<String, ValueSource>,
    "cwd" => cwd: PathBuf,
    "url" => url: String,
    "transport" => transport: RemoteTransport,
    "headers" => headers: IndexMap<String, ValueSource>,
    "auth" => auth: UpstreamAuth,
    "enabled" => enabled: bool,
    "sharing" => sharing: Sharing,
    "prefix" => prefix: String,
    "tools" => tools: NameFilter,
    "prompts" => prompts: NameFilter,
}, |f, extra| Ok(ServerConfig {
    command: f.command,
    args: f.args.unwrap_or_default(),
    env: f.env.unwrap_or_default(),
    cwd: f.cwd,
    url: f.url,
    transport: f.transport.unwrap_or_default(),
    headers: f.headers.unwrap_or_default(),
    auth: f.auth.unwrap_or_default(),
    enabled: f.enabled.unwrap_or(true),
    sharing: f.sharing.unwrap_or_default(),
    prefix: f.prefix,
    tools: f.tools.unwrap_or_default(),
    prompts: f.prompts.unwrap_or_default(),
    extra,
}));

keep_unknown_visitor!(ProxySettings, "Switchboard's settings object", {
    "port" => port: u16,
    "requireApiKey" => require_api_key: bool,
    "idleTimeoutSecs" => idle_timeout_secs: u64,
    "spareIdleSecs" => spare_idle_secs: u64,
    "allowedOrigins" => allowed_origins: Vec<String>,
    "allowQueryParamAuth" => allow_query_param_auth: bool,
    "queryParamAuthOrigins" => query_param_auth_origins: Vec<String>,
    "limits" => limits: Limits,
    "profiles" => profiles: IndexMap<String, Profile>,
}, |f, extra| Ok(ProxySettings {
    port: f.port,
    require_api_key: f.require_api_key.unwrap_or(true),
    idle_timeout_secs: f.idle_timeout_secs,
    spare_idle_secs: f.spare_idle_secs,
    allowed_origins: f.allowed_origins.unwrap_or_default(),
    allow_query_param_auth: f.allow_query_param_auth.unwrap_or_default(),
    query_param_auth_origins: f.query_param_auth_origins.unwrap_or_default(),
    limits: f.limits.unwrap_or_default(),
    profiles: f.profiles.unwrap_or_default(),
    extra,
}));

keep_unknown_visitor!(Profile, "a profile object with a \"servers\" map", {
    "servers" => servers: IndexMap<String, ProfileServer>,
    "ownKey" => own_key: bool,
}, |f, extra| Ok(Profile {
    servers: f.servers.unwrap_or_default(),
    own_key: f.own_key.unwrap_or_default(),
    extra,
}));

keep_unknown_visitor!(ProfileServer, "a profile's server entry (an object, may be empty)", {
    "prefix" => prefix: String,
    "tools" => tools: NameFilter,
    "prompts" => prompts: NameFilter,
}, |f, extra| Ok(ProfileServer {
    prefix: f.prefix,
    tools: f.tools.unwrap_or_default(),
    prompts: f.prompts.unwrap_or_default(),
    extra,
}));

#[cfg(test)]
mod tests {
    #[test]
    fn globs_and_name_filters() {
        assert!(glob_matches("*", ""));
        assert!(glob_matches("get_*", "get_time"));
        assert!(glob_matches("*_time", "get_time"));
        assert!(glob_matches("g?t*e", "get_time"));
        assert!(!glob_matches("get_*", "set_time"));
        assert!(glob_matches("a*b*c", "a_x_b_y_c"));
        assert!(!glob_matches("a*b*c", "a_x_c_y_b"));
        let filter = NameFilter {
            allow: vec!["get_*".into(), "echo".into()],
            deny: vec!["get_secret*".into()],
        };
        assert!(filter.allows("get_time") && filter.allows("echo"));
        assert!(!filter.allows("get_secret_key") && !filter.allows("delete_all"));
        assert!(NameFilter::default().allows("anything"));
    }

    #[test]
    fn switching_a_name_changes_only_that_name() {
        let mut filter = NameFilter::default();
        filter.set("echo", false).unwrap();
        assert!(!filter.allows("echo") && filter.allows("add"));
        filter.set("echo", true).unwrap();
        assert_eq!(filter, NameFilter::default());
        let mut filter = NameFilter {
            allow: vec!["get_*".into()],
            deny: vec![],
        };
        filter.set("echo", true).unwrap();
        assert!(filter.allows("echo") && filter.allows("get_time") && !filter.allows("add"));
        filter.set("get_time", false).unwrap();
        assert!(!filter.allows("get_time") && filter.allows("get_date"));
        let mut filter = NameFilter {
            allow: vec![],
            deny: vec!["delete_*".into()],
        };
        let err = filter.set("delete_all", true).unwrap_err();
        assert!(err.contains("delete_*"), "{err}");
        // The only allow entry is not removed (an empty allow list lets everything through).
        let mut filter = NameFilter {
            allow: vec!["echo".into()],
            deny: vec![],
        };
        filter.set("echo", false).unwrap();
        assert!(!filter.allows("echo") && !filter.allows("add"));
    }

    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(text, Path::new("/cfg/config.json"))
    }

    #[test]
    fn reads_the_ide_shape_and_defaults() {
        let config =
            parse(r#"{"mcpServers":{"time":{"command":"uvx","args":["mcp-server-time"]}}}"#)
                .unwrap();
        let time = &config.servers["time"];
        assert_eq!(time.command.as_deref(), Some("uvx"));
        assert_eq!(time.args, ["mcp-server-time"]);
        assert!(time.enabled);
        assert_eq!(time.sharing, Sharing::PerSession);
        assert_eq!(config.proxy.idle_timeout(), DEFAULT_IDLE_TIMEOUT);
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err =
            parse("{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}").unwrap_err();
        match err {
            Error::ConfigSyntax {
                path, line, column, ..
            } => {
                assert_eq!(path, Path::new("/cfg/config.json"));
                assert_eq!((line, column), (3, 26), "the stray closing brace");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            parse("{\n")
                .unwrap_err()
                .to_string()
                .starts_with("/cfg/config.json:2:0: ")
        );
    }

    #[test]
    fn type_errors_point_at_the_value() {
        let err = parse("{\"mcpServers\": {\n \"a\": {\n  \"command\": 42\n }}}").unwrap_err();
        let Error::ConfigSyntax {
            line,
            column,
            message,
            ..
        } = err
        else {
            panic!()
        };
        assert_eq!(line, 3);
        assert_eq!(column, 15);
        assert!(message.contains("expected a string"), "{message}");
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let text = r#"{"mcpServers":{"a":{"command":"x","type":"stdio","disabledTools":["t"]}},"theme":"dark","switchboard":{"port":9,"future":1}}"#;
        let config = parse(text).unwrap();
        let written: Value = serde_json::to_value(&config).unwrap();
        let original: Value = serde_json::from_str(text).unwrap();
        assert_eq!(written, original);
    }

    #[test]
    fn require_api_key_defaults_on_and_is_written_only_when_off() {
        let config = parse(r#"{"mcpServers":{}}"#).unwrap();
        assert!(config.proxy.require_api_key);
        let written = serde_json::to_value(&config).unwrap();
        assert_eq!(written, serde_json::json!({"mcpServers": {}}));

        let text = r#"{"mcpServers":{},"switchboard":{"requireApiKey":false,"later":[1]}}"#;
        let config = parse(text).unwrap();
        assert!(!config.proxy.require_api_key);
        let written: Value = serde_json::to_value(&config).unwrap();
        assert_eq!(written, serde_json::from_str::<Value>(text).unwrap());

        let mut on = config.clone();
        on.proxy.require_api_key = true;
        let written = serde_json::to_value(&on).unwrap();
        assert_eq!(written["switchboard"], serde_json::json!({"later": [1]}));
        assert!(parse(r#"{"switchboard":{"requireApiKey":"no"}}"#).is_err());
    }

    #[test]
    fn invalid_names_and_missing_commands_are_refused() {
        assert!(
            parse(r#"{"mcpServers":{"a/b":{"command":"x"}}}"#)
                .unwrap_err()
                .to_string()
                .contains("a/b")
        );
        assert!(
            parse(r#"{"mcpServers":{"a":{"args":[]}}}"#)
                .unwrap_err()
                .to_string()
                .contains("command")
        );
        assert!(parse(r#"{"mcpServers":{"a":{"command":" "}}}"#).is_err());
    }

    /// Found by the cargo-fuzz config target: a number past what an integer holds (kept in
    /// a key Switchboard does not know) was read imprecisely, so saving and loading again
    /// changed it. serde_json's `float_roundtrip` reads it exactly.
    #[test]
    fn a_number_past_the_integers_survives_a_save_and_a_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let config = Config::parse(
            r#"{"mcpServers": {}, "": 4142424424441424244244, "x": 0.1e-300}"#,
            &path,
        )
        .unwrap();
        config.save(&path).unwrap();
        let again = Config::load(&path).unwrap();
        assert_eq!(format!("{:?}", again.extra), format!("{:?}", config.extra));
    }

    #[test]
    fn save_is_atomic_and_reloadable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/config.json");
        let mut config = Config::default();
        config.servers.insert(
            "demo".into(),
            ServerConfig::stdio("/bin/demo", ["demo-server"]),
        );
        config.save(&path).unwrap();
        assert_eq!(Config::load(&path).unwrap(), config);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// A symlink planted where the old code put its temporary file (a name anyone could
    /// predict) is not followed, and a pre-made world-readable config ends up 0600.
    #[cfg(unix)]
    #[test]
    fn saving_follows_no_planted_file_and_leaves_the_config_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
        let predictable = dir
            .path()
            .join(format!(".config.json.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &predictable).unwrap();
        std::fs::write(&path, "{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();

        Config::default().save(&path).unwrap();

        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        assert!(
            std::fs::symlink_metadata(&predictable)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(Config::load(&path).unwrap(), Config::default());
    }
}
