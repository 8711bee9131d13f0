//! `reclaim`: the command line over Reclaim's engine and server.
//!
//! Exit codes are a contract: 0 a positive answer, 1 a negative one, 2 bad input or
//! configuration (with a one-line reason on stderr, and a JSON error object on stdout when
//! `--json` was given).
//!
//! The lab commands (demo, attack, bench, eval*, load) are the `reclaim-lab` binary
//! (crates/lab), so this one links no document or face generator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use reclaim_cli::commands;

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
    /// Run the backend.
    Serve(commands::serve::ServeArgs),
    /// Register, revoke and list device keys.
    #[command(subcommand)]
    Device(commands::serve::DeviceCommand),
    /// Check the audit chain.
    #[command(subcommand)]
    Audit(commands::serve::AuditCommand),
    /// Accounts' self-service state (a "this wasn't me" notice locks it).
    #[command(subcommand)]
    Account(commands::serve::AccountCommand),
    /// The admin console's local accounts (passkeys, for bootstrap and break-glass).
    #[command(subcommand)]
    Admin(commands::admin::AdminCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Compare(args) => commands::compare::run(args),
        Command::Document(args) => commands::document::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Enroll(args) => commands::enroll::run(args),
        Command::Serve(args) => commands::serve::serve(args),
        Command::Device(command) => commands::serve::device(command),
        Command::Audit(command) => commands::serve::audit(command),
        Command::Account(command) => commands::serve::account(command),
        Command::Admin(command) => commands::admin::run(command),
    };
    outcome.exit_code()
}
