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

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;

use anyhow::{anyhow, ensure, Context};
use axum::body::Body;
use axum::http::{header, Method, Request};
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{json, Value};
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::auth::AccountId;
use crate::channels::chat::extract::LeadFields;
use crate::channels::email::parse::ParsedEmail;
use crate::communications::{record, LeadRef, NewCommunication};
use crate::config::Config;
use crate::tracker::model::{Channel, Direction, LeadFacts};

/// The demo company's local time: US Central (daylight), stored as the account's time zone.
const UTC_OFFSET_MINUTES: i32 = -5 * 60;
const ACCOUNT_TIMEZONE: &str = "-05:00";
/// Dallas–Fort Worth area codes; numbers are drawn from the fictional 555-0100…0199 block.
const AREA_CODES: [&str; 6] = ["214", "469", "972", "817", "682", "940"];

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
    let mixed = (account as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
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
// Who: the company and its leads

#[derive(Default)]
struct Used {
    phones: HashSet<String>,
    emails: HashSet<String>,
}

impl Used {
    /// A valid US number nobody in the demo has: 555-01xx first (reserved for fiction),
    /// then any number `phonenumber` accepts.
    fn phone(&mut self, rng: &mut StdRng) -> String {
        for attempt in 0..2000 {
            let area = AREA_CODES.choose(rng).copied().unwrap_or("214");
            let raw = if attempt < 400 {
                format!("+1{area}555{:04}", rng.gen_range(100..200))
            } else {
                format!(
                    "+1{area}{}{:04}",
                    rng.gen_range(201..999),
                    rng.gen_range(0..10000)
                )
            };
            if let Some(e164) = crate::phone::normalize_phone(&raw, phonenumber::country::Id::US) {
                if self.phones.insert(e164.clone()) {
                    return e164;
                }
            }
        }
        // Not reached for the at most 2000 leads of a demo; counting up cannot fail.
        let mut n = 2_145_550_100u64;
        loop {
            n += 1;
            let raw = format!("+1{n}");
            if crate::phone::normalize_phone(&raw, phonenumber::country::Id::US).is_some()
                && self.phones.insert(raw.clone())
            {
                return raw;
            }
        }
    }

    fn email(&mut self, rng: &mut StdRng, first: &str, last: &str) -> String {
        let (f, l) = (first.to_lowercase(), last.to_lowercase());
        let domain = ["example.com", "example.net", "example.org"]
            .choose(rng)
            .copied()
            .unwrap_or("example.com");
        let styles = [
            format!("{f}.{l}"),
            format!("{}{l}", &f[..1]),
            format!("{f}{l}{}", rng.gen_range(1..99)),
            format!("{f}_{l}"),
        ];
        let local = styles.choose(rng).cloned().unwrap_or_else(|| f.clone());
        let mut candidate = format!("{local}@{domain}");
        let mut n = 2;
        while !self.emails.insert(candidate.clone()) {
            candidate = format!("{local}{n}@{domain}");
            n += 1;
        }
        candidate
    }
}

fn display_phone(e164: &str) -> String {
    let d = e164.trim_start_matches("+1");
    if d.len() == 10 {
        format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
    } else {
        e164.to_string()
    }
}

struct Company {
    name: String,
    domain: String,
    phone: String,
    office: &'static str,
}

impl Company {
    fn new(name: &str, rng: &mut StdRng, used: &mut Used) -> Self {
        let slug: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect();
        let slug = if slug.is_empty() {
            "demoroofing".to_string()
        } else {
            slug
        };
        let phone =
            match crate::phone::normalize_phone("+12145550100", phonenumber::country::Id::US) {
                Some(p) if used.phones.insert(p.clone()) => p,
                _ => used.phone(rng),
            };
        Self {
            name: name.to_string(),
            domain: format!("{slug}.example.com"),
            phone,
            office: "Sarah",
        }
    }

    fn email(&self) -> String {
        format!("office@{}", self.domain)
    }

    fn origin(&self) -> String {
        format!("https://www.{}", self.domain)
    }

    fn phone_display(&self) -> String {
        display_phone(&self.phone)
    }

    fn signature(&self) -> String {
        format!(
            "Mike Alvarez\nEstimator, {}\n{}",
            self.name,
            self.phone_display()
        )
    }

    /// Body of `PUT /api/settings/company`.
    fn settings(&self) -> Value {
        json!({
            "company_name": self.name,
            "services": ["roof repair", "roof replacement", "storm and hail damage", "insurance claims",
                         "gutters", "free inspections"],
            "service_area": "Dallas–Fort Worth: Dallas, Plano, Frisco, McKinney, Allen, Richardson and nearby",
            "hours": "Mon–Fri 7:30am–6pm, Sat 8am–noon",
            "phone": self.phone_display(),
            "booking_link": format!("https://www.{}/book", self.domain),
            "financing": "0% APR for 12 months on approved credit",
            "insurance_claims": "We work with all major insurers and meet your adjuster on site",
            "signature": format!("— Mike, {}", self.name),
        })
    }
}

struct Issue {
    /// What is stored in the lead's `issues`.
    key: &'static str,
    /// "a roof leak"
    short: &'static str,
    /// Website chat opener.
    chat: &'static str,
    /// A sentence for an email or text.
    detail: &'static str,
    /// Email subject of a web-form inquiry.
    subject: &'static str,
    /// What the estimator found.
    finding: &'static str,
    replacement: bool,
    /// Storm damage, which homeowners' insurance covers.
    storm: bool,
}

const ISSUES: &[Issue] = &[
    Issue {
        key: "leak",
        short: "roof leak",
        chat: "Hi, we've got water coming through the ceiling in the upstairs bedroom after last night's rain. Can someone come look at the roof?",
        detail: "There's a water stain spreading on the ceiling in our upstairs bedroom and it drips when it rains hard.",
        subject: "Roof leak – need someone to look at it",
        finding: "The leak is coming from a cracked pipe boot above the bedroom, and the decking under it is soft in about a four-foot area",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "hail damage",
        short: "hail damage",
        chat: "Hi — the hail storm last week dented our gutters and half the street is getting new roofs. Do you do free inspections?",
        detail: "The hail storm dented our gutters and the shingles look bruised. Several neighbors are getting their roofs replaced.",
        subject: "Hail damage inspection",
        finding: "There are hail hits on every slope, about twelve per test square on the west side, and the gutters are dented",
        storm: true,
        replacement: true,
    },
    Issue {
        key: "missing shingles",
        short: "missing shingles",
        chat: "Hello, we found about a dozen shingles in the backyard after the wind storm. How soon could someone check the roof?",
        detail: "We found a bunch of shingles in the yard after the wind storm and you can see bare spots from the street.",
        subject: "Missing shingles after the storm",
        finding: "You lost fourteen shingles on the back slope and the ridge cap is loose in two places",
        storm: true,
        replacement: false,
    },
    Issue {
        key: "roof replacement",
        short: "roof replacement",
        chat: "Hi, our roof is original to the house and the shingles are curling. We're thinking about a full replacement. How does pricing work?",
        detail: "The roof is original to the house, the shingles are curling and we're ready to replace it.",
        subject: "Quote for a roof replacement",
        finding: "The shingles are at the end of their life: curling, granule loss everywhere and a few soft spots in the decking",
        storm: false,
        replacement: true,
    },
    Issue {
        key: "chimney flashing",
        short: "leak around the chimney",
        chat: "Hi, there's water getting in around our chimney every time it rains. Is that something you repair?",
        detail: "Water gets in around the chimney every time it rains and the drywall next to the fireplace is stained.",
        subject: "Leak around the chimney",
        finding: "The step flashing around the chimney has pulled away and someone sealed it with caulk that has cracked",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "skylight leak",
        short: "leaking skylight",
        chat: "Hello! Our kitchen skylight drips whenever it rains hard. Can you fix that or do we need a new skylight?",
        detail: "The skylight over the kitchen drips whenever it rains hard.",
        subject: "Skylight leaking",
        finding: "The skylight seal is fine, but the flashing kit around it was never installed right and water gets under the upper edge",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "gutters",
        short: "gutters pulling away",
        chat: "Hi, our gutters overflow and are pulling away from the fascia over the garage. Do you do gutters too?",
        detail: "Our gutters overflow and are pulling away from the fascia over the garage.",
        subject: "Gutters pulling off the house",
        finding: "The gutters over the garage are pitched the wrong way and the fascia board behind them is rotting",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "wind damage",
        short: "wind damage",
        chat: "Hi, the wind lifted part of the ridge on our roof and now it flaps when it's windy. Could someone take a look soon?",
        detail: "The wind lifted part of the ridge cap and it flaps and rattles every time it's windy.",
        subject: "Wind damage on the ridge",
        finding: "The wind creased a row of shingles along the ridge and lifted the ridge vent",
        storm: true,
        replacement: true,
    },
    Issue {
        key: "sagging roof",
        short: "sagging roof",
        chat: "Hi, part of our roof over the garage looks like it's sagging. Should we be worried?",
        detail: "A section of the roof over the garage looks like it's sagging and feels soft.",
        subject: "Sagging section over the garage",
        finding: "The decking over the garage is rotted from an old leak and two rafters need sistering",
        storm: false,
        replacement: false,
    },
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Jennifer", "Michael", "Linda", "David", "Patricia", "James", "Maria", "Robert", "Susan",
    "Carlos", "Karen", "Brian", "Angela", "Kevin", "Melissa", "Jason", "Laura", "Daniel",
    "Rebecca", "Thomas", "Stephanie", "Anthony", "Nicole", "Mark", "Priya", "Steven", "Heather",
    "Luis", "Amanda", "Gregory", "Rachel", "Eric", "Tanya", "Andrew", "Monica", "Derrick", "Emily",
    "Ryan", "Grace", "Tyler", "Vanessa", "Jorge", "Kimberly", "Nathan", "Denise",
];
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Walsh", "Johnson", "Nguyen", "Garcia", "Patel", "Thompson", "Martinez", "Robinson", "Clark",
    "Lewis", "Hernandez", "Walker", "Young", "Allen", "King", "Wright", "Lopez", "Hill", "Scott",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner",
    "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy",
    "Cook", "Rogers", "Reed", "Bailey", "Bell", "Kim", "Cooper", "Richardson",
];
#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Elm Creek Dr", "Briar Hollow Ln", "Preston Meadow Dr", "Cedar Ridge Rd", "Willow Bend Ct",
    "Stonebrook Pkwy", "Hidden Cove Dr", "Sunset Ridge Ln", "Oak Hollow Dr", "Pecan Grove Ct",
    "Mesa Verde Trl", "Lakeview Cir", "Bluebonnet Ln", "Highland Park Dr", "Coyote Ridge Rd",
    "Red Oak Ln", "Magnolia Way", "Saddlebrook Dr", "Timber Creek Ln", "Spring Valley Rd",
];
const CITIES: &[(&str, &str)] = &[
    ("Plano", "75024"),
    ("Frisco", "75034"),
    ("McKinney", "75070"),
    ("Allen", "75013"),
    ("Richardson", "75080"),
    ("Garland", "75044"),
    ("Dallas", "75214"),
    ("Irving", "75063"),
    ("Carrollton", "75007"),
    ("Flower Mound", "75028"),
    ("Arlington", "76016"),
    ("Denton", "76210"),
];
const TIMELINES: &[(&str, &str)] = &[
    ("ASAP", "We'd like to get it fixed ASAP."),
    (
        "this week",
        "Hoping to get someone out this week if possible.",
    ),
    ("within a month", "We'd like it done within the next month."),
    (
        "before spring",
        "No rush, but we want it done before spring storms.",
    ),
    (
        "just getting quotes",
        "No rush, just getting quotes for now.",
    ),
];
const BUDGETS: &[Option<&str>] = &[
    Some("insurance claim"),
    Some("$10,000–$15,000"),
    Some("under $8,000"),
    Some("around $20k for a full replacement"),
    Some("not sure yet"),
    None,
    None,
];
const INSURERS: &[&str] = &[
    "State Farm",
    "Allstate",
    "USAA",
    "Farmers",
    "Liberty Mutual",
];

