//! The password policy: which policy applies (with or without MFA), a password's problems
//! under it for an account (its names are not allowed in it, nor a breached password),
//! and the bound on what is typed.

use reclaim_directory::DirectoryUser;
use reclaim_protocol::password::{typed_length, MAX_PASSWORD_INPUT_CHARS};
use reclaim_protocol::wire::password::{PasswordCheckAnswer, PasswordCheckRequest};
use reclaim_protocol::{check_password, Code, PasswordPolicy, PasswordProblem};

use super::resets::{directory_error, grant_for, grant_invalid, user_of};
use crate::error::ApiError;
use crate::store::now;
use crate::store::resets::Grant;
use crate::App;

/// The policy new passwords must meet: stricter without a second factor.
pub fn password_policy(app: &App) -> PasswordPolicy {
    if app.config.policy.password_with_mfa {
        PasswordPolicy::WITH_MFA
    } else {
        PasswordPolicy::SINGLE_FACTOR
    }
}

/// Refuses a password longer than the input bound as typed, before it is normalised or
/// anything is looked up (NFKC multiplies some characters' length eighteen-fold).
pub(crate) fn bounded_password(password: &str) -> Result<(), ApiError> {
    typed_length(password).map(|_| ()).map_err(|_| {
        tracing::info!(
            bytes = password.len(),
            "password refused: over the input bound"
        );
        ApiError::new(
            Code::PasswordTooLong,
            format!("The password is too long: use at most {MAX_PASSWORD_INPUT_CHARS} characters."),
        )
    })
}

fn account_words(user: &DirectoryUser) -> Vec<String> {
    let mut words = vec![user.username.clone()];
    if let Some(e) = &user.email {
        words.push(e.split('@').next().unwrap_or("").to_string());
    }
    words.extend(user.given_name.clone());
    words.extend(user.surname.clone());
    words.extend(user.display_name.clone());
    words
}

/// The password's problems under the policy, as the API shows them.
async fn password_problems(
    app: &App,
    grant: &Grant,
    password: &str,
) -> Result<Vec<PasswordProblem>, ApiError> {
    let user = user_of(app, grant).await.map_err(directory_error)?;
    problems_for(app, &user, password)
}

pub(crate) fn problems_for(
    app: &App,
    user: &DirectoryUser,
    password: &str,
) -> Result<Vec<PasswordProblem>, ApiError> {
    let words = account_words(user);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    check_password(
        password,
        &password_policy(app),
        &refs,
        app.breached.as_ref(),
    )
    .map_err(|e| {
        tracing::error!(error = %e, "breached password list unreadable");
        ApiError::new(
            Code::PasswordCheckUnavailable,
            "the password cannot be checked right now",
        )
    })
}

/// Checks a password as it is typed (`POST /v1/password/check`), against the policy and
/// the account the grant is for.
pub async fn check(app: &App, req: &PasswordCheckRequest) -> Result<PasswordCheckAnswer, ApiError> {
    bounded_password(&req.password)?;
    let grant = grant_for(app, &req.grant).await?;
    if grant.state != "issued" || now() >= grant.expires_at {
        return Err(grant_invalid());
    }
    let problems = password_problems(app, &grant, &req.password).await?;
    Ok(PasswordCheckAnswer::of(&problems))
}
