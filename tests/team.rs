//! Team sign-in through HTTP: the first owner's setup link, email + password sign-in (and
//! what it does not reveal), throttling, invitations and resets (handed over or mailed
//! through the account's own mailbox), two-factor with recovery codes, roles enforced by
//! the API, round-robin assignment under concurrency, sessions that end, the audit log,
//! and tenancy. reqwest has no cookie store here: cookies are carried by hand.

mod common;
#[path = "mail_support/mod.rs"]
mod mail_support;
#[path = "web_support/mod.rs"]
mod web_support;

use std::time::{Duration, Instant};

use common::{spawn_app, spawn_app_with, Account, TestApp};
use leadline::auth::Role;
use reqwest::header::{COOKIE, LOCATION, RETRY_AFTER};
use serde_json::{json, Value};
use web_support::*;

async fn audit_actions(app: &TestApp, account: i64) -> Vec<String> {
    sqlx::query_scalar("select action from audit_log where account_id = $1 order by id")
        .bind(account)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_first_owner_sets_a_password_through_a_single_use_link_then_signs_in_and_out() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let (user, link) = leadline::team::people::create_first(
        &app.pool,
        &app.base,
        leadline::domain::AccountId(a.id),
        "Owner@Acme.test",
        "Olivia",
        Role::Owner,
    )
    .await
    .unwrap();
    assert_eq!(user.email, "owner@acme.test", "lower-cased");
    assert!(!user.password_set);
    assert!(
        link.starts_with(&format!("{}/password/", app.base)),
        "{link}"
    );
    // Before a password is set, nobody signs in as this user.
    assert_eq!(
        post_sign_in(&app, &client(), "owner@acme.test", PASSWORD)
            .await
            .status(),
        401
    );

    // A weak password or two different ones: refused, and the link still works.
    let weak = use_link(&app, &link, "Olivia", "short").await;
    assert_eq!(weak.status(), 422);
    assert!(weak.text().await.unwrap().contains("at least 10"));
    let res = use_link(&app, &link, "Olivia O.", PASSWORD).await;
    let owner = web_of(&app, client(), res).await;
    let me = owner.get("/api/me").await;
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["user"]["name"], "Olivia O.");
    assert_eq!(me.body["user"]["password_set"], true);

    // Used once: the link is gone.
    let http = client();
    let again = http.get(&link).send().await.unwrap();
    assert_eq!(again.status(), 404);
    assert!(again.text().await.unwrap().contains("no longer works"));

    // Sign out ends the session; sign in again with email and password.
    let out = owner
        .http
        .post(format!("{}/logout", app.base))
        .header(COOKIE, &owner.cookie)
        .form(&[("csrf_token", owner.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(owner.get("/api/me").await.status, 401);
    let back = sign_in(&app, "OWNER@acme.test ", PASSWORD).await;
    assert_eq!(back.get("/api/leads").await.status, 200);
    let actions = audit_actions(&app, a.id).await;
    for wanted in [
        "user.invited",
        "user.password_set",
        "sign_in.ok",
        "sign_out",
    ] {
        assert!(
            actions.iter().any(|x| x == wanted),
            "{wanted} in {actions:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_answer_in_the_same_time() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    person(&app, a.id, "sam@acme.test", Role::Owner).await;
    let body = |html: String| {
        // The page minus its fresh form token.
        let start = html.find("name=\"csrf_token\" value=\"").unwrap();
        format!("{}{}", &html[..start], &html[start + 70..])
    };
    let mut wrong = Vec::new();
    let mut unknown = Vec::new();
    let mut pages = Vec::new();
    for i in 0..4 {
        for (email, times) in [
            ("sam@acme.test", &mut wrong),
            (&*format!("nobody{i}@acme.test"), &mut unknown),
        ] {
            let http = client();
            let t = Instant::now();
            let res = post_sign_in(&app, &http, email, "not-the-password-1").await;
            times.push(t.elapsed());
            assert_eq!(res.status(), 401);
            let html = res.text().await.unwrap();
            pages.push(body(html.replace(email, "EMAIL")));
        }
    }
    assert!(
        pages.windows(2).all(|w| w[0] == w[1]),
        "the same page for both"
    );
    assert!(pages[0].contains("do not match an active user"));
    wrong.sort();
    unknown.sort();
    let (w, u) = (wrong[2].as_secs_f64(), unknown[2].as_secs_f64());
    assert!(
        w / u < 2.0 && u / w < 2.0,
        "median wrong password {w:.3}s vs unknown email {u:.3}s"
    );
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_and_work_again_after_the_back_off() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    person(&app, a.id, "sam@acme.test", Role::Owner).await;
    for _ in 0..leadline::throttle::FREE_FAILURES {
        assert_eq!(
            post_sign_in(&app, &client(), "sam@acme.test", "wrong-password-00")
                .await
                .status(),
            401
        );
    }
    let blocked = post_sign_in(&app, &client(), "sam@acme.test", "wrong-password-00").await;
    assert_eq!(blocked.status(), 429);
    let wait: u64 = blocked.headers()[RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=4).contains(&wait), "{wait}");
    // While blocked even the right password waits.
    assert_eq!(
        post_sign_in(&app, &client(), "sam@acme.test", PASSWORD)
            .await
            .status(),
        429
    );
    tokio::time::sleep(Duration::from_secs(wait + 1)).await;
    sign_in(&app, "sam@acme.test", PASSWORD).await;
}

#[tokio::test]
async fn an_invitation_link_without_a_mailbox_is_handed_to_the_admin_works_once_and_expires() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let owner = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let r = owner
        .post(
            "/api/users/invitations",
            json!({"email": "Mia@Acme.test", "name": "Mia", "role": "member"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["emailed"], false);
    assert_eq!(r.body["user"]["role"], "member");
    let link = r.body["link"].as_str().unwrap().to_string();
    // Inviting the same person again: a new link, the old one stops working.
    let again = owner
        .post(
            "/api/users/invitations",
            json!({"email": "mia@acme.test", "role": "member"}),
        )
        .await;
    assert_eq!(again.status, 201);
    let link2 = again.body["link"].as_str().unwrap().to_string();
    assert_eq!(client().get(&link).send().await.unwrap().status(), 404);
    let mia = web_of(
        &app,
        client(),
        use_link(&app, &link2, "Mia", PASSWORD).await,
    )
    .await;
    assert_eq!(mia.get("/api/me").await.body["role"], "member");
    assert_eq!(
        client().get(&link2).send().await.unwrap().status(),
        404,
        "single use"
    );
    // A user who exists with a password cannot be invited again.
    let dup = owner
        .post(
            "/api/users/invitations",
            json!({"email": "mia@acme.test", "role": "admin"}),
        )
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.error_code(), "user_exists");

    // An expired link is refused (72 hours).
    let r = owner
        .post(
            "/api/users/invitations",
            json!({"email": "late@acme.test", "role": "member"}),
        )
        .await;
    let late = r.body["link"].as_str().unwrap().to_string();
    let hours: f64 = sqlx::query_scalar(
        "select extract(epoch from expires_at - created_at)::float8 / 3600 from user_tokens where purpose = 'invite' order by id desc limit 1",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!((hours - 72.0).abs() < 0.01, "{hours}");
    sqlx::query(
        "update user_tokens set expires_at = now() - interval '1 second' where used_at is null",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    assert_eq!(client().get(&late).send().await.unwrap().status(), 404);
    // Only the token's hash is stored.
    let token = late.rsplit('/').next().unwrap();
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from user_tokens where encode(token_hash, 'escape') like '%' || $1 || '%'",
    )
    .bind(token)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn invitations_and_resets_are_mailed_through_the_accounts_own_mailbox() {
    let srv = mail_support::servers();
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let mailbox = srv.new_user();
    let connect = app
        .post(
            &a.key,
            "/api/integrations/email/connect",
            json!({"email": format!("{mailbox}@acme.test"), "username": mailbox, "password": mail_support::PASSWORD,
                   "imap_server": "127.0.0.1", "imap_port": srv.imap_port, "imap_security": "none",
                   "smtp_server": "127.0.0.1", "smtp_port": srv.smtp_port, "smtp_security": "none",
                   "folders": ["INBOX"], "auto_respond": false}),
        )
        .await;
    assert_eq!(connect.status, 200, "{}", connect.body);
    let invitee = format!("{}@crew.test", srv.new_user());
    let r = app
        .post(
            &a.key,
            "/api/users/invitations",
            json!({"email": invitee, "role": "admin"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["emailed"], true);
    assert!(r.body["link"].is_null(), "the link goes to the person only");
    leadline::scheduler::drain_outbox_once(&app.state)
        .await
        .unwrap();
    let mails = srv.received_containing(&format!("To: {invitee}"));
    assert_eq!(mails.len(), 1);
    let mail = mails[0].replace("=\r\n", "");
    let start = mail
        .find(&format!("{}/password/", app.base))
        .expect("link in the mail");
    let link: String = mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    // Mail to the team is not a lead's conversation.
    let recorded: i64 = sqlx::query_scalar("select count(*) from communications")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 0);
    let res = use_link(&app, &link, "Ada", PASSWORD).await;
    let first = web_of(&app, client(), res).await;

    // Forgot password: the same answer for anyone, a reset link mailed to the user.
    let http = client();
    for email in [invitee.as_str(), "stranger@nowhere.test"] {
        let (cookie, csrf, _) = form(&app, &http, "/login/forgot").await;
        let res = http
            .post(format!("{}/login/forgot", app.base))
            .header(COOKIE, cookie)
            .form(&[("email", email), ("csrf_token", &csrf)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert!(res
            .text()
            .await
            .unwrap()
            .contains("If that address belongs to a Leadline user"));
    }
    leadline::scheduler::drain_outbox_once(&app.state)
        .await
        .unwrap();
    let mails = srv.received_containing("Reset your Leadline password");
    let reset = mails
        .iter()
        .find(|m| m.contains(&invitee))
        .expect("reset mail")
        .replace("=\r\n", "");
    let start = reset.find(&format!("{}/password/", app.base)).unwrap();
    let link: String = reset[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect();
    let new_password = "a-new-roof-every-20-years";
    let res = use_link(&app, &link, "", new_password).await;
    assert_eq!(res.status(), 303);
    // The reset ended the earlier session; only the new password works.
    assert_eq!(first.get("/api/me").await.status, 401);
    assert_eq!(
        post_sign_in(&app, &client(), &invitee, PASSWORD)
            .await
            .status(),
        401
    );
    sign_in(&app, &invitee, new_password).await;
}

fn totp_code(secret_base32: &str, at: u64) -> String {
    let secret = totp_rs::Secret::Encoded(secret_base32.to_string())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, secret, None, "x".into())
        .unwrap()
        .generate(at)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Password step of a two-factor user: the challenge cookie for the code step.
async fn password_step(app: &TestApp, http: &reqwest::Client, email: &str) -> String {
    let res = post_sign_in(app, http, email, PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()[LOCATION]
        .to_str()
        .unwrap()
        .starts_with("/login/code"));
    assert!(
        cookie_of(&res, "leadline_session").is_none(),
        "no session before the code"
    );
    cookie_of(&res, "leadline_challenge").expect("challenge cookie")
}

async fn code_step(
    app: &TestApp,
    http: &reqwest::Client,
    challenge: &str,
    code: &str,
) -> reqwest::Response {
    let res = http
        .get(format!("{}/login/code", app.base))
        .header(COOKIE, challenge)
        .send()
        .await
        .unwrap();
    let login = cookie_of(&res, "leadline_login").unwrap();
    let csrf = hidden(&res.text().await.unwrap(), "csrf_token");
    http.post(format!("{}/login/code", app.base))
        .header(COOKIE, format!("{challenge}; {login}"))
        .form(&[("code", code), ("csrf_token", &csrf), ("next", "/")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_factor_enrolment_sign_in_with_a_code_and_with_a_single_use_recovery_code() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let sam = person(&app, a.id, "sam@acme.test", Role::Owner).await;
    let setup = sam.post("/api/me/totp", json!({})).await;
    assert_eq!(setup.status, 201, "{}", setup.body);
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    assert!(setup.body["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    assert!(setup.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let wrong = sam
        .post("/api/me/totp/confirm", json!({"code": "000000"}))
        .await;
    assert_eq!(wrong.status, 422);
    let ok = sam
        .post(
            "/api/me/totp/confirm",
            json!({"code": totp_code(&secret, now())}),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let codes: Vec<String> = serde_json::from_value(ok.body["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    let stored: Option<Vec<u8>> =
        sqlx::query_scalar("select totp_secret from users where email = 'sam@acme.test'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(
        !String::from_utf8_lossy(&stored.unwrap()).contains(&secret),
        "sealed, not plain"
    );

    // Password, then a wrong code, then the next step's code (the confirmed one is spent).
    let http = client();
    let challenge = password_step(&app, &http, "sam@acme.test").await;
    assert_eq!(
        code_step(&app, &http, &challenge, "123456").await.status(),
        401
    );
    let res = code_step(&app, &http, &challenge, &totp_code(&secret, now() + 30)).await;
    web_of(&app, http, res).await;

    // A recovery code works once.
    let http = client();
    let challenge = password_step(&app, &http, "sam@acme.test").await;
    let res = code_step(&app, &http, &challenge, &codes[3].to_uppercase()).await;
    web_of(&app, http, res).await;
    let http = client();
    let challenge = password_step(&app, &http, "sam@acme.test").await;
    assert_eq!(
        code_step(&app, &http, &challenge, &codes[3]).await.status(),
        401
    );
    let actions = audit_actions(&app, a.id).await;
    assert!(actions.iter().any(|x| x == "user.totp_enabled"));
    let methods: Vec<String> = sqlx::query_scalar(
        "select details->>'method' from audit_log where action = 'sign_in.ok' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert!(
        methods.contains(&"totp".to_string()) && methods.contains(&"recovery_code".to_string()),
        "{methods:?}"
    );
}

#[tokio::test]
async fn an_owner_can_require_two_factor_and_a_user_without_it_must_set_it_up_first() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let owner = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let admin = person(&app, a.id, "adam@acme.test", Role::Admin).await;
    let refused = admin
        .put("/api/settings/security", json!({"require_totp": true}))
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.error_message().contains("owner role"),
        "{}",
        refused.body
    );
    assert_eq!(
        owner
            .put("/api/settings/security", json!({"require_totp": true}))
            .await
            .status,
        200
    );
    // Adam's session now reaches only the two-factor set-up.
    assert_eq!(admin.get("/api/leads").await.status, 403);
    let page = admin
        .http
        .get(format!("{}/leads", app.base))
        .header(COOKIE, &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[LOCATION], "/account/security");
    let setup = admin.post("/api/me/totp", json!({})).await;
    assert_eq!(setup.status, 201);
    let code = totp_code(setup.body["secret"].as_str().unwrap(), now());
    assert_eq!(
        admin
            .post("/api/me/totp/confirm", json!({"code": code}))
            .await
            .status,
        200
    );
    assert_eq!(admin.get("/api/leads").await.status, 200);
}

#[tokio::test]
async fn each_role_is_allowed_what_it_may_and_refused_the_rest_with_403() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let owner = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let admin = person(&app, a.id, "adam@acme.test", Role::Admin).await;
    let member = person(&app, a.id, "mia@acme.test", Role::Member).await;
    let lead = app
        .post(
            &a.key,
            "/api/leads",
            json!({"name": "Pat", "email": "pat@home.test"}),
        )
        .await;
    let lead_id = lead.body["id"].as_i64().unwrap();

    // Members read and answer leads.
    assert_eq!(member.get("/api/leads").await.status, 200);
    assert_eq!(
        member
            .patch(
                &format!("/api/leads/{lead_id}"),
                json!({"status": "contacted"})
            )
            .await
            .status,
        200
    );
    let logged = member
        .post("/api/communications/log", json!({"lead_id": lead_id, "type": "phone_call", "direction": "outbound", "content": "Called back"}))
        .await;
    assert_eq!(logged.status, 201, "{}", logged.body);
    assert_eq!(member.get("/api/users").await.status, 200);
    // …and manage nothing.
    for (method, path, body) in [
        ("POST", "/api/keys", json!({"name": "zap"})),
        ("GET", "/api/keys", Value::Null),
        (
            "POST",
            "/api/integrations/chat/sites",
            json!({"name": "Site", "allowed_origins": ["https://acme.test"]}),
        ),
        ("PUT", "/api/settings/company", json!({"company_name": "X"})),
        (
            "POST",
            "/api/users/invitations",
            json!({"email": "x@acme.test", "role": "member"}),
        ),
        ("PATCH", "/api/users/1", json!({"role": "admin"})),
        ("GET", "/api/audit", Value::Null),
        ("PUT", "/api/settings/assignment", json!({"rule": "nobody"})),
        ("DELETE", "/api/integrations/email/disconnect", Value::Null),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = member
            .call(m, path, (!body.is_null()).then_some(body))
            .await;
        assert_eq!(r.status, 403, "{method} {path}: {}", r.body);
        assert_eq!(r.error_code(), "forbidden");
        assert!(
            r.error_message()
                .contains("admin or owner role; you are a member"),
            "{}",
            r.body
        );
    }
    // Admins manage keys, integrations and members, but not owners.
    assert_eq!(
        admin.post("/api/keys", json!({"name": "zap"})).await.status,
        201
    );
    assert_eq!(admin.get("/api/audit").await.status, 200);
    let owner_invite = admin
        .post(
            "/api/users/invitations",
            json!({"email": "boss@acme.test", "role": "owner"}),
        )
        .await;
    assert_eq!(owner_invite.status, 403);
    let mia = user_id(&app, "mia@acme.test").await;
    let olivia = user_id(&app, "olivia@acme.test").await;
    assert_eq!(
        admin
            .patch(&format!("/api/users/{mia}"), json!({"role": "admin"}))
            .await
            .status,
        200
    );
    assert_eq!(
        admin
            .patch(&format!("/api/users/{olivia}"), json!({"disabled": true}))
            .await
            .status,
        403
    );
    // Owners do it all, but never leave the account without an owner.
    let own = owner
        .patch(&format!("/api/users/{olivia}"), json!({"role": "member"}))
        .await;
    assert_eq!(own.status, 403, "own role");
    let adam = user_id(&app, "adam@acme.test").await;
    assert_eq!(
        owner
            .patch(&format!("/api/users/{adam}"), json!({"role": "owner"}))
            .await
            .status,
        200
    );
    assert_eq!(
        owner
            .put("/api/settings/security", json!({"require_totp": false}))
            .await
            .status,
        200
    );
    let actions = audit_actions(&app, a.id).await;
    assert!(
        actions.iter().filter(|x| *x == "user.role_changed").count() >= 2,
        "{actions:?}"
    );
    assert!(actions.iter().any(|x| x == "key.created"));
}

#[tokio::test]
async fn round_robin_hands_30_concurrent_new_leads_to_3_members_10_each() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let owner = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let mut members = Vec::new();
    for name in ["ann", "bob", "cy"] {
        person(&app, a.id, &format!("{name}@acme.test"), Role::Member).await;
        members.push(user_id(&app, &format!("{name}@acme.test")).await);
    }
    let set = owner
        .put(
            "/api/settings/assignment",
            json!({"rule": "round_robin", "member_ids": members}),
        )
        .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["rule"], "round_robin");
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..30 {
        let app = app.clone();
        let key = a.key.clone();
        tasks.push(tokio::spawn(async move {
            // New leads through the recording path (the batched writer) and the lead API.
            let r = if i % 2 == 0 {
                app.log(
                    &key,
                    json!({"type": "sms", "direction": "inbound", "content": "Need a roof quote",
                                      "from_address": format!("+1512555{:04}", 1000 + i)}),
                )
                .await
            } else {
                app.post(
                    &key,
                    "/api/leads",
                    json!({"name": format!("Lead {i}"), "email": format!("l{i}@home.test")}),
                )
                .await
            };
            assert_eq!(r.status, 201, "{}", r.body);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let counts: Vec<(Option<i64>, i64)> = sqlx::query_as(
        "select assigned_user_id, count(*) from leads where account_id = $1 group by 1 order by 1",
    )
    .bind(a.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        counts,
        members.iter().map(|m| (Some(*m), 10)).collect::<Vec<_>>()
    );

    // Lists: mine and unassigned; reassigning is audited.
    let ann = sign_in(&app, "ann@acme.test", PASSWORD).await;
    let mine = ann.get("/api/leads?assigned=me&limit=200").await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 10);
    assert!(mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|l| l["assigned_user_id"] == members[0]));
    let lead = mine.body["items"][0]["id"].as_i64().unwrap();
    let r = ann
        .patch(
            &format!("/api/leads/{lead}"),
            json!({"assigned_user_id": null}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["assigned_user_id"].is_null());
    let unassigned = app.get(&a.key, "/api/leads?assigned=unassigned").await;
    assert_eq!(unassigned.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&a.key, "/api/leads?assigned=me").await.status,
        422,
        "an API key is nobody"
    );
    let r = owner
        .patch(
            &format!("/api/leads/{lead}"),
            json!({"assigned_user_id": members[2]}),
        )
        .await;
    assert_eq!(r.body["assigned_user_id"], members[2]);
    let details: Vec<Value> = sqlx::query_scalar(
        "select details from audit_log where action = 'lead.assigned' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        details,
        vec![
            json!({"from": members[0], "to": null}),
            json!({"from": null, "to": members[2]})
        ]
    );
    // "One person" rule.
    owner
        .put(
            "/api/settings/assignment",
            json!({"rule": "one", "user_id": members[1]}),
        )
        .await;
    let r = app
        .post(&a.key, "/api/leads", json!({"name": "Solo"}))
        .await;
    assert_eq!(r.body["assigned_user_id"], members[1]);
}

#[tokio::test]
async fn sessions_end_when_a_user_is_disabled_or_changes_password() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let owner = person(&app, a.id, "olivia@acme.test", Role::Owner).await;
    let mia_web = person(&app, a.id, "mia@acme.test", Role::Member).await;
    let mia = user_id(&app, "mia@acme.test").await;
    assert_eq!(
        owner
            .patch(&format!("/api/users/{mia}"), json!({"disabled": true}))
            .await
            .status,
        200
    );
    assert_eq!(mia_web.get("/api/leads").await.status, 401);
    assert_eq!(
        post_sign_in(&app, &client(), "mia@acme.test", PASSWORD)
            .await
            .status(),
        401,
        "disabled"
    );
    assert_eq!(
        owner
            .patch(&format!("/api/users/{mia}"), json!({"disabled": false}))
            .await
            .status,
        200
    );
    let mia_web = sign_in(&app, "mia@acme.test", PASSWORD).await;
    let other_browser = sign_in(&app, "mia@acme.test", PASSWORD).await;
    let wrong = mia_web
        .put(
            "/api/me/password",
            json!({"current_password": "nope-nope-nope", "new_password": "brand-new-shingles"}),
        )
        .await;
    assert_eq!(wrong.status, 422);
    let changed = mia_web
        .put(
            "/api/me/password",
            json!({"current_password": PASSWORD, "new_password": "brand-new-shingles"}),
        )
        .await;
    assert_eq!(changed.status, 204, "{}", changed.body);
    assert_eq!(mia_web.get("/api/leads").await.status, 401);
    assert_eq!(other_browser.get("/api/leads").await.status, 401);
    sign_in(&app, "mia@acme.test", "brand-new-shingles").await;
    let audit = owner.get("/api/audit?action=user.").await;
    let actions: Vec<&str> = audit.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for wanted in ["user.disabled", "user.enabled", "user.password_changed"] {
        assert!(actions.contains(&wanted), "{wanted} in {actions:?}");
    }
    let failed = owner.get("/api/audit?action=sign_in.failed").await;
    let e = &failed.body["items"][0];
    assert_eq!(e["details"]["reason"], "user disabled");
    assert_eq!(e["ip"], "127.0.0.1");
}

#[tokio::test]
async fn a_member_of_one_account_sees_nothing_of_another() {
    let app = spawn_app_with(&[]).await;
    let a = app.account("Acme Roofing").await;
    let b: Account = app.account("Bolt Roofing").await;
    let mia = person(&app, a.id, "mia@acme.test", Role::Member).await;
    person(&app, b.id, "bob@bolt.test", Role::Owner).await;
    let theirs = app
        .post(&b.key, "/api/leads", json!({"name": "Their lead"}))
        .await;
    let their_lead = theirs.body["id"].as_i64().unwrap();
    let bob = user_id(&app, "bob@bolt.test").await;
    assert_eq!(
        mia.get(&format!("/api/leads/{their_lead}")).await.status,
        404
    );
    assert_eq!(
        mia.patch(
            &format!("/api/leads/{their_lead}"),
            json!({"status": "won"})
        )
        .await
        .status,
        404
    );
    assert!(mia.get("/api/leads").await.body["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let users = mia.get("/api/users").await;
    assert_eq!(users.body.as_array().unwrap().len(), 1);
    assert_eq!(users.body[0]["email"], "mia@acme.test");
    let ours = app
        .post(&a.key, "/api/leads", json!({"name": "Our lead"}))
        .await;
    let r = mia
        .patch(
            &format!("/api/leads/{}", ours.body["id"]),
            json!({"assigned_user_id": bob}),
        )
        .await;
    assert_eq!(r.status, 422, "another account's user: {}", r.body);
    // Another account's user is not found (its own key, an admin, may not touch an owner).
    assert_eq!(
        app.patch(&a.key, &format!("/api/users/{bob}"), json!({"name": "X"}))
            .await
            .status,
        404
    );
    assert_eq!(
        app.patch(&b.key, &format!("/api/users/{bob}"), json!({"name": "X"}))
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn a_person_who_answers_a_chat_is_recorded_as_the_one_who_replied() {
    let app = spawn_app().await;
    let a = app.account("Acme Roofing").await;
    let mia = person(&app, a.id, "mia@acme.test", Role::Member).await;
    let site = app
        .post(
            &a.key,
            "/api/integrations/chat/sites",
            json!({"name": "Site", "allowed_origins": ["https://acme.test"]}),
        )
        .await;
    assert_eq!(site.status, 201, "{}", site.body);
    let site_key = site.body["site_key"].as_str().unwrap().to_string();
    let started = app
        .send(
            app.http
                .post(format!("{}/api/chat/session/new", app.base))
                .header("origin", "https://acme.test")
                .json(&json!({"site_key": site_key})),
        )
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let session_id: String = sqlx::query_scalar("select session_id from chat_sessions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let r = mia
        .post(
            &format!("/api/chat/sessions/{session_id}/reply"),
            json!({"text": "Hi, this is Mia from Acme"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let (sent_by, by): (Value, Option<i64>) = sqlx::query_as(
        "select c.metadata->'sent_by', s.human_takeover_by from communications c
         join chat_sessions s on s.session_id = c.metadata->>'chat_session_id' where c.direction = 'outbound'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let id = user_id(&app, "mia@acme.test").await;
    assert_eq!(sent_by, json!({"user_id": id, "name": "mia"}));
    assert_eq!(by, Some(id));
}
