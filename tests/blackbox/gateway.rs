//! Remote servers behind the proxy: each auth type reaches the upstream exactly, the IDE's
//! own credential never does, and query-parameter keys obey every rule.

use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_core::Hub;
use switchboard_core::config::{Config, RemoteTransport, ServerConfig, UpstreamAuth, ValueSource};
use switchboard_core::secrets::{MemoryStore, SecretStore, Sensitive};

use crate::support::*;
use crate::upstream_fixture::{Require, Seen, Upstream};

const TOKEN: &str = "upstream-token-7f3a9c";

fn store_with(secrets: &[(&str, &str)]) -> Arc<dyn SecretStore> {
    let store = MemoryStore::default();
    for (name, value) in secrets {
        store
            .set(name, &Sensitive::new((*value).to_owned()))
            .unwrap();
    }
    Arc::new(store)
}

fn remote(url: String, transport: RemoteTransport, auth: UpstreamAuth) -> ServerConfig {
    let mut server = ServerConfig::remote(url);
    server.transport = transport;
    server.auth = auth;
    server
}

async fn hub_for(server: ServerConfig, configure: impl FnOnce(&mut Config)) -> Hub {
    let mut config = Config::default();
    config.servers.insert("up".into(), server);
    configure(&mut config);
    start_config(&config, store_with(&[("token", TOKEN)])).await
}

/// An IDE client that also sends an `X-API-Key` of its own (which must never go upstream).
async fn ide_client(hub: &Hub) -> Client {
    let mut client = Client::connect(url(hub, "/servers/up/mcp")).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "authorization",
        format!("Bearer {TEST_KEY}").parse().unwrap(),
    );
    headers.insert("x-api-key", TEST_KEY.parse().unwrap());
    client.http = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap();
    client
}

fn assert_ide_credential_never_forwarded(seen: &[Seen]) {
    for request in seen {
        for (name, value) in &request.headers {
            assert!(
                !value.contains(TEST_KEY),
                "the IDE's key reached the upstream in {name}: {request:?}"
            );
        }
        assert!(!request.path_and_query.contains(TEST_KEY));
    }
}

async fn round_trip_through(hub: &Hub) {
    let mut client = ide_client(hub).await;
    let answer = client
        .call("echo", json!({"message": "via the gateway"}))
        .await;
    assert_eq!(text(&answer), "via the gateway", "{answer}");
    let answer = client.call("echo", json!({"message": "again"})).await;
    assert_eq!(text(&answer), "again");
}

async fn each_request_carries(
    require: Require,
    path: &str,
    transport: RemoteTransport,
    auth: UpstreamAuth,
    check: impl Fn(&Seen) -> bool,
) {
    let upstream = Upstream::start(require).await;
    let origin = upstream.url("");
    let hub = hub_for(remote(upstream.url(path), transport, auth), |c| {
        c.proxy.allow_query_param_auth = true;
        c.proxy.query_param_auth_origins = vec![origin];
    })
    .await;
    round_trip_through(&hub).await;
    let seen = upstream.seen();
    assert!(
        seen.len() >= 4,
        "initialize, initialized, two calls: {seen:?}"
    );
    assert!(seen.iter().any(|r| r.method == "POST"), "{seen:?}");
    for request in &seen {
        assert!(
            check(request),
            "a request lacked the credential: {request:?}"
        );
    }
    assert_ide_credential_never_forwarded(&seen);
    hub.shutdown().await;
}

fn bearer() -> UpstreamAuth {
    UpstreamAuth::Bearer {
        secret: secret_name("token"),
    }
}

#[tokio::test]
async fn bearer_over_streamable_http() {
    let want = format!("Bearer {TOKEN}");
    each_request_carries(
        Require::Header("authorization", want.clone()),
        "/mcp",
        RemoteTransport::StreamableHttp,
        bearer(),
        |r| r.header("authorization") == Some(want.as_str()),
    )
    .await;
}

