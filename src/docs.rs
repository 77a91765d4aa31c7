//! The OpenAPI document (generated from the handlers' annotations) and a docs page
//! that renders it with no external request.

use axum::response::Html;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder, Type};
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
        (name = "lead sources", description = "Leads from outside: web forms, Google and Facebook lead forms, lead marketplaces and generic JSON senders, each recorded as a form communication"),
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

/// The refusals every operation shares, added to each one that can give them (the
/// handlers' annotations list only their own outcomes). Applied to the assembled document,
/// after the routers' paths are merged in (see `app::router`).
///   - secured: 401 (no, a malformed, an unknown or a revoked key) and 429 (the failed-key
///     throttle, with Retry-After);
///   - with path or query parameters: 400 (one does not parse into its type) and 422 (it
///     fails validation, or holds a NUL character);
///   - with a body: 400 (unreadable or malformed) and 413 (over `LEADLINE_MAX_BODY_BYTES`),
///     and for JSON bodies 415 (not `application/json`) and 422 (a field does not fit),
///     but not for webhooks: they read the body as bytes (the signature covers them).
///
/// An operation's own entry for a status wins (its description is the more specific).
pub struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                add_error_responses(op, path.starts_with("/webhooks/"));
            }
        }
    }
}

fn add_error_responses(op: &mut Operation, webhook: bool) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let body = op.request_body.as_ref().map(|b| {
        b.content
            .keys()
            .any(|t| t == "application/json" || t.ends_with("+json"))
    });
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_string())
            .or_insert_with(|| error_response(status, description));
    };
    if secured {
        add("401", "Missing, malformed, unknown or revoked API key");
        add(
            "403",
            "The caller's role may not do this (`forbidden`, naming the role needed), a dashboard \
             session's CSRF token is missing, or its account requires two-factor not yet set up",
        );
        add(
            "429",
            "Too many failed key checks from this client: retry after `Retry-After` seconds",
        );
    }
    if has_params {
        add("400", "A path or query parameter does not parse");
        add(
            "422",
            "A parameter fails validation (the message names it), or holds a NUL character",
        );
    }
    if let Some(json) = body {
        add("400", "The body is unreadable or malformed");
        add("413", "The body is larger than the server's limit");
        if json && !webhook {
            add("415", "The body is not `Content-Type: application/json`");
            add(
                "422",
                "A body field is missing or does not fit (the message names it)",
            );
        }
    }
}

fn error_response(status: &str, description: &str) -> RefOr<Response> {
    let mut res = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("ErrorBody")))
            .build(),
    );
    if status == "429" {
        res = res.header(
            "Retry-After",
            Header::new(utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer)),
        );
    }
    res.build().into()
}

/// A self-contained page: fetches `/openapi.json` and lists every operation with its
/// parameters, body and responses. No CDN, so it works offline and behind firewalls.
pub async fn docs_page() -> Html<&'static str> {
    Html(include_str!("../templates/docs.html"))
}
