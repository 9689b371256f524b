//! The real `switchboard` binary: serve, signals, port and config errors.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};
use switchboard_core::config::{Config, Sharing};

use crate::support::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Serve {
    child: Child,
    port: u16,
    stdout: Vec<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `switchboard serve` and reads its stdout up to the endpoint list.
fn serve(config: &std::path::Path, port: u16) -> Serve {
    spawn_serve(
        Command::new(switchboard_binary())
            .args(["serve", "--config"])
            .arg(config)
            .args(["--port", &port.to_string()])
            .env("SWITCHBOARD_API_KEY", TEST_KEY),
        port,
    )
}

/// Runs `command` (a `switchboard serve` that should listen on `port`) and reads its stdout
/// up to the endpoint list.
fn spawn_serve(command: &mut Command, port: u16) -> Serve {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stdout = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("/servers/");
        stdout.push(line);
        if done {
            break;
        }
    }
    // Keep draining so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Serve {
        child,
        port,
        stdout,
    }
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("switchboard did not exit");
}

async fn stops_children_on(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let port = free_port();
    let mut serve = serve(&config, port);
    assert!(
        serve
            .stdout
            .iter()
            .any(|l| l.contains(&format!("http://127.0.0.1:{port}/servers/demo/mcp"))),
        "{:?}",
        serve.stdout
    );
    // First run wrote a config with the demo server in it.
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        written["mcpServers"]["demo"]["args"],
        json!(["demo-server"])
    );

    let mut client =
        Client::connect(format!("http://127.0.0.1:{}/servers/demo/mcp", serve.port)).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"from the cli"})).await),
        "from the cli"
    );
    // The session's child, and the warm spare started beside it for the next session.
    let mut status = Value::Null;
    for _ in 0..200 {
        status = http()
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["servers"][0]["spare_pid"].is_u64() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = status["servers"][0]["pids"][0].as_u64().unwrap() as u32;
    let spare = status["servers"][0]["spare_pid"]
        .as_u64()
        .unwrap_or_else(|| panic!("no warm spare: {status}")) as u32;

    kill(Pid::from_raw(serve.child.id() as i32), signal).unwrap();
    let exit = wait_exit(&mut serve.child);
    assert!(exit.success(), "{exit:?}");
    for child in [pid, spare] {
        assert!(
            wait_until_gone(child).await,
            "demo server {child} outlived switchboard"
        );
    }
}

#[tokio::test]
async fn serve_stops_every_child_on_sigterm() {
    stops_children_on(Signal::SIGTERM).await;
}

#[tokio::test]
async fn serve_stops_every_child_on_ctrl_c() {
    stops_children_on(Signal::SIGINT).await;
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(switchboard_binary())
        .args(["serve", "--config"])
        .arg(dir.path().join("c.json"))
        .args(["--port", &port.to_string()])
        .env("SWITCHBOARD_API_KEY", TEST_KEY)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn a_broken_config_names_line_and_column_and_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let broken = "{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\" \"args\": []}\n  }\n}\n";
    std::fs::write(&config, broken).unwrap();
    let output = Command::new(switchboard_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--port", &free_port().to_string()])
        .env("SWITCHBOARD_API_KEY", TEST_KEY)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("{}:3:", config.display())),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        broken,
        "the broken file must not be replaced"
    );
}

#[tokio::test]
async fn the_key_never_reaches_a_log_line_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let log_path = dir.path().join("serve.log");
    let port = free_port();
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(switchboard_binary())
        .args(["-vv", "serve", "--config"])
        .arg(&config)
        .args(["--port", &port.to_string()])
        .env("SWITCHBOARD_API_KEY", TEST_KEY)
        .env("RUST_LOG", "trace")
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if reqwest::get(format!("{base}/status")).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Failed requests: no key, a wrong key, the key in the wrong scheme, a foreign origin.
    let plain = reqwest::Client::new();
    let mcp = format!("{base}/servers/demo/mcp");
    plain.post(&mcp).body("{}").send().await.unwrap();
    plain
        .post(&mcp)
        .header("x-api-key", "sbk_wrong")
        .body("{}")
        .send()
        .await
        .unwrap();
    plain
        .post(&mcp)
        .header("authorization", format!("Basic {TEST_KEY}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    http()
        .post(&mcp)
        .header("origin", "http://evil.example.com")
        .body("{}")
        .send()
        .await
        .unwrap();
    // Successful ones, with the key in both header forms, and a bad body behind the key.
    let mut client = Client::connect(mcp.clone()).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"logged"})).await),
        "logged"
    );
    plain
        .get(format!("{base}/status"))
        .header("X-API-Key", TEST_KEY)
        .send()
        .await
        .unwrap();
    http().post(&mcp).body("{not json").send().await.unwrap();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(wait_exit(&mut child).success());

    let captured = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        captured.contains("TRACE") || captured.contains("DEBUG"),
        "the log was not verbose:\n{captured}"
    );
    assert!(captured.contains("started server 'demo'"));
    let secret_part = &TEST_KEY["sbk_".len()..];
    assert!(
        !captured.contains(secret_part),
        "the API key reached the log:\n{captured}"
    );
}

