//! The `reclaim-lab` binary's commands, checked by running them: the demo, the attack
//! suite against a real `reclaim serve`, and the evaluations' claims about the shipped
//! models. One test binary, one module per command; and the production `reclaim`
//! command's `document`, `verify` and `enroll` on rendered IDs and filmed selfies
//! (`reclaim_*`), which need the renderers only this crate links.

mod attack;
mod demo;
mod eval;
mod eval_documents;
mod eval_liveness;
mod reclaim_document;
mod reclaim_verify;

use std::path::PathBuf;
use std::process::{Command, Output};

pub use reclaim_fixtures::{data, json_exiting, json_of, Scratch};

pub fn lab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reclaim-lab"))
        .args(args)
        .output()
        .expect("the reclaim-lab binary runs")
}

/// The production `reclaim` binary, which the attack suite plays against. Cargo gives a
/// test only its own package's binaries, so this is the one built beside `reclaim-lab` in
/// the same target directory (`cargo test --workspace` builds both; after `cargo test -p
/// reclaim-lab` alone, `cargo build -p reclaim-cli` first).
pub fn reclaim() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_reclaim-lab"))
        .with_file_name(format!("reclaim{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.is_file(),
        "{} is missing: build it first (`cargo build -p reclaim-cli`, or `cargo test --workspace`)",
        path.display()
    );
    path
}

/// The production `reclaim` binary run with `args`.
pub fn run_reclaim(args: &[&str]) -> Output {
    Command::new(reclaim())
        .args(args)
        .output()
        .expect("the reclaim binary runs")
}
