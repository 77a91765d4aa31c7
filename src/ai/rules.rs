//! The rules responder: offline, deterministic, the default.
//!
//! It detects intents in the latest inbound message, answers FAQs from
//! [`CompanySettings`](crate::ai::CompanySettings), asks for the single most
//! valuable missing field, and shapes the text for the channel. Every sentence
//! comes from a template in `templates/ai/*.j2` (minijinja): a file in
//! `{templates_dir}/ai/` wins when it exists (read at each reply, so edits
//! apply without a restart), else the copy embedded in the binary is used. A
//! broken override is logged and the embedded copy used instead, so the rules
//! responder never fails.

use std::path::PathBuf;
use std::sync::Arc;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;
use serde_json::{json, Value};

use crate::ai::text::{self, clean_inline, clean_opt};
use crate::ai::{Reply, ReplyRequest};
use crate::domain::{Channel, Direction, SentimentLabel};

// ---------------------------------------------------------------------------
// Intents
// ---------------------------------------------------------------------------

/// What the lead's latest message is about. `Intent::ALL` is the canonical
/// order used in [`Reply::intents`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Opt-out: STOP, unsubscribe, "remove me", ...
    Stop,
    /// Wants a person or a call.
    Human,
    /// Angry / complaining about us (no-shows, no call back, ...).
    Complaint,
    PriceObjection,
    Leak,
    StormDamage,
    QuoteRequest,
    Insurance,
    Scheduling,
    ServiceArea,
    Hours,
    Financing,
    /// The message is only a greeting.
    Greeting,
    Thanks,
}

impl Intent {
    pub const ALL: [Intent; 14] = [
        Intent::Stop,
        Intent::Human,
        Intent::Complaint,
        Intent::PriceObjection,
        Intent::Leak,
        Intent::StormDamage,
        Intent::QuoteRequest,
        Intent::Insurance,
        Intent::Scheduling,
        Intent::ServiceArea,
        Intent::Hours,
        Intent::Financing,
        Intent::Greeting,
        Intent::Thanks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Stop => "stop",
            Intent::Human => "human",
            Intent::Complaint => "complaint",
            Intent::PriceObjection => "price_objection",
            Intent::Leak => "leak",
            Intent::StormDamage => "storm_damage",
            Intent::QuoteRequest => "quote_request",
            Intent::Insurance => "insurance",
            Intent::Scheduling => "scheduling",
            Intent::ServiceArea => "service_area",
            Intent::Hours => "hours",
            Intent::Financing => "financing",
            Intent::Greeting => "greeting",
            Intent::Thanks => "thanks",
        }
    }

    /// Intents about the roof itself (used to decide whether to acknowledge
    /// generically).
    fn is_topic(self) -> bool {
        !matches!(self, Intent::Greeting | Intent::Thanks)
    }
}

/// The lead's words, lowercased and split into tokens (apostrophes dropped, so
/// "can't" is "cant").
struct Words {
    tokens: Vec<String>,
    /// " tok tok tok " for phrase matching.
    joined: String,
}

impl Words {
    fn new(text: &str) -> Self {
        let lower = text.to_lowercase().replace(['’', '‘', '`'], "'");
        let mut tokens = Vec::new();
        let mut cur = String::new();
        for c in lower.chars() {
            if c.is_alphanumeric() {
                cur.push(c);
            } else if c == '\'' {
                // dropped inside words: "don't" → "dont"
            } else if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            tokens.push(cur);
        }
        let joined = format!(" {} ", tokens.join(" "));
        Words { tokens, joined }
    }

    fn phrase(&self, p: &str) -> bool {
        self.joined.contains(&format!(" {p} "))
    }

    fn any_phrase(&self, ps: &[&str]) -> bool {
        ps.iter().any(|p| self.phrase(p))
    }

    fn any_prefix(&self, ps: &[&str]) -> bool {
        self.tokens
            .iter()
            .any(|t| ps.iter().any(|p| t.starts_with(p)))
    }

