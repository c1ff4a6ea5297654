//! # connector-runner
//!
//! The Airbyte-protocol program for any `connector-core` connector, the way the Python CDK's
//! entrypoint serves every Python connector: a connector implements [`Connector`] (its
//! credential type, name, spec, how it builds a source and a sink, a base-URL override, extra
//! subcommands) and its `main` is one call:
//!
//! ```text
//! #[tokio::main]
//! async fn main() {
//!     std::process::exit(connector_runner::process_main::<MyConnector>().await);
//! }
//! ```
//!
//! Every command prints one JSON `AirbyteMessage` per line on stdout and nothing else; logs go
//! to stderr. Exit codes: 0 when the command ran (a failed `check` included: its answer is a
//! `CONNECTION_STATUS FAILED`), 1 when it failed (a `TRACE` error says why, with its
//! `failure_type`), 2 for a command line that cannot be parsed, 130 / 143 when a `read` or
//! `write` was interrupted by SIGINT / SIGTERM (it stops between whole lines, flushes them and
//! says on stderr what the last STATE covers; a second signal exits at once).
//!
//! Every line but a `RECORD` is flushed as it is written (a `LOG` or `TRACE` reaches the host
//! at once); `RECORD` lines are buffered and flushed with the `STATE` after them. The values of
//! the spec's secret fields (`writeOnly`) in the config are removed, in every encoding, from
//! every line that can carry text from a server.

pub mod airbyte;
mod cli;
mod config;
mod connector;
mod env;
mod exit;
mod inputs;
mod output;
mod progress;
mod read;
mod run;
mod signal;
mod spec;
pub mod state;
mod write;

pub use config::{load_config, Loaded};
pub use connector::{Connector, NoCommands};
pub use env::{Env, Stdin};
pub use exit::{EXIT_FAILED, EXIT_OK, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE};
pub use run::{process_main, run, run_interruptible};
pub use signal::{Interrupt, InterruptTrigger, Signal};
pub use spec::spec;
