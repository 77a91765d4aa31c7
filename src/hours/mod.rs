//! Local time for an account: its zone (an IANA name such as `America/Chicago`, with its
//! daylight-saving rules from chrono-tz; or a legacy fixed `±HH:MM`), weekly opening
//! hours and holidays. The one place that answers "what time is it there", "is it open
//! now", "when does it open", and "is this inside a daily quiet window" — for SMS quiet
//! hours, the tracker's contact hours and the stats' hour buckets alike. Pure: no I/O
//! ([`store`] reads and saves an account's settings).

pub mod store;

use std::collections::BTreeMap;

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An account's time zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// An IANA zone: offsets change with daylight saving time.
    Iana(Tz),
    /// A fixed offset (`+02:00`, `-05:30`), as older settings were written.
    Fixed(FixedOffset),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::Iana(Tz::UTC)
    }
}

impl Zone {
    /// `America/Chicago`, `UTC`, `+02:00` or `-05:30`; `None` when it is none of these.
    pub fn parse(name: &str) -> Option<Zone> {
        let name = name.trim();
        if let Ok(tz) = name.parse::<Tz>() {
            return Some(Zone::Iana(tz));
        }
        let sign = match name.chars().next()? {
            '+' => 1,
            '-' => -1,
            _ => return None,
        };
        let (h, m) = name[1..].split_once(':').unwrap_or((&name[1..], "0"));
        let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return None;
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60)).map(Zone::Fixed)
    }

    /// As stored and shown: the IANA name, or `±HH:MM`.
    pub fn name(&self) -> String {
        match self {
            Zone::Iana(tz) => tz.name().to_string(),
            Zone::Fixed(o) => o.to_string(),
        }
    }

    /// Minutes east of UTC at `at`.
    pub fn offset_minutes(&self, at: DateTime<Utc>) -> i32 {
        ((self.local(at) - at.naive_utc()).num_minutes()) as i32
    }

    /// The instants in [lo, hi) where the offset changes (DST starts and ends), found a
    /// day at a time and then to the quarter hour (every zone changes on one).
    pub fn changes(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut found = Vec::new();
        if let Zone::Fixed(_) = self {
            return found;
        }
        let mut t = lo;
        while t < hi {
            let next = (t + Duration::days(1)).min(hi);
            if self.offset_minutes(t) != self.offset_minutes(next) {
                // The first quarter hour of (t, next] with the new offset.
                let before = self.offset_minutes(t);
                let (mut a, mut b) = (0i64, (next - t).num_minutes() / 15);
                while a + 1 < b {
                    let mid = (a + b) / 2;
                    if self.offset_minutes(t + Duration::minutes(mid * 15)) == before {
                        a = mid;
                    } else {
                        b = mid;
                    }
                }
                found.push(t + Duration::minutes(b * 15));
            }
            t = next;
        }
        found
    }

    /// Wall-clock time there at `at`.
    pub fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Iana(tz) => at.with_timezone(tz).naive_local(),
            Zone::Fixed(o) => at.with_timezone(o).naive_local(),
        }
    }

    /// The instant of a wall-clock time there. A time skipped by a DST change (02:30 on
    /// the spring-forward night) is read as the first instant after the gap; a repeated
    /// one (01:30 in the fall) as its first occurrence.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        fn pick<T: TimeZone>(r: LocalResult<DateTime<T>>) -> Option<DateTime<Utc>> {
            match r {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => {
                    Some(t.with_timezone(&Utc))
                }
                LocalResult::None => None,
            }
        }
        let found = match self {
            Zone::Iana(tz) => pick(tz.from_local_datetime(&local)),
            Zone::Fixed(o) => pick(o.from_local_datetime(&local)),
        };
        found.unwrap_or_else(|| {
            // In a gap: walk forward a quarter hour at a time (gaps are at most 2 hours).
            let mut t = local;
            for _ in 0..12 {
                t += Duration::minutes(15);
                let again = match self {
                    Zone::Iana(tz) => pick(tz.from_local_datetime(&t)),
                    Zone::Fixed(o) => pick(o.from_local_datetime(&t)),
                };
                if let Some(at) = again {
                    return at;
                }
            }
            Utc.from_utc_datetime(&local)
        })
    }
}

