//! List pages whose records stay the exact JSON text Flowlu sent.
//!
//! Reading a record into a `serde_json::Value` and writing it back costs most of a read's
//! time (allocations for every key and string). The source keeps each record as a
//! [`RawValue`] instead: it is checked to be JSON, its `id` and cursor are picked out without
//! building a tree, and it is written to stdout byte for byte.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::client::{decode, ListPage};
use crate::cursor::{Key, Order};
use crate::error::{Bound, Error};

/// The deepest a record may nest (its own object is the first level). Far beyond any Flowlu
/// record, and within what `serde_json` parses into a tree (128 levels): a [`RawValue`] is
/// skipped over without that limit, so it is checked here ([`nests_deeper_than`]).
pub const MAX_RECORD_DEPTH: usize = 64;

/// One page of a list call, its records kept as sent.
#[derive(Debug)]
pub struct RawListPage {
    /// `total_result`, else `total`, if sent (a cross-check only).
    pub total: Option<u64>,
    /// The records, exactly as sent.
    pub items: Vec<Box<RawValue>>,
}

impl RawListPage {
    /// Reads a list answer: the common shape (`{"response": {"total": N, "items": [...]}}`)
    /// directly, every other answer (errors, items keyed by id, ...) through
    /// [`crate::client::decode`], so both give the same records and the same errors.
    /// A record nested deeper than [`MAX_RECORD_DEPTH`] fails the page ([`Error::Oversized`]).
    pub fn decode(status: StatusCode, headers: &HeaderMap, body: &[u8], secret: &str) -> Result<Self, Error> {
        let page = Self::decode_any_depth(status, headers, body, secret)?;
        if page
            .items
            .iter()
            .any(|record| nests_deeper_than(record.get().as_bytes(), MAX_RECORD_DEPTH))
        {
            return Err(Error::Oversized {
                what: String::new(),
                page: None,
                bound: Bound::Depth(MAX_RECORD_DEPTH),
            });
        }
        Ok(page)
    }

    fn decode_any_depth(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secret: &str,
    ) -> Result<Self, Error> {
        if status == StatusCode::OK {
            if let Some(page) = Self::common_shape(body) {
                return Ok(page);
            }
        }
        let page = ListPage::from_response(decode(status, headers, body, secret)?)?;
        let items = page
            .items
            .iter()
            .map(serde_json::value::to_raw_value)
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Malformed {
                status: status.as_u16(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            total: page.total,
            items,
        })
    }

    fn common_shape(body: &[u8]) -> Option<Self> {
        #[derive(Deserialize)]
        struct Envelope {
            error: Option<IgnoredAny>,
            response: Option<Response>,
        }
        #[derive(Deserialize)]
        struct Response {
            total: Option<Value>,
            total_result: Option<Value>,
            items: Option<Vec<Box<RawValue>>>,
        }
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        if envelope.error.is_some() {
            return None;
        }
        let response = envelope.response?;
        let number =
            |v: Option<Value>| v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
        // `total_result` first: beside it, `total` has been seen holding nonsense (99999).
        let total = number(response.total_result).or_else(|| number(response.total));
        Some(Self {
            total,
            items: response.items.unwrap_or_default(),
        })
    }
}

/// Whether `json` (one JSON value) nests deeper than `max`. Cheap for what Flowlu sends: the
/// depth cannot exceed the number of `{` and `[` bytes, counted first (a record has a few);
/// only past `max` of them are the brackets outside strings followed.
pub fn nests_deeper_than(json: &[u8], max: usize) -> bool {
    let opening = memchr::memchr2_iter(b'{', b'[', json).take(max + 1).count();
    opening > max && !DepthScan::new(max).feed(json)
}

/// Follows the nesting of a JSON body as it arrives, chunk by chunk: brackets outside strings.
/// A body that does not start with `{` or `[` is not JSON nesting and is not followed.
#[derive(Debug)]
struct DepthScan {
    max: usize,
    depth: usize,
    started: bool,
    json: bool,
    in_string: bool,
    escaped: bool,
}

impl DepthScan {
    fn new(max: usize) -> Self {
        Self {
            max,
            depth: 0,
            started: false,
            json: false,
            in_string: false,
            escaped: false,
        }
    }

    /// Reads `chunk`; `false` once the nesting went deeper than the bound.
    fn feed(&mut self, chunk: &[u8]) -> bool {
        let mut bytes = chunk;
        if !self.started {
            let Some(first) = bytes.iter().position(|b| !b.is_ascii_whitespace()) else {
                return true;
            };
            self.started = true;
            self.json = matches!(bytes[first], b'{' | b'[');
            bytes = &bytes[first..];
        }
        if !self.json {
            return true;
        }
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // Most of a JSON body is inside strings: jump to the next quote or escape.
                let Some(at) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
                    return true;
                };
                i += at;
                if bytes[i] == b'"' {
                    self.in_string = false;
                } else {
                    self.escaped = true;
                }
                i += 1;
                continue;
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => {
                    self.depth += 1;
                    if self.depth > self.max {
                        return false;
                    }
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
            i += 1;
        }
        true
    }
}

/// The key of a raw record in `order`, read without building the record.
pub fn raw_key(record: &RawValue, order: &Order) -> Option<Key> {
    let cursor = order.cursor.map(|(column, _)| column);
    let mut de = serde_json::Deserializer::from_str(record.get());
    let (id, cursor_value) = KeyFields { cursor }.deserialize(&mut de).ok()?;
    order.key_from(id.as_ref(), cursor_value.as_ref())
}

