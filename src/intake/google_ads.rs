//! Google Ads lead form webhook: `POST /webhooks/google-ads/{source_token}`.
//!
//! The payload is Google's documented `WebhookLead` JSON
//! (<https://developers.google.com/google-ads/webhook/docs/implementation>): `lead_id`,
//! `api_version`, `form_id`, `campaign_id`, `adgroup_id`, `creative_id`, `gcl_id`,
//! `google_key`, `is_test` and `user_column_data[{column_id, string_value, column_name}]`
//! (standard column ids such as `FULL_NAME`, `EMAIL`, `PHONE_NUMBER`, `POSTAL_CODE`, plus
//! custom questions). Google signs nothing: each request carries the `google_key` the
//! advertiser set in the form, compared here in constant time with the source's sealed
//! key. Deduplicated on `lead_id`; test leads (`is_test`, sent by the form's "Send test
//! data" button) are recorded, tagged `test` and flagged in the metadata.

use axum::body::Bytes;
use axum::extract::State;
use serde::Serialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

use super::sources;
use super::Submission;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook))
}

/// The lead field a Google column id fills (`None`: kept as a custom answer).
pub fn column_field(column_id: &str) -> Option<&'static str> {
    Some(match column_id {
        "FULL_NAME" => "name",
        "FIRST_NAME" => "first_name",
        "LAST_NAME" => "last_name",
        "EMAIL" | "WORK_EMAIL" => "email",
        "PHONE_NUMBER" | "WORK_PHONE" => "phone",
        "STREET_ADDRESS" => "address",
        "CITY" => "city",
        "REGION" => "region",
        "POSTAL_CODE" => "postal_code",
        "COUNTRY" => "country",
        _ => return None,
    })
}

/// A JSON id that Google sends as a number (int64) or, in some clients, as a string.
fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The key the request claims, if any.
pub fn google_key(payload: &Value) -> Option<&str> {
    payload.get("google_key").and_then(Value::as_str)
}

/// The lead of a Google payload (pure); a 422 naming the field when it is not one.
pub fn submission(payload: &Value) -> Result<Submission> {
    let Value::Object(p) = payload else {
        return Err(ApiError::invalid("body: expected a JSON object"));
    };
    let lead_id =
        id_text(p.get("lead_id")).ok_or_else(|| ApiError::invalid("lead_id: required"))?;
    let mut sub = Submission::new("google_ads");
    sub.external_id = Some(lead_id.clone());
    sub.test = p.get("is_test").and_then(Value::as_bool).unwrap_or(false);
    let columns = match p.get("user_column_data") {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(c)) => c.as_slice(),
        Some(_) => return Err(ApiError::invalid("user_column_data: expected an array")),
    };
    for (i, col) in columns.iter().enumerate().take(200) {
        let id = col.get("column_id").and_then(Value::as_str).unwrap_or("");
        let name = col.get("column_name").and_then(Value::as_str);
        let Some(value) = col.get("string_value").and_then(Value::as_str) else {
            continue;
        };
        match column_field(id) {
            Some(field) => sub.fields.set(field, value),
            None => {
                // A custom question: its text when Google gave it, else its id.
                let label = name
                    .filter(|n| !n.trim().is_empty())
                    .map(str::to_string)
                    .or_else(|| (!id.is_empty()).then(|| id.to_string()))
                    .unwrap_or_else(|| format!("column_{i}"));
                match super::field_for(&label).or_else(|| super::field_for(id)) {
                    Some(field) => sub.fields.set(field, value),
                    None => sub.keep(&label, Value::String(value.to_string())),
                }
            }
        }
    }
    let mut data = Map::new();
    data.insert("lead_id".into(), Value::String(lead_id));
    for key in [
        "api_version",
        "form_id",
        "campaign_id",
        "adgroup_id",
        "creative_id",
        "asset_group_id",
        "gcl_id",
    ] {
        if let Some(v) = id_text(p.get(key)) {
            data.insert(key.into(), Value::String(super::bounded(&v, 500)));
        }
    }
    data.insert("is_test".into(), Value::Bool(sub.test));
    sub.attribution.campaign = data
        .get("campaign_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    for (from, to) in [
        ("campaign_id", "campaign_id"),
        ("adgroup_id", "adgroup_id"),
        ("creative_id", "creative_id"),
        ("form_id", "form_id"),
        ("gcl_id", "gclid"),
    ] {
        if let Some(v) = data.get(from) {
            sub.attribution.detail.insert(to.into(), v.clone());
        }
    }
    sub.provider_data = data;
    Ok(sub)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadAccepted {
    pub ok: bool,
    /// The lead was delivered before (the same `lead_id`): nothing new was stored.
    pub duplicate: bool,
    /// The recorded communication (none when quarantined).
    pub communication_id: Option<i64>,
    /// The lead could not be stored as it is (no email or phone…): it is kept in the
    /// quarantine (`GET /api/quarantine`) to be fixed and retried, and Google need not retry.
    pub quarantined: bool,
}

