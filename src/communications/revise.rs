//! Later changes to recorded communications — a delivery status, a call's events, a lead
//! merge — so that only this module and the recording path write the table.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{AccountId, Channel, Direction};
use crate::error::Result;

/// Moves every communication of lead `from` to lead `to` (a merge of two leads).
pub async fn reassign<'c, E>(exec: E, account: AccountId, from: i64, to: i64) -> Result<u64>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    Ok(
        sqlx::query(
            "update communications set lead_id = $1 where lead_id = $2 and account_id = $3",
        )
        .bind(to)
        .bind(from)
        .bind(account)
        .execute(exec)
        .await?
        .rows_affected(),
    )
}

/// What is known now about a recorded communication (a call rebuilt from all its events).
pub struct Revision<'a> {
    pub direction: Direction,
    pub status: Option<&'a str>,
    pub duration: Option<i32>,
    /// Merged into the stored metadata.
    pub metadata: &'a Value,
    pub attachments: &'a Value,
    /// Kept as stored when `None`.
    pub timestamp: Option<DateTime<Utc>>,
    pub from_address: Option<&'a str>,
    pub to_address: Option<&'a str>,
}

/// Rewrites a communication from its revision.
pub async fn revise<'c, E>(exec: E, account: AccountId, id: i64, r: &Revision<'_>) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "update communications set direction = $3, status = $4, duration = $5, metadata = metadata || $6,
             attachments = $7, \"timestamp\" = coalesce($8, \"timestamp\"),
             from_address = coalesce($9, from_address), to_address = coalesce($10, to_address)
         where id = $1 and account_id = $2",
    )
    .bind(id)
    .bind(account)
    .bind(r.direction.as_str())
    .bind(r.status)
    .bind(r.duration)
    .bind(r.metadata)
    .bind(r.attachments)
    .bind(r.timestamp)
    .bind(r.from_address)
    .bind(r.to_address)
    .execute(exec)
    .await?;
    Ok(())
}

/// A provider's delivery-status event for an outbound message.
pub struct StatusEvent<'a> {
    pub channel: Channel,
    pub provider_message_id: &'a str,
    pub status: &'a str,
    /// Kept once in the status history.
    pub event_id: &'a str,
    /// The history entry (`errors` also kept on the message).
    pub entry: &'a Value,
    /// An SQL expression ranking a status (a column or a value): it only moves forward.
    pub rank: fn(&str) -> String,
}

/// Applies a status event to its message; whether the message was found.
pub async fn apply_status_event(
    pool: &sqlx::PgPool,
    account: AccountId,
    ev: &StatusEvent<'_>,
) -> Result<bool> {
    let updated = sqlx::query(&format!(
        "update communications set
            status = case when {new} > {cur} then $3 else status end,
            metadata = case
                when coalesce(metadata->'status_history', '[]'::jsonb) @> jsonb_build_array(jsonb_build_object('event_id', $4::text))
                    then metadata
                else jsonb_set(metadata, '{{status_history}}',
                    coalesce(metadata->'status_history', '[]'::jsonb) || jsonb_build_array($5::jsonb))
                    || case when jsonb_array_length($5::jsonb->'errors') > 0
                        then jsonb_build_object('errors', $5::jsonb->'errors') else '{{}}'::jsonb end
            end
         where account_id = $1 and type = $6 and direction = 'outbound' and provider_message_id = $2",
        new = (ev.rank)("$3::text"),
        cur = (ev.rank)("status"),
    ))
    .bind(account)
    .bind(ev.provider_message_id)
    .bind(ev.status)
    .bind(ev.event_id)
    .bind(ev.entry)
    .bind(ev.channel.as_str())
    .execute(pool)
    .await?;
    Ok(updated.rows_affected() > 0)
}
