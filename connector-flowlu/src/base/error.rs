//! Errors of the Flowlu connector, grouped by what the caller does next.

use std::collections::BTreeMap;
use std::time::Duration;

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

/// Flowlu's "not found" error code: the record a request named does not exist there.
pub(crate) const NOT_FOUND: i64 = 20;

/// Flowlu's documented error codes and what each means (docs/flowlu-api.md).
pub(crate) const ERROR_CODES: &[(i64, &str, CodeClass)] = &[
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
pub(crate) fn code_class(code: i64) -> CodeClass {
    ERROR_CODES
        .iter()
        .find(|(c, _, _)| *c == code)
        .map_or(CodeClass::System, |(_, _, class)| *class)
}

/// Whether a string `error` says the account is over its rate limit, e.g. Flowlu's
/// `"Request rate per second exceeded"`: "too many requests", "rate limit", or "rate" with
/// "exceed" / "limit" (case-insensitive).
pub(crate) fn is_rate_limit_text(text: &str) -> bool {
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
    /// The class of this error: by its code, else by its words (see `words_class`); an
    /// error without a code or known words concerns the record. Error 30 ("unknown method")
    /// with the words "access denied" (seen in the wild) is a permission error.
    pub fn class(&self) -> CodeClass {
        match self.code {
            Some(30) if words_class(&self.message) == Some(CodeClass::Permission) => CodeClass::Permission,
            Some(code) => code_class(code),
            None => words_class(&self.message).unwrap_or(CodeClass::Record),
        }
    }

    /// The class of this error's code when the code alone settles what the caller does:
    /// a wrong key, a missing permission, an unknown method, a record not found or invalid.
    /// `None` for no code, "unknown error" (10), "retry later" (13) and unknown codes.
    fn decisive_class(&self) -> Option<CodeClass> {
        let class = self.class();
        (self.code.is_some() && !matches!(class, CodeClass::System | CodeClass::Transient)).then_some(class)
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
            Value::String(kind) => {
                let validation = kind == "validation";
                let description = body.get("description").map(text).filter(|d| !d.is_empty());
                // The words of a string `error` classify it: keep them beside the description
                // (a validation error has its code instead).
                let message = match description {
                    Some(description) if validation => description,
                    Some(description) => format!("{kind}: {description}"),
                    None => kind.clone(),
                };
                Some(Self {
                    code: validation.then_some(21),
                    message,
                    fields: fields(body.get("details")),
                })
            }
            Value::Null => None,
            other => Some(Self {
                code: None,
                message: text(other),
                fields: BTreeMap::new(),
            }),
        }
    }
}

/// What the words of an error message mean, when they say it plainly (Flowlu and the proxies
/// in front of it send `error` as a string too: `"validation"`, `"invalid_grant"`, ...).
/// The rate-limit sentence is not read here: it is checked before any of these.
pub(crate) fn words_class(text: &str) -> Option<CodeClass> {
    let text = text.to_ascii_lowercase().replace(['_', '-'], " ");
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    if has(&[
        "api key",
        "invalid key",
        "invalid token",
        "invalid grant",
        "unauthorized",
        "unauthorised",
        "authorization failed",
        "authentication failed",
    ]) {
        Some(CodeClass::Auth)
    } else if has(&["access denied", "permission denied"]) {
        Some(CodeClass::Permission)
    } else if has(&["validation"]) || text.contains("not found") {
        Some(CodeClass::Record)
    } else {
        None
    }
}

/// The error an answer with HTTP `status` and Flowlu error `api` in its body means.
///
/// * A 5xx says "try again" whatever the body says, unless the body's code settles it
///   ([`ApiError`]'s decisive codes: 11, 20, 21, 22, 30, 31): [`Error::Unavailable`].
/// * A 401 or 403 whose body says nothing more precise is a rejected key.
/// * Otherwise the code, else the words, decide ([`ApiError::class`]).
pub(crate) fn api_failure(status: u16, api: ApiError) -> Error {
    let class = if (500..600).contains(&status) {
        match api.decisive_class() {
            Some(class) => class,
            None => {
                return Error::Unavailable {
                    status,
                    kind: UnavailableKind::Message,
                    detail: cut(&api.to_string()),
                }
            }
        }
    } else {
        match api.class() {
            CodeClass::Record | CodeClass::System
                if api.code.is_none() && (status == 401 || status == 403) =>
            {
                CodeClass::Auth
            }
            class => class,
        }
    };
    match class {
        CodeClass::Auth => Error::Auth {
            status,
            api: Some(Box::new(api)),
        },
        CodeClass::Permission | CodeClass::Unsupported => Error::permission("", "", api),
        CodeClass::Transient | CodeClass::Record | CodeClass::System => Error::Api(Box::new(api)),
    }
}

/// The start of a server's message, for an error that is retried (and logged at each retry).
fn cut(text: &str) -> String {
    const KEEP: usize = 200;
    match text.char_indices().nth(KEEP) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
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

/// What answered where a Flowlu portal was expected ([`Error::UnknownAccount`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    /// A redirect to another page.
    Redirect,
    /// HTTP 404.
    NotFound,
    /// An HTML page instead of JSON (a wrong host's login page).
    HtmlPage,
}

