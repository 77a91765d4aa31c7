//! SMS through Telnyx: connecting an account (encrypted API key, its numbers), sending
//! through the outbox, inbound messages and delivery statuses from the webhook, opt-out
//! keywords, and quiet hours for automatic sends.

pub mod inbound;
pub mod integration;
pub mod rules;
pub mod send;

use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::AppState;

/// Outbox kind of an SMS send.
pub const OUTBOX_KIND: &str = "sms";
/// Longest text accepted for one send (10 concatenated segments).
pub const MAX_TEXT_CHARS: usize = 1600;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(integration::connect))
        .routes(routes!(integration::status))
        .routes(routes!(integration::disconnect))
        .routes(routes!(send::send_sms))
}
