//! `POST /v1/devices`: an unmanaged device registers its key on first use.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use reclaim_protocol::wire::devices::DeviceRegistration;

use super::{client_addr, json, ApiError, Body};
use crate::recovery::devices::register_self;
use crate::App;

/// `POST /v1/devices`: 201 for a key registered now, 200 for one registered before.
pub async fn register_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<DeviceRegistration>,
) -> Result<Response, ApiError> {
    let addr = client_addr(&app, &peer, &headers);
    let (view, created) = register_self(&app, &addr, req).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, &view))
}
