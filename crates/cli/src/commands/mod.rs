use reclaim_protocol::Code;

pub mod attack;
pub mod bench;
pub mod compare;
pub mod demo;
pub mod document;
pub mod enroll;
pub mod eval;
pub mod eval_documents;
pub mod eval_liveness;
pub mod eval_replay;
pub mod load;
pub mod serve;
pub mod verify;

/// Renders and engine runs shared by `demo` (the honest app) and `attack` (the
/// attacker's own client).
mod scenes;

/// The runtime for a command that talks HTTP; a failure to start it is reported
/// (`runtime_failed`) and ends the command.
fn runtime(json: bool) -> Result<tokio::runtime::Runtime, crate::output::Outcome> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            crate::output::fail(
                json,
                Code::RuntimeFailed,
                &format!("cannot start the runtime: {e}"),
            )
        })
}
