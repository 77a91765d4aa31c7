//! Outgoing webhooks through HTTP against the real server and PostgreSQL, with a loopback
//! receiver that verifies Standard Webhooks signatures and can fail, be slow, or be down.

mod common;
mod web_support;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::{spawn_app_with, Account, TestApp};
use leadline::webhooks_out::{emit, sign};
use serde_json::{json, Value};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    id: String,
    body: String,
    signature: String,
    timestamp: i64,
    /// Which of the receiver's keys verified it.
    verified_by: Vec<usize>,
    answered: u16,
}

#[derive(Default)]
struct Behaviour {
    /// Answer 500 to the first N attempts of each webhook-id.
    fail_first: usize,
    /// Answer this to everything (when set).
    always: Option<u16>,
    delay: Duration,
}

#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Seen>>>,
    keys: Arc<Mutex<Vec<Vec<u8>>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    tries: Arc<Mutex<HashMap<String, usize>>>,
}

impl Receiver {
    fn set_secret(&self, secret: &str) {
        self.keys
            .lock()
            .unwrap()
            .push(sign::key_of(secret).unwrap());
    }
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    /// The first 2xx of each webhook-id, in arrival order (receiver-side dedupe).
    fn accepted(&self) -> Vec<Seen> {
        let mut ids = HashSet::new();
        self.seen()
            .into_iter()
            .filter(|s| (200..300).contains(&s.answered) && ids.insert(s.id.clone()))
            .collect()
    }
}

