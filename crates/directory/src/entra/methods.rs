//! Authentication methods: which an MFA reset removes, and the Temporary Access Pass it
//! issues.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DirectoryError, SignInCode};

/// The most authentication methods of one user read.
pub(super) const MAX_METHODS: usize = 200;

/// A kind of authentication method an MFA reset may remove (Graph v1.0 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum EntraMethodKind {
    /// Phone numbers for SMS or voice.
    Phone,
    /// The Microsoft Authenticator app (push, passwordless phone sign-in).
    MicrosoftAuthenticator,
    /// FIDO2 security keys and passkeys.
    Fido2,
    /// Software and hardware OATH tokens (authenticator apps with codes).
    SoftwareOath,
    /// Windows Hello for Business.
    WindowsHelloForBusiness,
    /// An email address for self-service password reset (not a sign-in factor).
    Email,
}

impl EntraMethodKind {
    /// The `@odata.type` of the kind and the collection its deletion goes through.
    fn graph(self) -> (&'static str, &'static str) {
        match self {
            EntraMethodKind::Phone => {
                ("#microsoft.graph.phoneAuthenticationMethod", "phoneMethods")
            }
            EntraMethodKind::MicrosoftAuthenticator => (
                "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod",
                "microsoftAuthenticatorMethods",
            ),
            EntraMethodKind::Fido2 => {
                ("#microsoft.graph.fido2AuthenticationMethod", "fido2Methods")
            }
            EntraMethodKind::SoftwareOath => (
                "#microsoft.graph.softwareOathAuthenticationMethod",
                "softwareOathMethods",
            ),
            EntraMethodKind::WindowsHelloForBusiness => (
                "#microsoft.graph.windowsHelloForBusinessAuthenticationMethod",
                "windowsHelloForBusinessMethods",
            ),
            EntraMethodKind::Email => {
                ("#microsoft.graph.emailAuthenticationMethod", "emailMethods")
            }
        }
    }
}

const ALL: [EntraMethodKind; 6] = [
    EntraMethodKind::Phone,
    EntraMethodKind::MicrosoftAuthenticator,
    EntraMethodKind::Fido2,
    EntraMethodKind::SoftwareOath,
    EntraMethodKind::WindowsHelloForBusiness,
    EntraMethodKind::Email,
];

const TAP_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";
const TAP_COLLECTION: &str = "temporaryAccessPassMethods";
const PASSWORD_TYPE: &str = "#microsoft.graph.passwordAuthenticationMethod";

/// Every second factor; not `email`.
pub(super) fn default_kinds() -> Vec<EntraMethodKind> {
    ALL.iter()
        .copied()
        .filter(|k| *k != EntraMethodKind::Email)
        .collect()
}

/// One method to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Removal {
    pub collection: &'static str,
    pub id: String,
}

/// Which of `listed` to delete: the kinds in `remove`, but one created at or after
/// `keep_enrolled_since` (the person's new factor after a lost answer); a method without a
/// creation time goes (Graph gives none for phone, email and OATH methods). A Temporary
/// Access Pass always goes: it is Reclaim's own, the new one comes after. The password,
/// kinds not in `remove`, and kinds this connector does not know stay.
pub(super) fn plan(
    listed: &[Value],
    remove: &[EntraMethodKind],
    keep_enrolled_since: Option<SystemTime>,
) -> Vec<Removal> {
    let mut out = Vec::new();
    for m in listed {
        let (Some(kind), Some(id)) = (
            m.get("@odata.type").and_then(Value::as_str),
            m.get("id").and_then(Value::as_str),
        ) else {
            continue;
        };
        if kind == TAP_TYPE {
            out.push(Removal {
                collection: TAP_COLLECTION,
                id: id.to_string(),
            });
            continue;
        }
        if kind == PASSWORD_TYPE {
            continue;
        }
        let Some(k) = ALL.iter().find(|k| k.graph().0 == kind) else {
            tracing::warn!(
                kind = %crate::rest::clip(kind),
                "an authentication method this connector does not know is left in place"
            );
            continue;
        };
        if !remove.contains(k) {
            continue;
        }
        let created = m
            .get("createdDateTime")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339);
        if let (Some(since), Some(created)) = (keep_enrolled_since, created) {
            if created >= since {
                continue;
            }
        }
        out.push(Removal {
            collection: k.graph().1,
            id: id.to_string(),
        });
    }
    out
}

