//! `reclaim serve --check`: a good configuration passes (exit 0); each kind of mistake
//! gives a `problem CODE: ...` line of its own (exit 1; 2 when the configuration itself is
//! refused), all of them at once; and no line, on stdout or stderr, holds a secret of the
//! configuration. The configuration is the one `reclaim serve` reads, through the same
//! loader.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use reclaim_fixtures::server::ServerConfig;

use crate::served::{free_port, register_kiosk};
use crate::Scratch;

const LDAP_SECRET: &str = "ldap-s3cret-bind";
const PG_SECRET: &str = "pg-s3cret-pw";

fn check(config: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["serve", "--check", "--config", config.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out: Output = crate::reclaim(&args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    for secret in [LDAP_SECRET, PG_SECRET] {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "a secret was printed:\n{stdout}{stderr}"
        );
    }
    (out.status.code(), stdout, stderr)
}

/// The `problem` lines' codes.
fn problems(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("problem "))
        .filter_map(|l| l.split(':').next())
        .collect()
}

fn config(dir: &Scratch, keys: &str, sections: &str) -> PathBuf {
    ServerConfig::new(&dir.0, free_port())
        .keys(&format!("reverify = false\n{keys}"))
        .sections(sections)
        .write()
}

#[test]
fn a_good_configuration_passes_and_a_used_one_still_does() {
    let dir = Scratch::new("check-good");
    let config = config(&dir, "", "");
    // Before the first start: the database and the key are made by it, which is fine.
    let (code, stdout, _) = check(&config, &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.contains("note database_created_at_start"),
        "{stdout}"
    );
    assert!(
        !dir.0.join("reclaim.db").exists(),
        "the check created the database"
    );
    assert!(
        !dir.0.join("data.key").exists(),
        "the check created the key"
    );
    // After it (an admin command opens the database as a start does).
    register_kiosk(&config, &dir.0.join("device.key"));
    let (code, stdout, _) = check(&config, &[]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("note data_key_matches"), "{stdout}");
    assert!(problems(&stdout).is_empty(), "{stdout}");
}

#[test]
fn a_refused_configuration_is_one_line_and_exit_2() {
    let dir = Scratch::new("check-invalid");
    let config = config(&dir, "listen_adress = \"x\"", "");
    let (code, stdout, _) = check(&config, &[]);
    assert_eq!(code, Some(2), "{stdout}");
    assert_eq!(problems(&stdout), ["config_invalid"], "{stdout}");
    assert!(stdout.contains("listen_adress"), "{stdout}");
    // A syntax error on a line with a password names the line, not its text.
    let broken = dir.file(
        "broken.toml",
        format!(
            "{}\n[notify]\npassword = \"{LDAP_SECRET}\n",
            std::fs::read_to_string(&config).unwrap()
        )
        .as_bytes(),
    );
    let (code, stdout, _) = check(&broken, &[]);
    assert_eq!(code, Some(2), "{stdout}");
    assert!(stdout.contains("line "), "{stdout}");
}

#[test]
fn a_lost_or_different_data_key_is_a_problem_of_its_own() {
    let dir = Scratch::new("check-key");
    let config = config(&dir, "", "");
    register_kiosk(&config, &dir.0.join("device.key"));
    let key_file = dir.0.join("data.key");
    let original = std::fs::read(&key_file).unwrap();

    std::fs::remove_file(&key_file).unwrap();
    let (code, stdout, _) = check(&config, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(problems(&stdout), ["data_key_missing"], "{stdout}");
    assert!(stdout.contains(&key_file.display().to_string()) && stdout.contains("backup"));

    std::fs::write(&key_file, "ab".repeat(32)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, stdout, _) = check(&config, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(problems(&stdout), ["data_key_different"], "{stdout}");
    assert!(!stdout.contains(&"ab".repeat(32)), "{stdout}");

    std::fs::write(&key_file, &original).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, stdout, _) = check(&config, &[]);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(problems(&stdout), ["data_key_permissions"], "{stdout}");

    std::fs::write(&key_file, "not a key").unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, stdout, _) = check(&config, &[]);
    assert_eq!(problems(&stdout), ["data_key_unusable"], "{stdout}");
}

#[test]
fn each_kind_of_mistake_gets_its_own_line() {
    let dir = Scratch::new("check-mistakes");
    let missing = dir.0.join("nowhere/ca.pem");
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "a remote PostgreSQL without a checked certificate",
            String::new(),
            format!("[database]\nurl = \"postgres://reclaim:{PG_SECRET}@db.example.test/reclaim\"\n"),
            "database_transport_insecure",
        ),
        (
            "a PostgreSQL that does not answer",
            String::new(),
            format!(
                "[database]\nurl = \"postgres://reclaim:{PG_SECRET}@127.0.0.1:{}/reclaim\"\n",
                free_port()
            ),
            "database_unreachable",
        ),
        (
            "a CA file that is not there",
            String::new(),
            format!("[tpm]\nendorsement_ca_files = [\"{}\"]\n", missing.display()),
            "file_unreadable",
        ),
        (
            "a database sslrootcert that is not there",
            String::new(),
            format!(
                "[database]\nurl = \"postgres://reclaim:{PG_SECRET}@db.example.test/reclaim?sslmode=verify-full&sslrootcert={}\"\n",
                missing.display()
            ),
            "file_unreadable",
        ),
        (
            "models that are not there",
            format!("reverify = true\nmodels_dir = \"{}\"", dir.0.join("no-models").display()),
            String::new(),
            "model_unusable",
        ),
        (
            "a SIEM secret that is not set",
            String::new(),
            "[siem.webhook]\nurl = \"https://siem.example.test/in\"\nsecret_env = \"RECLAIM_TEST_NO_SUCH_SECRET\"\n".into(),
            "siem_unusable",
        ),
    ];
    for (what, keys, sections, code) in cases {
        let case = Scratch::new("check-case");
        // A `[database]` of the case's own replaces the default SQLite one.
        let mut server = ServerConfig::new(&case.0, free_port());
        let mut sections = sections;
        if let Some(rest) = sections.strip_prefix("[database]\nurl = \"") {
            let (url, after) = rest.split_once("\"\n").unwrap();
            server = server.database(url);
            sections = after.to_string();
        }
        let keys = if keys.is_empty() {
            "reverify = false".to_string()
        } else {
            keys
        };
        let config = server.keys(&keys).sections(&sections).write();
        let (exit, stdout, _) = check(&config, &[]);
        assert_eq!(exit, Some(1), "{what}: {stdout}");
        assert!(problems(&stdout).contains(&code), "{what}: {stdout}");
    }
}

#[test]
fn connect_reaches_the_directory_and_says_when_it_cannot() {
    let dir = Scratch::new("check-connect");
    let ldap = format!(
        "kind = \"ldap\"\nurl = \"ldap://127.0.0.1:{}\"\nflavour = \"openldap\"\n\
         bind_dn = \"cn=reclaim,dc=example,dc=test\"\nbind_password = \"{LDAP_SECRET}\"\n\
         base_dn = \"dc=example,dc=test\"\ntimeout_ms = 2000\n",
        free_port()
    );
    let config = ServerConfig::new(&dir.0, free_port())
        .keys("reverify = false")
        .directory(&ldap)
        .write();
    // Without --connect the directory is not contacted.
    let (exit, stdout, _) = check(&config, &[]);
    assert_eq!(exit, Some(0), "{stdout}");
    let (exit, stdout, _) = check(&config, &["--connect"]);
    assert_eq!(exit, Some(1), "{stdout}");
    assert_eq!(problems(&stdout), ["directory_unreachable"], "{stdout}");
}
