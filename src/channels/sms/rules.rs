//! The rules a text follows: quiet hours for automatic sends, carrier segments, and
//! opt-out keywords.

use chrono::{DateTime, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Result;
use crate::state::AppState;

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
    pub(super) fn times(&self) -> Option<(NaiveTime, NaiveTime)> {
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        Some((t(&self.start)?, t(&self.end)?))
    }
}

/// When the quiet window that contains `local` ends (local time); `None` outside it.
pub fn quiet_until(
    local: NaiveDateTime,
    start: NaiveTime,
    end: NaiveTime,
) -> Option<NaiveDateTime> {
    let t = local.time();
    let inside = if start <= end {
        t >= start && t < end
    } else {
        t >= start || t < end
    };
    if !inside {
        return None;
    }
    let today_end = local.date().and_time(end);
    Some(if today_end > local {
        today_end
    } else {
        today_end + TimeDelta::days(1)
    })
}

/// When the account's quiet hours end, if now is inside them (PostgreSQL's tz database
/// converts between UTC and the window's zone).
pub async fn quiet_hours_end(state: &AppState, qh: &QuietHours) -> Result<Option<DateTime<Utc>>> {
    let Some((start, end)) = qh.times() else {
        return Ok(None);
    };
    let local: Option<NaiveDateTime> = sqlx::query_scalar(
        "select (now() at time zone name) from pg_timezone_names where name = $1",
    )
    .bind(&qh.timezone)
    .fetch_optional(&state.pool)
    .await?;
    let Some(until) = local.and_then(|l| quiet_until(l, start, end)) else {
        return Ok(None);
    };
    Ok(sqlx::query_scalar("select ($1::timestamp at time zone $2)")
        .bind(until)
        .bind(&qh.timezone)
        .fetch_one(&state.pool)
        .await?)
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

    fn t(s: &str) -> NaiveTime {
        NaiveTime::parse_from_str(s, "%H:%M").unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn overnight_quiet_hours_end_the_next_morning() {
        let (s, e) = (t("21:00"), t("08:00"));
        assert_eq!(
            quiet_until(at("2026-03-02 22:30"), s, e),
            Some(at("2026-03-03 08:00"))
        );
        assert_eq!(
            quiet_until(at("2026-03-03 07:59"), s, e),
            Some(at("2026-03-03 08:00"))
        );
        assert_eq!(quiet_until(at("2026-03-03 08:00"), s, e), None);
        assert_eq!(quiet_until(at("2026-03-03 12:00"), s, e), None);
    }

    #[test]
    fn daytime_quiet_hours_end_the_same_day() {
        let (s, e) = (t("12:00"), t("13:30"));
        assert_eq!(
            quiet_until(at("2026-03-02 12:15"), s, e),
            Some(at("2026-03-02 13:30"))
        );
        assert_eq!(quiet_until(at("2026-03-02 11:59"), s, e), None);
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
