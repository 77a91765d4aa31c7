//! One lead's profile, charts and timeline, who it is assigned to, and its follow-ups.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;

use super::format::{
    action_label, channel_label, display_name, display_phone, duration_human, hour_label, http_url,
    humanize, minutes_human, pct, Clock,
};
use super::{layout, PageError, TIMELINE_LIMIT};
use crate::auth::session::Dash;
use crate::dashboard::{charts, render};
use crate::domain::Direction;
use crate::error::ApiError;
use crate::state::AppState;
use crate::tracker;

#[derive(sqlx::FromRow)]
struct TouchRow {
    id: i64,
    #[sqlx(rename = "timestamp")]
    at: DateTime<Utc>,
    kind: String,
    direction: String,
    subject: Option<String>,
    content: Option<String>,
    status: Option<String>,
    duration: Option<i32>,
    ai_generated: bool,
    sentiment: Option<String>,
    sentiment_score: Option<f32>,
    from_address: Option<String>,
    to_address: Option<String>,
    recording_url: Option<String>,
}

#[derive(Serialize)]
struct TouchView {
    id: i64,
    when: String,
    ago: String,
    kind: String,
    kind_label: &'static str,
    direction: String,
    summary: String,
    subject: Option<String>,
    body: Option<String>,
    long: bool,
    status: Option<String>,
    duration: Option<String>,
    ai: bool,
    sentiment: Option<String>,
    sentiment_score: Option<String>,
    from: Option<String>,
    to: Option<String>,
    recording_url: Option<String>,
}

