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
    /// The Date header.
    pub date: Option<DateTime<Utc>>,
    /// When the mailbox received it (IMAP INTERNALDATE): the time of a message without a
    /// readable Date header. Not part of `content_id`.
    pub received: Option<DateTime<Utc>>,
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

    /// The message's identity: its Message-ID, or for a message without one a digest of
    /// From, Date, Subject and the text (whitespace-insensitive), which is the same on
    /// every path (IMAP, Mailgun, SendGrid), across re-polls, UIDVALIDITY resets and
    /// provider redeliveries.
    pub fn identity(&self) -> String {
        // The same before and after `clamp` (which drops NULs and blank ids).
        match self
            .message_id
            .as_deref()
            .map(|id| id.replace('\0', ""))
            .filter(|id| !id.trim().is_empty())
        {
            Some(id) => id,
            None => self.content_id(),
        }
    }

    /// `sha256:<hex>` over From, Date, Subject and the normalized text.
    pub fn content_id(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.from.as_deref().unwrap_or("").to_ascii_lowercase());
        h.update(b"\n");
        h.update(
            self.date
                .map(|d| d.timestamp().to_string())
                .unwrap_or_default(),
        );
        h.update(b"\n");
        h.update(normalized(self.subject.as_deref().unwrap_or("")));
        h.update(b"\n");
        h.update(normalized(&self.text));
        format!("sha256:{}", hex::encode(h.finalize()))
    }

    /// The ids this message answers: In-Reply-To, then References newest first.
    pub fn parents(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.in_reply_to.iter().cloned().collect();
        for r in self.references.iter().rev() {
            if !ids.contains(r) {
                ids.push(r.clone());
            }
        }
        ids
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

    /// Cuts fields to the lengths the store accepts, without NUL characters.
    pub fn clamp(&mut self) {
        use crate::sanitize::{strip, strip_opt};
        for field in [
            &mut self.subject,
            &mut self.from,
            &mut self.from_name,
            &mut self.message_id,
            &mut self.in_reply_to,
            &mut self.auto_submitted,
            &mut self.precedence,
            &mut self.list_id,
        ] {
            strip_opt(field);
        }
        strip(&mut self.text);
        strip(&mut self.content);
        for list in [&mut self.to, &mut self.cc, &mut self.references] {
            list.iter_mut().for_each(|x| {
                strip(x);
            });
            list.retain(|x| !x.trim().is_empty());
        }
        // An id that was only NULs or blanks is no id (the digest identifies the message).
        for id in [&mut self.message_id, &mut self.in_reply_to] {
            if id.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *id = None;
            }
        }
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

/// Text with runs of whitespace (and NUL / replacement characters) as one space.
fn normalized(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c == '\0' || c == '\u{FFFD}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
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

/// Whether a header-block line is a header field (`Name: value`).
fn is_header_line(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|b| *b == b':') else {
        return false;
    };
    colon > 0
        && line[..colon]
            .iter()
            .all(|b| b.is_ascii_graphic() && *b != b':')
}

/// Liberal in what it accepts: drops an mbox `From ` line, and starts the body at the first
/// line of the header block that is neither a header field nor a continuation (a body
/// written right after the headers, without the blank line).
fn repair_header_block(raw: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let mut raw = raw;
    if raw.starts_with(b"From ") {
        match raw.iter().position(|b| *b == b'\n') {
            Some(nl) => raw = &raw[nl + 1..],
            None => return raw.into(),
        }
    }
    let mut pos = 0;
    let mut headers = 0;
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            break;
        }
        let continuation = headers > 0 && matches!(content[0], b' ' | b'\t');
        if !continuation && !is_header_line(content) {
            if headers == 0 {
                break;
            }
            let mut fixed = Vec::with_capacity(raw.len() + 2);
            fixed.extend_from_slice(&raw[..pos]);
            fixed.extend_from_slice(b"\r\n");
            fixed.extend_from_slice(&raw[pos..]);
            return fixed.into();
        }
        headers += 1;
        pos = end;
    }
    raw.into()
}

