#![allow(clippy::unwrap_used)]
//! The probe's own tests: value-free shapes, names, the session's budget and pace, the report
//! of a name that does not resolve, compare and the custom field joins.

use std::collections::BTreeSet;

use reqwest::header::HeaderMap;
use serde_json::{json, Map, Value};

use super::privacy::{body_shape, rate_headers, string_shape, Fields, Naming};
use super::session::{Answer, Refusal, Request};
use super::*;
use crate::base::domain::AccountDomain;
use crate::client::Client;
use connector_core::Secret;

#[test]
fn string_shapes_name_no_value() {
    for (text, shape) in [
        ("", "blank"),
        ("  ", "blank"),
        ("0000-00-00 00:00:00", "zero_datetime"),
        ("0000-00-00", "zero_date"),
        ("2024-01-02 03:04:05", "datetime"),
        ("2024-01-02", "date"),
        ("2024-01-02T03:04:05Z", "text"),
        ("42", "integer_text"),
        ("-3", "integer_text"),
        ("1.50", "decimal_text"),
        ("ann@example.com", "text"),
    ] {
        assert_eq!(string_shape(text), shape, "{text:?}");
    }
}

#[test]
fn fields_keep_names_and_types_only() {
    let mut fields = Fields::default();
    let naming = Naming {
        aliases: [("budget_eur".to_string(), "cf_3".to_string())].into(),
        all_custom_fields: true,
        ..Naming::default()
    };
    let account = crate::base::streams::model("crm_account").unwrap();
    fields.absorb(
        &json!({"id": 1, "name": "Ann", "cf_3": "", "budget_eur": 5, "ann@example.com": 1, "d": "0000-00-00"}),
        account,
        &naming,
    );
    let out = serde_json::to_string(&fields.to_report()).unwrap();
    assert!(
        !out.contains("Ann") && !out.contains("example") && !out.contains("budget_eur"),
        "{out}"
    );
    assert_eq!(fields.other_keys, 1);
    let report = fields.to_report();
    assert_eq!(report["alias_of_cf_3"].types, ["integer"]);
    assert_eq!(report["cf_3"].blank, 1);
    assert_eq!(report["d"].zero_dates, 1);
}

/// Unless every custom field row was read, a key the stream schema does not declare (an
/// alias of a row not read, or its `_value` label column) is only counted.
#[test]
fn without_every_custom_field_row_only_declared_keys_are_named() {
    let naming = Naming {
        aliases: [("budget_eur".to_string(), "cf_3".to_string())].into(),
        all_custom_fields: false,
        ..Naming::default()
    };
    let account = crate::base::streams::model("crm_account").unwrap();
    let mut fields = Fields::default();
    fields.absorb(
        &json!({"id": 1, "name": "Ann", "budget_eur": 5, "vip_tier": "2", "vip_tier_value": "Gold",
            "cf_901": "x", "cf_901_value": "y", "cf_x": 1}),
        account,
        &naming,
    );
    let names: Vec<&String> = fields.fields.keys().collect();
    assert_eq!(names, ["alias_of_cf_3", "cf_901", "cf_901_value", "id", "name"]);
    assert_eq!(fields.other_keys, 3, "vip_tier, vip_tier_value, cf_x");
    let all = Naming {
        all_custom_fields: true,
        ..naming
    };
    let mut fields = Fields::default();
    fields.absorb(&json!({"id": 1, "new_standard_field": 1}), account, &all);
    assert!(fields.fields.contains_key("new_standard_field"));
}

#[test]
fn body_shapes_hide_values_but_keep_flowlu_sentences() {
    let body = br#"{"error":{"error_code":11,"error_msg":"bad key abc"}}"#;
    let parsed: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        body_shape(Some(&parsed), body),
        json!({"error": {"error_code": "integer", "error_msg": "string"}})
    );
    let body = br#"{"error":"Request rate per second exceeded"}"#;
    let parsed: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        body_shape(Some(&parsed), body),
        json!({"error": "string", "error_text": "Request rate per second exceeded"})
    );
    assert_eq!(body_shape(None, b"<html>"), json!("html"));
    assert_eq!(body_shape(None, b"Too Many Requests"), json!("text"));
}

#[tokio::test]
async fn the_budget_is_never_exceeded() {
    let mut session = Session::new(target(Duration::ZERO), 2);
    let request = Request::list(&MODELS[0], Vec::new());
    for _ in 0..2 {
        assert!(matches!(session.send(&request).await, Answer::Refused(_)));
    }
    assert!(matches!(session.send(&request).await, Answer::NotSent));
    assert_eq!(session.sent, 2);
}

fn target(interval: Duration) -> Target {
    let client = Client::builder(AccountDomain::parse("acme").unwrap(), Secret::new("k"))
        .base_url("http://127.0.0.1:9")
        .build()
        .unwrap();
    Target {
        client,
        domain: "acme".into(),
        include_domain: false,
        interval,
    }
}

