//! The foundation API through HTTP: health, auth, the recording path, leads, isolation, bad input.

mod common;

use common::{spawn_app, spawn_app_with, spawn_on_pool, test_config};
use serde_json::{json, Value};
use std::time::Duration;

fn sms_in(from: &str, text: &str, pmid: &str) -> Value {
    json!({"type": "sms", "direction": "inbound", "from_address": from, "content": text, "provider_message_id": pmid})
}

#[tokio::test]
async fn health_reports_a_connected_database() {
    let app = spawn_app().await;
    let r = app.send(app.http.get(format!("{}/health", app.base))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["status"], "healthy");
    assert_eq!(r.body["database"], "connected");
    assert_eq!(r.body["version"], env!("CARGO_PKG_VERSION"));
    assert!(r.headers.get("x-request-id").is_some());
}

#[tokio::test]
async fn health_is_503_when_the_database_is_unreachable() {
    let opts = leadline::db::socket_options(std::path::Path::new("/nonexistent-leadline"), "x");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy_with(opts);
    let app = spawn_on_pool(pool, &[]).await;
    let r = app.send(app.http.get(format!("{}/health", app.base))).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["database"], "unreachable");
    // An authenticated route answers 503 with the error body, not 500.
    let r = app.get("ll_whatever", "/api/leads").await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.error_code(), "unavailable");
    assert_eq!(
        r.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("5")
    );
    let _ = test_config(&[]);
}

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_keys_get_401() {
    let app = spawn_app().await;
    let acct = app.account("Acme Roofing").await;
    let url = format!("{}/api/leads", app.base);
    let cases = [
        app.http.get(&url),
        app.http.get(&url).header("authorization", "Basic abc"),
        app.http.get(&url).header("authorization", "Bearer "),
        app.http.get(&url).bearer_auth("ll_not_a_real_key"),
    ];
    for req in cases {
        let r = app.send(req).await;
        assert_eq!(r.status, 401, "{:?}", r.body);
        assert_eq!(r.error_code(), "unauthorized");
    }
    assert_eq!(app.get(&acct.key, "/api/leads").await.status, 200);
    sqlx::query("update api_keys set revoked_at = now() where account_id = $1")
        .bind(acct.id)
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(app.get(&acct.key, "/api/leads").await.status, 401);
}

#[tokio::test]
async fn a_second_key_works_and_keys_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let acct = app.account("Acme").await;
    let second = leadline::accounts::new_key(&app.pool, leadline::domain::AccountId(acct.id))
        .await
        .unwrap();
    assert_ne!(second.api_key, acct.key);
    assert_eq!(app.get(&second.api_key, "/api/leads").await.status, 200);
    let stored: Vec<(Vec<u8>, String)> = sqlx::query_as("select key_hash, prefix from api_keys")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    for (hash, prefix) in stored {
        assert_eq!(hash.len(), 32);
        assert!(!String::from_utf8_lossy(&hash).contains(&acct.key));
        assert_eq!(prefix.len(), 11);
    }
}

#[tokio::test]
async fn logging_a_communication_creates_the_lead_and_answers_201() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app
        .log(&a.key, json!({
            "type": "email", "direction": "inbound", "timestamp": "2025-01-05T16:30:00Z",
            "from_address": "Jane Doe <Jane.Doe@Example.com>", "to_address": "office@acme.test",
            "subject": "Leak over the kitchen", "content": "Water is coming through the ceiling.",
            "metadata": {"source": "test"}, "tags": ["leak", "leak", "urgent"],
            "lead": {"name": "Jane Doe"}
        }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["type"], "email");
    assert_eq!(r.body["timestamp"], "2025-01-05T16:30:00Z");
    assert_eq!(r.body["tags"], json!(["leak", "urgent"]));
    let lead_id = r.body["lead_id"].as_i64().unwrap();
    let lead = app.get(&a.key, &format!("/api/leads/{lead_id}")).await;
    assert_eq!(lead.status, 200);
    assert_eq!(lead.body["email"], "jane.doe@example.com");
    assert_eq!(lead.body["name"], "Jane Doe");
    assert_eq!(lead.body["last_activity_at"], "2025-01-05T16:30:00Z");
}

