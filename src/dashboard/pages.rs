//! The dashboard's pages. Each one reads what it shows straight from the tracker and the
//! database (same account filter as the API), renders a template, and leaves actions to
//! the page's script, which calls the JSON API with the session cookie.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Datelike, Duration, NaiveDateTime, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};

use super::{charts, render, ASSET_VERSION};
use crate::auth::session::{self, Dash, Session};
use crate::domain::{AccountId, Channel, Direction};
use crate::error::ApiError;
use crate::state::AppState;
use crate::tracker;

/// Leads per page of the leads list.
pub const PAGE_SIZE: i64 = 25;
/// Timeline entries shown on a lead's page (newest first).
pub const TIMELINE_LIMIT: i64 = 100;

// ---------------------------------------------------------------------------
// Errors and layout

/// A failure while building a page: shown as an HTML page, never as JSON.
pub struct PageError(ApiError);

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self.0 {
            ApiError::NotFound(what) => error_page(
                StatusCode::NOT_FOUND,
                "Not found",
                &format!("This {what} does not exist, or it belongs to another account."),
            ),
            ApiError::Internal(e) => {
                tracing::error!(error = ?e, "dashboard page failed");
                error_page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong",
                    "The page could not be built. Try again in a moment.",
                )
            }
            e => error_page(e.status(), "Something went wrong", &e.to_string()),
        }
    }
}

/// A standalone error page (no account data on it).
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        "error.html",
        context! { title, message, status => status.as_u16(), asset_v => ASSET_VERSION.as_str() },
    )
}

/// The answer to a form posted without the session's CSRF token: nothing was done.
pub fn csrf_rejected() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not sent from a current Leadline page (its security token is missing or wrong), \
         so nothing was changed. Go back, reload the page and try again.",
    )
}

fn layout(s: &Session, nav: &str, title: &str) -> minijinja::Value {
    context! {
        signed_in => true,
        csrf => s.csrf_token,
        account_name => s.account_name,
        nav,
        title,
        asset_v => ASSET_VERSION.as_str(),
    }
}

fn query_map(q: Result<Query<HashMap<String, String>>, QueryRejection>) -> HashMap<String, String> {
    q.map(|Query(m)| m).unwrap_or_default()
}

fn param<'a>(q: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(|v| v.trim()).filter(|v| !v.is_empty())
}

// ---------------------------------------------------------------------------
// Formatting

/// The account's clock: its UTC offset and "now".
struct Clock {
    offset: i32,
    now: DateTime<Utc>,
}

impl Clock {
    async fn of(pool: &sqlx::PgPool, account: AccountId) -> Result<Self, PageError> {
        let tz: Option<String> = sqlx::query_scalar("select timezone from accounts where id = $1")
            .bind(account)
            .fetch_optional(pool)
            .await?;
        Ok(Self {
            offset: tz
                .as_deref()
                .map(crate::leads::store::utc_offset_minutes)
                .unwrap_or(0),
            now: Utc::now(),
        })
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        (t + Duration::minutes(i64::from(self.offset))).naive_utc()
    }

    /// "Nov 22, 2:05 PM" (with the year when it is not this year).
    fn when(&self, t: DateTime<Utc>) -> String {
        let l = self.local(t);
        if l.year() == self.local(self.now).year() {
            l.format("%b %-d, %-I:%M %p").to_string()
        } else {
            l.format("%b %-d, %Y").to_string()
        }
    }

    /// "just now", "12 min ago", "3 h ago", "2 days ago", else the date.
    fn ago(&self, t: DateTime<Utc>) -> String {
        let d = self.now - t;
        if d < Duration::minutes(1) {
            "just now".into()
        } else if d < Duration::hours(1) {
            format!("{} min ago", d.num_minutes())
        } else if d < Duration::days(1) {
            format!("{} h ago", d.num_hours())
        } else if d < Duration::days(14) {
            let n = d.num_days();
            format!("{n} day{} ago", if n == 1 { "" } else { "s" })
        } else {
            self.when(t)
        }
    }

    /// Monday 00:00 of the current local week, in UTC.
    fn week_start(&self) -> DateTime<Utc> {
        let today = self.local(self.now).date();
        let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
        monday.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            - Duration::minutes(i64::from(self.offset))
    }
}

/// "under a minute", "12 min", "3.5 h", "2.1 days".
pub fn minutes_human(m: Option<f64>) -> String {
    match m {
        None => "—".into(),
        Some(m) if !m.is_finite() || m < 0.0 => "—".into(),
        Some(m) if m < 1.0 => "under a minute".into(),
        Some(m) if m < 60.0 => format!("{m:.0} min"),
        Some(m) if m < 24.0 * 60.0 => format!("{:.1} h", m / 60.0),
        Some(m) => format!("{:.1} days", m / (24.0 * 60.0)),
    }
}

/// "54%" or "—".
pub fn pct(r: Option<f64>) -> String {
    match r {
        Some(r) if r.is_finite() => format!("{:.0}%", r * 100.0),
        _ => "—".into(),
    }
}

pub fn channel_label(c: &str) -> &'static str {
    match c {
        "email" => "Email",
        "sms" => "SMS",
        "phone_call" => "Phone",
        "chat" => "Chat",
        _ => "—",
    }
}

/// A next action's machine name, for people.
pub fn action_label(a: &str) -> String {
    match a {
        "respond_immediately" => "Respond now".into(),
        "make_first_contact" => "Make first contact".into(),
        "address_concerns" => "Address concerns".into(),
        "follow_up_quote" => "Follow up on the quote".into(),
        "send_quote" => "Send a quote".into(),
        "schedule_inspection" => "Schedule an inspection".into(),
        "re_engage" => "Re-engage".into(),
        "nurture_sequence" => "Keep in touch".into(),
        "follow_up" => "Follow up".into(),
        "request_review" => "Ask for a review".into(),
        "none" => "Nothing to do".into(),
        other => humanize(other),
    }
}

