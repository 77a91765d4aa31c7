//! The Team page: the account's people, and for admins and owners the invite form, each
//! person's role / disable / password-link controls, the lead assignment rule and (owners)
//! the two-factor requirement. Changes go through the JSON API from the page's script.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Serialize;

use super::format::Clock;
use super::{layout, PageError};
use crate::auth::session::{Dash, Session};
use crate::auth::users::{self, Role, User};
use crate::dashboard::render;
use crate::state::AppState;
use crate::team::settings::{self, AssignmentRule};

#[derive(Serialize)]
struct PersonView {
    id: i64,
    name: String,
    email: String,
    role: &'static str,
    /// `active`, `invited` (no password yet) or `disabled`.
    status: &'static str,
    totp: bool,
    last_sign_in: Option<String>,
    last_sign_in_title: Option<String>,
    is_self: bool,
    /// The signed-in person may change this one's role and disable them.
    can_change: bool,
    /// The signed-in person may make this one a password link.
    can_link: bool,
    /// May take part in lead assignment.
    assignable: bool,
}

fn status_of(u: &User) -> &'static str {
    if u.disabled_at.is_some() {
        "disabled"
    } else if !u.password_set {
        "invited"
    } else {
        "active"
    }
}

/// Admins manage members and admins; only owners touch owners (as `users::check_change`).
fn manages(s: &Session, target: &User) -> bool {
    s.role >= Role::Admin && (target.role != Role::Owner || s.role == Role::Owner)
}

/// The team, read-only for members.
pub async fn team(State(state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    let account = s.account_id;
    let clock = Clock::of(&state.pool, account).await?;
    let people = users::list(&state.pool, account).await?;
    let assignment = settings::assignment(&state.pool, account).await?;
    let require_totp: bool = sqlx::query_scalar("select require_totp from accounts where id = $1")
        .bind(account)
        .fetch_one(&state.pool)
        .await?;
    let me = s.user.as_ref().map(|u| u.id);
    let views: Vec<PersonView> = people
        .iter()
        .map(|u| {
            let is_self = me == Some(u.id);
            PersonView {
                id: u.id,
                name: u.name.clone(),
                email: u.email.clone(),
                role: u.role.as_str(),
                status: status_of(u),
                totp: u.totp_enabled,
                last_sign_in: u.last_sign_in_at.map(|t| clock.ago(t)),
                last_sign_in_title: u.last_sign_in_at.map(|t| clock.when(t)),
                is_self,
                can_change: manages(&s, u) && !is_self,
                can_link: manages(&s, u) && u.disabled_at.is_none(),
                assignable: u.disabled_at.is_none(),
            }
        })
        .collect();
    let label_of = |id: i64| {
        people
            .iter()
            .find(|u| u.id == id)
            .map(|u| {
                if u.name.is_empty() {
                    u.email.clone()
                } else {
                    u.name.clone()
                }
            })
            .unwrap_or_else(|| format!("user {id}"))
    };
    // In words, for members (who see the rule but cannot change it).
    let rule_text = match assignment.rule {
        AssignmentRule::Nobody => "New leads wait unassigned.".to_string(),
        AssignmentRule::One => format!(
            "Every new lead goes to {}.",
            assignment.user_id.map(label_of).unwrap_or_default()
        ),
        AssignmentRule::RoundRobin => format!(
            "New leads go in turn to {}.",
            assignment
                .member_ids
                .iter()
                .map(|id| label_of(*id))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let rule = match assignment.rule {
        AssignmentRule::Nobody => "nobody",
        AssignmentRule::One => "one",
        AssignmentRule::RoundRobin => "round_robin",
    };
    Ok(render(
        StatusCode::OK,
        "team.html",
        context! {
            people => views,
            assignment => context! {
                rule,
                user_id => assignment.user_id,
                member_ids => assignment.member_ids,
                text => rule_text,
            },
            require_totp,
            ..layout(&s, "team", "Team")
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reads_disabled_then_invited() {
        let mut u = User {
            id: 1,
            email: "a@b.c".into(),
            name: String::new(),
            role: Role::Member,
            password_set: false,
            totp_enabled: false,
            created_at: chrono::Utc::now(),
            last_sign_in_at: None,
            disabled_at: None,
        };
        assert_eq!(status_of(&u), "invited");
        u.password_set = true;
        assert_eq!(status_of(&u), "active");
        u.disabled_at = Some(chrono::Utc::now());
        assert_eq!(status_of(&u), "disabled");
    }
}