/// Where the body begins (after the blank line ending the headers).
fn body_start(raw: &[u8]) -> Option<usize> {
    let crlf = memchr::memmem::find(raw, b"\r\n\r\n").map(|i| i + 4);
    let lf = memchr::memmem::find(raw, b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A top-level multipart message whose closing delimiter is missing gets one (its last
/// part is kept, not dropped). Also says whether the boundary never occurs at all.
fn close_multipart(raw: &[u8]) -> (std::borrow::Cow<'_, [u8]>, bool) {
    let Some(head) = body_start(raw).map(|b| &raw[..b]) else {
        return (raw.into(), false);
    };
    let boundary = MessageParser::default().parse_headers(head).and_then(|m| {
        m.content_type()
            .filter(|c| c.ctype().eq_ignore_ascii_case("multipart"))
            .and_then(|c| c.attribute("boundary"))
            .map(|b| format!("--{b}"))
    });
    let Some(delim) = boundary else {
        return (raw.into(), false);
    };
    let body = &raw[head.len()..];
    if memchr::memmem::find(body, delim.as_bytes()).is_none() {
        return (raw.into(), true);
    }
    if memchr::memmem::find(body, format!("{delim}--").as_bytes()).is_some() {
        return (raw.into(), false);
    }
    let mut closed = raw.to_vec();
    closed.extend_from_slice(format!("\r\n{delim}--\r\n").as_bytes());
    (closed.into(), false)
}

/// Text of an HTML body: the document's head (title, styles), scripts and comments are
/// not part of what the sender wrote.
pub fn html_to_text(html: &str) -> String {
    static HIDDEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(
            r"(?is)<head\b.*?</head\s*>|<title\b.*?</title\s*>|<style\b.*?</style\s*>|<script\b.*?</script\s*>|<!--.*?-->",
        )
        .expect("valid regex")
    });
    let visible = HIDDEN.replace_all(html, " ");
    mail_parser::decoders::html::html_to_text(&visible)
        .trim()
        .to_string()
}

/// Every inline text part, in order (a multipart/mixed message may carry several); HTML
/// parts as text.
fn body_text(msg: &mail_parser::Message) -> String {
    use mail_parser::PartType;
    let mut parts: Vec<String> = vec![];
    for part in msg.text_bodies() {
        let text = match &part.body {
            PartType::Text(t) => t.replace("\r\n", "\n"),
            PartType::Html(h) => html_to_text(h),
            _ => continue,
        };
        if !text.trim().is_empty() {
            parts.push(text.trim_end().to_string());
        }
    }
    parts.join("\n\n")
}

/// Parses raw RFC 5322 bytes.
pub fn parse(raw: &[u8]) -> ParsedEmail {
    let raw = repair_header_block(raw);
    let (raw, unused_boundary) = close_multipart(&raw);
    let raw = raw.as_ref();
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
    let from = msg.from().and_then(|f| f.first());
    if from.is_none() {
        p.parse_errors.push("no From address".into());
    }
    // Without a usable From, Reply-To or Sender (name and address) is the sender of last
    // resort, so the message still reaches a lead.
    let fallback = || msg.reply_to().or(msg.sender()).and_then(|a| a.first());
    if let Some(addr) = from
        .filter(|a| a.address().is_some())
        .or_else(fallback)
        .or(from)
    {
        p.from = addr.address().map(|a| a.trim().to_ascii_lowercase());
        p.from_name = addr
            .name()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty());
    }
    if p.from.is_none() {
        p.from = msg.return_address().map(|a| a.trim().to_ascii_lowercase());
    }
    match msg.date() {
        Some(d) => p.date = Utc.timestamp_opt(d.to_timestamp(), 0).single(),
        None => p.parse_errors.push("no valid Date header".into()),
    }
    if msg.header_raw("Date").is_some() && p.date.is_none() {
        p.parse_errors.push("unreadable Date header".into());
    }
    p.text = body_text(&msg);
    if unused_boundary && p.text.trim().is_empty() {
        // A multipart type whose boundary never comes: the body is the text.
        let body = body_start(raw).map_or(&raw[..0], |b| &raw[b..]);
        p.text = String::from_utf8_lossy(body)
            .replace("\r\n", "\n")
            .trim()
            .to_string();
        p.parse_errors
            .push("multipart boundary never used: the body is read as text".into());
    }
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

/// Words of the line that introduces a quoted message ("On … wrote:", "Am … schrieb
/// Acme <a@b>:") in the languages of common mail clients.
const WROTE: &[&str] = &[
    "wrote",
    "writes",
    "a écrit",
    "schrieb",
    "написал",
    "escribió",
    "ha scritto",
    "schreef",
    "escreveu",
    "napisał",
    "skrev",
    "kirjoitti",
    "yazdı",
    "写道",
    "寫道",
    "のメッセージ",
    "님이 작성",
];

/// Openings of a quote-introducing line ("On", "Le", "Am"…).
const WROTE_OPENINGS: &[&str] = &[
    "on ", "le ", "am ", "el ", "il ", "op ", "em ", "в ", "den ", "dnia ", "w dniu ",
];

/// Separators above a forwarded-style quote ("-----Original Message-----" and kin).
const ORIGINAL: &[&str] = &[
    "-----original message-----",
    "----- original message -----",
    "-------- original message --------",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "-----mensaje original-----",
    "-----messaggio originale-----",
    "-----oorspronkelijk bericht-----",
    "-----mensagem original-----",
];

/// First lines of an Outlook header block ("From: … Sent: … To: … Subject:").
const OUTLOOK_FROM: &[&str] = &[
    "from:", "von:", "de :", "de:", "da:", "van:", "от:", "från:",
];
const OUTLOOK_FIELDS: &[&str] = &[
    "sent:",
    "date:",
    "to:",
    "subject:",
    "cc:",
    "gesendet:",
    "an:",
    "betreff:",
    "envoyé :",
    "envoyé:",
    "à :",
    "objet :",
    "objet:",
    "enviado:",
    "para:",
    "asunto:",
    "inviato:",
    "oggetto:",
    "verzonden:",
    "aan:",
    "onderwerp:",
    "отправлено:",
    "кому:",
    "тема:",
    "skickat:",
    "till:",
    "ämne:",
];

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn ends_with_wrote(lower: &str) -> bool {
    let t = lower.trim_end();
    (t.ends_with(':') || t.ends_with('：')) && WROTE.iter().any(|w| t.contains(w))
}

/// How many lines the quote header at `i` spans ("On … wrote:", wrapped over up to three
/// lines), if there is one.
fn wrote_header(lines: &[&str], i: usize) -> Option<usize> {
    let first = lines[i].trim().to_lowercase();
    if first.is_empty() || first.chars().count() > 300 {
        return None;
    }
    // "On Mon, Mar 2, 2026 at 9:00 AM Acme <a@b> wrote:": an opening word, and a date or an
    // address (a lead's own "On Monday I wrote to you:" is not a quote header).
    let opens = WROTE_OPENINGS.iter().any(|o| first.starts_with(o))
        && first.contains(|c: char| c.is_ascii_digit() || c == '@');
    let mut joined = first;
    for span in 1..=3 {
        if ends_with_wrote(&joined) {
            let next_quoted = lines[i + span..]
                .iter()
                .find(|l| !l.trim().is_empty())
                .is_none_or(|l| is_quoted(l));
            return (opens || next_quoted).then_some(span);
        }
        match lines.get(i + span) {
            Some(next) if opens && !next.trim().is_empty() => {
                joined = format!("{joined} {}", next.trim().to_lowercase());
            }
            _ => return None,
        }
    }
    None
}

/// Whether line `i` starts an Outlook-style header block of the quoted message.
fn outlook_block(lines: &[&str], i: usize) -> bool {
    let lower = lines[i].trim().to_lowercase();
    let from = OUTLOOK_FROM.iter().any(|f| lower.starts_with(f))
        || lower.starts_with("*from:*")
        || lower.starts_with("**from:**");
    if !from {
        return false;
    }
    let fields = lines[i + 1..]
        .iter()
        .take(5)
        .filter(|l| {
            let l = l.trim().trim_start_matches('*').to_lowercase();
            OUTLOOK_FIELDS.iter().any(|f| l.starts_with(f))
        })
        .count();
    fields >= 2
}

/// What stops the new text at line `i`, and how many lines of header it spans.
fn cut_at(lines: &[&str], i: usize) -> Option<(Cut, usize)> {
    let line = lines[i];
    let t = line.trim();
    let lower = t.to_lowercase();
    if let Some(span) = wrote_header(lines, i) {
        return Some((Cut::Quote, span));
    }
    if ORIGINAL.iter().any(|o| lower.starts_with(o)) || outlook_block(lines, i) {
        return Some((Cut::History, 1));
    }
    // Outlook's rule line above its header block.
    if t.len() >= 10
        && t.chars().all(|c| c == '_')
        && i + 1 < lines.len()
        && outlook_block(lines, i + 1)
    {
        return Some((Cut::History, 1));
    }
    if line.trim_end_matches('\r') == "-- "
        || t == "--"
        || lower.starts_with("sent from my ")
        || lower.starts_with("get outlook for ")
        || lower.starts_with("envoyé de mon ")
        || lower.starts_with("von meinem ")
    {
        return Some((Cut::Signature, 1));
    }
    None
}

#[derive(Clone, Copy, PartialEq)]
enum Cut {
    /// "On … wrote:" followed by `>` lines.
    Quote,
    /// An unquoted copy of the earlier message (Original Message, an Outlook header block).
    History,
    Signature,
}

/// The lines from `from` that are not quoted, up to the next cut.
fn new_lines<'a>(lines: &[&'a str], from: usize) -> (Vec<&'a str>, Option<(usize, Cut, usize)>) {
    let mut out = vec![];
    for i in from..lines.len() {
        if let Some((cut, span)) = cut_at(lines, i) {
            return (out, Some((i, cut, span)));
        }
        if !is_quoted(lines[i]) {
            out.push(lines[i]);
        }
    }
    (out, None)
}

