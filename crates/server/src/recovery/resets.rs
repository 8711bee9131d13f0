//! The reset, applied exactly once.
//!
//! A grant moves `issued` → `pending` → `completed` by conditional updates, so only one
//! request can move it. While pending, the new password is kept sealed (the server's key)
//! so the reset can be finished without the client: after a crash, a directory outage or
//! a timeout, whoever resumes it (a retry with the same grant, or the background worker
//! of any instance) first asks the directory whether the password already took effect and
//! applies it only if not. A lease in the row keeps two workers off one reset. A refusal
//! by the directory's own policy puts the grant back to `issued`, so the user can pick
//! another password with it until it expires. The sealed password is erased on completion.
//! A change approved with notice and delay waits, pending, with its due time as its lease,
//! so the background worker applies it then; the notice's "this wasn't me" link cancels it
//! before ([`cancel_for_account`]).
//!
//! A directory answer no retry can cure (the action is unsupported, the account is gone,
//! the service account may not make the change, the connector is misconfigured) ends the
//! grant and its session as `failed`, with the code the person is shown and an audit
//! entry; it is never retried. An unreachable or slow directory is retried, each time a
//! little later (2 s, doubling to at most 5 minutes), and given up after
//! [`MAX_DIRECTORY_FAILURES`] failures in a row (about a day).

use reclaim_protocol::Code;
use std::time::Duration;

use reclaim_directory::{DirectoryError, DirectoryUser, SignInCode};
use reclaim_protocol::password::MAX_PASSWORD_INPUT_CHARS;
use reclaim_protocol::wire::error::ResetStatus;
use reclaim_protocol::wire::password::Problem;
use reclaim_protocol::wire::resets::{
    Capabilities, PasswordInput, ResetAnswer, ResetRequest, SignInCode as WireSignInCode,
};
use reclaim_protocol::RecoveryAction;
use zeroize::Zeroizing;

use super::password::{bounded_password, problems_for};
use crate::audit::{self, Entry};
use crate::crypto::secret_hash;
use crate::error::ApiError;
use crate::store::resets::Grant;
use crate::store::{self, now, StoreError};
use crate::App;

/// Transient directory failures in a row after which a pending reset is given up. With
/// [`retry_delay_s`] that is about a day of an unreachable directory.
pub const MAX_DIRECTORY_FAILURES: i64 = 300;

/// The code a reset given up on (the directory stayed unreachable) ends with.
pub const GAVE_UP: Code = Code::ResetFailed;

/// How long a pending reset waits after its `failures`-th transient failure in a row:
/// 2 s, doubling, at most 5 minutes.
pub fn retry_delay_s(failures: i64) -> i64 {
    let exponent = failures.clamp(1, 9) as u32;
    (1i64 << exponent).min(300)
}

/// The actions this server's directory can perform, in their published order.
pub fn supported_actions(app: &App) -> Vec<RecoveryAction> {
    let c = app.directory.capabilities();
    [
        (RecoveryAction::ResetPassword, c.reset_password),
        (RecoveryAction::ResetMfa, c.reset_mfa),
        (RecoveryAction::Unlock, c.unlock),
    ]
    .into_iter()
    .filter_map(|(a, yes)| yes.then_some(a))
    .collect()
}

/// Refuses a session for an action the directory cannot perform, before anything about
/// the login is looked up: the answer is the same for every login, so it tells nothing of
/// which accounts exist, and no one verifies their face for a change that cannot be made.
pub fn require_supported(app: &App, action: RecoveryAction) -> Result<(), ApiError> {
    if supported_actions(app).contains(&action) {
        return Ok(());
    }
    tracing::info!(
        action = action.as_str(),
        directory = app.directory.kind(),
        "session refused: the directory cannot perform this action"
    );
    Err(ApiError::new(
        Code::ActionUnsupported,
        "The company directory cannot do this kind of recovery. Choose another, or contact the IT helpdesk.",
    )
    .with_supported_actions(supported_actions(app)))
}

/// What the app may offer (`GET /v1/capabilities`). The same for every caller.
pub fn capabilities(app: &App) -> Capabilities {
    Capabilities {
        actions: supported_actions(app),
        password: PasswordInput {
            max_input_chars: MAX_PASSWORD_INPUT_CHARS,
        },
    }
}

