//! Against a real Secret Service (gnome-keyring): the key is generated, persisted, read
//! back after `serve` restarts, and rotated. Run by `scripts/test-keychain.sh`, which
//! starts a private D-Bus session with a fresh, unlocked keyring.

#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use switchboard_core::secrets::{KeychainStore, SecretStore, Sensitive};

fn switchboard() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let mut command = Command::new(dir.join("switchboard"));
    command.env_remove("SWITCHBOARD_API_KEY");
    command
}

fn in_private_keyring() {
    assert_eq!(
        std::env::var("SWITCHBOARD_TEST_SECRET_SERVICE").as_deref(),
        Ok("1"),
        "run this through scripts/test-keychain.sh: it must not touch your real keychain"
    );
}

fn key_command(action: &str) -> String {
    let output = switchboard().args(["key", action]).output().unwrap();
    assert!(
        output.status.success(),
        "key {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &std::path::Path, port: u16) -> Serve {
    let child = switchboard()
        .args(["serve", "--config"])
        .arg(dir.join("config.json"))
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Serve(child)
}

/// Whether `/status` gives details for `key` (it does only for the right key).
fn accepts(port: u16, key: &str) -> Option<bool> {
    let output = Command::new("curl")
        .args([
            "-s",
            "-H",
            &format!("X-API-Key: {key}"),
            &format!("http://127.0.0.1:{port}/status"),
        ])
        .output()
        .ok()?;
    let body = String::from_utf8_lossy(&output.stdout);
    body.contains("\"status\"")
        .then(|| body.contains("\"servers\""))
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting until {what}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
#[ignore = "needs a private Secret Service; scripts/test-keychain.sh runs it"]
fn the_key_lives_in_the_secret_service_across_restarts_and_rotates() {
    in_private_keyring();
    let dir = tempfile::tempdir().unwrap();
    let first = key_command("show");
    assert!(first.starts_with("sbk_") && first.len() == 47, "{first}");
    assert_eq!(key_command("show"), first, "show must not change the key");

    let port = free_port();
    let running = serve(dir.path(), port);
    wait_for("serve accepts the stored key", || {
        accepts(port, &first) == Some(true)
    });
    drop(running);

    // A restart reads the same key back from the keychain.
    let port = free_port();
    let _running = serve(dir.path(), port);
    wait_for("the restarted serve accepts the same key", || {
        accepts(port, &first) == Some(true)
    });
    assert!(
        !std::fs::read_to_string(dir.path().join("config.json"))
            .unwrap()
            .contains(&first)
    );

    // Rotation in another process takes effect in the running one.
    let second = key_command("rotate");
    assert_ne!(second, first);
    wait_for("the running serve switches to the rotated key", || {
        accepts(port, &second) == Some(true)
    });
    assert_eq!(
        accepts(port, &first),
        Some(false),
        "the old key still works"
    );
    assert_eq!(key_command("show"), second);
}

#[test]
#[ignore = "needs a private Secret Service; scripts/test-keychain.sh runs it"]
fn the_keychain_store_round_trips_one_item_per_secret() {
    in_private_keyring();
    let store = KeychainStore::open("dev.switchboard.test").unwrap();
    assert_eq!(store.get("GITHUB_TOKEN").unwrap(), None);
    store
        .set("GITHUB_TOKEN", &Sensitive::new("ghp_test_value".into()))
        .unwrap();
    store.set("OTHER", &Sensitive::new("other".into())).unwrap();
    assert_eq!(
        store.get("GITHUB_TOKEN").unwrap().unwrap().expose(),
        "ghp_test_value"
    );
    assert_eq!(store.get("OTHER").unwrap().unwrap().expose(), "other");
    store.delete("GITHUB_TOKEN").unwrap();
    store.delete("GITHUB_TOKEN").unwrap();
    assert_eq!(store.get("GITHUB_TOKEN").unwrap(), None);
    assert_eq!(store.get("OTHER").unwrap().unwrap().expose(), "other");
    assert_eq!(store.describe(), "Secret Service");
}

#[test]
#[ignore = "needs a private Secret Service; scripts/test-keychain.sh runs it"]
fn secret_set_reads_stdin_and_unset_removes_it() {
    use std::io::Write;
    in_private_keyring();
    let mut child = switchboard()
        .args(["secret", "set", "github-token"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ghp_from_stdin_123\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("ghp_from_stdin_123"));
    let store = KeychainStore::open(switchboard_core::secrets::KEYCHAIN_SERVICE).unwrap();
    assert_eq!(
        store.get("github-token").unwrap().unwrap().expose(),
        "ghp_from_stdin_123"
    );
    let output = switchboard()
        .args(["secret", "unset", "github-token"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(store.get("github-token").unwrap(), None);
}

/// POSTs one JSON-RPC message to the proxy with the key; returns the headers and body.
fn mcp_post(port: u16, key: &str, session: Option<&str>, body: &str) -> String {
    let mut args = vec![
        "-s".to_owned(),
        "-i".to_owned(),
        "-H".to_owned(),
        format!("X-API-Key: {key}"),
        "-H".to_owned(),
        "content-type: application/json".to_owned(),
        "-H".to_owned(),
        "accept: application/json, text/event-stream".to_owned(),
    ];
    if let Some(session) = session {
        args.extend(["-H".to_owned(), format!("mcp-session-id: {session}")]);
    }
    args.extend([
        "--data".to_owned(),
        body.to_owned(),
        format!("http://127.0.0.1:{port}/servers/tracker/mcp"),
    ]);
    let output = Command::new("curl").args(&args).output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[ignore = "needs a private Secret Service; scripts/test-keychain.sh runs it"]
fn login_keeps_the_tokens_in_the_secret_service_and_a_running_proxy_uses_them() {
    use std::io::{BufRead, BufReader};
    in_private_keyring();
    // The authorization server fixture (tests/src/bin/oauth_fixture.rs).
    let mut fixture = Command::new(env!("CARGO_BIN_EXE_oauth-fixture"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(fixture.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        format!(r#"{{"mcpServers": {{"tracker": {{"url": "{base}/mcp", "auth": {{"type": "oauth"}}}}}}}}"#),
    )
    .unwrap();
    let key = key_command("show");
    let port = free_port();
    let _running = serve(dir.path(), port);
    wait_for("serve answers", || accepts(port, &key) == Some(true));

    // `switchboard login` prints the address; a browser (curl here) follows it and the
    // redirect to the loopback listener.
    let mut login = switchboard()
        .args(["login", "--config"])
        .arg(&config)
        .arg("tracker")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(login.stdout.take().unwrap());
    let mut printed = String::new();
    let url = loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "login printed no address:\n{printed}"
        );
        printed.push_str(&line);
        if let Some(url) = line.trim().strip_prefix("http://") {
            break format!("http://{url}");
        }
    };
    assert!(
        printed.contains("127.0.0.1"),
        "the host is shown: {printed}"
    );
    let browser = Command::new("curl")
        .args(["-s", "-L", "--max-time", "20", &url])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&browser.stdout).contains("return to Switchboard"),
        "{}",
        String::from_utf8_lossy(&browser.stdout)
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        login.wait().unwrap().success(),
        "login failed:\n{printed}{rest}"
    );
    assert!(rest.contains("signed in as ada@example.com"), "{rest}");

    // The tokens are in the Secret Service, not in the config file.
    let keychain = KeychainStore::open(switchboard_core::secrets::KEYCHAIN_SERVICE).unwrap();
    let record = keychain
        .get("oauth:tracker")
        .unwrap()
        .expect("the sign-in is kept");
    let access = serde_json::from_str::<serde_json::Value>(record.expose()).unwrap()["tokens"]
        ["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!std::fs::read_to_string(&config).unwrap().contains(&access));

    // The running proxy (another process) uses them at once.
    let init = mcp_post(
        port,
        &key,
        None,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
    );
    let session = init
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("mcp-session-id:")
                .then(|| l.split_once(':').unwrap().1.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no session: {init}"));
    let call = mcp_post(
        port,
        &key,
        Some(&session),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#,
    );
    assert!(call.contains("ada@example.com"), "{call}");
    assert!(!call.contains(&access));

    // `switchboard test` says who is signed in; `logout` removes the tokens.
    let test = switchboard()
        .args(["test", "--config"])
        .arg(&config)
        .arg("tracker")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&test.stdout);
    assert!(
        test.status.success() && said.contains("signed in as ada@example.com"),
        "{said}"
    );
    let logout = switchboard()
        .args(["logout", "--config"])
        .arg(&config)
        .arg("tracker")
        .output()
        .unwrap();
    assert!(
        logout.status.success(),
        "{}",
        String::from_utf8_lossy(&logout.stderr)
    );
    assert!(keychain.get("oauth:tracker").unwrap().is_none());
    let _ = fixture.kill();
    let _ = fixture.wait();
}
