//! The offline rules responder: intents, the one question, FAQ answers,
//! channel shapes, determinism and template overrides.

use leadline::ai::rules::{detect_intents, Field};
use leadline::ai::{
    should_skip, AiResponder, CompanySettings, LeadContext, Reply, ReplyRequest, RulesResponder,
    Turn,
};
use leadline::domain::{Channel, Direction, LeadProfile, SentimentLabel};

fn acme() -> CompanySettings {
    CompanySettings {
        company_name: Some("Acme Roofing".into()),
        services: vec![
            "roof repair".into(),
            "roof replacement".into(),
            "gutters".into(),
        ],
        service_area: Some("Chicago and the western suburbs".into()),
        hours: Some("Mon–Fri 8am–6pm, Sat 9am–1pm".into()),
        phone: Some("(312) 555-0100".into()),
        booking_link: Some("https://acme.example/book".into()),
        review_link: None,
        financing: Some("0% for 12 months through GreenSky".into()),
        insurance_claims: Some(
            "We work with all major insurers and meet the adjuster on site".into(),
        ),
        signature: Some("— Mike, Acme Roofing".into()),
    }
}

fn jane() -> LeadContext {
    LeadContext {
        profile: LeadProfile {
            name: Some("Jane Doe".into()),
            ..LeadProfile::default()
        },
        ..Default::default()
    }
}

fn inbound(text: &str) -> Vec<Turn> {
    vec![Turn {
        direction: Direction::Inbound,
        text: text.into(),
    }]
}

fn rules() -> RulesResponder {
    RulesResponder::new(None)
}

fn reply(
    r: &RulesResponder,
    company: &CompanySettings,
    lead: &LeadContext,
    channel: Channel,
    conv: &[Turn],
    subject: Option<&str>,
) -> (Reply, Option<Field>) {
    let req = ReplyRequest {
        company,
        lead,
        channel,
        conversation: conv,
        subject,
    };
    (r.reply_now(&req), r.plan(&req).question)
}

struct Case {
    channel: Channel,
    msg: &'static str,
    intents: &'static [&'static str],
    question: Option<Field>,
    contains: &'static [&'static str],
    absent: &'static [&'static str],
}

const fn case(
    channel: Channel,
    msg: &'static str,
    intents: &'static [&'static str],
    question: Option<Field>,
    contains: &'static [&'static str],
) -> Case {
    Case {
        channel,
        msg,
        intents,
        question,
        contains,
        absent: &[],
    }
}

use Channel::{Chat, Email, Sms};
use Field::{Address, Contact, Phone};

