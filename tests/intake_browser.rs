//! The Lead sources page in a real browser (headless Chromium through chromedriver, the
//! harness of `tests/browser_support`): adding sources of two kinds through the page's
//! form, the web form's snippet, and a generic source's mapping saved and previewed.
//! The page is saved as `target/screenshots/dashboard-sources.png`.

mod browser_support;
mod common;

use browser_support::{click, screenshot_dir, type_into, wait_js, with_browser, Browser};
use common::{spawn_app, Account, TestApp};
use serde_json::Value;

async fn sign_in(b: &Browser, app: &TestApp, account: &Account, path: &str) {
    b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
    wait_js(
        b,
        "the sign-in form",
        "return !!document.querySelector('[data-test=key-link]');",
    )
    .await;
    click(b, "[data-test=key-link]").await;
    wait_js(
        b,
        "the API-key form",
        "return !!document.querySelector('input[name=api_key]');",
    )
    .await;
    type_into(b, "input[name=api_key]", &account.key).await;
    click(b, "form[action='/login'] button[type=submit]").await;
    wait_js(b, "the sources page", "return location.pathname === '/sources' && !!document.querySelector('[data-source-create]');").await;
}

#[tokio::test]
async fn sources_are_added_mapped_and_previewed_on_the_page() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    with_browser("sources", async |b: &Browser| {
        sign_in(b, &app, &a, "/sources").await;
        // A website form, with its origin.
        type_into(b, "[data-source-create] input[name=name]", "Website quote form").await;
        type_into(b, "[data-source-create] textarea[name=allowed_origins]", "https://acmeroofing.com").await;
        click(b, "[data-source-create] button[type=submit]").await;
        wait_js(b, "the form's card", "return document.querySelectorAll('[data-source]').length === 1;").await;
        let snippet = b
            .js("return document.querySelector('[data-source] pre[id^=snippet]').textContent;")
            .await;
        assert!(snippet.as_str().unwrap().contains("name=\"_gotcha\""), "{snippet}");
        // A generic source: the secret field is offered for it, the page id not.
        b.js("const k = document.querySelector('[data-source-kind]'); k.value = 'generic'; k.dispatchEvent(new Event('change')); return true;").await;
        let hidden = b
            .js("return document.querySelector('[data-source-create] input[name=page_id]').closest('label').hidden;")
            .await;
        assert_eq!(hidden, Value::Bool(true));
        type_into(b, "[data-source-create] input[name=name]", "Zapier").await;
        click(b, "[data-source-create] button[type=submit]").await;
        wait_js(b, "the generic card", "return document.querySelectorAll('[data-source]').length === 2;").await;
        let card = "[data-source][data-source-kind=generic]";
        type_into(b, &format!("{card} textarea[name=mapping]"), r#"{"name": "/who/full", "email": "/who/mail"}"#).await;
        click(b, &format!("{card} [data-source-edit] button[type=submit]")).await;
        wait_js(b, "saved", &format!("return document.querySelector('{card} [data-source-edit] [data-result]').textContent === 'Saved';")).await;
        type_into(b, &format!("{card} textarea[name=payload]"), r#"{"who": {"full": "Robin Park", "mail": "robin@example.com"}}"#).await;
        click(b, &format!("{card} [data-source-preview] button[type=submit]")).await;
        let out = wait_js(b, "the preview", &format!("const p = document.querySelector('{card} [data-preview-out]'); return !p.hidden && p.textContent;")).await;
        assert!(out.as_str().unwrap().contains("Robin Park"), "{out}");
        let shot_h = b.js("return document.documentElement.scrollHeight;").await.as_f64().unwrap_or(900.0);
        b.client.set_window_size(1280, (shot_h as u32 + 140).clamp(900, 4200)).await.unwrap();
        b.screenshot(&screenshot_dir().join("dashboard-sources.png")).await;
    })
    .await;
    let saved: Value =
        sqlx::query_scalar("select config->'mapping' from lead_sources where kind = 'generic'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(saved["email"], "/who/mail");
}
