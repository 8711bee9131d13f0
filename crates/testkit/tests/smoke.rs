//! The testkit's own checks: each server starts, answers, and comes back after a restart.

use reclaim_testkit::{LdapSeedUser, OidcProvider, Postgres, Slapd};
use std::process::Command;

#[test]
fn postgres_starts_accepts_the_password_and_restarts() {
    let mut pg = Postgres::start().unwrap();
    assert!(pg.url().starts_with("postgres://reclaim:"));
    let port = pg.port();
    let query = |pg: &Postgres| {
        Command::new("psql")
            .arg(pg.url())
            .args(["-X", "-A", "-t", "-c", "select current_user"])
            .output()
            .unwrap()
    };
    let out = query(&pg);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "reclaim");
    pg.stop().unwrap();
    assert!(!query(&pg).status.success());
    pg.resume().unwrap();
    pg.restart().unwrap();
    assert_eq!(pg.port(), port);
    assert!(query(&pg).status.success());
    // A wrong password is refused over TCP.
    let bad = pg.url().replace(pg.password(), "wrong");
    let out = Command::new("psql")
        .arg(bad)
        .args(["-X", "-c", "select 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn slapd_starts_with_seeded_users() {
    let slapd = Slapd::start(&[LdapSeedUser::new(
        "anna",
        "Anna-Pass-Word-1",
        "Anna",
        "Eriksson",
    )])
    .unwrap();
    let out = Command::new("ldapsearch")
        .args(["-x", "-H", &slapd.url(), "-D", &slapd.service_dn(), "-w"])
        .arg(slapd.service_password())
        .args(["-b", &slapd.people_dn(), "(uid=anna)", "mail"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("mail: anna@example.test"), "{text}");
}

#[test]
fn oidc_provider_signs_in_with_the_right_password_only() {
    let redirect = "http://127.0.0.1:9/callback";
    let op = OidcProvider::start(&[redirect]).unwrap();
    // The provider checks the PKCE challenge only when the code is redeemed: any 43
    // characters do here.
    let authorize = |state: &str| {
        format!(
            "{}/auth?client_id={}&response_type=code&scope=openid%20groups&redirect_uri={}&state={state}&nonce=n&code_challenge={}&code_challenge_method=S256",
            op.issuer(),
            op.client_id(),
            redirect.replace(':', "%3A").replace('/', "%2F"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        )
    };
    let cb = op
        .sign_in(&authorize("s1"), "alice", &OidcProvider::password("alice"))
        .unwrap();
    assert!(cb.url.starts_with(redirect), "{}", cb.url);
    assert_eq!(cb.state, "s1");
    assert!(cb.code.len() >= 20, "{}", cb.code);
    let refused = op.sign_in(&authorize("s2"), "alice", "wrong").unwrap_err();
    assert!(refused.contains("login refused (401)"), "{refused}");
    // Without PKCE the provider refuses before any login.
    let plain = authorize("s3").replace("&code_challenge=", "&x=");
    let refused = op
        .sign_in(&plain, "alice", &OidcProvider::password("alice"))
        .unwrap_err();
    assert!(refused.contains("invalid_request"), "{refused}");
}
