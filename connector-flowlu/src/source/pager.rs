//! Paging one stream, as a pure state machine: which pages to ask for, which records of an
//! answer to pass on, when to checkpoint and when to stop. The source does the I/O.
//!
//! * Pages are asked by number (`page` always in the query string) in `(cursor, id)` or `id`
//!   order, from a lower bound filter; several pages may be in flight.
//! * Pages are absorbed in order. A record is passed on only when its key is past everything
//!   passed on before (and past the saved state): repeats caused by a server that ignores
//!   `page` or a filter, or by records shifting between pages, are dropped.
//! * The end is an empty page or a page shorter than the page size the server applies; a full
//!   page is never the end, whatever `total` says. The first page of a stream, when shorter
//!   than `limit`, is the end only when `total` says exactly as many records; otherwise the
//!   server caps pages at that size and the next pages ask for it (so that `page` offsets
//!   mean the same whether the server counts them in asked or in served records). `total`
//!   otherwise only bounds how far ahead pages are asked, and a total the pages contradict
//!   is reported.
//! * A refused request (an error answer to a page) may be a refused large `limit` (before any
//!   page of the stream was read: retried with [`SAFE_PAGE_SIZE`]) or a refused filter (error
//!   12 or 21: the stream is then read without server filters, the saved position filtering
//!   on the client); see [`Pager::on_refusal`].
//! * Records whose cursor lies beyond the [`Horizon`] (the future) are passed on, but no
//!   checkpoint covers them: the next read reads them again rather than start from the
//!   future.
//! * A server that repeats a page (ignores `page`) is read by restarting the query from the
//!   last key on page 1 (keyset); one that also ignores the filter is reported, not looped on.
//! * A server that ignores the order is detected on the page: records are then passed on
//!   without the order guard and the stream checkpoints once, at its end; a page holding the
//!   same ids as a page already read passes nothing on.
//! * An incremental read re-anchors its query on the last key every window of pages (the
//!   pages in flight at once): a record changed meanwhile moves to the end of the order and
//!   cannot shift an unread record onto a page already read. Full-refresh reads page one
//!   query; a record deleted during one may shift another out of that read (the next full
//!   refresh reads it).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{json, Value};

use crate::base::cursor::{Horizon, Key, Order};
use crate::base::settings::SAFE_PAGE_SIZE;

/// What to do after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// Absorb the next page (ask for more as allowed by [`Pager::may_request`]).
    Continue,
    /// Drop the pages in flight and ask again from [`Pager::request`] (the query changed).
    Restart,
    /// Every record was read.
    Done,
    /// The server answers in a way that cannot be paged; the message says what was seen.
    Stuck(String),
}

/// What one absorbed page yields; `T` is a record as sent (a `Value`, or raw JSON text).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Absorbed<T = Value> {
    /// The records to pass on, in order, exactly as sent.
    pub records: Vec<T>,
    /// The checkpoint covering them, if any.
    pub checkpoint: Option<Value>,
    /// Warnings to log (quirks of the server detected on this page).
    pub warnings: Vec<String>,
    /// What next.
    pub next: Next,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Pages 1, 2, 3... of one query.
    Offset,
    /// Page 1 of a new query from the last key, each time.
    Keyset,
}

/// The paging state of one stream.
#[derive(Debug, Clone)]
pub(crate) struct Pager {
    order: Order,
    limit: u32,
    /// Exclusive lower bound from the saved state (or the start date).
    start: Option<Key>,
    /// The lower bound of the current query.
    base: Option<Key>,
    mode: Mode,
    ordered: bool,
    /// Pages absorbed in the current query.
    pages_in_query: u32,
    /// The largest page seen (the page size the server applies).
    page_len: usize,
    total: Option<u64>,
    /// The largest key absorbed so far (passed on or not).
    raw_last: Option<Key>,
    /// The last key passed on (ordered reads).
    emitted: Option<Key>,
    /// `(first, last, len)` of the previous page, to spot repeats in unordered reads.
    previous: Option<(Option<Key>, Option<Key>, usize)>,
    checkpointed: bool,
    /// Pages per query before an incremental read re-anchors its filter on the last key (0:
    /// never): records changed during the read then shift no page still to come.
    window: u32,
    /// The last page of the current query to ask before re-anchoring.
    window_end: u32,
    /// Whether this read re-anchored the current query (its first page is then checked).
    anchored: bool,
    /// Distinct records absorbed last that share the last key's cursor.
    tail_ties: usize,
    /// The `limit` asked first (the setting, or what the account is known to honour).
    asked_limit: u32,
    /// Whether a page of this stream was absorbed (a refusal after that is no paging refusal).
    absorbed_any: bool,
    /// Records absorbed in the current query (to cross-check its `total`).
    seen_in_query: u64,
    /// Whether a contradicting total was reported (once per stream).
    total_warned: bool,
    /// A short first page set `limit` to its length: confirmed when more records follow.
    cap_pending: bool,
    /// The server is known to cap pages at `limit`.
    cap_evident: bool,
    /// Refusal fallbacks tried: the safe limit, the filter dropped, both.
    small_tried: bool,
    filter_refused: bool,
    both_tried: bool,
    /// Hashes of the ids of every page absorbed (unordered reads: repeated pages).
    fingerprints: HashSet<u64>,
    /// Cursors beyond it are not checkpointed.
    horizon: Option<Horizon>,
    /// The last key passed on that a checkpoint may hold (not beyond the horizon).
    safe: Option<Key>,
    future_warned: bool,
}

