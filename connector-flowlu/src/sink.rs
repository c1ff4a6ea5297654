//! The Flowlu sink: create, update, upsert and delete records, with exactly one outcome for
//! every input record.
//!
//! * **Modes**, per stream ([`WritePlan`]): an explicit write rule of the settings wins;
//!   otherwise the catalog's `append` creates and `append_dedup` upserts on the primary key
//!   (`id`, or a single other field used as a match field). `overwrite` is refused: the sink
//!   never deletes records it was not given.
//! * **Checks before any request**: the record is an object, its `id` fits the mode, its fields
//!   fit the stream schema ([`crate::precheck`]) and encode ([`crate::encode`]); otherwise it
//!   fails with a per-field reason and nothing is sent.
//! * **Safe retries only**, through the account's [`Limiter`]: get/list, update and delete are
//!   retried on transient failures; a create is retried only when it surely did not reach
//!   Flowlu (429, no connection). After an ambiguous failure (sent, no answer: a dropped
//!   connection, a timeout, a 5xx) the create is looked for: by its match field when it has
//!   one, else among the newest records (`order_by[desc][]=id`, above the highest id known
//!   before it was sent, matching the values sent). Found: `created` with its id; surely
//!   absent: sent again (at most [`MAX_CREATE_ATTEMPTS`] times); `unknown` only when the
//!   portal cannot tell (the look failed, more records appeared than it reads, or, before any
//!   id of the stream was known, a record with the same values exists).
//! * **Request economy** ([`crate::economy`]): per stream, a lookup per record or one read of
//!   the model into an index ([`crate::index`]), whichever costs fewer requests. A record
//!   whose sent fields already hold the portal's values ([`crate::compare`]) is `unchanged`,
//!   with its id, and nothing is sent. A stale index loses nothing: an update answered "not
//!   found" (deleted meanwhile) looks the record up again and creates it; before a create from
//!   the index, the records created since it was last read are read, unless that read began
//!   after the record was taken from the input (one read serves a batch of creates), so a
//!   record someone else created meanwhile with the same match value is updated, not
//!   duplicated.
//! * **Order**: records run concurrently (bounded by the limiter), except that records with the
//!   same id or match value run one after the other in input order (no duplicate from two
//!   concurrent upserts of one e-mail). A checkpoint is acknowledged once every record before it
//!   has an outcome, and checkpoints are acknowledged in input order.
//! * **Upsert by match field**: `list` with `filter[field]=value` (or the index); zero matches
//!   creates, one updates it (unless unchanged), more fails. A portal that ignores the filter (answers records that do not
//!   match) fails the record rather than risk a duplicate.
//! * **Delete** of a record that no longer exists is `skipped` (the wanted end state holds).
//! * **Fatal refusals stop early**: after a rejected key or an unknown account, later records
//!   fail at once with the reason (and after error 22, later records of that stream), instead
//!   of each sending a request that cannot succeed. No checkpoint after the first record such a
//!   refusal touched is acknowledged (for a stream-wide refusal: no checkpoint of that stream,
//!   and no state that is not per stream), so the host sends those records again once the
//!   credential is fixed; the prepared write's [`PreparedWrite::stopped`] tells the caller that it
//!   stopped.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::order::{Acks, Finished, KeyedOrder};
use connector_core::{
    ConfiguredCatalog, ConfiguredStream, DestinationSyncMode, Failure, FailureClass, Outcome, PreparedWrite,
    Record, RecordOutcome, Sink, SinkEvent, SinkInput, SourceEvent, Stopped,
};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::{Map, Value};

use crate::account::Account;
use crate::account::WaitWatch;
use crate::client::Client;
use crate::compare::{record_unchanged, same, sent_fields};
use crate::credential::{internal_detail, FlowluCredential};
use crate::economy::{self, Planned, Strategy, StreamShared, DEFAULT_INDEX_MAX_AGE};
use crate::encode::{check_name, encode_record_with, scalar_text, Empty};
use crate::error::Error;
use crate::index::{Hit, ModelIndex};
use crate::limiter::{Limiter, Wait};
use crate::precheck::{is_blank, SchemaFacts};
use crate::settings::{Settings, WriteMode};
use crate::streams;

/// How many times a create is sent when each attempt ends ambiguously and a lookup by the
/// match field shows it was not applied.
pub const MAX_CREATE_ATTEMPTS: usize = 5;

/// Flowlu's "not found" error code.
const NOT_FOUND: i64 = 20;

/// How one stream is written.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamPlan {
    /// The stream name.
    pub stream: String,
    /// The Flowlu module.
    pub module: &'static str,
    /// The Flowlu model.
    pub model: &'static str,
    /// The write mode.
    pub mode: WriteMode,
    /// The field identifying a record besides `id`, if any.
    pub match_field: Option<String>,
    /// What the stream schema says about records.
    pub schema: SchemaFacts,
}

/// How every stream of a catalog is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WritePlan {
    streams: HashMap<String, StreamPlan>,
}

impl WritePlan {
    /// Decides the mode of every stream of `catalog`: the stream's write rule in `settings`
    /// wins, else the catalog's destination sync mode. Fails (a config error) on a stream that
    /// is not a Flowlu model, on `overwrite`, on a composite primary key and on a bad match
    /// field.
    pub fn from_catalog(catalog: &ConfiguredCatalog, settings: &Settings) -> Result<Self, Error> {
        let streams = catalog
            .streams
            .iter()
            .map(|configured| {
                let plan = stream_plan(configured, settings)?;
                Ok((plan.stream.clone(), plan))
            })
            .collect::<Result<_, Error>>()?;
        Ok(Self { streams })
    }

    /// The plan of `stream`.
    pub fn get(&self, stream: &str) -> Option<&StreamPlan> {
        self.streams.get(stream)
    }
}

fn plan_error(stream: &str, message: String) -> Error {
    Error::config(format!("catalog stream {stream}"), message)
}

