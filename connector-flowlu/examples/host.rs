//! How a host platform links the connector: render the form, validate what the user typed,
//! hold the source and the sink as trait objects, read into a channel and write from one.
//!
//! It runs against the embedded stand-in:
//!
//! ```sh
//! cargo run -p connector-flowlu --example host
//! ```

use connector_core::{
    ConfiguredCatalog, Credential, FormDescriptor, Record, Sink, SinkEvent, SinkInput, Source, SourceEvent,
    SourceState, Validation, Wait,
};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use flowlu_emulator::{Emulator, EmulatorConfig};
use futures::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// What the host keeps per connector kind: the form to render.
struct ConnectorKind {
    name: &'static str,
    form: FormDescriptor,
}

#[tokio::main]
async fn main() -> Result<()> {
    let emulator = Emulator::start(EmulatorConfig {
        seed: 1,
        records_per_model: 120,
        ..Default::default()
    })
    .await?;

    // 1. List the connector's form: JSON Schema + RJSF uiSchema (+ JSON Forms uischema), and
    //    the messages an RJSF `transformErrors` shows instead of a regex (JSON Forms reads the
    //    same text from the schema's `errorMessage` with ajv-errors).
    let kinds = [ConnectorKind {
        name: "flowlu",
        form: FlowluCredential::form()?,
    }];
    for kind in &kinds {
        println!("{}: fields {:?}", kind.name, kind.form.ui_schema["ui:order"]);
        println!("{}: error messages {}", kind.name, kind.form.error_messages);
    }

    // 2. A credential value as the form submits it; validate before saving it.
    let submitted = json!({"name": "Sales CRM", "account_domain": "https://demo.flowlu.com/", "api_key": emulator.api_key()});
    let credential = FlowluCredential::from_config(&submitted)?.with_base_url(emulator.base_url());
    match credential.validate().await {
        Validation::Valid { warnings, .. } => println!("credential saved (warnings: {warnings:?})"),
        Validation::Invalid { failure, .. } => return Err(failure.message.into()),
    }

    // 3. The host holds connectors as trait objects; a source and a sink of one account share
    //    its limiter, so together they stay within the account's request limits.
    let flowlu_source = FlowluSource::from_credential(&credential)?;
    let shared = flowlu_source.account().limiter();
    let source: Box<dyn Source> = Box::new(flowlu_source);
    let sink: Box<dyn Sink> = Box::new(FlowluSink::from_credential(&credential)?.with_limiter(shared));

    // 4. Read one stream into a channel; a consumer task could be anything (a warehouse loader).
    let catalog = source.discover().await.map_err(|f| f.message)?;
    let mut configured = ConfiguredCatalog::from_catalog(&catalog);
    configured.streams.retain(|s| s.stream.name == "crm_account");
    let (tx, mut rx) = mpsc::channel::<SourceEvent>(256);
    let consumer = tokio::spawn(async move {
        let (mut records, mut last_state) = (0u64, Value::Null);
        while let Some(event) = rx.recv().await {
            match event {
                // Records come a page at a time, as the exact JSON text Flowlu sent (no parse
                // unless the host wants one: `page.to_records()`, or `source.read_parsed`).
                SourceEvent::Records(page) => records += page.len() as u64,
                SourceEvent::Record(_) => records += 1,
                // A record deleted in Flowlu (streams configured append_dedup, see "Deletes" in
                // the README): remove row `t.id` your own way.
                SourceEvent::Delete(t) => println!("deleted in Flowlu: {} {}", t.stream, t.id),
                SourceEvent::Checkpoint(c) => last_state = c.state, // persist it: the next read resumes here
                _ => {}
            }
        }
        (records, last_state)
    });
    let no_state = SourceState::default(); // or the state saved by the last read
    let mut events = source.read(&configured, &no_state);
    while let Some(event) = events.next().await {
        tx.send(event).await?;
    }
    drop(tx);
    let (records, state) = consumer.await?;
    println!("read {records} accounts; resume state {state}");

    // 5. Write from a channel: the producer sends records, the host reads one outcome per record.
    let mut write_catalog = ConfiguredCatalog::from_catalog(&catalog);
    write_catalog.streams.retain(|s| s.stream.name == "crm_lead");
    let (in_tx, in_rx) = mpsc::channel::<SinkInput>(64);
    tokio::spawn(async move {
        for n in 1..=3 {
            let data = json!({"name": format!("Lead from the host #{n}")});
            let _ = in_tx
                .send(SinkInput::Record(Record {
                    stream: "crm_lead".into(),
                    data,
                }))
                .await;
        }
        let _ = in_tx.send(SinkInput::Checkpoint(json!({"batch": 1}))).await;
    });
    let input = futures::stream::unfold(
        in_rx,
        |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
    );
    let mut outcomes = sink.write(&write_catalog, input.boxed());
    while let Some(event) = outcomes.next().await {
        match event {
            SinkEvent::Outcome(o) => println!("record {} -> {}", o.sequence, serde_json::to_string(&o)?),
            SinkEvent::CheckpointAck(state) => println!("checkpoint {state} is durable"),
            SinkEvent::Log { message, .. } => println!("log: {message}"),
            SinkEvent::Wait(Wait::RateLimited { wait_ms, .. }) => {
                println!("rate limited: waiting {wait_ms} ms")
            }
            SinkEvent::Wait(Wait::Retrying { reason, wait_ms, .. }) => {
                println!("retrying in {wait_ms} ms ({reason})")
            }
        }
    }
    emulator.shutdown().await;
    Ok(())
}
