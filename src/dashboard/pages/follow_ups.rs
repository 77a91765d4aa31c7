//! The lead page's Follow-ups card: the sequences the lead is or was in, the ones it may
//! be enrolled in, and the templates its reply box offers. Enrol, stop and "what happens
//! next" are the page script's calls to `/api/sequences` and `/api/automations/preview`.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::format::Clock;
use super::PageError;
use crate::automations::api::ensure_ready_made;
use crate::domain::AccountId;

#[derive(sqlx::FromRow)]
struct EnrollmentRow {
    sequence_id: i64,
    name: String,
    status: String,
    step: i32,
    steps: i32,
    next_run_at: DateTime<Utc>,
    enrolled_at: DateTime<Utc>,
    exit_reason: Option<String>,
}

/// `{enrollments, available, templates}` for the lead page.
pub(super) async fn context_for(
    pool: &sqlx::PgPool,
    account: AccountId,
    lead_id: i64,
    clock: &Clock,
) -> Result<minijinja::Value, PageError> {
    // The ready-made ones are offered even before anyone opened the Sequences page.
    ensure_ready_made(pool, account).await?;
    let rows: Vec<EnrollmentRow> = sqlx::query_as(
        "select e.sequence_id, s.name, e.status, e.step, jsonb_array_length(s.steps)::int as steps,
             e.next_run_at, e.enrolled_at, e.exit_reason
         from sequence_enrollments e join sequences s on s.id = e.sequence_id
         where e.account_id = $1 and e.lead_id = $2 order by e.id",
    )
    .bind(account)
    .bind(lead_id)
    .fetch_all(pool)
    .await?;
    // A lead is in a sequence at most once (the API answers 409 after that).
    let available: Vec<(i64, String, bool)> = sqlx::query_as(
        "select s.id, s.name, s.enabled from sequences s
         where s.account_id = $1 and not exists
             (select 1 from sequence_enrollments e where e.sequence_id = s.id and e.lead_id = $2)
         order by s.key is null, s.id",
    )
    .bind(account)
    .bind(lead_id)
    .fetch_all(pool)
    .await?;
    let templates = super::templates::list(pool, account).await?;
    let enrollments: Vec<_> = rows
        .iter()
        .map(|r| {
            context! {
                sequence_id => r.sequence_id,
                name => r.name,
                status => r.status,
                active => r.status == "active",
                step => (r.step + 1).min(r.steps),
                steps => r.steps,
                next => clock.when(r.next_run_at),
                since => clock.ago(r.enrolled_at),
                exit_reason => r.exit_reason,
            }
        })
        .collect();
    Ok(context! {
        enrollments,
        available => available.into_iter().map(|(id, name, enabled)| context! { id, name, enabled }).collect::<Vec<_>>(),
        templates => templates.iter().map(|t| context! { id => t.id, name => t.name, channel => t.channel }).collect::<Vec<_>>(),
    })
}
