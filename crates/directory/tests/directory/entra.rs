//! Microsoft Entra ID through Microsoft Graph: the connector against a stateful double of
//! Graph and of the token endpoint (`vendors/graph-double.mjs`), with Stoplight Prism in
//! front of the Graph half checking every request against Microsoft's published OpenAPI
//! description (`vendors/graph`). One double and one Prism for the whole module; each test
//! brings its own users and scopes its faults by its user's id, so tests run at once.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use reclaim_directory::entra::UNLOCK_UNSUPPORTED;
use reclaim_directory::{
    Directory, DirectoryError, DirectoryUser, EntraConfig, EntraDirectory, EntraMethodKind,
    PasswordRefusal,
};
use reclaim_testkit::{GraphDouble, Prism, GRAPH_SUBSET};
use serde_json::{json, Value};

const TENANT: &str = "8f2b0a4e-1c3d-4e5f-9a7b-0c1d2e3f4a5b";
const CLIENT: &str = "5d0f7c1a-2b3c-4d5e-8f9a-1b2c3d4e5f60";

struct Env {
    double: GraphDouble,
    prism: Prism,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let double = GraphDouble::start(TENANT, CLIENT).unwrap();
        let prism = Prism::proxy(Path::new(GRAPH_SUBSET), &double.url()).unwrap();
        // Next links point at Prism, as Graph's point at Graph.
        double
            .add(&json!({ "publicBase": format!("{}/", prism.url()) }).to_string())
            .unwrap();
        Env { double, prism }
    })
}

fn config(e: &Env) -> EntraConfig {
    config_via(e, &e.prism)
}

/// The connector through `prism`.
fn config_via(e: &Env, prism: &Prism) -> EntraConfig {
    EntraConfig {
        graph_url: prism.url(),
        login_url: e.double.url(),
        timeout_ms: 3000,
        max_rate_limit_wait_ms: 5000,
        birth_date_attribute: Some("onPremisesExtensionAttributes.extensionAttribute7".into()),
        ..EntraConfig::new(
            TENANT,
            CLIENT,
            e.double.private_key_file(),
            e.double.certificate_file(),
        )
    }
}

fn directory(e: &Env) -> EntraDirectory {
    EntraDirectory::new(config(e)).unwrap()
}

fn unique(name: &str) -> String {
    let mut b = [0u8; 4];
    getrandom_fill(&mut b);
    format!("{name}-{:02x}{:02x}{:02x}{:02x}", b[0], b[1], b[2], b[3])
}

fn getrandom_fill(b: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    let v = h.finish().to_le_bytes();
    b.copy_from_slice(&v[..b.len()]);
}

/// Adds a user (and `extra` fields) with its own id; answers the id and the UPN.
fn add_user(e: &Env, name: &str, extra: Value) -> (String, String) {
    let (a, b) = (unique("a"), unique("b"));
    let id = format!("{}-0000-4000-8000-0000{}", &a[2..], &b[2..]);
    let upn = format!("{}@contoso.test", unique(name));
    let mut user = json!({
        "id": id,
        "userPrincipalName": upn,
        "displayName": format!("{name} Test"),
        "givenName": name,
        "surname": "Test",
    });
    if let (Value::Object(u), Value::Object(x)) = (&mut user, extra) {
        u.extend(x);
    }
    e.double
        .add(&json!({ "users": [user] }).to_string())
        .unwrap();
    (id, upn)
}

