//! `GET /health`: is the service up and can it reach its database; and, per account,
//! `GET /api/health/integrations` ([`integrations`]): is each connected integration working.

pub mod integrations;

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::extract::Json;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `healthy` or `degraded`.
    pub status: &'static str,
    /// `connected` or `unreachable`.
    pub database: &'static str,
    pub version: &'static str,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .merge(integrations::router())
}

/// Liveness and database reachability (no authentication).
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, body = Health), (status = 503, description = "database unreachable", body = Health)))]
async fn health(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let ping = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("select 1").execute(&state.pool),
    )
    .await;
    let up = matches!(ping, Ok(Ok(_)));
    let body = Health {
        status: if up { "healthy" } else { "degraded" },
        database: if up { "connected" } else { "unreachable" },
        version: env!("CARGO_PKG_VERSION"),
    };
    (
        if up {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}
