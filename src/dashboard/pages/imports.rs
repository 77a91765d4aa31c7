//! The Import / export page (admins and owners): upload a CSV, see how it reads and which
//! column fills which lead field (and change it), run a dry run, then import — all by the
//! page's script (`imports.js`) through `POST /api/imports/preview` and `POST
//! /api/imports`; and the links to the two exports, with the leads list's filters.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::{admins_only, layout, PageError};
use crate::auth::session::Dash;
use crate::dashboard::render;
use crate::imports::csv_map::Field;
use crate::state::AppState;

/// How the mapping table names each lead field.
fn label(f: Field) -> &'static str {
    match f {
        Field::Name => "Name",
        Field::FirstName => "First name",
        Field::LastName => "Last name",
        Field::Email => "Email",
        Field::Phone => "Phone",
        Field::Address => "Address (whole)",
        Field::Street => "Street",
        Field::City => "City",
        Field::State => "State",
        Field::Zip => "ZIP",
        Field::Status => "Stage",
        Field::Source => "Source",
        Field::Campaign => "Campaign",
        Field::RoofAge => "Roof age (years)",
        Field::Issues => "Issues",
        Field::Timeline => "Timeline",
        Field::Budget => "Budget",
        Field::Notes => "Notes",
        Field::Created => "Came in on (date)",
    }
}

pub async fn imports(State(_state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    if let Some(refused) = admins_only(
        s.role,
        "Importing and exporting leads is for the admins and owners of your company.",
    ) {
        return Ok(refused);
    }
    let fields: Vec<minijinja::Value> = Field::ALL
        .into_iter()
        .map(|f| context! { key => f.key(), label => label(f) })
        .collect();
    Ok(render(
        StatusCode::OK,
        "imports.html",
        context! {
            fields,
            statuses => crate::leads::STATUSES,
            max_mb => crate::imports::MAX_FILE_BYTES / (1024 * 1024),
            ..layout(&s, "imports", "Import / export")
        },
    ))
}
