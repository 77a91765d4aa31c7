//! API keys over HTTP: list, issue (the key is shown once), revoke. A revoked key stops
//! working on its next request, and so do the dashboard sessions opened with it.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(revoke_route))
}

/// A key as listed: never the key itself.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct KeyInfo {
    pub id: i64,
    pub name: Option<String>,
    /// The first characters of the key (`ll_1a2b3c4d`), to recognize it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The account's keys, newest first (revoked ones too, marked).
pub async fn of_account(pool: &sqlx::PgPool, account: AccountId) -> Result<Vec<KeyInfo>> {
    Ok(sqlx::query_as(
        "select id, name, prefix, created_at, last_used_at, revoked_at from api_keys
         where account_id = $1 order by revoked_at is not null, created_at desc, id desc",
    )
    .bind(account)
    .fetch_all(pool)
    .await?)
}

#[utoipa::path(get, path = "/api/keys", tag = "keys",
    responses((status = 200, body = Vec<KeyInfo>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
) -> Result<Json<Vec<KeyInfo>>> {
    let account = caller.account;
    Ok(Json(of_account(&state.pool, account).await?))
}

/// Body of `POST /api/keys`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKeyBody {
    /// What the key is for ("website form", "Zapier"); 1 to 100 characters.
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: String,
}

/// A new key: `api_key` is shown in this response only.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedKey {
    #[serde(flatten)]
    pub info: KeyInfo,
    pub api_key: String,
}

/// Issues a new key for the account.
#[utoipa::path(post, path = "/api/keys", tag = "keys", request_body = NewKeyBody,
    responses((status = 201, body = IssuedKey), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Json(body): Json<NewKeyBody>,
) -> Result<(StatusCode, Json<IssuedKey>)> {
    let account = caller.account;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    let key = crate::auth::generate_key();
    let info: KeyInfo = sqlx::query_as(
        "insert into api_keys (account_id, key_hash, prefix, name) values ($1, $2, $3, $4)
         returning id, name, prefix, created_at, last_used_at, revoked_at",
    )
    .bind(account)
    .bind(&key.hash)
    .bind(&key.prefix)
    .bind(name)
    .fetch_one(&state.pool)
    .await?;
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "key.created",
            Some(format!("key:{}", info.id)),
            serde_json::json!({"name": name, "prefix": info.prefix}),
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedKey {
            info,
            api_key: key.plaintext,
        }),
    ))
}

/// Revokes a key of the account (`key_id`), or the account's key with this prefix; ends
/// the dashboard sessions opened with it. False when the account has no such live key.
pub async fn revoke(
    pool: &sqlx::PgPool,
    account: AccountId,
    key_id: Option<i64>,
    prefix: Option<&str>,
) -> Result<bool> {
    let mut tx = crate::db::begin(pool).await?;
    let revoked: Option<i64> = sqlx::query_scalar(
        "update api_keys set revoked_at = now()
         where account_id = $1 and revoked_at is null and (id = $2 or prefix = $3)
         returning id",
    )
    .bind(account)
    .bind(key_id)
    .bind(prefix)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(id) = revoked {
        sqlx::query("delete from dashboard_sessions where api_key_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(revoked.is_some())
}

/// Revokes the key: it stops working on its next request (404 when unknown or revoked).
#[utoipa::path(delete, path = "/api/keys/{id}", tag = "keys", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn revoke_route(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let account = caller.account;
    if revoke(&state.pool, account, Some(id), None).await? {
        let entry = crate::audit::Entry::by(
            &caller,
            "key.revoked",
            Some(format!("key:{id}")),
            serde_json::json!({}),
        );
        crate::audit::record(&state.pool, entry).await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("API key"))
    }
}
