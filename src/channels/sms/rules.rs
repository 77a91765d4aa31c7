//! The rules a text follows: quiet hours for automatic sends, carrier segments, and
//! opt-out keywords.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::hours::{Window, Zone};

/// A daily window in which automatic texts are not sent (e.g. 21:00–08:00).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// `HH:MM`, local time.
    #[schema(example = "21:00")]
    pub start: String,
    /// `HH:MM`, local time; before `start` means the window spans midnight.
    #[schema(example = "08:00")]
    pub end: String,
    /// IANA time zone, e.g. `America/Chicago`.
    #[schema(example = "America/Chicago")]
    pub timezone: String,
}

impl QuietHours {
    /// The daily window and its zone (`hours::Zone`, daylight saving time included);
    /// `None` when the times or the zone do not parse.
    pub(super) fn window(&self) -> Option<(Window, Zone)> {
        let w = Window::parse(&self.start, &self.end)?;
        match Zone::parse(&self.timezone)? {
            z @ Zone::Iana(_) => Some((w, z)),
            Zone::Fixed(_) => None,
        }
    }
}

/// When the account's quiet hours end, if `now` is inside them.
pub fn quiet_hours_end(qh: &QuietHours, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let (window, zone) = qh.window()?;
    window.ends_after(&zone, now)
}

/// How a text will be split by carriers: GSM-7 (160 / 153 per part) or UCS-2 (70 / 67).
pub fn segments(text: &str) -> (u32, &'static str) {
    const GSM: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
    const GSM_EXT: &str = "^{}\\[~]|€\u{c}";
    let mut septets = 0usize;
    let mut gsm = true;
    for c in text.chars() {
        if GSM.contains(c) {
            septets += 1;
        } else if GSM_EXT.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (units, single, multi, enc) = if gsm {
        (septets, 160, 153, "GSM-7")
    } else {
        (text.encode_utf16().count(), 70, 67, "UCS-2")
    };
    let n = if units <= single {
        1
    } else {
        units.div_ceil(multi)
    };
    (n as u32, enc)
}

/// Opt-out keywords (whole message, any case); what they do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
    Help,
}

/// The carrier keyword a message consists of, if any.
pub fn keyword(text: &str) -> Option<Keyword> {
    let word = text
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation())
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" => Some(Keyword::OptOut),
        "START" | "UNSTOP" => Some(Keyword::OptIn),
        "HELP" => Some(Keyword::Help),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(start: &str, end: &str) -> QuietHours {
        QuietHours {
            start: start.into(),
            end: end.into(),
            timezone: "America/Chicago".into(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn overnight_quiet_hours_end_the_next_local_morning() {
        let q = quiet("21:00", "08:00");
        // 22:30 CST on 2 March → 08:00 CST on 3 March (14:00 UTC).
        assert_eq!(
            quiet_hours_end(&q, utc("2026-03-03T04:30:00Z")),
            Some(utc("2026-03-03T14:00:00Z"))
        );
        assert_eq!(
            quiet_hours_end(&q, utc("2026-03-03T13:59:00Z")),
            Some(utc("2026-03-03T14:00:00Z"))
        );
        assert_eq!(quiet_hours_end(&q, utc("2026-03-03T14:00:00Z")), None);
        // Across the spring-forward night: 23:00 CST Saturday → 08:00 CDT Sunday (13:00 UTC).
        assert_eq!(
            quiet_hours_end(&q, utc("2026-03-08T05:00:00Z")),
            Some(utc("2026-03-08T13:00:00Z"))
        );
        let bad = QuietHours {
            timezone: "-05:00".into(),
            ..q
        };
        assert_eq!(
            quiet_hours_end(&bad, utc("2026-03-03T04:30:00Z")),
            None,
            "only IANA zones"
        );
    }

    #[test]
    fn daytime_quiet_hours_end_the_same_day() {
        let q = quiet("12:00", "13:30");
        assert_eq!(
            quiet_hours_end(&q, utc("2026-03-02T18:15:00Z")),
            Some(utc("2026-03-02T19:30:00Z"))
        );
        assert_eq!(quiet_hours_end(&q, utc("2026-03-02T17:59:00Z")), None);
    }

    #[test]
    fn segments_follow_gsm7_and_ucs2_limits() {
        assert_eq!(segments("hello"), (1, "GSM-7"));
        assert_eq!(segments(&"a".repeat(160)), (1, "GSM-7"));
        assert_eq!(segments(&"a".repeat(161)), (2, "GSM-7"));
        assert_eq!(segments(&"a".repeat(306)), (2, "GSM-7"));
        assert_eq!(segments(&"a".repeat(307)), (3, "GSM-7"));
        assert_eq!(segments(&"€".repeat(80)), (1, "GSM-7"));
        assert_eq!(segments("roof 👍"), (1, "UCS-2"));
        assert_eq!(segments(&"é😀".repeat(30)), (2, "UCS-2"));
    }

    #[test]
    fn carrier_keywords_are_whole_messages_in_any_case() {
        for w in [
            "STOP",
            "stop",
            " Stop. ",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "end",
            "QUIT",
        ] {
            assert_eq!(keyword(w), Some(Keyword::OptOut), "{w}");
        }
        assert_eq!(keyword("start"), Some(Keyword::OptIn));
        assert_eq!(keyword("UNSTOP"), Some(Keyword::OptIn));
        assert_eq!(keyword("help"), Some(Keyword::Help));
        assert_eq!(keyword("please stop by friday"), None);
    }
}
