//! The mail corpus (`tests/corpus/mail`) through the parser, then through all three inbound
//! paths over HTTP: IMAP from Dovecot, Mailgun (multipart and urlencoded `body-mime`) and
//! SendGrid (raw `email`). Every message on every path: no 5xx, stored exactly once or
//! quarantined with a reason, subject / from / text as the corpus expects; redeliveries,
//! re-polls and a UIDVALIDITY reset store nothing twice.

mod common;
#[path = "corpus_support/mod.rs"]
mod corpus_support;
#[path = "mail_support/mod.rs"]
mod mail_support;

use corpus_support::{corpus, differences, Seen};
use leadline::channels::email::parse;

#[test]
fn every_corpus_message_parses_as_expected() {
    let mut failures = vec![];
    for case in corpus() {
        let p = parse::parse(&case.raw);
        if case.quarantined() {
            if p.from.is_some() {
                failures.push(format!(
                    "{}: a sender {:?} was found in a message without one",
                    case.file, p.from
                ));
            }
            continue;
        }
        let content = if p.content.is_empty() {
            &p.text
        } else {
            &p.content
        };
        failures.extend(differences(
            &case,
            &Seen {
                subject: p.subject.as_deref(),
                from: p.from.as_deref(),
                content,
                text: &p.text,
                attachments: p.attachments.len(),
                from_name: p.from_name.as_deref(),
                to: p.to.clone(),
                message_id: p.message_id.as_deref(),
                in_reply_to: p.in_reply_to.as_deref(),
                references: p.references.len(),
                date: p.date.map(rfc3339),
                auto_submitted: p.auto_submitted.as_deref(),
                attachment_filenames: p
                    .attachments
                    .iter()
                    .filter_map(|a| a.filename.clone())
                    .collect(),
            },
        ));
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

use common::{spawn_app_with, TestApp};
use mail_support::{servers, Multipart, PASSWORD};
use serde_json::{json, Value};

const MAILGUN_KEY: &str = "key-corpus-mailgun";

fn mailgun_signature(ts: &str, token: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(MAILGUN_KEY.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// An account with a mailbox of this address (the IMAP one really exists on Dovecot).
async fn account_with_mailbox(
    app: &TestApp,
    name: &str,
    user: &str,
    email: &str,
) -> (i64, String, String) {
    let a = app.account(name).await;
    let s = servers();
    let r = app
        .post(
            &a.key,
            "/api/integrations/email/connect",
            json!({"email": email, "username": user, "password": PASSWORD,
                   "imap_server": "127.0.0.1", "imap_port": s.imap_port, "imap_security": "none",
                   "smtp_server": "127.0.0.1", "smtp_port": s.smtp_port, "smtp_security": "none",
                   "folders": ["INBOX"], "auto_respond": false, "skip_test": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let path = r.body["sendgrid_inbound_path"]
        .as_str()
        .unwrap()
        .to_string();
    (a.id, a.key, path)
}

/// Posts one message to Mailgun's route webhook as its raw MIME, multipart or urlencoded.
async fn mailgun_post(
    app: &TestApp,
    recipient: &str,
    raw: &[u8],
    token: &str,
    urlencoded: bool,
) -> common::Resp {
    let ts = chrono::Utc::now().timestamp().to_string();
    let sig = mailgun_signature(&ts, token);
    let url = format!("{}/webhooks/email/mailgun", app.base);
    let req = if urlencoded {
        use percent_encoding::{percent_encode, NON_ALPHANUMERIC};
        let mut body = format!(
            "recipient={}&timestamp={ts}&token={token}&signature={sig}&body-mime=",
            percent_encode(recipient.as_bytes(), NON_ALPHANUMERIC)
        );
        body.push_str(&percent_encode(raw, NON_ALPHANUMERIC).to_string());
        app.http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    } else {
        let (ct, body) = Multipart::new()
            .text("recipient", recipient.as_bytes())
            .text("timestamp", ts.as_bytes())
            .text("token", token.as_bytes())
            .text("signature", sig.as_bytes())
            .file("body-mime", "message.mime", "message/rfc822", raw)
            .finish();
        app.http.post(&url).header("content-type", ct).body(body)
    };
    app.send(req).await
}

async fn sendgrid_post(app: &TestApp, path: &str, raw: &[u8]) -> common::Resp {
    let (ct, body) = Multipart::new()
        .text("email", raw)
        .text("to", b"office@acme-roofing.test")
        .finish();
    app.send(
        app.http
            .post(format!("{}{path}", app.base))
            .header("content-type", ct)
            .body(body),
    )
    .await
}

fn rfc3339(d: chrono::DateTime<chrono::Utc>) -> String {
    d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect()
}

#[derive(sqlx::FromRow)]
struct Stored {
    timestamp: chrono::DateTime<chrono::Utc>,
    subject: Option<String>,
    from_address: Option<String>,
    content: Option<String>,
    metadata: Value,
    attachments: Value,
}

/// A webhook's 200 with this `status`.
fn expect_status(r: &common::Resp, want: &str, what: impl std::fmt::Display) {
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some(want)),
        "{what}: {:?}",
        r.body
    );
}

/// Every message of the corpus is in the account exactly once, or in its quarantine with
/// a reason, and reads as expected.
async fn assert_account_holds_the_corpus(app: &TestApp, account: i64, source: &str) {
    let cases = corpus();
    let mut failures = vec![];
    let comms: i64 =
        sqlx::query_scalar("select count(*) from communications where account_id = $1")
            .bind(account)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let want = cases.iter().filter(|c| !c.quarantined()).count() as i64;
    if comms != want {
        failures.push(format!("{source}: {comms} communications, expected {want}"));
    }
    let held: Vec<(String, String)> =
        sqlx::query_as("select source, reason from quarantine where account_id = $1")
            .bind(account)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let want = cases.iter().filter(|c| c.quarantined()).count();
    if held.len() != want
        || held
            .iter()
            .any(|(s, r)| s != source || !r.contains("no usable sender"))
    {
        failures.push(format!(
            "{source}: quarantine holds {held:?}, expected {want} without a sender"
        ));
    }
    for case in cases.iter().filter(|c| !c.quarantined()) {
        let id = parse::parse(&case.raw).identity();
        let rows: Vec<Stored> = sqlx::query_as(
            "select subject, from_address, content, metadata, attachments, \"timestamp\" from communications
             where account_id = $1 and provider_message_id = $2",
        )
        .bind(account)
        .bind(&id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
        let [row] = rows.as_slice() else {
            failures.push(format!(
                "{source}: {}: {} rows for {id}",
                case.file,
                rows.len()
            ));
            continue;
        };
        let email = &row.metadata["email"];
        failures.extend(
            differences(
                case,
                &Seen {
                    subject: row.subject.as_deref(),
                    from: row.from_address.as_deref(),
                    content: row.content.as_deref().unwrap_or(""),
                    text: email["body_text"].as_str().unwrap_or(""),
                    attachments: row.attachments.as_array().map_or(0, Vec::len),
                    from_name: email["from_name"].as_str(),
                    to: strings(&email["to"]),
                    message_id: email["message_id"].as_str(),
                    in_reply_to: email["in_reply_to"].as_str(),
                    references: email["references"].as_array().map_or(0, Vec::len),
                    date: Some(rfc3339(row.timestamp)),
                    auto_submitted: email["auto_submitted"].as_str(),
                    attachment_filenames: row
                        .attachments
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|a| a["filename"].as_str().map(str::to_string))
                        .collect(),
                },
            )
            .into_iter()
            .map(|d| format!("{source}: {d}")),
        );
    }
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_corpus_message_is_stored_once_or_quarantined_on_every_path() {
    let app = spawn_app_with(&[("MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY)]).await;
    let cases = corpus();
    let quarantined = cases.iter().filter(|c| c.quarantined()).count() as u64;
    let n = cases.len() as u64;

    // IMAP: the messages as Dovecot serves them.
    let user = servers().new_user();
    let (imap_account, imap_key, imap_sendgrid) =
        account_with_mailbox(&app, "IMAP roofer", &user, &format!("{user}@acme.test")).await;
    servers().fill_inbox(&user, cases.iter().map(|c| c.raw.clone()));
    let sync = |key: String| {
        let app = &app;
        async move {
            app.post(&key, "/api/integrations/email/sync", json!({}))
                .await
        }
    };
    let r = sync(imap_key.clone()).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"fetched": n, "stored": n - quarantined, "duplicates": 0, "quarantined": quarantined})
    );
    assert_account_holds_the_corpus(&app, imap_account, "imap").await;
    let st = app.get(&imap_key, "/api/integrations/email/status").await;
    assert_eq!(st.body["quarantined"], quarantined);
    assert_eq!(
        st.body["folders"][0]["last_uid"], n,
        "the watermark moved past every message"
    );

    // A UIDVALIDITY reset: every message is fetched again, none stored twice (those
    // without a Message-ID neither: they are known by their content).
    sqlx::query("update imap_sync_state set uidvalidity = uidvalidity + 1000, last_uid = 0")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = sync(imap_key.clone()).await;
    assert_eq!(
        r.body,
        json!({"fetched": n, "stored": 0, "duplicates": n - quarantined, "quarantined": quarantined})
    );
    // The same messages through the webhooks of the same account: known already.
    for (i, case) in cases.iter().enumerate() {
        let want = if case.quarantined() {
            "quarantined"
        } else {
            "duplicate"
        };
        let r = mailgun_post(
            &app,
            &format!("{user}@acme.test"),
            &case.raw,
            &format!("imap-dup-{i}-token"),
            false,
        )
        .await;
        expect_status(&r, want, format!("mailgun {}", case.file));
        let r = sendgrid_post(&app, &imap_sendgrid, &case.raw).await;
        expect_status(&r, want, format!("sendgrid {}", case.file));
    }
    assert_account_holds_the_corpus(&app, imap_account, "imap").await;

    // Mailgun first (multipart), then redelivered urlencoded with a new token.
    let (mg_account, _, _) =
        account_with_mailbox(&app, "Mailgun roofer", "nobody", "hello@best-roofs.test").await;
    for (i, case) in cases.iter().enumerate() {
        let (first, again) = if case.quarantined() {
            ("quarantined", "quarantined")
        } else {
            ("stored", "duplicate")
        };
        let r = mailgun_post(
            &app,
            "Hello@Best-Roofs.test",
            &case.raw,
            &format!("mg-{i}-first-token"),
            false,
        )
        .await;
        expect_status(&r, first, &case.file);
        let r = mailgun_post(
            &app,
            "hello@best-roofs.test",
            &case.raw,
            &format!("mg-{i}-again-token"),
            true,
        )
        .await;
        expect_status(&r, again, format!("{} urlencoded", case.file));
    }
    assert_account_holds_the_corpus(&app, mg_account, "mailgun").await;

    // Mailgun urlencoded first: `body-mime` read as bytes, each message's own charset.
    let (url_account, _, _) =
        account_with_mailbox(&app, "Urlencoded roofer", "nobody", "hi@url-roofs.test").await;
    for (i, case) in cases.iter().enumerate() {
        let want = if case.quarantined() {
            "quarantined"
        } else {
            "stored"
        };
        let r = mailgun_post(
            &app,
            "hi@url-roofs.test",
            &case.raw,
            &format!("url-{i}-token"),
            true,
        )
        .await;
        expect_status(&r, want, format!("{} urlencoded", case.file));
    }
    assert_account_holds_the_corpus(&app, url_account, "mailgun").await;

    // SendGrid raw, posted twice.
    let (sg_account, _, sg_path) =
        account_with_mailbox(&app, "SendGrid roofer", "nobody", "office@sg-roofs.test").await;
    for case in &cases {
        let (first, again) = if case.quarantined() {
            ("quarantined", "quarantined")
        } else {
            ("stored", "duplicate")
        };
        for want in [first, again] {
            let r = sendgrid_post(&app, &sg_path, &case.raw).await;
            expect_status(&r, want, &case.file);
        }
    }
    assert_account_holds_the_corpus(&app, sg_account, "sendgrid").await;
}

// ---------------------------------------------------------------------------
// One regression test per point of the real-world mail issue.

async fn rows_of(
    app: &TestApp,
    account: i64,
) -> Vec<(String, Option<String>, Option<String>, Option<String>)> {
    sqlx::query_as(
        "select provider_message_id, subject, content, thread_key from communications
         where account_id = $1 order by id",
    )
    .bind(account)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// Mailgun's documented parsed fields, without `body-mime`.
fn mailgun_fields(recipient: &str, token: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let ts = chrono::Utc::now().timestamp().to_string();
    let mut f: Vec<(String, String)> = vec![
        ("recipient".into(), recipient.into()),
        ("timestamp".into(), ts.clone()),
        ("token".into(), token.into()),
        ("signature".into(), mailgun_signature(&ts, token)),
    ];
    f.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    f
}

async fn mailgun_form(app: &TestApp, fields: &[(String, String)]) -> common::Resp {
    app.send(
        app.http
            .post(format!("{}/webhooks/email/mailgun", app.base))
            .form(fields),
    )
    .await
}

#[tokio::test]
async fn mailgun_takes_the_account_from_the_envelope_recipient_only() {
    let app = spawn_app_with(&[("MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY)]).await;
    let (acme, _, _) =
        account_with_mailbox(&app, "Acme", "nobody", "quotes@acme-roofing.test").await;
    let best = app.account("Best Roofs").await;
    let s = servers();
    let r = app
        .post(&best.key, "/api/integrations/email/connect", json!({
            "email": "hello@best-roofs.test", "password": PASSWORD, "aliases": ["Sales@Best-Roofs.test"],
            "imap_server": "127.0.0.1", "imap_port": s.imap_port, "imap_security": "none",
            "smtp_server": "127.0.0.1", "smtp_port": s.smtp_port, "smtp_security": "none", "skip_test": true}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["aliases"], json!(["sales@best-roofs.test"]));
    let headers = r#"[["From", "Gina Lopez <gina@lead.test>"], ["To", "quotes@acme-roofing.test, hello@best-roofs.test"], ["Subject", "Hail damage"], ["Message-Id", "<hail-1@lead.test>"], ["Date", "Tue, 03 Mar 2026 10:00:00 +0000"]]"#;
    let body = [
        ("message-headers", headers),
        ("body-plain", "Hail hit our roof yesterday.\n\n> old"),
        ("stripped-text", "Hail hit our roof yesterday."),
    ];
    // The To: header names Acme, the envelope says Best: Best's.
    let r = mailgun_form(
        &app,
        &mailgun_fields("hello@best-roofs.test", "tok-best-1", &body),
    )
    .await;
    expect_status(&r, "stored", "");
    assert_eq!(rows_of(&app, best.id).await.len(), 1);
    assert!(
        rows_of(&app, acme).await.is_empty(),
        "Acme got nothing from Best's post"
    );
    // Mailgun's post for the other recipient: Acme's own copy.
    let r = mailgun_form(
        &app,
        &mailgun_fields("Quotes@Acme-Roofing.test", "tok-acme-1", &body),
    )
    .await;
    assert_eq!(r.body["status"], "stored", "{:?}", r.body);
    let acme_rows = rows_of(&app, acme).await;
    assert_eq!(acme_rows.len(), 1);
    assert_eq!(acme_rows[0].0, "hail-1@lead.test");
    assert_eq!(
        acme_rows[0].2.as_deref(),
        Some("Hail hit our roof yesterday.")
    );
    // A declared alias routes too; an unknown recipient stores nothing.
    let r = mailgun_form(
        &app,
        &mailgun_fields(
            "sales@best-roofs.test",
            "tok-best-2",
            &[
                ("from", "Ike <ike@lead.test>"),
                ("subject", "Gutters"),
                ("body-plain", "Gutters too?"),
                ("Message-Id", "<ike-1@lead.test>"),
            ],
        ),
    )
    .await;
    assert_eq!(r.body["status"], "stored", "{:?}", r.body);
    let r = mailgun_form(
        &app,
        &mailgun_fields("nobody@elsewhere.test", "tok-none-1", &body),
    )
    .await;
    expect_status(&r, "unknown_recipient", "");
    assert_eq!(rows_of(&app, best.id).await.len(), 2);
    // One post whose envelope names both roofers: a copy in each account.
    let r = mailgun_form(
        &app,
        &mailgun_fields(
            "Quotes@acme-roofing.test, hello@best-roofs.test",
            "tok-both-1",
            &[
                ("from", "Lu <lu@lead.test>"),
                ("subject", "Two quotes"),
                ("body-plain", "Asking you both."),
                ("Message-Id", "<lu-1@lead.test>"),
            ],
        ),
    )
    .await;
    expect_status(&r, "stored", "");
    for account in [acme, best.id] {
        assert!(
            rows_of(&app, account)
                .await
                .iter()
                .any(|row| row.0 == "lu-1@lead.test"),
            "account {account} has its copy"
        );
    }
    // Another account cannot declare Best's address as its alias.
    let r = app
        .post(&app.account("Copycat").await.key, "/api/integrations/email/connect", json!({
            "email": "cat@copy.test", "password": PASSWORD, "aliases": ["hello@best-roofs.test"],
            "imap_server": "127.0.0.1", "imap_port": s.imap_port, "imap_security": "none",
            "smtp_server": "127.0.0.1", "smtp_port": s.smtp_port, "smtp_security": "none", "skip_test": true}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (409, "alias_taken"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn mailgun_parsed_fields_are_read_and_a_message_without_sender_is_quarantined() {
    let app = spawn_app_with(&[("MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY)]).await;
    let (acct, key, _) =
        account_with_mailbox(&app, "Acme", "nobody", "office@acme-roofing.test").await;
    // Lowercase documented fields only, no message-headers, a NUL in two of them.
    let r = mailgun_form(&app, &mailgun_fields("office@acme-roofing.test", "tok-fields-1", &[
        ("from", "Dana Lee <Dana@Lead.test>"), ("sender", "bounce@lead.test"), ("subject", "Skylight\0 leak"),
        ("body-plain", "The skylight leaks\0 again.\n\nOn Mon, Mar 2, 2026 at 9:00 AM Acme <office@acme-roofing.test> wrote:\n> Fixed!"),
        ("Message-Id", "<fields-1@lead.test>"),
    ])).await;
    assert_eq!(r.body["status"], "stored", "{:?}", r.body);
    let (from, subject, content, name): (String, String, String, Option<String>) = sqlx::query_as(
        "select c.from_address, c.subject, c.content, l.name from communications c join leads l on l.id = c.lead_id
         where c.provider_message_id = 'fields-1@lead.test'")
        .fetch_one(&app.pool).await.unwrap();
    assert_eq!(
        (from.as_str(), subject.as_str(), content.as_str()),
        (
            "dana@lead.test",
            "Skylight leak",
            "The skylight leaks again."
        )
    );
    assert_eq!(name.as_deref(), Some("Dana Lee"));
    // Only the envelope sender: it is the sender.
    let r = mailgun_form(
        &app,
        &mailgun_fields(
            "office@acme-roofing.test",
            "tok-fields-2",
            &[
                ("sender", "eve@lead.test"),
                ("subject", "Bounce address only"),
                ("body-plain", "Hi"),
            ],
        ),
    )
    .await;
    assert_eq!(r.body["status"], "stored", "{:?}", r.body);
    // No usable sender anywhere: quarantined, never stored under an invented address.
    let fields = mailgun_fields(
        "office@acme-roofing.test",
        "tok-fields-3",
        &[
            ("subject", "Who am I"),
            ("body-plain", "A message with no sender at all"),
            ("from", "Undisclosed"),
        ],
    );
    let r = mailgun_form(&app, &fields).await;
    expect_status(&r, "quarantined", "");
    assert_eq!(rows_of(&app, acct).await.len(), 2);
    let q = app.get(&key, "/api/quarantine").await;
    assert_eq!(q.body["total"], 1, "{:?}", q.body);
    assert_eq!(q.body["items"][0]["source"], "mailgun");
    assert_eq!(q.body["items"][0]["summary"], "Who am I");
    assert!(q.body["items"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no usable sender"));
    let unknown: i64 =
        sqlx::query_scalar("select count(*) from leads where email like '%unknown%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(unknown, 0);
    // Mailgun's redelivery of that post (a new token): still one quarantined item.
    let mut again = mailgun_fields("office@acme-roofing.test", "tok-fields-4", &[]);
    again.extend(fields.into_iter().skip(4));
    assert_eq!(
        mailgun_form(&app, &again).await.body["status"],
        "quarantined"
    );
    assert_eq!(app.get(&key, "/api/quarantine").await.body["total"], 1);
}

#[tokio::test]
async fn mailgun_urlencoded_mime_keeps_its_own_charset() {
    let app = spawn_app_with(&[("MAILGUN_WEBHOOK_SIGNING_KEY", MAILGUN_KEY)]).await;
    let (acct, _, _) =
        account_with_mailbox(&app, "Acme", "nobody", "office@acme-roofing.test").await;
    let mut mime = b"From: Ren\xe9 <rene@lead.test>\r\nTo: office@acme-roofing.test\r\nSubject: Toit\r\nMessage-ID: <latin-1@lead.test>\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
    mime.extend_from_slice(b"Le toit est ab\xeem\xe9.\r\n");
    let r = mailgun_post(&app, "office@acme-roofing.test", &mime, "tok-latin-1", true).await;
    assert_eq!(r.body["status"], "stored", "{:?}", r.body);
    let rows = rows_of(&app, acct).await;
    assert_eq!(rows[0].2.as_deref(), Some("Le toit est abîmé."));
}

#[tokio::test]
async fn sendgrid_takes_lf_only_multipart_and_quarantines_an_unreadable_post() {
    let app = spawn_app_with(&[]).await;
    let (acct, key, path) =
        account_with_mailbox(&app, "Acme", "nobody", "office@acme-roofing.test").await;
    // As in SendGrid's own sample posts: bare LF line ends.
    let body = "--xYzZY\nContent-Disposition: form-data; name=\"headers\"\n\nMessage-ID: <lf-1@lead.test>\nDate: Tue, 03 Mar 2026 10:00:00 +0000\n\
--xYzZY\nContent-Disposition: form-data; name=\"from\"\n\nJo Park <jo@lead.test>\n\
--xYzZY\nContent-Disposition: form-data; name=\"to\"\n\noffice@acme-roofing.test\n\
--xYzZY\nContent-Disposition: form-data; name=\"subject\"\n\nMissing shingles\n\
--xYzZY\nContent-Disposition: form-data; name=\"text\"\n\nSome shingles blew off.\n\
--xYzZY--\n";
    let url = format!("{}{path}", app.base);
    let post = |ct: &'static str, body: String| {
        app.send(app.http.post(&url).header("content-type", ct).body(body))
    };
    let r = post("multipart/form-data; boundary=xYzZY", body.to_string()).await;
    expect_status(&r, "stored", "");
    let rows = rows_of(&app, acct).await;
    assert_eq!(rows[0].0, "lf-1@lead.test");
    assert_eq!(
        (rows[0].1.as_deref(), rows[0].2.as_deref()),
        (Some("Missing shingles"), Some("Some shingles blew off."))
    );
    // A post that is no form at all: kept with its bytes (the token proves it is SendGrid's).
    let r = post("multipart/form-data", "garbage without a boundary".into()).await;
    expect_status(&r, "quarantined", "");
    let q = app.get(&key, "/api/quarantine?source=sendgrid").await;
    assert!(
        q.body["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("unreadable form"),
        "{:?}",
        q.body
    );
}

#[tokio::test]
async fn a_reply_joins_its_parents_thread_whichever_arrives_first() {
    let app = spawn_app_with(&[]).await;
    let (acct, _, path) =
        account_with_mailbox(&app, "Acme", "nobody", "office@acme-roofing.test").await;
    let msg = |id: &str, headers: &str, body: &str| -> Vec<u8> {
        format!("From: Dana <dana@lead.test>\r\nTo: office@acme-roofing.test\r\nSubject: Re: Quote\r\nMessage-ID: <{id}>\r\n\
Date: Tue, 03 Mar 2026 10:00:00 +0000\r\n{headers}\r\n{body}\r\n").into_bytes()
    };
    let thread_of = |id: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select thread_key from communications where provider_message_id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    // Parent first (it answers the root r0), then a reply with only In-Reply-To.
    sendgrid_post(
        &app,
        &path,
        &msg(
            "p1@x",
            "In-Reply-To: <r0@x>\r\nReferences: <r0@x>\r\n",
            "Parent",
        ),
    )
    .await;
    sendgrid_post(
        &app,
        &path,
        &msg("c1@x", "In-Reply-To: <p1@x>\r\n", "Child"),
    )
    .await;
    assert_eq!(thread_of("p1@x").await.as_deref(), Some("r0@x"));
    assert_eq!(
        thread_of("c1@x").await.as_deref(),
        Some("r0@x"),
        "the reply joins its parent's thread"
    );
    // The reply first: it joins the thread once its parent arrives.
    sendgrid_post(
        &app,
        &path,
        &msg("c2@x", "In-Reply-To: <p2@x>\r\n", "Child first"),
    )
    .await;
    assert_eq!(thread_of("c2@x").await.as_deref(), Some("p2@x"));
    sendgrid_post(
        &app,
        &path,
        &msg(
            "p2@x",
            "In-Reply-To: <r9@x>\r\nReferences: <r9@x>\r\n",
            "Parent later",
        ),
    )
    .await;
    assert_eq!(thread_of("p2@x").await.as_deref(), Some("r9@x"));
    assert_eq!(thread_of("c2@x").await.as_deref(), Some("r9@x"));
    assert_eq!(rows_of(&app, acct).await.len(), 4);
}

#[tokio::test]
async fn a_poison_message_is_quarantined_and_the_mailbox_moves_on() {
    let app = spawn_app_with(&[("LEADLINE_IMAP_BATCH", "1")]).await;
    let user = servers().new_user();
    let (acct, key, _) =
        account_with_mailbox(&app, "Acme", &user, &format!("{user}@acme.test")).await;
    let good = |n: u32| {
        format!("From: lead{n}@lead.test\r\nTo: {user}@acme.test\r\nSubject: Leak {n}\r\nMessage-ID: <good-{n}@lead.test>\r\n\r\nLeak number {n}\r\n").into_bytes()
    };
    let poison = b"Subject: no sender here\r\nDate: Tue, 03 Mar 2026 10:00:00 +0000\r\n\r\nwho sent this?\x00\r\n".to_vec();
    servers().fill_inbox(&user, [good(1), poison.clone(), good(2)].into_iter());
    let sync = || app.post(&key, "/api/integrations/email/sync", json!({}));
    let r = sync().await;
    assert_eq!(
        r.body,
        json!({"fetched": 3, "stored": 2, "duplicates": 0, "quarantined": 1})
    );
    let st = app.get(&key, "/api/integrations/email/status").await;
    assert_eq!(
        st.body["folders"][0]["last_uid"], 3,
        "the watermark moved past the poison message"
    );
    // Counted from what is stored (not a counter a crashed sync would leave short).
    let st = app.get(&key, "/api/integrations/email/status").await;
    assert_eq!(st.body["messages_synced"], 2, "{:?}", st.body);
    assert!(
        st.body["last_error"].is_null() && st.body["consecutive_failures"] == 0,
        "{:?}",
        st.body
    );
    assert_eq!(
        sync().await.body,
        json!({"fetched": 0, "stored": 0, "duplicates": 0, "quarantined": 0})
    );
    // Counted in the health of the mailbox.
    let h = app.get(&key, "/api/health/integrations").await;
    let mailbox = h.body["integrations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "email")
        .unwrap();
    assert_eq!(mailbox["details"]["quarantined"], 1, "{mailbox:?}");
    assert_eq!(mailbox["status"], "degraded");
    assert!(mailbox["reason"]
        .as_str()
        .unwrap()
        .contains("could not be stored"));
    // Retry: still no sender, the attempt is noted; another account sees nothing.
    let id = st.body["quarantine"][0]["id"].as_i64().unwrap();
    let r = app
        .post(&key, &format!("/api/quarantine/{id}/retry"), json!({}))
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (422, "still_unstorable"),
        "{:?}",
        r.body
    );
    let other = app.account("Other").await;
    assert_eq!(
        app.post(
            &other.key,
            &format!("/api/quarantine/{id}/retry"),
            json!({})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.get(&other.key, "/api/quarantine").await.body["total"],
        0
    );
    let listed = app.get(&key, "/api/quarantine").await;
    assert_eq!(listed.body["items"][0]["attempts"], 1);
    // Discard: gone for good.
    let del = app
        .send(
            app.http
                .delete(format!("{}/api/quarantine/{id}", app.base))
                .bearer_auth(&key),
        )
        .await;
    assert_eq!(del.status, 204);
    let del = app
        .send(
            app.http
                .delete(format!("{}/api/quarantine/{id}", app.base))
                .bearer_auth(&key),
        )
        .await;
    assert_eq!(del.status, 404);
    // A retry that succeeds stores the message and empties the item (an item kept by an
    // earlier version whose cause is gone).
    let integration: i64 =
        sqlx::query_scalar("select id from email_integrations where account_id = $1")
            .bind(acct)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    let id: i64 = sqlx::query_scalar(
        "insert into quarantine (account_id, source, integration_id, reason, raw, context, digest)
         values ($1, 'imap', $2, 'database refused the row', $3, '{\"imap\": {\"folder\": \"INBOX\", \"uid\": 9}}', 'x') returning id")
        .bind(acct).bind(integration).bind(good(3)).fetch_one(&app.pool).await.unwrap();
    let r = app
        .post(&key, &format!("/api/quarantine/{id}/retry"), json!({}))
        .await;
    expect_status(&r, "stored", "");
    assert_eq!(app.get(&key, "/api/quarantine").await.body["total"], 0);
    assert_eq!(rows_of(&app, acct).await.len(), 3);
}

#[tokio::test]
async fn the_sendgrid_token_is_kept_hashed_and_can_be_rotated() {
    let app = spawn_app_with(&[]).await;
    let (acct, key, path) =
        account_with_mailbox(&app, "Acme", "nobody", "office@acme-roofing.test").await;
    let token = path.rsplit('/').next().unwrap().to_string();
    let stored: Option<String> = sqlx::query_scalar(
        "select inbound_token_hash from email_integrations where account_id = $1",
    )
    .bind(acct)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let stored = stored.unwrap();
    assert_ne!(stored, token, "only a hash is stored");
    assert_eq!(
        stored,
        leadline::channels::email::integration::token_hash(&token)
    );
    let raw =
        b"From: jo@lead.test\r\nSubject: Hi\r\nMessage-ID: <rot-1@lead.test>\r\n\r\nHello\r\n";
    expect_status(
        &sendgrid_post(&app, &path, raw).await,
        "stored",
        "before rotating",
    );
    let r = app
        .post(
            &key,
            "/api/integrations/email/rotate-inbound-token",
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let new_path = r.body["sendgrid_inbound_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_path, path);
    assert_eq!(
        sendgrid_post(&app, &path, raw).await.status,
        401,
        "the old path is dead"
    );
    expect_status(
        &sendgrid_post(&app, &new_path, raw).await,
        "duplicate",
        "the new path",
    );
}

#[tokio::test]
async fn a_message_the_database_refuses_is_quarantined_and_the_others_are_stored() {
    // The default batch: the refused row shares its batch with the others.
    let app = spawn_app_with(&[]).await;
    let user = servers().new_user();
    let (acct, key, _) =
        account_with_mailbox(&app, "Acme", &user, &format!("{user}@acme.test")).await;
    // What a constraint or a bug would do to one message: the database refuses its row.
    for sql in [
        "create function refuse_row() returns trigger language plpgsql as
         $$ begin raise exception 'refused by the test trigger'; end $$",
        "create trigger refuse_poison before insert on communications for each row
         when (new.subject = 'Poison') execute function refuse_row()",
    ] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    let msg = |n: u32, subject: &str| {
        format!("From: lead{n}@lead.test\r\nTo: {user}@acme.test\r\nSubject: {subject}\r\nMessage-ID: <refused-{n}@lead.test>\r\n\r\nAbout the roof, {n}\r\n").into_bytes()
    };
    servers().fill_inbox(
        &user,
        [msg(1, "Leak"), msg(2, "Poison"), msg(3, "Hail")].into_iter(),
    );
    let r = app
        .post(&key, "/api/integrations/email/sync", json!({}))
        .await;
    assert_eq!(
        r.body,
        json!({"fetched": 3, "stored": 2, "duplicates": 0, "quarantined": 1})
    );
    let st = app.get(&key, "/api/integrations/email/status").await;
    assert_eq!(st.body["folders"][0]["last_uid"], 3, "{:?}", st.body);
    assert!(st.body["last_error"].is_null(), "{:?}", st.body);
    let item = &st.body["quarantine"][0];
    assert!(
        item["reason"]
            .as_str()
            .unwrap()
            .contains("refused by the test trigger"),
        "{item}"
    );
    assert_eq!(item["summary"], "Poison", "{item}");
    // Its cause gone, a retry stores it from the kept raw bytes.
    sqlx::query("drop trigger refuse_poison on communications")
        .execute(&app.pool)
        .await
        .unwrap();
    let id = item["id"].as_i64().unwrap();
    let r = app
        .post(&key, &format!("/api/quarantine/{id}/retry"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let subjects: Vec<String> = sqlx::query_scalar(
        "select subject from communications where account_id = $1 order by subject",
    )
    .bind(acct)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(subjects, ["Hail", "Leak", "Poison"]);
    assert_eq!(app.get(&key, "/api/quarantine").await.body["total"], 0);
}

#[tokio::test]
async fn a_transient_database_failure_is_retried_not_quarantined() {
    let app = spawn_app_with(&[("LEADLINE_IMAP_BATCH", "1")]).await;
    let user = servers().new_user();
    let (acct, key, _) =
        account_with_mailbox(&app, "Acme", &user, &format!("{user}@acme.test")).await;
    // A deadlock on one row: not the message's fault, so it is not quarantined.
    for sql in [
        "create function deadlock_row() returns trigger language plpgsql as
         $$ begin raise exception 'deadlock detected (test)' using errcode = '40P01'; end $$",
        "create trigger deadlock_once before insert on communications for each row
         when (new.subject = 'Unlucky') execute function deadlock_row()",
    ] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    let msg = |n: u32, subject: &str| {
        format!("From: lead{n}@lead.test\r\nTo: {user}@acme.test\r\nSubject: {subject}\r\nMessage-ID: <transient-{n}@lead.test>\r\n\r\nAbout the roof, {n}\r\n").into_bytes()
    };
    servers().fill_inbox(&user, [msg(1, "Leak"), msg(2, "Unlucky")].into_iter());
    let sync = || app.post(&key, "/api/integrations/email/sync", json!({}));
    let r = sync().await;
    assert!(r.status >= 500, "{:?}", r.body);
    let st = app.get(&key, "/api/integrations/email/status").await;
    assert_eq!(st.body["quarantined"], 0, "{:?}", st.body);
    assert_eq!(
        st.body["folders"][0]["last_uid"], 1,
        "the watermark waits at the message"
    );
    sqlx::query("drop trigger deadlock_once on communications")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = sync().await;
    assert_eq!(
        r.body,
        json!({"fetched": 1, "stored": 1, "duplicates": 0, "quarantined": 0})
    );
    let n: i64 = sqlx::query_scalar("select count(*) from communications where account_id = $1")
        .bind(acct)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}
