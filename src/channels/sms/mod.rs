//! SMS through Telnyx: connecting an account (encrypted API key, its numbers), sending
//! through the outbox, inbound messages and delivery statuses from the webhook, opt-out
//! keywords, and quiet hours for automatic sends.

pub mod telnyx;
pub mod webhook;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;
use crate::auth::{AccountId, AuthAccount};
use crate::communications::{self, LeadRef, NewCommunication};
use crate::crypto::Sealed;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::Json;
use crate::leads::Identity;
use crate::outbox::{self, OutboxItem, Outcome};
use crate::phone::normalize_phone;
use crate::tracker::model::{Channel, Direction};

use self::telnyx::{OutgoingMessage, SendError, TelnyxClient};
use self::webhook::{mark_processed, store_event, Event, Stored};

/// Outbox kind of an SMS send.
pub const OUTBOX_KIND: &str = "sms";
/// Longest text accepted for one send (10 concatenated segments).
pub const MAX_TEXT_CHARS: usize = 1600;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect))
        .routes(routes!(status))
        .routes(routes!(disconnect))
        .routes(routes!(send_sms))
        .routes(routes!(webhook::telnyx_webhook))
}

/// A daily window in which automatic texts are not sent (e.g. 21:00–08:00).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, local time.
    #[schema(example = "21:00")]
    pub start: String,
    /// `HH:MM`, local time; before `start` means the window spans midnight.
    #[schema(example = "08:00")]
    pub end: String,
    /// IANA time zone, e.g. `America/Chicago`.
    #[schema(example = "America/Chicago")]
    pub timezone: String,
}

impl QuietHours {
    fn times(&self) -> Option<(NaiveTime, NaiveTime)> {
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        Some((t(&self.start)?, t(&self.end)?))
    }
}

/// When the quiet window that contains `local` ends (local time); `None` outside it.
pub fn quiet_until(
    local: NaiveDateTime,
    start: NaiveTime,
    end: NaiveTime,
) -> Option<NaiveDateTime> {
    let t = local.time();
    let inside = if start <= end {
        t >= start && t < end
    } else {
        t >= start || t < end
    };
    if !inside {
        return None;
    }
    let today_end = local.date().and_time(end);
    Some(if today_end > local {
        today_end
    } else {
        today_end + TimeDelta::days(1)
    })
}

/// When the account's quiet hours end, if now is inside them (PostgreSQL's tz database
/// converts between UTC and the window's zone).
pub async fn quiet_hours_end(state: &AppState, qh: &QuietHours) -> Result<Option<DateTime<Utc>>> {
    let Some((start, end)) = qh.times() else {
        return Ok(None);
    };
    let local: Option<NaiveDateTime> = sqlx::query_scalar(
        "select (now() at time zone name) from pg_timezone_names where name = $1",
    )
    .bind(&qh.timezone)
    .fetch_optional(&state.pool)
    .await?;
    let Some(until) = local.and_then(|l| quiet_until(l, start, end)) else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar("select ($1::timestamp at time zone $2)")
        .bind(until)
        .bind(&qh.timezone)
        .fetch_one(&state.pool)
        .await?)
}

/// How a text will be split by carriers: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67).
pub fn segments(text: &str) -> (u32, &'static str) {
    const GSM: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const GSM_EXT: &str = "^{}\\[~]|€\u{c}";
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM.contains(c) {
            septets += 1;
        } else if GSM_EXT.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (units, single, multi, enc) = if gsm {
        (septets, 160, 153, "GSM-7")
    } else {
        (text.encode_utf16().count(), 70, 67, "UCS-2")
    };
    let n = if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    (n as u32, enc)
}

/// Opt-out keywords (whole message, any case); what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
}

/// The carrier keyword a message consists of, if any.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation())
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::OptOut),
        "START" | "UNSTOP" => Some(Keyword::OptIn),
        "HELP" => Some(Keyword::Help),
        _ => None,
    }
}

// ---------------------------------------------------------------------------
// Integration

/// Body of `POST /api/integrations/sms/connect`. Connecting again replaces the settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSms {
    /// Telnyx API key (stored encrypted, never returned).
    pub api_key: String,
    pub messaging_profile_id: String,
    /// The account's Telnyx numbers; each belongs to one Leadline account only.
    pub phone_numbers: Vec<String>,
    /// Base64 Ed25519 key that signs this integration's webhooks; overrides `TELNYX_PUBLIC_KEY`.
    pub webhook_public_key: Option<String>,
    /// Automatic texts wait until this window has passed.
    pub quiet_hours: Option<QuietHours>,
    /// Text back inbound callers whose call was missed.
    pub missed_call_text_back: Option<bool>,
}

