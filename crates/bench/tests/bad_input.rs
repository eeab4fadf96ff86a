//! The fuzz targets' properties as plain tests (so they run in `just test`
//! on stable, without libFuzzer): random and mutated headers and bodies
//! never make a verifier or a decoder panic, and each call stays fast.
//! `just fuzz` explores far more (coverage-guided); a crash it finds is
//! added here as a regression case.

use chrono::Utc;
use inlet_domain::envelope::EventMeta;
use inlet_domain::pick::{by_value, pick, Path, Step::Each, Step::Key};
use inlet_domain::signature::{bridge, meta, openphone, standard, Tolerance};
use inlet_domain::Provider;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// Pieces a header parser cares about, so random text often gets past the first check.
const TOKENS: &[&str] = &[
    "sha256=",
    "sha1=",
    "hmac",
    ";",
    "1",
    ",",
    "v1,",
    "v1a,",
    "v2,",
    " ",
    "  ",
    "=",
    "==",
    "0",
    "9",
    "a",
    "f",
    "F",
    "g",
    "+",
    "/",
    "-",
    "_",
    "\u{e9}",
    "\u{1f600}",
    "9999999999999999999999",
    "1767225600",
    "1767225600000",
    "-1",
    "whsec_",
    ".",
    "\t",
];

/// JSON pieces for mutating a valid envelope.
const JSON_TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "null",
    "true",
    "1e999",
    "-0",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"messages\"",
    "\"statuses\"",
    "\"entry\"",
    "\"changes\"",
    "\"value\"",
    "\"id\"",
    "\"type\"",
    "\"text\"",
    "\"timestamp\"",
    "\"99999999999999999999\"",
    "\"-1\"",
    "[]",
    "{}",
];

const META_BODY: &str = r#"{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Jos\u00e9"},"wa_id":"16505551234"}],"messages":[{"from":"16505551234","id":"wamid.INLETTEST0001","timestamp":"1767225600","type":"text","text":{"body":"hi"}}],"statuses":[{"id":"wamid.X","status":"read","timestamp":"1767225600","recipient_id":"1"}]},"field":"messages"}]}]}"#;

fn rng() -> StdRng {
    // A fixed seed per run of the suite keeps a failure reproducible; print it.
    let seed: u64 = rand::random();
    eprintln!("seed {seed}");
    StdRng::seed_from_u64(seed)
}

fn random_header(rng: &mut StdRng) -> String {
    let n = rng.gen_range(0..12);
    (0..n)
        .map(|_| {
            if rng.gen_bool(0.8) {
                TOKENS[rng.gen_range(0..TOKENS.len())].to_owned()
            } else {
                let len = rng.gen_range(0..80);
                (0..len)
                    .map(|_| char::from(rng.gen_range(0x20u8..0x7f)))
                    .collect()
            }
        })
        .collect()
}

fn random_bytes(rng: &mut StdRng) -> Vec<u8> {
    let len = rng.gen_range(0..512);
    (0..len).map(|_| rng.gen()).collect()
}

fn mutated_body(rng: &mut StdRng) -> Vec<u8> {
    let mut body = META_BODY.as_bytes().to_vec();
    for _ in 0..rng.gen_range(1..6) {
        let at = rng.gen_range(0..=body.len());
        match rng.gen_range(0..4) {
            0 => body.truncate(at),
            1 => {
                let token = JSON_TOKENS[rng.gen_range(0..JSON_TOKENS.len())];
                body.splice(at..at, token.bytes());
            }
            2 if at < body.len() => body[at] = rng.gen(),
            _ => {
                let end = rng.gen_range(at..=body.len());
                body.drain(at..end);
            }
        }
    }
    body
}

fn quick<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = f();
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{what} took {:?}",
        started.elapsed()
    );
    out
}

#[test]
fn signature_verifiers_never_panic_on_random_headers() {
    let mut rng = rng();
    let now = Utc::now();
    let meta_secret =
        meta::MetaSecret::new("6f1c3e2a9b8d4f7e0a1b2c3d4e5f6a7b", None).expect("secret");
    let op_key =
        openphone::OpenPhoneKey::from_base64("aW5sZXQtYmVuY2gtb3BlbnBob25lLWtleQ==").expect("key");
    let std_secret =
        standard::StandardSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    let bridge_secret = bridge::BridgeSecret::new("inlet-bridge-secret").expect("secret");
    for _ in 0..20_000 {
        let header = random_header(&mut rng);
        let body = random_bytes(&mut rng);
        let h = Some(header.as_str());
        quick("meta", || {
            meta::verify(h, &body, std::slice::from_ref(&meta_secret), now)
        })
        .expect_err("a random header never verifies");
        quick("openphone", || {
            openphone::verify(
                h,
                &body,
                std::slice::from_ref(&op_key),
                now,
                Tolerance::DEFAULT,
            )
        })
        .expect_err("a random header never verifies");
        quick("bridge", || {
            bridge::verify(h, &body, std::slice::from_ref(&bridge_secret))
        })
        .expect_err("a random header never verifies");
        let (id, ts) = (random_header(&mut rng), random_header(&mut rng));
        let headers = standard::StandardHeaders {
            id: Some(&id),
            timestamp: Some(&ts),
            signature: h,
        };
        quick("standard", || {
            standard::verify(
                &headers,
                &body,
                std::slice::from_ref(&std_secret),
                now,
                Tolerance::DEFAULT,
            )
        })
        .expect_err("a random header never verifies");
        let _ = standard::StandardSecret::parse(&header);
        let _ = openphone::OpenPhoneKey::from_base64(&header);
    }
}

