//! `leadline import leads FILE.csv --account ID`: the import from the command line, with
//! a progress bar on a terminal, the skipped rows and why on stderr (and, with
//! `--report`, as a CSV of those rows with a reason column), the report as JSON on stdout.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Context as _;

use super::ImportReport;
use crate::domain::AccountId;

/// Skipped rows listed on stderr; beyond that, `--report` has them all.
const LISTED: usize = 100;

#[derive(Debug, clap::Args)]
pub struct LeadsArgs {
    /// The CSV file (UTF-8, UTF-16 with a BOM, or Latin-1/Windows-1252; `,` `;` tab or `|`).
    pub file: PathBuf,
    #[arg(long)]
    pub account: i64,
    /// `field=Column header` (repeatable): email, phone, name, first_name, last_name,
    /// address, street, city, state, zip, status, source, campaign, roof_age, issues, timeline,
    /// budget, notes, created. Without it, columns are found from common header names;
    /// `field=` leaves a field out.
    #[arg(long = "map", value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
    /// Check and report; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write the skipped rows, with a `reason` column, to this CSV file.
    #[arg(long, value_name = "FILE.csv")]
    pub report: Option<PathBuf>,
    /// Show the progress bar even when stderr is not a terminal.
    #[arg(long)]
    pub progress: bool,
}

pub async fn run(
    pool: sqlx::PgPool,
    region: phonenumber::country::Id,
    args: LeadsArgs,
) -> anyhow::Result<()> {
    let choices = args
        .map
        .iter()
        .map(|m| {
            m.split_once('=')
                .map(|(f, c)| (f.trim().to_string(), c.to_string()))
                .ok_or_else(|| anyhow::anyhow!("--map {m:?}: expected FIELD=COLUMN"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let file = super::run::prepare(&bytes, &choices).map_err(|e| anyhow::anyhow!(e.to_string()))?;
    let account = AccountId(args.account);
    let cx = super::run::context(&pool, account, region)
        .await
        .map_err(|_| anyhow::anyhow!("no account with id {account}"))?;
    let bar = if args.progress || std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(file.table.records.len() as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:30}] {pos}/{len} rows ({elapsed})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let audit = crate::audit::Entry {
        account,
        user_id: None,
        api_key_id: None,
        actor: "command line".into(),
        action: "import.leads",
        target: None,
        details: serde_json::json!({
            "via": "cli",
            "file": args.file.file_name().map(|f| f.to_string_lossy().to_string()),
            "bytes": bytes.len(),
        }),
        ip: None,
    };
    let progress_bar = bar.clone();
    let mut progress = move |done: u64| progress_bar.set_position(done);
    let report = super::run::import(
        &pool,
        account,
        &file,
        &cx,
        args.dry_run,
        Some(audit),
        &mut progress,
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.to_string()))?;
    bar.finish_and_clear();
    if let Some(path) = &args.report {
        write_report(path, &file.table, &report)?;
    }
    list_skipped(&report, args.report.is_some());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn list_skipped(report: &ImportReport, has_file: bool) {
    for s in report.skipped_rows.iter().take(LISTED) {
        eprintln!("row {}: {}", s.row, s.reason);
    }
    if report.skipped_rows.len() > LISTED {
        eprintln!(
            "… and {} more skipped rows{}",
            report.skipped_rows.len() - LISTED,
            if has_file {
                ""
            } else {
                " (--report FILE.csv lists them all)"
            }
        );
    }
    eprintln!(
        "{}{} created, {} updated, {} unchanged, {} skipped of {} rows in {} ms",
        if report.dry_run { "dry run: " } else { "" },
        report.created,
        report.updated,
        report.unchanged,
        report.skipped,
        report.rows,
        report.elapsed_ms
    );
}

/// The skipped rows as they were in the file, after `row` and `reason` columns.
fn write_report(
    path: &std::path::Path,
    table: &super::text::Table,
    report: &ImportReport,
) -> anyhow::Result<()> {
    let cells: HashMap<u64, &Vec<String>> = table.records.iter().map(|(r, c)| (*r, c)).collect();
    let file =
        std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut w = csv::WriterBuilder::new().flexible(true).from_writer(file);
    let mut header = vec!["row".to_string(), "reason".to_string()];
    header.extend(table.headers.iter().cloned());
    w.write_record(&header)?;
    for s in &report.skipped_rows {
        let mut rec = vec![s.row.to_string(), s.reason.clone()];
        if let Some(c) = cells.get(&s.row) {
            rec.extend(c.iter().cloned());
        }
        w.write_record(&rec)?;
    }
    w.flush()?;
    Ok(())
}
