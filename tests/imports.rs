//! CSV import and export through HTTP and the command line: 10,000 rows with duplicates
//! (within the file and against existing leads) and bad rows give exact counts and
//! reasons, a dry run writes nothing, imported leads raise no new-lead alert and enter no
//! new-lead sequence, an export re-imports with zero changes and the same values, exports
//! stream, are spreadsheet-safe, audited and never hold another account's leads, and a
//! Latin-1 file with `;` and CRLF reads right.

mod common;
#[path = "web_support/mod.rs"]
mod web_support;

use std::collections::HashMap;
use std::process::Command;
use std::time::Instant;

use common::{spawn_app_with, Resp, TestApp};
use leadline::auth::Role;
use serde_json::{json, Value};

async fn import(app: &TestApp, key: &str, query: &str, body: Vec<u8>) -> Resp {
    app.send(
        app.http
            .post(format!("{}/api/imports{query}", app.base))
            .bearer_auth(key)
            .header("content-type", "text/csv")
            .body(body),
    )
    .await
}

/// The export's text (BOM removed) after checking it is a CSV attachment.
async fn export(app: &TestApp, key: &str, path: &str) -> String {
    let r = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}");
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename="));
    let bytes = r.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for Excel");
    String::from_utf8(bytes[3..].to_vec()).unwrap()
}

/// Rows of a CSV text as header → cell maps.
fn rows(text: &str) -> Vec<HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            headers
                .iter()
                .zip(rec.iter())
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

