//! The decision's policy: what the server concludes from the facts it has verified.
//!
//! A pure function of typed inputs (the device's tier, whether the account has an enrolled
//! face, the action, what judging the evidence found, whether the account's self-service
//! is locked), so every row of the policy table has a unit test and the decision
//! (`crate::recovery::decision`) only gathers facts and records the conclusion.
//!
//! Why the tier, and not the capture, decides what a capture is worth: an attacker writes
//! their own client. With our source, one photo of the victim and HTTP, a self-registered
//! client can render an ID and a selfie that follows any challenge, declare an ordinary
//! webcam and sign it all; re-running the engine on the server judges pixels, not where
//! they came from. What the attacker cannot render is a key the server registered: a key
//! inside a TPM the server saw attested (`hardware`), or a key an administrator registered
//! (`managed`). So `unmanaged` never approves on its own unless an operator opts in.

use reclaim_protocol::Code;
use reclaim_protocol::RecoveryAction;
use serde::{Deserialize, Serialize};

use crate::devices::Tier;

/// Whether the account has a face enrolled from an earlier recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserKind {
    /// No enrolled face: the photo ID is the reference.
    FirstTime,
    /// An enrolled face from an earlier recovery: a selfie alone may be enough.
    Returning,
}

impl UserKind {
    pub fn as_str(self) -> &'static str {
        match self {
            UserKind::FirstTime => "first_time",
            UserKind::Returning => "returning",
        }
    }
}

/// What the policy says to do with a verified recovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// A grant now.
    Approve,
    /// A grant now; the account's addresses are told at once and the change takes effect
    /// after `policy.notify_delay_s` unless cancelled through the link in the notice.
    ApproveNotifyDelay,
    /// A person (a trusted referee) decides, where a review queue exists; refused
    /// otherwise.
    Review,
    /// Refused, with a sentence that says where to go instead.
    Refuse,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::ApproveNotifyDelay => "approve_notify_delay",
            Verdict::Review => "review",
            Verdict::Refuse => "refuse",
        }
    }
}

/// The action as the policy table names it.
fn action_name(a: RecoveryAction) -> &'static str {
    match a {
        RecoveryAction::ResetPassword => "password",
        RecoveryAction::ResetMfa => "mfa",
        RecoveryAction::Unlock => "unlock",
        RecoveryAction::VerifyIdentity => "verify",
    }
}

/// One row of the configured table. `*` matches anything; the last matching row wins over
/// earlier rows and over the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRow {
    /// `password`, `mfa`, `unlock` or `*`.
    pub action: String,
    /// `hardware`, `managed`, `unmanaged` or `*`.
    pub tier: String,
    /// `first_time`, `returning` or `*`.
    pub user: String,
    pub verdict: Verdict,
}

impl PolicyRow {
    /// Refuses a row with a name that matches nothing (a typo must not leave a default in
    /// force silently).
    pub fn check(&self) -> Result<(), String> {
        let ok = |v: &str, allowed: &[&str]| v == "*" || allowed.contains(&v);
        if !ok(&self.action, &["password", "mfa", "unlock", "verify"]) {
            return Err(format!(
                "policy.table: action `{}` is not password, mfa, unlock, verify or *",
                self.action
            ));
        }
        if !ok(&self.tier, &["hardware", "managed", "unmanaged"]) {
            return Err(format!(
                "policy.table: tier `{}` is not hardware, managed, unmanaged or *",
                self.tier
            ));
        }
        if !ok(&self.user, &["first_time", "returning"]) {
            return Err(format!(
                "policy.table: user `{}` is not first_time, returning or *",
                self.user
            ));
        }
        Ok(())
    }

    fn matches(&self, action: RecoveryAction, tier: Tier, user: UserKind) -> bool {
        let m = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        m(&self.action, action_name(action))
            && m(&self.tier, tier.as_str())
            && m(&self.user, user.as_str())
    }
}

/// The built-in verdict: approve from devices whose key the server registered (hardware,
/// managed), review (a person decides) for everything else.
pub fn default_verdict(_action: RecoveryAction, tier: Tier, _user: UserKind) -> Verdict {
    match tier {
        Tier::Hardware | Tier::Managed => Verdict::Approve,
        Tier::Unmanaged => Verdict::Review,
    }
}

