//! Sessions: the start of a recovery, the QR hand-off to a second device, and the state
//! the first device follows.
//!
//! A session is created for any login, known or not, with the same answer and the same
//! database work, so the API cannot be used to learn which accounts exist. It carries a
//! one-time nonce (the attestation must quote it), a random pose challenge, and a bearer
//! token that only the current device holds. A hand-off moves the session to a second
//! device with a one-time secret (shown as a QR code); the first device keeps a token
//! that can follow the state but not act.

use reclaim_protocol::Code;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use reclaim_protocol::wire::limits::{MAX_DEVICE_ID_BYTES, MAX_LOGIN_CHARS, MAX_SESSION_ID_BYTES};
use reclaim_protocol::wire::sessions::{
    HandoffClaim, HandoffView, SessionRequest, SessionState, SessionStatus, SessionView, Step,
};
use reclaim_protocol::{ChallengeAction, RecoveryAction, PROTOCOL_VERSION};
use sqlx::Row;
use subtle::ConstantTimeEq;

use crate::api::{bearer, client_addr, json, ApiError, Body};
use crate::audit::{self, Entry};
use crate::crypto::{new_id, new_secret, secret_hash};
use crate::store::{now, StoreError};
use crate::{devices, limits, App};

/// The poses a challenge is drawn from. Up and down are left out: with five landmarks
/// the engine cannot read pitch reliably enough (docs/liveness.md).
const TURNS: [ChallengeAction; 2] = [ChallengeAction::Left, ChallengeAction::Right];

/// A session row.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: String,
    pub token_hash: String,
    pub login: String,
    pub user_ref: Option<String>,
    pub action: RecoveryAction,
    pub device_key: String,
    pub nonce: String,
    pub nonce_used: bool,
    pub challenge: Vec<ChallengeAction>,
    pub steps: Vec<Step>,
    pub state: String,
    pub expires_at: i64,
    pub follower_token_hash: Option<String>,
    pub handoff_hash: Option<String>,
    pub handoff_expires_at: Option<i64>,
}

impl Session {
    pub fn needs_document(&self) -> bool {
        self.steps.contains(&Step::Document)
    }

    /// What the session's answers carry, with the token only the device that acts holds.
    fn view(&self, app: &App, token: &str, login: Option<&str>) -> SessionView {
        SessionView {
            session_id: self.id.clone(),
            session_token: Some(token.to_string()),
            nonce: self.nonce.clone(),
            expires_at: self.expires_at,
            steps: self.steps.clone(),
            challenge: self.challenge.clone(),
            audience: app.config.public_url.clone(),
            action: self.action,
            protocol_version: PROTOCOL_VERSION,
            login: login.map(str::to_string),
        }
    }
}

/// The steps as the sessions table keeps them (`document,selfie`).
fn join_steps(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The stored steps and challenge, read back strictly: an entry this build does not know
/// is a broken row, not something to leave out (a challenge shortened in silence would be
/// judged as complete with fewer moves than were drawn).
fn stored_lists(
    steps: &str,
    challenge: &str,
) -> Result<(Vec<Step>, Vec<ChallengeAction>), StoreError> {
    let steps = steps
        .split(',')
        .map(Step::parse)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| StoreError::Config("invalid steps in sessions".into()))?;
    let challenge = ChallengeAction::split(challenge)
        .map_err(|e| StoreError::Config(format!("invalid challenge in sessions: {e}")))?;
    Ok((steps, challenge))
}

