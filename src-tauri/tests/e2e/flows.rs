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

/// The screen light, in the real app: a server that draws one for its session; the selfie
/// screen says so before the recording, with a way out for someone who cannot look at
/// changing colours (to the helpdesk, as the footer says); while recording, the frame
/// around the preview takes the drawn colours in order, each for about its drawn time and
/// never for less than the protocol's shortest step; grey before and after. The scenes
/// were filmed before the session drew its light, so the device's own engine refuses
/// them, and nothing changes.
#[test]
fn the_screen_light_is_announced_with_a_way_out_and_painted_in_the_drawn_order() {
    use reclaim_protocol::wire::light::{LightColour, MIN_STEP_MS};

    let _one = serial();
    let display = Display::start();
    let server = Server::start_with("e2e-light", "[challenge]\nlight_steps = 10\n");
    let dir = scratch("app-light");
    let app = App::start(
        &display,
        &dir,
        &app_settings(&server, &scenes(Person::Avery), ""),
    );
    let s = &app.session;
    identify(&app, &display, "reset_password", None);
    s.wait_screen("selfie", STEP);
    let state = s.js(
        "return window.__TAURI__.core.invoke('get_state')",
        serde_json::json!([]),
    );
    let drawn: Vec<(String, u64)> = state["light"]
        .as_array()
        .unwrap_or_else(|| panic!("the session has a light: {state}"))
        .iter()
        .map(|step| {
            let colour = LightColour::parse(step["colour"].as_str().unwrap()).unwrap();
            let [r, g, b] = colour.srgb();
            (format!("rgb({r}, {g}, {b})"), step["ms"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(drawn.len(), 10);

    // The notice, and its way out.
    let visible = |css: &str| {
        s.js(
            "const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null",
            serde_json::json!([css]),
        ) == true
    };
    assert!(visible("#light-notice"), "the notice is shown");
    assert_eq!(
        s.text("#light-notice > p"),
        english(&["ui", "light_notice"])
    );
    assert_eq!(
        s.text("#light-way-out summary"),
        english(&["ui", "light_way_out"])
    );
    // Closed until asked (WebKit lays out a closed <details>' content, so its state is
    // what is checked, not the button's layout).
    let open = || {
        s.js(
            "return document.getElementById('light-way-out').open",
            serde_json::json!([]),
        )
    };
    assert_eq!(open(), false, "the way out opens on request");
    s.click("#light-way-out summary");
    assert_eq!(open(), true, "the way out opened");
    assert!(visible("#light-leave"), "the way out leads somewhere");
    assert_eq!(s.text("#light-leave"), english(&["ui", "light_leave"]));
    assert!(s
        .text("#light-way-out")
        .contains(&english(&["ui", "light_way_out_body"])));
    display.screenshot("light-01-notice");
    // No fade: the engine times the changes.
    assert_eq!(
        s.js(
            "return getComputedStyle(document.getElementById('light-frame')).transitionDuration",
            serde_json::json!([])
        ),
        "0s"
    );

    // Every colour the frame takes, with when (the page's clock), from now on.
    s.js(
        "const f = document.getElementById('light-frame');
         const log = [[performance.now(), getComputedStyle(f).backgroundColor]];
         window.__lightLog = log;
         new MutationObserver(() => {
           const c = getComputedStyle(f).backgroundColor;
           if (c !== log[log.length - 1][1]) log.push([performance.now(), c]);
         }).observe(f, { attributes: true, attributeFilter: ['style', 'data-light'] });
         return true;",
        serde_json::json!([]),
    );
    s.wait_enabled("#start-selfie", STEP);
    s.click("#start-selfie");
    std::thread::sleep(Duration::from_millis(1200));
    display.screenshot("light-02-recording");
    assert!(!visible("#light-notice"), "the notice goes once recording");
    s.wait_screen("refused", STEP);
    display.screenshot("light-03-refused");

    let log = s.js("return window.__lightLog", serde_json::json!([]));
    let log: Vec<(f64, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e[0].as_f64().unwrap(), e[1].as_str().unwrap().to_string()))
        .collect();
    let grey = log[0].1.clone();
    assert!(
        drawn.iter().all(|(c, _)| *c != grey),
        "the neutral grey is no colour of the light"
    );
    let colours: Vec<&str> = log.iter().map(|(_, c)| c.as_str()).collect();
    let mut expected: Vec<&str> = vec![grey.as_str()];
    expected.extend(drawn.iter().map(|(c, _)| c.as_str()));
    expected.push(grey.as_str());
    assert_eq!(colours, expected, "the colours the frame took: {log:?}");
    // The page paints what each preview answer says, so its changes carry the polling's
    // jitter (tens of milliseconds on a busy machine) on top of the core's exact clock.
    for (i, (lasted, (colour, ms))) in log
        .windows(2)
        .skip(1)
        .map(|w| w[1].0 - w[0].0)
        .zip(&drawn)
        .enumerate()
    {
        assert!(
            lasted >= f64::from(MIN_STEP_MS) - 120.0,
            "step {i} ({colour}) was painted for only {lasted:.0} ms: {log:?}"
        );
        assert!(
            (lasted - *ms as f64).abs() <= 250.0,
            "step {i} ({colour}) drawn for {ms} ms, painted for {lasted:.0} ms: {log:?}"
        );
    }

    let state = s.js(
        "return window.__TAURI__.core.invoke('get_state')",
        serde_json::json!([]),
    );
    let reasons = state["reasons"].as_array().cloned().unwrap_or_default();
    assert!(!reasons.is_empty(), "{state}");
    let shown = s.text("#refused-reasons");
    for r in &reasons {
        assert!(!shown.contains(r.as_str().unwrap()), "a raw code: {shown}");
    }
    assert!(password_is(&server, "the old forgotten passphrase"));
    assert_eq!(server.directory_record(LOGIN)["password_changes"], 0);
}
