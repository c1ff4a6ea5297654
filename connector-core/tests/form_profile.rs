//! The portable form profile (conventions §1), enforced on a type that exercises every case.
#![allow(missing_docs)]

use connector_core::form::profile_violations;
use connector_core::{FormDescriptor, FormError, Secret};
use schemars::JsonSchema;
use serde_json::{json, Value};

/// Region
///
/// Where the account is hosted.
#[derive(serde::Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
enum Region {
    /// Europe.
    Eu,
    /// Everywhere else.
    Global,
}

/// Advanced
///
/// Settings most users leave alone.
#[derive(serde::Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Advanced {
    /// Page size
    ///
    /// Records per request.
    #[schemars(range(min = 1, max = 100))]
    page_size: Option<u32>,
    /// Verbose
    ///
    /// Log every request.
    verbose: bool,
}

/// Example
#[derive(serde::Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Everything {
    /// Account
    ///
    /// The account name.
    #[schemars(regex(pattern = "^[a-z]+$"), extend("pattern_descriptor" = "lowercase letters", "examples" = ["acme"]))]
    account: String,
    /// Retries
    ///
    /// How many times to retry.
    retries: u64,
    /// Timeout
    ///
    /// Seconds to wait, if set.
    timeout: Option<i32>,
    /// Notes
    ///
    /// Free text.
    #[schemars(extend("x-widget" = "textarea"))]
    notes: Option<String>,
    /// Since
    ///
    /// The first day to read.
    #[schemars(
        regex(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
        extend("format" = "date", "pattern_descriptor" = "YYYY-MM-DD", "x-pattern-message" = "Enter a date as YYYY-MM-DD.")
    )]
    since: Option<String>,
    region: Option<Region>,
    advanced: Option<Advanced>,
    /// API key
    ///
    /// The secret key.
    #[schemars(extend("x-help" = "Find it under Settings"))]
    api_key: Secret,
}

fn walk<'a>(v: &'a Value, out: &mut Vec<(&'a str, &'a Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                out.push((k.as_str(), v));
                walk(v, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

#[test]
fn every_rule_of_the_profile_holds() {
    let form = FormDescriptor::of::<Everything>().unwrap();
    let schema = &form.schema;
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["required"], json!(["account", "retries", "api_key"]));
    assert!(schema.get("additionalProperties").is_none());
    assert!(
        profile_violations(schema).is_empty(),
        "{:?}",
        profile_violations(schema)
    );

    let mut pairs = Vec::new();
    walk(schema, &mut pairs);
    for (key, value) in &pairs {
        for forbidden in [
            "$ref",
            "$defs",
            "definitions",
            "anyOf",
            "allOf",
            "not",
            "if",
            "then",
            "else",
            "nullable",
        ] {
            assert_ne!(*key, forbidden, "found {forbidden}");
        }
        if *key == "type" {
            assert!(value.is_string(), "type union {value}");
        }
        if *key == "format" {
            assert!(
                !["uint32", "uint64", "int32", "int64", "uint", "double", "float"]
                    .contains(&value.as_str().unwrap_or("")),
                "format {value}"
            );
        }
    }
    let props = schema["properties"].as_object().unwrap();
    let keys: Vec<&str> = props.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["account", "retries", "timeout", "notes", "since", "region", "advanced", "api_key"]
    );
    for (i, (key, prop)) in props.iter().enumerate() {
        assert!(prop["title"].is_string(), "{key} title");
        assert!(prop["description"].is_string(), "{key} description");
        assert_eq!(prop["order"], json!(i), "{key} order");
    }
    assert_eq!(props["timeout"]["type"], "integer");
    assert_eq!(props["notes"]["type"], "string");
    assert_eq!(
        props["region"],
        json!({"title": "Region", "description": "Where the account is hosted.", "type": "string", "enum": ["eu", "global"], "order": 5, "always_show": true})
    );
    assert_eq!(props["account"]["pattern_descriptor"], "lowercase letters");
    // A person reads a sentence, never the regex: from the descriptor, or the type's own text.
    assert_eq!(
        props["account"]["errorMessage"],
        json!({"pattern": "Enter lowercase letters."})
    );
    assert_eq!(
        props["since"]["errorMessage"],
        json!({"pattern": "Enter a date as YYYY-MM-DD."})
    );
    assert_eq!(props["since"]["format"], "date");
    assert!(props["since"].get("x-pattern-message").is_none());
    // Airbyte: optional fields before the last required one stay in place; a textarea is
    // multi-line; required fields and the optional group are left alone.
    for key in ["timeout", "notes", "since", "region"] {
        assert_eq!(props[key]["always_show"], true, "{key}");
    }
    for key in ["account", "retries", "advanced", "api_key"] {
        assert!(props[key].get("always_show").is_none(), "{key}");
    }
    assert_eq!(props["notes"]["multiline"], true);
    assert!(props["account"].get("multiline").is_none());
    let advanced = &props["advanced"];
    assert_eq!(advanced["type"], "object");
    assert_eq!(advanced["properties"]["page_size"]["type"], "integer");
    assert_eq!(advanced["properties"]["page_size"]["maximum"], 100);
    assert_eq!(advanced["properties"]["verbose"]["default"], false);
    assert_eq!(advanced["properties"]["verbose"]["order"], 1);
    let key = &props["api_key"];
    assert_eq!(key["writeOnly"], true);
    assert_eq!(key["format"], "password");
    assert_eq!(key["airbyte_secret"], true);
    assert_eq!(key["secret"], true);
    assert!(key.get("x-help").is_none(), "renderer hints leave the schema");
}

