//! The portal probe: a fixed, bounded set of read-only requests that measures every
//! assumption the connector makes about a Flowlu portal (`docs/flowlu-api.md`), and a
//! report that identifies none of the customer's data.
//!
//! * **Read-only by construction**: a [`Request`] holds a [`ReadMethod`] (`list`, `get`, or
//!   one deliberately unknown method name), so a probe cannot express a create, update or
//!   delete; requests are GETs without a body.
//! * **Bounded**: [`plan_budget`] requests at most, enforced by [`Session`] (a request past the
//!   budget is never sent); the count and the time it takes are known before the first request.
//! * **Paced**: one request per interval ([`DEFAULT_INTERVAL`], at least [`MIN_INTERVAL`] on a
//!   real portal); after a rate refusal the interval doubles (or follows `Retry-After`). The
//!   probe never retries and never tries to provoke the rate cap.
//! * **Private**: the report holds field names, JSON types, string shapes (`blank`,
//!   `datetime`, ...), counts and Flowlu's error codes; never a value, a name, an e-mail, a
//!   record id, an error text (it may echo what was sent), the key in any encoding, or the
//!   account domain (unless asked). Custom fields appear as their `cf_<id>` column keys and
//!   `fieldset_id`s (ids of the portal's field configuration, needed to show how fields join,
//!   not ids of records); their labels and aliases are
//!   customer-chosen text and are never reported: a record key equal to an alias is reported
//!   as `alias_of_cf_<id>` (a select field's `<alias>_value` as `alias_of_cf_<id>_value`).
//!   Every page of custom field rows is read first (up to [`CUSTOM_FIELD_PAGES`]), so every
//!   alias is known; when they cannot all be read (more rows than that, or a refusal), a
//!   record key is named only when the stream schema declares it or it is a `cf_<id>` key. Record keys that are not plain
//!   identifiers (and those) are only counted. Rate headers are reported as numbers or as one
//!   of [`session::HEADER_FORMS`], never as their text. Each custom field row says
//!   which streams it joins as the connector's `discover` joins it (module and singular model,
//!   else `fieldset_id`) and in which streams its column was seen.
//!
//! The probe sends through the connector's own [`crate::Client`] ([`Session`]): its body cap,
//! its resolver (a name that does not resolve stops the probe as no portal), its timeouts, no
//! redirects. It takes the answer undecoded, because it must see what the client deliberately
//! hides (the HTTP status and headers of an error, the shape of its body); each answer is then
//! read by the connector's own decoder (with the client's key redacted and its value budget),
//! so the report says what the connector makes of it.
//!
//! The outcome is `complete`; `incomplete` when models it meant to read could not be read
//! (`outcome_reason` counts those refused for the rate cap apart from those the portal would
//! not serve); or `stopped` (a rejected key, no portal, an unreachable one).
//!
//! The report (`report_version` 2; [`compare`] reads version 1 too) is a JSON object with these
//! members: `report_version`, `connector_version`, `portal`, `requests`, `outcome`,
//! `outcome_reason`, `models`, `denied_modules`,
//! `unsupported_streams`, `paging` (with `page_size`), `totals`, `wrong_key`,
//! `unknown_method`, `get_vs_list`, `rate_limit`, `custom_fields` and `differences` (what
//! [`compare`] finds: where the portal differs from what the connector assumes, and what the
//! connector does about it). [`compare`] can be run again on a saved report.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::base::cursor::CursorValue;
use crate::base::error::Error;
use crate::base::stream_schema::{schema_with, CustomField};
use crate::base::streams::{CursorKind, Model, MODELS};
use crate::client::ListPage;

mod session;

pub use session::WRONG_KEY;
use session::{is_plain_key, json_type, Answer, Refusal};
pub(crate) use session::{ReadMethod, Request, Session, Target};

/// The version of the report's schema.
pub(crate) const REPORT_VERSION: u64 = 2;
/// The report versions [`compare`] reads (what it reads is the same in both).
pub(crate) const COMPARABLE_VERSIONS: [u64; 2] = [1, 2];
/// The default time between two requests.
pub(crate) const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);
/// The shortest time allowed between two requests to a real portal.
pub(crate) const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// The page size of the one page read of each model.
pub(crate) const SURVEY_LIMIT: u32 = 100;
/// The page sizes asked, largest first, until one is answered.
pub const PAGE_SIZES: [u32; 4] = [1000, 500, 200, 100];
/// The page size of the order, page and filter experiments.
pub(crate) const SAMPLE_LIMIT: u32 = 10;
/// The cursor columns of [`MODELS`]: each is ordered by and filtered on once.
pub const CURSOR_COLUMNS: &[&str] = &["updated_date", "updated"];
/// The most pages of `SURVEY_LIMIT` custom field rows read (`customfields/fields`): every
/// alias must be known to keep it out of the report. A portal with more custom fields than
/// these pages hold is reported with `custom_fields.all_read` false, and then no record key
/// outside the connector's stream schemas and `cf_<id>` is reported by name.
pub const CUSTOM_FIELD_PAGES: usize = 5;
/// Requests besides one page per model: the custom field pages after the first; the page
/// sizes; ascending, descending, page 2, the id filter and one `get`; the order and the filter
/// of each cursor column; the wrong key and the unknown method.
pub(crate) const EXPERIMENTS: usize =
    (CUSTOM_FIELD_PAGES - 1) + PAGE_SIZES.len() + 5 + 2 * CURSOR_COLUMNS.len() + 2;

/// The most requests a probe of `models` models sends.
pub fn plan_budget(models: usize) -> usize {
    models + EXPERIMENTS
}

/// How long a probe of `requests` requests takes at least, one every `interval`.
pub(crate) fn plan_duration(requests: usize, interval: Duration) -> Duration {
    interval.saturating_mul(u32::try_from(requests.saturating_sub(1)).unwrap_or(u32::MAX))
}

