//! Where frames come from. The flow reads frames through [`FrameSource`], so the same
//! code runs from a real camera (the app's nokhwa source) and from image files (tests,
//! demos). Frames stay in memory: no source writes one to disk.
//!
//! A file-backed source plays *scenes*: what a person would hold in front of the camera
//! at each step (the ID's front, its back, their face following the challenge, the
//! laptop's QR code). The flow says which step it is at; a real camera ignores that.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use image::RgbImage;
use reclaim_protocol::ChallengeAction;
use reclaim_verify::{load_image_bytes, CAPTURE_LIMITS};
use serde::Serialize;

use crate::error::{ClientError, Result};

/// One frame and when it was taken, in milliseconds since the source opened.
pub struct Frame {
    pub image: RgbImage,
    pub t_ms: u64,
}

/// What the attestation says about the camera.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CameraInfo {
    pub name: String,
    /// `v4l2`, `avfoundation`, `msmf`, `webview` or `file`.
    pub backend: String,
    #[serde(rename = "virtual")]
    pub virtual_device: bool,
    pub file_backed: bool,
}

/// What the person is showing the camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scene {
    Idle,
    IdFront,
    IdBack,
    /// Their face, looking at the camera, before the recording starts (this challenge's
    /// first frame).
    Face(Vec<ChallengeAction>),
    /// Their face, following this challenge (`left`, `right`, `center`).
    Selfie(Vec<ChallengeAction>),
    Qr,
}

/// A camera, real or not.
pub trait FrameSource: Send {
    fn info(&self) -> CameraInfo;
    /// The next frame; blocks for at most about one frame interval.
    fn next_frame(&mut self) -> Result<Frame>;
    /// The step the flow is at. Only file-backed sources use it.
    fn set_scene(&mut self, _scene: Scene) {}
}

/// Names that mark a camera as software rather than a sensor: streaming tools, loopback
/// drivers, phone-as-webcam bridges. Matching is by lowercase substring on the device
/// name and the driver, since that is all V4L2, AVFoundation and Media Foundation give.
const VIRTUAL_CAMERA_MARKS: &[&str] = &[
    "obs",
    "v4l2loopback",
    "loopback",
    "dummy video",
    "manycam",
    "snap camera",
    "xsplit",
    "virtual",
    "droidcam",
    "iriun",
    "epoccam",
    "camtwist",
    "e2esoft",
    "splitcam",
    "youcam",
    "mmhmm",
    "ndi",
    "fake",
    "akvcam",
    "camo",
];

/// Whether a camera's name or driver marks it as virtual.
pub fn is_virtual_camera(name: &str, driver: &str) -> bool {
    let text = format!("{} {}", name.to_lowercase(), driver.to_lowercase());
    VIRTUAL_CAMERA_MARKS.iter().any(|mark| {
        // Short marks must stand as words ("obs" in "OBS Virtual Camera", not in "Jobs").
        if mark.len() <= 4 {
            text.split(|c: char| !c.is_ascii_alphanumeric())
                .any(|w| w == *mark)
        } else {
            text.contains(mark)
        }
    })
}

/// Frames from image files, laid out as scenes in one directory:
///
/// ```text
/// id_front.jpg            the ID's front (png, jpg or jpeg)
/// id_back.jpg             its back, for kinds that need it
/// qr.png                  a QR code held up to the camera
/// selfie/<challenge>/*.jpg   the face following that challenge (e.g. `left-right-center/`),
///                            played once at `fps`, then the last frame held
/// selfie/*.jpg            the same when no directory matches the challenge
/// ```
pub struct FileSource {
    dir: PathBuf,
    fps: f32,
    scene: Scene,
    frames: Vec<RgbImage>,
    next: usize,
    opened: Instant,
    last: Option<Instant>,
}

impl FileSource {
    pub fn open(dir: &Path, fps: f32) -> Result<FileSource> {
        if !dir.is_dir() {
            return Err(ClientError::CameraUnavailable(format!(
                "{} is not a directory of frames",
                dir.display()
            )));
        }
        Ok(FileSource {
            dir: dir.to_path_buf(),
            fps: fps.clamp(1.0, 60.0),
            scene: Scene::Idle,
            frames: Vec::new(),
            next: 0,
            opened: Instant::now(),
            last: None,
        })
    }

