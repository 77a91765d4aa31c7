//! The tracker as it was before [`super::aggregate`]: every output computed over the whole
//! history (sums in integer milliseconds, the one change). Kept for tests only, as the
//! reference the aggregate path must match exactly.
#![allow(dead_code)]

pub mod engagement;
pub mod enrichment;
pub mod next_action;
pub mod summary;

use chrono::{DateTime, Utc};

use crate::hours::Zone;
use crate::tracker::model::{LeadFacts, Touch};

/// Everything `analyze` returns, computed the old way over the whole history, as JSON.
pub fn analyze_json(
    facts: &LeadFacts,
    touches: &[Touch],
    zone: Zone,
    now: DateTime<Utc>,
) -> serde_json::Value {
    let sorted = summary::sorted_touches(touches);
    let window: Vec<Touch> = sorted[sorted.len().saturating_sub(crate::tracker::SCORE_WINDOW)..]
        .iter()
        .map(|&t| t.clone())
        .collect();
    let score = crate::tracker::scoring::lead_score(facts, &window, now);
    let summary = summary::summarize(touches);
    let engagement = engagement::engagement(touches, &summary, now);
    let next_action = next_action::next_action(facts, touches, &summary, &engagement, now);
    let enrichment = enrichment::enrich(
        facts,
        touches,
        &summary,
        &engagement,
        score.score,
        zone,
        now,
    );
    serde_json::json!({
        "score": score,
        "summary": summary,
        "engagement": engagement,
        "next_action": next_action,
        "enrichment": enrichment,
    })
}
