//! The dashboard in a real browser (headless Chromium through chromedriver, the harness of
//! `tests/browser_support`): signing in and out, the leads list filtered by band, a lead's
//! profile with its timeline and both SVG charts, a stored script-like name shown as text,
//! the reply box showing the API's error, the chat widget's settings reflected in the live
//! preview and saved, the embed code and its copy button, the email Test button against a
//! closed port and against a real Dovecot + SMTP server (`tests/mail_support`), and a live
//! conversation with take-over and reply.
//!
//! Every page is saved as `target/screenshots/dashboard-<page>.png` (the whole page).

mod browser_support;
mod common;
mod mail_support;

use std::time::Duration;

use browser_support::{
    click, screenshot_dir, type_into, wait_js, wait_path, with_browser, Browser, WAIT,
};
use chrono::Utc;
use common::{spawn_app, Account, TestApp};
use fantoccini::Locator;
use serde_json::{json, Value};

const XSS_NAME: &str = "<script>alert(1)</script>";

/// Saves the whole page as `target/screenshots/dashboard-NAME.png`.
async fn shot(b: &Browser, name: &str) {
    let height = b
        .js("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);")
        .await
        .as_f64()
        .unwrap_or(900.0);
    let h = (height as u32 + 140).clamp(900, 4200);
    b.client.set_window_size(1280, h).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.screenshot(&screenshot_dir().join(format!("dashboard-{name}.png")))
        .await;
    b.client.set_window_size(1280, 900).await.unwrap();
}

/// Opens `path`, is sent to the sign-in page, follows its API-key link, signs in with
/// the key and lands on `path`.
async fn sign_in(b: &Browser, app: &TestApp, account: &Account, path: &str) {
    b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
    wait_js(
        b,
        "the sign-in form",
        "return !!document.querySelector('[data-test=key-link]');",
    )
    .await;
    click(b, "[data-test=key-link]").await;
    wait_js(
        b,
        "the API-key form",
        "return !!document.querySelector('input[name=api_key]');",
    )
    .await;
    type_into(b, "input[name=api_key]", &account.key).await;
    click(b, "form[action='/login'] button[type=submit]").await;
    wait_path(b, path).await;
}

