//! Flowlu's outgoing webhook: every create, update and delete the store makes, whoever makes it
//! (the REST API, the second client, a scheduled edit, a mutation), becomes an event POSTed to
//! the configured URL from a task of its own, so no API answer waits on the receiver.
//!
//! Events are numbered from 0 in the order the store changed (they are queued while the store
//! is still locked for the change), each one's delivery fault drawn from the seed and that
//! number. One task delivers them one after the other, in that order but for the faults, and
//! keeps a log of every event and every POST ([`WebhookLog`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::config::{Webhook, WebhookFault, WebhookFaults};
use crate::data;
use crate::error::Error;
use crate::store::{Action, Row, StoreEvent};

/// How long a POST may take before it counts as failed (Flowlu documents no limit).
const POST_TIMEOUT: Duration = Duration::from_secs(10);

impl StoreEvent {
    /// `{"meta":{"module","model","action"},"current":..,"previous":..}`, the records as the
    /// stored rows (the list's shape, custom fields included).
    fn payload(&self) -> Value {
        let record = |row: &Option<Arc<Row>>| {
            row.as_ref()
                .map_or(Value::Null, |r| Value::Object(r.value.clone()))
        };
        json!({
            "meta": {
                "module": self.def.module,
                "model": self.def.model,
                "action": match self.action {
                    Action::Create => "create",
                    Action::Update => "update",
                    Action::Delete => "delete",
                },
            },
            "current": record(&self.current),
            "previous": record(&self.previous),
        })
    }
}

/// One event the webhook produced, with the delivery fault that was applied to it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WebhookEvent {
    /// The event's number: 0 for the first change of the store after the start, then one more
    /// for each change.
    pub seq: u64,
    /// The JSON body (sent, or that would have been sent when dropped).
    pub payload: Value,
    /// The fault drawn from the seed and `seq`. An event drawn [`WebhookFault::Reorder`]
    /// while an earlier one is held is sent as if drawn `None`: it is the "next one" the held
    /// event is sent after.
    pub fault: Option<WebhookFault>,
}

/// One POST sent to the receiver.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WebhookDelivery {
    /// The number of the event sent.
    pub seq: u64,
    /// The receiver's HTTP status; `None` when no answer came (see `error`).
    pub status: Option<u16>,
    /// Why no answer came (connection refused, timeout); `None` when one did.
    pub error: Option<String>,
}

/// What the webhook produced and sent so far (see [`crate::Emulator::webhook_log`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct WebhookLog {
    /// Every event the store's changes made, in `seq` order (logged as the change is made,
    /// before any delivery).
    pub events: Vec<WebhookEvent>,
    /// Every POST whose answer (or failure) came, in the order sent.
    pub deliveries: Vec<WebhookDelivery>,
}

impl WebhookLog {
    /// The numbers of the events POSTed, in the order sent (an event sent twice appears twice).
    pub fn sent(&self) -> Vec<u64> {
        self.deliveries.iter().map(|d| d.seq).collect()
    }

    /// The bodies POSTed, in the order sent.
    pub fn sent_payloads(&self) -> Vec<Value> {
        self.deliveries
            .iter()
            .filter_map(|d| self.event(d.seq).map(|e| e.payload.clone()))
            .collect()
    }

    /// The event numbered `seq`.
    pub fn event(&self, seq: u64) -> Option<&WebhookEvent> {
        self.events
            .binary_search_by_key(&seq, |e| e.seq)
            .ok()
            .map(|i| &self.events[i])
    }
}

enum Message {
    Event {
        seq: u64,
        fault: Option<WebhookFault>,
        delay_ms: u64,
        payload: Value,
    },
    Flush(oneshot::Sender<()>),
}

struct Numbering {
    next: u64,
    faults: WebhookFaults,
}

