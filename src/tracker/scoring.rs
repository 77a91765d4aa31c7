//! Lead scoring: the chat-widget score from the product spec, and one
//! cross-channel lead score. Both return the score with a rule-by-rule
//! breakdown whose points add up to the score.
//!
//! # Bands
//! HOT 80–100, WARM 60–79, COLD 0–59 ([`Band::from_score`]).
//!
//! # Chat score ([`chat_score`]), exactly the product spec
//! | rule | points |
//! | --- | --- |
//! | base | 50 |
//! | contact info provided (email or phone) | +20 |
//! | property address provided | +15 |
//! | roof age strictly greater than 15 years | +10 |
//! | urgent timeline ([`is_urgent_timeline`]) | +10 |
//! | 5 or more messages exchanged (both directions) | +10 |
//! | session lasted 120 s or more | +5 |
//!
//! The total is clamped to 0–100. When the clamp bites, a `clamp` entry with
//! the (negative) difference is added so the breakdown still sums to the score.
//!
//! # Cross-channel lead score ([`lead_score`])
//! The same profile rules (base 50, contact +20, address +15, roof age > 15
//! +10, urgent timeline +10), then cross-channel engagement instead of the
//! chat-session rules:
//! | rule | points |
//! | --- | --- |
//! | `touch_volume`: 5 or more touches in total | +10 |
//! | `replied`: an inbound touch came after one of our outbound touches | +5 |
//! | `multi_channel`: inbound touches on 2 or more channels | +5 |
//! | `recent_sentiment`: of the last 3 inbound touches with a sentiment, more positive than negative | +5 |
//! | `recent_sentiment`: more negative than positive | −10 |
//! | `gone_silent`: last inbound 30+ days ago, or no inbound at all and first touch 30+ days ago | −10 |
//! | `status`: inspection scheduled or inspected | +5 |
//! | `status`: quoted | +10 |
//!
//! Then the clamp to 0–100 (as above). Finally the outcome overrides: status
//! won fixes the score at 100 and lost at 0 (a `status_won` / `status_lost`
//! entry carries the difference), since a closed lead needs no prioritising.
//! A touch's sentiment is its label, or derived from its score (see
//! [`crate::tracker::summary::touch_sentiment`]).
use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::domain::{Direction, LeadStatus, SentimentLabel};
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::summary::{sorted_touches, touch_sentiment};

/// Starting score of both scores.
pub const BASE_POINTS: i32 = 50;
/// Email or phone on file.
pub const CONTACT_POINTS: i32 = 20;
/// Property address on file.
pub const ADDRESS_POINTS: i32 = 15;
/// Roof older than [`ROOF_AGE_OVER_YEARS`].
pub const ROOF_AGE_POINTS: i32 = 10;
/// The roof-age rule fires for ages strictly greater than this.
pub const ROOF_AGE_OVER_YEARS: i32 = 15;
/// Urgent timeline.
pub const URGENT_POINTS: i32 = 10;
/// Chat: at least [`CHAT_MIN_MESSAGES`] messages exchanged.
pub const CHAT_MESSAGES_POINTS: i32 = 10;
/// Chat: messages (both directions) needed for [`CHAT_MESSAGES_POINTS`].
pub const CHAT_MIN_MESSAGES: u32 = 5;
/// Chat: session lasted at least [`CHAT_MIN_SESSION_SECS`].
pub const CHAT_SESSION_POINTS: i32 = 5;
/// Chat: session length in seconds needed for [`CHAT_SESSION_POINTS`].
pub const CHAT_MIN_SESSION_SECS: i64 = 120;
/// Lead score: at least [`MIN_TOUCHES`] touches in total.
pub const TOUCH_VOLUME_POINTS: i32 = 10;
/// Lead score: touches needed for [`TOUCH_VOLUME_POINTS`].
pub const MIN_TOUCHES: usize = 5;
/// Lead score: the lead replied to our outreach.
pub const REPLIED_POINTS: i32 = 5;
/// Lead score: inbound on two or more channels.
pub const MULTI_CHANNEL_POINTS: i32 = 5;
/// Lead score: recent inbound sentiment mostly positive.
pub const POSITIVE_SENTIMENT_POINTS: i32 = 5;
/// Lead score: recent inbound sentiment mostly negative.
pub const NEGATIVE_SENTIMENT_POINTS: i32 = -10;
/// Lead score: how many of the latest inbound touches with a sentiment are read.
pub const SENTIMENT_WINDOW: usize = 3;
/// Lead score: penalty when the lead has been silent for [`SILENT_DAYS`].
pub const SILENT_POINTS: i32 = -10;
/// Lead score: days without inbound that count as gone silent.
pub const SILENT_DAYS: i64 = 30;
/// Lead score: status inspection scheduled or inspected.
pub const INSPECTION_STATUS_POINTS: i32 = 5;
/// Lead score: status quoted.
pub const QUOTED_STATUS_POINTS: i32 = 10;

