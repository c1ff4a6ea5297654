//! Deletes by reconciliation: Flowlu reports no deletes (no deleted-records endpoint, no flag,
//! no change log), so a record deleted in Flowlu is learned from an id that a complete list no
//! longer returns.
//!
//! * [`Tracker`]: per incremental stream, the ids the destination was given (every id passed
//!   on, less those tombstoned), a compressed bitmap in the stream's state, with the newest
//!   cursor passed on, the highest id ever given, the start date tracking began at (every id
//!   given was updated at or after it) and the time of the last reconciliation.
//! * A reconciliation ([`Session::reconcile`]) reads the ids Flowlu holds now, as cheaply as
//!   the portal allows: where `filter[id]` (`more`) and the answer's total are honoured, it
//!   counts the records above id boundaries (from 0 to the highest id ever given; with a start
//!   date, only the records updated since it, as the read filters them) and lists only the id
//!   ranges whose count differs from the ids given (about k·log2(N/page) requests for k deletes
//!   among N records);
//!   elsewhere, when a count contradicts a list, or when so many ids changed that counting
//!   costs more, it lists every id at the page size the account honours ([`Method::Scan`]).
//! * No false deletes: a tombstone only for an id missing from a list proved complete (every
//!   page read, ids strictly ascending, the count the portal gives consistent with the ids
//!   listed) and then confirmed by a `get` answering "not found" (a record a list hides, for
//!   example archived, is kept). Anything cut short (an error, a page the portal ignored, a
//!   count that changed) sends no tombstone and says why. A guard holds back every delete of
//!   a reconciliation that would delete more than `max_deletes_percent` of the stream.
//! * The tombstone's cursor is the newest cursor the stream ever passed on: every cursor a
//!   record was passed on with is one of those, in the portal's own clock and zone, so it is
//!   never older than any of them whatever that clock or zone is; a record restored or
//!   edited later gets a cursor of the portal's clock after it, which sorts after the
//!   tombstone (equal values: the later row wins).
//! * Restores are not lost: a record a list shows whose id the destination does not hold, that
//!   no incremental read brings ([`Scope::restores`]: at or before the saved position, as a
//!   restore's old `updated_date` is), is sent again from the list's text, its cursor raised to
//!   the tombstone's ([`raise_cursor`]), and given again.

use std::collections::{BTreeSet, HashMap};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use connector_core::{
    Checkpoint, ConfiguredStream, LogLevel, RawRecords, SourceEvent, SourceState, Tombstone,
};
use roaring::RoaringTreemap;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

use crate::base::cursor::{CursorValue, Id, Key, Order};
use crate::base::error::Error;
use crate::base::stream_schema::RAW_VALUES;
use crate::base::streams::{CursorKind, Model};
use crate::client::limiter::Wait;
use crate::client::page::RawListPage;
use crate::source::shape::Shape;

pub use super::session::Method;
use super::session::Session;

/// The key of the deletes part of a stream's state.
pub(crate) const STATE_KEY: &str = "deletes";

/// What a stream's state keeps for deletes, and what the read adds to it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tracker {
    /// Ids the destination was given and not told deleted.
    known: RoaringTreemap,
    /// The newest cursor passed on (every record's, the future ones too).
    max_cursor: Option<CursorValue>,
    /// When the last reconciliation ended (Unix seconds), or tracking began.
    reconciled_at: Option<i64>,
    /// The state held a position but no ids (deletes were just turned on): the first
    /// reconciliation adopts the portal's ids and sends no tombstone.
    baseline: bool,
    /// A record without a numeric id was passed on: its deletes cannot be tracked.
    untrackable: bool,
    /// Every id given had a cursor at or after this one (tracking began with a read that
    /// started at `start_date`): a reconciliation compares only records updated since then.
    since: Option<CursorValue>,
    /// The highest id ever given (tombstoned ones too): ids up to it that the portal holds
    /// and the destination lacks (restores) are looked for; ids above it are new records.
    top: Option<u64>,
}

impl Tracker {
    /// The tracker of a stream from its saved state (`kind`: its cursor's), at `now`.
    /// Returns a warning to log when the saved ids cannot be read.
    pub(crate) fn from_state(
        saved: Option<&Value>,
        kind: Option<CursorKind>,
        now: i64,
    ) -> (Self, Option<String>) {
        let mut tracker = Self {
            known: RoaringTreemap::new(),
            max_cursor: None,
            reconciled_at: Some(now),
            baseline: false,
            untrackable: false,
            since: None,
            top: None,
        };
        let Some(saved) = saved.filter(|s| s.get("cursor").is_some()) else {
            return (tracker, None);
        };
        let Some(part) = saved.get(STATE_KEY) else {
            tracker.baseline = true;
            tracker.reconciled_at = None;
            return (tracker, None);
        };
        tracker.reconciled_at = part.get("reconciled_at").and_then(Value::as_i64);
        tracker.max_cursor = kind.and_then(|kind| CursorValue::read(part.get("max_cursor")?, kind));
        tracker.since = kind.and_then(|kind| CursorValue::read(part.get("since")?, kind));
        match part.get("ids").and_then(Value::as_str).and_then(decode_ids) {
            Some(known) => {
                tracker.top = part.get("top").and_then(Value::as_u64).max(known.max());
                tracker.known = known;
                (tracker, None)
            }
            None => {
                tracker.baseline = true;
                tracker.reconciled_at = None;
                (
                    tracker,
                    Some("the saved state's ids given to the destination cannot be read: the next reconciliation starts over from the ids Flowlu holds (deletes before it are not sent)".into()),
                )
            }
        }
    }

