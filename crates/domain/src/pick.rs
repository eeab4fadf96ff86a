//! One pass over a verified body that checks it is JSON and picks out the few
//! strings a route needs, building no tree.
//!
//! Parsing a body into a `serde_json::Value` only to read one or two fields
//! was a seventh of the gateway's time (profiled): a map and a string allocated for
//! every object and string of the body, and freed again. This walks the body
//! with serde_json's own parser instead and keeps only the strings at the
//! paths asked for, borrowed from the body where they hold no escapes.
//!
//! It accepts exactly what `serde_json::from_slice::<Value>` accepts: every
//! value goes through `deserialize_any`, so the nesting limit, number ranges,
//! UTF-8 and escapes are checked the same way, and trailing bytes are refused.
//! It also reads what a `Value` would: when an object repeats a key, the last
//! occurrence counts, and a value of another type than a string is not there.

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// One step of a path into a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The member of an object with this name.
    Key(&'static str),
    /// Every element of an array.
    Each,
}

/// A path from the top of a body to the strings wanted there.
pub type Path = &'static [Step];

/// The strings found, each with the index of the path it was found at, in
/// the order of the body.
#[derive(Debug, Default)]
pub struct Picked<'a> {
    found: Vec<(usize, Cow<'a, str>)>,
}

impl Picked<'_> {
    /// Every string found at path `index`.
    pub fn all(&self, index: usize) -> impl Iterator<Item = &str> {
        self.found
            .iter()
            .filter(move |(i, _)| *i == index)
            .map(|(_, s)| s.as_ref())
    }

    /// The string at path `index` (for a path without `Each` there is at most one).
    pub fn one(&self, index: usize) -> Option<&str> {
        self.all(index).next()
    }
}

/// Checks `body` is one JSON value and picks the strings at `paths` (at most 64).
pub fn pick<'a>(body: &'a [u8], paths: &[Path]) -> Result<Picked<'a>, serde_json::Error> {
    debug_assert!(paths.len() <= 64);
    let active = match paths.len() {
        64.. => u64::MAX,
        n => (1u64 << n) - 1,
    };
    let mut found = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(body);
    Walk {
        paths,
        active,
        depth: 0,
        found: &mut found,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(Picked { found })
}

/// The same reading over a parsed `Value`: the strings at `path`, in order.
/// Slower (the tree is built first); it is what [`pick`] is tested and fuzzed against.
pub fn by_value(value: &serde_json::Value, path: Path) -> Vec<&str> {
    match path.split_first() {
        None => value.as_str().into_iter().collect(),
        Some((Step::Key(key), rest)) => value.get(key).map_or_else(Vec::new, |v| by_value(v, rest)),
        Some((Step::Each, rest)) => value
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|v| by_value(v, rest))
            .collect(),
    }
}

/// The walk at one value: `active` has a bit for each path that leads here.
struct Walk<'p, 'o, 'a> {
    paths: &'p [Path],
    active: u64,
    depth: usize,
    found: &'o mut Vec<(usize, Cow<'a, str>)>,
}

impl<'a> Walk<'_, '_, 'a> {
    /// The paths that go on past this value by `step`.
    fn next(&self, step: impl Fn(Step) -> bool) -> u64 {
        self.paths
            .iter()
            .enumerate()
            .filter(|(i, path)| {
                self.active & (1 << i) != 0 && path.get(self.depth).is_some_and(|s| step(*s))
            })
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }

    fn child(&mut self, active: u64) -> Walk<'_, '_, 'a> {
        Walk {
            paths: self.paths,
            active,
            depth: self.depth + 1,
            found: &mut *self.found,
        }
    }

    /// Whether a path ends at this value.
    fn ends_here(&self) -> bool {
        self.active != 0
            && self
                .paths
                .iter()
                .enumerate()
                .any(|(i, path)| self.active & (1 << i) != 0 && path.len() == self.depth)
    }

    /// Keeps `text` for each path that ends here.
    fn text(self, text: Cow<'a, str>) {
        for (i, path) in self.paths.iter().enumerate() {
            if self.active & (1 << i) != 0 && path.len() == self.depth {
                self.found.push((i, text.clone()));
            }
        }
    }
}

impl<'de, 'a> DeserializeSeed<'de> for Walk<'_, '_, 'a>
where
    'de: 'a,
{
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // `deserialize_any` for every value, wanted or not, so the body is
        // checked as a `Value` parse checks it (`IgnoredAny` skips the nesting limit).
        deserializer.deserialize_any(self)
    }
}

impl<'de, 'a> Visitor<'de> for Walk<'_, '_, 'a>
where
    'de: 'a,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        if self.ends_here() {
            self.text(Cow::Borrowed(v));
        }
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if self.ends_here() {
            self.text(Cow::Owned(v.to_owned()));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let next = self.next(|s| s == Step::Each);
        while seq.next_element_seed(self.child(next))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        // Per wanted key seen in this object: the paths it leads on and where
        // its strings lie in `found`, so a repeat can drop what it gave before.
        let mut spans: Vec<(u64, usize, usize)> = Vec::new();
        let keys: Vec<(u64, &'static str)> = match self.active {
            0 => Vec::new(),
            _ => self
                .paths
                .iter()
                .filter_map(|p| match p.get(self.depth) {
                    Some(Step::Key(k)) => Some(*k),
                    _ => None,
                })
                .map(|k| (self.next(|s| s == Step::Key(k)), k))
                .filter(|(mask, _)| *mask != 0)
                .collect(),
        };
        while let Some(next) = map.next_key_seed(KeyMatch(&keys))? {
            let start = self.found.len();
            map.next_value_seed(self.child(next))?;
            if next == 0 {
                continue;
            }
            if let Some(at) = spans.iter().position(|(mask, ..)| *mask == next) {
                let (_, from, to) = spans.remove(at);
                self.found.drain(from..to);
                let gone = to - from;
                for span in spans.iter_mut().filter(|s| s.1 >= to) {
                    span.1 -= gone;
                    span.2 -= gone;
                }
                spans.push((next, start - gone, self.found.len()));
            } else {
                spans.push((next, start, self.found.len()));
            }
        }
        Ok(())
    }
}

