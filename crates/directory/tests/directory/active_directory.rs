//! Active Directory (Samba 4 AD DC over LDAPS, verified against the testkit's CA): lookups,
//! `unicodePwd` resets, AD's policy refusal, lockout and unlock through `lockoutTime`.

use reclaim_directory::{
    Directory, DirectoryError, LdapConfig, LdapDirectory, LdapFlavour, PasswordRefusal,
};
use reclaim_testkit::{AdUser, SambaDc};

fn dc() -> &'static SambaDc {
    SambaDc::shared().unwrap()
}

fn config(dc: &SambaDc) -> LdapConfig {
    LdapConfig {
        ca_file: Some(dc.ca_file()),
        ..LdapConfig::new(
            dc.ldaps_url(),
            LdapFlavour::ActiveDirectory,
            dc.service_dn(),
            dc.service_password(),
            dc.base_dn(),
        )
    }
}

fn directory(dc: &SambaDc) -> LdapDirectory {
    LdapDirectory::new(config(dc)).unwrap()
}

fn user(dc: &SambaDc, sam: &str) -> AdUser {
    dc.user(sam).unwrap().clone()
}

#[tokio::test]
async fn ad_finds_by_sam_account_name_and_mail() {
    let dc = dc();
    let d = directory(dc);
    let anna = user(dc, "anna");
    let found = d.find_user("anna").await.unwrap().expect("anna");
    assert_eq!(found.id, anna.dn);
    assert_eq!(found.username, "anna");
    assert_eq!(found.email.as_deref(), Some(anna.mail.as_str()));
    assert_eq!(found.given_name.as_deref(), Some("Anna"));
    assert_eq!(found.surname.as_deref(), Some("Eriksson"));
    assert_eq!(d.find_user(&anna.mail).await.unwrap(), Some(found.clone()));
    assert_eq!(d.find_user("nobody").await.unwrap(), None);
    assert_eq!(d.find_user("*").await.unwrap(), None);
    // The DC's own computer account is a `user` too, but not a person.
    assert_eq!(d.find_user("VM$").await.unwrap(), None);
    assert_eq!(d.find_user("*)(sAMAccountName=*").await.unwrap(), None);
    assert_eq!(d.kind(), "active_directory");
    d.health().await.unwrap();
}

#[tokio::test]
async fn ad_reset_over_ldaps_then_the_new_password_binds() {
    let dc = dc();
    let d = directory(dc);
    let bo = user(dc, "bo");
    let u = d.find_user("bo").await.unwrap().unwrap();
    assert!(d.password_is(&u, &bo.password).await.unwrap());
    d.set_password(&u, "Bo-Reset-Passw0rd!").await.unwrap();
    assert!(d.password_is(&u, "Bo-Reset-Passw0rd!").await.unwrap());
    assert!(!d.password_is(&u, &bo.password).await.unwrap());
}

#[tokio::test]
async fn ad_policy_refusal_is_a_policy_violation() {
    let dc = dc();
    let d = directory(dc);
    let cecilia = user(dc, "cecilia");
    let u = d.find_user("cecilia").await.unwrap().unwrap();
    for weak in ["short1", "alllowercaseletters"] {
        assert_eq!(
            d.set_password(&u, weak).await,
            Err(DirectoryError::PasswordRefused(
                PasswordRefusal::PolicyViolation
            )),
            "{weak}"
        );
    }
    assert!(
        d.password_is(&u, &cecilia.password).await.unwrap(),
        "unchanged"
    );
}

#[tokio::test]
async fn ad_lockout_is_cleared_by_unlock() {
    let dc = dc();
    let d = directory(dc);
    let david = user(dc, "david");
    let u = d.find_user("david").await.unwrap().unwrap();
    for _ in 0..reclaim_testkit::SAMBA_LOCKOUT_THRESHOLD {
        assert!(!d.password_is(&u, "Wrong-Passw0rd!").await.unwrap());
    }
    let locked = d.password_is(&u, &david.password).await;
    assert!(
        matches!(locked, Err(DirectoryError::PermissionDenied(_))),
        "a locked account must not bind: {locked:?}"
    );
    d.unlock(&u).await.unwrap();
    assert!(d.password_is(&u, &david.password).await.unwrap());
    d.unlock(&u).await.unwrap();
}

#[tokio::test]
async fn ad_wrong_service_password_is_a_configuration_error() {
    let dc = dc();
    let mut c = config(dc);
    c.bind_password = "Not-The-Service-Pass1".into();
    let err = LdapDirectory::new(c).unwrap().health().await.unwrap_err();
    assert_eq!(err.code(), "directory_config_invalid", "{err}");
}

#[tokio::test]
async fn ad_refuses_plain_ldap_in_validation() {
    // No DC needed: the configuration is refused before any connection.
    let c = LdapConfig::new(
        "ldap://127.0.0.1:389",
        LdapFlavour::ActiveDirectory,
        "CN=svc-reclaim,CN=Users,DC=lab,DC=test",
        "x",
        "DC=lab,DC=test",
    );
    assert_eq!(
        LdapDirectory::new(c)
            .map(|_| ())
            .map_err(|e| e.code().as_str()),
        Err("directory_config_invalid")
    );
}

#[tokio::test]
async fn ad_certificate_from_another_ca_is_refused() {
    let dc = dc();
    let mut c = config(dc);
    // The system roots do not include the testkit's CA: verification must fail.
    c.ca_file = None;
    let err = LdapDirectory::new(c).unwrap().health().await.unwrap_err();
    assert_eq!(err.code(), "directory_unavailable", "{err}");
}
