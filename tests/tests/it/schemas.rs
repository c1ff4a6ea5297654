//! The generated files under schemas/ match the code, the form schema is valid draft-07 in the
//! portable profile, and example configs validate as they should.
//!
//! Regenerate the files with: `UPDATE_SCHEMAS=1 cargo test -p integration-tests schemas`

use std::path::PathBuf;

use connector_core::form::profile_violations;
use serde_json::{json, Value};

const REGENERATE: &str = "UPDATE_SCHEMAS=1 cargo test -p integration-tests schemas";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn generated_files_match_the_code() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut drifted = Vec::new();
    for (path, content) in connector_flowlu::testing::generated_files().unwrap() {
        let file = workspace_root().join(&path);
        if update {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &content).unwrap();
        } else if std::fs::read_to_string(&file).ok().as_deref() != Some(content.as_str()) {
            drifted.push(path);
        }
    }
    assert!(
        drifted.is_empty(),
        "generated files are out of date: {drifted:?}; run `{REGENERATE}` and commit them"
    );
}

fn credential_schema() -> Value {
    connector_flowlu::testing::credential_form().unwrap().schema
}

#[test]
fn the_form_is_valid_draft_07_in_the_portable_profile() {
    let schema = credential_schema();
    jsonschema::draft7::meta::validate(&schema).unwrap();
    assert!(
        profile_violations(&schema).is_empty(),
        "{:?}",
        profile_violations(&schema)
    );
    let props = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = props.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["name", "description", "account_domain", "api_key", "advanced"]
    );
    assert_eq!(schema["required"], json!(["name", "account_domain", "api_key"]));
    let ui = connector_flowlu::testing::credential_form().unwrap().ui_schema;
    assert_eq!(
        ui["ui:order"],
        json!(["name", "description", "account_domain", "api_key", "advanced"])
    );
    assert_eq!(ui["api_key"]["ui:widget"], "password");
    assert_eq!(ui["account_domain"]["ui:placeholder"], "mycompany");
    assert!(ui["api_key"]["ui:help"]
        .as_str()
        .unwrap()
        .contains("Portal Settings -> API Settings"));
}

#[test]
fn every_pattern_has_a_message_a_person_acts_on_and_airbyte_keeps_the_order() {
    let form = connector_flowlu::testing::credential_form().unwrap();
    let props = &form.schema["properties"];
    let domain_message = "Enter only your account name, such as mycompany (the part before .flowlu.com in your Flowlu address): letters, digits and hyphens, no spaces.";
    let date_message = "Enter a date as YYYY-MM-DD, for example 2024-01-31, or leave it empty.";
    assert_eq!(
        props["account_domain"]["errorMessage"],
        json!({ "pattern": domain_message })
    );
    let start = &props["advanced"]["properties"]["start_date"];
    assert_eq!(start["errorMessage"], json!({ "pattern": date_message }));
    assert_eq!(start["format"], "date");
    assert_eq!(
        form.error_messages,
        json!({
            ".account_domain": { "pattern": domain_message },
            ".advanced.start_date": { "pattern": date_message }
        })
    );
    assert_eq!(props["description"]["always_show"], true);
    assert_eq!(props["description"]["multiline"], true);
    assert!(props["advanced"].get("always_show").is_none());
    let jf = &form.json_forms_ui_schema["elements"];
    assert_eq!(
        jf[1]["options"],
        json!({"showUnfocusedDescription": true, "multi": true})
    );
    assert_eq!(
        jf[3]["options"],
        json!({"showUnfocusedDescription": true, "format": "password"})
    );
}

/// The instance paths where `config` fails the schema.
fn failing_paths(config: &Value) -> Vec<String> {
    let schema = credential_schema();
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let mut paths: Vec<String> = validator
        .iter_errors(config)
        .map(|e| e.instance_path().to_string())
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[test]
fn example_configs_validate_as_they_should() {
    let good = [
        json!({"name": "CRM", "account_domain": "acme", "api_key": "k"}),
        json!({"name": "CRM", "description": "prod", "account_domain": "https://Acme.flowlu.com/", "api_key": "k"}),
        json!({"name": "CRM", "account_domain": "acme.flowlu.ru", "api_key": "k", "host_field": 1}),
        json!({"name": "CRM", "account_domain": "acme", "api_key": "k",
               "advanced": {"start_date": "2024-01-31", "max_concurrency": 8, "page_size": 50}}),
    ];
    for config in &good {
        assert_eq!(failing_paths(config), Vec::<String>::new(), "{config}");
    }
    let bad = [
        (json!({"account_domain": "acme", "api_key": "k"}), ""),
        (
            json!({"name": "", "account_domain": "acme", "api_key": "k"}),
            "/name",
        ),
        (
            json!({"name": "CRM", "account_domain": "acme.flowlu.com.evil.io", "api_key": "k"}),
            "/account_domain",
        ),
        (
            json!({"name": "CRM", "account_domain": "user@host", "api_key": "k"}),
            "/account_domain",
        ),
        (
            json!({"name": "CRM", "account_domain": "acme", "api_key": ""}),
            "/api_key",
        ),
        (
            json!({"name": "CRM", "account_domain": "acme", "api_key": 5}),
            "/api_key",
        ),
        (
            json!({"name": "CRM", "account_domain": "acme", "api_key": "k", "advanced": {"page_size": 0}}),
            "/advanced/page_size",
        ),
        (
            json!({"name": "CRM", "account_domain": "acme", "api_key": "k", "advanced": {"start_date": "31/01/2024"}}),
            "/advanced/start_date",
        ),
    ];
    for (config, path) in &bad {
        assert_eq!(failing_paths(config), vec![path.to_string()], "{config}");
    }
}
