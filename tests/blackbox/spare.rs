//! The warm spare: a server in use keeps one child started ahead of need, so a new session
//! is answered by a process that has already loaded; it is stopped after the quiet period,
//! never started for servers no client uses, and never used when its spec is out of date.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use switchboard_core::config::{Config, Sharing, ValueSource};
use switchboard_core::relay::RelayOptions;
use switchboard_core::secrets::{SecretName, SecretStore, Sensitive};
use switchboard_core::{Auth, Hub, HubOptions};

use crate::support::*;

async fn hub_with_spares(
    config: &Config,
    spare_idle: Duration,
    secrets: Option<Arc<dyn SecretStore>>,
) -> Hub {
    let options = HubOptions {
        port: 0,
        relay: RelayOptions {
            spare_idle,
            ..quick_options()
        },
        auth: Auth::fixed(Sensitive::new(TEST_KEY.to_owned())),
        extra_origins: vec![],
        secrets,
        config_path: None,
    };
    Hub::launch(config, options).await.expect("hub starts")
}

fn spare_of(hub: &Hub, server: &str) -> Option<u32> {
    hub.status()
        .into_iter()
        .find(|s| s.name == server)
        .and_then(|s| s.spare_pid)
}

/// Waits (bounded) for a spare of `server` other than `not`.
async fn new_spare(hub: &Hub, server: &str, not: Option<u32>) -> u32 {
    for _ in 0..300 {
        if let Some(pid) = spare_of(hub, server).filter(|p| Some(*p) != not) {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new spare for '{server}': {:?}", hub.status());
}

fn one_server() -> Config {
    let mut config = Config::default();
    config
        .servers
        .insert("fx".into(), fixture(&[], Sharing::PerSession));
    config
}

#[tokio::test]
async fn a_new_session_takes_the_warm_spare_and_another_is_started() {
    let hub = hub_with_spares(&one_server(), Duration::from_secs(60), None).await;
    assert_eq!(spare_of(&hub, "fx"), None, "no spare before any client");
    let mut first = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let first_pid = pid_of(&mut first).await;
    let spare = new_spare(&hub, "fx", None).await;
    assert_ne!(spare, first_pid);

    let mut second = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        pid_of(&mut second).await,
        spare,
        "the second session took the spare"
    );
    // The spare now serves that session like any child: echo round trips, and the
    // session's own answers reach it only.
    let echoed = second.call("echo", json!({"message": "warm"})).await;
    assert_eq!(text(&echoed), "warm");
    let next = new_spare(&hub, "fx", Some(spare)).await;
    assert!(![first_pid, spare].contains(&next));
    // Closing the hub stops the spare too.
    hub.shutdown().await;
    assert!(
        wait_until_gone(next).await,
        "the spare {next} outlived the hub"
    );
}

#[tokio::test]
async fn a_spare_is_stopped_after_the_quiet_period() {
    let hub = hub_with_spares(&one_server(), Duration::from_millis(300), None).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    pid_of(&mut client).await;
    let spare = new_spare(&hub, "fx", None).await;
    assert!(
        wait_until_gone(spare).await,
        "the idle spare {spare} was not stopped"
    );
    assert_eq!(spare_of(&hub, "fx"), None);
    hub.shutdown().await;
}

#[tokio::test]
async fn no_spare_for_the_catalogue_shared_servers_or_when_spares_are_off() {
    let mut config = one_server();
    config
        .servers
        .insert("shared".into(), fixture(&[], Sharing::Shared));
    let hub = hub_with_spares(&config, Duration::from_secs(60), None).await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let list = client.request("tools/list", json!({})).await;
    assert!(
        list["result"]["tools"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    );
    let mut shared = Client::connect(url(&hub, "/servers/shared/mcp")).await;
    pid_of(&mut shared).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(spare_of(&hub, "fx"), None, "the catalogue is no client");
    assert_eq!(spare_of(&hub, "shared"), None);
    // A call through the aggregate is a client's use.
    client.call("fx__pid", json!({})).await;
    new_spare(&hub, "fx", None).await;
    hub.shutdown().await;

    let off = hub_with_spares(&one_server(), Duration::ZERO, None).await;
    let mut client = Client::connect(url(&off, "/servers/fx/mcp")).await;
    pid_of(&mut client).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(spare_of(&off, "fx"), None);
    off.shutdown().await;
}

#[tokio::test]
async fn a_spare_started_with_an_old_secret_is_not_used() {
    let store: Arc<dyn SecretStore> = Arc::new(switchboard_core::secrets::MemoryStore::default());
    store.set("token", &Sensitive::new("first".into())).unwrap();
    let mut config = one_server();
    let server = config.servers.get_mut("fx").unwrap();
    server.env.insert(
        "TOKEN".into(),
        ValueSource::secret(SecretName::new("token").unwrap()),
    );
    let hub = hub_with_spares(&config, Duration::from_secs(60), Some(store.clone())).await;
    let mut first = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    pid_of(&mut first).await;
    let spare = new_spare(&hub, "fx", None).await;
    store
        .set("token", &Sensitive::new("second".into()))
        .unwrap();
    let mut second = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid = pid_of(&mut second).await;
    assert_ne!(
        pid, spare,
        "a child with the old secret served the new session"
    );
    assert!(
        wait_until_gone(spare).await,
        "the out-of-date spare {spare} was left running"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_spare_asked_for_just_before_the_proxy_is_turned_off_is_not_started() {
    let hub = hub_with_spares(&one_server(), Duration::from_secs(60), None).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid = pid_of(&mut client).await;
    // Off before the spare's delay has passed: the spare must not appear afterwards.
    hub.set_proxy_enabled(false).await.unwrap();
    assert!(wait_until_gone(pid).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(spare_of(&hub, "fx"), None, "{:?}", hub.status());
    hub.shutdown().await;
}