pub async fn load(app: &App, id: &str) -> Result<Option<Session>, ApiError> {
    if id.len() > MAX_SESSION_ID_BYTES {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT id, token_hash, login, user_ref, action, device_key, nonce, nonce_used, challenge, steps, state, expires_at, follower_token_hash, handoff_hash, handoff_expires_at FROM sessions WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&app.store.pool)
    .await
    .map_err(crate::store::StoreError::from)?;
    let Some(r) = row else { return Ok(None) };
    let get = |e: sqlx::Error| ApiError::from(crate::store::StoreError::from(e));
    let action: String = r.try_get(4).map_err(get)?;
    let challenge: String = r.try_get(8).map_err(get)?;
    let steps: String = r.try_get(9).map_err(get)?;
    let nonce_used: i64 = r.try_get(7).map_err(get)?;
    let (steps, challenge) = stored_lists(&steps, &challenge)?;
    Ok(Some(Session {
        id: r.try_get(0).map_err(get)?,
        token_hash: r.try_get(1).map_err(get)?,
        login: r.try_get(2).map_err(get)?,
        user_ref: r.try_get(3).map_err(get)?,
        action: RecoveryAction::parse(&action)
            .ok_or_else(|| StoreError::Config("invalid action in sessions".into()))?,
        device_key: r.try_get(5).map_err(get)?,
        nonce: r.try_get(6).map_err(get)?,
        nonce_used: nonce_used != 0,
        challenge,
        steps,
        state: r.try_get(10).map_err(get)?,
        expires_at: r.try_get(11).map_err(get)?,
        follower_token_hash: r.try_get(12).map_err(get)?,
        handoff_hash: r.try_get(13).map_err(get)?,
        handoff_expires_at: r.try_get(14).map_err(get)?,
    }))
}

/// Which token a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The device that acts (the phone after a hand-off).
    Actor,
    /// The first device after a hand-off: may only follow.
    Follower,
}

/// The session named in the path, if the bearer token is one of its tokens. Unknown
/// session and wrong token answer alike.
pub async fn authorized(
    app: &App,
    id: &str,
    headers: &HeaderMap,
) -> Result<(Session, Holder), ApiError> {
    let token = bearer(headers)?;
    let hash = secret_hash(token);
    let denied = || {
        ApiError::new(
            Code::SessionTokenInvalid,
            "the session does not exist or the token is not its token",
        )
    };
    let session = load(app, id).await?.ok_or_else(denied)?;
    if bool::from(session.token_hash.as_bytes().ct_eq(hash.as_bytes())) {
        return Ok((session, Holder::Actor));
    }
    if let Some(f) = &session.follower_token_hash {
        if bool::from(f.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok((session, Holder::Follower));
        }
    }
    Err(denied())
}

fn random_index(n: usize) -> usize {
    let mut b = [0u8; 4];
    // Falling back to 0 only makes the challenge predictable, never invalid; the nonce
    // (which cannot fall back) is what stops replays.
    let _ = getrandom::fill(&mut b);
    (u32::from_le_bytes(b) as usize) % n.max(1)
}

/// `turns` random turns, never the same twice in a row, then `center`.
pub fn new_challenge(turns: usize) -> Vec<ChallengeAction> {
    let mut out: Vec<ChallengeAction> = Vec::new();
    while out.len() < turns {
        let pick = TURNS[random_index(TURNS.len())];
        if out.last() != Some(&pick) {
            out.push(pick);
        }
    }
    out.push(ChallengeAction::Center);
    out
}

/// The key limits and the biometric lockout use for a login.
pub fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

