use std::path::PathBuf;

use super::*;

fn key_file() -> PathBuf {
    PathBuf::from("/etc/reclaim/okta.pem")
}

#[test]
fn a_service_app_or_a_token_but_not_both_nor_neither() {
    assert!(
        OktaConfig::service_app("https://example.okta.com", "0oa1", key_file())
            .validate()
            .is_ok()
    );
    assert!(OktaConfig::api_token("https://example.okta.com", "00abc")
        .validate()
        .is_ok());
    let mut both = OktaConfig::api_token("https://example.okta.com", "00abc");
    both.client_id = Some("0oa1".into());
    assert!(both.validate().is_err());
    let mut neither = OktaConfig::api_token("https://example.okta.com", "x");
    neither.api_token = None;
    assert!(neither.validate().is_err());
    let mut half = OktaConfig::service_app("https://example.okta.com", "0oa1", key_file());
    half.private_key_file = None;
    assert!(half.validate().is_err());
    assert!(
        OktaConfig::api_token("https://example.okta.com", "SSWS 00abc")
            .validate()
            .is_err()
    );
    assert!(OktaConfig::api_token("https://example.okta.com", " ")
        .validate()
        .is_err());
    let mut kid = OktaConfig::api_token("https://example.okta.com", "00abc");
    kid.key_id = Some("k1".into());
    assert!(kid.validate().is_err());
}

#[test]
fn the_org_url_is_https_and_bare() {
    for bad in [
        "http://example.okta.com",
        "https://example.okta.com/api/v1",
        "https://user:pw@example.okta.com",
        "https://example.okta.com?x=1",
        "example.okta.com",
    ] {
        assert!(OktaConfig::api_token(bad, "t").validate().is_err(), "{bad}");
    }
    for good in [
        "https://example.okta.com",
        "https://example.okta.com/",
        "http://127.0.0.1:8080",
    ] {
        assert!(
            OktaConfig::api_token(good, "t").validate().is_ok(),
            "{good}"
        );
    }
}

#[test]
fn attribute_names_factor_types_and_limits_are_checked() {
    let mut c = OktaConfig::api_token("https://example.okta.com", "t");
    c.birth_date_attribute = Some("birthDate".into());
    c.keep_factor_types = vec!["email".into(), "question".into()];
    assert!(c.validate().is_ok());
    for bad in ["", "birth date", "x\") or (", "1abc"] {
        c.birth_date_attribute = Some(bad.into());
        assert!(c.validate().is_err(), "{bad}");
    }
    c.birth_date_attribute = None;
    c.keep_factor_types = vec!["mail".into()];
    assert!(c.validate().is_err());
    c.keep_factor_types = vec![];
    c.timeout_ms = 0;
    assert!(c.validate().is_err());
}

#[test]
fn defaults_are_the_safe_choice_and_debug_hides_the_token() {
    let c: OktaConfig = serde_json::from_value(serde_json::json!({
        "org_url": "https://example.okta.com",
        "api_token": "00secret-token-value",
    }))
    .unwrap();
    assert!(c.strict_password_policy);
    assert!(!c.change_password_at_next_sign_in);
    assert!(c.keep_factor_types.is_empty());
    assert_eq!(c.timeout_ms, crate::rest::DEFAULT_TIMEOUT_MS);
    let debug = format!("{c:?}");
    assert!(!debug.contains("00secret"), "{debug}");
    assert!(debug.contains("<redacted>"));
    let typo = serde_json::from_value::<OktaConfig>(serde_json::json!({
        "org_url": "https://example.okta.com",
        "api_token": "t",
        "keep_factor_type": ["email"],
    }));
    assert!(typo.is_err());
}

#[test]
fn the_worst_call_is_the_request_limit_and_the_rate_limit_budget() {
    let c = OktaConfig::api_token("https://example.okta.com", "t");
    let d = OktaDirectory::new(c).unwrap();
    assert_eq!(d.worst_call_ms(), 5_000 + 2_500);
}
