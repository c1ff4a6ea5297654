//! Deterministic generation of records: words, times, hashes, and one record per call.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use crate::catalog::{self, Field, Gen, ModelDef, Stamps};

/// 2024-01-01 00:00:00 as Unix seconds: seeded times start here.
pub(crate) const BASE_TIME: i64 = 1_704_067_200;
/// Seeded `updated` values spread over this many seconds after [`BASE_TIME`].
const UPDATED_SPAN: i64 = 300 * 86_400;
/// The first write after seeding gets a time after this (later than any seeded value).
pub(crate) const CLOCK_START: i64 = BASE_TIME + 366 * 86_400;

const ADJECTIVES: &[&str] = &[
    "Quarterly",
    "Annual",
    "Urgent",
    "Blue",
    "Silent",
    "Rapid",
    "Northern",
    "Golden",
    "Open",
    "Hidden",
    "Bright",
    "Final",
    "Lean",
    "Central",
    "Mobile",
    "Green",
];
const NOUNS: &[&str] = &[
    "Review",
    "Launch",
    "Migration",
    "Audit",
    "Campaign",
    "Roadmap",
    "Renewal",
    "Onboarding",
    "Report",
    "Workshop",
    "Upgrade",
    "Budget",
    "Release",
    "Survey",
    "Contract",
    "Sprint",
];
const FIRST_NAMES: &[&str] = &[
    "Anna", "Boris", "Chloe", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Katya", "Liam",
    "Maria", "Nikolai", "Olga", "Pavel", "Rosa", "Sven", "Tara", "Yusuf",
];
const LAST_NAMES: &[&str] = &[
    "Ivanova", "Smith", "Müller", "Garcia", "Tanaka", "Novak", "Dubois", "Rossi", "Kowalski", "Berg",
    "O'Neil", "Petrov", "Silva", "Hansen", "Kim", "Laurent",
];
const COMPANY_WORDS: &[&str] = &[
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark",
    "Wayne",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Hooli",
    "Vandelay",
    "Wonka",
    "Gringotts",
    "Oscorp",
    "Nakatomi",
    "Duff",
];
const COMPANY_SUFFIXES: &[&str] = &["LLC", "Ltd", "GmbH", "Inc", "& Co", "Group"];
const SENTENCES: &[&str] = &[
    "Follow up after the demo.",
    "Waiting for the signed contract.",
    "Customer asked for a discount, see notes.",
    "Call back next week; prefers mornings.",
    "Imported from the old CRM.",
    "Needs approval from finance — \"urgent\".",
    "Multi-line note\nsecond line.",
    "Ticket reopened by the client.",
];
const CF_OPTIONS: &[&str] = &["Option A", "Option B", "Option C"];

/// FNV-1a over bytes.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in *part {
            h ^= u64::from(*byte);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // separator so ("ab","c") and ("a","bc") differ
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// A random generator seeded from a seed and a label.
pub(crate) fn rng_for(seed: u64, label: &str, n: u64) -> ChaCha8Rng {
    let h = fnv1a(&[&seed.to_le_bytes(), label.as_bytes(), &n.to_le_bytes()]);
    ChaCha8Rng::seed_from_u64(h)
}

/// `(year, month, day)` of a day count since 1970-01-01 (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `YYYY-MM-DD HH:mm:ss` of Unix seconds.
pub(crate) fn format_timestamp(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// `YYYY-MM-DD` of Unix seconds.
pub(crate) fn format_date(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

fn digits_at(s: &[u8], range: std::ops::Range<usize>) -> Option<u32> {
    let part = s.get(range)?;
    if part.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(part).ok()?.parse().ok()
    } else {
        None
    }
}

/// True for a plausible `YYYY-MM-DD`.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && digits_at(b, 0..4).is_some()
        && digits_at(b, 5..7).is_some_and(|m| (1..=12).contains(&m))
        && digits_at(b, 8..10).is_some_and(|d| (1..=31).contains(&d))
}

/// True for a plausible `YYYY-MM-DD HH:mm:ss`.
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 19
        && is_date(&s[..10])
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && digits_at(b, 11..13).is_some_and(|h| h < 24)
        && digits_at(b, 14..16).is_some_and(|m| m < 60)
        && digits_at(b, 17..19).is_some_and(|x| x < 60)
}

