//! Duo: the connector against a double of the Admin API that verifies every request's
//! signature with Duo's reference client's own signing code (`duo_client` 5.7.0; see
//! crates/testkit/vendors/duo_server.py). Lookups, MFA reset, bypass code, unlock, a
//! wrong key and tampered requests refused, and the faults: 401, 403, 404, 429, 5xx, a
//! timeout, and a change that took effect although its answer was lost.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reclaim_directory::{
    Directory, DirectoryError, DirectoryUser, DuoConfig, DuoDirectory, DuoFactor, DuoLoginField,
};
use reclaim_testkit::duo_server::{DuoServer, DUO_HOST, DUO_IKEY, DUO_SKEY};
use serde_json::{json, Value};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn start() -> DuoServer {
    let s = DuoServer::start().unwrap();
    let old = now() - 86_400;
    s.seed(
        &json!({
            "users": [
                {"user_id": "DUANNA0000000000001", "username": "anna", "realname": "Anna Eriksson",
                 "firstname": "Anna", "lastname": "Eriksson", "email": "anna@example.test",
                 "aliases": {"alias1": "a.eriksson"}, "groups": ["staff", "vpn"]},
                {"user_id": "DUBO00000000000002", "username": "bo", "email": "bo@example.test",
                 "status": "locked out"},
                // Two accounts with one address: an email lookup must not guess.
                {"user_id": "DUCE00000000000003", "username": "ce", "email": "shared@example.test"},
                {"user_id": "DUDI00000000000004", "username": "di", "email": "shared@example.test",
                 "status": "disabled"},
            ],
            "phones": [
                {"phone_id": "DPANNA1", "number": "+15550001", "users": ["DUANNA0000000000001"]},
                // A desk phone Anna shares with Bo: detached from Anna, still Bo's.
                {"phone_id": "DPDESK", "number": "+15550002",
                 "users": ["DUANNA0000000000001", "DUBO00000000000002"]},
            ],
            "tokens": [
                {"token_id": "DHANNA1", "serial": "123456", "type": "yk", "users": ["DUANNA0000000000001"]},
            ],
            "webauthn": [
                {"webauthnkey": "WAANNA1", "label": "Security key", "user_id": "DUANNA0000000000001",
                 "date_added": old},
                {"webauthnkey": "WABO1", "label": "Bo's key", "user_id": "DUBO00000000000002",
                 "date_added": old},
            ],
            "bypass_codes": [
                {"bypass_code_id": "DBANNAOLD", "user_id": "DUANNA0000000000001", "code": "111222333",
                 "created": old, "reuse_count": 1},
            ],
        })
        .to_string(),
    )
    .unwrap();
    s
}

fn config(s: &DuoServer) -> DuoConfig {
    DuoConfig {
        timeout_ms: 2000,
        max_rate_limit_wait_ms: 0,
        api_url: Some(s.url()),
        ..DuoConfig::new(DUO_HOST, DUO_IKEY, DUO_SKEY)
    }
}

fn directory(s: &DuoServer) -> DuoDirectory {
    DuoDirectory::new(config(s)).unwrap()
}

fn state(s: &DuoServer) -> Value {
    serde_json::from_str(&s.state().unwrap()).unwrap()
}

fn log(s: &DuoServer) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(&s.log().unwrap()).unwrap()
}

/// The ids of `kind` (phones, tokens, webauthn, bypass_codes) that belong to `uid`.
fn owned(s: &DuoServer, kind: &str, uid: &str) -> Vec<String> {
    let st = state(s);
    let mut ids: Vec<String> = st[kind]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, v)| {
            v["user_id"] == uid
                || v["users"]
                    .as_array()
                    .is_some_and(|u| u.contains(&json!(uid)))
        })
        .map(|(k, _)| k.clone())
        .collect();
    ids.sort();
    ids
}

async fn anna(d: &DuoDirectory) -> DirectoryUser {
    d.find_user("anna").await.unwrap().expect("anna exists")
}

