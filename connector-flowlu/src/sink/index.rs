//! An index of one Flowlu model for a write: match value -> id and a fingerprint of each
//! compared field, read once instead of one lookup per record.
//!
//! * **What is kept**: per portal record only its match value (the match field's text, or the
//!   id), its id and one 64-bit [`fingerprint`] per compared field (the fields the records of
//!   the write send, at most [`MAX_COMPARED_FIELDS`]), never the record itself. A record with
//!   `k` bytes of match value costs about `k + 8 x fields + 80` bytes (the map's slack
//!   included): 100,000 accounts with 30-byte e-mails and 4 compared fields take about 14 MB.
//!   Whole records written back (the stand-in's accounts send 73 fields, custom ones
//!   included) cost about 700 bytes a record, 70 MB per 100,000. A model above
//!   [`MAX_INDEX_RECORDS`] records is never indexed (the write looks each record up instead),
//!   so an index comparing 4 fields stays under about 150 MB, and one comparing every field
//!   allowed ([`MAX_COMPARED_FIELDS`], 128) under about 1.2 GB.
//! * **Reading**: pages of `order_by[asc][]=id` with `filter[id]={"type":"more","value":last}`
//!   (keyset paging: a portal that caps the page size below the one asked loses nothing),
//!   until an empty page or a page whose `total` says nothing follows. A portal that ignores
//!   the filter or the order (ids not ascending above the last one) is detected and the index
//!   abandoned.
//! * **Keeping current**: the write's own creates and updates are recorded as sent; records
//!   created by others after the read are picked up by [`ModelIndex::absorb`] of the pages
//!   above [`ModelIndex::newest_id`]. The sink does it before a create unless the portal was
//!   read after that record reached the sink ([`ModelIndex::fresh_for`]): one read covers every
//!   record taken from the input before it began, so a batch of creates costs one page, not
//!   one lookup each. The write's own creates move [`ModelIndex::newest_id`] on while their ids
//!   follow it without a gap (a gap is an id someone else may hold: it is read), so such a
//!   read does not read the write's own records back. The same staleness read then asks for
//!   the records others *edited* since ([`ModelIndex::edited_query`]: the model's updated
//!   time from one second before the newest one read, ids up to the highest the first read
//!   found, so neither the new records nor the write's own creates come back): a record given a match
//!   value the write is about to create is updated instead, and its old value no longer
//!   answers ([`ModelIndex::absorb_edited`]). Where edits cannot be read (a model without an
//!   updated time, records that hold none, a portal that refuses or ignores the filter) a
//!   create is looked up first ([`ModelIndex::edits_unseen`]; where the portal refuses or
//!   ignores that lookup too, creates follow the index: [`ModelIndex::lookups_work`]). An entry the write could not
//!   settle (an unknown create) is [`Hit::Stale`]: the next record of that match value is
//!   looked up. The read of edits covers every id known, records created during the write
//!   (by it or by others) included: the write's own creates since the last read come back in
//!   it (a page per read at most, in practice).
//! * **Staleness bound**: every `unchanged` and every create decided from the index rests on
//!   a read of the portal begun at most `staleness_seconds` before the decision
//!   ([`ModelIndex::recent`], measured on the write's [`StalenessClock`]); an older one is
//!   refreshed first (what others created and edited since), or the record looked up where
//!   edits cannot be read. The check is made again when the refresh ends: a refresh that ended
//!   more than the bound after it began (its pages take that long at the current pace) serves
//!   no decision; the record is looked up (its own read, sent for the decision) or, where
//!   lookups are refused, its update sent, and so are the next 2, 4, 8 ... decisions before a
//!   refresh is tried again ([`ModelIndex::overran`]): a write never pays a refresh per record
//!   that cannot fit the bound.
//! * **Deletions by others**: no read shows a deleted record, so an `unchanged` also rests on
//!   a count: the refresh that serves it first asks for the model's size (one `limit=1`
//!   page's total) and then reads what others created since. Every record the portal held at
//!   the count is then known (read, or created by this write: the index keeps their ids), so the
//!   count equals the records known exactly when none of them was deleted; a record deleted
//!   and another created leaves the count as it was, but the created one is read, and the
//!   index knows one more than the count. A shortfall, a count above what is known (a total
//!   not to trust), or no count at all ([`ModelIndex::deletions_unseen`]) makes each record
//!   the index finds unchanged verified (looked up, or its update sent) until the next count;
//!   after a shortfall ([`ModelIndex::shortfall`]) the sink reads the whole model into an
//!   [`ModelIndex::emptied`] index instead when its pages cost fewer requests than the
//!   stream's records still to write.
//! * **Hash collisions**: two different values share a fingerprint with a chance of about
//!   2^-64 per comparison; such a record would be reported `unchanged` without being sent.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::base::encode::scalar_text;
use crate::sink::compare::{fingerprint, sent_fields, FieldKinds, ValueKind};

