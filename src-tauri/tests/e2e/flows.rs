//! The journeys: a first-time password reset, a returning user's reset with a selfie
//! alone, someone else's face refused, a kiosk that forgets the person when left alone,
//! and a phone taking over from a laptop by reading the QR code off the laptop's screen;
//! all against the server's default camera and model policies, with the file camera
//! declared a sensor (see [`Server`]). And the camera policy itself: the file camera as
//! it declares itself, refused. One at a time: each drives a whole app (two, for the
//! hand-off) on a 2-core machine.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reclaim_directory::{DemoDirectory, Directory};
use reclaim_fixtures::scenes::copy_scenes;
use reclaim_testkit::SecretService;

use crate::harness::*;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
const STEP: Duration = Duration::from_secs(90);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// The app's config for the journeys: `scenes` played as a laptop's built-in camera
/// would film them (the tests' switch: see [`Server`]).
fn app_settings(server: &Server, scenes: &std::path::Path, extra: &str) -> String {
    honest_settings(
        server,
        scenes,
        &format!("file_camera_as_sensor = true\n{extra}"),
    )
}

/// The app's config with its file camera declared as what it is: file-backed.
fn honest_settings(server: &Server, scenes: &std::path::Path, extra: &str) -> String {
    format!(
        "server_url = \"{}\"\ncamera = \"files:{}\"\nfile_camera_fps = 5.0\ndevice_name = \"e2e laptop\"\n{extra}\n",
        server.url,
        scenes.display()
    )
}

/// The UI's English string at `path` (e.g. `["reason", "camera_not_allowed", "message"]`).
fn english(path: &[&str]) -> String {
    let en: serde_json::Value =
        serde_json::from_str(include_str!("../../../ui/i18n/en.json")).unwrap();
    path.iter()
        .fold(&en, |v, k| &v[k])
        .as_str()
        .unwrap_or_else(|| panic!("ui/i18n/en.json has no {}", path.join(".")))
        .to_string()
}

/// CPU seconds (user + system) the app process has used so far.
fn app_cpu_s() -> f64 {
    let exe = std::path::PathBuf::from(env!("CARGO_BIN_EXE_reclaim-app"));
    let mut total = 0.0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if std::fs::read_link(entry.path().join("exe")).ok().as_ref() != Some(&exe) {
            continue;
        }
        if let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) {
            // Fields after the command name, which is in parentheses.
            let rest = stat.rsplit(')').next().unwrap_or_default();
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
                + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
            total += ticks / 100.0;
        }
    }
    total
}

fn password_is(server: &Server, password: &str) -> bool {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = DemoDirectory::open(&server.dir.join("directory.json"), Vec::new()).unwrap();
    rt.block_on(async {
        let user = dir.find_user(LOGIN).await.unwrap().unwrap();
        dir.password_is(&user, password).await.unwrap()
    })
}

/// Types the login, picks the action, and goes through the ID and the selfie.
fn identify(app: &App, display: &Display, action: &str, shots: Option<&str>) {
    let s = &app.session;
    s.wait_screen("start", STEP);
    s.type_into("#login", LOGIN);
    // The person clicks the choice's card (its label), as they would.
    s.click(&format!("label[for=action-{action}]"));
    assert_eq!(
        s.js(
            "return document.querySelector('input[name=action]:checked').value",
            serde_json::json!([])
        ),
        action
    );
    if let Some(p) = shots {
        display.screenshot(&format!("{p}-01-start"));
    }
    // Keyboard only: Enter in the login field submits.
    s.press_enter("#login");
}

/// The new screen's heading has the focus, so a screen reader announces it.
fn assert_heading_focused(app: &App, screen: &str) {
    let focused = app.session.js(
        "const a = document.activeElement; return a && a.tagName === 'H1' ? a.closest('section').dataset.screen : ''",
        serde_json::json!([]),
    );
    assert_eq!(
        focused, screen,
        "focus is not on the {screen} screen's heading"
    );
}

