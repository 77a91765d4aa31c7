//! The channels: each turns what it receives into a `NewCommunication` and calls
//! `communications::record`, and performs the outbound work the outbox hands it.

pub mod calls;
pub mod chat;
pub mod email;
pub mod sms;

use crate::app::AppState;
use crate::outbox::{OutboxItem, Outcome};

/// Performs one claimed outbox item with the channel that owns its kind.
// One arm per channel kind as channels arrive (sms, email).
pub async fn deliver(state: &AppState, item: &OutboxItem) -> Outcome {
    match item.kind.as_str() {
        "sms" => sms::deliver(state, item).await,
        email::OUTBOX_KIND => email::deliver(state, item).await,
        other => Outcome::Failed {
            error: format!("no channel handles outbox items of kind {other:?}"),
        },
    }
}
