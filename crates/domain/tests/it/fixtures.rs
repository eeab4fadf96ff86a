//! Fixture loading and a one-line summary of each decoded event, so tests
//! read as tables of "this payload means these events".

use chrono::{DateTime, Utc};
use inlet_domain::envelope::EventMeta;
use inlet_domain::event::{DomainEvent, EventBody};
use inlet_domain::payload::decode;
use inlet_domain::Provider;
use serde_json::Value;

/// The gateway's receive time in every test meta.
pub fn received_at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).expect("valid time")
}

/// The raw bytes of `tests/fixtures/<name>.json`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// What the worker would know about an event from `provider`.
pub fn meta(provider: Provider, line: Option<&str>) -> EventMeta {
    EventMeta {
        provider,
        line: line.map(str::to_owned),
        line_unknown: false,
        source: Some("billing".to_owned()),
        received_at: received_at(),
        dedup_key: "dedup-1".to_owned(),
        correlation_id: "corr-1".to_owned(),
        attempt: 1,
    }
}

/// Decodes a fixture, failing the test on a decode error.
pub fn decode_fixture(provider: Provider, line: Option<&str>, name: &str) -> Vec<DomainEvent> {
    decode(&meta(provider, line), &fixture(name)).unwrap_or_else(|e| panic!("decoding {name}: {e}"))
}

fn o(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("-")
}

/// One line naming an event's kind and the fields a handler acts on.
pub fn summary(event: &DomainEvent) -> String {
    let line = o(&event.line_id);
    match &event.body {
        EventBody::Message(m) => format!(
            "message {} {} id={} from={} to={} contact={} body={} status={} line={line}",
            m.direction.as_str(),
            m.kind,
            m.provider_message_id,
            o(&m.from_address),
            o(&m.to_address),
            m.contact.as_ref().map_or("-".to_owned(), |c| format!(
                "{}/{}/{}",
                c.address,
                o(&c.name),
                o(&c.user_id)
            )),
            o(&m.body),
            m.status.map_or("-", |s| s.as_str()),
        ),
        EventBody::Status(s) => format!(
            "status {} id={} to={} at={} line={line}",
            s.state.as_str(),
            s.provider_message_id,
            o(&s.recipient),
            s.occurred_at.to_rfc3339(),
        ),
        EventBody::Reaction(r) => format!(
            "reaction {} id={} on={} by={} line={line}",
            r.emoji.as_deref().unwrap_or("removed"),
            r.provider_event_id,
            r.target_message_id,
            r.from_address,
        ),
        EventBody::Call(c) => format!(
            "call {} id={} dir={} status={} from={} to={} line={line}",
            c.event,
            c.provider_call_id,
            c.direction.map_or("-", |d| d.as_str()),
            o(&c.status),
            o(&c.from_address),
            o(&c.to_address),
        ),
        EventBody::Contact(c) => format!(
            "contact {} id={} at={} line={line}",
            c.action,
            c.provider_contact_id,
            c.occurred_at.to_rfc3339()
        ),
        EventBody::Consent(c) => format!("consent {} {}", c.opted_out, c.address),
        EventBody::LineStatus(l) => format!(
            "line {} at={} line={line}",
            l.status,
            l.occurred_at.to_rfc3339()
        ),
        EventBody::Account(a) => format!(
            "account {} event={} key={} line={line}",
            a.field,
            o(&a.event),
            a.event_key
        ),
    }
}

/// Checks every row of a table: the fixture decodes to exactly these events.
pub fn assert_summaries(provider: Provider, line: Option<&str>, table: &[(&str, &[&str])]) {
    let mut failures = Vec::new();
    for (name, expected) in table {
        let got: Vec<String> = decode_fixture(provider, line, name)
            .iter()
            .map(summary)
            .collect();
        if got != *expected {
            failures.push(format!("{name}:\n  expected {expected:#?}\n  got {got:#?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Checks JSON pointers into the serialised events: (fixture, event index,
/// pointer, expected value).
pub fn assert_fields(provider: Provider, table: &[(&str, usize, &str, Value)]) {
    let mut failures = Vec::new();
    for (name, index, pointer, expected) in table {
        let events = decode_fixture(provider, None, name);
        let got = events
            .get(*index)
            .map(|e| serde_json::to_value(e).expect("events serialise"))
            .and_then(|v| v.pointer(pointer).cloned());
        if got.as_ref() != Some(expected) {
            failures.push(format!(
                "{name}[{index}]{pointer}: expected {expected}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
