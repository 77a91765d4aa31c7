//! Chat sessions with a live transcript.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::{layout, param, query_map};
use crate::auth::session::Dash;
use crate::dashboard::render;

/// Chat sessions with a live transcript (the page's script does the talking).
pub async fn conversations(
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query_map(q);
    let selected = param(&q, "session")
        .filter(|v| {
            v.len() <= 100
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .unwrap_or("");
    render(
        StatusCode::OK,
        "conversations.html",
        context! { selected, ..layout(&s, "conversations", "Conversations") },
    )
}
