//! Background work of a server process: draining the outbox. Every step is a public
//! function so tests can drive it without waiting for a timer.

use std::time::Duration;

use crate::app::AppState;
use crate::error::Result;
use crate::outbox;

/// Items claimed per drain step.
const BATCH: i64 = 16;

/// Claims due outbox items and performs them; returns how many were handled.
pub async fn drain_outbox_once(state: &AppState) -> Result<usize> {
    let items = outbox::claim(&state.pool, BATCH).await?;
    for item in &items {
        let outcome = if item.status == "in_progress" {
            outbox::abandoned()
        } else {
            crate::channels::deliver(state, item).await
        };
        if let outbox::Outcome::Failed { error } | outbox::Outcome::Retry { error, .. } = &outcome {
            tracing::warn!(item = item.id, kind = %item.kind, attempt = item.attempts, %error, "outbox item not sent");
        }
        outbox::settle(&state.pool, item, &outcome).await?;
    }
    Ok(items.len())
}

/// Runs the outbox drain every second until the process stops.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    crate::channels::email::sync::spawn_cron(state.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match drain_outbox_once(&state).await {
                    Ok(n) if n as i64 == BATCH => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox drain failed");
                        break;
                    }
                }
            }
        }
    })
}
