//! Plane-to-plane projective maps: how a flat card looks to a camera held at an angle.

/// A 3x3 projective transform, row major, `h[8]` normalised to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography(pub [f64; 9]);

impl Homography {
    /// The map taking each `from[i]` to `to[i]` (four points, no three collinear).
    pub fn from_points(from: &[[f64; 2]; 4], to: &[[f64; 2]; 4]) -> Option<Homography> {
        // Eight equations in h0..h7 (h8 = 1), solved by Gaussian elimination.
        let mut m = [[0.0f64; 9]; 8];
        for i in 0..4 {
            let [x, y] = from[i];
            let [u, v] = to[i];
            m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
            m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
        }
        for col in 0..8 {
            let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
            if m[pivot][col].abs() < 1e-12 {
                return None;
            }
            m.swap(col, pivot);
            let pivot_row = m[col];
            for (r, row) in m.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                        *v -= f * p;
                    }
                }
            }
        }
        let mut h = [0.0; 9];
        for i in 0..8 {
            h[i] = m[i][8] / m[i][i];
        }
        h[8] = 1.0;
        Some(Homography(h))
    }

    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let h = &self.0;
        let w = h[6] * p[0] + h[7] * p[1] + h[8];
        [
            (h[0] * p[0] + h[1] * p[1] + h[2]) / w,
            (h[3] * p[0] + h[4] * p[1] + h[5]) / w,
        ]
    }

    pub fn inverse(&self) -> Option<Homography> {
        let h = &self.0;
        let det = h[0] * (h[4] * h[8] - h[5] * h[7]) - h[1] * (h[3] * h[8] - h[5] * h[6])
            + h[2] * (h[3] * h[7] - h[4] * h[6]);
        if det.abs() < 1e-15 {
            return None;
        }
        let inv = [
            (h[4] * h[8] - h[5] * h[7]) / det,
            (h[2] * h[7] - h[1] * h[8]) / det,
            (h[1] * h[5] - h[2] * h[4]) / det,
            (h[5] * h[6] - h[3] * h[8]) / det,
            (h[0] * h[8] - h[2] * h[6]) / det,
            (h[2] * h[3] - h[0] * h[5]) / det,
            (h[3] * h[7] - h[4] * h[6]) / det,
            (h[1] * h[6] - h[0] * h[7]) / det,
            (h[0] * h[4] - h[1] * h[3]) / det,
        ];
        let n = inv[8];
        Some(Homography(inv.map(|v| v / n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_four_points_and_back() {
        let from = [[0.0, 0.0], [100.0, 0.0], [100.0, 60.0], [0.0, 60.0]];
        let to = [[10.0, 20.0], [220.0, 5.0], [240.0, 150.0], [0.0, 170.0]];
        let h = Homography::from_points(&from, &to).unwrap();
        for (f, t) in from.iter().zip(&to) {
            let p = h.apply(*f);
            assert!((p[0] - t[0]).abs() < 1e-6 && (p[1] - t[1]).abs() < 1e-6);
        }
        let back = h.inverse().unwrap().apply([240.0, 150.0]);
        assert!((back[0] - 100.0).abs() < 1e-6 && (back[1] - 60.0).abs() < 1e-6);
    }

    #[test]
    fn collinear_points_have_no_homography() {
        let line = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]];
        assert!(Homography::from_points(&line, &line).is_none());
    }
}
