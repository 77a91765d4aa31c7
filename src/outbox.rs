//! Queued outbound work (SMS sends, emails): a PostgreSQL table drained with bounded
//! parallelism, fair between accounts, retried with exponential backoff, failing for good
//! after `MAX_ATTEMPTS`.
//!
//! Each item records how far it got, so work abandoned by a crashed or stalled worker is
//! reclaimed without ever being sent twice:
//! - `claimed`: taken, the provider not called yet. Abandoned (lease expired): retried.
//! - `sending`: the provider call started (`mark_sending`). Abandoned: `unknown`.
//! - `accepted`: the provider took it (`mark_accepted`, with its id). Abandoned: only the
//!   recording of the communication is redone, never the send.
//! - `unknown`: it may have reached the provider. Shown to the account, never re-sent
//!   silently; `send_again` queues it anew at a person's request.
//!
//! Leases are short and renewed while the worker holds the item (`renew`), so a crashed
//! worker's items come back within `LEASE`.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::domain::AccountId;
use crate::error::Result;

pub const MAX_ATTEMPTS: i32 = 6;
/// How long a claimed item may go without its worker renewing it before it is reclaimed.
pub const LEASE: Duration = Duration::seconds(30);
/// How often a worker renews the leases of the items it holds.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);
/// Claims of all replicas take turns under this advisory lock, so the per-account cap
/// counts what every replica holds.
const CLAIM_LOCK: i64 = 0x6f75_7462_6f78; // "outbox"

/// The statuses an item passes through while a worker holds it.
const HELD: &str = "('claimed','sending','accepted')";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxItem {
    pub id: i64,
    pub account_id: AccountId,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
    /// The status before this claim: `accepted` means "record only, do not send".
    pub status: String,
    /// The provider's id once it accepted the item.
    pub provider_message_id: Option<String>,
}

impl OutboxItem {
    /// The provider already accepted it: only the recording remains.
    pub fn accepted_as(&self) -> Option<&str> {
        (self.status == "accepted")
            .then_some(self.provider_message_id.as_deref())
            .flatten()
    }
}

/// What a handler did with an item.
#[derive(Debug)]
pub enum Outcome {
    /// Done; the communication it produced, if any.
    Sent { communication_id: Option<i64> },
    /// Try again later (rate limit, 5xx, network before the provider had it): after
    /// `after` when the provider said so. For an accepted item, the recording is retried.
    Retry {
        error: String,
        after: Option<std::time::Duration>,
    },
    /// Permanent failure (4xx, invalid recipient, opted out).
    Failed { error: String },
    /// It may have reached the provider (a timeout after the request went out).
    Unknown { error: String },
}

/// Queues work. With an idempotency key, a repeat returns the first item's id.
pub async fn enqueue<'c, E>(
    exec: E,
    account: AccountId,
    kind: &str,
    payload: &Value,
    idempotency_key: Option<&str>,
    run_at: Option<DateTime<Utc>>,
) -> Result<i64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    let id: i64 = sqlx::query_scalar(
        "with ins as (
            insert into outbox (account_id, kind, payload, idempotency_key, next_attempt_at, status)
            values ($1, $2, $3, $4, coalesce($5, now()), case when $5 > now() then 'held' else 'pending' end)
            on conflict (account_id, idempotency_key) where idempotency_key is not null do nothing
            returning id)
         select id from ins
         union all
         select id from outbox where account_id = $1 and idempotency_key = $4
         limit 1",
    )
    .bind(account)
    .bind(kind)
    .bind(payload)
    .bind(idempotency_key)
    .bind(run_at)
    .fetch_one(exec)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due items, at most `per_account` held at once per account
