//! A lead's history folded into a fixed-size aggregate, so the profile of a lead with
//! 10,000 touches reads one row plus its most recent touches instead of every touch.
//!
//! [`Aggregate::fold`] takes touches in `(timestamp, id)` order, one at a time (the
//! recording path folds each new touch into the stored aggregate); a touch that is not
//! after the last one folded is refused (the caller recomputes the lead from scratch with
//! [`Aggregate::of`]). Everything [`crate::tracker::analyze`] reads from the whole history
//! is here: counts by channel and direction, answered outbound touches and reply times,
//! our speed to lead, the first and last touches, the latest rated touches, the inbound
//! touches per local hour (in the zone it was folded with), and the inbound sentiment
//! scores of the trend (kept in order: the trend compares the two halves of the list).
//! The rest (score, recent activity) reads the most recent [`crate::tracker::SCORE_WINDOW`]
//! touches.
//!
//! Sums are integer milliseconds: the same numbers whether folded one by one or at once.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::domain::{Channel, Direction, SentimentLabel};
use crate::hours::Zone;
use crate::tracker::model::Touch;

/// Position of a channel in [`Channel::ALL`] (the index of the per-channel arrays).
pub fn channel_index(channel: Channel) -> usize {
    Channel::ALL
        .iter()
        .position(|&c| c == channel)
        .unwrap_or(Channel::ALL.len() - 1)
}

/// A touch's place in the history, and what the tracker reads of the first and last ones.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub at: DateTime<Utc>,
    pub id: i64,
    pub channel: Channel,
    pub direction: Direction,
}

/// A touch with a sentiment (a label, or a finite score), as the tracker reads it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rated {
    pub at: DateTime<Utc>,
    pub id: i64,
    pub channel: Channel,
    pub direction: Direction,
    pub sentiment: Option<SentimentLabel>,
    pub score: Option<f32>,
}

impl Rated {
    /// The touch again (for the sentiment helpers of [`crate::tracker::summary`]).
    pub fn touch(&self) -> Touch {
        Touch {
            id: self.id,
            timestamp: self.at,
            channel: self.channel,
            direction: self.direction,
            sentiment: self.sentiment,
            sentiment_score: self.score,
            ai_generated: false,
            duration_seconds: None,
        }
    }
}

/// The folded history of one lead (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    /// Touches per channel (index in [`Channel::ALL`]): `[inbound, outbound]`.
    pub counts: [[u32; 2]; 5],
    pub first: Option<Mark>,
    pub last: Option<Mark>,
    /// Outbound touches whose next touch is inbound, and the milliseconds to that answer.
    pub answered: u32,
    pub lead_reply_ms: i64,
    /// Runs of inbound touches we answered, and the milliseconds from each run's start.
    pub our_replies: u32,
    pub our_reply_ms: i64,
    /// The same wait for the run holding the very first inbound touch.
    pub first_response_ms: Option<i64>,
    /// Start of the inbound run still waiting for our reply.
    pub waiting_since: Option<DateTime<Utc>>,
    pub waiting_run_is_first: bool,
    pub last_inbound_at: Option<DateTime<Utc>>,
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// Inbound touches since our last outbound one.
    pub unanswered_inbound: u32,
    /// The latest inbound touch with a sentiment, and the latest touch of either direction.
    pub rated_inbound: Option<Rated>,
    pub rated: Option<Rated>,
    /// Per channel, the latest inbound touch's `(timestamp, id)` (preferred-channel ties).
    pub last_inbound: [Option<(DateTime<Utc>, i64)>; 5],
    /// Inbound touches per local hour, and on local weekends (in the zone folded with).
    pub hours: [u32; 24],
    pub weekend: u32,
    /// Finite sentiment scores of the inbound touches, in time order. Stored apart from
    /// the rest (the recording path appends to it without reading it).
    #[serde(skip)]
    pub scores: Vec<f32>,
}

/// The touches sorted by `(timestamp, id)` (the tracker's order; as
/// `summary::sorted_touches`, which reads this module).
fn sorted(touches: &[Touch]) -> Vec<&Touch> {
    let mut sorted: Vec<&Touch> = touches.iter().collect();
    sorted.sort_by(|a, b| a.timestamp.cmp(&b.timestamp).then(a.id.cmp(&b.id)));
    sorted
}

/// Whether the touch has a sentiment (`summary::touch_sentiment` is `Some`): a label, or
/// a finite score.
fn is_rated(t: &Touch) -> bool {
    t.sentiment.is_some() || t.sentiment_score.is_some_and(f32::is_finite)
}

