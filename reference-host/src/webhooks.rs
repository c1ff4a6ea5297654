//! Flowlu webhooks for each credential: the URL to paste into Flowlu (token included, shown so
//! it can be copied; rotatable, the previous token working for a day), the receiver behind it
//! (`connector_flowlu::WebhookReceiver`, one spool directory per credential under the host's
//! `webhooks/` folder, the token in its 0600 file there), and the latest changes it received
//! for a stream (the preview shows them beside the records read).
//!
//! The routes are in `api.rs`: the webhook route outside the page's guard (Flowlu sends no
//! `Origin`, and the path holds the token, so it is never logged), the API behind it.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use connector_flowlu::webhook::event::{Action, Event};
use connector_flowlu::webhook::token::DEFAULT_GRACE_SECONDS;
use connector_flowlu::{WebhookReceiver, WebhookReceiverConfig, WebhookTokens};
use serde_json::{json, Value};

/// The steps shown with the URL.
pub const STEPS: [&str; 4] = [
    "In Flowlu, open System Settings -> Webhooks (an administrator's page) and add a webhook.",
    "Paste this URL. Flowlu must reach it: publish this host behind your HTTPS proxy and use its public address in place of this one, keeping the path.",
    "Choose the events to send: create, update and delete of the modules you sync.",
    "Save. Changes then reach this credential's spool within a second; keep the hourly poll on (Flowlu promises no delivery).",
];

/// The webhook side of a host: a folder per credential.
#[derive(Debug)]
pub struct Webhooks {
    dir: PathBuf,
    receivers: Mutex<HashMap<i64, Arc<WebhookReceiver>>>,
    relay: Option<Relay>,
}

/// The embedded stand-in's one webhook (it is configured at its start, before any credential
/// exists): its events go to the receiver of every credential of the stand-in's account, as if
/// an administrator had pasted each credential's URL into Flowlu. A demo convenience: a real
/// portal posts to each credential's own URL.
#[derive(Debug)]
struct Relay {
    token: WebhookTokens,
    account: String,
}

/// The path of the stand-in's relay (its token follows).
pub const RELAY_PREFIX: &str = "/hooks/stand-in/";

impl Webhooks {
    /// Webhooks kept under `dir` (`dir/{credential id}/`).
    pub fn new(dir: &FsPath) -> Self {
        Self {
            dir: dir.to_path_buf(),
            receivers: Mutex::new(HashMap::new()),
            relay: None,
        }
    }

    /// Relays the embedded stand-in's webhook (posted to [`RELAY_PREFIX`] and `token`) to
    /// every credential of `account` (`demo.flowlu.com`).
    pub fn with_stand_in_relay(mut self, token: connector_core::Secret, account: &str) -> Self {
        self.relay = Some(Relay {
            token: WebhookTokens {
                current: token,
                previous: None,
            },
            account: account.to_string(),
        });
        self
    }

    /// The spool directory of credential `id` (a read's `webhook_spool`).
    pub fn spool(&self, id: i64) -> PathBuf {
        self.dir.join(id.to_string())
    }

    /// Credential `id`'s receiver (started on first use).
    pub fn receiver(&self, id: i64) -> std::io::Result<Arc<WebhookReceiver>> {
        let mut receivers = self
            .receivers
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        if let Some(receiver) = receivers.get(&id) {
            return Ok(Arc::clone(receiver));
        }
        let tokens = WebhookTokens::load_or_create(&self.spool(id))?;
        let receiver = WebhookReceiver::new(&self.spool(id), tokens, WebhookReceiverConfig::default());
        receivers.insert(id, Arc::clone(&receiver));
        Ok(receiver)
    }

    /// Forgets credential `id`'s receiver and removes its folder (the credential was deleted).
    pub fn remove(&self, id: i64) {
        if let Ok(mut receivers) = self.receivers.lock() {
            receivers.remove(&id);
        }
        let _ = std::fs::remove_dir_all(self.spool(id));
    }
}

/// The answer about credential `id`'s webhook: `{url, steps, previous_valid_until}`, the URL
/// under `authority` (the `Host` the page reached this host by).
pub fn answer(authority: &str, id: i64, tokens: &WebhookTokens) -> Value {
    json!({
        "url": format!("http://{authority}/hooks/{id}{}{}", connector_flowlu::webhook::receiver::PATH_PREFIX, tokens.current.expose()),
        "steps": STEPS,
        "previous_valid_until": tokens.previous.as_ref().map(|(_, until)| crate::clock::rfc3339(u64::try_from(*until).unwrap_or(0))),
    })
}

impl Webhooks {
    /// Credential `id`'s tokens, made on first use.
    pub fn tokens(&self, id: i64) -> std::io::Result<WebhookTokens> {
        WebhookTokens::load_or_create(&self.spool(id))
    }

    /// A new token for credential `id`; the previous one works for a day.
    pub fn rotate(&self, id: i64) -> std::io::Result<WebhookTokens> {
        let dir = self.spool(id);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let tokens = WebhookTokens::load_or_create(&dir)?.rotate(now, DEFAULT_GRACE_SECONDS)?;
        tokens.store(&dir)?;
        self.receiver(id)?.set_tokens(tokens.clone());
        Ok(tokens)
    }

    /// Whether `token` is the stand-in relay's, and the account it relays to.
    pub fn relay_for(&self, token: &str) -> Option<&str> {
        self.relay
            .as_ref()
            .filter(|relay| relay.token.accepts(token, 0))
            .map(|relay| relay.account.as_str())
    }
}

/// The newest `limit` changes received for `stream` (newest last): action, id, cursor.
pub fn recent(hooks: &Webhooks, id: i64, stream: &str, limit: usize) -> Vec<Value> {
    let reader = connector_spool::SpoolReader::new(&hooks.spool(id).join(stream));
    let Ok(entries) = reader.read(None, 100_000) else {
        return Vec::new();
    };
    let skip = entries.len().saturating_sub(limit);
    entries
        .iter()
        .skip(skip)
        .filter_map(|entry| {
            let event = Event::parse(entry.payload.get(8..)?).ok()?;
            let action = match event.action {
                Action::Create => "create",
                Action::Update => "update",
                Action::Delete => "delete",
            };
            let record = event
                .record
                .as_ref()
                .and_then(|r| serde_json::from_str::<Value>(r.get()).ok());
            Some(json!({"action": action, "id": event.id, "cursor": event.cursor, "record": record}))
        })
        .collect()
}