/// The shape of a string, never its value.
fn string_shape(text: &str) -> &'static str {
    let t = text.trim();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let is_date = |s: &str| {
        s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    let is_time = |s: &str| {
        s.len() == 8
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 2 || i == 5 {
                    b == b':'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    if t.is_empty() {
        "blank"
    } else if t == "0000-00-00 00:00:00" {
        "zero_datetime"
    } else if t == "0000-00-00" {
        "zero_date"
    } else if t.len() == 19 && is_date(&t[..10]) && &t[10..11] == " " && is_time(&t[11..]) {
        "datetime"
    } else if is_date(t) {
        "date"
    } else if digits(t.trim_start_matches('-')) {
        "integer_text"
    } else if t.parse::<f64>().is_ok_and(f64::is_finite) {
        "decimal_text"
    } else {
        "text"
    }
}

/// What was seen of one field.
#[derive(Debug, Default)]
struct FieldSeen {
    types: BTreeSet<&'static str>,
    shapes: BTreeSet<&'static str>,
    blank: u64,
    zero_dates: u64,
}

/// How record keys are named in the report: custom field aliases replaced, and, unless every
/// custom field row was read, only the keys the connector knows named at all.
#[derive(Debug, Default)]
struct Naming {
    /// Alias -> `cf_<id>`, from the custom field rows read.
    aliases: BTreeMap<String, String>,
    /// Whether every custom field row was read (so every alias is in `aliases`).
    all_custom_fields: bool,
    /// The properties of each model's stream schema (without custom fields), built once.
    declared: std::cell::OnceCell<BTreeMap<&'static str, BTreeSet<String>>>,
}

impl Naming {
    /// The name `key` of a record of `model` is reported by; `None`: only counted.
    fn name(&self, model: &Model, key: &str) -> Option<String> {
        // A select field named by its alias also carries `<alias>_value`, its label.
        if let Some(cf) = self.aliases.get(key) {
            return Some(format!("alias_of_{cf}"));
        }
        if let Some(cf) = key.strip_suffix("_value").and_then(|base| self.aliases.get(base)) {
            return Some(format!("alias_of_{cf}_value"));
        }
        if !is_plain_key(key) {
            return None;
        }
        let custom = key
            .strip_prefix("cf_")
            .map(|rest| rest.strip_suffix("_value").unwrap_or(rest))
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
        // An alias of a custom field row not read looks like any other key: unless every row
        // was read, a key is named only when the connector's stream schema declares it.
        let declared = || {
            let declared = self.declared.get_or_init(|| {
                MODELS
                    .iter()
                    .map(|m| {
                        let schema = schema_with(m, &[]);
                        let names = schema["properties"]
                            .as_object()
                            .map(|p| p.keys().cloned().collect())
                            .unwrap_or_default();
                        (m.stream, names)
                    })
                    .collect()
            });
            declared
                .get(model.stream)
                .is_some_and(|names| names.contains(key))
        };
        (custom || self.all_custom_fields || declared()).then(|| key.to_string())
    }
}

/// The fields of a sample of records: names (aliases replaced), types and string shapes.
#[derive(Debug, Default)]
struct Fields {
    fields: BTreeMap<String, FieldSeen>,
    /// Keys not reported by name: not plain identifiers, or (not every custom field row read)
    /// not declared by the stream schema.
    other_keys: u64,
}

impl Fields {
    fn absorb(&mut self, record: &Value, model: &Model, naming: &Naming) {
        let Some(obj) = record.as_object() else {
            self.other_keys += 1;
            return;
        };
        for (key, value) in obj {
            let Some(name) = naming.name(model, key) else {
                self.other_keys += 1;
                continue;
            };
            let seen = self.fields.entry(name).or_default();
            seen.types.insert(json_type(value));
            if let Value::String(s) = value {
                let shape = string_shape(s);
                seen.shapes.insert(shape);
                match shape {
                    "blank" => seen.blank += 1,
                    "zero_datetime" | "zero_date" => seen.zero_dates += 1,
                    _ => {}
                }
            }
        }
    }

    fn to_json(&self) -> Value {
        let fields: Map<String, Value> = self
            .fields
            .iter()
            .map(|(name, seen)| {
                (
                    name.clone(),
                    json!({
                        "types": seen.types,
                        "string_shapes": seen.shapes,
                        "blank": seen.blank,
                        "zero_dates": seen.zero_dates,
                    }),
                )
            })
            .collect();
        Value::Object(fields)
    }
}

/// One list answer, read for the report.
#[derive(Debug)]
struct Page {
    total: Option<u64>,
    total_result: Option<u64>,
    count: Option<u64>,
    items: Vec<Value>,
}

impl Page {
    fn read(response: Value) -> Result<Self, &'static str> {
        let number =
            |v: Option<&Value>| v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
        let (total, total_result) = (
            number(response.get("total")),
            number(response.get("total_result")),
        );
        let list = ListPage::from_response(response).map_err(|_| "malformed list answer")?;
        Ok(Self {
            total,
            total_result,
            count: list.count,
            items: list.items,
        })
    }

    fn total(&self) -> Option<u64> {
        self.total.or(self.total_result)
    }

    fn ids(&self) -> Vec<Option<u64>> {
        self.items.iter().map(|r| record_id(r.get("id"))).collect()
    }
}

fn record_id(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The verdict of one experiment.
fn verdict(verdict: &str, why: &str) -> Value {
    json!({"verdict": verdict, "why": why})
}

fn refused(refusal: &Refusal) -> Value {
    if refusal.rate {
        return json!({"verdict": "inconclusive", "why": RATE_REFUSED, "error": refusal.to_json()});
    }
    json!({"verdict": "refused", "why": "the portal answered with an error", "error": refusal.to_json()})
}

/// Why an experiment answered by a rate refusal says nothing.
const RATE_REFUSED: &str =
    "refused for the account's rate limit: the answer says nothing about what was asked";

/// The answer to the wrong key or the unknown method, as reported: a rate refusal is
/// inconclusive (it says nothing of how the portal answers a wrong key or method).
fn error_answer(answer: &Answer) -> Value {
    match answer {
        Answer::Refused(r) if r.rate => {
            let mut out = r.to_json();
            out["verdict"] = json!("inconclusive");
            out["why"] = json!(RATE_REFUSED);
            out
        }
        Answer::Refused(r) => r.to_json(),
        Answer::Ok(_) => json!({"accepted": true}),
        Answer::NotSent => json!(NOT_RUN),
    }
}

const NOT_RUN: &str = "not_run";

/// Runs a probe: at most [`plan_budget`]`(MODELS.len())` requests; returns the report.
///
/// `announce` is called once before the first request with the budget and the time it takes.
pub(crate) async fn run(target: Target, announce: impl FnOnce(usize, Duration)) -> Result<Value, Error> {
    let budget = plan_budget(MODELS.len());
    announce(budget, plan_duration(budget, target.interval));
    let mut session = Session::new(target, budget);
    let mut probe = Probe::default();
    let outcome = probe.survey(&mut session).await;
    if outcome.is_none() {
        probe.errors(&mut session).await;
        probe.paging(&mut session).await;
    }
    Ok(probe.report(&session, outcome))
}

/// What a probe found so far.
#[derive(Debug, Default)]
struct Probe {
    models: Vec<Value>,
    fields: BTreeMap<&'static str, Fields>,
    samples: BTreeMap<&'static str, Page>,
    naming: Naming,
    /// Custom field pages read (of [`CUSTOM_FIELD_PAGES`] at most).
    custom_pages: usize,
    custom_rows: Vec<Value>,
    denied: BTreeSet<&'static str>,
    unsupported: Vec<&'static str>,
    paging: Map<String, Value>,
    wrong_key: Value,
    unknown_method: Value,
    get_vs_list: Value,
}

impl Probe {
    /// One page of every model, custom fields first (their aliases are needed to read the
    /// others). Returns why the probe stopped, if it did.
    async fn survey(&mut self, session: &mut Session) -> Option<&'static str> {
        let order = MODELS
            .iter()
            .filter(|m| m.stream == "customfields_fields")
            .chain(MODELS.iter().filter(|m| m.stream != "customfields_fields"));
        for model in order {
            let params = vec![
                ("page".to_string(), "1".to_string()),
                ("limit".to_string(), SURVEY_LIMIT.to_string()),
            ];
            let entry = match session.send(&Request::list(model, params)).await {
                Answer::NotSent => return Some("the request budget was spent"),
                Answer::Refused(r) => {
                    match r.connector_class {
                        "auth" => return Some("the portal rejected the API key"),
                        "unknown_account" => return Some("no Flowlu portal answered at this address"),
                        "transport" if self.models.is_empty() => {
                            return Some("the portal could not be reached")
                        }
                        "permission" => {
                            self.denied.insert(model.module);
                        }
                        "unsupported" => self.unsupported.push(model.stream),
                        _ => {}
                    }
                    let access = match r.connector_class {
                        "permission" => "denied",
                        "unsupported" => "unsupported",
                        _ if r.rate => "rate_limited",
                        _ => "refused",
                    };
                    json!({"stream": model.stream, "access": access, "error": r.to_json()})
                }
                Answer::Ok(response) => match Page::read(response) {
                    Err(why) => json!({"stream": model.stream, "access": "refused", "why": why}),
                    Ok(page) => {
                        if model.stream == "customfields_fields" {
                            self.read_custom_field_pages(session, model, &page).await;
                        }
                        self.absorb_survey(model, page)
                    }
                },
            };
            self.models.push(entry);
        }
        None
    }

    /// Every custom field row, `first` and the pages after it (up to [`CUSTOM_FIELD_PAGES`]
    /// in all, until a short page): their aliases must all be known before records are read.
    async fn read_custom_field_pages(&mut self, session: &mut Session, model: &'static Model, first: &Page) {
        self.read_custom_fields(&first.items);
        self.custom_pages = 1;
        let mut last_full = first.items.len() >= SURVEY_LIMIT as usize;
        while last_full && self.custom_pages < CUSTOM_FIELD_PAGES {
            let params = vec![
                ("page".to_string(), (self.custom_pages + 1).to_string()),
                ("limit".to_string(), SURVEY_LIMIT.to_string()),
            ];
            let Answer::Ok(response) = session.send(&Request::list(model, params)).await else {
                return;
            };
            let Ok(page) = Page::read(response) else {
                return;
            };
            self.read_custom_fields(&page.items);
            self.custom_pages += 1;
            last_full = page.items.len() >= SURVEY_LIMIT as usize;
        }
        self.naming.all_custom_fields = !last_full;
    }

    fn absorb_survey(&mut self, model: &'static Model, page: Page) -> Value {
        let mut fields = Fields::default();
        for record in &page.items {
            fields.absorb(record, model, &self.naming);
        }
        let served = page.items.len() as u64;
        let entry = json!({
            "stream": model.stream,
            "access": "readable",
            "asked_limit": SURVEY_LIMIT,
            "served": served,
            "count": page.count,
            "total": page.total,
            "total_result": page.total_result,
            "fields": fields.to_json(),
            "other_keys": fields.other_keys,
        });
        self.fields.insert(model.stream, fields);
        self.samples.insert(model.stream, page);
        entry
    }

    /// The custom field rows: how each joins, never its name or alias text.
    fn read_custom_fields(&mut self, rows: &[Value]) {
        let text = |row: &Value, k: &str| match row.get(k) {
            Some(Value::String(s)) => Some(s.trim().to_string()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let flag = |row: &Value, k: &str| match row.get(k) {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::Number(n)) => Some(n.as_u64() == Some(1)),
            Some(Value::String(s)) => Some(s.trim() == "1"),
            _ => None,
        };
        let name_like = |v: Option<String>| match v {
            Some(v) if v.len() <= 32 && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => json!(v),
            Some(_) => json!("(other)"),
            None => Value::Null,
        };
        for row in rows {
            let Some(id) = record_id(row.get("id")) else {
                continue;
            };
            let key = format!("cf_{id}");
            let alias = text(row, "alias").filter(|a| !a.is_empty());
            if let Some(alias) = &alias {
                self.naming.aliases.insert(alias.clone(), key.clone());
            }
            self.custom_rows.push(json!({
                "key": key,
                "type": name_like(text(row, "type")),
                "module": name_like(text(row, "module")),
                "model": name_like(text(row, "model")),
                "fieldset_id": record_id(row.get("fieldset_id")),
                "api_use_alias": flag(row, "api_use_alias"),
                "has_alias": alias.is_some(),
            }));
        }
    }

    /// The answers to a wrong key and to an unknown method.
    async fn errors(&mut self, session: &mut Session) {
        let validation = Request {
            module: "core",
            model: "user",
            method: ReadMethod::List,
            params: vec![("page".into(), "1".into()), ("limit".into(), "1".into())],
            wrong_key: true,
        };
        self.wrong_key = error_answer(&session.send(&validation).await);
        let Some(model) = self.paging_model() else {
            self.unknown_method = json!(NOT_RUN);
            return;
        };
        let unknown = Request {
            module: model.module,
            model: model.model,
            method: ReadMethod::NoSuchMethod,
            params: Vec::new(),
            wrong_key: false,
        };
        self.unknown_method = error_answer(&session.send(&unknown).await);
    }

    /// The readable model with a timestamp cursor and the most records seen.
    fn paging_model(&self) -> Option<&'static Model> {
        self.largest_readable(|m| matches!(m.cursor, Some((_, CursorKind::Timestamp))))
    }

    /// Of the readable models that `fits`, the one with the most records seen (the first of
    /// equals).
    fn largest_readable(&self, fits: impl Fn(&Model) -> bool) -> Option<&'static Model> {
        MODELS
            .iter()
            .enumerate()
            .filter(|(_, m)| fits(m))
            .filter_map(|(i, m)| Some((i, m, self.samples.get(m.stream)?)))
            .filter(|(_, _, p)| !p.items.is_empty())
            .max_by_key(|(i, _, p)| (p.items.len(), p.total().unwrap_or(0), MODELS.len() - i))
            .map(|(_, m, _)| m)
    }

    /// Page size, order, page and filters on one model.
    async fn paging(&mut self, session: &mut Session) {
        let Some(model) = self.paging_model() else {
            self.paging.insert("model".into(), Value::Null);
            self.paging
                .insert("why".into(), json!("no readable model with a cursor had records"));
            return;
        };
        self.paging.insert("model".into(), json!(model.stream));
        let page_size = self.page_size(session, model).await;
        self.paging.insert("page_size".into(), page_size);
        let sample = |extra: Vec<(String, String)>, page: u32| {
            let mut params = vec![
                ("page".to_string(), page.to_string()),
                ("limit".to_string(), SAMPLE_LIMIT.to_string()),
            ];
            params.extend(extra);
            Request::list(model, params)
        };
        let asc_id = || vec![("order_by[asc][]".to_string(), "id".to_string())];
        let asc = session.send(&sample(asc_id(), 1)).await;
        let asc_ids = ok_ids(&asc);
        self.paging.insert("order_asc".into(), order_verdict(&asc, true));
        let desc = session
            .send(&sample(vec![("order_by[desc][]".into(), "id".into())], 1))
            .await;
        self.paging
            .insert("order_desc".into(), order_verdict(&desc, false));
        let page2 = session.send(&sample(asc_id(), 2)).await;
        self.paging
            .insert("page".into(), page_verdict(asc_ids.as_deref(), &page2));
        let id_filter = match asc_ids.as_deref() {
            Some([_, Some(x), ..]) => {
                let mut params = asc_id();
                params.push((
                    "filter[id]".into(),
                    json!({"type": "more", "value": x}).to_string(),
                ));
                let answer = session.send(&sample(params, 1)).await;
                filter_verdict(&answer, |r| record_id(r.get("id")).is_some_and(|id| id > *x))
            }
            _ => verdict(
                "inconclusive",
                "fewer than two records with numeric ids to filter between",
            ),
        };
        self.paging.insert("filter_id".into(), id_filter);
        self.cursor_experiments(session, model).await;
        self.get_vs_list = self.get_vs_list(session, model, asc_ids.as_deref()).await;
    }

    /// For each cursor column, on the readable model with that column and the most records:
    /// `order_by` on it (then id), and `filter[column]={"type":"more",...}`, as the source sends
    /// them.
    async fn cursor_experiments(&mut self, session: &mut Session, paging_model: &'static Model) {
        let mut cursors = Map::new();
        for &column in CURSOR_COLUMNS {
            let model = if paging_model.cursor.is_some_and(|(c, _)| c == column) {
                Some(paging_model)
            } else {
                self.largest_readable(|m| m.cursor.is_some_and(|(c, _)| c == column))
            };
            let result = match model {
                Some(model) => self.cursor_experiment(session, model).await,
                None => json!({"stream": null, "why": "no readable model with this cursor had records"}),
            };
            cursors.insert(column.to_string(), result);
        }
        self.paging.insert("cursors".into(), Value::Object(cursors));
    }

    async fn cursor_experiment(&mut self, session: &mut Session, model: &'static Model) -> Value {
        let Some((column, kind)) = model.cursor else {
            return Value::Null;
        };
        let by_cursor = || {
            vec![
                ("page".to_string(), "1".to_string()),
                ("limit".to_string(), SAMPLE_LIMIT.to_string()),
                ("order_by[asc][]".to_string(), column.to_string()),
                ("order_by[asc][]".to_string(), "id".to_string()),
            ]
        };
        let key = |r: &Value| {
            (
                r.get(column).and_then(|v| CursorValue::read(v, kind)),
                record_id(r.get("id")).unwrap_or(0),
            )
        };
        let ordered = session.send(&Request::list(model, by_cursor())).await;
        let order = match &ordered {
            Answer::Ok(response) => match Page::read(response.clone()) {
                Ok(page) => {
                    let keys: Vec<_> = page.items.iter().map(key).collect();
                    let distinct = keys.iter().map(|(c, _)| c).collect::<BTreeSet<_>>().len();
                    if keys.len() < 2 || distinct < 2 {
                        verdict("inconclusive", "fewer than two distinct cursor values came back")
                    } else if keys.windows(2).all(|w| w[0] <= w[1]) {
                        verdict("honoured", "records came back in (cursor, id) order")
                    } else {
                        verdict("ignored", "records came back out of (cursor, id) order")
                    }
                }
                Err(why) => verdict("inconclusive", why),
            },
            other => answer_verdict(other),
        };
        let values: BTreeSet<CursorValue> = self
            .samples
            .get(model.stream)
            .map(|p| {
                p.items
                    .iter()
                    .filter_map(|r| CursorValue::read(r.get(column)?, kind))
                    .filter(|c| !matches!(c, CursorValue::Text(t) if t.starts_with("0000")))
                    .collect()
            })
            .unwrap_or_default();
        // The pivot leaves records on both sides: some sent, some not.
        let pivot = values
            .iter()
            .nth(values.len().saturating_sub(1) / 2)
            .filter(|_| values.len() >= 2);
        let filter = match pivot {
            Some(pivot) => {
                let mut params = by_cursor();
                params.push((
                    format!("filter[{column}]"),
                    json!({"type": "more", "value": pivot.to_json()}).to_string(),
                ));
                let answer = session.send(&Request::list(model, params)).await;
                filter_verdict(&answer, |r| key(r).0.as_ref().is_some_and(|c| c > pivot))
            }
            None => verdict("inconclusive", "fewer than two distinct cursor values were seen"),
        };
        json!({"stream": model.stream, "order_cursor": order, "filter_cursor": filter})
    }

    /// The largest page size answered as asked.
    async fn page_size(&mut self, session: &mut Session, model: &'static Model) -> Value {
        let mut asked = Vec::new();
        let mut result = json!({"largest_honoured": null, "bound": "unknown"});
        for limit in PAGE_SIZES {
            let params = vec![
                ("page".to_string(), "1".to_string()),
                ("limit".to_string(), limit.to_string()),
            ];
            match session.send(&Request::list(model, params)).await {
                Answer::NotSent => break,
                Answer::Refused(r) => {
                    if r.rate {
                        result["bound"] = json!("inconclusive");
                        result["why"] = json!(RATE_REFUSED);
                    }
                    asked.push(json!({"limit": limit, "error": r.to_json()}));
                }
                Answer::Ok(response) => {
                    let Ok(page) = Page::read(response) else {
                        asked.push(json!({"limit": limit, "error": "malformed list answer"}));
                        continue;
                    };
                    let served = page.items.len() as u64;
                    let total = page.total();
                    asked.push(json!({"limit": limit, "served": served, "total": total}));
                    let bound = if served >= u64::from(limit) {
                        "at_least"
                    } else if total.is_some_and(|t| served < t) {
                        "exact"
                    } else {
                        "at_least (every record fit in one page)"
                    };
                    result = json!({"largest_honoured": served.min(u64::from(limit)), "bound": bound});
                    break;
                }
            }
        }
        result["asked"] = Value::Array(asked);
        result
    }

    /// One `get` of the first record: its fields against the list's.
    async fn get_vs_list(
        &mut self,
        session: &mut Session,
        model: &'static Model,
        ids: Option<&[Option<u64>]>,
    ) -> Value {
        let Some(id) = ids.and_then(|ids| ids.first().copied().flatten()) else {
            return verdict("inconclusive", "no numeric id to get");
        };
        let request = Request {
            module: model.module,
            model: model.model,
            method: ReadMethod::Get(id),
            params: Vec::new(),
            wrong_key: false,
        };
        match session.send(&request).await {
            Answer::Ok(record) => {
                let record = record
                    .get("item")
                    .filter(|v| v.is_object())
                    .unwrap_or(&record)
                    .clone();
                let mut got = Fields::default();
                got.absorb(&record, model, &self.naming);
                let listed = self.fields.get(model.stream);
                let list_names: BTreeSet<&String> =
                    listed.map(|f| f.fields.keys().collect()).unwrap_or_default();
                let get_names: BTreeSet<&String> = got.fields.keys().collect();
                let differ: Vec<&String> = got
                    .fields
                    .iter()
                    .filter(|(k, seen)| {
                        listed
                            .and_then(|l| l.fields.get(*k))
                            .is_some_and(|l| !seen.types.is_subset(&l.types))
                    })
                    .map(|(k, _)| k)
                    .collect();
                json!({
                    "stream": model.stream,
                    "only_in_list": list_names.difference(&get_names).collect::<Vec<_>>(),
                    "only_in_get": get_names.difference(&list_names).collect::<Vec<_>>(),
                    "types_differ": differ,
                })
            }
            other => answer_verdict(&other),
        }
    }

    fn report(&self, session: &Session, stopped: Option<&'static str>) -> Value {
        let target = &session.target;
        let loopback = url::Url::parse(target.client.base_url())
            .ok()
            .and_then(|u| u.host().map(|h| h.to_owned()))
            .is_some_and(|h| match h {
                url::Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
                url::Host::Ipv4(ip) => ip.is_loopback(),
                url::Host::Ipv6(ip) => ip.is_loopback(),
            });
        let (outcome, reason) = self.outcome(stopped);
        let page_cap = self.page_cap();
        let totals = self.totals(page_cap);
        let custom = self.custom_joins();
        let mut models = self.models.clone();
        for entry in &mut models {
            if let Some(served) = entry["served"].as_u64() {
                entry["complete"] = json!(served < page_cap);
            }
        }
        let mut report = json!({
            "report_version": REPORT_VERSION,
            "connector_version": env!("CARGO_PKG_VERSION"),
            "portal": {
                "domain": target.include_domain.then(|| target.domain.clone()),
                "address": if loopback { "loopback" } else { "flowlu" },
            },
            "requests": {
                "budget": session.budget,
                "sent": session.sent,
                "interval_ms": u64::try_from(target.interval.as_millis()).unwrap_or(u64::MAX),
                "method": "GET only (list, get, and one unknown method name)",
            },
            "outcome": outcome,
            "outcome_reason": reason,
            "models": models,
            "denied_modules": self.denied,
            "unsupported_streams": self.unsupported,
            "paging": self.paging,
            "totals": totals,
            "wrong_key": self.wrong_key,
            "unknown_method": self.unknown_method,
            "get_vs_list": self.get_vs_list,
            "rate_limit": {
                "met": !session.rate_refusals.is_empty(),
                "refusals": session.rate_refusals,
            },
            "custom_fields": custom,
        });
        report["differences"] = Value::Array(compare(&report).iter().map(Difference::to_json).collect());
        report
    }

    /// `complete`; `stopped` (and why) when the probe could not go on; `incomplete` (and why)
    /// when models it meant to read could not be read: those refused for the rate cap are
    /// counted apart from those the portal would not serve.
    fn outcome(&self, stopped: Option<&'static str>) -> (&'static str, Option<String>) {
        if let Some(why) = stopped {
            return ("stopped", Some(why.to_string()));
        }
        let count = |access: &str| self.models.iter().filter(|m| m["access"] == access).count();
        let (rate, unreadable) = (count("rate_limited"), count("refused"));
        if rate + unreadable == 0 {
            return ("complete", None);
        }
        let mut parts = Vec::new();
        if rate > 0 {
            parts.push(format!(
                "{rate} refused for the account's rate cap (not a refusal of the model: probe again later)"
            ));
        }
        if unreadable > 0 {
            parts.push(format!(
                "{unreadable} answered with an error or an answer the connector cannot read (see each model's `error`)"
            ));
        }
        let reason = format!(
            "{} of {} models could not be read: {}",
            rate + unreadable,
            self.models.len(),
            parts.join("; ")
        );
        ("incomplete", Some(reason))
    }

    /// The page size the survey pages were served with: a page shorter than it is the whole
    /// model.
    fn page_cap(&self) -> u64 {
        let size = &self.paging.get("page_size").cloned().unwrap_or_default();
        match size["largest_honoured"].as_u64() {
            Some(cap) if size["bound"] == "exact" => cap.min(u64::from(SURVEY_LIMIT)),
            _ => u64::from(SURVEY_LIMIT),
        }
    }

    /// `total` and `total_result` against what was served.
    fn totals(&self, page_cap: u64) -> Value {
        let mut out = json!({"models_with_total": 0, "models_with_total_result": 0, "models_with_both": 0,
            "both_disagree": 0, "wrong_on_a_complete_page": 0, "below_served": 0});
        let mut bump = |k: &str| {
            if let Some(n) = out[k].as_u64() {
                out[k] = json!(n + 1);
            }
        };
        for page in self.samples.values() {
            let served = page.items.len() as u64;
            let complete = served < page_cap;
            if page.total.is_some() {
                bump("models_with_total");
            }
            if page.total_result.is_some() {
                bump("models_with_total_result");
            }
            if let (Some(a), Some(b)) = (page.total, page.total_result) {
                bump("models_with_both");
                if a != b {
                    bump("both_disagree");
                }
            }
            for t in [page.total, page.total_result].into_iter().flatten() {
                if complete && t != served {
                    bump("wrong_on_a_complete_page");
                    break;
                }
                if t < served {
                    bump("below_served");
                    break;
                }
            }
        }
        out
    }

    /// How each custom field joins the records: where its `cf_<id>` key was seen.
    fn custom_joins(&self) -> Value {
        let readable = self.samples.contains_key("customfields_fields");
        let rows: Vec<Value> = self
            .custom_rows
            .iter()
            .map(|row| {
                let key = row["key"].as_str().unwrap_or_default();
                let found: Vec<&str> = self
                    .fields
                    .iter()
                    .filter(|(_, f)| {
                        f.fields.contains_key(key) || f.fields.contains_key(&format!("alias_of_{key}"))
                    })
                    .map(|(s, _)| *s)
                    .collect();
                let value_key = self.fields.values().any(|f| {
                    f.fields.contains_key(&format!("{key}_value"))
                        || f.fields.contains_key(&format!("alias_of_{key}_value"))
                });
                let (streams, joined_by) = match connector_field(row) {
                    Some((streams, _, by)) => (streams, json!(by)),
                    None => (Vec::new(), Value::Null),
                };
                let mut row = row.clone();
                row["joins_streams"] = json!(streams);
                row["joined_by"] = joined_by;
                row["seen_in_streams"] = json!(found);
                row["value_key_seen"] = json!(value_key);
                row
            })
            .collect();
        json!({"readable": readable, "pages_read": self.custom_pages,
            "all_read": self.naming.all_custom_fields, "rows": rows.len(), "fields": rows})
    }
}

