//! The stream schemas against every stream of the stand-in: at least 95% of the fields that
//! appear in records are declared, every record validates against its discovered schema, and
//! every field declared with a date format holds `null` or a date in that format: the stand-in's
//! blank `""` and zero dates arrive as `null` (a typed host such as PyAirbyte's DuckDB cache
//! refuses them in a timestamp or date column).
//!
//! See the per-stream figures with:
//! `cargo test -p integration-tests --test it coverage:: -- --nocapture`

use std::collections::{BTreeMap, BTreeSet};

use connector_core::{ConfiguredCatalog, Credential, Source, SourceEvent, SourceState};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSource;
use flowlu_emulator::{ApiKey, Emulator, EmulatorConfig};
use futures::StreamExt;
use integration_tests::{config_json, fast_limiter, CANARY_KEY};
use serde_json::{json, Value};

/// What one stream's records showed.
#[derive(Default)]
struct Seen {
    records: usize,
    fields: BTreeSet<String>,
    blank_dates: usize,
    zero_dates: usize,
}

/// Whether `value` is a date (`date`: `YYYY-MM-DD`) or a naive date and time (`date-time`:
/// `YYYY-MM-DD HH:mm:ss`), as Airbyte's `date` and `timestamp_without_timezone` read them.
fn date_shaped(format: &str, value: &Value) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let shape: &[u8] = match format {
        "date" => b"dddd-dd-dd",
        _ => b"dddd-dd-dd dd:dd:dd",
    };
    text.len() == shape.len()
        && text
            .bytes()
            .zip(shape)
            .all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == *s })
}