fn stream_plan(configured: &ConfiguredStream, settings: &Settings) -> Result<StreamPlan, Error> {
    let name = configured.stream.name.as_str();
    let model = streams::model(name).ok_or_else(|| {
        plan_error(
            name,
            "not a Flowlu stream; use a stream name such as crm_account (see discover)".into(),
        )
    })?;
    let (mode, match_field) = match settings.write_rule(name) {
        Some(rule) => (rule.mode, rule.match_field.clone()),
        None => catalog_mode(configured)?,
    };
    let match_field = match_field.filter(|f| f != "id");
    if let Some(field) = &match_field {
        check_name(field).map_err(|why| plan_error(name, format!("match field `{field}`: {why}")))?;
        if matches!(mode, WriteMode::Update | WriteMode::Delete) {
            return Err(plan_error(
                name,
                format!("a match field (`{field}`) applies to create and upsert only; update and delete use the record's id"),
            ));
        }
    }
    Ok(StreamPlan {
        stream: name.to_string(),
        module: model.module,
        model: model.model,
        mode,
        match_field,
        schema: SchemaFacts::from_schema(&configured.stream.json_schema),
    })
}

fn catalog_mode(configured: &ConfiguredStream) -> Result<(WriteMode, Option<String>), Error> {
    let name = &configured.stream.name;
    match configured.destination_sync_mode {
        DestinationSyncMode::Append => Ok((WriteMode::Create, None)),
        DestinationSyncMode::AppendDedup => {
            let key = if configured.primary_key.is_empty() {
                &configured.stream.source_defined_primary_key
            } else {
                &configured.primary_key
            };
            match key.as_slice() {
                [] => Ok((WriteMode::Upsert, None)),
                [path] if path.len() == 1 => Ok((WriteMode::Upsert, Some(path[0].clone()))),
                _ => Err(plan_error(
                    name,
                    "append_dedup needs a primary key of one top-level field (such as id or email); set a write rule with a match field instead".into(),
                )),
            }
        }
        DestinationSyncMode::Overwrite => Err(plan_error(
            name,
            "overwrite is not supported: the destination never deletes records it was not given; use append or append_dedup, or a write rule".into(),
        )),
    }
}

/// A Flowlu destination of records. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct FlowluSink {
    account: Account,
    index_max_age: Duration,
}

impl FlowluSink {
    /// A sink writing with `client`, limited as `settings` say.
    pub fn new(client: Client, settings: Settings) -> Self {
        Self {
            account: Account::new(client, settings),
            index_max_age: DEFAULT_INDEX_MAX_AGE,
        }
    }

    /// A sink for `credential` (its client and settings).
    pub fn from_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        Ok(Self {
            account: Account::from_credential(credential)?,
            index_max_age: DEFAULT_INDEX_MAX_AGE,
        })
    }

    /// Shares an account's limiter (for example with a source of the same account).
    pub fn with_limiter(self, limiter: Arc<Limiter>) -> Self {
        Self {
            account: self.account.with_limiter(limiter),
            ..self
        }
    }

    /// Tells every wait of this sink's requests (a rate wait, a retry) to `waits` as it starts,
    /// for a progress display (the write's events come only as records get their outcomes).
    pub fn with_waits(self, waits: WaitWatch) -> Self {
        Self {
            account: self.account.with_waits(waits),
            ..self
        }
    }

    /// Before a create decided by an index older than `age`, the records created since the
    /// index was read are read first, even when that read began after the record was taken
    /// from the input (default [`DEFAULT_INDEX_MAX_AGE`]; zero: before every such create).
    pub fn with_index_max_age(self, age: Duration) -> Self {
        Self {
            index_max_age: age,
            ..self
        }
    }

    /// The account (client, limiter, settings) this reads or writes.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The write plan of `catalog` under this sink's settings.
    pub fn plan(&self, catalog: &ConfiguredCatalog) -> Result<WritePlan, Error> {
        WritePlan::from_catalog(catalog, &self.account.settings)
    }

    /// Records written at the same time.
    fn record_concurrency(&self) -> usize {
        // Twice the request limit keeps the limiter busy while some records wait on a lookup.
        self.account.settings.concurrency() * 2
    }

    /// Writes one record and says what happened; gives the record's data back.
    async fn write_record(
        &self,
        plan: &WritePlan,
        halt: &Halt,
        sequence: u64,
        record: Record,
        shared: &StreamShared,
        strategy: Strategy,
    ) -> (Outcome, Value) {
        let outcome = self
            .record_outcome(plan, halt, sequence, &record, shared, strategy)
            .await;
        (outcome, record.data)
    }

    async fn record_outcome(
        &self,
        plan: &WritePlan,
        halt: &Halt,
        sequence: u64,
        record: &Record,
        shared: &StreamShared,
        strategy: Strategy,
    ) -> Outcome {
        let Some(stream) = plan.get(&record.stream) else {
            return refused(
                FailureClass::Config,
                format!("the stream `{}` is not in the configured catalog", record.stream),
            );
        };
        let Value::Object(data) = &record.data else {
            return refused(FailureClass::Config, "the record is not a JSON object".into());
        };
        if let Some(reason) = halt.reason(&stream.stream, sequence) {
            return refused(FailureClass::Config, reason);
        }
        Writer {
            sink: self,
            stream,
            halt,
            sequence,
            shared,
            strategy,
        }
        .apply(data)
        .await
    }
}

impl FlowluSink {
    fn write_planned<'a>(
        &'a self,
        plan: Arc<WritePlan>,
        input: BoxStream<'a, SinkInput>,
        halt: Arc<Halt>,
    ) -> BoxStream<'a, SinkEvent> {
        let order = Arc::new(KeyedOrder::default());
        let withheld = Arc::clone(&halt);
        let acks = Acks::withholding(Arc::new(move |before, state| withheld.withholds(before, state)));
        let planned = crate::economy::plan_input(&self.account, Arc::clone(&plan), tag(input).boxed());
        let done = planned
            .map(move |planned| {
                let plan = Arc::clone(&plan);
                let halt = Arc::clone(&halt);
                let Planned {
                    item,
                    shared,
                    strategy,
                } = planned;
                let turn = match &item {
                    Tagged::Record { record, .. } => order_key(&plan, record).map(|key| order.enter(key)),
                    Tagged::Checkpoint { .. } => None,
                };
                async move {
                    match item {
                        Tagged::Record { sequence, record } => {
                            let mut turn = turn;
                            if let Some(turn) = turn.as_mut() {
                                turn.wait_previous().await;
                            }
                            let stream = record.stream.clone();
                            let shared = shared.unwrap_or_default();
                            let (outcome, data) = self
                                .write_record(&plan, &halt, sequence, record, &shared, strategy)
                                .await;
                            drop(turn);
                            Finished::Outcome(RecordOutcome {
                                stream,
                                sequence,
                                record: outcome.is_rejected().then_some(data),
                                outcome,
                            })
                        }
                        Tagged::Checkpoint {
                            ordinal,
                            before,
                            state,
                        } => Finished::Checkpoint {
                            ordinal,
                            before,
                            state,
                        },
                    }
                }
            })
            .buffer_unordered(self.record_concurrency());
        done.scan(acks, |acks, done| futures::future::ready(Some(acks.push(done))))
            .flat_map(stream::iter)
            .boxed()
    }
}

