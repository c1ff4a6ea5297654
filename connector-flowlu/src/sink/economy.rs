//! Request economy of a write: per stream, a lookup per record or one read of the model into
//! an [`ModelIndex`], whichever costs fewer requests.
//!
//! * **Which streams**: upserts (by match field or by id) and updates. Creates and deletes are
//!   sent as they come.
//! * **Counts**: the records of the stream seen so far, and the model's size from one cheap
//!   call (`list?page=1&limit=<page size>&order_by[desc][]=id`: its `total`, how many records
//!   a page really holds, and the newest id), made once the stream has [`PROBE_AT`] (101)
//!   records: from then on the probe adds at most 1% to the lookups it may spare. A stream
//!   that ends (or meets a checkpoint) before that is looked up record by record without it:
//!   an index could save such a stream at most 98 requests (into a model of one page), while
//!   the probe would add one request to every write of up to 100 records into a large model.
//! * **The probe serves**: when its page holds the whole model (a short page, `total` no
//!   larger), it is the index, and nothing more is read.
//! * **Rule**: reading the index costs `ceil(size / page size)` requests; a lookup costs one
//!   per record. Records of the stream are held back (input keeps flowing, checkpoints wait
//!   for them) until their count reaches that cost: then the index is read and serves them and
//!   every later record of the stream. When the input ends, or a checkpoint arrives, first,
//!   the held records are looked up one by one and counting goes on (so a long input split by
//!   checkpoints still switches to the index once it has paid for it). At most [`MAX_HELD`]
//!   records are held per stream.
//! * **Staleness**: the planner reads ahead up to [`LOOKAHEAD`] input items that are already
//!   there, and notes how many records each stream has taken ([`StreamShared::received`]).
//!   Before a create decided by the index, the sink reads the records above the index's newest
//!   id unless the portal was read after that record was taken ([`ModelIndex::fresh_for`]):
//!   a record someone else created meanwhile with the same match value is found and updated,
//!   and one read serves every record taken before it (a batch of creates costs one page).
//!   When the index holds dated records, the same staleness read also asks for the records
//!   others edited since (one more page, usually empty; see [`ModelIndex`]). Besides, every
//!   `unchanged` and create decision through the index needs a read begun at most
//!   `staleness_seconds` before it (see [`ModelIndex::recent`]): one refresh then serves every
//!   decision for that long.
//! * **Unknown size** (no `total`), a model above [`MAX_INDEX_RECORDS`], or a failed probe or
//!   read: lookups, as before.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::stream::{BoxStream, StreamExt};
use futures::FutureExt;
use serde_json::Value;

use crate::account::Account;
use crate::base::settings::WriteMode;
use crate::client::ListPage;
use crate::sink::compare::sent_fields;
use crate::sink::index::{ModelIndex, StalenessClock, MAX_COMPARED_FIELDS, MAX_INDEX_RECORDS};
use crate::sink::plan::{StreamPlan, Tagged, WritePlan};

/// Input items read ahead of the writers, when the input already holds them: a read of the
/// portal before a create covers every record taken before it began.
pub(crate) const LOOKAHEAD: usize = 200;

/// The size probe is made once a stream has this many records: from then on it adds at most
/// 1% to the lookups it may spare. A stream of fewer records is looked up without it.
pub(crate) const PROBE_AT: u64 = 101;

/// At most this many records of one stream are held back while the choice is open.
pub(crate) const MAX_HELD: usize = 10_000;

/// How a record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// As the mode says, one lookup per record where a match is needed.
    Lookup,
    /// Through the stream's index.
    Index,
}

