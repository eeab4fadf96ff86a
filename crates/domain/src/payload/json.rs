//! Small, total helpers for reading loosely typed JSON (no indexing, no panics).

use crate::pick::{by_value, Path};
use serde_json::{Map, Value};

/// The string at `key`, when it is a non-empty string.
pub(crate) fn str_of(value: &Value, key: &str) -> Option<String> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The first of `keys` holding a non-empty string.
pub(crate) fn first_str(value: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| str_of(value, k))
}

/// The first non-empty string at any of `paths`, in their order.
pub(crate) fn first_at(value: &Value, paths: &[Path]) -> Option<String> {
    paths
        .iter()
        .flat_map(|&path| by_value(value, path))
        .find(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The string at a JSON pointer, when it is a non-empty string.
pub(crate) fn str_at(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Recipients sent as one address, a comma-joined list, or an array.
pub(crate) fn addresses(value: Option<&Value>) -> Vec<String> {
    let split = |s: &str| {
        s.split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    match value {
        Some(Value::String(s)) => split(s),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .flat_map(split)
            .collect(),
        _ => Vec::new(),
    }
}

/// Copies the listed keys of `obj` that are present into a new object, or
/// `None` when none is.
pub(crate) fn pick(obj: &Value, keys: &[&str]) -> Option<Value> {
    let picked: Map<String, Value> = keys
        .iter()
        .filter_map(|k| Some(((*k).to_owned(), obj.get(*k)?.clone())))
        .filter(|(_, v)| !v.is_null())
        .collect();
    (!picked.is_empty()).then_some(Value::Object(picked))
}

/// Hex SHA-256 of `parts` joined by `|`: a stable key for things without an id.
pub(crate) fn digest(parts: &[&str]) -> String {
    let joined = parts.join("|");
    hex::encode(ring::digest::digest(&ring::digest::SHA256, joined.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn addresses_accept_a_string_a_comma_list_and_an_array() {
        assert_eq!(addresses(Some(&json!("+1"))), vec!["+1"]);
        assert_eq!(addresses(Some(&json!("+1, +2,"))), vec!["+1", "+2"]);
        assert_eq!(addresses(Some(&json!(["+1", 3, "+2"]))), vec!["+1", "+2"]);
        assert!(addresses(Some(&json!(7))).is_empty());
        assert!(addresses(None).is_empty());
    }
}
