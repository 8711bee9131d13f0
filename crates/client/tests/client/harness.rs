//! A server per test and the camera scenes, made once per test binary.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reclaim_client::api::{ApiClient, Timeouts};
use reclaim_client::engine::DeviceEngine;
use reclaim_client::frames::FileSource;
use reclaim_client::recovery::Recovery;
use reclaim_protocol::DeviceKey;
use reclaim_server::{App, Config, RunningServer};
use reclaim_testkit::scenes::{write_scenes, SceneSpec};

pub const LOGIN: &str = "avery.quinn";
pub const NEW_PASSWORD: &str = "harbour lantern copper meadow 42";
const ARDERN_1: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-1.jpg");
const ARDERN_2: &[u8] = include_bytes!("../../../../tests/data/faces/ardern-2.jpg");
const OBAMA_1: &[u8] = include_bytes!("../../../../tests/data/faces/obama-1.jpg");

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "reclaim-client-{}-{name}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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

pub fn engine() -> Arc<DeviceEngine> {
    static ENGINE: OnceLock<Arc<DeviceEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| Arc::new(DeviceEngine::load(None).unwrap()))
        .clone()
}

pub struct Server {
    pub running: RunningServer,
    pub app: Arc<App>,
    pub url: String,
    _dir: PathBuf,
}

/// The real server, accepting file-backed cameras (the tests' frames come from files).
pub async fn server(name: &str) -> Server {
    let dir = scratch(name);
    // The service's public URL is the one the apps use (hand-off codes name it).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let config = Config::parse(&format!(
        r#"listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
data_key_file = {key:?}
[database]
url = "sqlite://{db}"
[directory]
kind = "demo"
file = {directory:?}
[policy]
allow_virtual_camera = true
# The app registers its own key (unmanaged), which a deployment must opt into: these tests
# are the app's journeys; which tier may recover is the server's own tests and the attack
# suite's.
[[policy.table]]
action = "*"
tier = "unmanaged"
user = "*"
verdict = "approve"
"#,
        key = dir.join("data.key").display().to_string(),
        db = dir.join("reclaim.db").display(),
        directory = dir.join("directory.json").display().to_string(),
    ))
    .unwrap();
    let app = App::open(config).await.unwrap();
    let running = reclaim_server::start(app.clone()).await.unwrap();
    let url = format!("http://{}", running.addr);
    Server {
        running,
        app,
        url,
        _dir: dir,
    }
}

/// A laptop running the app against `url` with `scenes` in front of its camera.
pub fn device(url: &str, scenes: &Path, timeouts: Timeouts) -> Recovery {
    let api = ApiClient::new(url, timeouts).unwrap();
    let mut r = Recovery::new(
        api,
        DeviceKey::generate().unwrap(),
        engine(),
        false,
        90,
        "test laptop",
    );
    r.set_camera(Box::new(FileSource::open(scenes, 5.0).unwrap()));
    r
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
