//! The records: one table per model, each row kept as a JSON object and as its pre-rendered
//! bytes, so list pages are assembled by concatenation.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{Map, Value};

use crate::catalog::{self, Gen, ModelDef};
use crate::config::{EmulatorConfig, TotalField};
use crate::data::{self, Counts, CustomColumn, RowSeed};
use crate::error::{ApiError, Error};

/// One record.
#[derive(Debug)]
pub(crate) struct Row {
    pub id: u64,
    pub value: Map<String, Value>,
    pub json: Bytes,
}

impl Row {
    fn new(id: u64, value: Map<String, Value>) -> Arc<Row> {
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Arc::new(Row { id, value, json })
    }
}

/// The records of one model, ascending by id.
#[derive(Debug)]
pub(crate) struct Table {
    pub def: &'static ModelDef,
    pub custom: Vec<CustomColumn>,
    pub rows: Vec<Arc<Row>>,
    next_id: u64,
}

impl Table {
    fn position(&self, id: u64) -> Result<usize, usize> {
        self.rows.binary_search_by_key(&id, |r| r.id)
    }

    fn has_column(&self, name: &str) -> bool {
        name == "id"
            || self.def.field(name).is_some()
            || self.def.stamps.created_column() == Some(name)
            || self.def.stamps.updated_column() == Some(name)
            || self
                .custom
                .iter()
                .any(|c| c.name == name || c.value_column().as_deref() == Some(name))
    }

    fn insert(&mut self, value: Map<String, Value>) -> Arc<Row> {
        let id = self.next_id;
        self.next_id += 1;
        let mut full = Map::with_capacity(value.len() + 1);
        full.insert("id".into(), id.into());
        full.extend(value.into_iter().filter(|(k, _)| k != "id"));
        let row = Row::new(id, full);
        self.rows.push(Arc::clone(&row));
        row
    }
}

/// What a change did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Create,
    Update,
    Delete,
}

/// One change of the store, as the store noted it (rows are shared, not copied).
#[derive(Debug)]
pub(crate) struct StoreEvent {
    pub def: &'static ModelDef,
    pub action: Action,
    pub current: Option<Arc<Row>>,
    pub previous: Option<Arc<Row>>,
}

/// A comparison in a list filter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cmp {
    /// `filter[f]=value`.
    Eq(String),
    /// `{"type":"more","value":v}`.
    More(Value),
    /// `{"type":"less","value":v}`.
    Less(Value),
}

/// One `filter[field]=...`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub field: String,
    pub cmp: Cmp,
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ListQuery {
    pub page: usize,
    pub limit: usize,
    /// `(field, descending)` in the order given.
    pub order: Vec<(String, bool)>,
    pub filters: Vec<Filter>,
    pub search: Option<String>,
    pub total_field: TotalField,
    /// The number sent in `total` instead of the true one (the `lying_total` quirk).
    pub lying_total: Option<usize>,
}

/// What a mutation should do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct MutationPlan {
    /// Records to change (a text field and the updated timestamp).
    #[serde(default)]
    pub updates: usize,
    /// Records to delete.
    #[serde(default)]
    pub deletes: usize,
    /// New records to add.
    #[serde(default)]
    pub inserts: usize,
}

/// The ids a mutation touched, each list ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MutationSummary {
    /// Ids of changed records.
    pub updated: Vec<u64>,
    /// Ids of deleted records.
    pub deleted: Vec<u64>,
    /// Ids of new records.
    pub inserted: Vec<u64>,
    /// The updated timestamp written to changed and new records (`YYYY-MM-DD HH:mm:ss`),
    /// later than any value before the mutation.
    pub timestamp: String,
}

/// Every table, plus the write clock.
#[derive(Debug)]
pub(crate) struct Store {
    tables: HashMap<String, Table>,
    seeded: HashMap<String, usize>,
    clock: i64,
    /// The changes made since the webhook last took them; `None` while no webhook listens
    /// (nothing is noted).
    pub(crate) events: Option<Vec<StoreEvent>>,
}

