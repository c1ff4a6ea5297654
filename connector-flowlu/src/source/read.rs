//! Read: streams and pages fetched concurrently on their own tasks, passed on in order, each
//! page followed by its checkpoint; the page size an account honours is learned once per run.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use connector_core::{
    Checkpoint, ConfiguredCatalog, DestinationSyncMode, Failure, FailureClass, LogLevel, RawRecords,
    SourceEvent, SourceState, StreamStatus, SyncMode,
};
use futures::stream::{self, BoxStream, StreamExt};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::base::cursor::{refuse_start, shown_value, start_refusal, Horizon, Key, Order};
use crate::base::error::Error;
use crate::base::stream_schema::RAW_VALUES;
use crate::base::streams::{CursorKind, Model};
use crate::client::limiter::Wait;
use crate::client::pace_memory::{self, Rejected, STATE_KEY};
use crate::source::deletes::{Stream as ReconciledStream, Tracker, STATE_KEY as DELETES_KEY};
use crate::source::pager::Absorbed;
use crate::source::pager::{Next, Pager};
use crate::source::shape::Shape;

use super::session::{refusal, Session};

/// Items (events, or pages of records) queued between the stream readers and the consumer
/// (back-pressure beyond this). A page of 500 wide records is about 0.75 MB: at 64 items a
/// reader ahead of a slow consumer held up to 48 MB (peak memory grew from 26 to 44 MiB
/// between 100k and 400k records, `bench_cpu`); 8 keep it flat at about 26 MiB.
const EVENT_BUFFER: usize = 8;

/// A state value for a log line, cut to a readable length.
fn excerpt(value: &Value) -> String {
    shown_value(value)
}

/// How one stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// The stream.
    pub stream: String,
    /// Records passed on.
    pub records: u64,
    /// Pages absorbed.
    pub pages: u64,
    /// `None` when complete, else what went wrong.
    pub failure: Option<String>,
}

impl Session {
    fn fetch_failure(&self, err: FetchError) -> Failure {
        match err {
            FetchError::Api(err) => self.failure(&err),
            FetchError::Task(detail) => Failure {
                class: FailureClass::System,
                message: "A request task of the connector stopped unexpectedly. Please report this to the connector's maintainers.".into(),
                internal: detail,
            },
        }
    }

    /// Starts fetching a page on its own task, through the limiter; the task also checks the
    /// records are JSON and reads their keys in `order` (one pass over each record).
    fn fetch(
        &self,
        model: &'static Model,
        order: Order,
        params: Vec<(String, String)>,
        shape: &Arc<Shape>,
        notices: &Notices,
    ) -> Fetch {
        let client = self.account.client.clone();
        let limiter = Arc::clone(&self.account.limiter);
        let notices = notices.clone();
        let shape = Arc::clone(shape);
        Fetch(tokio::spawn(async move {
            let on_wait = |wait: &Wait| notices.wait(model.stream, wait);
            let page = limiter
                .run(
                    || client.list_raw(model.module, model.model, &params, &order),
                    &on_wait,
                )
                .await
                .map_err(|err| match err {
                    // Name the stream, as the user knows it, rather than the API path.
                    Error::Oversized(over) => Error::oversized(model.stream, over.page, over.bound),
                    other => other,
                })?;
            let mut items = page.items;
            let shaped = shape.page(&mut items);
            Ok(KeyedPage {
                total: page.total,
                items,
                misfits: shaped.misfits,
            })
        }))
    }

