//! The survey: one page of every model, custom field rows first (their aliases must be known
//! before any record is read), and what the probe found so far ([`Probe`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::plan::{CUSTOM_FIELD_PAGES, SURVEY_LIMIT};
use super::privacy::{Fields, Naming};
use super::report::{CustomFieldRow, ErrorAnswer, GetVsList, ModelEntry, Paging, Sample};
use super::session::{Answer, Request, Session};
use crate::base::streams::{Model, MODELS};
use crate::client::ListPage;

/// What a probe found so far.
#[derive(Debug, Default)]
pub(crate) struct Probe {
    pub(crate) models: Vec<ModelEntry>,
    pub(crate) fields: BTreeMap<&'static str, Fields>,
    pub(crate) samples: BTreeMap<&'static str, Page>,
    pub(crate) naming: Naming,
    /// Custom field pages read (of [`CUSTOM_FIELD_PAGES`] at most).
    pub(crate) custom_pages: usize,
    pub(crate) custom_rows: Vec<CustomFieldRow>,
    pub(crate) denied: BTreeSet<&'static str>,
    pub(crate) unsupported: Vec<&'static str>,
    pub(crate) paging: Paging,
    pub(crate) wrong_key: Option<ErrorAnswer>,
    pub(crate) unknown_method: Option<ErrorAnswer>,
    pub(crate) get_vs_list: Option<GetVsList>,
}

/// One list answer, read for the report.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) total: Option<u64>,
    pub(crate) total_result: Option<u64>,
    pub(crate) count: Option<u64>,
    pub(crate) items: Vec<Value>,
}

impl Page {
    pub(crate) fn read(response: Value) -> Result<Self, &'static str> {
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

    pub(crate) fn total(&self) -> Option<u64> {
        self.total.or(self.total_result)
    }

    pub(crate) fn ids(&self) -> Vec<Option<u64>> {
        self.items.iter().map(|r| record_id(r.get("id"))).collect()
    }
}

pub(crate) fn record_id(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Probe {
    /// One page of every model, custom fields first (their aliases are needed to read the
    /// others). Returns why the probe stopped, if it did.
    pub(crate) async fn survey(&mut self, session: &mut Session) -> Option<&'static str> {
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
                    ModelEntry {
                        stream: model.stream.into(),
                        access: access.into(),
                        error: Some(r.report()),
                        ..ModelEntry::default()
                    }
                }
                Answer::Ok(response) => match Page::read(response) {
                    Err(why) => ModelEntry {
                        stream: model.stream.into(),
                        access: "refused".into(),
                        why: Some(why.into()),
                        ..ModelEntry::default()
                    },
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

    fn absorb_survey(&mut self, model: &'static Model, page: Page) -> ModelEntry {
        let mut fields = Fields::default();
        for record in &page.items {
            fields.absorb(record, model, &self.naming);
        }
        let entry = ModelEntry {
            stream: model.stream.into(),
            access: "readable".into(),
            sample: Some(Sample {
                asked_limit: SURVEY_LIMIT,
                served: page.items.len() as u64,
                count: page.count,
                total: page.total,
                total_result: page.total_result,
                fields: fields.to_report(),
                other_keys: fields.other_keys,
                complete: None,
            }),
            ..ModelEntry::default()
        };
        self.fields.insert(model.stream, fields);
        self.samples.insert(model.stream, page);
        entry
    }

    /// The custom field rows: how each joins, never its name or alias text.
    pub(crate) fn read_custom_fields(&mut self, rows: &[Value]) {
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
            Some(v) if v.len() <= 32 && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') => Some(v),
            Some(_) => Some("(other)".to_string()),
            None => None,
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
            self.custom_rows.push(CustomFieldRow {
                key,
                kind: name_like(text(row, "type")),
                module: name_like(text(row, "module")),
                model: name_like(text(row, "model")),
                fieldset_id: record_id(row.get("fieldset_id")),
                api_use_alias: flag(row, "api_use_alias"),
                has_alias: alias.is_some(),
                ..CustomFieldRow::default()
            });
        }
    }
}