#[async_trait]
impl Sink for FlowluSink {
    /// Plans the write ([`WritePlan`]): a config failure for a stream that is not a Flowlu
    /// model, `overwrite`, a composite primary key or a bad match field.
    async fn prepare<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
    ) -> Result<Box<dyn PreparedWrite + 'a>, Failure> {
        let plan = self.plan(catalog).map_err(|e| Failure {
            class: FailureClass::Config,
            message: e.to_string(),
            internal: e.to_string(),
        })?;
        // Waits are told as they start (the write's own events come only as records get
        // their outcomes), so a progress display shows them while they last.
        let (tell, waits) = tokio::sync::mpsc::unbounded_channel();
        let sink = self.clone().with_waits(WaitWatch::new(move |event| {
            let _ = tell.send(event);
        }));
        Ok(Box::new(FlowluWrite {
            sink,
            plan: Arc::new(plan),
            halt: Arc::new(Halt::default()),
            waits: Mutex::new(Some(waits)),
        }))
    }

    fn write<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        input: BoxStream<'a, SinkInput>,
    ) -> BoxStream<'a, SinkEvent> {
        match self.plan(catalog) {
            Ok(plan) => self.write_planned(Arc::new(plan), input, Arc::new(Halt::default())),
            Err(e) => connector_core::sink::refuse_all(
                Failure {
                    class: FailureClass::Config,
                    message: e.to_string(),
                    internal: e.to_string(),
                },
                input,
            ),
        }
    }
}

/// A planned write of a [`FlowluSink`]; [`PreparedWrite::stopped`] says whether a fatal
/// refusal (rejected key, unknown account, a module the key lacks) stopped it.
struct FlowluWrite {
    sink: FlowluSink,
    plan: Arc<WritePlan>,
    halt: Arc<Halt>,
    /// The waits of the sink's requests, merged into the first write's events.
    waits: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<SourceEvent>>>,
}

impl PreparedWrite for FlowluWrite {
    fn write<'b>(&'b self, input: BoxStream<'b, SinkInput>) -> BoxStream<'b, SinkEvent> {
        let events = self
            .sink
            .write_planned(Arc::clone(&self.plan), input, Arc::clone(&self.halt));
        match lock(&self.waits).take() {
            Some(waits) => with_waits(events, waits).boxed(),
            None => events,
        }
    }

    fn stopped(&self) -> Vec<Stopped> {
        let touched = lock(&self.halt.touched);
        let mut stopped: Vec<Stopped> = touched.failures.values().cloned().collect();
        stopped.sort_by(|a, b| a.stream.cmp(&b.stream));
        stopped
    }
}

/// `events`, with each wait told on `waits` as a [`SinkEvent`] as soon as it starts; ends with
/// `events`.
fn with_waits<'b>(
    events: BoxStream<'b, SinkEvent>,
    waits: tokio::sync::mpsc::UnboundedReceiver<SourceEvent>,
) -> impl futures::Stream<Item = SinkEvent> + 'b {
    futures::stream::unfold((events, waits), |(mut events, mut waits)| async move {
        loop {
            let event = tokio::select! {
                biased;
                Some(wait) = waits.recv() => match wait {
                    SourceEvent::RateLimited { stream, wait_ms } => {
                        SinkEvent::RateLimited { stream, wait_ms }
                    }
                    SourceEvent::Retrying { stream, attempt, wait_ms, reason } => {
                        SinkEvent::Retrying { stream, attempt, wait_ms, reason }
                    }
                    _ => continue,
                },
                event = events.next() => event?,
            };
            return Some((event, (events, waits)));
        }
    })
}

/// An input item numbered: records by sequence, checkpoints by ordinal and the number of
/// records before them.
pub(crate) enum Tagged {
    Record { sequence: u64, record: Record },
    Checkpoint { ordinal: u64, before: u64, state: Value },
}

fn tag<'a>(input: BoxStream<'a, SinkInput>) -> impl futures::Stream<Item = Tagged> + 'a {
    input.scan((0u64, 0u64), |(records, checkpoints), item| {
        let tagged = match item {
            SinkInput::Record(record) => {
                *records += 1;
                Tagged::Record {
                    sequence: *records - 1,
                    record,
                }
            }
            SinkInput::Checkpoint(state) => {
                *checkpoints += 1;
                Tagged::Checkpoint {
                    ordinal: *checkpoints - 1,
                    before: *records,
                    state,
                }
            }
        };
        futures::future::ready(Some(tagged))
    })
}

/// The key that serializes records touching the same Flowlu record: the id, or the match
/// value; for a record that creates without a match field, a hash of its content.
fn order_key(plan: &WritePlan, record: &Record) -> Option<String> {
    let stream = plan.get(&record.stream)?;
    let data = record.data.as_object()?;
    let by = match &stream.match_field {
        Some(field) => field.as_str(),
        None => "id",
    };
    match data.get(by).filter(|v| !is_blank(v)).and_then(scalar_text) {
        Some(value) => Some(format!("{}\u{0}{by}\u{0}{}", record.stream, value.trim())),
        // A create without a match field: identical records take turns, so that one settling an
        // ambiguous create never takes the other's record for its own.
        None if stream.match_field.is_none() => {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            record.data.to_string().hash(&mut hasher);
            Some(format!("{}\u{0}#\u{0}{:016x}", record.stream, hasher.finish()))
        }
        None => None,
    }
}

