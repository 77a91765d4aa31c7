//! Fails requests fast while PostgreSQL is unreachable. When the postmaster dies, its
//! socket file stays and every request would wait the pool's whole acquire timeout
//! (10 s) before its 503; a probe on its own connection notices within about a second,
//! and until the database answers again requests get 503 with `Retry-After` at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use crate::error::ApiError;

const EVERY: Duration = Duration::from_secs(1);
const BOUND: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
pub struct DbWatch {
    down: AtomicBool,
}

impl DbWatch {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Probes the database every second (one `select 1` on a connection of its own)
    /// until the process stops.
    pub async fn run(self: Arc<Self>, pool: PgPool) {
        let opts = pool.connect_options();
        let mut conn: Option<PgConnection> = None;
        loop {
            let ok = match conn.as_mut() {
                Some(c) => matches!(tokio::time::timeout(BOUND, c.ping()).await, Ok(Ok(()))),
                None => match tokio::time::timeout(BOUND, opts.connect()).await {
                    Ok(Ok(c)) => {
                        conn = Some(c);
                        true
                    }
                    _ => false,
                },
            };
            if !ok {
                conn = None;
            }
            let was_down = self.down.swap(!ok, Ordering::Relaxed);
            match (was_down, ok) {
                (false, false) => tracing::warn!(
                    "PostgreSQL is unreachable: answering 503 at once until it is back"
                ),
                (true, true) => tracing::info!("PostgreSQL is reachable again"),
                _ => {}
            }
            tokio::time::sleep(if ok { EVERY } else { EVERY / 2 }).await;
        }
    }
}

/// Middleware: 503 at once while the database is down (but `/health`, which says so).
pub async fn fail_fast(State(watch): State<Arc<DbWatch>>, req: Request, next: Next) -> Response {
    if watch.is_down() && req.uri().path() != "/health" {
        return ApiError::unavailable_database().into_response();
    }
    next.run(req).await
}
