//! Word classes: boosters, dampeners, negators, contrast words, `like` as a verb, emoji.

use super::B_INCR;

pub(super) fn booster(word: &str) -> Option<f32> {
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
pub(super) fn pair_dampener(first: &str, second: &str) -> bool {
    matches!(
        (first, second),
        ("a", "bit") | ("a", "tad") | ("kind", "of") | ("sort", "of") | ("a", "little")
    )
}

pub(super) fn is_negator(word: &str) -> bool {
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

pub(super) fn is_contrast(word: &str) -> bool {
    matches!(word, "but" | "however")
}

/// Words after which `like` is the verb ("I like it"), not a preposition ("looks like rain").
pub(super) fn like_is_verb(prev: Option<&str>) -> bool {
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

pub(super) fn emoji_valence(c: char) -> Option<f32> {
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