/// Writes the records of one stream.
struct Writer<'s> {
    sink: &'s FlowluSink,
    stream: &'s StreamPlan,
    halt: &'s Halt,
    /// The record's position in the input.
    sequence: u64,
    shared: &'s StreamShared,
    strategy: Strategy,
}

/// Failures no later record can get past: a rejected key or an unknown account stop every
/// stream, a key without the module stops that stream. Records after such a failure fail at
/// once, without a request, instead of each meeting the same refusal; the first record (in
/// input order) each refusal touched decides which checkpoints are withheld.
#[derive(Debug, Default)]
struct Halt {
    account: Mutex<Option<String>>,
    streams: Mutex<HashMap<String, String>>,
    touched: Mutex<Touched>,
}

/// The first record each fatal refusal touched, and the refusal.
#[derive(Debug, Default)]
struct Touched {
    /// The smallest sequence touched by an account-wide refusal.
    account: Option<u64>,
    /// Per stream, the smallest sequence touched by a refusal of that stream.
    streams: HashMap<String, u64>,
    /// The refusals, by stream (`None`: every stream).
    failures: BTreeMap<Option<String>, Stopped>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Halt {
    /// Records `err` of record `sequence` if it stops the account or `stream`.
    fn note(&self, stream: &str, sequence: u64, err: &Error, host: &str) {
        let why = || {
            format!(
                "not sent: an earlier request of this write failed with `{}`, which no record can get past; fix the credential or the key's permissions (Flowlu: Portal Settings -> API Settings) and write the rejected records again",
                internal_detail(err)
            )
        };
        let scope = match err {
            Error::Auth { .. }
            | Error::UnknownAccount { .. }
            | Error::Transport {
                kind: crate::error::TransportKind::Dns,
                ..
            } => {
                lock(&self.account).get_or_insert_with(why);
                None
            }
            Error::Permission { .. } => {
                lock(&self.streams).entry(stream.to_string()).or_insert_with(why);
                Some(stream.to_string())
            }
            _ => return,
        };
        let mut touched = lock(&self.touched);
        touched.touch(scope.as_deref(), sequence);
        touched.failures.entry(scope.clone()).or_insert_with(|| Stopped {
            stream: scope,
            failure: crate::credential::explain_at(err, host).1,
        });
    }

    /// Why record `sequence` of `stream` is no longer sent, if it is not (the record counts
    /// as touched by that refusal).
    fn reason(&self, stream: &str, sequence: u64) -> Option<String> {
        let account = lock(&self.account).clone();
        if let Some(why) = account {
            lock(&self.touched).touch(None, sequence);
            return Some(why);
        }
        let why = lock(&self.streams).get(stream).cloned()?;
        lock(&self.touched).touch(Some(stream), sequence);
        Some(why)
    }

    /// Whether the checkpoint after `before` records, holding `state`, covers a record a fatal
    /// refusal touched (of every stream, or of the state's stream, or of any stream for a state
    /// that is not per stream).
    fn withholds(&self, before: u64, state: &Value) -> bool {
        let touched = lock(&self.touched);
        if touched.account.is_some_and(|first| first < before) {
            return true;
        }
        let state_stream = (state.get("type").and_then(Value::as_str) == Some("STREAM"))
            .then(|| {
                state
                    .pointer("/stream/stream_descriptor/name")
                    .and_then(Value::as_str)
            })
            .flatten();
        touched
            .streams
            .iter()
            .any(|(stream, first)| *first < before && state_stream.is_none_or(|s| s == stream))
    }
}

impl Touched {
    fn touch(&mut self, stream: Option<&str>, sequence: u64) {
        let first = match stream {
            None => self.account.get_or_insert(sequence),
            Some(stream) => self.streams.entry(stream.to_string()).or_insert(sequence),
        };
        *first = (*first).min(sequence);
    }
}

/// What a lookup by match field found: the record's id and its values.
enum Found {
    None,
    One(u64, Map<String, Value>),
}

/// What a look at the newest records found after an ambiguous create.
enum Resolution {
    /// A record newer than every id known before the create holds the values sent.
    Created(u64),
    /// Every record that could be the create's was seen, and none is.
    Absent,
    /// The portal cannot tell (why).
    Unknown(String),
}

/// Pages of newest records read to settle one ambiguous create.
const RESOLVE_PAGES: u32 = 3;

type IndexLock = tokio::sync::Mutex<ModelIndex>;

impl Writer<'_> {
    /// The failed outcome of `err`, noting it when it stops later records.
    fn fail(&self, err: &Error) -> Outcome {
        self.halt.note(
            &self.stream.stream,
            self.sequence,
            err,
            self.sink.account.client.host(),
        );
        failed(err)
    }

    /// The fields of `data` that would be sent (`None` when the record does not fit the schema:
    /// it then fails when its body is built).
    fn checked(&self, data: &Map<String, Value>) -> Option<Map<String, Value>> {
        self.stream.schema.check(data, false).ok()
    }

    /// Whether a record may be found `unchanged`: not when its stream's rule clears empty
    /// fields and it has one to clear (the comparison and the index hold only the fields sent
    /// as values, so a field to clear is always sent).
    fn may_be_unchanged(&self, data: &Map<String, Value>) -> bool {
        let clears = self
            .sink
            .account
            .settings
            .write_rule(&self.stream.stream)
            .is_some_and(|r| r.clear_empty_fields);
        !clears || !data.iter().any(|(name, value)| name != "id" && is_blank(value))
    }

    /// The stream's index, read by the first record that needs it; `None` when it cannot be
    /// read (the record is then looked up).
    async fn index(&self) -> Option<&IndexLock> {
        if self.strategy != Strategy::Index {
            return None;
        }
        let shared = self.shared;
        let cell = shared
            .index
            .get_or_init(|| async {
                let key = self.stream.match_field.as_deref().unwrap_or("id");
                let fields = shared
                    .fields
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                let mut index = ModelIndex::new(key, fields);
                match economy::read_into(&self.sink.account, self.stream, &mut index, shared).await {
                    Ok(requests) => {
                        tracing::debug!(stream = %self.stream.stream, records = index.len(), requests, "index read");
                        Some(tokio::sync::Mutex::new(index))
                    }
                    Err(why) => {
                        tracing::warn!(stream = %self.stream.stream, %why, "the index could not be read; records are looked up one by one");
                        None
                    }
                }
            })
            .await;
        cell.as_ref()
    }

