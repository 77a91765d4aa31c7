//! Leads from outside sources: the account's web forms, Google Ads and Facebook lead
//! forms, lead marketplaces and any JSON sender (Zapier, Make) through a field mapping.
//!
//! Every source turns what it receives into one [`Submission`] (the shared lead fields,
//! the source's own lead id, attribution, the rest as metadata) and hands it to
//! [`deliver`], the one function that builds the `form` communication and records it
//! through `communications::record` (so a re-delivered lead is a duplicate, never a
//! second row), then fills lead details the lead still lacks.

pub mod config;
pub mod facebook;
pub mod form;
pub mod generic;
pub mod google_ads;
pub mod graph;
pub mod marketplaces;
pub mod sources;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::communications::{self, LeadRef, NewCommunication};
use crate::domain::{Channel, Direction, Email, Identity, Phone};
use crate::error::{ApiError, Result};
use crate::state::AppState;

use sources::Source;

/// The channel every source records on.
pub const CHANNEL: Channel = Channel::Form;

/// Fields kept in `metadata.fields` beyond the mapped ones, at most.
pub const MAX_EXTRA_FIELDS: usize = 60;
/// Longest value of one extra field kept (characters).
pub const MAX_EXTRA_CHARS: usize = 2_000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(sources::router())
        .merge(form::router())
        .merge(google_ads::router())
        .merge(facebook::router())
        .merge(generic::router())
}

/// The lead fields every source maps into (each as the sender wrote it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct LeadFields {
    pub name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The whole address, or its street line when city/region/postal code come apart.
    pub address: Option<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub message: Option<String>,
    pub roof_age: Option<String>,
    pub issues: Option<String>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
}

/// The lead field a sender's field name means, by its common spellings (`Full Name`,
/// `first-name`, `phone_number`, `zip_code`…); `None` for anything else.
pub fn field_for(name: &str) -> Option<&'static str> {
    let key: String = name
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    Some(match key.as_str() {
        "name" | "fullname" | "yourname" | "contactname" | "customername" => "name",
        "firstname" | "fname" | "givenname" => "first_name",
        "lastname" | "lname" | "surname" | "familyname" => "last_name",
        "email" | "emailaddress" | "youremail" | "mail" => "email",
        "phone" | "phonenumber" | "tel" | "telephone" | "mobile" | "mobilephone" | "cellphone"
        | "primaryphone" | "yourphone" => "phone",
        "address" | "streetaddress" | "street" | "address1" | "addressline1"
        | "propertyaddress" => "address",
        "city" | "town" => "city",
        "state" | "region" | "province" | "stateprovince" => "region",
        "zip" | "zipcode" | "postalcode" | "postcode" | "postal" => "postal_code",
        "country" => "country",
        "message" | "comments" | "comment" | "notes" | "description" | "details"
        | "yourmessage" | "projectdescription" => "message",
        "roofage" | "roofageyears" | "ageofroof" | "howoldisyourroof" => "roof_age",
        "issues" | "issue" | "problem" | "problems" | "roofissues" | "service" => "issues",
        "timeline" | "timeframe" | "when" | "urgency" => "timeline",
        "budget" | "price" | "pricerange" => "budget",
        _ => return None,
    })
}

impl LeadFields {
    /// Sets the lead field `field` (a name [`field_for`] returns); blank values are ignored,
    /// and a field already set is kept.
    pub fn set(&mut self, field: &str, value: &str) {
        // Providers' NUL characters never reach a column (PostgreSQL refuses them).
        let value = value.replace('\0', "");
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let slot = match field {
            "name" => &mut self.name,
            "first_name" => &mut self.first_name,
            "last_name" => &mut self.last_name,
            "email" => &mut self.email,
            "phone" => &mut self.phone,
            "address" => &mut self.address,
            "city" => &mut self.city,
            "region" => &mut self.region,
            "postal_code" => &mut self.postal_code,
            "country" => &mut self.country,
            "message" => &mut self.message,
            "roof_age" => &mut self.roof_age,
            "issues" => &mut self.issues,
            "timeline" => &mut self.timeline,
            "budget" => &mut self.budget,
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(bounded(value, MAX_EXTRA_CHARS));
        }
    }

