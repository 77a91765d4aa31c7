//! MIME → `ParsedEmail`: addresses, subject, date, text body (HTML converted when there
//! is no text part), the reply with quotes and signature trimmed, threading ids,
//! attachments and the headers the auto-reply guard reads. Never fails: what cannot be
//! parsed is noted in `parse_errors` and the message is kept with whatever was read.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Longest subject / address kept (the communications table's limits).
const MAX_SUBJECT: usize = 1000;
const MAX_ADDRESS: usize = 500;

/// One attachment: metadata plus its bytes (stored once, keyed by SHA-256).
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub size: usize,
    pub content_id: Option<String>,
    pub sha256: Vec<u8>,
    pub data: Vec<u8>,
}

impl Attachment {
    /// Hashes the content.
    pub fn new(
        filename: Option<String>,
        content_type: String,
        content_id: Option<String>,
        data: Vec<u8>,
    ) -> Self {
        Self {
            filename,
            content_type,
            size: data.len(),
            content_id,
            sha256: Sha256::digest(&data).to_vec(),
            data,
        }
    }

    /// What the communication row keeps (no content).
    pub fn meta(&self) -> Value {
        json!({
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
            "content_id": self.content_id,
            "sha256": hex::encode(&self.sha256),
        })
    }
}

/// Everything Leadline keeps of one email.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedEmail {
    /// Without angle brackets.
    pub message_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Oldest first, without angle brackets.
    pub references: Vec<String>,
    pub from: Option<String>,
    pub from_name: Option<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub subject: Option<String>,
    pub date: Option<DateTime<Utc>>,
    /// The whole text body.
    pub text: String,
    /// The new part of the message: quoted reply and signature trimmed.
    pub content: String,
    pub attachments: Vec<Attachment>,
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub list_id: Option<String>,
    pub parse_errors: Vec<String>,
}

impl ParsedEmail {
    /// The thread's root: first of References, else In-Reply-To, else Message-ID.
    pub fn thread_key(&self) -> Option<String> {
        self.references
            .first()
            .or(self.in_reply_to.as_ref())
            .or(self.message_id.as_ref())
            .cloned()
    }

    /// Metadata stored beside the communication.
    pub fn metadata(&self, extra: Value) -> Value {
        let mut m = json!({
            "email": {
                "message_id": self.message_id,
                "in_reply_to": self.in_reply_to,
                "references": self.references,
                "from_name": self.from_name,
                "to": self.to,
                "cc": self.cc,
                "body_text": self.text,
                "auto_submitted": self.auto_submitted,
                "precedence": self.precedence,
                "list_id": self.list_id,
            }
        });
        if !self.parse_errors.is_empty() {
            m["parse_errors"] = json!(self.parse_errors);
        }
        if let (Some(obj), Value::Object(extra)) = (m.as_object_mut(), extra) {
            obj.extend(extra);
        }
        m
    }

    /// Cuts fields to the lengths the store accepts.
    pub fn clamp(&mut self) {
        let cut = |s: &mut Option<String>, max: usize| {
            if let Some(v) = s {
                if v.chars().count() > max {
                    *v = v.chars().take(max).collect();
                }
            }
        };
        cut(&mut self.subject, MAX_SUBJECT);
        cut(&mut self.from, MAX_ADDRESS);
        cut(&mut self.message_id, 400);
        cut(&mut self.in_reply_to, MAX_SUBJECT);
        self.references.iter_mut().for_each(|r| {
            if r.chars().count() > MAX_SUBJECT {
                *r = r.chars().take(MAX_SUBJECT).collect();
            }
        });
        if self.from.as_deref().is_some_and(|f| !f.contains('@')) {
            self.from = None;
        }
    }
}

fn strip_brackets(s: &str) -> Option<String> {
    let t = s
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Message ids of an In-Reply-To / References header value.
fn ids(v: &HeaderValue) -> Vec<String> {
    match v {
        HeaderValue::Text(t) => t.split_whitespace().filter_map(strip_brackets).collect(),
        HeaderValue::TextList(l) => l
            .iter()
            .flat_map(|t| t.split_whitespace())
            .filter_map(strip_brackets)
            .collect(),
        _ => vec![],
    }
}

fn header_text(msg: &mail_parser::Message, name: &str) -> Option<String> {
    msg.header_raw(name)
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|v| !v.is_empty())
}

fn addresses(a: Option<&mail_parser::Address>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(|x| x.trim().to_ascii_lowercase())
            .filter(|x| x.contains('@'))
            .collect()
    })
    .unwrap_or_default()
}

