//! The generated JSON files under `schemas/flowlu/`: the credential form, its uiSchemas and
//! the Airbyte connector specification.
//!
//! They are committed; `UPDATE_SCHEMAS=1 cargo test -p integration-tests schemas` rewrites them
//! and the same test fails when code and files drift.

use connector_core::{Credential, FormDescriptor};
use serde_json::Value;

use crate::credential::FlowluCredential;

/// The credential form (schema and uiSchemas).
pub fn credential_form() -> Result<FormDescriptor, connector_core::Error> {
    FlowluCredential::form()
}

/// The Airbyte `ConnectorSpecification` (built by the runner from what [`crate::cli::Flowlu`]
/// says).
pub(crate) fn spec() -> Result<Value, connector_core::Error> {
    connector_runner::spec::<crate::cli::Flowlu>()
}

/// Every generated file: its path under the workspace root and its content.
pub fn generated_files() -> Result<Vec<(String, String)>, connector_core::Error> {
    let form = credential_form()?;
    let pretty = |v: &Value| format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default());
    Ok([
        (
            "schemas/flowlu/credential.schema.json".into(),
            pretty(&form.schema),
        ),
        (
            "schemas/flowlu/credential.uischema.json".into(),
            pretty(&form.ui_schema),
        ),
        (
            "schemas/flowlu/credential.jsonforms.uischema.json".into(),
            pretty(&form.json_forms_ui_schema),
        ),
        (
            "schemas/flowlu/credential.errors.json".into(),
            pretty(&form.error_messages),
        ),
        ("schemas/flowlu/spec.json".into(), pretty(&spec()?)),
    ]
    .into_iter()
    .chain(stream_schemas().map(|(path, schema)| (path, pretty(&schema))))
    .collect())
}

/// The committed schema of every stream (without an account's custom fields):
/// `schemas/flowlu/streams/{stream}.json`.
pub(crate) fn stream_schemas() -> impl Iterator<Item = (String, Value)> {
    crate::base::streams::MODELS.iter().map(|model| {
        (
            format!("schemas/flowlu/streams/{}.json", model.stream),
            crate::base::stream_schema::base_schema(model),
        )
    })
}
