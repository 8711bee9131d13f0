//! The console's pages beside the review queue (`http::admin::{devices, recoveries,
//! audit, system}`): who may see and change what, the form checks, the devices' changes
//! and their audit entries, the recoveries search and timeline, the chain verified and
//! exported from the page, the policy page's redaction, and the headers every page
//! carries. People sign in through `admin::sign_in` directly: the provider is never
//! contacted.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
use reclaim_protocol::DeviceKey;
use reclaim_server::admin::{self, Role, SignedIn};
use reclaim_server::audit::{self, Checkpoint, ExportSignature, ExportedEntry};
use reclaim_server::devices::{self, Tier};
use serde_json::Value;

use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    each_page_opens_for_its_roles_only,
    an_admin_revokes_and_registers_devices_and_others_cannot,
    recoveries_are_searched_and_followed_from_session_to_reset,
    the_chain_is_verified_and_exported_signed_from_the_page,
);

/// The console, with every role mapped; the provider is never reached by these tests.
const CONSOLE: &str = r#"
[admin.oidc]
issuer = "https://idp.example.test"
client_id = "reclaim-console"
admin_groups = ["admins"]
reviewer_groups = ["reviewers"]
auditor_groups = ["auditors"]
"#;

/// The console's origin: the harness's public URL (https, so the cookie is `__Host-`).
const ORIGIN: &str = PUBLIC_URL;
const COOKIE: &str = "__Host-reclaim_admin";

fn options(extra: &str) -> Options {
    Options {
        policy: "review_queue = true".into(),
        extra: format!("{CONSOLE}\n{extra}"),
        ..Options::default()
    }
}

/// A signed-in person: the cookie's secret.
struct Person {
    name: &'static str,
    cookie: String,
}

