//! The import itself: every row read and checked, duplicates within the file set aside,
//! then, 500 rows at a time, the existing leads of those emails and phones read in one
//! statement, the new leads written in one `INSERT … ON CONFLICT DO NOTHING`, the empty
//! fields of existing ones filled in one `UPDATE`, and the scores of all of them stored in
//! one more. Each batch is a transaction of its own: a new lead's assignment trigger
//! holds the account's round-robin row until commit, and live leads must not wait for a
//! whole file. An import stopped midway is finished by running it again (the rows already
//! in are then "unchanged"). A dry run does the same reads and writes nothing.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use super::csv_map::{parse_row, Context, LeadRow, Mapping};
use super::plan::{dedupe, fill, Existing, Fill};
use super::text::Table;
use super::{ImportReport, SkippedRow, BATCH_ROWS};
use crate::domain::AccountId;
use crate::error::{ApiError, Result};
use crate::leads::store::{compute, snapshots, LeadKey, REFRESH_WINDOW};

/// Separates a lead's issues in one text value (arrays of arrays do not `unnest` row by
/// row); no cell holds it, as control characters are not issue names.
const ISSUE_SEP: char = '\u{1f}';

/// A file read, and which column fills which field.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub table: Table,
    pub mapping: Mapping,
}

/// Reads the file and works out the mapping: detected from the headers, then the
/// caller's `field=Column` choices. The error is about the file or a choice (a 422).
pub fn prepare(bytes: &[u8], choices: &[(String, String)]) -> Result<Prepared> {
    let table = super::text::read(bytes).map_err(|e| ApiError::invalid(format!("file: {e}")))?;
    let mut mapping = Mapping::detect(&table.headers);
    for (field, column) in choices {
        mapping.set(field, column).map_err(ApiError::invalid)?;
    }
    mapping.check().map_err(ApiError::invalid)?;
    Ok(Prepared { table, mapping })
}

/// The account's time zone and the configured phone region, for reading rows.
pub async fn context(
    pool: &PgPool,
    account: AccountId,
    region: phonenumber::country::Id,
) -> Result<Context> {
    let tz: Option<String> = sqlx::query_scalar("select timezone from accounts where id = $1")
        .bind(account)
        .fetch_optional(pool)
        .await?;
    let tz = tz.ok_or(ApiError::NotFound("account"))?;
    Ok(Context {
        region,
        zone: crate::hours::Zone::parse(&tz).unwrap_or_default(),
        now: Utc::now(),
    })
}

/// Every record read: the leads, and the rows skipped with their reason.
pub fn read_rows(
    table: &Table,
    mapping: &Mapping,
    cx: &Context,
) -> (Vec<LeadRow>, Vec<SkippedRow>) {
    let mut leads = Vec::with_capacity(table.records.len());
    let mut skipped = Vec::new();
    for (row, cells) in &table.records {
        match parse_row(mapping, *row, cells, cx) {
            Ok(l) => leads.push(l),
            Err(reason) => skipped.push(SkippedRow { row: *row, reason }),
        }
    }
    (leads, skipped)
}

