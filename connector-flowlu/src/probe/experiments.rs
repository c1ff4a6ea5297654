//! The experiments after the survey: how a wrong key and an unknown method are answered, and,
//! on the readable model with the most records, page sizes, order, page 2, the id filter, the
//! order and filter of each cursor column, and one `get` against the list. Each ends in a
//! [`Verdict`]; an answer refused for the rate cap says nothing of what was asked
//! (`inconclusive`).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::id_ranges;
use super::plan::{CURSOR_COLUMNS, PAGE_SIZES, SAMPLE_LIMIT};
use super::privacy::Fields;
use super::report::{
    AskedError, CursorExperiment, Cursors, ErrorAnswer, GetVsList, PageAsked, PageSize, RefusalReport,
    Verdict, NOT_RUN,
};
use super::session::{Answer, ReadMethod, Refusal, Request, Session};
use super::survey::{record_id, Page, Probe};
use crate::base::cursor::CursorValue;
use crate::base::streams::{CursorKind, Model, MODELS};

/// The verdict of one experiment.
pub(super) fn verdict(verdict: &str, why: &str) -> Verdict {
    Verdict {
        verdict: verdict.into(),
        why: why.into(),
        error: None,
    }
}

pub(super) fn refused(refusal: &Refusal) -> Verdict {
    if refusal.rate {
        return Verdict {
            error: Some(refusal.report()),
            ..verdict("inconclusive", RATE_REFUSED)
        };
    }
    Verdict {
        error: Some(refusal.report()),
        ..verdict("refused", "the portal answered with an error")
    }
}

/// Why an experiment answered by a rate refusal says nothing.
const RATE_REFUSED: &str =
    "refused for the account's rate limit: the answer says nothing about what was asked";

/// The answer to the wrong key or the unknown method, as reported: a rate refusal is
/// inconclusive (it says nothing of how the portal answers a wrong key or method).
fn error_answer(answer: &Answer) -> ErrorAnswer {
    match answer {
        Answer::Refused(r) if r.rate => ErrorAnswer::Refused(RefusalReport {
            verdict: Some("inconclusive".into()),
            why: Some(RATE_REFUSED.into()),
            ..r.report()
        }),
        Answer::Refused(r) => ErrorAnswer::Refused(r.report()),
        Answer::Ok(_) => ErrorAnswer::Accepted { accepted: true },
        Answer::NotSent => ErrorAnswer::NotRun(NOT_RUN.into()),
    }
}

