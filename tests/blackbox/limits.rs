//! Bounds under abuse (SECURITY.md, "Limits"): what a local program can make the proxy
//! hold, with the key or without it, is bounded; past a bound the client gets a clear
//! error, the proxy keeps serving, and nothing is left behind.

use std::time::Duration;

use serde_json::{Value, json};
use switchboard_core::config::{Limits, Sharing};
use switchboard_core::relay::RelayOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::*;

fn options(limits: Limits) -> RelayOptions {
    RelayOptions {
        limits,
        ..quick_options()
    }
}

/// 2,000 connections that send half a request header and then nothing (no key needed) do
/// not stop a client that sends a whole request: the proxy closes the oldest idle
/// connections to make room, and never runs out of descriptors.
#[tokio::test]
async fn half_open_connections_without_a_key_do_not_stall_a_keyed_call() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/fx/mcp");
    let client = Client::connect(endpoint.clone()).await;
    let addr = hub.local_addr();

    let mut flood = Vec::new();
    for _ in 0..2000 {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            break; // this test process's own descriptors ran out
        };
        let _ = stream
            .write_all(b"POST /servers/fx/mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await;
        flood.push(stream);
    }
    assert!(
        flood.len() >= 1000,
        "only {} connections could be opened here",
        flood.len()
    );

    // A fresh connection (the flood may have closed the client's pooled one), a whole
    // request: answered, not stalled behind the flood (how fast is the benchmark's business;
    // `bounded` only guards against a hang).
    let mut fresh = client.fork(1000);
    fresh.http = http();
    let answer = bounded(
        "a keyed call while the flood holds its connections",
        fresh.call("echo", json!({"message": "still here"})),
    )
    .await;
    assert_eq!(text(&answer), "still here");
    drop(flood);
    hub.shutdown().await;
}

/// A half-sent header is closed after `headerReadTimeoutSecs`.
#[tokio::test]
async fn a_half_sent_header_is_closed_after_the_header_timeout() {
    let limits = Limits {
        header_read_timeout_secs: 1,
        ..Limits::default()
    };
    let hub = start_with(
        &[("fx", fixture(&[], Sharing::PerSession))],
        options(limits),
    )
    .await;
    let mut stream = TcpStream::connect(hub.local_addr()).await.unwrap();
    stream
        .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut rest)).await;
    assert!(closed.is_ok(), "the half-open connection was held");
    hub.shutdown().await;
}

async fn initialize(endpoint: &str) -> (u16, Option<String>, Value) {
    let response = http()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or(&text)
        .to_owned();
    (
        status,
        session,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

/// Sessions per server, sessions in all and children in all are bounded: past a bound,
/// `initialize` gets 503 with a JSON-RPC error naming the setting, no session and no child;
/// once a session ends, there is room again.
#[tokio::test]
async fn sessions_and_children_are_bounded_with_a_clear_error() {
    let limits = Limits {
        max_sessions_per_server: 3,
        max_sessions: 5,
        max_children: 4,
        ..Limits::default()
    };
    let hub = start_with(
        &[
            ("fx", fixture(&[], Sharing::PerSession)),
            ("fy", fixture(&[], Sharing::PerSession)),
        ],
        options(limits),
    )
    .await;
    let fx = url(&hub, "/servers/fx/mcp");
    let fy = url(&hub, "/servers/fy/mcp");
    let mut open = Vec::new();
    for _ in 0..3 {
        let (status, session, _) = initialize(&fx).await;
        assert_eq!(status, 200);
        open.push(session.expect("a session"));
    }
    let (status, session, body) = initialize(&fx).await;
    assert_eq!(status, 503, "{body}");
    assert!(session.is_none());
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("maxSessionsPerServer"), "{message}");

    let (status, _, _) = initialize(&fy).await;
    assert_eq!(status, 200);
    let (status, _, body) = initialize(&fy).await;
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("maxChildren"), "{message}");
    let pids: usize = hub.status().iter().map(|s| s.pids.len()).sum();
    assert_eq!(pids, 4);

    // One session ends: its place is free again.
    let ended = Client::with_session(fx.clone(), Some(open.remove(0)));
    assert!((200..300).contains(&ended.delete().await));
    let (status, _, _) = initialize(&fy).await;
    assert_eq!(status, 200);
    hub.shutdown().await;
}

