//! Account rules about people: whether two-factor is required (owners), and how new
//! leads are assigned (admins): to nobody, to one person, or round robin among members.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, Entry};
use crate::auth::{Admin, AuthAccount, Caller, Role};
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::extract::Json;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_security, put_security))
        .routes(routes!(get_assignment, put_assignment))
}

/// The account's sign-in rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// Every user must sign in with a two-factor code (those without one set it up at
    /// their next sign-in before anything else).
    pub require_totp: bool,
}

#[utoipa::path(get, path = "/api/settings/security", tag = "team",
    responses((status = 200, body = Security)), security(("api_key" = [])))]
async fn get_security(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<Security>> {
    let require_totp = sqlx::query_scalar("select require_totp from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(Security { require_totp }))
}

/// Sets the account's sign-in rules (owners only).
#[utoipa::path(put, path = "/api/settings/security", tag = "team", request_body = Security,
    responses((status = 200, body = Security), (status = 403, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn put_security(
    State(state): State<AppState>,
    caller: Caller,
    Json(body): Json<Security>,
) -> Result<Json<Security>> {
    caller.require(Role::Owner)?;
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query("update accounts set require_totp = $2 where id = $1")
        .bind(caller.account)
        .bind(body.require_totp)
        .execute(&mut *tx)
        .await?;
    audit::record(
        &mut *tx,
        Entry::by(
            &caller,
            "settings.security",
            None,
            json!({ "require_totp": body.require_totp }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(body))
}

/// How new leads are assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AssignmentRule {
    /// New leads wait unassigned.
    Nobody,
    /// Every new lead goes to `user_id`.
    One,
    /// New leads go in turn to each of `member_ids` (disabled users are skipped).
    RoundRobin,
}

/// The account's assignment rule.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    pub rule: AssignmentRule,
    /// With `one`: who gets every new lead.
    #[serde(default)]
    pub user_id: Option<i64>,
    /// With `round_robin`: who takes turns (1 to 100 users).
    #[serde(default)]
    #[schema(max_items = 100)]
    pub member_ids: Vec<i64>,
}

/// The account's rule (`nobody` until one is set).
pub async fn assignment(pool: &sqlx::PgPool, account: AccountId) -> Result<Assignment> {
    let row: Option<(AssignmentRule, Option<i64>)> =
        sqlx::query_as("select rule, user_id from lead_assignment where account_id = $1")
            .bind(account)
            .fetch_optional(pool)
            .await?;
    let member_ids = sqlx::query_scalar(
        "select user_id from lead_assignment_members where account_id = $1 order by user_id",
    )
    .bind(account)
    .fetch_all(pool)
    .await?;
    let (rule, user_id) = row.unwrap_or((AssignmentRule::Nobody, None));
    Ok(Assignment {
        rule,
        user_id,
        member_ids,
    })
}

#[utoipa::path(get, path = "/api/settings/assignment", tag = "team",
    responses((status = 200, body = Assignment)), security(("api_key" = [])))]
async fn get_assignment(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<Assignment>> {
    Ok(Json(assignment(&state.pool, account).await?))
}

/// Sets how new leads are assigned (admins and owners).
#[utoipa::path(put, path = "/api/settings/assignment", tag = "team", request_body = Assignment,
    responses((status = 200, body = Assignment), (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn put_assignment(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(body): Json<Assignment>,
) -> Result<Json<Assignment>> {
    let mut members = body.member_ids.clone();
    members.sort_unstable();
    members.dedup();
    let (user_id, members) = match body.rule {
        AssignmentRule::Nobody => (None, Vec::new()),
        AssignmentRule::One => (
            Some(
                body.user_id
                    .ok_or_else(|| ApiError::invalid("user_id is required with the rule `one`"))?,
            ),
            Vec::new(),
        ),
        AssignmentRule::RoundRobin => {
            if members.is_empty() || members.len() > 100 {
                return Err(ApiError::invalid(
                    "member_ids must name 1 to 100 users with the rule `round_robin`",
                ));
            }
            (None, members)
        }
    };
    let wanted: Vec<i64> = user_id.into_iter().chain(members.iter().copied()).collect();
    let active: i64 = sqlx::query_scalar(
        "select count(*) from users where account_id = $1 and id = any($2) and disabled_at is null",
    )
    .bind(caller.account)
    .bind(&wanted)
    .fetch_one(&state.pool)
    .await?;
    if active != wanted.len() as i64 {
        return Err(ApiError::invalid(
            "user_id and member_ids must be active users of this account",
        ));
    }
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query(
        "insert into lead_assignment (account_id, rule, user_id) values ($1, $2, $3)
         on conflict (account_id) do update set rule = excluded.rule, user_id = excluded.user_id",
    )
    .bind(caller.account)
    .bind(body.rule)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from lead_assignment_members where account_id = $1")
        .bind(caller.account)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into lead_assignment_members (account_id, user_id) select $1, unnest($2::bigint[])",
    )
    .bind(caller.account)
    .bind(&members)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        Entry::by(
            &caller,
            "settings.assignment",
            None,
            json!({ "rule": body.rule, "user_id": user_id, "member_ids": members }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(assignment(&state.pool, caller.account).await?))
}
