//! Sending texts: the send endpoint, automatic sends held by quiet hours, the outbox's
//! `deliver` through Telnyx, and the missed-call text-back.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::auth::AuthAccount;
use crate::communications::{self, LeadRef, NewCommunication};
use crate::crypto::Sealed;
use crate::domain::{AccountId, Channel, Direction, Identity, Phone};
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::outbox::{self, OutboxItem, Outcome};
use crate::phone::normalize_phone;
use crate::state::AppState;

use crate::telnyx::client::{OutgoingMessage, SendError, SentMessage, TelnyxClient};
use crate::telnyx::events::{self as webhook};

use super::inbound::apply_pending_statuses;
use super::integration::{integration, numbers, settings};
use super::rules::{quiet_hours_end, segments};
use super::{MAX_TEXT_CHARS, OUTBOX_KIND};

/// Body of `POST /api/sms/send`: `to` or `lead_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendSms {
    /// Phone number of the recipient.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub to: Option<String>,
    /// Or a lead of this account (its phone is used).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub lead_id: Option<i64>,
    #[schema(min_length = 1, pattern = r"\S")]
    pub text: String,
    /// One of the account's numbers; the first connected one when absent.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub from: Option<String>,
}

/// 202: the send is queued.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendAccepted {
    pub outbox_id: i64,
    pub status: String,
    pub to: String,
    pub from: String,
    /// Carrier segments the text will take.
    pub segments: u32,
    pub encoding: String,
    /// E.g. "inside quiet hours" (manual sends go anyway).
    pub warnings: Vec<String>,
}

/// What the outbox carries for one SMS.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmsJob {
    pub to: String,
    pub from: String,
    pub text: String,
    pub lead_id: Option<i64>,
    /// Automatic sends (text-backs, AI replies) respect quiet hours; manual ones do not.
    #[serde(default)]
    pub automatic: bool,
    #[serde(default)]
    pub ai_generated: bool,
    /// Send only if this call session is still a missed call when the item runs.
    #[serde(default)]
    pub only_if_missed_call: Option<String>,
    /// Sent by an automation (its name): no person wrote it.
    #[serde(default)]
    pub automation: Option<String>,
    /// To a person of the team (an alert), not a lead: sent but not recorded.
    #[serde(default)]
    pub team: bool,
    /// An answer to the lead's own message: not held for quiet hours (those are for
    /// texts nobody asked for); dropped if a person of the team answered since this time.
    #[serde(default)]
    pub reply_to_since: Option<DateTime<Utc>>,
}

/// A lead of the account whose phone opted out of texts.
async fn opted_out(
    state: &AppState,
    account: AccountId,
    phone: &str,
) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar::<_, Option<DateTime<Utc>>>(
        "select sms_opted_out_at from leads where account_id = $1 and phone = $2",
    )
    .bind(account)
    .bind(phone)
    .fetch_optional(&state.pool)
    .await?
    .flatten())
}

/// Queues an automatic SMS (text-back, AI reply): held until quiet hours end, once per
/// `idempotency_key`.
pub async fn enqueue_automatic<'c, E>(
    state: &AppState,
    exec: E,
    account: AccountId,
    mut job: SmsJob,
    idempotency_key: &str,
) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    job.automatic = true;
    let run_at = match settings(state, account).await?.and_then(|(q, _)| q) {
        Some(q) if job.reply_to_since.is_none() => quiet_hours_end(&q, Utc::now()),
        _ => None,
    };
    let payload = serde_json::to_value(&job).map_err(anyhow::Error::from)?;
    outbox::enqueue(
        exec,
        account,
        OUTBOX_KIND,
        &payload,
        Some(idempotency_key),
        run_at,
    )
    .await
}

impl SmsJob {
    /// An automatic text that `automation` sends to `to` (the sending number is filled in
    /// by [`enqueue_from_account`]); set `lead_id`, `team`, `reply_to_since`… as needed.
    pub fn automatic(to: &str, text: &str, automation: &str) -> Self {
        SmsJob {
            to: to.to_string(),
            from: String::new(),
            text: text.to_string(),
            lead_id: None,
            automatic: true,
            ai_generated: false,
            only_if_missed_call: None,
            automation: Some(automation.to_string()),
            team: false,
            reply_to_since: None,
        }
    }
}

