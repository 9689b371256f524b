//! The relay carries everything, to the right session only.

use std::collections::HashSet;

use serde_json::{Value, json};
use switchboard_core::config::Sharing;

use crate::support::*;

#[tokio::test]
async fn a_round_trip_through_the_proxy() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let tools = client.request("tools/list", json!({})).await;
    assert_eq!(tools["result"]["tools"][0]["name"], "echo");
    let answer = client
        .call("echo", json!({"message": "héllo, wörld ✓"}))
        .await;
    assert_eq!(text(&answer), "héllo, wörld ✓");
    hub.shutdown().await;
}

async fn no_cross_talk(sharing: Sharing) -> HashSet<String> {
    let hub = start(&[("fx", fixture(&[], sharing))]).await;
    let endpoint = url(&hub, "/servers/fx/mcp");
    let sessions = (0..20).map(|s| {
        let endpoint = endpoint.clone();
        tokio::spawn(async move {
            // Every session uses ids 1, 2, 3…: the relay must keep them apart.
            let mut client = Client::connect(endpoint).await;
            let calls = (0..20).map(|c| {
                // Ids collide across sessions (all count from 1) but not inside one.
                let mut client = client.fork(c as u64 * 10);
                async move {
                    let payload = format!("session {s} call {c} {}", "x".repeat(s * 7 + c));
                    let answer = client.call("echo", json!({"message": payload})).await;
                    assert_eq!(text(&answer), payload, "a reply reached the wrong caller");
                }
            });
            futures::future::join_all(calls).await;
            let pid = client.call("pid", json!({})).await;
            text(&pid).to_owned()
        })
    });
    let pids = futures::future::join_all(sessions)
        .await
        .into_iter()
        .map(|r| r.expect("session task"))
        .collect();
    hub.shutdown().await;
    pids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_sessions_by_twenty_calls_per_session_children() {
    let pids = no_cross_talk(Sharing::PerSession).await;
    assert_eq!(pids.len(), 20, "one child per session");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_sessions_by_twenty_calls_one_shared_child() {
    let pids = no_cross_talk(Sharing::Shared).await;
    assert_eq!(pids.len(), 1, "one child for every session");
}

#[tokio::test]
async fn a_ten_mebibyte_result_arrives_intact() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let len = 10 * 1024 * 1024;
    let answer = client.call("big", json!({"bytes": len})).await;
    let expected: String = (0..len)
        .map(|i| char::from(b'a' + ((i * 7 + i / 26) % 26) as u8))
        .collect();
    assert_eq!(text(&answer).len(), len);
    assert!(text(&answer) == expected, "content differs");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_large_request_body_reaches_the_child() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let payload = "z".repeat(16 * 1024 * 1024);
    let answer = client.call("echo", json!({"message": payload})).await;
    assert_eq!(text(&answer).len(), payload.len());
    hub.shutdown().await;
}

#[tokio::test]
async fn unknown_methods_and_fields_pass_byte_for_byte() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    // Odd spacing, escapes, big numbers and unknown fields: the child must see these bytes.
    let body = r#"{"jsonrpc":"2.0","id":77,"method":"fixture/raw","params":{"x-future":[1.50,2e3,"\u00e9\n"],"_meta":{"vendor/key":{"deep":true}},"n":12345678901234567890},"extra":"kept"}"#;
    let response = client.post(body).send().await.unwrap();
    let mut events = Events::from_response(response);
    let answer = bounded("answer", events.next()).await.unwrap();
    assert_eq!(answer["result"]["line"], body);
    hub.shutdown().await;
}

#[tokio::test]
async fn pretty_printed_requests_become_one_stdio_line() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let body = "{\n  \"jsonrpc\": \"2.0\",\n  \"id\": 5,\r\n  \"method\": \"tools/call\",\n  \"params\": {\"name\": \"echo\", \"arguments\": {\"message\": \"a\\nb\"}}\n}";
    let response = client.post(body).send().await.unwrap();
    let answer = bounded("answer", Events::from_response(response).next())
        .await
        .unwrap();
    assert_eq!(text(&answer), "a\nb");
    hub.shutdown().await;
}