    fn any_exact(&self, ws: &[&str]) -> bool {
        self.tokens.iter().any(|t| ws.contains(&t.as_str()))
    }

    /// Exact words, plus one typo (insertion, deletion, substitution or swap)
    /// for words of 6+ letters with the same first letter.
    fn any_fuzzy(&self, ws: &[&str]) -> bool {
        self.tokens.iter().any(|t| {
            ws.iter().any(|w| {
                t == w
                    || (w.len() >= 6
                        && t.len() >= 5
                        && t.chars().next() == w.chars().next()
                        && within_one_edit(t, w))
            })
        })
    }

    /// The token after the phrase `p`, for each occurrence.
    fn next_after(&self, p: &[&str]) -> Vec<Option<&str>> {
        let n = p.len();
        let mut out = Vec::new();
        if self.tokens.len() < n {
            return out;
        }
        for i in 0..=self.tokens.len() - n {
            if self.tokens[i..i + n].iter().zip(p).all(|(a, b)| a == b) {
                out.push(self.tokens.get(i + n).map(String::as_str));
            }
        }
        out
    }
}

/// Damerau–Levenshtein distance ≤ 1 (ASCII-ish words).
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let mut i = 0;
    while i < la.min(lb) && a[i] == b[i] {
        i += 1;
    }
    if la == lb {
        // substitution or adjacent swap
        (a[i + 1..] == b[i + 1..])
            || (i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] && a[i + 2..] == b[i + 2..])
    } else if la > lb {
        a[i + 1..] == b[i..]
    } else {
        a[i..] == b[i + 1..]
    }
}

const GREETING_WORDS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "heya",
    "hiya",
    "howdy",
    "yo",
    "there",
    "good",
    "morning",
    "afternoon",
    "evening",
    "greetings",
    "hola",
    "sup",
    "helo",
    "hii",
    "hiii",
];

fn detect_stop(w: &Words) -> bool {
    // A carrier keyword as the whole message ("STOP", "stop please", "Cancel").
    let filler = [
        "please", "pls", "plz", "now", "me", "it", "thanks", "thank", "you",
    ];
    let core: Vec<&str> = w
        .tokens
        .iter()
        .map(String::as_str)
        .filter(|t| !filler.contains(t))
        .collect();
    let keywords = [
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "revoke",
    ];
    if core.len() == 1 && keywords.contains(&core[0]) {
        return true;
    }
    if w.any_phrase(&[
        "unsubscribe",
        "opt out",
        "optout",
        "stop texting",
        "stop messaging",
        "stop emailing",
        "stop contacting",
        "stop sending",
        "stop calling",
        "remove me",
        "take me off",
        "do not contact",
        "dont contact",
        "do not text",
        "dont text",
        "do not email",
        "dont email",
        "no more texts",
        "no more messages",
        "no more emails",
        "leave me alone",
        "lose my number",
    ]) {
        return true;
    }
    w.tokens.len() <= 6 && w.any_phrase(&["not interested", "no longer interested"])
}

fn detect_human(w: &Words) -> bool {
    if w.any_phrase(&["dont call", "do not call", "dont call me", "no calls"]) {
        return false;
    }
    w.any_phrase(&[
        "call me",
        "give me a call",
        "call me back",
        "call back",
        "callback",
        "give us a call",
        "call us",
        "real person",
        "a person",
        "a human",
        "actual person",
        "live person",
        "live agent",
        "talk to someone",
        "talk to somebody",
        "speak to someone",
        "speak with someone",
        "talk with someone",
        "speak to somebody",
        "talk to a",
        "speak to a",
        "speak with a",
        "talk to the owner",
        "speak to the owner",
        "are you a bot",
        "is this a bot",
        "is this automated",
        "are you a robot",
        "are you real",
        "phone call",
    ]) || w.any_exact(&["human", "representative", "robot"])
}