/// Queues an automatic text from the account's first number, once per
/// `idempotency_key` (held through quiet hours unless it answers the lead's own message);
/// `None` when SMS has no number to send from.
pub async fn enqueue_from_account<'c, E>(
    state: &AppState,
    exec: E,
    account: AccountId,
    mut job: SmsJob,
    idempotency_key: &str,
) -> Result<Option<i64>>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let Some(from) = numbers(state, account).await?.into_iter().next() else {
        return Ok(None);
    };
    job.from = from;
    Ok(Some(
        enqueue_automatic(state, exec, account, job, idempotency_key).await?,
    ))
}

/// Queues a text. 409 when the recipient opted out or SMS is not connected.
#[utoipa::path(post, path = "/api/sms/send", tag = "sms", request_body = SendSms,
    responses((status = 202, body = SendAccepted), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "opted out, or SMS not connected", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
pub(super) async fn send_sms(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<SendSms>,
) -> Result<(StatusCode, Json<SendAccepted>)> {
    let text = body.text.trim();
    if text.is_empty() {
        return Err(ApiError::invalid("text must not be empty"));
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::invalid(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    let Some(integ) = integration(&state, account).await?.filter(|i| i.is_active) else {
        return Err(ApiError::Conflict(
            "sms_not_connected",
            "connect Telnyx first: POST /api/integrations/sms/connect".into(),
        ));
    };
    let (to, lead_id) = match (&body.to, body.lead_id) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("give either to or lead_id, not both")),
        (None, None) => return Err(ApiError::invalid("give to or lead_id")),
        (Some(raw), None) => (
            normalize_phone(raw, state.config.default_region).ok_or_else(|| {
                ApiError::invalid(format!("to: {raw:?} is not a valid phone number"))
            })?,
            None,
        ),
        (None, Some(id)) => {
            let lead = crate::leads::get(&state.pool, account, id).await?;
            let phone = lead
                .profile
                .phone
                .ok_or_else(|| ApiError::invalid("this lead has no phone number"))?;
            (phone, Some(id))
        }
    };
    if let Some(at) = opted_out(&state, account, &to).await? {
        return Err(ApiError::Conflict(
            "opted_out",
            format!(
                "{to} opted out of texts on {}; they must text START before you can message them again",
                at.to_rfc3339()
            ),
        ));
    }
    let ours = numbers(&state, account).await?;
    let from = match &body.from {
        Some(raw) => {
            let e164 = normalize_phone(raw, state.config.default_region)
                .filter(|n| ours.contains(n))
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "from: {raw:?} is not one of this account's numbers"
                    ))
                })?;
            e164
        }
        None => ours
            .first()
            .cloned()
            .ok_or_else(|| ApiError::invalid("the SMS integration has no phone numbers"))?,
    };
    let mut warnings = vec![];
    if let Some(q) = integ.quiet_hours() {
        if let Some(until) = quiet_hours_end(&q, Utc::now()) {
            warnings.push(format!(
                "inside quiet hours ({}–{} {}) until {}; sent anyway because it is a manual send",
                q.start,
                q.end,
                q.timezone,
                until.to_rfc3339()
            ));
        }
    }
    let (segments, encoding) = self::segments(text);
    let job = SmsJob {
        to: to.clone(),
        from: from.clone(),
        text: text.to_string(),
        lead_id,
        automatic: false,
        ai_generated: false,
        only_if_missed_call: None,
        automation: None,
        team: false,
        reply_to_since: None,
    };
    let payload = serde_json::to_value(&job).map_err(anyhow::Error::from)?;
    let outbox_id =
        outbox::enqueue(&state.pool, account, OUTBOX_KIND, &payload, None, None).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(SendAccepted {
            outbox_id,
            status: "queued".into(),
            to,
            from,
            segments,
            encoding: encoding.into(),
            warnings,
        }),
    ))
}

/// Performs one queued SMS: calls Telnyx, records the outbound communication.
#[tracing::instrument(skip_all, fields(item = item.id, account = item.account_id.0))]
pub async fn deliver(state: &AppState, item: &OutboxItem) -> Outcome {
    match try_deliver(state, item).await {
        Ok(o) => o,
        Err(e) => Outcome::Retry {
            error: format!("internal error: {e}"),
            after: None,
        },
    }
}

