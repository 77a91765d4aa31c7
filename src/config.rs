//! All settings, read from the environment (and `.env` when present) and validated at start.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Validated settings for one Leadline process.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` means "start the embedded cluster in `data_dir`".
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub bind: SocketAddr,
    pub default_region: phonenumber::country::Id,
    pub max_body_bytes: usize,
    pub db_max_connections: u32,
    /// Batch writers of the recording path (see `communications::writer`).
    pub record_writers: usize,
    /// `LEADLINE_OUTBOX_CONCURRENCY` (default 8): outbox items in flight in this process.
    pub outbox_concurrency: usize,
    /// `LEADLINE_OUTBOX_PER_ACCOUNT` (default 2): items in flight per account, all replicas.
    pub outbox_per_account: i64,
    /// `LEADLINE_AUTOMATION_TICK_MS` (default 2000; 0 turns the engine off in this
    /// process): how often automations enrol leads and run due steps.
    pub automation_tick_ms: u64,
    /// `LEADLINE_HEADER_TIMEOUT_SECS` (default 20) and `LEADLINE_MAX_CONNECTIONS`
    /// (default 1000): see `serve::Limits`.
    pub connections: crate::serve::Limits,
    pub public_url: Option<String>,
    /// `LEADLINE_MASTER_KEY` (validated); see `App::secret_box` for the embedded fallback.
    pub master_key: Option<crate::crypto::SecretBox>,
    /// AI responder: provider, keys, models, timeouts (see `ai::AiConfig`).
    pub ai: crate::ai::AiConfig,
    /// `TELNYX_API_BASE`: Telnyx API v2 base URL (a local stand-in in tests).
    pub telnyx_api_base: String,
    /// `TELNYX_PUBLIC_KEY`: the account-wide webhook key (base64 Ed25519, 32 bytes).
    pub telnyx_public_key: Option<String>,
    /// Email channel settings (sync cron, auto-reply cooldown, Mailgun key, insecure mail).
    pub email: crate::channels::email::config::EmailConfig,
    /// Website chat limits and proxy trust (see `channels::chat::ChatConfig`).
    pub chat: crate::channels::chat::config::ChatConfig,
    /// Lead sources: Facebook app settings, web-form limits (see `intake::config`).
    pub intake: crate::intake::config::IntakeConfig,
    /// Outgoing webhooks: worker, concurrency, timeout, private hosts.
    pub webhooks_out: crate::webhooks_out::WebhooksConfig,
}

/// A setting that could not be used, named so the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
#[error("invalid {name}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub reason: String,
}

impl Config {
    /// Reads `.env` (if any) and then the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Builds the config from any key lookup, so tests can pass their own values.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let database_url = non_empty("DATABASE_URL");
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return Err(ConfigError {
                    name: "DATABASE_URL",
                    reason: "must start with postgres:// or postgresql://".into(),
                });
            }
        }
        let data_dir =
            PathBuf::from(non_empty("LEADLINE_DATA_DIR").unwrap_or_else(|| "./.leadline".into()));
        let bind = non_empty("LEADLINE_BIND")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|e| ConfigError {
                name: "LEADLINE_BIND",
                reason: format!("expected HOST:PORT, e.g. 127.0.0.1:8080 ({e})"),
            })?;
        let region = non_empty("LEADLINE_DEFAULT_REGION").unwrap_or_else(|| "US".into());
        let default_region = region
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| ConfigError {
                name: "LEADLINE_DEFAULT_REGION",
                reason: format!("{region:?} is not an ISO 3166 country code such as US or CA"),
            })?;
        let max_body_bytes = parse_num(&non_empty, "LEADLINE_MAX_BODY_BYTES", 1024 * 1024)?;
        let db_max_connections = parse_num(
            &non_empty,
            "LEADLINE_DB_MAX_CONNECTIONS",
            default_db_connections(),
        )?;
        let record_writers = parse_in(
            &non_empty,
            "LEADLINE_RECORD_WRITERS",
            default_record_writers(),
            1..=64,
        )?;
        let outbox_concurrency = parse_in(&non_empty, "LEADLINE_OUTBOX_CONCURRENCY", 8, 1..=256)?;
        let outbox_per_account = parse_in(&non_empty, "LEADLINE_OUTBOX_PER_ACCOUNT", 2, 1..=64)?;
        let automation_tick_ms = parse_in(
            &non_empty,
            "LEADLINE_AUTOMATION_TICK_MS",
            2000,
            0..=3_600_000,
        )?;
        let header_timeout = parse_in(&non_empty, "LEADLINE_HEADER_TIMEOUT_SECS", 20, 1..=600)?;
        let max_connections =
            parse_in(&non_empty, "LEADLINE_MAX_CONNECTIONS", 1000, 1..=1_000_000)?;
        let connections = crate::serve::Limits {
            header_timeout: std::time::Duration::from_secs(header_timeout),
            max_connections,
        };
        let public_url =
            non_empty("LEADLINE_PUBLIC_URL").map(|u| u.trim_end_matches('/').to_string());
        let master_key = non_empty("LEADLINE_MASTER_KEY")
            .map(|k| crate::crypto::SecretBox::from_base64(&k))
            .transpose()
            .map_err(|e| ConfigError {
                name: "LEADLINE_MASTER_KEY",
                reason: e.to_string(),
            })?;
        let ai = crate::ai::AiConfig::from_lookup(&get).map_err(|reason| ConfigError {
            name: "AI settings",
            reason,
        })?;
        let telnyx_api_base = non_empty("TELNYX_API_BASE")
            .map(|u| u.trim().trim_end_matches('/').to_string())
            .unwrap_or_else(|| crate::telnyx::client::DEFAULT_API_BASE.into());
        if !(telnyx_api_base.starts_with("https://") || telnyx_api_base.starts_with("http://")) {
            return Err(ConfigError {
                name: "TELNYX_API_BASE",
                reason: "must be an http(s) URL".into(),
            });
        }
        let telnyx_public_key = non_empty("TELNYX_PUBLIC_KEY").map(|k| k.trim().to_string());
        if let Some(k) = &telnyx_public_key {
            if crate::telnyx::events::parse_public_key(k).is_none() {
                return Err(ConfigError {
                    name: "TELNYX_PUBLIC_KEY",
                    reason: "must be a base64 Ed25519 public key (32 bytes)".into(),
                });
            }
        }
        let email =
            crate::channels::email::config::EmailConfig::from_lookup(&get).map_err(|reason| {
                ConfigError {
                    name: "email settings",
                    reason,
                }
            })?;
        let chat =
            crate::channels::chat::config::ChatConfig::from_lookup(&get).map_err(|reason| {
                ConfigError {
                    name: "chat settings",
                    reason,
                }
            })?;
        let intake = crate::intake::config::IntakeConfig::from_lookup(&get).map_err(|reason| {
            ConfigError {
                name: "lead source settings",
                reason,
            }
        })?;
        let webhooks_out =
            crate::webhooks_out::WebhooksConfig::from_lookup(&get).map_err(|reason| {
                ConfigError {
                    name: "webhook settings",
                    reason,
                }
            })?;
        Ok(Self {
            intake,
            webhooks_out,
            chat,
            email,
            telnyx_api_base,
            telnyx_public_key,
            ai,
            master_key,
            database_url,
            data_dir,
            bind,
            default_region,
            max_body_bytes,
            db_max_connections,
            record_writers,
            outbox_concurrency,
            outbox_per_account,
            automation_tick_ms,
            connections,
            public_url,
        })
    }
}

