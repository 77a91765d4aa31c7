//! Browser-test harness: a headless Chromium driven through its own chromedriver (one per
//! test, on a free loopback port, with a fresh profile), a WebDriver client over plain
//! HTTP (no TLS in the test build), a host page served from another origin than the
//! Leadline server, and polling helpers that read inside the widget's shadow root.
//!
//! The system's `chromedriver` and `chromium` are used (Debian: `apt-get install chromium
//! chromium-driver`; `scripts/test` installs them). Without them the tests fail with a
//! message that says so; they never skip. `CHROMEDRIVER` and `CHROMIUM` override the
//! binaries.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

/// How long a polling wait lasts before it fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Hostile global CSS on the host page: none of it may reach the widget.
pub const HOSTILE_CSS: &str =
    "div, button, textarea, input, span, form, p, label { background: lime !important; \
color: red !important; font-size: 40px !important; border: 5px solid black !important; \
padding: 30px !important; margin: 20px !important; display: block !important; \
position: static !important; width: 300px !important; } \
* { box-sizing: content-box !important; font-family: serif !important; }";

/// Where a file on the `PATH` is.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn chromedriver_path() -> PathBuf {
    let found = match std::env::var_os("CHROMEDRIVER") {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => which("chromedriver"),
    };
    found.unwrap_or_else(|| {
        panic!(
            "chromedriver is not installed (or CHROMEDRIVER does not name a file): the chat \
             widget's browser tests need Chromium and its WebDriver (Debian: `apt-get install \
             chromium chromium-driver`, which scripts/test does when run as root)"
        )
    })
}

fn chromium_path() -> PathBuf {
    let found = match std::env::var_os("CHROMIUM") {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .find_map(|n| which(n)),
    };
    found.unwrap_or_else(|| {
        panic!(
            "Chromium is not installed (or CHROMIUM does not name a file): the chat widget's \
                 browser tests need it (Debian: `apt-get install chromium chromium-driver`)"
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A headless Chromium behind its own chromedriver. Dropping it (also on a panic) kills
/// the driver's process group and every process left that uses this browser's profile,
/// and reaps the driver; [`Browser::shutdown`] first ends the session cleanly.
pub struct Browser {
    pub client: Client,
    driver: Option<Child>,
    profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        adopt_orphans();
        let driver_bin = chromedriver_path();
        let chromium = chromium_path();
        let profile = tempfile::Builder::new()
            .prefix("leadline-browser-")
            .tempdir()
            .unwrap();
        let log = profile.path().join("chromedriver.log");
        let user_data = profile.path().join("profile");
        // A free port can be taken between asking and binding: try a few.
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut cmd = Command::new(&driver_bin);
            cmd.arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                // Its own process group, so the browser it starts can be killed with it.
                .process_group(0);
            // SAFETY: prctl is async-signal-safe; this runs in the child before exec.
            unsafe {
                cmd.pre_exec(|| {
                    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
                });
            }
            let child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("could not start {}: {e}", driver_bin.display()));
            let mut guard = DriverGuard {
                child: Some(child),
                profile: profile.path().to_path_buf(),
            };
            match wait_ready(port, guard.child.as_mut().unwrap()).await {
                Ok(()) => {}
                Err(e) => {
                    last_err = e;
                    continue; // the guard kills it
                }
            }
            let caps = json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium.to_string_lossy(),
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--no-default-browser-check",
                        "--disable-extensions", "--mute-audio", "--hide-scrollbars",
                        "--window-size=1280,900",
                        format!("--user-data-dir={}", user_data.display()),
                    ],
                },
            });
            let caps = match caps {
                Value::Object(m) => m,
                _ => unreachable!(),
            };
            let client = ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
                .unwrap_or_else(|e| {
                    panic!(
                        "could not start a Chromium session through chromedriver: {e}\n{}",
                        tail(&log)
                    )
                });
            return Browser {
                client,
                driver: guard.child.take(),
                profile,
            };
        }
        panic!("chromedriver did not start: {last_err}\n{}", tail(&log));
    }

    /// Ends the WebDriver session (Chromium quits and is reaped by chromedriver), then
    /// stops chromedriver. Whatever is left is killed when `self` drops.
    pub async fn shutdown(mut self) {
        let client = self.client.clone();
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        if let Some(child) = self.driver.as_mut() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
            for _ in 0..50 {
                if let Ok(Some(_)) = child.try_wait() {
                    self.driver = None;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // What Chromium left behind exits on its own within moments.
        let left = tokio::task::spawn_blocking(|| reap_orphans(Duration::from_secs(5)))
            .await
            .unwrap();
        if left > 0 {
            eprintln!("killed {left} browser processes that did not exit");
        }
    }

    /// Runs a script in the page (a function body: use `return`).
    pub async fn js(&self, body: &str) -> Value {
        self.client
            .execute(body, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n--- script:\n{body}"))
    }

    /// Runs a script with the widget's shadow root in scope: `root` (or null), `q(sel)`
    /// (first match or null) and `qa(sel)` (array).
    pub async fn widget_js(&self, body: &str) -> Value {
        self.js(&format!("{WIDGET_PRELUDE}\n{body}")).await
    }

    /// Polls `body` (a widget script) until it returns something truthy; returns it.
    pub async fn wait_for(&self, what: &str, body: &str) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let v = self.widget_js(body).await;
            if truthy(&v) {
                return v;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "timed out after {WAIT:?} waiting for {what}; last value: {v}\n{}",
                    self.debug_dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// An element inside the widget's shadow root, as a WebDriver element (for real
    /// clicks and key presses).
    pub async fn widget_element(&self, css: &str) -> Element {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let found = async {
                let host = self
                    .client
                    .find(Locator::Css("[data-leadline-widget]"))
                    .await
                    .ok()?;
                let root = host.shadow_root().await.ok()?;
                root.find(Locator::Css(css)).await.ok()
            }
            .await;
            if let Some(e) = found {
                return e;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "no {css} in the widget after {WAIT:?}\n{}",
                    self.debug_dump().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The widget's messages: `[{author, id, greeting, state, text, visible}]`, in order.
    pub async fn messages(&self) -> Vec<Value> {
        match self.widget_js(MESSAGES_JS).await {
            Value::Array(a) => a,
            _ => vec![],
        }
    }

    /// The shadow root's markup, the widget's storage and the browser console, for
    /// failure messages.
    pub async fn debug_dump(&self) -> String {
        let dom = self
            .client
            .execute(
                &format!(
                    "{WIDGET_PRELUDE}\nreturn {{url: location.href, widget: root ? root.innerHTML : null, \
                     storage: Object.assign({{}}, localStorage)}};"
                ),
                vec![],
            )
            .await
            .map(|v| v.to_string())
            .unwrap_or_else(|e| format!("(page unreadable: {e})"));
        let console = self
            .client
            .execute("return window.__console || null", vec![])
            .await
            .map(|v| v.to_string())
            .unwrap_or_default();
        format!("--- page: {dom}\n--- console: {console}")
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) -> Vec<u8> {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &png).unwrap();
        png
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        drop(DriverGuard {
            child: self.driver.take(),
            profile: self.profile.path().to_path_buf(),
        });
    }
}

/// Kills a chromedriver's process group and any process using the profile, and reaps
/// them. Disarmed (does nothing) once its child was taken.
struct DriverGuard {
    child: Option<Child>,
    profile: PathBuf,
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.kill();
            let _ = child.wait();
            kill_profile_users(&self.profile);
            reap_orphans(Duration::from_secs(2));
        }
    }
}

/// SIGKILLs the processes (a Chromium that outlived its driver) whose command line names
/// this test's own profile directory, and nothing else.
fn kill_profile_users(profile: &Path) {
    let needle = profile.to_string_lossy().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Chromium leaves orphans when it quits (its zygotes, the daemonized crash handler).
/// This test process adopts them (a child subreaper) instead of the machine's init, so
/// it can reap them itself and no zombie outlives a test.
fn adopt_orphans() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
    });
}

