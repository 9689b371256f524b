//! The operations the desktop shell drives: toggles, edits, the proxy switch, secrets.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_core::config::{Config, Sharing};
use switchboard_core::secrets::{SecretStore, Sensitive};
use switchboard_core::{Auth, Error, Hub};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

async fn hub_with_file(dir: &tempfile::TempDir) -> (Hub, Arc<dyn SecretStore>) {
    let mut config = Config::default();
    config
        .servers
        .insert("fx".into(), fixture(&[], Sharing::PerSession));
    hub_for(dir, &config, Auth::fixed(Sensitive::new(TEST_KEY.into()))).await
}

fn saved(dir: &tempfile::TempDir) -> Config {
    Config::load(&dir.path().join("config.json")).unwrap()
}

fn saved_text(dir: &tempfile::TempDir) -> Option<String> {
    std::fs::read_to_string(dir.path().join("config.json")).ok()
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn refuses_connections(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

/// Whether `port` answers a ping in `client`'s session, over a new connection, with the
/// `Host` the hub now expects (so its Host check cannot be what refuses). Another test may
/// bind a port the moment it is freed, so "refuses connections" would be the wrong
/// question; only this hub knows the session.
async fn serves_session_at(port: u16, hub_port: u16, client: &Client) -> bool {
    let elsewhere = Client::with_session(
        format!("http://127.0.0.1:{port}/servers/fx/mcp"),
        client.session.clone(),
    );
    let ping = json!({"jsonrpc":"2.0","id":777,"method":"ping"}).to_string();
    let request = elsewhere
        .post(ping)
        .header("host", format!("127.0.0.1:{hub_port}"));
    match request.send().await {
        Ok(response) => response.status() == 200,
        Err(_) => false,
    }
}

/// `GET /status` with the key, sent to `port` with this exact `Host` header.
async fn status_with_host(port: u16, host: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!(
        "GET /status HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TEST_KEY}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    bounded("the answer", stream.read_to_string(&mut response))
        .await
        .unwrap();
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {response}"))
}

fn initialize() -> String {
    json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"keyless","version":"1"}}}).to_string()
}

/// The status of an `initialize` sent without any key.
async fn keyless_initialize(hub: &Hub) -> u16 {
    let mut client = Client::new(url(hub, "/servers/fx/mcp"));
    client.http = reqwest::Client::new();
    client
        .post(initialize())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn keyless_status(hub: &Hub) -> Value {
    reqwest::get(url(hub, "/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn turning_a_server_off_stops_it_and_its_endpoint_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    let mut changes = hub.subscribe();
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    changes.borrow_and_update();

    hub.set_server_enabled("fx", false).await.unwrap();
    assert!(changes.has_changed().unwrap(), "no change was announced");
    assert!(
        wait_until_gone(pid).await,
        "the child of a disabled server still runs"
    );
    let ping = json!({"jsonrpc":"2.0","id":9,"method":"ping"}).to_string();
    assert_eq!(
        client.post(ping.clone()).send().await.unwrap().status(),
        404
    );
    assert_eq!(
        Client::new(url(&hub, "/servers/fx/mcp"))
            .post("{}")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let saved = Config::load(&dir.path().join("config.json")).unwrap();
    assert!(!saved.servers["fx"].enabled, "the change was not saved");

    hub.set_server_enabled("fx", true).await.unwrap();
    let mut again = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        text(&again.call("echo", json!({"message":"back on"})).await),
        "back on"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn servers_can_be_added_and_removed_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    hub.save_server("second", fixture(&[], Sharing::Shared))
        .await
        .unwrap();
    let mut client = Client::connect(url(&hub, "/servers/second/mcp")).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"new"})).await),
        "new"
    );
    assert!(
        Config::load(&dir.path().join("config.json"))
            .unwrap()
            .servers
            .contains_key("second")
    );
    hub.remove_server("second").await.unwrap();
    assert_eq!(
        Client::new(url(&hub, "/servers/second/mcp"))
            .post("{}")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(hub.remove_server("second").await.is_err());
    // An invalid definition is refused and changes nothing.
    let mut broken = fixture(&[], Sharing::PerSession);
    broken.command = Some(" ".into());
    assert!(hub.save_server("broken", broken).await.is_err());
    assert!(!hub.config().servers.contains_key("broken"));
    hub.shutdown().await;
}

