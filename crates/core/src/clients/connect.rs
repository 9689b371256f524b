//! Switchboard's entry in a client's file: planned (the change shown as a diff first),
//! written atomically with the original kept, and undone byte for byte.
//!
//! A record per connected file (in the state directory the caller gives: Switchboard's
//! own config directory) keeps the file as it was before Switchboard first wrote it and a
//! digest of what Switchboard wrote, so the state can say "connected", "not connected" or
//! "changed by hand since", and undo never overwrites a change the person made after.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Client, ClientFile, FileError, Shape, edit};
use crate::secrets::Sensitive;

/// What the entry points at.
pub struct Destination {
    /// The Streamable HTTP URL (`/mcp`, `/profiles/<p>/mcp` or a server's).
    pub url: String,
    /// The key clients send (the main key, or the profile's own); `None` when checks are
    /// off.
    pub key: Option<Sensitive<String>>,
    /// `switchboard connect`'s program and arguments, for clients that start only stdio
    /// servers (the bridge finds the port and the key itself: no key in their file).
    pub bridge: Option<(PathBuf, Vec<String>)>,
    /// The entry's name in the client's file (`switchboard`, `switchboard-<profile>`).
    pub name: String,
}

/// The key's stand-in in diffs and messages.
pub const KEY_SHOWN_AS: &str = "<the Switchboard key>";

/// What stands for a secret value of the client's own in a diff: a diff shows the lines
/// around the change and the lines it takes out, plaintext tokens included.
pub const SECRET_SHOWN_AS: &str = "<secret>";

/// A change to one client file, before it is made.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub file: ClientFile,
    pub entry: String,
    /// Whether the file exists now.
    pub exists: bool,
    /// Whether writing changes anything (a second connect does not).
    pub changes: bool,
    /// The change, as a unified diff, with the key shown as [`KEY_SHOWN_AS`].
    pub diff: String,
    /// The client's own entries turned off (or, where it has no switch, taken out).
    pub turned_off: Vec<String>,
    pub note: String,
    /// The file's text before and after (never in `Debug`: the key is in `after`).
    #[serde(skip)]
    before: Sensitive<Option<String>>,
    #[serde(skip)]
    after: Sensitive<String>,
}

/// What Switchboard has done to a client file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    NotConnected,
    Connected,
    /// Connected, and the file changed since (by the person or the client).
    ChangedSince,
}

/// The record of one connected file.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    path: PathBuf,
    /// The file before Switchboard first wrote it; `None` when it did not exist.
    original: Option<String>,
    /// SHA-256 of what Switchboard wrote last, hex.
    written: String,
}

fn digest(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn record_path(state_dir: &Path, file: &Path) -> PathBuf {
    let id = digest(&file.to_string_lossy());
    state_dir
        .join("client-backups")
        .join(format!("{}.json", &id[..16]))
}

/// The record of `file`, if it is this file's (the path in it is checked, not only the
/// digest of the path that names the record).
fn read_record(state_dir: &Path, file: &Path) -> Option<Record> {
    let file = resolved(file);
    let text = std::fs::read_to_string(record_path(state_dir, &file)).ok()?;
    serde_json::from_str::<Record>(&text)
        .ok()
        .filter(|record| record.path == file)
}

/// The file a path names: a symlink (a dotfiles repository's) is followed, so the write
/// goes to its target and the link stays; a relative path is made absolute.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(target) = std::fs::canonicalize(path) {
        return target;
    }
    // Not there yet: its folder, resolved, and its name.
    match (
        path.parent().and_then(|p| std::fs::canonicalize(p).ok()),
        path.file_name(),
    ) {
        (Some(dir), Some(name)) => dir.join(name),
        _ => path.to_owned(),
    }
}

fn read_text(path: &Path) -> Result<Option<String>, FileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::new(path, e.to_string())),
    }
}

/// The entry `client` gets for `to`, in its own shape.
pub fn entry(client: Client, to: &Destination) -> Result<Value, String> {
    let headers = to
        .key
        .as_ref()
        .map(|key| json!({"Authorization": format!("Bearer {}", key.expose())}));
    let http = |fields: Value| {
        let mut entry = fields;
        if let Some(headers) = &headers {
            entry["headers"] = headers.clone();
        }
        entry
    };
    Ok(match client {
        // Stdio only, or a key kept out of the file: the bridge.
        Client::ClaudeDesktop | Client::Codex => {
            let (program, args) = to.bridge.as_ref().ok_or_else(|| {
                format!(
                    "{} starts only stdio servers here, through `switchboard connect`, which carries the aggregate or one server, not a profile",
                    client.title()
                )
            })?;
            json!({"command": program.to_string_lossy(), "args": args})
        }
        Client::ClaudeCode | Client::Vscode => http(json!({"type": "http", "url": to.url})),
        Client::Windsurf => http(json!({"serverUrl": to.url})),
        Client::Gemini => http(json!({"httpUrl": to.url})),
        Client::Cline => http(json!({"type": "streamableHttp", "url": to.url})),
        Client::Roo => http(json!({"type": "streamable-http", "url": to.url})),
        Client::Cursor | Client::Zed | Client::Lmstudio => http(json!({"url": to.url})),
    })
}

