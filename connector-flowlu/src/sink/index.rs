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
//!   read does not read the write's own records back. An entry the write could not settle (an
//!   unknown create) is [`Hit::Stale`]: the next record of that match value is looked up.
//! * **Hash collisions**: two different values share a fingerprint with a chance of about
//!   2^-64 per comparison; such a record would be reported `unchanged` without being sent.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::sink::compare::{fingerprint, sent_fields};
use crate::sink::encode::scalar_text;

/// Models larger than this are never indexed.
pub const MAX_INDEX_RECORDS: u64 = 1_000_000;

/// At most this many fields are compared through an index (a record sending a field beyond
/// them is never `unchanged`).
pub const MAX_COMPARED_FIELDS: usize = 128;

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
pub enum Hit {
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
pub struct ModelIndex {
    key_field: String,
    fields: Vec<String>,
    entries: HashMap<Box<str>, Entry>,
    newest_id: u64,
    /// Ids above `newest_id` this write created (not yet joined to it without a gap).
    own: BTreeSet<u64>,
    refreshed: Instant,
    /// Records of the write numbered below this were taken from the input before the portal
    /// was last read.
    covers: u64,
}

impl ModelIndex {
    /// An empty index keyed on `key_field` (`id` or a match field), comparing `fields`.
    pub fn new(key_field: &str, mut fields: Vec<String>) -> Self {
        fields.sort();
        fields.dedup();
        fields.truncate(MAX_COMPARED_FIELDS);
        Self {
            key_field: key_field.to_string(),
            fields,
            entries: HashMap::new(),
            newest_id: 0,
            own: BTreeSet::new(),
            refreshed: Instant::now(),
            covers: 0,
        }
    }

    /// Records indexed (match values).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The index holds every record with an id up to this one: read from the portal, or
    /// created by this write with ids that follow the last one read without a gap.
    pub fn newest_id(&self) -> u64 {
        self.newest_id
    }

    /// Whether a create of the write's record number `sequence` may trust the index: the
    /// portal was read after that record was taken from the input, less than `max_age` ago.
    pub fn fresh_for(&self, sequence: u64, max_age: Duration) -> bool {
        sequence < self.covers && self.refreshed.elapsed() < max_age
    }

    /// Notes that a read of the portal began once the write had taken `received` records
    /// from its input (see [`ModelIndex::fresh_for`]).
    pub fn covered(&mut self, received: u64) {
        self.covers = self.covers.max(received);
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
    pub fn absorb(&mut self, items: &[Value]) {
        for item in items {
            let Some(record) = item.as_object() else {
                continue;
            };
            let Some(id) = record.get("id").and_then(id_of) else {
                continue;
            };
            self.newest_id = self.newest_id.max(id);
            let Some(key) = key_text(record.get(&self.key_field)) else {
                continue;
            };
            let prints = self
                .fields
                .iter()
                .map(|f| record.get(f).and_then(fingerprint).unwrap_or(ABSENT))
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
        self.refreshed = Instant::now();
    }

    /// What the index knows about `key` for a record sending `body` (checked fields).
    pub fn find(&self, key: &str, body: &Map<String, Value>) -> Hit {
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
            fingerprint(value).is_some_and(|p| prints.get(at) == Some(&p))
        })
    }

    /// Records that record `id` (match value `key`) now holds `body` as sent (after a create or
    /// an update); fields not sent keep what was known (nothing, after a create). A created id
    /// that follows [`ModelIndex::newest_id`] without a gap moves it on.
    pub fn wrote(&mut self, key: &str, id: u64, body: &Map<String, Value>, created: bool) {
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
                prints[at] = fingerprint(value).unwrap_or(ABSENT);
            }
        }
        self.entries.insert(key.into(), Entry::One { id, prints });
    }

    /// Forgets `key` (its record was deleted meanwhile).
    pub fn remove(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Marks `key` as unknown: the next record with it is looked up.
    pub fn mark_stale(&mut self, key: &str) {
        self.entries.insert(key.into(), Entry::Stale);
    }
}

/// The index key of a value: its trimmed text, `None` when blank or not a scalar.
pub fn key_text(value: Option<&Value>) -> Option<String> {
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
    fn a_create_trusts_the_index_only_for_records_taken_before_the_last_read() {
        let minute = Duration::from_secs(60);
        let mut index = ModelIndex::new("email", vec![]);
        assert!(!index.fresh_for(0, minute));
        index.covered(3);
        assert!(index.fresh_for(0, minute));
        assert!(index.fresh_for(2, minute));
        assert!(!index.fresh_for(3, minute));
        assert!(!index.fresh_for(0, Duration::ZERO));
        index.covered(1);
        assert!(index.fresh_for(2, minute));
    }
}
