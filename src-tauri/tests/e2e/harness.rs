//! The processes an end-to-end test runs: an X server, the real `reclaim serve`, and
//! WebKitWebDriver (WebKitGTK's own WebDriver server, which starts the app). Each is
//! killed when its handle drops.
//!
//! On Linux, tauri-driver only renames the `tauri:options` capability to WebKitWebDriver's
//! `webkitgtk:browserOptions` and forwards every request; the tests ask WebKitWebDriver
//! directly (webdriver.rs), which spares a fresh machine compiling tauri-driver.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reclaim_fixtures::scenes::{write_scenes, SceneSpec};
use reclaim_fixtures::server::{register_managed, spawn_serve, ServerConfig};
use reclaim_testkit::SecretService;

use reclaim_testkit::WebDriverSession;

pub const LOGIN: &str = "avery.quinn";
pub const NEW_PASSWORD: &str = "harbour lantern copper meadow 42";
const ARDERN_1: &[u8] = include_bytes!("../../../tests/data/faces/ardern-1.jpg");
const ARDERN_2: &[u8] = include_bytes!("../../../tests/data/faces/ardern-2.jpg");
const OBAMA_1: &[u8] = include_bytes!("../../../tests/data/faces/obama-1.jpg");

pub struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A process started in a process group of its own, killed with everything it started:
/// the app WebKitWebDriver started would otherwise outlive it, one per test.
pub struct ProcGroup(Child);

impl Drop for ProcGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

pub use reclaim_fixtures::scratch_dir as scratch;
pub use reclaim_fixtures::server::free_port;

fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The binaries cargo built beside this test: the app and the `reclaim` command.
fn binary(name: &str) -> PathBuf {
    let app = PathBuf::from(env!("CARGO_BIN_EXE_reclaim-app"));
    if name == "reclaim-app" {
        return app;
    }
    let path = app.with_file_name(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (`cargo test --workspace` builds it)",
        path.display()
    );
    path
}

fn tool(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    [
        home.join(".cargo/bin").join(name),
        PathBuf::from("/usr/bin").join(name),
        PathBuf::from("/usr/local/bin").join(name),
    ]
    .into_iter()
    .find(|p| p.is_file())
    .unwrap_or_else(|| panic!("{name} is not installed (scripts/setup-debian installs it)"))
}

/// An X server of its own for one test.
pub struct Display {
    pub name: String,
    _proc: Proc,
}

impl Display {
    pub fn start() -> Display {
        let n = (100..400)
            .find(|n| {
                !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
                    && !Path::new(&format!("/tmp/.X{n}-lock")).exists()
            })
            .unwrap();
        let child = Command::new("Xvfb")
            .args([
                &format!(":{n}"),
                "-screen",
                "0",
                "960x720x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb (apt install xvfb)");
        let proc = Proc(child);
        wait_until("Xvfb", Duration::from_secs(20), || {
            Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        });
        Display {
            name: format!(":{n}"),
            _proc: proc,
        }
    }

    /// The whole display as a PNG, into the screenshot directory.
    pub fn screenshot(&self, name: &str) {
        self.capture(&screenshot_dir().join(format!("{name}.png")));
    }

    /// The whole display as a PNG at `path`.
    pub fn capture(&self, path: &Path) {
        let name = path.display();
        let ok = Command::new("import")
            .args([
                "-display",
                &self.name,
                "-window",
                "root",
                path.to_str().unwrap(),
            ])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "screenshot {name} failed (imagemagick's import)");
    }
}

pub fn screenshot_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("RECLAIM_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("reclaim-screenshots-{}", std::process::id()))
            });
        std::fs::create_dir_all(&dir).unwrap();
        eprintln!("screenshots in {}", dir.display());
        dir
    })
    .clone()
}

/// The real `reclaim serve`, on SQLite and the demo directory, with the default camera
/// and model policies.
///
/// The server knows a camera only by what the app declares in its signed claims (name,
/// backend, and the `virtual` and `file_backed` flags), and its default policy refuses a
/// camera declared virtual or file-backed. These tests feed the built app image files
/// (`camera = "files:DIR"`), which the app honestly declares file-backed; so the journeys
/// set `file_camera_as_sensor = true`, which makes the file source declare a laptop's
/// built-in V4L2 camera, as the client's tests (crates/client/tests) do with theirs. The
/// switch exists only in builds with the `test-hooks` cargo feature, which these tests
/// turn on and no shipped build does: any other build refuses a configuration that sets
/// it (reclaim-app's unit test `the_sensor_switch_is_refused_without_the_test_hooks_feature`,
/// and reclaim-cli's `only_test_builds_have_test_hooks` for which builds have the feature).
/// The other way, pushing the scenes through the webview camera (`push_frame`) in step
/// with the screens, would take every frame through WebDriver and test a camera path the
/// desktop app uses only when it finds no camera of its own. The camera policy itself is
/// `flows::an_honest_file_camera_is_refused_by_the_default_policy_and_nothing_changes`:
/// the file source as it declares itself, against this same default server.
pub struct Server {
    pub url: String,
    pub config: PathBuf,
    pub dir: PathBuf,
    _proc: Proc,
}

impl Server {
    pub fn start(name: &str) -> Server {
        Server::start_with(name, "")
    }

