//! The 2024-11-05 HTTP+SSE transport at `/servers/<name>/sse`.

use serde_json::json;
use switchboard_core::config::Sharing;

use crate::support::*;

async fn round_trip(sharing: Sharing, query_name: &str) {
    let hub = start(&[("fx", fixture(&[], sharing))]).await;
    let http = http();
    let response = http
        .get(url(&hub, "/servers/fx/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = Events::from_response(response);
    let (kind, endpoint) = bounded("endpoint event", events.next_raw()).await.unwrap();
    assert_eq!(kind, "endpoint");
    assert!(
        endpoint.starts_with("/servers/fx/messages?session_id="),
        "{endpoint}"
    );
    let session = endpoint.rsplit('=').next().unwrap().to_owned();
    let post_url = url(
        &hub,
        &format!("/servers/fx/messages?{query_name}={session}"),
    );
    let post = |body: serde_json::Value| {
        http.post(&post_url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };

    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    assert_eq!(post(init).await.unwrap().status(), 202);
    let (kind, data) = bounded("initialize result", events.next_raw())
        .await
        .unwrap();
    assert_eq!(kind, "message");
    assert!(data.contains("fixture-server"));
    assert_eq!(
        post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await
            .unwrap()
            .status(),
        202
    );
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"over sse"}}});
    assert_eq!(post(call).await.unwrap().status(), 202);
    let answer = bounded("echo", events.next()).await.unwrap();
    assert_eq!(text(&answer), "over sse");

    // Closing the stream ends the session.
    drop(events);
    let unknown = json!({"jsonrpc":"2.0","id":3,"method":"ping"});
    let mut status = 0;
    for _ in 0..100 {
        status = post(unknown.clone()).await.unwrap().status().as_u16();
        if status == 404 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, 404);
    hub.shutdown().await;
}

#[tokio::test]
async fn legacy_sse_round_trip_with_session_id() {
    round_trip(Sharing::PerSession, "session_id").await;
}

#[tokio::test]
async fn legacy_sse_round_trip_with_camel_case_session_id() {
    round_trip(Sharing::PerSession, "sessionId").await;
}

#[tokio::test]
async fn legacy_sse_on_a_shared_child() {
    round_trip(Sharing::Shared, "session_id").await;
}

#[tokio::test]
async fn legacy_messages_need_a_known_session() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let http = http();
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string();
    let missing = http
        .post(url(&hub, "/servers/fx/messages"))
        .header("content-type", "application/json")
        .body(ping.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    let unknown = http
        .post(url(&hub, "/servers/fx/messages/?session_id=abc"))
        .header("content-type", "application/json")
        .body(ping)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    hub.shutdown().await;
}

/// SECURITY.md's rule on both transports: a body that does not say it is JSON gets 415 (a
/// form post from a web page cannot say so without a preflight), and the session carries on.
#[tokio::test]
async fn a_post_must_say_its_body_is_json_on_both_transports() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let http = http();
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string();
    // Streamable HTTP, no Content-Type at all: refused before any session exists.
    let bare = http
        .post(url(&hub, "/servers/fx/mcp"))
        .header("accept", "application/json, text/event-stream")
        .body(init.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 415);
    assert!(hub.status()[0].sessions == 0 && hub.status()[0].pids.is_empty());

    // Legacy /messages: text/plain and none are refused; application/json goes through.
    let response = http
        .get(url(&hub, "/servers/fx/sse"))
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    let mut events = Events::from_response(response);
    let (_, endpoint) = bounded("endpoint event", events.next_raw()).await.unwrap();
    let post_url = url(&hub, &endpoint);
    for content_type in [Some("text/plain"), None] {
        let mut post = http.post(&post_url).body(init.clone());
        if let Some(content_type) = content_type {
            post = post.header("content-type", content_type);
        }
        assert_eq!(post.send().await.unwrap().status(), 415, "{content_type:?}");
    }
    let json_post = http
        .post(&post_url)
        .header("content-type", "application/json; charset=utf-8")
        .body(init)
        .send()
        .await
        .unwrap();
    assert_eq!(json_post.status(), 202);
    let (kind, data) = bounded("initialize result", events.next_raw())
        .await
        .unwrap();
    assert_eq!(kind, "message");
    assert!(data.contains("fixture-server"), "{data}");
    hub.shutdown().await;
}
