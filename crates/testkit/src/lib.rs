//! Real servers for Reclaim's tests: PostgreSQL, OpenLDAP with the password-policy overlay,
//! a Samba Active Directory domain controller, an rsyslog collector (plain TCP or TLS), an OpenID provider
//! (`oidc-provider` on Node), and a Secret Service (gnome-keyring) on a
//! D-Bus bus of its own (with the feature `secret-service`), each started as a child process in a temporary directory and
//! stopped when its handle is dropped.
//!
//! Tests talk to the same software production talks to, so a connector or a storage layer
//! that passes here has been exercised against the real protocol and the real policy
//! engine, not against our idea of it. The API is synchronous and std-only on purpose: it
//! is called from `#[test]` and `#[tokio::test]` alike.
//!
//! It starts servers and nothing else (no engine, no generators: `reclaim-fixtures` makes
//! what the tests show the app), so a crate that needs a server builds little to get one.

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub mod duo_server;
pub mod graph_double;
mod oidc;
mod okta_double;
mod postgres;
pub mod prism;
pub mod rsyslog;
mod samba;
#[cfg(feature = "secret-service")]
mod secret_service;
mod slapd;
pub mod smtp;
pub mod swtpm;
#[cfg(feature = "webauthn")]
pub mod webauthn;
#[cfg(feature = "webdriver")]
pub mod webdriver;

pub use graph_double::{GraphDouble, GRAPH_SUBSET};
pub use oidc::{oidc_provider_dir, OidcCallback, OidcProvider, OIDC_ACCOUNTS, OIDC_PASSWORD_ONLY};
pub use okta_double::OktaDouble;
pub use postgres::{Postgres, SharedPostgres};
pub use prism::{vendors_dir, Prism};
pub use rsyslog::{Rsyslog, SyslogLine};
pub use samba::{
    AdUser, SambaDc, LOCKOUT_THRESHOLD as SAMBA_LOCKOUT_THRESHOLD, NESTED_ADMINS_GROUP,
};
#[cfg(feature = "secret-service")]
pub use secret_service::SecretService;
pub use slapd::{LdapGroupKind, LdapSeedGroup, LdapSeedUser, Slapd};
pub use smtp::{Mail, SmtpSink};
#[cfg(feature = "webauthn")]
pub use webauthn::SoftAuthenticator;
#[cfg(feature = "webdriver")]
pub use webdriver::{Chromedriver, WebDriverSession};

/// A directory under the system temp dir, removed (with everything in it) on drop.
#[derive(Debug)]
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(kind: &str) -> Result<TempDir, String> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(remove_stale_dirs);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "reclaim-testkit-{kind}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(TempDir { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Removes directories left by test processes that are gone. A server held in a `static`
/// is never dropped, and a killed test binary drops nothing, so their directories would
/// otherwise pile up in /tmp.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("reclaim-testkit-") else {
            continue;
        };
        // reclaim-testkit-KIND-PID-COUNTER-NANOS
        let pid = rest.split('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// A TCP port that was free on 127.0.0.1 a moment ago. Another process may take it before
/// the server binds it; callers that can retry do.
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Runs a command to completion; an error carries the command's stderr so a failing setup
/// says why.
pub(crate) fn run(cmd: &mut Command) -> Result<Output, String> {
    let what = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(out)
}

/// Polls `ready` until it holds or `limit` passes.
pub(crate) fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits up to `limit` for a just-spawned server to answer `probe`. A server that exits
/// first, or never answers, is killed and reaped, and the error is its log (whose last
/// lines usually say why), for the caller to put in its own message.
pub(crate) fn await_server(
    child: &mut Child,
    log: &Path,
    limit: Duration,
    mut probe: impl FnMut() -> bool,
) -> Result<(), String> {
    // An exited server ends the wait at once: polling it for the rest of `limit` would
    // only delay the error.
    let ready = wait_for(limit, || matches!(child.try_wait(), Ok(Some(_))) || probe());
    let exited = matches!(child.try_wait(), Ok(Some(_)));
    if !ready || exited {
        kill_and_wait(child);
        return Err(std::fs::read_to_string(log).unwrap_or_default());
    }
    Ok(())
}

/// Whether `cmd` runs and exits successfully (a readiness probe: why it failed does not
/// matter while the server is still coming up).
pub(crate) fn succeeds(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns a long-running server so that it dies with the test process.
///
/// The child is started under `setpriv --pdeathsig KILL`, and the parent-death signal fires
/// when the *thread* that forked it ends. Test threads end after every test, so every
/// server is forked from one keeper thread that lives as long as the process: a server held
/// in a `static` (never dropped) or left behind by a panic or a killed test binary is still
/// killed, instead of holding ports for the next run.
pub(crate) fn spawn_server(cmd: Command, log: &Path) -> io::Result<Child> {
    spawn_server_fed(cmd, log, None)
}

/// [`spawn_server`] with standard input read from the file `input`.
pub(crate) fn spawn_server_fed(
    cmd: Command,
    log: &Path,
    input: Option<&Path>,
) -> io::Result<Child> {
    static KEEPER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("reclaim-testkit-keeper".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(cmd.spawn());
                }
                // The sender lives in a static, so this is never reached while the process
                // runs; parking keeps the thread alive regardless.
                loop {
                    std::thread::park();
                }
            })
            .map(|_| ())
            .unwrap_or(());
        Mutex::new(tx)
    });
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let mut wrapped = Command::new("setpriv");
    wrapped
        .arg("--pdeathsig")
        .arg("KILL")
        .arg("--")
        .arg(program)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    let out = std::fs::File::create(log)?;
    let err = out.try_clone()?;
    let stdin = match input {
        Some(path) => std::process::Stdio::from(std::fs::File::open(path)?),
        None => std::process::Stdio::null(),
    };
    wrapped.stdin(stdin).stdout(out).stderr(err);
    let (tx, rx) = mpsc::channel();
    keeper
        .lock()
        .map_err(|_| io::Error::other("testkit keeper poisoned"))?
        .send((wrapped, tx))
        .map_err(|_| io::Error::other("testkit keeper thread is gone"))?;
    rx.recv()
        .map_err(|_| io::Error::other("testkit keeper thread is gone"))?
}

/// Kills a child server and reaps it, so its ports and files are free when this returns.
pub(crate) fn kill_and_wait(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Kills and reaps the server in `slot` if one runs, leaving the slot empty.
pub(crate) fn stop_server(slot: &mut Option<Child>) {
    if let Some(mut c) = slot.take() {
        kill_and_wait(&mut c);
    }
}

/// Runs `program` as the `postgres` system user when we are root (initdb refuses to run
/// as root), directly otherwise.
pub(crate) fn as_user(user: &str, program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg(user).arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A random-enough secret for a throwaway server (not for production use).
pub(crate) fn secret(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    format!("{prefix}-{:016x}-Aa1!", h.finish())
}