/// A lead with touches on every channel, an AI reply and a call recording.
async fn seed_lead(app: &TestApp, account: &Account, name: &str, email: &str, phone: &str) -> i64 {
    let now = Utc::now();
    let lead = app
        .post(
            &account.key,
            "/api/leads",
            json!({"name": name, "email": email, "phone": phone, "property_address": "12 Elm St",
                   "roof_age_years": 22}),
        )
        .await;
    assert_eq!(lead.status, 201, "{}", lead.body);
    let id = lead.body["id"].as_i64().unwrap();
    let touches = [
        (
            26,
            "email",
            "inbound",
            "Roof leak after the storm",
            "Water is coming through the ceiling. Can you help?",
            false,
        ),
        (
            25,
            "email",
            "outbound",
            "Re: Roof leak after the storm",
            "Sorry to hear that! We can inspect on Thursday at 10.",
            true,
        ),
        (
            18,
            "sms",
            "inbound",
            "",
            "Thursday works great, thank you so much!",
            false,
        ),
        (
            11,
            "chat",
            "inbound",
            "",
            "Still leaking and nobody called back, this is really frustrating",
            false,
        ),
        (
            4,
            "sms",
            "outbound",
            "",
            "So sorry — a crew is on the way today.",
            false,
        ),
        (
            1,
            "email",
            "inbound",
            "Quote",
            "The crew was great. Please send the quote for a full replacement.\nThanks!",
            false,
        ),
    ];
    for (i, (days, kind, dir, subject, content, ai)) in touches.iter().enumerate() {
        let mut body = json!({
            "type": kind, "direction": dir, "lead_id": id, "content": content, "ai_generated": ai,
            "timestamp": (now - chrono::Duration::days(*days)).to_rfc3339(),
            "provider_message_id": format!("b-{id}-{i}"),
        });
        if !subject.is_empty() {
            body["subject"] = json!(subject);
        }
        let r = app.log(&account.key, body).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let call = app
        .post(
            &account.key,
            "/api/calls/log",
            json!({"call_id": format!("c-{id}"), "lead_id": id, "direction": "inbound", "duration_seconds": 312,
                   "outcome": "completed", "timestamp": (now - chrono::Duration::days(8)).to_rfc3339(),
                   "recording_url": "https://recordings.example.com/c1.mp3",
                   "transcript": "Customer asked whether insurance covers hail damage."}),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.body);
    id
}

#[tokio::test]
async fn signing_in_and_out() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    with_browser("dashboard-signin", async |b: &Browser| {
        // A wrong key first: an error, still on the sign-in page.
        b.client.goto(&format!("{}/leads", app.base)).await.unwrap();
        wait_path(b, "/login?next=/leads").await;
        // The sign-in page asks for email and password; developers follow its key link.
        click(b, "[data-test=key-link]").await;
        wait_js(b, "the API-key form", "return !!document.querySelector('input[name=api_key]');").await;
        type_into(b, "input[name=api_key]", "ll_wrong").await;
        click(b, "form[action='/login'] button[type=submit]").await;
        let err = wait_js(b, "the error", "const e = document.querySelector('[data-test=login-error]'); return e && e.textContent;").await;
        assert!(err.as_str().unwrap().contains("not valid"), "{err}");
        shot(b, "login").await;
        // The right key: the page asked for, and the API key is nowhere in the browser.
        type_into(b, "input[name=api_key]", &account.key).await;
        click(b, "form[action='/login'] button[type=submit]").await;
        wait_path(b, "/leads").await;
        let stored = b
            .js("return document.cookie + JSON.stringify(Object.assign({}, localStorage, sessionStorage));")
            .await;
        assert!(!stored.as_str().unwrap().contains(&account.key), "{stored}");
        assert!(!stored.as_str().unwrap().contains("leadline_session"), "the session cookie is HttpOnly");
        click(b, "[data-test=sign-out]").await;
        wait_path(b, "/login").await;
        b.client.goto(&format!("{}/", app.base)).await.unwrap();
        wait_path(b, "/login").await;
    })
    .await;
}

#[tokio::test]
async fn home_shows_the_week_and_the_integrations_health() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    seed_lead(
        &app,
        &account,
        "Jane Cooper",
        "jane@example.com",
        "+13125550101",
    )
    .await;
    seed_lead(
        &app,
        &account,
        "Robert Fox",
        "robert@example.com",
        "+13125550102",
    )
    .await;
    let r = app
        .log(&account.key, json!({"type": "sms", "direction": "inbound", "content": "Hail damage, need someone asap",
            "lead": {"name": "Devon Lane", "phone": "+13125550103"}}))
        .await;
    assert_eq!(r.status, 201);
    with_browser("dashboard-home", async |b: &Browser| {
        sign_in(b, &app, &account, "/").await;
        // Health: the list, or "unavailable" when that endpoint is not there.
        wait_js(b, "the health list", "const h = document.querySelector('[data-health]'); return h && !h.textContent.includes('Checking');").await;
        let due = b.js("return document.querySelectorAll('.action-list li').length;").await;
        assert!(due.as_u64().unwrap() >= 1, "next actions due: {due}");
        shot(b, "home").await;
    })
    .await;
}

