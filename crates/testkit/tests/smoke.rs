//! The testkit's own checks: each server starts, answers, and comes back after a restart.

use reclaim_testkit::{LdapSeedUser, Postgres, Slapd};
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
