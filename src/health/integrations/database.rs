//! The database: one round trip, timed.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{Details, IntegrationHealth, Kind, Status};

/// Longest the database ping may take before the database counts as failing.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);
/// A database round trip slower than this is `degraded`.
const SLOW_DATABASE_MS: f64 = 500.0;

#[derive(Debug, Serialize, ToSchema)]
pub struct DatabaseDetails {
    /// One round trip from this server, pool wait included.
    pub latency_ms: f64,
    pub server_version: Option<String>,
    /// Connections this server holds open, and how many are idle.
    pub pool_size: u32,
    pub pool_idle: u32,
}

/// Database status, from one round trip:
/// * `error` — the query failed or took longer than 2 s;
/// * `degraded` — it took longer than 500 ms;
/// * `healthy` — otherwise.
pub fn database_status(ok: bool, latency_ms: f64) -> Status {
    if !ok {
        Status::Error
    } else if latency_ms > SLOW_DATABASE_MS {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

pub(super) async fn database(pool: &PgPool) -> IntegrationHealth {
    let started = Instant::now();
    let ping = tokio::time::timeout(
        DATABASE_TIMEOUT,
        sqlx::query_scalar::<_, String>("select current_setting('server_version')").fetch_one(pool),
    )
    .await;
    let latency_ms = (started.elapsed().as_secs_f64() * 10_000.0).round() / 10.0;
    let (version, error) = match ping {
        Ok(Ok(v)) => (Some(v), None),
        Ok(Err(e)) => (None, Some(format!("query failed: {e}"))),
        Err(_) => (
            None,
            Some(format!("no answer within {} s", DATABASE_TIMEOUT.as_secs())),
        ),
    };
    let status = database_status(error.is_none(), latency_ms);
    let now = Utc::now();
    IntegrationHealth {
        kind: Kind::Database,
        name: "PostgreSQL".into(),
        configured: true,
        status,
        reason: match status {
            Status::Degraded => Some(format!("a round trip took {latency_ms} ms")),
            Status::Error => Some("the database does not answer".into()),
            _ => None,
        },
        last_success_at: error.is_none().then_some(now),
        last_error_at: error.as_ref().map(|_| now),
        last_error: error,
        details: Details::Database(DatabaseDetails {
            latency_ms,
            server_version: version,
            pool_size: pool.size(),
            pool_idle: pool.num_idle() as u32,
        }),
    }
}
