//! Test support: a Hub on 127.0.0.1:0 with fixture servers, and a small MCP HTTP client.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use std::sync::Arc;
use switchboard_core::config::{Config, ServerConfig, Sharing};
use switchboard_core::relay::RelayOptions;

use switchboard_core::secrets::{SecretStore, Sensitive};
use switchboard_core::supervisor::StopGrace;
use switchboard_core::{Auth, Hub, HubOptions};

/// Every wait in these tests is bounded by this, so a bug shows up as a failure, not a hang.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A secret name the tests know to be valid.
pub fn secret_name(name: &str) -> switchboard_core::secrets::SecretName {
    switchboard_core::secrets::SecretName::new(name).expect("a valid secret name")
}

pub fn fixture_path() -> &'static str {
    env!("CARGO_BIN_EXE_fixture-server")
}

pub fn fixture(args: &[&str], sharing: Sharing) -> ServerConfig {
    let mut server = ServerConfig::stdio(fixture_path(), args.iter().copied());
    server.sharing = sharing;
    server
}

/// Options with short stop waits, so escalation tests finish quickly.
pub fn quick_options() -> RelayOptions {
    RelayOptions {
        stop_grace: StopGrace {
            after_stdin_close: Duration::from_millis(500),
            after_sigterm: Duration::from_millis(500),
        },
        ..RelayOptions::default()
    }
}

pub async fn start(servers: &[(&str, ServerConfig)]) -> Hub {
    start_with(servers, quick_options()).await
}

/// The API key every test hub requires.
pub const TEST_KEY: &str = "sbk_blackbox-test-key-0123456789abcdefghijklmnopq";

pub async fn start_with(servers: &[(&str, ServerConfig)], relay: RelayOptions) -> Hub {
    start_with_auth(
        servers,
        relay,
        Auth::fixed(Sensitive::new(TEST_KEY.to_owned())),
    )
    .await
}

pub async fn start_with_auth(
    servers: &[(&str, ServerConfig)],
    relay: RelayOptions,
    auth: Auth,
) -> Hub {
    let mut config = Config::default();
    for (name, server) in servers {
        config.servers.insert((*name).to_owned(), server.clone());
    }
    launch(&config, relay, auth, None).await
}

/// A hub for `config` whose secret references resolve from `secrets`.
pub async fn start_config(config: &Config, secrets: Arc<dyn SecretStore>) -> Hub {
    let auth = Auth::fixed(Sensitive::new(TEST_KEY.to_owned()));
    launch(config, quick_options(), auth, Some(secrets)).await
}

async fn launch(
    config: &Config,
    relay: RelayOptions,
    auth: Auth,
    secrets: Option<Arc<dyn SecretStore>>,
) -> Hub {
    let options = HubOptions {
        port: 0,
        relay,
        auth,
        extra_origins: vec!["https://allowed.example".into()],
        secrets,
        config_path: None,
    };
    Hub::launch(config, options).await.expect("hub starts")
}

/// A hub that saves its config in `dir` and keeps its secrets in a fresh in-memory store
/// (returned, for the test to look into).
pub async fn hub_for(
    dir: &tempfile::TempDir,
    config: &Config,
    auth: Auth,
) -> (Hub, Arc<dyn SecretStore>) {
    let store: Arc<dyn SecretStore> = Arc::new(switchboard_core::secrets::MemoryStore::default());
    let options = HubOptions {
        port: 0,
        relay: quick_options(),
        auth,
        extra_origins: vec![],
        secrets: Some(store.clone()),
        config_path: Some(dir.path().join("config.json")),
    };
    (
        Hub::launch(config, options).await.expect("hub starts"),
        store,
    )
}

