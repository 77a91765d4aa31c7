//! Sending: the send endpoint, `queue` into the outbox, and the outbox's `deliver`
//! through SMTP (connect apart from transmit).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::AuthAccount;
use crate::communications::{self, LeadRef, NewCommunication};
use crate::domain::{Channel, Direction, Identity};
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::outbox::{self, OutboxItem, Outcome};
use crate::phone::normalize_email;
use crate::state::AppState;

use super::integration::{connected, integration, scrub, EmailIntegration};
use super::{smtp, OutgoingEmail, OUTBOX_KIND};

/// `Re: subject`, without stacking prefixes.
pub fn reply_subject(subject: Option<&str>) -> String {
    let s = subject.unwrap_or("").trim();
    if s.to_ascii_lowercase().starts_with("re:") {
        s.to_string()
    } else if s.is_empty() {
        "Re: your message".into()
    } else {
        format!("Re: {s}")
    }
}

/// Queues an email; returns the outbox id.
pub async fn queue<'c, E>(
    exec: E,
    integration: &EmailIntegration,
    mut email: OutgoingEmail,
    idempotency_key: Option<&str>,
) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    if email.message_id.is_none() {
        email.message_id = Some(smtp::new_message_id(&integration.email));
    }
    if email.thread_key.is_none() {
        email.thread_key = email
            .references
            .first()
            .cloned()
            .or_else(|| email.in_reply_to.clone())
            .or_else(|| email.message_id.clone());
    }
    let payload = serde_json::to_value(&email).map_err(anyhow::Error::from)?;
    outbox::enqueue(
        exec,
        integration.account_id,
        OUTBOX_KIND,
        &payload,
        idempotency_key,
        None,
    )
    .await
}

/// Queues a message to a person of the team (invitation, reset) through the account's
/// mailbox; `None` when the account has no active mailbox to send it with.
pub async fn queue_team_email(
    state: &AppState,
    account: crate::domain::AccountId,
    to: &str,
    subject: &str,
    body_text: &str,
) -> Result<Option<i64>> {
    let Some(i) = integration(state, account).await?.filter(|i| i.is_active) else {
        return Ok(None);
    };
    let email = OutgoingEmail {
        to: to.to_string(),
        subject: subject.to_string(),
        body_text: body_text.to_string(),
        body_html: None,
        in_reply_to: None,
        references: Vec::new(),
        thread_key: None,
        lead_id: None,
        ai_generated: false,
        auto_reply: false,
        message_id: None,
        ai: None,
        team: true,
        automation: None,
    };
    Ok(Some(queue(&state.pool, &i, email, None).await?))
}

/// Queues an automation's email to a lead through the account's mailbox, once per
/// `idempotency_key`; `None` when no mailbox is connected.
#[allow(clippy::too_many_arguments)]
pub async fn queue_for_automation<'c, E>(
    state: &AppState,
    exec: E,
    account: crate::domain::AccountId,
    lead_id: i64,
    to: &str,
    subject: &str,
    body_text: &str,
    automation: &str,
    idempotency_key: &str,
) -> Result<Option<i64>>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let Some(i) = integration(state, account).await?.filter(|i| i.is_active) else {
        return Ok(None);
    };
    let email = OutgoingEmail {
        to: to.to_string(),
        subject: subject.to_string(),
        body_text: body_text.to_string(),
        body_html: None,
        in_reply_to: None,
        references: Vec::new(),
        thread_key: None,
        lead_id: Some(lead_id),
        ai_generated: false,
        auto_reply: false,
        message_id: None,
        ai: None,
        team: false,
        automation: Some(automation.to_string()),
    };
    Ok(Some(queue(exec, &i, email, Some(idempotency_key)).await?))
}

/// Body of `POST /api/integrations/email/send`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendEmail {
    /// The recipient; or give `lead_id`.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub to: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub lead_id: Option<i64>,
    /// Defaults to `Re: <parent subject>` when replying.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub subject: Option<String>,
    #[schema(min_length = 1, max_length = 200000, pattern = r"\S")]
    pub body_text: String,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub body_html: Option<String>,
    /// Reply in this communication's thread (In-Reply-To / References set).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub in_reply_to_communication_id: Option<i64>,
}

