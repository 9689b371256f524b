//! A remote MCP server that accepts only OAuth, with its own authorization server, on one
//! loopback port: the fixture of the sign-in tests (black-box, CLI, desktop e2e).
//!
//! - `/mcp`: Streamable HTTP (JSON answers). Without a valid access token: 401 with
//!   `WWW-Authenticate: Bearer resource_metadata=…, scope="mcp:tools"`. Tools: `echo`
//!   (returns `message`) and `whoami` (the signed-in account).
//! - `/.well-known/oauth-protected-resource/mcp`: the resource metadata (RFC 9728).
//! - `/.well-known/oauth-authorization-server/as`: the metadata of the issuer `<base>/as`
//!   (RFC 8414): PKCE S256, RFC 9207 `iss`, dynamic registration, revocation.
//! - `/as/register`, `/as/authorize` (no login page: approves at once as
//!   `ada@example.com`, as a person clicking "Allow" would, and redirects with `code`,
//!   `state`, `iss`), `/as/token` (authorization code with PKCE and the registered redirect
//!   URI checked; refresh with rotation), `/as/revoke`.
//! - Test controls, not part of OAuth: `POST /admin/revoke-all` (every token refused from
//!   now on, as when a person revokes the app), `POST /admin/expire-access` (every access
//!   token expires now), `GET /admin/stats` (requests counted by kind, every
//!   `Authorization` header the MCP endpoint saw that was not ours, and every token, code
//!   and client ID it handed out).
//!
//! Usage: `oauth-fixture [--port P] [--access-ttl SECONDS]`; prints `listening on <base>`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ACCOUNT: &str = "ada@example.com";
const SCOPE: &str = "mcp:tools";

#[derive(Default)]
struct Fixture {
    base: String,
    access_ttl: u64,
    clients: HashMap<String, Vec<String>>,
    /// code → (client_id, redirect_uri, code_challenge, resource, scope)
    codes: HashMap<String, (String, String, String, String, String)>,
    /// access token → expiry (unix seconds)
    access: HashMap<String, u64>,
    refresh: HashSet<String>,
    stats: HashMap<String, u64>,
    foreign_authorization: Vec<String>,
    /// Every token, code and client ID handed out, for the leak tests to look for.
    issued: Vec<String>,
    next: u64,
}

type Shared = Arc<Mutex<Fixture>>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Fixture {
    fn token(&mut self, prefix: &str) -> String {
        self.next += 1;
        let mut random = [0u8; 16];
        getrandom(&mut random);
        let token = format!(
            "{prefix}-{}-{}",
            self.next,
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random)
        );
        self.issued.push(token.clone());
        token
    }

    fn count(&mut self, what: &str) {
        *self.stats.entry(what.to_owned()).or_default() += 1;
    }

    fn issuer(&self) -> String {
        format!("{}/as", self.base)
    }

    fn resource(&self) -> String {
        format!("{}/mcp", self.base)
    }

    fn tokens(&mut self) -> Value {
        let access = self.token("at");
        let refresh = self.token("rt");
        self.access.insert(access.clone(), now() + self.access_ttl);
        self.refresh.insert(refresh.clone());
        // An ID token says who signed in (unsigned: the client only shows it).
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let id_token = format!(
            "{}.{}.",
            b64(json!({"alg": "none", "typ": "JWT"})),
            b64(json!({"iss": self.issuer(), "sub": "ada", "email": ACCOUNT}))
        );
        json!({
            "id_token": id_token,
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_ttl,
            "refresh_token": refresh,
            "scope": format!("{SCOPE} offline_access"),
        })
    }
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("/dev/urandom");
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn main() {
    let mut port = 0u16;
    let mut access_ttl = 3600u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().and_then(|p| p.parse().ok()).expect("--port P"),
            "--access-ttl" => {
                access_ttl = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("--access-ttl SECONDS")
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state: Shared = Arc::new(Mutex::new(Fixture {
            base: base.clone(),
            access_ttl,
            ..Fixture::default()
        }));
        let app = Router::new()
            .route(
                "/mcp",
                post(mcp)
                    .get(|| async { StatusCode::METHOD_NOT_ALLOWED })
                    .delete(|| async { StatusCode::OK }),
            )
            .route(
                "/.well-known/oauth-protected-resource/mcp",
                get(resource_metadata),
            )
            .route(
                "/.well-known/oauth-authorization-server/as",
                get(server_metadata),
            )
            .route("/as/register", post(register))
            .route("/as/authorize", get(authorize))
            .route("/as/token", post(token))
            .route("/as/revoke", post(revoke))
            .route("/admin/revoke-all", post(revoke_all))
            .route("/admin/expire-access", post(expire_access))
            .route("/admin/stats", get(stats))
            .with_state(state);
        println!("listening on {base}");
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn resource_metadata(State(state): State<Shared>) -> Response {
    let state = state.lock().expect("lock");
    axum::Json(json!({
        "resource": state.resource(),
        "authorization_servers": [state.issuer()],
        "scopes_supported": [SCOPE],
    }))
    .into_response()
}

async fn server_metadata(State(state): State<Shared>) -> Response {
    let state = state.lock().expect("lock");
    let issuer = state.issuer();
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "registration_endpoint": format!("{issuer}/register"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": [SCOPE, "offline_access"],
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}

async fn register(State(state): State<Shared>, axum::Json(body): axum::Json<Value>) -> Response {
    let mut state = state.lock().expect("lock");
    state.count("register");
    let redirect_uris: Vec<String> = body["redirect_uris"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if redirect_uris.is_empty() || body["application_type"] != "native" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client_metadata",
            "redirect_uris and application_type native are required",
        );
    }
    let client_id = state.token("client");
    state
        .clients
        .insert(client_id.clone(), redirect_uris.clone());
    (
        StatusCode::CREATED,
        axum::Json(json!({
            "client_id": client_id,
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": "none",
        })),
    )
        .into_response()
}

async fn authorize(
    State(state): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("lock");
    state.count("authorize");
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let client_id = get("client_id");
    let redirect_uri = get("redirect_uri");
    let registered = state
        .clients
        .get(&client_id)
        .is_some_and(|uris| uris.contains(&redirect_uri));
    if !registered {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect_uri").into_response();
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
        || get("resource") != state.resource()
        || get("state").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "bad authorization request").into_response();
    }
    let code = state.token("code");
    let entry = (
        client_id,
        redirect_uri.clone(),
        get("code_challenge"),
        get("resource"),
        get("scope"),
    );
    state.codes.insert(code.clone(), entry);
    let mut location = url::Url::parse(&redirect_uri).expect("a registered URI");
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"))
        .append_pair("iss", &state.issuer());
    (
        StatusCode::FOUND,
        [(header::LOCATION, location.to_string())],
    )
        .into_response()
}

async fn token(State(state): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut state = state.lock().expect("lock");
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    match get("grant_type").as_str() {
        "authorization_code" => {
            state.count("token_code");
            let Some((client_id, redirect_uri, challenge, resource, _scope)) =
                state.codes.remove(&get("code"))
            else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown code");
            };
            let verifier_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(Sha256::digest(get("code_verifier").as_bytes()));
            if client_id != get("client_id")
                || redirect_uri != get("redirect_uri")
                || verifier_hash != challenge
                || resource != get("resource")
            {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the code does not match",
                );
            }
            axum::Json(state.tokens()).into_response()
        }
        "refresh_token" => {
            state.count("token_refresh");
            let refresh = get("refresh_token");
            if !state.refresh.remove(&refresh) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is revoked",
                );
            }
            axum::Json(state.tokens()).into_response()
        }
        _ => oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "no"),
    }
}

