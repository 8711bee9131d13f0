//! The refusal every layer returns: a code of `reclaim_protocol`'s registry, the status
//! that code names (the registry's one table, `reclaim_protocol::codes`), a sentence, and
//! the fields some refusals add. It lives below the layers, not in `http`, so the recovery
//! layer and the modules it uses (limits, admission, notices) can refuse without
//! depending on HTTP; `http::error` is its one mapping to a response.
//!
//! Nothing secret or biometric goes into a message.

use axum::http::StatusCode;
use reclaim_protocol::wire::error::ResetStatus;
use reclaim_protocol::wire::password::Problem;
use reclaim_protocol::{Code, RecoveryAction};

use crate::store::StoreError;

/// A refusal: a code of the registry, whose status it answers with, and a sentence.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: Code,
    pub message: String,
    pub retry_after_s: Option<i64>,
    /// The fields some refusals add to the body (`reclaim_protocol`'s `ErrorBody`).
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