/// A daily window in local time (`start` after `end` spans midnight: 21:00–08:00).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    /// `HH:MM` to `HH:MM`.
    pub fn parse(start: &str, end: &str) -> Option<Window> {
        let t = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok();
        Some(Window {
            start: t(start)?,
            end: t(end)?,
        })
    }

    fn contains_time(&self, t: NaiveTime) -> bool {
        if self.start <= self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// When the window containing `at` (in `zone`) ends; `None` when `at` is outside it.
    pub fn ends_after(&self, zone: &Zone, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = zone.local(at);
        if !self.contains_time(local.time()) {
            return None;
        }
        let today_end = local.date().and_time(self.end);
        let end = if today_end > local {
            today_end
        } else {
            today_end + Duration::days(1)
        };
        Some(zone.instant(end))
    }
}

/// Opening hours as the API and the database hold them: per weekday (`mon` … `sun`) a
/// list of `["HH:MM", "HH:MM"]` spans (none: closed that day), and closed dates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    /// `{"mon": [["07:00","18:00"]], "sat": [["08:00","12:00"]]}`; a missing day is closed.
    #[schema(value_type = Object)]
    pub week: BTreeMap<String, Vec<[String; 2]>>,
    /// Closed all day (`2026-12-25`), in the account's zone.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

const DAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// Checked opening hours with their zone: the questions everything else asks.
#[derive(Debug, Clone, PartialEq)]
pub struct BusinessHours {
    pub zone: Zone,
    /// Spans per weekday (Monday first), each `start < end` within the day, sorted.
    spans: [Vec<(NaiveTime, NaiveTime)>; 7],
    holidays: Vec<NaiveDate>,
}

impl BusinessHours {
    /// Checks the stored shape; the message names what is wrong (`week.mon[0]: …`).
    pub fn new(zone: Zone, hours: &WeeklyHours) -> Result<Self, String> {
        let mut spans: [Vec<(NaiveTime, NaiveTime)>; 7] = Default::default();
        for (key, list) in &hours.week {
            let Some(day) = DAYS.iter().position(|(k, _)| k == key) else {
                return Err(format!(
                    "week.{key}: days are mon, tue, wed, thu, fri, sat, sun"
                ));
            };
            for (i, [s, e]) in list.iter().enumerate() {
                let w = Window::parse(s, e)
                    .ok_or_else(|| format!("week.{key}[{i}]: times are HH:MM (24-hour)"))?;
                if w.start >= w.end {
                    return Err(format!(
                        "week.{key}[{i}]: {s} must be before {e} (a span ends the day it starts)"
                    ));
                }
                spans[day].push((w.start, w.end));
            }
            spans[day].sort();
            if spans[day].windows(2).any(|p| p[0].1 > p[1].0) {
                return Err(format!("week.{key}: spans overlap"));
            }
        }
        if hours.holidays.len() > 366 {
            return Err("holidays: at most 366 dates".into());
        }
        let mut holidays = hours.holidays.clone();
        holidays.sort();
        holidays.dedup();
        Ok(BusinessHours {
            zone,
            spans,
            holidays,
        })
    }

    /// The hours as an account stores them (`accounts.timezone`, `accounts.business_hours`):
    /// UTC when the zone is unreadable, open all week when no hours are set or they are
    /// unreadable.
    pub fn from_stored(timezone: &str, hours: Option<serde_json::Value>) -> Self {
        let zone = Zone::parse(timezone).unwrap_or_default();
        hours
            .and_then(|v| serde_json::from_value::<WeeklyHours>(v).ok())
            .and_then(|w| BusinessHours::new(zone, &w).ok())
            .unwrap_or_else(|| BusinessHours::always_open(zone))
    }

