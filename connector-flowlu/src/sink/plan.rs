//! The write plan: per stream, the mode, the match field and the schema facts, from the
//! catalog and the settings' write rules; the input numbered for the plan.

use std::collections::HashMap;

use connector_core::{ConfiguredCatalog, ConfiguredStream, DestinationSyncMode};
use serde_json::Value;

use crate::base::encode::check_name;
use crate::base::error::Error;
use crate::base::settings::{Settings, WriteMode};
use crate::base::{stream_schema, streams};
use crate::sink::compare::{FieldKinds, ValueKind};
use crate::sink::precheck::SchemaFacts;

/// How one stream is written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StreamPlan {
    /// The stream name.
    pub stream: String,
    /// The Flowlu module.
    pub module: &'static str,
    /// The Flowlu model.
    pub model: &'static str,
    /// The write mode.
    pub mode: WriteMode,
    /// The field identifying a record besides `id`, if any.
    pub match_field: Option<String>,
    /// The model's updated-time column (`updated_date`, `updated`), if it has one: what the
    /// index's staleness read filters on to see records others edited.
    pub cursor: Option<&'static str>,
    /// What the stream schema says about records.
    pub schema: SchemaFacts,
    /// How each field's values are compared (`unchanged`): by the type the catalog's stream
    /// schema declares, else the model's standard field type, else as text.
    pub kinds: FieldKinds,
}

/// How every stream of a catalog is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct WritePlan {
    streams: HashMap<String, StreamPlan>,
}

impl WritePlan {
    /// Decides the mode of every stream of `catalog`: the stream's write rule in `settings`
    /// wins, else the catalog's destination sync mode. Fails (a config error) on a stream that
    /// is not a Flowlu model, on `overwrite`, on a composite primary key and on a bad match
    /// field.
    pub(crate) fn from_catalog(catalog: &ConfiguredCatalog, settings: &Settings) -> Result<Self, Error> {
        let streams = catalog
            .streams
            .iter()
            .map(|configured| {
                let plan = stream_plan(configured, settings)?;
                Ok((plan.stream.clone(), plan))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self { streams })
    }

    /// The plan of `stream`.
    pub(crate) fn get(&self, stream: &str) -> Option<&StreamPlan> {
        self.streams.get(stream)
    }
}

fn plan_error(stream: &str, message: String) -> Error {
    Error::config(format!("catalog stream {stream}"), message)
}

fn stream_plan(configured: &ConfiguredStream, settings: &Settings) -> Result<StreamPlan, Error> {
    let name = configured.stream.name.as_str();
    let model = streams::model(name).ok_or_else(|| {
        plan_error(
            name,
            "not a Flowlu stream; use a stream name such as crm_account (see discover)".into(),
        )
    })?;
    let (mode, match_field) = match settings.write_rule(name) {
        Some(rule) => (rule.mode, rule.match_field.clone()),
        None => catalog_mode(configured)?,
    };
    let match_field = match_field.filter(|f| f != "id");
    if let Some(field) = &match_field {
        check_name(field).map_err(|why| plan_error(name, format!("match field `{field}`: {why}")))?;
        if matches!(mode, WriteMode::Update | WriteMode::Delete) {
            return Err(plan_error(
                name,
                format!("a match field (`{field}`) applies to create and upsert only; update and delete use the record's id"),
            ));
        }
    }
    Ok(StreamPlan {
        stream: name.to_string(),
        module: model.module,
        model: model.model,
        mode,
        match_field,
        cursor: model.cursor.map(|(column, _)| column),
        schema: SchemaFacts::from_schema(&configured.stream.json_schema),
        kinds: field_kinds(name, &configured.stream.json_schema),
    })
}

/// The comparison kind of each field of `stream`: the type `schema` declares for it, else the
/// type of the model's standard field (the connector's own stream schema).
fn field_kinds(stream: &str, schema: &Value) -> FieldKinds {
    let mut kinds: HashMap<String, ValueKind> = stream_schema::standard_fields(stream)
        .map(|(name, code)| {
            let kind = match code {
                "i" | "n" | "b" | "u" | "is" | "ns" => ValueKind::Number,
                _ => ValueKind::Text,
            };
            (name.to_string(), kind)
        })
        .collect();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if let Some(kind) = property.get("type").and_then(ValueKind::of_schema_type) {
                kinds.insert(name.clone(), kind);
            }
        }
    }
    FieldKinds::new(kinds)
}

fn catalog_mode(configured: &ConfiguredStream) -> Result<(WriteMode, Option<String>), Error> {
    let name = &configured.stream.name;
    match configured.destination_sync_mode {
        DestinationSyncMode::Append => Ok((WriteMode::Create, None)),
        DestinationSyncMode::AppendDedup => {
            let key = if configured.primary_key.is_empty() {
                &configured.stream.source_defined_primary_key
            } else {
                &configured.primary_key
            };
            match key.as_slice() {
                [] => Ok((WriteMode::Upsert, None)),
                [path] if path.len() == 1 => Ok((WriteMode::Upsert, Some(path[0].clone()))),
                _ => Err(plan_error(
                    name,
                    "append_dedup needs a primary key of one top-level field (such as id or email); set a write rule with a match field instead".into(),
                )),
            }
        }
        DestinationSyncMode::Overwrite => Err(plan_error(
            name,
            "overwrite is not supported: the destination never deletes records it was not given; use append or append_dedup, or a write rule".into(),
        )),
    }
}

/// An input item numbered (core's one numbering of a write's input).
pub(crate) use connector_core::order::Numbered as Tagged;