    /// A tracker begun by a read that starts at `since` (the start date's cursor; no saved
    /// state): every id it will be given has a cursor at or after it.
    pub(crate) fn with_since(mut self, since: Option<CursorValue>) -> Self {
        self.since = since;
        self
    }

    /// Notes a record passed on with `key`.
    pub(crate) fn note(&mut self, key: Option<&Key>) {
        match key.and_then(|k| k.id.as_ref()) {
            Some(Id::Num(id)) => {
                self.known.insert(*id);
                self.top = self.top.max(Some(*id));
            }
            _ => self.untrackable = true,
        }
        if let Some(cursor) = key.and_then(|k| k.cursor.as_ref()) {
            if self.max_cursor.as_ref().is_none_or(|m| cursor > m) {
                self.max_cursor = Some(cursor.clone());
            }
        }
    }

    /// Adds the deletes part to a checkpoint's state.
    pub(crate) fn decorate(&self, state: &mut Value) {
        if let Some(object) = state.as_object_mut() {
            object.insert(
                STATE_KEY.into(),
                json!({
                    "ids": encode_ids(&self.known),
                    "count": self.known.len(),
                    "reconciled_at": self.reconciled_at,
                    "max_cursor": self.max_cursor.as_ref().map(CursorValue::to_json),
                    "top": self.top,
                }),
            );
            if let (Some(since), Some(part)) = (&self.since, object.get_mut(STATE_KEY)) {
                part["since"] = since.to_json();
            }
        }
    }

    /// Whether a reconciliation is due at `now`, every `every` seconds.
    pub(crate) fn due(&self, now: i64, every: i64) -> bool {
        self.reconciled_at
            .is_none_or(|at| now.saturating_sub(at) >= every)
    }

    /// How many ids the destination was given.
    pub(crate) fn given(&self) -> u64 {
        self.known.len()
    }
}

/// The ids as a base64 text of a run-compressed bitmap.
pub fn encode_ids(ids: &RoaringTreemap) -> String {
    let mut ids = ids.clone();
    ids.optimize();
    let mut bytes = Vec::with_capacity(ids.serialized_size());
    // Writing to a Vec cannot fail.
    let _ = ids.serialize_into(&mut bytes);
    STANDARD.encode(bytes)
}

/// [`encode_ids`] read back; `None` for a text that is not one.
pub fn decode_ids(text: &str) -> Option<RoaringTreemap> {
    let bytes = STANDARD.decode(text).ok()?;
    RoaringTreemap::deserialize_from(&bytes[..]).ok()
}

/// The ids a reconciliation read, or why it proves nothing.
type Scan<T> = Result<T, String>;

/// At most this many records to send again are held by one reconciliation (each its JSON
/// text); the rest are sent by the next one.
pub(crate) const RESTORES_PER_RECONCILIATION: usize = 10_000;

/// What a reconciliation compares with the portal: the ids the destination was given, and
/// what makes a record the portal holds one to give it again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    /// The ids given and not tombstoned.
    pub(crate) known: &'a RoaringTreemap,
    /// The highest id ever given (tombstoned ones too).
    pub(crate) top: Option<u64>,
    /// Every id given had a cursor at or after it (tracking began at the start date).
    pub(crate) since: Option<&'a CursorValue>,
    /// The stream's saved position: records after it come with the next incremental read.
    pub(crate) position: Option<&'a Key>,
}

impl Scope<'_> {
    /// Whether a record the portal holds, listed with `key`, must be sent again: its id is not
    /// among those given (tombstoned, or never given), no incremental read will bring it (its
    /// key is at or before the saved position, as a restore's old `updated_date` is), and it
    /// is within what the destination was given (its cursor not before `since`). A record
    /// after the position is new or edited: the next incremental read brings it.
    pub(crate) fn restores(&self, key: &Key) -> bool {
        let (Some(Id::Num(id)), Some(position)) = (&key.id, self.position) else {
            return false;
        };
        !self.known.contains(*id)
            && key <= position
            && self
                .since
                .is_none_or(|since| key.cursor.as_ref().is_some_and(|c| c >= since))
    }
}

/// The records a reconciliation sends again, as Flowlu sent them, with their keys.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// Up to [`RESTORES_PER_RECONCILIATION`] of them.
    pub(crate) records: Vec<(Box<RawValue>, Key)>,
    /// How many more were found (not held: the next reconciliation sends them).
    pub(crate) more: u64,
}

impl Restored {
    fn push(&mut self, record: Box<RawValue>, key: Key) {
        if self.records.len() < RESTORES_PER_RECONCILIATION {
            self.records.push((record, key));
        } else {
            self.more += 1;
        }
    }
}

/// What a reconciliation found.
#[derive(Debug, Default)]
pub(crate) struct Reconciled {
    /// Ids deleted in Flowlu, confirmed one by one.
    pub deleted: Vec<u64>,
    /// Ids a list no longer shows but `get` still returns (kept).
    pub hidden: Vec<u64>,
    /// Records Flowlu holds that the destination lacks and no incremental read brings.
    pub restored: Restored,
    /// Requests sent.
    pub requests: u64,
    /// Whether the ranges were counted (else a scan).
    pub counted: bool,
}

/// The result of one reconciliation for the read: events to pass on, the tracker to keep.
pub(crate) struct Outcome {
    /// Records sent again, tombstones and logs, in order.
    pub events: Vec<SourceEvent>,
    /// Whether the tracker changed (a checkpoint should carry it).
    pub changed: bool,
}

