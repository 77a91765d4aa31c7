//! HomeAdvisor's JSON Lead Feed (<https://www.homeadvisor.com/r/feed>): HomeAdvisor posts
//! each lead assigned to the account as JSON (`name`, `firstName`, `lastName`, `address`,
//! `city`, `stateProvince`, `postalCode`, `primaryPhone`, `email`, `comments`, the job's
//! ids and task, interview answers), retries 3 times 15 minutes apart until it gets a 200
//! whose body holds the agreed success string (our answer carries `"status":"success"`).
//! The feed documents no authentication: the source's secret token in the URL is the key.
//! Retries are deduplicated on the lead's id (`leadOid`, else the job's `srOid`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::intake::{apply, bounded, digest, field_for, scalar_text, Submission};

/// Feed field → lead field.
const FIELDS: [(&str, &str); 12] = [
    ("name", "name"),
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("address", "address"),
    ("city", "city"),
    ("stateProvince", "region"),
    ("postalCode", "postal_code"),
    ("primaryPhone", "phone"),
    ("phone", "phone"),
    ("email", "email"),
    ("comments", "message"),
    ("leadDescription", "message"),
];

/// The lead of a feed post (pure). `overrides`: the source's own mapping, if any.
pub fn submission(payload: &Value, overrides: &BTreeMap<String, String>) -> Submission {
    let mut rest = payload.clone();
    if let Value::Object(m) = &mut rest {
        m.remove("interview");
    }
    // The source's pointers first, then the feed's names (a set field is never overwritten).
    let mut sub = apply(overrides, &rest, "homeadvisor");
    for (from, to) in FIELDS {
        if let Some(t) = payload.get(from).and_then(scalar_text) {
            sub.fields.set(to, &t);
        }
    }
    // Interview answers `[{question, answer}]`: a roof-age or timeline question fills its field.
    if let Some(Value::Array(items)) = payload.get("interview") {
        for item in items.iter().take(100) {
            let q = item.get("question").and_then(Value::as_str).unwrap_or("");
            let Some(a) = item.get("answer").and_then(scalar_text) else {
                continue;
            };
            match field_for(q) {
                Some(field) => sub.fields.set(field, &a),
                None if !q.is_empty() => sub.keep(q, Value::String(a)),
                None => {}
            }
        }
    }
    let id = |k: &str| {
        payload
            .get(k)
            .and_then(scalar_text)
            .filter(|s| !s.trim().is_empty())
    };
    for key in [
        "srOid",
        "leadOid",
        "taskName",
        "taskOid",
        "matchType",
        "fee",
        "spEntityId",
        "spCompanyName",
        "contactStatus",
    ] {
        if let Some(v) = id(key) {
            sub.provider_data
                .insert(key.into(), Value::String(bounded(&v, 500)));
        }
    }
    sub.attribution.campaign = id("taskName");
    sub.external_id = overrides
        .get("external_id")
        .and_then(|p| payload.pointer(p))
        .and_then(scalar_text)
        .or_else(|| id("leadOid"))
        .or_else(|| id("srOid"))
        .or_else(|| Some(digest(payload)));
    sub
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_feed_fields_map_to_the_lead() {
        let p = json!({
            "name": "Fancy Nancy", "firstName": "Fancy", "lastName": "Nancy",
            "address": "123 Main", "city": "USAville", "stateProvince": "PA",
            "postalCode": "12345", "primaryPhone": "5558675309", "email": "nancy@example.com",
            "srOid": 987654, "leadOid": 123456, "taskName": "Roof - Repair",
            "comments": "Shingles blew off in the storm",
            "interview": [{"question": "Roof age", "answer": "15"}, {"question": "Stories", "answer": "2"}]
        });
        let s = submission(&p, &BTreeMap::new());
        assert_eq!(s.provider, "homeadvisor");
        assert_eq!(s.fields.name.as_deref(), Some("Fancy Nancy"));
        assert_eq!(
            s.fields.full_address().as_deref(),
            Some("123 Main, USAville, PA 12345")
        );
        assert_eq!(s.fields.phone.as_deref(), Some("5558675309"));
        assert_eq!(
            s.fields.message.as_deref(),
            Some("Shingles blew off in the storm")
        );
        assert_eq!(s.fields.roof_age.as_deref(), Some("15"));
        assert_eq!(s.external_id.as_deref(), Some("123456"));
        assert_eq!(s.extra["Stories"], "2");
        assert_eq!(s.provider_data["srOid"], "987654");
    }
}
