//! The engine's tick: enrols the leads that triggers match, then carries out every due
//! step (as `engine::decide` says) through the outbox. Each due enrollment is claimed
//! with `FOR UPDATE SKIP LOCKED` and its send queued under the key
//! `sequence:{enrollment}:{step}` in the same transaction that moves it on, so however
//! many replicas tick, each step is queued exactly once. The clock is a parameter.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json as Jsonb;

use super::engine::{decide, Decision, LeadState};
use super::model::{Step, StepChannel, Trigger};
use crate::domain::AccountId;
use crate::error::Result;
use crate::hours::BusinessHours;
use crate::state::AppState;

/// Due enrollments handled per transaction.
const BATCH: i64 = 200;

/// What one tick did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Report {
    /// New leads' first texts answered at once (see `instant`).
    pub answered: u64,
    /// People alerted (see `alerts`).
    pub alerted: u64,
    pub enrolled: u64,
    pub sent: u64,
    pub waiting: u64,
    pub exited: u64,
    pub completed: u64,
    pub failed: u64,
}

/// One tick at `now`: enrol, run every due step (in batches until none is left), and make
/// the team alerts that are due.
pub async fn tick(state: &AppState, now: DateTime<Utc>) -> Result<Report> {
    let mut report = Report {
        enrolled: enrol_by_triggers(&state.pool, now).await?,
        answered: super::instant::run(state, now).await?,
        alerted: crate::alerts::scan::run(state, now).await?,
        ..Default::default()
    };
    let mut hours = HashMap::new();
    loop {
        let done = run_due(state, now, &mut hours, &mut report).await?;
        if done < BATCH as usize {
            return Ok(report);
        }
    }
}

/// Enrols the leads that enabled sequences' triggers match since they were turned on
/// (once per lead and sequence); the first step is due after its delay.
pub async fn enrol_by_triggers(pool: &sqlx::PgPool, now: DateTime<Utc>) -> Result<u64> {
    let rows: Vec<(i64, AccountId, i64, i64)> = sqlx::query_as(
        "with s as (
             select id, account_id, trigger, enabled_at, coalesce((steps->0->>'delay_secs')::float8, 0) as delay
             from sequences where enabled and trigger->>'on' in ('new_lead', 'stage', 'next_action', 'no_reply'))
         insert into sequence_enrollments (account_id, sequence_id, lead_id, next_run_at, enrolled_at)
         select s.account_id, s.id, l.id, $1 + make_interval(secs => s.delay), $1
         from s join leads l on l.account_id = s.account_id
         where ((s.trigger->>'on' = 'new_lead' and l.created_at >= s.enabled_at and l.imported_at is null
                 and (jsonb_array_length(coalesce(s.trigger->'sources', '[]')) = 0
                      or l.source in (select jsonb_array_elements_text(s.trigger->'sources'))))
             or (s.trigger->>'on' = 'stage' and l.status = s.trigger->>'stage' and l.updated_at >= s.enabled_at)
             or (s.trigger->>'on' = 'next_action' and l.insights->'next_action'->>'action' = s.trigger->>'action'
                 and l.last_activity_at >= s.enabled_at - interval '30 days')
             or (s.trigger->>'on' = 'no_reply'
                 and l.last_activity_at <= $1 - make_interval(hours => (s.trigger->>'hours')::int)
                 and l.last_activity_at >= s.enabled_at
                 and (select c.direction from communications c where c.lead_id = l.id
                      order by c.\"timestamp\" desc, c.id desc limit 1) = 'outbound'))
           -- An imported lead (src/imports/) is not new, and its stage is history: no
           -- trigger takes it until it is touched or edited after the import.
           and (l.imported_at is null or greatest(l.updated_at, l.last_activity_at) > l.imported_at)
           and not exists (select 1 from sequence_enrollments e where e.sequence_id = s.id and e.lead_id = l.id)
         on conflict (sequence_id, lead_id) do nothing
         returning id, account_id, sequence_id, lead_id",
    )
    .bind(now)
    .fetch_all(pool)
    .await?;
    for (id, account, sequence, lead) in &rows {
        super::log(
            pool,
            *account,
            now,
            Some(*sequence),
            Some(*id),
            Some(*lead),
            None,
            "enrolled",
            Some("trigger matched"),
            None,
        )
        .await?;
    }
    Ok(rows.len() as u64)
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: i64,
    account_id: AccountId,
    sequence_id: i64,
    sequence_name: String,
    lead_id: i64,
    step: i32,
    trigger: Jsonb<Trigger>,
    steps: Jsonb<Vec<Step>>,
    status: String,
    sms_opted_out: bool,
    phone: Option<String>,
    email: Option<String>,
    replied: bool,
    person_answered: bool,
}

/// One batch of due enrollments in one transaction; how many it took.
async fn run_due(
    state: &AppState,
    now: DateTime<Utc>,
    hours: &mut HashMap<AccountId, BusinessHours>,
    report: &mut Report,
) -> Result<usize> {
    let mut tx = crate::db::begin(&state.pool).await?;
    let signals = super::signals_sql("e.lead_id", "e.enrolled_at");
    let due: Vec<DueRow> = sqlx::query_as(&format!(
        "select e.id, e.account_id, e.sequence_id, s.name as sequence_name, e.lead_id, e.step,
                s.trigger, s.steps, l.status, l.sms_opted_out_at is not null as sms_opted_out, l.phone, l.email,
                {signals}
         from sequence_enrollments e join sequences s on s.id = e.sequence_id join leads l on l.id = e.lead_id
         where e.status = 'active' and e.next_run_at <= $1 and s.enabled
         order by e.next_run_at, e.id limit $2
         for update of e skip locked"
    ))
    .bind(now)
    .bind(BATCH)
    .fetch_all(&mut *tx)
    .await?;
    let taken = due.len();
    for row in due {
        let business = match hours.entry(row.account_id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(crate::hours::store::of_account(&state.pool, row.account_id).await?)
            }
        };
        let lead = LeadState {
            status: row.status.clone(),
            sms_opted_out: row.sms_opted_out,
            has_phone: row.phone.is_some(),
            has_email: row.email.is_some(),
            replied: row.replied,
            person_answered: row.person_answered,
        };
        let step = row.step.max(0) as usize;
        let decision = decide(&row.trigger.0, &row.steps.0, step, &lead, &*business, now);
        apply(state, &mut tx, &row, step, decision, now, report).await?;
    }
    tx.commit().await?;
    Ok(taken)
}

async fn apply(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    row: &DueRow,
    step: usize,
    decision: Decision,
    now: DateTime<Utc>,
    report: &mut Report,
) -> Result<()> {
    let (account, seq, lead) = (row.account_id, Some(row.sequence_id), Some(row.lead_id));
    let finish = |status: &'static str, reason: Option<String>| {
        sqlx::query("update sequence_enrollments set status = $2, exit_reason = $3, updated_at = $4 where id = $1")
            .bind(row.id)
            .bind(status)
            .bind(reason)
            .bind(now)
    };
    match decision {
        Decision::Complete => {
            finish("completed", None).execute(&mut **tx).await?;
            super::log(
                &mut **tx,
                account,
                now,
                seq,
                Some(row.id),
                lead,
                Some(step),
                "completed",
                None,
                None,
            )
            .await?;
            report.completed += 1;
        }
        Decision::Exit { reason } => {
            finish("exited", Some(reason.to_string()))
                .execute(&mut **tx)
                .await?;
            super::log(
                &mut **tx,
                account,
                now,
                seq,
                Some(row.id),
                lead,
                Some(step),
                "exited",
                Some(reason),
                None,
            )
            .await?;
            report.exited += 1;
        }
        Decision::Wait { until, why } => {
            sqlx::query(
                "update sequence_enrollments set next_run_at = $2, updated_at = $3 where id = $1",
            )
            .bind(row.id)
            .bind(until)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            super::log(
                &mut **tx,
                account,
                now,
                seq,
                Some(row.id),
                lead,
                Some(step),
                "waiting",
                Some(why),
                None,
            )
            .await?;
            report.waiting += 1;
        }
        Decision::Send { step, next } => {
            let s = &row.steps.0[step];
            match send(state, &mut *tx, row, step, s).await? {
                Ok(outbox_id) => {
                    sqlx::query(
                        "update sequence_enrollments set step = $2, next_run_at = coalesce($3, next_run_at),
                             status = case when $3 is null then 'completed' else status end, updated_at = $4
                         where id = $1",
                    )
                    .bind(row.id)
                    .bind(step as i32 + 1)
                    .bind(next)
                    .bind(now)
                    .execute(&mut **tx)
                    .await?;
                    super::log(
                        &mut **tx,
                        account,
                        now,
                        seq,
                        Some(row.id),
                        lead,
                        Some(step),
                        "sent",
                        None,
                        Some(outbox_id),
                    )
                    .await?;
                    report.sent += 1;
                    if next.is_none() {
                        super::log(
                            &mut **tx,
                            account,
                            now,
                            seq,
                            Some(row.id),
                            lead,
                            Some(step),
                            "completed",
                            None,
                            None,
                        )
                        .await?;
                        report.completed += 1;
                    }
                }
                Err(why) => {
                    finish("exited", Some(why.clone()))
                        .execute(&mut **tx)
                        .await?;
                    super::log(
                        &mut **tx,
                        account,
                        now,
                        seq,
                        Some(row.id),
                        lead,
                        Some(step),
                        "failed",
                        Some(&why),
                        None,
                    )
                    .await?;
                    report.failed += 1;
                }
            }
        }
    }
    Ok(())
}