/// An RFC 3339 date-time (`2024-05-01T10:00:00Z`, fractions and offsets allowed) as a
/// time. `None` when it is not one.
pub(super) fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") && &o[3..4] == ":" => {
            let v = num_str(&o[1..3])? * 3600 + num_str(&o[4..6])? * 60;
            if o.starts_with('-') {
                -v
            } else {
                v
            }
        }
        _ => return None,
    };
    // Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset;
    // Whole seconds: a fraction after the keep time still counts as at or after it.
    u64::try_from(secs)
        .ok()
        .map(|s| SystemTime::UNIX_EPOCH + Duration::from_secs(s))
}

fn num_str(s: &str) -> Option<i64> {
    s.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| s.parse().ok())?
}

/// The pass from Graph's answer to its creation.
pub(super) fn pass_from(
    v: &Value,
    lifetime: u32,
    one_time: bool,
) -> Result<SignInCode, DirectoryError> {
    let code = v
        .get("temporaryAccessPass")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            DirectoryError::Protocol(
                "Graph created a Temporary Access Pass without its code".into(),
            )
        })?;
    let start = v
        .get("startDateTime")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .unwrap_or_else(SystemTime::now);
    let minutes = v
        .get("lifetimeInMinutes")
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(lifetime));
    let until = start + Duration::from_secs(minutes.min(43_200) * 60);
    let valid_until = until
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Ok(SignInCode {
        code: zeroize::Zeroizing::new(code.to_string()),
        valid_until,
        one_time: v
            .get("isUsableOnce")
            .and_then(Value::as_bool)
            .unwrap_or(one_time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> SystemTime {
        parse_rfc3339(s).unwrap()
    }

    #[test]
    fn rfc3339_times_are_read_with_fractions_and_offsets() {
        assert_eq!(at("1970-01-01T00:00:00Z"), SystemTime::UNIX_EPOCH);
        assert_eq!(
            at("2024-03-01T12:00:00.1234567Z")
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_709_294_400
        );
        assert_eq!(at("2024-03-01T13:00:00+01:00"), at("2024-03-01T12:00:00Z"));
        for bad in [
            "2024-03-01",
            "2024-13-01T00:00:00Z",
            "2024-03-01T00:00:00",
            "x",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_plan_keeps_the_password_new_factors_and_unlisted_kinds_and_always_drops_a_pass() {
        let listed = vec![
            json!({"@odata.type": PASSWORD_TYPE, "id": "pw"}),
            json!({"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": "ph"}),
            json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "old", "createdDateTime": "2024-01-01T00:00:00Z"}),
            json!({"@odata.type": "#microsoft.graph.fido2AuthenticationMethod", "id": "new", "createdDateTime": "2024-06-01T00:00:00Z"}),
            json!({"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "id": "em"}),
            json!({"@odata.type": TAP_TYPE, "id": "tap", "createdDateTime": "2024-06-01T00:00:00Z"}),
            json!({"@odata.type": "#microsoft.graph.platformCredentialAuthenticationMethod", "id": "pc"}),
        ];
        let ids = |p: Vec<Removal>| p.into_iter().map(|r| r.id).collect::<Vec<_>>();
        assert_eq!(
            ids(plan(&listed, &default_kinds(), None)),
            ["ph", "old", "new", "tap"]
        );
        let since = at("2024-06-01T00:00:00Z");
        assert_eq!(
            ids(plan(&listed, &default_kinds(), Some(since))),
            ["ph", "old", "tap"]
        );
        assert_eq!(
            ids(plan(&listed, &[EntraMethodKind::Email], None)),
            ["em", "tap"]
        );
    }

    #[test]
    fn a_pass_without_its_code_is_a_protocol_error() {
        assert!(pass_from(&json!({"id": "x"}), 60, true).is_err());
        let p = pass_from(
            &json!({"temporaryAccessPass": "abc", "startDateTime": "2024-01-01T00:00:00Z", "lifetimeInMinutes": 60, "isUsableOnce": false}),
            10,
            true,
        )
        .unwrap();
        assert_eq!(p.valid_until, 1_704_067_200 + 3600);
        assert!(!p.one_time);
        assert!(!format!("{p:?}").contains("abc"));
    }
}
