//! The client the MCP conformance suite's authorization scenarios drive
//! (`conformance client --command <this> --scenario auth/…`), built on Switchboard's own
//! OAuth code: the remote server is a `switchboard_core::upstream::RemoteServer` with
//! `auth.type: oauth`, exactly as a gateway is configured, so the sign-in, the bearer on each
//! request, the retry after a 401 and "needs sign-in" are the product's. Only the browser is
//! played here: the authorization URL is fetched without following its redirect, and the
//! redirect is delivered to Switchboard's own loopback listener, as a browser would.
//!
//! The suite passes the server URL as the last argument and the scenario in
//! `MCP_CONFORMANCE_SCENARIO`, the wire version in `MCP_CONFORMANCE_PROTOCOL_VERSION`, and
//! client credentials (pre-registration, client credentials) in `MCP_CONFORMANCE_CONTEXT`.
//! Sessions of the 2025 revisions go through `mcp::client` (the gateway's path); the
//! stateless 2026-07-28 wire, which that client does not speak yet, is spoken here with the
//! same authorizer supplying and renewing the token.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use switchboard_core::config::{OAuthGrant, ServerConfig, UpstreamAuth};
use switchboard_core::mcp::client::Inbound;
use switchboard_core::mcp::jsonrpc::Envelope;
use switchboard_core::oauth::{AuthState, Authorizer, OAuthError, SignIn};
use switchboard_core::secrets::{MemoryStore, Resolver, SecretName, SecretStore, Sensitive};
use switchboard_core::upstream::RemoteServer;
use tokio::sync::mpsc;

/// The client ID metadata document the suite expects a CIMD client to name.
const CLIENT_METADATA_URL: &str = "https://conformance-test.local/client-metadata.json";
/// At most this many sign-ins per run (the first, plus step-ups): the retry limit.
const MAX_SIGN_INS: usize = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    // The suite kills a client at 30 s; stop first, with a reason.
    let outcome = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(25), run())
            .await
            .unwrap_or_else(|_| Err("timed out".into()))
    });
    match outcome {
        Ok(()) => eprintln!("conformance client: done"),
        Err(why) => {
            eprintln!("conformance client: {why}");
            std::process::exit(1);
        }
    }
}

async fn run() -> Result<(), String> {
    let url = std::env::args().next_back().ok_or("no server URL")?;
    let scenario = std::env::var("MCP_CONFORMANCE_SCENARIO").unwrap_or_default();
    let version =
        std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION").unwrap_or_else(|_| "2025-11-25".into());
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    eprintln!("conformance client: {scenario} at {url} (wire {version})");

    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let secret_name = SecretName::new("conformance-client-secret").map_err(|e| e.to_string())?;
    let client_secret = match context.get("client_secret").and_then(Value::as_str) {
        Some(secret) => {
            store
                .set(secret_name.as_str(), &Sensitive::new(secret.to_owned()))
                .map_err(|e| e.to_string())?;
            Some(secret_name)
        }
        None => None,
    };
    let key_name = SecretName::new("conformance-client-key").map_err(|e| e.to_string())?;
    let client_key = match context.get("private_key_pem").and_then(Value::as_str) {
        Some(pem) => {
            store
                .set(key_name.as_str(), &Sensitive::new(pem.to_owned()))
                .map_err(|e| e.to_string())?;
            Some(key_name)
        }
        None => None,
    };
    let machine = scenario.starts_with("auth/client-credentials");
    let mut config = ServerConfig::remote(url.clone());
    config.auth = UpstreamAuth::Oauth {
        client_id: context
            .get("client_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        client_secret,
        client_key,
        client_metadata_url: Some(CLIENT_METADATA_URL.to_owned()),
        scope: None,
        grant: if machine {
            OAuthGrant::ClientCredentials
        } else {
            OAuthGrant::AuthorizationCode
        },
    };
    let resolver = Resolver::new(Some(store));
    let remote = RemoteServer::from_config(
        &Arc::from("conformance"),
        &config,
        Arc::new(RwLock::new(Default::default())),
        4 * 1024 * 1024,
        &resolver,
        Arc::new(|| {}),
    )
    .ok_or("not a remote server")?;
    let authorizer = remote.authorizer().cloned().ok_or("not an OAuth server")?;

    let mut sign_ins = 0;
    if !machine {
        sign_in(&authorizer).await?;
        sign_ins += 1;
    }
    let modern = version.as_str() >= "2026-07-28";
    loop {
        let outcome = if modern {
            stateless_calls(&url, &version, &authorizer).await
        } else {
            session_calls(&remote, &resolver).await
        };
        match outcome {
            Ok(()) => return Ok(()),
            Err(why) => {
                let status = authorizer.status();
                eprintln!("conformance client: calls failed ({why}); sign-in: {status:?}");
                if machine || status.state != AuthState::NeedsSignIn || sign_ins >= MAX_SIGN_INS {
                    return Err(why);
                }
                sign_in(&authorizer).await?;
                sign_ins += 1;
            }
        }
    }
}

/// A sign-in with this process as the browser: the authorization URL is fetched without
/// following the redirect, and the redirect goes to Switchboard's listener.
async fn sign_in(authorizer: &Authorizer) -> Result<(), String> {
    let settings = authorizer.settings().await.map_err(|e| e.to_string())?;
    let sign_in = SignIn::start(authorizer.context(), &settings, None)
        .await
        .map_err(|e| format!("sign-in could not start: {e}"))?;
    eprintln!(
        "conformance client: signing in at {} ({})",
        sign_in.host,
        sign_in.steps.join("; ")
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let answer = browser
        .get(sign_in.authorization_url.clone())
        .send()
        .await
        .map_err(|e| format!("the authorization endpoint: {e}"))?;
    let location = answer
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            format!(
                "the authorization endpoint answered {}, no redirect",
                answer.status()
            )
        })?
        .to_owned();
    if !location.starts_with(sign_in.redirect_uri()) {
        return Err("the authorization endpoint redirected somewhere else".into());
    }
    let finishing = tokio::spawn(sign_in.finish(Duration::from_secs(20)));
    browser
        .get(&location)
        .send()
        .await
        .map_err(|e| format!("delivering the redirect: {e}"))?;
    finishing
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("sign-in refused: {e}"))?;
    authorizer.reload().await.map_err(|e| e.to_string())
}

