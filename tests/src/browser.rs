//! A real headless Chromium for the browser tests, driven over WebDriver
//! through Debian's `chromedriver` (package `chromium-driver`, the same
//! version as `chromium`; `scripts/test` installs both).
//!
//! WebDriver is a handful of JSON requests on loopback, so a blocking HTTP
//! client is all this needs; a DevTools client crate cost the test build five
//! minutes of compiling for the same clicks, keys, scripts and screenshots.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// How long [`Browser::wait_for`] waits for an element to appear.
const ELEMENT_WAIT: Duration = Duration::from_secs(15);

/// One Chromium session behind its own `chromedriver`; both end on drop.
pub struct Browser {
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`.
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
}

/// An element of the page, found by [`Browser::wait_for`].
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

/// The WebDriver key code for a named key (Backspace, Enter), or the key
/// itself.
fn key_code(key: &str) -> &str {
    match key {
        "Backspace" => "\u{E003}",
        "Enter" => "\u{E007}",
        other => other,
    }
}

impl Browser {
    /// Chromium (`$CHROMIUM` or `/usr/bin/chromium`) with a fresh profile
    /// and a `width` x `height` window; `extra` are more Chromium flags.
    pub fn start(width: u32, height: u32, extra: &[&str]) -> Browser {
        let chromium = std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
        assert!(chromium.is_file(), "Chromium is needed (scripts/test installs it); not found at {}", chromium.display());
        let chromedriver = std::env::var_os("CHROMEDRIVER").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromedriver".into());
        assert!(
            chromedriver.is_file(),
            "chromedriver is needed (scripts/test installs chromium-driver); not found at {}",
            chromedriver.display()
        );
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap_or_else(|e| panic!("a free port: {e}")).port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let config = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(120))).build();
        let agent = ureq::Agent::new_with_config(config);
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = agent
                .get(format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_json::<Value>().ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(30), "chromedriver did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap_or_else(|e| panic!("profile: {e}"));
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra.iter().map(|a| a.to_string()));
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let mut browser = Browser { driver, session: base.clone(), agent, _profile: profile };
        let created = browser.request("POST", &format!("{base}/session"), Some(capabilities));
        let id = created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        browser.session = format!("{base}/session/{id}");
        browser
    }

    /// One WebDriver command; panics with the driver's message on an error.
    fn request(&self, method: &str, url: &str, body: Option<Value>) -> Value {
        let response = match (method, body) {
            ("GET", _) => self.agent.get(url).call(),
            ("DELETE", _) => self.agent.delete(url).call(),
            (_, body) => self.agent.post(url).send_json(body.unwrap_or_else(|| json!({}))),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status();
        let value: Value = response.body_mut().read_json().unwrap_or_else(|e| panic!("{method} {url}: not JSON: {e}"));
        if !status.is_success() {
            panic!("{method} {url}: {status}: {}", value["value"]["message"]);
        }
        value["value"].clone()
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.request(method, &format!("{}{path}", self.session), body)
    }

    /// Loads `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// Reloads the page, as the reload button does, and waits for it.
    pub fn reload(&self) {
        self.command("POST", "/refresh", None);
    }

    /// The page's current address.
    pub fn url(&self) -> String {
        self.command("GET", "/url", None).as_str().unwrap_or_default().to_string()
    }

    /// The value of the JavaScript expression `expr` (null for undefined).
    pub fn eval(&self, expr: &str) -> Value {
        self.command("POST", "/execute/sync", Some(json!({ "script": format!("return ({expr});"), "args": [] })))
    }

    /// The first element matching the CSS selector `css`, waiting for it to
    /// appear; `None` when it has not after 15 seconds.
    pub fn wait_for(&self, css: &str) -> Option<Element<'_>> {
        let deadline = Instant::now() + ELEMENT_WAIT;
        loop {
            let found = self.eval(&format!("document.querySelector({}) !== null", json!(css)));
            if found == json!(true) {
                let element = self.command("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
                let id = element.as_object().and_then(|o| o.values().next()).and_then(Value::as_str).map(str::to_string);
                if let Some(id) = id {
                    return Some(Element { browser: self, id });
                }
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Presses and releases `key` ("Backspace", "Enter" or a character) on
    /// whatever has the focus.
    pub fn press_key(&self, key: &str) {
        let key = key_code(key);
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key},
        ]}]});
        self.command("POST", "/actions", Some(actions));
    }

    /// Types `text` on whatever has the focus, key after key with no pause
    /// between them (faster than any person), as one WebDriver action;
    /// `\n` is Enter.
    pub fn type_keys(&self, text: &str) {
        let mut keys = Vec::new();
        for c in text.chars() {
            let key = if c == '\n' { "\u{E007}".to_string() } else { c.to_string() };
            keys.push(json!({"type": "keyDown", "value": key}));
            keys.push(json!({"type": "keyUp", "value": key}));
        }
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": keys}]});
        self.command("POST", "/actions", Some(actions));
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let text = self.command("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(text.as_str().unwrap_or_default())
            .unwrap_or_else(|e| panic!("screenshot: not base64: {e}"))
    }

    /// The browser's log entries at level SEVERE since the last call:
    /// uncaught exceptions, `console.error`, and resources that failed to
    /// load.
    pub fn errors(&self) -> Vec<String> {
        let entries = self.command("POST", "/se/log", Some(json!({ "type": "browser" })));
        entries
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == json!("SEVERE"))
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Element<'_> {
    /// A real click in the middle of the element, scrolled into view.
    pub fn click(&self) {
        self.browser.command("POST", &format!("/element/{}/click", self.id), None);
    }

    /// Types `text` into the element, key by key.
    pub fn type_text(&self, text: &str) {
        self.browser.command("POST", &format!("/element/{}/value", self.id), Some(json!({ "text": text })));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ends Chromium; then the driver.
        let _ = self.agent.delete(&self.session).call();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
