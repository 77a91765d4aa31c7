//! The account's clock and how numbers, names, phones and durations read on a page.

use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc};

use super::PageError;
use crate::domain::AccountId;

/// The account's clock: its time zone and "now".
pub(super) struct Clock {
    pub(super) zone: crate::hours::Zone,
    pub(super) now: DateTime<Utc>,
}

impl Clock {
    pub(super) async fn of(pool: &sqlx::PgPool, account: AccountId) -> Result<Self, PageError> {
        let tz: Option<String> = sqlx::query_scalar("select timezone from accounts where id = $1")
            .bind(account)
            .fetch_optional(pool)
            .await?;
        Ok(Self {
            zone: tz
                .as_deref()
                .and_then(crate::hours::Zone::parse)
                .unwrap_or_default(),
            now: Utc::now(),
        })
    }

    pub(super) fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        self.zone.local(t)
    }

    /// "Nov 22, 2:05 PM" (with the year when it is not this year).
    pub(super) fn when(&self, t: DateTime<Utc>) -> String {
        let l = self.local(t);
        if l.year() == self.local(self.now).year() {
            l.format("%b %-d, %-I:%M %p").to_string()
        } else {
            l.format("%b %-d, %Y").to_string()
        }
    }

    /// "just now", "12 min ago", "3 h ago", "2 days ago", else the date.
    pub(super) fn ago(&self, t: DateTime<Utc>) -> String {
        let d = self.now - t;
        if d < Duration::minutes(1) {
            "just now".into()
        } else if d < Duration::hours(1) {
            format!("{} min ago", d.num_minutes())
        } else if d < Duration::days(1) {
            format!("{} h ago", d.num_hours())
        } else if d < Duration::days(14) {
            let n = d.num_days();
            format!("{n} day{} ago", if n == 1 { "" } else { "s" })
        } else {
            self.when(t)
        }
    }

    /// Monday 00:00 of the current local week, in UTC.
    pub(super) fn week_start(&self) -> DateTime<Utc> {
        let today = self.local(self.now).date();
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        self.zone
            .instant(monday.and_hms_opt(0, 0, 0).unwrap_or_default())
    }
}

/// "under a minute", "12 min", "3.5 h", "2.1 days".
pub fn minutes_human(m: Option<f64>) -> String {
    match m {
        None => "—".into(),
        Some(m) if !m.is_finite() || m < 0.0 => "—".into(),
        Some(m) if m < 1.0 => "under a minute".into(),
        Some(m) if m < 60.0 => format!("{m:.0} min"),
        Some(m) if m < 24.0 * 60.0 => format!("{:.1} h", m / 60.0),
        Some(m) => format!("{:.1} days", m / (24.0 * 60.0)),
    }
}

/// "54%" or "—".
pub fn pct(r: Option<f64>) -> String {
    match r {
        Some(r) if r.is_finite() => format!("{:.0}%", r * 100.0),
        _ => "—".into(),
    }
}

