//! What an import does with each valid row, decided without the database: a row whose
//! email or phone an earlier row of the file has is a duplicate of that row; a row that
//! matches an existing lead (by email first, then phone, as the recording path matches)
//! fills only that lead's empty fields, never overwriting what is known.

use std::collections::HashMap;

use super::csv_map::LeadRow;

/// Splits the rows into the first of each email/phone and the duplicates
/// (`(row, "duplicate of row N")`).
pub fn dedupe(rows: Vec<LeadRow>) -> (Vec<LeadRow>, Vec<(u64, String)>) {
    let mut by_email: HashMap<String, u64> = HashMap::new();
    let mut by_phone: HashMap<String, u64> = HashMap::new();
    let mut kept = Vec::with_capacity(rows.len());
    let mut dupes = Vec::new();
    for r in rows {
        let first = r
            .email
            .as_ref()
            .and_then(|e| by_email.get(e))
            .or_else(|| r.phone.as_ref().and_then(|p| by_phone.get(p)));
        if let Some(first) = first {
            dupes.push((r.row, format!("duplicate of row {first}")));
            continue;
        }
        if let Some(e) = &r.email {
            by_email.insert(e.clone(), r.row);
        }
        if let Some(p) = &r.phone {
            by_phone.insert(p.clone(), r.row);
        }
        kept.push(r);
    }
    (kept, dupes)
}

/// An existing lead's fields an import may fill.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct Existing {
    pub id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    pub issues: Vec<String>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
    pub source: Option<String>,
    pub campaign: Option<String>,
    pub notes: Option<String>,
}

/// The values to write into an existing lead's empty fields (`None`: leave it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Fill {
    pub lead_id: i64,
    pub name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    pub issues: Option<Vec<String>>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
    pub source: Option<String>,
    pub campaign: Option<String>,
    pub notes: Option<String>,
}

impl Fill {
    pub fn is_empty(&self) -> bool {
        *self
            == Fill {
                lead_id: self.lead_id,
                ..Fill::default()
            }
    }
}

/// What the row fills in `lead`. `email_free` / `phone_free`: the row's email / phone
/// belongs to no other lead (else it is not copied: it would make two leads one person).
/// The stage and the creation time are never changed by an import.
pub fn fill(lead: &Existing, r: &LeadRow, email_free: bool, phone_free: bool) -> Fill {
    fn empty<T: Clone>(have: &Option<T>, new: &Option<T>) -> Option<T> {
        match have {
            None => new.clone(),
            Some(_) => None,
        }
    }
    Fill {
        lead_id: lead.id,
        name: empty(&lead.name, &r.name),
        email: empty(&lead.email, &r.email).filter(|_| email_free),
        phone: empty(&lead.phone, &r.phone).filter(|_| phone_free),
        property_address: empty(&lead.property_address, &r.property_address),
        roof_age_years: empty(&lead.roof_age_years, &r.roof_age_years),
        issues: (lead.issues.is_empty() && !r.issues.is_empty()).then(|| r.issues.clone()),
        timeline: empty(&lead.timeline, &r.timeline),
        budget: empty(&lead.budget, &r.budget),
        source: empty(&lead.source, &r.source),
        campaign: empty(&lead.campaign, &r.campaign),
        notes: empty(&lead.notes, &r.notes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: u64, email: Option<&str>, phone: Option<&str>) -> LeadRow {
        LeadRow {
            row: n,
            email: email.map(str::to_string),
            phone: phone.map(str::to_string),
            ..LeadRow::default()
        }
    }

    #[test]
    fn later_rows_with_a_known_email_or_phone_are_duplicates_of_the_first() {
        let (kept, dupes) = dedupe(vec![
            row(2, Some("a@x.co"), Some("+13126412278")),
            row(3, Some("b@x.co"), None),
            row(4, Some("c@x.co"), Some("+13126412278")),
            row(5, Some("b@x.co"), Some("+17736412278")),
            row(6, None, Some("+17736412279")),
        ]);
        assert_eq!(kept.iter().map(|r| r.row).collect::<Vec<_>>(), [2, 3, 6]);
        assert_eq!(
            dupes,
            [
                (4, "duplicate of row 2".into()),
                (5, "duplicate of row 3".into())
            ]
        );
    }

    #[test]
    fn only_empty_fields_are_filled() {
        let lead = Existing {
            id: 7,
            name: Some("Ann".into()),
            email: Some("a@x.co".into()),
            issues: vec!["leak".into()],
            ..Existing::default()
        };
        let r = LeadRow {
            name: Some("Annie".into()),
            email: Some("a@x.co".into()),
            phone: Some("+13126412278".into()),
            issues: vec!["hail".into()],
            roof_age_years: Some(20),
            notes: Some("gate code".into()),
            status: Some("won".into()),
            ..LeadRow::default()
        };
        let f = fill(&lead, &r, true, true);
        assert_eq!(
            f,
            Fill {
                lead_id: 7,
                phone: Some("+13126412278".into()),
                roof_age_years: Some(20),
                notes: Some("gate code".into()),
                ..Fill::default()
            }
        );
        // A phone another lead has is not copied.
        assert_eq!(fill(&lead, &r, true, false).phone, None);
        let same = Existing {
            phone: Some("+13126412278".into()),
            roof_age_years: Some(20),
            notes: Some("x".into()),
            ..lead
        };
        assert!(fill(&same, &r, true, true).is_empty());
    }
}
