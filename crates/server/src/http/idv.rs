//! The identity-verification provider's endpoints (`[idv]`, crate::idv), under the
//! issuer's path: discovery, JWKS, PAR, the authorization page, its status and finish,
//! the token endpoint, and the page's script. OAuth endpoints answer OAuth's error body
//! (`{"error", "error_description"}`, RFC 6749 section 5.2); the browser's pages answer
//! HTML, and never send a browser to a redirect_uri before its request is known.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use reclaim_protocol::Code;
use serde::Deserialize;
use serde_json::json;

use super::html::{escape, page};
use super::{client_addr, ApiError};
use crate::idv::Provider;
use crate::recovery::idv::{self as flow, Finished};
use crate::App;

/// The pages' policy: their own script only, which may ask this server only.
const CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The routes, under the issuer's path (`/idv`).
pub fn routes(prefix: &str) -> Router<Arc<App>> {
    Router::new()
        .route(
            &format!("{prefix}/.well-known/openid-configuration"),
            get(discovery_handler),
        )
        .route(&format!("{prefix}/jwks"), get(jwks_handler))
        .route(&format!("{prefix}/par"), post(par_handler))
        .route(&format!("{prefix}/authorize"), get(authorize_handler))
        .route(&format!("{prefix}/status/{{session}}"), get(status_handler))
        .route(&format!("{prefix}/finish/{{session}}"), get(finish_handler))
        .route(&format!("{prefix}/token"), post(token_handler))
        .route(&format!("{prefix}/wait.js"), get(script_handler))
}

/// A refusal as OAuth's error body, with `WWW-Authenticate` for `invalid_client`.
fn oauth_error(e: ApiError) -> Response {
    let mut response = (
        e.status,
        axum::Json(json!({ "error": e.code.as_str(), "error_description": e.message })),
    )
        .into_response();
    if e.code == Code::InvalidClient {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"reclaim-idv\""),
        );
    }
    response
}

/// A refusal as a page for the person's browser.
fn error_page(e: ApiError) -> Response {
    let status = if e.status.is_server_error() {
        e.status
    } else {
        StatusCode::BAD_REQUEST
    };
    page(
        status,
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Identity verification</title></head>\
             <body><main><h1>Identity verification</h1><p>{}</p></main></body></html>",
            escape(&e.message)
        ),
        CSP,
    )
}

fn provider(app: &App) -> Result<&Arc<Provider>, ApiError> {
    app.idv
        .as_ref()
        .ok_or_else(|| ApiError::new(Code::NotFound, "no such endpoint"))
}

fn form_of(form: Result<Form<flow::Form>, FormRejection>) -> Result<flow::Form, ApiError> {
    form.map(|Form(f)| f).map_err(|_| {
        ApiError::new(
            Code::InvalidRequest,
            "send the request as application/x-www-form-urlencoded",
        )
    })
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

fn json_no_store(status: StatusCode, value: &serde_json::Value) -> Response {
    let mut response = (status, axum::Json(value)).into_response();
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `GET {issuer}/.well-known/openid-configuration`.
async fn discovery_handler(State(app): State<Arc<App>>) -> Response {
    json_no_store(StatusCode::OK, &flow::discovery(&app.config.idv))
}

/// `GET {issuer}/jwks`: every signing key, current first.
async fn jwks_handler(State(app): State<Arc<App>>) -> Response {
    match provider(&app) {
        Ok(p) => json_no_store(StatusCode::OK, &p.keys.jwks()),
        Err(e) => oauth_error(e),
    }
}

/// `POST {issuer}/par`.
async fn par_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Form<flow::Form>, FormRejection>,
) -> Response {
    let answer = async {
        let p = provider(&app)?;
        let form = form_of(form)?;
        let creds = flow::credentials(authorization(&headers), &form)?;
        flow::push(&app, p, &creds, &form).await
    }
    .await;
    match answer {
        Ok(pushed) => json_no_store(
            StatusCode::CREATED,
            &json!({ "request_uri": &*pushed.request_uri, "expires_in": pushed.expires_in }),
        ),
        Err(e) => oauth_error(e),
    }
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    request_uri: Option<String>,
}

fn cookie_name(session_id: &str) -> String {
    format!("reclaim_idv_{session_id}")
}

/// The cookie binding this browser to `session_id`'s request.
fn browser_secret<'h>(headers: &'h HeaderMap, session_id: &str) -> Option<&'h str> {
    let name = cookie_name(session_id);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The page's element the script and the tests read: where to poll and where to go.
