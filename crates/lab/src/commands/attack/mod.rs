//! `reclaim-lab attack --server URL`: the attacker's own client, played against a running
//! server.
//!
//! Everything here is what an attacker can do with the project's source, one photo of the
//! victim's face, their login and name, and HTTP: register a device key of their own,
//! render a passport for the victim's name with the photo as its portrait, render a
//! "selfie" that follows whatever challenge the server picks (the one photo lifted onto a
//! 3D head), declare whatever camera they like, run the engine themselves or simply claim
//! that it said "verified", and sign it all. Nothing here uses the server's database or
//! configuration: only its public HTTP interface, as a stranger would.
//!
//! Each attack is a row of the printed table: what was tried, the device tier it was tried
//! from, what the server answered, and what a safe deployment must answer. The command
//! exits 0 when no attack obtained a reset grant, 1 when one did, 2 when it could not run
//! (bad arguments, models missing, the server unreachable, or an attack that could not be
//! judged because the server failed).
//!
//! When an attack does obtain a grant, the suite uses it (that is the "reused grant" row):
//! against a real deployment this CHANGES THE VICTIM'S PASSWORD, so run it against a test
//! account. See docs/security.md.
//!
//! This file holds the command (arguments, the order of the attacks, the table, the exit
//! code); the attacker's common moves are in [`http`], [`session`], [`claims`] and
//! [`renders`]; each attack is in its own file, whose comment says what it tries and which
//! layer of the server should stop it.

mod claims;
mod face_swap;
mod forged_signature;
mod http;
mod oversized;
mod renders;
mod replay;
mod returning_user;
mod reused_grant;
mod session;
mod stolen_key;
mod synthetic_render;

use reclaim_protocol::Code;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use image::RgbImage;
use reclaim_cli::commands::compare::CommonFlags;
use reclaim_document::Date;
use reclaim_protocol::{DeviceKey, RecoveryAction};
use reclaim_server::models::shipped_model_digests;
use reclaim_verify::liveness::replay::SeenSession;
use reclaim_verify::{load_image_bytes, ImageLimits};
use serde::Serialize;
use serde_json::{json, Value};

use self::claims::{virtual_camera, webcam};
use self::http::{Answer, Http};
use self::session::Started;
use self::stolen_key::{read_stolen, Stolen};
use super::scenes::{self, Frames};
use crate::output::{fail, fail_with, print_json, say, Exit};
use reclaim_verify::Engines;

/// The demo directory's account holder and a photo of her face (tests/data/faces; credits
/// there): what `reclaim-lab demo` recovers, so the suite runs against a demo server as is.
const DEFAULT_PHOTO: &[u8] = include_bytes!("../../../../../tests/data/faces/ardern-1.jpg");
/// Someone else, for the sequence that changes person halfway.
const OTHER_PERSON: &[u8] = include_bytes!("../../../../../tests/data/faces/obama-1.jpg");
/// Largest photo file read from `--victim-photo`.
const MAX_PHOTO_BYTES: u64 = 32 * 1024 * 1024;

#[derive(clap::Args)]
pub struct AttackArgs {
    /// The server under test, e.g. https://reclaim.example.com (plain http: this machine).
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// The account the attacker wants.
    #[arg(long, value_name = "LOGIN", default_value = "avery.quinn")]
    pub victim: String,
    /// One photo of the victim's face (default: the demo account holder's).
    #[arg(long, value_name = "PATH")]
    pub victim_photo: Option<PathBuf>,
    /// The name the attacker prints on the fake passport, "SURNAME, GIVEN NAMES".
    #[arg(long, value_name = "NAME", default_value = "QUINN, AVERY")]
    pub victim_name: String,
    /// The victim's birth date (YYYY-MM-DD) if the attacker knows it; printed on the passport.
    #[arg(long, value_name = "DATE")]
    pub victim_birth_date: Option<String>,
    /// A device key file taken from a registered device: a software key (Ed25519 seed,
    /// hex) is used as is; a public key (base64, as `reclaim device list` shows it) stands
    /// for a key the attacker cannot use, such as one held in a TPM.
    #[arg(long, value_name = "FILE")]
    pub stolen_key: Option<PathBuf>,
    /// Longest wait, in seconds, the suite accepts when the server says "try again later"
    /// (the biometric lockout after a run of failures); beyond it the attack is reported
    /// as stopped by the limit.
    #[arg(long, value_name = "SECONDS", default_value_t = 150)]
    pub max_wait: u64,
    #[command(flatten)]
    pub common: CommonFlags,
}

