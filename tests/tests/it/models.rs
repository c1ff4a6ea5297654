//! Flowlu's models under their real names, against the stand-in: a lead written with its real
//! fields reads back as written; a lead is linked to an account through `crm/lead_accounts`
//! (written through the sink, read by the source); what Flowlu refuses is refused per field.

use std::collections::BTreeMap;

use connector_core::{
    ConfiguredCatalog, Credential, DestinationSyncMode, Outcome, Record, Sink, SinkEvent, SinkInput, Source,
    SourceEvent, SourceState,
};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use flowlu_emulator::{Emulator, EmulatorConfig};
use futures::StreamExt;
use integration_tests::fast_limiter;
use integration_tests::write;
use serde_json::{json, Value};

fn credential(emu: &Emulator) -> FlowluCredential {
    let config = json!({"name": "models", "account_domain": "acme", "api_key": emu.api_key()});
    FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url())
}

/// The discovered catalog of `streams`, written by appending.
async fn write_catalog(source: &FlowluSource, streams: &[&str]) -> ConfiguredCatalog {
    let catalog = source.discover().await.unwrap();
    let mut configured = ConfiguredCatalog::from_catalog(&catalog);
    configured
        .streams
        .retain(|s| streams.contains(&s.stream.name.as_str()));
    for s in &mut configured.streams {
        s.destination_sync_mode = DestinationSyncMode::Append;
    }
    configured
}

async fn write(sink: &FlowluSink, catalog: &ConfiguredCatalog, records: &[(&str, Value)]) -> Vec<Outcome> {
    let input: Vec<SinkInput> = records
        .iter()
        .map(|(stream, data)| {
            SinkInput::Record(Record {
                stream: (*stream).into(),
                data: data.clone(),
            })
        })
        .collect();
    let events: Vec<SinkEvent> = sink
        .write(catalog, futures::stream::iter(input).boxed())
        .collect()
        .await;
    let outcomes = write::outcomes(events);
    outcomes.into_iter().map(|(_, o)| o).collect()
}

fn created(outcome: &Outcome) -> u64 {
    match outcome {
        Outcome::Created { id } => id.parse().unwrap(),
        other => panic!("not created: {other:?}"),
    }
}

#[tokio::test]
async fn a_lead_written_with_its_real_fields_reads_back_and_links_to_its_account() {
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 5,
        ..Default::default()
    })
    .await
    .unwrap();
    let credential = credential(&emu);
    let source = FlowluSource::from_credential(&credential)
        .unwrap()
        .with_limiter(fast_limiter(4, 10));
    let sink = FlowluSink::from_credential(&credential).unwrap();
    let client = credential.client().unwrap();
    let catalog = write_catalog(&source, &["crm_lead", "crm_lead_accounts"]).await;
    assert_eq!(catalog.streams.len(), 2);

    let lead = json!({
        "name": "Website redesign", "description": "Phase 1: new landing pages",
        "active": 1, "pipeline_id": 2, "pipeline_stage_id": 3, "source_id": 1,
        "customer_id": 4, "assignee_id": 2, "budget": 12500.5,
        "start_date": "2025-02-01", "deadline": "2025-03-31",
    });
    let outcomes = write(&sink, &catalog, &[("crm_lead", lead.clone())]).await;
    let id = created(&outcomes[0]);
    assert_eq!(id, 6);
    let got = client.get("crm", "lead", id).await.unwrap();
    for (field, want) in lead.as_object().unwrap() {
        assert_eq!(&got[field], want, "{field}");
    }
    // What the write did not set is not set: a blank date, no loss reason.
    assert_eq!(
        (&got["closing_date"], &got["closing_status_id"]),
        (&json!(""), &Value::Null)
    );

    // Link the lead to its account, and to a contact of it.
    let links = [
        (
            "crm_lead_accounts",
            json!({"lead_id": id, "account_id": 4, "account_type": 1}),
        ),
        (
            "crm_lead_accounts",
            json!({"lead_id": id, "account_id": 5, "account_type": 2}),
        ),
    ];
    let outcomes = write(&sink, &catalog, &links).await;
    let link_ids: Vec<u64> = outcomes.iter().map(created).collect();
    assert_eq!(link_ids, [6, 7]);
    let link = client.get("crm", "lead_accounts", 6).await.unwrap();
    assert_eq!(
        link,
        json!({"id": 6, "lead_id": 6, "account_id": 4, "account_type": 1})
    );

    // The source reads the links back, typed as the schema says.
    let mut read_catalog = ConfiguredCatalog::from_catalog(&source.discover().await.unwrap());
    read_catalog
        .streams
        .retain(|s| s.stream.name == "crm_lead_accounts");
    let events: Vec<SourceEvent> = source
        .read_parsed(&read_catalog, &SourceState::default())
        .collect()
        .await;
    let by_lead: BTreeMap<u64, Vec<u64>> = events
        .iter()
        .filter_map(|e| match e {
            SourceEvent::Record(r) => Some(&r.data),
            _ => None,
        })
        .fold(BTreeMap::new(), |mut m, r| {
            m.entry(r["lead_id"].as_u64().unwrap())
                .or_default()
                .push(r["account_id"].as_u64().unwrap());
            m
        });
    assert_eq!(by_lead.get(&id), Some(&vec![4, 5]));
    assert_eq!(by_lead.values().map(Vec::len).sum::<usize>(), 7);

    // Flowlu's own refusals: a deal state out of 1/2/3, a link without its lead.
    let bad = [
        ("crm_lead", json!({"name": "Lost cause", "active": 7})),
        ("crm_lead_accounts", json!({"account_id": 4, "account_type": 1})),
    ];
    // Sent as they are (not looked for among the newest records first: the link, holding only
    // account 4 and type 1, would be taken for link 6, which holds both values).
    let sink = sink.finding_earlier_creates(false);
    let outcomes = write(&sink, &catalog, &bad).await;
    let fields: Vec<Vec<(String, String)>> = outcomes
        .iter()
        .map(|o| match o {
            Outcome::Failed {
                code: Some(21),
                fields,
                ..
            } => fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            other => panic!("not refused: {other:?}"),
        })
        .collect();
    assert_eq!(
        fields,
        [
            vec![("active".to_string(), "must be one of 1, 2, 3".to_string())],
            vec![("lead_id".to_string(), "is required".to_string())],
        ]
    );
    assert_eq!(
        (emu.count("crm", "lead"), emu.count("crm", "lead_accounts")),
        (6, 7)
    );
    emu.shutdown().await;
}
