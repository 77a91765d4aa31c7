//! Budgets, normalized: `$12,000`, `under $10,000`, `$8,000-$10,000`.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::text::{after, before, lazy, listed, number, tail_after, words, NUM_WORDS, SENTENCE};

/// One amount; `i` keeps the group names apart when two are in one pattern.
fn amount(i: u8) -> String {
    format!(
        r"(?P<d{i}>\$\s?)?(?P<n{i}>\d{{1,3}}(?:,\d{{3}})+(?:\.\d{{1,2}})?|\d{{1,7}}(?:\.\d{{1,2}})?|\b(?:{NUM_WORDS})\b)(?:\s?(?P<s{i}>k|grand|thousand|dollars|bucks|usd)\b)?"
    )
}

static AMOUNT: LazyLock<Regex> = LazyLock::new(|| lazy(&format!("(?i){}", amount(1))));
static RANGE: LazyLock<Regex> = LazyLock::new(|| {
    lazy(&format!(
        r"(?i)(?P<between>\bbetween\s+)?{}\s*(?P<sep>-|to|and)\s*{}",
        amount(1),
        amount(2)
    ))
});
static BUDGET_WORD: LazyLock<Regex> = LazyLock::new(|| {
    lazy(r"(?i)\b(?:budget(?:ed)?|spend|spending|afford|pay|paying|price\s+range)\b")
});
static UNDER_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?:under|below|less\s+than|no\s+more\s+than|not\s+more\s+than|not\s+over|up\s+to|at\s+most|max(?:imum)?(?:\s+of)?|no\s+higher\s+than|cap(?:ped)?\s+at)\s+(?:about\s+|around\s+)?$",
    )
});
static UNDER_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    lazy(r"(?i)^\s*(?:max(?:imum)?|tops|top|at\s+most|or\s+less|or\s+under|or\s+below)\b")
});
/// Units that make a number a quantity.
static NOT_MONEY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)^\s*(?:%|-?\s*(?:years?|yrs?|sq|square|squares|feet|foot|ft|miles?|percent|months?|weeks?|days?|hours?|people|shingles|stor(?:y|ies)|times|layers?)\b)",
    )
});

/// Words allowed between "budget"/"spend"/"afford" and its amount.
const BUDGET_FILLER: &str =
    "a able about afford all an approx approximately around at ballpark be between can could \
    for got has have i i'd i'm in is it job just less like looking max maximum maybe more \
    most my no not of only our pay probably project range realistically really right roughly \
    say set somewhere spend than the this to total under up want was we we'd we're will \
    willing would";

/// A parsed amount: dollars, whether money was said ($, k, dollars…), whether it was scaled.
struct Amount {
    value: f64,
    money: bool,
    scaled: bool,
    spelled: bool,
}

fn parse_amount(c: &Captures, i: u8) -> Option<Amount> {
    let n = c.name(&format!("n{i}"))?.as_str();
    let suffix = c.name(&format!("s{i}")).map(|s| s.as_str().to_lowercase());
    let scaled = matches!(suffix.as_deref(), Some("k" | "grand" | "thousand"));
    let spelled = n.starts_with(|ch: char| ch.is_alphabetic());
    let base = if spelled {
        f64::from(number(n)?)
    } else {
        n.replace(',', "").parse().ok()?
    };
    Some(Amount {
        value: if scaled { base * 1000.0 } else { base },
        money: c.name(&format!("d{i}")).is_some() || suffix.is_some(),
        scaled,
        spelled,
    })
}

pub(super) fn find_budget(text: &str) -> Option<String> {
    // (start, tied to a budget word, normalized)
    let mut found: Vec<(usize, bool, String)> = Vec::new();
    let mut taken: Vec<Range<usize>> = Vec::new();
    for c in RANGE.captures_iter(text) {
        if let Some((span, keyword, budget)) = budget_range(text, &c) {
            found.push((span.start, keyword, budget));
            taken.push(span);
        }
    }
    for c in AMOUNT.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        if taken.iter().any(|t| t.start < m.end() && m.start() < t.end) {
            continue;
        }
        if let Some((keyword, budget)) = budget_single(text, &c, m) {
            found.push((m.start(), keyword, budget));
        }
    }
    found.sort_by_key(|f| f.0);
    let best = found.iter().position(|f| f.1).unwrap_or(0);
    found.into_iter().nth(best).map(|f| f.2)
}

