//! Message templates with variables (`{{ lead.first_name }}`, `{{ company.booking_link }}`,
//! `{{ user.name }}`): the words of canned replies, follow-up steps and alerts. Rendered
//! by minijinja in strict mode, so a variable the template names but the message does not
//! have is an error, never a blank in a text to a customer; checked when saved against
//! every variable there is, so a misspelt one is refused then. Pure ([`store`] keeps them).

pub mod store;

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

/// The variables a template may use, with a sample value each (used to check templates).
pub const VARIABLES: [(&str, &str); 20] = [
    ("lead.first_name", "Jane"),
    ("lead.last_name", "Doe"),
    ("lead.name", "Jane Doe"),
    ("lead.email", "jane@example.com"),
    ("lead.phone", "+13125550100"),
    ("lead.address", "123 Oak St, Dallas TX"),
    ("lead.roof_age", "20"),
    ("lead.timeline", "this week"),
    ("lead.budget", "$12k"),
    ("lead.stage", "quoted"),
    ("company.name", "Acme Roofing"),
    ("company.phone", "(312) 555-0100"),
    ("company.booking_link", "https://acme.example/book"),
    ("company.review_link", "https://g.page/r/acme/review"),
    ("company.hours", "Mon–Fri 7am–6pm"),
    ("company.service_area", "Chicago and suburbs"),
    ("company.signature", "— Mike, Acme Roofing"),
    ("user.name", "Mike Smith"),
    ("user.first_name", "Mike"),
    ("user.email", "mike@acme.example"),
];

/// Longest template body (characters).
pub const MAX_BODY: usize = 5000;

/// The values of one message: `group.name` → value; an absent key is undefined (strict).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Vars(BTreeMap<String, BTreeMap<String, String>>);

impl Vars {
    /// Sets `group.name` when `value` is present and not blank.
    pub fn set(&mut self, key: &str, value: Option<impl Into<String>>) -> &mut Self {
        let Some(v) = value
            .map(Into::into)
            .filter(|v: &String| !v.trim().is_empty())
        else {
            return self;
        };
        if let Some((group, name)) = key.split_once('.') {
            self.0
                .entry(group.to_string())
                .or_default()
                .insert(name.to_string(), v);
        }
        self
    }

    /// Whether `group.name` (or the whole group) has a value.
    pub fn has(&self, key: &str) -> bool {
        match key.split_once('.') {
            Some((g, n)) => self.0.get(g).is_some_and(|m| m.contains_key(n)),
            None => self.0.contains_key(key),
        }
    }

    /// Every variable set to its sample value (what saved templates are checked against).
    pub fn sample() -> Vars {
        let mut v = Vars::default();
        for (k, s) in VARIABLES {
            v.set(k, Some(s));
        }
        v
    }
}

fn env() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Plain text: SMS and email bodies are not HTML.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env
}

/// Renders `source` with `vars`; the error says which variable is missing or what is
/// wrong with the template, in words a roofer can act on.
pub fn render(source: &str, vars: &Vars) -> Result<String, String> {
    let env = env();
    let tmpl = env.template_from_str(source).map_err(describe)?;
    let out = tmpl.render(vars).map_err(|e| {
        if e.kind() != minijinja::ErrorKind::UndefinedError {
            return describe(e);
        }
        // Name what this message lacks (of the variables the template reads).
        let mut missing: Vec<String> = tmpl
            .undeclared_variables(true)
            .into_iter()
            .filter(|name| !vars.has(name))
            .collect();
        missing.sort();
        match missing.is_empty() {
            true => describe(e),
            false => format!(
                "no value for {} (give one, or write {{{{ var | default(\"…\") }}}})",
                missing.join(", ")
            ),
        }
    })?;
    Ok(out.trim().to_string())
}