    /// [`Server::start`] with `sections` (TOML tables) added to its configuration, e.g. a
    /// `[challenge]` table of its own.
    pub fn start_with(name: &str, sections: &str) -> Server {
        let dir = scratch(name);
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let config = ServerConfig::new(&dir, port)
            .sections(&format!(
                "{sections}\n\
                 # The app registers its own key (unmanaged), which a deployment opts into.\n\
                 [[policy.table]]\naction = \"*\"\ntier = \"unmanaged\"\nuser = \"*\"\nverdict = \"approve\"",
            ))
            .write();
        let proc = Proc(spawn_serve(
            &binary("reclaim"),
            &config,
            &dir.join("server.log"),
            &[],
            &url,
        ));
        Server {
            url,
            config,
            dir,
            _proc: proc,
        }
    }

    /// Registers a managed device key (an admin's job) and returns its file.
    pub fn register_managed_key(&self, name: &str) -> PathBuf {
        let key = self.dir.join(format!("{name}.key"));
        register_managed(&binary("reclaim"), &self.config, &key, name);
        key
    }

    /// The demo directory's record of `login`, as the server wrote it.
    pub fn directory_record(&self, login: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.dir.join("directory.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["users"][login].clone()
    }
}

/// Who stands in front of the file-backed camera.
#[derive(Clone, Copy)]
pub enum Person {
    /// Avery, with Avery's passport.
    Avery,
    /// Avery another day: filmed from another photo (the first visit's frames again
    /// would be refused by the server's replay check, as they should be).
    AveryAgain,
    /// Someone else, with Avery's passport.
    Impostor,
}

/// Scenes for the file-backed camera: Avery's passport, and `person` filming the selfie.
pub fn scenes(person: Person) -> PathBuf {
    static CELLS: [OnceLock<PathBuf>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let (i, selfie, seed, name) = match person {
        Person::Avery => (0, ARDERN_1, 2026, "scenes-avery"),
        Person::AveryAgain => (1, ARDERN_2, 11, "scenes-avery-again"),
        Person::Impostor => (2, OBAMA_1, 7, "scenes-impostor"),
    };
    CELLS[i]
        .get_or_init(|| {
            let dir = scratch(name);
            write_scenes(
                &dir,
                &SceneSpec {
                    portrait_jpeg: ARDERN_2,
                    selfie_jpeg: selfie,
                    surname: "QUINN",
                    given_names: "AVERY",
                    seed,
                },
            )
            .unwrap();
            dir
        })
        .clone()
}

/// The app under WebDriver, with its own config.
pub struct App {
    pub session: WebDriverSession,
    _driver: ProcGroup,
}

impl App {
    /// Starts the app on `display` with the config `settings` (TOML) through a driver
    /// of its own (the config reaches the app through the driver's environment).
    pub fn start(display: &Display, dir: &Path, settings: &str) -> App {
        App::start_with_keystore(display, dir, settings, None)
    }

    /// [`App::start`] with the session bus of `keystore` (a Secret Service), or with no
    /// reachable bus at all: the developer's own keyring is never touched.
    pub fn start_with_keystore(
        display: &Display,
        dir: &Path,
        settings: &str,
        keystore: Option<&SecretService>,
    ) -> App {
        let config = dir.join("app.toml");
        std::fs::write(&config, settings).unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("driver.log")).unwrap();
        let child = Command::new(tool("WebKitWebDriver"))
            .arg(format!("--port={port}"))
            // What tauri-driver sets: Tauri 2 lets WebKit's automation drive the webview
            // only when asked to.
            .env("TAURI_WEBVIEW_AUTOMATION", "true")
            .env("DISPLAY", &display.name)
            .env("RECLAIM_APP_CONFIG", &config)
            .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("DBUS_SESSION_BUS_ADDRESS", bus_address(dir, keystore))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("WebKitWebDriver");
        let driver = ProcGroup(child);
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::new();
        wait_until("WebKitWebDriver", Duration::from_secs(30), || {
            http.get(format!("{url}/status")).send().is_ok()
        });
        let session = WebDriverSession::start(&url, binary("reclaim-app").to_str().unwrap());
        App {
            session,
            _driver: driver,
        }
    }
}

/// The bus a test's app process talks to: the test's Secret Service, or a socket path
/// nothing listens on.
pub fn bus_address(dir: &Path, keystore: Option<&SecretService>) -> String {
    match keystore {
        Some(k) => k.address().to_string(),
        None => format!("unix:path={}", dir.join("no-bus").display()),
    }
}

/// `reclaim-app --device-key` with the config `settings`: the key's id, public key and
/// store, as JSON, and how long it took.
pub fn device_key(
    dir: &Path,
    settings: &str,
    keystore: Option<&SecretService>,
) -> (serde_json::Value, Duration) {
    let (out, took) = run_device_key(dir, settings, keystore);
    assert!(
        out.status.success(),
        "reclaim-app --device-key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (serde_json::from_slice(&out.stdout).unwrap(), took)
}

/// `reclaim-app --device-key`, whatever its outcome.
pub fn run_device_key(
    dir: &Path,
    settings: &str,
    keystore: Option<&SecretService>,
) -> (std::process::Output, Duration) {
    let config = dir.join("app.toml");
    std::fs::write(&config, settings).unwrap();
    let started = Instant::now();
    let mut child = Command::new(binary("reclaim-app"))
        .arg("--device-key")
        .env("RECLAIM_APP_CONFIG", &config)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address(dir, keystore))
        .env_remove("DISPLAY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A keystore that never answers must not hang the app, nor this test.
    let limit = Duration::from_secs(90);
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("reclaim-app --device-key still waiting after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = started.elapsed();
    (child.wait_with_output().unwrap(), took)
}
