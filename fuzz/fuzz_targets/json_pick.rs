//! The gateway's one-pass JSON reader: any bytes; it accepts exactly what a
//! `serde_json::Value` parse accepts, and finds what the tree holds.
#![no_main]

use inlet_domain::pick::{by_value, pick, Path, Step::Each, Step::Key};
use libfuzzer_sys::fuzz_target;

/// The paths the gateway reads, plus the top-level value.
const PATHS: &[Path] = &[
    &[Key("entry"), Each, Key("changes"), Each, Key("value"), Key("metadata"), Key("phone_number_id")],
    &[Key("id")],
    &[Key("data"), Key("object"), Key("phoneNumberId")],
    &[Key("data"), Key("message_id")],
    &[Each, Key("id")],
    &[],
];

fuzz_target!(|bytes: &[u8]| {
    let picked = pick(bytes, PATHS);
    let value = serde_json::from_slice::<serde_json::Value>(bytes);
    assert_eq!(picked.is_ok(), value.is_ok());
    if let (Ok(picked), Ok(value)) = (picked, value) {
        for (i, path) in PATHS.iter().enumerate() {
            assert_eq!(picked.all(i).collect::<Vec<_>>(), by_value(&value, path));
        }
    }
});
