//! How events come to exist, and what they carry.
//!
//! Events are written by PostgreSQL statement-level triggers (migration
//! `20261207000020_webhooks_out.sql`) in the transaction of the change that caused them,
//! so an event exists if and only if its change committed, whatever path made the change
//! (the recording writer, the API, chat, imports, the automation engine):
//! - `leads` insert → `lead.created`;
//! - `leads` update → `lead.updated` (name, email, phone, address, roof age, issues,
//!   timeline or budget changed; not the score and activity every touch updates),
//!   `lead.stage_changed` (status), `lead.assigned` (assignee);
//! - `communications` insert → `communication.created`;
//! - `chat_sessions` update that sets `ended_at` → `chat.session.closed`;
//! - `automation_runs` insert with outcome `sent` (a sequence step queued, in the
//!   engine's transaction) → `automation.step.sent`.
//!
//! Each trigger joins the changed rows with the enabled subscriptions to that event, so
//! it writes nothing (and costs one index probe) for accounts that subscribe to nothing,
//! and ends with a `NOTIFY` that wakes the delivery worker.
//!
//! The body is the Standard Webhooks shape `{"type", "timestamp", "data"}`; the structs
//! below document `data` for each type (the OpenAPI components `WebhookEvent…`), and a
//! test checks that delivered payloads read into them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The PostgreSQL channel the triggers notify on.
pub const CHANNEL: &str = "leadline_webhooks_out";

/// A lead as `lead.*` events carry it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookLead {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    pub issues: Vec<String>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
    /// The first source (chat, form, google_ads…) and campaign.
    pub source: Option<String>,
    pub campaign: Option<String>,
    /// How the lead first came: utm_*, referrer, landing page, click and ad ids.
    #[schema(value_type = Object)]
    pub attribution: serde_json::Map<String, serde_json::Value>,
    /// new, contacted, inspection_scheduled, inspected, quoted, won, lost.
    pub status: String,
    pub score: i32,
    /// HOT, WARM or COLD.
    pub score_band: String,
    pub assigned_user_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// `lead.updated`: the profile fields that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed: Option<Vec<String>>,
    /// `lead.stage_changed`: the status before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_status: Option<String>,
    /// `lead.assigned`: the assignee before (null or absent: nobody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_assigned_user_id: Option<i64>,
}

/// `communication.created`: a touch recorded on any channel.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookCommunication {
    pub id: i64,
    pub lead_id: i64,
    /// email, sms, phone_call, chat (and form).
    #[serde(rename = "type")]
    pub kind: String,
    /// inbound or outbound.
    pub direction: String,
    pub timestamp: DateTime<Utc>,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub subject: Option<String>,
    pub content: Option<String>,
    pub status: Option<String>,
    /// Seconds (calls).
    pub duration: Option<i32>,
    pub ai_generated: bool,
    pub sentiment: Option<String>,
    pub sentiment_score: Option<f64>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// `chat.session.closed`: a website chat ended.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChatSession {
    pub id: i64,
    /// The widget's session id.
    pub session_id: String,
    pub site_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: DateTime<Utc>,
    pub message_count: i32,
    pub human_takeover: bool,
    pub engagement_score: Option<i32>,
    pub score_band: Option<String>,
    pub page_url: Option<String>,
}

/// `automation.step.sent`: a follow-up sequence queued one of its steps for a lead.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookAutomationStep {
    /// The automation log entry.
    pub id: i64,
    pub sequence_id: Option<i64>,
    pub sequence_name: Option<String>,
    pub enrollment_id: Option<i64>,
    pub lead_id: Option<i64>,
    /// 0-based.
    pub step: Option<i32>,
    /// The queued text or email (see `/api/outbox`).
    pub outbox_id: Option<i64>,
    pub at: DateTime<Utc>,
}

/// What `data` holds, by `type`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum WebhookEventData {
    Lead(WebhookLead),
    Communication(WebhookCommunication),
    ChatSession(WebhookChatSession),
    AutomationStep(WebhookAutomationStep),
}

/// The body of every outgoing webhook (Standard Webhooks' recommended shape), signed per
/// Standard Webhooks: headers `webhook-id` (the same on every retry and replay),
/// `webhook-timestamp` (unix seconds of the attempt) and `webhook-signature`
/// (`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one per valid secret,
/// space separated).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookEvent {
    /// lead.created, lead.updated, lead.stage_changed, lead.assigned,
    /// communication.created, chat.session.closed or automation.step.sent.
    #[serde(rename = "type")]
    pub kind: String,
    /// When the event happened.
    pub timestamp: DateTime<Utc>,
    pub data: WebhookEventData,
}

/// A body read back into its documented shape, chosen by its `type` (what a receiver's
/// code does; the tests use it to hold the SQL that builds payloads to the documentation).
pub fn parse(body: &[u8]) -> Result<WebhookEvent, String> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        #[serde(rename = "type")]
        kind: String,
        timestamp: DateTime<Utc>,
        data: serde_json::Value,
    }
    let raw: Raw = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let data = raw.data;
    let typed = match raw.kind.as_str() {
        "lead.created" | "lead.updated" | "lead.stage_changed" | "lead.assigned" => {
            serde_json::from_value(data).map(WebhookEventData::Lead)
        }
        "communication.created" => {
            serde_json::from_value(data).map(WebhookEventData::Communication)
        }
        "chat.session.closed" => serde_json::from_value(data).map(WebhookEventData::ChatSession),
        "automation.step.sent" => {
            serde_json::from_value(data).map(WebhookEventData::AutomationStep)
        }
        other => return Err(format!("unknown type {other}")),
    }
    .map_err(|e| format!("{}: {e}", raw.kind))?;
    Ok(WebhookEvent {
        kind: raw.kind,
        timestamp: raw.timestamp,
        data: typed,
    })
}

/// The payload schemas, merged into the API document's components.
#[derive(utoipa::OpenApi)]
#[openapi(components(schemas(
    WebhookEvent,
    WebhookEventData,
    WebhookLead,
    WebhookCommunication,
    WebhookChatSession,
    WebhookAutomationStep
)))]
pub struct EventsDoc;