    /// The full name, or first and last name joined.
    pub fn full_name(&self) -> Option<String> {
        if let Some(n) = &self.name {
            return Some(n.clone());
        }
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }

    /// The address on one line: `123 Main St, Springfield, IL 62704`.
    pub fn full_address(&self) -> Option<String> {
        let region_zip: Vec<&str> = [&self.region, &self.postal_code]
            .into_iter()
            .flatten()
            .map(|s| s.as_str())
            .collect();
        let region_zip = (!region_zip.is_empty()).then(|| region_zip.join(" "));
        let parts: Vec<String> = [self.address.clone(), self.city.clone(), region_zip]
            .into_iter()
            .flatten()
            .collect();
        // A postal code alone is no address to visit.
        if self.address.is_none() && self.city.is_none() {
            return None;
        }
        Some(parts.join(", "))
    }
}

/// Where a lead came from (`source`, `campaign`, and what else tells: utm_*, gclid,
/// fbclid, page URL, referrer, ad ids).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Attribution {
    pub source: String,
    pub campaign: Option<String>,
    pub detail: Map<String, Value>,
}

/// What a source received, in the shared vocabulary.
#[derive(Debug, Clone)]
pub struct Submission {
    pub fields: LeadFields,
    /// `web_form`, `google_ads`, `facebook`, `homeadvisor`, `zapier`…
    pub provider: String,
    /// The source's own lead id: a re-delivery of it records nothing new.
    pub external_id: Option<String>,
    pub timestamp: Option<DateTime<Utc>>,
    pub tags: Vec<String>,
    pub attribution: Attribution,
    /// What else the sender sent (custom questions, ids), bounded.
    pub extra: Map<String, Value>,
    /// The provider's own facts of the lead (its ids, form, ad), kept under
    /// `metadata.<provider>`.
    pub provider_data: Map<String, Value>,
    /// A test lead of the provider: tagged `test` and flagged `metadata.test`.
    pub test: bool,
}

impl Submission {
    pub fn new(provider: &str) -> Self {
        Self {
            fields: LeadFields::default(),
            provider: provider.to_string(),
            external_id: None,
            timestamp: None,
            tags: vec![],
            attribution: Attribution {
                source: provider.to_string(),
                ..Attribution::default()
            },
            extra: Map::new(),
            provider_data: Map::new(),
            test: false,
        }
    }

    /// Keeps a field the lead fields have no place for (bounded in count and length).
    pub fn keep(&mut self, name: &str, value: Value) {
        let name = bounded(name.trim(), 200);
        if name.is_empty() || self.extra.len() >= MAX_EXTRA_FIELDS {
            return;
        }
        let value = match value {
            Value::String(s) => Value::String(bounded(&s, MAX_EXTRA_CHARS)),
            v @ (Value::Number(_) | Value::Bool(_) | Value::Null) => v,
            other => {
                let text = other.to_string();
                if text.chars().count() > MAX_EXTRA_CHARS {
                    Value::String(bounded(&text, MAX_EXTRA_CHARS))
                } else {
                    other
                }
            }
        };
        self.extra.entry(name).or_insert(value);
    }

    /// A field by its sender's name: a lead field when [`field_for`] knows the name, else kept.
    pub fn put(&mut self, name: &str, value: &str) {
        match field_for(name) {
            Some(field) => self.fields.set(field, value),
            None => self.keep(name, Value::String(value.to_string())),
        }
    }
}

