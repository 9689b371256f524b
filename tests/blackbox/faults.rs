//! Fault injection: servers that misbehave in the ways real ones do. Every test ends with the
//! proxy serving normally (a fresh session answers a call) and, for stdio servers, with no
//! process of the server left behind.
//!
//! Stdio children (the fixture's fault tools):
//! - `a_child_dying_mid_answer_fails_the_call`: half a JSON line then exit 4. The call gets
//!   an error naming the exit code, the half line is counted as invalid stdout, not relayed.
//! - `a_flooding_child_does_not_hold_up_another_session`: one child writes 16 MiB of
//!   notifications; another session is answered meanwhile, and the flooding call's stream
//!   delivers every notification, in order, then its answer.
//!   (With a 1 MiB stream queue: the child is held back to its client's pace.)
//! - `a_client_that_stops_reading_a_shared_childs_flood_has_its_stream_cut_and_resumes`: with
//!   a 1 MiB stream queue, a 48 MiB flood from a shared child that the client does not read
//!   is not held for it: the stream is cut (with a log line), and the answer comes on the
//!   resumed stream.
//! - `a_child_that_stops_reading_its_stdin_gets_no_more_and_the_client_an_error`: what
//!   waits for a deaf child is bounded; past it, requests get a JSON-RPC error at once
//!   (per-session and shared children).
//! - `a_line_over_the_frame_limit_is_skipped_and_the_next_message_arrives`: a single 100 MB
//!   line (over the 64 MiB limit) is reported in the status and skipped whole; the answer
//!   written after it arrives, and the session goes on working.
//! - `a_child_that_closes_stdout_but_runs_on_is_stopped`: the call in flight fails
//!   ("closed its stdout"), the session ends, and the process with it, at once.
//! - `a_child_that_ignores_sigterm_is_killed_when_its_session_ends`: extends
//!   `supervisor::a_child_that_ignores_eof_and_sigterm_is_killed` (hub shutdown) to the end
//!   of one session (DELETE), with the server usable afterwards.
//! - `a_grandchild_left_behind_by_a_crash_is_killed`: extends
//!   `supervisor::stopping_leaves_no_process_of_the_group` (a stop) to a child that crashes
//!   and leaves its grandchild running: the group goes with the leader.
//!
//! Remote servers (a raw HTTP/1.1 server on a loopback socket, [`RawUpstream`], so that it
//! can misbehave below HTTP):
//! - `a_hanging_remote_blocks_no_other_session_and_closing_frees_it`: a call the upstream
//!   never answers (not even headers) holds up no other session; ending the session answers
//!   the client's call with an error and lets go of the upstream connection.
//! - `a_connection_reset_is_an_error_with_its_cause`: the call fails, naming the reset.
//! - `an_answer_dribbled_byte_by_byte_arrives_intact`.
//! - `garbage_sse_is_dropped_and_later_events_still_arrive`: non-JSON data, broken lines and
//!   an event over the limit are dropped (the oversized one with a log line); the valid
//!   notification and the answer after them are delivered.
//!
//! No test asserts timing except the generous bound of `support::LIMIT` on "eventually".

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use switchboard_core::config::{Limits, ServerConfig, Sharing};
use switchboard_core::relay::RelayOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::*;

/// Polls `condition` until it holds; false if it never did within `LIMIT`.
async fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while tokio::time::Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    condition()
}

/// [`eventually`] for a condition that has to await.
async fn eventually_async<F: std::future::Future<Output = bool>>(
    mut condition: impl FnMut() -> F,
) -> bool {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    condition().await
}

/// A fresh session on `server` answers a call.
async fn a_fresh_session_works(hub: &switchboard_core::Hub, server: &str) {
    let mut fresh = Client::connect(url(hub, &format!("/servers/{server}/mcp"))).await;
    let answer = fresh.call("echo", json!({"message": "serving"})).await;
    assert_eq!(text(&answer), "serving", "{answer}");
    assert_eq!(fresh.delete().await, 200);
}

