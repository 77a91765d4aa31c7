//! The Sequences page: each follow-up sequence in words (its trigger, its steps with
//! their delays), how many leads are in it or went through, an on/off switch and, for
//! admins and owners, an editor; under them the latest runs. Reads here; changes go
//! through `/api/sequences` from the script.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use minijinja::context;
use sqlx::types::Json as Jsonb;

use super::format::{humanize, Clock};
use super::{layout, PageError};
use crate::auth::session::Dash;
use crate::automations::api::ensure_ready_made;
use crate::automations::model::{Step, StepChannel, Trigger};
use crate::dashboard::render;
use crate::state::AppState;

/// Runs shown under the sequences.
const RUNS_SHOWN: i64 = 30;

#[derive(sqlx::FromRow)]
struct SequenceRow {
    id: i64,
    key: Option<String>,
    name: String,
    enabled: bool,
    trigger: Jsonb<Trigger>,
    steps: Jsonb<Vec<Step>>,
    active: i64,
    finished: i64,
}

#[derive(sqlx::FromRow)]
struct RunRow {
    at: DateTime<Utc>,
    sequence_name: Option<String>,
    lead_id: Option<i64>,
    lead_name: Option<String>,
    step: Option<i32>,
    outcome: String,
    detail: Option<String>,
}

/// "When a lead's stage becomes quoted", "When a new lead comes in from sms or chat".
pub(super) fn trigger_words(t: &Trigger) -> String {
    match t {
        Trigger::Manual => "Only when someone enrols a lead by hand".into(),
        Trigger::NewLead { sources } if sources.is_empty() => "When a new lead comes in".into(),
        Trigger::NewLead { sources } => format!(
            "When a new lead comes in from {}",
            sources
                .iter()
                .map(|s| humanize(s).to_lowercase())
                .collect::<Vec<_>>()
                .join(" or ")
        ),
        Trigger::Stage { stage } => format!(
            "When a lead's stage becomes {}",
            humanize(stage).to_lowercase()
        ),
        Trigger::NoReply { hours } => format!(
            "When a lead has not answered us for {}",
            delay_words(hours * 3600).trim_start_matches("after ")
        ),
        Trigger::NextAction { action } => format!(
            "When the next best action becomes \"{}\"",
            crate::dashboard::pages::action_label(action)
        ),
    }
}

/// "at once", "after 2 days", "after 3 hours", "after 1 day 6 hours", "after 45 minutes".
pub(super) fn delay_words(secs: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    let parts: Vec<String> = [(d, "day"), (h, "hour"), (m, "minute")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, u)| plural(n, u))
        .collect();
    if parts.is_empty() {
        "at once".into()
    } else {
        format!("after {}", parts.join(" "))
    }
}

fn step_view(s: &Step) -> minijinja::Value {
    context! {
        delay => delay_words(s.delay_secs),
        channel => match s.channel { StepChannel::Sms => "Text", StepChannel::Email => "Email" },
        open_hours_only => s.open_hours_only,
        subject => s.subject,
        body => s.body,
    }
}

pub async fn sequences(
    State(state): State<AppState>,
    Dash(s): Dash,
) -> Result<Response, PageError> {
    let account = s.account_id;
    ensure_ready_made(&state.pool, account).await?;
    let clock = Clock::of(&state.pool, account).await?;
    let rows: Vec<SequenceRow> = sqlx::query_as(
        "select s.id, s.key, s.name, s.enabled, s.trigger, s.steps,
             count(e.id) filter (where e.status = 'active') as active,
             count(e.id) filter (where e.status <> 'active') as finished
         from sequences s left join sequence_enrollments e on e.sequence_id = s.id
         where s.account_id = $1 group by s.id order by s.key is null, s.id",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let runs: Vec<RunRow> = sqlx::query_as(
        "select r.at, s.name as sequence_name, r.lead_id, l.name as lead_name, r.step, r.outcome, r.detail
         from automation_runs r
         left join sequences s on s.id = r.sequence_id
         left join leads l on l.id = r.lead_id and l.account_id = r.account_id
         where r.account_id = $1 order by r.id desc limit $2",
    )
    .bind(account)
    .bind(RUNS_SHOWN)
    .fetch_all(&state.pool)
    .await?;
    let items: Vec<_> = rows
        .iter()
        .map(|r| {
            context! {
                id => r.id,
                key => r.key,
                name => r.name,
                enabled => r.enabled,
                trigger => trigger_words(&r.trigger.0),
                steps => r.steps.0.iter().map(step_view).collect::<Vec<_>>(),
                active => r.active,
                finished => r.finished,
                // What the editor starts from: the API's own shape.
                json => serde_json::json!({
                    "name": r.name, "trigger": r.trigger.0, "steps": r.steps.0,
                }).to_string(),
            }
        })
        .collect();
    let runs: Vec<_> = runs
        .into_iter()
        .map(|r| {
            context! {
                when => clock.when(r.at),
                ago => clock.ago(r.at),
                sequence => r.sequence_name,
                lead_id => r.lead_id,
                lead => r.lead_name.or_else(|| r.lead_id.map(|id| format!("Lead #{id}"))),
                step => r.step.map(|s| s + 1),
                outcome => r.outcome,
                detail => r.detail,
            }
        })
        .collect();
    let statuses: Vec<_> = crate::leads::STATUSES
        .iter()
        .map(|s| context! { key => *s, label => humanize(s) })
        .collect();
    let next_actions: Vec<_> = crate::automations::model::NEXT_ACTIONS
        .iter()
        .map(|a| context! { key => *a, label => crate::dashboard::pages::action_label(a) })
        .collect();
    Ok(render(
        StatusCode::OK,
        "sequences.html",
        context! { sequences => items, runs, statuses, next_actions, ..layout(&s, "sequences", "Sequences") },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triggers_and_delays_read_as_words() {
        assert_eq!(
            trigger_words(&Trigger::Stage {
                stage: "quoted".into()
            }),
            "When a lead's stage becomes quoted"
        );
        assert_eq!(
            trigger_words(&Trigger::NewLead { sources: vec![] }),
            "When a new lead comes in"
        );
        assert_eq!(delay_words(0), "at once");
        assert_eq!(delay_words(2 * 86_400), "after 2 days");
        assert_eq!(delay_words(86_400 + 3600), "after 1 day 1 hour");
        assert_eq!(delay_words(45 * 60), "after 45 minutes");
    }
}