const CASES: &[Case] = &[
    // leaks
    case(Chat, "My roof is leaking into the kitchen!", &["leak"], Some(Contact),
        &["Sorry to hear about the leak", "bucket", "don't go up on the roof", "phone number or email"]),
    case(Sms, "roof leeking bad after the rain, water coming thru the ceiling", &["leak"], Some(Address),
        &["leak", "bucket", "address of the property"]),
    case(Sms, "theres a brown stain on my ceiling upstairs", &["leak"], Some(Address), &["leak"]),
    case(Chat, "water is dripping in the attic when it rains", &["leak"], Some(Contact), &["leak"]),
    case(Chat, "there's too much water coming in the back bedroom", &["leak"], Some(Contact), &["leak"]),
    case(Chat, "how do I stop the leak until you get here", &["leak"], Some(Contact), &["bucket"]),
    // storms
    case(Chat, "Hail storm last night tore up the shingles", &["storm_damage"], Some(Contact),
        &["storm", "insurance paperwork"]),
    case(Sms, "A tree fell on our roof during the wind storm", &["storm_damage"], Some(Address),
        &["storm damage"]),
    case(Sms, "lookin for a qoute on a new roof, insurence claim from the hail", &["storm_damage", "quote_request", "insurance"], Some(Address),
        &["written quote", "We work with all major insurers and meet the adjuster on site."]),
    // quotes
    case(Email, "Can I get a quote for a roof replacement?", &["quote_request"], Some(Address),
        &["Hi Jane,", "written quote after an inspection", "— Mike, Acme Roofing"]),
    case(Sms, "how much for new shingles on a 2 story house", &["quote_request"], Some(Address),
        &["written quote"]),
    case(Chat, "whats the cost to fix a few missing shingles", &["quote_request"], Some(Contact),
        &["written quote"]),
    case(Sms, "Need an estimte for gutters", &["quote_request"], Some(Address), &["written quote"]),
    // insurance
    case(Sms, "Will my insurance pay for this? The adjuster already came by", &["insurance"], Some(Address),
        &["We work with all major insurers"]),
    case(Email, "do you work with State Farm on claims? my deductible is high", &["insurance"], Some(Address),
        &["meet the adjuster on site"]),
    // scheduling
    case(Chat, "Can you come out tomorrow to take a look?", &["scheduling"], Some(Contact),
        &["book an inspection here: https://acme.example/book"]),
    case(Sms, "when can you shedule an inspection", &["scheduling"], Some(Address),
        &["book an inspection"]),
    case(Sms, "Are you available saturday?", &["scheduling", "hours"], Some(Address),
        &["Sat 9am–1pm", "book an inspection"]),
    // price objections (no question; acknowledge + call)
    case(Chat, "That's too expensive for us right now", &["price_objection"], None,
        &["big investment", "financing: 0% for 12 months through GreenSky", "call us at (312) 555-0100"]),
    case(Sms, "I found someone cheaper", &["price_objection"], None, &["big investment"]),
    case(Email, "Honestly we can't afford that, it's out of our budget", &["price_objection"], None,
        &["big investment", "(312) 555-0100"]),
    // FAQs
    case(Chat, "Do you serve Naperville?", &["service_area"], Some(Contact),
        &["We serve Chicago and the western suburbs."]),
    case(Sms, "what areas do you cover", &["service_area"], Some(Address), &["We serve Chicago"]),
    case(Chat, "What are your hours? Are you open on weekends?", &["hours"], Some(Contact),
        &["Our hours are Mon–Fri 8am–6pm, Sat 9am–1pm."]),
    case(Sms, "do you offer financing or payment plans", &["financing"], Some(Address),
        &["Yes, we offer financing: 0% for 12 months through GreenSky."]),
    case(Chat, "Can I pay monthly?", &["financing"], Some(Contact), &["GreenSky"]),
    // greetings / thanks (no question: keeps bots from looping)
    case(Chat, "hello", &["greeting"], None, &["Hi Jane!", "How can we help with your roof?"]),
    case(Sms, "Hey there", &["greeting"], None, &["Acme Roofing"]),
    case(Chat, "Thanks so much!", &["thanks"], None, &["You're welcome!"]),
    case(Sms, "Thanks, when can you come out?", &["scheduling", "thanks"], Some(Address),
        &["Thanks for getting back to us.", "book an inspection"]),
    // opt-outs: a short confirmation, never a question
    case(Sms, "STOP", &["stop"], None, &["unsubscribed", "Acme Roofing"]),
    case(Sms, "unsubscribe me please", &["stop"], None, &["unsubscribed"]),
    case(Email, "Please remove me from your list", &["stop"], None, &["unsubscribed"]),
    // angry
    case(Chat, "This is ridiculous. Nobody showed up for my appointment and nobody called", &["complaint", "scheduling"], None,
        &["I'm sorry", "(312) 555-0100"]),
    case(Sms, "worst service ever, still waiting on my estimate", &["complaint", "quote_request"], None,
        &["I'm sorry"]),
    // people
    case(Chat, "Can someone call me? 312-555-0199", &["human"], None, &["call you at 312-555-0199"]),
    case(Sms, "can i talk to a real person", &["human"], None, &["call you at this number"]),
    case(Chat, "i want to speak to someone", &["human"], Some(Phone), &["best number to reach you"]),
    // nothing specific
    case(Chat, "I need my roof looked at", &[], Some(Contact),
        &["Thanks for reaching out to Acme Roofing — we handle roof repair, roof replacement and gutters."]),
];