/// The row of the table that applied, for the audit entry: which cell, what it said, and
/// whether it was the default or a configured row (1-based, in file order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedRow {
    pub action: &'static str,
    pub tier: &'static str,
    pub user: &'static str,
    pub verdict: Verdict,
    /// `None` for the built-in default.
    pub configured_row: Option<usize>,
}

/// The verdict for one cell of the table.
pub fn verdict(
    table: &[PolicyRow],
    action: RecoveryAction,
    tier: Tier,
    user: UserKind,
) -> AppliedRow {
    let configured = table
        .iter()
        .enumerate()
        .rev()
        .find(|(_, r)| r.matches(action, tier, user));
    let (verdict, configured_row) = match configured {
        Some((i, r)) => (r.verdict, Some(i + 1)),
        None => (default_verdict(action, tier, user), None),
    };
    AppliedRow {
        action: action_name(action),
        tier: tier.as_str(),
        user: user.as_str(),
        verdict,
        configured_row,
    }
}

/// What the server verified about one recovery attempt.
#[derive(Debug, Clone)]
pub struct Facts {
    pub action: RecoveryAction,
    pub tier: Tier,
    pub user: UserKind,
    /// The server's own engine judged the uploaded evidence (not only the device's claims).
    pub reverified: bool,
    /// Hard failures found by judging (engine, document, directory record), internal codes.
    pub failures: Vec<Code>,
    /// Findings a person should look at (a borderline match, a partial name).
    pub doubts: Vec<Code>,
    /// Someone used a "this wasn't me" link for this account.
    pub self_service_locked: bool,
    /// The directory knows an address the account's owner can be told at.
    pub owner_reachable: bool,
}

/// The settings the conclusion depends on besides the table.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Someone works the review queue; without one, `review` refuses.
    pub review_queue: bool,
    /// Signed claims from managed and hardware devices are enough without re-verification.
    pub trust_signed_claims: bool,
    /// How long an `approve_notify_delay` change waits, seconds.
    pub notify_delay_s: u64,
}

/// What the server concludes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conclusion {
    /// A grant; the change takes effect after `delay_s` (0: at once) and the account's
    /// addresses are notified.
    Approved { delay_s: u64 },
    /// A person decides.
    Review,
    /// Refused for these internal reasons.
    Rejected,
}

/// What the policy rules: the conclusion, its internal reasons, and the row that produced
/// it. The service answers the device with a [`reclaim_protocol::wire::decision::Decision`]
/// made from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ruling {
    pub conclusion: Conclusion,
    /// Internal codes (the audit's); [`public_reasons`] maps them for the client.
    pub reasons: Vec<Code>,
    pub row: AppliedRow,
    /// The verdict alone refuses, whatever the evidence shows: the engine need not run
    /// (and must not, so its findings cannot be probed from a device it cannot trust).
    pub refused_by_policy: bool,
}

/// The verdict before any evidence is judged: refuses early when the table (or a lock)
/// refuses whatever the evidence would show.
pub fn before_judging(
    table: &[PolicyRow],
    settings: &Settings,
    action: RecoveryAction,
    tier: Tier,
    user: UserKind,
    self_service_locked: bool,
) -> Option<Ruling> {
    let row = verdict(table, action, tier, user);
    let reason = if self_service_locked {
        Code::SelfServiceLocked
    } else {
        match row.verdict {
            Verdict::Refuse => Code::DeviceNotTrusted,
            Verdict::Review if !settings.review_queue => Code::DeviceNotTrusted,
            _ => return None,
        }
    };
    Some(Ruling {
        conclusion: Conclusion::Rejected,
        reasons: vec![reason],
        row,
        refused_by_policy: true,
    })
}

