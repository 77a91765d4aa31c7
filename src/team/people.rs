//! People of the account: list, invite, change (name, role, disabled), and a fresh
//! password link made by an admin.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::audit::{self, Entry};
use crate::auth::links::Purpose;
use crate::auth::users::{self, Changes, Role, User};
use crate::auth::{Admin, Caller};
use crate::domain::{AccountId, Email};
use crate::error::{ApiError, Result};
use crate::extract::{Json, Path};
use crate::state::AppState;

use super::onboarding;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(invite_route))
        .routes(routes!(update))
        .routes(routes!(password_link))
}

/// The account's people (every role may see who is on the team, for assignment).
#[utoipa::path(get, path = "/api/users", tag = "team",
    responses((status = 200, body = Vec<User>)), security(("api_key" = [])))]
async fn list(State(state): State<AppState>, caller: Caller) -> Result<Json<Vec<User>>> {
    Ok(Json(users::list(&state.pool, caller.account).await?))
}

/// Body of `POST /api/users/invitations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    #[schema(max_length = 320)]
    pub email: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: Option<String>,
    pub role: Role,
}

/// An invitation made: mailed through the account's mailbox, or `link` to pass on.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invited {
    pub user: User,
    /// Whether the link was queued to the person's email.
    pub emailed: bool,
    /// The outbox item that mails it.
    pub outbox_id: Option<i64>,
    /// The link itself, only when it could not be mailed (no mailbox connected): give it
    /// to the person yourself. Works once, for 72 hours.
    pub link: Option<String>,
}

/// Invites someone (a new user without a password yet, or again a user who never set
/// one). Owners may invite owners; admins invite admins and members.
pub async fn invite(
    state: &AppState,
    base: &str,
    caller: &Caller,
    body: Invitation,
) -> Result<Invited> {
    let email = Email::parse(&body.email).ok_or_else(|| {
        ApiError::invalid(format!("email {:?} is not an email address", body.email))
    })?;
    let name = users::clean_name(body.name.as_deref())?;
    if body.role == Role::Owner {
        caller.require(Role::Owner)?;
    }
    let existing: Option<i64> = sqlx::query_scalar(
        "select id from users where account_id = $1 and email = $2 and password_hash is null and disabled_at is null",
    )
    .bind(caller.account)
    .bind(&*email)
    .fetch_optional(&state.pool)
    .await?;
    let user = match existing {
        // Invited before and never came: invite again (the old link stops working).
        Some(id) => users::get(&state.pool, caller.account, id).await?,
        None => users::create(&state.pool, caller.account, &email, &name, body.role).await?,
    };
    let sent = onboarding::deliver(
        state,
        base,
        caller.account,
        &user,
        Purpose::Invite,
        caller.user_id(),
    )
    .await?;
    audit::record(
        &state.pool,
        Entry::by(
            caller,
            "user.invited",
            Some(format!("user:{}", user.id)),
            json!({ "email": user.email, "role": user.role, "emailed": sent.outbox_id.is_some() }),
        ),
    )
    .await?;
    Ok(Invited {
        emailed: sent.outbox_id.is_some(),
        outbox_id: sent.outbox_id,
        link: sent.outbox_id.is_none().then_some(sent.url),
        user,
    })
}

