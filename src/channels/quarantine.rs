//! The quarantine over HTTP: list what could not be stored, retry it (read again from its
//! raw bytes by the channel it came through) or discard it.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::AuthAccount;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::quarantine::{self, Quarantined, Source};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(retry))
        .routes(routes!(discard))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this source: imap, mailgun, sendgrid, telnyx or lead_source.
    #[param(pattern = "^(imap|mailgun|sendgrid|telnyx|lead_source)$")]
    pub source: Option<String>,
    /// 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The account's quarantine.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuarantineList {
    pub items: Vec<Quarantined>,
    /// How many there are in all (of the source asked for).
    pub total: i64,
}

/// What could not be stored, newest first.
#[utoipa::path(get, path = "/api/quarantine", tag = "quarantine", params(ListParams),
    responses((status = 200, body = QuarantineList), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<ListParams>,
) -> Result<Json<QuarantineList>> {
    let sources: Vec<Source> = match p.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Source::ALL.to_vec(),
        Some(s) => vec![Source::parse(s).ok_or_else(|| {
            ApiError::invalid("source must be imap, mailgun, sendgrid, telnyx or lead_source")
        })?],
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit must be 1 to 200"));
    }
    Ok(Json(QuarantineList {
        items: quarantine::list(&state.pool, account, &sources, limit).await?,
        total: quarantine::count(&state.pool, account, &sources).await?,
    }))
}

/// The result of a retry.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryResult {
    /// stored or duplicate (stored before): either way the item left the quarantine.
    pub status: &'static str,
}

/// Reads the item again through its channel and stores it; 422 `still_unstorable` with
/// the reason when it still cannot be stored (the item stays, its attempt noted).
#[utoipa::path(post, path = "/api/quarantine/{id}/retry", tag = "quarantine", params(("id" = i64, Path)),
    responses((status = 200, body = RetryResult), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn retry(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Path(id): Path<i64>,
) -> Result<Json<RetryResult>> {
    let item = quarantine::get(&state.pool, account, id)
        .await?
        .ok_or(ApiError::NotFound("quarantined item"))?;
    let source = Source::parse(&item.source).ok_or(ApiError::NotFound("quarantined item"))?;
    let outcome = super::retry_quarantined(&state, &item, source).await;
    match outcome {
        Ok("quarantined") | Err(ApiError::Unavailable(_)) | Err(ApiError::Conflict(..)) => {
            outcome.map(|status| Json(RetryResult { status }))
        }
        Ok(status) => {
            quarantine::remove(&state.pool, account, id).await?;
            Ok(Json(RetryResult { status }))
        }
        Err(e) => {
            let reason = crate::error::describe(&e);
            quarantine::retry_failed(&state.pool, id, &reason).await?;
            Err(ApiError::Unprocessable(
                "still_unstorable",
                format!("still cannot be stored: {reason}"),
            ))
        }
    }
}

/// Deletes the item for good.
#[utoipa::path(delete, path = "/api/quarantine/{id}", tag = "quarantine", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn discard(
    State(state): State<AppState>,
    crate::auth::Admin(caller): crate::auth::Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let account = caller.account;
    if quarantine::remove(&state.pool, account, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("quarantined item"))
    }
}