/// The store's side of the webhook: numbers events, draws their faults, queues them.
pub(crate) struct Outbox {
    seed: u64,
    numbering: Mutex<Numbering>,
    tx: mpsc::UnboundedSender<Message>,
    log: Arc<Mutex<WebhookLog>>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Checks a webhook's URL and fault shares.
pub(crate) fn validate(webhook: &Webhook) -> Result<(), Error> {
    let url = reqwest::Url::parse(&webhook.url)
        .map_err(|e| Error::InvalidConfig(format!("webhook URL {:?}: {e}", webhook.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidConfig(format!(
            "webhook URL {:?}: must be http or https",
            webhook.url
        )));
    }
    validate_faults(&webhook.faults)
}

/// Checks webhook fault shares: each within 0..=1, together at most 1.
pub(crate) fn validate_faults(faults: &WebhookFaults) -> Result<(), Error> {
    let shares = faults.shares();
    let sum: f64 = shares.iter().map(|(_, p)| p).sum();
    if shares.iter().any(|(_, p)| !(0.0..=1.0).contains(p)) || sum > 1.0 + 1e-9 {
        return Err(Error::InvalidConfig(
            "webhook fault shares must be within 0..=1 and add up to at most 1".into(),
        ));
    }
    Ok(())
}

impl Outbox {
    /// Starts the delivery task (on the current Tokio runtime) for `webhook`.
    pub(crate) fn start(seed: u64, webhook: &Webhook) -> Result<Outbox, Error> {
        validate(webhook)?;
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(POST_TIMEOUT)
            .build()
            .map_err(|e| Error::InvalidConfig(format!("webhook client: {e}")))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let log = Arc::new(Mutex::new(WebhookLog::default()));
        let deliverer = Deliverer {
            client,
            url: webhook.url.clone(),
            log: Arc::clone(&log),
        };
        tokio::spawn(deliverer.run(rx));
        Ok(Outbox {
            seed,
            numbering: Mutex::new(Numbering {
                next: 0,
                faults: webhook.faults,
            }),
            tx,
            log,
        })
    }

    /// Queues the store's changes, in order (called while the store is still locked).
    pub(crate) fn queue(&self, events: impl IntoIterator<Item = StoreEvent>) {
        let mut numbering = lock(&self.numbering);
        for event in events {
            let seq = numbering.next;
            numbering.next += 1;
            let faults = numbering.faults;
            let draw: f64 = data::rng_for(self.seed, "webhook", seq).random();
            let mut acc = 0.0;
            let fault = faults.shares().into_iter().find_map(|(fault, share)| {
                acc += share;
                (share > 0.0 && draw < acc).then_some(fault)
            });
            let payload = event.payload();
            lock(&self.log).events.push(WebhookEvent {
                seq,
                payload: payload.clone(),
                fault,
            });
            let message = Message::Event {
                seq,
                fault,
                delay_ms: faults.delay_ms,
                payload,
            };
            // The task ends only when the outbox is dropped: a send cannot fail before.
            let _ = self.tx.send(message);
        }
    }

    /// Replaces the fault shares for the events queued from now on.
    pub(crate) fn set_faults(&self, faults: WebhookFaults) {
        lock(&self.numbering).faults = faults;
    }

    /// A copy of the log.
    pub(crate) fn log(&self) -> WebhookLog {
        lock(&self.log).clone()
    }

    /// Sends a held event and waits until every event queued before has been delivered or
    /// dropped.
    pub(crate) async fn flush(&self) {
        let (done, finished) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).is_ok() {
            let _ = finished.await;
        }
    }
}

/// The delivery task's state.
struct Deliverer {
    client: reqwest::Client,
    url: String,
    log: Arc<Mutex<WebhookLog>>,
}

impl Deliverer {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Message>) {
        // An event drawn `Reorder`, waiting for the next one to be delivered.
        let mut held: Option<(u64, Value)> = None;
        while let Some(message) = rx.recv().await {
            match message {
                Message::Event {
                    seq,
                    fault,
                    delay_ms,
                    payload,
                } => {
                    let fault = match fault {
                        Some(WebhookFault::Reorder) if held.is_some() => None,
                        other => other,
                    };
                    match fault {
                        Some(WebhookFault::Drop) => {}
                        Some(WebhookFault::Repeat) => {
                            self.post(seq, &payload).await;
                            self.post(seq, &payload).await;
                        }
                        Some(WebhookFault::Delay) => {
                            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                            self.post(seq, &payload).await;
                        }
                        Some(WebhookFault::Reorder) => {
                            held = Some((seq, payload));
                            continue;
                        }
                        None => self.post(seq, &payload).await,
                    }
                    if let Some((seq, payload)) = held.take() {
                        self.post(seq, &payload).await;
                    }
                }
                Message::Flush(done) => {
                    if let Some((seq, payload)) = held.take() {
                        self.post(seq, &payload).await;
                    }
                    let _ = done.send(());
                }
            }
        }
        if let Some((seq, payload)) = held.take() {
            self.post(seq, &payload).await;
        }
    }

    async fn post(&self, seq: u64, payload: &Value) {
        let answer = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(payload.to_string())
            .send()
            .await;
        let (status, error) = match answer {
            Ok(response) => (Some(response.status().as_u16()), None),
            Err(e) => (None, Some(e.without_url().to_string())),
        };
        if let Some(error) = &error {
            tracing::warn!(seq, %error, "webhook not delivered");
        }
        lock(&self.log)
            .deliveries
            .push(WebhookDelivery { seq, status, error });
    }
}