#[tokio::test]
async fn every_stream_declares_what_the_stand_in_sends_and_accepts_every_value() {
    let emu = Emulator::start(EmulatorConfig {
        seed: 11,
        records_per_model: 60,
        keys: vec![ApiKey::all_modules(CANARY_KEY)],
        ..Default::default()
    })
    .await
    .unwrap();
    let mut config = config_json("acme");
    config["advanced"] = json!({"page_size": 100, "max_concurrency": 4});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let source = FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 10));
    let catalog = source.discover().await.unwrap();
    assert_eq!(catalog.streams.len(), 49);
    let schemas: BTreeMap<String, Value> = catalog
        .streams
        .iter()
        .map(|s| (s.name.clone(), s.json_schema.clone()))
        .collect();
    let configured = ConfiguredCatalog::from_catalog(&catalog);
    let events: Vec<SourceEvent> = source
        .read_parsed(&configured, &SourceState::default())
        .collect()
        .await;

    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    let mut invalid = Vec::new();
    let validators: BTreeMap<&String, jsonschema::Validator> = schemas
        .iter()
        .map(|(name, schema)| {
            // A format is an annotation here, as in Airbyte: Flowlu's naive
            // `YYYY-MM-DD HH:mm:ss` is what `timestamp_without_timezone` reads, not RFC 3339.
            let validator = jsonschema::options()
                .with_draft(jsonschema::Draft::Draft7)
                .should_validate_formats(false)
                .build(schema)
                .unwrap();
            (name, validator)
        })
        .collect();
    // The validators are not vacuous: a text id and money as text are refused.
    assert!(!validators[&"crm_account".to_string()].is_valid(&json!({"id": "7"})));
    assert!(!validators[&"crm_lead".to_string()].is_valid(&json!({"id": 7, "budget": "12.50"})));
    for event in events {
        let record = match event {
            SourceEvent::Record(r) => r,
            SourceEvent::Error { stream, failure } => panic!("{stream:?} failed: {failure:?}"),
            _ => continue,
        };
        let schema = &schemas[&record.stream];
        let entry = seen.entry(record.stream.clone()).or_default();
        entry.records += 1;
        let object = record.data.as_object().unwrap();
        for (name, value) in object {
            entry.fields.insert(name.clone());
            let property = &schema["properties"][name];
            // A typed host refuses anything but a date in a timestamp or date column.
            if let Some(format) = property["format"].as_str() {
                if !value.is_null() && !date_shaped(format, value) {
                    invalid.push(format!(
                        "{} id {}: {name} = {value} is not a {format}",
                        record.stream, record.data["id"]
                    ));
                }
            }
        }
        for error in validators[&record.stream].iter_errors(&record.data) {
            invalid.push(format!(
                "{} id {}: {} at {}",
                record.stream,
                record.data["id"],
                error,
                error.instance_path()
            ));
        }
    }

    println!(
        "{:<28} {:>7} {:>6} {:>8} {:>7}",
        "stream", "records", "fields", "declared", "share"
    );
    let mut low = Vec::new();
    let (mut all_fields, mut all_declared) = (0, 0);
    for stream in schemas.keys() {
        let Some(s) = seen.get(stream) else {
            panic!("{stream}: the stand-in sent no records");
        };
        let props = schemas[stream]["properties"].as_object().unwrap();
        let declared = s.fields.iter().filter(|f| props.contains_key(*f)).count();
        let share = declared as f64 / s.fields.len() as f64;
        all_fields += s.fields.len();
        all_declared += declared;
        println!(
            "{stream:<28} {:>7} {:>6} {declared:>8} {:>6.1}%",
            s.records,
            s.fields.len(),
            share * 100.0
        );
        if share < 0.95 {
            let missing: Vec<&String> = s.fields.iter().filter(|f| !props.contains_key(*f)).collect();
            low.push(format!(
                "{stream}: {:.1}% (undeclared {missing:?})",
                share * 100.0
            ));
        }
    }
    println!(
        "{:<28} {:>7} {all_fields:>6} {all_declared:>8} {:>6.1}%",
        "all streams",
        "",
        all_declared as f64 / all_fields as f64 * 100.0
    );
    assert!(low.is_empty(), "streams below 95% declared: {low:#?}");
    assert!(
        invalid.is_empty(),
        "{} values fail their declared type: {:#?}",
        invalid.len(),
        &invalid[..invalid.len().min(20)]
    );

    // The test sees what it claims to: the stand-in sent blank and zero dates in fields
    // declared with a format, and custom fields of every kind.
    for model in connector_flowlu::testing::MODELS {
        let Some(schema) = schemas.get(model.stream) else {
            continue;
        };
        let entry = seen.entry(model.stream.to_string()).or_default();
        for record in emu.records(model.module, model.model) {
            for (name, value) in record.as_object().into_iter().flatten() {
                if schema["properties"][name.as_str()].get("format").is_none() {
                    continue;
                }
                match value.as_str() {
                    Some("") => entry.blank_dates += 1,
                    Some(t) if t.starts_with("0000-00-00") => entry.zero_dates += 1,
                    _ => {}
                }
            }
        }
    }
    let blank: usize = seen.values().map(|s| s.blank_dates).sum();
    let zero: usize = seen.values().map(|s| s.zero_dates).sum();
    assert!(blank > 0 && zero > 0, "blank dates {blank}, zero dates {zero}");
    let tasks = &schemas["task_tasks"]["properties"];
    assert!(seen["task_tasks"]
        .fields
        .iter()
        .any(|f| tasks[f.as_str()]["x-flowlu-field"]["part"] == "label" && f.ends_with("_label")));
    let projects = &schemas["st_projects"]["properties"];
    let by_alias = seen["st_projects"]
        .fields
        .iter()
        .filter(|f| {
            projects[f.as_str()]["x-flowlu-field"]["key"]
                .as_str()
                .is_some_and(|k| !k.starts_with("cf_"))
        })
        .count();
    assert!(by_alias > 0, "no custom field of projects named by its alias");
    assert_eq!(
        schemas["crm_account"]["properties"]["id"]["type"],
        json!("integer")
    );
}
