//! Configuration of an emulator: data size, keys, page sizes, latency, faults and quirks.

use std::collections::HashMap;

/// The key every default configuration accepts.
pub const DEFAULT_KEY: &str = "emulator-key";

/// Everything an [`crate::Emulator`] is started with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Seed of the generated data and of every fault decision.
    pub seed: u64,
    /// Records seeded per model unless [`EmulatorConfig::model_records`] says otherwise.
    /// `customfields/fields` and `customfields/fieldsets` default to 30 and 12 instead (every
    /// custom field type on every entity that has custom fields).
    pub records_per_model: usize,
    /// Per-model record counts, keyed `"module/model"` (e.g. `"crm/account"`).
    pub model_records: HashMap<String, usize>,
    /// Valid API keys, each optionally limited to a set of modules.
    pub keys: Vec<ApiKey>,
    /// HTTP status of an error 11 (bad or missing key): 200 (Flowlu's docs) or 401.
    pub bad_key_status: u16,
    /// Largest page size; a bigger `limit` is capped to it.
    pub max_page_size: usize,
    /// Page size when a request gives no `limit`.
    pub default_page_size: usize,
    /// Latency added to every API request.
    pub latency: Latency,
    /// Fault injection shares.
    pub faults: Faults,
    /// Behaviour switches seen on some portals.
    pub quirks: Quirks,
    /// A per-account cap on API requests (every key of the portal shares it); `None`: no cap.
    pub rate_cap: Option<RateCap>,
    /// Flowlu's outgoing webhook: where every create, update and delete is POSTed, with
    /// delivery faults; `None`: no webhook.
    pub webhook: Option<Webhook>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            seed: 42,
            records_per_model: 100,
            model_records: HashMap::new(),
            keys: vec![ApiKey::all_modules(DEFAULT_KEY)],
            bad_key_status: 200,
            max_page_size: 100,
            default_page_size: 50,
            latency: Latency::default(),
            faults: Faults::default(),
            quirks: Quirks::default(),
            rate_cap: None,
            webhook: None,
        }
    }
}

/// Flowlu's outgoing webhook (System Settings -> Webhooks): on every create, update and delete
/// of a record, by any client, a JSON POST to `url` of
/// `{"meta":{"module","model","action"},"current":{..}|null,"previous":{..}|null}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Webhook {
    /// The receiver's URL (`http` or `https`).
    pub url: String,
    /// Delivery faults, decided per event from the seed.
    pub faults: WebhookFaults,
}

impl Webhook {
    /// A webhook to `url` without delivery faults.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            faults: WebhookFaults::default(),
        }
    }
}

/// Shares (probabilities, 0.0 to 1.0) of delivery faults of webhook events.
///
/// One draw per event decides its fault (if any); the shares are taken in the order of the
/// fields and must add up to at most 1. The draw is a function of the seed and the event's
/// number (events are numbered from 0 in the order the store changed), so a test that makes
/// the same changes sees the same faults, however its requests interleave with the deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WebhookFaults {
    /// Never sent.
    pub drop: f64,
    /// Sent twice, one POST after the other.
    pub repeat: f64,
    /// Sent [`WebhookFaults::delay_ms`] late (the events after it wait too: order is kept).
    pub delay: f64,
    /// Milliseconds a delayed event waits.
    pub delay_ms: u64,
    /// Held back and sent right after the next event (which is then sent as it is, whatever
    /// its own draw); one held with no next event is sent by [`crate::Emulator::flush_webhooks`].
    pub reorder: f64,
}

impl WebhookFaults {
    pub(crate) fn shares(&self) -> [(WebhookFault, f64); 4] {
        [
            (WebhookFault::Drop, self.drop),
            (WebhookFault::Repeat, self.repeat),
            (WebhookFault::Delay, self.delay),
            (WebhookFault::Reorder, self.reorder),
        ]
    }
}

/// The delivery fault of one webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFault {
    /// Never sent.
    Drop,
    /// Sent twice.
    Repeat,
    /// Sent late.
    Delay,
    /// Sent after the next event.
    Reorder,
}

/// A per-account cap on API requests: a token bucket of `burst` requests refilled at
/// `per_second`, shared by every key of the portal. A request finding the bucket empty is
/// refused (counted in [`crate::Stats::refused`]) and takes no token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateCap {
    /// Requests per second the account may make, sustained.
    pub per_second: f64,
    /// Requests that may arrive at once after a quiet spell (the bucket's size, at least 1).
    pub burst: u32,
    /// How a refused request is answered.
    pub refusal: Refusal,
}

impl RateCap {
    /// A cap of `per_second` with a burst of one request, refused as `refusal`.
    pub fn new(per_second: f64, refusal: Refusal) -> Self {
        Self {
            per_second,
            burst: 1,
            refusal,
        }
    }
}

/// How the portal answers a request over its cap (both forms are seen from Flowlu).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Refusal {
    /// HTTP 429 with the text body `Too Many Requests` and no `Retry-After`.
    #[default]
    TooManyRequests,
    /// `{"error":"Request rate per second exceeded"}` with this HTTP status (200 on the
    /// portals seen).
    JsonError {
        /// The HTTP status.
        status: u16,
    },
}

/// One valid API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key as sent in `api_key=`.
    pub key: String,
    /// The modules the key may use; `None` means every module (others get error 22).
    pub modules: Option<Vec<String>>,
}

