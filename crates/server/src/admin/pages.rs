//! What the console's pages beside the review queue show and do, below HTTP: the devices
//! (and an admin's changes to them), the recoveries and one recovery's timeline, the audit
//! chain (browsed, verified, exported signed), the effective configuration with every
//! secret redacted, and the service's health. Each change is in the audit chain with the
//! admin as its actor; the pages themselves (`http::admin`) only render.

use reclaim_protocol::Code;
use serde_json::Value;

use crate::admin::Admin;
use crate::audit::{self, ChainReport, Entry, Export};
use crate::config::Config;
use crate::devices::{self, DeviceError, Tier};
use crate::error::ApiError;
use crate::store::audit::StoredEntry;
use crate::store::devices::Listed as ListedDevice;
use crate::store::sessions::{Listed as ListedSession, Search};
use crate::store::siem::CursorState;
use crate::store::{self, now};
use crate::App;

/// Rows per page of every list.
pub const PER_PAGE: i64 = 50;
/// The deepest page a list offers (by offset: devices and recoveries).
pub const MAX_PAGE: i64 = 1_000;
/// The most entries one recovery's timeline shows.
pub const TIMELINE_MAX: i64 = 1_000;

fn invalid(message: &str) -> ApiError {
    ApiError::new(Code::RequestInvalid, message)
}

fn device_error(e: DeviceError) -> ApiError {
    match e {
        DeviceError::Store(e) => e.into(),
        // The API's 401 asks a device to register; here it is a key id not found.
        e @ DeviceError::Unknown(_) => {
            ApiError::new(e.code(), e.to_string()).with_status(axum::http::StatusCode::NOT_FOUND)
        }
        e => ApiError::new(e.code(), e.to_string()),
    }
}

// ---- Devices ----

/// Page `page` of the devices, newest first, and how many there are.
pub async fn devices(app: &App, page: i64) -> Result<(Vec<ListedDevice>, i64), ApiError> {
    let page = page.clamp(0, MAX_PAGE);
    let list = store::devices::page(&app.store, PER_PAGE, page * PER_PAGE).await?;
    let total = store::devices::count(&app.store).await?;
    Ok((list, total))
}

/// Revokes device `key_id` for `admin`, as `reclaim device revoke` does (audited there).
pub async fn revoke_device(app: &App, admin: &Admin, key_id: &str) -> Result<(), ApiError> {
    let key_id = key_id.trim();
    if key_id.is_empty() || key_id.len() > 128 {
        return Err(invalid("name the device's key id"));
    }
    devices::revoke(&app.store, &app.keys, key_id, &admin.actor())
        .await
        .map_err(device_error)
}

/// Registers a managed device from its public key for `admin`, as `reclaim device
/// register --public-key` does (audited there). Hardware keys need the TPM's two-step
/// proof, which stays with the command line.
pub async fn register_device(
    app: &App,
    admin: &Admin,
    public_key: &str,
    name: &str,
) -> Result<crate::devices::Device, ApiError> {
    let public_key = public_key.trim();
    if public_key.is_empty() || public_key.len() > 256 {
        return Err(invalid("paste the device's public key (base64)"));
    }
    devices::register(
        &app.store,
        &app.keys,
        public_key,
        name.trim(),
        Tier::Managed,
        &admin.actor(),
    )
    .await
    .map_err(device_error)
}

// ---- Recoveries ----

/// The session states a search may ask for.
pub const STATES: [&str; 8] = [
    "open",
    "review",
    "approved",
    "rejected",
    "completed",
    "failed",
    "expired",
    "abandoned",
];