/// Browser processes that this process adopted: `(pid, state)`.
fn adopted_browser_processes() -> Vec<(i32, char)> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    let mut out = vec![];
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let mut rest = stat[close + 1..].split_whitespace();
        let state = rest.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid = rest.next().and_then(|s| s.parse::<i32>().ok()).unwrap_or(0);
        if ppid == me && comm.starts_with("chrom") && comm != "chromedriver" {
            out.push((pid, state));
        }
    }
    out
}

/// Reaps adopted browser processes as they exit; kills those still alive at `within`.
/// Returns how many were left to kill.
fn reap_orphans(within: Duration) -> usize {
    use nix::sys::wait::{waitpid, WaitPidFlag};
    let deadline = std::time::Instant::now() + within;
    loop {
        let procs = adopted_browser_processes();
        if procs.is_empty() {
            return 0;
        }
        for (pid, state) in &procs {
            if *state == 'Z' {
                let _ = waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG));
            }
        }
        if std::time::Instant::now() >= deadline {
            for (pid, _) in &procs {
                let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
                let _ = waitpid(Pid::from_raw(*pid), None);
            }
            return procs.len();
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

async fn wait_ready(port: u16, child: &mut Child) -> Result<(), String> {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            if let Some(mut s) = child.stderr.take() {
                let _ = s.read_to_string(&mut err);
            }
            return Err(format!("chromedriver exited ({status}): {err}"));
        }
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .timeout(Duration::from_secs(2))
            .send()
            .await
        {
            if let Ok(v) = r.json::<Value>().await {
                if v["value"]["ready"] == true {
                    return Ok(());
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "chromedriver on port {port} was not ready after 15 s"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn tail(log: &Path) -> String {
    let s = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    let start = lines.len().saturating_sub(30);
    format!(
        "--- chromedriver log (tail):\n{}",
        lines[start..].join("\n")
    )
}

// Page helpers shared by the dashboard's browser tests (the widget ones are methods above).

/// Polls a page script (a function body: use `return`) until it returns something
/// truthy; panics with the last value and the page's URL after `WAIT`.
pub async fn wait_js(b: &Browser, what: &str, body: &str) -> Value {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let v = b.js(body).await;
        if truthy(&v) {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            let url = b
                .client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            panic!("timed out waiting for {what}; last value: {v}; at {url}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page's path (with its query, if any) is `path`.
pub async fn wait_path(b: &Browser, path: &str) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(u) = b.client.current_url().await {
            let here = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            };
            if here == path {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!("expected to be at {path}, still at {here}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A real click on the first element matching `css`.
pub async fn click(b: &Browser, css: &str) {
    b.client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// Clears the field matching `css` and types `text` into it, key by key.
pub async fn type_into(b: &Browser, css: &str, text: &str) {
    let el = b
        .client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// The trimmed text of the first element matching `css` ("" when there is none).
pub async fn text(b: &Browser, css: &str) -> String {
    let css = serde_json::to_string(css).unwrap();
    b.js(&format!(
        "const e = document.querySelector({css}); return e ? e.textContent.trim() : '';"
    ))
    .await
    .as_str()
    .unwrap_or("")
    .to_string()
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(_) => true,
    }
}

const WIDGET_PRELUDE: &str = "const host = document.querySelector('[data-leadline-widget]');
const root = host ? host.shadowRoot : null;
const q = (s) => (root ? root.querySelector(s) : null);
const qa = (s) => (root ? Array.from(root.querySelectorAll(s)) : []);";

const MESSAGES_JS: &str = "return qa('[data-ll=msg]').map((n) => ({
  author: n.getAttribute('data-author'),
  id: n.getAttribute('data-id'),
  greeting: n.hasAttribute('data-greeting'),
  state: n.getAttribute('data-state'),
  text: n.textContent,
  visible: n.checkVisibility(),
}));";

/// Starts a browser, runs `f` with it, and always shuts the browser down, also when `f`
/// panics (then a screenshot is saved as `target/screenshots/failed-NAME.png`).
pub async fn with_browser<R>(name: &str, f: impl AsyncFnOnce(&Browser) -> R) -> R {
    let b = Browser::start().await;
    let out = AssertUnwindSafe(f(&b)).catch_unwind().await;
    if out.is_err() {
        let path = screenshot_dir().join(format!("failed-{name}.png"));
        if let Ok(png) = b.client.screenshot().await {
            let _ = std::fs::create_dir_all(screenshot_dir());
            let _ = std::fs::write(&path, png);
            eprintln!("screenshot of the failure: {}", path.display());
        }
    }
    b.shutdown().await;
    match out {
        Ok(r) => r,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// `target/screenshots` (or under `CARGO_TARGET_DIR`).
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("screenshots")
}

/// A website on its own origin (`http://127.0.0.1:PORT`) that serves one HTML page at
/// `/`. Its origin is known before the page is (the site's allowed origins need it, the
/// page needs the site key).
pub struct HostPage {
    pub origin: String,
    html: Arc<Mutex<String>>,
    task: tokio::task::JoinHandle<()>,
}

impl HostPage {
    pub async fn start() -> HostPage {
        let html = Arc::new(Mutex::new(String::from(
            "<!doctype html><title>empty</title>",
        )));
        let page = html.clone();
        let app = axum::Router::new()
            .route(
                "/",
                axum::routing::get(move || {
                    let html = page.lock().unwrap().clone();
                    async move { axum::response::Html(html) }
                }),
            )
            .route(
                "/favicon.ico",
                axum::routing::get(|| async { axum::http::StatusCode::NO_CONTENT }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        HostPage { origin, html, task }
    }

    pub fn set_html(&self, html: String) {
        *self.html.lock().unwrap() = html;
    }

    pub fn url(&self) -> String {
        format!("{}/", self.origin)
    }
}

impl Drop for HostPage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A roofer's page with hostile global CSS, a div of its own (`#host-div`), a console
/// recorder (`window.__console`), and the one-line embed snippet.
pub fn host_page_html(leadline_base: &str, site_key: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Acme Roofing</title>
<style>{HOSTILE_CSS}</style>
<script>
  window.__console = [];
  for (const level of ['log', 'info', 'warn', 'error']) {{
    const orig = console[level].bind(console);
    console[level] = (...args) => {{ window.__console.push(level + ': ' + args.join(' ')); orig(...args); }};
  }}
  addEventListener('error', (e) => window.__console.push('uncaught: ' + e.message));
</script>
</head>
<body>
<div id="host-div">Acme Roofing — storm damage repairs since 1987</div>
<script src="{leadline_base}/widget.js" data-site="{site_key}" async></script>
</body>
</html>
"#
    )
}
