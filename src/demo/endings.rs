//! How the stories end: won, lost, gone silent, unanswered, deliberating, waiting on the
//! insurance, a ballpark, not a fit, a no-show rebooked.

use chrono::Duration;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::domain::Direction;

use super::clock::{clock, days, from_local, hours, local, mins, secs, weekday, Actor};
use super::people::{display_phone, money, INSURERS};
use super::plan::Opening;
use super::{Demo, Run};

impl Demo {
    pub(super) async fn won(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street, company) = (l.p.first, l.p.street.clone(), self.company.name.clone());
        let yes = [
            "This looks great — we'd like to move forward. When can your crew start?",
            "Thanks Mike, we're ready to sign. Let us know the next steps!",
            "Perfect, that's what we hoped. Let's do it!",
        ];
        let yes = yes.choose(&mut l.rng).copied().unwrap_or(yes[0]);
        self.email_in(l, hours(3, 40), None, yes.into()).await?;
        let at = self.step(l, hours(1, 5), Actor::Office);
        let install = self.slot(l, at, 3, 8, &[7 * 60 + 30]);
        let length = if l.p.issue.replacement {
            "usually takes one to two days"
        } else {
            "takes about half a day"
        };
        let body = format!(
            "Wonderful, thank you {first}! You're on our schedule for {}. The crew arrives around 7:30am and {} {length}. I'll text you a reminder the day before.\n\n{}",
            local(install).format("%A, %B %-d"),
            l.p.job(),
            self.company.signature()
        );
        self.email_out(l, at, None, body, None).await?;
        self.stage(l, "won").await?;
        let thanks = [
            "The crew did an amazing job, thank you! Just left you a review.",
            "Looks fantastic. Great crew, very clean. Thanks!",
            "Love the new roof, thank you so much!",
        ];
        let thanks = thanks.choose(&mut l.rng).copied().unwrap_or(thanks[0]);
        if let Some(eve) = local(install).date_naive().pred_opt() {
            let remind = from_local(eve, 16 * 60 + l.clock.gen_range(0..45));
            if remind > l.at && remind < self.now {
                let at = self.set(l, remind);
                let text = format!(
                    "Reminder: our crew will be at {street} tomorrow at 7:30am. Please move cars out of the driveway. Thanks!"
                );
                self.sms_out_at(l, at, text, true, vec![]).await?;
            }
        }
        let after = self.set(l, install + Duration::hours(30));
        if after < self.now - Duration::hours(1) {
            let text = format!(
                "Hi {first}, thanks again for choosing {company}! If you're happy with the work, would you mind leaving us a quick review? https://reviews.example.com/{}",
                self.company.domain
            );
            self.sms_out(l, hours(0, 6), Actor::Office, text, false)
                .await?;
            self.sms_in(l, hours(1, 20), thanks.into()).await?;
        }
        Ok(())
    }

    pub(super) async fn lost_on_price(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let first = l.p.first;
        let company = self.company.name.clone();
        let less = money(l.p.price / 100 * l.rng.gen_range(15..30));
        let text = format!(
            "Thanks for the quote, Mike. Honestly that's too expensive for us — another company quoted about {less} less for the same work."
        );
        self.email_in(l, hours(10, 60), None, text).await?;
        let at = self.step(l, hours(1, 5), Actor::Office);
        let body = format!(
            "I understand, {first}. Estimates can look alike and not be: ours replaces the underlayment, includes permits and cleanup, and comes with a 10-year workmanship warranty. \
             If the price is the concern, we offer 0% APR for 12 months, and I'm happy to walk through the line items on the phone.\n\n{}",
            self.company.signature()
        );
        self.email_out(l, at, None, body, None).await?;
        let text = format!(
            "Hi {first}, Mike from {company}. Just checking in on the estimate — any questions I can answer?"
        );
        self.sms_out(l, days(3, 5), Actor::Office, text, false)
            .await?;
        let no = [
            "Thanks, but we went with someone else.",
            "We decided to go with another company. Thanks for your time.",
        ];
        let no = no.choose(&mut l.rng).copied().unwrap_or(no[0]);
        self.sms_in(l, hours(2, 30), no.into()).await?;
        self.stage(l, "lost").await
    }

    pub(super) async fn cancelled(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let first = l.p.first;
        self.sms_in(
            l,
            hours(2, 20),
            "Hi, sorry for the late notice, we need to cancel the inspection. We decided to go with another roofer who could start sooner.".into(),
        )
        .await?;
        let text = format!(
            "Understood, {first}. Thanks for letting us know — if anything changes, we're here."
        );
        self.sms_out(l, mins(10, 120), Actor::Office, text, false)
            .await?;
        self.stage(l, "lost").await
    }

    /// Our follow-ups to a lead who stopped answering.
    pub(super) async fn chase(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, short) = (l.p.first, l.p.issue.short);
        let (company, phone) = (self.company.name.clone(), self.company.phone_display());
        let text = format!(
            "Hi {first}, it's Sarah from {company} following up on your {short}. Would you like us to set up a free inspection? We have openings this week."
        );
        self.sms_out(l, days(1, 3), Actor::Office, text, false)
            .await?;
        let at = self.step(l, days(5, 8), Actor::Office);
        if l.p.email.is_some() {
            let body = format!(
                "Hi {first},\n\nJust checking in about the {short} you mentioned. We can usually get out within two days for a free inspection, and we work with all major insurers if it's storm related.\n\nReply here or call {phone} whenever you're ready.\n\n{}",
                self.company.signature()
            );
            self.email_out(l, at, Some("Following up on your roof".into()), body, None)
                .await?;
        } else {
            let text = format!(
                "Hi {first}, checking in once more about your {short}. We can usually get out within two days for a free inspection. Call or text {phone} whenever you're ready."
            );
            self.sms_out_at(l, at, text, false, vec![]).await?;
        }
        let at = self.step(l, days(5, 9), Actor::Office);
        if l.rng.gen_bool(0.5) {
            let transcript = format!(
                "Hi {first}, it's Mike with {company} following up on your {short}. Give me a call back at {phone} when you get a chance. Thanks!"
            );
            let duration = l.rng.gen_range(25..45);
            self.call(
                l,
                at,
                Direction::Outbound,
                "voicemail",
                duration,
                Some(transcript),
            )
            .await
        } else {
            self.call(l, at, Direction::Outbound, "no_answer", 0, None)
                .await
        }
    }

    /// A lead who reached out recently and has not been answered yet.
    pub(super) async fn unanswered(&mut self, l: &mut Run, opening: Opening) -> anyhow::Result<()> {
        let p = &l.p;
        let (first, name, phone) = (p.first, p.name(), display_phone(&p.phone));
        let (detail, timeline) = (p.issue.detail, p.timeline.1);
        let place = if p.has_address {
            format!(" We're at {}.", p.address())
        } else {
            String::new()
        };
        match opening {
            Opening::WebForm => {
                let subject = format!("{} – {}", p.issue.subject, p.city);
                let body = format!(
                    "Hello,\n\n{detail}{place} {timeline}\n\nPlease call or text me at {phone}.\n\n{name}"
                );
                self.email_in(l, secs(0, 0), Some(subject), body).await
            }
            Opening::Text | Opening::Chat => {
                let text = format!(
                    "Hi, is this {}? {detail}{place} {timeline} Can someone call me?",
                    self.company.name
                );
                self.sms_in(l, secs(0, 0), text).await
            }
            Opening::CallMissed | Opening::CallAnswered => {
                let transcript = format!(
                    "Hi, this is {name}. {detail}{place} Please call me back at {phone}. Thanks."
                );
                let at = self.step(l, secs(0, 0), Actor::Lead);
                let duration = l.rng.gen_range(30..60);
                self.call(
                    l,
                    at,
                    Direction::Inbound,
                    "voicemail",
                    duration,
                    Some(transcript),
                )
                .await?;
                if l.rng.gen_bool(0.5) {
                    let text = format!(
                        "Hi, I just left a voicemail about my roof. {timeline} Can someone call me back? - {first}"
                    );
                    self.sms_in(l, mins(3, 20), text).await?;
                }
                Ok(())
            }
        }
    }

    /// Quote sent; the lead is thinking it over.
    pub(super) async fn deliberating(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let (company, phone) = (self.company.name.clone(), self.company.phone_display());
        let maybe = [
            "Thanks for the detailed quote. We need to talk it over and check what insurance will cover. We'll get back to you next week.",
            "Got it, thank you. My husband and I are going to talk it over this weekend.",
            "Thanks Mike. Still comparing a couple of quotes, yours is the most thorough so far.",
        ];
        let maybe = maybe.choose(&mut l.rng).copied().unwrap_or(maybe[0]);
        self.email_in(l, hours(4, 48), None, maybe.into()).await?;
        let text =
            format!("Hi {first}, Mike from {company}. Any questions on the estimate I can answer?");
        self.sms_out(l, days(3, 5), Actor::Office, text, false)
            .await?;
        if l.rng.gen_bool(0.55) {
            self.sms_in(
                l,
                hours(1, 30),
                "Still deciding, will let you know by Friday. Thanks for checking in!".into(),
            )
            .await
        } else {
            let transcript = format!(
                "Hi {first}, it's Mike with {company}, following up on the estimate for {street}. Give me a call back when you get a chance at {phone}. Thanks!"
            );
            let at = self.step(l, days(2, 4), Actor::Office);
            let duration = l.rng.gen_range(30..55);
            self.call(
                l,
                at,
                Direction::Outbound,
                "voicemail",
                duration,
                Some(transcript),
            )
            .await
        }
    }

    /// Inspected; the homeowner worries about the insurance claim.
    pub(super) async fn insurance(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let insurer = INSURERS.choose(&mut l.rng).copied().unwrap_or("State Farm");
        let body = format!(
            "Hi Mike,\n\nI filed the claim with {insurer} but I'm really worried the adjuster will deny it. What happens if they say it's just wear and tear? We can't afford to pay for the whole thing ourselves.\n\n{first}"
        );
        self.email_in(
            l,
            hours(12, 40),
            Some("Insurance claim question".into()),
            body,
        )
        .await?;
        let at = self.step(l, hours(1, 5), Actor::Office);
        let body = format!(
            "Hi {first},\n\nThat's a very common worry, and you won't be on your own with it. I'll meet the adjuster on site and walk the roof with them, with photos of all the damage we documented. \
             If they deny it, we can request a re-inspection, and we only bill what the claim approves beyond your deductible.\n\nLet me know when they schedule the visit.\n\n{}",
            self.company.signature()
        );
        self.email_out(l, at, None, body, None).await?;
        let visit = self.slot(l, l.at, 2, 5, &[10 * 60, 13 * 60, 15 * 60]);
        let (day, time) = (weekday(visit), clock(visit));
        let text = format!(
            "Thank you, that makes me feel a lot better. The adjuster is coming {day} at {time}."
        );
        self.email_in(l, hours(12, 50), None, text).await?;
        let text = format!(
            "Hi {first}, Mike here. I'll be at {street} {day} at {time} to meet the adjuster."
        );
        self.sms_out(l, mins(20, 180), Actor::Office, text, false)
            .await
    }

    /// A ballpark for someone in no hurry.
    pub(super) async fn ballpark(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, city) = (l.p.first, l.p.city);
        let low = l.rng.gen_range(90..130) * 100;
        let high = low + l.rng.gen_range(40..90) * 100;
        let at = self.step(l, hours(2, 8), Actor::Office);
        let body = format!(
            "Hi {first},\n\nThanks for reaching out. For most homes in {city}, a full replacement with architectural shingles runs {}–{}, depending on size, pitch and how much decking needs replacing. \
             A free inspection gets you an exact number whenever you're ready.\n\n{}",
            money(low),
            money(high),
            self.company.signature()
        );
        self.email_out(l, at, Some("Ballpark for a new roof".into()), body, None)
            .await?;
        self.email_in(
            l,
            hours(3, 48),
            None,
            "Ok. We'll probably wait until spring and reach out then.".into(),
        )
        .await
    }

    /// A renter: the landlord has to approve, and won't.
    pub(super) async fn not_a_fit(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let first = l.p.first;
        self.sms_in(
            l,
            secs(0, 0),
            "Hi, I rent my house and the roof has been leaking into the living room for weeks. My landlord won't fix it. Can you come out?".into(),
        )
        .await?;
        let text = format!(
            "Hi {first}, sorry you're dealing with that. Since it's a rental, the owner has to approve the inspection and the work. Could you send us your landlord's contact info?"
        );
        self.sms_out(l, mins(10, 120), Actor::Office, text, false)
            .await?;
        self.sms_in(
            l,
            hours(1, 20),
            "He won't pay for anything. Forget it.".into(),
        )
        .await
    }

    /// Nobody came to the inspection; the estimator calls and rebooks.
    pub(super) async fn no_show(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let company = self.company.name.clone();
        let slot = l.slot.unwrap_or(l.at);
        let after = Duration::minutes(l.clock.gen_range(90..200));
        self.set(l, slot + after);
        self.sms_in(
            l,
            secs(0, 0),
            "Nobody showed up for our inspection today. I took the afternoon off work for this — really frustrating.".into(),
        )
        .await?;
        let at = self.step(l, mins(10, 60), Actor::Office);
        let again = self.slot(l, at, 1, 2, &[8 * 60]);
        let day = weekday(again);
        let transcript = format!(
            "Mike: Hi {first}, this is Mike from {company}. I'm so sorry about today. Our schedule got crossed up and that's on us.\n\
             {first}: Honestly I'm pretty annoyed. I rearranged my whole day.\n\
             Mike: I understand, and I apologize. Can I come out first thing {day} at 8am and do the inspection myself?\n\
             {first}: Fine. {day} at 8.\n\
             Mike: Thank you. I'll send you a confirmation text right now."
        );
        let duration = l.rng.gen_range(120..300);
        self.call(
            l,
            at,
            Direction::Outbound,
            "completed",
            duration,
            Some(transcript),
        )
        .await?;
        l.slot = Some(again);
        let text =
            format!("Confirmed: {day} at 8am at {street}. Again, sorry for the mix-up, {first}.");
        self.sms_out(l, mins(1, 5), Actor::Instant, text, false)
            .await?;
        self.sms_in(l, mins(5, 90), "Ok.".into()).await
    }
}
