//! RFC 5424 messages for a syslog collector.

use rustls_pki_types::ServerName;
use std::sync::Arc;

use super::event::{rfc3339, Event};
use crate::store::audit::StoredEntry;

/// RFC 5424 APP-NAME.
pub const APP_NAME: &str = "reclaim";

/// The structured-data ID of each syslog message (32473 is the private enterprise number
/// RFC 5612 sets aside for examples and documentation).
pub const SD_ID: &str = "reclaim@32473";

/// A collector, ready to connect to.
pub(super) struct Syslog {
    pub(super) address: String,
    pub(super) tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    pub(super) hostname: String,
}

/// The RFC 5424 message of `e`: facility authpriv (10), severity notice (5), or warning
/// (4) for a refusal, failure or finding; the entry's fields as structured data, and the
/// whole event as JSON in MSG.
pub fn syslog_message(e: &StoredEntry, hostname: &str) -> String {
    let severity = if is_warning(&e.kind) { 4 } else { 5 };
    let pri = 10 * 8 + severity;
    let msgid: String = e
        .kind
        .bytes()
        .take(32)
        .map(|b| {
            if (33..=126).contains(&b) {
                b as char
            } else {
                '_'
            }
        })
        .collect();
    let msgid = if msgid.is_empty() { "-".into() } else { msgid };
    format!(
        "<{pri}>1 {at} {hostname} {APP_NAME} {pid} {msgid} [{SD_ID} seq=\"{seq}\" actor=\"{actor}\" subject=\"{subject}\" hash=\"{hash}\"] {msg}",
        at = rfc3339(e.at),
        pid = std::process::id(),
        seq = e.seq,
        actor = sd_escape(&e.actor),
        subject = sd_escape(&e.subject),
        hash = sd_escape(&e.hash),
        msg = Event::of(e).json(),
    )
}

/// Kinds a SIEM should see as warnings.
fn is_warning(kind: &str) -> bool {
    [
        "refus",
        "fail",
        "invalid",
        "denied",
        "disput",
        "undeliverable",
        "locked",
    ]
    .iter()
    .any(|w| kind.contains(w))
}

/// RFC 5424 PARAM-VALUE: `"`, `\` and `]` escaped with a backslash.
fn sd_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The host part of `host:port` (brackets of an IPv6 address removed).
pub(super) fn host_of(address: &str) -> &str {
    address
        .rsplit_once(':')
        .map_or(address, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']')
}

/// This machine's host name, as syslog's HOSTNAME field takes it; `-` (none) when unknown.
pub(super) fn this_hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(255)
        .collect();
    if name.is_empty() {
        "-".into()
    } else {
        name
    }
}