    /// The streams to read, in catalog order; unknown ones are reported and skipped.
    async fn plans<'a>(
        &self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
        horizon: Horizon,
        out: &Out,
    ) -> Vec<Plan> {
        let only = self.account.settings.streams.as_ref().filter(|s| !s.is_empty());
        let mut plans = Vec::new();
        for configured in &catalog.streams {
            let name = &configured.stream.name;
            if only.is_some_and(|only| !only.contains(name)) {
                continue;
            }
            let Some(model) = crate::base::streams::model(name) else {
                out.unknown_stream(name).await;
                continue;
            };
            let incremental = configured.sync_mode == SyncMode::Incremental && model.cursor.is_some();
            // With webhooks, an incremental stream is polled only when its poll is due; the
            // poll reads its state without the webhook position.
            if incremental
                && self
                    .webhooks
                    .as_ref()
                    .is_some_and(|w| !w.poll_due(state.get(name), unix_now()))
            {
                continue;
            }
            let saved_state = crate::source::webhook::poll_state(state.get(name));
            let order = Order::of(model, incremental);
            if let Some(saved) = saved_state.as_ref().filter(|saved| !order.recognises(saved)) {
                let message = format!(
                    "{name}: the saved state {} is not a position this connector wrote for this sync mode: reading the stream from the start",
                    excerpt(saved)
                );
                out.log(LogLevel::Warn, message).await;
            }
            let start = order.start(saved_state.as_ref(), self.account.settings.start_date.as_deref());
            let saved = saved_state.as_ref().is_some_and(|saved| order.recognises(saved));
            if let Some(why) = start.as_ref().and_then(|key| refuse_start(key, &horizon)) {
                out.bad_start(name, saved, &why).await;
                continue;
            }
            let unix_cursor = matches!(order.cursor, Some((_, CursorKind::UnixSeconds)));
            if unix_cursor && start.is_none() && self.account.settings.start_date.is_some() {
                let message = format!("{name}: the start date does not apply to a cursor in Unix seconds (the portal's time zone is unknown): reading every record");
                out.log(LogLevel::Info, message).await;
            }
            // Deletes are tracked where a destination keeps one row per id: incremental
            // streams it deduplicates (`append_dedup`), or that PyAirbyte merges into its
            // cache (it configures every stream `overwrite`); an `append` table would only
            // gain rows of nulls.
            let dedup = configured.destination_sync_mode != DestinationSyncMode::Append;
            let deletes = match self.account.settings.deletes_every() {
                Some(every) if incremental && dedup => {
                    let kind = order.cursor.map(|(_, kind)| kind);
                    let saved = saved_state.as_ref().filter(|saved| order.recognises(saved));
                    let (tracker, warning) = Tracker::from_state(saved, kind, unix_now());
                    // Tracking begun by this read: every id it gives is at or after its start.
                    let tracker = match saved {
                        None => tracker.with_since(start.as_ref().and_then(|k| k.cursor.clone())),
                        Some(_) => tracker,
                    };
                    if let Some(warning) = warning {
                        out.log(LogLevel::Warn, format!("{name}: {warning}")).await;
                    }
                    let position = saved.map(|s| {
                        let mut s = s.clone();
                        if let Some(o) = s.as_object_mut() {
                            o.remove(DELETES_KEY);
                        }
                        s
                    });
                    Some(Deletes {
                        tracker,
                        every,
                        position,
                        pending: None,
                        emitted: None,
                    })
                }
                _ => None,
            };
            plans.push(Plan {
                model,
                shape: Arc::new(Shape::new(model.stream, &configured.stream.json_schema)),
                order,
                start,
                horizon,
                deletes,
            });
        }
        plans
    }

    /// Reads one stream to its end or its first non-retryable failure.
    async fn read_stream(&self, plan: Plan, out: Out) -> StreamSummary {
        let stream = plan.model.stream;
        out.status(stream, StreamStatus::Started).await;
        let depth = self.account.settings.concurrency();
        let window = u32::try_from(depth).unwrap_or(u32::MAX);
        let mut pager = Pager::new(plan.order, self.first_limit(), plan.start)
            .with_window(window)
            .with_horizon(plan.horizon);
        let mut summary = StreamSummary {
            stream: stream.to_string(),
            records: 0,
            pages: 0,
            failure: None,
        };
        let mut deletes = plan.deletes;
        let mut in_flight: VecDeque<Fetch> = VecDeque::new();
        let mut next_page = 1;
        loop {
            while in_flight.len() < depth && pager.may_request(next_page, in_flight.len()) {
                in_flight.push_back(self.fetch(
                    plan.model,
                    plan.order,
                    pager.request(next_page),
                    &plan.shape,
                    &out.notices,
                ));
                next_page += 1;
            }
            let Some(fetch) = in_flight.pop_front() else {
                break;
            };
            let page = match fetch.await {
                Ok(page) => page,
                Err(FetchError::Api(err)) => match refusal(&err).and_then(|code| pager.on_refusal(code)) {
                    Some(warning) => {
                        out.log(LogLevel::Warn, format!("{stream}: {warning} ({err})"))
                            .await;
                        in_flight.clear();
                        next_page = 1;
                        continue;
                    }
                    None => return out.failed(summary, self.failure(&err)).await,
                },
                Err(err) => return out.failed(summary, self.fetch_failure(err)).await,
            };
            let fetched = page.items.len();
            if !page.misfits.is_empty() {
                let fields: Vec<String> = page.misfits.iter().map(|(f, n)| format!("{f} ({n})")).collect();
                let message = format!(
                    "{stream}: values that fit no declared type are null in their columns and kept as sent in {RAW_VALUES}: {}",
                    fields.join(", ")
                );
                out.log(LogLevel::Warn, message).await;
            }
            let absorbed = match deletes.as_mut() {
                Some(deletes) => deletes.absorb(&mut pager, page),
                None => pager.absorb(page.items, page.total),
            };
            self.learn(&pager);
            summary.pages += 1;
            out.send(SourceEvent::Page {
                stream: stream.to_string(),
                records: fetched,
            })
            .await;
            if summary.records == 0 && !absorbed.records.is_empty() {
                out.status(stream, StreamStatus::Running).await;
            }
            for warning in absorbed.warnings {
                out.log(LogLevel::Warn, format!("{stream}: {warning}")).await;
            }
            summary.records += absorbed.records.len() as u64;
            out.records(stream, absorbed.records).await;
            if let Some(state) = absorbed.checkpoint {
                let held = deletes.as_mut().is_some_and(|d| d.hold(&state));
                if !held {
                    out.checkpoint(stream, self.with_pace(Deletes::decorate(deletes.as_mut(), state)))
                        .await;
                }
            }
            match absorbed.next {
                Next::Continue => {}
                Next::Restart => {
                    in_flight.clear();
                    next_page = 1;
                }
                Next::Done => break,
                Next::Stuck(message) => {
                    let failure = Failure {
                        class: FailureClass::System,
                        message: format!("{stream} could not be read to its end: {message}. Please report this to the connector's maintainers."),
                        internal: message,
                    };
                    return out.failed(summary, failure).await;
                }
            }
        }
        drop(in_flight);
        let last = pager
            .finish()
            .or_else(|| deletes.as_mut().and_then(|d| d.pending.take()));
        if let Some(state) = last {
            out.checkpoint(stream, self.with_pace(Deletes::decorate(deletes.as_mut(), state)))
                .await;
        }
        if let Some(deletes) = deletes.as_mut() {
            let now = unix_now();
            if deletes.tracker.due(now, deletes.every) {
                let on_wait = |wait: &Wait| out.notices.wait(stream, wait);
                let target = ReconciledStream {
                    model: plan.model,
                    position: deletes
                        .position
                        .as_ref()
                        .and_then(|p| plan.order.start(Some(p), None)),
                    shape: &plan.shape,
                };
                let outcome = self
                    .reconcile(&target, &mut deletes.tracker, now, self.method, &on_wait)
                    .await;
                for event in outcome.events {
                    out.send(event).await;
                }
                if outcome.changed {
                    let position = deletes.position.clone().unwrap_or_else(|| {
                        plan.order.checkpoint(&Key {
                            cursor: None,
                            id: None,
                        })
                    });
                    out.checkpoint(stream, self.with_pace(Deletes::decorate(Some(deletes), position)))
                        .await;
                }
            }
        }
        out.status(stream, StreamStatus::Complete).await;
        summary
    }

    /// A stream's state with what the account's pace learned so far (the next run starts
    /// from the newest one among its streams' states): only once something was learned, so a
    /// read that met no cap writes the states it always wrote.
    fn with_pace(&self, mut state: Value) -> Value {
        if let (Some(snapshot), Value::Object(map)) = (self.account.pace_snapshot(), &mut state) {
            map.insert(STATE_KEY.to_string(), snapshot.to_value());
        }
        state
    }

    /// Starts the account's pace from the newest one remembered in `state`; returns the
    /// streams' states without it (their positions).
    async fn remembered_pace(&self, state: &SourceState, out: &Out) -> SourceState {
        let streams = state.streams.iter().map(|(name, saved)| (name.as_str(), saved));
        let (newest, rejected) = pace_memory::newest_in_states(streams);
        for (stream, why) in rejected {
            let message = format!("{stream}: the account's pace remembered in the state is {why}");
            out.log(LogLevel::Warn, message).await;
        }
        if let Some(snapshot) = newest {
            match self.account.restore_pace(&snapshot) {
                Ok(()) => {
                    let message = format!(
                        "starting from the account's pace remembered in the state: {:.2} requests/s",
                        snapshot.clean
                    );
                    out.log(LogLevel::Info, message).await;
                }
                Err(Rejected::AlreadyLearning) => {}
                Err(why) => {
                    out.log(
                        LogLevel::Warn,
                        format!("the account's pace remembered in the state is {why}"),
                    )
                    .await;
                }
            }
        }
        SourceState {
            streams: state
                .streams
                .iter()
                .map(|(name, saved)| (name.clone(), pace_memory::strip(saved)))
                .collect(),
        }
    }

    /// Reads every planned stream, then logs the summary.
    async fn read_all(&self, catalog: &ConfiguredCatalog, state: &SourceState, out: Out) {
        let state = self.remembered_pace(state, &out).await;
        let plans = self.plans(catalog, &state, Horizon::now(), &out).await;
        let active = self.account.settings.concurrency();
        let summaries: Vec<StreamSummary> = stream::iter(plans)
            .map(|plan| self.read_stream(plan, out.clone()))
            .buffer_unordered(active)
            .collect()
            .await;
        out.log(LogLevel::Info, summary_text(&summaries)).await;
    }

    /// The events of a read: records a page at a time, checkpoints, logs and a summary.
    pub(super) fn events<'a>(
        &'a self,
        catalog: &'a ConfiguredCatalog,
        state: &'a SourceState,
    ) -> BoxStream<'a, SourceEvent> {
        let (events, events_rx) = mpsc::channel(EVENT_BUFFER);
        let (notices, notices_rx) = mpsc::unbounded_channel();
        let out = Out {
            events,
            notices: Notices(notices),
        };
        let driver = stream::once(self.read_all(catalog, state, out)).filter_map(|()| async { None });
        let events = stream::unfold(
            events_rx,
            |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
        );
        let notices = stream::unfold(
            notices_rx,
            |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
        );
        Box::pin(stream::select(stream::select(events, notices), driver))
    }
}

