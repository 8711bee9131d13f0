//! The whole recovery through `reclaim serve` against the connectors for where accounts
//! live (docs/directories.md): a real Samba AD DC, and doubles of Okta's and Microsoft
//! Graph's APIs behind Stoplight Prism (every request checked against the vendor's
//! published OpenAPI description) and of Duo's Admin API (every signature checked by Duo's
//! reference client). Each action is a session, an approved attestation and a reset, as
//! the app makes them; the test then reads the change in the directory itself.

use std::path::Path;
use std::sync::OnceLock;

use reclaim_directory::{Directory, LdapConfig, LdapDirectory, LdapFlavour};
use reclaim_testkit::duo_server::{DuoServer, DUO_HOST, DUO_IKEY, DUO_SKEY};
use reclaim_testkit::{GraphDouble, OktaDouble, Prism, SambaDc, GRAPH_SUBSET};
use serde_json::{json, Value};

use crate::serve::{approve, block, post, unlock as apply, Server, Setup};

/// A password every directory here accepts (AD's complexity rule wants three kinds of
/// character and does not count a space as one).
const STRONG_PASSWORD: &str = "Harbour-Lantern-Copper-42";

fn set_password(setup: &Setup, grant: &str) -> Result<(u16, Value), String> {
    post(
        &format!("{}/v1/resets", setup.url()),
        None,
        &json!({ "grant": grant, "new_password": STRONG_PASSWORD }),
    )
}

/// Every REST connector's limits in these tests: four operations must fit the test
/// server's 8 s lease on a pending reset.
const LIMITS: &str = "timeout_ms = 1500\nmax_rate_limit_wait_ms = 0\n";

fn okta() -> &'static OktaDouble {
    static SHARED: OnceLock<OktaDouble> = OnceLock::new();
    SHARED.get_or_init(|| OktaDouble::start().expect("the Okta double and Prism start"))
}

