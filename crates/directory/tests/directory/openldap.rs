//! OpenLDAP: lookups, resets under ppolicy (refusals decoded from the response control),
//! lockout and unlock, and failure modes.

use std::time::{Duration, Instant};

use reclaim_directory::{
    Directory, DirectoryError, DirectoryUser, LdapConfig, LdapDirectory, LdapFlavour,
    PasswordRefusal,
};
use reclaim_testkit::{LdapSeedUser, Slapd};

const ANNA_PASSWORD: &str = "Anna-original-pass-1";

fn start() -> Slapd {
    let mut anna = LdapSeedUser::new("anna", ANNA_PASSWORD, "Anna", "Eriksson");
    anna.birth_date = Some("1990-04-01".into());
    let bo = LdapSeedUser::new("bo", "Bo-original-pass-22", "Bo", "Lindqvist");
    Slapd::start(&[anna, bo]).unwrap()
}

fn config(s: &Slapd) -> LdapConfig {
    LdapConfig {
        birth_date_attribute: Some(s.birth_date_attribute().into()),
        timeout_ms: 3000,
        ..LdapConfig::new(
            s.url(),
            LdapFlavour::OpenLdap,
            s.service_dn(),
            s.service_password(),
            // The service account can read only the people subtree, as it should.
            s.people_dn(),
        )
    }
}

fn directory(s: &Slapd) -> LdapDirectory {
    LdapDirectory::new(config(s)).unwrap()
}

async fn anna(d: &LdapDirectory) -> DirectoryUser {
    d.find_user("anna").await.unwrap().expect("anna exists")
}

#[tokio::test]
async fn finds_by_uid_and_by_mail() {
    let s = start();
    let d = directory(&s);
    let by_uid = anna(&d).await;
    assert_eq!(
        by_uid,
        DirectoryUser {
            id: s.user_dn("anna"),
            username: "anna".into(),
            email: Some("anna@example.test".into()),
            display_name: Some("Anna Eriksson".into()),
            given_name: Some("Anna".into()),
            surname: Some("Eriksson".into()),
            birth_date: Some("1990-04-01".into()),
            groups: vec![],
            groups_complete: false,
        }
    );
    assert_eq!(
        d.find_user("anna@example.test").await.unwrap(),
        Some(by_uid.clone())
    );
    assert_eq!(d.find_user("  ANNA ").await.unwrap(), Some(by_uid));
    assert_eq!(d.find_user("nobody").await.unwrap(), None);
    assert_eq!(d.find_user("").await.unwrap(), None);
    assert_eq!(d.kind(), "openldap");
}

#[tokio::test]
async fn filter_injection_finds_nothing() {
    let s = start();
    let d = directory(&s);
    for login in [
        "*",
        "*)(uid=*",
        "*)(uid=*))(|(uid=*",
        "anna)(|(uid=*",
        "an*",
        "*@example.test",
        "anna)(objectClass=*",
        "\\2a",
        "anna\u{0}",
        "(uid=anna)",
    ] {
        assert_eq!(d.find_user(login).await, Ok(None), "{login:?}");
    }
}

#[tokio::test]
async fn reset_then_the_new_password_binds_and_the_old_does_not() {
    let s = start();
    let d = directory(&s);
    let u = anna(&d).await;
    assert!(d.password_is(&u, ANNA_PASSWORD).await.unwrap());
    assert!(
        !d.password_is(&u, "").await.unwrap(),
        "an empty password must not pass"
    );
    d.set_password(&u, "Fresh-correct-horse-42").await.unwrap();
    assert!(d.password_is(&u, "Fresh-correct-horse-42").await.unwrap());
    assert!(!d.password_is(&u, ANNA_PASSWORD).await.unwrap());
}

