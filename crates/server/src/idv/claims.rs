//! What a passed verification proves, as kept (sealed) until its code is redeemed, and the
//! ID token's `verified_claims` (OpenID Connect for Identity Assurance 1.0) made of it.
//!
//! Released: the names and birth date read from the document (the fields a relying party
//! matches against its user), the document's type and issuing state, when it was
//! verified, and under which trust framework. Never the document number, the expiry, the
//! sex, the nationality, the portrait or anything biometric: a relying party that only
//! matches a person needs none of it, and what is not sent cannot leak from its logs.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The claims a relying party may ask for inside `verified_claims`.
pub const CLAIMS: [&str; 3] = ["given_name", "family_name", "birthdate"];

/// The document types `evidence.document_details.type` may name.
pub const DOCUMENT_TYPES: [&str; 3] = ["passport", "idcard", "driving_permit"];

/// A passed verification's facts, sealed in `idv_requests.verified_sealed`.
#[derive(Clone, Serialize, Deserialize)]
pub struct Verified {
    pub given_name: String,
    pub family_name: String,
    /// ISO 8601 date.
    pub birthdate: Option<String>,
    /// One of [`DOCUMENT_TYPES`].
    pub document_type: String,
    /// The issuing state's ICAO 9303 three-letter code, when the document states it.
    pub issuer_country: Option<String>,
    /// Unix seconds.
    pub verified_at: i64,
    /// The server's own engine judged the evidence (false: a managed device's claims).
    pub reverified: bool,
}

/// The document type for a document kind (`td1`, `td2`, `td3`, `aamva`) and its code
/// (MRZ `P`, `I`, `ID`..., AAMVA `DL`/`ID`).
pub fn document_type(kind: &str, code: Option<&str>) -> &'static str {
    match kind.to_ascii_lowercase().as_str() {
        "td3" => "passport",
        "aamva" if code.is_some_and(|c| c.eq_ignore_ascii_case("DL")) => "driving_permit",
        _ if code.is_some_and(|c| c.starts_with('P')) => "passport",
        _ => "idcard",
    }
}

/// `names` as people write them: each word capitalised (`QUINN-SMITH` reads
/// `Quinn-Smith`), since documents print capitals only.
pub fn as_written(names: &str) -> String {
    let mut out = String::with_capacity(names.len());
    let mut start = true;
    for c in names.trim().chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = matches!(c, ' ' | '-' | '\'');
    }
    out
}

/// The claims inside `verified_claims` that `request` (the `claims` parameter as pushed)
/// asks for in the ID token; all of [`CLAIMS`] when it names none of them.
pub fn requested(request: Option<&str>) -> Vec<&'static str> {
    let asked = request
        .and_then(|r| serde_json::from_str::<Value>(r).ok())
        .and_then(|v| {
            let vc = &v["id_token"]["verified_claims"];
            // One object or an array of them (OIDC4IDA 1.0, section 6).
            let objects: Vec<&Value> = match vc {
                Value::Array(a) => a.iter().collect(),
                Value::Object(_) => vec![vc],
                _ => return None,
            };
            let names: Vec<&'static str> = CLAIMS
                .into_iter()
                .filter(|c| objects.iter().any(|o| o["claims"].get(c).is_some()))
                .collect();
            (!names.is_empty()).then_some(names)
        });
    asked.unwrap_or_else(|| CLAIMS.to_vec())
}

/// ISO 8601 UTC time of Unix seconds `t`.
pub fn iso_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm, public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// The `verified_claims` object of `v`, with the claims `names` only.
pub fn verified_claims(v: &Verified, names: &[&str], trust_framework: &str) -> Value {
    let mut claims = Map::new();
    for name in names {
        match *name {
            "given_name" => {
                claims.insert((*name).into(), json!(as_written(&v.given_name)));
            }
            "family_name" => {
                claims.insert((*name).into(), json!(as_written(&v.family_name)));
            }
            "birthdate" => {
                if let Some(b) = &v.birthdate {
                    claims.insert((*name).into(), json!(b));
                }
            }
            _ => {}
        }
    }
    let mut details = json!({ "type": v.document_type });
    if let Some(c) = &v.issuer_country {
        details["issuer"] = json!({ "country_code": c });
    }
    json!({
        "verification": {
            "trust_framework": trust_framework,
            "time": iso_time(v.verified_at),
            "evidence": [{
                "type": "document",
                // vpip: the person presented the document and their face was compared with
                // its portrait in a live capture (OIDC4IDA's check method registry).
                "check_details": [{ "check_method": "vpip" }],
                "time": iso_time(v.verified_at),
                "document_details": details,
            }],
        },
        "claims": claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_iso_8601_utc() {
        assert_eq!(iso_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso_time(1_796_571_296), "2026-12-06T15:34:56Z");
        assert_eq!(iso_time(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn names_read_as_written_and_only_asked_claims_are_released() {
        assert_eq!(as_written("QUINN-SMITH"), "Quinn-Smith");
        assert_eq!(as_written("AVERY JO"), "Avery Jo");
        let asked = requested(Some(
            r#"{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":null}}}}"#,
        ));
        assert_eq!(asked, vec!["given_name"]);
        assert_eq!(requested(None), CLAIMS.to_vec());
        assert_eq!(requested(Some("not json")), CLAIMS.to_vec());
        assert_eq!(document_type("td3", Some("P")), "passport");
        assert_eq!(document_type("aamva", Some("DL")), "driving_permit");
        assert_eq!(document_type("td1", Some("ID")), "idcard");
    }
}
