//! The team of an account over HTTP: people and invitations ([`people`]), the signed-in
//! person's own password and two-factor ([`me`]), the account's security and lead
//! assignment rules ([`settings`]), and the links that set a password ([`onboarding`]).

pub mod me;
pub mod onboarding;
pub mod people;
pub mod settings;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(people::router())
        .merge(me::router())
        .merge(settings::router())
        .merge(crate::audit::router())
}
