//! List pages: parsed ([`ListPage`]) or with records that stay the exact JSON text Flowlu
//! sent ([`RawListPage`]).
//!
//! Reading a record into a `serde_json::Value` and writing it back costs most of a read's
//! time (allocations for every key and string). The source keeps each record as a
//! [`RawValue`] instead: it is checked to be JSON, its `id` and cursor are picked out without
//! building a tree, and it is written to stdout byte for byte.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::base::cursor::{Key, Order};
use crate::base::error::{Bound, Error, MalformedKind};
use crate::client::decode::decode_within;
use crate::client::scan::scan_record;

/// One page of a list call.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage {
    /// `total_result`, else `total`, if sent (a cross-check only).
    pub total: Option<u64>,
    /// `page`, if sent.
    pub page: Option<u64>,
    /// `count`, if sent.
    pub count: Option<u64>,
    /// The records, exactly as sent.
    pub items: Vec<Value>,
}

impl ListPage {
    /// Reads the `response` of a list call. Items may be an array or an object keyed by id;
    /// numbers may come as strings.
    pub fn from_response(response: Value) -> Result<Self, Error> {
        let malformed = |detail: &str| Error::Malformed {
            status: 200,
            kind: MalformedKind::Unexpected,
            detail: detail.into(),
        };
        let mut obj = match response {
            Value::Object(obj) => obj,
            Value::Array(items) => {
                return Ok(Self {
                    total: None,
                    page: None,
                    count: None,
                    items,
                })
            }
            _ => return Err(malformed("a list answer without an object `response`")),
        };
        let number =
            |v: Option<&Value>| v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
        // `total_result` first: beside it, `total` has been seen holding nonsense (99999).
        let total = number(obj.get("total_result")).or_else(|| number(obj.get("total")));
        let page = number(obj.get("page"));
        let count = number(obj.get("count"));
        let items = match obj.remove("items") {
            Some(Value::Array(items)) => items,
            Some(Value::Object(map)) => map.into_iter().map(|(_, v)| v).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(malformed("`items` is neither a list nor an object")),
        };
        Ok(Self {
            total,
            page,
            count,
            items,
        })
    }
}

/// The deepest a record may nest (its own object is the first level). Far beyond any Flowlu
/// record, and within what `serde_json` parses into a tree (128 levels): a [`RawValue`] is
/// skipped over without that limit, so it is checked here ([`scan_record`]).
pub(crate) const MAX_RECORD_DEPTH: usize = 64;

/// One page of a list call, its records kept as sent.
#[derive(Debug)]
pub(crate) struct RawListPage {
    /// `total_result`, else `total`, if sent (a cross-check only).
    pub total: Option<u64>,
    /// The records, exactly as sent, each with its key in the order the page was decoded
    /// for (`None`: no readable id).
    pub items: Vec<(Box<RawValue>, Option<Key>)>,
}

impl RawListPage {
    /// Reads a list answer: the common shape (`{"response": {"total": N, "items": [...]}}`)
    /// directly, every other answer (errors, items keyed by id, ...) through
    /// `decode`, so both give the same records and the same errors.
    /// Each record's key in `order` is read in the same pass over its text that checks its
    /// nesting (`scan_record`): a record nested deeper than `MAX_RECORD_DEPTH` fails the
    /// page ([`Error::Oversized`]). (The client reads pages through `decode_at_most`.)
    #[cfg(test)]
    pub(crate) fn decode(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secret: &str,
        order: &Order,
    ) -> Result<Self, Error> {
        let values = crate::client::decode::default_answer_values();
        Self::decode_at_most(status, headers, body, secret, order, None, values)
    }

