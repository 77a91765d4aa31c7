//! Providers against local stand-in servers (127.0.0.1:0) that speak the
//! documented Anthropic Messages and OpenAI chat-completions formats.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use leadline::ai::{
    AiConfig, AiResponder, CompanySettings, LeadContext, ProviderKind, ReplyRequest, Turn,
};
use leadline::domain::{Channel, Direction, LeadProfile};

const KEY: &str = "sk-test-SECRET-123456";

#[derive(Clone)]
struct Step {
    status: u16,
    delay: Duration,
    retry_after: Option<&'static str>,
    body: Value,
}

fn ok(body: Value) -> Step {
    Step {
        status: 200,
        delay: Duration::ZERO,
        retry_after: None,
        body,
    }
}

fn status(code: u16, body: Value) -> Step {
    Step {
        status: code,
        ..ok(body)
    }
}

#[derive(Default)]
struct Recorded {
    requests: Vec<(String, HeaderMap, Value)>,
}

#[derive(Clone)]
struct Stand {
    script: Arc<Vec<Step>>,
    seen: Arc<Mutex<Recorded>>,
}

impl Stand {
    fn count(&self) -> usize {
        self.seen.lock().unwrap().requests.len()
    }
    fn request(&self, i: usize) -> (String, HeaderMap, Value) {
        self.seen.lock().unwrap().requests[i].clone()
    }
}

async fn handle(
    State(s): State<Stand>,
    path: axum::http::Uri,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let n = {
        let mut seen = s.seen.lock().unwrap();
        seen.requests.push((path.path().to_string(), headers, body));
        seen.requests.len() - 1
    };
    let step = s.script[n.min(s.script.len() - 1)].clone();
    if !step.delay.is_zero() {
        tokio::time::sleep(step.delay).await;
    }
    let mut resp = (StatusCode::from_u16(step.status).unwrap(), Json(step.body)).into_response();
    if let Some(ra) = step.retry_after {
        resp.headers_mut()
            .insert("retry-after", ra.parse().unwrap());
    }
    resp
}

/// Starts a stand-in server answering the script in order (the last step
/// repeats). Returns its base URL.
async fn stand_in(script: Vec<Step>) -> (String, Stand) {
    let stand = Stand {
        script: Arc::new(script),
        seen: Arc::default(),
    };
    let app = Router::new()
        .route("/v1/messages", post(handle))
        .route("/v1/chat/completions", post(handle))
        .with_state(stand.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), stand)
}

fn anthropic_ok(text: &str) -> Value {
    json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": 512, "output_tokens": 60}
    })
}

fn openai_ok(text: &str) -> Value {
    json!({
        "id": "chatcmpl-abc123",
        "object": "chat.completion",
        "created": 1741569952,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": null},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 400, "completion_tokens": 50, "total_tokens": 450}
    })
}

fn cfg(provider: ProviderKind, base: &str, key: Option<&str>) -> AiConfig {
    AiConfig {
        provider,
        api_key: key.map(str::to_string),
        base_url: base.to_string(),
        model: match provider {
            ProviderKind::Anthropic => "claude-sonnet-4-5".into(),
            _ => "gpt-4o-mini".into(),
        },
        timeout: Duration::from_secs(3),
        max_retries: 2,
        max_tokens: 400,
        templates_dir: None,
    }
}

fn acme() -> CompanySettings {
    CompanySettings {
        company_name: Some("Acme Roofing".into()),
        services: vec!["roof repair".into(), "roof replacement".into()],
        service_area: Some("Chicago and the western suburbs".into()),
        hours: Some("Mon–Fri 8am–6pm".into()),
        phone: Some("(312) 555-0100".into()),
        booking_link: Some("https://acme.example/book".into()),
        review_link: None,
        financing: None,
        insurance_claims: Some("We work with all major insurers".into()),
        signature: Some("— Mike, Acme Roofing".into()),
    }
}

fn lead() -> LeadContext {
    LeadContext {
        profile: LeadProfile {
            name: Some("Jane Doe".into()),
            email: Some("jane@example.com".into()),
            issues: vec!["leak".into()],
            ..LeadProfile::default()
        },
        band: Some("HOT".into()),
        score: Some(82),
        next_action: Some("respond_immediately".into()),
        ..Default::default()
    }
}

fn t(direction: Direction, text: &str) -> Turn {
    Turn {
        direction,
        text: text.into(),
    }
}

