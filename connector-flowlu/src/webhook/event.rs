//! One Flowlu webhook event: `{"meta": {"module", "model", "action"}, "current", "previous"}`
//! checked and mapped to its stream (the source's table, [`crate::base::streams::MODELS`]).

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::base::streams::Model;
use crate::client::page::MAX_RECORD_DEPTH;

/// What the event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A record was created (`current` holds it).
    Create,
    /// A record was changed (`current` holds it as it is now).
    Update,
    /// A record was deleted (`previous` holds it as it was).
    Delete,
}

/// Why a body is not an event the connector takes (each answered without detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not JSON, nested deeper than the read path allows, or not the event's shape.
    Malformed,
    /// A module and model the connector does not read.
    UnknownModel,
}

/// A checked event.
#[derive(Debug, Clone)]
pub struct Event {
    /// The model (and stream) it belongs to.
    pub model: &'static Model,
    /// What happened.
    pub action: Action,
    /// The record's `id` as sent (a number, or a string of digits).
    pub id: Value,
    /// The record's cursor value (`updated_date`, `updated`) as sent, if the model has one and
    /// the record holds it as text.
    pub cursor: Option<String>,
    /// `current` as sent (create and update).
    pub record: Option<Box<RawValue>>,
}

#[derive(Deserialize)]
struct Meta {
    module: String,
    model: String,
    action: String,
}

#[derive(Deserialize)]
struct Wire {
    meta: Meta,
    #[serde(default)]
    current: Option<Box<RawValue>>,
    #[serde(default)]
    previous: Option<Box<RawValue>>,
}

/// The deepest a body may nest: a record's bound on the read path, plus the envelope.
pub const MAX_EVENT_DEPTH: usize = MAX_RECORD_DEPTH + 1;

/// Whether `json` nests deeper than `max` (brackets outside strings).
fn too_deep(json: &[u8], max: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn id_of(record: &Value) -> Option<Value> {
    match record.get("id")? {
        Value::Number(n) if n.is_u64() => Some(Value::Number(n.clone())),
        Value::String(s) if !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Value::String(s.clone()))
        }
        _ => None,
    }
}

