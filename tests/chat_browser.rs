//! The website chat widget in a real browser (headless Chromium through chromedriver):
//! embedded with its one-line snippet on a host page of another origin whose global CSS
//! is hostile, talking to a real Leadline server. Covers the theme surviving the host's
//! CSS, a conversation with the AI, persistence across a reload, a human reply and
//! typing arriving live, HTML in messages staying text, a refused origin rendering
//! nothing, and the contact form. A screenshot of the open widget is saved as
//! `target/screenshots/chat-widget.png`.
//!
//! Needs `chromedriver` and `chromium` (Debian: `apt-get install chromium chromium-driver`;
//! `scripts/test` installs them); without them these tests fail, they do not skip.

mod browser_support;
mod common;

use std::time::Duration;

use browser_support::{host_page_html, screenshot_dir, with_browser, Browser, HostPage};
use common::{spawn_app, Account, TestApp};
use serde_json::{json, Value};

const ENTER: &str = "\u{e007}";

/// A Leadline server, an account with one chat site, and the host page embedding it.
struct Fixture {
    app: TestApp,
    account: Account,
    site_key: String,
    page: HostPage,
}

/// `settings` go to `POST /api/integrations/chat/settings`; `allow_page`: whether the
/// site's allowed origins include the host page's origin.
async fn fixture(settings: Value, allow_page: bool) -> Fixture {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let page = HostPage::start().await;
    let origins = if allow_page {
        json!([page.origin])
    } else {
        json!(["https://acmeroofing.com"])
    };
    let site = app
        .post(
            &account.key,
            "/api/integrations/chat/sites",
            json!({"name": "Acme main site", "allowed_origins": origins}),
        )
        .await;
    assert_eq!(site.status, 201, "{}", site.body);
    let site_id = site.body["id"].as_i64().unwrap();
    let site_key = site.body["site_key"].as_str().unwrap().to_string();
    let mut body = settings;
    body["site_id"] = json!(site_id);
    let s = app
        .post(&account.key, "/api/integrations/chat/settings", body)
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    page.set_html(host_page_html(&app.base, &site_key));
    Fixture {
        app,
        account,
        site_key,
        page,
    }
}

fn settings(ai: bool, collect: bool) -> Value {
    json!({
        "company_name": "Acme Roofing",
        "color_theme": "#c0392b",
        "greeting_message": "Hi! Need help with your roof?",
        "ai_responses": ai,
        "collect_email": collect,
        "collect_phone": collect,
        "position": "bottom-right",
    })
}

impl Fixture {
    /// The account's chat sessions (`GET /api/chat/sessions`).
    async fn sessions(&self) -> Vec<Value> {
        let r = self.app.get(&self.account.key, "/api/chat/sessions").await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["items"].as_array().unwrap().clone()
    }

    /// The only session: its id and its detail (with `messages`).
    async fn only_session(&self) -> (String, Value) {
        let items = self.sessions().await;
        assert_eq!(items.len(), 1, "{items:?}");
        let sid = items[0]["session_id"].as_str().unwrap().to_string();
        let d = self
            .app
            .get(&self.account.key, &format!("/api/chat/sessions/{sid}"))
            .await;
        assert_eq!(d.status, 200, "{}", d.body);
        (sid, d.body)
    }

