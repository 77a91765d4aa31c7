//! Which column holds which lead field (found from the headers, or given), and one
//! record read into a lead: email and phone normalized as everywhere else
//! (`domain::{Email, Phone}`), every value checked and bounded. Pure: no database.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Email, Phone};
use crate::hours::Zone;

/// The longest cell read (longer: the row is skipped with that reason).
pub const MAX_CELL_CHARS: usize = 10_000;

/// A lead field a column can fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Name,
    FirstName,
    LastName,
    Email,
    Phone,
    Address,
    Street,
    City,
    State,
    Zip,
    Status,
    Source,
    Campaign,
    RoofAge,
    Issues,
    Timeline,
    Budget,
    Notes,
    Created,
}

impl Field {
    pub const ALL: [Field; 19] = [
        Field::Name,
        Field::FirstName,
        Field::LastName,
        Field::Email,
        Field::Phone,
        Field::Address,
        Field::Street,
        Field::City,
        Field::State,
        Field::Zip,
        Field::Status,
        Field::Source,
        Field::Campaign,
        Field::RoofAge,
        Field::Issues,
        Field::Timeline,
        Field::Budget,
        Field::Notes,
        Field::Created,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::FirstName => "first_name",
            Field::LastName => "last_name",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Address => "address",
            Field::Street => "street",
            Field::City => "city",
            Field::State => "state",
            Field::Zip => "zip",
            Field::Status => "status",
            Field::Source => "source",
            Field::Campaign => "campaign",
            Field::RoofAge => "roof_age",
            Field::Issues => "issues",
            Field::Timeline => "timeline",
            Field::Budget => "budget",
            Field::Notes => "notes",
            Field::Created => "created",
        }
    }

    pub fn parse(key: &str) -> Option<Field> {
        let k = squash(key);
        Field::ALL.into_iter().find(|f| squash(f.key()) == k)
    }

    /// Headers that mean this field, squashed (lower case, letters and digits only), so
    /// `E-mail`, `e_mail` and `EMAIL` are one name.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Field::Name => &[
                "name",
                "fullname",
                "contactname",
                "customername",
                "customer",
                "leadname",
                "clientname",
                "contact",
                "homeowner",
                "homeownername",
            ],
            Field::FirstName => &["firstname", "first", "givenname", "fname"],
            Field::LastName => &["lastname", "last", "surname", "familyname", "lname"],
            Field::Email => &["email", "emailaddress", "mail", "contactemail", "email1"],
            Field::Phone => &[
                "phone",
                "phonenumber",
                "mobile",
                "mobilephone",
                "mobilenumber",
                "cell",
                "cellphone",
                "cellnumber",
                "telephone",
                "tel",
                "primaryphone",
                "homephone",
                "contactphone",
                "phone1",
            ],
            Field::Address => &[
                "address",
                "propertyaddress",
                "fulladdress",
                "homeaddress",
                "location",
                "jobaddress",
                "siteaddress",
            ],
            Field::Street => &[
                "street",
                "streetaddress",
                "address1",
                "addressline1",
                "street1",
            ],
            Field::City => &["city", "town"],
            Field::State => &["state", "province", "st", "stateprovince"],
            Field::Zip => &["zip", "zipcode", "postalcode", "postcode", "zip5"],
            Field::Status => &[
                "status",
                "stage",
                "leadstatus",
                "pipelinestage",
                "dealstage",
            ],
            Field::Source => &[
                "source",
                "leadsource",
                "origin",
                "referralsource",
                "channel",
            ],
            Field::Campaign => &["campaign", "campaignname", "utmcampaign", "adcampaign"],
            Field::RoofAge => &["roofage", "roofageyears", "ageofroof", "roofyears"],
            Field::Issues => &[
                "issues",
                "issue",
                "problem",
                "problems",
                "roofissues",
                "damage",
            ],
            Field::Timeline => &["timeline", "timeframe", "urgency", "when"],
            Field::Budget => &["budget", "pricerange", "estimatedbudget"],
            Field::Notes => &[
                "notes",
                "note",
                "comments",
                "comment",
                "description",
                "details",
            ],
            Field::Created => &[
                "created",
                "createdat",
                "date",
                "datecreated",
                "createddate",
                "createdon",
                "dateadded",
                "leaddate",
                "submitted",
                "submittedat",
                "timestamp",
            ],
        }
    }
}

