//! AMQP headers to JSON and back, so a dead letter's headers can be stored in
//! a `jsonb` column and replayed as they were.
//!
//! Strings, booleans and numbers (what Inlet's envelope uses) round-trip;
//! anything more exotic is kept as its debug text for the operator to read.

use lapin::types::{AMQPValue, FieldTable, LongString};
use serde_json::{Map, Number, Value};

/// The headers as a JSON object.
pub fn to_json(headers: Option<&FieldTable>) -> Value {
    let mut out = Map::new();
    if let Some(table) = headers {
        for (name, value) in table.inner() {
            out.insert(name.as_str().to_owned(), value_to_json(value));
        }
    }
    Value::Object(out)
}

fn value_to_json(value: &AMQPValue) -> Value {
    match value {
        AMQPValue::LongString(s) => Value::String(String::from_utf8_lossy(s.as_bytes()).into()),
        AMQPValue::ShortString(s) => Value::String(s.as_str().to_owned()),
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => Value::from(*n),
        AMQPValue::ShortShortUInt(n) => Value::from(*n),
        AMQPValue::ShortInt(n) => Value::from(*n),
        AMQPValue::ShortUInt(n) => Value::from(*n),
        AMQPValue::LongInt(n) => Value::from(*n),
        AMQPValue::LongUInt(n) => Value::from(*n),
        AMQPValue::LongLongInt(n) => Value::from(*n),
        AMQPValue::Timestamp(n) => Value::from(*n),
        AMQPValue::Float(f) => Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
        AMQPValue::Double(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        other => Value::String(format!("{other:?}")),
    }
}

/// The JSON object back as AMQP headers (strings, booleans, numbers).
pub fn from_json(json: &Value) -> FieldTable {
    let mut table = FieldTable::default();
    if let Value::Object(map) = json {
        for (name, value) in map {
            let amqp = match value {
                Value::String(s) => AMQPValue::LongString(LongString::from(s.as_str())),
                Value::Bool(b) => AMQPValue::Boolean(*b),
                Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => AMQPValue::LongLongInt(i),
                    (None, Some(f)) => AMQPValue::Double(f),
                    (None, None) => continue,
                },
                _ => continue,
            };
            table.insert(name.as_str().into(), amqp);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::{from_json, to_json};
    use chrono::DateTime;
    use inlet_domain::envelope::EventMeta;
    use inlet_domain::Provider;

    #[test]
    fn an_envelope_survives_the_trip_through_json() {
        let meta = EventMeta {
            provider: Provider::Meta,
            line: Some("106540352242922".into()),
            line_unknown: false,
            source: None,
            received_at: DateTime::from_timestamp_millis(1_767_225_600_123).expect("valid"),
            dedup_key: "meta:abc".into(),
            correlation_id: "c-1".into(),
            attempt: 4,
        };
        let json = to_json(Some(&meta.to_headers()));
        let back = EventMeta::from_headers(Some(&from_json(&json))).expect("readable");
        assert_eq!(back, meta);
    }
}