/// A resolver that knows no host.
struct NoSuchHost(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl reqwest::dns::Resolve for NoSuchHost {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Box::pin(async { Err("failed to lookup address information: Name or service not known".into()) })
    }
}

/// The probe resolves names through the client's resolver: a name that does not resolve
/// stops it after one request as no portal, not as a model it could not read.
#[tokio::test]
async fn a_name_that_does_not_resolve_stops_the_probe_as_no_portal() {
    let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let client = Client::builder(AccountDomain::parse("no-such-account").unwrap(), Secret::new("k"))
        .dns_resolver(std::sync::Arc::new(NoSuchHost(lookups.clone())))
        .build()
        .unwrap();
    let target = Target {
        client,
        domain: "no-such-account".into(),
        include_domain: false,
        interval: Duration::ZERO,
    };
    let report = run(target, |_, _| {}).await.unwrap();
    assert_eq!(
        (
            report.outcome.as_str(),
            report.outcome_reason.as_deref(),
            report.requests.sent
        ),
        ("stopped", Some("no Flowlu portal answered at this address"), 1)
    );
    assert_eq!(lookups.load(std::sync::atomic::Ordering::Relaxed), 1);
}

fn refusal(status: u16, retry_after: Option<u64>) -> Refusal {
    let mut headers = Map::new();
    if let Some(r) = retry_after {
        headers.insert("retry-after".into(), json!(r));
    }
    Refusal {
        status,
        error_code: None,
        connector_class: "rate_limited",
        body: json!("text"),
        rate: true,
        headers,
    }
}

#[test]
fn a_rate_refusal_slows_the_rest_down() {
    let mut session = Session::new(target(Duration::from_secs(2)), 10);
    session.note_rate_refusal(&refusal(429, None));
    assert_eq!(session.interval, Duration::from_secs(4), "doubled");
    session.note_rate_refusal(&refusal(429, Some(30)));
    assert_eq!(session.interval, Duration::from_secs(30), "Retry-After followed");
    session.note_rate_refusal(&refusal(200, Some(3600)));
    assert_eq!(session.interval, Duration::from_secs(120), "at most two minutes");
    assert_eq!(session.rate_refusals[0].form, "http_429");
    assert_eq!(session.rate_refusals[2].form, "json_error_string");
}

fn readable(stream: &str, fields: Value) -> Value {
    json!({"stream": stream, "access": "readable", "served": 3, "fields": fields})
}

fn seen(types: &[&str], shapes: &[&str]) -> Value {
    json!({"types": types, "string_shapes": shapes, "blank": 0, "zero_dates": 0})
}

#[test]
fn compare_names_what_contradicts_the_stream_schemas() {
    let report = json!({
        "models": [
            readable("crm_account", json!({
                "id": seen(&["integer"], &[]),
                "updated_date": seen(&["string"], &["datetime", "zero_datetime"]),
                "cf_4": seen(&["boolean"], &[]),
                "alias_of_cf_8": seen(&["string"], &["text"]),
                "alias_of_cf_8_value": seen(&["integer"], &[]),
            })),
            readable("crm_lead", json!({
                "id": seen(&["boolean"], &[]),
                "cf_9": seen(&["string"], &["text"]),
                "cf_12": seen(&["integer"], &[]),
                // Declared as text: blank and zero dates are no difference.
                "closing_date": seen(&["string"], &["blank", "date", "zero_date"]),
            })),
            readable("st_projects", json!({"id": seen(&["string"], &["integer_text"]), "updated_date": seen(&["string"], &["datetime"])})),
        ],
        "custom_fields": {"fields": [
            {"key": "cf_4", "type": "number", "module": "crm", "model": "account", "seen_in_streams": ["crm_account"]},
            {"key": "cf_8", "type": "select", "module": "crm", "model": "account", "api_use_alias": true,
                "seen_in_streams": ["crm_account"]},
            {"key": "cf_9", "type": "text", "module": "st", "model": "project", "seen_in_streams": ["crm_lead"]},
            {"key": "cf_12", "type": "text", "module": "crm", "model": "no_such_model", "fieldset_id": 3,
                "seen_in_streams": ["crm_lead"]},
        ]},
    });
    let report: Report = serde_json::from_value(report).unwrap();
    let topics: Vec<String> = compare(&report).into_iter().map(|d| d.topic).collect();
    assert_eq!(
        topics,
        [
            "format:crm_account.updated_date",
            "schema:crm_account.cf_4",
            "schema:crm_account.alias_of_cf_8_value",
            "cursor:crm_account.updated_date",
            "schema:crm_lead.id",
            "schema:crm_lead.cf_12",
            "cursor:crm_lead.updated_date",
            "schema:st_projects.id",
            "custom_field:cf_9",
        ]
    );
}

