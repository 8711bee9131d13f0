//! `reclaim-lab`: the commands that measure and exercise Reclaim rather than run it: the
//! end-to-end demo, the attacker's own client, the benchmarks, the evaluations over
//! labelled and generated sets, and the load generator. They render documents and faces
//! (reclaim-docgen, reclaim-facegen), which the production `reclaim` binary never links.
//!
//! Exit codes and output follow the production command line's contract (reclaim-cli's
//! `output`): 0 a positive answer, 1 a negative one, 2 bad input or configuration.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
/// How a command ends: `say!`, `fail`, `Exit` and JSON output, as in `reclaim`.
use reclaim_cli::output;

#[derive(Parser)]
#[command(
    name = "reclaim-lab",
    version,
    about = "Reclaim's lab: the demo, the attack suite, benchmarks, evaluations and load"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// One whole recovery end to end, with everything embedded.
    Demo(commands::demo::DemoArgs),
    /// Play the attacker's own client against a running server; exit 1 if any attack gets a grant.
    Attack(commands::attack::AttackArgs),
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
    /// Load a running server from this process: sessions and decisions per second.
    Load(commands::load::LoadArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Demo(args) => commands::demo::run(args),
        Command::Attack(args) => commands::attack::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Eval(args) => commands::eval::run(args),
        Command::EvalDocuments(args) => commands::eval_documents::run(args),
        Command::EvalLiveness(args) => commands::eval_liveness::run(args),
        Command::EvalReplay(args) => commands::eval_replay::run(args),
        Command::Load(args) => commands::load::run(args),
    };
    outcome.exit_code()
}
