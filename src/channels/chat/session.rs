//! The public API the widget talks to (site key or session token, never an account key):
//! site settings, sessions, messages, contact details, typing, and the live stream.

use crate::leads::attribution::Attribution;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Utc};
use futures_util::Stream;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::hash_key;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::phone::{normalize_email, normalize_phone};
use crate::state::AppState;

use super::conversation::{
    self, absorb, message_text, messages_after, session_from_row, session_select, ChatMessage,
    Session,
};
use super::cors::{check_origin, AllowOrigin};
use super::realtime::{publish, Event};
use super::sites::{settings_from_pg_row, PublicSettings, SETTINGS_COLUMNS};
use super::turn;
use crate::domain::LeadProfile;
use crate::extract::ClientIp;
use crate::tracker::extract::extract;

/// Paths the widget calls from other origins.
pub const PUBLIC_PATHS: [&str; 7] = [
    "/api/chat/site",
    "/api/chat/session/new",
    "/api/chat/session/resume",
    "/api/chat/message",
    "/api/chat/contact",
    "/api/chat/typing",
    "/api/chat/stream",
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(site_settings))
        .routes(routes!(new_session))
        .routes(routes!(resume))
        .routes(routes!(send_message))
        .routes(routes!(contact))
        .routes(routes!(typing))
        .routes(routes!(stream))
}

/// A site as the public API finds it by key.
struct PublicSite {
    id: i64,
    account: i64,
    allowed_origins: Vec<String>,
    settings: PublicSettings,
}

async fn site_by_key(state: &AppState, key: &str) -> Result<PublicSite> {
    use sqlx::Row;
    let row = sqlx::query(&format!(
        "select s.id, s.account_id, s.allowed_origins, {SETTINGS_COLUMNS}
         from sites s join widget_settings w on w.site_id = s.id where s.site_key = $1"
    ))
    .bind(key)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(ApiError::NotFound("site"))?;
    Ok(PublicSite {
        id: row.try_get("id")?,
        account: row.try_get("account_id")?,
        allowed_origins: row.try_get("allowed_origins")?,
        settings: settings_from_pg_row(&row)?.public(),
    })
}

async fn session_by_token(state: &AppState, token: &str) -> Result<Session> {
    let row = sqlx::query(&format!(
        "{} where c.token_hash = $1",
        session_select("chat_sessions")
    ))
    .bind(hash_key(token))
    .fetch_optional(&state.pool)
    .await?
    .ok_or_else(unknown_token)?;
    Ok(session_from_row(&row)?)
}

fn unknown_token() -> ApiError {
    ApiError::Unauthorized("unknown or expired session token: start a new session".into())
}

/// Contact updates one conversation may send per hour.
const CONTACTS_PER_HOUR: i32 = 10;
/// Typing events one conversation may send per minute (a widget sends one per pause).
const TYPING_PER_MINUTE: i32 = 60;
/// Counts a public read (site settings, a conversation's history, a live stream) against
/// its client's address, `LEADLINE_CHAT_READS_PER_IP_MINUTE` a minute (in PostgreSQL:
/// across replicas). Many tabs of a page with a widget stay far below it, a script not.
async fn limit_reads(state: &AppState, ip: Option<std::net::IpAddr>) -> Result<()> {
    let key = format!("chat-reads:{}", crate::throttle::client_key(ip));
    match crate::throttle::hit(
        &state.pool,
        &key,
        state.config.chat.reads_per_ip_minute as i32,
        60,
    )
    .await?
    {
        Some(wait) => Err(ApiError::Limited("too many requests; slow down", wait)),
        None => Ok(()),
    }
}

fn rate_limited(message: String, retry_after_secs: i64) -> Response {
    let mut res = ApiError::TooManyRequests(message).into_response();
    if let Ok(v) = HeaderValue::from_str(&retry_after_secs.max(1).to_string()) {
        res.headers_mut().insert(RETRY_AFTER, v);
    }
    res
}

