//! Accounts (one per roofing company) and their creation.

use serde::Serialize;

use crate::auth::issue_key;
use crate::domain::AccountId;

/// What `leadline account create` and `account key` print: the key appears only here.
#[derive(Debug, Serialize)]
pub struct IssuedKey {
    pub account_id: AccountId,
    pub api_key: String,
}

pub async fn create(pool: &sqlx::PgPool, name: &str) -> anyhow::Result<IssuedKey> {
    let name = name.trim();
    anyhow::ensure!(
        !name.is_empty() && name.len() <= 200,
        "the account name must be 1 to 200 characters"
    );
    let account_id: AccountId =
        sqlx::query_scalar("insert into accounts (name) values ($1) returning id")
            .bind(name)
            .fetch_one(pool)
            .await?;
    let api_key = issue_key(pool, account_id).await?;
    Ok(IssuedKey {
        account_id,
        api_key,
    })
}

pub async fn new_key(pool: &sqlx::PgPool, account_id: AccountId) -> anyhow::Result<IssuedKey> {
    let exists: bool = sqlx::query_scalar("select exists(select 1 from accounts where id = $1)")
        .bind(account_id)
        .fetch_one(pool)
        .await?;
    anyhow::ensure!(exists, "no account with id {account_id}");
    let api_key = issue_key(pool, account_id).await?;
    Ok(IssuedKey {
        account_id,
        api_key,
    })
}
