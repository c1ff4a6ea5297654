//! Streams and catalogs, in the shapes of the Airbyte protocol.

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationSyncMode {
    /// Add records.
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
    #[serde(default)]
    pub supported_sync_modes: Vec<SyncMode>,
    /// Whether the source decides the cursor.
    #[serde(default)]
    pub source_defined_cursor: bool,
    /// The cursor field path, if the stream has one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_cursor_field: Vec<String>,
    /// The primary key: a list of field paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
    #[serde(default = "default_destination_sync_mode")]
    pub destination_sync_mode: DestinationSyncMode,
    /// The user's cursor, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cursor_field: Vec<String>,
    /// The user's primary key, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<Vec<String>>,
}

fn default_destination_sync_mode() -> DestinationSyncMode {
    DestinationSyncMode::Append
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
