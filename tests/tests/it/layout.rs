//! The layout of `connector-flowlu/src`: module dependencies form a DAG (no import circles),
//! read from the source text (`crate::a::b`, `super::x`, and a folder's `mod.rs` using its
//! children), test modules and comments left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "bin") {
                sources(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "main.rs")
        {
            out.push(path);
        }
    }
}

/// `client/page.rs` -> `client/page`, `client/mod.rs` -> `client`, `lib.rs` -> ``.
fn module_of(src: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(src).unwrap().with_extension("");
    let rel = rel.to_string_lossy().replace('\\', "/");
    match rel.as_str() {
        "lib" => String::new(),
        other => other.strip_suffix("/mod").unwrap_or(other).to_string(),
    }
}

/// The paths after each `marker` (`crate::`, `super::`) as their segments.
fn paths_after<'a>(text: &'a str, marker: &str) -> Vec<Vec<&'a str>> {
    text.match_indices(marker)
        .map(|(at, _)| {
            let rest = &text[at + marker.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            rest[..end].split("::").filter(|s| !s.is_empty()).collect()
        })
        .collect()
}

/// The longest prefix of `parts` that names a module.
fn resolve(modules: &BTreeSet<String>, parts: &[&str]) -> Option<String> {
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("/"))
        .find(|m| modules.contains(m))
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../connector-flowlu/src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    let mut edges = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let text = std::fs::read_to_string(file).unwrap();
        let text = text.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| format!("{l}\n"))
            .collect();
        let base: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            module.split('/').collect()
        };
        let mut to = BTreeSet::new();
        for parts in paths_after(&code, "crate::") {
            to.extend(resolve(&modules, &parts));
        }
        for parts in paths_after(&code, "super::") {
            let parent = &base[..base.len().saturating_sub(1)];
            let full: Vec<&str> = parent.iter().copied().chain(parts).collect();
            to.insert(resolve(&modules, &full).unwrap_or_else(|| parent.join("/")));
        }
        if file.ends_with("mod.rs") {
            for line in code.lines() {
                let line = line
                    .trim_start()
                    .trim_start_matches("pub(crate) ")
                    .trim_start_matches("pub ");
                if let Some(first) = line.strip_prefix("use ").and_then(|r| r.split("::").next()) {
                    let full: Vec<&str> = base.iter().copied().chain([first]).collect();
                    to.extend(resolve(&modules, &full));
                }
            }
        }
        to.remove(&module);
        edges.insert(module, to);
    }
    edges
}

#[test]
fn module_dependencies_form_a_dag() {
    let edges = graph();
    assert!(
        edges.contains_key("client/page") && edges.contains_key("sink/writer"),
        "{edges:?}"
    );
    assert!(
        edges["client/page"].contains("client/decode"),
        "the scan sees `use crate::client::decode`"
    );
    // Depth-first search; a module met again while still on the stack closes a circle.
    fn visit<'a>(
        m: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<&'a str, bool>,
        stack: &mut Vec<&'a str>,
    ) {
        state.insert(m, true);
        stack.push(m);
        for next in &edges[m] {
            match state.get(next.as_str()) {
                Some(true) => panic!("import circle: {} -> {next}", stack.join(" -> ")),
                Some(false) => {}
                None => visit(next, edges, state, stack),
            }
        }
        stack.pop();
        state.insert(m, false);
    }
    let mut state = BTreeMap::new();
    for m in edges.keys() {
        if !state.contains_key(m.as_str()) {
            visit(m, &edges, &mut state, &mut Vec::new());
        }
    }
}
