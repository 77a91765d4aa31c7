//! The tracker's bridge to PostgreSQL: loads a lead's facts and touches, and keeps the
//! score, band, breakdown and insights stored on the lead current.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;

use crate::auth::AccountId;
use crate::error::{ApiError, Result};
use crate::tracker::model::{Channel, Direction, LeadFacts, LeadStatus, SentimentLabel, Touch};

/// Touches the stored (list-view) insights are computed from: the most recent ones (the
/// lead score itself only looks at these, see `tracker::SCORE_WINDOW`). The profile and
/// summary endpoints compute everything else over the whole history.
pub const REFRESH_WINDOW: i64 = super::SCORE_WINDOW as i64;

#[derive(sqlx::FromRow)]
struct FactsRow {
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    property_address: Option<String>,
    roof_age_years: Option<i32>,
    issues: Vec<String>,
    timeline: Option<String>,
    budget: Option<String>,
    status: String,
    timezone: String,
}

/// The lead's facts and its account's UTC offset (minutes); "not found" for another account's lead.
pub async fn load_facts(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
) -> Result<(LeadFacts, i32)> {
    let row: FactsRow = sqlx::query_as(
        "select l.name, l.email, l.phone, l.property_address, l.roof_age_years, l.issues, l.timeline, l.budget,
                l.status, a.timezone
         from leads l join accounts a on a.id = l.account_id
         where l.id = $1 and l.account_id = $2",
    )
    .bind(lead_id)
    .bind(account)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(ApiError::NotFound("lead"))?;
    let tz = utc_offset_minutes(&row.timezone);
    Ok((facts_of(row), tz))
}

/// Minutes east of UTC for an account time zone written `UTC`, `+02:00` or `-05:30`.
pub fn utc_offset_minutes(tz: &str) -> i32 {
    let tz = tz.trim();
    let Some(sign) = tz.chars().next().filter(|c| *c == '+' || *c == '-') else {
        return 0;
    };
    let (h, m) = tz[1..].split_once(':').unwrap_or((&tz[1..], "0"));
    let minutes = h.parse::<i32>().unwrap_or(0) * 60 + m.parse::<i32>().unwrap_or(0);
    if sign == '-' { -minutes } else { minutes }.clamp(-18 * 60, 18 * 60)
}

/// One touch as the profile query returns it: the enumerations packed into one small
/// integer so a 10,000-touch history decodes without a string allocation per field.
type PackedTouch = (i64, DateTime<Utc>, i16, Option<f32>, Option<i32>);

/// The lead's whole history in time order (profile and summary endpoints).
pub async fn load_touches(conn: &mut PgConnection, lead_id: i64) -> Result<Vec<Touch>> {
    let rows: Vec<PackedTouch> = sqlx::query_as(
        "select id, \"timestamp\",
            ((case type when 'email' then 0 when 'sms' then 1 when 'phone_call' then 2 else 3 end)
             + (case when direction = 'outbound' then 4 else 0 end)
             + (case sentiment when 'positive' then 8 when 'neutral' then 16 when 'negative' then 24 else 0 end)
             + (case when ai_generated then 32 else 0 end))::int2,
            sentiment_score, duration
         from communications where lead_id = $1
         order by \"timestamp\", id",
    )
    .bind(lead_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, timestamp, code, sentiment_score, duration)| {
            unpack(id, timestamp, code, sentiment_score, duration)
        })
        .collect())
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
        channel: Channel::ALL[(code & 3) as usize],
        direction: if code & 4 != 0 {
            Direction::Outbound
        } else {
            Direction::Inbound
        },
        sentiment: match (code >> 3) & 3 {
            1 => Some(SentimentLabel::Positive),
            2 => Some(SentimentLabel::Neutral),
            3 => Some(SentimentLabel::Negative),
            _ => None,
        },
        sentiment_score,
        ai_generated: code & 32 != 0,
        duration_seconds,
    }
}

fn parse_label(s: &str) -> Option<SentimentLabel> {
    match s {
        "positive" => Some(SentimentLabel::Positive),
        "neutral" => Some(SentimentLabel::Neutral),
        "negative" => Some(SentimentLabel::Negative),
        _ => None,
    }
}

#[derive(sqlx::FromRow)]
struct LeadTouchRow {
    #[sqlx(flatten)]
    facts: FactsRow,
    id: Option<i64>,
    timestamp: Option<DateTime<Utc>>,
    kind: Option<String>,
    direction: Option<String>,
    sentiment: Option<String>,
    sentiment_score: Option<f32>,
    ai_generated: Option<bool>,
    duration: Option<i32>,
}