fn okta_control(d: &OktaDouble, method: &str, path: &str, body: Value) -> Value {
    let text = d.control_ok(method, path, &body.to_string()).unwrap();
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// An Okta account with two second factors, locked out; its id.
fn okta_user(d: &OktaDouble, login: &str, first: &str, last: &str) -> String {
    let day_ago = "2026-01-01T00:00:00.000Z";
    okta_control(
        d,
        "POST",
        "/_double/users",
        json!({
            "profile": { "login": login, "email": login, "firstName": first, "lastName": last },
            "password": "Original-pass-1",
            "status": "LOCKED_OUT",
            "factors": [
                { "factorType": "sms", "created": day_ago },
                { "factorType": "token:software:totp", "created": day_ago },
            ],
        }),
    )["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// An `[okta]`-kind table body with its own API token.
fn okta_table(d: &OktaDouble, name: &str) -> String {
    let token = format!("00e2e-{name}-{}", std::process::id());
    okta_control(d, "POST", "/_double/api-tokens", json!({ "token": token }));
    format!(
        "kind = \"okta\"\norg_url = \"{}\"\napi_token = \"{token}\"\n{LIMITS}",
        d.url()
    )
}

fn okta_state(d: &OktaDouble, id: &str) -> Value {
    okta_control(d, "GET", &format!("/_double/users/{id}"), json!({}))
}

fn assert_completed(setup: &Setup, answer: Result<(u16, Value), String>, action: &str) -> Value {
    let (status, body) = answer.unwrap();
    assert_eq!(
        status,
        200,
        "{action}: {body}\nserver log:\n{}",
        std::fs::read_to_string(setup.dir.0.join("server.log")).unwrap_or_default()
    );
    assert_eq!(body["status"], "completed", "{action}: {body}");
    assert_eq!(body["action"], action, "{body}");
    body
}

fn capabilities(setup: &Setup) -> Vec<String> {
    let body: Value = reqwest::blocking::get(format!("{}/v1/capabilities", setup.url()))
        .unwrap()
        .json()
        .unwrap();
    body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

/// A session for an action nobody carries out: refused at its start, for every login.
fn assert_refused_at_start(setup: &Setup, login: &str, action: &str) {
    let (status, body) = post(
        &format!("{}/v1/sessions", setup.url()),
        None,
        &json!({ "login": login, "action": action, "device": "k1_unused" }),
    )
    .unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("action_unsupported")),
        "{body}"
    );
}

fn ad_password_is(samba: &SambaDc, sam: &str, password: &str) -> bool {
    let mut config = LdapConfig::new(
        samba.ldaps_url(),
        LdapFlavour::ActiveDirectory,
        samba.service_dn(),
        samba.service_password(),
        samba.base_dn(),
    );
    config.ca_file = Some(samba.ca_file());
    block(async {
        let d = LdapDirectory::new(config).unwrap();
        let u = d.find_user(sam).await.unwrap().unwrap();
        d.password_is(&u, password).await.unwrap()
    })
}

#[test]
fn passwords_in_active_directory_and_second_factors_in_okta() {
    let samba = SambaDc::shared().expect("the Samba AD DC starts");
    let person = samba.user("cecilia").expect("a seeded AD user").clone();
    let d = okta();
    // The same person in Okta, found by the address AD keeps for her.
    let okta_id = okta_user(d, &person.mail, &person.given_name, &person.surname);
    let ad = format!(
        "kind = \"ldap\"\nurl = \"{}\"\nflavour = \"active_directory\"\nca_file = \"{}\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\nbase_dn = \"{}\"\ntimeout_ms = 1500",
        samba.ldaps_url(),
        samba.ca_file().display(),
        samba.service_dn(),
        samba.service_password(),
        samba.base_dn(),
    );
    let routes = format!(
        "[connectors.okta]\n{}\n[actions.mfa]\nconnector = \"okta\"\nlink = \"email\"\n[actions.unlock]\nconnector = \"off\"\n",
        okta_table(d, "ad")
    );
    let setup = Setup::new("ad-okta", None, Some(&ad), &routes);
    let _server = Server::start(&setup, &setup.config);

    assert_eq!(capabilities(&setup), ["reset_password", "reset_mfa"]);
    assert_refused_at_start(&setup, &person.sam, "unlock");

    // The password, in AD.
    let grant = approve(
        &setup,
        &person.sam,
        &person.surname,
        &person.given_name,
        "reset_password",
    );
    assert_completed(&setup, set_password(&setup, &grant), "reset_password");
    assert!(ad_password_is(samba, &person.sam, STRONG_PASSWORD));

    // The second factors, in Okta, for the account linked by address; the AD password
    // and Okta's status untouched by it.
    let grant = approve(
        &setup,
        &person.sam,
        &person.surname,
        &person.given_name,
        "reset_mfa",
    );
    let body = assert_completed(&setup, apply(&setup, &grant), "reset_mfa");
    assert!(
        body.get("sign_in_code").is_none(),
        "Okta issues no code: {body}"
    );
    let after = okta_state(d, &okta_id);
    assert_eq!(after["factors"], json!([]), "{after}");
    assert_eq!(after["status"], "LOCKED_OUT");
    assert!(ad_password_is(samba, &person.sam, STRONG_PASSWORD));
    let v = d.prism().request_violations();
    assert!(
        v.is_empty(),
        "requests Okta's description does not allow: {v:#?}"
    );
}

#[test]
fn okta_alone_resets_the_password_the_second_factors_and_the_lockout() {
    let d = okta();
    let id = okta_user(d, "noor.e2e@example.test", "Noor", "Lindgren");
    let setup = Setup::new("okta", None, Some(&okta_table(d, "alone")), "");
    let _server = Server::start(&setup, &setup.config);
    assert_eq!(
        capabilities(&setup),
        ["reset_password", "reset_mfa", "unlock"]
    );
    let login = "noor.e2e@example.test";

    let grant = approve(&setup, login, "Lindgren", "Noor", "unlock");
    assert_completed(&setup, apply(&setup, &grant), "unlock");
    assert_eq!(okta_state(d, &id)["status"], "ACTIVE");

    let grant = approve(&setup, login, "Lindgren", "Noor", "reset_password");
    assert_completed(&setup, set_password(&setup, &grant), "reset_password");
    assert_eq!(okta_state(d, &id)["password"], STRONG_PASSWORD);

    let grant = approve(&setup, login, "Lindgren", "Noor", "reset_mfa");
    assert_completed(&setup, apply(&setup, &grant), "reset_mfa");
    assert_eq!(okta_state(d, &id)["factors"], json!([]));
    // The same grant again: already done, nothing more changed.
    let again = assert_completed(&setup, apply(&setup, &grant), "reset_mfa");
    assert_eq!(again["already_completed"], true);
    let v = d.prism().request_violations();
    assert!(
        v.is_empty(),
        "requests Okta's description does not allow: {v:#?}"
    );
}

const TENANT: &str = "3c1b9e2a-7d4f-4a60-9b8e-2f1a0c3d4e5f";
const CLIENT: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

#[test]
fn entra_resets_the_password_and_the_factors_and_shows_the_pass_once() {
    let graph = GraphDouble::start(TENANT, CLIENT).expect("the Graph double starts");
    let prism = Prism::proxy(Path::new(GRAPH_SUBSET), &graph.url()).expect("Prism starts");
    graph
        .add(&json!({ "publicBase": format!("{}/", prism.url()) }).to_string())
        .unwrap();
    let id = "5e0c2a4b-0000-4000-8000-00000000e2e1";
    let upn = "maja.e2e@contoso.test";
    graph
        .add(
            &json!({ "users": [{
                "id": id,
                "userPrincipalName": upn,
                "displayName": "Maja Berg",
                "givenName": "Maja",
                "surname": "Berg",
                "methods": [
                    { "@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "phoneNumber": "+1 5555550100", "phoneType": "mobile" },
                    { "@odata.type": "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod", "displayName": "Old phone", "createdDateTime": "2025-01-01T00:00:00Z" },
                ],
            }]})
            .to_string(),
        )
        .unwrap();
    let entra = format!(
        "kind = \"entra\"\ntenant_id = \"{TENANT}\"\nclient_id = \"{CLIENT}\"\nprivate_key_file = \"{}\"\ncertificate_file = \"{}\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\n{LIMITS}",
        graph.private_key_file().display(),
        graph.certificate_file().display(),
        prism.url(),
        graph.url(),
    );
    let setup = Setup::new("entra", None, Some(&entra), "");
    let _server = Server::start(&setup, &setup.config);

    // Entra has no unlock call: never offered, refused before anything is looked up.
    assert_eq!(capabilities(&setup), ["reset_password", "reset_mfa"]);
    assert_refused_at_start(&setup, upn, "unlock");

    let grant = approve(&setup, upn, "Berg", "Maja", "reset_password");
    assert_completed(&setup, set_password(&setup, &grant), "reset_password");
    let state = |graph: &GraphDouble| -> Value {
        let all: Value = serde_json::from_str(&graph.state().unwrap()).unwrap();
        all["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(state(&graph)["password"], STRONG_PASSWORD);

    let grant = approve(&setup, upn, "Berg", "Maja", "reset_mfa");
    let body = assert_completed(&setup, apply(&setup, &grant), "reset_mfa");
    let code = &body["sign_in_code"];
    let methods = state(&graph)["methods"].as_array().unwrap().clone();
    let pass = methods
        .iter()
        .find(|m| m["@odata.type"] == "#microsoft.graph.temporaryAccessPassAuthenticationMethod")
        .expect("a Temporary Access Pass was issued");
    assert_eq!(code["code"], pass["temporaryAccessPass"], "{body}");
    assert_eq!(code["one_time"], true);
    assert!(code["valid_until"].as_i64().unwrap() > 0);
    assert!(
        !methods.iter().any(|m| {
            let t = m["@odata.type"].as_str().unwrap_or("");
            t.contains("phoneAuthentication") || t.contains("microsoftAuthenticator")
        }),
        "{methods:#?}"
    );
    // Shown once: the same grant again answers without it.
    let again = assert_completed(&setup, apply(&setup, &grant), "reset_mfa");
    assert_eq!(again["already_completed"], true);
    assert!(again.get("sign_in_code").is_none(), "{again}");
    // Never written to the log, at any level.
    let log = std::fs::read_to_string(setup.dir.0.join("server.log")).unwrap();
    assert!(
        !log.contains(code["code"].as_str().unwrap()),
        "the pass is in the server's log"
    );
    let v = prism.request_violations();
    assert!(
        v.is_empty(),
        "requests Graph's description does not allow: {v:#?}"
    );
}

#[test]
fn duo_resets_the_second_factors_and_its_lockout_beside_the_record() {
    let duo = DuoServer::start().expect("the Duo test server starts");
    // The demo directory's person, known to Duo by the same login.
    duo.seed(
        &json!({
            "users": [{ "user_id": "DUAVERY000000000001", "username": "avery.quinn",
                        "realname": "Avery Quinn", "email": "avery@example.test",
                        "status": "locked out" }],
            "phones": [{ "phone_id": "DPAVERY1", "number": "+15550003", "users": ["DUAVERY000000000001"] }],
            "webauthn": [{ "webauthnkey": "WAAVERY1", "label": "Key", "user_id": "DUAVERY000000000001",
                           "date_added": 1_700_000_000_i64 }],
        })
        .to_string(),
    )
    .unwrap();
    let routes = format!(
        "[connectors.duo]\nkind = \"duo\"\napi_hostname = \"{DUO_HOST}\"\nintegration_key = \"{DUO_IKEY}\"\nsecret_key = \"{DUO_SKEY}\"\napi_url = \"{}\"\n{LIMITS}\n[actions.mfa]\nconnector = \"duo\"\n[actions.unlock]\nconnector = \"duo\"\n",
        duo.url()
    );
    let setup = Setup::new("duo", None, None, &routes);
    let _server = Server::start(&setup, &setup.config);
    assert_eq!(
        capabilities(&setup),
        ["reset_password", "reset_mfa", "unlock"]
    );

    let grant = approve(&setup, "avery.quinn", "Quinn", "Avery", "reset_mfa");
    assert_completed(&setup, apply(&setup, &grant), "reset_mfa");
    let grant = approve(&setup, "avery.quinn", "Quinn", "Avery", "unlock");
    assert_completed(&setup, apply(&setup, &grant), "unlock");

    let state: Value = serde_json::from_str(&duo.state().unwrap()).unwrap();
    assert_eq!(state["users"]["DUAVERY000000000001"]["status"], "active");
    assert_eq!(
        state["webauthn"].as_object().map(|w| w.len()),
        Some(0),
        "{state}"
    );
    let phone_users = &state["phones"]["DPAVERY1"]["users"];
    assert_eq!(phone_users, &json!([]), "{state}");
    // Every request the connector sent passed duo_client's signature check.
    let log: Vec<Value> = serde_json::from_str(&duo.log().unwrap()).unwrap();
    assert!(!log.is_empty());
    assert!(log.iter().all(|r| r["verified"] == true), "{log:#?}");
}
