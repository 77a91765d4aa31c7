//! The quarantine: what a channel received but could not store (no usable sender, a row
//! the database refused…), kept with its raw bytes, the reason, the source and when. A
//! message goes here instead of blocking the ones after it, and a webhook is acknowledged
//! once its post is here. Storage only: retrying is the channel's job
//! (`channels::quarantine`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::AccountId;
use crate::error::Result;
use crate::sanitize;

/// Where a quarantined item came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Imap,
    Mailgun,
    Sendgrid,
    Telnyx,
    /// A lead source's webhook (Google Ads, Facebook, generic, marketplaces).
    LeadSource,
}

impl Source {
    /// Every source, for listing.
    pub const ALL: [Source; 5] = [
        Self::Imap,
        Self::Mailgun,
        Self::Sendgrid,
        Self::Telnyx,
        Self::LeadSource,
    ];
    /// The email sources.
    pub const EMAIL: [Source; 3] = [Self::Imap, Self::Mailgun, Self::Sendgrid];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Imap => "imap",
            Self::Mailgun => "mailgun",
            Self::Sendgrid => "sendgrid",
            Self::Telnyx => "telnyx",
            Self::LeadSource => "lead_source",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "imap" => Self::Imap,
            "mailgun" => Self::Mailgun,
            "sendgrid" => Self::Sendgrid,
            "telnyx" => Self::Telnyx,
            "lead_source" => Self::LeadSource,
            _ => return None,
        })
    }

    /// Email sources (shown with the mailbox) as opposed to SMS.
    pub fn is_email(self) -> bool {
        matches!(self, Self::Imap | Self::Mailgun | Self::Sendgrid)
    }
}

/// What is to be quarantined.
pub struct Item<'a> {
    pub account: Option<AccountId>,
    pub source: Source,
    pub integration_id: Option<i64>,
    pub reason: String,
    pub raw: &'a [u8],
    pub context: Value,
    /// What makes two deliveries the same item (an email's Message-ID or content digest);
    /// the raw bytes when absent.
    pub identity: Option<String>,
}

/// Keeps an item; one row per identity (or identical raw bytes) and account, whichever
/// path it came by. Returns the
/// row's id.
pub async fn put(pool: &PgPool, item: Item<'_>) -> Result<i64> {
    let mut reason = item.reason;
    sanitize::strip(&mut reason);
    let reason: String = reason.chars().take(2000).collect();
    let mut context = item.context;
    sanitize::strip_json(&mut context);
    let digest = match &item.identity {
        Some(id) => Sha256::digest(id.as_bytes()).to_vec(),
        None => Sha256::digest(item.raw).to_vec(),
    };
    tracing::warn!(source = item.source.as_str(), account = ?item.account, %reason, "quarantined");
    Ok(sqlx::query_scalar(
        "insert into quarantine (account_id, source, integration_id, reason, raw, context, digest)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (coalesce(account_id, 0), digest)
            do update set reason = excluded.reason, attempts = quarantine.attempts
         returning id",
    )
    .bind(item.account)
    .bind(item.source.as_str())
    .bind(item.integration_id)
    .bind(&reason)
    .bind(item.raw)
    .bind(&context)
    .bind(&digest)
    .fetch_one(pool)
    .await?)
}

/// One quarantined item as listed (without its bytes).
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Quarantined {
    pub id: i64,
    /// imap, mailgun, sendgrid, telnyx or lead_source.
    pub source: String,
    pub reason: String,
    /// Size of the raw message in bytes.
    pub size: i64,
    /// The subject or first words, when they could be read.
    pub summary: Option<String>,
    #[schema(value_type = Object)]
    pub context: Value,
    pub created_at: DateTime<Utc>,
    pub attempts: i32,
    pub last_attempt_at: Option<DateTime<Utc>>,
}

/// The account's quarantined items of these sources, newest first (at most `limit`).
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    sources: &[Source],
    limit: i64,
) -> Result<Vec<Quarantined>> {
    let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    Ok(sqlx::query_as(
        "select id, source, reason, length(raw)::bigint as size, context->>'summary' as summary, context,
                created_at, attempts, last_attempt_at
         from quarantine where account_id = $1 and source = any($2)
         order by created_at desc, id desc limit $3",
    )
    .bind(account)
    .bind(&names)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How many items of these sources the account has in quarantine.
pub async fn count(pool: &PgPool, account: AccountId, sources: &[Source]) -> Result<i64> {
    let names: Vec<&str> = sources.iter().map(|s| s.as_str()).collect();
    Ok(sqlx::query_scalar(
        "select count(*) from quarantine where account_id = $1 and source = any($2)",
    )
    .bind(account)
    .bind(&names)
    .fetch_one(pool)
    .await?)
}

/// A whole item of the account, for a retry.
#[derive(Debug, sqlx::FromRow)]
pub struct Stored {
    pub id: i64,
    pub source: String,
    pub integration_id: Option<i64>,
    pub raw: Vec<u8>,
    pub context: Value,
}

pub async fn get(pool: &PgPool, account: AccountId, id: i64) -> Result<Option<Stored>> {
    Ok(sqlx::query_as(
        "select id, source, integration_id, raw, context from quarantine where id = $1 and account_id = $2",
    )
    .bind(id)
    .bind(account)
    .fetch_optional(pool)
    .await?)
}

/// Removes an item (discarded, or stored by a retry); false when the account has no such item.
pub async fn remove(pool: &PgPool, account: AccountId, id: i64) -> Result<bool> {
    Ok(
        sqlx::query("delete from quarantine where id = $1 and account_id = $2")
            .bind(id)
            .bind(account)
            .execute(pool)
            .await?
            .rows_affected()
            == 1,
    )
}

/// Notes a failed retry and its reason.
pub async fn retry_failed(pool: &PgPool, id: i64, reason: &str) -> Result<()> {
    let mut reason = reason.chars().take(2000).collect::<String>();
    sanitize::strip(&mut reason);
    sqlx::query(
        "update quarantine set attempts = attempts + 1, last_attempt_at = now(), reason = $2 where id = $1",
    )
    .bind(id)
    .bind(&reason)
    .execute(pool)
    .await?;
    Ok(())
}
