//! The optional passive anti-spoof model: an operator who has a single-frame spoof
//! classifier of the MiniFASNet kind (face crop in, live/spoof probabilities out), and the
//! right to use it, can plug it in. Reclaim ships none: no cleanly licensed one could be
//! had, and the engine is safe without one (see docs/liveness.md). Off by default.
//!
//! The operator names the file and its SHA-256 (a file that does not match is refused, as
//! the engine's own models are), the input size, how much larger than the face box the
//! crop is, the channel order and pixel scale, which output class means "live", and the
//! least live probability a capture's frames must reach (their median).

use std::path::{Path, PathBuf};

use image::RgbImage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Result, VerifyError};
use crate::models::{build_plan, run_plan, ModelId, Plan, VerifiedModel};
use crate::raster::sample_bilinear;

/// Order of the colour planes the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// MiniFASNet (trained with OpenCV) takes BGR.
    #[default]
    Bgr,
    Rgb,
}

/// Range the pixel values are scaled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum PixelScale {
    /// 0..255, as MiniFASNet.
    #[default]
    #[serde(rename = "0..255")]
    Byte,
    #[serde(rename = "0..1")]
    Unit,
    #[serde(rename = "-1..1")]
    Signed,
}

/// What the operator configures (a JSON file at the command line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassiveModelConfig {
    pub path: PathBuf,
    pub sha256: String,
    /// Width and height of the model's input.
    pub input_size: [u32; 2],
    /// The crop is the face box enlarged this many times about its centre (MiniFASNet
    /// models use 2.7 or 4.0).
    pub crop_scale: f32,
    /// Index of the "live" class in the model's output.
    pub live_class: usize,
    /// Least median live probability over the capture's usable frames.
    pub min_live_probability: f32,
    #[serde(default)]
    pub channel_order: ChannelOrder,
    #[serde(default)]
    pub pixel_scale: PixelScale,
}

impl PassiveModelConfig {
    /// Reads a configuration file; relative model paths are taken from its directory.
    pub fn read(path: &Path) -> std::result::Result<Self, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if bytes.len() > 64 * 1024 {
            return Err(format!("{}: too large for a configuration", path.display()));
        }
        let mut config: PassiveModelConfig =
            serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if config.path.is_relative() {
            if let Some(dir) = path.parent() {
                config.path = dir.join(&config.path);
            }
        }
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> std::result::Result<(), String> {
        let [w, h] = self.input_size;
        if !(8..=1024).contains(&w) || !(8..=1024).contains(&h) {
            return Err(format!("input_size {w}x{h}: 8 to 1024 on each side"));
        }
        if !(self.crop_scale.is_finite() && (0.5..=8.0).contains(&self.crop_scale)) {
            return Err(format!("crop_scale {}: 0.5 to 8", self.crop_scale));
        }
        if !(self.min_live_probability.is_finite()
            && (0.0..=1.0).contains(&self.min_live_probability))
        {
            return Err(format!(
                "min_live_probability {}: 0 to 1",
                self.min_live_probability
            ));
        }
        if self.sha256.len() != 64 || !self.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("sha256: 64 hex digits".into());
        }
        Ok(())
    }
}

/// The operator's model, verified and prepared once.
pub struct PassiveModel {
    plan: Plan,
    config: PassiveModelConfig,
}

impl PassiveModel {
    pub fn load(config: PassiveModelConfig, threads: usize) -> Result<Self> {
        config
            .validate()
            .map_err(|reason| VerifyError::ModelInvalid {
                name: ModelId::PassiveAntiSpoof.as_str().into(),
                reason,
            })?;
        let bytes = std::fs::read(&config.path).map_err(|source| VerifyError::Io {
            path: config.path.clone(),
            source,
        })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        let expected = config.sha256.to_ascii_lowercase();
        if actual != expected {
            return Err(VerifyError::ModelDigestMismatch {
                path: config.path.clone(),
                expected,
                actual,
            });
        }
        let model = VerifiedModel::new(
            ModelId::PassiveAntiSpoof,
            config.path.clone(),
            actual,
            bytes,
        );
        let [w, h] = config.input_size;
        let shape: &[usize] = &[1, 3, h as usize, w as usize];
        let plan = build_plan(
            ModelId::PassiveAntiSpoof,
            model.into_prepared_proto()?,
            shape,
            threads,
        )?;
        Ok(PassiveModel { plan, config })
    }

    pub fn config(&self) -> &PassiveModelConfig {
        &self.config
    }

