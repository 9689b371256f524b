//! The soak run (issue 10): a running Hub (what `switchboard serve` and the desktop app run)
//! under minutes of mixed load over real loopback sockets, then checked for leaks. Not part of the test command; run it with `scripts/soak.sh` (figures in
//! BENCHMARKS.md, "Soak").
//!
//! Load: `SOAK_SESSIONS` (64) client tasks for `SOAK_SECS` (180) seconds, against a
//! per-session server and a shared one. Each task opens a session, makes calls whose answers
//! must carry its own unique payload (any other payload is cross-talk), and now and then
//! crashes its child, or drops the session and opens a new one (churn). A config task adds
//! and removes a third server, and restarts the per-session one, through the Hub's own
//! operations (as the window does), every two seconds.
//!
//! At the end every session is closed and the process is measured against its state after
//! warm-up: children left (must be 0), open file descriptors, resident memory.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_core::config::{Config, ServerConfig};
use switchboard_core::relay::RelayOptions;
use switchboard_core::secrets::Sensitive;
use switchboard_core::{Auth, Hub, HubOptions};

mod common;

use common::{Result, binary, env_number, rss_kib};

const KEY: &str = "sbk_soak-test-key-0123456789abcdef";

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    cross_talk: AtomicU64,
    /// Requests that failed because their session had ended (its child crashed, or its
    /// server was replaced): the client must open a new session, as it does.
    ended: AtomicU64,
    /// Anything else (the proxy unreachable, a timeout, an answer without a result).
    errors: AtomicU64,
    /// What those were: a short kind (the JSON-RPC error message, or the transport error's
    /// kind) → how many, so a figure in BENCHMARKS.md comes with its explanation.
    error_kinds: Mutex<BTreeMap<String, u64>>,
    crashes: AtomicU64,
    sessions: AtomicU64,
}

/// The session is over (404): a new one is needed.
#[derive(Debug)]
struct Ended;

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the session ended")
    }
}

impl std::error::Error for Ended {}

impl Counters {
    fn error(&self, kind: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        // Numbers (pids, ids, sizes) would make every message its own kind.
        let kind: String = kind
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .take(160)
            .collect();
        *self
            .error_kinds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }
}

