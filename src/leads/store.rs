//! The tracker's bridge to PostgreSQL: loads a lead's facts and touches, and keeps the
//! score, band, breakdown and insights stored on the lead current.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::LeadProfile;
use crate::domain::{AccountId, Channel, Direction, LeadStatus, SentimentLabel};
use crate::error::{ApiError, Result};
use crate::hours::Zone;
use crate::tracker::aggregate::Aggregate;
use crate::tracker::model::{LeadFacts, Touch};

/// Touches the stored (list-view) insights are computed from: the most recent ones (the
/// lead score itself only looks at these, see `tracker::SCORE_WINDOW`). The profile and
/// summary endpoints compute everything else over the whole history.
pub const REFRESH_WINDOW: i64 = crate::tracker::SCORE_WINDOW as i64;

/// `FactsRow`'s columns, from `leads l` joined with `accounts a`.
const FACTS_COLUMNS: &str =
    "l.name, l.email, l.phone, l.property_address, l.roof_age_years, l.issues, \
     l.timeline, l.budget, l.status, a.timezone";

#[derive(sqlx::FromRow)]
struct FactsRow {
    #[sqlx(flatten)]
    profile: LeadProfile,
    status: String,
    timezone: String,
}

/// The lead's facts and its account's time zone; "not found" for another account's lead.
pub async fn load_facts(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
) -> Result<(LeadFacts, Zone)> {
    let row: FactsRow = sqlx::query_as(&format!(
        "select {FACTS_COLUMNS}
         from leads l join accounts a on a.id = l.account_id
         where l.id = $1 and l.account_id = $2"
    ))
    .bind(lead_id)
    .bind(account)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ApiError::NotFound("lead"))?;
    let zone = Zone::parse(&row.timezone).unwrap_or_default();
    Ok((facts_of(row), zone))
}

/// A lead's `lead_aggregates` row as read (see `crate::leads::aggregates`).
#[derive(Debug, Clone)]
pub struct StoredAggregate {
    /// Bumped by every write of the row: a write-back only lands on the version it read.
    pub version: i64,
    /// `accounts.timezone` the local hours were counted in.
    pub zone: String,
    /// The folded history with its scores; `None`: forgotten, to be rebuilt.
    pub aggregate: Option<Aggregate>,
}

#[derive(sqlx::FromRow)]
struct FactsAggregateRow {
    #[sqlx(flatten)]
    facts: FactsRow,
    agg_version: Option<i64>,
    agg_zone: Option<String>,
    agg_state: Option<sqlx::types::Json<Aggregate>>,
    agg_scores: Option<Vec<f32>>,
}

/// [`load_facts`], with the account's time zone as written and the lead's stored aggregate
/// row, if it has one.
pub async fn load_facts_and_aggregate(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
) -> Result<(LeadFacts, Zone, String, Option<StoredAggregate>)> {
    let row: FactsAggregateRow = sqlx::query_as(&format!(
        "select {FACTS_COLUMNS}, g.version as agg_version, g.zone as agg_zone, g.state as agg_state,
                g.scores as agg_scores
         from leads l join accounts a on a.id = l.account_id
         left join lead_aggregates g on g.lead_id = l.id
         where l.id = $1 and l.account_id = $2"
    ))
    .bind(lead_id)
    .bind(account)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ApiError::NotFound("lead"))?;
    let timezone = row.facts.timezone.clone();
    let zone = Zone::parse(&timezone).unwrap_or_default();
    let stored = row.agg_version.map(|version| StoredAggregate {
        version,
        zone: row.agg_zone.unwrap_or_default(),
        aggregate: row.agg_state.map(|state| Aggregate {
            scores: row.agg_scores.unwrap_or_default(),
            ..state.0
        }),
    });
    Ok((facts_of(row.facts), zone, timezone, stored))
}

/// One touch as the profile query returns it: the enumerations packed into one small
/// integer so a 10,000-touch history decodes without a string allocation per field.
type PackedTouch = (i64, DateTime<Utc>, i16, Option<f32>, Option<i32>);

/// SQL packing a touch's enumerations into one small integer (decoded by `unpack`).
/// Bits 0–2: the channel (its index in `Channel::ALL`); 3: outbound; 4–5: sentiment; 6: AI.
const PACKED_CODE: &str = "((case type when 'email' then 0 when 'sms' then 1 when 'phone_call' then 2 when 'chat' then 3 else 4 end)
     + (case when direction = 'outbound' then 8 else 0 end)
     + (case sentiment when 'positive' then 16 when 'neutral' then 32 when 'negative' then 48 else 0 end)
     + (case when ai_generated then 64 else 0 end))::int2";

