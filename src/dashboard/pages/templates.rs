//! The Templates page: the account's message templates, and for admins and owners a form
//! to add or change one (with the variables as chips) and delete; anyone may preview one
//! for a lead. Reads here; changes and previews go through `/api/templates` from the script.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use super::format::Clock;
use super::{layout, PageError};
use crate::auth::session::Dash;
use crate::dashboard::render;
use crate::domain::AccountId;
use crate::state::AppState;

/// A saved template as the list, the edit form and the reply boxes' select use it.
#[derive(Serialize, sqlx::FromRow)]
pub(super) struct TemplateRow {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) channel: String,
    pub(super) subject: Option<String>,
    pub(super) body: String,
    #[serde(skip)]
    updated_at: chrono::DateTime<chrono::Utc>,
}

/// The account's templates by name (as `GET /api/templates`).
pub(super) async fn list(
    pool: &sqlx::PgPool,
    account: AccountId,
) -> Result<Vec<TemplateRow>, PageError> {
    Ok(sqlx::query_as(
        "select id, name, channel, subject, body, updated_at from message_templates
         where account_id = $1 order by lower(name)",
    )
    .bind(account)
    .fetch_all(pool)
    .await?)
}

pub async fn templates(
    State(state): State<AppState>,
    Dash(s): Dash,
) -> Result<Response, PageError> {
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let rows = list(&state.pool, s.account_id).await?;
    let items: Vec<_> = rows
        .iter()
        .map(|t| {
            context! {
                id => t.id, name => t.name, channel => t.channel, subject => t.subject,
                body => t.body, updated => clock.ago(t.updated_at),
            }
        })
        .collect();
    let variables: Vec<_> = crate::message_templates::VARIABLES
        .iter()
        .map(|(name, sample)| context! { name, sample })
        .collect();
    Ok(render(
        StatusCode::OK,
        "templates.html",
        context! { templates => items, variables, ..layout(&s, "templates", "Templates") },
    ))
}