/// What the records of one stream share during a write.
#[derive(Debug, Default)]
pub(crate) struct StreamShared {
    /// The highest id known to exist in the model: a record created after it was known has a
    /// higher id (Flowlu's ids ascend).
    pub newest: AtomicU64,
    /// The fields the index compares (those the held records send).
    pub fields: Mutex<Vec<String>>,
    /// The index, read by the first record that needs it; `None` when it could not be read.
    pub index: tokio::sync::OnceCell<Option<tokio::sync::Mutex<ModelIndex>>>,
    /// One more than the highest sequence of the stream's records taken from the input.
    pub received: AtomicU64,
    /// Records of the stream taken from the input.
    pub(crate) taken: AtomicU64,
    /// Records of the stream that have their outcome.
    pub(crate) done: AtomicU64,
    /// Records a page of the model really holds (the size probe's answer; 0: not known, the
    /// page size asked).
    pub(crate) page: AtomicU64,
    /// The model's newest records, read before the write's first create
    /// ([`crate::sink::resume`]); `None` when the portal refused that read.
    pub(crate) earlier: tokio::sync::OnceCell<Option<tokio::sync::Mutex<crate::sink::resume::Earlier>>>,
    /// The clock the staleness bound is measured on.
    pub clock: StalenessClock,
}

impl StreamShared {
    /// Notes that `id` exists.
    pub(crate) fn saw(&self, id: u64) {
        self.newest.fetch_max(id, Ordering::SeqCst);
    }

    /// The highest id known to exist now.
    pub(crate) fn floor(&self) -> u64 {
        self.newest.load(Ordering::SeqCst)
    }

    /// Every record of the stream numbered below this was taken from the input.
    pub(crate) fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Records of the stream taken from the input and not yet written (the one being
    /// written included).
    pub(crate) fn left(&self) -> u64 {
        self.taken
            .load(Ordering::SeqCst)
            .saturating_sub(self.done.load(Ordering::SeqCst))
    }
}

/// One planned input item.
pub(crate) struct Planned {
    pub item: Tagged,
    pub shared: Option<Arc<StreamShared>>,
    pub strategy: Strategy,
}

/// Whether records of `plan` can use an index.
fn indexable(plan: &StreamPlan) -> bool {
    matches!(plan.mode, WriteMode::Upsert | WriteMode::Update)
}

struct StreamCount {
    seen: u64,
    held: Vec<Tagged>,
    /// `Some(cost)` once probed and indexable; `None` inside once probed and not indexable.
    probe: Option<Option<u64>>,
    index: bool,
    shared: Arc<StreamShared>,
}

impl StreamCount {
    fn new(clock: &StalenessClock) -> Self {
        Self {
            seen: 0,
            held: Vec::new(),
            probe: None,
            index: false,
            shared: Arc::new(StreamShared {
                clock: clock.clone(),
                ..StreamShared::default()
            }),
        }
    }
}

struct Planner<'a> {
    account: &'a Account,
    clock: StalenessClock,
    plan: Arc<WritePlan>,
    input: BoxStream<'a, Tagged>,
    ready: VecDeque<Planned>,
    streams: HashMap<String, StreamCount>,
    ended: bool,
}

/// Plans every input item: see the [module documentation](self).
pub(crate) fn plan_input<'a>(
    account: &'a Account,
    clock: StalenessClock,
    plan: Arc<WritePlan>,
    input: BoxStream<'a, Tagged>,
) -> BoxStream<'a, Planned> {
    let planner = Planner {
        account,
        clock,
        plan,
        input,
        ready: VecDeque::new(),
        streams: HashMap::new(),
        ended: false,
    };
    futures::stream::unfold(planner, |mut p| async move { p.next().await.map(|x| (x, p)) }).boxed()
}

