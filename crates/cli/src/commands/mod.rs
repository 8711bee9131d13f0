use reclaim_protocol::Code;

pub mod admin;
pub mod check;
pub mod compare;
pub mod document;
pub mod enroll;
pub mod serve;
pub mod verify;

/// The runtime for a command that talks HTTP or runs the server; a failure to start it is
/// reported (`runtime_failed`) and ends the command.
pub fn runtime(json: bool) -> Result<tokio::runtime::Runtime, crate::output::Exit> {
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
