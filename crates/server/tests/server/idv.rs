//! The identity-verification provider (`[idv]`) against a real, OpenID-certified relying
//! party: openid-client (crates/testkit/idv-rp/rp.mjs) plays Okta (discovery, PAR with
//! PKCE and a `claims` request for `verified_claims`, the code grant, and the ID token's
//! validation with the published JWKS), and the test plays the person's phone in between,
//! taking the session over by its hand-off and sending a signed attestation as the other
//! server tests do.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use reclaim_protocol::{DeviceKey, RecoveryAction};
use reclaim_server::App;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::harness::{self, claims, rejected_claims, Db, Harness, OpenSession, Options, AVERY};

const OKTA_SECRET: &str = "okta-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const OTHER_SECRET: &str = "other-secret-0123456789abcdefghijklmnopqrstuvwxyz";
const CALLBACK: &str = "https://example.okta.test/idp/identity-verification/callback";

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The `claims` parameter Okta sends (OIDC4IDA 1.0): the names and birth date, verified.
fn claims_request() -> Value {
    json!({
        "id_token": {
            "verified_claims": {
                "verification": { "trust_framework": null, "time": null, "evidence": null },
                "claims": { "given_name": null, "family_name": null, "birthdate": null }
            }
        }
    })
}

/// The relying party, one JSON command a line.
struct Rp {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Rp {
    fn start(issuer: &str) -> Rp {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../testkit/idv-rp"));
        assert!(
            dir.join("node_modules/openid-client").is_dir(),
            "{}/node_modules is missing: run `npm ci` there (scripts/setup-debian does)",
            dir.display()
        );
        let clients = json!({
            "okta": { "id": "okta", "secret": OKTA_SECRET, "auth": "basic" },
            "okta-post": { "id": "okta", "secret": OKTA_SECRET, "auth": "post" },
            "other": { "id": "other", "secret": OTHER_SECRET, "auth": "basic" },
            "okta-bad-secret": { "id": "okta", "secret": "not-the-secret", "auth": "basic" },
        });
        let mut child = Command::new("node")
            .arg(dir.join("rp.mjs"))
            .arg(issuer)
            .env("IDV_CLIENTS", clients.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Rp {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends `cmd` and waits for its answer (the server answers on another worker).
    fn call(&mut self, cmd: Value) -> Value {
        tokio::task::block_in_place(|| {
            writeln!(self.stdin, "{cmd}").unwrap();
            self.stdin.flush().unwrap();
            let mut line = String::new();
            self.stdout.read_line(&mut line).unwrap();
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("rp answered {line:?} to {cmd}"))
        })
    }

    fn start_flow(&mut self, flow: &str) -> Value {
        let answer = self.call(json!({
            "cmd": "start", "flow": flow, "client": "okta",
            "redirect_uri": CALLBACK, "claims": claims_request(),
        }));
        assert_eq!(answer["ok"], true, "{answer}");
        answer
    }
}

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server with `[idv]` on, on a port chosen here so the issuer can name it.
struct Idv {
    h: Harness,
    issuer: String,
    port: u16,
    keys: harness::TempDir,
}

fn idv_toml(issuer: &str, keys: &[PathBuf]) -> String {
    let keys: Vec<String> = keys
        .iter()
        .map(|k| format!("{:?}", k.display().to_string()))
        .collect();
    format!(
        r#"
[idv]
enabled = true
issuer = "{issuer}"
signing_keys = [{keys}]

[[idv.clients]]
client_id = "okta"
client_secret_sha256 = "{okta}"
redirect_uris = ["{CALLBACK}"]

[[idv.clients]]
client_id = "other"
client_secret_sha256 = "{other}"
redirect_uris = ["https://other.example.test/callback"]
"#,
        keys = keys.join(", "),
        okta = sha256_hex(OKTA_SECRET),
        other = sha256_hex(OTHER_SECRET),
    )
}

fn options(port: u16, issuer: &str, keys: &[PathBuf]) -> Options {
    Options {
        listen: Some(format!("127.0.0.1:{port}")),
        extra: idv_toml(issuer, keys),
        ..Options::default()
    }
}

fn write_key(dir: &harness::TempDir, name: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, reclaim_server::idv::keys::new_key_pem().unwrap()).unwrap();
    path
}

impl Idv {
    async fn start(db: Db) -> Idv {
        Idv::with_policy(db, "").await
    }