/// Applies a mapping to a payload (pure): each mapped field from its JSON pointer, the
/// payload's plainly named fields for the rest, and, without an external id, a digest of
/// the payload as the dedupe key (a retried post is then the same lead).
pub fn apply(mapping: &BTreeMap<String, String>, payload: &Value, provider: &str) -> Submission {
    let mut sub = Submission::new(provider);
    for (field, pointer) in mapping {
        let Some(text) = payload
            .pointer(pointer)
            .and_then(scalar_text)
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
        else {
            continue;
        };
        match field.as_str() {
            "external_id" => sub.external_id = Some(bounded(&text, 500)),
            "campaign" => sub.attribution.campaign = Some(bounded(&text, 500)),
            "timestamp" => {
                sub.timestamp = DateTime::parse_from_rfc3339(&text)
                    .ok()
                    .map(|t| t.with_timezone(&Utc))
            }
            f => sub.fields.set(f, &text),
        }
    }
    // The rest by plain names; what the mapping took is not kept twice.
    let mut rest = payload.clone();
    for pointer in mapping.values() {
        if let Some((parent, key)) = pointer.rsplit_once('/') {
            if let Some(Value::Object(m)) = rest.pointer_mut(parent) {
                m.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
        }
    }
    auto_map(&mut sub, &rest);
    if sub.external_id.is_none() {
        sub.external_id = Some(digest(payload));
    }
    sub
}

/// `sha256:<hex>` of the payload: the same body twice is one lead.
pub fn digest(payload: &Value) -> String {
    let bytes = serde_json::to_vec(payload).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
}

/// Maps a JSON payload by its field names (pure): every scalar whose name is a lead
/// field's common spelling fills that field, nested objects are read too (a `customer`
/// object), everything else is kept. For senders whose fields are named plainly.
pub fn auto_map(sub: &mut Submission, payload: &Value) {
    fn walk(sub: &mut Submission, prefix: &str, v: &Value, depth: usize) {
        let Value::Object(map) = v else { return };
        for (k, v) in map {
            let label = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                Value::Object(_) if depth < 3 => walk(sub, &label, v, depth + 1),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => match field_for(k) {
                    Some(field) => {
                        if let Some(t) = scalar_text(v) {
                            sub.fields.set(field, &t)
                        }
                    }
                    None => sub.keep(&label, v.clone()),
                },
                Value::Null => {}
                other => sub.keep(&label, other.clone()),
            }
        }
    }
    walk(sub, "", payload, 0);
}

/// A scalar as text (`["a","b"]` → `a, b`); `None` for objects and null.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(scalar_text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => None,
    }
}

