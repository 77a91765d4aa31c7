//! The dashboard's pages, one file a page. Each reads what it shows from the same
//! functions and account filter as the API, renders a template, and leaves actions to the
//! page's script, which calls the JSON API with the session cookie.
//!
//! - [`format`]: the account's clock and how numbers, names and phones read.
//! - [`login`], [`home`], [`leads`], [`lead`], [`conversations`], [`integrations`],
//!   [`team`], [`audit`], [`security`], [`hours`], [`templates`], [`sequences`],
//!   [`sources`]: the pages.
//! - [`follow_ups`]: the lead page's sequences card and reply-box templates.

mod alerts;
mod audit;
mod conversations;
mod follow_ups;
mod format;
mod home;
mod hours;
mod imports;
mod integrations;
mod lead;
mod leads;
mod login;
mod security;
mod sequences;
mod sources;
mod team;
mod templates;
mod webhooks;

pub use alerts::alerts;
pub use audit::audit;
pub use conversations::conversations;
pub use format::{action_label, channel_label, display_phone, humanize, minutes_human, pct};
pub use home::home;
pub use hours::hours;
pub use imports::imports;
pub use integrations::{integrations, widget_preview};
pub use lead::lead;
pub use leads::leads;
pub use login::{
    code, code_form, forgot, forgot_form, key_form, login, login_form, logout, password_form,
    set_password, CsrfForm, LoginForm,
};
pub use security::security;
pub use sequences::sequences;
pub use sources::sources;
pub use team::team;
pub use templates::templates;
pub use webhooks::webhooks;

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use minijinja::context;

use super::{render, ASSET_VERSION};
use crate::auth::session::Session;
use crate::auth::Role;
use crate::error::ApiError;

/// Leads per page of the leads list.
pub const PAGE_SIZE: i64 = 25;
/// Timeline entries shown on a lead's page (newest first).
pub const TIMELINE_LIMIT: i64 = 100;

// ---------------------------------------------------------------------------
// Errors and layout

/// Who a lead is and how hot, as the lists show it (home's due actions, the leads table).
#[derive(sqlx::FromRow)]
struct LeadLine {
    id: i64,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    score: i32,
    score_band: String,
}

/// A failure while building a page: shown as an HTML page, never as JSON.
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.0 {
            ApiError::NotFound(what) => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("This {what} does not exist, or it belongs to another account."),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "dashboard page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be built. Try again in a moment.",
                )
            }
            e => error_page(e.status(), "Something went wrong", &e.to_string()),
        }
    }
}

/// A standalone error page (no account data on it).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        "error.html",
        context! { title, message, status => status.as_u16(), asset_v => ASSET_VERSION.as_str() },
    )
}

/// The 403 page a member gets on a page for admins and owners (`None` lets them in);
/// `message` says what the page is for.
pub fn admins_only(role: crate::auth::Role, message: &str) -> Option<Response> {
    (role < crate::auth::Role::Admin)
        .then(|| error_page(StatusCode::FORBIDDEN, "Admins and owners only", message))
}

/// The answer to a form posted without the session's CSRF token: nothing was done.
pub fn csrf_rejected() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not sent from a current Leadline page (its security token is missing or wrong), \
         so nothing was changed. Go back, reload the page and try again.",
    )
}

/// What every signed-in page shows: the account, who is signed in and what their role
/// lets the page offer (the API checks again; this only hides what would be refused).
fn layout(s: &Session, nav: &str, title: &str) -> minijinja::Value {
    let who = match &s.user {
        Some(u) if !u.name.is_empty() => u.name.clone(),
        Some(u) => u.email.clone(),
        None => "API key".to_string(),
    };
    context! {
        signed_in => true,
        csrf => s.csrf_token,
        account_name => s.account_name,
        who,
        role => s.role.as_str(),
        is_user => s.user.is_some(),
        is_admin => s.role >= Role::Admin,
        is_owner => s.role == Role::Owner,
        must_enrol_totp => s.must_enrol_totp,
        nav,
        title,
        asset_v => ASSET_VERSION.as_str(),
    }
}

fn query_map(q: Result<Query<HashMap<String, String>>, QueryRejection>) -> HashMap<String, String> {
    q.map(|Query(m)| m).unwrap_or_default()
}

fn param<'a>(q: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}
