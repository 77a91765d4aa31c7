//! Profile enrichment of one lead: how complete the profile is, when and how
//! the lead likes to be reached, behaviour notes, and a heuristic conversion
//! probability.
//!
//! # Completeness
//! Eight fields, in this order: `name`, `email`, `phone`, `property_address`,
//! `roof_age`, `issues`, `timeline`, `budget`. A text field is known when it is
//! present and not blank, `roof_age` when present, `issues` when non-empty.
//! `completeness` = known / 8 × 100, rounded half up (7 of 8 → 88);
//! `missing_fields` lists the unknown ones in that order.
//!
//! # Contact hours and channels
//! `preferred_contact_hours[h]` counts inbound touches whose local hour is
//! `h` in the account's zone (daylight saving time included: `hours::Zone`).
//! `best_contact_hour` is the busiest hour (the earliest on a tie), `None`
//! without inbound. `channel_preferences` is each channel's share of inbound
//! touches (keys for all four channels; all 0 without inbound, else sums to 1).
//!
//! # Response patterns (in this order)
//! - Speed, from `avg_response_time_hours`: ≤ 1 h "replies within an hour",
//!   ≤ 24 h "replies within a day", else "usually takes more than a day to reply".
//! - Time of day, with 3+ inbound touches and more than half of them in one
//!   local band (morning 05–11, afternoon 12–16, evening 17–21, night 22–04):
//!   "replies mostly in the morning" / "… afternoon" / "… evening" /
//!   "replies mostly at night".
//! - "often reaches out on weekends": 3+ inbound, at least half on a local
//!   Saturday or Sunday.
//! - Channel, with 2+ inbound and one channel holding at least 60 % of them:
//!   "prefers email" / "prefers texting" / "prefers phone calls" / "prefers chat".
//! - "reached out first": the first touch is inbound.
//!
//! # Conversion probability (a heuristic, NOT a trained model)
//! `p = 1 / (1 + e^(−z))` with
//! `z = B0 + B1·score/100 + B2·engagement + B3·sentiment + B4·recency`, where
//! engagement is high 1, medium 0.5, low 0; sentiment is the most recent
//! inbound touch's sentiment in −1..1 (its score, else its label as 1/0/−1,
//! 0 when none); recency is `0.5^(days since last inbound / 7)` (half-life
//! 7 days, 0 without inbound). Coefficients: B0 = −3.5, B1 = 3.0, B2 = 1.0,
//! B3 = 0.75, B4 = 1.0 — chosen by hand so that a cold, silent lead lands
//! near 0.1, an average one near 0.4 and a hot, engaged one near 0.9. Status
//! won → 1.0, lost → 0.0. Replace with a fitted model once outcomes exist.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::{Channel, Direction, LeadStatus};
use crate::tracker::aggregate::Aggregate;
use crate::tracker::engagement::{Engagement, Level};
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::summary::{sentiment_value, Summary};

/// The eight profile fields counted by `completeness`, in order.
pub const PROFILE_FIELDS: [&str; 8] = [
    "name",
    "email",
    "phone",
    "property_address",
    "roof_age",
    "issues",
    "timeline",
    "budget",
];
/// Conversion heuristic: intercept.
pub const B0_INTERCEPT: f64 = -3.5;
/// Conversion heuristic: weight of score / 100.
pub const B1_SCORE: f64 = 3.0;
/// Conversion heuristic: weight of engagement (high 1, medium 0.5, low 0).
pub const B2_ENGAGEMENT: f64 = 1.0;
/// Conversion heuristic: weight of the latest inbound sentiment (−1..1).
pub const B3_SENTIMENT: f64 = 0.75;
/// Conversion heuristic: weight of recency (1 today, halving every 7 days).
pub const B4_RECENCY: f64 = 1.0;
/// Half-life, in days, of the recency term.
pub const RECENCY_HALF_LIFE_DAYS: f64 = 7.0;
/// Inbound touches needed before time-of-day and weekend patterns are named.
pub const MIN_INBOUND_FOR_TIMING: u32 = 3;
/// Share of inbound on one channel for "prefers …".
pub const CHANNEL_PREFERENCE_SHARE: f64 = 0.6;

