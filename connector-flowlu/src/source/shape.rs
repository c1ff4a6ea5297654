//! Record shaping: each record as its stream schema declares it, the rest exactly as sent.
//!
//! * A date or date-time field holding Flowlu's "not set" (`""`, `0000-00-00`,
//!   `0000-00-00 00:00:00`) becomes `null`; a date-time sent without seconds or as a date alone
//!   gets its full form (`YYYY-MM-DD HH:mm:ss`).
//! * The fields public responses show in two types get one: `task_tasks.is_archive` and
//!   `fin_invoice_contacts.contact_id` integers, `fin_invoice_item.discount` a number (`"12"`
//!   becomes `12`, `""` `null`).
//! * Custom fields (`cf_<id>`, `cf_<id>_value`, or the field's alias) move to the columns the
//!   configured catalog names for them (`x-flowlu-field`), their text typed from the field's
//!   Flowlu type (`"12.5"` in a number field becomes `12.5`, a checkbox's `"1"` becomes `1`).
//!   A custom field the catalog does not map passes as sent.
//! * `crm_account`: Flowlu's lists send `VAT`, its single-record answers `vat`; a `vat` is
//!   passed on as `VAT` (when the record has no other `VAT`, or the same value).
//! * A value that fits no declared type is `null` in its column and kept, exactly as sent,
//!   under its key in [`RAW_VALUES`]; nothing is dropped.
//!
//! Records are passed on as the exact JSON text Flowlu sent: only a record that needs one of
//! these changes is rewritten. Whether it needs one is decided on the text, without parsing
//! it, for records in the compact form Flowlu sends (every member found by its `"name":`); a
//! record in any other form, or whose stream maps custom fields, is parsed member by member
//! (values kept as their text) and written again only when something changed, its members in
//! their order.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use memchr::memmem::Finder;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::base::columns::{Mapping, Part};
use crate::base::dates::{format_naive, is_zero_date, parse_naive};
use crate::base::stream_schema::{standard_fields, RAW_VALUES};

/// The type a value is shaped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `YYYY-MM-DD`.
    Date,
    /// `YYYY-MM-DD HH:mm:ss`.
    DateTime,
    /// An integer.
    Integer,
    /// A number.
    Number,
    /// A checkbox: 0 or 1.
    Flag,
    /// Text, passed as sent.
    Text,
}

impl Kind {
    fn of_code(code: &str) -> Option<Self> {
        match code {
            "d" => Some(Self::Date),
            "t" => Some(Self::DateTime),
            "is" => Some(Self::Integer),
            "ns" => Some(Self::Number),
            _ => None,
        }
    }

    fn of_custom(kind: &str) -> Self {
        match kind {
            "number" | "numeric" | "decimal" | "float" | "money" | "integer" => Self::Number,
            "checkbox" | "boolean" | "bool" => Self::Flag,
            "date" => Self::Date,
            "datetime" => Self::DateTime,
            _ => Self::Text,
        }
    }
}

/// A standard field whose values are checked.
#[derive(Debug)]
struct Checked {
    name: &'static str,
    kind: Kind,
    /// Finds `"name":`.
    finder: Finder<'static>,
}

/// Where a custom field key's values go.
#[derive(Debug, Clone)]
struct Target {
    column: String,
    kind: Kind,
}

/// How one stream's records are shaped (see the module documentation).
#[derive(Debug)]
pub(crate) struct Shape {
    checked: Vec<Checked>,
    custom: HashMap<String, Target>,
    /// Finds what makes a record's text other than Flowlu's compact form.
    unusual: [Finder<'static>; 3],
    /// `crm_account`'s `vat`, passed on as `VAT`.
    vat: Option<Finder<'static>>,
}

/// What shaping did to a page.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Shaped {
    /// Values that fit no declared type, by field.
    pub misfits: BTreeMap<String, u64>,
}

