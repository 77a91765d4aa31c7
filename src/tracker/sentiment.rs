//! Lexicon-based sentiment scoring for lead messages (email, SMS, call notes, chat).
//!
//! The scorer follows the shape of VADER (Hutto & Gilbert, 2014) and is tuned for
//! what homeowners write to roofers:
//!
//! * **Lexicon**: VADER's `vader_lexicon.txt` (copied verbatim from the `vaderSentiment`
//!   3.3.2 PyPI package, MIT licence, (c) 2016 C.J. Hutto; see `data/vader_LICENSE.txt`),
//!   extended and partly overridden by `data/leadline_sentiment.txt` (our own words and
//!   multi-word phrases such as "go with someone else", "ready to schedule",
//!   "still leaking", "no longer leaking").
//! * **Topic vs. sentiment**: leaks, damage and storms are what a roofing lead is *about*,
//!   so those words are kept mild; the sentiment lives in phrases about the roofer,
//!   the price and the schedule.
//! * **Rules**: negation (clause-scoped, `not`/`never`/`no`/`n't`...), intensifiers and
//!   dampeners (`very`, `extremely`, `a bit`, `kind of`...), contrast (`but`/`however`:
//!   the clause after weighs 1.5x, the one before 0.5x), `!` emphasis, ALL-CAPS emphasis,
//!   emoji and emoticons, and a few part-of-speech guards (`like` as a preposition,
//!   `kind of`, `pretty good`).
//! * **Score**: the summed valence `s` is squashed to `s / sqrt(s^2 + 15)` in `[-1, 1]`;
//!   label thresholds are `>= 0.05` positive, `<= -0.05` negative, else neutral.
//!
//! Tables are parsed once (`LazyLock`); [`analyze`] allocates only the token list and
//! runs in a few microseconds for a 1 KB message. It never panics.

use std::collections::HashMap;
use std::sync::LazyLock;

/// VADER lexicon, MIT licence (c) 2016 C.J. Hutto, from PyPI `vaderSentiment` 3.3.2.
const VADER_LEXICON: &str = include_str!("../../data/vader_lexicon.txt");
/// Leadline overrides and phrases (see the header of the file for its format).
const LEADLINE_LEXICON: &str = include_str!("../../data/leadline_sentiment.txt");

/// Score at or above which a text is positive (and at or below minus it, negative).
pub const THRESHOLD: f32 = 0.05;

/// Empirical booster increment (VADER).
const B_INCR: f32 = 0.293;
/// ALL-CAPS emphasis increment (VADER).
const C_INCR: f32 = 0.733;
/// Factor applied to a negated positive word.
const NEG_POS: f32 = -0.74;
/// Factor applied to a negated negative word ("not bad" is only mildly positive).
const NEG_NEG: f32 = -0.5;
/// How many tokens back a negator reaches (never across a clause boundary).
const NEG_WINDOW: usize = 3;
/// How many tokens back a counterfactual marker reaches (within the clause).
const CF_WINDOW: usize = 6;
/// Factor applied to a positive word under a counterfactual ("should have been better").
const COUNTERFACTUAL: f32 = -0.5;
/// Normalisation constant of the compound score (VADER).
const ALPHA: f32 = 15.0;
/// Weight of the clause before / after a contrast word.
const BEFORE_BUT: f32 = 0.5;
const AFTER_BUT: f32 = 1.5;

pub use crate::domain::SentimentLabel;

