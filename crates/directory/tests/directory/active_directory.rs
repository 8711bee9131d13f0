//! Active Directory (Samba 4 AD DC over LDAPS, verified against the testkit's CA): lookups,
//! `unicodePwd` resets, AD's policy refusal, lockout and unlock through `lockoutTime`, group
//! memberships (nested, and through the primary group).

use reclaim_directory::{
    group_matches, Directory, DirectoryError, DirectoryUser, LdapConfig, LdapDirectory,
    LdapFlavour, PasswordRefusal,
};
use reclaim_testkit::{AdUser, SambaDc, NESTED_ADMINS_GROUP};

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

const DOMAIN_ADMINS: &str = "CN=Domain Admins,CN=Users,DC=lab,DC=test";
const DOMAIN_USERS: &str = "CN=Domain Users,CN=Users,DC=lab,DC=test";

async fn with_groups(d: &LdapDirectory, login: &str) -> DirectoryUser {
    let u = d.find_user(login).await.unwrap().expect(login);
    let why = d.groups(&u).await.err();
    let u = d.with_groups(u).await;
    assert!(u.groups_complete, "{login}: {why:?}");
    u
}

fn in_group(u: &DirectoryUser, dn: &str) -> bool {
    u.groups.iter().any(|g| group_matches(g, dn))
}

/// The DNs in a group's `member`, read with ldapsearch as the service account.
fn members_of(dc: &SambaDc, group_dn: &str) -> String {
    let out = std::process::Command::new("ldapsearch")
        .env("LDAPTLS_CACERT", dc.ca_file())
        .args(["-x", "-LLL", "-o", "ldif-wrap=no", "-H", dc.ldaps_url()])
        .args(["-D", &dc.service_dn(), "-w", dc.service_password()])
        .args(["-b", group_dn, "-s", "base", "member"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn ad_groups_follow_nesting_and_the_primary_group() {
    let dc = dc();
    let d = directory(dc);

    let admin = with_groups(&d, "Administrator").await;
    assert_eq!(admin.member_of_any(&["Domain Admins"]), Some(true));
    assert_eq!(admin.member_of_any(&[DOMAIN_ADMINS]), Some(true));

    // In Domain Admins only through a group that is in it, and so in the builtin
    // Administrators, which Domain Admins is in.
    let ebba = with_groups(&d, "ebba").await;
    let nested = format!("CN={NESTED_ADMINS_GROUP},CN=Users,DC=lab,DC=test");
    for g in [
        nested.as_str(),
        DOMAIN_ADMINS,
        "CN=Administrators,CN=Builtin,DC=lab,DC=test",
        DOMAIN_USERS,
    ] {
        assert!(in_group(&ebba, g), "{g} not in {:?}", ebba.groups);
    }
    assert_eq!(ebba.member_of_any(&["domain admins"]), Some(true));
    let listed = members_of(dc, DOMAIN_ADMINS);
    assert!(!listed.contains("CN=ebba,"), "{listed}");

    // A Domain Admin by primaryGroupID alone: not in Domain Admins' member.
    assert!(!listed.contains("CN=filip,"), "{listed}");
    let filip = with_groups(&d, "filip").await;
    assert!(in_group(&filip, DOMAIN_ADMINS), "{:?}", filip.groups);

    // An ordinary account: its primary group, Domain Users, and no admin group.
    let anna = with_groups(&d, "anna").await;
    assert!(in_group(&anna, DOMAIN_USERS), "{:?}", anna.groups);
    assert_eq!(
        anna.member_of_any(&["Domain Admins", "Administrators", "Enterprise Admins"]),
        Some(false),
        "{:?}",
        anna.groups
    );
}

#[tokio::test]
async fn ad_groups_that_cannot_all_be_read_are_an_error() {
    let dc = dc();
    let ebba = directory(dc).find_user("ebba").await.unwrap().unwrap();
    for (c, code) in [
        (
            LdapConfig {
                max_groups: 2,
                ..config(dc)
            },
            "directory_protocol_error",
        ),
        (
            LdapConfig {
                group_base_dn: Some("OU=Nowhere,DC=lab,DC=test".into()),
                ..config(dc)
            },
            "directory_config_invalid",
        ),
        // Domain Users is not under CN=Builtin: the primary group cannot be named, and
        // that is not taken as no primary group.
        (
            LdapConfig {
                group_base_dn: Some("CN=Builtin,DC=lab,DC=test".into()),
                ..config(dc)
            },
            "directory_protocol_error",
        ),
    ] {
        let d = LdapDirectory::new(c).unwrap();
        let err = d.groups(&ebba).await.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        let u = d.with_groups(ebba.clone()).await;
        assert_eq!((u.groups.len(), u.groups_complete), (0, false));
        assert_eq!(u.member_of_any(&["Domain Admins"]), None);
    }
}