impl Planner<'_> {
    async fn next(&mut self) -> Option<Planned> {
        loop {
            if !self.ended && self.ready.len() < LOOKAHEAD {
                // Wait for input only when nothing is ready; else take what is already there.
                let item = if self.ready.is_empty() {
                    Some(self.input.next().await)
                } else {
                    self.input.next().now_or_never()
                };
                match item {
                    Some(None) => {
                        self.ended = true;
                        self.release_all();
                        continue;
                    }
                    Some(Some(checkpoint @ Tagged::Checkpoint { .. })) => {
                        self.release_all();
                        self.ready.push_back(Planned {
                            item: checkpoint,
                            shared: None,
                            strategy: Strategy::Lookup,
                        });
                        continue;
                    }
                    Some(Some(record @ Tagged::Record { .. })) => {
                        self.record(record).await;
                        continue;
                    }
                    None => {}
                }
            }
            if let Some(planned) = self.ready.pop_front() {
                return Some(planned);
            }
            if self.ended {
                return None;
            }
        }
    }

    async fn record(&mut self, item: Tagged) {
        let Tagged::Record { record, sequence } = &item else {
            return;
        };
        let sequence = *sequence;
        let stream_plan = self.plan.get(&record.stream).cloned();
        let Some(stream_plan) = stream_plan else {
            self.ready.push_back(Planned {
                item,
                shared: None,
                strategy: Strategy::Lookup,
            });
            return;
        };
        let clock = &self.clock;
        let count = self
            .streams
            .entry(stream_plan.stream.clone())
            .or_insert_with(|| StreamCount::new(clock));
        count.seen += 1;
        count.shared.received.fetch_max(sequence + 1, Ordering::SeqCst);
        count.shared.taken.fetch_add(1, Ordering::SeqCst);
        let shared = Arc::clone(&count.shared);
        if !indexable(&stream_plan) || count.index || matches!(count.probe, Some(None)) {
            let strategy = if count.index {
                Strategy::Index
            } else {
                Strategy::Lookup
            };
            self.ready.push_back(Planned {
                item,
                shared: Some(shared),
                strategy,
            });
            return;
        }
        count.held.push(item);
        let mut whole = None;
        if count.probe.is_none() && count.seen >= PROBE_AT {
            let probed = probe(self.account, &stream_plan, &shared).await;
            whole = probed.whole;
            // The entry is still there: nothing else touched the map meanwhile.
            if let Some(count) = self.streams.get_mut(&stream_plan.stream) {
                count.probe = Some(probed.cost);
            }
        }
        let Some(count) = self.streams.get_mut(&stream_plan.stream) else {
            return;
        };
        match count.probe {
            Some(Some(cost)) if count.seen >= cost => {
                count.index = true;
                let fields = compared_fields(&stream_plan, &count.held);
                if let Some((items, received, began)) = whole {
                    // The probe's page is the whole model: it is the index.
                    let key = stream_plan.match_field.as_deref().unwrap_or("id");
                    let mut index = ModelIndex::new(key, fields.clone())
                        .with_kinds(&stream_plan.kinds)
                        .with_cursor(stream_plan.cursor);
                    index.absorb(&items);
                    index.covered(received, began);
                    // Unset until now: only records planned for the index read it.
                    let _ = shared.index.set(Some(tokio::sync::Mutex::new(index)));
                }
                *count.shared.fields.lock().unwrap_or_else(PoisonError::into_inner) = fields;
                tracing::debug!(stream = %stream_plan.stream, seen = count.seen, cost, "write reads the model into an index");
                let held = std::mem::take(&mut count.held);
                self.release(held, &shared, Strategy::Index);
            }
            Some(None) => {
                let held = std::mem::take(&mut count.held);
                self.release(held, &shared, Strategy::Lookup);
            }
            _ if count.held.len() >= MAX_HELD => {
                let held = std::mem::take(&mut count.held);
                self.release(held, &shared, Strategy::Lookup);
            }
            _ => {}
        }
    }

    fn release(&mut self, held: Vec<Tagged>, shared: &Arc<StreamShared>, strategy: Strategy) {
        self.ready.extend(held.into_iter().map(|item| Planned {
            item,
            shared: Some(Arc::clone(shared)),
            strategy,
        }));
    }

    /// Releases every held record (as lookups), in input order.
    fn release_all(&mut self) {
        let mut all: Vec<(Tagged, Arc<StreamShared>)> = Vec::new();
        for count in self.streams.values_mut() {
            let shared = Arc::clone(&count.shared);
            all.extend(
                std::mem::take(&mut count.held)
                    .into_iter()
                    .map(|t| (t, Arc::clone(&shared))),
            );
        }
        all.sort_by_key(|(t, _)| match t {
            Tagged::Record { sequence, .. } => *sequence,
            Tagged::Checkpoint { before, .. } => *before,
        });
        self.ready.extend(all.into_iter().map(|(item, shared)| Planned {
            item,
            shared: Some(shared),
            strategy: Strategy::Lookup,
        }));
    }
}

