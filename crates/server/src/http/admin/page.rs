//! The console's layout: one stylesheet, no script but the passkey pages' one file,
//! landmarks and a skip link; the navigation shows only what the person's roles open.
//! Refusals are pages too.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::admin::{Admin, Role};
use crate::error::ApiError;
use crate::http::html::{self, escape};
use reclaim_protocol::Code;

/// Pictures and the stylesheet from the console itself; nothing else, no script at all.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The pages that use a passkey (sign-in, enrolment): [`CSP`], and the console's one
/// script file and requests to the console itself. WebAuthn has no way without script.
const CSP_PASSKEY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str = r#"
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f7f7f8;line-height:1.45}
a{color:#0b57d0}
a:focus,button:focus,textarea:focus,input:focus{outline:3px solid #f9a825;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:1em;top:1em;background:#fff;padding:.5em}
header{background:#1f2937;color:#fff;padding:.6em 1em;display:flex;flex-wrap:wrap;gap:.5em 1.5em;align-items:center}
header a{color:#fff}header .who{margin-left:auto;font-size:.9em}
header form{display:inline}
nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1em}
nav a[aria-current]{font-weight:bold;text-decoration:none;border-bottom:2px solid #fff}
main{max-width:72em;margin:0 auto;padding:1em}
h1{font-size:1.5em;margin:.3em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#eef0f3}
.scroll{overflow-x:auto}
.note{background:#fff;border-left:4px solid #0b57d0;padding:.6em 1em;margin:1em 0}
.warn{border-left-color:#b3261e}
.ok{border-left-color:#1e7b34}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(11em,1fr));gap:.8em}
figure{margin:0;background:#fff;padding:.4em;border:1px solid #ddd}
figure img{width:100%;height:auto;display:block}
figcaption{font-size:.85em;color:#444}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3em 1em;background:#fff;padding:.8em;margin:0}
dt{font-weight:600}dd{margin:0}
textarea{width:100%;max-width:40em;min-height:4em;font:inherit;padding:.4em}
label{display:block;font-weight:600;margin:.6em 0 .3em}
button{font:inherit;padding:.55em 1.1em;border-radius:4px;border:1px solid #666;background:#fff;cursor:pointer;margin:.4em .4em 0 0}
button.approve{background:#1e7b34;color:#fff;border-color:#1e7b34}
button.refuse{background:#b3261e;color:#fff;border-color:#b3261e}
header button{padding:.2em .6em;margin:0}
.pager{margin:1em 0;display:flex;gap:1em}
@media (max-width:40em){dl{grid-template-columns:1fr}dt{margin-top:.4em}}
"#;

/// `GET /admin/style.css`.
pub async fn style_handler() -> Response {
    let mut response = STYLE.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The console's sections, the roles that open each, and their paths.
const SECTIONS: &[(&str, &str, &[Role])] = &[
    (
        "Review queue",
        "/admin/queue",
        &[Role::Reviewer, Role::Admin],
    ),
    (
        "Recoveries",
        "/admin/recoveries",
        &[Role::Admin, Role::Auditor, Role::Reviewer],
    ),
    ("Devices", "/admin/devices", &[Role::Admin, Role::Auditor]),
    ("Audit", "/admin/audit", &[Role::Admin, Role::Auditor]),
    ("Policy", "/admin/policy", &[Role::Admin, Role::Auditor]),
    (
        "Health",
        "/admin/health",
        &[Role::Admin, Role::Auditor, Role::Reviewer],
    ),
];

/// A whole page: `title`, the navigation for `admin` (with `current` marked) and `body`.
pub fn render(
    status: StatusCode,
    admin: Option<&Admin>,
    current: &str,
    title: &str,
    body: &str,
) -> Response {
    render_with(status, admin, current, title, body, CSP)
}

/// A page of [`render`] that runs the console's passkey script (`/admin/passkey.js`).
pub fn render_passkey(status: StatusCode, title: &str, body: &str) -> Response {
    let body = format!("{body}<script src=\"/admin/passkey.js\" defer></script>");
    render_with(status, None, "", title, &body, CSP_PASSKEY)
}

fn render_with(
    status: StatusCode,
    admin: Option<&Admin>,
    current: &str,
    title: &str,
    body: &str,
    csp: &str,
) -> Response {
    let nav = match admin {
        Some(a) => {
            let links: String = SECTIONS
                .iter()
                .filter(|(_, _, roles)| roles.iter().any(|r| a.has(*r)))
                .map(|(name, path, _)| {
                    let mark = if *path == current {
                        " aria-current=\"page\""
                    } else {
                        ""
                    };
                    format!("<li><a href=\"{path}\"{mark}>{name}</a></li>")
                })
                .collect();
            let roles: Vec<&str> = a.roles.iter().map(|r| r.as_str()).collect();
            format!(
                "<nav aria-label=\"Console\"><ul>{links}</ul></nav>\
                 <div class=\"who\">Signed in as {} ({}) \
                 <form method=\"post\" action=\"/admin/signout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <button type=\"submit\">Sign out</button></form></div>",
                escape(&a.name),
                escape(&roles.join(", ")),
                escape(&a.csrf),
            )
        }
        None => String::new(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\">\
         <title>{} · Reclaim console</title><link rel=\"stylesheet\" href=\"/admin/style.css\"></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>\
         <header><strong>Reclaim console</strong>{nav}</header>\
         <main id=\"main\" tabindex=\"-1\"><h1>{}</h1>{body}</main></body></html>",
        escape(title),
        escape(title),
    );
    let mut response = html::page(status, html, csp);
    // Same-origin, not no-referrer: under no-referrer a browser sends `Origin: null` with
    // the console's own forms, which the origin check must refuse. Other sites still get
    // no referrer (case addresses name sessions).
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

/// A refusal, shown as a page: the code's status and sentence, and the way on.
#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        PageError(e)
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        let way_on = match e.code {
            Code::AdminSignInRequired | Code::AdminSignInFailed => {
                "<p><a href=\"/admin/signin\">Sign in</a></p>"
            }
            _ => "<p><a href=\"/admin\">Back to the console</a></p>",
        };
        if e.status.is_server_error() {
            tracing::warn!(code = e.code.as_str(), "console page failed");
        }
        // A server fault's details stay in the log.
        let message = if e.status.is_server_error() {
            "Something went wrong on the server; try again, and tell the operators if it persists."
                .to_string()
        } else {
            e.message.clone()
        };
        render(
            e.status,
            None,
            "",
            "Not done",
            &format!(
                "<p class=\"note warn\" role=\"alert\">{} <small>({})</small></p>{way_on}",
                escape(&message),
                e.code.as_str()
            ),
        )
    }
}
