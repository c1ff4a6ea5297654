//! Decoding an answer: every body shape Flowlu sends into a value or an [`Error`], with the
//! key redacted from every text taken from a body.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use crate::base::error::{
    api_failure, is_rate_limit_text, AccountKind, ApiError, Bound, Error, MalformedKind, UnavailableKind,
    HTML_PAGE, TRUNCATED,
};

/// The fewest JSON values an answer read as a tree may hold, whatever the body cap: a page of
/// 1,000 records of 200 values each.
pub(crate) const MIN_ANSWER_VALUES: usize = 200_000;

/// The most JSON values an answer read as a tree may hold under a body cap of `max_body`
/// bytes: one per 32 bytes of the cap, at least [`MIN_ANSWER_VALUES`]. A value costs 64 to
/// about 110 bytes in a tree (`serde_json::Value`, an object member with its key), so the
/// tree stays within about 3.5 times the cap (or 22 MB) whatever the body holds, where a body
/// of `[{},{},...]` would otherwise cost over 20 times its size.
pub(crate) fn answer_values(max_body: usize) -> usize {
    (max_body / 32).max(MIN_ANSWER_VALUES)
}

/// Decodes an answer: the `response` member on success, else the error it means.
///
/// `secret` is redacted from every text taken from the body. The body is read into a tree of
/// at most `answer_values` of the default body cap; see `decode_within`.
pub fn decode(status: StatusCode, headers: &HeaderMap, body: &[u8], secret: &str) -> Result<Value, Error> {
    decode_within(status, headers, body, secret, default_answer_values())
}

/// [`answer_values`] of the default body cap (`max_page_megabytes` unset).
pub(crate) fn default_answer_values() -> usize {
    use crate::base::settings::{DEFAULT_PAGE_MEGABYTES, MIB};
    answer_values(DEFAULT_PAGE_MEGABYTES as usize * MIB)
}

/// [`decode`], the body read into a tree of at most `max_values` JSON values: past that, the
/// answer is refused ([`Error::Oversized`], [`Bound::Values`]) before more is held.
pub(crate) fn decode_within(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    secret: &str,
    max_values: usize,
) -> Result<Value, Error> {
    let code = status.as_u16();
    if status.is_redirection() {
        let target = headers
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| Url::parse(l).ok())
            .and_then(|u| u.host_str().map(str::to_string))
            .unwrap_or_else(|| "another page".into());
        return Err(Error::UnknownAccount {
            kind: AccountKind::Redirect,
            detail: format!("HTTP {code} redirect to {}", redact_echo(&target, secret)),
        });
    }
    let retry_after = || {
        headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    };
    if code == 429 {
        return Err(Error::RateLimited {
            retry_after: retry_after(),
        });
    }
    let parsed: Result<Value, serde_json::Error> = match parse_bounded(body, max_values) {
        Err(Bounded::TooMany) => {
            return Err(Error::oversized(String::new(), None, Bound::Values(max_values)))
        }
        Err(Bounded::Json(e)) => Err(e),
        Ok(value) => Ok(value),
    };
    if let Ok(value) = &parsed {
        // `{"error":"Request rate per second exceeded"}`, at any status (200 included).
        if value
            .get("error")
            .and_then(Value::as_str)
            .is_some_and(is_rate_limit_text)
        {
            return Err(Error::RateLimited {
                retry_after: retry_after(),
            });
        }
        if let Some(api) = ApiError::from_body(value) {
            let api = ApiError {
                message: redact_echo(&api.message, secret),
                fields: api
                    .fields
                    .into_iter()
                    .map(|(k, v)| (redact_echo(&k, secret), redact_echo(&v, secret)))
                    .collect(),
                ..api
            };
            return Err(api_failure(code, api));
        }
    }
    if code == 401 || code == 403 {
        return Err(Error::Auth {
            status: code,
            api: None,
        });
    }
    let looks_html = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    if status.is_server_error() {
        // The status says "try again" whatever the body; a text or JSON body is kept for
        // the log, a page of HTML is not worth it.
        let blank = body.iter().all(u8::is_ascii_whitespace);
        return Err(if blank || looks_html {
            Error::Server { status: code }
        } else {
            Error::Unavailable {
                status: code,
                kind: UnavailableKind::Message,
                detail: excerpt(body, secret),
            }
        });
    }
    if code == 404 {
        return Err(Error::UnknownAccount {
            kind: AccountKind::NotFound,
            detail: "HTTP 404 (no such portal or path)".into(),
        });
    }
    if looks_html {
        return Err(Error::UnknownAccount {
            kind: AccountKind::HtmlPage,
            detail: format!("HTTP {code} with {HTML_PAGE}"),
        });
    }
    match parsed {
        Ok(Value::Object(mut obj)) if status.is_success() => match obj.remove("response") {
            Some(response) => Ok(response),
            None => Err(Error::Malformed {
                status: code,
                kind: MalformedKind::Unexpected,
                detail: format!("no `response` in {}", excerpt(body, secret)),
            }),
        },
        Ok(_) => Err(Error::Malformed {
            status: code,
            kind: MalformedKind::Unexpected,
            detail: format!("unexpected answer {}", excerpt(body, secret)),
        }),
        Err(e) if e.is_eof() => Err(Error::Malformed {
            status: code,
            kind: MalformedKind::Truncated,
            detail: format!("{TRUNCATED} ({} bytes)", body.len()),
        }),
        Err(e) => Err(Error::Malformed {
            status: code,
            kind: MalformedKind::NotJson,
            detail: format!("not JSON ({e}): {}", excerpt(body, secret)),
        }),
    }
}

