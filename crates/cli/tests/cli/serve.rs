//! `reclaim serve` as a process: what survives a crash, a directory outage or a slow
//! directory, and a database restart. No reset may be lost, and none applied twice. Also
//! `reclaim device` and `reclaim audit verify` against the server's database.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use reclaim_directory::{DemoDirectory, Directory, LdapConfig, LdapDirectory, LdapFlavour};
use reclaim_fixtures::claims::{document, verified};
use reclaim_fixtures::server::ServerConfig;
use reclaim_protocol::{sign_attestation_with, AttestationSigner, DeviceKey, RecoveryAction};
use reclaim_testkit::swtpm::Swtpm;
use reclaim_testkit::{LdapSeedUser, Postgres, Slapd};
use reclaim_tpm::device::{KeyBlob, Tpm, TpmSigner};
use reclaim_tpm::Challenge;
use serde_json::{json, Value};

use crate::served::{free_port, post_json, register_kiosk, spawn_serve};
use crate::{json_of, reclaim, Scratch};

const AUDIENCE: &str = "https://reclaim.test.invalid";
pub(crate) const NEW_PASSWORD: &str = "harbour lantern copper meadow 42";

pub(crate) struct Setup {
    pub(crate) dir: Scratch,
    pub(crate) config: PathBuf,
    port: u16,
    key: DeviceKey,
}

impl Setup {
    /// A config with the demo directory (or `directory`), SQLite (or `database`), and
    /// `extra` appended; a managed device registered with the CLI.
    pub(crate) fn new(
        name: &str,
        database: Option<&str>,
        directory: Option<&str>,
        extra: &str,
    ) -> Setup {
        let dir = Scratch::new(name);
        let port = free_port();
        let mut config = ServerConfig::new(&dir.0, port)
            .public_url(AUDIENCE)
            .keys("reverify = false")
            .sections(&format!(
                "[policy]\nreset_lease_s = 8\n\
                 # The kiosk's signed claims decide alone here (an operator's opt-in; the default\n\
                 # wants evidence from every tier, tested with the server).\n\
                 managed_requires_evidence = false\n{extra}"
            ));
        if let Some(database) = database {
            config = config.database(database);
        }
        if let Some(directory) = directory {
            config = config.directory(directory);
        }
        let config = config.write();
        let key_file = dir.0.join("device.key");
        assert_eq!(register_kiosk(&config, &key_file)["tier"], "managed");
        let key = DeviceKey::from_seed_hex(&std::fs::read_to_string(&key_file).unwrap()).unwrap();
        Setup {
            dir,
            config,
            port,
            key,
        }
    }