/// Imports the file's leads into the account (or, with `dry_run`, reports what it would
/// do). `audit`, when given, is recorded with the counts once the last batch is in.
/// `progress` is told how many data rows are done, after each batch.
pub async fn import(
    pool: &PgPool,
    account: AccountId,
    file: &Prepared,
    cx: &Context,
    dry_run: bool,
    audit: Option<crate::audit::Entry<'_>>,
    progress: &mut (dyn FnMut(u64) + Send),
) -> Result<ImportReport> {
    let started = Instant::now();
    let (table, mapping) = (&file.table, &file.mapping);
    let (rows, mut skipped) = read_rows(table, mapping, cx);
    let (rows, dupes) = dedupe(rows);
    skipped.extend(
        dupes
            .into_iter()
            .map(|(row, reason)| SkippedRow { row, reason }),
    );
    let mut done = skipped.len() as u64;
    progress(done);
    let mut counts = Counts::default();
    let mut matched: HashMap<i64, u64> = HashMap::new();
    for batch in rows.chunks(BATCH_ROWS) {
        let mut tx = crate::db::begin(pool).await?;
        let plan = classify(&mut tx, account, batch, &mut matched, dry_run).await?;
        skipped.extend(plan.skipped);
        counts.unchanged += plan.unchanged;
        if dry_run {
            counts.created += plan.creates.len() as u64;
            counts.updated += plan.fills.len() as u64;
        } else {
            let (created, lost) = insert(&mut tx, account, &plan.creates).await?;
            skipped.extend(lost);
            update(&mut tx, account, &plan.fills).await?;
            counts.created += created.len() as u64;
            counts.updated += plan.fills.len() as u64;
            let ids: Vec<i64> = created
                .into_iter()
                .chain(plan.fills.iter().map(|f| f.lead_id))
                .collect();
            rescore(&mut tx, account, &ids).await?;
        }
        if dry_run {
            tx.rollback().await?;
        } else {
            tx.commit().await?;
        }
        done += batch.len() as u64;
        progress(done);
    }
    skipped.sort_by_key(|s| s.row);
    let report = ImportReport {
        dry_run,
        rows: table.records.len() as u64,
        created: counts.created,
        updated: counts.updated,
        unchanged: counts.unchanged,
        skipped: skipped.len() as u64,
        skipped_rows: skipped,
        columns: table.headers.clone(),
        mapping: mapping.fields(),
        encoding: table.encoding.to_string(),
        delimiter: table.delimiter.to_string(),
        elapsed_ms: 0,
    };
    if !dry_run {
        if let Some(mut entry) = audit {
            if let Some(details) = entry.details.as_object_mut() {
                details.insert("rows".into(), report.rows.into());
                details.insert("created".into(), report.created.into());
                details.insert("updated".into(), report.updated.into());
                details.insert("unchanged".into(), report.unchanged.into());
                details.insert("skipped".into(), report.skipped.into());
            }
            crate::audit::record(pool, entry).await?;
        }
    }
    Ok(ImportReport {
        elapsed_ms: started.elapsed().as_millis() as u64,
        ..report
    })
}

#[derive(Default)]
struct Counts {
    created: u64,
    updated: u64,
    unchanged: u64,
}

/// One batch sorted: new leads, fills of existing leads, and rows with nothing to do.
struct Plan<'a> {
    creates: Vec<&'a LeadRow>,
    fills: Vec<Fill>,
    unchanged: u64,
    skipped: Vec<SkippedRow>,
}

async fn classify<'a>(
    conn: &mut PgConnection,
    account: AccountId,
    batch: &'a [LeadRow],
    matched: &mut HashMap<i64, u64>,
    dry_run: bool,
) -> Result<Plan<'a>> {
    let emails: Vec<&str> = batch.iter().filter_map(|r| r.email.as_deref()).collect();
    let phones: Vec<&str> = batch.iter().filter_map(|r| r.phone.as_deref()).collect();
    // Locked so no one changes them between this read and the fill (not in a dry run,
    // which must not hold up anyone).
    let lock = if dry_run { "" } else { "for no key update" };
    let existing: Vec<Existing> = sqlx::query_as(&format!(
        "select id, name, email, phone, property_address, roof_age_years, issues, timeline, budget, source, campaign, notes
         from leads where account_id = $1 and (email = any($2) or phone = any($3)) {lock}"
    ))
    .bind(account)
    .bind(&emails)
    .bind(&phones)
    .fetch_all(&mut *conn)
    .await?;
    let by_email: HashMap<&str, &Existing> = existing
        .iter()
        .filter_map(|l| Some((l.email.as_deref()?, l)))
        .collect();
    let by_phone: HashMap<&str, &Existing> = existing
        .iter()
        .filter_map(|l| Some((l.phone.as_deref()?, l)))
        .collect();
    let mut plan = Plan {
        creates: Vec::new(),
        fills: Vec::new(),
        unchanged: 0,
        skipped: Vec::new(),
    };
    for r in batch {
        let email_owner = r.email.as_deref().and_then(|e| by_email.get(e)).copied();
        let phone_owner = r.phone.as_deref().and_then(|p| by_phone.get(p)).copied();
        let Some(lead) = email_owner.or(phone_owner) else {
            plan.creates.push(r);
            continue;
        };
        // Two rows of the file (different emails, phones) may be one existing lead.
        if let Some(first) = matched.get(&lead.id) {
            plan.skipped.push(SkippedRow {
                row: r.row,
                reason: format!("duplicate of row {first} (both are lead {})", lead.id),
            });
            continue;
        }
        matched.insert(lead.id, r.row);
        let email_free = email_owner.is_none_or(|o| o.id == lead.id);
        let phone_free = phone_owner.is_none_or(|o| o.id == lead.id);
        let f = fill(lead, r, email_free, phone_free);
        if f.is_empty() {
            plan.unchanged += 1;
        } else {
            plan.fills.push(f);
        }
    }
    Ok(plan)
}

