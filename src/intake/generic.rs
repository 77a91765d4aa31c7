//! The generic JSON intake, `POST /webhooks/leads/{source_token}`, for any sender
//! (Zapier, Make, a lead marketplace without a mapper of its own): a JSON pointer per
//! lead field saved in the source (`config.mapping`), plainly named fields found without
//! one, an optional shared secret in a header. The marketplaces with a documented format
//! (`marketplaces/`) arrive on the same URL and are read by their own mapper.
//! `POST /api/sources/{id}/preview` applies a source's mapping to a sample payload.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header::CONTENT_TYPE, HeaderMap};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Admin;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

use super::marketplaces;
use super::sources::{self, Source};
use super::{LeadFields, Submission};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook))
        .routes(routes!(preview))
}

/// The kinds of source that post to `/webhooks/leads/{token}`.
pub const KINDS: [&str; 3] = ["generic", "homeadvisor", "angi"];
/// The header of the shared secret when the source names none.
pub const DEFAULT_SECRET_HEADER: &str = "x-leadline-secret";

/// The submission of a payload for this source (by its kind's mapper).
pub fn submission_for(source: &Source, payload: &Value) -> Result<Submission> {
    let config = source.settings();
    match source.kind.as_str() {
        "homeadvisor" => Ok(marketplaces::homeadvisor::submission(
            payload,
            &config.mapping,
        )),
        "angi" => Ok(marketplaces::angi::submission(payload, &config.mapping)),
        _ => {
            let provider = config.provider.as_deref().unwrap_or("generic");
            Ok(super::apply(&config.mapping, payload, provider))
        }
    }
}

/// Checks the source's secret header, when it has a secret: 401 without the header,
/// 403 when it does not match.
fn check_secret(state: &AppState, source: &Source, headers: &HeaderMap) -> Result<()> {
    let Some(expected) = source.secret(state)? else {
        return Ok(());
    };
    let header = match source.kind.as_str() {
        // Angi's one documented authentication: the partner's key in `x-api-key`.
        "angi" => "x-api-key".to_string(),
        _ => source
            .settings()
            .secret_header
            .unwrap_or_else(|| DEFAULT_SECRET_HEADER.into())
            .to_ascii_lowercase(),
    };
    let given = headers
        .get(header.as_str())
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::Unauthorized(format!("{header}: missing")))?;
    let same: bool = expected.as_bytes().ct_eq(given.trim().as_bytes()).into();
    if !same {
        return Err(ApiError::Forbidden(format!(
            "{header}: does not match this lead source's secret"
        )));
    }
    Ok(())
}

/// The answer to a lead sender. `status: "success"` is also the success string
/// HomeAdvisor's feed looks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookAccepted {
    pub ok: bool,
    /// `success`.
    pub status: String,
    pub duplicate: bool,
    /// The recorded communication (none when quarantined).
    pub communication_id: Option<i64>,
    /// The lead could not be stored as it is (the mapping found no email or phone…): it is
    /// kept in the quarantine; fix the source's mapping and retry it there.
    pub quarantined: bool,
}

/// A sender's body as one JSON object (JSON, or urlencoded / multipart fields).
pub fn payload_of(content_type: &str, body: &[u8]) -> Result<Value> {
    let fields = super::form::parse_body(content_type, body)?;
    Ok(Value::Object(
        fields.into_iter().collect::<Map<String, Value>>(),
    ))
}

/// Receives a lead from a generic sender (Zapier, Make…) or a lead marketplace, as JSON
/// (or urlencoded fields). 200 once recorded (or already recorded).
#[utoipa::path(post, path = "/webhooks/leads/{source_token}", tag = "lead sources",
    params(("source_token" = String, Path, description = "the source's token")),
    request_body(content = Object, description = "the sender's lead JSON"),
    responses((status = 200, body = WebhookAccepted),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(source_token): Path<String>,
    body: Bytes,
) -> Result<Json<WebhookAccepted>> {
    let source = sources::by_token(&state.pool, &source_token, &KINDS)
        .await?
        .ok_or(ApiError::NotFound("lead source"))?;
    check_secret(&state, &source, &headers)?;
    let ct = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    // A body in another format is the sender's mistake to see (415), not a lead to keep.
    let outcome = match payload_of(ct, &body) {
        Err(e @ ApiError::UnsupportedMediaType(_)) => return Err(e),
        Err(e) => Err(e),
        Ok(payload) => match submission_for(&source, &payload) {
            Ok(sub) => super::deliver(&state, &source, sub).await,
            Err(e) => Err(e),
        },
    };
    match outcome {
        Ok(d) => Ok(Json(WebhookAccepted {
            ok: true,
            status: "success".into(),
            duplicate: d.duplicate,
            communication_id: Some(d.communication_id),
            quarantined: false,
        })),
        Err(e) if super::quarantinable(&e) => {
            super::quarantine(&state, &source, &body, &e, json!({"content_type": ct})).await?;
            Ok(Json(WebhookAccepted {
                ok: true,
                status: "success".into(),
                duplicate: false,
                communication_id: None,
                quarantined: true,
            }))
        }
        Err(e) => Err(e),
    }
}

