//! Angi's Lead Integration API
//! (<https://intercom.help/angi/en/articles/15304819-angi-lead-integration-api>): Angi
//! posts each new lead as JSON to the partner's endpoint, authenticated by the one
//! mechanism it documents, the partner's key in an `x-api-key` header (checked by the
//! intake when the source has a secret), and expects a 200 with a JSON body. The lead's
//! fields are read by their names (nested objects too), with the source's own mapping
//! first; the lead's id (`leadId`/`leadOid`/`id`, or a digest of the body) dedupes retries.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::intake::{scalar_text, Submission};

/// The lead of an Angi post (pure). `mapping`: the source's own pointers, if any.
pub fn submission(payload: &Value, mapping: &BTreeMap<String, String>) -> Submission {
    let mapped_id = mapping.contains_key("external_id");
    let mut sub = crate::intake::apply(mapping, payload, "angi");
    if !mapped_id {
        let id = ["leadId", "leadOid", "lead_id", "id"]
            .iter()
            .find_map(|k| payload.get(*k).and_then(scalar_text))
            .filter(|s| !s.trim().is_empty());
        if let Some(id) = id {
            sub.external_id = Some(id);
        }
    }
    sub
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lead_is_read_by_its_field_names_and_id() {
        let p = json!({"leadId": "A-1", "customer": {"firstName": "Sam", "lastName": "Lee",
            "email": "sam@example.com", "phone": "3126412278"}, "comments": "roof leak"});
        let s = submission(&p, &BTreeMap::new());
        assert_eq!(s.provider, "angi");
        assert_eq!(s.external_id.as_deref(), Some("A-1"));
        assert_eq!(s.fields.full_name().as_deref(), Some("Sam Lee"));
        assert_eq!(s.fields.message.as_deref(), Some("roof leak"));
    }
}
