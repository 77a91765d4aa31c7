//! The lead tracker: pure, deterministic reasoning over a lead's facts and its
//! communication history (email, SMS, phone calls, website chat).
//!
//! Nothing here touches the database, the clock or the network. Every function
//! that needs "now" takes it as a parameter, and touch slices may be passed in
//! any order (each module sorts a copy by `(timestamp, id)` where order matters).
//!
//! Modules:
//! - [`model`]: the plain data the tracker reasons over.
//! - [`scoring`]: the chat-widget score (product spec) and the cross-channel lead score.
//! - [`summary`]: counts, response rates and response times, sentiment trend.
//! - [`engagement`]: engagement level, preferred channel and behaviour patterns.
//! - [`next_action`]: the single recommended next step, with a human reason.
//! - [`enrichment`]: profile completeness, contact-hour and channel preferences,
//!   and a heuristic conversion probability.
//!
//! - [`sentiment`]: lexicon-and-rules sentiment of one text.
//! - [`store`]: loading facts and touches from PostgreSQL, and keeping the lead's
//!   stored score and insights current (called inside the recording path).
//! - [`routes`] and [`stats`]: the tracker's HTTP API.
//!
//! [`analyze`] computes all of them in one go.

pub mod aggregate;
pub mod engagement;
pub mod enrichment;
pub mod extract;
pub mod model;
pub mod next_action;
#[cfg(test)]
mod reference;
pub mod scoring;
pub mod sentiment;
pub mod summary;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::tracker::engagement::Engagement;
use crate::tracker::enrichment::Enrichment;
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::next_action::NextAction;
use crate::tracker::scoring::ScoreBreakdown;
use crate::tracker::summary::Summary;

/// Hook inside the one recording path: the sentiment stored with each communication.
pub fn sentiment_of(text: &str) -> Option<sentiment::Sentiment> {
    (!text.trim().is_empty()).then(|| sentiment::analyze(text))
}

/// The lead score reads the most recent touches only (recent behaviour is what matters,
/// and it keeps the score's cost bounded inside the recording path).
pub const SCORE_WINDOW: usize = 200;

/// Everything the tracker knows about one lead, computed in one pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Insights {
    /// Cross-channel lead score ([`scoring::lead_score`]).
    pub score: ScoreBreakdown,
    /// Communication summary ([`summary::summarize`]).
    pub summary: Summary,
    /// Engagement level and patterns ([`engagement::engagement`]).
    pub engagement: Engagement,
    /// Recommended next step ([`next_action::next_action`]).
    pub next_action: NextAction,
    /// Profile enrichment ([`enrichment::enrich`]).
    pub enrichment: Enrichment,
}

/// What is stored on the lead row (`leads.insights`) for list views and the AI responder:
/// written and read through serde, never built or read by string keys in Rust (the
/// dashboard's SQL paths into it are checked by a test below).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LeadInsights {
    pub computed_at: DateTime<Utc>,
    pub engagement: StoredEngagement,
    pub next_action: NextAction,
    /// 0–100.
    pub completeness: u8,
    /// 0–1.
    pub conversion_probability: f64,
    pub most_recent_sentiment: Option<crate::domain::SentimentLabel>,
}

/// The engagement part of [`LeadInsights`].
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct StoredEngagement {
    pub level: engagement::Level,
    pub preferred_channel: Option<crate::domain::Channel>,
    pub patterns: Vec<String>,
}

impl LeadInsights {
    pub fn of(ins: &Insights, now: DateTime<Utc>) -> Self {
        LeadInsights {
            computed_at: now,
            engagement: StoredEngagement {
                level: ins.engagement.level,
                preferred_channel: ins.engagement.preferred_channel,
                patterns: ins.engagement.patterns.clone(),
            },
            next_action: ins.next_action.clone(),
            completeness: ins.enrichment.completeness,
            conversion_probability: ins.enrichment.conversion_probability,
            most_recent_sentiment: ins.summary.most_recent_sentiment,
        }
    }
}

/// Computes score, summary, engagement, next action and enrichment for a lead.
///
/// `zone` is the account's time zone (UTC when unknown), used only
/// for local contact hours. Order: score, summary, engagement (needs summary),
/// next action (needs summary and engagement), enrichment (needs all of them).
pub fn analyze(
    facts: &LeadFacts,
    touches: &[Touch],
    zone: crate::hours::Zone,
    now: DateTime<Utc>,
) -> Insights {
    let sorted = summary::sorted_touches(touches);
    let agg = aggregate::Aggregate::of_sorted(&sorted, zone);
    analyze_from(facts, &agg, &sorted, now)
}