/// One value's fate.
enum Fate {
    Keep,
    Set(Value),
    Misfit,
}

impl Shape {
    /// The shaping of `stream`'s records under the configured stream schema `schema` (its
    /// custom field mappings; the standard fields come from the connector's own tables).
    pub(crate) fn new(stream: &str, schema: &Value) -> Self {
        let checked: Vec<Checked> = standard_fields(stream)
            .filter_map(|(name, code)| {
                Kind::of_code(code).map(|kind| Checked {
                    name,
                    kind,
                    finder: Finder::new(format!("\"{name}\":").as_bytes()).into_owned(),
                })
            })
            .collect();
        let mut custom = HashMap::new();
        let properties = schema.get("properties").and_then(Value::as_object);
        for (column, property) in properties.into_iter().flatten() {
            let Some(mapping) = Mapping::of_property(property) else {
                continue;
            };
            let kind = match mapping.part {
                Part::Value => Kind::of_custom(&mapping.kind),
                Part::Label => Kind::Text,
            };
            let target = Target {
                column: column.clone(),
                kind,
            };
            // The alias and `cf_<id>` both name the field (a portal may send either).
            let id = property[crate::base::columns::FIELD_KEYWORD]["id"]
                .as_str()
                .unwrap_or_default();
            if !id.is_empty() {
                let cf = match mapping.part {
                    Part::Value => format!("cf_{id}"),
                    Part::Label => format!("cf_{id}_value"),
                };
                custom.entry(cf).or_insert_with(|| target.clone());
            }
            custom.insert(mapping.key, target);
        }
        let vat = (stream == "crm_account").then(|| Finder::new(b"\"vat\":").into_owned());
        Self {
            checked,
            custom,
            unusual: [Finder::new(b"\\u"), Finder::new(b"\": "), Finder::new(b"\" :")]
                .map(Finder::into_owned),
            vat,
        }
    }

    /// Whether this stream's records are never changed.
    pub(crate) fn is_identity(&self) -> bool {
        self.checked.is_empty() && self.custom.is_empty() && self.vat.is_none()
    }

    /// Shapes a page's records in place; what it did.
    pub(crate) fn page<K>(&self, items: &mut [(Box<RawValue>, K)]) -> Shaped {
        let mut shaped = Shaped::default();
        if self.is_identity() {
            return shaped;
        }
        for (record, _) in items.iter_mut() {
            let rewritten = match self.needs(record.get()) {
                Need::Nothing => None,
                Need::Nulls(spans) => nulled(record.get(), &spans),
                Need::Parse => self.rewrite(record.get(), &mut shaped),
            };
            if let Some(raw) = rewritten {
                *record = raw;
            }
        }
        shaped
    }

    /// What `text` needs: nothing, only Flowlu's "not set" dates replaced by `null` (the
    /// spans of their values), or a parse.
    fn needs(&self, text: &str) -> Need {
        if !self.custom.is_empty() {
            return Need::Parse;
        }
        let bytes = text.as_bytes();
        // Another form than Flowlu's compact one (white space between members, escaped names,
        // nested objects whose members could share a name): parse it.
        let unusual = memchr::memchr3(b'\n', b'\r', b'\t', bytes).is_some()
            || self.unusual.iter().any(|f| f.find(bytes).is_some())
            || bytes
                .get(1..)
                .is_some_and(|rest| memchr::memchr(b'{', rest).is_some());
        if unusual || self.vat.as_ref().is_some_and(|f| f.find(bytes).is_some()) {
            return Need::Parse;
        }
        let mut unset = Vec::new();
        for c in &self.checked {
            let Some(at) = c.finder.find(bytes) else {
                continue;
            };
            let value_at = at + c.finder.needle().len();
            let escaped_quote = at > 0 && bytes[at - 1] == b'\\';
            if escaped_quote || c.finder.find(&bytes[value_at..]).is_some() {
                return Need::Parse;
            }
            let rest = &bytes[value_at..];
            if fits_as_sent(c.kind, rest) {
                continue;
            }
            match unset_date_len(c.kind, rest) {
                Some(len) => unset.push((value_at, value_at + len)),
                None => return Need::Parse,
            }
        }
        if unset.is_empty() {
            Need::Nothing
        } else {
            unset.sort_unstable();
            Need::Nulls(unset)
        }
    }

