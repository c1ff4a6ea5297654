//! The fault soak: full reads and a mixed write through the local stand-in while it injects
//! 5xx, 429, dropped connections, truncated bodies and jittered latency, each checked against
//! the stand-in's own records.
//!
//! * **Read**: every stream of [`READ_STREAMS`] (incremental and full refresh) is read in full
//!   by [`FlowluSource`]; the records read must be exactly the stand-in's: no id missing, no id
//!   twice, every record byte-for-byte the stand-in's; every stream ends `COMPLETE` with no error.
//! * **Write**: one `write` of a mixed input through [`FlowluSink`]: upserts by e-mail (some
//!   e-mails twice), plain creates, updates by id and deletes by id, with a checkpoint every
//!   100 records. Every outcome is checked against the stand-in's final state; a record present
//!   more than once is allowed only where an outcome said `unknown`; every checkpoint is
//!   acknowledged, in order. During the write a second client creates accounts carrying
//!   e-mails the input upserts later and gives existing accounts such e-mails (older than the
//!   write's staleness bound at every later decision): none may be duplicated.
//!
//! Bounded: loopback only, a deadline per phase and a cap on requests per phase. The `soak`
//! example runs it at full size; `tests/it/soak.rs` runs a reduced one in CI.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use connector_core::{
    ConfiguredCatalog, Credential, Outcome, Record, Sink, SinkEvent, SinkInput, Source, SourceEvent,
    SourceState, StreamStatus,
};
use connector_flowlu::FlowluCredential;
use connector_flowlu::FlowluSource;
use connector_flowlu::{FlowluSink, StalenessClock};
use connector_flowlu::{Limiter, LimiterConfig, RetryPolicy};
use flowlu_emulator::{Emulator, EmulatorConfig, Faults, Latency};
use futures::StreamExt;
use serde_json::{json, Value};

/// The streams read: `(stream, module, model, sync mode)`.
pub const READ_STREAMS: &[(&str, &str, &str, &str)] = &[
    ("crm_account", "crm", "account", "incremental"),
    ("crm_lead", "crm", "lead", "incremental"),
    ("task_tasks", "task", "tasks", "incremental"),
    ("crm_pipeline", "crm", "pipeline", "full_refresh"),
    ("fin_invoice", "fin", "invoice", "full_refresh"),
];

/// Page size of the reads.
pub const PAGE_SIZE: usize = 100;

/// The faults the soak injects: 10% 5xx, 5% 429, 2% dropped connections, 1% truncated bodies.
///
/// `Retry-After` is 0 s: a 1 s wait per 429 would only make the soak slower, and honouring
/// `Retry-After` is proven by the limiter's unit tests.
pub fn soak_faults() -> Faults {
    Faults {
        rate_limit: 0.03,
        rate_limit_no_retry_after: 0.02,
        retry_after_secs: 0,
        server_error_500: 0.04,
        bad_gateway_502: 0.03,
        unavailable_503: 0.03,
        drop_mid_body: 0.02,
        truncated_json: 0.01,
        ..Faults::none()
    }
}

/// The size of one soak.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Records in each stream of [`READ_STREAMS`].
    pub records_per_stream: usize,
    /// Records written.
    pub writes: usize,
    /// Latency added by the stand-in to every request.
    pub latency: Latency,
    /// Requests in flight.
    pub concurrency: usize,
    /// The longest a phase (read or write) may take.
    pub deadline: Duration,
}