impl Pager {
    /// Pages a stream in `order` with `limit` records per page, after `start`.
    pub(crate) fn new(order: Order, limit: u32, start: Option<Key>) -> Self {
        Self {
            order,
            limit: limit.max(1),
            base: start.clone(),
            start,
            mode: Mode::Offset,
            ordered: true,
            pages_in_query: 0,
            page_len: 0,
            total: None,
            raw_last: None,
            emitted: None,
            previous: None,
            checkpointed: false,
            window: 0,
            window_end: u32::MAX,
            anchored: false,
            tail_ties: 0,
            asked_limit: limit.max(1),
            absorbed_any: false,
            seen_in_query: 0,
            total_warned: false,
            cap_pending: false,
            cap_evident: false,
            small_tried: false,
            filter_refused: false,
            both_tried: false,
            fingerprints: HashSet::new(),
            horizon: None,
            safe: None,
            future_warned: false,
        }
    }

    /// Checkpoints no cursor beyond `horizon` (see the module docs).
    pub(crate) fn with_horizon(mut self, horizon: Horizon) -> Self {
        self.horizon = Some(horizon);
        self
    }

    /// The page size this stream showed the account honours, below the one asked first (a
    /// refused larger `limit`, or a cap), for the account's other streams to ask directly.
    pub(crate) fn learned_limit(&self) -> Option<u32> {
        let lower = self.absorbed_any && self.limit < self.asked_limit;
        let refused = self.small_tried || self.both_tried;
        (lower && (refused || self.cap_evident)).then_some(self.limit)
    }

    /// A request of the current query was answered with an error that may refuse how it
    /// asked: `filter_code` when the error is 12 (invalid request) or 21 (validation).
    /// Returns the warning to log when the query is asked again another way (then ask from
    /// [`Pager::request`] page 1); `None` when no other way is left (the stream fails).
    ///
    /// Before any page of the stream was read, a `limit` above [`SAFE_PAGE_SIZE`] is suspected
    /// first; when the smaller page does not help and the query has a filter, the filter is
    /// dropped (and the larger `limit` tried again), then both. A refused filter reads the
    /// rest of the stream without server filters: the saved position filters on the client.
    pub(crate) fn on_refusal(&mut self, filter_code: bool) -> Option<String> {
        let untested = !self.absorbed_any;
        let big = untested && self.asked_limit > SAFE_PAGE_SIZE;
        let filter = self.filter().map(|(field, _)| field);
        let filter_refusable = filter.is_some() && filter_code && self.mode == Mode::Offset;
        let warning = if big && !self.small_tried {
            self.small_tried = true;
            self.limit = SAFE_PAGE_SIZE;
            format!(
                "Flowlu refused a page of {} records: asking {SAFE_PAGE_SIZE} a page",
                self.asked_limit
            )
        } else if filter_refusable && !self.filter_refused {
            self.filter_refused = true;
            let mut text = format!(
                "Flowlu refused the filter on `{}`: reading the stream without it and keeping only the records after the saved position",
                filter.unwrap_or_default()
            );
            if big {
                self.limit = self.asked_limit;
                text.push_str(&format!(" ({} records a page again)", self.asked_limit));
            }
            text
        } else if big && self.filter_refused && !self.both_tried && self.limit > SAFE_PAGE_SIZE {
            self.both_tried = true;
            self.limit = SAFE_PAGE_SIZE;
            format!(
                "Flowlu refused a page of {} records without a filter too: asking {SAFE_PAGE_SIZE} a page",
                self.asked_limit
            )
        } else {
            return None;
        };
        if self.filter_refused {
            self.window = 0;
            self.window_end = u32::MAX;
            self.anchored = false;
            self.base = None;
            self.raw_last = None;
            self.previous = None;
            self.tail_ties = 0;
            self.fingerprints.clear();
        }
        self.pages_in_query = 0;
        self.seen_in_query = 0;
        Some(warning)
    }

