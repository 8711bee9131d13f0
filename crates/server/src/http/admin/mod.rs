//! The admin console's pages, under `/admin`: server-rendered HTML with one stylesheet
//! and no script, so it needs no build step, works with the keyboard and a screen reader
//! (landmarks, labels, headings in order, tables with headers) and reads on a phone.
//!
//! Who may do what is `crate::admin`; what a case is, `crate::recovery::review`. This
//! layer reads the sign-in cookie, checks every form (its token, and that it was sent from
//! the console's own origin), renders and maps refusals to a page.
//!
//! - [`page`]: the layout, the navigation, the refusal page.
//! - [`signin`]: signing in through the company's OpenID provider, and out.
//! - [`passkey`]: enrolling and signing in with a local account's passkey.
//! - [`review`]: the queue, one case, its pictures, the decision.
//! - [`devices`], [`recoveries`], [`audit`], [`system`] (policy and health): the other
//!   sections; what they show and do is `crate::admin::pages`.

pub mod audit;
pub mod devices;
pub mod page;
pub mod parts;
pub mod passkey;
pub mod recoveries;
pub mod review;
pub mod signin;
pub mod system;

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;

use crate::admin::{self, Admin};
use crate::App;
pub use page::PageError;

/// The console's routes, to be mounted at `/admin`.
pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(review::home_handler))
        .route("/style.css", get(page::style_handler))
        .route("/queue", get(review::queue_handler))
        .route(
            "/cases/{id}",
            get(review::case_handler).post(review::decision_handler),
        )
        .route("/cases/{id}/pictures/{n}", get(review::picture_handler))
        .route("/signin", get(signin::page_handler))
        .route("/signin/start", get(signin::start_handler))
        .route("/signin/callback", get(signin::callback_handler))
        .route("/signout", post(review::signout_handler))
        .route("/passkey.js", get(passkey::script_handler))
        .route("/enrol", get(passkey::enrol_page_handler))
        .route("/enrol/begin", post(passkey::enrol_begin_handler))
        .route("/enrol/finish", post(passkey::enrol_finish_handler))
        .route("/passkey/begin", post(passkey::sign_in_begin_handler))
        .route("/passkey/finish", post(passkey::sign_in_finish_handler))
        .route(
            "/devices",
            get(devices::list_handler).post(devices::register_handler),
        )
        .route("/devices/revoke", post(devices::revoke_handler))
        .route("/recoveries", get(recoveries::search_handler))
        .route("/recoveries/{id}", get(recoveries::timeline_handler))
        .route("/audit", get(audit::browse_handler))
        .route("/audit/verify", post(audit::verify_handler))
        .route("/audit/export", get(audit::export_handler))
        .route("/policy", get(system::policy_handler))
        .route("/health", get(system::health_handler))
}

/// Where the console is served, as browsers reach it.
pub struct Console {
    /// `scheme://host[:port]`: the only origin a console form may come from.
    pub origin: String,
    /// Over https: cookies are `Secure` and carry the `__Host-` prefix.
    pub secure: bool,
}

impl Console {
    pub fn of(app: &App) -> Console {
        let url = app
            .config
            .admin
            .url
            .as_deref()
            .unwrap_or(&app.config.public_url);
        let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
        let host = rest.split('/').next().unwrap_or(rest);
        Console {
            origin: format!(
                "{}://{}",
                scheme.to_ascii_lowercase(),
                host.to_ascii_lowercase()
            ),
            secure: scheme.eq_ignore_ascii_case("https"),
        }
    }

    /// The sign-in cookie's name.
    pub fn session_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-reclaim_admin"
        } else {
            "reclaim_admin"
        }
    }

    /// A `Set-Cookie` value for `name` = `value`, living `max_age_s` (0: deleted).
    /// HttpOnly always; `SameSite` as given (`Strict` for the sign-in, `Lax` for the
    /// provider's round trip, whose return is a navigation from the provider's site).
    pub fn cookie(&self, name: &str, value: &str, max_age_s: u64, same_site: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite={same_site}{secure}"
        )
    }
}

/// The value of cookie `name` in the request, if it carries exactly one.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    if found.is_some() {
                        // Two cookies of one name: one was planted (a sibling domain can
                        // set a cookie for this host). Neither is trusted.
                        return None;
                    }
                    found = Some(v);
                }
            }
        }
    }
    found
}

/// The signed-in person of this request. A request another site's page made (a link, an
/// image, a frame: `Sec-Fetch-Site` other than `same-origin` or `none`) signs no one
/// in, whatever cookie it carries: the console is reached from its own pages or typed in.
pub async fn signed_in(app: &App, headers: &HeaderMap) -> Result<Admin, PageError> {
    let console = Console::of(app);
    // Only the console's own pages (`same-origin`) and what the person typed or
    // bookmarked (`none`); not `same-site`: a page on a sibling host of the company's
    // could load a case's pictures into its own process.
    let cross_site = headers.get("sec-fetch-site").is_some_and(|v| {
        !v.as_bytes().eq_ignore_ascii_case(b"same-origin")
            && !v.as_bytes().eq_ignore_ascii_case(b"none")
    });
    let secret = cookie(headers, console.session_cookie()).filter(|_| !cross_site);
    Ok(admin::authenticate(app, secret).await?)
}

/// A change (a form posted): the signed-in person, if the request came from the console's
/// own origin and carries this sign-in's form token. A cookie sent along by another site's
/// page (or copied into another browser's request from elsewhere) fails here.
pub async fn form_from(
    app: &App,
    headers: &HeaderMap,
    form_token: &str,
) -> Result<Admin, PageError> {
    let console = Console::of(app);
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim_end_matches('/').to_ascii_lowercase());
    if origin.as_deref() != Some(console.origin.as_str()) {
        return Err(admin::form_invalid().into());
    }
    let admin = signed_in(app, headers).await?;
    admin.check_form(form_token)?;
    Ok(admin)
}
