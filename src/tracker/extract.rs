//! Lead details from free text (a chat message, an email, a text): the one extractor the
//! chat and the AI responder use (the rules responder no longer has checks of its own).
//!
//! Heuristic and regex-based. Each finder knows the common ways a homeowner states one field
//! and leaves it empty when unsure: a wrong value on a lead card costs more than a missing one,
//! which staff simply ask for. Spans claimed by one field (email, phone, address) are blanked
//! before the others run, so their digits never turn into a budget, an age or a name.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};

/// Only the start of a message is read: bounds the work per message.
const MAX_CHARS: usize = 5_000;

/// Candidates tried per field where a rejected one makes the search go on past it.
const MAX_TRIES: usize = 64;

/// Timeline tags, most urgent first (merging keeps the most urgent).
const TIMELINES: [&str; 6] = [
    "asap",
    "this_week",
    "this_month",
    "next_month",
    "few_months",
    "just_browsing",
];

/// Lead details found in one message; also a lead's fields as stored (`LeadFields`), so a
/// merge result can be merged again. Deserializable with any field missing, since callers
/// read it back from a session's stored JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Extracted {
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    /// Canonical issue tags, in a fixed order.
    pub issues: Vec<String>,
    /// One of `asap`, `this_week`, `this_month`, `next_month`, `few_months`, `just_browsing`.
    pub timeline: Option<String>,
    /// Normalized: `$12,000`, `under $10,000`, `$8,000-$10,000`.
    pub budget: Option<String>,
}

impl Extracted {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Lead details found in `text`.
///
/// `region`: default region for phone numbers without a country code.
/// `now_year`: the current year, to turn "installed in 2004" into an age.
pub fn extract(text: &str, region: phonenumber::country::Id, now_year: i32) -> Extracted {
    let mut text = normalize(first_chars(text, MAX_CHARS));
    let email = find_email(&text).map(|(span, email)| blank(&mut text, span, email));
    let phone = find_phone(&text, region).map(|(span, phone)| blank(&mut text, span, phone));
    let property_address = find_address(&text).map(|(span, a)| blank(&mut text, span, a));
    Extracted {
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

/// A lead's fields as stored: the same fields as what a message yields.
pub type LeadFields = Extracted;

/// `known` completed with `found`, and the names of the fields that changed.
///
/// A known value is never overwritten by a weaker guess: fields are only filled when empty,
/// except that a longer address containing the known one replaces it (it is more complete),
/// a timeline is replaced by a more urgent one, and issues are unioned.
pub fn merge(known: &LeadFields, found: &Extracted) -> (LeadFields, Vec<&'static str>) {
    let mut out = known.clone();
    let mut changed = Vec::new();
    let mut note = |did: bool, field: &'static str| {
        if did {
            changed.push(field);
        }
    };
    note(fill(&mut out.name, &found.name), "name");
    note(fill(&mut out.email, &found.email), "email");
    note(fill(&mut out.phone, &found.phone), "phone");
    note(
        refine_address(&mut out.property_address, &found.property_address),
        "property_address",
    );
    note(
        out.roof_age_years.is_none() && found.roof_age_years.is_some(),
        "roof_age_years",
    );
    out.roof_age_years = out.roof_age_years.or(found.roof_age_years);
    note(union(&mut out.issues, &found.issues), "issues");
    note(hasten(&mut out.timeline, &found.timeline), "timeline");
    note(fill(&mut out.budget, &found.budget), "budget");
    (out, changed)
}

fn is_blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn fill(slot: &mut Option<String>, new: &Option<String>) -> bool {
    if !is_blank(slot) || is_blank(new) {
        return false;
    }
    slot.clone_from(new);
    true
}

fn refine_address(slot: &mut Option<String>, new: &Option<String>) -> bool {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    match (slot.as_deref(), new.as_deref()) {
        (Some(old), Some(new)) if !old.trim().is_empty() => {
            let (old, new_squashed) = (squash(old), squash(new));
            if new_squashed.len() <= old.len() || !new_squashed.contains(&old) {
                return false;
            }
            *slot = Some(new.to_owned());
            true
        }
        _ => fill(slot, new),
    }
}

fn union(issues: &mut Vec<String>, new: &[String]) -> bool {
    let before = issues.len();
    for tag in new {
        if !issues.contains(tag) {
            issues.push(tag.clone());
        }
    }
    issues.len() > before
}

/// Takes `new` when it is more urgent; a known timeline that isn't a canonical tag was typed by
/// staff and is kept.
fn hasten(slot: &mut Option<String>, new: &Option<String>) -> bool {
    let rank = |t: &str| TIMELINES.iter().position(|x| *x == t);
    let Some(new_rank) = new.as_deref().and_then(rank) else {
        return false;
    };
    if !is_blank(slot)
        && slot
            .as_deref()
            .and_then(rank)
            .is_none_or(|old| old <= new_rank)
    {
        return false;
    }
    slot.clone_from(new);
    true
}

// ---------------------------------------------------------------------------------------------
// Text helpers. Every byte offset used comes from a regex match or a char search, so slicing is
// always on a char boundary; `get` keeps it panic-free regardless.

/// Whether `word` is one of the space-separated words of `list`.
fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

fn lazy(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

fn before(text: &str, i: usize) -> &str {
    text.get(..i).unwrap_or("")
}

fn after(text: &str, i: usize) -> &str {
    text.get(i..).unwrap_or("")
}

fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| before(s, i))
}

fn last_chars(s: &str, n: usize) -> &str {
    s.char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(s, |(i, _)| after(s, i))
}

/// Sentence breaks; clause breaks add the comma.
const SENTENCE: &[char] = &['.', '!', '?', ';', '\n'];
const CLAUSE: &[char] = &['.', '!', '?', ';', '\n', ','];

/// The end of `s` back to the last of `breaks`, at most `n` chars.
fn tail_after<'a>(s: &'a str, breaks: &[char], n: usize) -> &'a str {
    let s = last_chars(s, n);
    s.rfind(breaks).map_or(s, |i| after(s, i + 1))
}

