//! Sequences over HTTP: list (with the ready-made ones), create and change (admins),
//! enrol a lead by hand or stop it (anyone of the team), a lead's sequences with their
//! history, the run log, and a preview of what would happen to a lead now and next.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::types::Json as Jsonb;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::engine::{decide, Decision, LeadState};
use super::model::{self, Step, Trigger};
use crate::audit::{self, Entry};
use crate::auth::{Admin, AuthAccount, Caller};
use crate::domain::AccountId;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update))
        .routes(routes!(enroll, stop))
        .routes(routes!(of_lead))
        .routes(routes!(runs))
        .routes(routes!(preview))
        .routes(routes!(get_instant, put_instant))
}

/// Whether a new lead's first text is answered at once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstantAnswers {
    /// On: within seconds, open or closed (the AI's words when open; when closed, when
    /// you open and the booking link). Never to an opted-out lead, an autoresponder, or a
    /// lead a person already answered.
    pub enabled: bool,
}

#[utoipa::path(get, path = "/api/settings/instant-answers", tag = "automations",
    responses((status = 200, body = InstantAnswers)), security(("api_key" = [])))]
async fn get_instant(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<InstantAnswers>> {
    let enabled = sqlx::query_scalar("select instant_answers from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    Ok(Json(InstantAnswers { enabled }))
}

#[utoipa::path(put, path = "/api/settings/instant-answers", tag = "automations", request_body = InstantAnswers,
    responses((status = 200, body = InstantAnswers), (status = 403, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn put_instant(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(b): Json<InstantAnswers>,
) -> Result<Json<InstantAnswers>> {
    sqlx::query("update accounts set instant_answers = $2 where id = $1")
        .bind(caller.account)
        .bind(b.enabled)
        .execute(&state.pool)
        .await?;
    audit::record(
        &state.pool,
        Entry::by(
            &caller,
            "settings.instant_answers",
            None,
            json!({ "enabled": b.enabled }),
        ),
    )
    .await?;
    Ok(Json(b))
}

/// A sequence as listed.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Sequence {
    pub id: i64,
    /// `new_lead`, `quote`, `nurture`, `review` for the ready-made ones.
    pub key: Option<String>,
    pub name: String,
    pub enabled: bool,
    #[schema(value_type = Trigger)]
    pub trigger: Jsonb<Trigger>,
    #[schema(value_type = Vec<Step>)]
    pub steps: Jsonb<Vec<Step>>,
    /// Leads in it now.
    pub active: i64,
    /// Leads that went through it (all steps) or left it.
    pub finished: i64,
}

const LIST: &str = "select s.id, s.key, s.name, s.enabled, s.trigger, s.steps,
        count(e.id) filter (where e.status = 'active') as active,
        count(e.id) filter (where e.status <> 'active') as finished
    from sequences s left join sequence_enrollments e on e.sequence_id = s.id
    where s.account_id = $1";

/// Creates the ready-made sequences the account does not have yet (off).
pub async fn ensure_ready_made(pool: &sqlx::PgPool, account: AccountId) -> Result<()> {
    for r in model::ready_made() {
        sqlx::query(
            "insert into sequences (account_id, key, name, trigger, steps) values ($1, $2, $3, $4, $5)
             on conflict do nothing",
        )
        .bind(account)
        .bind(r.key)
        .bind(r.name)
        .bind(Jsonb(&r.trigger))
        .bind(Jsonb(&r.steps))
        .execute(pool)
        .await?;
    }
    Ok(())
}

async fn one(pool: &sqlx::PgPool, account: AccountId, id: i64) -> Result<Sequence> {
    sqlx::query_as(&format!("{LIST} and s.id = $2 group by s.id"))
        .bind(account)
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or(ApiError::NotFound("sequence"))
}

/// The account's sequences, the ready-made ones first.
#[utoipa::path(get, path = "/api/sequences", tag = "automations",
    responses((status = 200, body = Vec<Sequence>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<Vec<Sequence>>> {
    ensure_ready_made(&state.pool, account).await?;
    Ok(Json(
        sqlx::query_as(&format!(
            "{LIST} group by s.id order by s.key is null, s.id"
        ))
        .bind(account)
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// Body of `POST /api/sequences` and `PATCH /api/sequences/{id}` (absent: unchanged).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SequenceInput {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Turned on, leads its trigger matches from now on are enrolled.
    pub enabled: Option<bool>,
    pub trigger: Option<Trigger>,
    pub steps: Option<Vec<Step>>,
}

fn invalid(m: String) -> ApiError {
    ApiError::Unprocessable("invalid_sequence", m)
}

fn name_taken(e: sqlx::Error) -> ApiError {
    match unique_violation(&e) {
        Some("sequences_account_id_name_key") => {
            ApiError::Conflict("name_taken", "a sequence with this name exists".into())
        }
        _ => e.into(),
    }
}

/// Creates a sequence (its trigger and steps are checked: 422 `invalid_sequence` naming the part).
#[utoipa::path(post, path = "/api/sequences", tag = "automations", request_body = SequenceInput,
    responses((status = 201, body = Sequence), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(b): Json<SequenceInput>,
) -> Result<(StatusCode, Json<Sequence>)> {
    let (Some(name), Some(trigger), Some(steps)) =
        (b.name.as_deref().map(str::trim), b.trigger, b.steps)
    else {
        return Err(ApiError::invalid("name, trigger and steps are required"));
    };
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name must be 1 to 100 characters"));
    }
    model::validate(&trigger, &steps).map_err(invalid)?;
    let enabled = b.enabled.unwrap_or(false);
    let id: i64 = sqlx::query_scalar(
        "insert into sequences (account_id, name, enabled, enabled_at, trigger, steps)
         values ($1, $2, $3, case when $3 then now() end, $4, $5) returning id",
    )
    .bind(caller.account)
    .bind(name)
    .bind(enabled)
    .bind(Jsonb(&trigger))
    .bind(Jsonb(&steps))
    .fetch_one(&state.pool)
    .await
    .map_err(name_taken)?;
    audit::record(
        &state.pool,
        Entry::by(
            &caller,
            "automation.created",
            Some(format!("sequence:{id}")),
            json!({ "name": name, "enabled": enabled }),
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(one(&state.pool, caller.account, id).await?),
    ))
}

/// Changes a sequence: turn it on or off, rename it, change its trigger or steps.
#[utoipa::path(patch, path = "/api/sequences/{id}", tag = "automations", params(("id" = i64, Path)), request_body = SequenceInput,
    responses((status = 200, body = Sequence), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(b): Json<SequenceInput>,
) -> Result<Json<Sequence>> {
    let current = one(&state.pool, caller.account, id).await?;
    let trigger = b.trigger.clone().unwrap_or(current.trigger.0);
    let steps = b.steps.clone().unwrap_or(current.steps.0);
    model::validate(&trigger, &steps).map_err(invalid)?;
    if let Some(n) = &b.name {
        if n.trim().is_empty() || n.chars().count() > 100 {
            return Err(ApiError::invalid("name must be 1 to 100 characters"));
        }
    }
    sqlx::query(
        "update sequences set name = coalesce($3, name), trigger = $4, steps = $5,
             enabled_at = case when $6 and not enabled then now() else enabled_at end,
             enabled = coalesce($6, enabled), updated_at = now()
         where account_id = $1 and id = $2",
    )
    .bind(caller.account)
    .bind(id)
    .bind(b.name.as_deref().map(str::trim))
    .bind(Jsonb(&trigger))
    .bind(Jsonb(&steps))
    .bind(b.enabled)
    .execute(&state.pool)
    .await
    .map_err(name_taken)?;
    let action = match b.enabled {
        Some(true) if !current.enabled => "automation.enabled",
        Some(false) if current.enabled => "automation.disabled",
        _ => "automation.updated",
    };
    audit::record(
        &state.pool,
        Entry::by(&caller, action, Some(format!("sequence:{id}")), json!({})),
    )
    .await?;
    Ok(Json(one(&state.pool, caller.account, id).await?))
}

/// Body of `POST /api/sequences/{id}/enroll`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollInput {
    pub lead_id: i64,
}

/// A lead in a sequence.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Enrollment {
    pub id: i64,
    pub sequence_id: i64,
    pub sequence_name: String,
    pub lead_id: i64,
    /// active, completed or exited.
    pub status: String,
    /// The next step to send (0-based).
    pub step: i32,
    pub next_run_at: DateTime<Utc>,
    pub enrolled_at: DateTime<Utc>,
    pub exit_reason: Option<String>,
}

const ENROLLMENT: &str =
    "select e.id, e.sequence_id, s.name as sequence_name, e.lead_id, e.status, e.step,
        e.next_run_at, e.enrolled_at, e.exit_reason
    from sequence_enrollments e join sequences s on s.id = e.sequence_id";

/// Puts a lead in a sequence by hand (once per lead and sequence: 409 after that).
#[utoipa::path(post, path = "/api/sequences/{id}/enroll", tag = "automations", params(("id" = i64, Path)), request_body = EnrollInput,
    responses((status = 201, body = Enrollment), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn enroll(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<EnrollInput>,
) -> Result<(StatusCode, Json<Enrollment>)> {
    let seq = one(&state.pool, caller.account, id).await?;
    crate::leads::get(&state.pool, caller.account, b.lead_id).await?;
    let delay = seq.steps.0.first().map_or(0, |s| s.delay_secs);
    let now = Utc::now();
    let eid: Option<i64> = sqlx::query_scalar(
        "insert into sequence_enrollments (account_id, sequence_id, lead_id, next_run_at, enrolled_at)
         values ($1, $2, $3, $4, $5) on conflict (sequence_id, lead_id) do nothing returning id",
    )
    .bind(caller.account)
    .bind(id)
    .bind(b.lead_id)
    .bind(now + chrono::Duration::seconds(delay))
    .bind(now)
    .fetch_optional(&state.pool)
    .await?;
    let Some(eid) = eid else {
        return Err(ApiError::Conflict(
            "already_enrolled",
            "this lead is (or was) in this sequence".into(),
        ));
    };
    super::log(
        &state.pool,
        caller.account,
        now,
        Some(id),
        Some(eid),
        Some(b.lead_id),
        None,
        "enrolled",
        Some(&format!("by {}", caller.label())),
        None,
    )
    .await?;
    let e = sqlx::query_as(&format!("{ENROLLMENT} where e.id = $1"))
        .bind(eid)
        .fetch_one(&state.pool)
        .await?;
    Ok((StatusCode::CREATED, Json(e)))
}

/// Takes a lead out of a sequence (nothing more is sent).
#[utoipa::path(delete, path = "/api/sequences/{id}/enroll", tag = "automations", params(("id" = i64, Path)), request_body = EnrollInput,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn stop(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Json(b): Json<EnrollInput>,
) -> Result<StatusCode> {
    let reason = format!("stopped by {}", caller.label());
    let eid: Option<i64> = sqlx::query_scalar(
        "update sequence_enrollments set status = 'exited', exit_reason = $4, updated_at = now()
         where account_id = $1 and sequence_id = $2 and lead_id = $3 and status = 'active' returning id",
    )
    .bind(caller.account)
    .bind(id)
    .bind(b.lead_id)
    .bind(&reason)
    .fetch_optional(&state.pool)
    .await?;
    let Some(eid) = eid else {
        return Err(ApiError::NotFound("active enrollment"));
    };
    super::log(
        &state.pool,
        caller.account,
        Utc::now(),
        Some(id),
        Some(eid),
        Some(b.lead_id),
        None,
        "exited",
        Some(&reason),
        None,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The sequences a lead is or was in.
#[utoipa::path(get, path = "/api/leads/{id}/sequences", tag = "automations", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Enrollment>), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn of_lead(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Enrollment>>> {
    crate::leads::get(&state.pool, account, id).await?;
    Ok(Json(
        sqlx::query_as(&format!(
            "{ENROLLMENT} where e.account_id = $1 and e.lead_id = $2 order by e.id"
        ))
        .bind(account)
        .bind(id)
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// One thing the engine did, and why.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Run {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub sequence_id: Option<i64>,
    pub lead_id: Option<i64>,
    pub step: Option<i32>,
    /// enrolled, sent, waiting, exited, completed, failed.
    pub outcome: String,
    pub detail: Option<String>,
    /// The queued message (see `/api/outbox`).
    pub outbox_id: Option<i64>,
}

/// Query of `GET /api/automations/runs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunParams {
    pub lead_id: Option<i64>,
    pub sequence_id: Option<i64>,
    /// 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// What the engine did, newest first.
#[utoipa::path(get, path = "/api/automations/runs", tag = "automations", params(RunParams),
    responses((status = 200, body = Vec<Run>), (status = 422, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn runs(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<RunParams>,
) -> Result<Json<Vec<Run>>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 500"));
    }
    Ok(Json(
        sqlx::query_as(
            "select id, at, sequence_id, lead_id, step, outcome, detail, outbox_id from automation_runs
             where account_id = $1 and ($2::bigint is null or lead_id = $2) and ($3::bigint is null or sequence_id = $3)
             order by id desc limit $4",
        )
        .bind(account)
        .bind(p.lead_id)
        .bind(p.sequence_id)
        .bind(limit)
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// Body of `POST /api/automations/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub lead_id: i64,
}

/// What one sequence would do with the lead.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewItem {
    pub sequence_id: i64,
    pub sequence_name: String,
    /// `send`, `wait`, `exit`, `complete` (for a lead in the sequence), or `enrol` (its
    /// trigger matches and the lead has not been in it).
    pub action: String,
    pub step: Option<i32>,
    /// When the step is due (`send`), or until when it waits (`wait`).
    pub at: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// The words it would send, for this lead now (or why they cannot be written).
    pub message: Option<String>,
}

/// A sequence of the account and where the lead stands in it (if anywhere).
#[derive(sqlx::FromRow)]
struct PreviewRow {
    id: i64,
    name: String,
    enabled: bool,
    trigger: Jsonb<Trigger>,
    steps: Jsonb<Vec<Step>>,
    status: Option<String>,
    step: Option<i32>,
    next_run_at: Option<DateTime<Utc>>,
    enrolled_at: Option<DateTime<Utc>>,
    exit_reason: Option<String>,
}

/// What the sequences would do with a lead now and next, without doing it.
#[utoipa::path(post, path = "/api/automations/preview", tag = "automations", request_body = PreviewInput,
    responses((status = 200, body = Vec<PreviewItem>), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Json(b): Json<PreviewInput>,
) -> Result<Json<Vec<PreviewItem>>> {
    let lead = crate::leads::get(&state.pool, account, b.lead_id).await?;
    let hours = crate::hours::store::of_account(&state.pool, account).await?;
    let vars = crate::message_templates::store::vars_for(&state.pool, account, Some(lead.id), None)
        .await?;
    let now = Utc::now();
    let rows: Vec<PreviewRow> = sqlx::query_as(
        "select s.id, s.name, s.enabled, s.trigger, s.steps, e.status, e.step, e.next_run_at, e.enrolled_at, e.exit_reason
         from sequences s left join sequence_enrollments e on e.sequence_id = s.id and e.lead_id = $2
         where s.account_id = $1 order by s.id",
    )
    .bind(account)
    .bind(lead.id)
    .fetch_all(&state.pool)
    .await?;
    let mut out = Vec::new();
    for PreviewRow {
        id,
        name,
        enabled,
        trigger,
        steps,
        status,
        step,
        next_run_at,
        enrolled_at,
        exit_reason,
    } in rows
    {
        let item =
            |action: &str, step: Option<i32>, at, reason: Option<String>, message| PreviewItem {
                sequence_id: id,
                sequence_name: name.clone(),
                action: action.into(),
                step,
                at,
                reason,
                message,
            };
        let words = |i: usize| {
            steps.0.get(i).map(|s| {
                crate::message_templates::render(&s.body, &vars)
                    .unwrap_or_else(|m| format!("(cannot be written: {m})"))
            })
        };
        match (status.as_deref(), step, enrolled_at) {
            (Some("active"), Some(step), Some(since)) => {
                let state_now = lead_state(&state.pool, &lead, since).await?;
                let at = next_run_at.unwrap_or(now).max(now);
                let i = step.max(0) as usize;
                match decide(&trigger.0, &steps.0, i, &state_now, &hours, at) {
                    Decision::Send { .. } => {
                        out.push(item("send", Some(step), Some(at), None, words(i)))
                    }
                    Decision::Wait { until, why } => out.push(item(
                        "wait",
                        Some(step),
                        Some(until),
                        Some(why.into()),
                        words(i),
                    )),
                    Decision::Exit { reason } => {
                        out.push(item("exit", Some(step), None, Some(reason.into()), None))
                    }
                    Decision::Complete => out.push(item("complete", Some(step), None, None, None)),
                }
            }
            (Some(done), _, _) => out.push(item(done, step, None, exit_reason, None)),
            (None, _, _)
                if enabled
                    && matches!(&trigger.0, Trigger::Stage { stage } if *stage == lead.status) =>
            {
                let at =
                    now + chrono::Duration::seconds(steps.0.first().map_or(0, |s| s.delay_secs));
                out.push(item(
                    "enrol",
                    Some(0),
                    Some(at),
                    Some("its trigger matches this lead".into()),
                    words(0),
                ))
            }
            _ => {}
        }
    }
    Ok(Json(out))
}

async fn lead_state(
    pool: &sqlx::PgPool,
    lead: &crate::leads::Lead,
    since: DateTime<Utc>,
) -> Result<LeadState> {
    let (replied, person): (bool, bool) =
        sqlx::query_as(&format!("select {}", super::signals_sql("$1", "$2")))
            .bind(lead.id)
            .bind(since)
            .fetch_one(pool)
            .await?;
    Ok(LeadState {
        status: lead.status.clone(),
        sms_opted_out: lead.sms_opted_out_at.is_some(),
        has_phone: lead.profile.phone.is_some(),
        has_email: lead.profile.email.is_some(),
        replied,
        person_answered: person,
    })
}
