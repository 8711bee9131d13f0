//! openapi.json against the wire types: an example of every request and answer, built
//! from `reclaim_protocol::wire` (what the server serializes and the app parses), must
//! match the schema openapi.json gives for it, every schema must be reached by one, and
//! the limits it states must be the protocol's. The document stays hand-written; this is
//! what keeps it true. No server or database: the document and the types suffice.

use reclaim_protocol::wire::decision::Decision;
use reclaim_protocol::wire::devices::{DeviceRegistration, DeviceView, Tier};
use reclaim_protocol::wire::error::{ErrorBody, ResetStatus};
use reclaim_protocol::wire::evidence::{AttestationRequest, EvidenceItem, EvidenceName};
use reclaim_protocol::wire::limits;
use reclaim_protocol::wire::password::{PasswordCheckAnswer, PasswordCheckRequest, Problem};
use reclaim_protocol::wire::resets::{Capabilities, PasswordInput, ResetAnswer, ResetRequest};
use reclaim_protocol::wire::sessions::{
    HandoffClaim, HandoffView, SessionRequest, SessionState, SessionStatus, SessionView, Step,
};
use reclaim_protocol::{
    ChallengeAction, LightColour, LightSequence, LightStep, PasswordPolicy, PasswordProblem,
    RecoveryAction,
};
use serde::Serialize;
use serde_json::{json, Value};

use crate::schema::Validator;

fn spec() -> Value {
    serde_json::from_str(reclaim_server::http::ops::OPENAPI).expect("openapi.json is JSON")
}

fn v<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("a wire type serializes")
}

/// Where in the document an example belongs: a route, and `request` or a status.
struct Example {
    path: &'static str,
    method: &'static str,
    part: &'static str,
    value: Value,
}

fn ex(path: &'static str, method: &'static str, part: &'static str, value: Value) -> Example {
    Example {
        path,
        method,
        part,
        value,
    }
}

fn session(token: bool, login: Option<&str>) -> SessionView {
    SessionView {
        session_id: "Qm9uam91ciwgbW9uZGUh".into(),
        session_token: token.then(|| "rs_secret".into()),
        nonce: "bm9uY2U".into(),
        expires_at: 1_765_000_000,
        steps: vec![Step::Document, Step::Selfie],
        challenge: vec![
            ChallengeAction::Left,
            ChallengeAction::Right,
            ChallengeAction::Center,
        ],
        light: Some(LightSequence {
            steps: vec![
                LightStep {
                    colour: LightColour::Cyan,
                    ms: 420,
                },
                LightStep {
                    colour: LightColour::Amber,
                    ms: 350,
                },
            ],
        }),
        audience: "https://reclaim.example.com".into(),
        action: RecoveryAction::ResetPassword,
        protocol_version: reclaim_protocol::PROTOCOL_VERSION,
        login: login.map(str::to_string),
    }
}

fn errors() -> Vec<ErrorBody> {
    vec![
        ErrorBody::new("rate_limited", "Too many attempts; try again in 60 s."),
        ErrorBody {
            problems: Some(vec![Problem::from(&PasswordProblem::PasswordTooShort {
                min_chars: 15,
                chars: 4,
            })]),
            ..ErrorBody::new(
                "password_refused",
                "the new password does not meet the policy",
            )
        },
        ErrorBody {
            status: Some(ResetStatus::Pending),
            ..ErrorBody::new("directory_unavailable", "recorded; applied when it answers")
        },
        ErrorBody {
            status: Some(ResetStatus::Failed),
            ..ErrorBody::new("reset_failed", "the directory did not answer for too long")
        },
        ErrorBody {
            supported_actions: Some(vec![RecoveryAction::ResetPassword, RecoveryAction::Unlock]),
            ..ErrorBody::new("action_unsupported", "the directory cannot do this")
        },
    ]
}

/// A device's registration, named or not.
fn registration(name: Option<&str>) -> Value {
    v(&DeviceRegistration {
        public_key: "MCowBQYDK2VwAyEA".into(),
        name: name.map(Into::into),
    })
}

