//! The aggregate endpoint (`/mcp`): every enabled server behind one session, names
//! prefixed, calls routed to the server that owns the name, children started only for the
//! servers a session calls, and what a server says back reaching that session only.

use serde_json::{Value, json};
use switchboard_core::config::Sharing;

use crate::support::*;

async fn two_servers() -> switchboard_core::Hub {
    start(&[
        ("alpha", fixture(&[], Sharing::PerSession)),
        ("beta", fixture(&[], Sharing::PerSession)),
    ])
    .await
}

fn children(hub: &switchboard_core::Hub) -> usize {
    hub.status().iter().map(|s| s.pids.len()).sum()
}

fn names(list: &Value) -> Vec<String> {
    list["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {list}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn opening_an_aggregate_session_starts_no_child() {
    let hub = two_servers().await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    assert!(client.session.is_some());
    assert_eq!(children(&hub), 0, "{:?}", hub.status());
    let pong = client.request("ping", json!({})).await;
    assert_eq!(pong["result"], json!({}), "{pong}");
    assert_eq!(children(&hub), 0);
    assert_eq!(client.delete().await, 200);
    hub.shutdown().await;
}

#[tokio::test]
async fn tools_of_every_server_are_listed_prefixed_and_calls_reach_their_server() {
    let hub = two_servers().await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let list = client.request("tools/list", json!({})).await;
    let mut listed = names(&list);
    listed.sort();
    assert_eq!(
        listed,
        ["alpha__echo", "alpha__pid", "beta__echo", "beta__pid"],
        "{list}"
    );
    let answer = client
        .call("alpha__echo", json!({"message": "via the aggregate"}))
        .await;
    assert_eq!(text(&answer), "via the aggregate", "{answer}");
    let alpha: u32 = text(&client.call("alpha__pid", json!({})).await)
        .parse()
        .unwrap();
    let beta: u32 = text(&client.call("beta__pid", json!({})).await)
        .parse()
        .unwrap();
    assert_ne!(alpha, beta);
    // The same session on a server keeps its child.
    let again: u32 = text(&client.call("alpha__pid", json!({})).await)
        .parse()
        .unwrap();
    assert_eq!(alpha, again);

    let unknown = client.call("gamma__echo", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    assert_eq!(client.delete().await, 200);
    assert!(
        wait_until_gone(alpha).await,
        "the session's own child {alpha} survived"
    );
    assert!(wait_until_gone(beta).await);
    hub.shutdown().await;
}

#[tokio::test]
async fn progress_and_a_question_for_the_client_reach_the_right_aggregate_session() {
    let hub = two_servers().await;
    let mut a = Client::connect(url(&hub, "/mcp")).await;
    let mut b = Client::connect(url(&hub, "/mcp")).await;
    // Progress of a call comes on that call's stream, with the client's own token.
    let id = a.next_id();
    let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":"alpha__progress","arguments":{"steps":3},"_meta":{"progressToken":"tok-a"}}});
    let response = bounded("POST", a.post(call.to_string()).send())
        .await
        .unwrap();
    let mut events = Events::from_response(response);
    let mut progress = Vec::new();
    let answer = loop {
        let message = bounded("the call", events.next()).await.unwrap();
        if message.get("id") == Some(&json!(id)) {
            break message;
        }
        progress.push(message);
    };
    assert_eq!(text(&answer), "3 steps", "{answer}");
    assert_eq!(progress.len(), 3, "{progress:?}");
    assert!(
        progress
            .iter()
            .all(|p| p["params"]["progressToken"] == "tok-a")
    );

    // A server's question (sampling) reaches the session whose call asked it, and the
    // client's answer goes back to that server.
    let id = b.next_id();
    let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{
        "name":"beta__ask","arguments":{"question":"colour?"}}});
    let response = bounded("POST", b.post(call.to_string()).send())
        .await
        .unwrap();
    let mut events = Events::from_response(response);
    let question = bounded("the question", events.next()).await.unwrap();
    assert_eq!(question["method"], "sampling/createMessage", "{question}");
    let reply = json!({"jsonrpc":"2.0","id":question["id"].clone(),"result":{
        "role":"assistant","content":{"type":"text","text":"blue"},"model":"m"}});
    let status = bounded("the reply", b.post(reply.to_string()).send())
        .await
        .unwrap()
        .status();
    assert_eq!(status, 202);
    let answer = bounded("the answer", events.next()).await.unwrap();
    assert_eq!(text(&answer), "client said: blue", "{answer}");

    assert_eq!(a.delete().await, 200);
    assert_eq!(b.delete().await, 200);
    hub.shutdown().await;
}

