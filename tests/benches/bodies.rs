//! Memory under large messages (issue 10): a `switchboard serve` process (release build)
//! takes `BODIES` (8) concurrent calls of `BODY_MB` (60) MB each to a stdio server that
//! echoes them back (so each message crosses the proxy twice), then goes idle. Prints the
//! proxy's resident memory after warm-up, at the peak, and at 1 s and 15 s after the load;
//! the last must be back near the first. Run with `scripts/bodies.sh`; figures in
//! BENCHMARKS.md.
//!
//! Calls refused with 503 (the `maxBufferedBodyBytes` budget) are retried, as a client
//! would; the count is printed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;

use common::{Result, ServeProcess, binary, env_number, rss_kib};

const KEY: &str = "sbk_bodies-bench-key-0123456789abcdef";

/// One session: initialize, then the big echo until it is accepted; returns the 503s seen.
async fn big_call(http: reqwest::Client, endpoint: String, bytes: usize) -> Result<u64> {
    let post = |session: Option<&str>, body: String| {
        let mut request = http
            .post(&endpoint)
            .bearer_auth(KEY)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send()
    };
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-06-18","capabilities":{},
        "clientInfo":{"name":"bodies-bench","version":"1"}}});
    let response = post(None, init.to_string()).await?;
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .ok_or("no session id")?
        .to_owned();
    response.bytes().await?;
    let message = "m".repeat(bytes);
    let call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"echo","arguments":{"message": message}}})
    .to_string();
    drop(message);
    let mut refused = 0;
    loop {
        let response = post(Some(&session), call.clone()).await?;
        if response.status() == 503 {
            refused += 1;
            response.bytes().await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let sse = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let body = response.bytes().await?;
        // A slow answer comes as an SSE stream: its last `data:` line is the answer.
        let json = if sse {
            body.split(|&b| b == b'\n')
                .filter_map(|line| line.strip_prefix(b"data: "))
                .rfind(|data| !data.is_empty())
                .ok_or("an SSE answer without data")?
                .to_vec()
        } else {
            body.to_vec()
        };
        let answer: Value = serde_json::from_slice(&json)?;
        let echoed = answer["result"]["content"][0]["text"]
            .as_str()
            .map_or(0, str::len);
        if echoed != bytes {
            return Err(format!("echoed {echoed} bytes of {bytes}").into());
        }
        break;
    }
    let _ = http
        .delete(&endpoint)
        .bearer_auth(KEY)
        .header("mcp-session-id", &session)
        .send()
        .await;
    Ok(refused)
}

#[tokio::main]
async fn main() -> Result<()> {
    let bodies = env_number("BODIES", 8) as usize;
    let bytes = env_number("BODY_MB", 60) as usize * 1_000_000;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("config.json");
    std::fs::write(
        &config,
        json!({"mcpServers": {"fx": {"command": binary("fixture-server", "scripts/bodies.sh")?, "args": []}}})
            .to_string(),
    )?;
    let proxy = ServeProcess::start(&config, KEY, "scripts/bodies.sh").await?;
    let (pid, port) = (proxy.pid(), proxy.port);
    let endpoint = format!("http://127.0.0.1:{port}/servers/fx/mcp");
    let http = reqwest::Client::builder().no_proxy().build()?;
    // Warm-up: a small call, so the baseline includes a started runtime and one session.
    big_call(http.clone(), endpoint.clone(), 1000).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = rss_kib(pid);

    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let started = Instant::now();
    let calls: Vec<_> = (0..bodies)
        .map(|_| tokio::spawn(big_call(http.clone(), endpoint.clone(), bytes)))
        .collect();
    let mut refused = 0;
    for call in calls {
        refused += call.await??;
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    drop(http);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_1s = rss_kib(pid);
    tokio::time::sleep(Duration::from_secs(14)).await;
    let after_15s = rss_kib(pid);
    drop(proxy);

    let mib = |kib: u64| kib as f64 / 1024.0;
    println!(
        "bodies: {bodies} concurrent echo calls of {} MB in {:.1} s ({refused} refused with 503 and retried)",
        bytes / 1_000_000,
        elapsed.as_secs_f64()
    );
    println!("  resident after warm-up   {:.1} MiB", mib(baseline));
    println!(
        "  resident at the peak     {:.1} MiB",
        mib(peak.load(Ordering::Relaxed))
    );
    println!("  resident 1 s after      {:.1} MiB", mib(after_1s));
    println!("  resident 15 s after     {:.1} MiB", mib(after_15s));
    Ok(())
}
