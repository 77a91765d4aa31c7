//! Plain data the tracker reasons over: a lead's known facts and its touches.
use crate::domain::{Channel, Direction, LeadProfile, LeadStatus, SentimentLabel};
use chrono::{DateTime, Utc};

/// One communication, as the tracker sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Touch {
    pub id: i64,
    pub timestamp: DateTime<Utc>,
    pub channel: Channel,
    pub direction: Direction,
    pub sentiment: Option<SentimentLabel>,
    pub sentiment_score: Option<f32>,
    pub ai_generated: bool,
    pub duration_seconds: Option<i32>,
}

/// What the scoring and the next action read about a lead: its profile and where it stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFacts {
    pub profile: LeadProfile,
    pub status: Option<LeadStatus>, // None = new
}