    async fn apply(&self, data: &Map<String, Value>) -> Outcome {
        let id = match record_id(data) {
            Ok(id) => id,
            Err(outcome) => return outcome,
        };
        let mode = self.stream.mode;
        match (mode, id, &self.stream.match_field) {
            (WriteMode::Delete, Some(id), _) => self.delete(id).await,
            (WriteMode::Update, Some(id), _) => match self.index().await {
                Some(index) => self.update_indexed(index, id, data, false).await,
                None => self.update(id, data).await.unwrap_or_else(|o| o),
            },
            (WriteMode::Delete | WriteMode::Update, None, _) => refused(
                FailureClass::Config,
                format!("the record has no `id`; {} needs the id of the Flowlu record", mode_name(mode)),
            ),
            (WriteMode::Create, Some(_), _) => refused(
                FailureClass::Config,
                "the record has an `id`, but this stream creates records (a create cannot choose the id); remove the id, or write the stream with upsert or update".into(),
            ),
            (WriteMode::Create, None, field) => {
                let check = field.as_deref().and_then(|f| match_value(data, f).map(|v| (f, v)));
                self.create(data, check).await
            }
            (WriteMode::Upsert, _, Some(field)) => self.upsert_by_match(data, field).await,
            (WriteMode::Upsert, Some(id), None) => match self.index().await {
                Some(index) => self.update_indexed(index, id, data, true).await,
                None => self.upsert_by_id(id, data).await,
            },
            (WriteMode::Upsert, None, None) => self.create(data, None).await,
        }
    }

    async fn upsert_by_id(&self, id: u64, data: &Map<String, Value>) -> Outcome {
        match self.update(id, data).await {
            Err(Outcome::Failed {
                code: Some(NOT_FOUND),
                ..
            }) => self.create(data, None).await,
            other => other.unwrap_or_else(|o| o),
        }
    }

    /// Update (or upsert, `upsert`) by id through the index: an unchanged record is not sent;
    /// an upsert of an id the model did not hold when read creates at once.
    async fn update_indexed(
        &self,
        index: &IndexLock,
        id: u64,
        data: &Map<String, Value>,
        upsert: bool,
    ) -> Outcome {
        let key = id.to_string();
        let Some(body) = self.checked(data) else {
            return self.update(id, data).await.unwrap_or_else(|o| o);
        };
        let (hit, read_through) = {
            let index = index.lock().await;
            (index.find(&key, &body), index.newest_id())
        };
        match hit {
            Hit::One { unchanged: true, .. } if self.may_be_unchanged(data) => {
                return Outcome::Unchanged { id: key }
            }
            Hit::Absent if upsert && id <= read_through => return self.create(data, None).await,
            _ => {}
        }
        match self.update(id, data).await {
            Ok(outcome) => {
                index.lock().await.wrote(&key, id, &body, false);
                outcome
            }
            Err(Outcome::Failed {
                code: Some(NOT_FOUND),
                ..
            }) if upsert => {
                index.lock().await.remove(&key);
                self.create(data, None).await
            }
            Err(outcome) => outcome,
        }
    }

    /// The form body, or the failed outcome of a record that cannot succeed.
    fn body(&self, data: &Map<String, Value>, creating: bool) -> Result<Vec<(String, String)>, Outcome> {
        let fields = self
            .stream
            .schema
            .check(data, creating)
            .map_err(|fields| Outcome::Failed {
                class: FailureClass::Config,
                code: None,
                message: format!(
                    "the record does not fit the {} schema; nothing was sent",
                    self.stream.stream
                ),
                fields,
            })?;
        let rule = self.sink.account.settings.write_rule(&self.stream.stream);
        let empty = if rule.is_some_and(|r| r.clear_empty_fields) {
            Empty::Clear
        } else {
            Empty::Drop
        };
        encode_record_with(&fields, empty).map_err(|e| Outcome::Failed {
            class: FailureClass::Config,
            code: None,
            message: "the record cannot be form-encoded; nothing was sent".into(),
            fields: [(e.field, e.reason)].into(),
        })
    }

    fn waited(&self, wait: &Wait) {
        self.sink.account.waited(&self.stream.stream, wait);
    }

    async fn delete(&self, id: u64) -> Outcome {
        let (module, model) = (self.stream.module, self.stream.model);
        let result = self
            .sink
            .account
            .limiter
            .run(|| self.sink.account.client.delete(module, model, id), &|w| {
                self.waited(w)
            })
            .await;
        match result {
            Ok(_) => Outcome::Deleted { id: id.to_string() },
            Err(e) if api_code(&e) == Some(NOT_FOUND) => Outcome::Skipped {
                reason: format!("record {id} does not exist (already deleted)"),
            },
            Err(e) => self.fail(&e),
        }
    }

    /// Updates record `id`; `Err` holds the failed outcome (checked by upsert for not-found).
    async fn update(&self, id: u64, data: &Map<String, Value>) -> Result<Outcome, Outcome> {
        let body = self.body(data, false)?;
        let (module, model) = (self.stream.module, self.stream.model);
        self.sink
            .account
            .limiter
            .run(
                || self.sink.account.client.update(module, model, id, &body),
                &|w| self.waited(w),
            )
            .await
            .map(|_| Outcome::Updated { id: id.to_string() })
            .map_err(|e| self.fail(&e))
    }

