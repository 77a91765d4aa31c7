//! Which account a Telnyx number belongs to, and that integration's own webhook key,
//! cached per process: every inbound text and call event asks.
//!
//! Triggers on `sms_numbers` and `sms_integrations` (`NOTIFY leadline_sms_numbers`) tell
//! every replica of any change, and each drops its whole cache. The cache is used only
//! while that `LISTEN` is up: a lost connection may have missed a change, so lookups go
//! to the database until it is back. A lookup that raced a change is not cached (the
//! generation it started under has moved on).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use sqlx::PgPool;

use crate::db::listen::Note;
use crate::domain::AccountId;
use crate::error::Result;

/// The channel the triggers notify (see migration `20261207000070_sms_numbers_notify.sql`).
pub const CHANNEL: &str = "leadline_sms_numbers";

/// Numbers kept at most; the cache starts over when full (unknown numbers are kept too).
const MAX_NUMBERS: usize = 10_000;

/// A number's account and its integration's own webhook key; `None`: nobody's number.
pub type Owner = Option<(AccountId, Option<String>)>;

#[derive(Clone, Default)]
pub struct NumberCache(Arc<Mutex<Cached>>);

#[derive(Default)]
struct Cached {
    listening: bool,
    /// Bumped whenever the cache is dropped.
    generation: u64,
    owners: HashMap<String, Owner>,
}

impl NumberCache {
    fn lock(&self) -> MutexGuard<'_, Cached> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The owner of the E.164 number `e164`.
    pub async fn owner(&self, pool: &PgPool, e164: &str) -> Result<Owner> {
        let generation = {
            let c = self.lock();
            if !c.listening {
                None
            } else if let Some(owner) = c.owners.get(e164) {
                return Ok(owner.clone());
            } else {
                Some(c.generation)
            }
        };
        let owner = lookup(pool, e164).await?;
        if let Some(generation) = generation {
            let mut c = self.lock();
            if c.listening && c.generation == generation {
                if c.owners.len() >= MAX_NUMBERS {
                    c.owners.clear();
                }
                c.owners.insert(e164.to_string(), owner.clone());
            }
        }
        Ok(owner)
    }

    fn reset(&self, listening: bool) {
        let mut c = self.lock();
        c.owners.clear();
        c.generation += 1;
        c.listening = listening;
    }

    /// Keeps the cache in step with the database until the future is dropped.
    pub async fn listen(self, pool: PgPool) {
        crate::db::listen::run(&pool, CHANNEL, "telnyx numbers", |note| {
            self.reset(note != Note::Lost)
        })
        .await
    }
}

/// The number's owner, read from the database.
pub async fn lookup(pool: &PgPool, e164: &str) -> Result<Owner> {
    Ok(sqlx::query_as(
        "select n.account_id, i.webhook_public_key from sms_numbers n
         join sms_integrations i on i.id = n.integration_id
         where n.phone_number = $1",
    )
    .bind(e164)
    .fetch_optional(pool)
    .await?)
}
