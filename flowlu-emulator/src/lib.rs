//! A local, stateful, deterministic stand-in for the Flowlu REST API.
//!
//! It serves every model of Flowlu's API as the workspace's notes describe it (`docs/flowlu-api.md`) under
//! `/api/v1/module/{module}/{model}/{method}[/{id}]`: `list` (paging, `order_by`, `filter`,
//! `search`), `get`, `create`, `update` and `delete`, with Flowlu's envelopes and error codes,
//! keys limited to modules, seeded data (same seed, same bytes), fault injection decided per
//! request from the seed, and quirk switches. It shares no code with the connector.
//!
//! ```no_run
//! use flowlu_emulator::{Emulator, EmulatorConfig, Faults, MutationPlan};
//!
//! # async fn demo() -> Result<(), flowlu_emulator::Error> {
//! let emu = Emulator::start(EmulatorConfig {
//!     seed: 42,
//!     records_per_model: 250,
//!     ..Default::default()
//! })
//! .await?;
//! let url = format!(
//!     "{}/api/v1/module/crm/account/list?api_key={}&page=2&limit=100",
//!     emu.base_url(),
//!     emu.api_key()
//! );
//! // ... point a client at `url` ...
//! assert_eq!(emu.count("crm", "account"), 250);
//! let touched = emu.mutate("crm", "account", 7, MutationPlan { updates: 5, deletes: 2, inserts: 3 })?;
//! assert_eq!(touched.inserted, vec![251, 252, 253]);
//! emu.set_faults(Faults { rate_limit: 0.1, ..Faults::none() });
//! println!("{:?}", emu.stats());
//! emu.shutdown().await;
//! # let _ = url;
//! # Ok(())
//! # }
//! ```
//!
//! Besides the API, `GET /_emulator/stats` answers the request statistics and record counts,
//! `POST /_emulator/reset_stats` clears the statistics, and `POST /_emulator/mutate` takes
//! `{"module":..,"model":..,"seed":..,"updates":..,"deletes":..,"inserts":..}`.
//!
//! A second client of the account ([`Emulator::second_client`]) creates and edits records as
//! another CRM user would, during a write; [`Emulator::schedule`] has it act after an exact
//! number of API requests, so tests place a concurrent change without waiting.
//!
//! With [`EmulatorConfig::webhook`] set, it sends Flowlu's outgoing webhook: every create,
//! update and delete, whoever makes it (the API, the second client, [`Emulator::mutate`]), is
//! POSTed as `{"meta":{"module","model","action"},"current":..,"previous":..}` from a task of
//! its own (an API answer never waits on the receiver), with seeded delivery faults (drop,
//! repeat, delay, reorder) and a log of what was sent ([`Emulator::webhook_log`]).

mod catalog;
mod config;
mod data;
mod error;
mod server;
mod store;
mod webhook;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{
    ApiKey, EmulatorConfig, Faults, Latency, Quirks, RateCap, Refusal, TotalField, ValidationShape, Webhook,
    WebhookFault, WebhookFaults, DEFAULT_KEY,
};
pub use error::Error;
pub use server::Stats;
pub use store::{MutationPlan, MutationSummary};
pub use webhook::{WebhookDelivery, WebhookEvent, WebhookLog};

use server::Shared;
use store::Store;

/// A running emulator: a server on a loopback port plus handles on its state.
///
/// Dropping it stops the server too; [`Emulator::shutdown`] also waits for it to finish.
#[derive(Debug)]
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Every `(module, model)` the emulator serves, in the order of the API description.
pub fn models() -> Vec<(&'static str, &'static str)> {
    catalog::MODELS.iter().map(|m| (m.module, m.model)).collect()
}

