//! The probe's requests: what it may send ([`Request`], reads only), sent through the
//! connector's own [`Client`] (its body cap, its resolver and DNS failures, its redaction, its
//! timeouts, no redirects), within a budget and at a pace ([`Session`]), and each answer
//! described without values ([`Answer`], [`Refusal`]).

use std::time::Duration;

use connector_core::Secret;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use crate::base::error::{CodeClass, Error, TransportKind};
use crate::base::streams::Model;
use crate::client::decode::{decode_within, parse_bounded};
use crate::client::transport::{Call, Client};

/// The key sent to learn how a rejected key is answered: a constant, never derived from the
/// real key.
pub const WRONG_KEY: &str = "flowlu-probe-deliberately-wrong-key";
/// The method name sent to learn how an unknown method is answered.
pub(super) const NO_SUCH_METHOD: &str = "probe_no_such_method";

/// The only methods a probe can send: reads, and one fixed method name that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadMethod {
    /// `GET .../list`.
    List,
    /// `GET .../get/{id}`.
    Get(u64),
    /// `GET .../probe_no_such_method`.
    NoSuchMethod,
}

/// One probe request: a GET of a read method, with query parameters besides the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// The module.
    pub module: &'static str,
    /// The model.
    pub model: &'static str,
    /// The method.
    pub method: ReadMethod,
    /// Query parameters besides `api_key`.
    pub params: Vec<(String, String)>,
    /// Send [`WRONG_KEY`] instead of the real key.
    pub wrong_key: bool,
}

impl Request {
    /// A list of `model` with `params`.
    pub(crate) fn list(model: &Model, params: Vec<(String, String)>) -> Self {
        Self {
            module: model.module,
            model: model.model,
            method: ReadMethod::List,
            params,
            wrong_key: false,
        }
    }

    /// The client's call for this request: never a POST (no form body), never a write method.
    fn call(&self) -> Call<'_> {
        let call = Call::new(self.module, self.model, "list").params(&self.params);
        match self.method {
            ReadMethod::List => call,
            ReadMethod::Get(id) => Call::new(self.module, self.model, "get")
                .id(id)
                .params(&self.params),
            ReadMethod::NoSuchMethod => {
                Call::new(self.module, self.model, NO_SUCH_METHOD).params(&self.params)
            }
        }
    }
}

/// Where a probe goes and how.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The connector's client for the account (base URL, key, body cap, timeouts, resolver).
    pub client: Client,
    /// The account domain, reported only when `include_domain`.
    pub domain: String,
    /// Put the domain in the report.
    pub include_domain: bool,
    /// The time between two requests.
    pub interval: Duration,
}

/// What one request brought back.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A success: the `response` member.
    Ok(Value),
    /// A refusal, described without values.
    Refused(Refusal),
    /// The budget was spent: not sent.
    NotSent,
}

/// An answer the connector reads as an error.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) error_code: Option<i64>,
    pub(crate) connector_class: &'static str,
    pub(crate) body: Value,
    pub(crate) rate: bool,
    pub(crate) headers: Map<String, Value>,
}

impl Refusal {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "error_code": self.error_code,
            "body_shape": self.body,
            "connector_reads_it_as": self.connector_class,
        })
    }
}

/// The request budget and pacing of one probe; no request is sent past the budget.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) target: Target,
    /// The same client with [`WRONG_KEY`].
    wrong: Client,
    pub(crate) budget: usize,
    pub(crate) sent: usize,
    pub(crate) interval: Duration,
    last: Option<tokio::time::Instant>,
    pub(crate) rate_refusals: Vec<Value>,
}

impl Session {
    /// A session of at most `budget` requests.
    pub(crate) fn new(target: Target, budget: usize) -> Self {
        let interval = target.interval;
        let wrong = target.client.with_api_key(Secret::new(WRONG_KEY));
        Self {
            target,
            wrong,
            budget,
            sent: 0,
            interval,
            last: None,
            rate_refusals: Vec::new(),
        }
    }

