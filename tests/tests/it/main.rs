//! Workspace integration tests: one binary, a module per area.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod schemas;
mod validation;