/// One stream to read.
#[derive(Debug)]
struct Plan {
    model: &'static Model,
    shape: Arc<Shape>,
    order: Order,
    start: Option<crate::base::cursor::Key>,
    horizon: Horizon,
    /// Deletes tracked and reconciled (incremental streams a destination deduplicates).
    deletes: Option<Deletes>,
}

/// A stream's deletes during a read: the ids passed on, the schedule, the last position.
#[derive(Debug)]
struct Deletes {
    tracker: Tracker,
    /// Seconds between reconciliations.
    every: i64,
    /// The last position checkpointed (without the deletes part).
    position: Option<Value>,
    /// A page's checkpoint held back (see [`Deletes::hold`]), passed on at the end.
    pending: Option<Value>,
    /// When a checkpoint of this stream was last passed on.
    emitted: Option<std::time::Instant>,
}

/// Above this many ids, a stream's checkpoints (each carrying every id) are passed on at most
/// every [`CHECKPOINT_EVERY`]: a first read of a million records at 100 a page would otherwise
/// write 10,000 states of up to half a megabyte each.
const MANY_IDS: u64 = 50_000;
/// See [`MANY_IDS`].
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Deletes {
    /// Whether to hold back a page's checkpoint (kept as pending: the end passes the last one
    /// on; a read resumed from an earlier one reads those pages again, losing nothing).
    fn hold(&mut self, state: &Value) -> bool {
        let now = std::time::Instant::now();
        let recent = self
            .emitted
            .is_some_and(|at| now.duration_since(at) < CHECKPOINT_EVERY);
        if self.tracker.given() > MANY_IDS && recent {
            self.pending = Some(state.clone());
            return true;
        }
        self.emitted = Some(now);
        self.pending = None;
        false
    }

    /// Absorbs a page, noting the id and cursor of every record passed on.
    fn absorb(&mut self, pager: &mut Pager, page: KeyedPage) -> Absorbed<Box<RawValue>> {
        let keyed = page
            .items
            .into_iter()
            .map(|(raw, key)| ((raw, key.clone()), key))
            .collect();
        let absorbed = pager.absorb(keyed, page.total);
        let mut records = Vec::with_capacity(absorbed.records.len());
        for (raw, key) in absorbed.records {
            self.tracker.note(key.as_ref());
            records.push(raw);
        }
        Absorbed {
            records,
            checkpoint: absorbed.checkpoint,
            warnings: absorbed.warnings,
            next: absorbed.next,
        }
    }

    /// A checkpoint's state with the deletes part (a state with no position gets the empty
    /// one, so the next read still starts from the beginning).
    fn decorate(deletes: Option<&mut Self>, state: Value) -> Value {
        let Some(deletes) = deletes else {
            return state;
        };
        let mut state = if state.get("cursor").is_some() {
            state
        } else {
            deletes.position.clone().unwrap_or(state)
        };
        if state.get("cursor").is_none() {
            return state;
        }
        deletes.position = Some(state.clone());
        deletes.tracker.decorate(&mut state);
        state
    }
}

