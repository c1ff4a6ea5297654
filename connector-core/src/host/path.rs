//! Dotted paths (`proxy.user`) in a config: read, take out, put in.

use serde_json::{json, Value};

pub(super) fn get<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |node, part| node.get(part))
}

pub(super) fn take(value: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (
            parent
                .split('.')
                .try_fold(&mut *value, |node, part| node.get_mut(part))?,
            last,
        ),
        None => (value, path),
    };
    parent.as_object_mut()?.remove(last)
}

pub(super) fn put(value: &mut Value, path: &str, new: Value) {
    let mut node = value;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let Some(obj) = node.as_object_mut() else { return };
        if parts.peek().is_none() {
            obj.insert(part.to_string(), new);
            return;
        }
        node = obj.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}