/// What a temporarily unavailable answer held ([`Error::Unavailable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailableKind {
    /// A 5xx whose body said something (a JSON error, a text).
    Message,
    /// An HTML page in the middle of a read, after this account's answers were good (a
    /// proxy's or a maintenance page).
    HtmlPage,
}

/// What was wrong with an answer that could not be understood ([`Error::Malformed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedKind {
    /// The body ended early: a broken connection in disguise (retried).
    Truncated,
    /// The body is not JSON.
    NotJson,
    /// JSON of a shape Flowlu does not send (no `response`, a list answer that is not a list).
    Unexpected,
}

/// A bound the connector keeps on what one answer can make it hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The body was larger than this many bytes (the `advanced.max_page_megabytes` setting).
    Bytes(usize),
    /// A record nested deeper than this many levels.
    Depth(usize),
    /// A list page held more records than the `limit` it was asked for (this many).
    Records(usize),
    /// An answer read as a tree held more JSON values than this many (one per 32 bytes of
    /// `advanced.max_page_megabytes`, at least `MIN_ANSWER_VALUES`).
    Values(usize),
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bytes(limit) => write!(
                f,
                "the answer is larger than {} MiB (advanced.max_page_megabytes)",
                limit / crate::base::settings::MIB
            ),
            Self::Depth(limit) => write!(f, "a record nests JSON deeper than {limit} levels"),
            Self::Records(limit) => write!(f, "the page holds more than the {limit} records asked for"),
            Self::Values(limit) => write!(f, "the answer holds more than {limit} JSON values"),
        }
    }
}

/// Errors of the Flowlu connector.
///
/// Display texts never contain the API key: transport errors are stripped of their URL, and
/// texts taken from response bodies are redacted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A configuration value is wrong (fix the config).
    #[error("invalid `{}`: {}", .0.field, .0.message)]
    Config(Box<Invalid>),
    /// The request was not sent: the write stopped first (a signal, or a refusal that
    /// concerns the whole portal). Nothing reached Flowlu.
    #[error("not sent: the write stopped")]
    Stopped,
    /// The request was sent, but the write stopped (a signal) and its answer did not come
    /// within `IN_FLIGHT_GRACE` (7 s): it may have been applied.
    #[error("sent, but the write stopped before the answer came")]
    Abandoned,
    /// Flowlu rejected the key (HTTP 401/403 or error 11).
    #[error("authorization failed (HTTP {status}{})", api.as_ref().map(|a| format!(", {a}")).unwrap_or_default())]
    Auth {
        /// The HTTP status.
        status: u16,
        /// The body's error, if any.
        api: Option<Box<ApiError>>,
    },
    /// The portal does not exist (DNS failure, 404, an HTML page, a redirect).
    #[error("no Flowlu portal answered: {detail}")]
    UnknownAccount {
        /// What was seen, by kind.
        kind: AccountKind,
        /// What was seen.
        detail: String,
    },
    /// The key may not use this module (error 22), or the module/method does not exist here
    /// (30/31).
    #[error("{}/{}: {}", .0.module, .0.model, .0.api)]
    Permission(Box<Denied>),
    /// Refused for the account's rate limit: HTTP 429, or a rate-limit `error` text in a body
    /// of any status (Flowlu answers `{"error":"Request rate per second exceeded"}` at 200).
    #[error("rate limited by Flowlu{}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
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
    /// Flowlu, or a proxy in front of it, could not answer now and said something: a 5xx whose
    /// body holds a message (a JSON error, a text), or an HTML page in the middle of a read
    /// (after this account's answers were good). Retried; a create that got it may have been
    /// applied.
    #[error("temporarily unavailable (HTTP {status}): {detail}")]
    Unavailable {
        /// The status.
        status: u16,
        /// What the body was, by kind.
        kind: UnavailableKind,
        /// What the body said (redacted, cut).
        detail: String,
    },
    /// An answer went beyond a bound the connector keeps ([`Bound`]): reading it stopped there.
    #[error("{}{}: {}", .0.what, .0.page.map(|p| format!(" page {p}")).unwrap_or_default(), .0.bound)]
    Oversized(Box<Oversize>),
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
    Api(Box<ApiError>),
    /// The answer could not be understood.
    #[error("unexpected answer (HTTP {status}): {detail}")]
    Malformed {
        /// The status.
        status: u16,
        /// What was wrong, by kind.
        kind: MalformedKind,
        /// What was wrong, with the start of the body (redacted).
        detail: String,
    },
}

/// A wrong configuration value ([`Error::Config`]).
#[derive(Debug)]
pub struct Invalid {
    /// The field.
    pub field: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// A module the key may not use, or one that does not exist here ([`Error::Permission`]).
#[derive(Debug)]
pub struct Denied {
    /// The module.
    pub module: String,
    /// The model.
    pub model: String,
    /// Flowlu's error.
    pub api: ApiError,
}

/// An answer beyond a bound the connector keeps ([`Error::Oversized`]).
#[derive(Debug)]
pub struct Oversize {
    /// What was read: `crm/account/list` (the client), or the stream (the source).
    pub what: String,
    /// The page number, for a list page.
    pub page: Option<u64>,
    /// The bound.
    pub bound: Bound,
}

impl Error {
    /// A wrong configuration value: its `field` and what is wrong and what to do.
    pub fn config(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Config(Box::new(Invalid {
            field: field.into(),
            message: message.into(),
        }))
    }

