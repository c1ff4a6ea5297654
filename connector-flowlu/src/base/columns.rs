//! Column names a warehouse can hold: custom fields named from their Flowlu names.
//!
//! A custom field's column is its Flowlu name in snake_case (`Open Budget` -> `open_budget`;
//! Cyrillic transliterated, `Бюджет` -> `byudzhet`; other letters outside ASCII dropped),
//! starting with a letter, at most [`MAX_NAME_BYTES`] bytes (PostgreSQL's limit; BigQuery
//! allows 300 characters, Snowflake 255), and unique case-insensitively within its stream,
//! never equal to a standard field. A name already taken, or a field without a usable name,
//! gets its id appended (`open_budget_7`, `field_7`). Names are given in field id order, so
//! the same fields always get the same names.
//!
//! The mapping from a column to the key Flowlu sends (`cf_<id>`, or the field's alias where
//! the portal names it so) is declared in the stream schema, `x-flowlu-field` on the column:
//! read and write follow the configured catalog's mapping, so a field renamed in Flowlu keeps
//! the column the host accepted until a new discover proposes the new name.

use std::collections::BTreeSet;

use heck::ToSnakeCase;
use serde_json::{json, Value};

/// The longest column name, in bytes (PostgreSQL's `NAMEDATALEN` - 1).
pub(crate) const MAX_NAME_BYTES: usize = 63;

/// The schema keyword naming a custom field column's Flowlu field.
pub(crate) const FIELD_KEYWORD: &str = "x-flowlu-field";

/// How custom field columns are named (the `custom_field_columns` setting).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Naming {
    /// From the field's Flowlu name (the default).
    #[default]
    ByName,
    /// The key Flowlu sends (`cf_<id>`, `cf_<id>_value`, or the alias), as earlier versions.
    ByKey,
}

/// What a custom field column holds (the role of its key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The field's value (`cf_<id>`): written back.
    Value,
    /// A select field's chosen option label (`cf_<id>_value`): read only.
    Label,
}

/// One column's mapping, as `x-flowlu-field` declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    /// The key in Flowlu's records (`cf_7`, `cf_7_value`, `tier_9`).
    pub key: String,
    /// Flowlu's field type (`number`, `date`, `select`, ...).
    pub kind: String,
    /// Value or label.
    pub part: Part,
}

impl Mapping {
    /// The `x-flowlu-field` object of a column.
    pub(crate) fn to_json(&self, id: &str, name: &str) -> Value {
        json!({
            "id": id,
            "key": self.key,
            "name": name,
            "type": self.kind,
            "part": match self.part { Part::Value => "value", Part::Label => "label" },
        })
    }

    /// The mapping a schema property declares, if any.
    pub(crate) fn of_property(property: &Value) -> Option<Self> {
        let field = property.get(FIELD_KEYWORD)?;
        let key = field.get("key")?.as_str()?.to_string();
        crate::base::encode::check_name(&key).ok()?;
        Some(Self {
            key,
            kind: field
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            part: match field.get("part").and_then(Value::as_str) {
                Some("label") => Part::Label,
                _ => Part::Value,
            },
        })
    }
}

/// Russian and Ukrainian letters in Latin (a lowercase letter each; uppercase is lowered first).
const CYRILLIC: &[(char, &str)] = &[
    ('а', "a"),
    ('б', "b"),
    ('в', "v"),
    ('г', "g"),
    ('д', "d"),
    ('е', "e"),
    ('ё', "e"),
    ('ж', "zh"),
    ('з', "z"),
    ('и', "i"),
    ('й', "y"),
    ('к', "k"),
    ('л', "l"),
    ('м', "m"),
    ('н', "n"),
    ('о', "o"),
    ('п', "p"),
    ('р', "r"),
    ('с', "s"),
    ('т', "t"),
    ('у', "u"),
    ('ф', "f"),
    ('х', "kh"),
    ('ц', "ts"),
    ('ч', "ch"),
    ('ш', "sh"),
    ('щ', "shch"),
    ('ъ', ""),
    ('ы', "y"),
    ('ь', ""),
    ('э', "e"),
    ('ю', "yu"),
    ('я', "ya"),
    ('і', "i"),
    ('ї', "yi"),
    ('є', "ye"),
    ('ґ', "g"),
];

