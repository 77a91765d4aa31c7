//! Website chat: sites and widget settings, the public session API the widget talks
//! to, lead extraction from free text, the roofer's conversations, and live delivery
//! across replicas.

pub mod config;
pub mod conversation;
pub mod cors;
pub mod inbox;
pub mod realtime;
pub mod session;
pub mod sites;
pub mod turn;
pub mod widget;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every chat route: the roofer's (API key) and the widget's (site key or session token,
/// behind the CORS middleware).
pub fn router() -> OpenApiRouter<AppState> {
    let mut public = session::router();
    for path in session::PUBLIC_PATHS {
        public = public.route(path, axum::routing::options(cors::preflight));
    }
    let public = public.layer(axum::middleware::from_fn(cors::public_cors));
    OpenApiRouter::new()
        .merge(sites::router())
        .merge(inbox::router())
        .merge(public)
}
