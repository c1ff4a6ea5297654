//! The HTTP side: routing, Flowlu's methods, auth, fault injection and request statistics.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use serde_json::{json, Value};

use crate::catalog;
use crate::config::{EmulatorConfig, Fault, Faults, Latency, Quirks, RateCap, Refusal, ValidationShape};
use crate::data;
use crate::error::ApiError;
use crate::store::{Cmp, Filter, ListQuery, MutationPlan, Store};
use crate::webhook::Outbox;

/// Requests served, by path and HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// All requests counted.
    pub total: u64,
    /// API requests refused by the account's rate cap (in either form), included in `total`
    /// and `by_path`.
    pub refused: u64,
    /// Path (without query) -> HTTP status -> count.
    pub by_path: BTreeMap<String, BTreeMap<u16, u64>>,
}

impl Stats {
    /// Requests to `path` answered with `status`.
    pub fn count(&self, path: &str, status: u16) -> u64 {
        self.by_path
            .get(path)
            .and_then(|m| m.get(&status))
            .copied()
            .unwrap_or(0)
    }

    /// Requests to `path`, any status.
    pub fn path_total(&self, path: &str) -> u64 {
        self.by_path.get(path).map_or(0, |m| m.values().sum())
    }

    /// Requests answered with `status`, any path.
    pub fn status_total(&self, status: u16) -> u64 {
        self.by_path.values().filter_map(|m| m.get(&status)).sum()
    }
}

/// The switches that can change while serving.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Runtime {
    pub latency: Latency,
    pub faults: Faults,
    pub quirks: Quirks,
    pub rate_cap: Option<RateCap>,
}

/// The account's token bucket: tokens left at `at`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: tokio::time::Instant,
}

/// A change a second client makes between two API requests.
pub(crate) type Change = Box<dyn FnOnce(&Shared) + Send>;

/// Changes waiting for the API request count each is due at.
#[derive(Default)]
struct Scheduled(Vec<(u64, Change)>);

impl std::fmt::Debug for Scheduled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(at, _)| at)).finish()
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: EmulatorConfig,
    pub store: RwLock<Store>,
    pub runtime: RwLock<Runtime>,
    seen: Mutex<HashMap<u64, u64>>,
    stats: Mutex<Stats>,
    bucket: Mutex<Option<Bucket>>,
    /// API requests answered since the start (never reset).
    served: Mutex<u64>,
    scheduled: Mutex<Scheduled>,
    /// The outgoing webhook, when one is configured.
    pub webhook: Option<Outbox>,
}

/// The store locked for a change: derefs to the [`Store`]; when dropped, hands the changes it
/// made to the webhook, still under the lock (so events are numbered in the store's order).
pub(crate) struct StoreWrite<'a> {
    store: std::sync::RwLockWriteGuard<'a, Store>,
    webhook: Option<&'a Outbox>,
}

