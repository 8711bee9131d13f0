//! The admin console's review pages over HTTP, as a browser (or an attacker's script)
//! reaches them: who may see and decide what, and which forms count. People are signed in
//! here by the library's own `admin::sign_in` (what the provider's callback ends in); the
//! sign-in through a real OpenID provider and the pages in a real browser are tested in
//! oidc.rs and the console's browser tests.

use reclaim_server::admin::{self, Role, SignedIn};
use reqwest::header::{COOKIE, ORIGIN};
use reqwest::redirect::Policy;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    the_console_wants_a_sign_in,
    an_auditor_sees_the_queue_but_decides_nothing,
    a_form_counts_only_with_its_token_from_the_console_origin,
    a_reviewer_approves_through_the_page,
    a_sign_in_ends_when_signed_out_or_idle,
    a_case_page_asks_for_each_picture_on_its_own,
);

const CONSOLE: &str = r#"
[admin]
idle_timeout_s = 600
[admin.oidc]
issuer = "https://idp.example.test"
client_id = "reclaim-console"
reviewer_groups = ["reviewers"]
auditor_groups = ["auditors"]
"#;

/// The console's origin: the harness's public URL.
const ORIGIN_OK: &str = PUBLIC_URL;
/// Its sign-in cookie over https.
const COOKIE_NAME: &str = "__Host-reclaim_admin";

async fn harness(db: Db) -> Harness {
    Harness::with(
        db,
        Options {
            policy: "review_queue = true".into(),
            extra: CONSOLE.into(),
            ..Options::default()
        },
    )
    .await
}

/// A browser: no redirect followed, so each answer is seen.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Someone signed in with `roles`: their cookie secret.
async fn signed_in(h: &Harness, who: &str, roles: &[Role]) -> String {
    admin::sign_in(
        &h.app,
        &SignedIn {
            subject: format!("https://idp.example.test {who}"),
            name: who.into(),
            roles: roles.to_vec(),
            aliases: vec![who.into(), format!("{who}@example.com")],
        },
    )
    .await
    .unwrap()
    .to_string()
}

async fn get(
    h: &Harness,
    path: &str,
    cookie: Option<&str>,
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut r = browser().get(h.url(path));
    if let Some(c) = cookie {
        r = r.header(COOKIE, format!("{COOKIE_NAME}={c}"));
    }
    let answer = r.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    (status, answer.text().await.unwrap(), headers)
}

async fn post(
    h: &Harness,
    path: &str,
    cookie: &str,
    origin: Option<&str>,
    form: &[(&str, &str)],
) -> (u16, String, reqwest::header::HeaderMap) {
    let mut r = browser()
        .post(h.url(path))
        .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
        .form(form);
    if let Some(o) = origin {
        r = r.header(ORIGIN, o);
    }
    let answer = r.send().await.unwrap();
    let status = answer.status().as_u16();
    let headers = answer.headers().clone();
    (status, answer.text().await.unwrap(), headers)
}

/// The form token a page embeds.
fn form_token(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form token on the page")
        + 19;
    page[at..].split('"').next().unwrap().to_string()
}

/// A case waiting: Avery's document names only an initial.
async fn case(h: &Harness) -> OpenSession {
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = Some(document("QUINN", "A"));
    assert_outcome(h.attest(&s, &c, &h.kiosk).await, "review");
    s
}

