//! Lead details from free text (a chat message, an email, a text): the one extractor the
//! chat, the AI responder and the scoring use. One file a field, each with its phrasings table.
//!
//! Heuristic and regex-based. Each finder knows the common ways a homeowner states one field
//! and leaves it empty when unsure: a wrong value on a lead card costs more than a missing one,
//! which staff simply ask for. Spans claimed by one field (email, phone, address) are blanked
//! before the others run, so their digits never turn into a budget, an age or a name.

mod address;
mod budget;
mod email;
mod issues;
mod merge;
mod name;
mod phone;
mod roof_age;
mod text;
mod timeline;

use crate::domain::LeadProfile;

pub use merge::merge;
pub use phone::find_phone;
pub use timeline::{is_urgent_timeline, TIMELINES};

use address::find_address;
use budget::find_budget;
use email::find_email;
use issues::find_issues;
use name::find_name;
use roof_age::find_roof_age;
use text::{blank, first_chars, normalize};
use timeline::find_timeline;

/// Only the start of a message is read: bounds the work per message.
const MAX_CHARS: usize = 5_000;

/// Candidates tried per field where a rejected one makes the search go on past it.
const MAX_TRIES: usize = 64;

/// Lead details found in `text`.
///
/// `region`: default region for phone numbers without a country code.
/// `now_year`: the current year, to turn "installed in 2004" into an age.
pub fn extract(text: &str, region: phonenumber::country::Id, now_year: i32) -> LeadProfile {
    let mut text = normalize(first_chars(text, MAX_CHARS));
    let email = find_email(&text).map(|(span, email)| blank(&mut text, span, email));
    let phone = find_phone(&text, region).map(|(span, phone)| blank(&mut text, span, phone));
    let property_address = find_address(&text).map(|(span, a)| blank(&mut text, span, a));
    LeadProfile {
        name: find_name(&text),
        email,
        phone,
        property_address,
        roof_age_years: find_roof_age(&text, now_year),
        issues: find_issues(&text),
        timeline: find_timeline(&text).map(str::to_owned),
        budget: find_budget(&text),
    }
}

#[cfg(test)]
mod tests {

    use super::*;
    use issues::ISSUE_PATTERNS;
    use phonenumber::country::Id::US;
    use timeline::TIMELINES;

