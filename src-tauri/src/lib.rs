//! The Reclaim desktop app: Tauri 2 around the client core (`reclaim-client`). This
//! crate adds what needs the desktop: the real camera (nokhwa), the window (fullscreen
//! and chromeless in kiosk mode), the commands the web UI calls, and the kiosk's idle
//! watchdog.

pub mod camera;
pub mod commands;
pub mod settings;
pub mod startup;

use tauri::{Manager, WebviewUrl, WebviewWindowBuilder};

use crate::commands::Core;
use crate::settings::Settings;

/// `builder` with the app's commands registered: for `run`, and for tests on the mock
/// runtime.
pub fn with_commands<R: tauri::Runtime>(builder: tauri::Builder<R>) -> tauri::Builder<R> {
    builder.invoke_handler(tauri::generate_handler![
        commands::get_state,
        commands::touch,
        commands::begin,
        commands::start_recovery,
        commands::list_cameras,
        commands::choose_camera,
        commands::use_webview_camera,
        commands::push_frame,
        commands::preview,
        commands::capture_document,
        commands::start_selfie,
        commands::submit,
        commands::check_password,
        commands::set_password,
        commands::retry,
        commands::start_over,
        commands::start_handoff,
        commands::handoff_poll,
        commands::review_poll,
        commands::scan_handoff,
        commands::claim_handoff,
    ])
}

pub fn run() {
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("reclaim-app: {e}");
            std::process::exit(2);
        }
    };
    // `reclaim-app --device-key`: which key this device signs with, for an admin to
    // register it (`reclaim device register --public-key`), and where it is kept.
    if std::env::args().nth(1).as_deref() == Some("--device-key") {
        match startup::device_key(&settings) {
            Ok((key, place)) => {
                println!(
                    "{}",
                    serde_json::json!({
                        "key_id": key.key_id().to_string(),
                        "public_key": key.public().to_base64(),
                        "store": place.as_str(),
                    })
                );
                std::process::exit(0);
            }
            Err(e) => {
                eprintln!("reclaim-app: {e}");
                std::process::exit(1);
            }
        }
    }
    // `reclaim-app --tpm-register-request OUT` and `--tpm-register-answer CHALLENGE OUT`:
    // the device's two steps of IT registering its TPM key as `hardware`.
    if let Some(flag @ ("--tpm-register-request" | "--tpm-register-answer")) =
        std::env::args().nth(1).as_deref()
    {
        let args: Vec<String> = std::env::args().skip(2).collect();
        std::process::exit(tpm_register(&settings, flag, &args));
    }
    let kiosk = settings.kiosk;
    let result = with_commands(tauri::Builder::default())
        .manage(Core::new(settings))
        .setup(move |app| {
            // Incognito: the webview keeps no cache, cookies or storage on disk, so
            // nothing of one person is left for the next. Under WebDriver (the
            // end-to-end tests) it cannot be: wry's ephemeral context does not outlive
            // the window's creation, and with it the automation hook. Only a build with the
            // `test-hooks` feature (the tests') listens to that variable: in any other, an
            // environment that sets it still gets an incognito webview.
            let automated = cfg!(feature = "test-hooks")
                && std::env::var_os("TAURI_WEBVIEW_AUTOMATION").is_some();
            WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into()))
                .title("Reclaim — account recovery")
                .inner_size(960.0, 720.0)
                .min_inner_size(360.0, 560.0)
                .incognito(!automated)
                .fullscreen(kiosk)
                .decorations(!kiosk)
                .build()?;
            let handle = app.handle().clone();
            // Loads the models while the first screen shows.
            tauri::async_runtime::spawn(async move {
                let core = handle.state::<Core>();
                let _ = core.recovery().await;
                if kiosk {
                    commands::kiosk_watchdog(handle.clone(), &core).await;
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(e) = result {
        eprintln!("reclaim-app: {e}");
        std::process::exit(1);
    }
}

/// One step of registering the TPM key; the exit code: 0 done, 1 the TPM or a file
/// failed, 2 the command line or the settings are wrong. Prints the key's id and public key
/// as one JSON line, like `--device-key`.
#[cfg(target_os = "linux")]
fn tpm_register(settings: &Settings, flag: &str, args: &[String]) -> i32 {
    use crate::settings::KeyStoreChoice;
    let fail = |code: i32, e: &dyn std::fmt::Display| {
        eprintln!("reclaim-app: {e}");
        code
    };
    if settings.device_key_store != KeyStoreChoice::Tpm {
        return fail(
            2,
            &"the settings do not keep the key in the TPM: set device_key_store = \"tpm\" first",
        );
    }
    let store = startup::tpm_store(settings);
    let written = match (flag, args) {
        ("--tpm-register-request", [out]) => store.registration_request().and_then(|r| {
            write_json(out, &r.request)?;
            Ok(r.public)
        }),
        ("--tpm-register-answer", [challenge, out]) => {
            let text = match std::fs::read_to_string(challenge) {
                Ok(t) => t,
                Err(e) => return fail(1, &format!("{challenge}: {e}")),
            };
            let challenge: reclaim_client::tpm::Challenge = match serde_json::from_str(&text) {
                Ok(c) => c,
                Err(e) => {
                    return fail(
                        2,
                        &format!("{challenge}: not a TPM registration challenge ({e})"),
                    )
                }
            };
            store.answer(&challenge).and_then(|proof| {
                write_json(out, &proof)?;
                store.public()
            })
        }
        _ => {
            return fail(
                2,
                &"usage: reclaim-app --tpm-register-request OUT.json | --tpm-register-answer CHALLENGE.json OUT.json",
            )
        }
    };
    match written {
        Ok(public) => {
            println!(
                "{}",
                serde_json::json!({
                    "key_id": public.key_id().to_string(),
                    "public_key": public.to_base64(),
                    "store": "tpm",
                })
            );
            0
        }
        Err(e) => fail(1, &e),
    }
}

#[cfg(not(target_os = "linux"))]
fn tpm_register(_settings: &Settings, _flag: &str, _args: &[String]) -> i32 {
    eprintln!("reclaim-app: the TPM key store is supported on Linux only");
    2
}

/// Writes `value` as JSON to `path` (what the administrator is handed; nothing secret).
#[cfg(target_os = "linux")]
fn write_json(path: &str, value: &impl serde::Serialize) -> reclaim_client::Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| reclaim_client::ClientError::Input(e.to_string()))?;
    std::fs::write(path, text)
        .map_err(|e| reclaim_client::ClientError::KeyStore(format!("{path}: {e}")))
}