/// Body of `POST /api/sources/{id}/preview`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A sample of what the sender posts.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// A mapping to try instead of the saved one.
    #[serde(default)]
    pub mapping: Option<BTreeMap<String, String>>,
}

/// What a payload would record.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub fields: LeadFields,
    pub name: Option<String>,
    pub address: Option<String>,
    /// The dedupe key (the sender's lead id, or a digest of the payload).
    pub external_id: Option<String>,
    pub campaign: Option<String>,
    /// Fields kept with the lead as they are.
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
    /// Why it would be refused (no usable email or phone…), if it would.
    pub error: Option<String>,
}

/// Applies a source's mapping (or the one given) to a sample payload and shows what it
/// would record; records nothing.
#[utoipa::path(post, path = "/api/sources/{id}/preview", tag = "lead sources",
    params(("id" = i64, Path)), request_body = PreviewRequest,
    responses((status = 200, body = Preview), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<PreviewRequest>,
) -> Result<Json<Preview>> {
    let mut source = sources::by_id(&state.pool, caller.account, id)
        .await?
        .ok_or(ApiError::NotFound("lead source"))?;
    if !body.payload.is_object() {
        return Err(ApiError::invalid("payload: expected a JSON object"));
    }
    if let Some(mapping) = body.mapping {
        for (field, pointer) in &mapping {
            if !sources::MAPPABLE.contains(&field.as_str()) {
                return Err(ApiError::invalid(format!(
                    "mapping: {field:?} is not one of {}",
                    sources::MAPPABLE.join(", ")
                )));
            }
            if !(pointer.is_empty() || pointer.starts_with('/')) {
                return Err(ApiError::invalid(format!(
                    "mapping.{field}: a JSON pointer starts with /"
                )));
            }
        }
        let mut config = source.settings();
        config.mapping = mapping;
        source.config = serde_json::to_value(config).map_err(|e| ApiError::Internal(e.into()))?;
    }
    let sub = match source.kind.as_str() {
        k if KINDS.contains(&k) => submission_for(&source, &body.payload)?,
        _ => {
            let mut sub = Submission::new(&source.kind);
            super::auto_map(&mut sub, &body.payload);
            sub
        }
    };
    let error = super::identity(&sub.fields, state.config.default_region)
        .err()
        .map(|e| e.to_string());
    Ok(Json(Preview {
        name: sub.fields.full_name(),
        address: sub.fields.full_address(),
        fields: sub.fields,
        external_id: sub.external_id,
        campaign: sub.attribution.campaign,
        extra: sub.extra,
        error,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::apply;
    use serde_json::json;

    #[test]
    fn pointers_fill_mapped_fields_and_plain_names_the_rest() {
        let mapping: BTreeMap<String, String> = [
            ("name", "/contact/full"),
            ("phone", "/contact/numbers/0"),
            ("external_id", "/id"),
            ("campaign", "/meta/campaign"),
            ("roof_age", "/answers/roof"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let p = json!({"id": 991, "contact": {"full": "Jane Doe", "numbers": ["312-641-2278"]},
            "email": "jane@x.com", "meta": {"campaign": "hail-2026"}, "answers": {"roof": 17},
            "color": "red"});
        let s = apply(&mapping, &p, "zapier");
        assert_eq!(s.provider, "zapier");
        assert_eq!(s.fields.name.as_deref(), Some("Jane Doe"));
        assert_eq!(s.fields.phone.as_deref(), Some("312-641-2278"));
        assert_eq!(s.fields.email.as_deref(), Some("jane@x.com"));
        assert_eq!(s.fields.roof_age.as_deref(), Some("17"));
        assert_eq!(s.external_id.as_deref(), Some("991"));
        assert_eq!(s.attribution.campaign.as_deref(), Some("hail-2026"));
        assert_eq!(s.extra["color"], "red");
        assert!(
            !s.extra.contains_key("contact.full"),
            "mapped fields are not kept twice"
        );
    }

    #[test]
    fn without_an_id_the_same_payload_has_the_same_key() {
        let p = json!({"email": "a@b.com", "message": "hi"});
        let a = apply(&BTreeMap::new(), &p, "generic");
        let b = apply(&BTreeMap::new(), &p, "generic");
        assert_eq!(a.external_id, b.external_id);
        assert!(a.external_id.unwrap().starts_with("sha256:"));
        let c = apply(&BTreeMap::new(), &json!({"email": "a@b.com"}), "generic");
        assert_ne!(c.external_id, b.external_id);
    }
}
