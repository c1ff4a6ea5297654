//! Form descriptors: the credential form a host renders, generated from a Rust type.
//!
//! [`FormDescriptor::of`] turns any type deriving [`schemars::JsonSchema`] into
//!
//! * a JSON Schema in the portable profile every common renderer accepts (react-jsonschema-form,
//!   JSON Forms, Airbyte's and Estuary's forms): draft-07, every subschema inlined, one `type`
//!   per property, no `anyOf`/`allOf`/`not`, standard `format`s only, `title`, `description` and
//!   `order` on every property, secrets marked with `writeOnly`, `format: password`,
//!   `airbyte_secret` and `secret`;
//! * an RJSF uiSchema (`ui:order`, `ui:widget: password`, `ui:help`, `ui:placeholder`,
//!   `ui:autocomplete: off`) built from the same metadata;
//! * a JSON Forms uischema (a `VerticalLayout` of `Control`s, `Group`s for nested objects).
//!
//! Three extension keywords carry renderer hints in the Rust type and are moved out of the JSON
//! Schema into the uiSchemas: `x-help` (help text under the field), `x-placeholder` and
//! `x-widget` (an RJSF widget such as `textarea`, which also sets Airbyte's `multiline` and
//! JSON Forms' `multi`). JSON Forms controls carry `showUnfocusedDescription`.
//!
//! A `pattern` never reaches a person as a regex: each one gets an ajv-errors `errorMessage`
//! (from `x-pattern-message`, or "Enter <pattern_descriptor>."), and [`FormDescriptor`]'s
//! `error_messages` carries the same text for an RJSF `transformErrors`:
//!
//! ```js
//! const transformErrors = (errors) => errors.map((e) => {
//!   const m = errorMessages[e.property]?.[e.name];
//!   return m ? { ...e, message: m, stack: m } : e;
//! });
//! ```
//!
//! An optional field ordered before a required one gets Airbyte's `always_show`, so Airbyte's
//! form keeps it in place instead of folding it under "Optional fields".
//!
//! ```
//! use connector_core::{FormDescriptor, Secret};
//! use schemars::JsonSchema;
//!
//! #[derive(serde::Deserialize, JsonSchema)]
//! struct Config {
//!     /// Account
//!     ///
//!     /// The account to connect to.
//!     account: String,
//!     /// API key
//!     ///
//!     /// The key from the settings page.
//!     #[schemars(extend("x-help" = "Settings -> API"))]
//!     api_key: Secret,
//! }
//!
//! let form = FormDescriptor::of::<Config>().unwrap();
//! assert_eq!(form.schema["properties"]["api_key"]["airbyte_secret"], true);
//! assert_eq!(form.ui_schema["ui:order"], serde_json::json!(["account", "api_key"]));
//! assert_eq!(form.ui_schema["api_key"]["ui:widget"], "password");
//! ```

use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

use crate::error::FormError;

/// The `$schema` every generated form schema declares.
pub const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// The `format` values that every renderer understands; any other (`uint32`, `int64`,
/// `double`, ...) is removed.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "uuid",
    "regex",
    "password",
];

/// Keywords that no portable form renderer handles.
const FORBIDDEN_KEYWORDS: &[&str] = &[
    "$ref",
    "$defs",
    "definitions",
    "anyOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "prefixItems",
    "dependentRequired",
    "dependentSchemas",
    "nullable",
];

type MarkerCheck = fn(&Value) -> bool;

/// Every marker a secret carries, so each renderer masks it.
const SECRET_MARKERS: &[(&str, MarkerCheck)] = &[
    ("writeOnly", |v| v == &Value::Bool(true)),
    ("format", |v| v == "password"),
    ("airbyte_secret", |v| v == &Value::Bool(true)),
    ("secret", |v| v == &Value::Bool(true)),
];

const HELP: &str = "x-help";
const WIDGET: &str = "x-widget";
const PLACEHOLDER: &str = "x-placeholder";
const PATTERN_MESSAGE: &str = "x-pattern-message";

