//! What the directory can do, and what happens when it cannot (issue 14): a session for an
//! action the directory cannot perform is refused at its start; a pending reset the
//! directory refuses for good (unsupported, account gone, permission denied, misconfigured)
//! ends as failed, once, and is not retried; one the directory does not answer is retried
//! with backoff and given up after a bound. Passwords are bounded and counted as typed.
//! The LDAP cases run against a real slapd (reclaim-testkit).

use std::process::Command;
use std::sync::Arc;

use reclaim_protocol::DeviceKey;
use reclaim_server::recovery::resets;
use reclaim_server::{audit, App, Config, RunningServer};
use reclaim_testkit::{LdapSeedUser, Slapd};
use serde_json::{json, Value};
use sqlx::Row;

use crate::harness::{
    assert_chain_intact, claims, config_text, random_hex_key, register_managed, unix_now, Db,
    Harness, OpenSession, Options, TempDir, AVERY, NEW_PASSWORD, OLD_PASSWORD,
};
use crate::on_both_databases;

/// A server whose directory is a real OpenLDAP (slapd with ppolicy) holding Avery Quinn.
struct LdapServer {
    slapd: Slapd,
    app: Arc<App>,
    server: Option<RunningServer>,
    base: String,
    client: reqwest::Client,
    kiosk: DeviceKey,
    _dir: TempDir,
}

impl LdapServer {
    async fn start() -> LdapServer {
        let slapd = Slapd::start(&[LdapSeedUser::new(AVERY, OLD_PASSWORD, "Avery", "Quinn")])
            .expect("slapd starts");
        let dir = TempDir::new();
        let db_url = Db::sqlite_url(dir.path());
        let demo = format!(
            "kind = \"demo\"\nfile = \"{}\"",
            dir.path().join("dir.json").display()
        );
        let ldap = format!(
            "kind = \"ldap\"\nurl = \"{}\"\nflavour = \"openldap\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\nbase_dn = \"{}\"\ntimeout_ms = 1000",
            slapd.url(),
            slapd.service_dn(),
            slapd.service_password(),
            slapd.people_dn()
        );
        let text = config_text(dir.path(), &db_url, &random_hex_key(), &Options::default());
        assert!(
            text.contains(&demo),
            "the harness's directory section moved"
        );
        let config = Config::parse(&text.replace(&demo, &ldap)).unwrap();
        let app = App::open(config).await.expect("the app opens");
        let server = reclaim_server::start(app.clone()).await.unwrap();
        let base = format!("http://{}", server.addr);
        let kiosk = DeviceKey::generate().unwrap();
        register_managed(&app, &kiosk).await;
        LdapServer {
            slapd,
            app,
            server: Some(server),
            base,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
            kiosk,
            _dir: dir,
        }
    }