    /// [`RawListPage::decode`] of a page asked for at most `max_records` records: a page
    /// holding more is refused ([`Error::Oversized`], [`Bound::Records`]) as soon as its
    /// record past the limit is reached, before the records are held (a 30 MB page of ten
    /// million `{}` is never ten million records in memory). An answer in another shape is
    /// read as a tree of at most `max_values` JSON values (`decode_within`).
    pub(crate) fn decode_at_most(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secret: &str,
        order: &Order,
        max_records: Option<usize>,
        max_values: usize,
    ) -> Result<Self, Error> {
        let (total, records) =
            Self::decode_any_depth(status, headers, body, secret, max_records, max_values)?;
        let cursor = order.cursor.map(|(column, _)| column);
        let mut items = Vec::with_capacity(records.len());
        for record in records {
            let Ok(members) = scan_record(record.get(), cursor, MAX_RECORD_DEPTH) else {
                return Err(Error::oversized(
                    String::new(),
                    None,
                    Bound::Depth(MAX_RECORD_DEPTH),
                ));
            };
            let key = members.key(order);
            items.push((record, key));
        }
        Ok(Self { total, items })
    }

    /// The page's total and records, their nesting not checked.
    fn decode_any_depth(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        secret: &str,
        max_records: Option<usize>,
        max_values: usize,
    ) -> Result<(Option<u64>, Vec<Box<RawValue>>), Error> {
        let too_many = |max| Error::oversized(String::new(), None, Bound::Records(max));
        if status == StatusCode::OK {
            match Self::common_shape(body, max_records) {
                Ok(Some(page)) => return Ok(page),
                Ok(None) => {}
                Err(TooMany(max)) => return Err(too_many(max)),
            }
        }
        let page = ListPage::from_response(decode_within(status, headers, body, secret, max_values)?)?;
        if let Some(max) = max_records.filter(|max| page.items.len() > *max) {
            return Err(too_many(max));
        }
        let items = page
            .items
            .iter()
            .map(serde_json::value::to_raw_value)
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Malformed {
                status: status.as_u16(),
                kind: crate::base::error::MalformedKind::Unexpected,
                detail: e.to_string(),
            })?;
        Ok((page.total, items))
    }

    /// The common shapes of a good page (`items` a list, or an object keyed by id, or
    /// `response` itself a list), read in one pass without building a tree; `Ok(None)` for any
    /// other answer (an error, ...), `Err` as soon as a record past `max_records` is met.
    #[allow(clippy::type_complexity)]
    fn common_shape(
        body: &[u8],
        max_records: Option<usize>,
    ) -> Result<Option<(Option<u64>, Vec<Box<RawValue>>)>, TooMany> {
        let max = max_records.unwrap_or(usize::MAX);
        let over = std::cell::Cell::new(false);
        let seed = Envelope {
            records: Records { max, over: &over },
        };
        let mut de = serde_json::Deserializer::from_slice(body);
        let parsed =
            serde::de::DeserializeSeed::deserialize(seed, &mut de).and_then(|page| de.end().map(|()| page));
        match parsed {
            Ok(page) => Ok(page),
            Err(_) if over.get() => Err(TooMany(max)),
            Err(_) => Ok(None),
        }
    }
}

/// A page held more records than the `limit` asked (the limit).
#[derive(Debug)]
struct TooMany(usize);

/// The envelope of a list answer, `{"response": ..., "error": ...}`: the page when it has no
/// `error` and its `response` is a page ([`PageSeed`]).
#[derive(Clone, Copy)]
struct Envelope<'a> {
    records: Records<'a>,
}

/// A page read from `response`: its total and its records.
type Common = Option<(Option<u64>, Vec<Box<RawValue>>)>;

impl<'de> serde::de::DeserializeSeed<'de> for Envelope<'_> {
    type Value = Common;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Common, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Envelope<'_> {
    type Value = Common;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list answer")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Common, A::Error> {
        let (mut error, mut page) = (false, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "error" => error |= map.next_value::<Option<IgnoredAny>>()?.is_some(),
                "response" => {
                    page = map.next_value_seed(PageSeed {
                        records: self.records,
                    })?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page.filter(|_| !error))
    }
}

