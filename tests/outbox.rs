//! The outbox under faults, through HTTP and the real background workers: a silent SMTP
//! server holds only its own account's slots, abandoned work is reclaimed by how far it
//! got (retried, recorded only, or `unknown` and never resent by itself), and a person's
//! "send again".

mod common;
#[path = "telnyx_support/mod.rs"]
mod telnyx_support;

use std::time::{Duration, Instant};

use common::{spawn_app_with, TestApp};
use serde_json::{json, Value};
use telnyx_support::*;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const OURS: &str = "+13126412200";
const LEAD: &str = "+13126412278";

/// Accepts connections and never says a word (a mail server stuck before its greeting).
async fn silent_listener() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    port
}

/// An SMTP server that takes the whole message and never answers the final dot.
async fn smtp_silent_after_data() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 stall.test ESMTP\r\n").await.unwrap();
                let mut in_data = false;
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            let _ = tx.send("DATA received".to_string());
                            // …and never answer: the message may or may not be delivered.
                            std::future::pending::<()>().await;
                        }
                        continue;
                    }
                    let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-stall.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n",
                        "AUTH" => b"235 2.7.0 accepted\r\n",
                        "DATA" => {
                            in_data = true;
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 ok\r\n",
                    };
                    w.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

async fn connect_mailbox(app: &TestApp, key: &str, email: &str, smtp_port: u16) {
    let r = app
        .post(
            key,
            "/api/integrations/email/connect",
            json!({
            "email": email, "password": "secret",
            "imap_server": "127.0.0.1", "imap_port": 1, "imap_security": "none",
            "smtp_server": "127.0.0.1", "smtp_port": smtp_port, "smtp_security": "none",
            "skip_test": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn send_email(app: &TestApp, key: &str, subject: &str) -> i64 {
    let r = app
        .post(
            key,
            "/api/integrations/email/send",
            json!({
            "to": "homeowner@example.com", "subject": subject, "body_text": "Quote attached."}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    r.body["outbox_id"].as_i64().unwrap()
}

async fn item(app: &TestApp, id: i64) -> (String, i32, Option<String>) {
    sqlx::query_as("select status, attempts, last_error from outbox where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

/// Polls until `done` holds for the item (the background workers run on their own).
async fn wait_for(app: &TestApp, id: i64, within: Duration, done: impl Fn(&str) -> bool) {
    let start = Instant::now();
    loop {
        let (status, _, error) = item(app, id).await;
        if done(&status) {
            return;
        }
        assert!(
            start.elapsed() < within,
            "item {id} still {status} after {within:?} ({error:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_silent_smtp_server_delays_only_its_own_account() {
    let standin = StandIn::start().await;
    let app = spawn_app_with(&[
        ("TELNYX_API_BASE", &standin.base),
        ("LEADLINE_MAIL_TIMEOUT_SECS", "4"),
    ])
    .await;
    let e = app.account("Stuck Roofing").await;
    let b = app.account("Best Roofs").await;
    connect_mailbox(&app, &e.key, "office@stuck.test", silent_listener().await).await;
    let stuck: Vec<i64> = [
        send_email(&app, &e.key, "one").await,
        send_email(&app, &e.key, "two").await,
        send_email(&app, &e.key, "three").await,
    ]
    .to_vec();
    // Wait until the stuck account's mail is in flight before the other account sends.
    wait_for(&app, stuck[0], Duration::from_secs(5), |s| s == "claimed").await;

    connect(&app, &b.key, &[OURS], json!({})).await;
    let sent_at = Instant::now();
    let r = app
        .post(
            &b.key,
            "/api/sms/send",
            json!({"to": LEAD, "text": "On our way"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let sms = r.body["outbox_id"].as_i64().unwrap();
    wait_for(&app, sms, Duration::from_secs(5), |s| s == "sent").await;
    assert!(
        sent_at.elapsed() < Duration::from_secs(3),
        "{:?}",
        sent_at.elapsed()
    );
    assert_eq!(standin.seen().len(), 1);

    // Meanwhile the stuck account holds at most its own cap (2), the third mail waits.
    let statuses: Vec<String> =
        sqlx::query_scalar("select status from outbox where account_id = $1 order by id")
            .bind(e.id)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(statuses, ["claimed", "claimed", "pending"]);

    // The greeting never comes: bounded, retried (nothing left), in words.
    wait_for(&app, stuck[0], Duration::from_secs(15), |s| s == "pending").await;
    let (_, attempts, error) = item(&app, stuck[0]).await;
    assert_eq!(attempts, 1);
    assert!(
        error
            .as_deref()
            .unwrap()
            .contains("timed out waiting for the SMTP greeting"),
        "{error:?}"
    );
}

/// A queued text as the SMS channel writes it.
fn text(body: &str) -> Value {
    json!({"to": LEAD, "from": OURS, "text": body, "lead_id": null, "automatic": false,
           "ai_generated": false, "only_if_missed_call": null})
}

async fn abandoned(
    app: &TestApp,
    account: i64,
    status: &str,
    body: &str,
    provider_id: Option<&str>,
) -> i64 {
    sqlx::query_scalar(
        "insert into outbox (account_id, kind, payload, status, attempts, next_attempt_at, provider_message_id)
         values ($1, 'sms', $2, $3, 1, now() - interval '1 second', $4) returning id",
    )
    .bind(account)
    .bind(text(body))
    .bind(status)
    .bind(provider_id)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn abandoned_work_is_retried_recorded_or_marked_unknown_by_how_far_it_got() {
    let standin = StandIn::start().await;
    let app = spawn_app_with(&[("TELNYX_API_BASE", &standin.base)]).await;
    let a = app.account("Acme").await;
    let other = app.account("Other").await;
    connect(&app, &a.key, &[OURS], json!({})).await;
    // What a worker killed mid-way leaves behind, each lease expired.
    let claimed = abandoned(&app, a.id, "claimed", "never attempted", None).await;
    let sending = abandoned(&app, a.id, "sending", "maybe sent", None).await;
    let accepted = abandoned(
        &app,
        a.id,
        "accepted",
        "sent, not recorded",
        Some("msg-earlier"),
    )
    .await;

    for id in [claimed, accepted] {
        wait_for(&app, id, Duration::from_secs(10), |s| s == "sent").await;
    }
    wait_for(&app, sending, Duration::from_secs(10), |s| s == "unknown").await;
    let texts: Vec<Value> = standin
        .seen()
        .iter()
        .map(|s| s.body["text"].clone())
        .collect();
    assert_eq!(
        texts,
        [json!("never attempted")],
        "only the claimed one was sent"
    );
    let recorded: Vec<(String, String)> = sqlx::query_as(
        "select content, provider_message_id from communications where type = 'sms' order by content",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        recorded,
        [
            ("never attempted".to_string(), "msg-1".to_string()),
            ("sent, not recorded".to_string(), "msg-earlier".to_string())
        ]
    );

    // The unknown one is shown to the account, and only a person sends it again.
    let r = app.get(&a.key, "/api/outbox").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["unknown"], 1);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], sending);
    assert_eq!(items[0]["to"], LEAD);
    assert_eq!(items[0]["summary"], "maybe sent");
    assert!(items[0]["last_error"]
        .as_str()
        .unwrap()
        .contains("may or may not"));
    assert_eq!(
        app.get(&other.key, "/api/outbox").await.body["items"],
        json!([])
    );
    assert_eq!(
        app.get(&a.key, "/api/outbox?status=bogus").await.status,
        422
    );

    let app = &app;
    let again = async |key: String, id: i64| {
        app.post(&key, &format!("/api/outbox/{id}/send-again"), json!({}))
            .await
    };
    assert_eq!(again(other.key.clone(), sending).await.status, 404);
    let r = again(a.key.clone(), claimed).await;
    assert_eq!((r.status, r.error_code()), (409, "not_resendable"));
    let r = again(a.key.clone(), sending).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "pending");
    wait_for(app, sending, Duration::from_secs(10), |s| s == "sent").await;
    assert_eq!(standin.seen().len(), 2);
    assert_eq!(standin.seen()[1].body["text"], "maybe sent");
}

#[tokio::test]
async fn an_email_whose_final_dot_gets_no_answer_is_unknown_and_not_resent() {
    let app = spawn_app_with(&[("LEADLINE_MAIL_TIMEOUT_SECS", "1")]).await;
    let a = app.account("Acme").await;
    let (port, mut received) = smtp_silent_after_data().await;
    connect_mailbox(&app, &a.key, "office@acme.test", port).await;
    let id = send_email(&app, &a.key, "Your quote").await;
    wait_for(&app, id, Duration::from_secs(10), |s| s == "unknown").await;
    assert_eq!(received.recv().await.as_deref(), Some("DATA received"));
    let (_, attempts, error) = item(&app, id).await;
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("may have been delivered"));
    // Not resent by itself: no second transaction reaches the server.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(received.try_recv().is_err());
    assert_eq!(item(&app, id).await.1, 1);
}

#[tokio::test]
async fn a_text_telnyx_took_whose_acceptance_could_not_be_noted_is_unknown_not_resent() {
    let standin = StandIn::start().await;
    let app = spawn_app_with(&[("TELNYX_API_BASE", &standin.base)]).await;
    let a = app.account("Acme").await;
    connect(&app, &a.key, &[OURS], json!({})).await;
    // A database fault right after Telnyx accepted: neither the acceptance nor the
    // communication can be written.
    for sql in [
        "create function injected_fault() returns trigger language plpgsql as
         $$ begin raise exception 'injected fault'; end $$",
        "create trigger no_accept before update on outbox for each row
         when (new.status = 'accepted') execute function injected_fault()",
        "create trigger no_record before insert on communications for each row
         when (new.type::text = 'sms' and new.direction::text = 'outbound') execute function injected_fault()",
    ] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    let r = app
        .post(
            &a.key,
            "/api/sms/send",
            json!({"to": LEAD, "text": "On our way"}),
        )
        .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let id = r.body["outbox_id"].as_i64().unwrap();
    wait_for(&app, id, Duration::from_secs(10), |s| s == "unknown").await;
    let (_, _, error) = item(&app, id).await;
    assert!(
        error.as_deref().unwrap().contains("may have been sent"),
        "{error:?}"
    );
    // The fault is gone; the workers go on, and the text is not sent a second time.
    for sql in [
        "drop trigger no_accept on outbox",
        "drop trigger no_record on communications",
    ] {
        sqlx::query(sql).execute(&app.pool).await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(item(&app, id).await.0, "unknown");
    assert_eq!(standin.seen().len(), 1, "sent once");
}

#[tokio::test]
async fn the_process_never_holds_more_items_than_its_overall_cap() {
    let app = spawn_app_with(&[
        ("LEADLINE_MAIL_TIMEOUT_SECS", "4"),
        ("LEADLINE_OUTBOX_CONCURRENCY", "3"),
        ("LEADLINE_OUTBOX_PER_ACCOUNT", "2"),
    ])
    .await;
    // Three accounts, each with a silent mail server and two emails: six could run under
    // the per-account cap, the process takes three.
    for n in 0..3 {
        let acct = app.account(&format!("Roofer {n}")).await;
        connect_mailbox(
            &app,
            &acct.key,
            &format!("office@roofer{n}.test"),
            silent_listener().await,
        )
        .await;
        send_email(&app, &acct.key, "one").await;
        send_email(&app, &acct.key, "two").await;
    }
    // Watched for 5 s: claims come within a second or two, and each holds its slot for
    // the whole connect bound (2 × 4 s) against a server that never greets.
    let start = Instant::now();
    let mut most = 0;
    while start.elapsed() < Duration::from_secs(5) {
        let held: i64 = sqlx::query_scalar(
            "select count(*) from outbox where status in ('claimed','sending','accepted')",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        most = most.max(held);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(most, 3, "at most the overall cap, and it is used");
}

#[tokio::test]
async fn a_worker_renews_the_lease_of_what_it_holds() {
    // A mail server that never greets holds the item for the whole connect bound (2 × 15 s),
    // longer than a lease: the worker keeps renewing it, so no one reclaims it meanwhile.
    let app = spawn_app_with(&[("LEADLINE_MAIL_TIMEOUT_SECS", "15")]).await;
    let e = app.account("Slow Roofing").await;
    connect_mailbox(&app, &e.key, "office@slow.test", silent_listener().await).await;
    let id = send_email(&app, &e.key, "held").await;
    wait_for(&app, id, Duration::from_secs(5), |s| s == "claimed").await;
    let lease = || async {
        sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
            "select next_attempt_at from outbox where id = $1",
        )
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let first = lease().await;
    tokio::time::sleep(leadline::outbox::RENEW_EVERY + Duration::from_secs(3)).await;
    let later = lease().await;
    assert_eq!(
        item(&app, id).await.0,
        "claimed",
        "still held by its worker"
    );
    assert!(
        later - first >= chrono::Duration::seconds(5),
        "renewed: {first} -> {later}"
    );
}
