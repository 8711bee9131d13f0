//! A throwaway Samba Active Directory domain controller (realm LAB.TEST), provisioned in a
//! temp dir and run in the foreground with only the LDAP service.
//!
//! LDAP's ports are fixed (389 and 636: AD clients and Samba assume them), so only one DC
//! can run on the machine at a time. `start` takes an exclusive `flock` on a file under
//! /tmp for the DC's whole life; the lock is per open file, so it serializes threads of
//! one test binary as well as concurrent test binaries, and the kernel drops it if the
//! process dies. Provisioning takes several seconds: test binaries share one DC through
//! [`SambaDc::shared`] and give each test its own user.
//!
//! TLS: Samba's self-generated certificate names the host, not 127.0.0.1, so the testkit
//! makes its own small CA and a server certificate for `127.0.0.1` and `localhost`; clients
//! verify against [`SambaDc::ca_file`] instead of skipping verification.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::Duration;

use crate::{await_server, run, secret, spawn_server, stop_server, succeeds, TempDir};

/// A domain user created for tests.
#[derive(Debug, Clone)]
pub struct AdUser {
    pub sam: String,
    pub dn: String,
    pub password: String,
    pub given_name: String,
    pub surname: String,
    pub mail: String,
}

/// A running Samba AD DC. Killed on drop (and when the test process exits).
#[derive(Debug)]
pub struct SambaDc {
    child: Option<Child>,
    service_password: String,
    admin_password: String,
    users: Vec<AdUser>,
    _lock: File,
    dir: TempDir,
}

pub const REALM: &str = "LAB.TEST";
pub const BASE_DN: &str = "DC=lab,DC=test";
const LOCK_FILE: &str = "/tmp/reclaim-testkit-samba-dc.lock";
const SEED: [(&str, &str, &str); 6] = [
    ("anna", "Anna", "Eriksson"),
    ("bo", "Bo", "Lindqvist"),
    ("cecilia", "Cecilia", "Holm"),
    ("david", "David", "Nyberg"),
    ("ebba", "Ebba", "Sjoberg"),
    ("filip", "Filip", "Strand"),
];
/// A global security group in `CN=Users` with `ebba` in it, itself in Domain Admins.
pub const NESTED_ADMINS_GROUP: &str = "tier0-ops";
/// Lockout after this many failed binds (the connector's unlock test needs one).
pub const LOCKOUT_THRESHOLD: u32 = 3;

impl SambaDc {
    /// Provisions and starts a DC with a service account and the users `anna`, `bo`,
    /// `cecilia`, `david`, `ebba`, `filip`. Two of them are Domain Admins the way that is
    /// hard to see: `ebba` through the group [`NESTED_ADMINS_GROUP`], itself a member of
    /// Domain Admins; `filip` through his primary group alone (`primaryGroupID` 512, so
    /// he is not in Domain Admins' `member`). Blocks while another DC runs on the machine.
    pub fn start() -> Result<SambaDc, String> {
        let lock = File::create(LOCK_FILE).map_err(|e| format!("{LOCK_FILE}: {e}"))?;
        // SAFETY: flock on a file descriptor we own; it only blocks.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(format!("{LOCK_FILE}: {}", std::io::Error::last_os_error()));
        }
        let dir = TempDir::new("samba")?;
        let d = dir.path();
        let target = d.join("dc");
        let empty = d.join("empty.conf");
        std::fs::write(&empty, "").map_err(|e| e.to_string())?;
        let admin_password = secret("Admin");
        let service_password = secret("Svc");
        run(Command::new("samba-tool")
            .args(["domain", "provision", "-s"])
            .arg(&empty)
            .arg(format!("--targetdir={}", target.display()))
            .arg(format!("--realm={REALM}"))
            .args([
                "--domain=LAB",
                "--server-role=dc",
                "--host-ip=127.0.0.1",
                "--dns-backend=NONE",
            ])
            .arg(format!("--adminpass={admin_password}")))?;
        let tls = make_certificates(d)?;
        let conf = target.join("etc/smb.conf");
        let text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
        // Only the LDAP service: nothing else binds a port (no KDC on 88, no SMB on 445),
        // and the DC starts in well under a second.
        let extra = format!(
            "\tserver services = ldap\n\told password allowed period = 0\n\tinterfaces = lo\n\tbind interfaces only = yes\n\tdisable netbios = yes\n\ttls enabled = yes\n\ttls keyfile = {}\n\ttls certfile = {}\n\ttls cafile = {}\n",
            tls.join("key.pem").display(),
            tls.join("cert.pem").display(),
            tls.join("ca.pem").display()
        );
        let mut out = String::new();
        for l in text.lines() {
            if l.trim_start().starts_with("server services") {
                continue;
            }
            out.push_str(l);
            out.push('\n');
            if l.trim() == "[global]" {
                out.push_str(&extra);
            }
        }
        std::fs::write(&conf, out).map_err(|e| e.to_string())?;