    /// The record rewritten, or `None` when nothing changes (or it is not an object).
    fn rewrite(&self, text: &str, shaped: &mut Shaped) -> Option<Box<RawValue>> {
        let Members(members) = serde_json::from_str::<Members<'_>>(text).ok()?;
        let mut changed = false;
        let mut out: Vec<(Cow<'_, str>, Slot<'_>)> = Vec::with_capacity(members.len());
        let mut misfits = Map::new();
        let has_upper_vat = members.iter().any(|(k, _)| k == "VAT");
        for (key, raw) in &members {
            let target = if self.custom.is_empty() {
                None
            } else {
                self.custom.get(key.as_ref())
            };
            let (column, kind) = if let Some(target) = target {
                (Cow::Borrowed(target.column.as_str()), target.kind)
            } else if let Some(checked) = self.checked.iter().find(|c| c.name == key.as_ref()) {
                (key.clone(), checked.kind)
            } else if self.vat.is_some() && key == "vat" {
                let same_as_upper = members
                    .iter()
                    .find(|(k, _)| k == "VAT")
                    .is_some_and(|(_, v)| v.get() == raw.get());
                changed = true;
                if !has_upper_vat {
                    out.push((Cow::Borrowed("VAT"), Slot::Raw(raw)));
                } else if !same_as_upper {
                    misfits.insert("vat".into(), parse(raw));
                    *shaped.misfits.entry("vat".into()).or_default() += 1;
                }
                continue;
            } else {
                out.push((key.clone(), Slot::Raw(raw)));
                continue;
            };
            if column != *key {
                changed = true;
            }
            match fate(kind, raw) {
                Fate::Keep => out.push((column, Slot::Raw(raw))),
                Fate::Set(value) => {
                    changed = true;
                    out.push((column, Slot::Value(value)));
                }
                Fate::Misfit => {
                    changed = true;
                    misfits.insert(key.to_string(), parse(raw));
                    *shaped.misfits.entry(column.to_string()).or_default() += 1;
                    out.push((column, Slot::Value(Value::Null)));
                }
            }
        }
        if !changed {
            return None;
        }
        let misfits = (!misfits.is_empty()).then_some(Value::Object(misfits));
        // Serialised straight into the record's text: raw members verbatim, no second parse.
        serde_json::value::to_raw_value(&Rewritten {
            members: &out,
            misfits: misfits.as_ref(),
        })
        .ok()
    }
}

/// A rewritten record: its members in order, then the values that fit no type.
struct Rewritten<'a, 'b> {
    members: &'a [(Cow<'b, str>, Slot<'b>)],
    misfits: Option<&'a Value>,
}

impl serde::Serialize for Rewritten<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.members.len() + 1))?;
        for (name, slot) in self.members {
            match slot {
                Slot::Raw(raw) => map.serialize_entry(name.as_ref(), raw)?,
                Slot::Value(value) => map.serialize_entry(name.as_ref(), value)?,
            }
        }
        if let Some(misfits) = self.misfits {
            map.serialize_entry(RAW_VALUES, misfits)?;
        }
        map.end()
    }
}

/// What a record needs.
enum Need {
    Nothing,
    /// These value spans are Flowlu's "not set" dates.
    Nulls(Vec<(usize, usize)>),
    Parse,
}

