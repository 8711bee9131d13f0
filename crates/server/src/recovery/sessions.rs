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

use reclaim_protocol::wire::limits::{MAX_DEVICE_ID_BYTES, MAX_LOGIN_CHARS, MAX_SESSION_ID_BYTES};
use reclaim_protocol::wire::sessions::{
    HandoffClaim, HandoffView, SessionRequest, SessionState, SessionStatus, SessionView, Step,
};
use reclaim_protocol::wire::challenge::{draw, os_random_u32, ChallengeSpec, DrawnChallenge};
use reclaim_protocol::{ChallengeAction, PROTOCOL_VERSION};
use subtle::ConstantTimeEq;

use crate::audit::{self, Entry};
use crate::crypto::{new_id, new_secret, secret_hash};
use crate::error::ApiError;
use crate::store::{self, now, StoreError};
use crate::{devices, limits, App};

pub use crate::store::sessions::Session;

/// What the session's answers carry, with the token only the device that acts holds.
fn view(s: &Session, app: &App, token: &str, login: Option<&str>) -> SessionView {
    SessionView {
        session_id: s.id.clone(),
        session_token: Some(token.to_string()),
        nonce: s.nonce.clone(),
        expires_at: s.expires_at,
        steps: s.steps.clone(),
        challenge: s.challenge.clone(),
        light: s.light.clone(),
        audience: app.config.public_url.clone(),
        action: s.action,
        protocol_version: PROTOCOL_VERSION,
        login: login.map(str::to_string),
    }
}

pub async fn load(app: &App, id: &str) -> Result<Option<Session>, ApiError> {
    if id.len() > MAX_SESSION_ID_BYTES {
        return Ok(None);
    }
    Ok(store::sessions::load(&app.store, id).await?)
}

/// Which token a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The device that acts (the phone after a hand-off).
    Actor,
    /// The first device after a hand-off: may only follow.
    Follower,
}

/// The session `id`, if `token` (the request's bearer secret) is one of its tokens.
/// Unknown session and wrong token answer alike.
pub async fn authorized(app: &App, id: &str, token: &str) -> Result<(Session, Holder), ApiError> {
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

/// A session's challenge under the policy, from the operating system's randomness
/// (`reclaim_protocol::wire::challenge::draw`, the one generator the engine's checks and
/// the evaluation use too). No randomness is an error, never a predictable challenge: a
/// light sequence an attacker could guess would let a prepared video answer it.
pub fn new_challenge(spec: &ChallengeSpec) -> Result<DrawnChallenge, ApiError> {
    draw(spec, &mut os_random_u32).ok_or_else(|| {
        ApiError::new(
            Code::InternalError,
            "no challenge could be drawn (the system's random source failed)",
        )
    })
}

/// The key limits and the biometric lockout use for a login.
pub fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

/// Starts a session (`POST /v1/sessions`) for a request from `addr`.
pub async fn start(app: &App, addr: &str, req: SessionRequest) -> Result<SessionView, ApiError> {
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
    super::resets::require_supported(app, req.action)?;
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
            limits::failed_sessions_wait(&app.store, l, &device.key_id, addr).await?
        {
            return Err(limits::refusal(Code::BiometricLocked, wait, advice));
        }
    }
    let counted = limits::session_keys(l, device.tier, &login_key(login), &device.key_id, addr);
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
    let enrolled = store::templates::exists(&app.store, &template_ref).await?;
    let steps = if enrolled && !app.config.policy.always_require_document {
        vec![Step::Selfie]
    } else {
        vec![Step::Document, Step::Selfie]
    };
    let drawn = new_challenge(&app.config.challenge)?;
    let id = new_id()?;
    let token = new_secret("rs_")?;
    let nonce = new_id()?;
    let t = now();
    let expires_at = t + app.config.policy.session_ttl_s as i64;
    let mut tx = app.store.begin().await?;
    let token_hash = secret_hash(&token);
    store::sessions::insert(
        &mut tx,
        store::sessions::NewSession {
            id: &id,
            token_hash: &token_hash,
            login,
            user_ref: user.as_ref().map(|u| u.id.as_str()),
            action: req.action,
            device_key: &device.key_id,
            nonce: &nonce,
            challenge: &drawn.actions,
            light: drawn.light.as_ref(),
            steps: &steps,
            created_at: t,
            expires_at,
            client_addr: addr,
        },
    )
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
    Ok(SessionView {
        session_id: id,
        session_token: Some(token.to_string()),
        nonce,
        expires_at,
        steps,
        challenge: drawn.actions,
        light: drawn.light,
        audience: app.config.public_url.clone(),
        action: req.action,
        protocol_version: PROTOCOL_VERSION,
        login: None,
    })
}

