//! Load generator of `scripts/bench-webhooks-out` (run that script, not this directly).
//!
//! Starts Leadline in-process on a throwaway embedded cluster with a loopback receiver
//! that verifies every Standard Webhooks signature, subscribes it to `lead.created`, and:
//! 0. baseline: EVENTS signed POSTs straight to the receiver from a plain reqwest loop
//!    (64 at a time): what the receiver and the loopback allow at most;
//! 1. burst: EVENTS events committed at once (statements of 200 new leads) → events/s
//!    from the first commit to the last delivery;
//! 2. paced: EVENTS events at RATE/s (a statement every 20 ms) → delay from each
//!    statement's commit to its delivery (p50, p99, max);
//! 3. burst again with the receiver answering 500 to half of the first attempts (each
//!    retried after the default back-off, 5 s ± 20 %).
//!
//! Each phase checks every webhook-id was accepted exactly once (no loss, no duplicate).
//! Prints `RESULT key value` lines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use leadline::webhooks_out::sign;

fn env<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Default)]
struct Rx {
    key: Vec<u8>,
    /// Answer 500 to the first attempt of every other webhook-id.
    fail_half: bool,
    /// webhook-id -> (2xx answered, requests, first 2xx at, body of the first 2xx)
    seen: HashMap<String, (u32, u32, Option<Instant>, Option<axum::body::Bytes>)>,
    bad_signatures: u64,
}

type Shared = Arc<Mutex<Rx>>;

