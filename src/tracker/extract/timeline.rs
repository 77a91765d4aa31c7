//! How soon the work is wanted, as one of `TIMELINES`.

use std::sync::LazyLock;

use regex::Regex;

use super::issues::any_of;
use super::text::{after, head_before, lazy, listed, negated, normalize, words, SENTENCE};

/// Timeline tags, most urgent first (merging keeps the most urgent).
pub const TIMELINES: [&str; 6] = [
    "asap",
    "this_week",
    "this_month",
    "next_month",
    "few_months",
    "just_browsing",
];

/// The ways people say each timeline, in `TIMELINES` order.
const TIMELINE_PHRASES: [&[&str]; 6] = [
    &[
        r"\b(?:asap|a\.s\.a\.p|urgent(?:ly)?|emergency|right\s+away|immediately|immediate|today|tonight)\b",
        r"\bas\s+soon\s+as\s+(?:possible|you\s+can|we\s+can)\b",
        r"\b(?:within|in)\s+(?:24|48)\s+hours\b",
        r"\b(?:leak(?:ing|s)?|dripping|coming\s+in|pouring\s+in)\s+(?:right\s+)?now\b",
    ],
    &[
        r"\b(?:this\s+week|within\s+(?:a|the)\s+week|end\s+of\s+(?:the|this)\s+week)\b",
        r"\b(?:in\s+(?:the\s+next\s+|a\s+)?|next\s+|coming\s+)(?:few|couple(?:\s+of)?|2|3|two|three)\s+days\b",
        r"\b(?:in\s+a\s+day\s+or\s+two|tomorrow|this\s+weekend)\b",
        r"\b(?:by|this)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|the\s+weekend)\b",
    ],
    &[
        r"\b(?:this\s+month|next\s+week|end\s+of\s+(?:the|this)\s+month|later\s+this\s+month)\b",
        r"\b(?:in|within)\s+(?:the\s+next\s+)?(?:a|one|1|two|2|three|3|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a\s+few|few)\s+weeks?\b",
        r"\b(?:next|coming)\s+(?:couple(?:\s+of)?|few|2|3|two|three)\s+weeks\b",
    ],
    &[r"\b(?:next\s+month|(?:in|within)\s+(?:about\s+)?(?:a|one)\s+month|early\s+next\s+month)\b"],
    &[
        r"\b(?:in|within)\s+(?:the\s+next\s+)?(?:a\s+few|few|a\s+couple(?:\s+of)?|couple(?:\s+of)?|several|2|3|4|5|6|two|three|four|five|six)\s+months\b",
        r"\b(?:this|next|in\s+the|by|before)\s+(?:summer|spring|fall|autumn|winter)\b",
        r"\b(?:(?:sometime|later)\s+(?:this|next)\s+year|next\s+year|end\s+of\s+(?:the|this)\s+year)\b",
    ],
    &[
        r"\bjust\s+(?:browsing|looking(?:\s+around)?|curious|checking|shopping\s+around|comparing|researching|planning\s+ahead)\b",
        r"\bjust\s+getting\s+(?:some\s+)?(?:prices|quotes|estimates|pricing|numbers|an?\s+(?:idea|ballpark|price|quote|estimate))\b",
        r"\b(?:no\s+(?:rush|hurry|emergency)|not\s+in\s+(?:a|any)\s+(?:rush|hurry)|not\s+(?:an?\s+)?(?:urgent|emergency)|non-?\s*emergency|nothing\s+urgent)\b",
        r"\b(?:planning\s+ahead|down\s+the\s+road|shopping\s+around)\b",
    ],
];

static TIMELINE_PATTERNS: LazyLock<[Regex; 6]> = LazyLock::new(|| TIMELINE_PHRASES.map(any_of));