#[tokio::test]
async fn a_short_password_is_refused_with_the_ppolicy_reason() {
    let s = start();
    let d = directory(&s);
    let u = anna(&d).await;
    assert_eq!(
        d.set_password(&u, "Short-1").await,
        Err(DirectoryError::PasswordRefused(PasswordRefusal::TooShort))
    );
    assert!(d.password_is(&u, ANNA_PASSWORD).await.unwrap(), "unchanged");
}

#[tokio::test]
async fn a_password_from_history_is_refused() {
    let s = start();
    let d = directory(&s);
    let u = anna(&d).await;
    d.set_password(&u, "First-new-passphrase-1").await.unwrap();
    d.set_password(&u, "Second-new-passphrase-2").await.unwrap();
    assert_eq!(
        d.set_password(&u, "First-new-passphrase-1").await,
        Err(DirectoryError::PasswordRefused(PasswordRefusal::InHistory))
    );
    assert!(d.password_is(&u, "Second-new-passphrase-2").await.unwrap());
}

#[tokio::test]
async fn failed_binds_lock_the_account_and_unlock_frees_it() {
    let s = start();
    let d = directory(&s);
    let u = anna(&d).await;
    // Nothing to unlock yet: still success.
    d.unlock(&u).await.unwrap();
    for _ in 0..3 {
        assert!(!d.password_is(&u, "not-the-password").await.unwrap());
    }
    let locked = d.password_is(&u, ANNA_PASSWORD).await;
    assert!(
        matches!(locked, Err(DirectoryError::PermissionDenied(_))),
        "a locked account must not bind: {locked:?}"
    );
    d.unlock(&u).await.unwrap();
    assert!(d.password_is(&u, ANNA_PASSWORD).await.unwrap());
    // One more mistake right after an unlock does not lock again.
    assert!(!d.password_is(&u, "not-the-password").await.unwrap());
    assert!(d.password_is(&u, ANNA_PASSWORD).await.unwrap());
    d.unlock(&u).await.unwrap();
}

#[tokio::test]
async fn a_stopped_server_is_unavailable_fast() {
    let mut s = start();
    let d = directory(&s);
    let u = anna(&d).await;
    s.stop();
    let began = Instant::now();
    let err = d.health().await.unwrap_err();
    assert_eq!(err.code(), "directory_unavailable", "{err}");
    assert!(err.outcome_unknown());
    let err = d.set_password(&u, "Another-long-pass-9").await.unwrap_err();
    assert_eq!(err.code(), "directory_unavailable", "{err}");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    s.resume().unwrap();
    d.health().await.unwrap();
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts the TCP connection (the kernel does, from the backlog) and says nothing.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let s = start();
    let mut c = config(&s);
    c.url = format!("ldap://{}/", silent.local_addr().unwrap());
    c.timeout_ms = 300;
    let d = LdapDirectory::new(c).unwrap();
    let began = Instant::now();
    assert_eq!(d.find_user("anna").await, Err(DirectoryError::Timeout));
    assert!(began.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_wrong_service_password_is_a_configuration_error() {
    let s = start();
    let mut c = config(&s);
    c.bind_password = "wrong-service-password".into();
    let d = LdapDirectory::new(c).unwrap();
    let err = d.health().await.unwrap_err();
    assert_eq!(err.code(), "directory_config_invalid", "{err}");
    assert!(!err.to_string().contains("wrong-service-password"));
    let err = d.find_user("anna").await.unwrap_err();
    assert_eq!(err.code(), "directory_config_invalid");
}

#[tokio::test]
async fn health_is_ok_and_unknown_accounts_are_not_found() {
    let s = start();
    let d = directory(&s);
    d.health().await.unwrap();
    let ghost = DirectoryUser::new(s.user_dn("ghost"), "ghost");
    assert_eq!(
        d.set_password(&ghost, "Ghostly-long-pass-1").await,
        Err(DirectoryError::UserNotFound)
    );
    assert_eq!(
        d.reset_mfa(&ghost).await.map_err(|e| e.code().as_str()),
        Err("directory_action_unsupported")
    );
}