    async fn upsert_by_match(&self, data: &Map<String, Value>, field: &str) -> Outcome {
        let Some(value) = match_value(data, field) else {
            return refused(
                FailureClass::Config,
                format!("the record has no value in `{field}`, the field upsert matches on"),
            );
        };
        let (Some(index), Some(body)) = (self.index().await, self.checked(data)) else {
            return self.upsert_by_lookup(data, field, &value, None).await;
        };
        let mut hit = index.lock().await.find(&value, &body);
        if hit == Hit::Absent {
            // Before a create: read what others created since, unless a read began after this
            // record was taken from the input.
            let mut guard = index.lock().await;
            if !guard.fresh_for(self.sequence, self.sink.index_max_age) {
                let read = economy::read_into(&self.sink.account, self.stream, &mut guard, self.shared).await;
                if let Err(why) = read {
                    tracing::debug!(%why, "the index could not be brought up to date; looking the record up");
                    drop(guard);
                    return self.upsert_by_lookup(data, field, &value, Some(index)).await;
                }
            }
            hit = guard.find(&value, &body);
        }
        match hit {
            Hit::One { id, unchanged: true } if self.may_be_unchanged(data) => {
                Outcome::Unchanged { id: id.to_string() }
            }
            Hit::One { id, .. } => match self.update(id, data).await {
                Ok(outcome) => {
                    index.lock().await.wrote(&value, id, &body, false);
                    outcome
                }
                Err(Outcome::Failed {
                    code: Some(NOT_FOUND),
                    ..
                }) => {
                    // Deleted since the index was read: look again, then create.
                    index.lock().await.remove(&value);
                    self.upsert_by_lookup(data, field, &value, Some(index)).await
                }
                Err(outcome) => outcome,
            },
            Hit::Several => several(field, &value),
            Hit::Stale => self.upsert_by_lookup(data, field, &value, Some(index)).await,
            Hit::Absent => {
                self.create_noting(data, Some((field, value.clone())), Some((index, &value)))
                    .await
            }
        }
    }

    /// Upsert by match field with a lookup: an unchanged record is not sent.
    async fn upsert_by_lookup(
        &self,
        data: &Map<String, Value>,
        field: &str,
        value: &str,
        index: Option<&IndexLock>,
    ) -> Outcome {
        match self.lookup(field, value).await {
            Ok(Found::One(id, current)) => {
                let body = self.checked(data);
                if self.may_be_unchanged(data) && body.as_ref().is_some_and(|b| record_unchanged(b, &current))
                {
                    return Outcome::Unchanged { id: id.to_string() };
                }
                let outcome = self.update(id, data).await.unwrap_or_else(|o| o);
                if let (Some(index), Some(body), Outcome::Updated { .. }) = (index, &body, &outcome) {
                    index.lock().await.wrote(value, id, body, false);
                }
                outcome
            }
            Ok(Found::None) => {
                self.create_noting(data, Some((field, value.to_string())), index.map(|i| (i, value)))
                    .await
            }
            Err(outcome) => outcome,
        }
    }

    /// Creates the record and notes the result in the index under `key`: created, or unknown
    /// (the next record of the key is looked up).
    async fn create_noting(
        &self,
        data: &Map<String, Value>,
        check: Option<(&str, String)>,
        index: Option<(&IndexLock, &str)>,
    ) -> Outcome {
        let outcome = self.create(data, check).await;
        if let Some((index, key)) = index {
            let mut index = index.lock().await;
            match (&outcome, self.checked(data)) {
                (Outcome::Created { id }, Some(body)) => match id.parse() {
                    Ok(id) => index.wrote(key, id, &body, true),
                    Err(_) => index.mark_stale(key),
                },
                (Outcome::Unknown { .. } | Outcome::Created { .. }, _) => index.mark_stale(key),
                _ => {}
            }
        }
        outcome
    }

    /// Creates the record. After an ambiguous failure (sent, no answer) it is looked for: by
    /// `check` (a match field and value) when there is one, else among the records newer than
    /// every id known before it was sent ([`Writer::resolve`]). Found: `created` with its id;
    /// surely absent: sent again (at most [`MAX_CREATE_ATTEMPTS`] times); else `unknown`.
    async fn create(&self, data: &Map<String, Value>, check: Option<(&str, String)>) -> Outcome {
        let body = match self.body(data, true) {
            Ok(body) => body,
            Err(outcome) => return outcome,
        };
        let (module, model) = (self.stream.module, self.stream.model);
        let unknown = |err: &Error, why: String| {
            Outcome::Unknown {
            message: format!(
                "the create was sent but its result is unknown ({}), and {why}; check {} in Flowlu before sending this record again",
                internal_detail(err),
                self.stream.stream
            ),
        }
        };
        for attempt in 1..=MAX_CREATE_ATTEMPTS {
            let floor = self.shared.floor();
            let result = self
                .sink
                .account
                .limiter
                .run_when(
                    || self.sink.account.client.create(module, model, &body),
                    |e| e.is_retryable() && !e.may_have_been_applied(),
                    &|w| self.waited(w),
                )
                .await;
            let err = match result {
                Ok(response) => return self.created(&response),
                Err(e) if !e.may_have_been_applied() => return self.fail(&e),
                Err(e) => e,
            };
            match &check {
                Some((field, value)) => match self.lookup(field, value).await {
                    Ok(Found::One(id, _)) => {
                        self.shared.saw(id);
                        return Outcome::Created { id: id.to_string() };
                    }
                    Ok(Found::None) => {}
                    Err(lookup) => {
                        return unknown(
                            &err,
                            format!("looking it up by {field} failed: {}", outcome_message(&lookup)),
                        )
                    }
                },
                None => match self.resolve(data, floor).await {
                    Resolution::Created(id) => {
                        self.shared.saw(id);
                        return Outcome::Created { id: id.to_string() };
                    }
                    Resolution::Absent => {}
                    Resolution::Unknown(why) => return unknown(&err, why),
                },
            }
            if attempt == MAX_CREATE_ATTEMPTS {
                let absent = match &check {
                    Some((field, value)) => format!("no record with {field} = {value} exists yet"),
                    None => "no record with its values exists yet".into(),
                };
                return Outcome::Unknown {
                    message: format!(
                        "{MAX_CREATE_ATTEMPTS} creates were sent and none could be confirmed (last: {}); {absent}",
                        internal_detail(&err)
                    ),
                };
            }
            tracing::debug!(attempt, "ambiguous create not applied; sending it again");
        }
        Outcome::Unknown {
            message: "the create could not be confirmed".into(),
        }
    }

    /// The outcome of a create's answer; notes its id.
    fn created(&self, response: &Value) -> Outcome {
        let outcome = created(response);
        if let Outcome::Created { id } = &outcome {
            if let Ok(id) = id.parse() {
                self.shared.saw(id);
            }
        }
        outcome
    }

