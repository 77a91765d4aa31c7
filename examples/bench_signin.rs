//! Load generator of `scripts/bench-signin` (run that script, not this directly).
//!
//! Sets the owner's password through SETUP_PATH, then signs in ROUNDS times each way,
//! interleaved so the machine's drift hits all alike: with an API key (the baseline: the
//! same form round trip without Argon2), with the right password, a wrong password, and an
//! unknown email (which must cost the same as a wrong password). Each round comes from
//! its own X-Forwarded-For address so the failure throttle stays out of the measurement.
//! Then CONCURRENCY right-password sign-ins at once, for the rate. Prints `RESULT k v`.

use std::time::{Duration, Instant};

use reqwest::header::{COOKIE, SET_COOKIE};

fn env<T: std::str::FromStr>(k: &str, default: T) -> T {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn cookie(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
        .unwrap_or_default()
}

fn csrf(html: &str) -> String {
    let needle = "name=\"csrf_token\" value=\"";
    let s = html.find(needle).map(|i| i + needle.len()).unwrap_or(0);
    html[s..].split('"').next().unwrap_or("").to_string()
}

/// One sign-in: the form, then the post; its time and status.
async fn sign_in(
    http: &reqwest::Client,
    base: &str,
    ip: &str,
    fields: &[(&str, &str)],
) -> (Duration, u16) {
    let t = Instant::now();
    let page = http
        .get(format!("{base}/login"))
        .header("x-forwarded-for", ip)
        .send()
        .await
        .unwrap();
    let c = cookie(&page, "leadline_login");
    let token = csrf(&page.text().await.unwrap());
    let mut form: Vec<(&str, &str)> = fields.to_vec();
    form.push(("csrf_token", &token));
    let res = http
        .post(format!("{base}/login"))
        .header("x-forwarded-for", ip)
        .header(COOKIE, c)
        .form(&form)
        .send()
        .await
        .unwrap();
    (t.elapsed(), res.status().as_u16())
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let base: String = env("BASE_URL", String::new());
    let setup: String = env("SETUP_PATH", String::new());
    let key: String = env("API_KEY", String::new());
    let email: String = env("OWNER_EMAIL", String::new());
    let rounds: usize = env("ROUNDS", 40);
    let concurrency: usize = env("CONCURRENCY", 8);
    let password = "bench-password-shingles-1";
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let page = http.get(format!("{base}{setup}")).send().await.unwrap();
    let c = cookie(&page, "leadline_login");
    let token = csrf(&page.text().await.unwrap());
    let set = http
        .post(format!("{base}{setup}"))
        .header(COOKIE, c)
        .form(&[
            ("name", "Bench"),
            ("password", password),
            ("password_again", password),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 303, "password set through the link");

    let mut times: [Vec<Duration>; 4] = Default::default();
    let labels = [
        "api_key",
        "right_password",
        "wrong_password",
        "unknown_email",
    ];
    for i in 0..rounds {
        let ip = format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256);
        let unknown = format!("nobody{i}@bench.example");
        let cases: [(&[(&str, &str)], u16); 4] = [
            (&[("api_key", &key), ("next", "/")], 303),
            (
                &[("email", &email), ("password", password), ("next", "/")],
                303,
            ),
            (
                &[
                    ("email", &email),
                    ("password", "not-the-password-00"),
                    ("next", "/"),
                ],
                401,
            ),
            (
                &[
                    ("email", &unknown),
                    ("password", "not-the-password-00"),
                    ("next", "/"),
                ],
                401,
            ),
        ];
        for (k, (fields, want)) in cases.iter().enumerate() {
            let (d, status) = sign_in(&http, &base, &ip, fields).await;
            assert_eq!(status, *want, "{}", labels[k]);
            times[k].push(d);
        }
    }
    for (k, t) in times.iter_mut().enumerate() {
        println!("RESULT {}_p50_ms {:.1}", labels[k], pct(t, 0.5));
        println!("RESULT {}_p99_ms {:.1}", labels[k], pct(t, 0.99));
    }

    let started = Instant::now();
    let mut tasks = Vec::new();
    let total = concurrency * 4;
    for i in 0..total {
        let (http, base, email) = (http.clone(), base.clone(), email.clone());
        tasks.push(tokio::spawn(async move {
            let ip = format!("10.200.{}.{}", i / 256, i % 256);
            sign_in(
                &http,
                &base,
                &ip,
                &[("email", &email), ("password", password), ("next", "/")],
            )
            .await
        }));
        if tasks.len() >= concurrency {
            let (_, s) = tasks.remove(0).await.unwrap();
            assert_eq!(s, 303);
        }
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().1, 303);
    }
    println!(
        "RESULT concurrent_signins_per_s {:.1}",
        total as f64 / started.elapsed().as_secs_f64()
    );
}