    async fn reply(&self, sid: &str, text: &str) -> Value {
        let r = self
            .app
            .post(
                &self.account.key,
                &format!("/api/chat/sessions/{sid}/reply"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    }
}

/// Opens the host page, waits for the launcher and clicks it (a real click: it fails
/// when something covers the launcher), then waits for the open panel.
async fn open_widget(b: &Browser, url: &str) {
    b.client.goto(url).await.unwrap();
    open_loaded_widget(b).await;
}

async fn open_loaded_widget(b: &Browser) {
    let launcher = b.widget_element("[data-ll=launcher]").await;
    launcher.click().await.unwrap();
    b.wait_for(
        "the open panel",
        "const p = q('[data-ll=panel]'); return !!p && p.checkVisibility();",
    )
    .await;
}

/// Types into the composer and presses Enter.
async fn say(b: &Browser, text: &str) {
    let input = b.widget_element("[data-ll=input]").await;
    input.send_keys(&format!("{text}{ENTER}")).await.unwrap();
}

/// Waits until a confirmed message (with a `data-id`) of `author` whose text contains
/// `needle` is in the list; returns it.
async fn wait_msg(b: &Browser, author: &str, needle: &str) -> Value {
    let script = format!(
        "return qa('[data-ll=msg][data-id][data-author={author}]')
           .filter((n) => n.textContent.includes({needle}))
           .map((n) => ({{id: n.getAttribute('data-id'), text: n.textContent,
                          visible: n.checkVisibility(), state: n.getAttribute('data-state')}}))[0] || null;",
        needle = json!(needle),
    );
    b.wait_for(
        &format!("a {author} message containing {needle:?}"),
        &script,
    )
    .await
}

/// The `data-id`s of the stored (non-greeting) messages, in order, with their authors.
async fn stored_ids(b: &Browser) -> Vec<(String, String)> {
    b.messages()
        .await
        .iter()
        .filter(|m| !m["greeting"].as_bool().unwrap())
        .map(|m| {
            (
                m["author"].as_str().unwrap().to_string(),
                m["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_embedded_widget_talks_survives_a_reload_and_gets_a_human_reply_live() {
    let f = fixture(settings(true, false), true).await;
    with_browser("embed", async |b: &Browser| {
        b.client.goto(&f.page.url()).await.unwrap();
        b.widget_element("[data-ll=launcher]").await;

        // The theme color wins over the host page's CSS, which still styles the host page.
        let css = b
            .widget_js(
                "const l = getComputedStyle(q('[data-ll=launcher]'));
                 const hostDiv = getComputedStyle(document.getElementById('host-div'));
                 return {bg: l.backgroundColor, border: l.borderTopWidth, width: l.width,
                         position: l.position, panelHidden: !q('[data-ll=panel]').checkVisibility(),
                         hostBg: hostDiv.backgroundColor, hostColor: hostDiv.color,
                         hostFont: hostDiv.fontSize};",
            )
            .await;
        assert_eq!(css["bg"], "rgb(192, 57, 43)", "{css}");
        assert_eq!(css["border"], "0px", "{css}");
        assert_eq!(css["width"], "58px", "{css}");
        assert_eq!(css["position"], "fixed", "{css}");
        assert_eq!(css["panelHidden"], true, "the panel starts closed: {css}");
        assert_eq!(css["hostBg"], "rgb(0, 255, 0)", "the host CSS applies to the host page");
        assert_eq!(css["hostColor"], "rgb(255, 0, 0)");
        assert_eq!(css["hostFont"], "40px");

        open_loaded_widget(b).await;
        let greeting = b
            .wait_for(
                "the greeting",
                "const g = q('[data-ll=msg][data-greeting]');
                 return g && g.checkVisibility() && g.textContent.includes('Hi! Need help with your roof?')
                   ? {author: g.getAttribute('data-author'), id: g.getAttribute('data-id'),
                      font: getComputedStyle(g).fontSize, family: getComputedStyle(g).fontFamily,
                      border: getComputedStyle(g).borderTopWidth, bg: getComputedStyle(g).backgroundColor}
                   : null;",
            )
            .await;
        assert_eq!(greeting["author"], "agent");
        assert!(greeting["id"].is_null(), "the greeting is not stored: {greeting}");
        assert_eq!(greeting["font"], "14px", "host CSS does not reach the widget: {greeting}");
        assert!(greeting["family"].as_str().unwrap().contains("system-ui"), "{greeting}");
        assert_eq!(greeting["border"], "0px", "{greeting}");
        let header = b
            .widget_js("return getComputedStyle(q('[data-ll=panel]').firstElementChild).backgroundColor;")
            .await;
        assert_eq!(header, "rgb(192, 57, 43)", "the panel's header has the theme color");

        // A message typed and sent with Enter, answered by the AI.
        let text = "Hi, I'm Jane Doe. My roof is leaking, can someone take a look?";
        say(b, text).await;
        let visitor = wait_msg(b, "visitor", text).await;
        assert_eq!(visitor["state"], Value::Null, "confirmed: {visitor}");
        let ai = wait_msg(b, "ai", "").await;
        assert_eq!(
            b.widget_js("return q('[data-ll=input]').value;").await,
            "",
            "the composer is cleared"
        );
        let (sid, detail) = f.only_session().await;
        let stored = detail["messages"].as_array().unwrap();
        assert_eq!(stored.len(), 2, "{detail}");
        assert_eq!(stored[0]["author"], "visitor");
        assert_eq!(stored[0]["text"], text);
        assert_eq!(stored[0]["id"].to_string(), visitor["id"].as_str().unwrap());
        assert_eq!(stored[1]["author"], "ai");
        assert_eq!(stored[1]["id"].to_string(), ai["id"].as_str().unwrap());
        let ai_text = stored[1]["text"].as_str().unwrap();
        assert!(!ai_text.trim().is_empty(), "the AI answered something");
        assert!(ai["text"].as_str().unwrap().contains(ai_text), "{ai} vs {ai_text}");
        let before = stored_ids(b).await;
        assert_eq!(
            before,
            [
                ("visitor".to_string(), visitor["id"].as_str().unwrap().to_string()),
                ("ai".to_string(), ai["id"].as_str().unwrap().to_string()),
            ]
        );

        // A reload resumes the same conversation from localStorage.
        let saved = b
            .js(&format!(
                "return JSON.parse(localStorage.getItem('leadline:{}') || 'null');",
                f.site_key
            ))
            .await;
        assert_eq!(saved["session_id"], sid.as_str(), "{saved}");
        b.client.refresh().await.unwrap();
        open_loaded_widget(b).await;
        let deadline = tokio::time::Instant::now() + browser_support::WAIT;
        loop {
            let now = stored_ids(b).await;
            if now == before {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "after a reload the widget shows {now:?}, not {before:?}\n{}",
                b.debug_dump().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(f.sessions().await.len(), 1, "no second session");

        // The roofer types and answers from the inbox: both arrive live (no reload).
        // Typing events are never replayed, so seeing one proves the live stream is up.
        let deadline = tokio::time::Instant::now() + browser_support::WAIT;
        loop {
            let r = f
                .app
                .post(
                    &f.account.key,
                    &format!("/api/chat/sessions/{sid}/typing"),
                    json!({"typing": true}),
                )
                .await;
            assert_eq!(r.status, 204, "{}", r.body);
            let shown = b
                .widget_js("return q('[data-ll=typing]').checkVisibility();")
                .await;
            if shown == true {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the roofer's typing never showed\n{}",
                b.debug_dump().await
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let reply = f
            .reply(&sid, "Hi Jane, this is Mike from Acme. We can come by tomorrow at 9.")
            .await;
        let agent = wait_msg(b, "agent", "this is Mike from Acme").await;
        assert_eq!(agent["id"], reply["id"].to_string());
        assert_eq!(agent["visible"], true);
        b.wait_for(
            "the typing indicator to go away",
            "return !q('[data-ll=typing]').checkVisibility();",
        )
        .await;
        let order: Vec<String> = stored_ids(b).await.into_iter().map(|(a, _)| a).collect();
        assert_eq!(order, ["visitor", "ai", "agent"]);

        let path = screenshot_dir().join("chat-widget.png");
        let png = b.screenshot(&path).await;
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        eprintln!("screenshot: {}", path.display());

        let console = b.js("return window.__console;").await;
        assert!(
            !console.to_string().contains("uncaught"),
            "no script errors: {console}"
        );
    })
    .await;
}

#[tokio::test]
async fn html_in_messages_is_shown_as_text_never_run() {
    let f = fixture(settings(true, false), true).await;
    with_browser("xss", async |b: &Browser| {
        open_widget(b, &f.page.url()).await;
        let evil = r#"<img src=x onerror="window.__pwned=1">hello"#;
        say(b, evil).await;
        let shown = wait_msg(b, "visitor", evil).await;
        assert!(shown["text"].as_str().unwrap().contains("<img"), "{shown}");
        wait_msg(b, "ai", "").await;
        let (sid, detail) = f.only_session().await;
        assert_eq!(detail["messages"][0]["text"], evil, "stored verbatim");

        let reply = "<b>bold</b> <script>window.__pwned=2</script><img src=y onerror=\"window.__pwned=3\">";
        f.reply(&sid, reply).await;
        let agent = wait_msg(b, "agent", "<b>bold</b>").await;
        assert!(agent["text"].as_str().unwrap().contains(reply), "{agent}");

        // Give an injected image time to fail loading (and its handler to run) before
        // checking that nothing was injected.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let dom = b
            .widget_js(
                "const log = q('[data-ll=messages]');
                 return {elements: Array.from(log.querySelectorAll('img, b, script, svg')).map((n) => n.tagName),
                         pageImages: document.querySelectorAll('img').length,
                         pwned: typeof window.__pwned};",
            )
            .await;
        assert_eq!(dom["elements"], json!([]), "{dom}");
        assert_eq!(dom["pageImages"], 0, "{dom}");
        assert_eq!(dom["pwned"], "undefined", "{dom}");
    })
    .await;
}

#[tokio::test]
async fn a_page_whose_origin_is_not_allowed_gets_no_widget_and_no_session() {
    let f = fixture(settings(true, false), false).await;
    with_browser("refused", async |b: &Browser| {
        b.client.goto(&f.page.url()).await.unwrap();
        // The script ran, asked the server, was refused and says so once.
        b.wait_for(
            "the widget's warning about the refused origin",
            "return window.__leadlineWidget === true
               && (window.__console || []).some((l) => l.startsWith('warn:') && l.includes('not allowed'));",
        )
        .await;
        b.js("window.LeadlineWidget && window.LeadlineWidget.open(); return null;")
            .await;
        // And for a few seconds nothing renders.
        let until = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < until {
            let found = b
                .js("return document.querySelectorAll('[data-leadline-widget], leadline-chat').length;")
                .await;
            assert_eq!(found, 0, "a widget rendered on a refused origin\n{}", b.debug_dump().await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let warnings = b
            .js("return (window.__console || []).filter((l) => l.startsWith('warn:')).length;")
            .await;
        assert_eq!(warnings, 1, "one warning only");
        assert_eq!(f.sessions().await, Vec::<Value>::new(), "no session was created");
    })
    .await;
}

#[tokio::test]
async fn the_contact_form_shows_the_servers_error_then_captures_the_lead() {
    let f = fixture(settings(false, true), true).await;
    with_browser("contact", async |b: &Browser| {
        open_widget(b, &f.page.url()).await;
        b.wait_for(
            "the contact form with email and phone fields",
            "const f = q('[data-ll=contact-form]');
             return !!f && f.checkVisibility() && !!f.querySelector('input[type=email]')
               && !!f.querySelector('input[type=tel]');",
        )
        .await;

        let email = b
            .widget_element("[data-ll=contact-form] input[type=email]")
            .await;
        email.send_keys(&format!("not-an-email{ENTER}")).await.unwrap();
        let shown = b
            .wait_for(
                "the contact error",
                "const e = q('[data-ll=contact-error]'); return e && e.checkVisibility() ? e.textContent : null;",
            )
            .await;
        // It is the server's own message: the same request answers with it.
        let saved = b
            .js(&format!(
                "return JSON.parse(localStorage.getItem('leadline:{}') || 'null');",
                f.site_key
            ))
            .await;
        let token = saved["token"].as_str().expect("a session was started").to_string();
        let direct = f
            .app
            .send(
                f.app
                    .http
                    .post(format!("{}/api/chat/contact", f.app.base))
                    .header("Origin", &f.page.origin)
                    .json(&json!({"session_token": token, "email": "not-an-email"})),
            )
            .await;
        assert_eq!(direct.status, 422, "{}", direct.body);
        assert_eq!(shown, direct.body["error"]["message"], "{}", direct.body);
        assert!(shown.as_str().unwrap().contains("email"), "{shown}");
        assert_eq!(
            b.widget_js("return q('[data-ll=contact-form]').checkVisibility();")
                .await,
            true,
            "the form stays open after an error"
        );

        email.clear().await.unwrap();
        email.send_keys("Jane.Roe@Example.com").await.unwrap();
        let phone = b
            .widget_element("[data-ll=contact-form] input[type=tel]")
            .await;
        phone
            .send_keys(&format!("(214) 748-3647{ENTER}"))
            .await
            .unwrap();
        b.wait_for(
            "the contact form to close",
            "const f = q('[data-ll=contact-form]'); return !f || !f.checkVisibility();",
        )
        .await;

        let items = f.sessions().await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["lead_email"], "jane.roe@example.com", "{}", items[0]);
        assert_eq!(items[0]["lead_phone"], "+12147483647", "{}", items[0]);

        // Remembered: after a reload the form does not come back.
        b.client.refresh().await.unwrap();
        open_loaded_widget(b).await;
        b.wait_for(
            "the greeting after the reload",
            "const g = q('[data-ll=msg][data-greeting]'); return !!g && g.checkVisibility();",
        )
        .await;
        assert_eq!(
            b.widget_js("const f = q('[data-ll=contact-form]'); return !!f && f.checkVisibility();")
                .await,
            false,
            "the form stays closed after a reload"
        );
    })
    .await;
}