/// Starts with our outbound message, has two inbound in a row and an empty
/// turn, so the mapping must drop/merge.
fn conversation() -> Vec<Turn> {
    vec![
        t(
            Direction::Outbound,
            "Thanks for your interest in Acme Roofing!",
        ),
        t(Direction::Inbound, "Hi, my roof is leaking."),
        t(Direction::Inbound, "It's over the kitchen."),
        t(
            Direction::Outbound,
            "Sorry to hear that. What's the address?",
        ),
        t(Direction::Inbound, "   "),
        t(Direction::Inbound, "12 Elm St. How much will it cost?"),
    ]
}

fn assert_alternating(messages: &[Value]) {
    assert!(!messages.is_empty());
    assert_eq!(messages[0]["role"], "user");
    assert_eq!(messages.last().unwrap()["role"], "user");
    for w in messages.windows(2) {
        assert_ne!(
            w[0]["role"], w[1]["role"],
            "roles must alternate: {messages:?}"
        );
    }
}

#[tokio::test]
async fn anthropic_success_uses_the_documented_format() {
    let (base, stand) = stand_in(vec![ok(anthropic_ok(
        "So sorry about the leak! We'll send a written quote after an inspection. When are you hoping to get it fixed?",
    ))])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead, conv) = (acme(), lead(), conversation());
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Channel::Chat,
        conversation: &conv,
        subject: None,
    };
    let reply = ai.reply(&req).await;
    assert_eq!(reply.provider, "anthropic");
    assert_eq!(reply.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
    assert_eq!(reply.fallback_reason, None);
    assert!(
        reply.text.starts_with("So sorry about the leak!"),
        "{}",
        reply.text
    );
    assert!(reply.intents.contains(&"quote_request".to_string()));

    assert_eq!(stand.count(), 1);
    let (path, headers, body) = stand.request(0);
    assert_eq!(path, "/v1/messages");
    assert_eq!(headers["x-api-key"], KEY);
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("authorization").is_none());
    assert_eq!(body["model"], "claude-sonnet-4-5");
    assert_eq!(body["max_tokens"], 400);
    let system = body["system"].as_str().unwrap();
    for s in [
        "Acme Roofing",
        "Chicago and the western suburbs",
        "Never invent prices",
        "Ask at most one question",
        "jane@example.com",
        "Thanks for your interest in Acme Roofing!", // the dropped leading turn
        "do not mention financing",
    ] {
        assert!(system.contains(s), "system prompt lacks {s:?}:\n{system}");
    }
    let messages = body["messages"].as_array().unwrap();
    assert_alternating(messages);
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[0]["content"],
        "Hi, my roof is leaking.\n\nIt's over the kitchen."
    );
    assert_eq!(messages[2]["content"], "12 Elm St. How much will it cost?");
    for m in messages {
        assert!(m["content"].is_string());
    }
}

#[tokio::test]
async fn anthropic_email_gets_our_subject_greeting_and_signature() {
    let (base, _stand) = stand_in(vec![ok(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "Hi Jane,\n\nThanks for the details about the leak."},
            {"type": "text", "text": " We can come out for an inspection.\n\n— Mike, Acme Roofing"}
        ],
        "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}
    }))])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead, conv) = (acme(), lead(), conversation());
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Channel::Email,
        conversation: &conv,
        subject: Some("Roof leak"),
    };
    let reply = ai.reply(&req).await;
    assert_eq!(reply.provider, "anthropic");
    assert_eq!(reply.subject.as_deref(), Some("Re: Roof leak"));
    assert_eq!(
        reply.text,
        "Hi Jane,\n\nThanks for the details about the leak. We can come out for an inspection.\n\n— Mike, Acme Roofing"
    );
}

#[tokio::test]
async fn openai_success_with_bearer_key() {
    let long = "We can help with that leak. ".repeat(30);
    let (base, stand) = stand_in(vec![ok(openai_ok(&long))]).await;
    let ai = AiResponder::new(cfg(ProviderKind::OpenAi, &base, Some(KEY))).unwrap();
    let (company, lead, conv) = (acme(), lead(), conversation());
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Channel::Sms,
        conversation: &conv,
        subject: None,
    };
    let reply = ai.reply(&req).await;
    assert_eq!(reply.provider, "openai");
    assert_eq!(reply.model.as_deref(), Some("gpt-4o-mini-2024-07-18"));
    assert!(reply.text.starts_with("We can help with that leak."));
    assert!(
        reply.text.chars().count() <= 320,
        "SMS bound applies to providers too"
    );
    assert_eq!(reply.subject, None);

    let (path, headers, body) = stand.request(0);
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(headers["authorization"], format!("Bearer {KEY}"));
    assert!(headers.get("x-api-key").is_none());
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["max_tokens"], 400);
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[0]["role"], "system");
    assert!(messages[0]["content"].as_str().unwrap().contains("SMS"));
    assert_alternating(&messages[1..]);
}

