//! The probe's requests: what it may send ([`Request`], reads only), sent through the
//! connector's own [`Client`] (its body cap, its resolver and DNS failures, its redaction, its
//! timeouts, no redirects), within a budget and at a pace ([`Session`]), and each answer
//! described without values ([`Answer`], [`Refusal`]).

use std::time::Duration;

use connector_core::Secret;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::{json, Map, Value};

use super::privacy::{body_shape, rate_headers};
use super::report::{RateRefusal, RefusalReport, Verdict, RATE_REFUSED};
use crate::base::decision::Label;
use crate::base::error::Error;
use crate::base::streams::Model;
use crate::client::decode::{decode_within, parse_bounded};
use crate::client::transport::{Call, Client};

/// The key sent to learn how a rejected key is answered: a constant, never derived from the
/// real key.
pub const WRONG_KEY: &str = "flowlu-probe-deliberately-wrong-key";
/// The method name sent to learn how an unknown method is answered.
pub(crate) const NO_SUCH_METHOD: &str = "probe_no_such_method";

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
    /// As the report holds it.
    pub(crate) fn report(&self) -> RefusalReport {
        RefusalReport {
            status: self.status,
            error_code: self.error_code,
            body_shape: self.body.clone(),
            connector_reads_it_as: self.connector_class.to_string(),
            verdict: None,
            why: None,
        }
    }

    /// The verdict of an experiment the portal refused: inconclusive when refused for the
    /// rate cap (the answer says nothing of what was asked), else `refused`.
    pub(crate) fn verdict(&self) -> Verdict {
        let (verdict, why) = if self.rate {
            ("inconclusive", RATE_REFUSED)
        } else {
            ("refused", "the portal answered with an error")
        };
        Verdict {
            error: Some(self.report()),
            ..Verdict::new(verdict, why)
        }
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
    pub(crate) rate_refusals: Vec<RateRefusal>,
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
        self.rate_refusals.push(RateRefusal {
            request: self.sent,
            status: refusal.status,
            form: form.to_string(),
            body_shape: refusal.body.clone(),
            headers: refusal.headers.clone(),
            retry_after_sent: refusal.headers.contains_key("retry-after"),
            connector_reads_it_as: refusal.connector_class.to_string(),
        });
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
                rate: status.as_u16() == 429 || rate_text || err.decision().label == Label::RateLimited,
                headers: rate_headers(headers),
            })
        }
    }
}

/// What the connector makes of an error: the decision's label.
pub(crate) fn class_of(err: &Error) -> &'static str {
    err.decision().label.as_str()
}
