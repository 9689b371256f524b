//! Reading a client's file into the servers it defines, each value classified.

use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Client, ClientFile, FileError, Scope, Shape};
use crate::config::RemoteTransport;
use crate::secrets::{Sensitive, looks_like_credential};

/// One server a client's file defines.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    /// Its name in the client's file.
    pub name: String,
    /// Claude Code's servers of one project in `~/.claude.json`: that project's path.
    pub project: Option<String>,
    #[serde(flatten)]
    pub target: Target,
    pub env: Vec<FoundValue>,
    pub headers: Vec<FoundValue>,
    /// Whether the client runs it (its own disable flag or list).
    pub enabled: bool,
    /// Why it should not be imported, when it should not.
    pub skip: Option<String>,
    /// What the import cannot carry over by itself (a password inside an argument, …).
    pub warnings: Vec<String>,
}

/// What a found server runs or reaches.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Target {
    Stdio {
        command: String,
        args: Vec<String>,
        cwd: Option<String>,
    },
    Remote {
        url: String,
        transport: RemoteTransport,
    },
    /// Neither (an extension's server, a malformed entry).
    Nothing,
}

/// One `env` or `headers` value.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundValue {
    pub name: String,
    pub class: ValueClass,
    /// The value; shown only when it is [`ValueClass::Plain`] or a placeholder.
    #[serde(skip)]
    pub value: Sensitive<String>,
    /// What the person sees: the value when plain, the placeholder text, or nothing.
    pub shown: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ValueClass {
    /// An ordinary setting, imported as it is.
    Plain,
    /// Looks like a credential: moves to the keychain.
    Secret,
    /// Something the client fills in itself (`${env:X}`, `${input:id}`, …): Switchboard
    /// cannot know the value, so it asks for it.
    Placeholder,
}

impl FoundValue {
    fn classify(client: Client, name: &str, value: &str) -> FoundValue {
        // A credential-looking value is a secret unless the whole of it is one placeholder
        // (`pa$$word` under a secret name is a password, not Gemini's `$VAR`).
        let credential = looks_like_credential(name, value) || holds_url_secret(value);
        let class = if is_placeholder(client, value) && (!credential || is_only_a_reference(value))
        {
            ValueClass::Placeholder
        } else if credential {
            ValueClass::Secret
        } else {
            ValueClass::Plain
        };
        FoundValue {
            name: name.to_owned(),
            class,
            shown: (class != ValueClass::Secret).then(|| value.to_owned()),
            value: Sensitive::new(value.to_owned()),
        }
    }

    /// A value the client reads from its own environment variable `var`.
    fn from_variable(name: &str, var: &str) -> FoundValue {
        let text = format!("${{env:{var}}}");
        FoundValue {
            name: name.to_owned(),
            class: ValueClass::Placeholder,
            shown: Some(text.clone()),
            value: Sensitive::new(text),
        }
    }
}

/// Whether `value` is one placeholder, after an auth scheme at most (`Bearer ${env:T}`).
fn is_only_a_reference(value: &str) -> bool {
    let rest = ["Bearer ", "Basic ", "Token "]
        .iter()
        .find_map(|scheme| {
            value
                .get(..scheme.len())
                .filter(|start| start.eq_ignore_ascii_case(scheme))
                .map(|_| &value[scheme.len()..])
        })
        .unwrap_or(value);
    is_one_placeholder(rest.trim())
}

/// Whether the whole of `value` is one placeholder (`${…}`, `$VAR`, `%VAR%`).
fn is_one_placeholder(value: &str) -> bool {
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (value.starts_with("${") && value.ends_with('}') && value.matches('}').count() == 1)
        || value.strip_prefix('$').is_some_and(word)
        || (value.len() > 2
            && value.starts_with('%')
            && value.ends_with('%')
            && word(&value[1..value.len() - 1]))
}

/// Whether `value` is (or holds) a URL with a password or a secret-looking query parameter.
pub(super) fn holds_url_secret(value: &str) -> bool {
    value
        .split_whitespace()
        .filter(|word| word.contains("://"))
        .any(|word| {
            url::Url::parse(word).is_ok_and(|u| u.password().is_some())
                || !crate::url_policy::query_key::inline_secrets(word).is_empty()
        })
}