async fn revoke(
    State(state): State<Shared>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut state = state.lock().expect("lock");
    state.count("revoke");
    if let Some(token) = form.get("token") {
        state.refresh.remove(token);
        state.access.remove(token);
    }
    StatusCode::OK.into_response()
}

async fn revoke_all(State(state): State<Shared>) -> Response {
    let mut state = state.lock().expect("lock");
    state.refresh.clear();
    state.access.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn expire_access(State(state): State<Shared>) -> Response {
    let mut state = state.lock().expect("lock");
    for expiry in state.access.values_mut() {
        *expiry = 0;
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn stats(State(state): State<Shared>) -> Response {
    let state = state.lock().expect("lock");
    axum::Json(json!({
        "counts": state.stats,
        "foreignAuthorization": state.foreign_authorization,
        "issued": state.issued,
    }))
    .into_response()
}

async fn mcp(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut state = state.lock().expect("lock");
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let token = presented.as_deref().and_then(|v| v.strip_prefix("Bearer "));
    let valid = token.is_some_and(|t| state.access.get(t).is_some_and(|exp| *exp > now()));
    if !valid {
        state.count("mcp_rejected");
        if let Some(value) = &presented
            && !value.starts_with("Bearer at-")
        {
            // Not a token this server issued: what a proxy must never pass through.
            state.foreign_authorization.push(value.clone());
        }
        let challenge = format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\", scope=\"{SCOPE}\"{}",
            state.base,
            if token.is_some() {
                ", error=\"invalid_token\""
            } else {
                ""
            }
        );
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, challenge)],
            axum::Json(json!({"error": "invalid_token"})),
        )
            .into_response();
    }
    state.count("mcp");
    let Ok(message) = serde_json::from_str::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let Some(id) = message.get("id").cloned() else {
        return StatusCode::ACCEPTED.into_response();
    };
    let result = match message["method"].as_str().unwrap_or_default() {
        "initialize" => json!({
            "protocolVersion": message["params"]["protocolVersion"].as_str().unwrap_or("2025-11-25"),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "oauth-fixture", "version": "1"},
        }),
        "tools/list" => json!({"tools": [
            {"name": "echo", "description": "Echoes message", "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}},
            {"name": "whoami", "description": "The signed-in account", "inputSchema": {"type": "object"}},
        ]}),
        "tools/call" => {
            let text = match message["params"]["name"].as_str() {
                Some("echo") => message["params"]["arguments"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                Some("whoami") => ACCOUNT.to_owned(),
                _ => "unknown tool".to_owned(),
            };
            json!({"content": [{"type": "text", "text": text}]})
        }
        "ping" => json!({}),
        other => {
            return axum::Json(json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": format!("no method {other}")}}))
                .into_response();
        }
    };
    let mut response =
        axum::Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response();
    if message["method"] == "initialize" {
        response.headers_mut().insert(
            "mcp-session-id",
            "fixture-session".parse().expect("a header"),
        );
    }
    response
}
