//! My account (`auth::session::ENROL_PAGE`): change my password, and set up or turn off
//! two-factor. The one page open to a user who must still set up two-factor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;

use super::{layout, PageError};
use crate::auth::session::Dash;
use crate::auth::users;
use crate::dashboard::render;
use crate::state::AppState;

/// The signed-in person's password and two-factor; key sessions are told there is none.
pub async fn security(State(state): State<AppState>, Dash(s): Dash) -> Result<Response, PageError> {
    let me = match &s.user {
        Some(u) => Some(users::get(&state.pool, s.account_id, u.id).await?),
        None => None,
    };
    let require_totp: bool = sqlx::query_scalar("select require_totp from accounts where id = $1")
        .bind(s.account_id)
        .fetch_one(&state.pool)
        .await?;
    Ok(render(
        StatusCode::OK,
        "security.html",
        context! {
            me => me.map(|u| context! {
                email => u.email,
                name => u.name,
                totp => u.totp_enabled,
            }),
            require_totp,
            ..layout(&s, "account", "My account")
        },
    ))
}