/// Profile enrichment of one lead (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Enrichment {
    /// Share of the eight profile fields that are known, 0–100.
    pub completeness: u8,
    /// Unknown profile fields, in [`PROFILE_FIELDS`] order.
    pub missing_fields: Vec<&'static str>,
    /// Inbound touches per local hour of the day (index 0–23).
    pub preferred_contact_hours: [u32; 24],
    /// Local hour with the most inbound touches (earliest on a tie).
    pub best_contact_hour: Option<u8>,
    /// Share of inbound touches per channel (all four keys).
    pub channel_preferences: BTreeMap<String, f64>,
    /// Human notes on how the lead communicates.
    pub response_patterns: Vec<String>,
    /// Heuristic probability that the lead converts, 0–1.
    pub conversion_probability: f64,
}

fn known(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// The profile fields that are unknown, in [`PROFILE_FIELDS`] order.
pub fn missing_fields(facts: &LeadFacts) -> Vec<&'static str> {
    let present = [
        known(&facts.profile.name),
        known(&facts.profile.email),
        known(&facts.profile.phone),
        known(&facts.profile.property_address),
        facts.profile.roof_age_years.is_some(),
        !facts.profile.issues.is_empty(),
        known(&facts.profile.timeline),
        known(&facts.profile.budget),
    ];
    PROFILE_FIELDS
        .iter()
        .zip(present)
        .filter(|(_, p)| !p)
        .map(|(f, _)| *f)
        .collect()
}

/// The heuristic conversion probability (see the module docs).
///
/// `engagement` is the level's weight (high 1, medium 0.5, low 0),
/// `sentiment` is in −1..1 and `recency` in 0..1.
pub fn conversion_probability(score: i32, engagement: f64, sentiment: f64, recency: f64) -> f64 {
    let z = B0_INTERCEPT
        + B1_SCORE * f64::from(score.clamp(0, 100)) / 100.0
        + B2_ENGAGEMENT * engagement
        + B3_SENTIMENT * sentiment.clamp(-1.0, 1.0)
        + B4_RECENCY * recency.clamp(0.0, 1.0);
    1.0 / (1.0 + (-z).exp())
}

fn channel_preference_phrase(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "prefers email",
        Channel::Sms => "prefers texting",
        Channel::PhoneCall => "prefers phone calls",
        Channel::Chat => "prefers chat",
        Channel::Form => "filled in a form",
    }
}

fn day_band(hour: u32) -> usize {
    match hour {
        5..=11 => 0,
        12..=16 => 1,
        17..=21 => 2,
        _ => 3,
    }
}

const BAND_PHRASES: [&str; 4] = [
    "replies mostly in the morning",
    "replies mostly in the afternoon",
    "replies mostly in the evening",
    "replies mostly at night",
];

/// Enriches a lead's profile (touches in any order); see the module docs.
pub fn enrich(
    facts: &LeadFacts,
    touches: &[Touch],
    summary: &Summary,
    engagement: &Engagement,
    score: i32,
    zone: crate::hours::Zone,
    now: DateTime<Utc>,
) -> Enrichment {
    let agg = Aggregate::of(touches, zone);
    enrich_from(facts, &agg, summary, engagement, score, now)
}

