//! A throwaway PostgreSQL cluster: `initdb` in a temp dir, `pg_ctl` on a free port, a
//! `reclaim` role and database with a password, stopped on drop. And one cluster shared by
//! a whole test binary, with TLS on ([`SharedPostgres`]), where each test makes a database
//! of its own: a cold CI run starts one server instead of one per test.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::{
    as_user, await_server, free_port, is_root, run, secret, spawn_server, succeeds, TempDir,
};

/// A running PostgreSQL server with a `reclaim` database owned by the `reclaim` role.
#[derive(Debug)]
pub struct Postgres {
    bin: PathBuf,
    // Declared after the fields used by Drop; the directory goes last.
    data: PathBuf,
    sockets: PathBuf,
    port: u16,
    password: String,
    running: bool,
    dir: TempDir,
}

const SYSTEM_USER: &str = "postgres";

impl Postgres {
    /// Creates a cluster and starts it on a free port of 127.0.0.1 (about 1.5 s).
    pub fn start() -> Result<Postgres, String> {
        let (bin, dir, data, sockets) = init_cluster()?;
        let mut pg = Postgres {
            bin,
            data,
            sockets,
            port: 0,
            password: secret("pg"),
            running: false,
            dir,
        };
        let mut last = String::new();
        // The port is free when chosen but may be taken before the server binds it.
        for _ in 0..3 {
            pg.port = free_port()?;
            match pg.resume() {
                Ok(()) => {
                    last.clear();
                    break;
                }
                Err(e) => last = e,
            }
        }
        if !last.is_empty() {
            return Err(last);
        }
        pg.psql(&format!(
            "CREATE ROLE reclaim LOGIN PASSWORD '{}'",
            pg.password
        ))?;
        pg.psql("CREATE DATABASE reclaim OWNER reclaim")?;
        Ok(pg)
    }

    /// `postgres://reclaim:PASSWORD@127.0.0.1:PORT/reclaim`.
    pub fn url(&self) -> String {
        format!(
            "postgres://reclaim:{}@127.0.0.1:{}/reclaim",
            self.password, self.port
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `reclaim` role's password.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Stops the server (fast shutdown: open connections are cut). Data is kept.
    pub fn stop(&mut self) -> Result<(), String> {
        if !self.running {
            return Ok(());
        }
        run(as_user(SYSTEM_USER, &self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("-m")
            .arg("fast")
            .arg("-w")
            .arg("stop"))?;
        self.running = false;
        Ok(())
    }

    /// Starts a stopped server again on the same port and data directory.
    pub fn resume(&mut self) -> Result<(), String> {
        if self.running {
            return Ok(());
        }
        run(as_user(SYSTEM_USER, &self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .arg("-o")
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -k {}",
                self.port,
                self.sockets.display()
            ))
            .arg("-w")
            .arg("-t")
            .arg("30")
            .arg("start"))
        .map_err(|e| format!("{e}\nserver log:\n{}", self.log()))?;
        self.running = true;
        Ok(())
    }

    /// Stop then start, same port and data: what the server's fault tests use to cut
    /// every connection at once.
    pub fn restart(&mut self) -> Result<(), String> {
        self.stop()?;
        self.resume()
    }

    /// Runs one SQL statement as the `postgres` superuser over the private socket.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let out = run(&mut psql(&self.bin, &self.sockets, self.port, sql))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.running {
            let _ = run(as_user(SYSTEM_USER, &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-m")
                .arg("immediate")
                .arg("-w")
                .arg("stop"));
        }
    }
}

/// `initdb` in a new temp dir: the binaries, the dir, the data and the sockets directory.
fn init_cluster() -> Result<(PathBuf, TempDir, PathBuf, PathBuf), String> {
    let bin = bin_dir()?;
    let dir = TempDir::new("postgres")?;
    let data = dir.path().join("data");
    let sockets = dir.path().join("sockets");
    std::fs::create_dir_all(&sockets).map_err(|e| e.to_string())?;
    if is_root() {
        // initdb refuses root, so the cluster belongs to the postgres system user.
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{SYSTEM_USER}:{SYSTEM_USER}"))
            .arg(dir.path()))?;
    }
    run(as_user(SYSTEM_USER, &bin.join("initdb"))
        .arg("-N")
        .arg("-D")
        .arg(&data)
        .arg("-U")
        .arg("postgres")
        // Local socket connections (only this test's own psql, in a private dir) are
        // trusted; TCP needs the password, as the application's connections will.
        .arg("--auth-local=trust")
        .arg("--auth-host=scram-sha-256")
        .arg("-E")
        .arg("UTF8")
        .arg("--locale=C"))?;
    Ok((bin, dir, data, sockets))
}

/// `psql` as the `postgres` superuser over the private socket, running `sql`.
fn psql(bin: &Path, sockets: &Path, port: u16, sql: &str) -> Command {
    let mut c = as_user(SYSTEM_USER, &bin.join("psql"));
    c.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(sockets)
        .arg("-p")
        .arg(port.to_string())
        .args(["-U", "postgres", "-d", "postgres", "-c", sql]);
    c
}

