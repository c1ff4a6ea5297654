//! [`Secret`]: the one type that holds a credential secret such as an API key.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use secrecy::{ExposeSecret, SecretString};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A secret string (an API key, a password).
///
/// * `Debug` prints `Secret([REDACTED])`; there is no `Display` and no `Serialize`, so a secret
///   cannot reach a log line, an error message or a JSON document by accident.
/// * [`Secret::expose`] is the one way to read it: grep for it to audit every use.
/// * Deserialising never echoes the input: a wrongly typed value is reported by its kind only.
/// * Its [`JsonSchema`] carries every secret marker form renderers know (`writeOnly`,
///   `format: password`, `airbyte_secret`, `secret`).
/// * The memory is zeroed on drop (via [`secrecy`]).
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }

    /// The secret itself. Call only where the value must leave the process (a request).
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Whether the secret is empty or only white space.
    pub fn is_blank(&self) -> bool {
        self.expose().trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for Secret {}

struct SecretVisitor;

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    // Every other kind is refused without echoing the value (serde's default would print it).
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(E::custom("expected a string, found a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(E::custom("expected a string, found a number (put it in quotes)"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(E::custom("expected a string, found a number (put it in quotes)"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(E::custom("expected a string, found a number (put it in quotes)"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Secret, E> {
        Err(E::custom("expected a string, found null"))
    }

    fn visit_none<E: de::Error>(self) -> Result<Secret, E> {
        Err(E::custom("expected a string, found null"))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Err(de::Error::custom("expected a string, found a list"))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, _: A) -> Result<Secret, A::Error> {
        Err(de::Error::custom("expected a string, found an object"))
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretVisitor)
    }
}

impl JsonSchema for Secret {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Secret".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "writeOnly": true,
            "format": "password",
            "airbyte_secret": true,
            "secret": true
        })
    }
}

/// Replaces every occurrence of the secret, in every encoding it takes on its way to a server
/// and back in an echo: raw; percent-encoded (upper- or lower-case hex, a space as `+` or
/// `%20`, `/` kept or encoded, and encoded twice); JSON-escaped (`\"`, `\\`, `\/`, `\u0026`);
/// HTML-escaped; and these combined (a JSON-escaped URL).
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let mut out = None::<String>;
    for form in secret_forms(secret) {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(form.as_str()) {
            out = Some(current.replace(form.as_str(), "[REDACTED]"));
        }
    }
    out.unwrap_or_else(|| text.to_string())
}

/// The secret in every form [`redact`] removes, longest first (so that a form containing
/// another is removed whole).
fn secret_forms(secret: &str) -> Vec<String> {
    let encodings: [fn(&str) -> String; 10] = [
        |s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        |s| percent(s, Space::Plus, false, b""),
        |s| percent(s, Space::Percent, true, b""),
        |s| percent(s, Space::Percent, false, b""),
        |s| percent(s, Space::Percent, true, b"/:@!$'()*,;"),
        |s| json_escaped(s, false),
        |s| json_escaped(s, true),
        |s| unicode_escaped(s, true),
        |s| unicode_escaped(s, false),
        html_escaped,
    ];
    let mut forms = vec![secret.to_string()];
    for first in encodings {
        let once = first(secret);
        for second in encodings {
            forms.push(second(&once));
        }
        forms.push(once);
    }
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

#[derive(Clone, Copy, PartialEq)]
enum Space {
    Plus,
    Percent,
}

/// Percent-encodes every byte but ASCII letters, digits, `-._~` and `keep`.
fn percent(s: &str, space: Space, upper: bool, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else if b == b' ' && space == Space::Plus {
            out.push('+');
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

/// The inside of a JSON string holding `s`; with `slash`, `/` escaped as PHP does.
fn json_escaped(s: &str, slash: bool) -> String {
    let quoted = serde_json::to_string(s).unwrap_or_default();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted);
    if slash {
        inner.replace('/', "\\/")
    } else {
        inner.to_string()
    }
}

/// `s` with every ASCII character but letters and digits as a JSON `\u00XX` escape.
fn unicode_escaped(s: &str, upper: bool) -> String {
    let mut out = String::with_capacity(s.len() * 6);
    for c in s.chars() {
        match u32::from(c) {
            code if c.is_ascii() && !c.is_ascii_alphanumeric() && upper => {
                out.push_str(&format!("\\u{code:04X}"));
            }
            code if c.is_ascii() && !c.is_ascii_alphanumeric() => {
                out.push_str(&format!("\\u{code:04x}"));
            }
            _ => out.push(c),
        }
    }
    out
}

fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-4f1c9e";

    #[test]
    fn debug_is_redacted() {
        let s = Secret::new(CANARY);
        assert_eq!(format!("{s:?}"), "Secret([REDACTED])");
        assert_eq!(
            format!("{:#?}", Some(s.clone())),
            "Some(\n    Secret([REDACTED]),\n)"
        );
        assert_eq!(s.expose(), CANARY);
    }

    #[test]
    fn wrong_types_are_refused_without_echo() {
        for (input, expected) in [
            ("12345678", "expected a string, found a number (put it in quotes)"),
            (
                "-12345678",
                "expected a string, found a number (put it in quotes)",
            ),
            ("1.5", "expected a string, found a number (put it in quotes)"),
            ("true", "expected a string, found a boolean"),
            ("null", "expected a string, found null"),
            ("[\"canary-4f1c9e\"]", "expected a string, found a list"),
            ("{\"k\":\"canary-4f1c9e\"}", "expected a string, found an object"),
        ] {
            let err = serde_json::from_str::<Secret>(input).unwrap_err().to_string();
            assert!(err.starts_with(expected), "{input}: {err}");
            assert!(!err.contains("12345678") && !err.contains(CANARY), "{err}");
        }
    }

    #[test]
    fn blank() {
        assert!(Secret::new("  ").is_blank());
        assert!(!Secret::new("k").is_blank());
    }
}
