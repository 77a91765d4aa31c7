//! Phone numbers, in E.164.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::text::{after, before, lazy, next_char};
use super::MAX_TRIES;

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

#[cfg(test)]
pub(super) mod tests {
    use super::super::extract;
    use super::super::tests::{check, ex, none, s};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
            (
                "my number is 2147483647",
                LeadProfile {
                    phone: s("+12147483647"),
                    ..none()
                },
            ),
            (
                "+1 214 748 3647 is my cell",
                LeadProfile {
                    phone: s("+12147483647"),
                    ..none()
                },
            ),
            (
                "1-214-748-3647 anytime",
                LeadProfile {
                    phone: s("+12147483647"),
                    ..none()
                },
            ),
            (
                "Zip is 75201, built in 2004, $12,000",
                LeadProfile {
                    budget: s("$12,000"),
                    ..none()
                },
            ),
        ]
    }

    #[test]
    fn reads_its_phrasings() {
        check(&phrasings());
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
}
