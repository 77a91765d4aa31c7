//! Home: this week at a glance.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;

use super::format::{
    action_label, channel_label, display_name, hour_label, minutes_human, pct, Clock,
};
use super::{layout, LeadLine, PageError};
use crate::auth::session::Dash;
use crate::dashboard::{charts, render};
use crate::state::AppState;

#[derive(Serialize)]
struct ChannelRow {
    key: &'static str,
    label: &'static str,
    inbound: i64,
    outbound: i64,
    response_rate: String,
    speed: String,
}

#[derive(sqlx::FromRow)]
struct DueRow {
    #[sqlx(flatten)]
    lead: LeadLine,
    action: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    channel: Option<String>,
    last_touch_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct DueView {
    id: i64,
    name: String,
    score: i32,
    band: String,
    action: String,
    priority: String,
    reason: String,
    channel: &'static str,
    ago: String,
}

/// This week at a glance: touches per channel, speed to lead, response rate, leads per
/// band, next actions due, and the health of every integration.
pub async fn home(State(state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let from = clock.week_start();
    let stats = crate::communications::stats::of_account(
        &state.pool,
        s.account_id,
        &crate::communications::stats::StatsParams {
            from: Some(from),
            to: None,
        },
    )
    .await?;
    let channels: Vec<ChannelRow> = charts::CHANNELS
        .iter()
        .map(|(c, label, _)| {
            let st = stats.channels.get(c.as_str());
            ChannelRow {
                key: c.as_str(),
                label,
                inbound: st.map_or(0, |s| s.inbound),
                outbound: st.map_or(0, |s| s.outbound),
                response_rate: pct(st.and_then(|s| s.response_rate)),
                speed: minutes_human(st.and_then(|s| s.speed_to_lead_minutes)),
            }
        })
        .collect();
    let bars = charts::channel_bars(
        &channels
            .iter()
            .map(|c| {
                (
                    c.label.to_string(),
                    c.inbound.clamp(0, u32::MAX as i64) as u32,
                    c.outbound.clamp(0, u32::MAX as i64) as u32,
                )
            })
            .collect::<Vec<_>>(),
        520,
    );
    let due: Vec<DueRow> = sqlx::query_as(
        "select l.id, l.name, l.email, l.phone, l.score, l.score_band,
                l.insights->'next_action'->>'action' as action,
                l.insights->'next_action'->>'priority' as priority,
                l.insights->'next_action'->>'reason' as reason,
                l.insights->'next_action'->>'channel' as channel,
                coalesce(t.at, l.created_at) as last_touch_at
         from leads l
         left join lateral (select c.\"timestamp\" as at from communications c where c.lead_id = l.id
                            order by c.\"timestamp\" desc, c.id desc limit 1) t on true
         where l.account_id = $1 and l.insights->'next_action'->>'priority' in ('urgent', 'high')
           and l.status not in ('won', 'lost')
         order by (l.insights->'next_action'->>'priority' = 'urgent') desc, l.score desc,
                  coalesce(t.at, l.created_at) desc
         limit 8",
    )
    .bind(s.account_id)
    .fetch_all(&state.pool)
    .await?;
    let due: Vec<DueView> = due
        .into_iter()
        .map(|r| DueView {
            id: r.lead.id,
            name: display_name(&r.lead.name, &r.lead.email, &r.lead.phone),
            score: r.lead.score,
            band: r.lead.score_band,
            action: action_label(r.action.as_deref().unwrap_or("follow_up")),
            priority: r.priority.unwrap_or_default(),
            reason: r.reason.unwrap_or_default(),
            channel: channel_label(r.channel.as_deref().unwrap_or("")),
            ago: clock.ago(r.last_touch_at),
        })
        .collect();
    let (leads_total, leads_new): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where created_at >= $2) from leads where account_id = $1",
    )
    .bind(s.account_id)
    .bind(from)
    .fetch_one(&state.pool)
    .await?;
    let open_chats: i64 = sqlx::query_scalar(
        "select count(*) from chat_sessions where account_id = $1 and ended_at is null",
    )
    .bind(s.account_id)
    .fetch_one(&state.pool)
    .await?;
    let band = |b: &str| stats.leads_by_band.get(b).copied().unwrap_or(0);
    let sources: Vec<_> = stats
        .by_source
        .iter()
        .map(|r| {
            context! {
                href => format!("/leads?source={}", crate::auth::session::encode_query_value(&r.source)),
                label => super::format::source_label(&r.source),
                leads => r.leads,
                speed => minutes_human(r.speed_to_lead_minutes),
                answered => pct(r.answered_rate),
                response_rate => pct(r.response_rate),
                won => r.won,
                won_rate => pct(r.won_rate),
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        "home.html",
        context! {
            week_of => clock.local(from).format("%b %-d").to_string(),
            total => stats.total,
            inbound => stats.by_direction.get("inbound").copied().unwrap_or(0),
            outbound => stats.by_direction.get("outbound").copied().unwrap_or(0),
            speed => minutes_human(stats.speed_to_lead_minutes),
            response_rate => pct(stats.response_rate),
            ai_share => pct(stats.ai_generated_share),
            best_hours => stats.best_contact_hours.iter().map(|h| hour_label(*h as u8)).collect::<Vec<_>>(),
            hot => band("HOT"),
            warm => band("WARM"),
            cold => band("COLD"),
            leads_total,
            leads_new,
            open_chats,
            channels,
            sources,
            bars,
            due,
            ..layout(&s, "home", "Home")
        },
    ))
}
