//! Okta: the connector against a stateful double of Okta's Management API, with Stoplight
//! Prism in front validating every request against Okta's published OpenAPI description
//! (`@okta/openapi` 2.15.0). One double and one Prism for the module (the description
//! takes seconds to load); each test has its own accounts, tokens and clients, and checks
//! at its end that Prism saw no request the description does not allow.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use reclaim_directory::{
    Directory, DirectoryError, DirectoryUser, OktaConfig, OktaDirectory, PasswordRefusal,
};
use reclaim_testkit::OktaDouble;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

fn double() -> &'static OktaDouble {
    static SHARED: OnceLock<OktaDouble> = OnceLock::new();
    SHARED.get_or_init(|| OktaDouble::start().expect("the Okta double and Prism start"))
}

fn no_request_violations(d: &OktaDouble) {
    let v = d.prism().request_violations();
    assert!(
        v.is_empty(),
        "requests the description does not allow: {v:#?}"
    );
}

fn control(d: &OktaDouble, method: &str, path: &str, body: Value) -> Value {
    let text = d.control_ok(method, path, &body.to_string()).unwrap();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Seeds a user; its id.
fn seed(d: &OktaDouble, user: Value) -> String {
    control(d, "POST", "/_double/users", user)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn state(d: &OktaDouble, id: &str) -> Value {
    control(d, "GET", &format!("/_double/users/{id}"), json!({}))
}

fn fault(d: &OktaDouble, fault: Value) {
    control(d, "POST", "/_double/faults", fault);
}

fn profile(login: &str, first: &str, last: &str) -> Value {
    json!({ "login": login, "email": login, "firstName": first, "lastName": last })
}

/// A directory with its own SSWS API token, registered with the double.
fn with_token(d: &OktaDouble, name: &str, change: impl FnOnce(&mut OktaConfig)) -> OktaDirectory {
    let token = format!("00{name}-{}", std::process::id());
    control(d, "POST", "/_double/api-tokens", json!({ "token": token }));
    let mut c = OktaConfig::api_token(d.url(), token);
    c.timeout_ms = 3000;
    c.max_rate_limit_wait_ms = 3000;
    change(&mut c);
    OktaDirectory::new(c).unwrap()
}

fn user(id: &str) -> DirectoryUser {
    DirectoryUser::new(id, "x")
}

#[tokio::test]
async fn finds_by_login_or_email_exactly_and_never_picks_one_of_two() {
    let d = double();
    let dir = with_token(d, "find", |c| {
        c.birth_date_attribute = Some("birthDate".into())
    });
    let mut p = profile("anna.find@example.test", "Anna", "Eriksson");
    p["email"] = json!("anna@mail.example.test");
    p["birthDate"] = json!("1990-04-01");
    let id = seed(d, json!({ "profile": p, "password": "Original-pass-1" }));
    // A deactivated account keeps its email; it is not found.
    let mut old = profile("anna.old@example.test", "Anna", "Old");
    old["email"] = json!("anna@mail.example.test");
    seed(d, json!({ "profile": old, "status": "DEPROVISIONED" }));

    let want = DirectoryUser {
        id: id.clone(),
        username: "anna.find@example.test".into(),
        email: Some("anna@mail.example.test".into()),
        display_name: Some("Anna Eriksson".into()),
        given_name: Some("Anna".into()),
        surname: Some("Eriksson".into()),
        birth_date: Some("1990-04-01".into()),
        groups: vec![],
        groups_complete: false,
    };
    assert_eq!(
        dir.find_user("anna.find@example.test").await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(
        dir.find_user(" ANNA@mail.example.test ").await.unwrap(),
        Some(want)
    );
    assert_eq!(dir.find_user("anna.find").await.unwrap(), None);
    assert_eq!(dir.find_user("nobody@example.test").await.unwrap(), None);
    // A quote would be part of Okta's search expression: never sent.
    assert_eq!(
        dir.find_user(r#"x" or profile.login sw "a"#).await.unwrap(),
        None
    );

    // Two active accounts answer to one address: an error, not one of them.
    let mut twin = profile("twin.a@example.test", "Twin", "A");
    twin["email"] = json!("twins@example.test");
    seed(d, json!({ "profile": twin }));
    let mut twin = profile("twin.b@example.test", "Twin", "B");
    twin["email"] = json!("twins@example.test");
    seed(d, json!({ "profile": twin }));
    assert!(matches!(
        dir.find_user("twins@example.test").await,
        Err(DirectoryError::Protocol(_))
    ));
    dir.health().await.unwrap();
    no_request_violations(d);
}

#[tokio::test]
async fn sets_a_password_and_a_refusal_says_why() {
    let d = double();
    let dir = with_token(d, "set", |_| {});
    let id = seed(
        d,
        json!({
            "profile": profile("bo.set@example.test", "Bo", "Lindqvist"),
            "password": "Original-pass-1",
            "status": "PASSWORD_EXPIRED",
            "policy": { "minLength": 12 },
        }),
    );
    let bo = user(&id);
    assert_eq!(
        dir.set_password(&bo, "Short-1a").await,
        Err(DirectoryError::PasswordRefused(PasswordRefusal::TooShort))
    );
    assert_eq!(
        dir.set_password(&bo, "only-lowercase-and-1").await,
        Err(DirectoryError::PasswordRefused(
            PasswordRefusal::QualityFailed
        ))
    );
    dir.set_password(&bo, "Brand-new-pass-2024").await.unwrap();
    let s = state(d, &id);
    assert_eq!(s["password"], "Brand-new-pass-2024");
    assert_eq!(s["status"], "ACTIVE");
    // strict (the default): the org's history applies.
    assert_eq!(
        dir.set_password(&bo, "Original-pass-1").await,
        Err(DirectoryError::PasswordRefused(PasswordRefusal::InHistory))
    );
    assert!(s["requests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["url"].as_str().unwrap().contains("strict=true")));

    // Asked to expire the password after the set: the person changes it at sign-in.
    let expiring = with_token(d, "set-expire", |c| {
        c.change_password_at_next_sign_in = true
    });
    expiring
        .set_password(&bo, "Another-pass-2025")
        .await
        .unwrap();
    assert_eq!(state(d, &id)["status"], "PASSWORD_EXPIRED");

    // Errors never carry the password.
    let e = dir.set_password(&bo, "Short-1a").await.unwrap_err();
    assert!(!format!("{e:?} {e}").contains("Short-1a"));
    // Every call carried the API token as Okta's SSWS scheme (Prism checks only that
    // there is an Authorization header).
    let calls = state(d, &id)["requests"].as_array().unwrap().clone();
    assert!(
        !calls.is_empty() && calls.iter().all(|r| r["auth"] == "SSWS"),
        "{calls:?}"
    );
    assert!(matches!(
        dir.password_is(&bo, "Another-pass-2025").await,
        Err(DirectoryError::Unsupported(_))
    ));
    no_request_violations(d);
}

#[tokio::test]
async fn a_password_set_whose_answer_was_lost_is_repeated_safely() {
    let d = double();
    for strict in [true, false] {
        let dir = with_token(d, &format!("lost-set-{strict}"), |c| {
            c.strict_password_policy = strict
        });
        let id = seed(
            d,
            json!({
                "profile": profile(&format!("cy.lost.{strict}@example.test"), "Cy", "Berg"),
                "password": "Original-pass-1",
            }),
        );
        // Okta applies the change; the answer never reaches Reclaim.
        fault(
            d,
            json!({ "phase": "front", "method": "POST", "contains": format!("/api/v1/users/{id}"), "action": { "lose_answer": true } }),
        );
        let first = dir
            .set_password(&user(&id), "Chosen-pass-2024")
            .await
            .unwrap_err();
        assert!(first.outcome_unknown(), "{first:?}");
        assert_eq!(state(d, &id)["password"], "Chosen-pass-2024");
        // The repeat: the same password is the current one, which was asked.
        dir.set_password(&user(&id), "Chosen-pass-2024")
            .await
            .unwrap();
        assert_eq!(state(d, &id)["password"], "Chosen-pass-2024");
    }
    no_request_violations(d);
}

fn factor(kind: &str, created: &str) -> Value {
    json!({ "factorType": kind, "provider": "OKTA", "created": created })
}

fn factor_types(d: &OktaDouble, id: &str) -> Vec<String> {
    let mut t: Vec<String> = state(d, id)["factors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["factorType"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn an_mfa_reset_deletes_all_but_the_kept_types() {
    let d = double();
    let old = "2024-01-01T10:00:00.000Z";
    let id = seed(
        d,
        json!({
            "profile": profile("dag.mfa@example.test", "Dag", "Holm"),
            "factors": [factor("sms", old), factor("push", old), factor("token:software:totp", old), factor("email", old), factor("question", old)],
        }),
    );
    let keeping = with_token(d, "mfa-keep", |c| {
        c.keep_factor_types = vec!["email".into(), "question".into()]
    });
    let reset = keeping.reset_mfa(&user(&id), None).await.unwrap();
    assert_eq!(reset.sign_in_code, None);
    assert_eq!(factor_types(d, &id), ["email", "question"]);
    let all = with_token(d, "mfa-all", |_| {});
    all.reset_mfa(&user(&id), None).await.unwrap();
    assert!(factor_types(d, &id).is_empty());
    // Nothing left: a repeat changes nothing and succeeds.
    all.reset_mfa(&user(&id), None).await.unwrap();
    no_request_violations(d);
}

#[tokio::test]
async fn after_a_lost_answer_the_repeat_keeps_the_factor_enrolled_since_the_decision() {
    let d = double();
    let dir = with_token(d, "mfa-lost", |_| {});
    let old = "2024-01-01T10:00:00.000Z";
    let id = seed(
        d,
        json!({
            "profile": profile("eva.mfa@example.test", "Eva", "Ek"),
            "factors": [factor("token:software:totp", old), factor("sms", old)],
        }),
    );
    let decided = SystemTime::now() - Duration::from_secs(5);
    // The list is answered, the first delete applied and its answer lost.
    fault(
        d,
        json!({ "phase": "front", "method": "DELETE", "contains": format!("/api/v1/users/{id}/factors/"), "action": { "lose_answer": true } }),
    );
    let first = dir.reset_mfa(&user(&id), None).await.unwrap_err();
    assert!(first.outcome_unknown(), "{first:?}");
    assert_eq!(factor_types(d, &id), ["sms"]);
    // Meanwhile the person enrols a new authenticator app.
    control(
        d,
        "POST",
        &format!("/_double/user-state/{id}"),
        json!({ "add_factor": { "factorType": "token:software:totp" } }),
    );
    dir.reset_mfa(&user(&id), Some(decided)).await.unwrap();
    assert_eq!(factor_types(d, &id), ["token:software:totp"]);
    no_request_violations(d);
}

#[tokio::test]
async fn unlock_asks_first_so_a_repeat_makes_no_second_call() {
    let d = double();
    let dir = with_token(d, "unlock", |_| {});
    let id = seed(
        d,
        json!({ "profile": profile("finn.lock@example.test", "Finn", "Lund"), "status": "LOCKED_OUT" }),
    );
    fault(
        d,
        json!({ "phase": "front", "method": "POST", "contains": format!("/api/v1/users/{id}/lifecycle/unlock"), "action": { "lose_answer": true } }),
    );
    let first = dir.unlock(&user(&id)).await.unwrap_err();
    assert!(first.outcome_unknown(), "{first:?}");
    assert_eq!(state(d, &id)["status"], "ACTIVE");
    dir.unlock(&user(&id)).await.unwrap();
    let unlocks = state(d, &id)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/lifecycle/unlock"))
        .count();
    assert_eq!(unlocks, 1);
    // Not locked: nothing to do. Suspended: unlocking would not let them in.
    let active = seed(
        d,
        json!({ "profile": profile("gus.lock@example.test", "Gus", "Ås") }),
    );
    dir.unlock(&user(&active)).await.unwrap();
    let suspended = seed(
        d,
        json!({ "profile": profile("hel.lock@example.test", "Hel", "Ås"), "status": "SUSPENDED" }),
    );
    assert!(dir
        .unlock(&user(&suspended))
        .await
        .unwrap_err()
        .is_permanent());
    // An id Okta could not have given is not sent.
    assert_eq!(
        dir.unlock(&user("../../groups")).await,
        Err(DirectoryError::UserNotFound)
    );
    no_request_violations(d);
}

#[tokio::test]
async fn groups_follow_okta_pagination_but_only_to_okta() {
    let d = double();
    let dir = with_token(d, "groups", |_| {});
    let names = ["Everyone", "Staff", "Okta Admins", "VPN", "Finance"];
    let id = seed(
        d,
        json!({ "profile": profile("ida.grp@example.test", "Ida", "Sand"), "groups": names, "groups_page_size": 2 }),
    );
    let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    want.sort();
    assert_eq!(dir.groups(&user(&id)).await.unwrap(), want);
    let pages = state(d, &id)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().ends_with("/groups"))
        .count();
    assert_eq!(pages, 3);
    let full = dir.with_groups(user(&id)).await;
    assert!(full.groups_complete && full.member_of_any(&["Okta Admins"]) == Some(true));

    // A next link to another host would take the credential there: not followed.
    let group = json!([{ "id": "00gx", "profile": { "name": "Staff" }, "_links": {} }]);
    let evil = format!("<http://127.0.0.2:9/api/v1/users/{id}/groups?after=2>; rel=\"next\"");
    fault(
        d,
        json!({ "method": "GET", "contains": format!("/api/v1/users/{id}/groups"), "action": { "respond": { "status": 200, "body": group, "headers": { "link": evil } } } }),
    );
    assert!(matches!(
        dir.groups(&user(&id)).await,
        Err(DirectoryError::Protocol(_))
    ));
    no_request_violations(d);
}

/// A P-256 key: the PKCS#8 PEM written to a file, and the public half as a JWK.
fn p256(name: &str) -> (std::path::PathBuf, Value) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let point = pair.public_key().as_ref();
    let jwk = json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65]) });
    let path = std::env::temp_dir().join(format!("reclaim-okta-{name}-{}.pem", std::process::id()));
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    std::fs::write(&path, pem).unwrap();
    (path, jwk)
}

fn service_app(d: &OktaDouble, name: &str, client: Value) -> (OktaDirectory, String) {
    let (key, jwk) = p256(name);
    let client_id = format!("0oa{name}");
    let mut c = client;
    c["client_id"] = json!(client_id);
    c["public_key_jwk"] = jwk;
    c["kid"] = json!("key-1");
    control(d, "POST", "/_double/clients", c);
    let mut config = OktaConfig::service_app(d.url(), &client_id, &key);
    config.key_id = Some("key-1".into());
    config.timeout_ms = 3000;
    let dir = OktaDirectory::new(config).unwrap();
    let _ = std::fs::remove_file(&key);
    (dir, client_id)
}

/// An RSA key made by openssl (installed by scripts/setup-debian): the PKCS#8 PEM file and
/// the public key as PEM.
fn rsa(name: &str) -> (std::path::PathBuf, String) {
    let path = std::env::temp_dir().join(format!("reclaim-okta-{name}-{}.pem", std::process::id()));
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&path)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{made:?}");
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&path)
        .output()
        .expect("openssl runs");
    assert!(public.status.success(), "{public:?}");
    (path, String::from_utf8(public.stdout).unwrap())
}

