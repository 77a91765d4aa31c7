//! Communication summary of one lead: counts by channel and direction, the
//! lead's response rate and response times, our own speed to lead, sentiment
//! and its trend, and what is still waiting for a reply.
//!
//! Owns the shared ordering rule and sentiment helpers that the other tracker
//! modules reuse: touches are ordered by `(timestamp, id)` ([`sorted_touches`]),
//! so simultaneous touches keep a deterministic order.
//!
//! Definitions (touches walked in `(timestamp, id)` order):
//! - **Answered outbound**: an outbound touch is answered iff the very next
//!   touch exists and is inbound, whatever its channel. Of several outbound
//!   touches in a row, only the last can be answered.
//! - **`response_rate`** = answered outbound / outbound, rounded to 3 decimals
//!   (6/11 → `0.545`); `None` when there is no outbound touch.
//! - **`avg_response_time_hours`**: mean time from each answered outbound to
//!   the inbound touch that answered it, rounded to 2 decimals.
//! - **`our_avg_response_time_minutes`** (speed to lead): one sample per run of
//!   consecutive inbound touches that we answered, measured from the FIRST
//!   inbound of the run to our next outbound (how long the lead waited),
//!   rounded to 2 decimals. Runs we have not answered yet are not counted.
//! - **`first_response_time_minutes`**: the same measure for the run holding
//!   the lead's very first inbound touch; `None` if there is no inbound touch
//!   or we never answered it.
//! - **`most_recent_sentiment`**: sentiment of the most recent inbound touch
//!   that has one; when no inbound touch has one, the most recent touch of
//!   either direction with one. A touch's sentiment is its label, or when it
//!   only has a score, `score >= 0.25` → positive, `score <= -0.25` →
//!   negative, otherwise neutral ([`touch_sentiment`]).
//! - **`sentiment_trend`**: over inbound touches with a `sentiment_score`, in
//!   time order; with fewer than [`TREND_MIN_SCORED`] of them → stable.
//!   Otherwise compare the mean of the most recent `n/2` with the mean of the
//!   earliest `n/2` (the middle one is left out when `n` is odd): a difference
//!   above [`TREND_THRESHOLD`] (0.15) → improving, below −0.15 → declining.
//! - **`unanswered_inbound`**: inbound touches after our last outbound (all
//!   inbound touches when we never reached out).
//!
//! Runs in O(n log n) (one sort, one pass).
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Channel, Direction, SentimentLabel};
use crate::tracker::model::Touch;

/// Minimum number of scored inbound touches before a trend other than stable.
pub const TREND_MIN_SCORED: usize = 4;
/// Mean-score difference (recent half minus earlier half) that counts as a trend.
pub const TREND_THRESHOLD: f64 = 0.15;
/// A score at or above this reads as positive when a touch has no label.
pub const SCORE_POSITIVE_FROM: f32 = 0.25;
/// A score at or below this reads as negative when a touch has no label.
pub const SCORE_NEGATIVE_FROM: f32 = -0.25;

/// Direction of the lead's sentiment over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trend {
    /// Recent inbound messages score clearly higher than earlier ones.
    Improving,
    /// No clear change, or too few scored messages to tell.
    Stable,
    /// Recent inbound messages score clearly lower than earlier ones.
    Declining,
}

/// Communication summary of one lead (see the module docs for definitions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Number of touches of any channel and direction.
    pub total_touchpoints: u32,
    /// Touches per channel, keys `email`, `sms`, `phone_call`, `chat` (always all four).
    pub by_type: BTreeMap<String, u32>,
    /// Touches per direction, keys `inbound`, `outbound` (always both).
    pub by_direction: BTreeMap<String, u32>,
    /// Share of our outbound touches the lead answered (3 decimals); `None` without outbound.
    pub response_rate: Option<f64>,
    /// Mean hours from an answered outbound touch to the lead's answer.
    pub avg_response_time_hours: Option<f64>,
    /// Mean minutes the lead waited for our reply (speed to lead).
    pub our_avg_response_time_minutes: Option<f64>,
    /// Minutes the lead waited for our reply to their very first inbound touch.
    pub first_response_time_minutes: Option<f64>,
    /// Most recent sentiment, preferring inbound touches.
    pub most_recent_sentiment: Option<SentimentLabel>,
    /// Trend of the lead's inbound sentiment scores.
    pub sentiment_trend: Trend,
    /// Time of the lead's most recent inbound touch.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Time of our most recent outbound touch.
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// Inbound touches since our last outbound touch.
    pub unanswered_inbound: u32,
}

/// References to the touches sorted by `(timestamp, id)`; the input is untouched.
pub fn sorted_touches(touches: &[Touch]) -> Vec<&Touch> {
    let mut sorted: Vec<&Touch> = touches.iter().collect();
    sorted.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.id.cmp(&b.id)));
    sorted
}

/// `"inbound"` / `"outbound"`, matching the serde names of [`Direction`].
pub fn direction_str(direction: Direction) -> &'static str {
    match direction {
        Direction::Inbound => "inbound",
        Direction::Outbound => "outbound",
    }
}

/// A touch's sentiment: its label, else derived from its score
/// ([`SCORE_POSITIVE_FROM`] / [`SCORE_NEGATIVE_FROM`]), else `None`.
pub fn touch_sentiment(touch: &Touch) -> Option<SentimentLabel> {
    if let Some(label) = touch.sentiment {
        return Some(label);
    }
    let score = touch.sentiment_score?;
    if !score.is_finite() {
        return None;
    }
    Some(if score >= SCORE_POSITIVE_FROM {
        SentimentLabel::Positive
    } else if score <= SCORE_NEGATIVE_FROM {
        SentimentLabel::Negative
    } else {
        SentimentLabel::Neutral
    })
}