async fn lead_count(app: &TestApp, account: i64) -> i64 {
    sqlx::query_scalar("select count(*) from leads where account_id = $1")
        .bind(account)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn csv_line(cells: &[&str]) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(cells).unwrap();
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

/// 10,000 rows (row numbers i + 2): every thousand, rows 13, 17 and 19 are bad, row 29
/// repeats row 28's email; rows 100, 200, 300 are existing leads.
fn big_file() -> Vec<u8> {
    let mut out =
        String::from("Full Name,E-mail,Cell Phone,Street,City,State,Zip,Stage,Roof Age,Notes\r\n");
    for i in 0..10_000u32 {
        let name = format!("Lead {i}");
        let mut email = format!("lead{i}@example.com");
        let mut phone = format!("(312) 641-{i:04}");
        match (i % 1000, i) {
            (_, 100) => email = "existing1@x.co".into(),
            (_, 200) => {
                email = String::new();
                phone = "+1 773 641 9001".into();
            }
            (_, 300) => {
                email = "existing3@x.co".into();
                phone = "(773) 641-9003".into();
            }
            (13, _) => {
                email.clear();
                phone.clear();
            }
            (17, _) => {
                email.clear();
                phone = "12".into();
            }
            (19, _) => email = "not-an-email".into(),
            (29, _) => email = format!("lead{}@example.com", i - 1),
            _ => {}
        }
        out.push_str(&csv_line(&[
            &name,
            &email,
            &phone,
            &format!("{i} Main St"),
            "Springfield",
            "IL",
            "62701",
            if i % 7 == 0 { "Quoted" } else { "new" },
            &format!("{}", i % 40),
            if i % 3 == 0 {
                "gate code 1234, call first"
            } else {
                ""
            },
        ]));
    }
    out.into_bytes()
}

#[tokio::test]
async fn ten_thousand_rows_with_duplicates_and_bad_rows_import_with_exact_counts_and_no_new_lead_alerts(
) {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let _owner = web_support::person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    // The ready-made sequences turned on: new-lead follow-up, quote follow-up, review request…
    let seqs = app.get(&a.key, "/api/sequences").await;
    let mut new_lead_seq = 0;
    for s in seqs.body.as_array().unwrap() {
        let id = s["id"].as_i64().unwrap();
        if s["key"] == "new_lead" {
            new_lead_seq = id;
        }
        let on = app
            .patch(
                &a.key,
                &format!("/api/sequences/{id}"),
                json!({"enabled": true}),
            )
            .await;
        assert_eq!(on.status, 200, "{}", on.body);
    }
    // Existing leads: one the file fills, two it has nothing new for.
    for body in [
        json!({"name": "Existing One", "email": "existing1@x.co"}),
        json!({"name": "Existing Two", "phone": "(773) 641-9001", "roof_age_years": 20,
               "property_address": "Somewhere else"}),
        json!({"name": "Lead 300", "email": "existing3@x.co", "phone": "(773) 641-9003",
               "property_address": "300 Main St, Springfield, IL 62701", "roof_age_years": 20,
               "status": "quoted", "source": "referral"}),
    ] {
        let r = app.post(&a.key, "/api/leads", body).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    sqlx::query("update leads set notes = 'known' where email = 'existing3@x.co'")
        .execute(&app.pool)
        .await
        .unwrap();
    // Existing leads are older than the new-lead alerts care about.
    let file = big_file();

    let dry = import(&app, &a.key, "?dry_run=true", file.clone()).await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(lead_count(&app, a.id).await, 3, "a dry run writes nothing");
    let audits: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'import.leads'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audits, 0);

    let started = Instant::now();
    let r = import(&app, &a.key, "", file).await;
    let took = started.elapsed();
    eprintln!(
        "import of 10,000 rows over HTTP: {} ms (server: {} ms)",
        took.as_millis(),
        r.body["elapsed_ms"]
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (k, want) in [
        ("rows", 10_000),
        ("created", 9_957),
        ("updated", 1),
        ("unchanged", 2),
        ("skipped", 40),
    ] {
        assert_eq!(r.body[k], want, "{k}: {}", r.body);
        assert_eq!(dry.body[k], want, "dry run {k}");
    }
    assert_eq!(r.body["dry_run"], false);
    assert_eq!(dry.body["dry_run"], true);
    let skipped: HashMap<u64, String> = r.body["skipped_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["row"].as_u64().unwrap(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 40);
    for k in 0..10u64 {
        let base = k * 1000 + 2;
        assert_eq!(skipped[&(base + 13)], "no email or phone");
        assert_eq!(skipped[&(base + 17)], "phone '12' is not a phone number");
        assert_eq!(
            skipped[&(base + 19)],
            "email 'not-an-email' is not an email address"
        );
        assert_eq!(
            skipped[&(base + 29)],
            format!("duplicate of row {}", base + 28)
        );
    }
    let mapping: HashMap<String, Value> = r.body["mapping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["field"].as_str().unwrap().to_string(),
                m["column"].clone(),
            )
        })
        .collect();
    assert_eq!(mapping["email"], "E-mail");
    assert_eq!(mapping["phone"], "Cell Phone");
    assert_eq!(mapping["status"], "Stage");
    assert_eq!(mapping["source"], Value::Null);
    assert!(took.as_secs() < 30, "10,000 rows took {took:?}");

    assert_eq!(lead_count(&app, a.id).await, 3 + 9_957);
    // The existing lead got its empty fields, not a new name.
    let one: (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    ) = sqlx::query_as(
        "select name, phone, property_address, notes from leads where email = 'existing1@x.co'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(one.0.as_deref(), Some("Existing One"));
    assert_eq!(one.1.as_deref(), Some("+13126410100"));
    assert_eq!(one.2.as_deref(), Some("100 Main St, Springfield, IL 62701"));
    let three: (Option<String>, String, Option<String>) =
        sqlx::query_as("select source, status, notes from leads where email = 'existing3@x.co'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        three,
        (
            Some("referral".into()),
            "quoted".into(),
            Some("known".into())
        )
    );
    // New leads: source import, the stage, notes, a score, marked imported.
    let l: (Option<String>, String, Option<String>, Option<i32>, i32, bool) = sqlx::query_as(
        "select source, status, notes, roof_age_years, score, imported_at is not null from leads where email = 'lead21@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(l.0.as_deref(), Some("import"));
    assert_eq!(l.1, "quoted");
    assert_eq!(l.2.as_deref(), Some("gate code 1234, call first"));
    assert_eq!(l.3, Some(21));
    assert!(l.4 > 50, "scored: contact and address count ({})", l.4);
    assert!(l.5);

    // The live flow: a lead that comes in now is announced and enrolled; imported ones are not.
    let fresh = app
        .post(
            &a.key,
            "/api/leads",
            json!({"name": "Walk In", "phone": "(847) 641-0001"}),
        )
        .await;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
    let now = chrono::Utc::now();
    leadline::alerts::scan::run(&app.state, now).await.unwrap();
    leadline::automations::run::enrol_by_triggers(&app.pool, now)
        .await
        .unwrap();
    let alerted: Vec<i64> =
        sqlx::query_scalar("select lead_id from alerts where kind = 'new_lead'")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    // The walk-in and the three leads made through the API before the import; no imported one.
    assert_eq!(alerted.len(), 4, "{alerted:?}");
    assert!(alerted.contains(&fresh.body["id"].as_i64().unwrap()));
    let imported_alerted: i64 = sqlx::query_scalar(
        "select count(*) from alerts a join leads l on l.id = a.lead_id where l.imported_at is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(imported_alerted, 0);
    let enrolled: Vec<i64> =
        sqlx::query_scalar("select lead_id from sequence_enrollments where sequence_id = $1")
            .bind(new_lead_seq)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(enrolled.len(), 4, "{enrolled:?}");
    assert!(enrolled.contains(&fresh.body["id"].as_i64().unwrap()));
    // Nor does an imported quoted lead get the quote follow-up (its stage is history).
    let imported_enrolled: i64 = sqlx::query_scalar(
        "select count(*) from sequence_enrollments e join leads l on l.id = e.lead_id where l.imported_at is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(imported_enrolled, 0);
    let hot_imported: i64 = sqlx::query_scalar(
        "select count(*) from leads where imported_at is not null and score_band = 'HOT'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(hot_imported > 100, "HOT imported leads: {hot_imported}");
    let hot: i64 = sqlx::query_scalar(
        "select count(*) from alerts a join leads l on l.id = a.lead_id where a.kind = 'hot_lead' and l.imported_at is not null",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(hot, 0);

    let audit = app.get(&a.key, "/api/audit?action=import.").await;
    let entry = &audit.body["items"][0];
    assert_eq!(entry["action"], "import.leads");
    assert_eq!(entry["details"]["created"], 9_957);

    // The same file again changes nothing.
    let again = import(&app, &a.key, "", big_file()).await;
    assert_eq!(again.body["created"], 0, "{}", again.body);
    assert_eq!(again.body["updated"], 0);
    assert_eq!(again.body["unchanged"], 9_960);
}

#[tokio::test]
async fn an_export_reimports_with_zero_changes_and_the_same_values_and_formulas_are_escaped() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let b = app.account("Other Roofing").await;
    let file = "name,email,phone,address,status,source,campaign,roof age,issues,timeline,budget,notes,created\n\
        \"Lee, Ann \"\"Annie\"\"\",ann@x.co,(312) 641-2278,\"1 Main St\nUnit 2\",quoted,Angi,Spring storm,15,leak; hail damage,asap,\"$12,000\",\"two\nlines\",2025-01-12T09:30:00Z\n\
        \"=HYPERLINK(\"\"http://evil.test\"\")\",evil@x.co,,,new,,,,,,,@SUM(A1),2025-02-01\n\
        Bob,,+44 20 7946 0958,,won,Referral,,,,,,-5 stars,\n";
    let r = import(&app, &a.key, "", file.as_bytes().to_vec()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["created"], 3, "{}", r.body);
    let made = app
        .post(
            &a.key,
            "/api/leads",
            json!({"name": "José Müller", "email": "jose@x.co", "source": "sms"}),
        )
        .await;
    assert_eq!(made.status, 201);

    let text = export(&app, &a.key, "/api/exports/leads.csv").await;
    // CSV injection: every formula-looking cell starts with '.
    assert!(
        text.contains("'=HYPERLINK(\"\"http://evil.test\"\")"),
        "{text}"
    );
    assert!(
        text.contains("'@SUM(A1)") && text.contains("'-5 stars") && text.contains("'+13126412278")
    );
    let exported = rows(&text);
    assert_eq!(exported.len(), 4);
    for row in &exported {
        for (k, v) in row {
            assert!(!v.starts_with(['=', '+', '-', '@']), "{k}: {v}");
        }
    }
    let ann = exported.iter().find(|r| r["email"] == "ann@x.co").unwrap();
    assert_eq!(ann["name"], "Lee, Ann \"Annie\"");
    assert_eq!(ann["property_address"], "1 Main St\nUnit 2");
    assert_eq!(ann["issues"], "leak; hail damage");
    assert_eq!(ann["created_at"], "2025-01-12T09:30:00+00:00");
    assert_eq!(ann["source"], "Angi");
    assert_eq!(ann["campaign"], "Spring storm");
    assert_eq!(ann["notes"], "two\nlines");

    // Back into the same account: nothing changes.
    let again = import(&app, &a.key, "", text.clone().into_bytes()).await;
    assert_eq!(again.status, 200, "{}", again.body);
    for (k, want) in [
        ("created", 0),
        ("updated", 0),
        ("unchanged", 4),
        ("skipped", 0),
    ] {
        assert_eq!(again.body[k], want, "{k}: {}", again.body);
    }
    assert_eq!(export(&app, &a.key, "/api/exports/leads.csv").await, text);

    // Into an empty account: the same leads, value for value.
    let moved = import(&app, &b.key, "", text.clone().into_bytes()).await;
    assert_eq!(moved.body["created"], 4, "{}", moved.body);
    let copy = rows(&export(&app, &b.key, "/api/exports/leads.csv").await);
    let by_email = |rows: &[HashMap<String, String>]| -> HashMap<String, HashMap<String, String>> {
        rows.iter()
            .map(|r| {
                let mut r = r.clone();
                for k in ["id", "assigned_user_id", "last_activity_at"] {
                    r.remove(k);
                }
                (format!("{}{}", r["email"], r["phone"]), r)
            })
            .collect()
    };
    let (mut original, copied) = (by_email(&exported), by_email(&copy));
    // The lead made through the API came in "now"; its copy keeps that time too.
    assert_eq!(original.len(), copied.len());
    for (k, row) in original.iter_mut() {
        assert_eq!(Some(&*row), copied.get(k), "{k}");
    }

    // Tenant isolation: B's export of its own leads never shows A's, and A's filters work.
    let c = app.account("Third Roofing").await;
    let empty = rows(&export(&app, &c.key, "/api/exports/leads.csv").await);
    assert!(empty.is_empty());
    let won = rows(&export(&app, &a.key, "/api/exports/leads.csv?status=won").await);
    assert_eq!(won.len(), 1);
    assert_eq!(won[0]["name"], "Bob");
    let angi = rows(&export(&app, &a.key, "/api/exports/leads.csv?source=Angi").await);
    assert_eq!(angi.len(), 1);
    let bad = app
        .get(&a.key, "/api/exports/leads.csv?status=signed")
        .await;
    assert_eq!(bad.status, 422);
    let audit = app.get(&a.key, "/api/audit?action=export.").await;
    let items = audit.body["items"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|e| e["action"] == "export.leads" && e["details"]["status"] == "won"),
        "{}",
        audit.body
    );
}

#[tokio::test]
async fn communications_export_streams_every_touch_with_filters() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let b = app.account("Other Roofing").await;
    let filler = "Hail hit us last night, shingles everywhere, when can you come out? ".repeat(3);
    let mut sent = Vec::new();
    for chunk in (0..1200).collect::<Vec<u32>>().chunks(60) {
        let calls = chunk.iter().map(|i| {
            let body = json!({
                "type": if i % 2 == 0 { "sms" } else { "email" },
                "direction": "inbound",
                "from_address": if i % 2 == 0 { format!("(312) 641-{:04}", i % 50) } else { format!("lead{}@x.co", i % 50) },
                "content": if *i == 7 { "=cmd|' /C calc'!A0".to_string() } else { format!("{i}: {filler}\nsecond line, with comma") },
                "provider_message_id": format!("m{i}"),
            });
            app.log(&a.key, body)
        });
        for r in futures_util::future::join_all(calls).await {
            assert_eq!(r.status, 201, "{}", r.body);
            sent.push(r.body["id"].as_i64().unwrap());
        }
    }
    let other = app.log(&b.key, json!({"type": "sms", "direction": "inbound", "from_address": "(312) 641-0001", "content": "other account"})).await;
    assert_eq!(other.status, 201);

    let res = app
        .http
        .get(format!("{}/api/exports/communications.csv", app.base))
        .bearer_auth(&a.key)
        .send()
        .await
        .unwrap();
    assert!(
        res.headers().get("content-length").is_none(),
        "streamed, not buffered"
    );
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.len() > 256 * 1024, "several chunks: {}", bytes.len());
    let all = rows(std::str::from_utf8(&bytes[3..]).unwrap());
    assert_eq!(all.len(), 1200);
    let mut ids: Vec<i64> = all.iter().map(|r| r["id"].parse().unwrap()).collect();
    ids.sort();
    sent.sort();
    assert_eq!(ids, sent);
    assert!(all.iter().all(|r| r["content"] != "other account"));
    let seventh = all.iter().find(|r| r["content"].contains("calc")).unwrap();
    assert_eq!(seventh["content"], "'=cmd|' /C calc'!A0");
    assert_eq!(
        all.iter()
            .filter(|r| r["content"].ends_with("\nsecond line, with comma"))
            .count(),
        1199
    );

    let sms = rows(&export(&app, &a.key, "/api/exports/communications.csv?type=sms").await);
    assert_eq!(sms.len(), 600);
    assert!(sms
        .iter()
        .all(|r| r["type"] == "sms" && r["lead_phone"].starts_with("'+1312")));
    let lead = &sms[0]["lead_id"];
    let one = rows(
        &export(
            &app,
            &a.key,
            &format!("/api/exports/communications.csv?lead_id={lead}"),
        )
        .await,
    );
    // Even messages come from 25 phones: 24 texts each.
    assert_eq!(one.len(), 24);
    let later = rows(
        &export(
            &app,
            &a.key,
            "/api/exports/communications.csv?since=2099-01-01",
        )
        .await,
    );
    assert!(later.is_empty());
    let until = rows(
        &export(
            &app,
            &a.key,
            "/api/exports/communications.csv?until=2099-01-01",
        )
        .await,
    );
    assert_eq!(until.len(), 1200);
    assert_eq!(
        app.get(&a.key, "/api/exports/communications.csv?since=yesterday")
            .await
            .status,
        422
    );
    assert_eq!(
        app.get(&a.key, "/api/exports/communications.csv?type=fax")
            .await
            .status,
        422
    );
    // Another account's lead: an empty export, never its rows.
    let foreign: i64 =
        sqlx::query_scalar("select lead_id from communications where account_id = $1")
            .bind(b.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let none = rows(
        &export(
            &app,
            &a.key,
            &format!("/api/exports/communications.csv?lead_id={foreign}"),
        )
        .await,
    );
    assert!(none.is_empty());
}

#[tokio::test]
async fn uploads_are_checked_previewed_and_limited() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let file = "Customer,Mail,Mobile,Home phone\nAnn,ann@x.co,,(312) 641-2278\nBob,bob@,,\n";

    let p = app
        .send(
            app.http
                .post(format!(
                    "{}/api/imports/preview?map.phone=Home%20phone",
                    app.base
                ))
                .bearer_auth(&a.key)
                .header("content-type", "text/csv")
                .body(file),
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(
        p.body["columns"],
        json!(["Customer", "Mail", "Mobile", "Home phone"])
    );
    assert_eq!(p.body["rows"], 2);
    let sample = p.body["sample"].as_array().unwrap();
    assert_eq!(sample[0]["lead"]["phone"], "+13126412278");
    assert_eq!(sample[0]["lead"]["name"], "Ann");
    assert_eq!(sample[1]["error"], "email 'bob@' is not an email address");
    assert_eq!(lead_count(&app, a.id).await, 0);

    // Multipart, options as parts.
    let boundary = "XyZ";
    let form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"map.phone\"\r\n\r\nHome phone\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"
    );
    let m = app
        .send(
            app.http
                .post(format!("{}/api/imports", app.base))
                .bearer_auth(&a.key)
                .header(
                    "content-type",
                    format!("multipart/form-data; boundary={boundary}"),
                )
                .body(form),
        )
        .await;
    assert_eq!(m.status, 200, "{}", m.body);
    assert_eq!(m.body["created"], 1);
    assert_eq!(
        m.body["skipped_rows"],
        json!([{"row": 3, "reason": "email 'bob@' is not an email address"}])
    );

    let no_contact = import(&app, &a.key, "", b"Name,Colour\nAnn,red\n".to_vec()).await;
    assert_eq!(no_contact.status, 422);
    assert!(
        no_contact
            .error_message()
            .contains("no email or phone column"),
        "{}",
        no_contact.body
    );
    let bad_map = import(&app, &a.key, "?map.email=Nope", file.as_bytes().to_vec()).await;
    assert_eq!(bad_map.status, 422);
    assert!(bad_map
        .error_message()
        .starts_with("map.email: the file has no column \"Nope\""));
    let unknown = import(&app, &a.key, "?dryrun=true", file.as_bytes().to_vec()).await;
    assert_eq!(unknown.status, 400);
    let empty = import(&app, &a.key, "", Vec::new()).await;
    assert_eq!(empty.status, 422);
    assert!(empty.error_message().starts_with("file:"));
    let json_body = app.post(&a.key, "/api/imports", json!({"csv": "x"})).await;
    assert_eq!(json_body.status, 415);
    let mut big = b"email\n".to_vec();
    big.resize(21 * 1024 * 1024, b'a');
    let huge = import(&app, &a.key, "", big).await;
    assert_eq!(huge.status, 413);
    assert_eq!(huge.error_code(), "payload_too_large");
    assert!(huge.error_message().contains("20 MB"), "{}", huge.body);

    // Members may not import or export.
    let mia = web_support::person(&app, a.id, "mia@acme.test", Role::Member).await;
    let r = mia.get("/api/exports/leads.csv").await;
    assert_eq!(r.status, 403);
}

/// DATABASE_URL of the test's database, for the command line.
async fn database_url(app: &TestApp) -> String {
    let (db, dir): (String, String) =
        sqlx::query_as("select current_database(), current_setting('unix_socket_directories')")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let dir = dir.split(',').next().unwrap().trim().to_string();
    format!("postgres://postgres@localhost/{db}?host={dir}&port=5432")
}

#[tokio::test]
async fn the_command_line_imports_a_latin1_file_with_mapping_and_a_report_of_skipped_rows() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let dir = tempfile::tempdir().unwrap();
    // Windows-1252 (Latin-1) with `;` and CRLF, as an old Excel saves it.
    let mut latin1: Vec<u8> = Vec::new();
    latin1.extend_from_slice(b"Nom;Courriel;T\xE9l\xE9phone;Adresse\r\n");
    latin1.extend_from_slice(
        b"Jos\xE9 M\xFCller;jose@x.co;(312) 641-2278;\"12 Rue du Ch\xE2teau\r\nApt 3\"\r\n",
    );
    latin1.extend_from_slice(b"Ren\xE9e;;12;\r\n");
    latin1.extend_from_slice(b"Fran\xE7ois;francois@x.co;;\r\n");
    latin1.extend_from_slice(b"Double;JOSE@x.co;;\r\n");
    let path = dir.path().join("old leads.csv");
    std::fs::write(&path, &latin1).unwrap();
    let report = dir.path().join("skipped.csv");
    let run = |dry: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_leadline"));
        c.env("LEADLINE_DATA_DIR", dir.path().join("data"))
            .env("RUST_LOG", "warn")
            .args(["import", "leads"])
            .arg(&path)
            .args(["--account", &a.id.to_string()])
            .args([
                "--map",
                "name=Nom",
                "--map",
                "email=courriel",
                "--map",
                "phone=Téléphone",
                "--map",
                "address=Adresse",
            ])
            .arg("--report")
            .arg(&report);
        if dry {
            c.arg("--dry-run");
        }
        c
    };
    let url = database_url(&app).await;
    let out = run(true).env("DATABASE_URL", &url).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let dry: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["created"], 2);
    assert_eq!(lead_count(&app, a.id).await, 0);

    let started = Instant::now();
    let out = run(false).env("DATABASE_URL", &url).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{stderr}");
    eprintln!("command line import: {:?}", started.elapsed());
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["encoding"], "windows-1252");
    assert_eq!(done["delimiter"], ";");
    assert_eq!(
        (done["created"].as_u64(), done["skipped"].as_u64()),
        (Some(2), Some(2)),
        "{done}"
    );
    assert!(
        stderr.contains("row 3: phone '12' is not a phone number"),
        "{stderr}"
    );
    assert!(stderr.contains("row 5: duplicate of row 2"), "{stderr}");
    assert!(
        !stderr.contains("importing ["),
        "no progress bar off a terminal"
    );
    let (name, address): (String, String) =
        sqlx::query_as("select name, property_address from leads where email = 'jose@x.co'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(name, "José Müller");
    assert_eq!(address, "12 Rue du Château\r\nApt 3");
    let skipped = rows(&std::fs::read_to_string(&report).unwrap());
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0]["row"], "3");
    assert_eq!(skipped[0]["reason"], "phone '12' is not a phone number");
    assert_eq!(skipped[0]["Nom"], "Renée");
    assert_eq!(skipped[1]["reason"], "duplicate of row 2");

    // A wrong column name stops before anything is read into the database.
    let mut c = Command::new(env!("CARGO_BIN_EXE_leadline"));
    let out = c
        .env("DATABASE_URL", &url)
        .env("LEADLINE_DATA_DIR", dir.path().join("data"))
        .args(["import", "leads"])
        .arg(&path)
        .args(["--account", &a.id.to_string(), "--map", "email=Mail"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no column \"Mail\""));
}