/// Parses raw RFC 5322 bytes.
pub fn parse(raw: &[u8]) -> ParsedEmail {
    let Some(msg) = MessageParser::default().parse(raw) else {
        let text = String::from_utf8_lossy(raw).into_owned();
        return ParsedEmail {
            content: trim_reply(&text),
            text,
            parse_errors: vec!["the message could not be parsed as MIME".into()],
            ..ParsedEmail::default()
        };
    };
    let mut p = ParsedEmail {
        message_id: msg.message_id().and_then(strip_brackets),
        in_reply_to: ids(msg.in_reply_to()).into_iter().next(),
        references: ids(msg.references()),
        subject: msg.subject().map(|s| s.trim().to_string()),
        auto_submitted: header_text(&msg, "Auto-Submitted"),
        precedence: header_text(&msg, "Precedence"),
        list_id: header_text(&msg, "List-Id"),
        to: addresses(msg.to()),
        cc: addresses(msg.cc()),
        ..ParsedEmail::default()
    };
    match msg.from().and_then(|f| f.first()) {
        Some(addr) => {
            p.from = addr.address().map(|a| a.trim().to_ascii_lowercase());
            p.from_name = addr
                .name()
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty());
        }
        None => p.parse_errors.push("no From address".into()),
    }
    if p.from.is_none() {
        // A sender of last resort, so the message still reaches a lead.
        p.from = msg
            .reply_to()
            .or(msg.sender())
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .map(|a| a.trim().to_ascii_lowercase())
            .or_else(|| msg.return_address().map(|a| a.trim().to_ascii_lowercase()));
    }
    match msg.date() {
        Some(d) => p.date = Utc.timestamp_opt(d.to_timestamp(), 0).single(),
        None => p.parse_errors.push("no valid Date header".into()),
    }
    if msg.header_raw("Date").is_some() && p.date.is_none() {
        p.parse_errors.push("unreadable Date header".into());
    }
    p.text = msg
        .body_text(0)
        .map(|t| t.replace("\r\n", "\n"))
        .unwrap_or_default();
    if p.text.trim().is_empty() && msg.text_body_count() == 0 && msg.html_body_count() == 0 {
        p.parse_errors.push("no text or HTML body".into());
    }
    p.content = trim_reply(&p.text);
    for part in msg.attachments() {
        let ct = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        p.attachments.push(Attachment::new(
            part.attachment_name().map(str::to_string),
            ct,
            part.content_id().and_then(strip_brackets),
            part.contents().to_vec(),
        ));
    }
    p.clamp();
    p
}

/// The new text of a reply: stops at the quote header ("On … wrote:", "-----Original
/// Message-----", an Outlook "From:" block), the signature delimiter ("-- "), and the
/// mobile footer; drops `>` quoted lines.
pub fn trim_reply(text: &str) -> String {
    let mut out: Vec<&str> = vec![];
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let lower = t.to_ascii_lowercase();
        let wrote =
            (lower.starts_with("on ") || lower.starts_with("le ") || lower.starts_with("am "))
                && (lower.ends_with("wrote:")
                    || lower.ends_with("a écrit :")
                    || lower.ends_with("schrieb:")
                    || lines
                        .get(i + 1)
                        .is_some_and(|n| n.trim().to_ascii_lowercase().ends_with("wrote:")));
        let outlook = lower.starts_with("from:")
            && i > 0
            && lines[i - 1].trim().is_empty()
            && lines[i + 1..].iter().take(4).any(|n| {
                n.trim().to_ascii_lowercase().starts_with("sent:")
                    || n.trim().to_ascii_lowercase().starts_with("subject:")
            });
        if wrote
            || outlook
            || lower.starts_with("-----original message-----")
            || line.trim_end_matches('\r') == "-- "
            || t == "--"
            || lower.starts_with("sent from my ")
            || lower.starts_with("get outlook for ")
        {
            break;
        }
        if t.starts_with('>') {
            continue;
        }
        out.push(line);
    }
    out.join("\n").trim().to_string()
}