    /// Re-anchors an incremental read every `pages` pages: a new query filtered from the last
    /// key absorbed, so that a record changed during the read (it moves to the end of the
    /// order) shifts no page still to come. Not while more than a page of records share the
    /// last cursor value (the new query would start with a page of them).
    pub(crate) fn with_window(mut self, pages: u32) -> Self {
        if self.order.is_incremental() && pages > 0 {
            self.window = pages;
            self.window_end = pages;
        }
        self
    }

    /// The query parameters of page `page` of the current query (without the key).
    pub(crate) fn request(&self, page: u32) -> Vec<(String, String)> {
        let mut params = vec![
            ("page".to_string(), page.to_string()),
            ("limit".to_string(), self.limit.to_string()),
        ];
        if let Some((column, _)) = self.order.cursor {
            params.push(("order_by[asc][]".into(), column.into()));
        }
        params.push(("order_by[asc][]".into(), "id".into()));
        if let Some((field, operand)) = self.filter() {
            let value = json!({"type": "more", "value": operand}).to_string();
            params.push((format!("filter[{field}]"), value));
        }
        params
    }

    /// The server filter of the current query: `cursor > base - 1s` (so ties on the cursor
    /// come back and are compared by id) or `id > base`.
    fn filter(&self) -> Option<(&'static str, Value)> {
        if self.filter_refused {
            return None;
        }
        let base = self.base.as_ref()?;
        match self.order.cursor {
            Some((column, _)) => Some((column, base.cursor.as_ref()?.just_before()?)),
            None => Some(("id", base.id.as_ref()?.filter_operand()?)),
        }
    }

    /// Whether page `page` of the current query may be asked now, with `in_flight` pages of
    /// it already asked and not absorbed.
    ///
    /// Page 1 goes alone; then, pages up to the last one `total` announces go ahead together
    /// (all pages when no total was sent); beyond it, one at a time.
    pub(crate) fn may_request(&self, page: u32, in_flight: usize) -> bool {
        let one_at_a_time = in_flight == 0 && page == self.pages_in_query + 1;
        let fresh = self.pages_in_query == 0 && !self.anchored;
        // After a short first page the next one is most likely empty: ask it alone.
        if self.mode == Mode::Keyset || fresh || self.cap_pending {
            return one_at_a_time;
        }
        if page > self.window_end {
            return false;
        }
        let size = self.page_len.max(1) as u64;
        match self.total {
            Some(total) if self.pages_in_query > 0 => {
                u64::from(page) <= total.div_ceil(size) || one_at_a_time
            }
            _ => true,
        }
    }

    /// [`Pager::absorb`] for records parsed as `Value`s.
    pub(crate) fn absorb_values(&mut self, items: Vec<Value>, total: Option<u64>) -> Absorbed {
        let order = self.order;
        let keyed = items
            .into_iter()
            .map(|r| {
                let key = order.key(&r);
                (r, key)
            })
            .collect();
        self.absorb(keyed, total)
    }

    /// Absorbs the next page of the current query: its records as sent, each with its key
    /// in [`Pager::order`], and the `total` it announced.
    pub(crate) fn absorb<T>(&mut self, items: Vec<(T, Option<Key>)>, total: Option<u64>) -> Absorbed<T> {
        let n = items.len();
        if self.pages_in_query == 0 {
            self.total = total;
        }
        let (items, keys): (Vec<T>, Vec<Option<Key>>) = items.into_iter().unzip();
        if let Some(at) = keys.iter().position(Option::is_none) {
            // Every stream's primary key is `id`: a record without one can be neither told
            // from the others by a destination nor checkpointed. The page is refused whole.
            return Absorbed {
                records: Vec::new(),
                checkpoint: None,
                warnings: Vec::new(),
                next: Next::Stuck(format!(
                    "record {} of {n} on page {} has no `id` this connector can read (a whole number from 0 to 18446744073709551615, or a text), and `id` is the stream's primary key",
                    at + 1,
                    self.pages_in_query + 1
                )),
            };
        }
        let mut warnings = Vec::new();
        if self.ordered && !is_sorted(&keys) {
            self.ordered = false;
            warnings.push(
                "Flowlu ignored the requested order: this stream is read without per-page checkpoints".into(),
            );
        }
        if self.anchored && self.pages_in_query == 0 {
            if let Some((warning, next)) = self.check_anchor(&keys) {
                return Absorbed {
                    records: Vec::new(),
                    checkpoint: None,
                    warnings: warning.into_iter().collect(),
                    next,
                };
            }
        }
        if self.ordered && self.window > 0 {
            self.tail_ties = self.tail_ties_after(&keys);
        }
        let page_max = keys.iter().flatten().max().cloned();
        let progress = match (&page_max, &self.raw_last) {
            (Some(max), Some(last)) => max > last,
            (_, None) => true,
            (None, Some(_)) => false,
        };
        let fingerprint = (keys.first().cloned().flatten(), keys.last().cloned().flatten(), n);
        let seen_before = n > 0 && !self.fingerprints.insert(ids_hash(&keys));
        let repeated = !self.ordered && (seen_before || self.previous.as_ref() == Some(&fingerprint));
        self.previous = Some(fingerprint);
        // A page already read passes nothing on: an unordered read has no order guard.
        let records = if repeated {
            Vec::new()
        } else {
            self.pass_on(items, keys)
        };
        let checkpoint = self.page_checkpoint(!records.is_empty(), &mut warnings);
        if progress {
            self.raw_last = page_max.or(self.raw_last.take());
        }
        self.seen_in_query += n as u64;
        let next = self.next(n, progress, repeated, &mut warnings);
        if next == Next::Restart && self.mode == Mode::Offset {
            warnings.push(
                "Flowlu repeated a page (it ignores `page`): reading on from the last record instead".into(),
            );
        }
        self.absorbed_any = true;
        self.pages_in_query += 1;
        self.page_len = self.page_len.max(n);
        let next = match next {
            Next::Restart => {
                self.restart();
                Next::Restart
            }
            Next::Continue if self.pages_in_query >= self.window_end && self.reanchor() => Next::Restart,
            other => other,
        };
        Absorbed {
            records,
            checkpoint,
            warnings,
            next,
        }
    }

