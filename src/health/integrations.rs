//! `GET /api/health/integrations`: for the caller's account, whether each integration
//! works — the database, every connected mailbox, Telnyx SMS, the AI responder and every
//! chat site — with when it last worked, its last error, and what it did lately.
//!
//! Everything is read from what the channels already record (sync state on the mailbox
//! rows, Telnyx errors on the SMS row, outbox failures, webhook events, and the
//! `metadata.ai` that every recorded AI reply carries), so any replica answers the same.
//! Each kind is checked once for the whole account (no query per mailbox or site), all
//! kinds at once, each bounded in time; a kind whose check fails becomes one `error`
//! entry and leaves the others alone. Nothing secret is read, so nothing secret is shown.

use std::future::Future;
use std::time::{Duration, Instant};

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::domain::AccountId;
use crate::extract::Json;
use crate::state::AppState;

/// Longest one kind's check may take before its entry reports a timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest the database ping may take before the database counts as failing.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
/// A database round trip slower than this is `degraded`.
const SLOW_DATABASE_MS: f64 = 500.0;
/// Failed syncs in a row that make a mailbox `error`.
const MAILBOX_FAILURES_ERROR: i32 = 3;
/// A failed sync after a success older than this makes a mailbox `error`.
const MAILBOX_STALE_ERROR: Duration = Duration::from_secs(3600);
/// Least sync lag that counts as late: one slow pass over many mailboxes must not make
/// every mailbox look late when the sync interval is short (the default is a minute).
const MAILBOX_LATE_FLOOR: Duration = Duration::from_secs(300);
/// Replies in a row that fell back to the rules that make the AI provider `error`.
const AI_FALLBACKS_ERROR: i64 = 3;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(integrations))
}

/// How an integration is doing. Ordered from best to worst; `not_configured` never
/// counts towards `overall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotConfigured,
    Healthy,
    Degraded,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Database,
    Email,
    Sms,
    Ai,
    ChatSite,
}

/// The account's integrations, one entry per instance (each mailbox, each site).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationsHealth {
    pub checked_at: DateTime<Utc>,
    /// The worst status of the configured integrations: `healthy`, `degraded` or `error`.
    pub overall: Status,
    pub integrations: Vec<IntegrationHealth>,
}

/// One integration instance.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationHealth {
    pub kind: Kind,
    /// The mailbox address, the site's name, the AI provider, "Telnyx", "PostgreSQL".
    pub name: String,
    /// False when the account has not set this up (then `status` is `not_configured`).
    pub configured: bool,
    pub status: Status,
    /// Why the status is not `healthy`, in words.
    pub reason: Option<String>,
    /// When it last worked (last successful sync, send, reply, session…).
    pub last_success_at: Option<DateTime<Utc>>,
    /// The last failure the integration recorded (or why checking it failed).
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    /// What each kind reports: see the `*Details` schemas (`{}` when not configured).
    pub details: Details,
}

/// Kind-specific details.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Details {
    Database(DatabaseDetails),
    Email(EmailDetails),
    Sms(SmsDetails),
    Ai(AiDetails),
    ChatSite(ChatSiteDetails),
    /// Not configured, or the check failed.
    Empty {},
}

// `anyOf`, not the derive's `oneOf`: the variants share no tag, and every object matches
// `{}`, so a body always matched more than one variant (and failed `oneOf`).
impl utoipa::PartialSchema for Details {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Type};
        use utoipa::openapi::Ref;
        AnyOfBuilder::new()
            .item(Ref::from_schema_name(DatabaseDetails::name()))
            .item(Ref::from_schema_name(EmailDetails::name()))
            .item(Ref::from_schema_name(SmsDetails::name()))
            .item(Ref::from_schema_name(AiDetails::name()))
            .item(Ref::from_schema_name(ChatSiteDetails::name()))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .description(Some("Not configured, or the check failed")),
            )
            .description(Some("Kind-specific details"))
            .into()
    }
}