/// The start of `s` up to the first of `breaks`, at most `n` chars.
fn head_before<'a>(s: &'a str, breaks: &[char], n: usize) -> &'a str {
    let s = first_chars(s, n);
    s.find(breaks).map_or(s, |i| before(s, i))
}

/// Lower-cased words (letters, digits, apostrophes).
fn words(s: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
}

/// Curly quotes, dashes and odd spaces made plain, so patterns need one spelling.
fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c if c.is_whitespace() && c != '\n' => ' ',
            c => c,
        })
        .collect()
}

/// Blanks a claimed span (same byte length, so other offsets stay valid) and passes `v` on.
fn blank<T>(text: &mut String, span: Range<usize>, v: T) -> T {
    if text.get(span.clone()).is_some() {
        text.replace_range(span.clone(), &" ".repeat(span.len()));
    }
    v
}

/// The byte offset after the char at `i`.
fn next_char(text: &str, i: usize) -> usize {
    i + after(text, i).chars().next().map_or(1, char::len_utf8)
}

/// Whether the few words before `start` in its clause negate what follows ("no leaks").
fn negated(text: &str, start: usize) -> bool {
    words(tail_after(before(text, start), CLAUSE, 40))
        .rev()
        .take(3)
        .any(|w| {
            matches!(
                w.as_str(),
                "no" | "not" | "never" | "without" | "nor" | "non" | "cannot"
            ) || w.ends_with("n't")
        })
}

// ---------------------------------------------------------------------------------------------
// Email and phone.

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    lazy(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b")
});

fn find_email(text: &str) -> Option<(Range<usize>, String)> {
    let m = EMAIL.find(text)?;
    Some((m.range(), m.as_str().trim_matches('.').to_lowercase()))
}

/// North American layouts first (so a trailing ZIP is never swallowed), then any `+` number,
/// then national numbers with a trunk `0` for regions outside North America.
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?:\+?1[\s.\-]?)?(?:\(\d{3}\)|\d{3})[\s.\-]?\d{3}[\s.\-]?\d{4}|\+\d[\d\s.\-()]{6,18}\d|\(?0\d[\d\s.\-()]{6,14}\d",
    )
});

/// The first phone number in `text`: where it is written, and its E.164 form.
pub fn find_phone(text: &str, region: phonenumber::country::Id) -> Option<(Range<usize>, String)> {
    let mut at = 0;
    for _ in 0..MAX_TRIES {
        let Some(m) = PHONE.find_at(text, at) else {
            break;
        };
        // Part of a longer number, a price or a word: not a phone.
        let glued = before(text, m.start())
            .ends_with(|c: char| c.is_alphanumeric() || "$,".contains(c))
            || after(text, m.end()).starts_with(|c: char| c.is_ascii_digit());
        if !glued {
            if let Ok(n) = phonenumber::parse(Some(region), m.as_str()) {
                if phonenumber::is_valid(&n) {
                    return Some((
                        m.range(),
                        n.format().mode(phonenumber::Mode::E164).to_string(),
                    ));
                }
            }
        }
        at = next_char(text, m.start());
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Address: "123 Oak St" and what may follow (directional, unit, city, state, ZIP), each part
// read by an anchored pattern on what is left.

const SUFFIXES: &str = "st|street|ave|av|avenue|rd|road|dr|drive|ln|lane|blvd|boulevard|ct|court|\
    way|pl|place|cir|circle|ter|terrace|trl|trail|pkwy|parkway|hwy|highway|loop|cv|cove|sq|square|\
    pike|xing|crossing";

const STATES: &str = "(?-i:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|\
    MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY)|alabama|\
    alaska|arizona|arkansas|california|colorado|connecticut|delaware|florida|georgia|hawaii|idaho|\
    illinois|indiana|iowa|kansas|kentucky|louisiana|maine|maryland|massachusetts|michigan|\
    minnesota|mississippi|missouri|montana|nebraska|nevada|new\\s+hampshire|new\\s+jersey|\
    new\\s+mexico|new\\s+york|north\\s+carolina|north\\s+dakota|ohio|oklahoma|oregon|pennsylvania|\
    rhode\\s+island|south\\s+carolina|south\\s+dakota|tennessee|texas|utah|vermont|virginia|\
    washington|west\\s+virginia|wisconsin|wyoming";

/// Up to three city words; lazy so a state or ZIP after them is not eaten.
const CITY: &str = r"[a-z][a-z.'\-]*(?:\s+[a-z][a-z.'\-]*){0,2}?";
const SEP: &str = r"(?:\s*,\s*|\s+)";

static STREET: LazyLock<Regex> = LazyLock::new(|| {
    lazy(&format!(
        r"(?i)\b(?P<num>\d{{1,6}}[a-z]?)\s+(?P<street>(?:[a-z0-9][a-z0-9'.\-]*\s+){{0,3}}?[a-z0-9][a-z0-9'.\-]*)\s+(?:{SUFFIXES})\b\.?"
    ))
});
/// A second suffix word: "Park Place Dr".
static MORE_SUFFIX: LazyLock<Regex> =
    LazyLock::new(|| lazy(&format!(r"(?i)^\s+(?:{SUFFIXES})\b\.?")));
static DIRECTIONAL: LazyLock<Regex> =
    LazyLock::new(|| lazy(r"^\s+(?:N|S|E|W|NE|NW|SE|SW|North|South|East|West)\b\.?"));
static UNIT: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)^\s*,?\s*(?:(?:apt|apartment|unit|suite|ste|bldg|lot)\b\.?\s*#?\s*|#\s*)(?:\d[a-z0-9\-]{0,5}|[a-z]\d{0,4})\b",
    )
});
/// City and state, then maybe a ZIP.
static CITY_STATE: LazyLock<Regex> = LazyLock::new(|| {
    lazy(&format!(
        r"(?i)^{SEP}(?P<city>{CITY}){SEP}(?:{STATES})\b(?:\s*,?\s*\d{{5}}(?:-\d{{4}})?\b)?"
    ))
});
/// A ZIP, after a city and/or a state, or alone.
static CITY_ZIP: LazyLock<Regex> = LazyLock::new(|| {
    lazy(&format!(
        r"(?i)^{SEP}(?:(?P<city>{CITY}){SEP})?(?:(?:{STATES})\s*,?\s*)?\d{{5}}(?:-\d{{4}})?\b"
    ))
});
/// Only a capitalized city after a comma.
static CITY_ONLY: LazyLock<Regex> =
    LazyLock::new(|| lazy(r"^\s*,\s*(?P<city>[A-Z][a-z'\-]+(?:\s+[A-Z][a-z'\-]+){0,2})\b"));