    fn pass_on<T>(&mut self, items: Vec<T>, keys: Vec<Option<Key>>) -> Vec<T> {
        let mut out = Vec::with_capacity(items.len());
        for (item, key) in items.into_iter().zip(keys) {
            let Some(key) = key else {
                out.push(item);
                continue;
            };
            let floor = if self.ordered {
                self.emitted.as_ref().or(self.start.as_ref())
            } else {
                self.start.as_ref()
            };
            if floor.is_some_and(|f| &key <= f) {
                continue;
            }
            let admitted = match (&self.horizon, &key.cursor) {
                (Some(h), Some(c)) => h.admits(c),
                _ => true,
            };
            if admitted && self.safe.as_ref().is_none_or(|s| &key > s) {
                self.safe = Some(key.clone());
            }
            if self.emitted.as_ref().is_none_or(|e| &key > e) {
                self.emitted = Some(key);
            }
            out.push(item);
        }
        out
    }

    /// The position a checkpoint may hold: the last key passed on that is not in the future,
    /// or where the read started.
    fn position(&self) -> Option<&Key> {
        if self.order.is_incremental() {
            self.safe.as_ref().or(self.start.as_ref())
        } else {
            self.emitted.as_ref()
        }
    }

    fn page_checkpoint(&mut self, passed_on: bool, warnings: &mut Vec<String>) -> Option<Value> {
        if !(passed_on && self.ordered) {
            return None;
        }
        self.warn_future(warnings);
        let key = self.position()?;
        let state = self.order.checkpoint(key);
        self.checkpointed = true;
        Some(state)
    }

    /// Warns once when a record passed on lies beyond the horizon.
    fn warn_future(&mut self, warnings: &mut Vec<String>) {
        if self.future_warned || self.emitted == self.safe {
            return;
        }
        let (Some(_), Some(emitted)) = (&self.horizon, &self.emitted) else {
            return;
        };
        let Some(cursor) = emitted
            .cursor
            .as_ref()
            .map(crate::base::cursor::CursorValue::to_json)
        else {
            return;
        };
        self.future_warned = true;
        let column = self.order.cursor.map_or("cursor", |(c, _)| c);
        let id = emitted
            .id
            .as_ref()
            .map_or(Value::Null, crate::base::cursor::Id::to_json);
        warnings.push(format!(
            "record {id} has {column} {cursor}, more than {} days after the machine's clock: the state stays before it, so such records are read again next time",
            Horizon::TOLERANCE_SECS / 86_400
        ));
    }