    /// Open all week, every hour (an account that set no hours).
    pub fn always_open(zone: Zone) -> Self {
        let all = vec![(
            NaiveTime::MIN,
            NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN),
        )];
        BusinessHours {
            zone,
            spans: std::array::from_fn(|_| all.clone()),
            holidays: Vec::new(),
        }
    }

    fn spans_on(&self, date: NaiveDate) -> &[(NaiveTime, NaiveTime)] {
        if self.holidays.binary_search(&date).is_ok() {
            return &[];
        }
        &self.spans[date.weekday().num_days_from_monday() as usize]
    }

    /// Whether the business is open at `at`.
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let local = self.zone.local(at);
        self.spans_on(local.date())
            .iter()
            .any(|(s, e)| local.time() >= *s && local.time() < *e)
    }

    /// When it next opens at or after `at` (`at` itself when open); `None` when no day
    /// of the coming two weeks has hours.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        let local = self.zone.local(at);
        for d in 0..15 {
            let date = local.date() + Duration::days(d);
            for (s, _) in self.spans_on(date) {
                let start = date.and_time(*s);
                if start > local {
                    return Some(self.zone.instant(start));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn chicago_weekdays() -> BusinessHours {
        let mut week = BTreeMap::new();
        for d in ["mon", "tue", "wed", "thu", "fri"] {
            week.insert(
                d.to_string(),
                vec![["07:00".to_string(), "18:00".to_string()]],
            );
        }
        week.insert("sat".into(), vec![["08:00".into(), "12:00".into()]]);
        let hours = WeeklyHours {
            week,
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()],
        };
        BusinessHours::new(Zone::parse("America/Chicago").unwrap(), &hours).unwrap()
    }

    #[test]
    fn zones_are_iana_names_or_fixed_offsets() {
        assert_eq!(
            Zone::parse("America/Chicago").unwrap().name(),
            "America/Chicago"
        );
        assert_eq!(Zone::parse("UTC").unwrap().name(), "UTC");
        assert_eq!(Zone::parse("-05:30").unwrap().name(), "-05:30");
        assert_eq!(Zone::parse("+02:00").unwrap().name(), "+02:00");
        for bad in ["America/Gotham", "", "+25:00", "CST6CDTX", "-05:61"] {
            assert!(Zone::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn chicago_is_read_with_daylight_saving_time_on_both_sides_of_each_change() {
        let z = Zone::parse("America/Chicago").unwrap();
        // Winter (CST, UTC-6) and summer (CDT, UTC-5).
        assert_eq!(
            z.local(utc("2026-01-15T14:00:00Z")).to_string(),
            "2026-01-15 08:00:00"
        );
        assert_eq!(
            z.local(utc("2026-07-15T14:00:00Z")).to_string(),
            "2026-07-15 09:00:00"
        );
        // Spring forward, Sunday 8 March 2026: 02:00 CST becomes 03:00 CDT.
        assert_eq!(
            z.local(utc("2026-03-08T07:59:00Z")).to_string(),
            "2026-03-08 01:59:00"
        );
        assert_eq!(
            z.local(utc("2026-03-08T08:00:00Z")).to_string(),
            "2026-03-08 03:00:00"
        );
        // 02:30 does not exist that night: the first instant after the gap.
        let gap = NaiveDate::from_ymd_opt(2026, 3, 8)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(z.instant(gap), utc("2026-03-08T08:00:00Z"));
        // Fall back, Sunday 1 November 2026: 01:30 happens twice; the first is taken.
        let twice = NaiveDate::from_ymd_opt(2026, 11, 1)
            .unwrap()
            .and_hms_opt(1, 30, 0)
            .unwrap();
        assert_eq!(z.instant(twice), utc("2026-11-01T06:30:00Z"));
    }

    #[test]
    fn offset_changes_are_found_to_the_instant() {
        let z = Zone::parse("America/Chicago").unwrap();
        let changes = z.changes(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"));
        assert_eq!(
            changes,
            vec![utc("2026-03-08T08:00:00Z"), utc("2026-11-01T07:00:00Z")]
        );
        assert_eq!(z.offset_minutes(utc("2026-03-08T07:59:00Z")), -360);
        assert_eq!(z.offset_minutes(utc("2026-03-08T08:00:00Z")), -300);
        assert!(Zone::parse("+05:30")
            .unwrap()
            .changes(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
            .is_empty());
        assert!(Zone::parse("Asia/Kolkata")
            .unwrap()
            .changes(utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
            .is_empty());
    }

    #[test]
    fn opening_hours_follow_the_local_clock_through_the_dst_week() {
        let h = chicago_weekdays();
        // Friday 6 March 2026 (CST): opens 07:00 = 13:00 UTC.
        assert!(!h.is_open(utc("2026-03-06T12:59:00Z")));
        assert!(h.is_open(utc("2026-03-06T13:00:00Z")));
        // Monday 9 March 2026 (CDT): opens 07:00 = 12:00 UTC.
        assert!(h.is_open(utc("2026-03-09T12:00:00Z")));
        assert!(!h.is_open(utc("2026-03-09T11:59:00Z")));
        // A text at 2 am on the Sunday of the change: next opening Monday 07:00 CDT.
        assert_eq!(
            h.next_open(utc("2026-03-08T08:00:00Z")),
            Some(utc("2026-03-09T12:00:00Z"))
        );
        // Saturday noon closes; Sunday closed; Monday after fall back opens 07:00 CST.
        assert!(!h.is_open(utc("2026-10-31T17:00:00Z")));
        assert_eq!(
            h.next_open(utc("2026-10-31T17:00:00Z")),
            Some(utc("2026-11-02T13:00:00Z"))
        );
        // Holidays are closed all day; open already means "now".
        assert!(!h.is_open(utc("2026-12-25T16:00:00Z")));
        assert_eq!(
            h.next_open(utc("2026-12-25T16:00:00Z")),
            Some(utc("2026-12-26T14:00:00Z"))
        );
        let t = utc("2026-12-24T16:00:00Z");
        assert_eq!(h.next_open(t), Some(t));
    }

    #[test]
    fn bad_hours_are_refused_naming_the_day() {
        let mut week = BTreeMap::new();
        week.insert(
            "mon".to_string(),
            vec![["18:00".to_string(), "07:00".to_string()]],
        );
        let err = BusinessHours::new(
            Zone::default(),
            &WeeklyHours {
                week,
                holidays: vec![],
            },
        )
        .unwrap_err();
        assert!(err.starts_with("week.mon[0]"), "{err}");
        let mut week = BTreeMap::new();
        week.insert("monday".to_string(), vec![]);
        assert!(BusinessHours::new(
            Zone::default(),
            &WeeklyHours {
                week,
                holidays: vec![]
            }
        )
        .is_err());
        let mut week = BTreeMap::new();
        week.insert(
            "tue".to_string(),
            vec![
                ["08:00".into(), "12:00".into()],
                ["11:00".into(), "13:00".into()],
            ],
        );
        assert!(BusinessHours::new(
            Zone::default(),
            &WeeklyHours {
                week,
                holidays: vec![]
            }
        )
        .unwrap_err()
        .contains("overlap"));
        assert!(BusinessHours::always_open(Zone::default()).is_open(utc("2026-03-08T03:00:00Z")));
    }

    #[test]
    fn a_quiet_window_over_midnight_ends_at_its_local_end_across_dst() {
        let z = Zone::parse("America/Chicago").unwrap();
        let quiet = Window::parse("21:00", "08:00").unwrap();
        // Saturday 7 March 23:00 CST: quiet until Sunday 08:00 CDT (13:00 UTC).
        assert_eq!(
            quiet.ends_after(&z, utc("2026-03-08T05:00:00Z")),
            Some(utc("2026-03-08T13:00:00Z"))
        );
        assert_eq!(
            quiet.ends_after(&z, utc("2026-03-08T18:00:00Z")),
            None,
            "noon is not quiet"
        );
        let day = Window::parse("12:00", "13:00").unwrap();
        assert_eq!(
            day.ends_after(&z, utc("2026-07-01T17:30:00Z")),
            Some(utc("2026-07-01T18:00:00Z"))
        );
    }
}
