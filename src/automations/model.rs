//! What a sequence is, as stored (JSON) and checked on save: a trigger that enrols leads
//! and steps that send a templated text or email after a delay, maybe only in open hours;
//! and the ready-made sequences every account starts with (off until turned on).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// When leads are enrolled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "on", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// Only by hand (the lead page, `POST /api/sequences/{id}/enroll`).
    Manual,
    /// A new lead, optionally only from these sources (`sms`, `email`, `chat`, `phone_call`, `form`…).
    NewLead {
        #[serde(default)]
        sources: Vec<String>,
    },
    /// The lead's stage becomes this one (`quoted`, `won`…).
    Stage { stage: String },
    /// We wrote last and the lead has not answered for this many hours (1 to 2,160).
    NoReply { hours: i64 },
    /// The tracker's next best action for the lead becomes this one (`nurture_sequence`,
    /// `follow_up`, `follow_up_quote`, `re_engage`…).
    NextAction { action: String },
}

/// The tracker's next actions a trigger may name.
pub const NEXT_ACTIONS: [&str; 8] = [
    "respond_immediately",
    "address_concerns",
    "make_first_contact",
    "schedule_inspection",
    "follow_up_quote",
    "follow_up",
    "re_engage",
    "nurture_sequence",
];

/// How a step reaches the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepChannel {
    Sms,
    Email,
}

/// One message of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub channel: StepChannel,
    /// Wait this long after enrolment (first step) or after the step before (0 to 90 days).
    pub delay_secs: i64,
    /// Hold the step until the business is open (`/api/settings/hours`).
    #[serde(default)]
    pub open_hours_only: bool,
    /// The words: a template with variables (see `/api/templates`).
    pub body: String,
    /// Email only.
    #[serde(default)]
    pub subject: Option<String>,
}

/// Longest wait of one step.
pub const MAX_DELAY_SECS: i64 = 90 * 24 * 3600;
/// Most steps in one sequence.
pub const MAX_STEPS: usize = 10;