/// Lower case, letters and digits only.
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Which column (index into the headers) fills each field.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    headers: Vec<String>,
    columns: [Option<usize>; Field::ALL.len()],
}

/// One field and the column that fills it, as reports show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MappedField {
    pub field: Field,
    /// The column's header; `null`: no column fills this field.
    pub column: Option<String>,
}

impl Mapping {
    /// Finds each field's column from the headers (case and punctuation ignored); the
    /// first column that matches a field takes it.
    pub fn detect(headers: &[String]) -> Mapping {
        let mut columns = [None; Field::ALL.len()];
        for (i, h) in headers.iter().enumerate() {
            let h = squash(h);
            if h.is_empty() {
                continue;
            }
            if let Some(f) = Field::ALL
                .into_iter()
                .find(|f| f.aliases().contains(&h.as_str()))
            {
                columns[f as usize].get_or_insert(i);
            }
        }
        Mapping {
            headers: headers.to_vec(),
            columns,
        }
    }

    /// Applies `field=Column` choices over the detected ones; an empty column (or `-`)
    /// means the field is not imported. Columns are matched by header, case-insensitively.
    pub fn set(&mut self, field: &str, column: &str) -> Result<(), String> {
        let f = Field::parse(field).ok_or_else(|| {
            format!(
                "map: {field:?} is not a lead field (one of {})",
                Field::ALL.map(Field::key).join(", ")
            )
        })?;
        let column = column.trim();
        if column.is_empty() || column == "-" {
            self.columns[f as usize] = None;
            return Ok(());
        }
        let i = self
            .headers
            .iter()
            .position(|h| h == column)
            .or_else(|| {
                self.headers
                    .iter()
                    .position(|h| h.to_lowercase() == column.to_lowercase())
            })
            .ok_or_else(|| {
                format!(
                    "map.{}: the file has no column {column:?} (its columns: {})",
                    f.key(),
                    self.headers.join(", ")
                )
            })?;
        self.columns[f as usize] = Some(i);
        Ok(())
    }

    /// The import needs a way to tell leads apart.
    pub fn check(&self) -> Result<(), String> {
        if self.column(Field::Email).is_none() && self.column(Field::Phone).is_none() {
            return Err(format!(
                "the file has no email or phone column (its columns: {}); name one with map.email or map.phone",
                self.headers.join(", ")
            ));
        }
        Ok(())
    }

    pub fn column(&self, f: Field) -> Option<usize> {
        self.columns[f as usize]
    }

    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Every field with its column (`null` where none), in field order.
    pub fn fields(&self) -> Vec<MappedField> {
        Field::ALL
            .into_iter()
            .map(|f| MappedField {
                field: f,
                column: self.column(f).and_then(|i| self.headers.get(i).cloned()),
            })
            .collect()
    }
}

/// A record read into a lead: the values an import writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct LeadRow {
    /// Row number as a spreadsheet shows it (the header is row 1).
    pub row: u64,
    pub name: Option<String>,
    /// Lower-cased.
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    pub property_address: Option<String>,
    pub roof_age_years: Option<i32>,
    pub issues: Vec<String>,
    pub timeline: Option<String>,
    pub budget: Option<String>,
    /// The file's source; new leads without one get `import`.
    pub source: Option<String>,
    pub campaign: Option<String>,
    /// Pipeline stage; new leads without one are `new`.
    pub status: Option<String>,
    pub notes: Option<String>,
    /// When the lead came in (history); new leads without one: the time of the import.
    pub created_at: Option<DateTime<Utc>>,
}