/// A custom field row of a report as the connector's `discover` reads it
/// ([`CustomField::from_record`]): the streams it joins, the field (an alias, where
/// `api_use_alias` is set, named `alias_of_cf_<id>` as the report names its column) and what it
/// joined by (`module_model`: the module and the singular or path model; else `fieldset_id`).
fn connector_field(row: &Value) -> Option<(Vec<&'static str>, CustomField, &'static str)> {
    let key = row["key"].as_str()?;
    let id = key.strip_prefix("cf_")?;
    let mut record = json!({"id": id, "type": row["type"], "module": row["module"], "model": row["model"]});
    if row["api_use_alias"] == true {
        record["api_use_alias"] = json!("1");
        record["alias"] = json!(format!("alias_of_{key}"));
    }
    if let Some((streams, field)) = CustomField::from_record(&record) {
        return Some((streams, field, "module_model"));
    }
    record["fieldset_id"] = row["fieldset_id"].clone();
    CustomField::from_record(&record).map(|(streams, field)| (streams, field, "fieldset_id"))
}

fn ok_ids(answer: &Answer) -> Option<Vec<Option<u64>>> {
    match answer {
        Answer::Ok(response) => Page::read(response.clone()).ok().map(|p| p.ids()),
        _ => None,
    }
}

fn answer_verdict(answer: &Answer) -> Value {
    match answer {
        Answer::Refused(r) => refused(r),
        Answer::NotSent => verdict(NOT_RUN, "the request budget was spent"),
        Answer::Ok(_) => verdict("inconclusive", "an answer that is not a list"),
    }
}

