//! `POST /v1/sessions/{id}/attestation`: the decision (`crate::recovery::decision`), with
//! every answer but a grant held back to [`REFUSAL_FLOOR`].

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use reclaim_protocol::wire::decision::Decision as Answer;
use reclaim_protocol::wire::evidence::AttestationRequest;

use super::{bearer, client_addr, json, ApiError, Body};
use crate::recovery::decision;
use crate::App;

/// A refusal of the attestation route (any answer but a grant) leaves no sooner than this
/// after the request (its body read) arrived. The handler does the same directory and
/// database lookups for a known and an unknown login (see `attest`), which closes the gap
/// a directory search made (measured against slapd: docs/server.md, "Known and unknown
/// accounts"). What still differs is the writes a refusal makes only for an account that
/// exists (the notice queued for its owner): a few milliseconds, more under load. A floor
/// far above them hides what is left without guessing each write's cost; an honest person
/// would not notice it, and an answer that needs the engine takes longer anyway. A grant
/// is not held back: it takes evidence that passes, so its timing tells nothing a grant
/// does not, and the load figures of approvals stay what they were.
pub const REFUSAL_FLOOR: std::time::Duration = std::time::Duration::from_millis(150);

/// `POST /v1/sessions/{id}/attestation`.
pub async fn attest_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(req): Body<AttestationRequest>,
) -> Result<Response, ApiError> {
    let arrived = tokio::time::Instant::now();
    let answer = match bearer(&headers) {
        Ok(token) => {
            let addr = client_addr(&app, &peer, &headers);
            decision::attest(&app, &id, token, &addr, req).await
        }
        Err(e) => Err(e),
    };
    let granted = matches!(&answer, Ok(Answer::Approved { .. }));
    if !granted {
        tokio::time::sleep_until(arrived + REFUSAL_FLOOR).await;
    }
    Ok(json(StatusCode::OK, &answer?))
}
