#![allow(clippy::unwrap_used)]
//! The scan against its oracles: a bracket counter for the depth, the parsed record for the
//! keys.

use serde_json::value::RawValue;
use serde_json::Value;

use super::*;
use crate::base::streams::CursorKind;
use crate::client::page::MAX_RECORD_DEPTH;

const BY_ID: Order = Order { cursor: None };
const BY_DATE: Order = Order {
    cursor: Some(("updated_date", CursorKind::Timestamp)),
};

/// Whether `json` (one JSON value) nests deeper than `max`. Cheap for what Flowlu sends: the
/// depth cannot exceed the number of `{` and `[` bytes, counted first (a record has a few);
/// only past `max` of them are the brackets outside strings followed. The tests' reference for
/// [`scan_record`]'s depth bound (nothing else uses it since the scan reads keys and depth in one pass).
fn nests_deeper_than(json: &[u8], max: usize) -> bool {
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

/// The key of a raw record in `order`, read without building the record (the tests' view of
/// [`scan_record`]'s keys).
fn raw_key(record: &RawValue, order: &Order) -> Option<Key> {
    let cursor = order.cursor.map(|(column, _)| column);
    scan_record(record.get(), cursor, usize::MAX).ok()?.key(order)
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
fn one_pass_finds_the_top_level_id_and_cursor_texts() {
    fn scan(text: &str) -> Members<'_> {
        scan_record(text, Some("updated_date"), MAX_RECORD_DEPTH).unwrap()
    }
    let members = |id, cursor| Members { id, cursor };
    let cases: [(&str, Members<'_>); 16] = [
        // Read past the wanted members only when a later member could name them again.
        (r#"{"id": 1, "i\u0064": 2}"#, members(Some("2"), None)),
        (
            r#"{"id": 1, "updated_date": "a", "n": "updated_date", "updated_date": "b"}"#,
            members(Some("1"), Some(r#""b""#)),
        ),
        (
            r#"{"id": 1, "updated_date": "a", "x": "\u0041", "v": [{"id": 5}]}"#,
            members(Some("1"), Some(r#""a""#)),
        ),
        (
            r#"{"name": "x", "updated_date": "a", "id": 7}"#,
            members(Some("7"), Some(r#""a""#)),
        ),
        (
            r#"{"id":12,"updated_date":"2024-01-01 10:00:00"}"#,
            members(Some("12"), Some(r#""2024-01-01 10:00:00""#)),
        ),
        (
            r#" { "id" : "12" , "name" : "a" } "#,
            members(Some(r#""12""#), None),
        ),
        // Members named `id` inside values, strings holding structure, are not the record's.
        (
            r#"{"owner": {"id": 5, "tags": ["id", {"id": 6}]}, "note": "\"id\": 7, }", "id": 8}"#,
            members(Some("8"), None),
        ),
        (r#"{"name": "id", "x": "updated_date"}"#, members(None, None)),
        // A value that is an object or an array is its whole text.
        (
            r#"{"id": {"a": [1, "}"]}  ,"updated_date": [1,2]}"#,
            members(Some(r#"{"a": [1, "}"]}"#), Some("[1,2]")),
        ),
        // The last of duplicated members, as a parser keeps.
        (r#"{"id": 1, "id": 2}"#, members(Some("2"), None)),
        // Escaped names are read unescaped; escapes in values are kept as sent.
        (
            r#"{"i\u0064": 4, "updated\u005fdate": "a\"b\\"}"#,
            members(Some("4"), Some(r#""a\"b\\""#)),
        ),
        (r#"{"id\"": 1, "\\id": 2}"#, members(None, None)),
        ("{\"id\":\n 9\n}", members(Some("9"), None)),
        (
            r#"{"id": null, "updated_date": ""}"#,
            members(Some("null"), Some(r#""""#)),
        ),
        // Not objects: no members.
        (r#"[{"id": 1}, "id", 2]"#, members(None, None)),
        (r#""id""#, members(None, None)),
    ];
    for (text, expected) in cases {
        assert_eq!(scan(text), expected, "{text}");
    }
    assert_eq!(
        scan_record(r#"{"id": 3, "updated_date": "x"}"#, None, 64).unwrap(),
        members(Some("3"), None),
        "no cursor column asked"
    );
    for (text, id) in [
        (r#"{"id": 1, "i\u0064": 2}"#, "2"),
        (r#"{"id": 1, "x": {"id": 3}, "id": 2}"#, "2"),
        (r#"{"id": 1, "x": "\"id\""}"#, "1"),
    ] {
        assert_eq!(
            scan_record(text, None, 64).unwrap(),
            members(Some(id), None),
            "{text}"
        );
    }
    // Text that is not JSON ends the scan without a panic.
    for text in [
        r#"{"id": "3"#,
        r#"{"id": 3, "a": "\"#,
        r#"{"id"#,
        "",
        "}}]]",
        r#"{"id":"#,
    ] {
        let _ = scan(text);
    }
    assert_eq!(scan(r#"{"x": 1, "id": 3"#), members(Some("3"), None));
}

/// Every record built from these members, names (escaped, duplicated) and spacing: the
/// scan's key is the parsed record's, on the short path (at most `max` brackets) and on
/// the full walk (a bound of 3: most of these records have more brackets, none is deeper).
#[test]
fn the_scan_keys_generated_records_as_their_parse_does() {
    let names = [
        r#""id""#,
        r#""i\u0064""#,
        r#""updated_date""#,
        r#""updated\u005fdate""#,
        r#""name""#,
        r#""\"id""#,
        r#""owner""#,
    ];
    let values = [
        "12",
        r#""12""#,
        r#"" 7 ""#,
        r#""""#,
        "null",
        "-3",
        "1.5e3",
        "true",
        r#""2024-01-01 10:00:00""#,
        r#""0000-00-00 00:00:00""#,
        r#"{"id": 99, "a": [1, "}"]}"#,
        r#"[{"id": 5}, "id", []]"#,
        r#""a\"b,\\""#,
        r#""x\u0041""#,
        "\"\u{fc}ber\"",
    ];
    let spaces = ["", " ", "\n  "];
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    for _ in 0..5000 {
        let mut text = String::from("{");
        for member in 0..next(7) {
            if member > 0 {
                text.push(',');
            }
            let space = spaces[next(spaces.len())];
            for part in [
                space,
                names[next(names.len())],
                space,
                ":",
                space,
                values[next(values.len())],
                space,
            ] {
                text.push_str(part);
            }
        }
        text.push('}');
        let raw = RawValue::from_string(text.clone()).unwrap();
        let parsed: Value = serde_json::from_str(&text).unwrap();
        for order in [BY_ID, BY_DATE] {
            let expected = order.key(&parsed);
            assert_eq!(raw_key(&raw, &order), expected, "{text}");
            let cursor = order.cursor.map(|(column, _)| column);
            let walked = scan_record(&text, cursor, 3).unwrap().key(&order);
            assert_eq!(walked, expected, "{text}");
        }
    }
}

#[test]
fn the_scan_bounds_nesting_outside_strings() {
    let nested = |n: usize| format!(r#"{{"id": 1, "a": {}1{}}}"#, "[".repeat(n - 1), "]".repeat(n - 1));
    assert_eq!(scan_record(&nested(64), None, 64).map(|m| m.id), Ok(Some("1")));
    assert_eq!(scan_record(&nested(65), None, 64), Err(TooDeep));
    let wide = format!(r#"{{"id": 2, "a": [{}]}}"#, vec!["[{}]"; 500].join(","));
    assert_eq!(
        scan_record(&wide, None, 64).map(|m| m.id),
        Ok(Some("2")),
        "many brackets, little depth"
    );
    let in_strings = format!(r#"{{"a": "{}", "id": 3}}"#, "[{".repeat(100));
    assert_eq!(
        scan_record(&in_strings, None, 64).map(|m| m.id),
        Ok(Some("3")),
        "brackets inside a string"
    );
    assert_eq!(
        scan_record(r#"{"a": "\\", "b": [[1]]}"#, None, 3).map(|m| m.id),
        Ok(None)
    );
    assert_eq!(scan_record(r#"{"a": "\\", "b": [[[1]]]}"#, None, 3), Err(TooDeep));
    assert_eq!(
        scan_record("]]]]{[[", None, 3),
        Ok(Members::default()),
        "closing more than opened does not underflow"
    );
}