#[tokio::test]
async fn concurrent_aggregate_sessions_get_only_their_own_answers() {
    let hub = two_servers().await;
    let mut tasks = Vec::new();
    for n in 0..6 {
        let endpoint = url(&hub, "/mcp");
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(endpoint).await;
            for i in 0..10 {
                let tool = if (n + i) % 2 == 0 {
                    "alpha__echo"
                } else {
                    "beta__echo"
                };
                let message = format!("session {n} call {i}");
                let answer = client.call(tool, json!({"message": message})).await;
                assert_eq!(text(&answer), message, "cross-talk: {answer}");
            }
            assert_eq!(client.delete().await, 200);
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    hub.shutdown().await;
}

#[tokio::test]
async fn the_per_server_routes_are_no_alias_of_the_aggregate() {
    let hub = two_servers().await;
    let client = Client::new(url(&hub, "/servers/*/mcp"));
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let response = bounded("POST", client.post(init.to_string()).send())
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    hub.shutdown().await;
}

#[tokio::test]
async fn filters_hide_tools_from_the_list_and_refuse_them_by_name() {
    let mut alpha = fixture(&[], Sharing::PerSession);
    alpha.tools.deny = vec!["p*".into()];
    let mut beta = fixture(&[], Sharing::PerSession);
    beta.tools.allow = vec!["pid".into()];
    beta.prefix = Some("b".into());
    let hub = start(&[("alpha", alpha), ("beta", beta)]).await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let mut listed = names(&client.request("tools/list", json!({})).await);
    listed.sort();
    assert_eq!(listed, ["alpha__echo", "b__pid"]);
    for hidden in ["alpha__pid", "b__echo", "alpha__progress"] {
        let refused = client.call(hidden, json!({"message": "x"})).await;
        assert_eq!(refused["error"]["code"], -32602, "{hidden}: {refused}");
    }
    // A tool the server does not list but its filter allows is still reachable by name.
    let mut open = fixture(&[], Sharing::PerSession);
    open.prefix = Some(String::new());
    let hub2 = start(&[("open", open)]).await;
    let mut bare = Client::connect(url(&hub2, "/mcp")).await;
    let mut listed = names(&bare.request("tools/list", json!({})).await);
    listed.sort();
    assert_eq!(listed, ["echo", "pid"], "an empty prefix adds nothing");
    let answer = bare.call("echo", json!({"message": "unprefixed"})).await;
    assert_eq!(text(&answer), "unprefixed");
    hub.shutdown().await;
    hub2.shutdown().await;
}

#[tokio::test]
async fn a_list_change_on_any_server_reaches_every_aggregate_client() {
    let hub = two_servers().await;
    let mut watcher = Client::connect(url(&hub, "/mcp")).await;
    let mut caller = Client::connect(url(&hub, "/mcp")).await;
    watcher.request("tools/list", json!({})).await;
    let mut events = watcher.open_stream().await;
    let answer = caller.call("beta__change_tools", json!({})).await;
    assert_eq!(text(&answer), "changed", "{answer}");
    let note = bounded("list_changed", events.next()).await.unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_server_that_cannot_start_leaves_the_others_listed() {
    let broken = switchboard_core::config::ServerConfig::stdio(
        "/nonexistent/switchboard-no-such-server",
        Vec::<String>::new(),
    );
    let hub = start(&[
        ("alpha", fixture(&[], Sharing::PerSession)),
        ("broken", broken),
    ])
    .await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let mut listed = names(&client.request("tools/list", json!({})).await);
    listed.sort();
    assert_eq!(listed, ["alpha__echo", "alpha__pid"]);
    let answer = client
        .call("alpha__echo", json!({"message": "still here"}))
        .await;
    assert_eq!(text(&answer), "still here");
    hub.shutdown().await;
}

#[tokio::test]
async fn the_legacy_sse_transport_reaches_the_aggregate_too() {
    let hub = two_servers().await;
    let response = bounded(
        "GET /sse",
        http()
            .get(url(&hub, "/sse"))
            .header("accept", "text/event-stream")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let mut events = Events::from_response(response);
    let (kind, endpoint) = bounded("the endpoint event", events.next_raw())
        .await
        .unwrap();
    assert_eq!(kind, "endpoint");
    assert!(endpoint.starts_with("/messages?session_id="), "{endpoint}");
    let post = |body: Value| {
        http()
            .post(url(&hub, &endpoint))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    assert_eq!(
        bounded("initialize", post(init)).await.unwrap().status(),
        202
    );
    let answer = bounded("the initialize answer", events.next())
        .await
        .unwrap();
    assert_eq!(
        answer["result"]["serverInfo"]["name"], "switchboard",
        "{answer}"
    );
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{
        "name":"beta__echo","arguments":{"message":"over legacy SSE"}}});
    assert_eq!(bounded("call", post(call)).await.unwrap().status(), 202);
    let answer = bounded("the call's answer", events.next()).await.unwrap();
    assert_eq!(text(&answer), "over legacy SSE", "{answer}");
    hub.shutdown().await;
}

#[tokio::test]
async fn long_lists_are_merged_from_every_page_and_paged_behind_one_cursor() {
    // 2 + 150 tools, listed 10 per page by the server; 2 more from the second server.
    let hub = start(&[
        ("many", fixture(&["--extra-tools", "150"], Sharing::Shared)),
        ("few", fixture(&[], Sharing::Shared)),
    ])
    .await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let mut all = Vec::new();
    let mut cursor: Option<Value> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(c) => json!({ "cursor": c }),
            None => json!({}),
        };
        let page = client.request("tools/list", params).await;
        all.extend(names(&page));
        pages += 1;
        match page["result"].get("nextCursor") {
            Some(next) => cursor = Some(next.clone()),
            None => break,
        }
        assert!(pages < 10, "the cursor never ends");
    }
    assert!(pages >= 2, "{pages} page(s) for {} tools", all.len());
    assert_eq!(all.len(), 154, "{all:?}");
    let unique: std::collections::HashSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), 154);
    assert!(all.contains(&"many__t149".to_owned()) && all.contains(&"few__pid".to_owned()));
    let answer = client.call("many__echo", json!({"message": "paged"})).await;
    assert_eq!(text(&answer), "paged");
    let bad = client
        .request("tools/list", json!({"cursor": "not-ours"}))
        .await;
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    hub.shutdown().await;
}

#[tokio::test]
async fn a_server_that_comes_back_is_announced_and_listed_again() {
    let dir = tempfile::tempdir().unwrap();
    let late_path = dir.path().join("late-server");
    let late = switchboard_core::config::ServerConfig::stdio(
        late_path.to_string_lossy(),
        Vec::<String>::new(),
    );
    let hub = start(&[("alpha", fixture(&[], Sharing::Shared)), ("late", late)]).await;
    let mut client = Client::connect(url(&hub, "/mcp")).await;
    let mut listed = names(&client.request("tools/list", json!({})).await);
    listed.sort();
    assert_eq!(listed, ["alpha__echo", "alpha__pid"]);
    let mut events = client.open_stream().await;

    // The program appears: the background retry finds it and every client hears of it.
    std::os::unix::fs::symlink(fixture_path(), &late_path).unwrap();
    let note = bounded("list_changed", events.next()).await.unwrap();
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    let mut listed = names(&client.request("tools/list", json!({})).await);
    listed.sort();
    assert_eq!(
        listed,
        ["alpha__echo", "alpha__pid", "late__echo", "late__pid"]
    );
    let answer = client.call("late__echo", json!({"message": "back"})).await;
    assert_eq!(text(&answer), "back");
    hub.shutdown().await;
}
