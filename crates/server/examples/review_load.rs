//! What a reviewer's requests cost on a large case: time and peak memory of one picture,
//! of the case page's load, and of a decision's load (docs/benchmarks.md, "Review cases").
//!
//! ```sh
//! cargo run --example review_load -p reclaim-server [-- MEGABYTES]
//! ```
//!
//! Opens the server's `App` on a SQLite file in a fresh temporary folder and opens one
//! case whose evidence is MEGABYTES (20 by default) of pictures: two ID sides of a fifth
//! of it each and twelve selfie frames sharing the rest (random bytes behind a JPEG
//! marker: sealing and unsealing do not look inside). Then, for each request, a fresh
//! process of this program opens the same database and makes it: one ID side
//! (`review::picture`), the case page's load (`review::open`), and a decision's load
//! (`review::decide` by a reviewer whose own account it is, refused right after the case
//! is read, so the case stays open for the next run). Memory is the process's peak
//! resident size during the first request over its size just before
//! (`/proc/self/clear_refs`, `VmHWM`); time is the first request's and the median of ten
//! more. Not a test: nothing here runs in the test suite.
//!
//! For comparison, the last row does what a picture request did before each picture was
//! sealed on its own (commit 90d8a01, `review::open` then `review::picture`), step by step
//! on a second case kept that way: read the case's row with its whole evidence sealed as
//! one list, unseal it and the facts, parse the list, read the votes, decode the picture.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reclaim_protocol::wire::evidence::EvidenceItem;
use reclaim_protocol::Code;
use reclaim_protocol::{wire::devices::Tier, RecoveryAction};
use reclaim_server::error::ApiError;
use reclaim_server::recovery::evidence::UploadedEvidence;
use reclaim_server::recovery::review::{self, CaseFacts, CaseRecord, Reviewer, Verdict};
use reclaim_server::recovery::sessions::Session;
use reclaim_server::{store, App, Config};
use sqlx::Row;