/// A search as the page's form sends it, checked: a login of at most 256 characters, a
/// known state, dates as `YYYY-MM-DD` (UTC; `to` included).
pub fn search(
    login: Option<&str>,
    state: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Search, ApiError> {
    fn given(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    let login = given(login).map(str::to_string);
    if login.as_ref().is_some_and(|l| l.chars().count() > 256) {
        return Err(invalid("a login is at most 256 characters"));
    }
    let state = given(state).map(str::to_string);
    if let Some(s) = &state {
        if !STATES.contains(&s.as_str()) {
            return Err(invalid("choose a state from the list"));
        }
    }
    let day = |v: Option<&str>| -> Result<Option<i64>, ApiError> {
        given(v)
            .map(|d| unix_day(d).ok_or_else(|| invalid("write dates as YYYY-MM-DD")))
            .transpose()
    };
    Ok(Search {
        login,
        state,
        from: day(from)?.map(|d| d * 86_400),
        to: day(to)?.map(|d| (d + 1) * 86_400),
    })
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (years 1970 to 9999).
pub fn unix_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1970..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > month_days[(m - 1) as usize] {
        return None;
    }
    // Days from civil (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// Page `page` of the recoveries matching `q`, newest first, and whether there are more.
pub async fn recoveries(
    app: &App,
    q: &Search,
    page: i64,
) -> Result<(Vec<ListedSession>, bool), ApiError> {
    let page = page.clamp(0, MAX_PAGE);
    let mut list = store::sessions::search(&app.store, q, PER_PAGE + 1, page * PER_PAGE).await?;
    let more = list.len() as i64 > PER_PAGE;
    list.truncate(PER_PAGE as usize);
    Ok((list, more))
}

/// One recovery and its entries in the chain, in order: from the session's start through
/// its decision (and a reviewer's votes) to the reset its grant made. Every one of them
/// names the session as its subject, the reset entries with the grant's SHA-256.
pub async fn timeline(app: &App, id: &str) -> Result<(ListedSession, Vec<StoredEntry>), ApiError> {
    let not_found = || ApiError::new(Code::NotFound, "no recovery by that id");
    if id.is_empty() || id.len() > 128 {
        return Err(not_found());
    }
    let session = store::sessions::listed(&app.store, id)
        .await?
        .ok_or_else(not_found)?;
    let entries =
        store::audit::of_subject(&app.store, &format!("session:{id}"), TIMELINE_MAX).await?;
    Ok((session, entries))
}

// ---- The audit chain ----

/// A valid audit kind to filter by: 1 to 64 of `a-z`, `0-9`, `_`.
pub fn audit_kind(kind: Option<&str>) -> Result<Option<String>, ApiError> {
    match kind.map(str::trim).filter(|k| !k.is_empty()) {
        None => Ok(None),
        Some(k)
            if k.len() <= 64
                && k.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Ok(Some(k.to_string()))
        }
        Some(_) => Err(invalid("an entry kind is lower-case letters, digits and _")),
    }
}

/// Up to [`PER_PAGE`] entries at or before `before`, newest first, of `kind` when given,
/// and the chain's head.
pub async fn audit_page(
    app: &App,
    kind: Option<&str>,
    before: Option<i64>,
) -> Result<(Vec<StoredEntry>, i64), ApiError> {
    let head = store::audit::head_seq(&app.store).await?;
    let entries = store::audit::newest(&app.store, kind, before, PER_PAGE).await?;
    Ok((entries, head))
}

/// Walks the whole chain for `admin` (as `reclaim audit verify` does); the check and what
/// it found go into the chain.
pub async fn verify_chain(app: &App, admin: &Admin) -> Result<ChainReport, ApiError> {
    let report = audit::verify(&app.store, &app.keys).await?;
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_chain_verified",
            actor: &admin.actor(),
            subject: "audit",
            detail: serde_json::json!({
                "entries": report.entries,
                "head_seq": report.head_seq,
                "problems": report.problems.len(),
            }),
        },
    )
    .await?;
    Ok(report)
}