/// The machine's clock, Unix seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// A fetched page: the total it announced, and its records as sent with their keys.
struct KeyedPage {
    total: Option<u64>,
    items: Vec<(Box<RawValue>, Option<Key>)>,
    /// Values that fit no declared type, by field (see `shape`).
    misfits: std::collections::BTreeMap<String, u64>,
}

/// A page being fetched on its own task; dropping it cancels the request.
struct Fetch(JoinHandle<Result<KeyedPage, Error>>);

impl Future for Fetch {
    type Output = Result<KeyedPage, FetchError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|joined| match joined {
            Ok(Ok(page)) => Ok(page),
            Ok(Err(err)) => Err(FetchError::Api(err)),
            Err(join) => Err(FetchError::Task(join.to_string())),
        })
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why a page could not be fetched.
enum FetchError {
    Api(Error),
    Task(String),
}

/// Notices (waits) sent from fetch tasks as they happen.
#[derive(Debug, Clone)]
struct Notices(mpsc::UnboundedSender<SourceEvent>);

impl Notices {
    fn wait(&self, stream: &str, wait: &Wait) {
        let _ = self.0.send(SourceEvent::Wait(wait.event(stream)));
    }
}

/// Where a read's events go.
#[derive(Debug, Clone)]
struct Out {
    events: mpsc::Sender<SourceEvent>,
    notices: Notices,
}

