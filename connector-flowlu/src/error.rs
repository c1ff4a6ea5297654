//! Errors of the Flowlu connector, grouped by what the caller does next.

use std::collections::BTreeMap;
use std::time::Duration;

use connector_core::FailureClass;
use serde_json::Value;

/// What a Flowlu `error_code` means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeClass {
    /// The key is wrong (fix the credential).
    Auth,
    /// The key may not use this module (fix its permissions).
    Permission,
    /// The method or module does not exist on this portal.
    Unsupported,
    /// Retry later.
    Transient,
    /// This record failed; others may succeed.
    Record,
    /// Unexpected: our bug or an API change.
    System,
}

/// Flowlu's documented error codes and what each means (shared/flowlu-api.md).
pub const ERROR_CODES: &[(i64, &str, CodeClass)] = &[
    (10, "unknown error", CodeClass::System),
    (11, "authorization failed", CodeClass::Auth),
    (12, "invalid request", CodeClass::System),
    (13, "internal server error, retry later", CodeClass::Transient),
    (20, "not found", CodeClass::Record),
    (21, "validation error", CodeClass::Record),
    (22, "access denied", CodeClass::Permission),
    (30, "unknown method", CodeClass::Unsupported),
    (31, "unknown module", CodeClass::Unsupported),
];

/// The class of a Flowlu `error_code`; unknown codes are system errors.
pub fn code_class(code: i64) -> CodeClass {
    ERROR_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(CodeClass::System, |(_, _, class)| *class)
}

/// Whether a string `error` says the account is over its rate limit, e.g. Flowlu's
/// `"Request rate per second exceeded"`: "too many requests", "rate limit", or "rate" with
/// "exceed" / "limit" (case-insensitive).
pub fn is_rate_limit_text(text: &str) -> bool {
    let text = text.to_lowercase();
    let words: Vec<&str> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let has = |pred: fn(&str) -> bool| words.iter().any(|w| pred(w));
    text.contains("too many requests")
        || has(|w| w.starts_with("ratelimit"))
        || (has(|w| w == "rate") && has(|w| w.starts_with("exceed") || w.starts_with("limit")))
}

/// An error Flowlu reported in its body, in either of its two shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// `error_code`, absent in the `{"error": "validation", ...}` shape.
    pub code: Option<i64>,
    /// `error_msg` or `description`.
    pub message: String,
    /// Per-field messages from `error_details` or `details`.
    pub fields: BTreeMap<String, String>,
}

impl ApiError {
    /// The class of this error.
    pub fn class(&self) -> CodeClass {
        match self.code {
            Some(code) => code_class(code),
            None => CodeClass::Record,
        }
    }

    /// Reads `{"error": ...}` in either shape; `None` if the body holds no error.
    pub fn from_body(body: &Value) -> Option<Self> {
        let error = body.get("error")?;
        match error {
            Value::Object(obj) => Some(Self {
                code: obj.get("error_code").and_then(as_i64),
                message: obj.get("error_msg").map(text).unwrap_or_default(),
                fields: fields(obj.get("error_details")),
            }),
            Value::String(kind) => Some(Self {
                code: (kind == "validation").then_some(21),
                message: body.get("description").map(text).unwrap_or_else(|| kind.clone()),
                fields: fields(body.get("details")),
            }),
            Value::Null => None,
            other => Some(Self {
                code: None,
                message: text(other),
                fields: BTreeMap::new(),
            }),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(f, "error {code}: {}", self.message)?,
            None => f.write_str(&self.message)?,
        }
        for (field, message) in &self.fields {
            write!(f, "; {field}: {message}")?;
        }
        Ok(())
    }
}

fn as_i64(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn fields(details: Option<&Value>) -> BTreeMap<String, String> {
    match details {
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let msg = match v {
                    Value::Array(items) => items.iter().map(text).collect::<Vec<_>>().join("; "),
                    other => text(other),
                };
                (k.clone(), msg)
            })
            .collect(),
        Some(Value::Array(items)) if !items.is_empty() => [(
            "_".to_string(),
            items.iter().map(text).collect::<Vec<_>>().join("; "),
        )]
        .into(),
        Some(Value::String(s)) if !s.is_empty() => [("_".to_string(), s.clone())].into(),
        _ => BTreeMap::new(),
    }
}

/// How a request failed before an answer arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The host name did not resolve.
    Dns,
    /// The connection could not be made.
    Connect,
    /// No answer in time.
    Timeout,
    /// The connection broke while reading the answer.
    Body,
    /// Anything else.
    Other,
}

