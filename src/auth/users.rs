//! The people of an account: roles, storage, and the rules about who may change whom.
//! Users are never deleted, only disabled (their name stays on what they did).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{AccountId, Email};
use crate::error::{unique_violation, ApiError, Result};

/// What a person may do. Ordered by power: `Member < Admin < Owner`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema, sqlx::Type,
)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    /// Reads and answers leads and conversations.
    Member,
    /// Also manages integrations, users, API keys and company settings.
    Admin,
    /// Also manages owners and the account's security settings.
    Owner,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "owner" => Some(Role::Owner),
            _ => None,
        }
    }
}

/// A user as the API shows it: never a password or a secret.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// False until the person set a password through their invitation link.
    pub password_set: bool,
    pub totp_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
}

pub const USER_COLUMNS: &str = "id, email, name, role, password_hash is not null as password_set, \
    totp_enabled_at is not null as totp_enabled, created_at, last_sign_in_at, disabled_at";

/// A name as stored: trimmed, at most 100 characters.
pub fn clean_name(name: Option<&str>) -> Result<String> {
    let n = name.unwrap_or("").trim();
    if n.chars().count() > 100 || n.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name must be at most 100 characters, without control characters",
        ));
    }
    Ok(n.to_string())
}

/// Adds a person to the account (no password yet: they set it through their link).
pub async fn create<'c, E>(
    exec: E,
    account: AccountId,
    email: &Email,
    name: &str,
    role: Role,
) -> Result<User>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query_as(&format!(
        "insert into users (account_id, email, name, role) values ($1, $2, $3, $4)
         returning {USER_COLUMNS}"
    ))
    .bind(account)
    .bind(&**email)
    .bind(name)
    .bind(role)
    .fetch_one(exec)
    .await
    .map_err(|e| match unique_violation(&e) {
        Some("users_account_id_email_key") => ApiError::Conflict(
            "user_exists",
            format!("{} is already a user of this account", &**email),
        ),
        _ => e.into(),
    })
}

/// The account's people, owners first, then by name.
pub async fn list(pool: &sqlx::PgPool, account: AccountId) -> Result<Vec<User>> {
    Ok(sqlx::query_as(&format!(
        "select {USER_COLUMNS} from users where account_id = $1
         order by disabled_at is not null, role = 'member', role = 'admin', lower(name), email"
    ))
    .bind(account)
    .fetch_all(pool)
    .await?)
}

/// One user of the account; another account's is "not found".
pub async fn get(pool: &sqlx::PgPool, account: AccountId, id: i64) -> Result<User> {
    sqlx::query_as(&format!(
        "select {USER_COLUMNS} from users where account_id = $1 and id = $2"
    ))
    .bind(account)
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(ApiError::NotFound("user"))
}

