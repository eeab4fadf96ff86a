//! A cheap look at a verified body: the line it names and its dedup key.
//!
//! Keys use the provider's own event id where one exists, scoped so ids from
//! different senders cannot collide; otherwise the SHA-256 of the raw body.
//! Ids are sender-controlled text, so a long or odd one is hashed too, keeping
//! Redis keys short and printable.

use inlet_domain::payload::{bridge as bridge_body, openphone as openphone_body};
use inlet_domain::pick::{pick, Path, Picked, Step::Each, Step::Key};
use std::ops::Range;

/// Longest id used as it is in a key.
const MAX_ID_LEN: usize = 128;

/// What a verified body names: its line (when the body says) and its dedup key.
#[derive(Debug, PartialEq, Eq)]
pub struct Peeked {
    /// The line the body names, if any.
    pub line: Option<String>,
    /// Every line the body names, each once (a Meta batch may name several;
    /// the worker stores each change under its own).
    pub lines: Vec<String>,
    /// The dedup key.
    pub dedup_key: String,
}

/// The body is not one JSON value.
#[derive(Debug, thiserror::Error)]
#[error("the body is not JSON: {0}")]
pub struct NotJson(#[from] serde_json::Error);

const META_LINES: Path = &[
    Key("entry"),
    Each,
    Key("changes"),
    Each,
    Key("value"),
    Key("metadata"),
    Key("phone_number_id"),
];

/// Meta: the line is the `phone_number_id` when every change of the batch
/// names the same one; the key is the body's hash.
pub fn meta(body: &[u8]) -> Result<Peeked, NotJson> {
    let picked = pick(body, &[META_LINES])?;
    let mut lines: Vec<String> = picked.all(0).map(str::to_owned).collect();
    lines.sort_unstable();
    lines.dedup();
    let line = match lines.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    };
    Ok(Peeked {
        line,
        lines,
        dedup_key: meta_key(body),
    })
}

/// Meta: the hash of the raw body (resends are expected to repeat it; the
/// worker's unique keys stay the real guard).
pub fn meta_key(body: &[u8]) -> String {
    format!("meta:{}", sha256_hex(body))
}

const OPENPHONE_ID: Path = &[Key("id")];
/// The event id, then every place a body may name its line.
const OPENPHONE_PATHS: [Path; 5] = [
    OPENPHONE_ID,
    openphone_body::LINE_PATHS[0],
    openphone_body::LINE_PATHS[1],
    openphone_body::LINE_PATHS[2],
    openphone_body::LINE_PATHS[3],
];

/// OpenPhone: the line is the `PN…` phone number id the worker will store
/// the event under (the first of [`openphone_body::LINE_PATHS`]), and `lines`
/// every one the body names anywhere the decoder looks, so that each can be
/// checked; the key is [`openphone_key`]'s.
pub fn openphone(body: &[u8], webhook_id: Option<&str>) -> Result<Peeked, NotJson> {
    let picked = pick(body, &OPENPHONE_PATHS)?;
    let (line, lines) = named_lines(&picked, 1..OPENPHONE_PATHS.len());
    Ok(Peeked {
        line,
        lines,
        dedup_key: openphone_key(picked.one(0), webhook_id, body),
    })
}

/// The lines named at paths `paths` of `picked`: the first non-empty one in
/// path order (the one the decoder takes) and every one, each once.
fn named_lines(picked: &Picked<'_>, paths: Range<usize>) -> (Option<String>, Vec<String>) {
    let named: Vec<&str> = paths
        .flat_map(|i| picked.all(i))
        .filter(|s| !s.is_empty())
        .collect();
    let first = named.first().map(|s| (*s).to_owned());
    let mut lines: Vec<String> = named.into_iter().map(str::to_owned).collect();
    lines.sort_unstable();
    lines.dedup();
    (first, lines)
}