#[test]
fn table_of_realistic_messages() {
    assert!(CASES.len() >= 30);
    let r = rules();
    let company = acme();
    for c in CASES {
        let conv = inbound(c.msg);
        let (rep, question) = reply(&r, &company, &jane(), c.channel, &conv, Some("Roof"));
        if std::env::var("SHOW").is_ok() {
            eprintln!("--- {:?} {}\n{}\n", c.channel, c.msg, rep.text);
        }
        assert_eq!(rep.intents, c.intents, "intents of {:?}", c.msg);
        assert_eq!(question, c.question, "question for {:?}", c.msg);
        assert_eq!(rep.provider, "rules");
        for s in c.contains {
            assert!(
                rep.text.contains(s),
                "{:?}: expected {s:?} in\n{}",
                c.msg,
                rep.text
            );
        }
        for s in c.absent {
            assert!(
                !rep.text.contains(s),
                "{:?}: unexpected {s:?} in\n{}",
                c.msg,
                rep.text
            );
        }
        // One question at most (the greeting's own question counts).
        assert!(
            rep.text.matches('?').count() <= 1,
            "{:?}: {}",
            c.msg,
            rep.text
        );
        if let Some(f) = c.question {
            let req = ReplyRequest {
                company: &company,
                lead: &jane(),
                channel: c.channel,
                conversation: &conv,
                subject: None,
            };
            assert!(rep.text.contains(&r.question_text(&req, f)), "{}", rep.text);
        }
        if c.intents == ["stop"] {
            assert!(!rep.text.contains('?'));
        }
        if c.channel == Sms {
            assert!(rep.text.chars().count() <= 320, "{}", rep.text);
            assert!(!rep.text.contains("— Mike"));
        }
        if c.channel == Chat {
            assert!(rep.text.chars().count() <= 600);
        }
    }
}

#[test]
fn intents_are_not_fooled_by_lookalikes() {
    let names = |m: &str| {
        detect_intents(m)
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>()
    };
    assert!(names("I'm leaving town tomorrow").is_empty());
    assert_eq!(names("stop the drip please"), ["leak"]);
    assert!(names("Please don't call me, text only").is_empty());
    assert!(names("the window in the attic is cracked").is_empty());
    assert_eq!(names("is it going to cost too much?"), ["price_objection"]);
    assert!(names("").is_empty());
    assert_eq!(names("Stop please"), ["stop"]);
    assert_eq!(names("cancel my appointment"), ["scheduling"]);
    assert_eq!(names("Can you stop by Tuesday?"), ["scheduling"]);
}

fn bool_lead(mask: u32) -> LeadContext {
    LeadContext {
        profile: LeadProfile {
            name: Some("Sam".into()),
            email: (mask & 1 != 0).then(|| "sam@example.com".into()),
            phone: (mask & 2 != 0).then(|| "+13125550111".into()),
            property_address: (mask & 4 != 0).then(|| "12 Elm St, Oak Park".into()),
            roof_age_years: (mask & 8 != 0).then_some(18),
            timeline: (mask & 16 != 0).then(|| "this month".into()),
            budget: (mask & 32 != 0).then(|| "$15k".into()),
            ..LeadProfile::default()
        },
        ..Default::default()
    }
}

fn is_known(lead: &LeadContext, channel: Channel, f: Field) -> bool {
    match f {
        Field::Contact => {
            lead.profile.email.is_some() || lead.profile.phone.is_some() || channel != Chat
        }
        Field::Phone => lead.profile.phone.is_some() || matches!(channel, Sms | Channel::PhoneCall),
        Field::Address => lead.profile.property_address.is_some(),
        Field::RoofAge => lead.profile.roof_age_years.is_some(),
        Field::Timeline => lead.profile.timeline.is_some(),
        Field::Budget => lead.profile.budget.is_some(),
    }
}