    /// Looks for an ambiguous create among the newest records (`order_by[desc][]=id`, above
    /// `floor`, the highest id known before it was sent): a record above the floor holding
    /// every sent value it has is the create's. Without a floor (nothing known of the stream's
    /// ids yet) a matching record may be older than the create, so it cannot tell; no match on
    /// the newest page means absent.
    async fn resolve(&self, data: &Map<String, Value>, floor: u64) -> Resolution {
        let Some(body) = self.checked(data) else {
            return Resolution::Unknown("its values cannot be checked".into());
        };
        let sent = match sent_fields(&body) {
            Some(sent) if !sent.is_empty() => sent,
            _ => return Resolution::Unknown(
                "a record with list or object values (or none) cannot be recognised among the newest records"
                    .into(),
            ),
        };
        let limit = self.sink.account.settings.page_size();
        let mut previous = u64::MAX;
        for page in 1..=RESOLVE_PAGES {
            let mut params = vec![
                ("order_by[desc][]".to_string(), "id".to_string()),
                ("page".to_string(), page.to_string()),
                ("limit".to_string(), limit.to_string()),
            ];
            if floor > 0 {
                params.push((
                    "filter[id]".to_string(),
                    format!(r#"{{"type":"more","value":{floor}}}"#),
                ));
            }
            let answer = match economy::list(&self.sink.account, self.stream, &params).await {
                Ok(answer) => answer,
                Err(e) => {
                    return Resolution::Unknown(format!(
                        "reading the newest records failed: {}",
                        internal_detail(&e)
                    ))
                }
            };
            let mut covered = answer.items.len() < limit as usize;
            let mut found: Option<u64> = None;
            for item in &answer.items {
                let Some(id) = item.get("id").and_then(as_id) else {
                    return Resolution::Unknown("a newest record has no id".into());
                };
                if id >= previous {
                    return Resolution::Unknown("Flowlu did not answer the newest records first".into());
                }
                previous = id;
                if floor > 0 && id <= floor {
                    covered = true;
                    continue;
                }
                if matches_sent(&sent, item) {
                    found = Some(id);
                }
            }
            match found {
                Some(id) if floor > 0 => return Resolution::Created(id),
                Some(id) => {
                    return Resolution::Unknown(format!(
                        "record {id} holds the same values, but whether it is this create's cannot be told (no id of the stream was known before it was sent)"
                    ))
                }
                None if covered || floor == 0 => return Resolution::Absent,
                None => {}
            }
        }
        Resolution::Unknown(format!(
            "more than {} records were created since it was sent, so it could not be looked for",
            u64::from(RESOLVE_PAGES) * u64::from(limit)
        ))
    }

    /// Finds the record whose `field` equals `value`: `list` with `filter[field]=value`.
    async fn lookup(&self, field: &str, value: &str) -> Result<Found, Outcome> {
        let params = [
            (format!("filter[{field}]"), value.to_string()),
            ("page".to_string(), "1".to_string()),
            ("limit".to_string(), "2".to_string()),
        ];
        let page = economy::list(&self.sink.account, self.stream, &params)
            .await
            .map_err(|e| self.fail(&e))?;
        let matches = |item: &Value| {
            item.get(field)
                .and_then(scalar_text)
                .is_some_and(|v| v.trim() == value)
        };
        if !page.items.iter().all(matches) {
            return Err(refused(
                FailureClass::System,
                format!(
                    "Flowlu ignored the filter on `{field}` (it answered records that do not match), so the record was not written, to avoid a duplicate"
                ),
            ));
        }
        match page.items.as_slice() {
            [] => Ok(Found::None),
            [Value::Object(item)] => {
                let id = item
                    .get("id")
                    .and_then(as_id)
                    .ok_or_else(|| refused(FailureClass::System, "the matching record has no id".into()))?;
                Ok(Found::One(id, item.clone()))
            }
            [_] => Err(refused(
                FailureClass::System,
                "the matching record is not an object".into(),
            )),
            _ => Err(several(field, value)),
        }
    }
}

fn several(field: &str, value: &str) -> Outcome {
    refused(
        FailureClass::Config,
        format!("several Flowlu records have {field} = {value}; upsert needs a unique match"),
    )
}

/// Whether a portal record holds every sent value it has (at least one).
fn matches_sent(sent: &[(&str, &Value)], item: &Value) -> bool {
    let Some(record) = item.as_object() else {
        return false;
    };
    let mut compared = 0;
    for (name, value) in sent {
        if let Some(current) = record.get(*name) {
            if !same(value, current) {
                return false;
            }
            compared += 1;
        }
    }
    compared > 0
}

fn mode_name(mode: WriteMode) -> &'static str {
    match mode {
        WriteMode::Create => "create",
        WriteMode::Update => "update",
        WriteMode::Upsert => "upsert",
        WriteMode::Delete => "delete",
    }
}

/// The record's id: absent, null or empty is `None`; a positive integer (number or digits).
fn record_id(data: &Map<String, Value>) -> Result<Option<u64>, Outcome> {
    match data.get("id") {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => as_id(v).map(Some).ok_or_else(|| {
            refused(
                FailureClass::Config,
                format!("`id` must be a positive integer, got {v}"),
            )
        }),
    }
}

/// A positive integer id, sent as a number or as digits.
fn as_id(value: &Value) -> Option<u64> {
    let id = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (id > 0).then_some(id)
}

/// The non-empty scalar value of `field`, as sent.
fn match_value(data: &Map<String, Value>, field: &str) -> Option<String> {
    data.get(field)
        .filter(|v| !is_blank(v))
        .and_then(scalar_text)
        .map(|v| v.trim().to_string())
}

fn created(response: &Value) -> Outcome {
    match response.get("id").and_then(as_id) {
        Some(id) => Outcome::Created { id: id.to_string() },
        None => Outcome::Unknown {
            message: "Flowlu accepted the create but its answer carries no id; check the stream in Flowlu"
                .into(),
        },
    }
}

fn api_code(err: &Error) -> Option<i64> {
    err.api().and_then(|api| api.code)
}

fn refused(class: FailureClass, message: String) -> Outcome {
    Outcome::Failed {
        class,
        code: None,
        message,
        fields: BTreeMap::new(),
    }
}

