//! Discover: which models the key may read (one probe each) and every stream's schema with
//! the account's custom fields.

use std::collections::BTreeMap;

use connector_core::{Catalog, Failure, Stream, SyncMode};
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::pager::{Next, Pager};
use super::session::{refusal, Session};
use crate::base::cursor::Order;
use crate::base::error::Error;
use crate::base::stream_schema::{schema_named, CustomField};
use crate::base::streams::{Model, MODELS};

impl Session {
    /// The catalog: every model a stream, those the key may not read marked so.
    pub(super) async fn catalog(&self) -> Result<Catalog, Failure> {
        let probes: Vec<_> = MODELS.iter().map(|model| self.probed(model)).collect();
        let mut probes = stream::iter(probes).buffered(self.account.settings.concurrency());
        let mut unreadable = BTreeMap::new();
        while let Some((model, result)) = probes.next().await {
            match result {
                Ok(()) => {}
                Err(err @ Error::Permission { .. }) => {
                    unreadable.insert(model.stream, self.failure(&err));
                }
                // The first other failure (a bad key, a portal that does not answer) ends
                // discover at once: the probes not yet answered are cancelled, not retried.
                Err(err) => return Err(self.failure(&err)),
            }
        }
        drop(probes);
        let custom = if unreadable.contains_key("customfields_fields") {
            BTreeMap::new()
        } else {
            self.custom_fields().await.map_err(|e| self.failure(&e))?
        };
        let none = Vec::new();
        let streams = MODELS
            .iter()
            .map(|m| {
                let fields = custom.get(m.stream).unwrap_or(&none);
                self.stream_of(m, fields, unreadable.get(m.stream))
            })
            .collect();
        Ok(Catalog { streams })
    }

    /// Lists page 1 of a model with one record: `Ok` when the key may read it.
    async fn probe(&self, model: &Model) -> Result<(), Error> {
        let params = [
            ("page".to_string(), "1".to_string()),
            ("limit".to_string(), "1".to_string()),
        ];
        self.account
            .limiter
            .run(
                || self.account.client.list(model.module, model.model, &params),
                &|_| {},
            )
            .await
            .map(|_| ())
    }

    async fn probed(&self, model: &'static Model) -> (&'static Model, Result<(), Error>) {
        (model, self.probe(model).await)
    }

    /// The account's custom fields, by stream name.
    async fn custom_fields(&self) -> Result<BTreeMap<&'static str, Vec<CustomField>>, Error> {
        let Some(model) = crate::base::streams::model("customfields_fields") else {
            return Ok(BTreeMap::new());
        };
        let mut pager = Pager::new(Order::of(model, false), self.first_limit(), None);
        let mut fields: BTreeMap<&'static str, Vec<CustomField>> = BTreeMap::new();
        let mut page = 1;
        loop {
            let params = pager.request(page);
            let result = self
                .account
                .limiter
                .run(
                    || self.account.client.list(model.module, model.model, &params),
                    &|_| {},
                )
                .await;
            let list = match result {
                Ok(list) => list,
                Err(err) => match refusal(&err).and_then(|code| pager.on_refusal(code)) {
                    Some(warning) => {
                        tracing::warn!("{}: {warning}", model.stream);
                        page = 1;
                        continue;
                    }
                    None => return Err(err),
                },
            };
            let absorbed = pager.absorb_values(list.items, list.total);
            self.learn(&pager);
            for (streams, field) in absorbed.records.iter().filter_map(CustomField::from_record) {
                for stream in streams {
                    fields.entry(stream).or_default().push(field.clone());
                }
            }
            match absorbed.next {
                Next::Continue => page += 1,
                Next::Restart => page = 1,
                Next::Done | Next::Stuck(_) => return Ok(fields),
            }
        }
    }

    fn stream_of(&self, model: &Model, custom: &[CustomField], unreadable: Option<&Failure>) -> Stream {
        let mut json_schema = schema_named(model, custom, self.account.settings.naming());
        if let Some(failure) = unreadable {
            json_schema["description"] = Value::String(format!(
                "Not readable with this API key: {} ({})",
                failure.message, failure.internal
            ));
        }
        let incremental = model.cursor.is_some();
        Stream {
            name: model.stream.to_string(),
            json_schema,
            supported_sync_modes: if incremental {
                vec![SyncMode::FullRefresh, SyncMode::Incremental]
            } else {
                vec![SyncMode::FullRefresh]
            },
            source_defined_cursor: incremental,
            default_cursor_field: model.cursor.map(|(c, _)| vec![c.to_string()]).unwrap_or_default(),
            source_defined_primary_key: vec![vec!["id".to_string()]],
            namespace: None,
        }
    }
}
