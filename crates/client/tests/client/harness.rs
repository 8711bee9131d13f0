//! A server per test and the camera scenes, made once per test binary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use image::RgbImage;
use reclaim_client::api::{ApiClient, Timeouts};
use reclaim_client::flow::{FlowState, Screen};
use reclaim_client::frames::{CameraInfo, FileSource, Frame, FrameSource, Scene};
use reclaim_client::recovery::AppState;
use reclaim_client::recovery::Recovery;
use reclaim_directory::DemoUser;
use reclaim_fixtures::scenes::{write_scenes, SceneSpec};
use reclaim_fixtures::server::{free_port, ServerConfig};
use reclaim_protocol::{DeviceKey, RecoveryAction};
use reclaim_server::{App, Config, RunningServer};
use reclaim_verify::Engines;

pub const LOGIN: &str = "avery.quinn";
pub const NEW_PASSWORD: &str = "harbour lantern copper meadow 42";
const ARDERN_1: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-1.jpg");
const ARDERN_2: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-2.jpg");
const OBAMA_1: &[u8] = include_bytes!("../../../../tests/data/faces/obama-1.jpg");

pub use reclaim_fixtures::scratch_dir as scratch;

/// Avery Quinn's passport, and Avery filming the selfie.
pub fn genuine_scenes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("scenes-genuine");
        write_scenes(
            &dir,
            &SceneSpec {
                portrait_jpeg: ARDERN_2,
                selfie_jpeg: ARDERN_1,
                surname: "QUINN",
                given_names: "AVERY",
                seed: 2026,
            },
        )
        .unwrap();
        dir
    })
}

/// Avery back another day: filmed from another photo (a replay of the first visit's
/// frames is refused by the server, as it should be).
pub fn returning_scenes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("scenes-returning");
        write_scenes(
            &dir,
            &SceneSpec {
                portrait_jpeg: ARDERN_2,
                selfie_jpeg: ARDERN_2,
                surname: "QUINN",
                given_names: "AVERY",
                seed: 11,
            },
        )
        .unwrap();
        dir
    })
}

/// Avery Quinn's passport, filmed by someone else.
pub fn impostor_scenes() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("scenes-impostor");
        write_scenes(
            &dir,
            &SceneSpec {
                portrait_jpeg: ARDERN_2,
                selfie_jpeg: OBAMA_1,
                surname: "QUINN",
                given_names: "AVERY",
                seed: 7,
            },
        )
        .unwrap();
        dir
    })
}

pub fn engine() -> Arc<Engines> {
    static ENGINE: OnceLock<Arc<Engines>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(Engines::load(None).unwrap()))
        .clone()
}

pub struct Server {
    pub running: RunningServer,
    pub app: Arc<App>,
    pub url: String,
    _dir: PathBuf,
}

/// The real server with the default camera and model policies (the tests' camera
/// declares itself a sensor: see [`Webcam`]).
pub async fn server(name: &str) -> Server {
    server_with(name, "", None).await
}

/// The real server with `policy` (TOML lines) added to its `[policy]` table, and the
/// demo directory holding `users` instead of its seed.
pub async fn server_with(name: &str, policy: &str, users: Option<Vec<DemoUser>>) -> Server {
    let dir = scratch(name);
    if let Some(users) = users {
        // The directory file the server opens: written first, so the seed is not used.
        reclaim_directory::DemoDirectory::open(&dir.join("directory.json"), users).unwrap();
    }
    // The service's public URL is the one the apps use (hand-off codes name it).
    let port = free_port();
    let config = Config::parse(
        &ServerConfig::new(&dir, port)
            .sections(&format!(
                r#"[policy]
{policy}
# The app registers its own key (unmanaged), which a deployment must opt into: these tests
# are the app's journeys; which tier may recover is the server's own tests and the attack
# suite's.
[[policy.table]]
action = "*"
tier = "unmanaged"
user = "*"
verdict = "approve""#
            ))
            .toml(),
    )
    .unwrap();
    let app = App::open(config).await.unwrap();
    let running = reclaim_server::start(app.clone()).await.unwrap();
    Server::started(running, app, dir)
}

