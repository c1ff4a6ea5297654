//! The bottom floor: tables and values, no I/O. Every floor above (the client, the account,
//! the credential, the source and the sink) may use these; they use nothing above them.

pub(crate) mod columns;
pub(crate) mod cursor;
pub(crate) mod dates;
pub(crate) mod decision;
pub(crate) mod domain;
pub(crate) mod encode;
pub(crate) mod error;
pub(crate) mod settings;
pub(crate) mod stream_schema;
pub(crate) mod streams;
