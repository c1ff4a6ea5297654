//! Workspace integration tests: one binary, a module per area.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod canary;
mod check_cli;
mod columns;
mod coverage;
mod create_resume;
mod deletes;
mod economy;
mod failure_forms;
mod hostile;
mod jsonl;
mod layout;
mod malformed;
mod models;
mod no_change;
mod outage;
mod paging;
mod probe;
mod probe_ranges;
mod props;
mod rate_limit;
mod reliability;
mod reread;
mod restores;
mod schemas;
mod sink;
mod sink_e2e;
mod soak;
mod source;
mod source_e2e;
mod staleness;
mod staleness_progress;
mod typed_compare;
mod validation;
mod webhooks;
mod write_truth;