#[tokio::test]
async fn the_leads_list_filters_by_band_and_shows_names_as_text() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    seed_lead(
        &app,
        &account,
        "Jane Cooper",
        "jane@example.com",
        "+13125550101",
    )
    .await;
    seed_lead(&app, &account, XSS_NAME, "x@example.com", "+13125550109").await;
    app.post(
        &account.key,
        "/api/leads",
        json!({"name": "Wade Warren", "email": "wade@example.com"}),
    )
    .await;
    app.post(&account.key, "/api/leads", json!({"name": "Cody Fisher"}))
        .await;
    app.post(
        &account.key,
        "/api/leads",
        json!({"name": "Esther Howard", "phone": "+13125550177", "property_address": "9 Oak Ave"}),
    )
    .await;
    with_browser("dashboard-leads", async |b: &Browser| {
        sign_in(b, &app, &account, "/leads").await;
        let bands = b.js("return Array.from(document.querySelectorAll('tr[data-band]'), r => r.dataset.band);").await;
        let bands: Vec<String> = serde_json::from_value(bands).unwrap();
        assert_eq!(bands.len(), 5, "{bands:?}");
        assert!(bands.iter().any(|b| b == "HOT") && bands.iter().any(|b| b == "COLD"), "{bands:?}");
        // The stored script is a name, not a script.
        let names = b.js("return Array.from(document.querySelectorAll('.lead-name'), a => a.textContent);").await;
        assert!(names.as_array().unwrap().iter().any(|n| n == XSS_NAME), "{names}");
        assert_eq!(b.js("return document.querySelectorAll('tbody script').length;").await, 0);
        shot(b, "leads").await;

        b.client
            .find(Locator::Css("select[name=band]"))
            .await
            .unwrap()
            .select_by_value("HOT")
            .await
            .unwrap();
        wait_path(b, "/leads?q=&band=HOT&channel=&source=").await;
        let bands = b.js("return Array.from(document.querySelectorAll('tr[data-band]'), r => r.dataset.band);").await;
        let bands: Vec<String> = serde_json::from_value(bands).unwrap();
        assert!(!bands.is_empty() && bands.iter().all(|b| b == "HOT"), "{bands:?}");
        assert!(!b.js("return document.body.textContent;").await.as_str().unwrap().contains("Cody Fisher"));
    })
    .await;
}

#[tokio::test]
async fn the_lead_profile_shows_the_timeline_both_charts_and_reply_errors() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let id = seed_lead(&app, &account, XSS_NAME, "jane@example.com", "+13125550101").await;
    with_browser("dashboard-lead", async |b: &Browser| {
        sign_in(b, &app, &account, &format!("/leads/{id}")).await;
        let name = b.js("return document.querySelector('[data-test=lead-name]').textContent;").await;
        assert_eq!(name, XSS_NAME, "the name is text");
        let charts = b
            .js("return ['weekly', 'sentiment'].map(k => { const s = document.querySelector(`[data-chart=${k}] svg`); \
                 return s ? {rects: s.querySelectorAll('rect.bar').length, points: s.querySelectorAll('circle.point').length, w: s.getBoundingClientRect().width} : null; });")
            .await;
        let weekly = &charts[0];
        let sentiment = &charts[1];
        assert!(weekly["rects"].as_u64().unwrap() >= 5, "{charts}");
        assert!(sentiment["points"].as_u64().unwrap() >= 3, "{charts}");
        assert!(weekly["w"].as_f64().unwrap() > 300.0, "the chart is drawn at a readable size: {charts}");
        // Timeline: every touch, newest first; an email opens; the recording is a link.
        let kinds = b.js("return Array.from(document.querySelectorAll('[data-timeline] > li'), l => l.dataset.kind);").await;
        assert_eq!(kinds, json!(["email", "sms", "phone_call", "chat", "sms", "email", "email"]));
        click(b, "[data-timeline] details.tl-details summary").await;
        let open = b.js("const d = document.querySelector('[data-timeline] details.tl-details'); return d.open && d.querySelector('pre').textContent;").await;
        assert!(open.as_str().unwrap().contains("full replacement"), "{open}");
        let rec = b.js("const a = document.querySelector('[data-recording]'); return a && a.href;").await;
        assert_eq!(rec, "https://recordings.example.com/c1.mp3");
        assert!(b.js("return document.querySelectorAll('.chip-ai').length;").await.as_u64().unwrap() >= 1);
        shot(b, "lead").await;

        // Replying by SMS without Telnyx: the API's own words.
        click(b, "[data-reply] input[value=sms]").await;
        assert_eq!(b.js("return document.querySelector('[data-email-only]').hidden;").await, true, "no subject for a text");
        type_into(b, "[data-reply] textarea[name=text]", "Hi, the quote is on its way.").await;
        click(b, "[data-reply] button[type=submit]").await;
        let msg = wait_js(b, "the SMS error", "const r = document.querySelector('[data-reply] [data-result]'); return r.classList.contains('err') && r.textContent;").await;
        assert!(msg.as_str().unwrap().contains("connect Telnyx first"), "{msg}");
        // And nothing was sent.
        let n: i64 = sqlx::query_scalar("select count(*) from outbox")
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert_eq!(n, 0);
    })
    .await;
}

