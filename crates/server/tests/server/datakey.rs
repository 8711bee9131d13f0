//! The data key and the database it sealed (issue 17). A first start on an empty database
//! makes the key; a start whose key file is gone (a restore that missed it, a wrong path)
//! or holds another key is refused with a sentence naming the file and saying to restore
//! it from the backup, and nothing is made in its place; the right key starts again. On
//! SQLite and on PostgreSQL (over verified TLS). Before the fix, the missing key was
//! replaced by a new one and the server started, leaving everything sealed unreadable.

use std::path::Path;

use reclaim_protocol::DeviceKey;
use reclaim_server::{App, Config};
use reclaim_testkit::SharedPostgres;
use sqlx::Row as _;

use crate::harness::{random_hex_key, register_managed, TempDir};

fn config(dir: &Path, db_url: &str, key_line: &str) -> Config {
    Config::parse(&format!(
        r#"
listen = "127.0.0.1:0"
public_url = "https://reclaim.example.test"
{key_line}
reverify = false
[database]
url = "{db_url}"
[directory]
kind = "demo"
file = "{}"
"#,
        dir.join("dir.json").display()
    ))
    .unwrap()
}

async fn open(dir: &Path, db_url: &str, key_line: &str) -> Result<std::sync::Arc<App>, String> {
    App::open(config(dir, db_url, key_line))
        .await
        .map_err(|e| e.to_string())
}

/// The refusal of a start that must be refused.
async fn start_refused(dir: &Path, db_url: &str, key_line: &str) -> String {
    match open(dir, db_url, key_line).await {
        Ok(_) => panic!("the server started with {key_line}"),
        Err(e) => e,
    }
}

async fn a_lost_or_different_key_is_refused(db_url: &str) {
    let dir = TempDir::new();
    let key_file = dir.path().join("data.key");
    let key_line = format!("data_key_file = \"{}\"", key_file.display());

    // First start on an empty database: the key is made, and sealed data follows.
    assert!(!key_file.exists());
    let app = open(dir.path(), db_url, &key_line)
        .await
        .expect("the first start");
    assert!(key_file.exists(), "the first start makes the key");
    register_managed(&app, &DeviceKey::generate().unwrap()).await;
    let fingerprint = app.keys.fingerprint().to_string();
    drop(app);
    let original = std::fs::read_to_string(&key_file).unwrap();

    // The file is gone: refused, with the file named and what to do, and no new key.
    std::fs::remove_file(&key_file).unwrap();
    let refused = start_refused(dir.path(), db_url, &key_line).await;
    assert!(
        refused.contains(&key_file.display().to_string())
            && refused.contains("missing")
            && refused.contains("restore that file from your backup")
            && refused.contains(&fingerprint[..16]),
        "{refused}"
    );
    assert!(
        !key_file.exists(),
        "a key was made in place of the lost one"
    );

    // Another key in the file: refused, and the message never holds a key.
    let other = random_hex_key();
    std::fs::write(&key_file, &other).unwrap();
    let refused = start_refused(dir.path(), db_url, &key_line).await;
    assert!(
        refused.contains("is not the key this database was sealed with")
            && refused.contains(&fingerprint[..16]),
        "{refused}"
    );
    assert!(!refused.contains(&other) && !refused.contains(original.trim()));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), other);
    // And the same key given in the environment's place.
    let refused = start_refused(dir.path(), db_url, &format!("data_key = \"{other}\"")).await;
    assert!(refused.contains("RECLAIM__DATA_KEY"), "{refused}");

    // The right key: it starts, and it is the same key.
    std::fs::write(&key_file, &original).unwrap();
    let app = open(dir.path(), db_url, &key_line)
        .await
        .expect("the right key starts");
    assert_eq!(app.keys.fingerprint(), fingerprint);

    // A database sealed before fingerprints were recorded (no row): the audit head's MAC
    // still tells a wrong key from the right one, and the right one is recorded.
    sqlx::query("DELETE FROM data_key")
        .execute(&app.store.writer)
        .await
        .unwrap();
    drop(app);
    std::fs::write(&key_file, &other).unwrap();
    let refused = start_refused(dir.path(), db_url, &key_line).await;
    assert!(refused.contains("is not the key"), "{refused}");
    std::fs::remove_file(&key_file).unwrap();
    let refused = start_refused(dir.path(), db_url, &key_line).await;
    assert!(refused.contains("missing"), "{refused}");
    assert!(!key_file.exists());
    std::fs::write(&key_file, &original).unwrap();
    let app = open(dir.path(), db_url, &key_line)
        .await
        .expect("the right key starts");
    let recorded: String = sqlx::query("SELECT fingerprint FROM data_key WHERE id = 1")
        .fetch_one(&app.store.pool)
        .await
        .unwrap()
        .get(0);
    assert_eq!(recorded, fingerprint);
}

#[tokio::test]
async fn a_lost_or_different_data_key_is_refused_on_sqlite() {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    a_lost_or_different_key_is_refused(&url).await;
}

#[tokio::test]
async fn a_lost_or_different_data_key_is_refused_on_postgres() {
    let pg = SharedPostgres::get().expect("PostgreSQL starts");
    let url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        pg.database("datakey").unwrap(),
        pg.ca_file().display()
    );
    a_lost_or_different_key_is_refused(&url).await;
}

#[tokio::test]
async fn a_database_of_another_key_is_refused_even_when_empty_of_entries() {
    // Two instances given different keys on one new database: the first records its
    // key, the second is refused (rather than both sealing with their own).
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let first = open(
        dir.path(),
        &url,
        &format!("data_key = \"{}\"", random_hex_key()),
    )
    .await
    .expect("the first instance");
    let refused = start_refused(
        dir.path(),
        &url,
        &format!("data_key = \"{}\"", random_hex_key()),
    )
    .await;
    assert!(refused.contains("is not the key"), "{refused}");
    drop(first);
}
