//! One pass over a record's JSON text: its top-level `id` and cursor members and its nesting,
//! without building the record ([`scan_record`]). What `page` reads each record of a raw list
//! page with; its test oracles (a bracket counter, the parsed record's key) are in its tests.

use serde_json::Value;

use crate::base::cursor::{Key, Order};

/// A record nests deeper than the bound [`scan_record`] was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep;

/// The JSON text of a record's top-level `id` and cursor members, as [`scan_record`] found
/// them (the last of each, as a parser keeps).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Members<'a> {
    /// The `id` member's value.
    pub id: Option<&'a str>,
    /// The cursor column's value.
    pub cursor: Option<&'a str>,
}

impl Members<'_> {
    /// The record's key in `order` (`None` without a readable id), as
    /// [`Order::key`] reads it from the parsed record.
    pub(crate) fn key(&self, order: &Order) -> Option<Key> {
        let value = |text: &str| serde_json::from_str::<Value>(text).ok();
        let id = value(self.id?);
        let cursor = self.cursor.and_then(value);
        order.key_from(id.as_ref(), cursor.as_ref())
    }
}

/// One pass over a record's JSON text (a value already checked to be JSON, such as a
/// [`RawValue`]): the text of its top-level `id` member and of its `cursor` member (the last
/// of each, as a parser keeps; without building the record, and without allocating unless a
/// member's name is escaped), and its nesting, `Err` once deeper than `max` levels (its own
/// object is the first). A record that is not an object has no members.
///
/// Most records need only their first members read: when the record has at most `max`
/// brackets (so it cannot nest deeper) and the rest after the wanted members holds neither
/// `"id"`, nor the cursor's name, nor a `\u` escape (so no later member can name them), the
/// rest is only searched (with `memchr`), not walked. Otherwise the whole record is walked:
/// the bytes outside strings one by one (brackets, commas, numbers and literals: a few per
/// member), strings skipped to their closing quote with `memchr`.
pub(crate) fn scan_record<'a>(
    text: &'a str,
    cursor: Option<&str>,
    max: usize,
) -> Result<Members<'a>, TooDeep> {
    let bytes = text.as_bytes();
    let shallow = memchr::memchr2_iter(b'{', b'[', bytes)
        .take(max.saturating_add(1))
        .count()
        <= max;
    if shallow {
        let (members, stopped) = walk(text, cursor, max, true)?;
        let Some(at) = stopped else {
            return Ok(members);
        };
        let rest = &bytes[at..];
        let named_again = memchr::memmem::find(rest, br#""id""#).is_some()
            || memchr::memmem::find(rest, br"\u").is_some()
            || cursor.is_some_and(|c| memchr::memmem::find(rest, c.as_bytes()).is_some());
        if !named_again {
            return Ok(members);
        }
    }
    walk(text, cursor, max, false).map(|(members, _)| members)
}

/// The walk of [`scan_record`]; with `stop`, it ends once every wanted member was read,
/// with the offset it stopped at.
fn walk<'a>(
    text: &'a str,
    cursor: Option<&str>,
    max: usize,
    stop: bool,
) -> Result<(Members<'a>, Option<usize>), TooDeep> {
    let bytes = text.as_bytes();
    let mut members = Members::default();
    let mut depth = 0usize;
    // Whether the record is an object, and whether the next string at its level is a name.
    let (mut object, mut name_next) = (false, false);
    // A wanted member whose value starts at this offset (it ends at the next `,` or `}` of
    // the record's level).
    let mut pending: Option<(Slot, usize)> = None;
    let settle = |members: &mut Members<'a>, pending: &mut Option<(Slot, usize)>, end: usize| {
        if let Some((slot, start)) = pending.take() {
            let value = text.get(start..end).map(str::trim_end);
            match slot {
                Slot::Id => members.id = value,
                Slot::Cursor => members.cursor = value,
            }
            return stop && members.id.is_some() && (cursor.is_none() || members.cursor.is_some());
        }
        false
    };
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => {
                // The closing quote: the next quote not escaped.
                let Some((end, escaped)) = string_end(bytes, i + 1) else {
                    // Not JSON (a string without its end): nothing more to find.
                    settle(&mut members, &mut pending, bytes.len());
                    return Ok((members, None));
                };
                if depth == 1 && name_next {
                    name_next = false;
                    let slot = member_slot(&text[i..=end], escaped, cursor);
                    if let Some(slot) = slot {
                        // The value starts after the `:` and any whitespace.
                        let mut start = end + 1;
                        while bytes
                            .get(start)
                            .is_some_and(|b| *b == b':' || b.is_ascii_whitespace())
                        {
                            start += 1;
                        }
                        pending = Some((slot, start));
                        i = start;
                        continue;
                    }
                }
                i = end + 1;
            }
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return Err(TooDeep);
                }
                if depth == 1 {
                    object = byte == b'{';
                    name_next = object;
                }
                i += 1;
            }
            b'}' | b']' => {
                if depth == 1 && settle(&mut members, &mut pending, i) {
                    return Ok((members, Some(i)));
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b',' => {
                if depth == 1 {
                    if settle(&mut members, &mut pending, i) {
                        return Ok((members, Some(i)));
                    }
                    name_next = object;
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    settle(&mut members, &mut pending, bytes.len());
    Ok((members, None))
}

/// Where the string whose text starts at `from` ends (its closing quote), and whether it holds
/// an escape; `None` when it does not end.
fn string_end(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    let mut escaped = false;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'"' {
            return Some((at, escaped));
        }
        escaped = true;
        at += 2;
    }
}

/// A member [`scan_record`] looks for.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Id,
    Cursor,
}

/// Which wanted member a member name (its JSON text, quotes included) names: `id`, the
/// cursor column, or neither. An escaped name (`"i\u0064"`) is unescaped first.
fn member_slot(quoted: &str, escaped: bool, cursor: Option<&str>) -> Option<Slot> {
    let unescaped: String;
    let name = if escaped {
        unescaped = serde_json::from_str(quoted).ok()?;
        unescaped.as_str()
    } else {
        quoted.get(1..quoted.len().saturating_sub(1))?
    };
    if name == "id" {
        Some(Slot::Id)
    } else if Some(name) == cursor {
        Some(Slot::Cursor)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
