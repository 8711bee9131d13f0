//! Signing in to the console: the page with the ways in (a local account's passkey:
//! [`super::passkey`]), the round trip through the
//! company's OpenID provider (`crate::admin::begin_sign_in`, `finish_sign_in`), and the
//! sign-in cookie. The provider's `state` rides in a cookie of its own, so the callback
//! counts only in the browser that started it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{render, render_passkey, PageError};
use super::{cookie, signed_in, Console};
use crate::admin;
use crate::error::ApiError;
use crate::http::client_addr;
use crate::App;
use reclaim_protocol::Code;

/// Where the provider sends the browser back, under the console's origin.
const CALLBACK: &str = "/admin/signin/callback";

impl Console {
    /// The cookie that carries the provider's `state` through the round trip.
    pub fn state_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-reclaim_signin"
        } else {
            "reclaim_signin"
        }
    }
}

/// `GET /admin/signin`: the way in (straight on to the console when signed in already).
pub async fn page_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    if signed_in(&app, &headers).await.is_ok() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let mut body = String::from(
        "<p>The Reclaim console is for the IT team: reviewers decide recoveries a person must check, auditors and administrators see the rest.</p>",
    );
    if app.config.admin.oidc.is_some() {
        body.push_str(
            "<p><a href=\"/admin/signin/start\">Sign in with your company account</a></p>",
        );
    }
    if !app.config.admin.local_accounts {
        return Ok(render(StatusCode::OK, None, "", "Sign in", &body));
    }
    body.push_str(super::passkey::sign_in_part());
    Ok(render_passkey(StatusCode::OK, "Sign in", &body))
}

/// `GET /admin/signin/start`: off to the provider.
pub async fn start_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let console = Console::of(&app);
    let addr = client_addr(&app, &peer, &headers);
    let (url, state) =
        admin::begin_sign_in(&app, &addr, &format!("{}{CALLBACK}", console.origin)).await?;
    let mut response = Redirect::to(&url).into_response();
    // Lax, not Strict: the way back is a navigation from the provider's site.
    set_cookie(
        &mut response,
        &console.cookie(console.state_cookie(), &state, 600, "Lax"),
    );
    Ok(response)
}

#[derive(Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

/// `GET /admin/signin/callback`: back from the provider.
pub async fn callback_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Result<Response, PageError> {
    let console = Console::of(&app);
    if back.code.is_empty() || back.state.is_empty() {
        // The provider's own refusal (`error=access_denied`, ...) or a made-up address.
        return Err(ApiError::new(
            Code::AdminSignInFailed,
            "the sign-in did not complete; start it again from the console",
        )
        .into());
    }
    let who = admin::finish_sign_in(
        &app,
        &back.code,
        &back.state,
        cookie(&headers, console.state_cookie()),
    )
    .await?;
    let secret = admin::sign_in(&app, &who).await?;
    // A page, not a redirect: the sign-in cookie is SameSite=Strict, and a browser does
    // not send it on a redirect that started at the provider's site. The page's own
    // refresh is a same-site navigation, which does.
    let mut response = render(
        StatusCode::OK,
        None,
        "",
        "Signed in",
        "<p>Signed in. <a href=\"/admin\">Open the console</a>.</p>",
    );
    let refresh = HeaderValue::from_static("0;url=/admin");
    response.headers_mut().insert(header::REFRESH, refresh);
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
        &console.cookie(console.state_cookie(), "", 0, "Lax"),
    );
    Ok(response)
}

fn set_cookie(response: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