/// A transport error's kind, without the URL (the same for every call).
fn transport_kind(e: &(dyn std::error::Error + Send + Sync + 'static)) -> String {
    match e.downcast_ref::<reqwest::Error>() {
        Some(e) if e.is_timeout() => "client timeout (30 s)".to_owned(),
        Some(e) if e.is_connect() => "cannot connect".to_owned(),
        Some(e) if e.is_decode() => "answer is not JSON".to_owned(),
        Some(e) => {
            let mut source = std::error::Error::source(e);
            let mut text = "transport".to_owned();
            while let Some(s) = source {
                text = s.to_string();
                source = s.source();
            }
            format!("transport: {text}")
        }
        None => e.to_string(),
    }
}
struct Session {
    http: reqwest::Client,
    url: String,
    id: Option<String>,
    next: u64,
}

impl Session {
    async fn open(http: &reqwest::Client, url: String) -> Result<Session> {
        let mut session = Session {
            http: http.clone(),
            url,
            id: None,
            next: 0,
        };
        let init = session
            .request("initialize", json!({"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}))
            .await?;
        if init.get("result").is_none() {
            return Err(format!("initialize failed: {init}").into());
        }
        session
            .post(json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .send()
            .await?;
        Ok(session)
    }

    fn post(&self, body: Value) -> reqwest::RequestBuilder {
        let mut request = self
            .http
            .post(&self.url)
            .header("authorization", format!("Bearer {KEY}"))
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body.to_string());
        if let Some(id) = &self.id {
            request = request.header("mcp-session-id", id);
        }
        request
    }

    async fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        self.next += 1;
        let response = self
            .post(json!({"jsonrpc":"2.0","id":self.next,"method":method,"params":params}))
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        if let Some(id) = response.headers().get("mcp-session-id") {
            self.id = Some(id.to_str()?.to_owned());
        }
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(Ended.into());
        }
        Ok(response.json().await?)
    }

    async fn close(&self) {
        if let Some(id) = &self.id {
            let _ = self
                .http
                .delete(&self.url)
                .header("authorization", format!("Bearer {KEY}"))
                .header("mcp-session-id", id)
                .send()
                .await;
        }
    }
}

async fn client_task(task: u64, port: u16, until: Instant, counters: Arc<Counters>) {
    let http = reqwest::Client::new();
    let server = if task.is_multiple_of(4) {
        "shared"
    } else {
        "fx"
    };
    let url = format!("http://127.0.0.1:{port}/servers/{server}/mcp");
    let mut round = 0u64;
    while Instant::now() < until {
        let mut session = match Session::open(&http, url.clone()).await {
            Ok(session) => session,
            Err(e) => {
                counters.error(format!("initialize: {}", transport_kind(e.as_ref())));
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        counters.sessions.fetch_add(1, Ordering::Relaxed);
        for call in 0..50u64 {
            if Instant::now() >= until {
                break;
            }
            round += 1;
            let payload = format!("task-{task}-round-{round}-call-{call}");
            match session
                .request(
                    "tools/call",
                    json!({"name":"echo","arguments":{"message": payload}}),
                )
                .await
            {
                Ok(answer) => {
                    let text = answer["result"]["content"][0]["text"].as_str();
                    // A JSON-RPC error that says the server went away is a session ending
                    // under its client (the crash of a sibling on the shared server is
                    // not: that one restarts in place).
                    let gone = answer["error"]["message"]
                        .as_str()
                        .is_some_and(|m| m.contains("exited") || m.contains("session closed"));
                    match text {
                        Some(text) if text == payload => {
                            counters.calls.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(_) => {
                            counters.cross_talk.fetch_add(1, Ordering::Relaxed);
                        }
                        None if gone => {
                            counters.ended.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        None => counters.error(format!(
                            "call answered without a result: {}",
                            answer["error"]["message"]
                                .as_str()
                                .unwrap_or("(no error either)")
                        )),
                    }
                }
                Err(e) if e.is::<Ended>() => {
                    counters.ended.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(e) => counters.error(format!("call: {}", transport_kind(e.as_ref()))),
            }
        }
        // Now and then the child crashes (per-session servers only: the shared one is
        // everybody's); otherwise the session ends politely. Either way, a new one opens.
        if server == "fx" && round.is_multiple_of(7) {
            let _ = session
                .request("tools/call", json!({"name":"crash","arguments":{}}))
                .await;
            counters.crashes.fetch_add(1, Ordering::Relaxed);
        }
        session.close().await;
    }
}

/// Adds and removes a server, and replaces the busy per-session one (its sessions end and
/// their clients open new ones), while the load runs, as a person editing their setup would.
async fn config_task(hub: Arc<Hub>, fixture: PathBuf, until: Instant) -> u64 {
    let server = ServerConfig::stdio(fixture.display().to_string(), Vec::<String>::new());
    let mut changes = 0;
    while Instant::now() < until {
        let done = if changes % 3 == 2 {
            // A real change (an identical definition changes nothing, by design): its
            // sessions end and their clients open new ones.
            let mut replaced = server.clone();
            replaced.env.insert(
                "SOAK_GENERATION".into(),
                switchboard_core::secrets::ValueSource::Literal(changes.to_string()),
            );
            hub.save_server("fx", replaced).await
        } else if hub.config().servers.contains_key("extra") {
            hub.remove_server("extra").await
        } else {
            hub.save_server("extra", server.clone()).await
        };
        if done.is_ok() {
            changes += 1;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    changes
}

/// The children of every thread of `pid` (a child belongs to the thread that spawned it).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| task.ok())
        .flat_map(|task| {
            std::fs::read_to_string(task.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let secs = env_number("SOAK_SECS", 180);
    let tasks = env_number("SOAK_SESSIONS", 64);
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.json");
    let fixture = binary("fixture-server", "scripts/soak.sh")?;
    std::fs::write(
        &config,
        serde_json::to_string_pretty(&json!({
            "mcpServers": {
                "fx": {"command": fixture, "args": []},
                "shared": {"command": fixture, "args": [], "sharing": "shared"}
            },
            "switchboard": {"limits": {"maxSessionsPerServer": 256, "maxSessions": 512, "maxChildren": 256}}
        }))?,
    )?;
    let loaded = Config::load(&config)?;
    let hub = Arc::new(
        Hub::launch(
            &loaded,
            HubOptions {
                port: 0,
                relay: RelayOptions {
                    limits: loaded.proxy.limits,
                    ..RelayOptions::default()
                },
                auth: Auth::fixed(Sensitive::new(KEY.to_owned())),
                extra_origins: Vec::new(),
                secrets: None,
                config_path: Some(config.clone()),
            },
        )
        .await?,
    );
    let pid = std::process::id();
    let port = hub.local_addr().port();
    // Warm-up: one session per task, then closed; the baseline is taken after it.
    let warm_until = Instant::now() + Duration::from_secs(5);
    let counters = Arc::new(Counters::default());
    let warm: Vec<_> = (0..tasks)
        .map(|t| {
            tokio::spawn(client_task(
                t,
                port,
                warm_until,
                Arc::new(Counters::default()),
            ))
        })
        .collect();
    futures::future::join_all(warm).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (fds_before, rss_before) = (open_fds(pid), rss_kib(pid));

    eprintln!("soak: {tasks} sessions for {secs} s against pid {pid}");
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let config_changes = tokio::spawn(config_task(hub.clone(), fixture.clone(), until));
    let load: Vec<_> = (0..tasks)
        .map(|t| tokio::spawn(client_task(t, port, until, counters.clone())))
        .collect();
    let mut peak_children = 0;
    while Instant::now() < until {
        peak_children = peak_children.max(children_of(pid).len());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    futures::future::join_all(load).await;
    let config_changes = config_changes.await.unwrap_or(0);
    // Let the stops finish (grace periods), then measure.
    let mut left = children_of(pid);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        left = children_of(pid);
    }
    // The shared server keeps its one child while the proxy runs; nothing else may stay.
    let leaked: Vec<u32> = left.iter().copied().skip(1).collect();
    let (fds_after, rss_after) = (open_fds(pid), rss_kib(pid));
    let elapsed = started.elapsed().as_secs_f64();
    let calls = counters.calls.load(Ordering::Relaxed);
    println!("soak: {secs} s, {tasks} concurrent sessions");
    println!(
        "  calls answered      {calls} ({:.0}/s)",
        calls as f64 / elapsed
    );
    println!(
        "  sessions opened     {}",
        counters.sessions.load(Ordering::Relaxed)
    );
    println!(
        "  child crashes       {}",
        counters.crashes.load(Ordering::Relaxed)
    );
    println!("  config changes      {config_changes}");
    println!(
        "  calls on an ended session (its child crashed or its server was replaced; the client opened a new one) {}",
        counters.ended.load(Ordering::Relaxed)
    );
    println!(
        "  other errors        {}",
        counters.errors.load(Ordering::Relaxed)
    );
    for (kind, count) in counters
        .error_kinds
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("      {count:>6}  {kind}");
    }
    println!(
        "  cross-talk          {}",
        counters.cross_talk.load(Ordering::Relaxed)
    );
    println!("  peak children       {peak_children}");
    println!(
        "  children left       {} (the shared server's own: at most 1)",
        left.len()
    );
    println!("  open fds            {fds_before} after warm-up, {fds_after} at the end");
    println!("  resident memory     {rss_before} KiB after warm-up, {rss_after} KiB at the end");
    hub.shutdown().await;
    let mut failures = Vec::new();
    if counters.cross_talk.load(Ordering::Relaxed) > 0 {
        failures.push("cross-talk".to_owned());
    }
    if !leaked.is_empty() {
        failures.push(format!("children left behind: {leaked:?}"));
    }
    if fds_after > fds_before + 8 {
        failures.push(format!(
            "file descriptors grew from {fds_before} to {fds_after}"
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("; ").into())
    }
}
