//! Positions in a stream: the `(cursor, id)` key of a record and the per-stream state.
//!
//! * Incremental streams are ordered by `(cursor column, id)`; the id breaks ties, so a record
//!   equal to the saved cursor is compared by id (nothing dropped, nothing repeated forever).
//! * Full-refresh streams are ordered by id; a read in progress checkpoints the last id and a
//!   finished read checkpoints `{}`, so the next full refresh starts over.
//! * Portal-local timestamps (`YYYY-MM-DD HH:mm:ss`, no offset) compare as naive text; no
//!   time zone is invented. Unix seconds compare as numbers. Empty strings mean null, which
//!   sorts first.

use serde_json::{json, Map, Value};

use crate::base::dates::{format_naive, is_zero_date, parse_naive};
use crate::base::streams::{CursorKind, Model};

/// A cursor value, comparable within one stream.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum CursorValue {
    /// A naive portal-local timestamp or date, compared as text.
    Text(String),
    /// Unix seconds.
    Unix(i64),
}

impl CursorValue {
    /// Reads a record's cursor value; `None` for null, empty or unreadable values.
    pub(crate) fn read(value: &Value, kind: CursorKind) -> Option<Self> {
        match kind {
            CursorKind::Timestamp => {
                let text = value.as_str()?.trim();
                (!text.is_empty() && !is_zero_date(text)).then(|| Self::Text(text.to_string()))
            }
            CursorKind::UnixSeconds => match value {
                Value::Number(n) => n.as_i64().map(Self::Unix),
                Value::String(s) => s.trim().parse().ok().map(Self::Unix),
                _ => None,
            },
        }
    }

    /// The value as saved in a state.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.clone()),
            Self::Unix(secs) => Value::from(*secs),
        }
    }

    /// The operand of a server filter `more than` that also matches this value itself (one
    /// second earlier); `None` when the value cannot be read as a time.
    pub(crate) fn just_before(&self) -> Option<Value> {
        match self {
            Self::Unix(secs) => Some(Value::from(secs.checked_sub(1)?)),
            Self::Text(text) => {
                let secs = parse_naive(text)?;
                Some(Value::String(format_naive(secs - 1)))
            }
        }
    }
}

/// Whether a cursor value means "not set": null, `""` or a zero date.
pub(crate) fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty() || is_zero_date(text),
        _ => false,
    }
}

/// The latest cursor values a read accepts as "not in the future": the machine's clock plus
/// [`Horizon::TOLERANCE_SECS`]. Portal timestamps are naive portal-local times, and a portal
/// may be up to 14 hours ahead of UTC (and the machine's clock a little behind): the tolerance
/// keeps such a portal's "now" from looking like the future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Horizon {
    /// The latest accepted Unix seconds (and naive seconds, on the same scale).
    pub latest: i64,
}

impl Horizon {
    /// How far ahead of the machine's clock a cursor may lie.
    pub(crate) const TOLERANCE_SECS: i64 = 2 * 86_400;

    /// The horizon for a clock reading `unix_now`.
    pub(crate) fn at(unix_now: i64) -> Self {
        Self {
            latest: unix_now.saturating_add(Self::TOLERANCE_SECS),
        }
    }

    /// The horizon of the machine's clock now.
    pub(crate) fn now() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        Self::at(now)
    }

    /// Whether `value` is not in the future (a text that is no date cannot be told: admitted).
    pub(crate) fn admits(&self, value: &CursorValue) -> bool {
        match value {
            CursorValue::Unix(secs) => *secs <= self.latest,
            CursorValue::Text(text) => lenient_seconds(text).is_none_or(|secs| secs <= self.latest),
        }
    }
}

/// [`parse_naive`], or of the date alone when only the time part is in another form (a real
/// date is all a position needs to be trusted).
fn lenient_seconds(text: &str) -> Option<i64> {
    parse_naive(text).or_else(|| parse_naive(text.trim().get(..10)?))
}

/// Why a saved position (or the start date) cannot be read from. A long text is shown cut
/// ([`shorten`]).
pub(crate) fn refuse_start(key: &Key, horizon: &Horizon) -> Option<String> {
    let cursor = key.cursor.as_ref()?;
    if let CursorValue::Text(text) = cursor {
        if lenient_seconds(text).is_none() {
            return Some(format!("`{}` is not a real date and time", shorten(text)));
        }
    }
    (!horizon.admits(cursor)).then(|| {
        let shown = match cursor {
            CursorValue::Text(text) => format!("`{}`", shorten(text)),
            CursorValue::Unix(secs) => format!("{secs} ({} UTC)", format_naive(*secs)),
        };
        format!(
            "{shown} lies in the future (more than {} days after the machine's clock)",
            Horizon::TOLERANCE_SECS / 86_400
        )
    })
}

