//! Offline checks of the connector: configuration, and the helpers that turn what a server
//! sends into Reclaim's errors. The behaviour against real servers is in tests/directory.

use super::*;

fn config(flavour: LdapFlavour, url: &str) -> LdapConfig {
    LdapConfig::new(
        url,
        flavour,
        "cn=reclaim,ou=services,dc=example,dc=test",
        "s3cret-service-password",
        "dc=example,dc=test",
    )
}

#[test]
fn debug_never_shows_the_bind_password() {
    let c = config(LdapFlavour::OpenLdap, "ldap://127.0.0.1/");
    let shown = format!("{c:?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("<redacted>"));
    let d = LdapDirectory::new(c).unwrap();
    assert!(!format!("{d:?}").contains("s3cret"));
}

#[test]
fn active_directory_needs_an_encrypted_connection() {
    let plain = config(LdapFlavour::ActiveDirectory, "ldap://dc.example.test");
    assert!(matches!(plain.validate(), Err(DirectoryError::Config(_))));
    assert!(matches!(
        LdapDirectory::new(plain.clone()),
        Err(DirectoryError::Config(_))
    ));
    let starttls = LdapConfig {
        starttls: true,
        ..plain
    };
    starttls.validate().unwrap();
    config(LdapFlavour::ActiveDirectory, "ldaps://dc.example.test")
        .validate()
        .unwrap();
    let both = LdapConfig {
        starttls: true,
        ..config(LdapFlavour::ActiveDirectory, "ldaps://dc.example.test")
    };
    assert!(both.validate().is_err());
}

#[test]
fn rejects_bad_settings() {
    let base = config(LdapFlavour::OpenLdap, "ldap://127.0.0.1/");
    for bad in [
        LdapConfig {
            url: "http://x".into(),
            ..base.clone()
        },
        LdapConfig {
            bind_password: String::new(),
            ..base.clone()
        },
        LdapConfig {
            base_dn: " ".into(),
            ..base.clone()
        },
        LdapConfig {
            timeout_ms: 0,
            ..base.clone()
        },
        LdapConfig {
            login_attributes: Some(vec![]),
            ..base.clone()
        },
        LdapConfig {
            login_attributes: Some(vec!["uid)(uid=*".into()]),
            ..base.clone()
        },
        LdapConfig {
            birth_date_attribute: Some("x y".into()),
            ..base.clone()
        },
        LdapConfig {
            user_object_class: Some("*".into()),
            ..base.clone()
        },
    ] {
        assert_eq!(
            bad.validate().map_err(|e| e.code().as_str()),
            Err("directory_config_invalid"),
            "{bad:?}"
        );
    }
    let oid = LdapConfig {
        birth_date_attribute: Some("1.3.6.1.4.1.32473.1.1".into()),
        ..base
    };
    oid.validate().unwrap();
}

#[test]
fn deserializes_with_defaults_and_refuses_unknown_fields() {
    let c: LdapConfig = serde_json::from_str(
        r#"{"url":"ldaps://dc.lab.test","flavour":"active_directory","bind_dn":"CN=svc,DC=lab,DC=test",
            "bind_password":"x","base_dn":"DC=lab,DC=test"}"#,
    )
    .unwrap();
    assert_eq!(c.flavour, LdapFlavour::ActiveDirectory);
    assert_eq!(c.timeout_ms, 5000);
    assert!(!c.starttls);
    // `LdapConfig::new` promises the defaults a file naming only the required fields gets.
    let new = LdapConfig::new(
        "ldaps://dc.lab.test",
        LdapFlavour::ActiveDirectory,
        "CN=svc,DC=lab,DC=test",
        "x",
        "DC=lab,DC=test",
    );
    assert_eq!(format!("{new:?}"), format!("{c:?}"));
    assert_eq!(new.bind_password, c.bind_password);
    assert!(serde_json::from_str::<LdapConfig>(
        r#"{"url":"ldap://x","flavour":"openldap","bind_dn":"a","bind_password":"b","base_dn":"c","tls_skip":true}"#
    )
    .is_err());
}

#[test]
fn a_missing_or_empty_ca_file_is_a_config_error() {
    let mut c = config(LdapFlavour::OpenLdap, "ldaps://127.0.0.1/");
    c.ca_file = Some("/nonexistent/ca.pem".into());
    assert!(matches!(
        LdapDirectory::new(c.clone()),
        Err(DirectoryError::Config(_))
    ));
    let empty = std::env::temp_dir().join(format!("reclaim-empty-ca-{}.pem", std::process::id()));
    std::fs::write(&empty, "not a certificate\n").unwrap();
    c.ca_file = Some(empty.clone());
    assert!(matches!(
        LdapDirectory::new(c),
        Err(DirectoryError::Config(_))
    ));
    let _ = std::fs::remove_file(empty);
}

#[test]
fn ad_password_is_quoted_utf16le() {
    assert_eq!(
        ad_password_value("aé"),
        vec![b'"', 0, b'a', 0, 0xe9, 0, b'"', 0]
    );
}

