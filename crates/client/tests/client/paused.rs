//! What the app says when the service pauses recovery after failed attempts
//! (`biometric_locked`, in every group of the UI's words the registry shows it in).
//!
//! The pause is counted for the username as typed on one channel (self-registered
//! devices apart from managed ones and hardware keys), or for a device or a network that
//! kept failing: never for the account. The sentence must not say "this account" (that
//! would be untrue, and would tell a stranger that the username names one), and must tell
//! the real person how to get through now: the IT walk-up kiosk or a company-managed
//! laptop, which a stranger's failures on their own device do not pause, or the helpdesk.

use reclaim_protocol::Code;
use serde_json::Value;

#[test]
fn a_paused_recovery_names_no_account_and_says_where_to_go() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../ui/i18n/en.json");
    let strings: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let code = Code::BiometricLocked;
    assert!(!code.groups().is_empty(), "the person is told");
    for group in code.groups().iter().map(|g| g.key()) {
        let e = &strings[group][code.as_str()];
        let text = format!(
            "{} {}",
            e["message"].as_str().unwrap(),
            e["advice"].as_str().unwrap()
        )
        .to_lowercase();
        assert!(
            !text.contains("account"),
            "{group}.biometric_locked: {text}"
        );
        for way in ["kiosk", "company-managed laptop", "helpdesk"] {
            assert!(
                text.contains(way),
                "{group}.biometric_locked does not name the {way}: {text}"
            );
        }
    }
}
