//! One decision per Flowlu answer: what an [`Error`] means for everything that reads it (retry
//! or not, the failure's class, how far it reaches, whether it concerns the record alone,
//! whether the request may have been applied, whether it refuses how a page was asked, the
//! user's reason and sentence, the probe's label and a retry's cause), decided here once, by the
//! error's typed kinds, never its text. The limiter, the writer, the halt of a write, the
//! source's session, the probe and the credential's validation read it (`Error::is_retryable`
//! and the other questions are its fields).

use std::fmt;
use std::time::Duration;

use connector_core::{Failure, FailureClass, FailureReason};

use super::error::{
    Bound, CodeClass, Error, MalformedKind, Oversize, TransportKind, UnavailableKind, NOT_FOUND,
};

/// How far a refusal reaches: what no later request can get past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// This request only (it may be retried, or its record fails alone).
    Request,
    /// Every request of the stream (the key may not use the module).
    Stream,
    /// Every request to the portal (the key is rejected, no portal answers).
    Portal,
}

/// How an answer to a list request refuses the way the page was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Flowlu's error 12 (invalid request) or 21 (validation): what a refused filter (or limit)
    /// answers.
    Filter,
    /// Flowlu's error 10 (unknown error): it may refuse the `limit` asked.
    Unknown,
}

/// What the connector makes of an answer, in one word: what the probe reports it as
/// (`connector_reads_it_as`, [`Label::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// A setting is wrong.
    Config,
    /// The key is rejected (HTTP 401/403, or Flowlu's error 11).
    Auth,
    /// No Flowlu portal at this address (or its name does not resolve).
    UnknownAccount,
    /// The key may not use the module (Flowlu's error 22).
    Permission,
    /// The module or method does not exist on this portal (Flowlu's errors 30 and 31).
    Unsupported,
    /// Refused for the account's rate limit.
    RateLimited,
    /// A server error: HTTP 5xx, or a page a proxy sent in the middle of a read.
    Server,
    /// No answer arrived.
    Transport,
    /// The answer went beyond a bound the connector keeps.
    Oversized,
    /// Flowlu's "retry later" (error 13).
    Transient,
    /// The record's own failure (not found, validation).
    Record,
    /// Flowlu's error the connector does not expect.
    System,
    /// An answer that could not be understood.
    Malformed,
    /// Not an answer of Flowlu's: the request was not sent, or its answer not awaited.
    Other,
}

impl Label {
    /// The label's word, as the probe's report holds it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Config => "config",
            Self::Auth => "auth",
            Self::UnknownAccount => "unknown_account",
            Self::Permission => "permission",
            Self::Unsupported => "unsupported",
            Self::RateLimited => "rate_limited",
            Self::Server => "server",
            Self::Transport => "transport",
            Self::Oversized => "oversized",
            Self::Transient => "transient",
            Self::Record => "record",
            Self::System => "system",
            Self::Malformed => "malformed",
            Self::Other => "other",
        }
    }
}

