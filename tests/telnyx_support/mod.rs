//! Telnyx test doubles: a stand-in for `POST /v2/messages` that records what it was sent
//! and answers per scenario, and webhook deliveries signed with a generated Ed25519 key.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};

use crate::common::{spawn_app_with, Resp, TestApp};

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
}

/// A canned answer: status, extra headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, Value);

#[derive(Clone, Default)]
pub struct StandIn {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub answers: Arc<Mutex<VecDeque<Answer>>>,
    pub base: String,
}

impl StandIn {
    /// Starts on 127.0.0.1:0; `base` is what TELNYX_API_BASE should be (…/v2).
    pub async fn start() -> Self {
        let mut me = StandIn::default();
        let app = axum::Router::new()
            .route("/v2/messages", post(messages))
            .with_state(me.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        me.base = format!("http://{}/v2", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        me
    }

    pub fn answer(&self, a: Answer) {
        self.answers.lock().unwrap().push_back(a);
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn messages(State(s): State<StandIn>, headers: HeaderMap, body: String) -> impl IntoResponse {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let n = {
        let mut seen = s.seen.lock().unwrap();
        seen.push(Seen {
            path: "/v2/messages".into(),
            authorization: h("authorization"),
            content_type: h("content-type"),
            body: parsed.clone(),
        });
        seen.len()
    };
    let (status, extra, body) = s.answers.lock().unwrap().pop_front().unwrap_or_else(|| {
        (
            200,
            vec![],
            json!({"data": {"id": format!("msg-{n}"), "record_type": "message", "parts": 1,
                "to": [{"phone_number": parsed["to"], "status": "queued"}]}}),
        )
    });
    let mut resp = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    for (k, v) in extra {
        resp.headers_mut().insert(k, v.parse().unwrap());
    }
    resp
}

/// A generated key pair standing in for Telnyx's signing key.
pub struct Signer_ {
    pub key: SigningKey,
}

pub fn keypair() -> Signer_ {
    Signer_ {
        key: SigningKey::from_bytes(&rand::random::<[u8; 32]>()),
    }
}

impl Signer_ {
    pub fn public_b64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().to_bytes())
    }

    /// base64 signature over `timestamp|body`.
    pub fn sign(&self, ts: &str, body: &[u8]) -> String {
        let mut msg = ts.as_bytes().to_vec();
        msg.push(b'|');
        msg.extend_from_slice(body);
        STANDARD.encode(self.key.sign(&msg).to_bytes())
    }
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Posts raw bytes to the webhook with the given headers.
pub async fn post_raw(app: &TestApp, body: &[u8], headers: &[(&str, String)]) -> Resp {
    let mut req = app
        .http
        .post(format!("{}/webhooks/telnyx", app.base))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    app.send(req).await
}

/// Posts an event correctly signed now.
pub async fn deliver(app: &TestApp, signer: &Signer_, event: &Value) -> Resp {
    let body = serde_json::to_vec(event).unwrap();
    let ts = now().to_string();
    let sig = signer.sign(&ts, &body);
    post_raw(
        app,
        &body,
        &[("telnyx-signature-ed25519", sig), ("telnyx-timestamp", ts)],
    )
    .await
}

/// A Telnyx v2 event envelope.
pub fn event(id: &str, event_type: &str, occurred_at: &str, payload: Value) -> Value {
    json!({
        "data": {"event_type": event_type, "id": id, "occurred_at": occurred_at,
                 "payload": payload, "record_type": "event"},
        "meta": {"attempt": 1, "delivered_to": "https://example.com/webhooks/telnyx"}
    })
}

/// `message.received` in the current shape (`to` is an array of objects).
pub fn inbound(id: &str, msg_id: &str, from: &str, to: &str, text: &str) -> Value {
    event(
        id,
        "message.received",
        "2026-01-10T15:00:00.000+00:00",
        json!({
            "id": msg_id, "record_type": "message", "direction": "inbound", "type": "SMS",
            "from": {"phone_number": from, "carrier": "T-Mobile USA", "line_type": "Wireless"},
            "to": [{"phone_number": to, "status": "webhook_delivered"}],
            "text": text, "media": [], "parts": 1,
            "received_at": "2026-01-10T15:00:00.000+00:00"
        }),
    )
}

/// Connects SMS for the account with these numbers.
pub async fn connect(app: &TestApp, key: &str, numbers: &[&str], extra: Value) -> Resp {
    let mut body = json!({"api_key": "KEY_TEST_123", "messaging_profile_id": "mp-1", "phone_numbers": numbers});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            body[k] = v;
        }
    }
    app.post(key, "/api/integrations/sms/connect", body).await
}

/// A server whose webhooks this test's key signs and whose Telnyx calls reach the stand-in.
pub async fn setup() -> (TestApp, Signer_, StandIn) {
    let signer = keypair();
    let standin = StandIn::start().await;
    let app = spawn_app_with(&[
        ("TELNYX_PUBLIC_KEY", &signer.public_b64()),
        ("TELNYX_API_BASE", &standin.base),
    ])
    .await;
    (app, signer, standin)
}
