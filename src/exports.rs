//! CSV exports of an account's leads and communications, streamed: one query read row
//! by row (`sqlx` `fetch`) into a CSV writer whose output goes out in 64 KB chunks
//! through a small bounded channel, so any size takes constant memory and a client that
//! stops reading stops the query. Every export is audited (who, what, which filters).
//! Cells a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) get a
//! leading `'` (OWASP "CSV injection"); the importer takes it off again.

use std::borrow::Cow;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::Admin;
use crate::domain::{AccountId, Channel};
use crate::error::{ApiError, Result};
use crate::extract::Query;
use crate::state::AppState;

/// Bytes gathered before a chunk is sent.
const CHUNK: usize = 64 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_leads))
        .routes(routes!(export_communications))
}

/// A cell as a spreadsheet may open it safely: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return is prefixed with `'`, so it is shown, never evaluated.
pub fn spreadsheet_safe(v: &str) -> Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{v}"))
    } else {
        Cow::Borrowed(v)
    }
}

/// The columns of the leads export; the importer finds every lead field among them.
pub const LEAD_COLUMNS: [&str; 18] = [
    "id",
    "name",
    "email",
    "phone",
    "property_address",
    "roof_age_years",
    "issues",
    "timeline",
    "budget",
    "source",
    "campaign",
    "status",
    "score",
    "score_band",
    "assigned_user_id",
    "notes",
    "created_at",
    "last_activity_at",
];

#[derive(sqlx::FromRow)]
struct LeadLine {
    id: i64,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    property_address: Option<String>,
    roof_age_years: Option<i32>,
    issues: Vec<String>,
    timeline: Option<String>,
    budget: Option<String>,
    source: Option<String>,
    campaign: Option<String>,
    status: String,
    score: i32,
    score_band: String,
    assigned_user_id: Option<i64>,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
}