pub(crate) use connector_core::secret::redact_echo;

/// Why [`parse_bounded`] gave up.
#[derive(Debug)]
pub(crate) enum Bounded {
    /// More values than allowed.
    TooMany,
    /// Not JSON (or cut short).
    Json(serde_json::Error),
}

/// Parses `body` into a tree of at most `max` JSON values (every scalar, list and object
/// counts one), stopping at the first value past it.
pub(crate) fn parse_bounded(body: &[u8], max: usize) -> Result<Value, Bounded> {
    let budget = Budget {
        left: std::cell::Cell::new(max),
        over: std::cell::Cell::new(false),
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde::de::DeserializeSeed::deserialize(Tree { budget: &budget }, &mut de);
    let value = value.and_then(|v| de.end().map(|()| v));
    match value {
        Ok(value) => Ok(value),
        Err(_) if budget.over.get() => Err(Bounded::TooMany),
        Err(e) => Err(Bounded::Json(e)),
    }
}

/// The values a [`Tree`] may still build, and whether it wanted more.
struct Budget {
    left: std::cell::Cell<usize>,
    over: std::cell::Cell<bool>,
}

/// A [`Value`] built while counting: the seed of one value, sharing the budget.
#[derive(Clone, Copy)]
struct Tree<'a> {
    budget: &'a Budget,
}