/// The lead's whole history in time order (profile and summary endpoints).
pub async fn load_touches(conn: &mut PgConnection, lead_id: i64) -> Result<Vec<Touch>> {
    let rows: Vec<PackedTouch> = sqlx::query_as(&format!(
        "select id, \"timestamp\", {PACKED_CODE}, sentiment_score, duration
             from communications where lead_id = $1 order by \"timestamp\", id"
    ))
    .bind(lead_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(unpack_all(rows))
}

/// The lead's touches after `(timestamp, id)` `after`, together with its `window` most
/// recent ones, in time order: what a stored aggregate lacks, and the score's window.
pub async fn load_touches_after(
    conn: &mut PgConnection,
    lead_id: i64,
    after: (DateTime<Utc>, i64),
    window: i64,
) -> Result<Vec<Touch>> {
    let rows: Vec<PackedTouch> = sqlx::query_as(&format!(
        "select id, \"timestamp\", code, sentiment_score, duration from (
             (select id, \"timestamp\", {PACKED_CODE} as code, sentiment_score, duration
              from communications where lead_id = $1 and (\"timestamp\", id) > ($2, $3))
             union
             (select id, \"timestamp\", {PACKED_CODE}, sentiment_score, duration
              from communications where lead_id = $1 order by \"timestamp\" desc, id desc limit $4)
         ) t order by \"timestamp\", id"
    ))
    .bind(lead_id)
    .bind(after.0)
    .bind(after.1)
    .bind(window)
    .fetch_all(&mut *conn)
    .await?;
    Ok(unpack_all(rows))
}

fn unpack_all(rows: Vec<PackedTouch>) -> Vec<Touch> {
    rows.into_iter()
        .map(|(id, timestamp, code, sentiment_score, duration)| {
            unpack(id, timestamp, code, sentiment_score, duration)
        })
        .collect()
}

fn unpack(
    id: i64,
    timestamp: DateTime<Utc>,
    code: i16,
    sentiment_score: Option<f32>,
    duration_seconds: Option<i32>,
) -> Touch {
    Touch {
        id,
        timestamp,
        channel: Channel::ALL[((code & 7) as usize).min(Channel::ALL.len() - 1)],
        direction: if code & 8 != 0 {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        sentiment: match (code >> 4) & 3 {
            1 => Some(SentimentLabel::Positive),
            2 => Some(SentimentLabel::Neutral),
            3 => Some(SentimentLabel::Negative),
            _ => None,
        },
        sentiment_score,
        ai_generated: code & 64 != 0,
        duration_seconds,
    }
}

#[derive(sqlx::FromRow)]
struct LeadTouchRow {
    /// Which key of the batch (1-based).
    ord: i64,
    lead_id: i64,
    #[sqlx(flatten)]
    facts: FactsRow,
    id: Option<i64>,
    timestamp: Option<DateTime<Utc>>,
    code: Option<i16>,
    sentiment_score: Option<f32>,
    duration: Option<i32>,
}

/// Which lead: by id, or by normalized email / E.164 phone (email wins when both match).
#[derive(Debug, Clone, Copy)]
pub enum LeadKey<'a> {
    Id(i64),
    Contact {
        email: Option<&'a str>,
        phone: Option<&'a str>,
    },
}

/// What the recording path reads before it writes: the lead, its facts, the account's
/// UTC offset and its most recent touches (chronological).
#[derive(Debug, Clone)]
pub struct LeadSnapshot {
    pub lead_id: i64,
    pub facts: LeadFacts,
    pub zone: Zone,
    pub touches: Vec<Touch>,
}

/// The snapshot query for a batch of keys (`$1..$4` arrays: account, id, email, phone),
/// built once. Rows come grouped by key, each key's touches newest first.
static SNAPSHOTS_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "select k.ord, l.id as lead_id, {FACTS_COLUMNS}, c.id, c.\"timestamp\", c.code, c.sentiment_score, c.duration
         from unnest($1::int8[], $2::int8[], $3::text[], $4::text[]) with ordinality
              as k(account_id, id, email, phone, ord)
         cross join lateral (
             select * from leads
             where account_id = k.account_id and (id = k.id or email = k.email or phone = k.phone)
             order by (email is not distinct from k.email) desc, id limit 1) l
         join accounts a on a.id = l.account_id
         left join lateral (
             select id, \"timestamp\", sentiment_score, duration, ({PACKED_CODE}) as code
             from communications where lead_id = l.id
             order by \"timestamp\" desc, id desc limit $5) c on true
         order by k.ord, c.\"timestamp\" desc, c.id desc"
    )
});

/// One lead's snapshot with its `limit` most recent touches; `None` when no lead of the
/// account matches.
pub async fn snapshot<'c, E>(
    exec: E,
    account: AccountId,
    key: LeadKey<'_>,
    limit: i64,
) -> Result<Option<LeadSnapshot>>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    Ok(snapshots(exec, &[(account, key)], limit)
        .await?
        .pop()
        .flatten())
}