/// What a session's server sends, collected.
struct Collect(Mutex<mpsc::UnboundedSender<Bytes>>);

impl Inbound for Collect {
    fn on_message(&self, frame: Bytes) {
        let _ = self.0.lock().unwrap_or_else(|p| p.into_inner()).send(frame);
    }
    fn on_unanswered(&self, _id_key: &str, _message: &str) {}
    fn on_ended(&self, _message: &str) {}
}

/// initialize, tools/list and a call of each tool through the gateway's own client.
async fn session_calls(remote: &RemoteServer, resolver: &Resolver) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let inbound: Arc<dyn Inbound> = Arc::new(Collect(Mutex::new(tx)));
    let weak: Weak<dyn Inbound> = Arc::downgrade(&inbound);
    let client = remote
        .connect(resolver, weak)
        .await
        .map_err(|e| e.to_string())?;
    let mut request = async |id: u64, method: &str, params: Value| -> Result<Value, String> {
        let frame = Bytes::from(
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        );
        let envelope = Envelope::parse(&frame).map_err(|e| e.to_string())?;
        client
            .send(&envelope, frame.clone())
            .await
            .map_err(|e| e.message().to_owned())?;
        loop {
            let answer = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .map_err(|_| format!("no answer to {method}"))?
                .ok_or("the session ended")?;
            let answer: Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
            if answer.get("id") == Some(&json!(id)) {
                return match answer.get("error") {
                    Some(error) => Err(format!("{method}: {error}")),
                    None => Ok(answer["result"].clone()),
                };
            }
        }
    };
    request(
        1,
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "switchboard-oauth-conformance", "version": "1"}}),
    )
    .await?;
    let initialized =
        Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    let envelope = Envelope::parse(&initialized).map_err(|e| e.to_string())?;
    client
        .send(&envelope, initialized.clone())
        .await
        .map_err(|e| e.message().to_owned())?;
    let tools = request(2, "tools/list", json!({})).await?;
    let listed = tools["tools"].as_array().cloned().unwrap_or_default();
    for (id, tool) in (3..).zip(listed) {
        let name = tool["name"].as_str().unwrap_or_default();
        request(id, "tools/call", json!({"name": name, "arguments": {}})).await?;
    }
    client.close().await;
    Ok(())
}

/// The stateless 2026-07-28 wire: each request stands alone, with the version in its
/// header and `_meta`; the token comes from the same authorizer, renewed after a 401.
async fn stateless_calls(url: &str, version: &str, authorizer: &Authorizer) -> Result<(), String> {
    let http = reqwest::Client::new();
    let call = async |id: u64, method: &str, mut params: Value| -> Result<Value, String> {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "switchboard-oauth-conformance", "version": "1"},
        });
        let body =
            json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
        let mut token = authorizer.access_token().await.map_err(describe)?;
        for attempt in 0..2 {
            let response = http
                .post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", version)
                .header("mcp-method", method)
                .bearer_auth(token.expose())
                .body(body.clone())
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            if (status == 401 || status == 403) && attempt == 0 {
                let challenges: Vec<String> = response
                    .headers()
                    .get_all("www-authenticate")
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                match authorizer
                    .rejected(&token, status.as_u16(), &challenges)
                    .await
                {
                    Some(renewed) => {
                        token = renewed;
                        continue;
                    }
                    None => return Err(format!("{method}: HTTP {status}")),
                }
            }
            if !status.is_success() {
                return Err(format!("{method}: HTTP {status}"));
            }
            let text = response.text().await.map_err(|e| e.to_string())?;
            return answer_in(&text, id)
                .ok_or_else(|| format!("{method}: no answer in {text:.200}"));
        }
        Err(format!("{method}: refused twice"))
    };
    let tools = call(1, "tools/list", json!({})).await?;
    let listed = tools["tools"].as_array().cloned().unwrap_or_default();
    for (id, tool) in (2..).zip(listed) {
        let name = tool["name"].as_str().unwrap_or_default();
        call(id, "tools/call", json!({"name": name, "arguments": {}})).await?;
    }
    Ok(())
}

fn describe(e: OAuthError) -> String {
    e.to_string()
}

/// The result of response `id` in a JSON body or an SSE stream.
fn answer_in(text: &str, id: u64) -> Option<Value> {
    let candidates = std::iter::once(text.trim()).chain(
        text.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim),
    );
    for candidate in candidates {
        if let Ok(value) = serde_json::from_str::<Value>(candidate)
            && value.get("id") == Some(&json!(id))
        {
            return value.get("result").cloned();
        }
    }
    None
}
