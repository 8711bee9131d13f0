//! Local console accounts with passkeys (WebAuthn, `webauthn-rs`): the way in for bootstrap
//! (before the OpenID provider is set up) and break-glass (when it is down, or not to be
//! trusted), on with `admin.local_accounts`.
//!
//! An account is made on the server's command line (`reclaim admin local add`) with its
//! roles; that prints a one-time enrolment link (a random secret in the address's
//! fragment, so it reaches no log or proxy; stored hashed; [`ENROL_TTL_S`]). Opening it
//! enrols one passkey and signs the person in. Later sign-ins are "Sign in with a passkey"
//! on the sign-in page: a discoverable credential, so no name is typed and the page tells
//! no one which accounts exist.
//!
//! Passkeys must verify their user (PIN, fingerprint, face: `userVerification:
//! required`, and checked on every assertion): a break-glass account opens the whole
//! console, so a stolen authenticator alone must not. Each ceremony's state waits sealed in
//! the database (`admin_logins`, like the OpenID sign-ins, so any instance finishes it),
//! named by a random secret only the browser that started it holds (a cookie), and is
//! taken once. A sign-in afterwards is like any other: `local:<name>`, with the account's
//! roles.

use serde::{Deserialize, Serialize};

use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, Url, Uuid, Webauthn, WebauthnBuilder,
};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use super::{Role, SignedIn};
use crate::audit::{self, Entry};
use crate::crypto::{new_secret, secret_hash};
use crate::error::ApiError;
use crate::store::local_admins::{self, LocalAccount};
use crate::store::{self, now};
use crate::App;
use reclaim_protocol::Code;

/// How long an enrolment link works.
pub const ENROL_TTL_S: i64 = 24 * 3600;

/// How long a ceremony (the browser asking the authenticator) may take, seconds: the
/// WebAuthn timeout the browser is given, and the life of its sealed state.
pub const CEREMONY_TTL_S: i64 = 300;

/// The longest account name.
pub const MAX_NAME: usize = 64;

const ENROL_SEAL: &str = "console passkey enrolment";
const SIGN_IN_SEAL: &str = "console passkey sign-in";

/// The subject of a local account's sign-ins and audit entries.
pub fn subject(name: &str) -> String {
    format!("local:{name}")
}

/// Whether `subject` is a local account's (a provider's subject starts with its issuer,
/// an https URL).
pub fn is_local(subject: &str) -> bool {
    subject.starts_with("local:")
}

/// `name` as an account name (lower case), if it is one: 1 to [`MAX_NAME`] of `a-z`,
/// `0-9`, `.`, `_`, `-`, starting with a letter or digit.
pub fn account_name(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    ok.then_some(name)
}

/// A new account's enrolment link and when it stops working.
pub struct NewAccount {
    pub name: String,
    /// `<console>/admin/enrol#<secret>`: the secret is shown this once.
    pub link: zeroize::Zeroizing<String>,
    pub expires_at: i64,
}

/// The console's origin (`admin.url`, else `public_url`) as WebAuthn sees it.
fn console_url(app: &App) -> Result<Url, ApiError> {
    let url = app
        .config
        .admin
        .url
        .as_deref()
        .unwrap_or(&app.config.public_url);
    Url::parse(url).map_err(|_| ApiError::new(Code::InternalError, "admin.url is not a URL"))
}

/// Makes local account `name` with `roles` and its enrolment link. `actor` is who did it,
/// for the audit chain.
pub async fn add(
    app: &App,
    name: &str,
    roles: &[Role],
    actor: &str,
) -> Result<NewAccount, ApiError> {
    let name = account_name(name).ok_or_else(|| {
        ApiError::new(
            Code::RequestInvalid,
            format!("an account name is 1 to {MAX_NAME} of a-z, 0-9, '.', '_', '-'"),
        )
    })?;
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(ApiError::new(
            Code::RequestInvalid,
            "give the account at least one role (admin, reviewer, auditor)",
        ));
    }
    let roles = roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let secret = new_secret("re_")?;
    let t = now();
    let account = LocalAccount {
        name: name.clone(),
        user_id: Uuid::new_v4().to_string(),
        roles: roles.clone(),
        created_at: t,
        created_by: actor.to_string(),
        last_used: None,
        enrol_expires: Some(t + ENROL_TTL_S),
        passkeys: 0,
    };
    if !local_admins::insert_account(&app.store, &account, &secret_hash(&secret)).await? {
        return Err(ApiError::new(
            Code::RequestInvalid,
            format!("a local account `{name}` exists already (remove it first to start again)"),
        ));
    }
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_local_added",
            actor,
            subject: &format!("admin:{}", subject(&name)),
            detail: serde_json::json!({ "roles": roles, "enrolment_expires_at": t + ENROL_TTL_S }),
        },
    )
    .await?;
    let origin = console_url(app)?.origin().ascii_serialization();
    Ok(NewAccount {
        name,
        link: zeroize::Zeroizing::new(format!("{origin}/admin/enrol#{}", secret.as_str())),
        expires_at: t + ENROL_TTL_S,
    })
}

