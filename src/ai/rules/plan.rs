//! What to ask for and offer: the fields already known (from the tracker and from what the
//! lead wrote, read by the one extractor) and the plan the rules and the providers follow.

use serde::Serialize;

use crate::ai::ReplyRequest;
use crate::domain::{Channel, Direction, SentimentLabel};

use super::intents::{detect_intents, Intent};
use super::RulesResponder;

/// A fact the responder may ask for, one at a time, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// An email or a phone number (asked only when neither is known).
    Contact,
    /// A phone number (asked only when the lead wants a call and none is known).
    Phone,
    Address,
    RoofAge,
    Timeline,
    Budget,
}

impl Field {
    /// The order in which missing fields are asked for.
    pub const ORDER: [Field; 5] = [
        Field::Contact,
        Field::Address,
        Field::RoofAge,
        Field::Timeline,
        Field::Budget,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Contact => "contact",
            Field::Phone => "phone",
            Field::Address => "address",
            Field::RoofAge => "roof_age",
            Field::Timeline => "timeline",
            Field::Budget => "budget",
        }
    }

    pub(super) fn template(self) -> &'static str {
        match self {
            Field::Contact => "ai/question_contact.j2",
            Field::Phone => "ai/question_phone.j2",
            Field::Address => "ai/question_address.j2",
            Field::RoofAge => "ai/question_roof_age.j2",
            Field::Timeline => "ai/question_timeline.j2",
            Field::Budget => "ai/question_budget.j2",
        }
    }

    /// How the prompt names it.
    pub fn describe(self) -> &'static str {
        match self {
            Field::Contact => "a phone number or email to reach them",
            Field::Phone => "a phone number to call them back",
            Field::Address => "the property address",
            Field::RoofAge => "the roof's approximate age",
            Field::Timeline => "when they want the work done",
            Field::Budget => "their budget",
        }
    }
}

/// What the rules decided for a request (also used to brief the providers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub intents: Vec<Intent>,
    /// Missing fields in asking order (never includes a known field).
    pub missing: Vec<Field>,
    /// The one field to ask for now, if any.
    pub question: Option<Field>,
    pub apologize: bool,
    pub offer_inspection: bool,
    pub offer_call: bool,
}

fn has(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.trim().is_empty())
}

/// Inbound texts of the conversation (up to the answered message).
pub(super) fn inbound_texts<'a>(req: &'a ReplyRequest<'_>) -> impl Iterator<Item = &'a str> {
    let end = req.last_inbound_index().map_or(0, |i| i + 1);
    req.conversation[..end]
        .iter()
        .filter(|t| t.direction == Direction::Inbound)
        .map(|t| t.text.as_str())
}

/// What we already know, from the tracker and from what the lead wrote.
#[derive(Debug, Clone, Copy, Default)]
struct Known {
    contact: bool,
    phone: bool,
    address: bool,
    roof_age: bool,
    timeline: bool,
    budget: bool,
}

fn known_fields(req: &ReplyRequest<'_>, intents: &[Intent]) -> Known {
    let lead = req.lead;
    let phone_channel = matches!(req.channel, Channel::Sms | Channel::PhoneCall);
    let mut k = Known {
        phone: has(&lead.profile.phone) || phone_channel,
        contact: has(&lead.profile.phone)
            || has(&lead.profile.email)
            || req.channel != Channel::Chat,
        address: has(&lead.profile.property_address),
        roof_age: lead.profile.roof_age_years.is_some(),
        timeline: has(&lead.profile.timeline) || intents.contains(&Intent::Leak),
        budget: has(&lead.profile.budget),
    };
    // What the lead wrote, read by the one extractor the chat and the tracker use.
    let year = chrono::Datelike::year(&chrono::Utc::now());
    for t in inbound_texts(req) {
        let found = crate::tracker::extract::extract(t, phonenumber::country::Id::US, year);
        if found.phone.is_some() {
            k.phone = true;
            k.contact = true;
        }
        k.contact |= found.email.is_some();
        k.address |= found.property_address.is_some();
        k.roof_age |= found.roof_age_years.is_some();
        k.timeline |= found.timeline.is_some();
        k.budget |= found.budget.is_some();
    }
    k
}

