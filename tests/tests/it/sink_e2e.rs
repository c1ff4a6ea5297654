//! The sink against the local stand-in: write, read back with the client, compare; STATE
//! acknowledgements under concurrency with uneven latency.

use std::sync::Arc;

use connector_core::{ConfiguredCatalog, Credential, Outcome, Sink, SinkEvent, SinkInput};
use connector_flowlu::FlowluSink;
use connector_flowlu::{Client, FlowluCredential};
use flowlu_emulator::{Emulator, EmulatorConfig, Latency};
use futures::StreamExt;
use integration_tests::catalog::Stream;
use integration_tests::flowlu::account_input;
use integration_tests::protocol::{messages_of, record_message, state_message};
use integration_tests::stand_in::StandIn;
use integration_tests::write::traces;
use serde_json::{json, Value};

fn credential(emu: &Emulator, advanced: Value) -> FlowluCredential {
    let config =
        json!({"name": "e2e", "account_domain": "acme", "api_key": emu.api_key(), "advanced": advanced});
    FlowluCredential::from_config(&config)
        .unwrap()
        .with_base_url(emu.base_url())
}

async fn write_all(sink: &FlowluSink, catalog: &ConfiguredCatalog, input: Vec<SinkInput>) -> Vec<SinkEvent> {
    sink.write(catalog, futures::stream::iter(input).boxed())
        .collect()
        .await
}

fn outcomes(events: &[SinkEvent]) -> Vec<(u64, Outcome)> {
    let mut out: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SinkEvent::Outcome(o) => Some((o.sequence, o.outcome.clone())),
            _ => None,
        })
        .collect();
    out.sort_by_key(|(s, _)| *s);
    out
}

async fn read_back(client: &Client, id: &str) -> Value {
    client.get("crm", "account", id.parse().unwrap()).await.unwrap()
}

