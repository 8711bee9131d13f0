//! The HTTP API: routes, the error shape every route shares, and the request guards
//! (size limits, content type, bearer secrets).
//!
//! Body limits are per route ([`guard`]): [`MAX_JSON_BYTES`] for every JSON route, and
//! [`MAX_BODY_BYTES`] only for the attestation, and only once the session's token has
//! been checked and an upload place given (admission.rs). A body announced larger than
//! its route's limit is refused before a byte of it is read; a chunked one is counted and
//! refused as it passes the limit. Until 2026-12 every route buffered up to 48 MiB before
//! anything was checked: forty such bodies took a server to 1.7 GB.
//!
//! Every refusal is `{"error": code, "message": sentence}` (`reclaim_protocol`'s
//! `ErrorBody`) with a 4xx status that says which side is wrong; codes are stable and shared with the app. Nothing secret or
//! biometric is echoed back or logged.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use reclaim_protocol::wire::error::{ErrorBody, ResetStatus};
use reclaim_protocol::wire::password::Problem;
use reclaim_protocol::RecoveryAction;
use serde::de::DeserializeOwned;
use serde::Serialize;

use reclaim_protocol::Code;

use crate::store::StoreError;
use crate::App;

/// Largest request body: a 12 MP ID photo per side and a few dozen selfie frames, base64.
/// Only the attestation route takes it, after its session token was checked.
pub const MAX_BODY_BYTES: usize = 48 * 1024 * 1024;

/// Largest body of every other route: their JSON is a login, a key, a password, a token.
pub const MAX_JSON_BYTES: usize = 16 * 1024;

/// The body limit [`guard`] gave a request, for the refusal's sentence.
#[derive(Clone, Copy)]
struct BodyLimit(usize);

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/v1/devices", post(crate::devices::register_handler))
        .route("/v1/capabilities", get(crate::reset::capabilities_handler))
        .route("/v1/sessions", post(crate::sessions::create_handler))
        .route("/v1/sessions/{id}", get(crate::sessions::status_handler))
        .route(
            "/v1/sessions/{id}/handoff",
            post(crate::sessions::handoff_handler),
        )
        .route("/v1/handoff", post(crate::sessions::claim_handler))
        .route(
            "/v1/sessions/{id}/attestation",
            post(crate::decision::attest_handler),
        )
        .route("/v1/password/check", post(crate::reset::check_handler))
        .route("/v1/resets", post(crate::reset::reset_handler))
        .route(
            "/v1/notices/{token}",
            get(crate::notify::link_page_handler).post(crate::notify::link_confirm_handler),
        )
        .route("/healthz", get(crate::metrics::healthz_handler))
        .route("/metrics", get(crate::metrics::metrics_handler))
        .route("/openapi.json", get(openapi_handler))
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

