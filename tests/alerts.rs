//! Team alerts through HTTP with a test clock (the engine's timer off, its tick driven
//! here): a lead that comes in while closed is announced at opening, an inbound message
//! nobody answers is alerted once after the target and escalated once to the owner, each
//! person's channels and mute hours are kept, two replicas make each alert once, and the
//! bell's list and live stream show them.

mod common;
#[path = "telnyx_support/mod.rs"]
mod telnyx_support;
#[path = "web_support/mod.rs"]
mod web_support;

use chrono::{DateTime, Duration, Timelike, Utc};
use common::{spawn_app_with, spawn_on_pool};
use leadline::auth::Role;
use leadline::automations::run::tick;
use leadline::hours::Zone;
use serde_json::{json, Value};
use web_support::{person, user_id};

const OURS: &str = "+13126412200";

/// Business hours of one hour, starting a few hours from now (so "now" is closed),
/// in Chicago; the opening instant.
fn opening_hours() -> (Value, DateTime<Utc>) {
    let zone = Zone::parse("America/Chicago").unwrap();
    let mut start = Utc::now() + Duration::hours(4);
    while zone.local(start).hour() >= 22 || zone.local(start).hour() < 1 {
        start += Duration::hours(1);
    }
    let local = zone.local(start);
    let day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [chrono::Datelike::weekday(&local).num_days_from_monday() as usize];
    let from = format!("{:02}:00", local.hour());
    let to = format!("{:02}:00", local.hour() + 1);
    let opens = zone.instant(local.date().and_hms_opt(local.hour(), 0, 0).unwrap());
    (
        json!({"timezone": "America/Chicago", "hours": {"week": {day: [[from, to]]}}}),
        opens,
    )
}