/// A credential form: the JSON Schema and the uiSchemas a host renders it with.
#[derive(Debug, Clone, PartialEq)]
pub struct FormDescriptor {
    /// The JSON Schema (draft-07, portable profile).
    pub schema: Value,
    /// The react-jsonschema-form uiSchema.
    pub ui_schema: Value,
    /// The JSON Forms uischema.
    pub json_forms_ui_schema: Value,
    /// The message a person reads for each failing keyword, keyed by the RJSF error
    /// `property` (`.account_domain`, `.advanced.start_date`) then by the keyword
    /// (`pattern`): what a react-jsonschema-form `transformErrors` needs to show it instead of
    /// the regex. The same messages sit in the schema as `errorMessage` (ajv-errors), which
    /// JSON Forms and RJSF's ajv8 validator show once `ajv-errors` is added to their Ajv.
    pub error_messages: Value,
}

impl FormDescriptor {
    /// Generates the form of `T`, enforcing the portable profile.
    ///
    /// Fails with [`FormError::Profile`] listing every rule the type breaks that cannot be
    /// repaired automatically (a property without a description, a `$ref` to a recursive type,
    /// a pattern without a `pattern_descriptor`, ...).
    pub fn of<T: JsonSchema>() -> Result<Self, FormError> {
        let mut settings = SchemaSettings::draft07();
        settings.inline_subschemas = true;
        let schema = settings.into_generator().into_root_schema_for::<T>();
        Self::from_schema(schema.to_value())
    }

    /// Applies the portable profile to an already generated JSON Schema and derives the
    /// uiSchemas from it.
    pub fn from_schema(mut schema: Value) -> Result<Self, FormError> {
        let Some(root) = schema.as_object_mut() else {
            return Err(FormError::Profile(
                vec!["the root schema is not an object".into()],
            ));
        };
        root.remove("definitions");
        root.remove("$defs");
        root.remove("$schema");
        // The root's doc comment names the form better than the Rust type name does.
        root.remove("title");
        normalize(&mut schema);
        let mut schema = root_first(schema);
        let mut ui_schema = Map::new();
        let mut controls = Vec::new();
        extract_ui(&mut schema, "#", &mut ui_schema, &mut controls);
        let violations = profile_violations(&schema);
        if !violations.is_empty() {
            return Err(FormError::Profile(violations));
        }
        let mut error_messages = Map::new();
        collect_error_messages(&schema, "", &mut error_messages);
        Ok(Self {
            schema,
            ui_schema: Value::Object(ui_schema),
            json_forms_ui_schema: json!({ "type": "VerticalLayout", "elements": controls }),
            error_messages: Value::Object(error_messages),
        })
    }
}

/// Puts `$schema`, `title`, `description`, `type` and `required` before `properties`, for
/// readers of the generated file.
fn root_first(schema: Value) -> Value {
    let Value::Object(mut rest) = schema else {
        return schema;
    };
    let mut out = Map::new();
    out.insert("$schema".into(), Value::String(DRAFT_07.into()));
    for key in ["title", "description", "type", "required"] {
        if let Some(v) = rest.remove(key) {
            out.insert(key.into(), v);
        }
    }
    out.extend(rest);
    Value::Object(out)
}

