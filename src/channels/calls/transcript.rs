//! Transcript derivation: the summary, sentiment, action items and follow-up date the
//! rules read out of a call's transcript.

use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use serde::Serialize;

/// What the rules read out of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Derived {
    pub summary: String,
    pub sentiment: String,
    pub sentiment_score: f32,
    pub action_items: Vec<String>,
    pub next_follow_up: Option<DateTime<Utc>>,
}

const ACTIONS: &[(&[&str], &str)] = &[
    (
        &[
            "send a quote",
            "send the quote",
            "send you a quote",
            "send quote",
            "send an estimate",
            "send you an estimate",
            "send the estimate",
            "get you a quote",
            "email the quote",
        ],
        "Send quote",
    ),
    (
        &[
            "schedule an inspection",
            "schedule inspection",
            "schedule the inspection",
            "book an inspection",
            "come out and inspect",
            "come out to inspect",
            "set up an inspection",
        ],
        "Schedule inspection",
    ),
    (
        &["call you back", "call back", "give you a call", "follow up"],
        "Call back",
    ),
    (
        &[
            "send photos",
            "send pictures",
            "send the photos",
            "text me photos",
            "text you photos",
        ],
        "Get photos",
    ),
    (
        &["insurance claim", "adjuster"],
        "Help with the insurance claim",
    ),
];

const TOPICS: &[(&str, &str)] = &[
    ("leak", "a leak"),
    ("hail", "hail damage"),
    ("storm", "storm damage"),
    ("missing shingle", "missing shingles"),
    ("shingle", "shingles"),
    ("replace", "a replacement"),
    ("repair", "a repair"),
    ("insurance", "insurance"),
    ("gutter", "gutters"),
    ("quote", "a quote"),
    ("estimate", "an estimate"),
    ("inspection", "an inspection"),
];

/// When a follow-up was mentioned ("Friday", "tomorrow", "next week"), counted from `at`.
pub fn follow_up_date(text: &str, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words.contains(&"tomorrow") {
        return Some(at + TimeDelta::days(1));
    }
    let days = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    for w in &words {
        if let Some((_, day)) = days.iter().find(|(name, _)| name == w) {
            let ahead = (day.num_days_from_monday() as i64
                - at.weekday().num_days_from_monday() as i64)
                .rem_euclid(7);
            return Some(at + TimeDelta::days(if ahead == 0 { 7 } else { ahead }));
        }
    }
    if lower.contains("next week") {
        return Some(at + TimeDelta::days(7));
    }
    None
}

/// Rules over a transcript: sentiment (the tracker's), a one-paragraph summary, the
/// action items mentioned, and a follow-up date.
pub fn derive(transcript: &str, at: DateTime<Utc>) -> Derived {
    let lower = transcript.to_lowercase();
    let s = crate::tracker::sentiment::analyze(transcript);
    let action_items: Vec<String> = ACTIONS
        .iter()
        .filter(|(phrases, _)| phrases.iter().any(|p| lower.contains(p)))
        .map(|(_, item)| item.to_string())
        .collect();
    let mut topics: Vec<&str> = vec![];
    for (needle, topic) in TOPICS {
        if lower.contains(needle) && !topics.contains(topic) {
            if *needle == "shingle" && topics.contains(&"missing shingles") {
                continue;
            }
            topics.push(topic);
        }
    }
    let next_follow_up = follow_up_date(transcript, at);
    let mut summary = if topics.is_empty() {
        let first: String = transcript
            .split_terminator(['.', '?', '!', '\n'])
            .map(str::trim)
            .find(|p| !p.is_empty())
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        if first.is_empty() {
            "Call with no transcript content.".to_string()
        } else {
            format!("Call: \"{first}\".")
        }
    } else {
        format!("Call about {}.", join_words(&topics))
    };
    if !action_items.is_empty() {
        summary.push_str(&format!(
            " Next: {}.",
            action_items.join("; ").to_lowercase()
        ));
    }
    if let Some(f) = next_follow_up {
        summary.push_str(&format!(" Follow up on {}.", f.format("%A %Y-%m-%d")));
    }
    summary.push_str(&format!(" Tone: {}.", s.label.as_str()));
    Derived {
        summary,
        sentiment: s.label.as_str().to_string(),
        sentiment_score: s.score,
        action_items,
        next_follow_up,
    }
}

fn join_words(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn transcript_yields_action_items_and_a_friday_follow_up() {
        // 2026-03-03 is a Tuesday.
        let d = derive(
            "Hi, we have a leak over the kitchen after the hail storm. Can you send a quote and schedule an inspection? Friday works great, thanks!",
            at("2026-03-03T15:00:00Z"),
        );
        assert_eq!(d.action_items, vec!["Send quote", "Schedule inspection"]);
        assert_eq!(d.next_follow_up, Some(at("2026-03-06T15:00:00Z")));
        assert!(d.summary.contains("a leak"), "{}", d.summary);
        assert!(d.summary.contains("hail damage"), "{}", d.summary);
        assert!(d.summary.contains("send quote"), "{}", d.summary);
        assert_eq!(d.sentiment, "positive");
    }

    #[test]
    fn follow_up_words_count_from_the_call() {
        let t = at("2026-03-06T10:00:00Z"); // a Friday
        assert_eq!(
            follow_up_date("call me tomorrow", t),
            Some(at("2026-03-07T10:00:00Z"))
        );
        assert_eq!(
            follow_up_date("see you friday", t),
            Some(at("2026-03-13T10:00:00Z"))
        );
        assert_eq!(
            follow_up_date("Monday is fine", t),
            Some(at("2026-03-09T10:00:00Z"))
        );
        assert_eq!(
            follow_up_date("maybe next week", t),
            Some(at("2026-03-13T10:00:00Z"))
        );
        assert_eq!(follow_up_date("no plans", t), None);
    }

    #[test]
    fn an_angry_transcript_is_negative_without_actions() {
        let d = derive(
            "This is terrible, the crew ruined my gutters and nobody answers.",
            Utc::now(),
        );
        assert_eq!(d.sentiment, "negative");
        assert!(d.action_items.is_empty());
        assert!(d.summary.contains("gutters"));
    }
}
