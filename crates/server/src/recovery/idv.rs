//! The provider's steps, from the push to the ID token. Each takes typed input from the
//! HTTP layer (http/idv.rs) and answers typed output or an [`ApiError`] with OAuth's own
//! error names (`invalid_request`, `invalid_client`, `invalid_grant`).
//!
//! What a refusal says is chosen so it teaches nothing: one sentence for every reason a
//! client's credentials fail, one for every reason a code is refused (unknown, used,
//! expired, another client's, another redirect's, another verifier's); the audit and
//! the log keep which check fired.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reclaim_protocol::wire::sessions::Step;
use reclaim_protocol::{Code, RecoveryAction};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::sessions::{new_challenge, percent, visible_state};
use crate::audit::{self, Entry};
use crate::config::idv::IdvConfig;
use crate::crypto::{eq_ct, new_id, new_secret, secret_hash};
use crate::error::ApiError;
use crate::idv::claims::{self, Verified};
use crate::idv::Provider;
use crate::store::{self, now, StoreError, Tx};
use crate::App;

/// The prefix of every request_uri (RFC 9126, section 2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The longest `claims` parameter kept.
pub const MAX_CLAIMS_BYTES: usize = 4096;

/// The longest `state` and `nonce` kept.
pub const MAX_STATE_BYTES: usize = 512;

/// The scope every request must carry.
pub const REQUIRED_SCOPE: &str = "openid";

/// A form as sent (`application/x-www-form-urlencoded`), in order.
pub type Form = Vec<(String, String)>;

/// How a client said who it is: HTTP Basic (`client_secret_basic`) or the form
/// (`client_secret_post`). Its `Debug` leaves the secret out.
pub struct Credentials {
    pub client_id: String,
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn invalid_request(message: &str) -> ApiError {
    ApiError::new(Code::InvalidRequest, message)
}

fn invalid_client() -> ApiError {
    ApiError::new(Code::InvalidClient, "client authentication failed")
}

fn invalid_grant() -> ApiError {
    ApiError::new(
        Code::InvalidGrant,
        "the code is invalid, expired, used, or was not issued for this request",
    )
}

/// The one value of `name` in `form`; a parameter given twice is refused (RFC 6749,
/// section 3.1), an empty one is absent.
pub fn single<'a>(form: &'a Form, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut found = form.iter().filter(|(k, _)| k == name);
    let first = found.next();
    if found.next().is_some() {
        return Err(invalid_request("a parameter is given more than once"));
    }
    Ok(first.map(|(_, v)| v.as_str()).filter(|v| !v.is_empty()))
}

/// `%XX` and `+` decoded, as in a form (RFC 6749, section 2.3.1, for Basic credentials).
fn form_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The client's credentials from the `Authorization` header's value or the form: exactly
/// one method.
pub fn credentials(authorization: Option<&str>, form: &Form) -> Result<Credentials, ApiError> {
    let form_id = single(form, "client_id")?;
    let form_secret = single(form, "client_secret")?;
    match (authorization, form_secret) {
        (Some(header), None) => {
            let encoded = header
                .strip_prefix("Basic ")
                .or_else(|| header.strip_prefix("basic "))
                .ok_or_else(invalid_client)?;
            let decoded = STANDARD
                .decode(encoded.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .map(Zeroizing::new)
                .ok_or_else(invalid_client)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
            let client_id = form_decoded(id).ok_or_else(invalid_client)?;
            // A client_id in the form as well must be the same one.
            if form_id.is_some_and(|f| f != client_id) {
                return Err(invalid_client());
            }
            Ok(Credentials {
                client_id,
                secret: Zeroizing::new(form_decoded(secret).ok_or_else(invalid_client)?),
            })
        }
        (None, Some(secret)) => Ok(Credentials {
            client_id: form_id.ok_or_else(invalid_client)?.to_string(),
            secret: Zeroizing::new(secret.to_string()),
        }),
        (Some(_), Some(_)) => Err(invalid_request(
            "use one client authentication method, not two",
        )),
        (None, None) => Err(invalid_client()),
    }
}

/// The registered client `creds` authenticate, or `invalid_client`: the same work (one
/// hash, one constant-time comparison) whether the client exists or not.
fn authenticate<'c>(
    config: &'c IdvConfig,
    creds: &Credentials,
) -> Result<&'c crate::config::idv::IdvClient, ApiError> {
    let given = secret_hash(&creds.secret);
    let client = config.client(&creds.client_id);
    let expected = client.map_or("-".repeat(64), |c| {
        c.client_secret_sha256.to_ascii_lowercase()
    });
    if eq_ct(given.as_bytes(), expected.as_bytes()) {
        if let Some(c) = client {
            return Ok(c);
        }
    }
    tracing::warn!(
        client_id_known = client.is_some(),
        "idv: client authentication failed"
    );
    Err(invalid_client())
}