fn order_verdict(answer: &Answer, ascending: bool) -> Value {
    let Some(ids) = ok_ids(answer) else {
        return answer_verdict(answer);
    };
    let ids: Option<Vec<u64>> = ids.into_iter().collect();
    let Some(ids) = ids.filter(|ids| ids.len() >= 2) else {
        return verdict(
            "inconclusive",
            "fewer than two records with numeric ids came back",
        );
    };
    let up = ids.windows(2).all(|w| w[0] < w[1]);
    let down = ids.windows(2).all(|w| w[0] > w[1]);
    match (ascending, up, down) {
        (true, true, _) | (false, _, true) => verdict("honoured", "ids came back in the order asked"),
        _ => verdict("ignored", "ids came back in another order"),
    }
}

fn page_verdict(first: Option<&[Option<u64>]>, answer: &Answer) -> Value {
    let Some(second) = ok_ids(answer) else {
        return answer_verdict(answer);
    };
    let Some(first) = first.filter(|f| f.len() >= SAMPLE_LIMIT as usize) else {
        return verdict(
            "inconclusive",
            "page 1 was not full, so there is no page 2 to tell apart",
        );
    };
    if second.is_empty() {
        return verdict("inconclusive", "page 2 came back empty");
    }
    if second == first {
        return verdict("ignored", "page 2 repeated page 1");
    }
    let overlap = second.iter().any(|id| id.is_some() && first.contains(id));
    if overlap {
        verdict("ignored", "page 2 shared records with page 1")
    } else {
        verdict("honoured", "page 2 held other records than page 1")
    }
}