/// `gone_quiet` → "Gone quiet".
pub fn humanize(s: &str) -> String {
    let s = s.replace('_', " ");
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn hour_label(h: u8) -> String {
    match h {
        0 => "12 AM".into(),
        1..=11 => format!("{h} AM"),
        12 => "12 PM".into(),
        _ => format!("{} PM", h - 12),
    }
}

/// Only http(s) links are ever put in an href.
fn http_url(u: Option<String>) -> Option<String> {
    u.filter(|u| {
        let l = u.trim().to_ascii_lowercase();
        l.starts_with("https://") || l.starts_with("http://")
    })
}

/// A stored E.164 number as people write it: national form in the account's region
/// (`(312) 641-2278`), international form otherwise.
pub fn display_phone(e164: &str, region: phonenumber::country::Id) -> String {
    match phonenumber::parse(None, e164) {
        Ok(n) if n.country().id() == Some(region) => {
            n.format().mode(phonenumber::Mode::National).to_string()
        }
        Ok(n) => n
            .format()
            .mode(phonenumber::Mode::International)
            .to_string(),
        Err(_) => e164.to_string(),
    }
}

fn display_name(name: &Option<String>, email: &Option<String>, phone: &Option<String>) -> String {
    name.clone()
        .or_else(|| email.clone())
        .or_else(|| phone.clone())
        .unwrap_or_else(|| "Unnamed lead".into())
}

// ---------------------------------------------------------------------------
// Sign in / out

/// The sign-in page. Already signed in: straight to `next`.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query_map(q);
    let next = param(&q, "next")
        .and_then(session::safe_next)
        .unwrap_or("/");
    if let Some(token) = session::cookie(&headers, session::COOKIE_NAME) {
        if let Ok(Some(_)) = session::lookup(&state.pool, token).await {
            return Redirect::to(next).into_response();
        }
    }
    let expired = session::cookie(&headers, session::COOKIE_NAME).is_some();
    login_page(
        &state,
        StatusCode::OK,
        next,
        expired.then_some("Your session has ended. Sign in again."),
    )
}