#[tokio::test]
async fn duplicate_provider_message_id_returns_the_existing_row() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let first = app.log(&a.key, sms_in("+13126412278", "Hi", "SM-1")).await;
    assert_eq!(first.status, 201);
    let again = app
        .log(&a.key, sms_in("+13126412278", "Hi (retry)", "SM-1"))
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.body["content"], "Hi");
    // The same id on another channel is a different message.
    let email = app.log(&a.key, json!({"type": "email", "direction": "inbound", "from_address": "x@y.com", "provider_message_id": "SM-1"})).await;
    assert_eq!(email.status, 201);
    let n: i64 = sqlx::query_scalar("select count(*) from communications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn concurrent_redeliveries_insert_one_row_and_one_lead() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let mut tasks = vec![];
    for _ in 0..16 {
        let (http, base, key) = (app.http.clone(), app.base.clone(), a.key.clone());
        tasks.push(tokio::spawn(async move {
            http.post(format!("{base}/api/communications/log"))
                .bearer_auth(key)
                .json(&sms_in("312-555-0199", "hello", "race-1"))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = vec![];
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 200),
        "{statuses:?}"
    );
    let (comms, leads): (i64, i64) = sqlx::query_as(
        "select (select count(*) from communications), (select count(*) from leads)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((comms, leads), (1, 1));
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Created,
    Duplicate,
    NotFound,
}

/// Concurrent writes are batched (one statement carries several); each request still gets
/// its own answer, and the score stored on each lead counts every touch (no update lost
/// between concurrent writers of one lead).
#[tokio::test]
async fn a_burst_of_concurrent_writes_is_batched_and_loses_nothing() {
    // Two writers: the leads spread over two shards that write side by side.
    let app = spawn_app_with(&[("LEADLINE_RECORD_WRITERS", "2")]).await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    let phone = |i: usize| format!("+1312555010{i}");
    let mut known = vec![];
    for i in 0..5 {
        let r = app
            .log(&a.key, sms_in(&phone(i), "hello", &format!("seed-{i}")))
            .await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        known.push(r.body["lead_id"].as_i64().unwrap());
    }
    let b_lead = app
        .log(&b.key, sms_in("+13125550199", "hi", "b-seed"))
        .await
        .body["lead_id"]
        .as_i64()
        .unwrap();

    let mut reqs: Vec<(&str, Value, Expect)> = vec![];
    for round in 0..8 {
        for i in 0..5 {
            let text = "Can someone come by this week? The ceiling is stained.";
            reqs.push((
                &a.key,
                sms_in(&phone(i), text, &format!("m-{i}-{round}")),
                Expect::Created,
            ));
        }
    }
    for n in 0..3 {
        for k in 0..2 {
            let from = format!("+1773555020{n}");
            reqs.push((
                &a.key,
                sms_in(&from, "new here", &format!("n-{n}-{k}")),
                Expect::Created,
            ));
        }
    }
    // One provider id delivered for two different leads: one row, the second is its duplicate.
    reqs.push((&a.key, sms_in(&phone(0), "dup", "dup-1"), Expect::Duplicate));
    reqs.push((&a.key, sms_in(&phone(1), "dup", "dup-1"), Expect::Duplicate));
    // Another account's lead, in the same burst.
    let foreign =
        json!({"type": "sms", "direction": "outbound", "lead_id": b_lead, "content": "x"});
    reqs.push((&a.key, foreign, Expect::NotFound));
    let own = json!({"type": "sms", "direction": "outbound", "lead_id": b_lead, "content": "Thanks", "provider_message_id": "b-1"});
    reqs.push((&b.key, own, Expect::Created));

    let responses = futures_util::future::join_all(
        reqs.iter().map(|(key, body, _)| app.log(key, body.clone())),
    )
    .await;
    let mut dup_ids = vec![];
    for ((_, body, expect), r) in reqs.iter().zip(&responses) {
        match expect {
            Expect::Created => {
                assert_eq!(r.status, 201, "{body} -> {:?}", r.body);
                assert_eq!(r.body["provider_message_id"], body["provider_message_id"]);
                assert_eq!(r.body["content"], body["content"]);
            }
            Expect::Duplicate => {
                assert!(r.status == 201 || r.status == 200, "{:?}", r.body);
                dup_ids.push((r.status, r.body["id"].as_i64().unwrap()));
            }
            Expect::NotFound => assert_eq!(r.status, 404, "{:?}", r.body),
        }
        if let Some(i) = (0..5).find(|&i| body["from_address"] == phone(i)) {
            if *expect == Expect::Created {
                assert_eq!(r.body["lead_id"].as_i64(), Some(known[i]));
            }
        }
    }
    dup_ids.sort();
    assert_eq!(dup_ids.len(), 2);
    assert_eq!((dup_ids[0].0, dup_ids[1].0), (200, 201), "{dup_ids:?}");
    assert_eq!(dup_ids[0].1, dup_ids[1].1);
    assert!(
        app.state.recorder.batched() > 0,
        "no statement carried more than one communication"
    );

    let count = |sql: &'static str, account: i64| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(account)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // 5 seeds + 40 + 6 + one dup; 5 known + 3 new leads.
    assert_eq!(
        count(
            "select count(*) from communications where account_id = $1",
            a.id
        )
        .await,
        52
    );
    assert_eq!(
        count("select count(*) from leads where account_id = $1", a.id).await,
        8
    );
    assert_eq!(
        count(
            "select count(*) from communications where account_id = $1",
            b.id
        )
        .await,
        2
    );
    // The stored score (with its "N touches so far" detail) is what a fresh computation over
    // the whole history gives: every touch was seen by the write that stored it.
    let leads = app.get(&a.key, "/api/leads?limit=100").await;
    for lead in leads.body["items"].as_array().unwrap() {
        let id = lead["id"].as_i64().unwrap();
        let p = app.get(&a.key, &format!("/api/leads/{id}/profile")).await;
        assert_eq!(p.status, 200, "{:?}", p.body);
        assert_eq!(
            p.body["lead"]["score_breakdown"], p.body["score"]["rules"],
            "lead {id}"
        );
        assert_eq!(
            p.body["lead"]["score"], p.body["score"]["score"],
            "lead {id}"
        );
    }
}

/// Jobs queued together are written as one batch; when one of them repeats a provider id
/// the batch statement fails as a whole, and every job is then written on its own: the
/// repeat gets the existing row, the others are stored, nothing is lost or doubled.
#[tokio::test]
async fn a_batch_refused_for_one_repeated_id_still_answers_each_job() {
    use leadline::communications::{record, LeadRef, NewCommunication};
    use leadline::domain::Identity;
    use leadline::domain::{Channel, Direction};
    // One writer, so all three jobs share a queue on any machine.
    let app = spawn_app_with(&[("LEADLINE_RECORD_WRITERS", "1")]).await;
    let a = app.account("Acme").await;
    let phone = |i: usize| format!("+1312555030{i}");
    let mut leads = vec![];
    for i in 0..3 {
        let r = app
            .log(&a.key, sms_in(&phone(i), "hello", &format!("seed-{i}")))
            .await;
        leads.push(r.body["lead_id"].as_i64().unwrap());
    }
    let sms = |i: usize, pmid: &str| {
        let who = Identity {
            phone: leadline::domain::Phone::parse(&phone(i), phonenumber::country::Id::US),
            ..Identity::default()
        };
        let mut new =
            NewCommunication::new(LeadRef::Identity(who), Channel::Sms, Direction::Inbound);
        new.content = Some(format!("message for lead {i}"));
        new.from_address = Some(phone(i));
        new.provider_message_id = Some(pmid.to_string());
        new
    };
    // Queued in one go (this test's runtime runs the writer only once all are queued).
    let jobs = [sms(0, "b-0"), sms(1, "seed-0"), sms(2, "b-2")];
    let outcomes = futures_util::future::join_all(
        jobs.into_iter()
            .map(|new| record(&app.state, leadline::domain::AccountId(a.id), new)),
    )
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.unwrap()).collect();
    assert!(!outcomes[0].duplicate && !outcomes[2].duplicate);
    assert_eq!(outcomes[0].communication.lead_id, leads[0]);
    assert_eq!(outcomes[2].communication.lead_id, leads[2]);
    // The repeat answers with the row first stored under that id (lead 0's seed).
    assert!(outcomes[1].duplicate);
    assert_eq!(outcomes[1].communication.lead_id, leads[0]);
    assert_eq!(outcomes[1].communication.content.as_deref(), Some("hello"));
    // Written one by one, not by a multi-row statement.
    assert_eq!(app.state.recorder.batched(), 0);
    let per_lead: Vec<(i64, i64)> = sqlx::query_as(
        "select lead_id, count(*) from communications group by lead_id order by lead_id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(per_lead, vec![(leads[0], 2), (leads[1], 1), (leads[2], 2)]);

    // The same three without the repeat go as one statement.
    let jobs = [sms(0, "c-0"), sms(1, "c-1"), sms(2, "c-2")];
    let outcomes = futures_util::future::join_all(
        jobs.into_iter()
            .map(|new| record(&app.state, leadline::domain::AccountId(a.id), new)),
    )
    .await;
    assert!(outcomes
        .iter()
        .all(|o| o.as_ref().is_ok_and(|r| !r.duplicate)));
    assert_eq!(app.state.recorder.batched(), 3);
}

/// New leads queued together are created in one statement. A second new lead with an
/// identity an earlier one in the batch took is not created: its job is read again and
/// joins that lead. A batch refused for a repeated provider id is written one by one.
#[tokio::test]
async fn new_leads_queued_together_are_created_in_one_statement() {
    use leadline::communications::{record, LeadRef, NewCommunication};
    use leadline::domain::{AccountId, Channel, Direction, Email, Identity, Phone};
    let app = spawn_app_with(&[("LEADLINE_RECORD_WRITERS", "1")]).await;
    let a = app.account("Acme").await;
    let phone = |i: usize| format!("+1312555040{i}");
    let sms = |i: usize, email: Option<&str>, pmid: &str| {
        let who = Identity {
            phone: Phone::parse(&phone(i), phonenumber::country::Id::US),
            email: email.and_then(Email::parse),
            ..Identity::default()
        };
        let mut new =
            NewCommunication::new(LeadRef::Identity(who), Channel::Sms, Direction::Inbound);
        new.content = Some(format!("hello from {i}"));
        new.from_address = Some(phone(i));
        new.provider_message_id = Some(pmid.to_string());
        new
    };
    // Queued in one go (this test's runtime runs the writer only once all are queued).
    let jobs = [
        sms(0, None, "n-0"),
        sms(1, None, "n-1"),
        sms(2, Some("kim@example.com"), "n-2"),
        // the same phone as the job before, no email: a different key, the same person
        sms(2, None, "n-3"),
    ];
    let outcomes = futures_util::future::join_all(
        jobs.into_iter()
            .map(|new| record(&app.state, AccountId(a.id), new)),
    )
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.unwrap()).collect();
    assert!(outcomes.iter().all(|o| !o.duplicate));
    let lead = |i: usize| outcomes[i].communication.lead_id;
    assert_eq!(lead(2), lead(3));
    assert!(lead(0) != lead(1) && lead(1) != lead(2) && lead(0) != lead(2));
    // Three new leads in one statement (then the fourth job, on its lead, alone).
    assert_eq!(app.state.recorder.batched(), 3);
    type LeadRow = (i64, Option<String>, Option<String>, String, i64);
    let stored: Vec<LeadRow> = sqlx::query_as(
        "select l.id, l.email, l.phone, l.source, count(c.id) from leads l
         join communications c on c.lead_id = l.id group by l.id order by l.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3);
    let kim = stored.iter().find(|r| r.0 == lead(2)).unwrap();
    assert_eq!(
        (kim.1.as_deref(), kim.2.as_deref(), kim.3.as_str(), kim.4),
        (Some("kim@example.com"), Some(phone(2).as_str()), "sms", 2)
    );
    let leads_before = stored.len();

    // A repeated provider id refuses the batch: one by one, each gets its own answer.
    let jobs = [
        sms(5, None, "n-5"),
        sms(6, None, "n-0"),
        sms(7, None, "n-7"),
    ];
    let outcomes = futures_util::future::join_all(
        jobs.into_iter()
            .map(|new| record(&app.state, AccountId(a.id), new)),
    )
    .await;
    let outcomes: Vec<_> = outcomes.into_iter().map(|o| o.unwrap()).collect();
    assert!(!outcomes[0].duplicate && !outcomes[2].duplicate);
    assert!(outcomes[1].duplicate);
    assert_eq!(outcomes[1].communication.lead_id, lead(0));
    let (leads, comms): (i64, i64) = sqlx::query_as(
        "select (select count(*) from leads), (select count(*) from communications)",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    // Two new leads (the repeat's sender got none: its text was already stored).
    assert_eq!((leads, comms), (leads_before as i64 + 2, 6));
    assert_eq!(app.state.recorder.batched(), 3);
}

#[tokio::test]
async fn phone_formats_and_email_case_resolve_to_one_lead() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let mut ids = vec![];
    for (i, from) in ["(312) 641-2278", "+1 312 641 2278", "312.641.2278"]
        .iter()
        .enumerate()
    {
        let r = app.log(&a.key, sms_in(from, "hi", &format!("p{i}"))).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        ids.push(r.body["lead_id"].as_i64().unwrap());
    }
    // An outbound call to the same number, and a message given by lead.phone.
    let r = app.log(&a.key, json!({"type": "phone_call", "direction": "outbound", "to_address": "3126412278", "duration": 180})).await;
    ids.push(r.body["lead_id"].as_i64().unwrap());
    let r = app.log(&a.key, json!({"type": "chat", "direction": "inbound", "content": "hi", "lead": {"phone": "312 641 2278", "email": "Bob@Example.com"}})).await;
    ids.push(r.body["lead_id"].as_i64().unwrap());
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // The email learned from the chat joins later emails to the same lead.
    let r = app
        .log(
            &a.key,
            json!({"type": "email", "direction": "inbound", "from_address": "BOB@example.COM"}),
        )
        .await;
    assert_eq!(r.body["lead_id"].as_i64().unwrap(), ids[0]);
    let lead = app.get(&a.key, &format!("/api/leads/{}", ids[0])).await;
    assert_eq!(lead.body["phone"], "+13126412278");
    assert_eq!(lead.body["email"], "bob@example.com");
    // The outbound call moved the lead from new to contacted.
    assert_eq!(lead.body["status"], "contacted");
}

#[tokio::test]
async fn another_account_sees_none_of_a_leads_or_communications() {
    let app = spawn_app().await;
    let a = app.account("A").await;
    let b = app.account("B").await;
    let r = app
        .log(&a.key, sms_in("+13126412278", "private", "iso-1"))
        .await;
    let lead = r.body["lead_id"].as_i64().unwrap();
    for path in [
        format!("/api/leads/{lead}"),
        format!("/api/leads/{lead}/communications"),
    ] {
        let r = app.get(&b.key, &path).await;
        assert_eq!(r.status, 404, "{path}: {:?}", r.body);
        assert_eq!(r.error_code(), "not_found");
    }
    assert_eq!(
        app.patch(&b.key, &format!("/api/leads/{lead}"), json!({"name": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.log(
            &b.key,
            json!({"type": "sms", "direction": "outbound", "lead_id": lead, "content": "x"})
        )
        .await
        .status,
        404
    );
    assert_eq!(app.get(&b.key, "/api/leads").await.body["items"], json!([]));
    // The same phone and provider id in account B is B's own lead and message.
    let rb = app
        .log(&b.key, sms_in("+13126412278", "mine", "iso-1"))
        .await;
    assert_eq!(rb.status, 201);
    assert_ne!(rb.body["lead_id"].as_i64().unwrap(), lead);
    assert_eq!(
        app.get(&a.key, "/api/leads").await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_input_is_answered_4xx_with_an_error_body() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let url = format!("{}/api/communications/log", app.base);
    let raw = |body: Vec<u8>| {
        app.http
            .post(&url)
            .bearer_auth(&a.key)
            .header("content-type", "application/json")
            .body(body)
    };
    let cases: Vec<(&str, reqwest::RequestBuilder, u16, &str)> = vec![
        (
            "malformed json",
            raw(b"{\"type\":".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "bad utf-8",
            raw(b"{\"type\":\"sms\",\"content\":\"\xff\xfe\"}".to_vec()),
            400,
            "malformed_json",
        ),
        (
            "wrong type",
            raw(br#"{"type":"sms","direction":"inbound","duration":"long"}"#.to_vec()),
            422,
            "invalid_field",
        ),
        (
            "unknown enum",
            raw(br#"{"type":"fax","direction":"inbound"}"#.to_vec()),
            422,
            "invalid_field",
        ),
        (
            "unknown field",
            raw(br#"{"type":"sms","direction":"inbound","colour":"red"}"#.to_vec()),
            422,
            "invalid_field",
        ),
        (
            "oversize",
            raw(format!(
                "{{\"type\":\"sms\",\"direction\":\"inbound\",\"content\":\"{}\"}}",
                "a".repeat(1_100_000)
            )
            .into_bytes()),
            413,
            "payload_too_large",
        ),
        (
            "no content type",
            app.http.post(&url).bearer_auth(&a.key).body("{}"),
            415,
            "unsupported_media_type",
        ),
    ];
    for (name, req, status, code) in cases {
        let r = app.send(req).await;
        assert_eq!(r.status, status, "{name}: {:?}", r.body);
        assert_eq!(r.error_code(), code, "{name}");
        assert!(!r.error_message().is_empty(), "{name}");
    }
    let json_cases = [
        (
            "no identity",
            json!({"type": "sms", "direction": "inbound", "content": "hi"}),
        ),
        (
            "invalid phone",
            json!({"type": "sms", "direction": "inbound", "lead": {"phone": "12"}}),
        ),
        (
            "invalid email",
            json!({"type": "email", "direction": "inbound", "lead": {"email": "not-an-email"}}),
        ),
        (
            "both lead and lead_id",
            json!({"type": "sms", "direction": "inbound", "lead_id": 1, "lead": {"phone": "+13126412278"}}),
        ),
        (
            "metadata not an object",
            json!({"type": "sms", "direction": "inbound", "from_address": "+13126412278", "metadata": [1]}),
        ),
        (
            "negative duration",
            json!({"type": "phone_call", "direction": "inbound", "from_address": "+13126412278", "duration": -5}),
        ),
        (
            "far future",
            json!({"type": "sms", "direction": "inbound", "from_address": "+13126412278", "timestamp": "2999-01-01T00:00:00Z"}),
        ),
        (
            "empty provider id",
            json!({"type": "sms", "direction": "inbound", "from_address": "+13126412278", "provider_message_id": " "}),
        ),
    ];
    for (name, body) in json_cases {
        let r = app.log(&a.key, body).await;
        assert_eq!(r.status, 422, "{name}: {:?}", r.body);
        assert_eq!(r.error_code(), "validation_failed", "{name}");
    }
    for (path, status) in [
        ("/api/leads?limit=1000", 422),
        ("/api/leads?cursor=zzz", 400),
        // A well-formed cursor of year -4713 (PostgreSQL's range ends there).
        ("/api/leads?cursor=LTIxMDg2NjgwMzIwMDAwMDAwMTox", 400),
        ("/api/calls?cursor=LTIxMDg2NjgwMzIwMDAwMDAwMTox", 400),
        ("/api/leads?band=LUKEWARM", 422),
        ("/api/leads/abc", 400),
        ("/api/leads/1/communications?type=fax", 400),
        ("/api/nothing-here", 404),
    ] {
        let r = app.get(&a.key, path).await;
        assert_eq!(r.status, status, "{path}: {:?}", r.body);
        assert!(r.body["error"]["code"].is_string(), "{path}");
        if path.contains("cursor=") {
            assert_eq!(r.error_code(), "invalid_cursor", "{path}");
        }
    }
    // Nothing was stored by any of it.
    let n: i64 = sqlx::query_scalar("select count(*) from communications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn leads_can_be_created_updated_filtered_and_paged() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app.post(&a.key, "/api/leads", json!({"name": "Jane", "email": "JANE@x.com", "phone": "(312) 641-2278", "roof_age_years": 22, "issues": ["leak"]})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let jane = r.body["id"].as_i64().unwrap();
    assert_eq!(r.body["email"], "jane@x.com");
    assert_eq!(r.body["phone"], "+13126412278");
    assert_eq!(r.body["status"], "new");
    let dup = app
        .post(&a.key, "/api/leads", json!({"email": "jane@X.com"}))
        .await;
    assert_eq!((dup.status, dup.error_code()), (409, "duplicate_email"));
    assert_eq!(
        app.post(&a.key, "/api/leads", json!({"roof_age_years": 500}))
            .await
            .status,
        422
    );
    assert_eq!(
        app.post(&a.key, "/api/leads", json!({"status": "sold"}))
            .await
            .status,
        422
    );

    let r = app
        .patch(
            &a.key,
            &format!("/api/leads/{jane}"),
            json!({"status": "quoted", "budget": "$12k", "roof_age_years": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["status"], "quoted");
    assert_eq!(r.body["budget"], "$12k");
    assert_eq!(r.body["roof_age_years"], Value::Null);
    assert_eq!(r.body["name"], "Jane", "absent fields are left alone");

    for i in 0..5 {
        assert_eq!(
            app.post(&a.key, "/api/leads", json!({"name": format!("Lead {i}")}))
                .await
                .status,
            201
        );
    }
    let quoted = app.get(&a.key, "/api/leads?status=quoted").await;
    assert_eq!(quoted.body["items"].as_array().unwrap().len(), 1);
    let searched = app.get(&a.key, "/api/leads?q=jane").await;
    assert_eq!(searched.body["items"][0]["id"], jane);
    let mut seen = vec![];
    let mut path = "/api/leads?limit=2".to_string();
    loop {
        let page = app.get(&a.key, &path).await;
        assert_eq!(page.status, 200);
        for l in page.body["items"].as_array().unwrap() {
            seen.push(l["id"].as_i64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(c) => path = format!("/api/leads?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, sorted, "newest activity first, no repeats");
}

#[tokio::test]
async fn a_leads_communications_are_listed_newest_first_and_filtered_by_type() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let lead = app
        .post(&a.key, "/api/leads", json!({"phone": "+13126412278"}))
        .await
        .body["id"]
        .as_i64()
        .unwrap();
    for (i, t) in ["sms", "email", "sms", "phone_call", "sms"]
        .iter()
        .enumerate()
    {
        let r = app.log(&a.key, json!({"type": t, "direction": "inbound", "lead_id": lead, "timestamp": format!("2025-01-0{}T10:00:00Z", i + 1), "content": format!("m{i}")})).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let all = app
        .get(&a.key, &format!("/api/leads/{lead}/communications?limit=2"))
        .await;
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(
        items
            .iter()
            .map(|c| c["content"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["m4", "m3"]
    );
    let next = all.body["next_cursor"].as_str().unwrap();
    let page2 = app
        .get(
            &a.key,
            &format!("/api/leads/{lead}/communications?limit=2&cursor={next}"),
        )
        .await;
    assert_eq!(page2.body["items"][0]["content"], "m2");
    let sms = app
        .get(
            &a.key,
            &format!("/api/leads/{lead}/communications?type=sms"),
        )
        .await;
    assert_eq!(
        sms.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["content"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["m4", "m2", "m0"]
    );
}

#[tokio::test]
async fn the_openapi_document_and_docs_page_are_served() {
    let app = spawn_app().await;
    let r = app
        .send(app.http.get(format!("{}/openapi.json", app.base)))
        .await;
    assert_eq!(r.status, 200);
    for path in [
        "/health",
        "/api/leads",
        "/api/leads/{id}",
        "/api/communications/log",
        "/api/leads/{id}/communications",
    ] {
        assert!(
            r.body["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let docs = app.send(app.http.get(format!("{}/docs", app.base))).await;
    assert_eq!(docs.status, 200);
    assert!(docs.body.as_str().unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn nul_characters_in_api_input_get_422_naming_the_field_and_store_nothing() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let send = |method: reqwest::Method, path: &str, body: Option<&str>| {
        let mut req = app
            .http
            .request(method, format!("{}{path}", app.base))
            .bearer_auth(&a.key);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        app.send(req)
    };
    use reqwest::Method;
    let cases: Vec<(Method, &str, Option<&str>, &str)> = vec![
        (
            Method::POST,
            "/api/leads",
            Some(r#"{"name":"a\u0000b"}"#),
            "name:",
        ),
        (
            Method::POST,
            "/api/communications/log",
            Some(
                r#"{"type":"sms","direction":"inbound","from_address":"+13125550100","content":"x\u0000"}"#,
            ),
            "content:",
        ),
        (
            Method::POST,
            "/api/communications/log",
            Some(
                r#"{"type":"sms","direction":"inbound","from_address":"+13125550100","metadata":{"note":"\u0000"}}"#,
            ),
            "metadata.note:",
        ),
        (
            Method::POST,
            "/api/communications/log",
            Some(
                r#"{"type":"sms","direction":"inbound","from_address":"+13125550100","tags":["ok","b\u0000d"]}"#,
            ),
            "tags[1]:",
        ),
        (
            Method::POST,
            "/api/communications/log",
            Some(
                r#"{"type":"sms","direction":"inbound","lead":{"name":"\u0000","phone":"+13125550100"}}"#,
            ),
            "lead.name:",
        ),
        (
            Method::POST,
            "/api/calls/log",
            Some(r#"{"call_id":"c\u0000","phone":"+13125550100","direction":"inbound"}"#),
            "call_id:",
        ),
        (
            Method::PUT,
            "/api/settings/company",
            Some(r#"{"company_name":"Acme\u0000"}"#),
            "company_name:",
        ),
        (
            Method::POST,
            "/api/sentiment",
            Some(r#"{"texts":["good\u0000"]}"#),
            "texts[0]:",
        ),
        (
            Method::POST,
            "/api/chat/lead/extract",
            Some(r#"{"text":"call me\u0000"}"#),
            "text:",
        ),
        (Method::GET, "/api/leads?q=a%00b", None, "query parameter q"),
        (
            Method::GET,
            "/api/chat/sessions/%00",
            None,
            "path segment 4",
        ),
        (
            Method::GET,
            "/api/leads/1%00/profile",
            None,
            "path segment 3",
        ),
    ];
    for (method, path, body, names) in cases {
        let r = send(method.clone(), path, body).await;
        assert_eq!(r.status, 422, "{method} {path}: {:?}", r.body);
        let msg = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains(names) && msg.contains("NUL"),
            "{method} {path}: {msg}"
        );
    }
    let count = |sql: &'static str| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(count("select count(*) from leads").await, 0);
    assert_eq!(count("select count(*) from communications").await, 0);
    // An escaped backslash before "u0000" is text, not a NUL.
    let r = send(Method::POST, "/api/leads", Some(r#"{"name":"C:\\u0000"}"#)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["name"], "C:\\u0000");
}

#[tokio::test]
async fn empty_strings_in_optional_fields_mean_absent() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app
        .log(&a.key, json!({
            "type": "sms", "direction": "inbound", "from_address": "+13125550111", "content": "Roof leak",
            "subject": "", "status": "", "provider": "", "thread_key": " ", "timestamp": "", "duration": "",
            "lead": {"name": "", "phone": "+13125550111", "email": ""}
        }))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(
        r.body["subject"].is_null() && r.body["status"].is_null() && r.body["thread_key"].is_null()
    );
    assert_eq!(r.body["provider"], "api");
    let lead = app
        .get(&a.key, &format!("/api/leads/{}", r.body["lead_id"]))
        .await;
    assert!(
        lead.body["name"].is_null() && lead.body["email"].is_null(),
        "{:?}",
        lead.body
    );
    let r = app
        .post(
            &a.key,
            "/api/leads",
            json!({"name": "Dana", "email": "", "source": ""}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // A PATCH with an empty string leaves the field as it is (absent); null clears it.
    let id = r.body["id"].as_i64().unwrap();
    let r = app
        .patch(&a.key, &format!("/api/leads/{id}"), json!({"name": ""}))
        .await;
    assert_eq!(
        (r.status, r.body["name"].as_str()),
        (200, Some("Dana")),
        "{:?}",
        r.body
    );
    let r = app
        .patch(&a.key, &format!("/api/leads/{id}"), json!({"name": null}))
        .await;
    assert!(r.body["name"].is_null(), "{:?}", r.body);
    // An empty query parameter is absent too; a whole number may carry a fraction (22.0).
    for path in [
        "/api/leads?status=",
        "/api/leads?band=&limit=5",
        "/api/outbox?status=",
        "/api/quarantine?source=",
        "/api/calls?cursor=",
    ] {
        let r = app.get(&a.key, path).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
    }
    let r = app
        .patch(
            &a.key,
            &format!("/api/leads/{id}"),
            json!({"roof_age_years": 22.0}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["roof_age_years"].as_i64()),
        (200, Some(22)),
        "{:?}",
        r.body
    );
    let r = app
        .patch(
            &a.key,
            &format!("/api/leads/{id}"),
            json!({"roof_age_years": 22.5}),
        )
        .await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.error_message().contains("roof_age_years"), "{:?}", r.body);
}

#[tokio::test]
async fn framework_refusals_speak_json_and_unknown_company_fields_are_refused() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let big = vec![b'x'; 2 * 1024 * 1024];
    for path in [
        "/webhooks/telnyx",
        "/api/integrations/email/test",
        "/api/communications/log",
    ] {
        let r = app
            .send(
                app.http
                    .post(format!("{}{path}", app.base))
                    .bearer_auth(&a.key)
                    .header("content-type", "application/json")
                    .body(big.clone()),
            )
            .await;
        assert_eq!(
            (r.status, r.error_code()),
            (413, "payload_too_large"),
            "{path}: {:?}",
            r.body
        );
    }
    let r = app
        .send(
            app.http
                .delete(format!("{}/api/leads", app.base))
                .bearer_auth(&a.key),
        )
        .await;
    assert_eq!(
        (r.status, r.error_code()),
        (405, "method_not_allowed"),
        "{:?}",
        r.body
    );
    let put = |body: Value| {
        app.send(
            app.http
                .put(format!("{}/api/settings/company", app.base))
                .bearer_auth(&a.key)
                .json(&body),
        )
    };
    assert_eq!(
        put(json!({"company_name": "Acme", "hours": "8-5"}))
            .await
            .status,
        200
    );
    let r = put(json!({"company_nme": "Typo"})).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.error_message().contains("company_nme"), "{:?}", r.body);
    let kept = app.get(&a.key, "/api/settings/company").await;
    assert_eq!(kept.body["company_name"], "Acme", "nothing was cleared");
}

#[tokio::test]
async fn keys_are_listed_issued_and_revoked_and_a_revoked_key_stops_at_once() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    let r = app
        .post(&a.key, "/api/keys", json!({"name": "Website form"}))
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let new_key = r.body["api_key"].as_str().unwrap().to_string();
    let id = r.body["id"].as_i64().unwrap();
    assert!(new_key.starts_with(r.body["prefix"].as_str().unwrap()));
    assert_eq!(app.get(&new_key, "/api/leads").await.status, 200);
    let list = app.get(&a.key, "/api/keys").await;
    let keys = list.body.as_array().unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        !list.body.to_string().contains(&new_key),
        "the key itself is never listed"
    );
    assert!(keys
        .iter()
        .any(|k| k["name"] == "Website form" && k["last_used_at"].is_string()));
    assert_eq!(
        app.post(&a.key, "/api/keys", json!({"name": " "}))
            .await
            .status,
        422
    );
    // Another account cannot revoke it; the account can, and it stops on the next request.
    let del = |key: String, id: i64| {
        app.send(
            app.http
                .delete(format!("{}/api/keys/{id}", app.base))
                .bearer_auth(key),
        )
    };
    assert_eq!(del(b.key.clone(), id).await.status, 404);
    assert_eq!(del(a.key.clone(), id).await.status, 204);
    assert_eq!(app.get(&new_key, "/api/leads").await.status, 401);
    assert_eq!(del(a.key.clone(), id).await.status, 404, "revoked already");
    let list = app.get(&a.key, "/api/keys").await;
    assert!(list
        .body
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["id"] == id && k["revoked_at"].is_string()));
}

#[tokio::test]
async fn failed_key_checks_are_throttled_across_replicas_and_valid_keys_are_not() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let wrong = "ll_wrongwrongwrongwrongwrongwrongwrongwrong";
    for n in 1..=leadline::throttle::FREE_FAILURES {
        assert_eq!(
            app.get(wrong, "/api/leads").await.status,
            401,
            "failure {n}"
        );
    }
    let r = app.get(wrong, "/api/leads").await;
    assert_eq!(
        (r.status, r.error_code()),
        (429, "rate_limited"),
        "{:?}",
        r.body
    );
    let wait: i64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait >= 1, "{wait}");
    // A second server on the same database sees the same count.
    let replica = spawn_on_pool(app.pool.clone(), &[]).await;
    assert_eq!(replica.get(wrong, "/api/leads").await.status, 429);
    // The right key goes through, unslowed, while the wrong ones are refused.
    assert_eq!(app.get(&a.key, "/api/leads").await.status, 200);
    assert_eq!(replica.get(&a.key, "/api/leads").await.status, 200);
}

/// Reads until the server closes the connection (or `within` passes): when it closed.
async fn closed_within(sock: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    use tokio::io::AsyncReadExt;
    let start = std::time::Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let left = within.checked_sub(start.elapsed())?;
        match tokio::time::timeout(left, sock.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_and_their_number_is_capped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(&[
        ("LEADLINE_HEADER_TIMEOUT_SECS", "2"),
        ("LEADLINE_MAX_CONNECTIONS", "20"),
    ])
    .await;
    let addr = app.base.trim_start_matches("http://").to_string();
    // 30 clients sending one header byte every 300 ms, never finishing the head.
    let mut slow = vec![];
    for _ in 0..30 {
        let addr = addr.clone();
        slow.push(tokio::spawn(async move {
            let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let start = std::time::Instant::now();
            for b in b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: "
                .iter()
                .chain(b"a".repeat(200).iter())
            {
                if sock.write_all(&[*b]).await.is_err() {
                    return Some(start.elapsed());
                }
                let mut probe = [0u8; 1];
                match tokio::time::timeout(Duration::from_millis(300), sock.read(&mut probe)).await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
                    _ => {}
                }
            }
            None
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A normal request still gets through: the cap frees as the slow ones time out.
    let t = std::time::Instant::now();
    let r = tokio::time::timeout(
        Duration::from_secs(8),
        reqwest::Client::new()
            .get(format!("{}/health", app.base))
            .send(),
    )
    .await
    .expect("a normal request is answered while slow clients hold the connections")
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert!(
        t.elapsed() >= Duration::from_millis(1000),
        "the 21st connection waited for a slot: {:?}",
        t.elapsed()
    );
    for s in slow {
        let closed = s
            .await
            .unwrap()
            .expect("the server closes a slow client's connection");
        // Accepted at once or after a slot freed: closed within two header timeouts.
        assert!(closed < Duration::from_secs(7), "{closed:?}");
    }
    // An idle keep-alive connection is closed after the same timeout.
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let n = sock.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let idle = closed_within(&mut sock, Duration::from_secs(6))
        .await
        .expect("an idle keep-alive connection is closed");
    assert!(idle >= Duration::from_millis(1500), "{idle:?}");
}

#[tokio::test]
async fn a_dead_database_is_noticed_and_requests_are_refused_at_once() {
    // The pool would wait its whole 10 s acquire timeout on every request.
    let opts = leadline::db::socket_options(std::path::Path::new("/nonexistent-leadline"), "x");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(10))
        .connect_lazy_with(opts);
    let app = spawn_on_pool(pool, &[]).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !app.state.db_watch.is_down() {
        assert!(
            std::time::Instant::now() < deadline,
            "the probe never noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..5 {
        let t = std::time::Instant::now();
        let r = app.get("ll_whatever", "/api/leads").await;
        assert_eq!((r.status, r.error_code()), (503, "unavailable"));
        assert!(r.headers.get("retry-after").is_some());
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    }
}

#[tokio::test]
async fn failures_aimed_at_one_accounts_key_are_counted_for_it_from_any_ip() {
    let app = spawn_app_with(&[("LEADLINE_TRUST_PROXY", "true")]).await;
    let a = app.account("Acme").await;
    // The visible prefix of Acme's key, a guessed rest.
    let aimed = format!("{}{}", &a.key[..11], "x".repeat(a.key.len() - 11));
    let from = |n: u32, key: &str| {
        app.http
            .get(format!("{}/api/leads", app.base))
            .bearer_auth(key)
            .header("x-forwarded-for", format!("203.0.113.{n}"))
    };
    for n in 1..=leadline::throttle::FREE_FAILURES as u32 {
        assert_eq!(app.send(from(n, &aimed)).await.status, 401, "failure {n}");
    }
    // A new address each time, yet the account's count blocks the next guess.
    let r = app.send(from(200, &aimed)).await;
    assert_eq!((r.status, r.error_code()), (429, "rate_limited"));
    assert!(r.headers.get("retry-after").is_some());
    // Guesses at no account from a fresh address are only counted for that address…
    let stray = "ll_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
    assert_eq!(app.send(from(201, stray)).await.status, 401);
    // …and the account's own key is never locked out by others' guesses.
    assert_eq!(app.send(from(202, &a.key)).await.status, 200);
}

#[tokio::test]
async fn database_errors_that_mean_unavailable_answer_503_with_retry_after() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    // A full disk (53100) and out of memory (53200), raised where a write happens.
    for code in ["53100", "53200"] {
        for sql in [
            format!(
                "create or replace function unavailable() returns trigger language plpgsql as
                 $$ begin raise exception 'simulated' using errcode = '{code}'; end $$"
            ),
            "create or replace trigger unavailable before insert on communications
             for each row execute function unavailable()"
                .to_string(),
        ] {
            sqlx::query(&sql).execute(&app.pool).await.unwrap();
        }
        let r = app
            .log(
                &a.key,
                json!({"type": "sms", "direction": "inbound", "content": "hi", "from_address": "+13126412278"}),
            )
            .await;
        assert_eq!(r.status, 503, "{code}: {:?}", r.body);
        assert!(r.headers.contains_key("retry-after"), "{code}");
    }
    sqlx::query("drop trigger unavailable on communications")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app
        .log(
            &a.key,
            json!({"type": "sms", "direction": "inbound", "content": "hi", "from_address": "+13126412278"}),
        )
        .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
}

/// A caller dropped while its transaction's `BEGIN` is in flight (a client gone, a
/// timeout) leaves no pooled connection inside that transaction (`db::begin`).
#[tokio::test]
async fn a_transaction_dropped_while_beginning_leaves_no_connection_inside_it() {
    use futures_util::FutureExt;
    let app = spawn_app().await;
    // A pool of its own (the app's has connections out in its background tasks).
    let pool = leadline::db::pool((*app.pool.connect_options()).clone(), 4)
        .await
        .unwrap();
    for _ in 0..200 {
        // polled once, then dropped: the BEGIN is on its way
        assert!(leadline::db::begin(&pool).now_or_never().is_none());
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Every connection at once: one left inside a transaction began it 300 ms ago. (With
    // `pool.begin()` in the loop above, 3 of the 4 were.)
    let mut conns = vec![];
    for _ in 0..4 {
        conns.push(pool.acquire().await.unwrap());
    }
    for c in &mut conns {
        let fresh: bool = sqlx::query_scalar(
            "select xact_start > query_start - interval '100 ms'
             from pg_stat_activity where pid = pg_backend_pid()",
        )
        .fetch_one(&mut **c)
        .await
        .unwrap();
        assert!(fresh, "a pooled connection is still inside a transaction");
    }
}
