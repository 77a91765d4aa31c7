//! Automations: follow-up sequences (and review requests) carried out, not only shown.
//! A sequence is data — a trigger and steps, checked on save ([`model`]); one pure
//! module decides what a due enrollment does ([`engine`]); the tick enrols and runs due
//! steps through the outbox, exactly once across replicas ([`run`]); [`api`] is HTTP.

use chrono::{DateTime, Utc};

use crate::domain::AccountId;
use crate::error::Result;

pub mod api;
pub mod engine;
pub mod instant;
pub mod model;
pub mod run;

/// SQL: whether the lead (`lead`, an expression) wrote to us after `since` (`replied`),
/// and whether a person of the team did (`person_answered`).
pub(crate) fn signals_sql(lead: &str, since: &str) -> String {
    format!(
        "{} as replied, {} as person_answered",
        crate::communications::lead_replied_sql(lead, since),
        crate::communications::person_answered_sql(lead, since)
    )
}

/// Notes what happened in the run log.
#[allow(clippy::too_many_arguments)]
pub async fn log<'c, E>(
    exec: E,
    account: AccountId,
    at: DateTime<Utc>,
    sequence: Option<i64>,
    enrollment: Option<i64>,
    lead: Option<i64>,
    step: Option<usize>,
    outcome: &str,
    detail: Option<&str>,
    outbox_id: Option<i64>,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query(
        "insert into automation_runs (account_id, at, sequence_id, enrollment_id, lead_id, step, outcome, detail, outbox_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(account)
    .bind(at)
    .bind(sequence)
    .bind(enrollment)
    .bind(lead)
    .bind(step.map(|s| s as i32))
    .bind(outcome)
    .bind(detail)
    .bind(outbox_id)
    .execute(exec)
    .await?;
    Ok(())
}
