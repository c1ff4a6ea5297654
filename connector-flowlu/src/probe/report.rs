//! The probe's report as types: what the writer fills, [`compare`](super::compare::compare)
//! and the summary read, and the tests check. Serialised, it is the JSON object the probe
//! writes (`report_version` `REPORT_VERSION`); a saved report of
//! any version `COMPARABLE_VERSIONS` names reads back
//! into it (members it lacks take their defaults).
//!
//! Nothing here holds a customer's value: names are plain identifiers or `cf_<id>` keys, text
//! members are the probe's own words or one of a few fixed forms, and `body_shape` (the
//! structure of an answer's body) holds only keys, JSON types and Flowlu's known sentences.

use std::collections::BTreeMap;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// An experiment (or answer) the request budget left no request for.
pub(crate) const NOT_RUN: &str = "not_run";

/// A probe's report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    /// The version of this form.
    pub report_version: u64,
    /// The connector that wrote it.
    pub connector_version: String,
    /// Where the portal was.
    pub portal: Portal,
    /// The requests sent.
    pub requests: Requests,
    /// `complete`, `incomplete` or `stopped`.
    pub outcome: String,
    /// Why not `complete`.
    pub outcome_reason: Option<String>,
    /// One entry per model surveyed, in the order read.
    pub models: Vec<ModelEntry>,
    /// Modules the key may not read (error 22), sorted.
    pub denied_modules: Vec<String>,
    /// Streams the portal does not serve.
    pub unsupported_streams: Vec<String>,
    /// The paging experiments (empty when the probe stopped before them).
    pub paging: Paging,
    /// `total` and `total_result` against what was served.
    pub totals: Totals,
    /// How a wrong key is answered (`null`: not asked).
    pub wrong_key: Option<ErrorAnswer>,
    /// How an unknown method is answered (`null`: not asked).
    pub unknown_method: Option<ErrorAnswer>,
    /// One `get` against the list's fields (`null`: not asked).
    pub get_vs_list: Option<GetVsList>,
    /// Rate refusals met.
    pub rate_limit: RateLimit,
    /// The custom field rows, as they join.
    pub custom_fields: CustomFields,
    /// Where the portal differs from what the connector assumes.
    pub differences: Vec<Difference>,
}

/// Where the portal was.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Portal {
    /// The account domain, only when asked for.
    pub domain: Option<String>,
    /// `loopback` or `flowlu`.
    pub address: String,
}

/// The requests sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Requests {
    /// The most the probe could send.
    pub budget: usize,
    /// Sent.
    pub sent: usize,
    /// The time between two requests at the start.
    pub interval_ms: u64,
    /// What kind of requests.
    pub method: String,
}

/// What the survey found of one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelEntry {
    /// The stream.
    pub stream: String,
    /// `readable`, `denied`, `unsupported`, `rate_limited` or `refused`.
    pub access: String,
    /// The refusal, when refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<RefusalReport>,
    /// Why a list answer could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The page read, when readable.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub sample: Option<Sample>,
}

/// One page of a readable model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sample {
    /// The page size asked.
    pub asked_limit: u32,
    /// Records served.
    pub served: u64,
    /// `count`, if sent.
    pub count: Option<u64>,
    /// `total`, if sent.
    pub total: Option<u64>,
    /// `total_result`, if sent.
    pub total_result: Option<u64>,
    /// Each field seen, by reported name.
    pub fields: BTreeMap<String, FieldReport>,
    /// Keys not reported by name.
    pub other_keys: u64,
    /// Whether the page held the whole model (set by the writer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<bool>,
}

/// What was seen of one field: JSON types and string shapes, never a value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FieldReport {
    /// JSON types seen.
    pub types: Vec<String>,
    /// String shapes seen (`blank`, `datetime`, ...).
    pub string_shapes: Vec<String>,
    /// Blank strings.
    pub blank: u64,
    /// Zero dates.
    pub zero_dates: u64,
}