#[test]
fn never_asks_for_a_known_field() {
    let r = rules();
    let company = acme();
    let all = [
        Field::Contact,
        Field::Phone,
        Field::Address,
        Field::RoofAge,
        Field::Timeline,
        Field::Budget,
    ];
    let messages = [
        "How much for a new roof?",
        "Do you serve Oak Park?",
        "I need someone to look at my roof",
        "hail damage on the garage",
        "can a real person call me",
    ];
    for mask in 0..64u32 {
        let lead = bool_lead(mask);
        for channel in Channel::ALL {
            for msg in messages {
                let conv = inbound(msg);
                let req = ReplyRequest {
                    company: &company,
                    lead: &lead,
                    channel,
                    conversation: &conv,
                    subject: None,
                };
                let plan = r.plan(&req);
                let rep = r.reply_now(&req);
                if let Some(q) = plan.question {
                    assert!(
                        !is_known(&lead, channel, q),
                        "asked {q:?} for mask {mask} on {channel:?}"
                    );
                    // It is the first missing field in the order (or Phone for "call me").
                    if q != Field::Phone {
                        let first = Field::ORDER
                            .into_iter()
                            .find(|f| !is_known(&lead, channel, *f));
                        assert_eq!(Some(q), first, "mask {mask} {channel:?} {msg}");
                    }
                }
                for f in all {
                    if is_known(&lead, channel, f) {
                        let q = r.question_text(&req, f);
                        assert!(!rep.text.contains(&q), "re-asked {f:?}: {}", rep.text);
                    }
                }
                assert!(plan.missing.iter().all(|f| !is_known(&lead, channel, *f)));
            }
        }
    }
}

#[test]
fn what_the_lead_just_wrote_counts_as_known() {
    let r = rules();
    let company = acme();
    let lead = LeadContext {
        profile: LeadProfile {
            email: Some("jane@example.com".into()),
            ..jane().profile
        },
        ..jane()
    };
    let conv = inbound(
        "My roof is 25 years old and the hail cracked it, 123 Main St, we want it done this month",
    );
    let (_, q) = reply(&r, &company, &lead, Chat, &conv, None);
    assert_eq!(q, Some(Field::Budget));
    let conv = inbound("you can reach me at jane@example.com, roof on 45 Oak Ave is 10 yrs old");
    let (_, q) = reply(&r, &company, &jane(), Chat, &conv, None);
    assert_eq!(q, Some(Field::Timeline));
}

#[test]
fn does_not_repeat_the_question_it_just_asked() {
    let r = rules();
    let company = acme();
    let lead = jane();
    let conv = inbound("how much for a roof?");
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Sms,
        conversation: &conv,
        subject: None,
    };
    let first = r.reply_now(&req);
    assert_eq!(r.plan(&req).question, Some(Field::Address));
    let conv = vec![
        conv[0].clone(),
        Turn {
            direction: Direction::Outbound,
            text: first.text,
        },
        Turn {
            direction: Direction::Inbound,
            text: "ok".into(),
        },
    ];
    let (_, q) = reply(&r, &company, &lead, Sms, &conv, None);
    assert_eq!(q, Some(Field::RoofAge));
}

#[test]
fn answers_from_settings_and_says_the_team_will_confirm_when_missing() {
    let r = rules();
    let empty = CompanySettings::default();
    let conv = inbound(
        "Do you serve Evanston? What are your hours? Do you do financing? Will you deal with my insurance claim?",
    );
    let (rep, _) = reply(&r, &empty, &jane(), Email, &conv, None);
    for s in [
        "Our team will confirm whether your property is in our service area.",
        "Our team will confirm our hours for you.",
        "Our team will confirm which financing options are available.",
        "Our team will confirm how we can help with your insurance claim.",
    ] {
        assert!(rep.text.contains(s), "missing {s:?}:\n{}", rep.text);
    }
    assert_eq!(rep.subject.as_deref(), Some("Your roofing inquiry"));
    assert!(rep.text.ends_with("— The team"), "{}", rep.text);

    let (rep, _) = reply(&r, &acme(), &jane(), Email, &conv, None);
    for s in [
        "We serve Chicago and the western suburbs.",
        "Our hours are Mon–Fri 8am–6pm, Sat 9am–1pm.",
        "0% for 12 months through GreenSky",
        "We work with all major insurers and meet the adjuster on site.",
    ] {
        assert!(rep.text.contains(s), "missing {s:?}:\n{}", rep.text);
    }
    assert!(!rep.text.contains("will confirm"));
}

