//! The real camera, through nokhwa (V4L2 on Linux, AVFoundation on macOS, Media
//! Foundation on Windows). A camera is opened and read on its own thread (nokhwa's
//! camera handle is not `Send` on every backend); frames reach the capture pipeline
//! through a one-slot channel, so a slow reader drops frames instead of queueing them.

use serde::Serialize;

#[cfg(not(any(target_os = "android", target_os = "ios")))]
pub use native::{list, NokhwaSource};

#[cfg(any(target_os = "android", target_os = "ios"))]
pub use mobile::{list, NokhwaSource};

/// A camera the person can pick.
#[derive(Debug, Clone, Serialize)]
pub struct CameraEntry {
    pub id: String,
    pub name: String,
    #[serde(rename = "virtual")]
    pub virtual_device: bool,
}

/// The file-backed camera declared as a laptop's built-in sensor, what the client's tests
/// call their webcam: the end-to-end tests' way (`file_camera_as_sensor`) to run the
/// server's default camera policy, which refuses a file-backed camera declared honestly
/// and cannot tell a declared sensor from a real one. Compiled only with the `test-hooks`
/// cargo feature, which no shipped build enables.
#[cfg(feature = "test-hooks")]
pub struct DeclaredSensor(pub reclaim_client::frames::FileSource);

#[cfg(feature = "test-hooks")]
impl reclaim_client::frames::FrameSource for DeclaredSensor {
    fn info(&self) -> reclaim_client::frames::CameraInfo {
        reclaim_client::frames::CameraInfo {
            name: "Integrated Camera: Integrated C".into(),
            backend: "v4l2".into(),
            virtual_device: false,
            file_backed: false,
        }
    }

    fn next_frame(&mut self) -> reclaim_client::Result<reclaim_client::frames::Frame> {
        self.0.next_frame()
    }

    fn set_scene(&mut self, scene: reclaim_client::frames::Scene) {
        self.0.set_scene(scene)
    }
}

#[cfg(not(any(target_os = "android", target_os = "ios")))]
mod native {
    use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
    use std::time::{Duration, Instant};

    use image::RgbImage;
    use nokhwa::pixel_format::RgbFormat;
    use nokhwa::utils::{ApiBackend, CameraIndex, RequestedFormat, RequestedFormatType};
    use reclaim_client::frames::{is_virtual_camera, CameraInfo, Frame, FrameSource};
    use reclaim_client::{ClientError, Result};

    use super::CameraEntry;

    fn backend_name() -> &'static str {
        match std::env::consts::OS {
            "linux" => "v4l2",
            "macos" => "avfoundation",
            "windows" => "msmf",
            _ => "native",
        }
    }

    /// The cameras the system lists. None is not an error: the UI says so.
    pub fn list() -> Vec<CameraEntry> {
        nokhwa::query(ApiBackend::Auto)
            .unwrap_or_default()
            .into_iter()
            .map(|c| CameraEntry {
                id: c.index().to_string(),
                virtual_device: is_virtual_camera(
                    &c.human_name(),
                    &format!("{} {}", c.description(), c.misc()),
                ),
                name: c.human_name(),
            })
            .collect()
    }

    pub struct NokhwaSource {
        info: CameraInfo,
        frames: Receiver<std::result::Result<RgbImage, String>>,
        opened: Instant,
    }

    impl NokhwaSource {
        /// Opens camera `id` (as listed), or the first one.
        pub fn open(id: Option<&str>) -> Result<NokhwaSource> {
            let cameras = nokhwa::query(ApiBackend::Auto).unwrap_or_default();
            let chosen = match id {
                Some(id) => cameras.iter().find(|c| c.index().to_string() == id),
                None => cameras.first(),
            }
            .ok_or(ClientError::NoCamera)?;
            let index: CameraIndex = chosen.index().clone();
            let info = CameraInfo {
                name: chosen.human_name(),
                backend: backend_name().into(),
                virtual_device: is_virtual_camera(
                    &chosen.human_name(),
                    &format!("{} {}", chosen.description(), chosen.misc()),
                ),
                file_backed: false,
            };
            let (tx, rx) = sync_channel(1);
            let (ready_tx, ready_rx) = sync_channel::<std::result::Result<(), String>>(1);
            std::thread::Builder::new()
                .name("reclaim-nokhwa".into())
                .spawn(move || {
                    let format = RequestedFormat::new::<RgbFormat>(
                        RequestedFormatType::AbsoluteHighestFrameRate,
                    );
                    let mut camera = match nokhwa::Camera::new(index, format).and_then(|mut c| {
                        c.open_stream()?;
                        Ok(c)
                    }) {
                        Ok(c) => c,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e.to_string()));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    loop {
                        let frame = camera
                            .frame()
                            .and_then(|b| b.decode_image::<RgbFormat>())
                            .map_err(|e| e.to_string())
                            .and_then(|img| {
                                let (w, h) = img.dimensions();
                                RgbImage::from_raw(w, h, img.into_raw())
                                    .ok_or_else(|| "a frame of the wrong size".to_string())
                            });
                        let failed = frame.is_err();
                        match tx.try_send(frame) {
                            // The reader is still on the previous frame: this one is dropped.
                            Ok(()) | Err(TrySendError::Full(_)) => {}
                            Err(TrySendError::Disconnected(_)) => return,
                        }
                        if failed {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                })
                .map_err(|e| ClientError::CameraUnavailable(e.to_string()))?;
            match ready_rx.recv_timeout(Duration::from_secs(10)) {
                Ok(Ok(())) => Ok(NokhwaSource {
                    info,
                    frames: rx,
                    opened: Instant::now(),
                }),
                Ok(Err(e)) => Err(ClientError::CameraUnavailable(e)),
                Err(_) => Err(ClientError::CameraUnavailable(
                    "the camera did not start".into(),
                )),
            }
        }
    }

    impl FrameSource for NokhwaSource {
        fn info(&self) -> CameraInfo {
            self.info.clone()
        }

        fn next_frame(&mut self) -> Result<Frame> {
            match self.frames.recv_timeout(Duration::from_secs(2)) {
                Ok(Ok(image)) => Ok(Frame {
                    image,
                    t_ms: self.opened.elapsed().as_millis() as u64,
                }),
                Ok(Err(e)) => Err(ClientError::CameraLost(e)),
                Err(_) => Err(ClientError::CameraLost(
                    "no frame for 2 s (unplugged?)".into(),
                )),
            }
        }
    }
}

/// Android and iOS: no native camera code; the page's `getUserMedia` pushes frames.
#[cfg(any(target_os = "android", target_os = "ios"))]
mod mobile {
    use reclaim_client::frames::{CameraInfo, Frame, FrameSource};
    use reclaim_client::{ClientError, Result};

    use super::CameraEntry;

    pub fn list() -> Vec<CameraEntry> {
        Vec::new()
    }

    pub struct NokhwaSource;

    impl NokhwaSource {
        pub fn open(_id: Option<&str>) -> Result<NokhwaSource> {
            Err(ClientError::NoCamera)
        }
    }

    impl FrameSource for NokhwaSource {
        fn info(&self) -> CameraInfo {
            CameraInfo {
                name: String::new(),
                backend: "none".into(),
                virtual_device: false,
                file_backed: false,
            }
        }

        fn next_frame(&mut self) -> Result<Frame> {
            Err(ClientError::NoCamera)
        }
    }
}
