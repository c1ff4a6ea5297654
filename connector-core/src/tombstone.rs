//! [`Tombstone`]: a record deleted at the service, as a source passes it on.
//!
//! One small type for every way a delete is learned (a reconciliation that finds an id a
//! complete list no longer returns, a webhook saying `delete`): a host applies it its own way,
//! and `connector-runner` turns it into the Airbyte form ([`Tombstone::to_record_data`]).

use serde_json::{Map, Value};

/// The column Airbyte destinations read a delete from (Incremental + Append Deduped): a record
/// whose `_ab_cdc_deleted_at` is set deletes the row of its primary key.
pub const DELETED_AT: &str = "_ab_cdc_deleted_at";

/// A record deleted at the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Tombstone {
    /// The stream.
    pub stream: String,
    /// The primary key's value (the record's `id`), as the service sent it.
    pub id: Value,
    /// The primary key's column (`id`).
    pub id_field: String,
    /// When the delete was learned: RFC 3339, UTC (`2026-12-05T21:00:00Z`).
    pub deleted_at: String,
    /// The stream's cursor column and the value the tombstone carries in it: never older than
    /// any cursor the stream passed on for that record (so a destination ordering a key's rows
    /// by cursor keeps the tombstone), or `None` for a stream without a cursor.
    pub cursor: Option<(String, Value)>,
}

impl Tombstone {
    /// The record a destination receives: the primary key, [`DELETED_AT`] and the cursor;
    /// every other column absent (null).
    pub fn to_record_data(&self) -> Value {
        let mut data = Map::new();
        data.insert(self.id_field.clone(), self.id.clone());
        if let Some((column, value)) = &self.cursor {
            data.insert(column.clone(), value.clone());
        }
        data.insert(DELETED_AT.into(), Value::String(self.deleted_at.clone()));
        Value::Object(data)
    }

    /// A tombstone read back from a record (what a sink receives): the record's `id_field` and
    /// [`DELETED_AT`] when that is set (not null, not empty); `None` for a normal record.
    pub fn from_record(stream: &str, id_field: &str, data: &Value) -> Option<Self> {
        let deleted_at = match data.get(DELETED_AT)? {
            Value::Null => return None,
            Value::String(text) if text.trim().is_empty() => return None,
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        Some(Self {
            stream: stream.to_string(),
            id: data.get(id_field).cloned().unwrap_or(Value::Null),
            id_field: id_field.to_string(),
            deleted_at,
            cursor: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tombstone_is_the_key_the_cursor_and_the_deletion_time() {
        let tombstone = Tombstone {
            stream: "crm_lead".into(),
            id: json!(7),
            id_field: "id".into(),
            deleted_at: "2026-12-05T21:00:00Z".into(),
            cursor: Some(("updated_date".into(), json!("2026-12-05 20:59:59"))),
        };
        assert_eq!(
            tombstone.to_record_data(),
            json!({"id": 7, "updated_date": "2026-12-05 20:59:59", "_ab_cdc_deleted_at": "2026-12-05T21:00:00Z"})
        );
        let back = Tombstone::from_record("crm_lead", "id", &tombstone.to_record_data());
        assert_eq!(
            back.map(|t| (t.id, t.deleted_at)),
            Some((json!(7), "2026-12-05T21:00:00Z".to_string()))
        );
    }

    #[test]
    fn a_normal_record_is_no_tombstone() {
        for data in [
            json!({"id": 1}),
            json!({"id": 1, "_ab_cdc_deleted_at": null}),
            json!({"id": 1, "_ab_cdc_deleted_at": " "}),
        ] {
            assert_eq!(Tombstone::from_record("s", "id", &data), None, "{data}");
        }
    }
}