/// The union of the fields the held records send (at most [`MAX_COMPARED_FIELDS`]).
fn compared_fields(plan: &StreamPlan, held: &[Tagged]) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    for item in held {
        let Tagged::Record { record, .. } = item else {
            continue;
        };
        let Some(data) = record.data.as_object() else {
            continue;
        };
        let Ok(body) = plan.schema.check(data, false) else {
            continue;
        };
        for (name, _) in sent_fields(&body).unwrap_or_default() {
            if !fields.iter().any(|f| f == name) && fields.len() < MAX_COMPARED_FIELDS {
                fields.push(name.to_string());
            }
        }
    }
    fields
}

/// One list call through the account's limiter.
pub(crate) async fn list(
    account: &Account,
    plan: &StreamPlan,
    params: &[(String, String)],
) -> Result<ListPage, crate::base::error::Error> {
    list_until(account, plan, params, &account.stop).await
}

/// [`list`], not sent once `stop` is cancelled ([`crate::base::error::Error::Stopped`]).
pub(crate) async fn list_until(
    account: &Account,
    plan: &StreamPlan,
    params: &[(String, String)],
    stop: &tokio_util::sync::CancellationToken,
) -> Result<ListPage, crate::base::error::Error> {
    account
        .limiter
        .run_until(
            stop,
            || account.client.list(plan.module, plan.model, params),
            crate::base::error::Error::is_retryable,
            &|w| account.waited(&plan.stream, w),
        )
        .await
}

/// [`list`], with the moment (on the write's `clock`) the attempt that answered was sent: the
/// portal's read began then, not when the request was queued behind the pace or other
/// requests.
async fn list_sent(
    account: &Account,
    plan: &StreamPlan,
    params: &[(String, String)],
    clock: &StalenessClock,
) -> Result<(ListPage, std::time::Duration), crate::base::error::Error> {
    let sent = Mutex::new(clock.now());
    let page = account
        .limiter
        .run_until(
            &account.stop,
            || async {
                // Polled first once the limiter lets the attempt go.
                *sent.lock().unwrap_or_else(PoisonError::into_inner) = clock.now();
                account.client.list(plan.module, plan.model, params).await
            },
            crate::base::error::Error::is_retryable,
            &|w| account.waited(&plan.stream, w),
        )
        .await?;
    let sent = *sent.lock().unwrap_or_else(PoisonError::into_inner);
    Ok((page, sent))
}

fn pairs(items: &[(&str, String)]) -> Vec<(String, String)> {
    items.iter().map(|(k, v)| ((*k).to_string(), v.clone())).collect()
}

/// What the size probe found.
struct Probed {
    /// The requests an index read costs; `None` when it cannot be told or the model is too
    /// large.
    cost: Option<u64>,
    /// The probe's records when they are the whole model, the records taken from the input
    /// when it was sent, and when it began (on the write's clock).
    whole: Option<(Vec<Value>, u64, std::time::Duration)>,
}