fn waiting_main(prefix: &str, session_id: &str) -> String {
    format!(
        "<main id=\"idv\" data-session=\"{sid}\" data-status=\"{prefix}/status/{sid}\" data-finish=\"{prefix}/finish/{sid}\">",
        sid = escape(session_id),
        prefix = escape(prefix),
    )
}

/// `GET {issuer}/authorize?client_id&request_uri`: the page that starts the verification.
async fn authorize_handler(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<AuthorizeQuery>,
) -> Response {
    let addr = client_addr(&app, &peer, &headers);
    if let Err(e) = provider(&app) {
        return error_page(e);
    }
    let started = match flow::authorize(
        &app,
        &addr,
        q.client_id.as_deref(),
        q.request_uri.as_deref(),
    )
    .await
    {
        Ok(s) => s,
        Err(e) => return error_page(e),
    };
    let config = &app.config.idv;
    let prefix = config.prefix();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Verify your identity</title>\
         <script src=\"{prefix}/wait.js\" defer></script></head><body>{main}\
         <h1>Verify your identity with Reclaim</h1>\
         <p>Open the Reclaim app on your phone and scan this code, or open the link on the phone. \
         You will photograph your ID document and take a short selfie. Keep this page open: it goes on by itself once you are done.</p>\
         <p><a id=\"handoff\" href=\"{payload}\">Continue in the Reclaim app</a></p>\
         <pre id=\"handoff-text\">{payload}</pre>\
         <p><a id=\"finish\" href=\"{prefix}/finish/{sid}\">I have finished on my phone</a></p>\
         </main></body></html>",
        prefix = escape(prefix),
        main = waiting_main(prefix, &started.session_id),
        payload = escape(&started.handoff),
        sid = escape(&started.session_id),
    );
    let mut response = page(StatusCode::OK, html, CSP);
    let secure = if config.issuer().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let max_age = (started.expires_at - crate::store::now()).max(0);
    let cookie = format!(
        "{}={}; Path={prefix}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(&started.session_id),
        &*started.browser_secret,
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `GET {issuer}/status/{session}`: `{"done": bool}` for the page's script.
async fn status_handler(
    State(app): State<Arc<App>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match flow::done(&app, &session_id, browser_secret(&headers, &session_id)).await {
        Ok(done) => json_no_store(StatusCode::OK, &json!({ "done": done })),
        Err(e) => oauth_error(e),
    }
}

/// `GET {issuer}/finish/{session}`: back to the relying party, or a page saying to wait.
async fn finish_handler(
    State(app): State<Arc<App>>,
    Path(session_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    match flow::finish(&app, &session_id, browser_secret(&headers, &session_id)).await {
        Ok(Finished::Redirect { location, .. }) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            match HeaderValue::from_str(&location) {
                Ok(v) => {
                    response.headers_mut().insert(header::LOCATION, v);
                    response.headers_mut().insert(
                        header::REFERRER_POLICY,
                        HeaderValue::from_static("no-referrer"),
                    );
                    response
                }
                Err(_) => error_page(ApiError::new(Code::InternalError, "internal error")),
            }
        }
        Ok(Finished::Pending) => {
            let prefix = app.config.idv.prefix();
            page(
                StatusCode::OK,
                format!(
                    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Verify your identity</title>\
                     <script src=\"{p}/wait.js\" defer></script></head><body>{main}\
                     <h1>Not finished yet</h1><p>Finish the verification in the Reclaim app; this page goes on by itself.</p>\
                     </main></body></html>",
                    p = escape(prefix),
                    main = waiting_main(prefix, &session_id),
                ),
                CSP,
            )
        }
        Err(e) => error_page(e),
    }
}

/// `POST {issuer}/token`.
async fn token_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    form: Result<Form<flow::Form>, FormRejection>,
) -> Response {
    let answer = async {
        let p = provider(&app)?;
        let form = form_of(form)?;
        let creds = flow::credentials(authorization(&headers), &form)?;
        flow::token(&app, p, &creds, &form).await
    }
    .await;
    match answer {
        Ok(body) => json_no_store(StatusCode::OK, &body),
        Err(e) => oauth_error(e),
    }
}

/// The page's script: polls the status, then goes to finish.
const WAIT_JS: &str = r#"(function () {
  var main = document.getElementById("idv");
  if (!main) return;
  function poll() {
    fetch(main.dataset.status, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { done: false }; })
      .then(function (s) {
        if (s.done) { window.location.href = main.dataset.finish; }
        else { setTimeout(poll, 2000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
"#;

async fn script_handler() -> Response {
    let mut response = WAIT_JS.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    response
}
