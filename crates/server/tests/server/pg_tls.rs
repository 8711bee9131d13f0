//! TLS to PostgreSQL (issue 17): `sslmode=verify-full` with the CA that signed the
//! server's certificate connects, encrypted; another CA is refused; and a PostgreSQL on
//! another machine asked for without a checked certificate is refused at start, before
//! any connection, unless the configuration opts out in so many words. Against one real
//! PostgreSQL with `ssl=on` shared by the test binary. Before the fix the driver was built
//! without TLS, and every `sslmode=verify-*` URL failed.

use reclaim_server::store::Store;
use reclaim_server::{App, Config};
use reclaim_testkit::SharedPostgres;
use sqlx::Row as _;

use crate::harness::TempDir;

fn tls_url(base: &str, mode: &str, ca: &std::path::Path) -> String {
    format!("{base}?sslmode={mode}&sslrootcert={}", ca.display())
}

#[tokio::test]
async fn verify_full_with_the_right_ca_connects_encrypted_and_another_ca_is_refused() {
    let pg = SharedPostgres::get().expect("PostgreSQL starts");
    let base = pg.database("tls").unwrap();
    for mode in ["verify-full", "verify-ca"] {
        let store = Store::open(&tls_url(&base, mode, &pg.ca_file()), 2)
            .await
            .unwrap_or_else(|e| panic!("{mode} with the right CA: {e}"));
        let ssl: bool = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&store.pool)
            .await
            .unwrap()
            .get(0);
        assert!(ssl, "{mode}: the connection is not encrypted");
        store.pool.close().await;
    }
    for mode in ["verify-full", "verify-ca"] {
        let refused = Store::open(&tls_url(&base, mode, &pg.other_ca_file()), 2)
            .await
            .expect_err("a server whose certificate another CA signed is refused");
        let message = refused.to_string();
        assert!(
            message.to_lowercase().contains("certificate"),
            "{mode}: {message}"
        );
    }
}

fn config(dir: &std::path::Path, url: &str, extra: &str) -> Config {
    Config::parse(&format!(
        "public_url = \"https://reclaim.example.test\"\ndata_key_file = \"{}\"\nreverify = false\n\
         [database]\nurl = \"{url}\"\n{extra}\n[directory]\nkind = \"demo\"\nfile = \"{}\"\n",
        dir.join("data.key").display(),
        dir.join("dir.json").display()
    ))
    .unwrap()
}

#[tokio::test]
async fn a_remote_postgres_without_a_checked_certificate_is_refused_at_start() {
    let dir = TempDir::new();
    for url in [
        "postgres://reclaim:s3cret-pw@db.example.test:5432/reclaim",
        "postgres://reclaim:s3cret-pw@192.0.2.10/reclaim?sslmode=require",
    ] {
        let refused = App::open(config(dir.path(), url, ""))
            .await
            .err()
            .expect("refused")
            .to_string();
        assert!(
            refused.contains("sslmode=verify-full") && refused.contains("allow_insecure_transport"),
            "{refused}"
        );
        assert!(!refused.contains("s3cret-pw"), "{refused}");
        // Refused before connecting: no key was made either.
        assert!(!dir.path().join("data.key").exists());
    }
    // A loopback server in plaintext is still fine (the same machine).
    let pg = SharedPostgres::get().expect("PostgreSQL starts");
    let local = pg.database("plain").unwrap();
    let app = App::open(config(dir.path(), &local, ""))
        .await
        .expect("a loopback PostgreSQL without TLS");
    drop(app);
}
