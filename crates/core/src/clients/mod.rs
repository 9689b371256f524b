//! The MCP configs of other clients (IDEs and agents): where each keeps its servers, what
//! is in them, and Switchboard's own entry in them.
//!
//! - [`detect`] lists the files of every known client that exist, for paths the caller
//!   gives ([`Places`]: core never looks up OS directories itself).
//! - [`read`] reads one file, in its client's shape, into [`Found`] servers: values are
//!   classified as plain, secret-looking, or placeholders the client fills in itself.
//! - [`import`] turns chosen servers into Switchboard servers, with every secret moved to
//!   the keychain and referenced by name.
//! - [`connect`] writes Switchboard's entry into a client's file (keeping the rest as the
//!   person wrote it, comments included), keeps a backup, and undoes byte for byte.
//!
//! The formats and their sources are in docs/clients.md.

pub mod connect;
mod edit;
pub mod import;
pub mod read;

use std::path::{Path, PathBuf};

use serde::Serialize;

/// A client Switchboard knows the MCP config of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Client {
    ClaudeDesktop,
    ClaudeCode,
    Cursor,
    Vscode,
    Windsurf,
    Zed,
    Codex,
    Gemini,
    Cline,
    Roo,
    Lmstudio,
}

impl Client {
    pub const ALL: [Client; 11] = [
        Client::ClaudeDesktop,
        Client::ClaudeCode,
        Client::Cursor,
        Client::Vscode,
        Client::Windsurf,
        Client::Zed,
        Client::Codex,
        Client::Gemini,
        Client::Cline,
        Client::Roo,
        Client::Lmstudio,
    ];

    /// Its identifier on the command line and in the UI's calls (`claude-desktop`, …).
    pub fn id(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "claude-desktop",
            Client::ClaudeCode => "claude-code",
            Client::Cursor => "cursor",
            Client::Vscode => "vscode",
            Client::Windsurf => "windsurf",
            Client::Zed => "zed",
            Client::Codex => "codex",
            Client::Gemini => "gemini",
            Client::Cline => "cline",
            Client::Roo => "roo",
            Client::Lmstudio => "lmstudio",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Client::ClaudeDesktop => "Claude Desktop",
            Client::ClaudeCode => "Claude Code",
            Client::Cursor => "Cursor",
            Client::Vscode => "VS Code",
            Client::Windsurf => "Windsurf",
            Client::Zed => "Zed",
            Client::Codex => "Codex CLI",
            Client::Gemini => "Gemini CLI",
            Client::Cline => "Cline",
            Client::Roo => "Roo Code",
            Client::Lmstudio => "LM Studio",
        }
    }

    pub fn from_id(id: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.id() == id)
    }

    /// How its file is laid out.
    fn shape(self) -> Shape {
        match self {
            Client::Vscode => Shape::VscodeServers,
            Client::Zed => Shape::ZedContextServers,
            Client::Codex => Shape::CodexToml,
            _ => Shape::McpServers,
        }
    }

    /// Whether it reads comments and trailing commas in its JSON (a writer must not add
    /// them where it does not).
    pub fn reads_jsonc(self) -> bool {
        matches!(self, Client::Vscode | Client::Zed)
    }
}

/// Where a client keeps its servers in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `mcpServers` at the top (and, for Claude Code's `~/.claude.json`, per project).
    McpServers,
    /// `servers` (and `inputs`) at the top; VS Code's old settings.json: under `mcp`.
    VscodeServers,
    /// `context_servers` at the top.
    ZedContextServers,
    /// `[mcp_servers.<name>]` tables.
    CodexToml,
}

/// Whose the file is: the person's (every project), or one project's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scope {
    User,
    Project,
}

/// One client config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientFile {
    pub client: Client,
    pub scope: Scope,
    pub path: PathBuf,
}

/// The operating systems whose layouts differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Macos,
    Windows,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "macos") {
            Os::Macos
        } else if cfg!(windows) {
            Os::Windows
        } else {
            Os::Linux
        }
    }
}

/// The directories client files are found under, given by the caller.
#[derive(Debug, Clone)]
pub struct Places {
    pub os: Os,
    pub home: PathBuf,
    /// The OS's per-user config directory: `$XDG_CONFIG_HOME` (`~/.config`) on Linux,
    /// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
    pub config_dir: PathBuf,
    /// A project whose own files are looked at too.
    pub project: Option<PathBuf>,
}

/// Every file each client may keep its servers in, for `places`, whether it exists or not;
/// the first of a client's user files is where Switchboard writes its entry.
pub fn candidates(places: &Places) -> Vec<ClientFile> {
    let home = &places.home;
    let config = &places.config_dir;
    let user = |client, path: PathBuf| ClientFile {
        client,
        scope: Scope::User,
        path,
    };
    let mut files = vec![
        user(
            Client::ClaudeDesktop,
            config.join("Claude").join("claude_desktop_config.json"),
        ),
        user(Client::ClaudeCode, home.join(".claude.json")),
        user(Client::Cursor, home.join(".cursor").join("mcp.json")),
        user(Client::Vscode, vscode_user_dir(places).join("mcp.json")),
        user(
            Client::Windsurf,
            home.join(".codeium")
                .join("windsurf")
                .join("mcp_config.json"),
        ),
        user(Client::Zed, zed_dir(places).join("settings.json")),
        user(Client::Codex, home.join(".codex").join("config.toml")),
        user(Client::Gemini, home.join(".gemini").join("settings.json")),
        user(
            Client::Cline,
            vscode_user_dir(places)
                .join("globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json"),
        ),
        user(
            Client::Roo,
            vscode_user_dir(places)
                .join("globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json"),
        ),
        user(Client::Lmstudio, home.join(".lmstudio").join("mcp.json")),
    ];
    if let Some(project) = &places.project {
        let in_project = |client, path: &str| ClientFile {
            client,
            scope: Scope::Project,
            path: project.join(path),
        };
        files.extend([
            in_project(Client::ClaudeCode, ".mcp.json"),
            in_project(Client::Cursor, ".cursor/mcp.json"),
            in_project(Client::Vscode, ".vscode/mcp.json"),
            in_project(Client::Zed, ".zed/settings.json"),
            in_project(Client::Codex, ".codex/config.toml"),
            in_project(Client::Gemini, ".gemini/settings.json"),
            in_project(Client::Roo, ".roo/mcp.json"),
        ]);
    }
    files
}

fn vscode_user_dir(places: &Places) -> PathBuf {
    places.config_dir.join("Code").join("User")
}

fn zed_dir(places: &Places) -> PathBuf {
    match places.os {
        Os::Macos => places.home.join(".config").join("zed"),
        Os::Windows => places.config_dir.join("Zed"),
        Os::Linux => places.config_dir.join("zed"),
    }
}

/// The candidate files that exist.
pub fn detect(places: &Places) -> Vec<ClientFile> {
    candidates(places)
        .into_iter()
        .filter(|f| f.path.is_file())
        .collect()
}

/// The file Switchboard connects `client` through, in `scope`.
pub fn file_of(places: &Places, client: Client, scope: Scope) -> Option<ClientFile> {
    candidates(places)
        .into_iter()
        .find(|f| f.client == client && f.scope == scope)
}

/// A client file that could not be read: where, and why (with line and column).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

impl FileError {
    fn new(path: &Path, message: impl Into<String>) -> FileError {
        FileError {
            path: path.to_owned(),
            message: message.into(),
        }
    }
}
