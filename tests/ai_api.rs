//! The AI responder through HTTP: company settings, previews (sample conversation and a
//! real lead), provider fallback recorded, and recording of sent replies.

mod common;

use common::{spawn_app, spawn_app_with};
use leadline::domain::Channel;
use serde_json::json;

#[tokio::test]
async fn company_settings_are_stored_validated_and_isolated() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    assert_eq!(
        app.get(&a.key, "/api/settings/company").await.body["company_name"],
        serde_json::Value::Null
    );
    let body = json!({"company_name": "Acme Roofing", "services": ["roof repair", "gutters"], "service_area": "Springfield and Shelbyville",
        "hours": "Mon-Fri 8am-6pm", "phone": "(312) 641-2278", "booking_link": "https://acme.test/book"});
    let r = app
        .send(
            app.http
                .put(format!("{}/api/settings/company", app.base))
                .bearer_auth(&a.key)
                .json(&body),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        app.get(&a.key, "/api/settings/company").await.body["service_area"],
        "Springfield and Shelbyville"
    );
    assert_eq!(
        app.get(&b.key, "/api/settings/company").await.body["service_area"],
        serde_json::Value::Null
    );
    let bad = app
        .send(
            app.http
                .put(format!("{}/api/settings/company", app.base))
                .bearer_auth(&a.key)
                .json(&json!({"booking_link": "javascript:alert(1)"})),
        )
        .await;
    assert_eq!((bad.status, bad.error_code()), (422, "validation_failed"));
}

#[tokio::test]
async fn preview_answers_from_company_facts_and_asks_for_the_next_missing_field() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    app.send(app.http.put(format!("{}/api/settings/company", app.base)).bearer_auth(&a.key)
        .json(&json!({"company_name": "Acme Roofing", "service_area": "Springfield and Shelbyville", "phone": "(312) 641-2278"}))).await;
    let r = app.post(&a.key, "/api/ai/preview", json!({"channel": "chat", "conversation": [{"direction": "inbound", "text": "Do you work in Springfield? My roof is leaking."}]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let text = r.body["text"].as_str().unwrap();
    assert!(text.contains("Springfield and Shelbyville"), "{text}");
    assert_eq!(r.body["provider"], "rules");
    let intents: Vec<&str> = r.body["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap())
        .collect();
    assert!(
        intents.contains(&"leak") && intents.contains(&"service_area"),
        "{intents:?}"
    );
    // Deterministic: the same input gives the same text.
    let again = app.post(&a.key, "/api/ai/preview", json!({"channel": "chat", "conversation": [{"direction": "inbound", "text": "Do you work in Springfield? My roof is leaking."}]})).await;
    assert_eq!(again.body["text"], r.body["text"]);
    // Nothing was recorded by a preview.
    let n: i64 = sqlx::query_scalar("select count(*) from communications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    let empty = app
        .post(&a.key, "/api/ai/preview", json!({"conversation": []}))
        .await;
    assert_eq!(empty.status, 422);
}

#[tokio::test]
async fn preview_for_a_lead_uses_what_the_tracker_knows_and_never_reasks_it() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app.log(&a.key, json!({"type": "sms", "direction": "inbound", "from_address": "+13126412278", "content": "Hail damaged my shingles, can I get a quote?"})).await;
    let lead = r.body["lead_id"].as_i64().unwrap();
    app.patch(
        &a.key,
        &format!("/api/leads/{lead}"),
        json!({"property_address": "12 Oak St, Springfield"}),
    )
    .await;
    let p = app
        .post(
            &a.key,
            "/api/ai/preview",
            json!({"lead_id": lead, "channel": "sms"}),
        )
        .await;
    assert_eq!(p.status, 200, "{:?}", p.body);
    let text = p.body["text"].as_str().unwrap().to_lowercase();
    assert!(!text.contains("address"), "the address is known: {text}");
    assert!(
        text.contains("how old") || text.contains("roof"),
        "asks the next field (roof age): {text}"
    );
    assert!(text.chars().count() <= 320, "SMS-sized: {text}");
    let b = app.account("B").await;
    assert_eq!(
        app.post(&b.key, "/api/ai/preview", json!({"lead_id": lead}))
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_failing_provider_falls_back_to_rules_and_says_why() {
    // An OpenAI-compatible server that is not there: connection refused.
    let app = spawn_app_with(&[
        ("LEADLINE_AI_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:9"),
        ("LEADLINE_AI_TIMEOUT_SECS", "1"),
        ("LEADLINE_AI_MAX_RETRIES", "0"),
    ])
    .await;
    let a = app.account("Acme").await;
    let r = app.post(&a.key, "/api/ai/preview", json!({"conversation": [{"direction": "inbound", "text": "Can someone come look at my roof?"}]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["provider"], "rules");
    assert!(
        r.body["fallback_reason"]
            .as_str()
            .unwrap()
            .starts_with("openai"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_sent_reply_is_recorded_as_ai_generated_with_its_provider() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app.log(&a.key, json!({"type": "chat", "direction": "inbound", "content": "Is anyone there? I need a roof inspection.", "lead": {"email": "jo@x.com"}})).await;
    let lead = r.body["lead_id"].as_i64().unwrap();
    let reply = leadline::ai::service::reply_for_lead(
        &app.state,
        leadline::domain::AccountId(a.id),
        lead,
        Channel::Chat,
        None,
    )
    .await
    .unwrap()
    .expect("an answer");
    let rec = leadline::ai::service::record_reply(
        &app.state,
        leadline::domain::AccountId(a.id),
        lead,
        Channel::Chat,
        &reply,
        None,
        None,
    )
    .await
    .unwrap();
    let c = &rec.communication;
    assert!(c.ai_generated);
    assert_eq!(c.direction, "outbound");
    assert_eq!(c.metadata["ai"]["provider"], "rules");
    // The last turn is now ours: nothing more to answer automatically.
    assert!(leadline::ai::service::reply_for_lead(
        &app.state,
        leadline::domain::AccountId(a.id),
        lead,
        Channel::Chat,
        None
    )
    .await
    .unwrap()
    .is_none());
}