/// The account's SMS integration; the API key is never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsStatus {
    pub connected: bool,
    pub api_key_set: bool,
    pub messaging_profile_id: Option<String>,
    pub phone_numbers: Vec<String>,
    /// Whether this integration has its own webhook key (else `TELNYX_PUBLIC_KEY` is used).
    pub webhook_public_key_set: bool,
    pub quiet_hours: Option<QuietHours>,
    pub missed_call_text_back: bool,
    pub is_active: bool,
    pub last_error: Option<String>,
    /// Where Telnyx should send events.
    pub webhook_url: Option<String>,
}

#[derive(sqlx::FromRow)]
struct IntegrationRow {
    id: i64,
    encrypted_api_key: Vec<u8>,
    api_key_nonce: Vec<u8>,
    key_id: String,
    messaging_profile_id: Option<String>,
    webhook_public_key: Option<String>,
    quiet_hours: Option<Value>,
    missed_call_text_back: bool,
    is_active: bool,
    last_error: Option<String>,
}

impl IntegrationRow {
    fn quiet_hours(&self) -> Option<QuietHours> {
        self.quiet_hours
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
    }
}

async fn integration(state: &AppState, account: AccountId) -> Result<Option<IntegrationRow>> {
    Ok(sqlx::query_as::<_, IntegrationRow>(
        "select id, encrypted_api_key, api_key_nonce, key_id, messaging_profile_id, webhook_public_key,
                quiet_hours, missed_call_text_back, is_active, last_error
         from sms_integrations where account_id = $1",
    )
    .bind(account)
    .fetch_optional(&state.pool)
    .await?)
}

async fn numbers(state: &AppState, account: AccountId) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select phone_number from sms_numbers where account_id = $1 order by created_at, phone_number",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?)
}

/// The account's quiet hours and missed-call setting (when SMS is connected).
pub(crate) async fn settings(
    state: &AppState,
    account: AccountId,
) -> Result<Option<(Option<QuietHours>, bool)>> {
    Ok(integration(state, account)
        .await?
        .filter(|i| i.is_active)
        .map(|i| (i.quiet_hours(), i.missed_call_text_back)))
}

async fn validate_quiet_hours(state: &AppState, qh: &QuietHours) -> Result<()> {
    let Some((start, end)) = qh.times() else {
        return Err(ApiError::invalid(
            "quiet_hours.start and quiet_hours.end must be HH:MM (24-hour)",
        ));
    };
    if start == end {
        return Err(ApiError::invalid(
            "quiet_hours.start and quiet_hours.end must differ",
        ));
    }
    let known: bool =
        sqlx::query_scalar("select exists(select 1 from pg_timezone_names where name = $1)")
            .bind(qh.timezone.trim())
            .fetch_one(&state.pool)
            .await?;
    if !known {
        return Err(ApiError::invalid(format!(
            "quiet_hours.timezone {:?} is not an IANA time zone such as America/Chicago",
            qh.timezone
        )));
    }
    Ok(())
}