/// A touch's sentiment as a number in −1..=1: its score (clamped) when it has
/// one, else its label (positive 1, neutral 0, negative −1), else `None`.
pub fn sentiment_value(touch: &Touch) -> Option<f64> {
    if let Some(score) = touch.sentiment_score.filter(|s| s.is_finite()) {
        return Some(f64::from(score).clamp(-1.0, 1.0));
    }
    touch.sentiment.map(|label| match label {
        SentimentLabel::Positive => 1.0,
        SentimentLabel::Neutral => 0.0,
        SentimentLabel::Negative => -1.0,
    })
}

/// Sentiment of the most recent inbound touch that has one (`sorted` in time order).
pub fn latest_inbound_sentiment(sorted: &[&Touch]) -> Option<SentimentLabel> {
    sorted
        .iter()
        .rev()
        .filter(|t| t.direction == Direction::Inbound)
        .find_map(|t| touch_sentiment(t))
}

/// Rounds to `places` decimals (half away from zero).
pub(crate) fn round_to(value: f64, places: i32) -> f64 {
    let factor = 10f64.powi(places);
    (value * factor).round() / factor
}

// The one change from the original: sums in integer milliseconds (exact in any order).
fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

/// Summarizes a lead's touches (any order). See the module docs for definitions.
pub fn summarize(touches: &[Touch]) -> Summary {
    let sorted = sorted_touches(touches);

    let mut by_type: BTreeMap<String, u32> = Channel::ALL
        .iter()
        .map(|c| (c.as_str().to_string(), 0))
        .collect();
    let mut inbound = 0u32;
    let mut outbound = 0u32;

    let mut answered = 0u32;
    let mut lead_reply_secs = 0i64;
    let mut our_reply_secs = 0i64;
    let mut our_reply_count = 0u32;
    let mut first_response_secs: Option<i64> = None;

    // first inbound touch of the current run still waiting for our reply
    let mut waiting_since: Option<DateTime<Utc>> = None;
    let mut waiting_run_is_first = false;
    let mut seen_inbound = false;

    let mut last_inbound_at = None;
    let mut last_outbound_at = None;
    let mut unanswered_inbound = 0u32;

    for (i, touch) in sorted.iter().enumerate() {
        *by_type
            .entry(touch.channel.as_str().to_string())
            .or_default() += 1;
        match touch.direction {
            Direction::Outbound => {
                outbound += 1;
                if let Some(next) = sorted.get(i + 1) {
                    if next.direction == Direction::Inbound {
                        answered += 1;
                        lead_reply_secs += seconds_between(touch.timestamp, next.timestamp);
                    }
                }
                if let Some(since) = waiting_since.take() {
                    let secs = seconds_between(since, touch.timestamp);
                    our_reply_secs += secs;
                    our_reply_count += 1;
                    if waiting_run_is_first {
                        first_response_secs = Some(secs);
                    }
                }
                last_outbound_at = Some(touch.timestamp);
                unanswered_inbound = 0;
            }
            Direction::Inbound => {
                inbound += 1;
                if waiting_since.is_none() {
                    waiting_since = Some(touch.timestamp);
                    waiting_run_is_first = !seen_inbound;
                }
                seen_inbound = true;
                last_inbound_at = Some(touch.timestamp);
                unanswered_inbound += 1;
            }
        }
    }

    let by_direction: BTreeMap<String, u32> = [
        (direction_str(Direction::Inbound).to_string(), inbound),
        (direction_str(Direction::Outbound).to_string(), outbound),
    ]
    .into_iter()
    .collect();

    let response_rate =
        (outbound > 0).then(|| round_to(f64::from(answered) / f64::from(outbound), 3));
    let avg_response_time_hours = (answered > 0).then(|| {
        round_to(
            lead_reply_secs as f64 / 1000.0 / f64::from(answered) / 3600.0,
            2,
        )
    });
    let our_avg_response_time_minutes = (our_reply_count > 0).then(|| {
        round_to(
            our_reply_secs as f64 / 1000.0 / f64::from(our_reply_count) / 60.0,
            2,
        )
    });
    let first_response_time_minutes =
        first_response_secs.map(|s| round_to(s as f64 / 1000.0 / 1.0 / 60.0, 2));

    let most_recent_sentiment = latest_inbound_sentiment(&sorted)
        .or_else(|| sorted.iter().rev().find_map(|t| touch_sentiment(t)));

    Summary {
        total_touchpoints: sorted.len() as u32,
        by_type,
        by_direction,
        response_rate,
        avg_response_time_hours,
        our_avg_response_time_minutes,
        first_response_time_minutes,
        most_recent_sentiment,
        sentiment_trend: sentiment_trend(&sorted),
        last_inbound_at,
        last_outbound_at,
        unanswered_inbound,
    }
}

/// Trend of inbound sentiment scores (`sorted` in time order); see module docs.
fn sentiment_trend(sorted: &[&Touch]) -> Trend {
    let scores: Vec<f64> = sorted
        .iter()
        .filter(|t| t.direction == Direction::Inbound)
        .filter_map(|t| t.sentiment_score.filter(|s| s.is_finite()))
        .map(f64::from)
        .collect();
    if scores.len() < TREND_MIN_SCORED {
        return Trend::Stable;
    }
    let half = scores.len() / 2;
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let diff = mean(&scores[scores.len() - half..]) - mean(&scores[..half]);
    if diff > TREND_THRESHOLD {
        Trend::Improving
    } else if diff < -TREND_THRESHOLD {
        Trend::Declining
    } else {
        Trend::Stable
    }
}
