//! Small constructors for the answers the front door gives on its own.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::relay::frame::{self, code};

/// A JSON-RPC error with no id, as the spec allows for transport-level failures.
pub fn rpc_error(status: StatusCode, code: i32, message: &str) -> Response {
    json(status, frame::error_response(None, code, message))
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
    rpc_error(
        StatusCode::NOT_FOUND,
        code::INVALID_REQUEST,
        &format!("No enabled server named '{name}'"),
    )
}

pub async fn not_found() -> Response {
    rpc_error(StatusCode::NOT_FOUND, code::INVALID_REQUEST, "Not found")
}