/// Repairs what schemars emits into the portable profile, recursively.
fn normalize(node: &mut Value) {
    let Some(obj) = node.as_object_mut() else {
        return;
    };
    drop_null_alternatives(obj);
    collapse_const_one_of(obj);
    split_title(obj);
    unwrap_lines(obj);
    if let Some(Value::Array(types)) = obj.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if kept.len() == 1 {
            obj.insert("type".into(), kept[0].clone());
        }
    }
    if let Some(Value::String(format)) = obj.get("format") {
        if !STANDARD_FORMATS.contains(&format.as_str()) {
            obj.remove("format");
        }
    }
    if obj.get("default") == Some(&Value::Null) {
        obj.remove("default");
    }
    if let Some(Value::Array(values)) = obj.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    add_pattern_message(obj);
    if obj.get(WIDGET) == Some(&json!("textarea")) {
        // Airbyte's form shows a multi-line box on `multiline`.
        obj.insert("multiline".into(), Value::Bool(true));
    }
    let required: Vec<String> = match obj.get("required") {
        Some(Value::Array(r)) => r.iter().filter_map(Value::as_str).map(String::from).collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        for (index, (key, prop)) in props.iter_mut().enumerate() {
            normalize(prop);
            if let Some(p) = prop.as_object_mut() {
                p.entry("title").or_insert_with(|| Value::String(humanize(key)));
                p.entry("order").or_insert_with(|| json!(index));
                if p.get("type") == Some(&json!("boolean")) {
                    p.entry("default").or_insert(Value::Bool(false));
                }
            }
        }
        keep_optional_fields_in_place(props, &required);
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            normalize(sub);
        }
    }
    if let Some(Value::Array(options)) = obj.get_mut("oneOf") {
        options.iter_mut().for_each(normalize);
    }
}

/// A `pattern` with a `pattern_descriptor` gets an ajv-errors `errorMessage` a person acts on
/// (`x-pattern-message`, or "Enter ..." from the descriptor), so no renderer shows the regex.
fn add_pattern_message(obj: &mut Map<String, Value>) {
    let custom = obj.remove(PATTERN_MESSAGE);
    if !obj.contains_key("pattern") || obj.contains_key("errorMessage") {
        return;
    }
    let message = match (custom, obj.get("pattern_descriptor")) {
        (Some(Value::String(m)), _) => m,
        (_, Some(Value::String(d))) => format!("Enter {d}."),
        _ => return,
    };
    obj.insert("errorMessage".into(), json!({ "pattern": message }));
}

/// Airbyte's form folds optional fields under "Optional fields" after the required ones; an
/// optional scalar ordered before a required field gets `always_show` so the order holds.
fn keep_optional_fields_in_place(props: &mut Map<String, Value>, required: &[String]) {
    let last_required = props
        .iter()
        .filter(|(k, _)| required.contains(k))
        .filter_map(|(_, p)| p.get("order").and_then(Value::as_i64))
        .max();
    let Some(last_required) = last_required else {
        return;
    };
    for (key, prop) in props.iter_mut() {
        let Some(p) = prop.as_object_mut() else { continue };
        let before = p
            .get("order")
            .and_then(Value::as_i64)
            .is_some_and(|o| o < last_required);
        if before && !required.contains(key) && p.get("type") != Some(&json!("object")) {
            p.insert("always_show".into(), Value::Bool(true));
        }
    }
}

/// The `errorMessage`s of the schema, keyed by RJSF error property then keyword.
fn collect_error_messages(node: &Value, path: &str, out: &mut Map<String, Value>) {
    let Some(Value::Object(props)) = node.get("properties") else {
        return;
    };
    for (key, prop) in props {
        let p = format!("{path}.{key}");
        if let Some(Value::Object(messages)) = prop.get("errorMessage") {
            out.insert(p.clone(), Value::Object(messages.clone()));
        }
        collect_error_messages(prop, &p, out);
    }
}

/// `anyOf`/`oneOf: [X, {type: null}]` (schemars' `Option<X>`) becomes `X`: optional is expressed
/// by absence from `required`, not by a null type.
fn drop_null_alternatives(obj: &mut Map<String, Value>) {
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(options)) = obj.get(key) else {
            continue;
        };
        let non_null: Vec<Value> = options
            .iter()
            .filter(|o| o.get("type") != Some(&json!("null")) && o.get("const") != Some(&Value::Null))
            .cloned()
            .collect();
        if non_null.len() == options.len() {
            continue;
        }
        obj.remove(key);
        if non_null.len() == 1 {
            if let Value::Object(inner) = &non_null[0] {
                for (k, v) in inner {
                    obj.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        } else {
            obj.insert(key.into(), Value::Array(non_null));
        }
    }
}