fn bounded(name: &str, v: Option<String>, max: usize) -> Result<Option<String>> {
    match v {
        Some(s) if s.chars().count() > max => Err(ApiError::invalid(format!(
            "{name} is longer than {max} characters"
        ))),
        Some(s) if s.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteKeyParam {
    pub site_key: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteSettingsOut {
    pub settings: PublicSettings,
}

/// The widget's look before any session exists (page views create nothing).
#[utoipa::path(get, path = "/api/chat/site", tag = "chat widget", params(SiteKeyParam),
    responses((status = 200, body = SiteSettingsOut), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
async fn site_settings(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<SiteKeyParam>,
) -> Result<(AllowOrigin, Json<SiteSettingsOut>)> {
    limit_reads(&state, ip).await?;
    let site = site_by_key(&state, &q.site_key).await?;
    let cors = check_origin(&state, &headers, &site.allowed_origins, true)?;
    Ok((
        cors,
        Json(SiteSettingsOut {
            settings: site.settings,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSession {
    pub site_key: String,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub page_url: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub referrer: Option<String>,
    /// The page the visit began on (its UTM parameters and click ids credit the lead).
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub landing_url: Option<String>,
    /// The widget's random id for this browser.
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub visitor_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionStarted {
    pub session_id: String,
    /// The visitor's credential for this session (kept by the widget, stored hashed).
    pub session_token: String,
    pub settings: PublicSettings,
}

fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Starts a conversation (the widget calls it with the visitor's first message or contact).
#[utoipa::path(post, path = "/api/chat/session/new", tag = "chat widget", request_body = NewSession,
    responses((status = 201, body = SessionStarted), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
async fn new_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<NewSession>,
) -> Result<Response> {
    let page_url = bounded("page_url", body.page_url, 2000)?;
    let referrer = bounded("referrer", body.referrer, 2000)?;
    let visitor_id = bounded("visitor_id", body.visitor_id, 100)?;
    let landing_url = bounded("landing_url", body.landing_url, 2000)?;
    let first = Attribution::new("chat").with_page(
        landing_url.as_deref().or(page_url.as_deref()),
        referrer.as_deref(),
    );
    let site = site_by_key(&state, &body.site_key).await?;
    let cors = check_origin(&state, &headers, &site.allowed_origins, true)?;
    let session_id = format!("cs_{}", random_token(15));
    let token = random_token(32);
    // Count and insert under a per-address lock: concurrent requests from one address
    // are taken one at a time, so the limit holds exactly.
    let mut tx = crate::db::begin(&state.pool).await?;
    sqlx::query(
        "select pg_advisory_xact_lock(hashtextextended('chat-ip:' || coalesce($1, ''), 0))",
    )
    .bind(ip.map(|i| i.to_string()))
    .execute(&mut *tx)
    .await?;
    let created: Option<(i64,)> = sqlx::query_as(
        "with recent as (
           select count(*) as n from chat_sessions where visitor_ip = $6 and started_at > now() - interval '1 hour'),
         lead as (insert into leads (account_id, source, campaign, attribution)
                  select $1, 'chat', $10, $11 from recent where n < $9 returning id)
         insert into chat_sessions (account_id, site_id, session_id, token_hash, lead_id, visitor_id, visitor_ip, page_url, referrer)
         select $1, $2, $3, $4, lead.id, $5, $6, $7, $8 from lead returning id",
    )
    .bind(site.account)
    .bind(site.id)
    .bind(&session_id)
    .bind(hash_key(&token))
    .bind(&visitor_id)
    .bind(ip.map(|i| i.to_string()))
    .bind(&page_url)
    .bind(&referrer)
    .bind(i64::from(state.config.chat.sessions_per_ip_hour))
    .bind(&first.campaign)
    .bind(first.detail_json())
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    if created.is_none() {
        return Ok(rate_limited(
            "too many new conversations from this address; try again later".into(),
            3600,
        ));
    }
    let out = SessionStarted {
        session_id,
        session_token: token,
        settings: site.settings,
    };
    Ok((StatusCode::CREATED, cors, Json(out)).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenBody {
    pub session_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resumed {
    pub session_id: String,
    /// open or closed
    pub status: String,
    pub settings: PublicSettings,
    pub contact_captured: bool,
    pub messages: Vec<ChatMessage>,
}

/// The conversation so far (a reload or another tab picks it up).
#[utoipa::path(post, path = "/api/chat/session/resume", tag = "chat widget", request_body = TokenBody,
    responses((status = 200, body = Resumed), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
async fn resume(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Json(body): Json<TokenBody>,
) -> Result<(AllowOrigin, Json<Resumed>)> {
    limit_reads(&state, ip).await?;
    let session = session_by_token(&state, &body.session_token).await?;
    let cors = check_origin(&state, &headers, &session.allowed_origins, false)?;
    let messages = messages_after(&state.pool, &session, 0).await?;
    Ok((
        cors,
        Json(Resumed {
            status: if session.ended_at.is_some() {
                "closed"
            } else {
                "open"
            }
            .into(),
            settings: session.settings.public(),
            contact_captured: session.contact_captured,
            session_id: session.session_id,
            messages,
        }),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorMessage {
    pub session_token: String,
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageOut {
    /// The visitor's message as stored.
    pub message: ChatMessage,
    /// The AI's answer, when the site answers with AI and no person has taken over.
    pub reply: Option<ChatMessage>,
}

/// A visitor's message: stored, mined for lead details, scored, and answered.
#[utoipa::path(post, path = "/api/chat/message", tag = "chat widget", request_body = VisitorMessage,
    responses((status = 200, body = MessageOut), (status = 401, body = crate::error::ErrorBody),
        (status = 409, description = "the session is closed", body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<VisitorMessage>,
) -> Result<Response> {
    let text = message_text(&body.message)?;
    // Authenticates the token, counts the message in its rate window and reads what the
    // answer needs, in one statement.
    let opened = turn::open(&state, &hash_key(&body.session_token))
        .await?
        .ok_or_else(unknown_token)?;
    let session = &opened.session;
    let cors = check_origin(&state, &headers, &session.allowed_origins, false)?;
    if session.ended_at.is_some() {
        return Err(ApiError::Conflict(
            "session_closed",
            "this conversation was closed; start a new session".into(),
        ));
    }
    let limit = state.config.chat.messages_per_minute as i32;
    if session.rate_count > limit {
        return Ok(rate_limited(
            format!("at most {limit} messages per minute; wait a moment"),
            60,
        ));
    }
    let found = extract(&text, state.config.default_region, Utc::now().year());
    let (message, reply) = turn::answer(&state, opened, &text, &found).await?;
    Ok((cors, Json(MessageOut { message, reply })).into_response())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    pub session_token: String,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    pub phone: Option<String>,
}

/// Contact details from the widget's form, merged into the lead.
#[utoipa::path(post, path = "/api/chat/contact", tag = "chat widget", request_body = ContactBody,
    responses((status = 200, body = Object), (status = 401, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
async fn contact(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<ContactBody>,
) -> Result<(AllowOrigin, Json<serde_json::Value>)> {
    let name = bounded("name", body.name.map(|n| n.trim().to_string()), 100)?;
    let email = match bounded("email", body.email, 254)? {
        Some(e) => Some(
            normalize_email(&e).ok_or_else(|| ApiError::invalid("email is not a valid address"))?,
        ),
        None => None,
    };
    let phone = match bounded("phone", body.phone, 40)? {
        Some(p) => Some(
            normalize_phone(&p, state.config.default_region)
                .ok_or_else(|| ApiError::invalid("phone is not a valid phone number"))?,
        ),
        None => None,
    };
    if name.is_none() && email.is_none() && phone.is_none() {
        return Err(ApiError::invalid("give a name, an email or a phone number"));
    }
    let mut session = session_by_token(&state, &body.session_token).await?;
    let cors = check_origin(&state, &headers, &session.allowed_origins, false)?;
    let key = format!("chat-contact:{}", session.id);
    if let Some(wait) = crate::throttle::hit(&state.pool, &key, CONTACTS_PER_HOUR, 3600).await? {
        return Err(ApiError::Limited(
            "too many contact updates in this conversation; try again later",
            wait,
        ));
    }
    let found = LeadProfile {
        name,
        email,
        phone,
        ..LeadProfile::default()
    };
    let fields = absorb(&state, &mut session, &found).await?;
    conversation::update_session(&state, &mut session, &fields, 0).await?;
    sqlx::query("update chat_sessions set contact_captured = true where id = $1")
        .bind(session.id)
        .execute(&state.pool)
        .await?;
    Ok((cors, Json(json!({"ok": true}))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    pub session_token: String,
    pub typing: bool,
}

/// The visitor is typing (shown live to the roofer).
#[utoipa::path(post, path = "/api/chat/typing", tag = "chat widget", request_body = TypingBody,
    responses((status = 204), (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
async fn typing(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<TypingBody>,
) -> Result<(StatusCode, AllowOrigin, ())> {
    let session = session_by_token(&state, &body.session_token).await?;
    let cors = check_origin(&state, &headers, &session.allowed_origins, false)?;
    // Each one is a NOTIFY to every server: bounded per conversation.
    let key = format!("chat-typing:{}", session.id);
    if let Some(wait) = crate::throttle::hit(&state.pool, &key, TYPING_PER_MINUTE, 60).await? {
        return Err(ApiError::Limited("too many typing events; slow down", wait));
    }
    publish(
        &state.pool,
        &Event::Typing {
            s: session.id,
            author: "visitor".into(),
            typing: body.typing,
        },
    )
    .await?;
    Ok((StatusCode::NO_CONTENT, cors, ()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    pub session_token: String,
    /// Replay messages after this id (also read from `Last-Event-ID`).
    pub after: Option<i64>,
}

/// Server-Sent Events for the visitor: `message` (a Message, `id` = its id), `typing`
/// (`{"author","typing"}`) and `closed`.
#[utoipa::path(get, path = "/api/chat/stream", tag = "chat widget", params(StreamParams),
    responses((status = 200, content_type = "text/event-stream", description = "events"), (status = 401, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
async fn stream(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<StreamParams>,
) -> Result<(
    AllowOrigin,
    Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>,
)> {
    limit_reads(&state, ip).await?;
    let session = session_by_token(&state, &q.session_token).await?;
    let cors = check_origin(&state, &headers, &session.allowed_origins, false)?;
    let after = last_event_id(&headers).or(q.after);
    let events = event_stream(state, session, after, false).await?;
    Ok((cors, events))
}

/// `Last-Event-ID` sent by a reconnecting `EventSource`.
pub fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The live events of one session as SSE. Messages are read from the database after
/// `after` (or from now when `None`) each time a notification arrives, so they are sent
/// in order and none is skipped even when notifications are lost or late.
/// `roofer`: also pass the visitor's typing.
pub async fn event_stream(
    state: AppState,
    session: Session,
    after: Option<i64>,
    roofer: bool,
) -> Result<Sse<impl Stream<Item = std::result::Result<SseEvent, Infallible>>>> {
    let rx = state.chat.subscribe(session.id);
    let stopping = state.chat.stopping();
    let (last,): (i64,) = match after {
        Some(a) => (a,),
        None => sqlx::query_as(
            "select coalesce(max(id), 0) from communications where account_id = $1 and thread_key = $2",
        )
        .bind(session.account)
        .bind(conversation::thread_key(&session.session_id))
        .fetch_one(&state.pool)
        .await?,
    };
    struct St {
        state: AppState,
        session: Session,
        rx: tokio::sync::broadcast::Receiver<Event>,
        stopping: tokio::sync::watch::Receiver<bool>,
        last: i64,
        pending: VecDeque<SseEvent>,
        catch_up: bool,
    }
    let st = St {
        state,
        session,
        rx,
        stopping,
        last,
        pending: VecDeque::new(),
        catch_up: after.is_some(),
    };
    let s = futures_util::stream::unfold(st, move |mut st| async move {
        loop {
            if let Some(ev) = st.pending.pop_front() {
                return Some((Ok(ev), st));
            }
            if st.catch_up {
                st.catch_up = false;
                match messages_after(&st.state.pool, &st.session, st.last).await {
                    Ok(msgs) => {
                        for m in msgs {
                            st.last = st.last.max(m.id);
                            let data = serde_json::to_string(&m).unwrap_or_default();
                            st.pending.push_back(
                                SseEvent::default()
                                    .event("message")
                                    .id(m.id.to_string())
                                    .data(data),
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "chat stream: cannot read messages"),
                }
                continue;
            }
            let ev = tokio::select! {
                ev = st.rx.recv() => ev,
                _ = st.stopping.changed() => return None,
            };
            match ev {
                Ok(Event::Message { .. }) | Ok(Event::Resync) | Err(RecvError::Lagged(_)) => {
                    st.catch_up = true;
                }
                Ok(Event::Typing { author, typing, .. }) if roofer || author != "visitor" => {
                    let data = json!({"author": author, "typing": typing}).to_string();
                    st.pending
                        .push_back(SseEvent::default().event("typing").data(data));
                }
                Ok(Event::Typing { .. }) => {}
                Ok(Event::Closed { .. }) => {
                    st.pending
                        .push_back(SseEvent::default().event("closed").data("{}"));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