/// The widget's header color inside the preview frame, once it is drawn.
const PREVIEW_COLOR_JS: &str = "const f = document.querySelector('[data-preview]');
const d = f && f.contentDocument;
const host = d && d.querySelector('[data-leadline-widget]');
const p = host && host.shadowRoot && host.shadowRoot.querySelector('[data-ll=panel]');
return p && p.firstElementChild && p.checkVisibility() ? getComputedStyle(p.firstElementChild).backgroundColor : null;";

#[tokio::test]
async fn widget_settings_show_in_the_live_preview_and_the_embed_code_copies() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let site = app
        .post(
            &account.key,
            "/api/integrations/chat/sites",
            json!({"name": "acmeroofing.com", "allowed_origins": ["https://acmeroofing.com"]}),
        )
        .await;
    assert_eq!(site.status, 201);
    let site_id = site.body["id"].as_i64().unwrap();
    let site_key = site.body["site_key"].as_str().unwrap().to_string();
    let r = app
        .post(&account.key, "/api/integrations/chat/settings",
            json!({"site_id": site_id, "company_name": "Acme Roofing", "greeting_message": "Hi! Roof trouble? Ask us anything."}))
        .await;
    assert_eq!(r.status, 200);
    with_browser("dashboard-integrations", async |b: &Browser| {
        sign_in(b, &app, &account, &format!("/integrations?site={site_id}")).await;
        let before = wait_js(b, "the widget in the preview", PREVIEW_COLOR_JS).await;
        assert_eq!(before, "rgb(31, 111, 235)", "the saved (default) color");

        // An unsaved change shows in the preview at once.
        b.js("const i = document.querySelector('input[name=color_theme]'); i.value = '#c0392b';
              i.dispatchEvent(new Event('input', {bubbles: true}));")
            .await;
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let c = b.js(PREVIEW_COLOR_JS).await;
            if c == "rgb(192, 57, 43)" {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "preview color stayed {c}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(b.js("return document.querySelector('[data-color-value]').textContent;").await, "#c0392b");
        let saved = app
            .get(&account.key, &format!("/api/integrations/chat/settings?site_id={site_id}"))
            .await;
        assert_eq!(saved.body["color_theme"], "#1f6feb", "not saved yet");

        click(b, "[data-widget-form] button[type=submit]").await;
        wait_js(b, "saved", "return document.querySelector('[data-widget-form] [data-result]').textContent.startsWith('Saved');").await;
        let saved = app
            .get(&account.key, &format!("/api/integrations/chat/settings?site_id={site_id}"))
            .await;
        assert_eq!(saved.body["color_theme"], "#c0392b");

        // The embed code, and its copy button.
        let code = b.js("return document.querySelector('[data-embed]').textContent;").await;
        assert_eq!(
            code.as_str().unwrap(),
            format!(r#"<script src="{}/widget.js" data-site="{site_key}" async></script>"#, app.base)
        );
        // The AI preview answers a sample message (the offline rules here).
        click(b, "[data-ai-preview] button[type=submit]").await;
        let reply = wait_js(b, "the AI's reply", "const t = document.querySelector('[data-ai-text]'); return t && t.textContent;").await;
        assert!(reply.as_str().unwrap().len() > 20, "{reply}");
        assert!(b.js("return document.querySelector('[data-ai-meta]').textContent;").await.as_str().unwrap().contains("rules"));
        shot(b, "integrations").await;
        b.js("document.querySelector('#chat').scrollIntoView();").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        b.screenshot(&screenshot_dir().join("dashboard-widget.png")).await;
        click(b, "[data-test=copy-embed]").await;
        wait_js(b, "Copied", "return document.querySelector('[data-test=copy-embed]').textContent === 'Copied';").await;
        // Where the browser lets us read the clipboard, it holds the code.
        let clip = b
            .client
            .execute_async(
                "const done = arguments[0]; navigator.clipboard.readText().then(done, () => done(null));",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        if let Some(text) = clip.as_str() {
            assert!(text.contains(&site_key), "clipboard: {text}");
        }
    })
    .await;
}

#[tokio::test]
async fn the_email_test_button_shows_each_servers_own_words() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mail = mail_support::servers();
    let user = mail.new_user();
    with_browser("dashboard-email", async |b: &Browser| {
        sign_in(b, &app, &account, "/integrations").await;
        let fill = async |imap_port: u16, smtp_port: u16, password: &str| {
            type_into(b, "[data-email-form] input[name=email]", &format!("{user}@acme.test")).await;
            type_into(b, "[data-email-form] input[name=username]", &user).await;
            type_into(b, "[data-email-form] input[name=password]", password).await;
            type_into(b, "[data-email-form] input[name=imap_server]", "127.0.0.1").await;
            type_into(b, "[data-email-form] input[name=imap_port]", &imap_port.to_string()).await;
            type_into(b, "[data-email-form] input[name=smtp_server]", "127.0.0.1").await;
            type_into(b, "[data-email-form] input[name=smtp_port]", &smtp_port.to_string()).await;
            for side in ["imap", "smtp"] {
                b.client
                    .find(Locator::Css(&format!("[data-email-form] select[name={side}_security]")))
                    .await
                    .unwrap()
                    .select_by_value("none")
                    .await
                    .unwrap();
            }
        };
        let checks = async || {
            b.js("return ['imap', 'smtp'].map(s => { const c = document.querySelector(`[data-check=${s}]`);
                  return {ok: c.classList.contains('ok'), fail: c.classList.contains('fail'), msg: c.querySelector('.check-msg').textContent}; });")
                .await
        };
        let run_test = async || {
            b.js("document.querySelector('[data-test-results]').hidden = true;").await;
            click(b, "[data-email-test]").await;
            wait_js(b, "test results", "return !document.querySelector('[data-test-results]').hidden;").await;
        };

        // Nothing listens: both sides fail with the system's words.
        fill(closed, closed, "whatever").await;
        run_test().await;
        let c = checks().await;
        assert_eq!(c[0]["fail"], true, "{c}");
        assert_eq!(c[1]["fail"], true, "{c}");
        assert!(c[0]["msg"].as_str().unwrap().to_lowercase().contains("refused"), "{c}");

        // A real Dovecot and SMTP server, wrong password: the servers say why.
        fill(mail.imap_port, mail.smtp_port, "not-the-password").await;
        run_test().await;
        let c = checks().await;
        assert_eq!(c[0]["fail"], true, "{c}");
        assert!(c[0]["msg"].as_str().unwrap().contains("Authentication failed"), "Dovecot's words: {c}");
        assert_eq!(c[1]["fail"], true, "{c}");
        assert!(c[1]["msg"].as_str().unwrap().contains("535"), "the SMTP reply: {c}");
        shot(b, "email-test-failed").await;

        // The right password: both pass; connect; sync now.
        fill(mail.imap_port, mail.smtp_port, mail_support::PASSWORD).await;
        run_test().await;
        let c = checks().await;
        assert_eq!(c[0]["ok"], true, "{c}");
        assert_eq!(c[1]["ok"], true, "{c}");
        click(b, "[data-email-form] button[type=submit]").await;
        wait_js(b, "connected", "return document.querySelector('[data-email]').dataset.connected === 'true';").await;
        assert_eq!(b.js("return document.querySelector('[data-email] input[name=password]').value;").await, "");
        // The page reloads with the mailbox's state.
        wait_js(b, "the connected mailbox", "return document.querySelector('[data-email] [data-messages-synced]');").await;
        // The SendGrid inbound URL (a secret, stored hashed) is shown once, after connecting.
        let url = wait_js(b, "the inbound URL", "const r = document.querySelector('[data-inbound-row]'); return r && !r.hidden && document.querySelector('[data-inbound-url]').textContent;").await;
        assert!(url.as_str().unwrap().contains("/webhooks/email/sendgrid/"), "{url}");

        // Two leads wrote; Sync now fetches them.
        let now = Utc::now().to_rfc2822();
        let messages: Vec<Vec<u8>> = ["Ann Lee <ann@lead.test>", "Bo Diaz <bo@lead.test>"]
            .iter()
            .enumerate()
            .map(|(i, from)| {
                format!(
                    "From: {from}\r\nTo: {user}@acme.test\r\nSubject: Leak over the garage {i}\r\nDate: {now}\r\n\
                     Message-ID: <dash-{i}-{user}@lead.test>\r\n\r\nWater is coming in, can you come this week?\r\n"
                )
                .into_bytes()
            })
            .collect();
        mail_support::append(&mail.imap(&user, mail_support::PASSWORD), "INBOX", &messages).await;
        click(b, "[data-email-sync]").await;
        let msg = wait_js(b, "synced", "const r = document.querySelector('[data-email] > [data-result]'); return r.textContent.startsWith('Synced') && r.textContent;").await;
        assert!(msg.as_str().unwrap().contains("2 fetched, 2 new"), "{msg}");
        wait_js(b, "the page after the sync", "const n = document.querySelector('[data-messages-synced]'); return n && n.textContent.trim() === '2';").await;
        assert_eq!(b.js("return document.querySelector('[data-email] [data-status-text]').textContent;").await, "Connected");
        shot(b, "email").await;
    })
    .await;
}

#[tokio::test]
async fn a_conversation_updates_live_and_can_be_taken_over() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let site = app
        .post(
            &account.key,
            "/api/integrations/chat/sites",
            json!({"name": "acmeroofing.com", "allowed_origins": ["https://acmeroofing.com"]}),
        )
        .await;
    let site_key = site.body["site_key"].as_str().unwrap().to_string();
    let visitor = |path: &str, body: Value| {
        app.send(
            app.http
                .post(format!("{}{path}", app.base))
                .header("Origin", "https://acmeroofing.com")
                .json(&body),
        )
    };
    let started = visitor(
        "/api/chat/session/new",
        json!({"site_key": site_key, "page_url": "https://acmeroofing.com/roof-repair", "visitor_id": "v1"}),
    )
    .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let token = started.body["session_token"].as_str().unwrap().to_string();
    let session_id = started.body["session_id"].as_str().unwrap().to_string();
    let r = visitor(
        "/api/chat/message",
        json!({"session_token": token, "message": "Hi, I'm Jane Cooper, jane@example.com. My roof is leaking <b>badly</b>."}),
    )
    .await;
    assert!(r.status < 300, "{}", r.body);
    with_browser("dashboard-conversations", async |b: &Browser| {
        sign_in(b, &app, &account, "/conversations").await;
        wait_js(b, "the session in the list", "return document.querySelectorAll('[data-session]').length === 1;").await;
        click(b, "[data-session]").await;
        wait_path(b, &format!("/conversations?session={session_id}")).await;
        let first = wait_js(b, "the visitor's message", "const m = document.querySelector('.msg-visitor'); return m && m.firstChild.textContent;").await;
        assert!(first.as_str().unwrap().contains("leaking <b>badly</b>"), "HTML stays text: {first}");
        wait_js(b, "the AI's answer", "return document.querySelectorAll('.msg-ai').length >= 1;").await;

        click(b, "[data-takeover]").await;
        wait_js(b, "taken over", "return document.querySelector('[data-mode]').textContent === 'You are answering';").await;
        type_into(b, "[data-chat-reply] textarea", "Hi Jane, this is Mike from Acme. We can come today at 3.").await;
        click(b, "[data-chat-reply] button[type=submit]").await;
        wait_js(b, "our reply", "return Array.from(document.querySelectorAll('.msg-agent')).some(m => m.textContent.includes('today at 3'));").await;

        // The visitor answers: it arrives live, without a reload, exactly once.
        let r = visitor("/api/chat/message", json!({"session_token": token, "message": "Perfect, see you at 3!"})).await;
        assert!(r.status < 300, "{}", r.body);
        wait_js(b, "the live message", "return Array.from(document.querySelectorAll('.msg-visitor')).some(m => m.textContent.includes('see you at 3'));").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let agent = b.js("return document.querySelectorAll('.msg-agent').length;").await;
        assert_eq!(agent, 1, "our reply is shown once");
        let ai = b.js("return document.querySelectorAll('.msg-ai').length;").await;
        assert_eq!(ai, 1, "the AI stays quiet after the take-over");
        shot(b, "conversations").await;
    })
    .await;
}

