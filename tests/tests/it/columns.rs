//! Column names every warehouse can hold: over every stream schema, its standard fields and
//! the custom fields the stand-in defines (30, of every type, some named by alias), named by
//! name and by key, no two columns of a stream are equal case-insensitively (PyAirbyte,
//! BigQuery and Snowflake fold case), and every one is a valid identifier in PostgreSQL
//! (at most 63 bytes), BigQuery (at most 300 characters, no reserved prefix) and Snowflake
//! (at most 255 characters), written as they are unquoted: a letter or `_`, then letters,
//! digits and `_`.

use std::collections::BTreeMap;

use connector_core::{Credential, Source};
use connector_flowlu::{FlowluCredential, FlowluSource};
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use integration_tests::{config_json, fast_limiter, CANARY_KEY};
use serde_json::{json, Value};

/// Why `name` is not a column every warehouse accepts unquoted, if it is not.
fn identifier_problem(name: &str) -> Option<String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Some("not [A-Za-z_][A-Za-z0-9_]*".into());
    }
    if name.len() > 63 {
        return Some(format!("{} bytes: PostgreSQL keeps 63", name.len()));
    }
    // BigQuery reserves these prefixes (300 and Snowflake's 255 are above 63).
    let upper = name.to_ascii_uppercase();
    for reserved in [
        "_TABLE_",
        "_FILE_",
        "_PARTITION",
        "_ROW_TIMESTAMP",
        "__ROOT__",
        "_COLIDENTIFIER",
    ] {
        if upper.starts_with(reserved) {
            return Some(format!("BigQuery reserves the prefix {reserved}"));
        }
    }
    if upper.starts_with("_AIRBYTE_") {
        return Some("Airbyte's destinations reserve _airbyte_".into());
    }
    None
}

async fn discovered(naming: &str) -> BTreeMap<String, Value> {
    let emu = Emulator::start(EmulatorConfig {
        seed: 5,
        records_per_model: 2,
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut config = config_json("acme");
    config["advanced"] = json!({"custom_field_columns": naming});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let source = FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 10));
    let catalog = source.discover().await.unwrap();
    assert_eq!(catalog.streams.len(), 49);
    catalog
        .streams
        .into_iter()
        .map(|s| (s.name, s.json_schema))
        .collect()
}

#[tokio::test]
async fn every_column_is_unique_case_insensitively_and_a_valid_identifier_everywhere() {
    for naming in ["by_name", "by_key"] {
        let schemas = discovered(naming).await;
        let mut problems = Vec::new();
        let mut custom = 0;
        for (stream, schema) in &schemas {
            let mut folded: BTreeMap<String, &str> = BTreeMap::new();
            for (name, property) in schema["properties"].as_object().unwrap() {
                if let Some(other) = folded.insert(name.to_ascii_lowercase(), name) {
                    problems.push(format!("{stream}: {other} and {name} fold to one column"));
                }
                if let Some(why) = identifier_problem(name) {
                    problems.push(format!("{stream}.{name}: {why}"));
                }
                if property.get("x-flowlu-field").is_some() {
                    custom += 1;
                }
            }
        }
        assert!(problems.is_empty(), "{naming}: {problems:#?}");
        // The stand-in's 30 custom fields, six of them selects with a label column each.
        assert_eq!(custom, 36, "{naming}");
        assert!(schemas["crm_account"]["properties"].get("VAT").is_some());
    }
    // The checker refuses what it should.
    for bad in [
        "2nd",
        "a-b",
        "ü",
        "_PARTITIONTIME",
        &"x".repeat(64),
        "_airbyte_raw_id",
    ] {
        assert!(identifier_problem(bad).is_some(), "{bad}");
    }
    assert_eq!(identifier_problem("open_budget_7"), None);
}

#[tokio::test]
async fn custom_field_columns_are_named_by_their_names_unless_by_key_is_asked() {
    let by_name = discovered("by_name").await;
    let by_key = discovered("by_key").await;
    for (stream, schema) in &by_name {
        for (name, property) in schema["properties"].as_object().unwrap() {
            let Some(field) = property.get("x-flowlu-field") else {
                continue;
            };
            let key = field["key"].as_str().unwrap();
            // The column starts with the field's name in snake_case (a taken name gets the
            // field's id after it).
            let snake: String = field["name"]
                .as_str()
                .unwrap()
                .to_ascii_lowercase()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join("_");
            assert!(name.starts_with(&snake), "{stream}.{name} for {field}");
            assert!(!name.starts_with("cf_"), "{stream}.{name}");
            // By key, the same field is the column Flowlu's key names.
            let keyed = &by_key[stream]["properties"][key];
            assert_eq!(keyed["x-flowlu-field"], *field, "{stream}.{key}");
            assert_eq!(keyed["type"], property["type"], "{stream}.{key}");
        }
    }
}

#[tokio::test]
async fn a_field_renamed_in_flowlu_keeps_its_column_until_a_new_discover() {
    use connector_core::{ConfiguredCatalog, SourceEvent, SourceState};
    use futures::StreamExt;

    let emu = Emulator::start(EmulatorConfig {
        seed: 5,
        records_per_model: 4,
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap();
    let credential = FlowluCredential::from_config(&config_json("acme"))
        .unwrap()
        .with_base_url(emu.base_url());
    let source = FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 10));
    let column_of = |catalog: &connector_core::Catalog, key: &str| -> String {
        let account = catalog.streams.iter().find(|s| s.name == "crm_account").unwrap();
        account.json_schema["properties"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, p)| p["x-flowlu-field"]["key"] == key)
            .map(|(name, _)| name.clone())
            .unwrap()
    };
    let before = source.discover().await.unwrap();
    let accepted = column_of(&before, "cf_7");
    // The field (a number on accounts) is renamed in Flowlu.
    let client = credential.client().unwrap();
    let form = [("name".to_string(), "Renamed Budget".to_string())];
    client.update("customfields", "fields", 7, &form).await.unwrap();

    // A read with the catalog the host accepted: the accepted column, still typed.
    let mut configured = ConfiguredCatalog::from_catalog(&before);
    configured.streams.retain(|s| s.stream.name == "crm_account");
    let records: Vec<Value> = source
        .read_parsed(&configured, &SourceState::default())
        .filter_map(|e| async move {
            match e {
                SourceEvent::Record(r) => Some(r.data),
                _ => None,
            }
        })
        .collect()
        .await;
    assert_eq!(records.len(), 4);
    for record in &records {
        let object = record.as_object().unwrap();
        assert!(object.contains_key(&accepted), "{record}");
        assert!(!object.contains_key("renamed_budget") && !object.contains_key("cf_7"));
        assert!(record[&accepted].is_number() || record[&accepted].is_null());
    }
    // Only a new discover proposes the new name, for the same key.
    let after = source.discover().await.unwrap();
    assert_ne!(accepted, "renamed_budget");
    assert_eq!(column_of(&after, "cf_7"), "renamed_budget");
}