#[tokio::test]
async fn openai_without_key_sends_no_authorization() {
    let (base, stand) = stand_in(vec![ok(openai_ok("Happy to help!"))]).await;
    let ai = AiResponder::new(cfg(ProviderKind::OpenAi, &base, None)).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "do you do gutters?")];
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Channel::Chat,
        conversation: &conv,
        subject: None,
    };
    let reply = ai.reply(&req).await;
    assert_eq!(reply.text, "Happy to help!");
    let (_, headers, _) = stand.request(0);
    assert!(headers.get("authorization").is_none());
}

fn chat_req<'a>(
    company: &'a CompanySettings,
    lead: &'a LeadContext,
    conv: &'a [Turn],
) -> ReplyRequest<'a> {
    ReplyRequest {
        company,
        lead,
        channel: Channel::Chat,
        conversation: conv,
        subject: None,
    }
}

#[tokio::test]
async fn server_errors_are_retried_then_the_rules_answer() {
    let (base, stand) = stand_in(vec![status(
        500,
        json!({"error": {"message": "The server had an error", "type": "server_error"}}),
    )])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::OpenAi, &base, Some(KEY))).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "my roof is leaking")];
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert_eq!(stand.count(), 3, "1 attempt + 2 retries");
    assert_eq!(reply.provider, "rules");
    assert_eq!(reply.fallback_reason.as_deref(), Some("openai: HTTP 500"));
    assert!(reply.text.contains("Sorry to hear about the leak"));
    assert_eq!(reply.intents, ["leak"]);
}

#[tokio::test]
async fn overloaded_then_success() {
    let (base, stand) = stand_in(vec![
        status(529, json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})),
        ok(anthropic_ok("Second time lucky.")),
    ])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "hi")];
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert_eq!(stand.count(), 2);
    assert_eq!(reply.provider, "anthropic");
    assert_eq!(reply.text, "Second time lucky.");
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let (base, stand) = stand_in(vec![
        Step {
            retry_after: Some("1"),
            ..status(429, json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Too many"}}))
        },
        ok(anthropic_ok("Thanks for waiting!")),
    ])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "can you come out friday?")];
    let start = Instant::now();
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    let took = start.elapsed();
    assert_eq!(reply.provider, "anthropic");
    assert_eq!(reply.text, "Thanks for waiting!");
    assert_eq!(stand.count(), 2);
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[tokio::test]
async fn rate_limit_that_persists_falls_back() {
    let (base, stand) = stand_in(vec![Step {
        retry_after: Some("60"),
        ..status(
            429,
            json!({"error": {"message": "Rate limit reached", "type": "requests"}}),
        )
    }])
    .await;
    let mut c = cfg(ProviderKind::OpenAi, &base, Some(KEY));
    c.timeout = Duration::from_secs(1);
    c.max_retries = 1;
    let ai = AiResponder::new(c).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "how much for a roof")];
    let start = Instant::now();
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    // A 60 s Retry-After is capped at 5 s, which is past the 2 s budget: no wait.
    assert!(
        start.elapsed() < Duration::from_millis(900),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(stand.count(), 1);
    assert_eq!(reply.provider, "rules");
    assert_eq!(
        reply.fallback_reason.as_deref(),
        Some("openai: rate limited (429)")
    );
}

#[tokio::test]
async fn slow_provider_times_out_and_the_rules_answer() {
    let (base, stand) = stand_in(vec![Step {
        delay: Duration::from_secs(5),
        ..ok(anthropic_ok("too late"))
    }])
    .await;
    let mut c = cfg(ProviderKind::Anthropic, &base, Some(KEY));
    c.timeout = Duration::from_millis(300);
    let ai = AiResponder::new(c).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "hail damage, need help")];
    let start = Instant::now();
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    let took = start.elapsed();
    assert_eq!(reply.provider, "rules");
    assert_eq!(
        reply.fallback_reason.as_deref(),
        Some("anthropic: timed out after 300ms")
    );
    assert!(reply.text.contains("storm"));
    // One attempt: a response that is merely slow is not retried.
    assert!(took < Duration::from_millis(1000), "{took:?}");
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert_eq!(stand.count(), 1);
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    let (base, stand) = stand_in(vec![status(
        400,
        json!({"type": "error", "error": {"type": "invalid_request_error", "message": "messages: roles must alternate"}}),
    )])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "do you do financing?")];
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert_eq!(stand.count(), 1);
    assert_eq!(reply.provider, "rules");
    assert_eq!(
        reply.fallback_reason.as_deref(),
        Some("anthropic: HTTP 400")
    );
    assert!(reply
        .text
        .contains("Our team will confirm which financing options"));
}