#[tokio::test]
async fn the_quarantine_retry_and_discard_buttons_work() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let mail = mail_support::servers();
    let r = app
        .post(&account.key, "/api/integrations/email/connect", json!({
            "email": "office@acme.test", "password": mail_support::PASSWORD,
            "imap_server": "127.0.0.1", "imap_port": mail.imap_port, "imap_security": "none",
            "smtp_server": "127.0.0.1", "smtp_port": mail.smtp_port, "smtp_security": "none", "skip_test": true}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let integration: i64 =
        sqlx::query_scalar("select id from email_integrations where account_id = $1")
            .bind(account.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    // One item that stores now (kept by an earlier failure), one with no sender at all.
    let add = async |raw: &[u8], summary: &str, digest: &str| -> i64 {
        sqlx::query_scalar(
            "insert into quarantine (account_id, source, integration_id, reason, raw, context, digest)
             values ($1, 'imap', $2, 'the message has no usable sender address', $3, jsonb_build_object('summary', $4::text), $5::bytea)
             returning id",
        )
        .bind(account.id).bind(integration).bind(raw).bind(summary).bind(digest.as_bytes())
        .fetch_one(&app.pool).await.unwrap()
    };
    let good = add(b"From: ann@lead.test\r\nSubject: Storm damage\r\nMessage-ID: <q-good@lead.test>\r\n\r\nShingles gone.\r\n", "Storm damage", "a").await;
    let bad = add(b"Subject: Nobody\r\n\r\nwho?\r\n", "Nobody", "b").await;
    with_browser("dashboard-quarantine", async |b: &Browser| {
        sign_in(b, &app, &account, "/integrations").await;
        shot(b, "quarantine").await;
        // Retry the one with no sender: it stays, and the page says why.
        click(b, &format!("[data-quarantine-item='{bad}'] [data-quarantine-retry]")).await;
        let msg = wait_js(b, "the retry's answer", "const r = document.querySelector('[data-quarantine] > [data-result]'); return r.textContent.length > 0 && r.textContent;").await;
        assert!(msg.as_str().unwrap().contains("no usable sender"), "{msg}");
        // Retry the other: stored, its row leaves the list.
        click(b, &format!("[data-quarantine-item='{good}'] [data-quarantine-retry]")).await;
        wait_js(b, "the stored item gone", &format!("return !document.querySelector(\"[data-quarantine-item='{good}']\");")).await;
        // Discard, confirmed.
        b.js("window.confirm = () => true;").await;
        click(b, &format!("[data-quarantine-item='{bad}'] [data-quarantine-discard]")).await;
        wait_js(b, "the discarded item gone", &format!("return !document.querySelector(\"[data-quarantine-item='{bad}']\");")).await;
    })
    .await;
    let left: i64 = sqlx::query_scalar("select count(*) from quarantine")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from communications where provider_message_id = 'q-good@lead.test'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
}

#[tokio::test]
async fn an_unknown_send_is_shown_and_sent_again_from_the_integrations_page() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let id: i64 = sqlx::query_scalar(
        "insert into outbox (account_id, kind, payload, status, attempts, last_error)
         values ($1, 'sms', $2, 'unknown', 1, 'the provider did not answer') returning id",
    )
    .bind(account.id)
    .bind(json!({"to": "+13126412278", "from": "+13126412200", "text": "Crew arrives at 9",
                 "lead_id": null, "automatic": false, "ai_generated": false, "only_if_missed_call": null}))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    with_browser("dashboard-outbox", async |b: &Browser| {
        sign_in(b, &app, &account, "/integrations").await;
        let row = wait_js(b, "the unknown send listed", &format!("const r = document.querySelector(\"[data-outbox-item='{id}']\"); return r && r.textContent;")).await;
        let row = row.as_str().unwrap();
        assert!(row.contains("Crew arrives at 9") && row.contains("Outcome unknown"), "{row}");
        click(b, &format!("[data-outbox-item='{id}'] [data-outbox-again]")).await;
        wait_js(b, "the row gone", &format!("return !document.querySelector(\"[data-outbox-item='{id}']\");")).await;
    })
    .await;
    let last_error: Option<String> =
        sqlx::query_scalar("select last_error from outbox where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_ne!(
        last_error.as_deref(),
        Some("the provider did not answer"),
        "queued anew"
    );
}
