//! Outgoing webhooks over HTTP (admins; every change audited): subscriptions (CRUD,
//! secret rotation) and the delivery log (list, one delivery with its attempts, replay).

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::model::{self, Subscription};
use crate::auth::Admin;
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(super::emit::EventsDoc::openapi())
        .routes(routes!(list, create))
        .routes(routes!(show, change, remove))
        .routes(routes!(rotate))
        .routes(routes!(deliveries))
        .routes(routes!(delivery))
        .routes(routes!(replay))
}

/// Body of `POST /api/webhooks/subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// https URL (http and private hosts only with `LEADLINE_ALLOW_PRIVATE_HOSTS=true`).
    #[schema(max_length = 2000)]
    pub url: String,
    /// Events to send: lead.created, lead.updated, lead.stage_changed, lead.assigned,
    /// communication.created, chat.session.closed, automation.step.sent.
    pub events: Vec<String>,
    /// Default true.
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "crate::extract::blank_as_none")]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

/// A subscription with its signing secret: shown in this response only.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionWithSecret {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// `whsec_…` (Standard Webhooks): verify `webhook-signature` with it.
    pub secret: String,
}

/// Body of `PATCH /api/webhooks/subscriptions/{id}`: absent fields are left alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionChange {
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    /// Turning it on clears why Leadline turned it off and its failure streak.
    pub enabled: Option<bool>,
    /// `null` or "" clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Option<Option<String>>,
}

fn present<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::<String>::deserialize(d)?))
}

fn audit(
    caller: &crate::auth::Caller,
    action: &'static str,
    id: i64,
    details: serde_json::Value,
) -> crate::audit::Entry<'static> {
    crate::audit::Entry::by(
        caller,
        action,
        Some(format!("webhook_subscription:{id}")),
        details,
    )
}

/// The account's subscriptions.
#[utoipa::path(get, path = "/api/webhooks/subscriptions", tag = "webhooks",
    responses((status = 200, body = Vec<Subscription>)), security(("api_key" = [])))]
async fn list(
    State(state): State<AppState>,
    Admin(caller): Admin,
) -> Result<Json<Vec<Subscription>>> {
    Ok(Json(model::list(&state.pool, caller.account).await?))
}

/// Subscribes a URL to events; the answer holds the signing secret, once.
#[utoipa::path(post, path = "/api/webhooks/subscriptions", tag = "webhooks", request_body = NewSubscription,
    responses((status = 201, body = SubscriptionWithSecret), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn create(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Json(body): Json<NewSubscription>,
) -> Result<(StatusCode, Json<SubscriptionWithSecret>)> {
    let cfg = &state.config.webhooks_out;
    let url = model::check_url(&body.url, cfg.allow_private_hosts).await?;
    let events = model::check_events(&body.events)?;
    let description = model::check_description(body.description.as_deref())?;
    let mut tx = crate::db::begin(&state.pool).await?;
    let (subscription, secret) = model::create(
        &mut *tx,
        &state.secrets,
        caller.account,
        url.as_str(),
        &events,
        body.enabled.unwrap_or(true),
        description.as_deref(),
    )
    .await?;
    crate::audit::record(
        &mut *tx,
        audit(
            &caller,
            "webhook.created",
            subscription.id,
            serde_json::json!({"url": subscription.url, "events": subscription.events}),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(SubscriptionWithSecret {
            subscription,
            secret,
        }),
    ))
}

/// One subscription.
#[utoipa::path(get, path = "/api/webhooks/subscriptions/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Subscription), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn show(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<Json<Subscription>> {
    Ok(Json(model::get(&state.pool, caller.account, id).await?))
}

