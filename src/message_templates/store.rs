//! Templates over HTTP: list, create, change, delete (admins), and a preview rendered
//! for a lead and the signed-in person; the values a template sees for a lead.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{render, validate, Vars};
use crate::auth::{Admin, AuthAccount, Caller};
use crate::domain::AccountId;
use crate::error::{unique_violation, ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(update, delete))
        .routes(routes!(preview))
}

/// A saved template.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct MessageTemplate {
    pub id: i64,
    pub name: String,
    /// `sms`, `email` or `any`.
    pub channel: String,
    /// Email subject (a template too).
    pub subject: Option<String>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, channel, subject, body, created_at, updated_at";

/// Body of `POST /api/templates` and `PATCH /api/templates/{id}` (absent: unchanged).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    #[schema(pattern = "^(sms|email|any)$")]
    pub channel: Option<String>,
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    /// Text with variables: `Hi {{ lead.first_name | default("there") }}, …`.
    #[schema(max_length = 5000)]
    pub body: Option<String>,
}

fn check(input: &TemplateInput) -> Result<()> {
    if let Some(n) = &input.name {
        if n.trim().is_empty() || n.chars().count() > 100 {
            return Err(ApiError::invalid("name must be 1 to 100 characters"));
        }
    }
    if let Some(c) = &input.channel {
        if !["sms", "email", "any"].contains(&c.as_str()) {
            return Err(ApiError::invalid("channel must be sms, email or any"));
        }
    }
    if let Some(s) = input.subject.as_deref().filter(|s| !s.trim().is_empty()) {
        if s.chars().count() > 200 {
            return Err(ApiError::invalid("subject must be at most 200 characters"));
        }
        validate(s)
            .map_err(|m| ApiError::Unprocessable("invalid_template", format!("subject: {m}")))?;
    }
    if let Some(b) = &input.body {
        validate(b)
            .map_err(|m| ApiError::Unprocessable("invalid_template", format!("body: {m}")))?;
    }
    Ok(())
}

fn name_taken(e: sqlx::Error) -> ApiError {
    match unique_violation(&e) {
        Some("message_templates_account_id_name_key") => {
            ApiError::Conflict("name_taken", "a template with this name exists".into())
        }
        _ => e.into(),
    }
}

#[utoipa::path(get, path = "/api/templates", tag = "templates",
    responses((status = 200, body = Vec<MessageTemplate>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
) -> Result<Json<Vec<MessageTemplate>>> {
    Ok(Json(
        sqlx::query_as(&format!(
            "select {COLUMNS} from message_templates where account_id = $1 order by lower(name)"
        ))
        .bind(account)
        .fetch_all(&state.pool)
        .await?,
    ))
}

/// Saves a template; a misspelt variable or a template that does not parse is refused
/// (422 `invalid_template`, naming it).
#[utoipa::path(post, path = "/api/templates", tag = "templates", request_body = TemplateInput,
    responses((status = 201, body = MessageTemplate), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(input): Json<TemplateInput>,
) -> Result<(StatusCode, Json<MessageTemplate>)> {
    if input.name.is_none() || input.body.is_none() {
        return Err(ApiError::invalid("name and body are required"));
    }
    check(&input)?;
    let t: MessageTemplate = sqlx::query_as(&format!(
        "insert into message_templates (account_id, name, channel, subject, body)
         values ($1, $2, coalesce($3, 'any'), $4, $5) returning {COLUMNS}"
    ))
    .bind(caller.account)
    .bind(input.name.as_deref().map(str::trim))
    .bind(&input.channel)
    .bind(
        input
            .subject
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
    )
    .bind(&input.body)
    .fetch_one(&state.pool)
    .await
    .map_err(name_taken)?;
    Ok((StatusCode::CREATED, Json(t)))
}

#[utoipa::path(patch, path = "/api/templates/{id}", tag = "templates", params(("id" = i64, Path)), request_body = TemplateInput,
    responses((status = 200, body = MessageTemplate), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(input): Json<TemplateInput>,
) -> Result<Json<MessageTemplate>> {
    check(&input)?;
    let t: MessageTemplate = sqlx::query_as(&format!(
        "update message_templates set name = coalesce($3, name), channel = coalesce($4, channel),
             subject = case when $5::text is null then subject else nullif($5, '') end,
             body = coalesce($6, body), updated_at = now()
         where account_id = $1 and id = $2 returning {COLUMNS}"
    ))
    .bind(caller.account)
    .bind(id)
    .bind(input.name.as_deref().map(str::trim))
    .bind(&input.channel)
    .bind(input.subject.as_deref().map(str::trim))
    .bind(&input.body)
    .fetch_optional(&state.pool)
    .await
    .map_err(name_taken)?
    .ok_or(ApiError::NotFound("template"))?;
    Ok(Json(t))
}

#[utoipa::path(delete, path = "/api/templates/{id}", tag = "templates", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn delete(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let done = sqlx::query("delete from message_templates where account_id = $1 and id = $2")
        .bind(caller.account)
        .bind(id)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::NotFound("template"));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The values a template sees for a lead of the account, from the person `user` (if any).
