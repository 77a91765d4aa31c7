//! Settings of outgoing webhooks, from the environment.

use std::time::Duration;

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
            per_subscription: 32,
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
        c.per_subscription = num("LEADLINE_WEBHOOKS_PER_SUBSCRIPTION", 32, 1024)? as i64;
        c.timeout = Duration::from_secs(num("LEADLINE_WEBHOOKS_TIMEOUT_SECS", 10, 120)?);
        c.retry_base =
            Duration::from_millis(num("LEADLINE_WEBHOOKS_RETRY_BASE_MS", 5000, 3_600_000)?);
        Ok(c)
    }
}
