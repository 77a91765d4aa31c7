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
//! Runs in O(n log n) (one sort, one pass); [`summary_of`] in O(1) plus the trend's scores.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Channel, Direction, SentimentLabel};
use crate::tracker::aggregate::Aggregate;
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

/// Summarizes a lead's touches (any order). See the module docs for definitions.
pub fn summarize(touches: &[Touch]) -> Summary {
    summary_of(&Aggregate::of(touches, crate::hours::Zone::default()))
}

/// Mean of `ms` over `n` samples in `unit_secs` units, rounded to 2 decimals.
pub(crate) fn mean_in(ms: i64, n: u32, unit_secs: f64) -> Option<f64> {
    (n > 0).then(|| round_to(ms as f64 / 1000.0 / f64::from(n) / unit_secs, 2))
}

/// The summary from a lead's aggregate (see [`crate::tracker::aggregate`]).
pub fn summary_of(agg: &Aggregate) -> Summary {
    let by_type: BTreeMap<String, u32> = Channel::ALL
        .iter()
        .zip(agg.counts)
        .map(|(c, [i, o])| (c.as_str().to_string(), i + o))
        .collect();
    let inbound = agg.by_direction(Direction::Inbound);
    let outbound = agg.by_direction(Direction::Outbound);
    let by_direction: BTreeMap<String, u32> = [
        (direction_str(Direction::Inbound).to_string(), inbound),
        (direction_str(Direction::Outbound).to_string(), outbound),
    ]
    .into_iter()
    .collect();
    let most_recent_sentiment = agg
        .rated_inbound
        .or(agg.rated)
        .and_then(|r| touch_sentiment(&r.touch()));
    let scores: Vec<f64> = agg.scores.iter().map(|&s| f64::from(s)).collect();
    Summary {
        total_touchpoints: inbound + outbound,
        by_type,
        by_direction,
        response_rate: (outbound > 0)
            .then(|| round_to(f64::from(agg.answered) / f64::from(outbound), 3)),
        avg_response_time_hours: mean_in(agg.lead_reply_ms, agg.answered, 3600.0),
        our_avg_response_time_minutes: mean_in(agg.our_reply_ms, agg.our_replies, 60.0),
        first_response_time_minutes: agg.first_response_ms.and_then(|ms| mean_in(ms, 1, 60.0)),
        most_recent_sentiment,
        sentiment_trend: trend_of(&scores),
        last_inbound_at: agg.last_inbound_at,
        last_outbound_at: agg.last_outbound_at,
        unanswered_inbound: agg.unanswered_inbound,
    }
}