/// What a request met, in a few words for a person (its `Display`: a retry's wait,
/// `Wait::cause`, and the progress line); never a body's text, which may echo what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// `rate limited`, with `Retry-After` when sent.
    RateLimited {
        /// The `Retry-After` delay.
        retry_after: Option<Duration>,
    },
    /// `HTTP 502`: a status alone.
    Status(u16),
    /// `HTTP 200 with an HTML page`.
    HtmlPage(u16),
    /// How a request without an answer failed: `timeout`, `connection refused`, ...
    Transport(TransportKind),
    /// `connection dropped (body cut short)`.
    CutShort,
    /// `Flowlu error 13`: an error in the body, by its code.
    Flowlu(Option<i64>),
    /// `an answer not understood (HTTP 200)`.
    NotUnderstood(u16),
    /// `answer too large`.
    TooLarge,
    /// `key rejected`.
    KeyRejected,
    /// `no portal at this address`.
    NoPortal,
    /// `invalid setting`.
    InvalidSetting,
    /// `not sent (the write stopped)`.
    Stopped,
    /// `no answer before the write stopped`.
    Abandoned,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RateLimited {
                retry_after: Some(after),
            } => write!(f, "rate limited, Retry-After {} s", after.as_secs()),
            Self::RateLimited { retry_after: None } => f.write_str("rate limited"),
            Self::Status(status) => write!(f, "HTTP {status}"),
            Self::HtmlPage(status) => write!(f, "HTTP {status} with an HTML page"),
            Self::Transport(kind) => f.write_str(match kind {
                TransportKind::Timeout => "timeout",
                TransportKind::Connect => "connection refused",
                TransportKind::Body => "connection dropped",
                TransportKind::Dns => "name did not resolve",
                TransportKind::Other => "request failed",
            }),
            Self::CutShort => f.write_str("connection dropped (body cut short)"),
            Self::Flowlu(Some(code)) => write!(f, "Flowlu error {code}"),
            Self::Flowlu(None) => f.write_str("a Flowlu error"),
            Self::NotUnderstood(status) => write!(f, "an answer not understood (HTTP {status})"),
            Self::TooLarge => f.write_str("answer too large"),
            Self::KeyRejected => f.write_str("key rejected"),
            Self::NoPortal => f.write_str("no portal at this address"),
            Self::InvalidSetting => f.write_str("invalid setting"),
            Self::Stopped => f.write_str("not sent (the write stopped)"),
            Self::Abandoned => f.write_str("no answer before the write stopped"),
        }
    }
}

/// What one Flowlu answer (an [`Error`]) means for the caller: [`Error::decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether retrying the same request later may succeed (for idempotent requests).
    pub retry: bool,
    /// What the caller does next.
    pub class: FailureClass,
    /// How far it reaches.
    pub scope: Scope,
    /// Whether it concerns one record only (not found, validation): the input's to fix.
    pub record_level: bool,
    /// Whether it says the record the request named does not exist in Flowlu (error 20): a
    /// delete of it has nothing left to do, an id read back by id is gone.
    pub gone: bool,
    /// Whether the request may have reached Flowlu and had an effect (matters for creates).
    pub may_have_been_applied: bool,
    /// Whether, answering a list request, it refuses how the page was asked.
    pub refused: Option<Refusal>,
    /// The reason a user is told (its class is the user's).
    pub reason: FailureReason,
    /// What the connector makes of it, in one word (the probe's report).
    pub label: Label,
    /// What the request met, in a few words (a retry's wait).
    pub cause: Cause,
}

