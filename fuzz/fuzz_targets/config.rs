#![no_main]
//! Config parsing: never panics, never echoes the key.
use connector_core::Credential;
use connector_flowlu::FlowluCredential;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzz-canary-key-91f3";

fuzz_target!(|data: &[u8]| {
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Some(obj) = value.as_object_mut() {
        obj.insert("api_key".into(), KEY.into());
    }
    if let Err(err) = FlowluCredential::from_config(&value) {
        assert!(!err.to_string().contains(KEY));
    }
});
