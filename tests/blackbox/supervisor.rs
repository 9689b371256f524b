//! Children: crashes, stops, noise on stdout, stderr, idle expiry.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_core::config::Sharing;
use switchboard_core::relay::RelayOptions;

use crate::support::*;

async fn status(hub: &switchboard_core::Hub) -> Value {
    status_of(hub).await
}

async fn crash_fails_in_flight(sharing: Sharing) {
    let hub = start(&[("fx", fixture(&[], sharing))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let mut slow_client = client.fork(100);
    // A slow call is in flight when the child crashes: both get an error, at once.
    let slow = tokio::spawn(async move { slow_client.call("slow", json!({"ms": 60_000})).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let crashed = client.call("crash", json!({})).await;
    for answer in [crashed, bounded("slow call", slow).await.unwrap()] {
        assert_eq!(answer["error"]["code"], -32000, "{answer}");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("exited (exit code 3)"),
            "{answer}"
        );
    }
    let status = status(&hub).await;
    assert_eq!(status["servers"][0]["unexpected_exits"], 1);
    assert!(
        status["servers"][0]["stderr_tail"]
            .to_string()
            .contains("crashing on purpose")
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_crash_fails_in_flight_requests_per_session() {
    crash_fails_in_flight(Sharing::PerSession).await;
}

#[tokio::test]
async fn a_crash_fails_in_flight_requests_shared() {
    crash_fails_in_flight(Sharing::Shared).await;
}

#[tokio::test]
async fn after_a_crash_the_session_is_gone_and_a_new_one_works() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    client.call("crash", json!({})).await;
    let ping = json!({"jsonrpc":"2.0","id":99,"method":"ping"}).to_string();
    assert_eq!(
        client.post(ping).send().await.unwrap().status(),
        404,
        "the client must re-initialize"
    );
    let mut again = Client::connect(client.endpoint.clone()).await;
    assert_eq!(
        text(&again.call("echo", json!({"message":"back"})).await),
        "back"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_shared_child_restarts_and_replays_the_handshake() {
    let hub = start(&[("fx", fixture(&[], Sharing::Shared))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let first_pid = text(&client.call("pid", json!({})).await).to_owned();
    client.call("crash", json!({})).await;
    // Same session, new child, no new initialize from the client.
    let second_pid = text(&client.call("pid", json!({})).await).to_owned();
    assert_ne!(first_pid, second_pid);
    assert_eq!(
        text(&client.call("echo", json!({"message":"still here"})).await),
        "still here"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn stopping_leaves_no_process_of_the_group() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let grandchild: u32 = text(&client.call("grandchild", json!({})).await)
        .parse()
        .unwrap();
    assert!(!process_is_gone(grandchild));
    assert_eq!(client.delete().await, 200);
    assert!(wait_until_gone(pid).await, "the child {pid} survived");
    assert!(
        wait_until_gone(grandchild).await,
        "the grandchild {grandchild} survived"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_child_that_ignores_eof_and_sigterm_is_killed() {
    let hub = start(&[(
        "stubborn",
        fixture(
            &["--ignore-sigterm", "--ignore-stdin-eof"],
            Sharing::PerSession,
        ),
    )])
    .await;
    let mut client = Client::connect(url(&hub, "/servers/stubborn/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let grandchild: u32 = text(&client.call("grandchild", json!({})).await)
        .parse()
        .unwrap();
    bounded("shutdown", hub.shutdown()).await;
    assert!(
        wait_until_gone(pid).await,
        "the child {pid} survived SIGKILL"
    );
    assert!(wait_until_gone(grandchild).await);
}

#[tokio::test]
async fn non_json_on_stdout_is_reported_not_relayed() {
    let hub = start(&[("fx", fixture(&["--banner"], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let (answer, others) = client
        .request_with_events("tools/call", json!({"name":"noise","arguments":{}}))
        .await;
    assert_eq!(text(&answer), "after noise");
    assert!(others.is_empty(), "noise was relayed: {others:?}");
    assert_eq!(
        text(&client.call("echo", json!({"message":"clean"})).await),
        "clean"
    );
    let status = status(&hub).await;
    assert_eq!(
        status["servers"][0]["invalid_stdout_lines"], 3,
        "banner + two noise lines"
    );
    assert!(
        status["servers"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("stdout")
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn stderr_goes_to_a_bounded_ring_not_the_stream() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let (answer, others) = client
        .request_with_events(
            "tools/call",
            json!({"name":"stderr","arguments":{"lines":500}}),
        )
        .await;
    assert_eq!(text(&answer), "wrote stderr");
    assert!(others.is_empty());
    // The ring keeps the newest lines; give the reader a moment to catch up.
    let mut tail = Value::Null;
    for _ in 0..100 {
        tail = status(&hub).await["servers"][0]["stderr_tail"].clone();
        if tail.to_string().contains("stderr line 499") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(tail.to_string().contains("stderr line 499"), "{tail}");
    assert!(tail.as_array().unwrap().len() <= 20);
    hub.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_expire_and_their_child_stops() {
    let options = RelayOptions {
        idle_timeout: Duration::from_millis(300),
        ..quick_options()
    };
    let hub = start_with(&[("fx", fixture(&[], Sharing::PerSession))], options).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let mut changes = hub.subscribe();
    changes.borrow_and_update();
    assert!(
        wait_until_gone(pid).await,
        "the idle session's child still runs"
    );
    let ping = json!({"jsonrpc":"2.0","id":99,"method":"ping"}).to_string();
    assert_eq!(client.post(ping).send().await.unwrap().status(), 404);
    // The window and the tray hear of it (they show sessions and pids).
    bounded("the expiry announced", changes.changed())
        .await
        .unwrap();
    assert_eq!(status_of(&hub).await["servers"][0]["sessions"], 0);
    hub.shutdown().await;
}

#[tokio::test]
async fn an_open_get_stream_keeps_a_session_alive() {
    let options = RelayOptions {
        idle_timeout: Duration::from_millis(200),
        ..quick_options()
    };
    let hub = start_with(&[("fx", fixture(&[], Sharing::PerSession))], options).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let stream = client.open_stream().await;
    // Several idle periods pass with the stream open.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"alive"})).await),
        "alive"
    );
    drop(stream);
    hub.shutdown().await;
}

/// The desktop app gives children its user's login-shell PATH (`RelayOptions::child_path`):
/// a bare command that only that PATH has starts, and without it the same one does not.
#[tokio::test]
async fn a_command_only_on_the_given_child_path_starts() {
    let dir = tempfile::tempdir().unwrap();
    let name = "switchboard-fixture-on-child-path";
    std::os::unix::fs::symlink(fixture_path(), dir.path().join(name)).unwrap();
    let mut server = fixture(&[], Sharing::PerSession);
    server.command = Some(name.to_owned());
    let initialize = json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"blackbox","version":"1"}});

    let hub = start_with(&[("fx", server.clone())], quick_options()).await;
    let mut client = Client::new(url(&hub, "/servers/fx/mcp"));
    let refused = client.request("initialize", initialize.clone()).await;
    assert!(refused.get("error").is_some(), "{refused}");
    hub.shutdown().await;

    let child_path = std::env::join_paths([dir.path(), "/usr/bin".as_ref(), "/bin".as_ref()]);
    let options = RelayOptions {
        child_path: Some(child_path.unwrap()),
        ..quick_options()
    };
    let hub = start_with(&[("fx", server)], options).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"found"})).await),
        "found"
    );
    hub.shutdown().await;
}