fn filter_verdict(answer: &Answer, keeps: impl Fn(&Value) -> bool) -> Value {
    match answer {
        Answer::Ok(response) => match Page::read(response.clone()) {
            Ok(page) if page.items.is_empty() => verdict(
                "inconclusive",
                "nothing came back although records match the filter",
            ),
            Ok(page) if page.items.iter().all(&keeps) => {
                verdict("honoured", "only matching records came back")
            }
            Ok(_) => verdict("ignored", "records outside the filter came back"),
            Err(why) => verdict("inconclusive", why),
        },
        other => answer_verdict(other),
    }
}

/// One place where a report contradicts what the connector assumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// What it is about (`page_size`, `order_desc`, `schema:crm_account.id`, ...).
    pub topic: String,
    /// What the connector assumes.
    pub assumed: String,
    /// What the report shows.
    pub observed: String,
    /// What the connector does about it.
    pub connector_action: String,
}

impl Difference {
    fn new(topic: impl Into<String>, assumed: &str, observed: impl Into<String>, action: &str) -> Self {
        Self {
            topic: topic.into(),
            assumed: assumed.into(),
            observed: observed.into(),
            connector_action: action.into(),
        }
    }

    /// As a JSON object.
    pub fn to_json(&self) -> Value {
        json!({"topic": self.topic, "assumed": self.assumed, "observed": self.observed,
            "connector_action": self.connector_action})
    }
}

/// Where a report differs from what this connector assumes (`docs/flowlu-api.md`) and from
/// its stream schemas. A report of a portal that behaves as assumed yields nothing.
pub fn compare(report: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    compare_paging(report, &mut out);
    compare_errors(report, &mut out);
    compare_totals(&report["totals"], &mut out);
    compare_schemas(report, &mut out);
    out
}

fn compare_paging(report: &Value, out: &mut Vec<Difference>) {
    let paging = &report["paging"];
    let size = &paging["page_size"];
    if let Some(largest) = size["largest_honoured"].as_u64() {
        let exact = size["bound"] == "exact";
        if (exact && largest < 100) || largest > 100 {
            out.push(Difference::new(
                "page_size",
                "pages of 100 records are served as asked (the largest size other clients use)",
                format!("largest page honoured: {largest} ({})", size["bound"].as_str().unwrap_or("?")),
                if largest < 100 {
                    "pages until a short or empty page whatever size is served; set advanced.page_size to the cap to save requests"
                } else {
                    "keeps pages of 100 at most; larger pages would need fewer requests"
                },
            ));
        }
    }
    let checks: [(&str, &str, &str); 4] = [
        ("order_asc", "order_by[asc][]=id is honoured", "checks the order of what comes back and guards on the client"),
        ("order_desc", "order_by[desc][]=id is honoured", "reads in ascending order only; nothing changes"),
        ("page", "page is honoured", "detects repeated ids and switches to keyset paging on filter[id]; stops with an error if that is ignored too"),
        ("filter_id", "filter[id]={\"type\":\"more\",...} is honoured", "filters on the client too; a server ignoring both page and filter[id] cannot be read past page 1"),
    ];
    for (key, assumed, action) in checks {
        verdict_difference(key, &paging[key], assumed, action, out);
    }
    let cursor_checks: [(&str, &str, &str); 2] = [
        ("order_cursor", "order_by[asc][] on the cursor column, then id, is honoured", "checks the order and compares (cursor, id) on the client; an incremental read then covers every page"),
        ("filter_cursor", "filter[<cursor>]={\"type\":\"more\",...} is honoured", "filters on the client, comparing (cursor, id): incremental reads stay correct but read every page"),
    ];
    for (column, result) in paging["cursors"].as_object().into_iter().flatten() {
        for (key, assumed, action) in cursor_checks {
            verdict_difference(&format!("{key}:{column}"), &result[key], assumed, action, out);
        }
    }
}

