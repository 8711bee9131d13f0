//! A stateful double of the parts of Microsoft Graph v1.0 and of the Microsoft identity
//! platform's token endpoint that the Entra connector uses: `vendors/graph-double.mjs`, a
//! Node script without dependencies, over plain http on 127.0.0.1. Put
//! [`crate::Prism`] in front of its Graph half with [`GRAPH_SUBSET`] so every request is
//! checked against Microsoft's published OpenAPI description.
//!
//! The app's key and self-signed certificate are made at start (openssl) in a temporary
//! folder; the double accepts only assertions signed by that key (PS256) and naming that
//! certificate's SHA-256 thumbprint (`x5t#S256`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, run, spawn_server, stop_server, vendors_dir, TempDir};

/// The OpenAPI subset Prism validates the connector's Graph requests against (relative to
/// [`vendors_dir`]): the copy with navigation properties as open objects, which Prism
/// loads in seconds (`vendors/graph/README.md` says why and what that leaves unchecked).
/// Graph's paths there are relative to `https://graph.microsoft.com/v1.0`: the connector's
/// `graph_url` is Prism's URL itself.
pub const GRAPH_SUBSET: &str = "graph/openapi-subset.prism.yaml";

/// A running Graph double. Killed on drop.
#[derive(Debug)]
pub struct GraphDouble {
    child: Option<Child>,
    port: u16,
    tenant: String,
    client_id: String,
    dir: TempDir,
}

impl GraphDouble {
    /// Starts the double with a new key and certificate for the client `client_id` of
    /// `tenant`; ready when this returns.
    pub fn start(tenant: &str, client_id: &str) -> Result<GraphDouble, String> {
        let dir = TempDir::new("graph")?;
        make_certificate(dir.path(), "app")?;
        let mut last = String::new();
        for _ in 0..5 {
            match GraphDouble::start_on(free_port()?, &dir, tenant, client_id) {
                Ok((child, port)) => {
                    return Ok(GraphDouble {
                        child: Some(child),
                        port,
                        tenant: tenant.into(),
                        client_id: client_id.into(),
                        dir,
                    })
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn start_on(
        port: u16,
        dir: &TempDir,
        tenant: &str,
        client_id: &str,
    ) -> Result<(Child, u16), String> {
        let mut cmd = Command::new("node");
        cmd.arg("graph-double.mjs")
            .current_dir(vendors_dir())
            .env("GRAPH_DOUBLE_PORT", port.to_string())
            .env("GRAPH_DOUBLE_TENANT", tenant)
            .env("GRAPH_DOUBLE_CLIENT_ID", client_id)
            .env("GRAPH_DOUBLE_CERT", dir.path().join("app.crt"));
        let log = dir.path().join(format!("graph-double-{port}.log"));
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("node: {e}"))?;
        let ready = await_server(&mut child, &log, Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        if let Err(log) = ready {
            return Err(format!(
                "graph double did not start on 127.0.0.1:{port}: {}",
                log.trim()
            ));
        }
        Ok((child, port))
    }

    /// `http://127.0.0.1:PORT`: the token endpoint's host (the connector's `login_url`),
    /// and the upstream Prism forwards Graph requests to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The app's private key (PEM, PKCS#8), made at start.
    pub fn private_key_file(&self) -> PathBuf {
        self.dir.path().join("app.key")
    }

    /// The app's self-signed certificate (PEM), registered with the double.
    pub fn certificate_file(&self) -> PathBuf {
        self.dir.path().join("app.crt")
    }

    /// A folder that lives as long as the double, for a test's own files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Adds users and groups, or sets the TAP policy, page size or public base URL
    /// (JSON; see `graph-double.mjs`). Tests running at once each add their own users.
    pub fn add(&self, what: &str) -> Result<(), String> {
        self.control("POST", "/_control/add", Some(what))
            .map(|_| ())
    }

    /// Adds scripted faults (a JSON array; see `graph-double.mjs`): a test scopes its own
    /// by a path holding its user's id.
    pub fn faults(&self, faults: &str) -> Result<(), String> {
        self.control("POST", "/_control/faults", Some(faults))
            .map(|_| ())
    }

    /// Users with their passwords, methods and passes; tokens issued; the request log
    /// (JSON).
    pub fn state(&self) -> Result<String, String> {
        self.control("GET", "/_control/state", None)
    }

    fn control(&self, method: &str, path: &str, body: Option<&str>) -> Result<String, String> {
        let body = body.unwrap_or_default();
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut answer = String::new();
        s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
        let (head, body) = answer
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("graph double: no answer to {path}"))?;
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!("graph double: {path}: {head}"));
        }
        Ok(body.to_string())
    }
}

impl Drop for GraphDouble {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

/// Makes `NAME.key` (RSA 2048, PKCS#8) and a self-signed `NAME.crt` in `dir`.
pub fn make_certificate(dir: &Path, name: &str) -> Result<(), String> {
    run(Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=reclaim-test-app"])
        .arg("-keyout")
        .arg(dir.join(format!("{name}.key")))
        .arg("-out")
        .arg(dir.join(format!("{name}.crt"))))
    .map(|_| ())
}
