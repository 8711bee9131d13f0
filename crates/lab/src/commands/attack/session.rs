//! Sessions and attestations as the attacker's client sends them: its own device
//! registered, sessions started for the victim, attestations sent, and the server's
//! "try again later" waited out while `--max-wait` allows.

use std::time::Duration;

use reclaim_client::api::EvidenceFile;
use reclaim_protocol::RecoveryAction;
use serde_json::json;

use super::http::Answer;
use super::{scenes, step_of, Attacker, Obtained, Step};

/// A session as the server started it.
pub(super) struct Started {
    pub(super) id: String,
    pub(super) token: String,
    pub(super) nonce: String,
    pub(super) challenge: Vec<String>,
    /// What the server asks for: `document`, `selfie`.
    steps: Vec<String>,
    /// Who the attestation must be addressed to.
    pub(super) audience: String,
}

impl Started {
    pub(super) fn needs_document(&self) -> bool {
        self.steps.iter().any(|s| s == "document")
    }
}

impl Attacker {
    /// `POST /v1/devices` with the attacker's own key.
    pub(super) async fn register(&mut self) -> Vec<Step> {
        let body = json!({ "public_key": self.key.public().to_base64(), "name": "my laptop" });
        match self.http.post("/v1/devices", None, &body).await {
            Ok(a) => {
                if let Some(t) = a.body["tier"].as_str() {
                    self.key_tier = t.to_string();
                }
                vec![step_of("device registration (self)", &a)]
            }
            Err(e) => vec![Step::local("device registration (self)", &e)],
        }
    }

    /// Waits out a "try again later" when it fits in what is left of `--max-wait`.
    async fn wait_for(&mut self, answer: &Answer) -> bool {
        if answer.status != 429 {
            return false;
        }
        let wait = Duration::from_secs(answer.retry_after.unwrap_or(30).max(1) + 1);
        if self.waited + wait > self.max_wait {
            return false;
        }
        self.waited += wait;
        tokio::time::sleep(wait).await;
        true
    }

    pub(super) async fn start(
        &mut self,
        action: RecoveryAction,
        device: &str,
        steps: &mut Vec<Step>,
    ) -> Option<Started> {
        if let Some((d, a, session)) = self.spare.take() {
            if d == device && a == action {
                steps.push(Step::local(
                    "session",
                    "the previous attack's session, still open after its refusal",
                ));
                return Some(session);
            }
            self.spare = Some((d, a, session));
        }
        let body =
            json!({ "login": self.victim.login, "action": action.as_str(), "device": device });
        loop {
            let answer = match self.http.post("/v1/sessions", None, &body).await {
                Ok(a) => a,
                Err(e) => {
                    steps.push(Step::local("session", &e));
                    return None;
                }
            };
            if self.wait_for(&answer).await {
                continue;
            }
            let mut step = step_of("session", &answer);
            if answer.status != 201 {
                steps.push(step);
                return None;
            }
            let text = |k: &str| answer.body[k].as_str().unwrap_or_default().to_string();
            let list = |k: &str| -> Vec<String> {
                answer.body[k]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let started = Started {
                id: text("session_id"),
                token: text("session_token"),
                nonce: text("nonce"),
                challenge: list("challenge"),
                steps: list("steps"),
                audience: text("audience"),
            };
            step.fields
                .insert("steps".into(), json!(started.steps.join(",")));
            step.fields
                .insert("challenge".into(), json!(started.challenge.join(",")));
            steps.push(step);
            if started.id.is_empty() || started.token.is_empty() || started.nonce.is_empty() {
                steps.push(Step::local(
                    "session",
                    "the server's session answer lacks an id, token or nonce",
                ));
                return None;
            }
            return Some(started);
        }
    }

    /// Sends one attestation; waits out a lockout once it fits. A grant is kept.
    pub(super) async fn send_attestation(
        &mut self,
        row: &'static str,
        what: &str,
        session: &Started,
        action: RecoveryAction,
        token: &str,
        evidence: &[EvidenceFile],
    ) -> Step {
        let body = json!({ "token": token, "evidence": scenes::evidence_json(evidence) });
        let path = format!("/v1/sessions/{}/attestation", session.id);
        loop {
            let answer = match self.http.post(&path, Some(&session.token), &body).await {
                Ok(a) => a,
                Err(e) => return Step::local(what, &e),
            };
            if self.wait_for(&answer).await {
                continue;
            }
            if let Some(g) = answer.body["grant"].as_str().filter(|g| !g.is_empty()) {
                self.grants.push(Obtained {
                    row,
                    action,
                    secret: g.to_string(),
                });
            }
            return step_of(what, &answer);
        }
    }
}
