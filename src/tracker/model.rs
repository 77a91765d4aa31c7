//! Plain data the tracker reasons over: a lead's known facts and its touches.
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    PhoneCall,
    Chat,
}
impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Email,
        Channel::Sms,
        Channel::PhoneCall,
        Channel::Chat,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::PhoneCall => "phone_call",
            Channel::Chat => "chat",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SentimentLabel {
    Positive,
    Neutral,
    Negative,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    Contacted,
    InspectionScheduled,
    Inspected,
    Quoted,
    Won,
    Lost,
}

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

// ---- Additions of the main crate: text forms used by the database and the API. ----

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

impl std::str::FromStr for Channel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or(())
    }
}

impl std::str::FromStr for Direction {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "inbound" => Ok(Direction::Inbound),
            "outbound" => Ok(Direction::Outbound),
            _ => Err(()),
        }
    }
}

impl SentimentLabel {
    pub fn as_str(&self) -> &'static str {
        match self {
            SentimentLabel::Positive => "positive",
            SentimentLabel::Neutral => "neutral",
            SentimentLabel::Negative => "negative",
        }
    }
}

impl LeadStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "new" => LeadStatus::New,
            "contacted" => LeadStatus::Contacted,
            "inspection_scheduled" => LeadStatus::InspectionScheduled,
            "inspected" => LeadStatus::Inspected,
            "quoted" => LeadStatus::Quoted,
            "won" => LeadStatus::Won,
            "lost" => LeadStatus::Lost,
            _ => return None,
        })
    }
}
