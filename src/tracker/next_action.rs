//! The single recommended next step for a lead, with its channel, priority
//! and a one-sentence human reason.
//!
//! Rules, evaluated in this order (the first match wins):
//! 1. Status won → `request_review` (low); status lost → `none` (low).
//! 2. No touches at all → `make_first_contact` (high), by phone when a phone
//!    number is known, else email when an email is known, else no channel.
//! 3. The last touch is inbound (so it is unanswered) → `respond_immediately`
//!    on that touch's channel; `urgent` when it is under an hour old
//!    ([`URGENT_WITHIN_MINUTES`]), `high` otherwise.
//! 4. Recent negative sentiment: the latest inbound sentiment is negative, or
//!    the trend is declining and the summary's latest sentiment is negative →
//!    `address_concerns` (high), by phone when a phone is known, else the
//!    preferred channel.
//! 5. Status quoted and no touch for 3+ days ([`QUOTE_FOLLOW_UP_DAYS`]) →
//!    `follow_up_quote` (high).
//! 6. Status inspected, or address, timeline and budget all known while the
//!    status is before quoted → `send_quote` (high), by email when known.
//! 7. High engagement and latest inbound sentiment positive and status before
//!    inspection scheduled → `schedule_inspection` (high), on the preferred
//!    channel or by phone.
//! 8. Silent 30+ days ([`RE_ENGAGE_DAYS`]) → `re_engage` (medium); silent 14+
//!    days ([`NURTURE_DAYS`]) or low engagement → `nurture_sequence` (low).
//!    "Silent" counts from the last inbound touch, or from the first touch
//!    when the lead never wrote back.
//! 9. Otherwise → `follow_up` (medium) on the preferred channel.
//!
//! Unless a rule names one, the channel is the lead's preferred (most-used
//! inbound) channel, else phone / email from the known contact details, else
//! the channel of the last touch. The reason names the lead ("The lead" when
//! the name is unknown) and renders durations humanly ([`human_duration`]).
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Channel, Direction, LeadStatus, SentimentLabel};
use crate::tracker::aggregate::Aggregate;
use crate::tracker::engagement::{Engagement, Level};
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::summary::{sorted_touches, touch_sentiment, Summary, Trend};

/// An unanswered inbound touch younger than this many minutes is `urgent`.
pub const URGENT_WITHIN_MINUTES: i64 = 60;
/// Quoted leads untouched for this many days get `follow_up_quote`.
pub const QUOTE_FOLLOW_UP_DAYS: i64 = 3;
/// Leads silent for this many days get `re_engage`.
pub const RE_ENGAGE_DAYS: i64 = 30;
/// Leads silent for this many days get `nurture_sequence`.
pub const NURTURE_DAYS: i64 = 14;

/// How soon the action should happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Now: the lead is waiting and recently active.
    Urgent,
    /// Today.
    High,
    /// In the next few days.
    Medium,
    /// When convenient, or nothing to do.
    Low,
}

/// The recommended next step for a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextAction {
    /// Machine name of the action, e.g. `respond_immediately`.
    pub action: String,
    /// Channel to use, when one applies.
    pub channel: Option<Channel>,
    /// How soon.
    pub priority: Priority,
    /// One human sentence naming the facts behind the recommendation.
    pub reason: String,
}

/// Renders a duration humanly: "less than a minute", "1 minute", "25 minutes",
/// "3 hours" (from 1 hour), "1 day", "4 days" (from 24 hours). Rounds down;
/// negative durations count as zero.
pub fn human_duration(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (n, unit) = if minutes < 1 {
        return "less than a minute".to_string();
    } else if minutes < 60 {
        (minutes, "minute")
    } else if minutes < 24 * 60 {
        (minutes / 60, "hour")
    } else {
        (minutes / (24 * 60), "day")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn known(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|s| !s.trim().is_empty())
}

fn who(facts: &LeadFacts) -> String {
    facts
        .profile
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or("The lead")
        .to_string()
}

fn possessive(name: &str) -> String {
    format!("{name}'s")
}

/// What the lead did, as a past-tense verb phrase: "texted", "emailed", ...
fn lead_verb(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "emailed",
        Channel::Sms => "texted",
        Channel::PhoneCall => "called",
        Channel::Chat => "wrote in chat",
        Channel::Form => "filled in a form",
    }
}

