//! Contact normalization for lead identity: E.164 phone numbers (via the `phonenumber`
//! library, never a regex) and lower-cased email addresses.

use phonenumber::country::Id as Region;

/// E.164 form of `raw` (`+13126412278`), read in `region` when it has no country code.
/// `None` when it is not a valid number.
pub fn normalize_phone(raw: &str, region: Region) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > 40 {
        return None;
    }
    let number = phonenumber::parse(Some(region), raw).ok()?;
    phonenumber::is_valid(&number)
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

/// Lower-cased address from `jane@x.com` or `Jane Doe <Jane@X.com>`; `None` when not an address.
pub fn normalize_email(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let addr = match (raw.rfind('<'), raw.rfind('>')) {
        (Some(l), Some(r)) if l < r => &raw[l + 1..r],
        _ => raw,
    };
    let addr = addr.trim().trim_start_matches("mailto:");
    let (local, domain) = addr.rsplit_once('@')?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && domain.len() >= 3
        && domain.len() <= 253
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !addr
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',');
    ok.then(|| addr.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_formats_normalize_to_one_e164_number() {
        for raw in [
            "(312) 641-2278",
            "+1 312 641 2278",
            "312.641.2278",
            "3126412278",
            "1-312-641-2278",
        ] {
            assert_eq!(
                normalize_phone(raw, Region::US).as_deref(),
                Some("+13126412278"),
                "{raw}"
            );
        }
    }

    #[test]
    fn invalid_phone_numbers_are_rejected() {
        for raw in [
            "",
            "12",
            "hello",
            "+1 000 000 0000",
            "555-0000-99999999999999999999999999999999999999",
        ] {
            assert_eq!(normalize_phone(raw, Region::US), None, "{raw}");
        }
    }

    #[test]
    fn region_decides_numbers_without_country_code() {
        assert_eq!(
            normalize_phone("020 7946 0958", Region::GB).as_deref(),
            Some("+442079460958")
        );
    }

    #[test]
    fn emails_are_lower_cased_and_display_names_dropped() {
        assert_eq!(
            normalize_email(" Jane@Example.COM ").as_deref(),
            Some("jane@example.com")
        );
        assert_eq!(
            normalize_email("Jane Doe <Jane@Example.com>").as_deref(),
            Some("jane@example.com")
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@x.com",
            "ja ne@x.com",
            "jane@localhost",
            "a@b.c, c@d.e",
        ] {
            assert_eq!(normalize_email(bad), None, "{bad}");
        }
    }
}