impl Tree<'_> {
    fn take<E: serde::de::Error>(&self) -> Result<(), E> {
        match self.budget.left.get() {
            0 => {
                self.budget.over.set(true);
                Err(E::custom("too many values"))
            }
            n => {
                self.budget.left.set(n - 1);
                Ok(())
            }
        }
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for Tree<'_> {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Tree<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        self.take()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        self.take()?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        self.take()?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        self.take()?;
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        self.take()?;
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        self.take()?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        self.take()?;
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.take()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.take()?;
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// The start of a body for an error message, redacted (before it is cut, so no part of the
/// key survives at the cut; a key the server itself cut short is removed by
/// [`redact_echo`]). Only the start is redacted: enough that a key in any encoding (at most
/// 18 characters a key character) beginning within the excerpt is seen whole.
fn excerpt(body: &[u8], secret: &str) -> String {
    const SHOWN: usize = 200;
    let head = &body[..body.len().min(4 * (SHOWN + 18 * secret.chars().count()))];
    let text = redact_echo(&String::from_utf8_lossy(head), secret);
    let cut: String = text.chars().take(SHOWN).collect();
    let suffix = if head.len() < body.len() || text.chars().count() > SHOWN {
        "..."
    } else {
        ""
    };
    format!("`{cut}{suffix}`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_core::secret::redact;

    #[test]
    fn decode_gives_each_failure_its_kind() {
        let kind = |status: u16, headers: HeaderMap, body: &[u8]| {
            let status = StatusCode::from_u16(status).unwrap();
            match decode(status, &headers, body, "k").unwrap_err() {
                Error::Malformed { kind, .. } => format!("malformed {kind:?}"),
                Error::UnknownAccount { kind, .. } => format!("account {kind:?}"),
                Error::Unavailable { kind, .. } => format!("unavailable {kind:?}"),
                other => format!("other {other}"),
            }
        };
        let mut redirect = HeaderMap::new();
        redirect.insert(
            reqwest::header::LOCATION,
            "https://elsewhere.example/login".parse().unwrap(),
        );
        let cases: [(u16, HeaderMap, &[u8], &str); 7] = [
            (
                200,
                HeaderMap::new(),
                br#"{"response": {"id"#,
                "malformed Truncated",
            ),
            (200, HeaderMap::new(), b"oops", "malformed NotJson"),
            (200, HeaderMap::new(), br#"{"answer": 1}"#, "malformed Unexpected"),
            (200, HeaderMap::new(), b"<html>login</html>", "account HtmlPage"),
            (404, HeaderMap::new(), b"", "account NotFound"),
            (302, redirect, b"", "account Redirect"),
            (
                503,
                HeaderMap::new(),
                b"Service Unavailable",
                "unavailable Message",
            ),
        ];
        for (status, headers, body, expected) in cases {
            assert_eq!(kind(status, headers, body), expected, "{status} {body:?}");
        }
    }

    /// Every failure form: what it decodes to, its class, whether it is retried, whether a
    /// create that got it may have been applied.
    #[test]
    fn decode_classifies_every_failure_form() {
        use connector_core::FailureClass::{Config, System, Transient};
        #[rustfmt::skip]
        let cases: &[(u16, &str, &str, connector_core::FailureClass, bool, bool)] = &[
            // A 5xx says "try again" whatever the body.
            (500, r#"{"error":"boom"}"#, "temporarily unavailable (HTTP 500): boom", Transient, true, true),
            (500, r#"{"error":{"error_msg":"boom"}}"#, "temporarily unavailable (HTTP 500): boom", Transient, true, true),
            (500, r#"{"error":{"error_code":10,"error_msg":"Unknown error"}}"#, "temporarily unavailable (HTTP 500): error 10: Unknown error", Transient, true, true),
            (503, r#"{"error":{"error_code":13,"error_msg":"retry later"}}"#, "temporarily unavailable (HTTP 503): error 13: retry later", Transient, true, true),
            (500, r#"{"message":"boom"}"#, "temporarily unavailable (HTTP 500): `{\"message\":\"boom\"}`", Transient, true, true),
            (500, r#""boom""#, "temporarily unavailable (HTTP 500): `\"boom\"`", Transient, true, true),
            (503, "Service Unavailable", "temporarily unavailable (HTTP 503): `Service Unavailable`", Transient, true, true),
            (502, "<html>Bad gateway</html>", "server error (HTTP 502)", Transient, true, true),
            (504, "", "server error (HTTP 504)", Transient, true, true),
            (500, r#"{"error":"invalid api key"}"#, "temporarily unavailable (HTTP 500): invalid api key", Transient, true, true),
            // ... unless its code settles it.
            (500, r#"{"error":{"error_code":21,"error_msg":"Validation error"}}"#, "error 21: Validation error", System, false, false),
            (500, r#"{"error":{"error_code":11,"error_msg":"Authorization failed"}}"#, "authorization failed (HTTP 500, error 11: Authorization failed)", Config, false, false),
            (429, r#"{"error":"boom"}"#, "rate limited by Flowlu", Transient, true, false),
            // A string `error`, by its words and its status.
            (200, r#"{"error":"validation","details":{"name":"required"}}"#, "error 21: validation; name: required", System, false, false),
            (200, r#"{"error":"invalid_grant","error_descrption":"x"}"#, "authorization failed (HTTP 200, invalid_grant)", Config, false, false),
            (401, r#"{"error":"Invalid API key"}"#, "authorization failed (HTTP 401, Invalid API key)", Config, false, false),
            (403, r#"{"error":"unauthorized","description":"log in first"}"#, "authorization failed (HTTP 403, unauthorized: log in first)", Config, false, false),
            (401, r#"{"error":"boom"}"#, "authorization failed (HTTP 401, boom)", Config, false, false),
            (403, r#"{"error":"Forbidden"}"#, "authorization failed (HTTP 403, Forbidden)", Config, false, false),
            (200, r#"{"error":"Access denied"}"#, "/: Access denied", Config, false, false),
            (403, r#"{"error":"access denied"}"#, "/: access denied", Config, false, false),
            (200, r#"{"error":"Not found"}"#, "Not found", System, false, false),
            (404, r#"{"error":"boom"}"#, "boom", System, false, false),
            // Error 30 with "access denied" (a mock does that) is a permission error.
            (200, r#"{"error":{"error_code":30,"error_msg":"access denied"}}"#, "/: error 30: access denied", Config, false, false),
            // An HTML page (the first answer) is a wrong host.
            (200, "<html>login</html>", "no Flowlu portal answered: HTTP 200 with an HTML page instead of JSON", Config, false, false),
        ];
        for (status, body, display, class, retried, applied) in cases {
            let status = StatusCode::from_u16(*status).unwrap();
            let err = decode(status, &HeaderMap::new(), body.as_bytes(), "s3cr3t").unwrap_err();
            assert_eq!(
                (
                    err.to_string().as_str(),
                    err.failure_class(),
                    err.is_retryable(),
                    err.may_have_been_applied()
                ),
                (*display, *class, *retried, *applied),
                "{status} {body}"
            );
        }
        let record = decode(
            StatusCode::OK,
            &HeaderMap::new(),
            br#"{"error":"Not found"}"#,
            "k",
        )
        .unwrap_err();
        assert!(record.is_record_level());
        let html = decode(StatusCode::OK, &HeaderMap::new(), b"  <!DOCTYPE html>", "k").unwrap_err();
        assert!(html.is_html_page());
    }

    #[test]
    fn redact_removes_every_encoding_of_the_key() {
        let key = r#"k/+=& "\'<é"#;
        let shown = [
            (key.to_string(), "raw"),
            (
                "k%2F%2B%3D%26+%22%5C%27%3C%C3%A9".into(),
                "form-encoded (reqwest's query)",
            ),
            ("k%2F%2B%3D%26%20%22%5C%27%3C%C3%A9".into(), "percent-encoded"),
            (
                "k%2f%2b%3d%26%20%22%5c%27%3c%c3%a9".into(),
                "percent-encoded, lower case",
            ),
            (
                "k/%2B%3D%26%20%22%5C'%3C%C3%A9".into(),
                "percent-encoded, query set",
            ),
            (
                "k%252F%252B%253D%2526%2B%2522%255C%2527%253C%25C3%25A9".into(),
                "form-encoded twice",
            ),
            (r#"k/+=& \"\\'<é"#.into(), "JSON-escaped"),
            (r#"k\/+=& \"\\'<é"#.into(), "JSON-escaped with \\/"),
            (
                r"k\u002F\u002B\u003D\u0026\u0020\u0022\u005C\u0027\u003Cé".into(),
                "\\u escapes",
            ),
            ("k/+=&amp; &quot;\\&#39;&lt;é".into(), "HTML-escaped"),
            (r#"k%2F%2B%3D%26+%22%5C%27%3C%C3%A9"#.into(), "JSON-escaped URL"),
        ];
        for (form, what) in shown {
            let text = format!("GET /x?api_key={form}&page=1 failed");
            assert_eq!(
                redact(&text, key),
                "GET /x?api_key=[REDACTED]&page=1 failed",
                "{what}: {form}"
            );
        }
        assert_eq!(redact("nothing here", key), "nothing here");
        assert_eq!(redact("k", ""), "k");
        // An excerpt is redacted before it is cut: no prefix of the key is left at the cut.
        let body = format!("{}{key}", "x".repeat(198));
        let err = decode(StatusCode::OK, &HeaderMap::new(), body.as_bytes(), key).unwrap_err();
        assert!(
            err.to_string().ends_with(&format!("`{}[R...`", "x".repeat(198))),
            "{err}"
        );
    }

    #[test]
    fn decode_redacts_bodies() {
        let body = br#"{"error":{"error_code":12,"error_msg":"bad request for key s3cr3t-key"}}"#;
        let err = decode(StatusCode::OK, &HeaderMap::new(), body, "s3cr3t-key").unwrap_err();
        assert_eq!(err.to_string(), "error 12: bad request for key [REDACTED]");
        let err = decode(
            StatusCode::OK,
            &HeaderMap::new(),
            b"oops s3cr3t-key",
            "s3cr3t-key",
        )
        .unwrap_err();
        assert!(!err.to_string().contains("s3cr3t-key"), "{err}");
        let err = decode(StatusCode::OK, &HeaderMap::new(), br#"{"response": {"id"#, "k").unwrap_err();
        assert!(err.is_retryable(), "a truncated body is retried");
    }

    #[test]
    fn rate_limit_refusals_in_every_form() {
        let mut after = HeaderMap::new();
        after.insert(RETRY_AFTER, reqwest::header::HeaderValue::from_static("3"));
        let json = br#"{"error":"Request rate per second exceeded"}"#;
        let cases: [(u16, &HeaderMap, &[u8], Option<u64>); 5] = [
            (200, &HeaderMap::new(), json, None),
            (503, &HeaderMap::new(), json, None),
            (400, &after, json, Some(3)),
            (429, &HeaderMap::new(), b"Too Many Requests", None),
            (429, &after, b"", Some(3)),
        ];
        for (status, headers, body, secs) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            match decode(status, headers, body, "k") {
                Err(err @ Error::RateLimited { retry_after }) => {
                    assert_eq!(retry_after, secs.map(Duration::from_secs), "{status}");
                    // No status claimed that was not sent (a JSON refusal comes at 200).
                    let text = secs.map_or("rate limited by Flowlu".to_string(), |s| {
                        format!("rate limited by Flowlu (retry after {s}s)")
                    });
                    assert_eq!(err.to_string(), text, "{status}");
                }
                other => panic!("{status}: {other:?}"),
            }
            let order = crate::base::cursor::Order { cursor: None };
            let page = crate::client::page::RawListPage::decode(status, headers, body, "k", &order);
            assert!(
                matches!(page, Err(Error::RateLimited { .. })),
                "list page, {status}"
            );
        }
    }
}
