//! Account-wide statistics over the `communications` table, aggregated in SQL.
//!
//! Definitions match the per-lead summary: an outbound touch is *answered* when the
//! lead's next touch is inbound; *speed to lead* is the time from the first inbound
//! touch of a run to our first outbound after it. Pairs are made over the lead's whole
//! history and counted in the window of the touch they belong to (the outbound that was
//! answered, the inbound that was answered), so a window never cuts a pair in two.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthAccount;
use crate::domain::{AccountId, Channel};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::hours::Zone;
use crate::state::AppState;

/// The longest window `from`..`to` may span (without `from`: all the account's data).
pub const MAX_WINDOW_DAYS: i64 = 731;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// RFC 3339 start (inclusive); default: everything. At most 731 days before `to`.
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339 end (exclusive); default: now and later.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ChannelStats {
    pub inbound: i64,
    pub outbound: i64,
    /// Share of outbound touches the lead answered; null without outbound.
    pub response_rate: Option<f64>,
    /// Mean minutes from a lead's first unanswered inbound touch to our reply.
    pub speed_to_lead_minutes: Option<f64>,
}

/// The leads that first came from one source, created in the window.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct SourceStats {
    /// `chat`, `web_form`, `google_ads`, `facebook`, a marketplace, `import`, `manual`,
    /// or the channel of the lead's first message; `unknown` for leads from before sources.
    pub source: String,
    pub leads: i64,
    /// Leads that wrote to us (an inbound touch).
    pub inbound_leads: i64,
    /// Share of those whose first message we answered.
    pub answered_rate: Option<f64>,
    /// Mean minutes from the lead's first message to our first reply.
    pub speed_to_lead_minutes: Option<f64>,
    /// Share of the leads we wrote to that answered one of our messages.
    pub response_rate: Option<f64>,
    pub won: i64,
    /// Share of the leads that were won.
    pub won_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Stats {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub total: i64,
    pub by_type: BTreeMap<String, i64>,
    pub by_direction: BTreeMap<String, i64>,
    /// Per channel: volumes, response rate and speed to lead.
    pub channels: BTreeMap<String, ChannelStats>,
    pub response_rate: Option<f64>,
    pub speed_to_lead_minutes: Option<f64>,
    /// Inbound touches per hour of day in the account's time zone (24 values).
    pub inbound_by_hour: Vec<i64>,
    /// The hours with the most inbound touches, best first (up to 3).
    pub best_contact_hours: Vec<u32>,
    /// Share of outbound touches written by the AI responder.
    pub ai_generated_share: Option<f64>,
    /// Leads per band (HOT, WARM, COLD), over all the account's leads.
    pub leads_by_band: BTreeMap<String, i64>,
    pub average_score: Option<f64>,
    /// Leads created in the window, per first source: speed to lead, response and won rates.
    pub by_source: Vec<SourceStats>,
}

type ChannelRow = (String, i64, i64, i64, Option<f64>, i64, i64);

/// What the stats sum, per channel: inbound, outbound, answered outbound, seconds to our
/// reply (sum) and replies, AI-written outbound.
type Sums = (i64, i64, i64, f64, i64, i64);

/// Sums over a time range, from the day cache and live rows together.
#[derive(Debug)]
struct Totals {
    per_type: BTreeMap<String, Sums>,
    /// Instants (Unix seconds) where the account zone's UTC offset changes: inbound
    /// touches are counted per UTC quarter hour within each period between them.
    bounds: Vec<i64>,
    /// Per period (`bounds.len() + 1`), inbound touches per UTC quarter hour (96).
    quarters: Vec<Vec<i64>>,
}

impl Totals {
    fn add(&mut self, kind: String, s: Sums) {
        let t = self.per_type.entry(kind).or_default();
        t.0 += s.0;
        t.1 += s.1;
        t.2 += s.2;
        t.3 += s.3;
        t.4 += s.4;
        t.5 += s.5;
    }