/// The first `max` characters of `s`.
pub fn bounded(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The outcome of a delivery.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivered {
    pub communication_id: i64,
    pub lead_id: i64,
    /// The source's lead id was recorded before: nothing new was stored.
    pub duplicate: bool,
}

/// The lead's identity from the fields; a 422 naming the field when neither an email nor
/// a phone number is usable (a lead is found and created by those).
pub fn identity(fields: &LeadFields, region: phonenumber::country::Id) -> Result<Identity> {
    let who = Identity {
        name: fields.full_name().map(|n| bounded(&n, 200)),
        email: fields.email.as_deref().and_then(Email::parse),
        phone: fields
            .phone
            .as_deref()
            .and_then(|p| Phone::parse(p, region)),
        property_address: fields.full_address().map(|a| bounded(&a, 500)),
    };
    if who.is_empty() {
        let field = match (&fields.email, &fields.phone) {
            (Some(_), _) => "email: not a valid email address (and no valid phone number given)",
            (None, Some(_)) => "phone: not a valid phone number (and no email given)",
            (None, None) => "email: give an email address or a phone number",
        };
        return Err(ApiError::invalid(field));
    }
    Ok(who)
}

/// Builds the submission's `form` communication, records it, and fills the lead's details
/// it lacks (never overwriting). The one way every source stores a lead.
#[tracing::instrument(skip_all, fields(account = %source.account_id, source = source.id, provider = %sub.provider))]
pub async fn deliver(state: &AppState, source: &Source, sub: Submission) -> Result<Delivered> {
    let who = identity(&sub.fields, state.config.default_region)?;
    let new = communication(source, &sub, who);
    let recorded = communications::record(state, source.account_id, new).await?;
    let c = &recorded.communication;
    if !recorded.duplicate {
        fill_details(state, source, c.lead_id, &sub.fields).await?;
        sources::count_lead(&state.pool, source).await?;
    }
    Ok(Delivered {
        communication_id: c.id,
        lead_id: c.lead_id,
        duplicate: recorded.duplicate,
    })
}

/// Whether a verified sender's lead that failed this way is quarantined (kept and answered
/// 2xx) rather than refused: it cannot be stored as it is, and a retry would fail alike.
pub fn quarantinable(e: &ApiError) -> bool {
    matches!(e, ApiError::Unprocessable(..) | ApiError::BadRequest(..))
}

/// Keeps what a verified sender sent that cannot be stored as it is (no usable email or
/// phone, a mapping that finds nothing…) in the quarantine, with the source it came
/// through: nothing is lost, the sender stops retrying, and a person can fix the source
/// (its mapping) and retry it.
pub async fn quarantine(
    state: &AppState,
    source: &Source,
    raw: &[u8],
    error: &ApiError,
    mut context: Value,
) -> Result<i64> {
    tracing::warn!(source = source.id, error = %error, "a lead was quarantined");
    context["source_id"] = json!(source.id);
    context["kind"] = json!(source.kind);
    context["summary"] = json!(format!("a lead from {}", source.name));
    crate::quarantine::put(
        &state.pool,
        crate::quarantine::Item {
            account: Some(source.account_id),
            source: crate::quarantine::Source::LeadSource,
            integration_id: None,
            reason: crate::error::describe(error),
            raw,
            context,
            identity: None,
        },
    )
    .await
}

/// Retries a quarantined lead: its body read again by its source's mapper (with the
/// source's settings as they are now) and delivered. `stored` or `duplicate`.
pub async fn retry_quarantined(
    state: &AppState,
    item: &crate::quarantine::Stored,
) -> Result<&'static str> {
    let gone = || {
        ApiError::Conflict(
            "source_gone",
            "the lead source this lead came through is gone: add it again".into(),
        )
    };
    let source_id = item.context["source_id"].as_i64().ok_or_else(gone)?;
    let source = sources::of_quarantined(&state.pool, item.id, source_id)
        .await?
        .ok_or_else(gone)?;
    let sub = match source.kind.as_str() {
        "google_ads" => {
            let payload: Value = serde_json::from_slice(&item.raw)
                .map_err(|e| ApiError::invalid(format!("body: not valid JSON: {e}")))?;
            google_ads::submission(&payload)?
        }
        "facebook" => {
            let lead =
                graph::read_answer(200, &item.raw).map_err(|e| ApiError::invalid(e.to_string()))?;
            let leadgen_id = item.context["leadgen_id"].as_str().unwrap_or_default();
            facebook::submission(&lead, leadgen_id, &item.context["notification"])
        }
        _ => {
            let ct = item.context["content_type"]
                .as_str()
                .unwrap_or("application/json");
            generic::submission_for(&source, &generic::payload_of(ct, &item.raw)?)?
        }
    };
    let d = deliver(state, &source, sub).await?;
    Ok(if d.duplicate { "duplicate" } else { "stored" })
}

/// The communication of a submission (pure).
pub fn communication(source: &Source, sub: &Submission, who: Identity) -> NewCommunication {
    let mut new = NewCommunication::new(LeadRef::Identity(who), CHANNEL, Direction::Inbound);
    new.timestamp = sub.timestamp.filter(|t| *t <= Utc::now());
    new.from_address = sub
        .fields
        .email
        .clone()
        .or_else(|| sub.fields.phone.clone())
        .map(|a| bounded(&a, 500));
    new.subject = Some(bounded(&source.name, 1000));
    new.content = sub.fields.message.clone();
    let mut metadata = json!({
        "source": {"id": source.id, "kind": source.kind, "name": source.name},
        "lead_fields": sub.fields,
        "fields": sub.extra,
        "attribution": sub.attribution,
    });
    if !sub.provider_data.is_empty() {
        metadata[sub.provider.as_str()] = Value::Object(sub.provider_data.clone());
    }
    new.tags = sub.tags.clone();
    if sub.test {
        metadata["test"] = Value::Bool(true);
        new.tags.push("test".into());
    }
    new.metadata = metadata;
    new.provider = Some(bounded(&sub.provider, 50));
    new.provider_message_id = sub
        .external_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| bounded(s, 500));
    new.attribution = Some(lead_attribution(&sub.attribution));
    new
}

