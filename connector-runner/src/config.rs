//! The config file: read (with the loader of every input file), validated as the connector's
//! credential, the base-URL override applied, and the values of the spec's secret fields taken
//! for scrubbing.

use std::path::Path;

use connector_core::{Credential, Failure};
use serde_json::Value;

use crate::connector::Connector;
use crate::env::Env;
use crate::inputs::{config_error, load_json, JsonErrorDetail};

/// A config file read and validated: the credential, and the values of its secret fields
/// (removed from every line of output).
pub struct Loaded<T> {
    /// The credential, with the environment's overrides applied.
    pub credential: T,
    /// The values the config holds at the spec's secret fields.
    pub secrets: Vec<String>,
}

/// Reads and validates the config file of connector `C`, naming the field and the fix on
/// failure; applies the base URL override of `env`.
pub fn load_config<C: Connector>(path: &Path, env: &Env) -> Result<Loaded<C::Credential>, Failure> {
    let shape = format!("an object such as {}", C::CONFIG_EXAMPLE);
    let value = load_json(path, "config", &shape, JsonErrorDetail::Category)?;
    let mut credential = C::Credential::from_config(&value).map_err(|e| {
        let message = match &e {
            connector_core::Error::Config { path, message } if path == "." => {
                format!(
                    "The config is incomplete: {message}. Required fields: {}.",
                    required_fields::<C::Credential>().join(", ")
                )
            }
            connector_core::Error::Config { path, message } => {
                format!("The config field `{path}` is wrong: {message}.")
            }
            other => other.to_string(),
        };
        config_error(message.clone(), message)
    })?;
    if let Some(url) = &env.base_url {
        credential = C::with_base_url(credential, url)?;
    }
    let mut secrets = connector_core::credential::secret_values::<C::Credential>(&value);
    // A credential may trim what was pasted: its trimmed form is scrubbed too.
    let trimmed: Vec<String> = secrets
        .iter()
        .map(|s| s.trim())
        .filter(|t| !t.is_empty() && !secrets.iter().any(|s| s == t))
        .map(str::to_string)
        .collect();
    secrets.extend(trimmed);
    Ok(Loaded { credential, secrets })
}

/// The required top-level fields of `T`'s form, in order.
fn required_fields<T: Credential + schemars::JsonSchema>() -> Vec<String> {
    let Ok(form) = T::form() else {
        return Vec::new();
    };
    form.schema
        .get("required")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