/// What reading a record needs beyond the record.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Region of phone numbers written without a country code.
    pub region: phonenumber::country::Id,
    /// The account's zone, for dates written without one.
    pub zone: Zone,
    pub now: DateTime<Utc>,
}

/// A value as shown in a reason: quoted, cut at 40 characters.
fn shown(v: &str) -> String {
    if v.chars().count() > 40 {
        format!("'{}…'", v.chars().take(40).collect::<String>())
    } else {
        format!("'{v}'")
    }
}

/// A cell as the lead field takes it: trimmed, empty = absent, and the `'` that an
/// export puts before `=`, `+`, `-`, `@` (so spreadsheets never run it as a formula)
/// taken off again.
pub fn cell_value(raw: &str) -> Option<&str> {
    let v = raw.trim();
    let v = match v.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.trim(),
        _ => v,
    };
    (!v.is_empty()).then_some(v)
}

/// Reads one record; the error is the reason the row is skipped.
pub fn parse_row(m: &Mapping, row: u64, cells: &[String], cx: &Context) -> Result<LeadRow, String> {
    let get = |f: Field| -> Result<Option<&str>, String> {
        let Some(raw) = m.column(f).and_then(|i| cells.get(i)) else {
            return Ok(None);
        };
        if raw.chars().count() > MAX_CELL_CHARS {
            return Err(format!(
                "column '{}' is longer than {MAX_CELL_CHARS} characters",
                m.headers()
                    .get(m.column(f).unwrap_or(0))
                    .map_or("", String::as_str)
            ));
        }
        Ok(cell_value(raw))
    };
    let text = |f: Field, max: usize| -> Result<Option<String>, String> {
        match get(f)? {
            Some(v) if v.chars().count() > max => Err(format!(
                "{} is longer than {max} characters",
                f.key().replace('_', " ")
            )),
            v => Ok(v.map(str::to_string)),
        }
    };
    let email = match get(Field::Email)? {
        None => None,
        Some(e) => Some(
            Email::parse(e)
                .ok_or_else(|| format!("email {} is not an email address", shown(e)))?
                .to_string(),
        ),
    };
    let phone = match get(Field::Phone)? {
        None => None,
        Some(p) => Some(
            Phone::parse(p, cx.region)
                .ok_or_else(|| format!("phone {} is not a phone number", shown(p)))?
                .to_string(),
        ),
    };
    if email.is_none() && phone.is_none() {
        return Err("no email or phone".into());
    }
    let name = match text(Field::Name, 200)? {
        Some(n) => Some(n),
        None => {
            let parts: Vec<String> = [Field::FirstName, Field::LastName]
                .into_iter()
                .filter_map(|f| get(f).transpose())
                .collect::<Result<Vec<&str>, String>>()?
                .into_iter()
                .map(str::to_string)
                .collect();
            let joined = parts.join(" ");
            if joined.chars().count() > 200 {
                return Err("name is longer than 200 characters".into());
            }
            (!joined.is_empty()).then_some(joined)
        }
    };
    let property_address = match text(Field::Address, 500)? {
        Some(a) => Some(a),
        None => {
            let state_zip: Vec<&str> = [get(Field::State)?, get(Field::Zip)?]
                .into_iter()
                .flatten()
                .collect();
            let state_zip = state_zip.join(" ");
            let parts: Vec<&str> = [get(Field::Street)?, get(Field::City)?]
                .into_iter()
                .flatten()
                .chain((!state_zip.is_empty()).then_some(state_zip.as_str()))
                .collect();
            let joined = parts.join(", ");
            if joined.chars().count() > 500 {
                return Err("address is longer than 500 characters".into());
            }
            (!joined.is_empty()).then_some(joined)
        }
    };
    let status = match get(Field::Status)? {
        None => None,
        Some(s) => Some(parse_status(s).ok_or_else(|| {
            format!(
                "status {} is not a stage ({})",
                shown(s),
                crate::leads::STATUSES.join(", ")
            )
        })?),
    };
    let roof_age_years = match get(Field::RoofAge)? {
        None => None,
        Some(a) => Some(
            parse_years(a)
                .ok_or_else(|| format!("roof age {} is not a number of years (0–200)", shown(a)))?,
        ),
    };
    let issues = match get(Field::Issues)? {
        None => Vec::new(),
        Some(list) => {
            let list = split_issues(list);
            if list.len() > 50 || list.iter().any(|s| s.chars().count() > 200) {
                return Err("issues: at most 50 items of at most 200 characters".into());
            }
            list
        }
    };
    let created_at = match get(Field::Created)? {
        None => None,
        Some(d) => {
            let at = parse_date(d, cx.zone).ok_or_else(|| {
                format!(
                    "created {} is not a date (2025-01-12, 01/12/2025 or 2025-01-12T09:30:00Z)",
                    shown(d)
                )
            })?;
            if at > cx.now + chrono::Duration::minutes(5) {
                return Err(format!("created {} is in the future", shown(d)));
            }
            Some(at)
        }
    };
    Ok(LeadRow {
        row,
        name,
        email,
        phone,
        property_address,
        roof_age_years,
        issues,
        timeline: text(Field::Timeline, 200)?,
        budget: text(Field::Budget, 200)?,
        source: text(Field::Source, 200)?,
        campaign: text(Field::Campaign, 200)?,
        status,
        notes: text(Field::Notes, MAX_CELL_CHARS)?,
        created_at,
    })
}