async fn sign_in(h: &Harness, name: &'static str, role: Role) -> Person {
    let secret = admin::sign_in(
        &h.app,
        &SignedIn {
            subject: format!("https://idp.example.test {name}"),
            name: name.into(),
            roles: vec![role],
            aliases: vec![],
        },
    )
    .await
    .unwrap();
    Person {
        name,
        cookie: format!("{COOKIE}={}", secret.as_str()),
    }
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A refusal page with `status` and `code`.
    fn refused(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert!(
            self.body.contains(&format!("({code})")),
            "expected {code}: {}",
            self.body
        );
    }

    /// The form token the page embeds in its forms.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a form on the page");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

async fn answer(r: reqwest::RequestBuilder) -> Answer {
    let response = r.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

async fn get(h: &Harness, who: Option<&Person>, path: &str) -> Answer {
    let mut r = client().get(h.url(path));
    if let Some(p) = who {
        r = r.header("Cookie", &p.cookie);
    }
    answer(r).await
}

fn form_body(fields: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn post(
    h: &Harness,
    who: &Person,
    path: &str,
    origin: Option<&str>,
    fields: &[(&str, &str)],
) -> Answer {
    let mut r = client()
        .post(h.url(path))
        .header("Cookie", &who.cookie)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form_body(fields));
    if let Some(o) = origin {
        r = r.header("Origin", o);
    }
    answer(r).await
}

/// Every console page's headers: never cached, the console's CSP, never framed.
fn assert_page_headers(a: &Answer) {
    assert_eq!(a.header("cache-control"), "no-store", "{}", a.body);
    assert!(
        a.header("content-security-policy")
            .contains("default-src 'none'"),
        "no CSP: {:?}",
        a.headers
    );
    assert_eq!(a.header("x-frame-options"), "DENY");
}

/// A completed recovery of Avery's (approved by the kiosk, password reset): its session.
async fn completed_recovery(h: &Harness) -> OpenSession {
    let s = h.session(AVERY, &h.kiosk).await;
    let approved = assert_outcome(
        h.attest(&s, &claims(&s, &h.kiosk), &h.kiosk).await,
        "approved",
    );
    let grant = approved["grant"].as_str().unwrap().to_string();
    assert_reset(h.reset(&grant, NEW_PASSWORD).await, 200, "completed");
    s
}

async fn each_page_opens_for_its_roles_only(db: Db) {
    let h = Harness::with(db, options("")).await;
    let s = completed_recovery(&h).await;
    let admin = sign_in(&h, "ada", Role::Admin).await;
    let auditor = sign_in(&h, "aude", Role::Auditor).await;
    let reviewer = sign_in(&h, "rita", Role::Reviewer).await;
    let timeline = format!("/admin/recoveries/{}", s.id);
    // (path, admin, auditor, reviewer)
    let pages: [(&str, bool, bool, bool); 7] = [
        ("/admin/devices", true, true, false),
        ("/admin/recoveries", true, true, true),
        (&timeline, true, true, true),
        ("/admin/audit", true, true, false),
        ("/admin/policy", true, true, false),
        ("/admin/health", true, true, true),
        ("/admin/audit/export?from=1&to=3", true, true, false),
    ];
    for (path, for_admin, for_auditor, for_reviewer) in pages {
        for (who, may) in [
            (&admin, for_admin),
            (&auditor, for_auditor),
            (&reviewer, for_reviewer),
        ] {
            let a = get(&h, Some(who), path).await;
            if may {
                assert_eq!(a.status, 200, "{} on {path}: {}", who.name, a.body);
            } else {
                a.refused(403, "admin_role_missing");
            }
            if path.starts_with("/admin/audit/export") && may {
                assert_eq!(a.header("cache-control"), "no-store");
                assert!(a.header("content-disposition").starts_with("attachment"));
            } else {
                assert_page_headers(&a);
            }
        }
        // Nobody signed in: the sign-in page's refusal.
        get(&h, None, path)
            .await
            .refused(401, "admin_sign_in_required");
    }
    // The navigation shows only what the roles open.
    let nav = get(&h, Some(&reviewer), "/admin/health").await.body;
    assert!(nav.contains("href=\"/admin/recoveries\""), "{nav}");
    assert!(!nav.contains("href=\"/admin/policy\""), "{nav}");
    let nav = get(&h, Some(&auditor), "/admin/health").await.body;
    assert!(nav.contains("href=\"/admin/audit\""), "{nav}");
    assert!(!nav.contains("href=\"/admin/queue\""), "{nav}");

    // The health page: the database and the directory answer; nothing is pending.
    let health = get(&h, Some(&reviewer), "/admin/health").await.body;
    assert!(
        health.contains("<dt>Database</dt><dd>answers</dd>"),
        "{health}"
    );
    assert!(
        health.contains("<dt>Directory (demo)</dt><dd>answers</dd>"),
        "{health}"
    );
    assert!(
        health.contains("<dt>Resets pending</dt><dd>0</dd>"),
        "{health}"
    );
    assert!(health.contains("face_embedder"), "{health}");
}

async fn an_admin_revokes_and_registers_devices_and_others_cannot(db: Db) {
    let h = Harness::with(db, options("")).await;
    let admin = sign_in(&h, "ada", Role::Admin).await;
    let auditor = sign_in(&h, "aude", Role::Auditor).await;
    let kid = h.kiosk.key_id().as_str().to_string();
    // The kiosk was used: its last use is shown.
    let s = h.session(AVERY, &h.kiosk).await;
    let _ = s;

    let page = get(&h, Some(&admin), "/admin/devices").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains(&kid), "{}", page.body);
    assert!(page.body.contains("<td>managed</td>"), "{}", page.body);
    assert!(page.body.contains("action=\"/admin/devices/revoke\""));
    let csrf = page.csrf();
    // An auditor sees the list without the forms, and cannot revoke with their own token.
    let seen = get(&h, Some(&auditor), "/admin/devices").await;
    assert!(seen.body.contains(&kid));
    assert!(!seen.body.contains("action=\"/admin/devices/revoke\""));
    let auditor_csrf = seen.csrf();
    let revoke = [("csrf", auditor_csrf.as_str()), ("key_id", kid.as_str())];
    post(&h, &auditor, "/admin/devices/revoke", Some(ORIGIN), &revoke)
        .await
        .refused(403, "admin_role_missing");
    // No token, another's token, another origin, no origin: refused, nothing changes.
    for (origin, token) in [
        (Some(ORIGIN), ""),
        (Some(ORIGIN), auditor_csrf.as_str()),
        (Some("https://evil.example.test"), csrf.as_str()),
        (None, csrf.as_str()),
    ] {
        let form = [("csrf", token), ("key_id", kid.as_str())];
        post(&h, &admin, "/admin/devices/revoke", origin, &form)
            .await
            .refused(403, "admin_form_invalid");
    }
    let kiosk = devices::find(&h.app.store, &kid).await.unwrap().unwrap();
    assert!(kiosk.revoked_at.is_none());
    assert_eq!(h.audit_count_of("device_revoked").await, 0);

    // The admin revokes it: in the chain with the admin as actor.
    let form = [("csrf", csrf.as_str()), ("key_id", kid.as_str())];
    let done = post(&h, &admin, "/admin/devices/revoke", Some(ORIGIN), &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.header("location"), "/admin/devices?done=revoked");
    let kiosk = devices::find(&h.app.store, &kid).await.unwrap().unwrap();
    assert!(kiosk.revoked_at.is_some());
    let entries = audit::details_of(&h.app.store, "device_revoked")
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(actors_of(&h, "device_revoked").await, ["admin:ada"]);
    // The revoked key is refused from its next request on.
    let (status, body) = h.create_session(AVERY, &h.kiosk).await;
    assert_eq!(status, 403, "{body}");
    // An unknown key: refused, with the device's code.
    let form = [("csrf", csrf.as_str()), ("key_id", "no-such-key")];
    post(&h, &admin, "/admin/devices/revoke", Some(ORIGIN), &form)
        .await
        .refused(404, "device_unknown");

    // A managed device registered from its public key.
    let laptop = DeviceKey::generate().unwrap();
    let public = laptop.public().to_base64();
    let form = [
        ("csrf", auditor_csrf.as_str()),
        ("public_key", public.as_str()),
        ("name", "HR laptop"),
    ];
    post(&h, &auditor, "/admin/devices", Some(ORIGIN), &form)
        .await
        .refused(403, "admin_role_missing");
    let form = [
        ("csrf", csrf.as_str()),
        ("public_key", public.as_str()),
        ("name", "HR laptop"),
    ];
    let done = post(&h, &admin, "/admin/devices", Some(ORIGIN), &form).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let laptop_row = devices::find(&h.app.store, laptop.key_id().as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (laptop_row.tier, laptop_row.name.as_str()),
        (Tier::Managed, "HR laptop")
    );
    assert_eq!(
        actors_of(&h, "device_registered")
            .await
            .last()
            .map(String::as_str),
        Some("admin:ada")
    );
    let form = [
        ("csrf", csrf.as_str()),
        ("public_key", "not a key"),
        ("name", "x"),
    ];
    post(&h, &admin, "/admin/devices", Some(ORIGIN), &form)
        .await
        .refused(400, "device_key_invalid");
    let page = get(&h, Some(&admin), "/admin/devices").await;
    assert!(page.body.contains("HR laptop"));
    assert!(page.body.contains("2 registered devices"), "{}", page.body);
    assert_chain_intact(&h.app).await;
}

/// The actors of the entries of `kind`, in order.
async fn actors_of(h: &Harness, kind: &str) -> Vec<String> {
    let head = reclaim_server::store::audit::head_seq(&h.app.store)
        .await
        .unwrap();
    reclaim_server::store::audit::range(&h.app.store, 1, head)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.actor)
        .collect()
}