/// Connects Telnyx for the account (or replaces its settings).
#[utoipa::path(post, path = "/api/integrations/sms/connect", tag = "sms", request_body = ConnectSms,
    responses((status = 200, body = SmsStatus), (status = 409, description = "a number belongs to another account", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn connect(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(body): Json<ConnectSms>,
) -> Result<Json<SmsStatus>> {
    let api_key = body.api_key.trim();
    if api_key.is_empty() || api_key.len() > 500 {
        return Err(ApiError::invalid("api_key must be 1 to 500 characters"));
    }
    let profile = body.messaging_profile_id.trim();
    if profile.is_empty() || profile.len() > 200 {
        return Err(ApiError::invalid(
            "messaging_profile_id must be 1 to 200 characters",
        ));
    }
    if body.phone_numbers.is_empty() || body.phone_numbers.len() > 100 {
        return Err(ApiError::invalid(
            "phone_numbers must list 1 to 100 numbers",
        ));
    }
    let mut phones = Vec::with_capacity(body.phone_numbers.len());
    for raw in &body.phone_numbers {
        let e164 = normalize_phone(raw, state.config.default_region).ok_or_else(|| {
            ApiError::invalid(format!(
                "phone_numbers: {raw:?} is not a valid phone number"
            ))
        })?;
        if !phones.contains(&e164) {
            phones.push(e164);
        }
    }
    let webhook_key = match body.webhook_public_key.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(k) => {
            webhook::parse_public_key(k).ok_or_else(|| {
                ApiError::invalid(
                    "webhook_public_key must be a base64 Ed25519 public key (32 bytes)",
                )
            })?;
            Some(k.to_string())
        }
    };
    if let Some(qh) = &body.quiet_hours {
        validate_quiet_hours(&state, qh).await?;
    }
    let quiet = body.quiet_hours.as_ref().map(
        |q| json!({"start": q.start.trim(), "end": q.end.trim(), "timezone": q.timezone.trim()}),
    );
    let sealed = state.secrets.seal(api_key);
    let mut tx = state.pool.begin().await?;
    let integration_id: i64 = sqlx::query_scalar(
        "insert into sms_integrations (account_id, encrypted_api_key, api_key_nonce, key_id, messaging_profile_id,
             webhook_public_key, quiet_hours, missed_call_text_back, is_active)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, false), true)
         on conflict (account_id) do update set encrypted_api_key = excluded.encrypted_api_key,
             api_key_nonce = excluded.api_key_nonce, key_id = excluded.key_id,
             messaging_profile_id = excluded.messaging_profile_id, webhook_public_key = excluded.webhook_public_key,
             quiet_hours = excluded.quiet_hours,
             missed_call_text_back = coalesce($8, sms_integrations.missed_call_text_back),
             is_active = true, last_error = null, last_error_at = null, updated_at = now()
         returning id",
    )
    .bind(account)
    .bind(&sealed.ciphertext)
    .bind(&sealed.nonce)
    .bind(&sealed.key_id)
    .bind(profile)
    .bind(&webhook_key)
    .bind(&quiet)
    .bind(body.missed_call_text_back)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("delete from sms_numbers where account_id = $1 and phone_number <> all($2)")
        .bind(account)
        .bind(&phones)
        .execute(&mut *tx)
        .await?;
    for phone in &phones {
        let owner: AccountId = sqlx::query_scalar(
            "insert into sms_numbers (phone_number, account_id, integration_id) values ($1, $2, $3)
             on conflict (phone_number) do update set integration_id = excluded.integration_id
                 where sms_numbers.account_id = excluded.account_id
             returning account_id",
        )
        .bind(phone)
        .bind(account)
        .bind(integration_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| match unique_violation(&e) {
            Some(_) => number_taken(phone),
            None => e.into(),
        })?
        .ok_or_else(|| number_taken(phone))?;
        if owner != account {
            return Err(number_taken(phone));
        }
    }
    tx.commit().await?;
    state.telnyx_keys.forget();
    Ok(Json(status_of(&state, account).await?))
}

fn number_taken(phone: &str) -> ApiError {
    ApiError::Conflict(
        "number_taken",
        format!("{phone} is already connected to another account"),
    )
}

async fn status_of(state: &AppState, account: AccountId) -> Result<SmsStatus> {
    let webhook_url = state
        .config
        .public_url
        .as_ref()
        .map(|u| format!("{u}/webhooks/telnyx"));
    let Some(i) = integration(state, account).await? else {
        return Ok(SmsStatus {
            connected: false,
            api_key_set: false,
            messaging_profile_id: None,
            phone_numbers: vec![],
            webhook_public_key_set: false,
            quiet_hours: None,
            missed_call_text_back: false,
            is_active: false,
            last_error: None,
            webhook_url,
        });
    };
    Ok(SmsStatus {
        connected: true,
        api_key_set: !i.encrypted_api_key.is_empty(),
        messaging_profile_id: i.messaging_profile_id.clone(),
        phone_numbers: numbers(state, account).await?,
        webhook_public_key_set: i.webhook_public_key.is_some(),
        quiet_hours: i.quiet_hours(),
        missed_call_text_back: i.missed_call_text_back,
        is_active: i.is_active,
        last_error: i.last_error.clone(),
        webhook_url,
    })
}

/// The account's SMS integration.
#[utoipa::path(get, path = "/api/integrations/sms/status", tag = "sms",
    responses((status = 200, body = SmsStatus)), security(("api_key" = [])))]
