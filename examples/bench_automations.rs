//! Load generator of `scripts/bench-automations` (run that script, not this directly).
//!
//! Starts Leadline in-process on a throwaway embedded cluster (engine timer off: the
//! bench drives the tick), a loopback stand-in for Telnyx's `POST /v2/messages`, and:
//! 1. baseline: LEADS texts queued straight into the outbox (no engine) → time until the
//!    stand-in has them all;
//! 2. the engine: LEADS leads enrolled in a one-step sequence due at the same moment →
//!    ticks until all are queued, then until the stand-in has them all, each exactly once;
//!    the process CPU and the database transactions per step;
//! 3. idle: IDLE_LEADS enrolled leads whose steps are not due → time of one tick.
//!
//! Prints `RESULT key value` lines.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use serde_json::{json, Value};

fn env<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cpu_secs() -> f64 {
    let mut u = std::mem::MaybeUninit::<nix::libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct it is given.
    unsafe {
        nix::libc::getrusage(nix::libc::RUSAGE_SELF, u.as_mut_ptr());
        let u = u.assume_init();
        let t = |tv: nix::libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
        t(u.ru_utime) + t(u.ru_stime)
    }
}

type Seen = Arc<Mutex<Vec<String>>>;

async fn standin() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/v2/messages",
        post(move |body: axum::Json<Value>| {
            let s = s.clone();
            async move {
                let n = {
                    let mut v = s.lock().unwrap();
                    v.push(body.0["to"].as_str().unwrap_or_default().to_string());
                    v.len()
                };
                axum::Json(json!({"data": {"id": format!("msg-{n}"), "record_type": "message", "parts": 1,
                                           "to": [{"phone_number": body.0["to"], "status": "queued"}]}}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v2", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

async fn wait_for(seen: &Seen, n: usize, limit: Duration) -> Duration {
    let t = Instant::now();
    while seen.lock().unwrap().len() < n && t.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.elapsed()
}

async fn commits(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar("select sum(xact_commit)::int8 from pg_stat_database")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::main]
async fn main() {
    let leads: i64 = env("LEADS", 10_000);
    let idle_leads: i64 = env("IDLE_LEADS", 100_000);
    let data = std::env::var("BENCH_DATA").expect("BENCH_DATA");
    let (telnyx, seen) = standin().await;
    let vars = [
        ("LEADLINE_DATA_DIR", data.as_str()),
        ("LEADLINE_BIND", "127.0.0.1:0"),
        ("TELNYX_API_BASE", telnyx.as_str()),
        ("LEADLINE_AUTOMATION_TICK_MS", "0"),
        ("LEADLINE_OUTBOX_CONCURRENCY", "32"),
        ("LEADLINE_OUTBOX_PER_ACCOUNT", "32"),
        ("LEADLINE_DB_MAX_CONNECTIONS", "40"),
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
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async {
        let _ = stopped.await;
    }));
    let pool = state.pool.clone();
    let http = reqwest::Client::new();
    let issued = leadline::accounts::create(&pool, "bench-automations")
        .await
        .unwrap();
    let key = issued.api_key;
    let account = issued.account_id;
    let r = http
        .post(format!("{base}/api/integrations/sms/connect"))
        .bearer_auth(&key)
        .json(&json!({"api_key": "KEY_BENCH", "messaging_profile_id": "mp-1", "phone_numbers": ["+13126412200"]}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "sms connect: {}",
        r.text().await.unwrap()
    );

    // Leads (phones +1 312 7xx xxxx), made in bulk.
    let total = leads + idle_leads;
    sqlx::query(
        "insert into leads (account_id, name, phone, source)
         select $1, 'Lead ' || g, '+1312' || lpad((7000000 + g)::text, 7, '0'), 'bench' from generate_series(1, $2) g",
    )
    .bind(account)
    .bind(total)
    .execute(&pool)
    .await
    .unwrap();
    let ids: Vec<i64> =
        sqlx::query_scalar("select id from leads where account_id = $1 order by id")
            .bind(account)
            .fetch_all(&pool)
            .await
            .unwrap();
    let (due_ids, idle_ids) = ids.split_at(leads as usize);

    // 1. Baseline: the same number of texts queued straight into the outbox.
    let t = Instant::now();
    sqlx::query(
        "insert into outbox (account_id, kind, payload, idempotency_key, next_attempt_at, status)
         select $1, 'sms', jsonb_build_object('to', l.phone, 'from', '+13126412200', 'text', 'Baseline ' || l.id,
                'lead_id', l.id, 'automatic', false), 'base:' || l.id, now(), 'pending'
         from leads l where l.id = any($2)",
    )
    .bind(account)
    .bind(due_ids)
    .execute(&pool)
    .await
    .unwrap();
    let baseline_sent = wait_for(&seen, leads as usize, Duration::from_secs(600)).await;
    let baseline = t.elapsed().max(baseline_sent);
    println!("RESULT baseline_secs {:.2}", baseline.as_secs_f64());
    println!(
        "RESULT baseline_per_s {:.0}",
        leads as f64 / baseline.as_secs_f64()
    );
    seen.lock().unwrap().clear();

    // 2. The engine: one step due for every lead at the same moment.
    let r = http
        .post(format!("{base}/api/sequences"))
        .bearer_auth(&key)
        .json(&json!({"name": "Bench", "enabled": true, "trigger": {"on": "manual"},
                      "steps": [{"channel": "sms", "delay_secs": 0, "body": "Hi {{ lead.first_name | default(\"there\") }}, it's {{ company.name | default(\"us\") }}"}]}))
        .send()
        .await
        .unwrap();
    let seq: Value = r.json().await.unwrap();
    let seq = seq["id"].as_i64().expect("sequence id");
    let now = chrono::Utc::now();
    sqlx::query(
        "insert into sequence_enrollments (account_id, sequence_id, lead_id, next_run_at, enrolled_at)
         select $1, $2, unnest($3::int8[]), $4, $4",
    )
    .bind(account)
    .bind(seq)
    .bind(due_ids)
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    let (cpu0, commits0) = (cpu_secs(), commits(&pool).await);
    let t = Instant::now();
    let report = leadline::automations::run::tick(&state, now + chrono::Duration::seconds(1))
        .await
        .unwrap();
    let queued = t.elapsed();
    let (cpu1, commits1) = (cpu_secs(), commits(&pool).await);
    let sent = wait_for(&seen, leads as usize, Duration::from_secs(600)).await + queued;
    let texts = seen.lock().unwrap().clone();
    let distinct: HashSet<&String> = texts.iter().collect();
    let keys: i64 = sqlx::query_scalar("select count(distinct idempotency_key) from outbox where idempotency_key like 'sequence:%'")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!("RESULT engine_queued {}", report.sent);
    println!("RESULT engine_queue_secs {:.2}", queued.as_secs_f64());
    println!("RESULT engine_sent_secs {:.2}", sent.as_secs_f64());
    println!(
        "RESULT engine_per_s {:.0}",
        leads as f64 / sent.as_secs_f64()
    );
    println!("RESULT engine_received {}", texts.len());
    println!("RESULT engine_outbox_keys {keys}");
    println!(
        "RESULT engine_repeated_recipients {}",
        texts.len() - distinct.len().min(texts.len())
    );
    println!(
        "RESULT engine_cpu_ms_per_step {:.3}",
        (cpu1 - cpu0) * 1000.0 / leads as f64
    );
    println!(
        "RESULT engine_commits_per_step {:.2}",
        (commits1 - commits0) as f64 / leads as f64
    );

    // 3. Idle: IDLE_LEADS enrolled leads, nothing due.
    sqlx::query(
        "insert into sequence_enrollments (account_id, sequence_id, lead_id, next_run_at, enrolled_at)
         select $1, $2, unnest($3::int8[]), $4, $5",
    )
    .bind(account)
    .bind(seq)
    .bind(idle_ids)
    .bind(now + chrono::Duration::days(30))
    .bind(now)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query("analyze").execute(&pool).await.unwrap();
    let mut ticks = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let r = leadline::automations::run::tick(&state, chrono::Utc::now())
            .await
            .unwrap();
        ticks.push(t.elapsed());
        assert_eq!(r.sent, 0);
    }
    ticks.sort();
    let active: i64 =
        sqlx::query_scalar("select count(*) from sequence_enrollments where status = 'active'")
            .fetch_one(&pool)
            .await
            .unwrap();
    println!("RESULT idle_enrolled {active}");
    println!(
        "RESULT idle_tick_p50_ms {:.2}",
        ticks[ticks.len() / 2].as_secs_f64() * 1000.0
    );
    println!(
        "RESULT idle_tick_max_ms {:.2}",
        ticks[ticks.len() - 1].as_secs_f64() * 1000.0
    );
    // Stops the server and the embedded cluster it started.
    let _ = stop.send(());
    let _ = server.await;
}