#[tokio::test]
async fn bearer_over_legacy_sse_including_the_endpoint_posts() {
    let want = format!("Bearer {TOKEN}");
    each_request_carries(
        Require::Header("authorization", want.clone()),
        "/sse",
        RemoteTransport::Sse,
        bearer(),
        |r| r.header("authorization") == Some(want.as_str()),
    )
    .await;
}

#[tokio::test]
async fn custom_headers_with_a_secret_value() {
    let auth = UpstreamAuth::Headers {
        headers: [(
            "X-Upstream-Key".to_owned(),
            ValueSource::secret(secret_name("token")),
        )]
        .into_iter()
        .collect(),
    };
    each_request_carries(
        Require::Header("x-upstream-key", TOKEN.into()),
        "/mcp",
        RemoteTransport::Auto,
        auth,
        |r| r.header("x-upstream-key") == Some(TOKEN) && r.header("x-api-key").is_none(),
    )
    .await;
}

#[tokio::test]
async fn basic_auth() {
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("me:{TOKEN}"))
    );
    let auth = UpstreamAuth::Basic {
        username: "me".into(),
        secret: secret_name("token"),
    };
    each_request_carries(
        Require::Header("authorization", want.clone()),
        "/sse",
        RemoteTransport::Auto,
        auth,
        |r| r.header("authorization") == Some(want.as_str()),
    )
    .await;
}

fn key_params(request: &Seen) -> Vec<String> {
    let query = request
        .path_and_query
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default();
    url::form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "api_key")
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn query_auth() -> UpstreamAuth {
    UpstreamAuth::Query {
        param: "api_key".into(),
        secret: secret_name("token"),
    }
}

#[tokio::test]
async fn query_key_on_every_request_including_legacy_endpoint_posts() {
    each_request_carries(
        Require::Query("api_key", TOKEN.into()),
        "/sse?api_key=placeholder&keep=1",
        RemoteTransport::Sse,
        query_auth(),
        |r| key_params(r) == [TOKEN],
    )
    .await;
}

#[tokio::test]
async fn query_key_over_streamable_http_keeps_other_params() {
    each_request_carries(
        Require::Query("api_key", TOKEN.into()),
        "/mcp?x=a%2Fb&Y=2",
        RemoteTransport::StreamableHttp,
        query_auth(),
        |r| {
            key_params(r) == [TOKEN]
                && r.path_and_query.contains("x=a%2Fb")
                && r.path_and_query.contains("Y=2")
        },
    )
    .await;
}

#[tokio::test]
async fn auto_falls_back_to_legacy_sse() {
    each_request_carries(
        Require::Nothing,
        "/sse-only",
        RemoteTransport::Auto,
        UpstreamAuth::None,
        |_| true,
    )
    .await;
}

// === the query-parameter rules ===

async fn first_call_error(hub: &Hub) -> String {
    let mut client = Client::new(url(hub, "/servers/up/mcp"));
    let answer = client.request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}})).await;
    answer["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {answer}"))
        .to_owned()
}

#[tokio::test]
async fn query_auth_flag_off_sends_nothing() {
    let upstream = Upstream::start(Require::Nothing).await;
    let origin = upstream.url("");
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            query_auth(),
        ),
        |c| {
            c.proxy.query_param_auth_origins = vec![origin];
        },
    )
    .await;
    let error = first_call_error(&hub).await;
    assert!(
        error.contains("allowQueryParamAuth"),
        "the error must say how to enable it: {error}"
    );
    assert!(
        upstream.seen().is_empty(),
        "a request went out: {:?}",
        upstream.seen()
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn query_auth_turned_off_later_stops_an_existing_gateway() {
    let upstream = Upstream::start(Require::Query("api_key", TOKEN.into())).await;
    let origin = upstream.url("");
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            query_auth(),
        ),
        |c| {
            c.proxy.allow_query_param_auth = true;
            c.proxy.query_param_auth_origins = vec![origin.clone()];
        },
    )
    .await;
    let mut client = ide_client(&hub).await;
    assert_eq!(
        text(&client.call("echo", json!({"message":"on"})).await),
        "on"
    );
    let before = upstream.seen().len();
    hub.set_query_auth(false, &[origin]).unwrap();
    let answer = client.call("echo", json!({"message":"off"})).await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowQueryParamAuth"),
        "{answer}"
    );
    assert_eq!(
        upstream.seen().len(),
        before,
        "the key went out after the flag was turned off"
    );
    hub.shutdown().await;
}