/// How the lead first reached out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opening {
    /// Website chat, answered by the AI.
    Chat,
    /// An email inquiry (as a site's contact form sends it), answered by the AI.
    WebForm,
    /// An inbound call that was answered and booked an inspection.
    CallAnswered,
    /// A missed inbound call, the automatic text-back, then texting.
    CallMissed,
    /// An inbound text.
    Text,
}

impl Opening {
    fn source(self, rng: &mut StdRng) -> &'static str {
        let choices: &[&str] = match self {
            Opening::Chat => &["Website chat"],
            Opening::WebForm => &["Google", "Facebook", "Angi", "Website form"],
            Opening::CallAnswered => &["Google", "Yard sign", "Referral", "Door hanger"],
            Opening::CallMissed => &["Google", "Door hanger", "Yard sign"],
            Opening::Text => &["Referral", "Door hanger", "Nextdoor"],
        };
        choices.choose(rng).copied().unwrap_or("Google")
    }
}

/// One lead's story, which sets its stage and, through the tracker, its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Story {
    /// Inspection, quote, accepted, installed, review: won.
    Won,
    /// Quote "too expensive", went with someone else: lost.
    LostOnPrice,
    /// Cancelled the inspection for another roofer: lost.
    LostElsewhere,
    /// Inquired weeks ago, never answered our follow-ups: contacted.
    GoneSilent,
    /// Reached out in the last day or so, nobody answered yet: new.
    Unanswered,
    /// Quote sent, thinking it over: quoted.
    Deliberating,
    /// Inspection booked in the coming days: inspection_scheduled.
    Scheduled,
    /// Inspected, worried about the insurance claim: inspected.
    Insurance,
    /// Getting a ballpark for next year: contacted.
    TireKicker,
    /// Nobody showed up for the inspection; rebooked: inspection_scheduled.
    NoShow,
    /// A renter whose landlord won't pay, weeks ago: contacted, cold.
    NotAFit,
}

impl Story {
    /// The mix. Its first three are HOT, COLD and (silent for weeks) WARM, so even a few
    /// leads show every band.
    const MIX: [Story; 12] = [
        Story::Won,
        Story::LostOnPrice,
        Story::GoneSilent,
        Story::Unanswered,
        Story::Deliberating,
        Story::Scheduled,
        Story::NotAFit,
        Story::Insurance,
        Story::LostElsewhere,
        Story::TireKicker,
        Story::NoShow,
        Story::GoneSilent,
    ];

    fn openings(self) -> &'static [Opening] {
        use Opening::*;
        match self {
            Story::GoneSilent => &[Chat, WebForm, Text],
            Story::Unanswered => &[CallMissed, Text, WebForm],
            Story::TireKicker => &[Chat, WebForm],
            Story::Insurance => &[WebForm, CallAnswered, Chat, Text],
            Story::NotAFit => &[Text],
            _ => &[Chat, WebForm, CallAnswered, CallMissed, Text],
        }
    }

    /// Whether the story mails the lead (a quote, a ballpark), who then has an email address.
    fn needs_email(self) -> bool {
        matches!(
            self,
            Story::Won
                | Story::LostOnPrice
                | Story::Deliberating
                | Story::Insurance
                | Story::TireKicker
        )
    }

    /// Typical length of the story in days, and where it starts (days ago, within `days`).
    fn span_and_start(self, days: f64) -> (f64, f64, f64) {
        let (span, lo, hi): (f64, f64, f64) = match self {
            Story::Won => (22.0, 24.0, days),
            Story::LostOnPrice => (16.0, 18.0, days),
            Story::LostElsewhere => (4.0, 6.0, days),
            Story::GoneSilent => (18.0, 36.0, days),
            Story::Unanswered => (0.05, 0.1, 1.5),
            Story::Deliberating => (11.0, 12.0, 22.0),
            Story::Scheduled => (1.5, 1.0, 4.0),
            Story::Insurance => (9.0, 10.0, 25.0),
            Story::TireKicker => (2.0, 3.0, days),
            Story::NoShow => (4.0, 4.5, 7.0),
            Story::NotAFit => (0.5, 32.0, days),
        };
        let hi = hi.min(days - 0.05);
        let lo = lo.min(hi * 0.8);
        (span, lo, hi)
    }
}

/// The stories of `n` leads, each with how it opens, in a shuffled order.
fn plan(n: usize, rng: &mut StdRng) -> Vec<(Story, Opening)> {
    // The first leads open on every channel, so even a small demo shows all four.
    const FIRST: [Opening; 5] = [
        Opening::Chat,
        Opening::WebForm,
        Opening::Text,
        Opening::CallMissed,
        Opening::CallAnswered,
    ];
    let mut out: Vec<(Story, Opening)> = (0..n)
        .map(|i| {
            let story = Story::MIX[i % Story::MIX.len()];
            let allowed = story.openings();
            let opening = match FIRST.get(i) {
                Some(o) if allowed.contains(o) => *o,
                _ => allowed.choose(rng).copied().unwrap_or(Opening::Text),
            };
            (story, opening)
        })
        .collect();
    out.shuffle(rng);
    out
}