#[tokio::test]
async fn finds_exactly_and_signs_every_request_as_duo_client_verifies() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    assert_eq!(
        a,
        DirectoryUser {
            id: "DUANNA0000000000001".into(),
            username: "anna".into(),
            email: Some("anna@example.test".into()),
            display_name: Some("Anna Eriksson".into()),
            given_name: Some("Anna".into()),
            surname: Some("Eriksson".into()),
            birth_date: None,
            groups: vec![],
            groups_complete: false,
        }
    );
    assert_eq!(d.find_user(" ANNA ").await.unwrap(), Some(a.clone()));
    assert_eq!(d.find_user("nobody").await.unwrap(), None);
    assert_eq!(d.find_user("").await.unwrap(), None);
    assert_eq!(d.find_user(&"a".repeat(300)).await.unwrap(), None);
    // Percent-encoded as signed: the lookup is for this odd login, and finds no one.
    assert_eq!(
        d.find_user("anna&email=bo@example.test").await.unwrap(),
        None
    );
    // Duo's username lookup finds aliases too, but only the username is configured.
    assert_eq!(d.find_user("a.eriksson").await.unwrap(), None);
    assert_eq!(d.find_user("anna@example.test").await.unwrap(), None);

    let mut c = config(&s);
    c.login_fields = vec![DuoLoginField::Alias, DuoLoginField::Email];
    let by_alias = DuoDirectory::new(c).unwrap();
    assert_eq!(
        by_alias.find_user("a.eriksson").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        by_alias.find_user("Anna@Example.test").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(by_alias.find_user("anna").await.unwrap(), None);
    let e = by_alias.find_user("shared@example.test").await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Protocol(m) if m.contains("more than one")),
        "{e:?}"
    );

    assert_eq!(d.groups(&a).await.unwrap(), ["staff", "vpn"]);
    d.health().await.unwrap();
    let seen = log(&s);
    assert!(seen.len() >= 9, "{seen:?}");
    assert!(seen.iter().all(|r| r["verified"] == true), "{seen:?}");
}

#[tokio::test]
async fn a_wrong_secret_or_a_tampered_request_is_refused_by_duo_clients_verifier() {
    let s = start();
    let mut c = config(&s);
    c.secret_key = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Eq".into();
    let wrong = DuoDirectory::new(c).unwrap();
    let e = wrong.find_user("anna").await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Config(m) if m.contains("40103")),
        "{e:?}"
    );
    assert!(e.is_permanent());
    assert!(wrong.health().await.is_err());

    let d = directory(&s);
    // In transit, `username=anna` becomes `username=annax`.
    s.faults(r#"[{"method": "GET", "path": "/admin/v1/users", "action": "tamper", "times": 1}]"#)
        .unwrap();
    let e = d.find_user("anna").await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Config(m) if m.contains("40103")),
        "{e:?}"
    );
    // In transit, the body's `"active"` becomes `"disabled"`.
    let bo = d.find_user("bo").await.unwrap().unwrap();
    s.faults(r#"[{"method": "POST", "path": "/admin/v1/users/", "action": "tamper", "times": 1}]"#)
        .unwrap();
    let e = d.unlock(&bo).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Config(m) if m.contains("40103")),
        "{e:?}"
    );
    assert_eq!(
        state(&s)["users"]["DUBO00000000000002"]["status"],
        "locked out"
    );
    let refused = log(&s).iter().filter(|r| r["verified"] == false).count();
    assert_eq!(refused, 4);
    // The same requests untampered pass.
    d.unlock(&bo).await.unwrap();
    assert_eq!(state(&s)["users"]["DUBO00000000000002"]["status"], "active");
}

#[tokio::test]
async fn reset_mfa_removes_the_persons_factors_and_nobody_elses() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    let reset = d.reset_mfa(&a, None).await.unwrap();
    assert_eq!(reset.sign_in_code, None);
    let uid = "DUANNA0000000000001";
    for kind in ["phones", "tokens", "webauthn", "bypass_codes"] {
        assert_eq!(owned(&s, kind, uid), Vec::<String>::new(), "{kind}");
    }
    let st = state(&s);
    // Detached, not deleted: the phone and token objects stay; the desk phone is still Bo's.
    assert_eq!(
        st["phones"]["DPDESK"]["users"],
        json!(["DUBO00000000000002"])
    );
    assert_eq!(st["phones"]["DPANNA1"]["users"], json!([]));
    assert_eq!(st["tokens"]["DHANNA1"]["users"], json!([]));
    assert_eq!(owned(&s, "webauthn", "DUBO00000000000002"), ["WABO1"]);
    // Again: nothing left to remove, still a success.
    d.reset_mfa(&a, None).await.unwrap();

    // Only the configured kinds go.
    let s = start();
    let mut c = config(&s);
    c.remove = vec![DuoFactor::Webauthn];
    let d = DuoDirectory::new(c).unwrap();
    d.reset_mfa(&anna(&d).await, None).await.unwrap();
    assert_eq!(owned(&s, "webauthn", uid), Vec::<String>::new());
    assert_eq!(owned(&s, "phones", uid), ["DPANNA1", "DPDESK"]);
    assert_eq!(owned(&s, "bypass_codes", uid), ["DBANNAOLD"]);
}

