//! `GET /api/health/integrations` through HTTP: what a fresh account sees, a mailbox whose
//! sync really failed, SMS and chat sites per instance, AI provider fallbacks read from
//! the recorded replies, tenant isolation, secrets, and authentication.

mod common;

use common::{spawn_app, spawn_app_with, Resp, TestApp};
use serde_json::{json, Value};

const PATH: &str = "/api/health/integrations";
const MAIL_PASSWORD: &str = "hunter2-mailbox-secret";
const SMS_KEY: &str = "KEY_HEALTH_SECRET_123";

fn entries<'a>(r: &'a Resp, kind: &str) -> Vec<&'a Value> {
    r.body["integrations"]
        .as_array()
        .unwrap_or_else(|| panic!("no integrations: {}", r.body))
        .iter()
        .filter(|e| e["kind"] == kind)
        .collect()
}

fn only<'a>(r: &'a Resp, kind: &str) -> &'a Value {
    let found = entries(r, kind);
    assert_eq!(found.len(), 1, "one {kind} entry expected: {}", r.body);
    found[0]
}

/// A port on loopback where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Connects a mailbox on a loopback port nobody answers on, without testing it.
async fn connect_dead_mailbox(app: &TestApp, key: &str, email: &str) {
    let port = closed_port();
    let r = app
        .post(
            key,
            "/api/integrations/email/connect",
            json!({
                "email": email, "password": MAIL_PASSWORD,
                "imap_server": "127.0.0.1", "imap_port": port, "imap_security": "none",
                "smtp_server": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
                "folders": ["INBOX", "Sent"], "skip_test": true,
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

async fn exec(app: &TestApp, sql: &str, account: i64) {
    sqlx::query(sql)
        .bind(account)
        .execute(&app.pool)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_fresh_account_has_a_healthy_database_the_rules_responder_and_nothing_else_configured() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app.get(&a.key, PATH).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["overall"], "healthy");
    assert!(r.body["checked_at"].as_str().is_some());

    let db = only(&r, "database");
    assert_eq!(db["name"], "PostgreSQL");
    assert_eq!(db["configured"], true);
    assert_eq!(db["status"], "healthy");
    assert!(db["last_success_at"].is_string());
    assert!(db["last_error"].is_null());
    assert!(db["details"]["latency_ms"].as_f64().unwrap() >= 0.0);

    for kind in ["email", "sms", "chat_site"] {
        let e = only(&r, kind);
        assert_eq!(e["configured"], false, "{e}");
        assert_eq!(e["status"], "not_configured", "{e}");
        assert!(e["last_error"].is_null(), "{e}");
    }

    let ai = only(&r, "ai");
    assert_eq!(ai["name"], "rules");
    assert_eq!(ai["configured"], true);
    assert_eq!(ai["status"], "healthy");
    assert_eq!(ai["details"]["provider"], "rules");
    assert_eq!(ai["details"]["replies_24h"], 0);
}

#[tokio::test]
async fn without_a_valid_key_it_is_401() {
    let app = spawn_app().await;
    let r = app.send(app.http.get(format!("{}{PATH}", app.base))).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.error_code(), "unauthorized");
    let r = app.get("ll_not-a-key", PATH).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn a_failed_mailbox_sync_shows_on_that_mailbox_only_and_no_secret_shows() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    connect_dead_mailbox(&app, &a.key, "roofer@acme.test").await;
    // A real sync attempt against a port nobody listens on: recorded as a failure.
    let r = app
        .post(&a.key, "/api/integrations/email/sync", json!({}))
        .await;
    assert_eq!(r.status, 503, "{:?}", r.body);
    let stored: (String, i32) = sqlx::query_as(
        "select last_error, consecutive_failures from email_integrations where account_id = $1",
    )
    .bind(a.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let r = app.get(&a.key, PATH).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let mail = only(&r, "email");
    assert_eq!(mail["name"], "roofer@acme.test");
    assert_eq!(mail["configured"], true);
    // Never synced and the last attempt failed.
    assert_eq!(mail["status"], "error", "{mail}");
    assert_eq!(mail["last_error"], stored.0.as_str());
    assert!(mail["last_error_at"].is_string());
    assert!(mail["last_success_at"].is_null());
    assert!(mail["details"]["sync_lag_seconds"].is_null());
    assert_eq!(mail["details"]["consecutive_failures"], stored.1);
    assert_eq!(mail["details"]["auto_respond"], false);
    let folders: Vec<&str> = mail["details"]["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(folders, ["INBOX", "Sent"]);
    assert_eq!(r.body["overall"], "error");
    // The other integrations are not affected.
    assert_eq!(only(&r, "database")["status"], "healthy");
    assert_eq!(only(&r, "ai")["status"], "healthy");
    assert_eq!(only(&r, "sms")["status"], "not_configured");
    assert_eq!(only(&r, "chat_site")["status"], "not_configured");

    // No secret: not the password, not its ciphertext in any encoding, not the API key.
    let (ciphertext, nonce): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "select encrypted_password, password_nonce from email_integrations where account_id = $1",
    )
    .bind(a.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let text = r.body.to_string();
    use base64::Engine;
    for secret in [
        MAIL_PASSWORD.to_string(),
        a.key.clone(),
        base64::engine::general_purpose::STANDARD.encode(&ciphertext),
        base64::engine::general_purpose::STANDARD.encode(&nonce),
        hex::encode(&ciphertext),
        serde_json::to_string(&ciphertext).unwrap(),
    ] {
        assert!(!text.contains(&secret), "{secret} leaked: {text}");
    }
    for field in [
        "password",
        "encrypted",
        "nonce",
        "inbound_token",
        "username",
    ] {
        assert!(!text.contains(field), "{field} in {text}");
    }

    // A failure after a recent success is degraded; after a success over an hour old, error.
    exec(
        &app,
        "update email_integrations set last_sync = now() - interval '10 minutes', consecutive_failures = 1,
             next_sync_at = now() + interval '1 hour' where account_id = $1",
        a.id,
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    let mail = only(&r, "email");
    assert_eq!(mail["status"], "degraded", "{mail}");
    assert_eq!(mail["last_error"], stored.0.as_str());
    assert!(mail["last_success_at"].is_string());
    let lag = mail["details"]["sync_lag_seconds"].as_i64().unwrap();
    assert!((595..=700).contains(&lag), "{lag}");
    assert_eq!(r.body["overall"], "degraded");

    exec(
        &app,
        "update email_integrations set last_sync = now() - interval '2 hours' where account_id = $1",
        a.id,
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    assert_eq!(only(&r, "email")["status"], "error");

    // Recovered: a success clears the error; a success long ago is only late.
    exec(
        &app,
        "update email_integrations set last_sync = now() - interval '30 seconds', last_error = null,
             last_error_at = null, consecutive_failures = 0 where account_id = $1",
        a.id,
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    assert_eq!(only(&r, "email")["status"], "healthy");
    assert_eq!(r.body["overall"], "healthy");
    exec(
        &app,
        "update email_integrations set last_sync = now() - interval '20 minutes' where account_id = $1",
        a.id,
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    let mail = only(&r, "email");
    assert_eq!(mail["status"], "degraded");
    assert!(mail["last_error"].is_null());
    assert!(mail["reason"]
        .as_str()
        .unwrap()
        .contains("no successful sync"));
}

#[tokio::test]
async fn another_accounts_integrations_are_not_visible() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    connect_dead_mailbox(&app, &b.key, "other@other.test").await;
    let r = app
        .post(
            &b.key,
            "/api/integrations/chat/sites",
            json!({"name": "Other site", "allowed_origins": ["https://other.test"]}),
        )
        .await;
    assert!(r.status < 300, "{:?}", r.body);
    let r = app
        .post(
            &b.key,
            "/api/integrations/sms/connect",
            json!({"api_key": SMS_KEY, "messaging_profile_id": "mp-1", "phone_numbers": ["+13126412200"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    exec(
        &app,
        "update email_integrations set last_error = 'boom', last_error_at = now(), consecutive_failures = 5
         where account_id = $1",
        b.id,
    )
    .await;

    let r = app.get(&a.key, PATH).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["overall"], "healthy");
    for kind in ["email", "sms", "chat_site"] {
        assert_eq!(only(&r, kind)["status"], "not_configured", "{}", r.body);
    }
    let text = r.body.to_string();
    for theirs in ["other@other.test", "Other site", "+13126412200", "boom"] {
        assert!(!text.contains(theirs), "{theirs} leaked: {text}");
    }

    let r = app.get(&b.key, PATH).await;
    assert_eq!(only(&r, "email")["name"], "other@other.test");
    assert_eq!(only(&r, "email")["status"], "error");
    assert_eq!(only(&r, "chat_site")["name"], "Other site");
    assert_eq!(only(&r, "sms")["configured"], true);
    assert!(!r.body.to_string().contains(SMS_KEY));
}

#[tokio::test]
async fn sms_and_each_chat_site_report_their_recent_activity() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app
        .post(
            &a.key,
            "/api/integrations/sms/connect",
            json!({"api_key": SMS_KEY, "messaging_profile_id": "mp-1", "phone_numbers": ["+13126412200", "+13126412201"]}),
        )
        .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = app.get(&a.key, PATH).await;
    let sms = only(&r, "sms");
    assert_eq!(sms["name"], "Telnyx");
    assert_eq!(sms["status"], "healthy", "{sms}");
    assert_eq!(
        sms["details"]["numbers"],
        json!(["+13126412200", "+13126412201"])
    );
    assert!(sms["last_success_at"].is_null());

    // A received text, a Telnyx event, and a send that failed for good.
    exec(
        &app,
        "with l as (insert into leads (account_id, phone) values ($1, '+13125550100') returning id)
         insert into communications (account_id, lead_id, type, direction, \"timestamp\", status, provider_message_id)
         select $1, l.id, 'sms', 'inbound', now() - interval '5 minutes', 'received', 'msg-in-1' from l",
        a.id,
    )
    .await;
    exec(
        &app,
        "insert into webhook_events (provider, event_id, account_id, event_type, payload)
         values ('telnyx', 'ev-health-1', $1, 'message.received', '{}')",
        a.id,
    )
    .await;
    exec(
        &app,
        "insert into outbox (account_id, kind, payload, status, last_error) values ($1, 'sms', '{}', 'failed', 'opted out')",
        a.id,
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    let sms = only(&r, "sms");
    assert_eq!(sms["status"], "degraded", "{sms}");
    assert!(sms["last_success_at"].is_string());
    assert_eq!(sms["details"]["webhook_events_24h"], 1);
    assert_eq!(sms["details"]["failed_sends_24h"], 1);
    assert_eq!(sms["details"]["failed_deliveries_24h"], 0);

    // Telnyx refused the latest send: error, with its words.
    exec(
        &app,
        "update sms_integrations set last_error = 'Telnyx refused the message (401): invalid key', last_error_at = now()
         where account_id = $1",
        a.id,
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    let sms = only(&r, "sms");
    assert_eq!(sms["status"], "error");
    assert_eq!(
        sms["last_error"],
        "Telnyx refused the message (401): invalid key"
    );
    assert!(!r.body.to_string().contains(SMS_KEY));

    // Two sites, one entry each; a site that allows no origin cannot work anywhere.
    let mut ids = vec![];
    for (name, origins) in [
        ("Main site", json!(["https://acme.test"])),
        ("Draft", json!([])),
    ] {
        let r = app
            .post(
                &a.key,
                "/api/integrations/chat/sites",
                json!({"name": name, "allowed_origins": origins}),
            )
            .await;
        assert!(r.status < 300, "{:?}", r.body);
        let id: i64 =
            sqlx::query_scalar("select id from sites where account_id = $1 and name = $2")
                .bind(a.id)
                .bind(name)
                .fetch_one(&app.pool)
                .await
                .unwrap();
        ids.push(id);
    }
    sqlx::query(
        "insert into chat_sessions (account_id, site_id, session_id, last_message_at)
         values ($1, $2, 'health-s1', now()), ($1, $2, 'health-s2', null)",
    )
    .bind(a.id)
    .bind(ids[0])
    .execute(&app.pool)
    .await
    .unwrap();
    let r = app.get(&a.key, PATH).await;
    let sites = entries(&r, "chat_site");
    assert_eq!(sites.len(), 2, "{}", r.body);
    assert_eq!(sites[0]["name"], "Main site");
    assert_eq!(sites[0]["status"], "healthy");
    assert_eq!(sites[0]["details"]["site_id"], ids[0]);
    assert_eq!(
        sites[0]["details"]["allowed_origins"],
        json!(["https://acme.test"])
    );
    assert_eq!(sites[0]["details"]["sessions_24h"], 2);
    assert!(sites[0]["details"]["last_session_at"].is_string());
    assert!(sites[0]["last_success_at"].is_string());
    assert_eq!(sites[1]["name"], "Draft");
    assert_eq!(sites[1]["status"], "error");
    assert_eq!(sites[1]["details"]["sessions_24h"], 0);
    assert!(sites[1]["details"]["last_session_at"].is_null());
    // No site key in the report.
    let site_key: String = sqlx::query_scalar("select site_key from sites where id = $1")
        .bind(ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(!r.body.to_string().contains(&site_key));
}

#[tokio::test]
async fn a_check_that_fails_becomes_one_error_entry_and_the_others_still_report() {
    let app = spawn_app().await;
    let a = app.account("Acme").await;
    let r = app
        .post(
            &a.key,
            "/api/integrations/chat/sites",
            json!({"name": "Main site", "allowed_origins": ["https://acme.test"]}),
        )
        .await;
    assert!(r.status < 300, "{:?}", r.body);
    // This throwaway database loses the SMS table: only the SMS check can fail.
    sqlx::query("alter table sms_integrations rename to sms_integrations_gone")
        .execute(&app.pool)
        .await
        .unwrap();
    let r = app.get(&a.key, PATH).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let sms = only(&r, "sms");
    assert_eq!(sms["status"], "error");
    let error = sms["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("checking failed:") && error.contains("sms_integrations"),
        "{error}"
    );
    assert_eq!(r.body["overall"], "error");
    assert_eq!(only(&r, "database")["status"], "healthy");
    assert_eq!(only(&r, "email")["status"], "not_configured");
    assert_eq!(only(&r, "ai")["status"], "healthy");
    assert_eq!(only(&r, "chat_site")["status"], "healthy");
}

/// Inserts one AI reply of `account` as the responder records it.
async fn ai_reply(app: &TestApp, account: i64, minutes_ago: i32, ai: Value) {
    sqlx::query(
        "with l as (
            insert into leads (account_id, email) values ($1, 'lead@example.com')
            on conflict (account_id, email) where email is not null do update set email = excluded.email
            returning id)
         insert into communications (account_id, lead_id, type, direction, \"timestamp\", content, ai_generated, metadata)
         select $1, l.id, 'chat', 'outbound', now() - make_interval(mins => $2), 'Thanks!', true, jsonb_build_object('ai', $3::jsonb)
         from l",
    )
    .bind(account)
    .bind(minutes_ago)
    .bind(ai)
    .execute(&app.pool)
    .await
    .unwrap();
}

#[tokio::test]
async fn ai_provider_failures_recorded_on_replies_degrade_then_fail_the_ai_entry() {
    // A provider nobody answers for; nothing here calls it: the replies are recorded rows.
    let app = spawn_app_with(&[
        ("LEADLINE_AI_PROVIDER", "openai"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:9"),
        ("OPENAI_API_KEY", "sk-health-secret"),
    ])
    .await;
    let a = app.account("Acme").await;
    let b = app.account("Other").await;
    let timed_out = json!({"provider": "rules", "model": null, "fallback_reason": "openai: timed out after 8s"});
    // An old failure of another provider does not count; neither do other accounts'.
    ai_reply(
        &app,
        a.id,
        120,
        json!({"provider": "rules", "fallback_reason": "anthropic: HTTP 500"}),
    )
    .await;
    for m in [3, 2, 1] {
        ai_reply(&app, b.id, m, timed_out.clone()).await;
    }
    ai_reply(
        &app,
        a.id,
        30,
        json!({"provider": "openai", "model": "gpt-4o-mini", "fallback_reason": null}),
    )
    .await;

    let r = app.get(&a.key, PATH).await;
    let ai = only(&r, "ai");
    assert_eq!(ai["name"], "openai");
    assert_eq!(ai["status"], "healthy", "{ai}");
    assert!(ai["last_success_at"].is_string());
    assert!(ai["last_error"].is_null());
    assert_eq!(ai["details"]["model"], "gpt-4o-mini");
    assert_eq!(ai["details"]["replies_24h"], 2);

    ai_reply(&app, a.id, 20, timed_out.clone()).await;
    let r = app.get(&a.key, PATH).await;
    let ai = only(&r, "ai");
    assert_eq!(ai["status"], "degraded", "{ai}");
    assert_eq!(ai["last_error"], "openai: timed out after 8s");
    assert!(ai["last_error_at"].is_string());
    assert_eq!(ai["details"]["fallbacks_since_last_success"], 1);
    assert_eq!(r.body["overall"], "degraded");

    for m in [10, 5] {
        ai_reply(&app, a.id, m, timed_out.clone()).await;
    }
    let r = app.get(&a.key, PATH).await;
    let ai = only(&r, "ai");
    assert_eq!(ai["status"], "error", "{ai}");
    assert_eq!(ai["details"]["fallbacks_since_last_success"], 3);
    assert_eq!(ai["details"]["fallbacks_24h"], 3);
    assert!(!r.body.to_string().contains("sk-health-secret"));

    // The provider answered again: healthy, the last error still shown.
    ai_reply(
        &app,
        a.id,
        1,
        json!({"provider": "openai", "model": "gpt-4o-mini", "fallback_reason": null}),
    )
    .await;
    let r = app.get(&a.key, PATH).await;
    let ai = only(&r, "ai");
    assert_eq!(ai["status"], "healthy", "{ai}");
    assert_eq!(ai["last_error"], "openai: timed out after 8s");
}

#[tokio::test]
async fn the_endpoint_is_in_the_openapi_document() {
    let app = spawn_app().await;
    let r = app
        .send(app.http.get(format!("{}/openapi.json", app.base)))
        .await;
    let op = &r.body["paths"][PATH]["get"];
    assert!(op.is_object(), "{PATH} missing from the OpenAPI document");
    assert_eq!(op["tags"], json!(["health"]));
    assert!(r.body["components"]["schemas"]["IntegrationsHealth"].is_object());
}
