//! A scripted MCP server on stdio for the black-box tests. Each tool exercises one thing the
//! relay must get right; flags make it misbehave on purpose.
//!
//! Flags: `--ignore-sigterm` (only SIGKILL stops it), `--ignore-stdin-eof` (keeps running
//! after stdin closes), `--banner` (writes a non-JSON line to stdout at start),
//! `--extra-tools N` (lists N more tools, `t0`…, and pages `tools/list` 10 at a time),
//! `--modern` (dual-era, as SDK 2.x servers are: the first request decides the era of the
//! pipe; a stateless first request (with `_meta` naming a protocol version) makes it serve
//! 2026-07-28: `server/discover`, `subscriptions/listen`, `resultType` on results, and
//! `initialize` refused; the tool `cancelled` lists the request ids it was told were
//! cancelled).
//!
//! Faults on demand (tools): `crash` (exits 3), `half_answer` (half a JSON line, then
//! exits 4), `flood` (megabytes of notifications), `huge_line` (one line of any size),
//! `close_stdout` (stdout gone, process running), `grandchild` (a `sleep` in its group),
//! `stop_reading` (answers, then never reads stdin again).

use std::io::{BufRead, Write};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

type Out = Arc<Mutex<std::io::Stdout>>;

/// `--extra-tools N`.
static EXTRA_TOOLS: AtomicU64 = AtomicU64::new(0);
/// `--modern`, and then the era the first request chose: 0 undecided, 1 session, 2 stateless.
static MODERN_CAPABLE: AtomicBool = AtomicBool::new(false);
static ERA: AtomicU64 = AtomicU64::new(0);
/// Open `subscriptions/listen` requests (their ids), and every cancelled request id.
static LISTENS: Mutex<Vec<Value>> = Mutex::new(Vec::new());
static CANCELLED: Mutex<Vec<Value>> = Mutex::new(Vec::new());

fn stateless() -> bool {
    ERA.load(Ordering::Relaxed) == 2
}

fn send(out: &Out, message: &Value) {
    let mut line = serde_json::to_vec(message).expect("serializable");
    line.push(b'\n');
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = out.write_all(&line);
    let _ = out.flush();
}

fn send_raw(out: &Out, text: &str) {
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    let _ = out.write_all(text.as_bytes());
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn text_result(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}], "isError": false})
}

/// Replies to our own server→client requests, by id.
type Waiters = Arc<Mutex<std::collections::HashMap<String, mpsc::Sender<Value>>>>;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if let Some(n) = args
        .iter()
        .position(|a| a == "--extra-tools")
        .and_then(|i| args.get(i + 1)?.parse().ok())
    {
        EXTRA_TOOLS.store(n, Ordering::Relaxed);
    }
    if has("--modern") {
        MODERN_CAPABLE.store(true, Ordering::Relaxed);
    }
    if has("--ignore-sigterm") {
        let flag = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGTERM, flag)
            .expect("install SIGTERM handler");
    }
    let out: Out = Arc::new(Mutex::new(std::io::stdout()));
    if has("--banner") {
        send_raw(
            &out,
            "fixture-server starting up (this line is not JSON-RPC)",
        );
    }
    eprintln!("fixture-server pid {} ready", std::process::id());
    let waiters: Waiters = Arc::default();
    let next_id = Arc::new(AtomicU64::new(1));

    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let Ok(message) = serde_json::from_str::<Value>(&line) else {
            send(
                &out,
                &json!({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}),
            );
            continue;
        };
        // A reply to one of our requests.
        if message.get("method").is_none() {
            let id = message.get("id").map(|i| i.to_string()).unwrap_or_default();
            if let Some(tx) = waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id)
            {
                let _ = tx.send(message);
            }
            continue;
        }
        if message["method"] == "notifications/cancelled" {
            let id = message["params"]["requestId"].clone();
            LISTENS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|l| *l != id);
            CANCELLED.lock().unwrap_or_else(|p| p.into_inner()).push(id);
        }
        let Some(id) = message.get("id").cloned() else {
            continue;
        }; // notifications
        if ERA.load(Ordering::Relaxed) == 0 {
            // The first request decides, once (as SDK 2.x servers do).
            let modern = MODERN_CAPABLE.load(Ordering::Relaxed)
                && message["method"] != "initialize"
                && message["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"]
                    .is_string();
            ERA.store(if modern { 2 } else { 1 }, Ordering::Relaxed);
        }
        if message["method"] == "tools/call" && message["params"]["name"] == "stop_reading" {
            send(
                &out,
                &json!({"jsonrpc":"2.0","id":id,"result":text_result("not reading any more")}),
            );
            // Alive, writing if asked, but deaf: stdin fills up and stays full.
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        let (out, waiters, next_id, line) =
            (out.clone(), waiters.clone(), next_id.clone(), line.clone());
        // Each request on its own thread, so slow calls do not block others.
        std::thread::spawn(move || handle(&out, &waiters, &next_id, id, &message, &line));
    }
    if has("--ignore-stdin-eof") {
        loop {
            std::thread::sleep(Duration::from_secs(60));
        }
    }
}