/// OpenPhone: the body `id` (`EV…`, the same on every retry and in both
/// formats), else the Standard Webhooks delivery id, else the body hash.
pub fn openphone_key(id: Option<&str>, webhook_id: Option<&str>, body: &[u8]) -> String {
    match (id, webhook_id) {
        (Some(id), _) if !id.is_empty() => format!("openphone:{}", part(id)),
        (_, Some(id)) if !id.is_empty() => format!("openphone:delivery:{}", part(id)),
        _ => format!("openphone:sha256:{}", sha256_hex(body)),
    }
}

const BRIDGE_MESSAGE_ID: Path = &[Key("data"), Key("message_id")];
const BRIDGE_EVENT_TYPE: Path = &[Key("event_type")];
/// The message id and event type, then every place a body may name its line.
const BRIDGE_PATHS: [Path; 5] = [
    BRIDGE_MESSAGE_ID,
    BRIDGE_EVENT_TYPE,
    bridge_body::LINE_PATHS[0],
    bridge_body::LINE_PATHS[1],
    bridge_body::LINE_PATHS[2],
];

/// Bridge: the line is the one the body names (its session, the first of
/// [`bridge_body::LINE_PATHS`]), else the URL's, as the worker stores it; `lines`
/// every one the body names, so that each can be checked; the key is
/// [`bridge_key`]'s.
pub fn bridge(url_line: Option<&str>, body: &[u8]) -> Result<Peeked, NotJson> {
    let picked = pick(body, &BRIDGE_PATHS)?;
    let (named, lines) = named_lines(&picked, 2..BRIDGE_PATHS.len());
    let line = named.or_else(|| url_line.map(str::to_owned));
    Ok(Peeked {
        dedup_key: bridge_key(line.as_deref(), picked.one(1), picked.one(0), body),
        line,
        lines,
    })
}

/// Bridge: `data.message_id`, scoped by line and event type (one message is
/// `message.sent` on one session and `message.received` on another, and may
/// later be `message.failed`); the body hash for events without one.
pub fn bridge_key(
    line: Option<&str>,
    event_type: Option<&str>,
    message_id: Option<&str>,
    body: &[u8],
) -> String {
    match message_id.filter(|s| !s.is_empty()) {
        Some(id) => format!(
            "bridge:{}:{}:{}",
            part(line.unwrap_or("-")),
            part(event_type.unwrap_or("-")),
            part(id)
        ),
        None => format!("bridge:sha256:{}", sha256_hex(body)),
    }
}

/// Standard Webhooks: no line; the key is [`standard_key`]'s.
pub fn standard(source: &str, webhook_id: Option<&str>, body: &[u8]) -> Result<Peeked, NotJson> {
    pick(body, &[])?;
    Ok(Peeked {
        line: None,
        lines: Vec::new(),
        dedup_key: standard_key(source, webhook_id, body),
    })
}

/// Standard Webhooks: `webhook-id`, scoped by source (the body hash only when
/// the dev flag let a request through without one).
pub fn standard_key(source: &str, webhook_id: Option<&str>, body: &[u8]) -> String {
    match webhook_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("standard:{}:{}", part(source), part(id)),
        None => format!("standard:{}:sha256:{}", part(source), sha256_hex(body)),
    }
}

