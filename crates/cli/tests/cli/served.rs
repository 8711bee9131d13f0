//! This binary's `reclaim serve` for the tests that need one (reclaim-fixtures' server
//! glue with the `reclaim` cargo built for them), and a JSON request with a time limit.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

pub use reclaim_fixtures::server::{free_port, Served, AUDIENCE};

fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_reclaim"))
}

/// [`Served::start`] with this binary.
pub fn serve(name: &str, sections: &str, before: impl FnOnce(&Path, &crate::Scratch)) -> Served {
    Served::start(binary(), name, sections, before)
}

/// [`reclaim_fixtures::server::spawn_serve`] with this binary.
pub fn spawn_serve(config: &Path, log: &Path, env: &[(&str, &str)], url: &str) -> Child {
    reclaim_fixtures::server::spawn_serve(binary(), config, log, env, url)
}

/// An administrator registering a managed kiosk with `reclaim device register` on
/// `config`'s database, its private key written to `key_out`: the command's JSON answer.
pub fn register_kiosk(config: &Path, key_out: &Path) -> serde_json::Value {
    reclaim_fixtures::server::register_managed(binary(), config, key_out, "kiosk 1")
}

/// `POST url` with `body` as JSON (and `token` as the bearer), giving up after `timeout`:
/// the status and the JSON answer (`null` when it is not JSON), or why no answer came.
pub fn post_json(
    url: &str,
    token: Option<&str>,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<(u16, serde_json::Value), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| e.to_string())?;
    let mut r = client.post(url).json(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let response = r.send().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    Ok((status, response.json().unwrap_or(serde_json::Value::Null)))
}