    /// With these lines in `[policy]`.
    async fn with_policy(db: Db, policy: &str) -> Idv {
        let port = reclaim_testkit::free_port().unwrap();
        let issuer = format!("http://127.0.0.1:{port}/idv");
        let keys = harness::TempDir::new();
        let a = write_key(&keys, "a.pem");
        let mut o = options(port, &issuer, &[a]);
        o.policy = policy.into();
        let h = Harness::with(db, o).await;
        Idv {
            h,
            issuer,
            port,
            keys,
        }
    }

    /// The phone takes the verification over by its hand-off and sends `claims_of`'s
    /// claims, signed by the kiosk; the decision as answered.
    async fn phone_verifies(
        &self,
        handoff: &str,
        claims_of: fn(&OpenSession, &DeviceKey) -> reclaim_protocol::AttestationClaims,
    ) -> (u16, Value) {
        let query = handoff.split_once('?').unwrap().1;
        let param = |name: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .to_string()
        };
        let (status, view) = self
            .h
            .claim_hand_off(&param("session"), &param("secret"), &self.h.kiosk)
            .await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["action"], "verify_identity", "{view}");
        let s = OpenSession::from_json(view["login"].as_str().unwrap(), &view);
        let mut c = claims_of(&s, &self.h.kiosk);
        c.action = RecoveryAction::VerifyIdentity;
        c.document.as_mut().unwrap().birth_date = Some("1990-04-12".into());
        self.h.attest(&s, &c, &self.h.kiosk).await
    }
}

async fn audit_has(app: &App, kinds: &[&str]) {
    let all = harness::audit_kinds(app).await;
    for k in kinds {
        assert!(all.iter().any(|a| a == k), "no {k} in {all:?}");
    }
}