#[test]
fn a_header_with_many_signatures_over_a_large_body_stays_fast() {
    // Each candidate costs an HMAC over the whole body: the verifiers cap the count.
    let body = vec![b'x'; 3 * 1024 * 1024];
    let now = Utc::now();
    let key =
        openphone::OpenPhoneKey::from_base64("aW5sZXQtYmVuY2gtb3BlbnBob25lLWtleQ==").expect("key");
    let many =
        vec![format!("hmac;1;{};{}", now.timestamp_millis(), "A".repeat(44)); 10_000].join(",");
    let started = Instant::now();
    let _ = openphone::verify(Some(&many), &body, &[key], now, Tolerance::DEFAULT);
    let secret =
        standard::StandardSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
    let entries = vec![format!("v1,{}", "A".repeat(44)); 10_000].join(" ");
    let ts = now.timestamp().to_string();
    let headers = standard::StandardHeaders {
        id: Some("msg_1"),
        timestamp: Some(&ts),
        signature: Some(&entries),
    };
    let _ = standard::verify(&headers, &body, &[secret], now, Tolerance::DEFAULT);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn decoders_never_panic_on_mutated_or_random_bodies() {
    let mut rng = rng();
    for i in 0..20_000 {
        let body = if i % 4 == 0 {
            random_bytes(&mut rng)
        } else {
            mutated_body(&mut rng)
        };
        let _ = quick("meta decode", || {
            inlet_domain::payload::meta::decode(&meta_event(), &body)
        });
        let provider = Provider::ALL[i % Provider::ALL.len()];
        let meta = EventMeta {
            provider,
            line: None,
            line_unknown: false,
            source: Some("fuzz".into()),
            received_at: Utc::now(),
            dedup_key: "fuzz".into(),
            correlation_id: "fuzz".into(),
            attempt: 1,
        };
        let _ = quick("decode", || inlet_domain::payload::decode(&meta, &body));
    }
}

/// The gateway's paths into a body, plus the top-level value.
const PICK_PATHS: &[Path] = &[
    &[
        Key("entry"),
        Each,
        Key("changes"),
        Each,
        Key("value"),
        Key("metadata"),
        Key("phone_number_id"),
    ],
    &[Key("entry"), Each, Key("id")],
    &[Key("object")],
    &[],
];

#[test]
fn the_one_pass_reader_accepts_and_finds_what_a_value_parse_does() {
    let mut rng = rng();
    for i in 0..20_000 {
        let body = if i % 4 == 0 {
            random_bytes(&mut rng)
        } else {
            mutated_body(&mut rng)
        };
        let picked = quick("pick", || pick(&body, PICK_PATHS));
        let value = serde_json::from_slice::<serde_json::Value>(&body);
        let shown = String::from_utf8_lossy(&body);
        assert_eq!(picked.is_ok(), value.is_ok(), "{shown}");
        if let (Ok(picked), Ok(value)) = (picked, value) {
            for (p, path) in PICK_PATHS.iter().enumerate() {
                assert_eq!(
                    picked.all(p).collect::<Vec<_>>(),
                    by_value(&value, path),
                    "{shown}"
                );
            }
        }
    }
}

#[test]
fn deeply_nested_bodies_are_refused_without_overflowing_the_stack() {
    for depth in [1_000, 100_000] {
        let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(inlet_domain::payload::meta::decode(&meta_event(), arrays.as_bytes()).is_err());
        let objects = format!("{}1{}", "{\"entry\":".repeat(depth), "}".repeat(depth));
        assert!(inlet_domain::payload::meta::decode(&meta_event(), objects.as_bytes()).is_err());
        assert!(pick(arrays.as_bytes(), PICK_PATHS).is_err());
        assert!(pick(objects.as_bytes(), PICK_PATHS).is_err());
    }
}

/// The envelope of a Meta event, for calling the Meta decoder directly.
fn meta_event() -> EventMeta {
    EventMeta {
        provider: Provider::Meta,
        line: None,
        line_unknown: false,
        source: None,
        received_at: Utc::now(),
        dedup_key: "fuzz".into(),
        correlation_id: "fuzz".into(),
        attempt: 1,
    }
}

#[test]
fn the_pack_decoder_never_panics_and_what_it_reads_it_writes_back() {
    let mut rng = rng();
    let metas: Vec<EventMeta> = (0..3).map(|_| meta_event()).collect();
    let bodies = [META_BODY.as_bytes(), b"", b"\xff\xfe"];
    let valid = inlet_domain::pack::encode(metas.iter().zip(bodies));
    for i in 0..20_000 {
        let bytes = if i % 4 == 0 {
            random_bytes(&mut rng)
        } else {
            let mut bytes = valid.clone();
            for _ in 0..rng.gen_range(1..4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.gen_range(0..bytes.len());
                match rng.gen_range(0..3) {
                    0 => bytes.truncate(at),
                    1 => bytes[at] = rng.gen(),
                    _ => bytes.insert(at, rng.gen()),
                }
            }
            bytes
        };
        let Ok(events) = quick("pack decode", || inlet_domain::pack::decode(&bytes)) else {
            continue;
        };
        let again = inlet_domain::pack::encode(events.iter().map(|e| (&e.meta, e.body)));
        assert_eq!(inlet_domain::pack::decode(&again).as_ref(), Ok(&events));
    }
}