/// The failed outcome of an error: a record-level error (not found, validation) is the
/// input's to fix; other errors keep their class.
fn failed(err: &Error) -> Outcome {
    let class = if err.is_record_level() {
        FailureClass::Config
    } else {
        err.failure_class()
    };
    let (code, message, fields) = match err {
        Error::Api(api) => (api.code, api.message.clone(), api.fields.clone()),
        other => (
            api_code(other),
            internal_detail(other),
            other.api().map(|a| a.fields.clone()).unwrap_or_default(),
        ),
    };
    Outcome::Failed {
        class,
        code,
        message,
        fields,
    }
}

fn outcome_message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed { message, .. } | Outcome::Unknown { message } => message.clone(),
        Outcome::Skipped { reason } => reason.clone(),
        other => other.kind().to_string(),
    }
}

pub use connector_core::WriteSummary;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn outcome(sequence: u64) -> Finished {
        Finished::Outcome(RecordOutcome {
            stream: "s".into(),
            sequence,
            outcome: Outcome::Deleted {
                id: sequence.to_string(),
            },
            record: None,
        })
    }

    fn checkpoint(ordinal: u64, before: u64) -> Finished {
        Finished::Checkpoint {
            ordinal,
            before,
            state: json!(ordinal),
        }
    }

    /// A short name for each event: `o3` for record 3's outcome, `s1` for checkpoint 1.
    fn names(events: Vec<SinkEvent>) -> Vec<String> {
        events
            .into_iter()
            .map(|e| match e {
                SinkEvent::Outcome(o) => format!("o{}", o.sequence),
                SinkEvent::CheckpointAck(s) => format!("s{s}"),
                SinkEvent::Log { message, .. } => message,
                wait => format!("{wait:?}"),
            })
            .collect()
    }

    fn stream_checkpoint(ordinal: u64, before: u64, stream: &str) -> Finished {
        Finished::Checkpoint {
            ordinal,
            before,
            state: json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}}}),
        }
    }

    #[test]
    fn no_checkpoint_after_a_record_an_account_refusal_touched_is_acknowledged() {
        let halt = Arc::new(Halt::default());
        let withheld = Arc::clone(&halt);
        let mut acks = Acks::withholding(Arc::new(move |before, state| withheld.withholds(before, state)));
        // Input: r0 S0 r1 S1 r2 S2; record 1 meets the refusal (noted before its outcome).
        let mut seen = names(acks.push(outcome(0)));
        seen.extend(names(acks.push(checkpoint(0, 1))));
        lock(&halt.touched).touch(None, 1);
        for done in [outcome(1), checkpoint(1, 2), outcome(2), checkpoint(2, 3)] {
            seen.extend(names(acks.push(done)));
        }
        assert_eq!(seen, ["o0", "s0", "o1", "o2"]);
    }

    #[test]
    fn a_stream_refusal_withholds_that_streams_and_global_checkpoints_only() {
        let halt = Arc::new(Halt::default());
        let withheld = Arc::clone(&halt);
        let mut acks = Acks::withholding(Arc::new(move |before, state| withheld.withholds(before, state)));
        lock(&halt.touched).touch(Some("b"), 0);
        let mut seen = Vec::new();
        for done in [
            outcome(0),
            stream_checkpoint(0, 1, "a"),
            stream_checkpoint(1, 1, "b"),
            checkpoint(2, 1),
            stream_checkpoint(3, 1, "a"),
        ] {
            for event in acks.push(done) {
                seen.push(match event {
                    SinkEvent::CheckpointAck(state) => state["stream"]["stream_descriptor"]["name"]
                        .as_str()
                        .map_or_else(|| state.to_string(), str::to_string),
                    other => names(vec![other]).concat(),
                });
            }
        }
        assert_eq!(seen, ["o0", "a", "a"]);
    }

    #[test]
    fn the_summary_counts_unchanged_records() {
        let mut summary = WriteSummary::default();
        for (sequence, outcome) in [
            Outcome::Unchanged { id: "4".into() },
            Outcome::Unchanged { id: "5".into() },
            Outcome::Updated { id: "6".into() },
        ]
        .into_iter()
        .enumerate()
        {
            summary.add(&RecordOutcome {
                stream: "crm_account".into(),
                sequence: sequence as u64,
                outcome,
                record: None,
            });
        }
        assert_eq!(
            summary.lines(),
            [
                "crm_account: created 0, updated 1, unchanged 2, deleted 0, skipped 0, failed 0, unknown 0",
                "total: created 0, updated 1, unchanged 2, deleted 0, skipped 0, failed 0, unknown 0"
            ]
        );
        assert!(!Outcome::Unchanged { id: "4".into() }.is_rejected());
        assert_eq!(
            serde_json::to_value(Outcome::Unchanged { id: "4".into() }).unwrap(),
            json!({"outcome": "unchanged", "id": "4"})
        );
    }

    #[test]
    fn modes_come_from_the_catalog_unless_a_rule_says_otherwise() {
        let catalog: ConfiguredCatalog = serde_json::from_value(json!({"streams": [
            {"stream": {"name": "crm_account", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append"},
            {"stream": {"name": "crm_lead", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup", "primary_key": [["id"]]},
            {"stream": {"name": "crm_emails", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup", "primary_key": [["email"]]},
            {"stream": {"name": "task_tasks", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
        ]}))
        .unwrap();
        let err = WritePlan::from_catalog(&catalog, &Settings::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("invalid `catalog stream task_tasks`: overwrite is not supported"),
            "{err}"
        );
        let settings: Settings = serde_json::from_value(json!({"write_rules": [
            {"stream": "task_tasks", "mode": "delete", "match_field": ""}
        ]}))
        .unwrap();
        let plan = WritePlan::from_catalog(&catalog, &settings).unwrap();
        let mode = |s: &str| plan.get(s).map(|p| (p.mode, p.match_field.clone()));
        assert_eq!(mode("crm_account"), Some((WriteMode::Create, None)));
        assert_eq!(mode("crm_lead"), Some((WriteMode::Upsert, None)));
        assert_eq!(
            mode("crm_emails"),
            Some((WriteMode::Upsert, Some("email".into())))
        );
        assert_eq!(mode("task_tasks"), Some((WriteMode::Delete, None)));
    }
}
