//! Which stories the demo's leads live, and how each first reaches out.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// How the lead first reached out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opening {
    /// Website chat, answered by the AI.
    Chat,
    /// An email inquiry (as a site's contact form sends it), answered by the AI.
    WebForm,
    /// An inbound call that was answered and booked an inspection.
    CallAnswered,
    /// A missed inbound call, the automatic text-back, then texting.
    CallMissed,
    /// An inbound text.
    Text,
}

impl Opening {
    pub(super) fn source(self, rng: &mut StdRng) -> &'static str {
        let choices: &[&str] = match self {
            Opening::Chat => &["Website chat"],
            Opening::WebForm => &["Google", "Facebook", "Angi", "Website form"],
            Opening::CallAnswered => &["Google", "Yard sign", "Referral", "Door hanger"],
            Opening::CallMissed => &["Google", "Door hanger", "Yard sign"],
            Opening::Text => &["Referral", "Door hanger", "Nextdoor"],
        };
        choices.choose(rng).copied().unwrap_or("Google")
    }
}

/// One lead's story, which sets its stage and, through the tracker, its band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Story {
    /// Inspection, quote, accepted, installed, review: won.
    Won,
    /// Quote "too expensive", went with someone else: lost.
    LostOnPrice,
    /// Cancelled the inspection for another roofer: lost.
    LostElsewhere,
    /// Inquired weeks ago, never answered our follow-ups: contacted.
    GoneSilent,
    /// Reached out in the last day or so, nobody answered yet: new.
    Unanswered,
    /// Quote sent, thinking it over: quoted.
    Deliberating,
    /// Inspection booked in the coming days: inspection_scheduled.
    Scheduled,
    /// Inspected, worried about the insurance claim: inspected.
    Insurance,
    /// Getting a ballpark for next year: contacted.
    TireKicker,
    /// Nobody showed up for the inspection; rebooked: inspection_scheduled.
    NoShow,
    /// A renter whose landlord won't pay, weeks ago: contacted, cold.
    NotAFit,
}

impl Story {
    /// The mix. Its first three are HOT, COLD and (silent for weeks) WARM, so even a few
    /// leads show every band.
    const MIX: [Story; 12] = [
        Story::Won,
        Story::LostOnPrice,
        Story::GoneSilent,
        Story::Unanswered,
        Story::Deliberating,
        Story::Scheduled,
        Story::NotAFit,
        Story::Insurance,
        Story::LostElsewhere,
        Story::TireKicker,
        Story::NoShow,
        Story::GoneSilent,
    ];

    fn openings(self) -> &'static [Opening] {
        use Opening::*;
        match self {
            Story::GoneSilent => &[Chat, WebForm, Text],
            Story::Unanswered => &[CallMissed, Text, WebForm],
            Story::TireKicker => &[Chat, WebForm],
            Story::Insurance => &[WebForm, CallAnswered, Chat, Text],
            Story::NotAFit => &[Text],
            _ => &[Chat, WebForm, CallAnswered, CallMissed, Text],
        }
    }

    /// Whether the story mails the lead (a quote, a ballpark), who then has an email address.
    pub(super) fn needs_email(self) -> bool {
        matches!(
            self,
            Story::Won
                | Story::LostOnPrice
                | Story::Deliberating
                | Story::Insurance
                | Story::TireKicker
        )
    }

    /// Typical length of the story in days, and where it starts (days ago, within `days`).
    pub(super) fn span_and_start(self, days: f64) -> (f64, f64, f64) {
        let (span, lo, hi): (f64, f64, f64) = match self {
            Story::Won => (22.0, 24.0, days),
            Story::LostOnPrice => (16.0, 18.0, days),
            Story::LostElsewhere => (4.0, 6.0, days),
            Story::GoneSilent => (18.0, 36.0, days),
            Story::Unanswered => (0.05, 0.1, 1.5),
            Story::Deliberating => (11.0, 12.0, 22.0),
            Story::Scheduled => (1.5, 1.0, 4.0),
            Story::Insurance => (9.0, 10.0, 25.0),
            Story::TireKicker => (2.0, 3.0, days),
            Story::NoShow => (4.0, 4.5, 7.0),
            Story::NotAFit => (0.5, 32.0, days),
        };
        let hi = hi.min(days - 0.05);
        let lo = lo.min(hi * 0.8);
        (span, lo, hi)
    }
}

/// The stories of `n` leads, each with how it opens, in a shuffled order.
pub(super) fn plan(n: usize, rng: &mut StdRng) -> Vec<(Story, Opening)> {
    // The first leads open on every channel, so even a small demo shows all four.
    const FIRST: [Opening; 5] = [
        Opening::Chat,
        Opening::WebForm,
        Opening::Text,
        Opening::CallMissed,
        Opening::CallAnswered,
    ];
    let mut out: Vec<(Story, Opening)> = (0..n)
        .map(|i| {
            let story = Story::MIX[i % Story::MIX.len()];
            let allowed = story.openings();
            let opening = match FIRST.get(i) {
                Some(o) if allowed.contains(o) => *o,
                _ => allowed.choose(rng).copied().unwrap_or(Opening::Text),
            };
            (story, opening)
        })
        .collect();
    out.shuffle(rng);
    out
}
