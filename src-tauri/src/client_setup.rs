//! Ready-to-paste snippets that point MCP clients at an endpoint behind the proxy: one
//! server, the aggregate of all of them (`/mcp`), or a profile.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// What stands in for the key unless the user asked to reveal it.
pub const KEY_PLACEHOLDER: &str = "<your Switchboard API key>";

/// The name the aggregate endpoint gets in a client's config.
pub const AGGREGATE_ENTRY: &str = "switchboard";

/// The name a profile's endpoint gets in a client's config: beside the servers a client
/// may also have added one by one, it must not take one of their names.
pub fn profile_entry(profile: &str) -> String {
    format!("{AGGREGATE_ENTRY}-{profile}")
}

/// What stands in for a profile's own key unless the user asked to reveal it.
pub fn profile_key_placeholder(profile: &str) -> String {
    format!("<the key of the Switchboard profile {profile}>")
}

/// One snippet per client, as the `client_setup` command returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSetup {
    pub claude_code: String,
    pub cursor: String,
    pub vscode: String,
    pub windsurf: String,
    /// `None` where the stdio bridge cannot go (a profile's endpoint).
    pub claude_desktop: Option<String>,
}

/// How Claude Desktop, which speaks stdio only, reaches the endpoint: the `switchboard`
/// program run as `switchboard connect …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub cli: String,
    /// From `connect_args`.
    pub args: Vec<String>,
}

/// `switchboard connect`'s arguments: `options` (`--port`, `--config`) when it would not
/// find this proxy by itself, then the server, or none for the aggregate endpoint.
pub fn connect_args(options: &[String], server: Option<&str>) -> Vec<String> {
    let mut args = vec!["connect".to_owned()];
    args.extend(options.iter().cloned());
    args.extend(server.map(str::to_owned));
    args
}

/// `name`: the entry's name in the client's config. `key`: `None` when the proxy checks no
/// key (then no header is sent). `bridge`: `None` leaves Claude Desktop out.
pub fn client_setup(
    name: &str,
    mcp_url: &str,
    key: Option<&str>,
    bridge: Option<&Bridge>,
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
        claude_desktop: bridge.map(|bridge| {
            pretty(&json!({
                "mcpServers": { name: { "command": bridge.cli, "args": bridge.args } }
            }))
        }),
    }
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

    fn bridge(cli: &str, options: &[String], server: Option<&str>) -> Bridge {
        Bridge {
            cli: cli.into(),
            args: connect_args(options, server),
        }
    }

    #[test]
    fn every_client_gets_the_url_and_the_key() {
        let bridge = bridge("/opt/sb/switchboard", &[], Some("demo"));
        let setup = client_setup("demo", URL, Some("sbk_k"), Some(&bridge));
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
        let desktop: Value =
            serde_json::from_str(setup.claude_desktop.as_deref().unwrap()).unwrap();
        assert_eq!(
            desktop,
            json!({"mcpServers": {"demo": {"command": "/opt/sb/switchboard", "args": ["connect", "demo"]}}})
        );
    }

    #[test]
    fn the_aggregate_is_bridged_without_a_server_and_a_profile_not_at_all() {
        let url = "http://127.0.0.1:17345/mcp";
        let bridge = bridge("switchboard", &[], None);
        let setup = client_setup(AGGREGATE_ENTRY, url, Some("k"), Some(&bridge));
        let desktop: Value =
            serde_json::from_str(setup.claude_desktop.as_deref().unwrap()).unwrap();
        assert_eq!(
            desktop,
            json!({"mcpServers": {"switchboard": {"command": "switchboard", "args": ["connect"]}}})
        );
        let url = "http://127.0.0.1:17345/profiles/work/mcp";
        let setup = client_setup(&profile_entry("work"), url, Some("k"), None);
        assert_eq!(setup.claude_desktop, None);
        let cursor: Value = serde_json::from_str(&setup.cursor).unwrap();
        assert_eq!(cursor["mcpServers"]["switchboard-work"]["url"], url);
    }

    #[test]
    fn no_key_no_header() {
        let setup = client_setup("demo", URL, None, None);
        assert_eq!(
            setup.claude_code,
            format!("claude mcp add --transport http demo {URL}")
        );
        assert!(!setup.cursor.contains("headers"), "{}", setup.cursor);
    }

    #[test]
    fn claude_desktop_is_told_the_port_and_config_it_would_not_find() {
        let options = ["--config", "/tmp/my config.json", "--port", "4242"].map(String::from);
        let bridge = bridge("switchboard", &options, Some("demo"));
        let setup = client_setup("demo", URL, None, Some(&bridge));
        let desktop: Value =
            serde_json::from_str(setup.claude_desktop.as_deref().unwrap()).unwrap();
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
