//! The OpenAPI document (generated from the handlers' annotations) and a docs page
//! that renders it with no external request.

use axum::response::Html;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Leadline API", description = "Every conversation a roofer has with a lead — email, SMS, calls, website chat — in one place, scored and explained."),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Service status"),
        (name = "leads", description = "Leads and their pipeline stage"),
        (name = "communications", description = "The one record of every touch, on every channel"),
        (name = "ai", description = "The AI responder: company facts it uses, and previews of its replies"),
        (name = "sms", description = "Texts through Telnyx: connect, send, and the signed webhook"),
        (name = "email", description = "Email: connect a mailbox (IMAP + SMTP), sync, send, inbound webhooks, auto-replies"),
        (name = "calls", description = "Phone calls: the call log and Telnyx call events"),
        (name = "tracker", description = "What Leadline derives from the communications: sentiment, scores, timelines, summaries, next actions"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key from `leadline account create`"))
                    .build(),
            ),
        );
    }
}

/// A self-contained page: fetches `/openapi.json` and lists every operation with its
/// parameters, body and responses. No CDN, so it works offline and behind firewalls.
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("../templates/docs.html"))
}
