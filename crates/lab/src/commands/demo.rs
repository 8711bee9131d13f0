//! `reclaim demo`: a whole recovery, end to end, on this machine, with nothing to set
//! up; then the same person's return with a selfie alone.
//!
//! It starts the real server (SQLite in a temporary directory, the embedded demo
//! directory, the real models) and plays the app against it over HTTP, as a deployment
//! would see it: an administrator registers the laptop's key (managed), and a second
//! laptop nobody registered registers its own (unmanaged). It starts a session,
//! photographs a synthetic passport printed with the sample portrait, films a selfie that
//! follows the server's challenge (the sample photo lifted onto a 3D head), and runs the
//! engine as the app would. The same evidence, signed by the self-registered laptop, is
//! refused by the default policy (anyone with our code could have rendered it); signed by
//! the managed laptop, it is re-verified by the server's own engine and approved. Then the
//! grant, the password policy, the reset, the directory's check of the new password; then
//! an MFA reset with a selfie alone, compared with the template the server enrolled
//! (sealed) at the first reset; and the audit chain verified. Frames come from files, so
//! the attestation says "file-backed camera", which the demo's policy accepts and says so.

use reclaim_protocol::Code;
use std::time::Instant;

use reclaim_client::attestation::{claims, AttestationInput};
use reclaim_client::frames::CameraInfo;
use reclaim_protocol::{sign_attestation, DeviceKey, RecoveryAction};
use reclaim_server::devices::{self, Tier};
use reclaim_server::engine::shipped_model_digests;
use reclaim_server::{audit, App, Config};
use reclaim_verify::decision::{Decision, Verification};
use serde_json::{json, Value};

use super::scenes::{self, Holder};
use crate::output::{fail, say, Outcome};
use reclaim_verify::Engines;

/// The sample photographs (tests/data/faces; credits there): the ID portrait and the
/// first selfie are two different photos of one person; the second visit is filmed from
/// the portrait's photo.
const PORTRAIT_JPEG: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-2.jpg");
const SELFIE_JPEG: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-1.jpg");
const LOGIN: &str = "avery.quinn";
const NEW_PASSWORD: &str = "harbour lantern copper meadow 42";
const AUDIENCE: &str = "https://reclaim.demo.invalid";

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Keep the temporary directory (database, keys, directory file) and print its path.
    #[arg(long)]
    pub keep: bool,
    /// Model directory (default: the shipped models/).
    #[arg(long, value_name = "DIR")]
    pub models: Option<std::path::PathBuf>,
}

struct Steps {
    started: Instant,
    last: Instant,
}

impl Steps {
    fn step(&mut self, what: &str) {
        let now = Instant::now();
        say!(
            "  {:>7.0} ms  (+{:>6.0} ms)  {what}",
            now.duration_since(self.started).as_secs_f64() * 1e3,
            now.duration_since(self.last).as_secs_f64() * 1e3
        );
        self.last = now;
    }
}