/// A fresh stdio session answers a call, and its child is gone once it ends.
async fn a_fresh_child_works_and_goes(hub: &switchboard_core::Hub, server: &str) {
    let mut fresh = Client::connect(url(hub, &format!("/servers/{server}/mcp"))).await;
    let pid = pid_of(&mut fresh).await;
    let answer = fresh.call("echo", json!({"message": "serving"})).await;
    assert_eq!(text(&answer), "serving", "{answer}");
    assert_eq!(fresh.delete().await, 200);
    assert!(wait_until_gone(pid).await, "the fresh child {pid} survived");
}

fn server_error(answer: &Value) -> &str {
    assert_eq!(answer["error"]["code"], -32000, "{answer}");
    answer["error"]["message"].as_str().unwrap()
}

// === stdio children ===

#[tokio::test]
async fn a_child_dying_mid_answer_fails_the_call() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid = pid_of(&mut client).await;
    let (answer, others) = client
        .request_with_events("tools/call", json!({"name":"half_answer","arguments":{}}))
        .await;
    assert!(
        server_error(&answer).contains("exited (exit code 4)"),
        "{answer}"
    );
    assert!(others.is_empty(), "the half line was relayed: {others:?}");
    assert!(wait_until_gone(pid).await, "the child {pid} survived");
    let status = status_of(&hub).await;
    assert_eq!(status["servers"][0]["invalid_stdout_lines"], 1, "{status}");
    assert_eq!(status["servers"][0]["unexpected_exits"], 1, "{status}");
    a_fresh_child_works_and_goes(&hub, "fx").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_flooding_child_does_not_hold_up_another_session() {
    const FLOOD: u64 = 16 << 20;
    let hub = start_with(&[("fx", fixture(&[], Sharing::PerSession))], small_queues()).await;
    let endpoint = url(&hub, "/servers/fx/mcp");
    let mut flooder = Client::connect(endpoint.clone()).await;
    let mut other = Client::connect(endpoint.clone()).await;
    let flooder_pid = pid_of(&mut flooder).await;
    let other_pid = pid_of(&mut other).await;

    let id = flooder.next_id();
    let call = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":"flood","arguments":{"bytes":FLOOD}}});
    let response = bounded("the flood's POST", flooder.post(call.to_string()).send())
        .await
        .unwrap();
    let mut events = Events::from_response(response);
    let first = bounded("the first flood line", events.next())
        .await
        .unwrap();
    assert_eq!(first["params"]["data"]["n"], 0, "{first}");

    // The flood is under way (and mostly unread): another session is answered.
    for i in 0..3 {
        let message = format!("meanwhile {i}");
        let answer = other.call("echo", json!({"message": message})).await;
        assert_eq!(text(&answer), message, "{answer}");
    }

    // Every line arrives, in order, then the answer.
    let mut expected = 1;
    let answer = loop {
        let message = bounded("the flood", events.next()).await.unwrap();
        if message.get("id") == Some(&json!(id)) {
            break message;
        }
        assert_eq!(message["params"]["data"]["n"], expected, "a line was lost");
        expected += 1;
    };
    assert_eq!(text(&answer), format!("flooded {expected} lines"));
    assert!(expected as u64 * 1000 >= FLOOD / 2, "{expected} lines");

    assert_eq!(flooder.delete().await, 200);
    assert_eq!(other.delete().await, 200);
    assert!(wait_until_gone(flooder_pid).await);
    assert!(wait_until_gone(other_pid).await);
    a_fresh_child_works_and_goes(&hub, "fx").await;
    hub.shutdown().await;
}

