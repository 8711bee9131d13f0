//! Okta's refusals as [`DirectoryError`]s.
//!
//! Okta answers an error with a status and a body such as
//! `{"errorCode": "E0000007", "errorSummary": "Not found: ...", "errorCauses": [...]}`.
//! The code decides, the status where the code is unknown; the summary goes into the
//! message (clipped), the causes only where they explain a password refusal. Neither is
//! logged.

use serde::Deserialize;

use crate::rest::{clip, refusal, Reply};
use crate::{DirectoryError, PasswordRefusal};

/// What an operation needs, for a `403` to name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Read,
    SetPassword,
    ExpirePassword,
    DeleteFactor,
    Unlock,
}

impl Op {
    /// The OAuth scope the service app must be granted.
    pub(crate) fn scope(self) -> &'static str {
        match self {
            Op::Read => "okta.users.read",
            _ => "okta.users.manage",
        }
    }

    /// The admin permission (custom role) the service app or the API token's admin needs.
    pub(crate) fn permission(self) -> &'static str {
        match self {
            Op::Read => "okta.users.read",
            Op::SetPassword => "okta.users.credentials.resetPassword",
            Op::ExpirePassword => "okta.users.credentials.expirePassword",
            Op::DeleteFactor => "okta.users.credentials.resetFactors",
            Op::Unlock => "okta.users.lifecycle.unlock",
        }
    }
}

/// Okta's error body. Every field may be missing: a proxy or a load balancer in front of
/// Okta answers with its own body.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct OktaError {
    #[serde(rename = "errorCode", default)]
    pub code: String,
    #[serde(rename = "errorSummary", default)]
    pub summary: String,
    #[serde(rename = "errorCauses", default)]
    pub causes: Vec<Cause>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct Cause {
    #[serde(rename = "errorSummary", default)]
    pub summary: String,
}

impl OktaError {
    /// The body of `reply`, or an empty error when it is not Okta's JSON.
    pub(crate) fn of(reply: &Reply) -> OktaError {
        serde_json::from_slice(&reply.body).unwrap_or_default()
    }

    /// `E0000007 Not found: ...`, clipped, for a message.
    pub(crate) fn detail(&self) -> String {
        let text = match (self.code.is_empty(), self.summary.is_empty()) {
            (true, true) => "no Okta error code".to_string(),
            (false, true) => self.code.clone(),
            (true, false) => self.summary.clone(),
            (false, false) => format!("{} {}", self.code, self.summary),
        };
        clip(&text)
    }

    /// The causes that are about the password (Okta prefixes them with `password:`).
    fn password_causes(&self) -> Vec<String> {
        self.causes
            .iter()
            .map(|c| c.summary.trim())
            .filter(|s| s.to_ascii_lowercase().starts_with("password:"))
            .map(|s| s["password:".len()..].trim().to_string())
            .collect()
    }

    /// Whether Okta refused a password because it already is the account's password
    /// (the repeat of a reset whose answer was lost, under `strict`).
    pub(crate) fn is_current_password(&self) -> bool {
        self.code == "E0000001"
            && self.password_causes().iter().any(|c| {
                c.to_ascii_lowercase()
                    .contains("cannot be your current password")
            })
    }
}

/// The error for a reply that is not a success. `password` is the password that was
/// being set (for [`Op::SetPassword`]), to tell a too short one from another refusal; it
/// is never put in the error.
pub(crate) fn okta_refusal(reply: &Reply, op: Op, password: Option<&str>) -> DirectoryError {
    let e = OktaError::of(reply);
    match e.code.as_str() {
        "E0000007" => return DirectoryError::UserNotFound,
        "E0000011" => {
            return DirectoryError::Config(format!(
                "Okta refused Reclaim's credential ({}): the API token or access token is expired, revoked or wrong",
                e.detail()
            ))
        }
        "E0000001" if op == Op::SetPassword => {
            let causes = e.password_causes();
            if !causes.is_empty() {
                return DirectoryError::PasswordRefused(password_refusal(
                    &causes,
                    password.unwrap_or(""),
                ));
            }
        }
        "E0000038" => {
            return DirectoryError::PermissionDenied(format!(
                "Okta does not allow this for the account in its current status, for example suspended or deactivated ({})",
                e.detail()
            ))
        }
        _ => {}
    }
    if reply.status == 403 {
        return DirectoryError::PermissionDenied(format!(
            "{}; Reclaim's Okta {}",
            e.detail(),
            needs(reply, op)
        ));
    }
    refusal(reply.status, &e.detail(), op.permission())
}