async fn progress_arrives_in_order(sharing: Sharing) {
    let hub = start(&[("fx", fixture(&[], sharing))]).await;
    let mut a = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let mut b = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    // Both sessions use the same token: each must see only its own progress.
    let params = |steps: u64| json!({"name": "progress", "arguments": {"steps": steps}, "_meta": {"progressToken": "tok"}});
    let (ra, rb) = tokio::join!(
        a.request_with_events("tools/call", params(5)),
        b.request_with_events("tools/call", params(3))
    );
    for ((answer, events), steps) in [(ra, 5u64), (rb, 3u64)] {
        assert_eq!(text(&answer), format!("{steps} steps"));
        let progress: Vec<u64> = events
            .iter()
            .map(|e| e["params"]["progress"].as_u64().unwrap())
            .collect();
        assert_eq!(progress, (1..=steps).collect::<Vec<_>>(), "{events:?}");
        assert!(events.iter().all(|e| e["params"]["progressToken"] == "tok"));
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn progress_goes_to_its_own_request_stream() {
    progress_arrives_in_order(Sharing::PerSession).await;
}

#[tokio::test]
async fn progress_tokens_are_mapped_for_a_shared_child() {
    progress_arrives_in_order(Sharing::Shared).await;
}

/// The server asks the client a question mid-call (sampling) and uses the answer.
/// With an SSE POST the question travels on that POST's stream (it relates to the call);
/// with a JSON-only POST it must use the session's GET stream.
async fn sampling_round_trip(sharing: Sharing, post_accepts_sse: bool) {
    let hub = start(&[("fx", fixture(&[], sharing))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let mut get_stream = if post_accepts_sse {
        None
    } else {
        Some(client.open_stream().await)
    };
    let id = client.next_id();
    let body = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"ask","arguments":{"question":"2+2?"}}}).to_string();
    let accept = if post_accepts_sse {
        "application/json, text/event-stream"
    } else {
        "application/json"
    };
    let call = client
        .http
        .post(&client.endpoint)
        .header("content-type", "application/json")
        .header("accept", accept)
        .header("mcp-session-id", client.session.clone().unwrap())
        .body(body)
        .send();
    // A JSON answer only comes once the question is answered, so the call runs alongside.
    let call = tokio::spawn(async move { Events::from_response(call.await.unwrap()) });
    let mut call = Some(call);
    let mut post_stream = None;
    let question = match &mut get_stream {
        Some(get) => bounded("question", get.next()).await.unwrap(),
        None => {
            let mut stream = call.take().unwrap().await.unwrap();
            let question = bounded("question", stream.next()).await.unwrap();
            post_stream = Some(stream);
            question
        }
    };
    assert_eq!(question["method"], "sampling/createMessage");
    let reply = json!({"jsonrpc":"2.0","id":question["id"],"result":{"role":"assistant","content":{"type":"text","text":"four"},"model":"m"}});
    assert_eq!(
        client
            .post(reply.to_string())
            .send()
            .await
            .unwrap()
            .status(),
        202
    );
    let mut call = match post_stream {
        Some(stream) => stream,
        None => call.take().unwrap().await.unwrap(),
    };
    let answer = bounded("answer", call.next()).await.unwrap();
    assert_eq!(text(&answer), "client said: four");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_server_request_reaches_its_session_on_the_post_stream() {
    sampling_round_trip(Sharing::PerSession, true).await;
}

#[tokio::test]
async fn a_server_request_reaches_its_session_on_the_get_stream() {
    sampling_round_trip(Sharing::PerSession, false).await;
}

#[tokio::test]
async fn a_shared_child_routes_a_server_request_to_the_busy_session() {
    sampling_round_trip(Sharing::Shared, true).await;
}

#[tokio::test]
async fn notifications_reach_only_their_session() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut a = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let b = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let mut b_stream = b.open_stream().await;
    let (answer, events) = a
        .request_with_events(
            "tools/call",
            json!({"name":"notify","arguments":{"data":"for a"}}),
        )
        .await;
    assert_eq!(text(&answer), "notified");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["params"]["data"], "for a");
    // b's stream stays quiet: nothing of a's reaches it.
    let leaked = tokio::time::timeout(std::time::Duration::from_millis(300), b_stream.next()).await;
    assert!(leaked.is_err(), "b received {leaked:?}");
    hub.shutdown().await;
}

#[tokio::test]
async fn shared_child_cancellation_is_mapped_to_the_proxy_id() {
    let hub = start(&[("fx", fixture(&[], Sharing::Shared))]).await;
    let mut a = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    // A cancel for an id nothing is using is accepted and dropped.
    assert_eq!(
        a.notify("notifications/cancelled", json!({"requestId": 999}))
            .await,
        202
    );
    let answer = a.call("echo", json!({"message":"still fine"})).await;
    assert_eq!(text(&answer), "still fine");
    hub.shutdown().await;
}

#[tokio::test]
async fn shared_sessions_get_the_cached_initialize_result() {
    let hub = start(&[("fx", fixture(&[], Sharing::Shared))]).await;
    let mut first = Client::new(url(&hub, "/servers/fx/mcp"));
    let mut second = Client::new(url(&hub, "/servers/fx/mcp"));
    let params = json!({"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}});
    let a = first.request("initialize", params.clone()).await;
    let b = second.request("initialize", params).await;
    assert_eq!(a["result"], b["result"]);
    assert_eq!(a["id"], json!(1));
    assert_eq!(b["id"], json!(1));
    assert_ne!(first.session, second.session);
    let status: Value = status_of(&hub).await;
    assert_eq!(status["servers"][0]["starts"], 1);
    hub.shutdown().await;
}

/// A change of the server's lists concerns no request: it does not ride the stream of the
/// call that happened to be in flight, but waits for (or goes to) the GET stream, as the
/// spec asks of request streams; a client that opens one later still gets it.
#[tokio::test]
async fn a_list_change_goes_to_the_get_stream_not_the_request_in_flight() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let (answer, others) = client
        .request_with_events(
            "tools/call",
            json!({"name": "change_tools", "arguments": {}}),
        )
        .await;
    assert_eq!(text(&answer), "changed");
    assert!(
        others
            .iter()
            .all(|m| m["method"] != "notifications/tools/list_changed"),
        "the list change rode the request stream: {others:?}"
    );
    let mut events = client.open_stream().await;
    let note = bounded("list_changed", events.next()).await.unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    hub.shutdown().await;
}
