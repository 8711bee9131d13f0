//! The HTTP layer: the router, the request guards (size limits, content type, bearer
//! secrets), the extractors ([`extract`]), the one error-to-response mapping ([`error`]),
//! and one thin handler module per resource. A handler parses the request, calls the
//! recovery layer (`crate::recovery`) and maps its answer to a status and body: no SQL,
//! no policy.
//!
//! Body limits are per route ([`guard`]): [`MAX_JSON_BYTES`] for every JSON route, and
//! [`MAX_BODY_BYTES`] only for the attestation, and only once the session's token has
//! been checked and an upload place given (admission.rs). A body announced larger than
//! its route's limit is refused before a byte of it is read; a chunked one is counted and
//! refused as it passes the limit. Until 2026-12 every route buffered up to 48 MiB before
//! anything was checked: forty such bodies took a server to 1.7 GB.
//!
//! Every refusal is `{"error": code, "message": sentence}` (`reclaim_protocol`'s
//! `ErrorBody`) with a 4xx status that says which side is wrong ([`error`]); codes are
//! stable and shared with the app. Nothing secret or biometric is echoed back or logged.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Request};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reclaim_protocol::Code;

use crate::admission;
use crate::recovery::sessions::{Holder, Session};
use crate::App;

pub mod admin;
pub mod attestation;
pub mod devices;
pub mod error;
pub mod extract;
pub mod html;
pub mod idv;
pub mod notices;
pub mod ops;
pub mod password;
pub mod resets;
pub mod sessions;

pub use error::ApiError;
use extract::too_large;
pub use extract::{bearer, client_addr, json, Body};

/// Largest request body: a 12 MP ID photo per side and a few dozen selfie frames, base64.
/// Only the attestation route takes it, after its session token was checked.
pub const MAX_BODY_BYTES: usize = 48 * 1024 * 1024;

/// Largest body of every other route: their JSON is a login, a key, a password, a token.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// The body limit [`guard`] gave a request, for the refusal's sentence.
#[derive(Clone, Copy)]
pub(crate) struct BodyLimit(pub(crate) usize);

/// The public listener's routes; the admin console's under `/admin` too, unless it has a
/// listener of its own (`admin.listen`, [`console_router`]) or no way to sign in.
pub fn router(app: Arc<App>) -> Router {
    let mut routes = Router::new()
        .route("/v1/devices", post(devices::register_handler))
        .route("/v1/capabilities", get(resets::capabilities_handler))
        .route("/v1/sessions", post(sessions::create_handler))
        .route("/v1/sessions/{id}", get(sessions::status_handler))
        .route("/v1/sessions/{id}/handoff", post(sessions::handoff_handler))
        .route("/v1/handoff", post(sessions::claim_handler))
        .route(
            "/v1/sessions/{id}/attestation",
            post(attestation::attest_handler),
        )
        .route("/v1/password/check", post(password::check_handler))
        .route("/v1/resets", post(resets::reset_handler))
        .route(
            "/v1/notices/{token}",
            get(notices::link_page_handler).post(notices::link_confirm_handler),
        )
        .route("/healthz", get(ops::healthz_handler))
        .route("/metrics", get(ops::metrics_handler))
        .route("/openapi.json", get(ops::openapi_handler));
    if app.config.idv.enabled {
        routes = routes.merge(idv::routes(app.config.idv.prefix()));
    }
    if app.config.admin.enabled() && app.config.admin.listen.is_none() {
        routes = routes.nest("/admin", admin::router());
    }
    layered(routes, app)
}

/// The admin console alone, under `/admin`, for its own listener (`admin.listen`).
pub fn console_router(app: Arc<App>) -> Router {
    layered(Router::new().nest("/admin", admin::router()), app)
}

/// The guards every listener's requests pass.
fn layered(routes: Router<Arc<App>>, app: Arc<App>) -> Router {
    routes
        .fallback(|| async { ApiError::new(Code::NotFound, "no such endpoint") })
        // A backstop only: `guard` gives each request its route's limit.
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            count_responses,
        ))
        .with_state(app)
}

/// The session id when `request` is an attestation (`POST /v1/sessions/{id}/attestation`).
fn attestation_session(request: &Request) -> Option<String> {
    if request.method() != axum::http::Method::POST {
        return None;
    }
    request
        .uri()
        .path()
        .strip_prefix("/v1/sessions/")
        .and_then(|rest| rest.strip_suffix("/attestation"))
        .filter(|id| !id.is_empty() && !id.contains('/'))
        .map(str::to_string)
}

pub(crate) fn announced_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Every request: a place among those handled at once, then its route's body limit. The
/// attestation's large limit (and an upload place, counted by its session's device or by
/// address: admission.rs) only after its session token is checked, so a stranger cannot
/// make the server hold 48 MiB.
async fn guard(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let addr = match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => client_addr(&app, peer, request.headers()),
        None => "unknown".to_string(),
    };
    let _request_place = match app.admission.request(&addr) {
        Ok(place) => place,
        Err(e) => return e.into_response(),
    };
    let (limit, _upload_place) = match attestation_session(&request) {
        Some(id) => {
            let authorized = match bearer(request.headers()) {
                Ok(token) => crate::recovery::sessions::authorized(&app, &id, token).await,
                Err(e) => Err(e),
            };
            let authorized = match authorized {
                Ok(authorized) => authorized,
                Err(e) => return e.into_response(),
            };
            // An attestation announced as small as any JSON route's body (a token with no
            // evidence) holds no more memory than one, so it takes no upload place: people
            // behind one address (an office's NAT, a row of kiosks) are not turned away
            // one at a time for it.
            if announced_length(request.headers()).is_some_and(|n| n <= MAX_JSON_BYTES as u64) {
                (MAX_JSON_BYTES, None)
            } else {
                let place = match admission_client(&app, &authorized, &addr).await {
                    Ok(client) => app.admission.upload(&client),
                    Err(e) => Err(e),
                };
                match place {
                    Ok(place) => (MAX_BODY_BYTES, Some(place)),
                    Err(e) => return e.into_response(),
                }
            }
        }
        None => (MAX_JSON_BYTES, None),
    };
    if announced_length(request.headers()).is_some_and(|n| n > limit as u64) {
        return too_large(limit, &addr).into_response();
    }
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(BodyLimit(limit));
    // Counted as it arrives: a chunked body fails as it passes the limit.
    let body = axum::body::Body::new(http_body_util::Limited::new(body, limit));
    // The places are held until the answer: the body, decoded evidence and judgement
    // live that long.
    next.run(Request::from_parts(parts, body)).await
}

/// Who an attestation from `addr` is counted as for its upload place (admission.rs): its
/// session's device, when that device may act and an administrator put it there; anything
/// else (a self-registered key, a hand-off's first device, a revoked key) by address.
async fn admission_client(
    app: &App,
    (session, holder): &(Session, Holder),
    addr: &str,
) -> Result<admission::Client, ApiError> {
    if *holder != Holder::Actor {
        return Ok(admission::Client::Address(addr.to_string()));
    }
    Ok(
        match crate::devices::find(&app.store, &session.device_key).await? {
            Some(d) if d.revoked_at.is_none() => admission::Client::new(d.tier, &d.key_id, addr),
            _ => admission::Client::Address(addr.to_string()),
        },
    )
}

async fn count_responses(
    axum::extract::State(app): axum::extract::State<Arc<App>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    app.metrics.response(response.status().as_u16());
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}
