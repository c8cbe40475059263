//! Name normalisation and similarity for suggestions.
//!
//! Two systems spell the same customer differently: case, accents, punctuation, and above all the
//! legal suffix ("Ltda" vs "Ltda." vs nothing, "Inc" vs "Incorporated"). Normalising removes those
//! differences so they match exactly; what is left (typos) is scored by similarity.

use std::collections::BTreeSet;

use unicode_normalization::UnicodeNormalization as _;

/// Legal-form tokens removed from the end of a name (after punctuation is dropped, so `L.L.C.` is
/// `llc` and `S.A.` is `sa`). Several in a row are all removed (`Pty Ltd`).
const LEGAL_SUFFIXES: &[&str] = &[
    "ltda",
    "me",
    "eireli",
    "epp",
    "sa",
    "llc",
    "llp",
    "lp",
    "inc",
    "incorporated",
    "co",
    "corp",
    "corporation",
    "company",
    "gmbh",
    "ag",
    "kg",
    "ltd",
    "limited",
    "plc",
    "pty",
    "pte",
    "bv",
    "nv",
    "srl",
    "sl",
    "sas",
    "sarl",
    "oy",
    "ab",
    "as",
    "aps",
    "kk",
    "pc",
];

/// Letters NFKD does not decompose into a base letter plus a mark.
fn fold_special(c: char) -> Option<&'static str> {
    Some(match c {
        'ø' | 'Ø' => "o",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ß' => "ss",
        'đ' | 'Đ' | 'ð' | 'Ð' => "d",
        'ł' | 'Ł' => "l",
        'þ' | 'Þ' => "th",
        'ı' => "i",
        _ => return None,
    })
}

/// Lower-case, accent-free, punctuation-free words, before suffix stripping.
fn words(text: &str) -> Vec<String> {
    let mut plain = String::with_capacity(text.len());
    for c in text.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        if let Some(s) = fold_special(c) {
            plain.push_str(s);
            continue;
        }
        match c {
            '&' | '+' => plain.push_str(" and "),
            // Dropped inside words: "O'Brien" = "OBrien", "L.L.C." = "LLC", "Baker \"Tech\"".
            '\'' | '’' | '‘' | '`' | '´' | '.' | '"' | '“' | '”' => {}
            c if c.is_alphanumeric() => plain.extend(c.to_lowercase()),
            _ => plain.push(' '),
        }
    }
    plain.split_whitespace().map(str::to_owned).collect()
}

/// The comparable form of a company or tenant name: lower case, no accents, `&` as `and`, no
/// punctuation, single spaces, trailing legal suffixes removed (never down to nothing).
pub fn normalize_name(name: &str) -> String {
    let mut w = words(name);
    while w.len() > 1
        && w.last()
            .is_some_and(|t| LEGAL_SUFFIXES.contains(&t.as_str()))
    {
        w.pop();
    }
    w.join(" ")
}

/// A name or identifier with all separators removed, to compare with ConnectWise identifiers
/// (`SaoJoaoDental` = "São João Dental Ltda").
pub fn compact(name: &str) -> String {
    normalize_name(name).replace(' ', "")
}

/// Similarity in 0..1 of two *normalised* names. Below 1.0 unless they are equal.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    // Damerau-Levenshtein counts a swapped pair of letters (the common typo) as one edit.
    let edit = strsim::normalized_damerau_levenshtein(a, b);
    let jw = strsim::jaro_winkler(a, b);
    let tokens = token_set(a, b);
    let score = (0.5 * edit + 0.3 * jw + 0.2 * tokens).max(tokens * 0.97);
    // Only an exact normalised match is certain.
    score.min(0.99)
}

/// Jaccard similarity of the word sets (word order does not matter).
fn token_set(a: &str, b: &str) -> f64 {
    let sa: BTreeSet<&str> = a.split(' ').collect();
    let sb: BTreeSet<&str> = b.split(' ').collect();
    let inter = sa.intersection(&sb).count();
    let union = sa.union(&sb).count();
    if union == 0 {
        0.0
    } else {
        inter as f64 / union as f64
    }
}

/// The words of a normalised name worth indexing (to find candidates without scoring everything).
pub fn index_tokens(normalized: &str) -> impl Iterator<Item = &str> {
    normalized.split(' ').filter(|t| {
        t.chars().count() >= 2 && !matches!(*t, "and" | "the" | "of" | "de" | "do" | "da")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_the_usual_differences() {
        let cases = [
            ("São João Dental Ltda", "sao joao dental"),
            ("SAO JOAO DENTAL LTDA.", "sao joao dental"),
            ("Løvberg Legal GmbH", "lovberg legal"),
            ("O'Brien Legal, Inc.", "obrien legal"),
            ("Smith & Sons Foods L.L.C.", "smith and sons foods"),
            ("Smith and Sons Foods", "smith and sons foods"),
            ("Baker \"Tech\" Labs Pty. Ltd.", "baker tech labs"),
            ("St. Mary's Clinic S.A.", "st marys clinic"),
            ("Acme-Dental", "acme dental"),
            ("Co", "co"),
            ("Müller Maschinenbau Incorporated", "muller maschinenbau"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_name(input), want, "{input}");
        }
        assert_eq!(compact("São João Dental Ltda"), "saojoaodental");
    }

    #[test]
    fn similarity_ranks_typos_above_other_names() {
        let typo = similarity("acme dnetal", "acme dental");
        let other = similarity("acme dnetal", "acme legal");
        assert!(typo > other + 0.05, "{typo} vs {other}");
        assert!(typo < 1.0);
        assert_eq!(similarity("acme dental", "acme dental"), 1.0);
        assert!(similarity("dental acme", "acme dental") > 0.9);
    }
}
