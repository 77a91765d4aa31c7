//! Automations in a real browser (headless Chromium, the harness of `tests/browser_support`):
//! an owner sets business hours for America/Chicago and sees them kept; adds a template
//! (a misspelt variable shows the API's error, a good one previews for a lead); turns the
//! ready-made "Review request" sequence on; on a lead's page enrols it in "Cold-lead
//! nurture", sees it listed with what happens next, then stops it; fills the reply box
//! from the template.
//!
//! Pages are saved as `target/screenshots/automation-<page>.png`.

mod browser_support;
mod common;

use browser_support::{click, screenshot_dir, text, type_into, wait_js, with_browser, Browser};
use common::{spawn_app, TestApp};
use fantoccini::Locator;
use leadline::auth::Role;
use leadline::domain::AccountId;
use serde_json::json;

const OWNER_PASS: &str = "shingles-and-gutters-1";

async fn goto(b: &Browser, app: &TestApp, path: &str) {
    b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
}

/// Waits until the status line matching `css` has the class `kind` (ok / err); its text.
async fn result(b: &Browser, css: &str, kind: &str) -> String {
    let css = serde_json::to_string(css).unwrap();
    wait_js(
        b,
        &format!("a {kind} result in {css}"),
        &format!("const e = document.querySelector({css}); return e && e.classList.contains('{kind}') && e.textContent;"),
    )
    .await
    .as_str()
    .unwrap_or("")
    .to_string()
}

async fn shot(b: &Browser, name: &str) {
    b.screenshot(&screenshot_dir().join(format!("automation-{name}.png")))
        .await;
}