fn state_of(e: &Env, id: &str) -> Value {
    let state: Value = serde_json::from_str(&e.double.state().unwrap()).unwrap();
    state["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == id)
        .cloned()
        .unwrap()
}

fn no_request_violations(e: &Env) {
    let v = e.prism.request_violations();
    assert!(
        v.is_empty(),
        "requests the Graph description does not allow: {v:#?}"
    );
}

fn rfc3339(t: SystemTime) -> String {
    let s = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64;
    let days = s.div_euclid(86_400);
    let secs = s.rem_euclid(86_400);
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[tokio::test]
async fn finds_by_upn_or_mail_exactly_with_quotes_escaped() {
    let e = env();
    let d = directory(e);
    let (id, upn) = add_user(
        e,
        "o'brien",
        json!({
            "mail": "Sean.OBrien@contoso.test",
            "onPremisesExtensionAttributes": { "extensionAttribute7": "1990-04-01" },
        }),
    );
    let found = d.find_user(&upn).await.unwrap().expect("by UPN");
    assert_eq!(
        found,
        DirectoryUser {
            email: Some("Sean.OBrien@contoso.test".into()),
            display_name: Some("o'brien Test".into()),
            given_name: Some("o'brien".into()),
            surname: Some("Test".into()),
            birth_date: Some("1990-04-01".into()),
            ..DirectoryUser::new(id.clone(), upn.clone())
        }
    );
    let by_mail = d
        .find_user("sean.obrien@contoso.test")
        .await
        .unwrap()
        .expect("by mail, any case");
    assert_eq!(by_mail.id, id);
    // A login that would widen the filter if the quote were not doubled.
    assert_eq!(
        d.find_user("x' or userPrincipalName ne 'x").await.unwrap(),
        None
    );
    assert_eq!(d.find_user("nobody@contoso.test").await.unwrap(), None);
    assert_eq!(d.find_user("  ").await.unwrap(), None);
    no_request_violations(e);
}

#[tokio::test]
async fn two_accounts_answering_to_one_login_are_an_error_not_a_guess() {
    let e = env();
    let d = directory(e);
    let shared = format!("{}@contoso.test", unique("shared"));
    add_user(e, "first", json!({ "userPrincipalName": shared }));
    add_user(e, "second", json!({ "mail": shared }));
    assert!(matches!(
        d.find_user(&shared).await,
        Err(DirectoryError::Protocol(_))
    ));
    no_request_violations(e);
}

#[tokio::test]
async fn sets_the_password_and_reports_a_policy_refusal() {
    let e = env();
    let d = directory(e);
    let (_, upn) = add_user(e, "pat", json!({}));
    let user = d.find_user(&upn).await.unwrap().unwrap();
    d.set_password(&user, "Brand-new-Passw0rd!").await.unwrap();
    let s = state_of(e, &user.id);
    assert_eq!(s["password"], "Brand-new-Passw0rd!");
    assert_eq!(s["forceChangePasswordNextSignIn"], false);
    assert_eq!(
        d.set_password(&user, "short").await,
        Err(DirectoryError::PasswordRefused(
            PasswordRefusal::PolicyViolation
        ))
    );
    assert_eq!(state_of(e, &user.id)["password"], "Brand-new-Passw0rd!");
    // Graph cannot check a password for an app: an answer the server handles, not a guess.
    assert!(matches!(
        d.password_is(&user, "Brand-new-Passw0rd!").await,
        Err(DirectoryError::Unsupported(_))
    ));
    no_request_violations(e);
}

#[tokio::test]
async fn an_mfa_reset_removes_the_factors_and_issues_a_temporary_access_pass() {
    let e = env();
    let d = directory(e);
    let (id, upn) = add_user(
        e,
        "mia",
        json!({ "pageSize": 2, "methods": [
            { "@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1 5555551234", "phoneType": "mobile" },
            { "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "displayName": "Phone", "createdDateTime": "2024-01-01T00:00:00Z" },
            { "@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "displayName": "Key", "createdDateTime": "2024-02-01T00:00:00Z" },
            { "@odata.type": "#microsoft.graph.softwareOathAuthenticationMethod" },
            { "@odata.type": "#microsoft.graph.emailAuthenticationMethod", "emailAddress": "mia@home.test" },
        ]}),
    );
    let user = d.find_user(&upn).await.unwrap().unwrap();
    let before = SystemTime::now();
    let reset = d.reset_mfa(&user, None).await.unwrap();
    let code = reset.sign_in_code.expect("a Temporary Access Pass");
    assert!(code.one_time);
    let until = code.valid_until;
    let expect = before
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        + 3600;
    assert!((until - expect).abs() < 120, "{until} vs {expect}");
    let kinds: Vec<String> = state_of(e, &id)["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["@odata.type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        kinds,
        [
            "#microsoft.graph.passwordAuthenticationMethod",
            "#microsoft.graph.emailAuthenticationMethod",
            "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        ]
    );
    let tap = state_of(e, &id)["methods"][2].clone();
    assert_eq!(
        tap["temporaryAccessPass"].as_str(),
        Some(code.code.as_str())
    );
    assert_eq!(tap["isUsableOnce"], true);
    assert!(!format!("{code:?}").contains(code.code.as_str()));
    no_request_violations(e);
}

#[tokio::test]
async fn a_repeat_after_a_lost_answer_keeps_factors_enrolled_since_and_replaces_the_pass() {
    let e = env();
    // Its own Prism: the dropped connection is logged there as a failed request.
    let prism = Prism::proxy(Path::new(GRAPH_SUBSET), &e.double.url()).unwrap();
    let d = EntraDirectory::new(EntraConfig {
        remove_method_types: vec![EntraMethodKind::Fido2, EntraMethodKind::Phone],
        temporary_access_pass_one_time: false,
        temporary_access_pass_lifetime_minutes: 30,
        ..config_via(e, &prism)
    })
    .unwrap();
    let decided = SystemTime::now() - Duration::from_secs(600);
    let (id, upn) = add_user(
        e,
        "lou",
        json!({ "methods": [
            { "@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "displayName": "old", "createdDateTime": "2023-05-01T00:00:00Z" },
            { "@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1 5555550000", "phoneType": "mobile" },
        ]}),
    );
    let user = d.find_user(&upn).await.unwrap().unwrap();
    // The pass is created, and its answer lost on the way back.
    e.double
        .faults(
            &json!([{ "method": "POST", "path": format!("/users/{id}/authentication/temporaryAccessPassMethods"), "drop": "after" }])
                .to_string(),
        )
        .unwrap();
    let lost = d.reset_mfa(&user, None).await.unwrap_err();
    assert!(lost.outcome_unknown(), "{lost:?}");
    let after_lost = state_of(e, &id);
    let first_pass = after_lost["methods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["@odata.type"] == "#microsoft.graph.temporaryAccessPassAuthenticationMethod")
        .expect("the lost attempt took effect")["id"]
        .clone();
    // Since then the person enrolled a new key (say, at the help desk).
    let new_key = json!({ "@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "displayName": "new", "createdDateTime": rfc3339(SystemTime::now()) });
    add_method(e, &id, new_key);
    let again = d.reset_mfa(&user, Some(decided)).await.unwrap();
    let code = again.sign_in_code.unwrap();
    assert!(!code.one_time);
    let s = state_of(e, &id);
    let methods = s["methods"].as_array().unwrap();
    let names: Vec<&str> = methods
        .iter()
        .map(|m| {
            m["displayName"]
                .as_str()
                .unwrap_or(m["@odata.type"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        names,
        [
            "#microsoft.graph.passwordAuthenticationMethod",
            "new",
            "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
        ]
    );
    assert_ne!(methods[2]["id"], first_pass, "the unseen pass was replaced");
    assert_eq!(methods[2]["lifetimeInMinutes"], 30);
    assert_eq!(
        methods[2]["temporaryAccessPass"].as_str(),
        Some(code.code.as_str())
    );
    only_the_dropped_connection(&prism);
}

/// Adds a method to a user of the double, as an enrolment the person made.
fn add_method(e: &Env, id: &str, method: Value) {
    let body = json!({ "methods": [{ "user": id, "method": method }] });
    e.double.add(&body.to_string()).unwrap();
}

#[tokio::test]
async fn groups_and_directory_roles_are_read_through_every_page_nested_included() {
    let e = env();
    let d = directory(e);
    let tag = unique("g");
    let g = |n: &str| format!("{tag}-{n}");
    e.double
        .add(
            &json!({ "groups": [
                { "id": g("staff"), "displayName": "Staff", "memberOf": [g("all")] },
                { "id": g("all"), "displayName": "Everyone" },
                { "id": g("ops"), "displayName": "Ops", "memberOf": [g("tier0")] },
                { "id": g("tier0"), "displayName": "Tier 0" },
                { "id": g("ga"), "displayName": "Global Administrator", "type": "#microsoft.graph.directoryRole" },
            ]})
            .to_string(),
        )
        .unwrap();
    // Pages of two: every listing follows `@odata.nextLink` (through Prism).
    let (_, upn) = add_user(
        e,
        "gus",
        json!({ "pageSize": 2, "memberOf": [g("staff"), g("ops"), g("ga")] }),
    );
    let user = d.find_user(&upn).await.unwrap().unwrap();
    let mut groups = d.groups(&user).await.unwrap();
    groups.sort();
    let mut want = vec![
        g("staff"),
        "Staff".into(),
        g("all"),
        "Everyone".into(),
        g("ops"),
        "Ops".into(),
        g("tier0"),
        "Tier 0".into(),
        g("ga"),
        "Global Administrator".into(),
    ];
    want.sort();
    assert_eq!(groups, want);
    let with = d.with_groups(user.clone()).await;
    assert_eq!(with.member_of_any(&["Tier 0"]), Some(true));
    assert_eq!(with.member_of_any(&[g("ga")]), Some(true));
    assert_eq!(with.member_of_any(&["Helpdesk"]), Some(false));
    // More than the cap: unknown, never a shorter list.
    let capped = EntraDirectory::new(EntraConfig {
        max_groups: 3,
        ..config(e)
    })
    .unwrap();
    assert!(capped.groups(&user).await.is_err());
    assert_eq!(
        capped.with_groups(user).await.member_of_any(&["Helpdesk"]),
        None
    );
    no_request_violations(e);
}

#[tokio::test]
async fn a_next_page_link_away_from_graph_is_not_followed() {
    let e = env();
    let d = directory(e);
    let tag = unique("h");
    e.double
        .add(
            &json!({ "groups": [
                { "id": format!("{tag}-1"), "displayName": "One" },
                { "id": format!("{tag}-2"), "displayName": "Two" },
            ]})
            .to_string(),
        )
        .unwrap();
    // The bearer token would go with the link: to another host, never.
    let (_, upn) = add_user(
        e,
        "hal",
        json!({ "pageSize": 1, "nextLinkBase": "http://127.0.0.2:9/v1.0/", "memberOf": [format!("{tag}-1"), format!("{tag}-2")] }),
    );
    let user = d.find_user(&upn).await.unwrap().unwrap();
    let err = d.groups(&user).await.unwrap_err();
    assert!(
        matches!(&err, DirectoryError::Protocol(m) if m.contains("outside")),
        "{err:?}"
    );
    no_request_violations(e);
}

#[tokio::test]
async fn unlock_is_refused_as_unsupported_and_health_answers() {
    let e = env();
    let d = directory(e);
    assert!(!d.capabilities().unlock);
    assert!(d.capabilities().reset_password && d.capabilities().reset_mfa);
    let user = DirectoryUser::new("00000000-0000-0000-0000-000000000000", "x@contoso.test");
    assert_eq!(
        d.unlock(&user).await,
        Err(DirectoryError::Unsupported(UNLOCK_UNSUPPORTED))
    );
    d.health().await.unwrap();
    no_request_violations(e);
}

#[tokio::test]
async fn a_refused_credential_is_a_configuration_error() {
    let e = env();
    let (id, upn) = add_user(e, "cy", json!({}));
    let d = directory(e);
    let user = d.find_user(&upn).await.unwrap().unwrap();
    // Graph refuses the token (expired or revoked): a new one is fetched once, refused too.
    e.double
        .faults(
            &json!([{ "path": format!("/users/{id}"), "revokeTokens": true, "times": 2 }])
                .to_string(),
        )
        .unwrap();
    let err = d
        .set_password(&user, "Another-Passw0rd!")
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Config(_)), "{err:?}");
    assert!(err.is_permanent());
    // Another certificate than the one registered: the token endpoint refuses it.
    let other = tempdir(e, "other");
    reclaim_testkit::graph_double::make_certificate(&other, "other").unwrap();
    let wrong = EntraDirectory::new(EntraConfig {
        private_key_file: other.join("other.key"),
        certificate_file: other.join("other.crt"),
        ..config(e)
    })
    .unwrap();
    let err = wrong.health().await.unwrap_err();
    assert!(matches!(err, DirectoryError::Config(_)), "{err:?}");
    // A key that is not the certificate's is refused before any request.
    assert!(matches!(
        EntraDirectory::new(EntraConfig {
            private_key_file: other.join("other.key"),
            ..config(e)
        }),
        Err(DirectoryError::Config(_))
    ));
    no_request_violations(e);
}

fn tempdir(e: &Env, name: &str) -> std::path::PathBuf {
    let p = e.double.dir().join(unique(name));
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[tokio::test]
async fn a_missing_permission_is_named_in_the_error() {
    let e = env();
    let d = directory(e);
    let (id, upn) = add_user(e, "pam", json!({}));
    let user = d.find_user(&upn).await.unwrap().unwrap();
    let denied = json!({ "status": 403, "code": "Authorization_RequestDenied", "message": "Insufficient privileges to complete the operation." });
    let mut f = denied.clone();
    f["path"] = json!(format!("/users/{id}/authentication"));
    let mut g = denied;
    g["path"] = json!(format!("/users/{id}"));
    g["method"] = json!("PATCH");
    e.double.faults(&json!([f, g]).to_string()).unwrap();
    let err = d.reset_mfa(&user, None).await.unwrap_err();
    assert!(
        matches!(err, DirectoryError::PermissionDenied(_)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("UserAuthenticationMethod.ReadWrite.All"),
        "{err}"
    );
    let err = d
        .set_password(&user, "Perm-test-Passw0rd")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("User-PasswordProfile.ReadWrite.All"),
        "{err}"
    );
    assert!(err.is_permanent());
    no_request_violations(e);
}

#[tokio::test]
async fn a_missing_account_is_not_found() {
    let e = env();
    let d = directory(e);
    let gone = DirectoryUser::new("0a0b0c0d-0000-4000-8000-00000000dead", "gone@contoso.test");
    assert_eq!(
        d.set_password(&gone, "Whatever-Passw0rd").await,
        Err(DirectoryError::UserNotFound)
    );
    assert_eq!(
        d.reset_mfa(&gone, None).await,
        Err(DirectoryError::UserNotFound)
    );
    no_request_violations(e);
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_graph_asks_and_given_up_beyond_the_budget() {
    let e = env();
    let (id, upn) = add_user(e, "ray", json!({}));
    let d = directory(e);
    let user = d.find_user(&upn).await.unwrap().unwrap();
    e.double
        .faults(
            &json!([{ "method": "PATCH", "path": format!("/users/{id}"), "status": 429, "code": "TooManyRequests", "message": "Too many requests", "retryAfter": 1 }])
                .to_string(),
        )
        .unwrap();
    let started = Instant::now();
    d.set_password(&user, "Rate-limit-Passw0rd").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited as asked"
    );
    assert_eq!(state_of(e, &id)["password"], "Rate-limit-Passw0rd");
    let impatient = EntraDirectory::new(EntraConfig {
        max_rate_limit_wait_ms: 500,
        ..config(e)
    })
    .unwrap();
    e.double
        .faults(
            &json!([{ "method": "PATCH", "path": format!("/users/{id}"), "status": 429, "code": "TooManyRequests", "message": "Too many requests", "retryAfter": 30 }])
                .to_string(),
        )
        .unwrap();
    let started = Instant::now();
    let err = impatient
        .set_password(&user, "Rate-limit-Passw0rd-2")
        .await
        .unwrap_err();
    assert!(matches!(err, DirectoryError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(state_of(e, &id)["password"], "Rate-limit-Passw0rd");
    no_request_violations(e);
}

#[tokio::test]
async fn a_server_error_or_a_slow_answer_leaves_the_outcome_unknown() {
    let e = env();
    let (id, upn) = add_user(e, "sol", json!({}));
    let d = EntraDirectory::new(EntraConfig {
        timeout_ms: 700,
        ..config(e)
    })
    .unwrap();
    let user = d.find_user(&upn).await.unwrap().unwrap();
    e.double
        .faults(
            &json!([{ "method": "PATCH", "path": format!("/users/{id}"), "status": 503, "code": "serviceNotAvailable", "message": "Service unavailable" }])
                .to_string(),
        )
        .unwrap();
    let err = d
        .set_password(&user, "Server-error-Passw0rd")
        .await
        .unwrap_err();
    assert!(
        matches!(err, DirectoryError::Unavailable(_)) && err.outcome_unknown(),
        "{err:?}"
    );
    e.double
        .faults(
            &json!([{ "method": "GET", "path": format!("/users/{id}/transitiveMemberOf"), "delayMs": 2000 }])
                .to_string(),
        )
        .unwrap();
    assert_eq!(d.groups(&user).await, Err(DirectoryError::Timeout));
    no_request_violations(e);
}

#[tokio::test]
async fn a_password_set_whose_answer_was_lost_is_set_again_harmlessly() {
    let e = env();
    let (id, upn) = add_user(e, "lee", json!({}));
    let prism = Prism::proxy(Path::new(GRAPH_SUBSET), &e.double.url()).unwrap();
    let d = EntraDirectory::new(config_via(e, &prism)).unwrap();
    let user = d.find_user(&upn).await.unwrap().unwrap();
    e.double
        .faults(
            &json!([{ "method": "PATCH", "path": format!("/users/{id}"), "drop": "after" }])
                .to_string(),
        )
        .unwrap();
    let err = d
        .set_password(&user, "Lost-answer-Passw0rd")
        .await
        .unwrap_err();
    assert!(err.outcome_unknown(), "{err:?}");
    assert_eq!(state_of(e, &id)["password"], "Lost-answer-Passw0rd");
    d.set_password(&user, "Lost-answer-Passw0rd").await.unwrap();
    assert_eq!(state_of(e, &id)["password"], "Lost-answer-Passw0rd");
    only_the_dropped_connection(&prism);
}

/// Prism logs the connection the double dropped as a failed request; nothing else may be
/// there.
fn only_the_dropped_connection(prism: &Prism) {
    let v = prism.request_violations();
    assert!(
        v.len() == 1 && v[0].contains("socket hang up"),
        "requests the Graph description does not allow: {v:#?}"
    );
}

/// The harness can fail: a request the description does not allow never reaches the
/// double, and Prism reports it. Its own Prism, so its violations stay out of the others'.
#[tokio::test]
async fn the_harness_refuses_a_request_the_description_does_not_allow() {
    let e = env();
    let prism = Prism::proxy(Path::new(GRAPH_SUBSET), &e.double.url()).unwrap();
    let (id, _) = add_user(e, "neg", json!({}));
    let client = reqwest::Client::new();
    // `$select` of a property the methods listing does not declare.
    let r = client
        .get(format!(
            "{}/users/{id}/authentication/methods?$select=createdDateTime",
            prism.url()
        ))
        .bearer_auth("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    // A path Graph's description does not have (the delegated-only password reset).
    let r = client
        .post(format!(
            "{}/users/{id}/authentication/methods/x/resetPassword",
            prism.url()
        ))
        .bearer_auth("x")
        .json(&json!({ "newPassword": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Prism writes its log a moment after it answers.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut v = prism.request_violations();
    while v.len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        v = prism.request_violations();
    }
    assert!(
        v.iter().any(|l| l.contains("UNPROCESSABLE_ENTITY")),
        "{v:#?}"
    );
    assert!(v.iter().any(|l| l.contains("NO_PATH_MATCHED")), "{v:#?}");
    // Neither reached the double.
    let log = e.double.state().unwrap();
    assert!(
        !log.contains(&format!("{id}/authentication/methods/x")),
        "{log}"
    );
    assert!(!log.contains("$select=createdDateTime"), "{log}");
    // And the connector itself, pointed at a Graph URL with a prefix the description does
    // not have, fails through Prism rather than reaching the double.
    let d = EntraDirectory::new(EntraConfig {
        graph_url: format!("{}/beta", prism.url()),
        ..config(e)
    })
    .unwrap();
    assert!(d.health().await.is_err());
}
