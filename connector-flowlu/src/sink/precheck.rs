//! Checks a record against what its stream's JSON Schema knows, before any request.
//!
//! * Unknown fields are refused when the schema lists `properties` (custom fields `cf_<id>`
//!   are always allowed: they vary per portal), unless the schema says
//!   `additionalProperties: true`.
//! * Fields marked `readOnly` (timestamps a source read) are left out of the body.
//! * On a create, every field of `required` (but `id`) must carry a value.
//! * Each value must fit a type the schema allows, loosely as Flowlu itself reads them: `"12"`
//!   fits an integer, `true` fits an integer (sent as 1), `null` always fits (it clears).
//! * Field names are plain and never `api_key` ([`crate::base::encode::check_name`]).
//! * A custom field column the schema maps (`x-flowlu-field`, as `discover` names them by the
//!   field's name) is sent under Flowlu's key (`cf_<id>` or the alias); a select's label
//!   column and the source's `_flowlu_raw_values` are read only (left out).
//! * A date in another form a host may give back (`2024-01-05T10:00:00`, a date-time sent for
//!   a date at midnight) is sent in Flowlu's (`2024-01-05 10:00:00`, `2024-01-05`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::base::encode::check_name;

/// What a stream's JSON Schema says about its records.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SchemaFacts {
    /// The known fields; `None` when the schema lists none (anything goes).
    fields: Option<BTreeMap<String, FieldFacts>>,
    /// Fields a create must carry.
    required: Vec<String>,
    /// `additionalProperties: true`.
    open: bool,
}

/// What the schema says about one field.
#[derive(Debug, Clone, Default, PartialEq)]
struct FieldFacts {
    /// The JSON types allowed; empty means any.
    types: Vec<String>,
    /// `readOnly: true`.
    read_only: bool,
    /// The key Flowlu knows the field by, when the column is named otherwise.
    key: Option<String>,
    /// `format`: `date` or `date-time`.
    format: Option<String>,
}

/// Per-field reasons a record cannot be written.
pub(crate) type FieldProblems = BTreeMap<String, String>;

impl SchemaFacts {
    /// Reads the facts of a stream's JSON Schema; an empty or unreadable schema knows nothing.
    pub(crate) fn from_schema(schema: &Value) -> Self {
        let fields = schema
            .get("properties")
            .and_then(Value::as_object)
            .filter(|p| !p.is_empty())
            .map(|props| {
                props
                    .iter()
                    .map(|(name, prop)| (name.clone(), FieldFacts::from_property(prop)))
                    .collect()
            });
        let required = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        Self {
            fields,
            required,
            open: schema.get("additionalProperties") == Some(&Value::Bool(true)),
        }
    }

    /// Checks `record` and returns the fields to send (without `id` and read-only fields),
    /// or every problem found, by field.
    pub(crate) fn check(
        &self,
        record: &Map<String, Value>,
        creating: bool,
    ) -> Result<Map<String, Value>, FieldProblems> {
        let mut problems = FieldProblems::new();
        let mut body = Map::new();
        for (name, value) in record {
            if name == "id" {
                continue;
            }
            match self.check_field(name, value) {
                Ok(true) => {
                    let facts = self.fields.as_ref().and_then(|f| f.get(name));
                    let key = facts.and_then(|f| f.key.clone()).unwrap_or_else(|| name.clone());
                    let value = match facts.and_then(|f| f.format.as_deref()) {
                        Some(format) => flowlu_date(format, value),
                        None => value.clone(),
                    };
                    body.insert(key, value);
                }
                Ok(false) => {}
                Err(problem) => {
                    problems.insert(name.clone(), problem);
                }
            }
        }
        if creating {
            for name in self.required.iter().filter(|n| n.as_str() != "id") {
                if record.get(name).is_none_or(is_blank) && !problems.contains_key(name) {
                    problems.insert(name.clone(), "is required to create a record".into());
                }
            }
        }
        if problems.is_empty() {
            Ok(body)
        } else {
            Err(problems)
        }
    }

    /// `Ok(true)` to send the field, `Ok(false)` to leave it out, `Err` with the problem.
    fn check_field(&self, name: &str, value: &Value) -> Result<bool, String> {
        check_name(name)?;
        let Some(fields) = &self.fields else {
            return Ok(true);
        };
        match fields.get(name) {
            Some(facts) if facts.read_only => Ok(false),
            Some(facts) => facts.check_type(value).map(|()| true),
            None if self.open || is_custom_field(name) => Ok(true),
            None => Err("unknown field (the stream schema has no such field)".into()),
        }
    }
}

