//! One audit entry as it leaves for a SIEM.

use serde::Serialize;

use crate::store::audit::StoredEntry;

/// One audit entry as it leaves: what the chain holds, the time in RFC 3339 (UTC), and the
/// entry's MAC (`hash`), which `reclaim audit verify` can be matched against.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    pub seq: i64,
    pub at: String,
    pub kind: &'a str,
    pub actor: &'a str,
    pub subject: &'a str,
    pub detail: serde_json::Value,
    pub hash: &'a str,
}

impl<'a> Event<'a> {
    pub fn of(e: &'a StoredEntry) -> Event<'a> {
        Event {
            seq: e.seq,
            at: rfc3339(e.at),
            kind: &e.kind,
            actor: &e.actor,
            subject: &e.subject,
            // Details are JSON objects (audit::append writes them); anything else is given
            // as a string rather than dropped.
            detail: serde_json::from_str(&e.detail)
                .unwrap_or_else(|_| serde_json::Value::String(e.detail.clone())),
            hash: &e.hash,
        }
    }

    pub(super) fn json(&self) -> String {
        // Serialising owned strings and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(t: i64) -> String {
    let secs = t.rem_euclid(86_400);
    let time = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    );
    match reclaim_document::Date::from_unix_days(t.div_euclid(86_400)) {
        Some(date) => format!("{date}T{time}Z"),
        // Outside the years 1 to 9999, which no clock of this server reads.
        None => "1970-01-01T00:00:00Z".to_string(),
    }
}
