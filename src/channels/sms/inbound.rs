//! The webhook's effects: inbound texts become communications (opt-out keywords applied)
//! and delivery statuses move a sent text's status forward.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};

use crate::communications::{self, LeadRef, NewCommunication, Receipt};
use crate::domain::{AccountId, Channel, Direction, Identity, Phone};
use crate::error::{ApiError, Result};
use crate::phone::normalize_phone;
use crate::state::AppState;

use crate::telnyx::events::{self as webhook, mark_processed, store_event, Event, Stored};

use super::rules::{keyword, Keyword};

/// `payload.to` is an array of `{phone_number, status}` in the current API and a plain
/// string in older deliveries.
fn first_to(payload: &Value) -> (Option<&str>, Option<&str>) {
    match &payload["to"] {
        Value::String(s) => (Some(s.as_str()), None),
        Value::Array(items) => items
            .first()
            .map(|t| match t {
                Value::String(s) => (Some(s.as_str()), None),
                o => (o["phone_number"].as_str(), o["status"].as_str()),
            })
            .unwrap_or((None, None)),
        _ => (None, None),
    }
}

fn phone_field(v: &Value) -> Option<&str> {
    v.as_str().or_else(|| v["phone_number"].as_str())
}

/// `message.received`: an inbound text becomes a communication; keywords opt out / in.
pub(crate) async fn handle_received(state: &AppState, ev: &Event) -> Result<&'static str> {
    let p = &ev.payload;
    let region = state.config.default_region;
    let to = first_to(p).0.and_then(|t| normalize_phone(t, region));
    let found = match &to {
        Some(t) => state.telnyx_numbers.owner(&state.pool, t).await?,
        None => None,
    };
    if let Some((_, key)) = &found {
        ev.check_key_for(key.as_deref())?;
    }
    let account = found.as_ref().map(|(a, _)| *a);
    // The event is stored (processed) after its effect: recording dedupes on the message
    // id and the opt-out updates are idempotent, so a redelivery after a failure between
    // the two, or a replay, changes nothing.
    let done = |account| webhook::store_processed(&state.pool, ev, account);
    let Some(account) = account else {
        tracing::warn!(event = %ev.id, "inbound SMS to a number no account has connected; stored only");
        done(None).await?;
        return Ok("unknown_number");
    };
    let Some(message_id) = p["id"].as_str().filter(|s| !s.trim().is_empty()) else {
        tracing::warn!(event = %ev.id, "inbound SMS without a message id; stored only");
        done(Some(account)).await?;
        return Ok("ignored");
    };
    let from_raw = phone_field(&p["from"]).unwrap_or_default();
    let Some(from) = normalize_phone(from_raw, region) else {
        tracing::warn!(event = %ev.id, "inbound SMS from an unusable number; stored only");
        done(Some(account)).await?;
        return Ok("ignored");
    };
    let text = p["text"].as_str().unwrap_or_default().to_string();
    let kw = keyword(&text);
    let at = p["received_at"]
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
        .or(ev.occurred_at)
        .filter(|t| *t <= Utc::now() + TimeDelta::hours(1));
    let attachments: Vec<Value> = p["media"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|item| {
                    let url = item["url"].as_str()?;
                    Some(json!({"url": url, "content_type": item["content_type"], "size": item["size"]}))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut new = NewCommunication::new(
        LeadRef::Identity(Identity {
            phone: Phone::parse(&from, region),
            ..Default::default()
        }),
        Channel::Sms,
        Direction::Inbound,
    );
    new.timestamp = at;
    new.from_address = Some(from.clone());
    new.to_address = to.clone();
    new.content = Some(text);
    new.attachments = Value::Array(attachments);
    new.status = Some("received".into());
    new.provider = Some(webhook::PROVIDER.into());
    new.provider_message_id = Some(message_id.to_string());
    new.metadata = json!({
        "event_id": ev.id,
        "type": p["type"],
        "parts": p["parts"],
        "messaging_profile_id": p["messaging_profile_id"],
    });
    new.tags = match kw {
        Some(Keyword::OptOut) => vec!["opt_out".into()],
        Some(Keyword::OptIn) => vec!["opt_in".into()],
        Some(Keyword::Help) => vec!["help".into()],
        None => vec![],
    };
    // A plain text's event is stored with it, in the writer's statement. An opt-out or
    // opt-in has a lead update to do first: its event is stored after that, below.
    if kw.is_none() {
        new.receipt = Some(Receipt {
            provider: webhook::PROVIDER,
            event_id: ev.id.clone(),
            event_type: ev.event_type.clone(),
            payload: ev.envelope.clone(),
        });
    }
    let recorded = match communications::record(state, account, new).await {
        Ok(r) => r,
        Err(e @ (ApiError::Unprocessable(..) | ApiError::NotFound(_))) => {
            tracing::warn!(event = %ev.id, error = %e, "inbound SMS could not be recorded; stored only");
            done(Some(account)).await?;
            return Ok("ignored");
        }
        Err(e) => return Err(e),
    };
    let when = at.unwrap_or_else(Utc::now);
    let lead = recorded.communication.lead_id;
    match kw {
        Some(Keyword::OptOut) => {
            sqlx::query(
                "update leads set sms_opted_out_at = $3, sms_opt_out_message_id = $4, updated_at = now()
                 where id = $1 and account_id = $2 and sms_opted_out_at is null",
            )
            .bind(lead)
            .bind(account)
            .bind(when)
            .bind(message_id)
            .execute(&state.pool)
            .await?;
        }
        Some(Keyword::OptIn) => {
            // A START older than the STOP on record (out-of-order delivery) does not undo it.
            sqlx::query(
                "update leads set sms_opted_out_at = null, sms_opt_out_message_id = null, updated_at = now()
                 where id = $1 and account_id = $2 and sms_opted_out_at <= $3",
            )
            .bind(lead)
            .bind(account)
            .bind(when)
            .execute(&state.pool)
            .await?;
        }
        Some(Keyword::Help) | None => {}
    }
    if !recorded.receipt_stored {
        done(Some(account)).await?;
    }
    Ok(if recorded.duplicate {
        "duplicate"
    } else {
        "recorded"
    })
}

/// SQL rank of a delivery status: statuses only ever move to a higher rank.
fn rank_sql(col: &str) -> String {
    format!(
        "(case {col} when 'queued' then 0 when 'sending' then 1 when 'sent' then 2
            when 'delivered' then 3 when 'sending_failed' then 3 when 'delivery_failed' then 3
            when 'delivery_unconfirmed' then 3 when 'expired' then 3 else -1 end)"
    )
}

