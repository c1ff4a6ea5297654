//! The whole flow against the embedded local Flowlu stand-in, no account needed:
//!
//! ```sh
//! cargo run -p connector-flowlu --example quickstart
//! ```
//!
//! form schema -> check a good and a bad credential -> discover -> incremental read of two
//! streams -> change data -> read again from the saved state (only the changes arrive) ->
//! write leads with their real fields, link them to an account, read them back -> summary.

use std::collections::BTreeMap;
use std::time::Instant;

use connector_core::{
    ConfiguredCatalog, Credential, DestinationSyncMode, Outcome, Record, Sink, SinkEvent, SinkInput, Source,
    SourceEvent, SourceState, SyncMode, Validation,
};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSink;
use connector_flowlu::FlowluSource;
use flowlu_emulator::{Emulator, EmulatorConfig, MutationPlan};
use futures::StreamExt;
use serde_json::{json, Value};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const STREAMS: [&str; 2] = ["crm_account", "task_tasks"];

#[tokio::main]
async fn main() -> Result<()> {
    let started = Instant::now();
    let emulator = Emulator::start(EmulatorConfig {
        seed: 42,
        records_per_model: 1_000,
        ..Default::default()
    })
    .await?;
    step(
        1,
        &format!("Started the local Flowlu stand-in at {}", emulator.base_url()),
    );

    step(2, "The credential form a host renders");
    let form = FlowluCredential::form()?;
    println!(
        "   JSON Schema: schemas/flowlu/credential.schema.json (RJSF uiSchema: credential.uischema.json)"
    );
    for (key, prop) in form.schema["properties"].as_object().into_iter().flatten() {
        let required = form.schema["required"]
            .as_array()
            .is_some_and(|r| r.contains(&json!(key)));
        println!(
            "   - {:<15} {}{}",
            key,
            prop["title"].as_str().unwrap_or(""),
            if required { " (required)" } else { "" }
        );
    }

    step(3, "Checking credentials");
    let good = credential(&emulator, emulator.api_key())?;
    let bad = credential(&emulator, "not-a-real-key")?;
    for (label, cred) in [("good key", &good), ("bad key", &bad)] {
        match cred.validate().await {
            Validation::Valid { .. } => println!("   {label}: connected"),
            Validation::Invalid { failure, .. } => {
                println!("   {label}: {:?} error: {}", failure.class, failure.message)
            }
        }
    }

    step(4, "Discovering streams");
    let source: Box<dyn Source> = Box::new(FlowluSource::from_credential(&good)?);
    let catalog = source.discover().await.map_err(|f| f.message)?;
    let incremental = catalog
        .streams
        .iter()
        .filter(|s| s.supported_sync_modes.contains(&SyncMode::Incremental))
        .count();
    println!(
        "   {} streams ({} incremental), for example {}",
        catalog.streams.len(),
        incremental,
        STREAMS.join(", ")
    );

    let mut configured = ConfiguredCatalog::from_catalog(&catalog);
    configured
        .streams
        .retain(|s| STREAMS.contains(&s.stream.name.as_str()));

    step(5, "First incremental read");
    let first = read(source.as_ref(), &configured, &SourceState::default()).await;
    first.print();

    step(
        6,
        "Changing data in the stand-in: 5 updates and 3 new records per stream",
    );
    for (module, model) in [("crm", "account"), ("task", "tasks")] {
        let summary = emulator.mutate(
            module,
            model,
            7,
            MutationPlan {
                updates: 5,
                deletes: 0,
                inserts: 3,
            },
        )?;
        println!(
            "   {module}/{model}: updated {:?}, inserted {:?}",
            summary.updated, summary.inserted
        );
    }

    step(7, "Second incremental read, from the saved state");
    let second = read(source.as_ref(), &configured, &first.state).await;
    second.print();
    println!(
        "   only the changes arrived: {}",
        if second.records.values().all(|n| *n == 8) {
            "yes"
        } else {
            "NO"
        }
    );

    step(
        8,
        "Writing three leads with their real fields, linking each to an account, reading them back",
    );
    let sink: Box<dyn Sink> = Box::new(FlowluSink::from_credential(&good)?);
    let created = write_leads(sink.as_ref(), &catalog).await?;
    let client = good.client()?;
    for id in &created {
        let lead = client.get("crm", "lead", *id).await?;
        let state = match lead.get("active").and_then(Value::as_i64) {
            Some(1) => "in progress",
            Some(2) => "lost",
            Some(3) => "won",
            _ => "?",
        };
        println!(
            "   read back lead {id}: {:?}, budget {}, {state}, stage {}, customer {}, from {} to {}",
            lead.get("name").and_then(Value::as_str).unwrap_or("?"),
            lead.get("budget").unwrap_or(&Value::Null),
            lead.get("pipeline_stage_id").unwrap_or(&Value::Null),
            lead.get("customer_id").unwrap_or(&Value::Null),
            lead.get("start_date").unwrap_or(&Value::Null),
            lead.get("deadline").unwrap_or(&Value::Null),
        );
    }

    step(9, "Summary");
    println!("   streams discovered     {}", catalog.streams.len());
    println!(
        "   first read             {} records",
        first.records.values().sum::<u64>()
    );
    println!(
        "   second read            {} records (the changes only)",
        second.records.values().sum::<u64>()
    );
    println!("   leads written          {}", created.len());
    println!("   requests served        {}", emulator.stats().total);
    println!("   time                   {:.2?}", started.elapsed());
    emulator.shutdown().await;
    Ok(())
}

