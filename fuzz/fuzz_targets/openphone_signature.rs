//! `openphone-signature`: any header, any body; verification never panics.
#![no_main]

use inlet_domain::signature::openphone::{sign, verify, OpenPhoneKey};
use inlet_domain::signature::Tolerance;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<&str>, &[u8])| {
    let (header, body) = input;
    let Ok(key) = OpenPhoneKey::from_base64("aW5sZXQtYmVuY2gtb3BlbnBob25lLWtleQ==") else {
        return;
    };
    let now = chrono::Utc::now();
    let _ = verify(header, body, std::slice::from_ref(&key), now, Tolerance::DEFAULT);
    let signed = sign(&key, now.timestamp_millis(), body);
    assert!(verify(Some(&signed), body, &[key], now, Tolerance::DEFAULT).is_ok());
});
