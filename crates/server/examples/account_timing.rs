//! Known against unknown accounts, timed: does the server take longer to refuse a login
//! that exists than one that does not? (docs/server.md, "Known and unknown accounts".)
//!
//! A real slapd (with `N` seeded people) behind a real server, on SQLite and on a
//! throwaway PostgreSQL. For each of `N` known and `N` unknown logins, interleaved (so a
//! drift of the machine's load falls on both alike), one session start and one refused
//! attestation from a managed kiosk whose signed claims say the face did not match (the
//! decision without the engine, which runs the same for both and would drown the
//! difference). Prints the median, p10 and p90 of each, and the difference of medians.
//!
//! Run: `bench/account_timing.sh [N]` (N = 300 by default), or
//! `cargo run -p reclaim-server --example account_timing -- [N] [sqlite|postgres|both]`.
//! Needs slapd and PostgreSQL installed (scripts/setup-debian).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reclaim_protocol::attestation::AttestedDocument;
use reclaim_protocol::{sign_attestation, DeviceKey, RecoveryAction};
use reclaim_server::devices::{self, Tier};
use reclaim_server::{App, Config};
use reclaim_testkit::{LdapSeedUser, Postgres, Slapd};
use serde_json::{json, Value};

const PUBLIC_URL: &str = "https://reclaim.timing.invalid";

type Failure = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(a) => a.parse().map_err(|_| "N must be a number")?,
        None => 300,
    };
    let which = args.next().unwrap_or_else(|| "both".into());
    let seed: Vec<LdapSeedUser> = (0..n)
        .map(|i| {
            LdapSeedUser::new(
                &format!("person{i:04}"),
                "an old passphrase here",
                "Pat",
                &format!("Person{i:04}"),
            )
        })
        .collect();
    let slapd = Slapd::start(&seed)?;
    println!(
        "{n} known and {n} unknown logins against slapd on {}",
        slapd.url()
    );
    if which == "sqlite" || which == "both" {
        let dir = tempdir()?;
        let url = format!("sqlite://{}", dir.join("timing.db").display());
        run("SQLite", &url, &slapd, n).await?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    if which == "postgres" || which == "both" {
        let pg = Postgres::start()?;
        run("PostgreSQL", &pg.url(), &slapd, n).await?;
    }
    Ok(())
}

