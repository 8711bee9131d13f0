//! A software TPM 2.0 (swtpm, libtpms) manufactured like a real one: endorsement keys (RSA
//! 2048 and ECC P-384) whose certificates, signed by swtpm's local CA, sit in the TPM's NV
//! storage, where the TCG says a vendor puts them. The CA stands in for a TPM vendor's.
//!
//! Each [`Swtpm`] has its own state directory and ports; it is killed, and its directory
//! removed, on drop. Clients reach it with the TCTI string from [`Swtpm::tcti`].

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, kill_and_wait, run, spawn_server, TempDir};

/// Where swtpm's system-wide local CA lives (created on first use by `swtpm_setup`).
pub const SYSTEM_LOCAL_CA_DIR: &str = "/var/lib/swtpm-localca";

/// A running software TPM.
#[derive(Debug)]
pub struct Swtpm {
    child: Child,
    port: u16,
    ca_certificates: Vec<PathBuf>,
    // Dropped after the child is killed (fields drop in order; Drop kills first).
    dir: TempDir,
}

impl Swtpm {
    /// A TPM whose EK certificates are issued by swtpm's system-wide local CA
    /// ([`SYSTEM_LOCAL_CA_DIR`]), like every TPM of one vendor shares the vendor's CA.
    pub fn start() -> Result<Swtpm, String> {
        Swtpm::start_inner(false)
    }

    /// A TPM whose EK certificates are issued by a CA of its own, made fresh in its
    /// directory: a TPM from a vendor nobody configured.
    pub fn start_with_own_ca() -> Result<Swtpm, String> {
        Swtpm::start_inner(true)
    }

    fn start_inner(own_ca: bool) -> Result<Swtpm, String> {
        let dir = TempDir::new("swtpm")?;
        let state = dir.path().join("state");
        std::fs::create_dir_all(&state).map_err(|e| format!("{}: {e}", state.display()))?;

        let mut setup = Command::new("swtpm_setup");
        let ca_dir = if own_ca {
            let ca = dir.path().join("ca");
            std::fs::create_dir_all(&ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            let localca_conf = ca.join("swtpm-localca.conf");
            write(
                &localca_conf,
                &format!(
                    "statedir = {ca}\nsigningkey = {ca}/signkey.pem\nissuercert = {ca}/issuercert.pem\ncertserial = {ca}/certserial\n",
                    ca = ca.display()
                ),
            )?;
            let setup_conf = dir.path().join("swtpm_setup.conf");
            write(
                &setup_conf,
                &format!(
                    "create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = {}\ncreate_certs_tool_options = /etc/swtpm-localca.options\nactive_pcr_banks = sha256\n",
                    localca_conf.display()
                ),
            )?;
            setup.arg("--config").arg(&setup_conf);
            ca
        } else {
            PathBuf::from(SYSTEM_LOCAL_CA_DIR)
        };
        // --create-ek-cert makes both EKs (RSA 2048 and ECC P-384) and their certificates;
        // --lock-nvram makes the NV indexes read-only, as on a manufactured TPM.
        setup
            .arg("--tpm2")
            .arg("--tpmstate")
            .arg(&state)
            .arg("--create-ek-cert")
            .arg("--create-platform-cert")
            .arg("--lock-nvram")
            .arg("--overwrite")
            .arg("--logfile")
            .arg(dir.path().join("setup.log"));
        run(&mut setup).map_err(|e| {
            let log = std::fs::read_to_string(dir.path().join("setup.log")).unwrap_or_default();
            format!("{e}\n{log}")
        })?;
        let ca_certificates = vec![
            ca_dir.join("issuercert.pem"),
            ca_dir.join("swtpm-localca-rootca-cert.pem"),
        ];
        for c in &ca_certificates {
            if !c.exists() {
                return Err(format!(
                    "swtpm_setup made no CA certificate at {}",
                    c.display()
                ));
            }
        }

        // A port taken between free_port and swtpm's bind: try again with new ones.
        let mut last = String::new();
        for _ in 0..8 {
            // libtss2's swtpm TCTI reaches the control channel at the server port + 1.
            let port = free_port()?;
            let Some(ctrl) = port.checked_add(1) else {
                continue;
            };
            if std::net::TcpListener::bind(("127.0.0.1", ctrl)).is_err() {
                last = format!("port {ctrl} is taken");
                continue;
            }
            let mut cmd = Command::new("swtpm");
            cmd.arg("socket")
                .arg("--tpm2")
                .arg("--tpmstate")
                .arg(format!("dir={}", state.display()))
                .arg("--server")
                .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
                .arg("--ctrl")
                .arg(format!("type=tcp,port={ctrl},bindaddr=127.0.0.1"))
                .arg("--flags")
                .arg("not-need-init,startup-clear");
            let log = dir.path().join("swtpm.log");
            let mut child = spawn_server(cmd, &log).map_err(|e| format!("swtpm: {e}"))?;
            let ready = await_server(&mut child, &log, Duration::from_secs(10), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            match ready {
                Ok(()) => {
                    return Ok(Swtpm {
                        child,
                        port,
                        ca_certificates,
                        dir,
                    })
                }
                Err(log) => last = log,
            }
        }
        Err(format!("swtpm did not start: {last}"))
    }

    /// The TCTI string for tss-esapi and tpm2-tools (`TPM2TOOLS_TCTI`).
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The CA certificates (PEM) behind this TPM's EK certificates: the issuing CA first,
    /// then its root.
    pub fn ca_certificates(&self) -> &[PathBuf] {
        &self.ca_certificates
    }

    /// The TPM's state directory.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        kill_and_wait(&mut self.child);
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}