fn detect_complaint(w: &Words) -> bool {
    w.any_exact(&[
        "ridiculous",
        "terrible",
        "unacceptable",
        "horrible",
        "worst",
        "angry",
        "furious",
        "frustrated",
        "frustrating",
        "disappointed",
        "disappointing",
        "pissed",
        "scam",
        "scammers",
        "unprofessional",
        "rude",
        "incompetent",
        "useless",
    ]) || w.any_phrase(&[
        "never showed",
        "never came",
        "never called",
        "no show",
        "no one called",
        "nobody called",
        "no one showed",
        "nobody showed",
        "no one came",
        "nobody came",
        "still waiting",
        "waste of time",
        "wasted my time",
        "not happy",
        "fed up",
        "never heard back",
        "havent heard back",
        "no one got back",
        "nobody got back",
        "stood up",
    ])
}

fn detect_price_objection(w: &Words) -> bool {
    if w.any_phrase(&[
        "too expensive",
        "so expensive",
        "very expensive",
        "really expensive",
        "pretty expensive",
        "too pricey",
        "too high",
        "way too much",
        "cheaper",
        "cant afford",
        "cannot afford",
        "can not afford",
        "couldnt afford",
        "out of my budget",
        "out of our budget",
        "over my budget",
        "over our budget",
        "over budget",
        "outside my budget",
        "outside our budget",
        "rip off",
        "ripoff",
        "lower price",
        "better price",
        "better deal",
        "beat that",
        "beat their price",
        "too steep",
        "a lot of money",
    ]) {
        return true;
    }
    // "too much" about money, not "too much water".
    w.next_after(&["too", "much"]).iter().any(|next| {
        !matches!(
            next,
            Some("water" | "rain" | "snow" | "ice" | "moss" | "debris" | "damage" | "wind")
        )
    })
}

fn detect_leak(w: &Words) -> bool {
    w.any_prefix(&["leak", "leek", "drip"])
        || w.any_exact(&["leakin", "leakng", "lekaing", "laking"])
        || w.any_phrase(&[
            "water coming",
            "water is coming",
            "waters coming",
            "water getting in",
            "water gets in",
            "water came in",
            "water comes in",
            "water in the attic",
            "water in my attic",
            "water in our attic",
            "water through",
            "coming through the ceiling",
            "wet ceiling",
            "ceiling is wet",
            "water spot",
            "water spots",
            "water damage",
            "water stain",
            "water stains",
        ])
        || (w.any_prefix(&["stain", "wet", "water", "damp"]) && w.any_prefix(&["ceiling", "attic"]))
}

fn detect_storm(w: &Words) -> bool {
    w.any_prefix(&["storm", "hail", "tornad", "hurrican"])
        || w.any_exact(&["wind", "winds", "windy", "windstorm", "derecho"])
        || w.any_phrase(&[
            "tree fell",
            "tree fall",
            "tree fallen",
            "fallen tree",
            "tree came down",
            "tree on my roof",
            "tree on the roof",
            "tree on our roof",
            "branch fell",
            "limb fell",
            "branch on",
            "blew off",
            "blown off",
            "blew away",
            "ripped off",
        ])
}

fn detect_quote(w: &Words) -> bool {
    w.any_exact(&[
        "quote", "quotes", "qoute", "qoutes", "quoet", "quot", "price", "prices", "pricing",
        "cost", "costs", "bid", "bids", "ballpark",
    ]) || w.any_prefix(&["estimat"])
        || w.any_fuzzy(&["estimate"])
        || w.any_phrase(&["how much", "what would it run", "what does it run"])
}

fn detect_insurance(w: &Words) -> bool {
    w.any_prefix(&["insur", "claim", "deductib", "deductab"])
        || w.any_fuzzy(&["insurance"])
        || w.any_exact(&["adjuster", "adjusters", "adjustor", "adjustors", "ajuster"])
        || w.any_phrase(&["state farm", "allstate", "farmers", "usaa"])
}