#[tokio::test]
async fn a_closed_hours_lead_is_announced_at_opening_and_an_unanswered_one_alerted_then_escalated_once(
) {
    let signer = telnyx_support::keypair();
    let standin = telnyx_support::StandIn::start().await;
    let app = spawn_app_with(&[
        ("TELNYX_PUBLIC_KEY", &signer.public_b64()),
        ("TELNYX_API_BASE", &standin.base),
        ("LEADLINE_AUTOMATION_TICK_MS", "0"),
    ])
    .await;
    let a = app.account("Acme Roofing").await;
    assert_eq!(
        telnyx_support::connect(&app, &a.key, &[OURS], json!({}))
            .await
            .status,
        200
    );
    let (hours, opens) = opening_hours();
    let r = app
        .send(
            app.http
                .put(format!("{}/api/settings/hours", app.base))
                .bearer_auth(&a.key)
                .json(&hours),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let olivia = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let mia = person(&app, a.id, "mia@acme.test", Role::Member).await;
    let prefs = mia
        .put(
            "/api/me/alerts",
            json!({"channels": ["dashboard", "sms"], "phone": "(312) 555-0199"}),
        )
        .await;
    assert_eq!(prefs.status, 200, "{}", prefs.body);
    assert_eq!(prefs.body["phone"], "+13125550199");
    let bad = mia
        .put("/api/me/alerts", json!({"channels": ["pager"]}))
        .await;
    assert_eq!(bad.status, 422);
    // The owner is not to be disturbed by email or text at any time (the bell still shows).
    let quiet = olivia
        .put(
            "/api/me/alerts",
            json!({"channels": ["dashboard", "email"], "mute_start": "00:00", "mute_end": "23:59"}),
        )
        .await;
    assert_eq!(quiet.status, 200, "{}", quiet.body);

    // A lead texts while closed: nothing now, both told at opening (nobody is assigned).
    let r = app
        .log(&a.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13125550100",
                            "content": "Water coming through the ceiling!", "provider_message_id": "in-1"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(tick(&app.state, Utc::now()).await.unwrap().alerted, 0);
    assert_eq!(
        tick(&app.state, opens + Duration::seconds(1))
            .await
            .unwrap()
            .alerted,
        2
    );
    // Five minutes of open time later the message is still unanswered: alerted once each;
    // two replicas ticking together change nothing.
    let other = spawn_on_pool(
        app.pool.clone(),
        &[
            ("TELNYX_API_BASE", &standin.base),
            ("LEADLINE_AUTOMATION_TICK_MS", "0"),
        ],
    )
    .await;
    let t = opens + Duration::minutes(6);
    let (x, y) = tokio::join!(tick(&app.state, t), tick(&other.state, t));
    assert_eq!(x.unwrap().alerted + y.unwrap().alerted, 2);
    assert_eq!(
        tick(&app.state, t + Duration::seconds(30))
            .await
            .unwrap()
            .alerted,
        0
    );
    // Thirty minutes: escalated to the owner only, once.
    assert_eq!(
        tick(&app.state, opens + Duration::minutes(31))
            .await
            .unwrap()
            .alerted,
        1
    );
    assert_eq!(
        tick(&app.state, opens + Duration::minutes(40))
            .await
            .unwrap()
            .alerted,
        0
    );

    let kinds: Vec<(String, String)> = sqlx::query_as(
        "select u.email, a.kind from alerts a join users u on u.id = a.user_id order by a.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let of = |who: &str| {
        kinds
            .iter()
            .filter(|(e, _)| e == who)
            .map(|(_, k)| k.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of("olivia@acme.test"),
        vec!["new_lead", "unanswered", "escalation"]
    );
    assert_eq!(of("mia@acme.test"), vec!["new_lead", "unanswered"]);
    // Mia chose texts: queued to her phone (not recorded as a lead's message); Olivia is muted.
    let texts: Vec<String> =
        sqlx::query_scalar("select payload->>'to' from outbox where kind = 'sms' order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(texts, vec!["+13125550199", "+13125550199"]);
    let olivia_id = user_id(&app, "olivia@acme.test").await;
    let sent_to_olivia: i64 = sqlx::query_scalar("select count(*) from alerts where user_id = $1 and (email_outbox_id is not null or sms_outbox_id is not null)")
        .bind(olivia_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sent_to_olivia, 0);
    leadline::scheduler::drain_outbox_once(&app.state)
        .await
        .unwrap();
    assert_eq!(standin.seen().len(), 2);
    let leads: i64 = sqlx::query_scalar("select count(*) from leads")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(leads, 1, "an alert text makes no lead of a team member");

    // The bell: newest first, with the unread count; reading empties it.
    let bell = olivia.get("/api/alerts").await;
    assert_eq!(bell.body["unread"], 3);
    assert!(
        bell.body["items"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Still unanswered after 30 min"),
        "{}",
        bell.body
    );
    let first = bell.body["items"][2]["id"].as_i64().unwrap();
    assert_eq!(
        olivia
            .post(&format!("/api/alerts/{first}/read"), json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        olivia.get("/api/alerts?unread=true").await.body["unread"],
        2
    );
    assert_eq!(
        olivia.post("/api/alerts/read-all", json!({})).await.status,
        204
    );
    assert_eq!(olivia.get("/api/alerts").await.body["unread"], 0);
    // Another person's alert is not found; an API key has no bell.
    let mias = mia.get("/api/alerts").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(
        olivia
            .post(&format!("/api/alerts/{mias}/read"), json!({}))
            .await
            .status,
        404
    );
    assert_eq!(app.get(&a.key, "/api/alerts").await.status, 403);
}

#[tokio::test]
async fn the_bell_streams_new_alerts_live_and_targets_are_set_by_admins() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let olivia = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let mia = person(&app, a.id, "mia@acme.test", Role::Member).await;
    assert_eq!(
        mia.put(
            "/api/settings/alerts",
            json!({"first_minutes": 2, "escalate_minutes": 10})
        )
        .await
        .status,
        403
    );
    let bad = olivia
        .put(
            "/api/settings/alerts",
            json!({"first_minutes": 20, "escalate_minutes": 10}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        olivia
            .put(
                "/api/settings/alerts",
                json!({"first_minutes": 2, "escalate_minutes": 10})
            )
            .await
            .status,
        200
    );
    assert_eq!(
        olivia.get("/api/settings/alerts").await.body["first_minutes"],
        2
    );

    let mut stream = mia
        .http
        .get(format!("{}/api/alerts/stream", app.base))
        .header(reqwest::header::COOKIE, &mia.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    app.post(
        &a.key,
        "/api/leads",
        json!({"name": "Jane Doe", "phone": "+13125550100"}),
    )
    .await;
    // No hours set: open all week, so the new lead is announced at once.
    assert_eq!(
        tick(&app.state, Utc::now() + Duration::seconds(1))
            .await
            .unwrap()
            .alerted,
        2
    );
    let mut got = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !got.contains("event: alert") && std::time::Instant::now() < deadline {
        if let Ok(Ok(Some(chunk))) =
            tokio::time::timeout(std::time::Duration::from_secs(3), stream.chunk()).await
        {
            got.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
    assert!(
        got.contains("event: alert") && got.contains("New lead: Jane Doe"),
        "{got}"
    );
}

#[tokio::test]
async fn the_alerts_page_lists_a_persons_alerts_and_the_layout_has_the_bell() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let mia = person(&app, a.id, "mia@acme.test", Role::Member).await;
    app.post(
        &a.key,
        "/api/leads",
        json!({"name": "Jane <Doe>", "phone": "+13125550100"}),
    )
    .await;
    assert_eq!(
        tick(&app.state, Utc::now() + Duration::seconds(1))
            .await
            .unwrap()
            .alerted,
        1
    );
    let page = mia
        .http
        .get(format!("{}/alerts", app.base))
        .header(reqwest::header::COOKIE, &mia.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("New lead: Jane &lt;Doe&gt;"),
        "escaped: {html}"
    );
    assert!(html.contains("data-alerts-read-all") && html.contains("data-bell-count"));
    assert!(html.contains("alert-item unread"));
}
