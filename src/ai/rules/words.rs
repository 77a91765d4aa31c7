//! The lead's words as the intent detectors read them: tokens, phrases, typos.

/// The lead's words, lowercased and split into tokens (apostrophes dropped, so
/// "can't" is "cant").
pub(super) struct Words {
    pub(super) tokens: Vec<String>,
    /// " tok tok tok " for phrase matching.
    joined: String,
}

impl Words {
    pub(super) fn new(text: &str) -> Self {
        let lower = text.to_lowercase().replace(['’', '‘', '`'], "'");
        let mut tokens = Vec::new();
        let mut cur = String::new();
        for c in lower.chars() {
            if c.is_alphanumeric() {
                cur.push(c);
            } else if c == '\'' {
                // dropped inside words: "don't" → "dont"
            } else if !cur.is_empty() {
                tokens.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            tokens.push(cur);
        }
        let joined = format!(" {} ", tokens.join(" "));
        Words { tokens, joined }
    }

    pub(super) fn phrase(&self, p: &str) -> bool {
        self.joined.contains(&format!(" {p} "))
    }

    pub(super) fn any_phrase(&self, ps: &[&str]) -> bool {
        ps.iter().any(|p| self.phrase(p))
    }

    pub(super) fn any_prefix(&self, ps: &[&str]) -> bool {
        self.tokens
            .iter()
            .any(|t| ps.iter().any(|p| t.starts_with(p)))
    }

    pub(super) fn any_exact(&self, ws: &[&str]) -> bool {
        self.tokens.iter().any(|t| ws.contains(&t.as_str()))
    }

    /// Exact words, plus one typo (insertion, deletion, substitution or swap)
    /// for words of 6+ letters with the same first letter.
    pub(super) fn any_fuzzy(&self, ws: &[&str]) -> bool {
        self.tokens.iter().any(|t| {
            ws.iter().any(|w| {
                t == w
                    || (w.len() >= 6
                        && t.len() >= 5
                        && t.chars().next() == w.chars().next()
                        && within_one_edit(t, w))
            })
        })
    }

    /// The token after the phrase `p`, for each occurrence.
    pub(super) fn next_after(&self, p: &[&str]) -> Vec<Option<&str>> {
        let n = p.len();
        let mut out = Vec::new();
        if self.tokens.len() < n {
            return out;
        }
        for i in 0..=self.tokens.len() - n {
            if self.tokens[i..i + n].iter().zip(p).all(|(a, b)| a == b) {
                out.push(self.tokens.get(i + n).map(String::as_str));
            }
        }
        out
    }
}

/// Damerau–Levenshtein distance ≤ 1 (ASCII-ish words).
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return true;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let mut i = 0;
    while i < la.min(lb) && a[i] == b[i] {
        i += 1;
    }
    if la == lb {
        // substitution or adjacent swap
        (a[i + 1..] == b[i + 1..])
            || (i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] && a[i + 2..] == b[i + 2..])
    } else if la > lb {
        a[i + 1..] == b[i..]
    } else {
        a[i..] == b[i + 1..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn one_edit() {
        assert!(within_one_edit("estimte", "estimate"));
        assert!(within_one_edit("insruance", "insurance"));
        assert!(within_one_edit("shedule", "schedule"));
        assert!(!within_one_edit("estmte", "estimate"));
        assert!(within_one_edit("abc", "abc"));
    }
}