/// An answer the connector reads as an error, described without values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefusalReport {
    /// The HTTP status (0: no answer).
    pub status: u16,
    /// Flowlu's error code, if any.
    pub error_code: Option<i64>,
    /// The structure of the body.
    pub body_shape: Value,
    /// What the connector makes of it.
    pub connector_reads_it_as: String,
    /// `inconclusive` for a rate refusal where another answer was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// Why inconclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// The verdict of one experiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `honoured`, `ignored`, `refused`, `inconclusive` or `not_run`.
    pub verdict: String,
    /// Why, in the probe's words.
    pub why: String,
    /// The refusal, when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RefusalReport>,
}

impl Verdict {
    /// A verdict without a refusal.
    pub(crate) fn new(verdict: &str, why: &str) -> Self {
        Self {
            verdict: verdict.into(),
            why: why.into(),
            error: None,
        }
    }
}

/// Why an experiment answered by a rate refusal says nothing.
pub(crate) const RATE_REFUSED: &str =
    "refused for the account's rate limit: the answer says nothing about what was asked";

/// How the wrong key or the unknown method was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorAnswer {
    /// Answered as an error (or refused for the rate: then inconclusive).
    Refused(RefusalReport),
    /// Answered as a success.
    Accepted {
        /// Always true.
        accepted: bool,
    },
    /// Not asked (`not_run`).
    NotRun(String),
}

impl ErrorAnswer {
    /// The refusal, when answered as one.
    pub fn refusal(&self) -> Option<&RefusalReport> {
        match self {
            Self::Refused(r) => Some(r),
            _ => None,
        }
    }
}

/// One `get` of a listed record against the list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum GetVsList {
    /// Not compared.
    Verdict(Verdict),
    /// Compared.
    Compared {
        /// The stream.
        stream: String,
        /// Fields the list has and the `get` lacks.
        only_in_list: Vec<String>,
        /// Fields the `get` has and the list lacks.
        only_in_get: Vec<String>,
        /// Fields whose `get` types are not among the list's.
        types_differ: Vec<String>,
    },
}

/// The paging experiments on one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Paging {
    /// The model measured: absent when not measured, `null` when no model fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<Option<String>>,
    /// Why no model fit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// The largest page size honoured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<PageSize>,
    /// `order_by[asc][]=id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_asc: Option<Verdict>,
    /// `order_by[desc][]=id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_desc: Option<Verdict>,
    /// `page=2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<Verdict>,
    /// `filter[id]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_id: Option<Verdict>,
    /// Counting id ranges (what a reconciliation of deletes relies on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_ranges: Option<IdRanges>,
    /// Per cursor column, in the order of `CURSOR_COLUMNS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursors: Option<Cursors>,
}

impl Paging {
    /// The model measured, if any.
    pub fn model(&self) -> Option<&str> {
        self.model.as_ref().and_then(|m| m.as_deref())
    }

    /// The verdict of experiment `key` (`page`, `order_asc`, `order_desc`, `filter_id`).
    pub fn verdict(&self, key: &str) -> Option<&Verdict> {
        match key {
            "page" => self.page.as_ref(),
            "order_asc" => self.order_asc.as_ref(),
            "order_desc" => self.order_desc.as_ref(),
            "filter_id" => self.filter_id.as_ref(),
            _ => None,
        }
    }
}

/// The facts counting id ranges rests on: `count`, whether the total of a list filtered by
/// `filter[id]` counts only the records the filter keeps (a range counted in one request), and
/// `with_cursor`, whether a filter on the cursor column applies beside `filter[id]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdRanges {
    /// The total of an id range.
    pub count: Verdict,
    /// Both filters in one request.
    pub with_cursor: Verdict,
}

/// The page sizes asked, largest first, until one was answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PageSize {
    /// The records the answered page held, at most the size asked.
    pub largest_honoured: Option<u64>,
    /// `exact`, `at_least`, `at_least (every record fit in one page)`, `inconclusive` or
    /// `unknown`.
    pub bound: String,
    /// Why inconclusive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Each size asked.
    pub asked: Vec<PageAsked>,
}

