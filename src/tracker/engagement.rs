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
use crate::tracker::aggregate::Aggregate;
use crate::tracker::model::Touch;
use crate::tracker::summary::{sorted_touches, touch_sentiment, Summary};

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
    let agg = Aggregate::of(touches, crate::hours::Zone::default());
    engagement_from(&agg, &sorted_touches(touches), summary, now)
}

/// [`engagement`] from the lead's aggregate and its most recent touches (time order; the
/// last [`crate::tracker::SCORE_WINDOW`] are enough: the recent-inbound count and the
/// outbound streak only matter below 10 and 3 touches).
pub fn engagement_from(
    agg: &Aggregate,
    recent: &[&Touch],
    summary: &Summary,
    now: DateTime<Utc>,
) -> Engagement {
    let total = agg.total();
    let recent_from = now - Duration::days(HIGHLY_ENGAGED_WINDOW_DAYS);
    let inbound = agg.by_direction(Direction::Inbound);
    let recent_inbound = recent
        .iter()
        .filter(|t| t.direction == Direction::Inbound && t.timestamp >= recent_from)
        .count() as u32;
    let inbound_channels = agg.counts.map(|c| c[0] > 0);
    let latest_sentiment = agg.rated_inbound.and_then(|r| touch_sentiment(&r.touch()));
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
    if quiet_since_inbound || trailing_outbound_streak(recent) >= GONE_QUIET_UNANSWERED_OUTBOUND {
        patterns.push("gone_quiet");
    }
    if inbound_channels.iter().filter(|&&b| b).count() >= 2 {
        patterns.push("multi_channel");
    }
    if agg
        .first
        .is_some_and(|first| now - first.at <= Duration::hours(NEW_LEAD_HOURS))
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
        preferred_channel: agg.preferred_inbound_channel(),
        patterns: patterns.into_iter().map(String::from).collect(),
        total_touchpoints: total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel::{Chat, Email, PhoneCall, Sms};
    use crate::domain::Direction::{Inbound as In, Outbound as Out};
    use crate::domain::SentimentLabel::{Negative, Neutral, Positive};
    use crate::tracker::summary::summarize;
    use crate::tracker::test_support::*;

    const DAY: i64 = 24 * 60;

    fn eng(touches: &[Touch], now_min: i64) -> Engagement {
        engagement(touches, &summarize(touches), at(now_min))
    }

    fn has(e: &Engagement, p: &str) -> bool {
        e.patterns.iter().any(|x| x == p)
    }

    #[test]
    fn no_communications_is_low_with_no_channel_and_no_patterns() {
        let e = eng(&[], 0);
        assert_eq!(e.level, Level::Low);
        assert_eq!(e.preferred_channel, None);
        assert!(e.patterns.is_empty());
        assert_eq!(e.total_touchpoints, 0);
    }

    #[test]
    fn preferred_channel_is_the_most_used_inbound_channel() {
        let touches = [
            t(0, Sms, In),
            t(1, Email, Out),
            t(2, Email, Out),
            t(3, Email, Out),
            t(4, Sms, In),
            t(5, Email, In),
        ];
        assert_eq!(eng(&touches, 10).preferred_channel, Some(Sms));
    }

    #[test]
    fn preferred_channel_tie_goes_to_the_most_recent_inbound() {
        let touches = [
            t(0, Sms, In),
            t(1, Email, In),
            t(2, Email, In),
            t(3, Sms, In),
        ];
        assert_eq!(eng(&touches, 10).preferred_channel, Some(Sms));
        // same timestamp: the higher id is the later one
        let simultaneous = [tid(2, 0, Chat, In), tid(1, 0, PhoneCall, In)];
        assert_eq!(eng(&simultaneous, 10).preferred_channel, Some(Chat));
    }

    #[test]
    fn only_outbound_has_no_preferred_channel() {
        let touches = [t(0, Email, Out), t(10, Sms, Out)];
        assert_eq!(eng(&touches, 20).preferred_channel, None);
    }

    #[test]
    fn responsive_at_half_of_outbound_answered() {
        let half = [t(0, Sms, Out), t(1, Sms, In), t(2, Sms, Out)];
        assert!(has(&eng(&half, 10), "responsive"));
        let third = [
            t(0, Sms, Out),
            t(1, Sms, Out),
            t(2, Sms, In),
            t(3, Sms, Out),
        ];
        assert!(!has(&eng(&third, 10), "responsive"));
    }

    #[test]
    fn highly_engaged_at_ten_touches_or_five_recent_inbound() {
        let nine: Vec<_> = (0..9).map(|i| t(i, Email, Out)).collect();
        assert!(!has(&eng(&nine, 20), "highly_engaged"));
        let ten: Vec<_> = (0..10).map(|i| t(i, Email, Out)).collect();
        assert!(has(&eng(&ten, 20), "highly_engaged"));

        let five_recent: Vec<_> = (0..5).map(|i| t(i * DAY, Sms, In)).collect();
        assert!(has(&eng(&five_recent, 5 * DAY), "highly_engaged"));
        // 15 days later, the first one has left the 14-day window
        assert!(!has(&eng(&five_recent, 14 * DAY + 1), "highly_engaged"));
    }

    #[test]
    fn sentiment_patterns_follow_the_latest_inbound_sentiment() {
        let pos = [
            sent(t(0, Sms, In), Negative, -0.5),
            sent(t(1, Sms, In), Positive, 0.5),
            sent(t(2, Sms, Out), Negative, -0.9),
        ];
        let e = eng(&pos, 10);
        assert!(has(&e, "positive_sentiment"));
        assert!(!has(&e, "negative_sentiment"));
        let neg = [sent(t(0, Sms, In), Negative, -0.5)];
        assert!(has(&eng(&neg, 10), "negative_sentiment"));
        let neutral = [sent(t(0, Sms, In), Neutral, 0.0)];
        let e = eng(&neutral, 10);
        assert!(!has(&e, "positive_sentiment") && !has(&e, "negative_sentiment"));
    }

    #[test]
    fn slow_responder_when_replies_take_over_a_day() {
        let slow = [t(0, Email, Out), t(DAY + 1, Email, In)];
        assert!(has(&eng(&slow, DAY + 2), "slow_responder"));
        let exactly_a_day = [t(0, Email, Out), t(DAY, Email, In)];
        assert!(!has(&eng(&exactly_a_day, DAY + 2), "slow_responder"));
    }

    #[test]
    fn gone_quiet_after_14_days_without_inbound() {
        let touches = [t(0, Sms, Out), t(1, Sms, In)];
        assert!(!has(&eng(&touches, 14 * DAY), "gone_quiet"));
        assert!(has(&eng(&touches, 14 * DAY + 1), "gone_quiet"));
    }

    #[test]
    fn gone_quiet_after_three_unanswered_outbound_in_a_row() {
        let two = [t(0, Sms, In), t(1, Sms, Out), t(2, Email, Out)];
        assert!(!has(&eng(&two, 10), "gone_quiet"));
        let three = [
            t(0, Sms, In),
            t(1, Sms, Out),
            t(2, Email, Out),
            t(3, PhoneCall, Out),
        ];
        assert!(has(&eng(&three, 10), "gone_quiet"));
    }

    #[test]
    fn multi_channel_needs_inbound_on_two_channels() {
        let one = [t(0, Sms, In), t(1, Email, Out), t(2, Sms, In)];
        assert!(!has(&eng(&one, 10), "multi_channel"));
        let two = [t(0, Sms, In), t(1, Email, Out), t(2, Chat, In)];
        assert!(has(&eng(&two, 10), "multi_channel"));
    }

    #[test]
    fn new_lead_when_the_first_touch_is_within_48_hours() {
        let touches = [t(0, Chat, In)];
        assert!(has(&eng(&touches, 48 * 60), "new_lead"));
        assert!(!has(&eng(&touches, 48 * 60 + 1), "new_lead"));
    }

    #[test]
    fn patterns_come_in_the_documented_order() {
        let touches = [
            t(0, Email, Out),
            t(1, Chat, In),
            t(2, Email, Out),
            sent(t(3, Sms, In), Positive, 0.8),
        ];
        assert_eq!(
            eng(&touches, 10).patterns,
            vec![
                "responsive",
                "positive_sentiment",
                "multi_channel",
                "new_lead"
            ]
        );
    }

    #[test]
    fn level_high_for_a_recent_responsive_positive_lead() {
        // 3 inbound (2) + rate 1.0 (2) + today (3) + positive (1) = 8
        let touches = [
            t(0, Sms, Out),
            t(1, Sms, In),
            t(2, Sms, Out),
            t(3, Sms, In),
            t(4, Sms, Out),
            sent(t(5, Sms, In), Positive, 0.6),
        ];
        assert_eq!(eng(&touches, 60).level, Level::High);
    }

    #[test]
    fn level_medium_for_a_single_fresh_inbound() {
        // 1 inbound (1) + no rate (0) + today (3) = 4
        assert_eq!(eng(&[t(0, Chat, In)], 10).level, Level::Medium);
    }

    #[test]
    fn level_low_when_the_lead_never_replied() {
        let touches = [t(0, Email, Out), t(60, Sms, Out)];
        assert_eq!(eng(&touches, 120).level, Level::Low);
    }

    #[test]
    fn level_drops_as_the_last_inbound_ages() {
        // 1 inbound (1) + rate 1.0 (2) + recency
        let touches = [t(0, Sms, Out), t(1, Sms, In)];
        assert_eq!(eng(&touches, 3 * DAY).level, Level::High); // 1+2+3
        assert_eq!(eng(&touches, 7 * DAY).level, Level::Medium); // 1+2+2
        assert_eq!(eng(&touches, 15 * DAY).level, Level::Medium); // 1+2+0
        let negative = [t(0, Sms, Out), sent(t(1, Sms, In), Negative, -0.7)];
        assert_eq!(eng(&negative, 15 * DAY).level, Level::Low); // 1+2+0-1
    }

    #[test]
    fn seed_004_engagement() {
        let touches = seed_004();
        let e = eng(&touches, 23 * 60);
        assert_eq!(e.total_touchpoints, 23);
        // inbound: chat 2, sms 3, phone 4, email 3 → phone_call
        assert_eq!(e.preferred_channel, Some(PhoneCall));
        assert!(has(&e, "responsive"));
        assert!(has(&e, "highly_engaged"));
        assert!(has(&e, "multi_channel"));
        assert!(has(&e, "new_lead"));
        assert!(!has(&e, "gone_quiet"));
        // 12 inbound (3) + 0.545 (2) + today (3) = 8
        assert_eq!(e.level, Level::High);
    }

    #[test]
    fn engagement_serializes_level_and_channel_in_snake_case() {
        let v = serde_json::to_value(eng(&[t(0, PhoneCall, In)], 10)).unwrap();
        assert_eq!(v["level"], "medium");
        assert_eq!(v["preferred_channel"], "phone_call");
    }
}
