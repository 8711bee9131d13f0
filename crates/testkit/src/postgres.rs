//! A throwaway PostgreSQL cluster: `initdb` in a temp dir, `pg_ctl` on a free port, a
//! `reclaim` role and database with a password, stopped on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{as_user, free_port, is_root, run, secret, TempDir};

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
        let out = run(as_user(SYSTEM_USER, &self.bin.join("psql"))
            .arg("-X")
            .arg("-q")
            .arg("-A")
            .arg("-t")
            .arg("-v")
            .arg("ON_ERROR_STOP=1")
            .arg("-h")
            .arg(&self.sockets)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-U")
            .arg("postgres")
            .arg("-d")
            .arg("postgres")
            .arg("-c")
            .arg(sql))?;
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