/// The whole decision from the verified facts.
pub fn decide(table: &[PolicyRow], settings: &Settings, facts: &Facts) -> Ruling {
    if let Some(d) = before_judging(
        table,
        settings,
        facts.action,
        facts.tier,
        facts.user,
        facts.self_service_locked,
    ) {
        return d;
    }
    let row = verdict(table, facts.action, facts.tier, facts.user);
    let rejected = |reasons: Vec<Code>| Ruling {
        conclusion: Conclusion::Rejected,
        reasons,
        row: row.clone(),
        refused_by_policy: false,
    };
    if !facts.failures.is_empty() {
        return rejected(facts.failures.clone());
    }
    // Fail closed: an unmanaged device's claims are never enough, and a managed or
    // hardware device's only where the operator said so.
    if !facts.reverified && (facts.tier == Tier::Unmanaged || !settings.trust_signed_claims) {
        return rejected(vec![Code::EvidenceNotReverified]);
    }
    let review = |reasons: Vec<Code>| {
        if settings.review_queue {
            Ruling {
                conclusion: Conclusion::Review,
                reasons,
                row: row.clone(),
                refused_by_policy: false,
            }
        } else {
            // No one would ever look: refused, not left waiting.
            rejected(reasons)
        }
    };
    match row.verdict {
        Verdict::Review => review(facts.doubts.clone()),
        _ if !facts.doubts.is_empty() => review(facts.doubts.clone()),
        Verdict::Approve => Ruling {
            conclusion: Conclusion::Approved { delay_s: 0 },
            reasons: Vec::new(),
            row: row.clone(),
            refused_by_policy: false,
        },
        // Approved on the condition that the owner is told: no address, no approval.
        Verdict::ApproveNotifyDelay if !facts.owner_reachable => {
            review(vec![Code::OwnerUnreachable])
        }
        Verdict::ApproveNotifyDelay => Ruling {
            conclusion: Conclusion::Approved {
                delay_s: settings.notify_delay_s,
            },
            reasons: Vec::new(),
            row: row.clone(),
            refused_by_policy: false,
        },
        // Handled by `before_judging`.
        Verdict::Refuse => rejected(vec![Code::DeviceNotTrusted]),
    }
}