#[test]
fn ui_schemas_come_from_the_same_metadata() {
    let form = FormDescriptor::of::<Everything>().unwrap();
    let ui = &form.ui_schema;
    assert_eq!(
        ui["ui:order"],
        json!(["account", "retries", "timeout", "notes", "since", "region", "advanced", "api_key"])
    );
    assert_eq!(ui["notes"], json!({"ui:widget": "textarea"}));
    assert_eq!(
        ui["api_key"],
        json!({"ui:help": "Find it under Settings", "ui:widget": "password", "ui:autocomplete": "off"})
    );
    assert_eq!(ui["account"], json!({"ui:placeholder": "acme"}));
    assert_eq!(ui["advanced"]["ui:order"], json!(["page_size", "verbose"]));
    let jf = &form.json_forms_ui_schema;
    assert_eq!(jf["type"], "VerticalLayout");
    assert_eq!(
        jf["elements"][0],
        json!({"type": "Control", "scope": "#/properties/account", "label": "Account", "options": {"showUnfocusedDescription": true}})
    );
    assert_eq!(
        jf["elements"][3]["options"],
        json!({"showUnfocusedDescription": true, "multi": true})
    );
    assert_eq!(jf["elements"][6]["type"], "Group");
    assert_eq!(
        jf["elements"][6]["elements"][0],
        json!({"type": "Control", "scope": "#/properties/advanced/properties/page_size", "label": "Page size", "options": {"showUnfocusedDescription": true}})
    );
    assert_eq!(
        jf["elements"][7]["options"],
        json!({"showUnfocusedDescription": true, "format": "password"})
    );
    assert_eq!(
        form.error_messages,
        json!({
            ".account": {"pattern": "Enter lowercase letters."},
            ".since": {"pattern": "Enter a date as YYYY-MM-DD."}
        })
    );
}

/// An undocumented field
#[derive(serde::Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Undocumented {
    bare: String,
    #[schemars(regex(pattern = "^x$"))]
    /// Patterned
    ///
    /// Has a pattern but no descriptor.
    patterned: String,
}

#[test]
fn unrepairable_violations_are_named() {
    let err = FormDescriptor::of::<Undocumented>().unwrap_err();
    assert_eq!(
        err,
        FormError::Profile(vec![
            "bare: missing `description`".into(),
            "patterned: a `pattern` needs a human-readable `pattern_descriptor`".into(),
        ])
    );
}

#[test]
fn hand_written_violations_are_all_reported() {
    let bad = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "a": {"title": "A", "description": "d", "order": 0, "type": ["string", "null"], "format": "uint32"},
            "b": {"title": "B", "description": "d", "order": 1, "anyOf": [{"type": "string"}, {"type": "integer"}]},
            "c": {"title": "C", "description": "d", "order": 2, "type": "string", "writeOnly": true},
            "d": {"title": "D", "description": "d", "order": 3, "type": "boolean"},
            "e": {"title": "E", "description": "d", "order": 4, "type": "string", "pattern": "^x$", "pattern_descriptor": "x"},
            "f": {"title": "F", "description": "d", "order": 5, "type": "integer", "format": "date", "always_show": "yes"}
        }
    });
    assert_eq!(
        profile_violations(&bad),
        vec![
            "$schema must be http://json-schema.org/draft-07/schema#",
            "the root must not set `additionalProperties: false` (hosts add fields)",
            "a: `type` must be one string, found [\"string\",\"null\"]",
            "a: format `uint32` is not standard",
            "b: `anyOf` is not portable",
            "c: a secret needs all of writeOnly, format: password, airbyte_secret and secret",
            "d: a boolean needs a `default`",
            "e: a `pattern` needs an `errorMessage.pattern` a person acts on (renderers show the regex otherwise)",
            "f: format `date` needs `type: string`",
            "f: `always_show` must be a boolean",
        ]
    );
}
