//! The signed-in person's own account: who am I, change my password, and two-factor
//! (start, confirm with a first code — which returns the recovery codes once —, turn off).

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, Entry};
use crate::auth::users::{self, User};
use crate::auth::{password, totp, Caller, Enrolling, Role};
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(change_password))
        .routes(routes!(start_totp, stop_totp))
        .routes(routes!(confirm_totp))
}

fn user_id(caller: &Caller) -> Result<i64> {
    caller.user_id().ok_or_else(|| {
        ApiError::Forbidden("this is about a person: sign in as a user, not with an API key".into())
    })
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The user; absent for an API key.
    pub user: Option<User>,
    pub role: Role,
    pub account_id: i64,
    /// The account requires two-factor sign-in.
    pub account_requires_totp: bool,
}

#[utoipa::path(get, path = "/api/me", tag = "team",
    responses((status = 200, body = Me)), security(("api_key" = [])))]
async fn me(State(state): State<AppState>, Enrolling(caller): Enrolling) -> Result<Json<Me>> {
    let user = match caller.user_id() {
        Some(id) => Some(users::get(&state.pool, caller.account, id).await?),
        None => None,
    };
    let requires: bool = sqlx::query_scalar("select require_totp from accounts where id = $1")
        .bind(caller.account)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(Me {
        user,
        role: caller.role,
        account_id: caller.account.0,
        account_requires_totp: requires,
    }))
}

/// Body of `PUT /api/me/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    #[schema(min_length = 10, max_length = 128)]
    pub new_password: String,
}

async fn current_hash(state: &AppState, id: i64) -> Result<(Option<String>, String)> {
    Ok(
        sqlx::query_as("select password_hash, email from users where id = $1")
            .bind(id)
            .fetch_one(&state.pool)
            .await?,
    )
}

async fn check_current(state: &AppState, caller: &Caller, given: &str) -> Result<String> {
    let id = user_id(caller)?;
    let (phc, email) = current_hash(state, id).await?;
    if !password::verify(given, phc.as_deref()).await? {
        let key = format!("email:{email}");
        if let Some(wait) = crate::throttle::failed(&state.pool, &key).await? {
            return Err(ApiError::Throttled(wait));
        }
        return Err(ApiError::Unprocessable(
            "wrong_password",
            "current_password is not right".into(),
        ));
    }
    Ok(email)
}

