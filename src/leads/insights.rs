//! The tracker's per-lead HTTP API: timeline, summary, profile, and bulk sentiment.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::leads::aggregates;
use crate::leads::{self, Lead};
use crate::pagination::{Cursor, Page, PageParams};
use crate::state::AppState;
use crate::tracker;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(timeline))
        .routes(routes!(summary))
        .routes(routes!(profile))
        .routes(routes!(sentiment))
}

/// One touch in a lead's timeline.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct TimelineItem {
    pub id: i64,
    pub timestamp: DateTime<Utc>,
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    pub direction: String,
    /// The subject, else the first ~140 characters of the content.
    #[sqlx(skip)]
    pub summary: String,
    /// Seconds, for calls.
    pub duration: Option<i32>,
    pub status: Option<String>,
    pub ai_generated: bool,
    pub sentiment: Option<String>,
    #[serde(skip)]
    subject: Option<String>,
    #[serde(skip)]
    head: Option<String>,
}

const SUMMARY_CHARS: usize = 140;

/// The subject, or the content's first 140 characters with whitespace collapsed.
pub fn touch_summary(subject: Option<&str>, content: Option<&str>) -> String {
    if let Some(s) = subject.map(str::trim).filter(|s| !s.is_empty()) {
        return s.to_string();
    }
    let text = content
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if text.chars().count() <= SUMMARY_CHARS {
        return text;
    }
    let cut: String = text.chars().take(SUMMARY_CHARS).collect();
    // End on a word boundary when there is one reasonably close.
    let cut = match cut.rfind(' ') {
        Some(i) if i > SUMMARY_CHARS / 2 => cut[..i].to_string(),
        _ => cut,
    };
    format!("{cut}…")
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TimelineParams {
    /// `asc` (chronological, the default) or `desc` (newest first).
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

pub async fn timeline_items(
    pool: &sqlx::PgPool,
    lead_id: i64,
    desc: bool,
    cursor: Option<Cursor>,
    limit: i64,
) -> Result<Vec<TimelineItem>> {
    let (cmp, dir) = if desc { ("<", "desc") } else { (">", "asc") };
    let mut rows = sqlx::query_as::<_, TimelineItem>(&format!(
        "select id, \"timestamp\", type, direction, duration, status, ai_generated, sentiment, subject,
                left(content, 600) as head
         from communications
         where lead_id = $1 and ($2::timestamptz is null or (\"timestamp\", id) {cmp} ($2, $3))
         order by \"timestamp\" {dir}, id {dir} limit $4"
    ))
    .bind(lead_id)
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id).unwrap_or(0))
    .bind(limit)
    .fetch_all(pool)
    .await?;
    for r in &mut rows {
        r.summary = touch_summary(r.subject.as_deref(), r.head.as_deref());
    }
    Ok(rows)
}

/// Every touch of the lead, chronological (or newest first with `order=desc`).
#[utoipa::path(get, path = "/api/leads/{id}/timeline", tag = "tracker", params(("id" = i64, Path), TimelineParams),
    responses((status = 200, body = Page<TimelineItem>), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn timeline(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
    Query(p): Query<TimelineParams>,
) -> Result<Json<Page<TimelineItem>>> {
    let desc = match p.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "order must be asc or desc, got {other:?}"
            )))
        }
    };
    let page = PageParams {
        limit: p.limit,
        cursor: p.cursor,
    };
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    leads::get(&state.pool, account, id).await?;
    let rows = timeline_items(&state.pool, id, desc, cursor, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |t| Cursor {
        at: t.timestamp,
        id: t.id,
    })))
}

/// Touchpoints by channel and direction, response rate and times, sentiment.
#[utoipa::path(get, path = "/api/leads/{id}/summary", tag = "tracker", params(("id" = i64, Path)),
    responses((status = 200, description = "The lead's communication summary", body = Object), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn summary(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
) -> Result<Json<tracker::summary::Summary>> {
    let history = aggregates::current(&state.pool, account, id).await?;
    Ok(Json(tracker::summary::summary_of(&history.aggregate)))
}

/// The rich lead profile: everything the tracker knows, in one response.
#[derive(Serialize, ToSchema)]
pub struct Profile {
    pub lead: Lead,
    #[schema(value_type = Object)]
    pub score: tracker::scoring::ScoreBreakdown,
    #[schema(value_type = Object)]
    pub summary: tracker::summary::Summary,
    #[schema(value_type = Object)]
    pub engagement: tracker::engagement::Engagement,
    #[schema(value_type = Object)]
    pub next_action: tracker::next_action::NextAction,
    #[schema(value_type = Object)]
    pub enrichment: tracker::enrichment::Enrichment,
    /// The 20 most recent touches, newest first.
    pub timeline: Vec<TimelineItem>,
}

/// Lead fields, score with breakdown, summary, engagement, next action, enrichment and recent timeline.
#[utoipa::path(get, path = "/api/leads/{id}/profile", tag = "tracker", params(("id" = i64, Path)),
    responses((status = 200, body = Profile), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn profile(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
) -> Result<Json<Profile>> {
    // Three small reads at once (none grows with the history): the lead's facts with its
    // aggregate of the whole history and its most recent touches (`leads::aggregates`),
    // the lead and the timeline. Nothing is returned unless all succeed; the facts and
    // lead reads check the account.
    let (history, lead, timeline) = tokio::try_join!(
        aggregates::current(&state.pool, account, id),
        leads::get(&state.pool, account, id),
        timeline_items(&state.pool, id, true, None, 20)
    )?;
    let ins = tracker::analyze_from(
        &history.facts,
        &history.aggregate,
        &history.recent(),
        Utc::now(),
    );
    Ok(Json(Profile {
        lead,
        score: ins.score,
        summary: ins.summary,
        engagement: ins.engagement,
        next_action: ins.next_action,
        enrichment: ins.enrichment,
        timeline,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SentimentRequest {
    /// Up to 1,000 texts.
    pub texts: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SentimentResult {
    /// positive, neutral or negative.
    pub label: &'static str,
    /// In [-1, 1].
    pub score: f32,
}

pub const MAX_SENTIMENT_TEXTS: usize = 1000;

/// Sentiment of each text, in order (the same rules the recording path uses).
#[utoipa::path(post, path = "/api/sentiment", tag = "tracker", request_body = SentimentRequest,
    responses((status = 200, body = Vec<SentimentResult>), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn sentiment(
    _auth: AuthAccount,
    Json(req): Json<SentimentRequest>,
) -> Result<Json<Vec<SentimentResult>>> {
    if req.texts.len() > MAX_SENTIMENT_TEXTS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_SENTIMENT_TEXTS} texts per request, got {}",
            req.texts.len()
        )));
    }
    Ok(Json(
        req.texts
            .iter()
            .map(|t| {
                let s = tracker::sentiment::analyze(t);
                SentimentResult {
                    label: s.label.as_str(),
                    score: s.score,
                }
            })
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::touch_summary;

    #[test]
    fn summary_prefers_the_subject_and_cuts_long_content_on_a_word() {
        assert_eq!(touch_summary(Some(" Leak "), Some("body")), "Leak");
        assert_eq!(touch_summary(None, Some("short\n\n text")), "short text");
        let long = "word ".repeat(60);
        let s = touch_summary(Some("  "), Some(&long));
        assert!(s.ends_with('…') && s.chars().count() <= 141, "{s}");
        assert!(!s.contains("  "));
        let one_word = "x".repeat(300);
        assert_eq!(touch_summary(None, Some(&one_word)).chars().count(), 141);
    }
}
