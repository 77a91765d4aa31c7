//! Automations: follow-up sequences (and review requests) carried out, not only shown.
//! A sequence is data — a trigger and steps, checked on save ([`model`]); one pure
//! module decides what a due enrollment does ([`engine`]); the tick enrols and runs due
//! steps through the outbox, exactly once across replicas ([`run`]); [`api`] is HTTP.

pub mod api;
pub mod engine;
pub mod model;
pub mod run;

/// SQL: whether the lead (`lead`, an expression) wrote to us after `since`, and whether
/// a person of the team did (not the AI, not an automation or automatic send).
pub(crate) fn signals_sql(lead: &str, since: &str) -> String {
    format!(
        "exists(select 1 from communications c where c.lead_id = {lead} and c.direction = 'inbound'
                and c.\"timestamp\" > {since}) as replied,
         exists(select 1 from communications c where c.lead_id = {lead} and c.direction = 'outbound'
                and c.\"timestamp\" > {since} and not c.ai_generated and c.metadata->>'automation' is null
                and not coalesce((c.metadata->>'automatic')::boolean, false)) as person_answered"
    )
}
