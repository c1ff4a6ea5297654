//! The Flowlu sink, [`FlowluSink`] (its documentation says what it does).

pub(crate) mod compare;
mod create;
mod decide;
pub(crate) mod economy;
mod halt;
pub(crate) mod index;
pub(crate) mod plan;
pub(crate) mod precheck;
mod resume;
mod writer;

pub use compare::{FieldKinds, ValueKind};
pub use index::StalenessClock;
pub(crate) use plan::WritePlan;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use connector_core::order::{Acks, Finished, KeyedOrder};
use connector_core::{
    ConfiguredCatalog, Failure, FailureClass, Outcome, PreparedWrite, Record, RecordOutcome, Sink, SinkEvent,
    SinkInput, Stopped,
};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::Value;

use crate::account::Account;
use crate::account::WaitWatch;
use crate::base::encode::scalar_text;
use crate::base::error::Error;
use crate::base::settings::Settings;
use crate::client::limiter::Limiter;
use crate::client::Client;
use crate::credential::FlowluCredential;
use crate::sink::economy::{Planned, Strategy, StreamShared};
use crate::sink::precheck::is_blank;

use decide::refused;
use halt::{lock, Halt};
use plan::Tagged;
use writer::Writer;

/// A Flowlu destination of records.
///
/// The Flowlu sink: create, update, upsert and delete records, with exactly one outcome for
/// every input record.
///
/// * **Modes**, per stream (`WritePlan`): an explicit write rule of the settings wins;
///   otherwise the catalog's `append` creates and `append_dedup` upserts on the primary key
///   (`id`, or a single other field used as a match field). `overwrite` is refused: the sink
///   never deletes records it was not given.
/// * **Checks before any request**: the record is an object, its `id` fits the mode, its fields
///   fit the stream schema (`precheck`) and encode (`encode`); otherwise it
///   fails with a per-field reason and nothing is sent.
/// * **Safe retries only**, through the account's [`Limiter`]: get/list, update and delete are
///   retried on transient failures; a create is retried only when it surely did not reach
///   Flowlu (429, no connection). After an ambiguous failure (sent, no answer: a dropped
///   connection, a timeout, a 5xx) the create is looked for: by its match field when it has
///   one, else among the newest records (`order_by[desc][]=id`, above the highest id known
///   before it was sent, matching the values sent). Found: `created` with its id; surely
///   absent: sent again (at most `create::MAX_CREATE_ATTEMPTS` times); `unknown` only when the
///   portal cannot tell (the look failed, more records appeared than it reads, or, before any
///   id of the stream was known, a record with the same values exists).
/// * **Creates the host resends** (`resume`; the settings' `find_earlier_creates`, on by
///   default, or [`FlowluSink::finding_earlier_creates`]): before a stream's first create, one
///   read of the model's newest records (`order_by[desc][]=id`, one page); a record equal in
///   every sent field to an unclaimed one of them (each claimed once, oldest first) is
///   `created` with its id and not sent: an earlier run made it after its last acknowledged
///   checkpoint. A new record identical to one of that page is taken for such a create; one
///   identical to an older record is created.
/// * **Request economy** (`economy`): per stream, a lookup per record or one read of
///   the model into an index (`index`), whichever costs fewer requests. A record
///   whose sent fields already hold the portal's values (`compare`) is `unchanged`,
///   with its id, and nothing is sent. A stale index loses nothing: an update answered "not
///   found" (deleted meanwhile) looks the record up again and creates it; before a create from
///   the index, the records created since it was last read are read, unless that read began
///   after the record was taken from the input (one read serves a batch of creates), so a
///   record someone else created meanwhile with the same match value is updated, not
///   duplicated. Every `unchanged` and create decided from the index rests on a read of the
///   portal begun at most `staleness_seconds` before (the settings; `with_index_max_age`), so
///   a record others created, took or edited longer ago than that is seen.
/// * **Order**: records run concurrently (bounded by the limiter), except that records with the
///   same id or match value run one after the other in input order (no duplicate from two
///   concurrent upserts of one e-mail). A checkpoint is acknowledged once every record before it
///   has an outcome, and checkpoints are acknowledged in input order.
/// * **Upsert by match field**: `list` with `filter[field]=value` (or the index); zero matches
///   creates, one updates it (unless unchanged), more fails. A portal that ignores the filter (answers records that do not
///   match) or refuses it fails the record rather than risk a duplicate, and on the lookup path
///   stops the stream (its later records are `not_sent`, without a request).
/// * **Delete** of a record that no longer exists is `skipped` (the wanted end state holds).
/// * **Upsert by id** of an id Flowlu does not hold fails the record (never creates).
/// * **Fatal refusals stop early**: after a rejected key or an unknown account, later records
///   are `not_sent` at once with the reason (and after error 22, or a filter on the match field
///   the portal ignores or refuses, later records of that stream), instead of each sending a
///   request that cannot succeed; requests of the stream waiting for a slot are not sent. No checkpoint after the first record such a
///   refusal touched is acknowledged (for a stream-wide refusal: no checkpoint of that stream,
///   and no state that is not per stream), so the host sends those records again once the
///   credential is fixed; the prepared write's [`PreparedWrite::stopped`] tells the caller that it
///   stopped.
/// * **Interrupted** ([`PreparedWrite::interrupt`]): no new request (waits for a slot, the
///   pace or a retry end at once); a request on the wire gets its answer or is abandoned after
///   `client::limiter::IN_FLIGHT_GRACE`; every record not sent is `not_sent`.
#[derive(Debug, Clone)]
pub struct FlowluSink {
    account: Account,
    index_max_age: Duration,
    find_earlier: bool,
    clock: StalenessClock,
}

