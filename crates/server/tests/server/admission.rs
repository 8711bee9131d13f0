//! Admission to re-verification: one client cannot keep everyone else at `server_busy`,
//! an office's kiosks behind one address are not turned away one at a time, a judgement
//! that takes too long ends with a retryable answer that leaves the session usable; and
//! device names that would read as something else are refused.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use reclaim_protocol::{sign_attestation, DeviceKey};
use serde_json::{json, Value};

use crate::harness::*;

/// A signed attestation with evidence (the pixels do not matter: the engine refuses
/// them quickly once it runs) for session `s`.
fn attestation(s: &OpenSession, key: &DeviceKey) -> Value {
    signed_with_evidence(s, key, grey_png(64, 48, 90))
}

/// The attestation of session `s` signed by `key`, carrying `id_front` and three grey
/// selfie frames 200 ms apart.
fn signed_with_evidence(s: &OpenSession, key: &DeviceKey, id_front: Vec<u8>) -> Value {
    let items: Vec<(String, Vec<u8>, Option<u64>)> =
        std::iter::once(("id_front".to_string(), id_front, Some(0)))
            .chain((0..3u8).map(|i| {
                (
                    format!("selfie_{i:02}"),
                    grey_png(64, 48, 100 + i),
                    Some(200 * (u64::from(i) + 1)),
                )
            }))
            .collect();
    let mut c = claims(s, key);
    let evidence = evidence_of(&mut c, &items);
    json!({ "token": sign_attestation(&c, key).unwrap(), "evidence": evidence })
}

/// A noisy picture whose PNG is larger than a JSON route's 16 KiB, so the attestation
/// carrying it takes an upload place (api.rs).
fn noise_png() -> Vec<u8> {
    let mut px = vec![0u8; 128 * 128 * 3];
    getrandom::fill(&mut px).unwrap();
    let img = image::RgbImage::from_raw(128, 128, px).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// [`attestation`] with evidence heavy enough to need an upload place.
fn heavy_attestation(s: &OpenSession, key: &DeviceKey) -> Value {
    let body = signed_with_evidence(s, key, noise_png());
    assert!(body.to_string().len() > 16 * 1024);
    body
}

/// Sends, in the background from `from`, a [`heavy_attestation`] for `s` signed by `key`.
fn send_heavy(
    h: &Harness,
    from: &str,
    s: &OpenSession,
    key: &DeviceKey,
) -> tokio::task::JoinHandle<(u16, Option<String>)> {
    send(&client_from(from), h, s, heavy_attestation(s, key))
}

/// A self-registered (unmanaged) key, as anyone with our code can make by the dozen.
async fn unmanaged_key(h: &Harness) -> DeviceKey {
    let key = DeviceKey::generate().unwrap();
    let (status, body) = h.register_device(&key, Some("laptop")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["tier"], "unmanaged", "{body}");
    key
}

/// A kiosk an administrator registered (managed).
async fn managed_key(h: &Harness) -> DeviceKey {
    let key = DeviceKey::generate().unwrap();
    register_managed(&h.app, &key).await;
    key
}

/// Unmanaged devices may recover (so their attestations reach the queue), and the abuse
/// limits on sessions and registrations, which are not under test here, stay out of the way.
fn busy_office() -> Options {
    Options {
        reverify: true,
        default_policy: true,
        policy: "[[policy.table]]\naction = \"*\"\ntier = \"unmanaged\"\nuser = \"*\"\nverdict = \"approve\"\n".into(),
        extra: "[limits]\nsessions_per_user_per_hour = 10000\nsessions_per_address_per_minute = 10000\ndevice_registrations_per_address_per_hour = 10000\n".into(),
        ..Options::default()
    }
}

/// A client whose connections come from `addr` (any of 127/8 reaches the loopback).
fn client_from(addr: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(addr.parse::<IpAddr>().unwrap())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Sends the attestation in the background; the answer's status and error code.
fn send(
    client: &reqwest::Client,
    h: &Harness,
    s: &OpenSession,
    body: Value,
) -> tokio::task::JoinHandle<(u16, Option<String>)> {
    let request = client
        .post(h.url(&format!("/v1/sessions/{}/attestation", s.id)))
        .bearer_auth(&s.token)
        .json(&body);
    tokio::spawn(async move {
        match request.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                (status, body["error"].as_str().map(str::to_string))
            }
            Err(e) => (0, Some(format!("no answer: {e}"))),
        }
    })
}