    fn load_scene(&mut self) -> Result<()> {
        let paths = match &self.scene {
            Scene::Idle => Vec::new(),
            Scene::IdFront => still(&self.dir, "id_front"),
            Scene::IdBack => still(&self.dir, "id_back"),
            Scene::Qr => still(&self.dir, "qr"),
            Scene::Selfie(challenge) => selfie_frames(&self.dir, challenge)?,
            Scene::Face(challenge) => selfie_frames(&self.dir, challenge)?
                .into_iter()
                .take(1)
                .collect(),
        };
        // Selfie scenes are video frames and ID scenes photos: the capture limits the
        // engine and the server apply to each.
        let video = matches!(self.scene, Scene::Selfie(_) | Scene::Face(_));
        let limits = if video {
            CAPTURE_LIMITS.frame()
        } else {
            CAPTURE_LIMITS.id
        };
        let mut frames = Vec::with_capacity(paths.len());
        for p in paths {
            let lost = |e: reclaim_verify::VerifyError| {
                ClientError::CameraLost(format!("{}: {e}", p.display()))
            };
            let bytes = reclaim_verify::image_input::read_image_file(&p, limits.max_file_bytes)
                .map_err(lost)?;
            let header =
                reclaim_verify::image_input::probe_image_bytes(&bytes, &limits).map_err(lost)?;
            if video {
                CAPTURE_LIMITS
                    .check_frame(header.width, header.height)
                    .map_err(lost)?;
            }
            let image = load_image_bytes(&bytes, &limits).map_err(lost)?;
            frames.push(image.rgb);
        }
        self.frames = frames;
        self.next = 0;
        Ok(())
    }
}

fn selfie_frames(dir: &Path, challenge: &[ChallengeAction]) -> Result<Vec<PathBuf>> {
    let listed = images_in(&dir.join("selfie").join(sequence_name(challenge)))?;
    if listed.is_empty() {
        images_in(&dir.join("selfie"))
    } else {
        Ok(listed)
    }
}

/// The directory a challenge's frames are kept in: `left-right-center`.
pub fn sequence_name(challenge: &[ChallengeAction]) -> String {
    reclaim_protocol::named::joined(challenge, "-")
}

fn still(dir: &Path, stem: &str) -> Vec<PathBuf> {
    ["jpg", "jpeg", "png"]
        .iter()
        .map(|ext| dir.join(format!("{stem}.{ext}")))
        .filter(|p| p.is_file())
        .take(1)
        .collect()
}

fn images_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png")
                })
        })
        .collect();
    paths.sort();
    Ok(paths)
}

impl FrameSource for FileSource {
    fn info(&self) -> CameraInfo {
        CameraInfo {
            name: format!("image files in {}", self.dir.display()),
            backend: "file".into(),
            virtual_device: false,
            file_backed: true,
        }
    }

    fn next_frame(&mut self) -> Result<Frame> {
        // Paced like a camera, so the flow sees real frame timing.
        let interval = Duration::from_secs_f32(1.0 / self.fps);
        if let Some(last) = self.last {
            let due = last + interval;
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        self.last = Some(Instant::now());
        if !self.dir.is_dir() {
            return Err(ClientError::CameraLost(format!(
                "{} is gone",
                self.dir.display()
            )));
        }
        let t_ms = self.opened.elapsed().as_millis() as u64;
        let image = match self.frames.get(self.next).or(self.frames.last()) {
            Some(f) => f.clone(),
            // Nothing in front of the camera: a dark, empty room.
            None => RgbImage::from_pixel(640, 480, image::Rgb([16, 16, 16])),
        };
        if self.next < self.frames.len() {
            self.next += 1;
        }
        Ok(Frame { image, t_ms })
    }

    /// Every call starts the scene from its first frame: a person starts to move when
    /// the prompt appears.
    fn set_scene(&mut self, scene: Scene) {
        self.scene = scene;
        if self.load_scene().is_err() {
            // An unreadable scene plays as an empty room; the next frame call finds the
            // directory gone if that is why.
            self.frames.clear();
        }
    }
}

/// Frames pushed in from outside the process's own camera code: the webview's camera
/// (`getUserMedia`), where nokhwa does not reach (Android, iOS) or finds nothing. The
/// page sends each frame as a JPEG; a frame that arrives while the previous one is still
/// waiting is dropped, like any frame the pipeline cannot take in time.
pub struct PushedSource {
    frames: Receiver<RgbImage>,
    info: CameraInfo,
    opened: Instant,
}

/// The sending end of a [`PushedSource`].
#[derive(Clone)]
pub struct FramePusher {
    frames: SyncSender<RgbImage>,
}

/// A pushed camera named `name` (the page's track label, checked for virtual cameras).
pub fn pushed(name: &str) -> (PushedSource, FramePusher) {
    let (tx, rx) = sync_channel(1);
    let name: String = name.chars().filter(|c| !c.is_control()).take(128).collect();
    (
        PushedSource {
            frames: rx,
            info: CameraInfo {
                virtual_device: is_virtual_camera(&name, ""),
                name: if name.is_empty() {
                    "webview camera".into()
                } else {
                    name
                },
                backend: "webview".into(),
                file_backed: false,
            },
            opened: Instant::now(),
        },
        FramePusher { frames: tx },
    )
}

impl FramePusher {
    /// Decodes `jpeg` (within the capture limits of a selfie frame, checked from its
    /// header first) and hands it to the pipeline.
    pub fn push_jpeg(&self, jpeg: &[u8]) -> Result<()> {
        let frame = CAPTURE_LIMITS.frame();
        let refused =
            |e: reclaim_verify::VerifyError| ClientError::Input(format!("a camera frame: {e}"));
        let header =
            reclaim_verify::image_input::probe_image_bytes(jpeg, &frame).map_err(refused)?;
        CAPTURE_LIMITS
            .check_frame(header.width, header.height)
            .map_err(refused)?;
        let image = load_image_bytes(jpeg, &frame).map_err(refused)?.rgb;
        match self.frames.try_send(image) {
            Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => {
                Err(ClientError::CameraLost("the camera was replaced".into()))
            }
        }
    }
}

impl FrameSource for PushedSource {
    fn info(&self) -> CameraInfo {
        self.info.clone()
    }

