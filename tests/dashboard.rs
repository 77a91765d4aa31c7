//! The dashboard through HTTP: sign-in sessions and their cookie, CSRF on forms and on
//! the JSON API used with the cookie, sign-out and expiry, escaping of stored text, tenancy,
//! and what each page shows. reqwest here has no cookie store: the `Cookie` header is set by
//! hand from the `Set-Cookie` the server sends.

mod common;

use chrono::{Duration, Utc};
use common::{spawn_app, spawn_app_with, Account, TestApp};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

const XSS_NAME: &str = "<script>alert(1)</script>";

/// A client that does not follow redirects (the tests look at them).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the `Set-Cookie` for `name`, and the whole header.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let pair = v.split(';').next().unwrap_or("").to_string();
            (pair, v.to_string())
        })
}

/// Text as the templates write it (minijinja's HTML escaping, which also escapes `/`).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

fn hidden_input(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle)? + needle.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

fn meta_csrf(html: &str) -> Option<String> {
    let needle = "<meta name=\"csrf-token\" content=\"";
    let start = html.find(needle)? + needle.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

/// A signed-in browser, as far as HTTP goes.
struct Web {
    http: reqwest::Client,
    base: String,
    /// `leadline_session=…`
    cookie: String,
    csrf: String,
}

struct LoginPage {
    login_cookie: String,
    csrf: String,
}

async fn login_page(app: &TestApp, http: &reqwest::Client) -> LoginPage {
    let res = http
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (login_cookie, _) = set_cookie(&res, "leadline_login").expect("login cookie");
    let html = res.text().await.unwrap();
    LoginPage {
        login_cookie,
        csrf: hidden_input(&html, "csrf_token").expect("csrf field"),
    }
}

async fn post_login(
    app: &TestApp,
    http: &reqwest::Client,
    page: &LoginPage,
    key: &str,
    next: &str,
) -> reqwest::Response {
    http.post(format!("{}/login", app.base))
        .header(COOKIE, &page.login_cookie)
        .form(&[("api_key", key), ("csrf_token", &page.csrf), ("next", next)])
        .send()
        .await
        .unwrap()
}

async fn sign_in(app: &TestApp, account: &Account) -> Web {
    let http = client();
    let page = login_page(app, &http).await;
    let res = post_login(app, &http, &page, &account.key, "/").await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let (cookie, _) = set_cookie(&res, "leadline_session").expect("session cookie");
    let home = http
        .get(format!("{}/", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let html = home.text().await.unwrap();
    Web {
        http,
        base: app.base.clone(),
        cookie,
        csrf: meta_csrf(&html).expect("csrf meta"),
    }
}

impl Web {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap()
    }

    async fn page(&self, path: &str) -> (u16, String) {
        let res = self.get(path).await;
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    /// A JSON API call with the cookie, and `X-CSRF-Token` when `csrf` is given.
    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
        csrf: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .json(&body);
        if let Some(t) = csrf {
            req = req.header("X-CSRF-Token", t);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn lead_count(app: &TestApp, account: &Account) -> i64 {
    sqlx::query_scalar("select count(*) from leads where account_id = $1")
        .bind(account.id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// A lead with history on every channel over three weeks: emails, texts, a call with a
/// recording, a chat, an AI reply, positive and negative messages.
async fn seed_lead(app: &TestApp, account: &Account, name: &str) -> i64 {
    let now = Utc::now();
    let lead = app
        .post(
            &account.key,
            "/api/leads",
            json!({"name": name, "email": "jane@example.com", "phone": "+13126412278",
                   "property_address": "12 Elm St, Springfield"}),
        )
        .await;
    assert_eq!(lead.status, 201, "{}", lead.body);
    let id = lead.body["id"].as_i64().unwrap();
    let touches = [
        (
            20,
            "email",
            "inbound",
            "Roof leak",
            "Water is coming through the ceiling after the storm. Please help!",
            false,
        ),
        (
            19,
            "email",
            "outbound",
            "Re: Roof leak",
            "Sorry to hear that. We can come Thursday.",
            false,
        ),
        (
            12,
            "sms",
            "inbound",
            "",
            "Thursday works, thank you so much, great service",
            false,
        ),
        (12, "sms", "outbound", "", "Great, see you then.", true),
        (
            5,
            "chat",
            "inbound",
            "",
            "This is terrible, nobody showed up and it is still leaking",
            false,
        ),
        (
            1,
            "email",
            "inbound",
            "Still waiting",
            "Any update? I am getting worried.\nSecond line.",
            false,
        ),
    ];
    for (i, (days, kind, dir, subject, content, ai)) in touches.iter().enumerate() {
        let mut body = json!({
            "type": kind, "direction": dir, "lead_id": id, "content": content,
            "timestamp": (now - Duration::days(*days) + Duration::minutes(i as i64)).to_rfc3339(),
            "ai_generated": ai, "provider_message_id": format!("seed-{name}-{i}"),
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
            json!({"call_id": format!("call-{name}"), "lead_id": id, "direction": "inbound",
                   "duration_seconds": 200, "outcome": "completed",
                   "timestamp": (now - Duration::days(3)).to_rfc3339(),
                   "recording_url": "https://recordings.example.com/r1.mp3",
                   "transcript": "Caller asked about the inspection time."}),
        )
        .await;
    assert_eq!(call.status, 201, "{}", call.body);
    id
}

#[tokio::test]
async fn pages_redirect_to_login_without_a_session() {
    let app = spawn_app().await;
    let http = client();
    for (path, to) in [
        ("/", "/login"),
        ("/leads", "/login?next=/leads"),
        // The space arrives as %20, which is kept as it came (encoded once more).
        (
            "/leads?band=HOT&q=a b",
            "/login?next=/leads%3Fband%3DHOT%26q%3Da%2520b",
        ),
        ("/leads/1", "/login?next=/leads/1"),
        ("/integrations", "/login?next=/integrations"),
        ("/conversations", "/login?next=/conversations"),
        ("/settings/hours", "/login?next=/settings/hours"),
        ("/templates", "/login?next=/templates"),
        ("/sequences", "/login?next=/sequences"),
        (
            "/integrations/widget-preview?site_id=1",
            "/login?next=/integrations/widget-preview%3Fsite_id%3D1",
        ),
    ] {
        let res = http
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), to, "{path}");
    }
    // An unknown cookie is no session either, and is cleared.
    let res = http
        .get(format!("{}/leads", app.base))
        .header(COOKIE, "leadline_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, header) = set_cookie(&res, "leadline_session").expect("cleared");
    assert!(header.contains("Max-Age=0"), "{header}");
    // The sign-in page itself is public, with the next page in its form.
    let res = http
        .get(format!("{}/login?next=/leads%3Fband%3DHOT", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert_eq!(hidden_input(&html, "next"), Some(esc("/leads?band=HOT")));
    assert!(html.contains("name=\"email\"") && html.contains("name=\"password\""));
    // Developers sign in with a key on their own page, which posts to /login too.
    let res = http
        .get(format!("{}/login/key?next=/leads", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("name=\"api_key\""));
    assert_eq!(hidden_input(&html, "next"), Some(esc("/leads")));
}

#[tokio::test]
async fn a_wrong_key_shows_an_error_and_starts_no_session() {
    let app = spawn_app().await;
    let http = client();
    let page = login_page(&app, &http).await;
    let res = post_login(&app, &http, &page, "ll_not_a_real_key", "/").await;
    assert_eq!(res.status(), 401);
    assert!(set_cookie(&res, "leadline_session").is_none());
    let html = res.text().await.unwrap();
    assert!(html.contains("data-test=\"login-error\""), "{html}");
    assert!(html.contains("not valid"));
    let n: i64 = sqlx::query_scalar("select count(*) from dashboard_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn signing_in_sets_a_strict_http_only_cookie_and_follows_next() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let http = client();
    let page = login_page(&app, &http).await;
    let res = post_login(&app, &http, &page, &account.key, "/leads?band=HOT").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/leads?band=HOT");
    let (pair, header) = set_cookie(&res, "leadline_session").unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(header.contains(flag), "{header}");
    }
    assert!(!header.contains("Secure"), "plain http: {header}");
    // Only the token's hash is stored; the API key is nowhere.
    let token = pair.trim_start_matches("leadline_session=");
    let (hash, account_id): (Vec<u8>, i64) =
        sqlx::query_as("select token_hash, account_id from dashboard_sessions")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(account_id, account.id);
    assert_ne!(hash, token.as_bytes());
    assert_eq!(hash.len(), 32);
    assert!(!header.contains(&account.key));
    // Signed in, the login page sends you on.
    let res = http
        .get(format!("{}/login", app.base))
        .header(COOKIE, &pair)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // Somewhere else than this site is never a destination.
    for evil in [
        "//evil.example/x",
        "https://evil.example",
        "/\\evil.example",
    ] {
        let page = login_page(&app, &http).await;
        let res = post_login(&app, &http, &page, &account.key, evil).await;
        assert_eq!(res.status(), 303);
        assert_eq!(location(&res), "/", "{evil}");
    }
}

#[tokio::test]
async fn signing_in_again_replaces_the_old_session() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    let page = login_page(&app, &web.http).await;
    let res = web
        .http
        .post(format!("{}/login", app.base))
        .header(COOKIE, format!("{}; {}", web.cookie, page.login_cookie))
        .form(&[
            ("api_key", account.key.as_str()),
            ("csrf_token", &page.csrf),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (fresh, _) = set_cookie(&res, "leadline_session").unwrap();
    assert_ne!(fresh, web.cookie);
    assert_eq!(web.get("/").await.status(), 303, "the old token is gone");
    let n: i64 = sqlx::query_scalar("select count(*) from dashboard_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn the_cookie_is_secure_when_the_public_url_is_https() {
    let app = spawn_app_with(&[("LEADLINE_PUBLIC_URL", "https://leads.example.com")]).await;
    let account = app.account("Acme").await;
    let http = client();
    let page = login_page(&app, &http).await;
    let res = post_login(&app, &http, &page, &account.key, "/").await;
    let (_, header) = set_cookie(&res, "leadline_session").unwrap();
    assert!(header.contains("; Secure"), "{header}");
}

#[tokio::test]
async fn signing_in_without_the_forms_token_is_refused() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let http = client();
    // No login cookie (a form posted from another site).
    let res = http
        .post(format!("{}/login", app.base))
        .form(&[("api_key", account.key.as_str()), ("csrf_token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie(&res, "leadline_session").is_none());
    // A token that does not match the cookie.
    let page = login_page(&app, &http).await;
    let res = http
        .post(format!("{}/login", app.base))
        .header(COOKIE, &page.login_cookie)
        .form(&[("api_key", account.key.as_str()), ("csrf_token", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie(&res, "leadline_session").is_none());
}

#[tokio::test]
async fn forms_without_or_with_a_wrong_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    for form in [
        vec![],
        vec![("csrf_token", "wrong")],
        vec![("csrf_token", "")],
    ] {
        let res = web.post_form("/logout", &form).await;
        assert_eq!(res.status(), 403, "{form:?}");
        assert!(set_cookie(&res, "leadline_session").is_none());
        let html = res.text().await.unwrap();
        assert!(html.contains("nothing was changed"), "{html}");
    }
    // Still signed in.
    assert_eq!(web.get("/").await.status(), 200);
    let n: i64 = sqlx::query_scalar("select count(*) from dashboard_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn the_json_api_takes_the_session_cookie_and_wants_the_csrf_header_for_changes() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    let (status, body) = web
        .api(reqwest::Method::GET, "/api/leads", json!(null), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["items"].is_array());

    let lead = json!({"name": "Jane"});
    let (status, body) = web
        .api(reqwest::Method::POST, "/api/leads", lead.clone(), None)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "csrf");
    let (status, body) = web
        .api(
            reqwest::Method::POST,
            "/api/leads",
            lead.clone(),
            Some("wrong"),
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "csrf");
    assert_eq!(lead_count(&app, &account).await, 0, "nothing was created");

    let (status, body) = web
        .api(reqwest::Method::POST, "/api/leads", lead, Some(&web.csrf))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_i64().unwrap();
    let (status, _) = web
        .api(
            reqwest::Method::PATCH,
            &format!("/api/leads/{id}"),
            json!({"status": "won"}),
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = web
        .api(
            reqwest::Method::PATCH,
            &format!("/api/leads/{id}"),
            json!({"status": "won"}),
            Some(&web.csrf),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Bearer keys are unchanged, and win over a cookie.
    let r = app.get(&account.key, "/api/leads").await;
    assert_eq!(r.status, 200);
    let other = app.account("Other").await;
    let r = app
        .send(
            app.http
                .get(format!("{}/api/leads", app.base))
                .bearer_auth(&other.key)
                .header(COOKIE, &web.cookie),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        0,
        "the key's account, not the cookie's"
    );
    // No credentials at all: 401 as before.
    let r = app
        .send(app.http.get(format!("{}/api/leads", app.base)))
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    let res = web.post_form("/logout", &[("csrf_token", &web.csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let (_, header) = set_cookie(&res, "leadline_session").unwrap();
    assert!(header.contains("Max-Age=0"));
    let n: i64 = sqlx::query_scalar("select count(*) from dashboard_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // The old cookie opens nothing any more.
    let res = web.get("/leads").await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with("/login"));
    let (status, body) = web
        .api(reqwest::Method::GET, "/api/leads", json!(null), None)
        .await;
    assert_eq!(status, 401, "{body}");
}

#[tokio::test]
async fn an_expired_or_idle_session_redirects_to_login() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    sqlx::query("update dashboard_sessions set expires_at = now() - interval '1 minute'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = web.get("/integrations").await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login?next=/integrations");
    let (status, _) = web
        .api(reqwest::Method::GET, "/api/leads", json!(null), None)
        .await;
    assert_eq!(status, 401);

    let web = sign_in(&app, &account).await;
    assert_eq!(web.get("/").await.status(), 200);
    sqlx::query("update dashboard_sessions set last_seen_at = now() - interval '121 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let res = web.get("/").await;
    assert_eq!(res.status(), 303, "idle for more than 2 hours");
    // The login page says why.
    let res = web.get("/login").await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("session has ended"));
}

#[tokio::test]
async fn a_lead_named_like_a_script_is_shown_as_text() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let id = seed_lead(&app, &account, XSS_NAME).await;
    let r = app
        .log(
            &account.key,
            json!({"type": "sms", "direction": "inbound", "lead_id": id,
                   "content": "<img src=x onerror=alert(2)> please call"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let web = sign_in(&app, &account).await;
    for path in [
        "/leads".to_string(),
        format!("/leads/{id}"),
        "/".to_string(),
    ] {
        let (status, html) = web.page(&path).await;
        assert_eq!(status, 200, "{path}");
        assert!(!html.contains(XSS_NAME), "{path} has the raw name");
        assert!(
            !html.contains("<img src=x"),
            "{path} has raw HTML from a message"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;"),
            "{path} shows the name as text"
        );
    }
    let (_, html) = web.page(&format!("/leads/{id}")).await;
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt; please call"));
}

#[tokio::test]
async fn another_accounts_lead_is_a_404_page() {
    let app = spawn_app().await;
    let acme = app.account("Acme").await;
    let other = app.account("Other").await;
    let theirs = seed_lead(&app, &other, "Their lead").await;
    let web = sign_in(&app, &acme).await;
    for path in [
        format!("/leads/{theirs}"),
        "/leads/999999".into(),
        "/leads/abc".into(),
    ] {
        let (status, html) = web.page(&path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Not found"), "{path}");
        assert!(!html.contains("Their lead"));
    }
    // Their widget site too.
    let site = app
        .post(
            &other.key,
            "/api/integrations/chat/sites",
            json!({"name": "Theirs"}),
        )
        .await;
    let sid = site.body["id"].as_i64().unwrap();
    let (status, _) = web
        .page(&format!("/integrations/widget-preview?site_id={sid}"))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_lead_profile_shows_history_charts_and_the_reply_box() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let id = seed_lead(&app, &account, "Jane Doe").await;
    let web = sign_in(&app, &account).await;
    let (status, html) = web.page(&format!("/leads/{id}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("data-test=\"lead-name\">Jane Doe<"));
    // Both charts, drawn on the server.
    assert!(
        html.contains("<svg class=\"chart\""),
        "charts are inline SVG"
    );
    assert!(html.contains("aria-label=\"Touches per channel per week\""));
    assert!(
        html.contains("aria-label=\"Sentiment of the lead&#x27;s messages over time\"")
            || html.contains("aria-label=\"Sentiment of the lead&#39;s messages over time\"")
    );
    assert!(html.contains("class=\"point\""), "sentiment points");
    assert!(html.contains("class=\"bar\""), "weekly bars");
    // Timeline: newest first, emails expandable, the call's recording, AI marked.
    let timeline = &html[html.find("data-timeline").expect("timeline")..];
    let newest = timeline.find("Still waiting").unwrap();
    let oldest = timeline.find("<strong>Roof leak</strong>").unwrap();
    assert!(newest < oldest, "newest first");
    assert!(html.contains("<details class=\"tl-details\">"));
    assert!(html.contains(&format!(
        "href=\"{}\"",
        esc("https://recordings.example.com/r1.mp3")
    )));
    assert!(html.contains("AI-generated"));
    assert!(html.contains("3 min 20 s"));
    // Score, summary, next action, completeness.
    assert!(html.contains("Next best action"));
    assert!(html.contains("Profile completeness"));
    assert!(html.contains("Missing:"));
    assert!(html.contains("data-reply"));
    assert!(html.contains("value=\"Re: Still waiting\""));
    // Follow-ups: in no sequence yet, the ready-made ones offered (off until turned on).
    let follow_ups = &html[html.find("data-follow-ups").expect("follow-ups card")..];
    assert!(follow_ups.contains("Not in any sequence."));
    assert!(follow_ups.contains("Cold-lead nurture (off)"));
    assert!(follow_ups.contains("data-seq-enrol"));
    // No templates yet: the reply box offers none.
    assert!(!html.contains("data-use-template"));
}

#[tokio::test]
async fn leads_are_filtered_searched_sorted_and_paged() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    // HOT: contact + address (85); WARM: contact only (70); COLD: name only (50).
    let hot = app
        .post(
            &account.key,
            "/api/leads",
            json!({"name": "Hank Hot", "phone": "(312) 555-0101", "property_address": "1 Main St"}),
        )
        .await;
    let warm = app
        .post(
            &account.key,
            "/api/leads",
            json!({"name": "Wendy Warm", "email": "wendy@example.com"}),
        )
        .await;
    let cold = app
        .post(&account.key, "/api/leads", json!({"name": "Carl Cold"}))
        .await;
    assert_eq!(hot.body["score_band"], "HOT", "{}", hot.body);
    assert_eq!(warm.body["score_band"], "WARM", "{}", warm.body);
    assert_eq!(cold.body["score_band"], "COLD", "{}", cold.body);
    let r = app
        .log(&account.key, json!({"type": "sms", "direction": "inbound", "lead_id": warm.body["id"], "content": "hi"}))
        .await;
    assert_eq!(r.status, 201);
    let web = sign_in(&app, &account).await;

    let (_, html) = web.page("/leads?band=HOT").await;
    assert!(
        html.contains("Hank Hot") && !html.contains("Wendy Warm") && !html.contains("Carl Cold")
    );
    let (_, html) = web.page("/leads?band=cold").await;
    assert!(html.contains("Carl Cold") && !html.contains("Hank Hot"));
    let (_, html) = web.page("/leads?channel=sms").await;
    assert!(html.contains("Wendy Warm") && !html.contains("Hank Hot"));
    let (_, html) = web.page("/leads?q=555-0101").await;
    assert!(
        html.contains("Hank Hot") && !html.contains("Wendy Warm"),
        "phone digits match"
    );
    let (_, html) = web.page("/leads?q=WENDY%40").await;
    assert!(html.contains("Wendy Warm") && !html.contains("Hank Hot"));
    let (_, html) = web.page("/leads?sort=name&dir=asc").await;
    let (c, h, w) = (
        html.find("Carl Cold").unwrap(),
        html.find("Hank Hot").unwrap(),
        html.find("Wendy Warm").unwrap(),
    );
    assert!(c < h && h < w, "by name");
    let (_, html) = web.page("/leads?sort=score").await;
    let (c, h, w) = (
        html.find("Carl Cold").unwrap(),
        html.find("Hank Hot").unwrap(),
        html.find("Wendy Warm").unwrap(),
    );
    assert!(h < w && w < c, "by score, highest first");
    // A lead without any touch: empty charts and timeline, no error.
    let (status, html) = web.page(&format!("/leads/{}", cold.body["id"])).await;
    assert_eq!(status, 200);
    assert!(html.contains("No communications yet"));
    assert!(html.contains("No communications with this lead yet."));
    // Garbage parameters fall back to the defaults.
    let (status, _) = web.page("/leads?band=PURPLE&sort=%27;drop&page=-3").await;
    assert_eq!(status, 200);

    for i in 0..27 {
        app.post(
            &account.key,
            "/api/leads",
            json!({"name": format!("Bulk {i:02}")}),
        )
        .await;
    }
    let (_, html) = web.page("/leads?sort=name").await;
    assert!(
        html.contains("1–25 of 30"),
        "{}",
        &html[html.find("pager").unwrap_or(0)..][..200.min(html.len())]
    );
    assert!(html.contains("rel=\"next\""));
    let (_, html) = web.page("/leads?sort=name&page=2").await;
    assert!(html.contains("26–30 of 30"));
    assert!(html.contains("Wendy Warm") && !html.contains("Bulk 00"));
}

#[tokio::test]
async fn home_shows_the_week_and_health_falls_back_gracefully() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    seed_lead(&app, &account, "Jane Doe").await;
    let r = app
        .log(&account.key, json!({"type": "chat", "direction": "inbound",
            "lead": {"name": "Walk In", "email": "walkin@example.com"}, "content": "Need a quote asap"}))
        .await;
    assert_eq!(r.status, 201);
    let web = sign_in(&app, &account).await;
    let (status, html) = web.page("/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Touches this week"));
    assert!(html.contains("Speed to lead"));
    assert!(html.contains("Response rate"));
    assert!(
        html.contains("badge-hot") && html.contains("badge-warm") && html.contains("badge-cold")
    );
    assert!(html.contains("Next actions due"));
    assert!(html.contains("Walk In"), "an unanswered lead is due");
    assert!(html.contains("data-health"), "health is loaded by the page");
    assert!(html.contains("<svg class=\"chart\""));
    // Leads by first source: the chat lead, one row.
    let by_source = html.split("data-test=\"by-source\"").nth(1).unwrap();
    let by_source = by_source.split("</section>").next().unwrap();
    assert!(
        by_source.contains(r#"source=chat">Chat</a></td><td class="num">1</td>"#),
        "{by_source}"
    );
    let (_, html) = web.page("/leads?source=chat").await;
    assert!(
        html.contains("Walk In") && !html.contains("Jane Doe"),
        "{html}"
    );
}

#[tokio::test]
async fn integrations_show_the_embed_code_webhook_and_preview() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    let (status, html) = web.page("/integrations").await;
    assert_eq!(status, 200);
    assert!(html.contains("Not connected"));
    assert!(html.contains(&esc(&format!("{}/webhooks/telnyx", app.base))));
    assert!(html.contains("Add your website"));

    let site = app
        .post(
            &account.key,
            "/api/integrations/chat/sites",
            json!({"name": "Acme <main>", "allowed_origins": ["https://acmeroofing.com"]}),
        )
        .await;
    assert_eq!(site.status, 201);
    let site_id = site.body["id"].as_i64().unwrap();
    let key = site.body["site_key"].as_str().unwrap();
    let (_, html) = web.page("/integrations").await;
    let embed = format!(
        r#"<script src="{}/widget.js" data-site="{key}" async></script>"#,
        app.base
    );
    assert!(html.contains(&esc(&embed)), "the embed code, as text");
    assert!(html.contains("Acme &lt;main&gt;"));
    assert!(html.contains(&format!(
        "src=\"/integrations/widget-preview?site_id={site_id}\""
    )));
    assert!(html.contains("type=\"color\""));

    // SMS connected: its numbers, quiet hours and toggle are shown, never the key.
    let sms = app
        .post(&account.key, "/api/integrations/sms/connect", json!({
            "api_key": "KEY0123SECRET", "messaging_profile_id": "mp-1", "phone_numbers": ["+13125550100"],
            "quiet_hours": {"start": "21:00", "end": "08:00", "timezone": "America/Chicago"},
            "missed_call_text_back": true}))
        .await;
    assert_eq!(sms.status, 200, "{}", sms.body);
    let (_, html) = web.page("/integrations").await;
    assert!(html.contains("+13125550100"));
    assert!(html.contains("value=\"21:00\"") && html.contains("America&#x2f;Chicago"));
    assert!(html.contains("name=\"missed_call_text_back\" data-type=\"bool\" checked"));
    assert!(!html.contains("KEY0123SECRET"), "the key is write-only");
    assert!(html.contains("data-sms-disconnect"));

    // The preview applies unsaved settings over the saved ones.
    let (status, html) = web
        .page(&format!("/integrations/widget-preview?site_id={site_id}&color_theme=%23c0392b&company_name=%3Cb%3EX"))
        .await;
    assert_eq!(status, 200);
    assert!(html.contains(&format!(
        "<script src=\"/widget.js\" data-site=\"{key}\" async></script>"
    )));
    assert!(html.contains("#c0392b"));
    assert!(!html.contains("<b>X"));
    // A color that is not one is ignored.
    let (_, html) = web
        .page(&format!(
            "/integrations/widget-preview?site_id={site_id}&color_theme=red;x"
        ))
        .await;
    assert!(html.contains("#1f6feb") && !html.contains("red;x"));
}

#[tokio::test]
async fn pages_carry_security_headers_and_assets_are_served() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    let res = web.get("/conversations").await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'self'"),
        "{csp}"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external request"
    );
    for (path, ty) in [
        ("/static/app.css", "text/css"),
        ("/static/app.js", "text/javascript"),
        ("/static/automations.js", "text/javascript"),
    ] {
        let res = client()
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with(ty));
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} loads nothing external"
        );
    }
}

#[tokio::test]
async fn the_quarantine_is_shown_with_retry_and_discard() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let web = sign_in(&app, &account).await;
    let (_, html) = web.page("/integrations").await;
    assert!(
        html.contains("Nothing is waiting"),
        "an empty quarantine says so"
    );
    let id: i64 = sqlx::query_scalar(
        "insert into quarantine (account_id, source, reason, raw, context, digest)
         values ($1, 'mailgun', 'the message has no usable sender address', 'raw bytes', '{\"summary\": \"Who <am> I\"}', 'd')
         returning id",
    )
    .bind(account.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let (_, html) = web.page("/integrations").await;
    assert!(
        html.contains(&format!("data-quarantine-item=\"{id}\"")),
        "{html}"
    );
    assert!(html.contains("Who &lt;am&gt; I"), "the summary is escaped");
    assert!(html.contains("the message has no usable sender address"));
    assert!(html.contains("data-quarantine-retry") && html.contains("data-quarantine-discard"));
    assert!(html.contains("1 waiting"));
    // What the Discard button calls: the JSON API with the session and its CSRF token.
    let path = format!("/api/quarantine/{id}");
    let (status, _) = web
        .api(reqwest::Method::DELETE, &path, json!({}), None)
        .await;
    assert_eq!(status, 403, "no CSRF token, nothing discarded");
    let (status, _) = web
        .api(reqwest::Method::DELETE, &path, json!({}), Some(&web.csrf))
        .await;
    assert_eq!(status, 204);
    let (_, html) = web.page("/integrations").await;
    assert!(html.contains("Nothing is waiting"));
}

#[tokio::test]
async fn revoking_a_key_ends_the_sessions_opened_with_it() {
    let app = spawn_app().await;
    let owner = app.account("Acme").await;
    let r = app
        .post(&owner.key, "/api/keys", json!({"name": "office laptop"}))
        .await;
    let laptop = Account {
        id: owner.id,
        key: r.body["api_key"].as_str().unwrap().to_string(),
    };
    let web = sign_in(&app, &laptop).await;
    let other = sign_in(&app, &owner).await;
    let (status, html) = web.page("/integrations").await;
    assert_eq!(status, 200);
    assert!(html.contains("office laptop"), "the keys section lists it");
    let (status, _) = web
        .api(reqwest::Method::GET, "/api/leads", json!({}), None)
        .await;
    assert_eq!(status, 200);
    let id = r.body["id"].as_i64().unwrap();
    let (status, _) = other
        .api(
            reqwest::Method::DELETE,
            &format!("/api/keys/{id}"),
            json!({}),
            Some(&other.csrf),
        )
        .await;
    assert_eq!(status, 204);
    // The session opened with the revoked key ends on its next request, page or API.
    let res = web.get("/integrations").await;
    assert_eq!(location(&res), "/login?next=/integrations");
    let (status, _) = web
        .api(reqwest::Method::GET, "/api/leads", json!({}), None)
        .await;
    assert_eq!(status, 401);
    // The other key's session goes on.
    assert_eq!(other.page("/integrations").await.0, 200);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_with_retry_after() {
    let app = spawn_app().await;
    let account = app.account("Acme").await;
    let http = client();
    let wrong = async || {
        let page = login_page(&app, &http).await;
        post_login(&app, &http, &page, "ll_not-a-key", "/").await
    };
    for _ in 0..leadline::throttle::FREE_FAILURES {
        assert_eq!(wrong().await.status(), 401);
    }
    let res = wrong().await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Too many failed sign-ins"));
    // Each further wrong key doubles the wait: 4 s, 8, 16, 32, 64 s.
    let mut waits = vec![];
    for _ in 0..5 {
        let res = wrong().await;
        assert_eq!(res.status(), 429);
        waits.push(
            res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse::<i64>()
                .unwrap(),
        );
    }
    assert!(
        waits.windows(2).all(|w| w[1] > w[0]) && waits[4] > 32,
        "{waits:?}"
    );
    // Blocked means blocked: the right key waits too (for over half a minute now, so a
    // slow machine cannot outrun it).
    let page = login_page(&app, &http).await;
    let res = post_login(&app, &http, &page, &account.key, "/").await;
    assert_eq!(res.status(), 429);
}