/// Every local account.
pub async fn list(app: &App) -> Result<Vec<LocalAccount>, ApiError> {
    Ok(local_admins::accounts(&app.store).await?)
}

/// Removes local account `name`, its passkeys and its console sign-ins. `false`: there
/// is none of that name.
pub async fn remove(app: &App, name: &str, actor: &str) -> Result<bool, ApiError> {
    let Some(name) = account_name(name) else {
        return Ok(false);
    };
    let subject = subject(&name);
    if !local_admins::remove_account(&app.store, &name, &subject).await? {
        return Ok(false);
    }
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_local_removed",
            actor,
            subject: &format!("admin:{subject}"),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    Ok(true)
}

/// The relying party: its ID is the console's host, and only the console's own origin
/// (scheme, host and port) may answer.
fn relying_party(app: &App) -> Result<Webauthn, ApiError> {
    let url = console_url(app)?;
    let broken = || {
        ApiError::new(
            Code::InternalError,
            "admin.url cannot be a WebAuthn relying party",
        )
    };
    let rp_id = url.host_str().ok_or_else(broken)?.to_string();
    WebauthnBuilder::new(&rp_id, &url)
        .map_err(|_| broken())?
        .rp_name("Reclaim console")
        .timeout(std::time::Duration::from_secs(CEREMONY_TTL_S as u64))
        .build()
        .map_err(|_| broken())
}

/// The one refusal a browser sees for any passkey ceremony that went wrong.
/// Refuses every ceremony while `admin.local_accounts` is off: turning break-glass off
/// must stop the passkeys already enrolled and the links not yet used, not only hide the
/// button.
fn switched_on(app: &App, refusal: fn() -> ApiError) -> Result<(), ApiError> {
    if app.config.admin.local_accounts {
        return Ok(());
    }
    tracing::warn!("console passkey ceremony while admin.local_accounts is off");
    Err(refusal())
}

fn passkey_refused() -> ApiError {
    ApiError::new(
        Code::AdminSignInFailed,
        "the passkey was not accepted; start again from the console",
    )
}

fn enrolment_refused() -> ApiError {
    ApiError::new(
        Code::AdminSignInFailed,
        "this enrolment link does not work (it was used, it expired, or it was copied wrong); ask an administrator for a new one",
    )
}

/// A refusal of a ceremony that was under way: a security event for the audit chain,
/// which (like the browser) is not told which check failed; the log is.
async fn refused(app: &App, ceremony: &str, account: Option<&str>, why: &str) {
    tracing::warn!(ceremony, reason = why, "console passkey refused");
    let subject = account.map_or("admin:unknown".to_string(), |a| {
        format!("admin:{}", subject(a))
    });
    let _ = audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_passkey_refused",
            actor: "server",
            subject: &subject,
            detail: serde_json::json!({ "ceremony": ceremony }),
        },
    )
    .await;
}

/// Keeps a ceremony's state sealed until [`CEREMONY_TTL_S`]; the secret that names it is
/// for the browser's cookie.
async fn keep(
    app: &App,
    purpose: &str,
    state: &impl Serialize,
) -> Result<zeroize::Zeroizing<String>, ApiError> {
    let id = new_secret("rw_")?;
    let plain = zeroize::Zeroizing::new(
        serde_json::to_vec(state)
            .map_err(|_| ApiError::new(Code::InternalError, "ceremony state"))?,
    );
    store::admin::insert_login(
        &app.store,
        &secret_hash(&id),
        &app.keys.seal(purpose, &plain)?,
        now() + CEREMONY_TTL_S,
    )
    .await?;
    Ok(id)
}

/// Takes the ceremony named by the browser's cookie `id`, once. `None`: no cookie, or
/// a ceremony unknown, used, expired or of the other kind.
async fn take<T: serde::de::DeserializeOwned>(
    app: &App,
    purpose: &str,
    id: Option<&str>,
) -> Result<Option<T>, ApiError> {
    let Some(id) = id.filter(|i| i.len() <= 128) else {
        return Ok(None);
    };
    let Some(sealed) = store::admin::take_login(&app.store, &secret_hash(id), now()).await? else {
        return Ok(None);
    };
    let Ok(plain) = app.keys.open(purpose, &sealed) else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&plain).ok())
}

