//! Who: the demo company and its leads — names, phone numbers and email addresses
//! nobody else in the demo has, addresses, roofs and what is wrong with them.

use std::collections::HashSet;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};

use super::plan::{Opening, Story};

/// Dallas–Fort Worth area codes; numbers are drawn from the fictional 555-0100…0199 block.
const AREA_CODES: [&str; 6] = ["214", "469", "972", "817", "682", "940"];

#[derive(Default)]
pub(super) struct Used {
    phones: HashSet<String>,
    emails: HashSet<String>,
}

impl Used {
    /// A valid US number nobody in the demo has: 555-01xx first (reserved for fiction),
    /// then any number `phonenumber` accepts.
    fn phone(&mut self, rng: &mut StdRng) -> String {
        for attempt in 0..2000 {
            let area = AREA_CODES.choose(rng).copied().unwrap_or("214");
            let raw = if attempt < 400 {
                format!("+1{area}555{:04}", rng.gen_range(100..200))
            } else {
                format!(
                    "+1{area}{}{:04}",
                    rng.gen_range(201..999),
                    rng.gen_range(0..10000)
                )
            };
            if let Some(e164) = crate::phone::normalize_phone(&raw, phonenumber::country::Id::US) {
                if self.phones.insert(e164.clone()) {
                    return e164;
                }
            }
        }
        // Not reached for the at most 2000 leads of a demo; counting up cannot fail.
        let mut n = 2_145_550_100u64;
        loop {
            n += 1;
            let raw = format!("+1{n}");
            if crate::phone::normalize_phone(&raw, phonenumber::country::Id::US).is_some()
                && self.phones.insert(raw.clone())
            {
                return raw;
            }
        }
    }

    fn email(&mut self, rng: &mut StdRng, first: &str, last: &str) -> String {
        let (f, l) = (first.to_lowercase(), last.to_lowercase());
        let domain = ["example.com", "example.net", "example.org"]
            .choose(rng)
            .copied()
            .unwrap_or("example.com");
        let styles = [
            format!("{f}.{l}"),
            format!("{}{l}", &f[..1]),
            format!("{f}{l}{}", rng.gen_range(1..99)),
            format!("{f}_{l}"),
        ];
        let local = styles.choose(rng).cloned().unwrap_or_else(|| f.clone());
        let mut candidate = format!("{local}@{domain}");
        let mut n = 2;
        while !self.emails.insert(candidate.clone()) {
            candidate = format!("{local}{n}@{domain}");
            n += 1;
        }
        candidate
    }
}

pub(super) fn display_phone(e164: &str) -> String {
    let d = e164.trim_start_matches("+1");
    if d.len() == 10 {
        format!("({}) {}-{}", &d[..3], &d[3..6], &d[6..])
    } else {
        e164.to_string()
    }
}

pub(super) struct Company {
    pub(super) name: String,
    pub(super) domain: String,
    pub(super) phone: String,
    pub(super) office: &'static str,
}

impl Company {
    pub(super) fn new(name: &str, rng: &mut StdRng, used: &mut Used) -> Self {
        let slug: String = name
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(40)
            .collect();
        let slug = if slug.is_empty() {
            "demoroofing".to_string()
        } else {
            slug
        };
        let phone =
            match crate::phone::normalize_phone("+12145550100", phonenumber::country::Id::US) {
                Some(p) if used.phones.insert(p.clone()) => p,
                _ => used.phone(rng),
            };
        Self {
            name: name.to_string(),
            domain: format!("{slug}.example.com"),
            phone,
            office: "Sarah",
        }
    }

    pub(super) fn email(&self) -> String {
        format!("office@{}", self.domain)
    }

    pub(super) fn origin(&self) -> String {
        format!("https://www.{}", self.domain)
    }

    pub(super) fn phone_display(&self) -> String {
        display_phone(&self.phone)
    }

    pub(super) fn signature(&self) -> String {
        format!(
            "Mike Alvarez\nEstimator, {}\n{}",
            self.name,
            self.phone_display()
        )
    }