fn pick<'a>(rng: &mut ChaCha8Rng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// One custom field column: `cf_<id>` (or its alias) and its type; a select field also
/// carries `<name>_value`, the chosen option's label.
#[derive(Debug, Clone)]
pub(crate) struct CustomColumn {
    pub name: String,
    pub kind: &'static str,
}

impl CustomColumn {
    /// The label column of a select field.
    pub(crate) fn value_column(&self) -> Option<String> {
        (self.kind == "select").then(|| format!("{}_value", self.name))
    }
}

/// Where custom field `id` (1-based) lives: its table, module, internal model, field set.
pub(crate) fn custom_field_entity(id: u64) -> (&'static str, &'static str, &'static str, u64) {
    let entities = catalog::CUSTOM_FIELD_ENTITIES;
    entities[(id.saturating_sub(1)) as usize % entities.len()]
}

/// The `(table, type)` of custom field `id` (1-based).
pub(crate) fn custom_field_target(id: u64) -> (&'static str, &'static str) {
    let n = catalog::CUSTOM_FIELD_ENTITIES.len();
    let types = catalog::CUSTOM_FIELD_TYPES;
    let i = (id.saturating_sub(1)) as usize;
    (custom_field_entity(id).0, types[i / n % types.len()])
}

/// Every fourth custom field is named in the API by its alias (`api_use_alias` = 1).
pub(crate) fn custom_field_alias(id: u64) -> (String, bool) {
    let words = ["contract_no", "tier", "region", "segment", "due_on", "channel"];
    (
        format!("{}_{id}", words[id as usize % words.len()]),
        id.is_multiple_of(4),
    )
}

/// The column of custom field `id` in its table's records.
pub(crate) fn custom_column(id: u64) -> CustomColumn {
    let (_, kind) = custom_field_target(id);
    let (alias, use_alias) = custom_field_alias(id);
    CustomColumn {
        name: if use_alias { alias } else { format!("cf_{id}") },
        kind,
    }
}

/// Record counts of every model, used to draw foreign keys.
pub(crate) trait Counts {
    /// How many records `"module/model"` was seeded with.
    fn seeded(&self, key: &str) -> usize;
}

/// What one generated record is built from.
pub(crate) struct RowSeed<'a> {
    pub def: &'static ModelDef,
    pub id: u64,
    pub custom: &'a [CustomColumn],
    /// `(created, updated)` Unix seconds.
    pub times: (i64, i64),
}

fn value_of(gen: Gen, id: u64, rng: &mut ChaCha8Rng, counts: &dyn Counts) -> Value {
    match gen {
        Gen::Title => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)).into(),
        Gen::Company => format!("{} {}", pick(rng, COMPANY_WORDS), pick(rng, COMPANY_SUFFIXES)).into(),
        Gen::Person => format!("{} {}", pick(rng, FIRST_NAMES), pick(rng, LAST_NAMES)).into(),
        Gen::FirstName => pick(rng, FIRST_NAMES).into(),
        Gen::LastName => pick(rng, LAST_NAMES).into(),
        Gen::Email => format!(
            "{}.{}{}@example.com",
            pick(rng, FIRST_NAMES).to_lowercase(),
            pick(rng, COMPANY_WORDS).to_lowercase(),
            id
        )
        .into(),
        Gen::Phone => format!(
            "+1 555 {:03} {:04}",
            rng.random_range(0..1000),
            rng.random_range(0..10_000)
        )
        .into(),
        Gen::Url => format!("https://{}.example.com", pick(rng, COMPANY_WORDS).to_lowercase()).into(),
        Gen::Text => pick(rng, SENTENCES).into(),
        Gen::Amount => {
            let cents: u64 = rng.random_range(0..5_000_000);
            format!("{}.{:02}", cents / 100, cents % 100).into()
        }
        Gen::Money => {
            let cents: i64 = rng.random_range(0..5_000_000);
            serde_json::Number::from_f64(cents as f64 / 100.0).map_or(Value::Null, Value::Number)
        }
        Gen::Int(lo, hi) => rng.random_range(lo..=hi).into(),
        Gen::Bool => u8::from(rng.random_bool(0.5)).into(),
        Gen::Pick(from) => pick(rng, from).into(),
        Gen::Fk(target) => match counts.seeded(target) {
            0 => Value::Null,
            n => rng.random_range(1..=n as u64).into(),
        },
        Gen::FkStr(target) => match counts.seeded(target) {
            0 => "".into(),
            n => rng.random_range(1..=n as u64).to_string().into(),
        },
        Gen::Date => format_date(BASE_TIME + rng.random_range(-200..400) * 86_400).into(),
        Gen::DateTime => format_timestamp(BASE_TIME + rng.random_range(0..400 * 96) * 900).into(),
        Gen::Code(prefix) => format!("{prefix}-{id:05}").into(),
        Gen::OneOf(from) => from[rng.random_range(0..from.len())].into(),
        Gen::BoolStr => (if rng.random_bool(0.2) { "1" } else { "0" }).into(),
        Gen::EntityModule(from) => from[id as usize % from.len()].0.into(),
        Gen::EntityModel(from) => from[id as usize % from.len()].1.into(),
    }
}