    /// Stops the HTTP server and its background worker, so a test can drive the sweep of
    /// pending resets itself without a race.
    async fn stop_worker(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    async fn restart(&mut self) {
        let server = reclaim_server::start(self.app.clone()).await.unwrap();
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut r = match method {
            "GET" => self.client.get(url),
            _ => self.client.post(url),
        };
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn start_session(&self, login: &str, action: &str) -> (u16, Value) {
        let body =
            json!({ "login": login, "action": action, "device": self.kiosk.key_id().as_str() });
        self.send("POST", "/v1/sessions", None, Some(&body)).await
    }

    /// An approved password-reset session of Avery's at the kiosk: the session and its
    /// grant.
    /// A server whose worker is stopped, with an approved grant left pending for `action`
    /// (as a crash or an outage leaves it); the session and the grant.
    async fn with_pending(action: &str) -> (LdapServer, OpenSession, String) {
        let mut server = LdapServer::start().await;
        let (session, grant) = server.approved().await;
        server.stop_worker().await;
        make_pending(&server.app, &grant, action, 0).await;
        (server, session, grant)
    }

    async fn approved(&self) -> (OpenSession, String) {
        let (status, body) = self.start_session(AVERY, "reset_password").await;
        assert_eq!(status, 201, "{body}");
        let s = OpenSession::from_json(AVERY, &body);
        let token =
            reclaim_protocol::sign_attestation(&claims(&s, &self.kiosk), &self.kiosk).unwrap();
        let (status, body) = self
            .send(
                "POST",
                &format!("/v1/sessions/{}/attestation", s.id),
                Some(&s.token),
                Some(&json!({ "token": token, "evidence": [] })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcome"], "approved", "{body}");
        let grant = body["grant"].as_str().unwrap().to_string();
        (s, grant)
    }

    async fn reset(&self, grant: &str, password: &str) -> (u16, Value) {
        let body = json!({ "grant": grant, "new_password": password });
        self.send("POST", "/v1/resets", None, Some(&body)).await
    }

    /// As the directory's administrator (the rootdn), with the OpenLDAP command-line tools.
    fn as_admin(&self, tool: &str, args: &[&str]) {
        run(
            tool,
            Command::new(tool)
                .args([
                    "-x",
                    "-H",
                    &self.slapd.url(),
                    "-D",
                    &self.slapd.admin_dn(),
                    "-w",
                ])
                .arg(self.slapd.admin_password())
                .args(args),
        );
    }
}

impl Db {
    fn sqlite_url(dir: &std::path::Path) -> String {
        format!("sqlite://{}", dir.join("r.db").display())
    }
}

async fn grant_row(app: &App, secret: &str) -> (String, Option<String>, i64, i64, Option<String>) {
    let r = sqlx::query(
        "SELECT state, failure, lease_until, directory_failures, password_sealed FROM grants WHERE id = $1",
    )
    .bind(reclaim_server::crypto::secret_hash(secret))
    .fetch_one(&app.store.pool)
    .await
    .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))
}

/// Asserts that the grant behind `secret` stays failed: the sweep has nothing to resume,
/// and the audit holds `failures` failed resets.
async fn assert_stays_failed(app: &App, secret: &str, failures: usize) {
    assert_eq!(resets::resume_pending(app).await.unwrap(), 0);
    assert_eq!(grant_row(app, secret).await.0, "failed");
    assert_eq!(count_kind(app, "reset_failed").await, failures);
}

/// Runs `command` (the OpenLDAP tool `tool`) and asserts that it succeeded.
fn run(tool: &str, command: &mut Command) {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{tool}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Puts the grant behind `secret` in the state a crash or an outage leaves: pending, with
/// its sealed password, `lease_until` and `action`.
async fn make_pending(app: &App, secret: &str, action: &str, lease_until: i64) {
    let sealed = app
        .keys
        .seal("pending password", NEW_PASSWORD.as_bytes())
        .unwrap();
    let n = sqlx::query(
        "UPDATE grants SET state = 'pending', action = $1, password_sealed = $2, lease_until = $3 WHERE id = $4 AND state = 'issued'",
    )
    .bind(action)
    .bind(sealed)
    .bind(lease_until)
    .bind(reclaim_server::crypto::secret_hash(secret))
    .execute(&app.store.pool)
    .await
    .unwrap()
    .rows_affected();
    assert_eq!(n, 1);
}

async fn count_kind(app: &App, kind: &str) -> usize {
    crate::harness::audit_kinds(app)
        .await
        .iter()
        .filter(|k| *k == kind)
        .count()
}

async fn session_state(server: &LdapServer, s: &OpenSession) -> String {
    let (status, body) = server
        .send(
            "GET",
            &format!("/v1/sessions/{}", s.id),
            Some(&s.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["state"].as_str().unwrap().to_string()
}

/// Sweeps pending resets three times and checks that the grant behind `grant` ended
/// failed with `code`, once: its state and failure, its sealed password erased, and one
/// `reset_failed` entry carrying the code. Returns that entry's details.
async fn assert_swept_to_failure(app: &App, grant: &str, code: &str) -> Value {
    for _ in 0..3 {
        assert_eq!(resets::resume_pending(app).await.unwrap(), 0);
    }
    let (state, failure, _, _, sealed) = grant_row(app, grant).await;
    assert_eq!(
        (state.as_str(), failure.as_deref(), sealed),
        ("failed", Some(code), None)
    );
    let failed = audit_details(app, "reset_failed").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["code"], code, "{failed:?}");
    failed[0].clone()
}

/// What the person is told once their reset has failed (the server is started again: the
/// sweeps ran with it stopped): the session reads failed, and asking for the reset answers
/// 409 with `code` and no promise that it "will be applied". Returns that answer.
async fn assert_person_told_of_failure(
    server: &mut LdapServer,
    session: &OpenSession,
    grant: &str,
    code: &str,
) -> Value {
    server.restart().await;
    assert_eq!(session_state(server, session).await, "failed");
    let (status, body) = server
        .send("POST", "/v1/resets", None, Some(&json!({ "grant": grant })))
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], code, "{body}");
    assert_eq!(body["status"], "failed", "{body}");
    assert!(
        !body["message"]
            .as_str()
            .unwrap()
            .contains("will be applied"),
        "{body}"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_reset_on_openldap_is_refused_at_session_start() {
    let server = LdapServer::start().await;
    // What the app reads to know what to offer.
    let (status, body) = server.send("GET", "/v1/capabilities", None, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["actions"],
        json!(["reset_password", "unlock"]),
        "{body}"
    );

    let (status, known) = server.start_session(AVERY, "reset_mfa").await;
    assert_eq!(status, 422, "{known}");
    assert_eq!(known["error"], "action_unsupported", "{known}");
    let sentence = known["message"].as_str().unwrap();
    assert!(sentence.ends_with('.') && sentence.len() > 20, "{sentence}");
    // An unknown login gets the very same answer: the refusal tells nothing of accounts.
    let (status_unknown, unknown) = server.start_session("nobody.at.all", "reset_mfa").await;
    assert_eq!((status_unknown, &unknown), (status, &known));
    assert_eq!(count_kind(&server.app, "session_created").await, 0);

    // What the directory can do still starts.
    let (status, body) = server.start_session(AVERY, "unlock").await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.start_session(AVERY, "reset_password").await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_for_an_account_deleted_from_slapd_ends_failed_and_is_not_retried() {
    let server = LdapServer::start().await;
    let (session, grant) = server.approved().await;
    // Between the approval and the reset, the account leaves the directory.
    server.as_admin("ldapdelete", &[&server.slapd.user_dn(AVERY)]);

    let (status, body) = server.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "directory_user_not_found", "{body}");
    assert_eq!(body["status"], "failed", "{body}");
    let (state, failure, _, _, sealed) = grant_row(&server.app, &grant).await;
    assert_eq!(
        (state.as_str(), failure.as_deref(), sealed),
        ("failed", Some("directory_user_not_found"), None)
    );
    // The first device following the session sees it too.
    assert_eq!(session_state(&server, &session).await, "failed");
    // Asking again gives the same answer; the sweep leaves it alone.
    let (status, again) = server.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(
        (status, &again["error"]),
        (409, &json!("directory_user_not_found"))
    );
    assert_stays_failed(&server.app, &grant, 1).await;
    assert_eq!(count_kind(&server.app, "reset_completed").await, 0);
    assert_chain_intact(&server.app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_mfa_reset_openldap_cannot_make_ends_failed_instead_of_retrying_for_ever() {
    // A grant from before the directory's capabilities were checked (or a directory
    // changed under a running server): pending, for a change slapd cannot make.
    let (mut server, session, grant) = LdapServer::with_pending("reset_mfa").await;
    assert_swept_to_failure(&server.app, &grant, "directory_action_unsupported").await;
    assert_person_told_of_failure(
        &mut server,
        &session,
        &grant,
        "directory_action_unsupported",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_reset_whose_service_account_is_refused_ends_failed() {
    let (server, _, grant) = LdapServer::with_pending("reset_password").await;
    // The service account's password is changed in the directory but not in Reclaim's
    // configuration: no retry can succeed until an operator fixes it.
    server.as_admin(
        "ldappasswd",
        &[
            "-s",
            "a-rotated-service-password-1",
            &server.slapd.service_dn(),
        ],
    );
    assert_swept_to_failure(&server.app, &grant, "directory_config_invalid").await;
}

/// The sweep's side of a vanished account: a reset left pending (a crash, an outage)
/// whose account is then deleted from slapd ends failed on the next sweep, once, and the
/// person is told, instead of being retried for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_reset_for_an_account_deleted_from_slapd_ends_failed_once() {
    let (mut server, session, grant) = LdapServer::with_pending("reset_password").await;
    server.as_admin("ldapdelete", &[&server.slapd.user_dn(AVERY)]);
    assert_swept_to_failure(&server.app, &grant, "directory_user_not_found").await;
    assert_person_told_of_failure(&mut server, &session, &grant, "directory_user_not_found").await;
}

/// Takes the service account's right to write passwords away, as an operator's ACL
/// change would: slapd is stopped, its configuration edited with slapmodify (cn=config
/// cannot be written online here: no one may bind to it) and slapd started again. The
/// service account can still bind and read people, so the directory answers the reset
/// itself, with insufficientAccess (50).
fn deny_password_writes(slapd: &mut Slapd) {
    slapd.stop();
    let service = slapd.service_dn();
    let people = slapd.people_dn();
    let change = format!(
        "dn: olcDatabase={{1}}mdb,cn=config\nchangetype: modify\nreplace: olcAccess\n\
         olcAccess: {{0}}to attrs=userPassword by self =w by anonymous auth by * none\n\
         olcAccess: {{1}}to attrs=pwdAccountLockedTime,pwdFailureTime by dn.exact=\"{service}\" manage by * none\n\
         olcAccess: {{2}}to dn.subtree=\"{people}\" by dn.exact=\"{service}\" read by self read by * none\n\
         olcAccess: {{3}}to * by * none\n"
    );
    let ldif = slapd.dir().join("deny-password-writes.ldif");
    std::fs::write(&ldif, change).unwrap();
    run(
        "slapmodify",
        Command::new("slapmodify")
            .args(["-n0", "-F"])
            .arg(slapd.dir().join("slapd.d"))
            .arg("-l")
            .arg(&ldif),
    );
    slapd.resume().unwrap();
}

/// Whether `password` is the account's password in slapd (a simple bind as the person).
fn binds_as(slapd: &Slapd, uid: &str, password: &str) -> bool {
    Command::new("ldapwhoami")
        .args([
            "-x",
            "-H",
            &slapd.url(),
            "-D",
            &slapd.user_dn(uid),
            "-w",
            password,
        ])
        .output()
        .unwrap()
        .status
        .success()
}

/// The audit entries of `kind`, their details parsed.
async fn audit_details(app: &App, kind: &str) -> Vec<Value> {
    audit::details_of(&app.store, kind).await.unwrap()
}

/// A pending reset that slapd refuses because the service account may not write
/// passwords (its ACL changed after the approval): no retry can succeed until an operator
/// fixes the ACL, so the reset ends failed, once, with the reason in the audit, and the
/// person is told on the session and by the reset endpoint instead of "will be applied".
/// A reset asked for after the change is answered the same way at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_reset_slapd_refuses_for_lack_of_access_ends_failed_and_is_not_retried() {
    let mut server = LdapServer::start().await;
    let (session, grant) = server.approved().await;
    let (live_session, live_grant) = server.approved().await;
    server.stop_worker().await;
    make_pending(&server.app, &grant, "reset_password", 0).await;
    deny_password_writes(&mut server.slapd);

    // Tried once, failed once, with the reason in the audit; the next sweeps leave it alone.
    let failed = assert_swept_to_failure(&server.app, &grant, "directory_permission_denied").await;
    assert_eq!(failed["action"], "reset_password", "{failed:?}");
    assert_eq!(count_kind(&server.app, "reset_completed").await, 0);

    // The person is told: the session reads failed, and the reset endpoint says why and
    // that nothing more will happen.
    let body =
        assert_person_told_of_failure(&mut server, &session, &grant, "directory_permission_denied")
            .await;
    assert!(
        body["message"].as_str().unwrap().contains("helpdesk"),
        "{body}"
    );

    // A reset asked for now fails at once, the same way, and stays failed.
    let (status, body) = server.reset(&live_grant, NEW_PASSWORD).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "directory_permission_denied", "{body}");
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(session_state(&server, &live_session).await, "failed");
    server.stop_worker().await;
    assert_stays_failed(&server.app, &live_grant, 2).await;

    // Nothing reached the account, and the chain holds.
    assert!(binds_as(&server.slapd, AVERY, OLD_PASSWORD));
    assert!(!binds_as(&server.slapd, AVERY, NEW_PASSWORD));
    assert_chain_intact(&server.app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_directory_is_retried_with_backoff_then_given_up() {
    let (mut server, _, grant) = LdapServer::with_pending("reset_password").await;
    server.slapd.stop();

    // Unreachable: still pending, and not tried again before its backoff runs out.
    let before = unix_now() as i64;
    assert_eq!(resets::resume_pending(&server.app).await.unwrap(), 0);
    let (state, failure, lease_until, failures, sealed) = grant_row(&server.app, &grant).await;
    assert_eq!((state.as_str(), failure, failures), ("pending", None, 1));
    assert!(sealed.is_some(), "the password is kept to apply later");
    assert!(
        lease_until > before,
        "retried at once: lease_until {lease_until}"
    );
    assert_eq!(resets::resume_pending(&server.app).await.unwrap(), 0);
    assert_eq!(
        grant_row(&server.app, &grant).await.3,
        1,
        "tried again within its backoff"
    );

    // Once the directory comes back, it is applied.
    server.slapd.resume().unwrap();
    sqlx::query("UPDATE grants SET lease_until = 1 WHERE id = $1")
        .bind(reclaim_server::crypto::secret_hash(&grant))
        .execute(&server.app.store.pool)
        .await
        .unwrap();
    assert_eq!(resets::resume_pending(&server.app).await.unwrap(), 1);
    assert_eq!(grant_row(&server.app, &grant).await.0, "completed");

    // A directory that stays away is given up on after the bound, and the person told.
    let (_, grant) = {
        server.restart().await;
        let g = server.approved().await;
        server.stop_worker().await;
        g
    };
    make_pending(&server.app, &grant, "reset_password", 0).await;
    server.slapd.stop();
    sqlx::query("UPDATE grants SET lease_until = 1, directory_failures = $1 WHERE id = $2")
        .bind(resets::MAX_DIRECTORY_FAILURES - 1)
        .bind(reclaim_server::crypto::secret_hash(&grant))
        .execute(&server.app.store.pool)
        .await
        .unwrap();
    assert_eq!(resets::resume_pending(&server.app).await.unwrap(), 0);
    let (state, failure, _, _, sealed) = grant_row(&server.app, &grant).await;
    assert_eq!(
        (state.as_str(), failure.as_deref(), sealed),
        ("failed", Some("reset_failed"), None)
    );
    server.restart().await;
    let (status, body) = server.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"], "reset_failed", "{body}");
    assert_eq!(body["status"], "failed", "{body}");
}

/// The demo directory can make every change, and says so; the failure path is the same
/// on both databases.
async fn the_demo_directory_offers_every_action_and_a_vanished_account_fails_once(db: Db) {
    let h = Harness::start(db).await;
    let r = h
        .client
        .get(h.url("/v1/capabilities"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["actions"],
        json!(["reset_password", "reset_mfa", "unlock"]),
        "{body}"
    );
    let grant = h.approved_grant(AVERY).await;
    // The account the grant was made for is no longer the one the login finds.
    sqlx::query("UPDATE grants SET user_ref = 'demo:someone.else' WHERE id = $1")
        .bind(reclaim_server::crypto::secret_hash(&grant))
        .execute(&h.app.store.pool)
        .await
        .unwrap();
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(grant_row(&h.app, &grant).await.0, "failed");
    assert_eq!(resets::resume_pending(&h.app).await.unwrap(), 0);
    assert_eq!(h.password_changes(AVERY), 0);
    assert_eq!(count_kind(&h.app, "reset_failed").await, 1);
}

/// Length is counted as typed, invisible characters left out; the normal form is judged.
async fn passwords_are_counted_as_typed(db: Db) {
    let h = Harness::start(db).await;
    let grant = h.approved_grant(AVERY).await;
    let check = |password: String| {
        let h = &h;
        let grant = grant.clone();
        async move {
            h.post(
                "/v1/password/check",
                &json!({ "grant": grant, "password": password }),
            )
            .await
        }
    };
    // U+FDFA is one character typed, 18 after NFKC: eight characters typed.
    let (status, body) = check("\u{FDFA}1234567".into()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acceptable"], false, "{body}");
    assert!(
        body["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["code"] == "password_too_short"),
        "{body}"
    );
    let padded = format!("password{}", "\u{200B}".repeat(10));
    let (_, body) = check(padded.clone()).await;
    let codes: Vec<&str> = body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"password_too_short") && codes.contains(&"password_common"),
        "{body}"
    );
    for p in ["\u{FDFA}1234567".to_string(), padded] {
        let (status, body) = h.reset(&grant, &p).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"], "password_refused", "{body}");
    }
    assert_eq!(h.password_changes(AVERY), 0);

    // Over the bound as typed: refused outright, before any normalising.
    let over = "x".repeat(1025);
    let (status, body) = check(over.clone()).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("password_too_long")),
        "{body}"
    );
    let (status, body) = h.reset(&grant, &over).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("password_too_long")),
        "{body}"
    );
    // 42 MB of the one character NFKC multiplies eighteen-fold. A body limit in front may
    // refuse it first, with a 413 or by closing the connection before reading the rest;
    // either way it never reaches the normaliser.
    let huge = "\u{FDFA}".repeat(14 * 1024 * 1024);
    let sent = h
        .client
        .post(h.url("/v1/password/check"))
        .json(&json!({ "grant": grant, "password": huge }))
        .send()
        .await;
    match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert!((400..500).contains(&status), "{status} {body}");
            assert!(
                ["password_too_long", "request_too_large"]
                    .contains(&body["error"].as_str().unwrap_or("")),
                "{body}"
            );
        }
        Err(e) => assert!(e.is_request(), "{e}"),
    }
    // A good password still goes through, and is set.
    let (status, body) = h.reset(&grant, NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(h.password_changes(AVERY), 1);
}

on_both_databases!(
    the_demo_directory_offers_every_action_and_a_vanished_account_fails_once,
    passwords_are_counted_as_typed,
);