async fn try_deliver(state: &AppState, item: &OutboxItem) -> Result<Outcome> {
    let account = item.account_id;
    let job: SmsJob = match serde_json::from_value(item.payload.clone()) {
        Ok(j) => j,
        Err(e) => {
            return Ok(Outcome::Failed {
                error: format!("unreadable sms payload: {e}"),
            })
        }
    };
    let sent = match item.accepted_as() {
        // Telnyx took it before the worker stopped: only the record is missing.
        Some(id) => SentMessage {
            id: id.to_string(),
            parts: None,
        },
        None => match send_now(state, item, &job).await? {
            Ok(sent) => sent,
            Err(outcome) => return Ok(outcome),
        },
    };
    if job.team {
        return Ok(Outcome::Sent {
            communication_id: None,
        });
    }
    let (segments, encoding) = self::segments(&job.text);
    let lead = match job.lead_id {
        Some(id) => LeadRef::Id(id),
        None => LeadRef::Identity(Identity {
            phone: Phone::parse(&job.to, state.config.default_region),
            ..Default::default()
        }),
    };
    let mut new = NewCommunication::new(lead, Channel::Sms, Direction::Outbound);
    new.from_address = Some(job.from.clone());
    new.to_address = Some(job.to.clone());
    new.content = Some(job.text.clone());
    new.status = Some("queued".into());
    new.provider = Some(webhook::PROVIDER.into());
    new.provider_message_id = Some(sent.id.clone());
    new.ai_generated = job.ai_generated;
    new.metadata = json!({
        "segments": sent.parts.unwrap_or(segments),
        "encoding": encoding,
        "outbox_id": item.id,
        "automatic": job.automatic,
        "automation": job.automation,
        "status_history": [{"status": "queued", "at": Utc::now().to_rfc3339()}],
    });
    let recorded = communications::record(state, account, new).await?;
    apply_pending_statuses(state, account, &sent.id).await?;
    Ok(Outcome::Sent {
        communication_id: Some(recorded.communication.id),
    })
}

