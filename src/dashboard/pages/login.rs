//! Sign in (email and password, then a two-factor code when the user has one; or an API
//! key, for developers), forgot password, the password links, and sign out.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::{context, Value};
use serde::Deserialize;

use super::{csrf_rejected, param, query_map, PageError};
use crate::auth::session::{self, Dash, Opener};
use crate::auth::signin::{self, Outcome};
use crate::dashboard::{render, ASSET_VERSION};
use crate::extract::ClientIp;
use crate::state::AppState;

/// Cookie that carries a pending two-factor challenge between the two sign-in steps.
const CHALLENGE_COOKIE: &str = "leadline_challenge";

fn next_of(q: &HashMap<String, String>) -> &str {
    param(q, "next").and_then(session::safe_next).unwrap_or("/")
}

/// Renders the sign-in card in `mode` with a fresh form token (cookie for `path`).
fn page(state: &AppState, status: StatusCode, mode: &str, path: &str, extra: Value) -> Response {
    let token = session::random_token();
    // Merged values take precedence left to right: `extra` (e.g. its `next`) over the defaults.
    let ctx = context! { ..extra, ..context! { title => "Sign in", mode, csrf => token, asset_v => ASSET_VERSION.as_str(), next => "/" } };
    let mut res = render(status, "login.html", ctx);
    let (k, v) = session::form_cookie(&token, path, session::secure(state));
    res.headers_mut().append(k, v);
    res
}

fn login_page(
    state: &AppState,
    status: StatusCode,
    mode: &str,
    next: &str,
    error: Option<&str>,
) -> Response {
    // The template has no urlencode filter (minijinja's feature is off): encoded here.
    let next_q = session::encode_query_value(next);
    page(
        state,
        status,
        mode,
        "/login",
        context! { next, next_q, error },
    )
}

async fn signed_in_already(state: &AppState, headers: &HeaderMap) -> bool {
    match session::cookie(headers, session::COOKIE_NAME) {
        Some(token) => matches!(session::lookup(&state.pool, token).await, Ok(Some(_))),
        None => false,
    }
}

/// The sign-in page (email and password). Already signed in: straight to `next`.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query_map(q);
    let next = next_of(&q);
    if signed_in_already(&state, &headers).await {
        return Redirect::to(next).into_response();
    }
    let expired = session::cookie(&headers, session::COOKIE_NAME).is_some();
    login_page(
        &state,
        StatusCode::OK,
        "password",
        next,
        expired.then_some("Your session has ended. Sign in again."),
    )
}

/// The API-key sign-in page (developers).
pub async fn key_form(
    State(state): State<AppState>,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query_map(q);
    login_page(&state, StatusCode::OK, "key", next_of(&q), None)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    email: Option<String>,
    password: Option<String>,
    api_key: Option<String>,
    next: Option<String>,
    csrf_token: Option<String>,
}

fn form_token_ok(headers: &HeaderMap, given: Option<&str>) -> bool {
    let expected = session::cookie(headers, session::LOGIN_COOKIE_NAME).unwrap_or("");
    session::csrf_matches(expected, given)
}

fn throttled(state: &AppState, mode: &str, next: &str, wait: i64) -> Response {
    let mut res = login_page(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        mode,
        next,
        Some(&format!(
            "Too many failed sign-ins. Try again in {wait} seconds."
        )),
    );
    res.headers_mut()
        .insert(axum::http::header::RETRY_AFTER, wait.into());
    res
}

/// The session cookie set, the form cookies cleared, and on to `next`.
fn enter(state: &AppState, token: &str, next: &str) -> Response {
    let secure = session::secure(state);
    let mut res = Redirect::to(next).into_response();
    let (k, v) = session::session_cookie(token, secure);
    res.headers_mut().append(k, v);
    for (name, path) in [
        (session::LOGIN_COOKIE_NAME, "/login"),
        (CHALLENGE_COOKIE, "/login"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{name}=; HttpOnly; SameSite=Strict; Path={path}; Max-Age=0{}",
            if secure { "; Secure" } else { "" }
        )) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    res
}