/// What a reconciliation of a stream needs besides its tracker: where the stream's
/// incremental reads stand and how its records are shaped.
pub(crate) struct Stream<'a> {
    pub(crate) model: &'static Model,
    /// The saved position (without the deletes part); `None`: nothing was read yet.
    pub(crate) position: Option<Key>,
    pub(crate) shape: &'a Shape,
}

/// The time now as RFC 3339 UTC (`2026-12-05T21:00:00Z`).
pub(crate) fn rfc3339(unix: i64) -> String {
    let naive = crate::base::dates::format_naive(unix);
    format!(
        "{}T{}Z",
        &naive[..10.min(naive.len())],
        naive.get(11..).unwrap_or("00:00:00")
    )
}

/// The filter of the records updated at or after `since` (the read's own start-date filter).
fn since_filter(model: &Model, since: &CursorValue) -> Option<(String, String)> {
    let (column, _) = model.cursor?;
    let operand = since.just_before()?;
    Some((
        format!("filter[{column}]"),
        json!({"type": "more", "value": operand}).to_string(),
    ))
}

/// Why counts and lists filtered by `since` cannot be trusted.
const SINCE_IGNORED: &str = "the portal ignored the filter on the cursor beside `filter[id]` (a record updated before the start date came back)";

/// A record's key: `Ok(None)` without a numeric id.
fn numeric(key: Option<&Key>) -> Option<u64> {
    match key.and_then(|k| k.id.as_ref()) {
        Some(Id::Num(id)) => Some(*id),
        _ => None,
    }
}