/// `Inspection scheduled`, `QUOTED`, `closed-won`… as a pipeline stage.
fn parse_status(s: &str) -> Option<String> {
    let k: String = s
        .trim()
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '_' })
        .collect();
    let k = k.trim_matches('_');
    let k = match k {
        "closed_won" | "sold" | "signed" => "won",
        "closed_lost" | "dead" => "lost",
        "scheduled" | "appointment_set" | "inspection_set" => "inspection_scheduled",
        "estimate_sent" | "quote_sent" | "proposal_sent" => "quoted",
        other => other,
    };
    crate::leads::STATUSES.contains(&k).then(|| k.to_string())
}

/// `15`, `15 years`, `15 yrs`, `15.0`.
fn parse_years(s: &str) -> Option<i32> {
    let s = s.trim().to_lowercase();
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    let rest = s[digits.len()..].trim();
    let rest = rest.strip_prefix(".0").unwrap_or(rest).trim();
    if digits.is_empty() || !["", "y", "yr", "yrs", "year", "years"].contains(&rest) {
        return None;
    }
    digits.parse().ok().filter(|n| (0..=200).contains(n))
}

/// A list in one cell: split on `;`, `|` or line breaks when there are any, else on commas.
fn split_issues(s: &str) -> Vec<String> {
    let parts: Vec<&str> = if s.contains([';', '|', '\n']) {
        s.split([';', '|', '\n']).collect()
    } else {
        s.split(',').collect()
    };
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        let p = p.trim();
        if !p.is_empty() && !out.iter().any(|o| o == p) {
            out.push(p.to_string());
        }
    }
    out
}

/// RFC 3339, or a date or date-time without a zone (read in the account's zone):
/// `2025-01-12`, `2025-01-12 09:30[:00]`, `01/12/2025` (US order), `1/12/25`,
/// `01/12/2025 9:30`.
pub fn parse_date(s: &str, zone: Zone) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    read_date(s.trim(), zone).filter(|t| t.year() >= 1900)
}