/// Words that mean the digits before them are a quantity, not a house number.
const NOT_STREET: &str =
    "a about all an and around at bucks but by day days dollars feet for from ft grand hour \
    hours i if in is it it's its k layer layers leak leaks less mile miles minutes month \
    months more my of old on or our people roof roofs shingle shingles so squares stories \
    story than that the this thousand times to was we week weeks with year years yr yrs";

/// Words that end a city: the sentence went on instead.
const NOT_CITY: &str =
    "a about an and are at been budget but by call email for from had has have home house i \
    i'm in is it it's its leak leaking leaks my near need needs of on or our phone please \
    roof since so thanks that the this to was we with your";

fn find_address(text: &str) -> Option<(Range<usize>, String)> {
    let mut at = 0;
    for _ in 0..MAX_TRIES {
        let Some(c) = STREET.captures_at(text, at) else {
            break;
        };
        let (num, whole) = (c.name("num")?, c.get(0)?);
        let glued = before(text, num.start()).ends_with(|c: char| "$,.-/#".contains(c));
        let is_street = c.name("street").is_some_and(|s| {
            words(s.as_str())
                .all(|w| !listed(NOT_STREET, &w) && !w.bytes().all(|b| b.is_ascii_digit()))
        });
        if !glued && is_street {
            let end = address_end(text, whole.end());
            let found = before(text, end).get(num.start()..).unwrap_or("");
            let address = found.split_whitespace().collect::<Vec<_>>().join(" ");
            return Some((
                num.start()..end,
                address.trim_end_matches(['.', ',']).to_owned(),
            ));
        }
        at = next_char(text, num.start());
    }
    None
}

/// Where the address whose street part ends at `end` really ends (unit, city, state, ZIP).
fn address_end(text: &str, mut end: usize) -> usize {
    for part in [&*MORE_SUFFIX, &*DIRECTIONAL, &*UNIT] {
        end += part.find(after(text, end)).map_or(0, |m| m.end());
    }
    let rest = after(text, end);
    let city_ok = |c: &Captures| {
        c.name("city")
            .is_none_or(|city| words(city.as_str()).all(|w| !listed(NOT_CITY, &w)))
    };
    [&*CITY_STATE, &*CITY_ZIP, &*CITY_ONLY]
        .iter()
        .filter_map(|re| re.captures(rest))
        .find(|c| city_ok(c))
        .and_then(|c| c.get(0))
        .map_or(end, |m| end + m.end())
}

// ---------------------------------------------------------------------------------------------
// Name.

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

