//! Message templates through HTTP: checked when saved (a misspelt variable is refused,
//! naming it), rendered for a lead (a value the lead lacks is an error, not a blank),
//! and kept per account.

mod common;

use common::spawn_app;
use serde_json::json;

#[tokio::test]
async fn templates_are_checked_at_save_and_render_a_leads_values_or_refuse() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let put = app
        .send(app.http.put(format!("{}/api/settings/company", app.base)).bearer_auth(&a.key)
            .json(&json!({"company_name": "Acme Roofing", "booking_link": "https://acme.example/book"})))
        .await;
    assert_eq!(put.status, 200, "{}", put.body);

    let typo = app
        .post(
            &a.key,
            "/api/templates",
            json!({"name": "First reply", "body": "Hi {{ lead.frist_name }}"}),
        )
        .await;
    assert_eq!(typo.status, 422);
    assert_eq!(typo.error_code(), "invalid_template");
    assert!(
        typo.error_message().contains("lead.frist_name"),
        "{}",
        typo.body
    );
    let broken = app
        .post(
            &a.key,
            "/api/templates",
            json!({"name": "x", "body": "Hi {{ lead.first_name"}),
        )
        .await;
    assert_eq!(broken.status, 422);
    let bad_subject = app
        .post(
            &a.key,
            "/api/templates",
            json!({"name": "x", "channel": "email", "subject": "{{ nope }}", "body": "Hi"}),
        )
        .await;
    assert!(
        bad_subject.error_message().starts_with("subject:"),
        "{}",
        bad_subject.body
    );

    let t = app
        .post(&a.key, "/api/templates", json!({"name": "First reply", "channel": "sms",
            "body": "Hi {{ lead.first_name }}, it's {{ company.name }}. Pick a time: {{ company.booking_link }}"}))
        .await;
    assert_eq!(t.status, 201, "{}", t.body);
    let id = t.body["id"].as_i64().unwrap();
    let dup = app
        .post(
            &a.key,
            "/api/templates",
            json!({"name": "First reply", "body": "Hi"}),
        )
        .await;
    assert_eq!(dup.status, 409);

    let jane = app
        .post(
            &a.key,
            "/api/leads",
            json!({"name": "Jane Doe", "phone": "+13125550100"}),
        )
        .await;
    let r = app
        .post(
            &a.key,
            "/api/templates/preview",
            json!({"template_id": id, "lead_id": jane.body["id"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["body"],
        "Hi Jane, it's Acme Roofing. Pick a time: https://acme.example/book"
    );
    // A lead without a name: refused, never "Hi , it's…".
    let anon = app
        .post(&a.key, "/api/leads", json!({"phone": "+13125550101"}))
        .await;
    let r = app
        .post(
            &a.key,
            "/api/templates/preview",
            json!({"template_id": id, "lead_id": anon.body["id"]}),
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.error_message().contains("lead.first_name"), "{}", r.body);
    let r = app
        .post(&a.key, "/api/templates/preview", json!({"body": "Hi {{ lead.first_name | default(\"there\") }}!", "lead_id": anon.body["id"]}))
        .await;
    assert_eq!(r.body["body"], "Hi there!");

    let changed = app
        .patch(
            &a.key,
            &format!("/api/templates/{id}"),
            json!({"body": "Thanks {{ lead.name }}"}),
        )
        .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body["body"], "Thanks {{ lead.name }}");
    let bad = app
        .patch(
            &a.key,
            &format!("/api/templates/{id}"),
            json!({"body": "{{ lead.nam }}"}),
        )
        .await;
    assert_eq!(bad.status, 422);

    // Another account sees nothing of it.
    let b = app.account("Bolt Roofing").await;
    assert!(app
        .get(&b.key, "/api/templates")
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        app.patch(
            &b.key,
            &format!("/api/templates/{id}"),
            json!({"name": "mine"})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        app.post(&b.key, "/api/templates/preview", json!({"template_id": id}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.delete(&a.key, &format!("/api/templates/{id}"))
            .await
            .status,
        204
    );
    assert!(app
        .get(&a.key, "/api/templates")
        .await
        .body
        .as_array()
        .unwrap()
        .is_empty());
}
