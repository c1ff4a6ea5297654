//! The bottom floor: tables and values, no I/O. Every floor above (the client, the account,
//! the credential, the source and the sink) may use these; they use nothing above them.

pub mod columns;
pub mod cursor;
pub mod dates;
pub mod domain;
pub mod encode;
pub mod error;
pub mod settings;
pub mod stream_schema;
pub mod streams;
