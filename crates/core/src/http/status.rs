//! `GET /status`: whether the proxy runs, and what each server is doing.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use crate::relay::ServerStatus;

#[derive(Serialize)]
pub struct Status {
    pub status: &'static str,
    pub version: &'static str,
    pub servers: Vec<ServerStatus>,
}

pub async fn status(State(state): State<AppState>) -> Json<Status> {
    Json(Status {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        servers: state.relay.status(),
    })
}