fn ms_between(from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (to - from).num_milliseconds()
}

impl Aggregate {
    /// The aggregate of a whole history (any order), local hours in `zone`.
    pub fn of(touches: &[Touch], zone: Zone) -> Aggregate {
        Self::of_sorted(&sorted(touches), zone)
    }

    /// [`Aggregate::of`] touches already in `(timestamp, id)` order.
    pub fn of_sorted(sorted: &[&Touch], zone: Zone) -> Aggregate {
        let mut agg = Aggregate::default();
        for t in sorted {
            agg.fold(t, zone);
        }
        agg
    }

    /// Number of touches folded.
    pub fn total(&self) -> u32 {
        self.counts.iter().map(|c| c[0] + c[1]).sum()
    }

    /// Inbound (`0`) or outbound (`1`) touches over every channel.
    pub fn by_direction(&self, direction: Direction) -> u32 {
        let d = usize::from(direction == Direction::Outbound);
        self.counts.iter().map(|c| c[d]).sum()
    }

    /// Folds the next touch. `false` (and nothing changed) when `t` is not after the last
    /// touch folded: the history must then be folded again from the start.
    pub fn fold(&mut self, t: &Touch, zone: Zone) -> bool {
        if let Some(last) = &self.last {
            if (t.timestamp, t.id) <= (last.at, last.id) {
                return false;
            }
        }
        let ch = channel_index(t.channel);
        match t.direction {
            Direction::Outbound => {
                self.counts[ch][1] += 1;
                if let Some(since) = self.waiting_since.take() {
                    let ms = ms_between(since, t.timestamp);
                    self.our_reply_ms += ms;
                    self.our_replies += 1;
                    if self.waiting_run_is_first {
                        self.first_response_ms = Some(ms);
                    }
                }
                self.last_outbound_at = Some(t.timestamp);
                self.unanswered_inbound = 0;
            }
            Direction::Inbound => {
                if let Some(last) = self.last.filter(|l| l.direction == Direction::Outbound) {
                    self.answered += 1;
                    self.lead_reply_ms += ms_between(last.at, t.timestamp);
                }
                if self.waiting_since.is_none() {
                    self.waiting_since = Some(t.timestamp);
                    self.waiting_run_is_first = self.by_direction(Direction::Inbound) == 0;
                }
                self.counts[ch][0] += 1;
                self.last_inbound_at = Some(t.timestamp);
                self.unanswered_inbound += 1;
                self.last_inbound[ch] = Some((t.timestamp, t.id));
                let local = zone.local(t.timestamp);
                self.hours[local.hour() as usize] += 1;
                if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) {
                    self.weekend += 1;
                }
                if let Some(s) = t.sentiment_score.filter(|s| s.is_finite()) {
                    self.scores.push(s);
                }
            }
        }
        if is_rated(t) {
            let rated = Rated {
                at: t.timestamp,
                id: t.id,
                channel: t.channel,
                direction: t.direction,
                sentiment: t.sentiment,
                // a score that is not finite is read as no score everywhere
                score: t.sentiment_score.filter(|s| s.is_finite()),
            };
            if t.direction == Direction::Inbound {
                self.rated_inbound = Some(rated);
            }
            self.rated = Some(rated);
        }
        let mark = Mark {
            at: t.timestamp,
            id: t.id,
            channel: t.channel,
            direction: t.direction,
        };
        self.first.get_or_insert(mark);
        self.last = Some(mark);
        true
    }

    /// The inbound channel used most, ties to the most recently used (no forms).
    pub fn preferred_inbound_channel(&self) -> Option<Channel> {
        Channel::ALL
            .iter()
            .enumerate()
            .filter(|(_, &c)| c != Channel::Form)
            .filter(|(i, _)| self.counts[*i][0] > 0)
            .max_by_key(|(i, _)| (self.counts[*i][0], self.last_inbound[*i]))
            .map(|(_, &c)| c)
    }
}