impl Emulator {
    /// Seeds the data and starts serving on `127.0.0.1` at a free port; returns once listening.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, Error> {
        Self::start_on(config, "127.0.0.1:0").await
    }

    /// Like [`Emulator::start`], on a given address (`host:port`, port 0 for a free one).
    pub async fn start_on(config: EmulatorConfig, addr: &str) -> Result<Emulator, Error> {
        validate(&config)?;
        let store = Store::seed(&config)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                addr: addr.to_owned(),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Bind {
            addr: addr.to_owned(),
            source,
        })?;
        let outbox = match &config.webhook {
            Some(webhook) => Some(webhook::Outbox::start(config.seed, webhook)?),
            None => None,
        };
        let shared = Arc::new(Shared::new(config, store, outbox));
        let app = server::router(Arc::clone(&shared));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "emulator server failed");
            }
        });
        tracing::debug!(%local, "flowlu emulator listening");
        Ok(Emulator {
            shared,
            addr: local,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured key (by default [`DEFAULT_KEY`], valid for every module).
    pub fn api_key(&self) -> &str {
        self.shared.config.keys.first().map_or("", |k| k.key.as_str())
    }

    /// The configuration the emulator was started with (faults, quirks and latency as started).
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The current records of a model, ascending by id (empty for an unknown model).
    pub fn records(&self, module: &str, model: &str) -> Vec<Value> {
        let store = self.shared.read_store();
        store
            .table(&format!("{module}/{model}"))
            .map(|t| t.rows.iter().map(|r| Value::Object(r.value.clone())).collect())
            .unwrap_or_default()
    }

    /// The number of current records of a model (0 for an unknown model).
    pub fn count(&self, module: &str, model: &str) -> usize {
        self.shared
            .read_store()
            .table(&format!("{module}/{model}"))
            .map_or(0, |t| t.rows.len())
    }

    /// Changes, deletes and adds records of a model, deterministically from `seed`.
    ///
    /// Changed and new records get one updated timestamp (`updated_date`, `updated` or
    /// `last_active`), later than any value the store held before.
    pub fn mutate(
        &self,
        module: &str,
        model: &str,
        seed: u64,
        plan: MutationPlan,
    ) -> Result<MutationSummary, Error> {
        self.shared
            .write_store()
            .mutate(&format!("{module}/{model}"), seed, plan)
    }

    /// A second client of the account: another user of the CRM creating and editing records
    /// while a connector writes.
    pub fn second_client(&self) -> SecondClient<'_> {
        SecondClient { shared: &self.shared }
    }

    /// Has the second client make `change` once the emulator has answered `after` more API
    /// requests (counted from now, whatever their status; at once for 0): it lands after the
    /// store served that request and before its answer is sent, so a test places a concurrent
    /// edit at an exact point of a write without waiting.
    pub fn schedule(&self, after: u64, change: impl FnOnce(&SecondClient<'_>) + Send + 'static) {
        self.shared.schedule(
            after,
            Box::new(move |shared: &Shared| change(&SecondClient { shared })),
        );
    }

    /// Replaces the fault shares from the next request on.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.update_runtime(|rt| rt.faults = faults);
    }

    /// Replaces the quirk switches from the next request on.
    pub fn set_quirks(&self, quirks: Quirks) {
        self.shared.update_runtime(|rt| rt.quirks = quirks);
    }

    /// Replaces the added latency from the next request on.
    pub fn set_latency(&self, latency: Latency) {
        self.shared.update_runtime(|rt| rt.latency = latency);
    }

    /// Replaces the account's rate cap from the next request on (the bucket starts full).
    pub fn set_rate_cap(&self, cap: Option<RateCap>) {
        self.shared.set_rate_cap(cap);
    }

    /// Replaces the webhook's fault shares for the changes made from now on (no effect
    /// without a webhook); shares outside 0..=1 or adding up to more than 1 are refused.
    pub fn set_webhook_faults(&self, faults: WebhookFaults) -> Result<(), Error> {
        webhook::validate_faults(&faults)?;
        if let Some(outbox) = &self.shared.webhook {
            outbox.set_faults(faults);
        }
        Ok(())
    }

    /// What the webhook produced and sent so far (empty without a webhook). Deliveries run
    /// behind the API: call [`Emulator::flush_webhooks`] first for every change made so far.
    pub fn webhook_log(&self) -> WebhookLog {
        self.shared
            .webhook
            .as_ref()
            .map(webhook::Outbox::log)
            .unwrap_or_default()
    }

    /// Waits until every change made so far has been delivered (its POSTs answered or failed)
    /// or dropped; an event held back for reordering with no next event is sent now. Returns
    /// at once without a webhook.
    pub async fn flush_webhooks(&self) {
        if let Some(outbox) = &self.shared.webhook {
            outbox.flush().await;
        }
    }

    /// Requests served so far, by path and HTTP status.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Forgets the request statistics.
    pub fn reset_stats(&self) {
        self.shared.reset_stats();
    }

    /// Stops accepting requests and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A second client of the account (see [`Emulator::second_client`]): its creates, edits and deletes
/// go straight into the store with the same validation and timestamps as the API's `create`
/// and `update`, without a request (nothing counted in [`Emulator::stats`], no fault applies).
pub struct SecondClient<'a> {
    shared: &'a Shared,
}

