//! Streams and catalogs, in the shapes of the Airbyte protocol.
//!
//! Every optional field accepts an explicit `null` as "not set" (airbyte-cdk serialises every
//! unset optional field as `null`); unknown fields (`generation_id`, `sync_id`,
//! `is_resumable`, ...) are ignored.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// Reads an optional field whose `null` means "not set": the type's default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// How a stream can be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMode {
    /// Everything, every time.
    FullRefresh,
    /// Only what changed since the last checkpoint.
    Incremental,
}

/// How a destination applies records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationSyncMode {
    /// Add records (the default when a catalog does not say).
    #[default]
    Append,
    /// Replace what is there.
    Overwrite,
    /// Add or update by primary key.
    AppendDedup,
}

/// A stream a source offers (Airbyte `AirbyteStream`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    /// The stream name, unique in a catalog.
    pub name: String,
    /// The JSON Schema of a record.
    pub json_schema: Value,
    /// The sync modes the stream supports.
    #[serde(default, deserialize_with = "null_as_default")]
    pub supported_sync_modes: Vec<SyncMode>,
    /// Whether the source decides the cursor.
    #[serde(default, deserialize_with = "null_as_default")]
    pub source_defined_cursor: bool,
    /// The cursor field path, if the stream has one.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub default_cursor_field: Vec<String>,
    /// The primary key: a list of field paths.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub source_defined_primary_key: Vec<Vec<String>>,
    /// Optional namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// What a source offers (Airbyte `AirbyteCatalog`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Catalog {
    /// The streams.
    pub streams: Vec<Stream>,
}

/// A stream as the user configured it (Airbyte `ConfiguredAirbyteStream`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfiguredStream {
    /// The stream.
    pub stream: Stream,
    /// How to read it.
    pub sync_mode: SyncMode,
    /// How to write it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub destination_sync_mode: DestinationSyncMode,
    /// The user's cursor, if any.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub cursor_field: Vec<String>,
    /// The user's primary key, if any.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub primary_key: Vec<Vec<String>>,
}

/// What the user chose to sync (Airbyte `ConfiguredAirbyteCatalog`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ConfiguredCatalog {
    /// The streams, in the order given.
    pub streams: Vec<ConfiguredStream>,
}

impl ConfiguredCatalog {
    /// The configured stream of that name.
    pub fn get(&self, name: &str) -> Option<&ConfiguredStream> {
        self.streams.iter().find(|s| s.stream.name == name)
    }

    /// Configures every stream of `catalog` with its best sync mode (incremental when
    /// supported) and `append` writes.
    pub fn from_catalog(catalog: &Catalog) -> Self {
        let streams = catalog
            .streams
            .iter()
            .map(|s| ConfiguredStream {
                sync_mode: if s.supported_sync_modes.contains(&SyncMode::Incremental) {
                    SyncMode::Incremental
                } else {
                    SyncMode::FullRefresh
                },
                destination_sync_mode: DestinationSyncMode::Append,
                cursor_field: s.default_cursor_field.clone(),
                primary_key: s.source_defined_primary_key.clone(),
                stream: s.clone(),
            })
            .collect();
        Self { streams }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A ConfiguredAirbyteCatalog as airbyte-cdk serialises one: every optional field present,
    /// `null` when unset, and fields this crate does not model.
    fn cdk_catalog() -> Value {
        json!({"streams": [{
            "stream": {
                "name": "crm_account",
                "json_schema": {"type": "object"},
                "supported_sync_modes": ["full_refresh", "incremental"],
                "source_defined_cursor": null,
                "default_cursor_field": null,
                "source_defined_primary_key": null,
                "namespace": null,
                "is_resumable": null,
                "is_file_based": null
            },
            "sync_mode": "incremental",
            "cursor_field": null,
            "destination_sync_mode": null,
            "primary_key": null,
            "generation_id": null,
            "minimum_generation_id": null,
            "sync_id": null,
            "include_files": null
        }]})
    }

    #[test]
    fn explicit_nulls_mean_not_set() {
        let catalog: ConfiguredCatalog = serde_json::from_value(cdk_catalog()).unwrap();
        let expected = ConfiguredCatalog {
            streams: vec![ConfiguredStream {
                stream: Stream {
                    name: "crm_account".into(),
                    json_schema: json!({"type": "object"}),
                    supported_sync_modes: vec![SyncMode::FullRefresh, SyncMode::Incremental],
                    source_defined_cursor: false,
                    default_cursor_field: Vec::new(),
                    source_defined_primary_key: Vec::new(),
                    namespace: None,
                },
                sync_mode: SyncMode::Incremental,
                destination_sync_mode: DestinationSyncMode::Append,
                cursor_field: Vec::new(),
                primary_key: Vec::new(),
            }],
        };
        assert_eq!(catalog, expected);
    }

    #[test]
    fn set_fields_are_still_read_and_wrong_types_still_refused() {
        let mut value = cdk_catalog();
        value["streams"][0]["cursor_field"] = json!(["updated_date"]);
        value["streams"][0]["primary_key"] = json!([["id"]]);
        value["streams"][0]["destination_sync_mode"] = json!("append_dedup");
        let catalog: ConfiguredCatalog = serde_json::from_value(value.clone()).unwrap();
        let stream = &catalog.streams[0];
        assert_eq!(stream.cursor_field, vec!["updated_date".to_string()]);
        assert_eq!(stream.primary_key, vec![vec!["id".to_string()]]);
        assert_eq!(stream.destination_sync_mode, DestinationSyncMode::AppendDedup);
        value["streams"][0]["cursor_field"] = json!("updated_date");
        let err = serde_json::from_value::<ConfiguredCatalog>(value).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid type: string \"updated_date\", expected a sequence"
        );
    }
}
