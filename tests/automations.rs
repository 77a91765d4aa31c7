//! Follow-up sequences through HTTP with a test clock (the engine's tick is driven here,
//! its timer off): steps go out in order through the outbox to a Telnyx stand-in, a reply,
//! STOP or a person's message ends them, two replicas send each step once, open-hours
//! steps wait for opening, a review request goes once after `won`, and sequences whose
//! words name an unknown variable are refused at save.

mod common;
#[path = "telnyx_support/mod.rs"]
mod telnyx_support;

use chrono::{DateTime, Duration, Utc};
use common::{spawn_app_with, spawn_on_pool, Account, TestApp};
use leadline::automations::run::tick;
use serde_json::{json, Value};
use telnyx_support::{connect, deliver, event, keypair, Signer_, StandIn};

const OURS: &str = "+13126412200";

struct Setup {
    app: TestApp,
    signer: Signer_,
    standin: StandIn,
    a: Account,
}

async fn setup() -> Setup {
    let signer = keypair();
    let standin = StandIn::start().await;
    let app = spawn_app_with(&[
        ("TELNYX_PUBLIC_KEY", &signer.public_b64()),
        ("TELNYX_API_BASE", &standin.base),
        ("LEADLINE_AUTOMATION_TICK_MS", "0"),
    ])
    .await;
    let a = app.account("Acme Roofing").await;
    assert_eq!(connect(&app, &a.key, &[OURS], json!({})).await.status, 200);
    let r = app
        .send(app.http.put(format!("{}/api/settings/company", app.base)).bearer_auth(&a.key)
            .json(&json!({"company_name": "Acme Roofing", "review_link": "https://g.page/r/acme/review"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    Setup {
        app,
        signer,
        standin,
        a,
    }
}

fn sms_step(delay: i64, body: &str) -> Value {
    json!({"channel": "sms", "delay_secs": delay, "body": body})
}

async fn sequence(s: &Setup, name: &str, steps: Value) -> i64 {
    let r = s
        .app
        .post(
            &s.a.key,
            "/api/sequences",
            json!({"name": name, "enabled": true, "trigger": {"on": "manual"}, "steps": steps}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn lead(s: &Setup, phone: &str) -> i64 {
    let r = s
        .app
        .post(
            &s.a.key,
            "/api/leads",
            json!({"name": "Jane Doe", "phone": phone}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn enroll(s: &Setup, seq: i64, lead: i64) {
    let r = s
        .app
        .post(
            &s.a.key,
            &format!("/api/sequences/{seq}/enroll"),
            json!({"lead_id": lead}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// The texts queued for a lead by automations, in order.
async fn queued(app: &TestApp, lead: i64) -> Vec<String> {
    sqlx::query_scalar(
        "select payload->>'text' from outbox where kind = 'sms' and (payload->>'lead_id')::bigint = $1
           and payload->>'automation' is not null order by id",
    )
    .bind(lead)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

async fn enrollment(app: &TestApp, seq: i64, lead: i64) -> (String, Option<String>) {
    sqlx::query_as("select status, exit_reason from sequence_enrollments where sequence_id = $1 and lead_id = $2")
        .bind(seq)
        .bind(lead)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// The lead texts us now.
async fn text_in(s: &Setup, from: &str, text: &str, id: &str) {
    let at = Utc::now().to_rfc3339();
    let ev = event(
        &format!("ev-{id}"),
        "message.received",
        &at,
        json!({"id": id, "record_type": "message", "direction": "inbound", "type": "SMS",
               "from": {"phone_number": from}, "to": [{"phone_number": OURS}], "text": text,
               "media": [], "parts": 1, "received_at": at}),
    );
    let r = deliver(&s.app, &s.signer, &ev).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

fn later(secs: i64) -> DateTime<Utc> {
    Utc::now() + Duration::seconds(secs)
}

#[tokio::test]
async fn a_three_step_sequence_stops_when_the_lead_replies_between_steps() {
    let s = setup().await;
    let seq = sequence(
        &s,
        "Follow-up",
        json!([
            sms_step(0, "Hi {{ lead.first_name }}, it's {{ company.name }}."),
            sms_step(60, "Second note"),
            sms_step(60, "Third note")
        ]),
    )
    .await;
    let jane = lead(&s, "+13125550100").await;
    enroll(&s, seq, jane).await;
    let r = tick(&s.app.state, later(1)).await.unwrap();
    assert_eq!(r.sent, 1);
    assert_eq!(
        queued(&s.app, jane).await,
        vec!["Hi Jane, it's Acme Roofing."]
    );
    // Sent for real, recorded as the automation's (not a person's) text.
    leadline::scheduler::drain_outbox_once(&s.app.state)
        .await
        .unwrap();
    assert_eq!(s.standin.seen().len(), 1);
    assert_eq!(
        s.standin.seen()[0].body["text"],
        "Hi Jane, it's Acme Roofing."
    );
    let meta: Value =
        sqlx::query_scalar("select metadata from communications where direction = 'outbound'")
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(meta["automation"], "Follow-up");
    // Nothing more before the delay; then the lead replies, and the sequence ends.
    assert_eq!(tick(&s.app.state, later(30)).await.unwrap().sent, 0);
    text_in(&s, "+13125550100", "Yes please, Tuesday works", "in-1").await;
    let r = tick(&s.app.state, later(120)).await.unwrap();
    assert_eq!((r.sent, r.exited), (0, 1));
    assert_eq!(
        enrollment(&s.app, seq, jane).await,
        ("exited".into(), Some("the lead replied".into()))
    );
    assert_eq!(tick(&s.app.state, later(600)).await.unwrap().sent, 0);
    assert_eq!(queued(&s.app, jane).await.len(), 1);
    let runs = s
        .app
        .get(&s.a.key, &format!("/api/automations/runs?lead_id={jane}"))
        .await;
    let outcomes: Vec<&str> = runs
        .body
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|r| r["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, vec!["enrolled", "sent", "exited"]);
    let mine = s
        .app
        .get(&s.a.key, &format!("/api/leads/{jane}/sequences"))
        .await;
    assert_eq!(mine.body[0]["status"], "exited");
    assert_eq!(mine.body[0]["step"], 1);
}

#[tokio::test]
async fn stop_ends_every_sequence_and_no_later_step_is_sent() {
    let s = setup().await;
    let one = sequence(
        &s,
        "One",
        json!([sms_step(0, "One a"), sms_step(60, "One b")]),
    )
    .await;
    let two = sequence(
        &s,
        "Two",
        json!([sms_step(0, "Two a"), sms_step(60, "Two b")]),
    )
    .await;
    let jane = lead(&s, "+13125550100").await;
    enroll(&s, one, jane).await;
    enroll(&s, two, jane).await;
    assert_eq!(tick(&s.app.state, later(1)).await.unwrap().sent, 2);
    text_in(&s, "+13125550100", "STOP", "in-stop").await;
    let r = tick(&s.app.state, later(120)).await.unwrap();
    assert_eq!((r.sent, r.exited), (0, 2));
    for seq in [one, two] {
        assert_eq!(
            enrollment(&s.app, seq, jane).await.1.as_deref(),
            Some("the lead opted out (STOP)")
        );
    }
    assert_eq!(queued(&s.app, jane).await, vec!["One a", "Two a"]);
}

#[tokio::test]
async fn a_persons_message_ends_the_automatic_follow_up() {
    let s = setup().await;
    let seq = sequence(&s, "Follow-up", json!([sms_step(60, "Automatic note")])).await;
    let jane = lead(&s, "+13125550100").await;
    enroll(&s, seq, jane).await;
    let r = s
        .app
        .post(
            &s.a.key,
            "/api/sms/send",
            json!({"lead_id": jane, "text": "Hi Jane, Mike here. Calling you in 5."}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    leadline::scheduler::drain_outbox_once(&s.app.state)
        .await
        .unwrap();
    let r = tick(&s.app.state, later(120)).await.unwrap();
    assert_eq!((r.sent, r.exited), (0, 1));
    assert_eq!(
        enrollment(&s.app, seq, jane).await.1.as_deref(),
        Some("a person of the team took over")
    );
    assert!(queued(&s.app, jane).await.is_empty());
}

#[tokio::test]
async fn two_replicas_ticking_at_once_send_each_step_once() {
    let s = setup().await;
    let other = spawn_on_pool(
        s.app.pool.clone(),
        &[
            ("TELNYX_API_BASE", &s.standin.base),
            ("LEADLINE_AUTOMATION_TICK_MS", "0"),
        ],
    )
    .await;
    let seq = sequence(
        &s,
        "Blast",
        json!([sms_step(0, "Hello {{ lead.first_name }}")]),
    )
    .await;
    let mut leads = Vec::new();
    for i in 0..40 {
        let l = lead(&s, &format!("+1312555{:04}", 2000 + i)).await;
        enroll(&s, seq, l).await;
        leads.push(l);
    }
    let at = later(1);
    let (a, b) = tokio::join!(tick(&s.app.state, at), tick(&other.state, at));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.sent + b.sent, 40, "{a:?} {b:?}");
    let n: i64 = sqlx::query_scalar("select count(*) from outbox where kind = 'sms'")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(n, 40);
    let keys: i64 = sqlx::query_scalar("select count(distinct idempotency_key) from outbox")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(keys, 40);
}

#[tokio::test]
async fn an_open_hours_step_waits_for_opening_time() {
    let s = setup().await;
    // Open only Monday 07:00–08:00 in Chicago.
    let r = s
        .app
        .send(s.app.http.put(format!("{}/api/settings/hours", s.app.base)).bearer_auth(&s.a.key)
            .json(&json!({"timezone": "America/Chicago", "hours": {"week": {"mon": [["07:00", "08:00"]]}}})))
        .await;
    assert_eq!(r.status, 200);
    let seq = sequence(&s, "Business hours", json!([{"channel": "sms", "delay_secs": 0, "open_hours_only": true, "body": "Good morning"}])).await;
    let jane = lead(&s, "+13125550100").await;
    enroll(&s, seq, jane).await;
    let hours =
        leadline::hours::store::of_account(&s.app.pool, leadline::domain::AccountId(s.a.id))
            .await
            .unwrap();
    let mut closed = later(1);
    while hours.is_open(closed) {
        closed += Duration::hours(2);
    }
    let r = tick(&s.app.state, closed).await.unwrap();
    assert_eq!((r.sent, r.waiting), (0, 1));
    let next: DateTime<Utc> = sqlx::query_scalar("select next_run_at from sequence_enrollments")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    assert_eq!(Some(next), hours.next_open(closed));
    assert!(hours.is_open(next));
    assert_eq!(tick(&s.app.state, next).await.unwrap().sent, 1);
}

#[tokio::test]
async fn a_review_request_goes_once_after_the_job_is_won() {
    let s = setup().await;
    let list = s.app.get(&s.a.key, "/api/sequences").await;
    let keys: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|q| q["key"].as_str())
        .collect();
    assert_eq!(keys, vec!["new_lead", "quote", "nurture", "review"]);
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["enabled"] == false),
        "ready-made ones start off"
    );
    let review = list.body[3]["id"].as_i64().unwrap();
    let on = s
        .app
        .patch(
            &s.a.key,
            &format!("/api/sequences/{review}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    let jane = lead(&s, "+13125550100").await;
    assert_eq!(
        tick(&s.app.state, later(1)).await.unwrap().enrolled,
        0,
        "not won yet"
    );
    s.app
        .patch(
            &s.a.key,
            &format!("/api/leads/{jane}"),
            json!({"status": "won"}),
        )
        .await;
    let preview = s
        .app
        .post(
            &s.a.key,
            "/api/automations/preview",
            json!({"lead_id": jane}),
        )
        .await;
    let item = preview
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sequence_id"] == review)
        .unwrap()
        .clone();
    assert_eq!(item["action"], "enrol");
    assert!(
        item["message"]
            .as_str()
            .unwrap()
            .contains("https://g.page/r/acme/review"),
        "{item}"
    );
    assert_eq!(tick(&s.app.state, later(1)).await.unwrap().enrolled, 1);
    // Two days later (no opening hours set: always open), one text with the review link.
    assert_eq!(
        tick(&s.app.state, later(86400)).await.unwrap().sent,
        0,
        "not before its delay"
    );
    let r = tick(&s.app.state, later(2 * 86400 + 1)).await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let texts = queued(&s.app, jane).await;
    assert_eq!(texts.len(), 1);
    assert!(
        texts[0].contains("Thanks for choosing Acme Roofing, Jane!")
            && texts[0].contains("https://g.page/r/acme/review"),
        "{}",
        texts[0]
    );
    // Won again later: never a second request.
    s.app
        .patch(
            &s.a.key,
            &format!("/api/leads/{jane}"),
            json!({"status": "quoted"}),
        )
        .await;
    s.app
        .patch(
            &s.a.key,
            &format!("/api/leads/{jane}"),
            json!({"status": "won"}),
        )
        .await;
    let r = tick(&s.app.state, later(20 * 86400)).await.unwrap();
    assert_eq!((r.enrolled, r.sent), (0, 0));
    assert_eq!(queued(&s.app, jane).await.len(), 1);
}

#[tokio::test]
async fn sequences_are_checked_when_saved_and_only_admins_change_them() {
    let s = setup().await;
    let typo = s
        .app
        .post(&s.a.key, "/api/sequences", json!({"name": "x", "trigger": {"on": "manual"}, "steps": [sms_step(0, "Hi {{ lead.frist_name }}")]}))
        .await;
    assert_eq!(typo.status, 422);
    assert_eq!(typo.error_code(), "invalid_sequence");
    assert!(
        typo.error_message()
            .starts_with("steps[0].body: unknown variable {{ lead.frist_name }}"),
        "{}",
        typo.body
    );
    let stage = s
        .app
        .post(&s.a.key, "/api/sequences", json!({"name": "x", "trigger": {"on": "stage", "stage": "signed"}, "steps": [sms_step(0, "Hi")]}))
        .await;
    assert!(
        stage.error_message().starts_with("trigger.stage"),
        "{}",
        stage.body
    );
    let unknown = s
        .app
        .post(
            &s.a.key,
            "/api/sequences",
            json!({"name": "x", "trigger": {"on": "sometimes"}, "steps": []}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    // A manual enrolment happens once per lead and sequence.
    let seq = sequence(&s, "Once", json!([sms_step(0, "Hi")])).await;
    let jane = lead(&s, "+13125550100").await;
    enroll(&s, seq, jane).await;
    let again = s
        .app
        .post(
            &s.a.key,
            &format!("/api/sequences/{seq}/enroll"),
            json!({"lead_id": jane}),
        )
        .await;
    assert_eq!(again.status, 409);
    // Stopped by hand: nothing is sent.
    let stop = s
        .app
        .send(
            s.app
                .http
                .delete(format!("{}/api/sequences/{seq}/enroll", s.app.base))
                .bearer_auth(&s.a.key)
                .json(&json!({"lead_id": jane})),
        )
        .await;
    assert_eq!(stop.status, 204);
    assert_eq!(tick(&s.app.state, later(1)).await.unwrap().sent, 0);
}

async fn instant_on(s: &Setup) {
    let r = s
        .app
        .send(
            s.app
                .http
                .put(format!("{}/api/settings/instant-answers", s.app.base))
                .bearer_auth(&s.a.key)
                .json(&json!({"enabled": true})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_new_leads_first_text_at_night_is_answered_at_once_with_the_opening_time_and_only_once() {
    let s = setup().await;
    instant_on(&s).await;
    // Open only from 07:00 on a day that is not today (so now is closed), quiet hours all night.
    let zone = leadline::hours::Zone::parse("America/Chicago").unwrap();
    let today = chrono::Datelike::weekday(&zone.local(Utc::now()).date());
    let other = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        [(today.num_days_from_monday() as usize + 2) % 7];
    s.app
        .send(s.app.http.put(format!("{}/api/settings/hours", s.app.base)).bearer_auth(&s.a.key)
            .json(&json!({"timezone": "America/Chicago", "hours": {"week": {other: [["07:00", "18:00"]]}}})))
        .await;
    connect(
        &s.app,
        &s.a.key,
        &[OURS],
        json!({"quiet_hours": {"start": "00:00", "end": "23:59", "timezone": "America/Chicago"}}),
    )
    .await;
    text_in(
        &s,
        "+13125550100",
        "Hail hit my roof last night, can someone look?",
        "in-1",
    )
    .await;
    let r = tick(&s.app.state, Utc::now()).await.unwrap();
    assert_eq!(r.answered, 1, "{r:?}");
    let (text, held, ai): (String, bool, String) = sqlx::query_as(
        "select payload->>'text', next_attempt_at > now() + interval '1 minute', payload->>'ai_generated' from outbox where idempotency_key like 'instant:%'",
    )
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert!(
        text.starts_with(
            "Thanks for texting Acme Roofing! We're closed right now and open again at 7:00 am "
        ),
        "{text}"
    );
    assert!(!held, "an answer is a reply: quiet hours do not hold it");
    assert_eq!(ai, "false");
    // A second text, another tick: still one answer.
    text_in(&s, "+13125550100", "Hello?", "in-2").await;
    assert_eq!(tick(&s.app.state, Utc::now()).await.unwrap().answered, 0);
    leadline::scheduler::drain_outbox_once(&s.app.state)
        .await
        .unwrap();
    assert_eq!(s.standin.seen().len(), 1);
    assert_eq!(
        tick(&s.app.state, Utc::now()).await.unwrap().answered,
        0,
        "answered already"
    );
}

/// A lead that came by a form (web, ad, marketplace) enters the same first-answer flow:
/// texted at once when it gave a phone; one without a phone is left to people and sequences.
#[tokio::test]
async fn a_form_lead_with_a_phone_gets_the_instant_text() {
    let s = setup().await;
    instant_on(&s).await;
    connect(&s.app, &s.a.key, &[OURS], json!({})).await;
    for (who, id) in [
        (json!({"name": "Dana Lee", "phone": "+13125550177"}), "f-1"),
        (json!({"name": "No Phone", "email": "nophone@x.com"}), "f-2"),
    ] {
        let r = s
            .app
            .log(&s.a.key, json!({"type": "form", "direction": "inbound", "lead": who,
                "content": "Roof leaks over the kitchen", "provider": "web_form", "provider_message_id": id}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = tick(&s.app.state, Utc::now()).await.unwrap();
    assert_eq!(r.answered, 1, "{r:?}");
    let to: Vec<String> = sqlx::query_scalar(
        "select payload->>'to' from outbox where idempotency_key like 'instant:%'",
    )
    .fetch_all(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(to, ["+13125550177"]);
    assert_eq!(tick(&s.app.state, Utc::now()).await.unwrap().answered, 0);
}

#[tokio::test]
async fn the_instant_answer_is_the_ais_when_open_skips_machines_and_gives_way_to_a_person() {
    let s = setup().await;
    // Off until the account turns it on.
    assert_eq!(
        s.app
            .get(&s.a.key, "/api/settings/instant-answers")
            .await
            .body["enabled"],
        false
    );
    instant_on(&s).await;
    // No hours set: open, so the AI responder (rules) answers.
    text_in(&s, "+13125550101", "Need a roof quote for a leak", "in-1").await;
    assert_eq!(tick(&s.app.state, Utc::now()).await.unwrap().answered, 1);
    let ai: String = sqlx::query_scalar(
        "select payload->>'ai_generated' from outbox where idempotency_key like 'instant:%'",
    )
    .fetch_one(&s.app.pool)
    .await
    .unwrap();
    assert_eq!(ai, "true");
    // An autoresponder gets nothing.
    text_in(
        &s,
        "+13125550102",
        "Auto-reply: I'm away until Monday",
        "in-2",
    )
    .await;
    assert_eq!(tick(&s.app.state, Utc::now()).await.unwrap().answered, 0);
    // A person who answers before the automatic answer goes cancels it.
    text_in(&s, "+13125550103", "Roof leaking, help", "in-3").await;
    assert_eq!(tick(&s.app.state, Utc::now()).await.unwrap().answered, 1);
    let lead: i64 = sqlx::query_scalar("select id from leads where phone = '+13125550103'")
        .fetch_one(&s.app.pool)
        .await
        .unwrap();
    let r = s
        .app
        .log(&s.a.key, json!({"type": "phone_call", "direction": "outbound", "lead_id": lead, "content": "Called her back"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    leadline::scheduler::drain_outbox_once(&s.app.state)
        .await
        .unwrap();
    let texts: Vec<String> = s
        .standin
        .seen()
        .iter()
        .map(|x| x.body["to"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        texts,
        vec!["+13125550101"],
        "only the answer nobody overtook went out"
    );
    let error: String =
        sqlx::query_scalar("select last_error from outbox where idempotency_key = $1")
            .bind(format!("instant:{lead}"))
            .fetch_one(&s.app.pool)
            .await
            .unwrap();
    assert_eq!(error, "a person of the team answered first");
}

#[tokio::test]
async fn leads_that_went_quiet_or_whose_next_action_matches_are_enrolled() {
    let s = setup().await;
    let quiet = s
        .app
        .post(
            &s.a.key,
            "/api/sequences",
            json!({"name": "Went quiet", "enabled": true, "trigger": {"on": "no_reply", "hours": 1},
            "steps": [sms_step(0, "Still thinking about that roof?")]}),
        )
        .await;
    assert_eq!(quiet.status, 201, "{}", quiet.body);
    let quiet = quiet.body["id"].as_i64().unwrap();
    let first = s
        .app
        .post(&s.a.key, "/api/sequences", json!({"name": "First contact", "enabled": true,
            "trigger": {"on": "next_action", "action": "make_first_contact"}, "steps": [sms_step(3600, "Hi")]}))
        .await;
    let first = first.body["id"].as_i64().unwrap();
    // We wrote to Jane last; Bob wrote to us last.
    let jane = lead(&s, "+13125550100").await;
    s.app.log(&s.a.key, json!({"type": "sms", "direction": "outbound", "lead_id": jane, "content": "Here is your quote"})).await;
    let bob = lead(&s, "+13125550101").await;
    s.app.log(&s.a.key, json!({"type": "sms", "direction": "inbound", "lead_id": bob, "content": "Thanks, let me think"})).await;
    let fresh = lead(&s, "+13125550102").await;
    let enrolled = |seq: i64| {
        let pool = s.app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "select lead_id from sequence_enrollments where sequence_id = $1 order by lead_id",
            )
            .bind(seq)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    tick(&s.app.state, later(60)).await.unwrap();
    assert!(
        enrolled(quiet).await.is_empty(),
        "not quiet for an hour yet"
    );
    assert!(
        enrolled(first).await.contains(&fresh),
        "a lead nobody contacted yet"
    );
    assert!(!enrolled(first).await.contains(&jane));
    tick(&s.app.state, later(2 * 3600)).await.unwrap();
    assert_eq!(
        enrolled(quiet).await,
        vec![jane],
        "only the lead who did not answer us"
    );
}
