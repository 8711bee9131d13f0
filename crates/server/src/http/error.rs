//! The one mapping from a refusal ([`ApiError`]) to a response: `{"error": code,
//! "message": sentence}` (`reclaim_protocol`'s `ErrorBody`, with the fields some refusals
//! add) under the status the code names, and `Retry-After` for a 429. Codes are stable and
//! shared with the app.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use reclaim_protocol::wire::error::ErrorBody;

pub use crate::error::ApiError;

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
