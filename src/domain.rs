//! The crate's vocabulary, shared by every area: whose data (`AccountId`), which channel,
//! which way, how it felt, where the lead stands, what is known about a lead
//! (`LeadProfile`). Plain data with their text forms (as the database and the API spell
//! them); nothing here runs a query or serves a request.

use serde::{Deserialize, Serialize};

/// What is known about a lead, the fields every area reads: the extractor finds them in a
/// message, the leads table stores them, the scoring, the AI and the chat read them.
/// Deserializable with any field missing (a chat session's stored JSON).
#[derive(
    Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema, sqlx::FromRow,
)]
#[serde(default)]
pub struct LeadProfile {
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    /// Canonical issue tags, in a fixed order (staff may add their own).
    pub issues: Vec<String>,
    /// One of `asap`, `this_week`, `this_month`, `next_month`, `few_months`, `just_browsing`,
    /// or what staff typed.
    pub timeline: Option<String>,
    /// Normalized: `$12,000`, `under $10,000`, `$8,000-$10,000`.
    pub budget: Option<String>,
}

impl LeadProfile {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// An account (a roofing business): every row and query is scoped by one.
pub type AccountId = i64;

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

/// Normalized identity: what find-or-create matches on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub property_address: Option<String>,
}

impl Identity {
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }
}