/// Options with a small per-stream queue, so the tests overflow it cheaply.
fn small_queues() -> RelayOptions {
    RelayOptions {
        limits: Limits {
            max_stream_queue_bytes: 1 << 20,
            ..Limits::default()
        },
        ..quick_options()
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_a_shared_childs_flood_has_its_stream_cut_and_resumes() {
    capture_warnings();
    const FLOOD: u64 = 48 << 20;
    let hub = start_with(&[("fx", fixture(&[], Sharing::Shared))], small_queues()).await;
    let client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let call = json!({"jsonrpc":"2.0","id":"flood-1","method":"tools/call",
        "params":{"name":"flood","arguments":{"bytes":FLOOD}}});
    let response = bounded(
        "the flood's POST",
        client
            .post(call.to_string())
            .header("mcp-protocol-version", "2025-11-25")
            .send(),
    )
    .await
    .unwrap();
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\n\n") {
        let chunk = bounded("the priming event", futures::StreamExt::next(&mut body))
            .await
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let last_event_id = seen
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .to_owned();

    // The client reads nothing more: the proxy cuts the stream rather than hold the flood.
    assert!(
        eventually(|| warnings_containing("fell")
            .iter()
            .any(|w| w.contains("maxStreamQueueBytes")))
        .await,
        "no log line about the cut stream"
    );
    // What was already on its way drains, then the stream ends, without the answer.
    let mut rest = Vec::new();
    while let Some(chunk) =
        bounded("the cut stream's end", futures::StreamExt::next(&mut body)).await
    {
        rest.extend_from_slice(&chunk.unwrap_or_default());
    }
    assert!(
        !String::from_utf8_lossy(&rest).contains("flooded"),
        "the answer came on the stream that was cut"
    );

    // The client resumes once the flood is over: its answer was kept for it.
    assert!(
        eventually_async(|| async {
            let status = status_of(&hub).await;
            status["servers"][0]["stderr_tail"]
                .to_string()
                .contains("flood done")
        })
        .await,
        "the flood never ended"
    );
    let resumed = client
        .http
        .get(&client.endpoint)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", client.session.clone().unwrap())
        .header("last-event-id", &last_event_id)
        .send();
    let mut events = Events::from_response(bounded("resume", resumed).await.unwrap());
    let answer = bounded("the kept answer", events.next()).await.unwrap();
    assert_eq!(answer["id"], "flood-1", "{answer}");
    assert!(text(&answer).starts_with("flooded "), "{answer}");
    drop(events);
    assert_eq!(client.delete().await, 200);
    a_fresh_session_works(&hub, "fx").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_child_that_stops_reading_its_stdin_gets_no_more_and_the_client_an_error() {
    for sharing in [Sharing::PerSession, Sharing::Shared] {
        let hub = start_with(&[("fx", fixture(&[], sharing))], small_queues()).await;
        let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
        let pid = pid_of(&mut client).await;
        let answer = client.call("stop_reading", json!({})).await;
        assert_eq!(text(&answer), "not reading any more", "{answer}");

        // 20 calls of 256 KiB each: far more than the pipe and the 1 MiB queue hold. The
        // ones that fit wait (the child never answers); the rest are refused at once.
        let payload = "x".repeat(256 << 10);
        let mut calls = futures::stream::FuturesUnordered::new();
        for i in 0..20 {
            let mut caller = client.fork(1000 + i * 10);
            let payload = payload.clone();
            calls.push(async move { caller.call("echo", json!({"message": payload})).await });
        }
        let refused = bounded(
            "the first refused call",
            futures::StreamExt::next(&mut calls),
        )
        .await
        .unwrap();
        assert!(
            server_error(&refused).contains("not reading its input"),
            "{sharing:?}: {refused}"
        );
        drop(calls);
        assert_eq!(client.delete().await, 200);
        hub.shutdown().await;
        assert!(
            wait_until_gone(pid).await,
            "{sharing:?}: the deaf child {pid} survived"
        );
    }
}

#[tokio::test]
async fn a_line_over_the_frame_limit_is_skipped_and_the_next_message_arrives() {
    let limit = RelayOptions::default().max_frame_bytes;
    let huge = 100_000_000;
    assert!(huge > limit, "the line must be over the limit ({limit})");
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid = pid_of(&mut client).await;
    let (answer, others) = client
        .request_with_events(
            "tools/call",
            json!({"name":"huge_line","arguments":{"bytes":huge}}),
        )
        .await;
    assert_eq!(text(&answer), "after the huge line", "{answer}");
    assert!(others.is_empty());
    let status = status_of(&hub).await;
    assert_eq!(status["servers"][0]["invalid_stdout_lines"], 1, "{status}");
    let last_error = status["servers"][0]["last_error"].as_str().unwrap();
    assert!(
        last_error.contains(&format!("a line longer than {limit} bytes")),
        "{last_error}"
    );
    // The same session and child go on.
    assert_eq!(pid_of(&mut client).await, pid);
    assert_eq!(client.delete().await, 200);
    assert!(wait_until_gone(pid).await, "the child {pid} survived");
    a_fresh_child_works_and_goes(&hub, "fx").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_child_that_closes_stdout_but_runs_on_is_stopped() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid = pid_of(&mut client).await;
    let answer = client.call("close_stdout", json!({})).await;
    assert!(
        server_error(&answer).contains("closed its stdout"),
        "{answer}"
    );
    // Its session is over, and so is the process: nothing waits for the client (or the idle
    // sweeper, whose first round comes long after `wait_until_gone` gives up) to end it.
    assert!(
        wait_until_gone(pid).await,
        "the child {pid} runs on without its session"
    );
    assert_eq!(client.delete().await, 404, "the session is over");
    assert_eq!(status_of(&hub).await["servers"][0]["sessions"], 0);
    a_fresh_child_works_and_goes(&hub, "fx").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_child_that_ignores_sigterm_is_killed_when_its_session_ends() {
    let stubborn = fixture(
        &["--ignore-sigterm", "--ignore-stdin-eof"],
        Sharing::PerSession,
    );
    let hub = start(&[("stubborn", stubborn)]).await;
    let mut client = Client::connect(url(&hub, "/servers/stubborn/mcp")).await;
    let pid = pid_of(&mut client).await;
    assert_eq!(client.delete().await, 200);
    assert!(
        wait_until_gone(pid).await,
        "the child {pid} survived SIGKILL"
    );
    a_fresh_child_works_and_goes(&hub, "stubborn").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_grandchild_left_behind_by_a_crash_is_killed() {
    let hub = start(&[("fx", fixture(&[], Sharing::PerSession))]).await;
    let mut client = Client::connect(url(&hub, "/servers/fx/mcp")).await;
    let pid = pid_of(&mut client).await;
    let grandchild: u32 = text(&client.call("grandchild", json!({})).await)
        .parse()
        .unwrap();
    assert!(!process_is_gone(grandchild));
    let crashed = client.call("crash", json!({})).await;
    assert!(
        server_error(&crashed).contains("exited (exit code 3)"),
        "{crashed}"
    );
    assert!(wait_until_gone(pid).await, "the child {pid} survived");
    assert!(
        wait_until_gone(grandchild).await,
        "the grandchild {grandchild} outlived its parent"
    );
    a_fresh_child_works_and_goes(&hub, "fx").await;
    hub.shutdown().await;
}

// === remote servers ===

/// A Streamable HTTP server written by hand, one request per connection, so it can fail in
/// ways a framework will not: `initialize` and `echo` are answered properly; the tools
/// `hang`, `reset`, `dribble` and `garbage` are the faults.
struct RawUpstream {
    addr: SocketAddr,
    /// Connections holding a `hang` call that the client has not let go of.
    hanging: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RawUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The oversized SSE event of `garbage`; the hub for that test gets a smaller limit.
const GARBAGE_EVENT_BYTES: usize = 100 * 1024;
const SMALL_LIMIT: usize = 64 * 1024;
const _: () = assert!(GARBAGE_EVENT_BYTES > SMALL_LIMIT);

impl RawUpstream {
    async fn start() -> RawUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hanging = Arc::new(AtomicUsize::new(0));
        let counter = hanging.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(serve_one(stream, counter.clone()));
            }
        });
        RawUpstream {
            addr,
            hanging,
            task,
        }
    }

    fn server(&self) -> ServerConfig {
        ServerConfig::remote(format!("http://{}/mcp", self.addr))
    }

    fn hanging(&self) -> usize {
        self.hanging.load(Ordering::SeqCst)
    }
}

/// Reads one request: (request line, body).
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head.lines().next().unwrap_or_default().to_owned(), body))
}

