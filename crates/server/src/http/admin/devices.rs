//! The devices: every registered key with its tier and last use, for admins and
//! auditors; an admin revokes a key or registers a managed one here.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

use super::page::{render, PageError};
use super::parts::{done, when, when_opt, Pager};
use super::{form_from, signed_in};
use crate::admin::{pages, Role};
use crate::http::html::escape;
use crate::App;

#[derive(Deserialize)]
pub struct DevicesQuery {
    #[serde(default)]
    page: i64,
    #[serde(default)]
    done: Option<String>,
}

/// `GET /admin/devices`.
pub async fn list_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<DevicesQuery>,
) -> Result<Response, PageError> {
    let admin = signed_in(&app, &headers).await?;
    admin.require(&[Role::Admin, Role::Auditor])?;
    let page = Pager::page(q.page);
    let (list, total) = pages::devices(&app, page).await?;
    let can_change = admin.has(Role::Admin);
    let csrf = escape(&admin.csrf);
    let mut body = String::new();
    match q.done.as_deref() {
        Some("revoked") => body.push_str(&done(
            "Revoked: the key is refused from its next request on.",
        )),
        Some("registered") => body.push_str(&done("Registered as a managed device.")),
        _ => {}
    }
    body.push_str(&format!(
        "<p>{total} registered device{}, newest first.</p>",
        if total == 1 { "" } else { "s" }
    ));
    if !list.is_empty() {
        body.push_str(
            "<div class=\"scroll\"><table><caption class=\"skip\">Devices</caption><thead><tr>\
             <th scope=\"col\">Name</th><th scope=\"col\">Tier</th><th scope=\"col\">Key id</th>\
             <th scope=\"col\">Registered</th><th scope=\"col\">Revoked</th><th scope=\"col\">Last use</th>",
        );
        if can_change {
            body.push_str("<th scope=\"col\">Change</th>");
        }
        body.push_str("</tr></thead><tbody>");
        for l in &list {
            let d = &l.device;
            let kid = escape(&d.key_id);
            body.push_str(&format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td><code>{kid}</code></td><td>{}</td><td>{}</td><td>{}</td>",
                escape(&d.name),
                d.tier.as_str(),
                when(d.created_at),
                when_opt(d.revoked_at),
                when_opt(l.last_used),
            ));
            if can_change {
                if d.revoked_at.is_none() {
                    body.push_str(&format!(
                        "<td><form method=\"post\" action=\"/admin/devices/revoke\">\
                         <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
                         <input type=\"hidden\" name=\"key_id\" value=\"{kid}\">\
                         <button class=\"refuse\" type=\"submit\" aria-label=\"Revoke {}\">Revoke</button></form></td>",
                        escape(&d.name)
                    ));
                } else {
                    body.push_str("<td></td>");
                }
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div>");
    }
    let more = (page + 1) * pages::PER_PAGE < total;
    body.push_str(&Pager::new("/admin/devices", &[]).numbered(page, more));
    if can_change {
        body.push_str(&format!(
            "<h2>Register a managed device</h2>\
             <p>A kiosk or a managed laptop, by its public key (<code>reclaim device register</code> prints it). \
             A TPM-held key is registered as hardware from the command line: its proof takes two steps.</p>\
             <form method=\"post\" action=\"/admin/devices\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label for=\"name\">Name</label><input id=\"name\" name=\"name\" required maxlength=\"64\">\
             <label for=\"public_key\">Public key (base64)</label><input id=\"public_key\" name=\"public_key\" required maxlength=\"256\" size=\"60\">\
             <div><button type=\"submit\">Register</button></div></form>"
        ));
    }
    Ok(render(
        StatusCode::OK,
        Some(&admin),
        "/admin/devices",
        "Devices",
        &body,
    ))
}

#[derive(Deserialize)]
pub struct RevokeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key_id: String,
}

/// `POST /admin/devices/revoke`: an admin revokes a key.
pub async fn revoke_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<RevokeForm>,
) -> Result<Response, PageError> {
    let admin = form_from(&app, &headers, &form.csrf).await?;
    admin.require(&[Role::Admin])?;
    pages::revoke_device(&app, &admin, &form.key_id).await?;
    Ok(Redirect::to("/admin/devices?done=revoked").into_response())
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    public_key: String,
    #[serde(default)]
    name: String,
}

/// `POST /admin/devices`: an admin registers a managed device.
pub async fn register_handler(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Form(form): Form<RegisterForm>,
) -> Result<Response, PageError> {
    let admin = form_from(&app, &headers, &form.csrf).await?;
    admin.require(&[Role::Admin])?;
    pages::register_device(&app, &admin, &form.public_key, &form.name).await?;
    Ok(Redirect::to("/admin/devices?done=registered").into_response())
}