        let mut dc = SambaDc {
            child: None,
            service_password,
            admin_password,
            users: Vec::new(),
            _lock: lock,
            dir,
        };
        dc.seed()?;
        dc.resume()?;
        Ok(dc)
    }

    /// One DC for the whole test binary, started on first use. It is never dropped: the
    /// testkit's parent-death signal kills it when the test process exits.
    pub fn shared() -> Result<&'static SambaDc, String> {
        static SHARED: OnceLock<Result<SambaDc, String>> = OnceLock::new();
        SHARED
            .get_or_init(SambaDc::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn ldaps_url(&self) -> &'static str {
        "ldaps://127.0.0.1:636"
    }

    pub fn ldap_url(&self) -> &'static str {
        "ldap://127.0.0.1:389"
    }

    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    pub fn users_dn(&self) -> String {
        format!("CN=Users,{BASE_DN}")
    }

    /// PEM CA certificate that signed the DC's LDAPS certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    /// The service account: delegated "Reset Password" and write of `lockoutTime` on
    /// users, nothing more.
    pub fn service_dn(&self) -> String {
        format!("CN=svc-reclaim,CN=Users,{BASE_DN}")
    }

    pub fn service_password(&self) -> &str {
        &self.service_password
    }

    pub fn admin_dn(&self) -> String {
        format!("CN=Administrator,CN=Users,{BASE_DN}")
    }

    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    pub fn users(&self) -> &[AdUser] {
        &self.users
    }

    pub fn user(&self, sam: &str) -> Option<&AdUser> {
        self.users.iter().find(|u| u.sam == sam)
    }

    /// Kills the DC (data kept).
    pub fn stop(&mut self) {
        stop_server(&mut self.child);
    }

    /// Starts a stopped DC again.
    pub fn resume(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let conf = self.conf();
        let mut cmd = Command::new("samba");
        cmd.args(["-i", "-M", "single", "-s"]).arg(&conf);
        let log = self.dir.path().join("samba.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("samba: {e}"))?;
        let ca = self.ca_file();
        let (dn, pw) = (self.service_dn(), self.service_password.clone());
        let base = BASE_DN;
        // Samba has no WhoAmI: a bind followed by a base search proves the service
        // account can authenticate over LDAPS.
        await_server(&mut child, &log, Duration::from_secs(60), || {
            succeeds(
                Command::new("ldapsearch")
                    .env("LDAPTLS_CACERT", &ca)
                    .args(["-x", "-H", "ldaps://127.0.0.1:636", "-o", "nettimeout=2"])
                    .args(["-D", &dn, "-w", &pw, "-b", base, "-s", "base", "dn"]),
            )
        })
        .map_err(|log| format!("samba did not start: {log}"))?;
        self.child = Some(child);
        Ok(())
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("dc/etc/smb.conf")
    }

    fn tool(&self) -> Command {
        Command::new("samba-tool")
    }

    fn local(&self, c: &mut Command) {
        c.arg("-s").arg(self.conf()).arg("-H").arg(format!(
            "ldb://{}",
            self.dir.path().join("dc/private/sam.ldb").display()
        ));
    }

    /// Creates the accounts and the delegation offline, on the database files, before
    /// the DC starts (faster than over LDAP and needs no credentials).
    fn seed(&mut self) -> Result<(), String> {
        let mut c = self.tool();
        c.args(["domain", "passwordsettings", "set"])
            .arg(format!("--account-lockout-threshold={LOCKOUT_THRESHOLD}"))
            .arg("--min-pwd-age=0");
        self.local(&mut c);
        run(&mut c)?;

        let mut c = self.tool();
        c.args(["user", "create", "svc-reclaim", &self.service_password])
            .arg("--use-username-as-cn");
        self.local(&mut c);
        run(&mut c)?;

        for (i, (sam, given, surname)) in SEED.iter().enumerate() {
            let user = AdUser {
                sam: sam.to_string(),
                dn: format!("CN={sam},CN=Users,{BASE_DN}"),
                password: format!("{given}-Initial-{i}-{}", &secret("x")[2..10]),
                given_name: given.to_string(),
                surname: surname.to_string(),
                mail: format!("{sam}@lab.test"),
            };
            let mut c = self.tool();
            c.args(["user", "create", &user.sam, &user.password])
                .arg("--use-username-as-cn")
                .arg(format!("--given-name={}", user.given_name))
                .arg(format!("--surname={}", user.surname))
                .arg(format!("--mail-address={}", user.mail));
            self.local(&mut c);
            run(&mut c)?;
            self.users.push(user);
        }

        // Group memberships: see `start`.
        for args in [
            &["group", "add", NESTED_ADMINS_GROUP][..],
            &["group", "addmembers", NESTED_ADMINS_GROUP, "ebba"],
            &["group", "addmembers", "Domain Admins", NESTED_ADMINS_GROUP],
            // A primary group must be one the account is in; making it primary takes the
            // account out of the group's `member`, as AD does.
            &["group", "addmembers", "Domain Admins", "filip"],
            &["user", "setprimarygroup", "filip", "Domain Admins"],
        ] {
            let mut c = self.tool();
            c.args(args);
            self.local(&mut c);
            run(&mut c)?;
        }

        let mut c = self.tool();
        c.args(["user", "show", "svc-reclaim", "--attributes=objectSid"]);
        self.local(&mut c);
        let out = run(&mut c)?;
        let sid = String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("objectSid: ").map(|s| s.trim().to_string()))
            .ok_or("no objectSid for svc-reclaim")?;
        // Inherited by user objects (bf967aba-…) under CN=Users: the "Reset Password"
        // extended right and write of lockoutTime.
        const USER_CLASS: &str = "bf967aba-0de6-11d0-a285-00aa003049e2";
        const RESET_PASSWORD: &str = "00299570-246d-11d0-a768-00aa006e0529";
        const LOCKOUT_TIME: &str = "28630ebf-41d5-11d1-a9c1-0000f80367c1";
        let sddl = format!(
            "(OA;CI;CR;{RESET_PASSWORD};{USER_CLASS};{sid})(OA;CI;WP;{LOCKOUT_TIME};{USER_CLASS};{sid})"
        );
        let mut c = self.tool();
        c.args(["dsacl", "set"])
            .arg(format!("--objectdn=CN=Users,{BASE_DN}"))
            .arg(format!("--sddl={sddl}"));
        self.local(&mut c);
        run(&mut c)?;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SambaDc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1 / localhost, in `<dir>/tls`.
fn make_certificates(dir: &Path) -> Result<PathBuf, String> {
    let tls = dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| e.to_string())?;
    run(Command::new("openssl")
        .current_dir(&tls)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "7"])
        .args(["-subj", "/CN=Reclaim testkit CA"])
        .args(["-addext", "basicConstraints=critical,CA:TRUE"])
        .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]))?;
    run(Command::new("openssl")
        .current_dir(&tls)
        .args(["req", "-newkey", "rsa:2048", "-nodes"])
        .args([
            "-keyout",
            "key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]))?;
    std::fs::write(
        tls.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
    )
    .map_err(|e| e.to_string())?;
    run(Command::new("openssl")
        .current_dir(&tls)
        .args([
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
        ])
        .args([
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "7",
            "-extfile",
            "ext.cnf",
        ]))?;
    // Samba refuses a private key readable by others.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tls.join("key.pem"), std::fs::Permissions::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    Ok(tls)
}
