//! Packs (several events in one broker message): any bytes; decoding never
//! panics, and what it reads is written back the same.
#![no_main]

use inlet_domain::pack::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(events) = decode(bytes) else {
        return;
    };
    let again = encode(events.iter().map(|e| (&e.meta, e.body)));
    assert_eq!(decode(&again).as_ref(), Ok(&events));
});