impl std::ops::Deref for StoreWrite<'_> {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl std::ops::DerefMut for StoreWrite<'_> {
    fn deref_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

impl Drop for StoreWrite<'_> {
    fn drop(&mut self) {
        if let (Some(webhook), Some(events)) = (self.webhook, self.store.events.as_mut()) {
            if !events.is_empty() {
                webhook.queue(events.drain(..));
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn new(config: EmulatorConfig, mut store: Store, webhook: Option<Outbox>) -> Self {
        if webhook.is_some() {
            store.events = Some(Vec::new());
        }
        let runtime = Runtime {
            latency: config.latency,
            faults: config.faults,
            quirks: config.quirks,
            rate_cap: config.rate_cap,
        };
        Shared {
            config,
            store: RwLock::new(store),
            runtime: RwLock::new(runtime),
            seen: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            bucket: Mutex::new(None),
            served: Mutex::new(0),
            scheduled: Mutex::new(Scheduled::default()),
            webhook,
        }
    }

    pub(crate) fn read_store(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn write_store(&self) -> StoreWrite<'_> {
        StoreWrite {
            store: self.store.write().unwrap_or_else(PoisonError::into_inner),
            webhook: self.webhook.as_ref(),
        }
    }

    pub(crate) fn runtime(&self) -> Runtime {
        *self.runtime.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn update_runtime(&self, f: impl FnOnce(&mut Runtime)) {
        f(&mut self.runtime.write().unwrap_or_else(PoisonError::into_inner));
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub(crate) fn reset_stats(&self) {
        *lock(&self.stats) = Stats::default();
    }

    /// Starts the account's bucket over (full) under `cap`.
    pub(crate) fn set_rate_cap(&self, cap: Option<RateCap>) {
        self.update_runtime(|rt| rt.rate_cap = cap);
        *lock(&self.bucket) = None;
    }

    /// Whether a request arriving now is within the account's cap (it then takes a token).
    fn admit(&self, cap: &RateCap) -> bool {
        let now = tokio::time::Instant::now();
        let burst = f64::from(cap.burst.max(1));
        let mut bucket = lock(&self.bucket);
        let bucket = bucket.get_or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.saturating_duration_since(bucket.at).as_secs_f64() * cap.per_second.max(0.0);
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Runs `change` once `after` more API requests have been answered (at once for 0).
    pub(crate) fn schedule(&self, after: u64, change: Change) {
        if after == 0 {
            change(self);
            return;
        }
        let at = *lock(&self.served) + after;
        lock(&self.scheduled).0.push((at, change));
    }

    /// Counts one answered API request and runs the changes now due, in the order scheduled.
    fn answered(&self) {
        let served = {
            let mut served = lock(&self.served);
            *served += 1;
            *served
        };
        let due: Vec<Change> = {
            let mut scheduled = lock(&self.scheduled);
            let (due, later) = std::mem::take(&mut scheduled.0)
                .into_iter()
                .partition(|(at, _)| *at <= served);
            scheduled.0 = later;
            due.into_iter().map(|(_, c)| c).collect()
        };
        for change in due {
            change(self);
        }
    }

    fn record(&self, path: &str, status: u16, refused: bool) {
        let mut stats = lock(&self.stats);
        stats.total += 1;
        stats.refused += u64::from(refused);
        *stats
            .by_path
            .entry(path.to_owned())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }

    /// The added delay and fault of one request, a function of the seed, the request line and
    /// how many times that exact request line was seen before.
    fn decide(&self, method: &Method, path: &str, query: &str, rt: &Runtime) -> (u64, Option<Fault>) {
        if !rt.faults.any() && rt.latency.jitter_ms == 0 {
            return (rt.latency.fixed_ms, None);
        }
        let line = data::fnv1a(&[method.as_str().as_bytes(), path.as_bytes(), query.as_bytes()]);
        let n = {
            let mut seen = lock(&self.seen);
            let count = seen.entry(line).or_insert(0);
            *count += 1;
            *count - 1
        };
        let mut rng = data::rng_for(self.config.seed, &line.to_string(), n);
        let draw: f64 = rng.random();
        let jitter = if rt.latency.jitter_ms > 0 {
            rng.random_range(0..=rt.latency.jitter_ms)
        } else {
            0
        };
        let mut acc = 0.0;
        let fault = rt.faults.shares().into_iter().find_map(|(fault, share)| {
            acc += share;
            (share > 0.0 && draw < acc).then_some(fault)
        });
        (rt.latency.fixed_ms + jitter, fault)
    }
}

/// The router: Flowlu's API under `/api/v1/module/`, inspection under `/_emulator/`.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_emulator/stats", get(stats_handler))
        .route("/_emulator/reset_stats", post(reset_stats_handler))
        .route("/_emulator/mutate", post(mutate_handler))
        .fallback(api_handler)
        .with_state(shared)
}

async fn stats_handler(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let stats = shared.stats();
    let counts = shared.read_store().counts();
    Json(json!({"total": stats.total, "refused": stats.refused, "by_path": stats.by_path, "counts": counts}))
}

async fn reset_stats_handler(State(shared): State<Arc<Shared>>) -> StatusCode {
    shared.reset_stats();
    StatusCode::NO_CONTENT
}

#[derive(serde::Deserialize)]
struct MutateRequest {
    module: String,
    model: String,
    #[serde(default)]
    seed: u64,
    #[serde(flatten)]
    plan: MutationPlan,
}

async fn mutate_handler(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let req: MutateRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let key = format!("{}/{}", req.module, req.model);
    match shared.write_store().mutate(&key, req.seed, req.plan) {
        Ok(summary) => Json(summary).into_response(),
        Err(e) => (StatusCode::NOT_FOUND, e.to_string()).into_response(),
    }
}

const JSON_TYPE: &str = "application/json; charset=utf-8";

fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(Body::from(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_TYPE));
    response
}

fn text_response(status: StatusCode, content_type: &'static str, body: &'static str) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Flowlu - Log in</title></head>\
<body><form method=\"post\" action=\"/login\"><input name=\"email\"><input name=\"password\" \
type=\"password\"><button>Log in</button></form></body></html>\n";

async fn api_handler(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path();
    let query = uri.query().unwrap_or("");
    let rt = shared.runtime();
    let refused = rt.rate_cap.filter(|cap| !shared.admit(cap));
    let (delay, fault) = shared.decide(&method, path, query, &rt);
    let incoming = Incoming {
        method: &method,
        path,
        query,
        headers: &headers,
        body: &body,
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let response = match (refused, fault) {
        (Some(cap), _) => refusal(cap.refusal),
        (None, fault) => faulted(&shared, &rt, &incoming, fault),
    };
    shared.record(path, response.status().as_u16(), refused.is_some());
    // A second client's changes due after this request land before its answer is sent.
    shared.answered();
    response
}

/// The answer to a request over the account's cap.
fn refusal(form: Refusal) -> Response {
    match form {
        Refusal::TooManyRequests => {
            text_response(StatusCode::TOO_MANY_REQUESTS, "text/plain", "Too Many Requests")
        }
        Refusal::JsonError { status } => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            r#"{"error":"Request rate per second exceeded"}"#,
        ),
    }
}

/// The answer to a request within the cap: an injected fault or the regular answer.
fn faulted(shared: &Shared, rt: &Runtime, incoming: &Incoming<'_>, fault: Option<Fault>) -> Response {
    match fault {
        Some(Fault::RateLimit) => {
            let mut r = text_response(StatusCode::TOO_MANY_REQUESTS, "text/plain", "Too Many Requests");
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(rt.faults.retry_after_secs));
            r
        }
        Some(Fault::RateLimitNoRetryAfter) => {
            text_response(StatusCode::TOO_MANY_REQUESTS, "text/plain", "Too Many Requests")
        }
        Some(Fault::Status(code)) => text_response(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "text/html",
            "<html><body><h1>Server error</h1></body></html>",
        ),
        Some(Fault::Error13) => json_response(
            StatusCode::OK,
            echo(
                rt,
                incoming,
                ApiError::new(13, "Internal server error, try again later"),
            )
            .body(false)
            .to_string(),
        ),
        Some(Fault::HtmlLogin) => text_response(StatusCode::OK, "text/html; charset=utf-8", LOGIN_PAGE),
        Some(Fault::DropMidBody) => {
            let (status, full) = answer(shared, rt, incoming);
            dropped_mid_body(status, full)
        }
        Some(Fault::TruncatedJson) => {
            let (status, full) = answer(shared, rt, incoming);
            json_response(status, full.slice(..full.len() / 2))
        }
        None => {
            let (status, full) = answer(shared, rt, incoming);
            json_response(status, full)
        }
    }
}

/// A response whose body stream fails halfway, so the connection is aborted mid-body.
fn dropped_mid_body(status: StatusCode, full: Bytes) -> Response {
    use futures::StreamExt;
    let len = full.len();
    let head = futures::stream::iter([Ok::<Bytes, std::io::Error>(full.slice(..len / 2))]);
    // Yield once before failing, so the headers and the first half are flushed to the client.
    let fail = futures::stream::once(async {
        tokio::task::yield_now().await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "emulated connection drop",
        ))
    });
    let mut response = Response::new(Body::from_stream(head.chain(fail)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_TYPE));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    response
}

/// One API request as received.
struct Incoming<'a> {
    method: &'a Method,
    path: &'a str,
    query: &'a str,
    headers: &'a HeaderMap,
    body: &'a Bytes,
}

