//! Whether a value sent already equals the portal's value, by the field's declared type.
//!
//! Both sides are reduced to one [`Canonical`] form, keyed by the stream schema's type of the
//! field ([`ValueKind`]), and compared; the index keeps a 64-bit hash of that form
//! ([`fingerprint`]) instead of the value.
//!
//! | values | canonical form |
//! |---|---|
//! | `null`, `""`, `0000-00-00`, `0000-00-00 00:00:00` (any type) | not set |
//! | a field declared `number` or `integer`: a number, a string of a plain decimal (`12.50`, `-3`, `007`), `true` / `false` | the decimal without leading or trailing zeros (`12.5`, `-3`, `7`, `1` / `0`; `-0` is `0`) |
//! | a field declared `number` or `integer` holding other text (`1e5`, `+5`) | that text, exactly |
//! | any other field (text, a custom field, a field the schema does not declare) | the exact text sent: case, spacing and digits as they are (`"1.1"` is not `"1.10"`, `"-0"` not `"0"`, `" Acme"` not `"Acme"`); `true` / `false` as `1` / `0`, a number as its JSON text |
//! | a list or an object | not comparable (the record is always sent) |
//!
//! Only fields that are actually sent are compared ([`sent_fields`]): a field the encoder
//! leaves out of the body is not a difference. A type added later (a typed date, say) is one
//! more [`ValueKind`] and one more arm of [`canonical`].

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

use crate::base::encode::{encode_record, scalar_text};

/// How a field's values are compared: from the type the stream schema declares for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ValueKind {
    /// Declared `number` or `integer` (alone or in a union): compared as decimals.
    Number,
    /// Anything else: compared as exact text.
    #[default]
    Text,
}

impl ValueKind {
    /// The kind of a JSON Schema `type` (a string or a list of them).
    pub fn of_schema_type(ty: &Value) -> Option<Self> {
        let numeric = |t: &str| matches!(t, "number" | "integer");
        match ty {
            Value::String(t) => Some(if numeric(t) { Self::Number } else { Self::Text }),
            Value::Array(ts) => Some(if ts.iter().filter_map(Value::as_str).any(numeric) {
                Self::Number
            } else {
                Self::Text
            }),
            _ => None,
        }
    }
}

/// The declared kind of each field of a stream; a field not declared is compared as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldKinds(HashMap<String, ValueKind>);

impl FieldKinds {
    /// Kinds by field name.
    pub fn new(kinds: HashMap<String, ValueKind>) -> Self {
        Self(kinds)
    }

    /// The kind of `field` (text when the schema does not declare it).
    pub fn get(&self, field: &str) -> ValueKind {
        self.0.get(field).copied().unwrap_or_default()
    }
}

/// A value as compared.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Canonical {
    /// No value (null, empty text, a zero date).
    NotSet,
    /// A decimal of a numeric field.
    Number(String),
    /// Exact text.
    Text(String),
}

/// The canonical form of a scalar of a field of `kind`; `None` for a list or an object.
pub(crate) fn canonical(kind: ValueKind, value: &Value) -> Option<Canonical> {
    let text = scalar_text(value)?;
    if text.is_empty() || matches!(text.trim(), "0000-00-00" | "0000-00-00 00:00:00") {
        return Some(Canonical::NotSet);
    }
    Some(match kind {
        ValueKind::Number => match decimal(text.trim()) {
            Some(d) => Canonical::Number(d),
            None => Canonical::Text(text),
        },
        ValueKind::Text => Canonical::Text(text),
    })
}

/// A plain decimal (`-012.50`) without leading or trailing zeros (`-12.5`); `None` for
/// anything else (leading `+`, exponents, several dots, no digits).
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
    let int = match int.trim_start_matches('0') {
        "" => "0",
        rest => rest,
    };
    let sign = if int == "0" && frac.is_empty() { "" } else { sign };
    Some(if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    })
}