/// Accepted for sending.
#[derive(Debug, Serialize, ToSchema)]
pub struct Queued {
    pub outbox_id: i64,
    pub message_id: String,
}

/// Queues an email through the outbox; 202 with the outbox id. Recorded as an outbound
/// email communication once the SMTP server accepts it.
#[utoipa::path(post, path = "/api/integrations/email/send", tag = "email", request_body = SendEmail,
    responses((status = 202, body = Queued), (status = 409, description = "no mailbox is connected", body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(super) async fn send_email(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<SendEmail>,
) -> Result<(StatusCode, Json<Queued>)> {
    let i = connected(&state, account).await?;
    if body.body_text.trim().is_empty() || body.body_text.len() > 200_000 {
        return Err(ApiError::invalid(
            "body_text must be 1 to 200000 characters",
        ));
    }
    if body.body_html.as_ref().is_some_and(|h| h.len() > 500_000) {
        return Err(ApiError::invalid(
            "body_html is longer than 500000 characters",
        ));
    }
    let parent = match body.in_reply_to_communication_id {
        Some(id) => Some(
            sqlx::query_as::<_, (i64, Option<String>, Option<String>, Option<String>, Value, Option<String>, String)>(
                "select lead_id, provider_message_id, thread_key, subject, metadata, from_address, direction
                 from communications where id = $1 and account_id = $2 and type = 'email'",
            )
            .bind(id)
            .bind(account)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound("communication"))?,
        ),
        None => None,
    };
    let lead_id = body.lead_id.or(parent.as_ref().map(|p| p.0));
    let to = match (&body.to, lead_id) {
        (Some(to), _) => {
            normalize_email(to).ok_or_else(|| ApiError::invalid("to is not an email address"))?
        }
        (None, Some(lead)) => {
            let email: Option<Option<String>> =
                sqlx::query_scalar("select email from leads where id = $1 and account_id = $2")
                    .bind(lead)
                    .bind(account)
                    .fetch_optional(&state.pool)
                    .await?;
            email
                .ok_or(ApiError::NotFound("lead"))?
                .ok_or_else(|| ApiError::invalid("the lead has no email address"))?
        }
        (None, None) => return Err(ApiError::invalid("give to or lead_id")),
    };
    if let (Some(lead), Some(_)) = (body.lead_id, &body.to) {
        let exists: bool = sqlx::query_scalar(
            "select exists(select 1 from leads where id = $1 and account_id = $2)",
        )
        .bind(lead)
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
        if !exists {
            return Err(ApiError::NotFound("lead"));
        }
    }
    let (in_reply_to, references, thread_key, parent_subject) = match &parent {
        Some((_, pmid, tk, subject, meta, _, _)) => {
            let mut refs: Vec<String> = meta["email"]["references"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let parent_id = meta["email"]["message_id"]
                .as_str()
                .map(str::to_string)
                .or(pmid.clone());
            if let Some(p) = &parent_id {
                refs.push(p.clone());
            }
            (parent_id, refs, tk.clone(), subject.clone())
        }
        None => (None, vec![], None, None),
    };
    let subject = match body
        .subject
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(s) => s.to_string(),
        None if parent.is_some() => reply_subject(parent_subject.as_deref()),
        None => return Err(ApiError::invalid("subject is required")),
    };
    if subject.chars().count() > 998 || subject.contains(['\r', '\n']) {
        return Err(ApiError::invalid(
            "subject must be one line of at most 998 characters",
        ));
    }
    let email = OutgoingEmail {
        to,
        subject,
        body_text: body.body_text,
        body_html: body.body_html,
        in_reply_to,
        references,
        thread_key,
        lead_id,
        ai_generated: false,
        auto_reply: false,
        message_id: Some(smtp::new_message_id(&i.email)),
        ai: None,
        team: false,
        automation: None,
    };
    let message_id = email.message_id.clone().unwrap_or_default();
    let outbox_id = queue(&state.pool, &i, email, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Queued {
            outbox_id,
            message_id,
        }),
    ))
}

