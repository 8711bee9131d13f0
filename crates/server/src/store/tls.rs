//! How the connection to PostgreSQL is protected, decided from the URL before connecting.
//! The role's password, sealed data and the audit chain cross that connection, so a
//! server on another machine must be reached with TLS that checks its certificate
//! and the name in it (`sslmode=verify-full`), unless the operator opted out in so many words
//! (`database.allow_insecure_transport`). `require` and `prefer` encrypt without checking
//! whom they talk to: anyone on the path can stand in for the server. `verify-ca` is not
//! enough either: the driver trusts the system's roots beside `sslrootcert`, and without
//! the name check any publicly issued certificate would do.

use std::path::PathBuf;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::StoreError;

/// What the URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transport {
    /// A SQLite file: no network.
    Sqlite,
    /// PostgreSQL on this machine (a Unix socket or a loopback address).
    Local,
    /// PostgreSQL over TLS with its certificate and name checked (`verify-full`), against
    /// the system's trust store and `sslrootcert` when the URL names one.
    Verified { root_cert: Option<PathBuf> },
    /// PostgreSQL on another machine without a checked certificate, allowed by
    /// `database.allow_insecure_transport`.
    Insecure { host: String },
}

/// The transport `url` asks for; an error (naming the host, never the password) when it
/// reaches another machine unverified and `allow_insecure` is not set. PostgreSQL's own
/// `PGHOST`, `PGSSLMODE` environment variables count, as the driver reads them too.
pub fn check(url: &str, allow_insecure: bool) -> Result<Transport, StoreError> {
    if url.starts_with("sqlite:") {
        return Ok(Transport::Sqlite);
    }
    let options = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Config("database.url is not a PostgreSQL URL".into()))?;
    let host = options
        .get_host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let local = options.get_socket().is_some()
        || host.starts_with('/')
        || host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    // Only verify-full names the server: sqlx's rustls adds `sslrootcert` to the system's
    // roots rather than replacing them, and verify-ca skips the name, so under verify-ca
    // any certificate from any public CA, for any name, would pass.
    if matches!(options.get_ssl_mode(), PgSslMode::VerifyFull) {
        return Ok(Transport::Verified {
            root_cert: query_value(url, "sslrootcert")
                .or_else(|| std::env::var("PGSSLROOTCERT").ok())
                .map(PathBuf::from),
        });
    }
    if local {
        return Ok(Transport::Local);
    }
    if allow_insecure {
        return Ok(Transport::Insecure {
            host: host.to_string(),
        });
    }
    Err(StoreError::Config(format!(
        "database.url: PostgreSQL at {host} is on another machine and the URL does not ask \
         for a checked certificate: add sslmode=verify-full&sslrootcert=/path/to/ca.pem \
         (the CA that signed the server's certificate), or set \
         database.allow_insecure_transport = true for a network you already trust (the \
         password, sealed data and the audit chain then cross it unverified)"
    )))
}

/// A query parameter's value, percent-decoded (the few escapes a path may need).
fn query_value(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_machine_needs_a_checked_certificate_or_an_explicit_opt_out() {
        let sqlite = check("sqlite:///var/lib/reclaim/reclaim.db", false).unwrap();
        assert_eq!(sqlite, Transport::Sqlite);
        for local in [
            "postgres://reclaim:pw@127.0.0.1:5432/reclaim",
            "postgres://reclaim:pw@localhost/reclaim",
            "postgres://reclaim:pw@[::1]:5432/reclaim",
            "postgresql://reclaim@%2Frun%2Fpostgresql/reclaim",
            "postgres:///reclaim?host=/run/postgresql",
        ] {
            assert_eq!(check(local, false).unwrap(), Transport::Local, "{local}");
        }
        for unverified in [
            "postgres://reclaim:s3cret@db.example.com/reclaim",
            "postgres://reclaim:s3cret@10.0.0.5:5432/reclaim?sslmode=require",
            "postgres://reclaim:s3cret@db.example.com/reclaim?sslmode=prefer",
            "postgres://reclaim:s3cret@db.example.com/reclaim?sslmode=disable",
        ] {
            let e = check(unverified, false).unwrap_err().to_string();
            assert!(
                e.contains("verify-full") && e.contains("allow_insecure_transport"),
                "{e}"
            );
            assert!(!e.contains("s3cret"), "{e}");
            assert!(matches!(
                check(unverified, true).unwrap(),
                Transport::Insecure { .. }
            ));
        }
        let verified = check(
            "postgres://reclaim:pw@db.example.com/reclaim?sslmode=verify-full&sslrootcert=/etc/reclaim/db%20ca.pem",
            false,
        )
        .unwrap();
        assert_eq!(
            verified,
            Transport::Verified {
                root_cert: Some(PathBuf::from("/etc/reclaim/db ca.pem"))
            }
        );
        // verify-ca checks no name: with the system's roots trusted too, any public
        // certificate would pass.
        assert!(check(
            "postgres://r@db.example.com/r?sslmode=verify-ca&sslrootcert=/etc/reclaim/ca.pem",
            false
        )
        .is_err());
    }
}
