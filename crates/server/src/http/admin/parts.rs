//! Small pieces the console's pages beside the queue share: times, the pager, a notice.

use crate::http::html::escape;

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub fn when(t: i64) -> String {
    let secs = t.rem_euclid(86_400);
    match reclaim_document::Date::from_unix_days(t.div_euclid(86_400)) {
        Some(date) => format!("{date} {:02}:{:02} UTC", secs / 3600, (secs % 3600) / 60),
        None => t.to_string(),
    }
}

/// An optional time, or a dash.
pub fn when_opt(t: Option<i64>) -> String {
    t.map(when).unwrap_or_else(|| "–".into())
}

/// `seconds` as a person reads a wait.
pub fn ago(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 90 => "a minute".into(),
        s if s < 90 * 60 => format!("{} minutes", (s + 30) / 60),
        s if s < 36 * 3600 => format!("{} hours", (s + 1800) / 3600),
        s => format!("{} days", (s + 43_200) / 86_400),
    }
}

/// Newer and older links around page `page` (0-based) of `base` (a path with its query
/// so far, ending in `?` or `&`).
pub fn pager(base: &str, page: i64, more: bool) -> String {
    if page == 0 && !more {
        return String::new();
    }
    let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
    if page > 0 {
        out.push_str(&format!(
            "<a href=\"{}page={}\">Newer page</a>",
            escape(base),
            page - 1
        ));
    }
    out.push_str(&format!("<span>Page {}</span>", page + 1));
    if more {
        out.push_str(&format!(
            "<a href=\"{}page={}\">Older page</a>",
            escape(base),
            page + 1
        ));
    }
    out.push_str("</nav>");
    out
}

/// A status line after a change.
pub fn done(text: &str) -> String {
    format!("<p class=\"note ok\" role=\"status\">{}</p>", escape(text))
}

/// `value` for a URL's query.
pub fn query_value(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
