//! The commands the web UI calls. Each is a thin wrapper over the client core's
//! [`Recovery`]; errors reach the UI as `{code, detail}`, and the UI shows its own
//! translated sentence for the code, never the detail.

use std::sync::Mutex as StdMutex;
use std::time::Instant;

use base64::Engine;
use reclaim_client::frames::{pushed, FramePusher};
use reclaim_client::recovery::{AppState, Preview, Recovery};
use reclaim_client::ClientError;
use reclaim_protocol::wire::password::PasswordCheckAnswer;
use reclaim_protocol::{Code, RecoveryAction};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

use crate::camera::{self, CameraEntry};
use crate::settings::Settings;

/// An error as the UI sees it.
#[derive(Debug, Serialize)]
pub struct UiError {
    pub code: Code,
    pub detail: String,
}

impl From<ClientError> for UiError {
    fn from(e: ClientError) -> UiError {
        UiError {
            code: e.code(),
            detail: e.to_string(),
        }
    }
}

type Answer<T> = Result<T, UiError>;

/// Everything the commands share.
pub struct Core {
    pub settings: Settings,
    recovery: OnceCell<Mutex<Recovery>>,
    last_input: StdMutex<Instant>,
    /// Where the page's camera frames go, when the webview's camera is in use.
    pusher: StdMutex<Option<FramePusher>>,
}

impl Core {
    pub fn new(settings: Settings) -> Core {
        Core {
            settings,
            recovery: OnceCell::new(),
            last_input: StdMutex::new(Instant::now()),
            pusher: StdMutex::new(None),
        }
    }

    /// The recovery core, made on first use (the models take a moment to load).
    pub async fn recovery(&self) -> Answer<MutexGuard<'_, Recovery>> {
        let cell = self
            .recovery
            .get_or_try_init(|| async {
                crate::startup::build(&self.settings).await.map(Mutex::new)
            })
            .await
            .map_err(UiError::from)?;
        Ok(cell.lock().await)
    }

    pub fn touch(&self) {
        *self.last_input.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    pub fn idle_s(&self) -> u64 {
        self.last_input
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
            .as_secs()
    }
}

fn action(name: &str) -> Answer<RecoveryAction> {
    RecoveryAction::parse(name).ok_or_else(|| UiError {
        code: Code::InputInvalid,
        detail: format!("unknown action {name:?}"),
    })
}

#[tauri::command]
pub async fn get_state(core: State<'_, Core>) -> Answer<AppState> {
    Ok(core.recovery().await?.state())
}

/// The page saw input (typing, touch) the core would not otherwise see.
#[tauri::command]
pub fn touch(core: State<'_, Core>) {
    core.touch();
}

#[tauri::command]
pub async fn begin(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.begin()?)
}

#[tauri::command]
pub async fn start_recovery(
    core: State<'_, Core>,
    login: String,
    action: String,
) -> Answer<AppState> {
    core.touch();
    let action = self::action(&action)?;
    Ok(core
        .recovery()
        .await?
        .start_recovery(&login, action)
        .await?)
}

#[tauri::command]
pub async fn list_cameras() -> Answer<Vec<CameraEntry>> {
    // Listing touches devices; off the async runtime.
    tauri::async_runtime::spawn_blocking(camera::list)
        .await
        .map_err(|e| UiError {
            code: Code::CameraUnavailable,
            detail: e.to_string(),
        })
}

#[tauri::command]
pub async fn choose_camera(core: State<'_, Core>, id: String) -> Answer<AppState> {
    core.touch();
    let opened = tauri::async_runtime::spawn_blocking({
        let id = id.clone();
        move || camera::NokhwaSource::open(Some(&id))
    })
    .await
    .map_err(|e| UiError {
        code: Code::CameraUnavailable,
        detail: e.to_string(),
    })??;
    crate::startup::remember_camera(&core.settings, &id);
    let mut r = core.recovery().await?;
    r.set_camera(Box::new(opened));
    Ok(r.state())
}

