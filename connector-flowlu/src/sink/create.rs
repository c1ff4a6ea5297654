//! Creates: one create sent safely (retried only when it surely did not reach Flowlu),
//! an ambiguous answer settled by a lookup by match field or among the newest records, and
//! the creates an earlier run made found before creating again (`sink::resume`).

use connector_core::Outcome;
use serde_json::{Map, Value};

use crate::base::error::Error;
use crate::credential::internal_detail;
use crate::sink::compare::{same, sent_fields, FieldKinds};
use crate::sink::economy;
use crate::sink::resume::Earlier;

use super::decide::{as_id, Found};
use super::writer::{outcome_message, IndexLock, Writer};

/// How many times a create is sent when each attempt ends ambiguously and a lookup by the
/// match field shows it was not applied.
pub(super) const MAX_CREATE_ATTEMPTS: usize = 5;

/// What a look at the newest records found after an ambiguous create.
pub(super) enum Resolution {
    /// A record newer than every id known before the create holds the values sent.
    Created(u64),
    /// Every record that could be the create's was seen, and none is.
    Absent,
    /// The portal cannot tell (why).
    Unknown(String),
}

/// Pages of newest records read to settle one ambiguous create.
pub(super) const RESOLVE_PAGES: u32 = 3;

impl Writer<'_> {
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
    async fn read_earlier(&self) -> Result<Option<tokio::sync::Mutex<Earlier>>, Outcome> {
        let limit = self.account.settings.page_size();
        let params = [
            ("order_by[desc][]".to_string(), "id".to_string()),
            ("page".to_string(), "1".to_string()),
            ("limit".to_string(), limit.to_string()),
        ];
        match economy::list_until(self.account, self.stream, &params, &self.stop()).await {
            Ok(page) => {
                let earlier = Earlier::new(&page.items);
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

pub(super) fn created(response: &Value) -> Outcome {
    match response.get("id").and_then(as_id) {
        Some(id) => Outcome::Created { id: id.to_string() },
        None => Outcome::Unknown {
            message: "Flowlu accepted the create but its answer carries no id; check the stream in Flowlu"
                .into(),
        },
    }
}