fn admitted(h: &Harness) -> usize {
    reclaim_server::REVERIFY_QUEUE - h.app.reverify_queue.available_permits()
}

/// Waits (bounded) until `done()`.
async fn until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Four heavy uploads from one address used to take every place in the queue, and every
/// other person got `503 server_busy` until they were judged. Now one address has one
/// judgement in flight for its self-registered keys, however many it holds, and another
/// person's request waits its turn instead. Each refusal is a security event in the log,
/// naming the address it turned away (and no session token).
#[test]
fn one_address_cannot_keep_another_account_at_server_busy() {
    with_log(one_address_cannot_keep_another_account_at_server_busy_logged)
}

async fn one_address_cannot_keep_another_account_at_server_busy_logged(log: Log) {
    let h = Harness::with(Db::sqlite(), busy_office()).await;
    let attacker = client_from("127.0.0.1");
    let victim = client_from("127.0.0.2");
    let mut sessions = Vec::new();
    for i in 0..reclaim_server::REVERIFY_QUEUE {
        let key = unmanaged_key(&h).await;
        let s = h.session(&format!("mallory.{i}"), &key).await;
        sessions.push((s, key));
    }
    let avery = h.session(AVERY, &h.kiosk).await;

    // A long judgement is running: the engine is taken until the test lets it go.
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let heavy: Vec<_> = sessions
        .iter()
        .map(|(s, key)| send(&attacker, &h, s, attestation(s, key)))
        .collect();
    until(|| admitted(&h) + heavy.iter().filter(|t| t.is_finished()).count() >= heavy.len()).await;
    let held = admitted(&h);
    let theirs = send(&victim, &h, &avery, attestation(&avery, &h.kiosk));
    until(|| admitted(&h) > held || theirs.is_finished()).await;
    drop(engine);

    let (status, code) = theirs.await.unwrap();
    assert!(
        status != 503 && status != 0,
        "another person behind one address's uploads: {status} {code:?}"
    );
    let mut busy = 0;
    for t in heavy {
        let (status, code) = t.await.unwrap();
        if status == 503 {
            assert_eq!(code.as_deref(), Some("server_busy"));
            busy += 1;
        }
    }
    assert_eq!(
        busy,
        reclaim_server::REVERIFY_QUEUE - 1,
        "one judgement in flight per address"
    );

    let refused: Vec<Value> = log
        .lines()
        .into_iter()
        .filter(|l| l["fields"]["message"] == "admission refused: server busy")
        .collect();
    assert_eq!(
        refused.len(),
        busy,
        "one line per refusal in:\n{}",
        log.text()
    );
    for l in &refused {
        assert_eq!(l["level"], "WARN", "{l}");
        assert_eq!(
            l["fields"]["peer"], "127.0.0.1",
            "the address turned away: {l}"
        );
        assert!(l["fields"]["reason"].is_string(), "{l}");
    }
    let text = log.text();
    for (s, _) in &sessions {
        assert!(
            !text.contains(s.token.as_str()),
            "a session token is in the log"
        );
    }
}