/// Many concurrent `initialize` calls past every bound: each gets an answer (a session or
/// a 503), the number of children never passes the bound, and the proxy serves as before.
#[tokio::test]
async fn a_burst_of_initialize_calls_stays_within_the_bounds() {
    let limits = Limits {
        max_sessions_per_server: 20,
        max_children: 20,
        ..Limits::default()
    };
    let hub = start_with(
        &[("fx", fixture(&[], Sharing::PerSession))],
        options(limits),
    )
    .await;
    let fx = url(&hub, "/servers/fx/mcp");
    let attempts = (0..120).map(|_| {
        let fx = fx.clone();
        tokio::spawn(async move { initialize(&fx).await.0 })
    });
    let statuses: Vec<u16> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let refused = statuses.iter().filter(|s| **s == 503).count();
    assert_eq!(ok + refused, statuses.len(), "{statuses:?}");
    assert_eq!(ok, 20, "{statuses:?}");
    assert!(hub.status()[0].pids.len() <= 20);
    // Still serving: /status answers, and the sessions work.
    assert!(status_of(&hub).await["servers"].is_array());
    hub.shutdown().await;
}

/// Request bodies held at once are bounded: while one large body is being received, a
/// second that would pass the budget gets 503 before it is read; once the first is done,
/// there is room again.
#[tokio::test]
async fn request_bodies_held_at_once_are_bounded() {
    let limits = Limits {
        max_buffered_body_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let hub = start_with(
        &[("fx", fixture(&[], Sharing::PerSession))],
        options(limits),
    )
    .await;
    let size = 800 * 1024;
    // A client that declares a large body and sends only part of it (with the key).
    let mut slow = TcpStream::connect(hub.local_addr()).await.unwrap();
    let head = format!(
        "POST /servers/fx/mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {TEST_KEY}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {size}\r\n\r\n",
        hub.local_addr().port()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&vec![b' '; 1024]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(size)
    );
    let refused = http()
        .post(url(&hub, "/servers/fx/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("maxBufferedBodyBytes"),
        "{body}"
    );
    // Small requests still pass meanwhile.
    assert!(status_of(&hub).await["servers"].is_array());

    drop(slow);
    let mut answered = 0;
    for _ in 0..50 {
        let response = http()
            .post(url(&hub, "/servers/fx/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(big.clone())
            .send()
            .await
            .unwrap();
        if response.status() != 503 {
            answered = response.status().as_u16();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Not refused for lack of room any more (the proxy answers it: no session id, 400).
    assert_eq!(answered, 400);
    hub.shutdown().await;
}

/// A body refused by the budget is read and dropped, not left unread: a client still
/// sending a body far larger than the socket buffers gets to read its 503, not a broken
/// pipe (found by the memory bench: 60 MB bodies failed with EPIPE).
#[tokio::test]
async fn a_refused_large_body_gets_its_503_not_a_broken_pipe() {
    let limits = Limits {
        max_buffered_body_bytes: 1024 * 1024,
        ..Limits::default()
    };
    let hub = start_with(
        &[("fx", fixture(&[], Sharing::PerSession))],
        options(limits),
    )
    .await;
    // One body held (declared, half sent), so the next large one passes the budget.
    let mut holder = TcpStream::connect(hub.local_addr()).await.unwrap();
    let head = format!(
        "POST /servers/fx/mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {TEST_KEY}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 4096\r\n\r\n",
        hub.local_addr().port()
    );
    holder.write_all(head.as_bytes()).await.unwrap();
    holder.write_all(&[b' '; 1024]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"pad\":\"{}\"}}",
        "x".repeat(32 << 20)
    );
    let refused = bounded(
        "the refused POST",
        http()
            .post(url(&hub, "/servers/fx/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(big)
            .send(),
    )
    .await
    .expect("an answer, not a broken pipe");
    assert_eq!(refused.status(), 503);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("maxBufferedBodyBytes"),
        "{body}"
    );
    drop(holder);
    assert!(status_of(&hub).await["servers"].is_array());
    hub.shutdown().await;
}