/// One PostgreSQL cluster for a whole test binary, with TLS on: a certificate for
/// `127.0.0.1` and `localhost` issued by a CA made at start ([`SharedPostgres::ca_file`]),
/// and a second CA that issued nothing it serves ([`SharedPostgres::other_ca_file`]).
/// Each test takes a database of its own ([`SharedPostgres::database`]). Its postmaster
/// runs in the foreground under the testkit's parent-death signal, so it dies with the
/// test process although the handle, in a `static`, is never dropped.
#[derive(Debug)]
pub struct SharedPostgres {
    bin: PathBuf,
    sockets: PathBuf,
    port: u16,
    password: String,
    _child: Mutex<Child>,
    dir: TempDir,
}

impl SharedPostgres {
    /// Started on first use (about 2 s).
    pub fn get() -> Result<&'static SharedPostgres, String> {
        static SHARED: OnceLock<Result<SharedPostgres, String>> = OnceLock::new();
        SHARED
            .get_or_init(SharedPostgres::start)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn start() -> Result<SharedPostgres, String> {
        let (bin, dir, data, sockets) = init_cluster()?;
        let tls = dir.path().join("tls");
        let other = dir.path().join("other");
        for d in [&tls, &other] {
            std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
            crate::rsyslog::make_certificates(d)?;
        }
        if is_root() {
            // The server reads its key as the postgres user, and wants it private.
            run(Command::new("chown")
                .arg("-R")
                .arg(format!("{SYSTEM_USER}:{SYSTEM_USER}"))
                .arg(&tls))?;
        }
        run(Command::new("chmod")
            .arg("0600")
            .arg(tls.join("server.key")))?;
        let mut last = String::new();
        // The port is free when chosen but may be taken before the server binds it.
        for _ in 0..3 {
            let port = free_port()?;
            let mut cmd = if is_root() {
                // setpriv, not runuser: runuser forks, and the parent-death signal would
                // then kill runuser and leave the postmaster running. The signal is set
                // again after the change of user, which clears it.
                let mut c = Command::new("setpriv");
                c.args([
                    "--reuid",
                    SYSTEM_USER,
                    "--regid",
                    SYSTEM_USER,
                    "--clear-groups",
                ])
                .args(["--pdeathsig", "KILL", "--"])
                .arg(bin.join("postgres"));
                c
            } else {
                Command::new(bin.join("postgres"))
            };
            cmd.arg("-D")
                .arg(&data)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(&sockets)
                .args(["-c", "listen_addresses=127.0.0.1", "-c", "ssl=on"])
                .arg("-c")
                .arg(format!(
                    "ssl_cert_file={}",
                    tls.join("server.pem").display()
                ))
                .arg("-c")
                .arg(format!("ssl_key_file={}", tls.join("server.key").display()));
            let log = dir.path().join(format!("server-{port}.log"));
            let mut child = spawn_server(cmd, &log).map_err(|e| format!("postgres: {e}"))?;
            let ready = await_server(&mut child, &log, Duration::from_secs(30), || {
                succeeds(&mut psql(&bin, &sockets, port, "SELECT 1"))
            });
            match ready {
                Ok(()) => {
                    let pg = SharedPostgres {
                        bin,
                        sockets,
                        port,
                        password: secret("pg"),
                        _child: Mutex::new(child),
                        dir,
                    };
                    pg.psql(&format!(
                        "CREATE ROLE reclaim LOGIN PASSWORD '{}'",
                        pg.password
                    ))?;
                    return Ok(pg);
                }
                Err(log) => last = format!("postgres did not start: {log}"),
            }
        }
        Err(last)
    }

    /// A new database owned by the `reclaim` role, named after `name` (made unique), and
    /// its URL: `postgres://reclaim:PASSWORD@127.0.0.1:PORT/DB`, without TLS settings.
    pub fn database(&self, name: &str) -> Result<String, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let clean: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let db = format!("t{}_{clean}", N.fetch_add(1, Ordering::Relaxed));
        self.psql(&format!("CREATE DATABASE {db} OWNER reclaim"))?;
        Ok(format!(
            "postgres://reclaim:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        ))
    }

    /// The CA that issued the server's certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("tls/ca.pem")
    }

    /// A CA that issued nothing this server presents (PEM).
    pub fn other_ca_file(&self) -> PathBuf {
        self.dir.path().join("other/ca.pem")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs one SQL statement as the `postgres` superuser over the private socket.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        let out = run(&mut psql(&self.bin, &self.sockets, self.port, sql))?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian), else the directory of `initdb` on PATH.
fn bin_dir() -> Result<PathBuf, String> {
    let mut best: Option<(u32, PathBuf)> = None;
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        for e in entries.flatten() {
            let Ok(v) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let bin = e.path().join("bin");
            if bin.join("initdb").exists() && best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, bin));
            }
        }
    }
    if let Some((_, bin)) = best {
        return Ok(bin);
    }
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|p| p.join("initdb"))
        .find(|p| p.exists())
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .ok_or_else(|| "PostgreSQL not found (apt-get install postgresql)".to_string())
}
