//! The roof's age, stated ("20 years old") or from the year it went on ("installed in 2004").

use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::text::{
    after, before, head_before, lazy, listed, number, tail_after, words, CLAUSE, NUM_WORDS,
    SENTENCE,
};

/// "20 years old", "20-year-old", "15 yrs old".
static AGE_OLD: LazyLock<Regex> = LazyLock::new(|| {
    lazy(&format!(
        r"(?i)\b(?P<num>\d{{1,3}}|(?:{NUM_WORDS})\b)\s*\+?\s*-?\s*(?:years?|yrs?)\b\.?\s*-?\s*old\b"
    ))
});
/// A number shortly after "roof": "roof is 12", "roof is around fifteen years".
static AGE_NEAR_ROOF: LazyLock<Regex> = LazyLock::new(|| {
    lazy(&format!(
        r"(?i)\b(?:roof|shingles)\b(?P<gap>[^.!?\n;$\d]{{0,40}}?)\b(?P<num>\d{{1,3}}|(?:{NUM_WORDS})\b)(?P<unit>\s*\+?\s*-?\s*(?:years?|yrs?)\b\.?(?:\s*-?\s*(?P<tail>old|ago)\b)?)?"
    ))
});
/// The year a roof went on: "installed in 2004", "roof from 2004", "built in 1998".
static AGE_YEAR: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?P<verb>installed|put\s+(?:on|in|up)|replaced|re-?done|done|built|re-?roofed|roofed|new\s+roof|from|dates?\s+(?:back\s+)?(?:to|from)|went\s+on)\b(?:\s+(?:in|back\s+in|around|about|sometime\s+in|circa|approximately|roughly))*\s+(?P<year>(?:19|20)\d{2})\b",
    )
});
static ROOF_WORD: LazyLock<Regex> =
    LazyLock::new(|| lazy(r"(?i)\b(?:roof|roofs|shingles|re-?roof\w*)\b"));
/// Things other than a roof that have an age.
static OTHER_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?:house|home|i'm|i\s+am|im|me|kids?|son|daughter|dog|cat|car|truck|husband|wife|mom|dad|mother|father|heater|furnace|ac|hvac|siding|windows?|deck|fence|he|she|building|gutters?)\b",
    )
});

/// Gap words that make a number after "roof" something other than its age.
const NOT_AGE_GAP: &str =
    "bid bought companies company cost costs damage damaged days estimate every feet fixed ft \
    guarantee hail home house inspected issue issues last layer layers leak leaked leaking \
    leaks live lived living months moved own owned paid past patched people percent pitch \
    problem problems quote quoted repaired roofer roofers since sq square squares stories \
    storm story times trouble warranty weeks";

pub(super) fn find_roof_age(text: &str, now_year: i32) -> Option<i32> {
    let (mut stated, mut neutral) = (None, None);
    for c in AGE_OLD.captures_iter(text) {
        let (Some(m), Some(age)) = (c.get(0), c.name("num").and_then(|n| number(n.as_str())))
        else {
            continue;
        };
        let context = format!(
            "{} {}",
            tail_after(before(text, m.start()), SENTENCE, 60),
            head_before(after(text, m.end()), CLAUSE, 15)
        );
        if ROOF_WORD.is_match(&context) {
            stated = stated.or(Some(age));
        } else if !OTHER_SUBJECT.is_match(&context) {
            neutral = neutral.or(Some(age));
        }
    }
    let near_roof = || {
        AGE_NEAR_ROOF
            .captures_iter(text)
            .find_map(|c| age_near_roof(text, &c))
    };
    let valid = |a: &i32| (0..=150).contains(a);
    stated
        .filter(valid)
        .or_else(|| near_roof().filter(valid))
        .or_else(|| install_year(text, now_year).map(|y| now_year - y))
        .or(neutral.filter(valid))
}

/// Last gap words that make a bare number after "roof" its age: "roof is 12".
const AGE_VERBS: &str =
    "is s was about around roughly approximately approx maybe probably like nearly almost over \
    only just be aged";
/// Gap words that make "N years ago" the roof's age: "put on 10 years ago".
const INSTALLED: &str = "put installed replaced new done redone built went roofed reroofed";
/// Words after "N year" that make it a product rating: "30 year shingles".
const PRODUCT_TERMS: &str =
    "warranty guarantee shingle shingles architectural dimensional rated life lifespan mortgage loan";

fn age_near_roof(text: &str, c: &Captures) -> Option<i32> {
    let gap: Vec<String> = words(c.name("gap")?.as_str()).collect();
    if gap.iter().any(|w| listed(NOT_AGE_GAP, w)) {
        return None;
    }
    let age = number(c.name("num")?.as_str())?;
    let end = c.get(0)?.end();
    let fits = match (
        c.name("unit"),
        c.name("tail").map(|t| t.as_str().to_lowercase()),
    ) {
        (None, _) => {
            let verb = gap.last().is_some_and(|w| listed(AGE_VERBS, w));
            verb && stands_alone(after(text, end))
        }
        (Some(_), Some(tail)) if tail == "ago" => gap.iter().any(|w| listed(INSTALLED, w)),
        (Some(_), Some(_)) => true,
        (Some(_), None) => words(head_before(after(text, end), CLAUSE, 20))
            .next()
            .is_none_or(|w| !listed(PRODUCT_TERMS, &w)),
    };
    fits.then_some(age)
}