/// Everything known about one lead, its charts, its timeline and a reply box.
pub async fn lead(
    State(state): State<AppState>,
    Dash(s): Dash,
    Path(raw_id): Path<String>,
) -> Result<Response, PageError> {
    let id: i64 = raw_id.parse().map_err(|_| ApiError::NotFound("lead"))?;
    let account = s.account_id;
    let lead = crate::leads::get(&state.pool, account, id).await?;
    let clock = Clock::of(&state.pool, account).await?;
    // What a spreadsheet import brought along (src/imports/): its notes, and when.
    let (notes, imported_at): (Option<String>, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("select notes, imported_at from leads where id = $1 and account_id = $2")
            .bind(id)
            .bind(account)
            .fetch_one(&state.pool)
            .await?;
    let (facts, tz, touches) = {
        let mut conn = state.pool.acquire().await?;
        let (facts, tz) = crate::leads::store::load_facts(&mut conn, account, id).await?;
        let touches = crate::leads::store::load_touches(&mut conn, id).await?;
        (facts, tz, touches)
    };
    let ins = tracker::analyze(&facts, &touches, tz, clock.now);
    let assignee: Option<i64> =
        sqlx::query_scalar("select assigned_user_id from leads where id = $1 and account_id = $2")
            .bind(id)
            .bind(account)
            .fetch_one(&state.pool)
            .await?;
    // Active people to assign to; a disabled assignee stays listed while assigned.
    let people: Vec<_> = crate::auth::users::list(&state.pool, account)
        .await?
        .into_iter()
        .filter(|u| u.disabled_at.is_none() || Some(u.id) == assignee)
        .map(|u| {
            context! {
                id => u.id,
                label => if u.name.is_empty() { u.email.clone() } else { u.name.clone() },
                disabled => u.disabled_at.is_some(),
            }
        })
        .collect();
    let rows: Vec<TouchRow> = sqlx::query_as(
        "select id, \"timestamp\", type as kind, direction, subject, left(content, 20000) as content, status,
                duration, ai_generated, sentiment, sentiment_score, from_address, to_address,
                case when type = 'phone_call'
                     then coalesce(metadata->>'recording_url', attachments->0->>'url') end as recording_url
         from communications where lead_id = $1 and account_id = $2
         order by \"timestamp\" desc, id desc limit $3",
    )
    .bind(id)
    .bind(account)
    .bind(TIMELINE_LIMIT)
    .fetch_all(&state.pool)
    .await?;
    let reply_subject = rows
        .iter()
        .find(|r| r.kind == "email" && r.subject.as_deref().is_some_and(|s| !s.trim().is_empty()))
        .and_then(|r| r.subject.clone())
        .map(|s| {
            if s.to_ascii_lowercase().starts_with("re:") {
                s
            } else {
                format!("Re: {s}")
            }
        })
        .unwrap_or_else(|| "About your roof".into());
    let timeline: Vec<TouchView> = rows
        .into_iter()
        .map(|r| {
            let summary =
                crate::leads::insights::touch_summary(r.subject.as_deref(), r.content.as_deref());
            let body = r.content.filter(|c| !c.trim().is_empty());
            TouchView {
                id: r.id,
                when: clock.when(r.at),
                ago: clock.ago(r.at),
                kind_label: channel_label(&r.kind),
                long: r.kind == "email"
                    || body
                        .as_ref()
                        .is_some_and(|b| b.chars().count() > 280 || b.contains('\n')),
                kind: r.kind,
                direction: r.direction,
                summary,
                subject: r.subject,
                body,
                status: r.status,
                duration: r.duration.map(duration_human),
                ai: r.ai_generated,
                sentiment: r.sentiment,
                sentiment_score: r.sentiment_score.map(|v| format!("{v:+.2}")),
                from: r.from_address,
                to: r.to_address,
                recording_url: http_url(r.recording_url),
            }
        })
        .collect();
    // Touchpoints by channel and direction.
    let mut matrix = [[0u32; 2]; charts::CHANNELS.len()];
    for t in &touches {
        let c = charts::CHANNELS
            .iter()
            .position(|(ch, _, _)| *ch == t.channel)
            .unwrap_or(0);
        matrix[c][usize::from(t.direction == Direction::Outbound)] += 1;
    }
    let by_channel: Vec<_> = charts::CHANNELS
        .iter()
        .zip(matrix)
        .map(|((_, label, _), [i, o])| (label.to_string(), i, o))
        .collect();
    let weekly = charts::touches_per_week(&charts::weekly_buckets(&touches, tz, clock.now, 26));
    let sentiment = charts::sentiment_over_time(&charts::sentiment_points(&touches, tz));
    let channel_chart = charts::channel_bars(&by_channel, 340);
    let sm = &ins.summary;
    let na = &ins.next_action;
    let en = &ins.enrichment;
    let follow_ups = super::follow_ups::context_for(&state.pool, account, id, &clock).await?;
    let name = display_name(&lead.profile.name, &lead.profile.email, &lead.profile.phone);
    let title = name.clone();
    Ok(render(
        StatusCode::OK,
        "lead.html",
        context! {
            lead => context! {
                id => lead.id,
                name => name,
                named => lead.profile.name.is_some(),
                email => lead.profile.email,
                phone => lead.profile.phone.as_deref().map(|p| display_phone(p, state.config.default_region)),
                property_address => lead.profile.property_address,
                roof_age_years => lead.profile.roof_age_years,
                issues => lead.profile.issues,
                timeline => lead.profile.timeline,
                budget => lead.profile.budget,
                source => lead.source,
                notes => notes,
                imported => imported_at.map(|t| clock.when(t)),
                status => lead.status,
                status_label => humanize(&lead.status),
                sms_opted_out => lead.sms_opted_out_at.is_some(),
                created => clock.when(lead.created_at),
                last_touch => touches.iter().map(|t| t.timestamp).max().map(|t| clock.ago(t)),
            },
            statuses => crate::leads::STATUSES.iter().map(|s| context! { key => *s, label => humanize(s) }).collect::<Vec<_>>(),
            score => context! {
                score => ins.score.score,
                band => crate::leads::store::band_str(ins.score.band),
                rules => ins.score.rules.iter().map(|r| context! {
                    rule => humanize(r.rule), points => r.points, detail => r.detail,
                }).collect::<Vec<_>>(),
            },
            summary => context! {
                total => sm.total_touchpoints,
                inbound => sm.by_direction.get("inbound").copied().unwrap_or(0),
                outbound => sm.by_direction.get("outbound").copied().unwrap_or(0),
                response_rate => pct(sm.response_rate),
                lead_response => sm.avg_response_time_hours.map(|h| minutes_human(Some(h * 60.0))).unwrap_or_else(|| "—".into()),
                our_response => minutes_human(sm.our_avg_response_time_minutes),
                first_response => minutes_human(sm.first_response_time_minutes),
                sentiment => sm.most_recent_sentiment.map(|s| s.as_str()),
                trend => serde_json::to_value(sm.sentiment_trend).ok().and_then(|v| v.as_str().map(str::to_string)),
                unanswered => sm.unanswered_inbound,
            },
            engagement => context! {
                level => serde_json::to_value(ins.engagement.level).ok().and_then(|v| v.as_str().map(str::to_string)),
                preferred => ins.engagement.preferred_channel.map(|c| channel_label(c.as_str())),
                patterns => ins.engagement.patterns.iter().map(|p| humanize(p)).collect::<Vec<_>>(),
            },
            next_action => context! {
                label => action_label(&na.action),
                channel => na.channel.map(|c| channel_label(c.as_str())),
                priority => serde_json::to_value(na.priority).ok().and_then(|v| v.as_str().map(str::to_string)),
                reason => na.reason,
            },
            enrichment => context! {
                completeness => en.completeness,
                missing => en.missing_fields.iter().map(|f| humanize(f)).collect::<Vec<_>>(),
                patterns => en.response_patterns,
                conversion => pct(Some(en.conversion_probability)),
                best_hour => en.best_contact_hour.map(hour_label),
            },
            charts => context! {
                weekly => minijinja::Value::from_safe_string(weekly),
                sentiment => minijinja::Value::from_safe_string(sentiment),
                channels => minijinja::Value::from_safe_string(channel_chart),
            },
            timeline,
            timeline_total => touches.len(),
            timeline_limit => TIMELINE_LIMIT,
            reply_subject,
            people,
            assignee,
            follow_ups,
            ..layout(&s, "leads", &title)
        },
    ))
}