/// The regular answer of an API request: status and JSON body.
fn answer(shared: &Shared, rt: &Runtime, req: &Incoming<'_>) -> (StatusCode, Bytes) {
    match dispatch(shared, rt, req) {
        Ok(bytes) => (StatusCode::OK, Bytes::from(bytes)),
        Err(e) => {
            let e = echo(rt, req, e);
            let status = if e.code() == 11 {
                StatusCode::from_u16(shared.config.bad_key_status).unwrap_or(StatusCode::OK)
            } else {
                StatusCode::OK
            };
            let flat = rt.quirks.validation_shape == ValidationShape::Flat;
            (status, Bytes::from(e.body(flat).to_string()))
        }
    }
}

/// The error with the request echoed into its message (quirk `echo_request_in_errors`).
fn echo(rt: &Runtime, req: &Incoming<'_>, error: ApiError) -> ApiError {
    if !rt.quirks.echo_request_in_errors {
        return error;
    }
    let params: serde_json::Map<String, Value> =
        serde_urlencoded::from_str::<Vec<(String, String)>>(req.query)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
    // The key as a server that cut its log line short shows it: its first ten characters.
    let cut_key: String = params
        .get("api_key")
        .and_then(Value::as_str)
        .map(|k| k.chars().take(10).collect())
        .unwrap_or_default();
    let params = Value::Object(params);
    let request = format!(
        "request {} {}?{}; decoded {}; parameters {}; ascii {}; php {}; body {}; cut api_key={cut_key}",
        req.method,
        req.path,
        req.query,
        raw_url_decode(req.query),
        params,
        ascii_json(&params),
        ascii_json(&params).replace('/', "\\/"),
        String::from_utf8_lossy(req.body)
    );
    match error {
        ApiError::Coded { code, msg } => ApiError::Coded {
            code,
            msg: format!("{msg} ({request})"),
        },
        ApiError::Validation(mut details) => {
            details.insert("request".into(), Value::String(request));
            ApiError::Validation(details)
        }
    }
}