/// The requests an index read of the model costs, from one list call of the newest records
/// at the configured page size (its `total`, and how many records a page really holds: a
/// portal that caps pages below what was asked makes the index cost more). A short page whose
/// `total` (if any) is no larger holds the whole model: the index costs nothing more. Notes
/// the newest id.
async fn probe(account: &Account, plan: &StreamPlan, shared: &StreamShared) -> Probed {
    let asked = u64::from(account.settings.page_size());
    let params = pairs(&[
        ("page", "1".into()),
        ("limit", asked.to_string()),
        ("order_by[desc][]", "id".into()),
    ]);
    let received = shared.received();
    let began = shared.clock.now();
    let page = match list(account, plan, &params).await {
        Ok(page) => page,
        Err(e) => {
            tracing::debug!(stream = %plan.stream, error = %e, "size probe failed; records are looked up");
            return Probed {
                cost: None,
                whole: None,
            };
        }
    };
    if let Some(id) = page
        .items
        .iter()
        .filter_map(|i| i.get("id").and_then(id_of))
        .max()
    {
        shared.saw(id);
    }
    let served = page.items.len() as u64;
    // A short page is the whole model only when `total` says so (a portal may cap the page).
    let whole = page.items.is_empty() || (served < asked && page.total.is_some_and(|t| t <= served));
    if whole {
        return Probed {
            cost: Some(0),
            whole: Some((page.items, received, began)),
        };
    }
    let cost = page
        .total
        .filter(|total| *total <= MAX_INDEX_RECORDS)
        .map(|total| {
            let size = if total > served {
                served.clamp(1, asked)
            } else {
                asked
            };
            shared.page.store(size, Ordering::SeqCst);
            total.div_ceil(size)
        });
    Probed { cost, whole: None }
}

fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Reads every record above `index.newest_id()` into `index` (keyset pages ascending by id);
/// on success the index covers the records taken from the input before the read began, and
/// the read counts as begun when its first request was sent (the attempt that answered, not
/// when it was queued: [`list_sent`]).
/// Fails, naming why, when the portal ignores the id filter or the order, or the model grows
/// past [`MAX_INDEX_RECORDS`].
pub(crate) async fn read_into(
    account: &Account,
    plan: &StreamPlan,
    index: &mut ModelIndex,
    shared: &StreamShared,
) -> Result<u64, String> {
    read_counting(account, plan, index, shared, false).await
}