impl Counts for HashMap<String, usize> {
    fn seeded(&self, key: &str) -> usize {
        self.get(key).copied().unwrap_or(0)
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A number in a value, when it holds one (numbers and numeric strings).
fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(u8::from(*b).to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// Orders two field values: nulls first, then numbers, then strings.
fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Bool(_) | Value::Number(_) => 1,
            _ => 2,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0))
        }
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// `record value` compared to a filter operand: numerically when both are numbers, else as text.
fn compare_operand(value: &Value, operand: &Value) -> Option<Ordering> {
    if value.is_null() {
        return None;
    }
    if let (Some(x), Some(y)) = (as_number(value), as_number(operand)) {
        return Some(x.total_cmp(&y));
    }
    Some(scalar_text(value)?.as_str().cmp(scalar_text(operand)?.as_str()))
}

fn matches(row: &Row, filter: &Filter) -> bool {
    let value = if filter.field == "id" {
        &Value::from(row.id)
    } else {
        match row.value.get(&filter.field) {
            Some(v) => v,
            None => return false,
        }
    };
    match &filter.cmp {
        Cmp::Eq(want) => match value {
            Value::Null => want.is_empty(),
            Value::String(s) => s == want,
            other => {
                scalar_text(other).as_deref() == Some(want.as_str())
                    || matches!((as_number(other), want.parse::<f64>()), (Some(a), Ok(b)) if a == b)
            }
        },
        Cmp::More(v) => compare_operand(value, v) == Some(Ordering::Greater),
        Cmp::Less(v) => compare_operand(value, v) == Some(Ordering::Less),
    }
}

fn matches_search(row: &Row, needle: &str) -> bool {
    row.value.values().any(|v| match v {
        Value::String(s) => s.to_lowercase().contains(needle),
        _ => false,
    })
}

/// Turns written text into the stored value of a column of type `gen`.
fn coerce(gen: Gen, text: &str) -> Result<Value, String> {
    if text.is_empty() {
        return Ok(data::blank_of(gen));
    }
    let bad = |what: &str| Err(format!("must be {what}"));
    match gen {
        Gen::OneOf(from) => match text.parse::<i64>() {
            Ok(n) if from.contains(&n) => Ok(n.into()),
            _ => bad(&format!(
                "one of {}",
                from.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
            )),
        },
        Gen::Int(..) | Gen::Fk(_) => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| bad("an integer")),
        Gen::FkStr(_) => match text.parse::<u64>() {
            Ok(_) => Ok(text.into()),
            Err(_) => bad("an integer"),
        },
        Gen::Bool => match text {
            "0" | "false" => Ok(0.into()),
            "1" | "true" => Ok(1.into()),
            _ => bad("0 or 1"),
        },
        Gen::BoolStr => match text {
            "0" | "false" => Ok("0".into()),
            "1" | "true" => Ok("1".into()),
            _ => bad("0 or 1"),
        },
        Gen::Money => match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => bad("a number"),
        },
        Gen::Amount => match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(text.into()),
            _ => bad("a number"),
        },
        Gen::Email if !text.contains('@') || text.contains(char::is_whitespace) => {
            bad("a valid e-mail address")
        }
        Gen::Date if !data::is_date(text) => bad("a date (YYYY-MM-DD)"),
        Gen::DateTime if !data::is_timestamp(text) => bad("a date and time (YYYY-MM-DD HH:mm:ss)"),
        Gen::Pick(from) if !from.contains(&text) => bad(&format!("one of {}", from.join(", "))),
        _ => Ok(text.into()),
    }
}

fn coerce_custom(kind: &str, text: &str) -> Result<Value, String> {
    let gen = match kind {
        "number" => Gen::Amount,
        "date" => Gen::Date,
        "checkbox" => Gen::BoolStr,
        "select" => Gen::Pick(&["1", "2", "3"]),
        _ => Gen::Text,
    };
    coerce(gen, text)
}