/// schemars folds an inlined type's doc title into its description (`"Title\n\nText"`): split
/// it back into `title` and `description`.
fn split_title(obj: &mut Map<String, Value>) {
    if obj.contains_key("title") {
        return;
    }
    let Some(Value::String(description)) = obj.get("description") else {
        return;
    };
    if let Some((title, rest)) = description.split_once("\n\n") {
        if !title.contains('\n') && !title.ends_with('.') && !rest.trim().is_empty() {
            let (title, rest) = (title.trim().to_string(), rest.trim().to_string());
            obj.insert("title".into(), Value::String(title));
            obj.insert("description".into(), Value::String(rest));
        }
    }
}

/// Doc comments wrap lines; a description is prose: single line breaks become spaces,
/// paragraph breaks stay.
fn unwrap_lines(obj: &mut Map<String, Value>) {
    if let Some(Value::String(description)) = obj.get_mut("description") {
        if description.contains('\n') {
            *description = description
                .split("\n\n")
                .map(|para| para.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("\n\n");
        }
    }
}

/// `oneOf` of bare `const` strings (schemars' documented unit enum) becomes a plain `enum`.
fn collapse_const_one_of(obj: &mut Map<String, Value>) {
    let Some(Value::Array(options)) = obj.get("oneOf") else {
        return;
    };
    let consts: Option<Vec<Value>> = options
        .iter()
        .map(|o| match o.get("const") {
            Some(c @ Value::String(_)) if o.get("properties").is_none() => Some(c.clone()),
            _ => None,
        })
        .collect();
    if let Some(values) = consts {
        obj.remove("oneOf");
        obj.insert("type".into(), json!("string"));
        obj.insert("enum".into(), Value::Array(values));
    }
}

/// Moves renderer hints out of the schema into the RJSF and JSON Forms uiSchemas.
fn extract_ui(node: &mut Value, scope: &str, ui: &mut Map<String, Value>, controls: &mut Vec<Value>) {
    let Some(Value::Object(props)) = node.get_mut("properties") else {
        return;
    };
    let mut ordered: Vec<(i64, String)> = props
        .iter()
        .map(|(k, p)| {
            (
                p.get("order").and_then(Value::as_i64).unwrap_or(i64::MAX),
                k.clone(),
            )
        })
        .collect();
    ordered.sort();
    ui.insert(
        "ui:order".into(),
        Value::Array(ordered.iter().map(|(_, k)| Value::String(k.clone())).collect()),
    );
    for (_, key) in &ordered {
        let Some(prop) = props.get_mut(key) else { continue };
        let prop_scope = format!("{scope}/properties/{key}");
        let mut field_ui = Map::new();
        let label = prop.get("title").cloned().unwrap_or(Value::Null);
        let multi = prop.get("multiline") == Some(&Value::Bool(true));
        if let Some(obj) = prop.as_object_mut() {
            if let Some(help) = obj.remove(HELP) {
                field_ui.insert("ui:help".into(), help);
            }
            if let Some(widget) = obj.remove(WIDGET) {
                field_ui.insert("ui:widget".into(), widget);
            }
            let placeholder = obj
                .remove(PLACEHOLDER)
                .or_else(|| obj.get("examples").and_then(|e| e.get(0)).cloned());
            if let Some(placeholder) = placeholder.filter(|p| p.is_string()) {
                field_ui.insert("ui:placeholder".into(), placeholder);
            }
        }
        if is_secret(prop) {
            field_ui.insert("ui:widget".into(), json!("password"));
            field_ui.insert("ui:autocomplete".into(), json!("off"));
        }
        if prop.get("properties").is_some() {
            let mut nested_controls = Vec::new();
            extract_ui(prop, &prop_scope, &mut field_ui, &mut nested_controls);
            controls.push(json!({ "type": "Group", "label": label, "elements": nested_controls }));
        } else {
            // JSON Forms' vanilla renderers hide a description until the field has focus.
            let mut options = json!({ "showUnfocusedDescription": true });
            if is_secret(prop) {
                options["format"] = json!("password");
            }
            if multi {
                options["multi"] = json!(true);
            }
            let control =
                json!({ "type": "Control", "scope": prop_scope, "label": label, "options": options });
            controls.push(control);
        }
        ui.insert(key.clone(), Value::Object(field_ui));
    }
}

fn is_secret(prop: &Value) -> bool {
    SECRET_MARKERS
        .iter()
        .any(|(key, _)| *key != "format" && prop.get(*key).is_some())
}

/// Every rule of the portable profile the schema breaks, each as a sentence naming the path.
///
/// Empty means the schema renders in every supported renderer.
pub fn profile_violations(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if schema.get("$schema") != Some(&json!(DRAFT_07)) {
        out.push(format!("$schema must be {DRAFT_07}"));
    }
    if schema.get("type") != Some(&json!("object")) || schema.get("properties").is_none() {
        out.push("the root must be `type: object` with `properties`".into());
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        out.push("the root must not set `additionalProperties: false` (hosts add fields)".into());
    }
    check_node(schema, "", &mut out);
    out
}

fn check_node(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else { return };
    let at = if path.is_empty() {
        "the root".to_string()
    } else {
        path.to_string()
    };
    for keyword in FORBIDDEN_KEYWORDS {
        if obj.contains_key(*keyword) {
            out.push(format!("{at}: `{keyword}` is not portable"));
        }
    }
    match obj.get("type") {
        Some(Value::String(_)) | None => {}
        Some(other) => out.push(format!("{at}: `type` must be one string, found {other}")),
    }
    if let Some(Value::String(format)) = obj.get("format") {
        if !STANDARD_FORMATS.contains(&format.as_str()) {
            out.push(format!("{at}: format `{format}` is not standard"));
        }
    }
    let markers = SECRET_MARKERS
        .iter()
        .filter(|(k, ok)| obj.get(*k).is_some_and(ok))
        .count();
    if markers != 0 && markers != SECRET_MARKERS.len() {
        out.push(format!(
            "{at}: a secret needs all of writeOnly, format: password, airbyte_secret and secret"
        ));
    }
    if obj.contains_key("pattern") && !obj.contains_key("pattern_descriptor") {
        out.push(format!(
            "{at}: a `pattern` needs a human-readable `pattern_descriptor`"
        ));
    } else if obj.contains_key("pattern")
        && !obj
            .get("errorMessage")
            .and_then(|m| m.get("pattern"))
            .is_some_and(Value::is_string)
    {
        out.push(format!(
            "{at}: a `pattern` needs an `errorMessage.pattern` a person acts on (renderers show the regex otherwise)"
        ));
    }
    if let Some(Value::String(format)) = obj.get("format") {
        if ["date", "date-time", "time"].contains(&format.as_str())
            && obj.get("type") != Some(&json!("string"))
        {
            out.push(format!("{at}: format `{format}` needs `type: string`"));
        }
    }
    for flag in ["always_show", "multiline"] {
        if obj.get(flag).is_some_and(|v| !v.is_boolean()) {
            out.push(format!("{at}: `{flag}` must be a boolean"));
        }
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (key, prop) in props {
            let p = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            for needed in ["title", "description", "order"] {
                if prop.get(needed).is_none() {
                    out.push(format!("{p}: missing `{needed}`"));
                }
            }
            if prop.get("type") == Some(&json!("boolean")) && prop.get("default").is_none() {
                out.push(format!("{p}: a boolean needs a `default`"));
            }
            check_node(prop, &p, out);
        }
    }
    if let Some(items) = obj.get("items") {
        check_node(items, &format!("{at}[]"), out);
    }
    if let Some(Value::Array(options)) = obj.get("oneOf") {
        for (i, option) in options.iter().enumerate() {
            if option.get("type") != Some(&json!("object")) {
                out.push(format!("{at}: `oneOf` option {i} must be `type: object`"));
            }
            check_node(option, &format!("{at}.oneOf[{i}]"), out);
        }
    }
}

/// `account_domain` -> `Account domain`.
fn humanize(key: &str) -> String {
    let spaced = key.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