    fn next_frame(&mut self) -> Result<Frame> {
        match self.frames.recv_timeout(Duration::from_secs(2)) {
            Ok(image) => Ok(Frame {
                image,
                t_ms: self.opened.elapsed().as_millis() as u64,
            }),
            Err(_) => Err(ClientError::CameraLost(
                "no frame from the webview camera for 2 s".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_cameras_are_recognised_by_name_or_driver() {
        for (name, driver) in [
            ("OBS Virtual Camera", ""),
            ("Dummy video device (0x0000)", "v4l2 loopback"),
            ("ManyCam Virtual Webcam", ""),
            ("Snap Camera", ""),
            ("Integrated Camera", "v4l2loopback"),
            ("DroidCam Source 3", ""),
        ] {
            assert!(is_virtual_camera(name, driver), "{name} / {driver}");
        }
        for (name, driver) in [
            ("Integrated Camera: Integrated C", "uvcvideo"),
            ("Logitech BRIO", "uvcvideo"),
            ("FaceTime HD Camera", ""),
            ("Jobsite cam", "uvcvideo"),
        ] {
            assert!(!is_virtual_camera(name, driver), "{name} / {driver}");
        }
    }

    #[test]
    fn a_file_source_plays_the_scene_it_is_shown() {
        let dir = std::env::temp_dir().join(format!("reclaim-frames-{}", std::process::id()));
        let seq = dir.join("selfie").join("left-right-center");
        std::fs::create_dir_all(&seq).unwrap();
        RgbImage::from_pixel(32, 24, image::Rgb([200, 0, 0]))
            .save(dir.join("id_front.png"))
            .unwrap();
        for i in 0..3u8 {
            RgbImage::from_pixel(32, 24, image::Rgb([0, i * 100, 0]))
                .save(seq.join(format!("{i:03}.png")))
                .unwrap();
        }
        let mut source = FileSource::open(&dir, 60.0).unwrap();
        assert!(source.info().file_backed);
        source.set_scene(Scene::IdFront);
        assert_eq!(source.next_frame().unwrap().image.get_pixel(0, 0)[0], 200);
        source.set_scene(Scene::Selfie(vec![
            ChallengeAction::Left,
            ChallengeAction::Right,
            ChallengeAction::Center,
        ]));
        let greens: Vec<u8> = (0..5)
            .map(|_| source.next_frame().unwrap().image.get_pixel(0, 0)[1])
            .collect();
        assert_eq!(
            greens,
            vec![0, 100, 200, 200, 200],
            "played once, last frame held"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            source.next_frame(),
            Err(ClientError::CameraLost(_))
        ));
    }

    #[test]
    fn pushed_frames_reach_the_source_and_bad_ones_are_refused() {
        let (mut source, pusher) = pushed("OBS Virtual Camera");
        assert!(
            source.info().virtual_device,
            "a virtual camera is flagged by its label"
        );
        assert_eq!(source.info().backend, "webview");
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut jpeg)
            .encode_image(&RgbImage::from_pixel(64, 48, image::Rgb([10, 200, 30])))
            .unwrap();
        pusher.push_jpeg(&jpeg).unwrap();
        // A second frame while the first waits is dropped, not queued.
        pusher.push_jpeg(&jpeg).unwrap();
        assert_eq!(source.next_frame().unwrap().image.dimensions(), (64, 48));
        let e = pusher
            .push_jpeg(b"not a jpeg")
            .err()
            .map(|e| e.code().to_string());
        assert_eq!(e.as_deref(), Some("input_invalid"));
        assert!(
            matches!(source.next_frame(), Err(ClientError::CameraLost(_))),
            "nothing queued"
        );
        drop(source);
        assert!(matches!(
            pusher.push_jpeg(&jpeg),
            Err(ClientError::CameraLost(_))
        ));
    }

    #[test]
    fn a_missing_directory_is_an_unavailable_camera() {
        let e = FileSource::open(Path::new("/nonexistent/reclaim-frames"), 30.0)
            .err()
            .map(|e| e.code().to_string());
        assert_eq!(e.as_deref(), Some("camera_unavailable"));
    }
}