/// (counting what every replica holds). Abandoned `sending` items become `unknown` first.
pub async fn claim(pool: &PgPool, limit: i64, per_account: i64) -> Result<Vec<OutboxItem>> {
    let mut tx = crate::db::begin(pool).await?;
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(CLAIM_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update outbox set status = 'unknown', updated_at = now(),
             last_error = 'the server stopped while the provider was being called, so it may or may not have been sent; it was not sent again (use send again if it did not arrive)'
         where status = 'sending' and next_attempt_at <= now()",
    )
    .execute(&mut *tx)
    .await?;
    let items = sqlx::query_as::<_, OutboxItem>(&format!(
        "with busy as (
            select account_id, count(*) as n from outbox
            where status in {HELD} and next_attempt_at > now() group by account_id),
         due_accounts as (
            select distinct account_id from outbox
            where status in ('pending','held','claimed','accepted') and next_attempt_at <= now()),
         cand as (
            select x.id, x.status, x.next_attempt_at,
                   row_number() over (partition by d.account_id order by x.next_attempt_at, x.id)
                       + coalesce(b.n, 0) as place
            from due_accounts d
            left join busy b on b.account_id = d.account_id
            cross join lateral (
                select id, status, next_attempt_at from outbox o
                where o.account_id = d.account_id
                  and o.status in ('pending','held','claimed','accepted') and o.next_attempt_at <= now()
                order by o.next_attempt_at, o.id limit $2) x),
         picked as (
            select id, status as prior from cand where place <= $2 order by next_attempt_at, id limit $1)
         update outbox o set
             status = case when o.status = 'accepted' then 'accepted' else 'claimed' end,
             attempts = o.attempts + case when o.status = 'accepted' then 0 else 1 end,
             next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
         from picked where o.id = picked.id
         returning o.id, o.account_id, o.kind, o.payload, o.attempts, picked.prior as status,
                   o.provider_message_id"
    ))
    .bind(limit)
    .bind(per_account)
    .bind(LEASE.num_seconds() as f64)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(items)
}

/// Keeps a held item's lease alive while its worker is on it.
pub async fn renew(pool: &PgPool, id: i64) -> Result<()> {
    sqlx::query(&format!(
        "update outbox set next_attempt_at = now() + make_interval(secs => $2)
         where id = $1 and status in {HELD}"
    ))
    .bind(id)
    .bind(LEASE.num_seconds() as f64)
    .execute(pool)
    .await?;
    Ok(())
}

/// Called right before the provider is called: from here on, an abandoned item is
/// `unknown` rather than retried.
pub async fn mark_sending(pool: &PgPool, id: i64) -> Result<()> {
    sqlx::query("update outbox set status = 'sending', updated_at = now() where id = $1")
        .bind(id)
        .execute(pool)
        .await?;
    Ok(())
}