fn login_page(state: &AppState, status: StatusCode, next: &str, error: Option<&str>) -> Response {
    let token = session::random_token();
    let mut res = render(
        status,
        "login.html",
        context! {
            title => "Sign in",
            next,
            csrf => token,
            error,
            asset_v => ASSET_VERSION.as_str(),
        },
    );
    let (k, v) = session::login_cookie(&token, session::secure(state));
    res.headers_mut().append(k, v);
    res
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    api_key: Option<String>,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// Checks the key, starts a session, sets the cookie, and goes to `next`.
pub async fn login(
    State(state): State<AppState>,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return login_page(
            &state,
            StatusCode::BAD_REQUEST,
            "/",
            Some("Enter your API key."),
        );
    };
    let next = f
        .next
        .as_deref()
        .and_then(session::safe_next)
        .unwrap_or("/")
        .to_string();
    let expected = session::cookie(&headers, session::LOGIN_COOKIE_NAME).unwrap_or("");
    if !session::csrf_matches(expected, f.csrf_token.as_deref()) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            &next,
            Some("The sign-in form had expired, so nothing was sent. Please try again."),
        );
    }
    let key = f.api_key.as_deref().map(str::trim).unwrap_or("");
    if key.is_empty() {
        return login_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &next,
            Some("Enter your API key."),
        );
    }
    // Failed sign-ins are throttled per client, across replicas (checked before the key).
    let client = crate::throttle::client_key(ip);
    let too_many = |wait: i64| {
        let mut res = login_page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some(&format!(
                "Too many failed sign-ins from here. Try again in {wait} seconds."
            )),
        );
        res.headers_mut()
            .insert(axum::http::header::RETRY_AFTER, wait.into());
        res
    };
    let blocked = match crate::throttle::blocked(&state.pool, &client).await {
        Ok(b) => b,
        Err(e) => return PageError(e).into_response(),
    };
    let account = match session::account_of_key(&state.pool, key).await {
        Ok(a) => a,
        Err(e) => return PageError(e).into_response(),
    };
    // While blocked even the right key waits; a wrong one also lengthens the block.
    if let (Some(wait), Some(_)) = (blocked, account) {
        return too_many(wait);
    }
    let Some((account, key_id)) = account else {
        let targeted = match crate::auth::account_targeted(&state.pool, key).await {
            Ok(t) => t,
            Err(e) => return PageError(e).into_response(),
        };
        return match crate::throttle::failed_for(&state.pool, &client, targeted).await {
            Ok(Some(wait)) => too_many(wait),
            Ok(None) => login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("That API key is not valid, or it was revoked."),
            ),
            Err(e) => PageError(e).into_response(),
        };
    };
    if let Err(e) = crate::throttle::succeeded(&state.pool, &client).await {
        return PageError(e).into_response();
    }
    // A fresh token for every sign-in; the browser's previous session (if any) ends.
    if let Some(old) = session::cookie(&headers, session::COOKIE_NAME) {
        if let Err(e) = session::destroy_token(&state.pool, old).await {
            return PageError(e).into_response();
        }
    }
    let token = match session::create(&state.pool, account, key_id).await {
        Ok(t) => t,
        Err(e) => return PageError(e).into_response(),
    };
    let secure = session::secure(&state);
    let mut res = Redirect::to(&next).into_response();
    let (k, v) = session::session_cookie(&token, secure);
    res.headers_mut().append(k, v);
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/login; Max-Age=0{}",
        session::LOGIN_COOKIE_NAME,
        if secure { "; Secure" } else { "" }
    )) {
        res.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    res
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

/// Ends the session (the form must carry its CSRF token).
pub async fn logout(
    State(state): State<AppState>,
    Dash(s): Dash,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let given = form.ok().and_then(|Form(f)| f.csrf_token);
    if !session::csrf_matches(&s.csrf_token, given.as_deref()) {
        return csrf_rejected();
    }
    if let Err(e) = session::destroy(&state.pool, s.id).await {
        return PageError(e).into_response();
    }
    let mut res = Redirect::to("/login").into_response();
    let (k, v) = session::clear_session_cookie(session::secure(&state));
    res.headers_mut().append(k, v);
    res
}

// ---------------------------------------------------------------------------
// Home

#[derive(Serialize)]
struct ChannelRow {
    key: &'static str,
    label: &'static str,
    inbound: i64,
    outbound: i64,
    response_rate: String,
    speed: String,
}

#[derive(Serialize, sqlx::FromRow)]
struct DueRow {
    id: i64,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    score: i32,
    score_band: String,
    action: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    channel: Option<String>,
    last_touch_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct DueView {
    id: i64,
    name: String,
    score: i32,
    band: String,
    action: String,
    priority: String,
    reason: String,
    channel: &'static str,
    ago: String,
}

/// This week at a glance: touches per channel, speed to lead, response rate, leads per
/// band, next actions due, and the health of every integration.
pub async fn home(State(state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let from = clock.week_start();
    let stats = crate::communications::stats::of_account(
        &state.pool,
        s.account_id,
        &crate::communications::stats::StatsParams {
            from: Some(from),
            to: None,
        },
    )
    .await?;
    let channels: Vec<ChannelRow> = charts::CHANNELS
        .iter()
        .map(|(c, label, _)| {
            let st = stats.channels.get(c.as_str());
            ChannelRow {
                key: c.as_str(),
                label,
                inbound: st.map_or(0, |s| s.inbound),
                outbound: st.map_or(0, |s| s.outbound),
                response_rate: pct(st.and_then(|s| s.response_rate)),
                speed: minutes_human(st.and_then(|s| s.speed_to_lead_minutes)),
            }
        })
        .collect();
    let bars = charts::channel_bars(
        &channels
            .iter()
            .map(|c| {
                (
                    c.label.to_string(),
                    c.inbound.clamp(0, u32::MAX as i64) as u32,
                    c.outbound.clamp(0, u32::MAX as i64) as u32,
                )
            })
            .collect::<Vec<_>>(),
        520,
    );
    let due: Vec<DueRow> = sqlx::query_as(
        "select l.id, l.name, l.email, l.phone, l.score, l.score_band,
                l.insights->'next_action'->>'action' as action,
                l.insights->'next_action'->>'priority' as priority,
                l.insights->'next_action'->>'reason' as reason,
                l.insights->'next_action'->>'channel' as channel,
                coalesce(t.at, l.created_at) as last_touch_at
         from leads l
         left join lateral (select c.\"timestamp\" as at from communications c where c.lead_id = l.id
                            order by c.\"timestamp\" desc, c.id desc limit 1) t on true
         where l.account_id = $1 and l.insights->'next_action'->>'priority' in ('urgent', 'high')
           and l.status not in ('won', 'lost')
         order by (l.insights->'next_action'->>'priority' = 'urgent') desc, l.score desc,
                  coalesce(t.at, l.created_at) desc
         limit 8",
    )
    .bind(s.account_id)
    .fetch_all(&state.pool)
    .await?;
    let due: Vec<DueView> = due
        .into_iter()
        .map(|r| DueView {
            id: r.id,
            name: display_name(&r.name, &r.email, &r.phone),
            score: r.score,
            band: r.score_band,
            action: action_label(r.action.as_deref().unwrap_or("follow_up")),
            priority: r.priority.unwrap_or_default(),
            reason: r.reason.unwrap_or_default(),
            channel: channel_label(r.channel.as_deref().unwrap_or("")),
            ago: clock.ago(r.last_touch_at),
        })
        .collect();
    let (leads_total, leads_new): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where created_at >= $2) from leads where account_id = $1",
    )
    .bind(s.account_id)
    .bind(from)
    .fetch_one(&state.pool)
    .await?;
    let open_chats: i64 = sqlx::query_scalar(
        "select count(*) from chat_sessions where account_id = $1 and ended_at is null",
    )
    .bind(s.account_id)
    .fetch_one(&state.pool)
    .await?;
    let band = |b: &str| stats.leads_by_band.get(b).copied().unwrap_or(0);
    Ok(render(
        StatusCode::OK,
        "home.html",
        context! {
            week_of => clock.local(from).format("%b %-d").to_string(),
            total => stats.total,
            inbound => stats.by_direction.get("inbound").copied().unwrap_or(0),
            outbound => stats.by_direction.get("outbound").copied().unwrap_or(0),
            speed => minutes_human(stats.speed_to_lead_minutes),
            response_rate => pct(stats.response_rate),
            ai_share => pct(stats.ai_generated_share),
            best_hours => stats.best_contact_hours.iter().map(|h| hour_label(*h as u8)).collect::<Vec<_>>(),
            hot => band("HOT"),
            warm => band("WARM"),
            cold => band("COLD"),
            leads_total,
            leads_new,
            open_chats,
            channels,
            bars,
            due,
            ..layout(&s, "home", "Home")
        },
    ))
}

// ---------------------------------------------------------------------------
// Leads

#[derive(sqlx::FromRow)]
struct LeadRow {
    id: i64,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    score: i32,
    score_band: String,
    status: String,
    preferred_channel: Option<String>,
    action: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    last_type: Option<String>,
    last_at: Option<DateTime<Utc>>,
    total: i64,
}

#[derive(Serialize)]
struct LeadView {
    id: i64,
    name: String,
    named: bool,
    email: Option<String>,
    phone: Option<String>,
    score: i32,
    band: String,
    status: String,
    preferred: &'static str,
    action: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    last_touch: Option<String>,
    last_touch_title: Option<String>,
    last_channel: &'static str,
}

/// `?a=1&b=2` from the non-empty pairs.
fn query_string(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", session::encode_query_value(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// The leads table: filter by band and channel, search, sort, pages.
pub async fn leads(
    State(state): State<AppState>,
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query_map(q);
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let band = param(&q, "band")
        .map(str::to_ascii_uppercase)
        .filter(|b| ["HOT", "WARM", "COLD"].contains(&b.as_str()));
    let channel = param(&q, "channel")
        .filter(|c| Channel::ALL.iter().any(|x| x.as_str() == *c))
        .map(str::to_string);
    let search = param(&q, "q").map(|s| s.chars().take(200).collect::<String>());
    let sort = match param(&q, "sort") {
        Some("score") => "score",
        Some("name") => "name",
        _ => "last_touch",
    };
    let default_dir = if sort == "name" { "asc" } else { "desc" };
    let dir = match param(&q, "dir") {
        Some("asc") => "asc",
        Some("desc") => "desc",
        _ => default_dir,
    };
    let page: i64 = param(&q, "page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1 && *p <= 100_000)
        .unwrap_or(1);
    let order = match (sort, dir) {
        ("score", "asc") => "l.score asc, l.id asc",
        ("score", _) => "l.score desc, l.id desc",
        ("name", "desc") => "lower(coalesce(l.name, l.email, l.phone)) desc nulls last, l.id desc",
        ("name", _) => "lower(coalesce(l.name, l.email, l.phone)) asc nulls last, l.id asc",
        (_, "asc") => "coalesce(t.\"timestamp\", l.created_at) asc, l.id asc",
        _ => "coalesce(t.\"timestamp\", l.created_at) desc, l.id desc",
    };
    let like = search.as_ref().map(|s| {
        format!(
            "%{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    // "(312) 641-22" finds +13126412278: the digits of a search are matched against phones.
    let digits: String = search
        .as_deref()
        .unwrap_or("")
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let digits_like = (digits.len() >= 3).then(|| format!("%{digits}%"));
    let rows: Vec<LeadRow> = sqlx::query_as(&format!(
        "select l.id, l.name, l.email, l.phone, l.score, l.score_band, l.status,
                l.insights->'engagement'->>'preferred_channel' as preferred_channel,
                l.insights->'next_action'->>'action' as action,
                l.insights->'next_action'->>'priority' as priority,
                l.insights->'next_action'->>'reason' as reason,
                t.type as last_type, t.\"timestamp\" as last_at,
                count(*) over () as total
         from leads l
         left join lateral (select c.type, c.\"timestamp\" from communications c where c.lead_id = l.id
                            order by c.\"timestamp\" desc, c.id desc limit 1) t on true
         where l.account_id = $1
           and ($2::text is null or l.score_band = $2)
           and ($3::text is null or exists (select 1 from communications c where c.lead_id = l.id and c.type = $3))
           and ($4::text is null or l.name ilike $4 or l.email ilike $4 or l.phone ilike $4
                or ($5::text is not null and l.phone like $5))
         order by {order}
         limit $6 offset $7"
    ))
    .bind(s.account_id)
    .bind(&band)
    .bind(&channel)
    .bind(&like)
    .bind(&digits_like)
    .bind(PAGE_SIZE)
    .bind((page - 1) * PAGE_SIZE)
    .fetch_all(&state.pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let region = state.config.default_region;
    let views: Vec<LeadView> = rows
        .into_iter()
        .map(|r| LeadView {
            id: r.id,
            named: r.name.is_some(),
            name: display_name(&r.name, &r.email, &r.phone),
            email: r.email,
            phone: r.phone.as_deref().map(|p| display_phone(p, region)),
            score: r.score,
            band: r.score_band,
            status: humanize(&r.status),
            preferred: channel_label(r.preferred_channel.as_deref().unwrap_or("")),
            action: r.action.as_deref().map(action_label),
            priority: r.priority,
            reason: r.reason,
            last_touch: r.last_at.map(|t| clock.ago(t)),
            last_touch_title: r.last_at.map(|t| clock.when(t)),
            last_channel: channel_label(r.last_type.as_deref().unwrap_or("")),
        })
        .collect();
    let band_s = band.clone().unwrap_or_default();
    let channel_s = channel.clone().unwrap_or_default();
    let search_s = search.clone().unwrap_or_default();
    let page_s = |p: i64| p.to_string();
    let url = |sort: &str, dir: &str, page: i64| {
        let p = if page > 1 {
            page_s(page)
        } else {
            String::new()
        };
        format!(
            "/leads{}",
            query_string(&[
                ("band", &band_s),
                ("channel", &channel_s),
                ("q", &search_s),
                (
                    "sort",
                    if sort == "last_touch" && dir == "desc" {
                        ""
                    } else {
                        sort
                    }
                ),
                ("dir", if dir == default_dir_of(sort) { "" } else { dir }),
                ("page", &p),
            ])
        )
    };
    let sort_url = |key: &str| {
        let next_dir = if key == sort {
            if dir == "asc" {
                "desc"
            } else {
                "asc"
            }
        } else {
            default_dir_of(key)
        };
        url(key, next_dir, 1)
    };
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let filtered = band.is_some() || channel.is_some() || search.is_some();
    Ok(render(
        StatusCode::OK,
        "leads.html",
        context! {
            leads => views,
            total,
            page,
            pages,
            first_row => if total == 0 { 0 } else { (page - 1) * PAGE_SIZE + 1 },
            last_row => ((page - 1) * PAGE_SIZE + PAGE_SIZE).min(total),
            prev_url => (page > 1).then(|| url(sort, dir, page - 1)),
            next_url => (page < pages).then(|| url(sort, dir, page + 1)),
            sort,
            dir,
            sort_urls => context! {
                score => sort_url("score"),
                last_touch => sort_url("last_touch"),
                name => sort_url("name"),
            },
            band => band_s,
            channel => channel_s,
            q => search_s,
            filtered,
            channels => charts::CHANNELS.iter().map(|(c, l, _)| context! { key => c.as_str(), label => *l }).collect::<Vec<_>>(),
            ..layout(&s, "leads", "Leads")
        },
    ))
}

fn default_dir_of(sort: &str) -> &'static str {
    if sort == "name" {
        "asc"
    } else {
        "desc"
    }
}

// ---------------------------------------------------------------------------
// Lead profile

#[derive(sqlx::FromRow)]
struct TouchRow {
    id: i64,
    #[sqlx(rename = "timestamp")]
    at: DateTime<Utc>,
    kind: String,
    direction: String,
    subject: Option<String>,
    content: Option<String>,
    status: Option<String>,
    duration: Option<i32>,
    ai_generated: bool,
    sentiment: Option<String>,
    sentiment_score: Option<f32>,
    from_address: Option<String>,
    to_address: Option<String>,
    recording_url: Option<String>,
}

#[derive(Serialize)]
struct TouchView {
    id: i64,
    when: String,
    ago: String,
    kind: String,
    kind_label: &'static str,
    direction: String,
    summary: String,
    subject: Option<String>,
    body: Option<String>,
    long: bool,
    status: Option<String>,
    duration: Option<String>,
    ai: bool,
    sentiment: Option<String>,
    sentiment_score: Option<String>,
    from: Option<String>,
    to: Option<String>,
    recording_url: Option<String>,
}

fn duration_human(secs: i32) -> String {
    let secs = secs.max(0);
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// Everything known about one lead, its charts, its timeline and a reply box.
pub async fn lead(
    State(state): State<AppState>,
    Dash(s): Dash,
    Path(raw_id): Path<String>,
) -> Result<Response, PageError> {
    let id: i64 = raw_id.parse().map_err(|_| ApiError::NotFound("lead"))?;
    let account = s.account_id;
    let lead = crate::leads::get(&state.pool, account, id).await?;
    let clock = Clock::of(&state.pool, account).await?;
    let (facts, tz, touches) = {
        let mut conn = state.pool.acquire().await?;
        let (facts, tz) = crate::leads::store::load_facts(&mut conn, account, id).await?;
        let touches = crate::leads::store::load_touches(&mut conn, id).await?;
        (facts, tz, touches)
    };
    let ins = tracker::analyze(&facts, &touches, tz, clock.now);
    let rows: Vec<TouchRow> = sqlx::query_as(
        "select id, \"timestamp\", type as kind, direction, subject, left(content, 20000) as content, status,
                duration, ai_generated, sentiment, sentiment_score, from_address, to_address,
                case when type = 'phone_call'
                     then coalesce(metadata->>'recording_url', attachments->0->>'url') end as recording_url
         from communications where lead_id = $1 and account_id = $2
         order by \"timestamp\" desc, id desc limit $3",
    )
    .bind(id)
    .bind(account)
    .bind(TIMELINE_LIMIT)
    .fetch_all(&state.pool)
    .await?;
    let reply_subject = rows
        .iter()
        .find(|r| r.kind == "email" && r.subject.as_deref().is_some_and(|s| !s.trim().is_empty()))
        .and_then(|r| r.subject.clone())
        .map(|s| {
            if s.to_ascii_lowercase().starts_with("re:") {
                s
            } else {
                format!("Re: {s}")
            }
        })
        .unwrap_or_else(|| "About your roof".into());
    let timeline: Vec<TouchView> = rows
        .into_iter()
        .map(|r| {
            let summary =
                crate::leads::insights::touch_summary(r.subject.as_deref(), r.content.as_deref());
            let body = r.content.filter(|c| !c.trim().is_empty());
            TouchView {
                id: r.id,
                when: clock.when(r.at),
                ago: clock.ago(r.at),
                kind_label: channel_label(&r.kind),
                long: r.kind == "email"
                    || body
                        .as_ref()
                        .is_some_and(|b| b.chars().count() > 280 || b.contains('\n')),
                kind: r.kind,
                direction: r.direction,
                summary,
                subject: r.subject,
                body,
                status: r.status,
                duration: r.duration.map(duration_human),
                ai: r.ai_generated,
                sentiment: r.sentiment,
                sentiment_score: r.sentiment_score.map(|v| format!("{v:+.2}")),
                from: r.from_address,
                to: r.to_address,
                recording_url: http_url(r.recording_url),
            }
        })
        .collect();
    // Touchpoints by channel and direction.
    let mut matrix = [[0u32; 2]; 4];
    for t in &touches {
        let c = charts::CHANNELS
            .iter()
            .position(|(ch, _, _)| *ch == t.channel)
            .unwrap_or(0);
        matrix[c][usize::from(t.direction == Direction::Outbound)] += 1;
    }
    let by_channel: Vec<_> = charts::CHANNELS
        .iter()
        .zip(matrix)
        .map(|((_, label, _), [i, o])| (label.to_string(), i, o))
        .collect();
    let weekly = charts::touches_per_week(&charts::weekly_buckets(&touches, tz, clock.now, 26));
    let sentiment = charts::sentiment_over_time(&charts::sentiment_points(&touches, tz));
    let channel_chart = charts::channel_bars(&by_channel, 340);
    let sm = &ins.summary;
    let na = &ins.next_action;
    let en = &ins.enrichment;
    let name = display_name(&lead.name, &lead.email, &lead.phone);
    let title = name.clone();
    Ok(render(
        StatusCode::OK,
        "lead.html",
        context! {
            lead => context! {
                id => lead.id,
                name => name,
                named => lead.name.is_some(),
                email => lead.email,
                phone => lead.phone.as_deref().map(|p| display_phone(p, state.config.default_region)),
                property_address => lead.property_address,
                roof_age_years => lead.roof_age_years,
                issues => lead.issues,
                timeline => lead.timeline,
                budget => lead.budget,
                source => lead.source,
                status => lead.status,
                status_label => humanize(&lead.status),
                sms_opted_out => lead.sms_opted_out_at.is_some(),
                created => clock.when(lead.created_at),
                last_touch => touches.iter().map(|t| t.timestamp).max().map(|t| clock.ago(t)),
            },
            statuses => crate::leads::STATUSES.iter().map(|s| context! { key => *s, label => humanize(s) }).collect::<Vec<_>>(),
            score => context! {
                score => ins.score.score,
                band => crate::leads::store::band_str(ins.score.band),
                rules => ins.score.rules.iter().map(|r| context! {
                    rule => humanize(r.rule), points => r.points, detail => r.detail,
                }).collect::<Vec<_>>(),
            },
            summary => context! {
                total => sm.total_touchpoints,
                inbound => sm.by_direction.get("inbound").copied().unwrap_or(0),
                outbound => sm.by_direction.get("outbound").copied().unwrap_or(0),
                response_rate => pct(sm.response_rate),
                lead_response => sm.avg_response_time_hours.map(|h| minutes_human(Some(h * 60.0))).unwrap_or_else(|| "—".into()),
                our_response => minutes_human(sm.our_avg_response_time_minutes),
                first_response => minutes_human(sm.first_response_time_minutes),
                sentiment => sm.most_recent_sentiment.map(|s| s.as_str()),
                trend => serde_json::to_value(sm.sentiment_trend).ok().and_then(|v| v.as_str().map(str::to_string)),
                unanswered => sm.unanswered_inbound,
            },
            engagement => context! {
                level => serde_json::to_value(ins.engagement.level).ok().and_then(|v| v.as_str().map(str::to_string)),
                preferred => ins.engagement.preferred_channel.map(|c| channel_label(c.as_str())),
                patterns => ins.engagement.patterns.iter().map(|p| humanize(p)).collect::<Vec<_>>(),
            },
            next_action => context! {
                label => action_label(&na.action),
                channel => na.channel.map(|c| channel_label(c.as_str())),
                priority => serde_json::to_value(na.priority).ok().and_then(|v| v.as_str().map(str::to_string)),
                reason => na.reason,
            },
            enrichment => context! {
                completeness => en.completeness,
                missing => en.missing_fields.iter().map(|f| humanize(f)).collect::<Vec<_>>(),
                patterns => en.response_patterns,
                conversion => pct(Some(en.conversion_probability)),
                best_hour => en.best_contact_hour.map(hour_label),
            },
            charts => context! {
                weekly => minijinja::Value::from_safe_string(weekly),
                sentiment => minijinja::Value::from_safe_string(sentiment),
                channels => minijinja::Value::from_safe_string(channel_chart),
            },
            timeline,
            timeline_total => touches.len(),
            timeline_limit => TIMELINE_LIMIT,
            reply_subject,
            ..layout(&s, "leads", &title)
        },
    ))
}

// ---------------------------------------------------------------------------
// Conversations

/// Chat sessions with a live transcript (the page's script does the talking).
pub async fn conversations(
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query_map(q);
    let selected = param(&q, "session")
        .filter(|v| {
            v.len() <= 100
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        })
        .unwrap_or("");
    render(
        StatusCode::OK,
        "conversations.html",
        context! { selected, ..layout(&s, "conversations", "Conversations") },
    )
}

// ---------------------------------------------------------------------------
// Integrations

#[derive(sqlx::FromRow)]
struct SiteRow {
    id: i64,
    name: String,
    site_key: String,
    allowed_origins: Vec<String>,
    company_name: Option<String>,
    color_theme: String,
    position: String,
    greeting_message: Option<String>,
    settings: serde_json::Value,
}

/// Email, SMS, chat widget, AI and what the tracker captures.
pub async fn integrations(
    State(state): State<AppState>,
    Dash(s): Dash,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query_map(q);
    let account = s.account_id;
    let clock = Clock::of(&state.pool, account).await?;
    let base = crate::channels::chat::sites::public_base(&state, &headers);

    let email = crate::channels::email::integration::integration(&state, account)
        .await?
        .filter(|i| i.is_active);
    let email_view = match &email {
        None => {
            context! { connected => false, status => "not_connected", status_label => "Not connected" }
        }
        Some(i) => {
            let (status, label) = if i.last_error.is_some() && i.consecutive_failures > 0 {
                ("error", "Error")
            } else if i.last_sync.is_none() {
                ("syncing", "Waiting for the first sync")
            } else {
                ("connected", "Connected")
            };
            context! {
                connected => true,
                status,
                status_label => label,
                email => i.email,
                username => i.username,
                imap_server => i.imap_host,
                imap_port => i.imap_port,
                imap_security => i.imap_security,
                smtp_server => i.smtp_host,
                smtp_port => i.smtp_port,
                smtp_security => i.smtp_security,
                auto_respond => i.auto_respond,
                folders => i.folders.join(", "),
                last_sync => i.last_sync.map(|t| clock.ago(t)),
                last_sync_title => i.last_sync.map(|t| clock.when(t)),
                next_sync => i.next_sync_at.map(|t| clock.when(t)).unwrap_or_else(|| "at the next scheduled run".into()),
                last_error => i.last_error,
                failures => i.consecutive_failures,
                messages_synced => crate::channels::email::integration::messages_synced(&state.pool, account).await?,
            }
        }
    };

    let sms = crate::channels::sms::integration::status_of(&state, account).await?;
    let webhook_url = format!("{base}/webhooks/telnyx");
    let sms_view = if !sms.connected {
        context! {
            connected => false, status => "not_connected", status_label => "Not connected",
            webhook_url, public_url_set => state.config.public_url.is_some(),
        }
    } else {
        let (status, label) = if !sms.is_active {
            ("error", "Inactive")
        } else if sms.last_error.is_some() {
            ("error", "Error")
        } else {
            ("connected", "Connected")
        };
        let qh = sms.quiet_hours.as_ref();
        context! {
            connected => true,
            status,
            status_label => label,
            messaging_profile_id => sms.messaging_profile_id,
            numbers => sms.phone_numbers.join("\n"),
            number_list => sms.phone_numbers,
            quiet_start => qh.map_or("", |q| q.start.as_str()),
            quiet_end => qh.map_or("", |q| q.end.as_str()),
            quiet_tz => qh.map_or("", |q| q.timezone.as_str()),
            missed_call_text_back => sms.missed_call_text_back,
            last_error => sms.last_error,
            last_error_at => sms.last_error_at.map(|t| clock.when(t)),
            own_key => sms.webhook_public_key_set,
            webhook_url,
            public_url_set => state.config.public_url.is_some(),
        }
    };

    let sites: Vec<SiteRow> = sqlx::query_as(
        "select s.id, s.name, s.site_key, s.allowed_origins, w.company_name,
                coalesce(w.color_theme, '#1f6feb') as color_theme, coalesce(w.position, 'bottom-right') as position,
                w.greeting_message, coalesce(w.settings, '{}'::jsonb) as settings
         from sites s left join widget_settings w on w.site_id = s.id
         where s.account_id = $1 order by s.id",
    )
    .bind(account)
    .fetch_all(&state.pool)
    .await?;
    let selected_id = param(&q, "site")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|id| sites.iter().any(|s| s.id == *id))
        .or_else(|| sites.first().map(|s| s.id));
    let site_views: Vec<_> = sites
        .into_iter()
        .map(|r| {
            let w = crate::channels::chat::sites::settings_from_row((
                r.company_name,
                r.color_theme,
                r.position,
                r.greeting_message,
                r.settings,
            ));
            context! {
                id => r.id,
                name => r.name,
                site_key => r.site_key,
                origins => r.allowed_origins.join("\n"),
                origin_list => r.allowed_origins,
                selected => Some(r.id) == selected_id,
                embed => format!(r#"<script src="{base}/widget.js" data-site="{}" async></script>"#, r.site_key),
                settings => w,
            }
        })
        .collect();

    let held =
        crate::quarantine::list(&state.pool, account, &crate::quarantine::Source::ALL, 50).await?;
    let quarantine_view: Vec<_> = held
        .iter()
        .map(|q| {
            context! {
                id => q.id,
                source => q.source,
                source_label => match q.source.as_str() {
                    "imap" => "Mailbox (IMAP)",
                    "mailgun" => "Mailgun",
                    "sendgrid" => "SendGrid",
                    _ => "Telnyx",
                },
                reason => q.reason,
                summary => q.summary,
                size => q.size,
                received => clock.ago(q.created_at),
                received_title => clock.when(q.created_at),
                attempts => q.attempts,
            }
        })
        .collect();

    let outbox_view: Vec<_> = crate::outbox::list(&state.pool, account, &["failed", "unknown"], 50)
        .await?
        .into_iter()
        .map(|o| {
            context! {
                id => o.id,
                kind_label => if o.kind == "sms" { "Text" } else { "Email" },
                to => o.to,
                summary => o.summary,
                status_label => if o.status == "unknown" { "Outcome unknown." } else { "Failed." },
                error => o.last_error,
                when => clock.ago(o.updated_at),
                when_title => clock.when(o.updated_at),
            }
        })
        .collect();

    let key_views: Vec<_> = crate::keys::of_account(&state.pool, account)
        .await?
        .into_iter()
        .map(|k| {
            context! {
                id => k.id,
                name => k.name,
                prefix => k.prefix,
                created => clock.when(k.created_at),
                last_used => k.last_used_at.map(|t| clock.ago(t)),
                revoked => k.revoked_at.map(|t| clock.when(t)),
            }
        })
        .collect();

    let company = crate::ai::service::load_company(&state.pool, account).await?;
    let ai = &state.config.ai;
    let provider = ai.provider.as_str();
    Ok(render(
        StatusCode::OK,
        "integrations.html",
        context! {
            quarantine => quarantine_view,
            outbox => outbox_view,
            keys => key_views,
            email => email_view,
            sms => sms_view,
            sites => site_views,
            selected_site => selected_id,
            ai => context! {
                provider,
                provider_label => match provider {
                    "anthropic" => "Anthropic (Claude)",
                    "openai" => "OpenAI-compatible",
                    _ => "Built-in rules (offline)",
                },
                model => (!ai.model.is_empty()).then(|| ai.model.clone()),
                timeout_secs => ai.timeout.as_secs(),
            },
            company => context! {
                company_name => company.company_name,
                services => company.services.join(", "),
                service_area => company.service_area,
                hours => company.hours,
                phone => company.phone,
                booking_link => company.booking_link,
                financing => company.financing,
                insurance_claims => company.insurance_claims,
                signature => company.signature,
            },
            base,
            ..layout(&s, "integrations", "Integrations")
        },
    ))
}

/// A page that shows the site's widget as visitors will see it, with the settings in the
/// query string applied over the saved ones (so changes show before they are saved).
pub async fn widget_preview(
    State(state): State<AppState>,
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    let q = query_map(q);
    let site_id: i64 = param(&q, "site_id")
        .and_then(|v| v.parse().ok())
        .ok_or(ApiError::NotFound("site"))?;
    let row: Option<SiteRow> = sqlx::query_as(
        "select s.id, s.name, s.site_key, s.allowed_origins, w.company_name,
                coalesce(w.color_theme, '#1f6feb') as color_theme, coalesce(w.position, 'bottom-right') as position,
                w.greeting_message, coalesce(w.settings, '{}'::jsonb) as settings
         from sites s left join widget_settings w on w.site_id = s.id
         where s.id = $1 and s.account_id = $2",
    )
    .bind(site_id)
    .bind(s.account_id)
    .fetch_optional(&state.pool)
    .await?;
    let row = row.ok_or(ApiError::NotFound("site"))?;
    let mut w = crate::channels::chat::sites::settings_from_row((
        row.company_name,
        row.color_theme,
        row.position,
        row.greeting_message,
        row.settings,
    ));
    let text = |k: &str| {
        q.get(k)
            .map(|v| v.trim().chars().take(500).collect::<String>())
    };
    if let Some(v) = text("company_name") {
        w.company_name = (!v.is_empty()).then_some(v);
    }
    if let Some(c) = param(&q, "color_theme") {
        if c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit()) {
            w.color_theme = c.to_ascii_lowercase();
        }
    }
    if let Some(p) = param(&q, "position").filter(|p| ["bottom-right", "bottom-left"].contains(p)) {
        w.position = p.to_string();
    }
    if let Some(v) = text("greeting_message") {
        w.greeting_message = (!v.is_empty()).then_some(v);
    }
    if let Some(v) = text("offline_message") {
        w.offline_message = (!v.is_empty()).then_some(v);
    }
    let flag = |k: &str| param(&q, k).map(|v| v == "true" || v == "1" || v == "on");
    w.collect_email = flag("collect_email").unwrap_or(w.collect_email);
    w.collect_phone = flag("collect_phone").unwrap_or(w.collect_phone);
    Ok(render(
        StatusCode::OK,
        "widget_preview.html",
        context! {
            title => format!("Widget preview: {}", row.name),
            site_key => row.site_key,
            settings_json => serde_json::to_string(&w.public()).unwrap_or_else(|_| "{}".into()),
            asset_v => ASSET_VERSION.as_str(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_rates_read_humanly() {
        assert_eq!(minutes_human(None), "—");
        assert_eq!(minutes_human(Some(0.4)), "under a minute");
        assert_eq!(minutes_human(Some(12.4)), "12 min");
        assert_eq!(minutes_human(Some(90.0)), "1.5 h");
        assert_eq!(minutes_human(Some(3.0 * 1440.0)), "3.0 days");
        assert_eq!(pct(Some(0.545)), "55%");
        assert_eq!(pct(None), "—");
        assert_eq!(duration_human(200), "3 min 20 s");
        assert_eq!(duration_human(45), "45 s");
        assert_eq!(hour_label(0), "12 AM");
        assert_eq!(hour_label(14), "2 PM");
        assert_eq!(action_label("respond_immediately"), "Respond now");
        assert_eq!(action_label("something_new"), "Something new");
        let us = phonenumber::country::Id::US;
        assert_eq!(display_phone("+13126412278", us), "(312) 641-2278");
        assert_eq!(display_phone("+442071838750", us), "+44 20 7183 8750");
        assert_eq!(display_phone("garbage", us), "garbage");
    }

    #[test]
    fn only_http_links_are_kept() {
        assert_eq!(
            http_url(Some("https://x/r.mp3".into())).as_deref(),
            Some("https://x/r.mp3")
        );
        assert_eq!(http_url(Some("javascript:alert(1)".into())), None);
        assert_eq!(http_url(Some(" data:text/html,x".into())), None);
    }

    #[test]
    fn the_week_starts_on_the_local_monday() {
        use chrono::TimeZone;
        // Tuesday 2026-11-24 03:00 UTC is Monday 22:00 in UTC−05:00.
        let clock = Clock {
            offset: -300,
            now: Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
        };
        assert_eq!(
            clock.week_start(),
            Utc.with_ymd_and_hms(2026, 11, 23, 5, 0, 0).unwrap()
        );
        assert_eq!(clock.ago(clock.now - Duration::minutes(5)), "5 min ago");
        assert_eq!(clock.ago(clock.now - Duration::days(1)), "1 day ago");
    }

    #[test]
    fn list_links_keep_the_filters() {
        assert_eq!(
            query_string(&[("band", "HOT"), ("q", ""), ("page", "2")]),
            "?band=HOT&page=2"
        );
        assert_eq!(query_string(&[("q", "a&b")]), "?q=a%26b");
        assert_eq!(query_string(&[]), "");
    }
}