#[tokio::test]
async fn an_owner_sets_hours_templates_and_follow_ups() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let (_owner, link) = leadline::team::people::create_first(
        &app.pool,
        &app.base,
        AccountId(account.id),
        "olivia@acme.test",
        "Olivia Owner",
        Role::Owner,
    )
    .await
    .unwrap();
    let lead = app
        .post(
            &account.key,
            "/api/leads",
            json!({"name": "Jane Cooper", "email": "jane@example.com", "phone": "+13125550101"}),
        )
        .await;
    assert_eq!(lead.status, 201, "{}", lead.body);
    let lead_id = lead.body["id"].as_i64().unwrap();

    with_browser("automation", async |b: &Browser| {
        // ---- the owner joins through the command line's link
        b.client.goto(&link).await.unwrap();
        wait_js(b, "the set-password form", "return !!document.querySelector('[data-test=set-password-form]');").await;
        type_into(b, "input[name=password]", OWNER_PASS).await;
        type_into(b, "input[name=password_again]", OWNER_PASS).await;
        click(b, "[data-test=set-password-form] button[type=submit]").await;
        wait_js(b, "the dashboard", "return location.pathname === '/' && !!document.querySelector('[data-nav=sequences]');").await;
        for nav in ["sequences", "templates", "hours"] {
            assert_eq!(b.js(&format!("return !!document.querySelector('[data-nav={nav}]');")).await, true, "{nav} link");
        }

        // ---- business hours for Chicago: Saturday mornings too, and a holiday
        click(b, "[data-nav=hours]").await;
        wait_js(b, "the hours form", "return !!document.querySelector('[data-hours-form]');").await;
        type_into(b, "input[name=timezone]", "America/Chicago").await;
        b.js("const r = document.querySelector('tr[data-day=sat]'); r.querySelector('[data-day-open]').click(); \
              r.querySelector('[data-day-from]').value = '09:00'; r.querySelector('[data-day-to]').value = '12:00'; \
              document.querySelector('[data-holiday-new]').value = '2026-12-25'; return true;").await;
        click(b, "[data-holiday-add]").await;
        click(b, "[data-hours-form] button[type=submit]").await;
        assert_eq!(result(b, "[data-hours-form] [data-result]", "ok").await, "Saved for America/Chicago.");
        // A time zone that is not one: the API's words next to the form.
        type_into(b, "input[name=timezone]", "Mars/Olympus").await;
        click(b, "[data-hours-form] button[type=submit]").await;
        assert!(result(b, "[data-hours-form] [data-result]", "err").await.contains("timezone"));
        b.client.refresh().await.unwrap();
        wait_js(b, "the hours form", "return !!document.querySelector('[data-hours-form]');").await;
        let saved = b.js("return { tz: document.querySelector('input[name=timezone]').value, \
              sat: document.querySelector('tr[data-day=sat] [data-day-open]').checked, \
              from: document.querySelector('tr[data-day=sat] [data-day-from]').value, \
              sun: document.querySelector('tr[data-day=sun] [data-day-open]').checked, \
              holidays: Array.from(document.querySelectorAll('[data-holiday]'), l => l.dataset.holiday) };").await;
        assert_eq!(saved, json!({"tz": "America/Chicago", "sat": true, "from": "09:00", "sun": false, "holidays": ["2026-12-25"]}));
        let status = text(b, "[data-hours-status]").await;
        assert!(status == "Open now" || status.starts_with("Opens "), "{status}");
        shot(b, "hours").await;

        // ---- a template: a misspelt variable is refused naming it, a good one previews
        click(b, "[data-nav=templates]").await;
        wait_js(b, "the template form", "return !!document.querySelector('[data-template-form]');").await;
        type_into(b, "[data-template-form] input[name=name]", "Inspection follow-up").await;
        b.js("document.querySelector('[data-template-form] select[name=channel]').value = 'sms'; \
              document.querySelector('[data-template-form] select[name=channel]').dispatchEvent(new Event('change')); return true;").await;
        type_into(b, "[data-template-form] textarea[name=body]", "Hi {{ lead.frist_name }}").await;
        click(b, "[data-template-form] [data-save]").await;
        let err = result(b, "[data-template-form] .row [data-result]", "err").await;
        assert!(err.contains("frist_name"), "{err}");
        type_into(b, "[data-template-form] textarea[name=body]", "Hi ").await;
        click(b, "[data-var='lead.first_name']").await;
        b.client.find(Locator::Css("[data-template-form] textarea[name=body]")).await.unwrap()
            .send_keys(", this is {{ company.name }}. When suits you for the inspection?").await.unwrap();
        type_into(b, "[data-template-form] input[name=lead_id]", &lead_id.to_string()).await;
        click(b, "[data-template-form] [data-preview]").await;
        let preview = wait_js(b, "the preview", "const p = document.querySelector('[data-preview-box]'); return !p.hidden && document.querySelector('[data-preview-body]').textContent;").await;
        assert_eq!(preview, "Hi Jane, this is Acme Roofing. When suits you for the inspection?");
        click(b, "[data-template-form] [data-save]").await;
        assert_eq!(result(b, "[data-template-form] .row [data-result]", "ok").await, "Saved \"Inspection follow-up\".");
        wait_js(b, "the template listed", "return !!document.querySelector('tr[data-template-id] [data-template-name]');").await;
        assert_eq!(text(b, "tr[data-template-id] [data-template-name]").await, "Inspection follow-up");
        shot(b, "templates").await;

        // ---- turns the ready-made review request on
        click(b, "[data-nav=sequences]").await;
        wait_js(b, "the sequences", "return !!document.querySelector('[data-seq-key=review]');").await;
        assert_eq!(text(b, "[data-seq-key=quote] [data-seq-trigger]").await, "When a lead's stage becomes quoted");
        assert_eq!(text(b, "[data-seq-key=review] [data-seq-name]").await, "Review request");
        assert_eq!(text(b, "[data-seq-key=review] [data-seq-state]").await, "Off");
        click(b, "[data-seq-key=review] label.toggle").await;
        assert!(result(b, "[data-seq-key=review] [data-result]", "ok").await.starts_with("On"));
        b.client.refresh().await.unwrap();
        wait_js(b, "the switch kept", "const c = document.querySelector('[data-seq-key=review] [data-seq-enabled]'); return c && c.checked;").await;
        shot(b, "sequences").await;
        // A new sequence from the editor: a stage trigger and one text a day later.
        click(b, "[data-seq-new]").await;
        type_into(b, "[data-seq-form] input[name=name]", "Inspection thank-you").await;
        b.js("const f = document.querySelector('[data-seq-form]'); f.elements.trigger.value = 'stage'; \
              f.elements.trigger.dispatchEvent(new Event('change')); f.elements.stage.value = 'inspected'; return true;")
            .await;
        type_into(b, "[data-step] [data-f=body]", "Thanks {{ lead.first_name }}, the report follows.").await;
        click(b, "[data-seq-form] button[type=submit]").await;
        assert!(result(b, "[data-seq-form] .actions [data-result]", "ok").await.starts_with("Saved \"Inspection thank-you\""));
        wait_js(b, "the new sequence listed", "return Array.from(document.querySelectorAll('[data-seq-name]')).some(n => n.textContent === 'Inspection thank-you');").await;
        let card = b.js("const c = Array.from(document.querySelectorAll('[data-seq-id]')).find(c => c.querySelector('[data-seq-name]').textContent === 'Inspection thank-you'); \
              return [c.querySelector('[data-seq-trigger]').textContent, c.querySelector('.seq-steps li span').textContent.trim()];").await;
        assert_eq!(card, json!(["When a lead's stage becomes inspected", "After 1 day · Text · only in open hours"]));

        // ---- on the lead's page: enrol in the nurture sequence, see what is next, stop it
        goto(b, &app, &format!("/leads/{lead_id}")).await;
        wait_js(b, "the follow-ups card", "return !!document.querySelector('[data-follow-ups] [data-seq-pick]');").await;
        b.js("const s = document.querySelector('[data-seq-pick]'); \
              s.value = Array.from(s.options).find(o => o.textContent.startsWith('Cold-lead nurture')).value; return true;").await;
        click(b, "[data-seq-enrol]").await;
        wait_js(b, "the enrolment listed", "const e = document.querySelector('[data-enrollment][data-status=active]'); return e && e.textContent.includes('Cold-lead nurture');").await;
        let next = wait_js(b, "what happens next", "const l = document.querySelector('[data-next-steps] [data-action]'); return l && l.textContent;").await;
        let next = next.as_str().unwrap();
        assert!(next.starts_with("Cold-lead nurture") && next.contains("step 1") && next.contains("Storm season"), "{next}");
        shot(b, "lead").await;
        click(b, "[data-seq-stop]").await;
        wait_js(b, "the enrolment stopped", "const e = document.querySelector('[data-enrollment]'); return e && e.dataset.status === 'exited';").await;
        assert!(text(b, "[data-enrollment]").await.contains("stopped by"));
        // Once in a sequence, never again: it is no longer offered.
        assert_eq!(b.js("const s = document.querySelector('[data-seq-pick]'); return !s || !Array.from(s.options).some(o => o.textContent.startsWith('Cold-lead nurture'));").await, true);

        // ---- the reply box fills from the template, written for this lead
        b.js("const s = document.querySelector('[data-reply] [data-use-template]'); s.value = s.options[1].value; \
              s.dispatchEvent(new Event('change')); return true;").await;
        let filled = wait_js(b, "the reply filled", "return document.querySelector('[data-reply] textarea[name=text]').value;").await;
        assert_eq!(filled, "Hi Jane, this is Acme Roofing. When suits you for the inspection?");
    })
    .await;
}

