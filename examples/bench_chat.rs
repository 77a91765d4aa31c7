//! Load generator of `scripts/bench-chat` (run that script, not this directly).
//!
//! Opens SESSIONS chat sessions through the public widget API, then for DURATION seconds
//! every session sends messages like a visitor does: wait a random think time (uniform
//! in [0, 2·THINK_MS]), send, wait for the answer (the visitor's message stored, scored,
//! and answered by the rules responder), repeat. Then the same paced load on
//! `GET /api/chat/site` (one indexed read: the floor of a public request) as the
//! baseline, and finally a closed loop at CLOSED_CONCURRENCY to find the most messages/s
//! the server sustains. Prints `RESULT key value` lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::Mutex;

const LINES: [&str; 8] = [
    "Hi, I think my roof is leaking after the storm last night",
    "I'm Jane Doe by the way",
    "The house is at 123 Oak Street, Dallas TX 75201",
    "It's about 20 years old, asphalt shingles",
    "Can someone come out this week? It's pretty urgent",
    "You can reach me at jane{n}@example.com or (214) 748-{p}",
    "Do you work with insurance claims?",
    "What would a full replacement cost roughly? Budget around $12k",
];

fn env<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Stats {
    ms: Vec<f64>,
    errors: u64,
    first_error: Option<String>,
}

impl Stats {
    fn new() -> Self {
        Self {
            ms: vec![],
            errors: 0,
            first_error: None,
        }
    }
    fn report(&mut self, name: &str, secs: f64) {
        self.ms.sort_by(|a, b| a.total_cmp(b));
        println!("RESULT {name}_count {}", self.ms.len());
        println!("RESULT {name}_rate {:.1}", self.ms.len() as f64 / secs);
        println!("RESULT {name}_p50_ms {:.2}", pct(&self.ms, 50.0));
        println!("RESULT {name}_p99_ms {:.2}", pct(&self.ms, 99.0));
        println!(
            "RESULT {name}_max_ms {:.2}",
            self.ms.last().copied().unwrap_or(f64::NAN)
        );
        println!("RESULT {name}_errors {}", self.errors);
        if let Some(e) = &self.first_error {
            println!("RESULT {name}_first_error {e}");
        }
    }
}

async fn record(stats: &Mutex<Stats>, started: Instant, r: reqwest::Result<reqwest::Response>) {
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut s = stats.lock().await;
    match r {
        Ok(resp) if resp.status().is_success() => {
            let _ = resp.bytes().await;
            s.ms.push(ms);
        }
        Ok(resp) => {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            s.errors += 1;
            s.first_error.get_or_insert(format!("{status} {body}"));
        }
        Err(e) => {
            s.errors += 1;
            s.first_error.get_or_insert(e.to_string());
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let base: String = std::env::var("BASE_URL")?;
    let site_key: String = std::env::var("SITE_KEY")?;
    let origin: String = std::env::var("ORIGIN")?;
    let sessions: usize = env("SESSIONS", 1000);
    let duration = Duration::from_secs(env("DURATION", 30));
    let think_ms: u64 = env("THINK_MS", 10_000);
    let closed: usize = env("CLOSED_CONCURRENCY", 32);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(sessions + closed)
        .timeout(Duration::from_secs(30))
        .build()?;

    // 1. Sessions, opened 50 at a time.
    let t0 = Instant::now();
    let mut tokens = Vec::with_capacity(sessions);
    for chunk in (0..sessions).collect::<Vec<_>>().chunks(50) {
        let futs = chunk.iter().map(|_| {
            http.post(format!("{base}/api/chat/session/new"))
                .header("Origin", &origin)
                .json(&json!({"site_key": site_key, "page_url": format!("{origin}/roof-repair")}))
                .send()
        });
        for r in futures_util::future::join_all(futs).await {
            let v: Value = r?.error_for_status()?.json().await?;
            tokens.push(v["session_token"].as_str().unwrap_or_default().to_string());
        }
    }
    let open_secs = t0.elapsed().as_secs_f64();
    println!("RESULT sessions {}", tokens.len());
    println!(
        "RESULT sessions_per_s {:.1}",
        tokens.len() as f64 / open_secs
    );

    // 2. Paced messages from every session, then the same pacing on the baseline read.
    for phase in ["message", "baseline"] {
        let stats = Arc::new(Mutex::new(Stats::new()));
        let deadline = Instant::now() + duration;
        let mut tasks = Vec::with_capacity(tokens.len());
        for (n, token) in tokens.iter().enumerate() {
            let (http, base, origin, token, stats) = (
                http.clone(),
                base.clone(),
                origin.clone(),
                token.clone(),
                stats.clone(),
            );
            let site_key = site_key.clone();
            tasks.push(tokio::spawn(async move {
                let mut i = n;
                loop {
                    let think = rand::thread_rng().gen_range(0..=2 * think_ms);
                    tokio::time::sleep(Duration::from_millis(think)).await;
                    if Instant::now() >= deadline {
                        break;
                    }
                    let started = Instant::now();
                    let req = if phase == "message" {
                        let text = LINES[i % LINES.len()]
                            .replace("{n}", &n.to_string())
                            .replace("{p}", &format!("{:04}", n % 10_000));
                        http.post(format!("{base}/api/chat/message"))
                            .header("Origin", &origin)
                            .json(&json!({"session_token": token, "message": text}))
                    } else {
                        http.get(format!("{base}/api/chat/site?site_key={site_key}"))
                            .header("Origin", &origin)
                    };
                    record(&stats, started, req.send().await).await;
                    i += 1;
                }
            }));
        }
        for t in tasks {
            t.await?;
        }
        let name = if phase == "message" {
            "paced_message"
        } else {
            "paced_baseline"
        };
        stats.lock().await.report(name, duration.as_secs_f64());
    }

    // 3. Saturation: CLOSED_CONCURRENCY visitors sending back to back.
    let stats = Arc::new(Mutex::new(Stats::new()));
    let deadline = Instant::now() + duration.min(Duration::from_secs(15));
    let t1 = Instant::now();
    let mut tasks = vec![];
    for c in 0..closed {
        let (http, base, origin, stats) =
            (http.clone(), base.clone(), origin.clone(), stats.clone());
        // Spread over many sessions so the per-session rate limit is not what is measured.
        let mine: Vec<String> = tokens.iter().skip(c).step_by(closed).cloned().collect();
        tasks.push(tokio::spawn(async move {
            let mut i = 0usize;
            while Instant::now() < deadline && !mine.is_empty() {
                let j = i % mine.len();
                let token = &mine[j];
                let n = c + j * closed;
                let text = LINES[i % LINES.len()]
                    .replace("{n}", &n.to_string())
                    .replace("{p}", &format!("{:04}", n % 10_000));
                let started = Instant::now();
                let r = http
                    .post(format!("{base}/api/chat/message"))
                    .header("Origin", &origin)
                    .json(&json!({"session_token": token, "message": text}))
                    .send()
                    .await;
                record(&stats, started, r).await;
                i += 1;
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    stats
        .lock()
        .await
        .report("closed_message", t1.elapsed().as_secs_f64());
    Ok(())
}
