//! A real `reclaim serve` process for the tests that need one: configured as for
//! production (the shipped models, re-verification on, SQLite, the demo directory), its
//! log kept in its scratch directory, killed when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reclaim_directory::DemoDirectory;

use crate::Scratch;

pub const AUDIENCE: &str = "https://reclaim.attack.test.invalid";

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        let child = Command::new(env!("CARGO_BIN_EXE_reclaim"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.0.join("server.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            )
            .spawn()
            .unwrap();
        let server = Served {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
        };
        // The engine loads the models before the server listens.
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            if reqwest::blocking::get(format!("{}/healthz", server.url)).is_ok() {
                return server;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the server did not start:\n{}", server.log());
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
