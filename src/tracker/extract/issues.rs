//! Roof issues as canonical tags ("leak", "hail_damage"…), negations left out.

use std::sync::LazyLock;

use regex::Regex;

use super::text::{before, lazy, negated, tail_after, CLAUSE};

/// Issue tags in reporting order, each with the ways people say it (`{few}`: "some", "a
/// couple of", "3"…).
const ISSUES: &[(&str, &[&str])] = &[
    (
        "leak",
        &[
            r"\bleak(?:s|ing|ed|y|age)?\b",
            r"\bwater\s+(?:is\s+|was\s+)?(?:coming|comes|came|getting|gets|got|dripping|drips|leaking|pouring|seeping|running)\s+(?:in|into|through|down|from)\b",
            r"\bwater\s+(?:stains?|spots?|marks?|damage)\b",
            r"\b(?:stains?|spots?)\s+on\s+(?:the|my|our)\s+ceiling\b",
            r"\bceiling\s+(?:stains?|is\s+stained|damage|is\s+wet|is\s+dripping)\b",
            r"\bdrip(?:s|ping)\b",
            r"\bwet\s+(?:ceiling|attic|spots?|insulation|drywall)\b",
        ],
    ),
    (
        "missing_shingles",
        &[
            r"\b(?:missing|lost|losing|lose)\s+{few}shingles?\b",
            r"\bshingles?\s+(?:(?:are|were|have|has|been|just|got|all)\s+)*(?:missing|gone|(?:blew|blown|blowing|came|coming|flew|fell|falling|torn|ripped)\s+off)\b",
            r"\b(?:blew|blown|ripped|tore|torn)\s+(?:off\s+)?{few}shingles?\b",
        ],
    ),
    (
        "damaged_shingles",
        &[
            r"\b(?:curl(?:ing|ed|y)?|crack(?:ed|ing)?|broken|damaged|loose|lifting|lifted|buckl(?:ing|ed)|brittle|blister(?:ing|ed)|worn)\s+(?:(?:up|out|asphalt|roof|some|a\s+few|of\s+the|the)\s+)*shingles?\b",
            r"\bshingles?\s+(?:(?:are|is|were|have|has|look|looks|seem|been|getting|starting\s+to|all|kind\s+of|really|pretty)\s+)*(?:curl(?:ing|ed|s)?|crack(?:ed|ing|s)?|broken|damaged|loose|lifting|buckl(?:ing|ed)|brittle|blister(?:ing|ed)|worn|falling\s+apart|deteriorat(?:ing|ed)|losing\s+granules)\b",
            r"\bgranules?\b",
        ],
    ),
    ("hail_damage", &[r"\bhail(?:storms?|stones?|ed)?\b"]),
    // "hail storm" / "wind storm" match here but are tagged as hail / wind only.
    (
        "storm_damage",
        &[
            r"\b(?:thunder|rain|snow|ice|hail\s*|wind\s*)?storms?\b",
            r"\btornado(?:es)?\b",
            r"\bhurricanes?\b",
        ],
    ),
    (
        "wind_damage",
        &[r"\bwind(?:s|y|storms?)?\b", r"\bgusts?\b", r"\bderecho\b"],
    ),
    (
        "sagging",
        &[
            r"\bsag(?:s|ging|gy|ged)?\b",
            r"\bdipp(?:ing|ed)\b",
            r"\bdips?\b",
            r"\bdroop(?:s|ing|y)?\b",
            r"\bbow(?:ing|ed)\b",
            r"\bcav(?:ing|ed)\s+in\b",
            r"\bsoft\s+spots?\b",
            r"\bspongy\b",
            r"\bsinking\b",
        ],
    ),
    ("gutters", &[r"\bgutters?\b", r"\bdownspouts?\b"]),
    (
        "mold",
        &[
            r"\bmou?ldy?\b",
            r"\bmossy?\b",
            r"\balgae\b",
            r"\bmildew\b",
            r"\bblack\s+streaks?\b",
            r"\bfung(?:us|i)\b",
        ],
    ),
    (
        "insurance_claim",
        &[
            r"\binsurance\b",
            r"\binsured\b",
            r"\badjusters?\b",
            r"\bclaims?\b",
            r"\bdeductible\b",
        ],
    ),
    (
        "flashing",
        &[
            r"\bflashings?\b",
            r"\bdrip\s+edge\b",
            r"\b(?:pipe|vent)\s+boots?\b",
            r"\bchimney\b",
            r"\bskylights?\b",
        ],
    ),
    (
        "ventilation",
        &[
            r"\bventilat(?:ion|ed|ing|e)\b",
            r"\bvents?\b",
            r"\bsoffits?\b",
            r"\battic\s+fan\b",
            r"\b(?:hot|stuffy|humid)\s+attic\b",
            r"\battic\s+(?:is\s+)?(?:too\s+|really\s+|so\s+)?(?:hot|humid|stuffy)\b",
            r"\bcondensation\b",
        ],
    ),
    (
        "ice_dam",
        &[
            r"\bice\s*dams?\b",
            r"\bice\s+damming\b",
            r"\bicicles?\b",
            r"\bice\s+build-?\s?ups?\b",
        ],
    ),
    (
        "tree_damage",
        &[
            r"\b(?:trees?|branch(?:es)?|limbs?)\b[^.!?\n]{0,30}?\b(?:fell|fall|fallen|falling|hit|hits|landed|crashed|came\s+down|went\s+through|punctured|on\s+(?:the|my|our)\s+(?:roof|house))\b",
            r"\b(?:fallen|overhanging)\s+(?:trees?|branch(?:es)?|limbs?)\b",
            r"\btree\s+damage\b",
        ],
    ),
    (
        "full_replacement",
        &[
            r"\breplac(?:e|ing)\s+(?:the\s+|my\s+|our\s+|a\s+|this\s+)?(?:whole\s+|entire\s+|old\s+)?roof\b",
            r"\broof\s+replacements?\b",
            r"\bre-?roof(?:ing)?\b",
            r"\b(?:full|complete|total)\s+(?:roof\s+)?replacement\b",
            r"\btear[\s\-]?off\b",
            r"\broof\s+needs?\s+(?:to\s+be\s+)?replac(?:ed|ing)\b",
            r"\bnew\s+roof\b",
        ],
    ),
    (
        "inspection",
        &[
            r"\binspect(?:ion|ions|or)?\b",
            r"\bestimates?\b",
            r"\bassessment\b",
            r"\bquotes?\b",
            r"\b(?:take|have)\s+a\s+look\b",
            r"\blook\s+at\s+(?:it|the\s+roof|my\s+roof|our\s+roof)\b",
            r"\bcome\s+(?:out|by)\b",
        ],
    ),
];

