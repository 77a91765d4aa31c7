//! An account's time zone and opening hours: read for the account, and the settings API
//! (`GET/PUT /api/settings/hours`, admins change them).

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{BusinessHours, WeeklyHours, Zone};
use crate::audit::{self, Entry};
use crate::auth::{Admin, AuthAccount};
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_hours, put_hours))
}

#[derive(sqlx::FromRow)]
struct Row {
    timezone: String,
    business_hours: Option<serde_json::Value>,
}

async fn row(pool: &sqlx::PgPool, account: AccountId) -> Result<Row> {
    Ok(
        sqlx::query_as("select timezone, business_hours from accounts where id = $1")
            .bind(account)
            .fetch_one(pool)
            .await?,
    )
}

/// The account's zone (UTC when unset or unreadable).
pub async fn zone_of(pool: &sqlx::PgPool, account: AccountId) -> Result<Zone> {
    Ok(Zone::parse(&row(pool, account).await?.timezone).unwrap_or_default())
}

/// The account's opening hours (open all week when none are set).
pub async fn of_account(pool: &sqlx::PgPool, account: AccountId) -> Result<BusinessHours> {
    let r = row(pool, account).await?;
    Ok(BusinessHours::from_stored(&r.timezone, r.business_hours))
}

/// Body of `PUT /api/settings/hours`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursInput {
    /// An IANA time zone such as `America/Chicago` (daylight saving time follows it).
    #[schema(example = "America/Chicago")]
    pub timezone: String,
    /// Opening hours; absent or `null`: open all week.
    #[serde(default)]
    pub hours: Option<WeeklyHours>,
}

/// The account's zone and hours, and what they mean right now.
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursSettings {
    pub timezone: String,
    /// `null`: open all week (no hours set).
    pub hours: Option<WeeklyHours>,
    /// Local wall-clock time there now.
    #[schema(value_type = String, example = "2026-12-07T08:30:00")]
    pub local_time: chrono::NaiveDateTime,
    pub open_now: bool,
    /// When it opens next (now, when open); `null` when no day has hours.
    pub next_open: Option<DateTime<Utc>>,
}

async fn settings(pool: &sqlx::PgPool, account: AccountId) -> Result<HoursSettings> {
    let r = row(pool, account).await?;
    let hours = r
        .business_hours
        .and_then(|v| serde_json::from_value(v).ok());
    let business = of_account(pool, account).await?;
    let now = Utc::now();
    Ok(HoursSettings {
        timezone: r.timezone,
        hours,
        local_time: business.zone.local(now),
        open_now: business.is_open(now),
        next_open: business.next_open(now),
    })
}

#[utoipa::path(get, path = "/api/settings/hours", tag = "ai",
    responses((status = 200, body = HoursSettings)), security(("api_key" = [])))]
async fn get_hours(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<HoursSettings>> {
    Ok(Json(settings(&state.pool, account).await?))
}

/// Sets the account's time zone and opening hours (admins and owners).
#[utoipa::path(put, path = "/api/settings/hours", tag = "ai", request_body = HoursInput,
    responses((status = 200, body = HoursSettings), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn put_hours(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(body): Json<HoursInput>,
) -> Result<Json<HoursSettings>> {
    let zone = match Zone::parse(&body.timezone) {
        Some(z @ Zone::Iana(_)) => z,
        _ => {
            return Err(ApiError::invalid(format!(
                "timezone {:?} is not an IANA time zone such as America/Chicago",
                body.timezone
            )))
        }
    };
    if let Some(h) = &body.hours {
        BusinessHours::new(zone, h).map_err(|m| ApiError::invalid(format!("hours.{m}")))?;
    }
    let stored = body
        .hours
        .as_ref()
        .map(|h| serde_json::to_value(h).unwrap_or_default());
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query("update accounts set timezone = $2, business_hours = $3 where id = $1")
        .bind(caller.account)
        .bind(zone.name())
        .bind(&stored)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        Entry::by(
            &caller,
            "settings.hours",
            None,
            json!({ "timezone": zone.name() }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(settings(&state.pool, caller.account).await?))
}