#[tokio::test]
async fn query_auth_origin_not_allowed() {
    let upstream = Upstream::start(Require::Nothing).await;
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            query_auth(),
        ),
        |c| {
            c.proxy.allow_query_param_auth = true;
            c.proxy.query_param_auth_origins = vec!["https://mcp.example.com".into()];
        },
    )
    .await;
    let error = first_call_error(&hub).await;
    assert!(error.contains("queryParamAuthOrigins"), "{error}");
    assert!(upstream.seen().is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn query_auth_port_is_part_of_the_origin() {
    let upstream = Upstream::start(Require::Nothing).await;
    let other_port = format!("http://127.0.0.1:{}", upstream.addr.port() + 1);
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            query_auth(),
        ),
        |c| {
            c.proxy.allow_query_param_auth = true;
            c.proxy.query_param_auth_origins = vec![other_port];
        },
    )
    .await;
    first_call_error(&hub).await;
    assert!(upstream.seen().is_empty());
    hub.shutdown().await;
}

#[tokio::test]
async fn query_auth_allowlist_matches_after_case_and_trailing_dot_normalization() {
    let upstream = Upstream::start(Require::Query("api_key", TOKEN.into())).await;
    let spelled_oddly = format!("HTTP://LOCALHOST.:{}/", upstream.addr.port());
    let url = format!("http://localhost:{}/mcp", upstream.addr.port());
    let hub = hub_for(
        remote(url, RemoteTransport::StreamableHttp, query_auth()),
        |c| {
            c.proxy.allow_query_param_auth = true;
            c.proxy.query_param_auth_origins = vec![spelled_oddly];
        },
    )
    .await;
    round_trip_through(&hub).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_cross_origin_redirect_is_not_followed_with_the_key() {
    let elsewhere = Upstream::start(Require::Nothing).await;
    let upstream = Upstream::start(Require::Nothing).await;
    upstream.redirect_to(elsewhere.url("/mcp"));
    let origin = upstream.url("");
    let hub = hub_for(
        remote(
            upstream.url("/redirect"),
            RemoteTransport::StreamableHttp,
            query_auth(),
        ),
        |c| {
            c.proxy.allow_query_param_auth = true;
            c.proxy.query_param_auth_origins = vec![origin, elsewhere.url("")];
        },
    )
    .await;
    let error = first_call_error(&hub).await;
    assert!(error.contains("redirect"), "{error}");
    assert!(
        elsewhere.seen().is_empty(),
        "the redirect was followed: {:?}",
        elsewhere.seen()
    );
    hub.shutdown().await;
}

#[test]
fn a_url_with_an_inline_secret_is_refused() {
    for url in [
        "https://mcp.example.com/mcp?api_key=abc123",
        "https://mcp.example.com/mcp?tavilyApiKey=abc",
        "https://user:pw@mcp.example.com/mcp",
    ] {
        let text = format!(r#"{{"mcpServers":{{"up":{{"url":"{url}"}}}}}}"#);
        let error = Config::parse(&text, std::path::Path::new("c.json"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("keychain"), "{url}: {error}");
        assert!(
            !error.contains("abc") && !error.contains(":pw"),
            "the error repeats the secret: {error}"
        );
    }
}

// === sessions and errors ===

#[tokio::test]
async fn an_expired_upstream_session_gives_the_client_404() {
    let upstream = Upstream::start(Require::Nothing).await;
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            UpstreamAuth::None,
        ),
        |_| {},
    )
    .await;
    let mut client = ide_client(&hub).await;
    client.call("expire", json!({})).await;
    let ping = json!({"jsonrpc":"2.0","id":50,"method":"ping"}).to_string();
    let response = bounded("ping", client.post(ping).send()).await.unwrap();
    assert_eq!(
        response.status(),
        404,
        "the client must be told to re-initialize"
    );
    // And it can.
    round_trip_through(&hub).await;
    hub.shutdown().await;
}

#[tokio::test]
async fn upstream_error_bodies_are_never_passed_on() {
    let upstream = Upstream::start(Require::Header(
        "authorization",
        "Bearer something-else".into(),
    ))
    .await;
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            bearer(),
        ),
        |_| {},
    )
    .await;
    let error = first_call_error(&hub).await;
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains("sk-upstream-body-must-not-leak"), "{error}");
    assert!(!error.contains(TOKEN));
    hub.shutdown().await;
}