fn find_name(text: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------------------------
// Roof age.

/// Spelled numbers people use for ages and amounts.
const NUM_WORDS: &str = r"(?:twenty|thirty|forty|fifty)(?:[\s\-](?:one|two|three|four|five|six|seven|eight|nine)\b)?|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|ten|one|two|three|four|five|six|seven|eight|nine|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a\s+dozen|dozen";

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

fn find_roof_age(text: &str, now_year: i32) -> Option<i32> {
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

/// A number written in digits or words ("fifteen", "twenty-one", "a couple").
fn number(s: &str) -> Option<i32> {
    if let Ok(n) = s.trim().parse() {
        return Some(n);
    }
    let lower = s.to_lowercase();
    let mut parts = lower
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty() && *w != "a" && *w != "of");
    let base = match parts.next()? {
        "one" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" | "dozen" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        _ => return None,
    };
    match parts.next() {
        None => Some(base),
        Some(unit) => number(unit)
            .filter(|u| base >= 20 && *u < 10)
            .map(|u| base + u),
    }
}

// ---------------------------------------------------------------------------------------------
// Issues.

/// Issue tags in reporting order, each with the ways people say it (`{few}`: "some", "a
/// couple of", "3"…).
const ISSUES: &[(&str, &[&str])] = &[
    (
        "leak",
        &[
            r"\bleak(?:s|ing|ed|y|age)?\b",
            r"\bwater\s+(?:is\s+|was\s+)?(?:coming|comes|came|getting|gets|got|dripping|drips|leaking|pouring|seeping|running)\s+(?:in|into|through|down|from)\b",
            r"\bwater\s+(?:stains?|spots?|marks?|damage)\b",
            r"\b(?:stains?|spots?)\s+on\s+(?:the|my|our)\s+ceiling\b",
            r"\bceiling\s+(?:stains?|is\s+stained|damage|is\s+wet|is\s+dripping)\b",
            r"\bdrip(?:s|ping)\b",
            r"\bwet\s+(?:ceiling|attic|spots?|insulation|drywall)\b",
        ],
    ),
    (
        "missing_shingles",
        &[
            r"\b(?:missing|lost|losing|lose)\s+{few}shingles?\b",
            r"\bshingles?\s+(?:(?:are|were|have|has|been|just|got|all)\s+)*(?:missing|gone|(?:blew|blown|blowing|came|coming|flew|fell|falling|torn|ripped)\s+off)\b",
            r"\b(?:blew|blown|ripped|tore|torn)\s+(?:off\s+)?{few}shingles?\b",
        ],
    ),
    (
        "damaged_shingles",
        &[
            r"\b(?:curl(?:ing|ed|y)?|crack(?:ed|ing)?|broken|damaged|loose|lifting|lifted|buckl(?:ing|ed)|brittle|blister(?:ing|ed)|worn)\s+(?:(?:up|out|asphalt|roof|some|a\s+few|of\s+the|the)\s+)*shingles?\b",
            r"\bshingles?\s+(?:(?:are|is|were|have|has|look|looks|seem|been|getting|starting\s+to|all|kind\s+of|really|pretty)\s+)*(?:curl(?:ing|ed|s)?|crack(?:ed|ing|s)?|broken|damaged|loose|lifting|buckl(?:ing|ed)|brittle|blister(?:ing|ed)|worn|falling\s+apart|deteriorat(?:ing|ed)|losing\s+granules)\b",
            r"\bgranules?\b",
        ],
    ),
    ("hail_damage", &[r"\bhail(?:storms?|stones?|ed)?\b"]),
    // "hail storm" / "wind storm" match here but are tagged as hail / wind only.
    (
        "storm_damage",
        &[
            r"\b(?:thunder|rain|snow|ice|hail\s*|wind\s*)?storms?\b",
            r"\btornado(?:es)?\b",
            r"\bhurricanes?\b",
        ],
    ),
    (
        "wind_damage",
        &[r"\bwind(?:s|y|storms?)?\b", r"\bgusts?\b", r"\bderecho\b"],
    ),
    (
        "sagging",
        &[
            r"\bsag(?:s|ging|gy|ged)?\b",
            r"\bdipp(?:ing|ed)\b",
            r"\bdips?\b",
            r"\bdroop(?:s|ing|y)?\b",
            r"\bbow(?:ing|ed)\b",
            r"\bcav(?:ing|ed)\s+in\b",
            r"\bsoft\s+spots?\b",
            r"\bspongy\b",
            r"\bsinking\b",
        ],
    ),
    ("gutters", &[r"\bgutters?\b", r"\bdownspouts?\b"]),
    (
        "mold",
        &[
            r"\bmou?ldy?\b",
            r"\bmossy?\b",
            r"\balgae\b",
            r"\bmildew\b",
            r"\bblack\s+streaks?\b",
            r"\bfung(?:us|i)\b",
        ],
    ),
    (
        "insurance_claim",
        &[
            r"\binsurance\b",
            r"\binsured\b",
            r"\badjusters?\b",
            r"\bclaims?\b",
            r"\bdeductible\b",
        ],
    ),
    (
        "flashing",
        &[
            r"\bflashings?\b",
            r"\bdrip\s+edge\b",
            r"\b(?:pipe|vent)\s+boots?\b",
            r"\bchimney\b",
            r"\bskylights?\b",
        ],
    ),
    (
        "ventilation",
        &[
            r"\bventilat(?:ion|ed|ing|e)\b",
            r"\bvents?\b",
            r"\bsoffits?\b",
            r"\battic\s+fan\b",
            r"\b(?:hot|stuffy|humid)\s+attic\b",
            r"\battic\s+(?:is\s+)?(?:too\s+|really\s+|so\s+)?(?:hot|humid|stuffy)\b",
            r"\bcondensation\b",
        ],
    ),
    (
        "ice_dam",
        &[
            r"\bice\s*dams?\b",
            r"\bice\s+damming\b",
            r"\bicicles?\b",
            r"\bice\s+build-?\s?ups?\b",
        ],
    ),
    (
        "tree_damage",
        &[
            r"\b(?:trees?|branch(?:es)?|limbs?)\b[^.!?\n]{0,30}?\b(?:fell|fall|fallen|falling|hit|hits|landed|crashed|came\s+down|went\s+through|punctured|on\s+(?:the|my|our)\s+(?:roof|house))\b",
            r"\b(?:fallen|overhanging)\s+(?:trees?|branch(?:es)?|limbs?)\b",
            r"\btree\s+damage\b",
        ],
    ),
    (
        "full_replacement",
        &[
            r"\breplac(?:e|ing)\s+(?:the\s+|my\s+|our\s+|a\s+|this\s+)?(?:whole\s+|entire\s+|old\s+)?roof\b",
            r"\broof\s+replacements?\b",
            r"\bre-?roof(?:ing)?\b",
            r"\b(?:full|complete|total)\s+(?:roof\s+)?replacement\b",
            r"\btear[\s\-]?off\b",
            r"\broof\s+needs?\s+(?:to\s+be\s+)?replac(?:ed|ing)\b",
            r"\bnew\s+roof\b",
        ],
    ),
    (
        "inspection",
        &[
            r"\binspect(?:ion|ions|or)?\b",
            r"\bestimates?\b",
            r"\bassessment\b",
            r"\bquotes?\b",
            r"\b(?:take|have)\s+a\s+look\b",
            r"\blook\s+at\s+(?:it|the\s+roof|my\s+roof|our\s+roof)\b",
            r"\bcome\s+(?:out|by)\b",
        ],
    ),
];

/// A count of shingles: "some", "a couple of", "3"…
const FEW: &str = r"(?:(?:some|a\s+few|a\s+couple(?:\s+of)?|several|many|lots\s+of|a\s+lot\s+of|a\s+bunch\s+of|a|the|my|our|of|\d+|two|three|four|five|ten)\s+)*";

/// One case-insensitive pattern made of the alternatives.
fn any_of(alternatives: &[&str]) -> Regex {
    lazy(&format!(
        "(?i){}",
        alternatives.join("|").replace("{few}", FEW)
    ))
}

static ISSUE_PATTERNS: LazyLock<Vec<(&str, Regex)>> = LazyLock::new(|| {
    ISSUES
        .iter()
        .map(|(tag, alts)| (*tag, any_of(alts)))
        .collect()
});

/// "new roof" is a request when wanted ("need a new roof", "new roof please") but not when had
/// ("got a brand new roof", "my new roof leaks").
static WANTS: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?:need|needs|needed|want|wants|get|getting|looking|quote|quotes|estimate|estimates|price|prices|pricing|cost|costs|considering|thinking|time\s+for|interested|how\s+much|install|installing|replace|for\s+a|about\s+a)\b",
    )
});
static HAS: LazyLock<Regex> = LazyLock::new(|| {
    lazy(r"(?i)\b(?:brand|got|had|have|has|put|installed|my|our|the|this|since|after)\b")
});