/// Receives a lead from a Google Ads lead form. 200 once recorded (or when it already
/// was, or quarantined when it cannot be stored as it is); 401 without a `google_key`, 403
/// when it is not the source's.
#[utoipa::path(post, path = "/webhooks/google-ads/{source_token}", tag = "lead sources",
    params(("source_token" = String, Path, description = "the google_ads source's token")),
    request_body(content = Object, description = "Google's WebhookLead JSON"),
    responses((status = 200, body = LeadAccepted),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
async fn webhook(
    State(state): State<AppState>,
    Path(source_token): Path<String>,
    body: Bytes,
) -> Result<Json<LeadAccepted>> {
    let source = sources::by_token(&state.pool, &source_token, &["google_ads"])
        .await?
        .ok_or(ApiError::NotFound("lead source"))?;
    let payload: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest("invalid_json", format!("body: not valid JSON: {e}")))?;
    let claimed =
        google_key(&payload).ok_or_else(|| ApiError::Unauthorized("google_key: missing".into()))?;
    let expected = source.secret(&state)?.unwrap_or_default();
    let same: bool = expected.as_bytes().ct_eq(claimed.as_bytes()).into();
    if expected.is_empty() || !same {
        tracing::warn!(
            source = source.id,
            "a Google Ads lead with a wrong google_key"
        );
        return Err(ApiError::Forbidden(
            "google_key: does not match this lead source's key".into(),
        ));
    }
    let outcome = match submission(&payload) {
        Ok(sub) => super::deliver(&state, &source, sub).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(d) => Ok(Json(LeadAccepted {
            ok: true,
            duplicate: d.duplicate,
            communication_id: Some(d.communication_id),
            quarantined: false,
        })),
        Err(e) if super::quarantinable(&e) => {
            super::quarantine(&state, &source, &body, &e, serde_json::json!({})).await?;
            Ok(Json(LeadAccepted {
                ok: true,
                duplicate: false,
                communication_id: None,
                quarantined: true,
            }))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Google's documented sample shape.
    fn sample() -> Value {
        json!({
            "lead_id": "TeSter-123-ABCDEFGHIJKLMNOPQRSTUVWXYZ-abcdefghijklmnopqrstuvwxyz-0123456789-AaBbCcDdEeFfGgHhIiJjKkLl",
            "user_column_data": [
                {"column_name": "Full Name", "string_value": "FirstName LastName", "column_id": "FULL_NAME"},
                {"column_name": "User Phone", "string_value": "+16505550123", "column_id": "PHONE_NUMBER"},
                {"column_name": "User Email", "string_value": "test@example.com", "column_id": "EMAIL"},
                {"column_name": "Postal Code", "string_value": "94043", "column_id": "POSTAL_CODE"},
                {"column_name": "How old is your roof?", "string_value": "about 20 years", "column_id": "how_old_is_your_roof?"},
                {"column_name": "Preferred contact time", "string_value": "mornings", "column_id": "preferred_contact_time"}
            ],
            "api_version": "1.0",
            "form_id": 40000000000u64,
            "campaign_id": 12345678901u64,
            "google_key": "secret",
            "is_test": true,
            "gcl_id": "gclid-1",
            "adgroup_id": 20000000000u64,
            "creative_id": 30000000000u64
        })
    }

    #[test]
    fn the_documented_payload_maps_to_a_tagged_test_lead() {
        let s = submission(&sample()).unwrap();
        assert!(s.test);
        assert_eq!(
            s.external_id.as_deref(),
            Some(sample()["lead_id"].as_str().unwrap())
        );
        assert_eq!(s.fields.name.as_deref(), Some("FirstName LastName"));
        assert_eq!(s.fields.phone.as_deref(), Some("+16505550123"));
        assert_eq!(s.fields.email.as_deref(), Some("test@example.com"));
        assert_eq!(s.fields.roof_age.as_deref(), Some("about 20 years"));
        assert_eq!(s.extra["Preferred contact time"], "mornings");
        assert_eq!(s.attribution.campaign.as_deref(), Some("12345678901"));
        assert_eq!(s.attribution.detail["gclid"], "gclid-1");
        assert_eq!(s.provider_data["form_id"], "40000000000");
    }

    #[test]
    fn a_payload_without_lead_id_is_refused_naming_it() {
        let mut p = sample();
        p.as_object_mut().unwrap().remove("lead_id");
        let e = submission(&p).unwrap_err();
        assert!(e.to_string().starts_with("lead_id"));
        let e = submission(&json!({"lead_id": "1", "user_column_data": 3})).unwrap_err();
        assert!(e.to_string().starts_with("user_column_data"));
    }
}