fn budget_range(text: &str, c: &Captures) -> Option<(Range<usize>, bool, String)> {
    let m = c.get(0)?;
    if c.name("sep")?.as_str().eq_ignore_ascii_case("and") && c.name("between").is_none() {
        return None;
    }
    let (mut lo, mut hi) = (parse_amount(c, 1)?, parse_amount(c, 2)?);
    // "$8-10k", "between 8 and 10 thousand": the scale said once applies to both.
    if hi.scaled && !lo.scaled && lo.value * 1000.0 <= hi.value {
        lo.value *= 1000.0;
        lo.scaled = true;
    }
    if lo.scaled && !hi.scaled && hi.value < 1000.0 {
        hi.value *= 1000.0;
        hi.scaled = true;
    }
    let keyword = tied_to_budget(text, m.start());
    let spelled_bare = (lo.spelled && !lo.scaled) || (hi.spelled && !hi.scaled);
    let ok = (lo.money || hi.money || keyword)
        && !spelled_bare
        && glued_free(text, m.start())
        && !NOT_MONEY_AFTER.is_match(after(text, m.end()))
        && plausible(lo.value)
        && plausible(hi.value)
        && lo.value < hi.value;
    ok.then(|| {
        (
            m.range(),
            keyword,
            format!("{}-{}", dollars(lo.value), dollars(hi.value)),
        )
    })
}

fn budget_single(text: &str, c: &Captures, m: regex::Match) -> Option<(bool, String)> {
    let a = parse_amount(c, 1)?;
    let keyword = tied_to_budget(text, m.start());
    let lead_in = tail_after(before(text, m.start()), SENTENCE, 40);
    let under = UNDER_BEFORE.is_match(lead_in) || UNDER_AFTER.is_match(after(text, m.end()));
    // What was paid or quoted before is not what they mean to spend.
    let past =
        words(lead_in).any(|w| matches!(w.as_str(), "paid" | "spent" | "charged" | "quoted"));
    let money = !past && (a.money || keyword || (under && a.value >= 1000.0));
    let ok = money
        && (!a.spelled || a.scaled)
        && glued_free(text, m.start())
        && !NOT_MONEY_AFTER.is_match(after(text, m.end()))
        && plausible(a.value);
    let prefix = if under { "under " } else { "" };
    ok.then(|| (keyword, format!("{prefix}{}", dollars(a.value))))
}

/// Not the tail of a word or of a longer number.
fn glued_free(text: &str, start: usize) -> bool {
    !before(text, start).ends_with(|c: char| c.is_alphanumeric() || ".,".contains(c))
}

fn plausible(dollars: f64) -> bool {
    (100.0..=5_000_000.0).contains(&dollars)
}

/// Whether a budget word leads to the amount at `start` through filler words only.
fn tied_to_budget(text: &str, start: usize) -> bool {
    let lead_in = tail_after(before(text, start), SENTENCE, 60);
    BUDGET_WORD.find_iter(lead_in).last().is_some_and(|k| {
        let gap: Vec<String> = words(after(lead_in, k.end())).collect();
        gap.len() <= 6 && gap.iter().all(|w| listed(BUDGET_FILLER, w))
    })
}

/// Whole dollars with thousands separators: "$12,500".
fn dollars(value: f64) -> String {
    let digits = format!("{:.0}", value.round());
    let mut out = String::with_capacity(digits.len() + 4);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    format!("${out}")
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, s};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
            (
                "budget around 15 thousand",
                LeadProfile {
                    budget: s("$15,000"),
                    ..none()
                },
            ),
            (
                "about 15 grand",
                LeadProfile {
                    budget: s("$15,000"),
                    ..none()
                },
            ),
            (
                "we have 12000 dollars",
                LeadProfile {
                    budget: s("$12,000"),
                    ..none()
                },
            ),
            (
                "under 10,000",
                LeadProfile {
                    budget: s("under $10,000"),
                    ..none()
                },
            ),
            (
                "less than $10k",
                LeadProfile {
                    budget: s("under $10,000"),
                    ..none()
                },
            ),
            (
                "no more than 10k",
                LeadProfile {
                    budget: s("under $10,000"),
                    ..none()
                },
            ),
            (
                "between 8 and 10k",
                LeadProfile {
                    budget: s("$8,000-$10,000"),
                    ..none()
                },
            ),
            (
                "$8-10k",
                LeadProfile {
                    budget: s("$8,000-$10,000"),
                    ..none()
                },
            ),
            (
                "budget is 20k",
                LeadProfile {
                    budget: s("$20,000"),
                    ..none()
                },
            ),
            (
                "we were quoted 15k. our budget is 12.5k",
                LeadProfile {
                    budget: s("$12,500"),
                    ..none()
                },
            ),
            ("the roof is 2004 and we have 20 years of problems", none()),
            ("20k square feet warehouse roof", none()),
        ]
    }

    #[test]
    fn reads_its_phrasings() {
        check(&phrasings());
    }
}
