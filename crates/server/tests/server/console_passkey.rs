//! The console's local accounts with passkeys (bootstrap and break-glass), with no OpenID
//! provider configured: in real Chromium with its virtual authenticator (WebDriver's
//! WebAuthn extension), and at the HTTP level with the testkit's software authenticator
//! for what a browser would never send (a replayed assertion, another origin or RP ID,
//! an unknown credential, no user verification, a cloned counter, a used link, ...).

use std::time::Duration;

use reclaim_server::admin::{local, Role};
use reclaim_server::Config;
use reclaim_testkit::{Chromedriver, SoftAuthenticator, WebDriverSession};
use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use serde_json::{json, Value};

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    a_local_account_enrols_signs_in_and_is_removed,
    enrolment_attacks_are_refused,
    sign_in_attacks_are_refused,
);

/// The console with local accounts only: no `[admin.oidc]`.
const LOCAL_ONLY: &str = "[admin]\nlocal_accounts = true\n";

/// The relying party: the harness's public URL, `https://reclaim.example.test`.
const RP_ID: &str = "reclaim.example.test";
const SIGN_IN_COOKIE: &str = "__Host-reclaim_admin";
const CEREMONY_COOKIE: &str = "__Host-reclaim_passkey";

async fn harness(db: Db) -> Harness {
    Harness::with(
        db,
        Options {
            extra: LOCAL_ONLY.into(),
            ..Options::default()
        },
    )
    .await
}

/// Makes local account `name`: its enrolment link's secret.
async fn add(h: &Harness, name: &str, roles: &[Role]) -> String {
    let new = local::add(&h.app, name, roles, "admin:test").await.unwrap();
    assert!(
        new.link.starts_with(&format!("{PUBLIC_URL}/admin/enrol#")),
        "{}",
        new.link.as_str()
    );
    new.link.split_once('#').unwrap().1.to_string()
}

/// An answer: status, JSON body, and the cookies it set (name, value).
struct Answer {
    status: u16,
    body: Value,
    cookies: Vec<(String, String)>,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    fn refused(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.body["error"], code, "{}", self.body);
    }
}

/// A POST as the console's script makes it: JSON, from the console's origin, with the
/// ceremony's cookie when given.
async fn post(h: &Harness, path: &str, ceremony: Option<&str>, body: &Value) -> Answer {
    post_from(h, path, ceremony, Some(PUBLIC_URL), body.to_string()).await
}

async fn post_from(
    h: &Harness,
    path: &str,
    ceremony: Option<&str>,
    origin: Option<&str>,
    body: String,
) -> Answer {
    let mut r = h
        .client
        .post(h.url(path))
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    if let Some(o) = origin {
        r = r.header(ORIGIN, o);
    }
    if let Some(c) = ceremony {
        r = r.header(COOKIE, format!("{CEREMONY_COOKIE}={c}"));
    }
    let answer = r.send().await.unwrap();
    let status = answer.status().as_u16();
    let cookies = answer
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let body = answer.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        body,
        cookies,
    }
}

/// Begins an enrolment with `token`: the options and the ceremony's cookie.
async fn begin_enrolment(h: &Harness, token: &str) -> (Value, String) {
    let a = post(h, "/admin/enrol/begin", None, &json!({ "token": token })).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.cookie(CEREMONY_COOKIE).expect("a ceremony cookie");
    (a.body, cookie)
}

