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