/// The record's `id` as a key for comparisons (`7` and `"7"` are the same record).
pub fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Event {
    /// Checks a body and maps it to its stream.
    pub fn parse(body: &[u8]) -> Result<Self, Refusal> {
        if too_deep(body, MAX_EVENT_DEPTH) {
            return Err(Refusal::Malformed);
        }
        let wire: Wire = serde_json::from_slice(body).map_err(|_| Refusal::Malformed)?;
        let action = match wire.meta.action.as_str() {
            "create" => Action::Create,
            "update" => Action::Update,
            "delete" => Action::Delete,
            _ => return Err(Refusal::Malformed),
        };
        let model = crate::base::streams::MODELS
            .iter()
            .find(|m| m.module == wire.meta.module && m.model == wire.meta.model)
            .ok_or(Refusal::UnknownModel)?;
        let object = |raw: &Option<Box<RawValue>>| -> Option<Value> {
            raw.as_ref()
                .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                .filter(Value::is_object)
        };
        let (current, previous) = (object(&wire.current), object(&wire.previous));
        let (source, record) = match action {
            Action::Create | Action::Update => (current.ok_or(Refusal::Malformed)?, wire.current),
            // A delete names the record in `previous`; `current` if that is all it holds.
            Action::Delete => (previous.or(current).ok_or(Refusal::Malformed)?, None),
        };
        let id = id_of(&source).ok_or(Refusal::Malformed)?;
        let cursor = model
            .cursor
            .and_then(|(column, _)| source.get(column)?.as_str().map(str::to_string));
        Ok(Self {
            model,
            action,
            id,
            cursor,
            record,
        })
    }

    /// The idempotency key of a body: the same event sent twice (a resend) has the same key,
    /// whatever its whitespace. SHA-256 over the stream and the body as parsed, cut to 16 bytes.
    pub fn key(&self, body: &[u8]) -> connector_spool::Key {
        let canonical = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| serde_json::to_vec(&v).ok())
            .unwrap_or_else(|| body.to_vec());
        let mut hasher = Sha256::new();
        hasher.update(self.model.stream.as_bytes());
        hasher.update([0u8]);
        hasher.update(&canonical);
        let digest = hasher.finalize();
        let mut key = [0u8; connector_spool::KEY_LEN];
        key.copy_from_slice(&digest[..connector_spool::KEY_LEN]);
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_map_to_their_stream_with_id_and_cursor() {
        let body = br#"{"meta": {"module": "crm", "model": "lead", "action": "update"}, "current": {"id": 7, "name": "A", "updated_date": "2026-12-05 10:00:00"}, "previous": {"id": 7, "name": "B"}}"#;
        let event = Event::parse(body).unwrap();
        assert_eq!(event.model.stream, "crm_lead");
        assert_eq!(event.action, Action::Update);
        assert_eq!(event.id, Value::from(7));
        assert_eq!(event.cursor.as_deref(), Some("2026-12-05 10:00:00"));
        assert_eq!(
            event.record.as_ref().map(|r| r.get()),
            Some(r#"{"id": 7, "name": "A", "updated_date": "2026-12-05 10:00:00"}"#)
        );
        let delete = br#"{"meta": {"module": "products", "model": "product", "action": "delete"}, "current": null, "previous": {"id": "12", "updated": "2026-12-05 11:00:00"}}"#;
        let event = Event::parse(delete).unwrap();
        assert_eq!(
            (
                event.model.stream,
                event.action,
                event.id,
                event.cursor.as_deref(),
                event.record.is_none()
            ),
            (
                "products_product",
                Action::Delete,
                Value::from("12"),
                Some("2026-12-05 11:00:00"),
                true
            )
        );
    }

    #[test]
    fn bodies_that_are_not_events_are_refused_by_kind() {
        let deep = format!(
            r#"{{"meta": {{"module": "crm", "model": "lead", "action": "create"}}, "current": {{"id": 1, "x": {}1{}}}}}"#,
            "[".repeat(MAX_RECORD_DEPTH),
            "]".repeat(MAX_RECORD_DEPTH)
        );
        let cases: [(&[u8], Refusal); 9] = [
            (b"not json", Refusal::Malformed),
            (b"[]", Refusal::Malformed),
            (br#"{"meta": {"module": "crm", "model": "lead", "action": "merge"}, "current": {"id": 1}}"#, Refusal::Malformed),
            (br#"{"meta": {"module": "crm", "model": "lead", "action": "create"}, "current": null}"#, Refusal::Malformed),
            (br#"{"meta": {"module": "crm", "model": "lead", "action": "create"}, "current": {"id": -1}}"#, Refusal::Malformed),
            (br#"{"meta": {"module": "crm", "model": "lead", "action": "create"}, "current": {"id": "7a"}}"#, Refusal::Malformed),
            (br#"{"meta": {"module": "crm", "model": "lead", "action": "delete"}, "current": null, "previous": null}"#, Refusal::Malformed),
            (br#"{"meta": {"module": "crm", "model": "comments", "action": "create"}, "current": {"id": 1}}"#, Refusal::UnknownModel),
            (deep.as_bytes(), Refusal::Malformed),
        ];
        for (body, expected) in cases {
            assert_eq!(
                Event::parse(body).err(),
                Some(expected),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // One level less is accepted: the bound is the read path's.
        let fits = deep.replacen('[', "", 1).replacen(']', "", 1);
        assert!(Event::parse(fits.as_bytes()).is_ok());
    }

    #[test]
    fn the_key_ignores_whitespace_but_not_content() {
        let a = br#"{"meta": {"module": "crm", "model": "lead", "action": "update"}, "current": {"id": 7, "name": "A"}, "previous": null}"#;
        let b = br#"{"meta":{"module":"crm","model":"lead","action":"update"},"current":{"id":7,"name":"A"},"previous":null}"#;
        let c = br#"{"meta":{"module":"crm","model":"lead","action":"update"},"current":{"id":7,"name":"B"},"previous":null}"#;
        let key = |body: &[u8]| Event::parse(body).unwrap().key(body);
        assert_eq!(key(a), key(b));
        assert_ne!(key(a), key(c));
    }
}
