//! The writer's name: "I'm Jane Doe", "Jane here", a sign-off.

use std::sync::LazyLock;

use regex::Regex;

use super::text::{after, lazy, listed};

static NAME_INTRO: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?:(?P<strong>my\s+name\s+is|my\s+name's|name\s+is|name\s*:)|i'm|i\s+am|im|this\s+is)[ \t]*",
    )
});
/// "Jane here", after the start, a greeting or a break.
static NAME_HERE: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?:^|[.!?,\n]|\b(?i:hi|hello|hey|hiya|howdy|good\s+(?:morning|afternoon|evening))\b)[\s,!.\-]*(?P<name>\p{L}[\p{L}'\-]*(?:[ \t]+\p{L}[\p{L}'\-]*){0,3})[ \t]+(?i:here)\b",
    )
});
/// "- Mike" or "Thanks, Mike" closing the message.
static SIGN_OFF: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?:(?:^|\s)[-~]+|\b(?i:thanks|thank\s+you|thx|regards|best|cheers|sincerely)\b[,!.]*)[ \t]*(?:\n\s*)?(?P<name>\p{L}[\p{L}'\-]*(?:[ \t]+\p{L}[\p{L}'\-]*){0,3})[\s.!]*$",
    )
});

/// Words that follow "I'm" / "this is" without being a name.
const NOT_NAME: &str =
    "a about actually afraid again agent all also am an and another anyone are around as \
    asking at available aware away back based be been both busy but by call calling can \
    checking concerned contacting contractor could curious currently damage dealing \
    definitely desperate do done down email emergency estimate finally fine for friday from \
    frustrated getting glad going gonna good great had hail happy has have having hello here \
    hey hi home homeowner hopefully hoping house i i'd i'll i'm i've im in inspection \
    insurance interested into is it it's its just kind landlord leak leaking leaks located \
    looking may maybe me might monday moving much my need needing needs nervous new no not \
    now of ok okay old on one only or our out over owner phone planning please pretty \
    probably quite quote reaching ready really realtor regarding renter request retired roof \
    roofer roofing saturday scared seeing selling should sick so someone sorry still storm \
    sunday sure tenant texting thank thanks that the there thinking this thursday tired to \
    today told tomorrow trying tuesday two under unsure up upset urgent very want wanting \
    wants was water we wednesday well were what who will wind with wondering worried would \
    writing yes you your";

pub(super) fn find_name(text: &str) -> Option<String> {
    let lowercase_writer = writes_in_lowercase(text);
    let mut weak = None;
    for c in NAME_INTRO.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        let strong = c.name("strong").is_some();
        let Some(name) = leading_name(after(text, m.end()), !strong && !lowercase_writer, !strong)
        else {
            continue;
        };
        if strong {
            return Some(name);
        }
        weak.get_or_insert(name);
    }
    let whole = |re: &Regex| {
        re.captures_iter(text)
            .filter_map(|c| c.name("name"))
            .find_map(|m| whole_name(m.as_str(), !lowercase_writer))
    };
    weak.or_else(|| whole(&NAME_HERE))
        .or_else(|| whole(&SIGN_OFF))
}

/// The name words that start `s`, up to punctuation, a line end or a non-name word.
fn leading_name(mut s: &str, require_caps: bool, strict: bool) -> Option<String> {
    let mut names: Vec<String> = Vec::new();
    let mut caps = require_caps;
    while names.len() < 4 {
        s = s.trim_start_matches([' ', '\t']);
        let len = s
            .find(|c: char| !(c.is_alphabetic() || c == '\'' || c == '-'))
            .unwrap_or(s.len());
        let (word, mut rest) = s.split_at_checked(len)?;
        let initial = !names.is_empty() && word.chars().count() == 1 && rest.starts_with(". ");
        let title = names.is_empty() && listed(TITLES, &word.to_lowercase());
        if (initial && word.starts_with(char::is_uppercase)) || title {
            names.push(format!("{}.", title_case(word)));
            rest = rest.strip_prefix('.').unwrap_or(rest);
        } else if is_name_word(word, caps, strict)
            && (!names.is_empty() || word.chars().count() > 1)
        {
            // A capitalized first name means the writer capitalizes names: a lowercase word ends it.
            caps |= starts_upper(word);
            names.push(title_case(word));
        } else {
            break;
        }
        if !rest.starts_with([' ', '\t']) {
            break;
        }
        s = rest;
    }
    let only_title = names.len() == 1 && names[0].ends_with('.');
    (!names.is_empty() && !only_title).then(|| names.join(" "))
}

/// Courtesy titles kept in front of a name: "Dr. Smith".
const TITLES: &str = "dr miss mr mrs ms";

/// `s` if every word of it is a name word.
fn whole_name(s: &str, require_caps: bool) -> Option<String> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    let caps = require_caps || parts.first().is_some_and(|w| starts_upper(w));
    let ok = parts.first().is_some_and(|w| w.chars().count() > 1)
        && parts.iter().all(|w| is_name_word(w, caps, true));
    ok.then(|| {
        parts
            .iter()
            .map(|w| title_case(w))
            .collect::<Vec<_>>()
            .join(" ")
    })
}