    /// A module or method the key may not use (or that does not exist here).
    pub fn permission(module: impl Into<String>, model: impl Into<String>, api: ApiError) -> Self {
        Self::Permission(Box::new(Denied {
            module: module.into(),
            model: model.into(),
            api,
        }))
    }

    /// An answer beyond `bound`, reading `what` (and its `page`, for a list page).
    pub fn oversized(what: impl Into<String>, page: Option<u64>, bound: Bound) -> Self {
        Self::Oversized(Box::new(Oversize {
            what: what.into(),
            page,
            bound,
        }))
    }

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

    /// Whether this is an HTML page where JSON was expected (a wrong host's login page, or a
    /// proxy's page).
    pub fn is_html_page(&self) -> bool {
        matches!(
            self,
            Self::UnknownAccount {
                kind: AccountKind::HtmlPage,
                ..
            }
        )
    }

    /// Flowlu's error, if the body held one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(api) => Some(api),
            Self::Permission(denied) => Some(&denied.api),
            Self::Auth { api, .. } => api.as_deref(),
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

/// The words of a [`Error::Malformed`] detail for a body that ended early
/// ([`MalformedKind::Truncated`]).
pub(crate) const TRUNCATED: &str = "the body ended early";

/// The words of a detail for an HTML page ([`AccountKind::HtmlPage`],
/// [`UnavailableKind::HtmlPage`]).
pub(crate) const HTML_PAGE: &str = "an HTML page instead of JSON";

/// A failed name lookup, as the client's resolver reports it (every lookup goes through
/// the client's `Resolver`), so a DNS failure is told from a refused connection by its
/// type, not by its text.
#[derive(Debug)]
pub struct DnsFailure(pub(crate) Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DnsFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

fn is_dns(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<DnsFailure>() {
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
    fn words_table() {
        use CodeClass::*;
        let expected = [
            ("validation", Some(Record)),
            ("Invalid API key", Some(Auth)),
            ("api key not found", Some(Auth)),
            ("invalid_grant", Some(Auth)),
            ("Unauthorized", Some(Auth)),
            ("Authorization failed", Some(Auth)),
            ("Access denied", Some(Permission)),
            ("Permission denied for module crm", Some(Permission)),
            ("403 Forbidden", None),
            ("not found", Some(Record)),
            ("Request rate per second exceeded", None),
            ("boom", None),
            ("", None),
        ];
        for (text, class) in expected {
            assert_eq!(words_class(text), class, "{text}");
        }
        let api = |code, message: &str| ApiError {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
        };
        assert_eq!(api(Some(30), "access denied").class(), Permission);
        assert_eq!(api(Some(30), "Unknown method").class(), Unsupported);
        assert_eq!(
            api(Some(12), "access denied").class(),
            System,
            "a code other than 30 decides"
        );
        assert_eq!(api(None, "Access denied").class(), Permission);
        assert_eq!(api(None, "boom").class(), Record);
        let long = api(None, &"é".repeat(300));
        let Error::Unavailable { detail, .. } = api_failure(503, long) else {
            panic!("a 5xx is unavailable")
        };
        assert_eq!(detail, format!("{}...", "é".repeat(200)));
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
    fn decisions_read_the_kind_never_the_detail() {
        let malformed = |kind| Error::Malformed {
            status: 200,
            kind,
            detail: format!("{TRUNCATED} (3 bytes)"),
        };
        assert!(malformed(MalformedKind::Truncated).is_retryable());
        for kind in [MalformedKind::NotJson, MalformedKind::Unexpected] {
            assert!(!malformed(kind).is_retryable(), "{kind:?}");
        }
        assert_eq!(
            malformed(MalformedKind::NotJson).to_string(),
            "unexpected answer (HTTP 200): the body ended early (3 bytes)"
        );
        let account = |kind| Error::UnknownAccount {
            kind,
            detail: format!("HTTP 200 with {HTML_PAGE}"),
        };
        assert!(account(AccountKind::HtmlPage).is_html_page());
        for kind in [AccountKind::NotFound, AccountKind::Redirect] {
            assert!(!account(kind).is_html_page(), "{kind:?}");
        }
        assert_eq!(
            account(AccountKind::NotFound).to_string(),
            "no Flowlu portal answered: HTTP 200 with an HTML page instead of JSON"
        );
    }

    #[test]
    fn an_error_is_small() {
        // Every `Result<_, Error>` carries this much: the large variants are boxed.
        assert!(
            std::mem::size_of::<Error>() <= 32,
            "{} bytes",
            std::mem::size_of::<Error>()
        );
        assert!(std::mem::size_of::<Result<(), Error>>() <= 32);
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