impl FlowluSink {
    /// A sink writing with `client`, limited as `settings` say.
    pub fn new(client: Client, settings: Settings) -> Self {
        Self {
            index_max_age: settings.staleness(),
            find_earlier: settings.finds_earlier_creates(),
            account: Account::new(client, settings),
            clock: StalenessClock::system(),
        }
    }

    /// A sink for `credential` (its client and settings).
    pub fn from_credential(credential: &FlowluCredential) -> Result<Self, Error> {
        let account = Account::from_credential(credential)?;
        Ok(Self {
            index_max_age: account.settings.staleness(),
            find_earlier: account.settings.finds_earlier_creates(),
            account,
            clock: StalenessClock::system(),
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

    /// The staleness bound: an `unchanged` or a create decided from an index whose last read
    /// of the portal began more than `age` before is preceded by a read of what others created
    /// and edited since (default: the settings' `staleness_seconds`; zero: before every such
    /// decision).
    pub fn with_index_max_age(self, age: Duration) -> Self {
        Self {
            index_max_age: age,
            ..self
        }
    }

    /// Before a stream's first create, reads the model's newest records once, and takes an
    /// input record equal in every sent field to one of them (each claimed once, oldest first)
    /// for an earlier run's create: `created` with its id, not sent (see `sink::resume`). A
    /// host resuming from its last acknowledged checkpoint then duplicates none of the creates
    /// made after it that are still among the newest page. Default: the settings'
    /// `find_earlier_creates` (on); off, a record sent again on purpose with the same values is
    /// created although its twin is among the newest.
    pub fn finding_earlier_creates(self, on: bool) -> Self {
        Self {
            find_earlier: on,
            ..self
        }
    }

    /// Measures the staleness bound on `clock` (tests move a [`StalenessClock::manual`] one
    /// by hand).
    pub fn with_staleness_clock(self, clock: StalenessClock) -> Self {
        Self { clock, ..self }
    }

    /// The account (client, limiter, settings) this reads or writes.
    pub fn account(&self) -> &Account {
        &self.account
    }

    /// The write plan of `catalog` under this sink's settings.
    pub(crate) fn plan(&self, catalog: &ConfiguredCatalog) -> Result<WritePlan, Error> {
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
        shared.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
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
        if let Some(reason) = halt.reason(&stream.stream) {
            return Outcome::NotSent { reason };
        }
        Writer {
            account: &self.account,
            index_max_age: self.index_max_age,
            stream,
            halt,
            sequence,
            shared,
            strategy,
            find_earlier: self.find_earlier,
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
        let refusals = Arc::clone(&halt);
        let planned = crate::sink::economy::plan_input(
            &self.account,
            self.clock.clone(),
            Arc::clone(&plan),
            connector_core::order::number(input).boxed(),
        );
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
        done.scan(Acks::default(), move |acks, done| {
            futures::future::ready(Some(acknowledge(acks, &refusals, done)))
        })
        .flat_map(stream::iter)
        .boxed()
    }
}

#[async_trait]
impl Sink for FlowluSink {
    /// Plans the write (`WritePlan`): a config failure for a stream that is not a Flowlu
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
        let stop = tokio_util::sync::CancellationToken::new();
        let mut sink = self.clone().with_waits(WaitWatch::new(move |event| {
            let _ = tell.send(event);
        }));
        sink.account = sink.account.with_stop(stop.clone());
        Ok(Box::new(FlowluWrite {
            sink,
            plan: Arc::new(plan),
            halt: Arc::new(Halt::new(stop)),
            waits: Mutex::new(Some(waits)),
        }))
    }
}

/// A planned write of a [`FlowluSink`]; [`PreparedWrite::stopped`] says whether a fatal
/// refusal (rejected key, unknown account, a module the key lacks) stopped it.
struct FlowluWrite {
    sink: FlowluSink,
    plan: Arc<WritePlan>,
    halt: Arc<Halt>,
    /// The waits of the sink's requests, merged into the first write's events.
    waits: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<connector_core::Wait>>>,
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

    fn interrupt(&self, why: &str) {
        self.halt.interrupt(why.to_string());
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
    waits: tokio::sync::mpsc::UnboundedReceiver<connector_core::Wait>,
) -> impl futures::Stream<Item = SinkEvent> + 'b {
    futures::stream::unfold((events, waits), |(mut events, mut waits)| async move {
        let event = tokio::select! {
            biased;
            Some(wait) = waits.recv() => SinkEvent::Wait(wait),
            event = events.next() => event?,
        };
        Some((event, (events, waits)))
    })
}

/// Pushes a finished item through the checkpoint rule ([`Acks`]); a record whose own request
/// met a fatal refusal (a config failure by class, yet no fault of the record) is marked to be
/// sent again first.
fn acknowledge(acks: &mut Acks, halt: &Halt, done: Finished) -> Vec<SinkEvent> {
    if let Finished::Outcome(outcome) = &done {
        if halt.refused(outcome.sequence) {
            acks.resend(&outcome.stream, outcome.sequence);
        }
    }
    acks.push(done)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::settings::WriteMode;
    use connector_core::WriteSummary;
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

    fn refused_outcome(stream: &str, sequence: u64) -> Finished {
        Finished::Outcome(RecordOutcome {
            stream: stream.into(),
            sequence,
            outcome: Outcome::Failed {
                class: FailureClass::Config,
                code: None,
                message: "authorization failed (HTTP 401)".into(),
                fields: Default::default(),
            },
            record: None,
        })
    }

    #[test]
    fn no_checkpoint_after_a_record_a_fatal_refusal_met_is_acknowledged() {
        let halt = Halt::default();
        let mut acks = Acks::default();
        // Input: r0 S0 r1 S1 r2 S2; record 1's own request meets the refusal (noted before its
        // outcome), record 2 is then not sent.
        let mut seen = names(acknowledge(&mut acks, &halt, outcome(0)));
        seen.extend(names(acknowledge(&mut acks, &halt, checkpoint(0, 1))));
        halt.note(
            "s",
            1,
            &Error::Auth {
                status: 401,
                api: None,
            },
            "h",
        );
        for done in [
            refused_outcome("s", 1),
            checkpoint(1, 2),
            outcome(2),
            checkpoint(2, 3),
        ] {
            seen.extend(names(acknowledge(&mut acks, &halt, done)));
        }
        assert_eq!(seen, ["o0", "s0", "o1", "o2"]);
        assert_eq!(halt.reason("other").as_deref(), Some("an earlier request of this write failed with `authorization failed (HTTP 401)`, which no record can get past; fix the credential or the key's permissions (Flowlu: Portal Settings -> API Settings) and write the rejected records again"));
    }

    #[test]
    fn a_refusal_in_one_stream_withholds_that_streams_and_global_checkpoints_only() {
        let halt = Halt::default();
        let mut acks = Acks::default();
        halt.note(
            "b",
            0,
            &Error::Auth {
                status: 401,
                api: None,
            },
            "h",
        );
        let mut seen = Vec::new();
        for done in [
            refused_outcome("b", 0),
            stream_checkpoint(0, 1, "a"),
            stream_checkpoint(1, 1, "b"),
            checkpoint(2, 1),
            stream_checkpoint(3, 1, "a"),
        ] {
            for event in acknowledge(&mut acks, &halt, done) {
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
