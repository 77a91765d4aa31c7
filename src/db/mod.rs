//! The connection pool, migrations, and the embedded cluster used when `DATABASE_URL` is unset.

pub mod embedded;
pub mod listen;
pub mod watch;

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::config::Config;
pub use embedded::EmbeddedPostgres;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Name of the application database inside the embedded cluster.
pub const EMBEDDED_DATABASE: &str = "leadline";

/// A pool plus, when we started it, the embedded cluster behind it.
pub struct Database {
    pub pool: PgPool,
    pub embedded: Option<Arc<Mutex<EmbeddedPostgres>>>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts/attaches the embedded cluster. Does not migrate.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        match &config.database_url {
            Some(url) => {
                let opts = PgConnectOptions::from_str(url)
                    .context("DATABASE_URL is not a valid PostgreSQL URL")?;
                let pool = pool(opts, config.db_max_connections).await?;
                Ok(Self {
                    pool,
                    embedded: None,
                })
            }
            None => {
                let dir = config.data_dir.clone();
                let pg = tokio::task::spawn_blocking(move || {
                    EmbeddedPostgres::start(&dir, &embedded::Options::default())
                })
                .await??;
                ensure_database(&pg, EMBEDDED_DATABASE).await?;
                let pool = pool(
                    socket_options(&pg.socket_dir, EMBEDDED_DATABASE),
                    config.db_max_connections,
                )
                .await?;
                Ok(Self {
                    pool,
                    embedded: Some(Arc::new(Mutex::new(pg))),
                })
            }
        }
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR
            .run(&self.pool)
            .await
            .context("database migration failed")
    }

    /// Watches the embedded cluster this process runs and restarts its postmaster if it
    /// dies (checked every second). `None` with an external database.
    pub fn supervise(&self) -> Option<tokio::task::JoinHandle<()>> {
        let pg = self.embedded.clone()?;
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let pg = pg.clone();
                let revived = tokio::task::spawn_blocking(move || lock(&pg).revive()).await;
                match revived {
                    Ok(Ok(true)) => tracing::info!("PostgreSQL restarted"),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "PostgreSQL could not be restarted yet")
                    }
                    Err(e) => tracing::warn!(error = %e, "PostgreSQL supervisor step failed"),
                }
            }
        }))
    }

    /// Closes the pool, then stops the embedded cluster if this process runs it.
    pub async fn shutdown(mut self) {
        self.pool.close().await;
        if let Some(pg) = self.embedded.take() {
            let _ = tokio::task::spawn_blocking(move || lock(&pg).stop()).await;
        }
    }
}

/// The cluster, also after a panic elsewhere held the lock (its state stays valid).
fn lock(pg: &Mutex<EmbeddedPostgres>) -> MutexGuard<'_, EmbeddedPostgres> {
    pg.lock().unwrap_or_else(|p| p.into_inner())
}

/// Connection options for a database of the embedded cluster, over its Unix socket.
pub fn socket_options(socket_dir: &Path, database: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .socket(socket_dir)
        .port(embedded::SOCKET_PORT)
        .username(embedded::SUPERUSER)
        .database(database)
        .log_statements(tracing::log::LevelFilter::Trace)
}

pub async fn pool(opts: PgConnectOptions, max: u32) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(0)
        // No ping before every checkout: a broken connection surfaces as an error on use
        // (and is then discarded), while a ping would add a round trip to every query.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await
        .context("could not connect to PostgreSQL")
}

/// Creates `name` in the embedded cluster unless it exists (tolerates a concurrent creator).
pub async fn ensure_database(pg: &EmbeddedPostgres, name: &str) -> anyhow::Result<()> {
    let mut conn =
        sqlx::PgConnection::connect_with(&socket_options(&pg.socket_dir, "postgres")).await?;
    let exists: bool =
        sqlx::query_scalar("select exists(select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let sql = format!("create database \"{}\"", name.replace('"', "\"\""));
        if let Err(e) = sqlx::query(&sql).execute(&mut conn).await {
            let duplicate =
                matches!(&e, sqlx::Error::Database(d) if d.code().as_deref() == Some("42P04"));
            if !duplicate {
                return Err(e.into());
            }
        }
    }
    conn.close().await.ok();
    Ok(())
}

/// Begins a transaction, in a task of its own. sqlx 0.8 rolls back a dropped transaction
/// only once its `BEGIN` was answered: a caller dropped while the `BEGIN` is in flight (a
/// client that went away, a timeout, a sibling future that failed first) returns the
/// connection to the pool inside a transaction, where later users' writes would wait for
/// somebody else's commit. In a task the `BEGIN` always completes, and a transaction
/// nobody receives is dropped, so rolled back, before the connection is used again.
pub async fn begin(pool: &PgPool) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    begin_with(pool, "begin").await
}

/// [`begin`] with its own `BEGIN` statement (an isolation level, read only).
pub async fn begin_with(
    pool: &PgPool,
    statement: &'static str,
) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin_with(statement).await })
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?
}