/// The whole flow: discovery, PAR, the page, the phone's verification, the code, and an
/// ID token openid-client validates with the JWKS, carrying `verified_claims`. Nothing
/// changes in the directory, no grant exists, and the code is one use.
async fn a_verified_person_gives_the_relying_party_an_id_token(db: Db) {
    let idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    let meta = rp.call(json!({"cmd": "metadata"}));
    assert_eq!(
        meta["metadata"]["require_pushed_authorization_requests"],
        true
    );
    assert_eq!(
        meta["metadata"]["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(meta["metadata"]["verified_claims_supported"], true);
    let started = rp.start_flow("v");
    assert_eq!(started["has_cookie"], true);
    let (status, decision) = idv
        .phone_verifies(started["handoff"].as_str().unwrap(), claims)
        .await;
    assert_eq!(status, 200, "{decision}");
    assert_eq!(decision["outcome"], "verified", "{decision}");
    assert!(decision.get("grant").is_none(), "{decision}");
    let back = rp.call(json!({"cmd": "finish", "flow": "v"}));
    assert_eq!(back["status"], 303, "{back}");
    let location = back["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("{CALLBACK}?code=")),
        "{location}"
    );
    assert!(
        location.contains(&format!("iss={}", "http%3A%2F%2F127.0.0.1")),
        "{location}"
    );
    let tokens = rp.call(json!({"cmd": "redeem", "flow": "v"}));
    assert_eq!(tokens["ok"], true, "{tokens}");
    let c = &tokens["claims"];
    assert_eq!(c["iss"], idv.issuer);
    assert_eq!(c["aud"], "okta");
    let vc = &c["verified_claims"];
    assert_eq!(vc["claims"]["given_name"], "Avery", "{c}");
    assert_eq!(vc["claims"]["family_name"], "Quinn", "{c}");
    assert_eq!(vc["claims"]["birthdate"], "1990-04-12", "{c}");
    assert_eq!(vc["verification"]["trust_framework"], "reclaim");
    assert!(vc["verification"]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(vc["verification"]["evidence"][0]["type"], "document");
    assert_eq!(
        vc["verification"]["evidence"][0]["document_details"]["type"],
        "idcard"
    );
    let sub = c["sub"].as_str().unwrap();
    assert!(sub.len() >= 40 && !sub.contains("Quinn"), "{sub}");
    // Nothing reached the directory: no grant, no password change.
    assert_eq!(idv.h.count("SELECT COUNT(*) FROM grants").await, 0);
    assert_eq!(idv.h.password_changes(AVERY), 0);
    // The code is one use.
    let again = rp.call(json!({"cmd": "redeem", "flow": "v"}));
    assert_eq!(again["ok"], false, "{again}");
    assert_eq!(again["error"], "invalid_grant", "{again}");
    audit_has(
        &idv.h.app,
        &[
            "idv_request_pushed",
            "idv_verification_started",
            "session_handed_off",
            "decision",
            "idv_authorization_answered",
            "idv_token_issued",
            "idv_token_refused",
        ],
    )
    .await;
    harness::assert_chain_intact(&idv.h.app).await;
    // The audit keeps no secret: no request_uri, code, cookie or token.
    let details: Vec<String> = sqlx::query_scalar("SELECT detail FROM audit")
        .fetch_all(&idv.h.app.store.pool)
        .await
        .unwrap();
    let all = details.join("\n");
    for secret in [
        tokens["id_token"].as_str().unwrap(),
        location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap(),
    ] {
        assert!(!all.contains(secret), "the audit holds a secret");
    }
}

/// A wrong PKCE verifier is refused, and spends the code.
async fn a_wrong_verifier_is_refused(db: Db) {
    let idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    let started = rp.start_flow("v");
    let (_, d) = idv
        .phone_verifies(started["handoff"].as_str().unwrap(), claims)
        .await;
    assert_eq!(d["outcome"], "verified", "{d}");
    rp.call(json!({"cmd": "finish", "flow": "v"}));
    let wrong = rp.call(json!({"cmd": "redeem", "flow": "v", "verifier": "wrong"}));
    assert_eq!(wrong["error"], "invalid_grant", "{wrong}");
    let right = rp.call(json!({"cmd": "redeem", "flow": "v"}));
    assert_eq!(
        right["error"], "invalid_grant",
        "spent by the wrong try: {right}"
    );
}

/// Another client, or another redirect_uri, cannot redeem the code; an unregistered
/// redirect_uri or a wrong secret is refused at the push.
async fn the_code_is_bound_to_its_client_and_redirect_uri(db: Db) {
    let idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    for (flow, redeem) in [
        (
            "a",
            json!({"cmd": "redeem", "flow": "a", "client": "other"}),
        ),
        (
            "b",
            json!({"cmd": "redeem", "flow": "b", "redirect_uri": "https://example.okta.test/elsewhere"}),
        ),
    ] {
        let started = rp.start_flow(flow);
        let (_, d) = idv
            .phone_verifies(started["handoff"].as_str().unwrap(), claims)
            .await;
        assert_eq!(d["outcome"], "verified", "{d}");
        rp.call(json!({"cmd": "finish", "flow": flow}));
        let refused = rp.call(redeem);
        assert_eq!(refused["error"], "invalid_grant", "{flow}: {refused}");
    }
    let unregistered = rp.call(json!({
        "cmd": "start", "flow": "c", "client": "okta", "redirect_uri": "https://evil.example.test/cb",
    }));
    assert_eq!(unregistered["ok"], false);
    assert_eq!(unregistered["error"], "invalid_request", "{unregistered}");
    let bad_secret = rp.call(json!({
        "cmd": "start", "flow": "d", "client": "okta-bad-secret", "redirect_uri": CALLBACK,
    }));
    // openid-client reports the 401's Basic challenge; the body is OAuth's own.
    assert_eq!(bad_secret["status"], 401, "{bad_secret}");
    let res = idv
        .h
        .client
        .post(idv.h.url("/idv/par"))
        .basic_auth("okta", Some("not-the-secret"))
        .form(&[("response_type", "code")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().contains_key("www-authenticate"));
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client", "{body}");
    // An unknown client reads the same.
    let res = idv
        .h
        .client
        .post(idv.h.url("/idv/par"))
        .basic_auth("nobody", Some(OKTA_SECRET))
        .form(&[("response_type", "code")])
        .send()
        .await
        .unwrap();
    let unknown: Value = res.json().await.unwrap();
    assert_eq!(unknown, body);
    // client_secret_post is accepted as well as Basic.
    let post = rp.call(json!({
        "cmd": "start", "flow": "e", "client": "okta-post", "redirect_uri": CALLBACK,
    }));
    assert_eq!(post["ok"], true, "{post}");
}

/// A request_uri starts one verification, and not after it expired.
async fn a_request_uri_is_one_use_and_expires(db: Db) {
    let idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    rp.start_flow("a");
    let again = rp.call(json!({"cmd": "authorize_again", "flow": "a"}));
    assert_eq!(again["status"], 400, "{again}");
    assert_eq!(
        idv.h
            .count("SELECT COUNT(*) FROM sessions WHERE action = 'verify_identity'")
            .await,
        1
    );
    // A second request, expired before the browser comes: the page refuses it.
    rp.start_flow("b");
    idv.h
        .execute("UPDATE idv_requests SET session_id = NULL, expires_at = 0 WHERE session_id IS NOT NULL")
        .await;
    let expired = rp.call(json!({"cmd": "authorize_again", "flow": "b"}));
    assert_eq!(expired["status"], 400, "{expired}");
}

/// A refused verification sends the browser back with `access_denied`, which the relying
/// party reads as such; there is no code to redeem.
async fn a_refused_verification_is_access_denied(db: Db) {
    let idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    let started = rp.start_flow("v");
    let (status, d) = idv
        .phone_verifies(started["handoff"].as_str().unwrap(), rejected_claims)
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["outcome"], "rejected", "{d}");
    let back = rp.call(json!({"cmd": "finish", "flow": "v"}));
    assert_eq!(back["status"], 303);
    let location = back["location"].as_str().unwrap();
    assert!(location.contains("error=access_denied"), "{location}");
    assert!(!location.contains("code="), "{location}");
    let redeemed = rp.call(json!({"cmd": "redeem", "flow": "v"}));
    assert_eq!(redeemed["ok"], false);
    assert_eq!(redeemed["error"], "access_denied", "{redeemed}");
}

/// A verification under a `review` verdict, on a server without a review queue, is
/// refused, opens no case and answers `access_denied`. (With a queue, which needs the
/// console's sign-in, a review is turned into a refusal by
/// `recovery::idv::ruling_for_verification`, unit-tested there.)
async fn a_verification_for_review_is_refused(db: Db) {
    let idv = Idv::with_policy(
        db,
        "[[policy.table]]\naction = \"verify\"\ntier = \"managed\"\nuser = \"*\"\nverdict = \"review\"\n",
    )
    .await;
    let mut rp = Rp::start(&idv.issuer);
    let started = rp.start_flow("v");
    let (status, d) = idv
        .phone_verifies(started["handoff"].as_str().unwrap(), claims)
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["outcome"], "rejected", "{d}");
    assert_eq!(idv.h.count("SELECT COUNT(*) FROM reviews").await, 0);
    let back = rp.call(json!({"cmd": "finish", "flow": "v"}));
    assert!(
        back["location"]
            .as_str()
            .unwrap()
            .contains("error=access_denied"),
        "{back}"
    );
}

/// After a rotation (a new key first, the old one still listed), new tokens are signed
/// with the new key and a token signed before still verifies with the published JWKS.
async fn a_rotated_key_still_verifies_earlier_tokens(db: Db) {
    let mut idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    let started = rp.start_flow("v");
    idv.phone_verifies(started["handoff"].as_str().unwrap(), claims)
        .await;
    rp.call(json!({"cmd": "finish", "flow": "v"}));
    let before = rp.call(json!({"cmd": "redeem", "flow": "v"}));
    assert_eq!(before["ok"], true, "{before}");
    drop(rp);
    // The rotation: another instance on the same database, the new key first.
    idv.h.stop().await;
    let b = write_key(&idv.keys, "b.pem");
    let a = idv.keys.path().join("a.pem");
    let config = idv
        .h
        .config_of_another_instance(&options(idv.port, &idv.issuer, &[b, a.clone()]));
    let app = App::open(config).await.unwrap();
    let server = reclaim_server::start(app.clone()).await.unwrap();
    let mut rp = Rp::start(&idv.issuer);
    let started = rp.start_flow("w");
    let (_, d) = idv
        .phone_verifies(started["handoff"].as_str().unwrap(), claims)
        .await;
    assert_eq!(d["outcome"], "verified", "{d}");
    rp.call(json!({"cmd": "finish", "flow": "w"}));
    let after = rp.call(json!({"cmd": "redeem", "flow": "w"}));
    assert_eq!(after["ok"], true, "{after}");
    assert_ne!(after["kid"], before["kid"], "new tokens use the new key");
    let old = rp.call(json!({"cmd": "verify", "jwt": before["id_token"], "audience": "okta"}));
    assert_eq!(old["ok"], true, "{old}");
    assert_eq!(old["kid"], before["kid"]);
    server.stop().await;
    // Once the old key is retired from the list, its tokens no longer verify.
    let config = idv.h.config_of_another_instance(&options(
        idv.port,
        &idv.issuer,
        &[idv.keys.path().join("b.pem")],
    ));
    let app = App::open(config).await.unwrap();
    let server = reclaim_server::start(app).await.unwrap();
    let rp = &mut Rp::start(&idv.issuer);
    let retired = rp.call(json!({"cmd": "verify", "jwt": before["id_token"], "audience": "okta"}));
    assert_eq!(retired["ok"], false, "{retired}");
    server.stop().await;
}

/// An attacker's own verification (for another pushed request, or a recovery session)
/// cannot be redeemed for the victim's request: a session is bound to its request and
/// its browser at creation.
async fn another_requests_verification_cannot_be_redeemed(db: Db) {
    let idv = Idv::start(db).await;
    let mut rp = Rp::start(&idv.issuer);
    let victim = rp.start_flow("victim");
    let attacker = rp.start_flow("attacker");
    let (_, d) = idv
        .phone_verifies(attacker["handoff"].as_str().unwrap(), claims)
        .await;
    assert_eq!(d["outcome"], "verified", "{d}");
    // The attacker's verified session with the victim's browser cookie, and the victim's
    // session with the attacker's cookie: neither answers.
    let spliced = rp.call(
        json!({"cmd": "finish", "flow": "victim", "session_of": "attacker", "cookie_of": "victim"}),
    );
    assert_eq!(spliced["status"], 400, "{spliced}");
    assert!(spliced["location"].is_null(), "{spliced}");
    let spliced = rp.call(
        json!({"cmd": "finish", "flow": "victim", "session_of": "victim", "cookie_of": "attacker"}),
    );
    assert_eq!(spliced["status"], 400, "{spliced}");
    // The victim's own request is still unverified: its page waits, it has no code.
    let waiting = rp.call(json!({"cmd": "finish", "flow": "victim"}));
    assert_eq!(waiting["status"], 200, "{waiting}");
    assert_eq!(
        idv.h
            .count("SELECT COUNT(*) FROM idv_requests WHERE verified_sealed IS NOT NULL")
            .await,
        1
    );
    // A recovery session approved by the usual flow is bound to no request at all.
    let s = idv.h.session(AVERY, &idv.h.kiosk).await;
    let (_, d) = idv
        .h
        .attest(&s, &claims(&s, &idv.h.kiosk), &idv.h.kiosk)
        .await;
    assert_eq!(d["outcome"], "approved", "{d}");
    let res = idv
        .h
        .client
        .get(idv.h.url(&format!("/idv/finish/{}", s.id)))
        .header("cookie", format!("reclaim_idv_{}=rb_anything", s.id))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    // Nor can a recovery session be started for identity verification by the API.
    let (status, body) = idv
        .h
        .post(
            "/v1/sessions",
            &json!({ "login": AVERY, "action": "verify_identity", "device": idv.h.kiosk.key_id().as_str() }),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    drop(victim);
}

crate::on_both_databases!(a_verified_person_gives_the_relying_party_an_id_token);

mod sqlite_only {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wrong_verifier_is_refused() {
        super::a_wrong_verifier_is_refused(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_code_is_bound_to_its_client_and_redirect_uri() {
        super::the_code_is_bound_to_its_client_and_redirect_uri(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_uri_is_one_use_and_expires() {
        super::a_request_uri_is_one_use_and_expires(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_refused_verification_is_access_denied() {
        super::a_refused_verification_is_access_denied(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_verification_for_review_is_refused() {
        super::a_verification_for_review_is_refused(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_rotated_key_still_verifies_earlier_tokens() {
        super::a_rotated_key_still_verifies_earlier_tokens(Db::sqlite()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_requests_verification_cannot_be_redeemed() {
        super::another_requests_verification_cannot_be_redeemed(Db::sqlite()).await
    }
}
