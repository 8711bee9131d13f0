//! Who may use the admin console, and as what: the company's identity provider
//! ([`oidc`], authorization code with PKCE) signs people in, and their groups give them
//! roles (`admin`, `reviewer`, `auditor`: [`role`]); for bootstrap and break-glass, local
//! accounts made on the server's command line sign in with a passkey ([`local`]). A sign-in is a random secret in a cookie,
//! stored hashed, with its own form token that every change must carry; it ends after
//! `admin.session_ttl_s`, or `admin.idle_timeout_s` without use.
//!
//! The console's pages live in `http::admin`; the cases it decides, in
//! `recovery::review`.

pub mod local;
pub mod oidc;
pub mod pages;
pub mod role;

pub use role::{roles, Role};

use subtle::ConstantTimeEq;

use crate::audit::{self, Entry};
use crate::crypto::{new_secret, secret_hash};
use crate::error::ApiError;
use crate::store::admin::AdminSession;
use crate::store::{self, now, StoreError};
use crate::App;
use reclaim_protocol::Code;

/// Someone the provider (or a local account's passkey) vouched for, with their roles.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Stable and unique: the provider's issuer and the person's subject there, or
    /// `local:<name>` for a local account ([`local`]).
    pub subject: String,
    /// A name to show and to write in the audit chain.
    pub name: String,
    pub roles: Vec<Role>,
    /// The names the person's own account goes by (login, mail), lower case.
    pub aliases: Vec<String>,
}

/// A console sign-in as a request presents it.
#[derive(Debug, Clone)]
pub struct Admin {
    pub subject: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub aliases: Vec<String>,
    /// The form token of this sign-in.
    pub csrf: String,
    id_hash: String,
}

impl Admin {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Refuses unless the person has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), ApiError> {
        if roles.iter().any(|r| self.has(*r)) {
            return Ok(());
        }
        Err(ApiError::new(
            Code::AdminRoleMissing,
            "your roles do not include this page or action",
        ))
    }

    /// Checks a form's token against this sign-in's, in constant time.
    pub fn check_form(&self, token: &str) -> Result<(), ApiError> {
        if bool::from(self.csrf.as_bytes().ct_eq(token.as_bytes())) {
            return Ok(());
        }
        Err(form_invalid())
    }

    /// The actor of this person's audit entries.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.name)
    }
}

pub fn form_invalid() -> ApiError {
    ApiError::new(
        Code::AdminFormInvalid,
        "this form did not come from your console page: reload the page and try again",
    )
}

fn sign_in_required() -> ApiError {
    ApiError::new(
        Code::AdminSignInRequired,
        "sign in to the console (your sign-in ended or was never made)",
    )
}

/// Starts a sign-in for `who`: the cookie's secret, which only the browser keeps.
pub async fn sign_in(app: &App, who: &SignedIn) -> Result<zeroize::Zeroizing<String>, ApiError> {
    let secret = new_secret("ra_")?;
    let csrf = new_secret("")?;
    let t = now();
    let session = AdminSession {
        id_hash: secret_hash(&secret),
        subject: who.subject.clone(),
        name: who.name.clone(),
        roles: who
            .roles
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(","),
        aliases: who.aliases.join(","),
        csrf: csrf.to_string(),
        created_at: t,
        last_seen: t,
        expires_at: t + app.config.admin.session_ttl_s as i64,
    };
    store::admin::insert_session(&app.store, &session).await?;
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_signed_in",
            actor: &format!("admin:{}", who.name),
            subject: &format!("admin:{}", who.subject),
            detail: serde_json::json!({
                "roles": session.roles,
                "method": if local::is_local(&who.subject) { "passkey" } else { "oidc" },
            }),
        },
    )
    .await?;
    Ok(secret)
}

/// The sign-in whose cookie secret is `secret`, if it is still valid; its idle time
/// starts again.
pub async fn authenticate(app: &App, secret: Option<&str>) -> Result<Admin, ApiError> {
    let secret = secret
        .filter(|s| s.len() <= 128)
        .ok_or_else(sign_in_required)?;
    let s = store::admin::touch_session(
        &app.store,
        &secret_hash(secret),
        now(),
        app.config.admin.idle_timeout_s as i64,
    )
    .await?
    .ok_or_else(sign_in_required)?;
    Ok(Admin {
        roles: s.roles.split(',').filter_map(Role::parse).collect(),
        aliases: s
            .aliases
            .split(',')
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect(),
        subject: s.subject,
        name: s.name,
        csrf: s.csrf,
        id_hash: s.id_hash,
    })
}

