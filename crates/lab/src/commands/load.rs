//! `reclaim-lab load`: drives a running server from a second process, as many clients at
//! once, and reports throughput and latency of session starts and attestation decisions.
//!
//! Two phases. First the clients start sessions for the given time (timed: session
//! starts per second). Then an attestation for each of those sessions is signed with a
//! managed device's key (registered beforehand with `reclaim device register --key-out`),
//! untimed, and the same clients send them all (timed: decisions per second). So the
//! second figure is the server's whole decision (token, device, nonce, limits, directory,
//! name match, grant, audit), without the client's signing, and without re-running the
//! engine, which is measured on its own.

use reclaim_protocol::Code;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reclaim_fixtures::claims;
use reclaim_protocol::{sign_attestation, DeviceKey, RecoveryAction};
use serde_json::{json, Value};

use crate::output::{fail, print_json, say, Exit};

#[derive(clap::Args)]
pub struct LoadArgs {
    /// Base URL of the server(s); give several to spread clients over instances.
    #[arg(long, num_args = 1.., required = true)]
    pub url: Vec<String>,
    /// The managed device's key file (from `reclaim device register --key-out`).
    #[arg(long)]
    pub key: PathBuf,
    /// The audience the server expects (its public_url).
    #[arg(long)]
    pub audience: String,
    #[arg(long, default_value = "avery.quinn")]
    pub login: String,
    #[arg(long, default_value = "QUINN")]
    pub surname: String,
    #[arg(long, default_value = "AVERY")]
    pub given_names: String,
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    #[arg(long)]
    pub json: bool,
}

/// A session started in the first phase, attested in the second.
struct Started {
    url: String,
    id: String,
    token: String,
    nonce: String,
}

struct Phase {
    latencies_ms: Vec<f64>,
    seconds: f64,
    errors: u64,
    approved: u64,
}

pub fn run(args: LoadArgs) -> Exit {
    let key = match std::fs::read_to_string(&args.key)
        .map_err(|e| format!("{}: {e}", args.key.display()))
        .and_then(|t| DeviceKey::from_seed_hex(&t))
    {
        Ok(k) => Arc::new(k),
        Err(message) => return fail(args.json, Code::InputInvalid, &message),
    };
    let models = match reclaim_server::models::shipped_model_digests() {
        Ok(m) => m,
        Err(message) => return fail(args.json, Code::ModelsInvalid, &message),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(args.json, Code::RuntimeFailed, &e.to_string()),
    };
    let args = Arc::new(args);
    let (sessions, decisions) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.clients)
            .build()
            .unwrap_or_default();
        // Phase 1: session starts, for `warmup + seconds`; the warm-up ones are not timed.
        let start = Instant::now();
        let measure_from = start + Duration::from_secs_f64(args.warmup);
        let end = measure_from + Duration::from_secs_f64(args.seconds);
        let mut tasks = Vec::new();
        for i in 0..args.clients {
            let (client, args, key) = (client.clone(), args.clone(), key.clone());
            tasks.push(tokio::spawn(async move {
                let url = args.url[i % args.url.len()].clone();
                let mut started = Vec::new();
                let mut latencies = Vec::new();
                let mut errors = 0;
                while Instant::now() < end {
                    let t = Instant::now();
                    match start_session(&client, &url, &args, &key).await {
                        Ok(s) => {
                            if t >= measure_from {
                                latencies.push(t.elapsed().as_secs_f64() * 1e3);
                            }
                            started.push(s);
                        }
                        Err(_) => errors += 1,
                    }
                }
                (started, latencies, errors)
            }));
        }
        let mut queues = Vec::new();
        let mut phase1 = Phase {
            latencies_ms: Vec::new(),
            seconds: args.seconds,
            errors: 0,
            approved: 0,
        };
        for t in tasks {
            if let Ok((started, latencies, errors)) = t.await {
                queues.push(started);
                phase1.latencies_ms.extend(latencies);
                phase1.errors += errors;
            }
        }
        // The tokens are signed between the phases, so phase 2 times the server alone.
        let signed: Vec<Vec<(Started, String)>> = queues
            .into_iter()
            .map(|q| {
                q.into_iter()
                    .filter_map(|s| {
                        let jws = attestation(&args, &key, &models, &s).ok()?;
                        Some((s, jws))
                    })
                    .collect()
            })
            .collect();
        // Phase 2: every started session's attestation, the same clients.
        let start = Instant::now();
        let mut tasks = Vec::new();
        for queue in signed {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                let (mut errors, mut approved) = (0, 0);
                for (s, jws) in queue {
                    let t = Instant::now();
                    match attest(&client, &s, &jws).await {
                        Ok(ok) => {
                            latencies.push(t.elapsed().as_secs_f64() * 1e3);
                            approved += u64::from(ok);
                        }
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors, approved)
            }));
        }
        let mut phase2 = Phase {
            latencies_ms: Vec::new(),
            seconds: 0.0,
            errors: 0,
            approved: 0,
        };
        for t in tasks {
            if let Ok((latencies, errors, approved)) = t.await {
                phase2.latencies_ms.extend(latencies);
                phase2.errors += errors;
                phase2.approved += approved;
            }
        }
        phase2.seconds = start.elapsed().as_secs_f64();
        (phase1, phase2)
    });
    let summary = |p: &mut Phase| {
        let v = &mut p.latencies_ms;
        v.sort_by(f64::total_cmp);
        let pct = |q: f64| {
            if v.is_empty() {
                0.0
            } else {
                v[((v.len() as f64 - 1.0) * q).round() as usize]
            }
        };
        let r2 = |x: f64| (x * 100.0).round() / 100.0;
        json!({
            "count": v.len(),
            "seconds": r2(p.seconds),
            "per_second": (v.len() as f64 / p.seconds.max(1e-9) * 10.0).round() / 10.0,
            "p50_ms": r2(pct(0.50)),
            "p99_ms": r2(pct(0.99)),
            "max_ms": r2(v.last().copied().unwrap_or(0.0)),
            "errors": p.errors,
        })
    };
    let (mut sessions, mut decisions) = (sessions, decisions);
    let ok = sessions.errors == 0 && decisions.errors == 0 && decisions.approved > 0;
    let report = json!({
        "clients": args.clients,
        "instances": args.url.len(),
        "sessions": summary(&mut sessions),
        "decisions": summary(&mut decisions),
        "approved": decisions.approved,
    });
    if args.json {
        print_json(&report);
    } else {
        say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    }
    if ok {
        Exit::Yes
    } else {
        Exit::No
    }
}

