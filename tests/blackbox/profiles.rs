//! Profiles (`/profiles/<name>/mcp`): a subset of the servers with filters of its own, and
//! optionally a key of its own that opens that profile and nothing else. Tools switched off
//! (in a server's filter or a profile's) disappear from open sessions at once.

use serde_json::{Value, json};
use switchboard_core::Auth;
use switchboard_core::config::{Config, NameFilter, Profile, ProfileServer, Sharing};
use switchboard_core::secrets::Sensitive;

use crate::support::*;

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn allow(names: &[&str]) -> NameFilter {
    NameFilter {
        allow: names.iter().map(|n| (*n).to_owned()).collect(),
        deny: vec![],
    }
}

fn three_servers() -> Config {
    let mut config = Config::default();
    for name in ["alpha", "beta", "gamma"] {
        config
            .servers
            .insert(name.into(), fixture(&[], Sharing::PerSession));
    }
    config
}

/// A profile of alpha (its `echo` only) and beta (unprefixed, its `pid` only).
fn ide_profile(own_key: bool) -> Profile {
    let mut profile = Profile {
        own_key,
        ..Profile::default()
    };
    profile.servers.insert(
        "alpha".into(),
        ProfileServer {
            tools: allow(&["echo"]),
            ..ProfileServer::default()
        },
    );
    profile.servers.insert(
        "beta".into(),
        ProfileServer {
            prefix: Some(String::new()),
            tools: allow(&["pid"]),
            ..ProfileServer::default()
        },
    );
    profile
}

async fn hub_with_profiles(
    profiles: &[(&str, Profile)],
) -> (switchboard_core::Hub, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _store) = hub_for(
        &dir,
        &three_servers(),
        Auth::fixed(Sensitive::new(TEST_KEY.to_owned())),
    )
    .await;
    for (name, profile) in profiles {
        hub.save_profile(name, profile.clone()).await.unwrap();
    }
    (hub, dir)
}