async fn load_grant(app: &App, id: &str) -> Result<Option<Grant>, StoreError> {
    store::resets::load(&app.store, id).await
}

pub(crate) fn grant_invalid() -> ApiError {
    ApiError::new(
        Code::GrantInvalid,
        "the reset grant is unknown; verify again",
    )
}

pub(crate) async fn user_of(app: &App, grant: &Grant) -> Result<DirectoryUser, DirectoryError> {
    match app.directory.find_user(&grant.login).await? {
        Some(u) if u.id == grant.user_ref => Ok(u),
        _ => Err(DirectoryError::UserNotFound),
    }
}

pub(crate) fn directory_error(e: DirectoryError) -> ApiError {
    match e {
        DirectoryError::PasswordRefused(r) => ApiError::new(r.code(), r.message()),
        DirectoryError::UserNotFound => ApiError::new(
            Code::DirectoryUserNotFound,
            "the account no longer exists in the directory",
        ),
        e => ApiError::new(
            e.code(),
            "the company directory cannot be reached; try again shortly",
        ),
    }
}

/// A usable grant for `secret`: issued or pending, not expired.
pub(crate) async fn grant_for(app: &App, secret: &str) -> Result<Grant, ApiError> {
    if secret.len() > 128 {
        return Err(grant_invalid());
    }
    let grant = load_grant(app, &secret_hash(secret))
        .await?
        .ok_or_else(grant_invalid)?;
    Ok(grant)
}

/// Uses a grant (`POST /v1/resets`): the reset applied, scheduled, or why not.
pub async fn reset(app: &App, req: ResetRequest) -> Result<ResetAnswer, ApiError> {
    if let Some(p) = req.new_password.as_deref() {
        bounded_password(p)?;
    }
    let grant = grant_for(app, &req.grant).await?;
    match grant.state.as_str() {
        "completed" => return completed_response(app, &grant.id, grant.action, true).await,
        "failed" => return Err(failed_error(grant.failure.as_deref())),
        "pending" if grant.apply_after > now() => return Ok(scheduled_response(&grant)),
        "pending" => return finish(app, &grant.id).await,
        "cancelled" => return Err(grant_cancelled()),
        _ => {}
    }
    if now() >= grant.expires_at {
        return Err(ApiError::new(
            Code::GrantExpired,
            "the reset grant has expired; verify again",
        ));
    }
    if grant.attempts >= app.config.limits.attempts_per_grant {
        return Err(ApiError::new(
            Code::GrantAttemptsExhausted,
            "too many attempts with this grant; verify again",
        ));
    }
    let sealed = match grant.action {
        RecoveryAction::ResetPassword => {
            let Some(password) = req.new_password.as_deref() else {
                return Err(ApiError::new(Code::PasswordMissing, "give new_password"));
            };
            // Checked in its normalised form, but set exactly as typed: directories do not
            // normalise at sign-in, so a normalised password might never match what the
            // user's keyboard sends.
            let password = Zeroizing::new(password.to_string());
            // An account gone from the directory (or no longer the one approved) ends the
            // grant here, as it would a pending reset: no password can be set for it.
            let user = match user_of(app, &grant).await {
                Ok(u) => u,
                Err(e) if e.is_permanent() => {
                    let code = failure_code(Some(e.code().as_str()));
                    fail(app, &grant, "issued", code, &e, false).await?;
                    return Err(failed_error(Some(code.as_str())));
                }
                Err(e) => return Err(directory_error(e)),
            };
            let problems = problems_for(app, &user, &password)?;
            if !problems.is_empty() {
                store::resets::count_attempt(&app.store, &grant.id).await?;
                return Err(ApiError::new(
                    Code::PasswordRefused,
                    "the new password does not meet the policy",
                )
                .with_problems(problems.iter().map(Problem::from).collect()));
            }
            Some(app.keys.seal("pending password", password.as_bytes())?)
        }
        _ => None,
    };
    // Issued → pending, by exactly one request, which takes the lease in the same step:
    // the background sweep of pending resets must not take the reset from under it. A
    // delayed change holds its "lease" until it is due, so the sweep applies it then.
    let t = now();
    let scheduled = grant.apply_after > t;
    let lease_until = if scheduled {
        grant.apply_after
    } else {
        t + app.config.policy.reset_lease_s as i64
    };
    let moved = store::resets::to_pending(&app.store, &grant.id, sealed, t, lease_until).await?;
    if !moved {
        // Another request moved it first: answer with whatever it became.
        let again = load_grant(app, &grant.id)
            .await?
            .ok_or_else(grant_invalid)?;
        return match again.state.as_str() {
            "completed" => completed_response(app, &again.id, again.action, true).await,
            "failed" => Err(failed_error(again.failure.as_deref())),
            "pending" if again.apply_after > now() => Ok(scheduled_response(&again)),
            "pending" => finish(app, &again.id).await,
            "cancelled" => Err(grant_cancelled()),
            _ => Err(ApiError::new(
                Code::GrantExpired,
                "the reset grant has expired; verify again",
            )),
        };
    }
    let when = serde_json::json!({ "apply_after": scheduled.then_some(grant.apply_after) });
    audit_grant(
        app,
        &grant,
        GrantEvent {
            kind: "reset_pending",
            actor: "server",
            more: when,
        },
    )
    .await?;
    if scheduled {
        return Ok(scheduled_response(&grant));
    }
    let leased = load_grant(app, &grant.id)
        .await?
        .ok_or_else(grant_invalid)?;
    respond(app, &leased.id, apply_leased(app, &leased, false).await?).await
}

