//! `POST /api/imports` (import, or a dry run) and `POST /api/imports/preview` (what the
//! file reads as): the CSV as the body (`text/csv`) or as the `file` part of a
//! multipart form; options in the query string (or as other parts of the form):
//! `dry_run`, and `map.FIELD=Column` for each lead field whose column is not the one
//! found from the headers (`-` leaves a field out). Admins only; imports are audited.

use std::collections::HashMap;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::csv_map::{parse_row, LeadRow, MappedField};
use super::{ImportReport, MAX_FILE_BYTES};
use crate::auth::{Admin, Caller};
use crate::error::{ApiError, ErrorBody, ErrorDetail, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;

/// Rows shown by the preview.
const PREVIEW_ROWS: usize = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import))
        .routes(routes!(preview))
        // The file may be larger than the API's body limit (a multipart form is read
        // under this; a plain body is read with the file limit below).
        .layer(axum::extract::DefaultBodyLimit::max(
            MAX_FILE_BYTES + 64 * 1024,
        ))
}

/// Options of an import (query parameters, or text parts of a multipart form).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ImportParams {
    /// `true`: check everything and report what would happen; write nothing.
    dry_run: Option<bool>,
    /// The column of the lead's name (else `name`, `full name`… or first + last name).
    #[param(rename = "map.name")]
    map_name: Option<String>,
    #[param(rename = "map.first_name")]
    map_first_name: Option<String>,
    #[param(rename = "map.last_name")]
    map_last_name: Option<String>,
    /// The column of the email (else `email`, `e-mail`…); `-`: none.
    #[param(rename = "map.email")]
    map_email: Option<String>,
    /// The column of the phone (else `phone`, `mobile`, `cell`…); `-`: none.
    #[param(rename = "map.phone")]
    map_phone: Option<String>,
    #[param(rename = "map.address")]
    map_address: Option<String>,
    #[param(rename = "map.street")]
    map_street: Option<String>,
    #[param(rename = "map.city")]
    map_city: Option<String>,
    #[param(rename = "map.state")]
    map_state: Option<String>,
    #[param(rename = "map.zip")]
    map_zip: Option<String>,
    #[param(rename = "map.status")]
    map_status: Option<String>,
    #[param(rename = "map.source")]
    map_source: Option<String>,
    #[param(rename = "map.campaign")]
    map_campaign: Option<String>,
    #[param(rename = "map.roof_age")]
    map_roof_age: Option<String>,
    #[param(rename = "map.issues")]
    map_issues: Option<String>,
    #[param(rename = "map.timeline")]
    map_timeline: Option<String>,
    #[param(rename = "map.budget")]
    map_budget: Option<String>,
    #[param(rename = "map.notes")]
    map_notes: Option<String>,
    /// The column of when the lead came in (else `created`, `date`…).
    #[param(rename = "map.created")]
    map_created: Option<String>,
}

/// The file and its options, from whichever form the request took.
struct Upload {
    bytes: axum::body::Bytes,
    dry_run: bool,
    choices: Vec<(String, String)>,
}

fn too_large() -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        axum::Json(ErrorBody {
            error: ErrorDetail {
                code: "payload_too_large".into(),
                message: format!(
                    "file: larger than the import limit of {} MB (split it, or use `leadline import leads` on the server)",
                    MAX_FILE_BYTES / (1024 * 1024)
                ),
            },
        }),
    )
        .into_response()
}

/// Reads the upload; `Err(response)` is the answer to give (413, 415, 400, 422).
async fn upload(
    state: &AppState,
    mut options: HashMap<String, String>,
    req: Request,
) -> std::result::Result<Upload, Response> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes = if ct == "multipart/form-data" {
        let mut form = Multipart::from_request(req, state).await.map_err(|e| {
            ApiError::BadRequest("invalid_multipart", e.body_text()).into_response()
        })?;
        let mut file = None;
        loop {
            let field = match form.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
                Err(e) => {
                    return Err(
                        ApiError::BadRequest("invalid_multipart", e.body_text()).into_response()
                    )
                }
            };
            let name = field.name().unwrap_or("").to_string();
            let data = match field.bytes().await {
                Ok(d) => d,
                Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
                Err(e) => {
                    return Err(
                        ApiError::BadRequest("invalid_multipart", e.body_text()).into_response()
                    )
                }
            };
            if name == "file" {
                file = Some(data);
            } else if !name.is_empty() {
                options.insert(name, String::from_utf8_lossy(&data).trim().to_string());
            }
        }
        file.ok_or_else(|| {
            ApiError::invalid("file: the form has no `file` part with the CSV").into_response()
        })?
    } else if matches!(
        ct.as_str(),
        "" | "text/csv"
            | "text/plain"
            | "application/csv"
            | "text/x-csv"
            | "application/vnd.ms-excel"
            | "application/octet-stream"
            | "text/tab-separated-values"
    ) {
        axum::body::to_bytes(req.into_body(), MAX_FILE_BYTES)
            .await
            .map_err(|_| too_large())?
    } else {
        return Err(ApiError::UnsupportedMediaType(
            "expected the CSV as the body (Content-Type: text/csv) or as the `file` part of multipart/form-data".into(),
        )
        .into_response());
    };
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let mut dry_run = false;
    let mut choices = Vec::new();
    for (k, v) in options {
        if k == "dry_run" {
            dry_run = match v.as_str() {
                "true" | "1" | "on" => true,
                "false" | "0" | "off" | "" => false,
                _ => return Err(ApiError::invalid("dry_run must be true or false").into_response()),
            };
        } else if let Some(field) = k.strip_prefix("map.") {
            if v.contains('\0') {
                return Err(
                    ApiError::invalid(format!("{k}: must not contain the NUL character"))
                        .into_response(),
                );
            }
            choices.push((field.to_string(), v));
        } else {
            return Err(ApiError::BadRequest(
                "invalid_query",
                format!("unknown parameter {k:?}: dry_run and map.FIELD are the options"),
            )
            .into_response());
        }
    }
    choices.sort();
    Ok(Upload {
        bytes,
        dry_run,
        choices,
    })
}

