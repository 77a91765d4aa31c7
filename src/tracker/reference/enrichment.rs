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

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::Serialize;

use crate::domain::{Channel, Direction, LeadStatus};
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::reference::engagement::{Engagement, Level};
use crate::tracker::reference::summary::{sentiment_value, sorted_touches, Summary};

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
    let missing = missing_fields(facts);
    let known_count = (PROFILE_FIELDS.len() - missing.len()) as u32;
    let completeness = ((known_count * 100 + 4) / 8) as u8;

    let sorted = sorted_touches(touches);

    let mut hours = [0u32; 24];
    let mut bands = [0u32; 4];
    let mut weekend = 0u32;
    let mut per_channel: BTreeMap<Channel, u32> = Channel::ALL.iter().map(|&c| (c, 0)).collect();
    let mut inbound = 0u32;
    for t in sorted.iter().filter(|t| t.direction == Direction::Inbound) {
        inbound += 1;
        let local = zone.local(t.timestamp);
        hours[local.hour() as usize] += 1;
        bands[day_band(local.hour())] += 1;
        if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
            weekend += 1;
        }
        *per_channel.entry(t.channel).or_default() += 1;
    }

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
    if sorted
        .first()
        .is_some_and(|t| t.direction == Direction::Inbound)
    {
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
            let sentiment = sorted
                .iter()
                .rev()
                .filter(|t| t.direction == Direction::Inbound)
                .find_map(|t| sentiment_value(t))
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