fn step(n: u32, title: &str) {
    println!("\n{n}. {title}");
}

fn credential(emulator: &Emulator, key: &str) -> Result<FlowluCredential> {
    let value = json!({"name": "Quickstart", "account_domain": "demo", "api_key": key});
    Ok(FlowluCredential::from_config(&value)?.with_base_url(emulator.base_url()))
}

/// What one read produced.
struct ReadResult {
    records: BTreeMap<String, u64>,
    state: SourceState,
}

impl ReadResult {
    fn print(&self) {
        for (stream, count) in &self.records {
            let state = self.state.get(stream).map(Value::to_string).unwrap_or_default();
            println!("   {stream:<12} {count:>5} records; saved state {state}");
        }
    }
}

async fn read(source: &dyn Source, catalog: &ConfiguredCatalog, state: &SourceState) -> ReadResult {
    let mut result = ReadResult {
        records: BTreeMap::new(),
        state: state.clone(),
    };
    let mut events = source.read_parsed(catalog, state);
    while let Some(event) = events.next().await {
        match event {
            SourceEvent::Record(r) => *result.records.entry(r.stream).or_default() += 1,
            SourceEvent::Checkpoint(c) => {
                result.records.entry(c.stream.clone()).or_default();
                result.state.streams.insert(c.stream, c.state);
            }
            SourceEvent::Error { stream, failure } => println!("   error in {stream:?}: {}", failure.message),
            _ => {}
        }
    }
    result
}

async fn write_leads(sink: &dyn Sink, catalog: &connector_core::Catalog) -> Result<Vec<u64>> {
    let mut configured = ConfiguredCatalog::from_catalog(catalog);
    configured
        .streams
        .retain(|s| s.stream.name == "crm_lead" || s.stream.name == "crm_lead_accounts");
    for s in &mut configured.streams {
        s.destination_sync_mode = DestinationSyncMode::Append;
    }
    // Flowlu's own names: `active` 1 in progress, money as a number, date-only dates, the
    // pipeline stage and the account (`customer_id`) by id.
    let leads = [
        ("Website redesign", 12_500.0, 1, "2025-02-01", "2025-03-31", 4),
        ("Annual support plan", 4_800.5, 2, "2025-02-10", "2025-12-31", 7),
        ("Onboarding workshop", 950.0, 3, "2025-03-03", "2025-03-07", 9),
    ];
    let inputs: Vec<SinkInput> = leads
        .iter()
        .map(|(name, budget, stage, start, deadline, customer)| {
            SinkInput::Record(Record {
                stream: "crm_lead".into(),
                data: json!({"name": name, "budget": budget, "active": 1, "pipeline_id": 1,
                    "pipeline_stage_id": stage, "customer_id": customer, "assignee_id": 1,
                    "start_date": start, "deadline": deadline}),
            })
        })
        .chain(std::iter::once(SinkInput::Checkpoint(json!({"written": 3}))))
        .collect();
    let created = write_and_report(sink, &configured, inputs, "lead").await?;
    // Each lead's link to its account, in crm/lead_accounts.
    let links: Vec<SinkInput> = created
        .iter()
        .zip(leads.iter())
        .map(|(lead, (.., customer))| {
            SinkInput::Record(Record {
                stream: "crm_lead_accounts".into(),
                data: json!({"lead_id": lead, "account_id": customer, "account_type": 1}),
            })
        })
        .collect();
    write_and_report(sink, &configured, links, "lead-to-account link").await?;
    Ok(created)
}

async fn write_and_report(
    sink: &dyn Sink,
    configured: &ConfiguredCatalog,
    inputs: Vec<SinkInput>,
    what: &str,
) -> Result<Vec<u64>> {
    let mut events = sink.write(configured, futures::stream::iter(inputs).boxed());
    let mut created = Vec::new();
    while let Some(event) = events.next().await {
        match event {
            SinkEvent::Outcome(o) => match &o.outcome {
                Outcome::Created { id } => {
                    println!("   record {} -> created {what} {id}", o.sequence);
                    created.push(id.parse()?);
                }
                other => println!("   record {} -> {other:?}", o.sequence),
            },
            SinkEvent::CheckpointAck(state) => println!("   checkpoint acknowledged: {state}"),
            SinkEvent::Log { .. } | SinkEvent::Wait(_) => {}
        }
    }
    Ok(created)
}