    /// What follows a page of `n` records. An ordered read stalls when the page brings no key
    /// past the ones before; an unordered one (whose keys say nothing about progress) when
    /// the page is one read before.
    fn next(&mut self, n: usize, progress: bool, repeated: bool, warnings: &mut Vec<String>) -> Next {
        let first = self.page_len == 0;
        if self.cap_pending && n > 0 {
            self.cap_pending = false;
            self.cap_evident = true;
        }
        if let Some(total) = self.total.filter(|t| *t < self.seen_in_query) {
            self.warn_total(
                format!(
                    "Flowlu's total ({total}) is smaller than the records it already sent ({}): the total is ignored and the stream read on to its first short page",
                    self.seen_in_query
                ),
                warnings,
            );
        }
        let short = if first {
            n < self.limit as usize
        } else {
            n < self.page_len
        };
        if n == 0 || (short && !first) {
            self.check_total_at_end(warnings);
            return Next::Done;
        }
        if first && short {
            if self.total == Some(n as u64) && self.pages_in_query == 0 {
                return Next::Done;
            }
            // Shorter than asked, and more may follow: the server caps pages at `n`.
            self.limit = u32::try_from(n).unwrap_or(u32::MAX);
            if self.total.is_some_and(|t| t > n as u64) {
                self.cap_evident = true;
            } else {
                self.cap_pending = true;
            }
        }
        let stalled = if self.ordered { !progress } else { repeated };
        match (stalled, self.mode) {
            (true, Mode::Offset) if self.ordered => Next::Restart,
            (true, _) => Next::Stuck(format!(
                "Flowlu answers the same records whatever the page and filter asked ({n} per page), so the rest of the stream cannot be reached"
            )),
            (false, Mode::Keyset) => Next::Restart,
            (false, Mode::Offset) => Next::Continue,
        }
    }

    fn warn_total(&mut self, warning: String, warnings: &mut Vec<String>) {
        if !self.total_warned {
            self.total_warned = true;
            warnings.push(warning);
        }
    }

    /// At the end of a query: a total other than the records its pages held is reported.
    fn check_total_at_end(&mut self, warnings: &mut Vec<String>) {
        if let Some(total) = self.total.filter(|t| *t != self.seen_in_query) {
            let seen = self.seen_in_query;
            self.warn_total(
                format!("Flowlu's total ({total}) does not match the records its pages held ({seen}): the pages were read to the first short page, the total ignored"),
                warnings,
            );
        }
    }

    /// Starts a new query from the last key absorbed, page 1.
    fn restart(&mut self) {
        self.mode = Mode::Keyset;
        self.base = std::cmp::max(self.raw_last.clone(), self.start.clone());
        self.pages_in_query = 0;
        self.seen_in_query = 0;
        self.window_end = u32::MAX;
        self.anchored = false;
    }

    /// Starts a new query filtered from the last key absorbed; `false` (the current query
    /// goes on for another window) while more than a page of records share its cursor, or
    /// when no filter can say it (then never again).
    fn reanchor(&mut self) -> bool {
        let base = std::cmp::max(self.raw_last.clone(), self.start.clone());
        let filterable = self.ordered
            && self.mode == Mode::Offset
            && base
                .as_ref()
                .and_then(|b| b.cursor.as_ref())
                .and_then(|c| c.just_before())
                .is_some();
        if !filterable {
            self.window_end = u32::MAX;
            return false;
        }
        if self.tail_ties >= self.page_len {
            self.window_end = self.window_end.saturating_add(self.window);
            return false;
        }
        self.base = base;
        self.window_end = self.window;
        self.pages_in_query = 0;
        self.seen_in_query = 0;
        self.anchored = true;
        self.previous = None;
        true
    }

    /// Checks the first page of a re-anchored query: records before the anchor's cursor mean
    /// the server ignores the filter: the stream is then read again from its start (records
    /// already passed on are not repeated), without re-anchoring.
    fn check_anchor(&mut self, keys: &[Option<Key>]) -> Option<(Option<String>, Next)> {
        let base = self.base.clone()?;
        if !keys.iter().flatten().any(|k| k.cursor < base.cursor) {
            return None;
        }
        self.window = 0;
        self.window_end = u32::MAX;
        self.anchored = false;
        self.base = self.start.clone();
        self.pages_in_query = 0;
        self.seen_in_query = 0;
        self.raw_last = None;
        self.previous = None;
        self.tail_ties = 0;
        self.fingerprints.clear();
        let warning = "Flowlu ignored the filter on the cursor: reading on from the start of the stream";
        Some((Some(warning.to_string()), Next::Restart))
    }

    /// [`Pager::tail_ties`] after the keys of a page (duplicates and repeats not counted).
    fn tail_ties_after(&self, keys: &[Option<Key>]) -> usize {
        let mut ties = self.tail_ties;
        let mut last = self.raw_last.as_ref();
        for key in keys.iter().flatten() {
            if last.is_some_and(|l| key <= l) {
                continue;
            }
            ties = if last.is_some_and(|l| l.cursor == key.cursor) {
                ties + 1
            } else {
                1
            };
            last = Some(key);
        }
        ties
    }

    /// The state to emit when the stream ends, if the last checkpoint does not already say it:
    /// `{}` for a finished full refresh; for an incremental read, the last key passed on, or
    /// the starting position when nothing was.
    pub(crate) fn finish(&self) -> Option<Value> {
        if !self.order.is_incremental() {
            return Some(Order::finished());
        }
        if self.checkpointed && self.ordered {
            return None;
        }
        Some(
            self.position()
                .map_or_else(Order::finished, |k| self.order.checkpoint(k)),
        )
    }

