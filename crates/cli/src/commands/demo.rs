//! `reclaim demo`: a whole recovery, end to end, on this machine, with nothing to set
//! up; then the same person's return with a selfie alone.
//!
//! It starts the real server (SQLite in a temporary directory, the embedded demo
//! directory, the real models) and plays the app against it over HTTP: it registers a
//! device key, starts a session, photographs a synthetic passport printed with the
//! sample portrait, films a selfie that follows the server's challenge (the sample photo
//! lifted onto a 3D head), runs the engine as the app would, signs the attestation,
//! uploads the evidence for the server's own run, receives the grant, resets the password,
//! proves the directory takes the new one; then comes back for an MFA reset with a selfie
//! alone, which the server compares with the template it enrolled (sealed) at the first
//! reset; and verifies the audit chain. Frames come from
//! files, so the attestation says "file-backed camera", which the demo's policy accepts
//! and says so.

use std::time::Instant;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reclaim_client::api::EvidenceItem;
use reclaim_client::attestation::{claims, AttestationInput};
use reclaim_client::frames::CameraInfo;
use reclaim_docgen::portrait::printed_portrait;
use reclaim_docgen::sample::random_spec;
use reclaim_docgen::{photograph, render, DocKind, Level, Rng};
use reclaim_document::Date;
use reclaim_facegen::{sequence, HeadModel};
use reclaim_protocol::{sign_attestation, DeviceKey, RecoveryAction};
use reclaim_server::engine::{shipped_model_digests, ServerEngine};
use reclaim_server::{audit, App, Config};
use reclaim_verify::decision::{Decision, Verification, Verifier, VerifyRequest};
use reclaim_verify::liveness::{Action, LivenessPolicy, TimedFrame};
use reclaim_verify::{load_image_bytes, ImageLimits};
use serde_json::{json, Value};

use crate::output::{fail, say, Outcome};

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
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            return fail(
                false,
                "runtime_failed",
                &format!("cannot start the runtime: {e}"),
            )
        }
    };
    match rt.block_on(demo(args)) {
        Ok(()) => Outcome::Yes,
        Err(message) => fail(false, "demo_failed", &message),
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

/// A sample photo and the face the engine finds in it.
fn sample_face(
    engine: &ServerEngine,
    jpeg: &[u8],
) -> Result<(image::RgbImage, reclaim_verify::face::DetectedFace), String> {
    let photo = load_image_bytes(jpeg, &ImageLimits::default())
        .map_err(|e| e.to_string())?
        .rgb;
    let face = engine
        .faces
        .analyze(&photo)
        .map_err(|e| e.to_string())?
        .face
        .ok_or("no face in a sample photo")?;
    Ok((photo, face))
}

/// A selfie that follows `challenge`: a sample photo lifted onto a head and turned.
fn film_selfie(
    engine: &ServerEngine,
    photo_jpeg: &[u8],
    challenge: &[String],
    seed: u64,
) -> Result<Vec<(Vec<u8>, u64)>, String> {
    let (photo, face) = sample_face(engine, photo_jpeg)?;
    let model = HeadModel::new(&photo, face.landmarks, face.bbox).map_err(|e| e.to_string())?;
    let actions = sequence::parse_challenge(&challenge.join(",")).map_err(|e| e.to_string())?;
    let frames = sequence::genuine(&model, &actions, sequence::DEFAULT_FPS, &mut Rng::new(seed))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for f in &frames {
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90)
            .encode_image(&f.image)
            .map_err(|e| e.to_string())?;
        out.push((bytes, f.timestamp_ms));
    }
    Ok(out)
}