impl Probe {
    /// The answers to a wrong key and to an unknown method.
    pub(crate) async fn errors(&mut self, session: &mut Session) {
        let validation = Request {
            module: "core",
            model: "user",
            method: ReadMethod::List,
            params: vec![("page".into(), "1".into()), ("limit".into(), "1".into())],
            wrong_key: true,
        };
        self.wrong_key = Some(error_answer(&session.send(&validation).await));
        let Some(model) = self.paging_model() else {
            self.unknown_method = Some(ErrorAnswer::NotRun(NOT_RUN.into()));
            return;
        };
        let unknown = Request {
            module: model.module,
            model: model.model,
            method: ReadMethod::NoSuchMethod,
            params: Vec::new(),
            wrong_key: false,
        };
        self.unknown_method = Some(error_answer(&session.send(&unknown).await));
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
    pub(crate) async fn paging(&mut self, session: &mut Session) {
        let Some(model) = self.paging_model() else {
            self.paging.model = Some(None);
            self.paging.why = Some("no readable model with a cursor had records".into());
            return;
        };
        self.paging.model = Some(Some(model.stream.into()));
        let page_size = self.page_size(session, model).await;
        self.paging.page_size = Some(page_size);
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
        self.paging.order_asc = Some(order_verdict(&asc, true));
        let desc = session
            .send(&sample(vec![("order_by[desc][]".into(), "id".into())], 1))
            .await;
        self.paging.order_desc = Some(order_verdict(&desc, false));
        let page2 = session.send(&sample(asc_id(), 2)).await;
        self.paging.page = Some(page_verdict(asc_ids.as_deref(), &page2));
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
        self.paging.filter_id = Some(id_filter);
        let sample = self.samples.get(model.stream).map_or(&[][..], |p| &p.items[..]);
        let id_ranges = id_ranges::experiment(session, model, SAMPLE_LIMIT, &asc, sample).await;
        self.paging.id_ranges = Some(id_ranges);
        self.cursor_experiments(session, model).await;
        self.get_vs_list = Some(self.get_vs_list(session, model, asc_ids.as_deref()).await);
    }

    /// For each cursor column, on the readable model with that column and the most records:
    /// `order_by` on it (then id), and `filter[column]={"type":"more",...}`, as the source sends
    /// them.
    async fn cursor_experiments(&mut self, session: &mut Session, paging_model: &'static Model) {
        let mut cursors = Vec::new();
        for &column in CURSOR_COLUMNS {
            let model = if paging_model.cursor.is_some_and(|(c, _)| c == column) {
                Some(paging_model)
            } else {
                self.largest_readable(|m| m.cursor.is_some_and(|(c, _)| c == column))
            };
            let result = match model {
                Some(model) => self.cursor_experiment(session, model).await,
                None => CursorExperiment {
                    stream: None,
                    why: Some("no readable model with this cursor had records".into()),
                    ..CursorExperiment::default()
                },
            };
            cursors.push((column.to_string(), result));
        }
        self.paging.cursors = Some(Cursors(cursors));
    }

    async fn cursor_experiment(&mut self, session: &mut Session, model: &'static Model) -> CursorExperiment {
        let Some((column, kind)) = model.cursor else {
            return CursorExperiment::default();
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
        CursorExperiment {
            stream: Some(model.stream.into()),
            why: None,
            order_cursor: Some(order),
            filter_cursor: Some(filter),
        }
    }

    /// The largest page size answered as asked.
    async fn page_size(&mut self, session: &mut Session, model: &'static Model) -> PageSize {
        let mut asked = Vec::new();
        let mut result = PageSize {
            largest_honoured: None,
            bound: "unknown".into(),
            why: None,
            asked: Vec::new(),
        };
        for limit in PAGE_SIZES {
            let params = vec![
                ("page".to_string(), "1".to_string()),
                ("limit".to_string(), limit.to_string()),
            ];
            match session.send(&Request::list(model, params)).await {
                Answer::NotSent => break,
                Answer::Refused(r) => {
                    if r.rate {
                        result.bound = "inconclusive".into();
                        result.why = Some(RATE_REFUSED.into());
                    }
                    asked.push(PageAsked::Failed {
                        limit,
                        error: AskedError::Refused(r.report()),
                    });
                }
                Answer::Ok(response) => {
                    let Ok(page) = Page::read(response) else {
                        asked.push(PageAsked::Failed {
                            limit,
                            error: AskedError::Text("malformed list answer".into()),
                        });
                        continue;
                    };
                    let served = page.items.len() as u64;
                    let total = page.total();
                    asked.push(PageAsked::Served { limit, served, total });
                    let bound = if served >= u64::from(limit) {
                        "at_least"
                    } else if total.is_some_and(|t| served < t) {
                        "exact"
                    } else {
                        "at_least (every record fit in one page)"
                    };
                    result = PageSize {
                        largest_honoured: Some(served.min(u64::from(limit))),
                        bound: bound.into(),
                        why: None,
                        asked: Vec::new(),
                    };
                    break;
                }
            }
        }
        result.asked = asked;
        result
    }

    /// One `get` of the first record: its fields against the list's.
    async fn get_vs_list(
        &mut self,
        session: &mut Session,
        model: &'static Model,
        ids: Option<&[Option<u64>]>,
    ) -> GetVsList {
        let Some(id) = ids.and_then(|ids| ids.first().copied().flatten()) else {
            return GetVsList::Verdict(verdict("inconclusive", "no numeric id to get"));
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
                let differ: Vec<String> = got
                    .fields
                    .iter()
                    .filter(|(k, seen)| {
                        listed
                            .and_then(|l| l.fields.get(*k))
                            .is_some_and(|l| !seen.types.is_subset(&l.types))
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                GetVsList::Compared {
                    stream: model.stream.into(),
                    only_in_list: list_names.difference(&get_names).map(|s| s.to_string()).collect(),
                    only_in_get: get_names.difference(&list_names).map(|s| s.to_string()).collect(),
                    types_differ: differ,
                }
            }
            other => GetVsList::Verdict(answer_verdict(&other)),
        }
    }
}

fn ok_ids(answer: &Answer) -> Option<Vec<Option<u64>>> {
    match answer {
        Answer::Ok(response) => Page::read(response.clone()).ok().map(|p| p.ids()),
        _ => None,
    }
}

fn answer_verdict(answer: &Answer) -> Verdict {
    match answer {
        Answer::Refused(r) => refused(r),
        Answer::NotSent => verdict(NOT_RUN, "the request budget was spent"),
        Answer::Ok(_) => verdict("inconclusive", "an answer that is not a list"),
    }
}

fn order_verdict(answer: &Answer, ascending: bool) -> Verdict {
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

fn page_verdict(first: Option<&[Option<u64>]>, answer: &Answer) -> Verdict {
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

fn filter_verdict(answer: &Answer, keeps: impl Fn(&Value) -> bool) -> Verdict {
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