#[test]
fn a_first_time_reset_then_a_returning_users_mfa_reset() {
    let _one = serial();
    let display = Display::start();
    let server = Server::start("e2e-first");
    let dir = scratch("app-first");
    let settings = app_settings(&server, &scenes(Person::Avery), "");
    // A desktop session's keystore, where the laptop keeps its device key.
    let keystore = SecretService::start().unwrap();

    let app = App::start_with_keystore(&display, &dir, &settings, Some(&keystore));
    let s = &app.session;
    let (wall, cpu) = (Instant::now(), app_cpu_s());
    identify(&app, &display, "reset_password", Some("first"));
    s.wait_screen("document", STEP);
    assert_heading_focused(&app, "document");
    // The reader needs a moment on the card; the guidance says when it can be taken.
    std::thread::sleep(Duration::from_millis(1500));
    display.screenshot("first-02-document");
    s.wait_screen("selfie", STEP);
    display.screenshot("first-03-selfie");
    s.wait_enabled("#start-selfie", STEP);
    s.click("#start-selfie");
    std::thread::sleep(Duration::from_millis(1500));
    display.screenshot("first-04-selfie-prompt");
    s.wait_screen("password", STEP);
    s.type_into("#new-password", "Password123!");
    std::thread::sleep(Duration::from_millis(1200));
    let problems = s.text("#password-problems");
    assert!(
        !problems.trim().is_empty(),
        "a weak password shows its problems"
    );
    display.screenshot("first-05-password-weak");
    s.type_into("#new-password", NEW_PASSWORD);
    s.type_into("#confirm-password", NEW_PASSWORD);
    s.wait_enabled("#set-password", STEP);
    s.click("#set-password");
    s.wait_screen("done", STEP);
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), app_cpu_s() - cpu);
    display.screenshot("first-06-done");
    eprintln!(
        "flow time, first screen to new password accepted: {wall:.1} s wall, {cpu:.1} s app CPU"
    );
    assert!(
        password_is(&server, NEW_PASSWORD),
        "the directory holds the new password"
    );
    assert_eq!(server.directory_record(LOGIN)["password_changes"], 1);
    s.click("#finish-button");
    s.wait_screen("start", STEP);
    assert_eq!(
        s.value("#login"),
        "",
        "nothing of the person is left on screen"
    );
    drop(app);

    // The same laptop (same device key), back for an MFA reset: no ID this time.
    let settings = app_settings(&server, &scenes(Person::AveryAgain), "");
    let app = App::start_with_keystore(&display, &dir, &settings, Some(&keystore));
    let s = &app.session;
    identify(&app, &display, "reset_mfa", None);
    s.wait_screen("selfie", STEP);
    display.screenshot("returning-01-selfie");
    s.wait_enabled("#start-selfie", STEP);
    s.click("#start-selfie");
    s.wait_screen("done", STEP);
    display.screenshot("returning-02-done");
    assert_eq!(server.directory_record(LOGIN)["mfa_resets"], 1);
    assert!(
        !dir.join("data/reclaim/device.key").exists(),
        "the device key is in the keystore, not in a file"
    );
    let in_keystore = keystore
        .count_items(&[
            ("service", "reclaim"),
            ("username", &format!("device-key {}", server.url)),
        ])
        .unwrap();
    assert_eq!(in_keystore, 1);
}

#[test]
fn someone_elses_face_is_refused_with_advice_and_nothing_changes() {
    let _one = serial();
    let display = Display::start();
    let server = Server::start("e2e-impostor");
    let dir = scratch("app-impostor");
    let app = App::start(
        &display,
        &dir,
        &app_settings(&server, &scenes(Person::Impostor), ""),
    );
    let s = &app.session;
    identify(&app, &display, "reset_password", None);
    s.wait_screen("selfie", STEP);
    s.wait_enabled("#start-selfie", STEP);
    s.click("#start-selfie");
    s.wait_screen("refused", STEP);
    display.screenshot("refused");
    let reasons = s.text("#refused-reasons");
    assert!(!reasons.trim().is_empty());
    assert!(
        !reasons.contains("face_mismatch"),
        "a raw code reached the screen: {reasons}"
    );
    assert!(password_is(&server, "the old forgotten passphrase"));
    assert_eq!(server.directory_record(LOGIN)["password_changes"], 0);
    // Trying again starts a new session at the ID.
    s.click("#retry-button");
    s.wait_screen("document", STEP);
}

/// The camera policy: the app declares its file camera file-backed, in its claims and to
/// the person (the start screen's note), and the server's default policy refuses the
/// capture with `camera_not_allowed`, which the person reads as its sentence and advice.
#[test]
fn an_honest_file_camera_is_refused_by_the_default_policy_and_nothing_changes() {
    let _one = serial();
    let display = Display::start();
    let server = Server::start("e2e-camera");
    let dir = scratch("app-camera");
    let app = App::start(
        &display,
        &dir,
        &honest_settings(&server, &scenes(Person::Avery), ""),
    );
    let s = &app.session;
    s.wait_screen("start", STEP);
    let state = s.js(
        "return window.__TAURI__.core.invoke('get_state')",
        serde_json::json!([]),
    );
    assert_eq!(state["camera"]["file_backed"], true, "{state}");
    assert_eq!(state["camera"]["backend"], "file", "{state}");
    assert_eq!(
        s.text("#camera-note"),
        english(&["ui", "camera_file_backed"]),
        "the person is told the pictures come from files"
    );
    identify(&app, &display, "reset_password", None);
    s.wait_screen("selfie", STEP);
    s.wait_enabled("#start-selfie", STEP);
    s.click("#start-selfie");
    s.wait_screen("refused", STEP);
    display.screenshot("camera-refused");
    let state = s.js(
        "return window.__TAURI__.core.invoke('get_state')",
        serde_json::json!([]),
    );
    // Genuine Avery with Avery's passport: the camera is the only thing wrong.
    assert_eq!(
        state["reasons"],
        serde_json::json!(["camera_not_allowed"]),
        "{state}"
    );
    let shown = s.text("#refused-reasons");
    let message = english(&["reason", "camera_not_allowed", "message"]);
    let advice = english(&["reason", "camera_not_allowed", "advice"]);
    assert!(
        shown.contains(&message) && shown.contains(&advice),
        "the refusal's sentence and advice are shown: {shown:?}"
    );
    assert!(
        !shown.contains("camera_not_allowed"),
        "a raw code reached the screen: {shown}"
    );
    assert!(password_is(&server, "the old forgotten passphrase"));
    let record = server.directory_record(LOGIN);
    for change in ["password_changes", "mfa_resets", "unlocks"] {
        assert_eq!(record[change], 0, "{change}: {record}");
    }
}

