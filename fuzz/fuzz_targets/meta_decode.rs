//! Meta's envelope decoder: any bytes give events or a `Malformed` error, never a panic.
#![no_main]

use inlet_domain::envelope::EventMeta;
use inlet_domain::Provider;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let meta = EventMeta {
        provider: Provider::Meta,
        line: None,
        line_unknown: false,
        source: None,
        received_at: chrono::Utc::now(),
        dedup_key: "fuzz".into(),
        correlation_id: "fuzz".into(),
        attempt: 1,
    };
    let _ = inlet_domain::payload::meta::decode(&meta, body);
});
