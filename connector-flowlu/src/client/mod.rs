//! The Flowlu REST client: one place that builds URLs, sends requests and decodes answers.
//!
//! * `api_key` rides in the query string of every request (Flowlu has no header form), so the
//!   URL is never shown: transport errors are stripped of it, spans record only the module,
//!   model and method, and text taken from response bodies is redacted.
//! * Redirects are never followed (one would carry the key to another host).
//! * Timeouts are always set.
//!
//! Four jobs, a module each, in the order they depend on one another: `decode` (a body into
//! a value or an error), `scan` (a record's `id`, cursor and nesting read from its text),
//! `page` (list pages, parsed or raw), `transport` (the client itself); `limiter` paces and
//! retries the calls of one account.

pub(crate) mod decode;
pub(crate) mod limiter;
pub(crate) mod pace_memory;
pub(crate) mod page;
pub(crate) mod scan;
pub(crate) mod transport;

pub use decode::decode;
pub use page::ListPage;
pub(crate) use transport::{check_base_url, contacted_host};
pub use transport::{Client, ClientBuilder, BASE_URL_ENV};
