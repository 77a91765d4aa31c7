//! The one place that decides what an enrolled lead's sequence does now: send its next
//! step, wait for opening time, stop (the lead replied, opted out, a person took over, the
//! job is won or lost), or finish. Pure and deterministic: the caller gives the clock.

use chrono::{DateTime, Duration, Utc};

use super::model::{Step, StepChannel, Trigger};
use crate::hours::BusinessHours;

/// What is known about the lead when its step is due.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadState {
    /// Pipeline stage (`new` … `won`, `lost`).
    pub status: String,
    pub sms_opted_out: bool,
    pub has_phone: bool,
    pub has_email: bool,
    /// An inbound message arrived after enrolment.
    pub replied: bool,
    /// A person of the team wrote to the lead after enrolment (not the AI, not a sequence).
    pub person_answered: bool,
}

/// What to do with a due enrollment.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send step `step`; then the next one is due at `next` (`None`: that was the last).
    Send {
        step: usize,
        next: Option<DateTime<Utc>>,
    },
    /// Not now: try again at `until` (why, for the run log).
    Wait {
        until: DateTime<Utc>,
        why: &'static str,
    },
    /// Stop for good, for this reason.
    Exit { reason: &'static str },
    /// Every step was sent.
    Complete,
}

/// Decides for an enrollment of a sequence (`trigger`, `steps`) whose step `step` is due.
pub fn decide(
    trigger: &Trigger,
    steps: &[Step],
    step: usize,
    lead: &LeadState,
    hours: &BusinessHours,
    now: DateTime<Utc>,
) -> Decision {
    let Some(current) = steps.get(step) else {
        return Decision::Complete;
    };
    // A review request goes after the job is won, whatever was said in between.
    let after_win = matches!(trigger, Trigger::Stage { stage } if stage == "won");
    if lead.sms_opted_out {
        // STOP ends every sequence, by text or email alike.
        return Decision::Exit {
            reason: "the lead opted out (STOP)",
        };
    }
    if !after_win {
        if lead.replied {
            return Decision::Exit {
                reason: "the lead replied",
            };
        }
        if lead.person_answered {
            return Decision::Exit {
                reason: "a person of the team took over",
            };
        }
        if lead.status == "won" || lead.status == "lost" {
            return Decision::Exit {
                reason: "the lead is won or lost",
            };
        }
    } else if lead.status != "won" {
        return Decision::Exit {
            reason: "the lead is no longer won",
        };
    }
    match current.channel {
        StepChannel::Sms if !lead.has_phone => {
            return Decision::Exit {
                reason: "the lead has no phone number",
            }
        }
        StepChannel::Email if !lead.has_email => {
            return Decision::Exit {
                reason: "the lead has no email address",
            }
        }
        _ => {}
    }
    if current.open_hours_only && !hours.is_open(now) {
        let until = hours.next_open(now).unwrap_or(now + Duration::hours(1));
        return Decision::Wait {
            until,
            why: "closed: waiting for opening time",
        };
    }
    let next = steps
        .get(step + 1)
        .map(|s| now + Duration::seconds(s.delay_secs));
    Decision::Send { step, next }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hours::{WeeklyHours, Zone};
    use std::collections::BTreeMap;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn steps() -> Vec<Step> {
        let s = |d: i64, open: bool| Step {
            channel: StepChannel::Sms,
            delay_secs: d,
            open_hours_only: open,
            body: "Hi".into(),
            subject: None,
        };
        vec![s(0, false), s(3600, true), s(86400, false)]
    }

    fn lead() -> LeadState {
        LeadState {
            status: "new".into(),
            has_phone: true,
            has_email: true,
            ..Default::default()
        }
    }

    fn chicago() -> BusinessHours {
        let mut week = BTreeMap::new();
        week.insert(
            "mon".to_string(),
            vec![["07:00".to_string(), "18:00".to_string()]],
        );
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
    fn steps_go_out_in_order_with_their_delays_then_the_sequence_completes() {
        let now = utc("2026-03-09T15:00:00Z"); // Monday 10:00 CDT: open
        let t = Trigger::Manual;
        assert_eq!(
            decide(&t, &steps(), 0, &lead(), &chicago(), now),
            Decision::Send {
                step: 0,
                next: Some(now + Duration::hours(1))
            }
        );
        assert_eq!(
            decide(&t, &steps(), 2, &lead(), &chicago(), now),
            Decision::Send {
                step: 2,
                next: None
            }
        );
        assert_eq!(
            decide(&t, &steps(), 3, &lead(), &chicago(), now),
            Decision::Complete
        );
    }

    #[test]
    fn a_step_for_open_hours_waits_for_opening_time_across_dst() {
        // Sunday 8 March 2026, 02:00 CST is skipped; it opens Monday 07:00 CDT (12:00 UTC).
        let d = decide(
            &Trigger::Manual,
            &steps(),
            1,
            &lead(),
            &chicago(),
            utc("2026-03-08T09:00:00Z"),
        );
        assert_eq!(
            d,
            Decision::Wait {
                until: utc("2026-03-09T12:00:00Z"),
                why: "closed: waiting for opening time"
            }
        );
        // Step 0 is not limited to open hours.
        assert!(matches!(
            decide(
                &Trigger::Manual,
                &steps(),
                0,
                &lead(),
                &chicago(),
                utc("2026-03-08T09:00:00Z")
            ),
            Decision::Send { .. }
        ));
    }

    #[test]
    fn replies_stop_opt_outs_people_and_closed_jobs_end_a_sequence() {
        let now = utc("2026-03-09T15:00:00Z");
        let t = Trigger::NewLead { sources: vec![] };
        let exit = |l: LeadState| decide(&t, &steps(), 1, &l, &chicago(), now);
        assert_eq!(
            exit(LeadState {
                replied: true,
                ..lead()
            }),
            Decision::Exit {
                reason: "the lead replied"
            }
        );
        assert_eq!(
            exit(LeadState {
                sms_opted_out: true,
                ..lead()
            }),
            Decision::Exit {
                reason: "the lead opted out (STOP)"
            }
        );
        assert_eq!(
            exit(LeadState {
                person_answered: true,
                ..lead()
            }),
            Decision::Exit {
                reason: "a person of the team took over"
            }
        );
        assert_eq!(
            exit(LeadState {
                status: "lost".into(),
                ..lead()
            }),
            Decision::Exit {
                reason: "the lead is won or lost"
            }
        );
        assert_eq!(
            exit(LeadState {
                has_phone: false,
                ..lead()
            }),
            Decision::Exit {
                reason: "the lead has no phone number"
            }
        );
    }

    #[test]
    fn a_review_request_goes_to_a_won_lead_even_after_a_reply() {
        let now = utc("2026-03-09T15:00:00Z");
        let t = Trigger::Stage {
            stage: "won".into(),
        };
        let won = LeadState {
            status: "won".into(),
            replied: true,
            person_answered: true,
            ..lead()
        };
        assert!(matches!(
            decide(&t, &steps()[..1], 0, &won, &chicago(), now),
            Decision::Send {
                step: 0,
                next: None
            }
        ));
        let reopened = LeadState {
            status: "quoted".into(),
            ..lead()
        };
        assert_eq!(
            decide(&t, &steps(), 0, &reopened, &chicago(), now),
            Decision::Exit {
                reason: "the lead is no longer won"
            }
        );
        let stop = LeadState {
            sms_opted_out: true,
            ..won
        };
        assert!(matches!(
            decide(&t, &steps(), 0, &stop, &chicago(), now),
            Decision::Exit { .. }
        ));
    }
}