fn joined(lines: &[&str]) -> String {
    lines.join("\n").trim().to_string()
}

/// What the sender newly wrote: the text above the quoted history ("On … wrote:" in the
/// languages of common clients, "-----Original Message-----", an Outlook "From: … Sent:"
/// block), without `>` quoted lines, the signature and mobile footers. For a bottom-posted
/// reply (the quote first), the text below the quote. Empty when nothing new is found (the
/// caller keeps the whole text then).
pub fn trim_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let (top, cut) = new_lines(&lines, 0);
    let top = joined(&top);
    if !top.is_empty() {
        return top;
    }
    // Nothing above the quote: a bottom-posted reply answers below it.
    let Some((at, Cut::Quote, span)) = cut else {
        return String::new();
    };
    let mut i = at + span;
    while i < lines.len() && (lines[i].trim().is_empty() || is_quoted(lines[i])) {
        i += 1;
    }
    joined(&new_lines(&lines, i).0)
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
    fn an_id_of_nul_characters_is_no_id() {
        let mut p =
            parse(b"From: a@b.test\r\nMessage-ID: <\x00>\r\nIn-Reply-To: <\x00\x00>\r\n\r\nhi\r\n");
        p.clamp();
        assert_eq!(p.message_id, None);
        assert_eq!(p.in_reply_to, None);
        assert!(p.identity().starts_with("sha256:"));
    }

    #[test]
    fn charsets_decode_known_names_and_fall_back_to_utf8() {
        assert_eq!(decode_charset(b"ab\xeem\xe9", Some("iso-8859-1")), "abîmé");
        assert_eq!(decode_charset("abîmé".as_bytes(), Some("UTF-8")), "abîmé");
        assert_eq!(decode_charset(b"x", Some("no-such")), "x");
    }
}