    /// Body of `PUT /api/settings/company`.
    pub(super) fn settings(&self) -> Value {
        json!({
            "company_name": self.name,
            "services": ["roof repair", "roof replacement", "storm and hail damage", "insurance claims",
                         "gutters", "free inspections"],
            "service_area": "Dallas–Fort Worth: Dallas, Plano, Frisco, McKinney, Allen, Richardson and nearby",
            "hours": "Mon–Fri 7:30am–6pm, Sat 8am–noon",
            "phone": self.phone_display(),
            "booking_link": format!("https://www.{}/book", self.domain),
            "financing": "0% APR for 12 months on approved credit",
            "insurance_claims": "We work with all major insurers and meet your adjuster on site",
            "signature": format!("— Mike, {}", self.name),
        })
    }
}

pub(super) struct Issue {
    /// What is stored in the lead's `issues`.
    pub(super) key: &'static str,
    /// "a roof leak"
    pub(super) short: &'static str,
    /// Website chat opener.
    pub(super) chat: &'static str,
    /// A sentence for an email or text.
    pub(super) detail: &'static str,
    /// Email subject of a web-form inquiry.
    pub(super) subject: &'static str,
    /// What the estimator found.
    pub(super) finding: &'static str,
    pub(super) replacement: bool,
    /// Storm damage, which homeowners' insurance covers.
    storm: bool,
}

