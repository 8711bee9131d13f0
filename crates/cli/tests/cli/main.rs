//! The `reclaim` binary's contracts, checked by running it: exit codes, JSON fields, and a
//! one-line reason on stderr for bad input. One test binary, one module per command.

mod attack;
mod audit;
mod bad_input;
mod compare;
mod connections;
mod document;
mod eval;
mod memory;
mod serve;
mod served;
mod verify;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn data(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(path)
}

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

pub fn json_of(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("reclaim-cli-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    pub fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