/// The empty value of a field: `null` for numbers and ids, `""` for text and dates (Flowlu
/// sends a date that is not set as `""`, or as a zero date: see [`field_value`]).
pub(crate) fn blank_of(gen: Gen) -> Value {
    match gen {
        Gen::Int(..) | Gen::Bool | Gen::Fk(_) | Gen::Money | Gen::OneOf(_) => Value::Null,
        _ => "".into(),
    }
}

/// A zero date, as some portals send a date that is not set.
fn zero_of(gen: Gen) -> Option<Value> {
    match gen {
        Gen::Date => Some("0000-00-00".into()),
        Gen::DateTime => Some("0000-00-00 00:00:00".into()),
        _ => None,
    }
}

fn custom_value(kind: &str, rng: &mut ChaCha8Rng) -> Value {
    if rng.random_range(0..100) < 30 {
        return "".into();
    }
    match kind {
        "number" => rng.random_range(0..10_000).to_string().into(),
        "date" => format_date(BASE_TIME + rng.random_range(0..365) * 86_400).into(),
        "select" => rng.random_range(1..=CF_OPTIONS.len()).to_string().into(),
        "checkbox" => (if rng.random_bool(0.5) { "1" } else { "0" }).into(),
        _ => format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)).into(),
    }
}

/// Writes the timestamp columns of a record.
pub(crate) fn set_times(map: &mut Map<String, Value>, stamps: Stamps, created: i64, updated: i64) {
    match stamps {
        Stamps::Dated => {
            map.insert("created_date".into(), format_timestamp(created).into());
            map.insert("updated_date".into(), format_timestamp(updated).into());
        }
        Stamps::UpdatedOnly => {
            map.insert("updated_date".into(), format_timestamp(updated).into());
        }
        Stamps::Products => {
            map.insert("created".into(), format_timestamp(created).into());
            map.insert("updated".into(), format_timestamp(updated).into());
        }
        Stamps::User => {
            map.insert("last_active".into(), updated.into());
        }
        Stamps::None => {}
    }
}

/// Sets the "bumped on write" column of a record to `now`. A user's `last_active` is a login
/// time: writes leave it alone.
pub(crate) fn bump(map: &mut Map<String, Value>, stamps: Stamps, now: i64) {
    match stamps {
        Stamps::Dated | Stamps::UpdatedOnly => {
            map.insert("updated_date".into(), format_timestamp(now).into());
        }
        Stamps::Products => {
            map.insert("updated".into(), format_timestamp(now).into());
        }
        Stamps::User | Stamps::None => {}
    }
}

/// Seeded `(created, updated)` times: updated values fall into about `count / 4` buckets, so
/// many records share one `updated` value.
pub(crate) fn seeded_times(rng: &mut ChaCha8Rng, count: usize) -> (i64, i64) {
    let buckets = count.div_ceil(4).max(1) as i64;
    let bucket = rng.random_range(0..buckets);
    let updated = BASE_TIME + 86_400 + (bucket * UPDATED_SPAN / buckets) / 60 * 60;
    let created = updated - rng.random_range(0..60 * 86_400);
    (created, updated)
}