/// The sentence that refuses a start position: the saved state's cursor (`saved`) or the
/// start date, `why` it cannot be read from, and what to do. `read` prefixes it with the
/// stream; `check` says it of the start date as it is.
pub(crate) fn start_refusal(saved: bool, why: &str) -> String {
    let (what, fix) = if saved {
        (
            "the saved state's cursor",
            "Reset this stream's state (or edit the state file) and read again",
        )
    } else {
        (
            "the start date (advanced.start_date)",
            "Set a start date in the past, or leave it empty to read everything",
        )
    };
    format!("{what} {why}, so nothing after it could ever be read. {fix}.")
}

/// The sentence refusing `start_date` (as the form holds it, `YYYY-MM-DD`), as every
/// incremental stream with a timestamp cursor would refuse it; `None` when it can be read from.
pub(crate) fn refuse_start_date(start_date: &str, horizon: &Horizon) -> Option<String> {
    let order = Order {
        cursor: Some(("updated_date", CursorKind::Timestamp)),
    };
    let key = order.start(None, Some(start_date))?;
    refuse_start(&key, horizon).map(|why| start_refusal(false, &why))
}

/// The most characters of a value a message shows.
pub(crate) const SHOWN_CHARS: usize = 60;

/// `text` as a message shows it: whole up to [`SHOWN_CHARS`] characters, else its start and
/// an ellipsis with the number of characters left out.
pub(crate) fn shorten(text: &str) -> String {
    let count = text.chars().count();
    if count <= SHOWN_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(SHOWN_CHARS).collect();
    format!("{head}... ({} more characters)", count - SHOWN_CHARS)
}

/// A JSON value as a message shows it: a number as written (an integral number too large for
/// 64 bits as its digits, `18446744073709551616`, never `1.8446744073709552e19`), a text or
/// anything else shortened ([`shorten`]).
pub(crate) fn shown_value(value: &Value) -> String {
    match value {
        Value::Number(n) if n.as_u64().is_none() && n.as_i64().is_none() => match n.as_f64() {
            Some(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e30 => format!("{f:.0}"),
            _ => n.to_string(),
        },
        other => shorten(&other.to_string()),
    }
}

/// A record id: numeric ids sort numerically and before any text id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Id {
    /// A numeric id (sent as a number or a numeric string).
    Num(u64),
    /// Any other id.
    Text(String),
}

impl Id {
    /// Reads an id; `None` when absent or empty.
    pub(crate) fn read(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n.as_u64().map(Self::Num),
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().parse().map_or_else(|_| Self::Text(s.clone()), Self::Num)),
            _ => None,
        }
    }

    /// The id as saved in a state.
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Self::Num(n) => Value::from(*n),
            Self::Text(text) => Value::String(text.clone()),
        }
    }

    /// The operand of an `id more than` server filter.
    pub(crate) fn filter_operand(&self) -> Option<Value> {
        match self {
            Self::Num(n) => Some(Value::from(*n)),
            Self::Text(_) => None,
        }
    }
}

/// A position in the order a stream is read in: `(cursor, id)`; `None` sorts first, so
/// `(c, None)` is "just before every record with cursor `c`".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    /// The cursor value (always `None` for full-refresh reads).
    pub cursor: Option<CursorValue>,
    /// The id.
    pub id: Option<Id>,
}

/// How a stream is ordered and positioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Order {
    /// The cursor column and its encoding; `None` for full refresh (ordered by id).
    pub cursor: Option<(&'static str, CursorKind)>,
}

impl Order {
    /// Incremental reads of `model` when `incremental` and the model has a cursor, else by id.
    pub(crate) fn of(model: &Model, incremental: bool) -> Self {
        Self {
            cursor: if incremental { model.cursor } else { None },
        }
    }

    /// Whether this is an incremental (cursor) order.
    pub(crate) fn is_incremental(&self) -> bool {
        self.cursor.is_some()
    }

    /// The key of a record; `None` when it has no readable id.
    pub(crate) fn key(&self, record: &Value) -> Option<Key> {
        let cursor = self.cursor.and_then(|(column, _)| record.get(column));
        self.key_from(record.get("id"), cursor)
    }

    /// The key of a record with this `id` and cursor value; `None` without a readable id.
    pub(crate) fn key_from(&self, id: Option<&Value>, cursor: Option<&Value>) -> Option<Key> {
        let id = Id::read(id?)?;
        let cursor = self.cursor.and_then(|(_, kind)| CursorValue::read(cursor?, kind));
        Some(Key { cursor, id: Some(id) })
    }