struct Profile {
    first: &'static str,
    last: &'static str,
    email: Option<String>,
    phone: String,
    street: String,
    city: &'static str,
    zip: &'static str,
    /// Whether the lead ever told us the address.
    has_address: bool,
    roof_age: i32,
    /// Whether the roof's age is on file before the inspection (the lead said it).
    knows_age: bool,
    issue: &'static Issue,
    timeline: (&'static str, &'static str),
    /// Whether the lead told us the timeline.
    knows_timeline: bool,
    /// Website chat: the visitor mentions the timeline.
    chat_timeline: bool,
    /// Website chat: the visitor says thanks at the end.
    chat_goodbye: bool,
    budget: Option<&'static str>,
    source: &'static str,
    price: u32,
}

impl Profile {
    fn generate(rng: &mut StdRng, story: Story, opening: Opening, used: &mut Used) -> Self {
        let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Alex");
        let last = LAST_NAMES.choose(rng).copied().unwrap_or("Smith");
        let needs_email = story.needs_email() || opening == Opening::WebForm;
        let email = (needs_email || rng.gen_bool(0.7)).then(|| used.email(rng, first, last));
        let phone = used.phone(rng);
        let (city, zip) = CITIES.choose(rng).copied().unwrap_or(("Plano", "75024"));
        let street = format!(
            "{} {}",
            rng.gen_range(1..60) * 100 + rng.gen_range(1..99),
            STREETS.choose(rng).copied().unwrap_or("Main St")
        );
        let has_address = match story {
            Story::GoneSilent | Story::TireKicker | Story::NotAFit => false,
            Story::Unanswered => rng.gen_bool(0.5),
            _ => true,
        };
        let storms: Vec<&'static Issue> = ISSUES.iter().filter(|i| i.storm).collect();
        let issue = match story {
            Story::NotAFit => &ISSUES[0],
            Story::Insurance => storms.choose(rng).copied().unwrap_or(&ISSUES[1]),
            _ => &ISSUES[rng.gen_range(0..ISSUES.len())],
        };
        let timeline = match story {
            Story::TireKicker => TIMELINES[4],
            Story::GoneSilent => TIMELINES[rng.gen_range(2..TIMELINES.len())],
            Story::Scheduled | Story::NoShow => TIMELINES[rng.gen_range(0..3)],
            _ => TIMELINES[rng.gen_range(0..TIMELINES.len())],
        };
        // What the CRM knows is what the lead told us: a web-form email and a booked call
        // give the roof's age and the timeline from the start; a chat files what it
        // revealed when it ends; the inspection gives the roof's age.
        let told = matches!(opening, Opening::WebForm | Opening::CallAnswered);
        let chat_timeline = opening == Opening::Chat && rng.gen_bool(0.6);
        let knows_timeline = story != Story::NotAFit && (told || story == Story::Unanswered);
        let budget = match story {
            Story::NotAFit | Story::Unanswered | Story::GoneSilent => None,
            _ if rng.gen_bool(0.4) => BUDGETS.choose(rng).copied().flatten(),
            _ => None,
        };
        let price = if issue.replacement {
            rng.gen_range(95..260) * 100 + 80
        } else {
            rng.gen_range(4..28) * 100 + 50
        };
        Self {
            first,
            last,
            email,
            phone,
            street,
            city,
            zip,
            has_address,
            roof_age: if issue.replacement {
                rng.gen_range(14..28)
            } else {
                rng.gen_range(4..22)
            },
            knows_age: told,
            issue,
            timeline,
            knows_timeline,
            chat_timeline,
            // Someone who goes silent afterwards rarely signs off warmly.
            chat_goodbye: story != Story::GoneSilent && rng.gen_bool(0.5),
            budget,
            source: opening.source(rng),
            price,
        }
    }

    fn name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    fn address(&self) -> String {
        format!("{}, {}, TX {}", self.street, self.city, self.zip)
    }

    /// Body of `POST /api/leads`: what the roofer's CRM knows about the lead.
    fn lead_fields(&self) -> Value {
        json!({
            "name": self.name(),
            "email": self.email,
            "phone": self.phone,
            "property_address": self.has_address.then(|| self.address()),
            "roof_age_years": self.knows_age.then_some(self.roof_age),
            "issues": [self.issue.key],
            "timeline": self.knows_timeline.then_some(self.timeline.0),
            "budget": self.budget,
            "source": self.source,
        })
    }

    fn job(&self) -> &'static str {
        if self.issue.replacement {
            "a full roof replacement"
        } else {
            "the repair"
        }
    }
}

fn money(dollars: u32) -> String {
    let s = dollars.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}")
}

// ---------------------------------------------------------------------------
// When

/// Who acts, which decides the hours a touch can happen in (company local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Actor {
    /// Homeowners: any day, 7:00–21:30.
    Lead,
    /// The office: Monday to Saturday, 7:30–18:00.
    Office,
    /// Machines (AI replies, automatic texts) and the rest of a live conversation.
    Instant,
}

fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(UTC_OFFSET_MINUTES * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC is a valid offset"));
    at.with_timezone(&offset)
}

fn from_local(day: NaiveDate, minutes: u32) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    midnight + Duration::minutes(i64::from(minutes) - i64::from(UTC_OFFSET_MINUTES))
}

/// `at`, or the next moment in `actor`'s hours (with a little jitter).
fn within_hours(at: DateTime<Utc>, actor: Actor, rng: &mut StdRng) -> DateTime<Utc> {
    // Pushed past the night, people get to it during the morning.
    let (open, close, morning) = match actor {
        Actor::Instant => return at,
        Actor::Lead => (7 * 60, 21 * 60 + 30, 240),
        Actor::Office => (7 * 60 + 30, 18 * 60, 150),
    };
    let open_day = |d: NaiveDate| actor != Actor::Office || d.weekday() != Weekday::Sun;
    let l = local(at);
    let minute = l.hour() * 60 + l.minute();
    let mut day = l.date_naive();
    if open_day(day) && (open..close).contains(&minute) {
        return at;
    }
    if minute >= close || !open_day(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    while !open_day(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    from_local(day, open + rng.gen_range(0..morning))
}

/// The start of the current hour: the story ends there, so that runs with one seed within
/// the hour tell it with the same timestamps (and so the same reminders fall in the past).
fn this_hour() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp() - now.timestamp().rem_euclid(3600), 0).unwrap_or(now)
}

/// "Thursday", "10:30am" of a moment, company time.
fn weekday(at: DateTime<Utc>) -> String {
    local(at).format("%A").to_string()
}

fn clock(at: DateTime<Utc>) -> String {
    let l = local(at);
    let (pm, hour) = l.hour12();
    let suffix = if pm { "pm" } else { "am" };
    match l.minute() {
        0 => format!("{hour}{suffix}"),
        m => format!("{hour}:{m:02}{suffix}"),
    }
}

/// A gap in seconds, drawn uniformly; long gaps shrink with the lead's time scale.
#[derive(Debug, Clone, Copy)]
struct Gap(i64, i64);