#[tokio::test]
async fn a_repeat_keeps_a_credential_enrolled_since_the_decision() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    let decided = SystemTime::now() - Duration::from_secs(60);
    // After the lost first attempt, Anna registered a new key and was given a new code.
    let mut st = state(&s);
    st["webauthn"]["WANEW"] =
        json!({"webauthnkey": "WANEW", "user_id": a.id, "date_added": now() - 5});
    st["bypass_codes"]["DBNEW"] = json!({"bypass_code_id": "DBNEW", "user_id": a.id, "code": "999888777", "created": now() - 5});
    let seed = json!({
        "users": st["users"].as_object().unwrap().values().collect::<Vec<_>>(),
        "phones": st["phones"].as_object().unwrap().values().collect::<Vec<_>>(),
        "tokens": st["tokens"].as_object().unwrap().values().collect::<Vec<_>>(),
        "webauthn": st["webauthn"].as_object().unwrap().values().collect::<Vec<_>>(),
        "bypass_codes": st["bypass_codes"].as_object().unwrap().values().collect::<Vec<_>>(),
    });
    s.seed(&seed.to_string()).unwrap();
    d.reset_mfa(&a, Some(decided)).await.unwrap();
    assert_eq!(owned(&s, "webauthn", &a.id), ["WANEW"]);
    assert_eq!(owned(&s, "bypass_codes", &a.id), ["DBNEW"]);
    // Phones carry no enrolment time: removed, as documented.
    assert_eq!(owned(&s, "phones", &a.id), Vec::<String>::new());
}

