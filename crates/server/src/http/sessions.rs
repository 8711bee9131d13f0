//! Sessions and their hand-off: `POST /v1/sessions`, `GET /v1/sessions/{id}`,
//! `POST /v1/sessions/{id}/handoff`, `POST /v1/handoff`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use reclaim_protocol::wire::sessions::{HandoffClaim, SessionRequest};

use super::{bearer, client_addr, json, ApiError, Body};
use crate::recovery::sessions;
use crate::App;

/// `POST /v1/sessions`.
pub async fn create_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<SessionRequest>,
) -> Result<Response, ApiError> {
    let addr = client_addr(&app, &peer, &headers);
    let view = sessions::start(&app, &addr, req).await?;
    Ok(json(StatusCode::CREATED, &view))
}

/// `GET /v1/sessions/{id}`: the first device follows the session here.
pub async fn status_handler(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let status = sessions::status(&app, &id, bearer(&headers)?).await?;
    Ok(json(StatusCode::OK, &status))
}

/// `POST /v1/sessions/{id}/handoff`: a one-time secret for the phone.
pub async fn handoff_handler(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = sessions::handoff(&app, &id, bearer(&headers)?).await?;
    Ok(json(StatusCode::OK, &view))
}

/// `POST /v1/handoff`: the phone takes over the session with the QR code's secret.
pub async fn claim_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<HandoffClaim>,
) -> Result<Response, ApiError> {
    let addr = client_addr(&app, &peer, &headers);
    let view = sessions::claim(&app, &addr, req).await?;
    Ok(json(StatusCode::OK, &view))
}
