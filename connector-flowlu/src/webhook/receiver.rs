//! The receiver: an axum [`Router`] a host mounts (or `flowlu-connector listen` serves) that
//! takes Flowlu's webhook POSTs at `/flowlu/webhook/{token}` and answers 200 only once the
//! event is on disk in its stream's spool.
//!
//! Answers, all without a body (nothing to learn for a prober):
//!
//! | status | when |
//! |---|---|
//! | 200 | spooled (fsynced), or the same event already spooled |
//! | 404 | any other path, or a token that is not accepted |
//! | 405 | another method on the webhook path |
//! | 400 | not JSON, nested deeper than the read path allows, or not an event |
//! | 408 | the body did not arrive within `body_timeout` |
//! | 413 | the body is larger than `max_body_bytes` |
//! | 422 | a module and model the connector does not read |
//! | 503 | the stream's spool is full, or `max_in_flight` requests are being received (`Retry-After`) |
//! | 500 | the spool could not write (the event is not promised) |

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use connector_spool::{AppendError, Appended, Spool, SpoolConfig};
use tokio::sync::Semaphore;

use super::event::{Event, Refusal};
use super::token::Tokens;

/// The path prefix of the webhook URL (the token follows).
pub const PATH_PREFIX: &str = "/flowlu/webhook/";

/// The receiver's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    /// Each stream's spool.
    pub spool: SpoolConfig,
    /// The largest body accepted.
    pub max_body_bytes: usize,
    /// Requests received at the same time; more are answered 503.
    pub max_in_flight: usize,
    /// How long a body may take to arrive.
    pub body_timeout: Duration,
}

/// Default `max_body_bytes`: 1 MiB, far above a record with its custom fields twice.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Default for ReceiverConfig {
    fn default() -> Self {
        Self {
            spool: SpoolConfig {
                max_entry_bytes: DEFAULT_MAX_BODY_BYTES + 8,
                ..SpoolConfig::default()
            },
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_in_flight: 256,
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// What the receiver answered so far, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Events spooled.
    pub spooled: u64,
    /// Events already spooled, answered 200 again.
    pub duplicates: u64,
    /// Refused: wrong token or path.
    pub not_found: u64,
    /// Refused: not an event (400, 408, 413).
    pub malformed: u64,
    /// Refused: a model the connector does not read.
    pub unknown_model: u64,
    /// Refused: spool full or too many requests (503).
    pub unavailable: u64,
    /// The spool failed (500).
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    spooled: AtomicU64,
    duplicates: AtomicU64,
    not_found: AtomicU64,
    malformed: AtomicU64,
    unknown_model: AtomicU64,
    unavailable: AtomicU64,
    failed: AtomicU64,
}

/// The receiving side of Flowlu's webhooks for one spool directory.
#[derive(Debug)]
pub struct Receiver {
    root: PathBuf,
    config: ReceiverConfig,
    tokens: RwLock<Tokens>,
    spools: Mutex<HashMap<&'static str, Spool>>,
    in_flight: Arc<Semaphore>,
    counters: Counters,
}

/// The spool directory of `stream` under a receiver's root.
pub fn stream_dir(root: &Path, stream: &str) -> PathBuf {
    root.join(stream)
}

/// Unix milliseconds now.
pub fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn empty(status: StatusCode) -> Response {
    status.into_response()
}

fn busy(retry_after: u32) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, retry_after.to_string())],
    )
        .into_response()
}

impl Receiver {
    /// A receiver spooling under `root` (a directory per stream), accepting `tokens`.
    pub fn new(root: &Path, tokens: Tokens, config: ReceiverConfig) -> Arc<Self> {
        Arc::new(Self {
            root: root.to_path_buf(),
            config,
            tokens: RwLock::new(tokens),
            spools: Mutex::new(HashMap::new()),
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            counters: Counters::default(),
        })
    }

    /// Replaces the accepted tokens (a rotation in a running host).
    pub fn set_tokens(&self, tokens: Tokens) {
        if let Ok(mut held) = self.tokens.write() {
            *held = tokens;
        }
    }

    /// What was answered so far.
    pub fn stats(&self) -> ReceiverStats {
        let c = &self.counters;
        ReceiverStats {
            spooled: c.spooled.load(Ordering::Relaxed),
            duplicates: c.duplicates.load(Ordering::Relaxed),
            not_found: c.not_found.load(Ordering::Relaxed),
            malformed: c.malformed.load(Ordering::Relaxed),
            unknown_model: c.unknown_model.load(Ordering::Relaxed),
            unavailable: c.unavailable.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }

    /// The router: `POST /flowlu/webhook/{token}`; every other path 404.
    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route(&format!("{PATH_PREFIX}{{token}}"), post(handle))
            .fallback(not_found)
            .with_state(Arc::clone(self))
    }

