//! Website chat: sites and widget settings, the public session API the widget talks
//! to, lead extraction from free text, and live delivery across replicas.

pub mod extract;
