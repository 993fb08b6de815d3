//! The dashboard in a real browser: headless Chromium, driven over the DevTools protocol,
//! signs in through the login form, loads every page against a seeded service, checks what
//! it shows, clicks the actions, and takes a screenshot of each page.
//!
//! Screenshots go to a temporary directory, or to `$LEAKGATE_SCREENSHOTS` (the committed ones
//! in `docs/screenshots/` come from `LEAKGATE_SCREENSHOTS=docs/screenshots`). Chromium is
//! Debian's `chromium` (`.ci/run` installs it); without it the test fails under CI and is
//! skipped with a note elsewhere.

use std::collections::VecDeque;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::ui::{with_service, ADMIN};
use crate::{Res, TestResult, World};

/// A headless Chromium and one page of it.
struct Browser {
    child: Child,
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: String,
    next_id: u64,
    events: VecDeque<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LEAKGATE_CHROMIUM") {
        return Some(path.into());
    }
    ["chromium", "chromium-browser", "google-chrome"].iter().find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
        })
    })
}

impl Browser {
    fn start(binary: &Path) -> Res<Self> {
        let profile = tempfile::tempdir()?;
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
                "--hide-scrollbars",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        // Chromium writes its DevTools port and browser endpoint once it listens.
        let port_file = profile.path().join("DevToolsActivePort");
        let deadline = Instant::now() + Duration::from_secs(60);
        let endpoint = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(port), Some(path)) = (lines.next(), lines.next()) {
                    break format!("ws://127.0.0.1:{port}{path}");
                }
            }
            if Instant::now() > deadline {
                return Err("chromium did not open its DevTools port in 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let (socket, _) = tungstenite::connect(endpoint)?;
        let mut browser = Browser {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            events: VecDeque::new(),
            _profile: profile,
        };
        let target = browser.send(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target = target["targetId"].as_str().ok_or("no target id")?.to_owned();
        let attached = browser.send(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        )?;
        browser.session = attached["sessionId"].as_str().ok_or("no session id")?.to_owned();
        browser.call("Page.enable", json!({}))?;
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        )?;
        Ok(browser)
    }

    fn read(&mut self) -> Res<Value> {
        loop {
            match self.socket.read()? {
                Message::Text(text) => return Ok(serde_json::from_str(&text)?),
                Message::Close(_) => return Err("chromium closed the DevTools connection".into()),
                _ => {}
            }
        }
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Res<Value> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method});
        message["params"] = params;
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::text(message.to_string()))?;
        loop {
            let answer = self.read()?;
            if answer["id"] == json!(id) {
                if let Some(error) = answer.get("error") {
                    return Err(format!("{method}: {error}").into());
                }
                return Ok(answer["result"].clone());
            }
            if answer.get("method").is_some() {
                self.events.push_back(answer);
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Res<Value> {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
    }

    /// Waits for the page's next `load` event.
    fn loaded(&mut self) -> Res<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            while let Some(event) = self.events.pop_front() {
                if event["method"] == "Page.loadEventFired" {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("the page did not load in 30 s".into());
            }
            let event = self.read()?;
            self.events.push_back(event);
        }
    }

    fn open(&mut self, url: &str) -> Res<()> {
        self.events.clear();
        let answer = self.call("Page.navigate", json!({"url": url}))?;
        if let Some(error) = answer.get("errorText") {
            return Err(format!("{url}: {error}").into());
        }
        self.loaded()
    }

    fn eval(&mut self, expression: &str) -> Res<Value> {
        let answer = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true}))?;
        if let Some(exception) = answer.get("exceptionDetails") {
            return Err(format!("{expression}: {exception}").into());
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Runs `expression` (which submits a form) and waits for the next page.
    fn submit(&mut self, expression: &str) -> Res<()> {
        self.events.clear();
        self.eval(expression)?;
        self.loaded()
    }

    fn text(&mut self) -> Res<String> {
        Ok(self.eval("document.body.innerText")?.as_str().unwrap_or_default().to_owned())
    }

    fn path(&mut self) -> Res<String> {
        let href = self.eval("location.pathname + location.search")?;
        Ok(href.as_str().unwrap_or_default().to_owned())
    }

    /// A PNG of the viewport, written to `dir/name.png`; returns its width and height.
    fn screenshot(&mut self, dir: &Path, name: &str) -> Res<(u32, u32)> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}))?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().ok_or("no screenshot data")?)?;
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
        let width = u32::from_be_bytes(png[16..20].try_into()?);
        let height = u32::from_be_bytes(png[20..24].try_into()?);
        std::fs::write(dir.join(format!("{name}.png")), &png)?;
        Ok((width, height))
    }
}

