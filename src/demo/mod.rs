//! `leadline demo`: one command that fills a new account with a believable roofing
//! business — leads with profiles and pipeline stages, and their conversations over email,
//! SMS, phone calls and website chat spread over the last days — so a newcomer sees a
//! populated dashboard at once.
//!
//! Nothing is written around the product. Every communication goes through
//! `communications::record` (sentiment, score, band and insights as in production); calls
//! go through the call-log API handler (summary, action items and follow-up derived from
//! the transcript); leads, their stages, the company facts and the chat site go through
//! their API handlers, called in-process with the demo account's key (no socket, no
//! request logs); AI replies come from the responder's `reply_for_lead`, always the
//! offline rules responder so a seed gives the same conversations and no provider is paid.
//! Only what has no API is written directly: the `chat_sessions` rows behind the
//! Conversations view, the account's time zone, and each lead's `created_at` (its first
//! touch, since the history is backdated).

mod clock;
mod endings;
mod people;
mod plan;
mod stories;
mod touches;

use std::collections::BTreeMap;
use std::io::IsTerminal;

use anyhow::{anyhow, ensure, Context};
use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::domain::{AccountId, Channel};
use crate::state::AppState;

use self::clock::this_hour;
use self::people::{Company, Profile, Used};
use self::plan::plan;
use self::touches::Thread;

/// The demo company's local time: US Central (daylight), stored as the account's time zone.
const UTC_OFFSET_MINUTES: i32 = -5 * 60;
const ACCOUNT_TIMEZONE: &str = "-05:00";

/// What `leadline demo` creates.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub leads: usize,
    /// The history is spread over the last `days` days.
    pub days: u32,
    /// The demo company's (and account's) name.
    pub name: String,
    /// Same seed, same leads and conversations; random when `None`.
    pub seed: Option<u64>,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            leads: 40,
            days: 60,
            name: "Demo Roofing Co".into(),
            seed: None,
            progress: false,
        }
    }
}

impl DemoOptions {
    pub fn validate(&self) -> anyhow::Result<()> {
        ensure!(
            (1..=2000).contains(&self.leads),
            "--leads must be between 1 and 2000"
        );
        ensure!(
            (3..=365).contains(&self.days),
            "--days must be between 3 and 365"
        );
        let name = self.name.trim();
        ensure!(
            !name.is_empty() && name.chars().count() <= 200,
            "--name must be 1 to 200 characters"
        );
        Ok(())
    }
}

/// What was created. Serializes to the line `leadline demo` prints.
#[derive(Debug, Clone, Serialize)]
pub struct DemoSummary {
    pub account_id: AccountId,
    /// Shown once, like `account create`.
    pub api_key: String,
    pub leads: usize,
    pub communications: usize,
    /// Pass it as `--seed` to get the same data again.
    pub seed: u64,
    /// `(inbound, outbound)` per channel.
    #[serde(skip)]
    pub by_channel: BTreeMap<String, (i64, i64)>,
    #[serde(skip)]
    pub by_band: BTreeMap<String, i64>,
    #[serde(skip)]
    pub by_status: BTreeMap<String, i64>,
    #[serde(skip)]
    pub ai_generated: i64,
}

