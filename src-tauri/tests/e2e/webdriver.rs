//! The few W3C WebDriver calls the tests need, over HTTP.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One WebDriver session: the app started by the driver, and the calls that drive it.
pub struct WebDriverSession {
    http: reqwest::blocking::Client,
    base: String,
}

impl WebDriverSession {
    /// Starts the app at `application` through the driver at `driver_url`.
    pub fn start(driver_url: &str, application: &str) -> WebDriverSession {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        // What tauri-driver sends on Linux for `tauri:options: { application }`. No
        // `browserName`: WebKitWebDriver would match it against the binary's own name.
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "webkitgtk:browserOptions": { "binary": application, "args": [] }
        }}});
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