#[cfg(test)]
mod tests {
    //! The commands through Tauri's IPC on the mock runtime: the same ACL, argument
    //! names and error shape the web UI sees, without a webview.

    use tauri::ipc::{CallbackFn, InvokeBody};
    use tauri::test::{get_ipc_response, mock_builder, INVOKE_KEY};
    use tauri::webview::InvokeRequest;
    use tauri::WebviewWindowBuilder;

    use super::*;

    fn app(settings: &str) -> tauri::App<tauri::test::MockRuntime> {
        let settings = Settings::parse(settings).unwrap();
        let app = with_commands(mock_builder())
            .manage(Core::new(settings))
            .build(tauri::generate_context!("../tauri.conf.json"))
            .unwrap();
        WebviewWindowBuilder::new(&app, "main", Default::default())
            .build()
            .unwrap();
        app
    }

    fn invoke(
        app: &tauri::App<tauri::test::MockRuntime>,
        cmd: &str,
        args: serde_json::Value,
    ) -> Result<serde_json::Value, serde_json::Value> {
        let window = app.get_webview_window("main").unwrap();
        get_ipc_response(
            &window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: "tauri://localhost".parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|b| b.deserialize::<serde_json::Value>().unwrap())
    }

    fn frames_dir() -> String {
        let dir = std::env::temp_dir().join(format!("reclaim-app-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.display().to_string()
    }

    /// Nothing listens on port 9 of this machine (discard is not run).
    fn settings(extra: &str) -> String {
        format!(
            "server_url = \"http://127.0.0.1:9\"\ncamera = \"files:{}\"\ndata_dir = \"{}\"\ndevice_key_store = \"file\"\n{extra}",
            frames_dir(),
            frames_dir()
        )
    }

    /// The names the page's scripts call a command by (`call('x'`, `invoke('x'`).
    fn commands_the_page_calls() -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        for script in [
            include_str!("../../ui/app.js"),
            include_str!("../../ui/webcam.js"),
        ] {
            for opener in ["call('", "invoke('"] {
                for (at, _) in script.match_indices(opener) {
                    let rest = &script[at + opener.len()..];
                    if let Some(end) = rest.find('\'') {
                        names.insert(rest[..end].to_string());
                    }
                }
            }
        }
        names
    }

    /// The page and the core meet only at the command names (the arguments and AppState
    /// are checked through IPC by the tests below and the WebDriver tests): a renamed or
    /// removed command would fail only when a person reaches that screen.
    #[test]
    fn the_page_calls_exactly_the_commands_the_app_registers() {
        let source = include_str!("lib.rs");
        let list = source
            .split("generate_handler![")
            .nth(1)
            .and_then(|rest| rest.split(']').next())
            .unwrap();
        let registered: std::collections::BTreeSet<String> = list
            .split(',')
            .filter_map(|entry| entry.trim().strip_prefix("commands::"))
            .map(str::to_string)
            .collect();
        assert!(registered.len() >= 20, "{registered:?}");
        let called = commands_the_page_calls();
        let unknown: Vec<_> = called.difference(&registered).collect();
        assert!(
            unknown.is_empty(),
            "the page calls commands the app lacks: {unknown:?}"
        );
        let unused: Vec<_> = registered.difference(&called).collect();
        assert!(unused.is_empty(), "commands no page calls: {unused:?}");
    }

    #[test]
    fn the_commands_answer_through_ipc_and_errors_carry_codes() {
        let app = app(&settings(""));
        let state = invoke(&app, "get_state", serde_json::json!({})).unwrap();
        assert_eq!(state["screen"], "start");
        assert_eq!(state["can_handoff"], true);
        assert_eq!(state["camera"]["file_backed"], true);

        let e = invoke(
            &app,
            "start_recovery",
            serde_json::json!({ "login": " ", "action": "reset_password" }),
        )
        .unwrap_err();
        assert_eq!(e["code"], "input_invalid");
        let e = invoke(
            &app,
            "start_recovery",
            serde_json::json!({ "login": "a", "action": "delete_everything" }),
        )
        .unwrap_err();
        assert_eq!(e["code"], "input_invalid");
        let e = invoke(&app, "capture_document", serde_json::json!({})).unwrap_err();
        assert_eq!(e["code"], "out_of_order");

        // The service is down: the person sees the error screen, and can start over.
        let state = invoke(
            &app,
            "start_recovery",
            serde_json::json!({ "login": "avery.quinn", "action": "unlock" }),
        )
        .unwrap();
        assert_eq!(state["screen"], "error");
        assert_eq!(state["error"], "backend_unreachable");
        let state = invoke(&app, "start_over", serde_json::json!({})).unwrap();
        assert_eq!(state["screen"], "start");
        assert_eq!(state["login"], serde_json::Value::Null);
    }

    #[test]
    fn the_webview_camera_takes_frames_through_ipc_and_refuses_garbage() {
        let app = app(&settings(""));
        let e = invoke(&app, "push_frame", serde_json::json!({ "jpeg": "" })).unwrap_err();
        assert_eq!(e["code"], "out_of_order", "no webview camera in use yet");
        let state = invoke(
            &app,
            "use_webview_camera",
            serde_json::json!({ "name": "ManyCam Virtual Webcam" }),
        )
        .unwrap();
        assert_eq!(state["camera"]["backend"], "webview");
        assert_eq!(state["camera"]["virtual"], true);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&image::RgbImage::from_pixel(32, 24, image::Rgb([1, 2, 3])))
            .unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&jpeg);
        invoke(&app, "push_frame", serde_json::json!({ "jpeg": b64 })).unwrap();
        for bad in ["%%%", "bm90IGEganBlZw=="] {
            let e = invoke(&app, "push_frame", serde_json::json!({ "jpeg": bad })).unwrap_err();
            assert_eq!(e["code"], "input_invalid", "{bad}");
        }
    }

    #[test]
    fn a_kiosk_starts_on_its_attract_screen_and_offers_no_hand_off() {
        let dir = frames_dir();
        let key = std::path::Path::new(&dir).join("kiosk.key");
        if !key.exists() {
            reclaim_client::keystore::KeyStore::unmanaged(&key)
                .load_or_create()
                .unwrap();
        }
        let app = app(&settings(&format!(
            "kiosk = true\nidle_timeout_s = 30\ndevice_key = \"{}\"",
            key.display()
        )));
        let state = invoke(&app, "get_state", serde_json::json!({})).unwrap();
        assert_eq!(state["screen"], "attract");
        assert_eq!(state["kiosk"], true);
        assert_eq!(state["can_handoff"], false);
        assert_eq!(state["idle_timeout_s"], 30);
        let state = invoke(&app, "begin", serde_json::json!({})).unwrap();
        assert_eq!(state["screen"], "start");
        let e = invoke(&app, "start_handoff", serde_json::json!({})).unwrap_err();
        assert_eq!(e["code"], "out_of_order");
    }
}
