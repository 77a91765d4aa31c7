//! A lead's story: its course by `Story`, and the parts most stories share — the first
//! touch, booking and holding the inspection, the quote.

use anyhow::anyhow;
use axum::http::Method;
use chrono::Duration;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;

use crate::domain::Direction;

use super::clock::{clock, from_local, hours, local, mins, secs, weekday, Actor};
use super::people::{display_phone, money, Profile};
use super::plan::{Opening, Story};
use super::{Demo, Run};

/// How the homeowner takes the inspection's findings.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mood {
    Happy,
    Worried,
    Insurance,
}

impl Demo {
    pub(super) async fn lead(
        &mut self,
        story: Story,
        opening: Opening,
        p: Profile,
        mut rng: StdRng,
    ) -> anyhow::Result<()> {
        let created = self
            .api
            .call(Method::POST, "/api/leads", p.lead_fields())
            .await?;
        let id = created["id"]
            .as_i64()
            .ok_or_else(|| anyhow!("the lead API returned no id: {created}"))?;
        let (span, lo, hi) = story.span_and_start(self.days);
        let start_days = rng.gen_range(lo..=hi.max(lo));
        let scale = ((start_days - 0.2) / span).clamp(0.02, 1.0);
        let at = self.now - Duration::seconds((start_days * 86400.0) as i64);
        let clock = StdRng::seed_from_u64(rng.gen());
        let mut l = Run {
            id,
            p,
            rng,
            clock,
            at,
            scale,
            thread: None,
            slot: None,
        };
        match story {
            Story::Won => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Happy).await?;
                self.quote(&mut l).await?;
                self.won(&mut l).await?;
            }
            Story::LostOnPrice => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Worried).await?;
                self.quote(&mut l).await?;
                self.lost_on_price(&mut l).await?;
            }
            Story::LostElsewhere => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.cancelled(&mut l).await?;
            }
            Story::GoneSilent => {
                self.open(&mut l, opening).await?;
                self.chase(&mut l).await?;
            }
            Story::Unanswered => self.unanswered(&mut l, opening).await?,
            Story::Deliberating => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Happy).await?;
                self.quote(&mut l).await?;
                self.deliberating(&mut l).await?;
            }
            Story::Scheduled => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
            }
            Story::Insurance => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.inspect(&mut l, Mood::Insurance).await?;
                self.insurance(&mut l).await?;
            }
            Story::TireKicker => {
                self.open(&mut l, opening).await?;
                self.ballpark(&mut l).await?;
            }
            Story::NoShow => {
                self.open(&mut l, opening).await?;
                self.schedule(&mut l).await?;
                self.no_show(&mut l).await?;
            }
            Story::NotAFit => self.not_a_fit(&mut l).await?,
        }
        Ok(())
    }

    /// The lead's first touch and our first answer.
    pub(super) async fn open(&mut self, l: &mut Run, opening: Opening) -> anyhow::Result<()> {
        let p = &l.p;
        let (first, name, phone) = (p.first, p.name(), display_phone(&p.phone));
        let (detail, street, city) = (p.issue.detail, p.street.clone(), p.city);
        let company = self.company.name.clone();
        match opening {
            Opening::Chat => {
                let mut s = self.chat_start(l, secs(0, 0));
                self.chat_visitor(l, &mut s, l.p.issue.chat.into()).await?;
                let asked = self.chat_ai(l, &mut s).await?.to_lowercase();
                // The visitor answers the question, then leaves their contact.
                let p = &l.p;
                let age = if asked.contains("how old") {
                    s.fields.roof_age_years = Some(p.roof_age);
                    format!("It's about {} years old. ", p.roof_age)
                } else {
                    String::new()
                };
                let contact = match (&p.email, p.has_address) {
                    (Some(e), true) => format!(
                        "{age}I'm {name} at {}. My cell is {phone}, or email {e}.",
                        p.address()
                    ),
                    (None, true) => format!("{age}{name}, {}. My cell is {phone}.", p.address()),
                    (Some(e), false) => {
                        format!("{age}I'm {name}. Text me at {phone} or email {e}.")
                    }
                    (None, false) => format!("{age}I'm {name}. You can text me at {phone}."),
                };
                s.fields.name = Some(name.clone());
                s.fields.phone = Some(p.phone.clone());
                s.fields.email = p.email.clone();
                s.fields.property_address = p.has_address.then(|| p.address());
                let (timeline, said_timeline, goodbye) =
                    (p.timeline, p.chat_timeline, p.chat_goodbye);
                self.chat_visitor(l, &mut s, contact).await?;
                self.chat_ai(l, &mut s).await?;
                if said_timeline {
                    s.fields.timeline = Some(timeline.0.to_string());
                    self.chat_visitor(l, &mut s, timeline.1.into()).await?;
                    self.chat_ai(l, &mut s).await?;
                }
                if goodbye {
                    let bye = [
                        "Great, thanks!",
                        "Thank you!",
                        "Ok sounds good, thanks so much.",
                    ];
                    let bye = bye.choose(&mut l.rng).copied().unwrap_or("Thanks!");
                    self.chat_visitor(l, &mut s, bye.into()).await?;
                }
                self.chat_end(l, s).await?;
            }
            Opening::WebForm => {
                let address = if p.has_address {
                    format!("The house is at {}. ", p.address())
                } else {
                    String::new()
                };
                let body = format!(
                    "Hi,\n\n{detail} The roof is about {} years old. {}\n\n{address}Could someone come take a look? My cell is {phone}.\n\nThanks,\n{name}",
                    p.roof_age, p.timeline.1
                );
                let subject = format!("{} – {city}", p.issue.subject);
                self.email_in(l, secs(0, 0), Some(subject), body).await?;
                if !self.ai_email_reply(l).await? {
                    let at = self.step(l, mins(20, 180), Actor::Office);
                    let text = format!(
                        "Hi {first},\n\nThanks for reaching out to {company}. We'd be glad to take a look — inspections are free. I'll text you to find a time.\n\n{}",
                        self.company.signature()
                    );
                    self.email_out(l, at, None, text, None).await?;
                }
            }
            Opening::CallAnswered => {
                let intro = match p.source {
                    "Google" => "I found you on Google",
                    "Yard sign" => "I saw your sign in my neighbor's yard",
                    "Referral" => "my neighbor recommended you",
                    "Door hanger" => "you left a door hanger on my door",
                    _ => "I'm calling about my roof",
                };
                let (age, timeline, address) = (p.roof_age, p.timeline.1, p.address());
                let at = self.step(l, secs(0, 0), Actor::Lead);
                let slot = self.slot(l, at, 1, 3, &[9 * 60, 10 * 60 + 30, 13 * 60, 15 * 60 + 30]);
                let (day, time) = (weekday(slot), clock(slot));
                let transcript = format!(
                    "Sarah: Thanks for calling {company}, this is Sarah.\n\
                     {first}: Hi, {intro}. {detail}\n\
                     Sarah: I'm sorry to hear that. How old is the roof?\n\
                     {first}: About {age} years. {timeline}\n\
                     Sarah: Okay. Let's schedule an inspection. Mike can come out {day} at {time}. It's free and takes about 45 minutes.\n\
                     {first}: {day} works. The address is {address}.\n\
                     Sarah: Perfect, you'll get a text confirmation. Thanks, {first}!"
                );
                let duration = l.rng.gen_range(150..420);
                self.call(
                    l,
                    at,
                    Direction::Inbound,
                    "completed",
                    duration,
                    Some(transcript),
                )
                .await?;
                l.slot = Some(slot);
                let text = format!(
                    "Hi {first}, this is Sarah with {company}. You're confirmed for a free roof inspection {day} at {time} at {street}. Reply here with any questions!"
                );
                self.sms_out(l, mins(3, 40), Actor::Office, text, false)
                    .await?;
                self.stage(l, "inspection_scheduled").await?;
            }
            Opening::CallMissed => {
                let at = self.step(l, secs(0, 0), Actor::Lead);
                self.call(l, at, Direction::Inbound, "missed", 0, None)
                    .await?;
                let text =
                    crate::channels::sms::send::MISSED_CALL_TEMPLATE.replace("{company}", &company);
                self.sms_out(l, secs(15, 50), Actor::Instant, text, true)
                    .await?;
                let place = if l.p.has_address {
                    format!(" We're at {street} in {city}.")
                } else {
                    String::new()
                };
                let text =
                    format!("Hi, this is {first}. {detail}{place} Can someone come take a look?");
                self.sms_in(l, mins(2, 45), text).await?;
            }
            Opening::Text => {
                let intro = match p.source {
                    "Referral" => "My neighbor gave me your number",
                    "Door hanger" => "Got your door hanger",
                    "Nextdoor" => "Saw you recommended on Nextdoor",
                    _ => "Found you online",
                };
                let text =
                    format!("Hi, this is {name}. {intro}. {detail} Could someone come look at it?");
                let (short, has_address, address) = (p.issue.short, p.has_address, p.address());
                self.sms_in(l, secs(0, 0), text).await?;
                let text = format!(
                    "Hi {first}! Thanks for reaching out to {company}. Sorry to hear about the {short}. We do free inspections — what's the property address?"
                );
                self.sms_out(l, mins(8, 90), Actor::Office, text, false)
                    .await?;
                if has_address {
                    self.sms_in(l, mins(3, 120), format!("It's {address}."))
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Books the inspection (unless the opening call did) and sends the reminder.
    pub(super) async fn schedule(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let (first, street) = (l.p.first, l.p.street.clone());
        let company = self.company.name.clone();
        let slot = match l.slot {
            Some(slot) => slot,
            None => {
                let at = self.step(l, hours(1, 20), Actor::Office);
                let mut slot =
                    self.slot(l, at, 1, 3, &[9 * 60, 10 * 60 + 30, 13 * 60, 14 * 60 + 30]);
                let text = format!(
                    "Hi {first}, it's Sarah from {company}. Mike can come out for a free inspection {} at {}. Would that work?",
                    weekday(slot),
                    clock(slot)
                );
                self.sms_out_at(l, at, text, false, vec![]).await?;
                if l.rng.gen_bool(0.7) {
                    let day = weekday(slot);
                    let yes = [
                        format!("{day} at {} works great, thank you!", clock(slot)),
                        "Yes, that works. I'll be home.".to_string(),
                        format!("Perfect, see you {day}."),
                    ];
                    let yes = yes.choose(&mut l.rng).cloned().unwrap_or_default();
                    self.sms_in(l, mins(5, 180), yes).await?;
                } else {
                    self.sms_in(
                        l,
                        mins(5, 180),
                        "Could we do later in the day? After 3 is better for us.".into(),
                    )
                    .await?;
                    slot = from_local(local(slot).date_naive(), 15 * 60 + 30);
                    let text = format!(
                        "No problem — {} at {} it is. See you then!",
                        weekday(slot),
                        clock(slot)
                    );
                    self.sms_out(l, mins(5, 60), Actor::Office, text, false)
                        .await?;
                }
                l.slot = Some(slot);
                self.stage(l, "inspection_scheduled").await?;
                slot
            }
        };
        // Drawn whether or not the reminder is sent yet, so what follows does not depend on it.
        let ok = [
            "See you then 👍",
            "Thanks, we'll be here.",
            "Great, thank you!",
        ]
        .choose(&mut l.rng)
        .copied()
        .filter(|_| l.rng.gen_bool(0.5));
        let eve = local(slot).date_naive().pred_opt();
        if let Some(eve) = eve {
            let remind = from_local(eve, 15 * 60 + l.clock.gen_range(0..150));
            if remind > l.at && remind < self.now {
                let at = self.set(l, remind);
                let text = format!(
                    "Reminder: Mike from {company} will be at {street} tomorrow at {} for your free roof inspection. Reply here if you need to reschedule.",
                    clock(slot)
                );
                self.sms_out_at(l, at, text, true, vec![]).await?;
                if let Some(ok) = ok {
                    self.sms_in(l, mins(5, 120), ok.into()).await?;
                }
            }
        }
        Ok(())
    }

    /// The estimator's call after the inspection, and photos.
    async fn inspect(&mut self, l: &mut Run, mood: Mood) -> anyhow::Result<()> {
        let slot = l.slot.unwrap_or(l.at);
        let (first, company) = (l.p.first, self.company.name.clone());
        let recommendation = if l.p.issue.replacement {
            "Given the age of the roof, I'd recommend a full replacement rather than patching it."
        } else {
            "The good news is it's a repair, not a replacement."
        };
        let reactions: &[&str] = match mood {
            Mood::Happy => &[
                "That's a relief, thank you for explaining everything so clearly.",
                "Great, thanks for being so thorough!",
            ],
            Mood::Worried => &[
                "Oh no. I'm worried about what that's going to cost us.",
                "Ugh, that's not what I wanted to hear. How much are we talking?",
            ],
            Mood::Insurance => {
                &["Do you think insurance will cover it? I've never filed a claim before."]
            }
        };
        let reaction = reactions.choose(&mut l.rng).copied().unwrap_or("Okay.");
        let closing = match mood {
            Mood::Insurance => "It's worth filing an insurance claim. I'll send you the photos for the adjuster today and a quote by email tomorrow.",
            _ => "I'll put the numbers together and send you a quote by email tomorrow.",
        };
        let transcript = format!(
            "Mike: Hi {first}, it's Mike from {company}. I just finished up on your roof.\n\
             {first}: Great, what did you find?\n\
             Mike: {}. {recommendation}\n\
             {first}: {reaction}\n\
             Mike: {closing}",
            l.p.issue.finding
        );
        let after = Duration::minutes(l.clock.gen_range(50..90));
        let at = self.set(l, slot + after);
        let duration = l.rng.gen_range(240..560);
        self.call(
            l,
            at,
            Direction::Outbound,
            "completed",
            duration,
            Some(transcript),
        )
        .await?;
        if l.rng.gen_bool(0.6) {
            let at = self.step(l, mins(5, 25), Actor::Office);
            let mut media = vec![];
            for _ in 0..3 {
                let name = self.hex(16);
                let url = format!("https://photos.example.com/{}/{name}.jpg", self.account);
                media.push(json!({"url": url, "content_type": "image/jpeg"}));
            }
            let text = format!("Here are a few photos from today's inspection, {first}.");
            self.sms_out_at(l, at, text, false, media).await?;
        }
        // The estimator has seen the roof now.
        let fields = json!({"status": "inspected", "roof_age_years": l.p.roof_age});
        self.api
            .call(Method::PATCH, &format!("/api/leads/{}", l.id), fields)
            .await?;
        Ok(())
    }

    /// The estimate, by email.
    pub(super) async fn quote(&mut self, l: &mut Run) -> anyhow::Result<()> {
        let p = &l.p;
        let items = if p.issue.replacement {
            "• Tear off and haul away the existing shingles\n\
             • Replace damaged decking as needed (3 sheets included)\n\
             • Synthetic underlayment, ice and water shield in the valleys\n\
             • 30-year architectural shingles, new ridge vent and pipe boots"
        } else {
            "• Repair the damaged area and replace the underlayment beneath it\n\
             • Replace damaged shingles, matched as closely as possible\n\
             • Reseal every roof penetration and check the flashing"
        };
        let visit = l.slot.map(weekday).unwrap_or_else(|| "your visit".into());
        let body = format!(
            "Hi {},\n\nThanks for having us out on {visit}. As promised, here is your estimate for {} at {}:\n\n{items}\n\nTotal: {}\n\n\
             The price includes materials, labor, permits, cleanup and a magnetic sweep for nails, with our 10-year workmanship warranty. \
             We also offer 0% APR for 12 months on approved credit. The estimate is good for 30 days.\n\n\
             Just reply to this email or call me with any questions.\n\n{}",
            p.first,
            p.job(),
            p.street,
            money(p.price),
            self.company.signature()
        );
        let subject = format!("Your roofing estimate – {}", p.street);
        let at = self.step(l, hours(14, 30), Actor::Office);
        self.email_out(l, at, Some(subject), body, None).await?;
        self.stage(l, "quoted").await
    }
}
