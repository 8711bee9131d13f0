//! `reclaim-docgen`: writes synthetic documents and their phone photos for a look, a demo
//! or an evaluation set.
//!
//!     reclaim-docgen --out DIR --photo FACE.jpg --face-box X,Y,W,H [--seed N] [--size WxH] [--front]
//!
//! The photos show the side with the MRZ or barcode; with `--front`, the front.
//!
//! Each document gets `NAME-front.png`, `NAME-back.png`, one JPEG photo per degradation
//! level, and `NAME.json` with what is printed on it.

use std::path::PathBuf;

use reclaim_docgen::{photograph, render, DocKind, DocumentSpec, Holder, Level, Rng};
use reclaim_document::{Date, Sex};

fn main() {
    if let Err(e) = run() {
        eprintln!("reclaim-docgen: {e}");
        std::process::exit(2);
    }
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let out = PathBuf::from(arg(&args, "--out").ok_or("--out DIR is required")?);
    let photo_path = arg(&args, "--photo").ok_or("--photo FACE.jpg is required")?;
    let face_box: Vec<f32> = arg(&args, "--face-box")
        .ok_or("--face-box X,Y,W,H is required")?
        .split(',')
        .map(|v| {
            v.trim()
                .parse::<f32>()
                .map_err(|e| format!("--face-box: {e}"))
        })
        .collect::<Result<_, _>>()?;
    let [x, y, w, h] = face_box[..] else {
        return Err("--face-box needs four numbers".into());
    };
    let seed: u64 =
        arg(&args, "--seed").map_or(Ok(1), |s| s.parse().map_err(|e| format!("--seed: {e}")))?;
    let (width, height) = match arg(&args, "--size") {
        Some(s) => {
            let (w, h) = s.split_once('x').ok_or("--size WxH")?;
            (
                w.parse::<u32>().map_err(|e| e.to_string())?,
                h.parse::<u32>().map_err(|e| e.to_string())?,
            )
        }
        None => (1600, 1200),
    };
    let photo = image::open(&photo_path)
        .map_err(|e| format!("{photo_path}: {e}"))?
        .into_rgb8();
    let portrait = reclaim_docgen::portrait::printed_portrait(&photo, [x, y, w, h], 350, 450, None);
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let date = |y, m, d| Date::new(y, m, d).ok_or("bad date");
    for kind in DocKind::ALL {
        let spec = DocumentSpec {
            kind,
            holder: Holder {
                surname: "Eriksson".into(),
                given_names: "Anna Maria".into(),
                birth_date: date(1974, 8, 12)?,
                sex: Sex::Female,
                nationality: "UTO".into(),
            },
            issuer: if kind == DocKind::Aamva {
                "CA".into()
            } else {
                "UTO".into()
            },
            document_number: if kind == DocKind::Aamva {
                "D1234567".into()
            } else {
                "L898902C3".into()
            },
            issue_date: date(2022, 4, 16)?,
            expiry_date: date(2032, 4, 15)?,
            portrait: portrait.clone(),
            mrz_override: None,
        };
        let doc = render(&spec).map_err(|e| e.to_string())?;
        let name = kind.name();
        doc.front
            .save(out.join(format!("{name}-front.png")))
            .map_err(|e| e.to_string())?;
        if let Some(back) = &doc.back {
            back.save(out.join(format!("{name}-back.png")))
                .map_err(|e| e.to_string())?;
        }
        for level in Level::ALL {
            let mut rng = Rng::new(seed);
            let d = level.degradation(&mut rng, width, height);
            let front_only = args.iter().any(|a| a == "--front");
            let side = if front_only {
                &doc.front
            } else if doc.mrz_on_back || kind == DocKind::Aamva {
                doc.back.as_ref().unwrap_or(&doc.front)
            } else {
                &doc.front
            };
            let shot = photograph(side, &d, &mut rng).ok_or("photograph failed")?;
            std::fs::write(
                out.join(format!("{name}-{}.jpg", level.name())),
                shot.jpeg.unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?;
        }
        println!("{name}: {:?}", doc.mrz);
    }
    Ok(())
}