/// Score band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Band {
    /// 80–100.
    Hot,
    /// 60–79.
    Warm,
    /// 0–59.
    Cold,
}

impl Band {
    /// HOT for 80 and above, WARM for 60–79, COLD below 60.
    pub fn from_score(score: i32) -> Band {
        if score >= 80 {
            Band::Hot
        } else if score >= 60 {
            Band::Warm
        } else {
            Band::Cold
        }
    }
}

/// One rule of a score breakdown.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoreRule {
    /// Stable machine name of the rule, e.g. `contact_info`.
    pub rule: &'static str,
    /// Points the rule added (negative when it took points away).
    pub points: i32,
    /// Human explanation naming the fact behind the rule.
    pub detail: String,
}

/// A score with the rules that produced it; the rules' points sum to `score`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ScoreBreakdown {
    /// Final score, 0–100.
    #[schema(minimum = 0, maximum = 100)]
    pub score: i32,
    /// Band of the final score.
    pub band: Band,
    /// Base and every rule that fired, in evaluation order.
    pub rules: Vec<ScoreRule>,
}

/// Whether a lead's timeline sounds urgent: read by the one extractor (its timeline phrases
/// and negation), so the scoring and the lead card never disagree.
pub use crate::tracker::extract::is_urgent_timeline;

