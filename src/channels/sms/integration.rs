//! The account's Telnyx integration: connect (encrypted API key, its numbers, quiet
//! hours), status, disconnect, and the stored settings the senders read.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::auth::AuthAccount;
use crate::domain::AccountId;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::Json;
use crate::phone::normalize_phone;
use crate::state::AppState;

use crate::telnyx::events::{self as webhook};

use super::rules::QuietHours;

/// Body of `POST /api/integrations/sms/connect`. Connecting again replaces the settings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectSms {
    /// Telnyx API key (stored encrypted, never returned).
    #[schema(min_length = 1, max_length = 500, pattern = r"\S")]
    pub api_key: String,
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub messaging_profile_id: String,
    /// The account's Telnyx numbers (1 to 100); each belongs to one Leadline account only.
    #[schema(min_items = 1, max_items = 100)]
    pub phone_numbers: Vec<String>,
    /// Base64 Ed25519 key that signs this integration's webhooks; overrides `TELNYX_PUBLIC_KEY`.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub webhook_public_key: Option<String>,
    /// Automatic texts wait until this window has passed.
    pub quiet_hours: Option<QuietHours>,
    /// Text back inbound callers whose call was missed.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
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
    pub last_error_at: Option<DateTime<Utc>>,
    /// Where Telnyx should send events.
    pub webhook_url: Option<String>,
}

#[derive(sqlx::FromRow)]
pub(super) struct IntegrationRow {
    pub(super) id: i64,
    pub(super) encrypted_api_key: Vec<u8>,
    pub(super) api_key_nonce: Vec<u8>,
    pub(super) key_id: String,
    pub(super) messaging_profile_id: Option<String>,
    webhook_public_key: Option<String>,
    quiet_hours: Option<Value>,
    missed_call_text_back: bool,
    pub(super) is_active: bool,
    last_error: Option<String>,
    last_error_at: Option<DateTime<Utc>>,
}

impl IntegrationRow {
    pub(super) fn quiet_hours(&self) -> Option<QuietHours> {
        self.quiet_hours
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
    }
}

pub(super) async fn integration(
    state: &AppState,
    account: AccountId,
) -> Result<Option<IntegrationRow>> {
    Ok(sqlx::query_as::<_, IntegrationRow>(
        "select id, encrypted_api_key, api_key_nonce, key_id, messaging_profile_id, webhook_public_key,
                quiet_hours, missed_call_text_back, is_active, last_error, last_error_at
         from sms_integrations where account_id = $1",
    )
    .bind(account)
    .fetch_optional(&state.pool)
    .await?)
}

pub(super) async fn numbers(state: &AppState, account: AccountId) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select phone_number from sms_numbers where account_id = $1 order by created_at, phone_number",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?)
}

/// The account's quiet hours and missed-call setting (when SMS is connected).
pub(super) async fn settings(
    state: &AppState,
    account: AccountId,
) -> Result<Option<(Option<QuietHours>, bool)>> {
    Ok(integration(state, account)
        .await?
        .filter(|i| i.is_active)
        .map(|i| (i.quiet_hours(), i.missed_call_text_back)))
}

fn validate_quiet_hours(qh: &QuietHours) -> Result<()> {
    let Some(w) = crate::hours::Window::parse(&qh.start, &qh.end) else {
        return Err(ApiError::invalid(
            "quiet_hours.start and quiet_hours.end must be HH:MM (24-hour)",
        ));
    };
    if w.start == w.end {
        return Err(ApiError::invalid(
            "quiet_hours.start and quiet_hours.end must differ",
        ));
    }
    if qh.window().is_none() {
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
pub(super) async fn connect(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Json(body): Json<ConnectSms>,
) -> Result<Json<SmsStatus>> {
    let account = caller.account;
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
        validate_quiet_hours(qh)?;
    }
    let quiet = body.quiet_hours.as_ref().map(
        |q| json!({"start": q.start.trim(), "end": q.end.trim(), "timezone": q.timezone.trim()}),
    );
    let sealed = state.secrets.seal(api_key);
    let mut tx = crate::db::begin(&state.pool).await?;
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
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "integration.connected",
            None,
            serde_json::json!({"integration": "sms"}),
        ),
    )
    .await?;
    Ok(Json(status_of(&state, account).await?))
}

fn number_taken(phone: &str) -> ApiError {
    ApiError::Conflict(
        "number_taken",
        format!("{phone} is already connected to another account"),
    )
}

/// The account's SMS integration as the API and the dashboard show it.
pub async fn status_of(state: &AppState, account: AccountId) -> Result<SmsStatus> {
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
            last_error_at: None,
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
        last_error_at: i.last_error_at,
        webhook_url,
    })
}

/// The account's SMS integration.
#[utoipa::path(get, path = "/api/integrations/sms/status", tag = "sms",
    responses((status = 200, body = SmsStatus)), security(("api_key" = [])))]
pub(super) async fn status(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<SmsStatus>> {
    Ok(Json(status_of(&state, account).await?))
}

/// Removes the integration, its stored key and its numbers.
#[utoipa::path(delete, path = "/api/integrations/sms/disconnect", tag = "sms",
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
pub(super) async fn disconnect(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
) -> Result<StatusCode> {
    let account = caller.account;
    let gone = sqlx::query("delete from sms_integrations where account_id = $1")
        .bind(account)
        .execute(&state.pool)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::NotFound("sms integration"));
    }
    state.telnyx_keys.forget();
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "integration.disconnected",
            None,
            serde_json::json!({"integration": "sms"}),
        ),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
