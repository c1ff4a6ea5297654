//! One record's write: checks, the lookup or the index, create/update/delete, safe retries
//! and settling ambiguous creates; one outcome.

use std::collections::BTreeMap;
use std::sync::PoisonError;
use std::time::Duration;

use connector_core::{FailureClass, Outcome, DELETED_AT};
use serde_json::{Map, Value};

use crate::account::Account;
use crate::base::encode::{encode_record_with, scalar_text, Empty};
use crate::base::error::Error;
use crate::base::settings::WriteMode;
use crate::client::limiter::Wait;
use crate::credential::internal_detail;
use crate::sink::compare::{record_unchanged, same, sent_fields, FieldKinds};
use crate::sink::economy::{self, Strategy, StreamShared};
use crate::sink::index::{Hit, ModelIndex};
use crate::sink::precheck::is_blank;

use super::halt::Halt;
use super::plan::StreamPlan;

/// How many times a create is sent when each attempt ends ambiguously and a lookup by the
/// match field shows it was not applied.
pub(super) const MAX_CREATE_ATTEMPTS: usize = 5;

/// Flowlu's "not found" error code.
pub(super) const NOT_FOUND: i64 = 20;

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

/// What a lookup by match field found: the record's id and its values.
pub(super) enum Found {
    None,
    One(u64, Map<String, Value>),
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

/// What a look at the newest records found after an ambiguous create.
pub(super) enum Resolution {
    /// A record newer than every id known before the create holds the values sent.
    Created(u64),
    /// Every record that could be the create's was seen, and none is.
    Absent,
    /// The portal cannot tell (why).
    Unknown(String),
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

/// Pages of newest records read to settle one ambiguous create.
pub(super) const RESOLVE_PAGES: u32 = 3;

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

    /// Whether a record may be found `unchanged`: not when its stream's rule clears empty
    /// fields and it has one to clear (the comparison and the index hold only the fields sent
    /// as values, so a field to clear is always sent).
    pub(super) fn may_be_unchanged(&self, data: &Map<String, Value>) -> bool {
        let clears = self
            .account
            .settings
            .write_rule(&self.stream.stream)
            .is_some_and(|r| r.clear_empty_fields);
        !clears || !data.iter().any(|(name, value)| name != "id" && is_blank(value))
    }

    /// The stream's index, read by the first record that needs it; `None` when it cannot be
    /// read (the record is then looked up).
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