/// One page size asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PageAsked {
    /// Answered with a page.
    Served {
        /// The size asked.
        limit: u32,
        /// Records served.
        served: u64,
        /// The total the page named.
        total: Option<u64>,
    },
    /// Refused, or not a list answer.
    Failed {
        /// The size asked.
        limit: u32,
        /// The refusal.
        error: AskedError,
    },
}

/// Why a page size was not answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AskedError {
    /// Refused.
    Refused(RefusalReport),
    /// `malformed list answer`.
    Text(String),
}

/// The order and filter experiments of each cursor column, in the order they were run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cursors(pub Vec<(String, CursorExperiment)>);

impl Serialize for Cursors {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (column, result) in &self.0 {
            map.serialize_entry(column, result)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Cursors {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Columns;
        impl<'de> Visitor<'de> for Columns {
            type Value = Cursors;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of cursor columns")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Cursors, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Cursors(out))
            }
        }
        deserializer.deserialize_map(Columns)
    }
}

/// The experiments of one cursor column.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CursorExperiment {
    /// The model it ran on (`null`: none had records).
    pub stream: Option<String>,
    /// Why it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// `order_by` on the cursor, then id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_cursor: Option<Verdict>,
    /// `filter[<cursor>]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_cursor: Option<Verdict>,
}

/// `total` and `total_result` against what was served, counted over the models.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    /// Models whose page carried `total`.
    pub models_with_total: u64,
    /// Models whose page carried `total_result`.
    pub models_with_total_result: u64,
    /// Models whose page carried both.
    pub models_with_both: u64,
    /// Of those, the ones where they differ.
    pub both_disagree: u64,
    /// A complete page whose total is not its records.
    pub wrong_on_a_complete_page: u64,
    /// A total below the records served.
    pub below_served: u64,
}

/// Rate refusals met.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimit {
    /// Whether any was met.
    pub met: bool,
    /// Each one.
    pub refusals: Vec<RateRefusal>,
}

/// One rate refusal.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateRefusal {
    /// The request's number.
    pub request: usize,
    /// The HTTP status.
    pub status: u16,
    /// `http_429` or `json_error_string`.
    pub form: String,
    /// The structure of the body.
    pub body_shape: Value,
    /// Rate headers: numbers, or one of the fixed forms.
    pub headers: Map<String, Value>,
    /// Whether `Retry-After` was sent.
    pub retry_after_sent: bool,
    /// What the connector makes of it.
    pub connector_reads_it_as: String,
}

/// The custom field rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomFields {
    /// Whether `customfields_fields` was readable.
    pub readable: bool,
    /// Pages of rows read.
    pub pages_read: usize,
    /// Whether every row was read.
    pub all_read: bool,
    /// Rows read.
    pub rows: usize,
    /// Each row.
    pub fields: Vec<CustomFieldRow>,
}

/// One custom field row: how it joins, never its name or alias text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CustomFieldRow {
    /// `cf_<id>`.
    pub key: String,
    /// Its type, when a plain lower-case word; else `(other)`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Its module, in the same form.
    pub module: Option<String>,
    /// Its model, in the same form.
    pub model: Option<String>,
    /// Its field set.
    pub fieldset_id: Option<u64>,
    /// Whether records name it by its alias.
    pub api_use_alias: Option<bool>,
    /// Whether it has an alias.
    pub has_alias: bool,
    /// The streams the connector joins it to (set by the writer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joins_streams: Option<Vec<String>>,
    /// `module_model` or `fieldset_id` (set by the writer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub joined_by: Option<Option<String>>,
    /// The streams its column was seen in (set by the writer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seen_in_streams: Option<Vec<String>>,
    /// Whether its `_value` column was seen (set by the writer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_key_seen: Option<bool>,
}

/// One place where a report contradicts what the connector assumes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    pub(super) fn new(
        topic: impl Into<String>,
        assumed: &str,
        observed: impl Into<String>,
        action: &str,
    ) -> Self {
        Self {
            topic: topic.into(),
            assumed: assumed.into(),
            observed: observed.into(),
            connector_action: action.into(),
        }
    }

    /// As a JSON object.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"topic": self.topic, "assumed": self.assumed, "observed": self.observed,
            "connector_action": self.connector_action})
    }
}