pub fn run(args: DemoArgs) -> Outcome {
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    match rt.block_on(demo(args)) {
        Ok(()) => Outcome::Yes,
        Err(message) => fail(false, Code::DemoFailed, &message),
    }
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let mut steps = Steps {
        started: Instant::now(),
        last: Instant::now(),
    };
    let dir =
        std::env::temp_dir().join(format!("reclaim-demo-{}-{}", std::process::id(), unique()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run_demo(&args, &dir, &mut steps).await;
    if args.keep {
        say!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

async fn run_demo(args: &DemoArgs, dir: &std::path::Path, steps: &mut Steps) -> Result<(), String> {
    say!("Reclaim demo: a first recovery and a returning user's, end to end, on this machine");
    let models = args
        .models
        .as_ref()
        .map(|m| format!("models_dir = {:?}\n", m.display().to_string()))
        .unwrap_or_default();
    let config = Config::parse(&format!(
        r#"listen = "127.0.0.1:0"
public_url = "{AUDIENCE}"
data_key_file = {key:?}
{models}
[database]
url = "sqlite://{db}"
[directory]
kind = "demo"
file = {directory:?}
[policy]
# The demo's frames come from files: the attestation declares a file-backed camera,
# which production policy refuses.
allow_virtual_camera = true
"#,
        key = dir.join("data.key").display().to_string(),
        db = dir.join("reclaim.db").display(),
        directory = dir.join("directory.json").display().to_string(),
    ))
    .map_err(|e| e.to_string())?;
    let app = App::open(config).await.map_err(|e| e.to_string())?;
    let server = reclaim_server::start(app.clone())
        .await
        .map_err(|e| e.to_string())?;
    let base = format!("http://{}", server.addr);
    steps.step(&format!(
        "server started on {base} (SQLite in {}, demo directory, models loaded)",
        dir.display()
    ));
    let outcome = recover(&app, &base, steps).await;
    server.stop().await;
    outcome
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: &Value,
) -> Result<(u16, Value), String> {
    let mut request = client.post(url).json(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.map_err(|e| format!("{url}: {e}"))?;
    Ok((status, body))
}

fn expect(status: u16, body: &Value, want: u16, what: &str) -> Result<(), String> {
    if status == want {
        Ok(())
    } else {
        Err(format!("{what}: HTTP {status}: {body}"))
    }
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("the answer has no `{key}`: {v}"))
}

/// What the app holds for one session.
struct Started {
    id: String,
    token: String,
    nonce: String,
    challenge: Vec<String>,
    steps: Value,
}

async fn start(
    client: &reqwest::Client,
    base: &str,
    key: &DeviceKey,
    action: &str,
) -> Result<Started, String> {
    let (status, session) = post(
        client,
        &format!("{base}/v1/sessions"),
        None,
        &json!({ "login": LOGIN, "action": action, "device": key.key_id().as_str() }),
    )
    .await?;
    expect(status, &session, 201, "session")?;
    Ok(Started {
        id: text(&session, "session_id")?.to_string(),
        token: text(&session, "session_token")?.to_string(),
        nonce: text(&session, "nonce")?.to_string(),
        challenge: session["challenge"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        steps: session["steps"].clone(),
    })
}

/// A selfie that follows `challenge`, filmed from a sample photo lifted onto a head.
fn film_selfie(
    engine: &Engines,
    photo_jpeg: &[u8],
    challenge: &[String],
    seed: u64,
) -> Result<Vec<(Vec<u8>, u64)>, String> {
    let model = scenes::head(engine, &scenes::decode(photo_jpeg)?)?;
    scenes::film(&model, challenge, seed)
}

/// Signs what the device found and sends it with the evidence; the server's answer.
#[allow(clippy::too_many_arguments)]
async fn attest(
    client: &reqwest::Client,
    base: &str,
    key: &DeviceKey,
    session: &Started,
    action: RecoveryAction,
    id_jpeg: Option<&[u8]>,
    selfie: &[(Vec<u8>, u64)],
    verification: &Verification,
    steps: &mut Steps,
) -> Result<Value, String> {
    let items = scenes::evidence(id_jpeg, selfie);
    let evidence = scenes::evidence_json(&items);
    // The app's own builder: what the demo signs is what the app signs.
    let claims = claims(
        &AttestationInput {
            audience: AUDIENCE,
            session: &session.id,
            nonce: &session.nonce,
            user: LOGIN,
            action,
            camera: &CameraInfo {
                name: "demo sample images".into(),
                backend: "file".into(),
                virtual_device: false,
                file_backed: true,
            },
            models: shipped_model_digests()?,
            evidence: &items,
            // A returning user's selfie is compared with the template on the server.
            returning: id_jpeg.is_none(),
        },
        verification,
    )
    .map_err(|e| e.to_string())?;
    let jws = sign_attestation(&claims, key).map_err(|e| e.to_string())?;
    steps.step(&format!(
        "attestation signed (EdDSA, {} bytes) with {} evidence digests",
        jws.len(),
        claims.evidence.len()
    ));
    let (status, decision) = post(
        client,
        &format!("{base}/v1/sessions/{}/attestation", session.id),
        Some(&session.token),
        &json!({ "token": jws, "evidence": evidence }),
    )
    .await?;
    expect(status, &decision, 200, "attestation")?;
    Ok(decision)
}

fn approved(decision: Value) -> Result<Value, String> {
    if decision["outcome"] != "approved" {
        return Err(format!("the server did not approve: {decision}"));
    }
    Ok(decision)
}

async fn recover(app: &App, base: &str, steps: &mut Steps) -> Result<(), String> {
    let client = reqwest::Client::new();
    let engine = app
        .engine
        .clone()
        .ok_or("the demo needs the models (reverify is on)")?;

    // The company laptop: its key registered by an administrator, as `reclaim device
    // register` does. The tier is the server's record, never the device's claim.
    let key = DeviceKey::generate()?;
    let laptop = devices::register(
        &app.store,
        &app.keys,
        &key.public().to_base64(),
        "demo laptop",
        Tier::Managed,
        "admin:demo",
    )
    .await
    .map_err(|e| e.to_string())?;
    steps.step(&format!(
        "device key {} registered by an administrator ({})",
        laptop.key_id,
        laptop.tier.as_str()
    ));
    // A laptop nobody registered: it registers its own key, as anyone's client can.
    let stranger = DeviceKey::generate()?;
    let (status, body) = post(
        &client,
        &format!("{base}/v1/devices"),
        None,
        &json!({ "public_key": stranger.public().to_base64(), "name": "unknown laptop" }),
    )
    .await?;
    expect(status, &body, 201, "device registration")?;
    steps.step(&format!(
        "device key {} registered itself ({})",
        stranger.key_id(),
        text(&body, "tier")?
    ));

    say!("First recovery: a new password, with the photo ID and a selfie");
    let session = start(&client, base, &key, "reset_password").await?;
    steps.step(&format!(
        "session for {LOGIN}: steps {}, challenge {}",
        session.steps,
        session.challenge.join(" → ")
    ));

    // The ID: a passport printed with the sample portrait and the account holder's name,
    // photographed as a phone would.
    let holder = Holder {
        surname: "QUINN",
        given_names: "AVERY",
        birth_date: None,
    };
    let id_jpeg = scenes::passport(&engine, &scenes::decode(PORTRAIT_JPEG)?, &holder, 2026)?;
    steps.step(&format!(
        "photo ID: passport for AVERY QUINN, {} KB JPEG",
        id_jpeg.len() / 1024
    ));

    let selfie = film_selfie(&engine, SELFIE_JPEG, &session.challenge, 7)?;
    steps.step(&format!(
        "selfie: {} frames following the challenge",
        selfie.len()
    ));

    let verification =
        scenes::device_run(&engine, Some(&id_jpeg), &selfie, &session.challenge, &[])?;
    let face = verification.face_match.first();
    steps.step(&format!(
        "on-device verification: {} (face match {:.3} against {:.2}, liveness {})",
        if verification.decision == Decision::Verified {
            "verified"
        } else {
            "rejected"
        },
        face.and_then(|f| f.score).unwrap_or(0.0),
        face.map_or(0.0, |f| f.threshold),
        if verification
            .liveness
            .report
            .as_ref()
            .is_some_and(|r| r.live)
        {
            "live"
        } else {
            "not live"
        },
    ));
    if verification.decision != Decision::Verified {
        return Err(format!(
            "the device's engine rejected the sample: {:?}",
            verification.reasons
        ));
    }
    // The same evidence from the laptop nobody registered: whoever holds our code can
    // render a passport and a selfie like these, so the default policy does not let a
    // self-registered device recover an account on its own.
    let other = start(&client, base, &stranger, "reset_password").await?;
    let refused = attest(
        &client,
        base,
        &stranger,
        &other,
        RecoveryAction::ResetPassword,
        Some(&id_jpeg),
        &selfie,
        &verification,
        steps,
    )
    .await?;
    if refused["outcome"] != "rejected" || refused["reasons"] != json!([Code::DeviceNotTrusted]) {
        return Err(format!(
            "the self-registered device was not refused by policy: {refused}"
        ));
    }
    steps.step(&format!(
        "server decision for the self-registered device: refused (device_not_trusted): \"{}\"",
        refused["message"].as_str().unwrap_or_default()
    ));

    let decision = approved(
        attest(
            &client,
            base,
            &key,
            &session,
            RecoveryAction::ResetPassword,
            Some(&id_jpeg),
            &selfie,
            &verification,
            steps,
        )
        .await?,
    )?;
    let grant = text(&decision, "grant")?.to_string();
    steps.step(&format!(
        "server decision for the managed laptop: approved after re-verifying the evidence itself (reverified: {}); single-use grant issued",
        decision["reverified"]
    ));

    let (status, check) = post(
        &client,
        &format!("{base}/v1/password/check"),
        None,
        &json!({ "grant": grant, "password": "Password123!" }),
    )
    .await?;
    expect(status, &check, 200, "password check")?;
    let problems: Vec<&str> = check["problems"]
        .as_array()
        .map(|a| a.iter().filter_map(|p| p["code"].as_str()).collect())
        .unwrap_or_default();
    steps.step(&format!(
        "password check: \"Password123!\" refused ({})",
        problems.join(", ")
    ));

    let (status, reset) = post(
        &client,
        &format!("{base}/v1/resets"),
        None,
        &json!({ "grant": grant, "new_password": NEW_PASSWORD }),
    )
    .await?;
    expect(status, &reset, 200, "reset")?;
    steps.step("reset applied through the directory connector; face template enrolled (sealed)");

    let user = app
        .directory
        .find_user(LOGIN)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the demo user is missing")?;
    let accepted = app
        .directory
        .password_is(&user, NEW_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    let old = app
        .directory
        .password_is(&user, "the old forgotten passphrase")
        .await
        .map_err(|e| e.to_string())?;
    if !accepted || old {
        return Err("the directory does not hold the new password".into());
    }
    steps.step("directory accepts the new password; the old one no longer works");

    let (status, again) = post(
        &client,
        &format!("{base}/v1/resets"),
        None,
        &json!({ "grant": grant, "new_password": NEW_PASSWORD }),
    )
    .await?;
    expect(status, &again, 200, "retry")?;
    if again["already_completed"] != true {
        return Err(format!("a retry was not recognised as done: {again}"));
    }
    steps.step("retrying with the same grant changes nothing (already completed)");

    say!("Second recovery: the same person, back for an MFA reset, with a selfie alone");
    let session = start(&client, base, &key, "reset_mfa").await?;
    if session.steps != json!(["selfie"]) {
        return Err(format!(
            "a returning user should be asked for a selfie alone, not {}",
            session.steps
        ));
    }
    steps.step(&format!(
        "session: steps {}, challenge {}",
        session.steps,
        session.challenge.join(" → ")
    ));
    // Filmed from the other photo of the person: frames generated twice from one still
    // look alike enough for the server's replay check to refuse them, as it should.
    let selfie = film_selfie(&engine, PORTRAIT_JPEG, &session.challenge, 11)?;
    let verification = scenes::device_run(&engine, None, &selfie, &session.challenge, &[])?;
    // Without the template (it never leaves the server), the device can only check that
    // the person is live; the comparison is the server's.
    let live = verification
        .liveness
        .report
        .as_ref()
        .is_some_and(|r| r.live);
    steps.step(&format!(
        "selfie: {} frames; on-device liveness {}",
        selfie.len(),
        if live { "live" } else { "not live" }
    ));
    if !live {
        return Err(format!(
            "the device's liveness check failed: {:?}",
            verification.reasons
        ));
    }
    let decision = approved(
        attest(
            &client,
            base,
            &key,
            &session,
            RecoveryAction::ResetMfa,
            None,
            &selfie,
            &verification,
            steps,
        )
        .await?,
    )?;
    steps.step("server decision: approved against the enrolled template");
    let (status, reset) = post(
        &client,
        &format!("{base}/v1/resets"),
        None,
        &json!({ "grant": text(&decision, "grant")? }),
    )
    .await?;
    expect(status, &reset, 200, "MFA reset")?;
    steps.step("second factors removed in the directory; the user enrols new ones at sign-in");

    let report = audit::verify(&app.store, &app.keys)
        .await
        .map_err(|e| e.to_string())?;
    if !report.intact() {
        return Err(format!("the audit chain is broken: {:?}", report.problems));
    }
    steps.step(&format!(
        "audit chain verified: {} entries, head {}…",
        report.entries,
        &report.head_hash[..16]
    ));
    say!("recovery complete");
    Ok(())
}
