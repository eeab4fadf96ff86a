//! Opt-out and opt-in keywords (SMS/WhatsApp "STOP" handling), as a pure check.
//!
//! A message is a keyword only when the whole message is one: "stop" opts
//! out, "please stop calling me" does not. Case and surrounding or repeated
//! whitespace do not matter.

/// Built-in keywords that opt a contact out.
pub const OPT_OUT_KEYWORDS: [&str; 6] = ["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPALL"];

/// Built-in keywords that opt a contact back in.
pub const OPT_IN_KEYWORDS: [&str; 2] = ["START", "UNSTOP"];

/// Whether `text` is an opt-out or opt-in keyword: `Some((true, keyword))`
/// for an opt-out, `Some((false, keyword))` for an opt-in, `None` otherwise.
///
/// `extra_opt_out` and `extra_opt_in` add configured keywords (matched the
/// same way). The keyword returned is the normalised form (upper case, single
/// spaces). A word in both lists opts out: when in doubt, stop messaging.
pub fn consent_keyword(
    text: &str,
    extra_opt_out: &[String],
    extra_opt_in: &[String],
) -> Option<(bool, String)> {
    let said = normalise(text);
    if said.is_empty() {
        return None;
    }
    let matches = |builtin: &[&str], extra: &[String]| {
        builtin.iter().any(|k| *k == said) || extra.iter().any(|k| normalise(k) == said)
    };
    if matches(&OPT_OUT_KEYWORDS, extra_opt_out) {
        Some((true, said))
    } else if matches(&OPT_IN_KEYWORDS, extra_opt_in) {
        Some((false, said))
    } else {
        None
    }
}

/// Upper case, words joined by single spaces.
fn normalise(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_uppercase)
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Option<(bool, String)> {
        consent_keyword(text, &[], &[])
    }

    #[test]
    fn every_builtin_opt_out_keyword_opts_out_in_any_case_and_spacing() {
        for (text, keyword) in [
            ("STOP", "STOP"),
            ("stop", "STOP"),
            ("  Stop \n", "STOP"),
            ("unsubscribe", "UNSUBSCRIBE"),
            ("Cancel", "CANCEL"),
            ("end", "END"),
            ("quit\t", "QUIT"),
            ("StopAll", "STOPALL"),
        ] {
            assert_eq!(check(text), Some((true, keyword.to_owned())), "{text:?}");
        }
    }

    #[test]
    fn start_and_unstop_opt_back_in() {
        assert_eq!(check(" start"), Some((false, "START".to_owned())));
        assert_eq!(check("UNSTOP"), Some((false, "UNSTOP".to_owned())));
    }

    #[test]
    fn a_keyword_inside_a_sentence_is_not_a_keyword() {
        for text in ["please stop", "stop it", "STOP!", "stopping", "", "   "] {
            assert_eq!(check(text), None, "{text:?}");
        }
    }

    #[test]
    fn configured_keywords_are_matched_the_same_way() {
        let out = vec!["Arret".to_owned(), "opt  out".to_owned()];
        let in_ = vec!["subscribe".to_owned()];
        assert_eq!(
            consent_keyword("ARRET", &out, &in_),
            Some((true, "ARRET".into()))
        );
        assert_eq!(
            consent_keyword(" opt out ", &out, &in_),
            Some((true, "OPT OUT".into()))
        );
        assert_eq!(
            consent_keyword("Subscribe", &out, &in_),
            Some((false, "SUBSCRIBE".into()))
        );
        assert_eq!(consent_keyword("arret", &[], &[]), None);
    }

    #[test]
    fn a_word_configured_both_ways_opts_out() {
        let both = vec!["maybe".to_owned()];
        assert_eq!(
            consent_keyword("maybe", &both, &both),
            Some((true, "MAYBE".into()))
        );
    }
}
