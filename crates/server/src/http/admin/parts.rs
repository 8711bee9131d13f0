//! Small pieces the console's pages beside the queue share: times, the pager, a notice.

use crate::admin::pages;
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

/// The paging of one of the console's lists: where the page's query asks to be, held
/// within bounds, and the links to the pages beside it, each carrying the list's filters.
/// Lists read by offset (recoveries, devices) go by page number (`page=`); the audit
/// chain, read by key so a deep page costs what the first does, goes by the newest entry
/// to show (`before=`). Every list shows [`pages::PER_PAGE`] rows at a time.
pub struct Pager {
    /// The list's path and its filters' query, ending in `?` or `&`.
    base: String,
}

impl Pager {
    /// The list at `path`, its links carrying `filters` (name, value; blank ones left out).
    pub fn new(path: &str, filters: &[(&str, Option<&str>)]) -> Pager {
        let mut base = format!("{path}?");
        for (name, value) in filters {
            if let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) {
                base.push_str(&format!("{name}={}&", query_value(v)));
            }
        }
        Pager { base }
    }

    /// The page number a query asked for (0-based), within 0 and [`pages::MAX_PAGE`].
    pub fn page(asked: i64) -> i64 {
        asked.clamp(0, pages::MAX_PAGE)
    }

    /// The newest key a query asked to start from, no lower than 0; the list's newest
    /// when it asked for none.
    pub fn before(asked: Option<i64>) -> Option<i64> {
        asked.map(|k| k.max(0))
    }

    /// The links around page `page` of a list read by offset, `more` when rows follow it:
    /// newer, where it is, older; nothing for a lone first page.
    pub fn numbered(&self, page: i64, more: bool) -> String {
        if page == 0 && !more {
            return String::new();
        }
        self.nav(
            (page > 0).then(|| ("Newer page", format!("page={}", page - 1))),
            Some(format!("Page {}", page + 1)),
            more.then(|| ("Older page", format!("page={}", page + 1))),
        )
    }

    /// The same for a list that counts its pages (`pages` of them): nothing when there is
    /// only one.
    pub fn numbered_of(&self, page: i64, pages: i64) -> String {
        if pages <= 1 {
            return String::new();
        }
        self.nav(
            (page > 0).then(|| ("Newer page", format!("page={}", page - 1))),
            Some(format!("Page {} of {pages}", page + 1)),
            (page + 1 < pages).then(|| ("Older page", format!("page={}", page + 1))),
        )
    }

    /// The links of a list read by key, newest first: back to the newest unless the page
    /// shows it (`at_newest`), and on to the older ones from key `older` when there are.
    pub fn keyed(&self, at_newest: bool, older: Option<i64>) -> String {
        self.nav(
            (!at_newest).then(|| ("Newest", String::new())),
            None,
            older.map(|k| ("Older entries", format!("before={k}"))),
        )
    }

    fn nav(
        &self,
        newer: Option<(&str, String)>,
        here: Option<String>,
        older: Option<(&str, String)>,
    ) -> String {
        if newer.is_none() && older.is_none() {
            return String::new();
        }
        let link = |(text, query): (&str, String)| {
            format!("<a href=\"{}{query}\">{text}</a>", escape(&self.base))
        };
        let mut out = String::from("<nav class=\"pager\" aria-label=\"Pages\">");
        out.extend(newer.map(link));
        out.extend(here.map(|h| format!("<span>{h}</span>")));
        out.extend(older.map(link));
        out.push_str("</nav>");
        out
    }
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
