//! Email: connecting a mailbox (IMAP + SMTP, password sealed with the master key), IMAP
//! sync, sending through the outbox, inbound provider webhooks (Mailgun, SendGrid), the
//! thread inbox, and automatic replies. Every message goes through `parse` and then
//! `communications::record`.

pub mod autoreply;
pub mod config;
mod connect;
pub mod form;
pub mod imap;
mod inbox;
pub mod ingest;
pub mod integration;
pub mod parse;
pub mod send;
pub mod smtp;
pub mod sync;
mod watermark;
pub mod webhooks;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::Direction;
use crate::error::{ApiError, Result};
use crate::quarantine;
use crate::state::AppState;

use self::ingest::{ingest, Ingested};
use self::integration::{EmailIntegration, INTEGRATION_COLUMNS};

/// Outbox kind of an email send.
pub const OUTBOX_KIND: &str = "email";

/// Transport security of a mail server connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (IMAPS 993, SMTPS 465).
    Tls,
    /// Plain connection upgraded with STARTTLS (143, 587).
    Starttls,
    /// No encryption: loopback hosts only, unless `LEADLINE_ALLOW_INSECURE_MAIL=true`.
    None,
}

impl Security {
    fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Starttls => "starttls",
            Self::None => "none",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "tls" => Self::Tls,
            "starttls" => Self::Starttls,
            _ => Self::None,
        }
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect::connect))
        .routes(routes!(connect::status))
        .routes(routes!(connect::test_settings))
        .routes(routes!(connect::disconnect))
        .routes(routes!(connect::rotate_inbound_token))
        .routes(routes!(connect::sync_now))
        .routes(routes!(inbox::inbox))
        .routes(routes!(send::send_email))
        .merge(
            // Forwarded mail carries its attachments: a larger limit than the API's.
            OpenApiRouter::new()
                .routes(routes!(webhooks::mailgun))
                .routes(routes!(webhooks::sendgrid))
                .layer(axum::extract::DefaultBodyLimit::max(
                    webhooks::MAX_BODY_BYTES,
                )),
        )
}

/// What the outbox sends (its payload).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    /// Parent Message-ID (without brackets).
    pub in_reply_to: Option<String>,
    /// Oldest first.
    #[serde(default)]
    pub references: Vec<String>,
    pub thread_key: Option<String>,
    pub lead_id: Option<i64>,
    #[serde(default)]
    pub ai_generated: bool,
    /// An automatic reply: carries `Auto-Submitted: auto-replied`.
    #[serde(default)]
    pub auto_reply: bool,
    /// Fixed when queued, so the recorded row and the sent message agree.
    pub message_id: Option<String>,
    /// The AI responder's provider metadata, for AI replies.
    pub ai: Option<Value>,
    /// To a person of the team (invitation, password reset), not a lead: sent through the
    /// account's mailbox but not recorded as a communication.
    #[serde(default)]
    pub team: bool,
    /// Sent by an automation (its name): no person wrote it.
    #[serde(default)]
    pub automation: Option<String>,
}

/// Retries a quarantined email (its bytes read again, as when it arrived).
pub async fn retry_quarantined(
    state: &AppState,
    item: &quarantine::Stored,
    source: quarantine::Source,
) -> Result<Ingested> {
    let i = match item.integration_id {
        Some(id) => {
            sqlx::query_as::<_, EmailIntegration>(&format!(
                "select {INTEGRATION_COLUMNS} from email_integrations where id = $1"
            ))
            .bind(id)
            .fetch_optional(&state.pool)
            .await?
        }
        None => None,
    }
    .ok_or_else(|| {
        ApiError::Conflict(
            "email_not_connected",
            "the mailbox this message came through is gone: connect it again".into(),
        )
    })?;
    let direction = match item.context["direction"].as_str() {
        Some("outbound") => Direction::Outbound,
        _ => Direction::Inbound,
    };
    let (parsed, extra) = match source {
        quarantine::Source::Imap => {
            let mut p = parse::parse(&item.raw);
            p.received = item.context["received"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.with_timezone(&Utc));
            (p, json!({"imap": item.context["imap"]}))
        }
        _ => (
            webhooks::reparse(source, &item.raw, &item.context).map_err(ApiError::invalid)?,
            json!({}),
        ),
    };
    let stored = ingest(state, &i, parsed, direction, source.as_str(), extra, false).await?;
    Ok(if stored {
        Ingested::Stored
    } else {
        Ingested::Duplicate
    })
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::config::EmailConfig;

    #[test]
    fn settings_read_cron_and_cooldown() {
        let vars = |k: &str| match k {
            "LEADLINE_SYNC_CRON" => Some("*/5 * * * *".to_string()),
            "LEADLINE_AUTOREPLY_COOLDOWN" => Some("30m".to_string()),
            "LEADLINE_ALLOW_INSECURE_MAIL" => Some("true".to_string()),
            _ => None,
        };
        let c = EmailConfig::from_lookup(&vars).unwrap();
        assert_eq!(c.sync_cron, "0 */5 * * * *");
        assert_eq!(c.autoreply_cooldown, Duration::minutes(30));
        assert!(c.allow_insecure);
        let bad = |k: &str| (k == "LEADLINE_AUTOREPLY_COOLDOWN").then(|| "soon".to_string());
        assert!(EmailConfig::from_lookup(&bad).is_err());
        let bad = |k: &str| (k == "LEADLINE_SYNC_CRON").then(|| "* * * * 99".to_string());
        assert!(EmailConfig::from_lookup(&bad).is_err());
    }
}
