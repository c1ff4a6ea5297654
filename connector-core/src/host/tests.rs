//! The host side of a credential, end to end over a generated form.

#![allow(clippy::unwrap_used)]
use serde_json::{json, Value};

use super::*;
use crate::credential::FailureReason;
use crate::error::Error;
use crate::secret::Secret;

const CANARY: &str = "canary-host-31f9";

/// A form like a service credential's, generated from a Rust type: a secret scoped to
/// the domain, a nested secret without a scope, an optional public object.
#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Cred {
    #[serde(flatten)]
    meta: crate::CredentialMeta,
    /// Account domain
    ///
    /// The account.
    domain: String,
    /// API key
    ///
    /// The key.
    #[schemars(extend("x-secret-scope" = ["domain"]))]
    api_key: Secret,
    /// Proxy
    ///
    /// An optional proxy.
    #[serde(default)]
    proxy: Option<Proxy>,
}

#[derive(serde::Deserialize, schemars::JsonSchema)]
#[allow(dead_code)]
struct Proxy {
    /// Proxy user
    ///
    /// The user.
    user: String,
    /// Proxy password
    ///
    /// The password.
    password: Secret,
}

fn host() -> HostSchema {
    HostSchema::of::<Cred>().unwrap()
}

fn stored() -> (Value, Secrets) {
    let split = host()
        .split(&json!({"name": "CRM", "domain": "acme", "api_key": CANARY, "proxy": {"user": "u", "password": "pw-1"}}))
        .unwrap();
    (split.public, split.secrets)
}

#[test]
fn reads_secrets_and_scopes_from_the_schema() {
    assert_eq!(
        host().secrets(),
        &[
            SecretField {
                path: "api_key".into(),
                title: "API key".into(),
                scope: vec!["domain".into()]
            },
            SecretField {
                path: "proxy.password".into(),
                title: "proxy password".into(),
                scope: vec![]
            },
        ]
    );
    // The scope marker keeps the generated form inside the portable profile.
    let form = crate::FormDescriptor::of::<Cred>().unwrap();
    assert_eq!(
        crate::form::profile_violations(&form.schema),
        Vec::<String>::new()
    );
    assert_eq!(
        form.schema["properties"]["api_key"][SECRET_SCOPE],
        json!(["domain"])
    );
}

#[test]
fn a_scope_must_name_a_public_field() {
    for scope in [json!(["nope"]), json!(["key"])] {
        let schema =
            json!({"properties": {"key": {"type": "string", "writeOnly": true, "x-secret-scope": scope}}});
        let err = HostSchema::from_schema(&schema).unwrap_err();
        assert_eq!(err.field(), "key");
        assert_eq!(
            err.to_string(),
            format!(
                "`key`: x-secret-scope names `{}`, which is not a public field of the form",
                scope[0].as_str().unwrap()
            )
        );
    }
}

#[test]
fn split_takes_every_secret_out() {
    let (public, secrets) = stored();
    assert_eq!(
        public,
        json!({"name": "CRM", "domain": "acme", "proxy": {"user": "u"}})
    );
    assert_eq!(secrets.paths(), vec!["api_key", "proxy.password"]);
    assert_eq!(secrets.get("api_key").unwrap().expose(), CANARY);
    assert_eq!(secrets.get("proxy.password").unwrap().expose(), "pw-1");
    assert_eq!(
        format!("{secrets:?}"),
        r#"{"api_key": "[REDACTED]", "proxy.password": "[REDACTED]"}"#
    );
    // Blank and null secrets are not stored; unknown host fields are kept.
    let split = host()
        .split(&json!({"domain": "acme", "api_key": "  ", "proxy": {"password": null}, "x_host": 1}))
        .unwrap();
    assert_eq!(split.public, json!({"domain": "acme", "proxy": {}, "x_host": 1}));
    assert!(split.secrets.is_empty());
}

#[test]
fn split_refuses_what_it_cannot_store_safely() {
    let h = host();
    assert_eq!(h.split(&json!([1])).unwrap_err(), HostError::NotAnObject);
    let err = h.split(&json!({"domain": "acme", "api_key": 12345})).unwrap_err();
    assert_eq!(
        err,
        HostError::NotAString {
            field: "api_key".into()
        }
    );
    assert_eq!(err.message(), "`api_key` must be a string.");
    let err = h
        .split(&json!({"domain": "acme", "api_key": CANARY, "description": format!("key: {CANARY}")}))
        .unwrap_err();
    assert_eq!(err.field(), "description");
    assert_eq!(
        err.message(),
        "The API key appears in `description`: remove it from there (secrets are only kept in their own field)."
    );
    assert!(!format!("{err:?}").contains(CANARY));
}

