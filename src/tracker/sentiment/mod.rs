//! Lexicon-based sentiment scoring for lead messages (email, SMS, call notes, chat).
//!
//! The scorer follows the shape of VADER (Hutto & Gilbert, 2014) and is tuned for
//! what homeowners write to roofers:
//!
//! * **Lexicon**: VADER's `vader_lexicon.txt` (copied verbatim from the `vaderSentiment`
//!   3.3.2 PyPI package, MIT licence, (c) 2016 C.J. Hutto; see `data/vader_LICENSE.txt`),
//!   extended and partly overridden by `data/leadline_sentiment.txt` (our own words and
//!   multi-word phrases such as "go with someone else", "ready to schedule",
//!   "still leaking", "no longer leaking").
//! * **Topic vs. sentiment**: leaks, damage and storms are what a roofing lead is *about*,
//!   so those words are kept mild; the sentiment lives in phrases about the roofer,
//!   the price and the schedule.
//! * **Rules**: negation (clause-scoped, `not`/`never`/`no`/`n't`...), intensifiers and
//!   dampeners (`very`, `extremely`, `a bit`, `kind of`...), contrast (`but`/`however`:
//!   the clause after weighs 1.5x, the one before 0.5x), `!` emphasis, ALL-CAPS emphasis,
//!   emoji and emoticons, and a few part-of-speech guards (`like` as a preposition,
//!   `kind of`, `pretty good`).
//! * **Score**: the summed valence `s` is squashed to `s / sqrt(s^2 + 15)` in `[-1, 1]`;
//!   label thresholds are `>= 0.05` positive, `<= -0.05` negative, else neutral.
//!
//! Tables are parsed once (`LazyLock`); [`analyze`] allocates only the token list and
//! runs in a few microseconds for a 1 KB message. It never panics.
//!
//! [`lexicon`]: the tables; [`words`]: word classes; [`tokens`]: the tokenizer; [`score`]: the rules.

mod lexicon;
mod score;
mod tokens;
mod words;

use lexicon::TABLES;
use score::{normalize, score_tokens};
use tokens::tokenize;

/// Score at or above which a text is positive (and at or below minus it, negative).
pub const THRESHOLD: f32 = 0.05;

/// Empirical booster increment (VADER).
const B_INCR: f32 = 0.293;
/// ALL-CAPS emphasis increment (VADER).
const C_INCR: f32 = 0.733;
/// Factor applied to a negated positive word.
const NEG_POS: f32 = -0.74;
/// Factor applied to a negated negative word ("not bad" is only mildly positive).
const NEG_NEG: f32 = -0.5;
/// How many tokens back a negator reaches (never across a clause boundary).
const NEG_WINDOW: usize = 3;
/// How many tokens back a counterfactual marker reaches (within the clause).
const CF_WINDOW: usize = 6;
/// Factor applied to a positive word under a counterfactual ("should have been better").
const COUNTERFACTUAL: f32 = -0.5;
/// Normalisation constant of the compound score (VADER).
const ALPHA: f32 = 15.0;
/// Weight of the clause before / after a contrast word.
const BEFORE_BUT: f32 = 0.5;
const AFTER_BUT: f32 = 1.5;

pub use crate::domain::SentimentLabel;

