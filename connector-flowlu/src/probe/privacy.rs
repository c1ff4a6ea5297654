//! Answers described without values: the structure of a body ([`body_shape`]), the shape of a
//! string ([`string_shape`]), rate headers as numbers or a fixed form ([`rate_headers`]), and
//! the names record keys are reported by ([`Naming`], [`Fields`]).
//!
//! The report holds field names, JSON types, string shapes (`blank`, `datetime`, ...), counts
//! and Flowlu's error codes; never a value, a name, an e-mail, a record id, an error text (it
//! may echo what was sent), the key in any encoding, or the account domain. Custom fields
//! appear as their `cf_<id>` column keys; their labels and aliases are customer-chosen text and
//! are never reported: a record key equal to an alias is reported as `alias_of_cf_<id>` (a
//! select field's `<alias>_value` as `alias_of_cf_<id>_value`). When not every custom field
//! row could be read, a record key is named only when the stream schema declares it or it is a
//! `cf_<id>` key. Record keys that are not plain identifiers (and those) are only counted.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

use super::report::FieldReport;
use crate::base::stream_schema::schema_with;
use crate::base::streams::{Model, MODELS};

/// Error sentences reported verbatim: they are Flowlu's, not the customer's.
const KNOWN_ERROR_TEXTS: &[&str] = &["validation", "Request rate per second exceeded", "invalid_grant"];

/// The structure of a body: keys and JSON types, no values (a known error sentence aside).
pub(crate) fn body_shape(parsed: Option<&Value>, body: &[u8]) -> Value {
    match parsed {
        Some(value) => {
            let mut shape = value_shape(value, 3);
            if let (Some(text), Some(obj)) =
                (value.get("error").and_then(Value::as_str), shape.as_object_mut())
            {
                if let Some(known) = KNOWN_ERROR_TEXTS.iter().find(|k| k.eq_ignore_ascii_case(text)) {
                    obj.insert("error_text".into(), json!(known));
                }
            }
            shape
        }
        None if body.iter().all(u8::is_ascii_whitespace) => json!("empty"),
        None if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') => json!("html"),
        None => json!("text"),
    }
}

fn value_shape(value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(obj) if depth > 0 => {
            let mut out = Map::new();
            let mut other = 0;
            for (k, v) in obj {
                if is_plain_key(k) {
                    out.insert(k.clone(), value_shape(v, depth - 1));
                } else {
                    other += 1;
                }
            }
            if other > 0 {
                out.insert("(other keys)".into(), json!(other));
            }
            Value::Object(out)
        }
        other => json!(json_type(other)),
    }
}

/// The forms a rate header's value is reported in besides a number: the only texts a header
/// value can become in a report, whatever it held (a gateway's `key=...` or account name
/// never reaches it).
pub(crate) const HEADER_FORMS: [&str; 2] = ["http_date", "not_shown"];

/// Rate headers (`retry-after`, `*ratelimit*`, `*rate-limit*`), by lower-case name; each value
/// as a JSON number when it is one (`1`, `0.5`), else one of [`HEADER_FORMS`].
pub(crate) fn rate_headers(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n == "retry-after" || n.contains("ratelimit") || n.contains("rate-limit")
        })
        .filter(|(name, _)| {
            name.as_str().len() <= 40
                && name
                    .as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .map(|(name, value)| {
            let form = value.to_str().map_or(json!("not_shown"), header_form);
            (name.as_str().to_string(), form)
        })
        .collect()
}

/// A header value as a number, or the form it has.
fn header_form(value: &str) -> Value {
    let v = value.trim();
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(v) {
        return v.parse::<u64>().map_or(json!("not_shown"), Value::from);
    }
    if let Some((whole, fraction)) = v.split_once('.') {
        if digits(whole) && digits(fraction) {
            if let Some(n) = v.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                return Value::Number(n);
            }
        }
    }
    if is_http_date(v) {
        return json!(HEADER_FORMS[0]);
    }
    json!(HEADER_FORMS[1])
}

/// Whether `s` is `len` bytes of ASCII digits but for `sep` at each of `at`: the one shape
/// check of dates (`2024-01-02`), times (`03:04:05`) and numbers (`06`).
fn digits_and(s: &str, len: usize, sep: u8, at: &[usize]) -> bool {
    s.len() == len
        && s.bytes().enumerate().all(|(i, b)| {
            if at.contains(&i) {
                b == sep
            } else {
                b.is_ascii_digit()
            }
        })
}

/// `2024-01-02`.
fn is_date(s: &str) -> bool {
    digits_and(s, 10, b'-', &[4, 7])
}