/// A complete generated record.
pub(crate) fn generate(seed: &RowSeed<'_>, rng: &mut ChaCha8Rng, counts: &dyn Counts) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert("id".into(), seed.id.into());
    if seed.def.module == "customfields" && seed.def.model == "fields" {
        custom_field_row(&mut map, seed.id, rng);
    } else {
        for field in seed.def.fields {
            map.insert(field.name.into(), field_value(field, seed.id, rng, counts));
        }
    }
    set_times(&mut map, seed.def.stamps, seed.times.0, seed.times.1);
    for col in seed.custom {
        let value = custom_value(col.kind, rng);
        if let Some(label) = col.value_column() {
            let text = match value.as_str().and_then(|v| v.parse::<usize>().ok()) {
                Some(n) => CF_OPTIONS.get(n - 1).copied().unwrap_or(""),
                None => "",
            };
            map.insert(label, text.into());
        }
        map.insert(col.name.clone(), value);
    }
    map
}

/// The label of option `text` (1-based) of a select custom field, `""` when none.
pub(crate) fn option_label(text: &str) -> &'static str {
    text.parse::<usize>()
        .ok()
        .and_then(|n| CF_OPTIONS.get(n.checked_sub(1)?))
        .copied()
        .unwrap_or("")
}

/// A generated value of one column.
pub(crate) fn field_value(field: &Field, id: u64, rng: &mut ChaCha8Rng, counts: &dyn Counts) -> Value {
    if field.blank > 0 && rng.random_range(0..100u8) < field.blank {
        return match zero_of(field.gen) {
            Some(zero) if rng.random_bool(0.3) => zero,
            _ => blank_of(field.gen),
        };
    }
    value_of(field.gen, id, rng, counts)
}

fn custom_field_row(map: &mut Map<String, Value>, id: u64, rng: &mut ChaCha8Rng) {
    let (_, module, model, fieldset) = custom_field_entity(id);
    let (_, kind) = custom_field_target(id);
    let (alias, use_alias) = custom_field_alias(id);
    map.insert(
        "name".into(),
        format!("{} {}", pick(rng, ADJECTIVES), pick(rng, NOUNS)).into(),
    );
    map.insert("type".into(), kind.into());
    map.insert("module".into(), module.into());
    map.insert("model".into(), model.into());
    map.insert("alias".into(), alias.into());
    map.insert("api_use_alias".into(), u8::from(use_alias).into());
    map.insert("fieldset_id".into(), fieldset.into());
    map.insert("required".into(), u8::from(rng.random_bool(0.2)).into());
    map.insert("ordering".into(), rng.random_range(1..100).into());
    map.insert("hidden_detail".into(), u8::from(rng.random_bool(0.1)).into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_times() {
        assert_eq!(format_timestamp(BASE_TIME), "2024-01-01 00:00:00");
        assert_eq!(
            format_timestamp(BASE_TIME + 59 * 86_400 + 3661),
            "2024-02-29 01:01:01"
        );
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(-86_400), "1969-12-31");
    }

    #[test]
    fn checks_date_shapes() {
        assert!(is_date("2024-02-29"));
        assert!(!is_date("2024-13-01"));
        assert!(!is_date("2024/01/01"));
        assert!(is_timestamp("2024-01-01 23:59:59"));
        assert!(!is_timestamp("2024-01-01T23:59:59"));
        assert!(!is_timestamp("2024-01-01 24:00:00"));
    }

    #[test]
    fn custom_fields_round_robin_over_models() {
        assert_eq!(custom_field_target(1), ("crm/account", "text"));
        assert_eq!(custom_field_target(2), ("crm/lead", "text"));
        assert_eq!(custom_field_target(7), ("crm/account", "number"));
        assert_eq!(custom_field_target(12), ("agile/issues", "number"));
        assert_eq!(custom_field_entity(4), ("st/projects", "st", "project", 1));
        assert_eq!(custom_column(3).name, "cf_3");
        assert_eq!(custom_column(4).name, "due_on_4");
        assert_eq!(custom_column(19).value_column().as_deref(), Some("cf_19_value"));
        assert_eq!(option_label("2"), "Option B");
        assert_eq!(option_label("x"), "");
    }
}