#[test]
fn financing_is_not_mentioned_unless_set_or_asked() {
    let r = rules();
    let company = CompanySettings {
        financing: None,
        ..acme()
    };
    let (rep, _) = reply(
        &r,
        &company,
        &jane(),
        Chat,
        &inbound("that's too expensive"),
        None,
    );
    assert!(!rep.text.to_lowercase().contains("financ"), "{}", rep.text);
    let (rep, _) = reply(
        &r,
        &company,
        &jane(),
        Chat,
        &inbound("How much for a new roof?"),
        None,
    );
    assert!(!rep.text.to_lowercase().contains("financ"), "{}", rep.text);
}

#[test]
fn never_invents_prices_or_free_inspections() {
    let r = rules();
    for c in CASES {
        let (rep, _) = reply(&r, &acme(), &jane(), c.channel, &inbound(c.msg), None);
        assert!(!rep.text.contains('$'), "{}", rep.text);
        assert!(!rep.text.to_lowercase().contains("free"), "{}", rep.text);
    }
}

#[test]
fn inspection_offer_follows_next_action_and_settings() {
    let r = rules();
    let lead = LeadContext {
        next_action: Some("schedule_inspection".into()),
        ..jane()
    };
    let conv = inbound("sounds good");
    let (rep, _) = reply(&r, &acme(), &lead, Sms, &conv, None);
    assert!(
        rep.text
            .ends_with("book an inspection here: https://acme.example/book"),
        "{}",
        rep.text
    );
    let no_link = CompanySettings {
        booking_link: None,
        review_link: None,
        ..acme()
    };
    let (rep, _) = reply(&r, &no_link, &lead, Sms, &conv, None);
    assert!(
        rep.text
            .contains("Call us at (312) 555-0100 to set up an inspection."),
        "{}",
        rep.text
    );
    let (rep, _) = reply(&r, &CompanySettings::default(), &lead, Sms, &conv, None);
    assert!(
        rep.text
            .contains("Our team will reach out to set up a time"),
        "{}",
        rep.text
    );
    // Not without a reason.
    let (rep, _) = reply(&r, &acme(), &jane(), Sms, &conv, None);
    assert!(!rep.text.contains("inspection"), "{}", rep.text);
}

#[test]
fn negative_sentiment_and_address_concerns_apologize_and_offer_a_call() {
    let r = rules();
    for lead in [
        LeadContext {
            sentiment: Some(SentimentLabel::Negative),
            ..jane()
        },
        LeadContext {
            next_action: Some("address_concerns".into()),
            ..jane()
        },
    ] {
        let (rep, q) = reply(
            &r,
            &acme(),
            &lead,
            Sms,
            &inbound("the leak got worse overnight"),
            None,
        );
        assert!(
            rep.text.starts_with("I'm sorry you're dealing with this."),
            "{}",
            rep.text
        );
        assert!(rep.text.contains("(312) 555-0100"), "{}", rep.text);
        assert_eq!(q, Some(Field::Address));
        assert!(rep.text.chars().count() <= 320);
    }
    // Without a company phone, offer to call the lead.
    let lead = LeadContext {
        profile: LeadProfile {
            phone: Some("312-555-0142".into()),
            ..jane().profile
        },
        sentiment: Some(SentimentLabel::Negative),
        ..jane()
    };
    let company = CompanySettings {
        phone: None,
        ..acme()
    };
    let (rep, _) = reply(
        &r,
        &company,
        &lead,
        Chat,
        &inbound("not happy with how this is going"),
        None,
    );
    assert!(
        rep.text.contains("call you at 312-555-0142"),
        "{}",
        rep.text
    );
}

#[test]
fn sms_stays_short_even_with_everything_at_once() {
    let r = rules();
    let long = "x".repeat(400);
    let company = CompanySettings {
        service_area: Some(format!("Chicago {long}")),
        hours: Some(format!("Always {long}")),
        insurance_claims: Some(format!("We help {long}")),
        ..acme()
    };
    let lead = LeadContext {
        sentiment: Some(SentimentLabel::Negative),
        next_action: Some("schedule_inspection".into()),
        ..jane()
    };
    let msg = "Roof leaking after the hail storm, need a quote, insurance claim, can you come out saturday, do you serve Oak Park, financing? hours?";
    for channel in [Sms, Channel::PhoneCall, Chat] {
        let (rep, q) = reply(&r, &company, &lead, channel, &inbound(msg), None);
        let max = if channel == Chat { 600 } else { 320 };
        assert!(
            rep.text.chars().count() <= max,
            "{channel:?} {}: {}",
            rep.text.chars().count(),
            rep.text
        );
        // The question survives the cut.
        if let Some(f) = q {
            let req = ReplyRequest {
                company: &company,
                lead: &lead,
                channel,
                conversation: &inbound(msg),
                subject: None,
            };
            assert!(rep.text.contains(&r.question_text(&req, f)), "{}", rep.text);
        }
    }
}