fn handle(
    out: &Out,
    waiters: &Waiters,
    next_id: &AtomicU64,
    id: Value,
    message: &Value,
    line: &str,
) {
    let method = message["method"].as_str().unwrap_or_default();
    let params = &message["params"];
    let result = match method {
        "initialize" if stateless() => {
            send(
                out,
                &json!({"jsonrpc":"2.0","id":id,"error":{"code":-32022,"message":"this pipe serves 2026-07-28","data":{"supported":["2026-07-28"],"requested":"2025-11-25"}}}),
            );
            return;
        }
        "server/discover" if stateless() => json!({
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {"listChanged": true}},
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "fixture-server", "version": "1.0.0"}}
        }),
        "subscriptions/listen" if stateless() => {
            LISTENS
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(id.clone());
            send(
                out,
                &json!({"jsonrpc":"2.0","method":"notifications/subscriptions/acknowledged","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":id},"notifications":{"toolsListChanged":true}}}),
            );
            return; // answered when it ends
        }
        "initialize" => json!({
            "protocolVersion": params["protocolVersion"].as_str().unwrap_or("2025-11-25"),
            "capabilities": {"tools": {"listChanged": true}, "logging": {}},
            "serverInfo": {"name": "fixture-server", "version": "1.0.0"}
        }),
        "ping" => json!({}),
        "tools/list" => {
            let mut tools = vec![
                json!({"name": "echo", "inputSchema": {"type": "object"}}),
                json!({"name": "pid", "inputSchema": {"type": "object"}}),
            ];
            let extra = EXTRA_TOOLS.load(Ordering::Relaxed);
            if extra == 0 {
                json!({ "tools": tools })
            } else {
                tools.extend(
                    (0..extra).map(
                        |i| json!({"name": format!("t{i}"), "inputSchema": {"type": "object"}}),
                    ),
                );
                let start: usize = params["cursor"]
                    .as_str()
                    .and_then(|c| c.strip_prefix('p')?.parse().ok())
                    .unwrap_or(0);
                let page: Vec<Value> = tools.iter().skip(start).take(10).cloned().collect();
                let mut result = json!({ "tools": page });
                if start + 10 < tools.len() {
                    result["nextCursor"] = json!(format!("p{}", start + 10));
                }
                result
            }
        }
        // Fidelity: answers with the exact request line it received, as a string.
        "fixture/raw" => json!({"line": line}),
        "tools/call" => match tool(out, waiters, next_id, params) {
            Ok(result) => result,
            Err(message) => {
                send(
                    out,
                    &json!({"jsonrpc":"2.0","id":id,"error":{"code":-32602,"message":message}}),
                );
                return;
            }
        },
        other => {
            send(
                out,
                &json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":format!("Method not found: {other}")}}),
            );
            return;
        }
    };
    let mut result = result;
    if stateless()
        && let Some(object) = result.as_object_mut()
    {
        object.insert("resultType".into(), json!("complete"));
        if method == "tools/list" {
            object.insert("ttlMs".into(), json!(0));
            object.insert("cacheScope".into(), json!("private"));
        }
    }
    send(out, &json!({"jsonrpc":"2.0","id":id,"result":result}));
}