/// `initialize` on `path` with `key`; the HTTP status.
async fn initialize_with(hub: &switchboard_core::Hub, path: &str, key: &str) -> u16 {
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let response = bounded(
        "POST",
        reqwest::Client::new()
            .post(url(hub, path))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init.to_string())
            .send(),
    )
    .await
    .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn a_profile_carries_only_its_servers_with_its_own_filters_and_prefixes() {
    let (hub, _dir) = hub_with_profiles(&[("ide", ide_profile(false))]).await;
    let mut client = Client::connect(url(&hub, "/profiles/ide/mcp")).await;
    let list = client.request("tools/list", json!({})).await;
    assert_eq!(names(&list), ["alpha__echo", "pid"], "{list}");
    let answer = client
        .call("alpha__echo", json!({"message": "in a profile"}))
        .await;
    assert_eq!(text(&answer), "in a profile", "{answer}");
    assert!(
        text(&client.call("pid", json!({})).await)
            .parse::<u32>()
            .is_ok()
    );
    // What the profile holds back, or does not carry, is refused by name too.
    for refused in ["alpha__pid", "beta__pid", "gamma__echo", "echo"] {
        let answer = client.call(refused, json!({"message": "x"})).await;
        assert_eq!(answer["error"]["code"], -32602, "{refused}: {answer}");
    }
    // The full aggregate is unchanged by the profile.
    let mut full = Client::connect(url(&hub, "/mcp")).await;
    let all = names(&full.request("tools/list", json!({})).await);
    assert!(
        ["alpha__pid", "beta__echo", "gamma__echo"]
            .iter()
            .all(|t| all.iter().any(|n| n == t)),
        "{all:?}"
    );
    // A session of one endpoint is no session of another.
    let stray = Client::with_session(url(&hub, "/mcp"), client.session.clone());
    let list = json!({"jsonrpc":"2.0","id":9,"method":"tools/list","params":{}});
    let response = bounded("POST", stray.post(list.to_string()).send())
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        404,
        "a profile's session was taken on /mcp"
    );
    // An unknown profile is a clear 404.
    let response = bounded(
        "POST",
        Client::new(url(&hub, "/profiles/nope/mcp"))
            .post("{}")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("No profile named 'nope'"),
        "{body}"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_profile_key_opens_its_profile_and_nothing_else() {
    let (hub, _dir) =
        hub_with_profiles(&[("ide", ide_profile(true)), ("other", ide_profile(true))]).await;
    let key = hub.profile_key("ide").await.unwrap();
    let key = key.expose();
    assert!(key.starts_with("sbk_"));
    assert_ne!(key, hub.profile_key("other").await.unwrap().expose());
    assert_eq!(initialize_with(&hub, "/profiles/ide/mcp", key).await, 200);
    for elsewhere in [
        "/profiles/other/mcp",
        "/mcp",
        "/servers/alpha/mcp",
        "/profiles/id%65/mcp",
        "/profiles/ide/../other/mcp",
        "/profiles/ide%2F..%2Fother/mcp",
    ] {
        assert_eq!(
            initialize_with(&hub, elsewhere, key).await,
            401,
            "the profile key opened {elsewhere}"
        );
    }
    // The legacy SSE door of the profile takes it; the status page shows it nothing more
    // than it shows anyone.
    let sse = bounded(
        "GET",
        reqwest::Client::new()
            .get(url(&hub, "/profiles/ide/sse"))
            .header("x-api-key", key)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(sse.status(), 200);
    drop(sse);
    let status: Value = reqwest::Client::new()
        .get(url(&hub, "/status"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(status.get("servers").is_none(), "{status}");
    // The main key opens every profile.
    assert_eq!(
        initialize_with(&hub, "/profiles/ide/mcp", TEST_KEY).await,
        200
    );

    // Rotated: the old key stops working at once, the new one works.
    let rotated = hub.rotate_profile_key("ide").await.unwrap();
    assert_eq!(initialize_with(&hub, "/profiles/ide/mcp", key).await, 401);
    assert_eq!(
        initialize_with(&hub, "/profiles/ide/mcp", rotated.expose()).await,
        200
    );
    // No own key any more: only the main key opens it.
    hub.save_profile("ide", ide_profile(false)).await.unwrap();
    assert_eq!(
        initialize_with(&hub, "/profiles/ide/mcp", rotated.expose()).await,
        401
    );
    assert!(hub.profile_key("ide").await.is_err());
    // Removed: gone for every key.
    hub.remove_profile("other").await.unwrap();
    assert_eq!(
        initialize_with(&hub, "/profiles/other/mcp", TEST_KEY).await,
        404
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_tool_switched_off_disappears_from_open_sessions_at_once() {
    let (hub, _dir) = hub_with_profiles(&[("ide", ide_profile(false))]).await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let before = names(&client.request("tools/list", json!({})).await);
    assert!(before.contains(&"alpha__echo".to_owned()));
    let pid = text(&client.call("alpha__pid", json!({})).await).to_owned();
    let mut events = client.open_stream().await;

    hub.set_tool_enabled(None, "alpha", "echo", false)
        .await
        .unwrap();
    let note = bounded("list_changed", events.next()).await.unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    let after = names(&client.request("tools/list", json!({})).await);
    assert!(!after.contains(&"alpha__echo".to_owned()), "{after:?}");
    let refused = client.call("alpha__echo", json!({"message": "x"})).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    // Same session, same child: a filter change restarts nothing.
    assert_eq!(text(&client.call("alpha__pid", json!({})).await), pid);
    // The server's filter holds back the tool in every profile too.
    let mut ide = Client::connect(url(&hub, "/profiles/ide/mcp")).await;
    assert_eq!(names(&ide.request("tools/list", json!({})).await), ["pid"]);
    // Saved in the config, as an exact entry.
    assert_eq!(hub.config().servers["alpha"].tools.deny, ["echo"]);
    let inventory = hub.tools(None, Some("alpha")).await.unwrap();
    let echo = inventory.tools.iter().find(|t| t.name == "echo").unwrap();
    assert!(!echo.enabled && echo.exposed.is_none(), "{echo:?}");
    let pid_row = inventory.tools.iter().find(|t| t.name == "pid").unwrap();
    assert_eq!(pid_row.exposed.as_deref(), Some("alpha__pid"));

    // Back on; and off in the profile only.
    hub.set_tool_enabled(None, "alpha", "echo", true)
        .await
        .unwrap();
    assert!(hub.config().servers["alpha"].tools.is_empty());
    hub.set_tool_enabled(Some("ide"), "beta", "pid", false)
        .await
        .unwrap();
    let mut ide = Client::connect(url(&hub, "/profiles/ide/mcp")).await;
    assert_eq!(
        names(&ide.request("tools/list", json!({})).await),
        ["alpha__echo"]
    );
    let all = names(&client.request("tools/list", json!({})).await);
    assert!(all.contains(&"beta__pid".to_owned()) && all.contains(&"alpha__echo".to_owned()));
    let profile_rows = hub.tools(Some("ide"), None).await.unwrap();
    assert_eq!(profile_rows.visible, 1, "{profile_rows:?}");
    hub.shutdown().await;
}

#[tokio::test]
async fn profiles_are_saved_checked_and_follow_removed_servers() {
    let (hub, dir) = hub_with_profiles(&[("ide", ide_profile(false))]).await;
    for bad in ["", "a/b", "a b", "dots.not.allowed"] {
        assert!(
            hub.save_profile(bad, Profile::default()).await.is_err(),
            "profile name {bad:?} accepted"
        );
    }
    let saved = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    let parsed = Config::parse(&saved, std::path::Path::new("config.json")).unwrap();
    assert_eq!(parsed.proxy.profiles["ide"], ide_profile(false));
    hub.remove_server("beta").await.unwrap();
    assert!(
        !hub.config().proxy.profiles["ide"]
            .servers
            .contains_key("beta")
    );
    let mut client = Client::connect(url(&hub, "/profiles/ide/mcp")).await;
    assert_eq!(
        names(&client.request("tools/list", json!({})).await),
        ["alpha__echo"]
    );
    hub.shutdown().await;
}
