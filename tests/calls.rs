//! Calls through HTTP: the call-log API with transcript derivation, Telnyx call events
//! folded into one call whatever their order, missed-call text-back, and the call list.

mod common;
#[path = "telnyx_support/mod.rs"]
mod telnyx_support;

use serde_json::{json, Value};
use telnyx_support::*;

const OURS: &str = "+13126412200";
const CALLER: &str = "+13126412278";

#[tokio::test]
async fn a_logged_call_derives_summary_and_actions_and_is_idempotent_on_call_id() {
    let (app, _, _) = setup().await;
    let a = app.account("Acme").await;
    let body = json!({
        "call_id": "c-1", "phone": "(312) 641-2278", "direction": "inbound", "duration_seconds": 245,
        "timestamp": "2026-03-03T15:00:00Z", "outcome": "completed",
        "recording_url": "https://rec.example.com/c-1.mp3",
        "transcript": "We have a leak after the hail storm. Please send a quote and schedule an inspection, Friday works. Thanks, great service!"
    });
    let r = app.post(&a.key, "/api/calls/log", body.clone()).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["type"], "phone_call");
    assert_eq!(r.body["duration"], 245);
    assert_eq!(
        r.body["attachments"][0]["url"],
        "https://rec.example.com/c-1.mp3"
    );
    let m = &r.body["metadata"];
    assert_eq!(
        m["action_items"],
        json!(["Send quote", "Schedule inspection"])
    );
    assert_eq!(m["next_follow_up"], "2026-03-06T15:00:00+00:00");
    assert_eq!(m["sentiment"], "positive");
    assert!(m["ai_summary"].as_str().unwrap().contains("a leak"));
    let again = app.post(&a.key, "/api/calls/log", body).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], r.body["id"]);

    // Given values are kept, not derived.
    let r = app
        .post(&a.key, "/api/calls/log", json!({"call_id": "c-2", "phone": CALLER, "direction": "outbound",
            "transcript": "send a quote", "ai_summary": "Mine", "sentiment": "neutral", "action_items": ["Call Bob"]}))
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.body["metadata"]["ai_summary"], "Mine");
    assert_eq!(r.body["metadata"]["action_items"], json!(["Call Bob"]));
    for bad in [
        json!({"call_id": "", "phone": CALLER, "direction": "inbound"}),
        json!({"call_id": "x", "direction": "inbound"}),
        json!({"call_id": "x", "phone": "nope", "direction": "inbound"}),
        json!({"call_id": "x", "phone": CALLER, "direction": "sideways"}),
        json!({"call_id": "x", "phone": CALLER, "direction": "inbound", "duration_seconds": -1}),
    ] {
        let r = app.post(&a.key, "/api/calls/log", bad.clone()).await;
        assert_eq!(r.status, 422, "{bad}: {:?}", r.body);
    }
    let r = app
        .post(
            &a.key,
            "/api/calls/log",
            json!({"call_id": "x", "lead_id": 999999, "direction": "inbound"}),
        )
        .await;
    assert_eq!(r.status, 404);
    let list = app.get(&a.key, "/api/calls").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
    let other = app.account("Other").await;
    assert_eq!(
        app.get(&other.key, "/api/calls").await.body["items"],
        json!([])
    );
}