impl Store {
    /// Seeds every model from the configuration.
    pub(crate) fn seed(config: &EmulatorConfig) -> Result<Store, Error> {
        for key in config.model_records.keys() {
            let (module, model) = key.split_once('/').unwrap_or((key, ""));
            if catalog::find(module, model).is_none() {
                return Err(Error::UnknownModel(key.clone()));
            }
        }
        let seeded: HashMap<String, usize> = catalog::MODELS
            .iter()
            .map(|def| {
                let key = def.key();
                let n = config
                    .model_records
                    .get(&key)
                    .copied()
                    .unwrap_or_else(|| catalog::default_count(def, config.records_per_model));
                (key, n)
            })
            .collect();
        let fields = seeded.seeded("customfields/fields");
        let tables = catalog::MODELS
            .iter()
            .map(|def| {
                let key = def.key();
                let custom: Vec<CustomColumn> = (1..=fields as u64)
                    .filter(|id| data::custom_field_target(*id).0 == key)
                    .map(data::custom_column)
                    .collect();
                let count = seeded.seeded(&key);
                let mut rng = data::rng_for(config.seed, &key, 0);
                let rows = (1..=count as u64)
                    .map(|id| {
                        let times = data::seeded_times(&mut rng, count);
                        let row_seed = RowSeed {
                            def,
                            id,
                            custom: &custom,
                            times,
                        };
                        Row::new(id, data::generate(&row_seed, &mut rng, &seeded))
                    })
                    .collect();
                let table = Table {
                    def,
                    custom,
                    rows,
                    next_id: count as u64 + 1,
                };
                (key, table)
            })
            .collect();
        Ok(Store {
            tables,
            seeded,
            clock: data::CLOCK_START,
            events: None,
        })
    }

    /// Notes a change for the webhook (when one listens).
    fn note(
        events: &mut Option<Vec<StoreEvent>>,
        def: &'static ModelDef,
        action: Action,
        current: Option<&Arc<Row>>,
        previous: Option<&Arc<Row>>,
    ) {
        if let Some(events) = events {
            events.push(StoreEvent {
                def,
                action,
                current: current.cloned(),
                previous: previous.cloned(),
            });
        }
    }

    fn tick(&mut self) -> i64 {
        self.clock += 1;
        self.clock
    }

    pub(crate) fn table(&self, key: &str) -> Option<&Table> {
        self.tables.get(key)
    }

    fn table_mut(&mut self, key: &str) -> Result<&mut Table, ApiError> {
        self.tables
            .get_mut(key)
            .ok_or_else(|| ApiError::new(31, format!("unknown model {key}")))
    }