    /// Whether pages of the current query may be asked ahead of the one being absorbed.
    #[cfg(test)]
    pub(crate) fn is_keyset(&self) -> bool {
        self.mode == Mode::Keyset
    }
}

/// A hash of the ids of a page, in order.
fn ids_hash(keys: &[Option<Key>]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for key in keys {
        key.as_ref().map(|k| &k.id).hash(&mut hasher);
    }
    hasher.finish()
}

fn is_sorted(keys: &[Option<Key>]) -> bool {
    keys.iter()
        .flatten()
        .zip(keys.iter().flatten().skip(1))
        .all(|(a, b)| a <= b)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::base::streams::CursorKind;

    fn by_id() -> Order {
        Order { cursor: None }
    }

    fn ids(records: &[Value]) -> Vec<u64> {
        records.iter().map(|r| r["id"].as_u64().unwrap()).collect()
    }

    fn page(range: std::ops::RangeInclusive<u64>) -> Vec<Value> {
        range.map(|id| json!({"id": id})).collect()
    }

    #[test]
    fn short_last_page_ends_and_checkpoints_every_page() {
        let mut p = Pager::new(by_id(), 2, None);
        let a = p.absorb_values(page(1..=2), Some(5));
        assert_eq!(
            (ids(&a.records), a.checkpoint, a.next),
            (vec![1, 2], Some(json!({"after_id": 2})), Next::Continue)
        );
        assert!(p.may_request(2, 0) && p.may_request(3, 1) && !p.may_request(4, 2));
        assert_eq!(p.absorb_values(page(3..=4), None).next, Next::Continue);
        let c = p.absorb_values(page(5..=5), None);
        assert_eq!((ids(&c.records), c.next), (vec![5], Next::Done));
        assert_eq!(p.finish(), Some(json!({})));
    }

    /// A record without a readable `id` stops the stream, naming it; nothing of its page is
    /// passed on and no state is saved past the pages before it.
    #[test]
    fn a_record_without_an_id_stops_the_stream_by_name() {
        for (order, bad) in [
            (by_id(), json!({"name": "no id"})),
            (
                incremental(),
                json!({"id": null, "updated_date": "2024-01-01 00:00:00"}),
            ),
            (by_id(), json!({"id": -1})),
            (by_id(), json!({"id": 18446744073709551616_f64})),
            (by_id(), json!({"id": ""})),
        ] {
            let mut p = Pager::new(order, 3, None);
            let first = p.absorb_values(page(1..=3), None);
            assert_eq!(first.records.len(), 3);
            let mut second = page(4..=5);
            second.insert(1, bad.clone());
            let stopped = p.absorb_values(second, None);
            assert_eq!(
                (stopped.records.len(), stopped.checkpoint, stopped.next),
                (0, None, Next::Stuck(
                    "record 2 of 3 on page 2 has no `id` this connector can read (a whole number from 0 to 18446744073709551615, or a text), and `id` is the stream's primary key".into()
                )),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_capped_first_page_is_not_the_end() {
        let mut p = Pager::new(by_id(), 100, None);
        assert_eq!(p.absorb_values(page(1..=10), Some(25)).next, Next::Continue);
        assert_eq!(p.absorb_values(page(11..=20), None).next, Next::Continue);
        assert_eq!(p.absorb_values(page(21..=25), None).next, Next::Done);
        let mut p = Pager::new(by_id(), 100, None);
        assert_eq!(p.absorb_values(page(1..=10), Some(10)).next, Next::Done);
    }

    #[test]
    fn a_repeated_page_switches_to_keyset_then_reports_a_stuck_server() {
        let mut p = Pager::new(by_id(), 2, None);
        p.absorb_values(page(1..=2), None);
        let again = p.absorb_values(page(1..=2), None);
        assert_eq!((again.records.len(), again.next), (0, Next::Restart));
        assert!(p.is_keyset());
        assert_eq!(
            p.request(1).last().unwrap(),
            &(
                "filter[id]".to_string(),
                r#"{"type":"more","value":2}"#.to_string()
            )
        );
        let stuck = p.absorb_values(page(1..=2), None);
        assert!(matches!(stuck.next, Next::Stuck(_)), "{stuck:?}");
    }

    #[test]
    fn incremental_ties_are_compared_by_id() {
        let order = Order {
            cursor: Some(("updated_date", CursorKind::Timestamp)),
        };
        let state = json!({"cursor_field": "updated_date", "cursor": "2024-01-02 00:00:00", "id": 5});
        let mut p = Pager::new(order, 10, order.start(Some(&state), None));
        assert!(p.request(1).contains(&(
            "filter[updated_date]".into(),
            r#"{"type":"more","value":"2024-01-01 23:59:59"}"#.into()
        )));
        let t = "2024-01-02 00:00:00";
        let items = vec![
            json!({"id": 4, "updated_date": t}),
            json!({"id": 5, "updated_date": t}),
            json!({"id": 6, "updated_date": t}),
        ];
        let a = p.absorb_values(items, Some(3));
        assert_eq!(ids(&a.records), vec![6]);
        assert_eq!(a.next, Next::Done);
        assert_eq!(p.finish(), None, "the page checkpoint is the final state");
    }

    fn at(id: u64, second: u32) -> Value {
        json!({"id": id, "updated_date": format!("2024-01-01 00:00:{second:02}")})
    }

    fn incremental() -> Order {
        Order {
            cursor: Some(("updated_date", CursorKind::Timestamp)),
        }
    }

    #[test]
    fn an_incremental_read_re_anchors_after_each_window_but_not_inside_a_page_of_ties() {
        let mut p = Pager::new(incremental(), 2, None).with_window(1);
        assert_eq!(
            p.absorb_values(vec![at(1, 1), at(2, 2)], Some(10)).next,
            Next::Restart
        );
        let filter = (
            "filter[updated_date]".to_string(),
            r#"{"type":"more","value":"2024-01-01 00:00:01"}"#.to_string(),
        );
        assert!(p.request(1).contains(&filter));
        assert!(p.may_request(1, 0) && !p.may_request(2, 1), "one page per window");
        let b = p.absorb_values(vec![at(2, 2), at(3, 3)], Some(9));
        assert_eq!(
            (ids(&b.records), b.next),
            (vec![3], Next::Restart),
            "the tie at the anchor is not repeated"
        );
        let c = p.absorb_values(vec![at(4, 5), at(5, 5)], Some(8));
        assert_eq!(c.next, Next::Continue, "a page of ties: the query goes on");
        assert!(p.may_request(2, 0) && !p.may_request(3, 1));
    }

    #[test]
    fn a_re_anchored_query_whose_filter_is_ignored_reads_on_from_the_start() {
        let mut p = Pager::new(incremental(), 2, None).with_window(1);
        p.absorb_values(vec![at(1, 1), at(2, 2)], Some(4));
        let ignored = p.absorb_values(vec![at(1, 1), at(2, 2)], Some(4));
        assert_eq!((ignored.records.len(), ignored.next), (0, Next::Restart));
        assert_eq!(ignored.warnings.len(), 1);
        assert!(!p.request(1).iter().any(|(k, _)| k.starts_with("filter")));
        assert!(p
            .absorb_values(vec![at(1, 1), at(2, 2)], Some(4))
            .records
            .is_empty());
        assert_eq!(
            ids(&p.absorb_values(vec![at(3, 3), at(4, 4)], Some(4)).records),
            vec![3, 4]
        );
    }

    fn limit_of(p: &Pager, page: u32) -> String {
        p.request(page)
            .into_iter()
            .find(|(k, _)| k == "limit")
            .map(|(_, v)| v)
            .unwrap()
    }

    #[test]
    fn a_full_page_is_never_the_end_and_a_contradicting_total_is_warned_once() {
        let mut p = Pager::new(by_id(), 2, None);
        let a = p.absorb_values(page(1..=2), Some(3));
        assert_eq!((a.next, a.warnings.len()), (Next::Continue, 0));
        assert!(!p.may_request(3, 1), "pages beyond the total go one at a time");
        let b = p.absorb_values(page(3..=4), Some(3));
        assert_eq!(b.next, Next::Continue);
        assert_eq!(
            b.warnings,
            ["Flowlu's total (3) is smaller than the records it already sent (4): the total is ignored and the stream read on to its first short page"]
        );
        let c = p.absorb_values(page(5..=6), Some(3));
        assert_eq!((c.next, c.warnings.len()), (Next::Continue, 0));
        let d = p.absorb_values(page(7..=7), Some(3));
        assert_eq!(
            (ids(&d.records), d.next, d.warnings.len()),
            (vec![7], Next::Done, 0)
        );
    }

    #[test]
    fn a_short_first_page_ends_only_when_the_total_says_exactly_so() {
        let mut p = Pager::new(by_id(), 500, None);
        assert_eq!(p.absorb_values(page(1..=30), Some(30)).next, Next::Done);
        assert_eq!(p.learned_limit(), None);
        // No total: the server may cap at 30; the next page asks for 30 (the same offset
        // whether the server counts in asked or in served records).
        let mut p = Pager::new(by_id(), 500, None);
        assert_eq!(p.absorb_values(page(1..=30), None).next, Next::Continue);
        assert_eq!(limit_of(&p, 2), "30");
        assert!(
            p.may_request(2, 0) && !p.may_request(3, 1),
            "the likely empty page goes alone"
        );
        let end = p.absorb_values(vec![], None);
        assert_eq!((end.next, p.learned_limit()), (Next::Done, None));
        // A total above the page: a cap, learned for the account.
        let mut p = Pager::new(by_id(), 500, None);
        assert_eq!(p.absorb_values(page(1..=100), Some(250)).next, Next::Continue);
        assert_eq!(
            (limit_of(&p, 2), p.learned_limit()),
            ("100".to_string(), Some(100))
        );
        assert!(p.may_request(2, 0) && p.may_request(3, 1) && !p.may_request(4, 2));
        // A total below the page is a lie: read on.
        let mut p = Pager::new(by_id(), 500, None);
        let a = p.absorb_values(page(1..=100), Some(3));
        assert_eq!((a.next, a.warnings.len()), (Next::Continue, 1));
    }

    #[test]
    fn a_page_already_read_passes_nothing_on_in_an_unordered_read() {
        let mut p = Pager::new(incremental(), 2, None);
        let a = p.absorb_values(vec![at(3, 3), at(1, 1)], Some(6));
        assert_eq!(ids(&a.records), vec![3, 1]);
        let b = p.absorb_values(vec![at(4, 4), at(2, 2)], Some(6));
        assert_eq!((ids(&b.records), b.next), (vec![4, 2], Next::Continue));
        let again = p.absorb_values(vec![at(3, 3), at(1, 1)], Some(6));
        assert!(again.records.is_empty());
        assert!(matches!(again.next, Next::Stuck(_)), "{again:?}");
    }

    #[test]
    fn records_in_the_future_are_passed_on_but_not_checkpointed() {
        // The horizon: 2024-01-01 00:00:05 (naive seconds on the Unix scale).
        let horizon = Horizon {
            latest: crate::base::dates::naive_seconds("2024-01-01 00:00:05").unwrap(),
        };
        let mut p = Pager::new(incremental(), 3, None).with_horizon(horizon);
        let a = p.absorb_values(vec![at(1, 1), at(2, 5), at(3, 9)], None);
        assert_eq!(ids(&a.records), vec![1, 2, 3]);
        assert_eq!(
            a.checkpoint,
            Some(json!({"cursor_field": "updated_date", "cursor": "2024-01-01 00:00:05", "id": 2}))
        );
        assert_eq!(
            a.warnings,
            ["record 3 has updated_date \"2024-01-01 00:00:09\", more than 2 days after the machine's clock: the state stays before it, so such records are read again next time"]
        );
        let b = p.absorb_values(vec![], None);
        assert_eq!((b.next, p.finish()), (Next::Done, None));
    }

    #[test]
    fn refusals_try_the_safe_limit_then_the_filter_then_both_once_each() {
        let state = json!({"cursor_field": "updated_date", "cursor": "2024-01-02 00:00:00", "id": 5});
        let mut p = Pager::new(incremental(), 500, incremental().start(Some(&state), None));
        let has_filter = |p: &Pager| p.request(1).iter().any(|(k, _)| k.starts_with("filter["));
        assert!(has_filter(&p));
        assert_eq!(
            p.on_refusal(true).unwrap(),
            "Flowlu refused a page of 500 records: asking 100 a page"
        );
        assert_eq!((limit_of(&p, 1), has_filter(&p)), ("100".to_string(), true));
        assert_eq!(
            p.on_refusal(true).unwrap(),
            "Flowlu refused the filter on `updated_date`: reading the stream without it and keeping only the records after the saved position (500 records a page again)"
        );
        assert_eq!((limit_of(&p, 1), has_filter(&p)), ("500".to_string(), false));
        assert_eq!(
            p.on_refusal(true).unwrap(),
            "Flowlu refused a page of 500 records without a filter too: asking 100 a page"
        );
        assert_eq!((limit_of(&p, 1), has_filter(&p)), ("100".to_string(), false));
        assert_eq!(p.on_refusal(true), None, "nothing left to try");
        // The saved position filters on the client.
        let a = p.absorb_values(
            vec![
                json!({"id": 4, "updated_date": "2024-01-02 00:00:00"}),
                json!({"id": 6, "updated_date": "2024-01-02 00:00:00"}),
            ],
            Some(2),
        );
        assert_eq!((ids(&a.records), a.next), (vec![6], Next::Done));
        assert_eq!(p.learned_limit(), Some(100));
        // Once a page was read, an error is no refusal of the limit; without a filter code,
        // none of the filter.
        let mut p = Pager::new(by_id(), 500, None);
        p.absorb_values(page(1..=500), None);
        assert_eq!(p.on_refusal(true), None);
    }
}