#[tokio::test]
async fn a_member_reads_automations_and_enrols_but_changes_nothing_else() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let (_member, link) = leadline::team::people::create_first(
        &app.pool,
        &app.base,
        AccountId(account.id),
        "mia@acme.test",
        "Mia Member",
        Role::Member,
    )
    .await
    .unwrap();
    let lead = app
        .post(
            &account.key,
            "/api/leads",
            json!({"name": "Robert Fox", "phone": "+13125550102"}),
        )
        .await;
    assert_eq!(lead.status, 201, "{}", lead.body);
    let lead_id = lead.body["id"].as_i64().unwrap();
    let tpl = app
        .post(
            &account.key,
            "/api/templates",
            json!({"name": "Hello", "channel": "sms", "body": "Hi {{ lead.first_name }}, {{ user.first_name }} here."}),
        )
        .await;
    assert_eq!(tpl.status, 201, "{}", tpl.body);

    with_browser("automation-member", async |b: &Browser| {
        b.client.goto(&link).await.unwrap();
        wait_js(b, "the set-password form", "return !!document.querySelector('[data-test=set-password-form]');").await;
        type_into(b, "input[name=password]", OWNER_PASS).await;
        type_into(b, "input[name=password_again]", OWNER_PASS).await;
        click(b, "[data-test=set-password-form] button[type=submit]").await;
        wait_js(b, "the dashboard", "return location.pathname === '/' && !!document.querySelector('[data-nav=sequences]');").await;
        assert_eq!(b.js("return !!document.querySelector('[data-nav=hours]');").await, false, "no hours link");

        // Read-only pages: no switch, no editor, no save.
        goto(b, &app, "/sequences").await;
        wait_js(b, "the sequences", "return !!document.querySelector('[data-seq-key=review]');").await;
        let controls = b.js("return ['[data-seq-enabled]', '[data-seq-edit]', '[data-seq-editor]', '[data-seq-new]'].filter(c => document.querySelector(c));").await;
        assert_eq!(controls, json!([]));
        goto(b, &app, "/templates").await;
        wait_js(b, "the templates", "return !!document.querySelector('tr[data-template-id]');").await;
        let controls = b.js("return ['[data-save]', '[data-template-edit]', '[data-template-delete]'].filter(c => document.querySelector(c));").await;
        assert_eq!(controls, json!([]));
        goto(b, &app, "/settings/hours").await;
        wait_js(b, "the hours", "return !!document.querySelector('[data-hours-form]');").await;
        assert_eq!(b.js("return !document.querySelector('[data-hours-form] button[type=submit]') && document.querySelector('input[name=timezone]').disabled;").await, true);

        // A template for the lead, written by the member; the reply box fills with it.
        goto(b, &app, &format!("/leads/{lead_id}")).await;
        wait_js(b, "the reply box", "return !!document.querySelector('[data-reply] [data-use-template]');").await;
        b.js("const s = document.querySelector('[data-reply] [data-use-template]'); s.value = s.options[1].value; \
              s.dispatchEvent(new Event('change')); return true;").await;
        let filled = wait_js(b, "the reply filled", "return document.querySelector('[data-reply] textarea[name=text]').value;").await;
        assert_eq!(filled, "Hi Robert, Mia here.");
        // Members may enrol.
        b.js("const s = document.querySelector('[data-seq-pick]'); \
              s.value = Array.from(s.options).find(o => o.textContent.startsWith('Quote follow-up')).value; return true;").await;
        click(b, "[data-seq-enrol]").await;
        wait_js(b, "the enrolment listed", "const e = document.querySelector('[data-enrollment][data-status=active]'); return e && e.textContent.includes('Quote follow-up');").await;
        shot(b, "member-lead").await;
    })
    .await;
}
