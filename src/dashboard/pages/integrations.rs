//! Email, SMS, chat widget, AI and what the tracker captures.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use minijinja::context;

use super::format::Clock;
use super::{layout, param, query_map, PageError};
use crate::auth::session::Dash;
use crate::dashboard::{render, ASSET_VERSION};
use crate::error::ApiError;
use crate::health::integrations::{Details, IntegrationHealth, Status};
use crate::state::AppState;

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
    let base = state.public_base(&headers);

    let email = crate::channels::email::integration::integration(&state, account)
        .await?
        .filter(|i| i.is_active);
    let email_view = match &email {
        None => {
            context! { connected => false, status => "not_connected", status_label => "Not connected" }
        }
        Some(i) => {
            let health = crate::health::integrations::email_health(&state, account).await?;
            let health = health.iter().find(|h| h.name == i.email).or(health.first());
            let (status, label) = status_view(health, i.last_sync.is_none());
            let messages_synced = match health.map(|h| &h.details) {
                Some(Details::Email(d)) => d.messages_synced,
                _ => 0,
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
                messages_synced,
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
            ("error", "Inactive".to_string())
        } else {
            let health = crate::health::integrations::sms_health(&state.pool, account).await?;
            status_view(health.first(), false)
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

/// The dot and the words for an integration's card: the status `GET /api/health/integrations`
/// reports for it (so the page and the health check never disagree), with its reason.
fn status_view(
    health: Option<&IntegrationHealth>,
    first_sync_pending: bool,
) -> (&'static str, String) {
    let Some(h) = health else {
        return ("not_connected", "Not connected".into());
    };
    let with_reason = |word: &str| match &h.reason {
        Some(r) => format!("{word}: {r}"),
        None => word.to_string(),
    };
    match h.status {
        Status::Healthy if first_sync_pending => ("syncing", "Waiting for the first sync".into()),
        Status::Healthy => ("connected", "Connected".into()),
        Status::Degraded => ("degraded", with_reason("Degraded")),
        Status::Error => ("error", with_reason("Error")),
        Status::NotConfigured => ("not_connected", "Not connected".into()),
    }
}