impl Error {
    /// What this answer means for the caller: the one decision every reader of an error takes
    /// its answer from.
    pub fn decision(&self) -> Decision {
        use FailureReason as R;
        let d = |retry, class, reason, label, cause| Decision {
            retry,
            class,
            scope: Scope::Request,
            record_level: false,
            gone: false,
            may_have_been_applied: false,
            refused: None,
            reason,
            label,
            cause,
        };
        match self {
            Self::Config(_) => d(
                false,
                FailureClass::Config,
                R::InvalidConfig,
                Label::Config,
                Cause::InvalidSetting,
            ),
            Self::Stopped => d(
                false,
                FailureClass::Transient,
                R::Network,
                Label::Other,
                Cause::Stopped,
            ),
            Self::Abandoned => Decision {
                may_have_been_applied: true,
                ..d(
                    false,
                    FailureClass::Transient,
                    R::Timeout,
                    Label::Other,
                    Cause::Abandoned,
                )
            },
            Self::Auth { .. } => Decision {
                scope: Scope::Portal,
                ..d(
                    false,
                    FailureClass::Config,
                    R::BadCredentials,
                    Label::Auth,
                    Cause::KeyRejected,
                )
            },
            Self::UnknownAccount { .. } => Decision {
                scope: Scope::Portal,
                ..d(
                    false,
                    FailureClass::Config,
                    R::UnknownAccount,
                    Label::UnknownAccount,
                    Cause::NoPortal,
                )
            },
            // A name that does not resolve is a wrong account domain, as `check` says.
            Self::Transport {
                kind: TransportKind::Dns,
                ..
            } => Decision {
                scope: Scope::Portal,
                ..d(
                    false,
                    FailureClass::Config,
                    R::UnknownAccount,
                    Label::UnknownAccount,
                    Cause::Transport(TransportKind::Dns),
                )
            },
            Self::Permission(denied) => Decision {
                scope: Scope::Stream,
                ..d(
                    false,
                    FailureClass::Config,
                    R::MissingPermission,
                    // Error 22: the key may not; 30/31: the module or method is not there.
                    if denied.api.code == Some(22) {
                        Label::Permission
                    } else {
                        Label::Unsupported
                    },
                    Cause::Flowlu(denied.api.code),
                )
            },
            Self::RateLimited { retry_after } => d(
                true,
                FailureClass::Transient,
                R::RateLimited,
                Label::RateLimited,
                Cause::RateLimited {
                    retry_after: *retry_after,
                },
            ),
            Self::Server { status } => Decision {
                may_have_been_applied: true,
                ..d(
                    true,
                    FailureClass::Transient,
                    R::ServerError,
                    Label::Server,
                    Cause::Status(*status),
                )
            },
            Self::Unavailable { status, kind, .. } => Decision {
                may_have_been_applied: true,
                ..d(
                    true,
                    FailureClass::Transient,
                    R::ServerError,
                    Label::Server,
                    match kind {
                        UnavailableKind::HtmlPage => Cause::HtmlPage(*status),
                        UnavailableKind::Message => Cause::Status(*status),
                    },
                )
            },
            Self::Oversized(over) => Decision {
                may_have_been_applied: true,
                ..match over.bound {
                    Bound::Bytes(_) => d(
                        false,
                        FailureClass::Config,
                        R::InvalidConfig,
                        Label::Oversized,
                        Cause::TooLarge,
                    ),
                    Bound::Depth(_) | Bound::Records(_) | Bound::Values(_) => d(
                        false,
                        FailureClass::System,
                        R::Unexpected,
                        Label::Oversized,
                        Cause::TooLarge,
                    ),
                }
            },
            Self::Transport { kind, .. } => Decision {
                may_have_been_applied: *kind != TransportKind::Connect,
                ..d(
                    true,
                    FailureClass::Transient,
                    if *kind == TransportKind::Timeout {
                        R::Timeout
                    } else {
                        R::Network
                    },
                    Label::Transport,
                    Cause::Transport(*kind),
                )
            },
            Self::Api(api) => {
                let class = api.class();
                let cause = Cause::Flowlu(api.code);
                Decision {
                    record_level: class == CodeClass::Record,
                    gone: api.code == Some(NOT_FOUND),
                    refused: match api.code {
                        Some(12 | 21) => Some(Refusal::Filter),
                        Some(10) => Some(Refusal::Unknown),
                        _ => None,
                    },
                    ..match class {
                        CodeClass::Transient => d(
                            true,
                            FailureClass::Transient,
                            R::ServerError,
                            Label::Transient,
                            cause,
                        ),
                        CodeClass::Auth => d(false, FailureClass::Config, R::Unexpected, Label::Auth, cause),
                        CodeClass::Permission => d(
                            false,
                            FailureClass::Config,
                            R::Unexpected,
                            Label::Permission,
                            cause,
                        ),
                        CodeClass::Unsupported => d(
                            false,
                            FailureClass::Config,
                            R::Unexpected,
                            Label::Unsupported,
                            cause,
                        ),
                        CodeClass::Record => {
                            d(false, FailureClass::System, R::Unexpected, Label::Record, cause)
                        }
                        CodeClass::System => {
                            d(false, FailureClass::System, R::Unexpected, Label::System, cause)
                        }
                    }
                }
            }
            Self::Malformed { status, kind, .. } => Decision {
                may_have_been_applied: true,
                // A truncated body is a broken connection in disguise.
                ..match kind {
                    MalformedKind::Truncated => d(
                        true,
                        FailureClass::System,
                        R::Unexpected,
                        Label::Malformed,
                        Cause::CutShort,
                    ),
                    MalformedKind::NotJson | MalformedKind::Unexpected => d(
                        false,
                        FailureClass::System,
                        R::Unexpected,
                        Label::Malformed,
                        Cause::NotUnderstood(*status),
                    ),
                }
            },
        }
    }

    /// What the caller does next ([`Decision::class`]).
    pub fn failure_class(&self) -> FailureClass {
        self.decision().class
    }