async fn handle(rx: Shared, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
    let at = Instant::now();
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let (id, sig) = (
        h("webhook-id").to_string(),
        h("webhook-signature").to_string(),
    );
    let ts: i64 = h("webhook-timestamp").parse().unwrap_or(0);
    let mut rx = rx.lock().unwrap();
    if !sign::verify(&rx.key, &sig, &id, ts, &body) {
        rx.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let fail_half = rx.fail_half;
    let e = rx.seen.entry(id.clone()).or_default();
    e.1 += 1;
    let odd = id.bytes().last().is_some_and(|b| b % 2 == 1);
    if fail_half && e.1 == 1 && odd {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    e.0 += 1;
    if e.2.is_none() {
        e.2 = Some(at);
        e.3 = Some(body);
    }
    StatusCode::NO_CONTENT
}

async fn receiver() -> (String, Shared) {
    let rx: Shared = Arc::default();
    let r = rx.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: axum::body::Bytes| handle(r.clone(), headers, body)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, rx)
}

fn accepted(rx: &Shared) -> usize {
    rx.lock().unwrap().seen.values().filter(|e| e.0 > 0).count()
}

async fn wait_for(rx: &Shared, n: usize, limit: Duration) -> Instant {
    let t = Instant::now();
    while accepted(rx) < n && t.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Instant::now()
}

/// Checks and resets the receiver: (accepted ids, ids accepted more than once, requests).
fn exactly_once(rx: &Shared) -> (usize, usize, u64) {
    let mut r = rx.lock().unwrap();
    let ok = r.seen.values().filter(|e| e.0 > 0).count();
    let twice = r.seen.values().filter(|e| e.0 > 1).count();
    let requests = r.seen.values().map(|e| e.1 as u64).sum();
    r.seen.clear();
    (ok, twice, requests)
}

async fn insert_batch(pool: &sqlx::PgPool, account: i64, phase: &str, batch: usize, n: usize) {
    sqlx::query(
        "insert into leads (account_id, name, source)
         select $1, $2 || '-' || g, 'bench' from generate_series(1, $3) g",
    )
    .bind(account)
    .bind(format!("{phase}-{batch}"))
    .bind(n as i32)
    .execute(pool)
    .await
    .unwrap();
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

async fn burst(
    pool: &sqlx::PgPool,
    account: i64,
    rx: &Shared,
    phase: &str,
    events: usize,
) -> (f64, f64) {
    let t = Instant::now();
    let mut done = 0;
    let mut b = 0;
    while done < events {
        let n = 200.min(events - done);
        insert_batch(pool, account, phase, b, n).await;
        done += n;
        b += 1;
    }
    let committed = t.elapsed();
    let end = wait_for(rx, events, Duration::from_secs(600)).await;
    let secs = end.duration_since(t).as_secs_f64();
    (events as f64 / secs, committed.as_secs_f64())
}

#[tokio::main]
async fn main() {
    let events: usize = env("EVENTS", 20_000);
    let rate: usize = env("RATE", 1_000);
    let data = std::env::var("BENCH_DATA").expect("BENCH_DATA");
    let (url, rx) = receiver().await;
    let vars = [
        ("LEADLINE_DATA_DIR", data.as_str()),
        ("LEADLINE_BIND", "127.0.0.1:0"),
        ("LEADLINE_AUTOMATION_TICK_MS", "0"),
        ("LEADLINE_ALLOW_PRIVATE_HOSTS", "true"),
    ];
    let config = leadline::config::Config::from_lookup(|k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
            .or_else(|| std::env::var(k).ok())
    })
    .expect("config");
    let app = leadline::app::Application::build(config)
        .await
        .expect("build");
    let state = app.state().clone();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let pool = state.pool.clone();
    let http = reqwest::Client::new();
    let issued = leadline::accounts::create(&pool, "bench-webhooks-out")
        .await
        .unwrap();
    let account = issued.account_id.0;
    let r: serde_json::Value = http
        .post(format!("{base}/api/webhooks/subscriptions"))
        .bearer_auth(&issued.api_key)
        .json(&serde_json::json!({"url": url, "events": ["lead.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let secret = r["secret"].as_str().expect("secret").to_string();
    let key = sign::key_of(&secret).unwrap();
    rx.lock().unwrap().key = key.clone();

    // 0. Baseline: the receiver's own rate, signed requests from a plain reqwest loop.
    let body = r#"{"type":"lead.created","timestamp":"2026-12-07T00:00:00Z","data":{"id":1,"name":"Baseline lead with a name of ordinary length","status":"new"}}"#;
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(64));
    let mut tasks = Vec::with_capacity(events);
    for i in 0..events {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("base_{i}");
            let ts = chrono::Utc::now().timestamp();
            let r = http
                .post(&url)
                .header("content-type", "application/json")
                .header("webhook-id", &id)
                .header("webhook-timestamp", ts.to_string())
                .header(
                    "webhook-signature",
                    sign::header(&[key], &id, ts, body.as_bytes()),
                )
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    println!(
        "RESULT baseline_per_s {:.0}",
        events as f64 / t.elapsed().as_secs_f64()
    );
    exactly_once(&rx);

    // 1. Burst, healthy.
    let (per_s, commit_secs) = burst(&pool, account, &rx, "burst", events).await;
    let (ok, twice, requests) = exactly_once(&rx);
    println!("RESULT burst_per_s {per_s:.0}");
    println!("RESULT burst_commit_secs {commit_secs:.2}");
    println!("RESULT burst_once {ok} {twice} {requests}");

    // 2. Paced, healthy: delay from commit to delivery.
    let every = Duration::from_millis(20);
    let per_batch = (rate * 20 / 1000).max(1);
    let batches = events.div_ceil(per_batch);
    let mut commits: Vec<Instant> = Vec::with_capacity(batches);
    let t = Instant::now();
    let mut tick = tokio::time::interval(every);
    for b in 0..batches {
        tick.tick().await;
        let n = per_batch.min(events - b * per_batch);
        insert_batch(&pool, account, "paced", b, n).await;
        commits.push(Instant::now());
    }
    let produced = t.elapsed();
    let end = wait_for(&rx, events, Duration::from_secs(600)).await;
    let mut delays: Vec<f64> = {
        let r = rx.lock().unwrap();
        r.seen
            .values()
            .filter_map(|e| {
                let v: serde_json::Value = serde_json::from_slice(e.3.as_ref()?).ok()?;
                let name = v["data"]["name"].as_str()?;
                let b: usize = name.split('-').nth(1)?.parse().ok()?;
                Some(e.2?.saturating_duration_since(commits[b]).as_secs_f64() * 1000.0)
            })
            .collect()
    };
    let measured = delays.len();
    let (ok, twice, requests) = exactly_once(&rx);
    println!(
        "RESULT paced_rate {:.0}",
        events as f64 / produced.as_secs_f64()
    );
    println!(
        "RESULT paced_delivered_per_s {:.0}",
        events as f64 / end.duration_since(t).as_secs_f64()
    );
    println!("RESULT paced_p50_ms {:.0}", pct(&mut delays, 0.50));
    println!("RESULT paced_p99_ms {:.0}", pct(&mut delays, 0.99));
    println!("RESULT paced_max_ms {:.0}", pct(&mut delays, 1.0));
    println!("RESULT paced_measured {measured}");
    println!("RESULT paced_once {ok} {twice} {requests}");

    // 3. Burst with half of the first attempts answered 500.
    rx.lock().unwrap().fail_half = true;
    let (per_s, _) = burst(&pool, account, &rx, "fail", events).await;
    let (ok, twice, requests) = exactly_once(&rx);
    println!("RESULT fail_per_s {per_s:.0}");
    println!("RESULT fail_once {ok} {twice} {requests}");
    let (attempts, failed): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where response_status >= 300 or response_status is null) from webhook_attempts where account_id = $1",
    )
    .bind(account)
    .fetch_one(&pool)
    .await
    .unwrap();
    println!("RESULT attempts_logged {attempts} {failed}");
    println!(
        "RESULT bad_signatures {}",
        rx.lock().unwrap().bad_signatures
    );
}