impl FieldFacts {
    fn from_property(prop: &Value) -> Self {
        let types = match prop.get("type") {
            Some(Value::String(t)) => vec![t.clone()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let mapping = crate::base::columns::Mapping::of_property(prop);
        let label = mapping
            .as_ref()
            .is_some_and(|m| m.part == crate::base::columns::Part::Label);
        Self {
            types,
            read_only: prop.get("readOnly") == Some(&Value::Bool(true)) || label,
            key: mapping.map(|m| m.key),
            format: prop
                .get("format")
                .and_then(Value::as_str)
                .filter(|f| matches!(*f, "date" | "date-time"))
                .map(str::to_string),
        }
    }

    fn check_type(&self, value: &Value) -> Result<(), String> {
        if self.types.is_empty() || value.is_null() || self.types.iter().any(|t| fits(value, t)) {
            Ok(())
        } else {
            Err(format!(
                "expected {}, got {}",
                self.types.join(" or "),
                describe(value)
            ))
        }
    }
}

/// A date or date-time as Flowlu writes it (`YYYY-MM-DD`, `YYYY-MM-DD HH:mm:ss`), from the
/// forms a host may give back (`T` between date and time, no seconds); anything else as given.
fn flowlu_date(format: &str, value: &Value) -> Value {
    let Some(text) = value.as_str() else {
        return value.clone();
    };
    let Some(full) = crate::base::dates::naive_seconds(text).map(crate::base::dates::format_naive) else {
        return value.clone();
    };
    let wanted = match format {
        "date" => full.strip_suffix(" 00:00:00").map(str::to_string),
        _ => Some(full),
    };
    wanted.map_or_else(|| value.clone(), Value::String)
}

/// Whether `value` can be sent to a field of JSON type `ty`, as Flowlu reads form values.
fn fits(value: &Value, ty: &str) -> bool {
    match (ty, value) {
        ("null", Value::Null) => true,
        ("string", Value::String(_) | Value::Number(_)) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        ("integer", Value::String(s)) => s.trim().is_empty() || s.trim().parse::<i64>().is_ok(),
        ("number", Value::Number(_)) => true,
        ("number", Value::String(s)) => {
            s.trim().is_empty() || s.trim().parse::<f64>().is_ok_and(f64::is_finite)
        }
        ("integer" | "number" | "boolean", Value::Bool(_)) => true,
        ("boolean", Value::Number(n)) => n.as_u64().is_some_and(|n| n <= 1),
        ("boolean", Value::String(s)) => matches!(s.as_str(), "" | "0" | "1" | "true" | "false"),
        ("array", Value::Array(_)) | ("object", Value::Object(_)) => true,
        _ => false,
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// `cf_<digits>`: a portal's custom field.
pub(crate) fn is_custom_field(name: &str) -> bool {
    name.strip_prefix("cf_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Null, an empty string, or an empty list/object.
pub(crate) fn is_blank(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn facts() -> SchemaFacts {
        SchemaFacts::from_schema(&json!({
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": ["null", "string"]},
                "active": {"type": "boolean"},
                "owner_id": {"type": ["null", "integer"]},
                "budget": {"type": "number"},
                "tags": {"type": "array"},
                "updated_date": {"type": "string", "readOnly": true}
            }
        }))
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn keeps_writable_fields_and_drops_read_only_ones() {
        let record = obj(
            json!({"id": 3, "name": "A", "active": 1, "owner_id": "12", "budget": "1.5",
            "tags": ["x"], "updated_date": "2024-01-01 00:00:00", "cf_7": "v", "description": null}),
        );
        let record_without_unknown = {
            let mut r = record.clone();
            r.remove("description");
            r
        };
        let body = facts().check(&record_without_unknown, true).unwrap();
        let keys: Vec<&str> = body.keys().map(String::as_str).collect();
        assert_eq!(keys, ["name", "active", "owner_id", "budget", "tags", "cf_7"]);
        let problems = facts().check(&record, true).unwrap_err();
        assert_eq!(
            problems,
            [(
                "description".to_string(),
                "unknown field (the stream schema has no such field)".to_string()
            )]
            .into()
        );
    }

    #[test]
    fn reports_every_problem_by_field() {
        let record = obj(
            json!({"name": "", "active": "yes", "owner_id": 1.5, "budget": {"a": 1},
            "api_key": "k", "a[b]": 1}),
        );
        let problems = facts().check(&record, true).unwrap_err();
        let expected: FieldProblems = [
            (
                "a[b]",
                "not a plain field name (only letters, digits and _ are allowed)",
            ),
            ("active", "expected boolean, got a string"),
            ("api_key", "`api_key` cannot be written as a field"),
            ("budget", "expected number, got an object"),
            ("name", "is required to create a record"),
            ("owner_id", "expected null or integer, got a number"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(problems, expected);
        // An update need not carry the required fields.
        assert!(facts()
            .check(&obj(json!({"id": 1, "active": false})), false)
            .is_ok());
    }

    #[test]
    fn an_empty_or_open_schema_allows_unknown_fields() {
        let record = obj(json!({"anything": [1, 2], "x": {"y": 1}}));
        assert!(SchemaFacts::from_schema(&json!({})).check(&record, true).is_ok());
        let open = json!({"properties": {"name": {"type": "string"}}, "additionalProperties": true});
        assert!(SchemaFacts::from_schema(&open).check(&record, true).is_ok());
    }
}