#[tokio::test]
async fn a_service_app_with_an_rsa_key_signs_rs256() {
    let d = double();
    let (key, public) = rsa("rsa");
    control(
        d,
        "POST",
        "/_double/clients",
        json!({
            "client_id": "0oarsa", "public_key_pem": public, "scopes": ["okta.users.read", "okta.users.manage"],
        }),
    );
    let dir = OktaDirectory::new(OktaConfig::service_app(d.url(), "0oarsa", &key)).unwrap();
    let _ = std::fs::remove_file(&key);
    let id = seed(
        d,
        json!({
            "profile": profile("max.rsa@example.test", "Max", "Berg"),
            "factors": [factor("sms", "2024-01-01T10:00:00.000Z")],
        }),
    );
    let found = dir
        .find_user("max.rsa@example.test")
        .await
        .unwrap()
        .unwrap();
    dir.reset_mfa(&found, None).await.unwrap();
    assert!(factor_types(d, &id).is_empty());
    assert_eq!(issued(d, "0oarsa"), 1);
    no_request_violations(d);
}

fn issued(d: &OktaDouble, client_id: &str) -> u64 {
    control(
        d,
        "GET",
        &format!("/_double/clients/{client_id}"),
        json!({}),
    )["issued"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_service_app_signs_in_with_its_key_and_the_narrowest_scopes() {
    let d = double();
    let both = json!(["okta.users.read", "okta.users.manage"]);
    let (dir, client) = service_app(d, "app", json!({ "scopes": both }));
    let id = seed(
        d,
        json!({ "profile": profile("jon.app@example.test", "Jon", "Falk"), "status": "LOCKED_OUT" }),
    );
    let found = dir
        .find_user("jon.app@example.test")
        .await
        .unwrap()
        .unwrap();
    dir.unlock(&found).await.unwrap();
    assert_eq!(state(d, &id)["status"], "ACTIVE");
    // One token for both calls, and every API call carried it as a bearer token.
    assert_eq!(issued(d, &client), 1);
    assert!(state(d, &id)["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["auth"] == "Bearer"));

    // Revoked early: the 401 is answered by a new token, once.
    control(
        d,
        "POST",
        &format!("/_double/clients/{client}/revoke-tokens"),
        json!({}),
    );
    dir.health().await.unwrap();
    assert_eq!(issued(d, &client), 2);

    // The app deactivated: a configuration error, not retried.
    control(
        d,
        "POST",
        &format!("/_double/clients/{client}/deactivate"),
        json!({}),
    );
    let e = dir.health().await.unwrap_err();
    assert!(matches!(e, DirectoryError::Config(_)), "{e:?}");
    no_request_violations(d);
}

#[tokio::test]
async fn a_service_app_without_a_scope_or_a_permission_is_told_which() {
    let d = double();
    let id = seed(
        d,
        json!({ "profile": profile("kim.perm@example.test", "Kim", "Ros"), "status": "LOCKED_OUT" }),
    );
    // The scope is not granted to the app: the token endpoint refuses it.
    let (dir, _) = service_app(d, "readonly", json!({ "scopes": ["okta.users.read"] }));
    let e = dir.unlock(&user(&id)).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Config(m) if m.contains("invalid_scope")),
        "{e:?}"
    );
    // The app's admin role lacks the unlock permission: the error names it.
    let (dir, _) = service_app(
        d,
        "norole",
        json!({
            "scopes": ["okta.users.read", "okta.users.manage"],
            "permissions": ["okta.users.read", "okta.users.credentials.resetPassword"],
        }),
    );
    let e = dir.unlock(&user(&id)).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::PermissionDenied(m) if m.contains("okta.users.lifecycle.unlock")),
        "{e:?}"
    );
    assert!(e.is_permanent());
    // An app that requires DPoP (Okta's default for new service apps): say so.
    let (dir, _) = service_app(
        d,
        "dpop",
        json!({ "scopes": ["okta.users.read", "okta.users.manage"], "require_dpop": true }),
    );
    let e = dir.health().await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Config(m) if m.contains("invalid_dpop_proof")),
        "{e:?}"
    );
    assert_eq!(state(d, &id)["status"], "LOCKED_OUT");
    no_request_violations(d);
}