impl SentimentLabel {
    /// The label of a compound score (±`THRESHOLD`).
    pub fn from_score(score: f32) -> Self {
        if score >= THRESHOLD {
            SentimentLabel::Positive
        } else if score <= -THRESHOLD {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sentiment {
    pub label: SentimentLabel,
    /// Compound score in `[-1, 1]`.
    pub score: f32,
}

/// Scores one message.
pub fn analyze(text: &str) -> Sentiment {
    let tables = &*TABLES;
    let tokens = tokenize(text, tables);
    let raw = score_tokens(&tokens, tables);
    let score = normalize(raw);
    Sentiment {
        label: SentimentLabel::from_score(score),
        score,
    }
}

#[cfg(test)]
mod tests {
    use super::score::lookup;
    use super::*;

    fn score(text: &str) -> f32 {
        analyze(text).score
    }
    fn label(text: &str) -> SentimentLabel {
        analyze(text).label
    }
    use SentimentLabel::{Negative, Neutral, Positive};

    #[test]
    fn labels_serialize_lowercase() {
        assert_eq!(Positive.as_str(), "positive");
        assert_eq!(Neutral.as_str(), "neutral");
        assert_eq!(Negative.as_str(), "negative");
    }

    #[test]
    fn plain_positive_and_negative() {
        assert_eq!(label("The crew did a good job."), Positive);
        assert_eq!(label("The crew was rude and lazy."), Negative);
        assert_eq!(label("The estimate is attached."), Neutral);
    }

    #[test]
    fn negated_positive_is_negative() {
        assert_eq!(label("The crew was good."), Positive);
        assert_eq!(label("The crew was not good."), Negative);
        assert_eq!(label("I'm not happy with the shingles."), Negative);
        assert_eq!(label("We don't like the color."), Negative);
        assert_eq!(label("I would never recommend them."), Negative);
        assert_eq!(label("They dont care"), Negative);
    }

    #[test]
    fn negated_negative_is_positive() {
        assert_eq!(label("The price isn't bad."), Positive);
        assert_eq!(label("Not bad at all."), Positive);
        assert!(score("The price isn't bad.") < score("The price is great."));
        assert_eq!(label("No problems at all with the install."), Positive);
    }

    #[test]
    fn negation_stops_at_clause_boundary() {
        // "not" belongs to the first clause; "great" stays positive.
        assert!(score("Not today, the crew was great") > 0.3);
    }

    #[test]
    fn intensifier_raises_magnitude() {
        assert!(score("The crew was very good.") > score("The crew was good."));
        assert!(score("Extremely disappointed.") < score("Disappointed."));
    }

    #[test]
    fn dampener_lowers_magnitude() {
        assert!(score("The crew was slightly good.") < score("The crew was good."));
        assert!(score("I'm a bit disappointed.") > score("I'm disappointed."));
        assert!(score("It's kind of disappointing") > score("It's disappointing"));
        assert_eq!(label("kind of"), Neutral);
    }

    #[test]
    fn contrast_weights_clause_after_but() {
        assert_eq!(
            label("The crew was nice but the roof is a mess and the cleanup was terrible."),
            Negative
        );
        assert_eq!(
            label("The price was a little high but the work was excellent."),
            Positive
        );
        assert!(score("Good price. However, the crew was rude.") < 0.0);
    }

    #[test]
    fn exclamation_adds_emphasis() {
        assert!(score("Great job!!!") > score("Great job"));
        assert!(score("Terrible!!") < score("Terrible"));
        assert_eq!(label("!!!"), Neutral);
    }

    #[test]
    fn all_caps_adds_emphasis() {
        assert!(score("The crew was GREAT") > score("The crew was great"));
        assert!(score("this is TERRIBLE service") < score("this is terrible service"));
    }

    #[test]
    fn emoji_carry_sentiment() {
        assert_eq!(label("👍"), Positive);
        assert_eq!(label("🙂"), Positive);
        assert_eq!(label("😡😡"), Negative);
        assert_eq!(label("ok 👎"), Negative);
        assert_eq!(label("see you then :)"), Positive);
        assert_eq!(label("still nothing :("), Negative);
        assert_eq!(label("🏠"), Neutral);
    }

    #[test]
    fn topic_words_are_not_strong_sentiment() {
        // A homeowner describing the problem is not angry at the roofer.
        assert!(score("I have a leak in my roof") > -0.3);
        assert!(score("We have some hail damage on the back side") > -0.3);
        assert_ne!(label("Storm damage, need someone to look at it"), Negative);
        assert_ne!(
            label("Emergency - water coming in through the ceiling, please call me ASAP"),
            Negative
        );
        assert_eq!(
            label("Can you help? We have a leak. When can you come out?"),
            Positive
        );
    }

    #[test]
    fn roofing_lost_lead_phrases_are_negative() {
        for text in [
            "We decided to go with someone else.",
            "Thanks but we went with another company",
            "Honestly it's too expensive for us",
            "That's out of our budget right now",
            "Not interested",
            "Stop texting me",
            "please don't call me again",
            "take me off your list",
            "Your crew never showed up",
            "What a waste of time",
            "This is a scam",
            "It's still leaking after the repair",
            "no thanks",
            "We found a cheaper quote",
            "Never heard back from anyone",
        ] {
            assert_eq!(label(text), Negative, "{text}");
        }
    }

    #[test]
    fn roofing_engaged_lead_phrases_are_positive() {
        for text in [
            "We're ready to schedule",
            "When can you come out?",
            "Sounds good",
            "Let's do it",
            "Please call me",
            "The leak is fixed, no longer leaking!",
            "Thank you",
            "Great job on the roof",
            "Tuesday works for us",
            "Yes please, send me the contract",
            "Looking forward to it",
        ] {
            assert_eq!(label(text), Positive, "{text}");
        }
    }

    #[test]
    fn negated_phrase_flips() {
        assert_eq!(label("We are not ready to schedule yet."), Negative);
        assert_eq!(label("It isn't leaking anymore"), Positive);
    }

    #[test]
    fn negated_neutral_verb_is_negative() {
        assert_eq!(label("The new gutter guard didn't work."), Negative);
        assert_eq!(label("They never responded to my emails"), Negative);
        assert_eq!(label("We won't hire them again"), Negative);
        assert_eq!(label("He works on Saturdays."), Neutral);
    }

    #[test]
    fn counterfactual_positive_is_negative() {
        assert_eq!(label("The cleanup could have been better."), Negative);
        assert_eq!(label("I wish the crew had been more careful"), Negative);
        assert!(score("I expected better quality") < 0.0);
    }

    #[test]
    fn complaint_idioms_are_negative() {
        assert_eq!(label("Don't waste your time with this company"), Negative);
        assert_eq!(label("Stay away from them"), Negative);
        assert_eq!(label("I want my money back"), Negative);
        assert_eq!(
            label("We've been waiting three weeks for the estimate"),
            Negative
        );
    }

    #[test]
    fn inflections_fall_back_to_lexicon_stem() {
        // "lacks" is not in VADER's lexicon, "lack" is.
        assert_eq!(label("The quote lacks detail"), Negative);
        assert!(lookup("unhelpful", &TABLES).is_some_and(|v| v < 0.0));
        assert_eq!(lookup("xyzzy", &TABLES), None);
    }

    #[test]
    fn sentence_adverbs_are_not_sentiment() {
        assert_eq!(label("Honestly, the roof is 20 years old"), Neutral);
    }

    #[test]
    fn like_as_preposition_is_neutral() {
        assert_eq!(label("It looks like rain tomorrow"), Neutral);
        assert_eq!(label("I like the new gutters"), Positive);
    }

    #[test]
    fn curly_apostrophes_are_normalized() {
        assert_eq!(label("I don\u{2019}t like it"), Negative);
    }

    #[test]
    fn no_panic_on_odd_inputs() {
        let huge = "very good ".repeat(100_000);
        let long_word = "a".repeat(1_000_000);
        let odd = [
            "",
            " ",
            "\n\n\t",
            "!!!???...",
            "😡",
            "🤦\u{200d}\u{2642}\u{fe0f}",
            "👍🏽👍🏽",
            "\u{0}\u{1}\u{7f}",
            "éàü ñ 中文 日本語 العربية",
            "'",
            "-",
            "n't",
            "{a,b}",
            ":) :( :-) <3",
            "but",
            "but but but",
            "However",
            "not",
            "no no no",
            "a bit",
            "kind of sort of",
            huge.as_str(),
            long_word.as_str(),
            "\u{feff}Thank you\r\n",
            "\u{2019}\u{2019}\u{2019}",
            "ALL CAPS ONLY",
            "I",
        ];
        for text in odd {
            let s = analyze(text);
            assert!(s.score.is_finite(), "{text:?}");
            assert!((-1.0..=1.0).contains(&s.score), "{text:?}");
        }
        assert_eq!(label(""), Neutral);
        assert_eq!(score(""), 0.0);
        // Every byte boundary of a mixed string.
        let mixed = "Great job 👍 but it's still leaking 😡! Not interested.";
        for (i, _) in mixed.char_indices() {
            let _ = analyze(&mixed[..i]);
            let _ = analyze(&mixed[i..]);
        }
    }

    #[test]
    fn analyze_is_fast() {
        let msg = "Hi, thanks for coming out yesterday. The estimate looks good but it's a bit \
                   more than we expected. We had a leak over the garage after the storm and \
                   some shingles are missing. Could you call me tomorrow morning? If we can \
                   get the price down we're ready to schedule. "
            .repeat(4);
        assert!(msg.len() >= 1000);
        let _ = analyze(&msg); // build tables
        let start = std::time::Instant::now();
        let runs = 200;
        for _ in 0..runs {
            std::hint::black_box(analyze(std::hint::black_box(&msg)));
        }
        let per = start.elapsed() / runs;
        // Generous bound (debug build, shared CI machine); release is ~10x faster.
        assert!(
            per < std::time::Duration::from_millis(5),
            "{per:?} per message"
        );
    }
}
