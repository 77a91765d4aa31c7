//! Engagement of one lead: a high / medium / low level, the channel the lead
//! prefers, and named behaviour patterns.
//!
//! # Preferred channel
//! The channel with the most INBOUND touches; a tie goes to the channel with
//! the most recent inbound touch (by `(timestamp, id)`). `None` without inbound.
//!
//! # Patterns (in this order; thresholds are the consts below)
//! - `responsive`: `response_rate >= 0.5` ([`RESPONSIVE_MIN_RATE`]).
//! - `highly_engaged`: 10+ touches in total ([`HIGHLY_ENGAGED_MIN_TOUCHES`]),
//!   or 5+ inbound touches ([`HIGHLY_ENGAGED_MIN_RECENT_INBOUND`]) in the last
//!   14 days ([`HIGHLY_ENGAGED_WINDOW_DAYS`]).
//! - `positive_sentiment` / `negative_sentiment`: sentiment of the most recent
//!   inbound touch that has one.
//! - `slow_responder`: `avg_response_time_hours > 24` ([`SLOW_RESPONDER_HOURS`]).
//! - `gone_quiet`: the last inbound touch is 14+ days old ([`GONE_QUIET_DAYS`]),
//!   or our latest 3+ touches in a row are unanswered outbound
//!   ([`GONE_QUIET_UNANSWERED_OUTBOUND`]).
//! - `multi_channel`: inbound touches on 2 or more channels.
//! - `new_lead`: the first touch is at most 48 hours old ([`NEW_LEAD_HOURS`]).
//!
//! # Level
//! Points, added up:
//! | signal | points |
//! | --- | --- |
//! | inbound touches: 0 / 1–2 / 3–5 / 6+ | 0 / 1 / 2 / 3 |
//! | response rate: none or < 0.25 / ≥ 0.25 / ≥ 0.5 | 0 / 1 / 2 |
//! | last inbound: none or > 14 days / ≤ 14 days / ≤ 7 days / ≤ 3 days ago | 0 / 1 / 2 / 3 |
//! | latest inbound sentiment: negative / neutral or none / positive | −1 / 0 / +1 |
//!
//! 6 or more ([`HIGH_LEVEL_MIN_POINTS`]) → high, 3 or more
//! ([`MEDIUM_LEVEL_MIN_POINTS`]) → medium, else low (at most 9 points).
//!
//! Runs in O(n log n).
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Channel, Direction, SentimentLabel};
use crate::tracker::model::Touch;
use crate::tracker::reference::summary::{latest_inbound_sentiment, sorted_touches, Summary};

/// `responsive` when the response rate is at least this.
pub const RESPONSIVE_MIN_RATE: f64 = 0.5;
/// `highly_engaged` when there are at least this many touches in total.
pub const HIGHLY_ENGAGED_MIN_TOUCHES: u32 = 10;
/// `highly_engaged` when there are at least this many recent inbound touches.
pub const HIGHLY_ENGAGED_MIN_RECENT_INBOUND: u32 = 5;
/// Window, in days, for "recent" inbound touches of `highly_engaged`.
pub const HIGHLY_ENGAGED_WINDOW_DAYS: i64 = 14;
/// `slow_responder` when the lead's mean response time exceeds this many hours.
pub const SLOW_RESPONDER_HOURS: f64 = 24.0;
/// `gone_quiet` when the last inbound touch is at least this many days old.
pub const GONE_QUIET_DAYS: i64 = 14;
/// `gone_quiet` when our latest touches include this many unanswered outbound in a row.
pub const GONE_QUIET_UNANSWERED_OUTBOUND: u32 = 3;
/// `new_lead` when the first touch is at most this many hours old.
pub const NEW_LEAD_HOURS: i64 = 48;
/// Level points needed for high engagement.
pub const HIGH_LEVEL_MIN_POINTS: i32 = 6;
/// Level points needed for medium engagement.
pub const MEDIUM_LEVEL_MIN_POINTS: i32 = 3;

/// Engagement level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// 6+ level points.
    High,
    /// 3–5 level points.
    Medium,
    /// Under 3 level points.
    Low,
}

/// Engagement of one lead (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Engagement {
    /// High, medium or low.
    pub level: Level,
    /// Channel the lead uses most for inbound touches.
    pub preferred_channel: Option<Channel>,
    /// Named patterns, in the documented order.
    pub patterns: Vec<String>,
    /// Number of touches of any channel and direction.
    pub total_touchpoints: u32,
}

