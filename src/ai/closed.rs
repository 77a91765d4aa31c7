//! The words of an automatic answer while the business is closed: when it opens again
//! (local time, in words) and the booking link, for a text, an email or a missed call.

use chrono::{DateTime, Duration, Utc};

use crate::hours::BusinessHours;

/// The closed-hours answer (`via`: "texting", "emailing" or "calling"): when it opens
/// again (local time, in words) and how to book.
pub fn answer(
    via: &str,
    company: &str,
    first_name: Option<&str>,
    hours: &BusinessHours,
    now: DateTime<Utc>,
    booking: Option<&str>,
) -> String {
    let hello = match first_name {
        Some(n) => format!("Hi {n}, thanks"),
        None => "Thanks".to_string(),
    };
    let opens = hours.next_open(now).map(|t| {
        let local = hours.zone.local(t);
        let today = hours.zone.local(now).date();
        let day = if local.date() == today {
            "today".to_string()
        } else if local.date() == today + Duration::days(1) {
            "tomorrow".to_string()
        } else {
            local.format("%A").to_string()
        };
        format!(" and open again at {} {day}", local.format("%-I:%M %P"))
    });
    let book = booking
        .map(|b| format!(" You can pick a time for a free inspection here: {b}."))
        .unwrap_or_default();
    format!(
        "{hello} for {via} {company}! We're closed right now{}.{book} We'll get back to you first thing.",
        opens.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::{WeeklyHours, Zone};
    use std::collections::BTreeMap;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_closed_answer_says_when_it_opens_in_local_words() {
        let mut week = BTreeMap::new();
        week.insert(
            "mon".to_string(),
            vec![["07:00".to_string(), "18:00".to_string()]],
        );
        let h = BusinessHours::new(
            Zone::parse("America/Chicago").unwrap(),
            &WeeklyHours {
                week,
                holidays: vec![],
            },
        )
        .unwrap();
        // Saturday 7 March 2026, 02:00 CST; opens Monday 07:00 CDT.
        let text = answer(
            "texting",
            "Acme Roofing",
            Some("Jane"),
            &h,
            utc("2026-03-07T08:00:00Z"),
            Some("https://acme.example/book"),
        );
        assert_eq!(
            text,
            "Hi Jane, thanks for texting Acme Roofing! We're closed right now and open again at 7:00 am Monday. \
             You can pick a time for a free inspection here: https://acme.example/book. We'll get back to you first thing."
        );
        // Sunday 8 March 23:00 CDT: tomorrow.
        let text = answer(
            "texting",
            "Acme Roofing",
            None,
            &h,
            utc("2026-03-09T04:00:00Z"),
            None,
        );
        assert_eq!(text, "Thanks for texting Acme Roofing! We're closed right now and open again at 7:00 am tomorrow. We'll get back to you first thing.");
    }
}
