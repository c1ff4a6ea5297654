//! Whether a value sent already equals the portal's value, in Flowlu's value forms.
//!
//! Both sides are reduced to one [`Canonical`] form and compared; the index keeps a 64-bit
//! hash of that form ([`fingerprint`]) instead of the value.
//!
//! | values | canonical form |
//! |---|---|
//! | `null`, `""`, blanks, `0000-00-00`, `0000-00-00 00:00:00` | not set |
//! | `true` / `false` | `1` / `0` |
//! | a number, or a string of a plain decimal (`12.50`, `-3`) | the decimal without trailing fractional zeros (`12.5`, `-3`) |
//! | other text | the text, trimmed |
//! | a list or an object | not comparable (the record is always sent) |
//!
//! Leading zeros stay significant (`"007"` is not `7`: a phone number is text) and an
//! exponent form (`1e5`) is text. Only fields that are actually sent are compared
//! ([`sent_fields`]): a field the encoder leaves out of the body is not a difference.

use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use crate::sink::encode::encode_record;

/// A value as compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Canonical {
    /// No value (null, blank text, a zero date).
    NotSet,
    /// A number, a boolean as `1`/`0`, or trimmed text.
    Text(String),
}

/// The canonical form of a scalar; `None` for a list or an object.
pub fn canonical(value: &Value) -> Option<Canonical> {
    match value {
        Value::Null => Some(Canonical::NotSet),
        Value::Bool(b) => Some(Canonical::Text(if *b { "1" } else { "0" }.into())),
        Value::Number(n) => Some(text(&n.to_string())),
        Value::String(s) => Some(text(s)),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn text(raw: &str) -> Canonical {
    let t = raw.trim();
    if t.is_empty() || t == "0000-00-00" || t == "0000-00-00 00:00:00" {
        return Canonical::NotSet;
    }
    Canonical::Text(decimal(t).unwrap_or_else(|| t.to_string()))
}

/// A plain decimal (`-12.50`) without trailing fractional zeros (`-12.5`); `None` for anything
/// else (leading `+`, exponents, several dots, no digits).
fn decimal(t: &str) -> Option<String> {
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", t),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !plain(int) || !plain(frac) || (digits.contains('.') && frac.is_empty()) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    let sign = if int.bytes().all(|b| b == b'0') && frac.is_empty() {
        ""
    } else {
        sign
    };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// Whether `sent` and `current` are the same value for Flowlu; a list or an object never is.
pub fn same(sent: &Value, current: &Value) -> bool {
    match (canonical(sent), canonical(current)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A 64-bit hash of the canonical form of `value` (`None` for a list or an object).
///
/// Deterministic across runs (SipHash with fixed keys).
pub fn fingerprint(value: &Value) -> Option<u64> {
    canonical(value).map(|c| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        c.hash(&mut hasher);
        hasher.finish()
    })
}

/// The fields of a checked body (`id` and read-only fields already removed) that the encoder
/// actually sends, or `None` when one of them is a list or an object (not comparable).
pub fn sent_fields(body: &Map<String, Value>) -> Option<Vec<(&str, &Value)>> {
    let mut out = Vec::with_capacity(body.len());
    for (name, value) in body {
        if name == "id" {
            continue;
        }
        let mut single = Map::new();
        single.insert(name.clone(), value.clone());
        match encode_record(&single) {
            Ok(pairs) if pairs.is_empty() => continue,
            Ok(_) => {}
            Err(_) => return None,
        }
        canonical(value)?;
        out.push((name.as_str(), value));
    }
    Some(out)
}

/// Whether `current` (a portal record) already holds every field of `body` that is sent.
/// A field the portal record lacks is a difference.
pub fn record_unchanged(body: &Map<String, Value>, current: &Map<String, Value>) -> bool {
    match sent_fields(body) {
        Some(fields) => fields
            .iter()
            .all(|(name, value)| current.get(*name).is_some_and(|c| same(value, c))),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_forms_compare_as_flowlu_means_them() {
        // (sent, current, same?)
        let cases = [
            (json!("12.50"), json!(12.5), true),
            (json!(12.5), json!("12.50"), true),
            (json!("12.5"), json!("12.50"), true),
            (json!(12), json!("12.0"), true),
            (json!("-0.0"), json!(0), true),
            (json!(12.5), json!(12.51), false),
            (json!(true), json!(1), true),
            (json!(false), json!(0), true),
            (json!(true), json!("1"), true),
            (json!(false), json!(1), false),
            (json!(""), json!(null), true),
            (json!(null), json!("0000-00-00"), true),
            (json!(""), json!("0000-00-00 00:00:00"), true),
            (json!("  "), json!(""), true),
            (json!("2024-01-05"), json!("0000-00-00"), false),
            (json!("2024-01-05"), json!("2024-01-05"), true),
            (json!(" Acme "), json!("Acme"), true),
            (json!("acme"), json!("Acme"), false),
            (json!("007"), json!(7), false),
            (json!("1e5"), json!(100000), false),
            (json!("+5"), json!(5), false),
            (json!("5."), json!(5), false),
            (json!(0), json!(null), false),
            (json!(["a"]), json!(["a"]), false),
            (json!({"a": 1}), json!({"a": 1}), false),
        ];
        for (sent, current, expected) in cases {
            assert_eq!(same(&sent, &current), expected, "{sent} vs {current}");
            if expected {
                assert_eq!(fingerprint(&sent), fingerprint(&current), "{sent} vs {current}");
            }
        }
    }

    #[test]
    fn only_sent_fields_are_compared() {
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        let current = obj(json!({"id": 3, "name": "Acme", "email": "a@x.io", "budget": "10.00"}));
        assert!(record_unchanged(
            &obj(json!({"name": "Acme ", "budget": 10})),
            &current
        ));
        assert!(!record_unchanged(
            &obj(json!({"name": "Acme", "phone": "1"})),
            &current
        ));
        assert!(!record_unchanged(
            &obj(json!({"name": "Acme", "tags": ["x"]})),
            &current
        ));
        assert!(record_unchanged(
            &obj(json!({"name": "Acme", "tags": []})),
            &current
        ));
    }
}