/// Whether argument `i` of `args` holds a credential: a token, a URL with one, the value
/// after a secret-looking flag (`--api-key X`, `--token=X`), or an `Authorization:` header.
fn secret_arg(args: &[String], i: usize) -> bool {
    let arg = &args[i];
    // A reference (`Authorization:${AUTH_HEADER}`, expanded by the server from its own
    // environment) holds no credential itself.
    if arg.contains("${") {
        return false;
    }
    if crate::secrets::TOKEN_PREFIXES
        .iter()
        .any(|p| arg.starts_with(p))
        || holds_url_secret(arg)
        || arg.to_ascii_lowercase().starts_with("authorization:")
    {
        return true;
    }
    if let Some((flag, value)) = arg.split_once('=')
        && flag.starts_with('-')
        && !value.is_empty()
        && crate::url_policy::query_key::looks_secret(flag.trim_start_matches('-'))
    {
        return true;
    }
    i > 0
        && args[i - 1].starts_with('-')
        && !arg.starts_with('-')
        && crate::url_policy::query_key::looks_secret(args[i - 1].trim_start_matches('-'))
}

/// Whether `value` holds a placeholder the client expands: `${…}` everywhere; Gemini also
/// expands `$VAR` and `%VAR%`.
fn is_placeholder(client: Client, value: &str) -> bool {
    if value.contains("${") && value[value.find("${").unwrap_or(0)..].contains('}') {
        return true;
    }
    if client == Client::Gemini {
        let dollar = value
            .split('$')
            .skip(1)
            .any(|rest| rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'));
        let percent = value.len() > 2
            && value.starts_with('%')
            && value.ends_with('%')
            && value[1..value.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        return dollar || percent;
    }
    false
}

/// Reads `file` (its text given) into the servers it defines, in file order. `port` is
/// Switchboard's own: an entry that points at it is not imported (that would be a loop).
pub fn read(file: &ClientFile, text: &str, port: u16) -> Result<Vec<Found>, FileError> {
    let root = parse(file.client, &file.path, text)?;
    let client = file.client;
    let mut found = Vec::new();
    match client.shape() {
        Shape::McpServers => {
            let excluded = gemini_excluded(&root);
            found.extend(entries(client, root.get("mcpServers"), None, port));
            if client == Client::ClaudeCode
                && file.scope == Scope::User
                && let Some(projects) = root.get("projects").and_then(Value::as_object)
            {
                for (path, project) in projects {
                    let disabled: Vec<&str> = project
                        .get("disabledMcpServers")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    for mut server in entries(client, project.get("mcpServers"), Some(path), port) {
                        if disabled.contains(&server.name.as_str()) {
                            server.enabled = false;
                        }
                        found.push(server);
                    }
                }
            }
            if client == Client::ClaudeCode && file.scope == Scope::Project {
                let disabled = claude_code_disabled(&file.path);
                for server in &mut found {
                    if disabled.contains(&server.name) {
                        server.enabled = false;
                    }
                }
            }
            let switched_off = if client == Client::Gemini {
                gemini_switched_off(&file.path)
            } else {
                Vec::new()
            };
            for server in &mut found {
                if excluded.contains(&server.name)
                    || switched_off.contains(&server.name.to_lowercase())
                {
                    server.enabled = false;
                }
            }
        }
        Shape::VscodeServers => {
            let servers = root
                .get("servers")
                .or_else(|| root.get("mcp").and_then(|m| m.get("servers")));
            found.extend(entries(client, servers, None, port));
        }
        Shape::ZedContextServers => {
            found.extend(entries(client, root.get("context_servers"), None, port))
        }
        Shape::CodexToml => found.extend(codex_entries(root.get("mcp_servers"), port)),
    }
    Ok(found)
}

/// Gemini's `mcp.excluded`: servers it does not start.
fn gemini_excluded(root: &Value) -> Vec<String> {
    root.get("mcp")
        .and_then(|m| m.get("excluded"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Gemini's `mcp-server-enablement.json` beside its settings: servers switched off with
/// `/mcp disable`, by lowercased name.
fn gemini_switched_off(settings: &Path) -> Vec<String> {
    let Some(path) = settings
        .parent()
        .map(|dir| dir.join("mcp-server-enablement.json"))
    else {
        return Vec::new();
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Vec::new();
    };
    let Ok(Value::Object(entries)) = parse(Client::Gemini, &path, &text) else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter(|(_, state)| state.get("enabled").and_then(Value::as_bool) == Some(false))
        .map(|(name, _)| name.to_lowercase())
        .collect()
}

/// Claude Code's `disabledMcpjsonServers` for a project's `.mcp.json`, from the settings
/// files beside it.
fn claude_code_disabled(mcp_json: &Path) -> Vec<String> {
    let Some(project) = mcp_json.parent() else {
        return Vec::new();
    };
    let mut disabled = Vec::new();
    for name in ["settings.json", "settings.local.json"] {
        let path = project.join(".claude").join(name);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Ok(settings) = parse(Client::ClaudeCode, &path, &text) {
            disabled.extend(
                settings
                    .get("disabledMcpjsonServers")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
        }
    }
    disabled
}

/// The text as JSON: JSON with comments and trailing commas accepted (a lenient read loses
/// nothing), or Codex's TOML. Errors carry the line and column.
pub(super) fn parse(client: Client, path: &Path, text: &str) -> Result<Value, FileError> {
    if client == Client::Codex {
        let table: toml::Table = toml::from_str(text).map_err(|e| {
            let at = e
                .span()
                .map(|span| {
                    let (line, column) = line_column(text, span.start);
                    format!("line {line}, column {column}: ")
                })
                .unwrap_or_default();
            FileError::new(path, format!("{at}{}", e.message()))
        })?;
        return serde_json::to_value(table).map_err(|e| FileError::new(path, e.to_string()));
    }
    if text.trim().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let options = jsonc_parser::ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: false,
        allow_trailing_commas: true,
    };
    match jsonc_parser::parse_to_serde_value(text, &options) {
        Ok(Some(value)) if value.is_object() => Ok(value),
        Ok(_) => Err(FileError::new(
            path,
            "line 1, column 1: the file is not a JSON object",
        )),
        Err(e) => {
            use jsonc_parser::errors::ParseErrorKind::*;
            // Something left open is found missing at the end of the file; say both.
            let message = match e.kind() {
                UnterminatedArray | UnterminatedObject | UnterminatedCommentBlock => {
                    let (line, column) = line_column(text, text.len());
                    format!(
                        "line {line}, column {column}: the file ends before the {} that opens at line {}, column {} is closed",
                        match e.kind() {
                            UnterminatedArray => "array",
                            UnterminatedObject => "object",
                            _ => "comment",
                        },
                        e.line_display(),
                        e.column_display()
                    )
                }
                kind => format!(
                    "line {}, column {}: {kind}",
                    e.line_display(),
                    e.column_display()
                ),
            };
            Err(FileError::new(path, message))
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` of `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

/// The servers of one JSON servers object.
fn entries(
    client: Client,
    servers: Option<&Value>,
    project: Option<&str>,
    port: u16,
) -> Vec<Found> {
    let Some(servers) = servers.and_then(Value::as_object) else {
        return Vec::new();
    };
    servers
        .iter()
        .filter_map(|(name, entry)| {
            let entry = entry.as_object()?;
            Some(entry_of(client, name, entry, project, port))
        })
        .collect()
}

/// A list of strings; numbers and booleans in it are kept as their text (`["--port", 8080]`).
fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn values(client: Client, value: Option<&Value>) -> Vec<FoundValue> {
    value
        .and_then(Value::as_object)
        .map(|object| {
            object
                .iter()
                .map(|(name, value)| {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    FoundValue::classify(client, name, &text)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entry_of(
    client: Client,
    name: &str,
    entry: &Map<String, Value>,
    project: Option<&str>,
    port: u16,
) -> Found {
    let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
    // Zed's old shape: `command: {path, args, env}`.
    let (command, args, env) = match entry.get("command") {
        Some(Value::Object(command)) => (
            command
                .get("path")
                .and_then(Value::as_str)
                .map(str::to_owned),
            strings(command.get("args")),
            values(client, command.get("env")),
        ),
        _ => (
            text("command"),
            strings(entry.get("args")),
            values(client, entry.get("env")),
        ),
    };
    let kind = text("type").or_else(|| text("transport"));
    let (url, transport) = match (text("httpUrl"), text("serverUrl").or_else(|| text("url"))) {
        (Some(url), _) => (Some(url), RemoteTransport::StreamableHttp),
        (None, Some(url)) => {
            let transport = match kind.as_deref() {
                Some("http" | "streamable-http" | "streamableHttp" | "streamable_http") => {
                    RemoteTransport::StreamableHttp
                }
                Some("sse") => RemoteTransport::Sse,
                // Cline reads a URL without a type as legacy SSE.
                _ if client == Client::Cline => RemoteTransport::Sse,
                _ => RemoteTransport::Auto,
            };
            (Some(url), transport)
        }
        (None, None) => (None, RemoteTransport::Auto),
    };
    let enabled = !entry
        .get("disabled")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        && entry
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
    let target = match (command, url) {
        (Some(command), _) => Target::Stdio {
            command,
            args,
            cwd: text("cwd"),
        },
        (None, Some(url)) => Target::Remote { url, transport },
        (None, None) => Target::Nothing,
    };
    finish(
        Found {
            name: name.to_owned(),
            project: project.map(str::to_owned),
            target,
            env,
            headers: values(client, entry.get("headers")),
            enabled,
            skip: None,
            warnings: Vec::new(),
        },
        client,
        port,
    )
}

/// Codex's `[mcp_servers.<name>]` tables: variable names where others hold values.
fn codex_entries(servers: Option<&Value>, port: u16) -> Vec<Found> {
    let Some(servers) = servers.and_then(Value::as_object) else {
        return Vec::new();
    };
    let client = Client::Codex;
    servers
        .iter()
        .filter_map(|(name, entry)| {
            let entry = entry.as_object()?;
            let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_owned);
            let mut env = values(client, entry.get("env"));
            for var in strings(entry.get("env_vars")) {
                env.push(FoundValue::from_variable(&var, &var));
            }
            let mut headers = values(client, entry.get("http_headers"));
            if let Some(var) = text("bearer_token_env_var") {
                let mut bearer = FoundValue::from_variable("Authorization", &var);
                let text = format!("Bearer ${{env:{var}}}");
                bearer.shown = Some(text.clone());
                bearer.value = Sensitive::new(text);
                headers.push(bearer);
            }
            if let Some(map) = entry.get("env_http_headers").and_then(Value::as_object) {
                for (header, var) in map {
                    if let Some(var) = var.as_str() {
                        headers.push(FoundValue::from_variable(header, var));
                    }
                }
            }
            let target = match (text("command"), text("url")) {
                (Some(command), _) => Target::Stdio {
                    command,
                    args: strings(entry.get("args")),
                    cwd: text("cwd"),
                },
                // Codex speaks Streamable HTTP only.
                (None, Some(url)) => Target::Remote {
                    url,
                    transport: RemoteTransport::StreamableHttp,
                },
                (None, None) => Target::Nothing,
            };
            Some(finish(
                Found {
                    name: name.clone(),
                    project: None,
                    target,
                    env,
                    headers,
                    enabled: entry
                        .get("enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                    skip: None,
                    warnings: Vec::new(),
                },
                client,
                port,
            ))
        })
        .collect()
}

/// What no field name reveals, and what should not be imported.
fn finish(mut found: Found, client: Client, port: u16) -> Found {
    match &found.target {
        Target::Nothing => {
            found.skip = Some(match client {
                Client::Zed => "no command or URL: a Zed extension provides this server".into(),
                _ => "no command or URL".into(),
            });
        }
        Target::Stdio { command, args, .. } => {
            let program = Path::new(command)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let bridges_to_switchboard = args
                .iter()
                .filter_map(|a| url::Url::parse(a).ok())
                .any(|u| points_at_switchboard(&u, port));
            if program == "switchboard" && args.first().is_some_and(|a| a == "connect") {
                found.skip = Some("this is Switchboard itself (`switchboard connect`)".into());
            } else if bridges_to_switchboard {
                found.skip =
                    Some("it bridges to Switchboard itself (a loopback Switchboard URL)".into());
            }
            let secret_args: Vec<usize> =
                (0..args.len()).filter(|&i| secret_arg(args, i)).collect();
            for &i in &secret_args {
                found.warnings.push(format!(
                    "argument {} holds a credential; an argument cannot move into the keychain, so it would stay in the command line: give it to the server as an environment variable first",
                    i + 1
                ));
            }
            if !secret_args.is_empty() && found.skip.is_none() {
                found.skip = Some(
                    "an argument holds a credential (see the notes): not imported, so it does not land in the config".into(),
                );
            }
            // What the preview shows of the command: no credential.
            if let Target::Stdio { args, .. } = &mut found.target {
                for i in secret_args {
                    args[i] = "<secret>".into();
                }
            }
        }
        Target::Remote { url, .. } => match url::Url::parse(url) {
            _ if is_placeholder(client, url) => {
                found.skip = Some(format!(
                    "the URL holds a placeholder {} fills in ({url}); add this server by hand",
                    client.title()
                ));
            }
            Ok(parsed) if !matches!(parsed.scheme(), "http" | "https") => {
                found.skip = Some(format!(
                    "a {} URL cannot be reached over HTTP",
                    parsed.scheme()
                ));
            }
            Ok(parsed) if points_at_switchboard(&parsed, port) => {
                found.skip =
                    Some("this is Switchboard itself (a loopback Switchboard endpoint)".into());
            }
            Ok(parsed) => {
                if parsed.password().is_some()
                    || !crate::url_policy::query_key::inline_secrets(url).is_empty()
                {
                    found.skip = Some(
                        "the URL holds a credential; add this server with `switchboard add NAME --url URL --move-inline-secrets`, which moves it into the keychain".into(),
                    );
                    if let Ok((stripped, _)) =
                        crate::url_policy::query_key::strip_inline_secrets(url)
                    {
                        let shown = stripped.to_string();
                        if let Target::Remote { url, .. } = &mut found.target {
                            *url = shown;
                        }
                    }
                } else if parsed.path_segments().into_iter().flatten().any(|segment| {
                    segment.len() >= 20
                        && segment
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        && segment.chars().any(|c| c.is_ascii_digit())
                        && segment.chars().any(|c| c.is_ascii_alphabetic())
                }) {
                    // Some services put the key in the path; no name says so.
                    found.warnings.push(
                        "the URL's path may hold a key; it is imported as written, so check it and move it to the keychain if it is one".into(),
                    );
                }
            }
            Err(e) => found.skip = Some(format!("the URL does not parse: {e}")),
        },
    }
    found
}

/// A loopback URL of one of Switchboard's own endpoints (at its port).
fn points_at_switchboard(url: &url::Url, port: u16) -> bool {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let path = url.path();
    loopback
        && url.port_or_known_default() == Some(port)
        && (path == "/mcp"
            || path == "/sse"
            || path.starts_with("/servers/")
            || path.starts_with("/profiles/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_by_client() {
        assert!(is_placeholder(Client::Cursor, "${env:GITHUB_TOKEN}"));
        assert!(is_placeholder(Client::Vscode, "Bearer ${input:token}"));
        assert!(!is_placeholder(Client::Cursor, "$HOME"));
        assert!(is_placeholder(Client::Gemini, "$API_KEY"));
        assert!(is_placeholder(Client::Gemini, "%API_KEY%"));
        assert!(!is_placeholder(Client::Gemini, "costs $5"));
    }

    #[test]
    fn positions_are_one_based() {
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("x", 0), (1, 1));
    }
}
