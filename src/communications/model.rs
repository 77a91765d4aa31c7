//! A communication as stored and as a channel hands it over (`NewCommunication`), and
//! the reading of stored rows: plain data with their checks, used by the recording path
//! and its writer.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::{AccountId, Channel, Direction, Identity};
use crate::error::{ApiError, Result};

pub const COMM_COLUMNS: &str = "id, lead_id, type, direction, \"timestamp\", from_address, to_address, subject, content, \
     metadata, status, duration, attachments, ai_generated, sentiment, sentiment_score, tags, provider, \
     provider_message_id, thread_key, created_at";

/// A stored communication.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Communication {
    pub id: i64,
    pub lead_id: i64,
    /// email, sms, phone_call, chat or form.
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
    /// Where the lead came from, kept when this communication creates the lead (or the lead
    /// has no source yet). Without one, a new lead's source is the channel.
    pub attribution: Option<crate::leads::attribution::Attribution>,
    /// The provider's webhook event this communication came from, stored as processed in
    /// the statement that stores the communication (one commit for both).
    pub receipt: Option<Receipt>,
}

/// A provider webhook event, as `webhook_events` keeps it.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub provider: &'static str,
    pub event_id: String,
    pub event_type: String,
    /// The whole delivery, as received.
    pub payload: Value,
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
            attribution: None,
            receipt: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
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
        if self.channel == Channel::Form && self.direction == Direction::Outbound {
            return Err(ApiError::invalid(
                "direction: a form communication is always inbound",
            ));
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

    /// Removes NUL characters from every text (PostgreSQL refuses them): what providers
    /// send is kept without them. API input never gets here with one (`extract` refuses it).
    pub(crate) fn strip_nul(&mut self) {
        use crate::sanitize::{strip, strip_json, strip_opt};
        for field in [
            &mut self.from_address,
            &mut self.to_address,
            &mut self.subject,
            &mut self.content,
            &mut self.status,
            &mut self.provider,
            &mut self.provider_message_id,
            &mut self.thread_key,
        ] {
            strip_opt(field);
        }
        strip_json(&mut self.metadata);
        strip_json(&mut self.attachments);
        self.tags.iter_mut().for_each(|t| {
            strip(t);
        });
        if let LeadRef::Identity(who) = &mut self.lead {
            // The email and phone were parsed: they hold no NUL.
            for field in [&mut who.name, &mut who.property_address] {
                strip_opt(field);
            }
        }
    }

    /// The lead's own address on this communication.
    pub(crate) fn counterpart(&self) -> Option<&str> {
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
    /// Whether `NewCommunication::receipt` was stored with it (not for a duplicate: the
    /// caller stores the event itself then).
    pub receipt_stored: bool,
    /// What the write stored on the lead with it (score, band, insights), so a caller
    /// that answers next need not read the lead again; `None` for a duplicate.
    pub lead_insights: Option<crate::leads::store::StoredInsights>,
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
