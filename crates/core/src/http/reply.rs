//! Small constructors for the answers the front door gives on its own.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::mcp::jsonrpc::{self, code};

/// A JSON-RPC error with no id, as the spec allows for transport-level failures.
pub fn rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    json(status, jsonrpc::error_response(None, code, message))
}

pub fn json(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

pub fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

pub fn unknown_session() -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        code::INVALID_REQUEST,
        "Session not found or expired; send initialize to start a new one",
    )
}

pub fn unknown_server(name: &str) -> Response {
    let message = match crate::relay::aggregate::profile_of(name) {
        Some(profile) => format!("No profile named '{profile}'"),
        None => return no_such_server(name),
    };
    rpc_error(StatusCode::NOT_FOUND, code::INVALID_REQUEST, &message)
}

/// 404 for a server name, whatever it looks like.
pub fn no_such_server(name: &str) -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        code::INVALID_REQUEST,
        &format!("No enabled server named '{name}'"),
    )
}

pub async fn not_found() -> Response {
    rpc_error(StatusCode::NOT_FOUND, code::INVALID_REQUEST, "Not found")
}

/// A POST body must say it is JSON (`Content-Type: application/json`, parameters allowed):
/// a missing or other type is 415. An HTML form cannot send that type without a CORS
/// preflight, so this also keeps a web page from posting to the proxy by form (CSRF).
#[allow(clippy::result_large_err)]
pub fn require_json_body(headers: &axum::http::HeaderMap) -> Result<(), Response> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if is_json {
        return Ok(());
    }
    Err(rpc_error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        code::INVALID_REQUEST,
        "Unsupported Media Type: the body must be application/json",
    ))
}
