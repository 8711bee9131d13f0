//! A server in a temporary directory, on SQLite or on a throwaway PostgreSQL, and the
//! client-side steps of a recovery (device, session, signed attestation, reset).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use reclaim_directory::{DemoDirectory, DemoUser};
use reclaim_protocol::attestation::{AttestedDocument, EvidenceDigest};
use reclaim_protocol::{sign_attestation, AttestationClaims, DeviceKey, RecoveryAction};
use reclaim_server::devices::{self, Tier};
use reclaim_server::{App, Config, RunningServer};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use sqlx::Row;

pub const PUBLIC_URL: &str = "https://reclaim.example.test";
pub const AVERY: &str = "avery.quinn";
pub const OLD_PASSWORD: &str = "the old forgotten passphrase";
pub const NEW_PASSWORD: &str = "violet harbour lanterns drift slowly";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let p = std::env::temp_dir().join(format!(
            "reclaim-server-test-{}-{}-{nanos}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Which database a test runs on.
pub enum Db {
    Sqlite,
    Postgres(reclaim_testkit::Postgres),
}

impl Db {
    pub fn sqlite() -> Db {
        Db::Sqlite
    }

    pub fn postgres() -> Db {
        Db::Postgres(reclaim_testkit::Postgres::start().expect("PostgreSQL starts"))
    }

    fn url(&self, dir: &Path) -> String {
        match self {
            Db::Sqlite => format!("sqlite://{}", dir.join("r.db").display()),
            Db::Postgres(pg) => pg.url(),
        }
    }
}

/// A `[policy]` row that lets self-registered devices recover on their own (an operator's
/// opt-in; never the default).
pub const UNMANAGED_APPROVE: &str =
    "[[policy.table]]\naction = \"*\"\ntier = \"unmanaged\"\nuser = \"*\"\nverdict = \"approve\"\n";

/// How to configure the server.
#[derive(Clone, Default)]
pub struct Options {
    /// Extra TOML appended after the base configuration (sections only).
    pub extra: String,
    /// Extra lines inside `[policy]` (keys, then any `[[policy.table]]` rows).
    pub policy: String,
    /// Directory accounts; `demo_seed()` when `None`.
    pub users: Option<Vec<DemoUser>>,
    pub reverify: bool,
    /// Keep the default policy (evidence required from managed devices too).
    pub default_policy: bool,
    /// The address to listen on; `127.0.0.1:0` (any free port) when `None`.
    pub listen: Option<String>,
    /// Screen-light steps each session draws; 0 (no light) unless a test lights its frames.
    pub light_steps: usize,
}

pub fn random_hex_key() -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).unwrap();
    hex::encode(b)
}

pub fn config_text(dir: &Path, db_url: &str, data_key: &str, options: &Options) -> String {
    format!(
        r#"
listen = "{listen}"
public_url = "{PUBLIC_URL}"
data_key = "{data_key}"
reverify = {reverify}
models_dir = "{models}"

[database]
url = "{db_url}"
max_connections = 8

[directory]
kind = "demo"
file = "{dir_file}"

[policy]
# Short, so interrupted resets are resumed quickly in tests.
reset_lease_s = 5
# Most scenarios here test the attestation and the reset around a managed kiosk's signed
# claims, so they trust those claims (an operator's opt-in); the evidence path and the
# default (evidence required from every tier) have their own tests (trust.rs).
managed_requires_evidence = {requires_evidence}
{policy}

# The scenarios' selfies are files made before a session draws its screen light: they
# cannot answer one. The light's own tests (light.rs) ask for it and light their frames.
[challenge]
light_steps = {light_steps}

{extra}
"#,
        listen = options.listen.as_deref().unwrap_or("127.0.0.1:0"),
        reverify = options.reverify,
        requires_evidence = options.default_policy,
        light_steps = options.light_steps,
        policy = options.policy,
        models = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models"),
        dir_file = dir.join("dir.json").display(),
        extra = options.extra,
    )
}

/// One running server and what a test needs around it.
pub struct Harness {
    pub server: Option<RunningServer>,
    pub app: Arc<App>,
    pub base: String,
    pub client: reqwest::Client,
    /// A managed kiosk, registered by an administrator.
    pub kiosk: DeviceKey,
    pub data_key: String,
    pub db_url: String,
    // Dropped last: the server's files and database.
    _db: Db,
    pub dir: TempDir,
}

