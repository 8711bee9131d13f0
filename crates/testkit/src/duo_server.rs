//! A double of Duo's Admin API (`vendors/duo_server.py`) that verifies every request's
//! signature with the signing code of Duo's reference client `duo_client` (PyPI
//! `duo-client` 5.7.0). Its state is seeded and read, and faults scripted, through
//! unsigned `/_control/` endpoints; see the script's documentation.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, spawn_server, stop_server, vendors_dir, TempDir};

/// The integration key the double expects (Duo's documented example key).
pub const DUO_IKEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";
/// The secret key the double verifies signatures with (Duo's documented example key).
pub const DUO_SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";
/// The API hostname requests must be signed for.
pub const DUO_HOST: &str = "api-reclaim0.duosecurity.com";

/// A running double. Killed on drop.
#[derive(Debug)]
pub struct DuoServer {
    child: Option<Child>,
    port: u16,
    _dir: TempDir,
}

impl DuoServer {
    /// Starts the double on a free loopback port; ready when this returns.
    pub fn start() -> Result<DuoServer, String> {
        let mut last = String::new();
        for _ in 0..5 {
            match DuoServer::start_on(free_port()?) {
                Ok(s) => return Ok(s),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start_on(port: u16) -> Result<DuoServer, String> {
        let dir = TempDir::new("duo")?;
        let mut cmd = Command::new("python3");
        cmd.arg(vendors_dir().join("duo_server.py"))
            .arg("--port")
            .arg(port.to_string())
            .arg("--ikey")
            .arg(DUO_IKEY)
            .arg("--skey")
            .arg(DUO_SKEY)
            .arg("--host")
            .arg(DUO_HOST);
        let log = dir.path().join("duo_server.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("python3: {e}"))?;
        let ready = await_server(&mut child, &log, Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if let Err(log) = ready {
            let hint = if log.contains("No module named 'duo_client'") {
                " (install it: python3 -m pip install duo-client==5.7.0, or run scripts/setup-debian)"
            } else {
                ""
            };
            return Err(format!(
                "duo_server.py did not start on 127.0.0.1:{port}{hint}: {}",
                log.trim()
            ));
        }
        Ok(DuoServer {
            child: Some(child),
            port,
            _dir: dir,
        })
    }

    /// The base URL to send Admin API requests to (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Replaces the whole state (JSON: users, phones, tokens, webauthn, bypass_codes).
    pub fn seed(&self, json: &str) -> Result<(), String> {
        self.control("POST", "/_control/seed", json).map(|_| ())
    }

    /// The whole state as JSON.
    pub fn state(&self) -> Result<String, String> {
        self.control("GET", "/_control/state", "")
    }

    /// Sets the Admin API permissions (JSON: `{"read_resource": bool, "write_resource": bool}`).
    pub fn grants(&self, json: &str) -> Result<(), String> {
        self.control("POST", "/_control/grants", json).map(|_| ())
    }

    /// Adds scripted faults (a JSON list; see the script).
    pub fn faults(&self, json: &str) -> Result<(), String> {
        self.control("POST", "/_control/faults", json).map(|_| ())
    }

    /// Every Admin API request received, as JSON (method, path, query, verified).
    pub fn log(&self) -> Result<String, String> {
        self.control("GET", "/_control/log", "")
    }

    fn control(&self, method: &str, path: &str, body: &str) -> Result<String, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
            return Err(format!("{method} {path}: {head}"));
        }
        Ok(body.to_string())
    }
}

impl Drop for DuoServer {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}
