//! The trusted referee end to end: the app's recovery goes to review, a reviewer signs in
//! to the admin console in real Chromium (through ChromeDriver) through a real OpenID
//! provider (`oidc-provider`, testkit), opens the case and decides it, and the app, still
//! on its review screen, goes on by itself: to the new password after an approval, to the
//! refusal after a refusal. A privileged account needs two different reviewers; an
//! auditor cannot open a case. Screenshots of the console's pages are written to
//! `$RECLAIM_SCREENSHOTS` (default: a temporary directory the test prints).

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use reclaim_client::api::Timeouts;
use reclaim_client::flow::Screen;
use reclaim_client::recovery::Recovery;
use reclaim_fixtures::server::{free_port, ServerConfig};
use reclaim_server::App;
use reclaim_testkit::{Chromedriver, OidcProvider, WebDriverSession};

use crate::harness::*;

const WAIT: Duration = Duration::from_secs(30);

/// A server whose decision leaves a genuine first-time recovery to a person (the match
/// margin makes the genuine match borderline), its console signing in through `op`; the
/// directory's Avery in `groups`, and `privileged` listing the groups that take two
/// reviewers.
async fn server(name: &str, port: u16, op: &OidcProvider, privileged: &str) -> Server {
    let dir = scratch(name);
    let mut avery = reclaim_server::demo_seed().remove(0);
    avery.groups = vec!["CN=Domain Admins,CN=Users,DC=example,DC=test".into()];
    reclaim_directory::DemoDirectory::open(&dir.join("directory.json"), vec![avery]).unwrap();
    let config = reclaim_server::Config::parse(
        &ServerConfig::new(&dir, port)
            .sections(&format!(
                r#"[policy]
review_margin = 0.5
review_queue = true
[[policy.table]]
action = "*"
tier = "unmanaged"
user = "*"
verdict = "approve"
[admin]
privileged_groups = [{privileged}]
{oidc}"#,
                oidc = op.console_section(),
            ))
            .toml(),
    )
    .unwrap();
    let app = App::open(config).await.unwrap();
    let running = reclaim_server::start(app.clone()).await.unwrap();
    Server::started(running, app, dir)
}

/// The provider, told the console's callback on `port`.
fn provider(port: u16) -> OidcProvider {
    OidcProvider::start(&[&format!("http://127.0.0.1:{port}/admin/signin/callback")]).unwrap()
}

fn screenshot_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::var_os("RECLAIM_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::temp_dir().join(format!("reclaim-console-{}", std::process::id()))
            });
        std::fs::create_dir_all(&dir).unwrap();
        eprintln!("console screenshots in {}", dir.display());
        dir
    })
    .clone()
}

/// Signs `login` in to the console at `url` in `b`, through the provider's form.
fn sign_in(b: &WebDriverSession, url: &str, login: &str, shoot: bool) {
    b.navigate(&format!("{url}/admin"));
    b.wait_for("a[href='/admin/signin/start']", WAIT);
    if shoot {
        b.screenshot(&screenshot_dir().join("console-signin.png"));
    }
    b.click("a[href='/admin/signin/start']");
    b.wait_for("input[name=login]", WAIT);
    b.type_into("input[name=login]", login);
    b.type_into("input[name=password]", &OidcProvider::password(login));
    b.click("button[type=submit]");
    // The callback's page refreshes into the console.
    b.wait_for("header .who", WAIT);
}

/// Opens the only case in the queue and decides it with `verdict` (`approve`, `refuse`);
/// the note the queue shows afterwards.
fn decide(b: &WebDriverSession, verdict: &str, reason: &str, shoot: bool) -> String {
    b.wait_for("tbody th a", WAIT);
    if shoot {
        b.screenshot(&screenshot_dir().join("console-queue.png"));
    }
    b.click("tbody th a");
    b.wait_for("textarea#reason", WAIT);
    if shoot {
        b.screenshot(&screenshot_dir().join("console-case.png"));
    }
    b.type_into("textarea#reason", reason);
    b.click(&format!("button[value={verdict}]"));
    // What the next page says: the queue's note, or the refusal's alert (the case page
    // has neither, so this waits for the navigation).
    b.wait_for("[role=status], [role=alert]", WAIT);
    b.text("main")
}

/// Runs the blocking browser part off the runtime, so the server keeps answering.
async fn in_browser<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