#[tokio::test]
async fn written_records_read_back_as_sent() {
    let emu = StandIn::new()
        .records_per_model(5)
        .latency(Latency::default())
        .start()
        .await;
    let upsert = credential(
        &emu,
        json!({"write_rules": [{"stream": "crm_account", "mode": "upsert", "match_field": "email"}]}),
    );
    let sink = FlowluSink::from_credential(&upsert).unwrap();
    let client = upsert.client().unwrap();
    let input = vec![
        account_input(json!({"name": "Nord AS", "email": "post@nord.no", "active": true, "phone": "+47 1"})),
        account_input(
            json!({"name": "Sud SA", "email": "info@sud.fr", "active": false, "description": "new"}),
        ),
        // The same e-mail again: updates the first record (never a duplicate).
        account_input(json!({"name": "Nord AS (renamed)", "email": "post@nord.no", "active": true})),
    ];
    let events = write_all(
        &sink,
        &Stream::new("crm_account")
            .destination("append")
            .key("id")
            .configured(),
        input,
    )
    .await;
    let got = outcomes(&events);
    let ids: Vec<String> = got
        .iter()
        .map(|(_, o)| match o {
            Outcome::Created { id } | Outcome::Updated { id } => id.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert!(
        matches!(got[0].1, Outcome::Created { .. }) && matches!(got[2].1, Outcome::Updated { .. }),
        "{got:?}"
    );
    assert_eq!(ids[0], ids[2]);
    assert_eq!(emu.count("crm", "account"), 7);

    let nord = read_back(&client, &ids[0]).await;
    assert_eq!(
        (&nord["name"], &nord["email"], &nord["active"], &nord["phone"]),
        (
            &json!("Nord AS (renamed)"),
            &json!("post@nord.no"),
            &json!(1),
            &json!("+47 1")
        )
    );
    let sud = read_back(&client, &ids[1]).await;
    assert_eq!(
        (&sud["name"], &sud["active"], &sud["description"]),
        (&json!("Sud SA"), &json!(0), &json!("new"))
    );

    // Delete one, then delete it again: deleted, then skipped.
    let delete = FlowluSink::from_credential(&credential(
        &emu,
        json!({"write_rules": [{"stream": "crm_account", "mode": "delete"}]}),
    ))
    .unwrap();
    let events = write_all(
        &delete,
        &Stream::new("crm_account")
            .destination("append")
            .key("id")
            .configured(),
        vec![
            account_input(json!({"id": ids[1]})),
            account_input(json!({"id": ids[1]})),
        ],
    )
    .await;
    let got: Vec<&str> = outcomes(&events).iter().map(|(_, o)| o.kind()).collect();
    assert_eq!(got, ["deleted", "skipped"]);
    assert_eq!(emu.count("crm", "account"), 6);
    emu.shutdown().await;
}

#[tokio::test]
async fn the_stand_in_validation_error_reaches_the_outcome() {
    let emu = StandIn::new()
        .records_per_model(5)
        .latency(Latency::default())
        .start()
        .await;
    let sink = FlowluSink::from_credential(&credential(&emu, json!({}))).unwrap();
    let events = write_all(
        &sink,
        &Stream::new("crm_account")
            .destination("append")
            .key("id")
            .configured(),
        vec![account_input(json!({"name": "X", "email": "not-an-email"}))],
    )
    .await;
    match &outcomes(&events)[..] {
        [(
            0,
            Outcome::Failed {
                code: Some(21),
                fields,
                ..
            },
        )] => {
            assert_eq!(
                fields.get("email").map(String::as_str),
                Some("must be a valid e-mail address")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(emu.count("crm", "account"), 5);
    emu.shutdown().await;
}

#[tokio::test]
async fn states_are_acknowledged_after_their_records_under_concurrency() {
    // Uneven latency makes later records finish before earlier ones.
    let emu = StandIn::new()
        .records_per_model(5)
        .latency(Latency {
            fixed_ms: 0,
            jitter_ms: 15,
        })
        .start()
        .await;
    let sink =
        Arc::new(FlowluSink::from_credential(&credential(&emu, json!({"max_concurrency": 8}))).unwrap());
    let mut input = Vec::new();
    for i in 0..60u64 {
        input.push(account_input(json!({"name": format!("R{i}")})));
        if i % 7 == 6 {
            input.push(SinkInput::Checkpoint(json!({"after": i})));
        }
    }
    let events = write_all(
        &sink,
        &Stream::new("crm_account")
            .destination("append")
            .key("id")
            .configured(),
        input,
    )
    .await;
    let mut finished = std::collections::BTreeSet::new();
    let mut acked = Vec::new();
    let mut out_of_order = false;
    for event in &events {
        match event {
            SinkEvent::Outcome(o) => {
                assert!(matches!(o.outcome, Outcome::Created { .. }), "{o:?}");
                out_of_order |= finished.last().is_some_and(|last| *last > o.sequence);
                finished.insert(o.sequence);
            }
            SinkEvent::CheckpointAck(state) => {
                let after = state["after"].as_u64().unwrap();
                assert!(
                    (0..=after).all(|s| finished.contains(&s)),
                    "state {after} before its records"
                );
                acked.push(after);
            }
            SinkEvent::Log { .. } | SinkEvent::Wait(_) => {}
        }
    }
    assert_eq!(finished.len(), 60);
    assert_eq!(acked, (0..60).filter(|i| i % 7 == 6).collect::<Vec<_>>());
    assert!(out_of_order, "records ran one at a time");
    assert_eq!(emu.count("crm", "account"), 65);
    emu.shutdown().await;
}

/// A rejected key during `write`: a TRACE config_error, exit 1, no STATE after the first
/// refused record (the host sends them again), every record in the reject file, and one
/// request: the read before the first create, which met the refusal.
#[tokio::test]
async fn a_rejected_key_stops_the_write_with_a_config_error_and_no_later_state() {
    use integration_tests::{config_json, run_cli, temp_json};
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 1,
        keys: vec![flowlu_emulator::ApiKey::all_modules("another-key")],
        ..Default::default()
    })
    .await
    .unwrap();
    let config = temp_json(&config_json("acme"));
    let catalog = temp_json(
        &json!({"streams": [{"stream": {"name": "crm_account", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append"}]}),
    );
    let rejects = tempfile::NamedTempFile::new().unwrap();
    let (c, k, r) = (
        config.path().to_str().unwrap(),
        catalog.path().to_str().unwrap(),
        rejects.path().to_str().unwrap(),
    );
    let mut lines = vec![state_message("crm_account", json!({"n": 0})).to_string()];
    for i in 1..=200 {
        lines.push(record_message("crm_account", json!({"name": &format!("Account {i}")})).to_string());
        if i % 50 == 0 {
            lines.push(state_message("crm_account", json!({"n": i})).to_string());
        }
    }
    let run = run_cli(
        &["write", "--config", c, "--catalog", k, "--reject-file", r],
        Some(&emu.base_url()),
        &lines.join("\n"),
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    let traces = traces(&run);
    assert_eq!(
        traces[1],
        (
            "config_error".to_string(),
            format!("Flowlu rejected the API key for {}. Check that you copied the whole key from Portal Settings -> API Settings, that it has not been deleted, and that it belongs to this account. The write stopped: no STATE after the first refused record was acknowledged, so the host sends the refused records again once this is fixed.", emu.local_addr())
        )
    );
    // The first request, the read of the newest records before the first create, met the
    // refusal: its record failed, the 199 others were not sent (counted in the first TRACE).
    let stats = emu.stats();
    assert_eq!(
        (
            stats.path_total("/api/v1/module/crm/account/list"),
            stats.path_total("/api/v1/module/crm/account/create")
        ),
        (1, 0),
        "{stats:?}"
    );
    let sent = 1;
    assert_eq!(traces.len(), 2, "{traces:?}");
    assert_eq!(traces[0].0, "transient_error");
    assert_eq!(
        traces[0].1,
        format!("{} record(s) did not end for their own sake and must be sent again: {} not sent. No STATE after the first of them was echoed (for a per-stream STATE: the first of its stream), so the host sends them again from the last STATE it received: run the sync again once the cause is fixed.", 200 - sent, 200 - sent)
    );
    assert_eq!(
        messages_of(&run, "STATE"),
        [state_message("crm_account", json!({"n": 0}))],
        "only the state before every record"
    );
    let rejected = std::fs::read_to_string(rejects.path()).unwrap();
    assert_eq!(rejected.lines().count(), 200);
    assert!(run.stdout.contains(&format!(
        "write summary: total: created 0, updated 0, unchanged 0, deleted 0, skipped 0, failed {sent}, unknown 0, not sent {}",
        200 - sent
    )));
}

/// A key without the task module: task_tasks stops (a TRACE config_error naming the module,
/// exit 1, none of its later states), crm_account goes on and its states are echoed; a state
/// that is not per stream (LEGACY) after the refusal is withheld too.
#[tokio::test]
async fn a_module_the_key_lacks_stops_that_stream_and_keeps_the_others_states() {
    use integration_tests::{config_json, run_cli, temp_json, CANARY_KEY};
    let emu = Emulator::start(EmulatorConfig {
        records_per_model: 1,
        keys: vec![flowlu_emulator::ApiKey::limited(CANARY_KEY, ["crm"])],
        ..Default::default()
    })
    .await
    .unwrap();
    let config = temp_json(&config_json("acme"));
    let stream = |name: &str| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append"});
    let catalog = temp_json(&json!({"streams": [stream("crm_account"), stream("task_tasks")]}));
    let (c, k) = (config.path().to_str().unwrap(), catalog.path().to_str().unwrap());
    let legacy = json!({"type": "STATE", "state": {"type": "LEGACY", "data": {"crm_account": {"n": 9}}}});
    let input = [
        state_message("crm_account", json!({"n": 0})).to_string(),
        record_message("crm_account", json!({"name": "A0"})).to_string(),
        record_message("task_tasks", json!({"name": "T0"})).to_string(),
        state_message("crm_account", json!({"n": 1})).to_string(),
        record_message("crm_account", json!({"name": "A1"})).to_string(),
        record_message("task_tasks", json!({"name": "T1"})).to_string(),
        state_message("task_tasks", json!({"n": 1})).to_string(),
        record_message("crm_account", json!({"name": "A2"})).to_string(),
        state_message("crm_account", json!({"n": 2})).to_string(),
        legacy.to_string(),
    ];
    let before = emu.count("crm", "account");
    let run = run_cli(
        &["write", "--config", c, "--catalog", k],
        Some(&emu.base_url()),
        &input.join("\n"),
    )
    .await;
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        traces(&run).last().unwrap(),
        &(
            "config_error".to_string(),
            format!("The API key may not use the task module of {}. Allow it for this key in Flowlu: Portal Settings -> API Settings. Writing task_tasks stopped: no STATE after the first refused record was acknowledged, so the host sends the refused records again once this is fixed.", emu.local_addr())
        )
    );
    assert_eq!(
        messages_of(&run, "STATE"),
        [
            state_message("crm_account", json!({"n": 0})),
            state_message("crm_account", json!({"n": 1})),
            state_message("crm_account", json!({"n": 2}))
        ]
    );
    assert_eq!(emu.count("crm", "account"), before + 3);
    assert!(emu.stats().path_total("/api/v1/module/task/tasks/create") <= 2);
}
