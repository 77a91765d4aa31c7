//! When: the company's local time, the hours leads and the office act in, and the gaps
//! that move a lead's clock along its story.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Utc, Weekday};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use super::{Demo, Run, UTC_OFFSET_MINUTES};

/// Who acts, which decides the hours a touch can happen in (company local time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Actor {
    /// Homeowners: any day, 7:00–21:30.
    Lead,
    /// The office: Monday to Saturday, 7:30–18:00.
    Office,
    /// Machines (AI replies, automatic texts) and the rest of a live conversation.
    Instant,
}

pub(super) fn local(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(UTC_OFFSET_MINUTES * 60)
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC is a valid offset"));
    at.with_timezone(&offset)
}

pub(super) fn from_local(day: NaiveDate, minutes: u32) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    midnight + Duration::minutes(i64::from(minutes) - i64::from(UTC_OFFSET_MINUTES))
}

/// `at`, or the next moment in `actor`'s hours (with a little jitter).
fn within_hours(at: DateTime<Utc>, actor: Actor, rng: &mut StdRng) -> DateTime<Utc> {
    // Pushed past the night, people get to it during the morning.
    let (open, close, morning) = match actor {
        Actor::Instant => return at,
        Actor::Lead => (7 * 60, 21 * 60 + 30, 240),
        Actor::Office => (7 * 60 + 30, 18 * 60, 150),
    };
    let open_day = |d: NaiveDate| actor != Actor::Office || d.weekday() != Weekday::Sun;
    let l = local(at);
    let minute = l.hour() * 60 + l.minute();
    let mut day = l.date_naive();
    if open_day(day) && (open..close).contains(&minute) {
        return at;
    }
    if minute >= close || !open_day(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    while !open_day(day) {
        day = day.succ_opt().unwrap_or(day);
    }
    from_local(day, open + rng.gen_range(0..morning))
}

/// The start of the current hour: the story ends there, so that runs with one seed within
/// the hour tell it with the same timestamps (and so the same reminders fall in the past).
pub(super) fn this_hour() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp() - now.timestamp().rem_euclid(3600), 0).unwrap_or(now)
}

/// "Thursday", "10:30am" of a moment, company time.
pub(super) fn weekday(at: DateTime<Utc>) -> String {
    local(at).format("%A").to_string()
}

pub(super) fn clock(at: DateTime<Utc>) -> String {
    let l = local(at);
    let (pm, hour) = l.hour12();
    let suffix = if pm { "pm" } else { "am" };
    match l.minute() {
        0 => format!("{hour}{suffix}"),
        m => format!("{hour}:{m:02}{suffix}"),
    }
}

/// A gap in seconds, drawn uniformly; long gaps shrink with the lead's time scale.
#[derive(Debug, Clone, Copy)]
pub(super) struct Gap(i64, i64);

pub(super) fn secs(a: i64, b: i64) -> Gap {
    Gap(a, b)
}
pub(super) fn mins(a: i64, b: i64) -> Gap {
    Gap(a * 60, b * 60)
}
pub(super) fn hours(a: i64, b: i64) -> Gap {
    Gap(a * 3600, b * 3600)
}
pub(super) fn days(a: i64, b: i64) -> Gap {
    Gap(a * 86400, b * 86400)
}

impl Demo {
    // ---- time

    /// Moves the lead's clock by `gap` into `actor`'s hours; never past now.
    pub(super) fn step(&self, l: &mut Run, gap: Gap, actor: Actor) -> DateTime<Utc> {
        let mut s = l.clock.gen_range(gap.0..=gap.1.max(gap.0)) as f64;
        if s >= 1800.0 {
            s = (s * l.scale).max(600.0);
        }
        let candidate = l.at + Duration::seconds(s as i64);
        let at = within_hours(candidate, actor, &mut l.clock);
        self.set(l, at)
    }

    /// Moves the lead's clock to `at` (kept chronological, and not past now).
    pub(super) fn set(&self, l: &mut Run, at: DateTime<Utc>) -> DateTime<Utc> {
        let cap = self.now - Duration::seconds(30);
        let at = at.min(cap).max(l.at + Duration::seconds(1));
        l.at = at;
        at
    }

    /// An appointment `min..=max` days after `from` (never on a Sunday), at one of `times`
    /// (minutes after local midnight).
    pub(super) fn slot(
        &self,
        l: &mut Run,
        from: DateTime<Utc>,
        min: u64,
        max: u64,
        times: &[u32],
    ) -> DateTime<Utc> {
        let start = local(from).date_naive();
        let mut day = start
            .checked_add_days(chrono::Days::new(l.clock.gen_range(min..=max)))
            .unwrap_or(start);
        while day.weekday() == Weekday::Sun {
            day = day.succ_opt().unwrap_or(day);
        }
        from_local(day, times.choose(&mut l.clock).copied().unwrap_or(600))
    }
}