/// A request as pushed: its request_uri and how long it lives.
pub struct Pushed {
    pub request_uri: Zeroizing<String>,
    pub expires_in: u64,
}

fn is_pkce_value(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// `POST {issuer}/par`: a client's authorization request, checked and kept for one use.
pub async fn push(
    app: &App,
    _provider: &Provider,
    creds: &Credentials,
    form: &Form,
) -> Result<Pushed, ApiError> {
    let config = &app.config.idv;
    let client = authenticate(config, creds)?;
    // RFC 9126, section 2.1: a pushed request does not itself name another request.
    if single(form, "request_uri")?.is_some() || single(form, "request")?.is_some() {
        return Err(invalid_request(
            "request and request_uri are not accepted here",
        ));
    }
    if single(form, "response_type")? != Some("code") {
        return Err(invalid_request("response_type must be code"));
    }
    let redirect_uri = single(form, "redirect_uri")?
        .filter(|r| client.redirect_uris.iter().any(|u| u == r))
        .ok_or_else(|| invalid_request("redirect_uri is not one registered for this client"))?;
    let scope = single(form, "scope")?.unwrap_or("");
    if !scope.split(' ').any(|s| s == REQUIRED_SCOPE) {
        return Err(invalid_request("scope must include openid"));
    }
    if single(form, "code_challenge_method")? != Some("S256") {
        return Err(invalid_request("code_challenge_method must be S256"));
    }
    let challenge = single(form, "code_challenge")?
        .filter(|c| c.len() == 43 && is_pkce_value(c))
        .ok_or_else(|| invalid_request("code_challenge must be a S256 challenge"))?;
    if let Some(mode) = single(form, "response_mode")? {
        if mode != "query" {
            return Err(invalid_request("response_mode must be query"));
        }
    }
    let state = single(form, "state")?;
    let nonce = single(form, "nonce")?;
    if state.is_some_and(|s| s.len() > MAX_STATE_BYTES)
        || nonce.is_some_and(|n| n.len() > MAX_STATE_BYTES)
    {
        return Err(invalid_request("state or nonce is too long"));
    }
    let claims = single(form, "claims")?;
    if let Some(c) = claims {
        if c.len() > MAX_CLAIMS_BYTES
            || !serde_json::from_str::<Value>(c).is_ok_and(|v| v.is_object())
        {
            return Err(invalid_request(
                "claims must be a JSON object of at most 4 KiB",
            ));
        }
    }
    let secret = new_secret("")?;
    let request_uri = Zeroizing::new(format!("{REQUEST_URI_PREFIX}{}", &*secret));
    let id = secret_hash(&request_uri);
    let t = now();
    let expires_at = t + config.request_ttl_s as i64;
    let mut tx = app.store.begin().await?;
    store::idv::insert(
        &mut tx,
        &store::idv::NewRequest {
            id: &id,
            client_id: &client.client_id,
            redirect_uri,
            state,
            nonce,
            code_challenge: challenge,
            claims,
            created_at: t,
            expires_at,
        },
    )
    .await?;
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "idv_request_pushed",
            actor: &format!("client:{}", client.client_id),
            subject: &subject_of(&id),
            detail: json!({
                "redirect_uri": redirect_uri,
                "claims_requested": claims::requested(claims),
                "expires_at": expires_at,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Pushed {
        request_uri,
        expires_in: config.request_ttl_s,
    })
}

/// How the audit names a request: its hash's first 16 digits (the hash of a secret the
/// log never holds).
fn subject_of(id: &str) -> String {
    format!("idv:{}", &id[..16.min(id.len())])
}

/// A verification started: what the browser's page shows and keeps.
pub struct Started {
    pub session_id: String,
    /// The QR code's text for the Reclaim app (`reclaim:continue?...`).
    pub handoff: Zeroizing<String>,
    /// The cookie that binds this browser to the request; only it may finish.
    pub browser_secret: Zeroizing<String>,
    pub expires_at: i64,
}

/// The one refusal of the authorization endpoint: an unknown, used, expired or another
/// client's request_uri all read the same.
fn request_invalid() -> ApiError {
    invalid_request("this verification link is unknown, used or expired; go back and start again")
}

/// `GET {issuer}/authorize?client_id&request_uri`: starts the verification-only session
/// bound to the request (its one use), and the hand-off the person continues with.
pub async fn authorize(
    app: &App,
    addr: &str,
    client_id: Option<&str>,
    request_uri: Option<&str>,
) -> Result<Started, ApiError> {
    let (Some(client_id), Some(request_uri)) = (client_id, request_uri) else {
        return Err(request_invalid());
    };
    if request_uri.len() > 256 || !request_uri.starts_with(REQUEST_URI_PREFIX) {
        return Err(request_invalid());
    }
    let id = secret_hash(request_uri);
    let request = store::idv::load(&app.store, &id)
        .await?
        .ok_or_else(request_invalid)?;
    let t = now();
    if request.client_id != client_id || request.session_id.is_some() || t >= request.expires_at {
        tracing::info!(request = %subject_of(&id), "idv: authorization refused");
        return Err(request_invalid());
    }
    let policy = &app.config.policy;
    let session_id = new_id()?;
    // No device holds the session's own token: the browser only follows (by its cookie),
    // and the phone takes the session over with the hand-off secret.
    let token = new_secret("rs_")?;
    let nonce = new_id()?;
    let handoff = new_secret("rh_")?;
    let browser_secret = new_secret("rb_")?;
    let expires_at = t + policy.session_ttl_s as i64;
    let drawn = new_challenge(&app.config.challenge)?;
    // A login of its own per verification: no account is behind it, so neither the
    // lockouts nor the replay check mix one person's verification with another's.
    let login = format!("idv:{session_id}");
    let steps = [Step::Document, Step::Selfie];
    let mut tx = app.store.begin().await?;
    store::sessions::insert(
        &mut tx,
        store::sessions::NewSession {
            id: &session_id,
            token_hash: &secret_hash(&token),
            login: &login,
            user_ref: None,
            action: RecoveryAction::VerifyIdentity,
            device_key: "idv:browser",
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
    // The binding, in the session's own transaction: the request's one use.
    if !store::idv::start(&mut tx, &id, &session_id, &secret_hash(&browser_secret), t).await? {
        tx.rollback().await.map_err(StoreError::from)?;
        return Err(request_invalid());
    }
    audit::append_in(
        &mut tx,
        &app.keys,
        Entry {
            kind: "idv_verification_started",
            actor: &format!("client:{}", request.client_id),
            subject: &format!("session:{session_id}"),
            detail: json!({ "request": subject_of(&id), "address": addr }),
        },
    )
    .await?;
    tx.commit().await?;
    // The hand-off lives as long as the session: the page shows it once.
    store::sessions::set_handoff(&app.store, &session_id, &secret_hash(&handoff), expires_at)
        .await?;
    app.metrics.session_created();
    let payload = format!(
        "reclaim:continue?server={}&session={}&secret={}",
        percent(&app.config.public_url),
        session_id,
        &*handoff
    );
    Ok(Started {
        session_id,
        handoff: Zeroizing::new(payload),
        browser_secret,
        expires_at,
    })
}

/// The request bound to session `session_id`, if `browser` (the cookie's secret) is the
/// one its authorization gave: only that browser may follow it or finish it.
async fn bound(
    app: &App,
    session_id: &str,
    browser: Option<&str>,
) -> Result<store::idv::Request, ApiError> {
    let refused = || invalid_request("this verification is not this browser's");
    let browser = browser.ok_or_else(refused)?;
    if session_id.len() > 64 {
        return Err(refused());
    }
    let mut tx = app.store.begin().await?;
    let request = store::idv::of_session(&mut tx, session_id).await?;
    tx.commit().await?;
    let request = request.ok_or_else(refused)?;
    let expected = request.browser_hash.clone().unwrap_or_default();
    if !eq_ct(secret_hash(browser).as_bytes(), expected.as_bytes()) {
        return Err(refused());
    }
    Ok(request)
}

/// Whether the verification of `session_id` has ended (passed, refused or expired): the
/// page then goes to [`finish`].
pub async fn done(app: &App, session_id: &str, browser: Option<&str>) -> Result<bool, ApiError> {
    bound(app, session_id, browser).await?;
    let session = super::sessions::load(app, session_id)
        .await?
        .ok_or_else(|| invalid_request("no such verification"))?;
    Ok(visible_state(&session) != "open")
}

/// Where [`finish`] sends the browser.
pub enum Finished {
    /// Back to the relying party: with a code, or with `error=access_denied`.
    Redirect { location: String, approved: bool },
    /// The verification is still open.
    Pending,
}

/// `redirect_uri` with `params` added to its query.
fn with_query(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = redirect_uri.to_string();
    let mut sep = if redirect_uri.contains('?') { '&' } else { '?' };
    for (k, v) in params {
        out.push(sep);
        out.push_str(k);
        out.push('=');
        out.push_str(&percent(v));
        sep = '&';
    }
    out
}

/// `GET {issuer}/finish/{session}`: the browser that started the verification goes back
/// to the relying party with a code (the verification passed) or `access_denied`
/// (refused, expired, or anything but a pass).
pub async fn finish(
    app: &App,
    session_id: &str,
    browser: Option<&str>,
) -> Result<Finished, ApiError> {
    let request = bound(app, session_id, browser).await?;
    let session = super::sessions::load(app, session_id)
        .await?
        .ok_or_else(|| invalid_request("no such verification"))?;
    let state = visible_state(&session).to_string();
    if state == "open" {
        return Ok(Finished::Pending);
    }
    if request.code_hash.is_some() {
        return Err(invalid_request(
            "this verification has already been answered",
        ));
    }
    let iss = app.config.idv.issuer().to_string();
    let mut params: Vec<(&str, &str)> = Vec::new();
    let code = new_secret("")?;
    let approved = state == "approved" && request.verified_sealed.is_some();
    if approved {
        let expires_at = now() + app.config.idv.code_ttl_s as i64;
        if !store::idv::set_code(&app.store, &request.id, &secret_hash(&code), expires_at).await? {
            return Err(invalid_request(
                "this verification has already been answered",
            ));
        }
        params.push(("code", &code));
    } else {
        // Answered once: the code's place is taken by a hash nothing hashes to.
        let spent = format!("denied:{}", new_id()?);
        if !store::idv::set_code_denied(&app.store, &request.id, &spent).await? {
            return Err(invalid_request(
                "this verification has already been answered",
            ));
        }
        params.push(("error", "access_denied"));
    }
    if let Some(s) = &request.state {
        params.push(("state", s));
    }
    params.push(("iss", &iss));
    let location = with_query(&request.redirect_uri, &params);
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "idv_authorization_answered",
            actor: "browser",
            subject: &format!("session:{session_id}"),
            detail: json!({
                "request": subject_of(&request.id),
                "outcome": if approved { "code" } else { "access_denied" },
                "session_state": state,
            }),
        },
    )
    .await?;
    Ok(Finished::Redirect { location, approved })
}

/// Keeps a passed verification's facts on the request its session is bound to, in the
/// decision's transaction. A `verify_identity` session bound to no request cannot
/// exist (only [`authorize`] starts one, bound in the same transaction); if one did,
/// the decision fails rather than pass with nowhere to go.
pub async fn keep_verified(
    tx: &mut Tx<'_>,
    app: &App,
    session_id: &str,
    verified: &Verified,
) -> Result<(), ApiError> {
    let text = serde_json::to_vec(verified)
        .map_err(|_| ApiError::new(Code::InternalError, "internal error"))?;
    let sealed = app.keys.seal("idv verified claims", &text)?;
    if !store::idv::verified(tx, session_id, &sealed, verified.verified_at).await? {
        return Err(ApiError::new(
            Code::InternalError,
            "the verification is bound to no request",
        ));
    }
    Ok(())
}

/// The policy's ruling for an identity verification: a review (a person would have to
/// decide while the relying party waits) is a refusal, and an approval with notice and
/// delay is an approval now, since nothing is changed that the delay could undo. A
/// document without a birth date is refused: names alone would let a namesake, verified
/// with their own genuine document, be matched to someone else's account.
pub fn ruling_for_verification(
    mut ruling: crate::policy::Ruling,
    birth_date_read: bool,
) -> crate::policy::Ruling {
    use crate::policy::Conclusion;
    if !birth_date_read && !matches!(ruling.conclusion, Conclusion::Rejected) {
        ruling.conclusion = Conclusion::Review;
    }
    ruling.conclusion = match ruling.conclusion {
        Conclusion::Review => {
            if ruling.reasons.is_empty() {
                ruling.reasons.push(Code::IdentityNotConfirmed);
            }
            Conclusion::Rejected
        }
        Conclusion::Approved { .. } => Conclusion::Approved { delay_s: 0 },
        Conclusion::Rejected => Conclusion::Rejected,
    };
    ruling
}

/// The pairwise subject: the relying party and the person's document identity, under
/// the data key. Stable for one person and relying party, unlinkable across them.
fn subject(app: &App, client_id: &str, v: &Verified) -> String {
    let mut data = Vec::new();
    for part in [
        client_id,
        v.issuer_country.as_deref().unwrap_or(""),
        &claims::as_written(&v.family_name),
        &claims::as_written(&v.given_name),
        v.birthdate.as_deref().unwrap_or(""),
    ] {
        data.extend_from_slice(part.as_bytes());
        data.push(0);
    }
    app.keys.idv_subject(&data)
}

/// `POST {issuer}/token`: a code redeemed, once, by the client it was issued to, with the
/// redirect_uri and the PKCE verifier of its request, for an ID token.
pub async fn token(
    app: &App,
    provider: &Provider,
    creds: &Credentials,
    form: &Form,
) -> Result<Value, ApiError> {
    let config = &app.config.idv;
    let client = authenticate(config, creds)?;
    if single(form, "grant_type")? != Some("authorization_code") {
        return Err(ApiError::new(
            Code::UnsupportedGrantType,
            "grant_type must be authorization_code",
        ));
    }
    let code = single(form, "code")?.ok_or_else(|| invalid_request("code is missing"))?;
    let redirect_uri = single(form, "redirect_uri")?;
    let verifier = single(form, "code_verifier")?.filter(|v| is_pkce_value(v));
    if code.len() > 128 {
        return Err(invalid_grant());
    }
    // Spent before it is checked: a code tried once with a wrong verifier or by another
    // client is gone, so it cannot be guessed at (RFC 6749, section 10.5).
    let request = store::idv::redeem(&app.store, &secret_hash(code)).await?;
    let why = match &request {
        None => Some("unknown_or_used"),
        Some(r) if r.client_id != client.client_id => Some("other_client"),
        Some(r) if Some(r.redirect_uri.as_str()) != redirect_uri => Some("other_redirect_uri"),
        Some(r) if r.code_expires_at.is_none_or(|t| now() >= t) => Some("expired"),
        Some(r) => {
            let computed = verifier.map(|v| URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())));
            match computed {
                Some(c) if eq_ct(c.as_bytes(), r.code_challenge.as_bytes()) => None,
                _ => Some("pkce_mismatch"),
            }
        }
    };
    let (request, session_id) = match (request, why) {
        (Some(r), None) => {
            let sid = r.session_id.clone().unwrap_or_default();
            (r, sid)
        }
        (r, why) => {
            audit::append(
                &app.store,
                &app.keys,
                Entry {
                    kind: "idv_token_refused",
                    actor: &format!("client:{}", client.client_id),
                    subject: &r
                        .as_ref()
                        .map_or_else(|| "idv:unknown".to_string(), |r| subject_of(&r.id)),
                    detail: json!({ "why": why }),
                },
            )
            .await?;
            return Err(invalid_grant());
        }
    };
    let sealed = request
        .verified_sealed
        .as_deref()
        .ok_or_else(invalid_grant)?;
    let verified: Verified = serde_json::from_slice(&app.keys.open("idv verified claims", sealed)?)
        .map_err(|_| ApiError::new(Code::InternalError, "internal error"))?;
    let names = claims::requested(request.claims.as_deref());
    let t = now();
    let sub = subject(app, &client.client_id, &verified);
    let mut id_token = json!({
        "iss": config.issuer(),
        "sub": sub,
        "aud": client.client_id,
        "iat": t,
        "exp": t + config.id_token_ttl_s as i64,
        "auth_time": verified.verified_at,
        "verified_claims": claims::verified_claims(&verified, &names, &config.trust_framework),
    });
    if let Some(n) = &request.nonce {
        id_token["nonce"] = json!(n);
    }
    let signed = provider
        .keys
        .sign(&id_token)
        .map_err(|e| ApiError::new(Code::InternalError, e))?;
    // OAuth 2.0 answers an access token with every code; this one opens nothing (there is
    // no userinfo endpoint), and is kept nowhere.
    let access_token = new_secret("ra_")?;
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "idv_token_issued",
            actor: &format!("client:{}", client.client_id),
            subject: &format!("session:{session_id}"),
            detail: json!({
                "request": subject_of(&request.id),
                "kid": provider.keys.current_kid(),
                "sub": sub,
                "claims": names,
                "reverified": verified.reverified,
            }),
        },
    )
    .await?;
    Ok(json!({
        "access_token": &*access_token,
        "token_type": "Bearer",
        "expires_in": config.id_token_ttl_s,
        "id_token": signed,
    }))
}