impl DemoSummary {
    /// One human line: counts per band, stage and channel.
    pub fn describe(&self) -> String {
        let join = |m: &BTreeMap<String, i64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let channels = self
            .by_channel
            .iter()
            .map(|(k, (i, o))| format!("{k} {i} in/{o} out"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{} leads ({}; {}), {} communications ({}; {} AI-written)",
            self.leads,
            join(&self.by_band),
            join(&self.by_status),
            self.communications,
            channels,
            self.ai_generated
        )
    }
}

/// The CLI's entry: the state a server would have over `pool`, then `populate`.
pub async fn run(
    config: Config,
    pool: sqlx::PgPool,
    options: DemoOptions,
) -> anyhow::Result<DemoSummary> {
    let started = std::time::Instant::now();
    let state = cli_state(config, pool)?;
    let summary = populate(&state, &options).await?;
    eprintln!(
        "demo account {} \"{}\" in {:.1} s: {}",
        summary.account_id,
        options.name.trim(),
        started.elapsed().as_secs_f64(),
        summary.describe()
    );
    Ok(summary)
}

/// An `AppState` like `Application::build` makes, without binding a port (a server may
/// be running on the same data folder).
fn cli_state(mut config: Config, pool: sqlx::PgPool) -> anyhow::Result<AppState> {
    let secrets = match config.master_key.clone() {
        Some(key) => key,
        None => {
            ensure!(
                config.database_url.is_none(),
                "LEADLINE_MASTER_KEY is required when DATABASE_URL is set (32 random bytes in base64: `openssl rand -base64 32`)"
            );
            crate::crypto::SecretBox::load_or_create(&config.data_dir.join("master.key"))?
        }
    };
    config.master_key = Some(secrets.clone());
    let ai = rules_responder(&config)?;
    Ok(AppState::new(pool, config, secrets, ai))
}

/// The offline rules responder, whatever provider is configured: deterministic, instant.
fn rules_responder(config: &Config) -> anyhow::Result<crate::ai::AiResponder> {
    let mut ai = config.ai.clone();
    ai.provider = crate::ai::ProviderKind::Rules;
    crate::ai::AiResponder::new(ai).map_err(|e| anyhow!(e))
}

/// Creates the demo account and fills it. Deterministic for a given `seed` (content, not
/// ids: provider ids and chat sessions are new for every account).
pub async fn populate(state: &AppState, options: &DemoOptions) -> anyhow::Result<DemoSummary> {
    options.validate()?;
    let seed = options.seed.unwrap_or_else(rand::random);
    let mut state = state.clone();
    state.ai = rules_responder(&state.config)?;
    let issued = crate::accounts::create(&state.pool, &options.name).await?;
    let account = issued.account_id;
    sqlx::query("update accounts set timezone = $2, updated_at = now() where id = $1")
        .bind(account)
        .bind(ACCOUNT_TIMEZONE)
        .execute(&state.pool)
        .await?;
    let api = Api::new(&state, &issued.api_key);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut used = Used::default();
    let company = Company::new(options.name.trim(), &mut rng, &mut used);
    api.call(Method::PUT, "/api/settings/company", company.settings())
        .await?;
    let site = api
        .call(
            Method::POST,
            "/api/integrations/chat/sites",
            json!({"name": format!("{} website", company.name), "allowed_origins": [company.origin()]}),
        )
        .await?;
    let site_id = site["id"]
        .as_i64()
        .ok_or_else(|| anyhow!("the site API returned no id: {site}"))?;
    api.call(
        Method::POST,
        "/api/integrations/chat/settings",
        json!({"site_id": site_id, "color_theme": "#c2410c",
               "greeting_message": "Hi! Questions about your roof? We usually answer in seconds.",
               "ai_responses": true}),
    )
    .await?;

    let stories = plan(options.leads, &mut rng);
    let mixed = (account.0 as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut demo = Demo {
        state,
        api,
        account,
        company,
        site_id,
        now: this_hour(),
        days: f64::from(options.days),
        ids: StdRng::seed_from_u64(seed ^ mixed ^ rand::random::<u64>()),
        uid: 1000,
    };
    let bar = progress_bar(options.progress, options.leads);
    for (i, (story, opening)) in stories.into_iter().enumerate() {
        let profile = Profile::generate(&mut rng, story, opening, &mut used);
        bar.set_message(profile.name());
        let lead_rng = StdRng::seed_from_u64(rng.gen());
        demo.lead(story, opening, profile, lead_rng)
            .await
            .with_context(|| format!("demo lead {}", i + 1))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    // The history is backdated: a lead exists since its first touch.
    sqlx::query(
        "update leads l set created_at = f.first
         from (select lead_id, min(\"timestamp\") as first from communications where account_id = $1 group by lead_id) f
         where l.id = f.lead_id and l.account_id = $1",
    )
    .bind(account)
    .execute(&demo.state.pool)
    .await?;
    summarize(&demo.state.pool, account, issued.api_key, seed).await
}

async fn summarize(
    pool: &sqlx::PgPool,
    account: AccountId,
    api_key: String,
    seed: u64,
) -> anyhow::Result<DemoSummary> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "select type, direction, count(*) from communications where account_id = $1 group by 1, 2",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    let mut by_channel: BTreeMap<String, (i64, i64)> = Channel::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), (0, 0)))
        .collect();
    let mut communications = 0;
    for (kind, direction, n) in rows {
        let slot = by_channel.entry(kind).or_default();
        if direction == "inbound" {
            slot.0 += n;
        } else {
            slot.1 += n;
        }
        communications += n as usize;
    }
    let count_by = |column: &'static str| async move {
        let rows: Vec<(String, i64)> = sqlx::query_as(&format!(
            "select {column}, count(*) from leads where account_id = $1 group by 1 order by 1"
        ))
        .bind(account)
        .fetch_all(pool)
        .await?;
        anyhow::Ok(rows.into_iter().collect::<BTreeMap<_, _>>())
    };
    let by_band = count_by("score_band").await?;
    let by_status = count_by("status").await?;
    let ai_generated: i64 = sqlx::query_scalar(
        "select count(*) from communications where account_id = $1 and ai_generated",
    )
    .bind(account)
    .fetch_one(pool)
    .await?;
    Ok(DemoSummary {
        account_id: account,
        api_key,
        leads: by_band.values().sum::<i64>() as usize,
        communications,
        seed,
        by_channel,
        by_band,
        by_status,
        ai_generated,
    })
}