fn issues_text(list: &[String]) -> Option<String> {
    (!list.is_empty()).then(|| {
        list.iter()
            .map(|s| s.replace(ISSUE_SEP, " "))
            .collect::<Vec<_>>()
            .join(&ISSUE_SEP.to_string())
    })
}

/// Writes the new leads; their ids, and the rows another writer beat us to (a lead with
/// that email or phone was created meanwhile).
async fn insert(
    conn: &mut PgConnection,
    account: AccountId,
    rows: &[&LeadRow],
) -> Result<(Vec<i64>, Vec<SkippedRow>)> {
    if rows.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let col = |f: fn(&LeadRow) -> Option<String>| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let roof: Vec<Option<i32>> = rows.iter().map(|r| r.roof_age_years).collect();
    let created: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.created_at).collect();
    // A new lead's alerts, first answer and sequences key on it being new: `imported_at`
    // tells them it is not (see the migration 20261207000030_imports.sql).
    let written: Vec<(i64, Option<String>, Option<String>)> = sqlx::query_as(
        "insert into leads (account_id, name, email, phone, property_address, roof_age_years, issues, timeline,
                            budget, source, campaign, status, notes, created_at, last_activity_at, updated_at, imported_at)
         select $1, r.name, r.email, r.phone, r.address, r.roof_age,
                coalesce(string_to_array(r.issues, E'\\x1f'), '{}'), r.timeline, r.budget,
                coalesce(r.source, 'import'), r.campaign, coalesce(r.status, 'new'), r.notes,
                coalesce(r.created, now()), coalesce(r.created, now()), now(), now()
         from unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int4[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::timestamptz[])
              as r(name, email, phone, address, roof_age, issues, timeline, budget, source, campaign, status, notes, created)
         on conflict do nothing
         returning id, email, phone",
    )
    .bind(account)
    .bind(col(|r| r.name.clone()))
    .bind(col(|r| r.email.clone()))
    .bind(col(|r| r.phone.clone()))
    .bind(col(|r| r.property_address.clone()))
    .bind(roof)
    .bind(col(|r| issues_text(&r.issues)))
    .bind(col(|r| r.timeline.clone()))
    .bind(col(|r| r.budget.clone()))
    .bind(col(|r| r.source.clone()))
    .bind(col(|r| r.campaign.clone()))
    .bind(col(|r| r.status.clone()))
    .bind(col(|r| r.notes.clone()))
    .bind(created)
    .fetch_all(&mut *conn)
    .await?;
    let mut lost = Vec::new();
    if written.len() < rows.len() {
        let emails: HashSet<&str> = written.iter().filter_map(|w| w.1.as_deref()).collect();
        let phones: HashSet<&str> = written.iter().filter_map(|w| w.2.as_deref()).collect();
        for r in rows {
            let in_written = r.email.as_deref().is_some_and(|e| emails.contains(e))
                || r.phone.as_deref().is_some_and(|p| phones.contains(p));
            if !in_written {
                lost.push(SkippedRow {
                    row: r.row,
                    reason: "a lead with this email or phone was created during the import: import again to fill it".into(),
                });
            }
        }
    }
    Ok((written.into_iter().map(|w| w.0).collect(), lost))
}

