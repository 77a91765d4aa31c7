//! The signed-in person's alerts (the bell's page): newest first, unread ones marked,
//! each linking to its lead; "Mark all read". The bell itself (unread count, live
//! updates from `/api/alerts/stream`) is in the layout and app.js.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::format::Clock;
use super::{layout, PageError};
use crate::auth::session::Dash;
use crate::dashboard::render;
use crate::state::AppState;

pub async fn alerts(State(state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let list = match &s.user {
        Some(u) => Some(crate::alerts::api::of_user(&state.pool, u.id, false, 100).await?),
        None => None,
    };
    let items: Vec<minijinja::Value> = list
        .as_ref()
        .map(|l| {
            l.items
                .iter()
                .map(|a| {
                    context! {
                        id => a.id,
                        kind => format!("{:?}", a.kind),
                        message => a.message.clone(),
                        lead_id => a.lead_id,
                        unread => a.read_at.is_none(),
                        when => clock.when(a.created_at),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(render(
        StatusCode::OK,
        "alerts.html",
        context! {
            items,
            unread => list.as_ref().map_or(0, |l| l.unread),
            is_key => s.user.is_none(),
            ..layout(&s, "alerts", "Alerts")
        },
    ))
}
