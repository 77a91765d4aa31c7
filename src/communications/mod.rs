//! The one recording path: every channel turns what it receives into a
//! `NewCommunication` and calls `record()`. Nothing else inserts into `communications`;
//! later changes (delivery status, a call's events, a lead merge) go through `revise`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::domain::{AccountId, Channel, Direction, Email, Identity, Phone};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::leads::{self, clean, normalize_identity, LeadIdentity};
use crate::pagination::{Cursor, Page, PageParams};
use crate::state::AppState;
use crate::tracker;
use crate::tracker::model::Touch;

pub mod model;
pub mod revise;
pub mod stats;
pub mod writer;

use model::COMM_COLUMNS;
pub use model::{Communication, LeadRef, NewCommunication, Receipt, Recorded};

/// Records one communication: validates, resolves the lead (creating it when unknown),
/// dedupes on `(account, type, provider_message_id)` (a duplicate returns the existing
/// row and inserts nothing), computes sentiment, stores, and refreshes the lead's score,
/// band, stage and insights.
///
/// The writing is done by `writer` in batches: one read (the leads, their facts and recent
/// touches), then one atomic statement that inserts the communications and updates (or
/// creates) the leads with the insights computed in between. A repeated provider id makes
/// the write fail on the unique index as a whole, so nothing (not even a new lead) is left
/// behind. Returns once the row is committed.
#[tracing::instrument(skip_all, fields(account, channel = new.channel.as_str()))]
pub async fn record(
    state: &AppState,
    account: AccountId,
    mut new: NewCommunication,
) -> Result<Recorded> {
    new.strip_nul();
    new.validate()?;
    new.tags.sort();
    new.tags.dedup();
    let at = new.timestamp.unwrap_or_else(Utc::now);
    let text = new
        .content
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .or(new.subject.as_deref());
    let sentiment = text.and_then(tracker::sentiment_of);
    let who = match &new.lead {
        LeadRef::Id(_) => Identity::default(),
        LeadRef::Identity(who) => {
            let mut who = who.clone();
            if who.is_empty() {
                if let Some(addr) = new.counterpart() {
                    match new.channel {
                        Channel::Email => who.email = Email::parse(addr),
                        Channel::Sms | Channel::PhoneCall => {
                            who.phone = Phone::parse(addr, state.config.default_region)
                        }
                        Channel::Chat | Channel::Form => {}
                    }
                }
            }
            if who.is_empty() {
                return Err(ApiError::invalid(
                    "cannot identify the lead: give lead_id, a lead with an email or phone, or a valid from/to address",
                ));
            }
            who
        }
    };
    let touch = Touch {
        // Sorts after every stored touch of the same instant.
        id: i64::MAX,
        timestamp: at,
        channel: new.channel,
        direction: new.direction,
        sentiment: sentiment.map(|s| s.label),
        sentiment_score: sentiment.map(|s| s.score),
        ai_generated: new.ai_generated,
        duration_seconds: new.duration,
    };
    let work = writer::Work {
        account,
        lead_id: match new.lead {
            LeadRef::Id(id) => Some(id),
            LeadRef::Identity(_) => None,
        },
        who,
        new,
        at,
        sentiment,
        touch,
    };
    state.recorder.submit(&state.pool, work).await
}

/// Moves a channel's communications from one thread to another (a message that started
/// its own thread turned out to answer one already stored). Returns how many moved.
pub async fn join_thread(
    pool: &sqlx::PgPool,
    account: AccountId,
    channel: Channel,
    from_thread: &str,
    into_thread: &str,
) -> Result<u64> {
    Ok(sqlx::query(
        "update communications set thread_key = $4
         where account_id = $1 and type = $2 and thread_key = $3",
    )
    .bind(account)
    .bind(channel.as_str())
    .bind(from_thread)
    .bind(into_thread)
    .execute(pool)
    .await?
    .rows_affected())
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(stats::stats))
        .routes(routes!(log_communication))
        .routes(routes!(lead_communications))
}

