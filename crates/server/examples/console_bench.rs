//! How fast the admin console's pages answer on a full PostgreSQL database (issue 17's
//! goal: under 100 ms at p99 with 10,000 open cases and 1,000,000 audit entries).
//!
//! ```sh
//! cargo run --example console_bench -p reclaim-server [-- REQUESTS_PER_PAGE]
//! ```
//!
//! Starts a throwaway PostgreSQL (`reclaim-testkit`), opens the server on it, fills it in
//! bulk (`INSERT ... SELECT generate_series`: 100,000 sessions of which 10,000 wait for
//! review as open cases, 1,000,000 audit entries, 1,000 devices), then asks each page in
//! turn, one request at a time over loopback, and prints p50 and p99 per page, and the
//! plans PostgreSQL chooses for the pages' queries. Not a test: nothing here runs in the
//! test suite.

use std::time::Instant;

use reclaim_protocol::DeviceKey;
use reclaim_server::admin::{self, Role, SignedIn};
use reclaim_server::{App, Config};

const SESSIONS: i64 = 100_000;
const CASES: i64 = 10_000;
const AUDIT: i64 = 1_000_000;
const DEVICES: usize = 1_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let per_page: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let pg = reclaim_testkit::Postgres::start()?;
    let dir = std::env::temp_dir().join(format!("reclaim-console-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| e.to_string())?;
    let config = Config::parse(&format!(
        r#"
listen = "127.0.0.1:0"
public_url = "https://reclaim.example.test"
data_key = "{key}"
reverify = false

[database]
url = "{db}"
max_connections = 8

[directory]
kind = "demo"
file = "{dir_file}"

[policy]
review_queue = true

[admin.oidc]
issuer = "https://idp.example.test"
client_id = "reclaim-console"
admin_groups = ["admins"]
"#,
        key = hex::encode(key),
        db = pg.url(),
        dir_file = dir.join("dir.json").display(),
    ))?;
    let app = App::open(config).await?;

    let t = Instant::now();
    fill(&app).await?;
    println!("filled in {:.1} s", t.elapsed().as_secs_f64());

    let server = reclaim_server::start(app.clone()).await?;
    let secret = admin::sign_in(
        &app,
        &SignedIn {
            subject: "https://idp.example.test bench".into(),
            name: "bench".into(),
            roles: vec![Role::Admin, Role::Reviewer],
            aliases: vec![],
        },
    )
    .await
    .map_err(|e| e.message)?;
    let cookie = format!("__Host-reclaim_admin={}", secret.as_str());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let base = format!("http://{}", server.addr);

    explain(&app).await?;

    let pages = [
        ("queue, first page", "/admin/queue".to_string()),
        ("queue, page 150", "/admin/queue?page=150".into()),
        ("recoveries, newest", "/admin/recoveries".into()),
        (
            "recoveries by login",
            "/admin/recoveries?login=User42".into(),
        ),
        (
            "recoveries by state",
            "/admin/recoveries?state=review".into(),
        ),
        (
            "recoveries by date range",
            "/admin/recoveries?from=2020-01-01&to=2999-12-31&page=100".into(),
        ),
        (
            "one recovery's timeline",
            "/admin/recoveries/bench-4242".into(),
        ),
        ("audit, newest", "/admin/audit".into()),
        (
            "audit, deep (before 500000)",
            "/admin/audit?before=500000".into(),
        ),
        (
            "audit by kind, deep",
            "/admin/audit?kind=decision&before=500000".into(),
        ),
        ("devices", "/admin/devices".into()),
        ("health", "/admin/health".into()),
    ];
    println!("\n{per_page} requests per page, one at a time (after 10 to warm up):");
    println!("| page | p50 | p99 | max |\n| --- | --- | --- | --- |");
    for (name, path) in pages {
        let url = format!("{base}{path}");
        let mut times = Vec::with_capacity(per_page);
        for i in 0..per_page + 10 {
            let start = Instant::now();
            let response = client.get(&url).header("Cookie", &cookie).send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            let took = start.elapsed().as_secs_f64() * 1000.0;
            if status != 200 {
                return Err(format!("{path}: {status}: {}", String::from_utf8_lossy(&body)).into());
            }
            if i >= 10 {
                times.push(took);
            }
        }
        times.sort_by(f64::total_cmp);
        let at =
            |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |",
            at(0.50),
            at(0.99),
            times[times.len() - 1]
        );
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Fills the database in bulk. The audit rows are not a chain (their MACs are stand-ins):
/// the pages read them as they are; only the head is made valid, so the sign-in's own
/// entry appends normally.
async fn fill(app: &App) -> Result<(), Box<dyn std::error::Error>> {
    let pool = &app.store.pool;
    let now = reclaim_server::store::now();
    let mut values = Vec::new();
    for i in 0..DEVICES {
        let key = DeviceKey::generate()?;
        values.push(format!(
            "('{}', '{}', '{}', 'device {i}', {}, NULL)",
            key.key_id().as_str(),
            key.public().to_base64(),
            if i % 3 == 0 { "managed" } else { "unmanaged" },
            now - 86_400 * 30 + i as i64
        ));
    }
    sqlx::query(&format!(
        "INSERT INTO devices (key_id, public_key, tier, name, created_at, revoked_at) VALUES {}",
        values.join(", ")
    ))
    .execute(pool)
    .await?;
    // Sessions bench-1..bench-100000, one a minute back from now; the newest 10,000 wait
    // for review, the rest are done. Their devices are the registered ones, in turn.
    sqlx::query(&format!(
        "INSERT INTO sessions (id, token_hash, login, user_ref, action, device_key, nonce, nonce_used, challenge, steps, state, reasons, created_at, expires_at, client_addr) \
         WITH d AS (SELECT key_id, row_number() OVER (ORDER BY key_id) - 1 AS n FROM devices) \
         SELECT 'bench-' || g, md5('t' || g), 'user' || (g % 997), NULL, 'reset_password', \
         d.key_id, 'n', 1, 'left,center', 'selfie', \
         CASE WHEN g <= {CASES} THEN 'review' WHEN g % 5 = 0 THEN 'rejected' ELSE 'completed' END, \
         CASE WHEN g <= {CASES} THEN 'face_match_borderline' ELSE '' END, {now} - g * 60, {now} - g * 60 + 600, '10.0.0.1' \
         FROM generate_series(1, {SESSIONS}) g JOIN d ON d.n = g % {DEVICES}"
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO grants (id, session_id, user_ref, login, action, state, expires_at, template_sealed, password_sealed, lease_until, attempts, created_at, completed_at, apply_after) \
         SELECT md5('g' || g), 'bench-' || g, 'u' || (g % 997), 'user' || (g % 997), 'reset_password', 'completed', {now}, NULL, NULL, 0, 1, {now} - g * 60, {now} - g * 60 + 30, 0 \
         FROM generate_series({CASES} + 1, {SESSIONS}) g WHERE g % 5 <> 0"
    ))
    .execute(pool)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO reviews (session_id, evidence_sealed, reasons, created_at, delete_after, outcome, login, action, device_key, tier, facts_sealed, approvals_needed) \
         SELECT 'bench-' || g, '', 'face_match_borderline', {now} - g * 60, {now} + 86400 * 7, NULL, 'user' || (g % 997), 'reset_password', 'k', 'unmanaged', '', 1 \
         FROM generate_series(1, {CASES}) g"
    ))
    .execute(pool)
    .await?;
    // A million entries, ten per session, of seven kinds.
    sqlx::query(&format!(
        "INSERT INTO audit (seq, at, kind, actor, subject, detail, prev_hash, hash) \
         SELECT g, {now} - {AUDIT} + g, \
         (ARRAY['session_created','decision','reset_pending','reset_completed','review_vote','notice_sent','device_registered'])[1 + g % 7], \
         'server', 'session:bench-' || (1 + g % {SESSIONS}), \
         '{{\"action\":\"reset_password\",\"grant_sha256\":\"' || md5('g' || g) || '\"}}', \
         md5((g - 1)::text) || md5('p' || (g - 1)), md5(g::text) || md5('p' || g) \
         FROM generate_series(1, {AUDIT}) g"
    ))
    .execute(pool)
    .await?;
    let head_hash: String =
        sqlx::query_scalar(&format!("SELECT hash FROM audit WHERE seq = {AUDIT}"))
            .fetch_one(pool)
            .await?;
    let mac = app.keys.audit_head_mac(AUDIT, &head_hash);
    sqlx::query(&format!(
        "UPDATE audit_head SET seq = {AUDIT}, hash = '{head_hash}', mac = '{mac}' WHERE id = 1"
    ))
    .execute(pool)
    .await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}