/// Checks the email and password (or the API key), then starts a session.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return login_page(
            &state,
            StatusCode::BAD_REQUEST,
            "password",
            "/",
            Some("Enter your email and password."),
        );
    };
    let next = f
        .next
        .as_deref()
        .and_then(session::safe_next)
        .unwrap_or("/")
        .to_string();
    let by_key = f.api_key.is_some();
    let mode = if by_key { "key" } else { "password" };
    if !form_token_ok(&headers, f.csrf_token.as_deref()) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            mode,
            &next,
            Some("The sign-in form had expired, so nothing was sent. Please try again."),
        );
    }
    if by_key {
        return key_login(
            &state,
            ip,
            &headers,
            f.api_key.as_deref().unwrap_or(""),
            &next,
        )
        .await;
    }
    let email = f.email.as_deref().map(str::trim).unwrap_or("");
    let password = f.password.as_deref().unwrap_or("");
    if email.is_empty() || password.is_empty() {
        return login_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            mode,
            &next,
            Some("Enter your email and password."),
        );
    }
    if let Some(old) = session::cookie(&headers, session::COOKIE_NAME) {
        if let Err(e) = session::destroy_token(&state.pool, old).await {
            return PageError(e).into_response();
        }
    }
    match signin::with_password(&state, email, password, ip).await {
        Ok(Outcome::SignedIn { token }) => enter(&state, &token, &next),
        Ok(Outcome::NeedsCode { challenge }) => {
            let target = if next == "/" {
                "/login/code".to_string()
            } else {
                format!("/login/code?next={}", session::encode_query_value(&next))
            };
            let mut res = Redirect::to(&target).into_response();
            let (k, v) = session::form_cookie_named(
                CHALLENGE_COOKIE,
                &challenge,
                "/login",
                session::secure(&state),
            );
            res.headers_mut().append(k, v);
            res
        }
        Ok(Outcome::Invalid) => {
            let mut res = page(
                &state,
                StatusCode::UNAUTHORIZED,
                "password",
                "/login",
                context! { next_q => session::encode_query_value(&next), next, email, error => "That email and password do not match an active user." },
            );
            res.headers_mut()
                .insert("x-sign-in", HeaderValue::from_static("failed"));
            res
        }
        Ok(Outcome::Throttled(wait)) => throttled(&state, mode, &next, wait),
        Err(e) => PageError(e).into_response(),
    }
}

/// Developers: the API key checked, throttled per client, then a session tied to the key.
async fn key_login(
    state: &AppState,
    ip: Option<std::net::IpAddr>,
    headers: &HeaderMap,
    key: &str,
    next: &str,
) -> Response {
    let key = key.trim();
    if key.is_empty() {
        return login_page(
            state,
            StatusCode::UNPROCESSABLE_ENTITY,
            "key",
            next,
            Some("Enter your API key."),
        );
    }
    let client = crate::throttle::client_key(ip);
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
        return throttled(state, "key", next, wait);
    }
    let Some((account, key_id)) = account else {
        let targeted = match crate::auth::account_targeted(&state.pool, key).await {
            Ok(t) => t,
            Err(e) => return PageError(e).into_response(),
        };
        return match crate::throttle::failed_for(&state.pool, &client, targeted).await {
            Ok(Some(wait)) => throttled(state, "key", next, wait),
            Ok(None) => login_page(
                state,
                StatusCode::UNAUTHORIZED,
                "key",
                next,
                Some("That API key is not valid, or it was revoked."),
            ),
            Err(e) => PageError(e).into_response(),
        };
    };
    if let Err(e) = crate::throttle::succeeded(&state.pool, &client).await {
        return PageError(e).into_response();
    }
    // A fresh token for every sign-in; the browser's previous session (if any) ends.
    if let Some(old) = session::cookie(headers, session::COOKIE_NAME) {
        if let Err(e) = session::destroy_token(&state.pool, old).await {
            return PageError(e).into_response();
        }
    }
    match session::create(&state.pool, account, Opener::Key(key_id)).await {
        Ok(token) => enter(state, &token, next),
        Err(e) => PageError(e).into_response(),
    }
}

/// The two-factor step's form.
pub async fn code_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Response {
    let q = query_map(q);
    if session::cookie(&headers, CHALLENGE_COOKIE).is_none() {
        return Redirect::to("/login").into_response();
    }
    login_page(&state, StatusCode::OK, "code", next_of(&q), None)
}

#[derive(Debug, Deserialize)]
pub struct CodeForm {
    code: Option<String>,
    next: Option<String>,
    csrf_token: Option<String>,
}

/// Checks the two-factor (or recovery) code of a pending sign-in.
pub async fn code(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return login_page(
            &state,
            StatusCode::BAD_REQUEST,
            "code",
            "/",
            Some("Enter the code."),
        );
    };
    let next = f
        .next
        .as_deref()
        .and_then(session::safe_next)
        .unwrap_or("/")
        .to_string();
    if !form_token_ok(&headers, f.csrf_token.as_deref()) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            "code",
            &next,
            Some("The form had expired. Please try again."),
        );
    }
    let Some(challenge) = session::cookie(&headers, CHALLENGE_COOKIE) else {
        return Redirect::to("/login").into_response();
    };
    match signin::with_code(&state, challenge, f.code.as_deref().unwrap_or(""), ip).await {
        Ok(Outcome::SignedIn { token }) => enter(&state, &token, &next),
        Ok(Outcome::Throttled(wait)) => throttled(&state, "code", &next, wait),
        Ok(_) => login_page(
            &state,
            StatusCode::UNAUTHORIZED,
            "code",
            &next,
            Some("That code is not right (or the sign-in took too long: start again)."),
        ),
        Err(e) => PageError(e).into_response(),
    }
}

