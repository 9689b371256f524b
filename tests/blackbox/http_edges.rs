//! Bad input gets the spec's answer, never a 500 or a hang.

use serde_json::{Value, json};
use switchboard_core::config::Sharing;

use crate::support::*;

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.expect("a JSON body");
    (status, body)
}

#[tokio::test]
async fn malformed_json_gets_a_parse_error() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::new(url(&hub, "/servers/fx/mcp"));
    for body in ["{\"jsonrpc\":\"2.0\",\"id\":1,", "not json", ""] {
        let (status, body) = error_of(client.post(body).send().await.unwrap()).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], -32700, "{body}");
        assert_eq!(body["id"], Value::Null);
    }
    let (status, body) = error_of(
        client
            .post(r#"{"jsonrpc":"2.0","id":1}"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32600))
    );
    let (status, body) = error_of(
        client
            .post(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!(-32600))
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn session_ids_are_required_and_checked() {
    let hub = start(&[
        ("fx", fixture(&[], Sharing::PerSession)),
        ("other", fixture(&[], Sharing::PerSession)),
    ])
    .await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let session = client.session.clone().unwrap();
    assert_eq!(session.len(), 64);
    assert!(session.bytes().all(|b| (0x21..=0x7e).contains(&b)));

    let ping = json!({"jsonrpc":"2.0","id":9,"method":"ping"}).to_string();
    let anonymous = Client::new(client.endpoint.clone());
    let (status, _) = error_of(anonymous.post(ping.clone()).send().await.unwrap()).await;
    assert_eq!(status, 400, "missing session id");

    let stranger = Client::with_session(client.endpoint.clone(), Some("0".repeat(64)));
    assert_eq!(
        stranger.post(ping.clone()).send().await.unwrap().status(),
        404,
        "unknown session id"
    );

    // A session belongs to its server.
    let elsewhere = Client::with_session(url(&hub, "/servers/other/mcp"), Some(session.clone()));
    assert_eq!(
        elsewhere.post(ping.clone()).send().await.unwrap().status(),
        404
    );

    assert_eq!(client.request("ping", json!({})).await["result"], json!({}));
    assert_eq!(client.delete().await, 200);
    assert_eq!(
        client.post(ping).send().await.unwrap().status(),
        404,
        "ended session"
    );
    assert_eq!(client.delete().await, 404);
    hub.shutdown().await;
}

#[tokio::test]
async fn accept_and_content_type_are_checked() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let ping = json!({"jsonrpc":"2.0","id":50,"method":"ping"}).to_string();
    let session = client.session.clone().unwrap();
    let base = || {
        client
            .http
            .post(&client.endpoint)
            .header("mcp-session-id", &session)
            .header("content-type", "application/json")
    };

    assert_eq!(
        base()
            .header("accept", "text/html")
            .body(ping.clone())
            .send()
            .await
            .unwrap()
            .status(),
        406
    );
    // JSON only: a plain JSON answer.
    let response = base()
        .header("accept", "application/json")
        .body(ping.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap()["id"], 50);
    // Both: an SSE stream.
    let (answer, _) = client.request_with_events("ping", json!({})).await;
    assert_eq!(answer["result"], json!({}));

    let form = client
        .http
        .post(&client.endpoint)
        .header("mcp-session-id", &session)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "text/plain")
        .body(ping);
    assert_eq!(form.send().await.unwrap().status(), 415);

    let get = client
        .http
        .get(&client.endpoint)
        .header("mcp-session-id", &session)
        .header("accept", "application/json");
    assert_eq!(get.send().await.unwrap().status(), 406);
    hub.shutdown().await;
}

#[tokio::test]
async fn protocol_version_header_is_validated() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let ping = json!({"jsonrpc":"2.0","id":3,"method":"ping"}).to_string();
    let bad = client
        .post(ping.clone())
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let good = client
        .post(ping)
        .header("mcp-protocol-version", "2025-06-18")
        .send()
        .await
        .unwrap();
    assert_eq!(good.status(), 200);
    hub.shutdown().await;
}

