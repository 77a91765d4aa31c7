//! CSV import of leads, from the command line (`leadline import leads`) and the API
//! (`POST /api/imports`), one path for both:
//!
//! - [`text`]: bytes to records (encodings, BOM, NUL, delimiter, quoted line breaks).
//! - [`csv_map`]: which column fills which lead field; a record read into a lead.
//! - [`plan`]: duplicates within the file; filling an existing lead's empty fields.
//! - [`run`]: the set-wise write (500 rows a statement and a transaction) and its report.
//! - [`api`]: `POST /api/imports` (preview, dry run, import). [`command`]: the CLI.
//!
//! Imported leads are history, not news: they carry `imported_at`, which the new-lead
//! and HOT alerts (`alerts::scan`) and the sequence triggers (`automations::run`) read
//! to leave them alone until something happens after the import. Instant answers key on
//! a lead's first inbound text, which an import never writes.

pub mod api;
pub mod command;
pub mod csv_map;
pub mod plan;
pub mod run;
pub mod text;

use serde::Serialize;
use utoipa::ToSchema;

/// Rows written per statement.
pub const BATCH_ROWS: usize = 500;
/// The largest file the API takes.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;

/// A row left out, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SkippedRow {
    /// Row number as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    /// `no email or phone`, `phone '12' is not a phone number`, `duplicate of row 12`…
    pub reason: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    /// Data rows in the file (empty lines not counted).
    pub rows: u64,
    /// New leads.
    pub created: u64,
    /// Existing leads (same email or phone) whose empty fields the file filled.
    pub updated: u64,
    /// Existing leads the file had nothing new for.
    pub unchanged: u64,
    pub skipped: u64,
    /// Every skipped row with its reason, in row order.
    pub skipped_rows: Vec<SkippedRow>,
    /// The file's columns, as in its header.
    pub columns: Vec<String>,
    /// Each lead field and the column that filled it.
    pub mapping: Vec<csv_map::MappedField>,
    /// `utf-8`, `utf-16le`, `utf-16be` or `windows-1252`.
    pub encoding: String,
    pub delimiter: String,
    pub elapsed_ms: u64,
}