#[tokio::test]
async fn the_import_page_is_for_admins_and_its_calls_need_the_csrf_token() {
    let app = spawn_app_with(&[("LEADLINE_AUTOMATION_TICK_MS", "0")]).await;
    let a = app.account("Acme Roofing").await;
    let owner = web_support::person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let page = owner.get("/imports").await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    for needle in [
        "data-import-file",
        "data-map-field=\"email\"",
        "action=\"/api/exports/leads.csv\"",
        "action=\"/api/exports/communications.csv\"",
        "/static/imports.js?v=",
        "href=\"/imports\"",
    ] {
        assert!(html.contains(needle), "{needle}");
    }
    let js = app
        .http
        .get(format!("{}/static/imports.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(js.text().await.unwrap().contains("/api/imports/preview"));

    // What the page's script sends: the file as the body, the cookie and the CSRF token.
    let file = "Name,Phone\nAnn,(312) 641-2278\n";
    let call = |csrf: &str| {
        owner
            .http
            .post(format!("{}/api/imports?dry_run=true", app.base))
            .header("cookie", &owner.cookie)
            .header("x-csrf-token", csrf)
            .header("content-type", "text/csv")
            .body(file)
    };
    let ok = app.send(call(&owner.csrf)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["created"], 1);
    let forged = app.send(call("not-the-token")).await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    // The export links work with the session alone (a GET).
    let csv = owner.get("/api/exports/leads.csv").await;
    assert_eq!(csv.status, 200);

    // The lead page shows what the import brought: notes, and when.
    let r = app
        .send(
            owner
                .http
                .post(format!("{}/api/imports", app.base))
                .header("cookie", &owner.cookie)
                .header("x-csrf-token", &owner.csrf)
                .header("content-type", "text/csv")
                .body("Name,Phone,Notes\nAnn,(312) 641-2278,\"<b>gate</b> code 12\nback door\"\n"),
        )
        .await;
    assert_eq!(r.body["created"], 1, "{}", r.body);
    let id: i64 = sqlx::query_scalar("select id from leads where phone = '+13126412278'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let lead = owner.get(&format!("/leads/{id}")).await;
    let html = lead.body.as_str().unwrap();
    assert!(
        html.contains("&lt;b&gt;gate")
            && html.contains(" code 12\nback door")
            && !html.contains("<b>gate"),
        "{html}"
    );
    assert!(html.contains("(imported "));

    let mia = web_support::person(&app, a.id, "mia@acme.test", Role::Member).await;
    assert_eq!(mia.get("/imports").await.status, 403);
    let page = mia.get("/").await;
    assert!(!page.body.as_str().unwrap().contains("href=\"/imports\""));
}