fn tool(
    out: &Out,
    waiters: &Waiters,
    next_id: &AtomicU64,
    params: &Value,
) -> Result<Value, String> {
    let args = &params["arguments"];
    let number = |name: &str, default: u64| args[name].as_u64().unwrap_or(default);
    match params["name"].as_str().unwrap_or_default() {
        "echo" => Ok(text_result(args["message"].as_str().unwrap_or_default())),
        "pid" => Ok(text_result(std::process::id().to_string())),
        "slow" => {
            std::thread::sleep(Duration::from_millis(number("ms", 100)));
            Ok(text_result("done"))
        }
        "big" => {
            // Deterministic, non-repeating-looking content the test can rebuild.
            let len = number("bytes", 1024) as usize;
            let text: String = (0..len)
                .map(|i| char::from(b'a' + ((i * 7 + i / 26) % 26) as u8))
                .collect();
            Ok(text_result(text))
        }
        "crash" => {
            eprintln!("fixture-server crashing on purpose");
            std::process::exit(3);
        }
        // Dies halfway through writing its answer: half a JSON line, no newline, exit 4.
        "half_answer" => {
            let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
            let _ = out.write_all(br#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"te"#);
            let _ = out.flush();
            eprintln!("fixture-server dying mid-answer");
            std::process::exit(4);
        }
        // Writes `bytes` of `notifications/message` lines (about 1 KiB each) as fast as the
        // pipe takes them, then answers.
        "flood" => {
            let total = number("bytes", 1 << 20);
            let filler = "f".repeat(1000);
            let (mut written, mut lines) = (0, 0u64);
            while written < total {
                let line = json!({"jsonrpc":"2.0","method":"notifications/message",
                    "params":{"level":"debug","data":{"n":lines,"filler":filler}}});
                let mut line = serde_json::to_vec(&line).expect("serializable");
                line.push(b'\n');
                written += line.len() as u64;
                lines += 1;
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let _ = out.write_all(&line);
            }
            let _ = out.lock().unwrap_or_else(|p| p.into_inner()).flush();
            eprintln!("flood done: {lines} lines");
            Ok(text_result(format!("flooded {lines} lines")))
        }
        // One stdout line of `bytes` bytes (written in 1 MiB pieces), then the answer.
        "huge_line" => {
            let total = number("bytes", 1 << 20) as usize;
            let piece = vec![b'x'; 1 << 20];
            {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                let mut left = total;
                while left > 0 {
                    let n = left.min(piece.len());
                    let _ = out.write_all(&piece[..n]);
                    left -= n;
                }
                let _ = out.write_all(b"\n");
                let _ = out.flush();
            }
            Ok(text_result("after the huge line"))
        }
        // Points stdout at /dev/null (closing the pipe) and keeps running and reading stdin;
        // this answer, like every later one, goes nowhere.
        #[cfg(unix)]
        "close_stdout" => {
            let out = out.lock().unwrap_or_else(|p| p.into_inner());
            let null = std::fs::File::create("/dev/null").map_err(|e| e.to_string())?;
            nix::unistd::dup2_stdout(&null).map_err(|e| e.to_string())?;
            drop(out);
            eprintln!("fixture-server closed its stdout");
            Ok(text_result("stdout closed"))
        }
        "noise" => {
            send_raw(
                out,
                "this is not JSON-RPC, a server printing to stdout by mistake",
            );
            send_raw(out, "[1, 2, 3]");
            Ok(text_result("after noise"))
        }
        "stderr" => {
            for i in 0..number("lines", 10) {
                eprintln!("stderr line {i}");
            }
            // A server that prints its own token, as careless ones do.
            if let Some(name) = args["env"].as_str() {
                eprintln!("{name}={}", std::env::var(name).unwrap_or_default());
            }
            Ok(text_result("wrote stderr"))
        }
        "grandchild" => {
            let child = Command::new("sleep")
                .arg("300")
                .spawn()
                .map_err(|e| e.to_string())?;
            Ok(text_result(child.id().to_string()))
        }
        "progress" => {
            let token = params["_meta"]["progressToken"].clone();
            let steps = number("steps", 5);
            for step in 1..=steps {
                send(
                    out,
                    &json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":token,"progress":step,"total":steps}}),
                );
            }
            Ok(text_result(format!("{steps} steps")))
        }
        "change_tools" => {
            if stateless() {
                let listens = LISTENS.lock().unwrap_or_else(|p| p.into_inner()).clone();
                for listen in listens {
                    send(
                        out,
                        &json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":listen}}}),
                    );
                }
            } else {
                send(
                    out,
                    &json!({"jsonrpc":"2.0","method":"notifications/tools/list_changed"}),
                );
            }
            Ok(text_result("changed"))
        }
        "cancelled" => {
            let ids = CANCELLED.lock().unwrap_or_else(|p| p.into_inner()).clone();
            Ok(text_result(Value::Array(ids).to_string()))
        }
        "notify" => {
            send(
                out,
                &json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":args["data"].clone()}}),
            );
            Ok(text_result("notified"))
        }
        // Asks the client a question (sampling/createMessage) and returns its answer.
        "ask" => {
            let request_id = next_id.fetch_add(1, Ordering::Relaxed);
            let key = json!(format!("srv-{request_id}")).to_string();
            let (tx, rx) = mpsc::channel();
            waiters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, tx);
            send(
                out,
                &json!({"jsonrpc":"2.0","id":format!("srv-{request_id}"),"method":"sampling/createMessage","params":{
                "messages":[{"role":"user","content":{"type":"text","text":args["question"].clone()}}],"maxTokens":10}}),
            );
            let reply = rx
                .recv_timeout(Duration::from_secs(60))
                .map_err(|_| "no answer from the client".to_owned())?;
            if let Some(error) = reply.get("error") {
                return Err(format!(
                    "the client refused: {}",
                    error["message"].as_str().unwrap_or_default()
                ));
            }
            let text = reply["result"]["content"]["text"]
                .as_str()
                .unwrap_or("<no text>")
                .to_owned();
            Ok(text_result(format!("client said: {text}")))
        }
        other => Err(format!("Unknown tool: {other}")),
    }
}
