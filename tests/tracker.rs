//! The tracker through HTTP: sentiment in the recording path, scores kept current,
//! timeline, summary, profile, account stats, bulk sentiment, and tenant isolation.

mod common;

use chrono::{Duration, Utc};
use common::spawn_app;
use serde_json::{json, Value};

fn ts(minutes_ago: i64) -> String {
    (Utc::now() - Duration::minutes(minutes_ago)).to_rfc3339()
}

#[tokio::test]
async fn every_recorded_message_gets_a_sentiment_label_and_score() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let cases = [
        ("Thank you so much, the crew did a great job!", "positive"),
        (
            "Not interested. We went with someone else, too expensive.",
            "negative",
        ),
        ("My address is 12 Oak St.", "neutral"),
    ];
    for (i, (text, label)) in cases.iter().enumerate() {
        let r = app.log(&a.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13126412278", "content": text, "provider_message_id": format!("s{i}")})).await;
        assert_eq!(r.status, 201);
        assert_eq!(r.body["sentiment"], *label, "{text}");
        let score = r.body["sentiment_score"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&score));
    }
}

#[tokio::test]
async fn the_lead_score_and_band_stay_current_as_facts_and_touches_arrive() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app.log(&a.key, json!({"type": "chat", "direction": "inbound", "content": "hello", "lead": {"email": "jane@x.com"}})).await;
    let lead = r.body["lead_id"].as_i64().unwrap();
    let l = app.get(&a.key, &format!("/api/leads/{lead}")).await.body;
    // base 50 + contact 20 = 70: WARM, and the breakdown says why.
    assert_eq!(
        (
            l["score"].as_i64().unwrap(),
            l["score_band"].as_str().unwrap()
        ),
        (70, "WARM"),
        "{l}"
    );
    let rules: Vec<&str> = l["score_breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"base") && rules.contains(&"contact_info"),
        "{rules:?}"
    );
    let sum: i64 = l["score_breakdown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["points"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 70);
    // An address and an old roof make it HOT, and the list filter sees it at once.
    let r = app
        .patch(
            &a.key,
            &format!("/api/leads/{lead}"),
            json!({"property_address": "12 Oak St, Springfield IL", "roof_age_years": 22}),
        )
        .await;
    assert_eq!(r.body["score_band"], "HOT", "{}", r.body);
    let hot = app.get(&a.key, "/api/leads?band=HOT").await;
    assert_eq!(hot.body["items"][0]["id"], lead);
    // The stored insights carry the next action: the lead is waiting for an answer.
    assert_eq!(
        hot.body["items"][0]["insights"]["next_action"]["action"],
        "respond_immediately"
    );
    assert_eq!(
        hot.body["items"][0]["insights"]["next_action"]["priority"],
        "urgent"
    );
}

async fn seed_history(app: &common::TestApp, key: &str) -> i64 {
    let lead = app
        .post(
            key,
            "/api/leads",
            json!({"name": "Jane Doe", "phone": "+13126412278", "email": "jane@x.com"}),
        )
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    // out sms (answered by an email 2 h later), out call (unanswered), out sms, in sms 30 min later.
    let touches = [
        (
            "sms",
            "outbound",
            600,
            "Hi Jane, this is Acme Roofing about your roof inquiry.",
        ),
        (
            "email",
            "inbound",
            480,
            "Yes please, when can you come out? Ready to schedule.",
        ),
        ("phone_call", "outbound", 300, "Left a voicemail."),
        (
            "sms",
            "outbound",
            200,
            "Does Thursday work for an inspection?",
        ),
        ("sms", "inbound", 170, "Thursday works great, thank you!"),
    ];
    for (i, (kind, dir, ago, text)) in touches.iter().enumerate() {
        let mut body = json!({"type": kind, "direction": dir, "lead_id": lead, "timestamp": ts(*ago), "content": text, "provider_message_id": format!("h{i}")});
        if *kind == "phone_call" {
            body["duration"] = json!(45);
        }
        if *kind == "email" {
            body["subject"] = json!("Re: your roof");
        }
        assert_eq!(app.log(key, body).await.status, 201);
    }
    lead
}