/// The clock a write's staleness bound is measured on: the process's monotonic clock, or
/// (for tests) one that moves only when told to.
#[derive(Debug, Clone)]
pub struct StalenessClock {
    start: Instant,
    manual: Option<Arc<AtomicU64>>,
}

impl Default for StalenessClock {
    fn default() -> Self {
        Self::system()
    }
}

impl StalenessClock {
    /// The process's monotonic clock.
    pub fn system() -> Self {
        Self {
            start: Instant::now(),
            manual: None,
        }
    }

    /// A clock standing at zero that moves only by [`StalenessClock::advance`] (clones share it).
    pub fn manual() -> Self {
        Self {
            start: Instant::now(),
            manual: Some(Arc::new(AtomicU64::new(0))),
        }
    }

    /// Moves a manual clock on by `by` (a system clock ignores it).
    pub fn advance(&self, by: Duration) {
        if let Some(ms) = &self.manual {
            let add = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
            ms.fetch_add(add, Ordering::SeqCst);
        }
    }

    /// The time since the clock started.
    pub fn now(&self) -> Duration {
        match &self.manual {
            Some(ms) => Duration::from_millis(ms.load(Ordering::SeqCst)),
            None => self.start.elapsed(),
        }
    }
}

/// Models larger than this are never indexed.
pub(crate) const MAX_INDEX_RECORDS: u64 = 1_000_000;

/// At most this many fields are compared through an index (a record sending a field beyond
/// them is never `unchanged`).
pub(crate) const MAX_COMPARED_FIELDS: usize = 128;

/// The fingerprint of a field the portal record does not have (never equal to a sent value).
const ABSENT: u64 = u64::MAX;

#[derive(Debug)]
enum Entry {
    One { id: u64, prints: Box<[u64]> },
    Several,
    Stale,
}

/// What the index says about one match value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hit {
    /// No portal record has it.
    Absent,
    /// One record has it; `unchanged` when it already holds every field sent.
    One {
        /// The record's id.
        id: u64,
        /// Whether every sent field already has the sent value.
        unchanged: bool,
    },
    /// Several records have it.
    Several,
    /// Unknown since an earlier record of this write: look it up.
    Stale,
}

/// The index of one model. See the [module documentation](self).
#[derive(Debug)]
pub(crate) struct ModelIndex {
    key_field: String,
    fields: Vec<String>,
    /// How each of `fields` is compared.
    kinds: Vec<ValueKind>,
    entries: HashMap<Box<str>, Entry>,
    newest_id: u64,
    /// Ids above `newest_id` this write created (not yet joined to it without a gap).
    own: BTreeSet<u64>,
    /// When (on the write's [`StalenessClock`]) the last complete read of the portal began.
    read_at: Option<Duration>,
    /// Records of the write numbered below this were taken from the input before the portal
    /// was last read.
    covers: u64,
    /// The model's updated-time column, if it has one.
    cursor: Option<String>,
    /// The newest updated time (portal seconds) read from the portal: records edited later
    /// hold at least this one.
    edited_after: Option<i64>,
    /// The highest id the first read of the portal found (`None` until it is done): edits are
    /// read for the records up to it, those the model held when the write began.
    base: Option<u64>,
    /// Records others edit cannot be read (no updated-time column, or the portal refused or
    /// ignored the filter on it): a create is looked up first.
    edits_unseen: Option<String>,
    /// The portal refused or ignored a lookup by the match field: creates follow the index.
    lookups_refused: bool,
    /// A lookup by the match field has answered.
    lookups_answered: bool,
    /// The ids of every record known to the index: read from the portal, or created by this
    /// write (less those found deleted).
    alive: HashSet<u64>,
    /// When the read that last compared the model's size with [`ModelIndex::alive`] began (the
    /// first complete read counts: it knows every record).
    counted_at: Option<Duration>,
    /// Why records others deleted may be held by the index, if they may: the last count fell
    /// short of the records known, or could not be trusted.
    deletions_unseen: Option<String>,
    /// The model's size at the last count, when it fell short of the records known.
    shortfall: Option<u64>,
    /// Refreshes in a row that took longer than the staleness bound ([`ModelIndex::overran`]).
    overruns: u32,
    /// Decisions still to verify another way (a lookup) before a refresh is tried again.
    backoff: u64,
}

/// What a read of the records others edited since the index was read asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EditedQuery {
    /// The updated-time column.
    pub column: String,
    /// `filter[column]={"type":"more","value":after}`: one second before the newest updated
    /// time read, so that an edit within that same second is not missed.
    pub after: String,
    /// Only records up to this id (`filter[id]={"type":"less","value":below}`): those the model
    /// held when the write began (newer ones are read by id, and the write's own creates are
    /// not read back).
    pub below: u64,
}