fn tempdir() -> Result<std::path::PathBuf, Failure> {
    let d = std::env::temp_dir().join(format!("reclaim-timing-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn config(db_url: &str, slapd: &Slapd) -> String {
    let mut key = [0u8; 32];
    let _ = getrandom::fill(&mut key);
    format!(
        r#"
listen = "127.0.0.1:0"
public_url = "{PUBLIC_URL}"
data_key = "{key}"
reverify = false
models_dir = "{models}"

[database]
url = "{db_url}"
max_connections = 8

[directory]
kind = "ldap"
flavour = "openldap"
url = "{ldap}"
bind_dn = "{bind_dn}"
bind_password = "{bind_password}"
base_dn = "{base_dn}"

[policy]
# The managed kiosk's signed claims decide alone (an operator's opt-in): the refusal
# below is the decision without the engine.
managed_requires_evidence = false

[limits]
sessions_per_user_per_hour = 1000000000
sessions_per_address_per_minute = 1000000000
requests_per_device_per_minute = 1000000000
"#,
        key = hex::encode(key),
        models = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"),
        ldap = slapd.url(),
        bind_dn = slapd.service_dn(),
        bind_password = slapd.service_password(),
        base_dn = slapd.people_dn(),
    )
}

async fn run(label: &str, db_url: &str, slapd: &Slapd, n: usize) -> Result<(), Failure> {
    let app = App::open(Config::parse(&config(db_url, slapd))?).await?;
    let server = reclaim_server::start(app.clone()).await?;
    let base = format!("http://{}", server.addr);
    let kiosk = DeviceKey::generate()?;
    devices::register(
        &app.store,
        &app.keys,
        &kiosk.public().to_base64(),
        "kiosk",
        Tier::Managed,
        "admin:timing",
    )
    .await?;
    let client = reqwest::Client::new();
    let models = reclaim_server::models::shipped_model_digests()?;
    // Warm up connections and caches on logins that are not measured.
    for i in 0..20 {
        let _ = attempt(&client, &base, &kiosk, &models, &format!("warm{i}")).await?;
    }
    let mut known = Samples::default();
    let mut unknown = Samples::default();
    for i in 0..n {
        let k = format!("person{i:04}");
        let u = format!("nobody{i:04}");
        // Alternate which goes first, so neither always follows the other.
        let pair = if i % 2 == 0 {
            [(&k, true), (&u, false)]
        } else {
            [(&u, false), (&k, true)]
        };
        for (login, is_known) in pair {
            let (start, refuse) = attempt(&client, &base, &kiosk, &models, login).await?;
            let s = if is_known { &mut known } else { &mut unknown };
            s.start.push(start);
            s.refuse.push(refuse);
        }
    }
    server.stop().await;
    println!("\n{label} + slapd, {n} requests each, milliseconds (median / p10 / p90):");
    for (what, k, u) in [
        ("session start", &mut known.start, &mut unknown.start),
        (
            "refused attestation",
            &mut known.refuse,
            &mut unknown.refuse,
        ),
    ] {
        let (km, up) = (stats(k), stats(u));
        println!(
            "  {what:<20} known {:7.2} / {:7.2} / {:7.2}   unknown {:7.2} / {:7.2} / {:7.2}   known - unknown {:+.2}",
            km.0, km.1, km.2, up.0, up.1, up.2, km.0 - up.0
        );
    }
    Ok(())
}

#[derive(Default)]
struct Samples {
    start: Vec<Duration>,
    refuse: Vec<Duration>,
}

/// (median, p10, p90) in milliseconds.
fn stats(v: &mut [Duration]) -> (f64, f64, f64) {
    v.sort();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1000.0;
    (at(0.5), at(0.1), at(0.9))
}

/// One session start and one refused attestation; their wall-clock times.
async fn attempt(
    client: &reqwest::Client,
    base: &str,
    kiosk: &DeviceKey,
    models: &BTreeMap<String, String>,
    login: &str,
) -> Result<(Duration, Duration), Failure> {
    let t = Instant::now();
    let r = client
        .post(format!("{base}/v1/sessions"))
        .json(&json!({ "login": login, "action": "reset_password", "device": kiosk.key_id().as_str() }))
        .send()
        .await?;
    let status = r.status();
    let s: Value = r.json().await?;
    let start = t.elapsed();
    if status.as_u16() != 201 {
        return Err(format!("session start for {login}: {status} {s}").into());
    }
    let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
    let mut claims = reclaim_fixtures::claims::verified(
        PUBLIC_URL,
        &text("session_id"),
        &text("nonce"),
        login,
        RecoveryAction::ResetPassword,
    );
    claims.iss = kiosk.key_id().as_str().into();
    claims.decision = reclaim_protocol::DeviceVerdict::Rejected;
    claims.reasons = vec![reclaim_protocol::Code::FaceMismatch.as_str().into()];
    claims.results[0].score = 0.1;
    claims.results[0].threshold = f64::from(reclaim_verify::FACE_MATCH_THRESHOLD);
    claims.results[0].passed = false;
    claims.models = models.clone();
    claims.app_version = "timing".into();
    claims.document = Some(AttestedDocument {
        kind: "td1".into(),
        surname: "PERSON".into(),
        given_names: "PAT".into(),
        names_truncated: false,
        birth_date: None,
        expiry_date: None,
        checks_passed: true,
    });
    let token = sign_attestation(&claims, kiosk)?;
    let t = Instant::now();
    let r = client
        .post(format!(
            "{base}/v1/sessions/{}/attestation",
            text("session_id")
        ))
        .bearer_auth(text("session_token"))
        .json(&json!({ "token": token, "evidence": [] }))
        .send()
        .await?;
    let status = r.status();
    let body: Value = r.json().await?;
    let refuse = t.elapsed();
    if status.as_u16() != 200 || body["outcome"] != "rejected" {
        return Err(format!("attestation for {login}: {status} {body}").into());
    }
    Ok((start, refuse))
}
