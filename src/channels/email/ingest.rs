//! Ingest (IMAP and webhooks): a received message becomes a communication in its thread,
//! or is quarantined when it cannot be read.

use chrono::Utc;
use serde_json::{json, Value};

use crate::communications::{self, LeadRef, NewCommunication};
use crate::domain::{AccountId, Channel, Direction, Identity};
use crate::error::{ApiError, Result};
use crate::phone::normalize_email;
use crate::quarantine;
use crate::state::AppState;

use super::parse::ParsedEmail;

use super::integration::EmailIntegration;
use super::{autoreply, parse};

/// What became of a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingested {
    Stored,
    /// Stored before (same Message-ID, or same content digest without one).
    Duplicate,
    /// Could not be stored: kept in the quarantine with the reason.
    Quarantined,
}

impl Ingested {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Duplicate => "duplicate",
            Self::Quarantined => "quarantined",
        }
    }

    /// One word for several copies (a message for several accounts): stored when any was.
    pub fn combined(all: &[Self]) -> Self {
        [Self::Stored, Self::Quarantined]
            .into_iter()
            .find(|o| all.contains(o))
            .unwrap_or(Self::Duplicate)
    }
}

/// The raw message as received, for the quarantine.
pub struct Received<'a> {
    pub source: quarantine::Source,
    pub raw: &'a [u8],
    /// Where it came from (folder and UID, content type…): what a retry needs.
    pub context: Value,
}

/// Stores a message, or quarantines it when it cannot be stored (no usable sender, a
/// refused row…). Only a transient failure (`ApiError::is_transient`: the database
/// unavailable, a deadlock…) is an error: then nothing was stored and the caller must not
/// move past the message.
#[allow(clippy::too_many_arguments)]
pub async fn ingest_or_quarantine(
    state: &AppState,
    integration: &EmailIntegration,
    parsed: ParsedEmail,
    direction: Direction,
    extra: Value,
    may_auto_reply: bool,
    received: Received<'_>,
) -> Result<Ingested> {
    let mut parsed = parsed;
    parsed.clamp();
    let summary = parsed.subject.clone();
    // Computed once: the stored row's id, or the quarantined item's.
    let identity = parsed.identity();
    let provider = received.source.as_str();
    let stored = ingest_clamped(
        state,
        integration,
        parsed,
        identity.clone(),
        direction,
        provider,
        extra,
        may_auto_reply,
    );
    match stored.await {
        Ok(true) => Ok(Ingested::Stored),
        Ok(false) => Ok(Ingested::Duplicate),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            let mut received = received;
            received.context["direction"] = json!(direction.as_str());
            let reason = crate::error::describe(&e);
            quarantine(
                state,
                integration,
                reason,
                summary,
                Some(identity),
                received,
            )
            .await
        }
    }
}

/// Keeps a message that cannot be stored, with the reason.
pub async fn quarantine(
    state: &AppState,
    integration: &EmailIntegration,
    reason: String,
    summary: Option<String>,
    identity: Option<String>,
    received: Received<'_>,
) -> Result<Ingested> {
    let mut context = received.context;
    if let Some(s) = summary {
        context["summary"] = json!(s.chars().take(200).collect::<String>());
    }
    quarantine::put(
        &state.pool,
        quarantine::Item {
            account: Some(integration.account_id),
            source: received.source,
            integration_id: Some(integration.id),
            reason,
            raw: received.raw,
            context,
            identity,
        },
    )
    .await?;
    Ok(Ingested::Quarantined)
}

/// The thread a message belongs to: the thread of a stored message it answers (by
/// In-Reply-To and References, whichever arrived first), else its own root.
async fn thread_of(
    state: &AppState,
    account: AccountId,
    parsed: &ParsedEmail,
) -> Result<Option<String>> {
    let parents = parsed.parents();
    if !parents.is_empty() {
        let known: Option<String> = sqlx::query_scalar(
            "select thread_key from communications
             where account_id = $1 and type = 'email' and provider_message_id = any($2) and thread_key is not null
             order by \"timestamp\", id limit 1",
        )
        .bind(account)
        .bind(&parents)
        .fetch_optional(&state.pool)
        .await?;
        if known.is_some() {
            return Ok(known);
        }
    }
    Ok(parsed.thread_key())
}