/// `POST /v1/sessions`.
pub async fn create_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<SessionRequest>,
) -> Result<Response, ApiError> {
    let login = req.login.trim();
    if login.is_empty()
        || login.chars().count() > MAX_LOGIN_CHARS
        || login.chars().any(char::is_control)
    {
        return Err(ApiError::new(
            Code::LoginInvalid,
            format!("give a username or email address (at most {MAX_LOGIN_CHARS} characters)"),
        ));
    }
    // Before the login is looked up or anything is counted: the same answer for every login.
    crate::reset::require_supported(&app, req.action)?;
    let addr = client_addr(&app, &peer, &headers);
    let l = &app.config.limits;
    if req.device.is_empty() || req.device.len() > MAX_DEVICE_ID_BYTES {
        return Err(ApiError::new(
            Code::DeviceUnknown,
            "give the device's key id",
        ));
    }
    // The device first (a read): a start naming a key that does not exist is refused
    // without writing anything, and the device's tier decides what counts the start
    // (limits.rs): a self-registered device's failed sessions stop it and its address,
    // and a stranger's starts never use up the quota of the kiosk.
    let device = devices::usable(&app.store, &req.device).await?;
    let advice = limits::Advice::for_tier(device.tier);
    if device.tier == devices::Tier::Unmanaged {
        if let Some((_, wait)) =
            limits::failed_sessions_wait(&app.store, l, &device.key_id, &addr).await?
        {
            return Err(limits::refusal(Code::BiometricLocked, wait, advice));
        }
    }
    let counted = limits::session_keys(l, device.tier, &login_key(login), &device.key_id, &addr);
    if let Err(wait) = limits::hit_all(&app.store, &counted).await? {
        return Err(limits::refusal(Code::RateLimited, wait, advice));
    }

    // The same work for every login: the directory lookup, then a template lookup (for a
    // stand-in reference when the account does not exist).
    let user = match app.directory.find_user(login).await {
        Ok(u) => u,
        Err(e) => {
            app.metrics.directory_error();
            tracing::warn!(code = e.code().as_str(), "directory lookup failed");
            return Err(ApiError::new(
                Code::DirectoryUnavailable,
                "the company directory cannot be reached; try again shortly",
            ));
        }
    };
    let template_ref = user
        .as_ref()
        .map_or_else(|| format!("absent:{}", login_key(login)), |u| u.id.clone());
    let enrolled = sqlx::query("SELECT updated_at FROM templates WHERE user_ref = $1")
        .bind(&template_ref)
        .fetch_optional(&app.store.pool)
        .await
        .map_err(crate::store::StoreError::from)?
        .is_some();
    let steps = if enrolled && !app.config.policy.always_require_document {
        vec![Step::Selfie]
    } else {
        vec![Step::Document, Step::Selfie]
    };
    let challenge = new_challenge(app.config.policy.challenge_turns);
    let id = new_id()?;
    let token = new_secret("rs_")?;
    let nonce = new_id()?;
    let t = now();
    let expires_at = t + app.config.policy.session_ttl_s as i64;
    let mut tx = app.store.writer.begin().await?;
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, login, user_ref, action, device_key, nonce, nonce_used, challenge, steps, state, reasons, created_at, expires_at, client_addr) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, 'open', '', $10, $11, $12)",
    )
    .bind(&id)
    .bind(secret_hash(&token))
    .bind(login)
    .bind(user.as_ref().map(|u| u.id.clone()))
    .bind(req.action.as_str())
    .bind(&device.key_id)
    .bind(&nonce)
    .bind(ChallengeAction::join(&challenge))
    .bind(join_steps(&steps))
    .bind(t)
    .bind(expires_at)
    .bind(&addr)
    .execute(&mut *tx)
    .await?;
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "session_created",
            actor: &format!("device:{}", device.key_id),
            subject: &format!("session:{id}"),
            detail: serde_json::json!({
                "action": req.action.as_str(),
                "known_user": user.is_some(),
                "steps": steps,
                "address": addr,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    app.metrics.session_created();
    Ok(json(
        StatusCode::CREATED,
        &SessionView {
            session_id: id,
            session_token: Some(token.to_string()),
            nonce,
            expires_at,
            steps,
            challenge,
            audience: app.config.public_url.clone(),
            action: req.action,
            protocol_version: PROTOCOL_VERSION,
            login: None,
        },
    ))
}

/// The state a client sees: `open`, `expired`, or the outcome.
pub fn visible_state(s: &Session) -> &str {
    if s.state == "open" && now() >= s.expires_at {
        "expired"
    } else {
        &s.state
    }
}

/// `GET /v1/sessions/{id}`: the first device follows the session here.
pub async fn status_handler(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (s, holder) = authorized(&app, &id, &headers).await?;
    let state = SessionState::parse(visible_state(&s))
        .ok_or_else(|| StoreError::Config("invalid state in sessions".into()))?;
    Ok(json(
        StatusCode::OK,
        &SessionStatus {
            session_id: s.id.clone(),
            state,
            steps: s.steps.clone(),
            expires_at: s.expires_at,
            handed_off: s.follower_token_hash.is_some(),
            active_device: holder == Holder::Actor,
        },
    ))
}

/// `POST /v1/sessions/{id}/handoff`: a one-time secret for the phone.
pub async fn handoff_handler(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (s, holder) = authorized(&app, &id, &headers).await?;
    if holder != Holder::Actor || s.follower_token_hash.is_some() {
        return Err(ApiError::new(
            Code::HandoffNotAllowed,
            "this session has already been handed off",
        ));
    }
    if visible_state(&s) != "open" || s.nonce_used {
        return Err(ApiError::new(
            Code::SessionClosed,
            "the session is no longer open",
        ));
    }
    let secret = new_secret("rh_")?;
    let expires_at = (now() + app.config.policy.handoff_ttl_s as i64).min(s.expires_at);
    sqlx::query("UPDATE sessions SET handoff_hash = $1, handoff_expires_at = $2 WHERE id = $3")
        .bind(secret_hash(&secret))
        .bind(expires_at)
        .bind(&s.id)
        .execute(&app.store.writer)
        .await
        .map_err(crate::store::StoreError::from)?;
    let qr_payload = format!(
        "reclaim:continue?server={}&session={}&secret={}",
        percent(&app.config.public_url),
        s.id,
        &*secret
    );
    Ok(json(
        StatusCode::OK,
        &HandoffView {
            handoff_secret: secret.to_string(),
            expires_at,
            qr_payload,
        },
    ))
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `POST /v1/handoff`: the phone takes over the session with the QR code's secret.
pub async fn claim_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(req): Body<HandoffClaim>,
) -> Result<Response, ApiError> {
    let addr = client_addr(&app, &peer, &headers);
    if let Err(wait) = limits::hit(
        &app.store,
        &format!("addr:{addr}"),
        60,
        app.config.limits.sessions_per_address_per_minute,
    )
    .await?
    {
        return Err(limits::refusal(
            Code::RateLimited,
            wait,
            limits::Advice::OtherChannel,
        ));
    }
    let device = devices::usable(&app.store, &req.device).await?;
    // A self-registered phone locked by its failed sessions (or its address's) cannot take
    // a session over either.
    if device.tier == devices::Tier::Unmanaged {
        if let Some((_, wait)) =
            limits::failed_sessions_wait(&app.store, &app.config.limits, &device.key_id, &addr)
                .await?
        {
            return Err(limits::refusal(
                Code::BiometricLocked,
                wait,
                limits::Advice::OtherChannel,
            ));
        }
    }
    let denied = || {
        ApiError::new(
            Code::HandoffInvalid,
            "the hand-off code is unknown, used or expired; show a new QR code",
        )
    };
    let s = load(&app, &req.session_id).await?.ok_or_else(denied)?;
    let hash = secret_hash(&req.secret);
    let matches = s
        .handoff_hash
        .as_deref()
        .is_some_and(|h| bool::from(h.as_bytes().ct_eq(hash.as_bytes())));
    let fresh = s.handoff_expires_at.is_some_and(|t| now() < t);
    if !matches || !fresh || visible_state(&s) != "open" || s.nonce_used {
        return Err(denied());
    }
    let token = new_secret("rs_")?;
    // Single use: only the request that still sees this secret's hash takes the session.
    let moved = sqlx::query(
        "UPDATE sessions SET follower_token_hash = token_hash, token_hash = $1, device_key = $2, handoff_hash = NULL \
         WHERE id = $3 AND handoff_hash = $4 AND state = 'open' AND nonce_used = 0",
    )
    .bind(secret_hash(&token))
    .bind(&device.key_id)
    .bind(&s.id)
    .bind(&hash)
    .execute(&app.store.writer)
    .await
    .map_err(crate::store::StoreError::from)?
    .rows_affected();
    if moved != 1 {
        return Err(denied());
    }
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "session_handed_off",
            actor: &format!("device:{}", device.key_id),
            subject: &format!("session:{}", s.id),
            detail: serde_json::json!({ "from_device": s.device_key, "address": addr }),
        },
    )
    .await?;
    Ok(json(StatusCode::OK, &s.view(&app, &token, Some(&s.login))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_lists_read_back_as_written() {
        let challenge = new_challenge(3);
        assert_eq!(challenge.len(), 4);
        assert_eq!(challenge.last(), Some(&ChallengeAction::Center));
        let steps = vec![Step::Document, Step::Selfie];
        let (s, c) = stored_lists(&join_steps(&steps), &ChallengeAction::join(&challenge)).unwrap();
        assert_eq!((s, c), (steps, challenge));
    }

    #[test]
    fn a_stored_entry_this_build_does_not_know_is_an_error() {
        // Until 2026-12 the unknown entry was dropped when the challenge was judged, so
        // `left,sideways,center` asked for three moves and was judged as two.
        assert!(stored_lists("selfie", "left,sideways,center").is_err());
        assert!(stored_lists("selfie", "left,,center").is_err());
        assert!(stored_lists("fingerprint,selfie", "left,center").is_err());
        assert!(stored_lists("selfie", "right,center").is_ok());
    }
}