/// Enrols `key` with `token`: the sign-in cookie it ends in.
async fn enrol(h: &Harness, token: &str, key: &mut SoftAuthenticator) -> String {
    let (options, ceremony) = begin_enrolment(h, token).await;
    let a = post(
        h,
        "/admin/enrol/finish",
        Some(&ceremony),
        &key.create(&options),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.cookie(SIGN_IN_COOKIE).expect("signed in")
}

async fn begin_sign_in(h: &Harness) -> (Value, String) {
    let a = post(h, "/admin/passkey/begin", None, &json!({})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a.cookie(CEREMONY_COOKIE).expect("a ceremony cookie");
    (a.body, cookie)
}

/// Signs in with `key`: the answer.
async fn sign_in(h: &Harness, key: &mut SoftAuthenticator) -> Answer {
    let (options, ceremony) = begin_sign_in(h).await;
    post(
        h,
        "/admin/passkey/finish",
        Some(&ceremony),
        &key.get(&options),
    )
    .await
}

/// What page `path` shows with sign-in `cookie`.
async fn page(h: &Harness, path: &str, cookie: &str) -> (u16, String) {
    let answer = h
        .client
        .get(h.url(path))
        .header(COOKIE, format!("{SIGN_IN_COOKIE}={cookie}"))
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

async fn a_local_account_enrols_signs_in_and_is_removed(db: Db) {
    let h = harness(db).await;
    // The console is served with no OpenID provider, its sign-in page offers the passkey
    // with the one script file allowed, and no company sign-in.
    let signin = h.client.get(h.url("/admin/signin")).send().await.unwrap();
    let csp = signin.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    let text = signin.text().await.unwrap();
    assert!(text.contains("data-passkey=\"sign-in\""), "{text}");
    assert!(!text.contains("/admin/signin/start"), "{text}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // The other pages still run no script at all.
    let other = h.client.get(h.url("/admin/queue")).send().await.unwrap();
    let csp = other.headers()["content-security-policy"].to_str().unwrap();
    assert!(!csp.contains("script-src"), "{csp}");
    let script = h
        .client
        .get(h.url("/admin/passkey.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));

    let token = add(&h, "Root", &[Role::Admin]).await;
    let mut key = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 1);
    let session = enrol(&h, &token, &mut key).await;
    let (status, devices) = page(&h, "/admin/devices", &session).await;
    assert_eq!(status, 200, "{devices}");
    assert!(devices.contains("Register a managed device"), "{devices}");

    // Later, with the passkey alone.
    let a = sign_in(&h, &mut key).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["next"], "/admin");
    let session = a.cookie(SIGN_IN_COOKIE).unwrap();
    assert_eq!(page(&h, "/admin/devices", &session).await.0, 200);
    // A synced passkey keeps no counter: it signs in again and again.
    let mut synced = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 0);
    let token = add(&h, "sync", &[Role::Auditor]).await;
    enrol(&h, &token, &mut synced).await;
    for _ in 0..2 {
        assert_eq!(sign_in(&h, &mut synced).await.status, 200);
    }

    let listed = local::list(&h.app).await.unwrap();
    let root = listed.iter().find(|a| a.name == "root").unwrap();
    assert_eq!(root.passkeys, 1);
    assert_eq!(root.enrol_expires, None);
    assert!(root.last_used.is_some());
    // A second account of the same name is refused.
    assert!(local::add(&h.app, "ROOT", &[Role::Auditor], "admin:test")
        .await
        .is_err());

    // Removed: its sign-ins end, and its passkey opens nothing.
    assert!(local::remove(&h.app, "root", "admin:test").await.unwrap());
    assert_eq!(page(&h, "/admin/devices", &session).await.0, 401);
    sign_in(&h, &mut key)
        .await
        .refused(401, "admin_sign_in_failed");
    assert!(!local::remove(&h.app, "root", "admin:test").await.unwrap());

    let kinds = h.audit_kinds().await;
    for kind in [
        "admin_local_added",
        "admin_passkey_enrolled",
        "admin_signed_in",
        "admin_local_removed",
        "admin_passkey_refused",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind}: {kinds:?}");
    }
    let methods = h
        .count("SELECT COUNT(*) FROM audit WHERE kind = 'admin_signed_in' AND detail LIKE '%\"method\":\"passkey\"%'")
        .await;
    assert_eq!(methods, 5);
    assert_chain_intact(&h.app).await;
}

async fn enrolment_attacks_are_refused(db: Db) {
    let h = harness(db).await;
    let token = add(&h, "root", &[Role::Admin]).await;

    // Made up, or sent from another site's page.
    post(
        &h,
        "/admin/enrol/begin",
        None,
        &json!({ "token": "re_made-up" }),
    )
    .await
    .refused(401, "admin_sign_in_failed");
    post_from(
        &h,
        "/admin/enrol/begin",
        None,
        Some("https://evil.example.test"),
        json!({ "token": token }).to_string(),
    )
    .await
    .refused(403, "admin_form_invalid");

    // Answers a browser would never send: for another origin, another RP ID, without
    // user verification, or to no ceremony of this browser's.
    let mut wrong_origin = SoftAuthenticator::new(RP_ID, "https://evil.example.test", 1);
    let mut wrong_rp = SoftAuthenticator::new("evil.example.test", PUBLIC_URL, 1);
    let mut no_uv = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 1);
    no_uv.user_verified = false;
    for key in [&mut wrong_origin, &mut wrong_rp, &mut no_uv] {
        let (options, ceremony) = begin_enrolment(&h, &token).await;
        post(
            &h,
            "/admin/enrol/finish",
            Some(&ceremony),
            &key.create(&options),
        )
        .await
        .refused(401, "admin_sign_in_failed");
    }
    let mut key = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 1);
    let (options, _) = begin_enrolment(&h, &token).await;
    let response = key.create(&options);
    post(&h, "/admin/enrol/finish", None, &response)
        .await
        .refused(401, "admin_sign_in_failed");
    let (_, other_browser) = begin_enrolment(&h, &token).await;
    post(&h, "/admin/enrol/finish", Some(&other_browser), &response)
        .await
        .refused(401, "admin_sign_in_failed");
    // None of it enrolled anything.
    assert_eq!(h.count("SELECT COUNT(*) FROM admin_passkeys").await, 0);
    assert_eq!(h.count("SELECT COUNT(*) FROM admin_sessions").await, 0);

    // Two browsers begin with the one link; the first to finish uses it up.
    let (first, first_ceremony) = begin_enrolment(&h, &token).await;
    let (second, second_ceremony) = begin_enrolment(&h, &token).await;
    let mut other = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 1);
    let a = post(
        &h,
        "/admin/enrol/finish",
        Some(&first_ceremony),
        &key.create(&first),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    post(
        &h,
        "/admin/enrol/finish",
        Some(&second_ceremony),
        &other.create(&second),
    )
    .await
    .refused(401, "admin_sign_in_failed");
    // And the link is spent.
    post(&h, "/admin/enrol/begin", None, &json!({ "token": token }))
        .await
        .refused(401, "admin_sign_in_failed");
    assert_eq!(h.count("SELECT COUNT(*) FROM admin_passkeys").await, 1);

    // An expired link.
    let token = add(&h, "late", &[Role::Reviewer]).await;
    h.execute(
        "UPDATE admin_local_accounts SET enrol_expires = enrol_expires - 86401 WHERE name = 'late'",
    )
    .await;
    post(&h, "/admin/enrol/begin", None, &json!({ "token": token }))
        .await
        .refused(401, "admin_sign_in_failed");

    // Bodies larger than a passkey's answer are not read.
    let big = format!("{{\"token\": \"{}\"}}", "a".repeat(20 * 1024));
    post_from(&h, "/admin/enrol/begin", None, Some(PUBLIC_URL), big)
        .await
        .refused(413, "request_too_large");

    // The refusals of ceremonies under way are in the chain, and do not say which check.
    let refused = h
        .count("SELECT COUNT(*) FROM audit WHERE kind = 'admin_passkey_refused'")
        .await;
    assert!(refused >= 4, "{refused}");
    let why = h
        .count("SELECT COUNT(*) FROM audit WHERE kind = 'admin_passkey_refused' AND detail <> '{\"ceremony\":\"enrolment\"}'")
        .await;
    assert_eq!(why, 0);
    assert_chain_intact(&h.app).await;
}

