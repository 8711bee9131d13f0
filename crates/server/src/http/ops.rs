//! The operator's routes: `GET /healthz`, `GET /metrics`, `GET /openapi.json`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::App;

/// The API's description, as served.
pub const OPENAPI: &str = include_str!("../../openapi.json");

pub async fn openapi_handler() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

pub async fn metrics_handler(State(app): State<Arc<App>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// `/healthz`: 200 when the database and the directory answer, 503 otherwise, with which.
pub async fn healthz_handler(State(app): State<Arc<App>>) -> Response {
    let database = app.store.ping().await.is_ok();
    let directory = app.directory.health().await.is_ok();
    let status = if database && directory {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(serde_json::json!({
            "status": if status == StatusCode::OK { "ok" } else { "degraded" },
            "database": if database { "ok" } else { "unavailable" },
            "directory": if directory { "ok" } else { "unavailable" },
            "directory_kind": app.directory.kind(),
            "reverification": app.engines.is_some(),
            "version": env!("CARGO_PKG_VERSION"),
        })),
    )
        .into_response()
}