impl ApiKey {
    /// A key allowed in every module.
    pub fn all_modules(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            modules: None,
        }
    }

    /// A key allowed only in the given modules.
    pub fn limited<I, S>(key: impl Into<String>, modules: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            key: key.into(),
            modules: Some(modules.into_iter().map(Into::into).collect()),
        }
    }

    pub(crate) fn allows(&self, module: &str) -> bool {
        self.modules
            .as_ref()
            .is_none_or(|m| m.iter().any(|x| x == module))
    }
}

/// Added latency: `fixed_ms` plus a deterministic draw in `0..=jitter_ms`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Latency {
    /// Milliseconds added to every API request.
    pub fixed_ms: u64,
    /// Largest extra milliseconds, drawn per request.
    pub jitter_ms: u64,
}

/// Shares (probabilities, 0.0 to 1.0) of injected faults on API requests.
///
/// One draw per request decides which fault (if any) happens; the shares are taken in the
/// order of the fields and must add up to at most 1. The draw is a function of the seed, the
/// request line (method, path and query) and how many times that exact request was seen
/// before, so the outcome does not depend on how concurrent requests interleave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// HTTP 429 with a `Retry-After` header of [`Faults::retry_after_secs`].
    pub rate_limit: f64,
    /// HTTP 429 without `Retry-After`.
    pub rate_limit_no_retry_after: f64,
    /// Seconds sent in `Retry-After`.
    pub retry_after_secs: u64,
    /// HTTP 500.
    pub server_error_500: f64,
    /// HTTP 502.
    pub bad_gateway_502: f64,
    /// HTTP 503.
    pub unavailable_503: f64,
    /// HTTP 200 with `{"error":{"error_code":13,...}}`.
    pub error_13: f64,
    /// The connection drops after part of the body was sent.
    pub drop_mid_body: f64,
    /// A valid HTTP 200 whose JSON body is cut short (Content-Length matches the cut body).
    pub truncated_json: f64,
    /// HTTP 200 with an HTML login page.
    pub html_login: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            rate_limit: 0.0,
            rate_limit_no_retry_after: 0.0,
            retry_after_secs: 1,
            server_error_500: 0.0,
            bad_gateway_502: 0.0,
            unavailable_503: 0.0,
            error_13: 0.0,
            drop_mid_body: 0.0,
            truncated_json: 0.0,
            html_login: 0.0,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// True when any share is above zero.
    pub fn any(&self) -> bool {
        self.shares().iter().any(|(_, p)| *p > 0.0)
    }

    pub(crate) fn shares(&self) -> [(Fault, f64); 9] {
        [
            (Fault::RateLimit, self.rate_limit),
            (Fault::RateLimitNoRetryAfter, self.rate_limit_no_retry_after),
            (Fault::Status(500), self.server_error_500),
            (Fault::Status(502), self.bad_gateway_502),
            (Fault::Status(503), self.unavailable_503),
            (Fault::Error13, self.error_13),
            (Fault::DropMidBody, self.drop_mid_body),
            (Fault::TruncatedJson, self.truncated_json),
            (Fault::HtmlLogin, self.html_login),
        ]
    }
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    RateLimit,
    RateLimitNoRetryAfter,
    Status(u16),
    Error13,
    DropMidBody,
    TruncatedJson,
    HtmlLogin,
}

/// Which key carries the total in a list envelope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TotalField {
    /// `"total": N` (documented).
    #[default]
    Total,
    /// `"total_result": N` instead of `total`.
    TotalResult,
    /// Both `total` and `total_result`.
    Both,
}

/// Which shape a validation error (create/update) takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ValidationShape {
    /// `{"error":{"error_code":21,"error_msg":..,"error_details":{field:msg}}}`.
    #[default]
    Code21,
    /// `{"error":"validation","description":..,"details":{field:msg}}`.
    Flat,
}

/// Behaviour switches seen (or feared) on some portals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// Which key carries the list total.
    pub total_field: TotalField,
    /// Ignore `order_by` (always id ascending).
    pub ignore_order_by: bool,
    /// Ignore `filter[...]` and `search`.
    pub ignore_filters: bool,
    /// Ignore `page` (always answer page 1).
    pub ignore_page: bool,
    /// A page-size cap below what the client asks (and below `max_page_size`).
    pub page_size_cap: Option<usize>,
    /// The shape of validation errors.
    pub validation_shape: ValidationShape,
    /// A `total` that lies: list answers carry this number in `total` (a `total_result`,
    /// when [`Quirks::total_field`] sends one, stays true).
    pub lying_total: Option<usize>,
    /// A list request carrying any `filter[...]` is answered with this error code (12 or 21)
    /// instead of a page.
    pub refuse_filters: Option<u16>,
    /// A list request carrying a `filter[...]` on any field but `id` is answered with this
    /// error code (12 or 21) instead of a page (a portal that filters by id only).
    pub refuse_filters_but_id: Option<u16>,
    /// A list request whose `limit` is above this is answered with error 12 instead of a page
    /// (a portal refusing large pages outright, rather than capping them).
    pub refuse_limit_above: Option<usize>,
    /// Error answers echo the request, as some frameworks' debug pages do: the method, the
    /// path and query as received (percent-encoded), the query percent-decoded with `+` kept
    /// (PHP's `rawurldecode`), the decoded query parameters as JSON (as sent, as Python's
    /// `json.dumps` writes it with `\uXXXX` for non-ASCII, and as PHP's `json_encode` with `\/`
    /// too), the body as received, and the key's first ten characters (a log line cut short).
    pub echo_request_in_errors: bool,
}