/// Called when the provider answered that it did not take the item: a retry may send it.
/// (An item still `sending` when it is settled for a retry may have been sent, so it
/// becomes `unknown`; see `settle`.)
pub async fn mark_not_sent(pool: &PgPool, id: i64) -> Result<()> {
    sqlx::query(
        "update outbox set status = 'claimed', updated_at = now() where id = $1 and status = 'sending'",
    )
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Called first when the provider accepted the item, before anything else can fail.
pub async fn mark_accepted(pool: &PgPool, id: i64, provider_message_id: &str) -> Result<()> {
    sqlx::query(
        "update outbox set status = 'accepted', provider_message_id = $2, updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(provider_message_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a handler's outcome for a claimed item. The row's own status decides what a
/// retry means: an accepted item only has its recording retried, never its send; an item
/// still `sending` (the provider was called and did not say no, e.g. it accepted but the
/// database failed before `mark_accepted`) is `unknown`, never re-sent silently.
pub async fn settle(pool: &PgPool, item: &OutboxItem, outcome: &Outcome) -> Result<()> {
    match outcome {
        Outcome::Sent { communication_id } => {
            sqlx::query("update outbox set status = 'sent', last_error = null, communication_id = $2, updated_at = now() where id = $1")
                .bind(item.id)
                .bind(communication_id)
                .execute(pool)
                .await?;
        }
        Outcome::Retry { error, after } => {
            let delay = after
                .map(|d| d.as_secs_f64())
                .unwrap_or_else(|| backoff_secs(item.attempts));
            sqlx::query(
                "update outbox set
                     status = case when status = 'accepted' then 'accepted'
                                   when status = 'sending' then 'unknown'
                                   when attempts >= $4 then 'failed' else 'pending' end,
                     last_error = case when status = 'accepted' then 'sent; recording it failed: ' || $2
                                       when status = 'sending' then 'it may have been sent, so it was not sent again: ' || $2
                                       when attempts >= $4 then 'gave up after ' || attempts || ' attempts: ' || $2
                                       else $2 end,
                     next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
                 where id = $1",
            )
            .bind(item.id)
            .bind(error)
            .bind(delay)
            .bind(MAX_ATTEMPTS)
            .execute(pool)
            .await?;
        }
        Outcome::Failed { error } | Outcome::Unknown { error } => {
            let status = match outcome {
                Outcome::Unknown { .. } => "unknown",
                _ => "failed",
            };
            sqlx::query(
                "update outbox set status = $3, last_error = $2, updated_at = now() where id = $1",
            )
            .bind(item.id)
            .bind(error)
            .bind(status)
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

/// A worker gave up waiting on an item: what it reached decides (see the module docs).
pub async fn settle_timed_out(
    pool: &PgPool,
    item: &OutboxItem,
    after: std::time::Duration,
) -> Result<()> {
    let error = format!("no answer within {} s", after.as_secs());
    sqlx::query(
        "update outbox set
             status = case status when 'sending' then 'unknown' when 'accepted' then 'accepted'
                                  else 'pending' end,
             last_error = case status when 'sending' then 'the provider did not answer: ' || $2 || '; it may have been sent, so it was not sent again'
                                      else $2 end,
             next_attempt_at = now() + make_interval(secs => $3), updated_at = now()
         where id = $1",
    )
    .bind(item.id)
    .bind(error)
    .bind(backoff_secs(item.attempts))
    .execute(pool)
    .await?;
    Ok(())
}

/// 10 s, 20 s, 40 s … capped at one hour.
pub fn backoff_secs(attempts: i32) -> f64 {
    (10.0 * 2f64.powi(attempts.clamp(1, 20) - 1)).min(3600.0)
}

/// One item as the account sees it.
#[derive(Debug, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct OutboxEntry {
    pub id: i64,
    /// `sms` or `email`.
    pub kind: String,
    /// pending, held, claimed, sending, accepted, sent, failed or unknown.
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// Recipient (phone number or email address).
    pub to: Option<String>,
    /// Email subject, or the first words of a text.
    pub summary: Option<String>,
    pub lead_id: Option<i64>,
    pub communication_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of an [`OutboxEntry`], over a row of `outbox`.
const ENTRY_COLUMNS: &str = "id, kind, status, attempts, last_error, payload->>'to' as to,
        coalesce(payload->>'subject', left(payload->>'text', 80)) as summary,
        (payload->>'lead_id')::bigint as lead_id, communication_id, created_at, updated_at";

/// The account's items in the given statuses, newest first.
pub async fn list(
    pool: &PgPool,
    account: AccountId,
    statuses: &[&str],
    limit: i64,
) -> Result<Vec<OutboxEntry>> {
    Ok(sqlx::query_as(&format!(
        "select {ENTRY_COLUMNS} from outbox
         where account_id = $1 and status = any($2) order by updated_at desc, id desc limit $3"
    ))
    .bind(account)
    .bind(statuses)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How many of the account's items need a person: failed or unknown.
pub async fn attention(pool: &PgPool, account: AccountId) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "select count(*) filter (where status = 'failed'), count(*) filter (where status = 'unknown')
         from outbox where account_id = $1 and status in ('failed','unknown')",
    )
    .bind(account)
    .fetch_one(pool)
    .await?)
}

/// A person's "send again" for a failed or unknown item: queued anew, attempts reset.
/// `None` when the account has no such item in one of those states.
pub async fn send_again(pool: &PgPool, account: AccountId, id: i64) -> Result<Option<OutboxEntry>> {
    Ok(sqlx::query_as(&format!(
        "with again as (
            update outbox set status = 'pending', attempts = 0, last_error = null,
                provider_message_id = null, next_attempt_at = now(), updated_at = now()
            where id = $1 and account_id = $2 and status in ('failed','unknown')
            returning *)
         select {ENTRY_COLUMNS} from again"
    ))
    .bind(id)
    .bind(account)
    .fetch_optional(pool)
    .await?)
}

/// The item's status, when it belongs to the account.
pub async fn status_of(pool: &PgPool, account: AccountId, id: i64) -> Result<Option<String>> {
    Ok(
        sqlx::query_scalar("select status from outbox where id = $1 and account_id = $2")
            .bind(id)
            .bind(account)
            .fetch_optional(pool)
            .await?,
    )
}

#[cfg(test)]
mod tests {
    use super::backoff_secs;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff_secs(1), 10.0);
        assert_eq!(backoff_secs(2), 20.0);
        assert_eq!(backoff_secs(4), 80.0);
        assert_eq!(backoff_secs(30), 3600.0);
    }
}
