//! Rules that live in core once, whoever asks: the reserved secret name and the
//! query-parameter gate. Each is checked here through every way in that core offers (the
//! Hub, the config file, the CLI); the desktop's IPC commands are checked in
//! `src-tauri/src/tests.rs`.

use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use switchboard_core::config::{Config, ServerConfig, UpstreamAuth};
use switchboard_core::secrets::{API_KEY_ITEM, SecretStore, Sensitive};
use switchboard_core::{Auth, Error, Hub};

use crate::support::*;

/// A hub whose API key is also kept in `store`, under its keychain item, as on a desktop:
/// the store a server's secret references read from holds the key too.
async fn keychain_hub(dir: &tempfile::TempDir, config: &Config) -> (Hub, Arc<dyn SecretStore>) {
    let (hub, store) = hub_for(
        dir,
        config,
        Auth::fixed(Sensitive::new(TEST_KEY.to_owned())),
    )
    .await;
    store
        .set(API_KEY_ITEM, &Sensitive::new(TEST_KEY.to_owned()))
        .expect("stored");
    (hub, store)
}

#[tokio::test]
async fn the_hub_refuses_the_proxys_own_key_as_a_secret_name() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, store) = keychain_hub(&dir, &Config::default()).await;
    let key = store.get(API_KEY_ITEM).unwrap().expect("the key is kept");
    for name in [API_KEY_ITEM, "API-KEY"] {
        let set = hub
            .set_secret(name, Sensitive::new("overwritten".into()))
            .await;
        assert!(matches!(set, Err(Error::SecretName(_))), "{name}: {set:?}");
        let deleted = hub.delete_secret(name).await;
        assert!(
            matches!(deleted, Err(Error::SecretName(_))),
            "{name}: {deleted:?}"
        );
        let read = hub.secret_is_set(name).await;
        assert!(
            matches!(read, Err(Error::SecretName(_))),
            "{name}: {read:?}"
        );
    }
    assert_eq!(
        store.get(API_KEY_ITEM).unwrap(),
        Some(key),
        "the key was touched"
    );
    hub.shutdown().await;
}

#[test]
fn a_config_cannot_reference_the_proxys_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.json");
    for reference in [
        json!({"mcpServers": {"leak": {"command": "env", "env": {"K": {"secret": "api-key"}}}}}),
        json!({"mcpServers": {"leak": {"url": "https://example.com/mcp",
                                        "auth": {"type": "bearer", "secret": "api-key"}}}}),
        json!({"mcpServers": {"leak": {"url": "https://example.com/mcp",
                                        "headers": {"X-Key": {"secret": "api-key"}}}}}),
    ] {
        std::fs::write(&path, serde_json::to_string_pretty(&reference).unwrap()).unwrap();
        let err = Config::load(&path).expect_err("the reserved name is refused");
        let text = err.to_string();
        assert!(matches!(err, Error::ConfigSyntax { .. }), "{text}");
        assert!(
            text.contains("api-key") && text.contains("key rotate"),
            "{text}"
        );
    }
}

/// Whatever a server's config says, its child's environment never holds the proxy's key:
/// the only way to put a secret there is a reference, and no reference can name it. The
/// fixture prints the variable it is asked for to stderr, which the server's log keeps.
#[tokio::test]
async fn no_child_environment_receives_the_proxys_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.servers.insert(
        "fx".into(),
        fixture(&[], switchboard_core::config::Sharing::PerSession),
    );
    let (hub, store) = keychain_hub(&dir, &config).await;
    let key = store.get(API_KEY_ITEM).unwrap().expect("kept");
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    for name in ["SWITCHBOARD_API_KEY", "API_KEY", "api-key"] {
        client
            .call("stderr", json!({"lines": 0, "env": name}))
            .await;
    }
    client.delete().await;
    let unredacted = hub.relay().logs("fx").expect("a log").join("\n");
    assert!(unredacted.contains("SWITCHBOARD_API_KEY="), "{unredacted}");
    assert!(
        !unredacted.contains(key.expose()),
        "the key reached a child"
    );
    hub.shutdown().await;
}

fn query_server(url: &str) -> ServerConfig {
    let mut server = ServerConfig::remote(url.to_owned());
    server.auth = UpstreamAuth::Query {
        param: "key".into(),
        secret: secret_name("MAPS_KEY"),
    };
    server
}

#[tokio::test]
async fn the_hub_saves_a_query_key_server_only_for_an_allowed_origin() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = keychain_hub(&dir, &Config::default()).await;
    let saved = |hub: &Hub| hub.config().servers.contains_key("maps");

    // The setting off: refused, and nothing saved.
    let off = hub
        .save_server("maps", query_server("https://maps.example.com/mcp"))
        .await;
    assert!(matches!(off, Err(Error::QueryAuth { .. })), "{off:?}");
    assert!(off.unwrap_err().to_string().contains("allowQueryParamAuth"));
    assert!(!saved(&hub));

    // On, but for another origin (the port is part of it): still refused.
    hub.save_query_auth(true, vec!["https://maps.example.com:8443".into()])
        .expect("saved");
    let elsewhere = hub
        .save_server("maps", query_server("https://maps.example.com/mcp"))
        .await;
    assert!(
        matches!(elsewhere, Err(Error::QueryAuth { .. })),
        "{elsewhere:?}"
    );
    assert!(!saved(&hub));
    assert!(
        hub.check_server("maps", &query_server("https://maps.example.com/mcp"))
            .is_err()
    );

    // Allowed (the entry normalised): saved, to the file too.
    hub.save_query_auth(true, vec!["HTTPS://Maps.Example.com.:443/".into()])
        .expect("saved");
    hub.save_server("maps", query_server("https://maps.example.com/mcp"))
        .await
        .expect("an allowed origin");
    assert!(saved(&hub));
    let file = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(file.contains("maps.example.com"), "{file}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_query_auth_save_that_fails_changes_neither_the_file_nor_the_running_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _) = keychain_hub(&dir, &Config::default()).await;
    hub.save_query_auth(true, vec!["https://maps.example.com".into()])
        .expect("saved");
    let bad = hub.save_query_auth(true, vec!["http://plain.example.com".into()]);
    assert!(bad.is_err());
    // The running policy still allows what the file says.
    hub.save_server("maps", query_server("https://maps.example.com/mcp"))
        .await
        .expect("the earlier allowlist still applies");
    let saved = Config::load(&dir.path().join("config.json")).unwrap();
    assert_eq!(
        saved.proxy.query_param_auth_origins,
        vec!["https://maps.example.com".to_owned()]
    );
    hub.shutdown().await;
}

#[test]
fn the_cli_refuses_the_proxys_own_key_as_a_secret_name() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    for args in [
        vec!["secret", "set", "api-key"],
        vec!["secret", "unset", "api-key"],
    ] {
        let output = Command::new(switchboard_binary())
            .args(&args)
            .env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("switchboard runs");
        assert!(!output.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("key rotate"), "{args:?}: {stderr}");
    }
    let output = Command::new(switchboard_binary())
        .args(["add", "leak", "--env-secret", "K=api-key", "--config"])
        .arg(&config)
        .args(["--", "env"])
        .output()
        .expect("switchboard runs");
    assert!(!output.status.success());
    assert!(
        !std::fs::read_to_string(&config)
            .unwrap_or_default()
            .contains("api-key")
    );
}
