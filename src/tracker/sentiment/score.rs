//! Scoring tokens: valence, negation, counterfactuals, emphasis, contrast, the squash.

use super::lexicon::Tables;
use super::tokens::{Token, Tokens};
use super::words::{booster, is_contrast, is_negator, like_is_verb, pair_dampener};
use super::{
    AFTER_BUT, ALPHA, BEFORE_BUT, B_INCR, CF_WINDOW, COUNTERFACTUAL, C_INCR, NEG_NEG, NEG_POS,
    NEG_WINDOW,
};

pub(super) fn sign(v: f32) -> f32 {
    if v < 0.0 {
        -1.0
    } else {
        1.0
    }
}

/// Longest phrase starting at `i`: (valence, length in tokens).
pub(super) fn match_phrase(tokens: &[Token], i: usize, tables: &Tables) -> Option<(f32, usize)> {
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
pub(super) fn lookup(word: &str, tables: &Tables) -> Option<f32> {
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
pub(super) fn word_valence(tokens: &[Token], i: usize, tables: &Tables) -> f32 {
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
pub(super) fn is_negated(tokens: &[Token], i: usize) -> bool {
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
pub(super) fn is_counterfactual(tokens: &[Token], i: usize) -> bool {
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
pub(super) fn negated_only_valence(word: &str) -> Option<f32> {
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
pub(super) fn modify(tokens: &[Token], i: usize, mut v: f32, cap_diff: bool) -> f32 {
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

pub(super) fn score_tokens(tokens: &Tokens, tables: &Tables) -> f32 {
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
pub(super) fn apply_contrast(toks: &[Token], vals: &mut [f32]) {
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

pub(super) fn normalize(sum: f32) -> f32 {
    if !sum.is_finite() {
        return if sum.is_nan() { 0.0 } else { sign(sum) };
    }
    let s = sum / (sum * sum + ALPHA).sqrt();
    s.clamp(-1.0, 1.0)
}