/// A change approved with notice and delay: recorded, applied when due unless cancelled
/// through the link sent to the account's addresses.
fn scheduled_response(grant: &Grant) -> ResetAnswer {
    ResetAnswer::Scheduled {
        action: grant.action,
        effective_at: grant.apply_after,
    }
}

fn grant_cancelled() -> ApiError {
    ApiError::new(
        Code::GrantCancelled,
        "this recovery was cancelled from the notice sent to the account's addresses",
    )
}

pub use crate::store::resets::cancel_for_account;

/// The answer for a completed grant. A sign-in code the reset left is taken out of the
/// grant here, by exactly one answer (the store's conditional update), so it is shown
/// once: a repeat of the request, or the background sweep's later completion, finds it
/// gone. A code past its validity is erased and not shown.
async fn completed_response(
    app: &App,
    grant_id: &str,
    action: RecoveryAction,
    already: bool,
) -> Result<ResetAnswer, ApiError> {
    let sign_in_code = match store::resets::take_sign_in_code(&app.store, grant_id).await? {
        Some(sealed) => {
            let code = open_sign_in_code(app, grant_id, &sealed)?;
            (code.valid_until > now()).then_some(code)
        }
        None => None,
    };
    if let Some(c) = &sign_in_code {
        tracing::info!(
            valid_until = c.valid_until,
            one_time = c.one_time,
            "sign-in code handed to the person"
        );
    }
    Ok(ResetAnswer::Completed {
        action,
        already_completed: already,
        sign_in_code,
    })
}

fn sign_in_code_purpose(grant_id: &str) -> String {
    format!("sign-in code:{grant_id}")
}

/// `code` sealed for the grant `grant_id` (its id in `grants`), as the completion stores
/// it. Public for the tests, which plant a code where no connector of theirs issues one.
pub fn seal_sign_in_code(
    app: &App,
    grant_id: &str,
    code: &SignInCode,
) -> Result<String, StoreError> {
    let wire = WireSignInCode {
        code: code.code.to_string(),
        valid_until: code.valid_until,
        one_time: code.one_time,
    };
    let json =
        Zeroizing::new(serde_json::to_vec(&wire).map_err(|e| StoreError::Config(e.to_string()))?);
    app.keys
        .seal(&sign_in_code_purpose(grant_id), &json)
        .map_err(|_| StoreError::Config("a sign-in code cannot be sealed".into()))
}

fn open_sign_in_code(
    app: &App,
    grant_id: &str,
    sealed: &str,
) -> Result<WireSignInCode, StoreError> {
    let bytes = app
        .keys
        .open(&sign_in_code_purpose(grant_id), sealed)
        .map_err(|_| StoreError::Config("a sealed sign-in code does not open".into()))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Config(e.to_string()))
}

/// What resuming a pending reset came to.
#[derive(Debug)]
pub enum Resumed {
    Completed {
        action: RecoveryAction,
        already: bool,
    },
    /// The directory refused; the grant is usable again.
    Refused(DirectoryError),
    /// Still pending (directory unreachable, or another worker holds it).
    StillPending(Option<DirectoryError>),
    /// Ended for good: the directory cannot make the change, or stayed unreachable past
    /// the bound. Carries the code the person is shown.
    Failed(Code),
}

