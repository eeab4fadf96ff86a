//! What never decodes, and proof that no input makes a decoder panic.

use crate::fixtures::{fixture, meta};
use inlet_domain::event::DomainEvent;
use inlet_domain::payload::{decode, DecodeError};
use inlet_domain::Provider;
use serde_json::{json, Value};

fn malformed(provider: Provider, body: &str) -> bool {
    matches!(
        decode(&meta(provider, None), body.as_bytes()),
        Err(DecodeError::Malformed { provider: p, .. }) if p == provider
    )
}

#[test]
fn a_body_that_is_not_json_is_malformed_for_every_provider() {
    for provider in Provider::ALL {
        assert!(malformed(provider, "not json"), "{provider}");
        assert!(malformed(provider, ""), "{provider}");
    }
}

#[test]
fn a_body_that_is_not_the_providers_envelope_is_malformed() {
    assert!(malformed(
        Provider::Meta,
        r#"{"object":"whatsapp_business_account"}"#
    ));
    assert!(malformed(Provider::OpenPhone, r#"{"id":"EV1","data":{}}"#));
    assert!(malformed(
        Provider::Bridge,
        r#"{"timestamp":"2026-01-01T00:00:00Z","data":{}}"#
    ));
    assert!(malformed(Provider::Standard, r#"[1,2]"#));
}

#[test]
fn a_meta_message_or_status_without_an_id_is_malformed() {
    let message = json!({"entry":[{"id":"1","changes":[{"field":"messages","value":{
        "metadata":{"phone_number_id":"P"},
        "messages":[{"from":"1","timestamp":"1","type":"text","text":{"body":"hi"}}]}}]}]});
    let status = json!({"entry":[{"id":"1","changes":[{"field":"messages","value":{
        "statuses":[{"status":"read","timestamp":"1"}]}}]}]});
    assert!(malformed(Provider::Meta, &message.to_string()));
    assert!(malformed(Provider::Meta, &status.to_string()));
}

#[test]
fn bridge_message_events_without_a_message_id_are_malformed() {
    for kind in ["message.received", "message.sent", "message.failed"] {
        let body = json!({"event_type": kind, "data": {"from": "1", "text": "hi"}});
        assert!(malformed(Provider::Bridge, &body.to_string()), "{kind}");
    }
}

#[test]
fn an_empty_meta_batch_decodes_to_no_events() {
    let events = decode(&meta(Provider::Meta, None), br#"{"entry":[]}"#).expect("decodes");
    assert!(events.is_empty());
}

#[test]
fn decoding_is_deterministic_so_redeliveries_get_the_same_ids() {
    for (provider, name) in [
        (Provider::Meta, "meta/batch"),
        (Provider::Meta, "meta/template_status"),
        (Provider::OpenPhone, "openphone/message_delivered"),
        (Provider::Bridge, "bridge/presence_update"),
        (Provider::Standard, "standard/no_type"),
    ] {
        let ids = |_: ()| -> Vec<String> {
            decode(&meta(provider, None), &fixture(name))
                .expect("decodes")
                .iter()
                .map(DomainEvent::stable_id)
                .collect()
        };
        let first = ids(());
        assert!(!first.is_empty(), "{name}");
        assert_eq!(first, ids(()), "{name}");
    }
}

/// Every fixture with each node in turn replaced by a value of another type.
fn mutations(value: &Value) -> Vec<Value> {
    let replacements = [
        json!(null),
        json!(7),
        json!("x"),
        json!([]),
        json!({}),
        json!([{}]),
    ];
    let mut out = Vec::new();
    let mut paths = Vec::new();
    collect_paths(value, String::new(), &mut paths);
    for path in paths {
        for replacement in &replacements {
            let mut copy = value.clone();
            if let Some(slot) = copy.pointer_mut(&path) {
                *slot = replacement.clone();
                out.push(copy);
            }
        }
    }
    out
}

fn collect_paths(value: &Value, here: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let path = format!("{here}/{}", k.replace('~', "~0").replace('/', "~1"));
                collect_paths(v, path, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                collect_paths(v, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(here);
}

#[test]
fn no_decoder_panics_on_any_fixture_with_any_field_of_the_wrong_type() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut decoded = 0_usize;
    for provider in Provider::ALL {
        let sub = format!("{dir}/{provider}");
        let entries = std::fs::read_dir(&sub).unwrap_or_else(|e| panic!("{sub}: {e}"));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            let bytes = std::fs::read(&path).expect("fixture readable");
            let value: Value = serde_json::from_slice(&bytes).expect("fixtures are JSON");
            // Truncations exercise the parser; type swaps exercise the decoders.
            for cut in 0..bytes.len().min(64) {
                let _ = decode(&meta(provider, None), &bytes[..cut]);
            }
            for mutated in mutations(&value) {
                let body = serde_json::to_vec(&mutated).expect("serialises");
                // Any provider's decoder must survive any provider's payload.
                for decoder in Provider::ALL {
                    let _ = decode(&meta(decoder, None), &body);
                    decoded += 1;
                }
            }
        }
    }
    assert!(decoded > 10_000, "only {decoded} mutated bodies decoded");
}

#[test]
fn every_decoded_event_round_trips_through_json() {
    for (provider, name) in [
        (Provider::Meta, "meta/image"),
        (Provider::Meta, "meta/reaction"),
        (Provider::Meta, "meta/status_sent"),
        (Provider::Meta, "meta/template_status"),
        (Provider::OpenPhone, "openphone/message_delivered"),
        (Provider::OpenPhone, "openphone/call_completed"),
        (Provider::OpenPhone, "openphone/contact_updated"),
        (Provider::Bridge, "bridge/connection_status"),
    ] {
        for event in decode(&meta(provider, None), &fixture(name)).expect("decodes") {
            let text = serde_json::to_string(&event).expect("serialises");
            let back: DomainEvent = serde_json::from_str(&text).expect("reads back");
            assert_eq!(back, event, "{name}");
        }
    }
}
