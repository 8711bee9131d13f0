//! What Okta's Management API sends back, as far as the connector reads it: users,
//! factors, groups, the `Link` header of a paginated list, and timestamps.

use std::time::{Duration, SystemTime};

use serde::Deserialize;
use serde_json::{Map, Value};

/// A user (`GET /api/v1/users/{id}`, an item of `GET /api/v1/users`).
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub profile: Map<String, Value>,
}

impl User {
    /// A profile attribute as text, trimmed; `None` when absent, empty or not a string.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.profile
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// An enrolled factor (`GET /api/v1/users/{id}/factors`).
#[derive(Debug, Deserialize)]
pub(crate) struct Factor {
    pub id: String,
    #[serde(rename = "factorType", default)]
    pub factor_type: String,
    #[serde(default)]
    pub created: Option<String>,
}

/// A group (`GET /api/v1/users/{id}/groups`).
#[derive(Debug, Deserialize)]
pub(crate) struct Group {
    #[serde(default)]
    pub profile: Map<String, Value>,
}

/// Okta's ids (users `00u…`, factors, groups) are short runs of letters and digits; one
/// that is not is refused before it goes into a path.
pub(crate) fn is_okta_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The `rel="next"` target of a `Link` header (RFC 8288), if there is one.
pub(crate) fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        params
            .split(';')
            .any(|p| {
                let p = p.trim();
                p == "rel=\"next\"" || p == "rel=next"
            })
            .then_some(target)
    })
}

/// An RFC 3339 timestamp (`2024-05-01T10:00:00.000Z`, or with a `+hh:mm` offset) as a
/// time; `None` for anything else.
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = frac[..digits].parse::<u32>().ok()? * 10u32.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (num_at(rest, 1)? * 3600 + num_at(rest, 4)? * 60)
        }
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let seconds = u64::try_from(seconds).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(seconds, nanos))
}

fn num_at(s: &str, at: usize) -> Option<i64> {
    let t = s.get(at..at + 2)?;
    t.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| t.parse().ok())?
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` from a profile value holding a date (`YYYY-MM-DD`) or a date and time.
pub(crate) fn iso_date(v: &str) -> Option<String> {
    let d = v.get(..10)?;
    let b = d.as_bytes();
    let ok = b[4] == b'-'
        && b[7] == b'-'
        && [0..4, 5..7, 8..10]
            .into_iter()
            .all(|r| b[r].iter().all(u8::is_ascii_digit));
    let rest_ok = v.len() == 10 || matches!(v.as_bytes()[10], b'T' | b't' | b' ');
    (ok && rest_ok).then(|| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_as_okta_writes_them() {
        let t = parse_timestamp("2024-05-01T10:00:00.000Z").unwrap();
        assert_eq!(
            t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(),
            1_714_557_600
        );
        let with_offset = parse_timestamp("2024-05-01T12:00:00.5+02:00").unwrap();
        assert_eq!(
            with_offset.duration_since(t).unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:00Z"),
            Some(SystemTime::UNIX_EPOCH)
        );
        for bad in [
            "",
            "2024-05-01",
            "2024-13-01T00:00:00Z",
            "2024-05-01T10:00:00",
            "2024-05-01T10:00:00.Z",
            "x024-05-01T10:00:00Z",
            "2024-05-01T10:00:00+0200",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_next_link_is_found_among_others() {
        let h = r#"<https://o.okta.com/api/v1/users/x/groups?limit=2>; rel="self", <https://o.okta.com/api/v1/users/x/groups?after=00g2&limit=2>; rel="next""#;
        assert_eq!(
            next_link(h),
            Some("https://o.okta.com/api/v1/users/x/groups?after=00g2&limit=2")
        );
        assert_eq!(next_link(r#"<https://o.okta.com/a>; rel="self""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn ids_and_dates() {
        assert!(is_okta_id("00u1abcDEF234"));
        for bad in ["", "../x", "00u 1", "00u/1", "a%2F"] {
            assert!(!is_okta_id(bad), "{bad}");
        }
        assert_eq!(iso_date("1990-04-01").as_deref(), Some("1990-04-01"));
        assert_eq!(
            iso_date("1990-04-01T00:00:00Z").as_deref(),
            Some("1990-04-01")
        );
        assert_eq!(iso_date("01/04/1990"), None);
        assert_eq!(iso_date("1990-04-01x"), None);
    }
}
