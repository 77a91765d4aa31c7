//! Plain data the tracker reasons over: a lead's known facts and its touches.
use crate::domain::{Channel, Direction, LeadStatus, SentimentLabel};
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

/// What is known about a lead (fields of the `leads` row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LeadFacts {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    pub issues: Vec<String>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
    pub status: Option<LeadStatus>, // None = new
}