fn starts_upper(w: &str) -> bool {
    w.starts_with(char::is_uppercase)
}

/// `strict` also refuses words shaped like verbs ("-ing", "-ed") unless written capitalized.
fn is_name_word(word: &str, require_caps: bool, strict: bool) -> bool {
    let lower = word.to_lowercase();
    let capitalized = starts_upper(word) && word.chars().skip(1).any(char::is_lowercase);
    !word.is_empty()
        && word.starts_with(char::is_alphabetic)
        && !listed(NOT_NAME, &lower)
        && (!require_caps || starts_upper(word))
        && !(strict
            && !capitalized
            && lower.chars().count() > 4
            && (lower.ends_with("ing") || lower.ends_with("ed")))
}

/// True when the writer doesn't capitalize names, so case can't tell a name from a word.
fn writes_in_lowercase(text: &str) -> bool {
    let mut sentence_start = true;
    for word in text.split_whitespace() {
        let pronoun = word == "I" || word.starts_with("I'");
        if !sentence_start && !pronoun && starts_upper(word) {
            return false;
        }
        sentence_start = word.ends_with(['.', '!', '?']);
    }
    true
}

/// "maria" → "Maria", "o'brien" → "O'Brien", "JANE" → "Jane"; mixed case is kept as written.
fn title_case(word: &str) -> String {
    if word.chars().any(char::is_lowercase) && word.chars().any(char::is_uppercase) {
        return word.to_owned();
    }
    let mut out = String::with_capacity(word.len());
    let mut upper = true;
    for (i, c) in word.chars().enumerate() {
        if upper {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper = c == '-' || (c == '\'' && i == 1);
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, s, tags};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
        ("I am Bob Smith and I need a roof inspection", LeadProfile { name: s("Bob Smith"), issues: tags(&["inspection"]), ..none() }),
        ("this is Bob, roof has some missing shingles", LeadProfile { name: s("Bob"), issues: tags(&["missing_shingles"]), ..none() }),
        ("my name is maria garcia and we have a leak in the kitchen ceiling", LeadProfile { name: s("Maria Garcia"), issues: tags(&["leak"]), ..none() }),
        ("Name: Tom O'Brien. Email tom.obrien@Example.com.", LeadProfile { name: s("Tom O'Brien"), email: s("tom.obrien@example.com"), ..none() }),
        ("Jane here, the gutters are clogged and falling off", LeadProfile { name: s("Jane"), issues: tags(&["gutters"]), ..none() }),
        ("Roof is leaking. Please call 214-748-3647\n- Mike", LeadProfile { name: s("Mike"), phone: s("+12147483647"), issues: tags(&["leak"]), ..none() }),
        ("Thanks!\nSarah Lee", LeadProfile { name: s("Sarah Lee"), ..none() }),
        ("i'm jane and my roof is 15 years old", LeadProfile { name: s("Jane"), roof_age_years: Some(15), ..none() }),
        ("Hi, I'm Jane M. Doe from Plano", LeadProfile { name: s("Jane M. Doe"), ..none() }),
        ("this is dr john smith", LeadProfile { name: s("Dr. John Smith"), ..none() }),
        ("I\u{2019}m JANE DOE", LeadProfile { name: s("Jane Doe"), ..none() }),
        ("I'm interested in a new roof, just getting prices", LeadProfile { issues: tags(&["full_replacement"]), timeline: s("just_browsing"), ..none() }),
        ("I'm looking for a quote on a re-roof", LeadProfile { issues: tags(&["full_replacement", "inspection"]), ..none() }),
        ("I'm not sure how old the roof is", none()),
        ("this is urgent! water coming through the ceiling", LeadProfile { issues: tags(&["leak"]), timeline: s("asap"), ..none() }),
        ("I'm in Dallas, roof got hit by hail", LeadProfile { issues: tags(&["hail_damage"]), ..none() }),
        ("I am calling about my roof, I'm so worried", none()),
        ("name: tom o'brien", LeadProfile { name: s("Tom O'Brien"), ..none() }),
        ("This is Jane Doe calling about a leak", LeadProfile { name: s("Jane Doe"), issues: tags(&["leak"]), ..none() }),
        (
            "Hi! I'm Sarah. My roof at 55 Birch Rd is leaking around the skylight and we have an insurance claim open. Sarah.Connor@gmail.com or 469-555-0199",
            LeadProfile {
                name: s("Sarah"),
                email: s("sarah.connor@gmail.com"),
                phone: s("+14695550199"),
                property_address: s("55 Birch Rd"),
                issues: tags(&["leak", "insurance_claim", "flashing"]),
                ..none()
            },
        ),
        (
            "Looking to replace our roof this spring, budget $15k-$20k. -- Tom",
            LeadProfile {
                name: s("Tom"),
                issues: tags(&["full_replacement"]),
                timeline: s("few_months"),
                budget: s("$15,000-$20,000"),
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
