//! The mail corpus (`tests/corpus/mail`, see its README) and the checks of what a parser
//! must have read from each message (`expected.json`).
// Each test binary uses part of it.
#![allow(dead_code)]

use serde_json::Value;

pub struct Case {
    pub file: String,
    pub raw: Vec<u8>,
    pub exp: Value,
}

impl Case {
    pub fn quarantined(&self) -> bool {
        self.exp["quarantine"].as_bool().unwrap_or(false)
    }
}

pub fn corpus() -> Vec<Case> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/mail");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let mut cases: Vec<Case> = expected
        .as_object()
        .unwrap()
        .iter()
        .map(|(file, exp)| Case {
            raw: std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}")),
            file: file.clone(),
            exp: exp.clone(),
        })
        .collect();
    cases.sort_by(|a, b| a.file.cmp(&b.file));
    assert!(cases.len() >= 40, "the corpus is there");
    cases
}

/// What one path made of a message.
pub struct Seen<'a> {
    pub subject: Option<&'a str>,
    pub from: Option<&'a str>,
    pub content: &'a str,
    pub text: &'a str,
    pub attachments: usize,
    /// The header fields as read (the display name, the addressees, the ids, the date as
    /// RFC 3339 in UTC, the attachments' file names).
    pub from_name: Option<&'a str>,
    pub to: Vec<String>,
    pub message_id: Option<&'a str>,
    pub in_reply_to: Option<&'a str>,
    pub references: usize,
    pub date: Option<String>,
    pub auto_submitted: Option<&'a str>,
    pub attachment_filenames: Vec<String>,
}

/// The ways `seen` differs from what the corpus expects of `case`.
pub fn differences(case: &Case, seen: &Seen) -> Vec<String> {
    let e = &case.exp;
    let mut out = vec![];
    let mut fail = |what: String| out.push(format!("{}: {what}", case.file));
    if let Some(want) = e.get("subject") {
        let got = seen.subject.filter(|s| !s.is_empty());
        if got != want.as_str() {
            fail(format!("subject {got:?}, expected {want}"));
        }
    }
    if let Some(prefix) = e["subject_prefix"].as_str() {
        if !seen.subject.unwrap_or("").starts_with(prefix) {
            fail(format!(
                "subject {:?} does not start with {prefix:?}",
                seen.subject
            ));
        }
    }
    if let Some(want) = e["from"].as_str() {
        if seen.from != Some(want) {
            fail(format!("from {:?}, expected {want:?}", seen.from));
        }
    }
    for s in e["content_contains"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap();
        if !seen.content.contains(s) {
            fail(format!("content lacks {s:?}: {:?}", clip(seen.content)));
        }
    }
    for s in e["content_excludes"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap();
        if seen.content.contains(s) {
            fail(format!("content has {s:?}: {:?}", clip(seen.content)));
        }
    }
    for s in e["text_contains"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap();
        if !seen.text.contains(s) {
            fail(format!("text lacks {s:?}: {:?}", clip(seen.text)));
        }
    }
    if let Some(n) = e["attachments"].as_u64() {
        if seen.attachments as u64 != n {
            fail(format!("{} attachments, expected {n}", seen.attachments));
        }
    }
    let mut field = |name: &str, got: Value| {
        if let Some(want) = e.get(name) {
            if got != *want {
                out.push(format!("{}: {name} {got}, expected {want}", case.file));
            }
        }
    };
    field("from_name", seen.from_name.into());
    field("to", seen.to.clone().into());
    field("message_id", seen.message_id.into());
    field("in_reply_to", seen.in_reply_to.into());
    field("references_count", seen.references.into());
    // Without a Date header a stored row carries its time of arrival: nothing to compare.
    if !e["date"].is_null() {
        field("date", seen.date.clone().into());
    }
    field("auto_submitted", seen.auto_submitted.into());
    field(
        "attachment_filenames",
        seen.attachment_filenames.clone().into(),
    );
    let mut fail = |what: String| out.push(format!("{}: {what}", case.file));
    if seen.content.contains('\0') || seen.text.contains('\0') {
        fail("a NUL character was kept".into());
    }
    out
}

fn clip(s: &str) -> String {
    s.chars().take(300).collect()
}