fn call_events(session: &str, answered: bool) -> Vec<Value> {
    let parties =
        json!({"call_session_id": session, "call_control_id": "cc", "from": CALLER, "to": OURS});
    let with = |extra: Value| {
        let mut p = parties.clone();
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let mut events = vec![
        event(
            &format!("{session}-1"),
            "call.initiated",
            "2026-03-03T15:00:00Z",
            with(
                json!({"direction": "incoming", "state": "parked", "start_time": "2026-03-03T15:00:00Z"}),
            ),
        ),
        event(
            &format!("{session}-3"),
            "call.hangup",
            "2026-03-03T15:03:20Z",
            with(
                json!({"start_time": "2026-03-03T15:00:00Z", "end_time": "2026-03-03T15:03:20Z",
                        "hangup_cause": "normal_clearing", "hangup_source": "caller"}),
            ),
        ),
    ];
    if answered {
        events.push(event(
            &format!("{session}-2"),
            "call.answered",
            "2026-03-03T15:00:06Z",
            with(json!({})),
        ));
        events.push(event(&format!("{session}-4"), "call.recording.saved", "2026-03-03T15:03:25Z",
            json!({"call_session_id": session, "recording_urls": {"mp3": "https://rec.telnyx.com/a.mp3", "wav": "https://rec.telnyx.com/a.wav"}})));
    }
    events
}

#[tokio::test]
async fn call_events_in_shuffled_order_with_repeats_make_one_call_row() {
    let (app, signer, _) = setup().await;
    let a = app.account("Acme").await;
    connect(&app, &a.key, &[OURS], json!({})).await;
    let e = call_events("sess-1", true);
    // Recording first (it names no parties), then hangup, a repeat, answered, initiated.
    for ev in [&e[3], &e[1], &e[1], &e[2], &e[0], &e[3]] {
        let r = deliver(&app, &signer, ev).await;
        assert_eq!(r.status, 200, "{:?}", r.body);
    }
    type CallRow = (String, Option<String>, Option<i32>, Value, Value);
    let rows: Vec<CallRow> = sqlx::query_as(
        "select direction, status, duration, attachments, metadata from communications where type = 'phone_call'",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    let (dir, status, duration, attachments, meta) = &rows[0];
    assert_eq!(dir, "inbound");
    assert_eq!(status.as_deref(), Some("completed"));
    assert_eq!(*duration, Some(200));
    assert_eq!(attachments.as_array().unwrap().len(), 2);
    assert_eq!(meta["recording_url"], "https://rec.telnyx.com/a.mp3");
    assert_eq!(meta["hangup_cause"], "normal_clearing");
    assert_eq!(meta["events"].as_array().unwrap().len(), 4);
    let list = app.get(&a.key, "/api/calls").await;
    assert_eq!(list.body["items"][0]["outcome"], "completed");
    assert_eq!(list.body["items"][0]["duration"], 200);
    assert_eq!(list.body["items"][0]["lead_phone"], CALLER);
    assert_eq!(
        list.body["items"][0]["recording_url"],
        "https://rec.telnyx.com/a.mp3"
    );
}

#[tokio::test]
async fn a_missed_inbound_call_is_marked_missed_and_texted_back_once() {
    let (app, signer, standin) = setup().await;
    let a = app.account("Acme Roofing").await;
    connect(
        &app,
        &a.key,
        &[OURS],
        json!({"missed_call_text_back": true}),
    )
    .await;
    for ev in call_events("sess-m", false)
        .iter()
        .rev()
        .chain(call_events("sess-m", false).iter())
    {
        assert_eq!(deliver(&app, &signer, ev).await.status, 200);
    }
    let status: String =
        sqlx::query_scalar("select status from communications where type = 'phone_call'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "missed");
    let queued: i64 = sqlx::query_scalar("select count(*) from outbox where kind = 'sms'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(queued, 1);
    leadline::scheduler::drain_outbox_once(&app.state)
        .await
        .unwrap();
    let seen = standin.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["to"], CALLER);
    assert_eq!(seen[0].body["from"], OURS);
    assert!(seen[0].body["text"]
        .as_str()
        .unwrap()
        .contains("Acme Roofing"));
    let list = app.get(&a.key, "/api/calls?outcome=missed").await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_automatic_text_back_is_held_during_quiet_hours() {
    let (app, signer, standin) = setup().await;
    let a = app.account("Acme").await;
    let now = chrono::Utc::now();
    let start = (now - chrono::TimeDelta::hours(1))
        .format("%H:%M")
        .to_string();
    let end = (now + chrono::TimeDelta::hours(1))
        .format("%H:%M")
        .to_string();
    connect(
        &app,
        &a.key,
        &[OURS],
        json!({"missed_call_text_back": true,
        "quiet_hours": {"start": start, "end": end, "timezone": "UTC"}}),
    )
    .await;
    for ev in call_events("sess-q", false) {
        deliver(&app, &signer, &ev).await;
    }
    let (status, wait): (String, f64) = sqlx::query_as(
        "select status, extract(epoch from next_attempt_at - now())::float8 from outbox where kind = 'sms'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(status, "held");
    assert!(wait > 3000.0 && wait <= 3660.0, "{wait}");
    leadline::scheduler::drain_outbox_once(&app.state)
        .await
        .unwrap();
    assert!(standin.seen().is_empty());
}

#[tokio::test]
async fn the_seeds_own_call_json_is_accepted_and_blank_fields_mean_absent() {
    let (app, _, _) = setup().await;
    let a = app.account("Acme").await;
    let lead = app
        .post(
            &a.key,
            "/api/leads",
            json!({"name": "Dana", "phone": "(312) 641-2278"}),
        )
        .await;
    assert_eq!(lead.status, 201, "{:?}", lead.body);
    // Seed 004's call data structure, as written there.
    let seed = json!({
        "call_id": "unique_id",
        "lead_id": lead.body["id"],
        "direction": "outbound",
        "duration_seconds": 180,
        "timestamp": "2025-01-10T14:30:00Z",
        "outcome": "interested",
        "recording_url": "s3://...",
        "transcript": "Full conversation...",
        "ai_summary": "Lead is interested...",
        "sentiment": "positive",
        "action_items": ["Send quote", "Schedule inspection"],
        "next_follow_up": "2025-01-12"
    });
    let r = app.post(&a.key, "/api/calls/log", seed).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        r.body["metadata"]["next_follow_up"], "2025-01-12T12:00:00+00:00",
        "{:?}",
        r.body["metadata"]
    );
    assert_eq!(r.body["metadata"]["recording_url"], "s3://...");
    assert_eq!(r.body["metadata"]["sentiment"], "positive");

    // Empty strings in optional fields are absent: derived from the transcript instead.
    let r = app
        .post(&a.key, "/api/calls/log", json!({
            "call_id": "c-blank", "phone": "(312) 641-2278", "direction": "inbound",
            "transcript": "The roof leaks badly. Please send a quote.",
            "sentiment": "", "ai_summary": "", "outcome": "", "recording_url": "", "next_follow_up": ""
        }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let call = &r.body["metadata"];
    assert!(
        call["ai_summary"].as_str().is_some_and(|s| !s.is_empty()),
        "{call:?}"
    );
    assert!(
        call["outcome"].is_null() && call["recording_url"].is_null(),
        "{call:?}"
    );
    let derived = call["derived"].as_array().unwrap();
    assert!(
        derived.contains(&json!("ai_summary")) && derived.contains(&json!("sentiment")),
        "{call:?}"
    );

    // A wrong date names the field and the forms it takes.
    let r = app
        .post(&a.key, "/api/calls/log", json!({
            "call_id": "c-bad", "phone": "(312) 641-2278", "direction": "inbound", "next_follow_up": "next tuesday"
        }))
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    let msg = r.error_message();
    assert!(
        msg.starts_with("next_follow_up: expected a date (2025-01-12) or an RFC 3339 date-time"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_missed_call_while_closed_is_told_when_the_business_opens() {
    let (app, signer, _standin) = setup().await;
    let a = app.account("Acme Roofing").await;
    connect(
        &app,
        &a.key,
        &[OURS],
        json!({"missed_call_text_back": true}),
    )
    .await;
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
    for ev in call_events("sess-closed", false) {
        assert_eq!(deliver(&app, &signer, &ev).await.status, 200);
    }
    let text: String = sqlx::query_scalar("select payload->>'text' from outbox where kind = 'sms'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(
        text.starts_with("Sorry we missed your call! Thanks for calling Acme Roofing! We're closed right now and open again at 7:00 am "),
        "{text}"
    );
}