fn response(status: &str, content_type: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

fn tool_answer(id: &Value, text: &str) -> Vec<u8> {
    let body = json!({"jsonrpc":"2.0","id":id,"result":{"content":[{"type":"text","text":text}],"isError":false}});
    response(
        "200 OK",
        "application/json",
        "",
        body.to_string().as_bytes(),
    )
}

async fn serve_one(mut stream: TcpStream, hanging: Arc<AtomicUsize>) {
    let Some((request_line, body)) = read_request(&mut stream).await else {
        return;
    };
    let reply = if !request_line.starts_with("POST") {
        // No GET stream; DELETE ends the (only, made-up) session.
        let status = if request_line.starts_with("DELETE") {
            "200 OK"
        } else {
            "405 Method Not Allowed"
        };
        response(status, "text/plain", "", b"")
    } else {
        let message: Value = serde_json::from_slice(&body).unwrap_or_default();
        let id = message["id"].clone();
        match (
            message["method"].as_str(),
            message["params"]["name"].as_str(),
        ) {
            _ if id.is_null() => response("202 Accepted", "text/plain", "", b""),
            (Some("initialize"), _) => {
                let result = json!({"jsonrpc":"2.0","id":id,"result":{
                    "protocolVersion": message["params"]["protocolVersion"],
                    "capabilities":{"tools":{}},"serverInfo":{"name":"raw-upstream","version":"1"}}});
                response(
                    "200 OK",
                    "application/json",
                    "mcp-session-id: raw-1\r\n",
                    result.to_string().as_bytes(),
                )
            }
            (Some("tools/call"), Some("hang")) => {
                // Accepted, never answered: held until the client lets go.
                hanging.fetch_add(1, Ordering::SeqCst);
                let mut sink = [0u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                hanging.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            (Some("tools/call"), Some("reset")) => {
                // SO_LINGER 0: close sends RST instead of FIN.
                let _ = stream.set_zero_linger();
                drop(stream);
                return;
            }
            (Some("tools/call"), Some("dribble")) => {
                let text = message["params"]["arguments"]["message"]
                    .as_str()
                    .unwrap_or_default();
                for byte in tool_answer(&id, text) {
                    if stream.write_all(&[byte]).await.is_err() {
                        return;
                    }
                    let _ = stream.flush().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                return;
            }
            (Some("tools/call"), Some("garbage")) => {
                let mut sse = String::new();
                sse.push_str("data: this is not JSON at all\n\n");
                sse.push_str(": a comment line, fine\n\n");
                sse.push_str("a line without a field\ndata: {\"jsonrpc\":\"2.0\",\n\n");
                sse.push_str("data:\n\n");
                sse.push_str(&format!("data: {}\n\n", "y".repeat(GARBAGE_EVENT_BYTES)));
                sse.push_str("data: [1, 2, 3]\r\n\r\n");
                let notification = json!({"jsonrpc":"2.0","method":"notifications/message",
                    "params":{"level":"info","data":"still here"}});
                sse.push_str(&format!("event: message\ndata: {notification}\n\n"));
                let answer = json!({"jsonrpc":"2.0","id":id,
                    "result":{"content":[{"type":"text","text":"after the garbage"}]}});
                sse.push_str(&format!("data: {answer}\n\n"));
                response("200 OK", "text/event-stream", "", sse.as_bytes())
            }
            (Some("tools/call"), _) => tool_answer(
                &id,
                message["params"]["arguments"]["message"]
                    .as_str()
                    .unwrap_or_default(),
            ),
            _ => {
                let error = json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":"no such method"}});
                response(
                    "200 OK",
                    "application/json",
                    "",
                    error.to_string().as_bytes(),
                )
            }
        }
    };
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

#[tokio::test]
async fn a_hanging_remote_blocks_no_other_session_and_closing_frees_it() {
    let upstream = RawUpstream::start().await;
    let hub = start(&[("hang", upstream.server())]).await;
    let endpoint = url(&hub, "/servers/hang/mcp");
    let stuck = Client::connect(endpoint.clone()).await;
    let mut other = Client::connect(endpoint.clone()).await;

    let call = json!({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"hang","arguments":{}}});
    let request = stuck.post(call.to_string()).send();
    let in_flight = tokio::spawn(async move {
        let response = request.await.unwrap();
        let mut events = Events::from_response(response);
        events.next().await
    });
    assert!(
        eventually(|| upstream.hanging() == 1).await,
        "the call never reached the upstream"
    );

    // Another session on the same server is answered meanwhile.
    let answer = other.call("echo", json!({"message": "not blocked"})).await;
    assert_eq!(text(&answer), "not blocked", "{answer}");

    // Ending the stuck session answers its call and lets go of the upstream connection.
    assert_eq!(stuck.delete().await, 200);
    let answer = bounded("the stuck call's answer", in_flight)
        .await
        .unwrap()
        .expect("an answer, not a dropped stream");
    assert_eq!(answer["id"], 7, "{answer}");
    assert!(server_error(&answer).contains("session closed"), "{answer}");
    assert!(
        eventually(|| upstream.hanging() == 0).await,
        "the upstream connection is still held"
    );
    assert_eq!(other.delete().await, 200);
    a_fresh_session_works(&hub, "hang").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn a_connection_reset_is_an_error_with_its_cause() {
    let upstream = RawUpstream::start().await;
    let hub = start(&[("reset", upstream.server())]).await;
    let mut client = Client::connect(url(&hub, "/servers/reset/mcp")).await;
    let answer = client.call("reset", json!({})).await;
    let message = server_error(&answer).to_lowercase();
    assert!(
        message.contains("cannot reach remote server 'reset'") && message.contains("reset"),
        "{answer}"
    );
    // The session survives a failed call.
    let answer = client.call("echo", json!({"message": "after"})).await;
    assert_eq!(text(&answer), "after", "{answer}");
    assert_eq!(client.delete().await, 200);
    a_fresh_session_works(&hub, "reset").await;
    hub.shutdown().await;
}

#[tokio::test]
async fn an_answer_dribbled_byte_by_byte_arrives_intact() {
    let upstream = RawUpstream::start().await;
    let hub = start(&[("slow", upstream.server())]).await;
    let mut client = Client::connect(url(&hub, "/servers/slow/mcp")).await;
    let message: String = (0..200)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .chain("é ✓ \" \\ end".chars())
        .collect();
    let answer = client
        .call("dribble", json!({"message": message.clone()}))
        .await;
    assert_eq!(text(&answer), message, "{answer}");
    assert_eq!(client.delete().await, 200);
    a_fresh_session_works(&hub, "slow").await;
    hub.shutdown().await;
}

/// Warnings logged by the core, kept for the tests that check one was written. Installed
/// once for the whole test binary; nothing else here installs a logger.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct CaptureWarnings;

impl log::Log for CaptureWarnings {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut warnings = WARNINGS.lock().unwrap_or_else(|p| p.into_inner());
            if warnings.len() < 10_000 {
                warnings.push(record.args().to_string());
            }
        }
    }

    fn flush(&self) {}
}

fn capture_warnings() {
    static LOGGER: CaptureWarnings = CaptureWarnings;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

fn warnings_about(server: &str) -> Vec<String> {
    warnings_containing(&format!("remote server '{server}'"))
}

fn warnings_containing(needle: &str) -> Vec<String> {
    WARNINGS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter(|w| w.contains(needle))
        .cloned()
        .collect()
}

#[tokio::test]
async fn garbage_sse_is_dropped_and_later_events_still_arrive() {
    capture_warnings();
    let upstream = RawUpstream::start().await;
    let options = RelayOptions {
        max_frame_bytes: SMALL_LIMIT,
        ..quick_options()
    };
    let hub = start_with(&[("garbage", upstream.server())], options).await;
    let mut client = Client::connect(url(&hub, "/servers/garbage/mcp")).await;
    let (answer, others) = client
        .request_with_events("tools/call", json!({"name":"garbage","arguments":{}}))
        .await;
    assert_eq!(text(&answer), "after the garbage", "{answer}");
    assert_eq!(others.len(), 1, "only the valid notification: {others:?}");
    assert_eq!(others[0]["params"]["data"], "still here", "{others:?}");
    let warnings = warnings_about("garbage");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&format!("larger than {SMALL_LIMIT} bytes was dropped"))),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("not JSON-RPC")),
        "{warnings:?}"
    );
    assert_eq!(client.delete().await, 200);
    a_fresh_session_works(&hub, "garbage").await;
    hub.shutdown().await;
}
