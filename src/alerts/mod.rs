//! Team alerts: who is told what, and when. A new lead (at opening time when it came in
//! after hours), a lead turned HOT, and an inbound message no person answered within the
//! account's target of open time (then escalated to the owners). Each goes to the lead's
//! assigned person (or everyone, when nobody is), in the dashboard's bell and by email
//! and text as each person chose, never during their mute hours. Pure rules here;
//! [`scan`] finds what is due, [`api`] is HTTP.

pub mod api;
pub mod scan;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Role;
use crate::hours::{BusinessHours, Window, Zone};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Kind {
    NewLead,
    HotLead,
    Unanswered,
    Escalation,
    /// An outgoing webhook subscription was turned off (failing for 3 days, or 410 Gone);
    /// made by `webhooks_out::deliver`, to the owners.
    WebhookDisabled,
}

impl Kind {
    /// The key that makes an alert once per subject and person.
    pub fn dedupe_key(self, subject: i64) -> String {
        let k = match self {
            Kind::NewLead => "new_lead",
            Kind::HotLead => "hot_lead",
            Kind::Unanswered => "unanswered",
            Kind::Escalation => "escalation",
            Kind::WebhookDisabled => "webhook_disabled",
        };
        format!("{k}:{subject}")
    }
}

/// A person who may be alerted.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: i64,
    pub role: Role,
}

/// Who gets an alert: escalations go to the owners; others to the assigned person when
/// there is one among `people` (the active users), else to everyone.
pub fn recipients(kind: Kind, assigned: Option<i64>, people: &[Person]) -> Vec<i64> {
    if kind == Kind::Escalation {
        return people
            .iter()
            .filter(|p| p.role == Role::Owner)
            .map(|p| p.id)
            .collect();
    }
    match assigned.filter(|a| people.iter().any(|p| p.id == *a)) {
        Some(a) => vec![a],
        None => people.iter().map(|p| p.id).collect(),
    }
}

/// When a message that arrived at `arrived` is overdue: `minutes` after it arrived, or
/// after opening time when it came in while closed.
pub fn overdue_at(arrived: DateTime<Utc>, hours: &BusinessHours, minutes: i64) -> DateTime<Utc> {
    hours.next_open(arrived).unwrap_or(arrived) + Duration::minutes(minutes)
}

/// When a new lead that came in at `created` is announced: at once, or at opening time.
pub fn announce_at(created: DateTime<Utc>, hours: &BusinessHours) -> DateTime<Utc> {
    hours.next_open(created).unwrap_or(created)
}

/// Whether a person's mute hours (local, in the account's zone) cover `now`.
pub fn muted(now: DateTime<Utc>, zone: &Zone, mute: Option<Window>) -> bool {
    mute.is_some_and(|w| w.ends_after(zone, now).is_some())
}

/// How a new lead came, for the alert's words (" by text", " from Google Ads"); nothing
/// for leads made by hand or imported, or from before sources were kept.
pub fn came_by(source: Option<&str>) -> String {
    match source {
        None | Some("manual" | "import" | "unknown") => String::new(),
        Some("sms") => " by text".into(),
        Some("phone_call") => " by phone".into(),
        Some("email") => " by email".into(),
        Some("chat") => " from the website chat".into(),
        Some("web_form") => " from the website form".into(),
        Some("google_ads") => " from Google Ads".into(),
        Some("facebook") => " from Facebook".into(),
        Some(other) => format!(" from {}", other.replace('_', " ")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_new_lead_alert_says_how_the_lead_came() {
        assert_eq!(super::came_by(Some("sms")), " by text");
        assert_eq!(super::came_by(Some("google_ads")), " from Google Ads");
        assert_eq!(super::came_by(Some("home_advisor")), " from home advisor");
        assert_eq!(super::came_by(Some("manual")), "");
        assert_eq!(super::came_by(None), "");
    }

    use super::*;
    use crate::hours::WeeklyHours;
    use std::collections::BTreeMap;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn weekdays_chicago() -> BusinessHours {
        let mut week = BTreeMap::new();
        for d in ["mon", "tue", "wed", "thu", "fri"] {
            week.insert(
                d.to_string(),
                vec![["07:00".to_string(), "18:00".to_string()]],
            );
        }
        BusinessHours::new(
            Zone::parse("America/Chicago").unwrap(),
            &WeeklyHours {
                week,
                holidays: vec![],
            },
        )
        .unwrap()
    }

    #[test]
    fn alerts_go_to_the_assigned_person_else_everyone_and_escalations_to_owners() {
        let people = vec![
            Person {
                id: 1,
                role: Role::Owner,
            },
            Person {
                id: 2,
                role: Role::Member,
            },
            Person {
                id: 3,
                role: Role::Admin,
            },
        ];
        assert_eq!(recipients(Kind::Unanswered, Some(2), &people), vec![2]);
        assert_eq!(recipients(Kind::NewLead, None, &people), vec![1, 2, 3]);
        assert_eq!(
            recipients(Kind::NewLead, Some(9), &people),
            vec![1, 2, 3],
            "assigned to someone gone"
        );
        assert_eq!(recipients(Kind::Escalation, Some(2), &people), vec![1]);
    }

    #[test]
    fn a_lead_at_2_am_is_announced_at_opening_and_overdue_after_the_target_of_open_time() {
        let h = weekdays_chicago();
        // Tuesday 10 March 2026, 02:00 CDT = 07:00 UTC; opens 07:00 CDT = 12:00 UTC.
        let at = utc("2026-03-10T07:00:00Z");
        assert_eq!(announce_at(at, &h), utc("2026-03-10T12:00:00Z"));
        assert_eq!(overdue_at(at, &h, 5), utc("2026-03-10T12:05:00Z"));
        // While open: five minutes after it arrived.
        let open = utc("2026-03-10T15:00:00Z");
        assert_eq!(overdue_at(open, &h, 5), utc("2026-03-10T15:05:00Z"));
        assert_eq!(announce_at(open, &h), open);
    }

    #[test]
    fn mute_hours_are_local_and_may_span_midnight() {
        let z = Zone::parse("America/Chicago").unwrap();
        let night = Window::parse("22:00", "06:30");
        assert!(muted(utc("2026-03-10T07:00:00Z"), &z, night), "02:00 CDT");
        assert!(!muted(utc("2026-03-10T15:00:00Z"), &z, night), "10:00 CDT");
        assert!(!muted(utc("2026-03-10T07:00:00Z"), &z, None));
    }
}
