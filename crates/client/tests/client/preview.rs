//! What the live preview shows: only frames taken for the step on screen.

use std::time::{Duration, Instant};

use reclaim_client::capture::{Capture, Mode};
use reclaim_client::frames::{FileSource, Scene};
use reclaim_client::handoff::qr_image;

use crate::harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_taken_for_the_step_before_is_not_shown_for_the_next() {
    let _turn = serial().await;
    let dir = scratch("preview-steps");
    qr_image(
        "reclaim:continue?server=http%3A%2F%2F127.0.0.1%3A9&session=s_1&secret=abc",
        6,
    )
    .unwrap()
    .save(dir.join("qr.png"))
    .unwrap();
    // One frame a second: the frame of the step before stays the newest for a while.
    let capture = Capture::start(Box::new(FileSource::open(&dir, 1.0).unwrap()), engine());
    let idle = (640, 480); // the file camera's empty room
    let started = Instant::now();
    while capture.preview().frame.is_none() {
        assert!(started.elapsed() < WAIT, "no frame at all");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(capture.preview().frame.unwrap().dimensions(), idle);

    capture.set_mode(Scene::Qr, Mode::Scan);
    let switched = Instant::now();
    let mut shown_code = false;
    while switched.elapsed() < Duration::from_secs(3) {
        if let Some(frame) = capture.preview().frame {
            assert_ne!(
                frame.dimensions(),
                idle,
                "the empty room was shown under the QR prompt"
            );
            shown_code = true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(shown_code, "the QR code was never shown");
}
