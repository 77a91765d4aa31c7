//! Property addresses: "123 Oak St" and what may follow (directional, unit, city, state, ZIP),
//! each part optional.

use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::text::{after, before, lazy, listed, next_char, words};
use super::MAX_TRIES;

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

pub(super) fn find_address(text: &str) -> Option<(Range<usize>, String)> {
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

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, s, tags};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
            (
                "I live at 42 Elm Street",
                LeadProfile {
                    property_address: s("42 Elm Street"),
                    ..none()
                },
            ),
            (
                "The house is at 7 N Main St Apt 4, Austin, TX 78701",
                LeadProfile {
                    property_address: s("7 N Main St Apt 4, Austin, TX 78701"),
                    ..none()
                },
            ),
            (
                "We're at 1500 Park Place Dr #12 in Houston",
                LeadProfile {
                    property_address: s("1500 Park Place Dr #12"),
                    ..none()
                },
            ),
            (
                "roof at 900 oak tree ln, plano tx 75024 is sagging",
                LeadProfile {
                    property_address: s("900 oak tree ln, plano tx 75024"),
                    issues: tags(&["sagging"]),
                    ..none()
                },
            ),
            (
                "Property: 3100 W. 7th St., Fort Worth, TX 76107",
                LeadProfile {
                    property_address: s("3100 W. 7th St., Fort Worth, TX 76107"),
                    ..none()
                },
            ),
            (
                "5 years at 123 Oak St",
                LeadProfile {
                    property_address: s("123 Oak St"),
                    ..none()
                },
            ),
            (
                "1600 Pennsylvania Ave NW, Washington, DC 20500",
                LeadProfile {
                    property_address: s("1600 Pennsylvania Ave NW, Washington, DC 20500"),
                    ..none()
                },
            ),
            (
                "12 Baker Street, London",
                LeadProfile {
                    property_address: s("12 Baker Street, London"),
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