/// Changes a subscription's URL, events, description, or turns it on or off.
#[utoipa::path(patch, path = "/api/webhooks/subscriptions/{id}", tag = "webhooks", params(("id" = i64, Path)),
    request_body = SubscriptionChange,
    responses((status = 200, body = Subscription), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn change(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<SubscriptionChange>,
) -> Result<Json<Subscription>> {
    let cfg = &state.config.webhooks_out;
    let url = match &body.url {
        Some(u) => Some(
            model::check_url(u, cfg.allow_private_hosts)
                .await?
                .to_string(),
        ),
        None => None,
    };
    let events = body
        .events
        .as_deref()
        .map(model::check_events)
        .transpose()?;
    let description = match &body.description {
        None => None,
        Some(d) => Some(model::check_description(d.as_deref())?),
    };
    let c = model::Change {
        url,
        events,
        enabled: body.enabled,
        description,
    };
    let mut tx = crate::db::begin(&state.pool).await?;
    let sub = model::update(&mut *tx, caller.account, id, &c).await?;
    crate::audit::record(
        &mut *tx,
        audit(
            &caller,
            "webhook.updated",
            id,
            serde_json::json!({
                "url": c.url, "events": c.events, "enabled": c.enabled,
                "description": c.description.is_some(),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(sub))
}

/// Deletes a subscription with its delivery log.
#[utoipa::path(delete, path = "/api/webhooks/subscriptions/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)), security(("api_key" = [])))]
async fn remove(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode> {
    let mut tx = crate::db::begin(&state.pool).await?;
    if !model::delete(&mut *tx, caller.account, id).await? {
        return Err(ApiError::NotFound("webhook subscription"));
    }
    crate::audit::record(
        &mut *tx,
        audit(&caller, "webhook.deleted", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (shown once); the previous one keeps signing beside it for 24 h.
#[utoipa::path(post, path = "/api/webhooks/subscriptions/{id}/rotate", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = SubscriptionWithSecret), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn rotate(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<Json<SubscriptionWithSecret>> {
    let mut tx = crate::db::begin(&state.pool).await?;
    let (subscription, secret) =
        model::rotate(&mut *tx, &state.secrets, caller.account, id, Utc::now()).await?;
    crate::audit::record(
        &mut *tx,
        audit(&caller, "webhook.rotated", id, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(SubscriptionWithSecret {
        subscription,
        secret,
    }))
}

/// A delivery as listed.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct DeliveryEntry {
    pub id: i64,
    pub subscription_id: i64,
    /// The `webhook-id` header: the same on every attempt and replay.
    pub webhook_id: String,
    pub event_type: String,
    pub lead_id: Option<i64>,
    /// pending, sending, delivered or failed (given up).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

const ENTRY_COLUMNS: &str =
    "id, subscription_id, 'msg_' || id as webhook_id, event_type, lead_id, status,
    attempts, case when status in ('pending','sending') then next_attempt_at end as next_attempt_at,
    last_status, last_error, created_at, delivered_at";

/// Filters of the delivery log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryParams {
    /// Only this subscription's deliveries.
    pub subscription: Option<i64>,
    /// pending, sending, delivered or failed.
    pub status: Option<String>,
    /// Deliveries older than this id (the `next_before` of the previous page).
    pub before: Option<i64>,
    /// 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A page of the delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryEntry>,
    /// Pass as `before` for the next page; null on the last.
    pub next_before: Option<i64>,
}

/// The account's deliveries, newest first.
pub async fn list_deliveries(
    pool: &sqlx::PgPool,
    account: crate::domain::AccountId,
    p: &DeliveryParams,
) -> Result<DeliveryPage> {
    let limit = p.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit: must be between 1 and 200"));
    }
    if let Some(s) = &p.status {
        if !["pending", "sending", "delivered", "failed"].contains(&s.as_str()) {
            return Err(ApiError::invalid(
                "status: must be pending, sending, delivered or failed",
            ));
        }
    }
    let items: Vec<DeliveryEntry> = sqlx::query_as(&format!(
        "select {ENTRY_COLUMNS} from webhook_deliveries
         where account_id = $1 and ($2::int8 is null or subscription_id = $2)
           and ($3::text is null or status = $3) and ($4::int8 is null or id < $4)
         order by id desc limit $5"
    ))
    .bind(account)
    .bind(p.subscription)
    .bind(&p.status)
    .bind(p.before)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let next_before = (items.len() as i64 == limit)
        .then(|| items.last().map(|d| d.id))
        .flatten();
    Ok(DeliveryPage { items, next_before })
}

/// The delivery log (`subscription`, `status`, `before`, `limit`).
#[utoipa::path(get, path = "/api/webhooks/deliveries", tag = "webhooks", params(DeliveryParams),
    responses((status = 200, body = DeliveryPage)), security(("api_key" = [])))]
async fn deliveries(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Query(p): Query<DeliveryParams>,
) -> Result<Json<DeliveryPage>> {
    Ok(Json(
        list_deliveries(&state.pool, caller.account, &p).await?,
    ))
}

/// One attempt, as logged.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AttemptEntry {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// What was sent besides the body (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
    #[schema(value_type = Object)]
    pub request_headers: serde_json::Value,
    pub response_status: Option<i32>,
    /// Milliseconds until the answer (or the failure).
    pub response_ms: Option<i32>,
    /// The first 2 KB of the answer.
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// A delivery with its body and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryEntry,
    /// The exact body sent (a `WebhookEvent`).
    pub body: String,
    pub attempts_log: Vec<AttemptEntry>,
}

/// One delivery of the account with its attempts.
pub async fn delivery_detail(
    pool: &sqlx::PgPool,
    account: crate::domain::AccountId,
    id: i64,
) -> Result<DeliveryDetail> {
    let row: Option<(String,)> =
        sqlx::query_as("select body from webhook_deliveries where id = $1 and account_id = $2")
            .bind(id)
            .bind(account)
            .fetch_optional(pool)
            .await?;
    let (body,) = row.ok_or(ApiError::NotFound("webhook delivery"))?;
    let delivery: DeliveryEntry = sqlx::query_as(&format!(
        "select {ENTRY_COLUMNS} from webhook_deliveries where id = $1 and account_id = $2"
    ))
    .bind(id)
    .bind(account)
    .fetch_one(pool)
    .await?;
    let attempts_log = sqlx::query_as(
        "select attempt, at, request_headers, response_status, response_ms, response_body, error
         from webhook_attempts where delivery_id = $1 and account_id = $2 order by id",
    )
    .bind(id)
    .bind(account)
    .fetch_all(pool)
    .await?;
    Ok(DeliveryDetail {
        delivery,
        body,
        attempts_log,
    })
}

/// One delivery with its body and attempts.
#[utoipa::path(get, path = "/api/webhooks/deliveries/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = DeliveryDetail), (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn delivery(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<Json<DeliveryDetail>> {
    Ok(Json(
        delivery_detail(&state.pool, caller.account, id).await?,
    ))
}

/// Queues a delivered or given-up delivery again, with the same `webhook-id` (and a new
/// 3-day window). Its lead's later events wait for it, as for any delivery.
pub async fn replay_delivery(
    pool: &sqlx::PgPool,
    account: crate::domain::AccountId,
    id: i64,
) -> Result<DeliveryEntry> {
    let again: Option<DeliveryEntry> = sqlx::query_as(&format!(
        "with again as (
            update webhook_deliveries set status = 'pending', next_attempt_at = now(),
                retry_from = now(), last_error = null, updated_at = now()
            where id = $1 and account_id = $2 and status in ('delivered','failed')
            returning *)
         select {ENTRY_COLUMNS} from again"
    ))
    .bind(id)
    .bind(account)
    .fetch_optional(pool)
    .await?;
    if let Some(d) = again {
        sqlx::query("select pg_notify($1, '')")
            .bind(super::emit::CHANNEL)
            .execute(pool)
            .await?;
        return Ok(d);
    }
    let exists: Option<String> = sqlx::query_scalar(
        "select status from webhook_deliveries where id = $1 and account_id = $2",
    )
    .bind(id)
    .bind(account)
    .fetch_optional(pool)
    .await?;
    match exists {
        None => Err(ApiError::NotFound("webhook delivery")),
        Some(s) => Err(ApiError::Conflict(
            "not_settled",
            format!("the delivery is {s}: it will be sent without a replay"),
        )),
    }
}

/// Sends a delivery again with the same `webhook-id`.
#[utoipa::path(post, path = "/api/webhooks/deliveries/{id}/replay", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202, body = DeliveryEntry), (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "Still pending or being sent", body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn replay(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<DeliveryEntry>)> {
    let d = replay_delivery(&state.pool, caller.account, id).await?;
    crate::audit::record(
        &state.pool,
        crate::audit::Entry::by(
            &caller,
            "webhook.replayed",
            Some(format!("webhook_delivery:{id}")),
            serde_json::json!({"subscription_id": d.subscription_id}),
        ),
    )
    .await?;
    Ok((StatusCode::ACCEPTED, Json(d)))
}