/// The stable code a failed reset is reported with (the grant keeps it as text).
fn failure_code(stored: Option<&str>) -> Code {
    reclaim_protocol::codes::RESET_ENDED
        .into_iter()
        .find(|c| Some(c.as_str()) == stored)
        .unwrap_or(GAVE_UP)
}

/// What the person is told about a reset that ended failed: nothing more will happen with
/// this grant, and what to do instead.
fn failed_error(stored: Option<&str>) -> ApiError {
    let code = failure_code(stored);
    let message = match code {
        Code::DirectoryActionUnsupported => {
            "The company directory cannot make this change, so it was not made. Contact the IT helpdesk."
        }
        Code::DirectoryUserNotFound => {
            "The account is no longer in the company directory, so the change was not made. Contact the IT helpdesk."
        }
        Code::DirectoryPermissionDenied => {
            "The recovery service is not allowed to change this account, so the change was not made. Contact the IT helpdesk."
        }
        Code::DirectoryConfigInvalid => {
            "The recovery service cannot use the company directory as configured, so the change was not made. Contact the IT helpdesk."
        }
        _ => {
            "The company directory did not answer for too long, so the change could not be confirmed. Verify again, or contact the IT helpdesk."
        }
    };
    // A 409 whatever the directory's failure: the grant is spent, nothing more will happen.
    ApiError::new(code, message)
        .with_status(axum::http::StatusCode::CONFLICT)
        .with_reset_status(ResetStatus::Failed)
}

async fn finish(app: &App, id: &str) -> Result<ResetAnswer, ApiError> {
    respond(app, id, resume(app, id).await?).await
}

async fn respond(app: &App, id: &str, resumed: Resumed) -> Result<ResetAnswer, ApiError> {
    match resumed {
        Resumed::Completed { action, already } => completed_response(app, id, action, already).await,
        Resumed::Refused(e) => Err(directory_error(e)),
        Resumed::Failed(code) => Err(failed_error(Some(code.as_str()))),
        Resumed::StillPending(e) => Err(ApiError::new(
            e.as_ref().map_or(Code::ResetInProgress, |e| e.code()),
            "Your reset is recorded and will be applied as soon as the directory answers; you do not need to start again.",
        )
        .with_reset_status(ResetStatus::Pending)),
    }
}

/// Finishes the pending reset `id` if no one else is; see the module documentation.
pub async fn resume(app: &App, id: &str) -> Result<Resumed, StoreError> {
    let Some(grant) = load_grant(app, id).await? else {
        return Ok(Resumed::StillPending(None));
    };
    if grant.state == "completed" {
        return Ok(Resumed::Completed {
            action: grant.action,
            already: true,
        });
    }
    if grant.state == "failed" {
        return Ok(Resumed::Failed(failure_code(grant.failure.as_deref())));
    }
    let t = now();
    if grant.state != "pending" || grant.lease_until > t {
        return Ok(Resumed::StillPending(None));
    }
    let leased = store::resets::take_lease(
        &app.store,
        &grant.id,
        grant.lease_until,
        t + app.config.policy.reset_lease_s as i64,
    )
    .await?;
    if !leased {
        return Ok(Resumed::StillPending(None));
    }
    // A lease taken before means an earlier attempt may have reached the directory; a
    // delayed change's first "lease" was only its due time.
    let maybe_applied = grant.lease_until != 0 && grant.lease_until != grant.apply_after;
    apply_leased(app, &grant, maybe_applied).await
}

