//! The word and phrase tables: VADER's lexicon, overridden and extended by Leadline's.

use std::collections::HashMap;
use std::sync::LazyLock;

/// VADER lexicon, MIT licence (c) 2016 C.J. Hutto, from PyPI `vaderSentiment` 3.3.2.
pub(super) const VADER_LEXICON: &str = include_str!("../../../data/vader_lexicon.txt");
/// Leadline overrides and phrases (see the header of the file for its format).
pub(super) const LEADLINE_LEXICON: &str = include_str!("../../../data/leadline_sentiment.txt");

pub(super) struct Phrase {
    pub(super) words: Vec<String>,
    pub(super) valence: f32,
}

pub(super) struct Tables {
    pub(super) lexicon: HashMap<String, f32>,
    /// Phrases keyed by their first word, longest first.
    pub(super) phrases: HashMap<String, Vec<Phrase>>,
}

pub(super) static TABLES: LazyLock<Tables> = LazyLock::new(build_tables);

pub(super) fn build_tables() -> Tables {
    let mut lexicon: HashMap<String, f32> = HashMap::with_capacity(8192);
    for line in VADER_LEXICON.lines() {
        let mut fields = line.split('\t');
        let (Some(word), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(v) = value.trim().parse::<f32>() {
            lexicon.insert(word.trim().to_lowercase(), v);
        }
    }
    let mut phrases: HashMap<String, Vec<Phrase>> = HashMap::new();
    for line in LEADLINE_LEXICON.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let Some((term, value)) = split_entry(line) else {
            continue;
        };
        let Ok(valence) = value.parse::<f32>() else {
            continue;
        };
        for alt in expand_braces(term) {
            let words: Vec<String> = alt
                .split_whitespace()
                .filter(|w| *w != "_")
                .map(normalize_word)
                .filter(|w| !w.is_empty())
                .collect();
            match words.len() {
                0 => {}
                1 => {
                    lexicon.insert(words[0].clone(), valence);
                }
                _ => {
                    let entry = phrases.entry(words[0].clone()).or_default();
                    if let Some(existing) = entry.iter_mut().find(|p| p.words == words) {
                        existing.valence = valence;
                    } else {
                        entry.push(Phrase { words, valence });
                    }
                }
            }
        }
    }
    for list in phrases.values_mut() {
        list.sort_by_key(|p| std::cmp::Reverse(p.words.len()));
    }
    Tables { lexicon, phrases }
}

/// Splits `TERM<tab or 2+ spaces>VALUE`.
pub(super) fn split_entry(line: &str) -> Option<(&str, &str)> {
    if let Some((t, v)) = line.rsplit_once('\t') {
        return Some((t.trim(), v.trim()));
    }
    let (t, v) = line.rsplit_once(char::is_whitespace)?;
    Some((t.trim(), v.trim()))
}

/// Expands `{a,b c}` groups (no nesting) into every combination.
pub(super) fn expand_braces(term: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut rest = term;
    while let Some(open) = rest.find('{') {
        let Some(close_rel) = rest[open..].find('}') else {
            break;
        };
        let close = open + close_rel;
        let prefix = &rest[..open];
        let alts: Vec<&str> = rest[open + 1..close].split(',').map(str::trim).collect();
        let mut next = Vec::with_capacity(out.len() * alts.len());
        for base in &out {
            for alt in &alts {
                next.push(format!("{base}{prefix}{alt}"));
            }
        }
        out = next;
        rest = &rest[close + 1..];
    }
    for s in &mut out {
        s.push_str(rest);
    }
    out
}

pub(super) fn normalize_word(w: &str) -> String {
    w.chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '`' | '\u{b4}' => '\'',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse() {
        let t = &*TABLES;
        assert!(t.lexicon.len() > 7000);
        assert!(t.lexicon.contains_key("good"));
        assert!(t.phrases.contains_key("ready"));
        assert_eq!(
            expand_braces("{a,b c} x {y,z}"),
            vec!["a x y", "a x z", "b c x y", "b c x z"]
        );
    }
}
