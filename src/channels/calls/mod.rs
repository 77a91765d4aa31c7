//! Phone calls: the call-log API (idempotent on `call_id`, with transcript-derived
//! summary, sentiment, action items and follow-up), Telnyx voice events folded into one
//! call communication per `call_session_id` whatever their order, missed-call text-back,
//! and the call list.

pub mod events;
mod log;
pub mod transcript;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(log::log_call))
        .routes(routes!(log::list_calls))
}
