//! The thread inbox: the account's email conversations, one row per thread.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::AuthAccount;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InboxParams {
    /// 1 to 100 threads (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Threads to skip.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

/// One email thread.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Thread {
    pub thread_key: String,
    pub subject: Option<String>,
    pub lead_id: i64,
    pub lead_name: Option<String>,
    pub lead_email: Option<String>,
    pub last_message_at: DateTime<Utc>,
    pub last_direction: String,
    pub last_snippet: Option<String>,
    pub last_communication_id: i64,
    pub count: i64,
    /// Inbound messages after the last outbound one.
    pub unread_inbound: i64,
}

/// A page of threads.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxPage {
    pub threads: Vec<Thread>,
    pub limit: i64,
    pub offset: i64,
    pub has_more: bool,
}

/// Recent email communications grouped by thread, newest thread first.
#[utoipa::path(get, path = "/api/integrations/email/inbox", tag = "email", params(InboxParams),
    responses((status = 200, body = InboxPage)), security(("api_key" = [])))]
pub(super) async fn inbox(
    State(state): State<AppState>,
    AuthAccount(account): AuthAccount,
    Query(p): Query<InboxParams>,
) -> Result<Json<InboxPage>> {
    let limit = p.limit.unwrap_or(25);
    let offset = p.offset.unwrap_or(0);
    if !(1..=100).contains(&limit) || offset < 0 {
        return Err(ApiError::invalid(
            "limit must be 1 to 100 and offset at least 0",
        ));
    }
    let mut threads = sqlx::query_as::<_, Thread>(
        "with c as (
            select id, lead_id, direction, \"timestamp\", subject, content,
                   coalesce(thread_key, provider_message_id, 'comm-' || id) as tk
            from communications where account_id = $1 and type = 'email'),
         t as (
            select tk, count(*) as count, max(\"timestamp\") as last_at,
                   max(\"timestamp\") filter (where direction = 'outbound') as last_out
            from c group by tk)
         select t.tk as thread_key,
                (select c2.subject from c c2 where c2.tk = t.tk order by c2.\"timestamp\", c2.id limit 1) as subject,
                l.lead_id, ld.name as lead_name, ld.email as lead_email,
                t.last_at as last_message_at, l.direction as last_direction,
                left(l.content, 200) as last_snippet, l.id as last_communication_id, t.count,
                (select count(*) from c c3 where c3.tk = t.tk and c3.direction = 'inbound'
                    and (t.last_out is null or c3.\"timestamp\" > t.last_out)) as unread_inbound
         from t
         join lateral (select * from c where c.tk = t.tk order by \"timestamp\" desc, id desc limit 1) l on true
         join leads ld on ld.id = l.lead_id and ld.account_id = $1
         order by t.last_at desc, t.tk
         limit $2 offset $3",
    )
    .bind(account)
    .bind(limit + 1)
    .bind(offset)
    .fetch_all(&state.pool)
    .await?;
    let has_more = threads.len() as i64 > limit;
    threads.truncate(limit as usize);
    Ok(Json(InboxPage {
        threads,
        limit,
        offset,
        has_more,
    }))
}
