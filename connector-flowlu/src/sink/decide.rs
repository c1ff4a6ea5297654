//! What one record's write does, decided without I/O: first from the record alone and the
//! stream's rules ([`route`]: delete, update or upsert by id, create, upsert by match field, or
//! a failure before any request), then, once the index or a lookup has said what the portal
//! holds, what is sent ([`by_id`], [`by_match`]: nothing (`unchanged`), an update, a create, a
//! lookup, or a failure). `sink::writer` reads the portal and sends what is decided here.

use std::collections::BTreeMap;

use connector_core::{FailureClass, Outcome, DELETED_AT};
use serde_json::{Map, Value};

use crate::base::encode::scalar_text;
use crate::base::settings::WriteMode;
use crate::sink::compare::{record_unchanged, FieldKinds};
use crate::sink::index::Hit;
use crate::sink::precheck::is_blank;

pub(super) use crate::base::error::NOT_FOUND;

/// What the stream's plan and write rule say about how its records are written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rules<'a> {
    pub(super) mode: WriteMode,
    /// The field an upsert matches on (and a create is looked up by after an ambiguous
    /// answer); `None`: by id.
    pub(super) match_field: Option<&'a str>,
    /// A deleted record (`_ab_cdc_deleted_at` set) deletes the Flowlu record in any mode.
    pub(super) apply_deletes: bool,
    /// Blank fields are sent empty (cleared in Flowlu) rather than left out.
    pub(super) clear_empty_fields: bool,
}

/// What a record asks for, from its content and the stream's [`Rules`], before any request.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Route<'a> {
    /// The record fails without a request.
    Fail(Outcome),
    /// Delete record `id`.
    Delete(u64),
    /// Update record `id`; `upsert`: an upsert by id (an id Flowlu does not hold fails the
    /// record, [`no_such_id`]).
    ById { id: u64, upsert: bool },
    /// Create the record (unless an earlier run created it, `sink::resume`); `check`: the
    /// match field and value an ambiguous create is looked up by.
    Create { check: Option<(&'a str, String)> },
    /// Upsert by the match field `field`, whose value the record holds.
    ByMatch { field: &'a str, value: String },
}

/// What a lookup by match field found: the record's id and its values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Found {
    None,
    One(u64, Map<String, Value>),
}

/// What the portal holds for a match value, as far as the index or a lookup verified it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Seen {
    /// The index's answer, resting on a read within the staleness bound (or an `unchanged`
    /// that could not be verified, turned into a plain hit).
    Index(Hit),
    /// A lookup's answer, just now.
    Lookup(Found),
    /// The index could not be brought up to date: only a lookup can tell.
    Unverified,
}

/// What is sent for a record once the portal's side is known.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Action {
    /// Nothing: record `id` already holds every value sent.
    Unchanged(u64),
    /// Update record `id`; `if_gone`: what an answer "not found" means.
    Update { id: u64, if_gone: Gone },
    /// Create the record.
    Create,
    /// Look the record up by its match value, then decide again ([`by_match`]).
    LookUp,
    /// The record fails without a request.
    Fail(Outcome),
}

/// What an update answered "not found" (Flowlu's error 20) means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gone {
    /// The failure is the record's outcome (an update by the record's own id, or of the
    /// record a lookup found just now).
    Fails,
    /// Upsert by id: an id Flowlu does not hold fails the record ([`no_such_id`]); the index
    /// forgets it.
    NoSuchId,
    /// The index's record was deleted since it was read: the index forgets it, and the record
    /// is looked up again (then created).
    LookUp,
}

