//! A stateful double of Okta's Management API (`crates/testkit/vendors/okta-double.mjs`, Node,
//! no dependencies) behind Stoplight Prism, which checks every request against Okta's
//! published OpenAPI description (`@okta/openapi` 2.15.0).
//!
//! The connector is given [`OktaDouble::url`] as its org URL. There the double serves the
//! org authorization server's token endpoint itself (it is not in the Management API's
//! description; the double verifies the client assertion's signature, audience, expiry and
//! single use) and passes every other request to Prism, which refuses what the description
//! does not allow and forwards the rest to the double's API. Tests seed users, tokens and
//! clients and script faults through [`OktaDouble::control`] (JSON under `/_double/`).
//!
//! Prism loads a copy of the description with one correction (see `correctSpec` in the
//! script): the published file spells two path keys with a query string in them, which no
//! request can match.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use crate::prism::{vendors_dir, Prism};
use crate::{await_server, free_port, spawn_server, stop_server, TempDir};

/// A running double with its Prism in front. Both are killed on drop.
#[derive(Debug)]
pub struct OktaDouble {
    prism: Prism,
    child: Option<Child>,
    front_port: u16,
    _dir: TempDir,
}

impl OktaDouble {
    /// Starts the double and Prism on free loopback ports; ready when this returns (Prism
    /// takes a few seconds to load the description).
    pub fn start() -> Result<OktaDouble, String> {
        let spec_in = vendors_dir().join("node_modules/@okta/openapi/dist/spec.json");
        if !spec_in.is_file() {
            return Err(format!(
                "{} is missing: run `npm ci` in {} (scripts/setup-debian does)",
                spec_in.display(),
                vendors_dir().display()
            ));
        }
        let mut last = String::new();
        for _ in 0..5 {
            match OktaDouble::start_on(free_port()?, free_port()?, &spec_in) {
                Ok(d) => return Ok(d),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start_on(front_port: u16, api_port: u16, spec_in: &Path) -> Result<OktaDouble, String> {
        if front_port == api_port {
            return Err("the same port twice".into());
        }
        let tmp = TempDir::new("okta")?;
        let spec_out = tmp.path().join("okta-spec.json");
        let mut cmd = Command::new("node");
        cmd.arg("okta-double.mjs")
            .current_dir(vendors_dir())
            .env("OKTA_FRONT_PORT", front_port.to_string())
            .env("OKTA_API_PORT", api_port.to_string())
            .env("OKTA_SPEC_IN", spec_in)
            .env("OKTA_SPEC_OUT", &spec_out);
        let log = tmp.path().join("okta-double.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("node: {e}"))?;
        let ready = await_server(&mut child, &log, Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", front_port)).is_ok()
                && TcpStream::connect(("127.0.0.1", api_port)).is_ok()
        });
        if let Err(log) = ready {
            return Err(format!("okta-double did not start: {}", log.trim()));
        }
        let prism = Prism::proxy(&spec_out, &format!("http://127.0.0.1:{api_port}"))?;
        let double = OktaDouble {
            prism,
            child: Some(child),
            front_port,
            _dir: tmp,
        };
        let url = double.prism.url();
        double.control_ok("POST", "/_double/prism", &format!("{{\"url\":\"{url}\"}}"))?;
        Ok(double)
    }

    /// The org URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.front_port)
    }

    /// The Prism in front of the API, for its violations.
    pub fn prism(&self) -> &Prism {
        &self.prism
    }

    /// One control request (`path` under `/_double/`, `body` JSON or empty): the status
    /// and the body of the answer.
    pub fn control(&self, method: &str, path: &str, body: &str) -> Result<(u16, String), String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.front_port))
            .map_err(|e| format!("okta double: {e}"))?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("okta double: {e}"))?;
        let mut raw = Vec::new();
        stream
            .read_to_end(&mut raw)
            .map_err(|e| format!("okta double: {e}"))?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("okta double: no HTTP status in {head}"))?;
        Ok((status, body.to_string()))
    }

    /// [`OktaDouble::control`] that must answer 200; its body.
    pub fn control_ok(&self, method: &str, path: &str, body: &str) -> Result<String, String> {
        match self.control(method, path, body)? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("{method} {path}: {status} {body}")),
        }
    }
}

impl Drop for OktaDouble {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}