/// What to grant, for a `403`: the scope when Okta says the token lacks one
/// (`WWW-Authenticate: Bearer ... error="insufficient_scope"`), else the admin permission.
fn needs(reply: &Reply, op: Op) -> String {
    let challenge = reply.header("www-authenticate").unwrap_or("");
    if challenge.contains("insufficient_scope") {
        format!(
            "service app must be granted the scope {} (Okta API Scopes tab)",
            op.scope()
        )
    } else {
        format!(
            "service app (or the API token's admin) needs an admin role with the permission {}",
            op.permission()
        )
    }
}

/// The best [`PasswordRefusal`] for Okta's password causes.
///
/// Okta names history and minimum-age refusals and commonly used passwords in a sentence
/// of their own; a complexity refusal lists the whole policy ("Password requirements were
/// not met. Password requirements: at least 8 characters, a lowercase letter, ..."), not
/// the rule that failed, so the rules it lists are checked against the password here.
pub(crate) fn password_refusal(causes: &[String], password: &str) -> PasswordRefusal {
    let text = causes.join(" ").to_ascii_lowercase();
    if text.contains("used too recently") || text.contains("cannot be your current password") {
        return PasswordRefusal::InHistory;
    }
    if text.contains("minimum password age") || text.contains("changed too recently") {
        return PasswordRefusal::TooYoung;
    }
    if text.contains("commonly used") || text.contains("dictionary") {
        return PasswordRefusal::QualityFailed;
    }
    if let Some(n) = at_least(&text) {
        if password.chars().count() < n {
            return PasswordRefusal::TooShort;
        }
    }
    let missing =
        |rule: &str, has: fn(char) -> bool| text.contains(rule) && !password.chars().any(has);
    if missing("a lowercase letter", char::is_lowercase)
        || missing("an uppercase letter", char::is_uppercase)
        || missing("a number", |c| c.is_ascii_digit())
        || missing("a symbol", |c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        return PasswordRefusal::QualityFailed;
    }
    // Left: "no parts of your username", first or last name, the history the policy
    // lists: Okta does not say which.
    PasswordRefusal::PolicyViolation
}