    /// Sends `request` unless the budget is spent, after the interval since the last one.
    pub(crate) async fn send(&mut self, request: &Request) -> Answer {
        if self.sent >= self.budget {
            return Answer::NotSent;
        }
        if let Some(last) = self.last {
            tokio::time::sleep_until(last + self.interval).await;
        }
        self.sent += 1;
        self.last = Some(tokio::time::Instant::now());
        let client = if request.wrong_key {
            &self.wrong
        } else {
            &self.target.client
        };
        let answer = match client.send_raw(&request.call()).await {
            Ok((status, headers, body)) => read_answer(status, &headers, body.as_ref(), client),
            Err(err) => Answer::Refused(unanswered(&err)),
        };
        if let Answer::Refused(refusal) = &answer {
            if refusal.rate {
                self.note_rate_refusal(refusal);
            }
        }
        answer
    }

    pub(crate) fn note_rate_refusal(&mut self, refusal: &Refusal) {
        let retry_after = refusal
            .headers
            .get("retry-after")
            .and_then(Value::as_u64)
            .map(Duration::from_secs);
        let form = if refusal.status == 429 {
            "http_429"
        } else {
            "json_error_string"
        };
        self.rate_refusals.push(json!({
            "request": self.sent,
            "status": refusal.status,
            "form": form,
            "body_shape": refusal.body,
            "headers": refusal.headers,
            "retry_after_sent": refusal.headers.contains_key("retry-after"),
            "connector_reads_it_as": refusal.connector_class,
        }));
        let doubled = self.interval.saturating_mul(2);
        self.interval = retry_after
            .map_or(doubled, |r| r.max(doubled))
            .min(Duration::from_secs(120));
    }
}

/// A request that got no answer the client would read: a transport failure, or a body past
/// the cap (its reading stopped there).
fn unanswered(err: &Error) -> Refusal {
    Refusal {
        status: 0,
        error_code: None,
        connector_class: class_of(err),
        body: json!(match err {
            Error::Oversized(_) => "over the body cap",
            _ => "no answer",
        }),
        rate: false,
        headers: Map::new(),
    }
}

/// Reads one answer: the connector's decoder says what it means (with the client's key
/// redacted and its value budget), the rest is described without values.
fn read_answer(status: StatusCode, headers: &HeaderMap, body: &[u8], client: &Client) -> Answer {
    let max_values = client.answer_values();
    match decode_within(status, headers, body, client.api_key().expose(), max_values) {
        Ok(response) => Answer::Ok(response),
        Err(err) => {
            let parsed = parse_bounded(body, max_values).ok();
            let error = parsed.as_ref().and_then(|v| v.get("error"));
            let rate_text = error
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_ascii_lowercase().contains("rate"));
            Answer::Refused(Refusal {
                status: status.as_u16(),
                error_code: err.api().and_then(|a| a.code),
                connector_class: class_of(&err),
                body: body_shape(parsed.as_ref(), body),
                rate: status.as_u16() == 429 || rate_text || matches!(err, Error::RateLimited { .. }),
                headers: rate_headers(headers),
            })
        }
    }
}

/// What the connector makes of an error.
pub(crate) fn class_of(err: &Error) -> &'static str {
    #[allow(unreachable_patterns)]
    match err {
        Error::Config { .. } => "config",
        Error::Auth { .. } => "auth",
        Error::UnknownAccount { .. } => "unknown_account",
        // A name that does not resolve: no portal at this address, as `check` says.
        Error::Transport {
            kind: TransportKind::Dns,
            ..
        } => "unknown_account",
        Error::Permission(denied) if denied.api.code == Some(22) => "permission",
        Error::Permission { .. } => "unsupported",
        Error::RateLimited { .. } => "rate_limited",
        Error::Server { .. } => "server",
        Error::Transport { .. } => "transport",
        Error::Oversized(_) => "oversized",
        Error::Api(api) => match api.class() {
            CodeClass::Transient => "transient",
            CodeClass::Record => "record",
            CodeClass::Auth => "auth",
            CodeClass::Permission => "permission",
            CodeClass::Unsupported => "unsupported",
            CodeClass::System => "system",
        },
        Error::Malformed { .. } => "malformed",
        _ => "other",
    }
}

/// Error sentences reported verbatim: they are Flowlu's, not the customer's.
const KNOWN_ERROR_TEXTS: &[&str] = &["validation", "Request rate per second exceeded", "invalid_grant"];

/// The structure of a body: keys and JSON types, no values (a known error sentence aside).
pub(crate) fn body_shape(parsed: Option<&Value>, body: &[u8]) -> Value {
    match parsed {
        Some(value) => {
            let mut shape = value_shape(value, 3);
            if let (Some(text), Some(obj)) =
                (value.get("error").and_then(Value::as_str), shape.as_object_mut())
            {
                if let Some(known) = KNOWN_ERROR_TEXTS.iter().find(|k| k.eq_ignore_ascii_case(text)) {
                    obj.insert("error_text".into(), json!(known));
                }
            }
            shape
        }
        None if body.iter().all(u8::is_ascii_whitespace) => json!("empty"),
        None if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<') => json!("html"),
        None => json!("text"),
    }
}

