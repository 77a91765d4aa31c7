//! Small text helpers shared by the rules responder and the providers.

use crate::domain::Channel;

/// Longest SMS reply (two segments' worth of plain text).
pub const SMS_MAX_CHARS: usize = 320;
/// Longest chat reply.
pub const CHAT_MAX_CHARS: usize = 600;
/// Longest email body we send (provider output is cut to this).
pub const EMAIL_MAX_CHARS: usize = 4000;

/// The length bound of a reply on `channel` (for email: the body).
pub fn max_chars(channel: Channel) -> usize {
    match channel {
        Channel::Sms | Channel::PhoneCall => SMS_MAX_CHARS,
        Channel::Chat => CHAT_MAX_CHARS,
        Channel::Email | Channel::Form => EMAIL_MAX_CHARS,
    }
}

/// A value that came from outside (a lead, a subject line, a settings form) made
/// safe to put into one line of text: control characters removed, whitespace
/// runs collapsed to one space, trimmed, and cut to `max_chars` characters.
pub fn clean_inline(value: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(value.len().min(max_chars * 4));
    let mut pending_space = false;
    let mut count = 0;
    for c in value.chars() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_invisible_format(c) {
            continue;
        }
        if pending_space {
            if count + 1 >= max_chars {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= max_chars {
            break;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Like [`clean_inline`] but `None` for values that are empty once cleaned.
pub fn clean_opt(value: Option<&str>, max_chars: usize) -> Option<String> {
    value
        .map(|v| clean_inline(v, max_chars))
        .filter(|v| !v.is_empty())
}

/// Zero-width and bidi-control characters that are not `is_control` but can
/// hide or reorder text.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}'
    )
}

/// Multi-line text from a provider: control characters other than newlines
/// removed, trailing spaces trimmed, at most one blank line in a row.
pub fn clean_multiline(value: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for raw in value.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
        let line: String = raw
            .chars()
            .filter(|c| *c == '\t' || !(c.is_control() || is_invisible_format(*c)))
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let line = line.trim_end().to_string();
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines.join("\n")
}

/// Collapses all whitespace (newlines included) to single spaces.
pub fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts `text` to at most `max` characters, preferring the end of a sentence,
/// then a word boundary (with "…"). Text that fits is returned unchanged.
pub fn truncate_nicely(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    // Sentence end: ". ", "! ", "? " or a newline inside the cut, not too early.
    let min_keep = max / 3;
    let mut best: Option<usize> = None;
    for (i, c) in cut.char_indices() {
        if matches!(c, '.' | '!' | '?') {
            let next = cut[i + c.len_utf8()..].chars().next();
            if next.is_none_or(|n| n.is_whitespace()) && cut[..i].chars().count() >= min_keep {
                best = Some(i + c.len_utf8());
            }
        }
    }
    if let Some(end) = best {
        return cut[..end].trim_end().to_string();
    }
    let budget: String = text.chars().take(max.saturating_sub(1)).collect();
    let at = budget
        .rfind(char::is_whitespace)
        .filter(|&i| i > 0)
        .unwrap_or(budget.len());
    format!("{}…", budget[..at].trim_end())
}

/// The lead's first name, when the stored name looks like a name.
pub fn first_name(name: Option<&str>) -> Option<String> {
    let name = clean_opt(name, 80)?;
    if name.contains('@') || name.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let first = name.split(' ').next()?.trim_matches(|c: char| c == ',');
    let first = clean_inline(first, 40);
    if first.is_empty() || !first.chars().any(char::is_alphabetic) {
        return None;
    }
    Some(first)
}

/// "Re: {subject}" for a thread subject (existing "Re:"/"RE:"/"Fwd:" prefixes
/// are folded), or the default subject naming the company.
pub fn reply_subject(subject: Option<&str>, company_name: Option<&str>) -> String {
    let cleaned = subject.map(|s| clean_inline(s, 200)).unwrap_or_default();
    let mut rest = cleaned.as_str();
    loop {
        let trimmed = rest.trim_start();
        let lower = trimmed.to_ascii_lowercase();
        let prefix = ["re:", "re :", "aw:", "fw:", "fwd:"]
            .iter()
            .find(|p| lower.starts_with(*p));
        match prefix {
            Some(p) => rest = &trimmed[p.len()..],
            None => {
                rest = trimmed;
                break;
            }
        }
    }
    let rest = rest.trim();
    if rest.is_empty() {
        match clean_opt(company_name, 100) {
            Some(company) => format!("Your roofing inquiry with {company}"),
            None => "Your roofing inquiry".to_string(),
        }
    } else {
        format!("Re: {}", clean_inline(rest, 150))
    }
}

/// Human form of a duration for reasons: "8s", "300ms", "1.5s".
pub fn human_duration(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_inline_strips_controls_and_caps() {
        assert_eq!(
            clean_inline("  Jo\u{0007}hn \n\t Smith\u{202E} ", 100),
            "John Smith"
        );
        assert_eq!(clean_inline("abcdef", 3), "abc");
        assert_eq!(clean_inline("ab cdef", 3), "ab");
    }

    #[test]
    fn truncation_prefers_sentences() {
        let t = "First sentence here. Second sentence is longer than that. Third.";
        assert_eq!(truncate_nicely(t, 40), "First sentence here.");
        let w = "one two three four five six seven";
        let cut = truncate_nicely(w, 12);
        assert!(cut.chars().count() <= 12, "{cut}");
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn subjects() {
        assert_eq!(reply_subject(Some("RE: re: Leak"), None), "Re: Leak");
        assert_eq!(
            reply_subject(None, Some("Acme Roofing")),
            "Your roofing inquiry with Acme Roofing"
        );
        assert_eq!(reply_subject(Some("  "), None), "Your roofing inquiry");
    }

    #[test]
    fn first_names() {
        assert_eq!(first_name(Some("Jane Doe")), Some("Jane".into()));
        assert_eq!(first_name(Some("jane@x.com")), None);
        assert_eq!(first_name(Some("+1 312 555 0101")), None);
        assert_eq!(first_name(None), None);
    }

    #[test]
    fn multiline() {
        assert_eq!(clean_multiline("a\r\n\r\n\r\nb  \n\n"), "a\n\nb");
    }
}