/// A count of shingles: "some", "a couple of", "3"…
const FEW: &str = r"(?:(?:some|a\s+few|a\s+couple(?:\s+of)?|several|many|lots\s+of|a\s+lot\s+of|a\s+bunch\s+of|a|the|my|our|of|\d+|two|three|four|five|ten)\s+)*";

/// One case-insensitive pattern made of the alternatives.
pub(super) fn any_of(alternatives: &[&str]) -> Regex {
    lazy(&format!(
        "(?i){}",
        alternatives.join("|").replace("{few}", FEW)
    ))
}

pub(super) static ISSUE_PATTERNS: LazyLock<Vec<(&str, Regex)>> = LazyLock::new(|| {
    ISSUES
        .iter()
        .map(|(tag, alts)| (*tag, any_of(alts)))
        .collect()
});

/// "new roof" is a request when wanted ("need a new roof", "new roof please") but not when had
/// ("got a brand new roof", "my new roof leaks").
static WANTS: LazyLock<Regex> = LazyLock::new(|| {
    lazy(
        r"(?i)\b(?:need|needs|needed|want|wants|get|getting|looking|quote|quotes|estimate|estimates|price|prices|pricing|cost|costs|considering|thinking|time\s+for|interested|how\s+much|install|installing|replace|for\s+a|about\s+a)\b",
    )
});
static HAS: LazyLock<Regex> = LazyLock::new(|| {
    lazy(r"(?i)\b(?:brand|got|had|have|has|put|installed|my|our|the|this|since|after)\b")
});

pub(super) fn find_issues(text: &str) -> Vec<String> {
    ISSUE_PATTERNS
        .iter()
        .filter(|(tag, re)| re.find_iter(text).any(|m| issue_applies(tag, text, m)))
        .map(|(tag, _)| (*tag).to_owned())
        .collect()
}

fn issue_applies(tag: &str, text: &str, m: regex::Match) -> bool {
    let said = m.as_str().to_lowercase();
    let lead_in = tail_after(before(text, m.start()), CLAUSE, 40);
    let wrong_kind = match tag {
        "storm_damage" => said.starts_with("hail") || said.starts_with("wind"),
        "full_replacement" if said.ends_with("new roof") => {
            !WANTS.is_match(lead_in) && HAS.is_match(lead_in)
        }
        _ => false,
    };
    !wrong_kind && !negated(text, m.start())
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::tests::{check, none, s, tags};
    use crate::domain::LeadProfile;

    pub(in crate::tracker::extract) fn phrasings() -> Vec<(&'static str, LeadProfile)> {
        vec![
        ("insurance adjuster came out, filing a claim for wind damage", LeadProfile { issues: tags(&["wind_damage", "insurance_claim"]), ..none() }),
        ("tree fell on our roof after the storm", LeadProfile { issues: tags(&["storm_damage", "tree_damage"]), ..none() }),
        ("ice dams every winter, attic is hot, vents are clogged", LeadProfile { issues: tags(&["ventilation", "ice_dam"]), ..none() }),
        ("flashing around the chimney is loose", LeadProfile { issues: tags(&["flashing"]), ..none() }),
        ("shingles blew off in the wind", LeadProfile { issues: tags(&["missing_shingles", "wind_damage"]), ..none() }),
        ("lost some shingles and there are water stains on the ceiling", LeadProfile { issues: tags(&["leak", "missing_shingles"]), ..none() }),
        ("no leaks, no hail damage, just want an inspection", LeadProfile { issues: tags(&["inspection"]), ..none() }),
        ("the storm didn't cause any leaks", LeadProfile { issues: tags(&["storm_damage"]), ..none() }),
        ("we need to replace the whole roof", LeadProfile { issues: tags(&["full_replacement"]), ..none() }),
        ("new roof please", LeadProfile { issues: tags(&["full_replacement"]), ..none() }),
        ("my new roof is leaking", LeadProfile { issues: tags(&["leak"]), ..none() }),
        ("a few shingles blew off and some are cracked shingles", LeadProfile { issues: tags(&["missing_shingles", "damaged_shingles"]), ..none() }),
        ("hail hit us last night", LeadProfile { issues: tags(&["hail_damage"]), ..none() }),
        (
            "Can someone come out today? Tree limb fell through the roof during the storm!! 972.555.0188",
            LeadProfile {
                phone: s("+19725550188"),
                issues: tags(&["storm_damage", "tree_damage", "inspection"]),
                timeline: s("asap"),
                ..none()
            },
        ),
        ]
    }

    #[test]
    fn reads_its_phrasings() {
        check(&phrasings());
    }
}