/// [`analyze`] from the lead's aggregate (folded in the account's zone, see
/// [`aggregate`]) and its most recent touches in time order: the same insights as over
/// the whole history as long as `recent` holds the last [`SCORE_WINDOW`] touches (or all).
pub fn analyze_from(
    facts: &LeadFacts,
    agg: &aggregate::Aggregate,
    recent: &[&Touch],
    now: DateTime<Utc>,
) -> Insights {
    let window = &recent[recent.len().saturating_sub(SCORE_WINDOW)..];
    let score = scoring::lead_score_sorted(facts, window, now);
    let summary = summary::summary_of(agg);
    let engagement = engagement::engagement_from(agg, recent, &summary, now);
    let next_action = next_action::next_action_from(facts, agg, recent, &summary, &engagement, now);
    let enrichment = enrichment::enrich_from(facts, agg, &summary, &engagement, score.score, now);
    Insights {
        score,
        summary,
        engagement,
        next_action,
        enrichment,
    }
}

/// Builders shared by the unit tests of every tracker module.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, Duration, TimeZone, Utc};

    use crate::domain::{Channel, Direction, LeadProfile, SentimentLabel};
    use crate::tracker::model::{LeadFacts, Touch};

    /// Monday 2024-06-03 12:00 UTC: minute 0 of every hand-built history.
    pub fn base() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 3, 12, 0, 0).unwrap()
    }

    /// `base()` plus `minutes`.
    pub fn at(minutes: i64) -> DateTime<Utc> {
        base() + Duration::minutes(minutes)
    }

    /// A touch `minutes` after `base()`; its id is the minute offset.
    pub fn t(minutes: i64, channel: Channel, direction: Direction) -> Touch {
        tid(minutes, minutes, channel, direction)
    }

    /// A touch with an explicit id (for simultaneous timestamps).
    pub fn tid(id: i64, minutes: i64, channel: Channel, direction: Direction) -> Touch {
        Touch {
            id,
            timestamp: at(minutes),
            channel,
            direction,
            sentiment: None,
            sentiment_score: None,
            ai_generated: false,
            duration_seconds: None,
        }
    }

    /// The same touch with a sentiment label and score.
    pub fn sent(mut touch: Touch, label: SentimentLabel, score: f32) -> Touch {
        touch.sentiment = Some(label);
        touch.sentiment_score = Some(score);
        touch
    }

    /// Facts with just a name.
    pub fn named(name: &str) -> LeadFacts {
        LeadFacts {
            profile: LeadProfile {
                name: Some(name.to_string()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        }
    }

    /// Seed 004's example: 23 touches, by type {email 8, sms 5, phone_call 7,
    /// chat 3}, by direction {inbound 12, outbound 11}, 6 of the 11 outbound
    /// answered (one of them on a different channel). One hour apart.
    pub fn seed_004() -> Vec<Touch> {
        use Channel::{Chat, Email, PhoneCall, Sms};
        use Direction::{Inbound as In, Outbound as Out};
        let plan = [
            (Chat, In),       // 1 lead opens a chat
            (Chat, Out),      // 2 answered by 3
            (Chat, In),       // 3
            (Email, Out),     // 4 unanswered (next is ours)
            (Sms, Out),       // 5 answered by 6
            (Sms, In),        // 6
            (PhoneCall, In),  // 7
            (PhoneCall, Out), // 8 answered by 9
            (PhoneCall, In),  // 9
            (Email, Out),     // 10 unanswered
            (Email, Out),     // 11 answered by 12 (on SMS: different channel)
            (Sms, In),        // 12
            (Email, In),      // 13
            (PhoneCall, Out), // 14 unanswered
            (PhoneCall, Out), // 15 answered by 16
            (PhoneCall, In),  // 16
            (Email, Out),     // 17 answered by 18
            (Email, In),      // 18
            (Email, In),      // 19
            (PhoneCall, In),  // 20
            (Sms, In),        // 21
            (Sms, Out),       // 22 unanswered
            (Email, Out),     // 23 unanswered (last)
        ];
        plan.iter()
            .enumerate()
            .map(|(i, &(c, d))| tid(i as i64 + 1, i as i64 * 60, c, d))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use crate::domain::LeadProfile;
    use crate::domain::{Channel, Direction, LeadStatus};
    use crate::hours::Zone;
    use chrono::Duration;

    /// The dashboard filters and sorts leads in SQL by these paths into `leads.insights`:
    /// renaming a field of `LeadInsights` must fail here, not silently empty a page.
    #[test]
    fn stored_insights_keep_the_paths_the_dashboard_queries_and_read_back() {
        let facts = LeadFacts {
            profile: LeadProfile {
                name: Some("Jane".into()),
                phone: Some("555-0100".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let t = [super::test_support::t(0, Channel::Sms, Direction::Inbound)];
        let stored = LeadInsights::of(&analyze(&facts, &t, Zone::default(), base()), base());
        let v = serde_json::to_value(&stored).unwrap();
        for (outer, inner) in [
            ("next_action", "action"),
            ("next_action", "priority"),
            ("next_action", "reason"),
            ("next_action", "channel"),
            ("engagement", "preferred_channel"),
        ] {
            assert!(
                v[outer].get(inner).is_some(),
                "insights.{outer}.{inner} is missing: {v}"
            );
        }
        assert_eq!(v["next_action"]["channel"], "sms");
        let back: LeadInsights = serde_json::from_value(v).unwrap();
        assert_eq!(back, stored);
    }

    #[test]
    fn analyze_on_no_communications_recommends_first_contact() {
        let facts = LeadFacts {
            profile: LeadProfile {
                name: Some("Jane".into()),
                phone: Some("555-0100".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let insights = analyze(&facts, &[], Zone::default(), base());
        assert_eq!(insights.summary.total_touchpoints, 0);
        assert_eq!(insights.next_action.action, "make_first_contact");
        assert_eq!(insights.next_action.channel, Some(Channel::PhoneCall));
        assert_eq!(insights.engagement.total_touchpoints, 0);
        assert_eq!(insights.score.score, 70);
    }

    #[test]
    fn analyze_on_seed_004_is_consistent_across_modules() {
        let touches = seed_004();
        let now = at(23 * 60);
        let facts = named("Jane");
        let insights = analyze(&facts, &touches, Zone::parse("-05:00").unwrap(), now);
        assert_eq!(insights.summary.total_touchpoints, 23);
        assert_eq!(insights.engagement.total_touchpoints, 23);
        assert_eq!(insights.summary.response_rate, Some(0.545));
        assert_eq!(
            insights
                .enrichment
                .preferred_contact_hours
                .iter()
                .sum::<u32>(),
            12
        );
        // the last touch is ours, so no "respond" action
        assert_ne!(insights.next_action.action, "respond_immediately");
    }

    #[test]
    fn analyze_serializes_to_json_with_expected_top_level_keys() {
        let touches = seed_004();
        let facts = LeadFacts {
            status: Some(LeadStatus::Contacted),
            ..named("Jane")
        };
        let insights = analyze(&facts, &touches, Zone::default(), at(24 * 60));
        let v = serde_json::to_value(&insights).unwrap();
        for key in [
            "score",
            "summary",
            "engagement",
            "next_action",
            "enrichment",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert_eq!(v["summary"]["by_type"]["phone_call"], 7);
        assert!(v["score"]["band"].is_string());
    }

    #[test]
    fn analyze_handles_ten_thousand_touches_within_budget() {
        let channels = Channel::ALL;
        // deliberately shuffled order: ids descending, timestamps interleaved
        let touches: Vec<_> = (0..10_000i64)
            .rev()
            .map(|i| {
                let dir = if i % 3 == 0 {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                };
                tid(i, i * 7, channels[(i % 4) as usize], dir)
            })
            .collect();
        let facts = named("Big");
        let now = at(10_000 * 7) + Duration::hours(1);
        // warm up once, then time the best of 3
        let _ = analyze(&facts, &touches, Zone::default(), now);
        let mut best = std::time::Duration::MAX;
        for _ in 0..3 {
            let start = std::time::Instant::now();
            let insights = analyze(&facts, &touches, Zone::default(), now);
            best = best.min(start.elapsed());
            assert_eq!(insights.summary.total_touchpoints, 10_000);
        }
        // 10 ms is the production budget (release build); debug builds are
        // several times slower, so only a loose bound is checked there.
        let budget = if cfg!(debug_assertions) {
            std::time::Duration::from_millis(500)
        } else {
            std::time::Duration::from_millis(10)
        };
        eprintln!("analyze of 10,000 touches: {best:?}");
        assert!(best < budget, "analyze took {best:?}");
    }
}
