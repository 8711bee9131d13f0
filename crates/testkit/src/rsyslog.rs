//! A real syslog collector for the SIEM export tests: Debian's `rsyslogd`, unprivileged
//! configuration of its own, listening with `imtcp` on a loopback port (plain TCP, or TLS
//! through the GnuTLS netstream driver, RFC 5425, with a CA made for it), and writing what
//! it parsed to a file: one line per message, `APP-NAME|MSGID|STRUCTURED-DATA|MSG`, from
//! rsyslog's own RFC 5424 parser.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, run, spawn_server, stop_server, TempDir};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// A running `rsyslogd`. Killed on drop.
#[derive(Debug)]
pub struct Rsyslog {
    child: Option<Child>,
    port: u16,
    tls: bool,
    dir: TempDir,
}

/// One message as rsyslog parsed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogLine {
    pub app_name: String,
    pub msgid: String,
    pub structured_data: String,
    pub msg: String,
}

impl Rsyslog {
    /// A collector on a free loopback port; `tls`: RFC 5425 with a certificate for
    /// `localhost` and `127.0.0.1`, issued by the CA in [`Rsyslog::ca_file`].
    pub fn start(tls: bool) -> Result<Rsyslog, String> {
        let mut last = String::new();
        // Another process can take the port between our probe and the bind: try again.
        for _ in 0..5 {
            let dir = TempDir::new("rsyslog")?;
            if tls {
                make_certificates(dir.path())?;
            }
            let mut r = Rsyslog {
                child: None,
                port: free_port()?,
                tls,
                dir,
            };
            match r.resume() {
                Ok(()) => return Ok(r),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The CA that issued the collector's certificate (TLS only).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Stops the collector (what it received stays readable); [`Rsyslog::resume`] starts it
    /// again on the same port.
    pub fn stop(&mut self) {
        stop_server(&mut self.child);
        let _ = std::fs::remove_file(self.dir.path().join("rsyslogd.pid"));
    }

    /// Starts the collector (again) on its port, appending to the same output.
    pub fn resume(&mut self) -> Result<(), String> {
        self.stop();
        let dir = self.dir.path();
        let work = dir.join("work");
        std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
        let tls_global = if self.tls {
            format!(
                " DefaultNetstreamDriverCAFile=\"{d}/ca.pem\" DefaultNetstreamDriverCertFile=\"{d}/server.pem\" DefaultNetstreamDriverKeyFile=\"{d}/server.key\"",
                d = dir.display()
            )
        } else {
            String::new()
        };
        let tls_module = if self.tls {
            " StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\""
        } else {
            ""
        };
        let conf = format!(
            r#"global(workDirectory="{work}"{tls_global})
module(load="imtcp"{tls_module})
input(type="imtcp" port="{port}" address="127.0.0.1" name="siem")
template(name="parsed" type="string" string="%APP-NAME%|%MSGID%|%STRUCTURED-DATA%|%msg%\n")
if $inputname == "siem" then {{
  action(type="omfile" file="{out}" template="parsed")
}}
"#,
            work = work.display(),
            port = self.port,
            out = self.output().display(),
        );
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).map_err(|e| format!("{}: {e}", conf_path.display()))?;
        let mut cmd = Command::new(RSYSLOGD);
        cmd.arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslogd.pid"));
        let log = dir.join("rsyslogd.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("{RSYSLOGD}: {e}"))?;
        let port = self.port;
        await_server(&mut child, &log, Duration::from_secs(15), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .map_err(|log| format!("rsyslogd did not start: {log}"))?;
        self.child = Some(child);
        Ok(())
    }

    fn output(&self) -> PathBuf {
        self.dir.path().join("received.log")
    }

    /// Every message received so far, in order.
    pub fn lines(&self) -> Vec<SyslogLine> {
        let text = std::fs::read_to_string(self.output()).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut parts = l.splitn(4, '|');
                Some(SyslogLine {
                    app_name: parts.next()?.to_string(),
                    msgid: parts.next()?.to_string(),
                    structured_data: parts.next()?.to_string(),
                    msg: parts.next()?.to_string(),
                })
            })
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}

/// A CA (`ca.pem`, `ca.key`) and a server certificate for `localhost` / `127.0.0.1` it
/// issued (`server.pem`, `server.key`), in `dir`. The shared PostgreSQL uses them too.
pub(crate) fn make_certificates(dir: &Path) -> Result<(), String> {
    let d = |f: &str| dir.join(f);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=reclaim test CA"])
        .arg("-keyout")
        .arg(d("ca.key"))
        .arg("-out")
        .arg(d("ca.pem")))?;
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(d("server.key"))
        .arg("-out")
        .arg(d("server.csr")))?;
    std::fs::write(
        d("ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .map_err(|e| format!("{}: {e}", d("ext").display()))?;
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
        .arg("-in")
        .arg(d("server.csr"))
        .arg("-CA")
        .arg(d("ca.pem"))
        .arg("-CAkey")
        .arg(d("ca.key"))
        .arg("-extfile")
        .arg(d("ext"))
        .arg("-out")
        .arg(d("server.pem")))?;
    Ok(())
}
