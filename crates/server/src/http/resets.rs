//! Resets: `GET /v1/capabilities` (what the app may offer) and `POST /v1/resets`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use reclaim_protocol::wire::resets::{ResetAnswer, ResetRequest};

use super::{json, ApiError, Body};
use crate::recovery::resets;
use crate::App;

/// `GET /v1/capabilities`: what the app may offer. The same for every caller.
pub async fn capabilities_handler(State(app): State<Arc<App>>) -> Response {
    json(StatusCode::OK, &resets::capabilities(&app))
}

/// `POST /v1/resets`: 200 for a reset applied (now or before), 202 for one scheduled.
pub async fn reset_handler(
    State(app): State<Arc<App>>,
    Body(req): Body<ResetRequest>,
) -> Result<Response, ApiError> {
    let answer = resets::reset(&app, req).await?;
    let status = match answer {
        ResetAnswer::Scheduled { .. } => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok(json(status, &answer))
}
