//! OpenLDAP: lookups, resets under ppolicy (refusals decoded from the response control),
//! lockout and unlock, group memberships (without the memberof overlay), and failure modes.

use std::time::{Duration, Instant};

use reclaim_directory::{
    group_matches, Directory, DirectoryError, DirectoryUser, LdapConfig, LdapDirectory,
    LdapFlavour, PasswordRefusal,
};
use reclaim_testkit::{LdapGroupKind, LdapSeedGroup, LdapSeedUser, Slapd};

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
        d.reset_mfa(&ghost, None)
            .await
            .map_err(|e| e.code().as_str()),
        Err("directory_action_unsupported")
    );
}

/// A group's CN that needs escaping both in a DN (`,`) and in a filter (`(`, `)`, `*`).
const OPS: &str = "ops, tier (0)*";

/// anna: in three groups, one of each schema; bo: in OPS, which is in it-admins, which is
/// in root-admins; carl: in none; dana: in a loop of two groups.
fn start_with_groups() -> Slapd {
    use LdapGroupKind::{Names, Posix, UniqueNames};
    let users = ["anna", "bo", "carl", "dana"]
        .map(|u| LdapSeedUser::new(u, "Original-pass-1234", u, "Test"));
    let groups = [
        LdapSeedGroup::new("staff", Names, &["anna"], &[]),
        LdapSeedGroup::new("auditors", UniqueNames, &["anna"], &[]),
        LdapSeedGroup::new("unix", Posix, &["anna"], &[]),
        LdapSeedGroup::new(OPS, Names, &["bo"], &[]),
        LdapSeedGroup::new("it-admins", Names, &[], &[OPS]),
        LdapSeedGroup::new("root-admins", UniqueNames, &[], &["it-admins"]),
        LdapSeedGroup::new("loop-a", Names, &["dana"], &["loop-b"]),
        LdapSeedGroup::new("loop-b", Names, &[], &["loop-a"]),
    ];
    Slapd::start_with_groups(&users, &groups).unwrap()
}

fn groups_config(s: &Slapd) -> LdapConfig {
    LdapConfig {
        group_base_dn: Some(s.groups_dn()),
        ..config(s)
    }
}

async fn groups_of(d: &LdapDirectory, login: &str) -> DirectoryUser {
    let u = d.find_user(login).await.unwrap().expect(login);
    // The lookup itself reads no groups.
    assert!(u.groups.is_empty() && !u.groups_complete, "{u:?}");
    d.with_groups(u).await
}

#[tokio::test]
async fn groups_direct_nested_and_none() {
    let s = start_with_groups();
    let d = LdapDirectory::new(groups_config(&s)).unwrap();
    // The same groups, whatever the spelling of their DNs (slapd writes `\2C` for `\,`).
    let same = |u: &DirectoryUser, cns: &[&str]| {
        assert_eq!(u.groups.len(), cns.len(), "{:?}", u.groups);
        for cn in cns {
            let dn = s.group_dn(cn);
            assert!(
                u.groups.iter().any(|g| group_matches(g, &dn)),
                "{dn} not in {:?}",
                u.groups
            );
        }
    };

    // member, uniqueMember and memberUid (by uid) all count.
    let anna = groups_of(&d, "anna").await;
    assert!(anna.groups_complete);
    same(&anna, &["auditors", "staff", "unix"]);
    assert_eq!(anna.member_of_any(&["it-admins"]), Some(false));
    assert_eq!(anna.member_of_any(&["Staff"]), Some(true));

    // Two levels up from the group with the escaped name.
    let bo = groups_of(&d, "bo").await;
    assert!(bo.groups_complete);
    same(&bo, &[OPS, "it-admins", "root-admins"]);
    assert_eq!(
        bo.groups.iter().filter(|g| g.contains("tier (0)*")).count(),
        1
    );
    assert_eq!(bo.member_of_any(&["root-admins"]), Some(true));
    assert_eq!(bo.member_of_any(&[OPS]), Some(true));
    let exact = format!("cn=IT-Admins, ou=groups, {}", s.base_dn());
    assert_eq!(bo.member_of_any(&[exact]), Some(true));

    let carl = groups_of(&d, "carl").await;
    assert!(carl.groups_complete && carl.groups.is_empty(), "{carl:?}");
    assert_eq!(
        carl.member_of_any(&["it-admins", "root-admins"]),
        Some(false)
    );

    // A cycle of groups ends.
    let dana = groups_of(&d, "dana").await;
    same(&dana, &["loop-a", "loop-b"]);
}

#[tokio::test]
async fn groups_that_cannot_all_be_read_are_an_error_not_none() {
    let s = start_with_groups();
    let bo = LdapDirectory::new(groups_config(&s))
        .unwrap()
        .find_user("bo")
        .await
        .unwrap()
        .unwrap();

    // Three groups and a cap of two: unknown, not the first two.
    let capped = LdapDirectory::new(LdapConfig {
        max_groups: 2,
        ..groups_config(&s)
    })
    .unwrap();
    let err = capped.groups(&bo).await.unwrap_err();
    assert_eq!(err.code(), "directory_protocol_error", "{err}");
    let u = capped.with_groups(bo.clone()).await;
    assert!(u.groups.is_empty() && !u.groups_complete);
    assert_eq!(u.member_of_any(&["root-admins"]), None);
    LdapDirectory::new(LdapConfig {
        max_groups: 3,
        ..groups_config(&s)
    })
    .unwrap()
    .groups(&bo)
    .await
    .unwrap();

    // A group base the service account may not read: an error, whether named or the
    // default (the whole suffix, whose entry it may not read).
    for base in [Some(format!("ou=services,{}", s.base_dn())), None] {
        let d = LdapDirectory::new(LdapConfig {
            group_base_dn: base.clone(),
            ..config(&s)
        })
        .unwrap();
        let err = d.groups(&bo).await.unwrap_err();
        assert_eq!(err.code(), "directory_config_invalid", "{base:?}: {err}");
        assert_eq!(d.with_groups(bo.clone()).await.member_of_any(&["x"]), None);
    }

    // An account that is gone, and one outside the base, are not found.
    let d = LdapDirectory::new(groups_config(&s)).unwrap();
    for ghost in [
        s.user_dn("ghost"),
        format!("cn=reclaim,ou=services,{}", s.base_dn()),
    ] {
        let ghost = DirectoryUser::new(ghost, "ghost");
        assert_eq!(d.groups(&ghost).await, Err(DirectoryError::UserNotFound));
    }

    // A server that never answers: the lookup's own time limit.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let d = LdapDirectory::new(LdapConfig {
        url: format!("ldap://{}/", silent.local_addr().unwrap()),
        timeout_ms: 300,
        ..groups_config(&s)
    })
    .unwrap();
    let began = Instant::now();
    assert_eq!(d.groups(&bo).await, Err(DirectoryError::Timeout));
    assert!(began.elapsed() < Duration::from_secs(2));
}