#[test]
fn email_has_greeting_subject_and_signature() {
    let r = rules();
    let conv = inbound("Is my roof worth repairing or should I replace it? How much?");
    let (rep, _) = reply(
        &r,
        &acme(),
        &jane(),
        Email,
        &conv,
        Some("RE: Roof question"),
    );
    assert_eq!(rep.subject.as_deref(), Some("Re: Roof question"));
    assert!(rep.text.starts_with("Hi Jane,\n\n"), "{}", rep.text);
    assert!(
        rep.text.ends_with("\n\n— Mike, Acme Roofing"),
        "{}",
        rep.text
    );
    let (rep, _) = reply(&r, &acme(), &LeadContext::default(), Email, &conv, None);
    assert_eq!(
        rep.subject.as_deref(),
        Some("Your roofing inquiry with Acme Roofing")
    );
    assert!(rep.text.starts_with("Hi there,\n\n"), "{}", rep.text);
    let no_sig = CompanySettings {
        signature: None,
        ..acme()
    };
    let (rep, _) = reply(&r, &no_sig, &jane(), Email, &conv, None);
    assert!(
        rep.text.ends_with("— The Acme Roofing team"),
        "{}",
        rep.text
    );
    // Other channels have no subject.
    let (rep, _) = reply(&r, &acme(), &jane(), Chat, &conv, Some("x"));
    assert_eq!(rep.subject, None);
}

#[test]
fn deterministic() {
    let company = acme();
    for c in CASES {
        let a = reply(
            &rules(),
            &company,
            &jane(),
            c.channel,
            &inbound(c.msg),
            Some("s"),
        )
        .0;
        let b = reply(
            &rules(),
            &company,
            &jane(),
            c.channel,
            &inbound(c.msg),
            Some("s"),
        )
        .0;
        assert_eq!(a, b);
    }
}

#[test]
fn lead_values_are_cleaned_and_capped() {
    let r = rules();
    let lead = LeadContext {
        profile: LeadProfile {
            name: Some("Ja\u{0007}ne\u{202E}\u{200B}".into()),
            phone: Some(format!("312\n555\r0199{}", "9".repeat(100))),
            ..LeadProfile::default()
        },
        ..Default::default()
    };
    let (rep, _) = reply(
        &r,
        &acme(),
        &lead,
        Email,
        &inbound("call me please"),
        Some("Leak\r\nBcc: x@y.z"),
    );
    assert!(rep.text.starts_with("Hi Jane,"), "{}", rep.text);
    assert!(!rep.text.chars().any(|c| c.is_control() && c != '\n'));
    assert!(rep.text.lines().all(|l| l.chars().count() < 400));
    let subject = rep.subject.unwrap();
    assert!(
        !subject.contains('\n') && !subject.contains('\r'),
        "{subject}"
    );
}