/// Changes asked of a user by someone else.
#[derive(Debug, Default)]
pub struct Changes {
    pub name: Option<String>,
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// Whether `actor` (role, own id) may apply `changes` to `target`: admins manage members
/// and admins, only owners touch owners or make them; nobody changes their own role or
/// disables themselves; the last active owner stays.
pub fn check_change(
    actor_role: Role,
    actor_id: Option<i64>,
    target: &User,
    changes: &Changes,
) -> Result<()> {
    let forbidden = |m: &str| Err(ApiError::Forbidden(m.to_string()));
    if actor_role < Role::Admin {
        return forbidden("managing users needs the admin or owner role");
    }
    let touches_owner = target.role == Role::Owner || changes.role == Some(Role::Owner);
    if touches_owner && actor_role < Role::Owner {
        return forbidden("only an owner may change an owner or make someone owner");
    }
    let own = actor_id == Some(target.id);
    if own && changes.role.is_some_and(|r| r != target.role) {
        return forbidden("you cannot change your own role: ask another owner");
    }
    if own && changes.disabled == Some(true) {
        return forbidden("you cannot disable yourself");
    }
    Ok(())
}

/// Applies checked changes; disabling or a role change ends the user's sessions (they
/// sign in again with what they may now do). Refuses to leave the account without an
/// active owner.
pub async fn apply(
    pool: &sqlx::PgPool,
    account: AccountId,
    id: i64,
    changes: &Changes,
) -> Result<User> {
    let mut tx = crate::db::begin(pool).await?;
    // Owner changes of one account queue here, so two can't each remove "the other" owner.
    sqlx::query("select id from accounts where id = $1 for update")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    let user: User = sqlx::query_as(&format!(
        "update users set
            name = coalesce($3, name),
            role = coalesce($4, role),
            disabled_at = case when $5 is null then disabled_at
                               when $5 then coalesce(disabled_at, now()) else null end
         where account_id = $1 and id = $2
         returning {USER_COLUMNS}"
    ))
    .bind(account)
    .bind(id)
    .bind(&changes.name)
    .bind(changes.role)
    .bind(changes.disabled)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(ApiError::NotFound("user"))?;
    let owners: i64 = sqlx::query_scalar(
        "select count(*) from users where account_id = $1 and role = 'owner' and disabled_at is null",
    )
    .bind(account)
    .fetch_one(&mut *tx)
    .await?;
    if owners == 0 {
        return Err(ApiError::Conflict(
            "last_owner",
            "the account needs at least one active owner: make someone else owner first".into(),
        ));
    }
    if changes.disabled == Some(true) || changes.role.is_some() {
        end_sessions(&mut *tx, id).await?;
    }
    tx.commit().await?;
    Ok(user)
}

/// Ends every dashboard session of the user.
pub async fn end_sessions<'c, E>(exec: E, user_id: i64) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Postgres>,
{
    sqlx::query("delete from dashboard_sessions where user_id = $1")
        .bind(user_id)
        .execute(exec)
        .await?;
    Ok(())
}

/// Stores a new password hash and ends all the user's sessions and pending sign-ins.
pub async fn set_password(pool: &sqlx::PgPool, user_id: i64, phc: &str) -> Result<()> {
    let mut tx = crate::db::begin(pool).await?;
    sqlx::query("update users set password_hash = $2, password_changed_at = now() where id = $1")
        .bind(user_id)
        .bind(phc)
        .execute(&mut *tx)
        .await?;
    end_sessions(&mut *tx, user_id).await?;
    sqlx::query("delete from sign_in_challenges where user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// A user as sign-in sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Credentials {
    pub id: i64,
    pub account_id: AccountId,
    pub email: String,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub totp_enabled: bool,
}

/// Every user with this email (one per account), most recently signed-in first.
pub async fn credentials(pool: &sqlx::PgPool, email: &Email) -> Result<Vec<Credentials>> {
    Ok(sqlx::query_as(
        "select id, account_id, email, password_hash, disabled_at is not null as disabled,
                totp_enabled_at is not null as totp_enabled
         from users where email = $1
         order by last_sign_in_at desc nulls last, id limit 5",
    )
    .bind(&**email)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> User {
        User {
            id,
            email: "a@b.c".into(),
            name: String::new(),
            role,
            password_set: true,
            totp_enabled: false,
            created_at: Utc::now(),
            last_sign_in_at: None,
            disabled_at: None,
        }
    }

    #[test]
    fn who_may_change_whom() {
        let promote = Changes {
            role: Some(Role::Owner),
            ..Default::default()
        };
        let disable = Changes {
            disabled: Some(true),
            ..Default::default()
        };
        let to_admin = Changes {
            role: Some(Role::Admin),
            ..Default::default()
        };
        let member = user(3, Role::Member);
        let owner = user(1, Role::Owner);
        assert!(check_change(Role::Admin, Some(2), &member, &to_admin).is_ok());
        assert!(check_change(Role::Admin, Some(2), &member, &promote).is_err());
        assert!(check_change(Role::Admin, Some(2), &owner, &disable).is_err());
        assert!(check_change(Role::Owner, Some(1), &member, &promote).is_ok());
        assert!(check_change(Role::Member, Some(3), &member, &disable).is_err());
        assert!(check_change(Role::Owner, Some(1), &owner, &disable).is_err());
        assert!(check_change(Role::Owner, Some(1), &owner, &to_admin).is_err());
        assert!(check_change(Role::Owner, None, &owner, &to_admin).is_ok());
        assert!(Role::Member < Role::Admin && Role::Admin < Role::Owner);
        assert_eq!(Role::parse(" Admin "), Some(Role::Admin));
        assert_eq!(Role::parse("boss"), None);
    }
}