/// A lead source's name for people: `google_ads` → "Google Ads".
pub fn source_label(s: &str) -> String {
    match s {
        "sms" => "Text message".into(),
        "phone_call" => "Phone call".into(),
        "web_form" => "Website form".into(),
        "google_ads" => "Google Ads".into(),
        "facebook" => "Facebook / Instagram".into(),
        "unknown" => "Unknown".into(),
        other => {
            let words = other.replace(['_', '-'], " ");
            let mut c = words.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

pub fn channel_label(c: &str) -> &'static str {
    match c {
        "email" => "Email",
        "sms" => "SMS",
        "phone_call" => "Phone",
        "chat" => "Chat",
        "form" => "Form",
        _ => "—",
    }
}

/// A next action's machine name, for people.
pub fn action_label(a: &str) -> String {
    match a {
        "respond_immediately" => "Respond now".into(),
        "make_first_contact" => "Make first contact".into(),
        "address_concerns" => "Address concerns".into(),
        "follow_up_quote" => "Follow up on the quote".into(),
        "send_quote" => "Send a quote".into(),
        "schedule_inspection" => "Schedule an inspection".into(),
        "re_engage" => "Re-engage".into(),
        "nurture_sequence" => "Keep in touch".into(),
        "follow_up" => "Follow up".into(),
        "request_review" => "Ask for a review".into(),
        "none" => "Nothing to do".into(),
        other => humanize(other),
    }
}

/// `gone_quiet` → "Gone quiet".
pub fn humanize(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

pub(super) fn hour_label(h: u8) -> String {
    match h {
        0 => "12 AM".into(),
        1..=11 => format!("{h} AM"),
        12 => "12 PM".into(),
        _ => format!("{} PM", h - 12),
    }
}

/// Only http(s) links are ever put in an href.
pub(super) fn http_url(u: Option<String>) -> Option<String> {
    u.filter(|u| {
        let l = u.trim().to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    })
}

/// A stored E.164 number as people write it: national form in the account's region
/// (`(312) 641-2278`), international form otherwise.
pub fn display_phone(e164: &str, region: phonenumber::country::Id) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) if n.country().id() == Some(region) => {
            n.format().mode(phonenumber::Mode::National).to_string()
        }
        Ok(n) => n
            .format()
            .mode(phonenumber::Mode::International)
            .to_string(),
        Err(_) => e164.to_string(),
    }
}

pub(super) fn display_name(
    name: &Option<String>,
    email: &Option<String>,
    phone: &Option<String>,
) -> String {
    name.clone()
        .or_else(|| email.clone())
        .or_else(|| phone.clone())
        .unwrap_or_else(|| "Unnamed lead".into())
}

pub(super) fn duration_human(secs: i32) -> String {
    let secs = secs.max(0);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_read_humanly() {
        assert_eq!(minutes_human(None), "—");
        assert_eq!(minutes_human(Some(0.4)), "under a minute");
        assert_eq!(minutes_human(Some(12.4)), "12 min");
        assert_eq!(minutes_human(Some(90.0)), "1.5 h");
        assert_eq!(minutes_human(Some(3.0 * 1440.0)), "3.0 days");
        assert_eq!(pct(Some(0.545)), "55%");
        assert_eq!(pct(None), "—");
        assert_eq!(duration_human(200), "3 min 20 s");
        assert_eq!(duration_human(45), "45 s");
        assert_eq!(hour_label(0), "12 AM");
        assert_eq!(hour_label(14), "2 PM");
        assert_eq!(action_label("respond_immediately"), "Respond now");
        assert_eq!(action_label("something_new"), "Something new");
        let us = phonenumber::country::Id::US;
        assert_eq!(display_phone("+13126412278", us), "(312) 641-2278");
        assert_eq!(display_phone("+442071838750", us), "+44 20 7183 8750");
        assert_eq!(display_phone("garbage", us), "garbage");
    }

    #[test]
    fn only_http_links_are_kept() {
        assert_eq!(
            http_url(Some("https://x/r.mp3".into())).as_deref(),
            Some("https://x/r.mp3")
        );
        assert_eq!(http_url(Some("javascript:alert(1)".into())), None);
        assert_eq!(http_url(Some(" data:text/html,x".into())), None);
    }

    #[test]
    fn the_week_starts_on_the_local_monday() {
        use chrono::TimeZone;
        // Tuesday 2026-11-24 03:00 UTC is Monday 22:00 in UTC−05:00.
        let clock = Clock {
            zone: crate::hours::Zone::parse("-05:00").unwrap(),
            now: Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
        };
        assert_eq!(
            clock.week_start(),
            Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).unwrap()
        );
        assert_eq!(clock.ago(clock.now - Duration::minutes(5)), "5 min ago");
        assert_eq!(clock.ago(clock.now - Duration::days(1)), "1 day ago");
    }
}