fn find_issues(text: &str) -> Vec<String> {
    ISSUE_PATTERNS
        .iter()
        .filter(|(tag, re)| re.find_iter(text).any(|m| issue_applies(tag, text, m)))
        .map(|(tag, _)| (*tag).to_owned())
        .collect()
}

fn issue_applies(tag: &str, text: &str, m: regex::Match) -> bool {
    let said = m.as_str().to_lowercase();
    let lead_in = tail_after(before(text, m.start()), CLAUSE, 40);
    let wrong_kind = match tag {
        "storm_damage" => said.starts_with("hail") || said.starts_with("wind"),
        "full_replacement" if said.ends_with("new roof") => {
            !WANTS.is_match(lead_in) && HAS.is_match(lead_in)
        }
        _ => false,
    };
    !wrong_kind && !negated(text, m.start())
}

// ---------------------------------------------------------------------------------------------
// Timeline.

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
fn find_timeline(text: &str) -> Option<&'static str> {
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

const PRICE_WORDS: &str =
    "quote quotes price prices pricing estimate estimates idea ballpark numbers options";

/// "just looking for someone to fix it" is a request, unlike "just looking for prices".
fn looking_for_work(text: &str, m: regex::Match) -> bool {
    let mut next = words(head_before(after(text, m.end()), SENTENCE, 60));
    m.as_str().to_lowercase().ends_with("looking")
        && next.next().is_some_and(|w| w == "for")
        && !next.take(4).any(|w| listed(PRICE_WORDS, &w))
}

// ---------------------------------------------------------------------------------------------
// Budget.

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