/// A laptop running the app against `url` with `scenes` in front of its camera.
pub fn device(url: &str, scenes: &Path, timeouts: Timeouts) -> Recovery {
    device_as(url, scenes, timeouts, false, "test laptop")
}

/// The walk-up kiosk: the same app core with its kiosk switch on.
pub fn kiosk(url: &str, scenes: &Path) -> Recovery {
    device_as(url, scenes, Timeouts::default(), true, "walk-up kiosk")
}

fn device_as(url: &str, scenes: &Path, timeouts: Timeouts, kiosk: bool, name: &str) -> Recovery {
    let api = ApiClient::new(url, timeouts).unwrap();
    let mut r = Recovery::new(
        api,
        DeviceKey::generate().unwrap(),
        engine(),
        kiosk,
        90,
        name,
    );
    r.set_camera(Box::new(Webcam::open(scenes)));
    r
}

/// The camera of the tests: the product's [`FileSource`] playing `scenes` at 5 frames a
/// second, declared as the laptop's built-in webcam.
///
/// The server's camera policy knows a camera only by what the app declares in its signed
/// claims: a name, a backend, and the `virtual` and `file_backed` flags (the app sets
/// `virtual` from the device's name and driver, `file_backed` for its file source). It
/// cannot tell a declared sensor from a real one, and the default policy refuses virtual
/// and file-backed cameras. So tests that run the default policy present their frames as
/// a sensor's, which is what a real webcam's capture looks like to the server; the file
/// source itself stays honest, and the policy's own tests use it (`policies.rs`).
pub struct Webcam {
    files: FileSource,
}

impl Webcam {
    pub fn open(scenes: &Path) -> Webcam {
        Webcam {
            files: FileSource::open(scenes, 5.0).unwrap(),
        }
    }
}

/// What a laptop's built-in camera declares (V4L2, uvcvideo).
pub fn webcam_info() -> CameraInfo {
    CameraInfo {
        name: "Integrated Camera: Integrated C".into(),
        backend: "v4l2".into(),
        virtual_device: false,
        file_backed: false,
    }
}

impl FrameSource for Webcam {
    fn info(&self) -> CameraInfo {
        webcam_info()
    }

    fn next_frame(&mut self) -> reclaim_client::Result<Frame> {
        self.files.next_frame()
    }

    fn set_scene(&mut self, scene: Scene) {
        self.files.set_scene(scene)
    }
}

/// A webcam whose selfie frames arrive far faster than any analyser can look at them:
/// the person's 5-frames-a-second recording (frames stamped 200 ms apart, as the camera's
/// clock would) delivered 1 ms apart, 200 times faster than real time, then its last
/// frame held (20 ms apart). To the capture pipeline this is a device whose analysis is
/// 200 times slower than the camera (guidance takes about 12 ms a frame on an idle
/// machine, docs/app.md); to the engine and the server it is an ordinary 5 fps capture.
/// The other scenes play at the normal rate.
pub struct Timelapse {
    files: FileSource,
    dir: PathBuf,
    selfie: Vec<RgbImage>,
    next: usize,
    t_ms: u64,
}

impl Timelapse {
    pub fn open(scenes: &Path) -> Timelapse {
        Timelapse {
            files: FileSource::open(scenes, 5.0).unwrap(),
            dir: scenes.to_path_buf(),
            selfie: Vec::new(),
            next: 0,
            t_ms: 0,
        }
    }
}

impl FrameSource for Timelapse {
    fn info(&self) -> CameraInfo {
        webcam_info()
    }

    fn next_frame(&mut self) -> reclaim_client::Result<Frame> {
        if self.selfie.is_empty() {
            let frame = self.files.next_frame()?;
            self.t_ms = frame.t_ms.max(self.t_ms + 1);
            return Ok(Frame {
                image: frame.image,
                t_ms: self.t_ms,
            });
        }
        // Played once, then the last frame held, like the file source.
        let held = self.next >= self.selfie.len();
        std::thread::sleep(Duration::from_millis(if held { 20 } else { 1 }));
        let image = self.selfie[self.next.min(self.selfie.len() - 1)].clone();
        self.next += 1;
        self.t_ms += 200;
        Ok(Frame {
            image,
            t_ms: self.t_ms,
        })
    }

