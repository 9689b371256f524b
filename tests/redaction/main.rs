//! The captured logs of failing and succeeding gateway connections, at trace level, never
//! contain the secret, whatever the secret is (property test). Its own test binary: the
//! process-wide logger can be installed only once.

#![allow(clippy::unwrap_used)]

// Shared with the black-box suite, which uses all of it.
#[allow(dead_code)]
#[path = "../blackbox/upstream_fixture.rs"]
mod upstream_fixture;

use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use serde_json::{Value, json};
use switchboard_core::config::{Config, RemoteTransport, ServerConfig, UpstreamAuth};
use switchboard_core::secrets::{MemoryStore, SecretStore, Sensitive};
use switchboard_core::{Auth, Hub, HubOptions};
use upstream_fixture::{Require, Upstream};

static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// The tests share the captured log: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn install_capture() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        switchboard_core::redact::install(Box::new(Capture), log::LevelFilter::Trace).unwrap()
    });
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        CAPTURED.lock().unwrap().push(format!(
            "{} {} {}",
            record.level(),
            record.target(),
            record.args()
        ));
    }
    fn flush(&self) {}
}

const IDE_KEY: &str = "sbk_redaction-test-ide-key-0123456789abcdefghij";

async fn gateway(url: String, auth: UpstreamAuth, secret: &str, origin: String) -> Hub {
    let store = MemoryStore::default();
    store.set("s", &Sensitive::new(secret.to_owned())).unwrap();
    let mut server = ServerConfig::remote(url);
    server.transport = RemoteTransport::Auto;
    server.auth = auth;
    let mut config = Config::default();
    config.servers.insert("up".into(), server);
    config.proxy.allow_query_param_auth = true;
    config.proxy.query_param_auth_origins = vec![origin];
    let options = HubOptions {
        port: 0,
        relay: Default::default(),
        auth: Auth::fixed(Sensitive::new(IDE_KEY.into())),
        extra_origins: vec![],
        secrets: Some(Arc::new(store)),
        config_path: None,
    };
    Hub::launch(&config, options).await.unwrap()
}

/// initialize + one call through the gateway; returns what the client saw.
async fn exercise(hub: &Hub) -> String {
    let http = reqwest::Client::new();
    let endpoint = format!("http://{}/servers/up/mcp", hub.local_addr());
    let post = |body: Value, session: Option<String>| {
        let mut request = http
            .post(&endpoint)
            .header("authorization", format!("Bearer {IDE_KEY}"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}});
    let response = post(init, None).await.unwrap();
    let session = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let mut seen = response.text().await.unwrap();
    if session.is_some() {
        post(
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            session.clone(),
        )
        .await
        .unwrap();
        let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}});
        seen.push_str(&post(call, session).await.unwrap().text().await.unwrap());
    }
    seen
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn gateway_logs_never_contain_the_secret(secret in "[A-Za-z0-9._~+/=!$-]{12,40}", use_query in any::<bool>()) {
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        install_capture();
        CAPTURED.lock().unwrap().clear();
        let client_saw = runtime().block_on(async {
            let auth = if use_query {
                UpstreamAuth::Query { param: "api_key".into(), secret: "s".parse().expect("valid") }
            } else {
                UpstreamAuth::Bearer { secret: "s".parse().expect("valid") }
            };
            let require = if use_query { Require::Query("api_key", secret.clone()) } else { Require::Header("authorization", format!("Bearer {secret}")) };
            // Succeeding: the upstream wants this secret.
            let good = Upstream::start(require).await;
            let hub = gateway(good.url("/mcp?keep=1"), auth.clone(), &secret, good.url("")).await;
            let mut saw = exercise(&hub).await;
            prop_assert!(saw.contains("\"text\":\"hi\""), "the good connection failed: {saw}");
            hub.shutdown().await;
            // Failing: the upstream wants something else (401), then nobody listens at all.
            let bad = Upstream::start(Require::Header("x-nope", "x".into())).await;
            let hub = gateway(bad.url("/mcp"), auth.clone(), &secret, bad.url("")).await;
            saw.push_str(&exercise(&hub).await);
            hub.shutdown().await;
            let unreachable = format!("http://127.0.0.1:{}/mcp", bad.addr.port());
            drop(bad);
            let hub = gateway(unreachable.clone(), auth, &secret, unreachable.trim_end_matches("/mcp").to_owned()).await;
            saw.push_str(&exercise(&hub).await);
            hub.shutdown().await;
            Ok(saw)
        })?;
        let logs = CAPTURED.lock().unwrap().join("\n");
        prop_assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "nothing was logged at trace level");
        for haystack in [&logs, &client_saw] {
            prop_assert!(!haystack.contains(&secret), "the secret leaked:\n{haystack}");
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            prop_assert!(!haystack.contains(&encoded), "the encoded secret leaked:\n{haystack}");
        }
    }
}