impl ToSchema for Details {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        fn add<T: ToSchema>(
            schemas: &mut Vec<(
                String,
                utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
            )>,
        ) {
            schemas.push((T::name().into(), T::schema()));
            T::schemas(schemas);
        }
        add::<DatabaseDetails>(schemas);
        add::<EmailDetails>(schemas);
        add::<SmsDetails>(schemas);
        add::<AiDetails>(schemas);
        add::<ChatSiteDetails>(schemas);
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseDetails {
    /// One round trip from this server, pool wait included.
    pub latency_ms: f64,
    pub server_version: Option<String>,
    /// Connections this server holds open, and how many are idle.
    pub pool_size: u32,
    pub pool_idle: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmailDetails {
    /// Seconds since the last successful sync (`null`: never synced).
    pub sync_lag_seconds: Option<i64>,
    /// The usual time between two scheduled syncs (from `LEADLINE_SYNC_CRON`).
    pub sync_interval_seconds: i64,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub messages_synced: i64,
    pub consecutive_failures: i32,
    pub auto_respond: bool,
    /// The synced folders, in the configured order.
    pub folders: Vec<FolderHealth>,
    /// Messages of this mailbox (IMAP, Mailgun, SendGrid) that could not be stored and
    /// wait in the quarantine (`GET /api/quarantine`).
    pub quarantined: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FolderHealth {
    pub name: String,
    pub uidvalidity: Option<i64>,
    /// Highest UID stored (0: nothing yet).
    pub last_uid: i64,
    pub last_synced_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsDetails {
    pub numbers: Vec<String>,
    /// Telnyx messaging events received for this account in the last 24 h.
    pub webhook_events_24h: i64,
    /// Sends that failed for good in the last 24 h (never accepted by Telnyx).
    pub failed_sends_24h: i64,
    /// Texts Telnyx accepted but reported undelivered in the last 24 h.
    pub failed_deliveries_24h: i64,
    /// Telnyx events that could not be stored and wait in the quarantine.
    pub quarantined: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AiDetails {
    /// "rules", "anthropic" or "openai".
    pub provider: String,
    /// `null` for the rules responder.
    pub model: Option<String>,
    /// AI replies recorded in the last 24 h (any channel).
    pub replies_24h: i64,
    /// Of those, how many the rules answered because the provider failed.
    pub fallbacks_24h: i64,
    /// Replies that fell back since the provider last answered.
    pub fallbacks_since_last_success: i64,
    pub last_reply_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChatSiteDetails {
    pub site_id: i64,
    pub allowed_origins: Vec<String>,
    /// Chat sessions started in the last 24 h.
    pub sessions_24h: i64,
    pub last_session_at: Option<DateTime<Utc>>,
}

impl IntegrationHealth {
    fn not_configured(kind: Kind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_string(),
            configured: false,
            status: Status::NotConfigured,
            reason: None,
            last_success_at: None,
            last_error: None,
            last_error_at: None,
            details: Details::Empty {},
        }
    }

    fn check_failed(kind: Kind, name: &str, error: String) -> Self {
        Self {
            kind,
            name: name.to_string(),
            configured: true,
            status: Status::Error,
            reason: Some("its health could not be checked".into()),
            last_success_at: None,
            last_error: Some(error),
            last_error_at: Some(Utc::now()),
            details: Details::Empty {},
        }
    }
}

/// The worst status among the configured integrations (`healthy` when none is).
pub fn overall(entries: &[IntegrationHealth]) -> Status {
    entries
        .iter()
        .map(|e| e.status)
        .filter(|s| *s != Status::NotConfigured)
        .max()
        .unwrap_or(Status::Healthy)
        .max(Status::Healthy)
}

/// Health of the account's integrations: database, each mailbox, SMS, the AI responder
/// and each chat site. Always 200 when authenticated: a failing integration, or a failing
/// check of one, is reported in its entry.
#[utoipa::path(get, path = "/api/health/integrations", tag = "health",
    responses((status = 200, body = IntegrationsHealth), (status = 401, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn integrations(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Json<IntegrationsHealth> {
    let checked_at = Utc::now();
    let ai_name = state.ai.provider_name();
    let (db, email, sms, ai, sites) = tokio::join!(
        database(&state.pool),
        guarded(Kind::Email, "Email", mailboxes(&state, account)),
        guarded(Kind::Sms, "Telnyx", sms(&state.pool, account)),
        guarded(Kind::Ai, ai_name, ai(&state, account)),
        guarded(
            Kind::ChatSite,
            "Website chat",
            chat_sites(&state.pool, account)
        ),
    );
    let mut entries = vec![db];
    for part in [email, sms, ai, sites] {
        entries.extend(part);
    }
    Json(IntegrationsHealth {
        checked_at,
        overall: overall(&entries),
        integrations: entries,
    })
}

/// Runs one kind's check within [`CHECK_TIMEOUT`]; a failure becomes one `error` entry.
async fn guarded(
    kind: Kind,
    name: &str,
    check: impl Future<Output = sqlx::Result<Vec<IntegrationHealth>>>,
) -> Vec<IntegrationHealth> {
    let error = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(entries)) => return entries,
        Ok(Err(e)) => format!("checking failed: {e}"),
        Err(_) => format!("checking timed out after {} s", CHECK_TIMEOUT.as_secs()),
    };
    tracing::warn!(kind = ?kind, error = %error, "integration health check failed");
    vec![IntegrationHealth::check_failed(kind, name, error)]
}

/// "45 s", "12 min", "3 h", "2 days".
fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

// ---------------------------------------------------------------------------
// Database

/// Database status, from one round trip:
/// * `error` — the query failed or took longer than 2 s;
/// * `degraded` — it took longer than 500 ms;
/// * `healthy` — otherwise.
pub fn database_status(ok: bool, latency_ms: f64) -> Status {
    if !ok {
        Status::Error
    } else if latency_ms > SLOW_DATABASE_MS {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

async fn database(pool: &PgPool) -> IntegrationHealth {
    let started = Instant::now();
    let ping = tokio::time::timeout(
        DATABASE_TIMEOUT,
        sqlx::query_scalar::<_, String>("select current_setting('server_version')").fetch_one(pool),
    )
    .await;
    let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let (version, error) = match ping {
        Ok(Ok(v)) => (Some(v), None),
        Ok(Err(e)) => (None, Some(format!("query failed: {e}"))),
        Err(_) => (
            None,
            Some(format!("no answer within {} s", DATABASE_TIMEOUT.as_secs())),
        ),
    };
    let status = database_status(error.is_none(), latency_ms);
    let now = Utc::now();
    IntegrationHealth {
        kind: Kind::Database,
        name: "PostgreSQL".into(),
        configured: true,
        status,
        reason: match status {
            Status::Degraded => Some(format!("a round trip took {latency_ms} ms")),
            Status::Error => Some("the database does not answer".into()),
            _ => None,
        },
        last_success_at: error.is_none().then_some(now),
        last_error_at: error.as_ref().map(|_| now),
        last_error: error,
        details: Details::Database(DatabaseDetails {
            latency_ms,
            server_version: version,
            pool_size: pool.size(),
            pool_idle: pool.num_idle() as u32,
        }),
    }
}

// ---------------------------------------------------------------------------
// Email

/// The usual time between two runs of a cron expression with seconds (6 or 7 fields;
/// 5 fields get second 0): the spacing of its finest field that is not a single value
/// (`*/5` in minutes: 5 min; `0,30`: 30 min; `*`: one unit). With seconds, minutes and
/// hours all fixed: a day, or a week when days are restricted, or a month when months
/// are. An estimate: irregular schedules are taken at their shortest spacing.
pub fn cron_period(expr: &str) -> Option<Duration> {
    let mut fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() == 5 {
        fields.insert(0, "0");
    }
    if !(6..=7).contains(&fields.len()) {
        return None;
    }
    const UNITS: [(u64, u64); 3] = [(1, 60), (60, 60), (3600, 24)];
    for (field, (unit, range)) in fields.iter().zip(UNITS) {
        if field.parse::<u64>().is_ok() {
            continue;
        }
        let steps = if let Some((_, step)) = field.split_once('/') {
            step.parse::<u64>().ok().filter(|n| *n > 0)?
        } else if field.contains(',') {
            (range / field.split(',').count() as u64).max(1)
        } else {
            1
        };
        return Some(Duration::from_secs(unit * steps));
    }
    let any = |f: &str| f == "*" || f == "?";
    let days = if !any(fields[4]) {
        31
    } else if !any(fields[3]) || !any(fields[5]) {
        7
    } else {
        1
    };
    Some(Duration::from_secs(days * 86_400))
}

/// Items waiting in the quarantine make a healthy integration `degraded` (something it
/// received is not stored) and are named in the reason of any other status.
pub fn with_quarantine(
    (status, reason): (Status, Option<String>),
    quarantined: i64,
) -> (Status, Option<String>) {
    if quarantined == 0 {
        return (status, reason);
    }
    let held = format!(
        "{quarantined} received {} could not be stored (see the quarantine)",
        if quarantined == 1 {
            "message"
        } else {
            "messages"
        }
    );
    match (status, reason) {
        (Status::Healthy, _) => (Status::Degraded, Some(held)),
        (s, Some(r)) => (s, Some(format!("{r}; {held}"))),
        (s, None) => (s, Some(held)),
    }
}

/// What a mailbox's sync bookkeeping says.
#[derive(Debug, Clone, Copy)]
pub struct SyncFacts {
    pub consecutive_failures: i32,
    /// The latest sync attempt failed (`last_error` is set; a success clears it).
    pub last_failed: bool,
    /// Seconds since the last successful sync; `None` when there was none.
    pub lag_seconds: Option<f64>,
    /// Seconds since the mailbox was connected.
    pub age_seconds: f64,
}

/// Mailbox status:
/// * `error` — 3 or more syncs in a row failed; or the latest sync failed and the last
///   success is more than an hour old (or there never was one);
/// * `degraded` — the latest sync failed (after a success within the hour); or the last
///   success is older than 3 sync intervals (at least 5 minutes), or, never synced, the
///   mailbox was connected longer ago than that;
/// * `healthy` — otherwise.
pub fn mailbox_status(f: &SyncFacts, interval: Duration) -> (Status, Option<String>) {
    if f.consecutive_failures >= MAILBOX_FAILURES_ERROR {
        return (
            Status::Error,
            Some(format!("{} syncs in a row failed", f.consecutive_failures)),
        );
    }
    if f.last_failed {
        return match f.lag_seconds {
            None => (
                Status::Error,
                Some("the mailbox never synced successfully and the last sync failed".into()),
            ),
            Some(lag) if lag > MAILBOX_STALE_ERROR.as_secs_f64() => (
                Status::Error,
                Some(format!(
                    "the last sync failed; the last success was {} ago",
                    ago(lag)
                )),
            ),
            Some(_) => (Status::Degraded, Some("the last sync failed".into())),
        };
    }
    let late_after = (interval * 3).max(MAILBOX_LATE_FLOOR).as_secs_f64();
    match f.lag_seconds {
        Some(lag) if lag > late_after => (
            Status::Degraded,
            Some(format!("no successful sync for {}", ago(lag))),
        ),
        None if f.age_seconds > late_after => (
            Status::Degraded,
            Some(format!(
                "not synced yet, {} after connecting",
                ago(f.age_seconds)
            )),
        ),
        _ => (Status::Healthy, None),
    }
}

#[derive(sqlx::FromRow)]
struct MailboxRow {
    id: i64,
    email: String,
    auto_respond: bool,
    folders: Vec<String>,
    last_sync: Option<DateTime<Utc>>,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    consecutive_failures: i32,
    next_sync_at: Option<DateTime<Utc>>,
    lag_seconds: Option<f64>,
    age_seconds: f64,
}

#[derive(sqlx::FromRow)]
struct FolderRow {
    integration_id: i64,
    folder: String,
    uidvalidity: Option<i64>,
    last_uid: i64,
    last_sync: Option<DateTime<Utc>>,
}

/// Every active mailbox of the account (two queries, whatever their number).
async fn mailboxes(state: &AppState, account: AccountId) -> sqlx::Result<Vec<IntegrationHealth>> {
    let rows: Vec<MailboxRow> = sqlx::query_as(
        "select id, email, auto_respond, folders, last_sync, last_error, last_error_at, consecutive_failures,
                next_sync_at,
                extract(epoch from now() - last_sync)::float8 as lag_seconds,
                extract(epoch from now() - created_at)::float8 as age_seconds
         from email_integrations where account_id = $1 and is_active order by id",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    if rows.is_empty() {
        return Ok(vec![IntegrationHealth::not_configured(
            Kind::Email,
            "Email",
        )]);
    }
    let folders: Vec<FolderRow> = sqlx::query_as(
        "select s.integration_id, s.folder, s.uidvalidity, s.last_uid, s.last_sync
         from imap_sync_state s join email_integrations e on e.id = s.integration_id
         where e.account_id = $1 and e.is_active",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let held: Vec<(i64, i64)> = sqlx::query_as(
        "select integration_id, count(*) from quarantine
         where account_id = $1 and integration_id is not null group by integration_id",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let interval = cron_period(&state.config.email.sync_cron).unwrap_or(Duration::from_secs(60));
    // One mailbox per account: what is stored from IMAP is this mailbox's.
    let synced = crate::channels::email::integration::messages_synced(&state.pool, account).await?;
    Ok(rows
        .into_iter()
        .map(|m| {
            let facts = SyncFacts {
                consecutive_failures: m.consecutive_failures,
                last_failed: m.last_error.is_some(),
                lag_seconds: m.lag_seconds,
                age_seconds: m.age_seconds,
            };
            let quarantined = held.iter().find(|(id, _)| *id == m.id).map_or(0, |h| h.1);
            let (status, reason) = with_quarantine(mailbox_status(&facts, interval), quarantined);
            let folders = m
                .folders
                .iter()
                .map(|name| {
                    let s = folders
                        .iter()
                        .find(|f| f.integration_id == m.id && &f.folder == name);
                    FolderHealth {
                        name: name.clone(),
                        uidvalidity: s.and_then(|s| s.uidvalidity),
                        last_uid: s.map_or(0, |s| s.last_uid),
                        last_synced_at: s.and_then(|s| s.last_sync),
                    }
                })
                .collect();
            IntegrationHealth {
                kind: Kind::Email,
                name: m.email,
                configured: true,
                status,
                reason,
                last_success_at: m.last_sync,
                last_error_at: m.last_error.as_ref().and(m.last_error_at),
                last_error: m.last_error,
                details: Details::Email(EmailDetails {
                    sync_lag_seconds: m.lag_seconds.map(|l| l.max(0.0).round() as i64),
                    sync_interval_seconds: interval.as_secs() as i64,
                    next_sync_at: m.next_sync_at,
                    messages_synced: synced,
                    consecutive_failures: m.consecutive_failures,
                    auto_respond: m.auto_respond,
                    folders,
                    quarantined,
                }),
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------
// SMS

/// What the SMS records say.
#[derive(Debug, Clone, Copy)]
pub struct SmsFacts {
    pub numbers: usize,
    pub last_success_at: Option<DateTime<Utc>>,
    /// When Telnyx last refused a send (a 4xx: bad key, number not on the profile…).
    pub last_error_at: Option<DateTime<Utc>>,
    /// `last_error_at` is within the last 24 h.
    pub error_in_24h: bool,
    pub failed_sends_24h: i64,
    pub failed_deliveries_24h: i64,
}

/// SMS status:
/// * `error` — no number is connected; or Telnyx refused a send more recently than
///   anything was sent, delivered or received (or nothing ever was);
/// * `degraded` — in the last 24 h a send failed for good, a carrier reported a text
///   undelivered, or Telnyx refused a send (even if later ones went through);
/// * `healthy` — otherwise, also before the first text.
pub fn sms_status(f: &SmsFacts) -> (Status, Option<String>) {
    if f.numbers == 0 {
        return (Status::Error, Some("no phone number is connected".into()));
    }
    if let Some(err) = f.last_error_at {
        if f.last_success_at.is_none_or(|ok| err > ok) {
            return (
                Status::Error,
                Some("Telnyx refused the latest send and nothing has worked since".into()),
            );
        }
    }
    let mut why = vec![];
    if f.failed_sends_24h > 0 {
        why.push(format!("{} failed sends in 24 h", f.failed_sends_24h));
    }
    if f.failed_deliveries_24h > 0 {
        why.push(format!(
            "{} undelivered texts in 24 h",
            f.failed_deliveries_24h
        ));
    }
    if f.error_in_24h {
        why.push("Telnyx refused a send in the last 24 h".into());
    }
    if why.is_empty() {
        (Status::Healthy, None)
    } else {
        (Status::Degraded, Some(why.join("; ")))
    }
}

#[derive(sqlx::FromRow)]
struct SmsRow {
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
    error_in_24h: bool,
    numbers: Vec<String>,
    webhook_events_24h: i64,
    failed_sends_24h: i64,
    failed_deliveries_24h: i64,
    last_success_at: Option<DateTime<Utc>>,
    quarantined: i64,
}

/// The account's Telnyx integration (one query).
async fn sms(pool: &PgPool, account: AccountId) -> sqlx::Result<Vec<IntegrationHealth>> {
    let row: Option<SmsRow> = sqlx::query_as(
        "select i.last_error, i.last_error_at,
                coalesce(i.last_error_at > now() - interval '24 hours', false) as error_in_24h,
                array(select n.phone_number from sms_numbers n where n.account_id = $1
                      order by n.created_at, n.phone_number) as numbers,
                (select count(*) from webhook_events w
                  where w.account_id = $1 and w.provider = 'telnyx' and w.event_type like 'message.%'
                    and w.received_at > now() - interval '24 hours') as webhook_events_24h,
                (select count(*) from outbox o
                  where o.account_id = $1 and o.status in ('failed', 'unknown') and o.kind = $2
                    and o.updated_at > now() - interval '24 hours') as failed_sends_24h,
                (select count(*) from communications c
                  where c.account_id = $1 and c.type = 'sms' and c.direction = 'outbound'
                    and c.status in ('sending_failed', 'delivery_failed')
                    and c.\"timestamp\" > now() - interval '24 hours') as failed_deliveries_24h,
                (select count(*) from quarantine q where q.account_id = $1 and q.source = 'telnyx') as quarantined,
                (select max(c.\"timestamp\") from communications c
                  where c.account_id = $1 and c.type = 'sms'
                    and (c.direction = 'inbound' or c.status in ('sent', 'delivered'))) as last_success_at
         from sms_integrations i where i.account_id = $1 and i.is_active",
    )
    .bind(account)
    .bind(crate::channels::sms::OUTBOX_KIND)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(vec![IntegrationHealth::not_configured(Kind::Sms, "Telnyx")]);
    };
    let (status, reason) = with_quarantine(
        sms_status(&SmsFacts {
            numbers: r.numbers.len(),
            last_success_at: r.last_success_at,
            last_error_at: r.last_error.as_ref().and(r.last_error_at),
            error_in_24h: r.error_in_24h,
            failed_sends_24h: r.failed_sends_24h,
            failed_deliveries_24h: r.failed_deliveries_24h,
        }),
        r.quarantined,
    );
    Ok(vec![IntegrationHealth {
        kind: Kind::Sms,
        name: "Telnyx".into(),
        configured: true,
        status,
        reason,
        last_success_at: r.last_success_at,
        last_error_at: r.last_error.as_ref().and(r.last_error_at),
        last_error: r.last_error,
        details: Details::Sms(SmsDetails {
            numbers: r.numbers,
            webhook_events_24h: r.webhook_events_24h,
            failed_sends_24h: r.failed_sends_24h,
            failed_deliveries_24h: r.failed_deliveries_24h,
            quarantined: r.quarantined,
        }),
    }])
}

// ---------------------------------------------------------------------------
// AI responder

/// AI responder status:
/// * the rules responder is always `healthy`: it is offline and cannot fail;
/// * a provider (Anthropic, OpenAI-compatible) is `error` when its last 3 or more
///   recorded replies all fell back to the rules, `degraded` when the latest one or two
///   did, and `healthy` otherwise (also before its first reply).
pub fn ai_status(rules: bool, fallbacks_since_last_success: i64) -> (Status, Option<String>) {
    match fallbacks_since_last_success {
        _ if rules => (Status::Healthy, None),
        0 => (Status::Healthy, None),
        n if n >= AI_FALLBACKS_ERROR => (
            Status::Error,
            Some(format!(
                "the provider failed on the last {n} replies; the rules answered"
            )),
        ),
        n => (
            Status::Degraded,
            Some(format!(
                "the provider failed on the last {n} {}; the rules answered",
                if n == 1 { "reply" } else { "replies" }
            )),
        ),
    }
}

#[derive(sqlx::FromRow)]
struct AiRow {
    last_success_at: Option<DateTime<Utc>>,
    last_error_at: Option<DateTime<Utc>>,
    last_error: Option<String>,
    fallbacks_since_last_success: i64,
    replies_24h: i64,
    fallbacks_24h: i64,
    last_reply_at: Option<DateTime<Utc>>,
}

/// The configured responder, judged by the account's recorded AI replies: each carries
/// `metadata.ai.provider` and, when the provider failed and the rules answered,
/// `metadata.ai.fallback_reason` ("anthropic: timed out after 8s"). Only this provider's
/// failures count, so a past provider's errors do not linger. One query, on the
/// `communications_ai_replies` partial index.
async fn ai(state: &AppState, account: AccountId) -> sqlx::Result<Vec<IntegrationHealth>> {
    let provider = state.ai.provider_name();
    let rules = state.ai.config().provider == crate::ai::ProviderKind::Rules;
    let row: AiRow = sqlx::query_as(
        "with replies as (
            select \"timestamp\" as at, metadata->'ai'->>'provider' as provider,
                   metadata->'ai'->>'fallback_reason' as reason
            from communications
            where account_id = $1 and ai_generated and jsonb_typeof(metadata->'ai') = 'object'
         ),
         ok as (select max(at) as at from replies where provider = $2 and reason is null),
         bad as (select at, reason from replies where reason like $3 order by at desc limit 1)
         select (select at from ok) as last_success_at,
                (select at from bad) as last_error_at,
                (select reason from bad) as last_error,
                (select count(*) from replies
                  where reason like $3 and at > coalesce((select at from ok), '-infinity')) as fallbacks_since_last_success,
                (select count(*) from replies where at > now() - interval '24 hours') as replies_24h,
                (select count(*) from replies
                  where reason like $3 and at > now() - interval '24 hours') as fallbacks_24h,
                (select max(at) from replies) as last_reply_at",
    )
    .bind(account)
    .bind(provider)
    .bind(format!("{provider}: %"))
    .fetch_one(&state.pool)
    .await?;
    let (status, reason) = ai_status(rules, row.fallbacks_since_last_success);
    let model = state.ai.config().model.clone();
    Ok(vec![IntegrationHealth {
        kind: Kind::Ai,
        name: provider.into(),
        configured: true,
        status,
        reason,
        last_success_at: row.last_success_at,
        last_error: row.last_error,
        last_error_at: row.last_error_at,
        details: Details::Ai(AiDetails {
            provider: provider.into(),
            model: (!model.is_empty()).then_some(model),
            replies_24h: row.replies_24h,
            fallbacks_24h: row.fallbacks_24h,
            fallbacks_since_last_success: row.fallbacks_since_last_success,
            last_reply_at: row.last_reply_at,
        }),
    }])
}

// ---------------------------------------------------------------------------
// Chat sites

/// Chat site status:
/// * `error` — the site allows no origin, so browsers refuse the widget on every page;
/// * `healthy` — otherwise (a quiet site is not a broken one; failed AI answers show
///   on the `ai` entry).
pub fn chat_site_status(allowed_origins: &[String]) -> (Status, Option<String>) {
    if allowed_origins.is_empty() {
        (
            Status::Error,
            Some("no allowed origins: the widget is refused on every page".into()),
        )
    } else {
        (Status::Healthy, None)
    }
}

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: i64,
    name: String,
    allowed_origins: Vec<String>,
    sessions_24h: i64,
    last_session_at: Option<DateTime<Utc>>,
    last_activity_at: Option<DateTime<Utc>>,
}

/// Every site of the account with its recent sessions (one query).
async fn chat_sites(pool: &PgPool, account: AccountId) -> sqlx::Result<Vec<IntegrationHealth>> {
    let rows: Vec<SiteRow> = sqlx::query_as(
        "with c as (
            select site_id,
                   count(*) filter (where started_at > now() - interval '24 hours') as sessions_24h,
                   max(started_at) as last_session_at,
                   greatest(max(started_at), max(last_message_at)) as last_activity_at
            from chat_sessions where account_id = $1 and site_id is not null group by site_id
         )
         select s.id, s.name, s.allowed_origins, coalesce(c.sessions_24h, 0) as sessions_24h,
                c.last_session_at, c.last_activity_at
         from sites s left join c on c.site_id = s.id
         where s.account_id = $1 order by s.id",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(vec![IntegrationHealth::not_configured(
            Kind::ChatSite,
            "Website chat",
        )]);
    }
    Ok(rows
        .into_iter()
        .map(|s| {
            let (status, reason) = chat_site_status(&s.allowed_origins);
            IntegrationHealth {
                kind: Kind::ChatSite,
                name: s.name,
                configured: true,
                status,
                reason,
                last_success_at: s.last_activity_at,
                last_error: None,
                last_error_at: None,
                details: Details::ChatSite(ChatSiteDetails {
                    site_id: s.id,
                    allowed_origins: s.allowed_origins,
                    sessions_24h: s.sessions_24h,
                    last_session_at: s.last_session_at,
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn cron_periods_follow_the_finest_field_that_moves() {
        let p = |e| cron_period(e).map(|d| d.as_secs());
        assert_eq!(p("0 * * * * *"), Some(60));
        assert_eq!(p("0 */5 * * * *"), Some(300));
        assert_eq!(p("*/30 * * * * *"), Some(30));
        assert_eq!(p("0 0,30 * * * *"), Some(1800));
        assert_eq!(p("0 0 */2 * * *"), Some(7200));
        assert_eq!(p("0 0 6 * * *"), Some(86_400));
        assert_eq!(p("0 0 6 * * Mon"), Some(7 * 86_400));
        assert_eq!(p("*/10 * * * *"), Some(600));
        assert_eq!(p("not a cron"), None);
    }

    fn facts(failures: i32, failed: bool, lag: Option<f64>) -> SyncFacts {
        SyncFacts {
            consecutive_failures: failures,
            last_failed: failed,
            lag_seconds: lag,
            age_seconds: 86_400.0,
        }
    }

    #[test]
    fn a_mailbox_is_healthy_while_it_syncs_on_time() {
        assert_eq!(
            mailbox_status(&facts(0, false, Some(30.0)), MINUTE).0,
            Status::Healthy
        );
        // A fresh mailbox waits for its first sync.
        let fresh = SyncFacts {
            age_seconds: 20.0,
            ..facts(0, false, None)
        };
        assert_eq!(mailbox_status(&fresh, MINUTE).0, Status::Healthy);
    }

    #[test]
    fn a_mailbox_is_degraded_after_one_failure_or_when_late() {
        assert_eq!(
            mailbox_status(&facts(1, true, Some(120.0)), MINUTE).0,
            Status::Degraded
        );
        // Late: more than 3 intervals, with a floor of 5 minutes.
        assert_eq!(
            mailbox_status(&facts(0, false, Some(240.0)), MINUTE).0,
            Status::Healthy
        );
        assert_eq!(
            mailbox_status(&facts(0, false, Some(400.0)), MINUTE).0,
            Status::Degraded
        );
        let hourly = Duration::from_secs(3600);
        assert_eq!(
            mailbox_status(&facts(0, false, Some(7000.0)), hourly).0,
            Status::Healthy
        );
        assert_eq!(
            mailbox_status(&facts(0, false, None), MINUTE).0,
            Status::Degraded
        );
    }

    #[test]
    fn a_mailbox_is_in_error_after_three_failures_or_a_failure_after_an_old_success() {
        let (s, why) = mailbox_status(&facts(3, true, Some(60.0)), MINUTE);
        assert_eq!(s, Status::Error);
        assert_eq!(why.as_deref(), Some("3 syncs in a row failed"));
        assert_eq!(
            mailbox_status(&facts(1, true, Some(3700.0)), MINUTE).0,
            Status::Error
        );
        assert_eq!(
            mailbox_status(&facts(1, true, None), MINUTE).0,
            Status::Error
        );
    }

    #[test]
    fn quarantined_items_degrade_a_healthy_integration_and_join_other_reasons() {
        assert_eq!(
            with_quarantine((Status::Healthy, None), 0),
            (Status::Healthy, None)
        );
        let (s, r) = with_quarantine((Status::Healthy, None), 2);
        assert_eq!(s, Status::Degraded);
        assert!(r
            .unwrap()
            .starts_with("2 received messages could not be stored"));
        let (s, r) = with_quarantine((Status::Error, Some("3 syncs in a row failed".into())), 1);
        assert_eq!(s, Status::Error);
        assert_eq!(
            r.unwrap(),
            "3 syncs in a row failed; 1 received message could not be stored (see the quarantine)"
        );
    }

    fn sms_facts() -> SmsFacts {
        SmsFacts {
            numbers: 1,
            last_success_at: None,
            last_error_at: None,
            error_in_24h: false,
            failed_sends_24h: 0,
            failed_deliveries_24h: 0,
        }
    }

    #[test]
    fn sms_status_follows_the_latest_outcome_and_the_last_day() {
        assert_eq!(sms_status(&sms_facts()).0, Status::Healthy);
        let now = Utc::now();
        let refused = SmsFacts {
            last_error_at: Some(now),
            error_in_24h: true,
            last_success_at: Some(now - chrono::Duration::hours(1)),
            ..sms_facts()
        };
        assert_eq!(sms_status(&refused).0, Status::Error);
        let recovered = SmsFacts {
            last_success_at: Some(now + chrono::Duration::seconds(5)),
            ..refused
        };
        assert_eq!(sms_status(&recovered).0, Status::Degraded);
        let failed_send = SmsFacts {
            failed_sends_24h: 2,
            ..sms_facts()
        };
        assert_eq!(sms_status(&failed_send).0, Status::Degraded);
        let no_numbers = SmsFacts {
            numbers: 0,
            ..sms_facts()
        };
        assert_eq!(sms_status(&no_numbers).0, Status::Error);
    }

    #[test]
    fn ai_status_counts_fallbacks_since_the_provider_last_answered() {
        assert_eq!(ai_status(true, 5).0, Status::Healthy);
        assert_eq!(ai_status(false, 0).0, Status::Healthy);
        assert_eq!(ai_status(false, 2).0, Status::Degraded);
        assert_eq!(ai_status(false, 3).0, Status::Error);
    }

    #[test]
    fn overall_is_the_worst_configured_status() {
        let entry = |status| IntegrationHealth {
            status,
            ..IntegrationHealth::not_configured(Kind::Sms, "x")
        };
        assert_eq!(overall(&[entry(Status::NotConfigured)]), Status::Healthy);
        assert_eq!(
            overall(&[
                entry(Status::Healthy),
                entry(Status::Degraded),
                entry(Status::NotConfigured)
            ]),
            Status::Degraded
        );
        assert_eq!(
            overall(&[entry(Status::Error), entry(Status::Degraded)]),
            Status::Error
        );
    }
}
