//! Queued outbound work (SMS sends, emails, AI replies): a PostgreSQL table claimed with
//! `FOR UPDATE SKIP LOCKED`, so several servers never take the same item, retried with
//! exponential backoff, failing for good after `MAX_ATTEMPTS`.
//!
//! At most once: an item is marked `in_progress` (and its attempt counted) in its own
//! transaction *before* the provider is called. If the process dies during the call, the
//! item's lease expires and the next claim finds it still `in_progress`: the outcome is
//! unknown, so it is failed with that reason instead of being sent a second time.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::auth::AccountId;
use crate::error::Result;

pub const MAX_ATTEMPTS: i32 = 6;
/// How long a claimed item may stay `in_progress` before it is considered abandoned.
pub const LEASE: Duration = Duration::minutes(5);

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxItem {
    pub id: i64,
    pub account_id: AccountId,
    pub kind: String,
    pub payload: Value,
    pub attempts: i32,
    pub status: String,
}

/// What a handler did with an item.
#[derive(Debug)]
pub enum Outcome {
    /// Done; the communication it produced, if any.
    Sent { communication_id: Option<i64> },
    /// Try again later (rate limit, 5xx, network): after `after` when the provider said so.
    Retry {
        error: String,
        after: Option<std::time::Duration>,
    },
    /// Permanent failure (4xx, invalid recipient, opted out).
    Failed { error: String },
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

/// Claims up to `limit` due items for this process. Abandoned `in_progress` items are
/// returned with status `in_progress` so the caller can fail them (see module docs).
pub async fn claim(pool: &PgPool, limit: i64) -> Result<Vec<OutboxItem>> {
    Ok(sqlx::query_as::<_, OutboxItem>(
        "with due as (
            select id, status as prior from outbox
            where status in ('pending', 'held', 'in_progress') and next_attempt_at <= now()
            order by next_attempt_at, id
            for update skip locked
            limit $1)
         update outbox o set status = 'in_progress', attempts = o.attempts + 1,
             next_attempt_at = now() + make_interval(secs => $2), updated_at = now()
         from due where o.id = due.id
         returning o.id, o.account_id, o.kind, o.payload, o.attempts, due.prior as status",
    )
    .bind(limit)
    .bind(LEASE.num_seconds() as f64)
    .fetch_all(pool)
    .await?)
}

/// Records a handler's outcome for a claimed item.
pub async fn settle(pool: &PgPool, item: &OutboxItem, outcome: &Outcome) -> Result<()> {
    match outcome {
        Outcome::Sent { communication_id } => {
            sqlx::query("update outbox set status = 'sent', last_error = null, communication_id = $2, updated_at = now() where id = $1")
                .bind(item.id)
                .bind(communication_id)
                .execute(pool)
                .await?;
        }
        Outcome::Retry { error, after } if item.attempts < MAX_ATTEMPTS => {
            let delay = after
                .map(|d| d.as_secs_f64())
                .unwrap_or_else(|| backoff_secs(item.attempts));
            sqlx::query(
                "update outbox set status = 'pending', last_error = $2,
                     next_attempt_at = now() + make_interval(secs => $3), updated_at = now() where id = $1",
            )
            .bind(item.id)
            .bind(error)
            .bind(delay)
            .execute(pool)
            .await?;
        }
        Outcome::Retry { error, .. } | Outcome::Failed { error } => {
            let error = match outcome {
                Outcome::Retry { .. } => {
                    format!("gave up after {} attempts: {error}", item.attempts)
                }
                _ => error.clone(),
            };
            sqlx::query("update outbox set status = 'failed', last_error = $2, updated_at = now() where id = $1")
                .bind(item.id)
                .bind(error)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

/// 10 s, 20 s, 40 s … capped at one hour.
pub fn backoff_secs(attempts: i32) -> f64 {
    (10.0 * 2f64.powi(attempts.clamp(1, 20) - 1)).min(3600.0)
}

/// The outcome for an item whose earlier attempt was abandoned mid-call.
pub fn abandoned() -> Outcome {
    Outcome::Failed {
        error:
            "the process stopped while sending; the outcome is unknown, so it was not sent again"
                .into(),
    }
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