fn okta_error(code: &str, summary: &str) -> Value {
    json!({ "errorCode": code, "errorSummary": summary, "errorLink": code, "errorId": "oae1", "errorCauses": [] })
}

#[tokio::test]
async fn refusals_and_failures_become_the_errors_the_server_acts_on() {
    let d = double();
    let dir = with_token(d, "faults", |_| {});
    let id = seed(
        d,
        json!({ "profile": profile("lea.fault@example.test", "Lea", "Strand"), "status": "LOCKED_OUT" }),
    );
    let path = format!("/api/v1/users/{id}");
    let respond = |status: u16, body: Value, headers: Value| {
        fault(
            d,
            json!({ "method": "GET", "contains": path, "action": { "respond": { "status": status, "body": body, "headers": headers } } }),
        );
    };

    respond(
        403,
        okta_error(
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
        json!({}),
    );
    let e = dir.unlock(&user(&id)).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::PermissionDenied(m) if m.contains("okta.users.read")),
        "{e:?}"
    );

    respond(
        500,
        okta_error("E0000009", "Internal Server Error"),
        json!({}),
    );
    assert!(dir.unlock(&user(&id)).await.unwrap_err().outcome_unknown());

    assert_eq!(
        dir.unlock(&user("00unotthere0000")).await,
        Err(DirectoryError::UserNotFound)
    );

    // 429: waited out as Okta asks, by Retry-After or by X-Rate-Limit-Reset.
    let rate = okta_error(
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    );
    respond(429, rate.clone(), json!({ "retry-after": "1" }));
    let t = Instant::now();
    dir.unlock(&user(&id)).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(state(d, &id)["status"], "ACTIVE");
    let reset = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 2;
    respond(
        429,
        rate.clone(),
        json!({ "x-rate-limit-reset": reset.to_string(), "x-rate-limit-remaining": "0" }),
    );
    let t = Instant::now();
    dir.unlock(&user(&id)).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    // Beyond the allowed wait: given up at once, the change left to the server's retry.
    let impatient = with_token(d, "faults-impatient", |c| c.max_rate_limit_wait_ms = 500);
    respond(429, rate, json!({ "retry-after": "30" }));
    let t = Instant::now();
    let e = impatient.unlock(&user(&id)).await.unwrap_err();
    assert!(
        matches!(e, DirectoryError::Unavailable(_)) && t.elapsed() < Duration::from_secs(2),
        "{e:?}"
    );

    // Too slow: a timeout, whose outcome is unknown.
    let hasty = with_token(d, "faults-hasty", |c| c.timeout_ms = 300);
    fault(
        d,
        json!({ "method": "GET", "contains": path, "action": { "delay_ms": 1500 } }),
    );
    let e = hasty.unlock(&user(&id)).await.unwrap_err();
    assert!(e == DirectoryError::Timeout && e.outcome_unknown(), "{e:?}");

    // The API token revoked: a configuration error, not retried.
    let revoked = with_token(d, "faults-revoked", |_| {});
    let token = format!("00faults-revoked-{}", std::process::id());
    d.control_ok("DELETE", &format!("/_double/api-tokens/{token}"), "")
        .unwrap();
    let e = revoked.unlock(&user(&id)).await.unwrap_err();
    assert!(
        matches!(e, DirectoryError::Config(_)) && e.is_permanent(),
        "{e:?}"
    );
    no_request_violations(d);
}

