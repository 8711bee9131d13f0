//! What Duo's Admin API answers: the envelope (`stat`, `response`, `metadata`), the few
//! fields of its objects that Reclaim reads, and its error body turned into a
//! [`DirectoryError`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::rest::{clip, refusal};
use crate::DirectoryError;

/// A successful answer: `{"stat": "OK", "response": ..., "metadata": {...}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Envelope {
    pub stat: String,
    #[serde(default)]
    pub response: Value,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Metadata {
    /// Where the next page starts; absent on the last page. A number in the v1 endpoints.
    #[serde(default)]
    pub next_offset: Option<Value>,
}

impl Metadata {
    pub(crate) fn next(&self) -> Result<Option<u64>, DirectoryError> {
        match &self.next_offset {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad_offset),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| bad_offset()),
            Some(_) => Err(bad_offset()),
        }
    }
}

fn bad_offset() -> DirectoryError {
    DirectoryError::Protocol("Duo's next_offset is not a number".into())
}

/// A user (`/admin/v1/users`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct User {
    pub user_id: String,
    pub username: String,
    #[serde(default)]
    pub realname: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub firstname: Option<String>,
    #[serde(default)]
    pub lastname: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// `{"alias1": "...", ...}`; older answers may lack it.
    #[serde(default)]
    pub aliases: Option<BTreeMap<String, Value>>,
}

impl User {
    pub(crate) fn alias_values(&self) -> impl Iterator<Item = &str> {
        self.aliases
            .iter()
            .flat_map(|m| m.values())
            .filter_map(Value::as_str)
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct Phone {
    pub phone_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Token {
    pub token_id: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WebauthnCredential {
    pub webauthnkey: String,
    /// When it was registered, Unix seconds.
    #[serde(default)]
    pub date_added: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct BypassCode {
    pub bypass_code_id: String,
    /// When it was made, Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Group {
    pub name: String,
}

/// Duo's error body: `{"stat": "FAIL", "code": 40301, "message": "Access forbidden",
/// "message_detail": "..."}`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Failure {
    #[serde(default)]
    pub code: Option<u64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub message_detail: Option<String>,
}

impl Failure {
    /// Duo's code and message, fit for an error (they never echo a secret).
    pub(crate) fn summary(&self) -> String {
        let mut s = match self.code {
            Some(c) => format!("Duo error {c}"),
            None => "Duo error".to_string(),
        };
        if let Some(m) = &self.message {
            s.push_str(": ");
            s.push_str(m);
        }
        if let Some(d) = &self.message_detail {
            s.push_str(&format!(" ({d})"));
        }
        clip(&s)
    }
}

/// The error for a refused request: its status, with Duo's code and message as detail.
/// `permission` names the Admin API permission the request needs ("Grant read resource"
/// or "Grant write resource"), so a `403` says what to grant.
pub(crate) fn refused(status: u16, body: &[u8], permission: &str) -> DirectoryError {
    let failure: Failure = serde_json::from_slice(body).unwrap_or_default();
    let detail = failure.summary();
    refusal(
        status,
        &detail,
        &format!("the Admin API permission \"{permission}\""),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duo_error_bodies_become_the_errors_the_server_acts_on() {
        let e = refused(
            403,
            br#"{"code": 40301, "message": "Access forbidden", "message_detail": "Insufficient permissions", "stat": "FAIL"}"#,
            "Grant write resource",
        );
        match &e {
            DirectoryError::PermissionDenied(m) => {
                assert!(
                    m.contains("40301") && m.contains("Grant write resource"),
                    "{m}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(e.is_permanent());
        let e = refused(
            401,
            br#"{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}"#,
            "Grant read resource",
        );
        assert!(
            matches!(&e, DirectoryError::Config(m) if m.contains("40103") && m.contains("Invalid signature")),
            "{e:?}"
        );
        assert_eq!(
            refused(
                404,
                br#"{"code": 40401, "message": "Resource not found", "stat": "FAIL"}"#,
                "x"
            ),
            DirectoryError::UserNotFound
        );
        let e = refused(503, b"<html>busy</html>", "x");
        assert!(e.outcome_unknown() && !e.is_permanent(), "{e:?}");
        assert!(matches!(
            refused(400, br#"{"code": 40002, "message": "Invalid request parameters", "message_detail": "status", "stat": "FAIL"}"#, "x"),
            DirectoryError::Protocol(m) if m.contains("40002") && m.contains("(status)")
        ));
        // A long or odd message is clipped, control characters replaced.
        let long = format!(
            r#"{{"code": 1, "message": "{}\n", "stat": "FAIL"}}"#,
            "x".repeat(500)
        );
        let e = refused(500, long.as_bytes(), "x");
        assert!(
            e.to_string().len() < 300 && !e.to_string().contains('\n'),
            "{e}"
        );
    }

    #[test]
    fn paging_offsets_are_read_as_duo_writes_them() {
        let m = |v: Value| Metadata {
            next_offset: Some(v),
        };
        assert_eq!(m(Value::from(100)).next().unwrap(), Some(100));
        assert_eq!(m(Value::from("200")).next().unwrap(), Some(200));
        assert_eq!(m(Value::Null).next().unwrap(), None);
        assert_eq!(Metadata::default().next().unwrap(), None);
        assert!(m(Value::from(-1)).next().is_err());
        assert!(m(Value::from("abc")).next().is_err());
    }
}
