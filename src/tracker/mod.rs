//! The tracker: everything Leadline derives from the `communications` table and the
//! lead's fields (sentiment, scores, summaries, engagement, next action).

pub mod model;

use sqlx::PgConnection;

use crate::auth::AccountId;
use crate::error::Result;

/// Sentiment of a communication's text: a label and a score in [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextSentiment {
    pub label: model::SentimentLabel,
    pub score: f32,
}

/// Hook inside the one recording path: the sentiment stored with each communication.
pub fn sentiment_of(_text: &str) -> Option<TextSentiment> {
    None
}

/// Hook inside the one recording path (same transaction): recompute the lead's score,
/// band and insights so no list ever shows a stale band.
pub async fn refresh_lead_in(
    _conn: &mut PgConnection,
    _account: AccountId,
    _lead_id: i64,
) -> Result<()> {
    Ok(())
}

/// `refresh_lead_in` on its own connection, for changes made outside the recording path.
pub async fn refresh_lead(pool: &sqlx::PgPool, account: AccountId, lead_id: i64) -> Result<()> {
    let mut conn = pool.acquire().await?;
    refresh_lead_in(&mut conn, account, lead_id).await
}