impl ModelIndex {
    /// An empty index keyed on `key_field` (`id` or a match field), comparing `fields`.
    pub(crate) fn new(key_field: &str, mut fields: Vec<String>) -> Self {
        fields.sort();
        fields.dedup();
        fields.truncate(MAX_COMPARED_FIELDS);
        Self {
            key_field: key_field.to_string(),
            kinds: vec![ValueKind::default(); fields.len()],
            fields,
            entries: HashMap::new(),
            newest_id: 0,
            own: BTreeSet::new(),
            read_at: None,
            covers: 0,
            cursor: None,
            edited_after: None,
            base: None,
            edits_unseen: None,
            lookups_refused: false,
            lookups_answered: false,
            alive: HashSet::new(),
            counted_at: None,
            deletions_unseen: None,
            shortfall: None,
            overruns: 0,
            backoff: 0,
        }
    }

    /// An empty index like this one (key, fields, kinds, updated-time column), keeping what
    /// was learned of the portal (edits or lookups it refuses or ignores, refreshes that took
    /// longer than the staleness bound) and the match values the write could not settle: to
    /// read the whole model into again.
    pub(crate) fn emptied(&self) -> Self {
        let mut fresh = Self::new(&self.key_field, Vec::new());
        fresh.fields.clone_from(&self.fields);
        fresh.kinds.clone_from(&self.kinds);
        fresh.cursor.clone_from(&self.cursor);
        fresh.edits_unseen.clone_from(&self.edits_unseen);
        fresh.lookups_refused = self.lookups_refused;
        fresh.lookups_answered = self.lookups_answered;
        fresh.overruns = self.overruns;
        fresh.backoff = self.backoff;
        fresh.entries = self
            .entries
            .iter()
            .filter(|(_, entry)| matches!(entry, Entry::Stale))
            .map(|(key, _)| (key.clone(), Entry::Stale))
            .collect();
        fresh
    }

    /// The model's size at the last count, when it fell short of the records known (some
    /// were deleted, which ones the index cannot tell).
    pub(crate) fn shortfall(&self) -> Option<u64> {
        self.shortfall
    }

    /// The model's updated-time column (`None`: edits by others cannot be read, and a create
    /// is looked up first).
    pub(crate) fn with_cursor(mut self, cursor: Option<&str>) -> Self {
        self.cursor = cursor.map(str::to_string);
        if cursor.is_none() {
            self.edits_unseen = Some("the model has no updated-time column".into());
        }
        self
    }

    /// Compares each field by its kind in `kinds` (text for a field it does not name).
    pub(crate) fn with_kinds(mut self, kinds: &FieldKinds) -> Self {
        self.kinds = self.fields.iter().map(|f| kinds.get(f)).collect();
        self
    }

    /// The read of the records others edited since the portal was last read, when there is
    /// one to make: the index holds records with an updated time, and edits can be read.
    /// It covers every record the index knows (up to [`ModelIndex::newest_id`]): those the
    /// model held when the write began and those created since, by anyone.
    pub(crate) fn edited_query(&self) -> Option<EditedQuery> {
        if self.edits_unseen.is_some() {
            return None;
        }
        self.base?;
        Some(EditedQuery {
            column: self.cursor.clone()?,
            after: crate::base::dates::format_naive(self.edited_after? - 1),
            below: Some(self.newest_id).filter(|n| *n > 0)?.saturating_add(1),
        })
    }

    /// Why records others edited since the index was read cannot be seen, if they cannot:
    /// a create is then looked up first. (An index of an empty model has nothing others could
    /// edit but the records created since, which are read by id with their updated time.)
    pub(crate) fn edits_unseen(&self) -> Option<&str> {
        match &self.edits_unseen {
            Some(why) => Some(why),
            None if self.base.is_some_and(|b| b > 0) && self.edited_after.is_none() => {
                Some("no record read holds an updated time")
            }
            None => None,
        }
    }

    /// Whether a create the index decided, when edits cannot be read, may be looked up first.
    pub(crate) fn lookups_work(&self) -> bool {
        !self.lookups_refused
    }

    /// Whether a lookup by the match field has answered (then they may go side by side).
    pub(crate) fn lookups_answered(&self) -> bool {
        self.lookups_answered
    }

    /// Notes that a lookup by the match field answered.
    pub(crate) fn lookup_answered(&mut self) {
        self.lookups_answered = true;
    }

    /// Gives up looking creates up (the portal refused or ignored the filter on the match
    /// field): creates follow the index, as they would without a way to see edits.
    pub(crate) fn give_up_lookups(&mut self) {
        self.lookups_refused = true;
    }

    /// Gives up reading edits (`why`: the portal refused or ignored the filter).
    pub(crate) fn give_up_edits(&mut self, why: String) {
        self.edits_unseen = Some(why);
    }

    /// Records indexed (match values).
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The index holds every record with an id up to this one: read from the portal, or
    /// created by this write with ids that follow the last one read without a gap.
    pub(crate) fn newest_id(&self) -> u64 {
        self.newest_id
    }

    /// Whether a decision at `now` may rest on the index: the last read of the portal
    /// began at most `max_age` before.
    pub(crate) fn recent(&self, now: Duration, max_age: Duration) -> bool {
        self.read_at.is_some_and(|at| now.saturating_sub(at) <= max_age)
    }