    pub(super) async fn apply(&self, data: &Map<String, Value>) -> Outcome {
        let id = match record_id(data) {
            Ok(id) => id,
            Err(outcome) => return outcome,
        };
        let mode = self.stream.mode;
        if is_tombstone(data) {
            return self.apply_tombstone(mode, id).await;
        }
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
                if let Some(found) = self.created_earlier(data).await {
                    return found;
                }
                let check = field.as_deref().and_then(|f| match_value(data, f).map(|v| (f, v)));
                self.create(data, check).await
            }
            (WriteMode::Upsert, _, Some(field)) => self.upsert_by_match(data, field).await,
            (WriteMode::Upsert, Some(id), None) => match self.index().await {
                Some(index) => self.update_indexed(index, id, data, true).await,
                None => self.upsert_by_id(id, data).await,
            },
            (WriteMode::Upsert, None, None) => match self.created_earlier(data).await {
                Some(found) => found,
                None => self.create(data, None).await,
            },
        }
    }

    /// A deleted record (`_ab_cdc_deleted_at` set): deletes the record with its id where the
    /// stream's rule allows deletes (the `delete` mode, or `apply_deletes`), else refused.
    async fn apply_tombstone(&self, mode: WriteMode, id: Option<u64>) -> Outcome {
        let allowed = mode == WriteMode::Delete
            || self
                .account
                .settings
                .write_rule(&self.stream.stream)
                .is_some_and(|r| r.apply_deletes);
        match (allowed, id) {
            (true, Some(id)) => self.delete(id).await,
            (true, None) => refused(
                FailureClass::Config,
                format!("a deleted record (`{DELETED_AT}` set) has no `id`: a delete needs the id of the Flowlu record"),
            ),
            (false, _) => refused(
                FailureClass::Config,
                format!(
                    "a deleted record (`{DELETED_AT}` set) arrived, but this stream is written with {} and its write rule does not allow deletes: nothing was changed in Flowlu. To delete such records in Flowlu, give the stream a write rule with \"apply_deletes\": true (or the mode delete); otherwise leave deleted records out of what is written",
                    mode_name(mode)
                ),
            ),
        }
    }

    /// Upsert by id: an update. An id Flowlu does not hold fails the record ([`no_such_id`]):
    /// a create cannot take that id, and creating a new record on every run would multiply it.
    pub(super) async fn upsert_by_id(&self, id: u64, data: &Map<String, Value>) -> Outcome {
        match self.update(id, data).await {
            Err(Outcome::Failed {
                code: Some(NOT_FOUND),
                ..
            }) => no_such_id(id),
            other => other.unwrap_or_else(|o| o),
        }
    }

    /// Update (or upsert, `upsert`) by id through the index: an unchanged record is not sent;
    /// an upsert of an id the model did not hold when read fails at once ([`no_such_id`]).
    pub(super) async fn update_indexed(
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
            let mut index = index.lock().await;
            let mut hit = index.find(&key, &body);
            if matches!(hit, Hit::One { unchanged: true, .. })
                && !index.unchanged_trusted(self.shared.clock.now(), self.index_max_age)
            {
                // `unchanged` only from what the portal held within the staleness bound; where
                // edits or deletions cannot be ruled out, the update is sent (as costly as a
                // lookup by id; a deleted id fails as such).
                hit = match self.refresh(&mut index).await {
                    Refresh::Done => index.find(&key, &body),
                    Refresh::LookUp | Refresh::Send => Hit::Stale,
                };
            }
            (hit, index.newest_id())
        };
        match hit {
            Hit::One { unchanged: true, .. } if self.may_be_unchanged(data) => {
                return Outcome::Unchanged { id: key }
            }
            Hit::Absent if upsert && id <= read_through => return no_such_id(id),
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
                no_such_id(id)
            }
            Err(outcome) => outcome,
        }
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
            Err(e) if api_code(&e) == Some(NOT_FOUND) => Outcome::Skipped {
                reason: format!("record {id} does not exist (already deleted)"),
            },
            Err(e) => self.fail(&e),
        }
    }

    /// Updates record `id`; `Err` holds the failed outcome (checked by upsert for not-found).
    pub(super) async fn update(&self, id: u64, data: &Map<String, Value>) -> Result<Outcome, Outcome> {
        let body = self.body(data, false)?;
        let (module, model) = (self.stream.module, self.stream.model);
        self.account
            .limiter
            .run_until(
                &self.stop(),
                || self.account.client.update(module, model, id, &body),
                Error::is_retryable,
                &|w| self.waited(w),
            )
            .await
            .map(|_| Outcome::Updated { id: id.to_string() })
            .map_err(|e| self.fail(&e))
    }

    pub(super) async fn upsert_by_match(&self, data: &Map<String, Value>, field: &str) -> Outcome {
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
        if let Hit::One { unchanged: true, .. } = hit {
            // `unchanged` only from what the portal held within the staleness bound.
            let mut guard = index.lock().await;
            // Found again under this lock: another record may have read the model again since.
            hit = guard.find(&value, &body);
            if let Hit::One { id, unchanged: true } = hit {
                if self.may_be_unchanged(data)
                    && !guard.unchanged_trusted(self.shared.clock.now(), self.index_max_age)
                {
                    match self.refresh(&mut guard).await {
                        Refresh::Done => hit = guard.find(&value, &body),
                        Refresh::LookUp => {
                            drop(guard);
                            match self.try_lookup(field, &value).await {
                                Lookup::Found(found) => {
                                    index.lock().await.lookup_answered();
                                    return self.settle(found, data, field, &value, Some(index)).await;
                                }
                                Lookup::Failed(outcome) => return outcome,
                                // Lookups are refused too: the record is sent.
                                Lookup::Unfiltered(_) => {
                                    index.lock().await.give_up_lookups();
                                    hit = Hit::One { id, unchanged: false };
                                }
                            }
                        }
                        // Neither a read nor a lookup can verify it: sent, never `unchanged`
                        // unverified.
                        Refresh::Send => hit = Hit::One { id, unchanged: false },
                    }
                }
            }
        }
        if hit == Hit::Absent {
            // Before a create: read what others created and edited since, unless a read began
            // after this record was taken from the input; where edits cannot be read, look
            // the record up instead.
            let mut guard = index.lock().await;
            let looks_up = |g: &ModelIndex| g.edits_unseen().is_some() && g.lookups_work();
            let now = self.shared.clock.now();
            if !looks_up(&guard) && !guard.fresh_for(self.sequence, now, self.index_max_age) {
                // A create rests on the read only when it began within the bound of the
                // decision (the rule of `refresh`); else, or while refreshes back off, the
                // record is looked up (where lookups are refused, creates follow the index).
                let can_look_up = guard.lookups_work();
                if can_look_up && !guard.refresh_allowed() {
                    drop(guard);
                    return self.upsert_by_lookup(data, field, &value, Some(index)).await;
                }
                let read = economy::read_into(self.account, self.stream, &mut guard, self.shared).await;
                if let Err(why) = read {
                    tracing::debug!(%why, "the index could not be brought up to date; looking the record up");
                    drop(guard);
                    return self.upsert_by_lookup(data, field, &value, Some(index)).await;
                }
                if can_look_up {
                    if !guard.fresh_for(self.sequence, self.shared.clock.now(), self.index_max_age) {
                        tracing::debug!(stream = %self.stream.stream, "the read took longer than the staleness bound; the record is looked up");
                        guard.overran();
                        drop(guard);
                        return self.upsert_by_lookup(data, field, &value, Some(index)).await;
                    }
                    guard.refresh_fit();
                }
            }
            if looks_up(&guard) {
                let lookup = if guard.lookups_answered() {
                    drop(guard);
                    let lookup = self.try_lookup(field, &value).await;
                    guard = index.lock().await;
                    lookup
                } else {
                    // Until a lookup has answered, one at a time (the index held): a portal that
                    // refuses them is asked once.
                    self.try_lookup(field, &value).await
                };
                match lookup {
                    Lookup::Found(found) => {
                        guard.lookup_answered();
                        drop(guard);
                        return self.settle(found, data, field, &value, Some(index)).await;
                    }
                    Lookup::Failed(outcome) => return outcome,
                    Lookup::Unfiltered(_) => {
                        let why = guard.edits_unseen().unwrap_or_default().to_string();
                        tracing::warn!(stream = %self.stream.stream, %field, %why, "Flowlu refused or ignored the filter on the match field as well: creates follow the index, and a record someone else gave a match value since the index was read may be duplicated");
                        guard.give_up_lookups();
                    }
                }
                if !guard.fresh_for(self.sequence, self.shared.clock.now(), self.index_max_age) {
                    if let Err(why) =
                        economy::read_into(self.account, self.stream, &mut guard, self.shared).await
                    {
                        return refused(
                            FailureClass::System,
                            format!("not created: what others created since the index was read could not be read ({why}), and Flowlu refuses lookups by `{field}`; write the record again"),
                        );
                    }
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

    /// Upsert by match field with a lookup: an unchanged record is not sent.
    pub(super) async fn upsert_by_lookup(
        &self,
        data: &Map<String, Value>,
        field: &str,
        value: &str,
        index: Option<&IndexLock>,
    ) -> Outcome {
        match self.lookup(field, value).await {
            Ok(found) => self.settle(found, data, field, value, index).await,
            Err(outcome) => outcome,
        }
    }

    /// Updates (or reports unchanged) the record a lookup found, or creates it when none was.
    async fn settle(
        &self,
        found: Found,
        data: &Map<String, Value>,
        field: &str,
        value: &str,
        index: Option<&IndexLock>,
    ) -> Outcome {
        match found {
            Found::One(id, current) => {
                let body = self.checked(data);
                if self.may_be_unchanged(data)
                    && body
                        .as_ref()
                        .is_some_and(|b| record_unchanged(b, &current, &self.stream.kinds))
                {
                    return Outcome::Unchanged { id: id.to_string() };
                }
                let outcome = self.update(id, data).await.unwrap_or_else(|o| o);
                if let (Some(index), Some(body), Outcome::Updated { .. }) = (index, &body, &outcome) {
                    index.lock().await.wrote(value, id, body, false);
                }
                outcome
            }
            Found::None => {
                self.create_noting(data, Some((field, value.to_string())), index.map(|i| (i, value)))
                    .await
            }
        }
    }

    /// Creates the record and notes the result in the index under `key`: created, or unknown
    /// (the next record of the key is looked up).
    pub(super) async fn create_noting(
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
    pub(super) async fn create(&self, data: &Map<String, Value>, check: Option<(&str, String)>) -> Outcome {
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
                .account
                .limiter
                .run_until(
                    &self.stop(),
                    || self.account.client.create(module, model, &body),
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
                    Some((field, value)) => format!(
                        "no record with {field} = {} exists yet",
                        crate::base::cursor::shorten(value)
                    ),
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
    pub(super) fn created(&self, response: &Value) -> Outcome {
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
    pub(super) async fn resolve(&self, data: &Map<String, Value>, floor: u64) -> Resolution {
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
        let limit = self.account.settings.page_size();
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
            let answer = match economy::list_until(self.account, self.stream, &params, &self.stop()).await {
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
                if matches_sent(&sent, item, &self.stream.kinds) {
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

/// Creates an earlier run made (see `sink::resume`).
impl Writer<'_> {
    /// Before a create: the record an earlier run created with the same values, among the
    /// model's newest (see the [module documentation](self)): `created` with its id. `None`:
    /// create it.
    pub(super) async fn created_earlier(&self, data: &Map<String, Value>) -> Option<Outcome> {
        if !self.find_earlier {
            return None;
        }
        // A record that cannot be sent fails without a request; one that clears a field is
        // never found (the comparison holds only the values sent).
        let body = self.checked(data)?;
        if self.body(data, true).is_err() || !self.may_be_unchanged(data) {
            return None;
        }
        // Nor is one sending a list or an object (or nothing): no read for it.
        if sent_fields(&body).is_none_or(|sent| sent.is_empty()) {
            return None;
        }
        let earlier = match self.shared.earlier.get_or_try_init(|| self.read_earlier()).await {
            Ok(Some(earlier)) => earlier,
            Ok(None) => return None,
            Err(outcome) => return Some(outcome),
        };
        let mut earlier = earlier.lock().await;
        let id = earlier.claim(&body, &self.stream.kinds)?;
        tracing::info!(
            stream = %self.stream.stream,
            id,
            sequence = self.sequence,
            window = earlier.len(),
            "found, created by an earlier run: record {id} holds every value sent, among the model's newest; not created again"
        );
        Some(Outcome::Created { id: id.to_string() })
    }

    /// The model's newest records (one list call); `Ok(None)` when the read fails for another
    /// reason than one that stops the write (a signal, a rejected key, a module the key lacks:
    /// then `Err`, the record's outcome).
    async fn read_earlier(
        &self,
    ) -> Result<Option<tokio::sync::Mutex<crate::sink::resume::Earlier>>, Outcome> {
        let limit = self.account.settings.page_size();
        let params = [
            ("order_by[desc][]".to_string(), "id".to_string()),
            ("page".to_string(), "1".to_string()),
            ("limit".to_string(), limit.to_string()),
        ];
        match economy::list_until(self.account, self.stream, &params, &self.stop()).await {
            Ok(page) => {
                let earlier = crate::sink::resume::Earlier::new(&page.items);
                if let Some(id) = earlier.newest() {
                    self.shared.saw(id);
                }
                tracing::debug!(stream = %self.stream.stream, records = earlier.len(), "newest records read before the first create");
                Ok(Some(tokio::sync::Mutex::new(earlier)))
            }
            // A signal: the record is not sent (nothing else of the write is); a refusal no
            // record can get past fails it (and stops the write or the stream).
            // Other failures are not read again later: by then the write's own creates would
            // be among the newest, and an identical record of the input would be taken for one
            // of them.
            Err(e) => {
                let outcome = self.fail(&e);
                if matches!(e, Error::Stopped) || self.halt.reason(&self.stream.stream).is_some() {
                    return Err(outcome);
                }
                tracing::warn!(stream = %self.stream.stream, error = %internal_detail(&e), "the newest records could not be read before the first create: a record an earlier run created after its last STATE is created again");
                Ok(None)
            }
        }
    }
}

/// The failure of an upsert by an id Flowlu does not hold: a record-level failure (the
/// record's own content), never a create.
pub(super) fn no_such_id(id: u64) -> Outcome {
    Outcome::Failed {
        class: FailureClass::Config,
        code: Some(NOT_FOUND),
        message: format!(
            "no Flowlu record {id}: deleted there, or an id from another system; to create records, use create mode or a match field"
        ),
        fields: BTreeMap::new(),
    }
}

pub(super) fn several(field: &str, value: &str) -> Outcome {
    refused(
        FailureClass::Config,
        format!(
            "several Flowlu records have {field} = {}; upsert needs a unique match",
            crate::base::cursor::shorten(value)
        ),
    )
}

/// Whether a portal record holds every sent value it has (at least one).
pub(super) fn matches_sent(sent: &[(&str, &Value)], item: &Value, kinds: &FieldKinds) -> bool {
    let Some(record) = item.as_object() else {
        return false;
    };
    let mut compared = 0;
    for (name, value) in sent {
        if let Some(current) = record.get(*name) {
            if !same(kinds.get(name), value, current) {
                return false;
            }
            compared += 1;
        }
    }
    compared > 0
}

pub(super) fn mode_name(mode: WriteMode) -> &'static str {
    match mode {
        WriteMode::Create => "create",
        WriteMode::Update => "update",
        WriteMode::Upsert => "upsert",
        WriteMode::Delete => "delete",
    }
}

/// The record's id: absent, null or empty is `None`; a positive integer (number or digits).
pub(super) fn record_id(data: &Map<String, Value>) -> Result<Option<u64>, Outcome> {
    match data.get("id") {
        None => Ok(None),
        Some(v) if is_blank(v) => Ok(None),
        Some(v) => as_id(v).map(Some).ok_or_else(|| {
            refused(
                FailureClass::Config,
                format!(
                    "`id` must be a positive integer, got {}",
                    crate::base::cursor::shown_value(v)
                ),
            )
        }),
    }
}

/// A positive integer id, sent as a number or as digits.
pub(super) fn as_id(value: &Value) -> Option<u64> {
    let id = match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    (id > 0).then_some(id)
}

/// The non-empty scalar value of `field`, as sent.
pub(super) fn match_value(data: &Map<String, Value>, field: &str) -> Option<String> {
    data.get(field)
        .filter(|v| !is_blank(v))
        .and_then(scalar_text)
        .map(|v| v.trim().to_string())
}

pub(super) fn created(response: &Value) -> Outcome {
    match response.get("id").and_then(as_id) {
        Some(id) => Outcome::Created { id: id.to_string() },
        None => Outcome::Unknown {
            message: "Flowlu accepted the create but its answer carries no id; check the stream in Flowlu"
                .into(),
        },
    }
}

pub(super) fn api_code(err: &Error) -> Option<i64> {
    err.api().and_then(|api| api.code)
}

/// Whether a record is a tombstone: `_ab_cdc_deleted_at` set (not null, not blank).
fn is_tombstone(data: &Map<String, Value>) -> bool {
    data.get(DELETED_AT).is_some_and(|v| !is_blank(v))
}

pub(super) fn refused(class: FailureClass, message: String) -> Outcome {
    Outcome::Failed {
        class,
        code: None,
        message,
        fields: BTreeMap::new(),
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// An id that is not one is refused naming it as sent: 2^64 as its digits, a long text cut.
    #[test]
    fn a_bad_id_is_named_as_an_integer_or_shortened() {
        let message = |data: Value| match record_id(data.as_object().unwrap()) {
            Err(Outcome::Failed { message, .. }) => message,
            other => panic!("{other:?}"),
        };
        let huge: Value = serde_json::from_str(r#"{"id": 18446744073709551616}"#).unwrap();
        assert_eq!(
            message(huge),
            "`id` must be a positive integer, got 18446744073709551616"
        );
        assert_eq!(
            message(serde_json::json!({"id": "x".repeat(10_000)})),
            format!(
                "`id` must be a positive integer, got \"{}... (9942 more characters)",
                "x".repeat(59)
            )
        );
        assert_eq!(
            record_id(serde_json::json!({"id": "12"}).as_object().unwrap()).ok(),
            Some(Some(12))
        );
    }
}
