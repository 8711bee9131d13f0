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