    /// Whether an `unchanged` at `now` may rest on the index: a read begun at most `max_age`
    /// before counted the model and found no record known to it deleted.
    pub(crate) fn unchanged_trusted(&self, now: Duration, max_age: Duration) -> bool {
        self.counted_recently(now, max_age) && self.deletions_unseen.is_none()
    }

    /// Whether a read begun at most `max_age` before `now` counted the model.
    pub(crate) fn counted_recently(&self, now: Duration, max_age: Duration) -> bool {
        self.recent(now, max_age)
            && self
                .counted_at
                .is_some_and(|at| now.saturating_sub(at) <= max_age)
    }

    /// Whether the next read of the portal is to count the model first (the first read
    /// knows every record without a count).
    pub(crate) fn counts(&self) -> bool {
        self.base.is_some()
    }

    /// How many records the index knows to be on the portal.
    #[cfg(test)]
    pub(crate) fn alive(&self) -> usize {
        self.alive.len()
    }

    /// Notes the model's size as counted at the start of the read begun at `began`, once that
    /// read has taken in every record created since (`None`: the portal sent no total).
    pub(crate) fn counted(&mut self, total: Option<u64>, began: Duration) {
        let known = self.alive.len() as u64;
        self.shortfall = total.filter(|total| *total < known);
        self.deletions_unseen = match total {
            Some(total) if total == known => None,
            Some(total) if total < known => Some(format!(
                "the portal holds {total} records, {} fewer than the index knows: some were deleted",
                known - total
            )),
            Some(total) => Some(format!(
                "the portal's total ({total}) exceeds the {known} records the index knows: not a count to trust"
            )),
            None => Some("the portal sent no total".into()),
        };
        self.counted_at = Some(self.counted_at.map_or(began, |at| at.max(began)));
    }

    /// Why records others deleted may still be in the index, if they may.
    pub(crate) fn deletions_unseen(&self) -> Option<&str> {
        self.deletions_unseen.as_deref()
    }

    /// Whether a create of the write's record number `sequence` may trust the index at `now`:
    /// the portal was read after that record was taken from the input, and that read began at
    /// most `max_age` before.
    pub(crate) fn fresh_for(&self, sequence: u64, now: Duration, max_age: Duration) -> bool {
        sequence < self.covers && self.recent(now, max_age)
    }

    /// Whether a decision the index cannot serve as it stands (older than the staleness
    /// bound) may try a refresh now: not while backing off after refreshes that took longer
    /// than the bound ([`ModelIndex::overran`]). A `false` counts one decision verified another
    /// way (looked up, or its update sent).
    pub(crate) fn refresh_allowed(&mut self) -> bool {
        if self.backoff == 0 {
            return true;
        }
        self.backoff -= 1;
        false
    }

    /// Notes that a refresh ended within the staleness bound of its start: a decision rests on
    /// it, and the next decision that needs one tries one again.
    pub(crate) fn refresh_fit(&mut self) {
        self.overruns = 0;
        self.backoff = 0;
    }

    /// Notes that a refresh ended more than the staleness bound after it began (its pages took
    /// that long at the current pace): no decision may rest on it, so the decision it was for
    /// is verified another way, and so are the next `2^k` ones (after `k` such refreshes in a
    /// row, `2^16` at most) before another refresh is tried. A write thus never pays a refresh
    /// per record that the pace will not let finish within the bound: after the first overrun,
    /// at most one refresh per doubling of the decisions made since.
    pub(crate) fn overran(&mut self) {
        self.overruns = self.overruns.saturating_add(1);
        self.backoff = 1u64 << self.overruns.min(16);
    }

    /// Notes that a read of the portal, begun at `began` (on the write's clock), was complete
    /// once the write had taken `received` records from its input (see
    /// [`ModelIndex::fresh_for`]).
    pub(crate) fn covered(&mut self, received: u64, began: Duration) {
        self.covers = self.covers.max(received);
        self.read_at = Some(self.read_at.map_or(began, |at| at.max(began)));
        // The first read is done: the records up to its newest id are those whose edits are
        // read, and it knows every record the portal held (as good as a count).
        if self.base.is_none() {
            self.counted_at = Some(began);
        }
        self.base.get_or_insert(self.newest_id);
    }

    /// Joins the write's own ids that follow `newest_id` without a gap to it.
    fn advance(&mut self) {
        self.own = self.own.split_off(&self.newest_id.saturating_add(1));
        while let Some(next) = self.newest_id.checked_add(1) {
            if !self.own.remove(&next) {
                break;
            }
            self.newest_id = next;
        }
    }