/// "Forgot your password?"
pub async fn forgot_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, "forgot", "/", None)
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    email: Option<String>,
    csrf_token: Option<String>,
}

/// Mails a reset link when the address is a user's; the answer is the same either way.
pub async fn forgot(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Response {
    let Ok(Form(f)) = form else {
        return login_page(
            &state,
            StatusCode::BAD_REQUEST,
            "forgot",
            "/",
            Some("Enter your email."),
        );
    };
    if !form_token_ok(&headers, f.csrf_token.as_deref()) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            "forgot",
            "/",
            Some("The form had expired. Please try again."),
        );
    }
    let base = state.public_base(&headers);
    if let Err(e) =
        crate::team::onboarding::forgot(&state, &base, f.email.as_deref().unwrap_or(""), ip).await
    {
        return PageError(e).into_response();
    }
    login_page(&state, StatusCode::OK, "forgot_sent", "/", None)
}

fn link_gone(state: &AppState) -> Response {
    login_page(state, StatusCode::NOT_FOUND, "link_gone", "/", None)
}

/// The page of an invitation or reset link: choose a password.
pub async fn password_form(
    State(state): State<AppState>,
    axum::extract::Path(token): axum::extract::Path<String>,
) -> Response {
    match crate::auth::links::peek(&state.pool, &token).await {
        Ok(Some(link)) => set_password_page(&state, StatusCode::OK, &token, &link, None),
        Ok(None) => link_gone(&state),
        Err(e) => PageError(e).into_response(),
    }
}

fn set_password_page(
    state: &AppState,
    status: StatusCode,
    token: &str,
    link: &crate::auth::links::Link,
    error: Option<&str>,
) -> Response {
    let path = crate::auth::links::path(token);
    let purpose = match link.purpose {
        crate::auth::links::Purpose::Invite => "invite",
        crate::auth::links::Purpose::Reset => "reset",
    };
    page(
        state,
        status,
        "set_password",
        &path,
        context! { action => path.clone(), purpose, email => link.email.clone(), name => link.name.clone(),
        account_name => link.account_name.clone(), error },
    )
}

#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    name: Option<String>,
    password: Option<String>,
    password_again: Option<String>,
    csrf_token: Option<String>,
}

/// Sets the password through the link, then signs the person in.
pub async fn set_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    axum::extract::Path(token): axum::extract::Path<String>,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let link = match crate::auth::links::peek(&state.pool, &token).await {
        Ok(Some(l)) => l,
        Ok(None) => return link_gone(&state),
        Err(e) => return PageError(e).into_response(),
    };
    let Ok(Form(f)) = form else {
        return set_password_page(
            &state,
            StatusCode::BAD_REQUEST,
            &token,
            &link,
            Some("Choose a password."),
        );
    };
    if !form_token_ok(&headers, f.csrf_token.as_deref()) {
        return set_password_page(
            &state,
            StatusCode::FORBIDDEN,
            &token,
            &link,
            Some("The form had expired. Please try again."),
        );
    }
    let pass = f.password.unwrap_or_default();
    if Some(&pass) != f.password_again.as_ref() {
        return set_password_page(
            &state,
            StatusCode::UNPROCESSABLE_ENTITY,
            &token,
            &link,
            Some("The two passwords are not the same."),
        );
    }
    let accepted =
        match crate::team::onboarding::accept(&state, &token, f.name.as_deref(), &pass, ip).await {
            Ok(a) => a,
            Err(crate::error::ApiError::NotFound(_)) => return link_gone(&state),
            Err(e) if e.status().is_client_error() => {
                return set_password_page(
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &token,
                    &link,
                    Some(&e.to_string()),
                )
            }
            Err(e) => return PageError(e).into_response(),
        };
    match signin::complete(
        &state,
        accepted.account,
        accepted.user_id,
        &accepted.email,
        "password_link",
        ip,
    )
    .await
    {
        Ok(Outcome::SignedIn {
            token: session_token,
        }) => enter(&state, &session_token, "/"),
        Ok(_) => Redirect::to("/login").into_response(),
        Err(e) => PageError(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    csrf_token: Option<String>,
}

/// Ends the session (the form must carry its CSRF token).
pub async fn logout(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
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
    if let Some(u) = &s.user {
        let entry = crate::audit::Entry {
            account: s.account_id,
            user_id: Some(u.id),
            api_key_id: None,
            actor: u.email.clone(),
            action: "sign_out",
            target: Some(format!("user:{}", u.id)),
            details: serde_json::json!({}),
            ip,
        };
        if let Err(e) = crate::audit::record(&state.pool, entry).await {
            return PageError(e).into_response();
        }
    }
    let mut res = Redirect::to("/login").into_response();
    let (k, v) = session::clear_session_cookie(session::secure(&state));
    res.headers_mut().append(k, v);
    res
}