/// Whether `sent` and `current` are the same value of a field of `kind`; a list or an object
/// never is.
pub(crate) fn same(kind: ValueKind, sent: &Value, current: &Value) -> bool {
    match (canonical(kind, sent), canonical(kind, current)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// A 64-bit hash of the canonical form of `value` (`None` for a list or an object).
///
/// Deterministic across runs (SipHash with fixed keys).
pub(crate) fn fingerprint(kind: ValueKind, value: &Value) -> Option<u64> {
    canonical(kind, value).map(|c| {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        c.hash(&mut hasher);
        hasher.finish()
    })
}

/// The fields of a checked body (`id` and read-only fields already removed) that the encoder
/// actually sends, or `None` when one of them is a list or an object (not comparable).
pub(crate) fn sent_fields(body: &Map<String, Value>) -> Option<Vec<(&str, &Value)>> {
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
        scalar_text(value)?;
        out.push((name.as_str(), value));
    }
    Some(out)
}

/// Whether `current` (a portal record) already holds every field of `body` that is sent,
/// each compared by its kind in `kinds`. A field the portal record lacks is a difference.
pub(crate) fn record_unchanged(
    body: &Map<String, Value>,
    current: &Map<String, Value>,
    kinds: &FieldKinds,
) -> bool {
    match sent_fields(body) {
        Some(fields) => fields.iter().all(|(name, value)| {
            current
                .get(*name)
                .is_some_and(|c| same(kinds.get(name), value, c))
        }),
        None => false,
    }
}

/// Every value form of Flowlu's API notes, as (kind, sent, portal, same?): the table the
/// comparison's tests and the index's tests both run.
#[cfg(test)]
pub(crate) fn value_forms() -> Vec<(ValueKind, Value, Value, bool)> {
    use serde_json::json;
    use ValueKind::{Number, Text};
    vec![
        // Money and other numbers: a number, or a decimal string.
        (Number, json!("12.50"), json!(12.5), true),
        (Number, json!(12.5), json!("12.50"), true),
        (Number, json!("12.5"), json!("12.50"), true),
        (Number, json!(12), json!("12.0"), true),
        (Number, json!("-0.0"), json!(0), true),
        (Number, json!("-0"), json!("0"), true),
        (Number, json!("100.0"), json!(100), true),
        (Number, json!("007"), json!(7), true),
        (Number, json!(12.5), json!(12.51), false),
        (Number, json!("1e5"), json!(100000), false),
        (Number, json!("+5"), json!(5), false),
        (Number, json!("5."), json!(5), false),
        (Number, json!(0), json!(null), false),
        // Ids as numbers or strings.
        (Number, json!("7"), json!(7), true),
        (Number, json!(7), json!("7"), true),
        // Booleans as 0/1.
        (Number, json!(true), json!(1), true),
        (Number, json!(false), json!(0), true),
        (Number, json!(true), json!("1"), true),
        (Number, json!(false), json!(1), false),
        // Not set: null, "", zero dates, in any field.
        (Text, json!(""), json!(null), true),
        (Text, json!(null), json!("0000-00-00"), true),
        (Text, json!(""), json!("0000-00-00 00:00:00"), true),
        (Number, json!(null), json!(""), true),
        // Dates (text until typed dates exist).
        (Text, json!("2024-01-05"), json!("0000-00-00"), false),
        (Text, json!("2024-01-05"), json!("2024-01-05"), true),
        (
            Text,
            json!("2024-01-05 10:00:00"),
            json!("2024-01-05 10:00:00"),
            true,
        ),
        (
            Text,
            json!("2024-01-05 10:00:00"),
            json!("2024-01-05 10:00:01"),
            false,
        ),
        // Text is exact: case, spacing, digits.
        (Text, json!("Acme"), json!("Acme"), true),
        (Text, json!(" Acme "), json!("Acme"), false),
        (Text, json!("acme"), json!("Acme"), false),
        (Text, json!("  "), json!(""), false),
        (Text, json!("1.1"), json!("1.10"), false),
        (Text, json!("-0"), json!("0"), false),
        (Text, json!("100.0"), json!("100"), false),
        (Text, json!("007"), json!(7), false),
        (Text, json!("7"), json!(7), true),
        (Text, json!(100.0), json!("100.0"), true),
        (Text, json!(true), json!("1"), true),
        // Lists and objects never compare.
        (Text, json!(["a"]), json!(["a"]), false),
        (Number, json!({"a": 1}), json!({"a": 1}), false),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use ValueKind::{Number, Text};

    #[test]
    fn values_compare_by_the_declared_type() {
        for (kind, sent, current, expected) in value_forms() {
            assert_eq!(
                same(kind, &sent, &current),
                expected,
                "{kind:?}: {sent} vs {current}"
            );
            let prints = (fingerprint(kind, &sent), fingerprint(kind, &current));
            if expected {
                assert_eq!(prints.0, prints.1, "{kind:?}: {sent} vs {current}");
            } else if prints.0.is_some() && prints.1.is_some() {
                assert_ne!(prints.0, prints.1, "{kind:?}: {sent} vs {current}");
            }
        }
    }

    #[test]
    fn a_schema_type_names_the_kind() {
        let cases = [
            (json!("number"), Some(Number)),
            (json!("integer"), Some(Number)),
            (json!(["integer", "null"]), Some(Number)),
            (json!(["number", "string", "null"]), Some(Number)),
            (json!(["string", "null"]), Some(Text)),
            (json!("boolean"), Some(Text)),
            (json!(null), None),
        ];
        for (ty, kind) in cases {
            assert_eq!(ValueKind::of_schema_type(&ty), kind, "{ty}");
        }
    }

    #[test]
    fn only_sent_fields_are_compared() {
        let obj = |v: Value| v.as_object().cloned().unwrap_or_default();
        let kinds = FieldKinds::new(HashMap::from([("budget".to_string(), Number)]));
        let current = obj(json!({"id": 3, "name": "Acme", "email": "a@x.io", "budget": "10.00"}));
        assert!(record_unchanged(
            &obj(json!({"name": "Acme", "budget": 10})),
            &current,
            &kinds
        ));
        // Undeclared, `budget` is text: "10" is not "10.00".
        assert!(!record_unchanged(
            &obj(json!({"name": "Acme", "budget": 10})),
            &current,
            &FieldKinds::default()
        ));
        assert!(!record_unchanged(
            &obj(json!({"name": "Acme", "phone": "1"})),
            &current,
            &kinds
        ));
        assert!(!record_unchanged(
            &obj(json!({"name": "Acme", "tags": ["x"]})),
            &current,
            &kinds
        ));
        assert!(record_unchanged(
            &obj(json!({"name": "Acme", "tags": []})),
            &current,
            &kinds
        ));
    }
}