#[tokio::test]
async fn notifications_and_responses_get_202() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    assert_eq!(
        client
            .notify("notifications/roots/list_changed", json!({}))
            .await,
        202
    );
    let stray = json!({"jsonrpc":"2.0","id":"nobody-asked","result":{}}).to_string();
    let response = client.post(stray).send().await.unwrap();
    assert_eq!(response.status(), 202);
    assert!(response.bytes().await.unwrap().is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn unknown_servers_and_routes_are_404_json() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::new(url(&hub, "/servers/nope/mcp"));
    let (status, body) = error_of(client.post("{}").send().await.unwrap()).await;
    assert_eq!(status, 404);
    assert!(body["error"]["message"].as_str().unwrap().contains("nope"));
    let (status, _) = error_of(http().get(url(&hub, "/elsewhere")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_id_in_flight_is_refused() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let slow = json!({"jsonrpc":"2.0","id":"same","method":"tools/call","params":{"name":"slow","arguments":{"ms":1500}}}).to_string();
    // SSE only: the answer's headers come at once, so the call is known to be in flight.
    let first = client
        .http
        .post(&client.endpoint)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-session-id", client.session.clone().unwrap())
        .body(slow.clone());
    let first = bounded("first", first.send()).await.unwrap();
    let second = client.post(slow).send().await.unwrap();
    assert_eq!(second.status(), 400);
    let answer = bounded("first", Events::from_response(first).next())
        .await
        .unwrap();
    assert_eq!(text(&answer), "done");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_server_that_cannot_start_gets_a_json_rpc_error() {
    let mut broken = fixture(&[], Sharing::PerSession);
    broken.command = Some("/nonexistent/mcp-server".into());
    let hub = start(&[("broken", broken)]).await;
    let mut client = Client::new(url(&hub, "/servers/broken/mcp"));
    let answer = client.request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}})).await;
    assert_eq!(answer["error"]["code"], -32000);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/mcp-server")
    );
    assert!(client.session.is_none());
    let status: Value = status_of(&hub).await;
    assert!(
        status["servers"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot start")
    );
    hub.shutdown().await;
}

fn sse_request(client: &Client, body: String, version: &str) -> reqwest::RequestBuilder {
    client
        .http
        .post(&client.endpoint)
        .header("content-type", "application/json")
        .header("accept", "text/event-stream")
        .header("mcp-protocol-version", version)
        .header("mcp-session-id", client.session.clone().unwrap())
        .body(body)
}

#[tokio::test]
async fn request_streams_prime_2025_11_25_clients_with_an_event_id_and_retry() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let call = json!({"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"echo","arguments":{"message":"primed"}}}).to_string();
    let body = bounded(
        "primed",
        sse_request(&client, call.clone(), "2025-11-25").send(),
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let events: Vec<&str> = body
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .collect();
    assert!(
        events[0].contains("retry: ") && events[0].contains("data: "),
        "{body}"
    );
    let first_id = events[0]
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("priming id");
    let answer_id = events[1]
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("answer id");
    assert_ne!(first_id, answer_id);
    assert!(events[1].contains("\"text\":\"primed\""), "{body}");
    // An older client gets no priming event (it could take it for a message).
    let old = bounded("old", sse_request(&client, call, "2025-06-18").send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!old.contains("retry:"), "{old}");
    assert!(old.trim_start().starts_with("event: message"), "{old}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_dropped_request_stream_resumes_with_last_event_id() {
    resume_after(std::time::Duration::ZERO).await;
}

#[tokio::test]
async fn an_answer_that_came_while_no_stream_was_open_is_replayed_on_resume() {
    // Usually the answer (800 ms) is kept as an orphan before the client resumes; if the
    // machine is slow it is still in flight and simply comes to the resumed stream.
    resume_after(std::time::Duration::from_millis(1500)).await;
}

async fn resume_after(delay: std::time::Duration) {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let call = json!({"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"slow","arguments":{"ms":800}}}).to_string();
    let response = bounded("slow", sse_request(&client, call, "2025-11-25").send())
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let chunk = bounded("priming", futures::StreamExt::next(&mut body))
            .await
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let last_event_id = seen
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();
    // The client loses the stream (not a cancellation) and resumes it: the answer, whether
    // it came while no stream was open or comes later, arrives on the GET stream.
    drop(body);
    tokio::time::sleep(delay).await;
    let resumed = client
        .http
        .get(&client.endpoint)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", client.session.clone().unwrap())
        .header("last-event-id", &last_event_id)
        .send();
    let mut events = Events::from_response(bounded("resume", resumed).await.unwrap());
    let answer = bounded("the missed answer", events.next()).await.unwrap();
    assert_eq!(answer["id"], "slow-1");
    assert_eq!(text(&answer), "done");
    hub.shutdown().await;
}
