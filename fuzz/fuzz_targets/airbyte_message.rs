#![no_main]
//! Airbyte messages on stdin and `--state` documents: never panic.
use connector_runner::airbyte::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    let _ = Message::parse_line(line, 1);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(line) {
        let _ = connector_runner::state::source_state(&value);
    }
});
