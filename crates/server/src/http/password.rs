//! `POST /v1/password/check`: the app checks a password as it is typed.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use reclaim_protocol::wire::password::PasswordCheckRequest;

use super::{json, ApiError, Body};
use crate::recovery::password;
use crate::App;

pub async fn check_handler(
    State(app): State<Arc<App>>,
    Body(req): Body<PasswordCheckRequest>,
) -> Result<Response, ApiError> {
    let answer = password::check(&app, &req).await?;
    Ok(json(StatusCode::OK, &answer))
}