/// Entries `from` to `to`, signed for a third party ([`audit::export`]); who took which
/// range goes into the chain.
pub async fn export(app: &App, admin: &Admin, from: i64, to: i64) -> Result<Export, ApiError> {
    if from < 1 || to < from {
        return Err(invalid("give a range from 1, with to at or after from"));
    }
    if to - from >= audit::EXPORT_MAX {
        return Err(invalid(&format!(
            "export at most {} entries at a time",
            audit::EXPORT_MAX
        )));
    }
    let export = audit::export(&app.store, &app.keys, from, to).await?;
    audit::append(
        &app.store,
        &app.keys,
        Entry {
            kind: "admin_chain_exported",
            actor: &admin.actor(),
            subject: "audit",
            detail: serde_json::json!({
                "from": export.from,
                "to": export.to,
                "signed": export.signed.is_some(),
            }),
        },
    )
    .await?;
    Ok(export)
}

// ---- Policy ----

/// What the policy page shows in place of a secret.
pub const REDACTED: &str = "(redacted)";

/// The effective configuration as `(setting, value)` rows, in the file's order of
/// sections, every secret redacted: any setting whose name says secret, password, token
/// or key (but not a file, a path, an environment variable's name or a key id), the
/// password in a URL's user part, and a URL's query (a receiver's token may ride there).
pub fn policy(config: &Config) -> Vec<(String, String)> {
    let value = serde_json::to_value(config).unwrap_or(Value::Null);
    let mut rows = Vec::new();
    flatten("", &value, &mut rows);
    rows
}

/// Whether a setting named `name` holds a secret.
pub fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    // Where a secret is, or which variable holds it: not the secret.
    let pointer = ["_file", "_files", "_path", "_dir", "_env", "_id", "_ids"]
        .iter()
        .any(|s| n.ends_with(s));
    if pointer {
        return false;
    }
    ["secret", "password", "passwd", "token", "credential"]
        .iter()
        .any(|w| n.contains(w))
        || n == "key"
        || n == "keys"
        || n.ends_with("_key")
        || n.ends_with("_keys")
        || n.ends_with("key_hex")
}

fn flatten(path: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    let last = path.rsplit(['.', ']']).next().unwrap_or(path);
    if !path.is_empty() && secret_name(last) && !value.is_null() {
        rows.push((path.to_string(), REDACTED.to_string()));
        return;
    }
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                flatten(&p, v, rows);
            }
        }
        Value::Array(items) if items.iter().any(|v| v.is_object() || v.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{}]", i + 1), v, rows);
            }
        }
        Value::Array(items) => {
            let shown: Vec<String> = items.iter().map(scalar).collect();
            rows.push((path.to_string(), format!("[{}]", shown.join(", "))));
        }
        v => rows.push((path.to_string(), scalar(v))),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "(not set)".into(),
        Value::String(s) => redact_url(s),
        v => v.to_string(),
    }
}

/// `s` with a URL's password and query taken out (`postgres://u:pw@h/db?x` shows as
/// `postgres://u:(redacted)@h/db?(redacted)`); anything else as it is.
pub fn redact_url(s: &str) -> String {
    let Some((scheme, rest)) = s.split_once("://") else {
        return s.to_string();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((b, _)) => (b, Some(REDACTED)),
        None => (rest, None),
    };
    let authority_end = before_query.find('/').unwrap_or(before_query.len());
    let (authority, path) = before_query.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap_or("");
            format!("{user}:{REDACTED}@{host}")
        }
        None => authority.to_string(),
    };
    match query {
        Some(q) => format!("{scheme}://{authority}{path}?{q}"),
        None => format!("{scheme}://{authority}{path}"),
    }
}

// ---- Health ----

/// The service as the health page shows it.
pub struct Health {
    pub database: bool,
    pub directory: bool,
    pub directory_kind: &'static str,
    /// The engine is loaded (the server re-verifies evidence).
    pub engines_loaded: bool,
    /// The shipped models: role and SHA-256.
    pub models: Vec<(String, String)>,
    pub allowed_models: usize,
    pub queue_open: i64,
    /// Seconds the oldest open case has waited.
    pub queue_oldest_s: Option<i64>,
    pub head_seq: i64,
    pub sinks: Vec<CursorState>,
    pub pending_resets: i64,
}