/// `record` with its cursor column raised to `cursor` (the tombstone's: a destination keeping
/// the newest cursor of an id keeps the record, not the tombstone), the value Flowlu sent
/// kept under the column's name in [`RAW_VALUES`]; `None` when nothing needs to change.
pub(crate) fn raise_cursor(record: &RawValue, column: &str, cursor: &CursorValue) -> Option<Box<RawValue>> {
    let mut value: Map<String, Value> = serde_json::from_str(record.get()).ok()?;
    let sent = value.get(column).cloned().unwrap_or(Value::Null);
    let kind = match cursor {
        CursorValue::Text(_) => CursorKind::Timestamp,
        CursorValue::Unix(_) => CursorKind::UnixSeconds,
    };
    if CursorValue::read(&sent, kind).is_some_and(|own| &own >= cursor) {
        return None;
    }
    value.insert(column.to_string(), cursor.to_json());
    let raw = value
        .entry(RAW_VALUES.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !raw.is_object() {
        *raw = Value::Object(Map::new());
    }
    if let Some(raw) = raw.as_object_mut() {
        raw.entry(column.to_string()).or_insert(sent);
    }
    serde_json::value::to_raw_value(&value).ok()
}

impl Session {
    /// One list request in id order: the records as sent with their keys (`id` and cursor),
    /// and the total the answer gave.
    async fn ids_page(
        &self,
        model: &'static Model,
        params: Vec<(String, String)>,
        on_wait: &(dyn Fn(&Wait) + Sync),
        requests: &mut u64,
    ) -> Result<RawListPage, Error> {
        let order = Order::of(model, true);
        let client = &self.account.client;
        *requests += 1;
        self.account
            .limiter
            .run(
                || client.list_raw(model.module, model.model, &params, &order),
                on_wait,
            )
            .await
    }

    /// Every id in `(lo, hi]`, listed from `id > lo` in id order until past `hi` or the end,
    /// each page checked (ascending, above the last id, the totals consistent; with `since`,
    /// only records updated at or after it, each checked). Records to send again
    /// ([`Scope::restores`]) go to `restored`.
    #[allow(clippy::too_many_arguments)]
    async fn list_range(
        &self,
        model: &'static Model,
        limit: u32,
        (lo, hi): (u64, u64),
        scope: &Scope<'_>,
        since: Option<&CursorValue>,
        restored: &mut Restored,
        on_wait: &(dyn Fn(&Wait) + Sync),
        requests: &mut u64,
    ) -> Result<Scan<BTreeSet<u64>>, Error> {
        let mut ids = BTreeSet::new();
        let mut last = lo;
        let mut expected: Option<u64> = None;
        loop {
            let mut params = vec![
                ("page".to_string(), "1".to_string()),
                ("limit".to_string(), limit.to_string()),
                ("order_by[asc][]".to_string(), "id".to_string()),
            ];
            if last > 0 {
                let value = json!({"type": "more", "value": last}).to_string();
                params.push(("filter[id]".into(), value));
            }
            params.extend(since.and_then(|s| since_filter(model, s)));
            let page = self.ids_page(model, params, on_wait, requests).await?;
            let total = page.total;
            let n = page.items.len() as u64;
            let mut previous = last;
            for (record, key) in page.items {
                let Some(id) = numeric(key.as_ref()) else {
                    return Ok(Err("a record came without a numeric id".into()));
                };
                if id <= previous {
                    return Ok(Err(if id <= last && last > 0 {
                        "the portal ignored the `filter[id]` of a page (an id at or below the last one came back)".to_string()
                    } else {
                        "the portal ignored the order by id (ids came back out of order)".to_string()
                    }));
                }
                previous = id;
                let Some(key) = key else { continue };
                if since.is_some_and(|s| key.cursor.as_ref().is_none_or(|c| c < s)) {
                    return Ok(Err(SINCE_IGNORED.into()));
                }
                if id <= hi {
                    ids.insert(id);
                    if scope.restores(&key) {
                        restored.push(record, key);
                    }
                }
            }
            if let (Some(expected), Some(total)) = (expected, total) {
                if expected != total {
                    return Ok(Err(format!(
                        "the portal's count changed during the scan ({expected} records expected after id {last}, {total} announced): records were created or deleted meanwhile"
                    )));
                }
            }
            let past = n > 0 && previous >= hi;
            if n == 0 || past || total == Some(n) {
                if let Some(total) = total.filter(|&t| t < n) {
                    return Ok(Err(format!(
                        "a page held {n} records but announced a total of {total}"
                    )));
                }
                return Ok(Ok(ids));
            }
            if n < u64::from(limit) {
                // A short page that is not the last: the portal caps pages at `n`.
                self.learn_cap(u32::try_from(n).unwrap_or(limit));
            }
            expected = total.map(|t| t - n);
            last = previous;
        }
    }

    /// [`Self::count_above`], asked once per bound: a bound shared by two ranges is counted once.
    async fn count_above_once(
        &self,
        counts: &mut HashMap<u64, u64>,
        model: &'static Model,
        (x, since): (u64, Option<&CursorValue>),
        on_wait: &(dyn Fn(&Wait) + Sync),
        requests: &mut u64,
    ) -> Result<Scan<u64>, Error> {
        if let Some(c) = counts.get(&x) {
            return Ok(Ok(*c));
        }
        let counted = self.count_above(model, x, since, on_wait, requests).await?;
        if let Ok(c) = counted {
            counts.insert(x, c);
        }
        Ok(counted)
    }

    /// How many records have an id above `x` (and, with `since`, were updated at or after
    /// it): the total of a one-record page so filtered, or why the answer cannot be trusted
    /// as a count.
    async fn count_above(
        &self,
        model: &'static Model,
        x: u64,
        since: Option<&CursorValue>,
        on_wait: &(dyn Fn(&Wait) + Sync),
        requests: &mut u64,
    ) -> Result<Scan<u64>, Error> {
        let mut params = vec![
            ("page".to_string(), "1".to_string()),
            ("limit".to_string(), "1".to_string()),
            ("order_by[asc][]".to_string(), "id".to_string()),
            (
                "filter[id]".to_string(),
                json!({"type": "more", "value": x}).to_string(),
            ),
        ];
        params.extend(since.and_then(|s| since_filter(model, s)));
        let page = self.ids_page(model, params, on_wait, requests).await?;
        let Some(total) = page.total else {
            return Ok(Err("the portal gives no total".into()));
        };
        let sent = page.items.len() as u64;
        match page.items.first().map(|(_, key)| key.as_ref()) {
            Some(key) => match numeric(key) {
                None => Ok(Err("a record came without a numeric id".into())),
                Some(id) if id <= x => Ok(Err("the portal ignores `filter[id]`".into())),
                Some(_)
                    if since.is_some_and(|s| key.and_then(|k| k.cursor.as_ref()).is_none_or(|c| c < s)) =>
                {
                    Ok(Err(SINCE_IGNORED.into()))
                }
                Some(_) if total < sent => Ok(Err("the portal's total is below the records it sent".into())),
                Some(_) => Ok(Ok(total)),
            },
            None if total > 0 => Ok(Err("the portal announced records but sent none".into())),
            None => Ok(Ok(total)),
        }
    }

    /// The known ids missing from the portal, by counting ranges of ids up to the highest
    /// ever given and listing only those whose count changed (with a start date the tracking
    /// began at, counting only the records updated since, as the read does). Records to send
    /// again found in a listed range go to `restored`.
    async fn missing_by_ranges(
        &self,
        model: &'static Model,
        limit: u32,
        (scope, known): (&Scope<'_>, &[u64]),
        restored: &mut Restored,
        on_wait: &(dyn Fn(&Wait) + Sync),
        requests: &mut u64,
    ) -> Result<Scan<Vec<u64>>, Error> {
        let Some(top) = scope.top.max(known.last().copied()) else {
            return Ok(Ok(Vec::new()));
        };
        let since = scope.since.filter(|s| since_filter(model, s).is_some());
        let mut counts: HashMap<u64, u64> = HashMap::new();
        let mut missing = Vec::new();
        // (lo, hi, the known ids in (lo, hi])
        let mut ranges = vec![(0, top, known)];
        while let Some((lo, hi, inside)) = ranges.pop() {
            let above_lo = match self
                .count_above_once(&mut counts, model, (lo, since), on_wait, requests)
                .await?
            {
                Ok(c) => c,
                Err(why) => return Ok(Err(why)),
            };
            let above_hi = match self
                .count_above_once(&mut counts, model, (hi, since), on_wait, requests)
                .await?
            {
                Ok(c) => c,
                Err(why) => return Ok(Err(why)),
            };
            let Some(portal) = above_lo.checked_sub(above_hi) else {
                return Ok(Err(format!(
                    "the count above id {lo} ({above_lo}) is below the count above id {hi} ({above_hi})"
                )));
            };
            if portal == inside.len() as u64 {
                continue;
            }
            if lo == 0 && hi == top {
                // At least `known - portal` ids changed: when descending to each costs more
                // than listing every id, list every id.
                let changed = (inside.len() as u64).abs_diff(portal);
                let pages = (inside.len() as u64).div_ceil(u64::from(limit.max(1)));
                let depth = u64::from(pages.max(1).ilog2()) + 1;
                if changed.saturating_mul(depth) >= pages {
                    return Ok(Err(format!(
                        "at least {changed} ids changed: listing every id ({pages} pages) costs less than counting ranges"
                    )));
                }
            }
            let limit = self.first_limit().min(limit);
            if inside.len() as u64 <= u64::from(limit) {
                let listed = match self
                    .list_range(model, limit, (lo, hi), scope, since, restored, on_wait, requests)
                    .await?
                {
                    Ok(listed) => listed,
                    Err(why) => return Ok(Err(why)),
                };
                if listed.len() as u64 != portal {
                    return Ok(Err(format!(
                        "ids {}..={hi}: the portal counted {portal} records but listed {}",
                        lo + 1,
                        listed.len()
                    )));
                }
                missing.extend(inside.iter().copied().filter(|id| !listed.contains(id)));
                continue;
            }
            let half = inside.len() / 2;
            let mid = inside[half - 1];
            ranges.push((mid, hi, &inside[half..]));
            ranges.push((lo, mid, &inside[..half]));
        }
        missing.sort_unstable();
        Ok(Ok(missing))
    }

    /// Confirms each candidate with a `get`: "not found" is a delete; a record returned is
    /// kept (a list hides it).
    async fn confirm(
        &self,
        model: &'static Model,
        candidates: Vec<u64>,
        on_wait: &(dyn Fn(&Wait) + Sync),
        requests: &mut u64,
    ) -> Result<Scan<(Vec<u64>, Vec<u64>)>, Error> {
        let client = &self.account.client;
        let (mut deleted, mut hidden) = (Vec::new(), Vec::new());
        for id in candidates {
            *requests += 1;
            let got = self
                .account
                .limiter
                .run(|| client.get(model.module, model.model, id), on_wait)
                .await;
            match got {
                Ok(_) => hidden.push(id),
                Err(err) if err.decision().gone => deleted.push(id),
                Err(err) => return Err(err),
            }
        }
        Ok(Ok((deleted, hidden)))
    }

    /// Reads the ids `model` holds now and finds which of those given are deleted (confirmed)
    /// and which records to send again, or why this reconciliation proves nothing
    /// (`Ok(Err(why))`); an `Err` is a failed request.
    pub(crate) async fn reconcile_ids(
        &self,
        model: &'static Model,
        scope: &Scope<'_>,
        method: Method,
        on_wait: &(dyn Fn(&Wait) + Sync),
    ) -> Result<Scan<Reconciled>, Error> {
        let limit = self.first_limit();
        let mut requests = 0;
        let ids: Vec<u64> = scope.known.iter().collect();
        let mut counted = false;
        let mut candidates = None;
        let mut restored = Restored::default();
        if method == Method::Auto && !ids.is_empty() {
            match self
                .missing_by_ranges(model, limit, (scope, &ids), &mut restored, on_wait, &mut requests)
                .await?
            {
                Ok(missing) => {
                    counted = true;
                    candidates = Some(missing);
                }
                Err(why) => {
                    restored = Restored::default();
                    tracing::info!(
                        stream = model.stream,
                        "counting id ranges: {why}; scanning every id"
                    );
                }
            }
        }
        let candidates = match candidates {
            Some(c) => c,
            None => match self
                .list_range(
                    model,
                    limit,
                    (0, u64::MAX),
                    scope,
                    None,
                    &mut restored,
                    on_wait,
                    &mut requests,
                )
                .await?
            {
                Ok(present) => ids.iter().copied().filter(|id| !present.contains(id)).collect(),
                Err(why) => return Ok(Err(why)),
            },
        };
        let (deleted, hidden) = match self.confirm(model, candidates, on_wait, &mut requests).await? {
            Ok(found) => found,
            Err(why) => return Ok(Err(why)),
        };
        Ok(Ok(Reconciled {
            deleted,
            hidden,
            restored,
            requests,
            counted,
        }))
    }

    /// [`crate::FlowluSource::reconcile`] of one configured stream: its events.
    pub(crate) async fn reconcile_stream(
        &self,
        configured: &ConfiguredStream,
        state: &SourceState,
    ) -> Vec<SourceEvent> {
        let name = &configured.stream.name;
        let Some(model) = crate::base::streams::model(name).filter(|m| m.cursor.is_some()) else {
            return Vec::new();
        };
        let order = Order::of(model, true);
        let Some(saved) = state
            .get(name)
            .filter(|s| order.recognises(s) && s.get(STATE_KEY).is_some())
        else {
            return vec![SourceEvent::Log {
                level: LogLevel::Info,
                message: format!("{name}: no ids given to the destination are saved in its state (read it incrementally, configured append_dedup or overwrite, first): nothing to reconcile"),
            }];
        };
        let now = unix_time();
        let (mut tracker, warning) = Tracker::from_state(Some(saved), order.cursor.map(|(_, k)| k), now);
        let mut events: Vec<SourceEvent> = warning
            .map(|w| SourceEvent::Log {
                level: LogLevel::Warn,
                message: format!("{name}: {w}"),
            })
            .into_iter()
            .collect();
        let on_wait = |_: &Wait| {};
        let shape = Shape::new(model.stream, &configured.stream.json_schema);
        let stream = Stream {
            model,
            position: order.start(Some(saved), None),
            shape: &shape,
        };
        let outcome = self
            .reconcile(&stream, &mut tracker, now, self.method, &on_wait)
            .await;
        events.extend(outcome.events);
        if outcome.changed {
            let mut position = saved.clone();
            tracker.decorate(&mut position);
            events.push(SourceEvent::Checkpoint(Checkpoint {
                stream: name.clone(),
                state: position,
            }));
        }
        events
    }

    /// Every id `model` holds now, proved complete (for a baseline), or why not.
    pub(crate) async fn all_ids(
        &self,
        model: &'static Model,
        on_wait: &(dyn Fn(&Wait) + Sync),
    ) -> Result<Scan<RoaringTreemap>, Error> {
        let mut requests = 0;
        let none = RoaringTreemap::new();
        let scope = Scope {
            known: &none,
            top: None,
            since: None,
            position: None,
        };
        let mut restored = Restored::default();
        Ok(self
            .list_range(
                model,
                self.first_limit(),
                (0, u64::MAX),
                &scope,
                None,
                &mut restored,
                on_wait,
                &mut requests,
            )
            .await?
            .map(|ids| ids.into_iter().collect()))
    }

    /// The records to send again as the stream passes records on (shaped, the cursor raised
    /// to the tombstone's), each noted in `tracker`; the log saying so.
    fn resend(stream: &Stream<'_>, tracker: &mut Tracker, restored: Restored, events: &mut Vec<SourceEvent>) {
        let name = stream.model.stream;
        let mut items = restored.records;
        if items.is_empty() {
            return;
        }
        let shaped = stream.shape.page(&mut items);
        if !shaped.misfits.is_empty() {
            let fields: Vec<String> = shaped.misfits.iter().map(|(f, n)| format!("{f} ({n})")).collect();
            events.push(SourceEvent::Log {
                level: LogLevel::Warn,
                message: format!(
                    "{name}: values that fit no declared type are null in their columns and kept as sent in {RAW_VALUES}: {}",
                    fields.join(", ")
                ),
            });
        }
        let mut ids = Vec::with_capacity(items.len());
        let mut records = Vec::with_capacity(items.len());
        let column = stream.model.cursor.map(|(column, _)| column);
        let raised_to = tracker.max_cursor.clone();
        for (record, key) in items {
            ids.extend(numeric(Some(&key)));
            tracker.note(Some(&key));
            let raised = match (column, &raised_to) {
                (Some(column), Some(cursor)) => raise_cursor(&record, column, cursor),
                _ => None,
            };
            records.push(raised.unwrap_or(record));
        }
        events.push(SourceEvent::Log {
            level: LogLevel::Info,
            message: format!(
                "{name}: {} records Flowlu holds that the destination was not given and no incremental read brings (restored with their old cursor) sent again, their cursor raised to the newest passed on (the value Flowlu sent kept in {RAW_VALUES}): ids {}{}",
                ids.len(),
                shown(&ids),
                if restored.more > 0 {
                    format!("; {} more are sent by the next reconciliation", restored.more)
                } else {
                    String::new()
                }
            ),
        });
        events.push(SourceEvent::Records(RawRecords::new(name, records)));
    }

    /// A reconciliation of one stream: records to send again, tombstones for the deletes it
    /// proves (within the guard), logs saying what it did or why it sent nothing; `tracker`
    /// updated.
    pub(crate) async fn reconcile(
        &self,
        target: &Stream<'_>,
        tracker: &mut Tracker,
        now: i64,
        method: Method,
        on_wait: &(dyn Fn(&Wait) + Sync),
    ) -> Outcome {
        let model = target.model;
        let stream = model.stream;
        let mut events = Vec::new();
        let log = |level, message: String| SourceEvent::Log { level, message };
        if tracker.untrackable {
            events.push(log(
                LogLevel::Warn,
                format!("{stream}: deletes are not checked: a record without a numeric id was passed on"),
            ));
            return Outcome {
                events,
                changed: false,
            };
        }
        if tracker.baseline {
            return match self.all_ids(model, on_wait).await {
                Ok(Ok(ids)) => {
                    events.push(log(LogLevel::Info, format!(
                        "{stream}: deletes are tracked from now on: {} ids Flowlu holds recorded (records deleted before today cannot be told; reset the stream to start from a complete copy)",
                        ids.len()
                    )));
                    tracker.top = tracker.top.max(ids.max());
                    tracker.known |= ids;
                    tracker.baseline = false;
                    tracker.reconciled_at = Some(now);
                    Outcome {
                        events,
                        changed: true,
                    }
                }
                Ok(Err(why)) => {
                    events.push(log(LogLevel::Warn, not_proved(stream, &why)));
                    Outcome {
                        events,
                        changed: false,
                    }
                }
                Err(err) => {
                    events.push(log(
                        LogLevel::Warn,
                        not_proved(stream, &self.failure(&err).message),
                    ));
                    Outcome {
                        events,
                        changed: false,
                    }
                }
            };
        }
        let scope = Scope {
            known: &tracker.known,
            top: tracker.top,
            since: tracker.since.as_ref(),
            position: target.position.as_ref(),
        };
        let found = match self.reconcile_ids(model, &scope, method, on_wait).await {
            Ok(Ok(found)) => found,
            Ok(Err(why)) => {
                events.push(log(LogLevel::Warn, not_proved(stream, &why)));
                return Outcome {
                    events,
                    changed: false,
                };
            }
            Err(err) => {
                events.push(log(
                    LogLevel::Warn,
                    not_proved(stream, &self.failure(&err).message),
                ));
                return Outcome {
                    events,
                    changed: false,
                };
            }
        };
        if !found.hidden.is_empty() {
            events.push(log(LogLevel::Warn, format!(
                "{stream}: {} records no list returns any more are still there when asked by id (archived or hidden): not deleted (ids {})",
                found.hidden.len(),
                shown(&found.hidden)
            )));
        }
        let share = self.account.settings.max_deletes_percent();
        let given = tracker.given();
        let total = given.max(1);
        let deleted = found.deleted.len() as u64;
        // Records to send again need no guard: the list that found them proves Flowlu holds them.
        let resent = found.restored.records.len();
        let more = found.restored.more;
        Self::resend(target, tracker, found.restored, &mut events);
        if deleted * 100 > u64::from(share) * total {
            let needed = (deleted * 100).div_ceil(total);
            events.push(log(LogLevel::Warn, format!(
                "{stream}: held back {deleted} deletes of {given} records ({needed}% > the {share}% one reconciliation may delete, advanced.max_deletes_percent): no tombstone sent (ids {}). If Flowlu really lost these records, set max_deletes_percent to {needed} or more for one read",
                shown(&found.deleted)
            )));
            return Outcome {
                events,
                changed: resent > 0,
            };
        }
        let deleted_at = rfc3339(now);
        let cursor = model.cursor.map(|(column, _)| {
            (
                column.to_string(),
                tracker
                    .max_cursor
                    .as_ref()
                    .map_or(Value::Null, CursorValue::to_json),
            )
        });
        for &id in &found.deleted {
            tracker.known.remove(id);
            events.push(SourceEvent::Delete(Tombstone {
                stream: stream.to_string(),
                id: Value::from(id),
                id_field: "id".into(),
                deleted_at: deleted_at.clone(),
                cursor: cursor.clone(),
            }));
        }
        if more == 0 {
            // Records to send again left over: the next read reconciles again.
            tracker.reconciled_at = Some(now);
        }
        events.push(log(
            LogLevel::Info,
            format!(
                "{stream}: reconciled {given} ids given with Flowlu in {} requests ({}): {deleted} deleted, {resent} sent again",
                found.requests,
                if found.counted {
                    "id ranges counted"
                } else {
                    "every id listed"
                }
            ),
        ));
        Outcome {
            events,
            changed: true,
        }
    }
}

/// The machine's clock, Unix seconds.
pub(crate) fn unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The sentence of a reconciliation that proves nothing.
fn not_proved(stream: &str, why: &str) -> String {
    format!("{stream}: deletes not checked this time, no tombstone sent: {why}. Tried again at the next read")
}

/// Up to 20 ids, then how many more.
fn shown(ids: &[u64]) -> String {
    let mut text = ids
        .iter()
        .take(20)
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > 20 {
        text.push_str(&format!(" and {} more", ids.len() - 20));
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn key(id: u64, cursor: &str) -> Key {
        Key {
            cursor: Some(CursorValue::Text(cursor.into())),
            id: Some(Id::Num(id)),
        }
    }

    #[test]
    fn the_state_keeps_the_ids_and_the_newest_cursor() {
        let (mut tracker, warning) = Tracker::from_state(None, Some(CursorKind::Timestamp), 1000);
        assert_eq!(warning, None);
        tracker.note(Some(&key(5, "2026-01-02 00:00:00")));
        tracker.note(Some(&key(3, "2026-01-01 00:00:00")));
        let mut state = json!({"cursor": "2026-01-02 00:00:00", "id": 5});
        tracker.decorate(&mut state);
        assert_eq!(state["deletes"]["count"], json!(2));
        assert_eq!(state["deletes"]["reconciled_at"], json!(1000));
        assert_eq!(state["deletes"]["max_cursor"], json!("2026-01-02 00:00:00"));
        let (back, _) = Tracker::from_state(Some(&state), Some(CursorKind::Timestamp), 5000);
        assert_eq!(back, tracker);
        assert!(!back.due(1000 + 3599, 3600));
        assert!(back.due(1000 + 3600, 3600));
    }

    #[test]
    fn a_position_without_ids_asks_for_a_baseline_and_bad_ids_say_so() {
        let (tracker, warning) = Tracker::from_state(Some(&json!({"cursor": null, "id": 1})), None, 7);
        assert!(tracker.baseline && tracker.due(7, 3600) && warning.is_none());
        let (tracker, warning) =
            Tracker::from_state(Some(&json!({"cursor": null, "deletes": {"ids": "%%"}})), None, 7);
        assert!(tracker.baseline);
        assert!(warning.unwrap().contains("cannot be read"));
    }

    #[test]
    fn ids_round_trip_through_the_text() {
        let ids: RoaringTreemap = [1u64, 2, 3, 1000, u64::from(u32::MAX) + 7].into_iter().collect();
        assert_eq!(decode_ids(&encode_ids(&ids)), Some(ids));
        assert_eq!(decode_ids("not base64!"), None);
        assert_eq!(decode_ids("AAAA"), None);
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_764_968_400), "2025-12-05T21:00:00Z");
    }

    #[test]
    fn the_state_keeps_the_start_and_the_highest_id_ever_given() {
        let since = CursorValue::Text("2024-06-01 00:00:00".into());
        let (tracker, _) = Tracker::from_state(None, Some(CursorKind::Timestamp), 1000);
        let mut tracker = tracker.with_since(Some(since.clone()));
        tracker.note(Some(&key(7, "2024-07-01 00:00:00")));
        tracker.note(Some(&key(9, "2024-06-02 00:00:00")));
        tracker.known.remove(9);
        let mut state = json!({"cursor": "2024-07-01 00:00:00", "id": 7});
        tracker.decorate(&mut state);
        assert_eq!(state["deletes"]["since"], json!("2024-06-01 00:00:00"));
        assert_eq!(
            state["deletes"]["top"],
            json!(9),
            "a tombstoned id stays the highest given"
        );
        let (back, _) = Tracker::from_state(Some(&state), Some(CursorKind::Timestamp), 5000);
        assert_eq!(back, tracker);
        // A state written before `top` and `since` were kept: the highest id held, no start.
        state["deletes"]
            .as_object_mut()
            .unwrap()
            .retain(|k, _| k != "top" && k != "since");
        let (old, _) = Tracker::from_state(Some(&state), Some(CursorKind::Timestamp), 5000);
        assert_eq!((old.top, old.since), (Some(7), None));
    }

    /// Which records a portal holds are sent again: exactly those the destination lacks, that
    /// no incremental read brings, within what it was given.
    #[test]
    fn a_record_is_sent_again_only_when_missing_before_the_position_and_since_the_start() {
        let known: RoaringTreemap = [1u64, 2, 4].into_iter().collect();
        let position = key(4, "2024-05-01 00:00:00");
        let since = CursorValue::Text("2024-01-01 00:00:00".into());
        let scope = Scope {
            known: &known,
            top: Some(5),
            since: Some(&since),
            position: Some(&position),
        };
        let cases = [
            (
                key(3, "2024-03-01 00:00:00"),
                true,
                "restored with its old cursor",
            ),
            (key(2, "2024-03-01 00:00:00"), false, "given and not tombstoned"),
            (
                key(5, "2024-05-01 00:00:00"),
                false,
                "after the position: the next read brings it",
            ),
            (
                key(3, "2024-06-01 00:00:00"),
                false,
                "edited since: the next read brings it",
            ),
            (
                key(3, "2024-05-01 00:00:00"),
                true,
                "the position's cursor, a lower id",
            ),
            (
                key(3, "2023-12-31 23:59:59"),
                false,
                "before the start: never given",
            ),
            (key(3, "2024-01-01 00:00:00"), true, "at the start"),
        ];
        for (listed, expected, why) in &cases {
            assert_eq!(scope.restores(listed), *expected, "{why}");
        }
        let no_cursor = Key {
            cursor: None,
            id: Some(Id::Num(3)),
        };
        assert!(!scope.restores(&no_cursor), "no cursor: not since the start");
        let unbounded = Scope { since: None, ..scope };
        assert!(
            unbounded.restores(&no_cursor),
            "no start: a null cursor was read first"
        );
        let unread = Scope {
            position: None,
            ..scope
        };
        assert!(
            !unread.restores(&key(3, "2024-03-01 00:00:00")),
            "nothing read yet"
        );
        let text_id = Key {
            cursor: Some(CursorValue::Text("2024-03-01 00:00:00".into())),
            id: Some(Id::Text("x".into())),
        };
        assert!(!scope.restores(&text_id));
    }

    #[test]
    fn a_reconciliation_holds_at_most_its_share_of_records_to_send_again() {
        let mut restored = Restored::default();
        for id in 1..=RESTORES_PER_RECONCILIATION as u64 + 3 {
            let record = RawValue::from_string(format!(r#"{{"id":{id}}}"#)).unwrap();
            restored.push(record, key(id, "2024-01-01 00:00:00"));
        }
        assert_eq!(restored.records.len(), RESTORES_PER_RECONCILIATION);
        assert_eq!(restored.more, 3);
        assert_eq!(restored.records[0].0.get(), r#"{"id":1}"#);
    }

    #[test]
    fn a_record_sent_again_carries_the_tombstone_cursor_and_keeps_flowlus_value() {
        let newest = CursorValue::Text("2026-12-05 20:00:00".into());
        let record =
            RawValue::from_string(r#"{"id":3,"name":"A","updated_date":"2024-03-01 00:00:00"}"#.into())
                .unwrap();
        let raised = raise_cursor(&record, "updated_date", &newest).unwrap();
        assert_eq!(
            raised.get(),
            r#"{"id":3,"name":"A","updated_date":"2026-12-05 20:00:00","_flowlu_raw_values":{"updated_date":"2024-03-01 00:00:00"}}"#
        );
        // Other values kept as sent are kept; one already there is not replaced.
        let misfit = RawValue::from_string(
            r#"{"id":3,"updated_date":null,"_flowlu_raw_values":{"updated_date":"soon","x":"y"}}"#.into(),
        )
        .unwrap();
        assert_eq!(
            raise_cursor(&misfit, "updated_date", &newest).unwrap().get(),
            r#"{"id":3,"updated_date":"2026-12-05 20:00:00","_flowlu_raw_values":{"updated_date":"soon","x":"y"}}"#
        );
        // At or after the tombstone's cursor already: unchanged.
        let fresh = RawValue::from_string(r#"{"id":3,"updated_date":"2026-12-05 20:00:00"}"#.into()).unwrap();
        assert!(raise_cursor(&fresh, "updated_date", &newest).is_none());
        let unix = RawValue::from_string(r#"{"id":3,"updated":"100"}"#.into()).unwrap();
        assert_eq!(
            raise_cursor(&unix, "updated", &CursorValue::Unix(200))
                .unwrap()
                .get(),
            r#"{"id":3,"updated":200,"_flowlu_raw_values":{"updated":"100"}}"#
        );
        let not_json = RawValue::from_string("[1]".into()).unwrap();
        assert!(raise_cursor(&not_json, "updated_date", &newest).is_none());
    }
}
