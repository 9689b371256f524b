//! A remote MCP server for the gateway tests, on a loopback port: Streamable HTTP at
//! `/mcp`, legacy HTTP+SSE at `/sse` (its POST endpoint is announced as a *relative* URL,
//! which drops the SSE URL's query), an SSE-only URL for the `auto` fallback, and a
//! cross-origin redirect. It records every request it receives, headers and query included,
//! and every JSON-RPC message posted to it, and can demand a credential. The tool `ask`
//! sends the client a `sampling/createMessage` request mid-call and answers with what the
//! client replied, on both transports; `wait_for_cancel` answers (as JSON) only once its
//! `notifications/cancelled` arrives, or says that none came within ten seconds.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

/// One request as the upstream saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the upstream demands.
#[derive(Clone, Debug)]
pub enum Require {
    Nothing,
    Header(&'static str, String),
    Query(&'static str, String),
}

#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    require: Require,
    sessions: Arc<Mutex<HashMap<String, ()>>>,
    sse_sessions: Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Value>>>>,
    next: Arc<AtomicU64>,
    redirect_to: Arc<Mutex<Option<String>>>,
    /// Every JSON-RPC message posted, on either transport, in arrival order.
    messages: Arc<Mutex<Vec<Value>>>,
    /// Server→client requests waiting for the client's reply, by request id.
    awaiting_reply: Arc<Mutex<HashMap<String, oneshot::Sender<Value>>>>,
}

pub struct Upstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    messages: Arc<Mutex<Vec<Value>>>,
    redirect_to: Arc<Mutex<Option<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    pub async fn start(require: Require) -> Upstream {
        let shared = Shared {
            seen: Arc::default(),
            require,
            sessions: Arc::default(),
            sse_sessions: Arc::default(),
            next: Arc::default(),
            redirect_to: Arc::default(),
            messages: Arc::default(),
            awaiting_reply: Arc::default(),
        };
        let app = Router::new()
            .route(
                "/mcp",
                post(streamable_post)
                    .get(streamable_get)
                    .delete(streamable_delete),
            )
            .route("/sse", get(sse_open))
            .route(
                "/sse-only",
                get(sse_open).post(|| async { StatusCode::METHOD_NOT_ALLOWED }),
            )
            .route("/messages", post(sse_message))
            .route("/redirect", any(redirect))
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                record_and_check,
            ))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Upstream {
            addr,
            seen: shared.seen,
            messages: shared.messages,
            redirect_to: shared.redirect_to,
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The JSON-RPC messages posted to the upstream so far.
    pub fn messages(&self) -> Vec<Value> {
        self.messages.lock().unwrap().clone()
    }

    pub fn redirect_to(&self, target: String) {
        *self.redirect_to.lock().unwrap() = Some(target);
    }
}

async fn record_and_check(
    State(shared): State<Shared>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let seen = Seen {
        method: request.method().to_string(),
        path_and_query: request
            .uri()
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
    };
    let allowed = match &shared.require {
        Require::Nothing => true,
        Require::Header(name, value) => seen.header(name) == Some(value.as_str()),
        Require::Query(param, value) => {
            let query = request.uri().query().unwrap_or_default();
            url::form_urlencoded::parse(query.as_bytes())
                .any(|(k, v)| k == *param && v == value.as_str())
        }
    };
    shared.seen.lock().unwrap().push(seen);
    if !allowed {
        return (
            StatusCode::UNAUTHORIZED,
            "upstream says: bad credential sk-upstream-body-must-not-leak",
        )
            .into_response();
    }
    next.run(request).await
}

fn answer(message: &Value) -> Option<Value> {
    let id = message.get("id")?.clone();
    let method = message.get("method")?.as_str()?;
    let result = match method {
        "initialize" => {
            json!({"protocolVersion": message["params"]["protocolVersion"].as_str().unwrap_or("2025-11-25"),
                               "capabilities": {"tools": {}}, "serverInfo": {"name": "upstream-fixture", "version": "1"}})
        }
        "ping" => json!({}),
        "tools/call" => {
            let text = message["params"]["arguments"]["message"]
                .as_str()
                .unwrap_or_default();
            json!({"content": [{"type": "text", "text": text}], "isError": false})
        }
        other => {
            return Some(
                json!({"jsonrpc":"2.0","id":id,"error":{"code":-32601,"message":format!("no {other}")}}),
            );
        }
    };
    Some(json!({"jsonrpc":"2.0","id":id,"result":result}))
}

fn sse_body(events: Vec<Value>) -> Response {
    let text: String = events
        .iter()
        .map(|e| format!("event: message\ndata: {e}\n\n"))
        .collect();
    ([(header::CONTENT_TYPE, "text/event-stream")], text).into_response()
}