/// Checks a trigger and steps as saved; the message names the part that is wrong.
pub fn validate(trigger: &Trigger, steps: &[Step]) -> Result<(), String> {
    match trigger {
        Trigger::Stage { stage } if !crate::leads::STATUSES.contains(&stage.as_str()) => {
            return Err(format!(
                "trigger.stage must be one of {}",
                crate::leads::STATUSES.join(", ")
            ));
        }
        Trigger::NoReply { hours } if !(1..=2160).contains(hours) => {
            return Err("trigger.hours must be 1 to 2160 (90 days)".into());
        }
        Trigger::NextAction { action } if !NEXT_ACTIONS.contains(&action.as_str()) => {
            return Err(format!(
                "trigger.action must be one of {}",
                NEXT_ACTIONS.join(", ")
            ));
        }
        Trigger::NewLead { sources }
            if sources.len() > 20
                || sources.iter().any(|s| s.trim().is_empty() || s.len() > 50) =>
        {
            return Err("trigger.sources: at most 20 names of 1 to 50 characters".into());
        }
        _ => {}
    }
    if steps.is_empty() || steps.len() > MAX_STEPS {
        return Err(format!("steps: 1 to {MAX_STEPS} steps"));
    }
    for (i, s) in steps.iter().enumerate() {
        if !(0..=MAX_DELAY_SECS).contains(&s.delay_secs) {
            return Err(format!(
                "steps[{i}].delay_secs must be 0 to {MAX_DELAY_SECS} (90 days)"
            ));
        }
        crate::message_templates::validate(&s.body).map_err(|m| format!("steps[{i}].body: {m}"))?;
        match (s.channel, s.subject.as_deref().map(str::trim)) {
            (StepChannel::Email, None | Some("")) => {
                return Err(format!("steps[{i}].subject is required for an email"))
            }
            (StepChannel::Email, Some(subject)) => crate::message_templates::validate(subject)
                .map_err(|m| format!("steps[{i}].subject: {m}"))?,
            (StepChannel::Sms, Some(s)) if !s.is_empty() => {
                return Err(format!("steps[{i}].subject: texts have no subject"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// A ready-made sequence: key, name, trigger, steps.
pub struct ReadyMade {
    pub key: &'static str,
    pub name: &'static str,
    pub trigger: Trigger,
    pub steps: Vec<Step>,
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

fn sms(delay_secs: i64, body: &str) -> Step {
    Step {
        channel: StepChannel::Sms,
        delay_secs,
        open_hours_only: true,
        body: body.into(),
        subject: None,
    }
}

/// The sequences every account starts with, turned off.
pub fn ready_made() -> Vec<ReadyMade> {
    vec![
        ReadyMade {
            key: "new_lead",
            name: "New-lead follow-up",
            trigger: Trigger::NewLead { sources: vec![] },
            steps: vec![
                sms(DAY, "Hi {{ lead.first_name | default(\"there\") }}, it's {{ company.name }} following up on your roof. When is a good time for a free inspection?{% if company.booking_link is defined %} You can also pick a time here: {{ company.booking_link }}{% endif %}"),
                sms(3 * DAY, "Hi {{ lead.first_name | default(\"there\") }}, just checking in from {{ company.name }}. Still need help with your roof? Reply here and we'll take care of it."),
                sms(7 * DAY, "Last note from {{ company.name }}: if you'd still like a roof inspection, just reply and we'll set it up. Thanks!"),
            ],
        },
        ReadyMade {
            key: "quote",
            name: "Quote follow-up",
            trigger: Trigger::Stage { stage: "quoted".into() },
            steps: vec![
                sms(2 * DAY, "Hi {{ lead.first_name | default(\"there\") }}, it's {{ company.name }}. Any questions about your roofing quote? Happy to walk through it."),
                sms(5 * DAY, "Hi {{ lead.first_name | default(\"there\") }}, your quote from {{ company.name }} is still good. Want to get on the schedule?"),
            ],
        },
        ReadyMade {
            key: "nurture",
            name: "Cold-lead nurture",
            trigger: Trigger::NextAction { action: "nurture_sequence".into() },
            steps: vec![
                sms(14 * DAY, "Hi {{ lead.first_name | default(\"there\") }}, {{ company.name }} here. Storm season is coming: a quick roof check now can save a costly repair later. Want one?"),
                sms(30 * DAY, "Hi {{ lead.first_name | default(\"there\") }}, thinking about your roof this year? {{ company.name }} offers free inspections. Just reply."),
            ],
        },
        ReadyMade {
            key: "review",
            name: "Review request",
            trigger: Trigger::Stage { stage: "won".into() },
            steps: vec![sms(
                2 * DAY,
                "Thanks for choosing {{ company.name }}, {{ lead.first_name | default(\"friend\") }}! If you're happy with your roof, a quick review would mean a lot: {{ company.review_link }}",
            )],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_made_sequences_pass_their_own_checks() {
        for r in ready_made() {
            assert_eq!(validate(&r.trigger, &r.steps), Ok(()), "{}", r.key);
        }
    }

    #[test]
    fn bad_sequences_are_refused_naming_the_part() {
        let ok = sms(0, "Hi");
        assert!(validate(
            &Trigger::Stage {
                stage: "signed".into()
            },
            std::slice::from_ref(&ok)
        )
        .unwrap_err()
        .starts_with("trigger.stage"));
        assert!(validate(&Trigger::Manual, &[])
            .unwrap_err()
            .starts_with("steps:"));
        let late = Step {
            delay_secs: MAX_DELAY_SECS + 1,
            ..ok.clone()
        };
        assert!(validate(&Trigger::Manual, &[late])
            .unwrap_err()
            .starts_with("steps[0].delay_secs"));
        let typo = Step {
            body: "Hi {{ lead.frist_name }}".into(),
            ..ok.clone()
        };
        assert!(validate(&Trigger::Manual, &[ok.clone(), typo])
            .unwrap_err()
            .starts_with("steps[1].body: unknown variable"));
        let email = Step {
            channel: StepChannel::Email,
            ..ok.clone()
        };
        assert!(validate(&Trigger::Manual, &[email])
            .unwrap_err()
            .contains("subject is required"));
        assert!(
            validate(&Trigger::NoReply { hours: 0 }, std::slice::from_ref(&ok))
                .unwrap_err()
                .starts_with("trigger.hours")
        );
        assert!(validate(
            &Trigger::NextAction {
                action: "call_mom".into()
            },
            std::slice::from_ref(&ok)
        )
        .unwrap_err()
        .starts_with("trigger.action"));
        let parsed: Trigger = serde_json::from_str(r#"{"on":"no_reply","hours":48}"#).unwrap();
        assert_eq!(parsed, Trigger::NoReply { hours: 48 });
        let parsed: Trigger = serde_json::from_str(r#"{"on":"stage","stage":"won"}"#).unwrap();
        assert_eq!(
            parsed,
            Trigger::Stage {
                stage: "won".into()
            }
        );
        assert!(serde_json::from_str::<Trigger>(r#"{"on":"whenever"}"#).is_err());
    }
}
