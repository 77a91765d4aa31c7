//! Outgoing webhooks: an account subscribes a URL to some of its events and Leadline
//! POSTs each event there, signed per Standard Webhooks, at least once, in order per lead.
//!
//! - [`model`]: subscriptions (URL rules, events, the sealed `whsec_` secrets, rotation);
//! - [`sign`]: the Standard Webhooks signature;
//! - [`emit`]: how events come to exist (triggers in migration 20261207000020) and the
//!   documented shape of each payload;
//! - [`deliver`]: the worker that sends them, retries and logs every attempt;
//! - [`api`]: HTTP.
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
pub mod deliver;
pub mod emit;
pub mod model;
pub mod sign;

use std::time::Duration;

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

/// Settings of outgoing webhooks (`LEADLINE_WEBHOOKS_*`, `LEADLINE_ALLOW_PRIVATE_HOSTS`).
#[derive(Debug, Clone)]
pub struct WebhooksConfig {
    /// Receivers on the server's own network (and plain `http://`) are allowed.
    pub allow_private_hosts: bool,
    /// Requests in flight in this process.
    pub concurrency: usize,
    /// Requests in flight for one subscription, across replicas.
    pub per_subscription: i64,
    /// Bound on each request (connect to last byte).
    pub timeout: Duration,
    /// `false` turns the worker off in this process (other replicas still deliver).
    pub worker: bool,
    /// The first retry's delay; each next one doubles it (at most 2 h).
    pub retry_base: Duration,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            allow_private_hosts: false,
            concurrency: 64,
            per_subscription: 16,
            timeout: Duration::from_secs(10),
            worker: true,
            retry_base: Duration::from_secs(5),
        }
    }
}

impl WebhooksConfig {
    /// From any key lookup; the error names the bad setting.
    pub fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let non_empty = |k: &str| {
            get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let flag = |v: String| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes");
        let num = |k: &str, default: u64, max: u64| -> Result<u64, String> {
            match non_empty(k) {
                None => Ok(default),
                Some(v) => match v.parse::<u64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(format!("{k} {v:?} must be a whole number from 1 to {max}")),
                },
            }
        };
        let mut c = Self::default();
        if let Some(v) = non_empty("LEADLINE_ALLOW_PRIVATE_HOSTS") {
            c.allow_private_hosts = flag(v);
        }
        if let Some(v) = non_empty("LEADLINE_WEBHOOKS_WORKER") {
            c.worker = flag(v);
        }
        c.concurrency = num("LEADLINE_WEBHOOKS_CONCURRENCY", 64, 1024)? as usize;
        c.per_subscription = num("LEADLINE_WEBHOOKS_PER_SUBSCRIPTION", 16, 1024)? as i64;
        c.timeout = Duration::from_secs(num("LEADLINE_WEBHOOKS_TIMEOUT_SECS", 10, 120)?);
        c.retry_base =
            Duration::from_millis(num("LEADLINE_WEBHOOKS_RETRY_BASE_MS", 5000, 3_600_000)?);
        Ok(c)
    }
}

/// The HTTP routes of outgoing webhooks.
pub fn router() -> utoipa_axum::router::OpenApiRouter<crate::state::AppState> {
    api::router()
}