#[derive(Serialize, Deserialize)]
struct Enrolment {
    account: String,
    enrol_hash: String,
    state: PasskeyRegistration,
}

#[derive(Serialize, Deserialize)]
struct SignInCeremony {
    state: DiscoverableAuthentication,
}

/// Starts enrolling a passkey with enrolment link secret `token`, for a browser at
/// `addr`: the options for `navigator.credentials.create`, and the ceremony's secret for
/// the browser's cookie.
pub async fn begin_enrolment(
    app: &App,
    addr: &str,
    token: &str,
) -> Result<(serde_json::Value, zeroize::Zeroizing<String>), ApiError> {
    switched_on(app, enrolment_refused)?;
    super::admit_sign_in(app, addr).await?;
    if token.is_empty() || token.len() > 128 {
        return Err(enrolment_refused());
    }
    let enrol_hash = secret_hash(token);
    let Some(account) = local_admins::account_by_enrolment(&app.store, &enrol_hash, now()).await?
    else {
        tracing::warn!("console passkey enrolment with an unknown, used or expired link");
        return Err(enrolment_refused());
    };
    let user_id = Uuid::parse_str(&account.user_id)
        .map_err(|_| ApiError::new(Code::InternalError, "user id"))?;
    let exclude: Vec<CredentialID> = local_admins::credential_ids(&app.store, &account.name)
        .await?
        .iter()
        .filter_map(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .collect();
    let (options, state) = relying_party(app)?
        .start_passkey_registration(user_id, &account.name, &account.name, Some(exclude))
        .map_err(|e| {
            tracing::warn!(error = %e, "passkey registration could not start");
            ApiError::new(Code::InternalError, "passkey registration could not start")
        })?;
    // A discoverable credential, so that signing in needs no name (and shows none).
    // webauthn-rs's passkeys leave it to the authenticator; the browser is asked for one.
    let mut options = serde_json::to_value(&options)
        .map_err(|_| ApiError::new(Code::InternalError, "registration options"))?;
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    let id = keep(
        app,
        ENROL_SEAL,
        &Enrolment {
            account: account.name,
            enrol_hash,
            state,
        },
    )
    .await?;
    Ok((options, id))
}

/// Finishes an enrolment with the browser's `response`; `ceremony` is its cookie. The
/// passkey is kept and the link used up, together; the person is then signed in.
pub async fn finish_enrolment(
    app: &App,
    ceremony: Option<&str>,
    response: &RegisterPublicKeyCredential,
) -> Result<SignedIn, ApiError> {
    switched_on(app, enrolment_refused)?;
    let Some(enrolment) = take::<Enrolment>(app, ENROL_SEAL, ceremony).await? else {
        tracing::warn!("console passkey enrolment finished without a ceremony under way");
        return Err(enrolment_refused());
    };
    let account = enrolment.account.as_str();
    let passkey = match relying_party(app)?.finish_passkey_registration(response, &enrolment.state)
    {
        Ok(p) => p,
        Err(e) => {
            refused(app, "enrolment", Some(account), &e.to_string()).await;
            return Err(enrolment_refused());
        }
    };
    let cred_id = URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice());
    let json = serde_json::to_string(&passkey)
        .map_err(|_| ApiError::new(Code::InternalError, "passkey"))?;
    let t = now();
    if !local_admins::enrol_passkey(
        &app.store,
        account,
        &enrolment.enrol_hash,
        t,
        &cred_id,
        &json,
        0,
    )
    .await?
    {
        refused(
            app,
            "enrolment",
            Some(account),
            "the link was used or expired meanwhile, or the credential is enrolled already",
        )
        .await;
        return Err(enrolment_refused());
    }
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_passkey_enrolled",
            actor: &format!("admin:{account}"),
            subject: &format!("admin:{}", subject(account)),
            detail: serde_json::json!({ "credential": cred_id }),
        },
    )
    .await?;
    signed_in(app, account).await
}