    /// Adds the records of one page read from the portal (a later page wins for an id already
    /// seen); marks the index as read now.
    pub(crate) fn absorb(&mut self, items: &[Value]) {
        for item in items {
            let Some(record) = item.as_object() else {
                continue;
            };
            let Some(id) = record.get("id").and_then(id_of) else {
                continue;
            };
            self.newest_id = self.newest_id.max(id);
            self.alive.insert(id);
            // A read of what others edited since follows every read by id: the newest updated
            // time read bounds the next one.
            if let Some(at) = self
                .cursor
                .as_ref()
                .and_then(|c| record.get(c))
                .and_then(Value::as_str)
                .and_then(crate::base::dates::parse_naive)
            {
                self.edited_after = Some(self.edited_after.map_or(at, |a| a.max(at)));
            }
            let Some(key) = key_text(record.get(&self.key_field)) else {
                continue;
            };
            let prints = self
                .fields
                .iter()
                .zip(&self.kinds)
                .map(|(f, kind)| {
                    record
                        .get(f)
                        .and_then(|v| fingerprint(*kind, v))
                        .unwrap_or(ABSENT)
                })
                .collect();
            let entry = self.entries.entry(key.into_boxed_str());
            match entry {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(Entry::One { id, prints });
                }
                std::collections::hash_map::Entry::Occupied(mut o) => match o.get() {
                    Entry::One { id: old, .. } if *old == id => {
                        o.insert(Entry::One { id, prints });
                    }
                    _ => {
                        o.insert(Entry::Several);
                    }
                },
            }
        }
        self.advance();
    }

    /// Adds records others edited since the index was read: a record whose match value
    /// changed no longer answers to its old one.
    pub(crate) fn absorb_edited(&mut self, items: &[Value]) {
        let moved: std::collections::HashSet<u64> = items
            .iter()
            .filter_map(|item| {
                let record = item.as_object()?;
                let id = record.get("id").and_then(id_of)?;
                let key = key_text(record.get(&self.key_field));
                let same = key
                    .as_deref()
                    .and_then(|k| self.entries.get(k))
                    .is_some_and(|e| matches!(e, Entry::One { id: old, .. } if *old == id));
                (!same).then_some(id)
            })
            .collect();
        if !moved.is_empty() {
            self.entries
                .retain(|_, e| !matches!(e, Entry::One { id, .. } if moved.contains(id)));
        }
        self.absorb(items);
    }

    /// What the index knows about `key` for a record sending `body` (checked fields).
    pub(crate) fn find(&self, key: &str, body: &Map<String, Value>) -> Hit {
        match self.entries.get(key) {
            None => Hit::Absent,
            Some(Entry::Several) => Hit::Several,
            Some(Entry::Stale) => Hit::Stale,
            Some(Entry::One { id, prints }) => Hit::One {
                id: *id,
                unchanged: self.unchanged(prints, body),
            },
        }
    }

    fn unchanged(&self, prints: &[u64], body: &Map<String, Value>) -> bool {
        let Some(sent) = sent_fields(body) else {
            return false;
        };
        sent.iter().all(|(name, value)| {
            let Ok(at) = self.fields.binary_search_by(|f| f.as_str().cmp(name)) else {
                return false;
            };
            let kind = self.kinds.get(at).copied().unwrap_or_default();
            fingerprint(kind, value).is_some_and(|p| prints.get(at) == Some(&p))
        })
    }

    /// Records that record `id` (match value `key`) now holds `body` as sent (after a create or
    /// an update); fields not sent keep what was known (nothing, after a create). A created id
    /// that follows [`ModelIndex::newest_id`] without a gap moves it on.
    pub(crate) fn wrote(&mut self, key: &str, id: u64, body: &Map<String, Value>, created: bool) {
        if created {
            self.alive.insert(id);
        }
        if created && id > self.newest_id {
            self.own.insert(id);
            self.advance();
        }
        let mut prints: Box<[u64]> = match self.entries.get(key) {
            Some(Entry::One { id: old, prints }) if *old == id && !created => prints.clone(),
            _ => vec![ABSENT; self.fields.len()].into_boxed_slice(),
        };
        for (at, field) in self.fields.iter().enumerate() {
            if let Some(value) = body.get(field) {
                let kind = self.kinds.get(at).copied().unwrap_or_default();
                prints[at] = fingerprint(kind, value).unwrap_or(ABSENT);
            }
        }
        self.entries.insert(key.into(), Entry::One { id, prints });
    }

    /// Forgets `key` (its record was deleted meanwhile).
    pub(crate) fn remove(&mut self, key: &str) {
        if let Some(Entry::One { id, .. }) = self.entries.remove(key) {
            self.alive.remove(&id);
        }
    }

    /// Marks `key` as unknown: the next record with it is looked up.
    pub(crate) fn mark_stale(&mut self, key: &str) {
        self.entries.insert(key.into(), Entry::Stale);
    }
}