/// The app's own run of the engine, on exactly what it uploads.
fn device_run(
    engine: &ServerEngine,
    id_jpeg: Option<&[u8]>,
    selfie: &[(Vec<u8>, u64)],
    challenge: &[String],
) -> Result<Verification, String> {
    let limits = ImageLimits::default();
    let id_image = id_jpeg
        .map(|b| load_image_bytes(b, &limits).map(|i| i.rgb))
        .transpose()
        .map_err(|e| e.to_string())?;
    let decoded: Vec<_> = selfie
        .iter()
        .map(|(b, _)| load_image_bytes(b, &limits).map(|i| i.rgb))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let timed: Vec<TimedFrame> = decoded
        .iter()
        .zip(selfie)
        .map(|(image, (_, t))| TimedFrame {
            image,
            timestamp_ms: *t,
        })
        .collect();
    let engine_challenge: Vec<Action> = challenge.iter().filter_map(|a| a.parse().ok()).collect();
    Verifier {
        faces: &engine.faces,
        documents: Some(&engine.documents),
        liveness: LivenessPolicy::default(),
        passive: None,
        threads: 2,
    }
    .verify(&VerifyRequest {
        id_front: id_image.as_ref(),
        id_back: None,
        enrolled: None,
        selfies: &timed,
        challenge: &engine_challenge,
        seen_hashes: &[],
        skip_liveness: false,
        today: Date::today_utc().ok_or("the clock gives no date")?,
    })
    .map_err(|e| e.to_string())
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
    let mut items = Vec::new();
    if let Some(id) = id_jpeg {
        items.push(EvidenceItem {
            name: "id_front".into(),
            t_ms: None,
            data: id.to_vec(),
        });
    }
    for (i, (bytes, t)) in selfie.iter().enumerate() {
        items.push(EvidenceItem {
            name: format!("selfie_{i:02}"),
            t_ms: Some(*t),
            data: bytes.clone(),
        });
    }
    let evidence: Vec<Value> = items
        .iter()
        .map(|e| {
            let mut item = json!({ "name": e.name, "data": STANDARD.encode(&e.data) });
            if let Some(t) = e.t_ms {
                item["t_ms"] = json!(t);
            }
            item
        })
        .collect();
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

    // The device: a fresh key, registered on first use as unmanaged, so the server will
    // insist on the evidence and re-verify it.
    let key = DeviceKey::generate()?;
    let (status, body) = post(
        &client,
        &format!("{base}/v1/devices"),
        None,
        &json!({ "public_key": key.public().to_base64(), "name": "demo laptop" }),
    )
    .await?;
    expect(status, &body, 201, "device registration")?;
    steps.step(&format!(
        "device key {} registered ({})",
        key.key_id(),
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
    let (portrait_photo, portrait_face) = sample_face(&engine, PORTRAIT_JPEG)?;
    let today = Date::today_utc().ok_or("the clock gives no date")?;
    let mut rng = Rng::new(2026);
    let mut spec = random_spec(
        DocKind::Td3,
        &mut rng,
        printed_portrait(&portrait_photo, portrait_face.bbox, 350, 450, None),
        today,
    );
    spec.holder.surname = "QUINN".into();
    spec.holder.given_names = "AVERY".into();
    let document = render(&spec).map_err(|e| e.to_string())?;
    let degradation = Level::Mild.degradation(&mut rng, 1600, 1200);
    let id_jpeg = photograph(&document.front, &degradation, &mut rng)
        .and_then(|p| p.jpeg)
        .ok_or("the passport could not be photographed")?;
    steps.step(&format!(
        "photo ID: passport for AVERY QUINN, {} KB JPEG",
        id_jpeg.len() / 1024
    ));

    let selfie = film_selfie(&engine, SELFIE_JPEG, &session.challenge, 7)?;
    steps.step(&format!(
        "selfie: {} frames following the challenge",
        selfie.len()
    ));

    let verification = device_run(&engine, Some(&id_jpeg), &selfie, &session.challenge)?;
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
    let decision = attest(
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
    .await?;
    let grant = text(&decision, "grant")?.to_string();
    steps.step(&format!(
        "server decision: approved after re-verifying the evidence itself (reverified: {}); single-use grant issued",
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
    let verification = device_run(&engine, None, &selfie, &session.challenge)?;
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
    let decision = attest(
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
    .await?;
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