#[tokio::test]
async fn progress_from_a_remote_server_reaches_its_request() {
    let upstream = Upstream::start(Require::Nothing).await;
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            UpstreamAuth::None,
        ),
        |_| {},
    )
    .await;
    let mut client = ide_client(&hub).await;
    let (answer, events) = client
        .request_with_events(
            "tools/call",
            json!({"name":"progress","arguments":{},"_meta":{"progressToken":"p"}}),
        )
        .await;
    assert_eq!(text(&answer), "progressed");
    let steps: Vec<Value> = events
        .iter()
        .map(|e| e["params"]["progress"].clone())
        .collect();
    assert_eq!(steps, [json!(1), json!(2), json!(3)]);
    hub.shutdown().await;
}

// === server→client requests and cancellation through a remote server ===

/// Calls the upstream's `ask` tool and returns the call's id and its open response stream.
async fn start_ask(client: &mut Client, question: &str) -> (u64, Events) {
    let id = client.next_id();
    let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":"ask","arguments":{"question":question}}});
    let response = bounded("POST tools/call ask", client.post(call.to_string()).send())
        .await
        .expect("the call is answered");
    assert_eq!(response.status(), 200);
    (id, Events::from_response(response))
}

async fn sampling_round_trip_through_a_remote(transport: RemoteTransport, path: &str) {
    let upstream = Upstream::start(Require::Nothing).await;
    let hub = hub_for(
        remote(upstream.url(path), transport, UpstreamAuth::None),
        |_| {},
    )
    .await;
    let mut client = ide_client(&hub).await;
    let (id, mut events) = start_ask(&mut client, "what is six times seven?").await;

    let request = bounded("the sampling request", events.next())
        .await
        .expect("the upstream's request reaches the client on the call's stream");
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    assert_eq!(
        request["params"]["messages"][0]["content"]["text"],
        "what is six times seven?"
    );
    let reply = json!({"jsonrpc":"2.0","id":request["id"],
        "result":{"role":"assistant","model":"blackbox","content":{"type":"text","text":"42"}}});
    let status = bounded("POST the reply", client.post(reply.to_string()).send())
        .await
        .expect("the reply is accepted")
        .status();
    assert_eq!(status, 202);

    // The upstream matched the reply to its own request id and quotes it in the answer.
    let answer = bounded("the call's answer", events.next())
        .await
        .expect("the answer follows on the same stream");
    assert_eq!(answer["id"], json!(id), "{answer}");
    assert_eq!(text(&answer), "the client said: 42");
    let replies: Vec<Value> = upstream
        .messages()
        .into_iter()
        .filter(|m| m.get("method").is_none())
        .collect();
    assert_eq!(
        replies.len(),
        1,
        "the reply went upstream once: {replies:?}"
    );
    assert_ide_credential_never_forwarded(&upstream.seen());
    hub.shutdown().await;
}

#[tokio::test]
async fn a_remote_servers_sampling_request_reaches_the_client_and_back_over_streamable_http() {
    sampling_round_trip_through_a_remote(RemoteTransport::StreamableHttp, "/mcp").await;
}

