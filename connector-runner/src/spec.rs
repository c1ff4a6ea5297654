//! The Airbyte `ConnectorSpecification` of a connector, built from what its [`Connector`] says.

use connector_core::Credential;
use serde_json::{json, Value};

use crate::connector::Connector;

/// The Airbyte `ConnectorSpecification` of connector `C`: its documentation URL, its
/// credential form as `connectionSpecification`, incremental reads
/// ([`Connector::SUPPORTS_INCREMENTAL`]) and the destination sync modes of its sink
/// ([`Connector::DESTINATION_SYNC_MODES`]).
pub fn spec<C: Connector>() -> Result<Value, connector_core::Error> {
    let form = C::Credential::form()?;
    Ok(json!({
        "documentationUrl": C::DOCUMENTATION_URL,
        "connectionSpecification": form.schema,
        "supportsIncremental": C::SUPPORTS_INCREMENTAL,
        "supportsNormalization": false,
        "supportsDBT": false,
        "supported_destination_sync_modes": C::DESTINATION_SYNC_MODES,
    }))
}