    /// Adds what two queries read over one range `($2, $3)` of the account `$1`: the
    /// sums per type (`type` and the six `Sums`) and the inbound touches per quarter hour
    /// and offset period (`width_bucket` over `$4`, the bounds).
    async fn absorb<B>(
        &mut self,
        pool: &sqlx::PgPool,
        sums: &str,
        quarters: &str,
        account: AccountId,
        (lo, hi): (B, B),
    ) -> Result<()>
    where
        B: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Copy,
    {
        let rows: Vec<(String, i64, i64, i64, f64, i64, i64)> = sqlx::query_as(sums)
            .bind(account)
            .bind(lo)
            .bind(hi)
            .fetch_all(pool)
            .await?;
        for (k, a, b, c, d, e, f) in rows {
            self.add(k, (a, b, c, d, e, f));
        }
        let per_quarter: Vec<(i32, i32, i64)> = sqlx::query_as(quarters)
            .bind(account)
            .bind(lo)
            .bind(hi)
            .bind(&self.bounds)
            .fetch_all(pool)
            .await?;
        for (q, period, n) in per_quarter {
            self.add_quarter(q, period, n);
        }
        Ok(())
    }

    fn add_quarter(&mut self, q: i32, period: i32, n: i64) {
        if let Some(slot) = usize::try_from(period)
            .ok()
            .and_then(|p| self.quarters.get_mut(p))
            .and_then(|p| usize::try_from(q).ok().and_then(|q| p.get_mut(q)))
        {
            *slot += n;
        }
    }

    fn channel_rows(&self) -> Vec<ChannelRow> {
        self.per_type
            .iter()
            .map(|(k, s)| {
                let speed = (s.4 > 0).then(|| s.3 / s.4 as f64 / 60.0);
                (k.clone(), s.0, s.1, s.2, speed, s.4, s.5)
            })
            .collect()
    }

    /// Inbound touches per local hour in `zone`: each period's quarters shifted by the
    /// offset of that period (offsets are whole quarter hours, so quarters map onto local
    /// hours exactly, daylight saving time included).
    fn hours(&self, zone: &Zone) -> Vec<(i32, i64)> {
        let mut hours = [0i64; 24];
        for (p, quarters) in self.quarters.iter().enumerate() {
            // A second inside period p: before the first bound, or at the bound it starts at.
            let at = match p {
                0 => self.bounds.first().map_or(0, |b| b - 1),
                _ => self.bounds[p - 1],
            };
            let offset = zone.offset_minutes(DateTime::from_timestamp(at, 0).unwrap_or_default());
            for (q, n) in quarters.iter().enumerate() {
                let local = (q as i32 * 15 + offset).rem_euclid(24 * 60);
                hours[(local / 60) as usize] += n;
            }
        }
        (0..24).map(|h| (h, hours[h as usize])).collect()
    }
}

