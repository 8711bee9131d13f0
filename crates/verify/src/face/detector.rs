//! YuNet face detection: boxes, five landmarks and a confidence per face.
//!
//! The image is shrunk (never enlarged) into a square letterbox of 320 pixels; if no face
//! is found there, once more at 640, which finds faces down to a few percent of the frame
//! at four times the cost. Coordinates come back in the input image's pixels.

use image::RgbImage;
use serde::Serialize;

use crate::error::{Result, VerifyError};
use crate::models::{
    build_plans, profile_ops, run_plan, square_input, ModelId, OpTime, Plan, VerifiedModel,
};
use crate::onnx_prep;
use crate::raster::shrink_to_fit;

const STRIDES: [usize; 3] = [8, 16, 32];

/// A face found in an image.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DetectedFace {
    /// Left, top, width, height, in pixels of the image the detector was given.
    pub bbox: [f32; 4],
    /// Right eye, left eye, nose tip, right mouth corner, left mouth corner (the person's
    /// right and left: the person's right eye is on the image's left).
    pub landmarks: [[f32; 2]; 5],
    /// Detector confidence, 0..1.
    pub score: f32,
}

impl DetectedFace {
    pub fn width(&self) -> f32 {
        self.bbox[2]
    }
    fn area(&self) -> f32 {
        self.bbox[2].max(0.0) * self.bbox[3].max(0.0)
    }
    fn iou(&self, other: &DetectedFace) -> f32 {
        let [ax, ay, aw, ah] = self.bbox;
        let [bx, by, bw, bh] = other.bbox;
        let iw = ((ax + aw).min(bx + bw) - ax.max(bx)).max(0.0);
        let ih = ((ay + ah).min(by + bh) - ay.max(by)).max(0.0);
        let inter = iw * ih;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }
}

/// Tuning of the detector. The defaults are OpenCV's for YuNet.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorPolicy {
    /// Faces scoring below this are dropped.
    pub score_threshold: f32,
    /// Boxes overlapping a better one by more than this (IoU) are duplicates.
    pub nms_iou: f32,
    /// Letterbox sides tried in order until a face is found; multiples of 32.
    pub input_sizes: Vec<u32>,
}

impl Default for DetectorPolicy {
    fn default() -> Self {
        DetectorPolicy {
            score_threshold: 0.6,
            nms_iou: 0.3,
            input_sizes: vec![320, 640],
        }
    }
}

/// YuNet, prepared once and shared by every thread and frame.
pub struct FaceDetector {
    plans: Vec<(u32, Plan)>,
    /// Position of cls/obj/bbox/kps for each stride among the model's outputs.
    outputs: [[usize; 4]; 3],
    policy: DetectorPolicy,
}

impl FaceDetector {
    pub fn new(model: VerifiedModel, policy: DetectorPolicy, threads: usize) -> Result<Self> {
        let proto = model.into_prepared_proto()?;
        let names = onnx_prep::output_names(&proto);
        let mut outputs = [[0usize; 4]; 3];
        for (s, stride) in STRIDES.iter().enumerate() {
            for (k, kind) in ["cls", "obj", "bbox", "kps"].iter().enumerate() {
                let wanted = format!("{kind}_{stride}");
                outputs[s][k] = names.iter().position(|n| *n == wanted).ok_or_else(|| {
                    VerifyError::ModelInvalid {
                        name: ModelId::FaceDetector.as_str().into(),
                        reason: format!("no output named {wanted}"),
                    }
                })?;
            }
        }
        for &size in &policy.input_sizes {
            if size == 0 || size % 32 != 0 {
                return Err(VerifyError::ModelInvalid {
                    name: ModelId::FaceDetector.as_str().into(),
                    reason: format!("detector input size {size} is not a positive multiple of 32"),
                });
            }
        }
        let shapes: Vec<[usize; 4]> = policy
            .input_sizes
            .iter()
            .map(|&s| square_input(s))
            .collect();
        let shape_refs: Vec<&[usize]> = shapes.iter().map(|s| s.as_slice()).collect();
        let built = build_plans(ModelId::FaceDetector, proto, &shape_refs, threads)?;
        let plans = policy.input_sizes.iter().copied().zip(built).collect();
        Ok(FaceDetector {
            plans,
            outputs,
            policy,
        })
    }