    fn accepts(&self, token: &str) -> bool {
        let now = i64::try_from(unix_millis() / 1000).unwrap_or(i64::MAX);
        self.tokens.read().is_ok_and(|tokens| tokens.accepts(token, now))
    }

    fn spool(&self, stream: &'static str) -> Result<Spool, String> {
        let mut spools = self
            .spools
            .lock()
            .map_err(|_| "the spool table is poisoned".to_string())?;
        if let Some(spool) = spools.get(stream) {
            return Ok(spool.clone());
        }
        let (spool, recovery) =
            Spool::open(&stream_dir(&self.root, stream), self.config.spool).map_err(|e| e.to_string())?;
        if recovery.truncated_bytes > 0 {
            tracing::warn!(
                stream,
                bytes = recovery.truncated_bytes,
                "spool: cut a torn tail (a write no sender was answered for)"
            );
        }
        spools.insert(stream, spool.clone());
        Ok(spool)
    }

    /// Opens the spool of every stream already holding one (recovery before the first event).
    pub fn recover(&self) -> Result<(), String> {
        for model in crate::base::streams::MODELS {
            if stream_dir(&self.root, model.stream).exists() {
                self.spool(model.stream)?;
            }
        }
        Ok(())
    }

    /// Spools one event body (the token already accepted): the status to answer.
    pub async fn accept(&self, body: &[u8]) -> StatusCode {
        let event = match Event::parse(body) {
            Ok(event) => event,
            Err(Refusal::Malformed) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                return StatusCode::BAD_REQUEST;
            }
            Err(Refusal::UnknownModel) => {
                self.counters.unknown_model.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "webhook: an event of a module and model the connector does not read (answered 422)"
                );
                return StatusCode::UNPROCESSABLE_ENTITY;
            }
        };
        let stream = event.model.stream;
        let spool = match self.spool(stream) {
            Ok(spool) => spool,
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(stream, error = %e, "webhook: the spool cannot be opened (answered 500)");
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
        };
        let mut payload = Vec::with_capacity(8 + body.len());
        payload.extend_from_slice(&unix_millis().to_le_bytes());
        payload.extend_from_slice(body);
        match spool.append(event.key(body), payload).await {
            Ok(Appended::Written(_)) => {
                self.counters.spooled.fetch_add(1, Ordering::Relaxed);
                StatusCode::OK
            }
            Ok(Appended::Duplicate(_)) => {
                self.counters.duplicates.fetch_add(1, Ordering::Relaxed);
                StatusCode::OK
            }
            Err(AppendError::Full) => {
                self.counters.unavailable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    stream,
                    "webhook: the spool is full (answered 503: run a read to drain it)"
                );
                StatusCode::SERVICE_UNAVAILABLE
            }
            Err(AppendError::TooLarge) => {
                self.counters.malformed.fetch_add(1, Ordering::Relaxed);
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Err(e) => {
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(stream, error = %e, "webhook: the spool could not write (answered 500)");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

async fn not_found(State(receiver): State<Arc<Receiver>>) -> Response {
    receiver.counters.not_found.fetch_add(1, Ordering::Relaxed);
    empty(StatusCode::NOT_FOUND)
}

/// The webhook route. The token is read from the path itself (no extractor whose refusal
/// would describe the request).
async fn handle(State(receiver): State<Arc<Receiver>>, uri: Uri, body: Body) -> Response {
    let token = uri.path().strip_prefix(PATH_PREFIX).unwrap_or("");
    receiver.receive(token, body).await
}

impl Receiver {
    /// One webhook request whose path carried `token`: the whole answer (for a host routing
    /// webhooks itself, for example one receiver per credential).
    pub async fn receive(self: &Arc<Self>, token: &str, body: Body) -> Response {
        receive(self, token, body).await
    }
}

async fn receive(receiver: &Arc<Receiver>, token: &str, body: Body) -> Response {
    if !receiver.accepts(token) {
        receiver.counters.not_found.fetch_add(1, Ordering::Relaxed);
        return empty(StatusCode::NOT_FOUND);
    }
    let Ok(_permit) = Arc::clone(&receiver.in_flight).try_acquire_owned() else {
        receiver.counters.unavailable.fetch_add(1, Ordering::Relaxed);
        return busy(1);
    };
    let limit = receiver.config.max_body_bytes;
    let bytes =
        match tokio::time::timeout(receiver.config.body_timeout, axum::body::to_bytes(body, limit)).await {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(_)) => {
                receiver.counters.malformed.fetch_add(1, Ordering::Relaxed);
                return empty(StatusCode::PAYLOAD_TOO_LARGE);
            }
            Err(_) => {
                receiver.counters.malformed.fetch_add(1, Ordering::Relaxed);
                return empty(StatusCode::REQUEST_TIMEOUT);
            }
        };
    match receiver.accept(&bytes).await {
        StatusCode::SERVICE_UNAVAILABLE => busy(60),
        status => empty(status),
    }
}
