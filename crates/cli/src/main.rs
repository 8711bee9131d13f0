//! `reclaim`: the command line over Reclaim's engine.
//!
//! Exit codes are a contract: 0 a positive answer, 1 a negative one, 2 bad input or
//! configuration (with a one-line reason on stderr, and a JSON error object on stdout when
//! `--json` was given).

mod commands;
mod output;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "reclaim",
    version,
    about = "Self-service account recovery with a photo ID and a live selfie"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare the faces in two images: are they the same person?
    Compare(commands::compare::CompareArgs),
    /// Measure the face models and the whole compare on this machine.
    Bench(commands::bench::BenchArgs),
    /// Score every pair of a labelled photo set: genuine and impostor tables.
    Eval(commands::eval::EvalArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Compare(args) => commands::compare::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Eval(args) => commands::eval::run(args),
    };
    outcome.exit_code()
}