    fn set_scene(&mut self, scene: Scene) {
        self.selfie.clear();
        self.next = 0;
        if let Scene::Selfie(challenge) = &scene {
            let seq = self
                .dir
                .join("selfie")
                .join(reclaim_client::frames::sequence_name(challenge));
            let mut paths: Vec<PathBuf> = std::fs::read_dir(&seq)
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            paths.sort();
            self.selfie = paths
                .iter()
                .map(|p| image::open(p).unwrap().to_rgb8())
                .collect();
        }
        self.files.set_scene(scene)
    }
}

/// The audit's decision entries, oldest first.
pub async fn decision_details(app: &App) -> Vec<serde_json::Value> {
    reclaim_server::audit::details_of(&app.store, "decision")
        .await
        .unwrap()
}

/// Tests that run the camera pipeline and the engine take their turn: on two cores,
/// several at once starve each other's real-time capture.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    TURN.lock().await
}

pub const WAIT: Duration = Duration::from_secs(60);

/// Shows the ID until the reader can take it, then takes it.
pub fn capture_id(r: &mut Recovery) {
    assert!(
        r.wait_for_guidance(WAIT, |g| g.ready),
        "the ID never became readable"
    );
    r.capture_document().unwrap();
}

/// Records the selfie to the end of the challenge.
pub fn record_selfie(r: &mut Recovery) {
    r.start_selfie().unwrap();
    assert!(
        r.wait_for_guidance(WAIT, |g| g.done),
        "the selfie recording never finished"
    );
}

/// Records the selfie and submits it; the service's answer must lead to `screen` (the
/// failure shows the reasons and the error when it does not).
pub async fn submit_selfie_expecting(r: &mut Recovery, screen: Screen) -> AppState {
    record_selfie(r);
    let st = r.submit().await.unwrap();
    assert_eq!(
        st.flow.screen, screen,
        "refused: {:?} {:?}",
        st.flow.reasons, st.flow.error
    );
    st
}

/// Avery's password in the demo directory's seed: still set unless a reset went through.
pub const OLD_PASSWORD: &str = "the old forgotten passphrase";

/// Whether `password` opens Avery's account in the server's directory now.
pub async fn password_is(server: &Server, password: &str) -> bool {
    let user = server
        .app
        .directory
        .find_user(LOGIN)
        .await
        .unwrap()
        .unwrap();
    server
        .app
        .directory
        .password_is(&user, password)
        .await
        .unwrap()
}

/// The old password still opens Avery's account: nothing was granted.
pub async fn assert_password_unchanged(server: &Server) {
    assert!(
        password_is(server, OLD_PASSWORD).await,
        "the password was changed"
    );
}

/// The app, waiting on its review screen, after a reviewer approved: it goes on to the
/// new password by itself, which then takes effect in the directory.
pub async fn goes_on_to_the_new_password(laptop: &mut Recovery, server: &Server) {
    let st = laptop.review_poll().await.unwrap().flow;
    assert_eq!(
        st.screen,
        Screen::Password,
        "{:?} {:?}",
        st.reasons,
        st.error
    );
    let st = laptop.set_password(NEW_PASSWORD).await.unwrap().flow;
    assert_eq!(st.screen, Screen::Done, "{:?}", st.password_error);
    assert!(password_is(server, NEW_PASSWORD).await);
}

/// A first-time password reset up to the service's answer: the session started, the ID
/// shown and taken, the selfie recorded, and the evidence submitted.
pub async fn first_time_reset(laptop: &mut Recovery) -> FlowState {
    laptop
        .start_recovery(LOGIN, RecoveryAction::ResetPassword)
        .await
        .unwrap();
    capture_id(laptop);
    record_selfie(laptop);
    laptop.submit().await.unwrap().flow
}

impl Server {
    /// A server a test started itself on a configuration of its own (where [`server_with`]'s
    /// opt-in of unmanaged devices would change what is tested), its scratch `dir` kept
    /// with it.
    pub fn started(running: RunningServer, app: Arc<App>, dir: PathBuf) -> Server {
        let url = format!("http://{}", running.addr);
        Server {
            running,
            app,
            url,
            _dir: dir,
        }
    }
}