    /// The state checkpointing "every record up to `key` was emitted".
    pub(crate) fn checkpoint(&self, key: &Key) -> Value {
        let id = key.id.as_ref().map_or(Value::Null, Id::to_json);
        match self.cursor {
            Some((column, _)) => json!({
                "cursor_field": column,
                "cursor": key.cursor.as_ref().map_or(Value::Null, CursorValue::to_json),
                "id": id,
            }),
            None => json!({ "after_id": id }),
        }
    }

    /// The state of a finished full-refresh read (the next one starts over).
    pub(crate) fn finished() -> Value {
        Value::Object(Map::new())
    }

    /// Whether `state` is a position this order can resume from: an empty object (a finished
    /// full refresh), `{after_id}` for reads by id, `{cursor, id}` for incremental reads.
    /// Anything else (another connector's state, a hand-edited file) restarts the stream.
    pub(crate) fn recognises(&self, state: &Value) -> bool {
        match self.cursor {
            None => match state.get("after_id") {
                Some(id) => Id::read(id).is_some(),
                None => state
                    .as_object()
                    .is_some_and(|o| o.is_empty() || o.contains_key("cursor")),
            },
            Some((_, kind)) => state
                .get("cursor")
                .is_some_and(|c| CursorValue::read(c, kind).is_some() || is_unset(c)),
        }
    }

