//! Stoplight Prism (`@stoplight/prism-cli`, Apache-2.0, pinned in
//! `crates/testkit/vendors/package.json`) as a validating proxy: it stands between a
//! connector and a test double of a vendor's API, checks every request against the
//! vendor's published OpenAPI description, and forwards only the ones that match. A
//! request the description does not allow never reaches the double: Prism answers it
//! itself (`422` for a request that breaks the description, `404` for a path it does not
//! have, `401` for missing security), so the connector's call fails and so does the test.
//!
//! An answer from the double that breaks the description is passed on with an
//! `sl-violations` header; [`Prism::violations`] reads Prism's log for both kinds, so a
//! test can also assert the double answered as the vendor documents.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, spawn_server, stop_server, TempDir};

/// The folder with `package.json` and (after `npm ci`) `node_modules`.
pub fn vendors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("vendors")
}

/// A running Prism proxy. Killed on drop.
#[derive(Debug)]
pub struct Prism {
    child: Option<Child>,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Prism {
    /// Starts Prism on a free loopback port, validating against `spec` (a path, absolute
    /// or relative to [`vendors_dir`]) and forwarding to `upstream` (`http://127.0.0.1:PORT`).
    /// Ready when this returns (a large description takes a few seconds to load).
    pub fn proxy(spec: &Path, upstream: &str) -> Result<Prism, String> {
        let dir = vendors_dir();
        let bin = dir.join("node_modules/.bin/prism");
        if !bin.exists() {
            return Err(format!(
                "{} is missing: run `npm ci` in {} (scripts/setup-debian does)",
                bin.display(),
                dir.display()
            ));
        }
        let spec = dir.join(spec);
        if !spec.is_file() {
            return Err(format!("no API description at {}", spec.display()));
        }
        let mut last = String::new();
        // Another process can take the port between our probe and the bind: try again.
        for _ in 0..5 {
            match Prism::start_on(free_port()?, &bin, &spec, upstream) {
                Ok(p) => return Ok(p),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start_on(port: u16, bin: &Path, spec: &Path, upstream: &str) -> Result<Prism, String> {
        let tmp = TempDir::new("prism")?;
        let mut cmd = Command::new(bin);
        cmd.arg("proxy")
            .arg(spec)
            .arg(upstream)
            // Request violations are refused, not only reported.
            .arg("--errors")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(vendors_dir())
            .env("NO_COLOR", "1")
            .env("FORCE_COLOR", "0");
        let log = tmp.path().join("prism.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("prism: {e}"))?;
        let ready = await_server(&mut child, &log, Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if let Err(log) = ready {
            return Err(format!(
                "prism did not start on 127.0.0.1:{port}: {}",
                log.trim()
            ));
        }
        Ok(Prism {
            child: Some(child),
            port,
            log,
            _dir: tmp,
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: the vendor's base URL as the connector
    /// sees it.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every line of Prism's log reporting a violation of the description (a request or an
    /// answer), or a request it could not route.
    pub fn violations(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("Violation:")
                    || l.contains("NO_PATH_MATCHED")
                    || l.contains("NO_METHOD_MATCHED")
                    || l.contains("UNPROCESSABLE_ENTITY")
                    || l.contains("Request terminated with error")
            })
            .map(str::to_string)
            .collect()
    }

    /// Request violations only: what a connector sent that the description does not allow.
    pub fn request_violations(&self) -> Vec<String> {
        self.violations()
            .into_iter()
            .filter(|l| !l.contains("Violation: response"))
            .collect()
    }
}

impl Drop for Prism {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}