/// [`read_into`], which first (when `count` and the index was read before) asks for the
/// model's size (`page=1&limit=1`: its `total_result`, else `total`) and, once every record
/// created since is read, compares it with the records the index knows
/// ([`ModelIndex::counted`]): a record others deleted since it was read shows as a shortfall.
/// The count comes first so that every record it counts is then known (ids of new records
/// ascend above the newest one read).
pub(crate) async fn read_counting(
    account: &Account,
    plan: &StreamPlan,
    index: &mut ModelIndex,
    shared: &StreamShared,
    count: bool,
) -> Result<u64, String> {
    let limit = account.settings.page_size();
    let received = shared.received();
    // When the read began: when its first request (the count, else the first page) was sent.
    let mut began = None;
    let mut total = None;
    let mut requests = 0;
    if count && index.counts() {
        let params = pairs(&[("page", "1".into()), ("limit", "1".into())]);
        let (page, sent) = list_sent(account, plan, &params, &shared.clock)
            .await
            .map_err(|e| e.to_string())?;
        began.get_or_insert(sent);
        requests += 1;
        total = Some(page.total);
    }
    // Taken before the read by id: the first read of the index has nothing to ask for, and
    // records others created meanwhile are read by id, not again as edited.
    let edited = index.edited_query();
    loop {
        let after = index.newest_id();
        let params = pairs(&[
            ("filter[id]", format!(r#"{{"type":"more","value":{after}}}"#)),
            ("order_by[asc][]", "id".into()),
            ("page", "1".into()),
            ("limit", limit.to_string()),
        ]);
        let (page, sent) = list_sent(account, plan, &params, &shared.clock)
            .await
            .map_err(|e| e.to_string())?;
        began.get_or_insert(sent);
        requests += 1;
        let ids: Vec<Option<u64>> = page.items.iter().map(|i| i.get("id").and_then(id_of)).collect();
        let mut last = after;
        for id in &ids {
            match id {
                Some(id) if *id > last => last = *id,
                _ => {
                    return Err(
                        "Flowlu did not answer records in ascending id order above the last one read (the id filter or the order was ignored)".into(),
                    )
                }
            }
        }
        index.absorb(&page.items);
        if let Some(id) = ids.last().copied().flatten() {
            shared.saw(id);
        }
        if index.len() as u64 > MAX_INDEX_RECORDS {
            return Err(format!("the model holds more than {MAX_INDEX_RECORDS} records"));
        }
        let rest_known_empty = page.total.is_some_and(|t| t <= page.items.len() as u64);
        if page.items.is_empty() || rest_known_empty {
            break;
        }
    }
    if let Some(query) = edited {
        match read_edited(account, plan, index, &query).await {
            Ok(read) => requests += read,
            // The portal refused or ignored the filter: edits are given up (creates are looked
            // up instead); what others created was read.
            Err(_) if index.edits_unseen().is_some() => requests += 1,
            Err(why) => return Err(why),
        }
    }
    // Every read above was answered, so one was sent.
    let began = began.unwrap_or_default();
    if let Some(total) = total {
        index.counted(total, began);
    }
    index.covered(received, began);
    Ok(requests)
}

/// Reads the records others edited since the index was last read (their updated time at
/// least the newest one read, their id at most the highest the first read found), pages ascending by id,
/// into `index`: a record given a match value the write is about to create is updated, not
/// duplicated. A portal that refuses the filter (Flowlu errors 12 and 21) or ignores it (a
/// record older, or newer by id, than asked) makes the index give edits up: creates are then
/// looked up first.
async fn read_edited(
    account: &Account,
    plan: &StreamPlan,
    index: &mut ModelIndex,
    query: &crate::sink::index::EditedQuery,
) -> Result<u64, String> {
    let limit = account.settings.page_size();
    let mut requests = 0;
    let mut seen = 0u64;
    let mut last = 0u64;
    let floor = crate::base::dates::parse_naive(&query.after).unwrap_or(i64::MIN);
    for page_no in 1u64.. {
        let params = pairs(&[
            (
                &format!("filter[{}]", query.column),
                serde_json::json!({"type": "more", "value": query.after}).to_string(),
            ),
            (
                "filter[id]",
                format!(r#"{{"type":"less","value":{}}}"#, query.below),
            ),
            ("order_by[asc][]", "id".into()),
            ("page", page_no.to_string()),
            ("limit", limit.to_string()),
        ]);
        let page = match list(account, plan, &params).await {
            Ok(page) => page,
            Err(e) => {
                let why = e.to_string();
                if e.refuses_filter() {
                    tracing::warn!(stream = %plan.stream, column = %query.column, "Flowlu refused the filter on the updated time: records others edit during this write are not seen; each create is looked up first");
                    index.give_up_edits(format!("Flowlu refused filter[{}]", query.column));
                }
                return Err(why);
            }
        };
        requests += 1;
        // Ids ascend within and across pages; none beyond the bound, none older than asked.
        let ignored = page.items.iter().any(|item| {
            let id = item.get("id").and_then(id_of);
            let at = item
                .get(&query.column)
                .and_then(Value::as_str)
                .and_then(crate::base::dates::parse_naive);
            let ascending = id.is_some_and(|id| id > last && id < query.below);
            if let Some(id) = id {
                last = last.max(id);
            }
            !ascending || at.is_some_and(|at| at <= floor)
        });
        if ignored {
            tracing::warn!(stream = %plan.stream, column = %query.column, "Flowlu ignored the filter on the updated time: records others edit during this write are not seen; each create is looked up first");
            index.give_up_edits(format!("Flowlu ignored filter[{}]", query.column));
            return Err(format!("Flowlu ignored filter[{}]", query.column));
        }
        index.absorb_edited(&page.items);
        seen += page.items.len() as u64;
        // A short page ends the read only when `total` agrees (a portal may cap the page).
        if page.items.is_empty() || page.total.is_some_and(|t| t <= seen) {
            break;
        }
    }
    Ok(requests)
}