impl Harness {
    pub async fn start(db: Db) -> Harness {
        Harness::with(db, Options::default()).await
    }

    pub async fn with(db: Db, options: Options) -> Harness {
        let dir = TempDir::new();
        let data_key = random_hex_key();
        let db_url = db.url(dir.path());
        if let Some(users) = &options.users {
            DemoDirectory::open(&dir.path().join("dir.json"), users.clone()).unwrap();
        }
        let config = Config::parse(&config_text(dir.path(), &db_url, &data_key, &options)).unwrap();
        let app = App::open(config).await.expect("the app opens");
        let server = reclaim_server::start(app.clone())
            .await
            .expect("the server starts");
        let base = format!("http://{}", server.addr);
        let kiosk = DeviceKey::generate().unwrap();
        register_managed(&app, &kiosk).await;
        Harness {
            server: Some(server),
            app,
            base,
            // No pooled connections: a connection the server closed after refusing a body
            // (413) must not be reused by the next request.
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("a client"),
            kiosk,
            data_key,
            db_url,
            _db: db,
            dir,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn post_auth(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn get_auth(&self, path: &str, token: &str) -> (u16, Value) {
        send(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    /// `POST /v1/sessions` for `login` from `device`; panics unless 201.
    pub async fn session(&self, login: &str, device: &DeviceKey) -> OpenSession {
        let (status, body) = self.create_session(login, device).await;
        assert_eq!(status, 201, "session creation: {body}");
        OpenSession::from_json(login, &body)
    }

    pub async fn create_session(&self, login: &str, device: &DeviceKey) -> (u16, Value) {
        self.post(
            "/v1/sessions",
            &json!({ "login": login, "action": "reset_password", "device": device.key_id().as_str() }),
        )
        .await
    }

    /// Sends `token` (and evidence) as the session's attestation.
    pub async fn attest_token(
        &self,
        s: &OpenSession,
        token: &str,
        evidence: Value,
    ) -> (u16, Value) {
        self.post_auth(
            &format!("/v1/sessions/{}/attestation", s.id),
            &s.token,
            &json!({ "token": token, "evidence": evidence }),
        )
        .await
    }

    /// Signs `claims` with `key` and sends them without evidence.
    pub async fn attest(
        &self,
        s: &OpenSession,
        claims: &AttestationClaims,
        key: &DeviceKey,
    ) -> (u16, Value) {
        let token = sign_attestation(claims, key).unwrap();
        self.attest_token(s, &token, json!([])).await
    }

    /// Session and approved attestation by the kiosk; returns the grant.
    pub async fn approved_grant(&self, login: &str) -> String {
        let s = self.session(login, &self.kiosk).await;
        let (status, body) = self.attest(&s, &claims(&s, &self.kiosk), &self.kiosk).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcome"], "approved", "{body}");
        body["grant"].as_str().unwrap().to_string()
    }

    pub async fn reset(&self, grant: &str, password: &str) -> (u16, Value) {
        self.post(
            "/v1/resets",
            &json!({ "grant": grant, "new_password": password }),
        )
        .await
    }

    /// The demo directory's record of `username`, read from its file.
    pub fn dir_user(&self, username: &str) -> Value {
        dir_user(self.dir.path(), username)
    }

    pub fn password_changes(&self, username: &str) -> u64 {
        self.dir_user(username)["password_changes"]
            .as_u64()
            .unwrap()
    }

    pub async fn password_is(&self, username: &str, password: &str) -> bool {
        let user = self
            .app
            .directory
            .find_user(username)
            .await
            .unwrap()
            .unwrap();
        self.app
            .directory
            .password_is(&user, password)
            .await
            .unwrap()
    }

    pub async fn audit_kinds(&self) -> Vec<String> {
        audit_kinds(&self.app).await
    }
}

/// Asserts that `app`'s audit chain verifies intact; returns the report.
pub async fn assert_chain_intact(app: &App) -> reclaim_server::audit::ChainReport {
    let report = reclaim_server::audit::verify(&app.store, &app.keys)
        .await
        .unwrap();
    assert!(report.intact(), "{report:?}");
    report
}

pub fn dir_user(dir: &Path, username: &str) -> Value {
    let text = std::fs::read_to_string(dir.join("dir.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["users"][username].clone()
}

pub async fn audit_kinds(app: &App) -> Vec<String> {
    sqlx::query("SELECT kind FROM audit ORDER BY seq")
        .fetch_all(&app.store.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>(0))
        .collect()
}

/// Sends `r` and reads the answer: its status, and its body as JSON (as a string when it
/// is not JSON).
pub async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

pub async fn register_managed(app: &App, key: &DeviceKey) {
    devices::register(
        &app.store,
        &app.keys,
        &key.public().to_base64(),
        "kiosk",
        Tier::Managed,
        "admin:test",
    )
    .await
    .unwrap();
}

/// What the client keeps of a session it opened (the server's own row is
/// `reclaim_server::store::sessions::Session`).
#[derive(Clone, Debug)]
pub struct OpenSession {
    pub id: String,
    pub token: String,
    pub nonce: String,
    pub login: String,
    pub body: Value,
}

impl OpenSession {
    pub fn from_json(login: &str, body: &Value) -> OpenSession {
        OpenSession {
            id: body["session_id"].as_str().unwrap().into(),
            token: body["session_token"].as_str().unwrap().into(),
            nonce: body["nonce"].as_str().unwrap().into(),
            login: login.into(),
            body: body.clone(),
        }
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What an honest managed kiosk signs after verifying Avery Quinn's ID and selfie.
pub fn claims(s: &OpenSession, key: &DeviceKey) -> AttestationClaims {
    let mut c = reclaim_fixtures::claims::verified(
        PUBLIC_URL,
        &s.id,
        &s.nonce,
        &s.login,
        RecoveryAction::ResetPassword,
    );
    c.iss = key.key_id().as_str().into();
    c.results[0].score = 0.9;
    c.results[0].threshold = f64::from(reclaim_verify::FACE_MATCH_THRESHOLD);
    c.models = reclaim_server::models::shipped_model_digests().unwrap();
    c.document = Some(document("QUINN", "AVERY"));
    c
}

pub fn document(surname: &str, given: &str) -> AttestedDocument {
    reclaim_fixtures::claims::document("td1", surname, given)
}

/// Claims a device's engine signs when it rejected the person.
pub fn rejected_claims(s: &OpenSession, key: &DeviceKey) -> AttestationClaims {
    let mut c = claims(s, key);
    c.decision = reclaim_protocol::DeviceVerdict::Rejected;
    c.reasons = vec!["face_mismatch".into()];
    c.results[0].score = 0.1;
    c.results[0].passed = false;
    c
}

/// Generates, for each listed test function, a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::harness::Db::sqlite()).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::harness::Db::postgres()).await
                }
            }
        )*
    };
}

impl Options {
    /// The policy as shipped (evidence from every tier, self-registered devices refused)
    /// on a server that re-verifies evidence with its engine.
    pub fn as_shipped() -> Options {
        Options {
            reverify: true,
            default_policy: true,
            ..Options::default()
        }
    }

    /// An operator who opted self-registered devices in ([`UNMANAGED_APPROVE`]), on a
    /// server that re-verifies: their evidence reaches the engine, which judges it (a
    /// rejection is a failed biometric attempt).
    pub fn judging_unmanaged() -> Options {
        Options {
            reverify: true,
            policy: UNMANAGED_APPROVE.into(),
            ..Options::default()
        }
    }
}

impl Harness {
    /// Starts the HTTP server again on the same app (after [`Harness::stop`]).
    pub async fn restart(&mut self) {
        let server = reclaim_server::start(self.app.clone()).await.unwrap();
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    /// The configuration of another instance on this one's database, data key and
    /// directory, with `options`.
    pub fn config_of_another_instance(&self, options: &Options) -> Config {
        Config::parse(&config_text(
            self.dir.path(),
            &self.db_url,
            &self.data_key,
            options,
        ))
        .unwrap()
    }

    /// `POST /v1/devices` from `client` (its own source address): a self-registered key,
    /// which the server must place in the unmanaged tier.
    pub async fn self_register_from(&self, client: &reqwest::Client) -> DeviceKey {
        let key = DeviceKey::generate().unwrap();
        let (status, body) = send(
            client
                .post(self.url("/v1/devices"))
                .json(&registration(&key, None)),
        )
        .await;
        assert_eq!(
            (status, body["tier"].as_str()),
            (201, Some("unmanaged")),
            "{body}"
        );
        key
    }

    /// [`Harness::self_register_from`] with the harness's own client.
    pub async fn self_register(&self) -> DeviceKey {
        self.self_register_from(&self.client).await
    }

    /// The detail of the last `decision` entry in the audit chain.
    pub async fn last_decision(&self) -> Value {
        reclaim_server::audit::details_of(&self.app.store, "decision")
            .await
            .unwrap()
            .pop()
            .expect("a decision in the audit")
    }
}

impl Options {
    /// These lines inside `[policy]`, everything else as by default.
    pub fn with_policy(policy: impl Into<String>) -> Options {
        Options {
            policy: policy.into(),
            ..Options::default()
        }
    }

    /// This TOML after the base configuration, everything else as by default.
    pub fn with_extra(extra: impl Into<String>) -> Options {
        Options {
            extra: extra.into(),
            ..Options::default()
        }
    }

    /// These directory accounts, everything else as by default.
    pub fn with_users(users: Option<Vec<DemoUser>>) -> Options {
        Options {
            users,
            ..Options::default()
        }
    }
}

/// The body of `POST /v1/devices` for `key`, with a name or none.
pub fn registration(key: &DeviceKey, name: Option<&str>) -> Value {
    let mut body = json!({ "public_key": key.public().to_base64() });
    if let Some(name) = name {
        body["name"] = json!(name);
    }
    body
}

impl Harness {
    /// `POST /v1/devices` for `key`: anyone may, and gets the unmanaged tier unless an
    /// administrator registered the key.
    pub async fn register_device(&self, key: &DeviceKey, name: Option<&str>) -> (u16, Value) {
        self.post("/v1/devices", &registration(key, name)).await
    }

    /// `GET /v1/sessions/{id}` with the session's own token.
    pub async fn status_of(&self, s: &OpenSession) -> (u16, Value) {
        self.get_auth(&format!("/v1/sessions/{}", s.id), &s.token)
            .await
    }

    /// `POST /v1/sessions/{id}/handoff` with the session's own token: asks for the code a
    /// phone takes the session over with.
    pub async fn hand_off(&self, s: &OpenSession) -> (u16, Value) {
        self.post_auth(
            &format!("/v1/sessions/{}/handoff", s.id),
            &s.token,
            &json!({}),
        )
        .await
    }

    /// `POST /v1/handoff`: `device` claims session `session_id` with the hand-off `secret`.
    pub async fn claim_hand_off(
        &self,
        session_id: &str,
        secret: &str,
        device: &DeviceKey,
    ) -> (u16, Value) {
        self.post(
            "/v1/handoff",
            &json!({ "session_id": session_id, "secret": secret, "device": device.key_id().as_str() }),
        )
        .await
    }

    /// The number `sql` (a `SELECT COUNT(*)`) counts.
    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.app.store.pool)
            .await
            .unwrap()
    }

    /// Runs `sql` (with no parameters) on the database, as whoever can reach it may.
    pub async fn execute(&self, sql: &str) {
        sqlx::query(sql)
            .execute(&self.app.store.pool)
            .await
            .unwrap();
    }

    /// How many entries of `kind` the audit chain holds.
    pub async fn audit_count_of(&self, kind: &str) -> usize {
        self.audit_kinds()
            .await
            .iter()
            .filter(|k| *k == kind)
            .count()
    }

    /// A session's stored state and whether its nonce was spent.
    pub async fn session_row(&self, id: &str) -> (String, i64) {
        sqlx::query_as("SELECT state, nonce_used FROM sessions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.app.store.pool)
            .await
            .unwrap()
    }
}

/// What a test reads of an answer: the status and the JSON body (and, for some, more).
pub trait Answer {
    fn status_and_body(&self) -> (u16, &Value);
}

impl Answer for (u16, Value) {
    fn status_and_body(&self) -> (u16, &Value) {
        (self.0, &self.1)
    }
}

/// With the `Retry-After` header's seconds.
impl Answer for (u16, Value, Option<i64>) {
    fn status_and_body(&self) -> (u16, &Value) {
        (self.0, &self.1)
    }
}

/// Asserts that `answer` is the refusal `status` with the error `code`; returns it.
#[track_caller]
pub fn assert_refused<A: Answer>(answer: A, status: u16, code: &str) -> A {
    assert_refused_because(answer, status, code, "")
}

/// [`assert_refused`], saying `context` (what the refusal stops) when it fails.
#[track_caller]
pub fn assert_refused_because<A: Answer>(answer: A, status: u16, code: &str, context: &str) -> A {
    let (got, body) = answer.status_and_body();
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(code)),
        "{context}{}{body}",
        if context.is_empty() { "" } else { ": " }
    );
    answer
}

/// Asserts that `answer` to `POST /v1/resets` is `status` with the reset's `state`;
/// returns its body.
#[track_caller]
pub fn assert_reset(answer: (u16, Value), status: u16, state: &str) -> Value {
    let (got, body) = answer;
    assert_eq!(
        (got, body["status"].as_str()),
        (status, Some(state)),
        "{body}"
    );
    body
}

/// Asserts that `answer` is a decision (200) with `outcome`; returns its body.
#[track_caller]
pub fn assert_outcome(answer: (u16, Value), outcome: &str) -> Value {
    let (status, body) = answer;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some(outcome)),
        "{body}"
    );
    body
}

