//! Who may use the admin console, and as what: the company's identity provider
//! ([`oidc`], authorization code with PKCE) signs people in, and their groups give them
//! roles (`admin`, `reviewer`, `auditor`). A sign-in is a random secret in a cookie,
//! stored hashed, with its own form token that every change must carry; it ends after
//! `admin.session_ttl_s`, or `admin.idle_timeout_s` without use.
//!
//! The console's pages live in `http::admin`; the cases it decides, in
//! `recovery::review`.

pub mod oidc;
pub mod pages;

use subtle::ConstantTimeEq;

use crate::audit::{self, Entry};
use crate::crypto::{new_secret, secret_hash};
use crate::error::ApiError;
use crate::store::admin::AdminSession;
use crate::store::{self, now, StoreError};
use crate::App;
use reclaim_protocol::Code;

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Devices, policy, health; everything an auditor reads.
    Admin,
    /// The review queue: opens cases, approves and refuses them.
    Reviewer,
    /// Reads: recoveries, the audit chain, devices, policy, health. Decides nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Reviewer, Role::Auditor];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// Someone the provider vouched for, with the roles their groups give.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// Stable and unique: the provider's issuer and the person's subject there.
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
            detail: serde_json::json!({ "roles": session.roles }),
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

/// Deletes sign-ins that ended and sign-ins under way that were never finished.
pub async fn expire(app: &App) -> Result<(), StoreError> {
    store::admin::expire(&app.store, now(), app.config.admin.idle_timeout_s as i64).await
}