#[tokio::test]
async fn empty_or_malformed_responses_fall_back() {
    let (base, _s) = stand_in(vec![ok(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [], "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 0}
    }))])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "leak!")];
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert_eq!(reply.provider, "rules");
    let reason = reply.fallback_reason.unwrap();
    assert!(reason.starts_with("anthropic: bad response"), "{reason}");

    let (base, _s) = stand_in(vec![ok(json!({"choices": []}))]).await;
    let ai = AiResponder::new(cfg(ProviderKind::OpenAi, &base, None)).unwrap();
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert!(reply
        .fallback_reason
        .unwrap()
        .starts_with("openai: bad response"));
}

#[tokio::test]
async fn unreachable_server_falls_back_quickly() {
    // A port with nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ai = AiResponder::new(cfg(
        ProviderKind::OpenAi,
        &format!("http://127.0.0.1:{port}"),
        Some(KEY),
    ))
    .unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "hello")];
    let start = Instant::now();
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(reply.provider, "rules");
    let reason = reply.fallback_reason.unwrap();
    assert!(reason.starts_with("openai: network error"), "{reason}");
    assert!(!reason.contains(KEY));
}

#[tokio::test]
async fn keys_never_leak_into_reasons_or_debug() {
    let (base, _s) = stand_in(vec![status(
        401,
        json!({"error": {"message": format!("Incorrect API key provided: {KEY}"), "type": "invalid_request_error"}}),
    )])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::OpenAi, &base, Some(KEY))).unwrap();
    assert!(!format!("{ai:?}").contains(KEY));
    assert!(format!("{ai:?}").contains("***"));
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "hello")];
    let reply = ai.reply(&chat_req(&company, &lead, &conv)).await;
    assert_eq!(reply.fallback_reason.as_deref(), Some("openai: HTTP 401"));
    assert!(!format!("{reply:?}").contains(KEY));
}

#[tokio::test]
async fn rules_provider_never_touches_the_network() {
    let (base, stand) = stand_in(vec![ok(anthropic_ok("should not be used"))]).await;
    let env = [
        ("ANTHROPIC_API_KEY", KEY.to_string()),
        ("ANTHROPIC_BASE_URL", base.clone()),
        ("OPENAI_API_KEY", KEY.to_string()),
        ("OPENAI_BASE_URL", base.clone()),
    ];
    let cfg = AiConfig::from_lookup(|k| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
        .unwrap();
    assert_eq!(cfg.provider, ProviderKind::Rules);
    let ai = AiResponder::new(cfg).unwrap();
    assert_eq!(ai.provider_name(), "rules");
    let (company, lead) = (acme(), lead());
    for msg in ["my roof leaks", "how much?", "hello", "STOP"] {
        let conv = vec![t(Direction::Inbound, msg)];
        for channel in Channel::ALL {
            let req = ReplyRequest {
                company: &company,
                lead: &lead,
                channel,
                conversation: &conv,
                subject: None,
            };
            let reply = ai.reply(&req).await;
            assert_eq!(reply.provider, "rules");
            assert_eq!(reply.fallback_reason, None);
        }
    }
    assert_eq!(stand.count(), 0);
}

#[tokio::test]
async fn stop_is_answered_by_the_rules_without_calling_the_provider() {
    let (base, stand) = stand_in(vec![ok(anthropic_ok(
        "Sure! But first, what's your address?",
    ))])
    .await;
    let ai = AiResponder::new(cfg(ProviderKind::Anthropic, &base, Some(KEY))).unwrap();
    let (company, lead) = (acme(), lead());
    let conv = vec![t(Direction::Inbound, "STOP")];
    let req = ReplyRequest {
        company: &company,
        lead: &lead,
        channel: Channel::Sms,
        conversation: &conv,
        subject: None,
    };
    let reply = ai.reply(&req).await;
    assert_eq!(reply.provider, "rules");
    assert!(reply.text.contains("unsubscribed"));
    assert!(!reply.text.contains('?'));
    assert_eq!(stand.count(), 0);
    // respond() skips auto-replies entirely.
    let conv = vec![t(
        Direction::Inbound,
        "Automatic reply: Out of office until Monday",
    )];
    let req = ReplyRequest {
        conversation: &conv,
        ..req
    };
    assert!(ai.respond(&req).await.is_none());
    assert_eq!(stand.count(), 0);
}