#[tokio::test]
async fn timeline_is_chronological_paged_and_summarized() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let lead = seed_history(&app, &a.key).await;
    let r = app
        .get(&a.key, &format!("/api/leads/{lead}/timeline?limit=3"))
        .await;
    assert_eq!(r.status, 200);
    let items = r.body["items"].as_array().unwrap();
    let kinds: Vec<&str> = items.iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["sms", "email", "phone_call"]);
    assert_eq!(
        items[1]["summary"], "Re: your roof",
        "the subject is the summary when there is one"
    );
    assert_eq!(
        items[0]["summary"],
        "Hi Jane, this is Acme Roofing about your roof inquiry."
    );
    assert_eq!(items[2]["duration"], 45);
    assert_eq!(items[1]["sentiment"], "positive");
    for k in ["id", "timestamp", "direction", "status", "ai_generated"] {
        assert!(items[0].get(k).is_some(), "{k}");
    }
    let next = r.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &a.key,
            &format!("/api/leads/{lead}/timeline?limit=3&cursor={next}"),
        )
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 2);
    assert!(rest.body["next_cursor"].is_null());
    let desc = app
        .get(
            &a.key,
            &format!("/api/leads/{lead}/timeline?order=desc&limit=1"),
        )
        .await;
    assert_eq!(
        desc.body["items"][0]["content"],
        Value::Null,
        "timeline items carry a summary, not the body"
    );
    assert_eq!(
        desc.body["items"][0]["summary"],
        "Thursday works great, thank you!"
    );
    assert_eq!(
        app.get(
            &a.key,
            &format!("/api/leads/{lead}/timeline?order=sideways")
        )
        .await
        .status,
        422
    );
}

#[tokio::test]
async fn summary_counts_touches_and_measures_responses() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let lead = seed_history(&app, &a.key).await;
    let s = app
        .get(&a.key, &format!("/api/leads/{lead}/summary"))
        .await
        .body;
    assert_eq!(s["total_touchpoints"], 5);
    assert_eq!(
        s["by_type"],
        json!({"email": 1, "sms": 3, "phone_call": 1, "chat": 0, "form": 0})
    );
    assert_eq!(s["by_direction"], json!({"inbound": 2, "outbound": 3}));
    // 2 of 3 outbound answered (one of them on another channel).
    assert_eq!(s["response_rate"], 0.667);
    // Answers came 2 h and 0.5 h after our touch: mean 1.25 h.
    assert_eq!(s["avg_response_time_hours"], 1.25);
    // We answered the email after 180 minutes.
    assert_eq!(s["our_avg_response_time_minutes"], 180.0);
    assert_eq!(s["first_response_time_minutes"], 180.0);
    assert_eq!(s["most_recent_sentiment"], "positive");
    assert_eq!(s["unanswered_inbound"], 1);
}

#[tokio::test]
async fn profile_brings_everything_together() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let lead = seed_history(&app, &a.key).await;
    let p = app.get(&a.key, &format!("/api/leads/{lead}/profile")).await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    let p = p.body;
    assert_eq!(p["lead"]["name"], "Jane Doe");
    assert_eq!(p["score"]["score"], p["lead"]["score"]);
    assert!(p["score"]["rules"].as_array().unwrap().len() >= 2);
    assert_eq!(p["summary"]["total_touchpoints"], 5);
    assert_eq!(
        p["engagement"]["preferred_channel"], "sms",
        "ties go to the most recent inbound channel"
    );
    assert_eq!(p["next_action"]["action"], "respond_immediately");
    assert_eq!(p["next_action"]["channel"], "sms");
    assert_eq!(
        p["next_action"]["priority"], "high",
        "the last inbound is 170 minutes old"
    );
    assert!(
        p["next_action"]["reason"]
            .as_str()
            .unwrap()
            .contains("Jane"),
        "{}",
        p["next_action"]["reason"]
    );
    let missing: Vec<&str> = p["enrichment"]["missing_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(
        missing.contains(&"property_address") && !missing.contains(&"email"),
        "{missing:?}"
    );
    assert_eq!(p["enrichment"]["completeness"], 38, "3 of 8 fields known");
    let prob = p["enrichment"]["conversion_probability"].as_f64().unwrap();
    assert!(prob > 0.0 && prob < 1.0);
    let timeline = p["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 5);
    assert_eq!(
        timeline[0]["summary"], "Thursday works great, thank you!",
        "newest first"
    );
}

