//! Text helpers every finder shares. Every byte offset used comes from a regex match or a char
//! search, so slicing is always on a char boundary; `get` keeps it panic-free regardless.

use std::ops::Range;

use regex::Regex;

/// Whether `word` is one of the space-separated words of `list`.
pub(super) fn listed(list: &str, word: &str) -> bool {
    list.split_whitespace().any(|w| w == word)
}

pub(super) fn lazy(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

pub(super) fn before(text: &str, i: usize) -> &str {
    text.get(..i).unwrap_or("")
}

pub(super) fn after(text: &str, i: usize) -> &str {
    text.get(i..).unwrap_or("")
}

pub(super) fn first_chars(s: &str, n: usize) -> &str {
    s.char_indices().nth(n).map_or(s, |(i, _)| before(s, i))
}

pub(super) fn last_chars(s: &str, n: usize) -> &str {
    s.char_indices()
        .rev()
        .nth(n.saturating_sub(1))
        .map_or(s, |(i, _)| after(s, i))
}

/// Sentence breaks; clause breaks add the comma.
pub(super) const SENTENCE: &[char] = &['.', '!', '?', ';', '\n'];
pub(super) const CLAUSE: &[char] = &['.', '!', '?', ';', '\n', ','];

/// The end of `s` back to the last of `breaks`, at most `n` chars.
pub(super) fn tail_after<'a>(s: &'a str, breaks: &[char], n: usize) -> &'a str {
    let s = last_chars(s, n);
    s.rfind(breaks).map_or(s, |i| after(s, i + 1))
}

/// The start of `s` up to the first of `breaks`, at most `n` chars.
pub(super) fn head_before<'a>(s: &'a str, breaks: &[char], n: usize) -> &'a str {
    let s = first_chars(s, n);
    s.find(breaks).map_or(s, |i| before(s, i))
}

/// Lower-cased words (letters, digits, apostrophes).
pub(super) fn words(s: &str) -> impl DoubleEndedIterator<Item = String> + '_ {
    s.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| !w.is_empty())
}

/// Curly quotes, dashes and odd spaces made plain, so patterns need one spelling.
pub(super) fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            c if c.is_whitespace() && c != '\n' => ' ',
            c => c,
        })
        .collect()
}

/// Blanks a claimed span (same byte length, so other offsets stay valid) and passes `v` on.
pub(super) fn blank<T>(text: &mut String, span: Range<usize>, v: T) -> T {
    if text.get(span.clone()).is_some() {
        text.replace_range(span.clone(), &" ".repeat(span.len()));
    }
    v
}

/// The byte offset after the char at `i`.
pub(super) fn next_char(text: &str, i: usize) -> usize {
    i + after(text, i).chars().next().map_or(1, char::len_utf8)
}

/// Whether the few words before `start` in its clause negate what follows ("no leaks"). A
/// "but" starts a new clause ("no rush but asap"); "no later than" sets a deadline.
pub(super) fn negated(text: &str, start: usize) -> bool {
    let back: Vec<String> = words(tail_after(before(text, start), CLAUSE, 40))
        .rev()
        .take(3)
        .take_while(|w| w != "but")
        .collect();
    back.iter().enumerate().any(|(i, w)| {
        let deadline = w == "no" && i > 0 && back[i - 1] == "later";
        (matches!(
            w.as_str(),
            "no" | "not" | "never" | "without" | "nor" | "non" | "cannot"
        ) || w.ends_with("n't"))
            && !deadline
    })
}

/// Spelled numbers people use for ages and amounts.
pub(super) const NUM_WORDS: &str = r"(?:twenty|thirty|forty|fifty)(?:[\s\-](?:one|two|three|four|five|six|seven|eight|nine)\b)?|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|ten|one|two|three|four|five|six|seven|eight|nine|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a\s+dozen|dozen";

/// A number written in digits or words ("fifteen", "twenty-one", "a couple").
pub(super) fn number(s: &str) -> Option<i32> {
    if let Ok(n) = s.trim().parse() {
        return Some(n);
    }
    let lower = s.to_lowercase();
    let mut parts = lower
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty() && *w != "a" && *w != "of");
    let base = match parts.next()? {
        "one" => 1,
        "two" | "couple" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" | "dozen" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        "twenty" => 20,
        "thirty" => 30,
        "forty" => 40,
        "fifty" => 50,
        _ => return None,
    };
    match parts.next() {
        None => Some(base),
        Some(unit) => number(unit)
            .filter(|u| base >= 20 && *u < 10)
            .map(|u| base + u),
    }
}
