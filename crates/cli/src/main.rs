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
    /// Read an identity document: MRZ, barcode, portrait, and their checks.
    Document(commands::document::DocumentArgs),
    /// The whole decision: document, face match and liveness against a challenge.
    Verify(commands::verify::VerifyArgs),
    /// Make a returning user's face template from a photo.
    Enroll(commands::enroll::EnrollArgs),
    /// Measure the face models and the whole compare on this machine.
    Bench(commands::bench::BenchArgs),
    /// Score every pair of a labelled photo set: genuine and impostor tables.
    Eval(commands::eval::EvalArgs),
    /// Read synthetic documents at each degradation level and count the results.
    EvalDocuments(commands::eval_documents::EvalDocumentsArgs),
    /// Present generated genuine and attack selfie sequences to the liveness checks.
    EvalLiveness(commands::eval_liveness::EvalLivenessArgs),
    /// Measure the replay check: transformed replays refused, genuine returns not.
    EvalReplay(commands::eval_replay::EvalReplayArgs),
    /// Run the backend.
    Serve(commands::serve::ServeArgs),
    /// One whole recovery end to end, with everything embedded.
    Demo(commands::demo::DemoArgs),
    /// Register, revoke and list device keys.
    #[command(subcommand)]
    Device(commands::serve::DeviceCommand),
    /// Load a running server from this process: sessions and decisions per second.
    Load(commands::load::LoadArgs),
    /// Check the audit chain.
    #[command(subcommand)]
    Audit(commands::serve::AuditCommand),
    /// Accounts' self-service state (a "this wasn't me" notice locks it).
    #[command(subcommand)]
    Account(commands::serve::AccountCommand),
    /// Play the attacker's own client against a running server; exit 1 if any attack gets a grant.
    Attack(commands::attack::AttackArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Compare(args) => commands::compare::run(args),
        Command::Document(args) => commands::document::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Enroll(args) => commands::enroll::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::EvalDocuments(args) => commands::eval_documents::run(args),
        Command::EvalLiveness(args) => commands::eval_liveness::run(args),
        Command::EvalReplay(args) => commands::eval_replay::run(args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Device(command) => commands::serve::device(command),
        Command::Audit(command) => commands::serve::audit(command),
        Command::Account(command) => commands::serve::account(command),
        Command::Load(args) => commands::load::run(args),
        Command::Attack(args) => commands::attack::run(args),
    };
    outcome.exit_code()
}
