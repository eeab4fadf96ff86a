//! Every decoder must return (events or an error) on any input, never panic.
//! Run from `crates/domain`: `cargo +nightly fuzz run decode`.
#![no_main]

use inlet_domain::envelope::EventMeta;
use inlet_domain::payload::decode;
use inlet_domain::Provider;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    for provider in Provider::ALL {
        let meta = EventMeta {
            provider,
            line: Some("line-1".to_owned()),
            line_unknown: false,
            source: Some("fuzz".to_owned()),
            received_at: chrono::DateTime::UNIX_EPOCH,
            dedup_key: "fuzz".to_owned(),
            correlation_id: "fuzz".to_owned(),
            attempt: 1,
        };
        if let Ok(events) = decode(&meta, body) {
            for event in events {
                let _ = event.stable_id();
            }
        }
    }
});