    /// The number of records of every model, keyed `module/model`.
    pub(crate) fn counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.tables
            .iter()
            .map(|(k, t)| (k.clone(), t.rows.len()))
            .collect()
    }

    /// A list page as bytes of `{"response":{...}}`.
    pub(crate) fn list(&self, key: &str, q: &ListQuery) -> Result<Vec<u8>, ApiError> {
        let table = self
            .table(key)
            .ok_or_else(|| ApiError::new(31, format!("unknown model {key}")))?;
        for name in q
            .filters
            .iter()
            .map(|f| &f.field)
            .chain(q.order.iter().map(|o| &o.0))
        {
            if !table.has_column(name) {
                return Err(ApiError::invalid(format!("unknown field {name}")));
            }
        }
        let start = (q.page - 1).saturating_mul(q.limit);
        let by_id_only = q.order.iter().all(|(f, _)| f == "id");
        let descending = q.order.first().is_some_and(|(_, d)| *d);
        let mut picked: Vec<&Row>;
        let total;
        // `filter[id]` more than a whole number, ascending by id (the connector's scans of
        // ids): the rows after it, found by binary search rather than a pass over the table.
        let id_above = match q.filters.as_slice() {
            [Filter {
                field,
                cmp: Cmp::More(operand),
            }] if field == "id" && q.search.is_none() && by_id_only && !descending => operand.as_u64(),
            _ => None,
        };
        if let Some(above) = id_above {
            let from = table.rows.partition_point(|r| r.id <= above);
            let rows = &table.rows[from..];
            total = rows.len();
            let end = start.saturating_add(q.limit).min(total);
            picked = rows[start.min(total)..end].iter().map(AsRef::as_ref).collect();
        } else if q.filters.is_empty() && q.search.is_none() && by_id_only {
            total = table.rows.len();
            let end = start.saturating_add(q.limit).min(total);
            let start = start.min(total);
            picked = if descending {
                table.rows[total - end..total - start]
                    .iter()
                    .rev()
                    .map(AsRef::as_ref)
                    .collect()
            } else {
                table.rows[start..end].iter().map(AsRef::as_ref).collect()
            };
        } else {
            let needle = q.search.as_ref().map(|s| s.to_lowercase());
            picked = table
                .rows
                .iter()
                .map(AsRef::as_ref)
                .filter(|r| q.filters.iter().all(|f| matches(r, f)))
                .filter(|r| needle.as_ref().is_none_or(|n| matches_search(r, n)))
                .collect();
            if !q.order.is_empty() {
                picked.sort_by(|a, b| {
                    q.order
                        .iter()
                        .map(|(field, desc)| {
                            let ord = if field == "id" {
                                a.id.cmp(&b.id)
                            } else {
                                let null = Value::Null;
                                compare_values(
                                    a.value.get(field).unwrap_or(&null),
                                    b.value.get(field).unwrap_or(&null),
                                )
                            };
                            if *desc {
                                ord.reverse()
                            } else {
                                ord
                            }
                        })
                        .find(|o| o.is_ne())
                        .unwrap_or_else(|| a.id.cmp(&b.id))
                });
            }
            total = picked.len();
            let end = start.saturating_add(q.limit).min(total);
            picked = picked.drain(start.min(total)..end).collect();
        }
        Ok(render_page(
            &picked,
            (total, q.lying_total),
            q.page,
            q.total_field,
        ))
    }

    /// One record, as the `get` method renders it.
    pub(crate) fn get(&self, key: &str, id: u64) -> Result<Vec<u8>, ApiError> {
        let table = self
            .table(key)
            .ok_or_else(|| ApiError::new(31, format!("unknown model {key}")))?;
        let pos = table.position(id).map_err(|_| ApiError::not_found(id))?;
        let row = &table.rows[pos];
        let mut out = Vec::with_capacity(row.json.len() + 16);
        out.extend_from_slice(b"{\"response\":");
        if key == "crm/account" {
            // Flowlu's get payload of an account spells the VAT number `vat`, its list `VAT`.
            let renamed: Map<String, Value> = row
                .value
                .iter()
                .map(|(k, v)| (if k == "VAT" { "vat".into() } else { k.clone() }, v.clone()))
                .collect();
            out.extend_from_slice(&serde_json::to_vec(&renamed).unwrap_or_default());
        } else {
            out.extend_from_slice(&row.json);
        }
        out.push(b'}');
        Ok(out)
    }

    /// Validates written fields into values; unknown and read-only fields are ignored.
    fn apply(
        table: &Table,
        target: &mut Map<String, Value>,
        input: &[(String, Value)],
        creating: bool,
    ) -> Result<(), ApiError> {
        let mut details = Map::new();
        for (name, raw) in input {
            let coerced = if let Some(field) = table.def.field(name) {
                Some((field.gen, None))
            } else {
                table
                    .custom
                    .iter()
                    .find(|c| &c.name == name)
                    .map(|c| (Gen::Text, Some(c.kind)))
            };
            let Some((gen, custom_kind)) = coerced else {
                continue;
            };
            let Some(text) = scalar_text(raw) else {
                details.insert(name.clone(), "must be a single value".into());
                continue;
            };
            let result = match custom_kind {
                Some(kind) => coerce_custom(kind, &text),
                None => coerce(gen, &text),
            };
            match result {
                Ok(v) if is_blank(&v) && table.def.required.contains(&name.as_str()) => {
                    details.insert(name.clone(), "is required".into());
                }
                Ok(v) => {
                    if custom_kind == Some("select") {
                        let label = data::option_label(v.as_str().unwrap_or(""));
                        target.insert(format!("{name}_value"), label.into());
                    }
                    target.insert(name.clone(), v);
                }
                Err(msg) => {
                    details.insert(name.clone(), msg.into());
                }
            }
        }
        if creating {
            for req in table.def.required {
                if target.get(*req).is_none_or(is_blank) && !details.contains_key(*req) {
                    details.insert((*req).into(), "is required".into());
                }
            }
        }
        if details.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(details))
        }
    }

    /// Creates a record from written fields; returns its bytes.
    pub(crate) fn create(&mut self, key: &str, input: &[(String, Value)]) -> Result<Bytes, ApiError> {
        let now = self.clock + 1;
        let table = self.table_mut(key)?;
        let mut value = Map::new();
        value.insert("id".into(), 0.into());
        for field in table.def.fields {
            let blank = match field.gen {
                Gen::Bool => 0.into(),
                Gen::BoolStr => "0".into(),
                Gen::OneOf(from) => from.first().copied().map_or(Value::Null, Value::from),
                gen => data::blank_of(gen),
            };
            value.insert(field.name.into(), blank);
        }
        data::set_times(&mut value, table.def.stamps, now, now);
        for col in &table.custom {
            if let Some(label) = col.value_column() {
                value.insert(label, "".into());
            }
            value.insert(col.name.clone(), "".into());
        }
        Self::apply(table, &mut value, input, true)?;
        let def = table.def;
        let row = table.insert(value);
        Self::note(&mut self.events, def, Action::Create, Some(&row), None);
        self.tick();
        Ok(row.json.clone())
    }

    /// Updates a record from written fields and bumps its updated timestamp.
    pub(crate) fn update(
        &mut self,
        key: &str,
        id: u64,
        input: &[(String, Value)],
    ) -> Result<Bytes, ApiError> {
        let now = self.clock + 1;
        let table = self.table_mut(key)?;
        let pos = table.position(id).map_err(|_| ApiError::not_found(id))?;
        let mut value = table.rows[pos].value.clone();
        Self::apply(table, &mut value, input, false)?;
        data::bump(&mut value, table.def.stamps, now);
        let row = Row::new(id, value);
        let def = table.def;
        let previous = std::mem::replace(&mut table.rows[pos], Arc::clone(&row));
        Self::note(&mut self.events, def, Action::Update, Some(&row), Some(&previous));
        self.tick();
        Ok(row.json.clone())
    }

    /// Deletes a record.
    pub(crate) fn delete(&mut self, key: &str, id: u64) -> Result<(), ApiError> {
        let table = self.table_mut(key)?;
        let pos = table.position(id).map_err(|_| ApiError::not_found(id))?;
        let def = table.def;
        let previous = table.rows.remove(pos);
        Self::note(&mut self.events, def, Action::Delete, None, Some(&previous));
        Ok(())
    }

    /// Puts a deleted record back under its id with every field as given (its updated
    /// timestamp too: a restore is no edit). Refused for an id the table holds or never issued.
    pub(crate) fn restore(&mut self, key: &str, value: Map<String, Value>) -> Result<(), ApiError> {
        let table = self.table_mut(key)?;
        let id = value
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| ApiError::invalid("a restored record needs its numeric id"))?;
        if id == 0 || id >= table.next_id {
            return Err(ApiError::not_found(id));
        }
        let Err(pos) = table.position(id) else {
            return Err(ApiError::invalid(format!("record {id} exists")));
        };
        table.rows.insert(pos, Row::new(id, value));
        Ok(())
    }

    /// Changes, deletes and adds records of one model, deterministically from `seed`.
    pub(crate) fn mutate(
        &mut self,
        key: &str,
        seed: u64,
        plan: MutationPlan,
    ) -> Result<MutationSummary, Error> {
        let now = self.tick();
        let seeded = &self.seeded;
        let events = &mut self.events;
        let table = self
            .tables
            .get_mut(key)
            .ok_or_else(|| Error::UnknownModel(key.into()))?;
        let mut rng = data::rng_for(seed, key, now as u64);
        let mut summary = MutationSummary {
            timestamp: data::format_timestamp(now),
            ..MutationSummary::default()
        };
        let len = table.rows.len();
        let doomed = rand::seq::index::sample(&mut rng, len, plan.deletes.min(len));
        summary.deleted = doomed.iter().map(|i| table.rows[i].id).collect();
        summary.deleted.sort_unstable();
        let def = table.def;
        table.rows.retain(|r| {
            let kept = summary.deleted.binary_search(&r.id).is_err();
            if !kept {
                Self::note(events, def, Action::Delete, None, Some(r));
            }
            kept
        });

        let len = table.rows.len();
        let mut changed: Vec<usize> =
            rand::seq::index::sample(&mut rng, len, plan.updates.min(len)).into_vec();
        changed.sort_unstable();
        let text_field = table.def.fields.iter().find(|f| {
            matches!(
                f.gen,
                Gen::Title | Gen::Company | Gen::Person | Gen::Text | Gen::Amount
            )
        });
        for pos in changed {
            let row = &table.rows[pos];
            let mut value = row.value.clone();
            if let Some(field) = text_field {
                value.insert(
                    field.name.into(),
                    data::field_value(field, row.id, &mut rng, seeded),
                );
            }
            data::bump(&mut value, table.def.stamps, now);
            summary.updated.push(row.id);
            let new = Row::new(row.id, value);
            let previous = std::mem::replace(&mut table.rows[pos], Arc::clone(&new));
            Self::note(events, def, Action::Update, Some(&new), Some(&previous));
        }

        for _ in 0..plan.inserts {
            let row_seed = RowSeed {
                def: table.def,
                id: table.next_id,
                custom: &table.custom,
                times: (now, now),
            };
            let value = data::generate(&row_seed, &mut rng, seeded);
            let row = table.insert(value);
            Self::note(events, def, Action::Create, Some(&row), None);
            summary.inserted.push(row.id);
        }
        Ok(summary)
    }
}

/// `{"response":{"total":N,"page":P,"count":C,"items":[..]}}` from pre-rendered rows.
/// `totals`: the true total, and the one sent in `total` when it lies.
fn render_page(
    rows: &[&Row],
    totals: (usize, Option<usize>),
    page: usize,
    total_field: TotalField,
) -> Vec<u8> {
    let body: usize = rows.iter().map(|r| r.json.len() + 1).sum();
    let mut out = Vec::with_capacity(body + 96);
    out.extend_from_slice(b"{\"response\":{");
    let total = totals.0.to_string();
    if matches!(total_field, TotalField::Total | TotalField::Both) {
        out.extend_from_slice(b"\"total\":");
        out.extend_from_slice(
            totals
                .1
                .map_or_else(|| total.clone(), |t| t.to_string())
                .as_bytes(),
        );
        out.push(b',');
    }
    if matches!(total_field, TotalField::TotalResult | TotalField::Both) {
        out.extend_from_slice(b"\"total_result\":");
        out.extend_from_slice(total.as_bytes());
        out.push(b',');
    }
    out.extend_from_slice(format!("\"page\":{page},\"count\":{},\"items\":[", rows.len()).as_bytes());
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&row.json);
    }
    out.extend_from_slice(b"]}}");
    out
}