/// A difference when an experiment's verdict is `ignored` or `refused`.
fn verdict_difference(topic: &str, result: &Value, assumed: &str, action: &str, out: &mut Vec<Difference>) {
    let v = result["verdict"].as_str().unwrap_or(NOT_RUN);
    if v == "ignored" || v == "refused" {
        let mut observed = v.to_string();
        if let Some(code) = result["error"]["error_code"].as_i64() {
            observed.push_str(&format!(" (error {code})"));
        } else if let Some(status) = result["error"]["status"].as_u64() {
            observed.push_str(&format!(" (HTTP {status})"));
        }
        out.push(Difference::new(topic, assumed, observed, action));
    }
}

fn compare_errors(report: &Value, out: &mut Vec<Difference>) {
    let conclusive = |v: &Value| v.is_object() && v["verdict"] != "inconclusive";
    let wrong = &report["wrong_key"];
    if conclusive(wrong) && wrong["connector_reads_it_as"] != "auth" {
        out.push(Difference::new(
            "wrong_key",
            "a wrong key is answered with error 11 (HTTP 200) or HTTP 401/403",
            format!(
                "HTTP {}, error {}, read as {}",
                wrong["status"],
                wrong["error_code"],
                wrong["connector_reads_it_as"].as_str().unwrap_or("accepted")
            ),
            "would not tell the user that the key is wrong: report this",
        ));
    }
    let unknown = &report["unknown_method"];
    if conclusive(unknown) && unknown["error_code"] != json!(30) {
        out.push(Difference::new(
            "unknown_method",
            "an unknown method is answered with error 30",
            format!(
                "HTTP {}, error {}, read as {}",
                unknown["status"],
                unknown["error_code"],
                unknown["connector_reads_it_as"].as_str().unwrap_or("accepted")
            ),
            "reports the stream as unsupported only on error 30/31",
        ));
    }
    for refusal in report["rate_limit"]["refusals"].as_array().into_iter().flatten() {
        let class = refusal["connector_reads_it_as"].as_str().unwrap_or("?");
        let form = refusal["form"].as_str().unwrap_or("?");
        let (assumed, action) = if class == "rate_limited" {
            (
                "a rate refusal is HTTP 429 (Retry-After honoured when sent)",
                "retries with backoff and halves requests in flight",
            )
        } else {
            (
                "every rate refusal is recognised as one",
                "does not recognise this refusal as a rate cap: it is not retried; report this",
            )
        };
        out.push(Difference::new(
            "rate_limit",
            assumed,
            format!(
                "rate cap met: {form}, HTTP {}, Retry-After {}, read as {class}",
                refusal["status"],
                if refusal["retry_after_sent"] == true {
                    "sent"
                } else {
                    "not sent"
                }
            ),
            action,
        ));
    }
}

fn compare_totals(totals: &Value, out: &mut Vec<Difference>) {
    let n = |k: &str| totals[k].as_u64().unwrap_or(0);
    if n("models_with_total") == 0 && n("models_with_total_result") > 0 {
        out.push(Difference::new(
            "totals",
            "lists carry `total` (documented)",
            "lists carry `total_result` only",
            "reads `total_result`; totals are only a cross-check",
        ));
    }
    for (key, what) in [
        ("both_disagree", "`total` and `total_result` disagree"),
        (
            "wrong_on_a_complete_page",
            "the total differs from the records of a complete page",
        ),
        ("below_served", "the total is below the records served"),
    ] {
        if n(key) > 0 {
            out.push(Difference::new(
                "totals",
                "the total is the number of records",
                format!("{what} on {} models", n(key)),
                "never stops on a total while the last page was full",
            ));
        }
    }
}

/// JSON types a schema property allows, as the report names them.
fn allows(schema: &Value, seen: &str) -> bool {
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    types.contains(&seen) || (seen == "integer" && types.contains(&"number"))
}

