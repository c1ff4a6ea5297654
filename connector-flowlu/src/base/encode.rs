//! Flowlu form encoding: a JSON record as the `application/x-www-form-urlencoded` pairs
//! Flowlu's own (PHP) clients send.
//!
//! | JSON value | pairs |
//! |---|---|
//! | `true` / `false` | `field=1` / `field=0` |
//! | number | `field=12.5` (its JSON text) |
//! | string | `field=text` (as is) |
//! | `null`, `""` | nothing (as every public Flowlu client: a record does not clear what it leaves empty) |
//! | `[a, b]` | `field[]=a&field[]=b` |
//! | `[{..}, {..}]` | `field[0][key]=v&field[1][key]=v` |
//! | `{"k": v}` | `field[k]=v` (recursively) |
//! | `[]` / `{}` | nothing (as PHP's `http_build_query`: an empty list cannot be sent) |
//!
//! Clearing a field is an explicit opt-in, per stream: with [`Empty::Clear`] (the write rule's
//! `clear_empty_fields`), `null` and `""` are sent as `field=`, which Flowlu reads as "no
//! value", so an update clears the field. Inside lists and objects they are dropped either way.
//!
//! Names are checked: a top-level field is a plain name (`[A-Za-z0-9_]`, e.g. `name`, `cf_12`),
//! nested keys likewise, never `api_key` (which would shadow the key in the URL), and values
//! nest at most [`MAX_DEPTH`] levels. `id` is never encoded: it travels in the URL.

use serde_json::{Map, Value};

/// The deepest nesting encoded (`field[a][b][c]` is depth 3).
pub(crate) const MAX_DEPTH: usize = 3;

/// Why a record cannot be encoded; `field` names the offending top-level field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {reason}")]
pub(crate) struct EncodeError {
    /// The top-level field.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Whether `name` is a plain field or key name: ASCII letters, digits and `_`, not empty.
pub(crate) fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Whether `name` would shadow the API key of the URL.
pub(crate) fn is_reserved(name: &str) -> bool {
    name.eq_ignore_ascii_case("api_key")
}

/// Checks a top-level field name.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if is_reserved(name) {
        Err("`api_key` cannot be written as a field".into())
    } else if !is_plain_name(name) {
        Err("not a plain field name (only letters, digits and _ are allowed)".into())
    } else {
        Ok(())
    }
}

/// What a top-level `null` or `""` becomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Empty {
    /// Not sent: the field keeps its value in Flowlu (the default).
    #[default]
    Drop,
    /// Sent as `field=`: an update clears the field.
    Clear,
}

/// Whether `value` is `null` or the empty string.
fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Encodes every field of `record` except `id`, in the record's order, leaving out `null` and
/// empty values.
pub(crate) fn encode_record(record: &Map<String, Value>) -> Result<Vec<(String, String)>, EncodeError> {
    encode_record_with(record, Empty::Drop)
}

/// Encodes every field of `record` except `id`; `empty` says what a top-level `null` or `""`
/// becomes.
pub(crate) fn encode_record_with(
    record: &Map<String, Value>,
    empty: Empty,
) -> Result<Vec<(String, String)>, EncodeError> {
    let mut pairs = Vec::with_capacity(record.len());
    for (name, value) in record {
        if name == "id" {
            continue;
        }
        let fail = |reason: String| EncodeError {
            field: name.clone(),
            reason,
        };
        check_name(name).map_err(fail)?;
        if is_empty_value(value) {
            if empty == Empty::Clear {
                pairs.push((name.clone(), String::new()));
            }
            continue;
        }
        encode_value(name.clone(), value, 0, &mut pairs).map_err(fail)?;
    }
    Ok(pairs)
}