/// The lead's attribution (bounded by `leads::attribution`): set when the writer creates
/// the lead, or on a lead that had none.
fn lead_attribution(a: &Attribution) -> crate::leads::attribution::Attribution {
    let text = |k: &str| a.detail.get(k).and_then(Value::as_str);
    // The page and referrer read as the widget's are (landing page without its query,
    // referrer host, the page's UTM parameters); what the sender stated explicitly wins.
    let mut out = crate::leads::attribution::Attribution::new(&a.source)
        .with_campaign(a.campaign.as_deref())
        .with_page(text("page_url").or(text("landing_page")), text("referrer"));
    for (k, v) in &a.detail {
        if matches!(k.as_str(), "page_url" | "landing_page" | "referrer") {
            continue;
        }
        if let Some(t) = scalar_text(v) {
            out.set(k, &t);
        }
    }
    out
}

/// The lead details a submission states, read the way the extractor reads them.
#[derive(Debug, Default, PartialEq)]
pub struct Details {
    pub roof_age_years: Option<i32>,
    pub issues: Vec<String>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
}

/// Roof age, issues, timeline and budget from the fields (pure): numbers as given, words
/// through the extractor (`about 20 years`, `leak, missing shingles`, `ASAP`, `$10k`), and
/// what it cannot read kept as written.
pub fn details(fields: &LeadFields, region: phonenumber::country::Id, now_year: i32) -> Details {
    let ex = |v: &str| crate::tracker::extract::extract(v, region, now_year);
    let roof_age_years = fields.roof_age.as_deref().and_then(|v| {
        let digits: String = v
            .trim()
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(|c| c.is_ascii_digit())
            .collect();
        match digits.parse::<i32>().ok() {
            Some(n) if (0..=200).contains(&n) => Some(n),
            Some(y) if (1900..=now_year).contains(&y) => Some(now_year - y),
            _ => ex(&format!("the roof is {v} old")).roof_age_years,
        }
    });
    let issues = fields
        .issues
        .as_deref()
        .map(|v| {
            let found = ex(v).issues;
            if !found.is_empty() {
                return found;
            }
            v.split([',', ';', '\n'])
                .map(|s| bounded(s.trim(), 100).to_lowercase())
                .filter(|s| !s.is_empty())
                .take(10)
                .collect()
        })
        .unwrap_or_default();
    let timeline = fields
        .timeline
        .as_deref()
        .map(|v| ex(v).timeline.unwrap_or_else(|| bounded(v, 100)));
    let budget = fields.budget.as_deref().map(|v| {
        let v2 = if v.chars().all(|c| c.is_ascii_digit() || c == ',') {
            format!("${v}")
        } else {
            v.to_string()
        };
        ex(&format!("budget {v2}"))
            .budget
            .unwrap_or_else(|| bounded(v, 100))
    });
    Details {
        roof_age_years,
        issues,
        timeline,
        budget,
    }
}

