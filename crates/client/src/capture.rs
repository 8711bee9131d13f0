//! The capture pipeline: one thread takes frames from the camera as fast as it delivers
//! them and keeps the newest; another analyses frames whenever it is free (guidance, the
//! selfie recording, the QR code). For guidance on a card or a face and for the QR code,
//! frames that arrive while the analyser is busy are dropped, so the preview never lags
//! behind the camera. The selfie is different: the frames it records are what the
//! liveness checks (the device's and the server's) judge, so the camera thread itself
//! keeps every due frame in the recording, and the analyser works through the kept frames
//! in order (see [`crate::selfie`]). A busy device records what an idle one records; only
//! the prompts lag. Nothing is written to disk.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use image::RgbImage;
use reclaim_document::Date;
use reclaim_protocol::wire::light::LightColour;
use reclaim_protocol::Code;
use reclaim_verify::document::DocumentReport;

use crate::frames::{CameraInfo, FrameSource, Scene};
use crate::guidance::{look_at_card, look_at_face, FaceLook, Guidance};
use crate::handoff::{find_code, HandoffCode};
use crate::selfie::SelfieRecorder;
use reclaim_verify::Engines;

/// How often the (slow) document reader looks at a card.
const CARD_INTERVAL: Duration = Duration::from_millis(300);

/// What the analyser does with frames.
pub enum Mode {
    Idle,
    /// Guidance on a card. `front` is set while the back is shown.
    Document {
        front: Option<Arc<RgbImage>>,
    },
    /// Guidance on the face, before the recording starts.
    FacePreview,
    Selfie(Box<SelfieRecorder>),
    Scan,
}

/// A document side the reader found capturable, with the frame it read.
pub struct ReadyCard {
    pub frame: Arc<RgbImage>,
    pub report: DocumentReport,
    pub needs_back: bool,
}

#[derive(Default)]
struct Latest {
    frame: Option<Arc<RgbImage>>,
    seq: u64,
    /// The mode the frame was taken in (see `Shared::epoch`).
    epoch: u64,
}

struct Shared {
    latest: Latest,
    /// Counts mode changes. A frame taken before the latest change (the ID still in view
    /// when the selfie starts, a file source not yet switched to the new scene) is
    /// never analysed for the new mode.
    epoch: u64,
    mode: Mode,
    guidance: Guidance,
    ready_card: Option<ReadyCard>,
    code: Option<HandoffCode>,
    camera_error: Option<String>,
    /// The camera's clock: when the newest frame arrived, and its timestamp. The screen
    /// light is timed on the camera's clock (from the first kept frame), so the preview
    /// reads "now" on it.
    clock: Option<(Instant, u64)>,
    stop: bool,
    /// Analysis time of every analysed frame since the last reset (benchmarks).
    analysed_ms: Vec<f64>,
    frames_seen: u64,
}

/// The running pipeline of one camera.
pub struct Capture {
    shared: Arc<(Mutex<Shared>, Condvar)>,
    info: CameraInfo,
    scene_tx: std::sync::mpsc::Sender<(Scene, u64)>,
    threads: Vec<JoinHandle<()>>,
}