async fn the_console_wants_a_sign_in(db: Db) {
    let h = harness(db).await;
    let s = case(&h).await;
    let (status, _, headers) = get(&h, "/admin", None).await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/admin/signin");
    for path in [
        "/admin/queue",
        &format!("/admin/cases/{}", s.id),
        &format!("/admin/cases/{}/pictures/0", s.id),
    ] {
        let (status, page, headers) = get(&h, path, None).await;
        assert_eq!(status, 401, "{path}: {page}");
        assert!(page.contains("admin_sign_in_required"), "{page}");
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'"));
        // A made-up cookie is no sign-in either.
        let (status, _, _) = get(&h, path, Some("ra_made_up")).await;
        assert_eq!(status, 401);
    }
    // A valid cookie on a request another site made signs no one in.
    let cookie = signed_in(&h, "rita", &[Role::Reviewer]).await;
    let answer = browser()
        .get(h.url("/admin/queue"))
        .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    // Nor on one a sibling host's page made (an <img> on another of the company's sites).
    let answer = browser()
        .get(h.url("/admin/queue"))
        .header(COOKIE, format!("{COOKIE_NAME}={cookie}"))
        .header("sec-fetch-site", "same-site")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
    assert_eq!(
        answer.headers()["cross-origin-resource-policy"],
        "same-origin"
    );
    // Two cookies of the name (one planted): neither counts.
    let answer = browser()
        .get(h.url("/admin/queue"))
        .header(
            COOKIE,
            format!("{COOKIE_NAME}={cookie}; {COOKIE_NAME}=ra_planted"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 401);
}

async fn an_auditor_sees_the_queue_but_decides_nothing(db: Db) {
    let h = harness(db).await;
    let s = case(&h).await;
    let auditor = signed_in(&h, "audrey", &[Role::Auditor]).await;
    // The queue lists the case for an admin or a reviewer only.
    let (status, page, _) = get(&h, "/admin/queue", Some(&auditor)).await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("admin_role_missing"));
    let (status, _, _) = get(&h, &format!("/admin/cases/{}", s.id), Some(&auditor)).await;
    assert_eq!(status, 403);
    let (status, _, _) = get(
        &h,
        &format!("/admin/cases/{}/pictures/0", s.id),
        Some(&auditor),
    )
    .await;
    assert_eq!(status, 403);
    // Their own form token, from the console's origin: still not a reviewer.
    let token = session_token(&h, &auditor).await;
    let (status, page, _) = post(
        &h,
        &format!("/admin/cases/{}", s.id),
        &auditor,
        Some(ORIGIN_OK),
        &[
            ("csrf", &token),
            ("verdict", "approve"),
            ("reason", "looks fine"),
        ],
    )
    .await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("admin_role_missing"));
    assert_eq!(h.count("SELECT COUNT(*) FROM review_votes").await, 0);
    assert_eq!(h.status_of(&s).await.1["state"], "review");
}

/// The form token of the sign-in whose cookie is `cookie` (what its pages embed).
async fn session_token(h: &Harness, cookie: &str) -> String {
    admin::authenticate(&h.app, Some(cookie))
        .await
        .unwrap()
        .csrf
}

async fn a_form_counts_only_with_its_token_from_the_console_origin(db: Db) {
    let h = harness(db).await;
    let s = case(&h).await;
    let rita = signed_in(&h, "rita", &[Role::Reviewer]).await;
    let sam = signed_in(&h, "sam", &[Role::Reviewer]).await;
    let (status, page, _) = get(&h, &format!("/admin/cases/{}", s.id), Some(&rita)).await;
    assert_eq!(status, 200, "{page}");
    let token = form_token(&page);
    let sams_token = session_token(&h, &sam).await;
    let path = format!("/admin/cases/{}", s.id);
    let approve = |t: &str| {
        vec![
            ("csrf", t.to_string()),
            ("verdict", "approve".into()),
            ("reason", "same person".into()),
        ]
    };
    for (origin, token, why) in [
        (Some(ORIGIN_OK), "", "no token"),
        (Some(ORIGIN_OK), "not-the-token", "a wrong token"),
        (
            Some(ORIGIN_OK),
            sams_token.as_str(),
            "another sign-in's token",
        ),
        (
            Some("https://evil.example"),
            token.as_str(),
            "another origin",
        ),
        (Some("null"), token.as_str(), "an opaque origin"),
        (None, token.as_str(), "no origin"),
    ] {
        let form = approve(token);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, page, _) = post(&h, &path, &rita, origin, &form).await;
        assert_eq!(status, 403, "{why}: {page}");
        assert!(page.contains("admin_form_invalid"), "{why}: {page}");
    }
    assert_eq!(h.count("SELECT COUNT(*) FROM review_votes").await, 0);
    assert_eq!(h.status_of(&s).await.1["state"], "review");
}

