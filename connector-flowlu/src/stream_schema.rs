//! The JSON Schema of each stream: honest about Flowlu's loose types.
//!
//! Only what every record of a model is known to carry is described (`id`, the cursor and
//! creation columns); every other column is allowed (`additionalProperties: true`), because
//! list payloads differ between portals and between list and get. Ids may come as numbers or
//! strings, timestamps are naive portal-local text (or empty), `last_active` is Unix seconds
//! as a number or a string. `discover` adds the account's custom fields (`cf_<id>`).

use serde_json::{json, Map, Value};

use crate::streams::{CursorKind, Model};

/// One custom field of a model, from `customfields/fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomField {
    /// The column name, `cf_<id>`.
    pub column: String,
    /// The field's name in Flowlu.
    pub title: String,
    /// Flowlu's field type (`text`, `number`, `date`, `select`, `checkbox`, ...).
    pub kind: String,
}

impl CustomField {
    /// Reads a `customfields/fields` record: `(module, model, field)`; `None` when the record
    /// does not say which model it belongs to.
    pub fn from_record(record: &Value) -> Option<(String, String, Self)> {
        let text = |k: &str| match record.get(k)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let field = Self {
            column: format!("cf_{}", text("id")?),
            title: text("name").unwrap_or_default(),
            kind: text("type").unwrap_or_default(),
        };
        Some((text("module")?, text("model")?, field))
    }

    fn schema(&self) -> Value {
        let types: &[&str] = match self.kind.as_str() {
            "number" => &["number", "string", "null"],
            "checkbox" => &["integer", "boolean", "string", "null"],
            _ => &["string", "number", "null"],
        };
        let mut schema =
            json!({ "type": types, "description": format!("Custom field ({}): {}", self.kind, self.title) });
        if self.title.is_empty() {
            schema["description"] = json!(format!("Custom field ({})", self.kind));
        }
        schema
    }
}

/// The schema of a model's records, without custom fields.
pub fn base_schema(model: &Model) -> Value {
    let mut properties = Map::new();
    properties.insert(
        "id".into(),
        json!({"type": ["integer", "string"], "description": "Record id (a number, sometimes sent as a string)"}),
    );
    if let Some((column, kind)) = model.cursor {
        properties.insert(column.into(), cursor_schema(kind, "Last change"));
        if let Some(created) = created_column(kind, column) {
            properties.insert(created.into(), cursor_schema(CursorKind::Timestamp, "Creation"));
        }
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "title": model.stream,
        "description": format!("Records of Flowlu's {}/{} model, exactly as Flowlu sends them", model.module, model.model),
        "additionalProperties": true,
        "properties": properties,
    })
}

/// The schema of a model's records with the account's custom fields.
pub fn schema_with(model: &Model, custom: &[CustomField]) -> Value {
    let mut schema = base_schema(model);
    if let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        for field in custom {
            properties.insert(field.column.clone(), field.schema());
        }
    }
    schema
}

fn created_column(kind: CursorKind, cursor: &str) -> Option<&'static str> {
    match (kind, cursor) {
        (CursorKind::Timestamp, "updated") => Some("created"),
        _ => Some("created_date"),
    }
}

fn cursor_schema(kind: CursorKind, what: &str) -> Value {
    match kind {
        CursorKind::Timestamp => json!({
            "type": ["string", "null"],
            "description": format!("{what}: YYYY-MM-DD HH:mm:ss in the portal's time zone (no offset); empty when unknown"),
        }),
        CursorKind::UnixSeconds => json!({
            "type": ["integer", "string", "null"],
            "description": format!("{what}: Unix seconds (a number, sometimes sent as a string)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn custom_fields_join_the_schema_of_their_model() {
        let record =
            json!({"id": 7, "name": "Budget", "type": "number", "module": "crm", "model": "account"});
        let (module, model, field) = CustomField::from_record(&record).unwrap();
        assert_eq!(
            (module.as_str(), model.as_str(), field.column.as_str()),
            ("crm", "account", "cf_7")
        );
        let m = crate::streams::model("crm_account").unwrap();
        let schema = schema_with(m, &[field]);
        assert_eq!(
            schema["properties"]["cf_7"]["type"],
            json!(["number", "string", "null"])
        );
        assert_eq!(schema["additionalProperties"], json!(true));
        assert!(CustomField::from_record(&json!({"id": 1})).is_none());
    }
}
