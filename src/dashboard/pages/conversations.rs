//! Chat sessions with a live transcript, and the templates the reply box offers.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::{layout, param, query_map, PageError};
use crate::auth::session::Dash;
use crate::dashboard::render;
use crate::state::AppState;

/// Chat sessions with a live transcript (the page's script does the talking).
pub async fn conversations(
    State(state): State<AppState>,
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query_map(q);
    let selected = param(&q, "session")
        .filter(|v| {
            v.len() <= 100
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .unwrap_or("");
    let templates: Vec<_> = super::templates::list(&state.pool, s.account_id)
        .await?
        .into_iter()
        .map(|t| context! { id => t.id, name => t.name, channel => t.channel })
        .collect();
    Ok(render(
        StatusCode::OK,
        "conversations.html",
        context! { selected, templates, ..layout(&s, "conversations", "Conversations") },
    ))
}
