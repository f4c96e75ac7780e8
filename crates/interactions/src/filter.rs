//! The event filter's match: Snowbridge's regex on one field, answered without the regex engine when
//! the pattern can only match whole values from a fixed list of names, as the default pattern does.
//!
//! The filter runs on every line, and most lines are dropped by it, so its cost is paid per line of
//! the stream. For an anchored choice of names the regex engine spent about 250 instructions a line
//! (its cache pool, start state and lazy DFA); comparing the value with each name in turn spends
//! about a tenth of that.

use regex::bytes::Regex;
use regex_syntax::hir::literal::Extractor;
use regex_syntax::hir::{Hir, HirKind, Look};
use snowplow_enriched::short_eq;

/// A compiled filter pattern.
#[derive(Debug, Clone)]
pub(crate) enum Filter {
    /// The pattern matches exactly these values (at most [`MAX_NAMES`], no duplicates), and nothing
    /// else.
    Names(Vec<Box<[u8]>>),
    Regex(Regex),
}

impl Filter {
    pub(crate) fn new(pattern: &str) -> Result<Filter, regex::Error> {
        // A list of names is not compiled as a regex as well: compiling the default pattern was most
        // of building a pipeline (0.37M of its 0.47M instructions), which every run and every Lambda
        // does on starting. The regex crate takes every pattern that is such a list, so no error
        // goes unreported: regex_syntax parsed it with the same nesting limit and a stricter UTF-8
        // rule, and its names, at most 32 of at most 100 bytes (the extractor's limit on a literal),
        // stay far inside the compiled size limit.
        Ok(match whole_value_names(pattern) {
            Some(names) => Filter::Names(names),
            None => Filter::Regex(Regex::new(pattern)?),
        })
    }

    pub(crate) fn is_match(&self, value: &[u8]) -> bool {
        match self {
            // Compared inline rather than by `memcmp`, whose calls for names of the value's length
            // (`page_view` against `view_item`) had taken 4% of a realistic run.
            Filter::Names(names) => names.iter().any(|name| short_eq(name, value)),
            Filter::Regex(regex) => regex.is_match(value),
        }
    }
}

/// The values a pattern matches, when it is `^`, then something that matches a finite set of exact
/// strings with no assertion inside, then `$` (in the regex crate without the `m` flag, `^` and `$`
/// are the start and end of the value). `None` otherwise, and for more than [`MAX_NAMES`] strings.
fn whole_value_names(pattern: &str) -> Option<Vec<Box<[u8]>>> {
    let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
    let HirKind::Concat(parts) = hir.kind() else { return None };
    let [first, middle @ .., last] = parts.as_slice() else { return None };
    if *first.kind() != HirKind::Look(Look::Start) || *last.kind() != HirKind::Look(Look::End) {
        return None;
    }
    let middle = Hir::concat(middle.to_vec());
    // The extractor treats assertions as matching the empty string, which is exact only when there
    // are none.
    if !middle.properties().look_set().is_empty() {
        return None;
    }
    let seq = Extractor::new().extract(&middle);
    if !seq.is_exact() {
        return None;
    }
    let mut names: Vec<Box<[u8]>> = seq.literals()?.iter().map(|l| Box::from(l.as_bytes())).collect();
    names.sort_unstable();
    names.dedup();
    (names.len() <= MAX_NAMES).then_some(names)
}

/// Beyond this many names the regex engine's automaton, which reads each byte once, is left to it.
const MAX_NAMES: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DEFAULT_FILTER_REGEX;

    #[test]
    fn the_default_pattern_is_a_list_of_names() {
        let Ok(Filter::Names(names)) = Filter::new(DEFAULT_FILTER_REGEX) else { panic!("not a list of names") };
        let names: Vec<&[u8]> = names.iter().map(|n| &**n).collect();
        assert_eq!(
            names,
            [
                &b"action"[..],
                b"create_order",
                b"link_click",
                b"snowplow_ecommerce_action",
                b"transaction_item",
                b"view_item"
            ]
        );
    }

    /// Every pattern answers every value as the regex does, whichever way it is answered.
    #[test]
    fn names_answer_as_the_regex_does() {
        let patterns = [
            (DEFAULT_FILTER_REGEX, true),
            ("^(a|ab|abc)$", true),
            ("^transaction(_item)?$", true),
            ("^[ab]c$", true),
            ("^a{2}$", true),
            ("^$", true),
            (r"\A(page_view|page_ping)\z", true),
            ("^(a|b)", false),
            ("(a|b)$", false),
            ("^a$|^b$", false),
            (r"^(a\b|b)$", false),
            (r"^(a\Bb)$", false),
            ("(?m)^a$", false),
            ("^a+$", false),
            ("^.$", false),
            ("^(?i-u:ab)$", true),
            ("^(?i-u:abcde)$", true),
            ("^(?i-u:abcdef)$", false),
            ("view", false),
            ("", false),
        ];
        let values: [&[u8]; 24] = [
            b"",
            b"a",
            b"b",
            b"ab",
            b"abc",
            b"aa",
            b"ac",
            b"bc",
            b"AB",
            b"ABCdE",
            b"ABCdEf",
            b"aB",
            b"transaction",
            b"transaction_item",
            b"transaction_items",
            b"page_view",
            b"page_ping",
            b"view_item",
            b" view_item",
            b"view_item\n",
            b"a\nb",
            b"\xff",
            b"link_click",
            b"snowplow_ecommerce_action",
        ];
        for (pattern, names) in patterns {
            let filter = Filter::new(pattern).unwrap();
            assert_eq!(matches!(filter, Filter::Names(_)), names, "{pattern:?}");
            let regex = Regex::new(pattern).unwrap();
            for value in values {
                assert_eq!(filter.is_match(value), regex.is_match(value), "{pattern:?} on {value:?}");
            }
        }
    }

    #[test]
    fn a_bad_pattern_gets_the_regex_error() {
        assert!(Filter::new("^(a|b$").is_err());
        // Refused by the regex crate for its size alone. Its one value, a literal too long for the
        // extractor, is not taken for a name, so the pattern is compiled and refused.
        let too_big = "^(?:a{1000}){1000}$";
        assert!(Regex::new(too_big).is_err());
        assert!(Filter::new(too_big).is_err());
        assert!(matches!(Filter::new(&format!("^{}$", "a".repeat(101))), Ok(Filter::Regex(_))));
        assert!(matches!(Filter::new(&format!("^{}$", "a".repeat(100))), Ok(Filter::Names(_))));
    }
}