/// Applies the pending reset `grant` to the directory; the caller holds its lease.
async fn apply_leased(
    app: &App,
    grant: &Grant,
    maybe_applied: bool,
) -> Result<Resumed, StoreError> {
    let applied = apply(app, grant, maybe_applied).await;
    match applied {
        Ok(code) => {
            complete(app, grant, code.as_ref()).await?;
            Ok(Resumed::Completed {
                action: grant.action,
                already: false,
            })
        }
        Err(e) if matches!(e, DirectoryError::PasswordRefused(_)) => {
            store::resets::back_to_issued(&app.store, &grant.id).await?;
            let why = serde_json::json!({ "code": e.code() });
            audit_grant(
                app,
                grant,
                GrantEvent {
                    kind: "reset_refused",
                    actor: "directory",
                    more: why,
                },
            )
            .await?;
            app.metrics.reset("refused");
            Ok(Resumed::Refused(e))
        }
        Err(e) if e.is_permanent() => {
            app.metrics.directory_error();
            let code = failure_code(Some(e.code().as_str()));
            fail(app, grant, "pending", code, &e, maybe_applied).await?;
            Ok(Resumed::Failed(code))
        }
        Err(e) => {
            app.metrics.directory_error();
            let failures = grant.directory_failures + 1;
            if failures >= MAX_DIRECTORY_FAILURES {
                fail(
                    app,
                    grant,
                    "pending",
                    GAVE_UP,
                    &e,
                    maybe_applied || e.outcome_unknown(),
                )
                .await?;
                return Ok(Resumed::Failed(GAVE_UP));
            }
            let delay = retry_delay_s(failures);
            tracing::warn!(
                code = e.code().as_str(),
                failures,
                retry_in_s = delay,
                "reset left pending"
            );
            // Release the lease but keep it non-zero (the next attempt must check first),
            // and not before the backoff: a directory that is down is not asked every 2 s.
            store::resets::back_off(&app.store, &grant.id, now() + delay, failures).await?;
            app.metrics.reset("pending");
            Ok(Resumed::StillPending(Some(e)))
        }
    }
}

/// Ends the reset `grant` (in state `from`: `pending`, or `issued` when the account is
/// found gone before any change was attempted) as failed with `code`: the sealed password
/// and template are erased, the session shows `failed` to whoever follows it, and the
/// audit records why. A pending grant gets here only from the worker holding its lease;
/// the conditional update lets only one request move it.
async fn fail(
    app: &App,
    grant: &Grant,
    from: &str,
    code: Code,
    error: &DirectoryError,
    outcome_unknown: bool,
) -> Result<(), StoreError> {
    if !store::resets::fail(
        &app.store,
        &grant.id,
        &grant.session_id,
        from,
        code.as_str(),
    )
    .await?
    {
        return Ok(());
    }
    tracing::warn!(
        code = code.as_str(),
        directory_code = error.code().as_str(),
        action = grant.action.as_str(),
        directory_failures = grant.directory_failures,
        "reset failed for good; not retried"
    );
    let why = serde_json::json!({
        "code": code,
        "directory_code": error.code(),
        "directory_failures": grant.directory_failures,
        // After an attempt that may have reached the directory, whether the change took
        // effect is not known.
        "outcome_unknown": outcome_unknown,
    });
    audit_grant(
        app,
        grant,
        GrantEvent {
            kind: "reset_failed",
            actor: "directory",
            more: why,
        },
    )
    .await?;
    Ok(())
}

/// Applies the grant's change; an MFA reset may bring a code for the person.
async fn apply(
    app: &App,
    grant: &Grant,
    maybe_applied: bool,
) -> Result<Option<SignInCode>, DirectoryError> {
    let mut code = None;
    let user = user_of(app, grant).await?;
    let faults = &app.config.fault;
    match grant.action {
        RecoveryAction::ResetPassword => {
            let sealed = grant.password_sealed.as_deref().ok_or_else(|| {
                DirectoryError::Protocol("pending reset without its password".into())
            })?;
            let bytes = app.keys.open("pending password", sealed).map_err(|_| {
                DirectoryError::Protocol("pending password cannot be opened".into())
            })?;
            let password = Zeroizing::new(String::from_utf8_lossy(&bytes).into_owned());
            // Only after an interrupted attempt: a bind with a wrong password counts as a
            // failed sign-in in most directories. A connector that cannot tell (Okta's and
            // Graph's APIs check no password) sets it again, which its contract makes
            // safe when it already took effect.
            if maybe_applied {
                match app.directory.password_is(&user, &password).await {
                    Ok(true) => return Ok(None),
                    Ok(false) | Err(DirectoryError::Unsupported(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            if faults.directory_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.directory_delay_ms)).await;
            }
            app.directory.set_password(&user, &password).await?;
        }
        RecoveryAction::ResetMfa => {
            if faults.directory_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.directory_delay_ms)).await;
            }
            // After a lost answer, the factors the person enrolled since the change was
            // first due are theirs and survive the repeat. Not since the decision: a
            // change with notice and delay is due hours later, and a factor added in
            // between (by whoever holds the password) is one this reset must remove.
            let keep_since = maybe_applied.then(|| {
                let due = grant.created_at.max(grant.apply_after).max(0);
                std::time::UNIX_EPOCH + Duration::from_secs(due as u64)
            });
            code = app
                .directory
                .reset_mfa(&user, keep_since)
                .await?
                .sign_in_code;
        }
        RecoveryAction::Unlock => {
            if faults.directory_delay_ms > 0 {
                tokio::time::sleep(Duration::from_millis(faults.directory_delay_ms)).await;
            }
            app.directory.unlock(&user).await?;
        }
        // Never granted (an identity verification ends in no grant: decision.rs); a row
        // naming it is refused, not applied.
        RecoveryAction::VerifyIdentity => {
            return Err(DirectoryError::Unsupported("verify an identity"));
        }
    }
    if faults.crash_after_directory && cfg!(feature = "test-hooks") {
        // The worst moment to die: applied in the directory, not yet recorded here.
        std::process::exit(86);
    }
    Ok(code)
}