pub async fn vars_for(
    pool: &sqlx::PgPool,
    account: AccountId,
    lead_id: Option<i64>,
    user: Option<i64>,
) -> Result<Vars> {
    let mut v = Vars::default();
    let company = crate::ai::service::load_company(pool, account).await?;
    let account_name: String = sqlx::query_scalar("select name from accounts where id = $1")
        .bind(account)
        .fetch_one(pool)
        .await?;
    v.set(
        "company.name",
        company.company_name.clone().or(Some(account_name)),
    )
    .set("company.phone", company.phone.clone())
    .set("company.booking_link", company.booking_link.clone())
    .set("company.review_link", company.review_link.clone())
    .set("company.hours", company.hours.clone())
    .set("company.service_area", company.service_area.clone())
    .set("company.signature", company.signature.clone());
    if let Some(id) = lead_id {
        let lead = crate::leads::get(pool, account, id).await?;
        let p = &lead.profile;
        let mut parts = p.name.as_deref().unwrap_or("").split_whitespace();
        let first = parts.next().map(str::to_string);
        let last = parts.last().map(str::to_string);
        v.set("lead.first_name", first)
            .set("lead.last_name", last)
            .set("lead.name", p.name.clone())
            .set("lead.email", p.email.clone())
            .set("lead.phone", p.phone.clone())
            .set("lead.address", p.property_address.clone())
            .set("lead.roof_age", p.roof_age_years.map(|a| a.to_string()))
            .set("lead.timeline", p.timeline.clone())
            .set("lead.budget", p.budget.clone())
            .set("lead.stage", Some(lead.status.clone()));
    }
    if let Some(id) = user {
        let u = crate::auth::users::get(pool, account, id).await?;
        v.set(
            "user.first_name",
            u.name.split_whitespace().next().map(str::to_string),
        )
        .set("user.name", Some(u.name.clone()))
        .set("user.email", Some(u.email.clone()));
    }
    Ok(v)
}

/// Body of `POST /api/templates/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// A saved template, or a `body` (and `subject`) to try.
    pub template_id: Option<i64>,
    #[schema(max_length = 5000)]
    pub body: Option<String>,
    #[schema(max_length = 200)]
    pub subject: Option<String>,
    /// Fill in this lead's values (else only the company's and yours).
    pub lead_id: Option<i64>,
}

/// A rendered message.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rendered {
    pub subject: Option<String>,
    pub body: String,
}

/// Renders a template for a lead as it would be sent by the signed-in person: a canned
/// reply ready to edit, or 422 naming the value the lead lacks.
#[utoipa::path(post, path = "/api/templates/preview", tag = "templates", request_body = PreviewInput,
    responses((status = 200, body = Rendered), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    Json(input): Json<PreviewInput>,
) -> Result<Json<Rendered>> {
    let (subject, body) = match (input.template_id, input.body) {
        (Some(id), None) => {
            let t: (Option<String>, String) = sqlx::query_as(
                "select subject, body from message_templates where account_id = $1 and id = $2",
            )
            .bind(caller.account)
            .bind(id)
            .fetch_optional(&state.pool)
            .await?
            .ok_or(ApiError::NotFound("template"))?;
            t
        }
        (None, Some(b)) => (input.subject, b),
        _ => return Err(ApiError::invalid("give template_id or body (not both)")),
    };
    let vars = vars_for(&state.pool, caller.account, input.lead_id, caller.user_id()).await?;
    let fail = |m: String| ApiError::Unprocessable("render_failed", m);
    Ok(Json(Rendered {
        subject: match subject.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(render(&s, &vars).map_err(|m| fail(format!("subject: {m}")))?),
            None => None,
        },
        body: render(&body, &vars).map_err(|m| fail(format!("body: {m}")))?,
    }))
}