/// The index key of a value: its trimmed text, `None` when blank or not a scalar.
pub(crate) fn key_text(value: Option<&Value>) -> Option<String> {
    let text = scalar_text(value?)?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn id_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn edits_are_read_from_a_second_before_the_newest_updated_time_up_to_the_highest_id() {
        let mut index = ModelIndex::new("email", vec!["name".into()]).with_cursor(Some("updated_date"));
        assert_eq!(index.edited_query(), None, "nothing read yet");
        assert_eq!(index.edits_unseen(), None);
        index.absorb(&[
            json!({"id": 3, "email": "a@x.io", "name": "A", "updated_date": "2024-03-01 10:00:00"}),
            json!({"id": 8, "email": "b@x.io", "name": "B", "updated_date": "2024-02-01 00:00:00"}),
            json!({"id": 9, "email": "c@x.io", "name": "C", "updated_date": "0000-00-00 00:00:00"}),
        ]);
        assert_eq!(index.edited_query(), None, "the first read is not done");
        index.covered(0, Duration::ZERO);
        let query = EditedQuery {
            column: "updated_date".into(),
            after: "2024-03-01 09:59:59".into(),
            below: 10,
        };
        assert_eq!(index.edited_query(), Some(query.clone()));
        // The write's own create (id 10, following 9) joins what is known: the next read of
        // edits covers it; a record read later moves the bound on.
        index.wrote("d@x.io", 10, &obj(json!({"name": "D"})), true);
        assert_eq!(index.edited_query().map(|q| q.below), Some(11));
        index.absorb(&[json!({"id": 11, "email": "e@x.io", "updated_date": "2024-04-01 00:00:00"})]);
        assert_eq!(
            index.edited_query(),
            Some(EditedQuery {
                column: "updated_date".into(),
                after: "2024-03-31 23:59:59".into(),
                below: 12,
            })
        );
        index.give_up_edits("Flowlu refused filter[updated_date]".into());
        assert_eq!(
            (index.edited_query(), index.edits_unseen()),
            (None, Some("Flowlu refused filter[updated_date]"))
        );
    }

    #[test]
    fn edits_cannot_be_read_without_an_updated_time() {
        let no_column = ModelIndex::new("email", vec![]).with_cursor(None);
        assert_eq!(
            no_column.edits_unseen(),
            Some("the model has no updated-time column")
        );
        let mut undated = ModelIndex::new("email", vec![]).with_cursor(Some("updated_date"));
        undated.absorb(&[json!({"id": 1, "email": "a@x.io", "updated_date": ""})]);
        undated.covered(0, Duration::ZERO);
        assert_eq!(
            undated.edits_unseen(),
            Some("no record read holds an updated time")
        );
        let mut empty = ModelIndex::new("email", vec![]).with_cursor(Some("updated_date"));
        empty.absorb(&[]);
        empty.covered(0, Duration::ZERO);
        // Nothing to read edits of yet; a record created during the write (by anyone) is
        // read for edits from then on.
        assert_eq!((empty.edits_unseen(), empty.edited_query()), (None, None));
        empty.absorb(&[json!({"id": 1, "email": "a@x.io", "updated_date": "2024-01-01 00:00:00"})]);
        assert_eq!(
            (
                empty.edits_unseen(),
                empty.edited_query().map(|q| (q.after, q.below))
            ),
            (None, Some(("2023-12-31 23:59:59".to_string(), 2)))
        );
    }

    #[test]
    fn an_edited_record_answers_to_its_new_match_value_only() {
        let mut index = ModelIndex::new("email", vec!["name".into()]).with_cursor(Some("updated_date"));
        index.absorb(&[
            json!({"id": 1, "email": "a@x.io", "name": "A", "updated_date": "2024-01-01 00:00:00"}),
            json!({"id": 2, "email": "b@x.io", "name": "B", "updated_date": "2024-01-01 00:00:00"}),
        ]);
        index.covered(0, Duration::ZERO);
        index.absorb_edited(&[
            json!({"id": 1, "email": "new@x.io", "name": "A", "updated_date": "2024-01-02 00:00:00"}),
            json!({"id": 2, "email": "b@x.io", "name": "B2", "updated_date": "2024-01-02 00:00:00"}),
        ]);
        let name = |n: &str| obj(json!({"name": n}));
        assert_eq!(index.find("a@x.io", &name("A")), Hit::Absent);
        assert_eq!(
            index.find("new@x.io", &name("A")),
            Hit::One {
                id: 1,
                unchanged: true
            }
        );
        assert_eq!(
            index.find("b@x.io", &name("B")),
            Hit::One {
                id: 2,
                unchanged: false
            }
        );
        assert_eq!(
            index.find("b@x.io", &name("B2")),
            Hit::One {
                id: 2,
                unchanged: true
            }
        );
        // An edit giving a second record an indexed value: several.
        index.absorb_edited(&[json!({"id": 2, "email": "new@x.io", "updated_date": "2024-01-03 00:00:00"})]);
        assert_eq!(index.find("new@x.io", &name("A")), Hit::Several);
        assert_eq!(index.find("b@x.io", &name("B2")), Hit::Absent);
        assert_eq!(
            index.edited_query().map(|q| q.after),
            Some("2024-01-02 23:59:59".into())
        );
    }

    #[test]
    fn finds_ids_compares_fields_and_learns_from_writes() {
        let mut index = ModelIndex::new("email", vec!["name".into(), "email".into()]);
        index.absorb(&[
            json!({"id": 1, "email": "a@x.io", "name": "A", "phone": "1"}),
            json!({"id": "2", "email": " b@x.io ", "name": "B"}),
            json!({"id": 3, "email": "d@x.io", "name": "D1"}),
            json!({"id": 4, "email": "d@x.io", "name": "D2"}),
            json!({"id": 5, "email": "", "name": "no e-mail"}),
        ]);
        assert_eq!((index.len(), index.newest_id()), (3, 5));
        let same = obj(json!({"name": "A", "email": "a@x.io"}));
        assert_eq!(
            index.find("a@x.io", &same),
            Hit::One {
                id: 1,
                unchanged: true
            }
        );
        let other = obj(json!({"name": "A2"}));
        assert_eq!(
            index.find("a@x.io", &other),
            Hit::One {
                id: 1,
                unchanged: false
            }
        );
        // `phone` is not a compared field: always a difference.
        let phone = obj(json!({"name": "A", "phone": "1"}));
        assert_eq!(
            index.find("a@x.io", &phone),
            Hit::One {
                id: 1,
                unchanged: false
            }
        );
        assert_eq!(
            index.find("b@x.io", &obj(json!({"name": "B"}))),
            Hit::One {
                id: 2,
                unchanged: true
            }
        );
        assert_eq!(index.find("d@x.io", &same), Hit::Several);
        assert_eq!(index.find("c@x.io", &same), Hit::Absent);
        index.wrote("c@x.io", 9, &obj(json!({"name": "C", "email": "c@x.io"})), true);
        assert_eq!(
            index.find("c@x.io", &obj(json!({"name": "C"}))),
            Hit::One {
                id: 9,
                unchanged: true
            }
        );
        assert_eq!(index.newest_id(), 5);
        index.wrote("a@x.io", 1, &obj(json!({"name": "A2"})), false);
        assert_eq!(
            index.find("a@x.io", &other),
            Hit::One {
                id: 1,
                unchanged: true
            }
        );
        assert_eq!(
            index.find("a@x.io", &same),
            Hit::One {
                id: 1,
                unchanged: false
            }
        );
        index.mark_stale("a@x.io");
        assert_eq!(index.find("a@x.io", &same), Hit::Stale);
        index.remove("a@x.io");
        assert_eq!(index.find("a@x.io", &same), Hit::Absent);
    }

    #[test]
    fn own_creates_without_a_gap_move_the_newest_id_on() {
        let mut index = ModelIndex::new("email", vec!["name".into()]);
        index.absorb(&[json!({"id": 10, "email": "a@x.io", "name": "A"})]);
        let body = obj(json!({"name": "N"}));
        index.wrote("c@x.io", 12, &body, true);
        // 11 may be someone else's record: not known yet.
        assert_eq!(index.newest_id(), 10);
        index.wrote("b@x.io", 11, &body, true);
        assert_eq!(index.newest_id(), 12);
        // An update is not a new record.
        index.wrote("z@x.io", 14, &body, false);
        assert_eq!(index.newest_id(), 12);
        index.wrote("e@x.io", 15, &body, true);
        assert_eq!(index.newest_id(), 12);
        // A read above 12 finds 13 and 14 (someone else's): 15 joins them.
        index.absorb(&[
            json!({"id": 13, "email": "d@x.io", "name": "D"}),
            json!({"id": 14, "email": "z@x.io", "name": "Z"}),
        ]);
        assert_eq!(index.newest_id(), 15);
        // A create the read already saw changes nothing.
        index.wrote("d@x.io", 13, &body, true);
        assert_eq!(index.newest_id(), 15);
        assert_eq!(
            index.find("e@x.io", &body),
            Hit::One {
                id: 15,
                unchanged: true
            }
        );
    }

    #[test]
    fn every_value_form_compares_by_its_type_on_the_index_and_the_lookup_path() {
        use crate::sink::compare::{record_unchanged, value_forms, FieldKinds};
        for (kind, sent, current, same) in value_forms() {
            let kinds = FieldKinds::new(std::collections::HashMap::from([("f".to_string(), kind)]));
            let portal = json!({"id": 1, "email": "a@x.io", "f": current});
            let body = obj(json!({"f": sent}));
            // A value the encoder drops (null, "") is not sent: nothing to differ.
            let sends = sent_fields(&body).is_none_or(|f| !f.is_empty());
            let expected = same || !sends;
            // The lookup path: the record a lookup answered.
            assert_eq!(
                record_unchanged(&body, &obj(portal.clone()), &kinds),
                expected,
                "lookup, {kind:?}: {sent} vs {current}"
            );
            // The index path: the record read into the index, the sent value fingerprinted.
            let mut index = ModelIndex::new("email", vec!["f".into()]).with_kinds(&kinds);
            index.absorb(&[portal]);
            assert_eq!(
                index.find("a@x.io", &body),
                Hit::One {
                    id: 1,
                    unchanged: expected
                },
                "index, {kind:?}: {sent} vs {current}"
            );
            // What the write sent is what the index then holds.
            index.wrote("a@x.io", 1, &body, false);
            assert_eq!(
                index.find("a@x.io", &body),
                Hit::One {
                    id: 1,
                    // Lists and objects are never comparable.
                    unchanged: sent_fields(&body).is_some()
                },
                "index after the write, {kind:?}: {sent}"
            );
        }
    }

    #[test]
    fn a_decision_trusts_the_index_within_the_staleness_bound_only() {
        let (minute, clock) = (Duration::from_secs(60), StalenessClock::manual());
        let mut index = ModelIndex::new("email", vec![]);
        assert!(!index.recent(clock.now(), minute), "never read");
        assert!(!index.fresh_for(0, clock.now(), minute));
        clock.advance(Duration::from_secs(5));
        index.covered(3, clock.now());
        clock.advance(minute);
        // Read 60 s ago: still within a bound of 60 s; records taken before the read only.
        assert!(index.recent(clock.now(), minute));
        assert!(index.fresh_for(0, clock.now(), minute));
        assert!(index.fresh_for(2, clock.now(), minute));
        assert!(!index.fresh_for(3, clock.now(), minute));
        clock.advance(Duration::from_millis(1));
        assert!(!index.recent(clock.now(), minute));
        assert!(!index.fresh_for(0, clock.now(), minute));
        // A later read renews it; an older one (out of order) does not move it back.
        index.covered(1, clock.now());
        index.covered(1, Duration::ZERO);
        assert!(index.fresh_for(2, clock.now(), minute));
        assert!(index.fresh_for(2, clock.now(), Duration::ZERO));
        clock.advance(Duration::from_millis(1));
        assert!(!index.recent(clock.now(), Duration::ZERO));
        // The system clock moves by itself and ignores `advance`.
        let system = StalenessClock::system();
        system.advance(Duration::from_secs(3600));
        assert!(system.now() < Duration::from_secs(3600));
    }

    #[test]
    fn refreshes_longer_than_the_bound_back_off_doubling() {
        let mut index = ModelIndex::new("email", vec![]);
        let mut tried = Vec::new();
        for decision in 0..40u32 {
            if index.refresh_allowed() {
                tried.push(decision);
                index.overran();
            }
        }
        // 2, 4, 8 and 16 decisions verified another way between the tries.
        assert_eq!(tried, [0, 3, 8, 17, 34]);
        // A refresh that fits ends the backoff: the next decision may try one at once.
        index.refresh_fit();
        assert!(index.refresh_allowed() && index.refresh_allowed());
        // The backoff stops growing at 2^16 decisions.
        for _ in 0..40 {
            index.overran();
        }
        assert_eq!(index.backoff, 1 << 16);
    }

    #[test]
    fn an_unchanged_needs_a_count_within_the_bound_that_matches_every_record_known() {
        let (w, clock) = (Duration::from_secs(30), StalenessClock::manual());
        let mut index = ModelIndex::new("email", vec!["name".into()]);
        index.absorb(&[
            json!({"id": 1, "email": "a@x.io"}),
            json!({"id": 2, "email": "b@x.io"}),
            json!({"id": 3, "email": ""}),
        ]);
        assert!(!index.counts(), "the first read knows every record");
        index.covered(0, clock.now());
        assert_eq!(index.alive(), 3, "records without a match value are counted too");
        assert!(index.unchanged_trusted(clock.now(), w));
        clock.advance(w + Duration::from_secs(1));
        assert!(!index.unchanged_trusted(clock.now(), w));
        assert!(index.counts());
        // A create of the write and one of others read since: 5 known.
        index.wrote("c@x.io", 4, &obj(json!({"email": "c@x.io"})), true);
        index.absorb(&[json!({"id": 5, "email": "d@x.io"})]);
        let now = clock.now();
        index.counted(Some(5), now);
        index.covered(0, now);
        assert!(index.unchanged_trusted(now, w));
        // One deleted and one created by others: the count stays 5, the created one is read.
        index.absorb(&[json!({"id": 6, "email": "e@x.io"})]);
        index.counted(Some(5), now);
        assert!(!index.unchanged_trusted(now, w));
        assert!(index.counted_recently(now, w));
        assert!(index.deletions_unseen().is_some_and(|w| w.contains("1 fewer")));
        // A total above what is known (99999), or none: not trusted either.
        index.counted(Some(99_999), now);
        assert!(index
            .deletions_unseen()
            .is_some_and(|w| w.contains("not a count to trust")));
        index.counted(None, now);
        assert!(!index.unchanged_trusted(now, w));
        // A record found deleted leaves the known set: the count matches again.
        index.remove("e@x.io");
        index.counted(Some(5), now);
        assert!(index.unchanged_trusted(now, w));
    }
}