/// The state a client sees: `open`, `expired`, or the outcome.
pub fn visible_state(s: &Session) -> &str {
    if s.state == "open" && now() >= s.expires_at {
        "expired"
    } else {
        &s.state
    }
}

/// The session's status (`GET /v1/sessions/{id}`): the first device follows it here.
pub async fn status(app: &App, id: &str, token: &str) -> Result<SessionStatus, ApiError> {
    let (s, holder) = authorized(app, id, token).await?;
    let state = SessionState::parse(visible_state(&s))
        .ok_or_else(|| StoreError::Config("invalid state in sessions".into()))?;
    Ok(SessionStatus {
        session_id: s.id.clone(),
        state,
        steps: s.steps.clone(),
        expires_at: s.expires_at,
        handed_off: s.follower_token_hash.is_some(),
        active_device: holder == Holder::Actor,
        decision: match holder {
            Holder::Actor => super::review::collect(app, &s).await?,
            Holder::Follower => None,
        },
    })
}

/// A one-time secret for the phone to take the session over
/// (`POST /v1/sessions/{id}/handoff`).
pub async fn handoff(app: &App, id: &str, token: &str) -> Result<HandoffView, ApiError> {
    let (s, holder) = authorized(app, id, token).await?;
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
    store::sessions::set_handoff(&app.store, &s.id, &secret_hash(&secret), expires_at).await?;
    let qr_payload = format!(
        "reclaim:continue?server={}&session={}&secret={}",
        percent(&app.config.public_url),
        s.id,
        &*secret
    );
    Ok(HandoffView {
        handoff_secret: secret.to_string(),
        expires_at,
        qr_payload,
    })
}

pub(crate) fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The phone, from `addr`, takes over the session with the QR code's secret
/// (`POST /v1/handoff`).
pub async fn claim(app: &App, addr: &str, req: HandoffClaim) -> Result<SessionView, ApiError> {
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
            limits::failed_sessions_wait(&app.store, &app.config.limits, &device.key_id, addr)
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
    let s = load(app, &req.session_id).await?.ok_or_else(denied)?;
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
    let moved = store::sessions::claim(
        &app.store,
        &s.id,
        &hash,
        &secret_hash(&token),
        &device.key_id,
    )
    .await?;
    if !moved {
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
    Ok(view(&s, app, &token, Some(&s.login)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_its_turns_then_center_and_the_light() {
        let spec = ChallengeSpec {
            turns: 3,
            ..ChallengeSpec::default()
        };
        let drawn = new_challenge(&spec).unwrap();
        assert_eq!(drawn.actions.len(), 4);
        assert_eq!(drawn.actions.last(), Some(&ChallengeAction::Center));
        assert!(drawn.actions.windows(2).all(|w| w[0] != w[1]));
        let light = drawn.light.unwrap();
        assert_eq!(light.steps.len(), spec.light_steps);
        light.validate().unwrap();
        // Two draws are different sessions' challenges.
        assert_ne!(Some(light), new_challenge(&spec).unwrap().light);
    }
}