/// Ends `admin`'s sign-in.
pub async fn sign_out(app: &App, admin: &Admin) -> Result<(), ApiError> {
    store::admin::delete_session(&app.store, &admin.id_hash).await?;
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_signed_out",
            actor: &admin.actor(),
            subject: &format!("admin:{}", admin.subject),
            detail: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

/// The company's OpenID provider, discovered on first use and kept: the server starts
/// (and recoveries go on) while the provider is down, and a failed discovery is tried
/// again at the next sign-in.
#[derive(Default)]
pub struct SignInProvider {
    found: tokio::sync::Mutex<Option<std::sync::Arc<oidc::Provider>>>,
}

impl SignInProvider {
    pub async fn get(
        &self,
        config: &crate::config::OidcConfig,
    ) -> Result<std::sync::Arc<oidc::Provider>, oidc::OidcError> {
        let mut found = self.found.lock().await;
        if let Some(p) = found.as_ref() {
            return Ok(p.clone());
        }
        let p = std::sync::Arc::new(oidc::Provider::discover(config).await?);
        *found = Some(p.clone());
        Ok(p)
    }
}

/// Sign-ins under way at once, at most: each is a row until the provider sends the
/// browser back or it expires, and starting one needs no sign-in.
const MAX_PENDING_SIGN_INS: i64 = 10_000;

/// Sign-ins one address may start per ten minutes: enough for an office behind one
/// address, too few for one client to fill [`MAX_PENDING_SIGN_INS`] alone.
const SIGN_INS_PER_ADDRESS: i64 = 60;

/// Lets a browser at `addr` start a sign-in (through the provider, or with a passkey:
/// one count for both), unless it started too many lately or too many are under way.
pub(crate) async fn admit_sign_in(app: &App, addr: &str) -> Result<(), ApiError> {
    if let Err(wait) = crate::limits::hit(
        &app.store,
        &format!("console-signin:{addr}"),
        600,
        SIGN_INS_PER_ADDRESS,
    )
    .await?
    {
        return Err(ApiError::too_many(Code::RateLimited, wait.max(1)));
    }
    if store::admin::pending_logins(&app.store).await? >= MAX_PENDING_SIGN_INS {
        return Err(ApiError::new(
            Code::ServerBusy,
            "too many sign-ins are under way; try again in a few minutes",
        ));
    }
    Ok(())
}

/// Starts a sign-in at the provider: the address to send the browser to, and the
/// `state` the browser keeps (in a cookie) to come back with.
pub async fn begin_sign_in(
    app: &App,
    addr: &str,
    redirect_uri: &str,
) -> Result<(String, String), ApiError> {
    let config = app.config.admin.oidc.as_ref().ok_or_else(sign_in_failed)?;
    admit_sign_in(app, addr).await?;
    let provider = app.sign_in.get(config).await.map_err(|e| {
        tracing::warn!(error = %e, "the console's OpenID provider could not be reached");
        ApiError::new(
            Code::AdminSignInFailed,
            "the company's sign-in service cannot be reached; try again later",
        )
        .with_status(axum::http::StatusCode::BAD_GATEWAY)
    })?;
    let (url, pending) = provider.begin(redirect_uri).map_err(|_| sign_in_failed())?;
    let plain =
        zeroize::Zeroizing::new(serde_json::to_vec(&pending).map_err(|_| sign_in_failed())?);
    store::admin::insert_login(
        &app.store,
        &secret_hash(pending.state()),
        &app.keys.seal(PENDING, &plain)?,
        now() + oidc::PENDING_TTL_S,
    )
    .await?;
    Ok((url, pending.state().to_string()))
}

const PENDING: &str = "console sign-in";

/// Finishes the sign-in the provider sent the browser back from with `code` and
/// `state`; `cookie_state` is the `state` the browser kept. Whoever it is must have a
/// role. Every way it fails is one refusal (the log and the audit chain say which).
pub async fn finish_sign_in(
    app: &App,
    code: &str,
    state: &str,
    cookie_state: Option<&str>,
) -> Result<SignedIn, ApiError> {
    // A refusal of a sign-in that was under way is a security event for the audit chain;
    // a callback naming none (made up, replayed, expired) is only logged, so junk
    // requests cannot grow the chain.
    let refused = |why: String| async move {
        tracing::warn!(reason = %why, "console sign-in refused");
        let _ = audit::append(
            &app.store,
            &app.keys,
            Entry {
                kind: "admin_sign_in_refused",
                actor: "server",
                subject: "admin:unknown",
                detail: serde_json::json!({ "reason": why }),
            },
        )
        .await;
        sign_in_failed()
    };
    let config = app.config.admin.oidc.as_ref().ok_or_else(sign_in_failed)?;
    if state.len() > 256 {
        return Err(sign_in_failed());
    }
    // Taken once, whatever follows: the same callback again finds nothing, and a sign-in
    // whose callback reached the wrong browser cannot be finished anywhere else.
    let Some(sealed) = store::admin::take_login(&app.store, &secret_hash(state), now()).await?
    else {
        tracing::warn!("console sign-in callback with an unknown, used or expired state");
        return Err(sign_in_failed());
    };
    // The state must come back to the browser that started the sign-in: one that was
    // sent a stranger's callback address (login CSRF) has no such cookie.
    let same_browser = cookie_state.is_some_and(|c| {
        c.len() == state.len() && bool::from(c.as_bytes().ct_eq(state.as_bytes()))
    });
    if !same_browser {
        return Err(refused("state not from this browser".into()).await);
    }
    let pending: oidc::PendingLogin =
        serde_json::from_slice(&app.keys.open(PENDING, &sealed)?).map_err(|_| sign_in_failed())?;
    if !pending.state_matches(state) {
        return Err(refused("state mismatch".into()).await);
    }
    let provider = app
        .sign_in
        .get(config)
        .await
        .map_err(|_| sign_in_failed())?;
    let redirect_uri = pending.redirect_uri().to_string();
    let identity = match provider.finish(&pending, code, &redirect_uri).await {
        Ok(i) => i,
        Err(e) => return Err(refused(e.to_string()).await),
    };
    let mut roles = roles(&identity.groups, config);
    // Bounded: it is written into every audit entry this person makes.
    let name: String = identity
        .name
        .clone()
        .or_else(|| identity.email.clone())
        .unwrap_or_else(|| identity.subject.clone())
        .chars()
        .take(100)
        .collect();
    // The names the person's own account goes by here: their login (the configured
    // claim), their verified mail and its local part (often the login), so they cannot
    // decide their own recovery.
    let mut aliases = Vec::new();
    if let Some(login) = &identity.username {
        aliases.push(login.to_lowercase());
    }
    if let Some(mail) = &identity.email {
        let mail = mail.to_lowercase();
        if let Some((local, _)) = mail.split_once('@') {
            aliases.push(local.to_string());
        }
        aliases.push(mail);
    }
    if aliases.is_empty() && roles.contains(&Role::Reviewer) {
        // Nothing says which account is theirs, so nothing could stop them approving
        // their own recovery: no reviewer role.
        tracing::warn!(subject = %identity.subject, claim = %config.username_claim, "reviewer without a login or a verified mail: not a reviewer");
        roles.retain(|r| *r != Role::Reviewer);
    }
    if roles.is_empty() {
        tracing::warn!(subject = %identity.subject, "console sign-in without a role");
        let _ = audit::append(
            &app.store,
            &app.keys,
            Entry {
                kind: "admin_sign_in_refused",
                actor: &format!("admin:{name}"),
                subject: &format!("admin:{} {}", identity.issuer, identity.subject),
                detail: serde_json::json!({ "reason": "no role" }),
            },
        )
        .await;
        return Err(ApiError::new(
            Code::AdminRoleMissing,
            "you signed in, but none of your groups gives a role in this console; ask its administrators",
        ));
    }
    Ok(SignedIn {
        subject: format!("{} {}", identity.issuer, identity.subject),
        name,
        roles,
        aliases,
    })
}

fn sign_in_failed() -> ApiError {
    ApiError::new(
        Code::AdminSignInFailed,
        "the sign-in did not complete; start it again from the console",
    )
}

/// Deletes sign-ins that ended and sign-ins under way that were never finished.
pub async fn expire(app: &App) -> Result<(), StoreError> {
    store::admin::expire(&app.store, now(), app.config.admin.idle_timeout_s as i64).await
}
