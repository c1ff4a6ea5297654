//! Flowlu's outgoing webhooks: the receiver a host mounts (or `flowlu-connector listen`
//! serves), which spools each event durably before answering. A read drains the spool
//! (`source/webhook.rs`). See "Webhooks" in the README.
//!
//! * `event.rs`: one event checked and mapped to its stream (the source's table); its
//!   idempotency key.
//! * `token.rs`: the URL's secret token (generated, stored 0600, rotated with a grace period).
//! * `receiver.rs`: the axum router and its answers.

pub mod event;
pub mod receiver;
pub mod token;