/// What one attack came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum RowOutcome {
    /// A step returned a reset grant.
    Grant,
    /// Refused (or never reached the decision, see `ran`).
    Refused,
    /// Sent to a person: no grant.
    Review,
    /// The server failed (5xx) or could not be reached: the attack was not judged.
    Error,
}

impl RowOutcome {
    fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Grant => "GRANT",
            RowOutcome::Refused => "refused",
            RowOutcome::Review => "review",
            RowOutcome::Error => "error",
        }
    }
}

/// One request an attack made and what the server said. Never holds a secret: grants,
/// tokens and passwords are kept out of it.
#[derive(Debug, Clone, Serialize)]
struct Step {
    what: String,
    /// HTTP status; absent when the request did not get an answer.
    status: Option<u16>,
    /// `approved`, `rejected`, `review` (a decision), or the error code of a refusal.
    answer: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reasons: Vec<String>,
    /// Whether this answer carried a reset grant.
    grant: bool,
    /// The answer's other plain fields (secrets and links left out).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    fields: BTreeMap<String, Value>,
}

impl Step {
    fn local(what: &str, answer: &str) -> Step {
        Step {
            what: what.into(),
            status: None,
            answer: answer.into(),
            reasons: Vec::new(),
            grant: false,
            fields: BTreeMap::new(),
        }
    }

    /// What the attacker's side could not do (render, sign, ...): nothing was sent.
    fn attacker_failed(what: &str, error: &str) -> Step {
        Step::local(what, &format!("attacker failed: {error}"))
    }

    fn summary(&self) -> String {
        let mut s = match self.status {
            Some(code) => format!("{code} {}", self.answer),
            None => self.answer.clone(),
        };
        if !self.reasons.is_empty() {
            s.push_str(&format!(" ({})", self.reasons.join(", ")));
        }
        s
    }
}