#[tokio::test]
async fn a_remote_servers_sampling_request_reaches_the_client_and_back_over_legacy_sse() {
    sampling_round_trip_through_a_remote(RemoteTransport::Sse, "/sse").await;
}

#[tokio::test]
async fn a_cancellation_reaches_the_remote_server_for_the_right_request() {
    let upstream = Upstream::start(Require::Nothing).await;
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            UpstreamAuth::None,
        ),
        |_| {},
    )
    .await;
    let mut client = ide_client(&hub).await;
    let (id, mut events) = start_ask(&mut client, "never answered").await;
    // The call is in flight upstream once its sampling request has come back.
    bounded("the sampling request", events.next())
        .await
        .expect("the call is in flight");
    let status = client
        .notify(
            "notifications/cancelled",
            json!({"requestId": id, "reason": "the user pressed stop"}),
        )
        .await;
    assert_eq!(status, 202);

    let cancelled = bounded("the cancellation upstream", async {
        loop {
            let messages = upstream.messages();
            let call_id = messages
                .iter()
                .find(|m| m["method"] == "tools/call" && m["params"]["name"] == "ask")
                .map(|m| m["id"].clone());
            let cancel = messages
                .iter()
                .find(|m| m["method"] == "notifications/cancelled")
                .cloned();
            if let (Some(call_id), Some(cancel)) = (call_id, cancel) {
                return (call_id, cancel);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let (call_id, cancel) = cancelled;
    assert_eq!(
        cancel["params"]["requestId"], call_id,
        "the cancellation names the upstream's id of the call: {cancel}"
    );
    assert_eq!(cancel["params"]["reason"], "the user pressed stop");
    drop(events);
    hub.shutdown().await;
}

#[tokio::test]
async fn a_cancellation_is_not_held_up_by_the_call_it_cancels() {
    let upstream = Upstream::start(Require::Nothing).await;
    let hub = hub_for(
        remote(
            upstream.url("/mcp"),
            RemoteTransport::StreamableHttp,
            UpstreamAuth::None,
        ),
        |_| {},
    )
    .await;
    let client = ide_client(&hub).await;
    let mut caller = client.fork(100);
    let call = tokio::spawn(async move { caller.call("wait_for_cancel", json!({})).await });
    bounded("the call upstream", async {
        while !upstream
            .messages()
            .iter()
            .any(|m| m["params"]["name"] == "wait_for_cancel")
        {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    let call_id = 101; // the forked client's first id
    let status = client
        .notify("notifications/cancelled", json!({"requestId": call_id}))
        .await;
    assert_eq!(status, 202);
    let answer = bounded("the cancelled call", call).await.unwrap();
    assert_eq!(
        text(&answer),
        "cancelled",
        "the cancellation reached the upstream only after the call ended: {answer}"
    );
    hub.shutdown().await;
}

// === secret references for stdio servers ===

#[tokio::test]
async fn a_stdio_server_gets_its_secret_env_at_spawn_time() {
    let mut server = fixture(&[], switchboard_core::config::Sharing::PerSession);
    server.env.insert(
        "FIXTURE_TOKEN".into(),
        ValueSource::secret(secret_name("token")),
    );
    let mut config = Config::default();
    config.servers.insert("fx".into(), server.clone());
    let store = store_with(&[]);
    let hub = start_config(&config, store.clone()).await;
    // Not set yet: a clear error naming the fix.
    let mut client = Client::new(url(&hub, "/servers/fx/mcp"));
    let answer = client.request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}})).await;
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("switchboard secret set token"),
        "{message}"
    );
    // Set it: the next spawn reads it.
    store.set("token", &Sensitive::new(TOKEN.into())).unwrap();
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid: u32 = text(&client.call("pid", json!({})).await).parse().unwrap();
    let environ = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/environ")).unwrap())
        .into_owned();
    assert!(environ.contains(&format!("FIXTURE_TOKEN={TOKEN}")));
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
        .into_owned();
    assert!(
        !cmdline.contains(TOKEN),
        "a secret reached a process argument"
    );
    assert!(!serde_json::to_string(&config).unwrap().contains(TOKEN));
    hub.shutdown().await;
}

#[tokio::test]
async fn test_connection_takes_the_runtime_path_key_and_policy_included() {
    let upstream = Upstream::start(Require::Query("api_key", TOKEN.into())).await;
    let origin = upstream.url("");
    let server = remote(
        upstream.url("/sse?keep=1"),
        RemoteTransport::Auto,
        query_auth(),
    );
    let hub = hub_for(server.clone(), |c| {
        c.proxy.allow_query_param_auth = true;
        c.proxy.query_param_auth_origins = vec![origin.clone()];
    })
    .await;
    let probe = hub.relay().probe("up", &server).await.unwrap();
    assert_eq!(probe.server_name, "upstream-fixture");
    let seen = upstream.seen();
    assert!(!seen.is_empty());
    assert!(seen.iter().all(|r| key_params(r) == [TOKEN]), "{seen:?}");
    // Turned off: the test refuses too, and sends nothing.
    hub.set_query_auth(false, &[origin]).unwrap();
    let error = hub
        .relay()
        .probe("up", &server)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("allowQueryParamAuth"), "{error}");
    assert_eq!(upstream.seen().len(), seen.len());
    hub.shutdown().await;
}

