//! The team in a real browser (headless Chromium, the harness of `tests/browser_support`):
//! an owner made on the command line opens their link and sets a password, invites a
//! member from the Team page (no mailbox connected, so the link is shown to pass on),
//! the member joins and sees no admin controls, changes their password; the owner signs
//! in with email and password, reads the audit log, filters leads by assignee, sets up
//! two-factor (the QR code and the recovery codes), requires it for everyone, and signs
//! in again with a code; the member is then held on the security page until they set it up.
//!
//! Pages are saved as `target/screenshots/team-<page>.png`.

mod browser_support;
mod common;

use browser_support::{
    click, screenshot_dir, text, type_into, wait_js, wait_path, with_browser, Browser,
};
use common::{spawn_app, TestApp};
use leadline::auth::Role;
use leadline::domain::AccountId;
use serde_json::{json, Value};

const OWNER_EMAIL: &str = "olivia@acme.test";
const OWNER_PASS: &str = "shingles-and-gutters-1";
const MEMBER_EMAIL: &str = "mia@acme.test";
const MEMBER_PASS: &str = "flashing-and-vents-22";
const MEMBER_PASS_2: &str = "ridge-cap-and-soffit-333";

async fn goto(b: &Browser, app: &TestApp, path: &str) {
    b.client.goto(&format!("{}{path}", app.base)).await.unwrap();
}

/// Whether the page has an element matching `css`.
async fn has(b: &Browser, css: &str) -> bool {
    let css = serde_json::to_string(css).unwrap();
    b.js(&format!("return !!document.querySelector({css});"))
        .await
        .as_bool()
        .unwrap_or(false)
}

async fn shot(b: &Browser, name: &str) {
    b.screenshot(&screenshot_dir().join(format!("team-{name}.png")))
        .await;
}

/// Opens an invitation link, chooses the password and lands on the dashboard.
async fn accept(b: &Browser, link: &str, password: &str) {
    b.client.goto(link).await.unwrap();
    wait_js(
        b,
        "the set-password form",
        "return !!document.querySelector('[data-test=set-password-form]');",
    )
    .await;
    type_into(b, "input[name=password]", password).await;
    type_into(b, "input[name=password_again]", password).await;
    click(b, "[data-test=set-password-form] button[type=submit]").await;
    wait_path(b, "/").await;
}

async fn sign_out(b: &Browser) {
    click(b, "[data-test=sign-out]").await;
    wait_path(b, "/login").await;
}

/// Signs in with email and password from the sign-in page.
async fn sign_in(b: &Browser, app: &TestApp, email: &str, password: &str) {
    goto(b, app, "/login").await;
    wait_js(
        b,
        "the sign-in form",
        "return !!document.querySelector('input[name=email]');",
    )
    .await;
    type_into(b, "input[name=email]", email).await;
    type_into(b, "input[name=password]", password).await;
    click(b, "[data-test=password-form] button[type=submit]").await;
}