/// Trend of the inbound sentiment scores, in time order; see module docs.
pub(crate) fn trend_of(scores: &[f64]) -> Trend {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel::{Chat, Email, PhoneCall, Sms};
    use crate::domain::Direction::{Inbound as In, Outbound as Out};
    use crate::domain::SentimentLabel::{Negative, Neutral, Positive};
    use crate::tracker::test_support::*;

    fn counts(map: &BTreeMap<String, u32>) -> Vec<(&str, u32)> {
        map.iter().map(|(k, v)| (k.as_str(), *v)).collect()
    }

    #[test]
    fn seed_example_of_23_touches_gives_response_rate_0_545() {
        let s = summarize(&seed_004());
        assert_eq!(s.total_touchpoints, 23);
        assert_eq!(
            counts(&s.by_type),
            vec![
                ("chat", 3),
                ("email", 8),
                ("form", 0),
                ("phone_call", 7),
                ("sms", 5)
            ]
        );
        assert_eq!(
            counts(&s.by_direction),
            vec![("inbound", 12), ("outbound", 11)]
        );
        assert_eq!(s.response_rate, Some(0.545));
        assert!((s.response_rate.unwrap() - 6.0 / 11.0).abs() < 0.001);
    }

    #[test]
    fn seed_example_response_times_are_one_hour_each() {
        let s = summarize(&seed_004());
        // every touch is one hour after the previous one
        assert_eq!(s.avg_response_time_hours, Some(1.0));
        assert_eq!(s.first_response_time_minutes, Some(60.0));
        // runs answered: [1]→2, [3]→4, [6,7]→8, [9]→10, [12,13]→14,
        // [16]→17, [18..21]→22 : waits 1,1,2,1,2,1,4 hours
        let expected = (1 + 1 + 2 + 1 + 2 + 1 + 4) as f64 * 60.0 / 7.0;
        assert!((s.our_avg_response_time_minutes.unwrap() - expected).abs() < 0.01);
        assert_eq!(s.unanswered_inbound, 0);
        assert_eq!(s.last_outbound_at, Some(at(22 * 60)));
        assert_eq!(s.last_inbound_at, Some(at(20 * 60)));
    }

    #[test]
    fn input_order_does_not_change_the_summary() {
        let mut touches = seed_004();
        let forward = summarize(&touches);
        touches.reverse();
        touches.swap(3, 17);
        assert_eq!(summarize(&touches), forward);
    }

    #[test]
    fn no_communications_gives_zero_filled_counts_and_no_rates() {
        let s = summarize(&[]);
        assert_eq!(s.total_touchpoints, 0);
        assert_eq!(
            counts(&s.by_type),
            vec![
                ("chat", 0),
                ("email", 0),
                ("form", 0),
                ("phone_call", 0),
                ("sms", 0)
            ]
        );
        assert_eq!(
            counts(&s.by_direction),
            vec![("inbound", 0), ("outbound", 0)]
        );
        assert_eq!(s.response_rate, None);
        assert_eq!(s.avg_response_time_hours, None);
        assert_eq!(s.our_avg_response_time_minutes, None);
        assert_eq!(s.first_response_time_minutes, None);
        assert_eq!(s.most_recent_sentiment, None);
        assert_eq!(s.sentiment_trend, Trend::Stable);
        assert_eq!(s.last_inbound_at, None);
        assert_eq!(s.last_outbound_at, None);
        assert_eq!(s.unanswered_inbound, 0);
    }

    #[test]
    fn only_outbound_gives_response_rate_zero() {
        let s = summarize(&[t(0, Email, Out), t(60, Sms, Out), t(120, PhoneCall, Out)]);
        assert_eq!(s.response_rate, Some(0.0));
        assert_eq!(s.avg_response_time_hours, None);
        assert_eq!(s.our_avg_response_time_minutes, None);
        assert_eq!(s.first_response_time_minutes, None);
        assert_eq!(s.unanswered_inbound, 0);
        assert_eq!(s.last_inbound_at, None);
        assert_eq!(s.last_outbound_at, Some(at(120)));
    }

    #[test]
    fn only_inbound_gives_no_response_rate_and_all_inbound_unanswered() {
        let s = summarize(&[t(0, Chat, In), t(5, Chat, In), t(90, Sms, In)]);
        assert_eq!(s.response_rate, None);
        assert_eq!(s.our_avg_response_time_minutes, None);
        assert_eq!(s.first_response_time_minutes, None);
        assert_eq!(s.unanswered_inbound, 3);
        assert_eq!(s.last_inbound_at, Some(at(90)));
        assert_eq!(s.last_outbound_at, None);
    }

    #[test]
    fn consecutive_outbound_leaves_the_earlier_ones_unanswered() {
        let s = summarize(&[t(0, Email, Out), t(10, Email, Out), t(40, Email, In)]);
        assert_eq!(s.response_rate, Some(0.5));
        // measured from the answered (second) outbound: 30 minutes
        assert_eq!(s.avg_response_time_hours, Some(0.5));
    }

    #[test]
    fn answer_on_a_different_channel_still_counts() {
        let s = summarize(&[t(0, Email, Out), t(120, PhoneCall, In)]);
        assert_eq!(s.response_rate, Some(1.0));
        assert_eq!(s.avg_response_time_hours, Some(2.0));
    }

    #[test]
    fn simultaneous_timestamps_are_ordered_by_id() {
        // same minute: id 1 outbound then id 2 inbound → answered
        let answered = summarize(&[tid(2, 0, Sms, In), tid(1, 0, Sms, Out)]);
        assert_eq!(answered.response_rate, Some(1.0));
        assert_eq!(answered.avg_response_time_hours, Some(0.0));
        assert_eq!(answered.unanswered_inbound, 1);
        // same minute: id 1 inbound then id 2 outbound → our reply, lead unanswered
        let replied = summarize(&[tid(2, 0, Sms, Out), tid(1, 0, Sms, In)]);
        assert_eq!(replied.response_rate, Some(0.0));
        assert_eq!(replied.our_avg_response_time_minutes, Some(0.0));
        assert_eq!(replied.first_response_time_minutes, Some(0.0));
        assert_eq!(replied.unanswered_inbound, 0);
    }

    #[test]
    fn speed_to_lead_is_measured_from_the_first_inbound_of_a_run() {
        let s = summarize(&[
            t(0, Chat, In),
            t(20, Chat, In),
            t(30, Chat, Out), // lead waited 30 min
            t(100, Sms, In),
            t(110, Sms, Out), // lead waited 10 min
        ]);
        assert_eq!(s.first_response_time_minutes, Some(30.0));
        assert_eq!(s.our_avg_response_time_minutes, Some(20.0));
    }

    #[test]
    fn first_response_time_is_none_when_first_inbound_never_answered() {
        let s = summarize(&[t(0, Email, Out), t(30, Email, In), t(60, Sms, In)]);
        assert_eq!(s.first_response_time_minutes, None);
        assert_eq!(s.unanswered_inbound, 2);
    }

    #[test]
    fn first_response_time_uses_the_first_inbound_even_after_our_outreach() {
        let s = summarize(&[t(0, Email, Out), t(30, Email, In), t(75, Email, Out)]);
        assert_eq!(s.first_response_time_minutes, Some(45.0));
        assert_eq!(s.unanswered_inbound, 0);
    }

    #[test]
    fn unanswered_inbound_counts_only_after_our_last_outbound() {
        let s = summarize(&[
            t(0, Sms, In),
            t(5, Sms, Out),
            t(10, Sms, In),
            t(11, Sms, In),
        ]);
        assert_eq!(s.unanswered_inbound, 2);
    }

    #[test]
    fn most_recent_sentiment_prefers_inbound_over_a_later_outbound() {
        let s = summarize(&[
            sent(t(0, Sms, In), Negative, -0.6),
            sent(t(10, Sms, Out), Positive, 0.8),
        ]);
        assert_eq!(s.most_recent_sentiment, Some(Negative));
    }

    #[test]
    fn most_recent_sentiment_falls_back_to_outbound_when_no_inbound_has_one() {
        let s = summarize(&[t(0, Sms, In), sent(t(10, Sms, Out), Positive, 0.8)]);
        assert_eq!(s.most_recent_sentiment, Some(Positive));
    }

    #[test]
    fn sentiment_from_a_score_alone_uses_the_quarter_thresholds() {
        let mut touch = t(0, Sms, In);
        touch.sentiment_score = Some(0.25);
        assert_eq!(touch_sentiment(&touch), Some(Positive));
        touch.sentiment_score = Some(0.2);
        assert_eq!(touch_sentiment(&touch), Some(Neutral));
        touch.sentiment_score = Some(-0.25);
        assert_eq!(touch_sentiment(&touch), Some(Negative));
        touch.sentiment_score = None;
        assert_eq!(touch_sentiment(&touch), None);
    }

    #[test]
    fn sentiment_trend_needs_four_scored_inbound_touches() {
        let s = summarize(&[
            sent(t(0, Sms, In), Negative, -0.9),
            sent(t(1, Sms, In), Neutral, 0.0),
            sent(t(2, Sms, In), Positive, 0.9),
        ]);
        assert_eq!(s.sentiment_trend, Trend::Stable);
    }

    #[test]
    fn sentiment_trend_improving_declining_and_stable() {
        let hist = |scores: [f32; 4]| -> Vec<Touch> {
            scores
                .iter()
                .enumerate()
                .map(|(i, &sc)| sent(t(i as i64, Email, In), Neutral, sc))
                .collect()
        };
        assert_eq!(
            summarize(&hist([-0.5, -0.3, 0.2, 0.4])).sentiment_trend,
            Trend::Improving
        );
        assert_eq!(
            summarize(&hist([0.6, 0.5, 0.0, -0.2])).sentiment_trend,
            Trend::Declining
        );
        // difference 0.1: under the 0.15 threshold
        assert_eq!(
            summarize(&hist([0.1, 0.1, 0.2, 0.2])).sentiment_trend,
            Trend::Stable
        );
    }

    #[test]
    fn sentiment_trend_ignores_outbound_scores_and_the_odd_middle_one() {
        let s = summarize(&[
            sent(t(0, Sms, In), Neutral, 0.0),
            sent(t(1, Sms, In), Neutral, 0.0),
            sent(t(2, Sms, Out), Negative, -1.0),
            sent(t(3, Sms, In), Negative, -1.0), // middle of 5: ignored
            sent(t(4, Sms, In), Neutral, 0.1),
            sent(t(5, Sms, In), Neutral, 0.1),
        ]);
        assert_eq!(s.sentiment_trend, Trend::Stable);
    }

    #[test]
    fn summary_serializes_trend_and_sentiment_in_lowercase() {
        let s = summarize(&[sent(t(0, Sms, In), Positive, 0.7)]);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["sentiment_trend"], "stable");
        assert_eq!(v["most_recent_sentiment"], "positive");
        assert_eq!(v["by_direction"]["inbound"], 1);
        assert_eq!(v["response_rate"], serde_json::Value::Null);
    }
}