/// `N` of "at least N characters".
fn at_least(text: &str) -> Option<usize> {
    let rest = &text[text.find("at least ")? + "at least ".len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    rest[digits.len()..]
        .trim_start()
        .starts_with("character")
        .then(|| digits.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn reply(status: u16, body: &str, headers: &[(&'static str, &str)]) -> Reply {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Reply {
            status,
            headers: h,
            body: body.as_bytes().to_vec(),
        }
    }

    const REQUIREMENTS: &str = r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: password","errorLink":"E0000001","errorId":"oae1","errorCauses":[{"errorSummary":"password: Password requirements were not met. Password requirements: at least 12 characters, a lowercase letter, an uppercase letter, a number, no parts of your username. Your password cannot be any of your last 4 passwords."}]}"#;

    #[test]
    fn a_complexity_refusal_is_explained_by_the_rule_the_password_breaks() {
        let r = reply(400, REQUIREMENTS, &[]);
        let refused = |pw: &str| match okta_refusal(&r, Op::SetPassword, Some(pw)) {
            DirectoryError::PasswordRefused(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused("Short1a"), PasswordRefusal::TooShort);
        assert_eq!(refused("alllowercase123"), PasswordRefusal::QualityFailed);
        assert_eq!(refused("NoDigitsInThisOne"), PasswordRefusal::QualityFailed);
        // Long and varied enough: the username rule (or history), which Okta does not name.
        assert_eq!(
            refused("Alice-Wonder-2024"),
            PasswordRefusal::PolicyViolation
        );
        // The message never carries the password.
        let e = okta_refusal(&r, Op::SetPassword, Some("Short1a"));
        assert!(!format!("{e:?}{e}").contains("Short1a"));
    }

    #[test]
    fn history_age_and_common_passwords_are_named_by_okta() {
        let body = |cause: &str| {
            format!(
                r#"{{"errorCode":"E0000001","errorSummary":"Api validation failed: password","errorCauses":[{{"errorSummary":"password: {cause}"}}]}}"#
            )
        };
        let cases = [
            ("Password has been used too recently", PasswordRefusal::InHistory),
            ("Password cannot be your current password", PasswordRefusal::InHistory),
            ("Password cannot be changed more than once per minimum password age period.", PasswordRefusal::TooYoung),
            ("This password was found in a list of commonly used passwords. Please try another password.", PasswordRefusal::QualityFailed),
        ];
        for (cause, want) in cases {
            let r = reply(400, &body(cause), &[]);
            assert_eq!(
                okta_refusal(&r, Op::SetPassword, Some("Whatever-2024")),
                DirectoryError::PasswordRefused(want),
                "{cause}"
            );
        }
        assert!(OktaError::of(&reply(
            400,
            &body("Password cannot be your current password"),
            &[]
        ))
        .is_current_password());
        assert!(!OktaError::of(&reply(
            400,
            &body("Password has been used too recently"),
            &[]
        ))
        .is_current_password());
    }

    #[test]
    fn okta_codes_become_the_errors_the_server_acts_on() {
        let not_found = r#"{"errorCode":"E0000007","errorSummary":"Not found: Resource not found: 00u1 (User)","errorCauses":[]}"#;
        assert_eq!(
            okta_refusal(&reply(404, not_found, &[]), Op::Read, None),
            DirectoryError::UserNotFound
        );

        let invalid =
            r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorCauses":[]}"#;
        let e = okta_refusal(&reply(401, invalid, &[]), Op::Read, None);
        assert!(
            matches!(e, DirectoryError::Config(_)) && e.is_permanent(),
            "{e:?}"
        );

        let denied = r#"{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorCauses":[]}"#;
        let e = okta_refusal(&reply(403, denied, &[]), Op::Unlock, None);
        assert!(
            matches!(&e, DirectoryError::PermissionDenied(m) if m.contains("okta.users.lifecycle.unlock")),
            "{e:?}"
        );
        let e = okta_refusal(
            &reply(
                403,
                denied,
                &[(
                    "www-authenticate",
                    r#"Bearer realm="x", scope="okta.users.manage", error="insufficient_scope""#,
                )],
            ),
            Op::DeleteFactor,
            None,
        );
        assert!(
            matches!(&e, DirectoryError::PermissionDenied(m) if m.contains("scope okta.users.manage")),
            "{e:?}"
        );

        let status = r#"{"errorCode":"E0000038","errorSummary":"This operation is not allowed in the user's current status.","errorCauses":[]}"#;
        assert!(okta_refusal(&reply(403, status, &[]), Op::SetPassword, Some("x")).is_permanent());

        let internal =
            r#"{"errorCode":"E0000009","errorSummary":"Internal Server Error","errorCauses":[]}"#;
        assert!(
            okta_refusal(&reply(500, internal, &[]), Op::SetPassword, Some("x")).outcome_unknown()
        );
        // Not Okta's JSON at all (a proxy's page): the status decides.
        let e = okta_refusal(&reply(502, "<html>bad gateway</html>", &[]), Op::Read, None);
        assert!(
            matches!(&e, DirectoryError::Unavailable(m) if m.contains("no Okta error code")),
            "{e:?}"
        );
        // E0000001 about something else than the password is not a password refusal.
        let other = r#"{"errorCode":"E0000001","errorSummary":"Api validation failed: login","errorCauses":[{"errorSummary":"login: An object with this field already exists"}]}"#;
        assert!(matches!(
            okta_refusal(&reply(400, other, &[]), Op::SetPassword, Some("x")),
            DirectoryError::Protocol(_)
        ));
    }
}
