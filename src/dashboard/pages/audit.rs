//! The audit log page (admins and owners): newest first, filtered by action prefix, paged
//! with `before` like `GET /api/audit`.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

use super::format::Clock;
use super::{admins_only, layout, param, query_map, PageError};
use crate::audit::AuditParams;
use crate::auth::session::{self, Dash};
use crate::auth::users;
use crate::dashboard::render;
use crate::state::AppState;

/// Entries a page.
const PAGE: i64 = 50;
/// The action filters offered: (prefix, label).
const FILTERS: [(&str, &str); 7] = [
    ("", "All"),
    ("sign_in", "Sign-ins"),
    ("user.", "People"),
    ("key.", "API keys"),
    ("integration.", "Integrations"),
    ("lead.", "Leads"),
    ("settings.", "Settings"),
];
/// Details longer than this are cut (the API has them whole).
const DETAILS_MAX: usize = 240;

#[derive(Serialize)]
struct EntryView {
    id: i64,
    when: String,
    when_title: String,
    actor: String,
    action: String,
    target: String,
    target_href: Option<String>,
    details: String,
    ip: String,
}

/// `{"role":{"from":"member","to":"admin"},"emailed":false}` as
/// `role: member → admin · emailed: false`.
fn compact(details: &Value) -> String {
    let one = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Object(o) if o.contains_key("from") && o.contains_key("to") && o.len() == 2 => {
            let s = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
            format!("{} → {}", s(&o["from"]), s(&o["to"]))
        }
        other => other.to_string(),
    };
    let text = match details {
        Value::Object(o) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", one(v)))
            .collect::<Vec<_>>()
            .join(" · "),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    if text.chars().count() > DETAILS_MAX {
        let cut: String = text.chars().take(DETAILS_MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `user:12` names the person; `lead:7` links to the lead.
fn target_view(target: Option<&str>, names: &HashMap<i64, String>) -> (String, Option<String>) {
    let Some(t) = target else {
        return (String::new(), None);
    };
    match t.split_once(':') {
        Some(("user", id)) => match id.parse().ok().and_then(|id: i64| names.get(&id)) {
            Some(name) => (name.clone(), None),
            None => (t.to_string(), None),
        },
        Some(("lead", id)) if id.parse::<i64>().is_ok() => {
            (format!("lead {id}"), Some(format!("/leads/{id}")))
        }
        _ => (t.to_string(), None),
    }
}

/// The audit log; members get a 403 page.
pub async fn audit(
    State(state): State<AppState>,
    Dash(s): Dash,
    q: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, PageError> {
    if let Some(refused) = admins_only(
        s.role,
        "The audit log is for the admins and owners of your company.",
    ) {
        return Ok(refused);
    }
    let q = query_map(q);
    let action = param(&q, "action")
        .filter(|a| FILTERS.iter().any(|(p, _)| p == a))
        .unwrap_or("");
    let before = param(&q, "before").and_then(|b| b.parse::<i64>().ok());
    let params = AuditParams {
        action: (!action.is_empty()).then(|| action.to_string()),
        user_id: None,
        before,
        limit: Some(PAGE),
    };
    let page = crate::audit::list(&state.pool, s.account_id, &params).await?;
    let clock = Clock::of(&state.pool, s.account_id).await?;
    let names: HashMap<i64, String> = users::list(&state.pool, s.account_id)
        .await?
        .into_iter()
        .map(|u| {
            let label = if u.name.is_empty() {
                u.email
            } else {
                format!("{} ({})", u.name, u.email)
            };
            (u.id, label)
        })
        .collect();
    let entries: Vec<EntryView> = page
        .items
        .iter()
        .map(|e| {
            let (target, target_href) = target_view(e.target.as_deref(), &names);
            EntryView {
                id: e.id,
                when: clock.when(e.at),
                when_title: e.at.to_rfc3339(),
                actor: e.actor.clone(),
                action: e.action.clone(),
                target,
                target_href,
                details: compact(&e.details),
                ip: e.ip.clone().unwrap_or_default(),
            }
        })
        .collect();
    let with_action = |extra: &str| {
        let mut parts = Vec::new();
        if !action.is_empty() {
            parts.push(format!("action={}", session::encode_query_value(action)));
        }
        if !extra.is_empty() {
            parts.push(extra.to_string());
        }
        if parts.is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?{}", parts.join("&"))
        }
    };
    Ok(render(
        StatusCode::OK,
        "audit.html",
        context! {
            entries,
            action,
            filters => FILTERS.iter().map(|(p, l)| context! { prefix => *p, label => *l }).collect::<Vec<_>>(),
            older_url => page.next_before.map(|b| with_action(&format!("before={b}"))),
            newest_url => before.map(|_| with_action("")),
            ..layout(&s, "audit", "Audit log")
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_read_compactly() {
        let two = compact(&json!({"role": {"from": "member", "to": "admin"}, "emailed": false}));
        assert!(
            two.contains("role: member → admin")
                && two.contains("emailed: false")
                && two.contains(" · "),
            "{two}"
        );
        assert_eq!(compact(&json!({})), "");
        assert_eq!(compact(&json!({"email": "a@b.c"})), "email: a@b.c");
        let long = compact(&json!({ "x": "y".repeat(500) }));
        assert!(long.ends_with('…') && long.chars().count() == DETAILS_MAX + 1);
    }

    #[test]
    fn targets_name_people_and_link_leads() {
        let names = HashMap::from([(3, "Ann (ann@x.co)".to_string())]);
        assert_eq!(
            target_view(Some("user:3"), &names),
            ("Ann (ann@x.co)".into(), None)
        );
        assert_eq!(target_view(Some("user:9"), &names), ("user:9".into(), None));
        assert_eq!(
            target_view(Some("lead:7"), &names),
            ("lead 7".into(), Some("/leads/7".into()))
        );
        assert_eq!(target_view(None, &names), (String::new(), None));
    }
}
