//! [`Wait`]: a request waiting before it goes on, the same for a read
//! ([`crate::SourceEvent::Wait`]) and a write ([`crate::SinkEvent::Wait`]).

/// A request waits and then goes on by itself: shown live by progress displays, never a
/// protocol message of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// The service asked us to wait.
    RateLimited {
        /// The stream waiting (or `None` when the whole account waits).
        stream: Option<String>,
        /// How long, in milliseconds.
        wait_ms: u64,
    },
    /// A request of `stream` failed with a temporary error and is tried again after a wait.
    Retrying {
        /// The stream whose request is retried.
        stream: String,
        /// The attempt that failed (1 for the first): the coming try is retry `attempt`.
        attempt: usize,
        /// How long until the next attempt, in milliseconds.
        wait_ms: u64,
        /// What the failed attempt met, in a few words (`HTTP 502`, `timeout`, `connection
        /// dropped`, `HTTP 200 with an HTML page`, ...; never a body text).
        reason: String,
    },
}
