//! The Flowlu source and sink as tests drive them through their traits: built on a base URL
//! with the canary key and a fast limiter, a read collected as the messages it emits, records
//! given to a write.

use connector_core::{ConfiguredCatalog, Credential, Record, SinkInput, Source};
use connector_flowlu::{FlowluCredential, FlowluSource};
use connector_runner::airbyte::Message;
use futures::StreamExt;
use serde_json::{json, Value};

use crate::{config_json, fast_limiter, CANARY_KEY};

/// A source of the canary config with `advanced` settings, on `url`, its limiter fast (3
/// retries) with the settings' requests in flight.
pub fn source(url: &str, advanced: Value) -> FlowluSource {
    let mut config = config_json("acme");
    config["advanced"] = advanced;
    let credential = FlowluCredential::from_config(&config).unwrap().with_base_url(url);
    let settings = credential.settings();
    FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(settings.concurrency(), 3))
}

/// Reads `catalog` from `state` (any `--state` form): every message emitted (`emitted_at` 0);
/// fails if the canary key is in any of them.
pub async fn read(source: &FlowluSource, catalog: &ConfiguredCatalog, state: Value) -> Vec<Value> {
    let state = connector_runner::state::source_state(&state).unwrap();
    let lines: Vec<Value> = source
        .read_parsed(catalog, &state)
        .filter_map(|event| async { Message::from_source_event(event, 0) })
        .map(|m| serde_json::to_value(m).unwrap())
        .collect()
        .await;
    assert!(!json!(lines).to_string().contains(CANARY_KEY), "the key leaked");
    lines
}

/// A record of crm_account given to a write.
pub fn account_input(data: Value) -> SinkInput {
    SinkInput::Record(Record {
        stream: "crm_account".into(),
        data,
    })
}
