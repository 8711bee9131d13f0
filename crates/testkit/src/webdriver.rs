//! The few W3C WebDriver calls the tests need, over HTTP (feature `webdriver`), and a
//! ChromeDriver driving Debian's Chromium, headless ([`Chromedriver`]). The app's
//! end-to-end tests drive its WebKitGTK window through WebKitWebDriver with the same
//! calls; the admin console's tests drive Chromium.

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use crate::{await_server, free_port, spawn_server, stop_server, TempDir};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One WebDriver session: the browser (or app) the driver started, and the calls that
/// drive it.
pub struct WebDriverSession {
    http: reqwest::blocking::Client,
    base: String,
}

impl WebDriverSession {
    /// Starts the app at `application` through WebKitWebDriver at `driver_url`.
    pub fn start(driver_url: &str, application: &str) -> WebDriverSession {
        // What tauri-driver sends on Linux for `tauri:options: { application }`. No
        // `browserName`: WebKitWebDriver would match it against the binary's own name.
        WebDriverSession::with_capabilities(
            driver_url,
            json!({ "webkitgtk:browserOptions": { "binary": application, "args": [] } }),
        )
    }

    /// Starts a session through the driver at `driver_url` with `capabilities`
    /// (`alwaysMatch`).
    pub fn with_capabilities(driver_url: &str, capabilities: Value) -> WebDriverSession {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": capabilities } });
        let answer: Value = http
            .post(format!("{driver_url}/session"))
            .json(&caps)
            .send()
            .and_then(|r| r.json())
            .expect("the WebDriver session did not start");
        let id = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {answer}"))
            .to_string();
        WebDriverSession {
            http,
            base: format!("{driver_url}/session/{id}"),
        }
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self.http.post(&url).json(&body),
        };
        let answer: Value = request
            .send()
            .and_then(|r| r.json())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        if let Some(error) = answer["value"]["error"].as_str() {
            // "no such element" is an answer for `element`, not a failure.
            if error != "no such element" {
                panic!("{method} {path}: {error}: {}", answer["value"]["message"]);
            }
        }
        answer["value"].clone()
    }

    /// Adds a virtual authenticator to the browser (W3C WebAuthn, 11.3 "Add Virtual
    /// Authenticator"), with `options` (`protocol`, `transport`, `hasResidentKey`,
    /// `hasUserVerification`, `isUserVerified`, ...); its id.
    pub fn add_virtual_authenticator(&self, options: Value) -> String {
        self.call("POST", "/webauthn/authenticator", options)
            .as_str()
            .unwrap_or_else(|| panic!("no authenticator id"))
            .to_string()
    }

    /// The credentials virtual authenticator `id` holds (11.7 "Get Credentials").
    pub fn virtual_credentials(&self, id: &str) -> Vec<Value> {
        self.call(
            "GET",
            &format!("/webauthn/authenticator/{id}/credentials"),
            json!({}),
        )
        .as_array()
        .cloned()
        .unwrap_or_default()
    }

    /// Opens `url` in the window.
    pub fn navigate(&self, url: &str) {
        self.call("POST", "/url", json!({ "url": url }));
    }

    /// The address the window shows.
    pub fn current_url(&self) -> String {
        self.call("GET", "/url", json!({}))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's source as the browser has it now.
    pub fn source(&self) -> String {
        self.call("GET", "/source", json!({}))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Whether an element matches `css`.
    pub fn has(&self, css: &str) -> bool {
        self.element(css).is_some()
    }

    /// Waits until an element matches `css`; panics with the address and the page's
    /// text otherwise.
    pub fn wait_for(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.has(css) {
            if Instant::now() > deadline {
                panic!(
                    "waited {timeout:?} for {css:?} at {}: {}",
                    self.current_url(),
                    self.text("body")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the window, written to `path`.
    pub fn screenshot(&self, path: &Path) {
        let data = self.call("GET", "/screenshot", json!({}));
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("the screenshot is base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Resizes the window (a phone's width, a laptop's).
    pub fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            json!({ "width": width, "height": height }),
        );
    }

    /// Runs `script` in the page; its `return` value.
    pub fn js(&self, script: &str, args: Value) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
    }

    pub fn screen(&self) -> String {
        self.js("return document.body.dataset.screen || ''", json!([]))
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the page shows `screen`; panics with what it shows instead.
    pub fn wait_screen(&self, screen: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let now = self.screen();
            if now == screen {
                return;
            }
            if Instant::now() > deadline {
                let alert = self.text("[role=alert]:not([hidden])");
                panic!("waited {timeout:?} for screen {screen:?}; it shows {now:?} ({alert:?})");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn element(&self, css: &str) -> Option<String> {
        let v = self.call(
            "POST",
            "/element",
            json!({ "using": "css selector", "value": css }),
        );
        v[ELEMENT_KEY].as_str().map(str::to_string)
    }

    fn must(&self, css: &str) -> String {
        self.element(css)
            .unwrap_or_else(|| panic!("no element {css:?} on screen {:?}", self.screen()))
    }

    pub fn click(&self, css: &str) {
        let id = self.must(css);
        self.call("POST", &format!("/element/{id}/click"), json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.must(css);
        self.call("POST", &format!("/element/{id}/clear"), json!({}));
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Presses Enter in the element (a keyboard user submitting a form).
    pub fn press_enter(&self, css: &str) {
        let id = self.must(css);
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            json!({ "text": "\u{E007}" }),
        );
    }

    /// The visible text of the first element matching `css` ("" when none).
    pub fn text(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub fn value(&self, css: &str) -> String {
        self.js(
            "const e = document.querySelector(arguments[0]); return e ? e.value : ''",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    pub fn enabled(&self, css: &str) -> bool {
        self.js(
            "const e = document.querySelector(arguments[0]); return !!e && !e.disabled",
            json!([css]),
        )
        .as_bool()
        .unwrap_or(false)
    }

    /// Waits until `css` matches an enabled element.
    pub fn wait_enabled(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.enabled(css) {
            assert!(
                Instant::now() < deadline,
                "{css} not enabled after {timeout:?} on {:?}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for WebDriverSession {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.base).send();
    }
}

/// ChromeDriver on a free loopback port, driving Debian's Chromium (packages `chromium`,
/// `chromium-driver`); stopped on drop.
pub struct Chromedriver {
    child: Option<Child>,
    port: u16,
    /// The driver's log and the windows' profiles.
    dir: TempDir,
    windows: std::sync::atomic::AtomicU32,
}

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

impl Chromedriver {
    pub fn start() -> Result<Chromedriver, String> {
        let dir = TempDir::new("chromedriver")?;
        let port = free_port()?;
        let log = dir.path().join("chromedriver.log");
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"));
        let mut child = spawn_server(cmd, &log).map_err(|e| format!("{CHROMEDRIVER}: {e}"))?;
        await_server(&mut child, &log, Duration::from_secs(20), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        })
        .map_err(|log| format!("chromedriver did not start: {log}"))?;
        Ok(Chromedriver {
            child: Some(child),
            port,
            dir,
            windows: std::sync::atomic::AtomicU32::new(0),
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A new headless Chromium window with an empty profile of its own, `width` x
    /// `height`. The flags keep it from reaching the network on its own (this machine's
    /// network is closed, and its refused connections would slow every start).
    pub fn browser(&self, width: u32, height: u32) -> WebDriverSession {
        let n = self
            .windows
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let profile = self.dir.path().join(format!("profile-{n}"));
        WebDriverSession::with_capabilities(
            &self.url(),
            json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage", "--lang=en-US",
                        format!("--window-size={width},{height}"),
                        format!("--user-data-dir={}", profile.display()),
                    ]
                }
            }),
        )
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        stop_server(&mut self.child);
    }
}
