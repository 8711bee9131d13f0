//! The `reclaim` binary's contracts, checked by running it: exit codes, JSON fields, and a
//! one-line reason on stderr for bad input. One test binary, one module per command. (The
//! lab commands' tests are reclaim-lab's.)

mod audit;
mod bad_input;
mod check;
mod compare;
mod connections;
mod directories;
mod document;
mod memory;
mod serve;
mod served;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use reclaim_fixtures::{data, json_exiting, json_of, Scratch};

pub fn face(name: &str) -> PathBuf {
    data(&format!("faces/{name}.jpg"))
}

pub fn reclaim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_reclaim"))
        .args(args)
        .output()
        .expect("the reclaim binary runs")
}

pub fn compare(a: &Path, b: &Path, json: bool) -> Output {
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let mut args = vec!["compare", a, b];
    if json {
        args.push("--json");
    }
    reclaim(&args)
}