/// What one read phase did.
#[derive(Debug, Clone, Default)]
pub struct ReadFigures {
    /// Records read (every stream).
    pub records: u64,
    /// Checkpoints emitted.
    pub checkpoints: u64,
    /// Requests the stand-in answered.
    pub requests: u64,
    /// Of which were injected faults (429, 5xx, dropped or truncated).
    pub faulted: u64,
    /// Records the stand-in has that were not read.
    pub lost: u64,
    /// Records read more than once.
    pub repeated: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// What one write phase did.
#[derive(Debug, Clone, Default)]
pub struct WriteFigures {
    /// Outcomes by kind (`created`, `updated`, ...).
    pub outcomes: BTreeMap<&'static str, u64>,
    /// Checkpoints sent and acknowledged (in order).
    pub checkpoints: u64,
    /// Records present more than once in the final state (each under an `unknown` outcome).
    pub duplicates: u64,
    /// Requests the stand-in answered.
    pub requests: u64,
    /// Of which were injected faults (429 and 5xx; dropped and truncated answers are 200s).
    pub faulted: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Creates and edits a second client made during the write: accounts created with, and
    /// existing accounts given, e-mails the input upserts later.
    pub concurrent_changes: u64,
}

/// The figures of one seed.
#[derive(Debug, Clone)]
pub struct SeedFigures {
    /// The stand-in's seed (data and fault decisions).
    pub seed: u64,
    /// The read phase.
    pub read: ReadFigures,
    /// The write phase.
    pub write: WriteFigures,
}

/// Write streams and their seeded record counts (updates and deletes need records to touch).
fn write_targets(config: &SoakConfig) -> (usize, usize) {
    let updates = config.writes / 5;
    let deletes = config.writes / 10;
    (updates, deletes)
}

/// Runs the read then the write phase against a fresh stand-in seeded with `seed`.
pub async fn soak_seed(config: &SoakConfig, seed: u64) -> Result<SeedFigures, String> {
    let (updates, deletes) = write_targets(config);
    let mut model_records: HashMap<String, usize> = READ_STREAMS
        .iter()
        .map(|(_, module, model, _)| (format!("{module}/{model}"), config.records_per_stream))
        .collect();
    model_records.insert("crm/source".into(), deletes);
    let pipelines = model_records.entry("crm/pipeline".into()).or_insert(0);
    *pipelines = (*pipelines).max(updates);
    let emu = Emulator::start(EmulatorConfig {
        seed,
        records_per_model: 3,
        model_records,
        latency: config.latency,
        faults: soak_faults(),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("the stand-in did not start: {e}"))?;
    let read = soak_read(&emu, config).await?;
    emu.reset_stats();
    let write = soak_write(&emu, config, seed).await?;
    emu.shutdown().await;
    Ok(SeedFigures { seed, read, write })
}

fn credential(emu: &Emulator, advanced: Value) -> Result<FlowluCredential, String> {
    let config =
        json!({"name": "soak", "account_domain": "acme", "api_key": emu.api_key(), "advanced": advanced});
    FlowluCredential::from_config(&config)
        .map(|c| c.with_base_url(emu.base_url()))
        .map_err(|e| format!("config: {e}"))
}

/// Fast retries, up to 12 per request. The pace is not learnt: the soak's 429s without
/// `Retry-After` (2% of requests) are independent draws at any rate, not a cap, and a 429 is
/// the form of a rate refusal, so learning from them would pace the soak down to a crawl.
/// Its other faults (5xx, dropped and truncated bodies) teach the pace nothing anyway (the
/// limiter's `failures_that_are_not_rate_refusals_do_not_teach_the_pace`).
fn limiter(concurrency: usize) -> Arc<Limiter> {
    Arc::new(
        Limiter::new(LimiterConfig {
            max_concurrency: concurrency,
            requests_per_second: None,
            retry: RetryPolicy {
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(20),
                max_retries: 12,
                max_total: Duration::from_secs(30),
            },
        })
        .without_pace_learning(),
    )
}

fn faulted(emu: &Emulator) -> u64 {
    let stats = emu.stats();
    [429, 500, 502, 503].map(|s| stats.status_total(s)).iter().sum()
}

fn digest(value: &Value) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

/// Per stream: id -> (times read, digest of the record).
type Seen = HashMap<String, HashMap<u64, (u32, u64)>>;

async fn soak_read(emu: &Emulator, config: &SoakConfig) -> Result<ReadFigures, String> {
    let advanced = json!({"page_size": PAGE_SIZE, "max_concurrency": config.concurrency});
    let source = FlowluSource::from_credential(&credential(emu, advanced)?)
        .map_err(|e| format!("source: {e}"))?
        .with_limiter(limiter(config.concurrency));
    let streams: Vec<Value> = READ_STREAMS
        .iter()
        .map(|(name, _, _, mode)| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": mode}))
        .collect();
    let catalog: ConfiguredCatalog =
        serde_json::from_value(json!({ "streams": streams })).map_err(|e| e.to_string())?;
    let state = SourceState::default();
    let started = Instant::now();
    let mut figures = ReadFigures::default();
    let mut seen: Seen = HashMap::new();
    let mut complete = Vec::new();
    let consume = async {
        let mut events = source.read_parsed(&catalog, &state);
        while let Some(event) = events.next().await {
            match event {
                SourceEvent::Record(record) => {
                    let id = record.data["id"]
                        .as_u64()
                        .ok_or_else(|| format!("{}: a record without a numeric id", record.stream))?;
                    let entry = seen.entry(record.stream).or_default().entry(id).or_default();
                    entry.0 += 1;
                    entry.1 = digest(&record.data);
                    figures.records += 1;
                }
                SourceEvent::Checkpoint(_) => figures.checkpoints += 1,
                SourceEvent::Status {
                    stream,
                    status: StreamStatus::Complete,
                } => complete.push(stream),
                SourceEvent::Error { stream, failure } => {
                    return Err(format!(
                        "{stream:?} failed: {} ({})",
                        failure.message, failure.internal
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    };
    tokio::time::timeout(config.deadline, consume)
        .await
        .map_err(|_| format!("the read did not finish within {:?}", config.deadline))??;
    figures.elapsed = started.elapsed();
    let stats = emu.stats();
    figures.requests = stats.total;
    figures.faulted = faulted(emu);
    // Each page once, plus an empty page per stream, plus retries: a cap well above that.
    let pages = READ_STREAMS.len() as u64 * (config.records_per_stream / PAGE_SIZE + 2) as u64;
    if figures.requests > pages * 2 {
        return Err(format!(
            "{} requests for {pages} pages: retries are not bounded",
            figures.requests
        ));
    }
    for (stream, module, model, _) in READ_STREAMS {
        if !complete.iter().any(|c| c == stream) {
            return Err(format!("{stream} did not end COMPLETE"));
        }
        let got = seen.remove(*stream).unwrap_or_default();
        let expected = crate::all_passed_on(stream, emu.records(module, model));
        let mut lost = 0;
        let mut changed = 0;
        for record in &expected {
            let id = record["id"].as_u64().unwrap_or_default();
            match got.get(&id) {
                None => lost += 1,
                Some((_, d)) if *d != digest(record) => changed += 1,
                Some(_) => {}
            }
        }
        let repeated: u64 = got.values().map(|(n, _)| u64::from(n.saturating_sub(1))).sum();
        let extra = got.len() + lost - expected.len();
        figures.lost += lost as u64;
        figures.repeated += repeated;
        if lost + changed + extra > 0 || repeated > 0 {
            return Err(format!(
                "{stream}: {lost} lost, {repeated} repeated, {changed} differing, {extra} not in the stand-in (of {})",
                expected.len()
            ));
        }
    }
    Ok(figures)
}

/// One input record of the write phase and what the stand-in must show for it.
#[derive(Debug, Clone)]
enum Planned {
    /// Upsert by e-mail on crm_account; `name` is unique per record.
    Upsert { email: String, name: String },
    /// Create on crm_lead; `name` is unique.
    Create { name: String },
    /// Update of crm_pipeline `id` to `name`.
    Update { id: u64, name: String },
    /// Delete of crm_source `id`.
    Delete { id: u64 },
}

impl Planned {
    fn record(&self) -> Record {
        let (stream, data) = match self {
            Planned::Upsert { email, name } => ("crm_account", json!({"email": email, "name": name})),
            Planned::Create { name } => ("crm_lead", json!({"name": name})),
            Planned::Update { id, name } => ("crm_pipeline", json!({"id": id, "name": name})),
            Planned::Delete { id } => ("crm_source", json!({"id": id})),
        };
        Record {
            stream: stream.into(),
            data,
        }
    }
}

/// The write input: 20% updates, 10% deletes, 30% creates, 40% upserts (every fourth upsert
/// repeats an earlier e-mail, so it updates), interleaved.
fn write_plan(emu: &Emulator, config: &SoakConfig, seed: u64) -> Vec<Planned> {
    let (updates, deletes) = write_targets(config);
    let mut pipelines = emu
        .records("crm", "pipeline")
        .into_iter()
        .filter_map(|r| r["id"].as_u64());
    let mut sources = emu
        .records("crm", "source")
        .into_iter()
        .filter_map(|r| r["id"].as_u64());
    let (mut u, mut d, mut upserts) = (0, 0, 0);
    let mut plan = Vec::with_capacity(config.writes);
    for i in 0..config.writes {
        let name = format!("Soak {seed}-{i}");
        let item = match i % 10 {
            0 | 5 if u < updates => pipelines.next().map(|id| {
                u += 1;
                Planned::Update {
                    id,
                    name: name.clone(),
                }
            }),
            7 if d < deletes => sources.next().map(|id| {
                d += 1;
                Planned::Delete { id }
            }),
            1 | 4 | 8 => Some(Planned::Create { name: name.clone() }),
            _ => None,
        };
        let item = item.unwrap_or_else(|| {
            upserts += 1;
            let n = if upserts % 4 == 0 { upserts - 3 } else { upserts };
            Planned::Upsert {
                email: format!("soak.{seed}.{n}@example.org"),
                name,
            }
        });
        plan.push(item);
    }
    plan
}

async fn soak_write(emu: &Emulator, config: &SoakConfig, seed: u64) -> Result<WriteFigures, String> {
    let advanced = json!({"max_concurrency": config.concurrency, "write_rules": [
        {"stream": "crm_account", "mode": "upsert", "match_field": "email"},
        {"stream": "crm_pipeline", "mode": "update"},
        {"stream": "crm_source", "mode": "delete"},
    ]});
    let sink = FlowluSink::from_credential(&credential(emu, advanced)?)
        .map_err(|e| format!("sink: {e}"))?
        .with_limiter(limiter(config.concurrency));
    let streams: Vec<Value> = ["crm_account", "crm_lead", "crm_pipeline", "crm_source"]
        .iter()
        .map(|name| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append"}))
        .collect();
    let catalog: ConfiguredCatalog =
        serde_json::from_value(json!({ "streams": streams })).map_err(|e| e.to_string())?;
    let plan = write_plan(emu, config, seed);
    let clock = StalenessClock::manual();
    let sink = sink.with_staleness_clock(clock.clone());
    let applied = schedule_concurrent_changes(emu, &plan, &clock)?;
    let mut input = Vec::with_capacity(plan.len() + plan.len() / 100);
    let mut checkpoints = 0u64;
    for (i, planned) in plan.iter().enumerate() {
        input.push(SinkInput::Record(planned.record()));
        if i % 100 == 99 {
            input.push(SinkInput::Checkpoint(json!({"checkpoint": checkpoints})));
            checkpoints += 1;
        }
    }
    let started = Instant::now();
    let events: Vec<SinkEvent> = tokio::time::timeout(
        config.deadline,
        sink.write(&catalog, futures::stream::iter(input).boxed())
            .collect(),
    )
    .await
    .map_err(|_| format!("the write did not finish within {:?}", config.deadline))?;
    let mut figures = WriteFigures {
        elapsed: started.elapsed(),
        requests: emu.stats().total,
        faulted: faulted(emu),
        concurrent_changes: applied.load(std::sync::atomic::Ordering::SeqCst),
        ..WriteFigures::default()
    };
    if figures.requests > 6 * plan.len() as u64 {
        return Err(format!(
            "{} requests for {} records: retries are not bounded",
            figures.requests,
            plan.len()
        ));
    }
    let mut outcomes: Vec<Option<Outcome>> = vec![None; plan.len()];
    let mut acked = Vec::new();
    for event in events {
        match event {
            SinkEvent::Outcome(o) => {
                let slot = usize::try_from(o.sequence)
                    .ok()
                    .and_then(|s| outcomes.get_mut(s))
                    .ok_or_else(|| format!("an outcome for unknown record {}", o.sequence))?;
                if slot.replace(o.outcome).is_some() {
                    return Err(format!("record {} has two outcomes", o.sequence));
                }
            }
            SinkEvent::CheckpointAck(state) => acked.push(state["checkpoint"].as_u64()),
            SinkEvent::Log { .. } | SinkEvent::Wait(_) => {}
        }
    }
    // Every checkpoint is acknowledged up to the first record the host must send again (one
    // that failed for a reason outside itself, or `unknown`), none after it: these
    // checkpoints cover every stream.
    let first_resend = outcomes
        .iter()
        .position(|o| o.as_ref().is_some_and(Outcome::must_resend))
        .map_or(u64::MAX, |i| i as u64);
    let expected_acks: Vec<Option<u64>> = (0..checkpoints)
        .filter(|n| (n + 1) * 100 <= first_resend)
        .map(Some)
        .collect();
    if acked != expected_acks {
        return Err(format!(
            "checkpoints acknowledged {acked:?}, sent {checkpoints}, first record to send again {first_resend}"
        ));
    }
    figures.checkpoints = checkpoints;
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.ok_or_else(|| format!("record {i} has no outcome")))
        .collect::<Result<_, _>>()?;
    for (i, outcome) in outcomes.iter().enumerate() {
        *figures.outcomes.entry(outcome.kind()).or_default() += 1;
        if let Outcome::Unknown { message } = outcome {
            eprintln!("seed {seed}, record {i} ({:?}): unknown: {message}", plan[i]);
        }
    }
    figures.duplicates = verify_writes(emu, &plan, &outcomes)?;
    Ok(figures)
}

/// A second client edits the CRM during the write: once the stand-in has answered a tenth
/// of the write's records in requests, it creates accounts carrying e-mails the input
/// upserts only in its second half, gives as many existing accounts such e-mails, and the
/// write's staleness clock passes the bound (the changes are older than it at every later
/// decision). Every outcome is then checked against the final data as before: an upsert of
/// such an e-mail must update the one record holding it, never duplicate it. Counts the
/// changes made in what it returns.
fn schedule_concurrent_changes(
    emu: &Emulator,
    plan: &[Planned],
    clock: &StalenessClock,
) -> Result<Arc<std::sync::atomic::AtomicU64>, String> {
    let mut first_seen: HashMap<&str, usize> = HashMap::new();
    for (i, planned) in plan.iter().enumerate() {
        if let Planned::Upsert { email, .. } = planned {
            first_seen.entry(email.as_str()).or_insert(i);
        }
    }
    let mut late: Vec<(usize, String)> = first_seen
        .into_iter()
        .filter(|(_, i)| *i >= plan.len() / 2)
        .map(|(e, i)| (i, e.to_string()))
        .collect();
    late.sort();
    let each = (plan.len() / 100).max(2);
    let theirs: Vec<String> = late
        .iter()
        .step_by(2)
        .take(each)
        .map(|(_, e)| e.clone())
        .collect();
    let taken: Vec<String> = late
        .iter()
        .skip(1)
        .step_by(2)
        .take(each)
        .map(|(_, e)| e.clone())
        .collect();
    let accounts: Vec<u64> = emu
        .records("crm", "account")
        .iter()
        .filter_map(|r| r["id"].as_u64())
        .take(taken.len())
        .collect();
    if accounts.len() < taken.len() {
        return Err("too few accounts for the second client to edit".into());
    }
    let applied = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (count, clock) = (Arc::clone(&applied), clock.clone());
    emu.schedule((plan.len() / 10).max(1) as u64, move |other| {
        for email in &theirs {
            let created = other.create_record(
                "crm",
                "account",
                &[
                    ("name", json!("Created by someone else")),
                    ("email", json!(email)),
                ],
            );
            match created {
                Ok(_) => {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(e) => eprintln!("the second client's create of {email} failed: {e}"),
            }
        }
        for (id, email) in accounts.iter().zip(&taken) {
            match other.edit_record("crm", "account", *id, &[("email", json!(email))]) {
                Ok(()) => {
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                Err(e) => eprintln!("the second client's edit of account {id} failed: {e}"),
            }
        }
        clock.advance(Duration::from_secs(3600));
    });
    Ok(applied)
}

fn outcome_id(outcome: &Outcome) -> Option<u64> {
    match outcome {
        Outcome::Created { id }
        | Outcome::Updated { id }
        | Outcome::Unchanged { id }
        | Outcome::Deleted { id } => id.parse().ok(),
        _ => None,
    }
}

/// Checks every outcome against the stand-in's final state; returns the duplicates found.
fn verify_writes(emu: &Emulator, plan: &[Planned], outcomes: &[Outcome]) -> Result<u64, String> {
    let index = |module: &str, model: &str, field: &str| -> HashMap<String, Vec<Value>> {
        let mut by: HashMap<String, Vec<Value>> = HashMap::new();
        for record in emu.records(module, model) {
            if let Some(key) = record[field].as_str() {
                by.entry(key.to_string()).or_default().push(record);
            }
        }
        by
    };
    let accounts = index("crm", "account", "email");
    let leads = index("crm", "lead", "name");
    let pipelines: HashMap<u64, Value> = emu
        .records("crm", "pipeline")
        .into_iter()
        .filter_map(|r| Some((r["id"].as_u64()?, r)))
        .collect();
    let sources: HashMap<u64, Value> = emu
        .records("crm", "source")
        .into_iter()
        .filter_map(|r| Some((r["id"].as_u64()?, r)))
        .collect();
    // Upserts of one e-mail: all their outcomes, in input order.
    let mut by_email: BTreeMap<&str, Vec<(&str, &Outcome)>> = BTreeMap::new();
    let mut duplicates = 0u64;
    let none = Vec::new();
    for (i, (planned, outcome)) in plan.iter().zip(outcomes).enumerate() {
        let wrong = |why: String| Err(format!("record {i} ({planned:?}) -> {outcome:?}: {why}"));
        match planned {
            Planned::Upsert { email, name } => by_email.entry(email).or_default().push((name, outcome)),
            Planned::Create { name } => {
                let found = leads.get(name).unwrap_or(&none);
                match outcome {
                    Outcome::Created { .. }
                        if found.len() == 1 && found[0]["id"].as_u64() == outcome_id(outcome) => {}
                    Outcome::Unknown { .. } => duplicates += found.len().saturating_sub(1) as u64,
                    Outcome::Failed { .. } if found.is_empty() => {}
                    _ => return wrong(format!("the stand-in holds {} such lead(s)", found.len())),
                }
            }
            Planned::Update { id, name } => {
                let now = pipelines.get(id).and_then(|r| r["name"].as_str());
                match outcome {
                    Outcome::Updated { .. } | Outcome::Unchanged { .. }
                        if now == Some(name.as_str()) && outcome_id(outcome) == Some(*id) => {}
                    Outcome::Failed { .. } if now != Some(name.as_str()) => {}
                    _ => return wrong(format!("the stand-in's name is {now:?}")),
                }
            }
            Planned::Delete { id } => {
                let present = sources.contains_key(id);
                match outcome {
                    Outcome::Deleted { .. } | Outcome::Skipped { .. } if !present => {}
                    Outcome::Failed { .. } if present => {}
                    _ => return wrong(format!("the stand-in still holds it: {present}")),
                }
            }
        }
    }
    for (email, writes) in by_email {
        let found = accounts.get(email).unwrap_or(&none);
        let unknown = writes.iter().any(|(_, o)| matches!(o, Outcome::Unknown { .. }));
        let last_ok = writes.iter().rev().find(|(_, o)| {
            matches!(
                o,
                Outcome::Created { .. } | Outcome::Updated { .. } | Outcome::Unchanged { .. }
            )
        });
        let wrong = |why: &str| {
            Err(format!(
                "e-mail {email}: {why}; outcomes {writes:?}, stand-in {found:?}"
            ))
        };
        if unknown {
            duplicates += found.len().saturating_sub(1) as u64;
            continue;
        }
        match (last_ok, found.as_slice()) {
            (None, []) => {}
            (Some((name, outcome)), [record])
                if record["id"].as_u64() == outcome_id(outcome) && record["name"].as_str() == Some(*name) => {
            }
            (None, _) => return wrong("every write failed, yet the stand-in holds the record"),
            (Some(_), []) => return wrong("written, yet the stand-in holds no such record"),
            (Some(_), [_]) => return wrong("the stand-in's record is not the last one written"),
            (Some(_), _) => return wrong("duplicated without an unknown outcome"),
        }
    }
    Ok(duplicates)
}

/// What a write interrupted by a signal, then resumed from its last acknowledged checkpoint as
/// a host would, did ([`soak_signal`]).
#[derive(Debug, Clone, Default)]
pub struct SignalFigures {
    /// Records in the input.
    pub records: u64,
    /// Outcomes before the signal.
    pub before_signal: u64,
    /// Records the interrupted write did not send (`not_sent`).
    pub not_sent: u64,
    /// Checkpoints the interrupted write acknowledged.
    pub acked: u64,
    /// Of which cover a record the host must send again (must be 0).
    pub acked_past_resend: u64,
    /// Requests the stand-in served after the signal (answers to requests already sent).
    pub requests_after: u64,
    /// From the signal to the write's last event.
    pub stop: Duration,
    /// Records the stand-in holds twice after the resume, beyond `slipped` (must be 0).
    pub duplicates: u64,
    /// Creates (crm_lead, no match field) applied (or `unknown`) after the last acknowledged
    /// checkpoint and before the signal: the resume sends them again.
    pub resent_creates: u64,
    /// Of which the stand-in holds a second copy after the resume (the resume looks for them
    /// among the model's newest records before its first create).
    pub slipped: u64,
    /// Creates and edits a second client made during the interrupted write
    /// (`schedule_concurrent_changes`).
    pub concurrent_changes: u64,
}

fn write_input(plan: &[Planned], from: usize) -> Vec<SinkInput> {
    let mut input = Vec::new();
    for (i, planned) in plan.iter().enumerate().skip(from) {
        input.push(SinkInput::Record(planned.record()));
        if i % 100 == 99 {
            input.push(SinkInput::Checkpoint(json!({"checkpoint": i / 100})));
        }
    }
    input
}

async fn soak_sink(
    emu: &Emulator,
    config: &SoakConfig,
    clock: &StalenessClock,
) -> Result<(FlowluSink, ConfiguredCatalog), String> {
    let advanced = json!({"max_concurrency": config.concurrency, "write_rules": [
        {"stream": "crm_account", "mode": "upsert", "match_field": "email"},
        {"stream": "crm_pipeline", "mode": "update"},
        {"stream": "crm_source", "mode": "delete"},
    ]});
    let sink = FlowluSink::from_credential(&credential(emu, advanced)?)
        .map_err(|e| format!("sink: {e}"))?
        .with_limiter(limiter(config.concurrency))
        .with_staleness_clock(clock.clone());
    // A resume looks for the creates an earlier run made after its last checkpoint (the
    // settings' `find_earlier_creates`, on by default).
    let streams: Vec<Value> = ["crm_account", "crm_lead", "crm_pipeline", "crm_source"]
        .iter()
        .map(|name| json!({"stream": {"name": name, "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append"}))
        .collect();
    let catalog: ConfiguredCatalog =
        serde_json::from_value(json!({ "streams": streams })).map_err(|e| e.to_string())?;
    Ok((sink, catalog))
}

/// The soak's write with a signal: the mixed input of the write phase, under the same faults,
/// interrupted once a third of the records have their outcomes, while a second client creates
/// and edits accounts the input upserts later (`schedule_concurrent_changes`: before the
/// signal, once a tenth of the records' requests are answered); then the host's resume: every
/// record after the last acknowledged checkpoint sent again, uninterrupted. Checked: every
/// record has one outcome, no checkpoint is acknowledged past a record that must be sent
/// again, no record the interrupted write called `not_sent` reached the stand-in (creates and
/// deletes), and after the resume every outcome holds in the stand-in with no duplicate but
/// the creates that slipped through (counted).
pub async fn soak_signal(config: &SoakConfig, seed: u64) -> Result<SignalFigures, String> {
    let (updates, deletes) = write_targets(config);
    let emu = Emulator::start(EmulatorConfig {
        seed,
        records_per_model: 3,
        model_records: [
            ("crm/source".to_string(), deletes),
            ("crm/pipeline".to_string(), updates),
            // The accounts the second client gives e-mails the input upserts later.
            ("crm/account".to_string(), (config.writes / 100).max(2)),
        ]
        .into(),
        latency: config.latency,
        faults: soak_faults(),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("the stand-in did not start: {e}"))?;
    let plan = write_plan(&emu, config, seed);
    let clock = StalenessClock::manual();
    let applied = schedule_concurrent_changes(&emu, &plan, &clock)?;
    let (sink, catalog) = soak_sink(&emu, config, &clock).await?;
    let write = sink.prepare(&catalog).await.map_err(|e| e.message)?;
    let mut events = write.write(futures::stream::iter(write_input(&plan, 0)).boxed());
    let mut figures = SignalFigures {
        records: plan.len() as u64,
        ..SignalFigures::default()
    };
    let mut first: Vec<Option<Outcome>> = vec![None; plan.len()];
    let mut acked: Vec<u64> = Vec::new();
    let mut signalled: Option<(Instant, u64)> = None;
    let consume = async {
        while let Some(event) = events.next().await {
            match event {
                SinkEvent::Outcome(o) => {
                    let slot = usize::try_from(o.sequence)
                        .ok()
                        .and_then(|s| first.get_mut(s))
                        .ok_or_else(|| format!("an outcome for unknown record {}", o.sequence))?;
                    if slot.replace(o.outcome).is_some() {
                        return Err(format!("record {} has two outcomes", o.sequence));
                    }
                    figures.before_signal += u64::from(signalled.is_none());
                    if signalled.is_none() && figures.before_signal == plan.len() as u64 / 3 {
                        signalled = Some((Instant::now(), emu.stats().total));
                        write.interrupt("the soak's signal");
                    }
                }
                SinkEvent::CheckpointAck(state) => acked.extend(state["checkpoint"].as_u64()),
                _ => {}
            }
        }
        Ok(())
    };
    tokio::time::timeout(config.deadline, consume)
        .await
        .map_err(|_| format!("the interrupted write did not end within {:?}", config.deadline))??;
    drop(events);
    let (at, served) = signalled.ok_or("the signal never fired")?;
    figures.stop = at.elapsed();
    figures.requests_after = emu.stats().total - served;
    let first: Vec<Outcome> = first
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.ok_or_else(|| format!("record {i} has no outcome")))
        .collect::<Result<_, _>>()?;
    let first_resend = first.iter().position(Outcome::must_resend).unwrap_or(plan.len());
    figures.not_sent = first.iter().filter(|o| o.kind() == "not_sent").count() as u64;
    figures.acked = acked.len() as u64;
    figures.acked_past_resend = acked
        .iter()
        .filter(|n| (*n + 1) as usize * 100 > first_resend)
        .count() as u64;
    // A record not sent is not in the stand-in.
    let leads: Vec<Value> = emu.records("crm", "lead");
    for (planned, outcome) in plan.iter().zip(&first) {
        if outcome.kind() != "not_sent" {
            continue;
        }
        let reached = match planned {
            Planned::Create { name } => leads.iter().any(|l| l["name"] == name.as_str()),
            Planned::Delete { id } => !emu
                .records("crm", "source")
                .iter()
                .any(|r| r["id"].as_u64() == Some(*id)),
            _ => false,
        };
        if reached {
            return Err(format!("{planned:?} was `not_sent`, yet the stand-in shows it"));
        }
    }
    // The host resends every record after the last checkpoint it received.
    let covered = acked.last().map_or(0, |n| (*n as usize + 1) * 100);
    figures.concurrent_changes = applied.load(std::sync::atomic::Ordering::SeqCst);
    let (sink, catalog) = soak_sink(&emu, config, &clock).await?;
    let events: Vec<SinkEvent> = tokio::time::timeout(
        config.deadline,
        sink.write(
            &catalog,
            futures::stream::iter(write_input(&plan, covered)).boxed(),
        )
        .collect(),
    )
    .await
    .map_err(|_| format!("the resumed write did not finish within {:?}", config.deadline))?;
    let mut outcomes: Vec<Option<Outcome>> = first[..covered].iter().cloned().map(Some).collect();
    outcomes.resize(plan.len(), None);
    for event in events {
        if let SinkEvent::Outcome(o) = event {
            let slot = usize::try_from(o.sequence)
                .ok()
                .map(|s| s + covered)
                .and_then(|s| outcomes.get_mut(s))
                .ok_or_else(|| format!("a resumed outcome for unknown record {}", o.sequence))?;
            *slot = Some(o.outcome);
        }
    }
    let outcomes: Vec<Outcome> = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, o)| o.ok_or_else(|| format!("record {i} has no outcome after the resume")))
        .collect::<Result<_, _>>()?;
    // Creates without a match field applied before the signal but after the last checkpoint:
    // the resume creates them again. Counted, then left out of the check.
    let slipped: Vec<bool> = plan
        .iter()
        .zip(&first)
        .enumerate()
        .map(|(i, (p, o))| {
            i >= covered
                && matches!(p, Planned::Create { .. })
                && matches!(o, Outcome::Created { .. } | Outcome::Unknown { .. })
        })
        .collect();
    figures.resent_creates = slipped.iter().filter(|s| **s).count() as u64;
    let leads = emu.records("crm", "lead");
    figures.slipped = plan
        .iter()
        .zip(&slipped)
        .filter(|(_, s)| **s)
        .map(|(p, _)| match p {
            Planned::Create { name } => {
                (leads.iter().filter(|l| l["name"] == name.as_str()).count() as u64).saturating_sub(1)
            }
            _ => 0,
        })
        .sum();
    let kept: Vec<(Planned, Outcome)> = plan
        .iter()
        .cloned()
        .zip(outcomes)
        .zip(&slipped)
        .filter(|(_, s)| !**s)
        .map(|(pair, _)| pair)
        .collect();
    let (kept_plan, kept_outcomes): (Vec<Planned>, Vec<Outcome>) = kept.into_iter().unzip();
    figures.duplicates = verify_writes(&emu, &kept_plan, &kept_outcomes)?;
    emu.shutdown().await;
    Ok(figures)
}
