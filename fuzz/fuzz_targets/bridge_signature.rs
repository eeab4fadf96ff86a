//! `X-Webhook-Signature`: any header, any body; verification never panics.
#![no_main]

use inlet_domain::signature::bridge::{sign, verify, BridgeSecret};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<&str>, &[u8])| {
    let (header, body) = input;
    let Ok(secret) = BridgeSecret::new("inlet-bridge-secret") else {
        return;
    };
    let _ = verify(header, body, std::slice::from_ref(&secret));
    assert!(verify(Some(&sign(&secret, body)), body, &[secret]).is_ok());
});
