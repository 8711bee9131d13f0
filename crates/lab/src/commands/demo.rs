//! `reclaim-lab demo`: a whole recovery, end to end, on this machine, with nothing to set
//! up; then the same person's return with a selfie alone.
//!
//! It starts the real server (SQLite in a temporary directory, the embedded demo
//! directory, the real models) and plays the app against it over HTTP: the app's own core,
//! [`reclaim_client::recovery::Recovery`], with its on-device engine and a file-backed
//! camera ([`reclaim_client::frames::FileSource`]) playing what the person shows it. The
//! demo writes those scenes into its temporary directory: a synthetic passport printed
//! with the sample portrait and photographed as a phone would, and, once the server has
//! named the challenge, a selfie following it (the sample photo lifted onto a 3D head).
//! Everything the person does goes through `Recovery` as the app's buttons would: start,
//! take the ID when the reader finds it readable, record the selfie, submit (the app runs
//! its engine, signs the attestation and sends the evidence), check and set the password.
//!
//! Two laptops run the app. One's key was registered by an administrator (managed, as
//! `reclaim device register` does); the other registers its own key, as any copy of the
//! app does (unmanaged). The same person in front of the same camera is refused on the
//! self-registered laptop by the default policy (anyone with our code could have rendered
//! it), and approved on the managed one after the server re-verified the evidence with its
//! own engine. Then the password policy, the reset, and a reset whose answer is lost on
//! the way (the demo's relay drops it): the app keeps the grant and sends it again, and
//! the server, having applied it once, changes nothing. Then an MFA reset with a selfie
//! alone, compared with the template the server enrolled (sealed) at the first reset. The
//! administrator's side stays on the server: registering the managed key, the
//! directory's check of the new password, and the audit chain verified at the end.
//!
//! The camera is file-backed and its attestation says so, which the demo's policy accepts
//! (`allow_virtual_camera`) and production's refuses.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reclaim_client::api::{ApiClient, Timeouts};
use reclaim_client::flow::Screen;
use reclaim_client::frames::{sequence_name, FileSource};
use reclaim_client::recovery::{AppState, Recovery, Submission};
use reclaim_facegen::sequence::DEFAULT_FPS;
use reclaim_protocol::wire::decision::Outcome;
use reclaim_protocol::wire::sessions::Step;
use reclaim_protocol::{ChallengeAction, Code, DeviceKey, RecoveryAction};
use reclaim_server::devices::{self, Tier};
use reclaim_server::{audit, App, Config};
use reclaim_verify::Engines;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::scenes::{self, Holder};
use crate::output::{fail, say, Exit};