fn noun(channel: Channel) -> &'static str {
    match channel {
        Channel::Email => "email",
        Channel::Sms => "text",
        Channel::PhoneCall => "call",
        Channel::Chat => "chat message",
        Channel::Form => "form",
    }
}

fn by_channel(channel: Option<Channel>) -> &'static str {
    match channel {
        Some(Channel::Email) => " by email",
        Some(Channel::Sms) => " by text",
        Some(Channel::PhoneCall) => " by phone",
        Some(Channel::Chat) => " over chat",
        Some(Channel::Form) => " by email",
        None => "",
    }
}

fn contact_channel(facts: &LeadFacts) -> Option<Channel> {
    if known(&facts.profile.phone) {
        Some(Channel::PhoneCall)
    } else if known(&facts.profile.email) {
        Some(Channel::Email)
    } else {
        None
    }
}

fn action(
    action: &str,
    channel: Option<Channel>,
    priority: Priority,
    reason: String,
) -> NextAction {
    NextAction {
        action: action.to_string(),
        channel,
        priority,
        reason,
    }
}

/// Recommends the next step for a lead (touches in any order); see the module
/// docs for the rules and their order.
pub fn next_action(
    facts: &LeadFacts,
    touches: &[Touch],
    summary: &Summary,
    engagement: &Engagement,
    now: DateTime<Utc>,
) -> NextAction {
    let agg = Aggregate::of(touches, crate::hours::Zone::default());
    next_action_from(
        facts,
        &agg,
        &sorted_touches(touches),
        summary,
        engagement,
        now,
    )
}