fn detect_scheduling(w: &Words) -> bool {
    w.any_prefix(&["schedul", "appointm", "appoint", "inspect", "availab"])
        || w.any_fuzzy(&["schedule", "appointment", "inspection", "available"])
        || w.any_exact(&[
            "book",
            "booking",
            "shedule",
            "scedule",
            "apointment",
            "appt",
        ])
        || w.any_phrase(&[
            "come out",
            "come by",
            "come look",
            "come take a look",
            "come over",
            "stop by",
            "swing by",
            "take a look",
            "look at it",
            "look at my roof",
            "look at the roof",
            "when can",
            "when could",
            "set up a time",
            "set a time",
            "send someone",
        ])
}

fn detect_service_area(w: &Words) -> bool {
    let cover_other = w.next_after(&["do", "you", "cover"]).iter().any(|n| {
        matches!(
            n,
            Some("the" | "deductible" | "insurance" | "cost" | "costs" | "damage" | "it")
        )
    });
    (w.phrase("do you cover") && !cover_other)
        || w.any_phrase(&[
            "do you serve",
            "do you service",
            "do you work in",
            "do you work out",
            "do you go to",
            "do you go out",
            "do you come to",
            "do you come out to",
            "do you travel",
            "do you do work in",
            "service area",
            "service areas",
            "serve my area",
            "serve our area",
            "cover my area",
            "cover our area",
            "in my area",
            "in our area",
            "your area",
            "areas do you",
            "what area",
            "what areas",
            "which areas",
            "how far",
            "near me",
            "you guys serve",
            "you guys cover",
            "you serve",
            "work in my town",
            "are you local",
        ])
}

fn detect_hours(w: &Words) -> bool {
    w.any_exact(&[
        "weekend",
        "weekends",
        "saturday",
        "saturdays",
        "sunday",
        "sundays",
    ]) || w.any_phrase(&[
        "your hours",
        "business hours",
        "office hours",
        "what hours",
        "hours of operation",
        "what are the hours",
        "open hours",
        "opening hours",
        "are you open",
        "you open",
        "you guys open",
        "open on",
        "open today",
        "open tomorrow",
        "open now",
        "open late",
        "what time do you",
        "what time are you",
        "when do you open",
        "when do you close",
        "closing time",
    ])
}

fn detect_financing(w: &Words) -> bool {
    w.any_prefix(&["financ", "installment"])
        || w.any_fuzzy(&["financing"])
        || w.any_exact(&["monthly"])
        || w.any_phrase(&[
            "payment plan",
            "payment plans",
            "payment option",
            "payment options",
            "pay over time",
            "make payments",
            "pay in installments",
        ])
}

fn detect_thanks(w: &Words) -> bool {
    w.any_prefix(&["thank"])
        || w.any_exact(&["thx", "thnx", "thanx", "ty", "tysm", "thks"])
        || w.any_phrase(&[
            "appreciate it",
            "appreciate that",
            "appreciate you",
            "much appreciated",
        ])
}

type Detector = fn(&Words) -> bool;

/// Detects the intents of one message, in canonical order ([`Intent::ALL`]).
pub fn detect_intents(message: &str) -> Vec<Intent> {
    let w = Words::new(message);
    if w.tokens.is_empty() {
        return Vec::new();
    }
    if detect_stop(&w) {
        return vec![Intent::Stop];
    }
    let mut found = Vec::new();
    let checks: [(Intent, Detector); 13] = [
        (Intent::Human, detect_human),
        (Intent::Complaint, detect_complaint),
        (Intent::PriceObjection, detect_price_objection),
        (Intent::Leak, detect_leak),
        (Intent::StormDamage, detect_storm),
        (Intent::QuoteRequest, detect_quote),
        (Intent::Insurance, detect_insurance),
        (Intent::Scheduling, detect_scheduling),
        (Intent::ServiceArea, detect_service_area),
        (Intent::Hours, detect_hours),
        (Intent::Financing, detect_financing),
        (Intent::Thanks, detect_thanks),
        (Intent::Greeting, |w: &Words| {
            w.tokens
                .iter()
                .all(|t| GREETING_WORDS.contains(&t.as_str()))
        }),
    ];
    for (intent, check) in checks {
        if check(&w) {
            found.push(intent);
        }
    }
    // "too much" about money is an objection, not a quote question.
    if found.contains(&Intent::PriceObjection) && !w.phrase("how much") {
        found.retain(|i| *i != Intent::QuoteRequest);
    }
    found.sort_by_key(|i| Intent::ALL.iter().position(|a| a == i));
    found
}

