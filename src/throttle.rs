//! Throttling of failed authentication (dashboard sign-ins and API-key checks), counted
//! in PostgreSQL per client so the limit holds across replicas. A client may fail
//! `FREE_FAILURES` times in `WINDOW_SECS`; each failure after that blocks it for twice as
//! long as the one before (2 s, 4 s … at most 15 minutes), also while it is blocked.
//! Successful API requests read nothing here: the count is only touched when a check has
//! already failed. A sign-in (rare) reads the block first: while blocked, even the right
//! key waits.

use std::net::IpAddr;

use sqlx::PgPool;

use crate::error::Result;

/// Failures a client may make within the window before it is blocked.
pub const FREE_FAILURES: i32 = 10;
/// The window failures are counted in (seconds); a quiet window starts the count again.
pub const WINDOW_SECS: i64 = 15 * 60;
/// The longest block (seconds).
pub const MAX_BLOCK_SECS: i64 = 15 * 60;

/// How long the `failures`-th failure in a window blocks the client (0: not at all).
pub fn block_secs(failures: i32) -> i64 {
    if failures <= FREE_FAILURES {
        0
    } else {
        2i64.saturating_pow((failures - FREE_FAILURES).min(20) as u32)
            .min(MAX_BLOCK_SECS)
    }
}

/// The throttled identity of a client address (an unknown one shares one bucket).
pub fn client_key(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => format!("ip:{ip}"),
        None => "ip:unknown".into(),
    }
}

/// The throttled identity of an account that failures were aimed at.
pub fn account_key(account: crate::domain::AccountId) -> String {
    format!("account:{account}")
}

/// Counts a failure for the client and, when it was aimed at an account's key, for that
/// account too (so many IPs cannot share out the guessing): the longer wait, if any.
/// The account's own valid keys are never refused by it (that would let anyone lock an
/// account out); its failures answer 429 instead of 401 while it is blocked.
pub async fn failed_for(
    pool: &PgPool,
    client: &str,
    account: Option<crate::domain::AccountId>,
) -> Result<Option<i64>> {
    let by_client = failed(pool, client).await?;
    let by_account = match account {
        Some(a) => failed(pool, &account_key(a)).await?,
        None => None,
    };
    Ok(by_client.max(by_account))
}

/// Seconds the client must still wait, if it is blocked now.
pub async fn blocked(pool: &PgPool, client: &str) -> Result<Option<i64>> {
    let secs: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from blocked_until - now())::float8 from auth_failures
         where client = $1 and blocked_until > now()",
    )
    .bind(client)
    .fetch_optional(pool)
    .await?;
    Ok(secs.map(|s| s.ceil().max(1.0) as i64))
}

/// Counts a failure (one atomic statement); the seconds to wait when it is now blocked.
pub async fn failed(pool: &PgPool, client: &str) -> Result<Option<i64>> {
    let (failures, wait): (i32, Option<f64>) = sqlx::query_as(
        "insert into auth_failures as f (client, failures, first_at) values ($1, 1, now())
         on conflict (client) do update set
             failures = case when f.first_at < now() - make_interval(secs => $2) then 1 else f.failures + 1 end,
             first_at = case when f.first_at < now() - make_interval(secs => $2) then now() else f.first_at end
         returning failures, extract(epoch from blocked_until - now())::float8",
    )
    .bind(client)
    .bind(WINDOW_SECS as f64)
    .fetch_one(pool)
    .await?;
    let block = block_secs(failures);
    if block == 0 {
        return Ok(wait.filter(|w| *w > 0.0).map(|w| w.ceil() as i64));
    }
    sqlx::query(
        "update auth_failures set blocked_until = greatest(coalesce(blocked_until, now()), now() + make_interval(secs => $2))
         where client = $1",
    )
    .bind(client)
    .bind(block as f64)
    .execute(pool)
    .await?;
    Ok(Some(block))
}

/// A successful sign-in forgets the client's failures.
pub async fn succeeded(pool: &PgPool, client: &str) -> Result<()> {
    sqlx::query("delete from auth_failures where client = $1")
        .bind(client)
        .execute(pool)
        .await?;
    Ok(())
}

/// Counts one request against `key` in a fixed window of `window_secs` (one atomic
/// statement, so concurrent requests and replicas never slip past the limit): `None` when
/// within `limit`, else the seconds until the window ends.
pub async fn hit(pool: &PgPool, key: &str, limit: i32, window_secs: i64) -> Result<Option<i64>> {
    let (hits, left): (i32, f64) = sqlx::query_as(
        "insert into rate_counters as r (key, window_start, hits) values ($1, now(), 1)
         on conflict (key) do update set
             hits = case when r.window_start < now() - make_interval(secs => $2) then 1 else r.hits + 1 end,
             window_start = case when r.window_start < now() - make_interval(secs => $2) then now() else r.window_start end
         returning hits, extract(epoch from window_start + make_interval(secs => $2) - now())::float8",
    )
    .bind(key)
    .bind(window_secs as f64)
    .fetch_one(pool)
    .await?;
    if rand::random::<u8>() == 0 {
        // Housekeeping now and then: windows long over.
        sqlx::query("delete from rate_counters where window_start < now() - interval '1 day'")
            .execute(pool)
            .await?;
    }
    Ok((hits > limit).then(|| left.ceil().max(1.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_grow_after_the_free_failures_and_are_capped() {
        assert_eq!(block_secs(1), 0);
        assert_eq!(block_secs(FREE_FAILURES), 0);
        assert_eq!(block_secs(FREE_FAILURES + 1), 2);
        assert_eq!(block_secs(FREE_FAILURES + 3), 8);
        assert_eq!(block_secs(FREE_FAILURES + 50), MAX_BLOCK_SECS);
    }
}
