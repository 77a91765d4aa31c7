//! The outbox over HTTP: what is queued, failed, or of unknown outcome, and "send again"
//! for what a person decides to resend (an `unknown` item is never resent by itself).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::outbox::{self, OutboxEntry};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(send_again))
}

const STATUSES: [&str; 8] = [
    "pending", "held", "claimed", "sending", "accepted", "sent", "failed", "unknown",
];

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Comma-separated statuses (default `failed,unknown`: what needs a person).
    #[param(
        pattern = "^(pending|held|claimed|sending|accepted|sent|failed|unknown)(,(pending|held|claimed|sending|accepted|sent|failed|unknown))*$"
    )]
    pub status: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxList {
    pub items: Vec<OutboxEntry>,
    pub failed: i64,
    pub unknown: i64,
}

/// The account's outbound items in the given statuses, most recently changed first.
#[utoipa::path(get, path = "/api/outbox", tag = "outbox", params(ListParams),
    responses((status = 200, body = OutboxList), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<ListParams>,
) -> Result<Json<OutboxList>> {
    let raw = p.status.as_deref().unwrap_or("failed,unknown");
    let mut statuses = vec![];
    for s in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let known = STATUSES.iter().find(|k| **k == s).ok_or_else(|| {
            ApiError::invalid(format!(
                "status: {s:?} is not one of {}",
                STATUSES.join(", ")
            ))
        })?;
        statuses.push(*known);
    }
    if statuses.is_empty() {
        return Err(ApiError::invalid("status: give at least one status"));
    }
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 200"));
    }
    let (failed, unknown) = outbox::attention(&state.pool, account).await?;
    Ok(Json(OutboxList {
        items: outbox::list(&state.pool, account, &statuses, limit).await?,
        failed,
        unknown,
    }))
}

/// Queues a failed or unknown item again (attempts start over). 409 `not_resendable`
/// for an item in another state: pending work is already on its way, sent work is done.
#[utoipa::path(post, path = "/api/outbox/{id}/send-again", tag = "outbox", params(("id" = i64, Path)),
    responses((status = 200, body = OutboxEntry), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn send_again(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
) -> Result<Json<OutboxEntry>> {
    if let Some(entry) = outbox::send_again(&state.pool, account, id).await? {
        return Ok(Json(entry));
    }
    match outbox::status_of(&state.pool, account, id).await? {
        None => Err(ApiError::NotFound("outbox item")),
        Some(status) => Err(ApiError::Conflict(
            "not_resendable",
            format!("only failed or unknown items can be sent again; this one is {status}"),
        )),
    }
}