/// The most recent `window` touches of `touches` (any order), in time order.
pub fn recent(touches: &[Touch], window: usize) -> Vec<&Touch> {
    let sorted = sorted(touches);
    let from = sorted.len().saturating_sub(window);
    sorted[from..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel::{Chat, Email, PhoneCall, Sms};
    use crate::domain::Direction::{Inbound as In, Outbound as Out};
    use crate::tracker::test_support::*;

    #[test]
    fn folding_one_by_one_equals_folding_at_once_and_refuses_the_past() {
        let touches = seed_004();
        let whole = Aggregate::of(&touches, Zone::default());
        let mut agg = Aggregate::default();
        for t in &touches {
            assert!(agg.fold(t, Zone::default()));
        }
        assert_eq!(agg, whole);
        let before = agg.clone();
        assert!(!agg.fold(&touches[3], Zone::default()));
        assert_eq!(agg, before);
        assert_eq!(agg.total(), 23);
        assert_eq!(agg.by_direction(In), 12);
        assert_eq!(agg.answered, 6);
    }

    #[test]
    fn preferred_channel_ties_go_to_the_latest_and_forms_never_win() {
        let agg = Aggregate::of(
            &[
                t(0, Sms, In),
                t(1, Email, In),
                t(2, Email, In),
                t(3, Sms, In),
                t(4, Channel::Form, In),
                t(5, Channel::Form, In),
                t(6, Channel::Form, In),
                t(7, PhoneCall, Out),
            ],
            Zone::default(),
        );
        assert_eq!(agg.preferred_inbound_channel(), Some(Sms));
        let none = Aggregate::of(&[t(0, Chat, Out)], Zone::default());
        assert_eq!(none.preferred_inbound_channel(), None);
    }

    #[test]
    fn aggregate_reads_back_from_json() {
        let mut touches = seed_004();
        touches[5] = sent(touches[5].clone(), SentimentLabel::Negative, -0.5);
        let agg = Aggregate::of(&touches, Zone::parse("America/Chicago").unwrap());
        let back: Aggregate = serde_json::from_value(serde_json::to_value(&agg).unwrap()).unwrap();
        assert_eq!(
            back,
            Aggregate {
                scores: vec![],
                ..agg.clone()
            }
        );
        assert_eq!(agg.scores, vec![-0.5]);
    }

    use proptest::prelude::*;

    /// A random touch: minutes from `base()` in a small range (ties on purpose), any
    /// channel and direction, sometimes a label and/or a score (sometimes not finite).
    /// Minutes, channel index, outbound, label (0: none), score, AI.
    type Spec = (i64, usize, bool, u8, Option<f32>, bool);

    fn touch_strategy() -> impl Strategy<Value = Spec> {
        (
            0i64..(40 * 24 * 60),
            0usize..5,
            any::<bool>(),
            0u8..4,
            prop_oneof![
                Just(None),
                (-1.0f32..1.0).prop_map(Some),
                Just(Some(f32::NAN))
            ],
            any::<bool>(),
        )
    }

    fn build(spec: &[Spec]) -> Vec<Touch> {
        spec.iter()
            .enumerate()
            .map(|(i, &(min, ch, out, label, score, ai))| {
                let mut touch = tid(
                    i as i64 + 1,
                    min,
                    Channel::ALL[ch],
                    if out { Out } else { In },
                );
                touch.sentiment = match label {
                    1 => Some(SentimentLabel::Positive),
                    2 => Some(SentimentLabel::Neutral),
                    3 => Some(SentimentLabel::Negative),
                    _ => None,
                };
                touch.sentiment_score = score;
                touch.ai_generated = ai;
                touch
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Touches arriving in random order, folded as the recording path does (refolding
        /// from scratch when one arrives before the last): the same aggregate as the whole
        /// history at once, and the same insights as the full computation of old.
        #[test]
        fn incremental_aggregate_and_insights_equal_the_full_computation(
            spec in proptest::collection::vec(touch_strategy(), 0..260),
            zone in prop_oneof![Just("UTC"), Just("America/New_York"), Just("+05:30")],
            now_min in 0i64..(60 * 24 * 60),
            status in 0usize..4,
        ) {
            let zone = Zone::parse(zone).unwrap();
            let touches = build(&spec);
            let mut agg = Aggregate::default();
            let mut seen: Vec<Touch> = vec![];
            for t in &touches {
                seen.push(t.clone());
                if !agg.fold(t, zone) {
                    agg = Aggregate::of(&seen, zone);
                }
            }
            prop_assert_eq!(&agg, &Aggregate::of(&touches, zone));
            let mut facts = named("Pat");
            facts.status = [None, Some(crate::domain::LeadStatus::Contacted),
                Some(crate::domain::LeadStatus::Quoted), Some(crate::domain::LeadStatus::Won)][status];
            let now = at(now_min);
            let page = recent(&touches, crate::tracker::SCORE_WINDOW);
            let fast = crate::tracker::analyze_from(&facts, &agg, &page, now);
            let reference = crate::tracker::reference::analyze_json(&facts, &touches, zone, now);
            prop_assert_eq!(serde_json::to_value(&fast).unwrap(), reference);
        }
    }
}
