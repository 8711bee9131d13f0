//! The database: SQLite (one file, WAL) by default, PostgreSQL for several instances.
//!
//! Every piece of state lives here, so instances are stateless. One set of migrations
//! and one set of queries serves both engines: columns are TEXT and BIGINT only,
//! placeholders are `$1`-style (which SQLite also understands), and every change that
//! must happen once is a single conditional statement (`UPDATE ... WHERE state = ...`)
//! whose affected-row count says who won, which both engines make atomic.
//!
//! Every query of the crate lives here, with its table (a test, `layers.rs`, keeps it so):
//! this module holds the pool, the migrations and the schema's bookkeeping, and each
//! submodule one model: [`devices`], [`hardware`] (TPM registrations waiting for their
//! proof), [`sessions`], [`templates`], [`reviews`], [`resets`] (grants), [`notices`]
//! (mails, links, refusal series, self-service locks), [`limits`], [`replay`] (kept
//! captures), [`audit`] (the chain's rows) and [`siem`] (how far each SIEM sink got).
//! They take and return typed values; what the rows mean is the business of the modules
//! above.

use reclaim_protocol::Code;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

/// A statement with its parameters bound in order (`$1`, `$2`, ...):
/// `bound!("UPDATE t SET a = $1 WHERE id = $2"; a, id)` is
/// `sqlx::query(...).bind(a).bind(id)`, so the SQL and what fills it read together.
macro_rules! bound {
    ($sql:expr; $($arg:expr),+ $(,)?) => {
        sqlx::query($sql)$(.bind($arg))+
    };
}

pub mod admin;
pub mod audit;
pub mod datakey;
pub mod devices;
pub mod hardware;
pub mod idv;
pub mod limits;
pub mod local_admins;
pub mod notices;
pub mod replay;
pub mod resets;
pub mod reviews;
pub mod sessions;
pub mod siem;
pub mod templates;
pub mod tls;

/// A transaction, for changes that must commit together.
pub type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub fn code(&self) -> Code {
        Code::DatabaseUnavailable
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// The migrations, in order. Each runs once, inside a transaction.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_init.sql")),
    (2, include_str!("../../migrations/0002_notifications.sql")),
    (3, include_str!("../../migrations/0003_trust.sql")),
    (4, include_str!("../../migrations/0004_limits.sql")),
    (5, include_str!("../../migrations/0005_audit.sql")),
    (6, include_str!("../../migrations/0006_reset_failures.sql")),
    (7, include_str!("../../migrations/0007_replay_sessions.sql")),
    (8, include_str!("../../migrations/0008_siem.sql")),
    (9, include_str!("../../migrations/0009_console.sql")),
    (10, include_str!("../../migrations/0010_console_pages.sql")),
    (11, include_str!("../../migrations/0011_local_admins.sql")),
    (
        12,
        include_str!("../../migrations/0012_review_pictures.sql"),
    ),
    (13, include_str!("../../migrations/0013_data_key.sql")),
    (14, include_str!("../../migrations/0014_sign_in_codes.sql")),
    (15, include_str!("../../migrations/0015_idv.sql")),
    (16, include_str!("../../migrations/0016_light.sql")),
];

#[derive(Debug, Clone)]
pub struct Store {
    /// For reads.
    pub pool: AnyPool,
    /// For writes. On SQLite, one connection: SQLite has one writer at a time anyway, and
    /// queueing here (in order, without polling) is far faster than letting connections
    /// collide and back off in SQLite's busy handler. On PostgreSQL, the same pool.
    pub writer: AnyPool,
    pub kind: DatabaseKind,
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        let store = Store::connect(url, max_connections, false).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without touching the schema, for `reclaim serve --check`: a SQLite file
    /// is not created, and only read (`mode=rw`, not `ro`: a WAL database's readers need
    /// its shared-memory file, which a read-only open cannot create).
    pub async fn probe(url: &str) -> Result<Store, StoreError> {
        Store::connect(url, 1, true).await
    }

    async fn connect(
        url: &str,
        max_connections: u32,
        read_only: bool,
    ) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let kind = if url.starts_with("sqlite:") {
            DatabaseKind::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            DatabaseKind::Postgres
        } else {
            return Err(StoreError::Config(
                "database.url must start with sqlite: or postgres:".into(),
            ));
        };
        let url = match kind {
            DatabaseKind::Sqlite if read_only && !url.contains('?') => format!("{url}?mode=rw"),
            // Create the file when it is missing.
            DatabaseKind::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Config(redact(&e.to_string())))?
            .disable_statement_logging();
        let pool_options = |connections: u32, writer: bool| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _meta| {
                    Box::pin(async move {
                        if kind == DatabaseKind::Sqlite && !read_only {
                            // WAL lets readers run beside the writer; NORMAL keeps every
                            // commit through a process crash (not a power cut), and the busy
                            // timeout makes writers queue instead of failing.
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            // Deleted rows are overwritten, not left in free pages:
                            // evidence a closed case destroyed is gone from the file.
                            conn.execute("PRAGMA secure_delete = ON").await?;
                            if writer {
                                // Checkpoints are not run by the committing writer (which
                                // would stall every request queued behind it) but in the
                                // background, from a reader (`Store::checkpoint`).
                                conn.execute("PRAGMA wal_autocheckpoint = 0").await?;
                            }
                        }
                        Ok(())
                    })
                })
        };
        let pool = pool_options(max_connections.max(1), false)
            .connect_with(options.clone())
            .await?;
        let writer = match kind {
            DatabaseKind::Sqlite if !read_only => {
                pool_options(1, true).connect_with(options).await?
            }
            _ => pool.clone(),
        };
        Ok(Store { pool, writer, kind })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        self.writer
            .execute(
                "CREATE TABLE IF NOT EXISTS reclaim_schema (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
            )
            .await?;
        for (version, sql) in MIGRATIONS {
            let mut tx = self.writer.begin().await?;
            // Claiming the version first makes two instances starting together safe: the
            // second one's insert fails on the key (or waits for the first), and it skips.
            let claimed = bound!(
                "INSERT INTO reclaim_schema (version, applied_at) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING";
                *version, now()
            )
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed == 0 {
                tx.rollback().await?;
                continue;
            }
            for statement in sql.split("\n;\n") {
                let statement = strip_comments(statement);
                if !statement.trim().is_empty() {
                    tx.execute(statement.as_str()).await?;
                }
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// Copies the SQLite write-ahead log into the database without blocking the writer
    /// (PASSIVE); the background worker calls it every few seconds. Nothing on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.kind == DatabaseKind::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Starts a transaction on the writer.
    pub async fn begin(&self) -> Result<Tx<'static>, StoreError> {
        Ok(self.writer.begin().await?)
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

fn strip_comments(statement: &str) -> String {
    statement
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Keeps a database password out of an error message.
fn redact(message: &str) -> String {
    match (message.find("://"), message.find('@')) {
        (Some(a), Some(b)) if b > a => format!("{}://…{}", &message[..a], &message[b..]),
        _ => message.to_string(),
    }
}

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