/// Body of `POST /api/communications/log`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogCommunication {
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "email")]
    pub kind: Channel,
    #[schema(value_type = String, example = "inbound")]
    pub direction: Direction,
    /// RFC 3339; now when absent.
    #[serde(default, deserialize_with = "crate::extract::date_or_datetime")]
    pub timestamp: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub subject: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub from_address: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub to_address: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub status: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(minimum = 0, maximum = 604800)]
    pub duration: Option<i32>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub attachments: Option<Value>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub ai_generated: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub provider: Option<String>,
    /// The provider's id for this message; a repeat returns the existing row. Unlike the
    /// other optional fields, an empty one is refused (422), not taken as absent: a
    /// client that sends an empty dedupe key would store every retry again.
    pub provider_message_id: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub thread_key: Option<String>,
    /// An existing lead of this account.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub lead_id: Option<i64>,
    /// Or who the lead is (found or created by email / phone).
    pub lead: Option<LeadIdentity>,
}

/// Records a communication on any channel. 201 when stored; 200 with the existing row
/// when `provider_message_id` was already recorded.
#[utoipa::path(post, path = "/api/communications/log", tag = "communications", request_body = LogCommunication,
    responses((status = 201, body = Communication), (status = 200, description = "duplicate", body = Communication),
        (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn log_communication(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<LogCommunication>,
) -> Result<(StatusCode, Json<Communication>)> {
    let lead = match (body.lead_id, &body.lead) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give either lead_id or lead, not both"))
        }
        (Some(id), None) => LeadRef::Id(id),
        (None, Some(who)) => {
            LeadRef::Identity(normalize_identity(who, state.config.default_region)?)
        }
        (None, None) => LeadRef::Identity(Identity::default()),
    };
    let mut new = NewCommunication::new(lead, body.kind, body.direction);
    new.timestamp = body.timestamp;
    new.content = body.content;
    new.subject = clean(&body.subject);
    new.from_address = clean(&body.from_address);
    new.to_address = clean(&body.to_address);
    new.metadata = body.metadata.unwrap_or(Value::Object(Default::default()));
    new.status = clean(&body.status);
    new.duration = body.duration;
    new.attachments = body.attachments.unwrap_or(Value::Array(vec![]));
    new.ai_generated = body.ai_generated.unwrap_or(false);
    new.tags = body
        .tags
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.trim().to_string())
        .collect();
    new.provider = clean(&body.provider).or_else(|| Some("api".into()));
    new.provider_message_id = body.provider_message_id.map(|p| p.trim().to_string());
    new.thread_key = clean(&body.thread_key);
    let recorded = record(&state, account, new).await?;
    let status = if recorded.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(recorded.communication)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommFilter {
    /// Only this channel: email, sms, phone_call, chat or form.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<String>)]
    pub kind: Option<Channel>,
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// A lead's communications, newest first.
#[utoipa::path(get, path = "/api/leads/{id}/communications", tag = "communications", params(("id" = i64, Path), CommFilter),
    responses((status = 200, body = Page<Communication>), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn lead_communications(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
    Query(f): Query<CommFilter>,
) -> Result<Json<Page<Communication>>> {
    let page = PageParams {
        limit: f.limit,
        cursor: f.cursor.clone(),
    };
    let (limit, cursor) = (page.limit()?, page.cursor()?);
    leads::get(&state.pool, account, id).await?;
    let rows = sqlx::query_as::<_, Communication>(&format!(
        "select {COMM_COLUMNS} from communications
         where lead_id = $1 and account_id = $2
           and ($3::text is null or type = $3)
           and ($4::timestamptz is null or (\"timestamp\", id) < ($4, $5))
         order by \"timestamp\" desc, id desc limit $6"
    ))
    .bind(id)
    .bind(account)
    .bind(f.kind.map(Channel::as_str))
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

/// SQL (a boolean expression): whether a person of the team wrote to the lead (`lead`, an
/// SQL expression) at or after `since` — not the AI, not an automation or automatic send.
/// Sequences stop on it, alerts wait for it, automatic answers give way to it.
pub fn person_answered_sql(lead: &str, since: &str) -> String {
    format!(
        "exists(select 1 from communications o where o.lead_id = {lead} and o.direction = 'outbound'
                and o.\"timestamp\" >= {since} and not o.ai_generated and o.metadata->>'automation' is null
                and not coalesce((o.metadata->>'automatic')::boolean, false))"
    )
}

/// SQL (a boolean expression): whether the lead wrote to us after `since`.
pub fn lead_replied_sql(lead: &str, since: &str) -> String {
    format!(
        "exists(select 1 from communications i where i.lead_id = {lead} and i.direction = 'inbound'
                and i.\"timestamp\" > {since})"
    )
}