fn is_known(k: &Known, f: Field) -> bool {
    match f {
        Field::Contact => k.contact,
        Field::Phone => k.phone,
        Field::Address => k.address,
        Field::RoofAge => k.roof_age,
        Field::Timeline => k.timeline,
        Field::Budget => k.budget,
    }
}

impl RulesResponder {
    /// Decides intents, the question and the offers for a request.
    pub fn plan(&self, req: &ReplyRequest<'_>) -> Plan {
        let latest = req.last_inbound();
        let mut intents = detect_intents(latest);
        // First contact with nothing specific said (e.g. "see form"): use the
        // issues the tracker recorded.
        let first_contact = !req
            .conversation
            .iter()
            .any(|t| t.direction == Direction::Outbound);
        if first_contact
            && !intents.iter().any(|i| i.is_topic())
            && !intents.contains(&Intent::Thanks)
            && !req.lead.profile.issues.is_empty()
        {
            let issues = req.lead.profile.issues.join(". ");
            for i in detect_intents(&issues) {
                if matches!(
                    i,
                    Intent::Leak | Intent::StormDamage | Intent::Insurance | Intent::QuoteRequest
                ) {
                    intents.push(i);
                }
            }
            intents.retain(|i| *i != Intent::Greeting);
            intents.sort_by_key(|i| Intent::ALL.iter().position(|a| a == i));
            intents.dedup();
        }

        let has_i = |i: Intent| intents.contains(&i);
        let known = known_fields(req, &intents);
        let missing: Vec<Field> = Field::ORDER
            .into_iter()
            .filter(|f| !is_known(&known, *f))
            .collect();

        let next_action = req.lead.next_action.as_deref().unwrap_or("");
        let negative = req.lead.sentiment == Some(SentimentLabel::Negative);
        let stop = has_i(Intent::Stop);
        let only = |i: Intent| has_i(i) && intents.iter().all(|x| *x == i);
        let apologize =
            !stop && (has_i(Intent::Complaint) || negative || next_action == "address_concerns");
        let offer_inspection = !stop
            && !only(Intent::Thanks)
            && !has_i(Intent::Complaint)
            && (has_i(Intent::Scheduling) || next_action == "schedule_inspection");
        let offer_call =
            !stop && !has_i(Intent::Human) && (apologize || has_i(Intent::PriceObjection));

        let question = if stop
            || only(Intent::Greeting)
            || only(Intent::Thanks)
            || has_i(Intent::Complaint)
            || has_i(Intent::PriceObjection)
        {
            None
        } else if has_i(Intent::Human) {
            (!known.phone).then_some(Field::Phone)
        } else {
            // Don't repeat the exact question we asked last time: move on.
            let last_asked = self.last_asked(req);
            let mut candidates = missing.iter().copied();
            match candidates.next() {
                Some(f) if Some(f) == last_asked => candidates.next().or(Some(f)),
                other => other,
            }
        };

        Plan {
            intents,
            missing,
            question,
            apologize,
            offer_inspection,
            offer_call,
        }
    }

    /// The field our previous message (before the answered one) asked for.
    fn last_asked(&self, req: &ReplyRequest<'_>) -> Option<Field> {
        let idx = req.last_inbound_index()?;
        let prev = req.conversation[..idx]
            .iter()
            .rev()
            .find(|t| t.direction == Direction::Outbound)?;
        let ctx = self.context(req, &[], false);
        Field::ORDER.into_iter().find(|f| {
            let q = self.sentence(f.template(), &ctx);
            !q.is_empty() && prev.text.contains(&q)
        })
    }
}