const ISSUES: &[Issue] = &[
    Issue {
        key: "leak",
        short: "roof leak",
        chat: "Hi, we've got water coming through the ceiling in the upstairs bedroom after last night's rain. Can someone come look at the roof?",
        detail: "There's a water stain spreading on the ceiling in our upstairs bedroom and it drips when it rains hard.",
        subject: "Roof leak – need someone to look at it",
        finding: "The leak is coming from a cracked pipe boot above the bedroom, and the decking under it is soft in about a four-foot area",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "hail damage",
        short: "hail damage",
        chat: "Hi — the hail storm last week dented our gutters and half the street is getting new roofs. Do you do free inspections?",
        detail: "The hail storm dented our gutters and the shingles look bruised. Several neighbors are getting their roofs replaced.",
        subject: "Hail damage inspection",
        finding: "There are hail hits on every slope, about twelve per test square on the west side, and the gutters are dented",
        storm: true,
        replacement: true,
    },
    Issue {
        key: "missing shingles",
        short: "missing shingles",
        chat: "Hello, we found about a dozen shingles in the backyard after the wind storm. How soon could someone check the roof?",
        detail: "We found a bunch of shingles in the yard after the wind storm and you can see bare spots from the street.",
        subject: "Missing shingles after the storm",
        finding: "You lost fourteen shingles on the back slope and the ridge cap is loose in two places",
        storm: true,
        replacement: false,
    },
    Issue {
        key: "roof replacement",
        short: "roof replacement",
        chat: "Hi, our roof is original to the house and the shingles are curling. We're thinking about a full replacement. How does pricing work?",
        detail: "The roof is original to the house, the shingles are curling and we're ready to replace it.",
        subject: "Quote for a roof replacement",
        finding: "The shingles are at the end of their life: curling, granule loss everywhere and a few soft spots in the decking",
        storm: false,
        replacement: true,
    },
    Issue {
        key: "chimney flashing",
        short: "leak around the chimney",
        chat: "Hi, there's water getting in around our chimney every time it rains. Is that something you repair?",
        detail: "Water gets in around the chimney every time it rains and the drywall next to the fireplace is stained.",
        subject: "Leak around the chimney",
        finding: "The step flashing around the chimney has pulled away and someone sealed it with caulk that has cracked",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "skylight leak",
        short: "leaking skylight",
        chat: "Hello! Our kitchen skylight drips whenever it rains hard. Can you fix that or do we need a new skylight?",
        detail: "The skylight over the kitchen drips whenever it rains hard.",
        subject: "Skylight leaking",
        finding: "The skylight seal is fine, but the flashing kit around it was never installed right and water gets under the upper edge",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "gutters",
        short: "gutters pulling away",
        chat: "Hi, our gutters overflow and are pulling away from the fascia over the garage. Do you do gutters too?",
        detail: "Our gutters overflow and are pulling away from the fascia over the garage.",
        subject: "Gutters pulling off the house",
        finding: "The gutters over the garage are pitched the wrong way and the fascia board behind them is rotting",
        storm: false,
        replacement: false,
    },
    Issue {
        key: "wind damage",
        short: "wind damage",
        chat: "Hi, the wind lifted part of the ridge on our roof and now it flaps when it's windy. Could someone take a look soon?",
        detail: "The wind lifted part of the ridge cap and it flaps and rattles every time it's windy.",
        subject: "Wind damage on the ridge",
        finding: "The wind creased a row of shingles along the ridge and lifted the ridge vent",
        storm: true,
        replacement: true,
    },
    Issue {
        key: "sagging roof",
        short: "sagging roof",
        chat: "Hi, part of our roof over the garage looks like it's sagging. Should we be worried?",
        detail: "A section of the roof over the garage looks like it's sagging and feels soft.",
        subject: "Sagging section over the garage",
        finding: "The decking over the garage is rotted from an old leak and two rafters need sistering",
        storm: false,
        replacement: false,
    },
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Jennifer", "Michael", "Linda", "David", "Patricia", "James", "Maria", "Robert", "Susan",
    "Carlos", "Karen", "Brian", "Angela", "Kevin", "Melissa", "Jason", "Laura", "Daniel",
    "Rebecca", "Thomas", "Stephanie", "Anthony", "Nicole", "Mark", "Priya", "Steven", "Heather",
    "Luis", "Amanda", "Gregory", "Rachel", "Eric", "Tanya", "Andrew", "Monica", "Derrick", "Emily",
    "Ryan", "Grace", "Tyler", "Vanessa", "Jorge", "Kimberly", "Nathan", "Denise",
];
#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Walsh", "Johnson", "Nguyen", "Garcia", "Patel", "Thompson", "Martinez", "Robinson", "Clark",
    "Lewis", "Hernandez", "Walker", "Young", "Allen", "King", "Wright", "Lopez", "Hill", "Scott",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Perez", "Roberts", "Turner",
    "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart", "Morris", "Murphy",
    "Cook", "Rogers", "Reed", "Bailey", "Bell", "Kim", "Cooper", "Richardson",
];
#[rustfmt::skip]
const STREETS: &[&str] = &[
    "Elm Creek Dr", "Briar Hollow Ln", "Preston Meadow Dr", "Cedar Ridge Rd", "Willow Bend Ct",
    "Stonebrook Pkwy", "Hidden Cove Dr", "Sunset Ridge Ln", "Oak Hollow Dr", "Pecan Grove Ct",
    "Mesa Verde Trl", "Lakeview Cir", "Bluebonnet Ln", "Highland Park Dr", "Coyote Ridge Rd",
    "Red Oak Ln", "Magnolia Way", "Saddlebrook Dr", "Timber Creek Ln", "Spring Valley Rd",
];
const CITIES: &[(&str, &str)] = &[
    ("Plano", "75024"),
    ("Frisco", "75034"),
    ("McKinney", "75070"),
    ("Allen", "75013"),
    ("Richardson", "75080"),
    ("Garland", "75044"),
    ("Dallas", "75214"),
    ("Irving", "75063"),
    ("Carrollton", "75007"),
    ("Flower Mound", "75028"),
    ("Arlington", "76016"),
    ("Denton", "76210"),
];
const TIMELINES: &[(&str, &str)] = &[
    ("ASAP", "We'd like to get it fixed ASAP."),
    (
        "this week",
        "Hoping to get someone out this week if possible.",
    ),
    ("within a month", "We'd like it done within the next month."),
    (
        "before spring",
        "No rush, but we want it done before spring storms.",
    ),
    (
        "just getting quotes",
        "No rush, just getting quotes for now.",
    ),
];
const BUDGETS: &[Option<&str>] = &[
    Some("insurance claim"),
    Some("$10,000–$15,000"),
    Some("under $8,000"),
    Some("around $20k for a full replacement"),
    Some("not sure yet"),
    None,
    None,
];
pub(super) const INSURERS: &[&str] = &[
    "State Farm",
    "Allstate",
    "USAA",
    "Farmers",
    "Liberty Mutual",
];

pub(super) struct Profile {
    pub(super) first: &'static str,
    last: &'static str,
    pub(super) email: Option<String>,
    pub(super) phone: String,
    pub(super) street: String,
    pub(super) city: &'static str,
    zip: &'static str,
    /// Whether the lead ever told us the address.
    pub(super) has_address: bool,
    pub(super) roof_age: i32,
    /// Whether the roof's age is on file before the inspection (the lead said it).
    knows_age: bool,
    pub(super) issue: &'static Issue,
    pub(super) timeline: (&'static str, &'static str),
    /// Whether the lead told us the timeline.
    knows_timeline: bool,
    /// Website chat: the visitor mentions the timeline.
    pub(super) chat_timeline: bool,
    /// Website chat: the visitor says thanks at the end.
    pub(super) chat_goodbye: bool,
    budget: Option<&'static str>,
    pub(super) source: &'static str,
    pub(super) price: u32,
}

