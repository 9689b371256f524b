//! The stateless protocol (2026-07-28) at a server's endpoint, with real stdio children: a
//! dual-era server (the fixture with `--modern`) served directly, a session-era one through
//! the bridge, the spec's refusals with the request's id, progress with the client's token,
//! a closed stream cancelling its request at the child, `subscriptions/listen` with the
//! client's own id as `subscriptionId`, and session clients beside it all, unchanged.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use switchboard_core::config::Sharing;

use crate::support::{Client, bounded, fixture, http, start, text, url};

const VERSION: &str = "2026-07-28";

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "blackbox", "version": "1"},
    })
}

/// A stateless request with the headers the spec asks for.
fn stateless(
    endpoint: &str,
    id: Value,
    method: &str,
    mut params: Value,
) -> reqwest::RequestBuilder {
    let mut envelope = params.get("_meta").cloned().unwrap_or_else(|| json!({}));
    // The envelope's keys, unless the caller set its own (its capabilities, say).
    for (key, value) in meta().as_object().into_iter().flatten() {
        if envelope.get(key).is_none() {
            envelope[key] = value.clone();
        }
    }
    params["_meta"] = envelope;
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut request = http()
        .post(endpoint)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", VERSION)
        .header("mcp-method", method)
        .body(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string());
    if let Some(name) = name {
        request = request.header("mcp-name", name);
    }
    request
}

/// The status and the JSON-RPC message of a JSON answer.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = bounded("the answer", request.send())
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    let value = serde_json::from_str(&body).unwrap_or_else(|_| {
        // An SSE answer: the last data line is the response.
        body.lines()
            .rev()
            .filter_map(|l| l.strip_prefix("data: "))
            .find_map(|d| serde_json::from_str::<Value>(d).ok())
            .unwrap_or(Value::Null)
    });
    (status, value)
}

#[tokio::test]
async fn a_dual_era_server_answers_stateless_requests_with_the_clients_ids() {
    let hub = start(&[("modern", fixture(&["--modern"], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/modern/mcp");

    let (status, discover) = answer(stateless(
        &endpoint,
        json!("d-1"),
        "server/discover",
        json!({}),
    ))
    .await;
    assert_eq!(status, 200, "{discover}");
    assert_eq!(discover["id"], "d-1");
    assert_eq!(discover["result"]["supportedVersions"], json!([VERSION]));

    let (_, tools) = answer(stateless(&endpoint, json!(7), "tools/list", json!({}))).await;
    assert_eq!(tools["id"], 7);
    assert_eq!(tools["result"]["resultType"], "complete", "{tools}");
    let (_, echoed) = answer(stateless(
        &endpoint,
        json!("call-1"),
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "stateless hello"}}),
    ))
    .await;
    assert_eq!(echoed["id"], "call-1");
    assert_eq!(text(&echoed), "stateless hello");

    // Progress arrives on the request's stream, with the client's own token.
    let response = stateless(
        &endpoint,
        json!(8),
        "tools/call",
        json!({"name": "progress", "arguments": {"steps": 3}, "_meta": {"progressToken": "tok-a"}}),
    );
    let response = bounded("progress", response.send())
        .await
        .expect("answered");
    assert_eq!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or_default(),
        "text/event-stream"
    );
    let body = response.text().await.expect("a body");
    let frames: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str(d).ok())
        .collect();
    let tokens: Vec<&Value> = frames
        .iter()
        .filter(|f| f["method"] == "notifications/progress")
        .map(|f| &f["params"]["progressToken"])
        .collect();
    assert_eq!(tokens, vec![&json!("tok-a"); 3], "{body}");
    assert_eq!(
        frames.last().map(|f| f["id"].clone()),
        Some(json!(8)),
        "{body}"
    );

    // A session client of the same server, beside it, unchanged.
    let mut session = Client::connect(endpoint.clone()).await;
    let echoed = session
        .call("echo", json!({"message": "session hello"}))
        .await;
    assert_eq!(text(&echoed), "session hello");
    hub.shutdown().await;
}

