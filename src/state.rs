//! What every handler can reach: the pool, the configuration and this process's live
//! parts. Built from parts that know nothing of the routers (no module imports its caller).

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::crypto::SecretBox;

/// What every handler can reach. Cheap to clone; holds no state a second replica would need.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<Config>,
    /// Seals and opens stored credentials.
    pub secrets: SecretBox,
    /// The configured AI responder (rules by default), with its fallback.
    pub ai: crate::ai::AiResponder,
    /// Live chat events of this server's subscribers (fed by PostgreSQL `LISTEN`).
    pub chat: crate::channels::chat::realtime::ChatHub,
    /// Telnyx webhook keys of the SMS integrations, cached for signature checks.
    pub telnyx_keys: crate::telnyx::events::KeyCache,
    /// Owners of the Telnyx numbers, cached (kept in step by `LISTEN`).
    pub telnyx_numbers: crate::telnyx::numbers::NumberCache,
    /// The recording path's batch writer (see `communications::record`).
    pub recorder: crate::communications::writer::Recorder,
    /// Whether PostgreSQL answers (see `db::watch`).
    pub db_watch: Arc<crate::db::watch::DbWatch>,
    /// Company facts and hours for automatic answers, checked by version on each use.
    pub accounts: crate::accounts_cache::AccountsCache,
}

impl AppState {
    /// Where this server is reached from outside: `LEADLINE_PUBLIC_URL`, else the
    /// request's Host (for links in widget code, invitations and resets).
    pub fn public_base(&self, headers: &axum::http::HeaderMap) -> String {
        if let Some(url) = &self.config.public_url {
            return url.trim_end_matches('/').to_string();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
            })
            .map(str::to_string)
            .unwrap_or_else(|| self.config.bind.to_string());
        format!("http://{host}")
    }

    /// The state over a pool, with this process's own live parts (chat hub, key cache) fresh.
    pub fn new(
        pool: PgPool,
        config: Config,
        secrets: SecretBox,
        ai: crate::ai::AiResponder,
    ) -> Self {
        Self {
            recorder: crate::communications::writer::Recorder::new(config.record_writers),
            db_watch: Default::default(),
            pool,
            config: Arc::new(config),
            secrets,
            ai,
            chat: crate::channels::chat::realtime::ChatHub::new(),
            telnyx_keys: Default::default(),
            telnyx_numbers: Default::default(),
            accounts: Default::default(),
        }
    }
}

impl axum::extract::FromRef<AppState> for crate::extract::TrustProxy {
    fn from_ref(state: &AppState) -> Self {
        Self(state.config.chat.trust_proxy)
    }
}