fn secs(a: i64, b: i64) -> Gap {
    Gap(a, b)
}
fn mins(a: i64, b: i64) -> Gap {
    Gap(a * 60, b * 60)
}
fn hours(a: i64, b: i64) -> Gap {
    Gap(a * 3600, b * 3600)
}
fn days(a: i64, b: i64) -> Gap {
    Gap(a * 86400, b * 86400)
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

/// An email conversation: its subject and the Message-IDs so far (oldest first).
struct Thread {
    subject: String,
    ids: Vec<String>,
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

/// A website chat session being written.
struct Session {
    id: String,
    thread_key: String,
    page_url: String,
    /// The widget opened.
    started: DateTime<Utc>,
    /// The first message.
    first: DateTime<Utc>,
    messages: u32,
    /// What the visitor told us.
    fields: LeadFields,
}

/// How the homeowner takes the inspection's findings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mood {
    Happy,
    Worried,
    Insurance,
}

impl Demo {
    async fn lead(
        &mut self,
        story: Story,
        opening: Opening,
        p: Profile,
        mut rng: StdRng,
    ) -> anyhow::Result<()> {
        let created = self
            .api
            .call(Method::POST, "/api/leads", p.lead_fields())
            .await?;
        let id = created["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("the lead API returned no id: {created}"))?;
        let (span, lo, hi) = story.span_and_start(self.days);
        let start_days = rng.gen_range(lo..=hi.max(lo));
        let scale = ((start_days - 0.2) / span).clamp(0.02, 1.0);
        let at = self.now - Duration::seconds((start_days * 86400.0) as i64);
        let clock = StdRng::seed_from_u64(rng.gen());
        let mut l = Run {
            id,
            p,
            rng,
            clock,
            at,
            scale,
            thread: None,
            slot: None,
        };
        match story {
            Story::Won => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Happy).await?;
                self.quote(&mut l).await?;
                self.won(&mut l).await?;
            }
            Story::LostOnPrice => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Worried).await?;
                self.quote(&mut l).await?;
                self.lost_on_price(&mut l).await?;
            }
            Story::LostElsewhere => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.cancelled(&mut l).await?;
            }
            Story::GoneSilent => {
                self.open(&mut l, opening).await?;
                self.chase(&mut l).await?;
            }
            Story::Unanswered => self.unanswered(&mut l, opening).await?,
            Story::Deliberating => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Happy).await?;
                self.quote(&mut l).await?;
                self.deliberating(&mut l).await?;
            }
            Story::Scheduled => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
            }
            Story::Insurance => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Insurance).await?;
                self.insurance(&mut l).await?;
            }
            Story::TireKicker => {
                self.open(&mut l, opening).await?;
                self.ballpark(&mut l).await?;
            }
            Story::NoShow => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.no_show(&mut l).await?;
            }
            Story::NotAFit => self.not_a_fit(&mut l).await?,
        }
        Ok(())
    }

    // ---- time

    /// Moves the lead's clock by `gap` into `actor`'s hours; never past now.
    fn step(&self, l: &mut Run, gap: Gap, actor: Actor) -> DateTime<Utc> {
        let mut s = l.clock.gen_range(gap.0..=gap.1.max(gap.0)) as f64;
        if s >= 1800.0 {
            s = (s * l.scale).max(600.0);
        }
        let candidate = l.at + Duration::seconds(s as i64);
        let at = within_hours(candidate, actor, &mut l.clock);
        self.set(l, at)
    }

    /// Moves the lead's clock to `at` (kept chronological, and not past now).
    fn set(&self, l: &mut Run, at: DateTime<Utc>) -> DateTime<Utc> {
        let cap = self.now - Duration::seconds(30);
        let at = at.min(cap).max(l.at + Duration::seconds(1));
        l.at = at;
        at
    }

    fn id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.ids.gen())
            .into_uuid()
            .to_string()
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from_digit(self.ids.gen_range(0..16), 16).unwrap_or('0'))
            .collect()
    }

    // ---- channels

    async fn store(&self, new: NewCommunication) -> anyhow::Result<()> {
        record(&self.state, self.account, new).await?;
        Ok(())
    }

    async fn sms_in(&mut self, l: &mut Run, gap: Gap, text: String) -> anyhow::Result<()> {
        let at = self.step(l, gap, Actor::Lead);
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Sms, Direction::Inbound);
        new.timestamp = Some(at);
        new.from_address = Some(l.p.phone.clone());
        new.to_address = Some(self.company.phone.clone());
        new.status = Some("received".into());
        new.provider = Some(crate::channels::sms::webhook::PROVIDER.into());
        new.provider_message_id = Some(self.id());
        let (parts, _) = crate::channels::sms::segments(&text);
        new.metadata = json!({"event_id": self.id(), "type": "SMS", "parts": parts,
                              "messaging_profile_id": "demo-messaging-profile"});
        new.content = Some(text);
        self.store(new).await
    }

    async fn sms_out(
        &mut self,
        l: &mut Run,
        gap: Gap,
        actor: Actor,
        text: String,
        automatic: bool,
    ) -> anyhow::Result<()> {
        let at = self.step(l, gap, actor);
        self.sms_out_at(l, at, text, automatic, vec![]).await
    }

    async fn sms_out_at(
        &mut self,
        l: &mut Run,
        at: DateTime<Utc>,
        text: String,
        automatic: bool,
        media: Vec<Value>,
    ) -> anyhow::Result<()> {
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Sms, Direction::Outbound);
        new.timestamp = Some(at);
        new.from_address = Some(self.company.phone.clone());
        new.to_address = Some(l.p.phone.clone());
        new.status = Some("delivered".into());
        new.provider = Some(crate::channels::sms::webhook::PROVIDER.into());
        new.provider_message_id = Some(self.id());
        let (segments, encoding) = crate::channels::sms::segments(&text);
        let delivered = at + Duration::seconds(l.clock.gen_range(2..9));
        new.metadata = json!({
            "segments": segments, "encoding": encoding, "automatic": automatic,
            "status_history": [{"status": "queued", "at": at.to_rfc3339()},
                               {"status": "delivered", "at": delivered.to_rfc3339()}],
        });
        new.attachments = Value::Array(media);
        new.content = Some(text);
        self.store(new).await
    }

    /// An inbound email (as IMAP sync stores it); `subject` starts a new thread, `None`
    /// replies in the current one.
    async fn email_in(
        &mut self,
        l: &mut Run,
        gap: Gap,
        subject: Option<String>,
        body: String,
    ) -> anyhow::Result<()> {
        let Some(from) = l.p.email.clone() else {
            return self.sms_in(l, gap, body).await;
        };
        let at = self.step(l, gap, Actor::Lead);
        let domain = from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("example.com");
        let message_id = format!("{}@mail.{domain}", self.hex(24));
        let (subject, in_reply_to, references) = threading(l, subject, &message_id);
        let parsed = ParsedEmail {
            message_id: Some(message_id.clone()),
            in_reply_to,
            references,
            from: Some(from.clone()),
            from_name: Some(l.p.name()),
            to: vec![self.company.email()],
            subject: Some(subject.clone()),
            date: Some(at),
            text: body.clone(),
            content: body.clone(),
            ..ParsedEmail::default()
        };
        self.uid += 1;
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Email, Direction::Inbound);
        new.timestamp = Some(at);
        new.from_address = Some(from);
        new.to_address = Some(self.company.email());
        new.subject = Some(subject);
        new.content = Some(body);
        new.metadata = parsed
            .metadata(json!({"imap": {"folder": "INBOX", "uid": self.uid, "uidvalidity": 1}}));
        new.provider = Some("imap".into());
        new.provider_message_id = Some(message_id);
        new.thread_key = parsed.thread_key();
        self.store(new).await
    }

    /// An email we sent (as the outbox records it after SMTP accepted it).
    async fn email_out(
        &mut self,
        l: &mut Run,
        at: DateTime<Utc>,
        subject: Option<String>,
        body: String,
        ai: Option<Value>,
    ) -> anyhow::Result<()> {
        let Some(to) = l.p.email.clone() else {
            return self.sms_out_at(l, at, body, false, vec![]).await;
        };
        let message_id = format!("{}@{}", self.hex(32), self.company.domain);
        let (subject, in_reply_to, references) = threading(l, subject, &message_id);
        let thread_key = references
            .first()
            .or(in_reply_to.as_ref())
            .cloned()
            .unwrap_or_else(|| message_id.clone());
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Email, Direction::Outbound);
        new.timestamp = Some(at);
        new.from_address = Some(self.company.email());
        new.to_address = Some(to.clone());
        new.subject = Some(subject);
        new.content = Some(body);
        new.status = Some("sent".into());
        new.provider = Some("smtp".into());
        new.provider_message_id = Some(message_id.clone());
        new.thread_key = Some(thread_key);
        new.metadata = json!({"email": {"message_id": message_id, "in_reply_to": in_reply_to,
            "references": references, "to": [to], "body_html": null,
            "auto_submitted": ai.as_ref().map(|_| "auto-replied")}});
        if let Some(ai) = ai {
            new.ai_generated = true;
            new.metadata["ai"] = ai;
        }
        self.store(new).await
    }

    /// A call through the call-log API, which derives summary, sentiment, action items
    /// and follow-up from the transcript as for any logged call.
    async fn call(
        &mut self,
        l: &mut Run,
        at: DateTime<Utc>,
        direction: Direction,
        outcome: &str,
        duration: i32,
        transcript: Option<String>,
    ) -> anyhow::Result<()> {
        let call_id = format!("call_{}", self.hex(24));
        let mut body = json!({
            "call_id": call_id, "lead_id": l.id, "direction": direction.as_str(),
            "duration_seconds": duration, "timestamp": at.to_rfc3339(), "outcome": outcome,
        });
        if duration > 0 && matches!(outcome, "completed" | "voicemail") {
            body["recording_url"] = json!(format!(
                "https://recordings.example.com/{}/{call_id}.mp3",
                self.account
            ));
        }
        if let Some(t) = transcript {
            body["transcript"] = json!(t);
        }
        self.api.call(Method::POST, "/api/calls/log", body).await?;
        // What follows happens after the call ended.
        self.set(l, at + Duration::seconds(i64::from(duration)));
        Ok(())
    }

    /// Opens a website chat session (its messages are `chat` communications in the
    /// thread `chat:<session>`).
    fn chat_start(&mut self, l: &mut Run, gap: Gap) -> Session {
        let start = self.step(l, gap, Actor::Lead);
        let id = format!("cs_{}", self.hex(20));
        let page = [
            "roof-repair",
            "storm-damage",
            "roof-replacement",
            "",
            "contact",
        ]
        .choose(&mut l.rng)
        .copied()
        .unwrap_or("");
        Session {
            thread_key: crate::channels::chat::conversation::thread_key(&id),
            id,
            page_url: format!("{}/{page}", self.company.origin()),
            started: start - Duration::seconds(l.clock.gen_range(8..40)),
            first: start,
            messages: 0,
            fields: LeadFields {
                name: None,
                email: None,
                phone: None,
                property_address: None,
                roof_age_years: None,
                issues: vec![l.p.issue.key.to_string()],
                timeline: None,
                budget: None,
            },
        }
    }

    async fn chat_visitor(
        &mut self,
        l: &mut Run,
        s: &mut Session,
        text: String,
    ) -> anyhow::Result<()> {
        let at = if s.messages == 0 {
            s.first
        } else {
            self.step(l, secs(20, 95), Actor::Instant)
        };
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Chat, Direction::Inbound);
        new.timestamp = Some(at);
        new.content = Some(text);
        new.provider = Some("widget".into());
        new.thread_key = Some(s.thread_key.clone());
        new.metadata = json!({"chat_session_id": s.id, "page_url": s.page_url});
        self.store(new).await?;
        s.messages += 1;
        Ok(())
    }

    /// The AI responder answers the visitor (a person of the team does when it stays
    /// quiet); returns what was said.
    async fn chat_ai(&mut self, l: &mut Run, s: &mut Session) -> anyhow::Result<String> {
        let reply = crate::ai::service::reply_for_lead(
            &self.state,
            self.account,
            l.id,
            Channel::Chat,
            None,
        )
        .await?;
        let at = self.step(l, secs(2, 7), Actor::Instant);
        let mut new = NewCommunication::new(LeadRef::Id(l.id), Channel::Chat, Direction::Outbound);
        new.timestamp = Some(at);
        new.thread_key = Some(s.thread_key.clone());
        let text = match reply {
            // As `ai::service::record_reply` stores it.
            Some(r) => {
                new.ai_generated = true;
                new.metadata = json!({"ai": {"provider": r.provider, "model": r.model,
                    "fallback_reason": r.fallback_reason, "intents": r.intents}});
                r.text
            }
            None => {
                new.provider = Some("widget".into());
                new.metadata = json!({"chat_session_id": s.id, "page_url": s.page_url});
                format!(
                    "Thanks! This is {} at {}. We'll text you shortly to set up a time.",
                    self.company.office, self.company.name
                )
            }
        };
        new.content = Some(text.clone());
        self.store(new).await?;
        s.messages += 1;
        Ok(text)
    }

    /// Closes the session: its row in the Conversations view, with what the visitor told
    /// us and the chat score; the lead gets the facts the chat revealed.
    async fn chat_end(&mut self, l: &mut Run, s: Session) -> anyhow::Result<()> {
        let f = &s.fields;
        let facts = LeadFacts {
            name: f.name.clone(),
            email: f.email.clone(),
            phone: f.phone.clone(),
            property_address: f.property_address.clone(),
            roof_age_years: f.roof_age_years,
            issues: f.issues.clone(),
            timeline: f.timeline.clone(),
            budget: f.budget.clone(),
            status: None,
        };
        let last = l.at;
        let score = crate::tracker::scoring::chat_score(
            &facts,
            s.messages,
            (last - s.started).num_seconds().max(0),
        );
        let linger = Duration::minutes(l.clock.gen_range(5..30));
        let ended = (self.now - last > Duration::hours(2)).then(|| (last + linger).min(self.now));
        let referrer = ["https://www.google.com/", "https://www.facebook.com/", ""]
            .choose(&mut l.rng)
            .copied()
            .filter(|r| !r.is_empty());
        sqlx::query(
            "insert into chat_sessions (account_id, site_id, session_id, lead_id, visitor_id, page_url, referrer,
                 visitor_location, started_at, ended_at, last_message_at, message_count, lead_data,
                 engagement_score, score_band, contact_captured, rate_window_start, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $9, $9, $11)",
        )
        .bind(self.account)
        .bind(self.site_id)
        .bind(&s.id)
        .bind(l.id)
        .bind(format!("v_{}", self.hex(16)))
        .bind(&s.page_url)
        .bind(referrer)
        .bind(format!("{}, TX", l.p.city))
        .bind(s.started)
        .bind(ended)
        .bind(last)
        .bind(s.messages as i32)
        .bind(serde_json::to_value(f)?)
        .bind(score.score)
        .bind(crate::tracker::store::band_str(score.band))
        .bind(f.email.is_some() || f.phone.is_some())
        .execute(&self.state.pool)
        .await?;
        // What the chat revealed beyond the lead's identity, as extraction would file it.
        let mut learned = serde_json::Map::new();
        if let Some(age) = f.roof_age_years {
            learned.insert("roof_age_years".into(), json!(age));
        }
        if let Some(t) = &f.timeline {
            learned.insert("timeline".into(), json!(t));
        }
        if !learned.is_empty() {
            self.api
                .call(
                    Method::PATCH,
                    &format!("/api/leads/{}", l.id),
                    Value::Object(learned),
                )
                .await?;
        }
        Ok(())
    }

    /// The AI responder answers the lead's latest email, as the auto-reply does.
    async fn ai_email_reply(&mut self, l: &mut Run) -> anyhow::Result<bool> {
        let subject = l.thread.as_ref().map(|t| t.subject.clone());
        let reply = crate::ai::service::reply_for_lead(
            &self.state,
            self.account,
            l.id,
            Channel::Email,
            subject.as_deref(),
        )
        .await?;
        let Some(r) = reply else {
            return Ok(false);
        };
        let at = self.step(l, secs(40, 150), Actor::Instant);
        let ai = json!({"provider": r.provider, "model": r.model,
                        "fallback_reason": r.fallback_reason, "intents": r.intents});
        self.email_out(l, at, None, r.text, Some(ai)).await?;
        Ok(true)
    }

    async fn stage(&self, l: &Run, status: &str) -> anyhow::Result<()> {
        self.api
            .call(
                Method::PATCH,
                &format!("/api/leads/{}", l.id),
                json!({ "status": status }),
            )
            .await?;
        Ok(())
    }

    /// An appointment `min..=max` days after `from` (never on a Sunday), at one of `times`
    /// (minutes after local midnight).
    fn slot(
        &self,
        l: &mut Run,
        from: DateTime<Utc>,
        min: u64,
        max: u64,
        times: &[u32],
    ) -> DateTime<Utc> {
        let start = local(from).date_naive();
        let mut day = start
            .checked_add_days(chrono::Days::new(l.clock.gen_range(min..=max)))
            .unwrap_or(start);
        while day.weekday() == Weekday::Sun {
            day = day.succ_opt().unwrap_or(day);
        }
        from_local(day, times.choose(&mut l.clock).copied().unwrap_or(600))
    }

    // ---- story parts

    /// The lead's first touch and our first answer.
    async fn open(&mut self, l: &mut Run, opening: Opening) -> anyhow::Result<()> {
        let p = &l.p;
        let (first, name, phone) = (p.first, p.name(), display_phone(&p.phone));
        let (detail, street, city) = (p.issue.detail, p.street.clone(), p.city);
        let company = self.company.name.clone();
        match opening {
            Opening::Chat => {
                let mut s = self.chat_start(l, secs(0, 0));
                self.chat_visitor(l, &mut s, l.p.issue.chat.into()).await?;
                let asked = self.chat_ai(l, &mut s).await?.to_lowercase();
                // The visitor answers the question, then leaves their contact.
                let p = &l.p;
                let age = if asked.contains("how old") {
                    s.fields.roof_age_years = Some(p.roof_age);
                    format!("It's about {} years old. ", p.roof_age)
                } else {
                    String::new()
                };
                let contact = match (&p.email, p.has_address) {
                    (Some(e), true) => format!(
                        "{age}I'm {name} at {}. My cell is {phone}, or email {e}.",
                        p.address()
                    ),
                    (None, true) => format!("{age}{name}, {}. My cell is {phone}.", p.address()),
                    (Some(e), false) => {
                        format!("{age}I'm {name}. Text me at {phone} or email {e}.")
                    }
                    (None, false) => format!("{age}I'm {name}. You can text me at {phone}."),
                };
                s.fields.name = Some(name.clone());
                s.fields.phone = Some(p.phone.clone());
                s.fields.email = p.email.clone();
                s.fields.property_address = p.has_address.then(|| p.address());
                let (timeline, said_timeline, goodbye) =
                    (p.timeline, p.chat_timeline, p.chat_goodbye);
                self.chat_visitor(l, &mut s, contact).await?;
                self.chat_ai(l, &mut s).await?;
                if said_timeline {
                    s.fields.timeline = Some(timeline.0.to_string());
                    self.chat_visitor(l, &mut s, timeline.1.into()).await?;
                    self.chat_ai(l, &mut s).await?;
                }
                if goodbye {
                    let bye = [
                        "Great, thanks!",
                        "Thank you!",
                        "Ok sounds good, thanks so much.",
                    ];
                    let bye = bye.choose(&mut l.rng).copied().unwrap_or("Thanks!");
                    self.chat_visitor(l, &mut s, bye.into()).await?;
                }
                self.chat_end(l, s).await?;
            }
            Opening::WebForm => {
                let address = if p.has_address {
                    format!("The house is at {}. ", p.address())
                } else {
                    String::new()
                };
                let body = format!(
                    "Hi,\n\n{detail} The roof is about {} years old. {}\n\n{address}Could someone come take a look? My cell is {phone}.\n\nThanks,\n{name}",
                    p.roof_age, p.timeline.1
                );
                let subject = format!("{} – {city}", p.issue.subject);
                self.email_in(l, secs(0, 0), Some(subject), body).await?;
                if !self.ai_email_reply(l).await? {
                    let at = self.step(l, mins(20, 180), Actor::Office);
                    let text = format!(
                        "Hi {first},\n\nThanks for reaching out to {company}. We'd be glad to take a look — inspections are free. I'll text you to find a time.\n\n{}",
                        self.company.signature()
                    );
                    self.email_out(l, at, None, text, None).await?;
                }
            }
            Opening::CallAnswered => {
                let intro = match p.source {
                    "Google" => "I found you on Google",
                    "Yard sign" => "I saw your sign in my neighbor's yard",
                    "Referral" => "my neighbor recommended you",
                    "Door hanger" => "you left a door hanger on my door",
                    _ => "I'm calling about my roof",
                };
                let (age, timeline, address) = (p.roof_age, p.timeline.1, p.address());
                let at = self.step(l, secs(0, 0), Actor::Lead);
                let slot = self.slot(l, at, 1, 3, &[9 * 60, 10 * 60 + 30, 13 * 60, 15 * 60 + 30]);
                let (day, time) = (weekday(slot), clock(slot));
                let transcript = format!(
                    "Sarah: Thanks for calling {company}, this is Sarah.\n\
                     {first}: Hi, {intro}. {detail}\n\
                     Sarah: I'm sorry to hear that. How old is the roof?\n\
                     {first}: About {age} years. {timeline}\n\
                     Sarah: Okay. Let's schedule an inspection. Mike can come out {day} at {time}. It's free and takes about 45 minutes.\n\
                     {first}: {day} works. The address is {address}.\n\
                     Sarah: Perfect, you'll get a text confirmation. Thanks, {first}!"
                );
                let duration = l.rng.gen_range(150..420);
                self.call(
                    l,
                    at,
                    Direction::Inbound,
                    "completed",
                    duration,
                    Some(transcript),
                )
                .await?;
                l.slot = Some(slot);
                let text = format!(
                    "Hi {first}, this is Sarah with {company}. You're confirmed for a free roof inspection {day} at {time} at {street}. Reply here with any questions!"
                );
                self.sms_out(l, mins(3, 40), Actor::Office, text, false)
                    .await?;
                self.stage(l, "inspection_scheduled").await?;
            }
            Opening::CallMissed => {
                let at = self.step(l, secs(0, 0), Actor::Lead);
                self.call(l, at, Direction::Inbound, "missed", 0, None)
                    .await?;
                let text =
                    crate::channels::calls::MISSED_CALL_TEMPLATE.replace("{company}", &company);
                self.sms_out(l, secs(15, 50), Actor::Instant, text, true)
                    .await?;
                let place = if l.p.has_address {
                    format!(" We're at {street} in {city}.")
                } else {
                    String::new()
                };
                let text =
                    format!("Hi, this is {first}. {detail}{place} Can someone come take a look?");
                self.sms_in(l, mins(2, 45), text).await?;
            }
            Opening::Text => {
                let intro = match p.source {
                    "Referral" => "My neighbor gave me your number",
                    "Door hanger" => "Got your door hanger",
                    "Nextdoor" => "Saw you recommended on Nextdoor",
                    _ => "Found you online",
                };
                let text =
                    format!("Hi, this is {name}. {intro}. {detail} Could someone come look at it?");
                let (short, has_address, address) = (p.issue.short, p.has_address, p.address());
                self.sms_in(l, secs(0, 0), text).await?;
                let text = format!(
                    "Hi {first}! Thanks for reaching out to {company}. Sorry to hear about the {short}. We do free inspections — what's the property address?"
                );
                self.sms_out(l, mins(8, 90), Actor::Office, text, false)
                    .await?;
                if has_address {
                    self.sms_in(l, mins(3, 120), format!("It's {address}."))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Books the inspection (unless the opening call did) and sends the reminder.
    async fn schedule(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let company = self.company.name.clone();
        let slot = match l.slot {
            Some(slot) => slot,
            None => {
                let at = self.step(l, hours(1, 20), Actor::Office);
                let mut slot =
                    self.slot(l, at, 1, 3, &[9 * 60, 10 * 60 + 30, 13 * 60, 14 * 60 + 30]);
                let text = format!(
                    "Hi {first}, it's Sarah from {company}. Mike can come out for a free inspection {} at {}. Would that work?",
                    weekday(slot),
                    clock(slot)
                );
                self.sms_out_at(l, at, text, false, vec![]).await?;
                if l.rng.gen_bool(0.7) {
                    let day = weekday(slot);
                    let yes = [
                        format!("{day} at {} works great, thank you!", clock(slot)),
                        "Yes, that works. I'll be home.".to_string(),
                        format!("Perfect, see you {day}."),
                    ];
                    let yes = yes.choose(&mut l.rng).cloned().unwrap_or_default();
                    self.sms_in(l, mins(5, 180), yes).await?;
                } else {
                    self.sms_in(
                        l,
                        mins(5, 180),
                        "Could we do later in the day? After 3 is better for us.".into(),
                    )
                    .await?;
                    slot = from_local(local(slot).date_naive(), 15 * 60 + 30);
                    let text = format!(
                        "No problem — {} at {} it is. See you then!",
                        weekday(slot),
                        clock(slot)
                    );
                    self.sms_out(l, mins(5, 60), Actor::Office, text, false)
                        .await?;
                }
                l.slot = Some(slot);
                self.stage(l, "inspection_scheduled").await?;
                slot
            }
        };
        // Drawn whether or not the reminder is sent yet, so what follows does not depend on it.
        let ok = [
            "See you then 👍",
            "Thanks, we'll be here.",
            "Great, thank you!",
        ]
        .choose(&mut l.rng)
        .copied()
        .filter(|_| l.rng.gen_bool(0.5));
        let eve = local(slot).date_naive().pred_opt();
        if let Some(eve) = eve {
            let remind = from_local(eve, 15 * 60 + l.clock.gen_range(0..150));
            if remind > l.at && remind < self.now {
                let at = self.set(l, remind);
                let text = format!(
                    "Reminder: Mike from {company} will be at {street} tomorrow at {} for your free roof inspection. Reply here if you need to reschedule.",
                    clock(slot)
                );
                self.sms_out_at(l, at, text, true, vec![]).await?;
                if let Some(ok) = ok {
                    self.sms_in(l, mins(5, 120), ok.into()).await?;
                }
            }
        }
        Ok(())
    }

    /// The estimator's call after the inspection, and photos.
    async fn inspect(&mut self, l: &mut Run, mood: Mood) -> anyhow::Result<()> {
        let slot = l.slot.unwrap_or(l.at);
        let (first, company) = (l.p.first, self.company.name.clone());
        let recommendation = if l.p.issue.replacement {
            "Given the age of the roof, I'd recommend a full replacement rather than patching it."
        } else {
            "The good news is it's a repair, not a replacement."
        };
        let reactions: &[&str] = match mood {
            Mood::Happy => &[
                "That's a relief, thank you for explaining everything so clearly.",
                "Great, thanks for being so thorough!",
            ],
            Mood::Worried => &[
                "Oh no. I'm worried about what that's going to cost us.",
                "Ugh, that's not what I wanted to hear. How much are we talking?",
            ],
            Mood::Insurance => {
                &["Do you think insurance will cover it? I've never filed a claim before."]
            }
        };
        let reaction = reactions.choose(&mut l.rng).copied().unwrap_or("Okay.");
        let closing = match mood {
            Mood::Insurance => "It's worth filing an insurance claim. I'll send you the photos for the adjuster today and a quote by email tomorrow.",
            _ => "I'll put the numbers together and send you a quote by email tomorrow.",
        };
        let transcript = format!(
            "Mike: Hi {first}, it's Mike from {company}. I just finished up on your roof.\n\
             {first}: Great, what did you find?\n\
             Mike: {}. {recommendation}\n\
             {first}: {reaction}\n\
             Mike: {closing}",
            l.p.issue.finding
        );
        let after = Duration::minutes(l.clock.gen_range(50..90));
        let at = self.set(l, slot + after);
        let duration = l.rng.gen_range(240..560);
        self.call(
            l,
            at,
            Direction::Outbound,
            "completed",
            duration,
            Some(transcript),
        )
        .await?;
        if l.rng.gen_bool(0.6) {
            let at = self.step(l, mins(5, 25), Actor::Office);
            let mut media = vec![];
            for _ in 0..3 {
                let name = self.hex(16);
                let url = format!("https://photos.example.com/{}/{name}.jpg", self.account);
                media.push(json!({"url": url, "content_type": "image/jpeg"}));
            }
            let text = format!("Here are a few photos from today's inspection, {first}.");
            self.sms_out_at(l, at, text, false, media).await?;
        }
        // The estimator has seen the roof now.
        let fields = json!({"status": "inspected", "roof_age_years": l.p.roof_age});
        self.api
            .call(Method::PATCH, &format!("/api/leads/{}", l.id), fields)
            .await?;
        Ok(())
    }

    /// The estimate, by email.
    async fn quote(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let p = &l.p;
        let items = if p.issue.replacement {
            "• Tear off and haul away the existing shingles\n\
             • Replace damaged decking as needed (3 sheets included)\n\
             • Synthetic underlayment, ice and water shield in the valleys\n\
             • 30-year architectural shingles, new ridge vent and pipe boots"
        } else {
            "• Repair the damaged area and replace the underlayment beneath it\n\
             • Replace damaged shingles, matched as closely as possible\n\
             • Reseal every roof penetration and check the flashing"
        };
        let visit = l.slot.map(weekday).unwrap_or_else(|| "your visit".into());
        let body = format!(
            "Hi {},\n\nThanks for having us out on {visit}. As promised, here is your estimate for {} at {}:\n\n{items}\n\nTotal: {}\n\n\
             The price includes materials, labor, permits, cleanup and a magnetic sweep for nails, with our 10-year workmanship warranty. \
             We also offer 0% APR for 12 months on approved credit. The estimate is good for 30 days.\n\n\
             Just reply to this email or call me with any questions.\n\n{}",
            p.first,
            p.job(),
            p.street,
            money(p.price),
            self.company.signature()
        );
        let subject = format!("Your roofing estimate – {}", p.street);
        let at = self.step(l, hours(14, 30), Actor::Office);
        self.email_out(l, at, Some(subject), body, None).await?;
        self.stage(l, "quoted").await
    }

    async fn won(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street, company) = (l.p.first, l.p.street.clone(), self.company.name.clone());
        let yes = [
            "This looks great — we'd like to move forward. When can your crew start?",
            "Thanks Mike, we're ready to sign. Let us know the next steps!",
            "Perfect, that's what we hoped. Let's do it!",
        ];
        let yes = yes.choose(&mut l.rng).copied().unwrap_or(yes[0]);
        self.email_in(l, hours(3, 40), None, yes.into()).await?;
        let at = self.step(l, hours(1, 5), Actor::Office);
        let install = self.slot(l, at, 3, 8, &[7 * 60 + 30]);
        let length = if l.p.issue.replacement {
            "usually takes one to two days"
        } else {
            "takes about half a day"
        };
        let body = format!(
            "Wonderful, thank you {first}! You're on our schedule for {}. The crew arrives around 7:30am and {} {length}. I'll text you a reminder the day before.\n\n{}",
            local(install).format("%A, %B %-d"),
            l.p.job(),
            self.company.signature()
        );
        self.email_out(l, at, None, body, None).await?;
        self.stage(l, "won").await?;
        let thanks = [
            "The crew did an amazing job, thank you! Just left you a review.",
            "Looks fantastic. Great crew, very clean. Thanks!",
            "Love the new roof, thank you so much!",
        ];
        let thanks = thanks.choose(&mut l.rng).copied().unwrap_or(thanks[0]);
        if let Some(eve) = local(install).date_naive().pred_opt() {
            let remind = from_local(eve, 16 * 60 + l.clock.gen_range(0..45));
            if remind > l.at && remind < self.now {
                let at = self.set(l, remind);
                let text = format!(
                    "Reminder: our crew will be at {street} tomorrow at 7:30am. Please move cars out of the driveway. Thanks!"
                );
                self.sms_out_at(l, at, text, true, vec![]).await?;
            }
        }
        let after = self.set(l, install + Duration::hours(30));
        if after < self.now - Duration::hours(1) {
            let text = format!(
                "Hi {first}, thanks again for choosing {company}! If you're happy with the work, would you mind leaving us a quick review? https://reviews.example.com/{}",
                self.company.domain
            );
            self.sms_out(l, hours(0, 6), Actor::Office, text, false)
                .await?;
            self.sms_in(l, hours(1, 20), thanks.into()).await?;
        }
        Ok(())
    }

    async fn lost_on_price(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let first = l.p.first;
        let company = self.company.name.clone();
        let less = money(l.p.price / 100 * l.rng.gen_range(15..30));
        let text = format!(
            "Thanks for the quote, Mike. Honestly that's too expensive for us — another company quoted about {less} less for the same work."
        );
        self.email_in(l, hours(10, 60), None, text).await?;
        let at = self.step(l, hours(1, 5), Actor::Office);
        let body = format!(
            "I understand, {first}. Estimates can look alike and not be: ours replaces the underlayment, includes permits and cleanup, and comes with a 10-year workmanship warranty. \
             If the price is the concern, we offer 0% APR for 12 months, and I'm happy to walk through the line items on the phone.\n\n{}",
            self.company.signature()
        );
        self.email_out(l, at, None, body, None).await?;
        let text = format!(
            "Hi {first}, Mike from {company}. Just checking in on the estimate — any questions I can answer?"
        );
        self.sms_out(l, days(3, 5), Actor::Office, text, false)
            .await?;
        let no = [
            "Thanks, but we went with someone else.",
            "We decided to go with another company. Thanks for your time.",
        ];
        let no = no.choose(&mut l.rng).copied().unwrap_or(no[0]);
        self.sms_in(l, hours(2, 30), no.into()).await?;
        self.stage(l, "lost").await
    }

    async fn cancelled(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let first = l.p.first;
        self.sms_in(
            l,
            hours(2, 20),
            "Hi, sorry for the late notice, we need to cancel the inspection. We decided to go with another roofer who could start sooner.".into(),
        )
        .await?;
        let text = format!(
            "Understood, {first}. Thanks for letting us know — if anything changes, we're here."
        );
        self.sms_out(l, mins(10, 120), Actor::Office, text, false)
            .await?;
        self.stage(l, "lost").await
    }

    /// Our follow-ups to a lead who stopped answering.
    async fn chase(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, short) = (l.p.first, l.p.issue.short);
        let (company, phone) = (self.company.name.clone(), self.company.phone_display());
        let text = format!(
            "Hi {first}, it's Sarah from {company} following up on your {short}. Would you like us to set up a free inspection? We have openings this week."
        );
        self.sms_out(l, days(1, 3), Actor::Office, text, false)
            .await?;
        let at = self.step(l, days(5, 8), Actor::Office);
        if l.p.email.is_some() {
            let body = format!(
                "Hi {first},\n\nJust checking in about the {short} you mentioned. We can usually get out within two days for a free inspection, and we work with all major insurers if it's storm related.\n\nReply here or call {phone} whenever you're ready.\n\n{}",
                self.company.signature()
            );
            self.email_out(l, at, Some("Following up on your roof".into()), body, None)
                .await?;
        } else {
            let text = format!(
                "Hi {first}, checking in once more about your {short}. We can usually get out within two days for a free inspection. Call or text {phone} whenever you're ready."
            );
            self.sms_out_at(l, at, text, false, vec![]).await?;
        }
        let at = self.step(l, days(5, 9), Actor::Office);
        if l.rng.gen_bool(0.5) {
            let transcript = format!(
                "Hi {first}, it's Mike with {company} following up on your {short}. Give me a call back at {phone} when you get a chance. Thanks!"
            );
            let duration = l.rng.gen_range(25..45);
            self.call(
                l,
                at,
                Direction::Outbound,
                "voicemail",
                duration,
                Some(transcript),
            )
            .await
        } else {
            self.call(l, at, Direction::Outbound, "no_answer", 0, None)
                .await
        }
    }

    /// A lead who reached out recently and has not been answered yet.
    async fn unanswered(&mut self, l: &mut Run, opening: Opening) -> anyhow::Result<()> {
        let p = &l.p;
        let (first, name, phone) = (p.first, p.name(), display_phone(&p.phone));
        let (detail, timeline) = (p.issue.detail, p.timeline.1);
        let place = if p.has_address {
            format!(" We're at {}.", p.address())
        } else {
            String::new()
        };
        match opening {
            Opening::WebForm => {
                let subject = format!("{} – {}", p.issue.subject, p.city);
                let body = format!(
                    "Hello,\n\n{detail}{place} {timeline}\n\nPlease call or text me at {phone}.\n\n{name}"
                );
                self.email_in(l, secs(0, 0), Some(subject), body).await
            }
            Opening::Text | Opening::Chat => {
                let text = format!(
                    "Hi, is this {}? {detail}{place} {timeline} Can someone call me?",
                    self.company.name
                );
                self.sms_in(l, secs(0, 0), text).await
            }
            Opening::CallMissed | Opening::CallAnswered => {
                let transcript = format!(
                    "Hi, this is {name}. {detail}{place} Please call me back at {phone}. Thanks."
                );
                let at = self.step(l, secs(0, 0), Actor::Lead);
                let duration = l.rng.gen_range(30..60);
                self.call(
                    l,
                    at,
                    Direction::Inbound,
                    "voicemail",
                    duration,
                    Some(transcript),
                )
                .await?;
                if l.rng.gen_bool(0.5) {
                    let text = format!(
                        "Hi, I just left a voicemail about my roof. {timeline} Can someone call me back? - {first}"
                    );
                    self.sms_in(l, mins(3, 20), text).await?;
                }
                Ok(())
            }
        }
    }

    /// Quote sent; the lead is thinking it over.
    async fn deliberating(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let (company, phone) = (self.company.name.clone(), self.company.phone_display());
        let maybe = [
            "Thanks for the detailed quote. We need to talk it over and check what insurance will cover. We'll get back to you next week.",
            "Got it, thank you. My husband and I are going to talk it over this weekend.",
            "Thanks Mike. Still comparing a couple of quotes, yours is the most thorough so far.",
        ];
        let maybe = maybe.choose(&mut l.rng).copied().unwrap_or(maybe[0]);
        self.email_in(l, hours(4, 48), None, maybe.into()).await?;
        let text =
            format!("Hi {first}, Mike from {company}. Any questions on the estimate I can answer?");
        self.sms_out(l, days(3, 5), Actor::Office, text, false)
            .await?;
        if l.rng.gen_bool(0.55) {
            self.sms_in(
                l,
                hours(1, 30),
                "Still deciding, will let you know by Friday. Thanks for checking in!".into(),
            )
            .await
        } else {
            let transcript = format!(
                "Hi {first}, it's Mike with {company}, following up on the estimate for {street}. Give me a call back when you get a chance at {phone}. Thanks!"
            );
            let at = self.step(l, days(2, 4), Actor::Office);
            let duration = l.rng.gen_range(30..55);
            self.call(
                l,
                at,
                Direction::Outbound,
                "voicemail",
                duration,
                Some(transcript),
            )
            .await
        }
    }

    /// Inspected; the homeowner worries about the insurance claim.
    async fn insurance(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let insurer = INSURERS.choose(&mut l.rng).copied().unwrap_or("State Farm");
        let body = format!(
            "Hi Mike,\n\nI filed the claim with {insurer} but I'm really worried the adjuster will deny it. What happens if they say it's just wear and tear? We can't afford to pay for the whole thing ourselves.\n\n{first}"
        );
        self.email_in(
            l,
            hours(12, 40),
            Some("Insurance claim question".into()),
            body,
        )
        .await?;
        let at = self.step(l, hours(1, 5), Actor::Office);
        let body = format!(
            "Hi {first},\n\nThat's a very common worry, and you won't be on your own with it. I'll meet the adjuster on site and walk the roof with them, with photos of all the damage we documented. \
             If they deny it, we can request a re-inspection, and we only bill what the claim approves beyond your deductible.\n\nLet me know when they schedule the visit.\n\n{}",
            self.company.signature()
        );
        self.email_out(l, at, None, body, None).await?;
        let visit = self.slot(l, l.at, 2, 5, &[10 * 60, 13 * 60, 15 * 60]);
        let (day, time) = (weekday(visit), clock(visit));
        let text = format!(
            "Thank you, that makes me feel a lot better. The adjuster is coming {day} at {time}."
        );
        self.email_in(l, hours(12, 50), None, text).await?;
        let text = format!(
            "Hi {first}, Mike here. I'll be at {street} {day} at {time} to meet the adjuster."
        );
        self.sms_out(l, mins(20, 180), Actor::Office, text, false)
            .await
    }

    /// A ballpark for someone in no hurry.
    async fn ballpark(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, city) = (l.p.first, l.p.city);
        let low = l.rng.gen_range(90..130) * 100;
        let high = low + l.rng.gen_range(40..90) * 100;
        let at = self.step(l, hours(2, 8), Actor::Office);
        let body = format!(
            "Hi {first},\n\nThanks for reaching out. For most homes in {city}, a full replacement with architectural shingles runs {}–{}, depending on size, pitch and how much decking needs replacing. \
             A free inspection gets you an exact number whenever you're ready.\n\n{}",
            money(low),
            money(high),
            self.company.signature()
        );
        self.email_out(l, at, Some("Ballpark for a new roof".into()), body, None)
            .await?;
        self.email_in(
            l,
            hours(3, 48),
            None,
            "Ok. We'll probably wait until spring and reach out then.".into(),
        )
        .await
    }

    /// A renter: the landlord has to approve, and won't.
    async fn not_a_fit(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let first = l.p.first;
        self.sms_in(
            l,
            secs(0, 0),
            "Hi, I rent my house and the roof has been leaking into the living room for weeks. My landlord won't fix it. Can you come out?".into(),
        )
        .await?;
        let text = format!(
            "Hi {first}, sorry you're dealing with that. Since it's a rental, the owner has to approve the inspection and the work. Could you send us your landlord's contact info?"
        );
        self.sms_out(l, mins(10, 120), Actor::Office, text, false)
            .await?;
        self.sms_in(
            l,
            hours(1, 20),
            "He won't pay for anything. Forget it.".into(),
        )
        .await
    }

    /// Nobody came to the inspection; the estimator calls and rebooks.
    async fn no_show(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let company = self.company.name.clone();
        let slot = l.slot.unwrap_or(l.at);
        let after = Duration::minutes(l.clock.gen_range(90..200));
        self.set(l, slot + after);
        self.sms_in(
            l,
            secs(0, 0),
            "Nobody showed up for our inspection today. I took the afternoon off work for this — really frustrating.".into(),
        )
        .await?;
        let at = self.step(l, mins(10, 60), Actor::Office);
        let again = self.slot(l, at, 1, 2, &[8 * 60]);
        let day = weekday(again);
        let transcript = format!(
            "Mike: Hi {first}, this is Mike from {company}. I'm so sorry about today. Our schedule got crossed up and that's on us.\n\
             {first}: Honestly I'm pretty annoyed. I rearranged my whole day.\n\
             Mike: I understand, and I apologize. Can I come out first thing {day} at 8am and do the inspection myself?\n\
             {first}: Fine. {day} at 8.\n\
             Mike: Thank you. I'll send you a confirmation text right now."
        );
        let duration = l.rng.gen_range(120..300);
        self.call(
            l,
            at,
            Direction::Outbound,
            "completed",
            duration,
            Some(transcript),
        )
        .await?;
        l.slot = Some(again);
        let text =
            format!("Confirmed: {day} at 8am at {street}. Again, sorry for the mix-up, {first}.");
        self.sms_out(l, mins(1, 5), Actor::Instant, text, false)
            .await?;
        self.sms_in(l, mins(5, 90), "Ok.".into()).await
    }
}

/// Subject, In-Reply-To and References of the next message in the lead's current email
/// thread (a new thread when `subject` is given), which then includes `message_id`.
fn threading(
    l: &mut Run,
    subject: Option<String>,
    message_id: &str,
) -> (String, Option<String>, Vec<String>) {
    let mut thread = match (subject, l.thread.take()) {
        (Some(subject), _) => Thread {
            subject,
            ids: vec![],
        },
        (None, Some(thread)) => thread,
        (None, None) => Thread {
            subject: format!("Your roof at {}", l.p.street),
            ids: vec![],
        },
    };
    let subject = if thread.ids.is_empty() {
        thread.subject.clone()
    } else {
        crate::channels::email::reply_subject(Some(&thread.subject))
    };
    let in_reply_to = thread.ids.last().cloned();
    let references = thread.ids.clone();
    thread.ids.push(message_id.to_string());
    l.thread = Some(thread);
    (subject, in_reply_to, references)
}
