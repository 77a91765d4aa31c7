//! A lead's known fields completed with what a message yields.

use super::timeline::TIMELINES;
use crate::domain::LeadProfile;

/// `known` completed with `found`, and the names of the fields that changed.
///
/// A known value is never overwritten by a weaker guess: fields are only filled when empty,
/// except that a longer address containing the known one replaces it (it is more complete),
/// a timeline is replaced by a more urgent one, and issues are unioned.
pub fn merge(known: &LeadProfile, found: &LeadProfile) -> (LeadProfile, Vec<&'static str>) {
    let mut out = known.clone();
    let mut changed = Vec::new();
    let mut note = |did: bool, field: &'static str| {
        if did {
            changed.push(field);
        }
    };
    note(fill(&mut out.name, &found.name), "name");
    note(fill(&mut out.email, &found.email), "email");
    note(fill(&mut out.phone, &found.phone), "phone");
    note(
        refine_address(&mut out.property_address, &found.property_address),
        "property_address",
    );
    note(
        out.roof_age_years.is_none() && found.roof_age_years.is_some(),
        "roof_age_years",
    );
    out.roof_age_years = out.roof_age_years.or(found.roof_age_years);
    note(union(&mut out.issues, &found.issues), "issues");
    note(hasten(&mut out.timeline, &found.timeline), "timeline");
    note(fill(&mut out.budget, &found.budget), "budget");
    (out, changed)
}

fn is_blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn fill(slot: &mut Option<String>, new: &Option<String>) -> bool {
    if !is_blank(slot) || is_blank(new) {
        return false;
    }
    slot.clone_from(new);
    true
}

fn refine_address(slot: &mut Option<String>, new: &Option<String>) -> bool {
    let squash = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    match (slot.as_deref(), new.as_deref()) {
        (Some(old), Some(new)) if !old.trim().is_empty() => {
            let (old, new_squashed) = (squash(old), squash(new));
            if new_squashed.len() <= old.len() || !new_squashed.contains(&old) {
                return false;
            }
            *slot = Some(new.to_owned());
            true
        }
        _ => fill(slot, new),
    }
}

fn union(issues: &mut Vec<String>, new: &[String]) -> bool {
    let before = issues.len();
    for tag in new {
        if !issues.contains(tag) {
            issues.push(tag.clone());
        }
    }
    issues.len() > before
}

/// Takes `new` when it is more urgent; a known timeline that isn't a canonical tag was typed by
/// staff and is kept.
fn hasten(slot: &mut Option<String>, new: &Option<String>) -> bool {
    let rank = |t: &str| TIMELINES.iter().position(|x| *x == t);
    let Some(new_rank) = new.as_deref().and_then(rank) else {
        return false;
    };
    if !is_blank(slot)
        && slot
            .as_deref()
            .and_then(rank)
            .is_none_or(|old| old <= new_rank)
    {
        return false;
    }
    slot.clone_from(new);
    true
}

#[cfg(test)]
mod tests {
    use super::super::tests::{none, s, tags};
    use super::*;

    fn known() -> LeadProfile {
        LeadProfile {
            name: s("Jane Doe"),
            email: s("jane@example.com"),
            phone: s("+12147483647"),
            property_address: s("123 Oak St"),
            roof_age_years: Some(20),
            issues: tags(&["leak", "custom tag"]),
            timeline: s("this_month"),
            budget: s("$12,000"),
        }
    }

    #[test]
    fn merge_fills_empty_fields_only() {
        let found = LeadProfile {
            name: s("Bob"),
            email: s("bob@example.com"),
            phone: s("+14695550199"),
            property_address: s("9 Elm St"),
            roof_age_years: Some(5),
            issues: tags(&["leak"]),
            timeline: s("few_months"),
            budget: s("$5,000"),
        };
        assert_eq!(merge(&known(), &found), (known(), vec![]));

        let blank = LeadProfile {
            name: s("  "),
            ..LeadProfile::default()
        };
        let (merged, changed) = merge(&blank, &found);
        assert_eq!(
            merged,
            LeadProfile {
                name: s("Bob"),
                email: s("bob@example.com"),
                phone: s("+14695550199"),
                property_address: s("9 Elm St"),
                roof_age_years: Some(5),
                issues: tags(&["leak"]),
                timeline: s("few_months"),
                budget: s("$5,000"),
            }
        );
        assert_eq!(
            changed,
            [
                "name",
                "email",
                "phone",
                "property_address",
                "roof_age_years",
                "issues",
                "timeline",
                "budget"
            ]
        );
    }

    #[test]
    fn merge_refines_an_address() {
        let fuller = LeadProfile {
            property_address: s("123  oak st, Dallas TX 75201"),
            ..none()
        };
        let (merged, changed) = merge(&known(), &fuller);
        assert_eq!(merged.property_address, s("123  oak st, Dallas TX 75201"));
        assert_eq!(changed, ["property_address"]);

        for other in ["456 Elm St, Dallas TX 75201", "123 Oak", "123 Oak St"] {
            let found = LeadProfile {
                property_address: s(other),
                ..none()
            };
            assert_eq!(merge(&known(), &found), (known(), vec![]), "{other}");
        }
    }

    #[test]
    fn merge_takes_only_a_more_urgent_timeline() {
        let with = |t: &str| LeadProfile {
            timeline: s(t),
            ..none()
        };
        let (merged, changed) = merge(&known(), &with("asap"));
        assert_eq!((merged.timeline, changed), (s("asap"), vec!["timeline"]));
        for weaker in ["this_month", "next_month", "just_browsing", "someday"] {
            assert_eq!(
                merge(&known(), &with(weaker)),
                (known(), vec![]),
                "{weaker}"
            );
        }
        let typed_by_staff = LeadProfile {
            timeline: s("after tax season"),
            ..known()
        };
        assert_eq!(merge(&typed_by_staff, &with("asap")).1, Vec::<&str>::new());
    }

    #[test]
    fn merge_unions_issues() {
        let found = LeadProfile {
            issues: tags(&["gutters", "leak", "mold"]),
            ..none()
        };
        let (merged, changed) = merge(&known(), &found);
        assert_eq!(
            merged.issues,
            tags(&["leak", "custom tag", "gutters", "mold"])
        );
        assert_eq!(changed, ["issues"]);
        let same = LeadProfile {
            issues: tags(&["leak"]),
            ..none()
        };
        assert_eq!(merge(&known(), &same), (known(), vec![]));
    }
}
