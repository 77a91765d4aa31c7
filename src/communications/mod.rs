//! The one recording path: every channel turns what it receives into a
//! `NewCommunication` and calls `record()`. Nothing else inserts into `communications`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;
use crate::auth::{AccountId, AuthAccount};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::leads::{self, clean, normalize_identity, Identity, LeadIdentity};
use crate::pagination::{Cursor, Page, PageParams};
use crate::phone::{normalize_email, normalize_phone};
use crate::tracker;
use crate::tracker::model::{Channel, Direction, Touch};

mod writer;
pub use writer::Recorder;

pub(crate) const COMM_COLUMNS: &str = "id, lead_id, type, direction, \"timestamp\", from_address, to_address, subject, content, \
     metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score, tags, provider, \
     provider_message_id, thread_key, created_at";

/// A stored communication.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Communication {
    pub id: i64,
    pub lead_id: i64,
    /// email, sms, phone_call or chat.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    pub kind: String,
    /// inbound (from the lead) or outbound (from the roofer or the AI).
    pub direction: String,
    pub timestamp: DateTime<Utc>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Value,
    pub status: Option<String>,
    /// Seconds, for calls.
    pub duration: Option<i32>,
    #[schema(value_type = Vec<Object>)]
    pub attachments: Value,
    pub ai_generated: bool,
    /// positive, neutral or negative.
    pub sentiment: Option<String>,
    /// In [-1, 1].
    pub sentiment_score: Option<f32>,
    pub tags: Vec<String>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub thread_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Who the communication is with.
#[derive(Debug, Clone)]
pub enum LeadRef {
    /// A lead of the recording account (checked).
    Id(i64),
    /// Find or create by these fields; when they carry no email or phone, the lead is
    /// identified from the counterpart address (`from` when inbound, `to` when outbound).
    Identity(Identity),
}

/// What a channel hands to `record()`.
#[derive(Debug, Clone)]
pub struct NewCommunication {
    pub lead: LeadRef,
    pub channel: Channel,
    pub direction: Direction,
    /// When it happened; now when unknown.
    pub timestamp: Option<DateTime<Utc>>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    pub metadata: Value,
    pub status: Option<String>,
    pub duration: Option<i32>,
    pub attachments: Value,
    pub ai_generated: bool,
    pub tags: Vec<String>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub thread_key: Option<String>,
}

impl NewCommunication {
    /// A communication with only the required parts set.
    pub fn new(lead: LeadRef, channel: Channel, direction: Direction) -> Self {
        Self {
            lead,
            channel,
            direction,
            timestamp: None,
            from_address: None,
            to_address: None,
            subject: None,
            content: None,
            metadata: Value::Object(Default::default()),
            status: None,
            duration: None,
            attachments: Value::Array(vec![]),
            ai_generated: false,
            tags: vec![],
            provider: None,
            provider_message_id: None,
            thread_key: None,
        }
    }

    fn validate(&self) -> Result<()> {
        let too_long = |v: &Option<String>, field: &str, max: usize| match v {
            Some(s) if s.chars().count() > max => Err(ApiError::invalid(format!(
                "{field} is longer than {max} characters"
            ))),
            _ => Ok(()),
        };
        too_long(&self.subject, "subject", 1000)?;
        too_long(&self.from_address, "from_address", 500)?;
        too_long(&self.to_address, "to_address", 500)?;
        too_long(&self.status, "status", 50)?;
        too_long(&self.provider, "provider", 50)?;
        too_long(&self.provider_message_id, "provider_message_id", 500)?;
        too_long(&self.thread_key, "thread_key", 1000)?;
        if !self.metadata.is_object() {
            return Err(ApiError::invalid("metadata must be a JSON object"));
        }
        if !self.attachments.is_array() {
            return Err(ApiError::invalid("attachments must be a JSON array"));
        }
        if let Some(d) = self.duration {
            if !(0..=7 * 24 * 3600).contains(&d) {
                return Err(ApiError::invalid(
                    "duration must be between 0 and 604800 seconds",
                ));
            }
        }
        if self.tags.len() > 50
            || self
                .tags
                .iter()
                .any(|t| t.is_empty() || t.chars().count() > 100)
        {
            return Err(ApiError::invalid(
                "tags: at most 50 non-empty tags of at most 100 characters",
            ));
        }
        if let Some(ts) = self.timestamp {
            if ts > Utc::now() + Duration::days(1) {
                return Err(ApiError::invalid(
                    "timestamp is more than a day in the future",
                ));
            }
        }
        if self
            .provider_message_id
            .as_deref()
            .is_some_and(|p| p.trim().is_empty())
        {
            return Err(ApiError::invalid("provider_message_id must not be empty"));
        }
        Ok(())
    }

    /// The lead's own address on this communication.
    fn counterpart(&self) -> Option<&str> {
        match self.direction {
            Direction::Inbound => self.from_address.as_deref(),
            Direction::Outbound => self.to_address.as_deref(),
        }
    }
}

/// The outcome of `record()`: the stored row, and whether it already existed.
#[derive(Debug)]
pub struct Recorded {
    pub communication: Communication,
    pub duplicate: bool,
}

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
                        Channel::Email => who.email = normalize_email(addr),
                        Channel::Sms | Channel::PhoneCall => {
                            who.phone = normalize_phone(addr, state.config.default_region)
                        }
                        Channel::Chat => {}
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

pub async fn find_by_provider_id(
    pool: &sqlx::PgPool,
    account: AccountId,
    channel: Channel,
    pmid: &str,
) -> Result<Option<Communication>> {
    Ok(sqlx::query_as::<_, Communication>(&format!(
        "select {COMM_COLUMNS} from communications where account_id = $1 and type = $2 and provider_message_id = $3"
    ))
    .bind(account)
    .bind(channel.as_str())
    .bind(pmid)
    .fetch_optional(pool)
    .await?)
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
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
    pub timestamp: Option<DateTime<Utc>>,
    pub content: Option<String>,
    pub subject: Option<String>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    pub status: Option<String>,
    pub duration: Option<i32>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub attachments: Option<Value>,
    pub ai_generated: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub provider: Option<String>,
    /// The provider's id for this message; a repeat returns the existing row.
    pub provider_message_id: Option<String>,
    pub thread_key: Option<String>,
    /// An existing lead of this account.
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
    /// Only this channel: email, sms, phone_call or chat.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<String>)]
    pub kind: Option<Channel>,
    pub limit: Option<i64>,
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