    pub(super) fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    pub(super) fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|t| (*t).to_owned()).collect()
    }

    pub(super) fn ex(text: &str) -> LeadProfile {
        extract(text, US, 2026)
    }

    pub(super) fn none() -> LeadProfile {
        LeadProfile::default()
    }

    pub(super) fn check(table: &[(&str, LeadProfile)]) {
        let failures: Vec<String> = table
            .iter()
            .filter_map(|(text, want)| {
                let got = ex(text);
                (got != *want).then(|| format!("{text:?}\n  want {want:?}\n  got  {got:?}"))
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} rows differ:\n{}",
            failures.len(),
            table.len(),
            failures.join("\n")
        );
    }

    fn whole_messages() -> Vec<(&'static str, LeadProfile)> {
        vec![
        (
            "Hi, I'm Jane Doe, my roof at 123 Oak St, Dallas TX 75201 is about 20 years old and leaking after the hail storm. Need someone ASAP, budget around $12k. Call me at (214) 555-0134",
            LeadProfile {
                name: s("Jane Doe"),
                email: None,
                phone: s("+12145550134"),
                property_address: s("123 Oak St, Dallas TX 75201"),
                roof_age_years: Some(20),
                issues: tags(&["leak", "hail_damage"]),
                timeline: s("asap"),
                budget: s("$12,000"),
            },
        ),
        ]
    }

    #[test]
    fn reads_whole_messages() {
        check(&whole_messages());
    }

    #[test]
    fn the_phrasing_tables_keep_their_rows() {
        let rows = [
            whole_messages(),
            address::tests::phrasings(),
            budget::tests::phrasings(),
            email::tests::phrasings(),
            issues::tests::phrasings(),
            name::tests::phrasings(),
            phone::tests::phrasings(),
            roof_age::tests::phrasings(),
            timeline::tests::phrasings(),
        ]
        .concat();
        assert!(rows.len() >= 40);
    }

    #[test]
    fn is_empty_means_nothing_found() {
        assert!(ex("hello there").is_empty());
        assert!(!ex("no rush").is_empty());
    }

    #[test]
    fn lead_fields_read_back_from_partial_json() {
        let json = serde_json::json!({ "name": "Jane", "issues": ["leak"] });
        let fields: LeadProfile = serde_json::from_value(json).expect("partial lead fields");
        assert_eq!(
            fields,
            LeadProfile {
                name: s("Jane"),
                issues: tags(&["leak"]),
                ..LeadProfile::default()
            }
        );
    }

    /// Whatever comes in, the result keeps the documented shapes.
    fn assert_well_formed(text: &str) {
        let e = ex(text);
        assert!(
            e.roof_age_years.is_none_or(|a| (0..=150).contains(&a)),
            "{text:?}: {e:?}"
        );
        assert!(
            e.timeline.as_deref().is_none_or(|t| TIMELINES.contains(&t)),
            "{text:?}: {e:?}"
        );
        assert!(
            e.phone.as_deref().is_none_or(|p| p.starts_with('+')),
            "{text:?}: {e:?}"
        );
        assert!(
            e.budget.as_deref().is_none_or(|b| b.contains('$')),
            "{text:?}: {e:?}"
        );
        let known: Vec<&str> = ISSUE_PATTERNS.iter().map(|(t, _)| *t).collect();
        let mut order = e.issues.iter().map(|t| known.iter().position(|k| k == t));
        assert!(order.clone().all(|p| p.is_some()), "{text:?}: {e:?}");
        assert!(
            order
                .clone()
                .zip(order.by_ref().skip(1))
                .all(|(a, b)| a < b),
            "{text:?}: {e:?}"
        );
    }

    #[test]
    fn never_panics() {
        let long = format!(
            "I'm Jane Doe 😀 {} email late@example.com",
            "roof leak $ 12 ".repeat(8_000)
        );
        let odd = [
            "",
            " ",
            "\n\n",
            "😀",
            "😀🏠💧",
            "\u{0}\u{200B}\u{FEFF}",
            "é\u{301}",
            "ß",
            "İ",
            "1234567890123456789012345678901234567890",
            "$",
            "$-",
            "$$$$",
            "-",
            "- ",
            "between",
            "between and",
            "9999999k",
            "$9999999.99 thousand",
            "0",
            "00000",
            "(((214)))",
            "+",
            "+1",
            "@",
            "a@b",
            "@.com",
            "I'm",
            "my name is",
            "name:",
            "this is",
            "roof is",
            "roof",
            "1 st",
            "123456 a b c d e f st",
            "# # #",
            "..., ,,, ;;;",
            "I'm 😀😀",
            "roof is 999 years old",
            "built in 1949",
            "installed in 2026",
            "\u{202E}roof\u{202D}",
        ];
        for text in odd {
            assert_well_formed(text);
        }
        assert_well_formed(&"1".repeat(100_000));
        assert_well_formed(&"9 ".repeat(50_000));
        assert_well_formed(&"😀".repeat(30_000));
        assert_well_formed(&long);
        let e = ex(&long);
        assert_eq!(
            (e.name, e.email),
            (s("Jane Doe"), None),
            "only the first {MAX_CHARS} chars are read"
        );
    }

    /// Random mixes of fragments that each finder reacts to.
    #[test]
    fn never_panics_on_random_mixes() {
        const BITS: [&str; 24] = [
            "I'm", "Jane", "roof", "is", "12", "$", "k", "-", "years", "old", "2004", "St", ",",
            "TX", "75201", "(214)", "555-0134", "😀", "é", "\n", "no", "leak", "between", "@x.com",
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2_000 {
            let mut text = String::new();
            for _ in 0..12 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                text.push_str(BITS[(state % BITS.len() as u64) as usize]);
                if state & 0x100 != 0 {
                    text.push(' ');
                }
            }
            assert_well_formed(&text);
        }
    }
}
