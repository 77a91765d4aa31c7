//! The channels: each turns what it receives into a `NewCommunication` and calls
//! `communications::record`, and performs the outbound work the outbox hands it.
//!
//! This module is also the switchboard between them (no channel imports another): it
//! hands outbox items to the channel of their kind, Telnyx's messaging events to `sms`
//! and its voice events to `calls` (and a missed call to `sms` for the text-back).

pub mod calls;
pub mod chat;
pub mod email;
pub mod outbox;
pub mod quarantine;
pub mod sms;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use serde_json::{json, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::outbox::{OutboxItem, Outcome};
use crate::state::AppState;
use crate::telnyx::events::{
    mark_processed, parse_event, parse_public_key, store_event, verify, Stored, VerifyError,
};

/// Reads a quarantined item again through the channel it came from.
pub async fn retry_quarantined(
    state: &AppState,
    item: &crate::quarantine::Stored,
    source: crate::quarantine::Source,
) -> Result<&'static str> {
    match source {
        crate::quarantine::Source::Telnyx => retry_quarantined_event(state, item).await,
        crate::quarantine::Source::LeadSource => {
            crate::intake::retry_quarantined(state, item).await
        }
        email => email::retry_quarantined(state, item, email)
            .await
            .map(|o| o.as_str()),
    }
}

/// The Telnyx webhook (messaging and voice events share one URL).
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(telnyx_webhook))
}

/// Performs one claimed outbox item with the channel that owns its kind.
// One arm per channel kind as channels arrive (sms, email).
pub async fn deliver(state: &AppState, item: &OutboxItem) -> Outcome {
    match item.kind.as_str() {
        "sms" => sms::send::deliver(state, item).await,
        email::OUTBOX_KIND => email::send::deliver(state, item).await,
        other => Outcome::Failed {
            error: format!("no channel handles outbox items of kind {other:?}"),
        },
    }
}

/// Receives Telnyx messaging and voice webhooks. 200 once the event is committed (or
/// was already); 401 when the signature does not verify.
#[utoipa::path(post, path = "/webhooks/telnyx", tag = "sms",
    request_body(content = Object, description = "A Telnyx API v2 webhook event, signed with Ed25519"),
    responses((status = 200, description = "accepted (also for duplicates and unknown event types)"),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody)))]
pub async fn telnyx_webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>> {
    let now = Utc::now().timestamp();
    let global = state.config.telnyx_public_key.as_deref();
    let mut keys = state
        .telnyx_keys
        .candidates(&state.pool, global, false)
        .await?;
    let mut verified = verify(&headers, &body, &keys.all, now);
    if matches!(verified, Err(VerifyError::Mismatch | VerifyError::NoKey)) {
        // A key connected since the cache was filled (here or on another server).
        keys = state
            .telnyx_keys
            .candidates(&state.pool, global, true)
            .await?;
        verified = verify(&headers, &body, &keys.all, now);
    }
    let signed_by = verified.map_err(|e| {
        tracing::warn!(reason = %e, "rejected a Telnyx webhook");
        ApiError::Unauthorized(format!("invalid Telnyx signature: {e}"))
    })?;
    // Signed by Telnyx from here on: whatever cannot be stored is quarantined and
    // acknowledged (a retry would fail the same way), unless the failure is transient
    // (the database down, a deadlock…): then Telnyx's retry comes later.
    let outcome = match dispatch(&state, &body, signed_by, keys.global).await {
        Ok(outcome) => outcome,
        Err(e @ (ApiError::Unauthorized(_) | ApiError::Forbidden(_))) => return Err(e),
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => {
            let reason = crate::error::describe(&e);
            let account = account_of_event(&state, &body).await;
            crate::quarantine::put(
                &state.pool,
                crate::quarantine::Item {
                    account,
                    source: crate::quarantine::Source::Telnyx,
                    integration_id: None,
                    reason,
                    raw: &body,
                    identity: None,
                    // The key that signed it: a retry checks it against the number's
                    // account again, as on arrival.
                    context: json!({
                        "summary": event_summary(&body),
                        "signed_by": STANDARD.encode(signed_by.as_bytes()),
                    }),
                },
            )
            .await?;
            "quarantined"
        }
    };
    Ok(Json(json!({"status": outcome})))
}

/// Handles one verified event: parsed, stored once, acted on.
async fn dispatch(
    state: &AppState,
    body: &[u8],
    signed_by: VerifyingKey,
    global_key: Option<VerifyingKey>,
) -> Result<&'static str> {
    let ev = parse_event(body, signed_by, global_key)?;
    Ok(match ev.event_type.as_str() {
        "message.received" => sms::inbound::handle_received(state, &ev).await?,
        "message.sent" | "message.finalized" => sms::inbound::handle_status(state, &ev).await?,
        t if t.starts_with("call.") => {
            let handled = calls::events::handle_event(state, &ev).await?;
            // Calls reports a missed call; texting back is the SMS channel's job.
            if let Some(m) = handled.missed {
                sms::send::text_back_missed_call(
                    state,
                    m.account,
                    &m.our_number,
                    &m.caller,
                    &m.session_id,
                )
                .await?;
            }
            handled.status
        }
        _ => match store_event(&state.pool, &ev, None).await? {
            Stored::Done => "duplicate",
            _ => {
                mark_processed(&state.pool, std::slice::from_ref(&ev.id), None).await?;
                "ignored"
            }
        },
    })
}

/// Retries a quarantined event: handled as on arrival, with the key that signed it.
async fn retry_quarantined_event(
    state: &AppState,
    item: &crate::quarantine::Stored,
) -> Result<&'static str> {
    let signed_by = item.context["signed_by"]
        .as_str()
        .and_then(parse_public_key)
        .ok_or_else(|| ApiError::invalid("the quarantined event has no signing key"))?;
    let global = state.config.telnyx_public_key.as_deref();
    let keys = state
        .telnyx_keys
        .candidates(&state.pool, global, false)
        .await?;
    dispatch(state, &item.raw, signed_by, keys.global).await
}

/// The account of one of the event's numbers (to, then from), for a quarantined event.
async fn account_of_event(state: &AppState, body: &[u8]) -> Option<AccountId> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let p = &v["data"]["payload"];
    let region = state.config.default_region;
    let numbers = [
        &p["to"][0]["phone_number"],
        &p["to"],
        &p["from"]["phone_number"],
        &p["from"],
    ];
    for n in numbers.into_iter().filter_map(Value::as_str) {
        let Some(e164) = crate::phone::normalize_phone(&n.replace('\0', ""), region) else {
            continue;
        };
        if let Ok(Some((account, _))) = state.telnyx_numbers.owner(&state.pool, &e164).await {
            return Some(account);
        }
    }
    None
}

/// The event type and text of a quarantined event, as far as they can be read.
fn event_summary(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let d = &v["data"];
    let text = d["payload"]["text"].as_str().unwrap_or_default();
    let s = format!("{} {}", d["event_type"].as_str().unwrap_or("event"), text);
    Some(s.replace('\0', "").chars().take(200).collect())
}