async fn sign_in_attacks_are_refused(db: Db) {
    let h = harness(db).await;
    // A passkey that keeps no counter (as synced ones): only the single-use challenge
    // stops a replay.
    let token = add(&h, "root", &[Role::Admin]).await;
    let mut key = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 0);
    enrol(&h, &token, &mut key).await;
    let sessions = h.count("SELECT COUNT(*) FROM admin_sessions").await;
    let failed = |a: Answer| a.refused(401, "admin_sign_in_failed");

    // A replayed assertion: with its own ceremony's cookie (taken once), and with a new
    // ceremony's (another challenge).
    let (options, ceremony) = begin_sign_in(&h).await;
    let assertion = key.get(&options);
    let a = post(&h, "/admin/passkey/finish", Some(&ceremony), &assertion).await;
    assert_eq!(a.status, 200, "{}", a.body);
    failed(post(&h, "/admin/passkey/finish", Some(&ceremony), &assertion).await);
    let (_, fresh) = begin_sign_in(&h).await;
    failed(post(&h, "/admin/passkey/finish", Some(&fresh), &assertion).await);
    // A challenge answered twice (a new signature, a higher counter).
    let (options, ceremony) = begin_sign_in(&h).await;
    let a = post(
        &h,
        "/admin/passkey/finish",
        Some(&ceremony),
        &key.get(&options),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    failed(
        post(
            &h,
            "/admin/passkey/finish",
            Some(&ceremony),
            &key.get(&options),
        )
        .await,
    );
    // An expired challenge.
    let (options, ceremony) = begin_sign_in(&h).await;
    h.execute("UPDATE admin_logins SET expires_at = expires_at - 301")
        .await;
    failed(
        post(
            &h,
            "/admin/passkey/finish",
            Some(&ceremony),
            &key.get(&options),
        )
        .await,
    );
    // Without the ceremony's cookie, or with another browser's.
    let (options, _) = begin_sign_in(&h).await;
    let (_, other_browser) = begin_sign_in(&h).await;
    let assertion = key.get(&options);
    failed(post(&h, "/admin/passkey/finish", None, &assertion).await);
    failed(
        post(
            &h,
            "/admin/passkey/finish",
            Some(&other_browser),
            &assertion,
        )
        .await,
    );

    // The key's answer for another origin, or for another RP ID.
    key.origin = "https://evil.example.test".into();
    failed(sign_in(&h, &mut key).await);
    key.origin = PUBLIC_URL.into();
    key.rp_id = "evil.example.test".into();
    failed(sign_in(&h, &mut key).await);
    key.rp_id = RP_ID.into();
    // Without user verification.
    key.user_verified = false;
    failed(sign_in(&h, &mut key).await);
    key.user_verified = true;
    // A credential never enrolled, even one claiming the account's user handle.
    let mut stranger = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 1);
    stranger.user_handle = key.user_handle.clone();
    failed(sign_in(&h, &mut stranger).await);
    // The enrolled credential, with another account's user handle.
    let other_token = add(&h, "other", &[Role::Auditor]).await;
    let mut other = SoftAuthenticator::new(RP_ID, PUBLIC_URL, 1);
    enrol(&h, &other_token, &mut other).await;
    let own = key.user_handle.clone();
    key.user_handle = other.user_handle.clone();
    failed(sign_in(&h, &mut key).await);
    key.user_handle = own;
    // A clone of a key that counts: its next counter is no more than the one recorded.
    let at = other.counter;
    assert_eq!(sign_in(&h, &mut other).await.status, 200);
    other.counter = at;
    failed(sign_in(&h, &mut other).await);

    // From another site's page; a body larger than an assertion.
    let (options, ceremony) = begin_sign_in(&h).await;
    post_from(
        &h,
        "/admin/passkey/finish",
        Some(&ceremony),
        Some("https://evil.example.test"),
        key.get(&options).to_string(),
    )
    .await
    .refused(403, "admin_form_invalid");
    let mut big = key.get(&options);
    big["extensions"]["padding"] = json!("a".repeat(20 * 1024));
    post_from(
        &h,
        "/admin/passkey/finish",
        Some(&ceremony),
        Some(PUBLIC_URL),
        big.to_string(),
    )
    .await
    .refused(413, "request_too_large");
    // Not JSON, or not an assertion.
    let (_, ceremony) = begin_sign_in(&h).await;
    let junk = post_from(
        &h,
        "/admin/passkey/finish",
        Some(&ceremony),
        Some(PUBLIC_URL),
        "{\"id\": 1".into(),
    )
    .await;
    assert_eq!(junk.status, 400, "{}", junk.body);

    // Only the three good sign-ins (and the other account's enrolment) signed anyone in.
    assert_eq!(
        h.count("SELECT COUNT(*) FROM admin_sessions").await,
        sessions + 4
    );
    assert_chain_intact(&h.app).await;
}