/// A step from a server answer. Keys that could hold a secret or a link are left out.
fn step_of(what: &str, answer: &Answer) -> Step {
    let body = &answer.body;
    let grant = body["grant"].as_str().is_some_and(|g| !g.is_empty());
    // A decision names its outcome, a refusal its error code, a reset its status
    // (`completed`, `scheduled`, `pending`).
    let label = body["outcome"]
        .as_str()
        .or_else(|| body["error"].as_str())
        .or_else(|| body["status"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| {
            if (200..300).contains(&answer.status) {
                "ok".into()
            } else {
                "no error code".into()
            }
        });
    let reasons = body["reasons"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut fields = BTreeMap::new();
    if let Some(map) = body.as_object() {
        for (k, v) in map {
            let secret_like = [
                "grant", "token", "secret", "password", "link", "url", "nonce",
            ]
            .iter()
            .any(|s| k.contains(s));
            let plain = matches!(v, Value::Bool(_) | Value::Number(_) | Value::String(_));
            if !secret_like && plain && !matches!(k.as_str(), "outcome" | "error" | "status") {
                let v = match v {
                    Value::String(s) => Value::String(s.chars().take(200).collect()),
                    other => other.clone(),
                };
                fields.insert(k.clone(), v);
            }
        }
    }
    Step {
        what: what.into(),
        status: Some(answer.status),
        answer: label,
        reasons,
        grant,
        fields,
    }
}

#[derive(Debug, Clone, Serialize)]
struct Row {
    id: &'static str,
    attack: String,
    tier: String,
    outcome: RowOutcome,
    expected: String,
    /// Whether the attack reached the server's decision (false: not applicable, or
    /// stopped before, e.g. by a rate limit; see `note`).
    ran: bool,
    /// The deciding answer, as `status answer (reasons)`.
    server_answer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    steps: Vec<Step>,
}

/// What most rows expect.
const NO_GRANT: &str = "no grant";

/// The row's outcome from its steps: a grant anywhere is a grant; otherwise the last
/// answer decides.
fn finish(
    id: &'static str,
    attack: &str,
    tier: &str,
    expected: &str,
    steps: Vec<Step>,
    note: Option<String>,
) -> Row {
    let last = steps.last();
    let outcome = if steps.iter().any(|s| s.grant) {
        RowOutcome::Grant
    } else {
        match last {
            Some(s) if s.answer == "review" => RowOutcome::Review,
            Some(s)
                if s.status.is_none_or(|c| c >= 500) && !s.answer.starts_with("not reached") =>
            {
                RowOutcome::Error
            }
            _ => RowOutcome::Refused,
        }
    };
    let deciding = steps
        .iter()
        .find(|s| s.grant)
        .or(last)
        .map(Step::summary)
        .unwrap_or_default();
    // Played: the last attestation got an answer other than "try again later".
    let ran = steps
        .iter()
        .rev()
        .find(|s| s.what.starts_with("attestation"))
        .is_some_and(|s| s.status != Some(429));
    Row {
        id,
        attack: attack.into(),
        tier: tier.into(),
        outcome,
        expected: expected.into(),
        ran,
        server_answer: deciding,
        note,
        steps,
    }
}

fn join_note(note: Vec<String>) -> Option<String> {
    (!note.is_empty()).then(|| note.join("; "))
}

/// A capture an attack filmed and sent, kept for the replay.
struct Recording {
    challenge: Vec<String>,
    id_jpeg: Option<Vec<u8>>,
    frames: Frames,
}

/// A grant some attack obtained; the secret is never printed.
struct Obtained {
    row: &'static str,
    action: RecoveryAction,
    secret: String,
}

/// Who the attacker wants to be.
struct Victim {
    login: String,
    surname: String,
    given: String,
    birth: Option<Date>,
}

/// The attacker's state across the attacks: what later rows use of earlier ones.
struct Attacker {
    http: Http,
    /// The engine the attacker runs on their own machine: to know where the face is in
    /// the photo, and to check their renders pass before sending them.
    engine: Engines,
    /// The attacker's own device key, registered by itself over HTTP.
    key: DeviceKey,
    key_tier: String,
    victim: Victim,
    photo: RgbImage,
    other: RgbImage,
    models: BTreeMap<String, String>,
    max_wait: Duration,
    waited: Duration,
    seed: u64,
    grants: Vec<Obtained>,
    recording: Option<Recording>,
    /// What the server keeps of each capture sent so far (face and frame hashes, motion,
    /// and whether it was approved), as the attacker's own engine computes it: the server
    /// refuses a capture that replays a kept one, as seen or mirrored, or shows frames
    /// seen in an approved one, so the attacker checks its renders against them all.
    sent: Vec<SeenSession>,
    /// Photo variants used so far: each render starts from a variant not used before
    /// ([`renders::variant`]).
    variants_used: u32,
    /// A session an attack left open (refused before its nonce was spent), with the
    /// device and action it was started for: the next attack that needs the same uses it
    /// rather than start another (sessions per account are limited).
    spare: Option<(String, RecoveryAction, Started)>,
}

impl Attacker {
    /// Every attack in turn. The order matters only for what later rows can use: the
    /// replay uses the first row's recording, the reused-grant row the first grant any
    /// row obtained, and the returning-user row needs a template someone enrolled.
    async fn play(&mut self, stolen: Option<&Stolen>, json: bool) -> Vec<Row> {
        let mut rows = Vec::new();
        let mut record = |row: Row| {
            if !json {
                say!(
                    "  {:<8} {}: {}",
                    row.outcome.as_str(),
                    row.attack,
                    row.server_answer
                );
            }
            rows.push(row);
        };
        let registration = self.register().await;
        record(
            self.first_time(
                "synthetic_render_first_time",
                "synthetic render takeover, first-time",
                webcam(),
                registration,
            )
            .await,
        );
        record(self.forged_signature(stolen).await);
        if let Some(Stolen::Software(key)) = stolen {
            record(self.stolen_software_key(key).await);
        }
        record(
            self.first_time(
                "virtual_camera_declared",
                "virtual camera declared honestly",
                virtual_camera(),
                Vec::new(),
            )
            .await,
        );
        record(self.replay().await);
        record(self.face_swap().await);
        record(self.oversized().await);
        record(self.reused_grant().await);
        record(self.returning_user().await);
        rows
    }
}

pub fn run(args: AttackArgs) -> Exit {
    let rt = match super::runtime(args.common.json) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    rt.block_on(attack(args))
}

fn parse_name(text: &str) -> Option<(String, String)> {
    let (surname, given) = text.split_once(',')?;
    let (surname, given) = (surname.trim(), given.trim());
    (!surname.is_empty() && !given.is_empty()).then(|| (surname.to_string(), given.to_string()))
}

async fn attack(args: AttackArgs) -> Exit {
    let json = args.common.json;
    let Some((surname, given)) = parse_name(&args.victim_name) else {
        return fail(
            json,
            Code::VictimNameInvalid,
            "--victim-name must read \"SURNAME, GIVEN NAMES\"",
        );
    };
    let birth = match args.victim_birth_date.as_deref().map(Date::parse_iso) {
        None => None,
        Some(Some(d)) => Some(d),
        Some(None) => {
            return fail(
                json,
                Code::BirthDateInvalid,
                "--victim-birth-date must be YYYY-MM-DD",
            )
        }
    };
    if args.victim.trim().is_empty() {
        return fail(json, Code::VictimInvalid, "--victim must name an account");
    }
    let limits = ImageLimits {
        max_file_bytes: MAX_PHOTO_BYTES,
        ..ImageLimits::default()
    };
    let photo = match &args.victim_photo {
        None => load_image_bytes(DEFAULT_PHOTO, &limits),
        Some(p) => reclaim_verify::load_image_file(p, &limits),
    };
    let photo = match photo {
        Ok(p) => p.rgb,
        Err(e) => return fail_with(json, "--victim-photo", &e),
    };
    let other = match load_image_bytes(OTHER_PERSON, &limits) {
        Ok(p) => p.rgb,
        Err(e) => return fail_with(json, "the second sample photo", &e),
    };
    let stolen = match args.stolen_key.as_deref().map(read_stolen).transpose() {
        Ok(s) => s,
        Err(e) => return fail(json, Code::StolenKeyUnreadable, &e),
    };
    let http = match Http::new(&args.server) {
        Ok(h) => h,
        Err(e) => return fail(json, Code::ServerInvalid, &e),
    };
    match http.send("/healthz", None, None).await {
        Ok(a) if a.status < 500 => {}
        Ok(a) => {
            return fail(
                json,
                Code::ServerUnreachable,
                &format!("{}/healthz answered HTTP {}", http.base, a.status),
            )
        }
        Err(e) => return fail(json, Code::ServerUnreachable, &e),
    }
    let engine = match scenes::load_engine(args.common.models.as_deref()) {
        Ok(e) => e,
        Err(e) => return fail_with(json, "models", &e),
    };
    if let Err(e) = scenes::face_in(&engine, &photo) {
        return fail(
            json,
            Code::VictimPhotoUnusable,
            &format!("--victim-photo: {e}"),
        );
    }
    let models = match shipped_model_digests() {
        Ok(m) => m,
        Err(e) => return fail(json, Code::ModelManifestInvalid, &e),
    };
    let key = match DeviceKey::generate() {
        Ok(k) => k,
        Err(e) => return fail(json, Code::NoRandomness, &e),
    };
    let mut attacker = Attacker {
        http,
        engine,
        key,
        key_tier: "unmanaged".into(),
        victim: Victim {
            login: args.victim.trim().to_string(),
            surname,
            given,
            birth,
        },
        photo,
        other,
        models,
        max_wait: Duration::from_secs(args.max_wait),
        waited: Duration::ZERO,
        seed: unique_seed(),
        grants: Vec::new(),
        recording: None,
        sent: Vec::new(),
        variants_used: 0,
        spare: None,
    };
    if !json {
        say!(
            "reclaim-lab attack: the attacker's own client against {} (victim {})",
            attacker.http.base,
            attacker.victim.login
        );
    }
    let started = Instant::now();
    let rows = attacker.play(stolen.as_ref(), json).await;
    let grants = rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Grant)
        .count();
    let errors = rows
        .iter()
        .filter(|r| r.outcome == RowOutcome::Error)
        .count();
    if json {
        print_json(&json!({
            "server": attacker.http.base,
            "victim": attacker.victim.login,
            "grants": grants,
            "errors": errors,
            "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "rows": rows,
        }));
    } else {
        print_table(&rows);
        if grants > 0 {
            say!(
                "{grants} attack(s) obtained a reset grant: this deployment can be taken over (see docs/security.md)"
            );
        } else {
            say!("no attack obtained a reset grant");
        }
        if attacker.grants.iter().any(|g| g.row != "reused_grant") {
            say!("note: a grant was used, so the victim's account was changed: restore it");
        }
    }
    if grants > 0 {
        Exit::No
    } else if errors > 0 {
        eprintln!("reclaim: {errors} attack(s) could not be judged (the server failed or was unreachable)");
        Exit::Failed
    } else {
        Exit::Yes
    }
}

fn unique_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

fn print_table(rows: &[Row]) {
    let headers = [
        "#",
        "attack",
        "tier",
        "outcome",
        "expected",
        "server answered",
    ];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut answer = r.server_answer.clone();
            if let Some(n) = &r.note {
                answer = format!("{answer}; {n}");
            }
            [
                (i + 1).to_string(),
                r.attack.clone(),
                r.tier.clone(),
                r.outcome.as_str().to_string(),
                r.expected.clone(),
                answer,
            ]
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row.iter()).take(5) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::new();
        for (i, cell) in c.iter().enumerate() {
            if i < 5 {
                s.push_str(&format!("{:<w$}  ", cell, w = widths[i]));
            } else {
                s.push_str(cell);
            }
        }
        s
    };
    say!(
        "{}",
        line(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>())
    );
    for row in &cells {
        say!("{}", line(row));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_surname_comma_given() {
        assert_eq!(
            parse_name("QUINN, AVERY"),
            Some(("QUINN".into(), "AVERY".into()))
        );
        assert_eq!(parse_name("QUINN"), None);
        assert_eq!(parse_name(", AVERY"), None);
    }

    #[test]
    fn steps_never_keep_secrets() {
        let answer = Answer {
            status: 200,
            body: json!({ "outcome": "approved", "grant": "rg_secret", "grant_expires_at": 5,
                          "reverified": true, "cancel_link": "https://x/y" }),
            retry_after: None,
        };
        let step = step_of("attestation", &answer);
        assert!(step.grant);
        let text = serde_json::to_string(&step).unwrap();
        assert!(
            !text.contains("rg_secret") && !text.contains("https://x/y"),
            "{text}"
        );
        assert_eq!(step.fields.get("reverified"), Some(&json!(true)));
    }
}