/// What the preview shows.
pub struct PreviewFrame {
    pub frame: Option<Arc<RgbImage>>,
    pub seq: u64,
    pub guidance: Guidance,
    pub camera_error: Option<String>,
    /// The screen light's colour now, while a selfie is recorded under one.
    pub light: Option<LightColour>,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panicked analyser must not take the app down with it: the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Capture {
    /// Starts the pipeline on `source`, analysing with `engine`.
    pub fn start(mut source: Box<dyn FrameSource>, engine: Arc<Engines>) -> Capture {
        let info = source.info();
        let shared = Arc::new((
            Mutex::new(Shared {
                latest: Latest::default(),
                epoch: 0,
                mode: Mode::Idle,
                guidance: Guidance::default(),
                ready_card: None,
                code: None,
                camera_error: None,
                clock: None,
                stop: false,
                analysed_ms: Vec::new(),
                frames_seen: 0,
            }),
            Condvar::new(),
        ));
        let (scene_tx, scene_rx) = std::sync::mpsc::channel::<(Scene, u64)>();
        let grab_shared = shared.clone();
        let grabber = std::thread::Builder::new()
            .name("reclaim-camera".into())
            .spawn(move || {
                let mut epoch = 0;
                loop {
                    while let Ok((scene, e)) = scene_rx.try_recv() {
                        source.set_scene(scene);
                        epoch = e;
                    }
                    let (m, cv) = &*grab_shared;
                    if lock(m).stop {
                        return;
                    }
                    match source.next_frame() {
                        Ok(frame) => {
                            let image = Arc::new(frame.image);
                            let arrived = Instant::now();
                            let mut s = lock(m);
                            s.clock = Some((arrived, frame.t_ms));
                            // The selfie keeps its frames here, not in the analyser: a
                            // frame the analyser has no time for is still recorded.
                            if epoch == s.epoch {
                                if let Mode::Selfie(r) = &mut s.mode {
                                    r.offer(image.clone(), frame.t_ms);
                                    // Once every move is made the analyser has nothing
                                    // more to say; the light's progress is the camera's.
                                    let (progress, prompt, done) =
                                        (r.progress(), r.prompt(), r.done());
                                    s.guidance.progress = progress;
                                    if let Some(p) = prompt {
                                        s.guidance.prompt = Some(p.to_string());
                                    }
                                    if done {
                                        // Ended by time, by the frame budget with every
                                        // kept frame analysed, or by the light's last frame:
                                        // nothing else will say so.
                                        s.guidance.done = true;
                                    }
                                }
                            }
                            s.latest = Latest {
                                frame: Some(image),
                                seq: s.latest.seq + 1,
                                epoch,
                            };
                            s.frames_seen += 1;
                            s.camera_error = None;
                            cv.notify_all();
                        }
                        Err(e) => {
                            lock(m).camera_error = Some(e.code().to_string());
                            cv.notify_all();
                            std::thread::sleep(Duration::from_millis(250));
                        }
                    }
                }
            });
        let an_shared = shared.clone();
        let analyser = std::thread::Builder::new()
            .name("reclaim-guidance".into())
            .spawn(move || analyse_loop(&an_shared, &engine));
        Capture {
            shared,
            info,
            scene_tx,
            threads: [grabber, analyser]
                .into_iter()
                .filter_map(Result::ok)
                .collect(),
        }
    }

    pub fn info(&self) -> &CameraInfo {
        &self.info
    }

    /// Tells the source what is in front of it and the analyser what to do.
    pub fn set_mode(&self, scene: Scene, mode: Mode) {
        let mut s = lock(&self.shared.0);
        s.epoch += 1;
        let _ = self.scene_tx.send((scene, s.epoch));
        s.mode = mode;
        s.guidance = Guidance::default();
        s.ready_card = None;
        s.code = None;
    }

    pub fn preview(&self) -> PreviewFrame {
        let s = lock(&self.shared.0);
        PreviewFrame {
            // A frame taken for the step before is not shown for this one (the ID card
            // under the selfie prompt, an empty room under "point at the QR code").
            frame: s.latest.frame.clone().filter(|_| s.latest.epoch == s.epoch),
            seq: s.latest.seq,
            guidance: s.guidance.clone(),
            camera_error: s.camera_error.clone(),
            light: light_now(&s),
        }
    }

    /// The card side found capturable, taken out of the pipeline.
    pub fn take_ready_card(&self) -> Option<ReadyCard> {
        lock(&self.shared.0).ready_card.take()
    }

    /// The finished selfie recording, taken out of the pipeline.
    pub fn take_recording(&self) -> Option<SelfieRecorder> {
        let mut s = lock(&self.shared.0);
        match std::mem::replace(&mut s.mode, Mode::Idle) {
            Mode::Selfie(r) if r.done() => Some(*r),
            other => {
                s.mode = other;
                None
            }
        }
    }

    pub fn take_code(&self) -> Option<HandoffCode> {
        lock(&self.shared.0).code.take()
    }

    /// Analysis times since the last call, and the frames the camera delivered.
    pub fn take_stats(&self) -> (Vec<f64>, u64) {
        let mut s = lock(&self.shared.0);
        let seen = std::mem::take(&mut s.frames_seen);
        (std::mem::take(&mut s.analysed_ms), seen)
    }

    /// Waits up to `timeout` for `until` to hold (tests and benchmarks).
    pub fn wait_for(&self, timeout: Duration, until: impl Fn(&Guidance) -> bool) -> bool {
        let (m, cv) = &*self.shared;
        let deadline = Instant::now() + timeout;
        let mut s = lock(m);
        loop {
            if until(&s.guidance) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            s = cv
                .wait_timeout(s, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }
}

impl Drop for Capture {
    /// Stops both threads and drops every frame they hold.
    fn drop(&mut self) {
        {
            let mut s = lock(&self.shared.0);
            s.stop = true;
            s.latest = Latest::default();
            s.mode = Mode::Idle;
            s.ready_card = None;
        }
        self.shared.1.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn analyse_loop(shared: &Arc<(Mutex<Shared>, Condvar)>, engine: &Engines) {
    let (m, cv) = &**shared;
    let mut last_seq = 0;
    let mut last_card = Instant::now() - CARD_INTERVAL;
    loop {
        // Recording a selfie: the oldest kept frame not analysed yet, so none is skipped.
        // Otherwise the newest frame the analyser has not seen; those in between are
        // dropped.
        let (frame, seq, epoch, task) = {
            let mut s = lock(m);
            loop {
                if s.stop {
                    return;
                }
                if let Mode::Selfie(r) = &s.mode {
                    if let Some((index, f)) = r.next_to_analyse() {
                        break (f, last_seq, s.epoch, Task::Selfie(index));
                    }
                } else if s.latest.seq != last_seq && s.latest.epoch == s.epoch {
                    if let Some(f) = s.latest.frame.clone() {
                        break (f, s.latest.seq, s.epoch, task_of(&s.mode));
                    }
                }
                s = cv
                    .wait_timeout(s, Duration::from_millis(200))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
        };
        last_seq = seq;
        let started = Instant::now();
        match task {
            Task::Idle => continue,
            Task::Face => {
                let look = look_at_face(&engine.faces, &frame);
                let mut s = lock(m);
                match look {
                    Ok(look) => {
                        s.guidance = Guidance {
                            prompt: Some(
                                if look.codes.is_empty() {
                                    "look_center"
                                } else {
                                    "hold_still"
                                }
                                .into(),
                            ),
                            ready: look.codes.is_empty(),
                            codes: look.codes,
                            face_box: look.face_box,
                            frame_ms: look.ms,
                            ..Guidance::default()
                        }
                    }
                    Err(e) => s.camera_error = Some(e.code().to_string()),
                }
            }
            Task::Selfie(index) => {
                let look = look_at_face(&engine.faces, &frame);
                let mut s = lock(m);
                if s.epoch != epoch {
                    // A new recording (or step) started meanwhile: this look is stale.
                    continue;
                }
                let look = match look {
                    Ok(look) => look,
                    Err(_) => {
                        // The frame stays in the recording, seen as faceless, so the
                        // analyser moves on; the engine judges it with the others.
                        s.camera_error = Some(Code::EngineUnavailable.as_str().into());
                        FaceLook::default()
                    }
                };
                if let Mode::Selfie(r) = &mut s.mode {
                    r.observe(index, &look);
                    let (progress, done, prompt) = (r.progress(), r.done(), r.prompt());
                    s.guidance = Guidance {
                        codes: look.codes,
                        face_box: look.face_box,
                        prompt: prompt.map(str::to_string),
                        progress,
                        done,
                        frame_ms: look.ms,
                        ..Guidance::default()
                    };
                }
            }
            Task::Card(front) => {
                if last_card.elapsed() < CARD_INTERVAL {
                    continue;
                }
                last_card = Instant::now();
                let Some(today) = Date::today_utc() else {
                    continue;
                };
                let (img_front, img_back) = match &front {
                    Some(f) => (f.as_ref(), Some(frame.as_ref())),
                    None => (frame.as_ref(), None),
                };
                let look =
                    look_at_card(&engine.faces, &engine.documents, img_front, img_back, today);
                let mut s = lock(m);
                match look {
                    Ok(look) => {
                        if look.guidance.ready {
                            if let Some(report) = look.report {
                                s.ready_card = Some(ReadyCard {
                                    frame: frame.clone(),
                                    report,
                                    needs_back: look.needs_back,
                                });
                            }
                        }
                        s.guidance = look.guidance;
                    }
                    Err(e) => s.camera_error = Some(e.code().to_string()),
                }
            }
            Task::Scan => {
                let code = find_code(&frame);
                let mut s = lock(m);
                s.guidance = Guidance {
                    prompt: Some("scan_qr".into()),
                    done: code.is_some(),
                    frame_ms: started.elapsed().as_secs_f64() * 1e3,
                    ..Guidance::default()
                };
                if code.is_some() {
                    s.code = code;
                }
            }
        }
        let ms = started.elapsed().as_secs_f64() * 1e3;
        let mut s = lock(m);
        if s.analysed_ms.len() < 100_000 {
            s.analysed_ms.push(ms);
        }
        cv.notify_all();
    }
}

/// The recording's light at this moment on the camera's clock.
fn light_now(s: &Shared) -> Option<LightColour> {
    let Mode::Selfie(r) = &s.mode else {
        return None;
    };
    let (arrived, t_ms) = s.clock?;
    r.light_at(t_ms + arrived.elapsed().as_millis() as u64)
}

enum Task {
    Idle,
    Face,
    /// Look at the recording's kept frame of this index.
    Selfie(usize),
    Card(Option<Arc<RgbImage>>),
    Scan,
}

fn task_of(mode: &Mode) -> Task {
    match mode {
        Mode::Idle => Task::Idle,
        Mode::FacePreview => Task::Face,
        // Selfie frames are taken from the recording, never from `latest`.
        Mode::Selfie(_) => Task::Idle,
        Mode::Document { front } => Task::Card(front.clone()),
        Mode::Scan => Task::Scan,
    }
}