/// A Flowlu field name in snake_case ASCII (`[a-z0-9_]`, starting with a letter), cut to fit
/// `room` bytes; `None` when nothing usable is left.
pub(crate) fn snake_name(title: &str, room: usize) -> Option<String> {
    let mut latin = String::with_capacity(title.len());
    for c in title.chars() {
        if c.is_ascii() {
            latin.push(c);
        } else {
            let lower = c.to_lowercase().next().unwrap_or(c);
            match CYRILLIC.iter().find(|(k, _)| *k == lower) {
                // Keep a word break where the case said so (`БюджетПроекта`).
                Some((_, l)) if c.is_uppercase() && !l.is_empty() => {
                    latin.push(' ');
                    latin.push_str(l);
                }
                Some((_, l)) => latin.push_str(l),
                None => latin.push(' '),
            }
        }
    }
    let snake = latin.to_snake_case();
    let mut out = String::with_capacity(snake.len());
    for c in snake.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    let out = out.trim_matches('_');
    if out.is_empty() {
        return None;
    }
    // A column starts with a letter: `2nd phone` -> `field_2nd_phone`.
    let mut name = if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("field_{out}")
    } else {
        out.to_string()
    };
    name.truncate(room);
    let name = name.trim_end_matches('_').to_string();
    (!name.is_empty()).then_some(name)
}

/// Hands out column names within one stream: unique case-insensitively, never a standard
/// field's name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Names {
    taken: BTreeSet<String>,
}

impl Names {
    /// Names that are already the stream's (its standard fields).
    pub(crate) fn reserving<'a>(standard: impl IntoIterator<Item = &'a str>) -> Self {
        Self {
            taken: standard.into_iter().map(str::to_ascii_lowercase).collect(),
        }
    }

    /// Whether `name` is free.
    pub(crate) fn is_free(&self, name: &str) -> bool {
        !self.taken.contains(&name.to_ascii_lowercase())
    }

    /// Takes `name` (whether or not it was free).
    pub(crate) fn take(&mut self, name: &str) {
        self.taken.insert(name.to_ascii_lowercase());
    }

    /// The base name of field `id` titled `title` whose columns end in the `suffixes` (`""`
    /// for the value, `"_label"` for a select's label): the snake_case title when every
    /// column is free, else the title with `_<id>`, else `field_<id>`. Takes the columns.
    pub(crate) fn name_field(&mut self, id: &str, title: &str, suffixes: &[&str]) -> String {
        let longest = suffixes.iter().map(|s| s.len()).max().unwrap_or(0);
        let tag = format!("_{id}");
        let room = MAX_NAME_BYTES.saturating_sub(longest);
        let candidates = [
            snake_name(title, room),
            snake_name(title, room.saturating_sub(tag.len())).map(|n| format!("{n}{tag}")),
            Some(format!("field{tag}")),
            Some(format!("cf{tag}")),
        ];
        let fits = |names: &Self, base: &str| suffixes.iter().all(|s| names.is_free(&format!("{base}{s}")));
        let base = candidates
            .into_iter()
            .flatten()
            .find(|base| fits(self, base))
            .unwrap_or_else(|| format!("field{tag}_{}", self.taken.len()));
        for s in suffixes {
            self.take(&format!("{base}{s}"));
        }
        base
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_snake_case_ascii_within_the_limit() {
        let cases = [
            ("Open Budget", Some("open_budget")),
            ("openBudget", Some("open_budget")),
            ("  VAT number (EU) ", Some("vat_number_eu")),
            ("Бюджет проекта", Some("byudzhet_proekta")),
            ("2nd phone", Some("field_2nd_phone")),
            ("日本", None),
            ("", None),
            ("%%%", None),
        ];
        for (title, expected) in cases {
            assert_eq!(snake_name(title, MAX_NAME_BYTES).as_deref(), expected, "{title}");
        }
        let long = "word ".repeat(40);
        let name = snake_name(&long, MAX_NAME_BYTES).unwrap_or_default();
        assert!(name.len() <= MAX_NAME_BYTES && !name.ends_with('_'), "{name}");
    }

    #[test]
    fn names_never_collide_with_standard_fields_or_each_other() {
        let mut names = Names::reserving(["id", "name", "budget"]);
        assert_eq!(names.name_field("7", "Budget", &[""]), "budget_7");
        assert_eq!(names.name_field("8", "Region", &["", "_label"]), "region");
        assert_eq!(names.name_field("9", "REGION", &[""]), "region_9");
        assert_eq!(names.name_field("10", "region label", &[""]), "region_label_10");
        assert_eq!(names.name_field("11", "", &[""]), "field_11");
        assert_eq!(names.name_field("12", "Name", &[""]), "name_12");
    }
}