/// Sends one claimed email outbox item, then records it as an outbound communication.
pub async fn deliver(state: &AppState, item: &OutboxItem) -> Outcome {
    let email: OutgoingEmail = match serde_json::from_value(item.payload.clone()) {
        Ok(e) => e,
        Err(e) => {
            return Outcome::Failed {
                error: format!("unreadable email payload: {e}"),
            }
        }
    };
    let i = match integration(state, item.account_id).await {
        Ok(Some(i)) if i.is_active => i,
        Ok(_) => {
            return Outcome::Failed {
                error: "email is not connected".into(),
            }
        }
        Err(e) => {
            return Outcome::Retry {
                error: e.to_string(),
                after: None,
            }
        }
    };
    let message_id = match item.accepted_as() {
        // The server took it before the worker stopped: only the record is missing.
        Some(id) => id.to_string(),
        None => match send_now(state, item, &i, &email).await {
            Ok(id) => id,
            Err(outcome) => return outcome,
        },
    };
    if email.team {
        return Outcome::Sent {
            communication_id: None,
        };
    }
    let lead = match email.lead_id {
        Some(id) => LeadRef::Id(id),
        None => LeadRef::Identity(Identity::default()),
    };
    let mut new = NewCommunication::new(lead, Channel::Email, Direction::Outbound);
    new.from_address = Some(i.email.clone());
    new.to_address = Some(email.to.clone());
    new.subject = Some(email.subject.clone());
    new.content = Some(email.body_text.clone());
    new.status = Some("sent".into());
    new.provider = Some("smtp".into());
    new.provider_message_id = Some(message_id.clone());
    new.thread_key = email.thread_key.clone();
    new.ai_generated = email.ai_generated;
    new.metadata = json!({
        "email": {"message_id": message_id, "in_reply_to": email.in_reply_to, "references": email.references,
                  "to": [email.to], "body_html": email.body_html, "auto_submitted": email.auto_reply.then_some("auto-replied")},
        "outbox_id": item.id,
        "automation": email.automation,
    });
    if let Some(ai) = &email.ai {
        new.metadata["ai"] = ai.clone();
    }
    match communications::record(state, item.account_id, new).await {
        Ok(r) => Outcome::Sent {
            communication_id: Some(r.communication.id),
        },
        // Sent already: the item stays `accepted` and only the recording is retried.
        Err(e) => Outcome::Retry {
            error: e.to_string(),
            after: None,
        },
    }
}

/// Hands the message to the account's SMTP server; its Message-ID once accepted.
async fn send_now(
    state: &AppState,
    item: &OutboxItem,
    i: &EmailIntegration,
    email: &OutgoingEmail,
) -> Result<String, Outcome> {
    let settings = i
        .smtp_settings(state)
        .map_err(|error| Outcome::Failed { error })?;
    let (msg, message_id) =
        smtp::build(&i.email, email).map_err(|error| Outcome::Failed { error })?;
    let outcome = |e: smtp::SendError| {
        let error = scrub(e.message, &settings.password);
        if e.maybe_delivered {
            Outcome::Unknown { error }
        } else if e.permanent {
            Outcome::Failed { error }
        } else {
            Outcome::Retry { error, after: None }
        }
    };
    // A server that never greets holds only this item; nothing has left yet.
    let ready = smtp::connect(&settings).await.map_err(outcome)?;
    if let Err(e) = outbox::mark_sending(&state.pool, item.id).await {
        return Err(Outcome::Retry {
            error: e.to_string(),
            after: None,
        });
    }
    if let Err(e) = smtp::transmit(ready, msg).await {
        let refused = outcome(e);
        if matches!(refused, Outcome::Retry { .. }) {
            // The server answered with a temporary refusal: a retry cannot send twice.
            // If this write fails, the item stays `sending` and is settled `unknown`.
            let _ = outbox::mark_not_sent(&state.pool, item.id).await;
        }
        return Err(refused);
    }
    if let Err(e) = outbox::mark_accepted(&state.pool, item.id, &message_id).await {
        // Sent: recording goes on; if the process stops now, the item reads `unknown`.
        tracing::error!(item = item.id, error = %e, "email sent but its acceptance not noted");
    }
    Ok(message_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_subjects_do_not_stack() {
        assert_eq!(reply_subject(Some("Quote")), "Re: Quote");
        assert_eq!(reply_subject(Some("RE: Quote")), "RE: Quote");
    }
}