fn read_date(s: &str, zone: Zone) -> Option<DateTime<Utc>> {
    // `1/2/25` is 2025, not the year 25: the year's digits pick the format.
    let short_year = s
        .split_whitespace()
        .next()
        .and_then(|d| d.rsplit('/').next())
        .is_some_and(|y| y.len() <= 2);
    let (us_time, us_date): (&[&str], &str) = if short_year {
        (&["%m/%d/%y %H:%M:%S", "%m/%d/%y %H:%M"], "%m/%d/%y")
    } else {
        (&["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"], "%m/%d/%Y")
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%:z") {
        return Some(t.with_timezone(&Utc));
    }
    let iso = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"];
    for f in iso.iter().chain(us_time) {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(zone.instant(t));
        }
    }
    for f in ["%Y-%m-%d", us_date] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return d.and_hms_opt(0, 0, 0).map(|t| zone.instant(t));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    fn cx() -> Context {
        Context {
            region: phonenumber::country::Id::US,
            zone: Zone::parse("America/Chicago").unwrap(),
            now: "2026-12-07T12:00:00Z".parse().unwrap(),
        }
    }

    fn row(m: &Mapping, cells: &[&str]) -> Result<LeadRow, String> {
        let cells: Vec<String> = cells.iter().map(|s| s.to_string()).collect();
        parse_row(m, 2, &cells, &cx())
    }

    #[test]
    fn headers_are_detected_whatever_their_case_and_punctuation() {
        let cases: &[(&str, Field)] = &[
            ("Full Name", Field::Name),
            ("E-mail", Field::Email),
            ("EMAIL ADDRESS", Field::Email),
            ("Cell Phone", Field::Phone),
            ("mobile", Field::Phone),
            ("property_address", Field::Address),
            ("Street Address", Field::Street),
            ("Zip Code", Field::Zip),
            ("Stage", Field::Status),
            ("Lead Source", Field::Source),
            ("Roof Age (years)", Field::RoofAge),
            ("roof_age_years", Field::RoofAge),
            ("Time frame", Field::Timeline),
            ("created_at", Field::Created),
            ("Date", Field::Created),
            ("First Name", Field::FirstName),
            ("Comments", Field::Notes),
        ];
        for (h, f) in cases {
            let m = Mapping::detect(&headers(&["id", h]));
            assert_eq!(m.column(*f), Some(1), "{h} → {f:?}");
        }
        let m = Mapping::detect(&headers(&["Score", "Favourite colour"]));
        assert!(Field::ALL.iter().all(|f| m.column(*f).is_none()));
        assert!(m.check().unwrap_err().contains("no email or phone column"));
    }

    #[test]
    fn the_first_column_of_a_field_wins_and_choices_override() {
        let mut m = Mapping::detect(&headers(&["Phone", "Mobile", "Email", "Status"]));
        assert_eq!(m.column(Field::Phone), Some(0));
        m.set("phone", "mobile").unwrap();
        assert_eq!(m.column(Field::Phone), Some(1));
        m.set("status", "").unwrap();
        assert_eq!(m.column(Field::Status), None);
        assert!(m
            .set("email", "nope")
            .unwrap_err()
            .contains("no column \"nope\""));
        assert!(m
            .set("colour", "Email")
            .unwrap_err()
            .contains("not a lead field"));
        m.set("Roof Age", "Status").unwrap();
        assert_eq!(m.column(Field::RoofAge), Some(3));
    }

    #[test]
    fn a_row_reads_into_a_normalized_lead() {
        let m = Mapping::detect(&headers(&[
            "First Name",
            "Last Name",
            "E-mail",
            "Cell",
            "Street",
            "City",
            "State",
            "Zip",
            "Stage",
            "Roof age",
            "Issues",
            "Notes",
            "Date",
        ]));
        let l = row(
            &m,
            &[
                "Ann",
                "Lee",
                " Ann@X.co ",
                "(312) 641-2278",
                "1 Main St",
                "Springfield",
                "IL",
                "62701",
                "Inspection scheduled",
                "15 years",
                "leak; hail damage",
                "gate code 12",
                "2025-01-12",
            ],
        )
        .unwrap();
        assert_eq!(l.name.as_deref(), Some("Ann Lee"));
        assert_eq!(l.email.as_deref(), Some("ann@x.co"));
        assert_eq!(l.phone.as_deref(), Some("+13126412278"));
        assert_eq!(
            l.property_address.as_deref(),
            Some("1 Main St, Springfield, IL 62701")
        );
        assert_eq!(l.status.as_deref(), Some("inspection_scheduled"));
        assert_eq!(l.roof_age_years, Some(15));
        assert_eq!(l.issues, ["leak", "hail damage"]);
        assert_eq!(l.notes.as_deref(), Some("gate code 12"));
        // Midnight in Chicago.
        assert_eq!(l.created_at, Some("2025-01-12T06:00:00Z".parse().unwrap()));
        assert_eq!(l.source, None);
    }

    #[test]
    fn bad_rows_say_why() {
        let m = Mapping::detect(&headers(&[
            "name", "email", "phone", "status", "roof age", "created",
        ]));
        let cases: &[(&[&str], &str)] = &[
            (&["Ann", "", "", "", "", ""], "no email or phone"),
            (
                &["Ann", "", "12", "", "", ""],
                "phone '12' is not a phone number",
            ),
            (
                &["Ann", "ann@", "", "", "", ""],
                "email 'ann@' is not an email address",
            ),
            (
                &["Ann", "a@x.co", "", "hot", "", ""],
                "status 'hot' is not a stage",
            ),
            (
                &["Ann", "a@x.co", "", "", "old", ""],
                "roof age 'old' is not a number",
            ),
            (
                &["Ann", "a@x.co", "", "", "", "yesterday"],
                "created 'yesterday' is not a date",
            ),
            (
                &["Ann", "a@x.co", "", "", "", "2031-01-01"],
                "created '2031-01-01' is in the future",
            ),
        ];
        for (cells, why) in cases {
            let e = row(&m, cells).unwrap_err();
            assert!(e.starts_with(why), "{cells:?}: {e}");
        }
        let long = "x".repeat(MAX_CELL_CHARS + 1);
        let e = row(&m, &[&long, "a@x.co", "", "", "", ""]).unwrap_err();
        assert_eq!(e, "column 'name' is longer than 10000 characters");
        let e = row(&m, &[&"y".repeat(201), "a@x.co", "", "", "", ""]).unwrap_err();
        assert_eq!(e, "name is longer than 200 characters");
    }

    #[test]
    fn exported_cells_read_back_without_their_formula_guard() {
        assert_eq!(cell_value("'+13126412278"), Some("+13126412278"));
        assert_eq!(cell_value("'=1+1"), Some("=1+1"));
        assert_eq!(cell_value("'tis"), Some("'tis"));
        assert_eq!(cell_value("  "), None);
        let m = Mapping::detect(&headers(&["phone"]));
        assert_eq!(
            row(&m, &["'+13126412278"]).unwrap().phone.as_deref(),
            Some("+13126412278")
        );
    }

    #[test]
    fn dates_years_stages_and_lists() {
        let z = Zone::parse("UTC").unwrap();
        let at = |s: &str| parse_date(s, z).map(|t| t.to_rfc3339());
        assert_eq!(
            at("2025-01-12T09:30:00-06:00").unwrap(),
            "2025-01-12T15:30:00+00:00"
        );
        assert_eq!(at("01/12/2025").unwrap(), "2025-01-12T00:00:00+00:00");
        assert_eq!(at("1/2/25 9:05").unwrap(), "2025-01-02T09:05:00+00:00");
        assert_eq!(at("2025-01-12 09:30").unwrap(), "2025-01-12T09:30:00+00:00");
        assert_eq!(at("12/31"), None);
        assert_eq!(parse_years("15"), Some(15));
        assert_eq!(parse_years("15 yrs"), Some(15));
        assert_eq!(parse_years("15.0"), Some(15));
        assert_eq!(parse_years("201"), None);
        assert_eq!(parse_years("about 15"), None);
        assert_eq!(parse_status("Closed-Won").as_deref(), Some("won"));
        assert_eq!(parse_status("QUOTED").as_deref(), Some("quoted"));
        assert_eq!(parse_status("warm"), None);
        assert_eq!(split_issues("leak, hail"), ["leak", "hail"]);
        assert_eq!(split_issues("hail, wind; leak"), ["hail, wind", "leak"]);
        assert_eq!(split_issues("leak;;leak"), ["leak"]);
    }
}
