#![no_main]
//! Decoding any Flowlu answer: never panics, never echoes the key.
use connector_flowlu::testing::{decode, ListPage};
use libfuzzer_sys::fuzz_target;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

const KEY: &str = "fuzz-canary-key-91f3";

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else { return };
    let status = StatusCode::from_u16(200 + u16::from(first) * 2).unwrap_or(StatusCode::OK);
    match decode(status, &HeaderMap::new(), body, KEY) {
        Ok(response) => {
            let _ = ListPage::from_response(response);
        }
        Err(err) => assert!(!format!("{err} {err:?}").contains(KEY)),
    }
});