/// Facts, time zone and the most recent `limit` touches (chronological) in one round trip.
async fn load_lead_and_recent(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
    limit: i64,
) -> Result<(LeadFacts, i32, Vec<Touch>)> {
    let rows: Vec<LeadTouchRow> = sqlx::query_as(
        "select l.name, l.email, l.phone, l.property_address, l.roof_age_years, l.issues, l.timeline, l.budget,
                l.status, a.timezone, c.id, c.\"timestamp\", c.type as kind, c.direction, c.sentiment,
                c.sentiment_score, c.ai_generated, c.duration
         from leads l join accounts a on a.id = l.account_id
         left join lateral (
             select id, \"timestamp\", type, direction, sentiment, sentiment_score, ai_generated, duration
             from communications where lead_id = l.id
             order by \"timestamp\" desc, id desc limit $3) c on true
         where l.id = $1 and l.account_id = $2",
    )
    .bind(lead_id)
    .bind(account)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut touches: Vec<Touch> = rows
        .iter()
        .filter_map(|r| {
            Some(Touch {
                id: r.id?,
                timestamp: r.timestamp?,
                channel: r.kind.as_deref()?.parse().ok()?,
                direction: r.direction.as_deref()?.parse().ok()?,
                sentiment: r.sentiment.as_deref().and_then(parse_label),
                sentiment_score: r.sentiment_score,
                ai_generated: r.ai_generated.unwrap_or(false),
                duration_seconds: r.duration,
            })
        })
        .collect();
    touches.reverse();
    let row = rows.into_iter().next().ok_or(ApiError::NotFound("lead"))?;
    let tz = utc_offset_minutes(&row.facts.timezone);
    Ok((facts_of(row.facts), tz, touches))
}

fn facts_of(row: FactsRow) -> LeadFacts {
    LeadFacts {
        name: row.name,
        email: row.email,
        phone: row.phone,
        property_address: row.property_address,
        roof_age_years: row.roof_age_years,
        issues: row.issues,
        timeline: row.timeline,
        budget: row.budget,
        status: LeadStatus::parse(&row.status),
    }
}

/// Recomputes and stores the lead's score, band, breakdown and list-view insights.
/// Called after every lead edit.
pub async fn refresh_lead_in(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
) -> Result<()> {
    refresh(conn, account, lead_id, None).await
}

/// The recording path's step, in its transaction: moves the lead's activity time
/// forward, marks a `new` lead `contacted` after an outbound touch, and refreshes the
/// score and insights, all in one update.
pub async fn refresh_after_touch(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
    at: DateTime<Utc>,
    direction: Direction,
) -> Result<()> {
    refresh(conn, account, lead_id, Some((at, direction))).await
}

async fn refresh(
    conn: &mut PgConnection,
    account: AccountId,
    lead_id: i64,
    touch: Option<(DateTime<Utc>, Direction)>,
) -> Result<()> {
    let (mut facts, tz, touches) =
        load_lead_and_recent(conn, account, lead_id, REFRESH_WINDOW).await?;
    let mut new_status = None;
    if matches!(touch, Some((_, Direction::Outbound)))
        && matches!(facts.status, None | Some(LeadStatus::New))
    {
        facts.status = Some(LeadStatus::Contacted);
        new_status = Some("contacted");
    }
    let now = Utc::now();
    let ins = super::analyze(&facts, &touches, tz, now);
    let insights = json!({
        "computed_at": now,
        "engagement": {
            "level": ins.engagement.level,
            "preferred_channel": ins.engagement.preferred_channel,
            "patterns": ins.engagement.patterns,
        },
        "next_action": ins.next_action,
        "completeness": ins.enrichment.completeness,
        "conversion_probability": ins.enrichment.conversion_probability,
        "most_recent_sentiment": ins.summary.most_recent_sentiment,
    });
    sqlx::query(
        "update leads set score = $3, score_band = $4, score_breakdown = $5, insights = $6,
             status = coalesce($7, status),
             last_activity_at = greatest(last_activity_at, coalesce($8, last_activity_at)),
             updated_at = case when $8::timestamptz is null then updated_at else now() end
         where id = $1 and account_id = $2",
    )
    .bind(lead_id)
    .bind(account)
    .bind(ins.score.score)
    .bind(band_str(ins.score.band))
    .bind(serde_json::to_value(&ins.score.rules).map_err(anyhow::Error::from)?)
    .bind(insights)
    .bind(new_status)
    .bind(touch.map(|(at, _)| at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub fn band_str(b: super::scoring::Band) -> &'static str {
    match b {
        super::scoring::Band::Hot => "HOT",
        super::scoring::Band::Warm => "WARM",
        super::scoring::Band::Cold => "COLD",
    }
}

/// `refresh_lead_in` on its own connection, for changes made outside the recording path.
pub async fn refresh_lead(pool: &sqlx::PgPool, account: AccountId, lead_id: i64) -> Result<()> {
    let mut conn = pool.acquire().await?;
    refresh_lead_in(&mut conn, account, lead_id).await
}

#[cfg(test)]
mod tests {
    use super::utc_offset_minutes;

    #[test]
    fn account_time_zones_are_read_as_utc_offsets() {
        assert_eq!(utc_offset_minutes("UTC"), 0);
        assert_eq!(utc_offset_minutes("-05:00"), -300);
        assert_eq!(utc_offset_minutes("+05:30"), 330);
        assert_eq!(utc_offset_minutes("+99:00"), 18 * 60);
        assert_eq!(utc_offset_minutes("garbage"), 0);
    }
}