/// Reads an object key and gives the paths it leads on (0 for any other key).
struct KeyMatch<'k>(&'k [(u64, &'static str)]);

impl<'de> DeserializeSeed<'de> for KeyMatch<'_> {
    type Value = u64;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyMatch<'_> {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> Result<u64, E> {
        Ok(self
            .0
            .iter()
            .find(|(_, k)| *k == v)
            .map_or(0, |(mask, _)| *mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use Step::{Each, Key};

    const ID: Path = &[Key("id")];
    const LINES: Path = &[Key("entry"), Each, Key("changes"), Each, Key("line")];

    fn strings(body: &str, path: Path) -> Vec<String> {
        let picked = pick(body.as_bytes(), &[path]).expect("JSON");
        picked.all(0).map(str::to_owned).collect()
    }

    #[test]
    fn strings_are_found_at_their_paths_only() {
        let body = r#"{"id":"a","x":{"id":"not this"},"entry":[{"changes":[{"line":"1"},{"line":"2"}]},{"changes":[{"line":"3"}]}]}"#;
        assert_eq!(strings(body, ID), ["a"]);
        assert_eq!(strings(body, LINES), ["1", "2", "3"]);
    }

    #[test]
    fn the_last_of_a_repeated_key_counts_as_in_a_value() {
        assert_eq!(strings(r#"{"id":"a","id":"b"}"#, ID), ["b"]);
        assert!(strings(r#"{"id":"a","id":5}"#, ID).is_empty());
        let body =
            r#"{"entry":[{"changes":[{"line":"1"}]}],"x":1,"entry":[{"changes":[{"line":"2"}]}]}"#;
        assert_eq!(strings(body, LINES), ["2"]);
        let both = pick(
            br#"{"entry":[{"changes":[{"line":"1"}]}],"id":"a","entry":[]}"#,
            &[ID, LINES],
        )
        .expect("JSON");
        assert_eq!(both.one(0), Some("a"));
        assert_eq!(both.all(1).count(), 0);
    }

    #[test]
    fn other_types_and_shapes_are_not_strings() {
        assert!(strings(r#"{"id":{"id":"a"}}"#, ID).is_empty());
        assert!(strings(r#"[{"id":"a"}]"#, ID).is_empty());
        assert!(strings(r#"{"entry":{"changes":[{"line":"1"}]}}"#, LINES).is_empty());
        assert!(strings(r#""id""#, ID).is_empty());
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        assert_eq!(strings(r#"{"id":"a\"b\u00e9"}"#, ID), ["a\"bé"]);
        assert_eq!(strings(r#"{"\u0069d":"x"}"#, ID), ["x"]);
    }

    #[test]
    fn it_reads_what_a_value_tree_holds() {
        let bodies = [
            r#"{"id":"a","entry":[{"changes":[{"line":"1"},{"line":2},{"line":"3","line":"4"}]},7,{"changes":{}}]}"#,
            r#"{"entry":[],"id":"x","entry":[{"changes":[{"line":"y"}]}],"id":{"id":"z"}}"#,
            r#"["id","entry"]"#,
            r#""top""#,
        ];
        for body in bodies {
            let value: Value = serde_json::from_str(body).expect("JSON");
            let paths = [ID, LINES, &[] as Path];
            let picked = pick(body.as_bytes(), &paths).expect("JSON");
            for (i, path) in paths.iter().enumerate() {
                assert_eq!(
                    picked.all(i).collect::<Vec<_>>(),
                    by_value(&value, path),
                    "{body} {path:?}"
                );
            }
        }
    }

    #[test]
    fn it_accepts_what_a_value_parse_accepts() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let deep_inside = format!(
            r#"{{"id":"a","x":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let cases = [
            "{}",
            "[]",
            "1",
            "null",
            r#"{"id":"a"}"#,
            r#"{"id":"a"} x"#,
            r#"{"id":"a""#,
            r#"{"x":1e400}"#,
            r#"{"x":-0.5e-3,"y":[true,false,null]}"#,
            r#"{"x":"\ud800"}"#,
            r#"{"x":"\q"}"#,
            "{\"x\":\"\u{1}\"}",
            "",
            deep.as_str(),
            deep_inside.as_str(),
        ];
        for case in cases {
            assert_eq!(
                pick(case.as_bytes(), &[ID, LINES]).is_ok(),
                serde_json::from_str::<Value>(case).is_ok(),
                "{case}"
            );
        }
        let invalid_utf8 = b"{\"id\":\"\xff\"}";
        assert!(pick(invalid_utf8, &[ID]).is_err());
    }
}