/// Checks a template as saved: it parses, names only known variables, and says something.
pub fn validate(source: &str) -> Result<(), String> {
    if source.trim().is_empty() {
        return Err("the template is empty".into());
    }
    if source.chars().count() > MAX_BODY {
        return Err(format!("the template is longer than {MAX_BODY} characters"));
    }
    if let Some(unknown) = unknown_variable(source) {
        return Err(format!(
            "unknown variable {{{{ {unknown} }}}}: use one of {}",
            VARIABLES
                .iter()
                .map(|(k, _)| *k)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let out = render(source, &Vars::sample())?;
    if out.is_empty() {
        return Err("the template renders to nothing".into());
    }
    Ok(())
}

/// The first `group.name` the template refers to that is not a known variable (minijinja
/// lists the names a template reads without rendering it).
fn unknown_variable(source: &str) -> Option<String> {
    let env = env();
    let tmpl = env.template_from_str(source).ok()?;
    let known: Vec<&str> = VARIABLES.iter().map(|(k, _)| *k).collect();
    let groups: Vec<&str> = known
        .iter()
        .filter_map(|k| k.split_once('.').map(|(g, _)| g))
        .collect();
    let mut used: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
    used.sort();
    used.into_iter().find(|name| {
        let ok = known.contains(&name.as_str())
            || (!name.contains('.') && groups.contains(&name.as_str()));
        !ok
    })
}

fn describe(e: minijinja::Error) -> String {
    match e.kind() {
        minijinja::ErrorKind::UndefinedError => {
            let what = e.detail().unwrap_or("a variable").to_string();
            format!("no value for {what} (give one, or write {{{{ var | default(\"…\") }}}})")
        }
        _ => {
            let line = e
                .line()
                .map(|l| format!(" on line {l}"))
                .unwrap_or_default();
            format!(
                "the template does not read{line}: {}",
                e.detail().unwrap_or(&e.kind().to_string())
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead_vars() -> Vars {
        let mut v = Vars::default();
        v.set("lead.first_name", Some("Jane"))
            .set("company.name", Some("Acme Roofing"))
            .set("company.booking_link", Some("https://acme.example/book"))
            .set("lead.email", None::<String>)
            .set("lead.phone", Some("  "));
        v
    }

    #[test]
    fn variables_are_filled_in() {
        let out = render(
            "Hi {{ lead.first_name }}, it's {{ company.name }}. Book: {{company.booking_link}}",
            &lead_vars(),
        )
        .unwrap();
        assert_eq!(
            out,
            "Hi Jane, it's Acme Roofing. Book: https://acme.example/book"
        );
        // Plain text: nothing is HTML-escaped.
        let mut v = Vars::default();
        v.set("company.name", Some("Smith & Sons <Roofing>"));
        assert_eq!(
            render("{{ company.name }}", &v).unwrap(),
            "Smith & Sons <Roofing>"
        );
    }

    #[test]
    fn a_missing_value_is_an_error_not_a_blank_unless_a_default_is_given() {
        let err = render("Hi {{ lead.phone }}!", &lead_vars()).unwrap_err();
        assert!(err.starts_with("no value for lead.phone"), "{err}");
        let out = render(
            "Hi {{ lead.last_name | default(\"there\") }}!",
            &lead_vars(),
        )
        .unwrap();
        assert_eq!(out, "Hi there!");
    }

    #[test]
    fn templates_are_checked_when_saved() {
        assert!(validate("Hi {{ lead.first_name }} — {{ company.signature }}").is_ok());
        let err = validate("Hi {{ lead.frist_name }}").unwrap_err();
        assert!(
            err.starts_with("unknown variable {{ lead.frist_name }}"),
            "{err}"
        );
        let err = validate("Hi {{ customer.name }}").unwrap_err();
        assert!(err.contains("customer.name"), "{err}");
        let err = validate("Hi {{ lead.first_name ").unwrap_err();
        assert!(err.contains("does not read"), "{err}");
        assert!(validate("   ").is_err());
        assert!(validate(&"x".repeat(MAX_BODY + 1)).is_err());
        assert!(validate(
            "{% if lead.budget is defined %}Budget {{ lead.budget }}{% endif %}Thanks"
        )
        .is_ok());
        assert!(validate("{{ '' }}")
            .unwrap_err()
            .contains("renders to nothing"));
    }
}