/// Every check at once; a failing one is shown, not an error, unless the database is down.
pub async fn health(app: &App) -> Result<Health, ApiError> {
    let database = app.store.ping().await.is_ok();
    let directory = app.directory.health().await.is_ok();
    let t = now();
    let (queue_open, oldest) = store::reviews::open_stats(&app.store, t).await?;
    let models = crate::models::shipped_model_digests()
        .map(|m| m.into_iter().collect())
        .unwrap_or_default();
    Ok(Health {
        database,
        directory,
        directory_kind: app.directory.kind(),
        engines_loaded: app.engines.is_some(),
        models,
        allowed_models: app.allowed_models.len(),
        queue_open,
        queue_oldest_s: oldest.map(|o| t - o),
        head_seq: store::audit::head_seq(&app.store).await?,
        sinks: store::siem::all(&app.store).await?,
        pending_resets: store::resets::count_in_state(&app.store, "pending").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_become_unix_days() {
        assert_eq!(unix_day("1970-01-01"), Some(0));
        assert_eq!(unix_day("2000-02-29"), Some(11_016));
        assert_eq!(unix_day("2025-11-26"), Some(20_418));
        for bad in [
            "2025-02-29",
            "2025-13-01",
            "1969-12-31",
            "2025-1-01",
            "x",
            "",
        ] {
            assert_eq!(unix_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn secret_names_and_urls_are_redacted() {
        for name in [
            "data_key",
            "bind_password",
            "password",
            "client_secret",
            "secret",
            "api_token",
            "signing_keys",
        ] {
            assert!(secret_name(name), "{name}");
        }
        for name in [
            "data_key_file",
            "secret_file",
            "secret_env",
            "key_id",
            "ca_file",
            "url",
        ] {
            assert!(!secret_name(name), "{name}");
        }
        assert_eq!(
            redact_url("postgres://u:pw@h:5432/db?sslmode=x"),
            "postgres://u:(redacted)@h:5432/db?(redacted)"
        );
        assert_eq!(redact_url("https://h/x"), "https://h/x");
        assert_eq!(redact_url("plain"), "plain");
    }

    #[test]
    fn no_secret_of_a_full_configuration_reaches_the_policy_rows() {
        let text = r#"
public_url = "https://reclaim.example.test"
data_key = "MARKER-DATA-KEY"

[database]
url = "postgres://reclaim:MARKER-DB-PASSWORD@db.example.test/reclaim?password=MARKER-DB-QUERY"

[directory]
kind = "ldap"
url = "ldaps://dc.example.test"
flavour = "active_directory"
bind_dn = "CN=reclaim,DC=example,DC=test"
bind_password = "MARKER-BIND-PASSWORD"
base_dn = "DC=example,DC=test"

[notify]
smtp_url = "smtps://mail.example.test"
from = "Reclaim <reclaim@example.test>"
username = "reclaim"
password = "MARKER-SMTP-PASSWORD"

[siem.webhook]
url = "https://siem.example.test/in?token=MARKER-WEBHOOK-TOKEN"
secret_env = "SIEM_SECRET"

[admin.oidc]
issuer = "https://idp.example.test"
client_id = "reclaim-console"
admin_groups = ["admins"]
"#;
        let config: Config = toml::from_str(text).unwrap();
        let rows = policy(&config);
        let all = format!("{rows:?}");
        assert!(!all.contains("MARKER"), "{all}");
        // What is not secret is still there.
        for shown in [
            "ldaps://dc.example.test",
            "SIEM_SECRET",
            "reclaim-console",
            "db.example.test",
        ] {
            assert!(all.contains(shown), "{shown} missing: {all}");
        }
        let value = |name: &str| rows.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        assert_eq!(value("data_key").as_deref(), Some(REDACTED));
        assert_eq!(value("directory.bind_password").as_deref(), Some(REDACTED));
        assert_eq!(value("notify.password").as_deref(), Some(REDACTED));
    }
}
