//! Errors of the library API, and the Flowlu errors the server answers with.

use serde_json::{json, Map, Value};

/// What can go wrong when starting or driving an emulator from code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// A `module/model` the Flowlu API does not have.
    #[error("unknown model {0}")]
    UnknownModel(String),
    /// A configuration value that makes no sense (e.g. a zero page size).
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A second client's create or edit the store refused (unknown model or record, a value
    /// that does not fit), with the Flowlu error it would have answered.
    #[error("refused: {0}")]
    Refused(String),
}

/// A Flowlu error answer: `{"error":{"error_code":N,"error_msg":..}}` or a validation failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ApiError {
    /// A coded error.
    Coded { code: u16, msg: String },
    /// Error 21 with per-field messages (shape chosen by a quirk when rendered).
    Validation(Map<String, Value>),
}

impl ApiError {
    pub(crate) fn new(code: u16, msg: impl Into<String>) -> Self {
        ApiError::Coded {
            code,
            msg: msg.into(),
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::new(12, msg)
    }

    pub(crate) fn not_found(id: impl std::fmt::Display) -> Self {
        Self::new(20, format!("record {id} not found"))
    }

    /// The error code carried.
    pub(crate) fn code(&self) -> u16 {
        match self {
            ApiError::Coded { code, .. } => *code,
            ApiError::Validation(_) => 21,
        }
    }

    /// The JSON body, with validation errors in the requested shape.
    pub(crate) fn body(&self, flat_validation: bool) -> Value {
        match self {
            ApiError::Coded { code, msg } => {
                json!({"error": {"error_code": code, "error_msg": msg}})
            }
            ApiError::Validation(details) if flat_validation => json!({
                "error": "validation",
                "description": "Validation error",
                "details": details,
            }),
            ApiError::Validation(details) => json!({
                "error": {
                    "error_code": 21,
                    "error_msg": "Validation error",
                    "error_details": details,
                }
            }),
        }
    }
}
