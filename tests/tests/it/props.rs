//! Property tests (bounded, in CI): parsing outside input never panics and never echoes the key.

use connector_core::Credential;
use connector_flowlu::testing::{decode, ListPage};
use connector_flowlu::{AccountDomain, FlowluCredential};
use connector_runner::airbyte::Message;
use integration_tests::CANARY_KEY;
use proptest::prelude::*;
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::StatusCode;
use serde_json::{json, Value};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        Just(json!(CANARY_KEY)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("name".to_string()),
                    Just("account_domain".to_string()),
                    Just("api_key".to_string()),
                    Just("advanced".to_string()),
                    Just("error".to_string()),
                    Just("response".to_string()),
                    Just("items".to_string()),
                    "[a-z_]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn domain_parsing_never_panics_and_is_idempotent(input in "\\PC{0,40}") {
        if let Ok(domain) = AccountDomain::parse(&input) {
            let host = domain.host();
            prop_assert!(host.ends_with(".flowlu.com") || host.ends_with(".flowlu.ru"));
            prop_assert_eq!(AccountDomain::parse(&host).unwrap(), domain.clone());
            prop_assert_eq!(AccountDomain::parse(&domain.base_url()).unwrap(), domain);
        }
    }

    #[test]
    fn every_form_of_a_valid_account_normalises_to_it(account in "[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?") {
        prop_assume!(!account.starts_with("xn--") && account != "www" && account != "api");
        for form in [
            account.clone(),
            account.to_uppercase(),
            format!("  {account}\t"),
            format!("{account}.flowlu.com"),
            format!("https://{account}.flowlu.com/"),
        ] {
            let parsed = AccountDomain::parse(&form).unwrap();
            prop_assert_eq!(parsed.account(), account.as_str());
        }
    }

    /// The key is wherever the generator put it, and at `api_key` (where the parser knows it
    /// is a secret, so it can redact it even when it was also pasted into another field).
    #[test]
    fn config_parsing_never_panics_nor_echoes_the_key(mut value in arb_json()) {
        if let Some(obj) = value.as_object_mut() {
            obj.insert("api_key".into(), json!(CANARY_KEY));
        }
        if let Err(err) = FlowluCredential::from_config(&value) {
            prop_assert!(!err.to_string().contains(CANARY_KEY), "{}", err);
        }
    }

    #[test]
    fn config_with_a_mistyped_key_never_echoes_it(key in prop_oneof![
        any::<i64>().prop_map(|n| json!(n)),
        any::<bool>().prop_map(|b| json!(b)),
        Just(json!([CANARY_KEY])),
        Just(json!({"key": CANARY_KEY})),
    ]) {
        let value = json!({"name": "n", "account_domain": "acme", "api_key": key.clone()});
        let err = FlowluCredential::from_config(&value).unwrap_err().to_string();
        prop_assert!(!err.contains(CANARY_KEY), "{}", err);
        if let Some(n) = key.as_i64() {
            prop_assert!(!err.contains(&n.to_string()) || n.to_string().len() < 2, "{}", err);
        }
    }

    #[test]
    fn decoding_any_answer_never_panics_nor_echoes_the_key(
        status in 100u16..600,
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            arb_json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        ],
        retry_after in prop::option::of("[0-9a-zA-Z ,:]{0,12}"),
    ) {
        let status = StatusCode::from_u16(status).unwrap();
        let mut headers = HeaderMap::new();
        if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert("retry-after", value);
        }
        match decode(status, &headers, &body, CANARY_KEY) {
            Ok(response) => { let _ = ListPage::from_response(response); }
            Err(err) => {
                let text = format!("{err} {err:?}");
                prop_assert!(!text.contains(CANARY_KEY), "{}", text);
            }
        }
    }

    #[test]
    fn protocol_input_never_panics(line in prop_oneof![
        "\\PC{0,80}",
        arb_json().prop_map(|v| v.to_string()),
        arb_json().prop_map(|v| json!({"type": "RECORD", "record": v}).to_string()),
        arb_json().prop_map(|v| json!({"type": "STATE", "state": v}).to_string()),
    ]) {
        let _ = Message::parse_line(&line, 1);
    }

    #[test]
    fn state_input_never_panics(value in arb_json()) {
        let _ = connector_runner::state::source_state(&value);
        let _ = connector_runner::state::source_state(&json!([value.clone()]));
        let _ = connector_runner::state::source_state(&json!({"type": "STREAM", "stream": value}));
    }
}