    /// Every face found, best first.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<DetectedFace>> {
        for (size, plan) in &self.plans {
            let faces = self.detect_at(img, *size, plan)?;
            if !faces.is_empty() {
                return Ok(faces);
            }
        }
        Ok(Vec::new())
    }

    /// Detection at one letterbox size only (benchmarks and tests).
    pub fn detect_at_size(&self, img: &RgbImage, size: u32) -> Result<Vec<DetectedFace>> {
        self.detect_at(img, size, self.plan(size)?)
    }

    fn plan(&self, size: u32) -> Result<&Plan> {
        let plan = self.plans.iter().find(|(s, _)| *s == size).map(|(_, p)| p);
        plan.ok_or_else(|| VerifyError::ModelInvalid {
            name: ModelId::FaceDetector.as_str().into(),
            reason: format!("no plan for input size {size}"),
        })
    }

    /// The exact tensor the model receives for `img` at `size`, and the scale applied
    /// (for benchmarks that feed the same input to another runtime).
    pub fn model_input(img: &RgbImage, size: u32) -> (Vec<f32>, f32) {
        let (small, scale) = shrink_to_fit(img, size, size);
        (letterbox_bgr(&small, size as usize), scale)
    }

    /// Runs the network alone on a tensor from [`FaceDetector::model_input`].
    pub fn infer(&self, size: u32, tensor: Vec<f32>) -> Result<Vec<Vec<f32>>> {
        let shape = square_input(size);
        run_plan(ModelId::FaceDetector, self.plan(size)?, &shape, tensor)
    }

    /// Where the network's time goes at `size`, for `reclaim-lab bench --ops`.
    pub fn profile(&self, size: u32, tensor: &[f32], runs: usize) -> Result<Vec<OpTime>> {
        let shape = square_input(size);
        profile_ops(
            ModelId::FaceDetector,
            self.plan(size)?,
            &shape,
            tensor,
            runs,
        )
    }

    fn detect_at(&self, img: &RgbImage, size: u32, plan: &Plan) -> Result<Vec<DetectedFace>> {
        let (tensor, scale) = Self::model_input(img, size);
        let side = size as usize;
        let out = run_plan(ModelId::FaceDetector, plan, &square_input(size), tensor)?;
        let mut faces = self.decode(&out, side)?;
        for face in &mut faces {
            for v in &mut face.bbox {
                *v /= scale;
            }
            for p in &mut face.landmarks {
                p[0] /= scale;
                p[1] /= scale;
            }
        }
        Ok(non_max_suppression(faces, self.policy.nms_iou))
    }

    fn decode(&self, out: &[Vec<f32>], side: usize) -> Result<Vec<DetectedFace>> {
        let mut faces = Vec::new();
        for (s, &stride) in STRIDES.iter().enumerate() {
            let cols = side / stride;
            let anchors = cols * cols;
            let [cls, obj, bbox, kps] = self.outputs[s].map(|i| out.get(i));
            let (Some(cls), Some(obj), Some(bbox), Some(kps)) = (cls, obj, bbox, kps) else {
                return Err(self.shape_error("missing output"));
            };
            if cls.len() != anchors
                || obj.len() != anchors
                || bbox.len() != anchors * 4
                || kps.len() != anchors * 10
            {
                return Err(self.shape_error("unexpected output size"));
            }
            let st = stride as f32;
            for idx in 0..anchors {
                let score = (cls[idx].clamp(0.0, 1.0) * obj[idx].clamp(0.0, 1.0)).sqrt();
                if score.is_nan() || score < self.policy.score_threshold {
                    continue;
                }
                let (row, col) = ((idx / cols) as f32, (idx % cols) as f32);
                let b = &bbox[idx * 4..idx * 4 + 4];
                let cx = (col + b[0]) * st;
                let cy = (row + b[1]) * st;
                let w = b[2].exp() * st;
                let h = b[3].exp() * st;
                let k = &kps[idx * 10..idx * 10 + 10];
                let mut landmarks = [[0.0; 2]; 5];
                for (n, p) in landmarks.iter_mut().enumerate() {
                    *p = [(k[2 * n] + col) * st, (k[2 * n + 1] + row) * st];
                }
                let face = DetectedFace {
                    bbox: [cx - w / 2.0, cy - h / 2.0, w, h],
                    landmarks,
                    score,
                };
                if face
                    .bbox
                    .iter()
                    .chain(landmarks.iter().flatten())
                    .all(|v| v.is_finite())
                {
                    faces.push(face);
                }
            }
        }
        Ok(faces)
    }

    fn shape_error(&self, what: &str) -> VerifyError {
        VerifyError::Inference {
            model: ModelId::FaceDetector.as_str().into(),
            reason: what.into(),
        }
    }
}

/// NCHW float tensor, BGR order, 0..255, image in the top-left corner, zero padding.
fn letterbox_bgr(img: &RgbImage, side: usize) -> Vec<f32> {
    let plane = side * side;
    let mut data = vec![0.0f32; 3 * plane];
    let (w, h) = img.dimensions();
    let (w, h) = ((w as usize).min(side), (h as usize).min(side));
    for y in 0..h {
        for x in 0..w {
            let p = img.get_pixel(x as u32, y as u32);
            let o = y * side + x;
            data[o] = f32::from(p[2]);
            data[plane + o] = f32::from(p[1]);
            data[2 * plane + o] = f32::from(p[0]);
        }
    }
    data
}

fn non_max_suppression(mut faces: Vec<DetectedFace>, iou: f32) -> Vec<DetectedFace> {
    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<DetectedFace> = Vec::new();
    for face in faces {
        if kept.iter().all(|k| k.iou(&face) <= iou) {
            kept.push(face);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, score: f32) -> DetectedFace {
        DetectedFace {
            bbox: [x, 0.0, 10.0, 10.0],
            landmarks: [[0.0; 2]; 5],
            score,
        }
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let kept = non_max_suppression(vec![face(0.0, 0.7), face(1.0, 0.9), face(50.0, 0.8)], 0.3);
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.8);
    }

    #[test]
    fn letterbox_is_bgr_planar_with_zero_padding() {
        let img = RgbImage::from_pixel(2, 1, image::Rgb([10, 20, 30]));
        let t = letterbox_bgr(&img, 4);
        assert_eq!(t.len(), 48);
        assert_eq!((t[0], t[16], t[32]), (30.0, 20.0, 10.0));
        assert_eq!(t[2], 0.0);
        assert_eq!(t[4], 0.0);
    }
}
