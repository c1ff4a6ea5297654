//! Values compared by the stream schema's type, on the stand-in, on both paths a write
//! decides `unchanged` by: a lookup per record (a few records) and the index (a write that
//! covers the model). Text is exact (`"1.1"` is not `"1.10"`, `"-0"` not `"0"`, `"100.0"`
//! not `"100"`, case counts); a field the schema declares a number compares as a number.

use std::collections::HashMap;

use connector_core::{ConfiguredCatalog, Credential, Outcome, Record, Sink, SinkEvent, SinkInput};
use connector_flowlu::{FlowluCredential, FlowluSink};
use flowlu_emulator::{Emulator, EmulatorConfig};
use futures::StreamExt;
use integration_tests::fast_limiter;
use integration_tests::stand_in::{accounts_with_email, requests_by_path};
use integration_tests::write;
use serde_json::{json, Value};

const LIST: &str = "/api/v1/module/crm/account/list";

/// The stand-in with 150 accounts, 6 of them (the first with an e-mail) edited by a second
/// client to hold the portal's side of each case; returns every account with an e-mail as
/// (id, name, email) and the input's side of each case.
async fn portal() -> (Emulator, Vec<(u64, String, String)>, Vec<(Value, Outcome)>) {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 3,
        model_records: HashMap::from([("crm/account".to_string(), 150)]),
        ..Default::default()
    })
    .await
    .unwrap();
    let all: Vec<(u64, String, String)> = accounts_with_email(&emu);
    // (portal's fields, sent fields, outcome)
    let cases = [
        (json!({"name": "1.10"}), json!({"name": "1.1"}), true),
        (json!({"name": "0"}), json!({"name": "-0"}), true),
        (json!({"name": "100"}), json!({"name": "100.0"}), true),
        (json!({"name": "Acme"}), json!({"name": "acme"}), true),
        (
            json!({"name": "Acme", "organization_revenue": "12.5"}),
            json!({"name": "Acme", "organization_revenue": "12.50"}),
            false,
        ),
        (
            json!({"name": "Acme", "organization_revenue": "100"}),
            json!({"name": "Acme", "organization_revenue": 100.0}),
            false,
        ),
    ];
    let other = emu.second_client();
    let mut input = Vec::new();
    for ((portal, sent, changed), (id, _, email)) in cases.into_iter().zip(&all) {
        let fields: Vec<(&str, Value)> = portal
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        other.edit_record("crm", "account", *id, &fields).unwrap();
        let mut data = sent;
        data["email"] = json!(email);
        let outcome = if changed {
            Outcome::Updated { id: id.to_string() }
        } else {
            Outcome::Unchanged { id: id.to_string() }
        };
        input.push((data, outcome));
    }
    (emu, all, input)
}

async fn write(emu: &Emulator, input: Vec<Value>) -> Vec<Outcome> {
    let config = json!({"name": "typed", "account_domain": "acme", "api_key": emu.api_key(),
        "advanced": {"write_rules": [{"stream": "crm_account", "mode": "upsert", "match_field": "email"}]}});
    let credential = FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url());
    let sink = FlowluSink::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 3));
    // The catalog's schema declares nothing: the connector's own types of crm_account apply
    // (`name` text, `organization_revenue` a number).
    let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [{
        "stream": {"name": "crm_account", "json_schema": {}},
        "sync_mode": "full_refresh", "destination_sync_mode": "append"
    }]}))
    .unwrap();
    emu.reset_stats();
    let records = input.into_iter().map(|data| {
        SinkInput::Record(Record {
            stream: "crm_account".into(),
            data,
        })
    });
    let events: Vec<SinkEvent> = sink
        .write(&catalog, futures::stream::iter(records).boxed())
        .collect()
        .await;
    let outcomes = write::outcomes(events);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

fn expected_requests(lists: u64, updated: &[u64]) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = updated
        .iter()
        .map(|id| (format!("/api/v1/module/crm/account/update/{id}"), 1))
        .collect();
    v.push((LIST.to_string(), lists));
    v.sort();
    v
}

fn names_sent(emu: &Emulator, input: &[(Value, Outcome)]) {
    let held = emu.records("crm", "account");
    for (data, _) in input {
        let record = held.iter().find(|r| r["email"] == data["email"]).unwrap();
        assert_eq!(record["name"], data["name"], "{data}");
    }
}

#[tokio::test]
async fn text_is_compared_exactly_and_numbers_as_numbers_on_the_lookup_path() {
    let (emu, _, cases) = portal().await;
    let input: Vec<Value> = cases.iter().map(|(d, _)| d.clone()).collect();
    let expected: Vec<Outcome> = cases.iter().map(|(_, o)| o.clone()).collect();
    assert_eq!(write(&emu, input).await, expected);
    let updated: Vec<u64> = expected
        .iter()
        .filter_map(|o| match o {
            Outcome::Updated { id } => id.parse().ok(),
            _ => None,
        })
        .collect();
    // One lookup per record, one update per changed one.
    assert_eq!(requests_by_path(&emu.stats()), expected_requests(6, &updated));
    names_sent(&emu, &cases);
}

#[tokio::test]
async fn text_is_compared_exactly_and_numbers_as_numbers_on_the_index_path() {
    let (emu, all, cases) = portal().await;
    // Every account is written: the cases first, then the others as the portal holds them.
    let mut input: Vec<Value> = cases.iter().map(|(d, _)| d.clone()).collect();
    let mut expected: Vec<Outcome> = cases.iter().map(|(_, o)| o.clone()).collect();
    for (id, name, email) in &all[cases.len()..] {
        input.push(json!({"name": name, "email": email}));
        expected.push(Outcome::Unchanged { id: id.to_string() });
    }
    assert_eq!(write(&emu, input).await, expected);
    let updated: Vec<u64> = expected
        .iter()
        .filter_map(|o| match o {
            Outcome::Updated { id } => id.parse().ok(),
            _ => None,
        })
        .collect();
    // The size probe and two index pages; one update per changed record.
    assert_eq!(requests_by_path(&emu.stats()), expected_requests(3, &updated));
    names_sent(&emu, &cases);
}
