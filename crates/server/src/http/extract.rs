//! The request extractors and helpers every handler shares: the bounded JSON body
//! ([`Body`]), the bearer secret, the client's address, and the JSON answer.

use std::net::SocketAddr;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reclaim_protocol::Code;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{announced_length, BodyLimit, MAX_BODY_BYTES};
use crate::error::ApiError;
use crate::App;

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

pub(super) fn too_large(limit: usize, addr: &str) -> ApiError {
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
    use axum::http::HeaderValue;

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
