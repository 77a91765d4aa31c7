//! The reply templates compiled into the binary (`templates/ai/*.j2`).

use minijinja::{AutoEscape, Environment};

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$((concat!("ai/", $name, ".j2"), include_str!(concat!("../../../templates/ai/", $name, ".j2")))),*]
    };
}

/// The templates compiled into the binary (name, source).
pub const EMBEDDED_TEMPLATES: &[(&str, &str)] = embedded!(
    "stop",
    "greeting",
    "thanks",
    "apology",
    "ack_leak",
    "tip_leak",
    "ack_storm",
    "ack_quote",
    "ack_scheduling",
    "price_objection",
    "human",
    "faq_service_area",
    "faq_hours",
    "faq_financing",
    "faq_insurance",
    "inspection_offer",
    "call_offer",
    "default_ack",
    "question_contact",
    "question_phone",
    "question_address",
    "question_roof_age",
    "question_timeline",
    "question_budget",
    "email",
);

pub(super) fn new_env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_trim_blocks(true);
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ai::RulesResponder;

    #[test]
    fn embedded_templates_all_compile() {
        let r = RulesResponder::new(None);
        for (name, _) in EMBEDDED_TEMPLATES {
            assert!(r.inner.embedded.get_template(name).is_ok(), "{name}");
        }
    }
}