/// Invites a person to the team by email and role.
#[utoipa::path(post, path = "/api/users/invitations", tag = "team", request_body = Invitation,
    responses((status = 201, body = Invited), (status = 403, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn invite_route(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    Json(body): Json<Invitation>,
) -> Result<(StatusCode, Json<Invited>)> {
    let base = state.public_base(&headers);
    Ok((
        StatusCode::CREATED,
        Json(invite(&state, &base, &caller, body).await?),
    ))
}

/// Body of `PATCH /api/users/{id}`: absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    pub role: Option<Role>,
    /// true disables the user (their sessions end at once); false enables them again.
    pub disabled: Option<bool>,
}

/// Changes a user's name, role or whether they may sign in.
pub async fn change(state: &AppState, caller: &Caller, id: i64, body: UserPatch) -> Result<User> {
    let target = users::get(&state.pool, caller.account, id).await?;
    let changes = Changes {
        name: match body.name.as_deref() {
            Some(n) => Some(users::clean_name(Some(n))?),
            None => None,
        },
        role: body.role,
        disabled: body.disabled,
    };
    users::check_change(caller.role, caller.user_id(), &target, &changes)?;
    let user = users::apply(&state.pool, caller.account, id, &changes).await?;
    let mut details = json!({});
    if changes.role.is_some_and(|r| r != target.role) {
        details["role"] = json!({ "from": target.role, "to": user.role });
    }
    if changes.disabled.is_some() && target.disabled_at.is_some() != user.disabled_at.is_some() {
        details["disabled"] = json!(user.disabled_at.is_some());
    }
    if changes.name.is_some() && target.name != user.name {
        details["name"] = json!({ "from": target.name, "to": user.name });
    }
    let action = if details.get("role").is_some() {
        "user.role_changed"
    } else if details.get("disabled") == Some(&json!(true)) {
        "user.disabled"
    } else if details.get("disabled").is_some() {
        "user.enabled"
    } else {
        "user.updated"
    };
    audit::record(
        &state.pool,
        Entry::by(caller, action, Some(format!("user:{id}")), details),
    )
    .await?;
    Ok(user)
}

#[utoipa::path(patch, path = "/api/users/{id}", tag = "team", params(("id" = i64, Path)), request_body = UserPatch,
    responses((status = 200, body = User), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn update(
    State(state): State<AppState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<UserPatch>,
) -> Result<Json<User>> {
    Ok(Json(change(&state, &caller, id, body).await?))
}

/// A password link made for a user by an admin.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordLink {
    /// Whether it was queued to the person's email.
    pub emailed: bool,
    pub outbox_id: Option<i64>,
    /// The link, only when it could not be mailed. Works once, for 2 hours.
    pub link: Option<String>,
}

/// Sends the user a password reset link (or, with no mailbox, gives it to the admin to
/// pass on); a user who never set a password gets a fresh invitation instead.
#[utoipa::path(post, path = "/api/users/{id}/password-link", tag = "team", params(("id" = i64, Path)),
    responses((status = 201, body = PasswordLink), (status = 403, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)),
    security(("api_key" = [])))]
async fn password_link(
    State(state): State<AppState>,
    Admin(caller): Admin,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<PasswordLink>)> {
    let user = users::get(&state.pool, caller.account, id).await?;
    users::check_change(caller.role, None, &user, &Changes::default())?;
    if user.disabled_at.is_some() {
        return Err(ApiError::Conflict(
            "user_disabled",
            "enable the user first".into(),
        ));
    }
    let purpose = if user.password_set {
        Purpose::Reset
    } else {
        Purpose::Invite
    };
    let base = state.public_base(&headers);
    let sent = onboarding::deliver(
        &state,
        &base,
        caller.account,
        &user,
        purpose,
        caller.user_id(),
    )
    .await?;
    audit::record(
        &state.pool,
        Entry::by(
            &caller,
            "user.password_link",
            Some(format!("user:{id}")),
            json!({ "emailed": sent.outbox_id.is_some() }),
        ),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(PasswordLink {
            emailed: sent.outbox_id.is_some(),
            outbox_id: sent.outbox_id,
            link: sent.outbox_id.is_none().then_some(sent.url),
        }),
    ))
}

/// The first owner of an account (the command line's `user create`), with a setup link.
pub async fn create_first(
    pool: &sqlx::PgPool,
    base: &str,
    account: AccountId,
    email: &str,
    name: &str,
    role: Role,
) -> Result<(User, String)> {
    let email = Email::parse(email)
        .ok_or_else(|| ApiError::invalid(format!("{email:?} is not an email address")))?;
    let name = users::clean_name(Some(name))?;
    let user = users::create(pool, account, &email, &name, role).await?;
    let token = crate::auth::links::issue(pool, account, user.id, Purpose::Invite, None).await?;
    audit::record(
        pool,
        Entry {
            account,
            user_id: None,
            api_key_id: None,
            actor: "command line".into(),
            action: "user.invited",
            target: Some(format!("user:{}", user.id)),
            details: json!({ "email": user.email, "role": user.role, "emailed": false }),
            ip: None,
        },
    )
    .await?;
    Ok((user, format!("{base}{}", crate::auth::links::path(&token))))
}