#[test]
fn reads_ad_diagnostics() {
    let text =
        "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1";
    assert_eq!(ad_bind_data(text), Some("52e"));
    assert_eq!(ad_bind_data("no code"), None);
    assert_eq!(ad_code("0000052D: Constraint violation"), Some("0000052D"));
    assert_eq!(ad_code("short"), None);
}

#[test]
fn only_dns_under_the_base_are_touched() {
    let d = LdapDirectory::new(config(LdapFlavour::OpenLdap, "ldap://127.0.0.1/")).unwrap();
    let user = |id: &str| DirectoryUser::new(id, "anna");
    assert!(d
        .checked_dn(&user("uid=anna,ou=people,DC=Example, dc=test"))
        .is_ok());
    for bad in [
        "",
        "uid=anna,dc=other,dc=test",
        "uid=anna,dc=example,dc=test,dc=evil",
        "demo:anna",
        "dc=notexample,dc=test",
    ] {
        assert_eq!(
            d.checked_dn(&user(bad)),
            Err(DirectoryError::UserNotFound),
            "{bad}"
        );
    }
}

#[test]
fn birth_dates_are_normalized() {
    assert_eq!(iso_date("1990-04-01").as_deref(), Some("1990-04-01"));
    assert_eq!(iso_date("19900401000000Z").as_deref(), Some("1990-04-01"));
    assert_eq!(iso_date("April 1st"), None);
    assert_eq!(iso_date("1990-4-1"), None);
}

#[tokio::test]
async fn reset_mfa_is_unsupported() {
    let d = LdapDirectory::new(config(LdapFlavour::OpenLdap, "ldap://127.0.0.1/")).unwrap();
    let u = DirectoryUser::new("uid=a,dc=example,dc=test", "a");
    assert_eq!(
        d.reset_mfa(&u, None).await.map_err(|e| e.code().as_str()),
        Err("directory_action_unsupported")
    );
}

#[test]
fn capabilities_say_what_each_flavour_can_do() {
    // Whatever a connector answers `Unsupported` for, its capabilities must leave out:
    // the server refuses such a session at its start on the strength of this answer.
    for (flavour, url) in [
        (LdapFlavour::OpenLdap, "ldap://127.0.0.1/"),
        (LdapFlavour::ActiveDirectory, "ldaps://127.0.0.1/"),
    ] {
        let d = LdapDirectory::new(config(flavour, url)).unwrap();
        assert_eq!(
            d.capabilities(),
            crate::Capabilities {
                reset_password: true,
                reset_mfa: false,
                unlock: true,
            },
            "{flavour:?}"
        );
    }
}

#[test]
fn the_group_base_defaults_to_the_domain_of_the_base_dn() {
    let with_base = |base: &str| LdapConfig {
        base_dn: base.into(),
        ..config(LdapFlavour::OpenLdap, "ldap://127.0.0.1/")
    };
    for (base, groups) in [
        ("ou=people,dc=example,dc=test", "dc=example,dc=test"),
        (
            "OU=Staff, OU=Sweden,DC=corp,DC=example",
            "DC=corp,DC=example",
        ),
        (r"ou=a\,dc=b,dc=example", "dc=example"),
        ("DC=lab,DC=test", "DC=lab,DC=test"),
        ("ou=people,o=Example", "ou=people,o=Example"),
        (" ou=people,dc=x ", "dc=x"),
    ] {
        assert_eq!(with_base(base).group_base(), groups, "{base}");
    }
    let explicit = LdapConfig {
        group_base_dn: Some(" ou=groups,dc=example,dc=test ".into()),
        ..with_base("ou=people,dc=example,dc=test")
    };
    assert_eq!(explicit.group_base(), "ou=groups,dc=example,dc=test");
}

#[test]
fn group_settings_are_checked() {
    let base = config(LdapFlavour::OpenLdap, "ldap://127.0.0.1/");
    assert_eq!(base.max_groups, 1000);
    assert_eq!(base.group_base_dn, None);
    for bad in [
        LdapConfig {
            group_base_dn: Some("  ".into()),
            ..base.clone()
        },
        LdapConfig {
            max_groups: 0,
            ..base.clone()
        },
        LdapConfig {
            max_groups: 100_001,
            ..base.clone()
        },
    ] {
        assert!(matches!(bad.validate(), Err(DirectoryError::Config(_))));
    }
}

#[test]
fn the_primary_group_sid_is_the_account_sid_with_another_rid() {
    // S-1-5-21-1-2-3-1105 and its domain's Domain Admins, S-1-5-21-1-2-3-512.
    let mut user = vec![1, 5, 0, 0, 0, 0, 0, 5];
    for sub in [21u32, 1, 2, 3, 1105] {
        user.extend_from_slice(&sub.to_le_bytes());
    }
    let admins = sibling_sid(&user, 512).unwrap();
    assert_eq!(&admins[..24], &user[..24]);
    assert_eq!(&admins[24..], &512u32.to_le_bytes());
    assert_eq!(sibling_sid(&user[..27], 512), None);
    assert_eq!(sibling_sid(&[1, 0, 0, 0, 0, 0, 0, 5], 512), None);
    assert_eq!(sibling_sid(&[], 512), None);
    assert_eq!(escape_bytes(&[0x01, 0x2a, 0xff]), r"\01\2a\ff");
}
