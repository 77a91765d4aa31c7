//! A lead's history as the profile reads it: the stored per-lead aggregate
//! (`lead_aggregates`, see its migration and `tracker::aggregate`) brought up to date with
//! the touches written since, plus the most recent touches (the score's window).
//!
//! The recording path does not write aggregates: a read folds in what it lacks and stores
//! the result, so ingest pays nothing for them. A touch written before the stored one's
//! last touch, moved, re-rated or deleted makes the database forget the aggregate (its
//! triggers bump `version`); the next read rebuilds it from the whole history. A read's
//! write-back lands only on the version it read, so a write-back computed from a history
//! that has since changed behind it is dropped, never stored.

use sqlx::PgPool;

use crate::domain::AccountId;
use crate::error::Result;
use crate::hours::Zone;
use crate::leads::store;
use crate::tracker::aggregate::Aggregate;
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::SCORE_WINDOW;

/// A lead's facts and whole history, as [`current`] reads it.
#[derive(Debug)]
pub struct History {
    pub facts: LeadFacts,
    /// The account's time zone (the aggregate's local hours are counted in it).
    pub zone: Zone,
    /// Every touch of the lead folded, in `(timestamp, id)` order.
    pub aggregate: Aggregate,
    /// The lead's most recent touches (at most [`SCORE_WINDOW`]), in time order.
    pub recent: Vec<Touch>,
}

impl History {
    pub fn recent(&self) -> Vec<&Touch> {
        self.recent.iter().collect()
    }
}

/// The lead's facts and current aggregate; "not found" for another account's lead.
///
/// The row and the touches it lacks are read in one snapshot (a read-only repeatable-read
/// transaction), so the answer is exact for that instant even while touches arrive.
pub async fn current(pool: &PgPool, account: AccountId, lead_id: i64) -> Result<History> {
    let mut tx =
        crate::db::begin_with(pool, "begin isolation level repeatable read, read only").await?;
    let (facts, zone, timezone, stored) =
        store::load_facts_and_aggregate(&mut tx, account, lead_id).await?;
    let read_version = stored.as_ref().map(|s| s.version);
    let usable = stored
        .filter(|s| s.zone == timezone)
        .and_then(|s| s.aggregate);
    let mark = usable.as_ref().and_then(|a| a.last).map(|m| (m.at, m.id));
    let mut touches = match mark {
        Some(mark) => {
            store::load_touches_after(&mut tx, lead_id, mark, SCORE_WINDOW as i64).await?
        }
        None => store::load_touches(&mut tx, lead_id).await?,
    };
    tx.commit().await?;

    let (aggregate, changed) = bring_up_to_date(usable, &touches, zone);
    if changed {
        write_back(pool, account, lead_id, &timezone, &aggregate, read_version).await?;
    }
    touches.drain(..touches.len().saturating_sub(SCORE_WINDOW));
    Ok(History {
        facts,
        zone,
        aggregate,
        recent: touches,
    })
}

/// Folds into `stored` (a fresh aggregate when `None`) the touches after its last one;
/// `touches` are in time order and hold at least those. Whether anything changed.
fn bring_up_to_date(stored: Option<Aggregate>, touches: &[Touch], zone: Zone) -> (Aggregate, bool) {
    let mut changed = stored.is_none();
    let mut agg = stored.unwrap_or_default();
    let mark = agg.last.map(|m| (m.at, m.id));
    for t in touches {
        if mark.is_none_or(|m| (t.timestamp, t.id) > m) {
            changed |= agg.fold(t, zone);
        }
    }
    (agg, changed)
}

/// Stores the aggregate when the row is still the version that was read (`None`: there
/// was no row, and there must still be none). A lost write-back costs a later read some work,
/// so it is committed without waiting for the disk.
async fn write_back(
    pool: &PgPool,
    account: AccountId,
    lead_id: i64,
    timezone: &str,
    agg: &Aggregate,
    read_version: Option<i64>,
) -> Result<()> {
    sqlx::query(
        "with quick as (select set_config('synchronous_commit', 'off', true))
         insert into lead_aggregates as g (lead_id, account_id, zone, state, scores)
         select $1, $2, $3, $4, $5 from quick
         on conflict (lead_id) do update set zone = excluded.zone, state = excluded.state,
             scores = excluded.scores, version = g.version + 1
         where g.version = $6",
    )
    .bind(lead_id)
    .bind(account)
    .bind(timezone)
    .bind(sqlx::types::Json(agg))
    .bind(&agg.scores)
    .bind(read_version.unwrap_or(-1))
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::test_support::seed_004;

    #[test]
    fn bringing_up_to_date_folds_only_what_the_stored_aggregate_lacks() {
        let touches = seed_004();
        let zone = Zone::default();
        let whole = Aggregate::of(&touches, zone);
        let mut sorted = touches.clone();
        sorted.sort_by_key(|t| (t.timestamp, t.id));
        // nothing stored: everything folded
        assert_eq!(bring_up_to_date(None, &sorted, zone), (whole.clone(), true));
        // the first 15 stored; the read returns the 10 most recent (an overlap of 2)
        let part = Aggregate::of(&sorted[..15], zone);
        assert_eq!(
            bring_up_to_date(Some(part), &sorted[13..], zone),
            (whole.clone(), true)
        );
        // up to date: nothing to store
        assert_eq!(
            bring_up_to_date(Some(whole.clone()), &sorted[20..], zone),
            (whole, false)
        );
    }
}