impl std::fmt::Debug for SecondClient<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecondClient")
    }
}

fn form(fields: &[(&str, Value)]) -> Vec<(String, Value)> {
    fields
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

impl SecondClient<'_> {
    /// Creates a record of `module/model` holding `fields`; returns its id.
    pub fn create_record(&self, module: &str, model: &str, fields: &[(&str, Value)]) -> Result<u64, Error> {
        let row = self
            .shared
            .write_store()
            .create(&format!("{module}/{model}"), &form(fields))
            .map_err(|e| Error::Refused(format!("{e:?}")))?;
        serde_json::from_slice::<Value>(&row)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_u64))
            .ok_or_else(|| Error::Refused("the created record has no id".into()))
    }

    /// Sets `fields` of record `id` of `module/model`; its updated timestamp moves on.
    pub fn edit_record(
        &self,
        module: &str,
        model: &str,
        id: u64,
        fields: &[(&str, Value)],
    ) -> Result<(), Error> {
        self.shared
            .write_store()
            .update(&format!("{module}/{model}"), id, &form(fields))
            .map(|_| ())
            .map_err(|e| Error::Refused(format!("{e:?}")))
    }

    /// Puts back a record deleted from `module/model`, exactly as `record` holds it (its `id`,
    /// its updated timestamp and every other field: what a restore from a recycle bin or a
    /// backup gives, which no incremental read by updated timestamp sees). Refused for an id
    /// the model holds or never issued.
    pub fn restore_record(&self, module: &str, model: &str, record: &Value) -> Result<(), Error> {
        let fields = record
            .as_object()
            .cloned()
            .ok_or_else(|| Error::Refused("a restored record is a JSON object".into()))?;
        self.shared
            .write_store()
            .restore(&format!("{module}/{model}"), fields)
            .map_err(|e| Error::Refused(format!("{e:?}")))
    }

    /// Deletes record `id` of `module/model` (permanently, as the API's `delete`).
    pub fn delete_record(&self, module: &str, model: &str, id: u64) -> Result<(), Error> {
        self.shared
            .write_store()
            .delete(&format!("{module}/{model}"), id)
            .map_err(|e| Error::Refused(format!("{e:?}")))
    }
}

fn validate(config: &EmulatorConfig) -> Result<(), Error> {
    if let Some(webhook) = &config.webhook {
        webhook::validate(webhook)?;
    }
    if config.max_page_size == 0 || config.default_page_size == 0 {
        return Err(Error::InvalidConfig("page sizes must be at least 1".into()));
    }
    if !matches!(config.bad_key_status, 200 | 401 | 403) {
        return Err(Error::InvalidConfig(format!(
            "bad_key_status must be 200, 401 or 403, not {}",
            config.bad_key_status
        )));
    }
    let shares: f64 = config.faults.shares().iter().map(|(_, p)| p).sum();
    if config
        .faults
        .shares()
        .iter()
        .any(|(_, p)| !(0.0..=1.0).contains(p))
        || shares > 1.0 + 1e-9
    {
        return Err(Error::InvalidConfig(
            "fault shares must be within 0..=1 and add up to at most 1".into(),
        ));
    }
    Ok(())
}