#[tokio::test]
async fn the_proxy_switch_releases_the_port_and_binds_it_again() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    hub.set_proxy_enabled(false).await.unwrap();
    assert!(!hub.proxy_enabled());
    assert!(wait_until_gone(pid).await);
    assert!(
        reqwest::get(url(&hub, "/status")).await.is_err(),
        "the port still answers"
    );
    hub.set_proxy_enabled(true).await.unwrap();
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"on again"})).await),
        "on again"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn secrets_are_set_replaced_and_removed_without_reading_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, store) = hub_with_file(&dir).await;
    assert!(!hub.secret_is_set("tok").await.unwrap());
    hub.set_secret("tok", Sensitive::new("first-value".into()))
        .await
        .unwrap();
    hub.set_secret("tok", Sensitive::new("second-value".into()))
        .await
        .unwrap();
    assert!(hub.secret_is_set("tok").await.unwrap());
    assert_eq!(store.get("tok").unwrap().unwrap().expose(), "second-value");
    hub.delete_secret("tok").await.unwrap();
    assert!(!hub.secret_is_set("tok").await.unwrap());
    assert_eq!(hub.api_key().await.unwrap().unwrap().expose(), TEST_KEY);
    assert!(
        !std::fs::read_to_string(dir.path().join("config.json"))
            .unwrap_or_default()
            .contains("value")
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_servers_log_has_its_stderr_and_the_proxys_events_about_it() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    client.call("stderr", json!({"lines": 2})).await;
    client.delete().await;

    let logs = bounded("the session's end in the log", async {
        loop {
            let logs = hub.relay().logs("fx").expect("a known server");
            // stderr is read by its own task: wait for both, not for one order.
            let has = |needle: &str| logs.iter().any(|l| l.contains(needle));
            if has("closed: ") && has("stderr line 1") {
                return logs;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let position = |needle: &str| {
        logs.iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in the log: {logs:#?}"))
    };
    let opened = position("client session");
    let started = position("started a server process");
    let first_line = position("stderr line 0");
    let closed = position("closed: ");
    assert!(started < opened && opened < first_line, "{logs:#?}");
    assert!(opened < closed, "{logs:#?}");
    let session = client.session.as_deref().unwrap();
    assert!(
        logs.iter().all(|l| !l.contains(session)),
        "a whole session id reached the log: {logs:#?}"
    );
    assert!(hub.relay().logs("nope").is_none());
    hub.shutdown().await;
}

#[tokio::test]
async fn set_port_moves_the_endpoint_and_saves_the_port() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    let old = hub.local_addr().port();
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let mut changes = hub.subscribe();
    changes.borrow_and_update();
    let new = free_port();

    hub.set_port(new).await.unwrap();

    assert!(changes.has_changed().unwrap(), "no change was announced");
    assert_eq!(hub.local_addr().port(), new);
    assert_eq!(
        hub.endpoints()[0].mcp_url,
        format!("http://127.0.0.1:{new}/servers/fx/mcp")
    );
    assert!(
        !serves_session_at(old, new, &client).await,
        "the old port {old} still serves this hub (moved to {new})"
    );
    let mut fresh = Client::connect(format!("http://127.0.0.1:{new}/servers/fx/mcp")).await;
    assert_eq!(
        text(&fresh.call("echo", json!({"message":"new port"})).await),
        "new port"
    );
    // The session and its child survived the move.
    client.endpoint = url(&hub, "/servers/fx/mcp");
    let same: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    assert_eq!(same, pid);
    // The Host check follows the port.
    assert_eq!(
        status_with_host(new, &format!("127.0.0.1:{new}")).await,
        200
    );
    assert_eq!(
        status_with_host(new, &format!("localhost:{new}")).await,
        200
    );
    assert_eq!(
        status_with_host(new, &format!("127.0.0.1:{old}")).await,
        403
    );
    assert_eq!(saved(&dir).proxy.port, Some(new));
    hub.shutdown().await;
}

#[tokio::test]
async fn set_port_to_a_port_in_use_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    let old = hub.local_addr().port();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let before = saved_text(&dir);

    match hub.set_port(busy).await {
        Err(Error::Bind { port, .. }) => assert_eq!(port, busy),
        other => panic!("expected a bind error, got {other:?}"),
    }
    assert!(matches!(
        hub.set_port(0).await,
        Err(Error::ConfigInvalid { .. })
    ));

    assert_eq!(hub.local_addr().port(), old);
    assert_eq!(saved_text(&dir), before, "the config file changed");
    assert_eq!(hub.config().proxy.port, None);
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"still here"})).await),
        "still here"
    );
    assert_eq!(
        status_with_host(old, &format!("127.0.0.1:{old}")).await,
        200
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn set_port_with_the_proxy_off_is_used_by_the_next_on() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    hub.set_proxy_enabled(false).await.unwrap();
    let new = free_port();

    hub.set_port(new).await.unwrap();
    assert_eq!(saved(&dir).proxy.port, Some(new));
    assert_eq!(hub.local_addr().port(), new);
    assert!(refuses_connections(new), "an off proxy bound the port");

    hub.set_proxy_enabled(true).await.unwrap();
    let mut client = Client::connect(format!("http://127.0.0.1:{new}/servers/fx/mcp")).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"on"})).await),
        "on"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn the_key_check_switches_off_and_on_while_running() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    assert!(hub.auth_required());
    assert_eq!(keyless_initialize(&hub).await, 401);
    let mut changes = hub.subscribe();
    changes.borrow_and_update();

    hub.set_auth_required(false).unwrap();
    assert!(changes.has_changed().unwrap(), "no change was announced");
    assert!(!hub.auth_required());
    assert_eq!(keyless_initialize(&hub).await, 200);
    let status = keyless_status(&hub).await;
    assert_eq!(status["auth"], "disabled", "{status}");
    assert!(status["warning"].is_string(), "{status}");
    assert!(!saved(&dir).proxy.require_api_key);
    // The key is kept for when checks come back.
    assert_eq!(hub.api_key().await.unwrap().unwrap().expose(), TEST_KEY);

    hub.set_auth_required(true).unwrap();
    assert!(hub.auth_required());
    assert_eq!(keyless_initialize(&hub).await, 401);
    let status = keyless_status(&hub).await;
    assert!(status.get("warning").is_none(), "{status}");
    assert_eq!(status_of(&hub).await["auth"], "required");
    assert!(saved(&dir).proxy.require_api_key);
    assert!(!saved_text(&dir).unwrap().contains("requireApiKey"));
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"keyed"})).await),
        "keyed"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_config_without_the_key_check_starts_with_it_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config
        .servers
        .insert("fx".into(), fixture(&[], Sharing::PerSession));
    config.proxy.require_api_key = false;
    // An explicit key does not turn the check back on; it is there for when the user does.
    let (hub, _) = hub_for(&dir, &config, Auth::fixed(Sensitive::new(TEST_KEY.into()))).await;
    assert!(!hub.auth_required());
    assert_eq!(keyless_initialize(&hub).await, 200);
    hub.set_auth_required(true).unwrap();
    assert_eq!(keyless_initialize(&hub).await, 401);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_hub_started_without_a_key_cannot_require_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config
        .servers
        .insert("fx".into(), fixture(&[], Sharing::PerSession));
    let (hub, _) = hub_for(&dir, &config, Auth::Disabled).await;
    assert!(matches!(hub.set_auth_required(true), Err(Error::NoApiKey)));
    assert!(!hub.auth_required());
    assert_eq!(saved_text(&dir), None, "a refused change was saved");
    assert_eq!(keyless_initialize(&hub).await, 200);
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_are_all_saved() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = hub_with_file(&dir).await;
    let hub = Arc::new(hub);
    let names: Vec<String> = (0..16).map(|i| format!("s{i}")).collect();
    let mut changes = Vec::new();
    for name in &names {
        let (hub, name) = (hub.clone(), name.clone());
        changes.push(tokio::spawn(async move {
            hub.save_server(&name, fixture(&[], Sharing::PerSession))
                .await
        }));
    }
    // And a toggle of the existing server among them.
    let toggler = hub.clone();
    changes.push(tokio::spawn(async move {
        toggler.set_server_enabled("fx", false).await
    }));
    for change in changes {
        bounded("a change", change).await.unwrap().unwrap();
    }

    let saved = saved(&dir);
    for name in &names {
        assert!(
            saved.servers.contains_key(name),
            "{name} was lost from the file"
        );
        assert!(
            hub.config().servers.contains_key(name),
            "{name} was lost in memory"
        );
    }
    assert!(!saved.servers["fx"].enabled, "the toggle was lost");
    let status = status_of(&hub).await;
    let served = status["servers"].as_array().unwrap().len();
    assert_eq!(served, names.len() + 1, "{status}");
    hub.shutdown().await;
}