#[tokio::test]
async fn refusals_follow_the_spec_and_carry_the_request_id() {
    let hub = start(&[("modern", fixture(&["--modern"], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/modern/mcp");
    let post = |headers: &[(&str, &str)], body: Value| {
        let mut request = http()
            .post(&endpoint)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request)
    };
    let full = [
        ("mcp-protocol-version", VERSION),
        ("mcp-method", "tools/list"),
    ];
    // No _meta at all (but the stateless header): -32602.
    let (status, refused) = post(
        &full,
        json!({"jsonrpc":"2.0","id":11,"method":"tools/list","params":{}}),
    )
    .await;
    assert_eq!(
        (
            status,
            refused["error"]["code"].clone(),
            refused["id"].clone()
        ),
        (400, json!(-32602), json!(11))
    );
    // The header says one version, the body another: -32020.
    let mut body =
        json!({"jsonrpc":"2.0","id":12,"method":"tools/list","params":{"_meta": meta()}});
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("v999");
    let (status, refused) = post(&full, body.clone()).await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (400, json!(-32020)),
        "{refused}"
    );
    // Both say v999: -32022 with the versions served.
    let (status, refused) = post(
        &[
            ("mcp-protocol-version", "v999"),
            ("mcp-method", "tools/list"),
        ],
        body,
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (400, json!(-32022)),
        "{refused}"
    );
    assert_eq!(refused["error"]["data"]["supported"], json!([VERSION]));
    assert_eq!(refused["id"], 12);
    // Mcp-Method missing: -32020.
    let (status, refused) = post(
        &[("mcp-protocol-version", VERSION)],
        json!({"jsonrpc":"2.0","id":13,"method":"tools/list","params":{"_meta": meta()}}),
    )
    .await;
    assert_eq!(
        (status, refused["error"]["code"].clone()),
        (400, json!(-32020))
    );
    // Methods the stateless protocol removed: 404, -32601.
    for (id, method) in [(14, "initialize"), (15, "ping"), (16, "logging/setLevel")] {
        let (status, refused) = post(
            &[("mcp-protocol-version", VERSION), ("mcp-method", method)],
            json!({"jsonrpc":"2.0","id":id,"method":method,"params":{"_meta": meta()}}),
        )
        .await;
        assert_eq!(
            (
                status,
                refused["error"]["code"].clone(),
                refused["id"].clone()
            ),
            (404, json!(-32601), json!(id)),
            "{method}"
        );
    }
    // GET and DELETE have no place in it: 405.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let status = http()
            .request(method.clone(), &endpoint)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", VERSION)
            .send()
            .await
            .expect("answered")
            .status();
        assert_eq!(status, 405, "{method}");
    }
    // The aggregate checks the same ladder before its kept session sees anything.
    let aggregate = url(&hub, "/mcp");
    let (status, refused) = answer(
        http()
            .post(&aggregate)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("mcp-method", "tools/list")
            .body(
                json!({"jsonrpc":"2.0","id":18,"method":"tools/list","params":{"_meta": meta()}})
                    .to_string(),
            ),
    )
    .await;
    assert_eq!(
        (
            status,
            refused["error"]["code"].clone(),
            refused["id"].clone()
        ),
        (400, json!(-32020), json!(18)),
        "{refused}"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_closed_stream_cancels_its_request_at_the_child() {
    let hub = start(&[("modern", fixture(&["--modern"], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/modern/mcp");
    // The client gives up on a slow call: its connection closes.
    let slow = stateless(
        &endpoint,
        json!("slow-1"),
        "tools/call",
        json!({"name": "slow", "arguments": {"ms": 5000}}),
    )
    .timeout(Duration::from_millis(500))
    .send()
    .await;
    assert!(slow.is_err(), "the slow call answered within 0.5 s");
    // The child heard of it, by its own (proxy) id.
    let mut cancelled = Value::Null;
    for _ in 0..100 {
        let (_, listed) = answer(stateless(
            &endpoint,
            json!("ask"),
            "tools/call",
            json!({"name": "cancelled", "arguments": {}}),
        ))
        .await;
        cancelled = serde_json::from_str(text(&listed)).unwrap_or(Value::Null);
        if cancelled.as_array().is_some_and(|ids| !ids.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ids = cancelled.as_array().cloned().unwrap_or_default();
    assert_eq!(ids.len(), 1, "{cancelled}");
    assert!(
        ids[0].is_u64(),
        "the child's own id, not the client's: {cancelled}"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_listen_stream_carries_the_clients_id_as_subscription_id() {
    let hub = start(&[("modern", fixture(&["--modern"], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/modern/mcp");
    let listen = bounded(
        "the listen stream",
        stateless(
            &endpoint,
            json!("sub-1"),
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true}}),
        )
        .send(),
    )
    .await
    .expect("a stream");
    assert_eq!(listen.status(), 200);
    let mut frames = Frames::of(listen);
    let ack = frames.next().await;
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    let (_, changed) = answer(stateless(
        &endpoint,
        json!(21),
        "tools/call",
        json!({"name": "change_tools", "arguments": {}}),
    ))
    .await;
    assert_eq!(text(&changed), "changed");
    let notification = frames.next().await;
    assert_eq!(notification["method"], "notifications/tools/list_changed");
    assert_eq!(
        notification["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-1"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn a_session_era_server_is_served_to_stateless_clients_through_the_bridge() {
    let hub = start(&[("legacy", fixture(&[], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/legacy/mcp");
    let (status, discover) =
        answer(stateless(&endpoint, json!(1), "server/discover", json!({}))).await;
    assert_eq!(status, 200, "{discover}");
    let result = &discover["result"];
    assert_eq!(result["supportedVersions"], json!([VERSION]), "{discover}");
    assert_eq!(result["resultType"], "complete");
    assert_eq!(
        result["capabilities"]["tools"]["listChanged"], true,
        "from its initialize"
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "fixture-server"
    );
    let (_, tools) = answer(stateless(&endpoint, json!(2), "tools/list", json!({}))).await;
    assert_eq!(tools["result"]["resultType"], "complete", "{tools}");
    assert_eq!(tools["result"]["cacheScope"], "private");
    assert_eq!(tools["result"]["ttlMs"], 0);
    let (_, echoed) = answer(stateless(
        &endpoint,
        json!(3),
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "bridged"}}),
    ))
    .await;
    assert_eq!(text(&echoed), "bridged");
    assert_eq!(echoed["result"]["resultType"], "complete");
    // A question for the client mid-call cannot cross: the child hears why, and the
    // client gets the tool's failure, not a hang.
    let (_, asked) = answer(stateless(
        &endpoint,
        json!(4),
        "tools/call",
        json!({"name": "ask", "arguments": {"question": "anyone?"}}),
    ))
    .await;
    let refusal = asked["error"]["message"].as_str().unwrap_or_default();
    assert!(refusal.contains("input_required"), "{asked}");
    // The status says what it speaks.
    let status = crate::support::status_of(&hub).await;
    let server = &status["servers"][0];
    assert!(
        server["protocol"]
            .as_str()
            .unwrap_or_default()
            .contains("bridge"),
        "{server}"
    );
    hub.shutdown().await;
}

/// The frames of an SSE body as it arrives, one JSON message at a time.
struct Frames {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    seen: String,
}

impl Frames {
    fn of(response: reqwest::Response) -> Frames {
        Frames {
            body: Box::pin(response.bytes_stream()),
            seen: String::new(),
        }
    }

    async fn next(&mut self) -> Value {
        loop {
            if let Some(end) = self.seen.find("\n\n") {
                let event: String = self.seen.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    return serde_json::from_str(data).expect("JSON");
                }
                continue;
            }
            let chunk = bounded("a frame", self.body.next())
                .await
                .expect("more")
                .expect("bytes");
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The aggregate endpoint `/mcp` has no stateless child of its own: its stateless requests
/// ride on a session kept for them, with everything the aggregate does (merged lists,
/// prefixes, routing, list changes) and the clients' own ids, tokens and subscription ids.
#[tokio::test]
async fn the_aggregate_answers_stateless_clients_over_a_kept_session() {
    let hub = start(&[
        ("alpha", fixture(&[], Sharing::PerSession)),
        ("beta", fixture(&[], Sharing::PerSession)),
    ])
    .await;
    let endpoint = url(&hub, "/mcp");
    let (status, discover) = answer(stateless(
        &endpoint,
        json!("d"),
        "server/discover",
        json!({}),
    ))
    .await;
    assert_eq!(status, 200, "{discover}");
    assert_eq!(discover["id"], "d");
    assert_eq!(discover["result"]["supportedVersions"], json!([VERSION]));
    assert_eq!(
        discover["result"]["capabilities"]["tools"]["listChanged"],
        true
    );

    let (_, tools) = answer(stateless(&endpoint, json!(1), "tools/list", json!({}))).await;
    assert_eq!(tools["result"]["resultType"], "complete", "{tools}");
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"alpha__echo") && names.contains(&"beta__echo"),
        "{names:?}"
    );

    // Two clients, both with id 1, at once: each gets its own answer under its own id.
    let call = |server: &str, message: &str| {
        answer(stateless(
            &endpoint,
            json!(1),
            "tools/call",
            json!({"name": format!("{server}__echo"), "arguments": {"message": message}}),
        ))
    };
    let ((_, one), (_, two)) = tokio::join!(call("alpha", "to alpha"), call("beta", "to beta"));
    assert_eq!(
        (one["id"].clone(), text(&one)),
        (json!(1), "to alpha"),
        "{one}"
    );
    assert_eq!(
        (two["id"].clone(), text(&two)),
        (json!(1), "to beta"),
        "{two}"
    );

    // Progress through the aggregate, with the client's own token.
    let (_, progressed) = answer(stateless(
        &endpoint,
        json!("p"),
        "tools/call",
        json!({"name": "alpha__progress", "arguments": {"steps": 2}, "_meta": {"progressToken": "tok-agg"}}),
    ))
    .await;
    assert_eq!(progressed["id"], "p", "{progressed}");
    assert_eq!(text(&progressed), "2 steps");

    // A listen stream: acknowledged under the client's id, then a member's list change.
    let listen = bounded(
        "the listen stream",
        stateless(
            &endpoint,
            json!("sub-agg"),
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true}}),
        )
        .send(),
    )
    .await
    .expect("a stream");
    assert_eq!(listen.status(), 200);
    let mut frames = Frames::of(listen);
    let ack = frames.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["toolsListChanged"], true,
        "{ack}"
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-agg"
    );
    // The listen session opens its own sessions on the members lazily: call through the
    // aggregate until a change reaches the stream (the first may come before it listens).
    let mut changed = None;
    for attempt in 0..20 {
        let (_, done) = answer(stateless(
            &endpoint,
            json!(100 + attempt),
            "tools/call",
            json!({"name": "alpha__change_tools", "arguments": {}}),
        ))
        .await;
        assert_eq!(text(&done), "changed", "{done}");
        if let Ok(frame) = tokio::time::timeout(Duration::from_millis(500), frames.next()).await {
            changed = Some(frame);
            break;
        }
    }
    let changed = changed.expect("a list change on the listen stream");
    assert_eq!(
        changed["method"], "notifications/tools/list_changed",
        "{changed}"
    );
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "sub-agg"
    );
    hub.shutdown().await;
}

/// The bridge emulates `subscriptions/listen` for a session-era child: acknowledged with
/// what its capabilities honour, then its list changes, tagged with the client's id; what
/// the listen did not ask for stays off the stream.
#[tokio::test]
async fn the_bridge_emulates_a_listen_stream_for_a_session_era_server() {
    let hub = start(&[("legacy", fixture(&[], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/legacy/mcp");
    let open = |id: &str, filter: Value| {
        stateless(
            &endpoint,
            json!(id),
            "subscriptions/listen",
            json!({"notifications": filter}),
        )
        .send()
    };
    let tools = bounded("a listen", open("tools", json!({"toolsListChanged": true})))
        .await
        .expect("a stream");
    let prompts = bounded(
        "a listen",
        open("prompts", json!({"promptsListChanged": true})),
    )
    .await
    .expect("a stream");
    let mut tools = Frames::of(tools);
    let mut prompts = Frames::of(prompts);
    let ack = tools.next().await;
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true})
    );
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "tools"
    );
    let ack = prompts.next().await;
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "prompts"
    );

    let (_, done) = answer(stateless(
        &endpoint,
        json!(1),
        "tools/call",
        json!({"name": "change_tools", "arguments": {}}),
    ))
    .await;
    assert_eq!(text(&done), "changed", "{done}");
    let changed = tools.next().await;
    assert_eq!(
        changed["method"], "notifications/tools/list_changed",
        "{changed}"
    );
    assert_eq!(
        changed["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "tools"
    );
    // The prompts listen did not ask for tool changes.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), prompts.next())
            .await
            .is_err(),
        "a tools change reached a prompts-only listen"
    );
    hub.shutdown().await;
}

/// A stateless client that declared sampling, calling a session-era server that asks for
/// it mid-call: the bridge runs the call on a session of its own, answers the client with
/// `input_required`, and its retry (the answer in `inputResponses`, the `requestState`
/// echoed) resumes the same call, which then answers under the retry's id. A state the
/// bridge did not issue is refused with -32602.
#[tokio::test]
async fn the_bridge_turns_a_session_era_servers_question_into_input_required() {
    let hub = start(&[("legacy", fixture(&[], Sharing::PerSession))]).await;
    let endpoint = url(&hub, "/servers/legacy/mcp");
    let capable = |id: Value, params: Value| {
        let mut params = params;
        params["_meta"] = json!({"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}});
        stateless(&endpoint, id, "tools/call", params)
    };
    let (status, asked) = answer(capable(
        json!(1),
        json!({"name": "ask", "arguments": {"question": "capital of France?"}}),
    ))
    .await;
    assert_eq!(status, 200, "{asked}");
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let requests = result["inputRequests"].as_object().expect("input requests");
    assert_eq!(requests.len(), 1, "{asked}");
    let (key, request) = requests.iter().next().expect("one");
    assert_eq!(request["method"], "sampling/createMessage");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        "capital of France?"
    );
    let state = result["requestState"].as_str().expect("a state").to_owned();

    // Someone else's (or a tampered) state is refused.
    let (status, refused) = answer(capable(
        json!(2),
        json!({"name": "ask", "arguments": {"question": "capital of France?"},
               "requestState": format!("{state}0"), "inputResponses": {}}),
    ))
    .await;
    assert_eq!(
        (
            status,
            refused["error"]["code"].clone(),
            refused["id"].clone()
        ),
        (400, json!(-32602), json!(2)),
        "{refused}"
    );

    let (_, done) = answer(capable(
        json!("retry"),
        json!({"name": "ask", "arguments": {"question": "capital of France?"},
               "requestState": state,
               "inputResponses": {key.clone(): {"role": "assistant", "model": "m",
                   "content": {"type": "text", "text": "Paris"}}}}),
    ))
    .await;
    assert_eq!(done["id"], "retry", "{done}");
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert!(text(&done).contains("Paris"), "{done}");
    // The state is spent: a second retry with it is refused.
    let (_, again) = answer(capable(
        json!(3),
        json!({"name": "ask", "arguments": {"question": "capital of France?"},
               "requestState": state, "inputResponses": {}}),
    ))
    .await;
    assert_eq!(again["error"]["code"], -32602, "{again}");
    hub.shutdown().await;
}
