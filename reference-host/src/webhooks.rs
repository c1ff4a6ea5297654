//! Flowlu webhooks for each credential: the URL to paste into Flowlu (token included, shown so
//! it can be copied; rotatable, the previous token working for a day), the receiver behind it
//! (`connector_flowlu::WebhookReceiver`, one spool directory per credential under the host's
//! `webhooks/` folder, the token in its 0600 file there), and the latest changes it received
//! for a stream (the preview shows them beside the records read).
//!
//! The webhook route is outside the page's guard (Flowlu sends no `Origin`, and the path holds
//! the token, so it is never logged); the API answers are behind it.

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use connector_flowlu::webhook::event::{Action, Event};
use connector_flowlu::webhook::token::DEFAULT_GRACE_SECONDS;
use connector_flowlu::{WebhookReceiver, WebhookReceiverConfig, WebhookTokens};
use serde_json::{json, Value};

use crate::api::{Host, Refusal};

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

    fn receiver(&self, id: i64) -> std::io::Result<Arc<WebhookReceiver>> {
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

fn unavailable() -> Refusal {
    Refusal::whole_pub(
        StatusCode::NOT_FOUND,
        "This host does not receive webhooks (start it with a data directory).",
        "not_found",
    )
}

fn io_refusal(e: &std::io::Error) -> Refusal {
    tracing::error!(error = %e, "webhook token store failed");
    Refusal::whole_pub(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The webhook token could not be read or written; see the server's log.",
        "store",
    )
}

fn url(headers: &HeaderMap, id: i64, tokens: &WebhookTokens) -> String {
    let authority = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!(
        "http://{authority}/hooks/{id}{}{}",
        connector_flowlu::webhook::receiver::PATH_PREFIX,
        tokens.current.expose()
    )
}

/// `GET /api/credentials/{id}/webhook`: `{url, steps, previous_valid_until}`.
pub async fn show(
    State(host): State<Arc<Host>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    host.credential_exists(id)?;
    let hooks = host.webhooks().ok_or_else(unavailable)?;
    let tokens = WebhookTokens::load_or_create(&hooks.spool(id)).map_err(|e| io_refusal(&e))?;
    Ok(answer(&headers, id, &tokens))
}

fn answer(headers: &HeaderMap, id: i64, tokens: &WebhookTokens) -> Response {
    Json(json!({
        "url": url(headers, id, tokens),
        "steps": STEPS,
        "previous_valid_until": tokens.previous.as_ref().map(|(_, until)| crate::rfc3339(u64::try_from(*until).unwrap_or(0))),
    }))
    .into_response()
}

/// `POST /api/credentials/{id}/webhook/rotate`: a new token; the previous one works for a day.
pub async fn rotate(
    State(host): State<Arc<Host>>,
    Path(id): Path<i64>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    host.credential_exists(id)?;
    let hooks = host.webhooks().ok_or_else(unavailable)?;
    let dir = hooks.spool(id);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let tokens = WebhookTokens::load_or_create(&dir)
        .and_then(|t| t.rotate(now, DEFAULT_GRACE_SECONDS))
        .and_then(|t| t.store(&dir).map(|()| t))
        .map_err(|e| io_refusal(&e))?;
    let receiver = hooks.receiver(id).map_err(|e| io_refusal(&e))?;
    receiver.set_tokens(tokens.clone());
    Ok(answer(&headers, id, &tokens))
}

/// `GET /api/credentials/{id}/webhook/changes?stream=crm_lead`: `{stream, changes}`, the
/// newest 20 changes received for the stream (no request to Flowlu: the page asks every second).
pub async fn changes(
    State(host): State<Arc<Host>>,
    Path(id): Path<i64>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    host.credential_exists(id)?;
    let hooks = host.webhooks().ok_or_else(unavailable)?;
    let stream = query.get("stream").map(String::as_str).unwrap_or("");
    let Some(model) = connector_flowlu::testing::model(stream) else {
        return Err(Refusal::whole_pub(
            StatusCode::NOT_FOUND,
            &format!("No stream named `{stream}`."),
            "not_found",
        ));
    };
    Ok(Json(json!({"stream": model.stream, "changes": recent(hooks, id, model.stream, 20)})).into_response())
}

/// `POST /hooks/{id}/flowlu/webhook/{token}`: Flowlu's request, answered by the credential's
/// receiver (404 without a body for an unknown credential, as for a wrong token).
pub async fn receive(
    State(host): State<Arc<Host>>,
    Path((id, token)): Path<(String, String)>,
    body: Body,
) -> Response {
    let known = id
        .parse::<i64>()
        .ok()
        .filter(|id| host.credential_exists(*id).is_ok());
    let (Some(id), Some(hooks)) = (known, host.webhooks()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match hooks.receiver(id) {
        Ok(receiver) => receiver.receive(&token, body).await,
        Err(e) => {
            tracing::error!(error = %e, "webhook receiver could not start");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
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

/// `POST /hooks/stand-in/{token}`: the embedded stand-in's event, spooled for every credential
/// of its account (404 without a body for a wrong token; the first refusal otherwise).
pub async fn relay(State(host): State<Arc<Host>>, Path(token): Path<String>, body: Body) -> Response {
    let Some((hooks, relay)) = host.webhooks().and_then(|h| h.relay.as_ref().map(|r| (h, r))) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !relay.token.accepts(&token, 0) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let limit = WebhookReceiverConfig::default().max_body_bytes;
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let Ok(tiles) = host.store().list() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    for tile in tiles.iter().filter(|t| t.account == relay.account) {
        let status = match hooks.receiver(tile.id) {
            Ok(receiver) => receiver.accept(&bytes).await,
            Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status != StatusCode::OK {
            return status.into_response();
        }
    }
    StatusCode::OK.into_response()
}