/// OAuth: a sign-in, calls, a refresh, a refused refresh and a sign-out against the real
/// authorization server fixture, logged at trace level. No token, refresh token, code or
/// client ID the authorization server handed out appears in the log, in what the client got,
/// in `/status`, or in the config file.
#[test]
fn oauth_tokens_never_reach_a_log_an_answer_the_status_or_the_config() {
    use std::io::{BufRead, BufReader};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    install_capture();
    CAPTURED.lock().unwrap().clear();
    let mut fixture = std::process::Command::new(env!("CARGO_BIN_EXE_oauth-fixture"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(fixture.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (saw, status, issued) = runtime().block_on(async {
        let mut server = ServerConfig::remote(format!("{base}/mcp"));
        server.auth = UpstreamAuth::Oauth {
            client_id: None,
            client_secret: None,
            client_key: None,
            client_metadata_url: None,
            scope: None,
            grant: Default::default(),
        };
        let mut config = Config::default();
        config.servers.insert("up".into(), server);
        let options = HubOptions {
            port: 0,
            relay: Default::default(),
            auth: Auth::fixed(Sensitive::new(IDE_KEY.into())),
            extra_origins: vec![],
            secrets: Some(Arc::new(MemoryStore::default())),
            config_path: Some(dir.path().join("config.json")),
        };
        let hub = Hub::launch(&config, options).await.unwrap();
        let browser = reqwest::Client::new();
        let sign_in = async || {
            let pending = hub.start_sign_in("up").await.unwrap();
            let url = pending.authorization_url.to_string();
            let (done, page) =
                tokio::join!(hub.finish_sign_in("up", pending), browser.get(&url).send());
            done.unwrap();
            page.unwrap().text().await.unwrap()
        };
        let admin = |what: &'static str| browser.post(format!("{base}/admin/{what}")).send();
        let mut saw = sign_in().await;
        saw.push_str(&exercise(&hub).await);
        admin("expire-access").await.unwrap();
        saw.push_str(&exercise(&hub).await);
        admin("revoke-all").await.unwrap();
        saw.push_str(&exercise(&hub).await);
        saw.push_str(&sign_in().await);
        saw.push_str(&exercise(&hub).await);
        let status = reqwest::Client::new()
            .get(format!("http://{}/status", hub.local_addr()))
            .header("authorization", format!("Bearer {IDE_KEY}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        hub.sign_out("up").await.unwrap();
        hub.shutdown().await;
        let stats: Value = browser
            .get(format!("{base}/admin/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let issued: Vec<String> = stats["issued"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        (saw, status, issued)
    });
    let _ = fixture.kill();
    let _ = fixture.wait();
    let logs = CAPTURED.lock().unwrap().join("\n");
    assert!(logs.contains("refreshed"), "no refresh was logged:\n{logs}");
    assert!(
        issued.iter().any(|t| t.starts_with("rt-")),
        "no refresh token was issued"
    );
    let config = std::fs::read_to_string(dir.path().join("config.json")).unwrap_or_default();
    for token in issued.iter().filter(|t| !t.starts_with("client-")) {
        for (what, haystack) in [
            ("log", &logs),
            ("client", &saw),
            ("status", &status),
            ("config", &config),
        ] {
            assert!(
                !haystack.contains(token.as_str()),
                "{token} leaked into the {what}:\n{haystack}"
            );
        }
    }
}