#[test]
fn without_a_keychain_serve_fails_closed_and_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(switchboard_binary())
        .args(["serve", "--config"])
        .arg(dir.path().join("c.json"))
        .args(["--port", &free_port().to_string()])
        .env_remove("SWITCHBOARD_API_KEY")
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", dir.path().display()),
        )
        .output()
        .unwrap();
    assert!(!output.status.success(), "serve ran without a key");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("keychain is unavailable"), "{stderr}");
    assert!(
        stderr.contains("SWITCHBOARD_API_KEY"),
        "the fix is not named: {stderr}"
    );
    let config = std::fs::read_to_string(dir.path().join("c.json")).unwrap_or_default();
    assert!(
        !config.contains("sbk_"),
        "a key was written to the config file"
    );
}

#[tokio::test]
async fn require_api_key_false_turns_checks_off_even_with_an_explicit_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let written = json!({
        "mcpServers": {"fx": {"command": fixture_path()}},
        "switchboard": {"requireApiKey": false}
    });
    std::fs::write(&config, written.to_string()).unwrap();
    let stderr_path = dir.path().join("stderr");
    let port = free_port();
    let mut child = Command::new(switchboard_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--port", &port.to_string()])
        .env("SWITCHBOARD_API_KEY", TEST_KEY)
        // No keychain is needed to run without a key.
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", dir.path().display()),
        )
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let mut stdout = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("/servers/");
        stdout.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let mut serve = Serve {
        child,
        port,
        stdout,
    };

    let mut client = Client::new(format!("http://127.0.0.1:{}/servers/fx/mcp", serve.port));
    client.http = reqwest::Client::new(); // no key at all
    client.request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}})).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"open"})).await),
        "open"
    );
    assert!(
        !serve
            .stdout
            .iter()
            .any(|l| l.contains("must send the API key")),
        "{:?}",
        serve.stdout
    );
    kill(Pid::from_raw(serve.child.id() as i32), Signal::SIGTERM).unwrap();
    wait_exit(&mut serve.child);
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(
        stderr.contains("WARNING: API key checks are off (\"requireApiKey\": false"),
        "{stderr}"
    );
    assert!(stderr.contains("is not checked either"), "{stderr}");
    assert!(!stderr.contains(TEST_KEY), "{stderr}");
}

fn add(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(switchboard_binary())
        .args(["add", "--config"])
        .arg(config)
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap()
}

#[test]
fn add_writes_local_and_remote_servers_with_secret_references_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let local = add(
        &config,
        &[
            "fx",
            "--env",
            "MODE=fast",
            "--env-secret",
            "GITHUB_TOKEN=gh",
            "--shared",
            "--",
            "/bin/fx",
            "--flag",
        ],
    );
    assert!(
        local.status.success(),
        "{}",
        String::from_utf8_lossy(&local.stderr)
    );
    let remote = add(
        &config,
        &[
            "up",
            "--url",
            "https://mcp.example.com/mcp",
            "--auth",
            "bearer",
            "--secret",
            "up-token",
            "--header",
            "X-Team=core",
        ],
    );
    assert!(
        remote.status.success(),
        "{}",
        String::from_utf8_lossy(&remote.stderr)
    );
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        written["mcpServers"]["fx"],
        json!({"command": "/bin/fx", "args": ["--flag"], "env": {"MODE": "fast", "GITHUB_TOKEN": {"secret": "gh"}}, "sharing": "shared"})
    );
    assert_eq!(
        written["mcpServers"]["up"],
        json!({"url": "https://mcp.example.com/mcp", "headers": {"X-Team": "core"}, "auth": {"type": "bearer", "secret": "up-token"}})
    );
    let again = add(&config, &["up", "--url", "https://other.example.com/mcp"]);
    assert!(
        !again.status.success(),
        "an existing server was replaced without --force"
    );
}

