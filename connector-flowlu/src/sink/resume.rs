//! Creates an earlier run made and the host sends again: found, not created twice (the
//! setting `find_earlier_creates`, on by default; `FlowluSink::finding_earlier_creates`).
//!
//! A host resumes a write from the last `STATE` it received, so the records an earlier run
//! created after that `STATE` (in flight at a signal, or after a record that withheld every
//! later `STATE`) come again. Without a match field nothing in the record says it exists.
//!
//! * **The read**: before a stream's first create of a write, one list of the model's newest
//!   records (`order_by[desc][]=id`, `page=1`, `limit` = the page size): the same read an
//!   ambiguous create is looked for with. It is made before any create of this write is sent,
//!   so it holds none of this write's records. One request per stream per write that creates;
//!   none for a record that could not be found anyway (it fails its checks, sends a list or an
//!   object, or clears a field); its newest id also becomes the floor an ambiguous create is
//!   looked for above (so a twin older than the write no longer makes such a create `unknown`).
//! * **The rule**: a record to create whose every sent field (at least one; no list or object)
//!   equals the portal record's value, by the comparison of `compare` (a field the portal
//!   record lacks is a difference), is `created` with that record's id and not sent. Each
//!   portal record is claimed at most once (a multiset), the oldest matching one first, so `n`
//!   identical records of the input find at most the `n` the model holds among its newest,
//!   and the rest are created. Identical records take turns in input order (the sink's order
//!   key).
//! * **The window** is the newest page read before the write, a count of records, not a time:
//!   Flowlu's dates are portal-local texts without a time zone, so "created in the last hour"
//!   cannot be told from the connector's clock.
//! * **What can still slip through**: a record an earlier run created that is no longer among
//!   the newest page (more than a page of records created since, by that run or anyone); one
//!   edited in Flowlu between the runs (its values differ); one whose sent field the list does
//!   not answer; a stream whose rule clears empty fields and sends one to clear (never found);
//!   the creates of a write whose read failed after its retries (warned).
//! * **What it costs a legitimate record**: a new record identical, in every field it sends, to
//!   one of the model's newest page that no earlier record of this write claimed is taken for
//!   an earlier run's and not created (the same record sent run after run is created once).
//!   One identical to an older record (outside the page) is created. A caller that sends
//!   identical records on purpose turns the setting off.
//! * A read that fails for a temporary reason (after its retries) leaves the write's creates
//!   unchecked, with a warning: it is not made again later, when the write's own creates would
//!   be among the newest and an identical input record would be taken for one of them. A
//!   refusal no record can get past (a rejected key, a module the key lacks) fails the record
//!   and stops the write as any request's would; a signal during the read: `not_sent`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::sink::compare::{record_unchanged, sent_fields, FieldKinds};

/// The newest records of a model before a write's first create, and those already claimed.
#[derive(Debug, Default)]
pub(crate) struct Earlier {
    /// `(id, record)`, oldest first.
    records: Vec<(u64, Map<String, Value>)>,
    claimed: BTreeSet<u64>,
}

impl Earlier {
    /// The window of `items` (a page of the newest records; items without an id are left out).
    pub(crate) fn new(items: &[Value]) -> Self {
        let mut records: Vec<(u64, Map<String, Value>)> = items
            .iter()
            .filter_map(|item| {
                let record = item.as_object()?;
                let id = match record.get("id")? {
                    Value::Number(n) => n.as_u64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
                .filter(|id| *id > 0)?;
                Some((id, record.clone()))
            })
            .collect();
        records.sort_by_key(|(id, _)| *id);
        records.dedup_by_key(|(id, _)| *id);
        Self {
            records,
            claimed: BTreeSet::new(),
        }
    }

    /// The oldest unclaimed record holding every sent field of `body` (at least one, each
    /// compared by its kind in `kinds`), now claimed.
    pub(crate) fn claim(&mut self, body: &Map<String, Value>, kinds: &FieldKinds) -> Option<u64> {
        if sent_fields(body).is_none_or(|sent| sent.is_empty()) {
            return None;
        }
        let id = self
            .records
            .iter()
            .find(|(id, record)| !self.claimed.contains(id) && record_unchanged(body, record, kinds))
            .map(|(id, _)| *id)?;
        self.claimed.insert(id);
        Some(id)
    }

    /// Records in the window.
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    /// The newest id in the window.
    pub(crate) fn newest(&self) -> Option<u64> {
        self.records.last().map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn each_portal_record_is_claimed_once_oldest_first() {
        let mut earlier = Earlier::new(&[
            json!({"id": 9, "name": "A", "phone": "1"}),
            json!({"id": 7, "name": "A", "phone": "1"}),
            json!({"id": 8, "name": "B"}),
        ]);
        let a = body(json!({"name": "A", "phone": "1"}));
        let kinds = FieldKinds::default();
        assert_eq!(earlier.claim(&a, &kinds), Some(7));
        assert_eq!(earlier.claim(&a, &kinds), Some(9));
        assert_eq!(earlier.claim(&a, &kinds), None);
        // A field the portal record lacks is a difference; nothing sent matches nothing.
        assert_eq!(
            earlier.claim(&body(json!({"name": "B", "phone": "2"})), &kinds),
            None
        );
        assert_eq!(earlier.claim(&body(json!({"name": null})), &kinds), None);
        assert_eq!(earlier.claim(&body(json!({"name": "B"})), &kinds), Some(8));
    }
}