async fn a_reviewer_approves_through_the_page(db: Db) {
    let h = harness(db).await;
    let s = case(&h).await;
    let rita = signed_in(&h, "rita", &[Role::Reviewer]).await;
    let (status, queue, _) = get(&h, "/admin/queue", Some(&rita)).await;
    assert_eq!(status, 200);
    assert!(queue.contains(&format!("/admin/cases/{}", s.id)), "{queue}");
    assert!(queue.contains("document_name_partial"), "{queue}");
    let (_, page, _) = get(&h, &format!("/admin/cases/{}", s.id), Some(&rita)).await;
    assert!(page.contains("QUINN") && page.contains("Approve"), "{page}");
    assert_eq!(h.audit_count_of("review_case_opened").await, 1);
    let token = form_token(&page);
    // A verdict that is neither.
    let (status, _, _) = post(
        &h,
        &format!("/admin/cases/{}", s.id),
        &rita,
        Some(ORIGIN_OK),
        &[("csrf", &token), ("verdict", "maybe"), ("reason", "hm")],
    )
    .await;
    assert_eq!(status, 400);
    let (status, _, headers) = post(
        &h,
        &format!("/admin/cases/{}", s.id),
        &rita,
        Some(ORIGIN_OK),
        &[
            ("csrf", &token),
            ("verdict", "approve"),
            ("reason", "the initial is Avery's"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/admin/queue?done=approved");
    let st = h.status_of(&s).await.1;
    assert_eq!(st["decision"]["outcome"], "approved", "{st}");
    // Decided: the case page is gone, and so are its pictures.
    let (status, _, _) = get(&h, &format!("/admin/cases/{}", s.id), Some(&rita)).await;
    assert_eq!(status, 404);
    assert_chain_intact(&h.app).await;
}

async fn a_sign_in_ends_when_signed_out_or_idle(db: Db) {
    let h = harness(db).await;
    let rita = signed_in(&h, "rita", &[Role::Reviewer]).await;
    let token = session_token(&h, &rita).await;
    let (status, _, headers) = post(
        &h,
        "/admin/signout",
        &rita,
        Some(ORIGIN_OK),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(status, 303);
    let cleared = headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with(&format!("{COOKIE_NAME}=;")) && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, _, _) = get(&h, "/admin/queue", Some(&rita)).await;
    assert_eq!(status, 401);
    assert_eq!(h.audit_count_of("admin_signed_out").await, 1);

    let sam = signed_in(&h, "sam", &[Role::Reviewer]).await;
    assert_eq!(get(&h, "/admin/queue", Some(&sam)).await.0, 200);
    // Idle past admin.idle_timeout_s.
    h.execute("UPDATE admin_sessions SET last_seen = last_seen - 601")
        .await;
    assert_eq!(get(&h, "/admin/queue", Some(&sam)).await.0, 401);
}

async fn a_case_page_asks_for_each_picture_on_its_own(db: Db) {
    let h = harness(db).await;
    let s = case_with_pictures(&h).await;
    let sent = pictures();
    let rita = signed_in(&h, "rita", &[Role::Reviewer]).await;
    let (status, page, _) = get(&h, &format!("/admin/cases/{}", s.id), Some(&rita)).await;
    assert_eq!(status, 200);
    for n in 0..sent.len() {
        assert!(
            page.contains(&format!("/admin/cases/{}/pictures/{n}\"", s.id)),
            "{page}"
        );
    }
    assert!(page.contains("Selfie frame 2 of 4, at 0.2 s"), "{page}");
    // Each picture as the app sent it, never cached.
    for (n, (_, bytes, _)) in sent.iter().enumerate() {
        let answer = browser()
            .get(h.url(&format!("/admin/cases/{}/pictures/{n}", s.id)))
            .header(COOKIE, format!("{COOKIE_NAME}={rita}"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
        assert_eq!(answer.headers()["content-type"], "image/png");
        assert_eq!(answer.headers()["cache-control"], "no-store");
        assert_eq!(answer.bytes().await.unwrap().as_ref(), bytes.as_slice());
    }
    let (status, _, _) = get(
        &h,
        &format!("/admin/cases/{}/pictures/{}", s.id, sent.len()),
        Some(&rita),
    )
    .await;
    assert_eq!(status, 404);
}

/// The console on a listener of its own, at a port chosen before the provider starts
/// (which must know the callback address exactly), signing in through the real provider.
struct WithProvider {
    h: Harness,
    op: reclaim_testkit::OidcProvider,
    console: String,
}

async fn with_provider() -> WithProvider {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let console = format!("http://127.0.0.1:{port}");
    let callback = format!("{console}/admin/signin/callback");
    let op = reclaim_testkit::OidcProvider::start(&[&callback]).unwrap();
    let extra = format!(
        r#"
[admin]
listen = "127.0.0.1:{port}"
url = "{console}"
{oidc}"#,
        oidc = op.console_section(),
    );
    let h = Harness::with(
        Db::sqlite(),
        Options {
            policy: "review_queue = true".into(),
            extra,
            ..Options::default()
        },
    )
    .await;
    WithProvider { h, op, console }
}

/// `GET` on the console's own listener, with `cookies` (`name=value; ...`).
async fn console_get(w: &WithProvider, path: &str, cookies: &str) -> reqwest::Response {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", w.console)
    };
    let mut r = browser().get(url);
    if !cookies.is_empty() {
        r = r.header(COOKIE, cookies);
    }
    r.send().await.unwrap()
}

/// The `name=value` part of the answer's `Set-Cookie` for `name`.
fn set_cookie(answer: &reqwest::Response, name: &str) -> Option<String> {
    answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_string())
}

/// Starts a sign-in in a fresh browser and lets `login` sign in at the provider: the
/// callback address and the browser's state cookie.
async fn through_provider(w: &WithProvider, login: &str) -> (String, String) {
    let start = console_get(w, "/admin/signin/start", "").await;
    assert_eq!(start.status().as_u16(), 303);
    let state_cookie = set_cookie(&start, "reclaim_signin").expect("a state cookie");
    let authorize = start.headers()["location"].to_str().unwrap().to_string();
    let back =
        w.op.sign_in(
            &authorize,
            login,
            &reclaim_testkit::OidcProvider::password(login),
        )
        .unwrap();
    (back.url, state_cookie)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_through_the_provider() {
    let w = with_provider().await;
    // The public listener has no console.
    assert_eq!(get(&w.h, "/admin/signin", None).await.0, 404);

    let (callback, state) = through_provider(&w, "alice").await;
    let back = console_get(&w, &callback, &state).await;
    assert_eq!(back.status().as_u16(), 200);
    assert_eq!(back.headers()["refresh"], "0;url=/admin");
    let session = set_cookie(&back, "reclaim_admin").expect("a sign-in cookie");
    let raw = back
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("reclaim_admin="))
        .unwrap();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Strict"),
        "{raw}"
    );
    let queue = console_get(&w, "/admin/queue", &session).await;
    assert_eq!(queue.status().as_u16(), 200);
    let page = queue.text().await.unwrap();
    assert!(
        page.contains("Signed in as Alice Example (reviewer)"),
        "{page}"
    );
    assert_eq!(w.h.audit_count_of("admin_signed_in").await, 1);

    // The same callback again (a replayed code and state): refused, nobody signed in.
    let again = console_get(&w, &callback, &state).await;
    assert_eq!(again.status().as_u16(), 401);
    assert!(set_cookie(&again, "reclaim_admin").is_none());

    // A callback in a browser that did not start the sign-in (login CSRF: a stranger's
    // callback address sent to a reviewer): refused, and the sign-in cannot be finished
    // afterwards either.
    let (callback, state) = through_provider(&w, "bob").await;
    let elsewhere = console_get(&w, &callback, "").await;
    assert_eq!(elsewhere.status().as_u16(), 401);
    let right_browser = console_get(&w, &callback, &state).await;
    assert_eq!(right_browser.status().as_u16(), 401);
    assert!(set_cookie(&right_browser, "reclaim_admin").is_none());

    // A made-up code with a real state: the provider refuses the code.
    let (callback, state) = through_provider(&w, "bob").await;
    let forged = callback.replace("code=", "code=x");
    assert_eq!(
        console_get(&w, &forged, &state).await.status().as_u16(),
        401
    );

    // Someone the provider knows, in no console group: no role, no sign-in.
    let (callback, state) = through_provider(&w, "erin").await;
    let answer = console_get(&w, &callback, &state).await;
    assert_eq!(answer.status().as_u16(), 403);
    assert!(set_cookie(&answer, "reclaim_admin").is_none());
    assert!(answer.text().await.unwrap().contains("admin_role_missing"));

    // An auditor signs in, and cannot open a case.
    let s = case(&w.h).await;
    let (callback, state) = through_provider(&w, "carol").await;
    let back = console_get(&w, &callback, &state).await;
    let carol = set_cookie(&back, "reclaim_admin").unwrap();
    let page = console_get(&w, &format!("/admin/cases/{}", s.id), &carol).await;
    assert_eq!(page.status().as_u16(), 403);
    // In the chain: the wrong browser, the made-up code, the account with no role. A
    // callback naming no sign-in under way (the replay) is only logged.
    assert_eq!(w.h.audit_count_of("admin_sign_in_refused").await, 3);
    assert_chain_intact(&w.h.app).await;

    // One address starts at most 60 sign-ins per ten minutes (5 so far).
    for _ in 0..55 {
        assert_eq!(
            console_get(&w, "/admin/signin/start", "")
                .await
                .status()
                .as_u16(),
            303
        );
    }
    assert_eq!(
        console_get(&w, "/admin/signin/start", "")
            .await
            .status()
            .as_u16(),
        429
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_the_provider_names_by_nothing_is_no_reviewer() {
    let w = with_provider().await;
    let s = case(&w.h).await;
    // frank is in the reviewers' group, but the provider gives neither a login
    // (`preferred_username`) nor a mail: nothing would tell his own recovery from
    // another's, so he is no reviewer, and with no other role, not signed in at all.
    let (callback, state) = through_provider(&w, "frank").await;
    let answer = console_get(&w, &callback, &state).await;
    assert_eq!(answer.status().as_u16(), 403);
    assert!(set_cookie(&answer, "reclaim_admin").is_none());
    assert!(answer.text().await.unwrap().contains("admin_role_missing"));
    assert_eq!(w.h.audit_count_of("admin_sign_in_refused").await, 1);
    assert_eq!(w.h.count("SELECT COUNT(*) FROM admin_sessions").await, 0);
    // Nothing to open the queue or decide with: the console asks him to sign in.
    assert_eq!(
        console_get(&w, "/admin/queue", "").await.status().as_u16(),
        401
    );
    // alice, in the same group with a verified mail, is a reviewer and opens the case.
    let (callback, state) = through_provider(&w, "alice").await;
    let back = console_get(&w, &callback, &state).await;
    let alice = set_cookie(&back, "reclaim_admin").expect("alice signed in");
    let page = console_get(&w, &format!("/admin/cases/{}", s.id), &alice).await;
    assert_eq!(page.status().as_u16(), 200);
}