#[tokio::test]
async fn account_stats_cover_only_the_accounts_own_data() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    let b = app.account("B").await;
    seed_history(&app, &a.key).await;
    app.log(&b.key, json!({"type": "chat", "direction": "inbound", "content": "hi", "lead": {"email": "b@x.com"}})).await;
    app.log(&a.key, json!({"type": "chat", "direction": "outbound", "content": "AI reply", "ai_generated": true, "lead": {"email": "other@x.com"}})).await;
    let s = app.get(&a.key, "/api/communications/stats").await;
    assert_eq!(s.status, 200, "{:?}", s.body);
    let s = s.body;
    assert_eq!(s["total"], 6);
    assert_eq!(
        s["by_type"],
        json!({"email": 1, "sms": 3, "phone_call": 1, "chat": 1, "form": 0})
    );
    assert_eq!(s["by_direction"], json!({"inbound": 2, "outbound": 4}));
    assert_eq!(s["channels"]["sms"]["response_rate"], 1.0);
    assert_eq!(s["channels"]["phone_call"]["response_rate"], 0.0);
    assert_eq!(s["response_rate"], 0.5);
    assert_eq!(s["channels"]["email"]["speed_to_lead_minutes"], 180.0);
    assert_eq!(s["ai_generated_share"], 0.25);
    assert_eq!(
        s["inbound_by_hour"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        2
    );
    assert_eq!(
        s["leads_by_band"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_i64().unwrap())
            .sum::<i64>(),
        2
    );
    let windowed = app
        .get(
            &a.key,
            &format!("/api/communications/stats?from={}", urlencode(&ts(250))),
        )
        .await;
    assert_eq!(windowed.body["total"], 3, "{}", windowed.body);
    assert_eq!(
        app.get(
            &a.key,
            &format!(
                "/api/communications/stats?from={}&to={}",
                urlencode(&ts(1)),
                urlencode(&ts(5))
            )
        )
        .await
        .status,
        422
    );
    assert_eq!(
        app.get(&a.key, "/api/communications/stats?from=yesterday")
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn stats_windows_are_bounded_and_the_day_cache_stays_within_the_accounts_data() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    let r = app
        .log(
            &a.key,
            json!({"type": "sms", "direction": "inbound", "content": "leak",
            "from_address": "+13125550100", "timestamp": ts(3 * 24 * 60)}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app
        .get(
            &a.key,
            "/api/communications/stats?from=0001-01-01T00:00:00Z",
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.error_message().starts_with("from:"), "{:?}", r.body);
    // Two years back is fine, and caches only the days since the first touch.
    let from = (Utc::now() - Duration::days(730)).to_rfc3339();
    let r = app
        .get(
            &a.key,
            &format!("/api/communications/stats?from={}", urlencode(&from)),
        )
        .await;
    assert_eq!(
        (r.status, r.body["total"].as_i64()),
        (200, Some(1)),
        "{:?}",
        r.body
    );
    let cached = cached_days(&app, a.id).await;
    assert!(
        (1..=4).contains(&cached),
        "{cached} days cached for 3 days of data"
    );
    // One touch dated in year 1 and stats of all time (no `from`): counted, and the cache
    // still covers at most one window, not a row per day since year 1.
    let r = app
        .log(
            &a.key,
            json!({"type": "sms", "direction": "inbound", "content": "old",
            "from_address": "+13125550100", "timestamp": "0001-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = app.get(&a.key, "/api/communications/stats").await;
    assert_eq!(
        (r.status, r.body["total"].as_i64()),
        (200, Some(2)),
        "{:?}",
        r.body
    );
    let cached = cached_days(&app, a.id).await;
    assert!(
        cached <= leadline::communications::stats::MAX_WINDOW_DAYS + 1,
        "{cached} days cached"
    );
}

/// Days of the account the stats day cache holds.
async fn cached_days(app: &common::TestApp, account: i64) -> i64 {
    sqlx::query_scalar("select count(*) from stats_days_done where account_id = $1")
        .bind(account)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn bulk_sentiment_scores_texts_in_order_and_bounds_the_batch() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    let r = app
        .post(
            &a.key,
            "/api/sentiment",
            json!({"texts": ["Love it, great work!", "This is a scam and a waste of time", ""]}),
        )
        .await;
    assert_eq!(r.status, 200);
    let labels: Vec<&str> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["positive", "negative", "neutral"]);
    let too_many: Vec<String> = (0..1001).map(|i| format!("text {i}")).collect();
    let r = app
        .post(&a.key, "/api/sentiment", json!({"texts": too_many}))
        .await;
    assert_eq!((r.status, r.error_code()), (422, "validation_failed"));
    let r = app
        .send(
            app.http
                .post(format!("{}/api/sentiment", app.base))
                .json(&json!({"texts": []})),
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn another_accounts_lead_is_404_on_every_tracker_endpoint() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    let b = app.account("B").await;
    let lead = seed_history(&app, &a.key).await;
    for path in ["timeline", "summary", "profile"] {
        let r = app.get(&b.key, &format!("/api/leads/{lead}/{path}")).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.error_code(), "not_found");
    }
    let s = app.get(&b.key, "/api/communications/stats").await.body;
    assert_eq!(s["total"], 0);
}

/// The response facts the stats read are kept by triggers as touches arrive, in order or
/// not, and when a touch changes lead or direction: they always equal a full recompute.
#[tokio::test]
async fn response_facts_stay_exact_whatever_the_arrival_order() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    // (minutes ago, channel, direction), deliberately not in time order.
    let touches = [
        (600, "sms", "inbound"),
        (30, "email", "outbound"),
        (540, "sms", "outbound"),
        (480, "sms", "inbound"),
        (300, "email", "inbound"),
        (720, "phone_call", "outbound"),
        (420, "sms", "inbound"),
        (360, "email", "outbound"),
        (60, "sms", "inbound"),
        (240, "phone_call", "outbound"),
    ];
    let base = Utc::now();
    let mut ids = vec![];
    for (i, (ago, kind, dir)) in touches.iter().enumerate() {
        let at = (base - Duration::minutes(*ago)).to_rfc3339();
        let r = app
            .log(
                &a.key,
                json!({"type": kind, "direction": dir, "timestamp": at, "content": format!("touch {i}"),
                       "lead": {"email": "lead@x.com"}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_i64().unwrap());
    }
    let rebuild = || async {
        let (n,): (i64,) = sqlx::query_as("select leadline_rebuild_response_facts($1)")
            .bind(a.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        n
    };
    assert_eq!(rebuild().await, 0, "the triggers left nothing to fix");
    // In time order: call-out 720 (answered by sms-in 600), sms-in 600 (run start, our reply
    // at 540), sms-out 540 (answered by 480), sms-in 480 + 420 (one run, reply at email-out
    // 360), email-out 360 (answered by 300), email-in 300 (reply at call-out 240), call-out 240
    // (answered by 60), sms-in 60 (reply at email-out 30), email-out 30 (not answered).
    let s = app.get(&a.key, "/api/communications/stats").await.body;
    assert_eq!(s["channels"]["sms"]["response_rate"], 1.0, "{s}");
    assert_eq!(s["channels"]["email"]["response_rate"], 0.5, "{s}");
    assert_eq!(s["channels"]["phone_call"]["response_rate"], 1.0, "{s}");
    // Speed to lead: sms runs 600->540 (60), 480->360 (120), 60->30 (30); email 300->240 (60).
    assert_eq!(s["channels"]["sms"]["speed_to_lead_minutes"], 70.0, "{s}");
    assert_eq!(s["channels"]["email"]["speed_to_lead_minutes"], 60.0, "{s}");

    // A touch turned around and another moved to a different lead: still exact.
    sqlx::query("update communications set direction = 'outbound' where id = $1")
        .bind(ids[6])
        .execute(&app.pool)
        .await
        .unwrap();
    let other = app
        .log(&a.key, json!({"type": "sms", "direction": "inbound", "content": "hi", "lead": {"email": "o@x.com"}}))
        .await;
    sqlx::query("update communications set lead_id = $1 where id = $2")
        .bind(other.body["lead_id"].as_i64().unwrap())
        .bind(ids[3])
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(rebuild().await, 0, "updates are followed too");
}

/// Stats over past days come from a day cache: whatever arrives later for a cached day
/// (a backfilled touch, a reply that answers yesterday's message, a deleted lead) must
/// show, exactly as a computation from scratch would.
#[tokio::test]
async fn cached_days_follow_late_changes() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    let base = Utc::now();
    let at = |hours: i64| (base - Duration::hours(hours)).to_rfc3339();
    let log = |kind: &'static str, dir: &'static str, hours: i64, email: &'static str| {
        let body = json!({"type": kind, "direction": dir, "timestamp": at(hours), "content": "x", "lead": {"email": email}});
        async { assert_eq!(app.log(&a.key, body).await.status, 201) }
    };
    log("sms", "inbound", 100, "a@x.com").await;
    log("sms", "outbound", 99, "a@x.com").await;
    log("email", "outbound", 75, "b@x.com").await;
    log("email", "inbound", 30, "c@x.com").await;
    let stats = || async { app.get(&a.key, "/api/communications/stats").await.body };
    let first = stats().await;
    assert_eq!(first["total"], 4);
    assert_eq!(first["channels"]["email"]["response_rate"], 0.0);
    let (cached,): (i64,) =
        sqlx::query_as("select count(*) from stats_days_done where account_id = $1")
            .bind(a.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(cached >= 4, "past days are cached ({cached})");

    // b answers two days later: the email sent 75 h ago (a cached day) is now answered.
    log("email", "inbound", 26, "b@x.com").await;
    // A touch backfilled into a cached day, out of order.
    log("phone_call", "outbound", 98, "a@x.com").await;
    let after = stats().await;
    assert_eq!(after["total"], 6);
    assert_eq!(after["channels"]["email"]["response_rate"], 1.0, "{after}");
    assert_eq!(after["by_type"]["phone_call"], 1);

    // From scratch: forget every cached day and compute again.
    sqlx::query("delete from stats_days_done")
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(stats().await, after);

    // Deleting a lead forgets its days too.
    let lead: (i64,) = sqlx::query_as("select id from leads where email = 'a@x.com'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    sqlx::query("delete from leads where id = $1")
        .bind(lead.0)
        .execute(&app.pool)
        .await
        .unwrap();
    let gone = stats().await;
    assert_eq!(gone["total"], 3);
    assert_eq!(gone["by_type"]["sms"], 0);
    // A window that starts and ends mid-day mixes cached days and live edges.
    let win = app
        .get(
            &a.key,
            &format!(
                "/api/communications/stats?from={}&to={}",
                urlencode(&at(80)),
                urlencode(&at(20))
            ),
        )
        .await
        .body;
    assert_eq!(win["total"], 3, "{win}");
}

#[tokio::test]
async fn business_hours_and_an_iana_zone_put_contact_hours_on_the_local_clock_across_dst() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    // Refused: a zone that is not IANA, hours that end before they start.
    let bad = app
        .send(
            app.http
                .put(format!("{}/api/settings/hours", app.base))
                .bearer_auth(&a.key)
                .json(&json!({"timezone": "Central Time"})),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.error_message().contains("timezone"), "{}", bad.body);
    let bad = app
        .send(app.http.put(format!("{}/api/settings/hours", app.base)).bearer_auth(&a.key)
            .json(&json!({"timezone": "America/Chicago", "hours": {"week": {"mon": [["18:00", "07:00"]]}}})))
        .await;
    assert_eq!(bad.status, 422);
    assert!(
        bad.error_message().starts_with("hours.week.mon[0]"),
        "{}",
        bad.body
    );
    let set = app
        .send(app.http.put(format!("{}/api/settings/hours", app.base)).bearer_auth(&a.key)
            .json(&json!({"timezone": "America/Chicago", "hours": {
                "week": {"mon": [["07:00", "18:00"]], "tue": [["07:00", "18:00"]], "wed": [["07:00", "18:00"]],
                         "thu": [["07:00", "18:00"]], "fri": [["07:00", "18:00"]], "sat": [["08:00", "12:00"]]},
                "holidays": ["2026-12-25"]}})))
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["timezone"], "America/Chicago");
    assert!(set.body["open_now"].is_boolean() && set.body["local_time"].is_string());
    let got = app.get(&a.key, "/api/settings/hours").await;
    assert_eq!(got.body["hours"]["holidays"], json!(["2026-12-25"]));

    // 14:00 UTC is 08:00 in January (CST) and 09:00 in July (CDT).
    for (i, at) in [
        "2026-01-15T14:00:00Z",
        "2026-01-16T14:00:00Z",
        "2026-07-15T14:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        let r = app
            .log(&a.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13125550100",
                                "content": "Is the roof done?", "timestamp": at, "provider_message_id": format!("dst{i}")}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for window in ["", "?from=2026-01-01T00:00:00Z&to=2026-08-01T00:00:00Z"] {
        let stats = app
            .get(&a.key, &format!("/api/communications/stats{window}"))
            .await;
        assert_eq!(stats.status, 200, "{}", stats.body);
        let by_hour = &stats.body["inbound_by_hour"];
        assert_eq!(
            (
                by_hour[8].as_i64(),
                by_hour[9].as_i64(),
                by_hour[14].as_i64()
            ),
            (Some(2), Some(1), Some(0)),
            "{window}: {by_hour}"
        );
    }
    let lead = app.get(&a.key, "/api/leads").await.body["items"][0]["id"]
        .as_i64()
        .unwrap();
    let profile = app.get(&a.key, &format!("/api/leads/{lead}/profile")).await;
    let hours = &profile.body["enrichment"]["preferred_contact_hours"];
    assert_eq!(
        (hours[8].as_u64(), hours[9].as_u64()),
        (Some(2), Some(1)),
        "{}",
        profile.body["enrichment"]
    );
}

/// Every lead keeps its first source (the channel of its first message, the chat with the
/// campaign of the page the visit began on, `manual`), later touches never change it, and
/// the stats break leads, speed to lead, response and won rates down by source.
#[tokio::test]
async fn leads_keep_their_first_source_and_stats_break_down_by_source() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    // Two texting leads: one answered after 10 minutes and won, one never answered.
    let r = app.log(&a.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13126410001", "content": "Need a roof quote", "timestamp": ts(60)})).await;
    let won = r.body["lead_id"].as_i64().unwrap();
    app.log(&a.key, json!({"type": "sms", "direction": "outbound", "lead_id": won, "content": "Sure, when?", "timestamp": ts(50)})).await;
    app.log(&a.key, json!({"type": "sms", "direction": "inbound", "lead_id": won, "content": "Tomorrow", "timestamp": ts(45)})).await;
    // A form the lead filled in later: its own type, never a preferred channel, no new source.
    let f = app.log(&a.key, json!({"type": "form", "direction": "inbound", "lead_id": won, "content": "Roof age: 20", "timestamp": ts(47)})).await;
    assert_eq!(f.status, 201, "{}", f.body);
    let out = app
        .log(
            &a.key,
            json!({"type": "form", "direction": "outbound", "lead_id": won, "content": "x"}),
        )
        .await;
    assert_eq!(out.status, 422, "{}", out.body);
    assert!(out.error_message().contains("direction"), "{}", out.body);
    let summary = app
        .get(&a.key, &format!("/api/leads/{won}/summary"))
        .await
        .body;
    assert_eq!(summary["by_type"]["form"], 1, "{summary}");
    assert_eq!(summary["by_type"]["sms"], 3, "{summary}");
    // A later email of the same lead does not change its source.
    app.log(&a.key, json!({"type": "email", "direction": "inbound", "lead_id": won, "content": "photos attached", "timestamp": ts(40)})).await;
    let p = app
        .patch(
            &a.key,
            &format!("/api/leads/{won}"),
            json!({"status": "won"}),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    app.log(&a.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13126410002", "content": "hello?", "timestamp": ts(30)})).await;
    // An email lead answered after 30 minutes who never wrote back.
    let r = app.log(&a.key, json!({"type": "email", "direction": "inbound", "from_address": "jo@x.com", "content": "leak!", "timestamp": ts(90)})).await;
    let jo = r.body["lead_id"].as_i64().unwrap();
    app.log(&a.key, json!({"type": "email", "direction": "outbound", "lead_id": jo, "content": "On our way", "timestamp": ts(60)})).await;
    // A lead made by hand.
    let m = app
        .post(&a.key, "/api/leads", json!({"name": "Walk In"}))
        .await;
    assert_eq!(m.status, 201, "{}", m.body);
    assert_eq!(m.body["source"], "manual");
    // A chat that began on a page with a campaign, two pages earlier.
    let site = app
        .post(
            &a.key,
            "/api/integrations/chat/sites",
            json!({"name": "Main", "allowed_origins": ["https://acme.example"]}),
        )
        .await;
    assert_eq!(site.status, 201, "{}", site.body);
    let s = app
        .send(app.http.post(format!("{}/api/chat/session/new", app.base)).header("Origin", "https://acme.example").json(&json!({
            "site_key": site.body["site_key"],
            "page_url": "https://acme.example/contact",
            "landing_url": "https://acme.example/hail?utm_source=google&utm_medium=cpc&utm_campaign=Hail+2026&gclid=G1",
            "referrer": "https://www.google.com/"})))
        .await;
    assert_eq!(s.status, 201, "{}", s.body);
    let chat_lead: i64 =
        sqlx::query_scalar("select lead_id from chat_sessions where session_id = $1")
            .bind(s.body["session_id"].as_str().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let l = app
        .get(&a.key, &format!("/api/leads/{chat_lead}"))
        .await
        .body;
    assert_eq!(l["source"], "chat", "{l}");
    assert_eq!(l["campaign"], "Hail 2026");
    assert_eq!(l["attribution"]["utm_source"], "google");
    assert_eq!(l["attribution"]["gclid"], "G1");
    assert_eq!(
        l["attribution"]["landing_page"],
        "https://acme.example/hail"
    );
    assert_eq!(l["attribution"]["referrer_host"], "www.google.com");
    let l = app.get(&a.key, &format!("/api/leads/{won}")).await.body;
    assert_eq!(
        (l["source"].as_str(), l["campaign"].as_str()),
        (Some("sms"), None)
    );

    let st = app.get(&a.key, "/api/communications/stats").await;
    assert_eq!(st.status, 200, "{}", st.body);
    let by: std::collections::HashMap<String, Value> = st.body["by_source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["source"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    let sms = &by["sms"];
    assert_eq!(
        (
            sms["leads"].as_i64(),
            sms["inbound_leads"].as_i64(),
            sms["won"].as_i64()
        ),
        (Some(2), Some(2), Some(1)),
        "{sms}"
    );
    assert_eq!(sms["answered_rate"], 0.5);
    assert_eq!(sms["speed_to_lead_minutes"], 10.0);
    assert_eq!(
        sms["response_rate"], 1.0,
        "the one lead we wrote to answered"
    );
    assert_eq!(sms["won_rate"], 0.5);
    let email = &by["email"];
    assert_eq!(email["speed_to_lead_minutes"], 30.0, "{email}");
    assert_eq!(email["response_rate"], 0.0);
    assert_eq!(by["manual"]["leads"], 1);
    assert_eq!(by["manual"]["answered_rate"], Value::Null);
    assert_eq!(by["chat"]["leads"], 1);
    let listed = app.get(&a.key, "/api/leads?source=sms").await.body;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    // A window before these leads were made has none.
    let old = app
        .get(
            &a.key,
            &format!("/api/communications/stats?to={}", urlencode(&ts(24 * 60))),
        )
        .await;
    assert_eq!(old.body["by_source"], json!([]), "{}", old.body);
}