/// An HTTP client that sends the test key on every request.
pub fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {TEST_KEY}");
    headers.insert(
        reqwest::header::AUTHORIZATION,
        value.parse().expect("ascii"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client")
}

/// GET /status with the key.
pub async fn status_of(hub: &Hub) -> Value {
    http()
        .get(url(hub, "/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub fn url(hub: &Hub, path: &str) -> String {
    format!("http://{}{path}", hub.local_addr())
}

pub async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {LIMIT:?}"))
}

/// The text of the first content item of a tools/call result.
/// The pid the fixture reports for `client`'s session (its `pid` tool).
pub async fn pid_of(client: &mut Client) -> u32 {
    text(&client.call("pid", json!({})).await).parse().unwrap()
}

pub fn text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {response}"))
}

/// Whether a process is gone (or a zombie nobody waits for).
pub fn process_is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

pub async fn wait_until_gone(pid: u32) -> bool {
    for _ in 0..300 {
        if process_is_gone(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

// === a minimal MCP Streamable HTTP client ===

pub struct Client {
    pub http: reqwest::Client,
    pub endpoint: String,
    pub session: Option<String>,
    next_id: u64,
}

impl Client {
    pub fn new(endpoint: String) -> Client {
        Client {
            http: http(),
            endpoint,
            session: None,
            next_id: 0,
        }
    }

    /// A client for `endpoint` that claims `session` (which may be made up).
    pub fn with_session(endpoint: String, session: Option<String>) -> Client {
        Client {
            session,
            ..Client::new(endpoint)
        }
    }

    /// Another client in the same session whose request ids start after `first_id`, so
    /// concurrent callers never reuse an id the session has in flight.
    pub fn fork(&self, first_id: u64) -> Client {
        Client {
            http: self.http.clone(),
            endpoint: self.endpoint.clone(),
            session: self.session.clone(),
            next_id: first_id,
        }
    }

    /// `initialize` + `notifications/initialized`.
    pub async fn connect(endpoint: String) -> Client {
        let mut client = Client::new(endpoint);
        let init = client
            .request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{"sampling":{}},"clientInfo":{"name":"blackbox","version":"1"}}))
            .await;
        assert!(init.get("result").is_some(), "initialize failed: {init}");
        let status = client.notify("notifications/initialized", json!({})).await;
        assert_eq!(status, 202);
        client
    }

    pub fn post(&self, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(session) = &self.session {
            request = request.header("mcp-session-id", session);
        }
        request
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a request and returns its response; other messages on the stream are returned
    /// by `request_with_events`.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        self.request_with_events(method, params).await.0
    }

    pub async fn request_with_events(
        &mut self,
        method: &str,
        params: Value,
    ) -> (Value, Vec<Value>) {
        let id = self.next_id();
        let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}).to_string();
        let response = bounded("POST", self.post(body).send())
            .await
            .expect("POST is answered");
        if let Some(session) = response.headers().get("mcp-session-id") {
            self.session = Some(session.to_str().expect("ascii").to_owned());
        }
        let mut events = Events::from_response(response);
        let mut others = Vec::new();
        loop {
            let message = bounded("the response", events.next())
                .await
                .expect("the stream carries the response");
            if message.get("id") == Some(&json!(id)) && message.get("method").is_none() {
                return (message, others);
            }
            others.push(message);
        }
    }

    pub async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await
    }

    pub async fn notify(&self, method: &str, params: Value) -> u16 {
        let body = json!({"jsonrpc":"2.0","method":method,"params":params}).to_string();
        bounded("notify", self.post(body).send())
            .await
            .expect("POST is answered")
            .status()
            .as_u16()
    }

    /// Opens the session's GET stream.
    pub async fn open_stream(&self) -> Events {
        let response = bounded(
            "GET",
            self.http
                .get(&self.endpoint)
                .header("accept", "text/event-stream")
                .header(
                    "mcp-session-id",
                    self.session.as_deref().expect("a session"),
                )
                .send(),
        )
        .await
        .expect("GET is answered");
        assert_eq!(response.status(), 200);
        Events::from_response(response)
    }

    pub async fn delete(&self) -> u16 {
        let request = self.http.delete(&self.endpoint).header(
            "mcp-session-id",
            self.session.as_deref().expect("a session"),
        );
        bounded("DELETE", request.send())
            .await
            .expect("DELETE is answered")
            .status()
            .as_u16()
    }
}

/// JSON-RPC messages (or raw SSE events) read incrementally from a response body.
pub struct Events {
    body: BoxStream<'static, reqwest::Result<Bytes>>,
    buffer: Vec<u8>,
    ready: VecDeque<(String, String)>,
    json: bool,
}

impl Events {
    pub fn from_response(response: reqwest::Response) -> Events {
        let json = response.headers().get("content-type").is_some_and(|v| {
            v.to_str()
                .unwrap_or_default()
                .starts_with("application/json")
        });
        Events {
            body: response.bytes_stream().boxed(),
            buffer: Vec::new(),
            ready: VecDeque::new(),
            json,
        }
    }

    /// The next SSE event as (event type, data); for a JSON body, the body once.
    pub async fn next_raw(&mut self) -> Option<(String, String)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                _ => {
                    if self.json && !self.buffer.is_empty() {
                        let body =
                            String::from_utf8(std::mem::take(&mut self.buffer)).expect("utf-8");
                        return Some(("message".into(), body));
                    }
                    return None;
                }
            }
            if self.json {
                continue;
            }
            while let Some(end) = find(&self.buffer, b"\n\n") {
                let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let block = String::from_utf8(block).expect("utf-8");
                let mut event = "message".to_owned();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if !data.is_empty() {
                    self.ready.push_back((event, data.join("\n")));
                }
            }
        }
    }

    pub async fn next(&mut self) -> Option<Value> {
        let (_, data) = self.next_raw().await?;
        Some(
            serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {data}")),
        )
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The `switchboard` binary, built on demand so `cargo test` alone is enough.
pub fn switchboard_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir.join(format!("switchboard{}", std::env::consts::EXE_SUFFIX));
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let status = std::process::Command::new(env!("CARGO"))
            .args([
                "build",
                "--quiet",
                "-p",
                "switchboard-cli",
                "--bin",
                "switchboard",
            ])
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building switchboard failed");
    });
    assert!(binary.exists(), "{} missing", binary.display());
    binary
}