#[tokio::test]
async fn test_connection_reports_a_refused_credential() {
    let upstream = Upstream::start(Require::Header("authorization", "Bearer other".into())).await;
    let server = remote(
        upstream.url("/mcp"),
        RemoteTransport::StreamableHttp,
        bearer(),
    );
    let hub = hub_for(server.clone(), |_| {}).await;
    let error = hub
        .relay()
        .probe("up", &server)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("401"), "{error}");
    assert!(!error.contains(TOKEN) && !error.contains("sk-upstream-body-must-not-leak"));
    hub.shutdown().await;
}

/// A server that prints its environment shows its secrets on stderr: `GET /status` (with the
/// key) carries its stderr tail, redacted like every log line and the window's log view.
#[tokio::test]
async fn status_carries_a_childs_stderr_with_its_secrets_redacted() {
    let mut server = fixture(&[], switchboard_core::config::Sharing::PerSession);
    server.env.insert(
        "FIXTURE_TOKEN".into(),
        ValueSource::secret(secret_name("token")),
    );
    let mut config = Config::default();
    config.servers.insert("fx".into(), server);
    let hub = start_config(&config, store_with(&[("token", TOKEN)])).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    client
        .call("stderr", json!({"lines": 0, "env": "FIXTURE_TOKEN"}))
        .await;
    let status = status_of(&hub).await.to_string();
    assert!(status.contains("FIXTURE_TOKEN="), "{status}");
    assert!(!status.contains(TOKEN), "/status leaked a secret: {status}");
    let in_process = serde_json::to_string(&hub.status()).unwrap();
    assert!(
        !in_process.contains(TOKEN),
        "the tray/window status leaked a secret"
    );
    client.delete().await;
    hub.shutdown().await;
}

/// An upstream that cannot be reached: the client gets a JSON-RPC error that says why (the
/// cause, not just "error sending request"), and no session id for a session that could
/// never work; nothing is left open.
#[tokio::test]
async fn an_unreachable_remote_fails_initialize_with_its_cause_and_no_session() {
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = remote(
        format!("http://127.0.0.1:{closed_port}/mcp"),
        RemoteTransport::StreamableHttp,
        UpstreamAuth::None,
    );
    let hub = hub_for(server, |_| {}).await;
    let response = http()
        .post(url(&hub, "/servers/up/mcp"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers().get("mcp-session-id").is_none(),
        "a session id for a session that cannot work"
    );
    let answer: Value = response.json().await.unwrap();
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("cannot connect") && message.to_lowercase().contains("refused"),
        "{message}"
    );
    assert_eq!(hub.status()[0].sessions, 0);
    hub.shutdown().await;
}
