//! Passkeys for the console's local accounts (`crate::admin::local`): the enrolment page,
//! the script both ceremonies run (`/admin/passkey.js`, the console's only one), and the
//! JSON requests it makes. Each ceremony is begun and finished by two requests; the first
//! sets a cookie naming the ceremony, which the second must bring back, so a ceremony
//! counts only in the browser that began it. Every request must come from the console's
//! own origin (`Origin`), like a form.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use super::page::render_passkey;
use super::{cookie, Console};
use crate::admin::{self, local};
use crate::error::ApiError;
use crate::http::client_addr;
use crate::http::extract::{json, Body};
use crate::App;

const SCRIPT: &str = include_str!("passkey.js");

impl Console {
    /// The cookie that names a passkey ceremony under way.
    pub fn passkey_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-reclaim_passkey"
        } else {
            "reclaim_passkey"
        }
    }
}

/// `GET /admin/passkey.js`.
pub async fn script_handler() -> Response {
    let mut response = SCRIPT.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// `GET /admin/enrol`: the page an enrolment link opens (its secret rides in the
/// fragment, which the script reads).
pub async fn enrol_page_handler() -> Response {
    render_passkey(
        StatusCode::OK,
        "Enrol a passkey",
        "<p>This page makes a passkey for your local console account, on this device or a \
         security key. Your browser asks you to confirm with your PIN, fingerprint or face: \
         a passkey that cannot check who holds it is refused.</p>\
         <p>The link works once: when the passkey is made, you are signed in, and later you \
         sign in with <strong>Sign in with a passkey</strong> on the console's sign-in page.</p>\
         <noscript><p class=\"note warn\">Passkeys need JavaScript: allow it for this page.</p></noscript>\
         <p><button type=\"button\" data-passkey=\"enrol\">Create a passkey</button></p>\
         <p id=\"passkey-status\" role=\"status\" aria-live=\"polite\"></p>",
    )
}

/// The "Sign in with a passkey" part of the sign-in page.
pub fn sign_in_part() -> &'static str {
    "<h2>Local account</h2>\
     <p>For a local account (bootstrap or break-glass), sign in with the passkey you enrolled.</p>\
     <noscript><p class=\"note warn\">Passkeys need JavaScript: allow it for this page.</p></noscript>\
     <p><button type=\"button\" data-passkey=\"sign-in\">Sign in with a passkey</button></p>\
     <p id=\"passkey-status\" role=\"status\" aria-live=\"polite\"></p>"
}

/// Refuses a request that did not come from the console's own pages: another site's page
/// could otherwise start ceremonies in a console user's browser.
fn from_console(app: &App, headers: &HeaderMap) -> Result<Console, ApiError> {
    let console = Console::of(app);
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase());
    if origin.as_deref() != Some(console.origin.as_str()) {
        return Err(admin::form_invalid());
    }
    Ok(console)
}

/// The options for the browser, with the ceremony's cookie.
fn begun(console: &Console, options: &impl serde::Serialize, ceremony: &str) -> Response {
    let mut response = json(StatusCode::OK, options);
    set_cookie(
        &mut response,
        &console.cookie(
            console.passkey_cookie(),
            ceremony,
            local::CEREMONY_TTL_S as u64,
            "Strict",
        ),
    );
    response
}

/// A sign-in: its cookie set, the ceremony's cleared, and where the script goes next.
async fn signed_in(
    app: &App,
    console: &Console,
    who: &admin::SignedIn,
    message: &str,
) -> Result<Response, ApiError> {
    let secret = admin::sign_in(app, who).await?;
    let mut response = json(
        StatusCode::OK,
        &serde_json::json!({ "next": "/admin", "message": message }),
    );
    set_cookie(
        &mut response,
        &console.cookie(
            console.session_cookie(),
            &secret,
            app.config.admin.session_ttl_s,
            "Strict",
        ),
    );
    set_cookie(
        &mut response,
        &console.cookie(console.passkey_cookie(), "", 0, "Strict"),
    );
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrolBegin {
    token: String,
}

/// `POST /admin/enrol/begin`: `{"token": <the link's secret>}`.
pub async fn enrol_begin_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(body): Body<EnrolBegin>,
) -> Result<Response, ApiError> {
    let console = from_console(&app, &headers)?;
    let addr = client_addr(&app, &peer, &headers);
    let (options, ceremony) = local::begin_enrolment(&app, &addr, &body.token).await?;
    Ok(begun(&console, &options, &ceremony))
}

/// `POST /admin/enrol/finish`: the new credential, as `navigator.credentials.create`
/// gave it.
pub async fn enrol_finish_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Body(credential): Body<RegisterPublicKeyCredential>,
) -> Result<Response, ApiError> {
    let console = from_console(&app, &headers)?;
    let who = local::finish_enrolment(
        &app,
        cookie(&headers, console.passkey_cookie()),
        &credential,
    )
    .await?;
    signed_in(&app, &console, &who, "Passkey enrolled; you are signed in.").await
}

/// `POST /admin/passkey/begin`: `{}`.
pub async fn sign_in_begin_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Body(_): Body<serde_json::Map<String, serde_json::Value>>,
) -> Result<Response, ApiError> {
    let console = from_console(&app, &headers)?;
    let addr = client_addr(&app, &peer, &headers);
    let (options, ceremony) = local::begin_sign_in(&app, &addr).await?;
    Ok(begun(&console, &options, &ceremony))
}

/// `POST /admin/passkey/finish`: the assertion, as `navigator.credentials.get` gave it.
pub async fn sign_in_finish_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Body(credential): Body<PublicKeyCredential>,
) -> Result<Response, ApiError> {
    let console = from_console(&app, &headers)?;
    let who = local::finish_sign_in(
        &app,
        cookie(&headers, console.passkey_cookie()),
        &credential,
    )
    .await?;
    signed_in(&app, &console, &who, "Signed in.").await
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
