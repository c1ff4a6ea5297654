//! One record's write: the portal read that a decision rests on (the lookup, or the index
//! verified within the staleness bound) and the requests (update, delete; creates in
//! `sink::create`) for what `sink::decide` decides; one outcome.

use std::sync::PoisonError;
use std::time::Duration;

use connector_core::{FailureClass, Outcome};
use serde_json::{Map, Value};

use crate::account::Account;
use crate::base::encode::{encode_record_with, scalar_text, Empty};
use crate::base::error::Error;
use crate::client::limiter::Wait;
use crate::credential::internal_detail;
use crate::sink::economy::{self, Strategy, StreamShared};
use crate::sink::index::{Hit, ModelIndex};

use super::decide::{self, as_id, refused, several, Action, Found, Gone, Route, Rules, Seen};
use super::halt::Halt;
use super::plan::StreamPlan;

/// Writes the records of one stream.
pub(super) struct Writer<'s> {
    /// The account written to.
    pub(super) account: &'s Account,
    /// How old an index may be before a create from it reads what was created since.
    pub(super) index_max_age: Duration,
    pub(super) stream: &'s StreamPlan,
    pub(super) halt: &'s Halt,
    /// The record's position in the input.
    pub(super) sequence: u64,
    pub(super) shared: &'s StreamShared,
    pub(super) strategy: Strategy,
    /// Before a create, look for the record among the model's newest (`sink::resume`).
    pub(super) find_earlier: bool,
}

/// A step of a record's write: go on with what it learned, or the record's outcome.
pub(super) enum Step<T> {
    Continue(T),
    Done(Outcome),
}

/// What a lookup by match field came to.
pub(super) enum Lookup {
    Found(Found),
    /// The portal refused or ignored the filter (the outcome says which).
    Unfiltered(Outcome),
    Failed(Outcome),
}

/// How a decision whose index is older than the staleness bound is verified.
pub(super) enum Refresh {
    /// The index was brought up to date.
    Done,
    /// Edits cannot be read: look the record up.
    LookUp,
    /// Neither edits nor lookups can be read: send the record (never `unchanged` unverified).
    Send,
}

/// How a decision the index cannot serve is verified: looked up where lookups by the match
/// field work, else sent (never `unchanged` unverified).
fn verify_another_way(index: &ModelIndex) -> Refresh {
    if index.lookups_work() {
        Refresh::LookUp
    } else {
        Refresh::Send
    }
}

pub(super) type IndexLock = tokio::sync::Mutex<ModelIndex>;

