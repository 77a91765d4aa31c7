//! The tokenizer: words, emoticons and emoji, with caps and clause and sentence ends.

use super::lexicon::Tables;
use super::words::emoji_valence;

#[derive(Debug)]
pub(super) struct Token {
    /// Lower-cased word, emoticon, or empty for an emoji.
    pub(super) word: String,
    /// Written in ALL CAPS (two letters or more).
    pub(super) caps: bool,
    /// Has at least one letter (for the mixed-case test).
    pub(super) alpha: bool,
    /// A clause boundary (punctuation, line break) follows this token.
    pub(super) clause_end: bool,
    /// A sentence boundary (`.`, `!`, `?`, line break) follows this token.
    pub(super) sentence_end: bool,
    pub(super) emoji: Option<f32>,
}

pub(super) struct Tokens {
    pub(super) list: Vec<Token>,
    pub(super) exclamations: usize,
    pub(super) questions: usize,
}

pub(super) fn tokenize(text: &str, tables: &Tables) -> Tokens {
    let mut list: Vec<Token> = Vec::with_capacity(text.len() / 5 + 1);
    let mut exclamations = 0usize;
    let mut questions = 0usize;
    for line in text.lines() {
        for chunk in line.split_whitespace() {
            // Emoticons such as ":)" or ":-(" are lexicon entries made of punctuation.
            if chunk.len() <= 8 && chunk.chars().any(|c| c.is_ascii_punctuation()) {
                let lower = chunk.to_ascii_lowercase();
                if tables.lexicon.contains_key(&lower) {
                    list.push(Token {
                        word: lower,
                        caps: false,
                        alpha: false,
                        clause_end: false,
                        sentence_end: false,
                        emoji: None,
                    });
                    continue;
                }
            }
            let mut word = String::new();
            let mut letters = 0usize;
            let mut upper = 0usize;
            for c in chunk.chars() {
                let c = match c {
                    '\u{2019}' | '\u{2018}' | '`' | '\u{b4}' => '\'',
                    c => c,
                };
                if c.is_alphanumeric() || ((c == '\'' || c == '-') && !word.is_empty()) {
                    if c.is_alphabetic() {
                        letters += 1;
                        if c.is_uppercase() {
                            upper += 1;
                        }
                    }
                    word.extend(c.to_lowercase());
                    continue;
                }
                flush_word(&mut list, &mut word, letters, upper);
                letters = 0;
                upper = 0;
                if let Some(v) = emoji_valence(c) {
                    list.push(Token {
                        word: String::new(),
                        caps: false,
                        alpha: false,
                        clause_end: false,
                        sentence_end: false,
                        emoji: Some(v),
                    });
                    continue;
                }
                let (clause, sentence) = match c {
                    '.' | '!' | '?' | '…' => (true, true),
                    ',' | ';' | ':' | '(' | ')' | '"' | '\u{201c}' | '\u{201d}' => (true, false),
                    _ => (false, false),
                };
                if c == '!' {
                    exclamations += 1;
                } else if c == '?' {
                    questions += 1;
                }
                if clause {
                    if let Some(last) = list.last_mut() {
                        last.clause_end = true;
                        last.sentence_end |= sentence;
                    }
                }
            }
            flush_word(&mut list, &mut word, letters, upper);
        }
        if let Some(last) = list.last_mut() {
            last.clause_end = true;
            last.sentence_end = true;
        }
    }
    Tokens {
        list,
        exclamations,
        questions,
    }
}

pub(super) fn flush_word(list: &mut Vec<Token>, word: &mut String, letters: usize, upper: usize) {
    if word.is_empty() {
        return;
    }
    let mut w = std::mem::take(word);
    while w.ends_with('\'') || w.ends_with('-') {
        w.pop();
    }
    if w.is_empty() {
        return;
    }
    list.push(Token {
        word: w,
        caps: letters >= 2 && upper == letters,
        alpha: letters > 0,
        clause_end: false,
        sentence_end: false,
        emoji: None,
    });
}
