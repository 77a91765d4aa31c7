//! Account-wide statistics over the `communications` table, aggregated in SQL.
//!
//! Definitions match the per-lead summary: an outbound touch is *answered* when the
//! lead's next touch is inbound; *speed to lead* is the time from the first inbound
//! touch of a run to our first outbound after it. Pairs are made over the lead's whole
//! history and counted in the window of the touch they belong to (the outbound that was
//! answered, the inbound that was answered), so a window never cuts a pair in two.

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::app::AppState;
use crate::auth::AuthAccount;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::tracker::model::Channel;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// RFC 3339 start (inclusive); default: everything.
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
}

type ChannelRow = (String, i64, i64, i64, Option<f64>, i64, i64);

/// Totals, response rate and speed to lead per channel, best contact hours, AI share, bands.
#[utoipa::path(get, path = "/api/communications/stats", tag = "tracker", params(StatsParams),
    responses((status = 200, body = Stats), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub async fn stats(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<StatsParams>,
) -> Result<Json<Stats>> {
    if let (Some(f), Some(t)) = (p.from, p.to) {
        if f >= t {
            return Err(ApiError::invalid("from must be before to"));
        }
    }
    let tz: String = sqlx::query_scalar("select timezone from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    let offset = super::store::utc_offset_minutes(&tz);
    let per_channel = sqlx::query_as::<_, ChannelRow>(
        // The response facts are kept on each row by triggers (migration
        // 20261122000050_response_facts): one scan, no window over the account.
        "select type,
            count(*) filter (where direction = 'inbound'),
            count(*) filter (where direction = 'outbound'),
            count(*) filter (where direction = 'outbound' and answered),
            (avg(extract(epoch from reply_at - \"timestamp\")) filter (where run_start and reply_at is not null) / 60)::float8,
            count(*) filter (where run_start and reply_at is not null),
            count(*) filter (where ai_generated and direction = 'outbound')
         from communications
         where account_id = $1 and ($2::timestamptz is null or \"timestamp\" >= $2)
           and ($3::timestamptz is null or \"timestamp\" < $3)
         group by type",
    )
    .bind(account)
    .bind(p.from)
    .bind(p.to)
    .fetch_all(&state.pool);
    let hours = sqlx::query_as::<_, (i32, i64)>(
        "select extract(hour from (\"timestamp\" at time zone 'UTC') + make_interval(mins => $4))::int, count(*)
         from communications
         where account_id = $1 and direction = 'inbound'
           and ($2::timestamptz is null or \"timestamp\" >= $2) and ($3::timestamptz is null or \"timestamp\" < $3)
         group by 1",
    )
    .bind(account)
    .bind(p.from)
    .bind(p.to)
    .bind(offset)
    .fetch_all(&state.pool);
    let bands = sqlx::query_as::<_, (String, i64, Option<f64>)>(
        "select score_band, count(*), avg(score)::float8 from leads where account_id = $1 group by score_band",
    )
    .bind(account)
    .fetch_all(&state.pool);
    let (per_channel, hours, bands) = tokio::try_join!(per_channel, hours, bands)?;
    Ok(Json(assemble(p.from, p.to, per_channel, hours, bands)))
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
    }
}