/// The reasons a refusal shows: the registry's public forms, in one fixed order, the
/// record's findings only when nothing else failed ([`reclaim_protocol::codes::public_codes`]).
pub fn public_reasons(internal: &[Code]) -> Vec<Code> {
    reclaim_protocol::codes::public_codes(internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use RecoveryAction::*;

    const ACTIONS: [RecoveryAction; 3] = [ResetPassword, ResetMfa, Unlock];
    const TIERS: [Tier; 3] = [Tier::Hardware, Tier::Managed, Tier::Unmanaged];
    const USERS: [UserKind; 2] = [UserKind::FirstTime, UserKind::Returning];

    fn settings() -> Settings {
        Settings {
            review_queue: false,
            trust_signed_claims: false,
            notify_delay_s: 86_400,
        }
    }

    fn verified(action: RecoveryAction, tier: Tier, user: UserKind) -> Facts {
        Facts {
            action,
            tier,
            user,
            reverified: true,
            failures: vec![],
            doubts: vec![],
            self_service_locked: false,
            owner_reachable: true,
        }
    }

    fn row(action: &str, tier: &str, user: &str, verdict: Verdict) -> PolicyRow {
        PolicyRow {
            action: action.into(),
            tier: tier.into(),
            user: user.into(),
            verdict,
        }
    }

    /// The default table, cell by cell: (tier, expected conclusion without a review
    /// queue, with one), the same for every action and user kind.
    #[test]
    fn the_default_table_cell_by_cell() {
        let expected = [
            (
                Tier::Hardware,
                Conclusion::Approved { delay_s: 0 },
                Conclusion::Approved { delay_s: 0 },
            ),
            (
                Tier::Managed,
                Conclusion::Approved { delay_s: 0 },
                Conclusion::Approved { delay_s: 0 },
            ),
            (Tier::Unmanaged, Conclusion::Rejected, Conclusion::Review),
        ];
        for (tier, without_queue, with_queue) in expected {
            for action in ACTIONS {
                for user in USERS {
                    let facts = verified(action, tier, user);
                    let d = decide(&[], &settings(), &facts);
                    assert_eq!(d.conclusion, without_queue, "{tier:?} {action:?} {user:?}");
                    assert_eq!(d.row.configured_row, None);
                    if tier == Tier::Unmanaged {
                        assert_eq!(d.reasons, [Code::DeviceNotTrusted]);
                        assert!(d.refused_by_policy, "the engine need not run");
                    }
                    let queue = Settings {
                        review_queue: true,
                        ..settings()
                    };
                    assert_eq!(decide(&[], &queue, &facts).conclusion, with_queue);
                }
            }
        }
    }

    /// Every verdict a row can carry, in every cell, does what it says.
    #[test]
    fn every_configured_verdict_in_every_cell() {
        for action in ACTIONS {
            for tier in TIERS {
                for user in USERS {
                    let facts = verified(action, tier, user);
                    let cell = |v: Verdict| {
                        vec![row(action_name(action), tier.as_str(), user.as_str(), v)]
                    };
                    let d = decide(&cell(Verdict::Approve), &settings(), &facts);
                    assert_eq!(d.conclusion, Conclusion::Approved { delay_s: 0 });
                    assert_eq!(d.row.configured_row, Some(1));
                    let d = decide(&cell(Verdict::ApproveNotifyDelay), &settings(), &facts);
                    assert_eq!(d.conclusion, Conclusion::Approved { delay_s: 86_400 });
                    let d = decide(&cell(Verdict::Refuse), &settings(), &facts);
                    assert_eq!(
                        (d.conclusion, d.reasons, d.refused_by_policy),
                        (Conclusion::Rejected, vec![Code::DeviceNotTrusted], true)
                    );
                    let d = decide(&cell(Verdict::Review), &settings(), &facts);
                    assert_eq!(d.conclusion, Conclusion::Rejected);
                    let queue = Settings {
                        review_queue: true,
                        ..settings()
                    };
                    let d = decide(&cell(Verdict::Review), &queue, &facts);
                    assert_eq!(d.conclusion, Conclusion::Review);
                }
            }
        }
    }

    #[test]
    fn the_last_matching_row_wins_and_wildcards_match() {
        let table = vec![
            row("*", "unmanaged", "*", Verdict::Refuse),
            row(
                "password",
                "unmanaged",
                "returning",
                Verdict::ApproveNotifyDelay,
            ),
        ];
        let d = verdict(&table, ResetPassword, Tier::Unmanaged, UserKind::Returning);
        assert_eq!(
            (d.verdict, d.configured_row),
            (Verdict::ApproveNotifyDelay, Some(2))
        );
        let d = verdict(&table, ResetMfa, Tier::Unmanaged, UserKind::Returning);
        assert_eq!((d.verdict, d.configured_row), (Verdict::Refuse, Some(1)));
        // Rows for other tiers leave a cell at its default.
        let d = verdict(&table, ResetMfa, Tier::Managed, UserKind::FirstTime);
        assert_eq!((d.verdict, d.configured_row), (Verdict::Approve, None));
    }

    #[test]
    fn failed_evidence_is_refused_whatever_the_tier() {
        for tier in TIERS {
            let mut facts = verified(ResetPassword, tier, UserKind::FirstTime);
            facts.failures = vec![Code::FaceMismatch];
            let table = vec![row("*", "*", "*", Verdict::Approve)];
            let d = decide(&table, &settings(), &facts);
            assert_eq!(
                (d.conclusion, d.reasons),
                (Conclusion::Rejected, vec![Code::FaceMismatch])
            );
        }
    }

    #[test]
    fn claims_alone_approve_only_where_the_operator_trusts_them() {
        let table = vec![row("*", "*", "*", Verdict::Approve)];
        for tier in TIERS {
            let mut facts = verified(ResetPassword, tier, UserKind::FirstTime);
            facts.reverified = false;
            let d = decide(&table, &settings(), &facts);
            assert_eq!(d.reasons, [Code::EvidenceNotReverified], "{tier:?}");
            let trusting = Settings {
                trust_signed_claims: true,
                ..settings()
            };
            let d = decide(&table, &trusting, &facts);
            if tier == Tier::Unmanaged {
                assert_eq!(
                    d.reasons,
                    [Code::EvidenceNotReverified],
                    "never for unmanaged"
                );
            } else {
                assert_eq!(d.conclusion, Conclusion::Approved { delay_s: 0 });
            }
        }
    }

    #[test]
    fn doubts_go_to_a_person_or_are_refused() {
        let mut facts = verified(ResetPassword, Tier::Managed, UserKind::FirstTime);
        facts.doubts = vec![Code::FaceMatchBorderline];
        let d = decide(&[], &settings(), &facts);
        assert_eq!(
            (d.conclusion, d.refused_by_policy),
            (Conclusion::Rejected, false)
        );
        assert_eq!(d.reasons[0].public(), Code::IdentityNotConfirmed);
        let queue = Settings {
            review_queue: true,
            ..settings()
        };
        assert_eq!(decide(&[], &queue, &facts).conclusion, Conclusion::Review);
    }

    #[test]
    fn notice_and_delay_needs_someone_to_tell() {
        let table = vec![row(
            "*",
            "unmanaged",
            "returning",
            Verdict::ApproveNotifyDelay,
        )];
        let mut facts = verified(ResetMfa, Tier::Unmanaged, UserKind::Returning);
        facts.owner_reachable = false;
        let d = decide(&table, &settings(), &facts);
        assert_eq!(
            (d.conclusion, d.reasons),
            (Conclusion::Rejected, vec![Code::OwnerUnreachable])
        );
        assert_eq!(Code::OwnerUnreachable.public(), Code::IdentityNotConfirmed);
        // A plain approval does not wait for a notice, so it does not need one.
        let table = vec![row("*", "managed", "*", Verdict::Approve)];
        let mut facts = verified(ResetMfa, Tier::Managed, UserKind::Returning);
        facts.owner_reachable = false;
        assert_eq!(
            decide(&table, &settings(), &facts).conclusion,
            Conclusion::Approved { delay_s: 0 }
        );
    }

    #[test]
    fn a_locked_account_is_refused_before_anything_else() {
        let table = vec![row("*", "*", "*", Verdict::Approve)];
        let mut facts = verified(ResetPassword, Tier::Hardware, UserKind::Returning);
        facts.self_service_locked = true;
        let d = decide(&table, &settings(), &facts);
        assert_eq!(
            (d.conclusion, d.reasons),
            (Conclusion::Rejected, vec![Code::SelfServiceLocked])
        );
    }

    #[test]
    fn unknown_accounts_read_like_known_ones_whatever_else_failed() {
        let r = |v: &[&str]| -> Vec<&str> {
            let codes: Vec<Code> = v.iter().map(|s| Code::parse(s).unwrap()).collect();
            public_reasons(&codes).iter().map(|c| c.as_str()).collect()
        };
        // Something else failed: the identity reason does not show, for either.
        assert_eq!(r(&["user_unknown", "face_mismatch"]), r(&["face_mismatch"]));
        assert_eq!(
            r(&["face_mismatch", "document_name_mismatch"]),
            r(&["user_unknown", "face_mismatch"])
        );
        // In one fixed order whatever order they were found in.
        assert_eq!(
            r(&[
                "too_dark",
                "user_unknown",
                "face_mismatch",
                "liveness_pose_jump"
            ]),
            ["face_mismatch", "liveness_not_confirmed", "too_dark"]
        );
        // Nothing else failed: one neutral code.
        assert_eq!(r(&["user_unknown"]), ["identity_not_confirmed"]);
        assert_eq!(
            r(&["document_birth_date_missing"]),
            ["identity_not_confirmed"]
        );
        assert_eq!(r(&["device_not_trusted"]), ["device_not_trusted"]);
        assert!(r(&[]).is_empty());
    }

    #[test]
    fn rows_with_unknown_names_are_refused() {
        assert!(row("password", "managed", "returning", Verdict::Approve)
            .check()
            .is_ok());
        assert!(row("*", "*", "*", Verdict::Approve).check().is_ok());
        assert!(row("passwd", "managed", "*", Verdict::Approve)
            .check()
            .is_err());
        assert!(row("*", "trusted", "*", Verdict::Approve).check().is_err());
        assert!(row("*", "*", "new", Verdict::Approve).check().is_err());
    }

    #[test]
    fn rows_parse_from_toml() {
        #[derive(Deserialize)]
        struct T {
            table: Vec<PolicyRow>,
        }
        let t: T = toml::from_str(
            "[[table]]\naction = \"*\"\ntier = \"unmanaged\"\nuser = \"returning\"\nverdict = \"approve_notify_delay\"\n",
        )
        .unwrap();
        assert_eq!(t.table[0].verdict, Verdict::ApproveNotifyDelay);
        assert!(toml::from_str::<T>(
            "[[table]]\naction = \"*\"\ntier = \"*\"\nuser = \"*\"\nverdict = \"allow\"\n"
        )
        .is_err());
    }
}
