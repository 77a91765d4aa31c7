//! The router assembled from each area's routes, and serving with graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sqlx::PgPool;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
use crate::crypto::SecretBox;
use crate::db::Database;
use crate::error::ApiError;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole HTTP surface, without a socket (tests can drive it directly).
pub fn router(state: AppState) -> Router {
    let (api_routes, openapi) = OpenApiRouter::with_openapi(crate::docs::ApiDoc::openapi())
        .merge(crate::health::router())
        .merge(crate::leads::router())
        .merge(crate::keys::router())
        .merge(crate::team::router())
        .merge(crate::hours::store::router())
        .merge(crate::message_templates::store::router())
        .merge(crate::automations::api::router())
        .merge(crate::alerts::api::router())
        .merge(crate::imports::api::router())
        .merge(crate::exports::router())
        .merge(crate::communications::router())
        .merge(crate::leads::insights::router())
        .merge(crate::channels::sms::router())
        .merge(crate::channels::calls::router())
        .merge(crate::channels::email::router())
        .merge(crate::ai::service::router())
        .merge(crate::channels::chat::router())
        .merge(crate::channels::quarantine::router())
        .merge(crate::channels::outbox::router())
        .merge(crate::channels::router())
        .merge(crate::intake::router())
        .merge(crate::webhooks_out::api::router())
        .split_for_parts();
    let mut openapi = openapi;
    utoipa::Modify::modify(&crate::docs::ErrorResponses, &mut openapi);
    let openapi = Arc::new(openapi);
    let max_body = state.config.max_body_bytes;
    let db_watch = state.db_watch.clone();
    api_routes
        .route("/openapi.json", get(move || async move { axum::Json(openapi.as_ref().clone()) }))
        .route("/docs", get(crate::docs::docs_page))
        .route("/widget.js", get(crate::channels::chat::widget::script))
        .merge(crate::dashboard::router())
        .fallback(|| async { ApiError::NotFound("route") })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(db_watch, crate::db::watch::fail_fast))
        .layer(axum::middleware::from_fn(crate::extract::refuse_nul_in_uri))
        .layer(axum::middleware::from_fn(crate::extract::json_errors))
        .layer(CatchPanicLayer::custom(|_| ApiError::Internal(anyhow::anyhow!("handler panicked")).into_response()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
                    // The path only (query strings may carry tokens), secrets in it redacted.
                    let path = crate::telemetry::redacted_path(req.uri().path());
                    tracing::info_span!("request", method = %req.method(), path = %path, request_id = %id)
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(tower_http::LatencyUnit::Micros)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A bound, ready-to-serve Leadline.
pub struct Application {
    listener: tokio::net::TcpListener,
    state: AppState,
    database: Option<Database>,
}

impl Application {
    /// Connects (starting the embedded cluster when needed), migrates, and binds.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let database = Database::connect(&config).await?;
        database.migrate().await?;
        let mut config = config;
        if config.master_key.is_none() {
            anyhow::ensure!(
                database.embedded.is_some(),
                "LEADLINE_MASTER_KEY is required when DATABASE_URL is set (32 random bytes in base64: `openssl rand -base64 32`)"
            );
            config.master_key = Some(SecretBox::load_or_create(
                &config.data_dir.join("master.key"),
            )?);
        }
        let pool = database.pool.clone();
        let mut app = Self::build_with_pool(config, pool).await?;
        app.database = Some(database);
        Ok(app)
    }

    /// Binds over an existing, migrated pool (tests). Needs `config.master_key`.
    pub async fn build_with_pool(config: Config, pool: PgPool) -> anyhow::Result<Self> {
        let secrets = config
            .master_key
            .clone()
            .ok_or_else(|| anyhow::anyhow!("LEADLINE_MASTER_KEY is not set"))?;
        let ai = crate::ai::AiResponder::new(config.ai.clone()).map_err(|e| anyhow::anyhow!(e))?;
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        // The real address (also for port 0): the server's own origin is derived from it.
        let mut config = config;
        config.bind = listener.local_addr()?;
        let state = AppState::new(pool, config, secrets, ai);
        tokio::spawn(state.chat.clone().listen(state.pool.clone()));
        tokio::spawn(state.telnyx_numbers.clone().listen(state.pool.clone()));
        tokio::spawn(state.db_watch.clone().run(state.pool.clone()));
        Ok(Self {
            listener,
            state,
            database: None,
        })
    }

    /// The real address, also when the configured port was 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, lets in-flight requests finish (up to 30 s),
    /// then closes the pool and stops the embedded cluster if we started it.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let background = crate::scheduler::spawn(self.state.clone());
        let supervisor = self.database.as_ref().and_then(Database::supervise);
        let app = router(self.state.clone());
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        let hub = self.state.chat.clone();
        let signal = async move {
            shutdown.await;
            // Live streams never end by themselves.
            hub.stop();
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stopped_tx.send(());
        };
        let serve = crate::serve::serve(self.listener, app, self.state.config.connections, signal);
        let drained = async move {
            let _ = stopped_rx.await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        };
        tokio::select! {
            _ = serve => {}
            _ = drained => tracing::warn!("in-flight requests did not finish within 30 s; stopping anyway"),
        }
        background.abort();
        if let Some(s) = supervisor {
            s.abort();
        }
        if let Some(db) = self.database {
            db.shutdown().await;
        }
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