#[test]
fn custom_field_rows_report_how_they_join_not_their_text() {
    let mut probe = survey::Probe::default();
    probe.read_custom_fields(&[
        json!({"id": 4, "name": "Contract with ACME", "alias": "acme_contract", "api_use_alias": "1",
            "type": "number", "module": "crm", "model": "account", "fieldset_id": 5}),
        json!({"id": "9", "name": "x", "type": "Free Text!", "module": "st", "model": "project"}),
        json!({"id": 11, "name": "VIP tier", "alias": "vip_tier", "api_use_alias": 1, "type": "select",
            "module": "crm", "model": "no_such_model", "fieldset_id": "3"}),
    ]);
    assert_eq!(
        serde_json::to_value(&probe.custom_rows).unwrap(),
        json!([
            {"key": "cf_4", "type": "number", "module": "crm", "model": "account", "fieldset_id": 5,
                "api_use_alias": true, "has_alias": true},
            {"key": "cf_9", "type": "(other)", "module": "st", "model": "project", "fieldset_id": null,
                "api_use_alias": null, "has_alias": false},
            {"key": "cf_11", "type": "select", "module": "crm", "model": "no_such_model", "fieldset_id": 3,
                "api_use_alias": true, "has_alias": true},
        ])
    );
    assert_eq!(
        probe.naming.aliases.get("acme_contract").map(String::as_str),
        Some("cf_4")
    );
    for (stream, record) in [
        ("crm_account", json!({"id": 1, "acme_contract": 3})),
        (
            "crm_lead",
            json!({"id": 2, "vip_tier": "2", "vip_tier_value": "Gold"}),
        ),
        ("st_projects", json!({"id": 3, "cf_9": ""})),
    ] {
        let mut fields = Fields::default();
        fields.absorb(
            &record,
            crate::base::streams::model(stream).unwrap(),
            &probe.naming,
        );
        probe.fields.insert(stream, fields);
    }
    assert_eq!(
        probe.fields["crm_lead"].to_report()["alias_of_cf_11_value"].types,
        ["string"]
    );
    let joins = probe.custom_joins();
    let how: Vec<Value> = joins
        .fields
        .iter()
        .map(|row| {
            json!([
                row.joins_streams,
                row.joined_by,
                row.seen_in_streams,
                row.value_key_seen
            ])
        })
        .collect();
    assert_eq!(
        how,
        [
            json!([["crm_account"], "module_model", ["crm_account"], false]),
            json!([["st_projects"], "module_model", ["st_projects"], false]),
            json!([["crm_lead"], "fieldset_id", ["crm_lead"], true]),
        ]
    );
    let text = format!(
        "{}{}",
        serde_json::to_string(&joins).unwrap(),
        serde_json::to_string(&probe.fields["crm_lead"].to_report()).unwrap()
    );
    for customer in ["acme", "vip", "Gold", "VIP"] {
        assert!(!text.contains(customer), "{text}");
    }
}

#[test]
fn the_plan_is_announced_exactly() {
    assert_eq!(plan_budget(MODELS.len()), MODELS.len() + 4 + 17);
    let columns: BTreeSet<&str> = MODELS.iter().filter_map(|m| Some(m.cursor?.0)).collect();
    assert_eq!(
        columns,
        CURSOR_COLUMNS.iter().copied().collect(),
        "one experiment per cursor column"
    );
    assert_eq!(plan_duration(3, Duration::from_secs(2)), Duration::from_secs(4));
    assert_eq!(plan_duration(0, Duration::from_secs(2)), Duration::ZERO);
}

/// Header values become numbers or one of the fixed forms: a gateway header naming the
/// key or the account never reaches the report.
#[test]
fn header_values_are_numbers_or_a_known_form() {
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("retry-after", "30"),
        ("x-ratelimit-limit", " 10 "),
        ("x-ratelimit-remaining", "0.5"),
        ("x-ratelimit-reset", "Sun, 06 Nov 1994 08:49:37 GMT"),
        ("x-ratelimit-scope", "key=canary-key-7d1e5f0a9b3c"),
        ("x-ratelimit-account", "acme"),
        ("ratelimit-policy", "10;w=1"),
        ("x-rate-limit-huge", "123456789012345678901234567890"),
        ("x-other", "5"),
    ] {
        headers.insert(
            reqwest::header::HeaderName::from_static(name),
            reqwest::header::HeaderValue::from_str(value).unwrap(),
        );
    }
    assert_eq!(
        Value::Object(rate_headers(&headers)),
        json!({
            "retry-after": 30,
            "x-ratelimit-limit": 10,
            "x-ratelimit-remaining": 0.5,
            "x-ratelimit-reset": "http_date",
            "x-ratelimit-scope": "not_shown",
            "x-ratelimit-account": "not_shown",
            "ratelimit-policy": "not_shown",
            "x-rate-limit-huge": "not_shown",
        })
    );
}