/// Starting passkey sign-ins is limited per address, with the OpenID sign-ins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkey_sign_ins_are_limited_per_address() {
    let h = harness(Db::sqlite()).await;
    let mut limited = None;
    for n in 0..70 {
        let a = post(&h, "/admin/passkey/begin", None, &json!({})).await;
        if a.status != 200 {
            limited = Some((n, a));
            break;
        }
    }
    let (n, a) = limited.expect("a limit");
    assert_eq!(n, 60);
    a.refused(429, "rate_limited");
}

/// Break-glass switched off (`local_accounts` left out) on a console that signs in through
/// the company's provider: an enrolment link made on the command line and the passkey
/// ceremonies are all refused, not only the button hidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_local_accounts_off_no_passkey_ceremony_runs() {
    let h = Harness::with(
        Db::sqlite(),
        Options {
            extra: "[admin.oidc]\nissuer = \"https://idp.example.test\"\n\
                    client_id = \"reclaim-console\"\nadmin_groups = [\"admins\"]\n"
                .into(),
            ..Options::default()
        },
    )
    .await;
    let token = add(&h, "latent", &[Role::Admin]).await;
    let enrol = post(&h, "/admin/enrol/begin", None, &json!({ "token": token })).await;
    enrol.refused(401, "admin_sign_in_failed");
    assert!(enrol.cookie(CEREMONY_COOKIE).is_none());
    let sign_in = post(&h, "/admin/passkey/begin", None, &json!({})).await;
    sign_in.refused(401, "admin_sign_in_failed");
    assert!(sign_in.cookie(CEREMONY_COOKIE).is_none());
    for path in ["/admin/enrol/finish", "/admin/passkey/finish"] {
        let a = post(&h, path, Some("made-up"), &json!({})).await;
        assert_ne!(a.status, 200, "{path}: {}", a.body);
        assert!(a.cookie(SIGN_IN_COOKIE).is_none(), "{path}");
    }
}