async fn complete(app: &App, grant: &Grant, code: Option<&SignInCode>) -> Result<(), StoreError> {
    let sealed = match code {
        Some(c) => Some(seal_sign_in_code(app, &grant.id, c)?),
        None => None,
    };
    if !store::resets::complete(&app.store, grant, now(), sealed.as_deref()).await? {
        return Ok(());
    }
    // What the code is like, never the code.
    let enrolled = serde_json::json!({
        "template_enrolled": grant.template_sealed.is_some(),
        "sign_in_code": code.map(|c| serde_json::json!({
            "valid_until": c.valid_until,
            "one_time": c.one_time,
        })),
    });
    audit_grant(
        app,
        grant,
        GrantEvent {
            kind: "reset_completed",
            actor: "server",
            more: enrolled,
        },
    )
    .await?;
    app.metrics.reset("completed");
    Ok(())
}

/// What happened to a grant, for the audit chain.
struct GrantEvent<'a> {
    kind: &'a str,
    /// Who did it: `server` or `directory`.
    actor: &'a str,
    /// Facts beyond the grant's own (an object's fields).
    more: serde_json::Value,
}

/// Appends `event` about `grant`'s session to the audit chain, with what was to be
/// changed for whom and the grant's digest (never the grant).
async fn audit_grant(app: &App, grant: &Grant, event: GrantEvent<'_>) -> Result<(), StoreError> {
    let GrantEvent { kind, actor, more } = event;
    let mut detail = serde_json::json!({
        "action": grant.action.as_str(),
        "user": grant.user_ref,
        "grant_sha256": grant.id,
    });
    if let (Some(all), serde_json::Value::Object(more)) = (detail.as_object_mut(), more) {
        all.extend(more);
    }
    let subject = format!("session:{}", grant.session_id);
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind,
            actor,
            subject: &subject,
            detail,
        },
    )
    .await?;
    Ok(())
}

/// Resumes every pending reset whose lease has run out (at start, and periodically).
pub async fn resume_pending(app: &App) -> Result<usize, StoreError> {
    let ids = store::resets::pending_due(&app.store).await?;
    let mut done = 0;
    for id in ids {
        if let Resumed::Completed { .. } = resume(app, &id).await? {
            done += 1;
        }
    }
    Ok(done)
}

/// How long after its reset completed a sign-in code waits for the person's app to ask
/// for it. The app asks in the same breath as the reset (or within its retries); a code
/// nobody took by then is erased, not kept sealed for ever.
pub const SIGN_IN_CODE_PICKUP_S: i64 = 3600;

/// Erases the sign-in codes no answer took within [`SIGN_IN_CODE_PICKUP_S`].
pub async fn forget_sign_in_codes(app: &App) -> Result<(), StoreError> {
    let erased = store::resets::erase_sign_in_codes_completed_before(
        &app.store,
        now() - SIGN_IN_CODE_PICKUP_S,
    )
    .await?;
    if erased > 0 {
        tracing::info!(erased, "unclaimed sign-in codes erased");
    }
    Ok(())
}
