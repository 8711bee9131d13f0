//! `reclaim audit verify` against a real `reclaim serve`'s database, log and checkpoint
//! file: the signed checkpoints the server writes find a tail cut from the database even
//! when the head row was pointed at the new last entry; `reclaim audit checkpoint-key`
//! prints the key they are signed with.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use reclaim_fixtures::server::ServerConfig;

use crate::served::{free_port, register_kiosk, spawn_serve};
use crate::{json_of, reclaim, Scratch};

fn verify(config: &Path, checkpoint: Option<&Path>) -> Output {
    let mut args = vec![
        "audit",
        "verify",
        "--config",
        config.to_str().unwrap(),
        "--json",
    ];
    if let Some(c) = checkpoint {
        args.extend(["--checkpoint", c.to_str().unwrap()]);
    }
    reclaim(&args)
}

fn codes(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_tail_cut_after_a_checkpoint_is_found() {
    let dir = Scratch::new("audit-checkpoints");
    let port = free_port();
    let checkpoints = dir.0.join("checkpoints.jsonl");
    let log = dir.0.join("server.log");
    let db = dir.0.join("r.db");
    let config = ServerConfig::new(&dir.0, port)
        .public_url("https://reclaim.test.invalid")
        .keys("reverify = false")
        .database(&format!("sqlite://{}", db.display()))
        .sections(&format!(
            "[audit]\ncheckpoint_interval_s = 1\ncheckpoint_file = {:?}",
            checkpoints.display().to_string()
        ))
        .write();
    let device = register_kiosk(&config, &dir.0.join("device.key"))["key_id"]
        .as_str()
        .unwrap()
        .to_string();

    // The server: two sessions, then a graceful stop (SIGTERM), which signs the last
    // checkpoint. Logging at `info` whatever the environment says: the checkpoints are
    // read back from this log.
    let url = format!("http://127.0.0.1:{port}");
    let mut server = spawn_serve(&config, &log, &[("RECLAIM_LOG", "info")], &url);
    let client = reqwest::blocking::Client::new();
    for _ in 0..2 {
        let r = client
            .post(format!("{url}/v1/sessions"))
            .json(&json!({ "login": "avery.quinn", "action": "reset_password", "device": device }))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let killed = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = server.kill();
            panic!("the server did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");

    // Untouched: the chain verifies against the log and against the checkpoint file.
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(
        log_text.contains("\"target\":\"reclaim::audit::checkpoint\""),
        "{log_text}"
    );
    for anchor in [&log, &checkpoints] {
        let out = verify(&config, Some(anchor));
        let report = json_of(&out);
        assert_eq!(out.status.code(), Some(0), "{report}");
        assert!(report["checkpoints"].as_u64().unwrap() >= 2, "{report}");
    }
    // The key a SIEM checks them with.
    let out = reclaim(&[
        "audit",
        "checkpoint-key",
        "--config",
        config.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let key = json_of(&out);
    let last: Value = serde_json::from_str(
        std::fs::read_to_string(&checkpoints)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(key["key"], last["key"], "{key}");
    assert!(key["pem"]
        .as_str()
        .unwrap()
        .starts_with("-----BEGIN PUBLIC KEY-----"));

    // The last entry deleted and the head pointed at the one before, by a database
    // writer (without the data key).
    let cut = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             m = c.execute('SELECT MAX(seq) FROM audit').fetchone()[0]\n\
             c.execute('DELETE FROM audit WHERE seq = ?', (m,))\n\
             h = c.execute('SELECT hash FROM audit WHERE seq = ?', (m - 1,)).fetchone()[0]\n\
             c.execute('UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1', (m - 1, h))\n\
             c.commit()\n",
            db.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(cut.success());
    let out = verify(&config, None);
    let report = json_of(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        codes(&report).contains(&"head_mac_invalid".to_string()),
        "{report}"
    );
    for anchor in [&log, &checkpoints] {
        let out = verify(&config, Some(anchor));
        let report = json_of(&out);
        assert_eq!(out.status.code(), Some(1), "{report}");
        assert!(
            codes(&report).contains(&"checkpoint_entry_missing".to_string()),
            "{report}"
        );
    }
    // A checkpoint file that is not there is bad input, not a verdict.
    let out = verify(&config, Some(&dir.0.join("absent.jsonl")));
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(json_of(&out)["error"]["code"], "checkpoint_file_unreadable");
}
