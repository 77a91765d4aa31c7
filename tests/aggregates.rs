//! The per-lead aggregates (`lead_aggregates`) kept by profile reads: for random histories
//! written through the real writer (in order, out of order, concurrently with reads on two
//! app instances, merged into another lead, deleted), a stored aggregate is never wrong (it
//! equals the fold of the lead's touches up to its last one), a read brings it up to date,
//! and the profile equals the full computation over the whole history.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{spawn_app, Account, TestApp};
use futures_util::future::join_all;
use leadline::hours::Zone;
use leadline::leads::store;
use leadline::tracker::model::Touch;
use leadline::tracker::{self, aggregate::Aggregate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const TEXTS: [&str; 6] = [
    "Thank you so much, the crew did a great job!",
    "Not interested. We went with someone else, too expensive.",
    "My address is 12 Oak St.",
    "Yes please, when can you come out? Ready to schedule.",
    "The leak is getting worse and nobody called back, very frustrating.",
    "",
];
const KINDS: [&str; 4] = ["email", "sms", "phone_call", "chat"];

/// One random touch for `lead`: one to `days` days ago, or now (`days` 0).
fn random_touch(rng: &mut StdRng, lead: i64, n: usize, days: i64) -> Value {
    let kind = KINDS[rng.gen_range(0..KINDS.len())];
    let dir = if rng.gen_bool(0.5) {
        "inbound"
    } else {
        "outbound"
    };
    // whole minutes: ties between touches of one lead happen on purpose
    let mut body = json!({"type": kind, "direction": dir, "lead_id": lead,
        "content": TEXTS[rng.gen_range(0..TEXTS.len())],
        "provider_message_id": format!("p{lead}-{n}")});
    if days > 0 {
        let minutes = rng.gen_range(24 * 60 / 7..days * 24 * 60 / 7) * 7;
        body["timestamp"] = json!((Utc::now() - Duration::minutes(minutes)).to_rfc3339());
    }
    if kind == "phone_call" {
        body["duration"] = json!(rng.gen_range(0..600));
    }
    if kind == "email" {
        body["subject"] = json!("Roof");
    }
    body
}

/// Writes `count` touches for `lead`. `in_order`: one by one, stamped now (each after every
/// earlier touch: the writer folds them); otherwise at random past times, four at a time
/// (batched by the writer; mostly before the lead's last touch).
async fn write(
    app: &TestApp,
    a: &Account,
    rng: &mut StdRng,
    lead: i64,
    count: usize,
    in_order: bool,
) {
    let mut bodies = vec![];
    for _ in 0..count {
        let n: usize = rng.gen();
        bodies.push(random_touch(rng, lead, n, if in_order { 0 } else { 30 }));
    }
    if in_order {
        for b in bodies {
            assert_eq!(app.log(&a.key, b).await.status, 201);
        }
    } else {
        for chunk in bodies.chunks(4) {
            let rs = join_all(chunk.iter().map(|b| app.log(&a.key, b.clone()))).await;
            for r in rs {
                assert_eq!(r.status, 201, "{}", r.body);
            }
        }
    }
}

/// The lead's `lead_aggregates` row: its version, zone and aggregate (`None`: forgotten).
async fn stored(app: &TestApp, lead: i64) -> Option<(i64, String, Option<Aggregate>)> {
    let row: Option<(i64, String, Option<Value>, Vec<f32>)> = sqlx::query_as(
        "select version, zone, state, scores from lead_aggregates where lead_id = $1",
    )
    .bind(lead)
    .fetch_optional(&app.pool)
    .await
    .unwrap();
    row.map(|(version, zone, state, scores)| {
        let agg = state.map(|s| Aggregate {
            scores,
            ..serde_json::from_value(s).unwrap()
        });
        (version, zone, agg)
    })
}

async fn touches_of(app: &TestApp, lead: i64) -> Vec<Touch> {
    let mut conn = app.pool.acquire().await.unwrap();
    store::load_touches(&mut conn, lead).await.unwrap()
}

/// A stored aggregate is never wrong: it is the fold of the lead's touches up to its last
/// one (it may lack later touches; a read folds those in). Returns it.
async fn assert_never_wrong(app: &TestApp, lead: i64, zone: Zone) -> Option<Aggregate> {
    let (_, _, agg) = stored(app, lead).await?;
    let agg = agg?;
    let touches = touches_of(app, lead).await;
    let upto: Vec<Touch> = match agg.last {
        Some(m) => touches
            .into_iter()
            .filter(|t| (t.timestamp, t.id) <= (m.at, m.id))
            .collect(),
        None => vec![],
    };
    assert_eq!(
        agg,
        Aggregate::of(&upto, zone),
        "lead {lead}: stored aggregate is wrong"
    );
    Some(agg)
}

/// Whether the lead's row is forgotten (it exists, without an aggregate).
async fn forgotten(app: &TestApp, lead: i64) -> bool {
    matches!(stored(app, lead).await, Some((_, _, None)))
}

/// Reads the profile; afterwards the stored aggregate is current (equals a recomputation
/// from every touch, in the account's zone), and the profile and summary equal the full
/// computation. Returns the row's version.
async fn read_and_check(app: &TestApp, a: &Account, lead: i64, zone_name: &str) -> i64 {
    let zone = Zone::parse(zone_name).unwrap();
    let profile = app.get(&a.key, &format!("/api/leads/{lead}/profile")).await;
    assert_eq!(profile.status, 200, "{}", profile.body);
    let touches = touches_of(app, lead).await;
    let (version, stored_zone, agg) = stored(app, lead).await.expect("a row after a read");
    let agg = agg.expect("an aggregate after a read");
    assert_eq!(stored_zone, zone_name);
    assert_eq!(
        agg,
        Aggregate::of(&touches, zone),
        "lead {lead}: not current after a read"
    );
    let expected = tracker::summary::summarize(&touches);
    assert_eq!(
        profile.body["summary"],
        serde_json::to_value(&expected).unwrap()
    );
    let summary = app.get(&a.key, &format!("/api/leads/{lead}/summary")).await;
    assert_eq!(summary.body, profile.body["summary"]);
    // what the profile computes from it equals the full computation, at any time
    let mut conn = app.pool.acquire().await.unwrap();
    let (facts, _) = store::load_facts(&mut conn, leadline::domain::AccountId(a.id), lead)
        .await
        .unwrap();
    let recent = tracker::aggregate::recent(&touches, tracker::SCORE_WINDOW);
    let later = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();
    for now in [Utc::now(), later] {
        assert_eq!(
            tracker::analyze_from(&facts, &agg, &recent, now),
            tracker::analyze(&facts, &touches, zone, now)
        );
    }
    version
}

async fn new_lead(app: &TestApp, a: &Account, phone: String) -> i64 {
    let r = app
        .log(
            &a.key,
            json!({"type": "sms", "direction": "inbound", "content": "hi", "from_address": phone}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["lead_id"].as_i64().unwrap()
}

#[tokio::test]
async fn reads_keep_the_aggregate_current_and_changes_behind_it_make_it_forgotten() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let zone_name = "America/New_York";
    let zone = Zone::parse(zone_name).unwrap();
    sqlx::query("update accounts set timezone = $1 where id = $2")
        .bind(zone_name)
        .bind(a.id)
        .execute(&app.pool)
        .await
        .unwrap();
    for seed in 0..3u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut leads = vec![];
        for i in 0..2 {
            leads.push(new_lead(&app, &a, format!("+1312555{seed}{i:03}")).await);
        }
        for &lead in &leads {
            write(&app, &a, &mut rng, lead, 12, true).await;
            // the recording path writes no aggregate; the first read stores one
            assert!(stored(&app, lead).await.is_none());
            let v1 = read_and_check(&app, &a, lead, zone_name).await;
            // newer touches: the stored one lacks them but stays right; a read folds them
            write(&app, &a, &mut rng, lead, 8, true).await;
            let kept = assert_never_wrong(&app, lead, zone).await.unwrap();
            assert_eq!(kept.total(), 13);
            let v2 = read_and_check(&app, &a, lead, zone_name).await;
            assert_eq!(v2, v1 + 1);
            // an unchanged history: a read writes nothing
            assert_eq!(read_and_check(&app, &a, lead, zone_name).await, v2);
            // touches before the last one, four at once: forgotten, rebuilt by a read
            write(&app, &a, &mut rng, lead, 16, false).await;
            assert!(forgotten(&app, lead).await);
            read_and_check(&app, &a, lead, zone_name).await;
        }
        // the second lead merged into the first: both forgotten, then rebuilt
        let mut tx = app.pool.begin().await.unwrap();
        leadline::communications::revise::reassign(
            &mut *tx,
            leadline::domain::AccountId(a.id),
            leads[1],
            leads[0],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        for &lead in &leads {
            assert!(forgotten(&app, lead).await, "lead {lead} after the merge");
            read_and_check(&app, &a, lead, zone_name).await;
        }
        write(&app, &a, &mut rng, leads[0], 6, true).await;
        write(&app, &a, &mut rng, leads[0], 6, false).await;
        read_and_check(&app, &a, leads[0], zone_name).await;
        // a deleted touch, and a re-rated one
        for change in [
            "delete from communications where id = (select min(id) from communications where lead_id = $1)",
            "update communications set sentiment_score = -0.9, sentiment = 'negative'
             where id = (select max(id) from communications where lead_id = $1)",
        ] {
            sqlx::query(change)
                .bind(leads[0])
                .execute(&app.pool)
                .await
                .unwrap();
            assert!(forgotten(&app, leads[0]).await, "{change}");
            read_and_check(&app, &a, leads[0], zone_name).await;
        }
    }
    // forgetting a lead without a row leaves an empty one, so a read that saw none and
    // computed from an older history cannot store it
    let lead = new_lead(&app, &a, "+13125559999".into()).await;
    write(&app, &a, &mut StdRng::seed_from_u64(9), lead, 4, false).await;
    assert!(forgotten(&app, lead).await);
    // a changed time zone: a read recounts the local hours
    sqlx::query("update accounts set timezone = 'Asia/Kolkata' where id = $1")
        .bind(a.id)
        .execute(&app.pool)
        .await
        .unwrap();
    read_and_check(&app, &a, lead, "Asia/Kolkata").await;
}

#[tokio::test]
async fn stored_aggregates_are_never_wrong_under_concurrent_writes_and_reads() {
    let seed = common::seed("AGG_SEED");
    let first = spawn_app().await;
    let second = common::replica(&first, &[]).await;
    let a = first.account("A").await;
    let mut leads = vec![];
    for i in 0..3 {
        leads.push(new_lead(&first, &a, format!("+1312556{i:04}")).await);
    }
    let zone = Zone::default();
    let mut tasks = vec![];
    for w in 0..6u64 {
        let app = if w % 2 == 0 { &first } else { &second };
        let (base, http, key, leads) = (
            app.base.clone(),
            app.http.clone(),
            a.key.clone(),
            leads.clone(),
        );
        let mut rng = StdRng::seed_from_u64(seed ^ w.wrapping_mul(0x9e37_79b9));
        tasks.push(tokio::spawn(async move {
            for i in 0..30 {
                let lead = leads[rng.gen_range(0..leads.len())];
                if w < 2 {
                    // readers: the profile, which brings the aggregate up to date
                    let r = http
                        .get(format!("{base}/api/leads/{lead}/profile"))
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status().as_u16(), 200);
                    continue;
                }
                // writers: mostly now (appends), some backfills
                let days = if rng.gen_bool(0.8) { 0 } else { 3 };
                let body = random_touch(&mut rng, lead, (w as usize) * 1000 + i, days);
                let r = http
                    .post(format!("{base}/api/communications/log"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut kept = 0;
    for &lead in &leads {
        kept += usize::from(assert_never_wrong(&first, lead, zone).await.is_some());
        read_and_check(&first, &a, lead, "UTC").await;
    }
    eprintln!(
        "{kept} of {} aggregates stored when the writes ended",
        leads.len()
    );
}

#[tokio::test]
async fn a_read_never_stores_a_history_that_changed_behind_it() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let lead = new_lead(&app, &a, "+13125557000".into()).await;
    let mut rng = StdRng::seed_from_u64(3);
    write(&app, &a, &mut rng, lead, 6, true).await;
    read_and_check(&app, &a, lead, "UTC").await;
    // newer touches, so the next read has something to store
    write(&app, &a, &mut rng, lead, 2, true).await;
    // a backfilled touch, not yet committed: its trigger has forgotten the row (and holds it)
    let mut tx = app.pool.begin().await.unwrap();
    sqlx::query(
        "insert into communications (account_id, lead_id, type, direction, \"timestamp\", content)
         values ($1, $2, 'sms', 'inbound', now() - interval '3 days', 'late')",
    )
    .bind(a.id)
    .bind(lead)
    .execute(&mut *tx)
    .await
    .unwrap();
    // a read whose snapshot lacks it: its write-back waits on the row
    let (base, http, key) = (app.base.clone(), app.http.clone(), a.key.clone());
    let read = tokio::spawn(async move {
        http.get(format!("{base}/api/leads/{lead}/profile"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    let mut waited = false;
    for _ in 0..200 {
        let (n,): (i64,) = sqlx::query_as(
            "select count(*) from pg_stat_activity
             where wait_event_type = 'Lock' and query like '%lead_aggregates%'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if n > 0 {
            waited = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        waited,
        "the read's write-back never waited on the forgotten row"
    );
    tx.commit().await.unwrap();
    assert_eq!(read.await.unwrap(), 200);
    // the write-back read the old version: it is dropped, the row stays forgotten
    assert!(forgotten(&app, lead).await);
    read_and_check(&app, &a, lead, "UTC").await;
}

/// A profile request that fails early (another account's lead: the lead read answers 404
/// while the history read is still beginning its transaction) must not leave a pooled
/// connection inside that read-only transaction: every later request still works.
#[tokio::test]
async fn a_refused_profile_read_leaves_no_connection_in_a_transaction() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    let foreign = new_lead(&app, &b, "+13125558000".into()).await;
    let path = format!("/api/leads/{foreign}/profile");
    for _ in 0..25 {
        let rs = join_all((0..20).map(|_| app.get(&a.key, &path))).await;
        assert!(
            rs.iter().all(|r| r.status == 404),
            "{:?}",
            rs.iter().map(|r| r.status).collect::<Vec<_>>()
        );
    }
    // Writes through every pooled connection: none may be stuck in a read-only transaction.
    let rs = join_all((0..40).map(|i| {
        app.log(
            &a.key,
            json!({"type": "sms", "direction": "inbound", "content": "still here",
                   "from_address": format!("+1312555{:04}", 8100 + i)}),
        )
    }))
    .await;
    for r in &rs {
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = app
        .post(&a.key, "/api/templates", json!({"name": "t", "body": "hi"}))
        .await;
    assert!(r.status < 500, "{}", r.body);
}