/// `03:04:05`.
fn is_time(s: &str) -> bool {
    digits_and(s, 8, b':', &[2, 5])
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's preferred form).
fn is_http_date(v: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = v.split(' ').collect();
    matches!(parts.as_slice(), [day, dd, month, yyyy, hms, "GMT"]
        if day.strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
            && digits_and(dd, 2, b' ', &[])
            && MONTHS.contains(month)
            && digits_and(yyyy, 4, b' ', &[])
            && is_time(hms))
}

/// The shape of a string, never its value.
pub(crate) fn string_shape(text: &str) -> &'static str {
    let t = text.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if t.is_empty() {
        "blank"
    } else if t == "0000-00-00 00:00:00" {
        "zero_datetime"
    } else if t == "0000-00-00" {
        "zero_date"
    } else if t.len() == 19 && is_date(&t[..10]) && &t[10..11] == " " && is_time(&t[11..]) {
        "datetime"
    } else if is_date(t) {
        "date"
    } else if digits(t.trim_start_matches('-')) {
        "integer_text"
    } else if t.parse::<f64>().is_ok_and(f64::is_finite) {
        "decimal_text"
    } else {
        "text"
    }
}

/// A record key or error key reported by name: a plain identifier, at most 64 characters.
pub(crate) fn is_plain_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// What was seen of one field.
#[derive(Debug, Default)]
pub(crate) struct FieldSeen {
    pub(crate) types: BTreeSet<&'static str>,
    shapes: BTreeSet<&'static str>,
    blank: u64,
    zero_dates: u64,
}

/// How record keys are named in the report: custom field aliases replaced, and, unless every
/// custom field row was read, only the keys the connector knows named at all.
#[derive(Debug, Default)]
pub(crate) struct Naming {
    /// Alias -> `cf_<id>`, from the custom field rows read.
    pub(crate) aliases: BTreeMap<String, String>,
    /// Whether every custom field row was read (so every alias is in `aliases`).
    pub(crate) all_custom_fields: bool,
    /// The properties of each model's stream schema (without custom fields), built once.
    pub(crate) declared: std::cell::OnceCell<BTreeMap<&'static str, BTreeSet<String>>>,
}

impl Naming {
    /// The name `key` of a record of `model` is reported by; `None`: only counted.
    fn name(&self, model: &Model, key: &str) -> Option<String> {
        // A select field named by its alias also carries `<alias>_value`, its label.
        if let Some(cf) = self.aliases.get(key) {
            return Some(format!("alias_of_{cf}"));
        }
        if let Some(cf) = key.strip_suffix("_value").and_then(|base| self.aliases.get(base)) {
            return Some(format!("alias_of_{cf}_value"));
        }
        if !is_plain_key(key) {
            return None;
        }
        let custom = key
            .strip_prefix("cf_")
            .map(|rest| rest.strip_suffix("_value").unwrap_or(rest))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        // An alias of a custom field row not read looks like any other key: unless every row
        // was read, a key is named only when the connector's stream schema declares it.
        let declared = || {
            let declared = self.declared.get_or_init(|| {
                MODELS
                    .iter()
                    .map(|m| {
                        let schema = schema_with(m, &[]);
                        let names = schema["properties"]
                            .as_object()
                            .map(|p| p.keys().cloned().collect())
                            .unwrap_or_default();
                        (m.stream, names)
                    })
                    .collect()
            });
            declared
                .get(model.stream)
                .is_some_and(|names| names.contains(key))
        };
        (custom || self.all_custom_fields || declared()).then(|| key.to_string())
    }
}

/// The fields of a sample of records: names (aliases replaced), types and string shapes.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    pub(crate) fields: BTreeMap<String, FieldSeen>,
    /// Keys not reported by name: not plain identifiers, or (not every custom field row read)
    /// not declared by the stream schema.
    pub(crate) other_keys: u64,
}

impl Fields {
    pub(crate) fn absorb(&mut self, record: &Value, model: &Model, naming: &Naming) {
        let Some(obj) = record.as_object() else {
            self.other_keys += 1;
            return;
        };
        for (key, value) in obj {
            let Some(name) = naming.name(model, key) else {
                self.other_keys += 1;
                continue;
            };
            let seen = self.fields.entry(name).or_default();
            seen.types.insert(json_type(value));
            if let Value::String(s) = value {
                let shape = string_shape(s);
                seen.shapes.insert(shape);
                match shape {
                    "blank" => seen.blank += 1,
                    "zero_datetime" | "zero_date" => seen.zero_dates += 1,
                    _ => {}
                }
            }
        }
    }

    /// As the report holds them.
    pub(crate) fn to_report(&self) -> BTreeMap<String, FieldReport> {
        let texts = |set: &BTreeSet<&str>| set.iter().map(|s| s.to_string()).collect();
        self.fields
            .iter()
            .map(|(name, seen)| {
                let field = FieldReport {
                    types: texts(&seen.types),
                    string_shapes: texts(&seen.shapes),
                    blank: seen.blank,
                    zero_dates: seen.zero_dates,
                };
                (name.clone(), field)
            })
            .collect()
    }
}