async fn handle(rx: Receiver, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (id, signature) = (h("webhook-id"), h("webhook-signature"));
    let timestamp: i64 = h("webhook-timestamp").parse().unwrap_or(0);
    let verified_by: Vec<usize> = rx
        .keys
        .lock()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, k)| sign::verify(k, &signature, &id, timestamp, &body))
        .map(|(i, _)| i)
        .collect();
    let (fail_first, always, delay) = {
        let b = rx.behaviour.lock().unwrap();
        (b.fail_first, b.always, b.delay)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let n = {
        let mut t = rx.tries.lock().unwrap();
        let n = t.entry(id.clone()).or_default();
        *n += 1;
        *n
    };
    let answered = if verified_by.is_empty() {
        401
    } else if let Some(s) = always {
        s
    } else if n <= fail_first {
        500
    } else {
        204
    };
    rx.seen.lock().unwrap().push(Seen {
        id,
        body: String::from_utf8_lossy(&body).into(),
        signature,
        timestamp,
        verified_by,
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

/// Serves the receiver on `listener` until the returned task is aborted.
fn serve(rx: Receiver, listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<()> {
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| handle(rx.clone(), headers, body)),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    })
}

async fn receiver() -> (Receiver, String, tokio::task::JoinHandle<()>) {
    let rx = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let task = serve(rx.clone(), listener);
    (rx, url, task)
}

const FAST: &[(&str, &str)] = &[("LEADLINE_WEBHOOKS_RETRY_BASE_MS", "100")];

async fn subscribe(app: &TestApp, acc: &Account, url: &str, events: &[&str]) -> (i64, String) {
    let r = app
        .post(
            &acc.key,
            "/api/webhooks/subscriptions",
            json!({"url": url, "events": events, "description": "test"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["id"].as_i64().unwrap(),
        r.body["secret"].as_str().unwrap().to_string(),
    )
}

async fn wait_until_settled(app: &TestApp, account: i64, limit: Duration) {
    let t = std::time::Instant::now();
    loop {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from webhook_deliveries where account_id = $1 and status in ('pending','sending')",
        )
        .bind(account)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if open == 0 {
            return;
        }
        assert!(
            t.elapsed() < limit,
            "{open} deliveries still open after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every delivery row of the account: (id, lead_id, event_type, ord, status).
async fn rows(app: &TestApp, account: i64) -> Vec<(i64, Option<i64>, String, i64, String)> {
    sqlx::query_as("select id, lead_id, event_type, ord, status from webhook_deliveries where account_id = $1 order by id")
        .bind(account)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

const ALL: &[&str] = &[
    "lead.created",
    "lead.updated",
    "lead.stage_changed",
    "lead.assigned",
    "communication.created",
    "chat.session.closed",
    "automation.step.sent",
];

/// Makes activity on `leads` leads: a first text (new lead), two more, a profile change
/// and a stage change each.
async fn activity(app: &TestApp, acc: &Account, leads: usize, tag: &str) {
    let mut tasks = Vec::new();
    for l in 0..leads {
        let phone = format!("+1312555{:04}", l);
        let tag = tag.to_string();
        tasks.push(async move {
            for m in 0..3 {
                let r = app
                    .log(&acc.key, json!({"type": "sms", "direction": "inbound", "from_address": phone,
                        "content": format!("message {m} from lead {l}"), "provider_message_id": format!("{tag}-{l}-{m}")}))
                    .await;
                assert!(r.status == 201, "{}", r.body);
            }
            let lead = app.get(&acc.key, &format!("/api/leads?q={}", &phone[2..])).await;
            let id = lead.body["items"][0]["id"].as_i64().unwrap();
            let r = app
                .patch(&acc.key, &format!("/api/leads/{id}"), json!({"name": format!("Lead {l}"), "status": "contacted"}))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        });
    }
    futures_util::future::join_all(tasks).await;
}

#[tokio::test]
async fn every_event_is_delivered_signed_in_order_per_lead_through_failures_slowness_and_an_outage()
{
    let app = spawn_app_with(FAST).await;
    let acc = app.account("Acme").await;
    let (rx, url, task) = receiver().await;
    let (sub, secret) = subscribe(&app, &acc, &url, ALL).await;
    rx.set_secret(&secret);
    {
        let mut b = rx.behaviour.lock().unwrap();
        b.fail_first = 2;
        b.delay = Duration::from_millis(30);
    }
    activity(&app, &acc, 6, "a").await;

    // Down for a while: the port refuses connections, events keep coming.
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/hook")
        .parse()
        .unwrap();
    task.abort();
    let _ = task.await;
    rx.behaviour.lock().unwrap().fail_first = 0;
    activity_more(&app, &acc).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let down: i64 = sqlx::query_scalar(
        "select count(*) from webhook_attempts where account_id = $1 and response_status is null and error is not null",
    )
    .bind(acc.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(down > 0, "some attempts met the outage");
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _task = serve(rx.clone(), listener);
    wait_until_settled(&app, acc.id, Duration::from_secs(60)).await;

    let stored = rows(&app, acc.id).await;
    assert!(stored.iter().all(|r| r.4 == "delivered"), "{stored:?}");
    let kinds: HashSet<&str> = stored.iter().map(|r| r.2.as_str()).collect();
    for k in [
        "lead.created",
        "lead.updated",
        "lead.stage_changed",
        "communication.created",
    ] {
        assert!(kinds.contains(k), "{k} missing: {kinds:?}");
    }
    // 6 leads × (created, 3 texts, updated, stage) + the extra lead's 2 texts and creation.
    assert_eq!(stored.len(), 6 * 6 + 3, "{stored:?}");

    // Every webhook-id arrived (and was accepted) exactly as stored; none lost.
    let accepted = rx.accepted();
    let want: HashSet<String> = stored.iter().map(|r| format!("msg_{}", r.0)).collect();
    let got: HashSet<String> = accepted.iter().map(|s| s.id.clone()).collect();
    assert_eq!(got, want);
    // Every request was signed with the subscription's secret; the bodies read into the
    // documented schemas.
    assert!(rx.seen().iter().all(|s| s.verified_by == vec![0]));
    for s in &accepted {
        let ev = emit::parse(s.body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {}", s.body));
        assert!(ALL.contains(&ev.kind.as_str()));
        assert!((s.timestamp - chrono::Utc::now().timestamp()).abs() < 120);
    }
    // In order per lead: the accepted sequence of each lead follows the stored order.
    let by_id: HashMap<String, (Option<i64>, i64)> = stored
        .iter()
        .map(|r| (format!("msg_{}", r.0), (r.1, r.3)))
        .collect();
    let mut last: HashMap<i64, i64> = HashMap::new();
    for s in &accepted {
        let (lead, ord) = by_id[&s.id];
        let lead = lead.unwrap();
        if let Some(prev) = last.insert(lead, ord) {
            assert!(prev < ord, "lead {lead}: {prev} then {ord}");
        }
    }
    // Failures were retried: first attempts of the first round got 500s.
    assert!(rx.seen().iter().any(|s| s.answered == 500));
    let log = app
        .get(
            &acc.key,
            &format!("/api/webhooks/deliveries?subscription={sub}&limit=200"),
        )
        .await;
    assert_eq!(log.status, 200, "{}", log.body);
    assert_eq!(log.body["items"].as_array().unwrap().len(), stored.len());
    let first = stored[0].0;
    let d = app
        .get(&acc.key, &format!("/api/webhooks/deliveries/{first}"))
        .await;
    assert_eq!(d.status, 200, "{}", d.body);
    let attempts = d.body["attempts_log"].as_array().unwrap();
    assert!(attempts.len() >= 3, "{}", d.body);
    assert_eq!(attempts[0]["response_status"], 500);
    assert_eq!(
        attempts[0]["request_headers"]["webhook-id"],
        format!("msg_{first}")
    );
    assert_eq!(attempts.last().unwrap()["response_status"], 204);
    assert!(attempts
        .iter()
        .map(|a| a["attempt"].as_i64().unwrap())
        .eq(1..=attempts.len() as i64));
}

/// A new lead while the receiver is down: creation and two texts.
async fn activity_more(app: &TestApp, acc: &Account) {
    for m in 0..2 {
        let r = app
            .log(&acc.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13125559999",
                "content": format!("during the outage {m}"), "provider_message_id": format!("down-{m}")}))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
}

#[tokio::test]
async fn replay_sends_the_same_webhook_id_again_and_other_accounts_cannot_see_or_replay() {
    let app = spawn_app_with(FAST).await;
    let acc = app.account("Acme").await;
    let other = app.account("Other").await;
    let (rx, url, _task) = receiver().await;
    let (sub, secret) = subscribe(&app, &acc, &url, &["lead.created"]).await;
    rx.set_secret(&secret);
    let r = app
        .post(
            &acc.key,
            "/api/leads",
            json!({"name": "Rita Replay", "email": "rita@example.com"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    wait_until_settled(&app, acc.id, Duration::from_secs(10)).await;
    let stored = rows(&app, acc.id).await;
    assert_eq!(stored.len(), 1);
    let id = stored[0].0;

    // Another account sees nothing of it.
    assert_eq!(
        app.get(&other.key, &format!("/api/webhooks/subscriptions/{sub}"))
            .await
            .status,
        404
    );
    assert_eq!(
        app.patch(
            &other.key,
            &format!("/api/webhooks/subscriptions/{sub}"),
            json!({"enabled": false})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.post(
            &other.key,
            &format!("/api/webhooks/subscriptions/{sub}/rotate"),
            json!({})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.delete(&other.key, &format!("/api/webhooks/subscriptions/{sub}"))
            .await
            .status,
        404
    );
    assert_eq!(
        app.get(&other.key, &format!("/api/webhooks/deliveries/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(
        app.post(
            &other.key,
            &format!("/api/webhooks/deliveries/{id}/replay"),
            json!({})
        )
        .await
        .status,
        404
    );
    let theirs = app
        .get(
            &other.key,
            &format!("/api/webhooks/deliveries?subscription={sub}"),
        )
        .await;
    assert_eq!(theirs.body["items"], json!([]));
    assert_eq!(
        app.get(&other.key, "/api/webhooks/subscriptions")
            .await
            .body,
        json!([])
    );

    let r = app
        .post(
            &acc.key,
            &format!("/api/webhooks/deliveries/{id}/replay"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.body["webhook_id"], format!("msg_{id}"));
    wait_until_settled(&app, acc.id, Duration::from_secs(10)).await;
    let seen = rx.seen();
    assert_eq!(seen.len(), 2);
    assert!(seen
        .iter()
        .all(|s| s.id == format!("msg_{id}") && s.answered == 204));
    assert_eq!(seen[0].body, seen[1].body, "the same body, byte for byte");
    assert_eq!(rx.accepted().len(), 1, "the receiver dedupes it");
    let audit: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where account_id = $1 and action like 'webhook.%'",
    )
    .bind(acc.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(audit, 2, "created and replayed");
}

#[tokio::test]
async fn a_subscription_failing_for_three_days_is_disabled_and_the_owners_alerted() {
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let acc = app.account("Acme").await;
    sqlx::query("insert into users (account_id, email, role) values ($1, 'olivia@acme.test', 'owner'), ($1, 'sam@acme.test', 'member')")
        .bind(acc.id)
        .execute(&app.pool)
        .await
        .unwrap();
    let (rx, url, _task) = receiver().await;
    let (sub, secret) = subscribe(&app, &acc, &url, &["lead.created"]).await;
    rx.set_secret(&secret);
    rx.behaviour.lock().unwrap().always = Some(503);
    let r = app
        .post(&acc.key, "/api/leads", json!({"name": "Dora Down"}))
        .await;
    assert_eq!(r.status, 201);
    let t0 = chrono::Utc::now();
    let state = &app.state;
    let r1 = leadline::webhooks_out::deliver::tick(state, t0)
        .await
        .unwrap();
    assert_eq!((r1.retrying, r1.disabled), (1, 0));
    let s = app
        .get(&acc.key, &format!("/api/webhooks/subscriptions/{sub}"))
        .await;
    assert!(s.body["failing_since"].is_string(), "{}", s.body);
    // A day later: still failing, still on.
    let r2 = leadline::webhooks_out::deliver::tick(state, t0 + chrono::Duration::days(1))
        .await
        .unwrap();
    assert_eq!((r2.retrying, r2.disabled), (1, 0));
    // Past three days: given up and disabled; the owner (not the member) is alerted.
    let r3 = leadline::webhooks_out::deliver::tick(
        state,
        t0 + chrono::Duration::days(3) + chrono::Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!((r3.given_up, r3.disabled), (1, 1), "{r3:?}");
    let s = app
        .get(&acc.key, &format!("/api/webhooks/subscriptions/{sub}"))
        .await;
    assert_eq!(s.body["enabled"], false);
    assert_eq!(
        s.body["disabled_reason"],
        "every delivery failed for 3 days"
    );
    let alerted: Vec<String> = sqlx::query_scalar(
        "select u.email from alerts a join users u on u.id = a.user_id where a.account_id = $1 and a.kind = 'webhook_disabled'",
    )
    .bind(acc.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(alerted, vec!["olivia@acme.test".to_string()]);
    // A disabled subscription gets no events; turning it on clears the failure.
    app.post(&acc.key, "/api/leads", json!({"name": "Later Lead"}))
        .await;
    assert_eq!(rows(&app, acc.id).await.len(), 1);
    let r4 = leadline::webhooks_out::deliver::tick(state, t0 + chrono::Duration::days(4))
        .await
        .unwrap();
    assert_eq!(r4, Default::default());
    rx.behaviour.lock().unwrap().always = None;
    let s = app
        .patch(
            &acc.key,
            &format!("/api/webhooks/subscriptions/{sub}"),
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(
        (
            s.body["enabled"].clone(),
            s.body["disabled_reason"].clone(),
            s.body["failing_since"].clone()
        ),
        (json!(true), Value::Null, Value::Null)
    );
    app.post(&acc.key, "/api/leads", json!({"name": "Back Again"}))
        .await;
    let r5 = leadline::webhooks_out::deliver::tick(state, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(r5.delivered, 1, "{r5:?}");
}

#[tokio::test]
async fn gone_disables_at_once() {
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let acc = app.account("Acme").await;
    let (rx, url, _task) = receiver().await;
    let (sub, secret) = subscribe(&app, &acc, &url, &["lead.created"]).await;
    rx.set_secret(&secret);
    rx.behaviour.lock().unwrap().always = Some(410);
    app.post(&acc.key, "/api/leads", json!({"name": "Gina Gone"}))
        .await;
    let r = leadline::webhooks_out::deliver::tick(&app.state, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!((r.given_up, r.disabled), (1, 1));
    let s = app
        .get(&acc.key, &format!("/api/webhooks/subscriptions/{sub}"))
        .await;
    assert_eq!(s.body["enabled"], false);
}

#[tokio::test]
async fn rotation_signs_with_both_secrets_for_a_day_then_only_the_new_one() {
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let acc = app.account("Acme").await;
    let (rx, url, _task) = receiver().await;
    let (sub, old) = subscribe(&app, &acc, &url, &["lead.created"]).await;
    rx.set_secret(&old);
    let r = app
        .post(
            &acc.key,
            &format!("/api/webhooks/subscriptions/{sub}/rotate"),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new = r.body["secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(r.body["previous_secret_until"].is_string());
    rx.set_secret(&new);
    // The secret is never listed again.
    let listed = app.get(&acc.key, "/api/webhooks/subscriptions").await;
    assert!(!listed.body.to_string().contains("whsec_"));

    app.post(&acc.key, "/api/leads", json!({"name": "Rory Rotate"}))
        .await;
    let now = chrono::Utc::now();
    leadline::webhooks_out::deliver::tick(&app.state, now)
        .await
        .unwrap();
    let s = rx.seen();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].signature.split(' ').count(), 2);
    assert_eq!(s[0].verified_by, vec![0, 1], "old and new both verify");

    app.post(&acc.key, "/api/leads", json!({"name": "Tara Tomorrow"}))
        .await;
    leadline::webhooks_out::deliver::tick(&app.state, now + chrono::Duration::hours(25))
        .await
        .unwrap();
    let s = rx.seen();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].signature.split(' ').count(), 1);
    assert_eq!(
        s[1].verified_by,
        vec![1],
        "only the new one after the overlap"
    );
}

#[tokio::test]
async fn private_and_plain_http_receivers_are_refused_without_the_flag_at_save_and_at_delivery() {
    let app = spawn_app_with(&[
        ("LEADLINE_ALLOW_PRIVATE_HOSTS", "false"),
        ("LEADLINE_WEBHOOKS_WORKER", "false"),
    ])
    .await;
    let acc = app.account("Acme").await;
    for (url, why) in [
        ("http://example.com/hook", "https"),
        ("https://127.0.0.1/hook", "own network"),
        ("https://localhost:8443/hook", "own network"),
        ("https://[::1]/hook", "own network"),
        ("https://10.0.0.5/hook", "own network"),
        ("https://169.254.169.254/latest", "own network"),
        ("ftp://example.com/", "https"),
        ("not a url", "url"),
    ] {
        let r = app
            .post(
                &acc.key,
                "/api/webhooks/subscriptions",
                json!({"url": url, "events": ["lead.created"]}),
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.body);
        assert!(r.error_message().starts_with("url:"), "{url}: {}", r.body);
        assert!(r.error_message().contains(why), "{url}: {}", r.body);
    }
    let r = app
        .post(
            &acc.key,
            "/api/webhooks/subscriptions",
            json!({"url": "https://8.8.8.8/x", "events": ["lead.nope"]}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.error_message().starts_with("events:"), "{}", r.body);

    // A subscription whose host became internal after it was saved (DNS rebinding, or a
    // row from before) is refused at delivery time, before any connection.
    let (rx, url, _task) = receiver().await;
    let (secret_sub, _) = {
        let s = leadline::webhooks_out::model::create(
            &app.pool,
            &app.state.secrets,
            leadline::domain::AccountId(acc.id),
            &url.replace("http://", "https://"),
            &["lead.created".to_string()],
            true,
            None,
        )
        .await
        .unwrap();
        (s.0.id, s.1)
    };
    let named = leadline::webhooks_out::model::create(
        &app.pool,
        &app.state.secrets,
        leadline::domain::AccountId(acc.id),
        &url.replace("http://127.0.0.1", "https://localhost"),
        &["lead.created".to_string()],
        true,
        None,
    )
    .await
    .unwrap();
    app.post(&acc.key, "/api/leads", json!({"name": "Ivy Internal"}))
        .await;
    let r = leadline::webhooks_out::deliver::tick(&app.state, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(r.retrying, 2, "{r:?}");
    assert!(rx.seen().is_empty(), "nothing reached the receiver");
    for sub in [secret_sub, named.0.id] {
        let err: String = sqlx::query_scalar(
            "select last_error from webhook_deliveries where subscription_id = $1",
        )
        .bind(sub)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert!(err.contains("own network"), "{err}");
    }
}

#[tokio::test]
async fn events_are_written_only_for_subscribed_accounts_and_types_and_every_payload_matches_its_schema(
) {
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let quiet = app.account("Quiet").await;
    let acc = app.account("Acme").await;
    let (_rx, url, _task) = receiver().await;
    // Nothing for an account without subscriptions.
    activity(&app, &quiet, 2, "q1").await;
    let (sub, _) = subscribe(&app, &acc, &url, &["lead.created", "lead.stage_changed"]).await;
    activity(&app, &quiet, 1, "q2").await;
    assert!(rows(&app, quiet.id).await.is_empty());

    // Only the subscribed types; texts to an existing lead (score, activity) make no lead.updated.
    activity(&app, &acc, 2, "a").await;
    let kinds: Vec<String> = rows(&app, acc.id).await.into_iter().map(|r| r.2).collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "lead.created").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "lead.stage_changed").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(kinds.len(), 4, "{kinds:?}");

    // Every type, including those made by chat and the automation engine, reads into its schema.
    app.patch(
        &acc.key,
        &format!("/api/webhooks/subscriptions/{sub}"),
        json!({"events": ALL}),
    )
    .await;
    let lead: i64 =
        sqlx::query_scalar("select id from leads where account_id = $1 order by id limit 1")
            .bind(acc.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    sqlx::query(
        "insert into users (account_id, email, role) values ($1, 'rep@acme.test', 'member')",
    )
    .bind(acc.id)
    .execute(&app.pool)
    .await
    .unwrap();
    let r = app
        .patch(&acc.key, &format!("/api/leads/{lead}"), json!({"assigned_user_id": sqlx::query_scalar::<_, i64>("select id from users where account_id = $1").bind(acc.id).fetch_one(&app.pool).await.unwrap(), "roof_age_years": 22, "status": "quoted"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    sqlx::query("insert into chat_sessions (account_id, session_id, lead_id, message_count) values ($1, 'cs_1', $2, 3)")
        .bind(acc.id)
        .bind(lead)
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update chat_sessions set ended_at = now() where session_id = 'cs_1'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update chat_sessions set message_count = 4 where session_id = 'cs_1'")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("insert into automation_runs (account_id, at, lead_id, step, outcome) values ($1, now(), $2, 0, 'sent'), ($1, now(), $2, 1, 'waiting')")
        .bind(acc.id)
        .bind(lead)
        .execute(&app.pool)
        .await
        .unwrap();
    let bodies: Vec<(String, String)> = sqlx::query_as(
        "select event_type, body from webhook_deliveries where account_id = $1 and id > (select max(id) from webhook_deliveries where event_type = 'lead.stage_changed' and account_id = $1 and body not like '%quoted%') order by id",
    )
    .bind(acc.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let kinds: Vec<&str> = bodies.iter().map(|b| b.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "lead.updated",
            "lead.stage_changed",
            "lead.assigned",
            "chat.session.closed",
            "automation.step.sent"
        ]
    );
    for (kind, body) in &bodies {
        let ev = emit::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!(&ev.kind, kind);
        let v: Value = serde_json::from_str(body).unwrap();
        match kind.as_str() {
            "lead.updated" => assert_eq!(v["data"]["changed"], json!(["roof_age_years"])),
            "lead.stage_changed" => assert_eq!(v["data"]["previous_status"], "contacted"),
            "lead.assigned" => assert!(
                v["data"]["previous_assigned_user_id"].is_null()
                    && v["data"]["assigned_user_id"].is_i64()
            ),
            "chat.session.closed" => assert_eq!(v["data"]["message_count"], 3),
            _ => assert_eq!(v["data"]["step"], 0),
        }
    }
    // The schemas are in the API document.
    let doc = app
        .send(app.http.get(format!("{}/openapi.json", app.base)))
        .await;
    for s in [
        "WebhookEvent",
        "WebhookLead",
        "WebhookCommunication",
        "WebhookChatSession",
        "WebhookAutomationStep",
    ] {
        assert!(doc.body["components"]["schemas"][s].is_object(), "{s}");
    }
}

#[tokio::test]
async fn an_event_exists_only_if_its_change_committed() {
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let acc = app.account("Acme").await;
    let (_rx, url, _task) = receiver().await;
    subscribe(&app, &acc, &url, &["lead.created"]).await;
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("insert into leads (account_id, name) values ($1, 'Rolled Back')")
        .bind(acc.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(rows(&app, acc.id).await.is_empty());
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query("insert into leads (account_id, name) values ($1, 'Committed')")
        .bind(acc.id)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows(&app, acc.id).await.len(), 1);
}

#[tokio::test]
async fn subscriptions_validate_and_change() {
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let acc = app.account("Acme").await;
    let (_rx, url, _task) = receiver().await;
    let (sub, _) = subscribe(&app, &acc, &url, &["lead.created", "lead.created"]).await;
    let s = app
        .get(&acc.key, &format!("/api/webhooks/subscriptions/{sub}"))
        .await;
    assert_eq!(s.body["events"], json!(["lead.created"]));
    assert_eq!(s.body["description"], "test");
    let s = app
        .patch(
            &acc.key,
            &format!("/api/webhooks/subscriptions/{sub}"),
            json!({"description": null, "enabled": false}),
        )
        .await;
    assert_eq!(
        (s.body["description"].clone(), s.body["enabled"].clone()),
        (Value::Null, json!(false))
    );
    for body in [
        json!({"events": []}),
        json!({"url": ""}),
        json!({"description": "x".repeat(501)}),
        json!({"nope": 1}),
    ] {
        let r = app
            .patch(
                &acc.key,
                &format!("/api/webhooks/subscriptions/{sub}"),
                body.clone(),
            )
            .await;
        assert_eq!(r.status, 422, "{body}: {}", r.body);
    }
    let r = app
        .get(&acc.key, "/api/webhooks/deliveries?status=weird")
        .await;
    assert_eq!(r.status, 422);
    assert_eq!(
        app.delete(&acc.key, &format!("/api/webhooks/subscriptions/{sub}"))
            .await
            .status,
        204
    );
    assert_eq!(
        app.get(&acc.key, &format!("/api/webhooks/subscriptions/{sub}"))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn the_dashboard_page_lists_subscriptions_and_deliveries_for_admins_with_the_session_csrf() {
    use leadline::auth::Role;
    let app = spawn_app_with(&[("LEADLINE_WEBHOOKS_WORKER", "false")]).await;
    let acc = app.account("Acme").await;
    let owner = web_support::person(&app, acc.id, "olivia@acme.test", Role::Owner).await;
    let member = web_support::person(&app, acc.id, "sam@acme.test", Role::Member).await;
    let (rx, url, _task) = receiver().await;
    // Through the session (cookie + CSRF token), as the page's script does.
    let r = owner
        .post(
            "/api/webhooks/subscriptions",
            json!({"url": url, "events": ["lead.created"], "description": "Our CRM"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    rx.set_secret(r.body["secret"].as_str().unwrap());
    let no_csrf = app
        .send(
            app.http
                .post(format!("{}/api/webhooks/subscriptions", app.base))
                .header("cookie", &owner.cookie)
                .json(&json!({"url": url, "events": ["lead.created"]})),
        )
        .await;
    assert!(
        no_csrf.status == 403 || no_csrf.status == 401,
        "{}",
        no_csrf.status
    );
    app.post(&acc.key, "/api/leads", json!({"name": "Page Lead"}))
        .await;
    leadline::webhooks_out::deliver::tick(&app.state, chrono::Utc::now())
        .await
        .unwrap();
    let page = owner.get("/settings/webhooks").await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    let host = url.trim_start_matches("http://").trim_end_matches("/hook");
    for want in [
        host,
        "Our CRM",
        "lead.created",
        "delivered",
        "Replay",
        "/static/webhooks.js",
        "Rotate secret",
    ] {
        assert!(html.contains(want), "{want} missing");
    }
    assert!(!html.contains("whsec_"), "the secret is never on the page");
    assert_eq!(member.get("/settings/webhooks").await.status, 403);
    assert_eq!(member.get("/api/webhooks/subscriptions").await.status, 403);
    let js = app
        .send(app.http.get(format!("{}/static/webhooks.js", app.base)))
        .await;
    assert_eq!(js.status, 200);
}