/// The text of a scalar as Flowlu expects it; `None` for arrays and objects.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.into()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn encode_value(
    key: String,
    value: &Value,
    depth: usize,
    out: &mut Vec<(String, String)>,
) -> Result<(), String> {
    if is_empty_value(value) {
        return Ok(());
    }
    if let Some(text) = scalar_text(value) {
        out.push((key, text));
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Err(format!("nested deeper than {MAX_DEPTH} levels"));
    }
    match value {
        Value::Array(items) => {
            let scalars = items.iter().all(|v| scalar_text(v).is_some());
            for (index, item) in items.iter().enumerate() {
                let child = if scalars {
                    format!("{key}[]")
                } else {
                    format!("{key}[{index}]")
                };
                encode_value(child, item, depth + 1, out)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (name, item) in map {
                if is_reserved(name) || !is_plain_name(name) {
                    return Err(format!(
                        "nested key `{name}` is not a plain name (only letters, digits and _ are allowed)"
                    ));
                }
                encode_value(format!("{key}[{name}]"), item, depth + 1, out)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn encode(value: Value) -> Result<String, EncodeError> {
        let Value::Object(map) = value else {
            panic!("not an object")
        };
        let pairs = encode_record(&map)?;
        Ok(serde_urlencoded::to_string(pairs).unwrap_or_default())
    }

    #[test]
    fn encodes_every_json_type() {
        let cases = [
            (json!({"id": 7, "name": "Acme"}), "name=Acme"),
            (json!({"active": true, "vip": false}), "active=1&vip=0"),
            (json!({"budget": 12.5, "n": -3}), "budget=12.5&n=-3"),
            (json!({"description": null, "phone": "", "name": "x"}), "name=x"),
            (json!({"note": " "}), "note=+"),
            (json!({"tags": ["a", null, "", "b"]}), "tags%5B%5D=a&tags%5B%5D=b"),
            (
                json!({"address": {"city": null, "zip": "", "street": "Main"}}),
                "address%5Bstreet%5D=Main",
            ),
            (json!({"rows": [{"q": null}, {"q": 2}]}), "rows%5B1%5D%5Bq%5D=2"),
            (json!({"tags": ["a", "b c"]}), "tags%5B%5D=a&tags%5B%5D=b+c"),
            (json!({"flags": [true, 2]}), "flags%5B%5D=1&flags%5B%5D=2"),
            (
                json!({"address": {"city": "Oslo", "zip": 150}}),
                "address%5Bcity%5D=Oslo&address%5Bzip%5D=150",
            ),
            (
                json!({"rows": [{"q": 1}, {"q": 2}]}),
                "rows%5B0%5D%5Bq%5D=1&rows%5B1%5D%5Bq%5D=2",
            ),
            (json!({"tags": [], "meta": {}, "name": "x"}), "name=x"),
            (
                json!({"cf_12": "v", "a": "x&api_key=y"}),
                "cf_12=v&a=x%26api_key%3Dy",
            ),
        ];
        for (record, expected) in cases {
            assert_eq!(encode(record.clone()).unwrap(), expected, "{record}");
        }
    }

    #[test]
    fn clearing_sends_top_level_nulls_and_empty_strings_as_empty_values() {
        let record =
            json!({"id": 3, "description": null, "phone": "", "name": "x", "tags": [null], "m": {"a": null}});
        let Value::Object(map) = record else {
            panic!("not an object")
        };
        let cleared = encode_record_with(&map, Empty::Clear).unwrap();
        assert_eq!(
            serde_urlencoded::to_string(cleared).unwrap(),
            "description=&phone=&name=x"
        );
        let dropped = encode_record_with(&map, Empty::Drop).unwrap();
        assert_eq!(serde_urlencoded::to_string(dropped).unwrap(), "name=x");
        // Names are checked even when the value is not sent.
        let Value::Object(bad) = json!({"api_key": null}) else {
            panic!("not an object")
        };
        assert_eq!(
            encode_record(&bad).unwrap_err().reason,
            "`api_key` cannot be written as a field"
        );
    }

    #[test]
    fn refuses_names_that_could_inject() {
        let cases = [
            (
                json!({"api_key": "x"}),
                "api_key",
                "`api_key` cannot be written as a field",
            ),
            (
                json!({"API_KEY": "x"}),
                "API_KEY",
                "`api_key` cannot be written as a field",
            ),
            (
                json!({"a[b]": 1}),
                "a[b]",
                "not a plain field name (only letters, digits and _ are allowed)",
            ),
            (
                json!({"": 1}),
                "",
                "not a plain field name (only letters, digits and _ are allowed)",
            ),
            (
                json!({"a&b": 1}),
                "a&b",
                "not a plain field name (only letters, digits and _ are allowed)",
            ),
            (
                json!({"m": {"api_key": 1}}),
                "m",
                "nested key `api_key` is not a plain name (only letters, digits and _ are allowed)",
            ),
            (
                json!({"m": {"x]": 1}}),
                "m",
                "nested key `x]` is not a plain name (only letters, digits and _ are allowed)",
            ),
            (
                json!({"deep": {"a": {"b": {"c": {"d": 1}}}}}),
                "deep",
                "nested deeper than 3 levels",
            ),
        ];
        for (record, field, reason) in cases {
            let err = encode(record.clone()).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.reason.as_str()),
                (field, reason),
                "{record}"
            );
        }
    }
}