/// Errors of the Flowlu connector.
///
/// Display texts never contain the API key: transport errors are stripped of their URL, and
/// texts taken from response bodies are redacted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is wrong (fix the config).
    #[error("invalid `{field}`: {message}")]
    Config {
        /// The field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
    /// Flowlu rejected the key (HTTP 401/403 or error 11).
    #[error("authorization failed (HTTP {status}{})", api.as_ref().map(|a| format!(", {a}")).unwrap_or_default())]
    Auth {
        /// The HTTP status.
        status: u16,
        /// The body's error, if any.
        api: Option<ApiError>,
    },
    /// The portal does not exist (DNS failure, 404, an HTML page, a redirect).
    #[error("no Flowlu portal answered: {detail}")]
    UnknownAccount {
        /// What was seen.
        detail: String,
    },
    /// The key may not use this module (error 22), or the module/method does not exist here
    /// (30/31).
    #[error("{module}/{model}: {api}")]
    Permission {
        /// The module.
        module: String,
        /// The model.
        model: String,
        /// Flowlu's error.
        api: ApiError,
    },
    /// HTTP 429.
    #[error("rate limited (HTTP 429{})", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// The `Retry-After` delay, if sent.
        retry_after: Option<Duration>,
    },
    /// HTTP 5xx.
    #[error("server error (HTTP {status})")]
    Server {
        /// The status.
        status: u16,
    },
    /// The request failed before an answer arrived.
    #[error("request failed ({kind:?})")]
    Transport {
        /// How.
        kind: TransportKind,
        /// The cause, stripped of its URL.
        #[source]
        source: reqwest::Error,
    },
    /// Flowlu answered with an error in its body (other than auth and permission).
    #[error("{0}")]
    Api(ApiError),
    /// The answer could not be understood.
    #[error("unexpected answer (HTTP {status}): {detail}")]
    Malformed {
        /// The status.
        status: u16,
        /// What was wrong, with the start of the body (redacted).
        detail: String,
    },
}

impl Error {
    /// Wraps a transport error, removing its URL (which carries the API key).
    pub fn transport(err: reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            TransportKind::Timeout
        } else if err.is_connect() {
            if is_dns(&err) {
                TransportKind::Dns
            } else {
                TransportKind::Connect
            }
        } else if err.is_body() || err.is_decode() || err.is_request() {
            TransportKind::Body
        } else {
            TransportKind::Other
        };
        Self::Transport {
            kind,
            source: err.without_url(),
        }
    }

    /// What the caller does next.
    pub fn failure_class(&self) -> FailureClass {
        match self {
            Self::Config { .. }
            | Self::Auth { .. }
            | Self::UnknownAccount { .. }
            | Self::Permission { .. } => FailureClass::Config,
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. } => {
                FailureClass::Transient
            }
            Self::Api(api) => match api.class() {
                CodeClass::Transient => FailureClass::Transient,
                CodeClass::Auth | CodeClass::Permission | CodeClass::Unsupported => FailureClass::Config,
                CodeClass::Record | CodeClass::System => FailureClass::System,
            },
            Self::Malformed { .. } => FailureClass::System,
        }
    }

    /// Whether retrying the same request later may succeed (for idempotent requests).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Server { .. } | Self::Transport { .. } => true,
            Self::Api(api) => api.class() == CodeClass::Transient,
            // A truncated body is a broken connection in disguise.
            Self::Malformed { detail, .. } => detail.starts_with(TRUNCATED),
            _ => false,
        }
    }

    /// Whether the failure concerns one record only (not found, validation).
    pub fn is_record_level(&self) -> bool {
        matches!(self, Self::Api(api) if api.class() == CodeClass::Record)
    }

    /// Whether the request may have reached Flowlu and had an effect (matters for creates).
    pub fn may_have_been_applied(&self) -> bool {
        match self {
            Self::Transport { kind, .. } => !matches!(kind, TransportKind::Dns | TransportKind::Connect),
            Self::Server { .. } | Self::Malformed { .. } => true,
            _ => false,
        }
    }

    /// Flowlu's error, if the body held one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) | Self::Permission { api, .. } => Some(api),
            Self::Auth { api, .. } => api.as_ref(),
            _ => None,
        }
    }

    /// The server's requested delay, on 429.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// The prefix of a [`Error::Malformed`] detail for a body that ended early.
pub(crate) const TRUNCATED: &str = "the body ended early";

fn is_dns(err: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = source {
        let text = e.to_string().to_ascii_lowercase();
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return true;
        }
        source = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_code_table() {
        use CodeClass::*;
        let expected = [
            (10, System),
            (11, Auth),
            (12, System),
            (13, Transient),
            (20, Record),
            (21, Record),
            (22, Permission),
            (30, Unsupported),
            (31, Unsupported),
            (99, System),
        ];
        for (code, class) in expected {
            assert_eq!(code_class(code), class, "code {code}");
        }
    }

    #[test]
    fn reads_both_error_shapes() {
        let a = ApiError::from_body(
            &json!({"error": {"error_code": "21", "error_msg": "Validation error",
            "error_details": {"name": "Name is required", "email": ["bad", "taken"]}}}),
        )
        .unwrap();
        assert_eq!(a.code, Some(21));
        assert_eq!(
            a.to_string(),
            "error 21: Validation error; email: bad; taken; name: Name is required"
        );
        let b = ApiError::from_body(&json!({"error": "validation", "description": "Invalid data",
            "details": {"name": "required"}}))
        .unwrap();
        assert_eq!((b.code, b.message.as_str()), (Some(21), "Invalid data"));
        assert_eq!(b.fields, [("name".to_string(), "required".to_string())].into());
        assert!(ApiError::from_body(&json!({"response": {}})).is_none());
    }

    #[test]
    fn rate_limit_texts() {
        for text in [
            "Request rate per second exceeded",
            "REQUEST RATE PER SECOND EXCEEDED",
            "Rate limit reached",
            "rate_limit_exceeded",
            "Too Many Requests",
            "too many requests, slow down",
            "RateLimited",
        ] {
            assert!(is_rate_limit_text(text), "{text}");
        }
        for text in [
            "validation",
            "invalid_grant",
            "Internal error",
            "limit exceeded",
            "the separate limit is exceeded",
            "",
        ] {
            assert!(!is_rate_limit_text(text), "{text}");
        }
    }
}
