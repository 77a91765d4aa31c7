//! Website chat through HTTP: sites and settings, the public session API with its origin
//! checks and rate limits, lead capture and the product spec's chat score across a
//! scripted conversation, human takeover, live events across two replicas, closing,
//! returning leads, tenant isolation, and the widget script's caching.

mod common;

use std::time::Duration;

use common::{spawn_app, spawn_app_with, spawn_on_pool, Account, Resp, TestApp};
use futures_util::StreamExt;
use serde_json::{json, Value};

const ORIGIN: &str = "https://acmeroofing.com";

/// A site that allows `ORIGIN`, with AI answers on or off.
async fn site(app: &TestApp, a: &Account, ai: bool) -> (i64, String) {
    let r = app
        .post(
            &a.key,
            "/api/integrations/chat/sites",
            json!({"name": "Acme main site", "allowed_origins": ["https://AcmeRoofing.com/"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["allowed_origins"], json!([ORIGIN]));
    let id = r.body["id"].as_i64().unwrap();
    let s = app
        .post(
            &a.key,
            "/api/integrations/chat/settings",
            json!({"site_id": id, "company_name": "Acme Roofing", "color_theme": "#C0392B",
                   "greeting_message": "Hi! Need help with your roof?", "ai_responses": ai}),
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    (id, r.body["site_key"].as_str().unwrap().to_string())
}

async fn public(app: &TestApp, path: &str, origin: Option<&str>, body: Value) -> Resp {
    let mut req = app.http.post(format!("{}{path}", app.base)).json(&body);
    if let Some(o) = origin {
        req = req.header("Origin", o);
    }
    app.send(req).await
}

async fn start(app: &TestApp, key: &str) -> String {
    let r = public(
        app,
        "/api/chat/session/new",
        Some(ORIGIN),
        json!({"site_key": key, "page_url": "https://acmeroofing.com/roof-repair", "referrer": "https://google.com/"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["session_token"].as_str().unwrap().to_string()
}

async fn say(app: &TestApp, token: &str, text: &str) -> Resp {
    public(
        app,
        "/api/chat/message",
        Some(ORIGIN),
        json!({"session_token": token, "message": text}),
    )
    .await
}

async fn session_of(app: &TestApp, a: &Account) -> Value {
    let list = app.get(&a.key, "/api/chat/sessions").await;
    assert_eq!(list.status, 200, "{}", list.body);
    let sid = list.body["items"][0]["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.get(&a.key, &format!("/api/chat/sessions/{sid}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn rules(detail: &Value) -> Vec<String> {
    let mut r: Vec<String> = detail["score_breakdown"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect();
    r.sort();
    r
}

#[tokio::test]
async fn sites_settings_and_embed_code_are_validated() {
    let app = spawn_app_with(&[("LEADLINE_PUBLIC_URL", "https://leads.example.com/")]).await;
    let a = app.account("Acme").await;
    let bad = app
        .post(
            &a.key,
            "/api/integrations/chat/sites",
            json!({"name": "x", "allowed_origins": ["https://acme.com/contact"]}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.error_message().contains("https://acme.com/contact"));
    let (id, key) = site(&app, &a, true).await;
    assert!(key.starts_with("ws_"));

    let color = app
        .post(
            &a.key,
            "/api/integrations/chat/settings",
            json!({"site_id": id, "color_theme": "red"}),
        )
        .await;
    assert_eq!(color.status, 422);
    assert!(color.error_message().contains("color_theme"));
    let pos = app
        .post(
            &a.key,
            "/api/integrations/chat/settings",
            json!({"site_id": id, "position": "top"}),
        )
        .await;
    assert_eq!(pos.status, 422);
    let long = app
        .post(
            &a.key,
            "/api/integrations/chat/settings",
            json!({"site_id": id, "greeting_message": "x".repeat(501)}),
        )
        .await;
    assert_eq!(long.status, 422);

    let got = app
        .get(
            &a.key,
            &format!("/api/integrations/chat/settings?site_id={id}"),
        )
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["color_theme"], "#c0392b");
    assert_eq!(got.body["company_name"], "Acme Roofing");
    assert_eq!(got.body["position"], "bottom-right");
    assert_eq!(got.body["collect_email"], true);

    let code = app
        .get(
            &a.key,
            &format!("/api/integrations/chat/widget-code?site_id={id}"),
        )
        .await;
    assert_eq!(code.status, 200);
    assert_eq!(code.body["site_key"], key.as_str());
    assert_eq!(
        code.body["code"],
        format!(
            r#"<script src="https://leads.example.com/widget.js" data-site="{key}" async></script>"#
        )
    );

    let renamed = app
        .patch(
            &a.key,
            &format!("/api/integrations/chat/sites/{id}"),
            json!({"name": "Acme Dallas"}),
        )
        .await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.body["name"], "Acme Dallas");
    assert_eq!(renamed.body["allowed_origins"], json!([ORIGIN]));

    // Another account sees none of it.
    let b = app.account("Other").await;
    assert_eq!(
        app.get(
            &b.key,
            &format!("/api/integrations/chat/settings?site_id={id}")
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.get(&b.key, "/api/integrations/chat/sites").await.body,
        json!([])
    );
    let del = app
        .send(
            app.http
                .delete(format!("{}/api/integrations/chat/sites/{id}", app.base))
                .bearer_auth(&b.key),
        )
        .await;
    assert_eq!(del.status, 404);
    let del = app
        .send(
            app.http
                .delete(format!("{}/api/integrations/chat/sites/{id}", app.base))
                .bearer_auth(&a.key),
        )
        .await;
    assert_eq!(del.status, 204);
    let gone = public(
        &app,
        "/api/chat/session/new",
        Some(ORIGIN),
        json!({"site_key": key}),
    )
    .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn origins_are_checked_and_cors_answers_only_allowed_ones() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let (_, key) = site(&app, &a, true).await;

    let site = app
        .send(
            app.http
                .get(format!("{}/api/chat/site?site_key={key}", app.base))
                .header("Origin", ORIGIN),
        )
        .await;
    assert_eq!(site.status, 200, "{}", site.body);
    assert_eq!(site.body["settings"]["color_theme"], "#c0392b");
    assert_eq!(site.headers["access-control-allow-origin"], ORIGIN);
    assert!(
        site.body["settings"].get("ai_responses").is_none(),
        "internal settings stay private"
    );

    let evil = public(
        &app,
        "/api/chat/session/new",
        Some("https://evil.example"),
        json!({"site_key": key}),
    )
    .await;
    assert_eq!(evil.status, 403);
    assert_eq!(evil.error_code(), "forbidden");
    // A forged Host does not make its origin this server's own.
    let forged = app
        .send(
            app.http
                .post(format!("{}/api/chat/session/new", app.base))
                .header("Host", "evil.example")
                .header("Origin", "http://evil.example")
                .json(&json!({"site_key": key})),
        )
        .await;
    assert_eq!(forged.status, 403, "{:?}", forged.body);
    // The server's own address is (the dashboard's preview posts from there).
    let own = public(
        &app,
        "/api/chat/session/new",
        Some(&app.base),
        json!({"site_key": key}),
    )
    .await;
    assert_eq!(own.status, 201, "{:?}", own.body);
    let none = public(
        &app,
        "/api/chat/session/new",
        None,
        json!({"site_key": key}),
    )
    .await;
    assert_eq!(none.status, 403);
    // A page of this server itself (the dashboard's preview): browsers send no Origin on
    // same-origin GETs, only Sec-Fetch-Site.
    let own = app
        .send(
            app.http
                .get(format!("{}/api/chat/site?site_key={key}", app.base))
                .header("Sec-Fetch-Site", "same-origin"),
        )
        .await;
    assert_eq!(own.status, 200);
    let cross = app
        .send(
            app.http
                .get(format!("{}/api/chat/site?site_key={key}", app.base))
                .header("Sec-Fetch-Site", "cross-site"),
        )
        .await;
    assert_eq!(cross.status, 403);
    let unknown = public(
        &app,
        "/api/chat/session/new",
        Some(ORIGIN),
        json!({"site_key": "ws_nope"}),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let malformed = public(
        &app,
        "/api/chat/session/new",
        Some(ORIGIN),
        json!({"site": key}),
    )
    .await;
    assert_eq!(malformed.status, 422);

    let preflight = |origin: &'static str| {
        app.http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/chat/message", app.base),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "content-type")
    };
    let ok = app.send(preflight(ORIGIN)).await;
    assert_eq!(ok.status, 204);
    assert_eq!(ok.headers["access-control-allow-origin"], ORIGIN);
    assert!(ok.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("content-type"));
    let refused = app.send(preflight("https://evil.example")).await;
    assert_eq!(refused.status, 403);
    assert!(refused.headers.get("access-control-allow-origin").is_none());

    // A token used from a foreign page is refused too.
    let token = start(&app, &key).await;
    let foreign = public(
        &app,
        "/api/chat/message",
        Some("https://evil.example"),
        json!({"session_token": token, "message": "hi"}),
    )
    .await;
    assert_eq!(foreign.status, 403);
    let bad_token = say(&app, "not-a-token", "hi").await;
    assert_eq!(bad_token.status, 401);
    assert_eq!(
        bad_token.headers["access-control-allow-origin"], ORIGIN,
        "the widget can read the error"
    );
}

#[tokio::test]
async fn a_scripted_conversation_scores_cold_then_warm_then_hot() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let (_, key) = site(&app, &a, true).await;
    let token = start(&app, &key).await;

    let r = say(
        &app,
        &token,
        "Hi, I'm Jane Doe. I have a question about my roof.",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"]["author"], "visitor");
    assert_eq!(r.body["reply"]["author"], "ai");
    assert!(!r.body["reply"]["text"].as_str().unwrap().is_empty());
    assert!(
        r.body.get("score").is_none() && r.body["message"].get("score").is_none(),
        "the visitor never sees the score"
    );
    let d = session_of(&app, &a).await;
    assert_eq!(d["engagement_score"], 50);
    assert_eq!(d["score_band"], "COLD");
    assert_eq!(d["lead_data"]["name"], "Jane Doe");
    assert_eq!(d["message_count"], 2);

    say(&app, &token, "You can reach me at Jane.Doe@Example.com").await;
    let d = session_of(&app, &a).await;
    assert_eq!(d["engagement_score"], 70);
    assert_eq!(d["score_band"], "WARM");
    assert_eq!(rules(&d), ["base", "contact_info"]);
    assert_eq!(d["lead_email"], "jane.doe@example.com");

    say(
        &app,
        &token,
        "The house is at 123 Oak Street, Dallas TX 75201",
    )
    .await;
    let d = session_of(&app, &a).await;
    // 6 messages now (3 each way): +15 address, +10 for 5 or more messages.
    assert_eq!(d["message_count"], 6);
    assert_eq!(
        rules(&d),
        [
            "base",
            "contact_info",
            "messages_exchanged",
            "property_address"
        ]
    );
    assert_eq!(d["engagement_score"], 95);
    assert_eq!(d["score_band"], "HOT");

    // Two minutes in, an old roof and urgency: every rule, clamped to 100.
    sqlx::query("update chat_sessions set started_at = now() - interval '3 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    say(
        &app,
        &token,
        "The roof is about 22 years old and it's leaking, we need someone ASAP",
    )
    .await;
    let d = session_of(&app, &a).await;
    assert_eq!(
        rules(&d),
        [
            "base",
            "clamp",
            "contact_info",
            "messages_exchanged",
            "property_address",
            "roof_age",
            "session_duration",
            "urgent_timeline"
        ]
    );
    assert_eq!(d["engagement_score"], 100);
    assert_eq!(d["lead_data"]["roof_age_years"], 22);
    assert_eq!(d["lead_data"]["timeline"], "asap");
    assert_eq!(d["messages"].as_array().unwrap().len(), 8);

    // The lead itself carries what was captured and is tracked like any other.
    let lead_id = d["lead_id"].as_i64().unwrap();
    let lead = app.get(&a.key, &format!("/api/leads/{lead_id}")).await;
    assert_eq!(lead.body["name"], "Jane Doe");
    assert_eq!(
        lead.body["property_address"],
        "123 Oak Street, Dallas TX 75201"
    );
    assert_eq!(lead.body["roof_age_years"], 22);
    assert!(lead.body["issues"]
        .as_array()
        .unwrap()
        .contains(&json!("leak")));
    let summary = app
        .get(&a.key, &format!("/api/leads/{lead_id}/summary"))
        .await;
    assert_eq!(summary.body["by_type"]["chat"], 8);
}

#[tokio::test]
async fn messages_and_new_sessions_are_rate_limited() {
    let app = spawn_app_with(&[
        ("LEADLINE_CHAT_MESSAGES_PER_MINUTE", "3"),
        ("LEADLINE_CHAT_SESSIONS_PER_IP_HOUR", "2"),
    ])
    .await;
    let a = app.account("Acme").await;
    let (_, key) = site(&app, &a, false).await;
    let token = start(&app, &key).await;
    for i in 0..3 {
        let r = say(&app, &token, &format!("message {i}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(
            r.body["reply"].is_null(),
            "AI answers are off for this site"
        );
    }
    let limited = say(&app, &token, "one too many").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.error_code(), "rate_limited");
    assert!(
        limited.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u32>()
            .unwrap()
            >= 1
    );
    // Nothing of the refused message was stored.
    let d = session_of(&app, &a).await;
    assert_eq!(d["message_count"], 3);

    start(&app, &key).await;
    let third = public(
        &app,
        "/api/chat/session/new",
        Some(ORIGIN),
        json!({"site_key": key}),
    )
    .await;
    assert_eq!(third.status, 429);

    let empty = say(&app, &token, "   ").await;
    assert_eq!(empty.status, 422);
    let long = say(&app, &token, &"x".repeat(2001)).await;
    assert_eq!(long.status, 422);
    assert!(long.error_message().contains("2000"));
}

/// Reads SSE frames until one of `event` arrives whose data contains `needle`.
async fn wait_event<B: AsRef<[u8]>>(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<B>> + Unpin),
    buf: &mut String,
    event: &str,
    needle: &str,
) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            if frame.contains(&format!("event: {event}")) && frame.contains(needle) {
                return frame;
            }
        }
        let chunk = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {event} event with {needle:?}; got {buf:?}"))
            .expect("stream ended")
            .unwrap();
        buf.push_str(&String::from_utf8_lossy(chunk.as_ref()));
    }
}

#[tokio::test]
async fn a_human_reply_reaches_the_visitor_live_through_another_replica() {
    let app = spawn_app().await;
    // A second server on the same database: the visitor's stream is there.
    let replica = spawn_on_pool(app.pool.clone(), &[]).await;
    let a = app.account("Acme").await;
    let (_, key) = site(&app, &a, true).await;
    let token = start(&app, &key).await;
    let first = say(&app, &token, "Do you do roof inspections?").await;
    assert_eq!(first.body["reply"]["author"], "ai");

    let resp = replica
        .http
        .get(format!(
            "{}/api/chat/stream?session_token={token}",
            replica.base
        ))
        .header("Origin", ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    assert_eq!(resp.headers()["access-control-allow-origin"], ORIGIN);
    let mut events = resp.bytes_stream();
    let mut buf = String::new();

    let sid = session_of(&app, &a).await["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let typing = app
        .post(
            &a.key,
            &format!("/api/chat/sessions/{sid}/typing"),
            json!({"typing": true}),
        )
        .await;
    assert_eq!(typing.status, 204);
    wait_event(&mut events, &mut buf, "typing", "\"agent\"").await;
    let reply = app
        .post(
            &a.key,
            &format!("/api/chat/sessions/{sid}/reply"),
            json!({"text": "Hi, this is Mike from Acme <b>team</b>"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["author"], "agent");
    let frame = wait_event(&mut events, &mut buf, "message", "Mike from Acme").await;
    assert!(
        frame.contains(&format!("id: {}", reply.body["id"])),
        "{frame}"
    );
    assert!(frame.contains(r#""author":"agent""#));

    // A person took over: the AI stays quiet from now on.
    let after = say(&app, &token, "Great, thanks Mike").await;
    assert!(after.body["reply"].is_null(), "{}", after.body);
    wait_event(&mut events, &mut buf, "message", "thanks Mike").await;

    // A reconnecting stream replays what it missed (Last-Event-ID).
    let replay = replica
        .http
        .get(format!(
            "{}/api/chat/stream?session_token={token}",
            replica.base
        ))
        .header("Last-Event-ID", first.body["message"]["id"].to_string())
        .send()
        .await
        .unwrap();
    let mut replayed = replay.bytes_stream();
    let mut buf2 = String::new();
    wait_event(&mut replayed, &mut buf2, "message", "Mike from Acme").await;

    // The transcript (what a reload shows) has every message with its author.
    let resumed = public(
        &app,
        "/api/chat/session/resume",
        Some(ORIGIN),
        json!({"session_token": token}),
    )
    .await;
    assert_eq!(resumed.status, 200);
    let authors: Vec<&str> = resumed.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["visitor", "ai", "agent", "visitor"]);
    assert_eq!(
        resumed.body["messages"][2]["text"],
        "Hi, this is Mike from Acme <b>team</b>"
    );

    // Closing tells the visitor and refuses further messages.
    let closed = app
        .post(
            &a.key,
            &format!("/api/chat/sessions/{sid}/close"),
            json!({}),
        )
        .await;
    assert_eq!(closed.status, 200);
    wait_event(&mut events, &mut buf, "closed", "").await;
    let refused = say(&app, &token, "hello?").await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.error_code(), "session_closed");
    let open = app.get(&a.key, "/api/chat/sessions?status=open").await;
    assert_eq!(open.body["items"], json!([]));
}

#[tokio::test]
async fn a_returning_customer_is_recognized_instead_of_duplicated() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let known = app
        .log(
            &a.key,
            json!({"type": "email", "direction": "inbound", "from_address": "pat@example.com",
                   "content": "Quote request", "lead": {"name": "Pat Lee", "email": "pat@example.com"}}),
        )
        .await;
    assert_eq!(known.status, 201, "{}", known.body);
    let lead_id = known.body["lead_id"].as_i64().unwrap();
    let (_, key) = site(&app, &a, false).await;
    let token = start(&app, &key).await;
    say(&app, &token, "Hello, following up on my quote").await;
    let c = public(
        &app,
        "/api/chat/contact",
        Some(ORIGIN),
        json!({"session_token": token, "email": "PAT@example.com", "phone": "(214) 748-3647"}),
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.body);
    let d = session_of(&app, &a).await;
    assert_eq!(d["lead_id"], lead_id);
    let (leads,): (i64,) = sqlx::query_as("select count(*) from leads where account_id = $1")
        .bind(a.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        leads, 1,
        "the anonymous chat lead was folded into the known one"
    );
    let summary = app
        .get(&a.key, &format!("/api/leads/{lead_id}/summary"))
        .await;
    assert_eq!(summary.body["by_type"]["chat"], 1);
    assert_eq!(summary.body["by_type"]["email"], 1);
    let lead = app.get(&a.key, &format!("/api/leads/{lead_id}")).await;
    assert_eq!(lead.body["phone"], "+12147483647");
    assert_eq!(
        lead.body["name"], "Pat Lee",
        "a known name is not overwritten"
    );

    let bad = public(
        &app,
        "/api/chat/contact",
        Some(ORIGIN),
        json!({"session_token": token, "email": "nope"}),
    )
    .await;
    assert_eq!(bad.status, 422);
    assert!(bad.error_message().contains("email"));
    let resumed = public(
        &app,
        "/api/chat/session/resume",
        Some(ORIGIN),
        json!({"session_token": token}),
    )
    .await;
    assert_eq!(resumed.body["contact_captured"], true);
}

#[tokio::test]
async fn sessions_are_private_to_their_account_and_extraction_has_an_endpoint() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    let (_, key) = site(&app, &a, false).await;
    let token = start(&app, &key).await;
    say(&app, &token, "hi").await;
    let sid = session_of(&app, &a).await["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get(&b.key, &format!("/api/chat/sessions/{sid}"))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(&b.key, "/api/chat/sessions").await.body["items"],
        json!([])
    );
    let r = app
        .post(
            &b.key,
            &format!("/api/chat/sessions/{sid}/reply"),
            json!({"text": "hi"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let r = app
        .post(
            &b.key,
            &format!("/api/chat/sessions/{sid}/close"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404);

    let x = app
        .post(
            &a.key,
            "/api/chat/lead/extract",
            json!({"text": "This is Bob Smith, 42 Elm Street. Call 214-748-3647, roof from 2004, budget around $12k"}),
        )
        .await;
    assert_eq!(x.status, 200, "{}", x.body);
    assert_eq!(x.body["name"], "Bob Smith");
    assert_eq!(x.body["phone"], "+12147483647");
    assert_eq!(x.body["property_address"], "42 Elm Street");
    assert!(x.body["roof_age_years"].as_i64().unwrap() >= 21);
    assert_eq!(x.body["budget"], "$12,000");
    assert_eq!(
        app.post(&a.key, "/api/chat/lead/extract", json!({"txt": 1}))
            .await
            .status,
        422
    );
}

#[tokio::test]
async fn the_widget_script_is_cached_with_an_etag() {
    let app = spawn_app().await;
    let r = app
        .send(app.http.get(format!("{}/widget.js", app.base)))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    assert!(r.headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = r.headers["etag"].to_str().unwrap().to_string();
    assert!(r.body.as_str().unwrap().contains("attachShadow"));
    let again = app
        .send(
            app.http
                .get(format!("{}/widget.js", app.base))
                .header("If-None-Match", &etag),
        )
        .await;
    assert_eq!(again.status, 304);

    // Browsers get it gzipped, within the 12 KB budget.
    let gz = app
        .http
        .get(format!("{}/widget.js", app.base))
        .header("Accept-Encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    assert_ne!(gz.headers()["etag"].to_str().unwrap(), etag);
    let bytes = gz.bytes().await.unwrap();
    assert!(bytes.len() < 12 * 1024, "{} bytes gzipped", bytes.len());
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "a gzip stream");
}

#[tokio::test]
async fn limits_hold_under_concurrency_and_typing_and_contact_are_limited() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let (_, key) = site(&app, &a, false).await;
    // 60 at once from one address against a limit of 20: exactly 20.
    let tries = (0..60).map(|_| {
        public(
            &app,
            "/api/chat/session/new",
            Some(ORIGIN),
            json!({"site_key": key}),
        )
    });
    let results = futures_util::future::join_all(tries).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let limited = results.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (created, limited),
        (20, 40),
        "{:?}",
        results.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let token = results.iter().find(|r| r.status == 201).unwrap().body["session_token"]
        .as_str()
        .unwrap()
        .to_string();
    let mut statuses = vec![];
    for n in 0..61 {
        let r = public(
            &app,
            "/api/chat/typing",
            Some(ORIGIN),
            json!({"session_token": token, "typing": n % 2 == 0}),
        )
        .await;
        statuses.push(r.status);
    }
    assert!(statuses[..60].iter().all(|s| *s == 204), "{statuses:?}");
    assert_eq!(statuses[60], 429);
    for n in 0..11 {
        let r = public(
            &app,
            "/api/chat/contact",
            Some(ORIGIN),
            json!({"session_token": token, "name": format!("Dana {n}")}),
        )
        .await;
        let want = if n < 10 { 200 } else { 429 };
        assert_eq!(r.status, want, "contact {n}: {:?}", r.body);
        if n == 10 {
            assert!(r.headers.contains_key("retry-after"));
        }
    }
    // The public reads (history, site settings, streams) share one budget per address.
    let mut statuses = vec![];
    for _ in 0..app.state.config.chat.reads_per_ip_minute {
        let r = public(
            &app,
            "/api/chat/session/resume",
            Some(ORIGIN),
            json!({"session_token": token}),
        )
        .await;
        statuses.push(r.status);
    }
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let r = public(
        &app,
        "/api/chat/session/resume",
        Some(ORIGIN),
        json!({"session_token": token}),
    )
    .await;
    assert_eq!((r.status, r.error_code()), (429, "rate_limited"));
    assert!(r.headers.contains_key("retry-after"));
    // Unknown fields in a widget body are refused, as everywhere else.
    let r = public(
        &app,
        "/api/chat/typing",
        Some(ORIGIN),
        json!({"session_token": token, "typing": true, "admin": true}),
    )
    .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
}

#[tokio::test]
async fn a_nul_character_in_a_widget_message_is_refused_naming_the_field() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let (_, key) = site(&app, &a, false).await;
    let r = public(
        &app,
        "/api/chat/session/new",
        Some(ORIGIN),
        json!({"site_key": key}),
    )
    .await;
    let token = r.body["session_token"].as_str().unwrap().to_string();
    for (path, body) in [
        (
            "/api/chat/message",
            json!({"session_token": token, "message": "my roof\u{0}leaks"}),
        ),
        (
            "/api/chat/contact",
            json!({"session_token": token, "name": "Dana\u{0}Lee"}),
        ),
    ] {
        let r = public(&app, path, Some(ORIGIN), body).await;
        assert_eq!(r.status, 422, "{path}: {:?}", r.body);
        let field = if path.ends_with("message") {
            "message"
        } else {
            "name"
        };
        assert!(r.error_message().contains(field), "{path}: {:?}", r.body);
    }
    let n: i64 = sqlx::query_scalar("select count(*) from communications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "nothing stored");
}

#[tokio::test]
async fn a_chat_while_closed_is_first_told_when_the_business_opens() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let (_, key) = site(&app, &a, true).await;
    // Open only on the day after tomorrow (Chicago): closed now.
    let zone = leadline::hours::Zone::parse("America/Chicago").unwrap();
    let today = chrono::Datelike::weekday(&zone.local(chrono::Utc::now()).date());
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [(today.num_days_from_monday() as usize + 2) % 7];
    let r = app
        .send(app.http.put(format!("{}/api/settings/hours", app.base)).bearer_auth(&a.key)
            .json(&json!({"timezone": "America/Chicago", "hours": {"week": {day: [["07:00", "18:00"]]}}})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let token = start(&app, &key).await;
    let first = say(&app, &token, "Hi, my roof is leaking").await;
    let text = first.body["reply"]["text"].as_str().unwrap().to_string();
    assert!(text.starts_with("Thanks for chatting with Acme Roofing! We're closed right now and open again at 7:00 am "), "{text}");
    // Later answers are the responder's own.
    let second = say(&app, &token, "How much does a repair cost?").await;
    assert!(!second.body["reply"]["text"]
        .as_str()
        .unwrap()
        .contains("We're closed right now"));
}

#[tokio::test]
async fn settings_changed_through_one_replica_are_used_by_the_next_answer_of_another() {
    let app = spawn_app().await;
    // A second server on the same database answers the visitors.
    let replica = spawn_on_pool(app.pool.clone(), &[]).await;
    let a = app.account("Acme Roofing").await;
    let (_, key) = site(&app, &a, true).await;
    // The replica answers once with the settings as they are (open all week): it now
    // holds them in memory.
    let token = start(&replica, &key).await;
    let open = say(&replica, &token, "Hi, my roof is leaking").await;
    assert_eq!(open.status, 200, "{}", open.body);
    let text = open.body["reply"]["text"].as_str().unwrap();
    assert!(!text.contains("We're closed right now"), "{text}");

    // Through the first server: another company name, and closed until the day after tomorrow.
    let company = app
        .send(
            app.http
                .put(format!("{}/api/settings/company", app.base))
                .bearer_auth(&a.key)
                .json(&json!({"company_name": "Zenith Roofing"})),
        )
        .await;
    assert_eq!(company.status, 200, "{}", company.body);
    let zone = leadline::hours::Zone::parse("America/Chicago").unwrap();
    let today = chrono::Datelike::weekday(&zone.local(chrono::Utc::now()).date());
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [(today.num_days_from_monday() as usize + 2) % 7];
    let hours = app
        .send(app.http.put(format!("{}/api/settings/hours", app.base)).bearer_auth(&a.key)
            .json(&json!({"timezone": "America/Chicago", "hours": {"week": {day: [["07:00", "18:00"]]}}})))
        .await;
    assert_eq!(hours.status, 200, "{}", hours.body);

    // The replica's very next answer (a new visitor's first) uses both, at once.
    let token = start(&replica, &key).await;
    let closed = say(&replica, &token, "Hi, my roof is leaking").await;
    assert_eq!(closed.status, 200, "{}", closed.body);
    let text = closed.body["reply"]["text"].as_str().unwrap();
    assert!(
        text.starts_with("Thanks for chatting with Zenith Roofing! We're closed right now"),
        "{text}"
    );
}
