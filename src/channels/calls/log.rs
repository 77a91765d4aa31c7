//! The call-log API (idempotent on `call_id`, transcript-derived summary, sentiment,
//! action items and follow-up) and the call list.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthAccount;
use crate::communications::{self, Communication, LeadRef, NewCommunication};
use crate::domain::{Channel, Direction, Identity, Phone};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::leads::clean;
use crate::pagination::{Cursor, Page, PageParams};
use crate::state::AppState;

use super::transcript::derive;

/// Body of `POST /api/calls/log`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogCall {
    /// Your id for the call; a repeat returns the existing row.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub call_id: String,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub lead_id: Option<i64>,
    /// Or the lead's phone (found or created).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub phone: Option<String>,
    /// inbound or outbound.
    #[schema(value_type = String, example = "inbound")]
    pub direction: Direction,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(minimum = 0, maximum = 604800)]
    pub duration_seconds: Option<i32>,
    /// RFC 3339; now when absent.
    #[serde(default, deserialize_with = "crate::extract::date_or_datetime")]
    pub timestamp: Option<DateTime<Utc>>,
    /// E.g. completed, missed, voicemail, no_answer.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub outcome: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub recording_url: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub transcript: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub ai_summary: Option<String>,
    /// positive, neutral or negative.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub sentiment: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub action_items: Option<Vec<String>>,
    /// A date (`2025-01-12`, kept as noon UTC) or an RFC 3339 date-time.
    #[serde(default, deserialize_with = "crate::extract::date_or_datetime")]
    pub next_follow_up: Option<DateTime<Utc>>,
}

/// Records one phone call (201), or returns the existing one for a known `call_id` (200).
/// Without summary, sentiment or action items, they are derived from the transcript.
#[utoipa::path(post, path = "/api/calls/log", tag = "calls", request_body = LogCall,
    responses((status = 201, body = Communication), (status = 200, description = "duplicate call_id", body = Communication),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(super) async fn log_call(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<LogCall>,
) -> Result<(StatusCode, Json<Communication>)> {
    let call_id = body.call_id.trim();
    if call_id.is_empty() || call_id.len() > 200 {
        return Err(ApiError::invalid("call_id must be 1 to 200 characters"));
    }
    let lead = match (body.lead_id, clean(&body.phone)) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give either lead_id or phone, not both"))
        }
        (None, None) => return Err(ApiError::invalid("give lead_id or phone")),
        (Some(id), None) => LeadRef::Id(id),
        (None, Some(p)) => LeadRef::Identity(Identity {
            phone: Some(
                Phone::parse(&p, state.config.default_region).ok_or_else(|| {
                    ApiError::invalid(format!("phone {p:?} is not a valid phone number"))
                })?,
            ),
            ..Default::default()
        }),
    };
    if let Some(s) = &body.sentiment {
        if !["positive", "neutral", "negative"].contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "sentiment must be positive, neutral or negative",
            ));
        }
    }
    let recording_url = clean(&body.recording_url);
    if let Some(u) = &recording_url {
        // Recordings live on web servers or in object storage (the seed's own example is
        // an `s3://` link).
        let schemes = ["https://", "http://", "s3://", "gs://"];
        if !schemes.iter().any(|s| u.starts_with(s)) || u.len() > 2000 {
            return Err(ApiError::invalid(
                "recording_url must be an https://, http://, s3:// or gs:// URL",
            ));
        }
    }
    let action_items: Option<Vec<String>> = body.action_items.map(|items| {
        items
            .into_iter()
            .map(|i| i.trim().to_string())
            .filter(|i| !i.is_empty())
            .collect()
    });
    if action_items
        .as_ref()
        .is_some_and(|a| a.len() > 50 || a.iter().any(|i| i.chars().count() > 500))
    {
        return Err(ApiError::invalid(
            "action_items: at most 50 items of at most 500 characters",
        ));
    }
    let at = body.timestamp.unwrap_or_else(Utc::now);
    let transcript = clean(&body.transcript);
    let mut summary = clean(&body.ai_summary);
    let mut sentiment = body.sentiment.clone();
    let mut items = action_items;
    let mut follow_up = body.next_follow_up;
    let mut derived_fields = vec![];
    if let Some(t) = &transcript {
        let d = derive(t, at);
        if summary.is_none() {
            summary = Some(d.summary);
            derived_fields.push("ai_summary");
        }
        if sentiment.is_none() {
            sentiment = Some(d.sentiment);
            derived_fields.push("sentiment");
        }
        if items.is_none() {
            items = Some(d.action_items);
            derived_fields.push("action_items");
        }
        if follow_up.is_none() && d.next_follow_up.is_some() {
            follow_up = d.next_follow_up;
            derived_fields.push("next_follow_up");
        }
    }
    let outcome = clean(&body.outcome).map(|o| o.to_lowercase());
    let mut new = NewCommunication::new(lead, Channel::PhoneCall, body.direction);
    new.timestamp = Some(at);
    new.content = transcript.clone().or_else(|| summary.clone());
    new.status = outcome.clone();
    new.duration = body.duration_seconds;
    new.provider = Some("api".into());
    new.provider_message_id = Some(call_id.to_string());
    new.attachments = match &recording_url {
        Some(u) => json!([{"type": "recording", "url": u}]),
        None => json!([]),
    };
    new.metadata = json!({
        "call_id": call_id,
        "outcome": outcome,
        "duration": body.duration_seconds,
        "recording_url": recording_url,
        "ai_summary": summary,
        "sentiment": sentiment,
        "action_items": items.unwrap_or_default(),
        "next_follow_up": follow_up.map(|f| f.to_rfc3339()),
        "derived": derived_fields,
    });
    let recorded = communications::record(&state, account, new).await?;
    let status = if recorded.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(recorded.communication)))
}