/// Fills existing leads' empty fields (`coalesce` again in SQL, so a value someone set
/// meanwhile is not overwritten either). `updated_at` is left alone on purpose: the
/// stage trigger of sequences reads it as "the stage may have just changed", and an
/// import never changes a stage.
async fn update(conn: &mut PgConnection, account: AccountId, fills: &[Fill]) -> Result<()> {
    if fills.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Fill) -> Option<String>| fills.iter().map(f).collect::<Vec<_>>();
    sqlx::query(
        "update leads l set
            name = coalesce(l.name, u.name), email = coalesce(l.email, u.email),
            phone = coalesce(l.phone, u.phone), property_address = coalesce(l.property_address, u.address),
            roof_age_years = coalesce(l.roof_age_years, u.roof_age),
            issues = case when cardinality(l.issues) = 0 and u.issues is not null
                          then string_to_array(u.issues, E'\\x1f') else l.issues end,
            timeline = coalesce(l.timeline, u.timeline), budget = coalesce(l.budget, u.budget),
            source = coalesce(l.source, u.source), campaign = coalesce(l.campaign, u.campaign),
            notes = coalesce(l.notes, u.notes)
         from unnest($2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int4[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
              as u(id, name, email, phone, address, roof_age, issues, timeline, budget, source, campaign, notes)
         where l.id = u.id and l.account_id = $1",
    )
    .bind(account)
    .bind(fills.iter().map(|f| f.lead_id).collect::<Vec<_>>())
    .bind(col(|f| f.name.clone()))
    .bind(col(|f| f.email.clone()))
    .bind(col(|f| f.phone.clone()))
    .bind(col(|f| f.property_address.clone()))
    .bind(fills.iter().map(|f| f.roof_age_years).collect::<Vec<_>>())
    .bind(col(|f| f.issues.as_deref().and_then(issues_text)))
    .bind(col(|f| f.timeline.clone()))
    .bind(col(|f| f.budget.clone()))
    .bind(col(|f| f.source.clone()))
    .bind(col(|f| f.campaign.clone()))
    .bind(col(|f| f.notes.clone()))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Stores the score, band and insights of the leads (read in one statement, written in one).
async fn rescore(conn: &mut PgConnection, account: AccountId, ids: &[i64]) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let keys: Vec<(AccountId, LeadKey<'_>)> =
        ids.iter().map(|id| (account, LeadKey::Id(*id))).collect();
    let snaps = snapshots(&mut *conn, &keys, REFRESH_WINDOW).await?;
    let now = Utc::now();
    let (mut lead_ids, mut scores, mut bands, mut breakdowns, mut insights) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for snap in snaps.into_iter().flatten() {
        let mut facts = snap.facts;
        let s = compute(&mut facts, &snap.touches, snap.zone, now, false);
        lead_ids.push(snap.lead_id);
        scores.push(s.score);
        bands.push(s.band);
        breakdowns.push(s.breakdown);
        insights.push(s.insights);
    }
    sqlx::query(
        "update leads l set score = u.score, score_band = u.band, score_breakdown = u.breakdown, insights = u.insights
         from unnest($2::int8[], $3::int4[], $4::text[], $5::jsonb[], $6::jsonb[]) as u(id, score, band, breakdown, insights)
         where l.id = u.id and l.account_id = $1",
    )
    .bind(account)
    .bind(lead_ids)
    .bind(scores)
    .bind(bands)
    .bind(breakdowns)
    .bind(insights)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
