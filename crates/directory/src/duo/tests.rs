use super::*;

fn good() -> DuoConfig {
    DuoConfig::new(
        "api-xxxxxxxx.duosecurity.com",
        "DIWJ8X6AEYOR5OMC6TQ1",
        "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep",
    )
}

#[test]
fn a_configuration_file_is_read_with_safe_defaults_and_misspellings_refused() {
    let c: DuoConfig = serde_json::from_value(serde_json::json!({
        "api_hostname": "api-xxxxxxxx.duosecurity.com",
        "integration_key": "DIWJ8X6AEYOR5OMC6TQ1",
        "secret_key": "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep",
    }))
    .unwrap();
    assert!(c.validate().is_ok());
    assert!(!c.issue_bypass_code);
    assert_eq!(c.login_fields, [DuoLoginField::Username]);
    assert_eq!(c.remove.len(), 4);
    assert_eq!(c.api_url, None);
    for extra in [
        serde_json::json!({"issue_bypass_codes": true}),
        serde_json::json!({"remove": ["phones", "sms"]}),
        serde_json::json!({"login_fields": ["upn"]}),
    ] {
        let mut v = serde_json::to_value(&c).unwrap();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        assert!(serde_json::from_value::<DuoConfig>(v).is_err(), "{extra}");
    }
}

type Change = Box<dyn Fn(&mut DuoConfig)>;

#[test]
fn validation_refuses_what_cannot_work() {
    assert!(good().validate().is_ok());
    let cases: Vec<(&str, Change)> = vec![
        (
            "scheme",
            Box::new(|c| c.api_hostname = "https://api-x.duosecurity.com".into()),
        ),
        (
            "path",
            Box::new(|c| c.api_hostname = "api-x.duosecurity.com/admin".into()),
        ),
        (
            "port",
            Box::new(|c| c.api_hostname = "api-x.duosecurity.com:443".into()),
        ),
        ("empty host", Box::new(|c| c.api_hostname = String::new())),
        ("ikey", Box::new(|c| c.integration_key = "DI WJ8".into())),
        ("no ikey", Box::new(|c| c.integration_key = String::new())),
        ("skey", Box::new(|c| c.secret_key = "short".into())),
        (
            "skey space",
            Box::new(|c| c.secret_key = "Zh5eGmUq9zpfQnyUIu5OL9iWoM v5ZNmk3zLJ4Ep".into()),
        ),
        ("fields", Box::new(|c| c.login_fields.clear())),
        ("remove", Box::new(|c| c.remove.clear())),
        (
            "validity short",
            Box::new(|c| c.bypass_code_valid_secs = 59),
        ),
        (
            "validity long",
            Box::new(|c| c.bypass_code_valid_secs = 604_801),
        ),
        ("timeout", Box::new(|c| c.timeout_ms = 0)),
        ("wait", Box::new(|c| c.max_rate_limit_wait_ms = 600_001)),
        (
            "clear http",
            Box::new(|c| c.api_url = Some("http://10.0.0.1:8080".into())),
        ),
    ];
    for (name, change) in cases {
        let mut c = good();
        change(&mut c);
        assert!(
            matches!(c.validate(), Err(DirectoryError::Config(_))),
            "{name}: {c:?}"
        );
        assert!(DuoDirectory::new(c).is_err(), "{name}");
    }
    let mut c = good();
    c.api_url = Some("http://127.0.0.1:8080".into());
    assert!(c.validate().is_ok());
}

#[test]
fn debug_hides_the_secret_key() {
    let c = good();
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"),
        "{shown}"
    );
    assert!(shown.contains("<redacted>") && shown.contains("DIWJ8X6AEYOR5OMC6TQ1"));
    let d = DuoDirectory::new(c).unwrap();
    assert!(!format!("{d:?}").contains("Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"));
    // One whole call: the request limit and the rate-limit budget.
    assert_eq!(d.worst_call_ms(), 5_000 + 2_500);
}

#[test]
fn only_plain_identifiers_go_into_paths() {
    for ok in ["DU3RP9I2WOC59VZX672N", "DPFZRS9FB0D46QFTM891", "a_b-c"] {
        assert!(path_id(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "../users",
        "DU1/phones",
        "DU1?x=1",
        "DU%2F",
        "a b",
        &"x".repeat(129),
    ] {
        assert!(path_id(bad).is_err(), "{bad}");
    }
    let mut u = DirectoryUser::new("../../admin/v1/users", "anna");
    assert_eq!(user_id(&u), Err(DirectoryError::UserNotFound));
    u.id = "DU123".into();
    assert_eq!(user_id(&u), Ok("DU123"));
}

#[tokio::test]
async fn passwords_are_unsupported_and_capabilities_say_so() {
    let d = DuoDirectory::new(good()).unwrap();
    let caps = d.capabilities();
    assert!(!caps.reset_password && caps.reset_mfa && caps.unlock);
    let u = DirectoryUser::new("DU1", "anna");
    assert!(matches!(
        d.set_password(&u, "x").await,
        Err(DirectoryError::Unsupported(_))
    ));
    assert!(matches!(
        d.password_is(&u, "x").await,
        Err(DirectoryError::Unsupported(_))
    ));
    assert_eq!(d.kind(), "duo");
}