#[tokio::test]
async fn a_reset_can_issue_one_bypass_code_that_replaces_the_others() {
    let s = start();
    let mut c = config(&s);
    c.issue_bypass_code = true;
    c.bypass_code_valid_secs = 900;
    let d = DuoDirectory::new(c).unwrap();
    let a = anna(&d).await;
    let before = now();
    let reset = d.reset_mfa(&a, None).await.unwrap();
    let code = reset.sign_in_code.expect("a code");
    assert!(code.one_time);
    assert!(
        (before + 900..=now() + 900).contains(&code.valid_until),
        "{}",
        code.valid_until
    );
    assert!(!format!("{code:?}").contains(code.code.as_str()));
    let st = state(&s);
    let codes: Vec<&Value> = st["bypass_codes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|c| c["user_id"] == a.id)
        .collect();
    assert_eq!(codes.len(), 1, "{codes:?}");
    assert_eq!(codes[0]["code"], code.code.as_str());
    assert_eq!(codes[0]["reuse_count"], 1);
    assert_eq!(codes[0]["valid_secs"], 900);

    // The answer carrying the code is lost: the repeat issues another, and the lost one no
    // longer works.
    s.faults(r#"[{"method": "POST", "path": "/admin/v1/users/DUANNA0000000000001/bypass_codes", "action": "drop_after_apply", "times": 1}]"#)
        .unwrap();
    let e = d.reset_mfa(&a, None).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    let lost: Vec<String> = state(&s)["bypass_codes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|c| c["user_id"] == a.id)
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    let again = d.reset_mfa(&a, None).await.unwrap().sign_in_code.unwrap();
    let now_codes: Vec<String> = state(&s)["bypass_codes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|c| c["user_id"] == a.id)
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(now_codes, [again.code.to_string()]);
    assert_eq!(lost.len(), 1);
    // (Nine random digits: equal by chance once in a billion.)
    assert_ne!(lost[0], *again.code);
}

#[tokio::test]
async fn unlock_asks_first_so_a_repeat_succeeds_and_a_disabled_account_stays_disabled() {
    let s = start();
    let d = directory(&s);
    let bo = d.find_user("bo").await.unwrap().unwrap();
    // The change is made, the answer lost.
    s.faults(r#"[{"method": "POST", "path": "/admin/v1/users/DUBO00000000000002", "action": "drop_after_apply", "times": 1}]"#)
        .unwrap();
    let e = d.unlock(&bo).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    assert_eq!(state(&s)["users"]["DUBO00000000000002"]["status"], "active");
    d.unlock(&bo).await.unwrap();
    let posts = log(&s).iter().filter(|r| r["method"] == "POST").count();
    assert_eq!(posts, 1, "the repeat read the status and changed nothing");

    let di = d.find_user("di").await.unwrap().unwrap();
    let e = d.unlock(&di).await.unwrap_err();
    assert!(matches!(e, DirectoryError::PermissionDenied(_)), "{e:?}");
    assert_eq!(
        state(&s)["users"]["DUDI00000000000004"]["status"],
        "disabled"
    );
}

#[tokio::test]
async fn a_missing_permission_is_named() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    s.grants(r#"{"write_resource": false}"#).unwrap();
    let e = d.reset_mfa(&a, None).await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::PermissionDenied(m) if m.contains("Grant write resource")),
        "{e:?}"
    );
    assert!(e.is_permanent());
    s.grants(r#"{"read_resource": false, "write_resource": true}"#)
        .unwrap();
    let e = d.find_user("anna").await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::PermissionDenied(m) if m.contains("Grant read resource")),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_user_gone_since_the_lookup_is_not_found() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    s.seed(r#"{"users": []}"#).unwrap();
    assert_eq!(
        d.reset_mfa(&a, None).await,
        Err(DirectoryError::UserNotFound)
    );
    assert_eq!(d.unlock(&a).await, Err(DirectoryError::UserNotFound));
    assert!(d.groups(&a).await.is_err());
}

#[tokio::test]
async fn rate_limits_are_waited_out_within_the_budget_and_given_up_beyond_it() {
    let s = start();
    let mut c = config(&s);
    c.max_rate_limit_wait_ms = 5_000;
    let d = DuoDirectory::new(c).unwrap();
    // Duo sends no Retry-After; like duo_client, the connector backs off from 1 s.
    s.faults(r#"[{"method": "GET", "path": "/admin/v1/users", "action": "status", "status": 429, "code": 42901, "message": "Too Many Requests", "times": 1}]"#)
        .unwrap();
    let started = Instant::now();
    assert!(d.find_user("anna").await.unwrap().is_some());
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );

    let d = directory(&s); // a budget of 0
    s.faults(r#"[{"method": "GET", "path": "/admin/v1/users", "action": "status", "status": 429, "code": 42901, "message": "Too Many Requests", "times": 1}]"#)
        .unwrap();
    let e = d.find_user("anna").await.unwrap_err();
    assert!(
        matches!(&e, DirectoryError::Unavailable(m) if m.contains("rate limited")),
        "{e:?}"
    );
    assert!(!e.is_permanent());
}

#[tokio::test]
async fn a_failing_or_slow_service_leaves_the_outcome_unknown() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    s.faults(r#"[{"method": "DELETE", "path": "/admin/v1/users/", "action": "status", "status": 503, "code": 50301, "message": "Service Unavailable", "times": 1}]"#)
        .unwrap();
    let e = d.reset_mfa(&a, None).await.unwrap_err();
    assert!(e.outcome_unknown() && !e.is_permanent(), "{e:?}");
    assert!(e.to_string().contains("50301"), "{e}");
    // The repeat finishes the job.
    d.reset_mfa(&a, None).await.unwrap();
    assert_eq!(owned(&s, "phones", &a.id), Vec::<String>::new());

    s.faults(r#"[{"method": "GET", "path": "/admin/v1/users", "action": "delay", "seconds": 4, "times": 1}]"#)
        .unwrap();
    let started = Instant::now();
    assert_eq!(d.find_user("anna").await, Err(DirectoryError::Timeout));
    assert!(
        started.elapsed() < Duration::from_millis(3500),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_removal_that_took_effect_although_its_answer_was_lost_is_repeated_without_harm() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    s.faults(r#"[{"method": "DELETE", "path": "/admin/v1/users/DUANNA0000000000001/phones/", "action": "drop_after_apply", "times": 1}]"#)
        .unwrap();
    let e = d.reset_mfa(&a, None).await.unwrap_err();
    assert!(e.outcome_unknown(), "{e:?}");
    assert_eq!(
        owned(&s, "phones", &a.id),
        ["DPDESK"],
        "the first removal took effect"
    );
    d.reset_mfa(&a, Some(SystemTime::now())).await.unwrap();
    for kind in ["phones", "tokens", "webauthn", "bypass_codes"] {
        assert_eq!(owned(&s, kind, &a.id), Vec::<String>::new(), "{kind}");
    }
    assert_eq!(
        state(&s)["phones"]["DPDESK"]["users"],
        json!(["DUBO00000000000002"])
    );
}

#[tokio::test]
async fn an_identifier_that_would_change_the_path_is_refused_before_any_removal() {
    let s = start();
    let d = directory(&s);
    let a = anna(&d).await;
    s.seed(
        &json!({
            "users": [{"user_id": a.id, "username": "anna"}],
            "phones": [{"phone_id": "../../../users/DUBO00000000000002", "users": [a.id]}],
        })
        .to_string(),
    )
    .unwrap();
    let e = d.reset_mfa(&a, None).await.unwrap_err();
    assert!(matches!(e, DirectoryError::Protocol(_)), "{e:?}");
    assert!(
        log(&s).iter().all(|r| r["method"] != "DELETE"),
        "{:?}",
        log(&s)
    );
}