/// Every string of the file that looks like a credential, wherever it is: under a
/// secret-looking key (`token`, `apiKey`, `Authorization`, `client_secret`, …), with a
/// well-known token prefix, or a URL with a password or a secret parameter. A diff shows
/// the lines around the change and those it takes out: none of these may show.
fn secret_strings(client: Client, path: &Path, text: &str) -> Vec<String> {
    fn walk(key: &str, value: &Value, found: &mut Vec<String>) {
        match value {
            Value::String(s)
                if crate::secrets::looks_like_credential(key, s)
                    || super::read::holds_url_secret(s) =>
            {
                found.push(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|v| walk(key, v, found)),
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(k, v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Ok(root) = super::read::parse(client, path, text) {
        walk("", &root, &mut found);
    }
    found
}

/// Where `client` keeps its servers: a JSON path, or Codex's table.
fn container(client: Client) -> &'static [&'static str] {
    match client.shape() {
        Shape::McpServers => &["mcpServers"],
        Shape::VscodeServers => &["servers"],
        Shape::ZedContextServers => &["context_servers"],
        Shape::CodexToml => &["mcp_servers"],
    }
}

/// The change that puts `to` into `file` (and turns off `turn_off`, the client's own
/// entries of servers now behind Switchboard), without making it.
pub fn plan(file: &ClientFile, to: &Destination, turn_off: &[String]) -> Result<Plan, FileError> {
    let client = file.client;
    let before = read_text(&file.path)?;
    let text = before.clone().unwrap_or_default();
    // A file that does not parse is reported, and nothing is written to it.
    super::read::parse(client, &file.path, &text)?;
    // A project's file is usually committed with the project: no key goes there. The
    // bridge (`switchboard connect`) reads the key from the keychain itself.
    let entry = if file.scope == super::Scope::Project && to.key.is_some() {
        let (program, args) = to.bridge.as_ref().ok_or_else(|| {
            FileError::new(
                &file.path,
                "a project's file is usually committed with the project, so Switchboard writes no key into it; connect the client's user file for a profile, or this project to the aggregate or one server (through `switchboard connect`)",
            )
        })?;
        json!({"command": program.to_string_lossy(), "args": args})
    } else {
        entry(client, to).map_err(|e| FileError::new(&file.path, e))?
    };
    let failed = |e: String| FileError::new(&file.path, e);
    let path = container(client);
    let mut after = if client == Client::Codex {
        edit::toml_put(&text, path[0], &to.name, &entry).map_err(failed)?
    } else {
        edit::json_put(&text, path, &to.name, &entry).map_err(failed)?
    };
    let mut turned_off = Vec::new();
    for name in turn_off.iter().filter(|n| **n != to.name) {
        let next = match client {
            Client::Codex => edit::toml_set_in(&after, path[0], name, "enabled", &json!(false)),
            Client::Zed => edit::json_set_in(&after, path, name, "enabled", &json!(false)),
            Client::Windsurf | Client::Cline | Client::Roo => {
                edit::json_set_in(&after, path, name, "disabled", &json!(true))
            }
            // No switch in the file: the entry is taken out (undo brings it back).
            _ => edit::json_remove(&after, path, name),
        }
        .map_err(failed)?;
        if next != after {
            turned_off.push(name.clone());
            after = next;
        }
    }
    let changes = before.as_deref() != Some(after.as_str());
    // The key first (its own label), then every value of the file that looks like a
    // credential, raw or as it is escaped in a JSON string (shorter ones would hit ordinary
    // text, as in the redactor), longest first so none is half-replaced by a shorter one.
    let key = to.key.as_ref().map(|key| key.expose().clone());
    let mut hidden: Vec<String> = Vec::new();
    for value in secret_strings(client, &file.path, &text)
        .into_iter()
        .chain(secret_strings(client, &file.path, &after))
        .map(|value| match &key {
            Some(key) => value.replace(key.as_str(), KEY_SHOWN_AS),
            None => value,
        })
        .filter(|value| value.len() >= crate::redact::MIN_SECRET_LEN)
    {
        let quoted = serde_json::to_string(&value).unwrap_or_default();
        if let Some(escaped) = quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
            hidden.push(escaped.to_owned());
        }
        hidden.push(value);
    }
    hidden.sort_by_key(|value| std::cmp::Reverse(value.len()));
    let shown = |text: &str| {
        let text = match &key {
            Some(key) => text.replace(key.as_str(), KEY_SHOWN_AS),
            None => text.to_owned(),
        };
        hidden.iter().fold(text, |text, value| {
            // What is left of a value once the key was labelled is the key's line itself.
            if value.contains(KEY_SHOWN_AS) {
                text
            } else {
                text.replace(value.as_str(), SECRET_SHOWN_AS)
            }
        })
    };
    let diff = similar::TextDiff::from_lines(&shown(&text), &shown(&after))
        .unified_diff()
        .context_radius(3)
        .header(&file.path.to_string_lossy(), &file.path.to_string_lossy())
        .to_string();
    Ok(Plan {
        file: file.clone(),
        entry: to.name.clone(),
        exists: before.is_some(),
        changes,
        diff,
        turned_off,
        note: format!(
            "If {} is running, restart it (or reload its MCP servers) to pick up the change.",
            client.title()
        ),
        before: Sensitive::new(before),
        after: Sensitive::new(after),
    })
}

/// Makes `plan`'s change: refused if the file changed since the plan was made; written
/// atomically (a temporary file beside it, then renamed), with its permissions kept; the
/// original kept in `state_dir` for [`undo`].
pub fn apply(plan: &Plan, state_dir: &Path) -> Result<(), FileError> {
    let path = &plan.file.path;
    let path = &resolved(path);
    let now = read_text(path)?;
    if now != *plan.before.expose() {
        return Err(FileError::new(
            path,
            "the file changed since the preview; nothing was written (look at the change again)",
        ));
    }
    if !plan.changes {
        return Ok(());
    }
    // The original is the file before Switchboard's first change: a later connect (another
    // profile, or after the client rewrote the file) keeps it, so undo always goes back to
    // what the person had before Switchboard.
    let original = match read_record(state_dir, path) {
        Some(record) => record.original,
        None => now.clone(),
    };
    let record = Record {
        path: path.clone(),
        original,
        written: digest(plan.after.expose()),
    };
    write_private(
        &record_path(state_dir, path),
        &serde_json::to_string_pretty(&record).map_err(|e| FileError::new(path, e.to_string()))?,
    )?;
    write_atomically(path, plan.after.expose())
}

/// Puts `file` back as it was before Switchboard first wrote it, byte for byte (or removes
/// it, if Switchboard created it). Refused when the file changed since Switchboard wrote
/// it, unless `force`: undo must not throw away the person's own edits silently.
pub fn undo(file: &ClientFile, state_dir: &Path, force: bool) -> Result<(), FileError> {
    let path = &resolved(&file.path);
    let record = read_record(state_dir, path).ok_or_else(|| {
        FileError::new(
            path,
            "Switchboard has not connected this file: nothing to undo",
        )
    })?;
    let now = read_text(path)?;
    if now.as_deref().map(digest) != Some(record.written.clone()) && !force {
        return Err(FileError::new(
            path,
            "the file changed since Switchboard wrote it; undo would lose those changes (force it to restore the original anyway)",
        ));
    }
    match &record.original {
        Some(original) => write_atomically(path, original)?,
        None => {
            if let Err(e) = std::fs::remove_file(path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(FileError::new(path, e.to_string()));
            }
        }
    }
    let _ = std::fs::remove_file(record_path(state_dir, path));
    Ok(())
}

/// What Switchboard has done to `file`.
pub fn state(file: &ClientFile, state_dir: &Path) -> State {
    let Some(record) = read_record(state_dir, &file.path) else {
        return State::NotConnected;
    };
    match read_text(&resolved(&file.path)) {
        Ok(Some(text)) if digest(&text) == record.written => State::Connected,
        _ => State::ChangedSince,
    }
}

fn write_atomically(path: &Path, text: &str) -> Result<(), FileError> {
    use std::io::Write;
    let failed = |e: std::io::Error| FileError::new(path, e.to_string());
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(failed)?;
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(failed)?;
    temp.write_all(text.as_bytes()).map_err(failed)?;
    temp.as_file().sync_all().map_err(failed)?;
    if let Some(permissions) = permissions {
        std::fs::set_permissions(temp.path(), permissions).map_err(failed)?;
    }
    temp.persist(path).map_err(|e| failed(e.error))?;
    Ok(())
}

/// A file only its owner can read (the record may hold a client file with its tokens).
fn write_private(path: &Path, text: &str) -> Result<(), FileError> {
    write_atomically(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| FileError::new(path, e.to_string()))?;
    }
    Ok(())
}
