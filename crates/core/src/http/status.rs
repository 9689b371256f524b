//! `GET /status`: whether the proxy runs, and (with the key) what each server is doing.

use axum::extract::State;
use axum::{Extension, Json};
use serde::Serialize;

use super::AppState;
use super::guard::Authenticated;
use crate::relay::ServerStatus;

/// Without the key: status and version only. With it: every server's real state.
#[derive(Serialize)]
pub struct Status {
    pub status: &'static str,
    pub version: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub servers: Option<Vec<ServerStatus>>,
}

pub const AUTH_DISABLED_WARNING: &str =
    "API key checks are turned off: any program on this machine can use every server";

pub async fn status(
    State(state): State<AppState>,
    authenticated: Option<Extension<Authenticated>>,
) -> Json<Status> {
    let auth_off = !state.access.key_required();
    let detailed = authenticated.is_some();
    Json(Status {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        auth: detailed.then_some(if auth_off { "disabled" } else { "required" }),
        warning: auth_off.then_some(AUTH_DISABLED_WARNING),
        servers: detailed.then(|| state.relay.status()),
    })
}