fn known(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn rule(rules: &mut Vec<ScoreRule>, name: &'static str, points: i32, detail: String) {
    rules.push(ScoreRule {
        rule: name,
        points,
        detail,
    });
}

/// Base plus the profile rules shared by both scores.
fn profile_rules(facts: &LeadFacts) -> Vec<ScoreRule> {
    let mut rules = Vec::new();
    rule(&mut rules, "base", BASE_POINTS, "Base score".to_string());
    if known(&facts.profile.email) || known(&facts.profile.phone) {
        let what = match (known(&facts.profile.email), known(&facts.profile.phone)) {
            (true, true) => "Email and phone provided",
            (true, false) => "Email provided",
            _ => "Phone provided",
        };
        rule(&mut rules, "contact_info", CONTACT_POINTS, what.to_string());
    }
    if known(&facts.profile.property_address) {
        rule(
            &mut rules,
            "property_address",
            ADDRESS_POINTS,
            "Property address provided".to_string(),
        );
    }
    if let Some(age) = facts
        .profile
        .roof_age_years
        .filter(|&a| a > ROOF_AGE_OVER_YEARS)
    {
        rule(
            &mut rules,
            "roof_age",
            ROOF_AGE_POINTS,
            format!("Roof is {age} years old (over {ROOF_AGE_OVER_YEARS})"),
        );
    }
    if let Some(timeline) = facts
        .profile
        .timeline
        .as_deref()
        .filter(|t| is_urgent_timeline(t))
    {
        rule(
            &mut rules,
            "urgent_timeline",
            URGENT_POINTS,
            format!("Urgent timeline: \"{}\"", timeline.trim()),
        );
    }
    rules
}

fn clamp_and_finish(mut rules: Vec<ScoreRule>) -> ScoreBreakdown {
    let raw: i32 = rules.iter().map(|r| r.points).sum();
    let score = raw.clamp(0, 100);
    if score != raw {
        let detail = if raw > 100 {
            format!("Capped at 100 (raw total {raw})")
        } else {
            format!("Raised to 0 (raw total {raw})")
        };
        rule(&mut rules, "clamp", score - raw, detail);
    }
    ScoreBreakdown {
        score,
        band: Band::from_score(score),
        rules,
    }
}

/// The chat-widget score, exactly as the product spec defines it (see the
/// module docs): profile rules plus +10 for 5 or more messages exchanged and
/// +5 for a session of 120 s or more, clamped to 0–100.
pub fn chat_score(
    facts: &LeadFacts,
    messages_exchanged: u32,
    session_duration_secs: i64,
) -> ScoreBreakdown {
    let mut rules = profile_rules(facts);
    if messages_exchanged >= CHAT_MIN_MESSAGES {
        rule(
            &mut rules,
            "messages_exchanged",
            CHAT_MESSAGES_POINTS,
            format!("{messages_exchanged} messages exchanged ({CHAT_MIN_MESSAGES} or more)"),
        );
    }
    if session_duration_secs >= CHAT_MIN_SESSION_SECS {
        rule(
            &mut rules,
            "session_duration",
            CHAT_SESSION_POINTS,
            format!(
                "Chat session lasted {session_duration_secs} s ({CHAT_MIN_SESSION_SECS} s or more)"
            ),
        );
    }
    clamp_and_finish(rules)
}

/// The cross-channel lead score (see the module docs for every rule).
pub fn lead_score(facts: &LeadFacts, touches: &[Touch], now: DateTime<Utc>) -> ScoreBreakdown {
    lead_score_sorted(facts, &sorted_touches(touches), now)
}

/// [`lead_score`] of touches already in time order (`summary::sorted_touches`).
pub fn lead_score_sorted(
    facts: &LeadFacts,
    sorted: &[&Touch],
    now: DateTime<Utc>,
) -> ScoreBreakdown {
    let mut rules = profile_rules(facts);

    if sorted.len() >= MIN_TOUCHES {
        rule(
            &mut rules,
            "touch_volume",
            TOUCH_VOLUME_POINTS,
            format!("{} touches so far ({MIN_TOUCHES} or more)", sorted.len()),
        );
    }

    let mut seen_outbound = false;
    let mut replied = false;
    let mut inbound_channels = BTreeSet::new();
    for t in sorted {
        match t.direction {
            Direction::Outbound => seen_outbound = true,
            Direction::Inbound => {
                replied |= seen_outbound;
                inbound_channels.insert(t.channel);
            }
        }
    }
    if replied {
        rule(
            &mut rules,
            "replied",
            REPLIED_POINTS,
            "Lead replied to our outreach".to_string(),
        );
    }
    if inbound_channels.len() >= 2 {
        let names: Vec<&str> = inbound_channels.iter().map(|c| c.as_str()).collect();
        rule(
            &mut rules,
            "multi_channel",
            MULTI_CHANNEL_POINTS,
            format!(
                "Lead reached us on {} channels ({})",
                names.len(),
                names.join(", ")
            ),
        );
    }

    let recent: Vec<SentimentLabel> = sorted
        .iter()
        .rev()
        .filter(|t| t.direction == Direction::Inbound)
        .filter_map(|t| touch_sentiment(t))
        .take(SENTIMENT_WINDOW)
        .collect();
    let pos = recent
        .iter()
        .filter(|&&l| l == SentimentLabel::Positive)
        .count();
    let neg = recent
        .iter()
        .filter(|&&l| l == SentimentLabel::Negative)
        .count();
    if pos > neg {
        rule(
            &mut rules,
            "recent_sentiment",
            POSITIVE_SENTIMENT_POINTS,
            format!(
                "{pos} of the last {} rated inbound messages positive",
                recent.len()
            ),
        );
    } else if neg > pos {
        rule(
            &mut rules,
            "recent_sentiment",
            NEGATIVE_SENTIMENT_POINTS,
            format!(
                "{neg} of the last {} rated inbound messages negative",
                recent.len()
            ),
        );
    }

    let last_inbound = sorted
        .iter()
        .rev()
        .find(|t| t.direction == Direction::Inbound);
    let silent_limit = Duration::days(SILENT_DAYS);
    match (last_inbound, sorted.first()) {
        (Some(t), _) if now - t.timestamp >= silent_limit => rule(
            &mut rules,
            "gone_silent",
            SILENT_POINTS,
            format!("No inbound for {} days", (now - t.timestamp).num_days()),
        ),
        (None, Some(first)) if now - first.timestamp >= silent_limit => rule(
            &mut rules,
            "gone_silent",
            SILENT_POINTS,
            format!(
                "No reply in the {} days since first contact",
                (now - first.timestamp).num_days()
            ),
        ),
        _ => {}
    }

    match facts.status {
        Some(LeadStatus::InspectionScheduled) => rule(
            &mut rules,
            "status",
            INSPECTION_STATUS_POINTS,
            "Inspection scheduled".to_string(),
        ),
        Some(LeadStatus::Inspected) => rule(
            &mut rules,
            "status",
            INSPECTION_STATUS_POINTS,
            "Roof inspected".to_string(),
        ),
        Some(LeadStatus::Quoted) => rule(
            &mut rules,
            "status",
            QUOTED_STATUS_POINTS,
            "Quote sent".to_string(),
        ),
        _ => {}
    }

    let mut breakdown = clamp_and_finish(rules);
    let target = match facts.status {
        Some(LeadStatus::Won) => Some(("status_won", 100, "Won: score fixed at 100")),
        Some(LeadStatus::Lost) => Some(("status_lost", 0, "Lost: score fixed at 0")),
        _ => None,
    };
    if let Some((name, target, detail)) = target {
        if breakdown.score != target {
            rule(
                &mut breakdown.rules,
                name,
                target - breakdown.score,
                detail.to_string(),
            );
        }
        breakdown.score = target;
        breakdown.band = Band::from_score(target);
    }
    breakdown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel::{Chat, Email, PhoneCall, Sms};
    use crate::domain::Direction::{Inbound as In, Outbound as Out};
    use crate::domain::LeadProfile;
    use crate::domain::SentimentLabel::{Negative, Neutral, Positive};
    use crate::tracker::test_support::*;

    fn names(b: &ScoreBreakdown) -> Vec<&'static str> {
        b.rules.iter().map(|r| r.rule).collect()
    }

    fn sums_to_score(b: &ScoreBreakdown) -> bool {
        b.rules.iter().map(|r| r.points).sum::<i32>() == b.score
    }

    fn full_facts() -> LeadFacts {
        LeadFacts {
            profile: LeadProfile {
                name: Some("Jane".into()),
                email: Some("jane@example.com".into()),
                phone: Some("555-0100".into()),
                property_address: Some("1 Main St".into()),
                roof_age_years: Some(20),
                timeline: Some("ASAP".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        }
    }

    // --- bands ---

    #[test]
    fn band_boundaries_are_80_and_60() {
        assert_eq!(Band::from_score(100), Band::Hot);
        assert_eq!(Band::from_score(80), Band::Hot);
        assert_eq!(Band::from_score(79), Band::Warm);
        assert_eq!(Band::from_score(60), Band::Warm);
        assert_eq!(Band::from_score(59), Band::Cold);
        assert_eq!(Band::from_score(0), Band::Cold);
    }

    #[test]
    fn band_serializes_in_capitals() {
        assert_eq!(serde_json::to_string(&Band::Hot).unwrap(), "\"HOT\"");
        assert_eq!(serde_json::to_string(&Band::Warm).unwrap(), "\"WARM\"");
        assert_eq!(serde_json::to_string(&Band::Cold).unwrap(), "\"COLD\"");
    }

    // --- urgent timeline ---

    #[test]
    fn urgent_timeline_phrases_are_recognised() {
        for text in [
            "ASAP",
            "asap please",
            "A.S.A.P.",
            "As soon as possible",
            "soon",
            "Soonest possible",
            "the sooner the better",
            "URGENT - water coming in",
            "need it done right away",
            "immediately",
            "this week if you can",
            "Today",
            "tomorrow morning",
            "it's an emergency",
            "Right now!",
            "no rush, but as soon as possible would be great",
            "no later than tomorrow",
            "need it today, not next month",
        ] {
            assert!(is_urgent_timeline(text), "{text:?} should be urgent");
        }
    }

    #[test]
    fn non_urgent_and_negated_phrases_are_not_urgent() {
        for text in [
            "",
            "not urgent",
            "Not URGENT at all",
            "no rush",
            "No hurry",
            "in no hurry",
            "just browsing",
            "next year",
            "not an emergency",
            "isn't urgent",
            "it isn’t that urgent",
            "not right away",
            "sometime in the spring",
            "soonish", // whole words only
            "weekday afternoons",
            "later this year",
            "I don't need it immediately",
            "not until tomorrow",
        ] {
            assert!(!is_urgent_timeline(text), "{text:?} should not be urgent");
        }
    }

    // --- chat score, rule by rule ---

    #[test]
    fn chat_score_of_an_empty_profile_is_the_base_50() {
        let b = chat_score(&LeadFacts::default(), 0, 0);
        assert_eq!(b.score, 50);
        assert_eq!(b.band, Band::Cold);
        assert_eq!(names(&b), vec!["base"]);
    }

    #[test]
    fn chat_score_contact_info_adds_20_for_email_or_phone() {
        let email = LeadFacts {
            profile: LeadProfile {
                email: Some("a@b.c".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let phone = LeadFacts {
            profile: LeadProfile {
                phone: Some("555".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let both = LeadFacts {
            profile: LeadProfile {
                email: Some("a@b.c".into()),
                phone: Some("555".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        for facts in [email, phone, both] {
            let b = chat_score(&facts, 0, 0);
            assert_eq!(b.score, 70);
            assert_eq!(names(&b), vec!["base", "contact_info"]);
        }
        let blank = LeadFacts {
            profile: LeadProfile {
                email: Some("  ".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        assert_eq!(chat_score(&blank, 0, 0).score, 50);
    }

    #[test]
    fn chat_score_property_address_adds_15() {
        let facts = LeadFacts {
            profile: LeadProfile {
                property_address: Some("1 Main St".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let b = chat_score(&facts, 0, 0);
        assert_eq!(b.score, 65);
        assert_eq!(b.band, Band::Warm);
        assert_eq!(names(&b), vec!["base", "property_address"]);
    }

    #[test]
    fn chat_score_roof_age_16_adds_10_but_exactly_15_does_not() {
        let age = |y| LeadFacts {
            profile: LeadProfile {
                roof_age_years: Some(y),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        assert_eq!(chat_score(&age(15), 0, 0).score, 50);
        let b = chat_score(&age(16), 0, 0);
        assert_eq!(b.score, 60);
        assert_eq!(b.rules[1].detail, "Roof is 16 years old (over 15)");
        assert_eq!(chat_score(&LeadFacts::default(), 0, 0).score, 50);
    }

    #[test]
    fn chat_score_urgent_timeline_adds_10_and_not_urgent_does_not() {
        let tl = |s: &str| LeadFacts {
            profile: LeadProfile {
                timeline: Some(s.into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let b = chat_score(&tl("ASAP"), 0, 0);
        assert_eq!(b.score, 60);
        assert_eq!(b.rules[1].rule, "urgent_timeline");
        assert_eq!(b.rules[1].detail, "Urgent timeline: \"ASAP\"");
        assert_eq!(chat_score(&tl("not urgent"), 0, 0).score, 50);
    }

    #[test]
    fn chat_score_5_messages_add_10_but_4_do_not() {
        let f = LeadFacts::default();
        assert_eq!(chat_score(&f, 4, 0).score, 50);
        let b = chat_score(&f, 5, 0);
        assert_eq!(b.score, 60);
        assert_eq!(b.rules[1].detail, "5 messages exchanged (5 or more)");
    }

    #[test]
    fn chat_score_session_of_120_seconds_adds_5_but_119_does_not() {
        let f = LeadFacts::default();
        assert_eq!(chat_score(&f, 0, 119).score, 50);
        let b = chat_score(&f, 0, 120);
        assert_eq!(b.score, 55);
        assert_eq!(names(&b), vec!["base", "session_duration"]);
    }

    #[test]
    fn chat_score_with_every_rule_clamps_to_100_and_says_so() {
        let b = chat_score(&full_facts(), 12, 600);
        assert_eq!(b.score, 100);
        assert_eq!(b.band, Band::Hot);
        assert_eq!(
            names(&b),
            vec![
                "base",
                "contact_info",
                "property_address",
                "roof_age",
                "urgent_timeline",
                "messages_exchanged",
                "session_duration",
                "clamp"
            ]
        );
        assert_eq!(b.rules.last().unwrap().points, -20);
        assert!(sums_to_score(&b));
    }

    #[test]
    fn chat_score_exactly_100_needs_no_clamp_entry() {
        // 50 + 20 + 15 + 10 + 5 = 100
        let facts = LeadFacts {
            profile: LeadProfile {
                phone: Some("555".into()),
                property_address: Some("1 Main St".into()),
                roof_age_years: Some(30),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let b = chat_score(&facts, 0, 300);
        assert_eq!(b.score, 100);
        assert!(!names(&b).contains(&"clamp"));
    }

    #[test]
    fn chat_score_breakdown_serializes_rule_points_and_detail() {
        let v = serde_json::to_value(chat_score(&LeadFacts::default(), 5, 0)).unwrap();
        assert_eq!(v["score"], 60);
        assert_eq!(v["band"], "WARM");
        assert_eq!(v["rules"][0]["rule"], "base");
        assert_eq!(v["rules"][0]["points"], 50);
        assert_eq!(v["rules"][1]["rule"], "messages_exchanged");
    }

    // --- lead score ---

    #[test]
    fn lead_score_with_no_touches_uses_profile_rules_only() {
        let b = lead_score(&full_facts(), &[], base());
        // 50 + 20 + 15 + 10 + 10
        assert_eq!(b.score, 100);
        assert!(sums_to_score(&b));
        assert_eq!(lead_score(&LeadFacts::default(), &[], base()).score, 50);
    }

    #[test]
    fn lead_score_adds_10_for_five_touches_but_not_four() {
        let four: Vec<_> = (0..4).map(|i| t(i, Email, Out)).collect();
        let five: Vec<_> = (0..5).map(|i| t(i, Email, Out)).collect();
        let now = at(60);
        assert_eq!(lead_score(&LeadFacts::default(), &four, now).score, 50);
        let b = lead_score(&LeadFacts::default(), &five, now);
        assert_eq!(b.score, 60);
        assert_eq!(b.rules[1].detail, "5 touches so far (5 or more)");
    }

    #[test]
    fn lead_score_adds_5_when_the_lead_replied_after_our_outreach() {
        let now = at(60);
        let inbound_first = [t(0, Sms, In), t(5, Sms, Out)];
        assert_eq!(
            lead_score(&LeadFacts::default(), &inbound_first, now).score,
            50
        );
        let replied = [t(0, Sms, Out), t(5, Sms, In)];
        let b = lead_score(&LeadFacts::default(), &replied, now);
        assert_eq!(b.score, 55);
        assert_eq!(names(&b), vec!["base", "replied"]);
    }

    #[test]
    fn lead_score_adds_5_for_inbound_on_two_channels() {
        let now = at(60);
        let b = lead_score(
            &LeadFacts::default(),
            &[t(0, Chat, In), t(5, PhoneCall, In)],
            now,
        );
        assert_eq!(b.score, 55);
        assert_eq!(
            b.rules[1].detail,
            "Lead reached us on 2 channels (phone_call, chat)"
        );
        // outbound on other channels does not count
        let one = [t(0, Chat, In), t(5, Email, Out)];
        assert_eq!(lead_score(&LeadFacts::default(), &one, now).score, 50);
    }

    #[test]
    fn lead_score_recent_positive_sentiment_adds_5() {
        let touches = [
            sent(t(0, Sms, In), Negative, -0.5),
            sent(t(1, Sms, In), Positive, 0.6),
            sent(t(2, Sms, In), Positive, 0.7),
            sent(t(3, Sms, In), Neutral, 0.0),
        ];
        let b = lead_score(&LeadFacts::default(), &touches, at(10));
        assert_eq!(b.score, 55);
        assert_eq!(
            b.rules[1].detail,
            "2 of the last 3 rated inbound messages positive"
        );
    }

    #[test]
    fn lead_score_recent_negative_sentiment_takes_10() {
        let touches = [
            sent(t(0, Sms, In), Positive, 0.9), // outside the last 3
            sent(t(1, Sms, In), Negative, -0.6),
            sent(t(2, Sms, Out), Positive, 0.9), // outbound: ignored
            sent(t(3, Sms, In), Neutral, 0.0),
            sent(t(4, Sms, In), Negative, -0.4),
        ];
        let b = lead_score(&LeadFacts::default(), &touches, at(10));
        assert!(names(&b).contains(&"recent_sentiment"));
        let sentiment = b
            .rules
            .iter()
            .find(|r| r.rule == "recent_sentiment")
            .unwrap();
        assert_eq!(sentiment.points, -10);
        assert!(sums_to_score(&b));
    }

    #[test]
    fn lead_score_balanced_sentiment_changes_nothing() {
        let touches = [
            sent(t(0, Sms, In), Positive, 0.5),
            sent(t(1, Sms, In), Negative, -0.5),
        ];
        let b = lead_score(&LeadFacts::default(), &touches, at(10));
        assert_eq!(b.score, 50);
    }

    #[test]
    fn lead_score_penalises_30_days_without_inbound() {
        let touches = [t(0, Email, In)];
        let day = 24 * 60;
        assert_eq!(
            lead_score(&LeadFacts::default(), &touches, at(29 * day)).score,
            50
        );
        let b = lead_score(&LeadFacts::default(), &touches, at(30 * day));
        assert_eq!(b.score, 40);
        assert_eq!(b.rules[1].detail, "No inbound for 30 days");
    }

    #[test]
    fn lead_score_penalises_a_lead_who_never_replied_in_30_days() {
        let touches = [t(0, Email, Out)];
        let b = lead_score(&LeadFacts::default(), &touches, at(31 * 24 * 60));
        assert_eq!(b.score, 40);
        assert_eq!(
            b.rules[1].detail,
            "No reply in the 31 days since first contact"
        );
    }

    #[test]
    fn lead_score_status_adjustments() {
        let with = |s| LeadFacts {
            status: Some(s),
            ..LeadFacts::default()
        };
        let now = base();
        assert_eq!(lead_score(&with(LeadStatus::New), &[], now).score, 50);
        assert_eq!(lead_score(&with(LeadStatus::Contacted), &[], now).score, 50);
        assert_eq!(
            lead_score(&with(LeadStatus::InspectionScheduled), &[], now).score,
            55
        );
        assert_eq!(lead_score(&with(LeadStatus::Inspected), &[], now).score, 55);
        assert_eq!(lead_score(&with(LeadStatus::Quoted), &[], now).score, 60);
    }

    #[test]
    fn lead_score_won_is_fixed_at_100_and_lost_at_0() {
        let won = LeadFacts {
            status: Some(LeadStatus::Won),
            ..LeadFacts::default()
        };
        let b = lead_score(&won, &[], base());
        assert_eq!((b.score, b.band), (100, Band::Hot));
        assert_eq!(b.rules.last().unwrap().rule, "status_won");
        assert!(sums_to_score(&b));

        let lost = LeadFacts {
            status: Some(LeadStatus::Lost),
            ..full_facts()
        };
        let b = lead_score(&lost, &[], base());
        assert_eq!((b.score, b.band), (0, Band::Cold));
        assert_eq!(b.rules.last().unwrap().rule, "status_lost");
        assert!(sums_to_score(&b));
    }

    #[test]
    fn lead_score_of_a_hot_engaged_lead_clamps_to_100() {
        let touches = [
            t(0, Chat, In),
            t(5, Chat, Out),
            sent(t(10, Sms, In), Positive, 0.8),
            t(15, Sms, Out),
            sent(t(20, PhoneCall, In), Positive, 0.9),
        ];
        let b = lead_score(&full_facts(), &touches, at(60));
        assert_eq!(b.score, 100);
        assert_eq!(b.rules.last().unwrap().rule, "clamp");
        assert!(sums_to_score(&b));
    }

    #[test]
    fn lead_score_does_not_depend_on_input_order() {
        let mut touches = seed_004();
        let forward = lead_score(&named("Jane"), &touches, at(23 * 60));
        touches.reverse();
        assert_eq!(lead_score(&named("Jane"), &touches, at(23 * 60)), forward);
    }

    #[test]
    fn lead_score_of_seed_004() {
        // 50 + 10 (23 touches) + 5 (replied) + 5 (4 inbound channels)
        let b = lead_score(&named("Jane"), &seed_004(), at(23 * 60));
        assert_eq!(b.score, 70);
        assert_eq!(b.band, Band::Warm);
        assert_eq!(
            names(&b),
            vec!["base", "touch_volume", "replied", "multi_channel"]
        );
    }
}
