//! A real `reclaim serve` process for the tests that need one: configured as for
//! production (the shipped models, re-verification on, SQLite, the demo directory), its
//! log kept in its scratch directory, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reclaim_directory::DemoDirectory;

use crate::{json_of, reclaim, Scratch};

pub const AUDIENCE: &str = "https://reclaim.attack.test.invalid";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs `reclaim serve --config config` with `env` set and its log (stderr) written to
/// `log`, and waits until `url` answers `/healthz`. With re-verification on, the engine
/// loads the models before the server listens: the wait allows for a loaded machine. A
/// server that does not come up is killed, and the panic shows its log.
pub fn spawn_serve(config: &Path, log: &Path, env: &[(&str, &str)], url: &str) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_reclaim"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(
            std::fs::File::create(log)
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
        )
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if reqwest::blocking::get(format!("{url}/healthz")).is_ok() {
            return child;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}) before it answered:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!(
        "the server did not start:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// An administrator registering a managed kiosk with `reclaim device register` on
/// `config`'s database, its private key written to `key_out`: the command's JSON answer.
pub fn register_kiosk(config: &Path, key_out: &Path) -> serde_json::Value {
    let out = reclaim(&[
        "device",
        "register",
        "--config",
        config.to_str().unwrap(),
        "--key-out",
        key_out.to_str().unwrap(),
        "--name",
        "kiosk 1",
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json_of(&out)
}

/// `POST url` with `body` as JSON (and `token` as the bearer), giving up after `timeout`:
/// the status and the JSON answer (`null` when it is not JSON), or why no answer came.
pub fn post_json(
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<(u16, serde_json::Value), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let mut r = client.post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.json().unwrap_or(serde_json::Value::Null)))
}

/// A server process, killed when dropped.
pub struct Served {
    pub child: Child,
    pub dir: Scratch,
    pub url: String,
    pub port: u16,
}

impl Served {
    /// Writes a production-like configuration with `sections` (TOML tables such as
    /// `[limits]` or `[policy]`) appended, runs `before` on it (e.g. an admin registering a
    /// device), then starts the server and waits until it answers.
    pub fn start(name: &str, sections: &str, before: impl FnOnce(&Path, &Scratch)) -> Served {
        let dir = Scratch::new(name);
        let port = free_port();
        let text = format!(
            "listen = \"127.0.0.1:{port}\"\npublic_url = \"{AUDIENCE}\"\ndata_key_file = \"{}\"\n[database]\nurl = \"sqlite://{}\"\n[directory]\nkind = \"demo\"\nfile = \"{}\"\n{sections}\n",
            dir.0.join("data.key").display(),
            dir.0.join("r.db").display(),
            dir.0.join("directory.json").display(),
        );
        let config = dir.file("reclaim.toml", text.as_bytes());
        before(&config, &dir);
        let url = format!("http://127.0.0.1:{port}");
        let child = spawn_serve(&config, &dir.0.join("server.log"), &[], &url);
        Served {
            child,
            url,
            port,
            dir,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("server.log")).unwrap_or_default()
    }

    /// The process's peak resident memory so far (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// Resets the process's peak resident memory (VmHWM) to what it holds now, so a later
    /// [`Served::peak_rss_kib`] measures one request rather than model loading at start.
    pub fn reset_peak_rss(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").unwrap();
    }

    pub fn avery(&self) -> reclaim_directory::DemoUser {
        DemoDirectory::open(&self.dir.0.join("directory.json"), vec![])
            .unwrap()
            .user("avery.quinn")
            .unwrap()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