async fn recoveries_are_searched_and_followed_from_session_to_reset(db: Db) {
    let h = Harness::with(db, options("")).await;
    let completed = completed_recovery(&h).await;
    let rejected = h.session(AVERY, &h.kiosk).await;
    assert_outcome(
        h.attest(&rejected, &rejected_claims(&rejected, &h.kiosk), &h.kiosk)
            .await,
        "rejected",
    );
    // Started a minute apart (both would be in one second here).
    h.execute(&format!(
        "UPDATE sessions SET created_at = created_at - 60 WHERE id = '{}'",
        completed.id
    ))
    .await;
    let reviewer = sign_in(&h, "rita", Role::Reviewer).await;
    let search = |q: &str| format!("/admin/recoveries?{q}");

    let all = get(&h, Some(&reviewer), &search("")).await;
    assert_eq!(all.status, 200, "{}", all.body);
    // Newest first.
    let (at_rejected, at_completed) = (
        all.body.find(&rejected.id).unwrap(),
        all.body.find(&completed.id).unwrap(),
    );
    assert!(at_rejected < at_completed);
    // In any case: a login is kept as the person typed it.
    let by_login = get(&h, Some(&reviewer), &search("login=Avery.QUINN"))
        .await
        .body;
    assert!(by_login.contains(&rejected.id) && by_login.contains(&completed.id));
    let nobody = get(&h, Some(&reviewer), &search("login=nobody.here"))
        .await
        .body;
    assert!(nobody.contains("No recovery matches."), "{nobody}");
    let done = get(&h, Some(&reviewer), &search("state=completed"))
        .await
        .body;
    assert!(
        done.contains(&completed.id) && !done.contains(&rejected.id),
        "{done}"
    );
    // The grant's state is shown for the completed reset.
    assert!(
        done.contains("<td>completed</td><td>completed</td>"),
        "{done}"
    );
    let refused = get(
        &h,
        Some(&reviewer),
        &search("state=rejected&login=avery.quinn"),
    )
    .await
    .body;
    assert!(refused.contains(&rejected.id) && !refused.contains(&completed.id));
    let future = get(&h, Some(&reviewer), &search("from=2999-01-01"))
        .await
        .body;
    assert!(future.contains("No recovery matches."));
    let past = get(&h, Some(&reviewer), &search("to=2000-01-01"))
        .await
        .body;
    assert!(past.contains("No recovery matches."));
    let today = reclaim_document::Date::today_utc().unwrap().to_string();
    let since_today = get(
        &h,
        Some(&reviewer),
        &search(&format!("from={today}&to={today}")),
    )
    .await
    .body;
    assert!(since_today.contains(&completed.id), "{since_today}");
    // Bounded inputs.
    get(&h, Some(&reviewer), &search("state=whatever"))
        .await
        .refused(400, "request_invalid");
    get(&h, Some(&reviewer), &search("from=yesterday"))
        .await
        .refused(400, "request_invalid");
    get(
        &h,
        Some(&reviewer),
        &search(&format!("login={}", "a".repeat(300))),
    )
    .await
    .refused(400, "request_invalid");

    // One recovery's timeline: from the session to the reset, in order.
    let t = get(
        &h,
        Some(&reviewer),
        &format!("/admin/recoveries/{}", completed.id),
    )
    .await;
    assert_eq!(t.status, 200, "{}", t.body);
    let mut at = 0;
    for kind in [
        "session_created",
        "decision",
        "reset_pending",
        "reset_completed",
    ] {
        let found = t.body[at..]
            .find(&format!("<td>{kind}</td>"))
            .unwrap_or_else(|| panic!("{kind} missing or out of order: {}", t.body));
        at += found;
    }
    assert!(t.body.contains("grant_sha256"), "{}", t.body);
    get(&h, Some(&reviewer), "/admin/recoveries/no-such-session")
        .await
        .refused(404, "not_found");
}