/// Picks `id` and the cursor column out of a record.
struct KeyFields<'c> {
    cursor: Option<&'c str>,
}

impl<'de> DeserializeSeed<'de> for KeyFields<'_> {
    type Value = (Option<Value>, Option<Value>);

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeyFields<'_> {
    type Value = (Option<Value>, Option<Value>);

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut id, mut cursor) = (None, None);
        while let Some(field) = map.next_key_seed(FieldName { cursor: self.cursor })? {
            match field {
                Field::Id => id = Some(map.next_value()?),
                Field::Cursor => cursor = Some(map.next_value()?),
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((id, cursor))
    }
}

enum Field {
    Id,
    Cursor,
    Other,
}

/// Classifies a key without allocating it.
struct FieldName<'c> {
    cursor: Option<&'c str>,
}

impl<'de> DeserializeSeed<'de> for FieldName<'_> {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldName<'_> {
    type Value = Field;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Field, E> {
        Ok(match name {
            "id" => Field::Id,
            _ if Some(name) == self.cursor => Field::Cursor,
            _ => Field::Other,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::streams::CursorKind;

    #[test]
    fn reads_the_common_shape_and_falls_back_for_the_others() {
        let body =
            br#"{"response": {"total_result": "2", "page": 1, "items": [{"id": 1, "a": "x" }, {"id":"2"}]}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), body, "k").unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(
            page.items.iter().map(|r| r.get()).collect::<Vec<_>>(),
            [r#"{"id": 1, "a": "x" }"#, r#"{"id":"2"}"#]
        );
        let keyed = br#"{"response": {"total": 1, "items": {"7": {"id": 7}}}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), keyed, "k").unwrap();
        assert_eq!(page.items[0].get(), r#"{"id":7}"#);
        let error = br#"{"error": {"error_code": 22, "error_msg": "Access denied"}}"#;
        let err = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), error, "k").unwrap_err();
        assert!(matches!(err, Error::Permission { .. }), "{err:?}");
        let cut = br#"{"response": {"items": [{"id"#;
        assert!(RawListPage::decode(StatusCode::OK, &HeaderMap::new(), cut, "k")
            .unwrap_err()
            .is_retryable());
    }

    #[test]
    fn the_depth_scan_counts_brackets_outside_strings_across_chunks() {
        let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(!nests_deeper_than(nested(64).as_bytes(), 64));
        assert!(nests_deeper_than(nested(65).as_bytes(), 64));
        let wide = format!("[{}]", vec!["[{}]"; 500].join(","));
        assert!(
            !nests_deeper_than(wide.as_bytes(), 64),
            "many brackets, little depth"
        );
        let in_strings = format!(r#"{{"a": "{}"}}"#, "[".repeat(100));
        assert!(
            !nests_deeper_than(in_strings.as_bytes(), 64),
            "brackets inside a string"
        );

        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let scan = |chunks: &[&[u8]]| {
            let mut scan = DepthScan::new(3);
            chunks.iter().all(|c| scan.feed(c))
        };
        assert!(scan(&[deep(3).as_bytes()]));
        assert!(!scan(&[deep(4).as_bytes()]));
        assert!(!scan(&[b"[[", b"[[", b"]]]]"]), "nesting across chunks");
        assert!(
            scan(&[br#"{"a": "[[[[\"[[[[", "b": [1, {"c": "}}}}"}]}"#]),
            "brackets in strings"
        );
        assert!(
            scan(&[br#"{"a": "\\", "b": [[1]]}"#]),
            "an escaped backslash ends before the quote"
        );
        assert!(!scan(&[br#"{"a": "\\", "b": [[[1]]]}"#]));
        assert!(scan(&[br#"["a\"#, br#""[[["]"#]), "an escape split across chunks");
        assert!(
            scan(&[br#"["a"#, br#"[[[[", 1]"#]),
            "a string split across chunks"
        );
        assert!(scan(&[b"  ", b"<html>[[[[[[[[</html>"]), "not JSON: not followed");
        assert!(
            scan(&[b"[]]]]][[["]),
            "closing more than opened does not underflow"
        );
    }

    #[test]
    fn keys_match_those_of_the_parsed_record() {
        let order = Order {
            cursor: Some(("updated_date", CursorKind::Timestamp)),
        };
        for text in [
            r#"{"name": {"x": [1, "id"]}, "updated_date": "2024-01-01 10:00:00", "id": "12"}"#,
            r#"{"id": 3, "updated_date": ""}"#,
            r#"{"i\u0064": 4}"#,
            r#"{"name": "no id"}"#,
        ] {
            let raw = RawValue::from_string(text.to_string()).unwrap();
            let parsed: Value = serde_json::from_str(text).unwrap();
            assert_eq!(raw_key(&raw, &order), order.key(&parsed), "{text}");
        }
    }

    #[test]
    fn total_result_is_preferred_and_empty_lists_in_every_form_are_empty() {
        let both = br#"{"response": {"total": 99999, "total_result": 5, "items": [{"id": 1}]}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), both, "k").unwrap();
        assert_eq!(page.total, Some(5));
        let parsed =
            ListPage::from_response(serde_json::from_slice::<Value>(both).unwrap()["response"].clone())
                .unwrap();
        assert_eq!(parsed.total, Some(5));
        for body in [
            &br#"{"response": []}"#[..],
            br#"{"response": {"total": 0, "items": []}}"#,
            br#"{"response": {"total": "0", "items": {}}}"#,
        ] {
            let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), body, "k").unwrap();
            assert!(page.items.is_empty(), "{}", String::from_utf8_lossy(body));
        }
    }
}
