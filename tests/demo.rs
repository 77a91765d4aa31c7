//! `leadline demo`: the populated account, seen through the HTTP API with the key it returns.

mod common;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use leadline::demo::{populate, DemoOptions};
use serde_json::Value;

fn options(leads: usize, seed: u64) -> DemoOptions {
    DemoOptions {
        leads,
        days: 60,
        seed: Some(seed),
        ..DemoOptions::default()
    }
}

fn at(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| panic!("not a timestamp: {v}"))
}

#[tokio::test]
async fn a_demo_account_has_every_band_every_channel_and_mixed_chronological_timelines() {
    let app = common::spawn_app().await;
    let started = Utc::now();
    let summary = populate(&app.state, &options(40, 42)).await.unwrap();
    let key = &summary.api_key;
    let printed = serde_json::to_value(&summary).unwrap();
    for field in ["account_id", "api_key", "leads", "communications"] {
        assert!(
            printed.get(field).is_some(),
            "{field} missing from {printed}"
        );
    }
    assert_eq!(summary.leads, 40);

    let leads = app.get(key, "/api/leads?limit=200").await;
    assert_eq!(leads.status, 200, "{:?}", leads.body);
    let leads = leads.body["items"].as_array().unwrap().clone();
    assert_eq!(leads.len(), 40);
    let bands: BTreeSet<&str> = leads
        .iter()
        .map(|l| l["score_band"].as_str().unwrap())
        .collect();
    assert_eq!(bands, BTreeSet::from(["COLD", "HOT", "WARM"]));
    let statuses: BTreeSet<&str> = leads
        .iter()
        .map(|l| l["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(leadline::leads::STATUSES));
    for l in &leads {
        let phone = l["phone"].as_str().unwrap();
        assert_eq!(
            leadline::phone::normalize_phone(phone, phonenumber::country::Id::US).as_deref(),
            Some(phone),
            "a valid E.164 US number"
        );
    }

    let stats = app.get(key, "/api/communications/stats").await;
    assert_eq!(stats.status, 200, "{:?}", stats.body);
    assert_eq!(stats.body["total"], summary.communications as i64);
    for channel in ["email", "sms", "phone_call", "chat"] {
        let c = &stats.body["channels"][channel];
        assert!(c["inbound"].as_i64().unwrap() > 0, "{channel}: {c}");
        assert!(c["outbound"].as_i64().unwrap() > 0, "{channel}: {c}");
    }
    assert!(stats.body["ai_generated_share"].as_f64().unwrap() > 0.0);

    // Every lead's history is chronological and inside the window; the long ones mix channels.
    let window = started - Duration::days(60) - Duration::minutes(1);
    let mut mixed = 0;
    for l in &leads {
        let id = l["id"].as_i64().unwrap();
        let timeline = app
            .get(key, &format!("/api/leads/{id}/timeline?limit=200"))
            .await;
        assert_eq!(timeline.status, 200, "{:?}", timeline.body);
        let items = timeline.body["items"].as_array().unwrap();
        assert!(!items.is_empty(), "lead {id} has no history");
        let times: Vec<DateTime<Utc>> = items.iter().map(|t| at(&t["timestamp"])).collect();
        assert!(
            times.windows(2).all(|w| w[0] <= w[1]),
            "lead {id}: {times:?}"
        );
        assert!(times[0] >= window, "lead {id} starts before the window");
        assert!(
            *times.last().unwrap() <= Utc::now(),
            "lead {id} ends in the future"
        );
        let channels: BTreeSet<&str> = items.iter().map(|t| t["type"].as_str().unwrap()).collect();
        if l["status"] == "won" {
            assert!(channels.len() >= 2, "won lead {id} used {channels:?}");
        }
        mixed += usize::from(channels.len() >= 2);
    }
    assert!(mixed >= 20, "only {mixed} leads mix channels");

    let calls = app.get(key, "/api/calls?limit=200").await;
    let calls = calls.body["items"].as_array().unwrap();
    let recorded: Vec<&Value> = calls
        .iter()
        .filter(|c| c["outcome"] == "completed")
        .collect();
    assert!(!recorded.is_empty());
    for c in recorded {
        assert!(c["duration"].as_i64().unwrap() > 0, "{c}");
        let url = c["recording_url"].as_str().unwrap();
        assert!(url.starts_with("https://recordings.example.com/"), "{url}");
        assert!(c["summary"].as_str().is_some_and(|s| !s.is_empty()), "{c}");
    }
    assert!(calls.iter().any(|c| c["outcome"] == "missed"));

    let sessions = app.get(key, "/api/chat/sessions?limit=200").await;
    let sessions = sessions.body["items"].as_array().unwrap();
    assert!(!sessions.is_empty());
    let first = sessions[0]["session_id"].as_str().unwrap();
    let detail = app.get(key, &format!("/api/chat/sessions/{first}")).await;
    assert_eq!(detail.status, 200, "{:?}", detail.body);
    let authors: BTreeSet<&str> = detail.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["author"].as_str().unwrap())
        .collect();
    assert!(
        authors.contains("visitor") && authors.contains("ai"),
        "{authors:?}"
    );

    let company = app.get(key, "/api/settings/company").await;
    assert_eq!(company.body["company_name"], "Demo Roofing Co");
}

#[tokio::test]
async fn the_same_seed_gives_the_same_number_of_communications_in_a_new_account() {
    let app = common::spawn_app().await;
    let a = populate(&app.state, &options(15, 7)).await.unwrap();
    let b = populate(&app.state, &options(15, 7)).await.unwrap();
    assert_ne!(a.account_id, b.account_id);
    assert_eq!(a.leads, 15);
    assert_eq!(a.communications, b.communications);
    assert_eq!(a.by_channel, b.by_channel);
    let names = |key: String| {
        let app = &app;
        async move {
            let leads = app.get(&key, "/api/leads?limit=200").await;
            let mut names: Vec<String> = leads.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["name"].as_str().unwrap().to_string())
                .collect();
            names.sort();
            names
        }
    };
    assert_eq!(
        names(a.api_key.clone()).await,
        names(b.api_key.clone()).await
    );
}

#[tokio::test]
async fn out_of_range_options_are_refused_before_anything_is_created() {
    let app = common::spawn_app().await;
    for bad in [
        DemoOptions {
            leads: 0,
            ..DemoOptions::default()
        },
        DemoOptions {
            days: 1,
            ..DemoOptions::default()
        },
        DemoOptions {
            name: "  ".into(),
            ..DemoOptions::default()
        },
    ] {
        assert!(populate(&app.state, &bad).await.is_err(), "{bad:?}");
    }
    let accounts: i64 = sqlx::query_scalar("select count(*) from accounts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(accounts, 0);
}