#[test]
fn a_kiosk_left_alone_forgets_the_person_and_returns_to_its_attract_screen() {
    let _one = serial();
    let display = Display::start();
    let server = Server::start("e2e-kiosk");
    let key = server.register_managed_key("walk-up kiosk");
    let dir = scratch("app-kiosk");
    let settings = app_settings(
        &server,
        &scenes(Person::Avery),
        &format!(
            "kiosk = true\nidle_timeout_s = 8\ndevice_key = \"{}\"",
            key.display()
        ),
    );
    let app = App::start(&display, &dir, &settings);
    let s = &app.session;
    s.wait_screen("attract", STEP);
    display.screenshot("kiosk-01-attract");
    s.click("#attract-start");
    s.wait_screen("start", STEP);
    s.type_into("#login", LOGIN);
    assert_eq!(s.value("#login"), LOGIN);
    display.screenshot("kiosk-02-start");
    // Walks away: after the idle timeout the kiosk is back to its attract screen.
    let left = Instant::now();
    s.wait_screen("attract", Duration::from_secs(30));
    assert!(left.elapsed() >= Duration::from_secs(6), "wiped too early");
    display.screenshot("kiosk-03-wiped");
    assert_eq!(s.value("#login"), "", "the login typed was wiped");
    let state = s.js(
        "return window.__TAURI__.core.invoke('get_state')",
        serde_json::json!([]),
    );
    assert_eq!(
        state["login"],
        serde_json::Value::Null,
        "and forgotten by the core: {state}"
    );
    // A kiosk never offers a hand-off to a phone.
    assert_eq!(state["can_handoff"], false);
}

#[test]
fn a_phone_reads_the_qr_code_off_the_laptops_screen_and_the_laptop_follows_it() {
    let _one = serial();
    let server = Server::start("e2e-handoff");
    let laptop_display = Display::start();
    let laptop = App::start(
        &laptop_display,
        &scratch("app-laptop"),
        &app_settings(&server, &scenes(Person::Avery), ""),
    );
    let l = &laptop.session;
    l.wait_screen("start", STEP);
    l.type_into("#login", LOGIN);
    l.click("label[for=action-unlock]");
    l.click("#handoff-button");
    l.wait_screen("handoff", STEP);
    let drawn = Instant::now();
    while l.js(
        "const q = document.getElementById('handoff-qr'); return q.complete && q.naturalWidth > 0",
        serde_json::json!([]),
    ) != true
    {
        assert!(drawn.elapsed() < STEP, "the QR code was never drawn");
        std::thread::sleep(Duration::from_millis(200));
    }
    laptop_display.screenshot("handoff-01-laptop-qr");

    // The phone's camera sees the laptop's screen: the QR code as WebKit drew it.
    let phone_scenes = scratch("scenes-phone");
    copy_scenes(&scenes(Person::Avery), &phone_scenes).unwrap();
    laptop_display.capture(&phone_scenes.join("qr.png"));
    let phone_display = Display::start();
    let phone = App::start(
        &phone_display,
        &scratch("app-phone"),
        &app_settings(&server, &phone_scenes, ""),
    );
    let p = &phone.session;
    p.wait_screen("start", STEP);
    p.click("#scan-button");
    p.wait_screen("scan", STEP);
    // Read, claimed: the phone goes on with the laptop's person and action.
    p.wait_screen("document", STEP);
    l.wait_screen("handoff", STEP);
    let connected = Instant::now();
    while l.js(
        "return document.getElementById('handoff-status').dataset.phone",
        serde_json::json!([]),
    ) != "connected"
    {
        assert!(
            connected.elapsed() < STEP,
            "the laptop never saw the phone take over"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        l.js(
            "return document.getElementById('handoff-code').hidden",
            serde_json::json!([])
        ),
        true,
        "the spent code is no longer shown"
    );
    laptop_display.screenshot("handoff-02-laptop-connected");
    p.wait_screen("selfie", STEP);
    p.wait_enabled("#start-selfie", STEP);
    p.click("#start-selfie");
    p.wait_screen("done", STEP);
    phone_display.screenshot("handoff-03-phone-done");
    assert_eq!(server.directory_record(LOGIN)["unlocks"], 1);
    // The laptop follows the session to its end.
    l.wait_screen("done", STEP);
    laptop_display.screenshot("handoff-04-laptop-done");
}
