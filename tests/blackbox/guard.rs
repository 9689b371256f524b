//! The guard in front of every route: Host, Origin, API key.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_core::config::Sharing;
use switchboard_core::secrets::{MemoryStore, SecretStore, Sensitive};
use switchboard_core::{Auth, api_key};

use crate::support::*;

/// Every route the router serves. `every_route_is_listed_here` keeps this list in step
/// with `http::router`, so a new route cannot skip these tests.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/status"),
    ("POST", "/servers/fx/mcp"),
    ("GET", "/servers/fx/mcp"),
    ("DELETE", "/servers/fx/mcp"),
    ("GET", "/servers/fx/sse"),
    ("POST", "/servers/fx/messages"),
    ("POST", "/servers/fx/messages/"),
    ("POST", "/mcp"),
    ("GET", "/mcp"),
    ("DELETE", "/mcp"),
    ("GET", "/sse"),
    ("POST", "/messages"),
    ("POST", "/messages/"),
    ("POST", "/profiles/fx/mcp"),
    ("GET", "/profiles/fx/mcp"),
    ("DELETE", "/profiles/fx/mcp"),
    ("GET", "/profiles/fx/sse"),
    ("POST", "/profiles/fx/messages"),
    ("POST", "/profiles/fx/messages/"),
    // The fallback: unknown paths are guarded too.
    ("GET", "/no/such/route"),
];

