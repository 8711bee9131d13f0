//! How a command ends: what it prints and which exit code it returns.

use std::io::Write;
use std::process::ExitCode;

/// `println!` that does not panic when stdout is closed early (`reclaim-lab eval | head`):
/// the rest of the output is simply discarded.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}
pub use say;

use reclaim_protocol::Code;
use serde::Serialize;

/// The end of a command.
pub enum Exit {
    /// A positive answer (exit 0).
    Yes,
    /// A negative answer (exit 1).
    No,
    /// Bad input or configuration (exit 2); already reported.
    Failed,
    /// Neither yes nor no: a result that proves less than a positive answer needs, such as
    /// a face match with liveness skipped (exit 3).
    Unproven,
}

impl Exit {
    pub fn exit_code(self) -> ExitCode {
        match self {
            Exit::Yes => ExitCode::SUCCESS,
            Exit::No => ExitCode::from(1),
            Exit::Failed => ExitCode::from(2),
            Exit::Unproven => ExitCode::from(3),
        }
    }
}

/// Reports a failure: one line on stderr, and a JSON error object on stdout when asked.
pub fn fail(json: bool, code: Code, message: &str) -> Exit {
    let one_line = message.replace('\n', " ");
    eprintln!("reclaim: {one_line}");
    if json {
        print_json(&serde_json::json!({ "error": { "code": code, "message": one_line } }));
    }
    Exit::Failed
}

/// Reports an engine error, keeping its stable code.
pub fn fail_with(json: bool, context: &str, error: &reclaim_verify::VerifyError) -> Exit {
    let message = error.to_string();
    if message.contains(context) {
        fail(json, error.code(), &message)
    } else {
        fail(json, error.code(), &format!("{context}: {message}"))
    }
}

pub fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
        Err(e) => eprintln!("reclaim: cannot encode the result as JSON: {e}"),
    }
}
