//! The audit log: who did what, when, from where — sign-ins (ok and failed), user and
//! role changes, keys, integrations, lead reassignment, settings. Written in the same
//! transaction as the change where there is one; read by owners and admins.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Admin, Caller};
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_route))
}

/// One entry, as recorded.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub account: AccountId,
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub actor: String,
    pub action: &'a str,
    pub target: Option<String>,
    pub details: Value,
    pub ip: Option<std::net::IpAddr>,
}

impl<'a> Entry<'a> {
    /// An action of an authenticated caller.
    pub fn by(caller: &Caller, action: &'a str, target: Option<String>, details: Value) -> Self {
        Entry {
            account: caller.account,
            user_id: caller.user_id(),
            api_key_id: caller.key_id(),
            actor: caller.label(),
            action,
            target,
            details,
            ip: caller.ip,
        }
    }
}

/// Writes an entry (on the transaction of the change, when given one).
pub async fn record<'c, E>(exec: E, e: Entry<'_>) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "insert into audit_log (account_id, user_id, api_key_id, actor, action, target, details, ip)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(e.account)
    .bind(e.user_id)
    .bind(e.api_key_id)
    .bind(&e.actor)
    .bind(e.action)
    .bind(&e.target)
    .bind(&e.details)
    .bind(e.ip.map(|ip| ip.to_string()))
    .execute(exec)
    .await?;
    Ok(())
}

/// An entry as listed.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The user who acted, when a user did (else an API key or nobody signed in).
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    /// The actor as it was then: an email, or `API key ll_1a2b3c4d`.
    pub actor: String,
    /// `sign_in.ok`, `sign_in.failed`, `user.invited`, `user.role_changed`, `key.created`,
    /// `integration.connected`, `lead.assigned`… (see the README's list).
    pub action: String,
    pub target: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
    pub ip: Option<String>,
}

/// Query of `GET /api/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only actions starting with this (`sign_in`, `user.`, `key.`…).
    #[param(max_length = 50)]
    pub action: Option<String>,
    /// Only what this user did.
    pub user_id: Option<i64>,
    /// Entries older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of entries, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
    /// Pass as `before` for the next page; absent on the last.
    pub next_before: Option<i64>,
}

/// Entries of the account, newest first.
pub async fn list(pool: &sqlx::PgPool, account: AccountId, p: &AuditParams) -> Result<AuditPage> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 200"));
    }
    let action = p.action.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if action.is_some_and(|a| a.len() > 50) {
        return Err(ApiError::invalid("action must be at most 50 characters"));
    }
    let prefix = action.map(|a| {
        format!(
            "{}%",
            a.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let mut items: Vec<AuditEntry> = sqlx::query_as(
        "select id, at, user_id, api_key_id, actor, action, target, details, ip from audit_log
         where account_id = $1 and ($2::text is null or action like $2)
           and ($3::bigint is null or user_id = $3) and ($4::bigint is null or id < $4)
         order by id desc limit $5",
    )
    .bind(account)
    .bind(prefix)
    .bind(p.user_id)
    .bind(p.before)
    .bind(limit + 1)
    .fetch_all(pool)
    .await?;
    let next_before = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|e| e.id)
    } else {
        None
    };
    Ok(AuditPage { items, next_before })
}

/// The account's audit log (owners and admins).
#[utoipa::path(get, path = "/api/audit", tag = "team", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 403, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn list_route(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(p): Query<AuditParams>,
) -> Result<Json<AuditPage>> {
    Ok(Json(list(&state.pool, caller.account, &p).await?))
}
