//! Does the face move like a person? Two measures on the landmark track.
//!
//! Jitter: a hand-held phone and a living head tremble, and the detector adds its own
//! noise, so each landmark strays a little from the smooth path through its positions
//! in the neighbouring frames. A rendered or interpolated face (a photo warped by
//! software, an animation) moves perfectly smoothly. The measure is the median of those
//! strays, in eye distances. Its default threshold is deliberately tiny and must be
//! calibrated on generated and real sequences before it is trusted to decide much.
//!
//! Pose jumps: the head cannot turn faster than a few hundred degrees a second; a larger
//! jump between two frames means frames were spliced (a cut between two clips or photos).

use super::observe::FrameObservation;

/// Median landmark stray, in eye distances, over every run of five consecutive frames
/// in `frames` (the usable frames, in time order): each landmark's distance, in the
/// middle frame, from the quadratic in time fitted through its five positions. A
/// quadratic follows any steady acceleration, so a smoothly curving animation shows no
/// stray however it speeds up or slows down (a plain second difference would read its
/// curvature as jitter at low frame rates). `None` with fewer than five frames, so the
/// check fails for lack of data.
pub fn jitter(frames: &[&FrameObservation]) -> Option<f32> {
    let mut strays = Vec::new();
    for w in frames.windows(5) {
        let Some(lms) = w.iter().map(|f| f.landmarks).collect::<Option<Vec<_>>>() else {
            continue;
        };
        let t0 = w[2].timestamp_ms as f64;
        // Seconds from the middle frame; strictly increasing timestamps make the fit
        // well posed, anything else is skipped.
        let t: Vec<f64> = w
            .iter()
            .map(|f| (f.timestamp_ms as f64 - t0) / 1000.0)
            .collect();
        if t.windows(2).any(|p| p[1] <= p[0]) {
            continue;
        }
        let eye_distance = distance(lms[2][0], lms[2][1]);
        if !eye_distance.is_finite() || eye_distance <= 1e-3 {
            continue;
        }
        let mut sum = 0.0f64;
        let mut ok = true;
        for i in 0..5 {
            for axis in 0..2 {
                let y: Vec<f64> = lms.iter().map(|l| f64::from(l[i][axis])).collect();
                match quadratic_at_zero(&t, &y) {
                    Some(fit) => sum += (y[2] - fit).abs(),
                    None => ok = false,
                }
            }
        }
        let stray = (sum / 5.0) as f32 / eye_distance;
        if ok && stray.is_finite() {
            strays.push(stray);
        }
    }
    median(&mut strays)
}

/// The value at t = 0 of the least-squares quadratic through (t, y); `None` when the
/// normal equations are singular.
fn quadratic_at_zero(t: &[f64], y: &[f64]) -> Option<f64> {
    // Normal equations for y = a + b t + c t^2: sums of t^k and of y t^k.
    let mut s = [0.0f64; 5];
    let mut r = [0.0f64; 3];
    for (&ti, &yi) in t.iter().zip(y) {
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                r[k] += yi * p;
            }
            p *= ti;
        }
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if !(d.is_finite() && d.abs() > 1e-18) {
        return None;
    }
    // Cramer's rule for the constant term alone.
    let mut ma = m;
    for (row, rv) in ma.iter_mut().zip(r) {
        row[0] = rv;
    }
    let a = det(&ma) / d;
    a.is_finite().then_some(a)
}