/// `request`'s JSON answer; an error for a refusal or a failed connection.
async fn answer(request: reqwest::RequestBuilder) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let response = response.error_for_status().map_err(|e| e.to_string())?;
    response.json().await.map_err(|e| e.to_string())
}

async fn start_session(
    client: &reqwest::Client,
    url: &str,
    args: &LoadArgs,
    key: &DeviceKey,
) -> Result<Started, String> {
    let session = answer(
        client
            .post(format!("{url}/v1/sessions"))
            .json(&json!({ "login": args.login, "action": "reset_password", "device": key.key_id().as_str() })),
    )
    .await?;
    let field = |k: &str| {
        session[k]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("no {k}"))
    };
    Ok(Started {
        url: url.to_string(),
        id: field("session_id")?,
        token: field("session_token")?,
        nonce: field("nonce")?,
    })
}

async fn attest(client: &reqwest::Client, s: &Started, jws: &str) -> Result<bool, String> {
    let decision = answer(
        client
            .post(format!("{}/v1/sessions/{}/attestation", s.url, s.id))
            .bearer_auth(&s.token)
            .json(&json!({ "token": jws })),
    )
    .await?;
    Ok(decision["outcome"] == "approved")
}

fn attestation(
    args: &LoadArgs,
    key: &DeviceKey,
    models: &std::collections::BTreeMap<String, String>,
    s: &Started,
) -> Result<String, String> {
    // The claims of tests' devices, as this kiosk's load would sign them.
    let mut claims = claims::verified(
        &args.audience,
        &s.id,
        &s.nonce,
        &args.login,
        RecoveryAction::ResetPassword,
    );
    claims.models = models.clone();
    claims.app_version = "reclaim-load".into();
    claims.camera.name = "kiosk camera".into();
    claims.document = Some(claims::document("td3", &args.surname, &args.given_names));
    sign_attestation(&claims, key).map_err(|e| e.to_string())
}
