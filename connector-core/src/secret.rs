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
/// `%20`, `/` kept or encoded, and encoded twice); percent-decoded with `+` kept for a space
/// (PHP's `rawurldecode` of a form-encoded query); JSON-escaped (`\"`, `\\`, `\/`,
/// `\u0026`), with non-ASCII characters as `\uXXXX` escapes and surrogate pairs (Python's
/// `json.dumps`, PHP's `json_encode`); HTML-escaped; and these combined (a JSON-escaped URL).
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_string();
    }
    let mut forms = secret_forms(secret);
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    let mut out = None::<String>;
    for form in forms {
        let current = out.as_deref().unwrap_or(text);
        if current.contains(form.as_str()) {
            out = Some(current.replace(form.as_str(), "[REDACTED]"));
        }
    }
    out.unwrap_or_else(|| text.to_string())
}

/// The fewest leading characters of a key [`redact_echo`] removes where a server cut its text
/// short. Five characters or fewer reveal less of a key than services show themselves as a
/// key's public handle (often four), while any six characters of a server's error text equal
/// the start of a random alphanumeric key with odds of about one in two billion a position:
/// from six on, a cut key is removed without eating ordinary words.
pub const ECHO_PREFIX_CHARS: usize = 6;

/// [`redact`], then every start of the secret of at least [`ECHO_PREFIX_CHARS`] characters, in
/// every encoding `redact` knows: for text a server sent back, which may have cut the key short
/// (`... api_key=abc123de` at the end of a cut message). Apply it to text taken from an
/// answer, not to data (a record may hold six characters that happen to begin the key).
pub fn redact_echo(text: &str, secret: &str) -> String {
    let text = redact(text, secret);
    let Some((cut, _)) = secret.char_indices().nth(ECHO_PREFIX_CHARS) else {
        return text;
    };
    let heads = secret_forms(&secret[..cut]);
    // Every run that begins as a form of the key's start and goes on as that form of the key;
    // overlapping runs (one form's run inside another's) are removed as one.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (full, head) in secret_forms(secret).iter().zip(&heads) {
        if head.is_empty() || !full.starts_with(head.as_str()) {
            continue;
        }
        for (at, _) in text.match_indices(head.as_str()) {
            let matched: usize = text[at..]
                .chars()
                .zip(full.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a.len_utf8())
                .sum();
            runs.push((at, at + matched.max(head.len())));
        }
    }
    if runs.is_empty() {
        return text;
    }
    runs.sort_unstable();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    for (start, end) in runs {
        if start >= done {
            out.push_str(&text[done..start]);
            out.push_str("[REDACTED]");
            done = end;
        } else if end > done {
            done = end;
        }
    }
    out.push_str(&text[done..]);
    out
}

/// The secret in every form [`redact`] removes, in a fixed order (the same order for any two
/// secrets, so the forms of a key's start line up with the forms of the key).
fn secret_forms(secret: &str) -> Vec<String> {
    let encodings: [fn(&str) -> String; 16] = [
        |s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect(),
        |s| percent(s, Space::Plus, false, b""),
        |s| percent(s, Space::Percent, true, b""),
        |s| percent(s, Space::Percent, false, b""),
        |s| percent(s, Space::Percent, true, b"/:@!$'()*,;"),
        |s| s.replace(' ', "+"),
        |s| json_escaped(s, false),
        |s| json_escaped(s, true),
        |s| json_ascii(s, false, false),
        |s| json_ascii(s, true, false),
        |s| json_ascii(s, false, true),
        |s| unicode_escaped(s, true, false),
        |s| unicode_escaped(s, false, false),
        |s| unicode_escaped(s, true, true),
        |s| unicode_escaped(s, false, true),
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

/// `s` with every ASCII character but letters and digits as a JSON `\u00XX` escape; with
/// `all`, every non-ASCII character too (UTF-16 units: a surrogate pair beyond U+FFFF).
fn unicode_escaped(s: &str, upper: bool, all: bool) -> String {
    let mut out = String::with_capacity(s.len() * 6);
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || (!c.is_ascii() && !all) {
            out.push(c);
        } else {
            push_units(&mut out, c, upper);
        }
    }
    out
}

/// The inside of a JSON string holding `s`, ASCII only: `"` and `\` escaped (and `/`, with
/// `slash`), control and non-ASCII characters as `\uXXXX` (a surrogate pair beyond U+FFFF), as
/// Python's `json.dumps` and PHP's `json_encode` write by default.
fn json_ascii(s: &str, slash: bool, upper: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => push_units(&mut out, c, upper),
        }
    }
    out
}