/// [`next_action`] from the lead's aggregate and its most recent touches (time order).
pub fn next_action_from(
    facts: &LeadFacts,
    agg: &Aggregate,
    recent: &[&Touch],
    summary: &Summary,
    engagement: &Engagement,
    now: DateTime<Utc>,
) -> NextAction {
    let name = who(facts);
    let last = recent.last().copied();
    let default_channel = engagement
        .preferred_channel
        .or_else(|| contact_channel(facts))
        .or_else(|| last.map(|t| t.channel));
    let status = facts.status.unwrap_or(LeadStatus::New);

    // 1. closed leads
    match status {
        LeadStatus::Won => {
            return action(
                "request_review",
                default_channel,
                Priority::Low,
                format!("{name} is a won customer, so it is a good time to ask for a review."),
            )
        }
        LeadStatus::Lost => {
            return action(
                "none",
                None,
                Priority::Low,
                format!("{name} is marked as lost, so no action is needed."),
            )
        }
        _ => {}
    }

    // 2. nobody has talked yet
    let Some(last) = last else {
        let channel = contact_channel(facts);
        let on_file = match channel {
            Some(Channel::PhoneCall) => "a phone number is on file",
            Some(_) => "an email address is on file",
            None => "no contact details are on file yet",
        };
        return action(
            "make_first_contact",
            channel,
            Priority::High,
            format!("{name} has not been contacted yet and {on_file}."),
        );
    };

    // 3. the lead is waiting for us
    if last.direction == Direction::Inbound {
        let age = now - last.timestamp;
        let priority = if age < Duration::minutes(URGENT_WITHIN_MINUTES) {
            Priority::Urgent
        } else {
            Priority::High
        };
        let waiting = summary.unanswered_inbound.max(1);
        let reason = if waiting > 1 {
            format!(
                "{name} {} {} ago and has {waiting} messages without a reply.",
                lead_verb(last.channel),
                human_duration(age)
            )
        } else {
            format!(
                "{name} {} {} ago and has not had a reply.",
                lead_verb(last.channel),
                human_duration(age)
            )
        };
        return action("respond_immediately", Some(last.channel), priority, reason);
    }

    // 4. unhappy lead
    let latest_inbound = agg.rated_inbound.and_then(|r| touch_sentiment(&r.touch()));
    let declining_negative = summary.sentiment_trend == Trend::Declining
        && summary.most_recent_sentiment == Some(SentimentLabel::Negative);
    if latest_inbound == Some(SentimentLabel::Negative) || declining_negative {
        let channel = if known(&facts.profile.phone) {
            Some(Channel::PhoneCall)
        } else {
            engagement.preferred_channel.or(default_channel)
        };
        let rated = agg.rated_inbound.or(agg.rated).map(|r| r.touch());
        let rated = rated.as_ref();
        let mut reason = match rated {
            Some(t) => format!(
                "{} most recent {} {} ago read as negative",
                possessive(&name),
                noun(t.channel),
                human_duration(now - t.timestamp)
            ),
            None => format!("{} recent messages read as negative", possessive(&name)),
        };
        if summary.sentiment_trend == Trend::Declining {
            reason.push_str(" and sentiment has been declining");
        }
        reason.push('.');
        return action("address_concerns", channel, Priority::High, reason);
    }

    // 5. a quote waiting for an answer
    let since_last_touch = now - last.timestamp;
    if status == LeadStatus::Quoted && since_last_touch >= Duration::days(QUOTE_FOLLOW_UP_DAYS) {
        return action(
            "follow_up_quote",
            default_channel,
            Priority::High,
            format!(
                "{name} was quoted and there has been no contact for {}.",
                human_duration(since_last_touch)
            ),
        );
    }

    // 6. ready for a quote
    let quote_facts_known = known(&facts.profile.property_address)
        && known(&facts.profile.timeline)
        && known(&facts.profile.budget);
    if status == LeadStatus::Inspected || (quote_facts_known && status < LeadStatus::Quoted) {
        let channel = if known(&facts.profile.email) {
            Some(Channel::Email)
        } else {
            default_channel
        };
        let reason = if status == LeadStatus::Inspected {
            format!(
                "{} roof has been inspected, so the quote is the next step.",
                possessive(&name)
            )
        } else {
            format!(
                "{} address, timeline and budget are all known, so a quote can go out.",
                possessive(&name)
            )
        };
        return action("send_quote", channel, Priority::High, reason);
    }

    // 7. warm and happy: book the inspection
    if engagement.level == Level::High
        && latest_inbound == Some(SentimentLabel::Positive)
        && status < LeadStatus::InspectionScheduled
    {
        return action(
            "schedule_inspection",
            engagement.preferred_channel.or(Some(Channel::PhoneCall)),
            Priority::High,
            format!(
                "{name} is highly engaged and positive, so now is a good time to book the inspection."
            ),
        );
    }

    // 8. silence
    let (silent_since, ever_replied) = match summary.last_inbound_at {
        Some(at) => (at, true),
        None => (agg.first.map_or(last.timestamp, |f| f.at), false),
    };
    let silence = now - silent_since;
    let silence_text = if ever_replied {
        format!(
            "{name} has not been heard from in {}",
            human_duration(silence)
        )
    } else {
        format!(
            "{name} has not replied in the {} since first contact",
            human_duration(silence)
        )
    };
    if silence >= Duration::days(RE_ENGAGE_DAYS) {
        return action(
            "re_engage",
            default_channel,
            Priority::Medium,
            format!("{silence_text}."),
        );
    }
    if silence >= Duration::days(NURTURE_DAYS) {
        return action(
            "nurture_sequence",
            default_channel,
            Priority::Low,
            format!("{silence_text}, so a nurture sequence fits better than direct follow-up."),
        );
    }
    if engagement.level == Level::Low {
        let inbound = summary.by_direction.get("inbound").copied().unwrap_or(0);
        return action(
            "nurture_sequence",
            default_channel,
            Priority::Low,
            format!(
                "{} engagement is low ({inbound} inbound of {} touches), so a nurture sequence fits better than direct follow-up.",
                possessive(&name),
                summary.total_touchpoints
            ),
        );
    }

    // 9. keep the conversation going
    action(
        "follow_up",
        default_channel,
        Priority::Medium,
        format!(
            "{name} last heard from us {} ago, so a follow-up{} keeps the conversation moving.",
            human_duration(since_last_touch),
            by_channel(default_channel)
        ),
    )
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

    fn next(facts: &LeadFacts, touches: &[Touch], now_min: i64) -> NextAction {
        let s = summarize(touches);
        let e = engagement(touches, &s, at(now_min));
        next_action(facts, touches, &s, &e, at(now_min))
    }

    fn with_status(name: &str, status: LeadStatus) -> LeadFacts {
        LeadFacts {
            status: Some(status),
            ..named(name)
        }
    }

    #[test]
    fn human_durations_read_naturally() {
        assert_eq!(human_duration(Duration::seconds(30)), "less than a minute");
        assert_eq!(human_duration(Duration::seconds(-30)), "less than a minute");
        assert_eq!(human_duration(Duration::minutes(1)), "1 minute");
        assert_eq!(human_duration(Duration::minutes(25)), "25 minutes");
        assert_eq!(human_duration(Duration::minutes(60)), "1 hour");
        assert_eq!(human_duration(Duration::minutes(200)), "3 hours");
        assert_eq!(human_duration(Duration::hours(24)), "1 day");
        assert_eq!(human_duration(Duration::hours(100)), "4 days");
    }

    #[test]
    fn won_lead_gets_request_review() {
        let touches = [t(0, Sms, In), t(5, Sms, In)];
        let a = next(&with_status("Jane", LeadStatus::Won), &touches, 10);
        assert_eq!(a.action, "request_review");
        assert_eq!(a.priority, Priority::Low);
        assert_eq!(a.channel, Some(Sms));
        assert_eq!(
            a.reason,
            "Jane is a won customer, so it is a good time to ask for a review."
        );
    }

    #[test]
    fn lost_lead_gets_none() {
        let touches = [t(0, Sms, In)];
        let a = next(&with_status("Jane", LeadStatus::Lost), &touches, 10);
        assert_eq!(a.action, "none");
        assert_eq!(a.channel, None);
        assert_eq!(a.priority, Priority::Low);
        assert_eq!(a.reason, "Jane is marked as lost, so no action is needed.");
    }

    #[test]
    fn no_touches_means_make_first_contact_by_phone_then_email_then_nothing() {
        let phone = LeadFacts {
            profile: LeadProfile {
                phone: Some("555-0100".into()),
                email: Some("jane@example.com".into()),
                ..named("Jane").profile
            },
            ..named("Jane")
        };
        let a = next(&phone, &[], 0);
        assert_eq!(a.action, "make_first_contact");
        assert_eq!(a.priority, Priority::High);
        assert_eq!(a.channel, Some(PhoneCall));
        assert_eq!(
            a.reason,
            "Jane has not been contacted yet and a phone number is on file."
        );

        let email = LeadFacts {
            profile: LeadProfile {
                email: Some("jane@example.com".into()),
                ..LeadProfile::default()
            },
            ..LeadFacts::default()
        };
        let a = next(&email, &[], 0);
        assert_eq!(a.channel, Some(Email));
        assert_eq!(
            a.reason,
            "The lead has not been contacted yet and an email address is on file."
        );

        let a = next(&LeadFacts::default(), &[], 0);
        assert_eq!(a.channel, None);
        assert_eq!(
            a.reason,
            "The lead has not been contacted yet and no contact details are on file yet."
        );
    }

    #[test]
    fn fresh_unanswered_text_is_urgent() {
        let touches = [t(0, Email, Out), t(10, Sms, In)];
        let a = next(&named("Jane"), &touches, 35);
        assert_eq!(a.action, "respond_immediately");
        assert_eq!(a.priority, Priority::Urgent);
        assert_eq!(a.channel, Some(Sms));
        assert_eq!(
            a.reason,
            "Jane texted 25 minutes ago and has not had a reply."
        );
    }

    #[test]
    fn older_unanswered_inbound_is_high_and_counts_the_waiting_messages() {
        let touches = [t(0, Email, Out), t(10, Email, In), t(20, PhoneCall, In)];
        let a = next(&LeadFacts::default(), &touches, 20 + 3 * 60);
        assert_eq!(a.action, "respond_immediately");
        assert_eq!(a.priority, Priority::High);
        assert_eq!(a.channel, Some(PhoneCall));
        assert_eq!(
            a.reason,
            "The lead called 3 hours ago and has 2 messages without a reply."
        );
    }

    #[test]
    fn unanswered_inbound_exactly_one_hour_old_is_high_not_urgent() {
        let a = next(&named("Jane"), &[t(0, Chat, In)], 60);
        assert_eq!(a.priority, Priority::High);
        assert_eq!(
            a.reason,
            "Jane wrote in chat 1 hour ago and has not had a reply."
        );
        let a = next(&named("Jane"), &[t(0, Chat, In)], 59);
        assert_eq!(a.priority, Priority::Urgent);
    }

    #[test]
    fn respond_beats_negative_sentiment_when_the_lead_is_waiting() {
        let touches = [t(0, Sms, Out), sent(t(5, Sms, In), Negative, -0.8)];
        assert_eq!(
            next(&named("Jane"), &touches, 10).action,
            "respond_immediately"
        );
    }

    #[test]
    fn negative_latest_inbound_means_address_concerns_by_phone_when_known() {
        let facts = LeadFacts {
            profile: LeadProfile {
                phone: Some("555-0100".into()),
                ..named("Jane").profile
            },
            ..named("Jane")
        };
        let touches = [
            t(0, Sms, Out),
            sent(t(10, Sms, In), Negative, -0.7),
            t(20, Sms, Out),
        ];
        let a = next(&facts, &touches, 2 * DAY + 10);
        assert_eq!(a.action, "address_concerns");
        assert_eq!(a.priority, Priority::High);
        assert_eq!(a.channel, Some(PhoneCall));
        assert_eq!(
            a.reason,
            "Jane's most recent text 2 days ago read as negative."
        );
    }

    #[test]
    fn address_concerns_without_phone_uses_the_preferred_channel_and_mentions_decline() {
        let touches = [
            sent(t(0, Email, In), Positive, 0.8),
            t(1, Email, Out),
            sent(t(2, Email, In), Positive, 0.6),
            t(3, Email, Out),
            sent(t(4, Chat, In), Negative, -0.4),
            t(5, Email, Out),
            sent(t(6, Email, In), Negative, -0.6),
            t(7, Email, Out),
        ];
        let a = next(&named("Jane"), &touches, 67);
        assert_eq!(a.action, "address_concerns");
        assert_eq!(a.channel, Some(Email));
        assert_eq!(
            a.reason,
            "Jane's most recent email 1 hour ago read as negative and sentiment has been declining."
        );
    }

    #[test]
    fn quoted_lead_untouched_for_three_days_gets_follow_up_quote() {
        let touches = [t(0, Sms, In), t(10, Sms, Out)];
        let facts = with_status("Jane", LeadStatus::Quoted);
        let a = next(&facts, &touches, 10 + 3 * DAY);
        assert_eq!(a.action, "follow_up_quote");
        assert_eq!(a.priority, Priority::High);
        assert_eq!(a.channel, Some(Sms));
        assert_eq!(
            a.reason,
            "Jane was quoted and there has been no contact for 3 days."
        );
        // two days is too soon
        assert_ne!(
            next(&facts, &touches, 10 + 2 * DAY).action,
            "follow_up_quote"
        );
    }

    #[test]
    fn inspected_lead_gets_send_quote_by_email_when_known() {
        let facts = LeadFacts {
            profile: LeadProfile {
                email: Some("jane@example.com".into()),
                ..with_status("Jane", LeadStatus::Inspected).profile
            },
            ..with_status("Jane", LeadStatus::Inspected)
        };
        let touches = [t(0, Sms, In), t(10, Sms, Out)];
        let a = next(&facts, &touches, 60);
        assert_eq!(a.action, "send_quote");
        assert_eq!(a.priority, Priority::High);
        assert_eq!(a.channel, Some(Email));
        assert_eq!(
            a.reason,
            "Jane's roof has been inspected, so the quote is the next step."
        );
    }

    #[test]
    fn address_timeline_and_budget_known_before_quote_gets_send_quote() {
        let facts = LeadFacts {
            profile: LeadProfile {
                property_address: Some("1 Main St".into()),
                timeline: Some("next month".into()),
                budget: Some("$12k".into()),
                ..with_status("Jane", LeadStatus::Contacted).profile
            },
            ..with_status("Jane", LeadStatus::Contacted)
        };
        let touches = [t(0, Sms, In), t(10, Sms, Out)];
        let a = next(&facts, &touches, 60);
        assert_eq!(a.action, "send_quote");
        assert_eq!(a.channel, Some(Sms));
        assert_eq!(
            a.reason,
            "Jane's address, timeline and budget are all known, so a quote can go out."
        );
        // without the budget it is not ready
        let partial = LeadFacts {
            profile: LeadProfile {
                budget: None,
                ..facts.profile
            },
            ..facts
        };
        assert_ne!(next(&partial, &touches, 60).action, "send_quote");
    }

    fn engaged_positive() -> Vec<Touch> {
        vec![
            t(0, Sms, Out),
            t(1, Sms, In),
            t(2, Sms, Out),
            t(3, Sms, In),
            t(4, Sms, Out),
            sent(t(5, Sms, In), Positive, 0.7),
            t(6, Sms, Out),
        ]
    }

    #[test]
    fn engaged_positive_new_lead_gets_schedule_inspection() {
        let a = next(&named("Jane"), &engaged_positive(), 60);
        assert_eq!(a.action, "schedule_inspection");
        assert_eq!(a.priority, Priority::High);
        assert_eq!(a.channel, Some(Sms));
        assert_eq!(
            a.reason,
            "Jane is highly engaged and positive, so now is a good time to book the inspection."
        );
    }

    #[test]
    fn schedule_inspection_is_skipped_once_an_inspection_is_scheduled() {
        let facts = with_status("Jane", LeadStatus::InspectionScheduled);
        assert_eq!(next(&facts, &engaged_positive(), 60).action, "follow_up");
    }

    #[test]
    fn silent_for_30_days_gets_re_engage() {
        let touches = [t(0, Email, Out), t(10, Email, In), t(20, Email, Out)];
        let a = next(&named("Jane"), &touches, 10 + 30 * DAY);
        assert_eq!(a.action, "re_engage");
        assert_eq!(a.priority, Priority::Medium);
        assert_eq!(a.channel, Some(Email));
        assert_eq!(a.reason, "Jane has not been heard from in 30 days.");
    }

    #[test]
    fn never_replied_for_30_days_gets_re_engage_by_phone_when_known() {
        let facts = LeadFacts {
            profile: LeadProfile {
                phone: Some("555".into()),
                ..named("Jane").profile
            },
            ..named("Jane")
        };
        let touches = [t(0, Email, Out), t(DAY, Email, Out)];
        let a = next(&facts, &touches, 31 * DAY);
        assert_eq!(a.action, "re_engage");
        assert_eq!(a.channel, Some(PhoneCall));
        assert_eq!(
            a.reason,
            "Jane has not replied in the 31 days since first contact."
        );
    }

    #[test]
    fn silent_for_14_days_gets_nurture_sequence() {
        let touches = [t(0, Email, Out), t(10, Chat, In), t(20, Email, Out)];
        let a = next(&named("Jane"), &touches, 10 + 16 * DAY);
        assert_eq!(a.action, "nurture_sequence");
        assert_eq!(a.priority, Priority::Low);
        assert_eq!(a.channel, Some(Chat));
        assert_eq!(
            a.reason,
            "Jane has not been heard from in 16 days, so a nurture sequence fits better than direct follow-up."
        );
    }

    #[test]
    fn low_engagement_gets_nurture_sequence() {
        let touches = [t(0, Email, Out), t(60, Email, Out)];
        let a = next(&named("Jane"), &touches, DAY);
        assert_eq!(a.action, "nurture_sequence");
        assert_eq!(
            a.reason,
            "Jane's engagement is low (0 inbound of 2 touches), so a nurture sequence fits better than direct follow-up."
        );
    }

    #[test]
    fn otherwise_follow_up_on_the_preferred_channel() {
        // medium engagement: 1 inbound (1) + rate 0.5 (2) + 5 days ago (2) = 5
        let touches = [t(0, Email, Out), t(10, Sms, In), t(20, Sms, Out)];
        let a = next(&named("Jane"), &touches, 20 + 5 * DAY);
        assert_eq!(a.action, "follow_up");
        assert_eq!(a.priority, Priority::Medium);
        assert_eq!(a.channel, Some(Sms));
        assert_eq!(
            a.reason,
            "Jane last heard from us 5 days ago, so a follow-up by text keeps the conversation moving."
        );
    }

    #[test]
    fn answered_on_a_different_channel_sets_the_preferred_channel() {
        // we emailed, the lead called back; we replied by email
        let touches = [t(0, Email, Out), t(30, PhoneCall, In), t(40, Email, Out)];
        let a = next(&named("Jane"), &touches, 2 * DAY);
        assert_eq!(a.action, "follow_up");
        assert_eq!(a.channel, Some(PhoneCall));
    }

    #[test]
    fn seed_004_recommends_a_follow_up() {
        let a = next(&named("Jane"), &seed_004(), 23 * 60);
        assert_eq!(a.action, "follow_up");
        assert_eq!(a.channel, Some(PhoneCall));
        assert_eq!(
            a.reason,
            "Jane last heard from us 1 hour ago, so a follow-up by phone keeps the conversation moving."
        );
    }

    #[test]
    fn next_action_serializes_priority_and_channel() {
        let v = serde_json::to_value(next(&named("Jane"), &[t(0, Sms, In)], 5)).unwrap();
        assert_eq!(v["action"], "respond_immediately");
        assert_eq!(v["priority"], "urgent");
        assert_eq!(v["channel"], "sms");
    }
}