fn find_budget(text: &str) -> Option<String> {
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
mod tests {
    use super::*;
    use phonenumber::country::Id::US;

    fn s(v: &str) -> Option<String> {
        Some(v.to_owned())
    }

    fn tags(v: &[&str]) -> Vec<String> {
        v.iter().map(|t| (*t).to_owned()).collect()
    }

    fn ex(text: &str) -> Extracted {
        extract(text, US, 2026)
    }

    fn none() -> Extracted {
        Extracted::default()
    }

    #[test]
    fn phrasings() {
        let table: Vec<(&str, Extracted)> = vec![
            (
                "Hi, I'm Jane Doe, my roof at 123 Oak St, Dallas TX 75201 is about 20 years old and leaking after the hail storm. Need someone ASAP, budget around $12k. Call me at (214) 555-0134",
                Extracted {
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
            // Names.
            ("I am Bob Smith and I need a roof inspection", Extracted { name: s("Bob Smith"), issues: tags(&["inspection"]), ..none() }),
            ("this is Bob, roof has some missing shingles", Extracted { name: s("Bob"), issues: tags(&["missing_shingles"]), ..none() }),
            ("my name is maria garcia and we have a leak in the kitchen ceiling", Extracted { name: s("Maria Garcia"), issues: tags(&["leak"]), ..none() }),
            ("Name: Tom O'Brien. Email tom.obrien@Example.com.", Extracted { name: s("Tom O'Brien"), email: s("tom.obrien@example.com"), ..none() }),
            ("Jane here, the gutters are clogged and falling off", Extracted { name: s("Jane"), issues: tags(&["gutters"]), ..none() }),
            ("Roof is leaking. Please call 214-748-3647\n- Mike", Extracted { name: s("Mike"), phone: s("+12147483647"), issues: tags(&["leak"]), ..none() }),
            ("Thanks!\nSarah Lee", Extracted { name: s("Sarah Lee"), ..none() }),
            ("i'm jane and my roof is 15 years old", Extracted { name: s("Jane"), roof_age_years: Some(15), ..none() }),
            ("Hi, I'm Jane M. Doe from Plano", Extracted { name: s("Jane M. Doe"), ..none() }),
            ("this is dr john smith", Extracted { name: s("Dr. John Smith"), ..none() }),
            ("I\u{2019}m JANE DOE", Extracted { name: s("Jane Doe"), ..none() }),
            ("I'm interested in a new roof, just getting prices", Extracted { issues: tags(&["full_replacement"]), timeline: s("just_browsing"), ..none() }),
            ("I'm looking for a quote on a re-roof", Extracted { issues: tags(&["full_replacement", "inspection"]), ..none() }),
            ("I'm not sure how old the roof is", none()),
            ("this is urgent! water coming through the ceiling", Extracted { issues: tags(&["leak"]), timeline: s("asap"), ..none() }),
            ("I'm in Dallas, roof got hit by hail", Extracted { issues: tags(&["hail_damage"]), ..none() }),
            ("I am calling about my roof, I'm so worried", none()),
            ("name: tom o'brien", Extracted { name: s("Tom O'Brien"), ..none() }),
            ("This is Jane Doe calling about a leak", Extracted { name: s("Jane Doe"), issues: tags(&["leak"]), ..none() }),
            (
                "Hi! I'm Sarah. My roof at 55 Birch Rd is leaking around the skylight and we have an insurance claim open. Sarah.Connor@gmail.com or 469-555-0199",
                Extracted {
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
                Extracted {
                    name: s("Tom"),
                    issues: tags(&["full_replacement"]),
                    timeline: s("few_months"),
                    budget: s("$15,000-$20,000"),
                    ..none()
                },
            ),
            // Email and phone.
            ("Reach me at JANE.DOE@GMAIL.COM.", Extracted { email: s("jane.doe@gmail.com"), ..none() }),
            ("Call 214.748.3647 or email bob@roofs.co", Extracted { email: s("bob@roofs.co"), phone: s("+12147483647"), ..none() }),
            ("my number is 2147483647", Extracted { phone: s("+12147483647"), ..none() }),
            ("+1 214 748 3647 is my cell", Extracted { phone: s("+12147483647"), ..none() }),
            ("1-214-748-3647 anytime", Extracted { phone: s("+12147483647"), ..none() }),
            ("My email is Bob.Smith+roof@Yahoo.com, phone (469) 555 0199", Extracted { email: s("bob.smith+roof@yahoo.com"), phone: s("+14695550199"), ..none() }),
            ("Zip is 75201, built in 2004, $12,000", Extracted { budget: s("$12,000"), ..none() }),
            // Addresses.
            ("I live at 42 Elm Street", Extracted { property_address: s("42 Elm Street"), ..none() }),
            ("The house is at 7 N Main St Apt 4, Austin, TX 78701", Extracted { property_address: s("7 N Main St Apt 4, Austin, TX 78701"), ..none() }),
            ("We're at 1500 Park Place Dr #12 in Houston", Extracted { property_address: s("1500 Park Place Dr #12"), ..none() }),
            ("roof at 900 oak tree ln, plano tx 75024 is sagging", Extracted { property_address: s("900 oak tree ln, plano tx 75024"), issues: tags(&["sagging"]), ..none() }),
            ("Property: 3100 W. 7th St., Fort Worth, TX 76107", Extracted { property_address: s("3100 W. 7th St., Fort Worth, TX 76107"), ..none() }),
            ("5 years at 123 Oak St", Extracted { property_address: s("123 Oak St"), ..none() }),
            ("1600 Pennsylvania Ave NW, Washington, DC 20500", Extracted { property_address: s("1600 Pennsylvania Ave NW, Washington, DC 20500"), ..none() }),
            ("12 Baker Street, London", Extracted { property_address: s("12 Baker Street, London"), ..none() }),
            // Roof age.
            ("20-year-old roof with curling shingles", Extracted { roof_age_years: Some(20), issues: tags(&["damaged_shingles"]), ..none() }),
            ("it's about 15 yrs old", Extracted { roof_age_years: Some(15), ..none() }),
            ("The roof was installed in 2004", Extracted { roof_age_years: Some(22), ..none() }),
            ("roof put on in 2010, moss and algae everywhere", Extracted { roof_age_years: Some(16), issues: tags(&["mold"]), ..none() }),
            ("original roof from when the house was built in 1998", Extracted { roof_age_years: Some(28), ..none() }),
            ("the roof is 12, no leaks yet", Extracted { roof_age_years: Some(12), ..none() }),
            ("roof is around fifteen years", Extracted { roof_age_years: Some(15), ..none() }),
            ("roof is a couple years old", Extracted { roof_age_years: Some(2), ..none() }),
            ("The roof is twenty-five years old", Extracted { roof_age_years: Some(25), ..none() }),
            ("house built in 1998, roof replaced in 2015", Extracted { roof_age_years: Some(11), ..none() }),
            ("the house is 40 years old, roof is maybe 10", Extracted { roof_age_years: Some(10), ..none() }),
            ("we just got a brand new roof but the gutters are bad", Extracted { issues: tags(&["gutters"]), ..none() }),
            ("the roof has been leaking for 2 years", Extracted { issues: tags(&["leak"]), ..none() }),
            ("it has 30 year shingles on the roof", none()),
            ("my house is 30 years old and I'm 45", none()),
            ("The roof is from 1890, installed in 2030", none()),
            ("installed in 2004", Extracted { roof_age_years: Some(22), ..none() }),
            ("it was put on in 2004", Extracted { roof_age_years: Some(22), ..none() }),
            ("we replaced the windows in 2015", none()),
            // Timelines.
            ("Need this done this week", Extracted { timeline: s("this_week"), ..none() }),
            ("can you come by friday?", Extracted { timeline: s("this_week"), issues: tags(&["inspection"]), ..none() }),
            ("in the next few days please", Extracted { timeline: s("this_week"), ..none() }),
            ("sometime in a couple weeks", Extracted { timeline: s("this_month"), ..none() }),
            ("next week works", Extracted { timeline: s("this_month"), ..none() }),
            ("next month is fine", Extracted { timeline: s("next_month"), ..none() }),
            ("next spring, or sometime this year", Extracted { timeline: s("few_months"), ..none() }),
            ("no rush, not in a hurry", Extracted { timeline: s("just_browsing"), ..none() }),
            ("It's not urgent, maybe in a few months", Extracted { timeline: s("few_months"), ..none() }),
            ("not this week, maybe next month", Extracted { timeline: s("next_month"), ..none() }),
            ("leaking now! emergency", Extracted { issues: tags(&["leak"]), timeline: s("asap"), ..none() }),
            ("just looking for someone to fix my leak", Extracted { issues: tags(&["leak"]), ..none() }),
            // Budgets.
            ("budget around 15 thousand", Extracted { budget: s("$15,000"), ..none() }),
            ("about 15 grand", Extracted { budget: s("$15,000"), ..none() }),
            ("we have 12000 dollars", Extracted { budget: s("$12,000"), ..none() }),
            ("under 10,000", Extracted { budget: s("under $10,000"), ..none() }),
            ("less than $10k", Extracted { budget: s("under $10,000"), ..none() }),
            ("no more than 10k", Extracted { budget: s("under $10,000"), ..none() }),
            ("between 8 and 10k", Extracted { budget: s("$8,000-$10,000"), ..none() }),
            ("$8-10k", Extracted { budget: s("$8,000-$10,000"), ..none() }),
            ("budget is 20k", Extracted { budget: s("$20,000"), ..none() }),
            ("we were quoted 15k. our budget is 12.5k", Extracted { budget: s("$12,500"), ..none() }),
            ("the roof is 2004 and we have 20 years of problems", none()),
            ("20k square feet warehouse roof", none()),
            // Issues.
            ("insurance adjuster came out, filing a claim for wind damage", Extracted { issues: tags(&["wind_damage", "insurance_claim"]), ..none() }),
            ("tree fell on our roof after the storm", Extracted { issues: tags(&["storm_damage", "tree_damage"]), ..none() }),
            ("ice dams every winter, attic is hot, vents are clogged", Extracted { issues: tags(&["ventilation", "ice_dam"]), ..none() }),
            ("flashing around the chimney is loose", Extracted { issues: tags(&["flashing"]), ..none() }),
            ("shingles blew off in the wind", Extracted { issues: tags(&["missing_shingles", "wind_damage"]), ..none() }),
            ("lost some shingles and there are water stains on the ceiling", Extracted { issues: tags(&["leak", "missing_shingles"]), ..none() }),
            ("no leaks, no hail damage, just want an inspection", Extracted { issues: tags(&["inspection"]), ..none() }),
            ("the storm didn't cause any leaks", Extracted { issues: tags(&["storm_damage"]), ..none() }),
            ("we need to replace the whole roof", Extracted { issues: tags(&["full_replacement"]), ..none() }),
            ("new roof please", Extracted { issues: tags(&["full_replacement"]), ..none() }),
            ("my new roof is leaking", Extracted { issues: tags(&["leak"]), ..none() }),
            ("a few shingles blew off and some are cracked shingles", Extracted { issues: tags(&["missing_shingles", "damaged_shingles"]), ..none() }),
            ("hail hit us last night", Extracted { issues: tags(&["hail_damage"]), ..none() }),
            (
                "Can someone come out today? Tree limb fell through the roof during the storm!! 972.555.0188",
                Extracted {
                    phone: s("+19725550188"),
                    issues: tags(&["storm_damage", "tree_damage", "inspection"]),
                    timeline: s("asap"),
                    ..none()
                },
            ),
        ];
        assert!(table.len() >= 40);
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

    #[test]
    fn phone_uses_the_default_region() {
        let gb = extract(
            "ring me on 020 7946 0958",
            phonenumber::country::Id::GB,
            2026,
        );
        assert_eq!(gb.phone, s("+442079460958"));
        assert_eq!(ex("ring me on 020 7946 0958").phone, None);
        assert_eq!(ex("or +44 20 7946 0958").phone, s("+442079460958"));
    }

    #[test]
    fn is_empty_means_nothing_found() {
        assert!(ex("hello there").is_empty());
        assert!(!ex("no rush").is_empty());
    }

    fn known() -> LeadFields {
        LeadFields {
            name: s("Jane Doe"),
            email: s("jane@example.com"),
            phone: s("+12147483647"),
            property_address: s("123 Oak St"),
            roof_age_years: Some(20),
            issues: tags(&["leak", "custom tag"]),
            timeline: s("this_month"),
            budget: s("$12,000"),
        }
    }

    #[test]
    fn merge_fills_empty_fields_only() {
        let found = Extracted {
            name: s("Bob"),
            email: s("bob@example.com"),
            phone: s("+14695550199"),
            property_address: s("9 Elm St"),
            roof_age_years: Some(5),
            issues: tags(&["leak"]),
            timeline: s("few_months"),
            budget: s("$5,000"),
        };
        assert_eq!(merge(&known(), &found), (known(), vec![]));

        let blank = LeadFields {
            name: s("  "),
            ..LeadFields::default()
        };
        let (merged, changed) = merge(&blank, &found);
        assert_eq!(
            merged,
            LeadFields {
                name: s("Bob"),
                email: s("bob@example.com"),
                phone: s("+14695550199"),
                property_address: s("9 Elm St"),
                roof_age_years: Some(5),
                issues: tags(&["leak"]),
                timeline: s("few_months"),
                budget: s("$5,000"),
            }
        );
        assert_eq!(
            changed,
            [
                "name",
                "email",
                "phone",
                "property_address",
                "roof_age_years",
                "issues",
                "timeline",
                "budget"
            ]
        );
    }

    #[test]
    fn merge_refines_an_address() {
        let fuller = Extracted {
            property_address: s("123  oak st, Dallas TX 75201"),
            ..none()
        };
        let (merged, changed) = merge(&known(), &fuller);
        assert_eq!(merged.property_address, s("123  oak st, Dallas TX 75201"));
        assert_eq!(changed, ["property_address"]);

        for other in ["456 Elm St, Dallas TX 75201", "123 Oak", "123 Oak St"] {
            let found = Extracted {
                property_address: s(other),
                ..none()
            };
            assert_eq!(merge(&known(), &found), (known(), vec![]), "{other}");
        }
    }

    #[test]
    fn merge_takes_only_a_more_urgent_timeline() {
        let with = |t: &str| Extracted {
            timeline: s(t),
            ..none()
        };
        let (merged, changed) = merge(&known(), &with("asap"));
        assert_eq!((merged.timeline, changed), (s("asap"), vec!["timeline"]));
        for weaker in ["this_month", "next_month", "just_browsing", "someday"] {
            assert_eq!(
                merge(&known(), &with(weaker)),
                (known(), vec![]),
                "{weaker}"
            );
        }
        let typed_by_staff = LeadFields {
            timeline: s("after tax season"),
            ..known()
        };
        assert_eq!(merge(&typed_by_staff, &with("asap")).1, Vec::<&str>::new());
    }

    #[test]
    fn lead_fields_read_back_from_partial_json() {
        let json = serde_json::json!({ "name": "Jane", "issues": ["leak"] });
        let fields: LeadFields = serde_json::from_value(json).expect("partial lead fields");
        assert_eq!(
            fields,
            LeadFields {
                name: s("Jane"),
                issues: tags(&["leak"]),
                ..LeadFields::default()
            }
        );
    }

    #[test]
    fn merge_unions_issues() {
        let found = Extracted {
            issues: tags(&["gutters", "leak", "mold"]),
            ..none()
        };
        let (merged, changed) = merge(&known(), &found);
        assert_eq!(
            merged.issues,
            tags(&["leak", "custom tag", "gutters", "mold"])
        );
        assert_eq!(changed, ["issues"]);
        let same = Extracted {
            issues: tags(&["leak"]),
            ..none()
        };
        assert_eq!(merge(&known(), &same), (known(), vec![]));
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