#[test]
fn masked_view_shows_the_mask_where_a_secret_is_stored() {
    let (public, secrets) = stored();
    let view = host().masked(&public, &secrets);
    assert_eq!(
        view,
        json!({"name": "CRM", "domain": "acme", "proxy": {"user": "u", "password": MASK}, "api_key": MASK})
    );
    // Nothing stored: no mask.
    assert_eq!(
        host().masked(&json!({"domain": "a"}), &Secrets::new()),
        json!({"domain": "a"})
    );
}

#[test]
fn merge_keeps_masked_secrets_and_takes_new_ones() {
    let (public, secrets) = stored();
    let h = host();
    let edit = json!({"name": "CRM 2", "domain": " acme ", "api_key": MASK, "proxy": {"user": "u2", "password": "pw-2"}});
    let merged = h.merge(&public, &secrets, &edit).unwrap();
    assert_eq!(
        merged.public,
        json!({"name": "CRM 2", "domain": " acme ", "proxy": {"user": "u2"}})
    );
    assert_eq!(merged.secrets.get("api_key").unwrap().expose(), CANARY);
    assert_eq!(merged.secrets.get("proxy.password").unwrap().expose(), "pw-2");
    // Rotation: a new key with the same domain; the cleared proxy password is removed.
    let edit = json!({"name": "CRM", "domain": "acme", "api_key": "new-key", "proxy": {"user": "u"}});
    let merged = h.merge(&public, &secrets, &edit).unwrap();
    assert_eq!(merged.secrets.get("api_key").unwrap().expose(), "new-key");
    assert_eq!(merged.secrets.paths(), vec!["api_key"]);
    // An unscoped secret is kept whatever changes.
    let edit = json!({"domain": "acme", "api_key": MASK, "proxy": {"user": "other", "password": MASK}});
    let merged = h.merge(&public, &secrets, &edit).unwrap();
    assert_eq!(merged.secrets.get("proxy.password").unwrap().expose(), "pw-1");
}

#[test]
fn merge_refuses_to_send_a_kept_secret_to_a_new_scope() {
    let (public, secrets) = stored();
    let h = host();
    for domain in [json!("evil"), Value::Null] {
        let mut edit = json!({"name": "CRM", "api_key": MASK});
        if !domain.is_null() {
            edit["domain"] = domain;
        }
        let err = h.merge(&public, &secrets, &edit).unwrap_err();
        assert_eq!(
            err,
            HostError::ScopeChanged {
                secret: "api_key".into(),
                secret_title: "API key".into(),
                scope: "domain".into(),
                scope_title: "account domain".into(),
            }
        );
        assert_eq!(err.field(), "api_key");
        assert_eq!(
            err.message(),
            "Enter the API key again: the account domain changed, and a saved API key is only used with the account domain it was entered for."
        );
    }
    // With the key entered again the new domain is accepted.
    let merged = h
        .merge(&public, &secrets, &json!({"domain": "evil", "api_key": "k-evil"}))
        .unwrap();
    assert_eq!(merged.secrets.get("api_key").unwrap().expose(), "k-evil");
    // The mask with nothing stored is refused, not stored as a key.
    let err = h
        .merge(
            &json!({"domain": "acme"}),
            &Secrets::new(),
            &json!({"domain": "acme", "api_key": MASK}),
        )
        .unwrap_err();
    assert_eq!(err.message(), "Enter the API key: none is saved to keep.");
    // A kept key pasted into a public field is refused too.
    let err = h
        .merge(
            &public,
            &secrets,
            &json!({"domain": "acme", "api_key": MASK, "name": CANARY}),
        )
        .unwrap_err();
    assert_eq!(err.field(), "name");
}

#[test]
fn join_rebuilds_the_config() {
    let (public, secrets) = stored();
    assert_eq!(
        host().join(&public, &secrets),
        json!({"name": "CRM", "domain": "acme", "proxy": {"user": "u", "password": "pw-1"}, "api_key": CANARY})
    );
}

#[test]
fn failures_go_to_their_fields() {
    let h = host();
    let at = |p: &str| Target::Field(p.into());
    // Two secrets: a rejected key cannot be placed by the reason alone.
    assert_eq!(
        h.failure_target(FailureReason::BadCredentials, None),
        Target::Credential
    );
    assert_eq!(
        h.failure_target(FailureReason::UnknownAccount, None),
        at("domain")
    );
    assert_eq!(
        h.failure_target(FailureReason::BadCredentials, Some("api_key")),
        at("api_key")
    );
    assert_eq!(
        h.failure_target(FailureReason::InvalidConfig, Some(".proxy.user")),
        at("proxy.user")
    );
    assert_eq!(
        h.failure_target(FailureReason::InvalidConfig, Some("nope")),
        Target::Credential
    );
    for reason in [
        FailureReason::MissingPermission,
        FailureReason::Network,
        FailureReason::Timeout,
        FailureReason::RateLimited,
        FailureReason::ServerError,
        FailureReason::Unexpected,
    ] {
        assert_eq!(h.failure_target(reason, None), Target::Credential, "{reason:?}");
    }
    let single = HostSchema::from_schema(&json!({"properties": {
        "domain": {"type": "string"},
        "key": {"type": "string", "writeOnly": true, "x-secret-scope": "domain"}
    }}))
    .unwrap();
    assert_eq!(
        single.failure_target(FailureReason::BadCredentials, None),
        at("key")
    );
    assert_eq!(
        single.failure_target(FailureReason::UnknownAccount, None),
        at("domain")
    );
}