/// The route of `data` under `rules`. A bad `id` fails first; a deleted record deletes where
/// the rules allow it; then the mode decides.
pub(super) fn route<'a>(data: &Map<String, Value>, rules: &Rules<'a>) -> Route<'a> {
    let id = match record_id(data) {
        Ok(id) => id,
        Err(outcome) => return Route::Fail(outcome),
    };
    let mode = rules.mode;
    if is_tombstone(data) {
        return tombstone(mode, id, rules.apply_deletes);
    }
    match (mode, id, rules.match_field) {
        (WriteMode::Delete, Some(id), _) => Route::Delete(id),
        (WriteMode::Update, Some(id), _) => Route::ById { id, upsert: false },
        (WriteMode::Delete | WriteMode::Update, None, _) => Route::Fail(refused(
            FailureClass::Config,
            format!("the record has no `id`; {} needs the id of the Flowlu record", mode_name(mode)),
        )),
        (WriteMode::Create, Some(_), _) => Route::Fail(refused(
            FailureClass::Config,
            "the record has an `id`, but this stream creates records (a create cannot choose the id); remove the id, or write the stream with upsert or update".into(),
        )),
        (WriteMode::Create, None, field) => Route::Create {
            check: field.and_then(|f| match_value(data, f).map(|v| (f, v))),
        },
        (WriteMode::Upsert, _, Some(field)) => match match_value(data, field) {
            Some(value) => Route::ByMatch { field, value },
            None => Route::Fail(refused(
                FailureClass::Config,
                format!("the record has no value in `{field}`, the field upsert matches on"),
            )),
        },
        (WriteMode::Upsert, Some(id), None) => Route::ById { id, upsert: true },
        (WriteMode::Upsert, None, None) => Route::Create { check: None },
    }
}

/// A deleted record (`_ab_cdc_deleted_at` set): deletes the record with its id where the
/// stream's rule allows deletes (the `delete` mode, or `apply_deletes`), else refused.
fn tombstone<'a>(mode: WriteMode, id: Option<u64>, apply_deletes: bool) -> Route<'a> {
    let allowed = mode == WriteMode::Delete || apply_deletes;
    match (allowed, id) {
        (true, Some(id)) => Route::Delete(id),
        (true, None) => Route::Fail(refused(
            FailureClass::Config,
            format!("a deleted record (`{DELETED_AT}` set) has no `id`: a delete needs the id of the Flowlu record"),
        )),
        (false, _) => Route::Fail(refused(
            FailureClass::Config,
            format!(
                "a deleted record (`{DELETED_AT}` set) arrived, but this stream is written with {} and its write rule does not allow deletes: nothing was changed in Flowlu. To delete such records in Flowlu, give the stream a write rule with \"apply_deletes\": true (or the mode delete); otherwise leave deleted records out of what is written",
                mode_name(mode)
            ),
        )),
    }
}

/// An update or upsert by `id`: `index`, what the index holds for the id and the newest id it
/// read (`None`: no index, the update is sent). An unchanged record is not sent; an upsert of
/// an id the model did not hold when read fails at once ([`no_such_id`]).
pub(super) fn by_id(id: u64, upsert: bool, index: Option<(Hit, u64)>, may_be_unchanged: bool) -> Action {
    let if_gone = if upsert { Gone::NoSuchId } else { Gone::Fails };
    match index {
        Some((Hit::One { unchanged: true, .. }, _)) if may_be_unchanged => Action::Unchanged(id),
        Some((Hit::Absent, read_through)) if upsert && id <= read_through => Action::Fail(no_such_id(id)),
        _ => Action::Update { id, if_gone },
    }
}

/// An upsert by match field `field` = `value`, once `seen`: one record holding every value
/// `sent` (compared by each field's declared type, `kinds`) is `unchanged`; one record is
/// updated; none is created; several fail the record; an index that cannot tell looks it up.
pub(super) fn by_match(
    seen: &Seen,
    sent: Option<&Map<String, Value>>,
    kinds: &FieldKinds,
    may_be_unchanged: bool,
    (field, value): (&str, &str),
) -> Action {
    match seen {
        Seen::Index(Hit::One { id, unchanged: true }) if may_be_unchanged => Action::Unchanged(*id),
        Seen::Index(Hit::One { id, .. }) => Action::Update {
            id: *id,
            if_gone: Gone::LookUp,
        },
        Seen::Index(Hit::Several) => Action::Fail(several(field, value)),
        Seen::Index(Hit::Stale) | Seen::Unverified => Action::LookUp,
        Seen::Index(Hit::Absent) | Seen::Lookup(Found::None) => Action::Create,
        Seen::Lookup(Found::One(id, current))
            if may_be_unchanged && sent.is_some_and(|sent| record_unchanged(sent, current, kinds)) =>
        {
            Action::Unchanged(*id)
        }
        Seen::Lookup(Found::One(id, _)) => Action::Update {
            id: *id,
            if_gone: Gone::Fails,
        },
    }
}