#[test]
fn add_refuses_query_auth_while_it_is_off_and_says_how_to_enable_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let output = add(
        &config,
        &[
            "tavily",
            "--url",
            "https://mcp.tavily.com/mcp",
            "--auth",
            "query",
            "--param",
            "tavilyApiKey",
            "--secret",
            "tavily",
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("allowQueryParamAuth"), "{stderr}");
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap_or_default()
            .contains("tavily")
    );
    // Enabled, with the origin allowed: accepted.
    std::fs::write(&config, r#"{"mcpServers":{},"switchboard":{"allowQueryParamAuth":true,"queryParamAuthOrigins":["https://mcp.tavily.com"]}}"#).unwrap();
    let output = add(
        &config,
        &[
            "tavily",
            "--url",
            "https://mcp.tavily.com/mcp",
            "--auth",
            "query",
            "--param",
            "tavilyApiKey",
            "--secret",
            "tavily",
        ],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // An origin that is not on the list: refused.
    let output = add(
        &config,
        &[
            "other",
            "--url",
            "https://mcp.other.com/mcp",
            "--auth",
            "query",
            "--param",
            "k",
            "--secret",
            "o",
        ],
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("queryParamAuthOrigins"));
}

#[test]
fn add_refuses_a_url_with_a_credential_in_it_without_repeating_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    for url in [
        "https://mcp.example.com/mcp?apiKey=s3cr3t-value",
        "https://me:s3cr3t-value@mcp.example.com/mcp",
    ] {
        let output = add(&config, &["up", "--url", url]);
        assert!(!output.status.success(), "{url}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("keychain"), "{stderr}");
        assert!(
            !stderr.contains("s3cr3t-value"),
            "the error repeats the credential: {stderr}"
        );
        assert!(
            !std::fs::read_to_string(&config)
                .unwrap_or_default()
                .contains("s3cr3t")
        );
    }
}

/// `switchboard serve` in a scratch environment: no launch variable inherited, and an OS
/// config directory of its own (so a default path, if used, is visible and harmless).
fn serve_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(switchboard_binary());
    command
        .arg("serve")
        .env_remove("SWITCHBOARD_CONFIG")
        .env_remove("SWITCHBOARD_PORT")
        .env("SWITCHBOARD_API_KEY", TEST_KEY)
        .env("XDG_CONFIG_HOME", dir.join("xdg"));
    command
}

async fn status_code(port: u16) -> u16 {
    reqwest::get(format!("http://127.0.0.1:{port}/status"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn serve_reads_switchboard_config_and_switchboard_port_as_the_desktop_does() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("from-env").join("config.json");
    let port = free_port();
    let mut command = serve_command(dir.path());
    command
        .env("SWITCHBOARD_CONFIG", &config)
        .env("SWITCHBOARD_PORT", port.to_string());
    let serve = spawn_serve(&mut command, port);

    let stdout = serve.stdout.join("\n");
    assert!(
        stdout.contains(&format!("listening on http://127.0.0.1:{port}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("Config: {}", config.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{port}/servers/demo/mcp")),
        "{stdout}"
    );
    assert_eq!(status_code(port).await, 200);
    // The first-run config went where the variable points, not to the default place.
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(written.contains("demo-server"), "{written}");
    assert!(!dir.path().join("xdg").join("switchboard").exists());
}

#[tokio::test]
async fn switchboard_port_beats_the_config_and_flags_beat_both() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, port: u16| {
        let path = dir.path().join(name);
        let config = json!({
            "mcpServers": {name: {"command": fixture_path()}},
            "switchboard": {"port": port}
        });
        std::fs::write(&path, config.to_string()).unwrap();
        path
    };
    let (config_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let from_env = write("env", config_port);
    let from_flag = write("flag", config_port);

    let mut command = serve_command(dir.path());
    command
        .env("SWITCHBOARD_CONFIG", &from_env)
        .env("SWITCHBOARD_PORT", env_port.to_string());
    let serve = spawn_serve(&mut command, env_port);
    let stdout = serve.stdout.join("\n");
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{env_port}/servers/env/mcp")),
        "{stdout}"
    );
    assert_eq!(status_code(env_port).await, 200);
    drop(serve);

    let mut command = serve_command(dir.path());
    command
        .env("SWITCHBOARD_CONFIG", &from_env)
        .env("SWITCHBOARD_PORT", env_port.to_string())
        .arg("--config")
        .arg(&from_flag)
        .args(["--port", &flag_port.to_string()]);
    let serve = spawn_serve(&mut command, flag_port);
    let stdout = serve.stdout.join("\n");
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{flag_port}/servers/flag/mcp")),
        "{stdout}"
    );
    assert_eq!(status_code(flag_port).await, 200);
    drop(serve);

    // Without either, the config's port.
    let mut command = serve_command(dir.path());
    command.arg("--config").arg(&from_env);
    let serve = spawn_serve(&mut command, config_port);
    let stdout = serve.stdout.join("\n");
    assert!(
        stdout.contains(&format!("http://127.0.0.1:{config_port}/servers/env/mcp")),
        "{stdout}"
    );
}

