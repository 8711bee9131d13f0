//! A throwaway OpenLDAP 2.5 server with the ppolicy overlay, configured the way a company
//! directory with a password policy would be: users under `ou=people`, groups under
//! `ou=groups` (no memberof overlay, as in many deployments), a least-privilege service
//! account under `ou=services`, and a default policy (minimum length 12, quality checked,
//! history of 5, lockout after 3 failed binds until an administrator unlocks).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use crate::{await_server, free_port, run, secret, spawn_server, stop_server, succeeds, TempDir};

/// A user to create in `ou=people`.
#[derive(Debug, Clone)]
pub struct LdapSeedUser {
    pub uid: String,
    pub password: String,
    pub given_name: String,
    pub surname: String,
    pub mail: Option<String>,
    /// Stored in `reclaimBirthDate` (a test schema attribute), ISO 8601.
    pub birth_date: Option<String>,
}

impl LdapSeedUser {
    pub fn new(uid: &str, password: &str, given_name: &str, surname: &str) -> LdapSeedUser {
        LdapSeedUser {
            uid: uid.into(),
            password: password.into(),
            given_name: given_name.into(),
            surname: surname.into(),
            mail: Some(format!("{uid}@example.test")),
            birth_date: None,
        }
    }
}

/// The schema of a group, which decides how it names its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapGroupKind {
    /// `groupOfNames`: `member` holds DNs (of users and of other groups).
    Names,
    /// `groupOfUniqueNames`: `uniqueMember` holds DNs.
    UniqueNames,
    /// `posixGroup` (RFC 2307): `memberUid` holds uids; it cannot hold groups.
    Posix,
}

/// A group to create in `ou=groups`.
#[derive(Debug, Clone)]
pub struct LdapSeedGroup {
    /// The group's CN, any printable ASCII (escaped in its DN as RFC 4514 requires).
    pub cn: String,
    pub kind: LdapGroupKind,
    /// Seed users' uids.
    pub members: Vec<String>,
    /// Other seed groups' CNs (not for `Posix`).
    pub member_groups: Vec<String>,
}

impl LdapSeedGroup {
    pub fn new(cn: &str, kind: LdapGroupKind, members: &[&str], member_groups: &[&str]) -> Self {
        LdapSeedGroup {
            cn: cn.into(),
            kind,
            members: members.iter().map(|m| m.to_string()).collect(),
            member_groups: member_groups.iter().map(|m| m.to_string()).collect(),
        }
    }
}

/// A running slapd. Killed on drop.
#[derive(Debug)]
pub struct Slapd {
    child: Option<Child>,
    port: u16,
    service_password: String,
    admin_password: String,
    dir: TempDir,
}

/// The directory's suffix.
pub const BASE_DN: &str = "dc=example,dc=test";
/// The attribute holding seeded birth dates.
pub const BIRTH_DATE_ATTRIBUTE: &str = "reclaimBirthDate";

impl Slapd {
    /// Builds the configuration and data with slapadd and starts slapd (well under 1 s).
    pub fn start(seed: &[LdapSeedUser]) -> Result<Slapd, String> {
        Slapd::start_with_groups(seed, &[])
    }