/// The per-channel sums of a set of touches, by the response facts the triggers keep on
/// each row (migration 20261122000050_response_facts): inbound, outbound, answered
/// outbound, seconds to our reply and replies, AI-written outbound.
const SUMS: &str = "count(*) filter (where direction = 'inbound'),
    count(*) filter (where direction = 'outbound'),
    count(*) filter (where direction = 'outbound' and answered),
    coalesce(sum(extract(epoch from reply_at - \"timestamp\")) filter (where run_start and reply_at is not null), 0)::float8,
    count(*) filter (where run_start and reply_at is not null),
    count(*) filter (where ai_generated and direction = 'outbound')";

/// A touch's UTC quarter hour of the day (0–95).
const QUARTER: &str = "(extract(epoch from \"timestamp\")::bigint % 86400 / 900)";

/// Touches in [$2, $3) (bounds optional).
const LIVE_RANGE: &str = "account_id = $1 and ($2::timestamptz is null or \"timestamp\" >= $2)
    and ($3::timestamptz is null or \"timestamp\" < $3)";

async fn add_live(
    pool: &sqlx::PgPool,
    t: &mut Totals,
    account: AccountId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<()> {
    let sums = format!("select type, {SUMS} from communications where {LIVE_RANGE} group by type");
    let quarters = format!(
        "select {QUARTER}::int, width_bucket(extract(epoch from \"timestamp\")::bigint, $4::int8[]), count(*)
         from communications where {LIVE_RANGE} and direction = 'inbound' group by 1, 2"
    );
    t.absorb(pool, &sums, &quarters, account, (from, to)).await
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(NaiveTime::MIN).and_utc()
}

/// Sums of [from, to): whole past UTC days from the day cache (filled on first use, under
/// the account's stats lock), the partial days at the edges and today from live rows.
async fn totals(
    pool: &sqlx::PgPool,
    account: AccountId,
    zone: &Zone,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Totals> {
    // Offset changes over the window (at most the cache's two years back: older history
    // is read with the offset its oldest period had).
    let end = to.unwrap_or_else(Utc::now) + chrono::Duration::days(1);
    let start = end - chrono::Duration::days(MAX_WINDOW_DAYS + 2);
    let bounds: Vec<i64> = zone
        .changes(start, end)
        .iter()
        .map(|c| c.timestamp())
        .collect();
    let mut t = Totals {
        per_type: BTreeMap::new(),
        quarters: vec![vec![0; 96]; bounds.len() + 1],
        bounds,
    };
    let today = Utc::now().date_naive();
    // The cache never reaches before the account's first touch, whatever `from` says.
    let first = sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "select min(\"timestamp\") from communications where account_id = $1",
    )
    .bind(account)
    .fetch_one(pool)
    .await?
    .map(|m| m.date_naive());
    let lo = match from {
        Some(f) if f == day_start(f.date_naive()) => Some(f.date_naive()),
        Some(f) => f.date_naive().succ_opt(),
        None => first,
    }
    .zip(first)
    .map(|(lo, first)| lo.max(first));
    let hi = to.map_or(today, |t| t.date_naive().min(today));
    // Nor more than a window's length back: without `from` (all time), older history is
    // summed live, so one odd old timestamp never fills the cache with empty days.
    let floor = hi - chrono::Days::new(MAX_WINDOW_DAYS as u64);
    let lo = lo.map(|lo| lo.max(floor));
    let (Some(lo), true) = (lo, lo.is_some_and(|lo| lo < hi)) else {
        add_live(pool, &mut t, account, from, to).await?;
        return Ok(t);
    };
    fill_days(pool, account, lo, hi).await?;
    t.absorb(
        pool,
        "select type, sum(inbound)::int8, sum(outbound)::int8, sum(answered)::int8, sum(reply_secs)::float8,
                sum(replies)::int8, sum(ai_outbound)::int8
         from stats_days where account_id = $1 and day >= $2 and day < $3 group by type",
        "select quarter::int, width_bucket(extract(epoch from day::timestamp)::bigint + quarter * 900, $4::int8[]),
                sum(inbound)::int8
         from stats_day_quarters where account_id = $1 and day >= $2 and day < $3 group by 1, 2",
        account,
        (lo, hi),
    )
    .await?;
    if from.is_some_and(|f| f < day_start(lo)) || (from.is_none() && first.is_some_and(|f| f < lo))
    {
        add_live(pool, &mut t, account, from, Some(day_start(lo))).await?;
    }
    add_live(pool, &mut t, account, Some(day_start(hi)), to).await?;
    Ok(t)
}

/// Computes the days of [lo, hi) not yet cached, in one pass over their touches.
async fn fill_days(
    pool: &sqlx::PgPool,
    account: AccountId,
    lo: NaiveDate,
    hi: NaiveDate,
) -> Result<()> {
    let missing: Vec<NaiveDate> = sqlx::query_scalar(
        "select d::date from generate_series($2::date, $3::date - 1, interval '1 day') d
         where not exists (select 1 from stats_days_done where account_id = $1 and day = d::date)",
    )
    .bind(account)
    .bind(lo)
    .bind(hi)
    .fetch_all(pool)
    .await?;
    let (Some(first), Some(last)) = (missing.first(), missing.last()) else {
        return Ok(());
    };
    let mut tx = crate::db::begin(pool).await?;
    // Writers that change a past day hold this lock shared until they commit: the counts
    // below see every write that forgot one of these days, or the write forgets them after.
    sqlx::query("select pg_advisory_xact_lock(7011, $1::integer)")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    let missing: Vec<NaiveDate> = sqlx::query_scalar(
        "select d from unnest($2::date[]) d
         where not exists (select 1 from stats_days_done where account_id = $1 and day = d)",
    )
    .bind(account)
    .bind(&missing)
    .fetch_all(&mut *tx)
    .await?;
    if missing.is_empty() {
        return Ok(());
    }
    let range = (day_start(*first), day_start(*last + chrono::Days::new(1)));
    for table in ["stats_days", "stats_day_quarters"] {
        sqlx::query(&format!(
            "delete from {table} where account_id = $1 and day = any($2::date[])"
        ))
        .bind(account)
        .bind(&missing)
        .execute(&mut *tx)
        .await?;
    }
    // $2: the days, $3..$4: the range they span (so the index narrows the scan).
    let days = "account_id = $1 and \"timestamp\" >= $3 and \"timestamp\" < $4
           and (\"timestamp\" at time zone 'UTC')::date = any($2::date[])";
    sqlx::query(&format!(
        "insert into stats_days (account_id, day, type, inbound, outbound, answered, reply_secs, replies, ai_outbound)
         select $1, (\"timestamp\" at time zone 'UTC')::date, type, {SUMS}
         from communications where {days} group by 2, 3"
    ))
    .bind(account)
    .bind(&missing)
    .bind(range.0)
    .bind(range.1)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "insert into stats_day_quarters (account_id, day, quarter, inbound)
         select $1, (\"timestamp\" at time zone 'UTC')::date, {QUARTER}::int2, count(*)
         from communications where {days} and direction = 'inbound' group by 2, 3"
    ))
    .bind(account)
    .bind(&missing)
    .bind(range.0)
    .bind(range.1)
    .execute(&mut *tx)
    .await?;
    sqlx::query("insert into stats_days_done (account_id, day) select $1, unnest($2::date[]) on conflict do nothing")
        .bind(account)
        .bind(&missing)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Totals, response rate and speed to lead per channel, best contact hours, AI share, bands.
#[utoipa::path(get, path = "/api/communications/stats", tag = "tracker", params(StatsParams),
    responses((status = 200, body = Stats), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(crate) async fn stats(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<StatsParams>,
) -> Result<Json<Stats>> {
    Ok(Json(of_account(&state.pool, account, &p).await?))
}

/// The account's stats over the window (the API's and the dashboard's one path).
pub async fn of_account(pool: &sqlx::PgPool, account: AccountId, p: &StatsParams) -> Result<Stats> {
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if f >= t {
            return Err(ApiError::invalid("from must be before to"));
        }
    }
    if let Some(f) = p.from {
        let end = p.to.unwrap_or_else(Utc::now);
        if end - f > chrono::Duration::days(MAX_WINDOW_DAYS) {
            return Err(ApiError::invalid(format!(
                "from: the window from from to to (or now) is at most {MAX_WINDOW_DAYS} days (2 years)"
            )));
        }
    }
    let zone = crate::hours::store::zone_of(pool, account).await?;
    let bands = sqlx::query_as::<_, (String, i64, Option<f64>)>(
        "select score_band, count(*), avg(score)::float8 from leads where account_id = $1 group by score_band",
    )
    .bind(account)
    .fetch_all(pool);
    let (totals, bands, by_source) = tokio::try_join!(
        totals(pool, account, &zone, p.from, p.to),
        async { Ok(bands.await?) },
        by_source(pool, account, p.from, p.to)
    )?;
    let per_channel = totals.channel_rows();
    let hours = totals.hours(&zone);
    let mut stats = assemble(p.from, p.to, per_channel, hours, bands);
    stats.by_source = by_source;
    Ok(stats)
}

/// Source, leads, leads that wrote, whose first message we answered, mean seconds to that
/// answer, leads we wrote to, that answered us, won.
type SourceRow = (String, i64, i64, i64, Option<f64>, i64, i64, i64);

/// Per first source, the leads created in [from, to): each lead's first message and our
/// first reply to it (the response facts on its first inbound touch), whether it ever
/// answered us, and whether it was won.
async fn by_source(
    pool: &sqlx::PgPool,
    account: AccountId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<Vec<SourceStats>> {
    let rows: Vec<SourceRow> = sqlx::query_as(
        "select coalesce(l.source, 'unknown'), count(*),
                count(f.at), count(f.reply_at),
                avg(extract(epoch from f.reply_at - f.at)) filter (where f.reply_at is not null)::float8,
                count(*) filter (where o.wrote), count(*) filter (where o.answered),
                count(*) filter (where l.status = 'won')
         from leads l
         left join lateral (
             select c.\"timestamp\" as at, c.reply_at from communications c
             where c.lead_id = l.id and c.direction = 'inbound'
             order by c.\"timestamp\", c.id limit 1) f on true
         left join lateral (
             select exists (select 1 from communications c
                            where c.lead_id = l.id and c.direction = 'outbound') as wrote,
                    exists (select 1 from communications c
                            where c.lead_id = l.id and c.direction = 'outbound' and c.answered) as answered) o on true
         where l.account_id = $1 and ($2::timestamptz is null or l.created_at >= $2)
           and ($3::timestamptz is null or l.created_at < $3)
         group by 1 order by 2 desc, 1",
    )
    .bind(account)
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(source, leads, inbound_leads, answered, speed_secs, wrote, replied, won)| {
                SourceStats {
                    source,
                    leads,
                    inbound_leads,
                    answered_rate: ratio(answered, inbound_leads),
                    speed_to_lead_minutes: speed_secs.map(|s| (s / 60.0 * 100.0).round() / 100.0),
                    response_rate: ratio(replied, wrote),
                    won,
                    won_rate: ratio(won, leads),
                }
            },
        )
        .collect())
}

fn ratio(n: i64, d: i64) -> Option<f64> {
    (d > 0).then(|| ((n as f64 / d as f64) * 1000.0).round() / 1000.0)
}

fn assemble(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    per_channel: Vec<ChannelRow>,
    hours: Vec<(i32, i64)>,
    bands: Vec<(String, i64, Option<f64>)>,
) -> Stats {
    let mut channels: BTreeMap<String, ChannelStats> = Channel::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), ChannelStats::default()))
        .collect();
    let (mut inbound, mut outbound, mut answered, mut ai) = (0, 0, 0, 0);
    let (mut speed_sum, mut speed_n) = (0.0, 0);
    for (kind, i, o, a, speed, speed_count, ai_n) in per_channel {
        inbound += i;
        outbound += o;
        answered += a;
        ai += ai_n;
        if let Some(s) = speed {
            speed_sum += s * speed_count as f64;
            speed_n += speed_count;
        }
        channels.insert(
            kind,
            ChannelStats {
                inbound: i,
                outbound: o,
                response_rate: ratio(a, o),
                speed_to_lead_minutes: speed.map(|s| (s * 100.0).round() / 100.0),
            },
        );
    }
    let by_type = channels
        .iter()
        .map(|(k, c)| (k.clone(), c.inbound + c.outbound))
        .collect();
    let mut inbound_by_hour = vec![0i64; 24];
    for (h, n) in hours {
        if let Some(slot) = usize::try_from(h)
            .ok()
            .and_then(|h| inbound_by_hour.get_mut(h))
        {
            *slot = n;
        }
    }
    let mut ranked: Vec<u32> = (0..24u32)
        .filter(|h| inbound_by_hour[*h as usize] > 0)
        .collect();
    ranked.sort_by_key(|h| (std::cmp::Reverse(inbound_by_hour[*h as usize]), *h));
    ranked.truncate(3);
    let mut leads_by_band: BTreeMap<String, i64> = ["HOT", "WARM", "COLD"]
        .iter()
        .map(|b| (b.to_string(), 0))
        .collect();
    let (mut score_sum, mut leads) = (0.0, 0);
    for (band, n, avg) in bands {
        score_sum += avg.unwrap_or(0.0) * n as f64;
        leads += n;
        leads_by_band.insert(band, n);
    }
    Stats {
        from,
        to,
        total: inbound + outbound,
        by_type,
        by_direction: BTreeMap::from([
            ("inbound".to_string(), inbound),
            ("outbound".to_string(), outbound),
        ]),
        channels,
        response_rate: ratio(answered, outbound),
        speed_to_lead_minutes: (speed_n > 0)
            .then(|| (speed_sum / speed_n as f64 * 100.0).round() / 100.0),
        inbound_by_hour,
        best_contact_hours: ranked,
        ai_generated_share: ratio(ai, outbound),
        leads_by_band,
        average_score: (leads > 0).then(|| (score_sum / leads as f64 * 10.0).round() / 10.0),
        by_source: vec![],
    }
}