/// The snapshots of several leads in one round trip, in the order of `keys` (`None` where
/// no lead of that account matches). The recording path's writer reads a whole batch so.
pub async fn snapshots<'c, E>(
    exec: E,
    keys: &[(AccountId, LeadKey<'_>)],
    limit: i64,
) -> std::result::Result<Vec<Option<LeadSnapshot>>, sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let mut accounts = Vec::with_capacity(keys.len());
    let mut ids = Vec::with_capacity(keys.len());
    let mut emails = Vec::with_capacity(keys.len());
    let mut phones = Vec::with_capacity(keys.len());
    for (account, key) in keys {
        accounts.push(*account);
        let (id, email, phone) = match *key {
            LeadKey::Id(id) => (Some(id), None, None),
            LeadKey::Contact { email, phone } => (None, email, phone),
        };
        ids.push(id);
        emails.push(email);
        phones.push(phone);
    }
    let rows: Vec<LeadTouchRow> = sqlx::query_as(SNAPSHOTS_SQL.as_str())
        .bind(&accounts)
        .bind(&ids)
        .bind(&emails)
        .bind(&phones)
        .bind(limit)
        .fetch_all(exec)
        .await?;
    let mut out: Vec<Option<LeadSnapshot>> = vec![None; keys.len()];
    for row in rows {
        let Some(slot) = usize::try_from(row.ord - 1)
            .ok()
            .and_then(|i| out.get_mut(i))
        else {
            continue;
        };
        let snap = slot.get_or_insert_with(|| LeadSnapshot {
            lead_id: row.lead_id,
            zone: Zone::parse(&row.facts.timezone).unwrap_or_default(),
            facts: facts_of(row.facts),
            touches: Vec::new(),
        });
        if let (Some(id), Some(timestamp), Some(code)) = (row.id, row.timestamp, row.code) {
            snap.touches.push(unpack(
                id,
                timestamp,
                code,
                row.sentiment_score,
                row.duration,
            ));
        }
    }
    for snap in out.iter_mut().flatten() {
        snap.touches.reverse();
    }
    Ok(out)
}

fn facts_of(row: FactsRow) -> LeadFacts {
    LeadFacts {
        status: LeadStatus::parse(&row.status),
        profile: row.profile,
    }
}

/// What is stored on the lead row after a change: score, band, breakdown, list-view
/// insights, and the new pipeline stage when the change moved it.
#[derive(Debug)]
pub struct StoredInsights {
    pub score: i32,
    pub band: &'static str,
    pub breakdown: serde_json::Value,
    pub insights: serde_json::Value,
    pub new_status: Option<&'static str>,
}

/// Computes what is stored on the lead. An outbound `touch` moves a `new` lead to `contacted`.
pub fn compute(
    facts: &mut LeadFacts,
    touches: &[Touch],
    tz: Zone,
    now: DateTime<Utc>,
    outbound_touch: bool,
) -> StoredInsights {
    let mut new_status = None;
    if outbound_touch && matches!(facts.status, None | Some(LeadStatus::New)) {
        facts.status = Some(LeadStatus::Contacted);
        new_status = Some("contacted");
    }
    let ins = crate::tracker::analyze(facts, touches, tz, now);
    StoredInsights {
        score: ins.score.score,
        band: band_str(ins.score.band),
        breakdown: serde_json::to_value(&ins.score.rules).unwrap_or_default(),
        insights: serde_json::to_value(crate::tracker::LeadInsights::of(&ins, now))
            .unwrap_or_default(),
        new_status,
    }
}

/// Recomputes and stores the lead's score, band, breakdown and list-view insights.
/// Called after every lead edit (the recording path does the same in its own write).
pub async fn refresh_lead_in(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
) -> Result<()> {
    let snap = snapshot(&mut *conn, account, LeadKey::Id(lead_id), REFRESH_WINDOW)
        .await?
        .ok_or(ApiError::NotFound("lead"))?;
    let mut facts = snap.facts;
    let s = compute(&mut facts, &snap.touches, snap.zone, Utc::now(), false);
    sqlx::query("update leads set score = $3, score_band = $4, score_breakdown = $5, insights = $6 where id = $1 and account_id = $2")
        .bind(lead_id)
        .bind(account)
        .bind(s.score)
        .bind(s.band)
        .bind(s.breakdown)
        .bind(s.insights)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub fn band_str(b: crate::tracker::scoring::Band) -> &'static str {
    match b {
        crate::tracker::scoring::Band::Hot => "HOT",
        crate::tracker::scoring::Band::Warm => "WARM",
        crate::tracker::scoring::Band::Cold => "COLD",
    }
}

/// `refresh_lead_in` on its own connection, for changes made outside the recording path.
pub async fn refresh_lead(pool: &sqlx::PgPool, account: AccountId, lead_id: i64) -> Result<()> {
    let mut conn = pool.acquire().await?;
    refresh_lead_in(&mut conn, account, lead_id).await
}

#[cfg(test)]
mod tests {}