#[test]
fn the_dashboard_in_headless_chromium() -> TestResult {
    let Some(binary) = chromium() else {
        if std::env::var_os("CI").is_some() {
            return Err("chromium is not installed (.ci/run installs Debian's chromium)".into());
        }
        eprintln!("skipped: no chromium (set LEAKGATE_CHROMIUM or install Debian's chromium)");
        return Ok(());
    };
    let world = World::new()?;
    let (service, seeded) = with_service(&world)?;
    let temp = tempfile::tempdir()?;
    let shots = match std::env::var_os("LEAKGATE_SCREENSHOTS") {
        Some(dir) => {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            std::fs::create_dir_all(&dir)?;
            dir
        }
        None => temp.path().to_owned(),
    };
    let base = format!("http://{}", service.addr);
    let mut browser = Browser::start(&binary)?;

    // A page without a session lands on the login form, which returns to it.
    browser.open(&format!("{base}/ui/revocations"))?;
    assert!(browser.path()?.starts_with("/ui/login?next="), "{}", browser.path()?);
    assert_eq!(browser.screenshot(&shots, "login")?, (1280, 900));
    browser.eval("document.querySelector('input[name=name]').value = 'sec-lead'")?;
    browser.eval("document.querySelector('input[name=token]').value = 'wrong'")?;
    browser.submit("document.querySelector('form').submit()")?;
    assert!(browser.text()?.contains("That is not the operator token."));
    browser.eval("document.querySelector('input[name=name]').value = 'sec-lead'")?;
    browser.eval(&format!("document.querySelector('input[name=token]').value = '{ADMIN}'"))?;
    browser.submit("document.querySelector('form').submit()")?;
    assert_eq!(browser.path()?, "/ui/revocations");
    let text = browser.text()?;
    assert!(text.contains("signed in as sec-lead"), "{text}");
    assert!(text.contains("revoked") && text.contains("failed_permanent"), "{text}");
    assert!(text.contains("push to revoked: median"), "{text}");
    browser.screenshot(&shots, "revocations")?;

    // The overview: figures and three charts.
    browser.open(&format!("{base}/ui/"))?;
    let text = browser.text()?;
    for expected in ["open secrets", "validated live", "median time to revoke", "Findings per day"]
    {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let charts = browser.eval("document.querySelectorAll('svg.chart').length")?;
    assert_eq!(charts, json!(3));
    let bars =
        browser.eval("document.querySelectorAll('svg.chart rect[fill=\"#3b6ea8\"]').length")?;
    assert_eq!(bars, json!(30), "a bar per day");
    let repo_labels = browser.eval(
        "[...document.querySelectorAll('svg.chart text.label')].map(t => t.textContent).join('|')",
    )?;
    let repo_labels = repo_labels.as_str().unwrap_or_default();
    assert!(
        repo_labels.contains("acme/web") && repo_labels.contains("npm-access-token"),
        "{repo_labels}"
    );
    browser.screenshot(&shots, "overview")?;

    // Open secrets: the pusher's markup is text, and no script ran.
    browser.open(&format!("{base}/ui/secrets"))?;
    let text = browser.text()?;
    assert!(text.contains("6 secrets"), "{text}");
    assert!(text.contains("acme/<script>alert('repo')</script>"), "shown as text: {text}");
    assert_eq!(
        browser.eval("document.querySelectorAll('main script, main img').length")?,
        json!(0)
    );
    assert!(!text.contains(&seeded.material));
    browser.screenshot(&shots, "secrets")?;

    // One secret: where it was found, its validity, and the approval that queues it.
    browser.open(&format!("{base}/ui/secrets/{}", seeded.awaiting))?;
    let text = browser.text()?;
    assert!(text.contains("acme/chatops") && text.contains("ops/.gitlab-ci.yml:3"), "{text}");
    assert!(text.contains("valid") && text.contains("awaiting_approval"), "{text}");
    browser.screenshot(&shots, "secret")?;
    browser.submit("document.querySelector('form.action').submit()")?;
    let text = browser.text()?;
    assert!(text.contains("Revocation queued."), "{text}");
    assert!(!text.contains(&seeded.material));

    // Bypasses and waivers: approve the open request, add a waiver.
    browser.open(&format!("{base}/ui/exceptions"))?;
    let text = browser.text()?;
    assert!(text.contains("alice") && text.contains("false-positive"), "{text}");
    assert!(text.contains("documentation example"), "{text}");
    browser.screenshot(&shots, "exceptions")?;
    browser.submit(&format!(
        "document.querySelector('form[action=\"/ui/bypass-requests/{}/approve\"]').submit()",
        seeded.request
    ))?;
    assert!(browser.text()?.contains("Bypass request approved."));
    browser.eval("document.querySelector('details.add').open = true")?;
    browser.eval(&format!(
        "document.querySelector('details.add input[name=fingerprint]').value = '{}'",
        seeded.revoked
    ))?;
    browser.eval("document.querySelector('details.add input[name=reason]').value = 'rotated key, history kept'")?;
    browser.submit("document.querySelector('details.add form').submit()")?;
    assert!(browser.text()?.contains("Waiver added."));
    assert!(browser.text()?.contains("rotated key, history kept"));

    // What the browser did is audited under the name signed in.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let store = runtime.block_on(leakgate_store::Store::connect(&world.database_url()))?;
    let events: Vec<String> = runtime
        .block_on(store.audit_events(200))?
        .into_iter()
        .map(|e| format!("{}:{}", e.kind, e.actor))
        .collect();
    for expected in [
        "ui_login:sec-lead",
        "revocation_approved:sec-lead",
        "bypass_request_approved:sec-lead",
        "waiver_added:sec-lead",
    ] {
        assert!(events.iter().any(|e| e == expected), "{expected} in {events:?}");
    }
    Ok(())
}
