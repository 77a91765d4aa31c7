//! The Webhooks page (Settings → Webhooks; admins and owners): the account's outgoing
//! webhook subscriptions (create, edit, turn on or off, rotate the secret, delete) and
//! the delivery log with Replay. Read here; changed by `webhooks.js` through
//! `/api/webhooks/…` with the session's CSRF token.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use super::format::Clock;
use super::{admins_only, layout, param, query_map, PageError};
use crate::auth::session::Dash;
use crate::dashboard::render;
use crate::state::AppState;
use crate::webhooks_out::api::{list_deliveries, DeliveryParams};
use crate::webhooks_out::{model, EVENT_TYPES};

#[derive(Serialize)]
struct DeliveryView {
    id: i64,
    webhook_id: String,
    subscription_id: i64,
    event_type: String,
    lead_id: Option<i64>,
    status: String,
    attempts: i32,
    last: String,
    when: String,
    replayable: bool,
}

pub async fn webhooks(
    State(state): State<AppState>,
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    if let Some(refused) = admins_only(
        s.role,
        "Webhooks are set up by the admins and owners of your company.",
    ) {
        return Ok(refused);
    }
    let q = query_map(q);
    let subscription = param(&q, "subscription").and_then(|v| v.parse::<i64>().ok());
    let subs = model::list(&state.pool, s.account_id).await?;
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let when = |t: chrono::DateTime<chrono::Utc>| {
        clock.local(t).format("%b %-d, %-I:%M:%S %p").to_string()
    };
    let page = list_deliveries(
        &state.pool,
        s.account_id,
        &DeliveryParams {
            subscription,
            status: None,
            before: param(&q, "before").and_then(|v| v.parse().ok()),
            limit: Some(50),
        },
    )
    .await?;
    let deliveries: Vec<DeliveryView> = page
        .items
        .into_iter()
        .map(|d| DeliveryView {
            last: match (d.last_status, &d.last_error) {
                (_, Some(e)) => e.clone(),
                (Some(s), None) => format!("HTTP {s}"),
                (None, None) => String::new(),
            },
            when: when(d.created_at),
            replayable: matches!(d.status.as_str(), "delivered" | "failed"),
            id: d.id,
            webhook_id: d.webhook_id,
            subscription_id: d.subscription_id,
            event_type: d.event_type,
            lead_id: d.lead_id,
            status: d.status,
            attempts: d.attempts,
        })
        .collect();
    let subs: Vec<minijinja::Value> = subs
        .into_iter()
        .map(|x| {
            context! {
                failing_since => x.failing_since.map(&when),
                rotating_until => x.previous_secret_until.map(&when),
                created => when(x.created_at),
                ..minijinja::Value::from_serialize(&x)
            }
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        "webhooks.html",
        context! {
            subs,
            deliveries,
            events => EVENT_TYPES,
            subscription,
            next_before => page.next_before,
            ..layout(&s, "webhooks", "Webhooks")
        },
    ))
}