impl SentimentLabel {
    /// The label of a compound score (±`THRESHOLD`).
    pub fn from_score(score: f32) -> Self {
        if score >= THRESHOLD {
            SentimentLabel::Positive
        } else if score <= -THRESHOLD {
            SentimentLabel::Negative
        } else {
            SentimentLabel::Neutral
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sentiment {
    pub label: SentimentLabel,
    /// Compound score in `[-1, 1]`.
    pub score: f32,
}

/// Scores one message.
pub fn analyze(text: &str) -> Sentiment {
    let tables = &*TABLES;
    let tokens = tokenize(text, tables);
    let raw = score_tokens(&tokens, tables);
    let score = normalize(raw);
    Sentiment {
        label: SentimentLabel::from_score(score),
        score,
    }
}

// ---------------------------------------------------------------------------
// Tables

struct Phrase {
    words: Vec<String>,
    valence: f32,
}

struct Tables {
    lexicon: HashMap<String, f32>,
    /// Phrases keyed by their first word, longest first.
    phrases: HashMap<String, Vec<Phrase>>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(build_tables);

fn build_tables() -> Tables {
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
fn split_entry(line: &str) -> Option<(&str, &str)> {
    if let Some((t, v)) = line.rsplit_once('\t') {
        return Some((t.trim(), v.trim()));
    }
    let (t, v) = line.rsplit_once(char::is_whitespace)?;
    Some((t.trim(), v.trim()))
}

/// Expands `{a,b c}` groups (no nesting) into every combination.
fn expand_braces(term: &str) -> Vec<String> {
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

fn normalize_word(w: &str) -> String {
    w.chars()
        .map(|c| match c {
            '\u{2019}' | '\u{2018}' | '`' | '\u{b4}' => '\'',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

// ---------------------------------------------------------------------------
// Word classes

fn booster(word: &str) -> Option<f32> {
    let incr = matches!(
        word,
        "absolutely"
            | "amazingly"
            | "awfully"
            | "completely"
            | "considerably"
            | "decidedly"
            | "deeply"
            | "effing"
            | "enormously"
            | "entirely"
            | "especially"
            | "exceptionally"
            | "extremely"
            | "fabulously"
            | "freaking"
            | "frickin"
            | "fricking"
            | "friggin"
            | "frigging"
            | "fully"
            | "fucking"
            | "greatly"
            | "hella"
            | "highly"
            | "hugely"
            | "incredibly"
            | "intensely"
            | "majorly"
            | "more"
            | "most"
            | "particularly"
            | "purely"
            | "quite"
            | "really"
            | "remarkably"
            | "so"
            | "soo"
            | "sooo"
            | "soooo"
            | "substantially"
            | "super"
            | "thoroughly"
            | "too"
            | "totally"
            | "tremendously"
            | "truly"
            | "uber"
            | "unbelievably"
            | "unusually"
            | "utterly"
            | "very"
            | "way"
    );
    if incr {
        return Some(B_INCR);
    }
    let decr = matches!(
        word,
        "almost"
            | "barely"
            | "fairly"
            | "hardly"
            | "kinda"
            | "kindof"
            | "kind-of"
            | "less"
            | "little"
            | "marginally"
            | "mildly"
            | "moderately"
            | "occasionally"
            | "partly"
            | "rather"
            | "relatively"
            | "scarcely"
            | "slightly"
            | "somewhat"
            | "sorta"
            | "sortof"
            | "sort-of"
    );
    if decr {
        return Some(-B_INCR);
    }
    None
}

/// Two-word dampeners ("a bit", "kind of"), identified by the second word's index.
fn pair_dampener(first: &str, second: &str) -> bool {
    matches!(
        (first, second),
        ("a", "bit") | ("a", "tad") | ("kind", "of") | ("sort", "of") | ("a", "little")
    )
}

fn is_negator(word: &str) -> bool {
    matches!(
        word,
        "not"
            | "no"
            | "never"
            | "none"
            | "nobody"
            | "nothing"
            | "neither"
            | "nor"
            | "nowhere"
            | "cannot"
            | "without"
            | "dont"
            | "doesnt"
            | "didnt"
            | "isnt"
            | "arent"
            | "wasnt"
            | "werent"
            | "cant"
            | "couldnt"
            | "wouldnt"
            | "shouldnt"
            | "wont"
            | "havent"
            | "hasnt"
            | "hadnt"
            | "aint"
            | "mustnt"
            | "neednt"
    ) || word.ends_with("n't")
}

fn is_contrast(word: &str) -> bool {
    matches!(word, "but" | "however")
}

/// Words after which `like` is the verb ("I like it"), not a preposition ("looks like rain").
fn like_is_verb(prev: Option<&str>) -> bool {
    matches!(
        prev,
        Some(
            "i" | "we"
                | "you"
                | "they"
                | "he"
                | "she"
                | "really"
                | "would"
                | "do"
                | "did"
                | "also"
                | "still"
                | "definitely"
                | "totally"
                | "actually"
                | "truly"
                | "i'd"
                | "we'd"
                | "you'd"
                | "they'd"
                | "everyone"
                | "people"
                | "absolutely"
                | "dont"
                | "didnt"
                | "don't"
                | "didn't"
                | "not"
                | "kids"
                | "wife"
                | "husband"
                | "to"
        )
    )
}

fn emoji_valence(c: char) -> Option<f32> {
    let v = match c {
        '🙂' | '😉' | '😌' | '✨' | '⭐' | '🌟' => 1.5,
        '😊' | '😀' | '😃' | '😄' | '😁' | '☺' | '😆' | '🤗' | '🎉' | '🥳' | '👏' | '🙌' => {
            2.0
        }
        '😂' | '🤣' | '😅' | '🙏' | '💪' | '😇' | '😎' | '✅' | '👌' => 1.5,
        '👍' | '💯' | '🤩' | '😘' => 2.0,
        '😍' | '🥰' | '❤' | '♥' | '💕' | '💖' | '💗' | '💙' | '💚' | '💛' | '💜' | '🧡' => {
            2.5
        }
        '🙁' | '😕' | '😟' | '😔' | '😓' | '😥' | '😣' | '🙄' => -1.5,
        '☹' | '😞' | '😢' | '😒' | '😩' | '😫' | '😖' | '😤' | '🤦' => -2.0,
        '😭' | '👎' | '💔' | '💩' | '🤢' => -2.3,
        '😠' => -2.5,
        '😡' | '🤬' | '🤮' => -3.0,
        '😬' | '😑' | '🥺' | '😰' | '😨' | '😱' | '❌' => -0.8,
        _ => return None,
    };
    Some(v)
}

// ---------------------------------------------------------------------------
// Tokenizer

#[derive(Debug)]
struct Token {
    /// Lower-cased word, emoticon, or empty for an emoji.
    word: String,
    /// Written in ALL CAPS (two letters or more).
    caps: bool,
    /// Has at least one letter (for the mixed-case test).
    alpha: bool,
    /// A clause boundary (punctuation, line break) follows this token.
    clause_end: bool,
    /// A sentence boundary (`.`, `!`, `?`, line break) follows this token.
    sentence_end: bool,
    emoji: Option<f32>,
}

struct Tokens {
    list: Vec<Token>,
    exclamations: usize,
    questions: usize,
}

fn tokenize(text: &str, tables: &Tables) -> Tokens {
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

fn flush_word(list: &mut Vec<Token>, word: &mut String, letters: usize, upper: usize) {
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

// ---------------------------------------------------------------------------
// Scoring

fn sign(v: f32) -> f32 {
    if v < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// Longest phrase starting at `i`: (valence, length in tokens).
fn match_phrase(tokens: &[Token], i: usize, tables: &Tables) -> Option<(f32, usize)> {
    let candidates = tables.phrases.get(tokens[i].word.as_str())?;
    candidates.iter().find_map(|p| {
        let n = p.words.len();
        if i + n > tokens.len() {
            return None;
        }
        let hit = p
            .words
            .iter()
            .zip(&tokens[i..i + n])
            .all(|(w, t)| t.emoji.is_none() && *w == t.word);
        hit.then_some((p.valence, n))
    })
}

/// Lexicon valence of `word`, falling back to simple inflections
/// ("lacks" -> "lack", "disappointed" -> "disappoint", "unhelpful" -> -"helpful").
fn lookup(word: &str, tables: &Tables) -> Option<f32> {
    if let Some(&v) = tables.lexicon.get(word) {
        return Some(v);
    }
    if word.len() < 5 || !word.is_ascii() {
        return None;
    }
    for suffix in ["s", "es", "ed", "d", "ing", "ly"] {
        if let Some(stem) = word.strip_suffix(suffix) {
            if stem.len() >= 3 {
                if let Some(&v) = tables.lexicon.get(stem) {
                    return Some(v);
                }
            }
        }
    }
    for prefix in ["un", "non"] {
        if let Some(stem) = word.strip_prefix(prefix) {
            if let Some(&v) = tables.lexicon.get(stem) {
                if v > 0.0 {
                    return Some(-0.8 * v);
                }
            }
        }
    }
    None
}

/// Valence of the single word at `i`, with part-of-speech guards.
fn word_valence(tokens: &[Token], i: usize, tables: &Tables) -> f32 {
    let word = tokens[i].word.as_str();
    if booster(word).is_some() && word != "super" {
        return 0.0;
    }
    let Some(v) = lookup(word, tables) else {
        return 0.0;
    };
    let next_has_valence = || {
        let end = (i + 4).min(tokens.len());
        (i + 1..end)
            .take_while(|&k| !tokens[k - 1].clause_end)
            .any(|k| tokens[k].emoji.is_none() && lookup(&tokens[k].word, tables).is_some())
    };
    let next_word = tokens.get(i + 1).map(|t| t.word.as_str());
    let prev_word = i.checked_sub(1).map(|j| tokens[j].word.as_str());
    match word {
        // "no problem": "no" negates the next word instead of counting itself.
        "no" if next_has_valence() => 0.0,
        // "kind of", "sort of" are dampeners, not kindness.
        "kind" | "sort" if next_word == Some("of") => 0.0,
        // "pretty bad": an adverb, not "pretty".
        "pretty" if !tokens[i].clause_end && next_has_valence() => 0.0,
        // "looks like rain", "feels like plastic": a preposition.
        "like" if !like_is_verb(prev_word) => 0.0,
        _ => v,
    }
}

/// Whether a negator precedes `i` within `NEG_WINDOW` tokens of the same clause.
fn is_negated(tokens: &[Token], i: usize) -> bool {
    for d in 1..=NEG_WINDOW {
        let Some(j) = i.checked_sub(d) else { break };
        let t = &tokens[j];
        if t.clause_end || is_contrast(&t.word) {
            break;
        }
        if is_negator(&t.word) || (t.word == "from" && j > 0 && tokens[j - 1].word == "far") {
            return true;
        }
    }
    false
}

/// Whether a counterfactual ("I wish", "should have been", "expected") precedes `i`
/// in its clause: a positive word there describes what did *not* happen.
fn is_counterfactual(tokens: &[Token], i: usize) -> bool {
    for d in 1..=CF_WINDOW {
        let Some(j) = i.checked_sub(d) else { break };
        let t = &tokens[j];
        if t.clause_end || is_contrast(&t.word) {
            break;
        }
        let w = t.word.as_str();
        if matches!(
            w,
            "wish"
                | "wished"
                | "wishing"
                | "should've"
                | "would've"
                | "could've"
                | "shoulda"
                | "woulda"
                | "coulda"
                | "expected"
                | "hoped"
        ) {
            return true;
        }
        let prev = j.checked_sub(1).map(|k| tokens[k].word.as_str());
        if matches!(
            (prev, w),
            (Some("should" | "would" | "could" | "might"), "have")
                | (Some("supposed"), "to")
                | (Some("if"), "only")
        ) {
            return true;
        }
    }
    false
}

/// Neutral words that carry sentiment only when negated ("didn't work",
/// "never called back", "won't be back again", "not enough").
fn negated_only_valence(word: &str) -> Option<f32> {
    match word {
        "work" | "works" | "worked" | "working" | "function" | "functions" | "functioned"
        | "functioning" => Some(-1.2),
        "again" | "return" | "returned" | "buy" | "enough" | "fix" | "fixed" | "respond"
        | "responded" | "reply" | "replied" | "answer" | "answered" | "show" | "showed"
        | "arrive" | "arrived" | "come" | "came" => Some(-1.0),
        _ => None,
    }
}

/// Applies caps emphasis, boosters, negation and counterfactuals to the unit at `i`.
fn modify(tokens: &[Token], i: usize, mut v: f32, cap_diff: bool) -> f32 {
    if cap_diff && tokens[i].caps {
        v += sign(v) * C_INCR;
    }
    // Boosters and dampeners up to three tokens back, within the clause.
    for d in 1..=3 {
        let Some(j) = i.checked_sub(d) else { break };
        let t = &tokens[j];
        if t.clause_end || is_contrast(&t.word) {
            break;
        }
        let decay = [1.0, 0.95, 0.9][d - 1];
        let scalar = if let Some(b) = booster(&t.word) {
            Some(b)
        } else if j > 0 && pair_dampener(&tokens[j - 1].word, &t.word) {
            Some(-B_INCR * 1.5)
        } else {
            None
        };
        if let Some(mut b) = scalar {
            b *= decay;
            if cap_diff && t.caps {
                b += sign(b) * C_INCR;
            }
            v += sign(v) * b;
        }
    }
    if is_negated(tokens, i) {
        v *= if v > 0.0 { NEG_POS } else { NEG_NEG };
    }
    if v > 0.0 && is_counterfactual(tokens, i) {
        v *= COUNTERFACTUAL;
    }
    v
}

fn score_tokens(tokens: &Tokens, tables: &Tables) -> f32 {
    let toks = &tokens.list;
    let n = toks.len();
    if n == 0 {
        return 0.0;
    }
    let any_caps = toks.iter().any(|t| t.caps);
    let any_lower = toks.iter().any(|t| t.alpha && !t.caps);
    let cap_diff = any_caps && any_lower;

    let mut vals = vec![0.0f32; n];
    let mut i = 0;
    while i < n {
        if let Some(e) = toks[i].emoji {
            vals[i] = e;
            i += 1;
            continue;
        }
        let (base, len) = match match_phrase(toks, i, tables) {
            Some(hit) => hit,
            None => (word_valence(toks, i, tables), 1),
        };
        if base == 0.0 && len == 1 {
            if let Some(nv) = negated_only_valence(&toks[i].word) {
                if is_negated(toks, i) {
                    vals[i] = nv;
                }
            }
        } else if base != 0.0 {
            // Emoticons (":(") are not negated or boosted, like emoji.
            vals[i] = if toks[i].alpha || len > 1 {
                modify(toks, i, base, cap_diff)
            } else {
                base
            };
        }
        i += len;
    }

    apply_contrast(toks, &mut vals);

    let mut sum: f32 = vals.iter().sum();
    if sum != 0.0 {
        let mut emphasis = tokens.exclamations.min(4) as f32 * 0.292;
        if tokens.questions > 1 {
            emphasis += tokens.questions.min(3) as f32 * 0.18;
        }
        sum += sign(sum) * emphasis;
    }
    sum
}

/// "X but Y": within the sentence, X weighs 0.5 and Y 1.5. A sentence opening with
/// "But"/"However" down-weights the previous sentence instead.
fn apply_contrast(toks: &[Token], vals: &mut [f32]) {
    let n = toks.len();
    let mut start = 0;
    let mut prev_start = 0;
    while start < n {
        let mut end = start;
        while end < n && !toks[end].sentence_end {
            end += 1;
        }
        let end = (end + 1).min(n); // exclusive
        if let Some(b) = (start..end).find(|&k| is_contrast(&toks[k].word)) {
            let from = if b == start { prev_start } else { start };
            for v in &mut vals[from..b] {
                *v *= BEFORE_BUT;
            }
            for v in &mut vals[b + 1..end] {
                *v *= AFTER_BUT;
            }
        }
        prev_start = start;
        start = end;
    }
}

fn normalize(sum: f32) -> f32 {
    if !sum.is_finite() {
        return if sum.is_nan() { 0.0 } else { sign(sum) };
    }
    let s = sum / (sum * sum + ALPHA).sqrt();
    s.clamp(-1.0, 1.0)
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str) -> f32 {
        analyze(text).score
    }
    fn label(text: &str) -> SentimentLabel {
        analyze(text).label
    }
    use SentimentLabel::{Negative, Neutral, Positive};

    #[test]
    fn labels_serialize_lowercase() {
        assert_eq!(Positive.as_str(), "positive");
        assert_eq!(Neutral.as_str(), "neutral");
        assert_eq!(Negative.as_str(), "negative");
    }

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

    #[test]
    fn plain_positive_and_negative() {
        assert_eq!(label("The crew did a good job."), Positive);
        assert_eq!(label("The crew was rude and lazy."), Negative);
        assert_eq!(label("The estimate is attached."), Neutral);
    }

    #[test]
    fn negated_positive_is_negative() {
        assert_eq!(label("The crew was good."), Positive);
        assert_eq!(label("The crew was not good."), Negative);
        assert_eq!(label("I'm not happy with the shingles."), Negative);
        assert_eq!(label("We don't like the color."), Negative);
        assert_eq!(label("I would never recommend them."), Negative);
        assert_eq!(label("They dont care"), Negative);
    }

    #[test]
    fn negated_negative_is_positive() {
        assert_eq!(label("The price isn't bad."), Positive);
        assert_eq!(label("Not bad at all."), Positive);
        assert!(score("The price isn't bad.") < score("The price is great."));
        assert_eq!(label("No problems at all with the install."), Positive);
    }

    #[test]
    fn negation_stops_at_clause_boundary() {
        // "not" belongs to the first clause; "great" stays positive.
        assert!(score("Not today, the crew was great") > 0.3);
    }

    #[test]
    fn intensifier_raises_magnitude() {
        assert!(score("The crew was very good.") > score("The crew was good."));
        assert!(score("Extremely disappointed.") < score("Disappointed."));
    }

    #[test]
    fn dampener_lowers_magnitude() {
        assert!(score("The crew was slightly good.") < score("The crew was good."));
        assert!(score("I'm a bit disappointed.") > score("I'm disappointed."));
        assert!(score("It's kind of disappointing") > score("It's disappointing"));
        assert_eq!(label("kind of"), Neutral);
    }

    #[test]
    fn contrast_weights_clause_after_but() {
        assert_eq!(
            label("The crew was nice but the roof is a mess and the cleanup was terrible."),
            Negative
        );
        assert_eq!(
            label("The price was a little high but the work was excellent."),
            Positive
        );
        assert!(score("Good price. However, the crew was rude.") < 0.0);
    }

    #[test]
    fn exclamation_adds_emphasis() {
        assert!(score("Great job!!!") > score("Great job"));
        assert!(score("Terrible!!") < score("Terrible"));
        assert_eq!(label("!!!"), Neutral);
    }

    #[test]
    fn all_caps_adds_emphasis() {
        assert!(score("The crew was GREAT") > score("The crew was great"));
        assert!(score("this is TERRIBLE service") < score("this is terrible service"));
    }

    #[test]
    fn emoji_carry_sentiment() {
        assert_eq!(label("👍"), Positive);
        assert_eq!(label("🙂"), Positive);
        assert_eq!(label("😡😡"), Negative);
        assert_eq!(label("ok 👎"), Negative);
        assert_eq!(label("see you then :)"), Positive);
        assert_eq!(label("still nothing :("), Negative);
        assert_eq!(label("🏠"), Neutral);
    }

    #[test]
    fn topic_words_are_not_strong_sentiment() {
        // A homeowner describing the problem is not angry at the roofer.
        assert!(score("I have a leak in my roof") > -0.3);
        assert!(score("We have some hail damage on the back side") > -0.3);
        assert_ne!(label("Storm damage, need someone to look at it"), Negative);
        assert_ne!(
            label("Emergency - water coming in through the ceiling, please call me ASAP"),
            Negative
        );
        assert_eq!(
            label("Can you help? We have a leak. When can you come out?"),
            Positive
        );
    }

    #[test]
    fn roofing_lost_lead_phrases_are_negative() {
        for text in [
            "We decided to go with someone else.",
            "Thanks but we went with another company",
            "Honestly it's too expensive for us",
            "That's out of our budget right now",
            "Not interested",
            "Stop texting me",
            "please don't call me again",
            "take me off your list",
            "Your crew never showed up",
            "What a waste of time",
            "This is a scam",
            "It's still leaking after the repair",
            "no thanks",
            "We found a cheaper quote",
            "Never heard back from anyone",
        ] {
            assert_eq!(label(text), Negative, "{text}");
        }
    }

    #[test]
    fn roofing_engaged_lead_phrases_are_positive() {
        for text in [
            "We're ready to schedule",
            "When can you come out?",
            "Sounds good",
            "Let's do it",
            "Please call me",
            "The leak is fixed, no longer leaking!",
            "Thank you",
            "Great job on the roof",
            "Tuesday works for us",
            "Yes please, send me the contract",
            "Looking forward to it",
        ] {
            assert_eq!(label(text), Positive, "{text}");
        }
    }

    #[test]
    fn negated_phrase_flips() {
        assert_eq!(label("We are not ready to schedule yet."), Negative);
        assert_eq!(label("It isn't leaking anymore"), Positive);
    }

    #[test]
    fn negated_neutral_verb_is_negative() {
        assert_eq!(label("The new gutter guard didn't work."), Negative);
        assert_eq!(label("They never responded to my emails"), Negative);
        assert_eq!(label("We won't hire them again"), Negative);
        assert_eq!(label("He works on Saturdays."), Neutral);
    }

    #[test]
    fn counterfactual_positive_is_negative() {
        assert_eq!(label("The cleanup could have been better."), Negative);
        assert_eq!(label("I wish the crew had been more careful"), Negative);
        assert!(score("I expected better quality") < 0.0);
    }

    #[test]
    fn complaint_idioms_are_negative() {
        assert_eq!(label("Don't waste your time with this company"), Negative);
        assert_eq!(label("Stay away from them"), Negative);
        assert_eq!(label("I want my money back"), Negative);
        assert_eq!(
            label("We've been waiting three weeks for the estimate"),
            Negative
        );
    }

    #[test]
    fn inflections_fall_back_to_lexicon_stem() {
        // "lacks" is not in VADER's lexicon, "lack" is.
        assert_eq!(label("The quote lacks detail"), Negative);
        assert!(lookup("unhelpful", &TABLES).is_some_and(|v| v < 0.0));
        assert_eq!(lookup("xyzzy", &TABLES), None);
    }

    #[test]
    fn sentence_adverbs_are_not_sentiment() {
        assert_eq!(label("Honestly, the roof is 20 years old"), Neutral);
    }

    #[test]
    fn like_as_preposition_is_neutral() {
        assert_eq!(label("It looks like rain tomorrow"), Neutral);
        assert_eq!(label("I like the new gutters"), Positive);
    }

    #[test]
    fn curly_apostrophes_are_normalized() {
        assert_eq!(label("I don\u{2019}t like it"), Negative);
    }

    #[test]
    fn no_panic_on_odd_inputs() {
        let huge = "very good ".repeat(100_000);
        let long_word = "a".repeat(1_000_000);
        let odd = [
            "",
            " ",
            "\n\n\t",
            "!!!???...",
            "😡",
            "🤦\u{200d}\u{2642}\u{fe0f}",
            "👍🏽👍🏽",
            "\u{0}\u{1}\u{7f}",
            "éàü ñ 中文 日本語 العربية",
            "'",
            "-",
            "n't",
            "{a,b}",
            ":) :( :-) <3",
            "but",
            "but but but",
            "However",
            "not",
            "no no no",
            "a bit",
            "kind of sort of",
            huge.as_str(),
            long_word.as_str(),
            "\u{feff}Thank you\r\n",
            "\u{2019}\u{2019}\u{2019}",
            "ALL CAPS ONLY",
            "I",
        ];
        for text in odd {
            let s = analyze(text);
            assert!(s.score.is_finite(), "{text:?}");
            assert!((-1.0..=1.0).contains(&s.score), "{text:?}");
        }
        assert_eq!(label(""), Neutral);
        assert_eq!(score(""), 0.0);
        // Every byte boundary of a mixed string.
        let mixed = "Great job 👍 but it's still leaking 😡! Not interested.";
        for (i, _) in mixed.char_indices() {
            let _ = analyze(&mixed[..i]);
            let _ = analyze(&mixed[i..]);
        }
    }

    #[test]
    fn analyze_is_fast() {
        let msg = "Hi, thanks for coming out yesterday. The estimate looks good but it's a bit \
                   more than we expected. We had a leak over the garage after the storm and \
                   some shingles are missing. Could you call me tomorrow morning? If we can \
                   get the price down we're ready to schedule. "
            .repeat(4);
        assert!(msg.len() >= 1000);
        let _ = analyze(&msg); // build tables
        let start = std::time::Instant::now();
        let runs = 200;
        for _ in 0..runs {
            std::hint::black_box(analyze(std::hint::black_box(&msg)));
        }
        let per = start.elapsed() / runs;
        // Generous bound (debug build, shared CI machine); release is ~10x faster.
        assert!(
            per < std::time::Duration::from_millis(5),
            "{per:?} per message"
        );
    }
}