    /// [`Slapd::start`] with groups in `ou=groups` as well.
    pub fn start_with_groups(
        seed: &[LdapSeedUser],
        groups: &[LdapSeedGroup],
    ) -> Result<Slapd, String> {
        let dir = TempDir::new("slapd")?;
        let service_password = secret("svc");
        let admin_password = secret("admin");
        let config_dir = dir.path().join("slapd.d");
        let data_dir = dir.path().join("data");
        for d in [&config_dir, &data_dir] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let config = config_ldif(dir.path(), &hash(&admin_password)?);
        let config_file = dir.path().join("config.ldif");
        std::fs::write(&config_file, config).map_err(|e| e.to_string())?;
        slapadd(0, &config_dir, &config_file)?;
        let mut data = data_ldif(seed, &hash(&service_password)?)?;
        data.push_str(&groups_ldif(groups)?);
        let data_file = dir.path().join("data.ldif");
        std::fs::write(&data_file, data).map_err(|e| e.to_string())?;
        slapadd(1, &config_dir, &data_file)?;
        let mut slapd = Slapd {
            child: None,
            port: 0,
            service_password,
            admin_password,
            dir,
        };
        let mut last = String::new();
        for _ in 0..3 {
            slapd.port = free_port()?;
            match slapd.resume() {
                Ok(()) => return Ok(slapd),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// `ldap://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_dn(&self) -> &'static str {
        BASE_DN
    }

    pub fn people_dn(&self) -> String {
        format!("ou=people,{BASE_DN}")
    }

    /// The service account Reclaim binds as: may read people, reset `userPassword` and
    /// clear `pwdAccountLockedTime` / `pwdFailureTime` (manage, used with the Relax
    /// control), nothing else. It has its own policy without lockout.
    pub fn service_dn(&self) -> String {
        format!("cn=reclaim,ou=services,{BASE_DN}")
    }

    pub fn service_password(&self) -> &str {
        &self.service_password
    }

    /// The rootdn, for tests that inspect what the service account may not read.
    pub fn admin_dn(&self) -> String {
        format!("cn=admin,{BASE_DN}")
    }

    pub fn admin_password(&self) -> &str {
        &self.admin_password
    }

    pub fn user_dn(&self, uid: &str) -> String {
        format!("uid={uid},ou=people,{BASE_DN}")
    }

    /// Where the groups are; the service account may read them.
    pub fn groups_dn(&self) -> String {
        format!("ou=groups,{BASE_DN}")
    }

    /// The DN of the group with this CN (escaped per RFC 4514).
    pub fn group_dn(&self, cn: &str) -> String {
        group_dn(cn)
    }

    pub fn birth_date_attribute(&self) -> &'static str {
        BIRTH_DATE_ATTRIBUTE
    }

    /// The slapd process id while it runs (tests pause it with SIGSTOP to play a hung
    /// directory).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills slapd (data is kept); connections fail from now on.
    pub fn stop(&mut self) {
        stop_server(&mut self.child);
    }

    /// Starts a stopped slapd again on the same port.
    pub fn resume(&mut self) -> Result<(), String> {
        if self.child.is_some() {
            return Ok(());
        }
        let mut cmd = Command::new("slapd");
        cmd.arg("-F")
            .arg(self.dir.path().join("slapd.d"))
            .arg("-h")
            .arg(self.url())
            .arg("-d")
            .arg("0");
        let log = self.dir.path().join("slapd.log");
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("slapd: {e}"))?;
        let url = self.url();
        await_server(&mut child, &log, Duration::from_secs(10), || {
            succeeds(Command::new("ldapsearch").args([
                "-x",
                "-H",
                &url,
                "-b",
                "",
                "-s",
                "base",
                "-o",
                "nettimeout=1",
            ]))
        })
        .map_err(|log| format!("slapd did not start: {log}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// The temp dir holding config, data and `slapd.log`.
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

/// Loads the LDIF `file` into database `n` of the configuration in `config_dir`
/// (0 is the configuration itself), before slapd runs.
fn slapadd(n: u32, config_dir: &Path, file: &Path) -> Result<(), String> {
    run(Command::new("slapadd")
        .arg(format!("-n{n}"))
        .arg("-F")
        .arg(config_dir)
        .arg("-l")
        .arg(file))
    .map(drop)
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn hash(password: &str) -> Result<String, String> {
    let out = run(Command::new("slappasswd")
        .arg("-h")
        .arg("{SSHA}")
        .arg("-s")
        .arg(password))?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn config_ldif(dir: &std::path::Path, admin_hash: &str) -> String {
    let dir = dir.display();
    let service = format!("cn=reclaim,ou=services,{BASE_DN}");
    format!(
        r#"dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: {dir}/slapd.pid
olcArgsFile: {dir}/slapd.args

dn: cn=module{{0}},cn=config
objectClass: olcModuleList
cn: module{{0}}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/nis.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: cn=reclaim,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: reclaim
olcAttributeTypes: ( 1.3.6.1.4.1.32473.1.1 NAME '{BIRTH_DATE_ATTRIBUTE}' DESC 'Test schema: ISO 8601 birth date' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcObjectClasses: ( 1.3.6.1.4.1.32473.2.1 NAME 'reclaimPerson' DESC 'Test schema' AUXILIARY MAY {BIRTH_DATE_ATTRIBUTE} )

dn: olcDatabase={{-1}}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {{-1}}frontend
olcAccess: {{0}}to dn.base="" by * read
olcAccess: {{1}}to dn.base="cn=Subschema" by * read

dn: olcDatabase={{0}}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {{0}}config
olcAccess: {{0}}to * by * none

dn: olcDatabase={{1}}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {{1}}mdb
olcSuffix: {BASE_DN}
olcRootDN: cn=admin,{BASE_DN}
olcRootPW: {admin_hash}
olcDbDirectory: {dir}/data
olcDbMaxSize: 67108864
olcDbIndex: objectClass eq
olcDbIndex: uid,mail eq
olcAccess: {{0}}to attrs=userPassword by dn.exact="{service}" =w by self =w by anonymous auth by * none
olcAccess: {{1}}to attrs=pwdAccountLockedTime,pwdFailureTime by dn.exact="{service}" manage by * none
olcAccess: {{2}}to dn.subtree="ou=people,{BASE_DN}" by dn.exact="{service}" read by self read by * none
olcAccess: {{3}}to dn.subtree="ou=groups,{BASE_DN}" by dn.exact="{service}" read by * none
olcAccess: {{4}}to * by * none

dn: olcOverlay={{0}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{0}}ppolicy
olcPPolicyDefault: cn=default,ou=policies,{BASE_DN}
olcPPolicyHashCleartext: TRUE
olcPPolicyUseLockout: TRUE
"#
    )
}

fn data_ldif(seed: &[LdapSeedUser], service_hash: &str) -> Result<String, String> {
    let mut s = format!(
        r#"dn: {BASE_DN}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,{BASE_DN}
objectClass: organizationalUnit
ou: people

dn: ou=groups,{BASE_DN}
objectClass: organizationalUnit
ou: groups

dn: ou=services,{BASE_DN}
objectClass: organizationalUnit
ou: services

dn: ou=policies,{BASE_DN}
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,{BASE_DN}
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMinLength: 12
pwdCheckQuality: 2
pwdInHistory: 5
pwdMaxFailure: 3
pwdLockout: TRUE
pwdLockoutDuration: 0
pwdMinAge: 0
pwdMustChange: FALSE
pwdAllowUserChange: TRUE
pwdSafeModify: FALSE

dn: cn=services,ou=policies,{BASE_DN}
objectClass: device
objectClass: pwdPolicy
cn: services
pwdAttribute: userPassword
pwdLockout: FALSE
pwdMaxFailure: 0

dn: cn=reclaim,ou=services,{BASE_DN}
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: reclaim
userPassword: {service_hash}
pwdPolicySubentry: cn=services,ou=policies,{BASE_DN}
"#
    );
    for u in seed {
        let valid = |v: &str| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-@ ".contains(c))
        };
        if !valid(&u.uid) || !valid(&u.given_name) || !valid(&u.surname) {
            return Err(format!("seed user {:?}: use plain ASCII names", u.uid));
        }
        let _ = write!(
            s,
            "\ndn: uid={uid},ou=people,{BASE_DN}\nobjectClass: inetOrgPerson\nobjectClass: reclaimPerson\nuid: {uid}\ncn: {g} {sn}\ngivenName: {g}\nsn: {sn}\ndisplayName: {g} {sn}\nuserPassword: {pw}\n",
            uid = u.uid,
            g = u.given_name,
            sn = u.surname,
            pw = hash(&u.password)?
        );
        if let Some(m) = &u.mail {
            let _ = writeln!(s, "mail: {m}");
        }
        if let Some(b) = &u.birth_date {
            let _ = writeln!(s, "{BIRTH_DATE_ATTRIBUTE}: {b}");
        }
    }
    Ok(s)
}

fn group_dn(cn: &str) -> String {
    // RFC 4514 2.4: these characters anywhere, a space or `#` first, a space last.
    let mut escaped = String::new();
    for (i, c) in cn.chars().enumerate() {
        if "\\,+\"<>;=".contains(c)
            || (i == 0 && (c == ' ' || c == '#'))
            || (i == cn.chars().count() - 1 && c == ' ')
        {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("cn={escaped},ou=groups,{BASE_DN}")
}

fn groups_ldif(groups: &[LdapSeedGroup]) -> Result<String, String> {
    let mut s = String::new();
    for (i, g) in groups.iter().enumerate() {
        // LDIF would need base64 for a value that starts with a space, `:` or `<`.
        if g.cn.starts_with([' ', ':', '<'])
            || !g.cn.chars().all(|c| c.is_ascii_graphic() || c == ' ')
        {
            return Err(format!("seed group {:?}: use printable ASCII", g.cn));
        }
        let (class, attribute) = match g.kind {
            LdapGroupKind::Names => ("groupOfNames", "member"),
            LdapGroupKind::UniqueNames => ("groupOfUniqueNames", "uniqueMember"),
            LdapGroupKind::Posix => ("posixGroup", "memberUid"),
        };
        let _ = write!(
            s,
            "\ndn: {}\nobjectClass: {class}\ncn: {}\n",
            group_dn(&g.cn),
            g.cn
        );
        if g.kind == LdapGroupKind::Posix {
            if !g.member_groups.is_empty() {
                return Err(format!(
                    "seed group {:?}: a posixGroup holds no groups",
                    g.cn
                ));
            }
            let _ = writeln!(s, "gidNumber: {}", 10_000 + i);
            for m in &g.members {
                let _ = writeln!(s, "memberUid: {m}");
            }
            continue;
        }
        if g.members.is_empty() && g.member_groups.is_empty() {
            return Err(format!("seed group {:?}: {class} needs a member", g.cn));
        }
        for m in &g.members {
            let _ = writeln!(s, "{attribute}: uid={m},ou=people,{BASE_DN}");
        }
        for m in &g.member_groups {
            let _ = writeln!(s, "{attribute}: {}", group_dn(m));
        }
    }
    Ok(s)
}