/// `c` as JSON `\uXXXX` escapes of its UTF-16 units.
fn push_units(out: &mut String, c: char, upper: bool) {
    let mut units = [0u16; 2];
    for unit in c.encode_utf16(&mut units) {
        if upper {
            out.push_str(&format!("\\u{unit:04X}"));
        } else {
            out.push_str(&format!("\\u{unit:04x}"));
        }
    }
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

    /// The canary of the echo forms: a space, `+`, `/`, `=`, `&`, `%`, both quotes, a
    /// non-ASCII letter and an emoji (a surrogate pair in JSON).
    const ECHO_CANARY: &str = "q7Vx9 +/=&%\"'é😀-r3s3rv3d";

    #[test]
    fn every_echo_form_of_the_key_is_removed() {
        let forms = [
            (ECHO_CANARY, "raw"),
            (
                "q7Vx9+%2B%2F%3D%26%25%22%27%C3%A9%F0%9F%98%80-r3s3rv3d",
                "form-encoded (the query sent)",
            ),
            (
                "q7Vx9%20%2B%2F%3D%26%25%22%27%C3%A9%F0%9F%98%80-r3s3rv3d",
                "percent-encoded",
            ),
            (
                "q7Vx9++/=&%\"'é😀-r3s3rv3d",
                "PHP rawurldecode of the query: `+` kept for the space",
            ),
            (
                r#"q7Vx9 +/=&%\"'\u00e9\ud83d\ude00-r3s3rv3d"#,
                "Python json.dumps",
            ),
            (r#"q7Vx9 +\/=&%\"'\u00e9\ud83d\ude00-r3s3rv3d"#, "PHP json_encode"),
            (
                r#"q7Vx9 +/=&%\"'\u00E9\uD83D\uDE00-r3s3rv3d"#,
                "\\u escapes in upper case",
            ),
            (
                r#"q7Vx9++\/=&%\"'\u00e9\ud83d\ude00-r3s3rv3d"#,
                "rawurldecode, then json_encode",
            ),
            (
                r"q7Vx9\u0020\u002b\u002f\u003d\u0026\u0025\u0022\u0027\u00e9\ud83d\ude00\u002dr3s3rv3d",
                "every character escaped",
            ),
        ];
        for (form, what) in forms {
            let text = format!("GET /x?api_key={form}&page=1 failed");
            assert_eq!(
                redact(&text, ECHO_CANARY),
                "GET /x?api_key=[REDACTED]&page=1 failed",
                "{what}: {form}"
            );
            assert_eq!(
                redact_echo(&text, ECHO_CANARY),
                "GET /x?api_key=[REDACTED]&page=1 failed",
                "{what}: {form}"
            );
        }
    }

    #[test]
    fn a_key_a_server_cut_short_is_removed_from_six_characters() {
        let cases = [
            ("error in api_key=q7Vx9 +/=", "error in api_key=[REDACTED]"),
            ("error in api_key=q7Vx9 ", "error in api_key=[REDACTED]"),
            ("error in api_key=q7Vx9+%2B%2", "error in api_key=[REDACTED]"),
            (r#"{"q":"q7Vx9 +/=&%\"'\u00e9\ud83d"#, r#"{"q":"[REDACTED]"#),
            ("q7Vx9++/=&%\"'é...", "[REDACTED]..."),
            // Five characters are left: too short to matter, and ordinary text may hold them.
            ("error in api_key=q7Vx9", "error in api_key=q7Vx9"),
            ("q7Vx9, q7Vx9 +", "q7Vx9, [REDACTED]"),
        ];
        for (text, expected) in cases {
            assert_eq!(redact_echo(text, ECHO_CANARY), expected, "{text}");
        }
        // `redact` itself removes whole keys only (it scrubs data-bearing lines too).
        assert_eq!(redact("api_key=q7Vx9 +/=", ECHO_CANARY), "api_key=q7Vx9 +/=");
        // A key of six characters or fewer is removed whole only.
        assert_eq!(redact_echo("abcdef abcde", "abcdef"), "[REDACTED] abcde");
    }

    #[test]
    fn blank() {
        assert!(Secret::new("  ").is_blank());
        assert!(!Secret::new("k").is_blank());
    }
}