async fn the_chain_is_verified_and_exported_signed_from_the_page(db: Db) {
    let h = Harness::with(db, options("")).await;
    completed_recovery(&h).await;
    let auditor = sign_in(&h, "aude", Role::Auditor).await;
    let reviewer = sign_in(&h, "rita", Role::Reviewer).await;

    // Browsing: newest first, by kind; a kind is bounded.
    let page = get(&h, Some(&auditor), "/admin/audit").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = page.csrf();
    assert!(
        page.body.find("<td>reset_completed</td>").unwrap()
            < page.body.find("<td>session_created</td>").unwrap()
    );
    let kind = get(&h, Some(&auditor), "/admin/audit?kind=decision")
        .await
        .body;
    assert!(kind.contains("<td>decision</td>") && !kind.contains("<td>session_created</td>"));
    get(&h, Some(&auditor), "/admin/audit?kind=DROP%20TABLE")
        .await
        .refused(400, "request_invalid");

    // Verifying from the page: a form like any other.
    let before = h.audit_count_of("admin_chain_verified").await;
    post(
        &h,
        &auditor,
        "/admin/audit/verify",
        Some(ORIGIN),
        &[("csrf", "")],
    )
    .await
    .refused(403, "admin_form_invalid");
    post(
        &h,
        &auditor,
        "/admin/audit/verify",
        Some("https://evil.example.test"),
        &[("csrf", &csrf)],
    )
    .await
    .refused(403, "admin_form_invalid");
    post(
        &h,
        &reviewer,
        "/admin/audit/verify",
        Some(ORIGIN),
        &[("csrf", &csrf)],
    )
    .await
    .refused(403, "admin_form_invalid");
    assert_eq!(h.audit_count_of("admin_chain_verified").await, before);
    let verified = post(
        &h,
        &auditor,
        "/admin/audit/verify",
        Some(ORIGIN),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_page_headers(&verified);
    assert!(
        verified.body.contains("The chain is intact."),
        "{}",
        verified.body
    );
    assert_eq!(h.audit_count_of("admin_chain_verified").await, before + 1);

    // The export: the whole chain so far, checked by a reader with the public key only.
    let head = reclaim_server::store::audit::head_seq(&h.app.store)
        .await
        .unwrap();
    let export = get(
        &h,
        Some(&auditor),
        &format!("/admin/audit/export?from=1&to={head}"),
    )
    .await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.header("cache-control"), "no-store");
    assert_eq!(
        export.header("content-disposition"),
        format!("attachment; filename=\"reclaim-audit-1-{head}.jsonl\"")
    );
    let lines: Vec<&str> = export.body.lines().collect();
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(header["export"], audit::EXPORT_V1);
    assert_eq!(header["entries"], head);
    let entry_lines: Vec<String> = lines[1..=head as usize]
        .iter()
        .map(|l| l.to_string())
        .collect();
    let entries: Vec<ExportedEntry> = entry_lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let cp: Checkpoint = serde_json::from_str(lines[head as usize + 1]).unwrap();
    let sig: ExportSignature = serde_json::from_str(lines[head as usize + 2]).unwrap();
    // The key is the server's checkpoint key.
    assert_eq!(cp.key, STANDARD.encode(h.app.keys.checkpoint_public_key()));
    let key =
        VerifyingKey::from_bytes(&STANDARD.decode(&cp.key).unwrap().try_into().unwrap()).unwrap();
    let signed = |message: &str, sig: &str| {
        let sig = Signature::from_slice(&STANDARD.decode(sig).unwrap()).unwrap();
        key.verify(message.as_bytes(), &sig).is_ok()
    };
    // The entries link from the chain's start to the checkpointed entry.
    let mut prev = audit::GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(e.prev_hash, prev, "entry {}", e.seq);
        prev = e.hash.clone();
    }
    assert_eq!((cp.seq, cp.hash.as_str()), (head, prev.as_str()));
    assert!(signed(
        &Checkpoint::message(cp.seq, &cp.hash, cp.at),
        &cp.sig
    ));
    // The signature covers the lines themselves.
    assert_eq!(sig.entries_sha256, audit::lines_sha256(&entry_lines));
    assert!(signed(
        &audit::export_message(1, head, &sig.entries_sha256),
        &sig.export_sig
    ));
    let mut changed = entry_lines.clone();
    changed[0] = changed[0].replace("\"actor\":\"", "\"actor\":\"x");
    assert_ne!(changed, entry_lines);
    assert!(!signed(
        &audit::export_message(1, head, &audit::lines_sha256(&changed)),
        &sig.export_sig
    ));
    // And the server's own verification reads the file as a checkpoint file.
    let report = audit::verify_with_checkpoints(&h.app.store, &h.app.keys, &export.body)
        .await
        .unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.checkpoints, Some(1));
    // Taking it is on record.
    assert_eq!(h.audit_count_of("admin_chain_exported").await, 1);

    // A middle range links to the entry before it; a bad range is refused.
    let middle = get(&h, Some(&auditor), "/admin/audit/export?from=2&to=3")
        .await
        .body;
    assert_eq!(middle.lines().count(), 1 + 2 + 2, "{middle}");
    get(&h, Some(&auditor), "/admin/audit/export?from=5&to=2")
        .await
        .refused(400, "request_invalid");
    get(&h, Some(&auditor), "/admin/audit/export?from=1&to=1000000")
        .await
        .refused(400, "request_invalid");

    // An altered entry: the range is exported unsigned, with the problem.
    h.execute("UPDATE audit SET detail = '{\"x\":1}' WHERE seq = 2")
        .await;
    let unsigned = get(&h, Some(&auditor), "/admin/audit/export?from=1&to=3")
        .await
        .body;
    assert!(!unsigned.contains("\"sig\""), "{unsigned}");
    assert!(unsigned.contains("entry_altered"), "{unsigned}");
}