/// The webview's camera (`getUserMedia`) from now on: where nokhwa finds nothing or does
/// not reach (Android, iOS). `name` is the track's label, checked for virtual cameras.
#[tauri::command]
pub async fn use_webview_camera(core: State<'_, Core>, name: String) -> Answer<AppState> {
    core.touch();
    let (source, pusher) = pushed(&name);
    *core.pusher.lock().unwrap_or_else(|p| p.into_inner()) = Some(pusher);
    let mut r = core.recovery().await?;
    r.set_camera(Box::new(source));
    Ok(r.state())
}

/// One frame from the webview's camera: a base64 JPEG.
#[tauri::command]
pub fn push_frame(core: State<'_, Core>, jpeg: String) -> Answer<()> {
    // A 4K JPEG is well under this; anything larger is not a camera frame.
    if jpeg.len() > 16 * 1024 * 1024 {
        return Err(UiError {
            code: Code::InputInvalid,
            detail: "a camera frame larger than 16 MB".into(),
        });
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(jpeg.as_bytes())
        .map_err(|e| UiError {
            code: Code::InputInvalid,
            detail: format!("a camera frame: {e}"),
        })?;
    let pusher = core
        .pusher
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or_else(|| {
            UiError::from(ClientError::OutOfOrder("the webview camera is not in use"))
        })?;
    Ok(pusher.push_jpeg(&bytes)?)
}

#[tauri::command]
pub async fn preview(core: State<'_, Core>) -> Answer<Preview> {
    let p = core.recovery().await?.preview()?;
    // Someone in front of the camera is someone using the kiosk.
    if p.guidance.face_box.is_some() || p.guidance.ready {
        core.touch();
    }
    Ok(p)
}

#[tauri::command]
pub async fn capture_document(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.capture_document()?)
}

#[tauri::command]
pub async fn start_selfie(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.start_selfie()?)
}

#[tauri::command]
pub async fn submit(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    let state = core.recovery().await?.submit().await?;
    core.touch();
    Ok(state)
}

#[tauri::command]
pub async fn check_password(
    core: State<'_, Core>,
    password: String,
) -> Answer<PasswordCheckAnswer> {
    core.touch();
    let password = zeroize::Zeroizing::new(password);
    Ok(core.recovery().await?.check_password(&password).await?)
}

#[tauri::command]
pub async fn set_password(core: State<'_, Core>, password: String) -> Answer<AppState> {
    core.touch();
    let password = zeroize::Zeroizing::new(password);
    Ok(core.recovery().await?.set_password(&password).await?)
}

#[tauri::command]
pub async fn retry(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.retry().await?)
}

#[tauri::command]
pub async fn start_over(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    let mut r = core.recovery().await?;
    r.start_over();
    Ok(r.state())
}

#[tauri::command]
pub async fn start_handoff(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.start_handoff().await?)
}

#[tauri::command]
pub async fn handoff_poll(core: State<'_, Core>) -> Answer<AppState> {
    Ok(core.recovery().await?.handoff_poll().await?)
}

#[tauri::command]
pub async fn review_poll(core: State<'_, Core>) -> Answer<AppState> {
    Ok(core.recovery().await?.review_poll().await?)
}

#[tauri::command]
pub async fn scan_handoff(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.scan_handoff()?)
}

#[tauri::command]
pub async fn claim_handoff(core: State<'_, Core>) -> Answer<AppState> {
    core.touch();
    Ok(core.recovery().await?.claim_handoff().await?)
}

/// Kiosk: forgets the person after the idle timeout, whatever the page is doing, and
/// tells the page.
pub async fn kiosk_watchdog(app: AppHandle, core: &Core) {
    let timeout = core.settings.idle_timeout_s;
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if core.idle_s() < timeout {
            continue;
        }
        let Ok(mut r) = core.recovery().await else {
            continue;
        };
        if r.screen() != reclaim_client::flow::Screen::Attract
            && r.screen() != reclaim_client::flow::Screen::Checking
            && r.screen() != reclaim_client::flow::Screen::Applying
        {
            r.start_over();
            let _ = app.emit("state", r.state());
        }
    }
}