impl LeadLine {
    fn cells(self) -> Vec<String> {
        let o = |v: Option<String>| v.unwrap_or_default();
        let n = |v: Option<i64>| v.map(|n| n.to_string()).unwrap_or_default();
        vec![
            self.id.to_string(),
            o(self.name),
            o(self.email),
            o(self.phone),
            o(self.property_address),
            n(self.roof_age_years.map(i64::from)),
            self.issues.join("; "),
            o(self.timeline),
            o(self.budget),
            o(self.source),
            o(self.campaign),
            self.status,
            self.score.to_string(),
            self.score_band,
            n(self.assigned_user_id),
            o(self.notes),
            self.created_at.to_rfc3339(),
            self.last_activity_at.to_rfc3339(),
        ]
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadExportFilter {
    /// Pipeline stage.
    #[param(pattern = "^(new|contacted|inspection_scheduled|inspected|quoted|won|lost)$")]
    pub status: Option<String>,
    /// HOT, WARM or COLD (any case).
    #[param(pattern = "^(HOT|WARM|COLD|hot|warm|cold)$")]
    pub band: Option<String>,
    /// Exactly this source (`import`, `sms`, `chat`…).
    pub source: Option<String>,
    /// `me` (the signed-in user's leads), `unassigned`, or a user id.
    #[param(pattern = "^(me|unassigned|[0-9]+)$")]
    pub assigned: Option<String>,
}

/// The account's leads as CSV (streamed), oldest first; the columns are those the
/// importer reads back (`id`, `score`, `score_band`, `assigned_user_id`,
/// `last_activity_at` are for reading only).
#[utoipa::path(get, path = "/api/exports/leads.csv", tag = "exports", params(LeadExportFilter),
    responses((status = 200, content_type = "text/csv", body = String, description = "the leads, one a row, with a header"),
              (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn export_leads(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(f): Query<LeadExportFilter>,
) -> Result<Response> {
    if let Some(s) = &f.status {
        if !crate::leads::STATUSES.contains(&s.as_str()) {
            return Err(ApiError::invalid(format!(
                "status must be one of {}",
                crate::leads::STATUSES.join(", ")
            )));
        }
    }
    let band = f.band.as_deref().map(str::to_ascii_uppercase);
    if band
        .as_deref()
        .is_some_and(|b| !["HOT", "WARM", "COLD"].contains(&b))
    {
        return Err(ApiError::invalid("band must be HOT, WARM or COLD"));
    }
    if f.source.as_deref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::invalid("source is longer than 200 characters"));
    }
    let (unassigned, assignee) = crate::leads::assigned_filter(f.assigned.as_deref(), &caller)?;
    let entry = crate::audit::Entry::by(
        &caller,
        "export.leads",
        None,
        serde_json::json!({ "status": f.status, "band": band, "source": f.source, "assigned": f.assigned }),
    );
    crate::audit::record(&state.pool, entry).await?;
    let account = caller.account;
    let pool = state.pool.clone();
    let body = stream_csv(&LEAD_COLUMNS, move |sink| async move {
        let mut rows = sqlx::query_as::<_, LeadLine>(
            "select id, name, email, phone, property_address, roof_age_years, issues, timeline, budget, source,
                    campaign, status, score, score_band, assigned_user_id, notes, created_at, last_activity_at
             from leads
             where account_id = $1
               and ($2::text is null or status = $2)
               and ($3::text is null or score_band = $3)
               and ($4::text is null or source = $4)
               and (not $5 or assigned_user_id is null)
               and ($6::bigint is null or assigned_user_id = $6)
             order by id",
        )
        .bind(account)
        .bind(&f.status)
        .bind(&band)
        .bind(&f.source)
        .bind(unassigned)
        .bind(assignee)
        .fetch(&pool);
        let mut sink = sink;
        while let Some(row) = rows.next().await {
            match row {
                Ok(l) => {
                    if !sink.write(&l.cells()).await {
                        return;
                    }
                }
                Err(e) => return sink.fail(e).await,
            }
        }
        sink.finish().await;
    });
    Ok(csv_response(body, "leads"))
}

pub const COMMUNICATION_COLUMNS: [&str; 18] = [
    "id",
    "lead_id",
    "lead_name",
    "lead_email",
    "lead_phone",
    "type",
    "direction",
    "timestamp",
    "from_address",
    "to_address",
    "subject",
    "content",
    "status",
    "duration",
    "sentiment",
    "sentiment_score",
    "ai_generated",
    "provider_message_id",
];

#[derive(sqlx::FromRow)]
struct CommunicationLine {
    id: i64,
    lead_id: i64,
    lead_name: Option<String>,
    lead_email: Option<String>,
    lead_phone: Option<String>,
    r#type: String,
    direction: String,
    timestamp: DateTime<Utc>,
    from_address: Option<String>,
    to_address: Option<String>,
    subject: Option<String>,
    content: Option<String>,
    status: Option<String>,
    duration: Option<i32>,
    sentiment: Option<String>,
    sentiment_score: Option<f32>,
    ai_generated: bool,
    provider_message_id: Option<String>,
}

impl CommunicationLine {
    fn cells(self) -> Vec<String> {
        let o = |v: Option<String>| v.unwrap_or_default();
        vec![
            self.id.to_string(),
            self.lead_id.to_string(),
            o(self.lead_name),
            o(self.lead_email),
            o(self.lead_phone),
            self.r#type,
            self.direction,
            self.timestamp.to_rfc3339(),
            o(self.from_address),
            o(self.to_address),
            o(self.subject),
            o(self.content),
            o(self.status),
            self.duration.map(|d| d.to_string()).unwrap_or_default(),
            o(self.sentiment),
            self.sentiment_score
                .map(|s| s.to_string())
                .unwrap_or_default(),
            self.ai_generated.to_string(),
            o(self.provider_message_id),
        ]
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommunicationExportFilter {
    /// Only this lead's communications.
    #[param(minimum = 1)]
    pub lead_id: Option<i64>,
    /// email, sms, phone_call, chat…
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// From this time (a date, `2025-01-12`, or an RFC 3339 date-time).
    pub since: Option<String>,
    /// Before this time (a date or an RFC 3339 date-time).
    pub until: Option<String>,
}

fn time_param(v: &Option<String>, name: &str) -> Result<Option<DateTime<Utc>>> {
    v.as_deref()
        .map(|s| {
            crate::extract::parse_date_or_datetime(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "{name}: expected a date (2025-01-12) or an RFC 3339 date-time"
                ))
            })
        })
        .transpose()
}

/// The account's communications as CSV (streamed), in time order, with who the lead is.
#[utoipa::path(get, path = "/api/exports/communications.csv", tag = "exports", params(CommunicationExportFilter),
    responses((status = 200, content_type = "text/csv", body = String, description = "the communications, one a row, with a header"),
              (status = 403, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn export_communications(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(f): Query<CommunicationExportFilter>,
) -> Result<Response> {
    if let Some(k) = &f.kind {
        if k.parse::<Channel>().is_err() {
            return Err(ApiError::invalid(format!(
                "type must be one of {}",
                Channel::ALL.map(Channel::as_str).join(", ")
            )));
        }
    }
    let since = time_param(&f.since, "since")?;
    let until = time_param(&f.until, "until")?;
    let account: AccountId = caller.account;
    let entry = crate::audit::Entry::by(
        &caller,
        "export.communications",
        f.lead_id.map(|id| format!("lead:{id}")),
        serde_json::json!({ "lead_id": f.lead_id, "type": f.kind, "since": since, "until": until }),
    );
    crate::audit::record(&state.pool, entry).await?;
    let pool = state.pool.clone();
    let body = stream_csv(&COMMUNICATION_COLUMNS, move |mut sink| async move {
        let mut rows = sqlx::query_as::<_, CommunicationLine>(
            "select c.id, c.lead_id, l.name as lead_name, l.email as lead_email, l.phone as lead_phone,
                    c.type, c.direction, c.\"timestamp\", c.from_address, c.to_address, c.subject, c.content,
                    c.status, c.duration, c.sentiment, c.sentiment_score, c.ai_generated, c.provider_message_id
             from communications c join leads l on l.id = c.lead_id
             where c.account_id = $1
               and ($2::bigint is null or c.lead_id = $2)
               and ($3::text is null or c.type = $3)
               and ($4::timestamptz is null or c.\"timestamp\" >= $4)
               and ($5::timestamptz is null or c.\"timestamp\" < $5)
             order by c.\"timestamp\", c.id",
        )
        .bind(account)
        .bind(f.lead_id)
        .bind(&f.kind)
        .bind(since)
        .bind(until)
        .fetch(&pool);
        while let Some(row) = rows.next().await {
            match row {
                Ok(c) => {
                    if !sink.write(&c.cells()).await {
                        return;
                    }
                }
                Err(e) => return sink.fail(e).await,
            }
        }
        sink.finish().await;
    });
    Ok(csv_response(body, "communications"))
}

fn csv_response(body: Body, what: &str) -> Response {
    let name = format!(
        "attachment; filename=\"{what}-{}.csv\"",
        Utc::now().format("%Y-%m-%d")
    );
    (
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, name),
        ],
        body,
    )
        .into_response()
}

type Chunk = std::result::Result<Bytes, std::io::Error>;

/// Where a streamed export writes its rows: a CSV writer over a buffer sent on in chunks.
pub struct CsvSink {
    writer: csv::Writer<Vec<u8>>,
    tx: mpsc::Sender<Chunk>,
}

impl CsvSink {
    /// Writes a record (cells made spreadsheet-safe); false when the client has gone.
    pub async fn write(&mut self, cells: &[String]) -> bool {
        let safe = cells.iter().map(|c| spreadsheet_safe(c).into_owned());
        if let Err(e) = self.writer.write_record(safe) {
            tracing::error!(error = %e, "export: CSV write failed");
            return false;
        }
        if self.writer.get_ref().len() >= CHUNK {
            // (The writer's own 8 KB buffer is not counted: chunks are 64–72 KB.)
            return self.send().await;
        }
        true
    }

    async fn send(&mut self) -> bool {
        let full = std::mem::replace(&mut self.writer, record_writer());
        let Ok(buf) = full.into_inner() else {
            return false;
        };
        self.tx.send(Ok(Bytes::from(buf))).await.is_ok()
    }

    /// Sends what is left.
    pub async fn finish(mut self) {
        self.send().await;
    }

    /// Ends the body with an error, so the client sees a broken transfer, never a
    /// complete-looking short file.
    pub async fn fail(self, e: sqlx::Error) {
        tracing::error!(error = %e, "export: query failed mid-stream");
        let _ = self
            .tx
            .send(Err(std::io::Error::other("export failed")))
            .await;
    }
}

fn record_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(CHUNK + 4096))
}

/// A streamed CSV body: the header (after a UTF-8 BOM, so Excel reads accents right),
/// then whatever `produce` writes into the sink, from a task of its own.
fn stream_csv<F, Fut>(header: &[&str], produce: F) -> Body
where
    F: FnOnce(CsvSink) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Chunk>(4);
    let mut buf = b"\xEF\xBB\xBF".to_vec();
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        let _ = w.write_record(header);
        let _ = w.flush();
    }
    let writer = record_writer();
    let _ = tx.try_send(Ok(Bytes::from(buf)));
    tokio::spawn(produce(CsvSink { writer, tx }));
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|c| (c, rx))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_shown_never_run() {
        for (cell, safe) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+13126412278", "'+13126412278"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("Ann", "Ann"),
            ("", ""),
            ("a=b", "a=b"),
        ] {
            assert_eq!(spreadsheet_safe(cell), safe);
            assert_eq!(
                crate::imports::csv_map::cell_value(&spreadsheet_safe(cell)),
                crate::imports::csv_map::cell_value(cell),
                "{cell:?} reads back as it was"
            );
        }
    }
}