    fn with_config(&self, extra: &str) -> PathBuf {
        let base = std::fs::read_to_string(&self.config).unwrap();
        self.dir.file(
            "reclaim-variant.toml",
            format!("{base}{extra}\n").as_bytes(),
        )
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn directory_file(&self) -> PathBuf {
        self.dir.0.join("directory.json")
    }
}

pub(crate) struct Server(Child);

impl Server {
    /// `reclaim serve` on `config` in `setup`'s directory, logging at debug level (the
    /// tests check that not even that level writes a password or a grant).
    pub(crate) fn start(setup: &Setup, config: &Path) -> Server {
        Server(spawn_serve(
            config,
            &setup.dir.0.join("server.log"),
            &[("RECLAIM_LOG", "debug")],
            &setup.url(),
        ))
    }

    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// Waits for the process to end by itself.
    fn wait_exit(mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.0.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A request gives up after 30 s: a server that stalls fails the test, not hangs it.
pub(crate) fn post(url: &str, token: Option<&str>, body: &Value) -> Result<(u16, Value), String> {
    post_json(url, token, body, Duration::from_secs(30))
}

/// Session and attestation for `login` (whose ID reads `surname`, `given`): the grant.
pub(crate) fn approve(
    setup: &Setup,
    login: &str,
    surname: &str,
    given: &str,
    action: &str,
) -> String {
    let decision = attest_as(setup, &setup.key, login, surname, given, action);
    assert_eq!(decision["outcome"], "approved", "{decision}");
    decision["grant"].as_str().unwrap().to_string()
}

/// Session and attestation signed by `signer`: the server's decision.
fn attest_as(
    setup: &Setup,
    signer: &dyn AttestationSigner,
    login: &str,
    surname: &str,
    given: &str,
    action: &str,
) -> Value {
    let base = setup.url();
    let (status, session) = post(
        &format!("{base}/v1/sessions"),
        None,
        &json!({ "login": login, "action": action, "device": signer.key_id().as_str() }),
    )
    .unwrap();
    assert_eq!(
        status,
        201,
        "{session}\nserver log:\n{}",
        std::fs::read_to_string(setup.dir.0.join("server.log")).unwrap_or_default()
    );
    let mut claims = verified(
        AUDIENCE,
        session["session_id"].as_str().unwrap(),
        session["nonce"].as_str().unwrap(),
        login,
        serde_json::from_value::<RecoveryAction>(json!(action)).unwrap(),
    );
    claims.models = reclaim_server::models::shipped_model_digests().unwrap();
    claims.document = Some(document("td3", surname, given));
    let token = sign_attestation_with(&claims, signer).unwrap();
    let id = session["session_id"].as_str().unwrap();
    let (status, decision) = post(
        &format!("{base}/v1/sessions/{id}/attestation"),
        session["session_token"].as_str(),
        &json!({ "token": token }),
    )
    .unwrap();
    assert_eq!(status, 200, "{decision}");
    decision
}

pub(crate) fn reset(setup: &Setup, grant: &str) -> Result<(u16, Value), String> {
    post(
        &format!("{}/v1/resets", setup.url()),
        None,
        &json!({ "grant": grant, "new_password": NEW_PASSWORD }),
    )
}

pub(crate) fn unlock(setup: &Setup, grant: &str) -> Result<(u16, Value), String> {
    post(
        &format!("{}/v1/resets", setup.url()),
        None,
        &json!({ "grant": grant }),
    )
}

/// The password reset of `grant`, sent from another thread: the test acts while it is in
/// flight (stops the server or the directory), then joins it for the answer.
fn reset_in_background(
    setup: &Setup,
    grant: &str,
) -> std::thread::JoinHandle<Result<(u16, Value), String>> {
    let (url, grant) = (setup.url(), grant.to_string());
    std::thread::spawn(move || {
        post(
            &format!("{url}/v1/resets"),
            None,
            &json!({ "grant": grant, "new_password": NEW_PASSWORD }),
        )
    })
}

/// Sends the reset again until it answers 200 (the worker or the retry finishes it).
fn until_completed(within: Duration, send: impl Fn() -> Result<(u16, Value), String>) -> Value {
    let deadline = Instant::now() + within;
    loop {
        if let Ok((200, body)) = send() {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the pending reset was never completed"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn reset_until_completed(setup: &Setup, grant: &str, within: Duration) -> Value {
    until_completed(within, || reset(setup, grant))
}

pub(crate) fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn demo_user(setup: &Setup) -> reclaim_directory::DemoUser {
    let d = DemoDirectory::open(&setup.directory_file(), vec![]).unwrap();
    d.user("avery.quinn").unwrap()
}

fn audit_intact(config: &Path) -> bool {
    let out = reclaim(&[
        "audit",
        "verify",
        "--config",
        config.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)["problems"].as_array().unwrap().is_empty() && out.status.success()
}

#[test]
fn a_crash_after_the_directory_applied_the_reset_neither_loses_nor_repeats_it() {
    let setup = Setup::new("crash-after", None, None, "");
    let crashing = setup.with_config("[fault]\ncrash_after_directory = true");
    let server = Server::start(&setup, &crashing);
    let grant = approve(&setup, "avery.quinn", "QUINN", "AVERY", "reset_password");
    // The directory applies the password, then the server dies before recording it.
    assert!(
        reset(&setup, &grant).is_err(),
        "the connection should drop with the crash"
    );
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(86));
    assert_eq!(demo_user(&setup).password_changes, 1);

    // Restarted without the fault: the pending reset is found, seen to be applied already,
    // and completed without a second change; the client's retry gets the same answer.
    let _server = Server::start(&setup, &setup.config);
    let body = reset_until_completed(&setup, &grant, Duration::from_secs(40));
    assert_eq!(body["status"], "completed");
    let user = demo_user(&setup);
    assert_eq!(user.password_changes, 1, "the reset was applied twice");
    let d = DemoDirectory::open(&setup.directory_file(), vec![]).unwrap();
    let record = block(d.find_user("avery.quinn")).unwrap().unwrap();
    assert!(block(d.password_is(&record, NEW_PASSWORD)).unwrap());
    assert!(audit_intact(&setup.config));
    // The server logged at debug level throughout: never the password or the grant.
    let log = std::fs::read_to_string(setup.dir.0.join("server.log")).unwrap();
    assert!(log.contains("listening"), "the log was not written: {log}");
    for secret in [NEW_PASSWORD, grant.as_str(), &grant[3..]] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
}

#[test]
fn a_stop_signal_lets_the_reset_in_flight_finish() {
    let setup = Setup::new("graceful", None, None, "");
    let slow = setup.with_config("[fault]\ndirectory_delay_ms = 1500");
    let server = Server::start(&setup, &slow);
    let grant = approve(&setup, "avery.quinn", "QUINN", "AVERY", "reset_password");
    let request = reset_in_background(&setup, &grant);
    std::thread::sleep(Duration::from_millis(400));
    let pid = server.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let (status, body) = request.join().unwrap().unwrap();
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("completed")),
        "{body}"
    );
    assert_eq!(server.wait_exit(Duration::from_secs(10)), Some(0));
    assert_eq!(demo_user(&setup).password_changes, 1);
}

#[test]
fn a_crash_before_the_directory_call_is_finished_by_the_restarted_server() {
    let setup = Setup::new("crash-before", None, None, "");
    let slow = setup.with_config("[fault]\ndirectory_delay_ms = 3000");
    let server = Server::start(&setup, &slow);
    let grant = approve(&setup, "avery.quinn", "QUINN", "AVERY", "reset_password");
    let request = reset_in_background(&setup, &grant);
    // Killed while the reset is pending and the directory has not been called.
    std::thread::sleep(Duration::from_millis(1000));
    server.kill();
    assert!(request.join().unwrap().is_err());
    assert_eq!(demo_user(&setup).password_changes, 0);

    // No client comes back: the restarted server's worker finishes it on its own.
    let _server = Server::start(&setup, &setup.config);
    let deadline = Instant::now() + Duration::from_secs(40);
    while demo_user(&setup).password_changes == 0 {
        assert!(
            Instant::now() < deadline,
            "the pending reset was never resumed"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let body = reset_until_completed(&setup, &grant, Duration::from_secs(20));
    assert_eq!(body["already_completed"], true);
    assert_eq!(demo_user(&setup).password_changes, 1);
    assert!(audit_intact(&setup.config));
}

fn slapd_setup(name: &str, slapd: &Slapd, extra: &str) -> Setup {
    let directory = format!(
        "kind = \"ldap\"\nurl = \"{}\"\nflavour = \"openldap\"\nbind_dn = \"{}\"\nbind_password = \"{}\"\nbase_dn = \"{}\"\ntimeout_ms = 1500",
        slapd.url(),
        slapd.service_dn(),
        slapd.service_password(),
        slapd.people_dn()
    );
    Setup::new(name, None, Some(&directory), extra)
}

fn ldap_password_is(slapd: &Slapd, uid: &str, password: &str) -> bool {
    let config = LdapConfig::new(
        slapd.url(),
        LdapFlavour::OpenLdap,
        slapd.service_dn(),
        slapd.service_password(),
        slapd.people_dn(),
    );
    block(async {
        let d = LdapDirectory::new(config).unwrap();
        let u = d.find_user(uid).await.unwrap().unwrap();
        d.password_is(&u, password).await.unwrap()
    })
}

#[test]
fn a_directory_that_is_down_or_hangs_leaves_the_reset_pending_until_it_is_back() {
    let mut slapd = Slapd::start(&[LdapSeedUser::new(
        "avery.quinn",
        "the old forgotten passphrase",
        "Avery",
        "Quinn",
    )])
    .unwrap();
    // Every directory change waits 1.5 s first, so the directory can fail mid-reset.
    let setup = slapd_setup("ldap-down", &slapd, "[fault]\ndirectory_delay_ms = 1500");
    let _server = Server::start(&setup, &setup.config);
    let grant = approve(&setup, "avery.quinn", "QUINN", "AVERY", "reset_password");

    // Down before the reset: refused with a sentence, nothing recorded, the grant kept.
    slapd.stop();
    let (status, body) = reset(&setup, &grant).unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("directory_unavailable")),
        "{body}"
    );
    assert!(body.get("status").is_none(), "{body}");
    slapd.resume().unwrap();

    // Down after the reset was recorded as pending: the answer says pending, and the
    // reset is finished once the directory is back.
    let request = reset_in_background(&setup, &grant);
    std::thread::sleep(Duration::from_millis(600));
    slapd.stop();
    let (status, body) = request.join().unwrap().unwrap();
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "pending", "{body}");
    assert_eq!(body["error"], "directory_unavailable");
    slapd.resume().unwrap();
    let body = reset_until_completed(&setup, &grant, Duration::from_secs(40));
    assert_eq!(body["status"], "completed");
    assert!(ldap_password_is(&slapd, "avery.quinn", NEW_PASSWORD));
    assert!(!ldap_password_is(
        &slapd,
        "avery.quinn",
        "the old forgotten passphrase"
    ));

    // Hung (SIGSTOP): the connector times out instead of hanging the request.
    let grant = approve(&setup, "avery.quinn", "QUINN", "AVERY", "unlock");
    let pid = slapd.pid().unwrap();
    let _ = Command::new("kill")
        .args(["-STOP", &pid.to_string()])
        .status();
    let started = Instant::now();
    let (status, body) = unlock(&setup, &grant).unwrap();
    let waited = started.elapsed();
    let _ = Command::new("kill")
        .args(["-CONT", &pid.to_string()])
        .status();
    assert_eq!(status, 503, "{body}");
    assert!(
        waited < Duration::from_secs(10),
        "a hung directory held the request {waited:?}"
    );
    let body = until_completed(Duration::from_secs(40), || unlock(&setup, &grant));
    assert_eq!(body["status"], "completed");
    assert!(audit_intact(&setup.config));
}

#[test]
fn a_database_restart_loses_nothing() {
    let mut pg = Postgres::start().unwrap();
    let setup = Setup::new("pg-restart", Some(&pg.url()), None, "");
    let _server = Server::start(&setup, &setup.config);
    let grant = approve(&setup, "avery.quinn", "QUINN", "AVERY", "reset_password");
    pg.restart().unwrap();
    // The pool reconnects; the approved grant survived in the database.
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        match reset(&setup, &grant) {
            Ok((200, body)) => break body,
            Ok((status, body)) => assert!(status == 503 || status >= 500, "{status} {body}"),
            Err(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "no reset after the database came back"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(body["status"], "completed");
    assert_eq!(demo_user(&setup).password_changes, 1);
    // And new sessions work.
    approve(&setup, "avery.quinn", "QUINN", "AVERY", "unlock");
    assert!(audit_intact(&setup.config));
}

#[test]
fn devices_are_registered_listed_and_revoked_from_the_command_line() {
    let setup = Setup::new("devices", None, None, "");
    let config = setup.config.to_str().unwrap();
    let list = json_of(&reclaim(&["device", "list", "--config", config, "--json"]));
    assert_eq!(list.as_array().unwrap().len(), 1);
    let kid = setup.key.key_id();
    let out = reclaim(&["device", "revoke", "--config", config, kid.as_str()]);
    assert!(out.status.success());
    // A revoked kiosk can no longer start a session.
    let _server = Server::start(&setup, &setup.config);
    let (status, body) = post(
        &format!("{}/v1/sessions", setup.url()),
        None,
        &json!({ "login": "avery.quinn", "action": "unlock", "device": kid.as_str() }),
    )
    .unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("device_revoked"))
    );
    // Bad input to the admin commands: exit 2 with a reason.
    let out = reclaim(&[
        "device",
        "register",
        "--config",
        config,
        "--public-key",
        "not-a-key",
        "--name",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = reclaim(&["device", "revoke", "--config", config, "unknown"]);
    assert_eq!(out.status.code(), Some(2));
    // Self-service, locked by a "this wasn't me" notice, is reopened by an administrator
    // (the lock itself is tested with the server); an unknown login is bad input.
    let out = reclaim(&[
        "account",
        "unlock-self-service",
        "--config",
        config,
        "avery.quinn",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["was_locked"], false);
    let out = reclaim(&[
        "account",
        "unlock-self-service",
        "--config",
        config,
        "nobody.here",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["error"]["code"], "user_unknown");
    let bad = setup.dir.file("bad.toml", b"public_url = 3");
    let out = reclaim(&["serve", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("configuration"));
}

/// The console's break-glass accounts from the command line: one made with its roles and
/// a one-time enrolment link at the console's address, listed, removed (and audited); a
/// second of one name, an unknown role and an unknown account are bad input (exit 2).
#[test]
fn local_console_accounts_are_added_listed_and_removed() {
    let setup = Setup::new("admin-local", None, None, "[admin]\nlocal_accounts = true");
    let config = setup.config.to_str().unwrap();
    let add = |name: &str, role: &str| {
        reclaim(&[
            "admin", "local", "add", "--config", config, name, "--role", role, "--role",
            "reviewer", "--json",
        ])
    };
    let out = add("Alice", "admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added = json_of(&out);
    assert_eq!(added["name"], "alice");
    let link = added["enrolment_link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{AUDIENCE}/admin/enrol#re_")),
        "{link}"
    );
    assert_eq!(add("alice", "auditor").status.code(), Some(2));
    assert_eq!(add("bob", "root").status.code(), Some(2));
    assert_eq!(add("bob,eve", "admin").status.code(), Some(2));

    let out = reclaim(&["admin", "local", "list", "--config", config, "--json"]);
    assert!(out.status.success());
    let list = json_of(&out);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "alice");
    assert_eq!(list[0]["roles"], json!(["admin", "reviewer"]));
    assert_eq!(list[0]["passkeys"], 0);
    assert!(list[0]["enrolment_expires_at"].as_i64().is_some(), "{list}");
    // The link's secret is shown once: the list does not have it.
    let secret = link.split_once('#').unwrap().1;
    assert!(!list.to_string().contains(secret));

    let remove = || {
        reclaim(&[
            "admin", "local", "remove", "--config", config, "alice", "--json",
        ])
    };
    let out = remove();
    assert!(out.status.success());
    assert_eq!(json_of(&out)["removed"], true);
    assert_eq!(remove().status.code(), Some(2));
    let out = reclaim(&["admin", "local", "list", "--config", config, "--json"]);
    assert_eq!(json_of(&out), json!([]));
    assert!(audit_intact(&setup.config));
}

/// A kiosk whose key lives in a (software) TPM: registered as `hardware` by an
/// administrator from the TPM's own attestation, through the real TSS stack and the real
/// `reclaim` binary; its ES256 attestations are accepted; the proof cannot be replayed; and
/// its key blob, copied to another machine, is useless there.
#[test]
fn a_tpm_held_key_is_registered_as_hardware() {
    let tpm = Swtpm::start().unwrap();
    let cas: Vec<String> = tpm
        .ca_certificates()
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    let setup = Setup::new(
        "tpm",
        None,
        None,
        &format!("[tpm]\nendorsement_ca_files = [{}]\n", cas.join(", ")),
    );
    let config = setup.config.to_str().unwrap();

    // The kiosk: an attestation key under its endorsement key, and its device key.
    let mut device = Tpm::open(&tpm.tcti()).unwrap();
    let ek = device.preferred_ek();
    let ak = device.create_attestation_key(ek).unwrap();
    let key = device.create_device_key().unwrap();
    let request = device.registration_request(&ak).unwrap();
    let request_file = setup.dir.file(
        "tpm-request.json",
        serde_json::to_string(&request).unwrap().as_bytes(),
    );

    // The administrator: a challenge only that TPM can answer.
    let out = reclaim(&[
        "device",
        "tpm-challenge",
        "--config",
        config,
        request_file.to_str().unwrap(),
        "--name",
        "kiosk 2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let challenge: Challenge = serde_json::from_slice(&out.stdout).unwrap();
    let proof = device.answer_challenge(&ak, &key, &challenge).unwrap();
    let proof_file = setup.dir.file(
        "tpm-proof.json",
        serde_json::to_string(&proof).unwrap().as_bytes(),
    );
    let register = || {
        reclaim(&[
            "device",
            "register",
            "--config",
            config,
            "--tpm-attestation",
            proof_file.to_str().unwrap(),
            "--json",
        ])
    };
    let out = register();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let registered = json_of(&out);
    assert_eq!(registered["tier"], "hardware");
    assert_eq!(registered["name"], "kiosk 2");
    let public = key.public_device_key().unwrap();
    assert_eq!(registered["key_id"], public.key_id().as_str());
    // The same proof again: the challenge was spent.
    let out = register();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["error"]["code"], "tpm_challenge_mismatch");
    // A hardware tier is never given for a bare public key.
    let out = reclaim(&[
        "device",
        "register",
        "--config",
        config,
        "--public-key",
        &public.to_base64(),
        "--name",
        "x",
        "--tier",
        "hardware",
    ]);
    assert_eq!(out.status.code(), Some(2));

    // The kiosk signs with the TPM (ES256); the server knows it as hardware.
    let _server = Server::start(&setup, &setup.config);
    let signer = TpmSigner::new(device, key.clone()).unwrap();
    let decision = attest_as(&setup, &signer, "avery.quinn", "QUINN", "AVERY", "unlock");
    assert_eq!(decision["outcome"], "approved", "{decision}");
    let list = json_of(&reclaim(&["device", "list", "--config", config, "--json"]));
    let kiosk = list
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["key_id"] == public.key_id().as_str())
        .unwrap();
    assert_eq!(kiosk["tier"], "hardware");

    // The key blob stolen to another machine: that machine's TPM cannot load it, so the
    // thief cannot sign as the kiosk.
    let elsewhere = Swtpm::start().unwrap();
    let mut other = Tpm::open(&elsewhere.tcti()).unwrap();
    let stolen = KeyBlob::from_json(&key.to_json()).unwrap();
    assert!(other.sign_digest(&stolen, &[7u8; 32]).is_err());
}