/// The discovery document (OpenID Connect Discovery 1.0, with RFC 9126's and OIDC4IDA's
/// fields).
pub fn discovery(config: &IdvConfig) -> Value {
    let issuer = config.issuer();
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "pushed_authorization_request_endpoint": format!("{issuer}/par"),
        "require_pushed_authorization_requests": true,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "profile", "identity_assurance"],
        "claims_supported": ["sub", "given_name", "family_name", "birthdate"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "verified_claims_supported": true,
        "trust_frameworks_supported": [config.trust_framework],
        "evidence_supported": ["document"],
        "documents_supported": claims::DOCUMENT_TYPES,
        "documents_check_methods_supported": ["vpip"],
        "claims_in_verified_claims_supported": claims::CLAIMS,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_one_method_only() {
        let header = format!("Basic {}", STANDARD.encode("okta%3Aprod:s%2Bcret"));
        let c = credentials(Some(&header), &form(&[])).unwrap();
        assert_eq!(c.client_id, "okta:prod");
        assert_eq!(&*c.secret, "s+cret");
        assert!(!format!("{c:?}").contains("cret"));
        let both = credentials(Some(&header), &form(&[("client_secret", "x")]));
        assert_eq!(both.unwrap_err().code, Code::InvalidRequest);
        let other_id = credentials(Some(&header), &form(&[("client_id", "mallory")]));
        assert_eq!(other_id.unwrap_err().code, Code::InvalidClient);
        assert_eq!(
            credentials(None, &form(&[])).unwrap_err().code,
            Code::InvalidClient
        );
    }

    #[test]
    fn a_verification_is_never_left_for_review_nor_delayed() {
        use crate::policy::{AppliedRow, Conclusion, Ruling, Verdict};
        let ruling = |conclusion| Ruling {
            conclusion,
            reasons: Vec::new(),
            row: AppliedRow {
                action: "verify",
                tier: "managed",
                user: "first_time",
                verdict: Verdict::Review,
                configured_row: None,
            },
            refused_by_policy: false,
        };
        let review = ruling_for_verification(ruling(Conclusion::Review), true);
        assert_eq!(review.conclusion, Conclusion::Rejected);
        assert_eq!(review.reasons, vec![Code::IdentityNotConfirmed]);
        let delayed = ruling_for_verification(ruling(Conclusion::Approved { delay_s: 3600 }), true);
        assert_eq!(delayed.conclusion, Conclusion::Approved { delay_s: 0 });
        // No birth date on the document: a namesake could pass; refused.
        let nameonly = ruling_for_verification(ruling(Conclusion::Approved { delay_s: 0 }), false);
        assert_eq!(nameonly.conclusion, Conclusion::Rejected);
        assert_eq!(nameonly.reasons, vec![Code::IdentityNotConfirmed]);
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        let f = form(&[("state", "a"), ("state", "b")]);
        assert_eq!(single(&f, "state").unwrap_err().code, Code::InvalidRequest);
    }

    #[test]
    fn the_answer_adds_to_the_redirect_uri_query() {
        assert_eq!(
            with_query("https://o.example/cb", &[("code", "a b"), ("state", "x&y")]),
            "https://o.example/cb?code=a%20b&state=x%26y"
        );
        assert_eq!(
            with_query("https://o.example/cb?t=1", &[("error", "access_denied")]),
            "https://o.example/cb?t=1&error=access_denied"
        );
    }
}