/// PHP's `rawurldecode`: `%XX` decoded, `+` kept as it is (not a space).
fn raw_url_decode(query: &str) -> String {
    let bytes = query.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// JSON as Python's `json.dumps` writes it by default: every non-ASCII character as `\uXXXX`
/// escapes of its UTF-16 units (a surrogate pair beyond U+FFFF).
fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

/// `/api/v1/module/{module}/{model}/{method}[/{id}]`, split.
struct Target<'a> {
    module: &'a str,
    model: &'a str,
    method: &'a str,
    id: Option<&'a str>,
}

fn parse_target(path: &str) -> Result<Target<'_>, ApiError> {
    let rest = path
        .strip_prefix("/api/v1/module/")
        .ok_or_else(|| ApiError::invalid("unknown path"))?;
    let mut parts = rest.split('/');
    let module = parts.next().unwrap_or("");
    let model = parts.next().unwrap_or("");
    let method = parts.next().unwrap_or("");
    let id = parts.next().filter(|s| !s.is_empty());
    if parts.any(|p| !p.is_empty()) {
        return Err(ApiError::invalid("unexpected path segments"));
    }
    Ok(Target {
        module,
        model,
        method,
        id,
    })
}

fn dispatch(shared: &Shared, rt: &Runtime, req: &Incoming<'_>) -> Result<Vec<u8>, ApiError> {
    let Incoming {
        method,
        path,
        query,
        headers,
        body,
    } = *req;
    let params: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|_| ApiError::invalid("malformed query string"))?;
    let target = parse_target(path)?;
    let key = params
        .iter()
        .find(|(k, _)| k == "api_key")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let api_key = shared
        .config
        .keys
        .iter()
        .find(|k| !key.is_empty() && k.key == key)
        .ok_or_else(|| ApiError::new(11, "Authorization failed: invalid or missing api_key"))?;
    if !catalog::has_module(target.module) {
        return Err(ApiError::new(31, format!("Unknown module {}", target.module)));
    }
    if !api_key.allows(target.module) {
        return Err(ApiError::new(
            22,
            format!("Access denied: the key has no access to module {}", target.module),
        ));
    }
    let def = catalog::find(target.module, target.model)
        .ok_or_else(|| ApiError::new(31, format!("Unknown model {}/{}", target.module, target.model)))?;
    let model_key = def.key();
    let is_post = method == Method::POST;
    if !is_post && method != Method::GET {
        return Err(ApiError::invalid("only GET and POST are supported"));
    }
    match target.method {
        "list" => {
            let q = list_query(shared, rt, &params)?;
            shared.read_store().list(&model_key, &q)
        }
        "get" => {
            let id = parse_id(target.id)?;
            shared.read_store().get(&model_key, id)
        }
        "delete" => {
            let id = parse_id(target.id)?;
            shared.write_store().delete(&model_key, id)?;
            Ok(format!("{{\"response\":{{\"id\":{id}}}}}").into_bytes())
        }
        "create" | "update" if !is_post => Err(ApiError::invalid(format!("{} requires POST", target.method))),
        "create" => {
            if target.id.is_some() {
                return Err(ApiError::invalid("create takes no id"));
            }
            let input = write_body(headers, body)?;
            let row = shared.write_store().create(&model_key, &input)?;
            Ok(wrap(&row))
        }
        "update" => {
            let id = parse_id(target.id)?;
            let input = write_body(headers, body)?;
            let row = shared.write_store().update(&model_key, id, &input)?;
            Ok(wrap(&row))
        }
        other => Err(ApiError::new(30, format!("Unknown method {other:?}"))),
    }
}