    /// Whether retrying the same request later may succeed, for idempotent requests
    /// ([`Decision::retry`]).
    pub fn is_retryable(&self) -> bool {
        self.decision().retry
    }

    /// Whether the failure concerns one record only: not found, validation
    /// ([`Decision::record_level`]).
    pub fn is_record_level(&self) -> bool {
        self.decision().record_level
    }

    /// Whether the request may have reached Flowlu and had an effect, which matters for creates
    /// ([`Decision::may_have_been_applied`]).
    pub fn may_have_been_applied(&self) -> bool {
        self.decision().may_have_been_applied
    }

    /// Whether this answer to a list request is what a refused filter answers: Flowlu's error
    /// 12 (invalid request) or 21 (validation) ([`Refusal::Filter`]).
    pub fn refuses_filter(&self) -> bool {
        self.decision().refused == Some(Refusal::Filter)
    }

    /// What this error means to a user whose requests went to `domain` (a host such as
    /// `acme.flowlu.com` or `127.0.0.1:8080`): the decision's reason, a sentence saying what to
    /// do, and the internal detail. Neither text contains the API key.
    pub(crate) fn explain_at(&self, domain: &str) -> (FailureReason, Failure) {
        let reason = self.decision().reason;
        (
            reason,
            Failure {
                class: reason.class(),
                message: self.sentence(domain),
                internal: internal_detail(self),
            },
        )
    }

    /// The user's sentence: what happened and what to do.
    fn sentence(&self, domain: &str) -> String {
        let page =
            |page: &Option<u64>| page.map_or_else(|| "The answer".to_string(), |p| format!("Page {p}"));
        match self {
            Self::Config(invalid) => format!("The `{}` setting is wrong: {}.", invalid.field, invalid.message),
            Self::Auth { .. } => format!(
                "Flowlu rejected the API key for {domain}. Check that you copied the whole key from Portal Settings -> API Settings, that it has not been deleted, and that it belongs to this account."
            ),
            Self::UnknownAccount { .. }
            | Self::Transport {
                kind: TransportKind::Dns,
                ..
            } => format!(
                "No Flowlu account answered at {domain}. Check the account domain: it is the first part of your Flowlu address (for https://mycompany.flowlu.com enter mycompany)."
            ),
            Self::Permission(denied) => format!(
                "The API key may not use the {} module of {domain}. Allow it for this key in Flowlu: Portal Settings -> API Settings.",
                denied.module
            ),
            Self::RateLimited { retry_after } => match retry_after {
                Some(d) => format!(
                    "Flowlu is limiting requests from this key. Wait {} seconds and try again.",
                    d.as_secs()
                ),
                None => "Flowlu is limiting requests from this key. Wait a minute and try again.".to_string(),
            },
            Self::Server { status } => format!(
                "Flowlu answered with a server error (HTTP {status}). This is usually temporary: try again in a few minutes."
            ),
            Self::Unavailable { status, .. } if *status >= 500 => format!(
                "Flowlu answered with a server error (HTTP {status}). This is usually temporary: try again in a few minutes."
            ),
            Self::Unavailable { .. } => format!(
                "{domain} answered with a web page instead of data after earlier answers were good (a proxy's or a maintenance page). This is usually temporary: try again in a few minutes."
            ),
            Self::Oversized(over) => match &**over {
                Oversize {
                    what,
                    page: p,
                    bound: Bound::Bytes(limit),
                } => format!(
                    "{} of {what} is larger than {} MiB, the most the connector holds for one answer. Lower advanced.page_size to get smaller pages, or raise advanced.max_page_megabytes (up to {}) if the records really are that large.",
                    page(p),
                    limit / crate::base::settings::MIB,
                    crate::base::settings::PAGE_MEGABYTES_RANGE.end(),
                ),
                Oversize {
                    what,
                    page: p,
                    bound: Bound::Depth(limit),
                } => format!(
                    "{} of {what} holds a record nested deeper than {limit} levels, more than the connector passes on safely. Deselect this stream; if the data is genuine, please report it to the connector's maintainers.",
                    page(p),
                ),
                Oversize {
                    what,
                    page: p,
                    bound: Bound::Records(limit),
                } => format!(
                    "{} of {what} holds more than the {limit} records asked for: the portal (or something between it and the connector) does not page as Flowlu does, so the page was refused before its records were read. Please report it to the connector's maintainers.",
                    page(p),
                ),
                Oversize {
                    what,
                    page: p,
                    bound: Bound::Values(limit),
                } => format!(
                    "{} of {what} holds more than {limit} JSON values, more than the connector holds for one answer. Lower advanced.page_size, or raise advanced.max_page_megabytes if the records really are that large; otherwise please report it to the connector's maintainers.",
                    page(p),
                ),
            },
            Self::Api(api) if api.class() == CodeClass::Transient => {
                "Flowlu reported an internal error and asked to retry later (error 13). Try again in a few minutes.".to_string()
            }
            Self::Transport {
                kind: TransportKind::Timeout,
                ..
            } => format!(
                "Flowlu did not answer in time ({domain}). Check your network connection and try again; if it persists, Flowlu may be slow right now."
            ),
            Self::Transport { .. } => format!(
                "Could not reach {domain}. Check your network connection (and any proxy or firewall) and try again."
            ),
            Self::Abandoned => "The write was interrupted while this request waited for Flowlu's answer, so whether it was applied is not known. Check Flowlu, then run the write again.".to_string(),
            Self::Stopped => "The request was not sent: the write stopped first (it was interrupted, or an earlier answer concerned the whole portal). Run the write again.".to_string(),
            Self::Api(_) | Self::Malformed { .. } => "Flowlu sent an answer this connector does not understand. This may be a change in Flowlu's API: please report it to the connector's maintainers with the details below.".to_string(),
        }
    }
}