/// The length of a date value's JSON text that is Flowlu's "not set" (`""`, `"0000-00-00"`,
/// `"0000-00-00 00:00:00"`), from its first byte; `None` for anything else.
fn unset_date_len(kind: Kind, rest: &[u8]) -> Option<usize> {
    if !matches!(kind, Kind::Date | Kind::DateTime) {
        return None;
    }
    [&b"\"\""[..], b"\"0000-00-00\"", b"\"0000-00-00 00:00:00\""]
        .iter()
        .find(|t| rest.starts_with(t))
        .map(|t| t.len())
}

/// `text` with each span replaced by `null` (spans sorted, not overlapping).
fn nulled(text: &str, spans: &[(usize, usize)]) -> Option<Box<RawValue>> {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for &(start, end) in spans {
        out.push_str(text.get(from..start)?);
        out.push_str("null");
        from = end;
    }
    out.push_str(text.get(from..)?);
    RawValue::from_string(out).ok()
}

/// A member's value in a rewritten record.
enum Slot<'a> {
    Raw(&'a RawValue),
    Value(Value),
}

fn parse(raw: &RawValue) -> Value {
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

/// Whether a value (its JSON text, from its first byte on) can pass as sent for `kind`.
fn fits_as_sent(kind: Kind, rest: &[u8]) -> bool {
    if rest.starts_with(b"null") {
        return true;
    }
    match kind {
        Kind::Date | Kind::DateTime => {
            let len = if kind == Kind::Date { 10 } else { 19 };
            let Some(body) = rest.get(1..=len) else {
                return false;
            };
            rest.first() == Some(&b'"') && rest.get(len + 1) == Some(&b'"') && is_canonical_date(kind, body)
        }
        Kind::Integer | Kind::Number => {
            let end = rest
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' '))
                .unwrap_or(rest.len());
            let token = &rest[..end];
            let digits = token.strip_prefix(b"-").unwrap_or(token);
            match kind {
                Kind::Integer => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
                _ => !digits.is_empty() && digits.first().is_some_and(u8::is_ascii_digit),
            }
        }
        Kind::Flag | Kind::Text => true,
    }
}

/// Whether `text` is already a real date in `kind`'s canonical form (`YYYY-MM-DD`,
/// `YYYY-MM-DD HH:mm:ss`), checked without building a text.
fn is_canonical_date(kind: Kind, text: &[u8]) -> bool {
    let shape: &[u8] = match kind {
        Kind::Date => b"dddd-dd-dd",
        _ => b"dddd-dd-dd dd:dd:dd",
    };
    text.len() == shape.len()
        && text
            .iter()
            .zip(shape)
            .all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == s })
        && std::str::from_utf8(text).is_ok_and(|t| parse_naive(t).is_some())
}

/// A date's canonical text for `kind` (`YYYY-MM-DD` or `YYYY-MM-DD HH:mm:ss`); `None` when it
/// is not a real date (a date field holding a time of day other than midnight is not a date).
fn canonical_date(kind: Kind, text: &str) -> Option<String> {
    let secs = parse_naive(text)?;
    let full = format_naive(secs);
    match kind {
        Kind::Date => full.strip_suffix(" 00:00:00").map(str::to_string),
        _ => Some(full),
    }
}