fn progress_bar(wanted: bool, leads: usize) -> indicatif::ProgressBar {
    if !wanted || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(leads as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} demo [{bar:30}] {pos}/{len} leads  {wide_msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

// ---------------------------------------------------------------------------
// The API handlers, in-process

/// The handlers the demo goes through, routed without the trace layer (no request logs
/// under the progress bar), authenticated with the demo account's key.
struct Api {
    router: axum::Router,
    key: String,
}

impl Api {
    fn new(state: &AppState, key: &str) -> Self {
        let (router, _) = OpenApiRouter::new()
            .merge(crate::leads::router())
            .merge(crate::channels::calls::router())
            .merge(crate::ai::service::router())
            .merge(crate::channels::chat::sites::router())
            .split_for_parts();
        Self {
            router: router.with_state(state.clone()),
            key: key.to_string(),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Value) -> anyhow::Result<Value> {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.key))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(&body)?))?;
        let response = self.router.clone().oneshot(request).await?;
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 16 << 20).await?;
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        ensure!(status.is_success(), "{method} {path}: {status} {value}");
        Ok(value)
    }
}

// ---------------------------------------------------------------------------
// What: one lead's conversations

struct Demo {
    state: AppState,
    api: Api,
    account: AccountId,
    company: Company,
    site_id: i64,
    now: DateTime<Utc>,
    days: f64,
    /// Provider ids and session ids: unique per run, not part of the seeded content.
    ids: StdRng,
    uid: u32,
}

/// One lead while its story is told.
struct Run {
    id: i64,
    p: Profile,
    /// What is said and done.
    rng: StdRng,
    /// When: gaps, appointments, the hours things move into. Kept apart from `rng` so that
    /// what a seed's leads say does not depend on the time of day the demo runs.
    clock: StdRng,
    at: DateTime<Utc>,
    /// < 1 when the story must be squeezed into fewer days.
    scale: f64,
    thread: Option<Thread>,
    /// The booked inspection.
    slot: Option<DateTime<Utc>>,
}