/// `id` as it is when short and printable, else its hash.
fn part(id: &str) -> String {
    let printable = id.bytes().all(|b| b.is_ascii_graphic());
    if id.len() <= MAX_ID_LEN && printable {
        id.to_owned()
    } else {
        format!("h{}", sha256_hex(id.as_bytes()))
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use inlet_domain::envelope::EventMeta;
    use inlet_domain::payload::decode;
    use inlet_domain::Provider;
    use serde_json::{json, Value};

    fn body(value: Value) -> Vec<u8> {
        value.to_string().into_bytes()
    }

    fn meta_batch(lines: &[&str]) -> Vec<u8> {
        let changes: Vec<Value> = lines
            .iter()
            .map(|l| json!({"field": "messages", "value": {"metadata": {"phone_number_id": l}}}))
            .collect();
        body(
            json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": changes}]}),
        )
    }

    #[test]
    fn meta_keys_on_the_body_hash() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        assert_eq!(meta_key(body), meta_key(body));
        assert_ne!(meta_key(body), meta_key(b"{}"));
        assert!(meta_key(b"{}").starts_with("meta:"));
        assert_eq!(meta(body).expect("JSON").dedup_key, meta_key(body));
    }

    #[test]
    fn meta_names_the_line_only_when_the_batch_has_one() {
        assert_eq!(
            meta(&meta_batch(&["106"])).expect("JSON").line.as_deref(),
            Some("106")
        );
        assert_eq!(
            meta(&meta_batch(&["106", "106"]))
                .expect("JSON")
                .line
                .as_deref(),
            Some("106")
        );
        assert_eq!(meta(&meta_batch(&["106", "107"])).expect("JSON").line, None);
        assert_eq!(
            meta(&meta_batch(&["107", "106", "107"]))
                .expect("JSON")
                .lines,
            ["106", "107"]
        );
        assert_eq!(meta(&meta_batch(&[])).expect("JSON").line, None);
        assert!(meta(b"{\"entry\": [").is_err());
    }

    #[test]
    fn openphone_takes_the_line_from_either_envelope() {
        let legacy = body(json!({"data": {"object": {"phoneNumberId": "PNtoDbDhuz"}}}));
        let new = body(json!({"data": {"resource": {"phoneNumberId": "PN2"}}}));
        let line = |b: &[u8]| openphone(b, None).expect("JSON").line;
        assert_eq!(line(&legacy).as_deref(), Some("PNtoDbDhuz"));
        assert_eq!(line(&new).as_deref(), Some("PN2"));
        assert_eq!(line(&body(json!({"data": {}}))), None);
    }

    #[test]
    fn openphone_keys_on_the_event_id_then_the_delivery_id() {
        let event = body(json!({"id": "EVc67ec998b35c41d388af50799aeeba3e"}));
        assert_eq!(
            openphone(&event, Some("msg_1")).expect("JSON").dedup_key,
            "openphone:EVc67ec998b35c41d388af50799aeeba3e"
        );
        assert_eq!(
            openphone(b"{}", Some("msg_1")).expect("JSON").dedup_key,
            "openphone:delivery:msg_1"
        );
        assert!(openphone(b"{}", None)
            .expect("JSON")
            .dedup_key
            .starts_with("openphone:sha256:"));
    }

    #[test]
    fn bridge_keys_on_line_event_type_and_message_id() {
        let sent = body(json!({"event_type": "message.sent", "data": {"message_id": "3EB0"}}));
        let received =
            body(json!({"event_type": "message.received", "data": {"message_id": "3EB0"}}));
        let key = |line, b: &[u8]| bridge(line, b).expect("JSON").dedup_key;
        assert_eq!(key(Some("s1"), &sent), "bridge:s1:message.sent:3EB0");
        assert_ne!(key(Some("s1"), &sent), key(Some("s2"), &sent));
        assert_ne!(key(None, &sent), key(None, &received));
        let status = body(json!({"event_type": "connection.status", "data": {"state": "open"}}));
        assert!(key(None, &status).starts_with("bridge:sha256:"));
    }

    #[test]
    fn standard_keys_are_scoped_by_source() {
        assert_eq!(
            standard_key("billing", Some("msg_1"), b""),
            "standard:billing:msg_1"
        );
        assert_ne!(
            standard_key("billing", Some("msg_1"), b""),
            standard_key("crm", Some("msg_1"), b"")
        );
        assert!(standard("billing", Some("msg_1"), b"{}").is_ok());
        assert!(standard("billing", Some("msg_1"), b"not json").is_err());
    }

    #[test]
    fn long_or_unprintable_ids_are_hashed() {
        let long = "x".repeat(500);
        let key = standard_key("s", Some(&long), b"");
        assert!(key.len() < 100, "{key}");
        assert!(standard_key("s", Some("a b\n"), b"").starts_with("standard:s:h"));
    }

    /// What the gateway read before the one-pass pick: a `Value` tree.
    fn by_value(body: &[u8]) -> Option<(Option<String>, String, String, String)> {
        let value: Value = serde_json::from_slice(body).ok()?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        let meta_line = (|| {
            let mut lines = value
                .get("entry")?
                .as_array()?
                .iter()
                .filter_map(|e| e.get("changes")?.as_array())
                .flatten()
                .filter_map(|c| c.pointer("/value/metadata/phone_number_id")?.as_str());
            let first = lines.next()?;
            lines.all(|l| l == first).then(|| first.to_owned())
        })();
        let openphone_line = [
            "/data/object/phoneNumberId",
            "/data/resource/phoneNumberId",
            "/data/context/phoneNumberId",
            "/data/phoneNumberId",
        ]
        .iter()
        .find_map(|p| value.pointer(p)?.as_str().filter(|s| !s.is_empty()))
        .map(str::to_owned)
        .unwrap_or_default();
        let openphone = openphone_key(text(value.get("id")).as_deref(), None, body);
        let bridge = bridge_key(
            Some("l"),
            text(value.get("event_type")).as_deref(),
            text(value.pointer("/data/message_id")).as_deref(),
            body,
        );
        Some((
            meta_line,
            format!("{openphone_line}|{openphone}"),
            bridge,
            String::new(),
        ))
    }

    fn by_pick(body: &[u8]) -> Option<(Option<String>, String, String, String)> {
        let meta_line = meta(body).ok()?.line;
        let openphone = openphone(body, None).ok()?;
        let bridge = bridge(Some("l"), body).ok()?.dedup_key;
        standard("s", None, body).ok()?;
        Some((
            meta_line,
            format!(
                "{}|{}",
                openphone.line.unwrap_or_default(),
                openphone.dedup_key
            ),
            bridge,
            String::new(),
        ))
    }

    #[test]
    fn the_pick_reads_what_a_value_tree_read() {
        let cases: Vec<Vec<u8>> = vec![
            meta_batch(&["106"]),
            meta_batch(&["106", "107"]),
            br#"{"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":5}}}]}]}"#.to_vec(),
            br#"{"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"1"}}},{"value":[]}]}]}"#.to_vec(),
            br#"{"entry":{"changes":[]},"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"2"}}}]}]}"#.to_vec(),
            br#"{"entry":[{"changes":[{"value":{"metadata":{"phone_number_id":"1","phone_number_id":"2"}}}]}]}"#.to_vec(),
            br#"{"entry":[1,"x",null,{"changes":"no"}]}"#.to_vec(),
            br#"{"id":"EV1","data":{"object":{"phoneNumberId":"PN1"},"resource":{"phoneNumberId":"PN2"}}}"#.to_vec(),
            br#"{"id":7,"data":{"object":{"phoneNumberId":""},"resource":{"phoneNumberId":"PN2"}}}"#.to_vec(),
            br#"{"data":{"object":{"phoneNumberId":3},"resource":{"phoneNumberId":"PN2"}}}"#.to_vec(),
            br#"{"data":{"object":{"phoneNumberId":"PN1"}},"data":{}}"#.to_vec(),
            br#"{"id":"EV1","id":"EV2","event_type":"message.sent","data":{"message_id":"m\u00e9"}}"#.to_vec(),
            br#"{"event_type":["message.sent"],"data":{"message_id":"m1"}}"#.to_vec(),
            br#"{"data":{"message_id":""},"event_type":"x"}"#.to_vec(),
            br#"[{"id":"EV1"}]"#.to_vec(),
            br#""just a string""#.to_vec(),
            br#"{"x":1e400}"#.to_vec(),
            br#"{"id":"EV1"} trailing"#.to_vec(),
            format!("{}{}", "[".repeat(129), "]".repeat(129)).into_bytes(),
            format!(r#"{{"id":"EV1","x":{}1{}}}"#, "{\"a\":".repeat(200), "}".repeat(200)).into_bytes(),
            b"{\"id\":\"\xff\"}".to_vec(),
        ];
        for case in cases {
            assert_eq!(
                by_pick(&case),
                by_value(&case),
                "{}",
                String::from_utf8_lossy(&case)
            );
        }
    }

    /// A body naming lines at every mix of the places the decoders read,
    /// with strings, empty strings, other types and missing members.
    fn line_mixes(slots: &[&[&str]]) -> Vec<Value> {
        let values = [
            Some(json!("L1")),
            Some(json!("L2")),
            Some(json!("")),
            Some(json!(5)),
            None,
        ];
        let mut bodies = Vec::new();
        let mut pick = vec![0usize; slots.len()];
        loop {
            // Event types every body decodes as, whatever it holds.
            let mut body = json!({"id": "EV1", "type": "task.created",
                "event_type": "session.custom", "data": {}});
            for (slot, &choice) in slots.iter().zip(&pick) {
                if let Some(value) = &values[choice] {
                    let (last, parents) = slot.split_last().expect("a path");
                    let mut at = &mut body;
                    for key in parents {
                        at = &mut at[*key];
                    }
                    at[*last] = value.clone();
                }
            }
            bodies.push(body);
            let Some(i) = pick.iter().position(|&c| c + 1 < values.len()) else {
                return bodies;
            };
            pick[i] += 1;
            pick[..i].fill(0);
        }
    }

    fn decoded_lines(provider: Provider, route: Option<&str>, body: &[u8]) -> Vec<String> {
        let meta = EventMeta {
            provider,
            line: route.map(str::to_owned),
            line_unknown: false,
            source: None,
            received_at: chrono::Utc::now(),
            dedup_key: String::new(),
            correlation_id: String::new(),
            attempt: 1,
        };
        let events = decode(&meta, body).expect("decodes");
        events.into_iter().filter_map(|e| e.line_id).collect()
    }

    /// The security property behind the line checks: every line the worker
    /// stores an event under is one the gateway checked (a line the body
    /// names) or the URL's own. It failed when the decoder read OpenPhone's
    /// `data.context` and a bridge's `data.session` and the gateway did not.
    #[test]
    fn every_line_the_decoder_stores_under_was_peeked_or_routed() {
        let openphone_slots: &[&[&str]] = &[
            &["data", "object", "phoneNumberId"],
            &["data", "resource", "phoneNumberId"],
            &["data", "context", "phoneNumberId"],
            &["data", "phoneNumberId"],
        ];
        let bridge_slots: &[&[&str]] = &[
            &["data", "line"],
            &["data", "session"],
            &["data", "line_id"],
        ];
        for (provider, slots) in [
            (Provider::OpenPhone, openphone_slots),
            (Provider::Bridge, bridge_slots),
        ] {
            for value in line_mixes(slots) {
                let body = body(value);
                for route in [None, Some("URL")] {
                    let peeked = match provider {
                        Provider::OpenPhone => openphone(&body, None),
                        _ => bridge(route, &body),
                    }
                    .expect("JSON");
                    for line in decoded_lines(provider, route, &body) {
                        assert!(
                            peeked.lines.contains(&line) || Some(line.as_str()) == route,
                            "{provider:?} stores under {line}, unchecked: {}",
                            String::from_utf8_lossy(&body)
                        );
                        if provider == Provider::Bridge || route.is_none() {
                            assert_eq!(peeked.line.as_deref(), Some(line.as_str()));
                        }
                    }
                }
            }
        }
    }
}