/// The 6-digit code of `secret` (base32, as the page shows it) at `unix` seconds.
fn totp_code(secret_b32: &str, unix: u64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret_b32.replace(' ', ""))
        .to_bytes()
        .expect("base32 secret");
    totp_rs::TOTP::new(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        "test".into(),
    )
    .unwrap()
    .generate(unix)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn an_owner_builds_the_team_and_turns_on_two_factor() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    let (owner, owner_link) = leadline::team::people::create_first(
        &app.pool,
        &app.base,
        AccountId(account.id),
        OWNER_EMAIL,
        "Olivia Owner",
        Role::Owner,
    )
    .await
    .unwrap();
    // Two leads: one the owner's, one nobody's.
    let mut leads = vec![];
    for (name, email) in [
        ("Jane Cooper", "jane@example.com"),
        ("Robert Fox", "robert@example.com"),
    ] {
        let r = app
            .post(
                &account.key,
                "/api/leads",
                json!({"name": name, "email": email}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        leads.push(r.body["id"].as_i64().unwrap());
    }
    sqlx::query("update leads set assigned_user_id = $1 where id = $2")
        .bind(owner.id)
        .bind(leads[0])
        .execute(&app.pool)
        .await
        .unwrap();

    with_browser("team", async |b: &Browser| {
        // ---- the owner joins through the command line's link
        accept(b, &owner_link, OWNER_PASS).await;
        assert_eq!(text(b, "[data-who]").await, "Olivia Owner");
        assert_eq!(text(b, "[data-who-role]").await, "owner");
        for nav in ["team", "audit", "account"] {
            assert!(has(b, &format!("[data-nav={nav}]")).await, "{nav} link");
        }

        // ---- invites a member: no mailbox is connected, so the link is shown
        click(b, "[data-nav=team]").await;
        wait_path(b, "/team").await;
        assert!(has(b, "[data-invite-form] select[name=role] option[value=owner]").await);
        type_into(b, "[data-invite-form] input[name=email]", MEMBER_EMAIL).await;
        type_into(b, "[data-invite-form] input[name=name]", "Mia Member").await;
        click(b, "[data-invite-form] button[type=submit]").await;
        wait_js(
            b,
            "the invitation link",
            "const b = document.querySelector('[data-invite] [data-link-box]'); return b && !b.hidden;",
        )
        .await;
        assert_eq!(
            text(b, "[data-invite] [data-link-text]").await,
            format!(
                "No mailbox is connected, so we could not email this invitation: send this link \
                 to {MEMBER_EMAIL} yourself. It works once, for 72 hours."
            )
        );
        let member_link = text(b, "[data-invite] [data-link-value]").await;
        assert!(
            member_link.starts_with(&format!("{}/password/", app.base)),
            "{member_link}"
        );
        assert!(has(b, "tr[data-status=invited]").await);
        shot(b, "team-owner").await;
        sign_out(b).await;

        // ---- the member joins and sees no admin controls
        accept(b, &member_link, MEMBER_PASS).await;
        assert_eq!(text(b, "[data-who]").await, "Mia Member");
        assert_eq!(text(b, "[data-who-role]").await, "member");
        assert!(!has(b, "[data-nav=team]").await, "members see no Team link");
        assert!(!has(b, "[data-nav=audit]").await, "members see no Audit link");
        assert!(has(b, "[data-nav=account]").await);
        goto(b, &app, "/team").await;
        wait_js(b, "the team list", "return document.querySelectorAll('tr[data-user-id]').length === 2;").await;
        for admin_only in [
            "[data-invite-form]",
            "[data-user-role]",
            "[data-user-toggle]",
            "[data-user-link]",
            "[data-assignment-form]",
            "[data-require-totp]",
        ] {
            assert!(!has(b, admin_only).await, "a member sees {admin_only}");
        }
        goto(b, &app, "/integrations").await;
        wait_js(b, "the integrations page", "return !!document.querySelector('[data-test=read-only]');").await;
        for admin_only in ["[data-email-form]", "[data-sms-form]", "[data-new-site-form]", "[data-key-form]"] {
            assert!(!has(b, admin_only).await, "a member sees {admin_only}");
        }
        goto(b, &app, "/audit").await;
        wait_js(b, "the refusal", "return document.title.includes('Admins and owners only');").await;
        // Mine: nothing is the member's yet.
        goto(b, &app, "/leads?assigned=mine").await;
        wait_js(b, "the empty list", "return !!document.querySelector('td.empty');").await;

        // ---- the member changes their password: every session ends, this one too
        goto(b, &app, "/account/security").await;
        wait_js(b, "the password form", "return !!document.querySelector('[data-password-form]');").await;
        type_into(b, "[data-password-form] input[name=current_password]", MEMBER_PASS).await;
        type_into(b, "[data-password-form] input[name=new_password]", MEMBER_PASS_2).await;
        type_into(b, "[data-password-form] input[name=new_password_again]", MEMBER_PASS_2).await;
        click(b, "[data-password-form] button[type=submit]").await;
        wait_path(b, "/login").await;

        // ---- the owner signs in with email and password and reads the audit log
        sign_in(b, &app, OWNER_EMAIL, OWNER_PASS).await;
        wait_path(b, "/").await;
        click(b, "[data-nav=audit]").await;
        wait_path(b, "/audit").await;
        let actions = b
            .js("return Array.from(document.querySelectorAll('tr[data-action]')).map((r) => r.getAttribute('data-action'));")
            .await;
        let actions: Vec<&str> = actions.as_array().unwrap().iter().filter_map(Value::as_str).collect();
        for a in ["user.invited", "sign_in.ok", "user.password_changed"] {
            assert!(actions.contains(&a), "{a} in {actions:?}");
        }
        // Newest first: this very sign-in.
        assert_eq!(actions.first(), Some(&"sign_in.ok"), "{actions:?}");
        let row = text(b, "tr[data-action='user.invited']").await;
        assert!(row.contains(MEMBER_EMAIL) && row.contains(OWNER_EMAIL), "{row}");
        shot(b, "audit").await;
        goto(b, &app, "/audit?action=user.").await;
        wait_js(b, "the filtered log", "return document.querySelectorAll('tr[data-action]').length > 0 && Array.from(document.querySelectorAll('tr[data-action]')).every((r) => r.getAttribute('data-action').startsWith('user.'));").await;

        // ---- leads by assignee
        goto(b, &app, "/leads").await;
        click(b, "[data-assigned-tab=mine]").await;
        wait_path(b, "/leads?assigned=mine").await;
        let ids = b.js("return Array.from(document.querySelectorAll('tr[data-lead-id]')).map((r) => Number(r.getAttribute('data-lead-id')));").await;
        assert_eq!(ids, json!([leads[0]]));
        assert_eq!(text(b, "tr[data-lead-id] [data-assigned]").await, "Olivia Owner");
        click(b, "[data-assigned-tab=unassigned]").await;
        wait_path(b, "/leads?assigned=unassigned").await;
        let ids = b.js("return Array.from(document.querySelectorAll('tr[data-lead-id]')).map((r) => Number(r.getAttribute('data-lead-id')));").await;
        assert_eq!(ids, json!([leads[1]]));
        // The lead page offers the team (and nobody).
        goto(b, &app, &format!("/leads/{}", leads[0])).await;
        let opts = wait_js(b, "the assignee select", "const s = document.querySelector('[data-lead-assign]'); return s && Array.from(s.options).map((o) => o.textContent);").await;
        assert_eq!(opts, json!(["Nobody", "Olivia Owner", "Mia Member"]));
        assert_eq!(b.js("return document.querySelector('[data-lead-assign]').value;").await, json!(owner.id.to_string()));

        // ---- two-factor: the QR code (as SVG), the key, a first code, the recovery codes
        click(b, "[data-nav=account]").await;
        wait_path(b, "/account/security").await;
        click(b, "[data-totp-start]").await;
        let secret = wait_js(b, "the two-factor key", "const s = document.querySelector('[data-totp-secret]'); return s && s.textContent.trim();").await;
        let secret = secret.as_str().unwrap().to_string();
        assert!(b.js("return document.querySelector('[data-totp-qr] svg') instanceof SVGSVGElement;").await == json!(true), "the QR code is an SVG element");
        shot(b, "totp-setup").await;
        type_into(b, "[data-totp-confirm] input[name=code]", &totp_code(&secret, now())).await;
        click(b, "[data-totp-confirm] button[type=submit]").await;
        let codes = wait_js(b, "the recovery codes", "const b = document.querySelector('[data-recovery]'); return b && !b.hidden && document.querySelector('[data-recovery-codes]').textContent;").await;
        assert_eq!(codes.as_str().unwrap().lines().count(), 10, "{codes}");
        assert!(text(b, "[data-recovery]").await.contains("Save these now"));
        assert_eq!(text(b, "[data-totp-state]").await, "on");

        // ---- required for everyone (owners only)
        goto(b, &app, "/team").await;
        wait_js(b, "the security setting", "return !!document.querySelector('[data-require-totp]');").await;
        click(b, "[data-security-settings] label.toggle").await;
        wait_js(b, "the setting saved", "const r = document.querySelector('[data-security-settings] [data-result]'); return r && r.classList.contains('ok');").await;
        let required: bool = sqlx::query_scalar("select require_totp from accounts where id = $1")
            .bind(account.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
        assert!(required);
        sign_out(b).await;

        // ---- the owner signs in again: password, then a code (a later step than the last)
        sign_in(b, &app, OWNER_EMAIL, OWNER_PASS).await;
        wait_path(b, "/login/code").await;
        type_into(b, "input[name=code]", &totp_code(&secret, now() + 30)).await;
        click(b, "form[action='/login/code'] button[type=submit]").await;
        wait_path(b, "/").await;
        assert_eq!(text(b, "[data-who]").await, "Olivia Owner");
        sign_out(b).await;

        // ---- the member, without two-factor, is held on the security page
        sign_in(b, &app, MEMBER_EMAIL, MEMBER_PASS_2).await;
        wait_path(b, "/account/security").await;
        assert_eq!(
            text(b, "[data-test=enrol-banner]").await,
            "Your company requires two-factor sign-in: set it up to continue."
        );
        goto(b, &app, "/leads").await;
        wait_path(b, "/account/security").await;
        shot(b, "enrol").await;
    })
    .await;
}

#[tokio::test]
async fn a_key_session_has_no_personal_account() {
    let app = spawn_app().await;
    let account = app.account("Acme Roofing").await;
    with_browser("team-key", async |b: &Browser| {
        goto(b, &app, "/login/key").await;
        wait_js(
            b,
            "the API-key form",
            "return !!document.querySelector('input[name=api_key]');",
        )
        .await;
        type_into(b, "input[name=api_key]", &account.key).await;
        click(b, "form[action='/login'] button[type=submit]").await;
        wait_path(b, "/").await;
        assert_eq!(text(b, "[data-who]").await, "API key");
        // A key acts as an admin: Team and Audit, but no personal account.
        assert!(has(b, "[data-nav=team]").await && has(b, "[data-nav=audit]").await);
        assert!(!has(b, "[data-nav=account]").await);
        goto(b, &app, "/account/security").await;
        assert_eq!(
            text(b, "[data-test=key-session]").await,
            "You are signed in with an API key; there is no personal account."
        );
        goto(b, &app, "/team").await;
        wait_js(
            b,
            "the invite form",
            "return !!document.querySelector('[data-invite-form]');",
        )
        .await;
        // Admins (and keys) may not make owners.
        assert!(
            !has(
                b,
                "[data-invite-form] select[name=role] option[value=owner]"
            )
            .await
        );
    })
    .await;
}