/// What becomes of a value of `kind` sent as `raw`.
fn fate(kind: Kind, raw: &RawValue) -> Fate {
    let text = raw.get();
    if text == "null" || kind == Kind::Text {
        return Fate::Keep;
    }
    if matches!(kind, Kind::Date | Kind::DateTime) && fits_as_sent(kind, text.as_bytes()) {
        return Fate::Keep;
    }
    let value = parse(raw);
    match (kind, &value) {
        (_, Value::String(s)) if s.trim().is_empty() => Fate::Set(Value::Null),
        (Kind::Date | Kind::DateTime, Value::String(s)) if is_zero_date(s) => Fate::Set(Value::Null),
        (Kind::Date | Kind::DateTime, Value::String(s)) => match canonical_date(kind, s) {
            Some(c) if c == *s => Fate::Keep,
            Some(c) => Fate::Set(Value::String(c)),
            None => Fate::Misfit,
        },
        (Kind::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Fate::Keep,
        (Kind::Integer, Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Fate::Set(Value::from(f as i64)),
            _ => Fate::Misfit,
        },
        (Kind::Integer, Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(n) => Fate::Set(Value::from(n)),
            Err(_) => Fate::Misfit,
        },
        (Kind::Number, Value::Number(_)) => Fate::Keep,
        (Kind::Number, Value::String(s)) => match plain_number(s.trim()) {
            Some(n) => Fate::Set(Value::Number(n)),
            None => Fate::Misfit,
        },
        (Kind::Flag, Value::Number(n)) if n.as_u64().is_some_and(|n| n <= 1) => Fate::Keep,
        (Kind::Flag, Value::Bool(b)) => Fate::Set(Value::from(u8::from(*b))),
        (Kind::Flag, Value::String(s)) => match s.trim() {
            "1" | "true" => Fate::Set(Value::from(1)),
            "0" | "false" => Fate::Set(Value::from(0)),
            _ => Fate::Misfit,
        },
        _ => Fate::Misfit,
    }
}

/// A plain decimal text (`-12.50`, `7`) as a JSON number: an integer when it has no fraction;
/// `None` for anything else (exponents, `+`, several dots, no digits).
fn plain_number(t: &str) -> Option<serde_json::Number> {
    let digits = t.strip_prefix('-').unwrap_or(t);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !plain(int) || !plain(frac) || (digits.contains('.') && frac.is_empty()) {
        return None;
    }
    if frac.is_empty() {
        if let Ok(n) = t.parse::<i64>() {
            return Some(n.into());
        }
    }
    t.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
}

/// A record's members in order, each value kept as its JSON text.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

/// A member name, borrowed unless it holds an escape.
struct Name<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Name(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(64));
                while let Some((Name(name), value)) = map.next_entry::<Name<'de>, &'de RawValue>()? {
                    members.push((name, value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn shape_one(shape: &Shape, text: &str) -> (String, Shaped) {
        let mut items = vec![(RawValue::from_string(text.to_string()).unwrap(), ())];
        let shaped = shape.page(&mut items);
        (items[0].0.get().to_string(), shaped)
    }

    #[test]
    fn blank_and_zero_dates_become_null_and_the_rest_stays_as_sent() {
        let shape = Shape::new("crm_lead", &json!({}));
        let sent = r#"{"id":1,"name":"A","start_date":"","deadline":"0000-00-00","closing_date":"2024-02-29","last_activity_time":"0000-00-00 00:00:00","budget":"","created_date":"2024-01-01 10:00:00"}"#;
        let (text, shaped) = shape_one(&shape, sent);
        assert_eq!(
            text,
            r#"{"id":1,"name":"A","start_date":null,"deadline":null,"closing_date":"2024-02-29","last_activity_time":null,"budget":"","created_date":"2024-01-01 10:00:00"}"#
        );
        assert!(shaped.misfits.is_empty());
        // Nothing to change: the exact text, spacing included.
        let fine = r#"{"id":2,"name":"B","deadline":"2024-03-01","start_date":null}"#;
        assert_eq!(shape_one(&shape, fine).0, fine);
        let spaced = "{\"id\": 3, \"deadline\": \"2024-03-01\"}";
        assert_eq!(shape_one(&shape, spaced).0, spaced);
        let spaced_blank = "{\"id\": 3, \"deadline\": \"\"}";
        assert_eq!(shape_one(&shape, spaced_blank).0, r#"{"id":3,"deadline":null}"#);
    }

    #[test]
    fn misfits_are_null_in_their_column_and_kept_as_sent() {
        let shape = Shape::new("task_tasks", &json!({}));
        let sent = r#"{"id":1,"is_archive":"1","deadline":"31.12.2024","start_date":"2024-01-05","closed_date":"2024-01-05 10:00"}"#;
        let (text, shaped) = shape_one(&shape, sent);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"id": 1, "is_archive": 1, "deadline": null, "start_date": "2024-01-05 00:00:00",
                   "closed_date": "2024-01-05 10:00:00", "_flowlu_raw_values": {"deadline": "31.12.2024"}})
        );
        assert_eq!(shaped.misfits, BTreeMap::from([("deadline".to_string(), 1)]));
        let items = Shape::new("fin_invoice_item", &json!({}));
        let (text, shaped) = shape_one(&items, r#"{"id":1,"discount":"12.50"}"#);
        assert_eq!(
            (text.as_str(), shaped.misfits.len()),
            (r#"{"id":1,"discount":12.5}"#, 0)
        );
        let (text, _) = shape_one(&items, r#"{"id":1,"discount":"10%"}"#);
        assert_eq!(
            text,
            r#"{"id":1,"discount":null,"_flowlu_raw_values":{"discount":"10%"}}"#
        );
        let contacts = Shape::new("fin_invoice_contacts", &json!({}));
        let (text, _) = shape_one(&contacts, r#"{"id":1,"contact_id":"17"}"#);
        assert_eq!(text, r#"{"id":1,"contact_id":17}"#);
        let (text, _) = shape_one(&contacts, r#"{"id":1,"contact_id":""}"#);
        assert_eq!(text, r#"{"id":1,"contact_id":null}"#);
        let fine = r#"{"id":1,"contact_id":17}"#;
        assert_eq!(shape_one(&contacts, fine).0, fine);
    }

    #[test]
    fn custom_fields_follow_the_catalogs_mapping_and_type() {
        let schema = json!({"properties": {
            "open_budget": {"type": ["number", "null"], "x-flowlu-field": {"id": "7", "key": "cf_7", "type": "number", "part": "value"}},
            "region": {"type": ["string", "null"], "x-flowlu-field": {"id": "9", "key": "tier_9", "type": "select", "part": "value"}},
            "region_label": {"type": ["string", "null"], "x-flowlu-field": {"id": "9", "key": "tier_9_value", "type": "select", "part": "label"}},
            "signed": {"type": ["integer", "null"], "x-flowlu-field": {"id": "11", "key": "cf_11", "type": "checkbox", "part": "value"}}
        }});
        let shape = Shape::new("crm_account", &schema);
        let sent = r#"{"id":1,"cf_7":"1200.50","tier_9":"2","tier_9_value":"Option B","cf_11":"1","cf_99":"x","VAT":"DE1"}"#;
        let (text, _) = shape_one(&shape, sent);
        assert_eq!(
            text,
            r#"{"id":1,"open_budget":1200.5,"region":"2","region_label":"Option B","signed":1,"cf_99":"x","VAT":"DE1"}"#
        );
        // `cf_<id>` also names an aliased field.
        let (text, _) = shape_one(&shape, r#"{"id":2,"cf_9":"1","cf_7":""}"#);
        assert_eq!(text, r#"{"id":2,"region":"1","open_budget":null}"#);
    }

    #[test]
    fn accounts_vat_is_passed_on_as_vat_upper() {
        let shape = Shape::new("crm_account", &json!({}));
        assert_eq!(
            shape_one(&shape, r#"{"id":1,"vat":"X"}"#).0,
            r#"{"id":1,"VAT":"X"}"#
        );
        assert_eq!(
            shape_one(&shape, r#"{"id":1,"VAT":"X","vat":"X"}"#).0,
            r#"{"id":1,"VAT":"X"}"#
        );
        assert_eq!(
            shape_one(&shape, r#"{"id":1,"VAT":"X","vat":"Y"}"#).0,
            r#"{"id":1,"VAT":"X","_flowlu_raw_values":{"vat":"Y"}}"#
        );
    }
}