/// Whether a record may be found `unchanged`: not when its stream's rule clears empty fields
/// and it has one to clear (the comparison and the index hold only the fields sent as values,
/// so a field to clear is always sent).
pub(super) fn may_be_unchanged(data: &Map<String, Value>, clear_empty_fields: bool) -> bool {
    !clear_empty_fields || !data.iter().any(|(name, value)| name != "id" && is_blank(value))
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

/// The failure of an upsert whose match value several Flowlu records hold.
pub(super) fn several(field: &str, value: &str) -> Outcome {
    refused(
        FailureClass::Config,
        format!(
            "several Flowlu records have {field} = {}; upsert needs a unique match",
            crate::base::cursor::shorten(value)
        ),
    )
}

/// Whether `outcome` is an answer "not found" (Flowlu's error 20).
pub(super) fn is_not_found(outcome: &Outcome) -> bool {
    matches!(
        outcome,
        Outcome::Failed {
            code: Some(NOT_FOUND),
            ..
        }
    )
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

/// Whether a record is a tombstone: `_ab_cdc_deleted_at` set (not null, not blank).
fn is_tombstone(data: &Map<String, Value>) -> bool {
    data.get(DELETED_AT).is_some_and(|v| !is_blank(v))
}

/// A failure without a Flowlu code or fields.
pub(super) fn refused(class: FailureClass, message: String) -> Outcome {
    Outcome::Failed {
        class,
        code: None,
        message,
        fields: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::sink::compare::ValueKind;

    /// What the portal was found to hold for a row's record, where its route reads it.
    enum Portal {
        /// Nothing read: the route decides alone.
        Unread,
        /// By id, without an index.
        NoIndex,
        /// By id, through an index: its hit and the newest id it read.
        IdIndex(Hit, u64),
        /// By match field.
        Seen(Seen),
    }

    /// What the decision came to: a route that needs no read, or what is sent.
    #[derive(Debug, PartialEq)]
    enum Decided {
        Routed(Route<'static>),
        Acted(Action),
    }

    fn rules(mode: WriteMode, match_field: Option<&'static str>) -> Rules<'static> {
        Rules {
            mode,
            match_field,
            apply_deletes: false,
            clear_empty_fields: false,
        }
    }

    fn decided(rules: Rules<'static>, data: &Value, portal: Portal) -> Decided {
        let data = data.as_object().unwrap();
        let kinds = FieldKinds::new(HashMap::from([
            ("amount".to_string(), ValueKind::Number),
            ("code".to_string(), ValueKind::Text),
        ]));
        let may = may_be_unchanged(data, rules.clear_empty_fields);
        match (route(data, &rules), portal) {
            (Route::ById { id, upsert }, Portal::NoIndex) => Decided::Acted(by_id(id, upsert, None, may)),
            (Route::ById { id, upsert }, Portal::IdIndex(hit, read_through)) => {
                Decided::Acted(by_id(id, upsert, Some((hit, read_through)), may))
            }
            (Route::ByMatch { field, value }, Portal::Seen(seen)) => {
                Decided::Acted(by_match(&seen, Some(data), &kinds, may, (field, &value)))
            }
            (route, Portal::Unread) => Decided::Routed(route),
            (route, _) => panic!("the route {route:?} reads nothing of the portal"),
        }
    }

    fn fail(message: &str) -> Decided {
        Decided::Routed(Route::Fail(refused(FailureClass::Config, message.into())))
    }

    /// Every branch of a record's decision, from the record, the stream's rules and what the
    /// index or a lookup found: the exact route, action, outcome and message.
    #[test]
    fn one_decision_per_record_and_portal() {
        use Decided::{Acted, Routed};
        use WriteMode::{Create, Delete, Update, Upsert};
        let update = rules(Update, None);
        let upsert_id = rules(Upsert, None);
        let upsert_email = rules(Upsert, Some("email"));
        let clearing = |rules: Rules<'static>| Rules {
            clear_empty_fields: true,
            ..rules
        };
        let applying_deletes = Rules {
            apply_deletes: true,
            ..update
        };
        let one = |unchanged| Hit::One { id: 7, unchanged };
        let portal_record = json!({"id": 7, "email": "a@x.io", "amount": "10.00", "code": "10.00"});
        let found = || Seen::Lookup(Found::One(7, portal_record.as_object().unwrap().clone()));
        let deleted = json!({"id": 5, "_ab_cdc_deleted_at": "2026-01-02T03:04:05Z"});
        #[rustfmt::skip]
        let table: Vec<(Rules<'static>, Value, Portal, Decided)> = vec![
            // The record alone decides.
            (update, json!({"id": "x1"}), Portal::Unread, fail("`id` must be a positive integer, got \"x1\"")),
            (update, json!({"id": 0}), Portal::Unread, fail("`id` must be a positive integer, got 0")),
            (update, json!({"name": "A"}), Portal::Unread, fail("the record has no `id`; update needs the id of the Flowlu record")),
            (rules(Delete, None), json!({"id": ""}), Portal::Unread, fail("the record has no `id`; delete needs the id of the Flowlu record")),
            (rules(Delete, None), json!({"id": "5"}), Portal::Unread, Routed(Route::Delete(5))),
            (rules(Create, None), json!({"id": 5, "name": "A"}), Portal::Unread, fail("the record has an `id`, but this stream creates records (a create cannot choose the id); remove the id, or write the stream with upsert or update")),
            (rules(Create, None), json!({"name": "A"}), Portal::Unread, Routed(Route::Create { check: None })),
            (rules(Create, Some("email")), json!({"email": " a@x.io "}), Portal::Unread, Routed(Route::Create { check: Some(("email", "a@x.io".into())) })),
            (rules(Create, Some("email")), json!({"email": " "}), Portal::Unread, Routed(Route::Create { check: None })),
            (upsert_id, json!({"name": "A"}), Portal::Unread, Routed(Route::Create { check: None })),
            (upsert_email, json!({"id": 5, "name": "A"}), Portal::Unread, fail("the record has no value in `email`, the field upsert matches on")),
            // Deleted records.
            (rules(Delete, None), deleted.clone(), Portal::Unread, Routed(Route::Delete(5))),
            (applying_deletes, deleted.clone(), Portal::Unread, Routed(Route::Delete(5))),
            (rules(Delete, None), json!({"_ab_cdc_deleted_at": "2026-01-02T03:04:05Z"}), Portal::Unread, fail("a deleted record (`_ab_cdc_deleted_at` set) has no `id`: a delete needs the id of the Flowlu record")),
            (upsert_id, deleted, Portal::Unread, fail("a deleted record (`_ab_cdc_deleted_at` set) arrived, but this stream is written with upsert and its write rule does not allow deletes: nothing was changed in Flowlu. To delete such records in Flowlu, give the stream a write rule with \"apply_deletes\": true (or the mode delete); otherwise leave deleted records out of what is written")),
            (update, json!({"id": 5, "_ab_cdc_deleted_at": null}), Portal::NoIndex, Acted(Action::Update { id: 5, if_gone: Gone::Fails })),
            // By id.
            (update, json!({"id": 5, "name": "A"}), Portal::NoIndex, Acted(Action::Update { id: 5, if_gone: Gone::Fails })),
            (upsert_id, json!({"id": "5", "name": "A"}), Portal::NoIndex, Acted(Action::Update { id: 5, if_gone: Gone::NoSuchId })),
            (upsert_id, json!({"id": 5, "name": "A"}), Portal::IdIndex(Hit::One { id: 5, unchanged: true }, 9), Acted(Action::Unchanged(5))),
            (clearing(upsert_id), json!({"id": 5, "phone": ""}), Portal::IdIndex(Hit::One { id: 5, unchanged: true }, 9), Acted(Action::Update { id: 5, if_gone: Gone::NoSuchId })),
            (upsert_id, json!({"id": 5, "name": "A"}), Portal::IdIndex(Hit::One { id: 5, unchanged: false }, 9), Acted(Action::Update { id: 5, if_gone: Gone::NoSuchId })),
            (upsert_id, json!({"id": 5, "name": "A"}), Portal::IdIndex(Hit::Absent, 9), Acted(Action::Fail(Outcome::Failed {
                class: FailureClass::Config,
                code: Some(NOT_FOUND),
                message: "no Flowlu record 5: deleted there, or an id from another system; to create records, use create mode or a match field".into(),
                fields: BTreeMap::new(),
            }))),
            // The newest id the index read is one it read.
            (upsert_id, json!({"id": 9, "name": "A"}), Portal::IdIndex(Hit::Absent, 9), Acted(Action::Fail(no_such_id(9)))),
            // Newer than every id the index read: created since, the update is sent.
            (upsert_id, json!({"id": 12, "name": "A"}), Portal::IdIndex(Hit::Absent, 9), Acted(Action::Update { id: 12, if_gone: Gone::NoSuchId })),
            (update, json!({"id": 5, "name": "A"}), Portal::IdIndex(Hit::Absent, 9), Acted(Action::Update { id: 5, if_gone: Gone::Fails })),
            (update, json!({"id": 5, "name": "A"}), Portal::IdIndex(Hit::Stale, 9), Acted(Action::Update { id: 5, if_gone: Gone::Fails })),
            // By match field, through a lookup: compared by each field's declared type.
            (upsert_email, json!({"email": "a@x.io", "amount": 10}), Portal::Seen(found()), Acted(Action::Unchanged(7))),
            (upsert_email, json!({"email": "a@x.io", "code": 10}), Portal::Seen(found()), Acted(Action::Update { id: 7, if_gone: Gone::Fails })),
            (upsert_email, json!({"email": "a@x.io", "amount": 11}), Portal::Seen(found()), Acted(Action::Update { id: 7, if_gone: Gone::Fails })),
            (upsert_email, json!({"email": "a@x.io", "name": "A"}), Portal::Seen(found()), Acted(Action::Update { id: 7, if_gone: Gone::Fails })),
            (clearing(upsert_email), json!({"email": "a@x.io", "amount": 10, "phone": null}), Portal::Seen(found()), Acted(Action::Update { id: 7, if_gone: Gone::Fails })),
            (clearing(upsert_email), json!({"id": null, "email": "a@x.io", "amount": 10}), Portal::Seen(found()), Acted(Action::Unchanged(7))),
            (upsert_email, json!({"email": "a@x.io"}), Portal::Seen(Seen::Lookup(Found::None)), Acted(Action::Create)),
            // By match field, through the index.
            (upsert_email, json!({"email": "a@x.io"}), Portal::Seen(Seen::Index(one(true))), Acted(Action::Unchanged(7))),
            (clearing(upsert_email), json!({"email": "a@x.io", "phone": ""}), Portal::Seen(Seen::Index(one(true))), Acted(Action::Update { id: 7, if_gone: Gone::LookUp })),
            (upsert_email, json!({"email": "a@x.io"}), Portal::Seen(Seen::Index(one(false))), Acted(Action::Update { id: 7, if_gone: Gone::LookUp })),
            (upsert_email, json!({"email": "a@x.io"}), Portal::Seen(Seen::Index(Hit::Absent)), Acted(Action::Create)),
            (upsert_email, json!({"email": "a@x.io"}), Portal::Seen(Seen::Index(Hit::Stale)), Acted(Action::LookUp)),
            (upsert_email, json!({"email": "a@x.io"}), Portal::Seen(Seen::Unverified), Acted(Action::LookUp)),
            (upsert_email, json!({"email": " a@x.io"}), Portal::Seen(Seen::Index(Hit::Several)), Acted(Action::Fail(refused(
                FailureClass::Config,
                "several Flowlu records have email = a@x.io; upsert needs a unique match".into(),
            )))),
        ];
        for (row, (rules, data, portal, expected)) in table.into_iter().enumerate() {
            assert_eq!(
                decided(rules, &data, portal),
                expected,
                "row {row}: {rules:?} {data}"
            );
        }
    }

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
            message(json!({"id": "x".repeat(10_000)})),
            format!(
                "`id` must be a positive integer, got \"{}... (9942 more characters)",
                "x".repeat(59)
            )
        );
        assert_eq!(
            record_id(json!({"id": "12"}).as_object().unwrap()).ok(),
            Some(Some(12))
        );
    }

    /// Only Flowlu's "not found" (error 20) is an update's "not found".
    #[test]
    fn not_found_is_error_20() {
        assert!(is_not_found(&no_such_id(3)));
        let failed = |code| Outcome::Failed {
            class: FailureClass::System,
            code,
            message: "x".into(),
            fields: BTreeMap::new(),
        };
        assert!(is_not_found(&failed(Some(20))));
        assert!(!is_not_found(&failed(Some(21))));
        assert!(!is_not_found(&failed(None)));
        assert!(!is_not_found(&Outcome::Updated { id: "20".into() }));
    }
}
