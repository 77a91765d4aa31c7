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

/// An account (a roofing business): every row and query is scoped by one. A type of its
/// own, so an account can never be passed where a lead or message id is meant.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type,
)]
#[serde(transparent)]
#[sqlx(transparent)]
pub struct AccountId(pub i64);

impl std::fmt::Display for AccountId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    PhoneCall,
    Chat,
    /// A submitted web form, ad lead form or marketplace lead (always inbound).
    Form,
}
impl Channel {
    pub const ALL: [Channel; 5] = [
        Channel::Email,
        Channel::Sms,
        Channel::PhoneCall,
        Channel::Chat,
        Channel::Form,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::PhoneCall => "phone_call",
            Channel::Chat => "chat",
            Channel::Form => "form",
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

/// An email address as leads are matched on: lower-cased, checked once (`Email::parse`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// From `jane@x.com` or `Jane Doe <Jane@X.com>`; `None` when it is not an address.
    pub fn parse(raw: &str) -> Option<Self> {
        crate::phone::normalize_email(raw).map(Self)
    }
}

/// A phone number as leads are matched on: E.164, checked once (`Phone::parse`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// `raw` read in `region` when it has no country code; `None` when not a valid number.
    pub fn parse(raw: &str, region: phonenumber::country::Id) -> Option<Self> {
        crate::phone::normalize_phone(raw, region).map(Self)
    }
}

macro_rules! text_newtype {
    ($($t:ty),*) => {$(
        impl std::ops::Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
    )*};
}
text_newtype!(Email, Phone);

/// Normalized identity: what find-or-create matches on. The email and phone can only be
/// made by parsing, so a lookup never runs on an unnormalized key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Identity {
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub property_address: Option<String>,
}

impl Identity {
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_and_phones_exist_only_normalized() {
        let e = Email::parse(" Jane Doe <Jane@X.com> ").unwrap();
        assert_eq!(&*e, "jane@x.com");
        assert_eq!(Email::parse("not an address"), None);
        let p = Phone::parse("(312) 641-2278", phonenumber::country::Id::US).unwrap();
        assert_eq!(p.to_string(), "+13126412278");
        assert_eq!(Phone::parse("12", phonenumber::country::Id::US), None);
        let who = Identity {
            phone: Some(p),
            ..Identity::default()
        };
        assert!(!who.is_empty());
    }
}