fn value_shape(value: &Value, depth: usize) -> Value {
    match value {
        Value::Object(obj) if depth > 0 => {
            let mut out = Map::new();
            let mut other = 0;
            for (k, v) in obj {
                if is_plain_key(k) {
                    out.insert(k.clone(), value_shape(v, depth - 1));
                } else {
                    other += 1;
                }
            }
            if other > 0 {
                out.insert("(other keys)".into(), json!(other));
            }
            Value::Object(out)
        }
        other => json!(json_type(other)),
    }
}

/// The forms a rate header's value is reported in besides a number: the only texts a header
/// value can become in a report, whatever it held (a gateway's `key=...` or account name
/// never reaches it).
pub(super) const HEADER_FORMS: [&str; 2] = ["http_date", "not_shown"];

/// Rate headers (`retry-after`, `*ratelimit*`, `*rate-limit*`), by lower-case name; each value
/// as a JSON number when it is one (`1`, `0.5`), else one of [`HEADER_FORMS`].
pub(crate) fn rate_headers(headers: &HeaderMap) -> Map<String, Value> {
    headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n == "retry-after" || n.contains("ratelimit") || n.contains("rate-limit")
        })
        .filter(|(name, _)| {
            name.as_str().len() <= 40
                && name
                    .as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        .map(|(name, value)| {
            let form = value.to_str().map_or(json!("not_shown"), header_form);
            (name.as_str().to_string(), form)
        })
        .collect()
}

/// A header value as a number, or the form it has.
fn header_form(value: &str) -> Value {
    let v = value.trim();
    let digits = |s: &str| !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(v) {
        return v.parse::<u64>().map_or(json!("not_shown"), Value::from);
    }
    if let Some((whole, fraction)) = v.split_once('.') {
        if digits(whole) && digits(fraction) {
            if let Some(n) = v.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
                return Value::Number(n);
            }
        }
    }
    if is_http_date(v) {
        return json!(HEADER_FORMS[0]);
    }
    json!(HEADER_FORMS[1])
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110's preferred form).
fn is_http_date(v: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = v.split(' ').collect();
    let number = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    let time = |s: &str| {
        s.len() == 8
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 2 || i == 5 {
                    b == b':'
                } else {
                    b.is_ascii_digit()
                }
            })
    };
    matches!(parts.as_slice(), [day, dd, month, yyyy, hms, "GMT"]
        if day.strip_suffix(',').is_some_and(|d| DAYS.contains(&d))
            && number(dd, 2)
            && MONTHS.contains(month)
            && number(yyyy, 4)
            && time(hms))
}

/// A record key or error key reported by name: a plain identifier, at most 64 characters.
pub(crate) fn is_plain_key(key: &str) -> bool {
    let mut chars = key.chars();
    key.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Header values become numbers or one of the fixed forms: a gateway header naming the
    /// key or the account never reaches the report.
    #[test]
    fn header_values_are_numbers_or_a_known_form() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("retry-after", "30"),
            ("x-ratelimit-limit", " 10 "),
            ("x-ratelimit-remaining", "0.5"),
            ("x-ratelimit-reset", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("x-ratelimit-scope", "key=canary-key-7d1e5f0a9b3c"),
            ("x-ratelimit-account", "acme"),
            ("ratelimit-policy", "10;w=1"),
            ("x-rate-limit-huge", "123456789012345678901234567890"),
            ("x-other", "5"),
        ] {
            headers.insert(
                reqwest::header::HeaderName::from_static(name),
                reqwest::header::HeaderValue::from_str(value).unwrap(),
            );
        }
        assert_eq!(
            Value::Object(rate_headers(&headers)),
            json!({
                "retry-after": 30,
                "x-ratelimit-limit": 10,
                "x-ratelimit-remaining": 0.5,
                "x-ratelimit-reset": "http_date",
                "x-ratelimit-scope": "not_shown",
                "x-ratelimit-account": "not_shown",
                "ratelimit-policy": "not_shown",
                "x-rate-limit-huge": "not_shown",
            })
        );
    }
}