/// Whether a bare number ends its phrase ("roof is 12." / "roof is 12 and…"), unlike
/// "roof is 12 feet" or "12,000".
fn stands_alone(rest: &str) -> bool {
    let trimmed = rest.trim_start();
    let Some(first) = trimmed.chars().next() else {
        return true;
    };
    if first.is_alphanumeric() {
        let spaced = trimmed.len() < rest.len();
        return spaced
            && words(trimmed)
                .next()
                .is_some_and(|w| listed("and but or so now i it we the", &w));
    }
    ".!?;,\n)".contains(first)
        && !after(trimmed, first.len_utf8()).starts_with(|c: char| c.is_ascii_digit())
}

/// Things besides a roof that get installed.
static OTHER_WORK: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?:windows?|siding|gutters?|deck|fence|furnace|heater|ac|hvac|kitchen|floors?|carpet|solar|panels?|pool|driveway|bathroom|doors?|skylights?|cabinets?|insulation)\b",
    )
});

/// The latest roofing year stated. In a roofing chat "installed in 2004" means the roof unless
/// something else is named; "from 2004" / "built in 1998" need the roof (or "original") said.
fn install_year(text: &str, now_year: i32) -> Option<i32> {
    let says_original = text.to_lowercase().contains("original");
    AGE_YEAR
        .captures_iter(text)
        .filter_map(|c| {
            let (m, verb) = (c.get(0)?, c.name("verb")?.as_str().to_lowercase());
            let sentence = format!(
                "{}{}",
                tail_after(before(text, m.start()), SENTENCE, 200),
                head_before(after(text, m.start()), SENTENCE, 200)
            );
            let strong_verb =
                !matches!(verb.as_str(), "built" | "from" | "done") && !verb.starts_with("date");
            let about_roof = ROOF_WORD.is_match(&sentence)
                || (strong_verb && !OTHER_WORK.is_match(&sentence))
                || (verb == "built" && says_original);
            let year: i32 = c.name("year")?.as_str().parse().ok()?;
            (about_roof && (1950..=now_year).contains(&year)).then_some(year)
        })
        .max()
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, tags};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
            (
                "20-year-old roof with curling shingles",
                LeadProfile {
                    roof_age_years: Some(20),
                    issues: tags(&["damaged_shingles"]),
                    ..none()
                },
            ),
            (
                "it's about 15 yrs old",
                LeadProfile {
                    roof_age_years: Some(15),
                    ..none()
                },
            ),
            (
                "The roof was installed in 2004",
                LeadProfile {
                    roof_age_years: Some(22),
                    ..none()
                },
            ),
            (
                "roof put on in 2010, moss and algae everywhere",
                LeadProfile {
                    roof_age_years: Some(16),
                    issues: tags(&["mold"]),
                    ..none()
                },
            ),
            (
                "original roof from when the house was built in 1998",
                LeadProfile {
                    roof_age_years: Some(28),
                    ..none()
                },
            ),
            (
                "the roof is 12, no leaks yet",
                LeadProfile {
                    roof_age_years: Some(12),
                    ..none()
                },
            ),
            (
                "roof is around fifteen years",
                LeadProfile {
                    roof_age_years: Some(15),
                    ..none()
                },
            ),
            (
                "roof is a couple years old",
                LeadProfile {
                    roof_age_years: Some(2),
                    ..none()
                },
            ),
            (
                "The roof is twenty-five years old",
                LeadProfile {
                    roof_age_years: Some(25),
                    ..none()
                },
            ),
            (
                "house built in 1998, roof replaced in 2015",
                LeadProfile {
                    roof_age_years: Some(11),
                    ..none()
                },
            ),
            (
                "the house is 40 years old, roof is maybe 10",
                LeadProfile {
                    roof_age_years: Some(10),
                    ..none()
                },
            ),
            (
                "we just got a brand new roof but the gutters are bad",
                LeadProfile {
                    issues: tags(&["gutters"]),
                    ..none()
                },
            ),
            (
                "the roof has been leaking for 2 years",
                LeadProfile {
                    issues: tags(&["leak"]),
                    ..none()
                },
            ),
            ("it has 30 year shingles on the roof", none()),
            ("my house is 30 years old and I'm 45", none()),
            ("The roof is from 1890, installed in 2030", none()),
            (
                "installed in 2004",
                LeadProfile {
                    roof_age_years: Some(22),
                    ..none()
                },
            ),
            (
                "it was put on in 2004",
                LeadProfile {
                    roof_age_years: Some(22),
                    ..none()
                },
            ),
            ("we replaced the windows in 2015", none()),
        ]
    }

    #[test]
    fn reads_its_phrasings() {
        check(&phrasings());
    }
}
