//! The module map in ARCHITECTURE.md is a rule, not a picture: each
//! top-level module of `src/` has a layer there, and a module may use only
//! modules of its own layer or below, never above, with no cycle at all.
//! This test reads the map and every source file's `crate::` paths (test
//! modules excepted) and fails on an import that breaks the rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Layer of each module, from the "Module map" table of ARCHITECTURE.md:
/// rows `| N | `a`, `b` | job |`.
fn layers() -> BTreeMap<String, u32> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("## Module map")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Module map\" section");
    let section = section.split("\n## ").next().unwrap();
    let mut out = BTreeMap::new();
    for line in section.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let Some(layer) = cells.get(1).and_then(|c| c.parse::<u32>().ok()) else {
            continue;
        };
        for module in cells[2].split(',') {
            let module = module.trim().trim_matches('`').trim_end_matches('/');
            assert!(!module.is_empty(), "empty module name in: {line}");
            assert!(
                out.insert(module.to_owned(), layer).is_none(),
                "{module} is listed twice"
            );
        }
    }
    assert!(!out.is_empty(), "the module map lists no module");
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`main` for the binary,
/// `bin` for the worker binary).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_owned()
}

/// The modules a file's non-test code names as `crate::x` or `parabench::x`
/// (the binary), including inside `use crate::{x, y}` groups.
fn uses(text: &str, root: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap();
    let mut out = BTreeSet::new();
    let prefix = format!("{root}::");
    for (at, _) in code.match_indices(&prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split on commas outside nested braces.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(first_ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.extend(first_ident(&item));
        } else {
            out.extend(first_ident(rest));
        }
    }
    out
}

/// The identifier a path starts with (`plan::{A}` -> `plan`), unless `self`.
fn first_ident(text: &str) -> Option<String> {
    let name: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty() && name != "self").then_some(name)
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&src, &file);
        let text = std::fs::read_to_string(&file).unwrap();
        // The binaries (`main`, and `bin/` for the worker) use the library by name.
        let root = if module == "main" || module == "bin" {
            "parabench"
        } else {
            "crate"
        };
        let deps = graph.entry(module.clone()).or_default();
        for dep in uses(&text, root) {
            if dep != module {
                deps.insert(dep);
            }
        }
    }
    graph.remove("lib");
    graph
}

#[test]
fn no_module_uses_a_higher_layer() {
    let layers = layers();
    let graph = graph();
    let mut broken = Vec::new();
    for (module, deps) in &graph {
        let Some(&layer) = layers.get(module) else {
            broken.push(format!("{module} is not in ARCHITECTURE.md's module map"));
            continue;
        };
        for dep in deps {
            match layers.get(dep) {
                Some(&dep_layer) if dep_layer > layer => broken.push(format!(
                    "{module} (layer {layer}) uses {dep} (layer {dep_layer})"
                )),
                Some(_) => {}
                None => broken.push(format!(
                    "{module} uses {dep}, which is not in the module map"
                )),
            }
        }
    }
    for module in layers.keys() {
        if !graph.contains_key(module) {
            broken.push(format!("the module map lists {module}, which src/ lacks"));
        }
    }
    assert!(broken.is_empty(), "layering broken:\n{}", broken.join("\n"));
}

#[test]
fn modules_have_no_cycle() {
    let graph = graph();
    // Depth-first search with colours; report the first cycle found.
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(1) => {
                let start = path.iter().position(|n| n == node).unwrap();
                let mut cycle = path[start..].to_vec();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            Some(2) => return None,
            _ => {}
        }
        state.insert(node.to_owned(), 1);
        path.push(node.to_owned());
        for dep in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(dep, graph, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        if let Some(cycle) = visit(node, &graph, &mut state, &mut Vec::new()) {
            panic!("module cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn the_scanner_sees_grouped_and_plain_paths() {
    let text = "use crate::{plan::{Plan, Point}, model, self};\nfn f() { crate::stats::median(&[]); }\n#[cfg(test)]\nmod tests { use crate::runner; }";
    let found: Vec<String> = uses(text, "crate").into_iter().collect();
    assert_eq!(found, ["model", "plan", "stats"]);
}