/// The negative control: a request the description does not allow is stopped by Prism,
/// never reaches the double, and shows as a violation. Its own double and Prism, so the
/// violation does not fail the other tests' checks.
#[tokio::test]
async fn the_harness_stops_a_request_the_description_does_not_allow() {
    let d = OktaDouble::start().unwrap();
    let token = "00negative";
    control(&d, "POST", "/_double/api-tokens", json!({ "token": token }));
    let id = seed(
        &d,
        json!({ "profile": profile("neg@example.test", "Neg", "Ative"), "password": "Original-pass-1" }),
    );
    // A password given as a bare string, where Okta's User schema wants an object.
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/users/{id}", d.url()))
        .header("authorization", format!("SSWS {token}"))
        .json(&json!({ "credentials": { "password": "Chosen-pass-2024" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 422);
    let s = state(&d, &id);
    assert_eq!(s["password"], "Original-pass-1");
    assert!(s["requests"].as_array().unwrap().is_empty(), "{s}");
    // Prism writes its log a moment after it answers.
    let t = Instant::now();
    while d.prism().request_violations().is_empty() && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let v = d.prism().request_violations();
    assert!(
        v.iter().any(|l| l.contains("UNPROCESSABLE_ENTITY")),
        "{v:#?}"
    );
    // And a well-formed one passes, to show the refusal was for the shape alone.
    let dir = OktaDirectory::new(OktaConfig::api_token(d.url(), token)).unwrap();
    dir.set_password(&user(&id), "Chosen-pass-2024")
        .await
        .unwrap();
    assert_eq!(state(&d, &id)["password"], "Chosen-pass-2024");
}
