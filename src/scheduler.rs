//! Background work of a server process: draining the outbox. Every step is a public
//! function so tests can drive it without waiting for a timer.
//!
//! The drain is a pool of workers: at most `LEADLINE_OUTBOX_CONCURRENCY` items in flight
//! in this process, at most `LEADLINE_OUTBOX_PER_ACCOUNT` per account across replicas
//! (`outbox::claim`), so one account's silent mail server holds only that account's
//! slots while every other account's texts and emails go on.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use crate::error::Result;
use crate::outbox::{self, OutboxItem};
use crate::state::AppState;

/// Items claimed per step of `drain_outbox_once`.
const BATCH: i64 = 16;
/// Safety net over each channel's own bounds (SMTP: 4 × the mail timeout; Telnyx: 10 s):
/// an item still running after this is settled by what it reached.
pub const DELIVER_BOUND: Duration = Duration::from_secs(20 * 60);

/// Performs one claimed item: delivers it while renewing its lease, then settles it.
async fn run_item(state: &AppState, item: OutboxItem) -> Result<()> {
    let work = crate::channels::deliver(state, &item);
    tokio::pin!(work);
    let deadline = tokio::time::sleep(DELIVER_BOUND);
    tokio::pin!(deadline);
    let mut renew = tokio::time::interval(outbox::RENEW_EVERY);
    renew.tick().await;
    loop {
        tokio::select! {
            outcome = &mut work => {
                if let outbox::Outcome::Failed { error } | outbox::Outcome::Retry { error, .. }
                    | outbox::Outcome::Unknown { error } = &outcome
                {
                    tracing::warn!(item = item.id, kind = %item.kind, attempt = item.attempts, %error, "outbox item not sent");
                }
                return outbox::settle(&state.pool, &item, &outcome).await;
            }
            _ = renew.tick() => {
                if let Err(e) = outbox::renew(&state.pool, item.id).await {
                    tracing::warn!(item = item.id, error = %e, "outbox lease not renewed");
                }
            }
            _ = &mut deadline => {
                tracing::warn!(item = item.id, kind = %item.kind, "outbox item timed out");
                return outbox::settle_timed_out(&state.pool, &item, DELIVER_BOUND).await;
            }
        }
    }
}

/// Claims and performs due items (concurrently, with the per-account cap) until none is
/// due; returns how many were handled.
pub async fn drain_outbox_once(state: &AppState) -> Result<usize> {
    let mut handled = 0;
    loop {
        let items = outbox::claim(&state.pool, BATCH, state.config.outbox_per_account).await?;
        if items.is_empty() {
            return Ok(handled);
        }
        handled += items.len();
        let runs = items.into_iter().map(|item| run_item(state, item));
        for r in futures_util::future::join_all(runs).await {
            r?;
        }
    }
}

/// Runs the automation engine's tick every `automation_tick_ms` (not at all when 0).
fn spawn_automations(state: AppState) {
    let every = state.config.automation_tick_ms;
    if every == 0 {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(every));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = crate::automations::run::tick(&state, chrono::Utc::now()).await {
                tracing::warn!(error = %e, "automation tick failed");
            }
        }
    });
}

/// Starts the mail sync cron and the outbox workers; they run until the process stops.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    crate::channels::email::sync::spawn_cron(state.clone());
    spawn_automations(state.clone());
    crate::intake::facebook::spawn(state.clone());
    crate::webhooks_out::deliver::spawn(state.clone());
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(state.config.outbox_concurrency));
        let finished = Arc::new(Notify::new());
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A finished item frees a slot: claim again at once instead of on the tick.
            tokio::select! {
                _ = tick.tick() => {}
                _ = finished.notified() => {}
            }
            loop {
                let free = slots.available_permits();
                if free == 0 {
                    break;
                }
                let items =
                    match outbox::claim(&state.pool, free as i64, state.config.outbox_per_account)
                        .await
                    {
                        Ok(items) => items,
                        Err(e) => {
                            tracing::warn!(error = %e, "outbox claim failed");
                            break;
                        }
                    };
                let claimed = items.len();
                for item in items {
                    // Only this loop takes slots, and it claimed no more than were free.
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        break;
                    };
                    let (state, finished) = (state.clone(), finished.clone());
                    tokio::spawn(async move {
                        if let Err(e) = run_item(&state, item).await {
                            tracing::warn!(error = %e, "outbox item not settled");
                        }
                        drop(slot);
                        finished.notify_one();
                    });
                }
                if claimed < free {
                    break;
                }
            }
        }
    })
}