const CASE: &str = "review-load-case";
/// The same case as a server before `review_pictures` kept it.
const WHOLE: &str = "review-load-whole";
const LOGIN: &str = "avery.quinn";

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("measure") {
        let (dir, key, what) = (&args[2], &args[3], &args[4]);
        return measure(dir, key, what).await;
    }
    let megabytes: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20);
    let dir = std::env::temp_dir().join(format!("reclaim-review-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let dir = dir.display().to_string();
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| e.to_string())?;
    let key = hex::encode(key);
    let app = open(&dir, &key).await?;
    let evidence = evidence(megabytes << 20);
    let session = Session {
        id: CASE.into(),
        token_hash: String::new(),
        login: LOGIN.into(),
        user_ref: Some("demo:avery.quinn".into()),
        action: RecoveryAction::ResetPassword,
        device_key: "bench-device".into(),
        nonce: String::new(),
        nonce_used: true,
        challenge: vec![],
        light: None,
        steps: vec![],
        state: "review".into(),
        expires_at: i64::MAX,
        follower_token_hash: None,
        handoff_hash: None,
        handoff_expires_at: None,
    };
    let mut record = CaseRecord {
        id: "demo:avery.quinn".into(),
        username: LOGIN.into(),
        ..CaseRecord::default()
    };
    record.email = Some(format!("{LOGIN}@example.test"));
    let facts = CaseFacts {
        reasons: vec![Code::DocumentNamePartial.as_str().into()],
        record: Some(record),
        ..CaseFacts::default()
    };
    let case = review::sealed_case(
        &app,
        &session,
        Tier::Managed,
        Some(&evidence),
        &facts,
        &[],
        0,
    )
    .map_err(api)?;
    let mut tx = app.store.begin().await?;
    store::reviews::insert(&mut tx, &case).await?;
    tx.commit().await?;
    if std::env::var_os("REVIEW_LOAD_NO_WHOLE").is_none() {
        keep_whole(&app, &evidence, &case.facts_sealed).await?;
    }
    drop((case, evidence, app));
    println!("a case of {megabytes} MB of evidence (2 ID sides, 12 selfie frames), in {dir}");
    println!(
        "{:<28} {:>12} {:>14} {:>18}",
        "request", "first (ms)", "median (ms)", "peak RSS (MiB)"
    );
    let me = std::env::current_exe()?;
    let mut requests = vec!["picture", "open", "decide"];
    if std::env::var_os("REVIEW_LOAD_NO_WHOLE").is_none() {
        requests.push("whole");
    }
    for what in requests {
        let out = std::process::Command::new(&me)
            .args(["measure", &dir, &key, what])
            .output()?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
        }
        print!("{}", String::from_utf8_lossy(&out.stdout));
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// A second case with the same facts, its evidence kept as servers before
/// `review_pictures` kept it: the app's items (base64) as one sealed JSON list.
async fn keep_whole(
    app: &App,
    evidence: &UploadedEvidence,
    facts_sealed: &str,
) -> Result<(), Error> {
    let items: Vec<EvidenceItem> = evidence
        .pieces()
        .into_iter()
        .map(|(name, t_ms, bytes)| EvidenceItem {
            name,
            t_ms,
            data: STANDARD.encode(bytes),
        })
        .collect();
    let sealed = app
        .keys
        .seal("review evidence", &serde_json::to_vec(&items)?)?;
    sqlx::query(
        "INSERT INTO reviews (session_id, evidence_sealed, reasons, created_at, delete_after, outcome, login, action, device_key, tier, facts_sealed, approvals_needed, delay_s) \
         SELECT $1, $2, reasons, created_at, delete_after, outcome, login, action, device_key, tier, $3, approvals_needed, delay_s FROM reviews WHERE session_id = $4",
    )
    .bind(WHOLE)
    .bind(sealed)
    .bind(facts_sealed)
    .bind(CASE)
    .execute(&app.store.writer)
    .await?;
    Ok(())
}

/// What a picture request did before (90d8a01's `review::open` and `review::picture`).
async fn whole_picture(app: &App) -> Result<usize, Error> {
    let row = sqlx::query(
        "SELECT r.session_id, r.login, r.action, r.tier, r.reasons, r.approvals_needed, \
         (SELECT COUNT(*) FROM review_votes v WHERE v.session_id = r.session_id AND v.vote = 'approve'), \
         r.created_at, r.delete_after, r.device_key, r.evidence_sealed, r.facts_sealed, r.outcome, r.grant_sealed, r.delay_s \
         FROM reviews r WHERE r.session_id = $1",
    )
    .bind(WHOLE)
    .fetch_one(&app.store.writer)
    .await?;
    let evidence_sealed: String = row.try_get(10)?;
    let facts_sealed: String = row.try_get(11)?;
    let evidence: Vec<EvidenceItem> =
        serde_json::from_slice(&app.keys.open("review evidence", &evidence_sealed)?)?;
    let _facts: CaseFacts = serde_json::from_slice(&app.keys.open("review facts", &facts_sealed)?)?;
    let _votes = sqlx::query(
        "SELECT reviewer, vote, reason, at FROM review_votes WHERE session_id = $1 ORDER BY at, reviewer",
    )
    .bind(WHOLE)
    .fetch_all(&app.store.writer)
    .await?;
    let picture = zeroize::Zeroizing::new(STANDARD.decode(&evidence[0].data)?);
    Ok(picture.len())
}

async fn open(dir: &str, key: &str) -> Result<std::sync::Arc<App>, Error> {
    Ok(App::open(Config::parse(&format!(
        r#"
listen = "127.0.0.1:0"
public_url = "https://reclaim.example.test"
data_key = "{key}"
reverify = false

[database]
url = "sqlite:{dir}/reclaim.db"

[directory]
kind = "demo"
file = "{dir}/dir.json"

[policy]
review_queue = true

[admin.oidc]
issuer = "https://idp.example.test"
client_id = "reclaim-console"
reviewer_groups = ["reviewers"]
"#
    ))?)
    .await?)
}

/// A refusal as this program's error.
fn api(e: ApiError) -> Error {
    format!("{}: {}", e.code.as_str(), e.message).into()
}

/// `bytes` of pictures: two ID sides of a fifth each, twelve selfie frames for the rest.
fn evidence(bytes: usize) -> UploadedEvidence {
    let picture = |len: usize| {
        let mut b = vec![0u8; len];
        let _ = getrandom::fill(&mut b);
        b[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        b
    };
    let side = bytes / 5;
    let frame = (bytes - 2 * side) / 12;
    UploadedEvidence {
        id_front: Some(picture(side)),
        id_back: Some(picture(side)),
        selfies: (0..12).map(|i| (picture(frame), i * 100)).collect(),
    }
}

/// The resident size and its peak since the last reset, KiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn measure(dir: &str, key: &str, what: &str) -> Result<(), Error> {
    let app = open(dir, key).await?;
    // The pool's connections open, the statement caches warm: what is left is the request.
    review::queue(&app, 0, 1).await.map_err(api)?;
    let own = vec![LOGIN.to_string()];
    let reviewer = Reviewer {
        subject: "bench",
        name: "bench",
        aliases: &own,
    };
    let request = || async {
        match what {
            "whole" => whole_picture(&app)
                .await
                .map_err(|e| ApiError::new(Code::InternalError, e.to_string())),
            "picture" => review::picture(&app, CASE, 0).await.map(|p| p.len()),
            "open" => review::open(&app, CASE).await.map(|c| c.votes.len()),
            // Refused as the reviewer's own recovery, once the case is read.
            _ => match review::decide(&app, &reviewer, CASE, Verdict::Refuse, "bench").await {
                Err(e) if e.code == Code::CaseOwnRecovery => Ok(0),
                Err(e) => Err(e),
                Ok(d) => Err(ApiError::new(Code::InternalError, format!("decided {d:?}"))),
            },
        }
    };
    std::fs::write("/proc/self/clear_refs", "5")?;
    let (before, _) = memory();
    let t = Instant::now();
    request().await.map_err(api)?;
    let first = t.elapsed();
    let (_, peak) = memory();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        request().await.map_err(api)?;
        times.push(t.elapsed());
    }
    times.sort();
    let label = match what {
        "picture" => "one picture (an ID side)",
        "whole" => "the same picture, as before",
        "open" => "case page's load",
        _ => "a decision's load",
    };
    println!(
        "{label:<28} {:>12.1} {:>14.1} {:>18.1}",
        first.as_secs_f64() * 1e3,
        times[5].as_secs_f64() * 1e3,
        peak.saturating_sub(before) as f64 / 1024.0
    );
    Ok(())
}