async fn status(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<SmsStatus>> {
    Ok(Json(status_of(&state, account).await?))
}

/// Removes the integration, its stored key and its numbers.
#[utoipa::path(delete, path = "/api/integrations/sms/disconnect", tag = "sms",
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn disconnect(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<StatusCode> {
    let gone = sqlx::query("delete from sms_integrations where account_id = $1")
        .bind(account)
        .execute(&state.pool)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::NotFound("sms integration"));
    }
    state.telnyx_keys.forget();
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------
// Sending

/// Body of `POST /api/sms/send`: `to` or `lead_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendSms {
    /// Phone number of the recipient.
    pub to: Option<String>,
    /// Or a lead of this account (its phone is used).
    pub lead_id: Option<i64>,
    pub text: String,
    /// One of the account's numbers; the first connected one when absent.
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
pub async fn enqueue_automatic(
    state: &AppState,
    account: AccountId,
    mut job: SmsJob,
    idempotency_key: &str,
) -> Result<i64> {
    job.automatic = true;
    let run_at = match settings(state, account).await?.and_then(|(q, _)| q) {
        Some(q) => quiet_hours_end(state, &q).await?,
        None => None,
    };
    let payload = serde_json::to_value(&job).map_err(anyhow::Error::from)?;
    outbox::enqueue(
        &state.pool,
        account,
        OUTBOX_KIND,
        &payload,
        Some(idempotency_key),
        run_at,
    )
    .await
}

/// Queues a text. 409 when the recipient opted out or SMS is not connected.
#[utoipa::path(post, path = "/api/sms/send", tag = "sms", request_body = SendSms,
    responses((status = 202, body = SendAccepted), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "opted out, or SMS not connected", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn send_sms(
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
        if let Some(until) = quiet_hours_end(&state, &q).await? {
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
#[tracing::instrument(skip_all, fields(item = item.id, account = item.account_id))]
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
    let Some(integ) = integration(state, account).await?.filter(|i| i.is_active) else {
        return Ok(Outcome::Failed {
            error: "SMS is not connected for this account".into(),
        });
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
            return Ok(Outcome::Sent {
                communication_id: None,
            });
        }
    }
    if opted_out(state, account, &job.to).await?.is_some() {
        return Ok(Outcome::Failed {
            error: format!("{} opted out of texts", job.to),
        });
    }
    if job.automatic {
        if let Some(q) = integ.quiet_hours() {
            if let Some(until) = quiet_hours_end(state, &q).await? {
                let wait = (until - Utc::now()).to_std().unwrap_or_default();
                return Ok(Outcome::Retry {
                    error: "held for quiet hours".into(),
                    after: Some(wait),
                });
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
            return Ok(Outcome::Failed {
                error: format!("cannot open the stored Telnyx key: {e}"),
            })
        }
    };
    let client = TelnyxClient::new(&state.config.telnyx_api_base, &api_key);
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
            return Ok(match e {
                SendError::RateLimited { retry_after } => Outcome::Retry {
                    error,
                    after: retry_after,
                },
                SendError::Server { retry_after, .. } => Outcome::Retry {
                    error,
                    after: retry_after,
                },
                SendError::Network(_) => Outcome::Retry { error, after: None },
                // The request may have gone through: sending again could text twice.
                SendError::Timeout | SendError::Unexpected(_) | SendError::Client { .. } => {
                    Outcome::Failed { error }
                }
            });
        }
    };
    let (segments, encoding) = self::segments(&job.text);
    let lead = match job.lead_id {
        Some(id) => LeadRef::Id(id),
        None => LeadRef::Identity(Identity {
            phone: Some(job.to.clone()),
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
        "status_history": [{"status": "queued", "at": Utc::now().to_rfc3339()}],
    });
    let recorded = communications::record(state, account, new).await?;
    apply_pending_statuses(state, account, &sent.id).await?;
    Ok(Outcome::Sent {
        communication_id: Some(recorded.communication.id),
    })
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

// ---------------------------------------------------------------------------
// Webhook effects

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
        Some(t) => webhook::account_for_number(state, t).await?,
        None => None,
    };
    if let Some((_, key)) = &found {
        ev.check_key_for(key.as_deref())?;
    }
    let account = found.as_ref().map(|(a, _)| *a);
    // The event is stored (processed) after its effect: recording dedupes on the message
    // id and the opt-out updates are idempotent, so a redelivery after a failure between
    // the two, or a replay, changes nothing.
    let done = |account| webhook::store_processed(state, ev, account);
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
            phone: Some(from.clone()),
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
    done(Some(account)).await?;
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
    let updated = sqlx::query(&format!(
        "update communications set
            status = case when {new} > {cur} then $3 else status end,
            metadata = case
                when coalesce(metadata->'status_history', '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('event_id', $4::text))
                    then metadata
                else jsonb_set(metadata, '{{status_history}}',
                    coalesce(metadata->'status_history', '[]'::jsonb) || jsonb_build_array($5::jsonb))
                    || case when jsonb_array_length($5::jsonb->'errors') > 0
                        then jsonb_build_object('errors', $5::jsonb->'errors') else '{{}}'::jsonb end
            end
         where account_id = $1 and type = 'sms' and direction = 'outbound' and provider_message_id = $2",
        new = rank_sql("$3::text"),
        cur = rank_sql("status"),
    ))
    .bind(account)
    .bind(message_id)
    .bind(&status)
    .bind(event_id)
    .bind(&entry)
    .execute(&state.pool)
    .await?;
    Ok(updated.rows_affected() > 0)
}

/// Status events that arrived before the send was recorded.
async fn apply_pending_statuses(
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
        Some(f) => webhook::account_for_number(state, f).await?,
        None => None,
    };
    if let Some((_, key)) = &found {
        ev.check_key_for(key.as_deref())?;
    }
    let account = found.as_ref().map(|(a, _)| *a);
    if let Stored::Done = store_event(state, ev, account).await? {
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

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn overnight_quiet_hours_end_the_next_morning() {
        let (s, e) = (t("21:00"), t("08:00"));
        assert_eq!(
            quiet_until(at("2026-03-02 22:30"), s, e),
            Some(at("2026-03-03 08:00"))
        );
        assert_eq!(
            quiet_until(at("2026-03-03 07:59"), s, e),
            Some(at("2026-03-03 08:00"))
        );
        assert_eq!(quiet_until(at("2026-03-03 08:00"), s, e), None);
        assert_eq!(quiet_until(at("2026-03-03 12:00"), s, e), None);
    }

    #[test]
    fn daytime_quiet_hours_end_the_same_day() {
        let (s, e) = (t("12:00"), t("13:30"));
        assert_eq!(
            quiet_until(at("2026-03-02 12:15"), s, e),
            Some(at("2026-03-02 13:30"))
        );
        assert_eq!(quiet_until(at("2026-03-02 11:59"), s, e), None);
    }

    #[test]
    fn segments_follow_gsm7_and_ucs2_limits() {
        assert_eq!(segments("hello"), (1, "GSM-7"));
        assert_eq!(segments(&"a".repeat(160)), (1, "GSM-7"));
        assert_eq!(segments(&"a".repeat(161)), (2, "GSM-7"));
        assert_eq!(segments(&"a".repeat(306)), (2, "GSM-7"));
        assert_eq!(segments(&"a".repeat(307)), (3, "GSM-7"));
        assert_eq!(segments(&"€".repeat(80)), (1, "GSM-7"));
        assert_eq!(segments("roof 👍"), (1, "UCS-2"));
        assert_eq!(segments(&"é😀".repeat(30)), (2, "UCS-2"));
    }

    #[test]
    fn carrier_keywords_are_whole_messages_in_any_case() {
        for w in [
            "STOP",
            "stop",
            " Stop. ",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "end",
            "QUIT",
        ] {
            assert_eq!(keyword(w), Some(Keyword::OptOut), "{w}");
        }
        assert_eq!(keyword("start"), Some(Keyword::OptIn));
        assert_eq!(keyword("UNSTOP"), Some(Keyword::OptIn));
        assert_eq!(keyword("help"), Some(Keyword::Help));
        assert_eq!(keyword("please stop by friday"), None);
    }

    #[test]
    fn both_shapes_of_to_are_read() {
        let new = json!({"to": [{"phone_number": "+13125550100", "status": "delivered"}]});
        assert_eq!(first_to(&new), (Some("+13125550100"), Some("delivered")));
        let old = json!({"to": "+13125550100"});
        assert_eq!(first_to(&old), (Some("+13125550100"), None));
        assert_eq!(first_to(&json!({})), (None, None));
    }
}
