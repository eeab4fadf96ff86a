//! The provider dispatch: any provider, any bytes; never a panic.
#![no_main]

use inlet_domain::envelope::EventMeta;
use inlet_domain::payload::decode;
use inlet_domain::Provider;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| {
    let (which, body) = input;
    let providers = Provider::ALL;
    let provider = providers[usize::from(which) % providers.len()];
    let meta = EventMeta {
        provider,
        line: None,
        line_unknown: false,
        source: Some("fuzz".into()),
        received_at: chrono::Utc::now(),
        dedup_key: "fuzz".into(),
        correlation_id: "fuzz".into(),
        attempt: 1,
    };
    let _ = decode(&meta, body);
});
