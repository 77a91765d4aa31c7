//! What the lead's latest message is about, and whether a person wrote it at all.

use serde::Serialize;

use super::words::Words;

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
    pub(super) fn is_topic(self) -> bool {
        !matches!(self, Intent::Greeting | Intent::Thanks)
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

#[cfg(test)]
mod tests {
    use super::*;

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
