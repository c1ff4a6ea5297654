//! `--state`: the per-stream [`SourceState`] of a read, from any of the forms Airbyte hosts pass.

use connector_core::{Error, SourceState};
use serde_json::Value;

/// Reads `--state`: an array of `STATE` payloads (what Airbyte passes), a single payload, a
/// whole `STATE` message, a `GLOBAL` state, a `LEGACY` `{data: {...}}`, or the legacy bare
/// `{stream_name: state}` map. `null` and `[]` mean "no state".
pub fn source_state(value: &Value) -> Result<SourceState, Error> {
    let mut state = SourceState::default();
    match value {
        Value::Null => {}
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                absorb(&mut state, item).map_err(|m| protocol(format!("entry {i}: {m}")))?;
            }
        }
        Value::Object(_) => absorb(&mut state, value).map_err(protocol)?,
        _ => return Err(protocol("expected a JSON array of state objects".into())),
    }
    Ok(state)
}

fn absorb(state: &mut SourceState, item: &Value) -> Result<(), String> {
    let Some(obj) = item.as_object() else {
        return Err("expected a state object".into());
    };
    if obj.get("type").and_then(Value::as_str) == Some("STATE") {
        let inner = obj.get("state").ok_or("a STATE message without `state`")?;
        return absorb(state, inner);
    }
    match obj.get("type").and_then(Value::as_str) {
        Some("STREAM") => {
            let stream = obj.get("stream").ok_or("a STREAM state without `stream`")?;
            absorb_stream(state, stream)
        }
        Some("GLOBAL") => {
            let states = obj
                .get("global")
                .and_then(|g| g.get("stream_states"))
                .and_then(Value::as_array)
                .ok_or("a GLOBAL state without `global.stream_states`")?;
            states.iter().try_for_each(|s| absorb_stream(state, s))
        }
        Some("LEGACY") => {
            let data = obj
                .get("data")
                .and_then(Value::as_object)
                .ok_or("a LEGACY state without `data`")?;
            state
                .streams
                .extend(data.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        }
        Some(other) => Err(format!(
            "unknown state type `{other}` (expected STREAM, GLOBAL or LEGACY)"
        )),
        None if obj.contains_key("stream_descriptor") => absorb_stream(state, item),
        None => {
            state
                .streams
                .extend(obj.iter().map(|(k, v)| (k.clone(), v.clone())));
            Ok(())
        }
    }
}

fn absorb_stream(state: &mut SourceState, stream: &Value) -> Result<(), String> {
    let name = stream
        .get("stream_descriptor")
        .and_then(|d| d.get("name"))
        .and_then(Value::as_str)
        .ok_or("a stream state without `stream_descriptor.name`")?;
    let saved = stream.get("stream_state").cloned().unwrap_or(Value::Null);
    if !saved.is_null() {
        state.streams.insert(name.to_string(), saved);
    }
    Ok(())
}

fn protocol(message: String) -> Error {
    Error::Protocol {
        what: "state".into(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn reads_every_form() {
        let a = json!({"cursor": "2024-01-01 00:00:00"});
        let stream =
            json!({"type": "STREAM", "stream": {"stream_descriptor": {"name": "s"}, "stream_state": a}});
        let expected: BTreeMap<String, Value> = [("s".to_string(), a.clone())].into();
        for input in [
            json!([stream.clone()]),
            stream.clone(),
            json!({"type": "STATE", "state": stream}),
            json!({"type": "GLOBAL", "global": {"stream_states": [{"stream_descriptor": {"name": "s"}, "stream_state": a}]}}),
            json!({"type": "LEGACY", "data": {"s": a}}),
            json!({"s": a}),
        ] {
            assert_eq!(source_state(&input).unwrap().streams, expected, "{input}");
        }
        assert!(source_state(&json!([])).unwrap().streams.is_empty());
        assert!(source_state(&Value::Null).unwrap().streams.is_empty());
    }

    #[test]
    fn rejects_malformed_with_position() {
        let err = source_state(&json!([{"type": "STREAM"}])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid state: entry 0: a STREAM state without `stream`"
        );
        let err = source_state(&json!(3)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid state: expected a JSON array of state objects"
        );
        let err = source_state(&json!({"type": "PER_MOON"})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid state: unknown state type `PER_MOON` (expected STREAM, GLOBAL or LEGACY)"
        );
    }
}