/// The checks that hold at send time (still connected, still missed, consent, quiet
/// hours), then the Telnyx call; Telnyx's answer, or the outcome when nothing was sent.
async fn send_now(
    state: &AppState,
    item: &OutboxItem,
    job: &SmsJob,
) -> Result<std::result::Result<SentMessage, Outcome>> {
    let account = item.account_id;
    let Some(integ) = integration(state, account).await?.filter(|i| i.is_active) else {
        return Ok(Err(Outcome::Failed {
            error: "SMS is not connected for this account".into(),
        }));
    };
    if let Some(session) = &job.only_if_missed_call {
        let still_missed: bool = sqlx::query_scalar(
            "select exists(select 1 from communications where account_id = $1 and type = 'phone_call'
                 and provider_message_id = $2 and status = 'missed')",
        )
        .bind(account)
        .bind(session)
        .fetch_one(&state.pool)
        .await?;
        if !still_missed {
            return Ok(Err(Outcome::Sent {
                communication_id: None,
            }));
        }
    }
    if opted_out(state, account, &job.to).await?.is_some() {
        return Ok(Err(Outcome::Failed {
            error: format!("{} opted out of texts", job.to),
        }));
    }
    if let (Some(since), Some(lead)) = (job.reply_to_since, job.lead_id) {
        // A person answered first: the automatic answer is not sent.
        let answered: bool = sqlx::query_scalar(&format!(
            "select {}",
            crate::communications::person_answered_sql("$1", "$2")
        ))
        .bind(lead)
        .bind(since)
        .fetch_one(&state.pool)
        .await?;
        if answered {
            return Ok(Err(Outcome::Failed {
                error: "a person of the team answered first".into(),
            }));
        }
    }
    if job.automatic && job.reply_to_since.is_none() {
        if let Some(q) = integ.quiet_hours() {
            if let Some(until) = quiet_hours_end(&q, Utc::now()) {
                let wait = (until - Utc::now()).to_std().unwrap_or_default();
                return Ok(Err(Outcome::Retry {
                    error: "held for quiet hours".into(),
                    after: Some(wait),
                }));
            }
        }
    }
    let sealed = Sealed {
        ciphertext: integ.encrypted_api_key.clone(),
        nonce: integ.api_key_nonce.clone(),
        key_id: integ.key_id.clone(),
    };
    let api_key = match state.secrets.open(&sealed) {
        Ok(k) => k,
        Err(e) => {
            return Ok(Err(Outcome::Failed {
                error: format!("cannot open the stored Telnyx key: {e}"),
            }))
        }
    };
    let client = TelnyxClient::new(&state.config.telnyx_api_base, &api_key);
    outbox::mark_sending(&state.pool, item.id).await?;
    let sent = client
        .send_message(&OutgoingMessage {
            from: &job.from,
            to: &job.to,
            text: &job.text,
            messaging_profile_id: integ.messaging_profile_id.as_deref(),
        })
        .await;
    let sent = match sent {
        Ok(s) => s,
        Err(e) => {
            let error = e.to_string();
            if matches!(e, SendError::Client { .. }) {
                note_error(state, integ.id, &error).await;
            }
            let outcome = match e {
                SendError::RateLimited { retry_after } => Outcome::Retry {
                    error,
                    after: retry_after,
                },
                SendError::Server { retry_after, .. } => Outcome::Retry {
                    error,
                    after: retry_after,
                },
                // The connection never carried the request: nothing was sent.
                SendError::Network(_) => Outcome::Retry { error, after: None },
                SendError::Client { .. } => Outcome::Failed { error },
                // The request may have gone through: sending again could text twice.
                SendError::Timeout | SendError::Unexpected(_) => Outcome::Unknown { error },
            };
            if matches!(outcome, Outcome::Retry { .. }) {
                // Telnyx said no: a retry cannot text twice.
                outbox::mark_not_sent(&state.pool, item.id).await?;
            }
            return Ok(Err(outcome));
        }
    };
    if let Err(e) = outbox::mark_accepted(&state.pool, item.id, &sent.id).await {
        // Sent: recording goes on; if the process stops now, the item reads `unknown`.
        tracing::error!(item = item.id, error = %e, "text sent but its acceptance not noted");
    }
    Ok(Ok(sent))
}

/// The text sent to a caller whose call was missed; `{company}` is the account's name.
pub const MISSED_CALL_TEMPLATE: &str =
    "Sorry we missed your call! This is {company}. How can we help? Reply here and we'll get right back to you.";

/// Queues the missed-call text (once per call, from the number that was called) when the
/// account enables it.
pub async fn text_back_missed_call(
    state: &AppState,
    account: AccountId,
    our_number: &str,
    caller: &str,
    session_id: &str,
) -> Result<()> {
    let Some((_, true)) = settings(state, account).await? else {
        return Ok(());
    };
    let company: String = sqlx::query_scalar("select name from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    // Closed: say when it opens and how to book, instead of "we'll get right back to you".
    let hours = crate::hours::store::of_account(&state.pool, account).await?;
    let now = Utc::now();
    let text = if hours.is_open(now) {
        MISSED_CALL_TEMPLATE.replace("{company}", &company)
    } else {
        let facts = crate::ai::service::load_company(&state.pool, account).await?;
        let name = facts.company_name.clone().unwrap_or(company);
        let closed = crate::ai::closed::answer(
            "calling",
            &name,
            None,
            &hours,
            now,
            facts.booking_link.as_deref(),
        );
        format!("Sorry we missed your call! {closed}")
    };
    let job = SmsJob {
        to: caller.to_string(),
        from: our_number.to_string(),
        text,
        lead_id: None,
        automatic: true,
        ai_generated: false,
        only_if_missed_call: Some(session_id.to_string()),
        automation: Some("missed-call text-back".into()),
        team: false,
        reply_to_since: None,
    };
    enqueue_automatic(
        state,
        &state.pool,
        account,
        job,
        &format!("missed-call:{session_id}"),
    )
    .await?;
    Ok(())
}

async fn note_error(state: &AppState, integration_id: i64, error: &str) {
    let _ = sqlx::query(
        "update sms_integrations set last_error = $2, last_error_at = now() where id = $1",
    )
    .bind(integration_id)
    .bind(error)
    .execute(&state.pool)
    .await;
}
