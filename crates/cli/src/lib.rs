//! The production command line's commands and how a command ends, as a library: the
//! `reclaim` binary (src/main.rs) parses its arguments into these, and `reclaim-lab`
//! (crates/lab) reuses the shared pieces (the engine flags, the runtime, the output
//! conventions and exit codes) without its generators being linked into `reclaim`.

pub mod commands;
pub mod output;