/// True for out-of-office notices, automated messages and bounces: messages
/// that must not get an automatic answer.
pub fn looks_automated(message: &str) -> bool {
    let w = Words::new(message);
    w.any_phrase(&[
        "out of office",
        "out of the office",
        "automatic reply",
        "auto reply",
        "autoreply",
        "auto response",
        "autoresponse",
        "automated message",
        "automated response",
        "automatically generated",
        "this is an automated",
        "do not reply",
        "please do not reply",
        "donotreply",
        "noreply",
        "no reply",
        "undeliverable",
        "delivery failure",
        "delivery status notification",
        "mail delivery failed",
        "mailer daemon",
        "i am currently away",
        "im currently away",
        "away from the office",
        "on vacation until",
        "limited access to email",
    ])
}

// ---------------------------------------------------------------------------
// Fields and the plan
// ---------------------------------------------------------------------------

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

    fn template(self) -> &'static str {
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
fn inbound_texts<'a>(req: &'a ReplyRequest<'_>) -> impl Iterator<Item = &'a str> {
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
        phone: has(&lead.phone) || phone_channel,
        contact: has(&lead.phone) || has(&lead.email) || req.channel != Channel::Chat,
        address: has(&lead.property_address),
        roof_age: lead.roof_age_years.is_some(),
        timeline: has(&lead.timeline) || intents.contains(&Intent::Leak),
        budget: has(&lead.budget),
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

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$((concat!("ai/", $name, ".j2"), include_str!(concat!("../../templates/ai/", $name, ".j2")))),*]
    };
}

/// The templates compiled into the binary (name, source).
pub const EMBEDDED_TEMPLATES: &[(&str, &str)] = embedded!(
    "stop",
    "greeting",
    "thanks",
    "apology",
    "ack_leak",
    "tip_leak",
    "ack_storm",
    "ack_quote",
    "ack_scheduling",
    "price_objection",
    "human",
    "faq_service_area",
    "faq_hours",
    "faq_financing",
    "faq_insurance",
    "inspection_offer",
    "call_offer",
    "default_ack",
    "question_contact",
    "question_phone",
    "question_address",
    "question_roof_age",
    "question_timeline",
    "question_budget",
    "email",
);

fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_trim_blocks(true);
    env
}

struct RulesInner {
    dir: Option<PathBuf>,
    embedded: Environment<'static>,
    overrides: Environment<'static>,
}

/// The offline responder. Cheap to clone.
#[derive(Clone)]
pub struct RulesResponder {
    inner: Arc<RulesInner>,
}

impl std::fmt::Debug for RulesResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesResponder")
            .field("templates_dir", &self.inner.dir)
            .finish()
    }
}

/// One piece of the reply.
struct Part {
    text: String,
    group: Group,
    /// 0 = never dropped; higher ranks are dropped first when a reply is too
    /// long for the channel.
    rank: u8,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Opening,
    Info,
    Action,
}

fn ensure_no_final_period(s: String) -> String {
    s.trim_end_matches(['.', ' ']).to_string()
}

fn join_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

impl RulesResponder {
    /// `templates_dir` holds `ai/*.j2` overrides; `None` uses only the
    /// embedded templates.
    pub fn new(templates_dir: Option<PathBuf>) -> Self {
        let mut embedded = new_env();
        for (name, src) in EMBEDDED_TEMPLATES {
            embedded
                .add_template(name, src)
                .expect("embedded templates are valid");
        }
        RulesResponder {
            inner: Arc::new(RulesInner {
                dir: templates_dir,
                embedded,
                overrides: new_env(),
            }),
        }
    }