async fn wait_for_review(laptop: &mut Recovery) {
    let st = first_time_reset(laptop).await;
    assert_eq!(st.screen, Screen::Review, "{:?} {:?}", st.reasons, st.error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reviewer_approves_in_the_console_while_the_app_waits() {
    let _turn = serial().await;
    let port = free_port();
    let op = provider(port);
    // No privileged group: one reviewer decides.
    let server = server("console-approve", port, &op, "").await;
    // At the walk-up kiosk, which forgets whoever leaves it alone: while the person waits
    // in front of it, its camera sees them (and the app counts that as use).
    let mut laptop = kiosk(&server.url, genuine_scenes());
    wait_for_review(&mut laptop).await;
    assert!(
        laptop.wait_for_guidance(WAIT, |g| g.face_box.is_some()),
        "the kiosk does not look for the person waiting on its review screen"
    );

    let url = server.url.clone();
    let (after, auditor_sees, timeline) = in_browser(move || {
        let driver = Chromedriver::start().unwrap();
        // An auditor signs in and cannot open the case.
        let auditor = driver.browser(1280, 900);
        sign_in(&auditor, &url, "carol", false);
        auditor.navigate(&format!("{url}/admin/queue"));
        let auditor_sees = auditor.text("main");
        // The reviewer, on a laptop-sized window.
        let b = driver.browser(1280, 1000);
        sign_in(&b, &url, "alice", true);
        let after = decide(
            &b,
            "approve",
            "The ID's photo and the selfie are the same person; the initial is Avery's.",
            true,
        );
        b.screenshot(&screenshot_dir().join("console-approved.png"));
        // The queue on a phone's width.
        b.resize(412, 900);
        b.navigate(&format!("{url}/admin/queue"));
        b.wait_for("main", WAIT);
        b.screenshot(&screenshot_dir().join("console-queue-phone.png"));
        // An admin's pages, with this recovery in them.
        let admin = driver.browser(1280, 1000);
        sign_in(&admin, &url, "dave", false);
        for page in ["devices", "recoveries", "audit", "policy", "health"] {
            admin.navigate(&format!("{url}/admin/{page}"));
            admin.wait_for("main h1", WAIT);
            admin.screenshot(&screenshot_dir().join(format!("console-{page}.png")));
        }
        admin.navigate(&format!("{url}/admin/recoveries"));
        admin.wait_for("tbody th a", WAIT);
        admin.click("tbody th a");
        admin.wait_for("main h1", WAIT);
        let timeline = admin.text("main");
        admin.screenshot(&screenshot_dir().join("console-timeline.png"));
        (after, auditor_sees, timeline)
    })
    .await;
    assert!(
        auditor_sees.contains("admin_role_missing"),
        "{auditor_sees}"
    );
    assert!(after.contains("Approved"), "{after}");
    // The recovery's timeline names the reviewer's decision.
    assert!(timeline.contains("alice"), "{timeline}");

    // The app, still waiting, goes on to the new password by itself.
    goes_on_to_the_new_password(&mut laptop, &server).await;
    server.running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privileged_account_takes_two_reviewers_and_a_refusal_ends_it() {
    let _turn = serial().await;
    let port = free_port();
    let op = provider(port);
    let server = server("console-four-eyes", port, &op, "\"Domain Admins\"").await;
    let mut laptop = device(&server.url, genuine_scenes(), Timeouts::default());
    wait_for_review(&mut laptop).await;
    // A laptop waits with its camera at rest.
    assert!(
        !laptop.wait_for_guidance(Duration::from_secs(2), |g| g.face_box.is_some()),
        "a laptop's camera looks at its user while the case waits"
    );

    let url = server.url.clone();
    let (first, again) = in_browser({
        let url = url.clone();
        move || {
            let driver = Chromedriver::start().unwrap();
            let b = driver.browser(1280, 900);
            sign_in(&b, &url, "alice", false);
            let first = decide(&b, "approve", "Looks like the same person.", false);
            // Alice again: her second vote is no second pair of eyes.
            let again = decide(&b, "approve", "Still the same person.", false);
            (first, again)
        }
    })
    .await;
    assert!(first.contains("second reviewer"), "{first}");
    assert!(again.contains("case_already_voted"), "{again}");
    // One approval of two: the app still waits.
    assert_eq!(
        laptop.review_poll().await.unwrap().flow.screen,
        Screen::Review
    );

    // Bob, a second reviewer, refuses.
    let refused = in_browser(move || {
        let driver = Chromedriver::start().unwrap();
        let b = driver.browser(1280, 900);
        sign_in(&b, &url, "bob", false);
        decide(
            &b,
            "refuse",
            "The selfie does not show the person on the ID.",
            false,
        )
    })
    .await;
    assert!(refused.contains("Refused"), "{refused}");
    let st = laptop.review_poll().await.unwrap().flow;
    assert_eq!(st.screen, Screen::Refused, "{:?}", st.reasons);
    assert_password_unchanged(&server).await;
    server.running.stop().await;
}