/// Starts a passkey sign-in for a browser at `addr`: the options for
/// `navigator.credentials.get` (no credentials named: the authenticator offers its own),
/// and the ceremony's secret for the browser's cookie.
pub async fn begin_sign_in(
    app: &App,
    addr: &str,
) -> Result<(RequestChallengeResponse, zeroize::Zeroizing<String>), ApiError> {
    switched_on(app, passkey_refused)?;
    super::admit_sign_in(app, addr).await?;
    let (mut options, state) = relying_party(app)?
        .start_discoverable_authentication()
        .map_err(|e| {
            tracing::warn!(error = %e, "passkey sign-in could not start");
            ApiError::new(Code::InternalError, "passkey sign-in could not start")
        })?;
    // A button press, not the address bar's autofill: the browser asks at once.
    options.mediation = None;
    let id = keep(app, SIGN_IN_SEAL, &SignInCeremony { state }).await?;
    Ok((options, id))
}

/// Finishes a passkey sign-in with the browser's `response`; `ceremony` is its cookie.
/// Every way it fails is one refusal (the log says which).
pub async fn finish_sign_in(
    app: &App,
    ceremony: Option<&str>,
    response: &PublicKeyCredential,
) -> Result<SignedIn, ApiError> {
    switched_on(app, passkey_refused)?;
    let Some(ceremony) = take::<SignInCeremony>(app, SIGN_IN_SEAL, ceremony).await? else {
        // Junk (made up, replayed, expired) is only logged: it cannot grow the chain.
        tracing::warn!("console passkey sign-in without a ceremony under way");
        return Err(passkey_refused());
    };
    let rp = relying_party(app)?;
    let (user_id, raw_id) = match rp.identify_discoverable_authentication(response) {
        Ok(found) => found,
        Err(e) => {
            refused(app, "sign-in", None, &e.to_string()).await;
            return Err(passkey_refused());
        }
    };
    let cred_id = URL_SAFE_NO_PAD.encode(raw_id);
    let Some(stored) = local_admins::passkey(&app.store, &cred_id).await? else {
        refused(app, "sign-in", None, "unknown credential").await;
        return Err(passkey_refused());
    };
    let account = stored.account.as_str();
    // The credential must be the account's that the authenticator says it is for.
    let owner = local_admins::account(&app.store, account).await?;
    let Some(owner) = owner.filter(|a| Uuid::parse_str(&a.user_id).ok() == Some(user_id)) else {
        refused(
            app,
            "sign-in",
            Some(account),
            "user handle is not the credential's account",
        )
        .await;
        return Err(passkey_refused());
    };
    let Ok(mut passkey) = serde_json::from_str::<Passkey>(&stored.passkey) else {
        refused(app, "sign-in", Some(account), "stored passkey unreadable").await;
        return Err(passkey_refused());
    };
    let result = match rp.finish_discoverable_authentication_v2(response, ceremony.state, &passkey)
    {
        Ok(r) if r.user_verified() => r,
        Ok(_) => {
            refused(app, "sign-in", Some(account), "user not verified").await;
            return Err(passkey_refused());
        }
        Err(e) => {
            refused(app, "sign-in", Some(account), &e.to_string()).await;
            return Err(passkey_refused());
        }
    };
    let _ = passkey.update_credential(&result);
    let json = serde_json::to_string(&passkey)
        .map_err(|_| ApiError::new(Code::InternalError, "passkey"))?;
    if !local_admins::passkey_used(
        &app.store,
        &cred_id,
        &owner.name,
        &json,
        i64::from(result.counter()),
        now(),
    )
    .await?
    {
        refused(
            app,
            "sign-in",
            Some(account),
            "counter not above the last one recorded",
        )
        .await;
        return Err(passkey_refused());
    }
    signed_in(app, &owner.name).await
}

/// Whoever signs in as local account `name`, with its roles now.
async fn signed_in(app: &App, name: &str) -> Result<SignedIn, ApiError> {
    let Some(account) = local_admins::account(&app.store, name).await? else {
        return Err(passkey_refused());
    };
    let roles: Vec<Role> = account.roles.split(',').filter_map(Role::parse).collect();
    if roles.is_empty() {
        return Err(passkey_refused());
    }
    Ok(SignedIn {
        subject: subject(&account.name),
        name: account.name.clone(),
        roles,
        // The account's name is what its owner's own directory account most likely is:
        // they cannot decide that one's recovery.
        aliases: vec![account.name.to_lowercase()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_names_are_plain_and_lower_case() {
        assert_eq!(account_name(" Alice.B-2 ").as_deref(), Some("alice.b-2"));
        assert_eq!(account_name("x").as_deref(), Some("x"));
        for bad in [
            "",
            "-alice",
            ".x",
            "a b",
            "a,b",
            "a:b",
            "ålice",
            &"a".repeat(65),
        ] {
            assert_eq!(account_name(bad), None, "{bad}");
        }
        assert_eq!(subject("alice"), "local:alice");
    }
}