/// Imports leads from a CSV file (or, with `dry_run=true`, reports what it would do and
/// writes nothing): new emails and phones become leads (source `import` unless the file
/// has a source column; no new-lead alerts, first answers or sequences for them), known
/// ones only get their empty fields filled, duplicates within the file and bad rows are
/// skipped with the reason. Limit 20 MB.
#[utoipa::path(post, path = "/api/imports", tag = "imports", params(ImportParams),
    request_body(content((String = "text/csv"), (Object = "multipart/form-data")), description = "the CSV file"),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
async fn import(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(options): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Response> {
    let up = match upload(&state, options, req).await {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    Ok(Json(run(&state, &caller, &up).await?).into_response())
}

async fn run(state: &AppState, caller: &Caller, up: &Upload) -> Result<ImportReport> {
    let file = super::run::prepare(&up.bytes, &up.choices)?;
    let cx = super::run::context(&state.pool, caller.account, state.config.default_region).await?;
    let entry = crate::audit::Entry::by(
        caller,
        "import.leads",
        None,
        serde_json::json!({ "via": "api", "bytes": up.bytes.len(),
                            "mapping": up.choices.iter().map(|(f, c)| format!("{f}={c}")).collect::<Vec<_>>() }),
    );
    super::run::import(
        &state.pool,
        caller.account,
        &file,
        &cx,
        up.dry_run,
        Some(entry),
        &mut |_| {},
    )
    .await
}

/// What the preview shows of a row: its cells, and the lead it reads as or why not.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewRow {
    pub row: u64,
    pub cells: Vec<String>,
    pub lead: Option<LeadRow>,
    /// Why the row would be skipped (duplicates within the file and matches with
    /// existing leads are found by the dry run).
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportPreview {
    /// The file's columns, as in its header.
    pub columns: Vec<String>,
    /// Each lead field and the column that fills it.
    pub mapping: Vec<MappedField>,
    /// Data rows in the file.
    pub rows: u64,
    pub encoding: String,
    pub delimiter: String,
    /// The first 20 rows.
    pub sample: Vec<PreviewRow>,
}

/// Reads a CSV file without importing it: its columns, the mapping (found from the
/// headers, or as chosen with `map.FIELD`), and its first 20 rows as leads.
#[utoipa::path(post, path = "/api/imports/preview", tag = "imports", params(ImportParams),
    request_body(content((String = "text/csv"), (Object = "multipart/form-data")), description = "the CSV file"),
    responses((status = 200, body = ImportPreview), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("api_key" = [])))]
async fn preview(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(options): Query<HashMap<String, String>>,
    req: Request,
) -> Result<Response> {
    let up = match upload(&state, options, req).await {
        Ok(u) => u,
        Err(r) => return Ok(r),
    };
    let table =
        super::text::read(&up.bytes).map_err(|e| ApiError::invalid(format!("file: {e}")))?;
    let mut mapping = super::csv_map::Mapping::detect(&table.headers);
    for (field, column) in &up.choices {
        mapping.set(field, column).map_err(ApiError::invalid)?;
    }
    let cx = super::run::context(&state.pool, caller.account, state.config.default_region).await?;
    // Without an email or phone column every row fails the same way: say it once.
    let unmapped = mapping.check().err();
    let sample = table
        .records
        .iter()
        .take(PREVIEW_ROWS)
        .map(|(row, cells)| {
            let read = match &unmapped {
                Some(e) => Err(e.clone()),
                None => parse_row(&mapping, *row, cells, &cx),
            };
            let (lead, error) = match read {
                Ok(l) => (Some(l), None),
                Err(e) => (None, Some(e)),
            };
            PreviewRow {
                row: *row,
                cells: cells.clone(),
                lead,
                error,
            }
        })
        .collect();
    Ok(Json(ImportPreview {
        columns: table.headers.clone(),
        mapping: mapping.fields(),
        rows: table.records.len() as u64,
        encoding: table.encoding.to_string(),
        delimiter: table.delimiter.to_string(),
        sample,
    })
    .into_response())
}
