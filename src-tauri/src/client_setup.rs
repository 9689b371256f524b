//! Ready-to-paste snippets that point MCP clients at one server behind the proxy.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// What stands in for the key unless the user asked to reveal it.
pub const KEY_PLACEHOLDER: &str = "<your Switchboard API key>";

/// One snippet per client, as the `client_setup` command returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSetup {
    pub claude_code: String,
    pub cursor: String,
    pub vscode: String,
    pub windsurf: String,
    pub claude_desktop: String,
}

/// `key`: `None` when the proxy checks no key (then no header is sent).
/// `cli`: the `switchboard` program Claude Desktop runs as a stdio bridge, with
/// `connect_options` (`--port`, `--config`) when it would not find this proxy by itself.
pub fn client_setup(
    name: &str,
    mcp_url: &str,
    key: Option<&str>,
    cli: &str,
    connect_options: &[String],
) -> ClientSetup {
    let headers = |map: &mut Map<String, Value>| {
        if let Some(key) = key {
            map.insert(
                "headers".into(),
                json!({ "Authorization": format!("Bearer {key}") }),
            );
        }
    };
    let mut cursor = Map::new();
    cursor.insert("url".into(), mcp_url.into());
    headers(&mut cursor);
    // Windsurf names the field `serverUrl`.
    let mut windsurf = Map::new();
    windsurf.insert("serverUrl".into(), mcp_url.into());
    headers(&mut windsurf);
    let mut vscode = Map::new();
    vscode.insert("type".into(), "http".into());
    vscode.insert("url".into(), mcp_url.into());
    headers(&mut vscode);

    let claude_code = match key {
        Some(key) => format!(
            "claude mcp add --transport http {} {} --header {}",
            shell_quote(name),
            shell_quote(mcp_url),
            shell_quote(&format!("Authorization: Bearer {key}"))
        ),
        None => format!(
            "claude mcp add --transport http {} {}",
            shell_quote(name),
            shell_quote(mcp_url)
        ),
    };
    ClientSetup {
        claude_code,
        cursor: pretty(&json!({ "mcpServers": { name: cursor } })),
        vscode: pretty(&json!({ "servers": { name: vscode } })),
        windsurf: pretty(&json!({ "mcpServers": { name: windsurf } })),
        claude_desktop: pretty(&json!({
            "mcpServers": { name: { "command": cli, "args": connect_args(name, connect_options) } }
        })),
    }
}

fn connect_args(name: &str, options: &[String]) -> Vec<String> {
    let mut args = vec!["connect".to_owned()];
    args.extend(options.iter().cloned());
    args.push(name.to_owned());
    args
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// Double quotes for anything a POSIX shell would split or expand; bare when safe.
fn shell_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_.:/@=+,%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        return text.to_owned();
    }
    let mut out = String::from("\"");
    for c in text.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "http://127.0.0.1:17345/servers/demo/mcp";

    #[test]
    fn every_client_gets_the_url_and_the_key() {
        let setup = client_setup("demo", URL, Some("sbk_k"), "/opt/sb/switchboard", &[]);
        assert_eq!(
            setup.claude_code,
            format!(
                "claude mcp add --transport http demo {URL} --header \"Authorization: Bearer sbk_k\""
            )
        );
        let cursor: Value = serde_json::from_str(&setup.cursor).unwrap();
        assert_eq!(
            cursor,
            json!({"mcpServers": {"demo": {"url": URL, "headers": {"Authorization": "Bearer sbk_k"}}}})
        );
        let vscode: Value = serde_json::from_str(&setup.vscode).unwrap();
        assert_eq!(
            vscode,
            json!({"servers": {"demo": {"type": "http", "url": URL, "headers": {"Authorization": "Bearer sbk_k"}}}})
        );
        let windsurf: Value = serde_json::from_str(&setup.windsurf).unwrap();
        assert_eq!(windsurf["mcpServers"]["demo"]["serverUrl"], URL);
        let desktop: Value = serde_json::from_str(&setup.claude_desktop).unwrap();
        assert_eq!(
            desktop,
            json!({"mcpServers": {"demo": {"command": "/opt/sb/switchboard", "args": ["connect", "demo"]}}})
        );
    }

    #[test]
    fn no_key_no_header() {
        let setup = client_setup("demo", URL, None, "switchboard", &[]);
        assert_eq!(
            setup.claude_code,
            format!("claude mcp add --transport http demo {URL}")
        );
        assert!(!setup.cursor.contains("headers"), "{}", setup.cursor);
    }

    #[test]
    fn claude_desktop_is_told_the_port_and_config_it_would_not_find() {
        let options = ["--config", "/tmp/my config.json", "--port", "4242"].map(String::from);
        let setup = client_setup("demo", URL, None, "switchboard", &options);
        let desktop: Value = serde_json::from_str(&setup.claude_desktop).unwrap();
        assert_eq!(
            desktop["mcpServers"]["demo"]["args"],
            json!([
                "connect",
                "--config",
                "/tmp/my config.json",
                "--port",
                "4242",
                "demo"
            ])
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("a b$`\"\\"), "\"a b\\$\\`\\\"\\\\\"");
    }
}