/// Renders the step for the lead and queues it; `Err` (the reason) when it cannot go.
async fn send(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    row: &DueRow,
    step: usize,
    s: &Step,
) -> Result<std::result::Result<i64, String>> {
    let vars = crate::message_templates::store::vars_for(
        &state.pool,
        row.account_id,
        Some(row.lead_id),
        None,
    )
    .await?;
    let body = match crate::message_templates::render(&s.body, &vars) {
        Ok(b) => b,
        Err(m) => return Ok(Err(format!("the step's words could not be written: {m}"))),
    };
    let key = format!("sequence:{}:{step}", row.id);
    let queued = match s.channel {
        StepChannel::Sms => {
            let to = row.phone.as_deref().unwrap_or_default();
            crate::channels::sms::send::enqueue_from_account(
                state,
                &mut **tx,
                row.account_id,
                crate::channels::sms::send::SmsJob {
                    lead_id: Some(row.lead_id),
                    ..crate::channels::sms::send::SmsJob::automatic(to, &body, &row.sequence_name)
                },
                &key,
            )
            .await?
            .ok_or("SMS is not connected")
        }
        StepChannel::Email => {
            let subject =
                match crate::message_templates::render(s.subject.as_deref().unwrap_or(""), &vars) {
                    Ok(t) => t,
                    Err(m) => {
                        return Ok(Err(format!("the step's subject could not be written: {m}")))
                    }
                };
            let to = row.email.as_deref().unwrap_or_default();
            crate::channels::email::send::queue_for_automation(
                state,
                &mut **tx,
                row.account_id,
                row.lead_id,
                to,
                &subject,
                &body,
                &row.sequence_name,
                &key,
            )
            .await?
            .ok_or("no mailbox is connected")
        }
    };
    Ok(queued.map_err(str::to_string))
}