/// Fills the lead's roof age, issues, timeline and budget where they are still empty.
async fn fill_details(
    state: &AppState,
    source: &Source,
    lead_id: i64,
    fields: &LeadFields,
) -> Result<()> {
    let d = details(fields, state.config.default_region, Utc::now().year());
    if d == Details::default() {
        return Ok(());
    }
    sqlx::query(
        "update leads set
             roof_age_years = coalesce(roof_age_years, $3),
             issues = case when cardinality(issues) = 0 then $4 else issues end,
             timeline = coalesce(timeline, $5),
             budget = coalesce(budget, $6),
             updated_at = now()
         where account_id = $1 and id = $2",
    )
    .bind(source.account_id)
    .bind(lead_id)
    .bind(d.roof_age_years)
    .bind(&d.issues)
    .bind(&d.timeline)
    .bind(&d.budget)
    .execute(&state.pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_in_their_common_spellings_map_to_lead_fields() {
        for (name, field) in [
            ("Full Name", Some("name")),
            ("first-name", Some("first_name")),
            ("LAST_NAME", Some("last_name")),
            ("phone_number", Some("phone")),
            ("zip_code", Some("postal_code")),
            ("post_code", Some("postal_code")),
            ("STREET_ADDRESS", Some("address")),
            ("stateProvince", Some("region")),
            ("roof_age", Some("roof_age")),
            ("utm_source", None),
            ("favorite_color", None),
        ] {
            assert_eq!(field_for(name), field, "{name}");
        }
    }

    #[test]
    fn names_and_addresses_are_joined_from_their_parts() {
        let mut f = LeadFields::default();
        f.set("first_name", "Jane");
        f.set("last_name", " Doe ");
        f.set("address", "12 Oak St");
        f.set("city", "Springfield");
        f.set("region", "IL");
        f.set("postal_code", "62704");
        assert_eq!(f.full_name().as_deref(), Some("Jane Doe"));
        assert_eq!(
            f.full_address().as_deref(),
            Some("12 Oak St, Springfield, IL 62704")
        );
        let only_zip = LeadFields {
            postal_code: Some("62704".into()),
            ..LeadFields::default()
        };
        assert_eq!(only_zip.full_address(), None);
    }

    #[test]
    fn a_lead_without_email_or_phone_is_refused_naming_the_field() {
        let f = LeadFields {
            email: Some("not-an-email".into()),
            ..LeadFields::default()
        };
        let e = identity(&f, phonenumber::country::Id::US).unwrap_err();
        assert!(e.to_string().starts_with("email:"), "{e}");
        let f = LeadFields {
            phone: Some("(312) 641-2278".into()),
            ..LeadFields::default()
        };
        let who = identity(&f, phonenumber::country::Id::US).unwrap();
        assert_eq!(who.phone.unwrap().to_string(), "+13126412278");
    }

    #[test]
    fn details_read_numbers_and_words() {
        let f = LeadFields {
            roof_age: Some("about 22 years".into()),
            issues: Some("leak, missing shingles".into()),
            timeline: Some("ASAP".into()),
            budget: Some("12000".into()),
            ..LeadFields::default()
        };
        let d = details(&f, phonenumber::country::Id::US, 2026);
        assert_eq!(d.roof_age_years, Some(22));
        assert!(!d.issues.is_empty());
        assert_eq!(d.timeline.as_deref(), Some("asap"));
        assert_eq!(d.budget.as_deref(), Some("$12,000"));
        let f = LeadFields {
            roof_age: Some("2004".into()),
            ..LeadFields::default()
        };
        assert_eq!(
            details(&f, phonenumber::country::Id::US, 2026).roof_age_years,
            Some(22)
        );
    }

    #[test]
    fn the_leads_attribution_reads_the_page_like_the_widgets() {
        let mut detail = Map::new();
        detail.insert(
            "page_url".into(),
            json!("https://acme.test/quote?utm_source=fb&utm_campaign=page&email=x"),
        );
        detail.insert(
            "referrer".into(),
            json!("https://www.google.com/search?q=roof"),
        );
        detail.insert("utm_campaign".into(), json!("stated"));
        let a = lead_attribution(&Attribution {
            source: "web_form".into(),
            campaign: Some("stated".into()),
            detail,
        });
        assert_eq!(a.campaign.as_deref(), Some("stated"));
        assert_eq!(a.detail["landing_page"], "https://acme.test/quote");
        assert_eq!(a.detail["utm_source"], "fb");
        assert_eq!(a.detail["utm_campaign"], "stated");
        assert_eq!(a.detail["referrer_host"], "www.google.com");
        assert!(!a.detail.contains_key("page_url"));
    }

    #[test]
    fn nul_characters_never_reach_a_field() {
        let mut f = LeadFields::default();
        f.set("timeline", "as\0ap\0");
        assert_eq!(f.timeline.as_deref(), Some("asap"));
    }

    #[test]
    fn extra_fields_are_bounded() {
        let mut s = Submission::new("web_form");
        for i in 0..100 {
            s.put(&format!("q{i}"), &"x".repeat(5000));
        }
        assert_eq!(s.extra.len(), MAX_EXTRA_FIELDS);
        assert_eq!(
            s.extra["q0"].as_str().unwrap().chars().count(),
            MAX_EXTRA_CHARS
        );
    }
}