/// The fastest pose change between consecutive frames, in degrees per 100 ms (the larger
/// of yaw and pitch). `None` with fewer than two posed frames.
///
/// The pose track is first passed through a 3-frame median: that removes a single noisy
/// landmark reading (which, divided by a 33 ms frame gap, would look like a fast turn)
/// but keeps a step, which is what a splice between two clips or photos is.
pub fn max_pose_jump(frames: &[&FrameObservation]) -> Option<f32> {
    let track: Vec<(u64, f32, f32)> = frames
        .iter()
        .filter_map(|f| f.pose().map(|(y, p)| (f.timestamp_ms, y, p)))
        .collect();
    let filtered: Vec<(u64, f32, f32)> = (0..track.len())
        .map(|i| {
            let (t, y, p) = track[i];
            if i == 0 || i + 1 == track.len() {
                return (t, y, p);
            }
            let med = |a: f32, b: f32, c: f32| a.max(b).min(a.min(b).max(c));
            let (a, b) = (track[i - 1], track[i + 1]);
            (t, med(a.1, y, b.1), med(a.2, p, b.2))
        })
        .collect();
    let mut worst: Option<f32> = None;
    for w in filtered.windows(2) {
        let ((ta, ya, pa), (tb, yb, pb)) = (w[0], w[1]);
        let dt = tb.saturating_sub(ta) as f32;
        // Out-of-order timestamps are refused before this; a zero gap would be infinitely
        // fast, which is what it is reported as.
        let change = (ya - yb).abs().max((pa - pb).abs());
        let rate = if dt > 0.0 {
            change / dt * 100.0
        } else {
            f32::INFINITY
        };
        let rate = if rate.is_nan() { f32::INFINITY } else { rate };
        worst = Some(worst.map_or(rate, |w: f32| w.max(rate)));
    }
    worst
}

fn distance(a: [f32; 2], b: [f32; 2]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

pub(crate) fn median(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liveness::observe::tests::observation;
    use crate::liveness::planarity::tests::{head_model, project};

    #[test]
    fn smooth_motion_has_no_jitter_and_noisy_motion_has_some() {
        // A head swinging on a sine at 30 frames a second: accelerated, but smooth.
        let yaw = |i: usize| 28.0 * (i as f32 * 0.2).sin();
        let smooth: Vec<_> = (0..12)
            .map(|i| observation(i as u64 * 33, project(&head_model(0.4), yaw(i), 0.0)))
            .collect();
        let refs: Vec<_> = smooth.iter().collect();
        let j = jitter(&refs).unwrap();
        assert!(j < 0.002, "{j}");
        let noisy: Vec<_> = (0..12)
            .map(|i| {
                let mut l = project(&head_model(0.4), yaw(i), 0.0);
                let s = if i % 2 == 0 { 1.0 } else { -1.0 };
                l.iter_mut().for_each(|p| p[0] += s * 1.0);
                observation(i as u64 * 33, l)
            })
            .collect();
        let refs: Vec<_> = noisy.iter().collect();
        assert!(jitter(&refs).unwrap() > 0.005, "{:?}", jitter(&refs));
        assert_eq!(jitter(&refs[..4]), None);
    }

    #[test]
    fn the_quadratic_fit_is_exact_on_a_quadratic() {
        let t = [-0.2, -0.1, 0.0, 0.15, 0.3];
        let y: Vec<f64> = t.iter().map(|t| 3.0 - 2.0 * t + 5.0 * t * t).collect();
        assert!((quadratic_at_zero(&t, &y).unwrap() - 3.0).abs() < 1e-9);
        assert_eq!(quadratic_at_zero(&[0.0; 5], &y), None);
    }

    #[test]
    fn a_spliced_pose_jump_is_measured() {
        let a = observation(0, project(&head_model(0.4), 0.0, 0.0));
        let b = observation(100, project(&head_model(0.4), 5.0, 0.0));
        let c = observation(133, project(&head_model(0.4), 30.0, 0.0));
        let steady = max_pose_jump(&[&a, &b]).unwrap();
        assert!(steady > 3.0 && steady < 8.0, "{steady}");
        let spliced = max_pose_jump(&[&a, &b, &c]).unwrap();
        assert!(spliced > 40.0, "{spliced}");
        assert_eq!(max_pose_jump(&[&a]), None);
        // One wild reading between steady ones is smoothed away; a lasting step is not.
        let wild = observation(200, project(&head_model(0.4), 25.0, 0.0));
        let d = observation(300, project(&head_model(0.4), 6.0, 0.0));
        let e = observation(400, project(&head_model(0.4), 7.0, 0.0));
        assert!(max_pose_jump(&[&a, &b, &wild, &d, &e]).unwrap() < 10.0);
        let f = observation(500, project(&head_model(0.4), 30.0, 0.0));
        let g = observation(600, project(&head_model(0.4), 31.0, 0.0));
        assert!(max_pose_jump(&[&a, &b, &d, &e, &f, &g]).unwrap() > 20.0);
    }
}
