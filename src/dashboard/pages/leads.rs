//! The leads table.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use minijinja::context;
use serde::Serialize;

use super::format::{
    action_label, channel_label, display_name, display_phone, humanize, source_label, Clock,
};
use super::{layout, param, query_map, LeadLine, PageError, PAGE_SIZE};
use crate::auth::session::{self, Dash};
use crate::dashboard::{charts, render};
use crate::domain::Channel;
use crate::state::AppState;

#[derive(sqlx::FromRow)]
struct LeadRow {
    #[sqlx(flatten)]
    lead: LeadLine,
    status: String,
    preferred_channel: Option<String>,
    action: Option<String>,
    priority: Option<String>,
    reason: Option<String>,
    last_type: Option<String>,
    last_at: Option<DateTime<Utc>>,
    assigned_name: Option<String>,
    source: Option<String>,
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
    assigned: Option<String>,
    source: Option<String>,
}

/// Whose leads the list shows (the `assigned` parameter, as `GET /api/leads` takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assigned {
    All,
    /// `mine` (or `me`): the signed-in person's (user sessions only).
    Mine(i64),
    Unassigned,
    /// A user id: that person's.
    User(i64),
}

impl Assigned {
    fn parse(v: Option<&str>, me: Option<i64>) -> Self {
        match (v, me) {
            // `me` as the API spells it, `mine` as the tab does.
            (Some("mine" | "me"), Some(id)) => Assigned::Mine(id),
            (Some("unassigned"), _) => Assigned::Unassigned,
            (Some(v), _) => v.parse().map_or(Assigned::All, Assigned::User),
            (None, _) => Assigned::All,
        }
    }

    /// The query value that asks for it again.
    fn param(self) -> String {
        match self {
            Assigned::All => String::new(),
            Assigned::Mine(_) => "mine".into(),
            Assigned::Unassigned => "unassigned".into(),
            Assigned::User(id) => id.to_string(),
        }
    }

    /// (only unassigned, only this user's) for the query.
    fn binds(self) -> (bool, Option<i64>) {
        match self {
            Assigned::All => (false, None),
            Assigned::Mine(id) | Assigned::User(id) => (false, Some(id)),
            Assigned::Unassigned => (true, None),
        }
    }
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
    let source = param(&q, "source").map(|s| s.chars().take(100).collect::<String>());
    let assigned = Assigned::parse(param(&q, "assigned"), s.user.as_ref().map(|u| u.id));
    let (unassigned_only, assigned_to) = assigned.binds();
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
                l.insights->'next_action'->>'reason' as reason, l.source,
                t.type as last_type, t.\"timestamp\" as last_at,
                coalesce(nullif(u.name, ''), u.email) as assigned_name,
                count(*) over () as total
         from leads l
         left join users u on u.id = l.assigned_user_id
         left join lateral (select c.type, c.\"timestamp\" from communications c where c.lead_id = l.id
                            order by c.\"timestamp\" desc, c.id desc limit 1) t on true
         where l.account_id = $1
           and ($2::text is null or l.score_band = $2)
           and ($3::text is null or exists (select 1 from communications c where c.lead_id = l.id and c.type = $3))
           and ($4::text is null or l.name ilike $4 or l.email ilike $4 or l.phone ilike $4
                or ($5::text is not null and l.phone like $5))
           and (not $8 or l.assigned_user_id is null)
           and ($9::bigint is null or l.assigned_user_id = $9)
           and ($10::text is null or l.source = $10)
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
    .bind(unassigned_only)
    .bind(assigned_to)
    .bind(&source)
    .fetch_all(&state.pool)
    .await?;
    let sources: Vec<String> = sqlx::query_scalar(
        "select distinct source from leads where account_id = $1 and source is not null order by 1 limit 100",
    )
    .bind(s.account_id)
    .fetch_all(&state.pool)
    .await?;
    let total = rows.first().map_or(0, |r| r.total);
    let region = state.config.default_region;
    let views: Vec<LeadView> = rows
        .into_iter()
        .map(|r| LeadView {
            id: r.lead.id,
            named: r.lead.name.is_some(),
            name: display_name(&r.lead.name, &r.lead.email, &r.lead.phone),
            email: r.lead.email,
            phone: r.lead.phone.as_deref().map(|p| display_phone(p, region)),
            score: r.lead.score,
            band: r.lead.score_band,
            status: humanize(&r.status),
            preferred: channel_label(r.preferred_channel.as_deref().unwrap_or("")),
            action: r.action.as_deref().map(action_label),
            priority: r.priority,
            reason: r.reason,
            last_touch: r.last_at.map(|t| clock.ago(t)),
            last_touch_title: r.last_at.map(|t| clock.when(t)),
            last_channel: channel_label(r.last_type.as_deref().unwrap_or("")),
            assigned: r.assigned_name,
            source: r.source.as_deref().map(source_label),
        })
        .collect();
    let band_s = band.clone().unwrap_or_default();
    let channel_s = channel.clone().unwrap_or_default();
    let source_s = source.clone().unwrap_or_default();
    let search_s = search.clone().unwrap_or_default();
    let assigned_s = assigned.param();
    let page_s = |p: i64| p.to_string();
    let url_for = |assigned: &str, sort: &str, dir: &str, page: i64| {
        let p = if page > 1 {
            page_s(page)
        } else {
            String::new()
        };
        format!(
            "/leads{}",
            query_string(&[
                ("assigned", assigned),
                ("band", &band_s),
                ("channel", &channel_s),
                ("source", &source_s),
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
    let url = |sort: &str, dir: &str, page: i64| url_for(&assigned_s, sort, dir, page);
    // The tabs keep the other filters and the order, and start again at page 1.
    let tab = |key: &str, label: &str| {
        context! { key, label, url => url_for(key, sort, dir, 1), active => assigned_s == key }
    };
    let mut tabs = vec![tab("", "All")];
    if s.user.is_some() {
        tabs.push(tab("mine", "Mine"));
    }
    tabs.push(tab("unassigned", "Unassigned"));
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
    let filtered = band.is_some()
        || channel.is_some()
        || source.is_some()
        || search.is_some()
        || assigned != Assigned::All;
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
            source => source_s,
            sources => sources.iter().map(|k| context! { key => k, label => source_label(k) }).collect::<Vec<_>>(),
            q => search_s,
            assigned => assigned_s,
            tabs,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_links_keep_the_filters() {
        assert_eq!(
            query_string(&[("band", "HOT"), ("q", ""), ("page", "2")]),
            "?band=HOT&page=2"
        );
        assert_eq!(query_string(&[("q", "a&b")]), "?q=a%26b");
        assert_eq!(query_string(&[]), "");
    }

    #[test]
    fn assigned_reads_mine_only_for_users() {
        assert_eq!(Assigned::parse(Some("mine"), Some(4)), Assigned::Mine(4));
        assert_eq!(Assigned::parse(Some("mine"), None), Assigned::All);
        assert_eq!(Assigned::parse(Some("me"), Some(4)), Assigned::Mine(4));
        assert_eq!(
            Assigned::parse(Some("unassigned"), None).binds(),
            (true, None)
        );
        assert_eq!(Assigned::parse(Some("7"), None).binds(), (false, Some(7)));
        assert_eq!(Assigned::parse(Some("x"), Some(1)), Assigned::All);
        assert_eq!(Assigned::Mine(4).param(), "mine");
    }
}
