//! Meta's envelope decoder: any bytes give events or a `Malformed` error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = inlet_domain::payload::meta::decode(body);
});
