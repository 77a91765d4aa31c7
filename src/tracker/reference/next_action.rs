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
use crate::tracker::model::{LeadFacts, Touch};
use crate::tracker::reference::engagement::{Engagement, Level};
use crate::tracker::reference::summary::{
    latest_inbound_sentiment, sorted_touches, touch_sentiment, Summary, Trend,
};

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
    let name = who(facts);
    let sorted = sorted_touches(touches);
    let last = sorted.last().copied();
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
    let latest_inbound = latest_inbound_sentiment(&sorted);
    let declining_negative = summary.sentiment_trend == Trend::Declining
        && summary.most_recent_sentiment == Some(SentimentLabel::Negative);
    if latest_inbound == Some(SentimentLabel::Negative) || declining_negative {
        let channel = if known(&facts.profile.phone) {
            Some(Channel::PhoneCall)
        } else {
            engagement.preferred_channel.or(default_channel)
        };
        let rated = sorted
            .iter()
            .rev()
            .find(|t| t.direction == Direction::Inbound && touch_sentiment(t).is_some())
            .or_else(|| sorted.iter().rev().find(|t| touch_sentiment(t).is_some()));
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
        None => (sorted[0].timestamp, false),
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
