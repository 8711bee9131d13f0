//! `reclaim-facegen`: writes a synthetic selfie sequence (genuine or an attack) as
//! numbered frames and a `timestamps.txt`, for a look or for the liveness engine's tests.
//!
//!     reclaim-facegen --photo FACE.jpg --landmarks x,y,x,y,x,y,x,y,x,y --box x,y,w,h
//!         --kind genuine|still|noisy-still|print|screen|puppet --challenge left,right,center
//!         --seed N --out DIR [--fps F] [--format png|jpg] [--native]
//!
//! Landmarks are the detector's five (eye with smaller x, other eye, nose tip, mouth
//! corners) in the photo's pixels. Frames are 640x480 selfies unless `--native` keeps the
//! photo's own size. Stills have as many frames as a genuine sequence for the challenge.
//! `timestamps.txt` has one line per frame: file name and timestamp in milliseconds. For
//! `genuine` and `puppet`, `poses.txt` has the true head pose of each frame (degrees,
//! pixels; yaw > 0 is the person's own left, pitch > 0 is up).
//!
//! The screen-light kinds (`genuine-lit`, `unlit-injection`, `tint-face`, `tint-add`,
//! `tint-frame`, `print-lit`, `screen-lit`) draw a random screen schedule from the seed
//! and render under it in a `--room` (dark, office or daylight; office unless given),
//! re-colouring the skin to `--skin` (a Fitzpatrick type I-VI) if given; `light.txt` has
//! the latency, the exposure, the schedule and the colour each frame saw.

use std::path::PathBuf;

use reclaim_docgen::Rng;
use reclaim_facegen::lit_attack::{self, Tint};
use reclaim_facegen::sequence::{self, parse_challenge, Style, DEFAULT_FPS};
use reclaim_facegen::{attack, Framing, HeadModel, Room, Scene, ScreenLight, SkinTone};

const USAGE: &str = "usage: reclaim-facegen --photo FACE.jpg --landmarks x,y,x,y,x,y,x,y,x,y \
--box x,y,w,h --kind genuine|still|noisy-still|print|screen|puppet|genuine-lit|\
unlit-injection|tint-face|tint-add|tint-frame|print-lit|screen-lit \
--challenge left,right,center --seed N --out DIR [--fps F] [--format png|jpg] [--native] \
[--room dark|office|daylight] [--skin I|II|III|IV|V|VI]";

fn main() {
    if let Err(e) = run() {
        eprintln!("reclaim-facegen: {e}\n{USAGE}");
        std::process::exit(2);
    }
}

/// The value after `name`, if the flag is present.
fn arg(args: &[String], name: &str) -> Result<Option<String>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .cloned()
            .map(Some)
            .ok_or(format!("{name} needs a value")),
    }
}

fn required(args: &[String], name: &str) -> Result<String, String> {
    arg(args, name)?.ok_or(format!("{name} is required"))
}

fn numbers(text: &str, name: &str, count: usize) -> Result<Vec<f32>, String> {
    let values = text
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f32>()
                .map_err(|e| format!("{name}: {v:?}: {e}"))
        })
        .collect::<Result<Vec<f32>, String>>()?;
    if values.len() != count || values.iter().any(|v| !v.is_finite()) {
        return Err(format!("{name} needs {count} finite numbers"));
    }
    Ok(values)
}