#[test]
fn a_bad_switchboard_port_or_key_stops_serve_before_it_writes_anything() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let output = serve_command(dir.path())
        .env("SWITCHBOARD_CONFIG", &config)
        .env("SWITCHBOARD_PORT", "http")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SWITCHBOARD_PORT: 'http' is not a port number"),
        "{stderr}"
    );

    let short = "sbk_too-short";
    let output = serve_command(dir.path())
        .env("SWITCHBOARD_CONFIG", &config)
        .env("SWITCHBOARD_API_KEY", short)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SWITCHBOARD_API_KEY: the API key must be at least 16 characters"),
        "{stderr}"
    );
    assert!(!stderr.contains(short), "{stderr}");
    assert!(!config.exists(), "a config was written");
}

/// A credential typed as a plain `--env` or `--header` value is refused, not written into
/// the config: the message says how to keep it in the keychain instead.
#[test]
fn add_refuses_credentials_given_in_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    for (args, value) in [
        (
            vec![
                "gh",
                "--env",
                "GITHUB_TOKEN=ghp_plaintext0123",
                "--",
                "gh-mcp",
            ],
            "ghp_plaintext0123",
        ),
        (
            vec!["tool", "--env", "OPTIONS=sk-looks-like-a-key", "--", "tool"],
            "sk-looks-like-a-key",
        ),
        (
            vec![
                "api",
                "--url",
                "https://mcp.example.com/mcp",
                "--header",
                "Authorization=Bearer plaintext-token",
            ],
            "plaintext-token",
        ),
    ] {
        let output = add(&config, &args);
        assert!(!output.status.success(), "{args:?} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--store-secrets"), "{stderr}");
        assert!(!stderr.contains(value), "the value was repeated: {stderr}");
        assert!(
            !std::fs::read_to_string(&config)
                .unwrap_or_default()
                .contains(value)
        );
    }
    // A plain value that is no credential is fine.
    let output = add(
        &config,
        &["plain", "--env", "LOG_LEVEL=debug", "--", "tool"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A credential over plain http to another host is refused when the server is added (and
/// again at connect time): anyone on the network path could read it.
#[test]
fn add_refuses_a_credential_over_plain_http_to_another_host() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let output = add(
        &config,
        &[
            "far",
            "--url",
            "http://mcp.example.com/mcp",
            "--auth",
            "bearer",
            "--secret",
            "tok",
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("use https"), "{stderr}");
    // Loopback over plain http is fine (a local server), and so is https.
    for url in ["http://127.0.0.1:9/mcp", "https://mcp.example.com/mcp"] {
        let output = add(
            &config,
            &[
                "ok", "--force", "--url", url, "--auth", "bearer", "--secret", "tok",
            ],
        );
        assert!(
            output.status.success(),
            "{url}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// `switchboard serve` with 1,024 open files at most (`ulimit -n 1024`, hard and soft) and
/// 600 session attempts, 50 at a time: those past the bounds get a clear 503, the proxy
/// keeps answering, and once the sessions end no child is left.
#[tokio::test]
async fn serve_under_ulimit_1024_refuses_past_its_bounds_and_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({"mcpServers": {"fx": {"command": fixture_path(), "args": []}}}).to_string(),
    )
    .unwrap();
    let port = free_port();
    let script = format!("ulimit -n 1024 && exec \"$0\" serve --config \"$1\" --port {port}");
    let serve = spawn_serve(
        Command::new("sh")
            .args(["-c", &script])
            .arg(switchboard_binary())
            .arg(&config)
            .env("SWITCHBOARD_API_KEY", TEST_KEY),
        port,
    );
    let endpoint = format!("http://127.0.0.1:{port}/servers/fx/mcp");
    let http = http();
    let (mut opened, mut refused, mut other) = (Vec::new(), 0, Vec::new());
    for _ in 0..12 {
        let batch = (0..50).map(|_| {
            let request = http
                .post(&endpoint)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string())
                .send();
            async move {
                let response = request.await.expect("answered");
                let status = response.status().as_u16();
                let session = response
                    .headers()
                    .get("mcp-session-id")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = response.text().await.unwrap_or_default();
                (status, session, body)
            }
        });
        for (status, session, body) in futures::future::join_all(batch).await {
            match (status, session) {
                (200, Some(session)) => opened.push(session),
                (503, None) if body.contains("switchboard.limits") => refused += 1,
                _ => other.push(format!("{status}: {body}")),
            }
        }
    }
    assert!(other.is_empty(), "{other:?}");
    assert_eq!(opened.len(), 64, "the default bound of sessions per server");
    assert_eq!(refused, 600 - 64);
    // Healthy: the sessions work and /status answers.
    let mut client = Client::with_session(endpoint.clone(), Some(opened[0].clone()));
    assert_eq!(
        text(&client.call("echo", json!({"message": "fine"})).await),
        "fine"
    );
    assert_eq!(status_code(port).await, 200);
    // Every session ends: no child is left but the server's warm spare.
    for session in &opened {
        let ended = Client::with_session(endpoint.clone(), Some(session.clone()));
        ended.delete().await;
    }
    let status: Value = http
        .get(format!("http://127.0.0.1:{port}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spare = status["servers"][0]["spare_pid"]
        .as_u64()
        .map(|p| p.to_string());
    let pid = serve.child.id();
    let mut children = Vec::new();
    for _ in 0..100 {
        children = std::fs::read_dir(format!("/proc/{pid}/task"))
            .map(|tasks| {
                tasks
                    .filter_map(|t| t.ok())
                    .map(|t| std::fs::read_to_string(t.path().join("children")).unwrap_or_default())
                    .collect::<String>()
            })
            .unwrap_or_default()
            .split_whitespace()
            .filter(|child| Some(*child) != spare.as_deref())
            .map(str::to_owned)
            .collect();
        if children.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        children.is_empty(),
        "children left: {children:?} (spare: {spare:?})"
    );
}

fn switchboard(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    let output = Command::new(switchboard_binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "switchboard {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn tools_lists_exposed_names_and_switches_tools_in_the_server_or_a_profile() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let mut file = Config::default();
    for name in ["alpha", "beta"] {
        file.servers
            .insert(name.into(), fixture(&[], Sharing::PerSession));
    }
    file.save(&config).unwrap();
    let listed = String::from_utf8(switchboard(&config, &["tools"]).stdout).unwrap();
    for name in ["alpha__echo", "alpha__pid", "beta__echo", "beta__pid"] {
        assert!(listed.contains(name), "{name} missing: {listed}");
    }
    switchboard(&config, &["tools", "alpha", "--disable", "echo"]);
    let listed = String::from_utf8(switchboard(&config, &["tools", "alpha"]).stdout).unwrap();
    assert!(
        listed
            .lines()
            .any(|l| l.trim_start().starts_with("off  echo")),
        "{listed}"
    );
    assert!(!listed.contains("alpha__echo"), "{listed}");
    assert_eq!(
        Config::load(&config).unwrap().servers["alpha"].tools.deny,
        ["echo"]
    );

    switchboard(&config, &["profile", "add", "ide", "--server", "beta"]);
    switchboard(
        &config,
        &["tools", "beta", "--profile", "ide", "--disable", "pid"],
    );
    let listed =
        String::from_utf8(switchboard(&config, &["tools", "--profile", "ide"]).stdout).unwrap();
    assert!(
        listed.contains("beta__echo") && !listed.contains("beta__pid"),
        "{listed}"
    );
    assert!(!listed.contains("alpha"), "{listed}");
    assert!(
        listed.contains("1 of 2 tools are shown on /profiles/ide/mcp"),
        "{listed}"
    );
    let profiles = String::from_utf8(switchboard(&config, &["profile", "list"]).stdout).unwrap();
    assert!(
        profiles.contains("/profiles/ide/mcp") && profiles.contains("beta"),
        "{profiles}"
    );
    // A profile of a server that is not there, or a name that is no URL segment, is refused.
    for args in [
        &["profile", "add", "x", "--server", "nope"][..],
        &["profile", "add", "a b", "--server", "beta"],
    ] {
        let out = Command::new(switchboard_binary())
            .args(args)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} accepted");
    }
    switchboard(&config, &["profile", "remove", "ide"]);
    assert!(Config::load(&config).unwrap().proxy.profiles.is_empty());
}

/// `switchboard` with HOME (and the config directory under it) at `home`, no keychain.
fn switchboard_at(
    home: &std::path::Path,
    config: &std::path::Path,
    args: &[&str],
) -> std::process::Output {
    Command::new(switchboard_binary())
        .args(args)
        .arg("--config")
        .arg(config)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("SWITCHBOARD_API_KEY", TEST_KEY)
        .env_remove("SWITCHBOARD_PORT")
        .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .current_dir(home)
        .output()
        .unwrap()
}

#[test]
fn import_and_clients_connect_and_undo_from_the_command_line() {
    let home = tempfile::tempdir().unwrap();
    let cursor = home.path().join(".cursor");
    std::fs::create_dir_all(&cursor).unwrap();
    let original = "{\n  // mine\n  \"mcpServers\": {\n    \"time\": { \"command\": \"uvx\", \"args\": [\"mcp-server-time\"] },\n    \"gh\": { \"command\": \"npx\", \"env\": { \"GITHUB_TOKEN\": \"ghp_FAKEFAKEFAKE0123456789abcdefABCDEF01\" } }\n  }\n}\n";
    std::fs::write(cursor.join("mcp.json"), original).unwrap();
    let config = home.path().join("switchboard.json");
    std::fs::write(&config, "{\"mcpServers\": {}}").unwrap();

    let preview = switchboard_at(home.path(), &config, &["import", "--dry-run"]);
    let shown = String::from_utf8_lossy(&preview.stdout);
    assert!(preview.status.success(), "{shown}");
    assert!(
        shown.contains("[time]") && shown.contains("[gh]"),
        "{shown}"
    );
    assert!(
        shown.contains("GITHUB_TOKEN = secret: moves to the keychain"),
        "{shown}"
    );
    assert!(!shown.contains("ghp_FAKE"), "a secret was printed: {shown}");
    // No keychain here: a server with a secret is not imported (no plaintext fallback),
    // and nothing is written.
    let refused = switchboard_at(home.path(), &config, &["import", "--yes"]);
    assert!(!refused.status.success());
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "{\"mcpServers\": {}}"
    );
    let only_time = switchboard_at(
        home.path(),
        &config,
        &["import", "--from", "cursor", "--dry-run"],
    );
    assert!(only_time.status.success());

    let listed = switchboard_at(home.path(), &config, &["clients"]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("cursor") && listed.contains("not connected"),
        "{listed}"
    );
    let dry = switchboard_at(
        home.path(),
        &config,
        &["clients", "connect", "cursor", "--dry-run"],
    );
    let diff = String::from_utf8_lossy(&dry.stdout);
    assert!(
        dry.status.success(),
        "{diff}{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        diff.contains("+    \"switchboard\"") && !diff.contains(TEST_KEY),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(cursor.join("mcp.json")).unwrap(),
        original
    );
    // Not on a terminal, and no --yes: nothing is written.
    let unasked = switchboard_at(home.path(), &config, &["clients", "connect", "cursor"]);
    assert!(!unasked.status.success());
    assert_eq!(
        std::fs::read_to_string(cursor.join("mcp.json")).unwrap(),
        original
    );
    let wrote = switchboard_at(
        home.path(),
        &config,
        &["clients", "connect", "cursor", "--yes"],
    );
    assert!(
        wrote.status.success(),
        "{}",
        String::from_utf8_lossy(&wrote.stderr)
    );
    let connected = std::fs::read_to_string(cursor.join("mcp.json")).unwrap();
    assert!(
        connected.contains("// mine") && connected.contains("/mcp") && connected.contains(TEST_KEY)
    );
    let listed = switchboard_at(home.path(), &config, &["clients"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("connected"));
    let again = switchboard_at(home.path(), &config, &["clients", "connect", "cursor"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("nothing to change"));
    let undone = switchboard_at(home.path(), &config, &["clients", "undo", "cursor"]);
    assert!(
        undone.status.success(),
        "{}",
        String::from_utf8_lossy(&undone.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(cursor.join("mcp.json")).unwrap(),
        original
    );
}