/// Decodes `bytes` in `charset` (as mail-parser knows them); UTF-8 (lossy) otherwise.
pub fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    if let Some(cs) = charset {
        let cs = cs.trim();
        if !cs.eq_ignore_ascii_case("utf-8") && !cs.eq_ignore_ascii_case("utf8") {
            if let Some(decode) =
                mail_parser::decoders::charsets::map::charset_decoder(cs.as_bytes())
            {
                return decode(bytes);
            }
        }
    }
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_keeps_its_thread_root_and_trims_the_quote() {
        let raw = b"From: \"Dana Lee\" <Dana@Example.com>\r\nTo: roofer@acme.test\r\nSubject: Re: Quote\r\n\
Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <c@x>\r\nIn-Reply-To: <b@x>\r\nReferences: <a@x> <b@x>\r\n\r\n\
Sounds good, Tuesday works.\r\n\r\nOn Mon, Mar 2, 2026 at 9:00 AM Acme <roofer@acme.test> wrote:\r\n> Can we come Tuesday?\r\n";
        let p = parse(raw);
        assert_eq!(p.from.as_deref(), Some("dana@example.com"));
        assert_eq!(p.from_name.as_deref(), Some("Dana Lee"));
        assert_eq!(p.message_id.as_deref(), Some("c@x"));
        assert_eq!(p.in_reply_to.as_deref(), Some("b@x"));
        assert_eq!(p.references, vec!["a@x", "b@x"]);
        assert_eq!(p.thread_key().as_deref(), Some("a@x"));
        assert_eq!(p.content, "Sounds good, Tuesday works.");
        assert!(p.text.contains("Can we come Tuesday?"));
        assert!(p.parse_errors.is_empty(), "{:?}", p.parse_errors);
    }

    #[test]
    fn thread_key_falls_back_to_in_reply_to_then_message_id() {
        let p = parse(b"From: a@b.test\r\nMessage-ID: <m@x>\r\nIn-Reply-To: <p@x>\r\n\r\nhi\r\n");
        assert_eq!(p.thread_key().as_deref(), Some("p@x"));
        let p = parse(b"From: a@b.test\r\nMessage-ID: <m@x>\r\n\r\nhi\r\n");
        assert_eq!(p.thread_key().as_deref(), Some("m@x"));
    }

    #[test]
    fn html_only_bodies_become_text() {
        let raw = b"From: a@b.test\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>Hello <b>there</b></p><p>Roof leaks</p></body></html>\r\n";
        let p = parse(raw);
        assert!(p.text.contains("Hello there"), "{:?}", p.text);
        assert!(p.text.contains("Roof leaks"));
        assert!(!p.text.contains('<'));
    }

    #[test]
    fn latin1_bodies_and_encoded_subjects_are_decoded() {
        let mut raw = b"From: a@b.test\r\nSubject: =?ISO-8859-1?Q?Toit_ab=EEm=E9?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\n".to_vec();
        raw.extend_from_slice(b"Le toit est ab\xeem\xe9.\r\n");
        let p = parse(&raw);
        assert_eq!(p.subject.as_deref(), Some("Toit abîmé"));
        assert_eq!(p.content, "Le toit est abîmé.");
    }

    #[test]
    fn attachments_are_hashed_with_their_metadata() {
        let raw = b"From: a@b.test\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nSee photo\r\n--XX\r\nContent-Type: image/png; name=roof.png\r\nContent-Disposition: attachment; filename=roof.png\r\nContent-ID: <img1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n--XX--\r\n";
        let p = parse(raw);
        assert_eq!(p.attachments.len(), 1);
        let a = &p.attachments[0];
        assert_eq!(a.filename.as_deref(), Some("roof.png"));
        assert_eq!(a.content_type, "image/png");
        assert_eq!(a.content_id.as_deref(), Some("img1@x"));
        assert_eq!(a.data, b"hello");
        assert_eq!(a.size, 5);
    }

    #[test]
    fn signatures_and_mobile_footers_are_trimmed() {
        assert_eq!(
            trim_reply("Yes please.\n-- \nDana\n555-0100"),
            "Yes please."
        );
        assert_eq!(trim_reply("Ok\n\nSent from my iPhone"), "Ok");
        assert_eq!(
            trim_reply("Fine\n\n-----Original Message-----\nFrom: x"),
            "Fine"
        );
        assert_eq!(
            trim_reply("Thanks\n\nFrom: Acme\nSent: Monday\nSubject: hi\n\nold"),
            "Thanks"
        );
    }

    #[test]
    fn malformed_messages_keep_what_parsed_and_note_the_rest() {
        let p = parse(b"this is not\x00 an email \xff\xfe at all");
        assert!(!p.parse_errors.is_empty());
        let p = parse(b"Subject: no sender\r\nDate: yesterday-ish\r\n\r\nbody");
        assert_eq!(p.subject.as_deref(), Some("no sender"));
        assert!(p.parse_errors.iter().any(|e| e.contains("From")));
        assert!(p.parse_errors.iter().any(|e| e.contains("Date")));
    }

    #[test]
    fn charsets_decode_known_names_and_fall_back_to_utf8() {
        assert_eq!(decode_charset(b"ab\xeem\xe9", Some("iso-8859-1")), "abîmé");
        assert_eq!(decode_charset("abîmé".as_bytes(), Some("UTF-8")), "abîmé");
        assert_eq!(decode_charset(b"x", Some("no-such")), "x");
    }
}
