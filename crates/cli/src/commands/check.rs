//! `reclaim serve --check`: the configuration loaded exactly as `serve` loads it, then
//! everything it names checked (reclaim_server::preflight). One line per finding on
//! stdout, `problem CODE: sentence` or `note CODE: sentence`; exit 0 when a start would find
//! nothing wrong, 1 when it would, 2 when the configuration itself is refused. No line
//! holds a secret: the server's messages name settings, paths and hosts only.

use reclaim_server::preflight::{self, Options};
use reclaim_server::Config;

use crate::output::{say, Exit};

pub fn run(args: &super::serve::ServeArgs) -> Exit {
    let config = match Config::load(args.config.as_deref(), std::env::vars()) {
        Ok(c) => c,
        Err(e) => {
            say!("problem config_invalid: {}", one_line(&e.to_string()));
            eprintln!("reclaim: the configuration is refused");
            return Exit::Failed;
        }
    };
    let rt = match super::runtime(false) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let options = Options {
        migrate: args.migrate,
        connect: args.connect,
    };
    let report = rt.block_on(preflight::check(&config, options));
    for f in &report.problems {
        say!("problem {}: {}", f.code, one_line(&f.message));
    }
    for f in &report.notes {
        say!("note {}: {}", f.code, one_line(&f.message));
    }
    if report.problems.is_empty() {
        eprintln!("reclaim: the configuration is ready");
        Exit::Yes
    } else {
        eprintln!(
            "reclaim: {} problem(s) would stop or harm a start",
            report.problems.len()
        );
        Exit::No
    }
}

fn one_line(message: &str) -> String {
    message.replace('\n', " ")
}