async fn streamable_post(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    shared.messages.lock().unwrap().push(message.clone());
    let session = headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if message["method"] == "initialize" {
        let id = format!("up-{}", shared.next.fetch_add(1, Ordering::Relaxed));
        shared.sessions.lock().unwrap().insert(id.clone(), ());
        let mut response = axum::Json(answer(&message).unwrap()).into_response();
        response
            .headers_mut()
            .insert("mcp-session-id", id.parse().unwrap());
        return response;
    }
    match &session {
        Some(id) if shared.sessions.lock().unwrap().contains_key(id) => {}
        Some(_) => return StatusCode::NOT_FOUND.into_response(),
        None => return StatusCode::BAD_REQUEST.into_response(),
    }
    if message["params"]["name"] == "expire" {
        shared
            .sessions
            .lock()
            .unwrap()
            .remove(session.as_deref().unwrap());
    }
    if message["params"]["name"] == "progress" {
        let token = message["params"]["_meta"]["progressToken"].clone();
        let progress = (1..=3).map(|i| json!({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":token,"progress":i}}));
        let mut events: Vec<Value> = progress.collect();
        events.push(json!({"jsonrpc":"2.0","id":message["id"],"result":{"content":[{"type":"text","text":"progressed"}]}}));
        return sse_body(events);
    }
    if is_reply(&message) {
        take_reply(&shared, &message);
        return StatusCode::ACCEPTED.into_response();
    }
    if message["method"] == "notifications/cancelled" {
        let call = message["params"]["requestId"].to_string();
        if let Some(waiter) = shared.awaiting_reply.lock().unwrap().remove(&call) {
            let _ = waiter.send(message.clone());
        }
        return StatusCode::ACCEPTED.into_response();
    }
    if message["params"]["name"] == "wait_for_cancel" {
        // Answered as plain JSON, so the response headers wait for the end of the call:
        // its cancellation has to reach us while this POST is still open.
        let (tx, rx) = oneshot::channel();
        shared
            .awaiting_reply
            .lock()
            .unwrap()
            .insert(message["id"].to_string(), tx);
        let text = match tokio::time::timeout(std::time::Duration::from_secs(10), rx).await {
            Ok(Ok(_)) => "cancelled",
            _ => "not cancelled",
        };
        return axum::Json(json!({"jsonrpc":"2.0","id":message["id"],
            "result":{"content":[{"type":"text","text":text}]}}))
        .into_response();
    }
    if message["params"]["name"] == "ask" {
        let (question, answered) = ask(&shared, &message);
        let events = futures::stream::once(async move { question })
            .chain(futures::stream::once(answered))
            .map(|event| {
                Ok::<_, Infallible>(Bytes::from(format!("event: message\ndata: {event}\n\n")))
            });
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            Body::from_stream(events),
        )
            .into_response();
    }
    match answer(&message) {
        Some(reply) => sse_body(vec![reply]),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

async fn streamable_get() -> Response {
    // No server-initiated stream here: the spec's answer for that is 405.
    StatusCode::METHOD_NOT_ALLOWED.into_response()
}

async fn streamable_delete(State(shared): State<Shared>, headers: HeaderMap) -> StatusCode {
    let session = headers
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    shared.sessions.lock().unwrap().remove(session);
    StatusCode::OK
}

async fn sse_open(State(shared): State<Shared>) -> Response {
    let id = format!("sse-{}", shared.next.fetch_add(1, Ordering::Relaxed));
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    shared.sse_sessions.lock().unwrap().insert(id.clone(), tx);
    // A relative endpoint: the client must re-add its query credential itself.
    let endpoint = Bytes::from(format!(
        "event: endpoint\ndata: /messages?sessionId={id}\n\n"
    ));
    let events = futures::stream::once(async move { Ok::<_, Infallible>(endpoint) }).chain(
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
            .map(|message| Ok(Bytes::from(format!("event: message\ndata: {message}\n\n")))),
    );
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::from_stream(events),
    )
        .into_response()
}

async fn sse_message(
    State(shared): State<Shared>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let Some(tx) = query
        .get("sessionId")
        .and_then(|id| shared.sse_sessions.lock().unwrap().get(id).cloned())
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    shared.messages.lock().unwrap().push(message.clone());
    if is_reply(&message) {
        take_reply(&shared, &message);
    } else if message["params"]["name"] == "ask" {
        let (question, answered) = ask(&shared, &message);
        let _ = tx.send(question);
        tokio::spawn(async move {
            let _ = tx.send(answered.await);
        });
    } else if let Some(reply) = answer(&message) {
        let _ = tx.send(reply);
    }
    StatusCode::ACCEPTED.into_response()
}

/// A response or error from the client (to one of our requests), not a request of its own.
fn is_reply(message: &Value) -> bool {
    message.get("method").is_none() && message.get("id").is_some()
}

fn take_reply(shared: &Shared, reply: &Value) {
    let key = reply["id"].to_string();
    if let Some(waiter) = shared.awaiting_reply.lock().unwrap().remove(&key) {
        let _ = waiter.send(reply.clone());
    }
}

/// The `ask` tool: a sampling request for the client, and the call's final answer, which
/// quotes the client's reply (or says that none came within ten seconds).
fn ask(
    shared: &Shared,
    call: &Value,
) -> (
    Value,
    impl std::future::Future<Output = Value> + Send + 'static,
) {
    let request_id = format!("ask-{}", shared.next.fetch_add(1, Ordering::Relaxed));
    let (tx, rx) = oneshot::channel();
    shared
        .awaiting_reply
        .lock()
        .unwrap()
        .insert(json!(request_id).to_string(), tx);
    let question = json!({"jsonrpc": "2.0", "id": request_id, "method": "sampling/createMessage",
        "params": {"messages": [{"role": "user", "content": {"type": "text", "text": call["params"]["arguments"]["question"]}}],
                   "maxTokens": 20}});
    let call_id = call["id"].clone();
    let answered = async move {
        let text = match tokio::time::timeout(std::time::Duration::from_secs(10), rx).await {
            Ok(Ok(reply)) => match reply["result"]["content"]["text"].as_str() {
                Some(text) => format!("the client said: {text}"),
                None => format!("the client answered without text: {reply}"),
            },
            _ => "no reply from the client".to_owned(),
        };
        json!({"jsonrpc": "2.0", "id": call_id, "result": {"content": [{"type": "text", "text": text}]}})
    };
    (question, answered)
}

async fn redirect(State(shared): State<Shared>) -> Response {
    let target = shared
        .redirect_to
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_default();
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)]).into_response()
}