fn compare_schemas(report: &Value, out: &mut Vec<Difference>) {
    // Each custom field row as this version of the connector joins it (not as the report
    // says: a saved report is judged by the connector reading it).
    let custom: Vec<(Vec<&'static str>, CustomField)> = report["custom_fields"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|row| connector_field(row).map(|(streams, field, _)| (streams, field)))
        .collect();
    for entry in report["models"].as_array().into_iter().flatten() {
        let Some(model) = entry["stream"].as_str().and_then(crate::base::streams::model) else {
            continue;
        };
        if entry["access"] != "readable" {
            continue;
        }
        let fields = &entry["fields"];
        let own: Vec<CustomField> = custom
            .iter()
            .filter(|(streams, _)| streams.contains(&model.stream))
            .map(|(_, field)| field.clone())
            .collect();
        let schema = schema_with(model, &own);
        let properties = schema["properties"].as_object().cloned().unwrap_or_default();
        for (name, property) in &properties {
            let Some(seen) = fields[name]["types"].as_array() else {
                continue;
            };
            let bad: Vec<&str> = seen
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| {
                    !allows(property, t)
                        && !crate::base::stream_schema::shaped_from_text(model.stream, name, property, t)
                })
                .collect();
            if !bad.is_empty() {
                out.push(Difference::new(
                    format!("schema:{}.{name}", model.stream),
                    "the stream schema's types",
                    format!("JSON types {} seen", bad.join(", ")),
                    "passes records on as sent; a destination validating against the schema may refuse them: report this",
                ));
            }
            // Every date is declared with its format; a blank or zero date is passed on as
            // null, so only the stamps Flowlu always sets (the cursors) must never be one.
            let want = match property["format"].as_str() {
                Some("date-time") => Some("datetime"),
                Some("date") => Some("date"),
                _ => None,
            };
            if let Some(want) = want {
                let odd: Vec<&str> = fields[name]["string_shapes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|s| *s != want)
                    .filter(|s| {
                        crate::base::stream_schema::is_stamp(name)
                            || !matches!(*s, "blank" | "zero_date" | "zero_datetime")
                    })
                    .collect();
                if !odd.is_empty() {
                    out.push(Difference::new(
                        format!("format:{}.{name}", model.stream),
                        "a field declared with a date format is always set (only the stamps Flowlu sets on every record are)",
                        format!("string shapes {} seen", odd.join(", ")),
                        "passes records on as sent; a typed destination may refuse the value in a timestamp column (PyAirbyte's DuckDB cache fails the stream): report this",
                    ));
                }
            }
        }
        let served = entry["served"].as_u64().unwrap_or(0);
        if let Some((column, kind)) = model.cursor.filter(|_| served > 0) {
            let shapes: Vec<&str> = fields[column]["string_shapes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            if fields.get(column).is_none() {
                out.push(Difference::new(
                    format!("cursor:{}.{column}", model.stream),
                    "records carry the cursor column",
                    "not seen in any record",
                    "cannot read this stream incrementally: records without a cursor sort first; report this",
                ));
            } else if kind == CursorKind::Timestamp {
                let odd: Vec<&str> = shapes
                    .iter()
                    .copied()
                    .filter(|s| !["datetime", "date", "blank"].contains(s))
                    .collect();
                if !odd.is_empty() {
                    out.push(Difference::new(
                        format!("cursor:{}.{column}", model.stream),
                        "cursor values are YYYY-MM-DD HH:mm:ss (or blank)",
                        format!("string shapes {} seen", odd.join(", ")),
                        "compares cursors as text: zero dates sort first, other forms may sort wrongly",
                    ));
                }
            }
        }
    }
    for row in report["custom_fields"]["fields"].as_array().into_iter().flatten() {
        let joined = connector_field(row)
            .map(|(streams, _, _)| streams)
            .unwrap_or_default();
        let seen: Vec<&str> = row["seen_in_streams"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(stream) = seen.iter().find(|s| !joined.contains(*s)) {
            out.push(Difference::new(
                format!("custom_field:{}", row["key"].as_str().unwrap_or("?")),
                "a custom field's row names the model of the records that carry it (module and singular model, else fieldset_id)",
                format!("seen in {stream}, but its row names another model"),
                "passes the column on as sent but does not describe it in the stream schema",
            ));
        }
    }
}

/// A readable summary of a report, for stderr.
pub(crate) fn summary(report: &Value) -> String {
    let mut s = String::new();
    let requests = &report["requests"];
    s.push_str(&format!(
        "Flowlu portal probe (report version {}, connector {}): {}; {} of {} requests sent.\n",
        report["report_version"],
        report["connector_version"].as_str().unwrap_or("?"),
        match report["outcome_reason"].as_str() {
            Some(why) => format!("{} ({why})", report["outcome"].as_str().unwrap_or("?")),
            None => report["outcome"].as_str().unwrap_or("?").to_string(),
        },
        requests["sent"],
        requests["budget"],
    ));
    let models = report["models"].as_array().map_or(&[][..], Vec::as_slice);
    let count = |access: &str| models.iter().filter(|m| m["access"] == access).count();
    s.push_str(&format!(
        "Models readable: {} of {}; refused for the rate cap: {}; unreadable: {}.\n",
        count("readable"),
        models.len(),
        count("rate_limited"),
        count("refused")
    ));
    if let Some(denied) = report["denied_modules"].as_array().filter(|d| !d.is_empty()) {
        let names: Vec<&str> = denied.iter().filter_map(Value::as_str).collect();
        s.push_str(&format!(
            "Modules the key may not read (error 22): {}.\n",
            names.join(", ")
        ));
    }
    let paging = &report["paging"];
    if let Some(model) = paging["model"].as_str() {
        s.push_str(&format!(
            "Paging measured on {model}: largest page honoured {} ({}).\n",
            paging["page_size"]["largest_honoured"],
            paging["page_size"]["bound"].as_str().unwrap_or("?")
        ));
        let line = |s: &mut String, name: &str, result: &Value| {
            if let Some(v) = result["verdict"].as_str() {
                s.push_str(&format!(
                    "  {name}: {v} ({})\n",
                    result["why"].as_str().unwrap_or("")
                ));
            }
        };
        for key in ["page", "order_asc", "order_desc", "filter_id"] {
            line(&mut s, key, &paging[key]);
        }
        for (column, result) in paging["cursors"].as_object().into_iter().flatten() {
            let on = result["stream"].as_str().unwrap_or("no model");
            line(
                &mut s,
                &format!("order by {column} (on {on})"),
                &result["order_cursor"],
            );
            line(
                &mut s,
                &format!("filter on {column} (on {on})"),
                &result["filter_cursor"],
            );
        }
    }
    s.push_str(&format!("Wrong key answered with: {}\n", report["wrong_key"]));
    s.push_str(&format!("Rate cap met: {}\n", report["rate_limit"]["met"]));
    let differences = report["differences"].as_array().map_or(&[][..], Vec::as_slice);
    if differences.is_empty() {
        s.push_str("No difference from what the connector assumes.\n");
    } else {
        s.push_str(&format!(
            "{} differences from what the connector assumes:\n",
            differences.len()
        ));
        for d in differences {
            s.push_str(&format!(
                "  - {}: assumed {}; observed {}. The connector: {}.\n",
                d["topic"].as_str().unwrap_or("?"),
                d["assumed"].as_str().unwrap_or("?"),
                d["observed"].as_str().unwrap_or("?"),
                d["connector_action"].as_str().unwrap_or("?"),
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::session::body_shape;
    use super::*;
    use crate::base::domain::AccountDomain;
    use crate::client::Client;
    use connector_core::Secret;

    #[test]
    fn string_shapes_name_no_value() {
        for (text, shape) in [
            ("", "blank"),
            ("  ", "blank"),
            ("0000-00-00 00:00:00", "zero_datetime"),
            ("0000-00-00", "zero_date"),
            ("2024-01-02 03:04:05", "datetime"),
            ("2024-01-02", "date"),
            ("2024-01-02T03:04:05Z", "text"),
            ("42", "integer_text"),
            ("-3", "integer_text"),
            ("1.50", "decimal_text"),
            ("ann@example.com", "text"),
        ] {
            assert_eq!(string_shape(text), shape, "{text:?}");
        }
    }

    #[test]
    fn fields_keep_names_and_types_only() {
        let mut fields = Fields::default();
        let naming = Naming {
            aliases: [("budget_eur".to_string(), "cf_3".to_string())].into(),
            all_custom_fields: true,
            ..Naming::default()
        };
        let account = crate::base::streams::model("crm_account").unwrap();
        fields.absorb(
            &json!({"id": 1, "name": "Ann", "cf_3": "", "budget_eur": 5, "ann@example.com": 1, "d": "0000-00-00"}),
            account,
            &naming,
        );
        let out = fields.to_json().to_string();
        assert!(
            !out.contains("Ann") && !out.contains("example") && !out.contains("budget_eur"),
            "{out}"
        );
        assert_eq!(fields.other_keys, 1);
        assert_eq!(fields.to_json()["alias_of_cf_3"]["types"], json!(["integer"]));
        assert_eq!(fields.to_json()["cf_3"]["blank"], json!(1));
        assert_eq!(fields.to_json()["d"]["zero_dates"], json!(1));
    }

    /// Unless every custom field row was read, a key the stream schema does not declare (an
    /// alias of a row not read, or its `_value` label column) is only counted.
    #[test]
    fn without_every_custom_field_row_only_declared_keys_are_named() {
        let naming = Naming {
            aliases: [("budget_eur".to_string(), "cf_3".to_string())].into(),
            all_custom_fields: false,
            ..Naming::default()
        };
        let account = crate::base::streams::model("crm_account").unwrap();
        let mut fields = Fields::default();
        fields.absorb(
            &json!({"id": 1, "name": "Ann", "budget_eur": 5, "vip_tier": "2", "vip_tier_value": "Gold",
                "cf_901": "x", "cf_901_value": "y", "cf_x": 1}),
            account,
            &naming,
        );
        let names: Vec<&String> = fields.fields.keys().collect();
        assert_eq!(names, ["alias_of_cf_3", "cf_901", "cf_901_value", "id", "name"]);
        assert_eq!(fields.other_keys, 3, "vip_tier, vip_tier_value, cf_x");
        let all = Naming {
            all_custom_fields: true,
            ..naming
        };
        let mut fields = Fields::default();
        fields.absorb(&json!({"id": 1, "new_standard_field": 1}), account, &all);
        assert!(fields.fields.contains_key("new_standard_field"));
    }

    #[test]
    fn body_shapes_hide_values_but_keep_flowlu_sentences() {
        let body = br#"{"error":{"error_code":11,"error_msg":"bad key abc"}}"#;
        let parsed: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            body_shape(Some(&parsed), body),
            json!({"error": {"error_code": "integer", "error_msg": "string"}})
        );
        let body = br#"{"error":"Request rate per second exceeded"}"#;
        let parsed: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            body_shape(Some(&parsed), body),
            json!({"error": "string", "error_text": "Request rate per second exceeded"})
        );
        assert_eq!(body_shape(None, b"<html>"), json!("html"));
        assert_eq!(body_shape(None, b"Too Many Requests"), json!("text"));
    }

    #[tokio::test]
    async fn the_budget_is_never_exceeded() {
        let mut session = Session::new(target(Duration::ZERO), 2);
        let request = Request::list(&MODELS[0], Vec::new());
        for _ in 0..2 {
            assert!(matches!(session.send(&request).await, Answer::Refused(_)));
        }
        assert!(matches!(session.send(&request).await, Answer::NotSent));
        assert_eq!(session.sent, 2);
    }

    fn target(interval: Duration) -> Target {
        let client = Client::builder(AccountDomain::parse("acme").unwrap(), Secret::new("k"))
            .base_url("http://127.0.0.1:9")
            .build()
            .unwrap();
        Target {
            client,
            domain: "acme".into(),
            include_domain: false,
            interval,
        }
    }

    /// A resolver that knows no host.
    struct NoSuchHost(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl reqwest::dns::Resolve for NoSuchHost {
        fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Box::pin(async { Err("failed to lookup address information: Name or service not known".into()) })
        }
    }

    /// The probe resolves names through the client's resolver: a name that does not resolve
    /// stops it after one request as no portal, not as a model it could not read.
    #[tokio::test]
    async fn a_name_that_does_not_resolve_stops_the_probe_as_no_portal() {
        let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = Client::builder(AccountDomain::parse("no-such-account").unwrap(), Secret::new("k"))
            .dns_resolver(std::sync::Arc::new(NoSuchHost(lookups.clone())))
            .build()
            .unwrap();
        let target = Target {
            client,
            domain: "no-such-account".into(),
            include_domain: false,
            interval: Duration::ZERO,
        };
        let report = run(target, |_, _| {}).await.unwrap();
        assert_eq!(
            (
                &report["outcome"],
                &report["outcome_reason"],
                &report["requests"]["sent"]
            ),
            (
                &json!("stopped"),
                &json!("no Flowlu portal answered at this address"),
                &json!(1)
            )
        );
        assert_eq!(lookups.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    fn refusal(status: u16, retry_after: Option<u64>) -> Refusal {
        let mut headers = Map::new();
        if let Some(r) = retry_after {
            headers.insert("retry-after".into(), json!(r));
        }
        Refusal {
            status,
            error_code: None,
            connector_class: "rate_limited",
            body: json!("text"),
            rate: true,
            headers,
        }
    }

    #[test]
    fn a_rate_refusal_slows_the_rest_down() {
        let mut session = Session::new(target(Duration::from_secs(2)), 10);
        session.note_rate_refusal(&refusal(429, None));
        assert_eq!(session.interval, Duration::from_secs(4), "doubled");
        session.note_rate_refusal(&refusal(429, Some(30)));
        assert_eq!(session.interval, Duration::from_secs(30), "Retry-After followed");
        session.note_rate_refusal(&refusal(200, Some(3600)));
        assert_eq!(session.interval, Duration::from_secs(120), "at most two minutes");
        assert_eq!(session.rate_refusals[0]["form"], json!("http_429"));
        assert_eq!(session.rate_refusals[2]["form"], json!("json_error_string"));
    }

    fn readable(stream: &str, fields: Value) -> Value {
        json!({"stream": stream, "access": "readable", "served": 3, "fields": fields})
    }

    fn seen(types: &[&str], shapes: &[&str]) -> Value {
        json!({"types": types, "string_shapes": shapes, "blank": 0, "zero_dates": 0})
    }

    #[test]
    fn compare_names_what_contradicts_the_stream_schemas() {
        let report = json!({
            "models": [
                readable("crm_account", json!({
                    "id": seen(&["integer"], &[]),
                    "updated_date": seen(&["string"], &["datetime", "zero_datetime"]),
                    "cf_4": seen(&["boolean"], &[]),
                    "alias_of_cf_8": seen(&["string"], &["text"]),
                    "alias_of_cf_8_value": seen(&["integer"], &[]),
                })),
                readable("crm_lead", json!({
                    "id": seen(&["boolean"], &[]),
                    "cf_9": seen(&["string"], &["text"]),
                    "cf_12": seen(&["integer"], &[]),
                    // Declared as text: blank and zero dates are no difference.
                    "closing_date": seen(&["string"], &["blank", "date", "zero_date"]),
                })),
                readable("st_projects", json!({"id": seen(&["string"], &["integer_text"]), "updated_date": seen(&["string"], &["datetime"])})),
            ],
            "custom_fields": {"fields": [
                {"key": "cf_4", "type": "number", "module": "crm", "model": "account", "seen_in_streams": ["crm_account"]},
                {"key": "cf_8", "type": "select", "module": "crm", "model": "account", "api_use_alias": true,
                    "seen_in_streams": ["crm_account"]},
                {"key": "cf_9", "type": "text", "module": "st", "model": "project", "seen_in_streams": ["crm_lead"]},
                {"key": "cf_12", "type": "text", "module": "crm", "model": "no_such_model", "fieldset_id": 3,
                    "seen_in_streams": ["crm_lead"]},
            ]},
        });
        let topics: Vec<String> = compare(&report).into_iter().map(|d| d.topic).collect();
        assert_eq!(
            topics,
            [
                "format:crm_account.updated_date",
                "schema:crm_account.cf_4",
                "schema:crm_account.alias_of_cf_8_value",
                "cursor:crm_account.updated_date",
                "schema:crm_lead.id",
                "schema:crm_lead.cf_12",
                "cursor:crm_lead.updated_date",
                "schema:st_projects.id",
                "custom_field:cf_9",
            ]
        );
    }

    #[test]
    fn custom_field_rows_report_how_they_join_not_their_text() {
        let mut probe = Probe::default();
        probe.read_custom_fields(&[
            json!({"id": 4, "name": "Contract with ACME", "alias": "acme_contract", "api_use_alias": "1",
                "type": "number", "module": "crm", "model": "account", "fieldset_id": 5}),
            json!({"id": "9", "name": "x", "type": "Free Text!", "module": "st", "model": "project"}),
            json!({"id": 11, "name": "VIP tier", "alias": "vip_tier", "api_use_alias": 1, "type": "select",
                "module": "crm", "model": "no_such_model", "fieldset_id": "3"}),
        ]);
        assert_eq!(
            Value::Array(probe.custom_rows.clone()),
            json!([
                {"key": "cf_4", "type": "number", "module": "crm", "model": "account", "fieldset_id": 5,
                    "api_use_alias": true, "has_alias": true},
                {"key": "cf_9", "type": "(other)", "module": "st", "model": "project", "fieldset_id": null,
                    "api_use_alias": null, "has_alias": false},
                {"key": "cf_11", "type": "select", "module": "crm", "model": "no_such_model", "fieldset_id": 3,
                    "api_use_alias": true, "has_alias": true},
            ])
        );
        assert_eq!(
            probe.naming.aliases.get("acme_contract").map(String::as_str),
            Some("cf_4")
        );
        for (stream, record) in [
            ("crm_account", json!({"id": 1, "acme_contract": 3})),
            (
                "crm_lead",
                json!({"id": 2, "vip_tier": "2", "vip_tier_value": "Gold"}),
            ),
            ("st_projects", json!({"id": 3, "cf_9": ""})),
        ] {
            let mut fields = Fields::default();
            fields.absorb(
                &record,
                crate::base::streams::model(stream).unwrap(),
                &probe.naming,
            );
            probe.fields.insert(stream, fields);
        }
        assert_eq!(
            probe.fields["crm_lead"].to_json()["alias_of_cf_11_value"]["types"],
            json!(["string"])
        );
        let joins = probe.custom_joins();
        let how: Vec<Value> = joins["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                json!([
                    row["joins_streams"],
                    row["joined_by"],
                    row["seen_in_streams"],
                    row["value_key_seen"]
                ])
            })
            .collect();
        assert_eq!(
            how,
            [
                json!([["crm_account"], "module_model", ["crm_account"], false]),
                json!([["st_projects"], "module_model", ["st_projects"], false]),
                json!([["crm_lead"], "fieldset_id", ["crm_lead"], true]),
            ]
        );
        let text = format!("{joins}{}", probe.fields["crm_lead"].to_json());
        for customer in ["acme", "vip", "Gold", "VIP"] {
            assert!(!text.contains(customer), "{text}");
        }
    }

    #[test]
    fn the_plan_is_announced_exactly() {
        assert_eq!(plan_budget(MODELS.len()), MODELS.len() + 4 + 15);
        let columns: BTreeSet<&str> = MODELS.iter().filter_map(|m| Some(m.cursor?.0)).collect();
        assert_eq!(
            columns,
            CURSOR_COLUMNS.iter().copied().collect(),
            "one experiment per cursor column"
        );
        assert_eq!(plan_duration(3, Duration::from_secs(2)), Duration::from_secs(4));
        assert_eq!(plan_duration(0, Duration::from_secs(2)), Duration::ZERO);
    }
}