    /// Where a read starts: after the saved position, or (incremental only, no state) at
    /// `start_date`; `None` reads from the beginning. Unreadable states are ignored.
    pub(crate) fn start(&self, state: Option<&Value>, start_date: Option<&str>) -> Option<Key> {
        match self.cursor {
            None => {
                let id = Id::read(state?.get("after_id")?)?;
                Some(Key {
                    cursor: None,
                    id: Some(id),
                })
            }
            Some((_, kind)) => match state.filter(|s| s.get("cursor").is_some()) {
                Some(state) => {
                    let key = Key {
                        cursor: state.get("cursor").and_then(|v| CursorValue::read(v, kind)),
                        id: state.get("id").and_then(Id::read),
                    };
                    (key.cursor.is_some() || key.id.is_some()).then_some(key)
                }
                None if kind == CursorKind::Timestamp => {
                    start_date.filter(|d| !is_zero_date(d)).map(|date| Key {
                        cursor: Some(CursorValue::Text(format!("{date} 00:00:00"))),
                        id: None,
                    })
                }
                None => None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::base::dates::naive_seconds;

    /// Values in messages: long texts cut with an ellipsis, ids as integers.
    #[test]
    fn values_are_shown_short_and_ids_as_integers() {
        let long = "x".repeat(10_000);
        assert_eq!(
            shorten(&long),
            format!("{}... (9940 more characters)", "x".repeat(60))
        );
        assert_eq!(shorten("short"), "short");
        let cases = [
            ("18446744073709551616", "18446744073709551616"),
            ("18446744073709551615", "18446744073709551615"),
            ("-9223372036854775808", "-9223372036854775808"),
            ("1.5", "1.5"),
            ("1e300", "1e+300"),
            ("\"abc\"", "\"abc\""),
        ];
        for (json, shown) in cases {
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(shown_value(&value), shown, "{json}");
        }
        assert_eq!(
            shown_value(&Value::String(long)),
            format!("\"{}... (9942 more characters)", "x".repeat(59))
        );
    }

    #[test]
    fn recognises_only_states_it_writes() {
        let by_id = Order { cursor: None };
        let by_time = Order {
            cursor: Some(("updated_date", CursorKind::Timestamp)),
        };
        let by_unix = Order {
            cursor: Some(("last_active", CursorKind::UnixSeconds)),
        };
        let cases = [
            (by_id, json!({}), true),
            (by_id, json!({"after_id": 12}), true),
            (by_id, json!({"after_id": "12"}), true),
            (
                by_id,
                json!({"cursor_field": "updated_date", "cursor": "2024-01-01 00:00:00", "id": 3}),
                true,
            ),
            (by_id, json!({"after_id": null}), false),
            (by_id, json!({"page": 4}), false),
            (
                by_time,
                json!({"cursor_field": "updated_date", "cursor": "2024-01-01 00:00:00", "id": 3}),
                true,
            ),
            (by_time, json!({}), false),
            (by_time, json!({"updated_at": "yesterday"}), false),
            (by_unix, json!({"cursor": 1_700_000_000, "id": 3}), true),
        ];
        for (order, state, expected) in cases {
            assert_eq!(order.recognises(&state), expected, "{order:?} {state}");
        }
    }

    #[test]
    fn one_second_before_crosses_every_boundary() {
        for (value, before) in [
            ("2024-03-01 00:00:00", "2024-02-29 23:59:59"),
            ("2024-01-01 00:00:00", "2023-12-31 23:59:59"),
            ("2024-05-17 10:20:30", "2024-05-17 10:20:29"),
            ("2024-05-17", "2024-05-16 23:59:59"),
        ] {
            let v = CursorValue::Text(value.into());
            assert_eq!(v.just_before(), Some(json!(before)), "{value}");
        }
        assert_eq!(CursorValue::Unix(100).just_before(), Some(json!(99)));
        assert_eq!(CursorValue::Text("soon".into()).just_before(), None);
    }

    #[test]
    fn keys_break_ties_by_id_and_sort_nulls_first() {
        let order = Order {
            cursor: Some(("updated_date", CursorKind::Timestamp)),
        };
        let key = |r: Value| order.key(&r).unwrap();
        let a = key(json!({"id": 9, "updated_date": "2024-01-01 10:00:00"}));
        let b = key(json!({"id": "10", "updated_date": "2024-01-01 10:00:00"}));
        let c = key(json!({"id": 1, "updated_date": ""}));
        assert!(a < b && c < a);
        assert!(order.key(&json!({"updated_date": "x"})).is_none());
        let start = order.start(Some(&order.checkpoint(&a)), None).unwrap();
        assert_eq!(start, a);
        let from_date = order.start(None, Some("2024-01-01")).unwrap();
        assert!(from_date < a && from_date.id.is_none());
    }

    #[test]
    fn full_refresh_state_resumes_after_the_id_and_restarts_when_finished() {
        let order = Order { cursor: None };
        let key = order.key(&json!({"id": 5})).unwrap();
        assert_eq!(order.checkpoint(&key), json!({"after_id": 5}));
        assert_eq!(order.start(Some(&json!({"after_id": 5})), None), Some(key));
        assert_eq!(order.start(Some(&Order::finished()), None), None);
    }

    #[test]
    fn zero_dates_and_blanks_are_not_set() {
        let by_time = Order {
            cursor: Some(("updated_date", CursorKind::Timestamp)),
        };
        for blank in ["", "  ", "0000-00-00", "0000-00-00 00:00:00"] {
            assert_eq!(
                CursorValue::read(&json!(blank), CursorKind::Timestamp),
                None,
                "{blank:?}"
            );
            let state = json!({"cursor_field": "updated_date", "cursor": blank, "id": 4});
            assert!(by_time.recognises(&state), "{blank:?}");
            assert_eq!(
                by_time.start(Some(&state), None),
                Some(Key {
                    cursor: None,
                    id: Some(Id::Num(4))
                })
            );
        }
        let unset = json!({"cursor_field": "updated_date", "cursor": null, "id": null});
        assert_eq!(by_time.start(Some(&unset), None), None);
        assert_eq!(by_time.start(None, Some("0000-00-00")), None);
        assert!(!is_zero_date("0000-00-01") && !is_zero_date("2024-01-01"));
    }

    #[test]
    fn impossible_and_future_positions_are_refused_within_a_tolerance() {
        let now = naive_seconds("2024-06-10 12:00:00").unwrap();
        let horizon = Horizon::at(now);
        let key = |text: &str| Key {
            cursor: Some(CursorValue::Text(text.into())),
            id: Some(Id::Num(1)),
        };
        assert_eq!(
            refuse_start(&key("2024-06-11 23:00:00"), &horizon),
            None,
            "a portal ahead"
        );
        assert_eq!(refuse_start(&key("2024-06-12 12:00:00"), &horizon), None);
        assert_eq!(
            refuse_start(&key("2024-06-12 12:00:01"), &horizon).unwrap(),
            "`2024-06-12 12:00:01` lies in the future (more than 2 days after the machine's clock)"
        );
        assert_eq!(
            refuse_start(&key("9999-12-31 23:59:59"), &horizon).unwrap(),
            "`9999-12-31 23:59:59` lies in the future (more than 2 days after the machine's clock)"
        );
        for bad in ["2024-02-30 10:00:00", "2023-02-29", "2024-13-45", "yesterday"] {
            assert_eq!(
                refuse_start(&key(bad), &horizon).unwrap(),
                format!("`{bad}` is not a real date and time")
            );
        }
        assert_eq!(refuse_start(&key("2024-02-29 10:00:00"), &horizon), None);
        let unix = Key {
            cursor: Some(CursorValue::Unix(now + 3 * 86_400)),
            id: None,
        };
        assert_eq!(
            refuse_start(&unix, &horizon).unwrap(),
            "1718280000 (2024-06-13 12:00:00 UTC) lies in the future (more than 2 days after the machine's clock)"
        );
    }
}