/// Stores one parsed email through the recording path (attachments stored once by
/// SHA-256) and, for a new inbound message, considers an automatic reply. Returns
/// whether a new communication was stored (false: a duplicate). A message without a
/// usable sender (inbound) or recipient (outbound) is refused: an identity is never made up.
pub async fn ingest(
    state: &AppState,
    integration: &EmailIntegration,
    mut parsed: ParsedEmail,
    direction: Direction,
    provider: &str,
    extra: Value,
    may_auto_reply: bool,
) -> Result<bool> {
    parsed.clamp();
    let identity = parsed.identity();
    ingest_clamped(
        state,
        integration,
        parsed,
        identity,
        direction,
        provider,
        extra,
        may_auto_reply,
    )
    .await
}

/// `ingest` of a message already clamped, whose identity is computed.
#[allow(clippy::too_many_arguments)]
async fn ingest_clamped(
    state: &AppState,
    integration: &EmailIntegration,
    parsed: ParsedEmail,
    identity: String,
    direction: Direction,
    provider: &str,
    extra: Value,
    may_auto_reply: bool,
) -> Result<bool> {
    let ours = integration.email.clone();
    let (from, to) = match direction {
        Direction::Inbound => (
            parsed.from.clone(),
            parsed.to.first().cloned().or(Some(ours)),
        ),
        Direction::Outbound => (
            parsed.from.clone().or(Some(ours)),
            parsed.to.first().or(parsed.cc.first()).cloned(),
        ),
    };
    let counterpart = match direction {
        Direction::Inbound => &from,
        Direction::Outbound => &to,
    };
    if counterpart.as_deref().and_then(normalize_email).is_none() {
        return Err(ApiError::Unprocessable(
            "no_usable_address",
            match direction {
                Direction::Inbound => "the message has no usable sender address (From, Sender, Reply-To or Return-Path)",
                Direction::Outbound => "the sent message has no usable recipient address (To or Cc)",
            }
            .into(),
        ));
    }
    for a in &parsed.attachments {
        sqlx::query(
            "insert into attachments (sha256, content_type, size, content) values ($1, $2, $3, $4)
             on conflict (sha256) do nothing",
        )
        .bind(&a.sha256)
        .bind(a.content_type.replace('\0', ""))
        .bind(a.size as i64)
        .bind(&a.data)
        .execute(&state.pool)
        .await?;
    }
    let who = Identity {
        name: match direction {
            Direction::Inbound => parsed.from_name.clone(),
            Direction::Outbound => None,
        },
        ..Identity::default()
    };
    let thread_key = thread_of(state, integration.account_id, &parsed).await?;
    let mut new = NewCommunication::new(LeadRef::Identity(who), Channel::Email, direction);
    new.timestamp = parsed.date.or(parsed.received).map(|d| d.min(Utc::now()));
    new.from_address = from;
    new.to_address = to;
    new.subject = parsed.subject.clone();
    new.content = Some(parsed.content.clone())
        .filter(|c| !c.is_empty())
        .or(Some(parsed.text.clone()));
    new.attachments = Value::Array(
        parsed
            .attachments
            .iter()
            .map(parse::Attachment::meta)
            .collect(),
    );
    new.metadata = parsed.metadata(extra);
    new.provider = Some(provider.to_string());
    new.provider_message_id = Some(identity);
    new.thread_key = thread_key.clone();
    if !parsed.parse_errors.is_empty() {
        new.tags = vec!["parse_error".into()];
    }
    let recorded = communications::record(state, integration.account_id, new).await?;
    if !recorded.duplicate {
        // Replies that arrived before this message started a thread of their own, named
        // after it: they join this message's thread.
        if let (Some(own), Some(thread)) = (&parsed.message_id, &thread_key) {
            if own != thread {
                communications::join_thread(
                    &state.pool,
                    integration.account_id,
                    Channel::Email,
                    own,
                    thread,
                )
                .await?;
            }
        }
    }
    if !recorded.duplicate && direction == Direction::Inbound && may_auto_reply {
        if let Err(e) =
            autoreply::maybe_reply(state, integration, &parsed, &recorded.communication).await
        {
            tracing::warn!(communication = recorded.communication.id, error = %e, "automatic reply not queued");
        }
    }
    Ok(!recorded.duplicate)
}
