//! Configured catalogs, one builder for every test and benchmark: a [`Stream`] is
//! `crm_account`-like by default (`json_schema` `{}`, `full_refresh`, destination `append`),
//! changed by its methods; a [`Catalog`] is streams in order, as JSON, a `ConfiguredCatalog`
//! or a file.

use connector_core::ConfiguredCatalog;
use serde_json::{json, Value};

/// One configured stream, as its JSON.
#[derive(Clone, Debug)]
pub struct Stream(Value);

impl Stream {
    /// `name` with an empty schema, `full_refresh`, destination `append`.
    pub fn new(name: &str) -> Self {
        Self(json!({
            "stream": {"name": name, "json_schema": {}},
            "sync_mode": "full_refresh",
            "destination_sync_mode": "append",
        }))
    }

    /// The sync mode (`full_refresh`, `incremental`).
    pub fn sync(mut self, mode: &str) -> Self {
        self.0["sync_mode"] = json!(mode);
        self
    }

    /// The destination sync mode (`append`, `append_dedup`, `overwrite`, ...).
    pub fn destination(mut self, mode: &str) -> Self {
        self.0["destination_sync_mode"] = json!(mode);
        self
    }

    /// No destination sync mode at all (a source's catalog as some hosts send it).
    pub fn without_destination(mut self) -> Self {
        if let Some(map) = self.0.as_object_mut() {
            map.remove("destination_sync_mode");
        }
        self
    }

    /// The primary key: the one field `field`.
    pub fn key(mut self, field: &str) -> Self {
        self.0["primary_key"] = json!([[field]]);
        self
    }

    /// The stream's JSON schema.
    pub fn schema(mut self, schema: Value) -> Self {
        self.0["stream"]["json_schema"] = schema;
        self
    }

    /// The stream's `supported_sync_modes`.
    pub fn supported(mut self, modes: &[&str]) -> Self {
        self.0["stream"]["supported_sync_modes"] = json!(modes);
        self
    }

    /// A catalog of this one stream, as a `ConfiguredCatalog`.
    pub fn configured(self) -> ConfiguredCatalog {
        Catalog::of([self]).configured()
    }

    /// A catalog of this one stream, as JSON.
    pub fn json(self) -> Value {
        Catalog::of([self]).json()
    }
}

/// Configured streams in order.
#[derive(Clone, Debug)]
pub struct Catalog(Vec<Stream>);

impl Catalog {
    /// A catalog of `streams`.
    pub fn of(streams: impl IntoIterator<Item = Stream>) -> Self {
        Self(streams.into_iter().collect())
    }

    /// A catalog of `(name, sync mode)` pairs, each otherwise [`Stream::new`].
    pub fn syncs(streams: &[(&str, &str)]) -> Self {
        Self::of(streams.iter().map(|(name, mode)| Stream::new(name).sync(mode)))
    }

    /// Every stream without a destination sync mode ([`Stream::without_destination`]).
    pub fn without_destination(self) -> Self {
        Self(self.0.into_iter().map(Stream::without_destination).collect())
    }

    /// As the JSON a catalog file holds.
    pub fn json(&self) -> Value {
        json!({"streams": self.0.iter().map(|s| s.0.clone()).collect::<Vec<_>>()})
    }

    /// As a `ConfiguredCatalog`.
    pub fn configured(&self) -> ConfiguredCatalog {
        serde_json::from_value(self.json()).expect("a configured catalog")
    }

    /// Written to a temporary file (kept while the handle lives).
    pub fn file(&self) -> tempfile::NamedTempFile {
        crate::temp_json(&self.json())
    }
}