/// Pool size when none is configured: 8 per CPU, from 8 to 40. More connections than the
/// machine can run at once only queue inside PostgreSQL: on 2 CPUs, 40 connections gave the
/// webhook load a p99 of 54-60 ms where 16 gave 48 ms at the same throughput
/// (scripts/bench-webhooks), and ingest the same rate with a lower p99.
fn default_db_connections() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
    (cpus * 8).clamp(8, 40)
}

/// Batch writers when none is configured: one per two CPUs, from 1 to 8. Fewer writers
/// make larger batches: on 2 CPUs, one writer recorded 0.83-0.88 of pgbench's single-row
/// INSERT rate, two 0.69-0.81, four 0.59-0.61, eight 0.45 (scripts/bench-ingest).
fn default_record_writers() -> usize {
    (std::thread::available_parallelism().map_or(2, |n| n.get()) / 2).clamp(1, 8)
}

/// A whole number setting that must lie in `range`.
fn parse_in<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError> {
    let v = parse_num(get, name, default)?;
    if !range.contains(&v) {
        return Err(ConfigError {
            name,
            reason: format!("{v} is not between {} and {}", range.start(), range.end()),
        });
    }
    Ok(v)
}

fn parse_num<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| ConfigError {
            name,
            reason: format!("{v:?} is not a positive whole number"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_bind_to_loopback_8080_without_database_url() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert!(c.database_url.is_none());
        assert_eq!(c.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn a_bad_variable_is_named_in_the_error() {
        let e = cfg(&[("LEADLINE_BIND", "nonsense")]).unwrap_err();
        assert_eq!(e.name, "LEADLINE_BIND");
        let e = cfg(&[("LEADLINE_DEFAULT_REGION", "ZZZ")]).unwrap_err();
        assert_eq!(e.name, "LEADLINE_DEFAULT_REGION");
        let e = cfg(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
        assert_eq!(e.name, "DATABASE_URL");
        let e = cfg(&[("LEADLINE_MASTER_KEY", "c2hvcnQ=")]).unwrap_err();
        assert_eq!(e.name, "LEADLINE_MASTER_KEY");
        let e = cfg(&[("LEADLINE_MAX_BODY_BYTES", "-3")]).unwrap_err();
        assert_eq!(e.name, "LEADLINE_MAX_BODY_BYTES");
        let e = cfg(&[("TELNYX_PUBLIC_KEY", "c2hvcnQ=")]).unwrap_err();
        assert_eq!(e.name, "TELNYX_PUBLIC_KEY");
        let e = cfg(&[("TELNYX_API_BASE", "ftp://x")]).unwrap_err();
        assert_eq!(e.name, "TELNYX_API_BASE");
        for bad in ["0", "65", "many"] {
            let e = cfg(&[("LEADLINE_RECORD_WRITERS", bad)]).unwrap_err();
            assert_eq!(e.name, "LEADLINE_RECORD_WRITERS");
        }
        assert_eq!(
            cfg(&[("LEADLINE_RECORD_WRITERS", "3")])
                .unwrap()
                .record_writers,
            3
        );
        assert!((1..=8).contains(&cfg(&[]).unwrap().record_writers));
    }
}