/// Channel with the most inbound touches, ties to the most recent (`sorted` in time order).
/// A submitted form is not a channel one answers on, so it is never the preference.
pub fn preferred_inbound_channel(sorted: &[&Touch]) -> Option<Channel> {
    // (count, position of the latest inbound touch) per channel
    let mut stats: [(u32, usize); 5] = [(0, 0); 5];
    for (pos, t) in sorted.iter().enumerate() {
        if t.direction == Direction::Inbound && t.channel != Channel::Form {
            let s = &mut stats[channel_index(t.channel)];
            s.0 += 1;
            s.1 = pos;
        }
    }
    Channel::ALL
        .iter()
        .zip(stats)
        .filter(|(_, (count, _))| *count > 0)
        .max_by_key(|(_, stat)| *stat)
        .map(|(c, _)| *c)
}

fn channel_index(channel: Channel) -> usize {
    match channel {
        Channel::Email => 0,
        Channel::Sms => 1,
        Channel::PhoneCall => 2,
        Channel::Chat => 3,
        Channel::Form => 4,
    }
}

/// Number of outbound touches at the end of the history with no inbound after them.
pub fn trailing_outbound_streak(sorted: &[&Touch]) -> u32 {
    sorted
        .iter()
        .rev()
        .take_while(|t| t.direction == Direction::Outbound)
        .count() as u32
}

/// Engagement level, preferred channel and patterns of a lead (touches in any order).
pub fn engagement(touches: &[Touch], summary: &Summary, now: DateTime<Utc>) -> Engagement {
    let sorted = sorted_touches(touches);
    let total = sorted.len() as u32;

    let recent_from = now - Duration::days(HIGHLY_ENGAGED_WINDOW_DAYS);
    let mut inbound = 0u32;
    let mut recent_inbound = 0u32;
    let mut inbound_channels = [false; 5];
    for t in sorted.iter().filter(|t| t.direction == Direction::Inbound) {
        inbound += 1;
        if t.timestamp >= recent_from {
            recent_inbound += 1;
        }
        inbound_channels[channel_index(t.channel)] = true;
    }
    let latest_sentiment = latest_inbound_sentiment(&sorted);
    let since_last_inbound = summary.last_inbound_at.map(|at| now - at);

    let mut patterns: Vec<&str> = Vec::new();
    if summary
        .response_rate
        .is_some_and(|r| r >= RESPONSIVE_MIN_RATE)
    {
        patterns.push("responsive");
    }
    if total >= HIGHLY_ENGAGED_MIN_TOUCHES || recent_inbound >= HIGHLY_ENGAGED_MIN_RECENT_INBOUND {
        patterns.push("highly_engaged");
    }
    match latest_sentiment {
        Some(SentimentLabel::Positive) => patterns.push("positive_sentiment"),
        Some(SentimentLabel::Negative) => patterns.push("negative_sentiment"),
        _ => {}
    }
    if summary
        .avg_response_time_hours
        .is_some_and(|h| h > SLOW_RESPONDER_HOURS)
    {
        patterns.push("slow_responder");
    }
    let quiet_since_inbound =
        since_last_inbound.is_some_and(|d| d >= Duration::days(GONE_QUIET_DAYS));
    if quiet_since_inbound || trailing_outbound_streak(&sorted) >= GONE_QUIET_UNANSWERED_OUTBOUND {
        patterns.push("gone_quiet");
    }
    if inbound_channels.iter().filter(|&&b| b).count() >= 2 {
        patterns.push("multi_channel");
    }
    if sorted
        .first()
        .is_some_and(|first| now - first.timestamp <= Duration::hours(NEW_LEAD_HOURS))
    {
        patterns.push("new_lead");
    }

    let inbound_points = match inbound {
        0 => 0,
        1..=2 => 1,
        3..=5 => 2,
        _ => 3,
    };
    let rate_points = match summary.response_rate {
        Some(r) if r >= 0.5 => 2,
        Some(r) if r >= 0.25 => 1,
        _ => 0,
    };
    let recency_points = match since_last_inbound {
        Some(d) if d <= Duration::days(3) => 3,
        Some(d) if d <= Duration::days(7) => 2,
        Some(d) if d <= Duration::days(14) => 1,
        _ => 0,
    };
    let sentiment_points = match latest_sentiment {
        Some(SentimentLabel::Positive) => 1,
        Some(SentimentLabel::Negative) => -1,
        _ => 0,
    };
    let points = inbound_points + rate_points + recency_points + sentiment_points;
    let level = if points >= HIGH_LEVEL_MIN_POINTS {
        Level::High
    } else if points >= MEDIUM_LEVEL_MIN_POINTS {
        Level::Medium
    } else {
        Level::Low
    };

    Engagement {
        level,
        preferred_channel: preferred_inbound_channel(&sorted),
        patterns: patterns.into_iter().map(String::from).collect(),
        total_touchpoints: total,
    }
}