/// Applies one status event to the outbound row with that message id. Idempotent (the
/// history keeps each event once); returns whether the row exists.
async fn apply_status(state: &AppState, account: AccountId, envelope: &Value) -> Result<bool> {
    let data = &envelope["data"];
    let p = &data["payload"];
    let Some(message_id) = p["id"].as_str() else {
        return Ok(false);
    };
    let event_id = data["id"].as_str().unwrap_or_default();
    let event_type = data["event_type"].as_str().unwrap_or_default();
    let status = first_to(p)
        .1
        .map(str::to_string)
        .or_else(|| (event_type == "message.sent").then(|| "sent".to_string()))
        .unwrap_or_else(|| "delivery_unconfirmed".to_string());
    let entry = json!({
        "event_id": event_id,
        "event_type": event_type,
        "status": status,
        "at": data["occurred_at"],
        "errors": p["errors"].as_array().cloned().unwrap_or_default(),
    });
    let event = communications::revise::StatusEvent {
        channel: Channel::Sms,
        provider_message_id: message_id,
        status: &status,
        event_id,
        entry: &entry,
        rank: rank_sql,
    };
    communications::revise::apply_status_event(&state.pool, account, &event).await
}

/// Status events that arrived before the send was recorded.
pub(super) async fn apply_pending_statuses(
    state: &AppState,
    account: AccountId,
    message_id: &str,
) -> Result<()> {
    let pending: Vec<(String, Value)> = sqlx::query_as(
        "select event_id, payload from webhook_events
         where provider = 'telnyx' and event_type in ('message.sent', 'message.finalized')
           and payload->'data'->'payload'->>'id' = $1 and (account_id = $2 or account_id is null)",
    )
    .bind(message_id)
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    if pending.is_empty() {
        return Ok(());
    }
    for (_, envelope) in &pending {
        apply_status(state, account, envelope).await?;
    }
    let ids: Vec<String> = pending.into_iter().map(|(id, _)| id).collect();
    mark_processed(&state.pool, &ids, Some(account)).await
}

/// `message.sent` / `message.finalized`: moves the outbound row's status forward.
pub(crate) async fn handle_status(state: &AppState, ev: &Event) -> Result<&'static str> {
    let region = state.config.default_region;
    let from = phone_field(&ev.payload["from"]).and_then(|f| normalize_phone(f, region));
    let found = match &from {
        Some(f) => state.telnyx_numbers.owner(&state.pool, f).await?,
        None => None,
    };
    if let Some((_, key)) = &found {
        ev.check_key_for(key.as_deref())?;
    }
    let account = found.as_ref().map(|(a, _)| *a);
    if let Stored::Done = store_event(&state.pool, ev, account).await? {
        return Ok("duplicate");
    }
    let Some(account) = account else {
        tracing::warn!(event = %ev.id, "delivery status for a number no account has connected; stored only");
        mark_processed(&state.pool, std::slice::from_ref(&ev.id), None).await?;
        return Ok("unknown_number");
    };
    // When the row is not there yet (the send is being recorded), the event stays
    // unprocessed and the sender applies it right after recording.
    if apply_status(state, account, &ev.envelope).await? {
        mark_processed(&state.pool, std::slice::from_ref(&ev.id), Some(account)).await?;
        Ok("updated")
    } else {
        Ok("pending")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_shapes_of_to_are_read() {
        let new = json!({"to": [{"phone_number": "+13125550100", "status": "delivered"}]});
        assert_eq!(first_to(&new), (Some("+13125550100"), Some("delivered")));
        let old = json!({"to": "+13125550100"});
        assert_eq!(first_to(&old), (Some("+13125550100"), None));
        assert_eq!(first_to(&json!({})), (None, None));
    }
}
