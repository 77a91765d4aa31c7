//! What an automatic answer reads from its account (the company facts, the opening hours,
//! the account's name), kept in memory per server.
//!
//! Each entry carries the `accounts.config_version` it was read at; a trigger bumps that
//! number whenever one of those columns changes. A caller passes the version it read in a
//! statement it makes anyway (the chat reads it with the session), so a hit costs nothing
//! and a change made through any replica is seen on the very next answer: no window in
//! which a replica answers from old settings, as an invalidation message that is still on
//! its way would leave.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::ai::CompanySettings;
use crate::domain::AccountId;
use crate::error::Result;
use crate::hours::BusinessHours;

/// Accounts kept at most; past it the cache starts again empty (entries are cheap to read).
const MAX_ENTRIES: usize = 10_000;

/// One account's settings for answering, as of `version`.
#[derive(Debug, Clone)]
pub struct AnswerSettings {
    pub version: i64,
    /// The account's own name (the fallback company name).
    pub name: String,
    pub company: CompanySettings,
    pub hours: BusinessHours,
}

#[derive(sqlx::FromRow)]
struct Row {
    config_version: i64,
    name: String,
    company: Option<serde_json::Value>,
    timezone: String,
    business_hours: Option<serde_json::Value>,
}

/// The per-server cache (cheap to clone: one map behind a lock).
#[derive(Clone, Default)]
pub struct AccountsCache {
    entries: Arc<Mutex<HashMap<AccountId, Arc<AnswerSettings>>>>,
}

impl AccountsCache {
    /// The account's settings at `version` (or newer), read from the database only when
    /// the kept entry is older.
    pub async fn get(
        &self,
        pool: &sqlx::PgPool,
        account: AccountId,
        version: i64,
    ) -> Result<Arc<AnswerSettings>> {
        if let Some(hit) = self.lock().get(&account).filter(|s| s.version >= version) {
            return Ok(hit.clone());
        }
        let row: Row = sqlx::query_as(
            "select config_version, name, settings->'company' as company, timezone, business_hours
             from accounts where id = $1",
        )
        .bind(account)
        .fetch_one(pool)
        .await?;
        let fresh = Arc::new(AnswerSettings {
            version: row.config_version,
            name: row.name,
            company: CompanySettings::from_stored(row.company),
            hours: BusinessHours::from_stored(&row.timezone, row.business_hours),
        });
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        // Two readers may race: the newer read stays.
        let kept = entries
            .entry(account)
            .and_modify(|e| {
                if e.version < fresh.version {
                    *e = fresh.clone();
                }
            })
            .or_insert_with(|| fresh.clone());
        Ok(kept.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AccountId, Arc<AnswerSettings>>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