/// A flat grey PNG: a picture of nothing, in which no face or document is found.
pub fn grey_png(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(width, height, image::Rgb([shade, shade, shade]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// What a patched app on a self-registered key sends: its own "verified" ([`claims`]),
/// attesting an ID photo and four selfie frames (200 ms apart) of flat grey, `size`
/// pixels each; and that evidence, to upload with it. The server's engine, when it
/// judges them, finds no one and rejects.
pub fn grey_evidence(
    s: &OpenSession,
    key: &DeviceKey,
    size: (u32, u32),
) -> (AttestationClaims, Value) {
    let (width, height) = size;
    let mut items = vec![("id_front".to_string(), grey_png(width, height, 90), None)];
    for i in 0..4u64 {
        items.push((
            format!("selfie_{i:02}"),
            grey_png(width, height, 100 + i as u8),
            Some(i * 200),
        ));
    }
    let mut c = claims(s, key);
    let evidence = evidence_of(&mut c, &items);
    (c, evidence)
}

/// The evidence `items` (name, bytes, and for a selfie frame its time in the capture in
/// ms) as the app uploads it, their digests set in the claims `c` that attest them.
pub fn evidence_of(c: &mut AttestationClaims, items: &[(String, Vec<u8>, Option<u64>)]) -> Value {
    c.evidence = items
        .iter()
        .map(|(n, b, _)| EvidenceDigest {
            name: n.clone(),
            sha256: hex::encode(Sha256::digest(b)),
        })
        .collect();
    json!(items
        .iter()
        .map(|(n, b, t)| json!({ "name": n, "t_ms": t, "data": STANDARD.encode(b) }))
        .collect::<Vec<_>>())
}

/// A log sink for one test: every thread of its runtime writes JSON lines here.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    pub fn lines(&self) -> Vec<Value> {
        let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Runs `test` on a runtime of its own whose threads log, as JSON, to one [`Log`] (a
/// dispatcher per thread, not the process-wide one, so tests running beside it neither
/// write to it nor are affected).
///
/// A second dispatcher, alive for the whole process, is registered first. tracing-core
/// caches each callsite's interest once, when some thread first reaches it; while at most
/// one dispatcher is registered it asks only that thread's own default (0.1.36,
/// `callsite.rs`, `Rebuilder::JustOne`). A test running beside this one, with no
/// subscriber of its own, that reached a callsite first (the server's "admission refused"
/// warning) cached `never` for the whole process, and the line never reached this log:
/// `one_address_cannot_keep_another_account_at_server_busy` failed so, under load, and
/// passed alone. With two registered, every registration asks all of them.
pub fn with_log<F: std::future::Future<Output = ()>>(test: impl FnOnce(Log) -> F) {
    static PINNED: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
    PINNED.get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let log = Log::default();
    let sink = log.clone();
    let dispatch = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || sink.clone())
            .finish(),
    );
    let for_threads = dispatch.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || {
            // Kept for the thread's life: the runtime's threads end with it.
            std::mem::forget(tracing::dispatcher::set_default(&for_threads));
        })
        .build()
        .unwrap();
    let _main = tracing::dispatcher::set_default(&dispatch);
    runtime.block_on(test(log));
}

/// The pictures of [`case_with_pictures`]: an ID side and four selfie frames, each its
/// own flat grey.
pub fn pictures() -> Vec<(String, Vec<u8>, Option<u64>)> {
    let mut items = vec![("id_front".to_string(), grey_png(64, 48, 90), None)];
    for i in 0..4u64 {
        items.push((
            format!("selfie_{i:02}"),
            grey_png(64, 48, 100 + i as u8),
            Some(i * 200),
        ));
    }
    items
}

/// A session of Avery's whose document names only an initial, left to a person, with
/// [`pictures`] as its evidence. (A server that does not re-verify refuses evidence, and
/// one that does judges flat grey as no one: so the case the decision opened is opened
/// again as `review::sealed_case` opens one for an upload, with these pictures.)
pub async fn case_with_pictures(h: &Harness) -> OpenSession {
    let s = h.session(AVERY, &h.kiosk).await;
    let mut c = claims(&s, &h.kiosk);
    c.document = Some(document("QUINN", "A"));
    assert_outcome(h.attest(&s, &c, &h.kiosk).await, "review");
    let facts = reclaim_server::recovery::review::open(&h.app, &s.id)
        .await
        .unwrap()
        .facts;
    let session = reclaim_server::store::sessions::load(&h.app.store, &s.id)
        .await
        .unwrap()
        .unwrap();
    let sent = pictures();
    let evidence = reclaim_server::recovery::evidence::UploadedEvidence {
        id_front: Some(sent[0].1.clone()),
        id_back: None,
        selfies: sent[1..]
            .iter()
            .map(|(_, b, t)| (b.clone(), t.unwrap()))
            .collect(),
    };
    let case = reclaim_server::recovery::review::sealed_case(
        &h.app,
        &session,
        Tier::Managed,
        Some(&evidence),
        &facts,
        &[reclaim_protocol::Code::DocumentNamePartial],
        0,
    )
    .unwrap();
    let mut tx = h.app.store.begin().await.unwrap();
    sqlx::query("DELETE FROM reviews WHERE session_id = $1")
        .bind(&s.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    reclaim_server::store::reviews::insert(&mut tx, &case)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    s
}

impl Harness {
    /// Uploads `frames` (JPEG bytes, time in the capture) as a returning user's selfie
    /// capture, with the claims an app signs; the server's engine judges them. The answer.
    pub async fn send_capture_answer(
        &self,
        s: &OpenSession,
        device: &DeviceKey,
        frames: &[(Vec<u8>, u64)],
    ) -> Value {
        let mut c = claims(s, device);
        c.document = None;
        c.results.clear();
        c.face_embedding = None;
        c.evidence = frames
            .iter()
            .enumerate()
            .map(|(i, (bytes, _))| EvidenceDigest {
                name: format!("selfie_{i:02}"),
                sha256: hex::encode(Sha256::digest(bytes)),
            })
            .collect();
        let evidence: Vec<Value> = frames
            .iter()
            .enumerate()
            .map(|(i, (bytes, t))| {
                json!({ "name": format!("selfie_{i:02}"), "t_ms": t, "data": STANDARD.encode(bytes) })
            })
            .collect();
        let token = sign_attestation(&c, device).unwrap();
        let (status, body) = self.attest_token(s, &token, json!(evidence)).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// As [`Harness::send_capture_answer`]: the outcome, and the reasons the audit kept.
    pub async fn send_capture(
        &self,
        s: &OpenSession,
        device: &DeviceKey,
        frames: &[(Vec<u8>, u64)],
    ) -> (String, Value) {
        let body = self.send_capture_answer(s, device, frames).await;
        let outcome = body["outcome"].as_str().unwrap_or_default().to_string();
        (outcome, self.last_decision().await["reasons"].clone())
    }
}
