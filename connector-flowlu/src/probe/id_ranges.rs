//! The facts counting id ranges rests on (`source::deletes`): that the total of a list
//! filtered by `filter[id]={"type":"more",...}` counts the records the filter keeps (a range
//! counted in one request of one record), and that a filter on the cursor column applies
//! beside it (what a reconciliation counts with when tracking began at a start date). Two
//! requests on the paging model, after its first page in id order. Verdicts as the other
//! experiments give them (`honoured`, `ignored`, `refused`, `inconclusive`, `not_run`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::experiments::{refused, verdict};
use super::report::{IdRanges, Verdict, NOT_RUN};
use super::session::{Answer, Request, Session};
use super::survey::record_id;
use crate::base::cursor::CursorValue;
use crate::base::streams::Model;
use crate::client::ListPage;

/// One list answer: its total and records.
struct Page {
    total: Option<u64>,
    items: Vec<Value>,
}

impl Page {
    fn read(answer: &Answer) -> Result<Self, Verdict> {
        let response = match answer {
            Answer::Ok(response) => response.clone(),
            Answer::Refused(r) => return Err(refused(r)),
            Answer::NotSent => return Err(verdict(NOT_RUN, "the request budget was spent")),
        };
        let number =
            |v: Option<&Value>| v.and_then(|v| v.as_u64().or_else(|| v.as_str()?.trim().parse().ok()));
        let total = number(response.get("total")).or_else(|| number(response.get("total_result")));
        let list = ListPage::from_response(response)
            .map_err(|_| verdict("inconclusive", "malformed list answer"))?;
        Ok(Self {
            total,
            items: list.items,
        })
    }

    fn ids(&self) -> Vec<Option<u64>> {
        self.items.iter().map(|r| record_id(r.get("id"))).collect()
    }
}

/// The requests [`experiment`] sends.
pub(super) const REQUESTS: usize = 2;

/// The report's `paging.id_ranges`: `count` (the total of an id range) and `with_cursor`
/// (both filters in one request, `limit` records). `asc`: the answer to the first page in id
/// order, unfiltered; `sample`: records of `model` the survey read.
pub(super) async fn experiment(
    session: &mut Session,
    model: &'static Model,
    limit: u32,
    asc: &Answer,
    sample: &[Value],
) -> IdRanges {
    let first = match Page::read(asc) {
        Ok(page) => page,
        Err(why) => return both(why),
    };
    let ids = first.ids();
    // The first two records in id order: `x` the second, so exactly 2 records are at or below it.
    let x = match ids.as_slice() {
        [Some(a), Some(x), ..] if a < x => *x,
        _ => {
            return both(verdict(
                "inconclusive",
                "fewer than two records in ascending numeric ids to count above",
            ))
        }
    };
    let above = || {
        vec![
            ("order_by[asc][]".to_string(), "id".to_string()),
            (
                "filter[id]".to_string(),
                json!({"type": "more", "value": x}).to_string(),
            ),
        ]
    };
    let mut params = vec![
        ("page".to_string(), "1".to_string()),
        ("limit".to_string(), "1".to_string()),
    ];
    params.extend(above());
    let counted = session.send(&Request::list(model, params)).await;
    let count = count_verdict(&counted, x, first.total);
    let with_cursor = match model.cursor.zip(pivot(model, sample)) {
        Some(((column, kind), pivot)) => {
            let mut params = vec![
                ("page".to_string(), "1".to_string()),
                ("limit".to_string(), limit.to_string()),
            ];
            params.extend(above());
            params.push((
                format!("filter[{column}]"),
                json!({"type": "more", "value": pivot.to_json()}).to_string(),
            ));
            let answer = session.send(&Request::list(model, params)).await;
            match Page::read(&answer) {
                Err(why) => why,
                Ok(page) if page.items.is_empty() => verdict(
                    "inconclusive",
                    "nothing came back although records match the filter",
                ),
                Ok(page) => {
                    let keeps = |r: &Value| {
                        let cursor = r.get(column).and_then(|v| CursorValue::read(v, kind));
                        record_id(r.get("id")).is_some_and(|id| id > x) && cursor.is_some_and(|c| c > pivot)
                    };
                    if page.items.iter().all(keeps) {
                        verdict("honoured", "only matching records came back")
                    } else {
                        verdict("ignored", "records outside the filter came back")
                    }
                }
            }
        }
        None => verdict("inconclusive", "fewer than two distinct cursor values were seen"),
    };
    IdRanges { count, with_cursor }
}

/// The same verdict for both facts (the experiment could not start).
fn both(why: Verdict) -> IdRanges {
    IdRanges {
        count: why.clone(),
        with_cursor: why,
    }
}

/// The middle one of the cursor values the survey saw (records on both sides of it).
fn pivot(model: &Model, sample: &[Value]) -> Option<CursorValue> {
    let (column, kind) = model.cursor?;
    let values: BTreeSet<CursorValue> = sample
        .iter()
        .filter_map(|r| CursorValue::read(r.get(column)?, kind))
        .filter(|c| !matches!(c, CursorValue::Text(t) if t.starts_with("0000")))
        .collect();
    let enough = values.len() >= 2;
    let middle = values.len().saturating_sub(1) / 2;
    values.into_iter().nth(middle).filter(|_| enough)
}

/// Whether the total of `filter[id] > x` (one record asked) counts the records above `x`:
/// `all` records in total, 2 of them at or below `x`.
fn count_verdict(answer: &Answer, x: u64, all: Option<u64>) -> Verdict {
    let page = match Page::read(answer) {
        Ok(page) => page,
        Err(why) => return why,
    };
    if page.ids().iter().any(|id| id.is_none_or(|id| id <= x)) {
        return verdict(
            "ignored",
            "a record at or below the id came back: filter[id] is ignored",
        );
    }
    match (page.total, all) {
        (None, _) => verdict(
            "ignored",
            "the filtered answer gives no total: a range cannot be counted in one request",
        ),
        (_, None) => verdict(
            "inconclusive",
            "the unfiltered answer gives no total to compare with",
        ),
        (Some(t), Some(all)) if t + 2 == all => {
            verdict("honoured", "the total counts the records the filter keeps")
        }
        (Some(t), Some(all)) if t == all => verdict(
            "ignored",
            "the total counts every record, not those the filter keeps",
        ),
        _ => verdict(
            "inconclusive",
            "the total matches neither the records kept nor every record (records changed meanwhile?)",
        ),
    }
}
