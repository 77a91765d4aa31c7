//! Outgoing webhooks: an account subscribes a URL to some of its events and Leadline
//! POSTs each event there, signed per Standard Webhooks, at least once, in order per lead.
//!
//! - `model`: subscriptions (URL rules, events, the sealed `whsec_` secrets, rotation);
//! - `sign`: the Standard Webhooks signature;
//! - `emit`: how events come to exist (triggers in migration 20261207000020) and the
//!   documented shape of each payload;
//! - `deliver`: the worker that sends them, retries and logs every attempt;
//! - `api`: HTTP;
//! - `config`: the settings.
//!
//! Deliveries live in their own table (`webhook_deliveries`) rather than in
//! `crate::outbox`, following its principles (claimed with `FOR UPDATE SKIP LOCKED`, a
//! lease, a cap overall and per tenant, back-off) but not its rows, because webhooks need
//! what outbox items do not: order per lead (a lead's next event waits for the previous
//! one), a 3-day retry window instead of 6 attempts, a log row per attempt, replay with
//! the same `webhook-id`, and throughput (≥ 1,000 events/s: claims and settlements of
//! hundreds of rows per statement, where the outbox settles each item on its own). And
//! re-sending is harmless here (receivers dedupe on `webhook-id`), so the outbox's
//! `sending`/`unknown` stages, which exist never to text a person twice, are not needed:
//! an expired lease simply makes the delivery due again.

pub mod api;
pub mod config;
pub mod deliver;
pub mod emit;
pub mod model;
pub mod sign;

/// The events an account can subscribe to.
pub const EVENT_TYPES: [&str; 7] = [
    "lead.created",
    "lead.updated",
    "lead.stage_changed",
    "lead.assigned",
    "communication.created",
    "chat.session.closed",
    "automation.step.sent",
];

pub use config::WebhooksConfig;