/// [`enrich`] from the lead's aggregate (folded in the account's zone).
pub fn enrich_from(
    facts: &LeadFacts,
    agg: &Aggregate,
    summary: &Summary,
    engagement: &Engagement,
    score: i32,
    now: DateTime<Utc>,
) -> Enrichment {
    let missing = missing_fields(facts);
    let known_count = (PROFILE_FIELDS.len() - missing.len()) as u32;
    let completeness = ((known_count * 100 + 4) / 8) as u8;

    let hours = agg.hours;
    let mut bands = [0u32; 4];
    for (hour, n) in hours.iter().enumerate() {
        bands[day_band(hour as u32)] += n;
    }
    let weekend = agg.weekend;
    let per_channel: BTreeMap<Channel, u32> = Channel::ALL
        .iter()
        .zip(agg.counts)
        .map(|(&c, [i, _])| (c, i))
        .collect();
    let inbound = agg.by_direction(Direction::Inbound);

    let best_contact_hour = (inbound > 0).then(|| {
        // max_by_key keeps the last maximum; iterate backwards for the earliest
        (0..24u8)
            .rev()
            .max_by_key(|&h| hours[h as usize])
            .unwrap_or(0)
    });

    let channel_preferences: BTreeMap<String, f64> = per_channel
        .iter()
        .map(|(c, &n)| {
            let share = if inbound > 0 {
                f64::from(n) / f64::from(inbound)
            } else {
                0.0
            };
            (c.as_str().to_string(), share)
        })
        .collect();

    let mut patterns: Vec<String> = Vec::new();
    match summary.avg_response_time_hours {
        Some(h) if h <= 1.0 => patterns.push("replies within an hour".into()),
        Some(h) if h <= 24.0 => patterns.push("replies within a day".into()),
        Some(_) => patterns.push("usually takes more than a day to reply".into()),
        None => {}
    }
    if inbound >= MIN_INBOUND_FOR_TIMING {
        if let Some(band) = (0..4).find(|&b| bands[b] * 2 > inbound) {
            patterns.push(BAND_PHRASES[band].into());
        }
        if weekend * 2 >= inbound {
            patterns.push("often reaches out on weekends".into());
        }
    }
    if inbound >= 2 {
        if let Some((&channel, _)) = per_channel
            .iter()
            .find(|(_, &n)| f64::from(n) >= CHANNEL_PREFERENCE_SHARE * f64::from(inbound))
        {
            patterns.push(channel_preference_phrase(channel).into());
        }
    }
    if agg.first.is_some_and(|t| t.direction == Direction::Inbound) {
        patterns.push("reached out first".into());
    }

    let conversion_probability = match facts.status {
        Some(LeadStatus::Won) => 1.0,
        Some(LeadStatus::Lost) => 0.0,
        _ => {
            let engagement_weight = match engagement.level {
                Level::High => 1.0,
                Level::Medium => 0.5,
                Level::Low => 0.0,
            };
            let sentiment = agg
                .rated_inbound
                .and_then(|r| sentiment_value(&r.touch()))
                .unwrap_or(0.0);
            let recency = summary.last_inbound_at.map_or(0.0, |at| {
                let days = ((now - at).num_seconds().max(0)) as f64 / 86_400.0;
                0.5f64.powf(days / RECENCY_HALF_LIFE_DAYS)
            });
            conversion_probability(score, engagement_weight, sentiment, recency)
        }
    };

    Enrichment {
        completeness,
        missing_fields: missing,
        preferred_contact_hours: hours,
        best_contact_hour,
        channel_preferences,
        response_patterns: patterns,
        conversion_probability,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel::{Chat, Email, PhoneCall, Sms};
    use crate::domain::Direction::{Inbound as In, Outbound as Out};
    use crate::domain::LeadProfile;
    use crate::domain::SentimentLabel::{Negative, Positive};
    use crate::tracker::engagement::engagement;
    use crate::tracker::summary::summarize;
    use crate::tracker::test_support::*;

    const DAY: i64 = 24 * 60;

    fn run(facts: &LeadFacts, touches: &[Touch], score: i32, tz: i32, now_min: i64) -> Enrichment {
        let s = summarize(touches);
        let e = engagement(touches, &s, at(now_min));
        let zone = crate::hours::Zone::parse(&format!(
            "{}{:02}:{:02}",
            if tz < 0 { '-' } else { '+' },
            tz.abs() / 60,
            tz.abs() % 60
        ))
        .unwrap();
        enrich(facts, touches, &s, &e, score, zone, at(now_min))
    }

    fn has(e: &Enrichment, p: &str) -> bool {
        e.response_patterns.iter().any(|x| x == p)
    }

    #[test]
    fn empty_profile_is_0_complete_and_misses_all_eight_fields_in_order() {
        let e = run(&LeadFacts::default(), &[], 50, 0, 0);
        assert_eq!(e.completeness, 0);
        assert_eq!(e.missing_fields, PROFILE_FIELDS.to_vec());
    }

    #[test]
    fn full_profile_is_100_complete() {
        let facts = LeadFacts {
            profile: LeadProfile {
                name: Some("Jane".into()),
                email: Some("j@x.com".into()),
                phone: Some("555".into()),
                property_address: Some("1 Main St".into()),
                roof_age_years: Some(0),
                issues: vec!["leak".into()],
                timeline: Some("spring".into()),
                budget: Some("$10k".into()),
            },
            status: None,
        };
        let e = run(&facts, &[], 50, 0, 0);
        assert_eq!(e.completeness, 100);
        assert!(e.missing_fields.is_empty());
    }

    #[test]
    fn partial_profile_rounds_half_up_and_treats_blank_as_missing() {
        let facts = LeadFacts {
            profile: LeadProfile {
                name: Some("Jane".into()),
                email: Some("   ".into()),
                phone: Some("555".into()),
                roof_age_years: Some(18),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        // 3 of 8 = 37.5 → 38
        let e = run(&facts, &[], 50, 0, 0);
        assert_eq!(e.completeness, 38);
        assert_eq!(
            e.missing_fields,
            vec!["email", "property_address", "issues", "timeline", "budget"]
        );
        let seven = LeadFacts {
            profile: LeadProfile {
                name: Some("Jane".into()),
                email: Some("j@x.com".into()),
                phone: Some("555".into()),
                property_address: Some("1 Main St".into()),
                roof_age_years: Some(3),
                issues: vec!["hail".into()],
                timeline: Some("June".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let e = run(&seven, &[], 50, 0, 0);
        assert_eq!(e.completeness, 88);
        assert_eq!(e.missing_fields, vec!["budget"]);
    }

    #[test]
    fn no_communications_leaves_hours_and_channels_at_zero() {
        let e = run(&LeadFacts::default(), &[], 50, 0, 0);
        assert_eq!(e.preferred_contact_hours, [0; 24]);
        assert_eq!(e.best_contact_hour, None);
        assert_eq!(e.channel_preferences.len(), 5);
        assert!(e.channel_preferences.values().all(|&v| v == 0.0));
        assert!(e.response_patterns.is_empty());
    }

    #[test]
    fn contact_hours_count_inbound_only_in_local_time() {
        // base() is 12:00 UTC
        let touches = [
            t(0, Sms, In),      // 12:00 UTC
            t(30, Sms, In),     // 12:30 UTC
            t(180, Sms, In),    // 15:00 UTC
            t(120, Email, Out), // outbound: ignored
        ];
        let utc = run(&LeadFacts::default(), &touches, 50, 0, 200);
        assert_eq!(utc.preferred_contact_hours[12], 2);
        assert_eq!(utc.preferred_contact_hours[15], 1);
        assert_eq!(utc.preferred_contact_hours.iter().sum::<u32>(), 3);
        assert_eq!(utc.best_contact_hour, Some(12));
        // UTC-5: 07:00 and 10:00 local
        let est = run(&LeadFacts::default(), &touches, 50, -300, 200);
        assert_eq!(est.preferred_contact_hours[7], 2);
        assert_eq!(est.preferred_contact_hours[10], 1);
        assert_eq!(est.best_contact_hour, Some(7));
        // UTC+13 wraps past midnight: 01:00 local
        let nz = run(&LeadFacts::default(), &touches, 50, 13 * 60, 200);
        assert_eq!(nz.best_contact_hour, Some(1));
    }

    #[test]
    fn best_contact_hour_tie_goes_to_the_earliest_hour() {
        let touches = [t(180, Sms, In), t(0, Sms, In)];
        let e = run(&LeadFacts::default(), &touches, 50, 0, 200);
        assert_eq!(e.best_contact_hour, Some(12));
    }

    #[test]
    fn channel_preferences_are_inbound_shares_summing_to_one() {
        let touches = [
            t(0, Sms, In),
            t(1, Sms, In),
            t(2, Email, In),
            t(3, Chat, In),
            t(4, PhoneCall, Out),
        ];
        let e = run(&LeadFacts::default(), &touches, 50, 0, 10);
        assert_eq!(e.channel_preferences["sms"], 0.5);
        assert_eq!(e.channel_preferences["email"], 0.25);
        assert_eq!(e.channel_preferences["chat"], 0.25);
        assert_eq!(e.channel_preferences["phone_call"], 0.0);
        let total: f64 = e.channel_preferences.values().sum();
        assert!((total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn response_speed_patterns() {
        let fast = [t(0, Email, Out), t(45, Email, In)];
        assert!(has(
            &run(&LeadFacts::default(), &fast, 50, 0, 60),
            "replies within an hour"
        ));
        let day = [t(0, Email, Out), t(600, Email, In)];
        assert!(has(
            &run(&LeadFacts::default(), &day, 50, 0, 700),
            "replies within a day"
        ));
        let slow = [t(0, Email, Out), t(2 * DAY, Email, In)];
        assert!(has(
            &run(&LeadFacts::default(), &slow, 50, 0, 2 * DAY + 1),
            "usually takes more than a day to reply"
        ));
    }

    #[test]
    fn evening_replies_are_noticed_in_local_time() {
        // 12:00 UTC + 7 h 30 min = 19:30 local, on three days
        let touches = [t(0, Sms, In), t(DAY, Sms, In), t(2 * DAY, Email, In)];
        let e = run(&LeadFacts::default(), &touches, 50, 450, 3 * DAY);
        assert!(has(&e, "replies mostly in the evening"));
        assert!(has(&e, "prefers texting"));
        assert!(has(&e, "reached out first"));
        // two inbound touches are not enough to name a time of day
        let e = run(&LeadFacts::default(), &touches[..2], 50, 450, 3 * DAY);
        assert!(!e
            .response_patterns
            .iter()
            .any(|p| p.starts_with("replies mostly")));
    }

    #[test]
    fn weekend_pattern_needs_half_of_inbound_on_saturday_or_sunday() {
        // base() is Monday; +5 and +6 days are Saturday and Sunday
        let touches = [t(0, Chat, In), t(5 * DAY, Chat, In), t(6 * DAY, Chat, In)];
        let e = run(&LeadFacts::default(), &touches, 50, 0, 7 * DAY);
        assert!(has(&e, "often reaches out on weekends"));
        assert!(has(&e, "prefers chat"));
        let weekdays = [t(0, Chat, In), t(DAY, Chat, In), t(6 * DAY, Chat, In)];
        let e = run(&LeadFacts::default(), &weekdays, 50, 0, 7 * DAY);
        assert!(!has(&e, "often reaches out on weekends"));
    }

    #[test]
    fn no_channel_preference_below_60_percent() {
        let touches = [
            t(0, Sms, In),
            t(1, Email, In),
            t(2, PhoneCall, In),
            t(3, Sms, In),
        ];
        let e = run(&LeadFacts::default(), &touches, 50, 0, 10);
        assert!(!e.response_patterns.iter().any(|p| p.starts_with("prefers")));
    }

    #[test]
    fn conversion_probability_is_monotone_in_score() {
        let mut previous = -1.0;
        for score in (0..=100).step_by(5) {
            let p = conversion_probability(score, 0.5, 0.0, 0.5);
            assert!(p > previous, "not increasing at score {score}");
            assert!((0.0..=1.0).contains(&p));
            previous = p;
        }
        let touches = [t(0, Sms, Out), t(10, Sms, In)];
        let low = run(&LeadFacts::default(), &touches, 40, 0, 20);
        let high = run(&LeadFacts::default(), &touches, 90, 0, 20);
        assert!(high.conversion_probability > low.conversion_probability);
    }

    #[test]
    fn conversion_probability_reference_points() {
        // cold, silent lead
        let cold = conversion_probability(40, 0.0, 0.0, 0.0);
        assert!((cold - 0.0911).abs() < 0.001, "{cold}");
        // hot, engaged, positive, talked today
        let hot = conversion_probability(100, 1.0, 1.0, 1.0);
        assert!((hot - 0.9047).abs() < 0.001, "{hot}");
    }

    #[test]
    fn conversion_probability_rises_with_sentiment_and_recency() {
        let touches_pos = [t(0, Sms, Out), sent(t(10, Sms, In), Positive, 0.9)];
        let touches_neg = [t(0, Sms, Out), sent(t(10, Sms, In), Negative, -0.9)];
        let pos = run(&LeadFacts::default(), &touches_pos, 60, 0, 20);
        let neg = run(&LeadFacts::default(), &touches_neg, 60, 0, 20);
        assert!(pos.conversion_probability > neg.conversion_probability);
        let fresh = run(&LeadFacts::default(), &touches_pos, 60, 0, 20);
        let stale = run(&LeadFacts::default(), &touches_pos, 60, 0, 20 * DAY);
        assert!(fresh.conversion_probability > stale.conversion_probability);
    }

    #[test]
    fn won_converts_with_certainty_and_lost_never() {
        let won = LeadFacts {
            status: Some(LeadStatus::Won),
            ..LeadFacts::default()
        };
        assert_eq!(run(&won, &[], 10, 0, 0).conversion_probability, 1.0);
        let lost = LeadFacts {
            status: Some(LeadStatus::Lost),
            ..LeadFacts::default()
        };
        assert_eq!(run(&lost, &[], 100, 0, 0).conversion_probability, 0.0);
    }

    #[test]
    fn enrichment_serializes_hours_as_an_array_of_24() {
        let v =
            serde_json::to_value(run(&LeadFacts::default(), &[t(0, Sms, In)], 50, 0, 5)).unwrap();
        assert_eq!(v["preferred_contact_hours"].as_array().unwrap().len(), 24);
        assert_eq!(v["best_contact_hour"], 12);
        assert_eq!(v["missing_fields"][0], "name");
    }
}
