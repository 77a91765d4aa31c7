//! Alerts over HTTP: the signed-in person's alerts (list with the unread count, mark read,
//! a live stream for the dashboard's bell), their alert choices (channels, phone, mute
//! hours), and the account's answer targets (admins).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use chrono::{DateTime, NaiveTime, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::Kind;
use crate::audit::{self, Entry};
use crate::auth::{Admin, AuthAccount, Caller};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(read_one))
        .routes(routes!(read_all))
        .routes(routes!(stream))
        .routes(routes!(get_prefs, put_prefs))
        .routes(routes!(get_targets, put_targets))
}

fn user_of(caller: &Caller) -> Result<i64> {
    caller.user_id().ok_or_else(|| {
        ApiError::Forbidden("alerts are a person's: sign in as a user, not with an API key".into())
    })
}

/// One alert.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Alert {
    pub id: i64,
    pub kind: Kind,
    pub lead_id: Option<i64>,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, kind, lead_id, message, created_at, read_at";

/// Query of `GET /api/alerts`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertParams {
    /// Only unread ones.
    pub unread: Option<bool>,
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The signed-in person's alerts, newest first, and how many are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertList {
    pub items: Vec<Alert>,
    pub unread: i64,
}

/// A person's alerts, newest first (only unread ones when asked), and the unread count.
pub async fn of_user(
    pool: &sqlx::PgPool,
    user: i64,
    unread_only: bool,
    limit: i64,
) -> Result<AlertList> {
    let items = sqlx::query_as(&format!(
        "select {COLUMNS} from alerts where user_id = $1 and (not $2 or read_at is null) order by id desc limit $3"
    ))
    .bind(user)
    .bind(unread_only)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let unread =
        sqlx::query_scalar("select count(*) from alerts where user_id = $1 and read_at is null")
            .bind(user)
            .fetch_one(pool)
            .await?;
    Ok(AlertList { items, unread })
}

#[utoipa::path(get, path = "/api/alerts", tag = "alerts", params(AlertParams),
    responses((status = 200, body = AlertList), (status = 403, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(p): Query<AlertParams>,
) -> Result<Json<AlertList>> {
    let user = user_of(&caller)?;
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 200"));
    }
    Ok(Json(
        of_user(&state.pool, user, p.unread.unwrap_or(false), limit).await?,
    ))
}

#[utoipa::path(post, path = "/api/alerts/{id}/read", tag = "alerts", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn read_one(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let user = user_of(&caller)?;
    let done = sqlx::query(
        "update alerts set read_at = coalesce(read_at, now()) where id = $1 and user_id = $2",
    )
    .bind(id)
    .bind(user)
    .execute(&state.pool)
    .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("alert"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/alerts/read-all", tag = "alerts",
    responses((status = 204)), security(("api_key" = [])))]
async fn read_all(State(state): State<AppState>, caller: Caller) -> Result<StatusCode> {
    let user = user_of(&caller)?;
    sqlx::query("update alerts set read_at = now() where user_id = $1 and read_at is null")
        .bind(user)
        .execute(&state.pool)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Live alerts for the dashboard's bell (server-sent events): `alert` events with each
/// new alert as it is made, whichever replica made it (read from PostgreSQL every 2 s).
#[utoipa::path(get, path = "/api/alerts/stream", tag = "alerts",
    responses((status = 200, description = "text/event-stream of `alert` events", content_type = "text/event-stream")),
    security(("api_key" = [])))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let user = user_of(&caller)?;
    let start: i64 =
        sqlx::query_scalar("select coalesce(max(id), 0) from alerts where user_id = $1")
            .bind(user)
            .fetch_one(&state.pool)
            .await?;
    let events = futures_util::stream::unfold((state, start), move |(state, after)| async move {
        loop {
            let fresh: Vec<Alert> = sqlx::query_as(&format!(
                "select {COLUMNS} from alerts where user_id = $1 and id > $2 order by id limit 50"
            ))
            .bind(user)
            .bind(after)
            .fetch_all(&state.pool)
            .await
            .unwrap_or_default();
            if let Some(last) = fresh.last().map(|a| a.id) {
                let data = serde_json::to_string(&fresh).unwrap_or_else(|_| "[]".into());
                let ev = SseEvent::default()
                    .event("alert")
                    .id(last.to_string())
                    .data(data);
                return Some((Ok(ev), (state, last)));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    // A short keep-alive also finds a closed tab soon (the write fails), ending its loop.
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(5))))
}

/// How a person wants alerts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertPrefs {
    /// Any of `dashboard`, `email`, `sms` (the bell always shows them).
    pub channels: Vec<String>,
    /// Where texts go (E.164 or a number of the account's country).
    #[serde(default)]
    pub phone: Option<String>,
    /// No email or text between these local times (`HH:MM`, may span midnight).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "21:00")]
    pub mute_start: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "07:00")]
    pub mute_end: Option<String>,
}