    /// The live probability of the face in `bbox` (x, y, w, h) of `image`.
    pub fn live_probability(&self, image: &RgbImage, bbox: [f32; 4]) -> Result<f32> {
        let [w, h] = self.config.input_size;
        let (w, h) = (w as usize, h as usize);
        let invalid = |reason: String| VerifyError::ModelInvalid {
            name: ModelId::PassiveAntiSpoof.as_str().into(),
            reason,
        };
        let [bx, by, bw, bh] = bbox;
        let (cx, cy) = (bx + bw / 2.0, by + bh / 2.0);
        let (cw, ch) = (bw * self.config.crop_scale, bh * self.config.crop_scale);
        let plane = w * h;
        let mut data = vec![0.0f32; 3 * plane];
        for y in 0..h {
            for x in 0..w {
                let sx = cx - cw / 2.0 + (x as f32 + 0.5) * cw / w as f32;
                let sy = cy - ch / 2.0 + (y as f32 + 0.5) * ch / h as f32;
                let rgb = sample_bilinear(image, sx, sy);
                let order = match self.config.channel_order {
                    ChannelOrder::Bgr => [rgb[2], rgb[1], rgb[0]],
                    ChannelOrder::Rgb => rgb,
                };
                for (c, v) in order.into_iter().enumerate() {
                    data[c * plane + y * w + x] = match self.config.pixel_scale {
                        PixelScale::Byte => v,
                        PixelScale::Unit => v / 255.0,
                        PixelScale::Signed => v / 127.5 - 1.0,
                    };
                }
            }
        }
        let outputs = run_plan(ModelId::PassiveAntiSpoof, &self.plan, &[1, 3, h, w], data)?;
        let logits = outputs.into_iter().next().unwrap_or_default();
        if self.config.live_class >= logits.len() {
            return Err(invalid(format!(
                "live_class {} but the model gives {} classes",
                self.config.live_class,
                logits.len()
            )));
        }
        let probabilities = as_probabilities(&logits)
            .ok_or_else(|| invalid("the model's output is not finite".into()))?;
        Ok(probabilities[self.config.live_class])
    }
}