/// The policy page never shows a secret: the data key, the SMTP password, a database
/// URL's password (the unit test in `admin::pages` covers every secret of a full file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_page_shows_no_secret() {
    let h = Harness::with(
        Db::sqlite(),
        options(
            "[notify]\nsmtp_url = \"smtps://mail.example.test\"\nfrom = \"Reclaim <reclaim@example.test>\"\n\
             username = \"reclaim\"\npassword = \"MARKER-SMTP-PASSWORD\"\n",
        ),
    )
    .await;
    let admin = sign_in(&h, "ada", Role::Admin).await;
    let page = get(&h, Some(&admin), "/admin/policy").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_page_headers(&page);
    assert!(!page.body.contains("MARKER"), "{}", page.body);
    assert!(
        !page.body.contains(&h.data_key),
        "the data key is on the page"
    );
    assert!(
        page.body
            .contains("<code>data_key</code></th><td>(redacted)</td>"),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains("<code>notify.password</code></th><td>(redacted)</td>"));
    // What is not secret is there.
    assert!(page.body.contains("reclaim-console"));
    assert!(page
        .body
        .contains("<code>policy.review_queue</code></th><td>true</td>"));
    let reviewer = sign_in(&h, "rita", Role::Reviewer).await;
    get(&h, Some(&reviewer), "/admin/policy")
        .await
        .refused(403, "admin_role_missing");
}