/// The server's view of a registered device.
fn device(key_id: &str, tier: Tier) -> Value {
    v(&DeviceView {
        key_id: key_id.into(),
        tier,
    })
}

/// A signed attestation with `evidence`.
fn attestation(evidence: Vec<EvidenceItem>) -> Value {
    v(&AttestationRequest {
        token: "eyJh.eyJ2.c2ln".into(),
        evidence,
    })
}

/// Every request and answer the API has, each shape at least once (every variant, every
/// optional field present and absent).
fn examples() -> Vec<Example> {
    let mut out = vec![
        ex(
            "/v1/devices",
            "post",
            "request",
            registration(Some("HR kiosk")),
        ),
        ex("/v1/devices", "post", "request", registration(None)),
        ex(
            "/v1/devices",
            "post",
            "201",
            device("ed25519:abc", Tier::Unmanaged),
        ),
        ex(
            "/v1/devices",
            "post",
            "200",
            device("p256:abc", Tier::Hardware),
        ),
        ex(
            "/v1/capabilities",
            "get",
            "200",
            v(&Capabilities {
                actions: vec![
                    RecoveryAction::ResetPassword,
                    RecoveryAction::ResetMfa,
                    RecoveryAction::Unlock,
                ],
                password: PasswordInput {
                    max_input_chars: limits::MAX_PASSWORD_INPUT_CHARS,
                },
            }),
        ),
        ex(
            "/v1/sessions",
            "post",
            "request",
            v(&SessionRequest {
                login: "avery.quinn@example.com".into(),
                action: RecoveryAction::ResetMfa,
                device: "ed25519:abc".into(),
            }),
        ),
        ex("/v1/sessions", "post", "201", v(&session(true, None))),
        ex(
            "/v1/sessions/{id}",
            "get",
            "200",
            v(&SessionStatus {
                session_id: "Qm9uam91ciwgbW9uZGUh".into(),
                state: SessionState::Open,
                steps: vec![Step::Selfie],
                expires_at: 1_765_000_000,
                handed_off: true,
                active_device: false,
                decision: None,
            }),
        ),
        ex(
            "/v1/sessions/{id}",
            "get",
            "200",
            v(&SessionStatus {
                session_id: "Qm9uam91ciwgbW9uZGUh".into(),
                state: SessionState::Approved,
                steps: vec![Step::Document, Step::Selfie],
                expires_at: 1_765_000_000,
                handed_off: false,
                active_device: true,
                // Approved by a reviewer while the app waited.
                decision: Some(Decision::Approved {
                    grant: "rg_secret".into(),
                    grant_expires_at: 1_765_000_300,
                    action: RecoveryAction::ResetPassword,
                    reverified: false,
                    password_policy: PasswordPolicy::SINGLE_FACTOR,
                    delay_s: None,
                }),
            }),
        ),
        ex(
            "/v1/sessions/{id}/handoff",
            "post",
            "200",
            v(&HandoffView {
                handoff_secret: "rh_secret".into(),
                expires_at: 1_765_000_000,
                qr_payload: "reclaim:continue?server=https%3A%2F%2Fr&session=s&secret=rh_x".into(),
            }),
        ),
        ex(
            "/v1/handoff",
            "post",
            "request",
            v(&HandoffClaim {
                session_id: "Qm9uam91ciwgbW9uZGUh".into(),
                secret: "rh_secret".into(),
                device: "p256:abc".into(),
            }),
        ),
        ex(
            "/v1/handoff",
            "post",
            "200",
            v(&session(true, Some("avery.quinn"))),
        ),
        ex(
            "/v1/sessions/{id}/attestation",
            "post",
            "request",
            attestation(vec![
                EvidenceItem {
                    name: EvidenceName::IdFront.to_string(),
                    t_ms: None,
                    data: "/9j/".into(),
                },
                EvidenceItem {
                    name: EvidenceName::Selfie(0).to_string(),
                    t_ms: Some(0),
                    data: "/9j/".into(),
                },
            ]),
        ),
        ex(
            "/v1/sessions/{id}/attestation",
            "post",
            "request",
            attestation(vec![]),
        ),
        ex(
            "/v1/password/check",
            "post",
            "request",
            v(&PasswordCheckRequest {
                grant: "rg_secret".into(),
                password: "correct horse battery staple".into(),
            }),
        ),
        ex(
            "/v1/password/check",
            "post",
            "200",
            v(&PasswordCheckAnswer::of(&[PasswordProblem::PasswordCommon])),
        ),
        ex(
            "/v1/resets",
            "post",
            "200",
            v(&ResetAnswer::Completed {
                action: RecoveryAction::Unlock,
                already_completed: true,
                sign_in_code: None,
            }),
        ),
        ex(
            "/v1/resets",
            "post",
            "200",
            v(&ResetAnswer::Completed {
                action: RecoveryAction::ResetMfa,
                already_completed: false,
                sign_in_code: Some(reclaim_protocol::wire::resets::SignInCode {
                    code: "Tap-2b7QxK9w".into(),
                    valid_until: 1_765_090_000,
                    one_time: true,
                }),
            }),
        ),
        ex(
            "/v1/resets",
            "post",
            "202",
            v(&ResetAnswer::Scheduled {
                action: RecoveryAction::ResetPassword,
                effective_at: 1_765_086_400,
            }),
        ),
    ];
    for new_password in [Some("correct horse battery staple".to_string()), None] {
        out.push(ex(
            "/v1/resets",
            "post",
            "request",
            v(&ResetRequest {
                grant: "rg_secret".into(),
                new_password,
            }),
        ));
    }
    for delay_s in [None, Some(86_400)] {
        out.push(ex(
            "/v1/sessions/{id}/attestation",
            "post",
            "200",
            v(&Decision::Approved {
                grant: "rg_secret".into(),
                grant_expires_at: 1_765_000_600,
                action: RecoveryAction::ResetPassword,
                reverified: true,
                password_policy: PasswordPolicy::WITH_MFA,
                delay_s,
            }),
        ));
    }
    out.push(ex(
        "/v1/sessions/{id}/attestation",
        "post",
        "200",
        v(&Decision::Review {
            message: "A person at the service desk will check this request.".into(),
        }),
    ));
    for message in [None, Some("Contact the IT helpdesk.".to_string())] {
        out.push(ex(
            "/v1/sessions/{id}/attestation",
            "post",
            "200",
            v(&Decision::Rejected {
                reasons: vec!["liveness_not_confirmed".into()],
                reverified: false,
                message,
            }),
        ));
    }
    // Every refusal has the one shape; each kind checked where the document lists it.
    for (path, part) in [
        ("/v1/resets", "409"),
        ("/v1/resets", "422"),
        ("/v1/resets", "503"),
        ("/v1/sessions", "422"),
        ("/v1/sessions", "429"),
    ] {
        for e in errors() {
            out.push(ex(path, "post", part, v(&e)));
        }
    }
    out
}