impl Out {
    async fn send(&self, event: SourceEvent) {
        // The receiver lives as long as the read: a send fails only once the read is dropped.
        let _ = self.events.send(event).await;
    }

    async fn status(&self, stream: &str, status: StreamStatus) {
        self.send(SourceEvent::Status {
            stream: stream.to_string(),
            status,
        })
        .await;
    }

    async fn log(&self, level: LogLevel, message: String) {
        self.send(SourceEvent::Log { level, message }).await;
    }

    async fn records(&self, stream: &'static str, records: Vec<Box<RawValue>>) {
        if !records.is_empty() {
            let _ = self
                .events
                .send(SourceEvent::Records(RawRecords::new(stream, records)))
                .await;
        }
    }

    async fn checkpoint(&self, stream: &str, state: Value) {
        self.send(SourceEvent::Checkpoint(Checkpoint {
            stream: stream.to_string(),
            state,
        }))
        .await;
    }

    async fn failed(&self, mut summary: StreamSummary, failure: Failure) -> StreamSummary {
        summary.failure = Some(failure.message.clone());
        self.send(SourceEvent::Error {
            stream: Some(summary.stream.clone()),
            failure,
        })
        .await;
        self.status(&summary.stream, StreamStatus::Incomplete).await;
        summary
    }

