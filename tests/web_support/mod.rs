//! A browser's session over plain HTTP (reqwest has no cookie store here: cookies are
//! carried by hand): sign in with email and password, use a password link, and call the
//! JSON API with the session cookie and its CSRF token.
#![allow(dead_code)]

use leadline::auth::Role;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::Value;

use crate::common::{Resp, TestApp};

pub const PASSWORD: &str = "shingles-and-gutters-7";

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")) && !v.starts_with(&format!("{name}=;")))
        .map(|v| v.split(';').next().unwrap_or("").to_string())
}

pub fn hidden(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let start = html.find(&needle).expect(name) + needle.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_string()
}

/// A form page's CSRF cookie and token.
pub async fn form(
    app: &TestApp,
    http: &reqwest::Client,
    path: &str,
) -> (String, String, reqwest::StatusCode) {
    let res = http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let cookie = cookie_of(&res, "leadline_login").unwrap_or_default();
    let html = res.text().await.unwrap();
    let csrf = if html.contains("name=\"csrf_token\"") {
        hidden(&html, "csrf_token")
    } else {
        String::new()
    };
    (cookie, csrf, status)
}

/// A browser's session, as far as HTTP goes.
pub struct Web {
    pub http: reqwest::Client,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Web {
    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap();
        Resp {
            status,
            body: serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
            headers,
        }
    }
    pub async fn get(&self, path: &str) -> Resp {
        self.call(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> Resp {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
}

/// Posts the sign-in form; the raw response.
pub async fn post_sign_in(
    app: &TestApp,
    http: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let (cookie, csrf, _) = form(app, http, "/login").await;
    http.post(format!("{}/login", app.base))
        .header(COOKIE, cookie)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", &csrf),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap()
}

/// The session of a completed sign-in response (303 with the session cookie).
pub async fn web_of(app: &TestApp, http: reqwest::Client, res: reqwest::Response) -> Web {
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let cookie = cookie_of(&res, "leadline_session").expect("session cookie");
    let me = http
        .get(format!("{}/api/me", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // The session's CSRF token: read from a dashboard page's meta tag.
    let page = http
        .get(format!("{}/", app.base))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    let needle = "<meta name=\"csrf-token\" content=\"";
    let csrf = html
        .find(needle)
        .map(|s| {
            let s = s + needle.len();
            html[s..s + html[s..].find('"').unwrap()].to_string()
        })
        .unwrap_or_default();
    Web {
        http,
        base: app.base.clone(),
        cookie,
        csrf,
    }
}

pub async fn sign_in(app: &TestApp, email: &str, password: &str) -> Web {
    let http = client();
    let res = post_sign_in(app, &http, email, password).await;
    web_of(app, http, res).await
}

/// Opens a password link, sets the password (and name); the signed-in session.
pub async fn use_link(app: &TestApp, link: &str, name: &str, password: &str) -> reqwest::Response {
    let http = client();
    let path = link.strip_prefix(&app.base).expect("link on this server");
    let (cookie, csrf, status) = form(app, &http, path).await;
    assert_eq!(status, 200, "link page");
    http.post(link)
        .header(COOKIE, cookie)
        .form(&[
            ("name", name),
            ("password", password),
            ("password_again", password),
            ("csrf_token", &csrf),
        ])
        .send()
        .await
        .unwrap()
}

/// A user created like the command line does, who set their password through the link.
pub async fn person(app: &TestApp, account: i64, email: &str, role: Role) -> Web {
    let (_, link) = leadline::team::people::create_first(
        &app.pool,
        &app.base,
        leadline::domain::AccountId(account),
        email,
        "",
        role,
    )
    .await
    .unwrap();
    let res = use_link(app, &link, email.split('@').next().unwrap(), PASSWORD).await;
    web_of(app, client(), res).await
}

pub async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}