#[test]
fn first_contact_uses_tracker_issues() {
    let r = rules();
    let lead = LeadContext {
        profile: LeadProfile {
            issues: vec!["leak over the garage".into()],
            ..jane().profile
        },
        ..jane()
    };
    let (rep, _) = reply(
        &r,
        &acme(),
        &lead,
        Sms,
        &inbound("see the form I filled out"),
        None,
    );
    assert_eq!(rep.intents, ["leak"]);
    assert!(rep.text.contains("leak"));
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("leadline-ai-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("ai")).unwrap();
    dir
}

#[test]
fn templates_dir_overrides_are_used_and_reloaded() {
    let dir = temp_dir("override");
    std::fs::write(
        dir.join("ai/ack_leak.j2"),
        "{# custom #}CUSTOM LEAK NOTE for {{ first_name }} at {{ company_name }}.",
    )
    .unwrap();
    let r = RulesResponder::new(Some(dir.clone()));
    let conv = inbound("my roof is leaking");
    let (rep, _) = reply(&r, &acme(), &jane(), Chat, &conv, None);
    assert!(
        rep.text
            .starts_with("CUSTOM LEAK NOTE for Jane at Acme Roofing."),
        "{}",
        rep.text
    );
    // Other parts still come from the embedded copies.
    assert!(rep.text.contains("bucket"));

    // Edits apply without rebuilding anything.
    std::fs::write(dir.join("ai/ack_leak.j2"), "EDITED.").unwrap();
    let (rep, _) = reply(&r, &acme(), &jane(), Chat, &conv, None);
    assert!(rep.text.starts_with("EDITED."), "{}", rep.text);

    // A broken override falls back to the embedded template.
    std::fs::write(dir.join("ai/ack_leak.j2"), "{% if %}broken").unwrap();
    let (rep, _) = reply(&r, &acme(), &jane(), Chat, &conv, None);
    assert!(
        rep.text.starts_with("Sorry to hear about the leak"),
        "{}",
        rep.text
    );

    // A missing directory means embedded templates.
    let r = RulesResponder::new(Some(dir.join("nope")));
    let (rep, _) = reply(&r, &acme(), &jane(), Chat, &conv, None);
    assert!(rep.text.starts_with("Sorry to hear about the leak"));

    // The shipped templates/ directory matches the embedded copies.
    let shipped = RulesResponder::new(Some(env!("CARGO_MANIFEST_DIR").into()));
    let (a, _) = reply(&shipped, &acme(), &jane(), Email, &conv, None);
    let (b, _) = reply(&rules(), &acme(), &jane(), Email, &conv, None);
    assert_eq!(a, b);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn ai_responder_with_rules_uses_the_templates_dir() {
    let dir = temp_dir("responder");
    std::fs::write(dir.join("ai/stop.j2"), "Bye from {{ company_name }}.").unwrap();
    let resp = AiResponder::rules_only(Some(dir.clone()));
    let company = acme();
    let lead = jane();
    let conv = inbound("STOP");
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Sms,
        conversation: &conv,
        subject: None,
    };
    let rep = resp.reply(&req).await;
    assert_eq!(rep.text, "Bye from Acme Roofing.");
    assert_eq!(resp.provider_name(), "rules");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn skips_auto_replies_echoes_and_answered_threads() {
    let company = acme();
    let lead = jane();
    let check = |conv: &[Turn]| {
        should_skip(&ReplyRequest {
            company: &company,
            lead: &lead,
            channel: Email,
            conversation: conv,
            subject: None,
        })
    };
    assert_eq!(check(&[]), Some("no inbound message"));
    assert_eq!(
        check(&inbound(
            "Automatic reply: I am out of the office until Monday."
        )),
        Some("auto-reply")
    );
    assert_eq!(check(&inbound("my roof leaks")), None);
    let ours = "Sorry to hear about the leak — we'll help you get it taken care of. What's the address of the property?";
    let echo = [
        Turn {
            direction: Direction::Inbound,
            text: "leak".into(),
        },
        Turn {
            direction: Direction::Outbound,
            text: ours.into(),
        },
        Turn {
            direction: Direction::Inbound,
            text: ours.into(),
        },
    ];
    assert_eq!(check(&echo), Some("echo of our own message"));
    let answered = [
        Turn {
            direction: Direction::Inbound,
            text: "leak".into(),
        },
        Turn {
            direction: Direction::Outbound,
            text: "On it".into(),
        },
    ];
    assert_eq!(check(&answered), Some("already answered"));
    let mut repeated = Vec::new();
    for _ in 0..3 {
        repeated.push(Turn {
            direction: Direction::Inbound,
            text: "Your ticket was received".into(),
        });
        repeated.push(Turn {
            direction: Direction::Outbound,
            text: "Thanks!".into(),
        });
    }
    repeated.pop();
    assert_eq!(check(&repeated), Some("repeated message"));
}