/// PNG keeps the frame exactly; JPEG at quality 95 adds little to the camera's own
/// compression (the library's default, 75, would add a lot).
fn save(img: &image::RgbImage, path: &std::path::Path, format: &str) -> Result<(), String> {
    if format == "png" {
        return img.save(path).map_err(|e| e.to_string());
    }
    let file = std::fs::File::create(path).map_err(|e| e.to_string())?;
    image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 95)
        .encode_image(img)
        .map_err(|e| e.to_string())
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    const FLAGS: [&str; 12] = [
        "--room",
        "--skin",
        "--photo",
        "--landmarks",
        "--box",
        "--kind",
        "--challenge",
        "--seed",
        "--out",
        "--fps",
        "--format",
        "--native",
    ];
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--native" => i += 1,
            flag if FLAGS.contains(&flag) => i += 2,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let photo_path = required(&args, "--photo")?;
    let lm = numbers(&required(&args, "--landmarks")?, "--landmarks", 10)?;
    let bx = numbers(&required(&args, "--box")?, "--box", 4)?;
    let kind = required(&args, "--kind")?;
    let challenge = parse_challenge(&required(&args, "--challenge")?).map_err(|e| e.to_string())?;
    let seed: u64 = required(&args, "--seed")?
        .parse()
        .map_err(|e| format!("--seed: {e}"))?;
    let out = PathBuf::from(required(&args, "--out")?);
    let fps: f32 = match arg(&args, "--fps")? {
        Some(v) => v.parse().map_err(|e| format!("--fps: {e}"))?,
        None => DEFAULT_FPS,
    };
    let format = arg(&args, "--format")?.unwrap_or_else(|| "png".into());
    if format != "png" && format != "jpg" {
        return Err(format!("--format must be png or jpg, not {format:?}"));
    }
    let framing = if args.iter().any(|a| a == "--native") {
        Framing::Native
    } else {
        Framing::DEFAULT
    };

    let photo = image::open(&photo_path)
        .map_err(|e| format!("{photo_path}: {e}"))?
        .into_rgb8();
    let landmarks = std::array::from_fn(|k| [lm[2 * k], lm[2 * k + 1]]);
    let model = HeadModel::with_framing(&photo, landmarks, [bx[0], bx[1], bx[2], bx[3]], framing)
        .map_err(|e| e.to_string())?;
    let mut rng = Rng::new(seed);
    let err = |e: reclaim_facegen::FacegenError| e.to_string();
    // Stills last as long as a genuine answer to the same challenge would.
    let still_len = || {
        sequence::plan(&challenge, fps, Style::Human, &mut Rng::new(seed))
            .map(|m| m.poses.len())
            .map_err(err)
    };
    // The true head poses, for the kinds that render a head.
    let mut poses = None;
    // The screen's schedule and what each frame saw, for the lit kinds.
    let mut lit: Option<(ScreenLight, f32, f32, Vec<[f32; 3]>)> = None;
    let room = match arg(&args, "--room")?.as_deref() {
        None | Some("office") => Room::Office,
        Some("dark") => Room::Dark,
        Some("daylight") => Room::Daylight,
        Some(other) => {
            return Err(format!(
                "--room must be dark, office or daylight: {other:?}"
            ))
        }
    };
    let skin = match arg(&args, "--skin")?.as_deref() {
        None => None,
        Some(t) => Some(
            SkinTone::ALL
                .into_iter()
                .find(|s| format!("{s:?}").eq_ignore_ascii_case(t))
                .ok_or(format!("--skin must be I to VI: {t:?}"))?,
        ),
    };
    let lit_kind = kind.ends_with("-lit") || kind.starts_with("tint-") || kind == "unlit-injection";
    let (light, scene) = if lit_kind {
        // The schedule and room have their own generator, so the frames' draws do not
        // depend on them.
        let mut light_rng = Rng::new(seed ^ 0x5c3e_e111);
        let span = (still_len()? as f32 * 1000.0 / fps) as u64 + 1000;
        let light = ScreenLight::random(0, span, &mut light_rng);
        let scene = Scene {
            skin,
            ..Scene::room(room, &mut light_rng)
        };
        (light, scene)
    } else {
        (
            ScreenLight::constant([0.0; 3]),
            Scene::room(room, &mut Rng::new(seed)),
        )
    };
    let tint = |t| {
        lit_attack::uniform_tint(
            &model,
            &challenge,
            fps,
            &light,
            &scene,
            t,
            &mut Rng::new(seed),
        )
    };
    let frames = match kind.as_str() {
        "genuine-lit" | "unlit-injection" | "tint-face" | "tint-add" | "tint-frame" => {
            let seq = match kind.as_str() {
                "genuine-lit" => {
                    reclaim_facegen::genuine_lit(&model, &challenge, fps, &light, &scene, &mut rng)
                }
                "unlit-injection" => {
                    lit_attack::unlit_injection(&model, &challenge, fps, &scene, &mut rng)
                }
                "tint-face" => tint(Tint::MultiplyFace),
                "tint-add" => tint(Tint::AddFace),
                _ => tint(Tint::MultiplyFrame),
            }
            .map_err(err)?;
            poses = Some(seq.motion.poses);
            lit = Some((
                light.clone(),
                seq.latency_ms,
                seq.exposure_ms,
                seq.screen_rgb,
            ));
            seq.frames
        }
        "print-lit" | "screen-lit" => {
            let make = if kind == "print-lit" {
                lit_attack::flat_print_lit
            } else {
                lit_attack::screen_lit
            };
            let seq =
                make(model.frame(), &challenge, fps, &light, &scene, &mut rng).map_err(err)?;
            lit = Some((
                light.clone(),
                seq.latency_ms,
                seq.exposure_ms,
                seq.screen_rgb,
            ));
            seq.sequence.frames
        }
        "genuine" => {
            let (frames, motion) =
                sequence::genuine_with_motion(&model, &challenge, fps, &mut rng).map_err(err)?;
            poses = Some(motion.poses);
            frames
        }
        "still" => attack::still_repeated(model.frame(), still_len()?, fps).map_err(err)?,
        "noisy-still" => {
            attack::still_with_noise(model.frame(), still_len()?, fps, &mut rng).map_err(err)?
        }
        "print" => attack::flat_print(model.frame(), &challenge, fps, &mut rng).map_err(err)?,
        "screen" => attack::screen(model.frame(), &challenge, fps, &mut rng).map_err(err)?,
        "puppet" => {
            let motion = sequence::plan(&challenge, fps, Style::Perfect, &mut rng).map_err(err)?;
            poses = Some(motion.poses.clone());
            sequence::render_motion(&model, &motion, None, &mut rng)
        }
        other => return Err(format!("unknown --kind {other:?}")),
    };

    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut index = String::new();
    for (k, frame) in frames.iter().enumerate() {
        let name = format!("frame_{k:03}.{format}");
        let path = out.join(&name);
        save(&frame.image, &path, &format).map_err(|e| format!("{}: {e}", path.display()))?;
        index.push_str(&format!("{name} {}\n", frame.timestamp_ms));
    }
    let ts = out.join("timestamps.txt");
    std::fs::write(&ts, index).map_err(|e| format!("{}: {e}", ts.display()))?;
    if let Some(poses) = poses {
        let mut text = String::from("# frame yaw_deg pitch_deg roll_deg shift_x shift_y scale\n");
        for (k, p) in poses.iter().enumerate() {
            text.push_str(&format!(
                "{k} {:.2} {:.2} {:.2} {:.2} {:.2} {:.4}\n",
                p.yaw_deg, p.pitch_deg, p.roll_deg, p.shift[0], p.shift[1], p.scale
            ));
        }
        let path = out.join("poses.txt");
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some((light, latency_ms, exposure_ms, seen)) = lit {
        let mut text = format!(
            "# latency_ms {latency_ms:.1} exposure_ms {exposure_ms:.1} nits {:.0}\n# phase start_ms r g b (linear)\n",
            light.nits
        );
        for p in &light.phases {
            let [r, g, b] = p.rgb;
            text.push_str(&format!("phase {} {r:.3} {g:.3} {b:.3}\n", p.start_ms));
        }
        text.push_str(&format!(
            "end {}\n# frame r g b (the colour it saw)\n",
            light.end_ms
        ));
        for (k, [r, g, b]) in seen.iter().enumerate() {
            text.push_str(&format!("frame {k} {r:.3} {g:.3} {b:.3}\n"));
        }
        let path = out.join("light.txt");
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    println!("{} frames in {}", frames.len(), out.display());
    Ok(())
}
