pub mod attack;
pub mod bench;
pub mod demo;
pub mod eval;
pub mod eval_documents;
pub mod eval_liveness;
pub mod eval_replay;
pub mod load;

/// Renders shared by `demo` (the honest app's camera) and `attack` (the attacker's own
/// client, which also runs the engine itself).
mod scenes;

/// The production commands' runtime (a failure to start it is reported and ends the
/// command).
use reclaim_cli::commands::runtime;

/// What an evaluation shows of the items it judged wrong.
#[derive(clap::Args)]
pub struct FailureFlags {
    /// Print every item judged wrong, with what was read or found and why.
    #[arg(long = "show-failures")]
    pub show: bool,
    /// Save the images of the items judged wrong here.
    #[arg(long = "save-failures", value_name = "DIR")]
    pub save: Option<std::path::PathBuf>,
}
