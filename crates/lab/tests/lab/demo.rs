//! `reclaim-lab demo`: the whole recovery it plays, step by step.

use crate::lab;

#[test]
fn the_demo_runs_a_whole_recovery() {
    let out = lab(&["demo"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "registered by an administrator (managed)",
        "registered itself (unmanaged)",
        "on-device verification: verified",
        "server decision for the self-registered device: refused (device_not_trusted)",
        "server decision for the managed laptop: approved after re-verifying the evidence itself (reverified: true)",
        "photo ID taken: the app's reader found it readable",
        "selfie recorded to the end of the challenge",
        "its answer lost on the way: the app keeps the grant",
        "directory accepts the new password",
        "the app sends the reset again with the same grant: already completed",
        "session: steps [\"selfie\"]",
        "server decision: approved against the enrolled template",
        "second factors removed in the directory",
        "audit chain verified",
        "recovery complete",
    ] {
        assert!(stdout.contains(step), "missing `{step}` in:\n{stdout}");
    }
}
