//! The roofer's dashboard: server-rendered pages (minijinja templates embedded in the
//! binary, HTML auto-escaped) for the account's people (or a developer's API key), with
//! a little vanilla JavaScript that calls the existing JSON API with the session cookie
//! and a CSRF token. Nothing is loaded from anywhere but this server.
//!
//! - [`session`]: sign-in sessions, the session cookie, CSRF, and the `Dash` extractor.
//! - [`pages`]: the pages, one file a page (home, integrations, leads, lead profile,
//!   conversations, login, team, audit log, my account, business hours, templates,
//!   sequences).
//! - [`charts`]: inline SVG charts.

pub mod charts;
pub mod pages;

use std::sync::LazyLock;

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::Environment;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// Every dashboard route. Merged into the app's router next to the API.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/login/key", get(pages::key_form))
        .route("/login/code", get(pages::code_form).post(pages::code))
        .route("/login/forgot", get(pages::forgot_form).post(pages::forgot))
        .route(
            "/password/{token}",
            get(pages::password_form).post(pages::set_password),
        )
        .route("/logout", post(pages::logout))
        .route("/leads", get(pages::leads))
        .route("/leads/{id}", get(pages::lead))
        .route("/conversations", get(pages::conversations))
        .route("/integrations", get(pages::integrations))
        .route("/integrations/widget-preview", get(pages::widget_preview))
        .route("/team", get(pages::team))
        .route("/audit", get(pages::audit))
        .route("/alerts", get(pages::alerts))
        .route("/settings/hours", get(pages::hours))
        .route("/templates", get(pages::templates))
        .route("/sequences", get(pages::sequences))
        .route("/sources", get(pages::sources))
        .route("/imports", get(pages::imports))
        .route(crate::auth::session::ENROL_PAGE, get(pages::security))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/automations.js", get(automations_js))
        .route("/static/sources.js", get(sources_js))
        .route("/settings/webhooks", get(pages::webhooks))
        .route("/static/webhooks.js", get(webhooks_js))
        .route("/static/imports.js", get(imports_js))
        .layer(axum::middleware::map_response(security_headers))
}

const CSS: &str = include_str!("../../templates/dashboard/app.css");
const JS: &str = include_str!("../../templates/dashboard/app.js");
/// Hours, templates, sequences and follow-ups: kept apart so app.js stays readable.
const AUTOMATIONS_JS: &str = include_str!("../../templates/dashboard/automations.js");
/// The Lead sources page.
const SOURCES_JS: &str = include_str!("../../templates/dashboard/sources.js");
/// The Webhooks page's script.
const WEBHOOKS_JS: &str = include_str!("../../templates/dashboard/webhooks.js");
/// The Import / export page's script.
const IMPORTS_JS: &str = include_str!("../../templates/dashboard/imports.js");

/// Templates, compiled into the binary so the server runs from any directory.
const TEMPLATES: [(&str, &str); 20] = [
    (
        "alerts.html",
        include_str!("../../templates/dashboard/alerts.html"),
    ),
    (
        "base.html",
        include_str!("../../templates/dashboard/base.html"),
    ),
    (
        "icons.html",
        include_str!("../../templates/dashboard/icons.html"),
    ),
    (
        "login.html",
        include_str!("../../templates/dashboard/login.html"),
    ),
    (
        "error.html",
        include_str!("../../templates/dashboard/error.html"),
    ),
    (
        "home.html",
        include_str!("../../templates/dashboard/home.html"),
    ),
    (
        "leads.html",
        include_str!("../../templates/dashboard/leads.html"),
    ),
    (
        "lead.html",
        include_str!("../../templates/dashboard/lead.html"),
    ),
    (
        "conversations.html",
        include_str!("../../templates/dashboard/conversations.html"),
    ),
    (
        "integrations.html",
        include_str!("../../templates/dashboard/integrations.html"),
    ),
    (
        "widget_preview.html",
        include_str!("../../templates/dashboard/widget_preview.html"),
    ),
    (
        "team.html",
        include_str!("../../templates/dashboard/team.html"),
    ),
    (
        "audit.html",
        include_str!("../../templates/dashboard/audit.html"),
    ),
    (
        "security.html",
        include_str!("../../templates/dashboard/security.html"),
    ),
    (
        "hours.html",
        include_str!("../../templates/dashboard/hours.html"),
    ),
    (
        "templates.html",
        include_str!("../../templates/dashboard/templates.html"),
    ),
    (
        "sequences.html",
        include_str!("../../templates/dashboard/sequences.html"),
    ),
    (
        "sources.html",
        include_str!("../../templates/dashboard/sources.html"),
    ),
    (
        "webhooks.html",
        include_str!("../../templates/dashboard/webhooks.html"),
    ),
    (
        "imports.html",
        include_str!("../../templates/dashboard/imports.html"),
    ),
];

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    // `.html` names turn HTML auto-escaping on (minijinja's default for that extension).
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        if let Err(e) = env.add_template(name, source) {
            tracing::error!(template = name, error = %e, "dashboard template does not compile");
        }
    }
    env
});

/// Changes whenever the CSS or the script changes, so browsers may cache them for long.
pub static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::new()
        .chain_update(CSS.as_bytes())
        .chain_update(JS.as_bytes())
        .chain_update(AUTOMATIONS_JS.as_bytes())
        .chain_update(SOURCES_JS.as_bytes())
        .chain_update(WEBHOOKS_JS.as_bytes())
        .chain_update(IMPORTS_JS.as_bytes())
        .finalize();
    hex::encode(&digest[..5])
});

/// Renders a template with `status`; a template error is a logged 500.
pub fn render(status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
    match ENV.get_template(template).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template, error = ?e, "dashboard page failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page could not be shown.</p>"),
            )
                .into_response()
        }
    }
}

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

async fn automations_js() -> Response {
    asset(AUTOMATIONS_JS, "text/javascript; charset=utf-8")
}

async fn sources_js() -> Response {
    asset(SOURCES_JS, "text/javascript; charset=utf-8")
}

async fn webhooks_js() -> Response {
    asset(WEBHOOKS_JS, "text/javascript; charset=utf-8")
}

async fn imports_js() -> Response {
    asset(IMPORTS_JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            // Page links carry ?v=<hash of the assets>.
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response()
}

/// No inline script, nothing from another origin, no framing by other sites; pages are
/// never cached (they show a signed-in account's data).
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; \
             form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles() {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
        for (name, _) in TEMPLATES {
            assert!(ENV.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn html_templates_escape_what_they_show() {
        let html = ENV
            .get_template("error.html")
            .unwrap()
            .render(minijinja::context! {
                title => "<script>alert(1)</script>",
                message => "<b>x</b>",
                asset_v => "1",
            })
            .unwrap();
        assert!(!html.contains("<script>alert(1)</script>"), "{html}");
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
                || html.contains("&lt;script&gt;")
        );
        assert!(!html.contains("<b>x</b>"));
    }
}