#[utoipa::path(get, path = "/api/me/alerts", tag = "alerts",
    responses((status = 200, body = AlertPrefs), (status = 403, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn get_prefs(State(state): State<AppState>, caller: Caller) -> Result<Json<AlertPrefs>> {
    let user = user_of(&caller)?;
    let (channels, phone, start, end): (
        Vec<String>,
        Option<String>,
        Option<NaiveTime>,
        Option<NaiveTime>,
    ) = sqlx::query_as(
        "select alert_channels, phone, mute_start, mute_end from users where id = $1",
    )
    .bind(user)
    .fetch_one(&state.pool)
    .await?;
    let hm = |t: Option<NaiveTime>| t.map(|t| t.format("%H:%M").to_string());
    Ok(Json(AlertPrefs {
        channels,
        phone,
        mute_start: hm(start),
        mute_end: hm(end),
    }))
}

#[utoipa::path(put, path = "/api/me/alerts", tag = "alerts", request_body = AlertPrefs,
    responses((status = 200, body = AlertPrefs), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn put_prefs(
    State(state): State<AppState>,
    caller: Caller,
    Json(b): Json<AlertPrefs>,
) -> Result<Json<AlertPrefs>> {
    let user = user_of(&caller)?;
    let mut channels: Vec<String> = b
        .channels
        .iter()
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    channels.sort();
    channels.dedup();
    if let Some(bad) = channels
        .iter()
        .find(|c| !["dashboard", "email", "sms"].contains(&c.as_str()))
    {
        return Err(ApiError::invalid(format!(
            "channels: {bad:?} is not dashboard, email or sms"
        )));
    }
    let phone = match b.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => Some(
            crate::phone::normalize_phone(p, state.config.default_region).ok_or_else(|| {
                ApiError::invalid(format!("phone {p:?} is not a valid phone number"))
            })?,
        ),
        None => None,
    };
    if channels.iter().any(|c| c == "sms") && phone.is_none() {
        return Err(ApiError::invalid("phone is required to get alerts by text"));
    }
    let time = |v: &Option<String>, field: &str| -> Result<Option<NaiveTime>> {
        match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => NaiveTime::parse_from_str(s, "%H:%M")
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("{field} must be HH:MM (24-hour)"))),
            None => Ok(None),
        }
    };
    let (start, end) = (
        time(&b.mute_start, "mute_start")?,
        time(&b.mute_end, "mute_end")?,
    );
    if start.is_some() != end.is_some() {
        return Err(ApiError::invalid("mute_start and mute_end go together"));
    }
    sqlx::query("update users set alert_channels = $2, phone = $3, mute_start = $4, mute_end = $5 where id = $1")
        .bind(user)
        .bind(&channels)
        .bind(&phone)
        .bind(start)
        .bind(end)
        .execute(&state.pool)
        .await?;
    get_prefs(State(state), caller).await
}

/// The account's answer targets, in minutes of open time.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// An inbound message no person answered within this: the assigned person (or
    /// everyone) is alerted. 1–1440, default 5.
    #[schema(minimum = 1, maximum = 1440)]
    pub first_minutes: i32,
    /// Still unanswered after this: the owners are alerted. 1–10080, default 30.
    #[schema(minimum = 1, maximum = 10080)]
    pub escalate_minutes: i32,
}

#[utoipa::path(get, path = "/api/settings/alerts", tag = "alerts",
    responses((status = 200, body = Targets)), security(("api_key" = [])))]
async fn get_targets(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<Targets>> {
    let (first_minutes, escalate_minutes) = sqlx::query_as(
        "select alert_first_minutes, alert_escalate_minutes from accounts where id = $1",
    )
    .bind(account)
    .fetch_one(&state.pool)
    .await?;
    Ok(Json(Targets {
        first_minutes,
        escalate_minutes,
    }))
}

#[utoipa::path(put, path = "/api/settings/alerts", tag = "alerts", request_body = Targets,
    responses((status = 200, body = Targets), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn put_targets(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(b): Json<Targets>,
) -> Result<Json<Targets>> {
    if !(1..=1440).contains(&b.first_minutes) {
        return Err(ApiError::invalid("first_minutes must be 1 to 1440"));
    }
    if !(1..=10080).contains(&b.escalate_minutes) || b.escalate_minutes <= b.first_minutes {
        return Err(ApiError::invalid(
            "escalate_minutes must be 1 to 10080 and more than first_minutes",
        ));
    }
    sqlx::query(
        "update accounts set alert_first_minutes = $2, alert_escalate_minutes = $3 where id = $1",
    )
    .bind(caller.account)
    .bind(b.first_minutes)
    .bind(b.escalate_minutes)
    .execute(&state.pool)
    .await?;
    audit::record(
        &state.pool,
        Entry::by(
            &caller,
            "settings.alerts",
            None,
            json!({ "first_minutes": b.first_minutes, "escalate_minutes": b.escalate_minutes }),
        ),
    )
    .await?;
    Ok(Json(b))
}