    /// A saved position (or the start date) that cannot be read from: the stream is not read
    /// (reading it would find nothing new and save the same position again).
    async fn bad_start(&self, name: &str, saved: bool, why: &str) {
        let failure = Failure {
            class: FailureClass::Config,
            message: format!("{name}: {}", start_refusal(saved, why)),
            internal: format!("{name}: unusable start position: {why}"),
        };
        self.send(SourceEvent::Error {
            stream: Some(name.to_string()),
            failure,
        })
        .await;
        self.status(name, StreamStatus::Incomplete).await;
    }

    async fn unknown_stream(&self, name: &str) {
        let failure = Failure {
            class: FailureClass::Config,
            message: format!(
                "The catalog asks for a stream `{name}` that Flowlu does not have. Run discover again and select streams from its catalog."
            ),
            internal: format!("unknown stream {name}"),
        };
        self.send(SourceEvent::Error {
            stream: Some(name.to_string()),
            failure,
        })
        .await;
    }
}

/// One line saying how every stream ended.
fn summary_text(summaries: &[StreamSummary]) -> String {
    let failed = summaries.iter().filter(|s| s.failure.is_some()).count();
    let mut text = format!(
        "read {} streams: {} complete, {failed} failed",
        summaries.len(),
        summaries.len() - failed
    );
    for s in summaries {
        match &s.failure {
            None => text.push_str(&format!(
                "; {}: {} records in {} pages",
                s.stream, s.records, s.pages
            )),
            Some(why) => text.push_str(&format!(
                "; {}: FAILED after {} records ({why})",
                s.stream, s.records
            )),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::cursor::Id;

    fn deletes(ids: u64) -> Deletes {
        let (mut tracker, _) = Tracker::from_state(None, None, 0);
        for id in 1..=ids {
            tracker.note(Some(&Key {
                cursor: None,
                id: Some(Id::Num(id)),
            }));
        }
        Deletes {
            tracker,
            every: 3600,
            position: None,
            pending: None,
            emitted: None,
        }
    }

    #[test]
    fn many_ids_thin_the_checkpoints_and_keep_the_last_one() {
        let (a, b, c) = (
            serde_json::json!({"cursor": "a"}),
            serde_json::json!({"cursor": "b"}),
            serde_json::json!({"cursor": "c"}),
        );
        let mut few = deletes(10);
        assert!(!few.hold(&a) && !few.hold(&b), "a few ids: every checkpoint");
        let mut many = deletes(MANY_IDS + 1);
        assert!(!many.hold(&a), "the first one passes");
        assert!(many.hold(&b) && many.hold(&c), "then at most one per interval");
        assert_eq!(many.pending, Some(c), "the last one held is kept for the end");
    }
}