/// `values` as probabilities: unchanged when they already are (non-negative, summing to
/// 1), else through a softmax.
fn as_probabilities(values: &[f32]) -> Option<Vec<f32>> {
    if values.is_empty() || !values.iter().all(|v| v.is_finite()) {
        return None;
    }
    let sum: f32 = values.iter().sum();
    if values.iter().all(|&v| v >= 0.0) && (sum - 1.0).abs() < 1e-3 {
        return Some(values.to_vec());
    }
    let max = values.iter().copied().fold(f32::MIN, f32::max);
    let exps: Vec<f32> = values.iter().map(|v| (v - max).exp()).collect();
    let total: f32 = exps.iter().sum();
    (total > 0.0).then(|| exps.iter().map(|e| e / total).collect())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tract_onnx::pb::{
        tensor_proto::DataType, tensor_shape_proto, type_proto, GraphProto, ModelProto, NodeProto,
        OperatorSetIdProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
    };

    /// A tiny "anti-spoof model": the mean colour of the crop through a 3x2 linear layer
    /// and a softmax. Class 0 wins on red faces, class 1 on green ones.
    pub(crate) fn colour_model(size: u32) -> Vec<u8> {
        let node = |op: &str, inputs: &[&str], output: &str| NodeProto {
            op_type: op.into(),
            name: output.into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            ..Default::default()
        };
        let dims = |d: &[i64]| TensorShapeProto {
            dim: d
                .iter()
                .map(|&v| tensor_shape_proto::Dimension {
                    value: Some(tensor_shape_proto::dimension::Value::DimValue(v)),
                    ..Default::default()
                })
                .collect(),
        };
        let value = |name: &str, d: &[i64]| ValueInfoProto {
            name: name.into(),
            r#type: Some(TypeProto {
                value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                    elem_type: DataType::Float as i32,
                    shape: Some(dims(d)),
                })),
                ..Default::default()
            }),
            ..Default::default()
        };
        let tensor = |name: &str, d: &[i64], v: &[f32]| TensorProto {
            name: name.into(),
            dims: d.to_vec(),
            data_type: DataType::Float as i32,
            float_data: v.to_vec(),
            ..Default::default()
        };
        let graph = GraphProto {
            name: "colour".into(),
            node: vec![
                node("GlobalAveragePool", &["x"], "g"),
                node("Flatten", &["g"], "f"),
                node("Gemm", &["f", "w", "b"], "y"),
                node("Softmax", &["y"], "p"),
            ],
            // BGR input: channel 0 is blue, 1 green, 2 red.
            initializer: vec![
                tensor("w", &[3, 2], &[0.0, 0.0, -0.05, 0.05, 0.05, -0.05]),
                tensor("b", &[2], &[0.0, 0.0]),
            ],
            input: vec![value("x", &[1, 3, i64::from(size), i64::from(size)])],
            output: vec![value("p", &[1, 2])],
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: 7,
            opset_import: vec![OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            graph: Some(graph),
            ..Default::default()
        };
        prost::Message::encode_to_vec(&model)
    }

    pub(crate) fn config_for(dir: &Path, bytes: &[u8], live_class: usize) -> PassiveModelConfig {
        let path = dir.join("colour.onnx");
        std::fs::write(&path, bytes).unwrap();
        PassiveModelConfig {
            path,
            sha256: hex::encode(Sha256::digest(bytes)),
            input_size: [16, 16],
            crop_scale: 1.5,
            live_class,
            min_live_probability: 0.5,
            channel_order: ChannelOrder::Bgr,
            pixel_scale: PixelScale::Byte,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("reclaim-passive-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn scores_the_face_crop_with_the_configured_class() {
        let dir = scratch("score");
        let bytes = colour_model(16);
        let model = PassiveModel::load(config_for(&dir, &bytes, 0), 1).unwrap();
        let red = RgbImage::from_pixel(64, 64, image::Rgb([200, 40, 40]));
        let green = RgbImage::from_pixel(64, 64, image::Rgb([40, 200, 40]));
        let face = [16.0, 16.0, 32.0, 32.0];
        let on_red = model.live_probability(&red, face).unwrap();
        let on_green = model.live_probability(&green, face).unwrap();
        assert!(on_red > 0.9 && on_green < 0.1, "{on_red} {on_green}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn refuses_a_changed_file_and_bad_settings() {
        let dir = scratch("refuse");
        let bytes = colour_model(16);
        let mut config = config_for(&dir, &bytes, 0);
        config.sha256 = "0".repeat(64);
        assert_eq!(
            PassiveModel::load(config, 1)
                .err()
                .map(|e| e.code().as_str()),
            Some("model_digest_mismatch")
        );
        for broken in [
            PassiveModelConfig {
                input_size: [0, 16],
                ..config_for(&dir, &bytes, 0)
            },
            PassiveModelConfig {
                crop_scale: f32::NAN,
                ..config_for(&dir, &bytes, 0)
            },
            PassiveModelConfig {
                min_live_probability: 1.5,
                ..config_for(&dir, &bytes, 0)
            },
            PassiveModelConfig {
                sha256: "xyz".into(),
                ..config_for(&dir, &bytes, 0)
            },
        ] {
            assert!(broken.validate().is_err());
            assert_eq!(
                PassiveModel::load(broken, 1)
                    .err()
                    .map(|e| e.code().as_str()),
                Some("model_invalid")
            );
        }
        // A live class the model does not have: an error at run time, never a panic.
        let model = PassiveModel::load(config_for(&dir, &bytes, 5), 1).unwrap();
        let img = RgbImage::from_pixel(32, 32, image::Rgb([1, 2, 3]));
        assert_eq!(
            model
                .live_probability(&img, [0.0, 0.0, 32.0, 32.0])
                .err()
                .map(|e| e.code().as_str()),
            Some("model_invalid")
        );
        // Not a model at all.
        let junk = config_for(&dir, b"not onnx", 0);
        assert!(PassiveModel::load(junk, 1).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn configuration_files_are_strict() {
        let dir = scratch("config");
        let file = dir.join("passive.json");
        std::fs::write(
            &file,
            format!(
                r#"{{"path":"m.onnx","sha256":"{}","input_size":[80,80],"crop_scale":2.7,"live_class":1,"min_live_probability":0.6}}"#,
                "a".repeat(64)
            ),
        )
        .unwrap();
        let config = PassiveModelConfig::read(&file).unwrap();
        assert_eq!(config.path, dir.join("m.onnx"));
        assert_eq!(config.channel_order, ChannelOrder::Bgr);
        std::fs::write(&file, r#"{"path":"m.onnx","unknown":1}"#).unwrap();
        assert!(PassiveModelConfig::read(&file).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn outputs_become_probabilities() {
        assert_eq!(as_probabilities(&[0.25, 0.75]), Some(vec![0.25, 0.75]));
        let p = as_probabilities(&[2.0, 0.0]).unwrap();
        assert!((p[0] + p[1] - 1.0).abs() < 1e-6 && p[0] > p[1]);
        assert_eq!(as_probabilities(&[]), None);
        assert_eq!(as_probabilities(&[f32::NAN, 1.0]), None);
    }
}
