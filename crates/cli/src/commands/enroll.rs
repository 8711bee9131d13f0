//! `reclaim enroll IMAGE --out TEMPLATE`: the face template a returning user is later
//! verified against (`reclaim verify --enrolled`). In the product the backend enrolls
//! after a verified recovery and keeps the template encrypted; this command exists for
//! operators and tests. The template is biometric data: it is written only to the file
//! asked for, readable by its owner alone, and never over an existing file.

use reclaim_protocol::Code;
use std::path::PathBuf;

use reclaim_verify::template::FaceTemplate;
use reclaim_verify::{load_image_file, FaceEngine, ImageLimits};
use serde::Serialize;

use super::compare::{engine_options, CommonFlags};
use crate::output::{fail, fail_with, print_json, say, Exit};

#[derive(clap::Args)]
pub struct EnrollArgs {
    /// A photo with exactly one usable face.
    pub image: PathBuf,
    /// Where to write the template (must not exist).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub common: CommonFlags,
}

#[derive(Serialize)]
struct Output {
    enrolled: bool,
    reasons: Vec<&'static str>,
    out: Option<String>,
    model: String,
}

pub fn run(args: EnrollArgs) -> Exit {
    let json = args.common.json;
    let image = match load_image_file(&args.image, &ImageLimits::default()) {
        Ok(i) => i,
        Err(e) => return fail_with(json, &args.image.display().to_string(), &e),
    };
    let faces = match FaceEngine::load(engine_options(args.common.models.as_deref())) {
        Ok(f) => f,
        Err(e) => return fail_with(json, "the face models", &e),
    };
    let analysis = match faces.analyze(&image.rgb) {
        Ok(a) => a,
        Err(e) => return fail_with(json, &args.image.display().to_string(), &e),
    };
    let model = faces.digests().face_embedder.clone();
    let embedding = match (&analysis.embedding, analysis.usable()) {
        (Some(e), true) => e.clone(),
        _ => {
            let reasons: Vec<&'static str> = analysis.reasons.iter().map(|r| r.as_str()).collect();
            if json {
                print_json(&Output {
                    enrolled: false,
                    reasons: reasons.clone(),
                    out: None,
                    model,
                });
            } else {
                say!("NOT ENROLLED: {}", reasons.join(", "));
            }
            return Exit::No;
        }
    };
    let template = FaceTemplate::new(&model, embedding);
    if let Err(e) = reclaim_server::crypto::write_private(&args.out, &template.to_bytes()) {
        return fail(
            json,
            Code::OutputUnwritable,
            &format!("{}: {e}", args.out.display()),
        );
    }
    if json {
        print_json(&Output {
            enrolled: true,
            reasons: Vec::new(),
            out: Some(args.out.display().to_string()),
            model,
        });
    } else {
        say!("ENROLLED: template written to {}", args.out.display());
    }
    Exit::Yes
}