/// Changes the signed-in user's password; every session of theirs ends (sign in again).
#[utoipa::path(put, path = "/api/me/password", tag = "team", request_body = PasswordChange,
    responses((status = 204), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode> {
    let email = check_current(&state, &caller, &body.current_password).await?;
    password::check_policy(&body.new_password, &email)?;
    let phc = password::hash(&body.new_password).await?;
    let id = user_id(&caller)?;
    users::set_password(&state.pool, id, &phc).await?;
    audit::record(
        &state.pool,
        Entry::by(
            &caller,
            "user.password_changed",
            Some(format!("user:{id}")),
            json!({}),
        ),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What an authenticator app needs; confirm with a first code to turn two-factor on.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpSetup {
    /// The secret in base32, for typing into the app by hand.
    pub secret: String,
    /// `otpauth://totp/…`, what the QR code holds.
    pub otpauth_url: String,
    /// The QR code as SVG.
    pub qr_svg: String,
}

/// Starts two-factor set-up: a new secret (not in force until confirmed).
#[utoipa::path(post, path = "/api/me/totp", tag = "team",
    responses((status = 201, body = TotpSetup), (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn start_totp(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
) -> Result<(StatusCode, Json<TotpSetup>)> {
    let id = user_id(&caller)?;
    let user = users::get(&state.pool, caller.account, id).await?;
    if user.totp_enabled {
        return Err(ApiError::Conflict(
            "totp_enabled",
            "two-factor is already on: turn it off first to change the app".into(),
        ));
    }
    let secret = totp::new_secret();
    let sealed = state.secrets.seal(&hex::encode(&secret));
    sqlx::query("update users set totp_secret = $2, totp_nonce = $3, totp_key_id = $4, totp_last_step = null where id = $1")
        .bind(id)
        .bind(&sealed.ciphertext)
        .bind(&sealed.nonce)
        .bind(&sealed.key_id)
        .execute(&state.pool)
        .await?;
    let company: String = sqlx::query_scalar("select name from accounts where id = $1")
        .bind(caller.account)
        .fetch_one(&state.pool)
        .await?;
    let url = totp::otpauth_url(&secret, &format!("Leadline {company}"), &user.email);
    Ok((
        StatusCode::CREATED,
        Json(TotpSetup {
            secret: totp::secret_base32(&secret),
            qr_svg: totp::qr_svg(&url),
            otpauth_url: url,
        }),
    ))
}

/// Body of `POST /api/me/totp/confirm`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpCode {
    /// The 6-digit code the app shows now.
    #[schema(pattern = r"^\s*\d{3}\s?\d{3}\s*$")]
    pub code: String,
}

/// Two-factor is on: the recovery codes, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Each works once, in place of a code, if the phone is lost.
    pub recovery_codes: Vec<String>,
}

/// Turns two-factor on with a first code from the app; returns the recovery codes.
#[utoipa::path(post, path = "/api/me/totp/confirm", tag = "team", request_body = TotpCode,
    responses((status = 200, body = RecoveryCodes), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn confirm_totp(
    State(state): State<AppState>,
    Enrolling(caller): Enrolling,
    Json(body): Json<TotpCode>,
) -> Result<Json<RecoveryCodes>> {
    let id = user_id(&caller)?;
    let (stored, enabled): (totp::StoredSecret, bool) = {
        let row = sqlx::query("select totp_secret, totp_nonce, totp_key_id, totp_enabled_at is not null as enabled from users where id = $1")
            .bind(id)
            .fetch_one(&state.pool)
            .await?;
        (
            sqlx::FromRow::from_row(&row)?,
            sqlx::Row::try_get(&row, "enabled")?,
        )
    };
    if enabled || stored.totp_secret.is_none() {
        return Err(ApiError::Conflict(
            "totp_not_started",
            "start with POST /api/me/totp (or it is on already)".into(),
        ));
    }
    let secret = stored.open(&state.secrets).ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("stored two-factor secret unreadable"))
    })?;
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let Some(step) = totp::matching_step(&secret, &body.code, now, None) else {
        return Err(ApiError::Unprocessable(
            "wrong_code",
            "code does not match: check the phone's clock and try the current code".into(),
        ));
    };
    let codes = totp::new_recovery_codes();
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query("update users set totp_enabled_at = now(), totp_last_step = $2 where id = $1")
        .bind(id)
        .bind(step)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from recovery_codes where user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    for c in &codes {
        sqlx::query("insert into recovery_codes (user_id, code_hash) values ($1, $2)")
            .bind(id)
            .bind(totp::recovery_hash(c))
            .execute(&mut *tx)
            .await?;
    }
    audit::record(
        &mut *tx,
        Entry::by(
            &caller,
            "user.totp_enabled",
            Some(format!("user:{id}")),
            json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// Body of `DELETE /api/me/totp`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpOff {
    pub current_password: String,
}

/// Turns two-factor off (the password is asked again); refused when the account requires it.
#[utoipa::path(delete, path = "/api/me/totp", tag = "team", request_body = TotpOff,
    responses((status = 204), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn stop_totp(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<TotpOff>,
) -> Result<StatusCode> {
    check_current(&state, &caller, &body.current_password).await?;
    let requires: bool = sqlx::query_scalar("select require_totp from accounts where id = $1")
        .bind(caller.account)
        .fetch_one(&state.pool)
        .await?;
    if requires {
        return Err(ApiError::Conflict(
            "totp_required",
            "this account requires two-factor sign-in".into(),
        ));
    }
    let id = user_id(&caller)?;
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query("update users set totp_secret = null, totp_nonce = null, totp_key_id = null, totp_enabled_at = null, totp_last_step = null where id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from recovery_codes where user_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        Entry::by(
            &caller,
            "user.totp_disabled",
            Some(format!("user:{id}")),
            json!({}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
