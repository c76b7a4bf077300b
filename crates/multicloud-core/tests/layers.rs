//! The core's modules import one way, as kube-core's do: leaf types -> resources and outputs
//! -> spec, state and plan -> provider and access -> the engine. This test reads the library
//! sources (test modules left out) and fails on any `crate::` import of a module from a
//! higher layer, and on any module it does not know (a new module is placed in a layer here).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each top-level module of `src/` with its layer; a module may import its own layer's and
/// lower layers' modules, never a higher one's (and never the test kit).
const LAYERS: &[(&str, u8)] = &[
    // 0: leaf types.
    ("kind", 0),
    ("secret", 0),
    ("error", 0),
    ("dag", 0),
    ("calls", 0),
    // How long operations take and where waits place their checks.
    ("pacing", 0),
    // 1: tags, resources, outputs and what the cloud reports of one resource.
    ("tags", 1),
    ("resource", 1),
    ("outputs", 1),
    ("connect", 1),
    ("observation", 1),
    // 2: the spec, recorded state and the plan.
    ("spec", 2),
    ("state", 2),
    ("plan", 2),
    ("teardown", 2),
    // What `down` left in place (a `DownReport`).
    ("down", 2),
    // What a refresh found (a `RefreshReport`).
    ("refresh", 2),
    // The retry policy and poller every remote call shares (state stores included).
    ("retry", 2),
    // 3: what a provider implements and how operations reach the cluster.
    ("access", 3),
    // A kubeconfig document of cluster credentials (what `Stack::kubeconfig` returns).
    ("kubeconfig", 3),
    ("provider", 3),
    ("expand", 3),
    ("events", 3),
    ("sweep", 3),
    // 4: the engine.
    ("backends", 4),
    ("planner", 4),
    ("executor", 4),
    ("stack", 4),
    ("engine", 4),
    // Stacks for the length of a test, and the reaper of expired ones.
    ("ephemeral", 4),
];

/// The in-memory test kit may use anything; nothing else may use it.
const TEST_KIT: &str = "testing";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file holding only a test module (`mod tests;` of its parent).
fn is_test_file(file: &Path) -> bool {
    file.file_stem().is_some_and(|s| s == "tests")
}

/// The top-level module a file of `src/` belongs to (`state/local.rs` -> `state`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("non-empty path");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The library part of a file: comments dropped, everything from the first `#[cfg(test)]`
/// on left out (test modules close every file that has them).
fn library_code(text: &str) -> String {
    let end = text.find("#[cfg(test)]").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The top-level modules named by `crate::` paths in `code`, including grouped imports
/// (`use crate::{a::X, b};`).
fn imported(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_' || c.is_ascii_digit())
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 1 => break,
                    '}' => depth -= 1,
                    ',' if depth == 1 => {
                        found.insert(ident(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                if depth == 1 {
                    item.push(c);
                }
            }
            found.insert(ident(&item));
        } else {
            found.insert(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// Each library module's imports of other modules (the test kit and `lib.rs` left out).
fn module_imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == TEST_KIT {
            continue;
        }
        if is_test_file(file) {
            continue;
        }
        let code = library_code(&std::fs::read_to_string(file).expect("readable source"));
        let deps = imports.entry(module.clone()).or_default();
        deps.extend(imported(&code).into_iter().filter(|d| *d != module));
    }
    imports
}

/// A cycle in `graph`, if it has one (the modules on it, the first repeated at the end).
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn core_modules_import_without_a_circle() {
    let imports = module_imports();
    assert!(imports.len() > 15, "read the modules: {imports:?}");
    if let Some(cycle) = find_cycle(&imports) {
        panic!("import circle: {}", cycle.join(" -> "));
    }
}

#[test]
fn core_modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer: BTreeMap<&str, u8> = LAYERS.iter().copied().collect();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_of(&src, file);
        if module == "lib" || module == TEST_KIT {
            continue;
        }
        let Some(&own) = layer.get(module.as_str()) else {
            wrong.push(format!(
                "{module}: not placed in a layer (add it to LAYERS)"
            ));
            continue;
        };
        if is_test_file(file) {
            continue;
        }
        let code = library_code(&std::fs::read_to_string(file).expect("readable source"));
        for dep in imported(&code) {
            if dep == module {
                continue;
            }
            match layer.get(dep.as_str()) {
                _ if dep == TEST_KIT => wrong.push(format!(
                    "{}: library code uses the test kit",
                    file.display()
                )),
                Some(&theirs) if theirs > own => wrong.push(format!(
                    "{}: layer-{own} `{module}` imports layer-{theirs} `{dep}`",
                    file.display()
                )),
                Some(_) => {}
                None => wrong.push(format!("{}: imports unknown `{dep}`", file.display())),
            }
        }
    }
    assert!(wrong.is_empty(), "layering broken:\n{}", wrong.join("\n"));
}

#[test]
fn the_cycle_finder_finds_a_circle_and_only_a_circle() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in edges {
            g.entry((*a).into()).or_default().insert((*b).into());
        }
        g
    };
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])),
        None
    );
    assert_eq!(
        find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "a")])),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn the_import_reader_sees_grouped_and_nested_paths() {
    let code = "use crate::{error::{ErrorKind, ProviderError}, kind::X, tags};\n\
                fn f() -> crate::plan::Plan { crate::spec::check() }";
    let got: Vec<String> = imported(code).into_iter().collect();
    assert_eq!(got, ["error", "kind", "plan", "spec", "tags"]);
    assert_eq!(
        library_code("use crate::a; // crate::b\n#[cfg(test)]\nuse crate::c;"),
        "use crate::a; "
    );
}
