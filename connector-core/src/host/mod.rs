//! The host side of a credential: what to store, what to show, how to merge an edit, and where
//! a validation failure belongs in the form. Generic: everything is read from the generated
//! form schema's markers, nothing is specific to a service.
//!
//! * A property is a **secret** when its schema carries `writeOnly: true` (or `airbyte_secret`
//!   / `secret`, the other markers [`crate::Secret`] sets).
//! * A secret may declare its **scope** with `x-secret-scope`: the (dotted) paths of the
//!   public fields that say where the secret may be sent (an account domain, a tenant, a
//!   region). A stored secret is never kept across a change of its scope: the user must enter
//!   it again, so an edit cannot send a saved key to another account.
//!
//! [`HostSchema::split`] splits a submitted config into its public part (stored in the clear,
//! shown again) and its [`Secrets`] (stored encrypted, never shown);
//! [`HostSchema::masked`] is the view sent back to a browser ([`MASK`] where a secret is
//! stored); [`HostSchema::merge`] merges an edited form with the stored secrets (the mask
//! means "keep"); [`HostSchema::join`] rebuilds the config a connector reads;
//! [`HostSchema::failure_target`] tells which field a validation failure belongs to.
//!
//! ```
//! use connector_core::host::{HostSchema, MASK};
//! use serde_json::json;
//!
//! let schema = json!({"type": "object", "properties": {
//!     "domain": {"type": "string"},
//!     "key": {"type": "string", "writeOnly": true, "x-secret-scope": ["domain"]},
//! }});
//! let host = HostSchema::from_schema(&schema).unwrap();
//! let split = host.split(&json!({"domain": "acme", "key": "k-1"})).unwrap();
//! assert_eq!(split.public, json!({"domain": "acme"}));
//! assert_eq!(host.masked(&split.public, &split.secrets), json!({"domain": "acme", "key": MASK}));
//! // The key left as the mask is kept...
//! let kept = host.merge(&split.public, &split.secrets, &json!({"domain": "acme", "key": MASK})).unwrap();
//! assert_eq!(kept.secrets.get("key").unwrap().expose(), "k-1");
//! // ...but not when the domain it belongs to changed.
//! let err = host.merge(&split.public, &split.secrets, &json!({"domain": "other", "key": MASK})).unwrap_err();
//! assert_eq!(err.field(), "key");
//! ```

mod custody;
mod error;
mod path;
mod placement;
mod schema;
mod text;

pub use custody::{Secrets, Split};
pub use error::HostError;
pub use placement::{rjsf_extra_errors, Target};
pub use schema::{HostSchema, SecretField, MASK, SECRET_SCOPE};

#[cfg(test)]
mod tests;
