//! The Business hours page: the account's time zone, one opening span a weekday,
//! holidays, and whether it is open now. Read here; saved by the page's script through
//! `PUT /api/settings/hours` (admins and owners; members see them read-only).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use minijinja::context;

use super::format::Clock;
use super::{layout, PageError};
use crate::auth::session::Dash;
use crate::dashboard::render;
use crate::hours::{store, WeeklyHours};
use crate::state::AppState;

/// Zones offered in the time-zone field's list (any IANA name may be typed).
const US_ZONES: [&str; 7] = [
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
];

const DAYS: [(&str, &str); 7] = [
    ("mon", "Monday"),
    ("tue", "Tuesday"),
    ("wed", "Wednesday"),
    ("thu", "Thursday"),
    ("fri", "Friday"),
    ("sat", "Saturday"),
    ("sun", "Sunday"),
];

/// Each weekday as the form shows it: open or not, and its first span. With no hours set
/// the form starts at weekdays 08:00–17:00 (nothing is saved until Save).
fn day_rows(hours: Option<&WeeklyHours>) -> Vec<minijinja::Value> {
    DAYS.iter()
        .map(|(key, label)| {
            let span = match hours {
                Some(h) => h.week.get(*key).and_then(|l| l.first()).cloned(),
                None if !matches!(*key, "sat" | "sun") => {
                    Some(["08:00".to_string(), "17:00".to_string()])
                }
                None => None,
            };
            let [from, to] = span
                .clone()
                .unwrap_or_else(|| ["08:00".to_string(), "17:00".to_string()]);
            context! { key, label, open => span.is_some(), from, to }
        })
        .collect()
}

/// "Open now", "Opens Mon 7:00 AM" or "Never opens (no day has hours)".
fn status_text(clock: &Clock, open_now: bool, next: Option<chrono::DateTime<Utc>>) -> String {
    match (open_now, next) {
        (true, _) => "Open now".into(),
        (false, Some(t)) => format!("Opens {}", clock.local(t).format("%a %b %-d, %-I:%M %p")),
        (false, None) => "Closed (no day has hours)".into(),
    }
}

pub async fn hours(State(state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    let account = s.account_id;
    let clock = Clock::of(&state.pool, account).await?;
    let (timezone, stored): (String, Option<serde_json::Value>) =
        sqlx::query_as("select timezone, business_hours from accounts where id = $1")
            .bind(account)
            .fetch_one(&state.pool)
            .await?;
    let weekly: Option<WeeklyHours> = stored.and_then(|v| serde_json::from_value(v).ok());
    let business = store::of_account(&state.pool, account).await?;
    let status = status_text(
        &clock,
        business.is_open(clock.now),
        business.next_open(clock.now),
    );
    let holidays: Vec<String> = weekly
        .as_ref()
        .map(|w| w.holidays.iter().map(|d| d.to_string()).collect())
        .unwrap_or_default();
    Ok(render(
        StatusCode::OK,
        "hours.html",
        context! {
            timezone,
            zones => US_ZONES,
            days => day_rows(weekly.as_ref()),
            holidays,
            hours_set => weekly.is_some(),
            open_now => business.is_open(clock.now),
            status,
            local_time => clock.local(clock.now).format("%a %-I:%M %p").to_string(),
            ..layout(&s, "hours", "Business hours")
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_hours_start_at_weekdays_and_set_ones_show_their_first_span() {
        let rows = day_rows(None);
        assert!(rows[0].get_attr("open").unwrap().is_true());
        assert!(!rows[6].get_attr("open").unwrap().is_true());
        let mut w = WeeklyHours::default();
        w.week
            .insert("sat".into(), vec![["09:00".into(), "12:00".into()]]);
        let rows = day_rows(Some(&w));
        assert!(!rows[0].get_attr("open").unwrap().is_true());
        assert!(rows[5].get_attr("open").unwrap().is_true());
        assert_eq!(rows[5].get_attr("from").unwrap().as_str(), Some("09:00"));
    }
}
