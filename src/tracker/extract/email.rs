//! Email addresses.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;

use super::text::lazy;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    lazy(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,24}\b")
});

pub(super) fn find_email(text: &str) -> Option<(Range<usize>, String)> {
    let m = EMAIL.find(text)?;
    Some((m.range(), m.as_str().trim_matches('.').to_lowercase()))
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, s};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
            (
                "Reach me at JANE.DOE@GMAIL.COM.",
                LeadProfile {
                    email: s("jane.doe@gmail.com"),
                    ..none()
                },
            ),
            (
                "Call 214.748.3647 or email bob@roofs.co",
                LeadProfile {
                    email: s("bob@roofs.co"),
                    phone: s("+12147483647"),
                    ..none()
                },
            ),
            (
                "My email is Bob.Smith+roof@Yahoo.com, phone (469) 555 0199",
                LeadProfile {
                    email: s("bob.smith+roof@yahoo.com"),
                    phone: s("+14695550199"),
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