impl Writer<'_> {
    /// The failed outcome of `err`, noting it when it stops later records.
    pub(super) fn fail(&self, err: &Error) -> Outcome {
        if matches!(err, Error::Stopped) {
            return Outcome::NotSent {
                reason: self.halt.not_sent(&self.stream.stream),
            };
        }
        self.halt.note(
            &self.stream.stream,
            self.sequence,
            err,
            self.account.client.host(),
        );
        failed(err)
    }

    /// The fields of `data` that would be sent (`None` when the record does not fit the schema:
    /// it then fails when its body is built).
    pub(super) fn checked(&self, data: &Map<String, Value>) -> Option<Map<String, Value>> {
        self.stream.schema.check(data, false).ok()
    }

    /// What the stream's plan and write rule say ([`decide::Rules`]).
    fn rules(&self) -> Rules<'_> {
        let rule = self.account.settings.write_rule(&self.stream.stream);
        Rules {
            mode: self.stream.mode,
            match_field: self.stream.match_field.as_deref(),
            apply_deletes: rule.is_some_and(|r| r.apply_deletes),
            clear_empty_fields: rule.is_some_and(|r| r.clear_empty_fields),
        }
    }

    /// Whether a record may be found `unchanged` ([`decide::may_be_unchanged`]).
    pub(super) fn may_be_unchanged(&self, data: &Map<String, Value>) -> bool {
        decide::may_be_unchanged(data, self.rules().clear_empty_fields)
    }

    pub(super) async fn index(&self) -> Option<&IndexLock> {
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
                let mut index = ModelIndex::new(key, fields)
                    .with_kinds(&self.stream.kinds)
                    .with_cursor(self.stream.cursor);
                match economy::read_into(self.account, self.stream, &mut index, shared).await {
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

    /// Writes one record: its route ([`decide::route`]), what the portal holds where the route
    /// needs it, and what is sent.
    pub(super) async fn apply(&self, data: &Map<String, Value>) -> Outcome {
        match decide::route(data, &self.rules()) {
            Route::Fail(outcome) => outcome,
            Route::Delete(id) => self.delete(id).await,
            Route::ById { id, upsert } => self.by_id(id, upsert, data).await,
            Route::Create { check } => match self.created_earlier(data).await {
                Some(found) => found,
                None => self.create(data, check).await,
            },
            Route::ByMatch { field, value } => self.upsert_by_match(data, field, &value).await,
        }
    }

    /// Update (or upsert, `upsert`) by id, through the index when there is one
    /// ([`decide::by_id`]).
    async fn by_id(&self, id: u64, upsert: bool, data: &Map<String, Value>) -> Outcome {
        let key = id.to_string();
        let index = self.index().await;
        let body = self.checked(data);
        // A record that does not fit the schema fails when its body is built: no index for it.
        let index = index.filter(|_| body.is_some());
        let seen = match (index, &body) {
            (Some(index), Some(body)) => Some(self.seen_by_id(index, &key, body).await),
            _ => None,
        };
        let action = decide::by_id(id, upsert, seen, self.may_be_unchanged(data));
        self.send(action, data, body.as_ref(), index, ("id", &key)).await
    }

    /// What the index holds for the id `key` and the newest id it read; an `unchanged` only
    /// from what the portal held within the staleness bound: where edits or deletions cannot be
    /// ruled out, [`Hit::Stale`], and the update is sent (as costly as a lookup by id; a deleted
    /// id fails as such).
    async fn seen_by_id(&self, index: &IndexLock, key: &str, body: &Map<String, Value>) -> (Hit, u64) {
        let mut index = index.lock().await;
        let mut hit = index.find(key, body);
        if matches!(hit, Hit::One { unchanged: true, .. })
            && !index.unchanged_trusted(self.shared.clock.now(), self.index_max_age)
        {
            hit = match self.refresh(&mut index).await {
                Refresh::Done => index.find(key, body),
                Refresh::LookUp | Refresh::Send => Hit::Stale,
            };
        }
        (hit, index.newest_id())
    }

    /// The form body, or the failed outcome of a record that cannot succeed.
    pub(super) fn body(
        &self,
        data: &Map<String, Value>,
        creating: bool,
    ) -> Result<Vec<(String, String)>, Outcome> {
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
        let rule = self.account.settings.write_rule(&self.stream.stream);
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

    /// What stops this stream's requests (a signal, a refusal of the whole portal).
    pub(super) fn stop(&self) -> tokio_util::sync::CancellationToken {
        self.halt.token(&self.stream.stream)
    }

    pub(super) fn waited(&self, wait: &Wait) {
        self.account.waited(&self.stream.stream, wait);
    }

    pub(super) async fn delete(&self, id: u64) -> Outcome {
        let (module, model) = (self.stream.module, self.stream.model);
        let result = self
            .account
            .limiter
            .run_until(
                &self.stop(),
                || self.account.client.delete(module, model, id),
                Error::is_retryable,
                &|w| self.waited(w),
            )
            .await;
        match result {
            Ok(_) => Outcome::Deleted { id: id.to_string() },
            Err(e) if e.decision().gone => Outcome::Skipped {
                reason: format!("record {id} does not exist (already deleted)"),
            },
            Err(e) => self.fail(&e),
        }
    }

    /// Updates record `id`: `updated`, or the failed outcome (an answer "not found" keeps
    /// Flowlu's code, [`decide::is_not_found`]).
    pub(super) async fn update(&self, id: u64, data: &Map<String, Value>) -> Outcome {
        let body = match self.body(data, false) {
            Ok(body) => body,
            Err(outcome) => return outcome,
        };
        let (module, model) = (self.stream.module, self.stream.model);
        let result = self
            .account
            .limiter
            .run_until(
                &self.stop(),
                || self.account.client.update(module, model, id, &body),
                Error::is_retryable,
                &|w| self.waited(w),
            )
            .await;
        match result {
            Ok(_) => Outcome::Updated { id: id.to_string() },
            Err(e) => self.fail(&e),
        }
    }

    /// Upsert by match field `field` = `value`: through the index when there is one (verified
    /// within the staleness bound), else a lookup ([`decide::by_match`]).
    async fn upsert_by_match(&self, data: &Map<String, Value>, field: &str, value: &str) -> Outcome {
        let index = self.index().await;
        let body = self.checked(data);
        // A record that does not fit the schema is looked up (and fails when its body is built).
        let index = index.filter(|_| body.is_some());
        let action = match (index, &body) {
            (Some(index), Some(body)) => {
                let may_be_unchanged = self.may_be_unchanged(data);
                match self
                    .seen_in_index(index, field, value, body, may_be_unchanged)
                    .await
                {
                    Step::Continue(seen) => decide::by_match(
                        &seen,
                        Some(body),
                        &self.stream.kinds,
                        may_be_unchanged,
                        (field, value),
                    ),
                    Step::Done(outcome) => return outcome,
                }
            }
            _ => Action::LookUp,
        };
        self.send(action, data, body.as_ref(), index, (field, value))
            .await
    }

    /// Sends what was decided for the record whose `field` holds `value` (`id` and its digits,
    /// by id), noting what was written in the index; decides again on what a request learned
    /// (a lookup's answer, an update answered "not found" as [`Gone`] says).
    async fn send(
        &self,
        mut action: Action,
        data: &Map<String, Value>,
        body: Option<&Map<String, Value>>,
        index: Option<&IndexLock>,
        (field, value): (&str, &str),
    ) -> Outcome {
        loop {
            let seen = match action {
                Action::Unchanged(id) => return Outcome::Unchanged { id: id.to_string() },
                Action::Fail(outcome) => return outcome,
                Action::Create => {
                    return self
                        .create_noting(data, Some((field, value.to_string())), index.map(|i| (i, value)))
                        .await
                }
                Action::LookUp => match self.lookup(field, value).await {
                    Ok(found) => Seen::Lookup(found),
                    Err(outcome) => return outcome,
                },
                Action::Update { id, if_gone } => {
                    let outcome = self.update(id, data).await;
                    if let (Some(index), Some(body), Outcome::Updated { .. }) = (index, body, &outcome) {
                        index.lock().await.wrote(value, id, body, false);
                    }
                    if if_gone == Gone::Fails || !decide::is_not_found(&outcome) {
                        return outcome;
                    }
                    if let Some(index) = index {
                        index.lock().await.remove(value);
                    }
                    match if_gone {
                        Gone::NoSuchId => return decide::no_such_id(id),
                        // Deleted since the index was read: look again, then create.
                        Gone::LookUp | Gone::Fails => Seen::Unverified,
                    }
                }
            };
            action = decide::by_match(
                &seen,
                body,
                &self.stream.kinds,
                self.may_be_unchanged(data),
                (field, value),
            );
        }
    }

    /// What the index holds for the match value `value`, verified: an `unchanged` rests on
    /// what the portal held within the staleness bound ([`Writer::verify_unchanged`]), and so
    /// does an absence, before a create ([`Writer::verify_absent`]).
    async fn seen_in_index(
        &self,
        index: &IndexLock,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
        may_be_unchanged: bool,
    ) -> Step<Seen> {
        let mut hit = index.lock().await.find(value, body);
        if let Hit::One { unchanged: true, .. } = hit {
            match self
                .verify_unchanged(index, field, value, body, may_be_unchanged)
                .await
            {
                Step::Continue(Seen::Index(again)) => hit = again,
                other => return other,
            }
        }
        if hit == Hit::Absent {
            return self.verify_absent(index, field, value, body).await;
        }
        Step::Continue(Seen::Index(hit))
    }

    /// An `unchanged` the index found, only from what the portal held within the staleness
    /// bound: the index brought up to date, else the record looked up, else sent (never
    /// `unchanged` unverified).
    async fn verify_unchanged(
        &self,
        index: &IndexLock,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
        may_be_unchanged: bool,
    ) -> Step<Seen> {
        let id = {
            let mut guard = index.lock().await;
            // Found again under this lock: another record may have read the model again since.
            let hit = guard.find(value, body);
            let Hit::One { id, unchanged: true } = hit else {
                return Step::Continue(Seen::Index(hit));
            };
            if !may_be_unchanged || guard.unchanged_trusted(self.shared.clock.now(), self.index_max_age) {
                return Step::Continue(Seen::Index(hit));
            }
            match self.refresh(&mut guard).await {
                Refresh::Done => return Step::Continue(Seen::Index(guard.find(value, body))),
                // Neither a read nor a lookup can verify it: sent.
                Refresh::Send => return Step::Continue(Seen::Index(Hit::One { id, unchanged: false })),
                Refresh::LookUp => id,
            }
        };
        match self.try_lookup(field, value).await {
            Lookup::Found(found) => {
                index.lock().await.lookup_answered();
                Step::Continue(Seen::Lookup(found))
            }
            Lookup::Failed(outcome) => Step::Done(outcome),
            // Lookups are refused too: the record is sent.
            Lookup::Unfiltered(_) => {
                index.lock().await.give_up_lookups();
                Step::Continue(Seen::Index(Hit::One { id, unchanged: false }))
            }
        }
    }

    /// Brings the index up to date for an `unchanged` (see [`Writer::refresh_reads`]), or says
    /// how the record is to be verified instead. **Rule**: the `unchanged` rests on the
    /// refresh only when the refresh began at most `staleness_seconds` (W) before the decision
    /// that follows it (the count and every read after it began within W); a refresh that took
    /// longer (its pages at the current pace take more than W) serves no decision: the record
    /// is looked up (its own read, sent for this decision, which follows its answer) or, where
    /// lookups are refused, sent. After such an overrun the next decisions are verified that
    /// way without a refresh, 2, 4, 8 ... of them before the next try
    /// ([`ModelIndex::overran`]), so a write never loops on refreshes that cannot fit W and
    /// makes progress at one lookup per record at worst.
    async fn refresh(&self, index: &mut ModelIndex) -> Refresh {
        if !index.refresh_allowed() {
            return verify_another_way(index);
        }
        match self.refresh_reads(index).await {
            Refresh::Done if index.unchanged_trusted(self.shared.clock.now(), self.index_max_age) => {
                index.refresh_fit();
                Refresh::Done
            }
            Refresh::Done => {
                tracing::debug!(stream = %self.stream.stream, "the refresh took longer than the staleness bound; the record is verified another way");
                index.overran();
                verify_another_way(index)
            }
            other => other,
        }
    }

    /// An absence the index found, before a create: what others created and edited since is
    /// read, unless a read began after this record was taken from the input; where edits
    /// cannot be read, the record is looked up instead.
    async fn verify_absent(
        &self,
        index: &IndexLock,
        field: &str,
        value: &str,
        body: &Map<String, Value>,
    ) -> Step<Seen> {
        let mut guard = index.lock().await;
        let looks_up = |g: &ModelIndex| g.edits_unseen().is_some() && g.lookups_work();
        let now = self.shared.clock.now();
        if !looks_up(&guard) && !guard.fresh_for(self.sequence, now, self.index_max_age) {
            // A create rests on the read only when it began within the bound of the decision
            // (the rule of `refresh`); else, or while refreshes back off, the record is looked
            // up (where lookups are refused, creates follow the index).
            let can_look_up = guard.lookups_work();
            if can_look_up && !guard.refresh_allowed() {
                return Step::Continue(Seen::Unverified);
            }
            let read = economy::read_into(self.account, self.stream, &mut guard, self.shared).await;
            if let Err(why) = read {
                tracing::debug!(%why, "the index could not be brought up to date; looking the record up");
                return Step::Continue(Seen::Unverified);
            }
            if can_look_up {
                if !guard.fresh_for(self.sequence, self.shared.clock.now(), self.index_max_age) {
                    tracing::debug!(stream = %self.stream.stream, "the read took longer than the staleness bound; the record is looked up");
                    guard.overran();
                    return Step::Continue(Seen::Unverified);
                }
                guard.refresh_fit();
            }
        }
        if looks_up(&guard) {
            let lookup = if guard.lookups_answered() {
                drop(guard);
                let lookup = self.try_lookup(field, value).await;
                guard = index.lock().await;
                lookup
            } else {
                // Until a lookup has answered, one at a time (the index held): a portal that
                // refuses them is asked once.
                self.try_lookup(field, value).await
            };
            match lookup {
                Lookup::Found(found) => {
                    guard.lookup_answered();
                    return Step::Continue(Seen::Lookup(found));
                }
                Lookup::Failed(outcome) => return Step::Done(outcome),
                Lookup::Unfiltered(_) => {
                    let why = guard.edits_unseen().unwrap_or_default().to_string();
                    tracing::warn!(stream = %self.stream.stream, %field, %why, "Flowlu refused or ignored the filter on the match field as well: creates follow the index, and a record someone else gave a match value since the index was read may be duplicated");
                    guard.give_up_lookups();
                }
            }
            if !guard.fresh_for(self.sequence, self.shared.clock.now(), self.index_max_age) {
                if let Err(why) = economy::read_into(self.account, self.stream, &mut guard, self.shared).await
                {
                    return Step::Done(refused(
                        FailureClass::System,
                        format!("not created: what others created since the index was read could not be read ({why}), and Flowlu refuses lookups by `{field}`; write the record again"),
                    ));
                }
            }
        }
        Step::Continue(Seen::Index(guard.find(value, body)))
    }

    /// Brings the index up to date (what others created and edited since its last read, and
    /// whether any record it knows was deleted: a count first), so that an `unchanged` rests
    /// on what the portal held within the staleness bound; where edits or deletions cannot be
    /// ruled out, says how the record is to be verified instead.
    async fn refresh_reads(&self, index: &mut ModelIndex) -> Refresh {
        let verify = |index: &ModelIndex| {
            if index.lookups_work() {
                Refresh::LookUp
            } else {
                Refresh::Send
            }
        };
        if index.edits_unseen().is_some() {
            return verify(index);
        }
        if index.counted_recently(self.shared.clock.now(), self.index_max_age) {
            // Counted within the bound, and a record it knows may have been deleted since its
            // read: each record is verified until the next count (or the model read again).
            return if index.deletions_unseen().is_some() {
                if self.read_again(index).await {
                    Refresh::Done
                } else {
                    verify(index)
                }
            } else {
                Refresh::Done
            };
        }
        match economy::read_counting(self.account, self.stream, index, self.shared, true).await {
            // The read of edits was refused or ignored just now: what others created was
            // read, what they edited was not.
            Ok(_) if index.edits_unseen().is_some() => {
                if index.lookups_work() {
                    Refresh::LookUp
                } else {
                    Refresh::Send
                }
            }
            Ok(_) if index.deletions_unseen().is_some() && self.read_again(index).await => Refresh::Done,
            Ok(requests) => match index.deletions_unseen() {
                Some(why) => {
                    tracing::debug!(stream = %self.stream.stream, requests, %why, "index brought up to date; records it finds unchanged are verified");
                    verify(index)
                }
                None => {
                    tracing::debug!(stream = %self.stream.stream, requests, "index brought up to date");
                    Refresh::Done
                }
            },
            Err(why) => {
                tracing::debug!(%why, "the index could not be brought up to date; the record is verified another way");
                if index.edits_unseen().is_none() || index.lookups_work() {
                    Refresh::LookUp
                } else {
                    Refresh::Send
                }
            }
        }
    }

    /// After a count that fell short of the records the index knows (others deleted some,
    /// which ones it cannot tell), each record it finds unchanged would cost a lookup: reads
    /// the whole model into the index again instead when its pages cost fewer requests than
    /// the stream's records taken from the input and not yet written. `true`: read again (it
    /// knows every record the portal holds, as good as a count).
    async fn read_again(&self, index: &mut ModelIndex) -> bool {
        let Some(total) = index.shortfall() else {
            return false;
        };
        let page = match self.shared.page.load(std::sync::atomic::Ordering::SeqCst) {
            0 => u64::from(self.account.settings.page_size()),
            served => served,
        };
        let pages = total.div_ceil(page.max(1));
        let left = self.shared.left();
        if pages >= left {
            return false;
        }
        let mut fresh = index.emptied();
        match economy::read_into(self.account, self.stream, &mut fresh, self.shared).await {
            Ok(requests) => {
                tracing::debug!(stream = %self.stream.stream, requests, pages, left, "records others deleted: the model read again rather than a lookup per record");
                *index = fresh;
                true
            }
            Err(why) => {
                tracing::debug!(stream = %self.stream.stream, %why, "the model could not be read again; records found unchanged are verified");
                false
            }
        }
    }

    /// Finds the record whose `field` equals `value`: `list` with `filter[field]=value`.
    /// A filter the portal ignores or refuses concerns the whole portal: the stream stops (its
    /// later records are not sent, its checkpoints after this record withheld).
    pub(super) async fn lookup(&self, field: &str, value: &str) -> Result<Found, Outcome> {
        match self.try_lookup(field, value).await {
            Lookup::Found(found) => Ok(found),
            Lookup::Unfiltered(outcome) => {
                let why = match &outcome {
                    Outcome::Failed { code: Some(code), .. } => {
                        format!("refuses the filter on `{field}` (error {code})")
                    }
                    _ => format!("ignores the filter on `{field}`"),
                };
                self.halt.stop_stream(&self.stream.stream, self.sequence, &why);
                Err(match outcome {
                    // A refusal of the filter is no fault of the record: it is sent again.
                    Outcome::Failed {
                        class: FailureClass::Config,
                        code,
                        message,
                        fields,
                    } => Outcome::Failed {
                        class: FailureClass::System,
                        code,
                        message,
                        fields,
                    },
                    other => other,
                })
            }
            Lookup::Failed(outcome) => Err(outcome),
        }
    }

    /// [`Self::lookup`], telling a portal that refuses the filter on `field` (Flowlu errors 12
    /// and 21) or ignores it apart from other failures.
    pub(super) async fn try_lookup(&self, field: &str, value: &str) -> Lookup {
        let params = [
            (format!("filter[{field}]"), value.to_string()),
            ("page".to_string(), "1".to_string()),
            ("limit".to_string(), "2".to_string()),
        ];
        let page = match economy::list_until(self.account, self.stream, &params, &self.stop()).await {
            Ok(page) => page,
            Err(e) if e.refuses_filter() => return Lookup::Unfiltered(self.fail(&e)),
            Err(e) => return Lookup::Failed(self.fail(&e)),
        };
        let matches = |item: &Value| {
            item.get(field)
                .and_then(scalar_text)
                .is_some_and(|v| v.trim() == value)
        };
        if !page.items.iter().all(matches) {
            return Lookup::Unfiltered(refused(
                FailureClass::System,
                format!(
                    "Flowlu ignored the filter on `{field}` (it answered records that do not match), so the record was not written, to avoid a duplicate"
                ),
            ));
        }
        let found = match page.items.as_slice() {
            [] => Ok(Found::None),
            [Value::Object(item)] => match item.get("id").and_then(as_id) {
                Some(id) => Ok(Found::One(id, item.clone())),
                None => Err(refused(
                    FailureClass::System,
                    "the matching record has no id".into(),
                )),
            },
            [_] => Err(refused(
                FailureClass::System,
                "the matching record is not an object".into(),
            )),
            _ => Err(several(field, value)),
        };
        match found {
            Ok(found) => Lookup::Found(found),
            Err(outcome) => Lookup::Failed(outcome),
        }
    }
}

pub(super) fn api_code(err: &Error) -> Option<i64> {
    err.api().and_then(|api| api.code)
}

/// The failed outcome of an error: a record-level error (not found, validation) is the
/// input's to fix; other errors keep their class.
pub(super) fn failed(err: &Error) -> Outcome {
    let decision = err.decision();
    let class = if decision.record_level {
        FailureClass::Config
    } else {
        decision.class
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

pub(super) fn outcome_message(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Failed { message, .. } | Outcome::Unknown { message } => message.clone(),
        Outcome::Skipped { reason } => reason.clone(),
        other => other.kind().to_string(),
    }
}
