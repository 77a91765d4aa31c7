//! Single-use links that let a person set their password: invitations (also the first
//! owner's setup link) for 72 hours, password resets for 2 hours. Only the token's
//! SHA-256 is stored; a new link of the same kind replaces the user's earlier ones.

use sha2::{Digest, Sha256};

use crate::domain::AccountId;
use crate::error::Result;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    pub fn hours(self) -> i64 {
        match self {
            Purpose::Invite => 72,
            Purpose::Reset => 2,
        }
    }
}

/// The path of a link (after the server's public base).
pub fn path(token: &str) -> String {
    format!("/password/{token}")
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Makes a link for the user; returns its token (shown once: in the email or to the admin).
pub async fn issue(
    pool: &sqlx::PgPool,
    account: AccountId,
    user_id: i64,
    purpose: Purpose,
    created_by: Option<i64>,
) -> Result<String> {
    let token = crate::auth::session::random_token();
    let mut tx = crate::db::begin(pool).await?;
    sqlx::query("delete from user_tokens where user_id = $1 and purpose = $2 and used_at is null")
        .bind(user_id)
        .bind(purpose)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "insert into user_tokens (account_id, user_id, purpose, token_hash, expires_at, created_by)
         values ($1, $2, $3, $4, now() + make_interval(hours => $5::int), $6)",
    )
    .bind(account)
    .bind(user_id)
    .bind(purpose)
    .bind(hash(&token))
    .bind(purpose.hours() as i32)
    .bind(created_by)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// Whom a live link is for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Link {
    pub user_id: i64,
    pub account_id: AccountId,
    pub purpose: Purpose,
    pub email: String,
    pub name: String,
    pub account_name: String,
}

const LINK_SELECT: &str =
    "select t.user_id, t.account_id, t.purpose, u.email, u.name, a.name as account_name
     from user_tokens t join users u on u.id = t.user_id join accounts a on a.id = t.account_id";

/// The link's person, when it is unused, unexpired, and its user not disabled.
pub async fn peek(pool: &sqlx::PgPool, token: &str) -> Result<Option<Link>> {
    Ok(sqlx::query_as(&format!(
        "{LINK_SELECT} where t.token_hash = $1 and t.used_at is null and t.expires_at > now()
           and u.disabled_at is null"
    ))
    .bind(hash(token))
    .fetch_optional(pool)
    .await?)
}

/// Uses the link up (atomically: of two concurrent uses, one wins).
pub async fn consume(pool: &sqlx::PgPool, token: &str) -> Result<Option<Link>> {
    Ok(sqlx::query_as(&format!(
        "with used as (
             update user_tokens t set used_at = now()
             from users u
             where t.token_hash = $1 and t.used_at is null and t.expires_at > now()
               and u.id = t.user_id and u.disabled_at is null
             returning t.id)
         {LINK_SELECT} where t.id = (select id from used)"
    ))
    .bind(hash(token))
    .fetch_optional(pool)
    .await?)
}