/// The answers of `tasks`, in order.
async fn answers(
    tasks: Vec<tokio::task::JoinHandle<(u16, Option<String>)>>,
) -> Vec<(u16, Option<String>)> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Sends every `(session, key)`'s heavy attestation from `client` while the engine is
/// held; how many of them were admitted at once, and every answer once it is let go.
async fn all_at_once(
    h: &Harness,
    client: &reqwest::Client,
    row: &[(OpenSession, DeviceKey)],
) -> (usize, Vec<(u16, Option<String>)>) {
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let before = admitted(h);
    let tasks: Vec<_> = row
        .iter()
        .map(|(s, key)| send(client, h, s, heavy_attestation(s, key)))
        .collect();
    until(|| {
        admitted(h).saturating_sub(before) + tasks.iter().filter(|t| t.is_finished()).count()
            >= row.len()
    })
    .await;
    let together = admitted(h).saturating_sub(before);
    drop(engine);
    (together, answers(tasks).await)
}

/// An office's kiosks share one public address (NAT). Each used to need the address's
/// one upload place, so one person's upload kept every colleague at `503 server_busy`.
/// A kiosk is a managed device, admitted per device and per account: a row of them is
/// admitted at once. Self-registered keys from one address still share one place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosks_behind_one_address_are_admitted_together() {
    let h = Harness::with(Db::sqlite(), busy_office()).await;
    let office = client_from("127.0.0.3");
    let n = reclaim_server::REVERIFY_QUEUE;
    let mut kiosks = Vec::new();
    for i in 0..n {
        let key = managed_key(&h).await;
        kiosks.push((h.session(&format!("colleague.{i}"), &key).await, key));
    }
    let (together, answered) = all_at_once(&h, &office, &kiosks).await;
    assert_eq!(
        together, n,
        "a row of kiosks behind one address, admitted at once: {answered:?}"
    );
    assert!(
        answered
            .iter()
            .all(|(status, _)| *status != 503 && *status != 0),
        "{answered:?}"
    );

    // The same address's self-registered keys: one place between them, however many.
    let mut laptops = Vec::new();
    for i in 0..n {
        let key = unmanaged_key(&h).await;
        laptops.push((h.session(&format!("stranger.{i}"), &key).await, key));
    }
    let (together, answered) = all_at_once(&h, &office, &laptops).await;
    assert_eq!(together, 1, "unmanaged keys from one address: {answered:?}");
    let busy = answered
        .iter()
        .filter(|(status, code)| *status == 503 && code.as_deref() == Some("server_busy"))
        .count();
    assert_eq!(busy, n - 1, "{answered:?}");
}

/// Self-registered keys on as many addresses as there are places (an attacker with a few
/// machines) hold every place but one between them: the kiosk's channel keeps a place of
/// each kind, so a person at a kiosk is admitted at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_keys_on_many_addresses_leave_the_kiosk_a_place() {
    let h = Harness::with(Db::sqlite(), busy_office()).await;
    let n = reclaim_server::REVERIFY_QUEUE;
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..n {
        let key = unmanaged_key(&h).await;
        let s = h.session(&format!("mallory.{i}"), &key).await;
        let client = client_from(&format!("127.0.0.{}", 10 + i));
        tasks.push(send(&client, &h, &s, heavy_attestation(&s, &key)));
    }
    until(|| admitted(&h) + tasks.iter().filter(|t| t.is_finished()).count() >= n).await;
    let held = admitted(&h);
    assert_eq!(held, n - 1, "unmanaged keys hold all but one place");

    // A kiosk behind one of the attacker's addresses (a shared network).
    let kiosk = managed_key(&h).await;
    let avery = h.session(AVERY, &kiosk).await;
    let theirs = send_heavy(&h, "127.0.0.10", &avery, &kiosk);
    until(|| admitted(&h) > held || theirs.is_finished()).await;
    let kiosk_admitted = admitted(&h) > held;
    drop(engine);
    let (status, code) = theirs.await.unwrap();
    assert!(
        kiosk_admitted && status != 503 && status != 0,
        "the kiosk, with every unmanaged place taken: {status} {code:?}"
    );
    let busy = answers(tasks)
        .await
        .iter()
        .filter(|(status, _)| *status == 503)
        .count();
    assert_eq!(busy, 1, "the unmanaged attempt past the unmanaged share");
}