fn wrap(row: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(row.len() + 16);
    out.extend_from_slice(b"{\"response\":");
    out.extend_from_slice(row);
    out.push(b'}');
    out
}

fn parse_id(id: Option<&str>) -> Result<u64, ApiError> {
    let id = id.ok_or_else(|| ApiError::invalid("missing record id"))?;
    id.parse()
        .map_err(|_| ApiError::invalid(format!("invalid record id {id:?}")))
}

/// The fields of a create/update body: form-encoded, or a JSON object.
fn write_body(headers: &HeaderMap, body: &Bytes) -> Result<Vec<(String, Value)>, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        let map: serde_json::Map<String, Value> =
            serde_json::from_slice(body).map_err(|_| ApiError::invalid("body is not a JSON object"))?;
        Ok(map.into_iter().collect())
    } else {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| ApiError::invalid("malformed form body"))?;
        Ok(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    }
}

fn positive(params: &[(String, String)], name: &str) -> Result<Option<usize>, ApiError> {
    match params.iter().rev().find(|(k, _)| k == name) {
        None => Ok(None),
        Some((_, v)) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(ApiError::invalid(format!("{name} must be a positive integer"))),
        },
    }
}

fn parse_filter(field: &str, value: &str) -> Result<Filter, ApiError> {
    let field = field.to_owned();
    if !value.trim_start().starts_with('{') {
        return Ok(Filter {
            field,
            cmp: Cmp::Eq(value.to_owned()),
        });
    }
    let bad = || ApiError::invalid(format!("malformed filter on {field}"));
    let spec: serde_json::Map<String, Value> = serde_json::from_str(value).map_err(|_| bad())?;
    let operand = spec.get("value").cloned().ok_or_else(bad)?;
    let cmp = match spec.get("type").and_then(Value::as_str) {
        Some("more") => Cmp::More(operand),
        Some("less") => Cmp::Less(operand),
        Some("equal") => Cmp::Eq(match operand {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        _ => return Err(bad()),
    };
    Ok(Filter { field, cmp })
}

fn list_query(shared: &Shared, rt: &Runtime, params: &[(String, String)]) -> Result<ListQuery, ApiError> {
    let config = &shared.config;
    let page = positive(params, "page")?.unwrap_or(1);
    let asked = positive(params, "limit")?.unwrap_or(config.default_page_size);
    if let Some(most) = rt.quirks.refuse_limit_above.filter(|most| asked > *most) {
        return Err(ApiError::new(
            12,
            format!("Invalid request: limit must be at most {most}"),
        ));
    }
    let mut limit = asked.min(config.max_page_size);
    if let Some(cap) = rt.quirks.page_size_cap {
        limit = limit.min(cap.max(1));
    }
    let mut order = Vec::new();
    let mut filters = Vec::new();
    let mut search = None;
    for (k, v) in params {
        match k.as_str() {
            "order_by[asc][]" | "order_by[asc]" => order.push((v.clone(), false)),
            "order_by[desc][]" | "order_by[desc]" => order.push((v.clone(), true)),
            "search" if !v.is_empty() => search = Some(v.clone()),
            _ => {
                if let Some(field) = k.strip_prefix("filter[").and_then(|r| r.strip_suffix(']')) {
                    filters.push(parse_filter(field, v)?);
                }
            }
        }
    }
    if let Some(code) = rt.quirks.refuse_filters {
        if let Some(field) = filters.first().map(|f| f.field.clone()) {
            return Err(ApiError::new(code, format!("Invalid filter on {field}")));
        }
    }
    if let Some(code) = rt.quirks.refuse_filters_but_id {
        if let Some(field) = filters.iter().map(|f| &f.field).find(|f| *f != "id") {
            return Err(ApiError::new(code, format!("Invalid filter on {field}")));
        }
    }
    if rt.quirks.ignore_order_by {
        order.clear();
    }
    if rt.quirks.ignore_filters {
        filters.clear();
        search = None;
    }
    Ok(ListQuery {
        page: if rt.quirks.ignore_page { 1 } else { page },
        limit,
        order,
        filters,
        search,
        total_field: rt.quirks.total_field,
        lying_total: rt.quirks.lying_total,
    })
}