#[test]
fn every_route_is_listed_here() {
    let source = include_str!("../../crates/core/src/http/mod.rs");
    let routed: Vec<String> = source
        .split(".route(")
        .skip(1)
        .filter_map(|rest| {
            rest.trim_start()
                .strip_prefix('"')?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .map(|path| path.replace("{name}", "fx").replace("{profile}", "fx"))
        .collect();
    assert!(!routed.is_empty());
    for path in &routed {
        assert!(
            ROUTES.iter().any(|(_, p)| p == path),
            "route {path} is missing from guard::ROUTES"
        );
    }
}

/// A raw HTTP/1.1 exchange, so header names go on the wire exactly as written.
fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // Read the head (and whatever body came with it); SSE bodies never end, so stop early.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
        if response.windows(4).any(|w| w == b"\r\n\r\n") && response.len() > 12 {
            let head_end = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if length.is_none_or(|len| response.len() >= head_end + 4 + len) {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

fn request(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    extra_headers: &str,
) -> (u16, String) {
    let host = format!("127.0.0.1:{}", addr.port());
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{extra_headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw(addr, &req)
}

fn header_of<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_requires_the_key_in_either_header_any_case() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let wrong = format!("{}x", TEST_KEY);
    let addr = hub.local_addr();
    tokio::task::spawn_blocking(move || {
        for (method, path) in ROUTES {
            let detailed_status = *path == "/status";
            for (label, headers) in [
                ("no key", String::new()),
                ("wrong bearer", format!("Authorization: Bearer {wrong}\r\n")),
                ("wrong x-api-key", format!("X-API-Key: {wrong}\r\n")),
                (
                    "key as basic auth",
                    format!("Authorization: Basic {TEST_KEY}\r\n"),
                ),
                ("empty bearer", "Authorization: Bearer \r\n".to_owned()),
            ] {
                let (status, response) = request(addr, method, path, &headers);
                if detailed_status {
                    // The minimal status stays open, without any detail.
                    assert_eq!(status, 200, "{label} {method} {path}");
                    assert!(
                        !response.contains("\"servers\""),
                        "{label}: status leaked details"
                    );
                    continue;
                }
                assert_eq!(status, 401, "{label} {method} {path}: {response}");
                assert_eq!(
                    header_of(&response, "www-authenticate"),
                    Some("Bearer realm=\"switchboard\""),
                    "{method} {path}"
                );
                assert!(response.contains("\"code\":-32001"), "{response}");
                assert!(
                    !response.contains(&wrong) && !response.contains(TEST_KEY),
                    "the answer echoes a key"
                );
            }
            for (label, headers) in [
                (
                    "Authorization",
                    format!("Authorization: Bearer {TEST_KEY}\r\n"),
                ),
                (
                    "authorization lower, bearer lower",
                    format!("authorization: bearer {TEST_KEY}\r\n"),
                ),
                (
                    "AUTHORIZATION upper, BEARER upper",
                    format!("AUTHORIZATION: BEARER {TEST_KEY}\r\n"),
                ),
                ("X-API-Key", format!("X-API-Key: {TEST_KEY}\r\n")),
                ("x-api-key lower", format!("x-api-key: {TEST_KEY}\r\n")),
                ("X-API-KEY upper", format!("X-API-KEY: {TEST_KEY}\r\n")),
            ] {
                let (status, response) = request(addr, method, path, &headers);
                assert!(
                    ![401, 403].contains(&status),
                    "{label} {method} {path}: {status}"
                );
                if detailed_status {
                    assert!(
                        response.contains("\"servers\""),
                        "{label}: no detail with the key"
                    );
                }
            }
        }
    })
    .await
    .unwrap();
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_host_is_refused_everywhere() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let port = hub.local_addr().port();
    let addr = hub.local_addr();
    tokio::task::spawn_blocking(move || {
        for host in ["evil.example.com".to_owned(), format!("evil.example.com:{port}"), "127.0.0.1".to_owned(), format!("127.0.0.1:{}", port + 1)] {
            for (method, path) in ROUTES.iter().chain(&[("OPTIONS", "/servers/fx/mcp")]) {
                let req = format!(
                    "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TEST_KEY}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let (status, response) = raw(addr, &req);
                assert_eq!(status, 403, "Host {host} on {method} {path}: {response}");
            }
        }
    })
    .await
    .unwrap();
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_foreign_origin_is_refused_on_every_mcp_route() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let session = client.session.clone().unwrap();
    let addr = hub.local_addr();
    tokio::task::spawn_blocking(move || {
        let key = format!("Authorization: Bearer {TEST_KEY}\r\n");
        for origin in [
            "http://evil.example.com",
            "null",
            "http://localhost.evil.example.com",
            "https://allowed.example.evil",
        ] {
            let origin_header = format!("Origin: {origin}\r\n{key}Mcp-Session-Id: {session}\r\n");
            for (method, path) in [
                ("POST", "/servers/fx/mcp"),
                ("GET", "/servers/fx/mcp"),
                ("DELETE", "/servers/fx/mcp"),
                ("GET", "/servers/fx/sse"),
                (
                    "POST",
                    &format!("/servers/fx/messages?session_id={session}") as &str,
                ),
                ("OPTIONS", "/servers/fx/mcp"),
            ] {
                let (status, response) = request(addr, method, path, &origin_header);
                assert_eq!(
                    status, 403,
                    "Origin {origin} on {method} {path}: {response}"
                );
                assert!(header_of(&response, "access-control-allow-origin").is_none());
            }
        }
    })
    .await
    .unwrap();
    // The session was not touched by any of it.
    let mut client = client;
    assert_eq!(
        text(&client.call("echo", json!({"message":"intact"})).await),
        "intact"
    );
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_origins_get_cors_and_preflight_is_open() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let addr = hub.local_addr();
    tokio::task::spawn_blocking(move || {
        for origin in ["http://localhost:6274", "http://127.0.0.1:5173", "https://allowed.example"] {
            // Preflight without a key.
            let preflight = format!("Origin: {origin}\r\nAccess-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, mcp-session-id\r\n");
            let (status, response) = request(addr, "OPTIONS", "/servers/fx/mcp", &preflight);
            assert_eq!(status, 204, "{response}");
            assert_eq!(header_of(&response, "access-control-allow-origin"), Some(origin));
            assert!(header_of(&response, "access-control-allow-headers").unwrap().contains("authorization"));
            // A 401 carries CORS headers too, so the page can read why.
            let (status, response) = request(addr, "POST", "/servers/fx/mcp", &format!("Origin: {origin}\r\n"));
            assert_eq!(status, 401);
            assert_eq!(header_of(&response, "access-control-allow-origin"), Some(origin));
            assert!(header_of(&response, "access-control-expose-headers").unwrap().contains("www-authenticate"));
            // And a real call works.
            let (status, response) = request(addr, "GET", "/status", &format!("Origin: {origin}\r\nX-API-Key: {TEST_KEY}\r\n"));
            assert_eq!(status, 200);
            assert_eq!(header_of(&response, "access-control-allow-origin"), Some(origin));
        }
    })
    .await
    .unwrap();
    hub.shutdown().await;
}

#[tokio::test]
async fn status_is_minimal_without_the_key_and_truthful_with_it() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let minimal: Value = reqwest::get(url(&hub, "/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        minimal,
        json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")})
    );
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u64 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let detailed = status_of(&hub).await;
    assert_eq!(detailed["auth"], "required");
    let fx = &detailed["servers"][0];
    assert_eq!(
        (
            fx["name"].as_str(),
            fx["state"].as_str(),
            fx["sessions"].as_u64()
        ),
        (Some("fx"), Some("running"), Some(1))
    );
    assert_eq!(fx["pids"], json!([pid]));
    assert_eq!(fx["starts"], 1);
    hub.shutdown().await;
}

#[tokio::test]
async fn auth_can_be_turned_off_only_explicitly_and_then_status_warns() {
    let hub = start_with_auth(
        &[("fx", fixture(&[], Sharing::PerSession))],
        quick_options(),
        Auth::Disabled,
    )
    .await;
    let status: Value = reqwest::get(url(&hub, "/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["auth"], "disabled");
    assert!(status["warning"].as_str().unwrap().contains("turned off"));
    let mut client = Client::new(url(&hub, "/servers/fx/mcp"));
    client.http = reqwest::Client::new(); // no key at all
    client.request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}})).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"open"})).await),
        "open"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn rotation_takes_effect_without_a_restart() {
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let auth = Auth::from_keychain(store.clone()).unwrap();
    let hub = start_with_auth(
        &[("fx", fixture(&[], Sharing::PerSession))],
        quick_options(),
        auth,
    )
    .await;
    let first = store.get(api_key::KEYCHAIN_ITEM).unwrap().unwrap();
    let status_with = |key: Sensitive<String>| {
        let url = url(&hub, "/status");
        async move {
            let response = reqwest::Client::new()
                .get(url)
                .header("x-api-key", key.expose())
                .send()
                .await
                .unwrap();
            response
                .json::<Value>()
                .await
                .unwrap()
                .get("servers")
                .is_some()
        }
    };
    assert!(status_with(first.clone()).await);

    // In-process rotation (the desktop app's path): immediate.
    let second = hub.rotate_key().await.unwrap();
    assert!(!status_with(first.clone()).await, "the old key still works");
    assert!(status_with(second.clone()).await);
    assert_eq!(store.get(api_key::KEYCHAIN_ITEM).unwrap().unwrap(), second);

    // Rotation by another process (`switchboard key rotate`): picked up from the keychain.
    let third = api_key::rotate(store.as_ref()).unwrap();
    let mut switched = false;
    for _ in 0..100 {
        if status_with(third.clone()).await {
            switched = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        switched,
        "the running proxy never picked up the rotated key"
    );
    assert!(!status_with(second).await);
    hub.shutdown().await;
}

#[tokio::test]
async fn children_never_inherit_switchboard_environment_secrets() {
    // The fixture's env tool is not needed: a child's environment is readable in /proc.
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains("SWITCHBOARD_API_KEY"), "{environ}");
    assert!(environ.contains("PATH="));
    hub.shutdown().await;
}