impl Profile {
    pub(super) fn generate(
        rng: &mut StdRng,
        story: Story,
        opening: Opening,
        used: &mut Used,
    ) -> Self {
        let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Alex");
        let last = LAST_NAMES.choose(rng).copied().unwrap_or("Smith");
        let needs_email = story.needs_email() || opening == Opening::WebForm;
        let email = (needs_email || rng.gen_bool(0.7)).then(|| used.email(rng, first, last));
        let phone = used.phone(rng);
        let (city, zip) = CITIES.choose(rng).copied().unwrap_or(("Plano", "75024"));
        let street = format!(
            "{} {}",
            rng.gen_range(1..60) * 100 + rng.gen_range(1..99),
            STREETS.choose(rng).copied().unwrap_or("Main St")
        );
        let has_address = match story {
            Story::GoneSilent | Story::TireKicker | Story::NotAFit => false,
            Story::Unanswered => rng.gen_bool(0.5),
            _ => true,
        };
        let storms: Vec<&'static Issue> = ISSUES.iter().filter(|i| i.storm).collect();
        let issue = match story {
            Story::NotAFit => &ISSUES[0],
            Story::Insurance => storms.choose(rng).copied().unwrap_or(&ISSUES[1]),
            _ => &ISSUES[rng.gen_range(0..ISSUES.len())],
        };
        let timeline = match story {
            Story::TireKicker => TIMELINES[4],
            Story::GoneSilent => TIMELINES[rng.gen_range(2..TIMELINES.len())],
            Story::Scheduled | Story::NoShow => TIMELINES[rng.gen_range(0..3)],
            _ => TIMELINES[rng.gen_range(0..TIMELINES.len())],
        };
        // What the CRM knows is what the lead told us: a web-form email and a booked call
        // give the roof's age and the timeline from the start; a chat files what it
        // revealed when it ends; the inspection gives the roof's age.
        let told = matches!(opening, Opening::WebForm | Opening::CallAnswered);
        let chat_timeline = opening == Opening::Chat && rng.gen_bool(0.6);
        let knows_timeline = story != Story::NotAFit && (told || story == Story::Unanswered);
        let budget = match story {
            Story::NotAFit | Story::Unanswered | Story::GoneSilent => None,
            _ if rng.gen_bool(0.4) => BUDGETS.choose(rng).copied().flatten(),
            _ => None,
        };
        let price = if issue.replacement {
            rng.gen_range(95..260) * 100 + 80
        } else {
            rng.gen_range(4..28) * 100 + 50
        };
        Self {
            first,
            last,
            email,
            phone,
            street,
            city,
            zip,
            has_address,
            roof_age: if issue.replacement {
                rng.gen_range(14..28)
            } else {
                rng.gen_range(4..22)
            },
            knows_age: told,
            issue,
            timeline,
            knows_timeline,
            chat_timeline,
            // Someone who goes silent afterwards rarely signs off warmly.
            chat_goodbye: story != Story::GoneSilent && rng.gen_bool(0.5),
            budget,
            source: opening.source(rng),
            price,
        }
    }

    pub(super) fn name(&self) -> String {
        format!("{} {}", self.first, self.last)
    }

    pub(super) fn address(&self) -> String {
        format!("{}, {}, TX {}", self.street, self.city, self.zip)
    }

    /// Body of `POST /api/leads`: what the roofer's CRM knows about the lead.
    pub(super) fn lead_fields(&self) -> Value {
        json!({
            "name": self.name(),
            "email": self.email,
            "phone": self.phone,
            "property_address": self.has_address.then(|| self.address()),
            "roof_age_years": self.knows_age.then_some(self.roof_age),
            "issues": [self.issue.key],
            "timeline": self.knows_timeline.then_some(self.timeline.0),
            "budget": self.budget,
            "source": self.source,
        })
    }

    pub(super) fn job(&self) -> &'static str {
        if self.issue.replacement {
            "a full roof replacement"
        } else {
            "the repair"
        }
    }
}

pub(super) fn money(dollars: u32) -> String {
    let s = dollars.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    format!("${out}")
}