/// `response`: a list of records, or `{"total": .., "total_result": .., "items": ..}`;
/// `None` for anything else.
#[derive(Clone, Copy)]
struct PageSeed<'a> {
    records: Records<'a>,
}

impl<'de> serde::de::DeserializeSeed<'de> for PageSeed<'_> {
    type Value = Common;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Common, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for PageSeed<'_> {
    type Value = Common;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a page")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Common, A::Error> {
        serde::de::Visitor::visit_seq(self.records, seq).map(|items| Some((None, items)))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Common, A::Error> {
        let (mut total, mut total_result, mut items) = (None, None, Vec::new());
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "total" => total = map.next_value::<Total>()?.0,
                "total_result" => total_result = map.next_value::<Total>()?.0,
                "items" => items = map.next_value_seed(self.records)?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        // `total_result` first: beside it, `total` has been seen holding nonsense (99999).
        Ok(Some((total_result.or(total), items)))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Common, E> {
        Ok(None)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Common, E> {
        Ok(None)
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Common, E> {
        Ok(None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Common, E> {
        Ok(None)
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Common, E> {
        Ok(None)
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Common, E> {
        Ok(None)
    }
}

/// A total: a number, or a number in a string; anything else is skipped without being held
/// (a hostile `total` holding a tree is never built).
struct Total(Option<u64>);

impl<'de> serde::Deserialize<'de> for Total {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TotalVisitor)
    }
}

struct TotalVisitor;

impl<'de> serde::de::Visitor<'de> for TotalVisitor {
    type Value = Total;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a total")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Total, E> {
        Ok(Total(Some(v)))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Total, E> {
        Ok(Total(u64::try_from(v).ok()))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Total, E> {
        Ok(Total(None))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Total, E> {
        Ok(Total(None))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Total, E> {
        Ok(Total(v.trim().parse().ok()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Total, E> {
        Ok(Total(None))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Total, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Total(None))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Total, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Total(None))
    }
}

/// Reads `items` (a list, an object keyed by id, or `null`) into at most `max` records, each
/// as sent; stops at the record past `max` (setting `over`), holding none of the rest.
#[derive(Debug, Clone, Copy)]
struct Records<'a> {
    max: usize,
    over: &'a std::cell::Cell<bool>,
}

impl Records<'_> {
    fn push<E: serde::de::Error>(
        &self,
        out: &mut Vec<Box<RawValue>>,
        record: Box<RawValue>,
    ) -> Result<(), E> {
        if out.len() == self.max {
            self.over.set(true);
            return Err(E::custom("more records than asked"));
        }
        out.push(record);
        Ok(())
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Records<'_> {
    type Value = Vec<Box<RawValue>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Records<'_> {
    type Value = Vec<Box<RawValue>>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of records or an object of records")
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(Vec::new())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(record) = seq.next_element::<Box<RawValue>>()? {
            self.push(&mut out, record)?;
        }
        Ok(out)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some((_, record)) = map.next_entry::<IgnoredAny, Box<RawValue>>()? {
            self.push(&mut out, record)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::base::cursor::{CursorValue, Id};
    use crate::base::streams::CursorKind;

    const BY_ID: Order = Order { cursor: None };
    const BY_DATE: Order = Order {
        cursor: Some(("updated_date", CursorKind::Timestamp)),
    };

    fn id_key(id: u64) -> Key {
        Key {
            cursor: None,
            id: Some(Id::Num(id)),
        }
    }

    #[test]
    fn list_page_accepts_every_observed_form() {
        let p = ListPage::from_response(
            serde_json::json!({"total_result": "3", "page": 1, "count": "1", "items": [{"id": 1}]}),
        )
        .unwrap();
        assert_eq!(
            (p.total, p.page, p.count, p.items.len()),
            (Some(3), Some(1), Some(1), 1)
        );
        let p = ListPage::from_response(serde_json::json!({"total": 0, "items": {"7": {"id": 7}}})).unwrap();
        assert_eq!(p.items, vec![serde_json::json!({"id": 7})]);
        let p = ListPage::from_response(serde_json::json!({"total": 0})).unwrap();
        assert!(p.items.is_empty());
    }

    #[test]
    fn reads_the_common_shape_and_falls_back_for_the_others() {
        let body =
            br#"{"response": {"total_result": "2", "page": 1, "items": [{"id": 1, "a": "x" }, {"id":"2"}]}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), body, "k", &BY_ID).unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(
            page.items.iter().map(|(r, _)| r.get()).collect::<Vec<_>>(),
            [r#"{"id": 1, "a": "x" }"#, r#"{"id":"2"}"#]
        );
        assert_eq!(
            page.items.iter().map(|(_, key)| key.clone()).collect::<Vec<_>>(),
            [Some(id_key(1)), Some(id_key(2))]
        );
        let keyed = br#"{"response": {"total": 1, "items": {"7": {"id": 7}}}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), keyed, "k", &BY_ID).unwrap();
        assert_eq!(
            page.items[0].0.get(),
            r#"{"id": 7}"#,
            "kept as sent, keyed by id too"
        );
        assert_eq!(page.items[0].1, Some(id_key(7)));
        let error = br#"{"error": {"error_code": 22, "error_msg": "Access denied"}}"#;
        let err = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), error, "k", &BY_ID).unwrap_err();
        assert!(matches!(err, Error::Permission { .. }), "{err:?}");
        let cut = br#"{"response": {"items": [{"id"#;
        assert!(
            RawListPage::decode(StatusCode::OK, &HeaderMap::new(), cut, "k", &BY_ID)
                .unwrap_err()
                .is_retryable()
        );
    }

    /// A page holding more records than its `limit` is refused by name, as a list, keyed by
    /// id or as a bare list, and in the tree fallback (a string `total`... not in the common
    /// shape); one holding the limit exactly is read.
    #[test]
    fn a_page_holding_more_records_than_asked_is_refused() {
        let decode_as = |status: u16, body: &str, max: usize| {
            RawListPage::decode_at_most(
                StatusCode::from_u16(status).unwrap(),
                &HeaderMap::new(),
                body.as_bytes(),
                "k",
                &BY_ID,
                Some(max),
                1_000,
            )
        };
        let decode = |body: &str, max: usize| decode_as(200, body, max);
        let list = r#"{"response": {"items": [{"id": 1}, {"id": 2}, {"id": 3}]}}"#;
        for (status, body) in [
            (200, list),
            (
                200,
                r#"{"response": {"items": {"1": {"id": 1}, "2": {"id": 2}, "3": {"id": 3}}}}"#,
            ),
            (200, r#"{"response": [{"id": 1}, {"id": 2}, {"id": 3}]}"#),
            // Another success status is read through the tree: it counts too.
            (203, list),
        ] {
            let err = decode_as(status, body, 2).unwrap_err();
            assert!(
                matches!(err, Error::Oversized(ref over) if over.bound == Bound::Records(2)),
                "{body}: {err:?}"
            );
            assert_eq!(
                err.to_string(),
                ": the page holds more than the 2 records asked for",
                "{body}"
            );
            assert_eq!(decode_as(status, body, 3).unwrap().items.len(), 3, "{body}");
        }
        // A total holding a tree is skipped, not built.
        let tree_total = format!(
            r#"{{"response": {{"total": [{}{{}}], "items": [{{"id": 1}}]}}}}"#,
            "{},".repeat(100_000)
        );
        let page = decode(&tree_total, 500).unwrap();
        assert_eq!((page.total, page.items.len()), (None, 1));
        let page = decode(r#"{"response": {"total": " 7 ", "items": []}}"#, 5).unwrap();
        assert_eq!(page.total, Some(7));
        // A million `{}` (3 MB) for a limit of 500: refused at the 501st, at once.
        let hostile = format!(
            r#"{{"response": {{"items": [{}{{}}]}}}}"#,
            "{},".repeat(1_000_000 - 1)
        );
        let started = std::time::Instant::now();
        let err = decode(&hostile, 500).unwrap_err();
        assert!(matches!(err, Error::Oversized(ref over) if over.bound == Bound::Records(500)));
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    /// An answer read as a tree stops at its value budget.
    #[test]
    fn an_answer_read_as_a_tree_stops_at_its_value_budget() {
        let body = r#"{"response": {"items": {"1": {"id": 1, "x": [1, 2, 3]}}, "total": {"a": 1}}}"#;
        let tree = |max| {
            crate::client::decode::decode_within(StatusCode::OK, &HeaderMap::new(), body.as_bytes(), "k", max)
        };
        // 1 envelope + response + items + record + id + x + 3 + total + a = 11 values.
        assert!(tree(11).is_ok());
        let err = tree(10).unwrap_err();
        assert!(
            matches!(err, Error::Oversized(ref over) if over.bound == Bound::Values(10)),
            "{err:?}"
        );
        assert_eq!(err.to_string(), ": the answer holds more than 10 JSON values");
        // Not JSON stays not JSON.
        let err = crate::client::decode::decode_within(StatusCode::OK, &HeaderMap::new(), b"[1, 2", "k", 100)
            .unwrap_err();
        assert!(err.is_retryable(), "cut short: {err:?}");
    }

    #[test]
    fn a_page_gives_each_record_its_key_and_names_a_record_too_deep() {
        let body = br#"{"response": {"total": 3, "items": [
            {"id": "10", "updated_date": "2024-02-01 00:00:00", "owner": {"id": 1}},
            {"updated_date": "2024-02-02 00:00:00", "name": "no id"},
            {"id": 12, "updated_date": "0000-00-00 00:00:00"}
        ]}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), body, "k", &BY_DATE).unwrap();
        let keys: Vec<_> = page.items.iter().map(|(_, key)| key.clone()).collect();
        assert_eq!(
            keys,
            [
                Some(Key {
                    cursor: Some(CursorValue::Text("2024-02-01 00:00:00".into())),
                    id: Some(Id::Num(10)),
                }),
                None,
                Some(Key {
                    cursor: None,
                    id: Some(Id::Num(12)),
                }),
            ]
        );
        assert_eq!(
            page.items[1].0.get(),
            r#"{"updated_date": "2024-02-02 00:00:00", "name": "no id"}"#
        );

        let deep = format!(
            r#"{{"response": {{"items": [{{"id": 1}}, {{"id": 2, "x": {}{}}}]}}}}"#,
            "[".repeat(64),
            "]".repeat(64)
        );
        let err =
            RawListPage::decode(StatusCode::OK, &HeaderMap::new(), deep.as_bytes(), "k", &BY_ID).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Oversized(ref over) if over.bound == Bound::Depth(MAX_RECORD_DEPTH)
            ),
            "{err:?}"
        );
    }

    #[test]
    fn total_result_is_preferred_and_empty_lists_in_every_form_are_empty() {
        let both = br#"{"response": {"total": 99999, "total_result": 5, "items": [{"id": 1}]}}"#;
        let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), both, "k", &BY_ID).unwrap();
        assert_eq!(page.total, Some(5));
        let parsed =
            ListPage::from_response(serde_json::from_slice::<Value>(both).unwrap()["response"].clone())
                .unwrap();
        assert_eq!(parsed.total, Some(5));
        for body in [
            &br#"{"response": []}"#[..],
            br#"{"response": {"total": 0, "items": []}}"#,
            br#"{"response": {"total": "0", "items": {}}}"#,
        ] {
            let page = RawListPage::decode(StatusCode::OK, &HeaderMap::new(), body, "k", &BY_ID).unwrap();
            assert!(page.items.is_empty(), "{}", String::from_utf8_lossy(body));
        }
    }
}
