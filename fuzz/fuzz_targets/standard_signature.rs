//! Standard Webhooks `webhook-*` headers: any values, any body; never panics.
#![no_main]

use inlet_domain::signature::standard::{sign, verify, StandardHeaders, StandardSecret};
use inlet_domain::signature::Tolerance;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (Option<&str>, Option<&str>, Option<&str>, &[u8], &str)| {
    let (id, timestamp, signature, body, secret_text) = input;
    // Secrets come from configuration, but parsing one must not panic either.
    let _ = StandardSecret::parse(secret_text);
    let Ok(secret) = StandardSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") else {
        return;
    };
    let now = chrono::Utc::now();
    let headers = StandardHeaders {
        id,
        timestamp,
        signature,
    };
    let _ = verify(&headers, body, std::slice::from_ref(&secret), now, Tolerance::DEFAULT);
    let ts = now.timestamp();
    let sig = sign(&secret, "msg_1", ts, body);
    let ts_text = ts.to_string();
    let good = StandardHeaders {
        id: Some("msg_1"),
        timestamp: Some(&ts_text),
        signature: Some(&sig),
    };
    assert!(verify(&good, body, &[secret], now, Tolerance::DEFAULT).is_ok());
});