/// The sample photographs (tests/data/faces; credits there): the ID portrait and the
/// first selfie are two different photos of one person; the second visit is filmed from
/// the portrait's photo.
const PORTRAIT_JPEG: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-2.jpg");
const SELFIE_JPEG: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-1.jpg");
const LOGIN: &str = "avery.quinn";
const NEW_PASSWORD: &str = "harbour lantern copper meadow 42";
const WEAK_PASSWORD: &str = "Password123!";
/// The demo directory's seed password for the demo user.
const OLD_PASSWORD: &str = "the old forgotten passphrase";
const AUDIENCE: &str = "https://reclaim.demo.invalid";
/// How long the demo waits for the app's camera pipeline to find the ID readable or
/// the selfie recorded: far more than either takes, even on a busy machine.
const CAPTURE_WAIT: Duration = Duration::from_secs(120);

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Keep the temporary directory (database, keys, directory file, the camera's scenes)
    /// and print its path.
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

pub fn run(args: DemoArgs) -> Exit {
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    match rt.block_on(demo(args)) {
        Ok(()) => Exit::Yes,
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

async fn run_demo(args: &DemoArgs, dir: &Path, steps: &mut Steps) -> Result<(), String> {
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
[challenge]
# Files made before the session cannot answer its screen light.
light_steps = 0
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
    let relay = match Relay::start(&base).await {
        Ok(r) => r,
        Err(e) => {
            server.stop().await;
            return Err(e);
        }
    };
    let outcome = recover(&app, &base, &relay, args.models.as_deref(), dir, steps).await;
    relay.stop();
    server.stop().await;
    outcome
}

/// A laptop running the app's core against `url`, with `key` and the file-backed camera
/// playing `camera`, as the app starts with a file camera configured.
async fn laptop(
    url: &str,
    key: DeviceKey,
    engine: &Arc<Engines>,
    name: &str,
    camera: &Path,
) -> Result<Recovery, String> {
    let api = ApiClient::new(url, Timeouts::default()).map_err(|e| e.to_string())?;
    let mut app = Recovery::new(api, key, engine.clone(), false, 90, name);
    app.set_camera(Box::new(
        FileSource::open(camera, DEFAULT_FPS).map_err(|e| e.to_string())?,
    ));
    app.load_actions().await;
    Ok(app)
}

/// What the app shows, for a demo that stopped where it should not have.
fn showing(st: &AppState) -> String {
    let f = &st.flow;
    format!(
        "the app shows {:?} (reasons {:?}, error {:?}, password error {:?})",
        f.screen, f.reasons, f.error, f.password_error
    )
}

fn expect_screen(st: &AppState, want: Screen, what: &str) -> Result<(), String> {
    if st.flow.screen == want {
        Ok(())
    } else {
        Err(format!("{what}: {}", showing(st)))
    }
}

/// The steps as the server names them: `["document","selfie"]`.
fn step_names(steps: &[Step]) -> String {
    let names: Vec<String> = steps.iter().map(|s| format!("{:?}", s.as_str())).collect();
    format!("[{}]", names.join(","))
}

/// Films the person in `photo` following `challenge` into the camera's scenes
/// (`selfie/<challenge>/NNN.jpg`, played by the file-backed camera), unless that
/// challenge was filmed already; the number of frames.
fn film(
    engine: &Engines,
    photo: &[u8],
    challenge: &[ChallengeAction],
    seed: u64,
    camera: &Path,
) -> Result<usize, String> {
    let out = camera.join("selfie").join(sequence_name(challenge));
    if let Ok(entries) = std::fs::read_dir(&out) {
        let filmed = entries.count();
        if filmed > 0 {
            return Ok(filmed);
        }
    }
    let names: Vec<String> = challenge.iter().map(|a| a.as_str().to_string()).collect();
    let frames = scenes::film(
        &scenes::head(engine, &scenes::decode(photo)?)?,
        &names,
        seed,
    )?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (i, (jpeg, _)) in frames.iter().enumerate() {
        let path = out.join(format!("{i:03}.jpg"));
        std::fs::write(&path, jpeg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(frames.len())
}

/// The blocking waits for the camera pipeline, off the runtime's async workers (the
/// server runs on them).
fn wait_for(
    app: &Recovery,
    what: &str,
    until: impl Fn(&reclaim_client::guidance::Guidance) -> bool,
) -> Result<(), String> {
    if tokio::task::block_in_place(|| app.wait_for_guidance(CAPTURE_WAIT, until)) {
        Ok(())
    } else {
        Err(format!("the app's camera never {what}"))
    }
}

/// Starts a session for the demo user, as the start screen's button does; the app's
/// state, on the first capture step.
async fn start(
    app: &mut Recovery,
    action: RecoveryAction,
    session_line: &str,
    steps: &mut Steps,
) -> Result<AppState, String> {
    let st = app
        .start_recovery(LOGIN, action)
        .await
        .map_err(|e| e.to_string())?;
    if !matches!(st.flow.screen, Screen::Document | Screen::Selfie) {
        return Err(format!("the session did not start: {}", showing(&st)));
    }
    steps.step(&format!(
        "{session_line}: steps {}, challenge {}",
        step_names(&st.flow.steps),
        reclaim_protocol::named::joined(&st.flow.challenge, " → ")
    ));
    Ok(st)
}

/// The person at work: films themselves following the session's challenge, holds up the
/// ID (when asked) until the app takes it, records the selfie, and submits.
async fn capture_and_submit(
    app: &mut Recovery,
    st: &AppState,
    engine: &Engines,
    photo: &[u8],
    seed: u64,
    camera: &Path,
    steps: &mut Steps,
) -> Result<AppState, String> {
    let challenge = &st.flow.challenge;
    let frames = tokio::task::block_in_place(|| film(engine, photo, challenge, seed, camera))?;
    steps.step(&format!(
        "selfie: {frames} frames following the challenge, played by the file-backed camera"
    ));
    if st.flow.screen == Screen::Document {
        wait_for(app, "found the ID readable", |g| g.ready)?;
        let st = app.capture_document().map_err(|e| e.to_string())?;
        expect_screen(&st, Screen::Selfie, "after the ID")?;
        steps.step("photo ID taken: the app's reader found it readable");
    }
    app.start_selfie().map_err(|e| e.to_string())?;
    wait_for(app, "finished recording the selfie", |g| g.done)?;
    steps.step("selfie recorded to the end of the challenge");
    app.submit().await.map_err(|e| e.to_string())
}

/// What the app's engine found and what it signed and sent.
fn device_line(sub: &Submission) -> String {
    let mut line = format!(
        "on-device verification: {} (",
        if sub.device_verified {
            "verified"
        } else {
            "rejected"
        }
    );
    if let Some(f) = sub.face_match {
        line += &format!(
            "face match {:.3} against {:.2}, ",
            f.score.unwrap_or(0.0),
            f.threshold
        );
    }
    line += &format!("liveness {})", if sub.live { "live" } else { "not live" });
    if let Some(sent) = &sub.sent {
        line += &format!(
            "; attestation signed ({}, {} bytes) with {} evidence digests and sent",
            sent.algorithm, sent.token_bytes, sent.evidence
        );
    }
    line
}

/// The app's report of its last submission, which a verified capture always leaves.
fn submitted(app: &Recovery, st: &AppState) -> Result<Submission, String> {
    let sub = app.submission().cloned().ok_or_else(|| {
        format!(
            "the app's engine did not judge the capture: {}",
            showing(st)
        )
    })?;
    if !sub.device_verified {
        return Err(format!(
            "the app's engine rejected the sample: {:?}",
            sub.device_reasons
        ));
    }
    Ok(sub)
}

async fn recover(
    app: &App,
    base: &str,
    relay: &Relay,
    models: Option<&Path>,
    dir: &Path,
    steps: &mut Steps,
) -> Result<(), String> {
    // The app's own engine, loaded as the app loads it (the laptops share one, as two
    // windows of one app would). It also renders the scenes.
    let engine =
        Arc::new(tokio::task::block_in_place(|| Engines::load(models)).map_err(|e| e.to_string())?);
    steps.step("the app's on-device engine loaded (the same models the server re-verifies with)");

    // The company laptop: its key registered by an administrator, as `reclaim device
    // register` does. The tier is the server's record, never the device's claim.
    let key = DeviceKey::generate()?;
    let managed = devices::register(
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
        managed.key_id,
        managed.tier.as_str()
    ));

    say!("First recovery: a new password, with the photo ID and a selfie");
    // What the person holds up to the camera: a passport printed with the sample
    // portrait and the account holder's name, photographed as a phone would. Both laptops'
    // cameras see the same scenes.
    let camera = dir.join("camera");
    let holder = Holder {
        surname: "QUINN",
        given_names: "AVERY",
        birth_date: None,
    };
    let id_jpeg = tokio::task::block_in_place(|| {
        scenes::passport(&engine, &scenes::decode(PORTRAIT_JPEG)?, &holder, 2026)
    })?;
    std::fs::create_dir_all(&camera).map_err(|e| format!("{}: {e}", camera.display()))?;
    let id_path = camera.join("id_front.jpg");
    std::fs::write(&id_path, &id_jpeg).map_err(|e| format!("{}: {e}", id_path.display()))?;
    steps.step(&format!(
        "photo ID: passport for AVERY QUINN, {} KB JPEG, in front of the camera",
        id_jpeg.len() / 1024
    ));

    // A laptop nobody registered: the app registers its own key at its first session, as
    // anyone's copy can. Whoever holds our code can render a passport and a selfie like
    // these, so the default policy does not let a self-registered device recover an
    // account on its own.
    let stranger_key = DeviceKey::generate()?;
    let stranger_id = stranger_key.key_id();
    let mut stranger = laptop(base, stranger_key, &engine, "unknown laptop", &camera).await?;
    let st = start(
        &mut stranger,
        RecoveryAction::ResetPassword,
        &format!("self-registered laptop, session for {LOGIN}"),
        steps,
    )
    .await?;
    let tier = devices::find(&app.store, stranger_id.as_str())
        .await
        .map_err(|e| e.to_string())?
        .map(|d| d.tier.as_str())
        .ok_or("the self-registered laptop's key is not on the server")?;
    steps.step(&format!(
        "device key {stranger_id} registered itself ({tier}) as its session started"
    ));
    let st =
        capture_and_submit(&mut stranger, &st, &engine, SELFIE_JPEG, 7, &camera, steps).await?;
    let sub = submitted(&stranger, &st)?;
    steps.step(&device_line(&sub));
    let refused = sub.decision.as_ref();
    if st.flow.screen != Screen::Refused
        || refused.map(|d| (d.outcome, d.reasons.clone()))
            != Some((
                Outcome::Rejected,
                vec![Code::DeviceNotTrusted.as_str().to_string()],
            ))
    {
        return Err(format!(
            "the self-registered device was not refused by policy: {:?}; {}",
            refused,
            showing(&st)
        ));
    }
    steps.step(&format!(
        "server decision for the self-registered device: refused (device_not_trusted): \"{}\"",
        refused
            .and_then(|d| d.message.as_deref())
            .unwrap_or_default()
    ));
    stranger.start_over();

    // The managed laptop talks to the service through the demo's relay, which will lose
    // one answer.
    let mut company = laptop(&relay.url, key, &engine, "demo laptop", &camera).await?;
    let st = start(
        &mut company,
        RecoveryAction::ResetPassword,
        &format!("managed laptop, session for {LOGIN}"),
        steps,
    )
    .await?;
    let st = capture_and_submit(&mut company, &st, &engine, SELFIE_JPEG, 7, &camera, steps).await?;
    let sub = submitted(&company, &st)?;
    steps.step(&device_line(&sub));
    let decided = sub.decision.as_ref();
    if st.flow.screen != Screen::Password || decided.map(|d| d.outcome) != Some(Outcome::Approved) {
        return Err(format!(
            "the server did not approve: {decided:?}; {}",
            showing(&st)
        ));
    }
    steps.step(&format!(
        "server decision for the managed laptop: approved after re-verifying the evidence itself (reverified: {}); single-use grant issued",
        decided.is_some_and(|d| d.reverified)
    ));

    // The password screen checks what the person types against the policy the decision
    // named.
    let weak = company
        .check_password(WEAK_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    let good = company
        .check_password(NEW_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    if weak.acceptable || !good.acceptable {
        return Err(format!(
            "the password policy judged wrongly: {weak:?}, {good:?}"
        ));
    }
    let problems: Vec<&str> = weak.problems.iter().map(|p| p.code.as_str()).collect();
    steps.step(&format!(
        "password check: \"{WEAK_PASSWORD}\" refused ({}); the new passphrase accepted",
        problems.join(", ")
    ));

    // The reset goes through, but its answer is lost on the way back: the app has not
    // heard, keeps the grant and stays on the password screen.
    relay.lose_next_reset();
    let st = company
        .set_password(NEW_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    expect_screen(&st, Screen::Password, "after the lost answer")?;
    steps.step(&format!(
        "reset sent and applied through the directory connector (face template enrolled, sealed); its answer lost on the way: the app keeps the grant ({})",
        st.flow.password_error.as_deref().unwrap_or("no error shown")
    ));

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
        .password_is(&user, OLD_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    if !accepted || old {
        return Err("the directory does not hold the new password".into());
    }
    steps.step("directory accepts the new password; the old one no longer works");

    let st = company
        .set_password(NEW_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    expect_screen(&st, Screen::Done, "after sending the reset again")?;
    if !st.flow.result.as_ref().is_some_and(|r| r.already_completed) {
        return Err(format!(
            "a retry was not recognised as done: {:?}",
            st.flow.result
        ));
    }
    steps.step(
        "the app sends the reset again with the same grant: already completed, nothing changed",
    );
    // Done: the app forgets the person.
    company.start_over();

    say!("Second recovery: the same person, back for an MFA reset, with a selfie alone");
    // Another day, filmed from the other photo of the person: frames generated twice from
    // one still look alike enough for the server's replay check to refuse them, as it
    // should.
    let camera = dir.join("camera-return");
    std::fs::create_dir_all(&camera).map_err(|e| format!("{}: {e}", camera.display()))?;
    company.set_camera(Box::new(
        FileSource::open(&camera, DEFAULT_FPS).map_err(|e| e.to_string())?,
    ));
    let st = start(&mut company, RecoveryAction::ResetMfa, "session", steps).await?;
    if st.flow.steps != [Step::Selfie] {
        return Err(format!(
            "a returning user should be asked for a selfie alone, not {}",
            step_names(&st.flow.steps)
        ));
    }
    let st = capture_and_submit(
        &mut company,
        &st,
        &engine,
        PORTRAIT_JPEG,
        11,
        &camera,
        steps,
    )
    .await?;
    let sub = submitted(&company, &st)?;
    // Without the template (it never leaves the server), the app can only check that the
    // person is live; the comparison is the server's.
    steps.step(&device_line(&sub));
    if sub.decision.as_ref().map(|d| d.outcome) != Some(Outcome::Approved) {
        return Err(format!(
            "the server did not approve: {:?}; {}",
            sub.decision,
            showing(&st)
        ));
    }
    steps.step("server decision: approved against the enrolled template");
    expect_screen(&st, Screen::Done, "after the MFA reset")?;
    steps.step(
        "the app applied it at once: second factors removed in the directory; the user enrols new ones at sign-in",
    );
    company.start_over();

    let report = audit::verify(&app.store, &app.keys)
        .await
        .map_err(|e| e.to_string())?;
    if !report.intact() {
        return Err(format!("the audit chain is broken: {:?}", report.problems));
    }
    steps.step(&format!(
        "audit chain verified: {} entries, head {}…",
        report.entries,
        report.head_hash.get(..16).unwrap_or(&report.head_hash)
    ));
    say!("recovery complete");
    Ok(())
}

/// The network between the managed laptop and the service: each request passes through
/// unchanged, one per connection, except that after [`Relay::lose_next_reset`] the next
/// reset's answer is lost on the way back (the service applied it; the app never hears),
/// as a dropped connection or a proxy's timeout loses it.
struct Relay {
    url: String,
    lose_reset: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// The most of a request's head the relay reads: far more than the app sends.
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most of a request's body: an attestation's evidence is a few megabytes.
const MAX_BODY_BYTES: usize = 256 * 1024 * 1024;

impl Relay {
    async fn start(upstream: &str) -> Result<Relay, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("the demo's relay: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("the demo's relay: {e}"))?;
        let lose_reset = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the demo's relay: {e}"))?;
        let upstream = upstream.to_string();
        let lose = lose_reset.clone();
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (http, upstream, lose) = (http.clone(), upstream.clone(), lose.clone());
                tokio::spawn(async move {
                    // A request the relay cannot pass on ends its connection, which the
                    // app reports as the service unreachable.
                    let _ = pass(conn, &http, &upstream, &lose).await;
                });
            }
        });
        Ok(Relay {
            url: format!("http://{addr}"),
            lose_reset,
            task,
        })
    }

    fn lose_next_reset(&self) {
        self.lose_reset.store(true, Ordering::SeqCst);
    }

    fn stop(&self) {
        self.task.abort();
    }
}

/// One request read from `conn`, sent to `upstream`, and its answer written back (or,
/// for the reset whose answer is to be lost, the connection closed without one).
async fn pass(
    mut conn: TcpStream,
    http: &reqwest::Client,
    upstream: &str,
    lose_reset: &AtomicBool,
) -> Result<(), String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err("request head too long".into());
        }
        let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before a request".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        request_line.next().unwrap_or_default().to_string(),
        request_line.next().unwrap_or_default().to_string(),
    );
    let mut headers = reqwest::header::HeaderMap::new();
    let mut length = 0usize;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = value.parse().map_err(|_| "bad content-length")?;
        }
        // What the service reads of a request; the rest (host, connection) is the
        // relay's own business.
        if matches!(
            name.as_str(),
            "authorization" | "content-type" | "user-agent"
        ) {
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
    }
    if length > MAX_BODY_BYTES {
        return Err("request body too large".into());
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = conn.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed in the middle of a request".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let is_reset = method == reqwest::Method::POST && path == "/v1/resets";
    let answer = http
        .request(method, format!("{upstream}{path}"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = answer.status();
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nconnection: close\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    for name in [reqwest::header::CONTENT_TYPE, reqwest::header::RETRY_AFTER] {
        if let Some(v) = answer.headers().get(&name).and_then(|v| v.to_str().ok()) {
            out += &format!("{name}: {v}\r\n");
        }
    }
    let bytes = answer.bytes().await.map_err(|e| e.to_string())?;
    if is_reset && lose_reset.swap(false, Ordering::SeqCst) {
        // The service has applied the reset; its answer goes nowhere.
        return Ok(());
    }
    out += &format!("content-length: {}\r\n\r\n", bytes.len());
    conn.write_all(out.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    conn.write_all(&bytes).await.map_err(|e| e.to_string())?;
    conn.shutdown().await.map_err(|e| e.to_string())
}
