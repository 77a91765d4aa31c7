//! Sign in and out.

use std::collections::HashMap;

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use minijinja::context;
use serde::Deserialize;

use super::{csrf_rejected, param, query_map, PageError};
use crate::auth::session::{self, Dash};
use crate::dashboard::{render, ASSET_VERSION};
use crate::state::AppState;

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