#[test]
fn config_errors_go_to_their_fields() {
    let h = host();
    let err = |config: Value| match crate::parse_config::<Cred>(&config) {
        Err(Error::Config { path, message }) => (path, message),
        other => panic!("{:?}", other.map(|_| ())),
    };
    let (path, message) = err(json!({"name": "n", "domain": "acme"}));
    assert_eq!(
        h.config_error(&path, &message),
        (Target::Field("api_key".into()), "Enter the API key.".into())
    );
    let (path, message) = err(json!({"name": "n", "api_key": CANARY}));
    assert_eq!(
        h.config_error(&path, &message),
        (Target::Field("domain".into()), "Enter the account domain.".into())
    );
    let (path, message) = err(json!({"name": "n", "domain": 5, "api_key": CANARY}));
    assert_eq!(
        h.config_error(&path, &message),
        (
            Target::Field("domain".into()),
            "Invalid type: integer `5`, expected a string.".into()
        )
    );
    let (path, message) =
        err(json!({"name": "n", "domain": "d", "api_key": "k", "proxy": {"password": "p"}}));
    assert_eq!(
        h.config_error(&path, &message),
        (Target::Field("proxy.user".into()), "Enter the proxy user.".into())
    );
    assert_eq!(
        h.config_error("x.y", "bad"),
        (Target::Credential, "The `x.y` field is wrong: bad.".into())
    );
    assert_eq!(h.config_error(".", "bad"), (Target::Credential, "Bad.".into()));
}

/// The same errors placed from the config they were raised on: the missing field read from
/// the config and the form's `required`, never from the message.
#[test]
fn config_errors_are_placed_from_the_config() {
    let h = host();
    let place = |config: Value| match crate::parse_config::<Cred>(&config) {
        Err(Error::Config { path, message }) => {
            // The message plays no part in finding a missing field.
            let blind = h.place_config_error(&config, &path, "m");
            (h.place_config_error(&config, &path, &message), blind)
        }
        other => panic!("{:?}", other.map(|_| ())),
    };
    let enter = |field: &str, title: &str| (Target::Field(field.into()), format!("Enter the {title}."));
    let (placed, blind) = place(json!({"name": "n", "domain": "acme"}));
    assert_eq!(
        (placed, blind),
        (enter("api_key", "API key"), enter("api_key", "API key"))
    );
    let (placed, _) = place(json!({"name": "n", "api_key": CANARY}));
    assert_eq!(placed, enter("domain", "account domain"));
    let (placed, _) = place(json!({"domain": "acme", "api_key": CANARY}));
    assert_eq!(placed, enter("name", "credential name"));
    let (placed, _) = place(json!({"name": "n", "domain": 5, "api_key": CANARY}));
    assert_eq!(
        placed,
        (
            Target::Field("domain".into()),
            "Invalid type: integer `5`, expected a string.".into()
        )
    );
    let (placed, blind) =
        place(json!({"name": "n", "domain": "d", "api_key": "k", "proxy": {"password": "p"}}));
    assert_eq!(
        (placed, blind),
        (
            enter("proxy.user", "proxy user"),
            enter("proxy.user", "proxy user")
        )
    );
    // Nothing missing where the error is: placed by its path, with its message.
    assert_eq!(
        h.place_config_error(&json!({"x": {"y": 1}}), "x.y", "bad"),
        (Target::Credential, "The `x.y` field is wrong: bad.".into())
    );
    assert_eq!(
        h.place_config_error(&json!([1]), ".", "bad"),
        (Target::Credential, "Bad.".into())
    );
}

#[test]
fn extra_errors_for_rjsf() {
    let placed = [
        (Target::Field("api_key".into()), "bad key"),
        (Target::Field("proxy.user".into()), "bad user"),
        (Target::Credential, "whole"),
        (Target::Field("api_key".into()), "again"),
    ];
    assert_eq!(
        rjsf_extra_errors(placed.iter().map(|(t, m)| (t, *m))),
        json!({
            "api_key": {"__errors": ["bad key", "again"]},
            "proxy": {"user": {"__errors": ["bad user"]}},
            "__errors": ["whole"]
        })
    );
}