fn schema_of<'s>(spec: &'s Value, e: &Example) -> Option<&'s Value> {
    let operation = spec["paths"].get(e.path)?.get(e.method)?;
    let part = match e.part {
        "request" => operation.get("requestBody")?,
        status => operation["responses"].get(status)?,
    };
    part["content"]["application/json"].get("schema")
}

#[test]
fn every_request_and_answer_matches_openapi() {
    let spec = spec();
    let mut validator = Validator::new(&spec);
    let mut problems = Vec::new();
    for e in examples() {
        let Some(schema) = schema_of(&spec, &e) else {
            problems.push(format!(
                "{} {} {}: not in openapi.json",
                e.method, e.path, e.part
            ));
            continue;
        };
        for p in validator.check(schema, &e.value) {
            problems.push(format!("{} {} {}: {p}", e.method, e.path, e.part));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_schema_and_json_operation_has_an_example() {
    let spec = spec();
    let examples = examples();
    let mut validator = Validator::new(&spec);
    for e in &examples {
        if let Some(schema) = schema_of(&spec, e) {
            validator.check(schema, &e.value);
        }
    }
    let unreached: Vec<&String> = spec["components"]["schemas"]
        .as_object()
        .expect("components.schemas")
        .keys()
        .filter(|name| !validator.visited.contains(*name))
        .collect();
    assert!(
        unreached.is_empty(),
        "schemas no wire type is checked against: {unreached:?}"
    );
    // Every JSON body of the API proper: each request, and each answer that is not a refusal.
    let mut missing = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        if !path.starts_with("/v1/") {
            continue;
        }
        for (method, operation) in item.as_object().expect("path item") {
            let mut parts: Vec<String> = Vec::new();
            if operation.get("requestBody").is_some() {
                parts.push("request".into());
            }
            for (status, answer) in operation["responses"].as_object().into_iter().flatten() {
                let json = answer["content"].get("application/json").is_some();
                if json && status.starts_with('2') {
                    parts.push(status.clone());
                }
            }
            for part in parts {
                let covered = examples
                    .iter()
                    .any(|e| e.path == path && e.method == method && e.part == part);
                if !covered {
                    missing.push(format!("{method} {path} {part}"));
                }
            }
        }
    }
    assert!(missing.is_empty(), "no example for {missing:?}");
}

#[test]
fn the_check_notices_drift() {
    let spec = spec();
    let mut validator = Validator::new(&spec);
    let decision = &spec["components"]["schemas"]["Decision"];
    let good = v(&Decision::Approved {
        grant: "rg_x".into(),
        grant_expires_at: 1,
        action: RecoveryAction::Unlock,
        reverified: true,
        password_policy: PasswordPolicy::SINGLE_FACTOR,
        delay_s: None,
    });
    assert_eq!(validator.check(decision, &good), Vec::<String>::new());
    let mut broken = Vec::new();
    let mut undocumented = good.clone();
    undocumented["face_score"] = json!(0.9);
    broken.push(undocumented);
    let mut lacking = good.clone();
    if let Some(fields) = lacking.as_object_mut() {
        fields.remove("grant");
    }
    broken.push(lacking);
    let mut renamed = good.clone();
    renamed["outcome"] = json!("granted");
    broken.push(renamed);
    let mut retyped = good.clone();
    retyped["password_policy"]["min_chars"] = json!("15");
    broken.push(retyped);
    let mut unknown_action = good;
    unknown_action["action"] = json!("delete_account");
    broken.push(unknown_action);
    for b in broken {
        assert!(!validator.check(decision, &b).is_empty(), "{b}");
    }
    // A keyword the validator would not check is refused rather than ignored.
    assert!(!validator
        .check(&json!({ "type": "string", "pattern": "^x$" }), &json!("y"))
        .is_empty());
}

#[test]
fn the_limits_openapi_states_are_the_protocols() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    let stated = [
        (
            &schemas["SessionRequest"]["properties"]["login"]["maxLength"],
            limits::MAX_LOGIN_CHARS,
        ),
        (
            &schemas["SessionRequest"]["properties"]["device"]["maxLength"],
            limits::MAX_DEVICE_ID_BYTES,
        ),
        (
            &schemas["DeviceRegistration"]["properties"]["name"]["maxLength"],
            limits::MAX_DEVICE_NAME_CHARS,
        ),
        (
            &schemas["AttestationRequest"]["properties"]["evidence"]["maxItems"],
            limits::MAX_EVIDENCE_ITEMS,
        ),
        (
            &schemas["Session"]["properties"]["challenge"]["maxItems"],
            limits::MAX_CHALLENGE_ACTIONS,
        ),
        (
            &spec["components"]["parameters"]["SessionId"]["schema"]["maxLength"],
            limits::MAX_SESSION_ID_BYTES,
        ),
    ];
    for (said, limit) in stated {
        assert_eq!(
            said.as_u64(),
            Some(limit as u64),
            "openapi.json says {said}, the protocol {limit}"
        );
    }
}