/// The configuration: local accounts serve the console without a provider (but not the
/// review queue, whose approvals need one); their relying party must be a host name.
#[test]
fn local_accounts_need_a_host_name() {
    let dir = TempDir::new();
    let text = |extra: &str| {
        config_text(
            dir.path(),
            "sqlite::memory:",
            &random_hex_key(),
            &Options {
                policy: "review_queue = true".into(),
                extra: extra.into(),
                ..Options::default()
            },
        )
    };
    // Local accounts serve the console, but the review queue needs reviewers who can
    // approve: people the company's provider signs in.
    for extra in ["", LOCAL_ONLY] {
        let err = Config::parse(&text(extra)).unwrap_err().to_string();
        assert!(err.contains("review_queue"), "{err}");
    }
    let text = |extra: &str| {
        config_text(
            dir.path(),
            "sqlite::memory:",
            &random_hex_key(),
            &Options {
                extra: extra.into(),
                ..Options::default()
            },
        )
    };
    assert!(Config::parse(&text(LOCAL_ONLY)).unwrap().admin.enabled());
    for url in [
        "http://127.0.0.1:8443",
        "https://[::1]:8443",
        "https://10.0.0.7",
    ] {
        let err = Config::parse(&text(&format!("{LOCAL_ONLY}url = \"{url}\"\n")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("IP address"), "{url}: {err}");
    }
    Config::parse(&text(&format!(
        "{LOCAL_ONLY}url = \"http://localhost:8443\"\n"
    )))
    .unwrap();
}

const WAIT: Duration = Duration::from_secs(30);

/// Runs the blocking browser part off the runtime, so the server keeps answering.
async fn in_browser<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// Presses the page's passkey button and waits for the console (`header .who`) or a
/// refusal: the main text.
fn press_passkey(b: &WebDriverSession, which: &str) -> String {
    let button = format!("button[data-passkey={which}]");
    b.wait_for(&button, WAIT);
    b.wait_enabled(&button, WAIT);
    b.click(&button);
    b.wait_for("header .who, #passkey-status.warn", WAIT);
    b.text("main")
}

/// In Chromium with a virtual platform authenticator (resident keys, user verification):
/// a local admin made on the command line enrols with the link, signs out, signs in with
/// the passkey and reaches an admin-only page; the link does not work twice; once the
/// account is removed, its sign-in ends and its passkey opens nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_admin_signs_in_with_a_passkey_in_chromium() {
    let port = reclaim_testkit::free_port().unwrap();
    // WebAuthn takes no IP address as the RP ID: the console is `localhost`.
    let url = format!("http://localhost:{port}");
    let h = Harness::with(
        Db::sqlite(),
        Options {
            listen: Some(format!("127.0.0.1:{port}")),
            extra: format!("{LOCAL_ONLY}url = \"{url}\"\n"),
            ..Options::default()
        },
    )
    .await;
    let link = local::add(&h.app, "root", &[Role::Admin], "admin:test")
        .await
        .unwrap()
        .link
        .to_string();
    assert!(link.starts_with(&format!("{url}/admin/enrol#")), "{link}");

    let (driver, b, authenticator, enrolled, devices) = in_browser({
        let (url, link) = (url.clone(), link.clone());
        move || {
            let driver = Chromedriver::start().unwrap();
            let b = driver.browser(1280, 900);
            b.navigate(&format!("{url}/admin/signin"));
            let authenticator = b.add_virtual_authenticator(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
            }));
            b.navigate(&link);
            let enrolled = press_passkey(&b, "enrol");
            // Signed out, then in again with the passkey alone.
            b.click("header form button");
            press_passkey(&b, "sign-in");
            let header = b.text("header");
            assert!(header.contains("Signed in as root (admin)"), "{header}");
            b.navigate(&format!("{url}/admin/devices"));
            b.wait_for("main h1", WAIT);
            let devices = b.text("main");
            (driver, b, authenticator, enrolled, devices)
        }
    })
    .await;
    assert!(!enrolled.contains("Not done"), "{enrolled}");
    assert!(devices.contains("Register a managed device"), "{devices}");
    assert_eq!(local::list(&h.app).await.unwrap()[0].passkeys, 1);

    // The link a second time; then the account removed.
    let (b, again) = in_browser({
        let link = link.clone();
        move || {
            let credentials = b.virtual_credentials(&authenticator);
            assert_eq!(credentials.len(), 1, "{credentials:?}");
            assert_eq!(credentials[0]["isResidentCredential"], true);
            b.navigate(&link);
            let again = press_passkey(&b, "enrol");
            (b, again)
        }
    })
    .await;
    assert!(again.contains("does not work"), "{again}");
    assert!(local::remove(&h.app, "root", "admin:test").await.unwrap());
    let (after, refused) = in_browser(move || {
        b.navigate(&format!("{url}/admin/devices"));
        b.wait_for("main h1", WAIT);
        let after = b.text("main");
        b.navigate(&format!("{url}/admin/signin"));
        let refused = press_passkey(&b, "sign-in");
        drop(b);
        drop(driver);
        (after, refused)
    })
    .await;
    assert!(after.contains("admin_sign_in_required"), "{after}");
    assert!(refused.contains("not accepted"), "{refused}");
}