/// One call in the list.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct CallSummary {
    pub id: i64,
    pub lead_id: i64,
    pub lead_name: Option<String>,
    pub lead_phone: Option<String>,
    pub direction: String,
    pub timestamp: DateTime<Utc>,
    /// completed, missed, no_answer, voicemail, in_progress…
    pub outcome: Option<String>,
    /// Seconds.
    pub duration: Option<i32>,
    pub recording_url: Option<String>,
    pub summary: Option<String>,
    pub sentiment: Option<String>,
    /// The call id (or Telnyx `call_session_id`).
    pub call_id: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallFilter {
    /// Only calls with this outcome (e.g. missed).
    pub outcome: Option<String>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// The account's calls, newest first, with outcome, duration and lead.
#[utoipa::path(get, path = "/api/calls", tag = "calls", params(CallFilter),
    responses((status = 200, body = Page<CallSummary>)), security(("api_key" = [])))]
pub(super) async fn list_calls(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(f): Query<CallFilter>,
) -> Result<Json<Page<CallSummary>>> {
    let page = PageParams {
        limit: f.limit,
        cursor: f.cursor.clone(),
    };
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    let rows = sqlx::query_as::<_, CallSummary>(
        "select c.id, c.lead_id, l.name as lead_name, l.phone as lead_phone, c.direction, c.\"timestamp\",
                c.status as outcome, c.duration,
                coalesce(c.metadata->>'recording_url', c.attachments->0->>'url') as recording_url,
                c.metadata->>'ai_summary' as summary, c.sentiment, c.provider_message_id as call_id
         from communications c join leads l on l.id = c.lead_id and l.account_id = c.account_id
         where c.account_id = $1 and c.type = 'phone_call'
           and ($2::text is null or c.status = $2)
           and ($3::timestamptz is null or (c.\"timestamp\", c.id) < ($3, $4))
         order by c.\"timestamp\" desc, c.id desc limit $5",
    )
    .bind(account)
    .bind(clean(&f.outcome))
    .bind(cursor.map(|c| c.at))
    .bind(cursor.map(|c| c.id).unwrap_or(0))
    .bind(limit + 1)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Page::from_rows(rows, limit, |c| Cursor {
        at: c.timestamp,
        id: c.id,
    })))
}
