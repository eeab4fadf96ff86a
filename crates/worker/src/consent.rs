//! Opt-out and opt-in keywords: an inbound text that is exactly a keyword
//! (ignoring case and surrounding or repeated whitespace) changes consent.
//!
//! Kept private to the worker until the domain's `consent_keyword` helper
//! lands; the two must agree on the keyword lists.

use chrono::{DateTime, Utc};
use inlet_domain::event::{ConsentChange, Direction, DomainEvent, EventBody};
use std::collections::HashSet;

/// Opt-out keywords every carrier expects to be honoured.
pub const OPT_OUT: [&str; 6] = ["STOP", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "STOPALL"];
/// Keywords that opt a contact back in.
pub const OPT_IN: [&str; 2] = ["START", "UNSTOP"];

/// `Some((opted_out, keyword))` when `text` is a consent keyword; the keyword
/// is returned normalised (upper case, single spaces).
pub fn consent_keyword(
    text: &str,
    extra_opt_out: &[String],
    extra_opt_in: &[String],
) -> Option<(bool, String)> {
    let word = normalise(text);
    if word.is_empty() {
        return None;
    }
    let is_in = |standard: &[&str], extra: &[String]| {
        standard.iter().any(|k| *k == word) || extra.iter().any(|k| normalise(k) == word)
    };
    if is_in(&OPT_OUT, extra_opt_out) {
        return Some((true, word));
    }
    if is_in(&OPT_IN, extra_opt_in) {
        return Some((false, word));
    }
    None
}

fn normalise(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

/// The configured keyword additions.
#[derive(Clone, Debug, Default)]
pub struct Keywords {
    /// Extra opt-out keywords.
    pub opt_out: Vec<String>,
    /// Extra opt-in keywords.
    pub opt_in: Vec<String>,
}

impl Keywords {
    /// Consent events for the inbound text messages among `events` that are
    /// keywords, skipping messages a decoder already turned into one.
    pub fn derive(&self, events: &[DomainEvent], received_at: DateTime<Utc>) -> Vec<DomainEvent> {
        let decided: HashSet<&str> = events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::Consent(c) => Some(c.provider_message_id.as_str()),
                _ => None,
            })
            .collect();
        events
            .iter()
            .filter_map(|e| {
                let EventBody::Message(m) = &e.body else {
                    return None;
                };
                // Text messages only (WhatsApp `text`, SMS): a caption or a
                // button title is not someone typing STOP.
                if m.direction != Direction::Inbound
                    || !matches!(m.kind.as_str(), "text" | "sms")
                    || decided.contains(m.provider_message_id.as_str())
                {
                    return None;
                }
                let address = m
                    .contact
                    .as_ref()
                    .map(|c| c.address.clone())
                    .or_else(|| m.from_address.clone())?;
                let (opted_out, keyword) =
                    consent_keyword(m.body.as_deref()?, &self.opt_out, &self.opt_in)?;
                Some(DomainEvent {
                    provider: e.provider,
                    line_id: e.line_id.clone(),
                    body: EventBody::Consent(ConsentChange {
                        address,
                        opted_out,
                        keyword,
                        provider_message_id: m.provider_message_id.clone(),
                        occurred_at: m.sent_at.unwrap_or(received_at),
                    }),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::consent_keyword;

    #[test]
    fn keywords_are_recognised_whatever_their_case_and_spacing() {
        let none: Vec<String> = Vec::new();
        let cases = [
            ("STOP", Some((true, "STOP"))),
            ("  stop \n", Some((true, "STOP"))),
            ("Unsubscribe", Some((true, "UNSUBSCRIBE"))),
            ("stopall", Some((true, "STOPALL"))),
            ("quit", Some((true, "QUIT"))),
            ("start", Some((false, "START"))),
            (" UnStop", Some((false, "UNSTOP"))),
            ("please stop", None),
            ("stopp", None),
            ("", None),
        ];
        for (text, want) in cases {
            let got = consent_keyword(text, &none, &none);
            assert_eq!(got, want.map(|(o, k)| (o, k.to_owned())), "for {text:?}");
        }
    }

    #[test]
    fn configured_additions_count_as_keywords() {
        let out = vec!["arret".to_owned(), "no more".to_owned()];
        let inn = vec!["Subscribe".to_owned()];
        assert_eq!(
            consent_keyword("ARRET", &out, &inn),
            Some((true, "ARRET".into()))
        );
        assert_eq!(
            consent_keyword("no   MORE", &out, &inn),
            Some((true, "NO MORE".into()))
        );
        assert_eq!(
            consent_keyword("subscribe", &out, &inn),
            Some((false, "SUBSCRIBE".into()))
        );
    }
}