/// The error with its sources, for support (already free of the key: see [`Error`]).
pub(crate) fn internal_detail(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use crate::base::error::{AccountKind, ApiError, UnavailableKind};

    fn api(code: Option<i64>, message: &str) -> ApiError {
        ApiError {
            code,
            message: message.into(),
            fields: BTreeMap::new(),
        }
    }

    /// A transport error of `kind` (the cause: a request that cannot be built, nothing sent).
    fn transport(kind: TransportKind) -> Error {
        let source = reqwest::Client::new().get("http://").build().unwrap_err();
        Error::Transport { kind, source }
    }

    /// An answer and its decision: retry, class, scope, record-level, may have been applied,
    /// refusal, reason, label, cause.
    type Row = (
        Error,
        bool,
        FailureClass,
        Scope,
        bool,
        bool,
        Option<Refusal>,
        FailureReason,
        Label,
        Cause,
        bool,
    );

    /// Every kind of answer and its one decision: retry, class, scope, record-level, may have
    /// been applied, refusal, reason, the probe's label, a retry's cause, gone.
    #[test]
    fn one_decision_per_answer() {
        use FailureClass::{Config as C, System as S, Transient as T};
        use FailureReason as R;
        use Refusal::{Filter, Unknown};
        use Scope::{Portal, Request, Stream};
        let malformed = |kind| Error::Malformed {
            status: 200,
            kind,
            detail: "x".into(),
        };
        let over = |bound| Error::oversized("crm/account/list", Some(2), bound);
        #[rustfmt::skip]
        let table: Vec<Row> = vec![
            (Error::config("page_size", "too big"), false, C, Request, false, false, None, R::InvalidConfig, Label::Config, Cause::InvalidSetting, false),
            (Error::Stopped, false, T, Request, false, false, None, R::Network, Label::Other, Cause::Stopped, false),
            (Error::Abandoned, false, T, Request, false, true, None, R::Timeout, Label::Other, Cause::Abandoned, false),
            (Error::Auth { status: 401, api: None }, false, C, Portal, false, false, None, R::BadCredentials, Label::Auth, Cause::KeyRejected, false),
            (Error::UnknownAccount { kind: AccountKind::NotFound, detail: "x".into() }, false, C, Portal, false, false, None, R::UnknownAccount, Label::UnknownAccount, Cause::NoPortal, false),
            (transport(TransportKind::Dns), false, C, Portal, false, false, None, R::UnknownAccount, Label::UnknownAccount, Cause::Transport(TransportKind::Dns), false),
            (Error::permission("crm", "lead", api(Some(22), "access denied")), false, C, Stream, false, false, None, R::MissingPermission, Label::Permission, Cause::Flowlu(Some(22)), false),
            (Error::permission("crm", "lead", api(Some(31), "unknown module")), false, C, Stream, false, false, None, R::MissingPermission, Label::Unsupported, Cause::Flowlu(Some(31)), false),
            (Error::RateLimited { retry_after: Some(Duration::from_secs(2)) }, true, T, Request, false, false, None, R::RateLimited, Label::RateLimited, Cause::RateLimited { retry_after: Some(Duration::from_secs(2)) }, false),
            (Error::Server { status: 502 }, true, T, Request, false, true, None, R::ServerError, Label::Server, Cause::Status(502), false),
            (Error::Unavailable { status: 503, kind: UnavailableKind::Message, detail: "x".into() }, true, T, Request, false, true, None, R::ServerError, Label::Server, Cause::Status(503), false),
            (Error::Unavailable { status: 200, kind: UnavailableKind::HtmlPage, detail: "x".into() }, true, T, Request, false, true, None, R::ServerError, Label::Server, Cause::HtmlPage(200), false),
            (over(Bound::Bytes(1 << 20)), false, C, Request, false, true, None, R::InvalidConfig, Label::Oversized, Cause::TooLarge, false),
            (over(Bound::Depth(64)), false, S, Request, false, true, None, R::Unexpected, Label::Oversized, Cause::TooLarge, false),
            (over(Bound::Records(100)), false, S, Request, false, true, None, R::Unexpected, Label::Oversized, Cause::TooLarge, false),
            (over(Bound::Values(1000)), false, S, Request, false, true, None, R::Unexpected, Label::Oversized, Cause::TooLarge, false),
            (transport(TransportKind::Connect), true, T, Request, false, false, None, R::Network, Label::Transport, Cause::Transport(TransportKind::Connect), false),
            (transport(TransportKind::Timeout), true, T, Request, false, true, None, R::Timeout, Label::Transport, Cause::Transport(TransportKind::Timeout), false),
            (transport(TransportKind::Body), true, T, Request, false, true, None, R::Network, Label::Transport, Cause::Transport(TransportKind::Body), false),
            (transport(TransportKind::Other), true, T, Request, false, true, None, R::Network, Label::Transport, Cause::Transport(TransportKind::Other), false),
            (Error::Api(Box::new(api(Some(10), "unknown error"))), false, S, Request, false, false, Some(Unknown), R::Unexpected, Label::System, Cause::Flowlu(Some(10)), false),
            (Error::Api(Box::new(api(Some(11), "authorization failed"))), false, C, Request, false, false, None, R::Unexpected, Label::Auth, Cause::Flowlu(Some(11)), false),
            (Error::Api(Box::new(api(Some(12), "invalid request"))), false, S, Request, false, false, Some(Filter), R::Unexpected, Label::System, Cause::Flowlu(Some(12)), false),
            (Error::Api(Box::new(api(Some(13), "retry later"))), true, T, Request, false, false, None, R::ServerError, Label::Transient, Cause::Flowlu(Some(13)), false),
            (Error::Api(Box::new(api(Some(20), "not found"))), false, S, Request, true, false, None, R::Unexpected, Label::Record, Cause::Flowlu(Some(20)), true),
            (Error::Api(Box::new(api(Some(21), "validation error"))), false, S, Request, true, false, Some(Filter), R::Unexpected, Label::Record, Cause::Flowlu(Some(21)), false),
            (Error::Api(Box::new(api(Some(31), "unknown module"))), false, C, Request, false, false, None, R::Unexpected, Label::Unsupported, Cause::Flowlu(Some(31)), false),
            (Error::Api(Box::new(api(Some(99), "new"))), false, S, Request, false, false, None, R::Unexpected, Label::System, Cause::Flowlu(Some(99)), false),
            (Error::Api(Box::new(api(None, "validation"))), false, S, Request, true, false, None, R::Unexpected, Label::Record, Cause::Flowlu(None), false),
            (malformed(MalformedKind::Truncated), true, S, Request, false, true, None, R::Unexpected, Label::Malformed, Cause::CutShort, false),
            (malformed(MalformedKind::NotJson), false, S, Request, false, true, None, R::Unexpected, Label::Malformed, Cause::NotUnderstood(200), false),
            (malformed(MalformedKind::Unexpected), false, S, Request, false, true, None, R::Unexpected, Label::Malformed, Cause::NotUnderstood(200), false),
        ];
        for (
            err,
            retry,
            class,
            scope,
            record_level,
            may_have_been_applied,
            refused,
            reason,
            label,
            cause,
            gone,
        ) in table
        {
            let expected = Decision {
                retry,
                class,
                scope,
                record_level,
                gone,
                may_have_been_applied,
                refused,
                reason,
                label,
                cause,
            };
            assert_eq!(err.decision(), expected, "{err:?}");
            // The questions read the decision.
            assert_eq!(err.is_retryable(), retry, "{err:?}");
            assert_eq!(err.failure_class(), class, "{err:?}");
            assert_eq!(err.is_record_level(), record_level, "{err:?}");
            assert_eq!(err.may_have_been_applied(), may_have_been_applied, "{err:?}");
            assert_eq!(err.refuses_filter(), refused == Some(Filter), "{err:?}");
            let (told, failure) = err.explain_at("acme.flowlu.com");
            assert_eq!((told, failure.class), (reason, reason.class()), "{err:?}");
        }
    }

    /// The words of every label (the probe's report) and every cause (a retry's wait).
    #[test]
    fn labels_and_causes_in_words() {
        let labels = [
            (Label::Config, "config"),
            (Label::Auth, "auth"),
            (Label::UnknownAccount, "unknown_account"),
            (Label::Permission, "permission"),
            (Label::Unsupported, "unsupported"),
            (Label::RateLimited, "rate_limited"),
            (Label::Server, "server"),
            (Label::Transport, "transport"),
            (Label::Oversized, "oversized"),
            (Label::Transient, "transient"),
            (Label::Record, "record"),
            (Label::System, "system"),
            (Label::Malformed, "malformed"),
            (Label::Other, "other"),
        ];
        for (label, word) in labels {
            assert_eq!(label.as_str(), word);
        }
        let causes = [
            (
                Cause::RateLimited {
                    retry_after: Some(Duration::from_secs(7)),
                },
                "rate limited, Retry-After 7 s",
            ),
            (Cause::RateLimited { retry_after: None }, "rate limited"),
            (Cause::Status(502), "HTTP 502"),
            (Cause::HtmlPage(200), "HTTP 200 with an HTML page"),
            (Cause::Transport(TransportKind::Timeout), "timeout"),
            (Cause::Transport(TransportKind::Connect), "connection refused"),
            (Cause::Transport(TransportKind::Body), "connection dropped"),
            (Cause::Transport(TransportKind::Dns), "name did not resolve"),
            (Cause::Transport(TransportKind::Other), "request failed"),
            (Cause::CutShort, "connection dropped (body cut short)"),
            (Cause::Flowlu(Some(13)), "Flowlu error 13"),
            (Cause::Flowlu(None), "a Flowlu error"),
            (Cause::NotUnderstood(200), "an answer not understood (HTTP 200)"),
            (Cause::TooLarge, "answer too large"),
            (Cause::KeyRejected, "key rejected"),
            (Cause::NoPortal, "no portal at this address"),
            (Cause::InvalidSetting, "invalid setting"),
            (Cause::Stopped, "not sent (the write stopped)"),
            (Cause::Abandoned, "no answer before the write stopped"),
        ];
        for (cause, words) in causes {
            assert_eq!(cause.to_string(), words);
        }
    }

    #[test]
    fn the_sentence_names_the_domain_and_what_to_do() {
        let (reason, failure) = Error::Auth {
            status: 401,
            api: None,
        }
        .explain_at("acme.flowlu.com");
        assert_eq!(reason, FailureReason::BadCredentials);
        assert_eq!(
            failure.message,
            "Flowlu rejected the API key for acme.flowlu.com. Check that you copied the whole key from Portal Settings -> API Settings, that it has not been deleted, and that it belongs to this account."
        );
        assert_eq!(failure.internal, "authorization failed (HTTP 401)");
    }
}
