//! The crate's shape, checked from its sources: every query lives in `store/`, and the
//! layers import downwards only (`http` → `recovery` → `store`), with no cycle between
//! top-level modules. A newcomer finds a concern from the folder names only while this
//! holds, so it is a test rather than a convention.
//!
//! What is scanned: each file under `src/` up to its first `#[cfg(test)]` (the crate's
//! test modules come last in their files), comment lines left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Each source's path under `src/` and its text without its tests (everything from the
/// first `#[cfg(test)]` on, as the crate writes its test modules last) and without
/// comment lines.
fn crate_sources() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    assert!(files.len() > 20, "found only {} sources", files.len());
    files
        .into_iter()
        .filter(|p| !p.ends_with("layers.rs"))
        .map(|p| {
            let rel = p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&p).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let code = code
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            (rel, code)
        })
        .collect()
}

/// The top-level module a source belongs to (`store/devices.rs` → `store`); `lib.rs` is
/// the crate root, which wires everything together and is no layer.
fn top_module(rel: &str) -> &str {
    rel.split('/').next().unwrap_or(rel).trim_end_matches(".rs")
}

/// The top-level modules `code` names through `crate::`: `crate::a::b`, and the groups of
/// `use crate::{a, b::c}`.
fn imports(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        // `reclaim_server::` or `my_crate::` is not this crate.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // The group's items, split at its own commas, up to its matching brace.
            let mut depth = 1;
            let mut item = String::new();
            let mut items = Vec::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        items.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    break;
                }
                item.push(c);
            }
            items.push(item);
            for item in items {
                let name: String = item
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Which top-level modules each one imports (its own name left out), from the crate's
/// sources. Names that are items of the crate root (`App`, `start`) are left out too.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let files = crate_sources();
    let modules: BTreeSet<String> = files
        .iter()
        .map(|(rel, _)| top_module(rel).to_string())
        .filter(|m| m != "lib")
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, code) in &files {
        let from = top_module(rel);
        if from == "lib" {
            continue;
        }
        let entry = graph.entry(from.to_string()).or_default();
        for to in imports(code) {
            if to != from && modules.contains(&to) {
                entry.insert(to);
            }
        }
    }
    graph
}

/// Everything `from` reaches through imports.
fn reach(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for next in graph.get(&m).into_iter().flatten() {
            if seen.insert(next.clone()) {
                todo.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn every_query_lives_in_the_store() {
    // sqlx's query builders, the ways to run SQL without them, and the pools themselves
    // (a transaction is begun with `Store::begin`), and the store's own `bound!`.
    const QUERIES: [&str; 12] = [
        "sqlx::query",
        "bound!",
        "query_as",
        "query_scalar",
        "sqlx::Row",
        "sqlx::Executor",
        ".fetch_one(",
        ".fetch_all(",
        ".fetch_optional(",
        "rows_affected",
        ".writer",
        ".pool",
    ];
    let mut found = Vec::new();
    let mut in_store = 0;
    for (rel, code) in crate_sources() {
        let hits: Vec<&str> = QUERIES.into_iter().filter(|q| code.contains(q)).collect();
        if rel.starts_with("store/") {
            in_store += usize::from(!hits.is_empty());
        } else if !hits.is_empty() {
            found.push(format!("src/{rel}: {hits:?}"));
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside src/store/ (move it into the store module of its table): {found:#?}"
    );
    // The scan must see the queries where they are, or it proves nothing.
    assert!(
        in_store >= 8,
        "queries found in only {in_store} store modules"
    );
}

#[test]
fn the_layers_import_downwards_without_cycles() {
    let graph = module_graph();
    for layer in ["store", "recovery", "http"] {
        assert!(graph.contains_key(layer), "no `{layer}` module: {graph:#?}");
    }
    let store = reach(&graph, "store");
    for above in ["http", "recovery"] {
        assert!(
            !store.contains(above),
            "store reaches `{above}` (through {:?}): the store must not depend on the layers above it",
            graph["store"]
        );
    }
    assert!(
        !reach(&graph, "recovery").contains("http"),
        "the recovery layer reaches `http` (through {:?}): it must not depend on HTTP",
        graph["recovery"]
    );
    let cycles: Vec<String> = graph
        .keys()
        .filter(|m| reach(&graph, m).contains(*m))
        .map(|m| format!("{m} -> {:?}", graph[m]))
        .collect();
    assert!(
        cycles.is_empty(),
        "top-level modules that import themselves through others: {cycles:#?}"
    );
}

#[test]
fn imports_are_read_from_paths_and_groups() {
    let code = "use crate::a::X;\nuse crate::{b, c::{D, E}, self};\nfn f() { crate::f::g(); reclaim_server::h::i(); }";
    let found: Vec<String> = imports(code).into_iter().collect();
    assert_eq!(found, ["a", "b", "c", "f", "self"]);
}