/// The most urgent timeline stated; negated ones ("not this week") don't count.
pub(super) fn find_timeline(text: &str) -> Option<&'static str> {
    let browsing = TIMELINES.len() - 1;
    TIMELINE_PATTERNS
        .iter()
        .zip(TIMELINES)
        .find_map(|(re, tag)| {
            let stated = re.find_iter(text).any(|m| {
                if tag == TIMELINES[browsing] {
                    !looking_for_work(text, m)
                } else {
                    !negated(text, m.start())
                }
            });
            stated.then_some(tag)
        })
}

/// The timelines the scoring counts as urgent.
const URGENT: [&str; 2] = ["asap", "this_week"];

/// Hurry words that name no timeline of their own: too vague to fill a lead's timeline ("how
/// soon could you come?"), yet they make a typed timeline urgent ("the sooner the better").
static HURRY: LazyLock<Regex> =
    LazyLock::new(|| lazy(r"(?i)\b(?:soon|sooner|soonest|rush|hurry|right\s+now)\b"));

/// Whether a lead's timeline is urgent (the scoring's +10): a tag in [`URGENT`], or text that
/// states one of those timelines or a hurry word, read with the extractor's phrases and
/// negation ("not urgent", "no rush" and "not until tomorrow" are not urgent).
pub fn is_urgent_timeline(timeline: &str) -> bool {
    let tag = timeline.trim().to_lowercase();
    if TIMELINES.contains(&tag.as_str()) {
        return URGENT.contains(&tag.as_str());
    }
    let text = normalize(timeline);
    find_timeline(&text).is_some_and(|t| URGENT.contains(&t))
        || HURRY.find_iter(&text).any(|m| !negated(&text, m.start()))
}

const PRICE_WORDS: &str =
    "quote quotes price prices pricing estimate estimates idea ballpark numbers options";

/// "just looking for someone to fix it" is a request, unlike "just looking for prices".
fn looking_for_work(text: &str, m: regex::Match) -> bool {
    let mut next = words(head_before(after(text, m.end()), SENTENCE, 60));
    m.as_str().to_lowercase().ends_with("looking")
        && next.next().is_some_and(|w| w == "for")
        && !next.take(4).any(|w| listed(PRICE_WORDS, &w))
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, s, tags};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
            (
                "Need this done this week",
                LeadProfile {
                    timeline: s("this_week"),
                    ..none()
                },
            ),
            (
                "can you come by friday?",
                LeadProfile {
                    timeline: s("this_week"),
                    issues: tags(&["inspection"]),
                    ..none()
                },
            ),
            (
                "in the next few days please",
                LeadProfile {
                    timeline: s("this_week"),
                    ..none()
                },
            ),
            (
                "sometime in a couple weeks",
                LeadProfile {
                    timeline: s("this_month"),
                    ..none()
                },
            ),
            (
                "next week works",
                LeadProfile {
                    timeline: s("this_month"),
                    ..none()
                },
            ),
            (
                "next month is fine",
                LeadProfile {
                    timeline: s("next_month"),
                    ..none()
                },
            ),
            (
                "next spring, or sometime this year",
                LeadProfile {
                    timeline: s("few_months"),
                    ..none()
                },
            ),
            (
                "no rush, not in a hurry",
                LeadProfile {
                    timeline: s("just_browsing"),
                    ..none()
                },
            ),
            (
                "It's not urgent, maybe in a few months",
                LeadProfile {
                    timeline: s("few_months"),
                    ..none()
                },
            ),
            (
                "not this week, maybe next month",
                LeadProfile {
                    timeline: s("next_month"),
                    ..none()
                },
            ),
            (
                "leaking now! emergency",
                LeadProfile {
                    issues: tags(&["leak"]),
                    timeline: s("asap"),
                    ..none()
                },
            ),
            (
                "just looking for someone to fix my leak",
                LeadProfile {
                    issues: tags(&["leak"]),
                    ..none()
                },
            ),
        ]
    }

    #[test]
    fn reads_its_phrasings() {
        check(&phrasings());
    }
}