fn announced_length(headers: &HeaderMap) -> Option<u64> {
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
            let authorized = match crate::sessions::authorized(&app, &id, request.headers()).await {
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
    (session, holder): &(crate::sessions::Session, crate::sessions::Holder),
    addr: &str,
) -> Result<crate::admission::Client, ApiError> {
    if *holder != crate::sessions::Holder::Actor {
        return Ok(crate::admission::Client::Address(addr.to_string()));
    }
    Ok(
        match crate::devices::find(&app.store, &session.device_key).await? {
            Some(d) if d.revoked_at.is_none() => {
                crate::admission::Client::new(d.tier, &d.key_id, addr)
            }
            _ => crate::admission::Client::Address(addr.to_string()),
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

pub const OPENAPI: &str = include_str!("../openapi.json");

async fn openapi_handler() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// A refusal: a code of the registry, whose status it answers with, and a sentence.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub retry_after_s: Option<i64>,
    /// The fields some refusals add to the body ([`ErrorBody`]).
    pub problems: Option<Vec<Problem>>,
    pub reset_status: Option<ResetStatus>,
    pub supported_actions: Option<Vec<RecoveryAction>>,
}

impl ApiError {
    /// A refusal with `code`'s status (the registry's one table, `reclaim_protocol::codes`).
    /// A code that names no status is the server's own fault if it gets here: 500.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        let status = code
            .status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_s: None,
            problems: None,
            reset_status: None,
            supported_actions: None,
        }
    }

    /// The same refusal with the status of the situation rather than the code's: a reset
    /// that ended failed is a 409 (the grant is spent) whatever the directory's failure was.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// A 429. Logged: a run of them is what guessing or flooding looks like to an operator.
    pub fn too_many(code: Code, retry_after_s: i64) -> ApiError {
        tracing::warn!(
            code = code.as_str(),
            retry_after_s,
            "request refused: limit reached"
        );
        ApiError {
            retry_after_s: Some(retry_after_s),
            ..ApiError::new(
                code,
                format!("too many attempts; try again in {retry_after_s} s"),
            )
        }
    }

    /// A refused password, with what is wrong with it.
    pub fn with_problems(mut self, problems: Vec<Problem>) -> ApiError {
        self.problems = Some(problems);
        self
    }

    /// A reset not applied now: whether it still will be.
    pub fn with_reset_status(mut self, status: ResetStatus) -> ApiError {
        self.reset_status = Some(status);
        self
    }

    /// An action the directory cannot perform, with those it can.
    pub fn with_supported_actions(mut self, actions: Vec<RecoveryAction>) -> ApiError {
        self.supported_actions = Some(actions);
        self
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        tracing::error!(error = %e, "database error");
        ApiError::new(
            e.code(),
            "the service's database is unavailable; try again shortly",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> ApiError {
        StoreError::from(e).into()
    }
}

impl From<crate::crypto::CryptoError> for ApiError {
    fn from(e: crate::crypto::CryptoError) -> ApiError {
        tracing::error!(error = %e, "crypto error");
        ApiError::new(Code::InternalError, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_string(),
            message: self.message,
            problems: self.problems,
            status: self.reset_status,
            supported_actions: self.supported_actions,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

/// A JSON body whose every failure is one of our errors.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // `guard` refused bodies announced larger than the route's limit and counts the
        // rest; this is for a router without it.
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(MAX_BODY_BYTES, |l| l.0);
        if announced_length(req.headers()).is_some_and(|n| n > limit as u64) {
            return Err(too_large(limit, "-"));
        }
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    Code::ContentTypeUnsupported,
                    "send the request as application/json",
                ),
                JsonRejection::JsonSyntaxError(_) => {
                    ApiError::new(Code::RequestMalformed, "the body is not valid JSON")
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::new(Code::RequestInvalid, short(&e.body_text()))
                }
                JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                    too_large(limit, "-")
                }
                JsonRejection::BytesRejection(e) if timed_out(&e) => {
                    ApiError::new(Code::RequestTimeout, "the body arrived too slowly")
                }
                other => ApiError::new(Code::RequestUnreadable, short(&other.body_text()))
                    .with_status(other.status()),
            }),
        }
    }
}

fn too_large(limit: usize, addr: &str) -> ApiError {
    tracing::warn!(peer = addr, limit, "request body too large; refused");
    ApiError::new(
        Code::RequestTooLarge,
        format!("the body is larger than {limit} bytes"),
    )
}

/// Whether reading the body failed on the transport's body timeout.
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.is::<crate::transport::BodyTimeout>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Error texts from the JSON parser can quote input; keep them short.
fn short(text: &str) -> String {
    text.chars().take(200).collect()
}

/// The bearer secret of a request.
pub fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 128)
        .ok_or_else(|| {
            ApiError::new(
                Code::SessionTokenMissing,
                "send the session token as `Authorization: Bearer ...`",
            )
        })
}

/// The client's address, for per-address limits. Behind a proxy (`trust_forwarded_for`)
/// it is the last address in `X-Forwarded-For`, the one the proxy itself appended:
/// addresses before it are whatever the client claimed.
pub fn client_addr(app: &App, peer: &SocketAddr, headers: &HeaderMap) -> String {
    if app.config.trust_forwarded_for {
        if let Some(ip) = forwarded_for(headers) {
            return ip.to_string();
        }
    }
    peer.ip().to_string()
}

/// The last address of all `X-Forwarded-For` headers, if it is one.
fn forwarded_for(headers: &HeaderMap) -> Option<std::net::IpAddr> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .rfind(|a| !a.is_empty())
        .and_then(|a| a.parse().ok())
}

pub fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, axum::Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_proxy_appended_address_is_taken_not_the_clients_claim() {
        // The client sent "1.1.1.1"; the proxy appended the address it saw.
        let h = headers(&["1.1.1.1, 203.0.113.9"]);
        assert_eq!(forwarded_for(&h), Some("203.0.113.9".parse().unwrap()));
        let h = headers(&["1.1.1.1", "2001:db8::7"]);
        assert_eq!(forwarded_for(&h), Some("2001:db8::7".parse().unwrap()));
        assert_eq!(forwarded_for(&headers(&["not an address"])), None);
        assert_eq!(
            forwarded_for(&headers(&["1.1.1.1, "])),
            Some("1.1.1.1".parse().unwrap())
        );
        assert_eq!(forwarded_for(&HeaderMap::new()), None);
    }
}