    pub fn templates_dir(&self) -> Option<&std::path::Path> {
        self.inner.dir.as_deref()
    }

    /// Renders `ai/….j2`: the override file when there is a readable, valid
    /// one, else the embedded copy. Never fails (a broken embedded template
    /// renders as "").
    pub fn render(&self, name: &str, ctx: &Value) -> String {
        if let Some(dir) = &self.inner.dir {
            let path = dir.join(name);
            if let Ok(src) = std::fs::read_to_string(&path) {
                match self.inner.overrides.render_named_str(name, &src, ctx) {
                    Ok(out) => return out,
                    Err(err) => tracing::warn!(
                        template = %path.display(),
                        error = %err,
                        "template override failed; using the built-in copy"
                    ),
                }
            }
        }
        match self
            .inner
            .embedded
            .get_template(name)
            .and_then(|t| t.render(ctx))
        {
            Ok(out) => out,
            Err(err) => {
                tracing::error!(template = name, error = %err, "built-in template failed");
                String::new()
            }
        }
    }

    fn sentence(&self, name: &str, ctx: &Value) -> String {
        text::one_line(&self.render(name, ctx))
    }

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
            && !req.lead.issues.is_empty()
        {
            let issues = req.lead.issues.join(". ");
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

    /// The template context: cleaned company facts and lead values.
    fn context(&self, req: &ReplyRequest<'_>, intents: &[Intent], thanks_only: bool) -> Value {
        let c = req.company;
        let fact = |v: &Option<String>, max: usize| {
            clean_opt(v.as_deref(), max).map(ensure_no_final_period)
        };
        let services: Vec<String> = c
            .services
            .iter()
            .filter_map(|s| clean_opt(Some(s), 60))
            .take(6)
            .collect();
        let phone_channel = matches!(req.channel, Channel::Sms | Channel::PhoneCall);
        let lead_phone = clean_opt(req.lead.phone.as_deref(), 32)
            .or_else(|| {
                // As the lead wrote it (the extractor's E.164 form reads oddly in a reply).
                inbound_texts(req)
                    .filter_map(|t| {
                        let (at, _) =
                            crate::tracker::extract::find_phone(t, phonenumber::country::Id::US)?;
                        Some(t[at].trim().to_string())
                    })
                    .last()
                    .map(|p| clean_inline(&p, 32))
            })
            .or_else(|| phone_channel.then(|| "this number".to_string()));
        json!({
            "company_name": clean_opt(c.company_name.as_deref(), 80),
            "services": services,
            "services_text": join_list(&services),
            "service_area": fact(&c.service_area, 200),
            "hours": fact(&c.hours, 200),
            "phone": clean_opt(c.phone.as_deref(), 40),
            "booking_link": clean_opt(c.booking_link.as_deref(), 300),
            "financing": fact(&c.financing, 200),
            "insurance_claims": fact(&c.insurance_claims, 300),
            "first_name": text::first_name(req.lead.name.as_deref()),
            "lead_phone": lead_phone,
            "channel": req.channel.as_str(),
            "short": phone_channel,
            "email": req.channel == Channel::Email,
            "intents": intents.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
            "thanks_only": thanks_only,
        })
    }

    /// The rendered question for a field (as the rules would ask it).
    pub fn question_text(&self, req: &ReplyRequest<'_>, field: Field) -> String {
        self.sentence(field.template(), &self.context(req, &[], false))
    }

    /// The rules reply (synchronous; the [`Responder`](crate::ai::Responder)
    /// impl wraps this).
    pub fn reply_now(&self, req: &ReplyRequest<'_>) -> Reply {
        let plan = self.plan(req);
        let intents = &plan.intents;
        let has_i = |i: Intent| intents.contains(&i);
        let thanks_only = has_i(Intent::Thanks) && intents.iter().all(|i| *i == Intent::Thanks);
        let ctx = self.context(req, intents, thanks_only);
        let mut parts: Vec<Part> = Vec::new();
        let mut add = |name: &str, group: Group, rank: u8| {
            let text = self.sentence(name, &ctx);
            if !text.is_empty() {
                parts.push(Part { text, group, rank });
            }
        };

        if has_i(Intent::Stop) {
            add("ai/stop.j2", Group::Opening, 0);
        } else {
            use Group::*;
            if plan.apologize {
                add("ai/apology.j2", Opening, 1);
            }
            if has_i(Intent::Greeting) && intents.len() == 1 {
                add("ai/greeting.j2", Opening, 0);
            }
            if has_i(Intent::Thanks) {
                add("ai/thanks.j2", Opening, if thanks_only { 0 } else { 4 });
            }
            if has_i(Intent::Human) {
                add("ai/human.j2", Opening, 0);
            }
            if has_i(Intent::PriceObjection) {
                add("ai/price_objection.j2", Opening, 1);
            }
            if has_i(Intent::Leak) {
                add("ai/ack_leak.j2", Opening, 1);
                if !has_i(Intent::Complaint) {
                    add("ai/tip_leak.j2", Opening, 5);
                }
            }
            if has_i(Intent::StormDamage) {
                add("ai/ack_storm.j2", Opening, 3);
            }
            if has_i(Intent::Scheduling)
                && !has_i(Intent::Leak)
                && !has_i(Intent::StormDamage)
                && !has_i(Intent::Complaint)
            {
                add("ai/ack_scheduling.j2", Opening, 3);
            }
            let generic = !intents.iter().any(|i| i.is_topic())
                && !has_i(Intent::Greeting)
                && !thanks_only
                && !plan.apologize;
            if generic {
                add("ai/default_ack.j2", Opening, 4);
            }
            if has_i(Intent::QuoteRequest) {
                add("ai/ack_quote.j2", Info, 3);
            }
            if has_i(Intent::Insurance) {
                add("ai/faq_insurance.j2", Info, 2);
            }
            if has_i(Intent::ServiceArea) {
                add("ai/faq_service_area.j2", Info, 2);
            }
            if has_i(Intent::Hours) {
                add("ai/faq_hours.j2", Info, 2);
            }
            if has_i(Intent::Financing) {
                add("ai/faq_financing.j2", Info, 2);
            }
            if plan.offer_call {
                add("ai/call_offer.j2", Action, 2);
            }
            if let Some(f) = plan.question {
                add(f.template(), Action, 0);
            }
            // Last, so a booking link ends the message.
            if plan.offer_inspection {
                add("ai/inspection_offer.j2", Action, 2);
            }
        }

        let text = self.shape(req, parts);
        Reply {
            text,
            subject: self.subject(req),
            provider: "rules".to_string(),
            model: None,
            fallback_reason: None,
            intents: intents.iter().map(|i| i.as_str().to_string()).collect(),
        }
    }

    /// Email subject ("Re: …" or the default), `None` on other channels.
    pub fn subject(&self, req: &ReplyRequest<'_>) -> Option<String> {
        (req.channel == Channel::Email)
            .then(|| text::reply_subject(req.subject, req.company.company_name.as_deref()))
    }

    /// Joins the parts for the channel, dropping low-value parts (then
    /// cutting) to fit SMS/chat bounds.
    fn shape(&self, req: &ReplyRequest<'_>, mut parts: Vec<Part>) -> String {
        if req.channel == Channel::Email {
            let mut paragraphs: Vec<String> = Vec::new();
            for group in [Group::Opening, Group::Info, Group::Action] {
                let p: Vec<&str> = parts
                    .iter()
                    .filter(|x| x.group == group)
                    .map(|x| x.text.as_str())
                    .collect();
                if !p.is_empty() {
                    paragraphs.push(p.join(" "));
                }
            }
            return self.wrap_email(req, &paragraphs.join("\n\n"));
        }
        let max = text::max_chars(req.channel);
        let joined = |parts: &[Part]| {
            parts
                .iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        };
        while joined(&parts).chars().count() > max {
            // Drop the highest-ranked (least valuable) part, latest first.
            let Some((idx, _)) = parts
                .iter()
                .enumerate()
                .filter(|(_, p)| p.rank > 0)
                .max_by_key(|(i, p)| (p.rank, *i))
            else {
                break;
            };
            parts.remove(idx);
        }
        text::truncate_nicely(&joined(&parts), max)
    }

    /// Wraps an email body with the greeting line and the signature.
    pub fn wrap_email(&self, req: &ReplyRequest<'_>, body: &str) -> String {
        let c = req.company;
        let signature = clean_opt(c.signature.as_deref(), 120).unwrap_or_else(|| {
            match clean_opt(c.company_name.as_deref(), 80) {
                Some(name) => format!("— The {name} team"),
                None => "— The team".to_string(),
            }
        });
        let mut ctx = self.context(req, &[], false);
        ctx["body"] = Value::String(body.to_string());
        ctx["signature"] = Value::String(signature);
        text::clean_multiline(&self.render("ai/email.j2", &ctx))
    }

    /// Shapes a provider's text for the channel: SMS on one line within 320
    /// characters, chat within 600, email wrapped with our greeting and
    /// signature (a greeting/signature/subject line the model added is
    /// removed first).
    pub fn shape_provider_text(&self, req: &ReplyRequest<'_>, raw: &str) -> String {
        let cleaned = text::clean_multiline(raw);
        match req.channel {
            Channel::Sms | Channel::PhoneCall => {
                text::truncate_nicely(&text::one_line(&cleaned), text::SMS_MAX_CHARS)
            }
            Channel::Chat => text::truncate_nicely(&cleaned, text::CHAT_MAX_CHARS),
            Channel::Email => {
                let mut lines: Vec<&str> = cleaned.lines().collect();
                while lines.first().is_some_and(|l| {
                    let l = l.trim().to_lowercase();
                    l.is_empty()
                        || l.starts_with("subject:")
                        || ((l.starts_with("hi")
                            || l.starts_with("hello")
                            || l.starts_with("dear"))
                            && l.ends_with(',')
                            && l.len() < 60)
                }) {
                    lines.remove(0);
                }
                let signature = clean_opt(req.company.signature.as_deref(), 120);
                while lines.last().is_some_and(|l| {
                    let t = l.trim();
                    t.is_empty()
                        || signature.as_deref() == Some(t)
                        || t.starts_with('—') && t.len() < 80
                }) {
                    lines.pop();
                }
                let body = text::truncate_nicely(&lines.join("\n"), text::EMAIL_MAX_CHARS);
                self.wrap_email(req, &body)
            }
        }
    }
}

#[async_trait::async_trait]
impl crate::ai::Responder for RulesResponder {
    async fn reply(&self, req: &ReplyRequest<'_>) -> Result<Reply, crate::ai::AiError> {
        Ok(self.reply_now(req))
    }
    fn name(&self) -> &'static str {
        "rules"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit() {
        assert!(within_one_edit("estimte", "estimate"));
        assert!(within_one_edit("insruance", "insurance"));
        assert!(within_one_edit("shedule", "schedule"));
        assert!(!within_one_edit("estmte", "estimate"));
        assert!(within_one_edit("abc", "abc"));
    }

    #[test]
    fn embedded_templates_all_compile() {
        let r = RulesResponder::new(None);
        for (name, _) in EMBEDDED_TEMPLATES {
            assert!(r.inner.embedded.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn automated_messages() {
        assert!(looks_automated(
            "Automatic reply: I am out of the office until Monday"
        ));
        assert!(looks_automated(
            "Mail Delivery Failed: returning message to sender"
        ));
        assert!(!looks_automated("My roof is leaking, can you help?"));
    }
}
