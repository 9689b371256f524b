//! The operations the desktop shell drives: toggles, edits, the proxy switch, secrets.

use std::sync::Arc;

use serde_json::json;
use switchboard_core::config::{Config, Sharing};
use switchboard_core::secrets::{MemoryStore, SecretStore, Sensitive};
use switchboard_core::{Auth, Hub, HubOptions};

use crate::support::*;

async fn hub_with_file(dir: &tempfile::TempDir) -> (Hub, Arc<dyn SecretStore>) {
    let mut config = Config::default();
    config
        .servers
        .insert("fx".into(), fixture(&[], Sharing::PerSession));
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let options = HubOptions {
        port: 0,
        relay: quick_options(),
        auth: Auth::fixed(Sensitive::new(TEST_KEY.into())),
        extra_origins: vec![],
        secrets: Some(store.clone()),
        config_path: Some(dir.path().join("config.json")),
    };
    (Hub::launch(&config, options).await.unwrap(), store)
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