/// The plans of the pages' queries, first line and index lines.
async fn explain(app: &App) -> Result<(), Box<dyn std::error::Error>> {
    let now = reclaim_server::store::now();
    let queries = [
        format!("SELECT r.session_id FROM reviews r WHERE r.outcome IS NULL AND r.delete_after >= {now} ORDER BY r.created_at, r.session_id LIMIT 50 OFFSET 7500"),
        "SELECT s.id FROM sessions s LEFT JOIN grants g ON g.session_id = s.id ORDER BY s.created_at DESC, s.id DESC LIMIT 51 OFFSET 0".into(),
        "SELECT s.id FROM sessions s LEFT JOIN grants g ON g.session_id = s.id WHERE lower(s.login) = lower('User42') ORDER BY s.created_at DESC, s.id DESC LIMIT 51 OFFSET 0".into(),
        "SELECT s.id FROM sessions s LEFT JOIN grants g ON g.session_id = s.id WHERE s.state = 'review' ORDER BY s.created_at DESC, s.id DESC LIMIT 51 OFFSET 0".into(),
        "SELECT seq FROM audit WHERE seq <= 500000 ORDER BY seq DESC LIMIT 50".into(),
        "SELECT seq FROM audit WHERE kind = 'decision' AND seq <= 500000 ORDER BY seq DESC LIMIT 50".into(),
        "SELECT seq FROM audit WHERE subject = 'session:bench-4242' ORDER BY seq LIMIT 1000".into(),
        "SELECT d.key_id, (SELECT MAX(s.created_at) FROM sessions s WHERE s.device_key = d.key_id) FROM devices d ORDER BY d.created_at DESC, d.key_id LIMIT 50".into(),
    ];
    println!("\nPlans (PostgreSQL EXPLAIN, scans only):");
    for q in queries {
        let rows: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN {q}"))
            .fetch_all(&app.store.pool)
            .await?;
        let scans: Vec<&str> = rows
            .iter()
            .map(|r| r.trim().trim_start_matches("->").trim())
            .filter(|r| r.contains("Scan"))
            .map(|r| r.split("  (").next().unwrap_or(r))
            .collect();
        println!("- {}\n    {}", &q[..q.len().min(110)], scans.join("; "));
    }
    Ok(())
}