/// Anyone can start sessions for any login: a stranger's self-registered key whose junk
/// is being judged for Avery's login (here, waiting for the engine) used to hold Avery's
/// one judgement place, and kept Avery at the kiosk at `503 server_busy` for as long as
/// the stranger kept sending. An account's judgements queue apart by channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_judgement_for_the_login_does_not_keep_the_kiosk_out() {
    let h = Harness::with(Db::sqlite(), busy_office()).await;
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let stranger = unmanaged_key(&h).await;
    let theirs = h.session(AVERY, &stranger).await;
    let junk = send_heavy(&h, "127.0.0.20", &theirs, &stranger);
    until(|| admitted(&h) == 1 || junk.is_finished()).await;
    assert_eq!(
        admitted(&h),
        1,
        "the stranger's judgement waits for the engine"
    );

    let kiosk = managed_key(&h).await;
    let avery = h.session(AVERY, &kiosk).await;
    let at_the_kiosk = send_heavy(&h, "127.0.0.21", &avery, &kiosk);
    until(|| admitted(&h) == 2 || at_the_kiosk.is_finished()).await;
    let kiosk_admitted = admitted(&h) == 2;
    drop(engine);
    let (status, code) = at_the_kiosk.await.unwrap();
    assert!(
        kiosk_admitted && status != 503 && status != 0,
        "Avery at the kiosk while a stranger's capture for the login waits: {status} {code:?}"
    );
    let (status, _) = junk.await.unwrap();
    assert_ne!(status, 503, "the stranger's judgement was admitted and ran");
}

/// A judgement that cannot finish in time (here: the engine is held) is answered with a
/// retryable `server_busy`, and the session stays usable for the same attestation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_judgement_past_its_deadline_leaves_the_session_usable() {
    let h = Harness::with(
        Db::sqlite(),
        Options {
            reverify: true,
            default_policy: true,
            // Long enough for a run on a loaded machine, short enough for a test to wait.
            extra: "[server]\njudgement_timeout_s = 5\n".into(),
            ..Options::default()
        },
    )
    .await;
    let s = h.session(AVERY, &h.kiosk).await;
    let body = attestation(&s, &h.kiosk);
    let client = client_from("127.0.0.1");
    let engine = h.app.reverify_slots.acquire().await.unwrap();
    let (status, code) = send(&client, &h, &s, body.clone()).await.unwrap();
    assert_eq!(
        (status, code.as_deref()),
        (503, Some("server_busy")),
        "a judgement that cannot start within its deadline"
    );
    assert_eq!(h.session_row(&s.id).await, ("open".to_string(), 0));
    drop(engine);
    // The same attestation again, as the client does on `server_busy` (a first run on a
    // busy machine may itself overrun, and its account stays busy until it ends).
    let mut answer = (0, None);
    for _ in 0..20 {
        answer = send(&client, &h, &s, body.clone()).await.unwrap();
        if answer.0 != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (status, code) = answer;
    assert!(
        status != 503 && status != 0,
        "the same attestation, once the engine is free: {status} {code:?}"
    );
}

/// `HR kiosk \u{202E}deganam\u{202C}` reads "HR kiosk managed" on an administrator's screen: names with
/// bidirectional or other invisible format characters are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_names_with_bidirectional_controls_are_refused() {
    let h = Harness::start(Db::sqlite()).await;
    for name in [
        "HR kiosk \u{202E}deganam\u{202C}",
        "kiosk \u{2066}managed\u{2069}",
        "phone\u{200F}",
        "phone\u{200E}",
        "phone\u{061C}",
        "pho\u{200B}ne",
        "phone\u{FEFF}",
        "line\u{2028}break",
    ] {
        let key = DeviceKey::generate().unwrap();
        let answer = h.register_device(&key, Some(name)).await;
        assert_refused_because(answer, 400, "device_name_invalid", &format!("{name:?}"));
    }
    let key = DeviceKey::generate().unwrap();
    let (status, body) = h.register_device(&key, Some("Zoë's phone (Łódź)")).await;
    assert_eq!(status, 201, "{body}");
}
